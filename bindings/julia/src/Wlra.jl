"""
    Wlra

Weighted low rank approximation: a thin `ccall` binding over the wlra C ABI
(libwlra, found through `WLRA_LIBRARY` or `WLRA_PREFIX`). Mirrors the R
binding: `wlra_fit(M, W; rank, options...)`, `wlra_fit_sparse(M, W; rank,
m_default, w_default, options...)` for a `SparseMatrixCSC`, `fitted`,
`predict`, `fold_in`, `canonical`, `cross_validate`, errors as
`WlraError(status, name, message)`. Every numeric step is the library's:
this module converts arguments and names things.
"""
module Wlra

using Libdl
using SparseArrays

export wlra_fit, wlra_fit_sparse, WlraFit, WlraError, fitted, predict, fold_in, fold_in_with_offsets, canonical,
       cross_validate, fit_path, wlra_library_version

# C ABI version 1 (stable). scripts/check-julia-abi.py (run by bindings/run-tests.sh)
# checks these and every ccall against include/wlra.h, since no Julia runs there.
const ROW_MAJOR = Int32(101)
const COL_MAJOR = Int32(102)
const OPTIONS = Dict{Symbol,Int32}(
    :max_iterations => 1, :tolerance => 2, :seed => 3, :solver => 4, :init => 5, :ridge => 6,
    :threads => 7, :sketch_size_factor => 8, :regression_tolerance => 9, :clip => 10,
    :adaptive_accuracy => 11, :overrelaxation => 12, :method => 13, :restarts => 14,
    :ridge_scaling => 15, :folds => 16, :held_out_fold => 17, :offsets => 18,
    # 19 is WLRA_OPTION_MISSING_NAN, the package's own (OPTION_MISSING_NAN).
    :mixed_precision => 20)
# WLRA_OPTION_MISSING_NAN (C ABI 1.4): NaN in M is a missing entry (weight 0),
# read in place by the library. Every fit and fold-in sets it, so M is never
# scanned here for NaNs; not a user option.
const OPTION_MISSING_NAN = Int32(19)
const SOLVERS = Dict{Symbol,Int}(:auto => 0, :exact => 1, :sketch => 2, :shared_pcg => 3)
const INITS = Dict{Symbol,Int}(:svd => 0, :random => 1, :given => 2)
const METHODS = Dict{Symbol,Int}(:auto => 0, :alternating => 1, :varpro => 2, :accelerated => 3)
const RIDGE_SCALINGS = Dict{Symbol,Int}(:uniform => 0, :weight_sums => 1)
# WLRA_OPTION_OFFSETS: M ~ a 1' + 1 b' + U V'.
const OFFSETS = Dict{Symbol,Int}(:none => 0, :rows => 1, :columns => 2, :both => 3)
# Reported by WLRA_INFO_METHOD_USED only: the closed form, not a value of the method option.
const METHOD_SVD = Int32(4)
const STATUS_NAMES = (:null_pointer, :invalid_argument, :non_finite_input, :negative_weight,
                      :not_fitted, :cancelled, :out_of_memory, :numerical, :internal, :busy)
const ERROR_INVALID_ARGUMENT = Int32(2)
const ERROR_CANCELLED = Int32(6)
const INFO_ITEMS = (objective = Int32(2), iterations = Int32(1), converged = Int32(3),
                    elapsed_seconds = Int32(4), solver_used = Int32(5))
# Items a library before them answers with invalid_argument, read as `nothing`
# (the held-out items also after a fit that held nothing out).
const OPTIONAL_INFO_ITEMS = (method_used = Int32(7), starts = Int32(8), starts_at_best = Int32(9),
                             held_out_rmse = Int32(10), held_out_entries = Int32(11),
                             zero_weight_lines = Int32(12), degenerate = Int32(13))

"""
    WlraError(status, name, message[, result])

A failed wlra call: `status` is the C status code, `name` its Symbol
(`:negative_weight`, `:cancelled`, ...), `message` the library's detail. A
cancelled fit carries the factors of its completed iterations in `result`.
"""
struct WlraError <: Exception
    status::Int32
    name::Symbol
    message::String
    result::Any
end
WlraError(status::Integer, message::AbstractString) =
    WlraError(Int32(status), status_name(status), String(message), nothing)
status_name(status) = 1 <= status <= length(STATUS_NAMES) ? STATUS_NAMES[status] : :unknown
Base.showerror(io::IO, e::WlraError) = print(io, "WlraError(", e.name, "): ", e.message)

"""Factors and information of one fit (U is n x rank, V is m x rank)."""
struct WlraFit
    U::Matrix{Float64}
    V::Matrix{Float64}
    objective::Float64
    iterations::Int
    converged::Bool
    elapsed_seconds::Float64
    solver_used::Symbol
    "`:alternating`, `:varpro`, `:accelerated`, or `:svd` (the closed form); `nothing` with a library that does not report it."
    method_used::Union{Symbol,Nothing}
    "Starts run (1 without restarts); `nothing` with a library that does not report it."
    starts::Union{Int,Nothing}
    "Starts that reached the best objective; `nothing` as `starts`."
    starts_at_best::Union{Int,Nothing}
    "`:none`, `:rows`, `:columns` or `:both`: the offsets the fit has."
    offsets::Symbol
    "The row offsets a (size(U, 1)); `nothing` without row offsets."
    row_offsets::Union{Vector{Float64},Nothing}
    "The column offsets b (size(V, 1)); `nothing` without column offsets."
    col_offsets::Union{Vector{Float64},Nothing}
    "The fit's ridge and ridge scaling, which fold-in uses."
    ridge::Float64
    ridge_scaling::Symbol
    "The held-out fold's RMSE and entry count (`folds`, `held_out_fold`); `nothing` when nothing was held out."
    held_out_rmse::Union{Float64,Nothing}
    held_out_entries::Union{Int,Nothing}
end

"""The model's values: U V', plus the offsets (a 1' + 1 b') the fit has."""
function fitted(fit::WlraFit)
    X = fit.U * fit.V'
    fit.row_offsets === nothing || (X .+= fit.row_offsets)
    fit.col_offsets === nothing || (X .+= fit.col_offsets')
    X
end

"""
The model's values: the whole matrix (`fitted`), or those at (1-based) rows
`i` and columns `j`, offsets included, computed by the library
(`wlra_predict` on the fit loaded with `wlra_set_fitted`).
"""
predict(fit::WlraFit) = fitted(fit)
function predict(fit::WlraFit, i::AbstractVector{<:Integer}, j::AbstractVector{<:Integer})
    length(i) == length(j) || throw(WlraError(2, "i has $(length(i)) indices, j has $(length(j)); one (i, j) pair each"))
    rows, cols = Int64.(i) .- 1, Int64.(j) .- 1
    out = Vector{Float64}(undef, length(rows))
    isempty(rows) && return out
    with_loaded(fit) do model
        GC.@preserve rows cols out begin
            check(model, ccall(sym(:wlra_predict), Int32, (Ptr{Cvoid}, Csize_t, Ptr{Int64}, Ptr{Int64}, Ptr{Float64}),
                               model, length(rows), pointer(rows), pointer(cols), pointer(out)))
        end
    end
    out
end

# ---- the library -----------------------------------------------------------

const LIB = Ref{Ptr{Cvoid}}(C_NULL)

function library_path()
    path = get(ENV, "WLRA_LIBRARY", "")
    if !isempty(path)
        isfile(path) || error("WLRA_LIBRARY=$(repr(path)) is not a file; set it to the full path of libwlra.$(Libdl.dlext)")
        return path
    end
    prefix = get(ENV, "WLRA_PREFIX", "")
    if !isempty(prefix)
        path = joinpath(prefix, "lib", "libwlra.$(Libdl.dlext)")
        isfile(path) || error("WLRA_PREFIX=$(repr(prefix)) has no lib/libwlra.$(Libdl.dlext); install wlra there or set WLRA_LIBRARY")
        return path
    end
    error("libwlra not found: set WLRA_LIBRARY to the full path of libwlra.$(Libdl.dlext), " *
          "or WLRA_PREFIX to the prefix wlra was installed under (with lib/libwlra.$(Libdl.dlext))")
end

function lib()
    if LIB[] == C_NULL
        handle = Libdl.dlopen(library_path())
        version = unsafe_string(ccall(Libdl.dlsym(handle, :wlra_version), Cstring, ()))
        startswith(version, "1.") || error("libwlra $version: this binding needs the C ABI 1.x")
        LIB[] = handle
    end
    LIB[]
end

sym(name::Symbol) = Libdl.dlsym(lib(), name)

"""The version of the loaded libwlra, e.g. "1.0.0"."""
wlra_library_version() = unsafe_string(ccall(sym(:wlra_version), Cstring, ()))

last_error(model::Ptr{Cvoid}) = unsafe_string(ccall(sym(:wlra_last_error), Cstring, (Ptr{Cvoid},), model))

check(model, status) = status == 0 || throw(WlraError(status, last_error(model)))

# ---- fitting ---------------------------------------------------------------

# A matrix the C ABI reads in place: column-major with unit row stride
# (Matrix, or a view with stride(A, 1) == 1). Anything else is copied once.
passable(A) = A isa StridedMatrix{Float64} && stride(A, 1) == 1 && stride(A, 2) >= max(size(A, 1), 1)
as_passable(A::AbstractMatrix) = passable(A) ? A : Matrix{Float64}(A)
leading_dim(A) = max(stride(A, 2), size(A, 1), 1)

function option_value(name, value::Union{Symbol,AbstractString})
    choices = name == :solver ? SOLVERS : name == :init ? INITS : name == :method ? METHODS :
              name == :offsets ? OFFSETS : name == :ridge_scaling ? RIDGE_SCALINGS : Dict{Symbol,Int}()
    key = Symbol(lowercase(String(value)))
    haskey(choices, key) ||
        throw(WlraError(2, "$name = $(repr(value)) is not one of $(join(sort!(collect(keys(choices))), ", "))"))
    Float64(choices[key])
end
option_value(name, value::Real) = Float64(value)

# The progress callback: `user_data` is a pointer to a Ref holding the
# closure and the first exception it threw.
mutable struct ProgressState
    f::Any
    raised::Any
end

function progress_trampoline(user_data::Ptr{Cvoid}, iteration::Csize_t, objective::Cdouble)::Int32
    state = unsafe_pointer_to_objref(user_data)::ProgressState
    try
        stop = state.f(Int(iteration), Float64(objective))
        return stop === true || (stop isa Integer && stop != 0) ? Int32(1) : Int32(0)
    catch e
        state.raised = e
        return Int32(1)
    end
end

function read_result(model, n_rows, n_cols, rank)
    U = Matrix{Float64}(undef, n_rows, rank)
    V = Matrix{Float64}(undef, n_cols, rank)
    check(model, ccall(sym(:wlra_get_factors), Int32,
                       (Ptr{Cvoid}, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t, Int32),
                       model, U, max(n_rows, 1), V, max(n_cols, 1), COL_MAJOR))
    info(item) = begin
        value = Ref{Cdouble}(0)
        check(model, ccall(sym(:wlra_get_info), Int32, (Ptr{Cvoid}, Int32, Ref{Cdouble}), model, item, value))
        value[]
    end
    optional(item) = begin
        value = Ref{Cdouble}(0)
        status = ccall(sym(:wlra_get_info), Int32, (Ptr{Cvoid}, Int32, Ref{Cdouble}), model, item, value)
        status == ERROR_INVALID_ARGUMENT && return nothing
        check(model, status)
        value[]
    end
    # The names of reported values come from the tables the ABI check
    # (scripts/check-julia-abi.py) compares with the header.
    name_in(table, value) = something(findfirst(==(value), table), :unknown)
    option(id) = begin
        value = Ref{Cdouble}(0)
        check(model, ccall(sym(:wlra_get_option), Int32, (Ptr{Cvoid}, Int32, Ref{Cdouble}), model, id, value))
        value[]
    end
    solver = Int(info(INFO_ITEMS.solver_used))
    method = optional(OPTIONAL_INFO_ITEMS.method_used)
    starts = optional(OPTIONAL_INFO_ITEMS.starts)
    at_best = optional(OPTIONAL_INFO_ITEMS.starts_at_best)
    rmse = optional(OPTIONAL_INFO_ITEMS.held_out_rmse)
    held_out = optional(OPTIONAL_INFO_ITEMS.held_out_entries)
    offsets = name_in(OFFSETS, Int(option(OPTIONS[:offsets])))
    a, b = Vector{Float64}(undef, n_rows), Vector{Float64}(undef, n_cols)
    check(model, ccall(sym(:wlra_get_offsets), Int32, (Ptr{Cvoid}, Ptr{Float64}, Ptr{Float64}), model, a, b))
    WlraFit(U, V, info(INFO_ITEMS.objective), Int(info(INFO_ITEMS.iterations)),
            info(INFO_ITEMS.converged) != 0, info(INFO_ITEMS.elapsed_seconds),
            solver == 0 ? :unknown : name_in(SOLVERS, solver),
            method === nothing ? nothing : method == METHOD_SVD ? :svd : method == 0 ? :unknown : name_in(METHODS, Int(method)),
            starts === nothing ? nothing : Int(starts), at_best === nothing ? nothing : Int(at_best),
            offsets, offsets in (:rows, :both) ? a : nothing, offsets in (:columns, :both) ? b : nothing,
            option(OPTIONS[:ridge]), name_in(RIDGE_SCALINGS, Int(option(OPTIONS[:ridge_scaling]))),
            rmse, held_out === nothing ? nothing : Int(held_out))
end

# The library's counts of rows and columns without a positive weight
# (WLRA_INFO_ZERO_WEIGHT_LINES) and of the components the fitted U V' lacks
# (WLRA_INFO_DEGENERATE), said as warnings in the words of the Python and R
# bindings.
function warn_about_fit(model, n_rows, n_cols, rank)
    optional(item) = begin
        value = Ref{Cdouble}(0)
        status = ccall(sym(:wlra_get_info), Int32, (Ptr{Cvoid}, Int32, Ref{Cdouble}), model, item, value)
        status == 0 ? Int(value[]) : 0
    end
    lines = optional(OPTIONAL_INFO_ITEMS.zero_weight_lines)
    if lines == n_rows + n_cols
        @warn "wlra: every weight is 0 (or every entry of M missing): the fit is U = V = 0, s = 0"
        return
    elseif lines > 0
        @warn "wlra: $lines of the $n_rows rows and $n_cols columns have no positive weight " *
              "(all weights 0, or M missing there): their factor rows are 0"
    end
    deficiency = optional(OPTIONAL_INFO_ITEMS.degenerate)
    if deficiency == rank
        @warn "wlra: the fit is degenerate: U V' = 0 (all $rank singular values are 0)"
    elseif deficiency > 0
        @warn "wlra: the fit is degenerate: U V' has rank $(rank - deficiency), below rank = $rank " *
              "($deficiency of its singular values are 0); a lower rank fits the same product"
    end
end

# A matrix of real numbers, or a WlraError naming the argument: complex and
# non-numeric input is refused, never converted (the message of Python's
# and R's bindings).
function check_real(name, A)
    T = eltype(A)
    T <: Complex && throw(WlraError(2, "$name has element type $T: wlra fits real matrices; pass real(A) or abs.(A) if that is what you mean"))
    T <: Real || T === Any && all(x -> x isa Real, A) ||
        throw(WlraError(2, "$name has element type $T, which is not numeric: wlra needs a matrix of real numbers"))
    A
end

# The starting factors (U0, V0) of `start` (a pair or a WlraFit), checked
# against the problem in the caller's terms (rank, not the C ABI's n_cols).
function start_factors(start, n_rows, n_cols, rank)
    U0, V0 = start isa WlraFit ? (start.U, start.V) :
             start isa Tuple && length(start) == 2 ? start :
             throw(WlraError(2, "start must be a pair (U0, V0) or a WlraFit, not $(typeof(start))"))
    for (name, A, rows, what) in (("U0", U0, n_rows, "row"), ("V0", V0, n_cols, "column"))
        A isa AbstractMatrix || throw(WlraError(2, "start $name must be a matrix, not $(typeof(A))"))
        check_real("start $name", A)
        size(A) == (rows, rank) ||
            throw(WlraError(2, "start $name has shape $(size(A)) but must be $((rows, rank)): one row per $what of M " *
                               "($rows) and one column per component (rank = $rank)"))
    end
    as_passable(U0), as_passable(V0)
end

function option_values(rank, start, options)
    rank >= 0 || throw(WlraError(2, "rank = $rank must be a whole number >= 1"))
    values = Pair{Int32,Float64}[]
    for (name, value) in pairs(options)
        haskey(OPTIONS, name) || throw(ArgumentError("unknown wlra option $name; options are $(join(keys(OPTIONS), ", "))"))
        push!(values, OPTIONS[name] => option_value(name, value))
    end
    if start !== nothing && !haskey(options, :init)
        push!(values, OPTIONS[:init] => Float64(INITS[:given]))
    end
    values
end

# One model's create / set_option / set_factors / set_progress, then
# `fit_call(model)` (the C fit, returning its status; it keeps its own arrays
# alive with GC.@preserve), then the result or the error. The model is
# destroyed in every case. Shared by wlra_fit and wlra_fit_sparse.
function run_fit(fit_call, n_rows, n_cols, rank, values, start, progress, verbose = false)
    handle = Ref{Ptr{Cvoid}}(C_NULL)
    check(C_NULL, ccall(sym(:wlra_create), Int32, (Csize_t, Ref{Ptr{Cvoid}}), rank, handle))
    model = handle[]
    if verbose
        user_progress = progress
        progress = (iteration, objective) -> begin
            println("wlra: iteration $iteration: objective $objective")
            flush(stdout)
            user_progress === nothing ? false : user_progress(iteration, objective)
        end
    end
    state = ProgressState(progress, nothing)
    try
        for (option, value) in values
            check(model, ccall(sym(:wlra_set_option), Int32, (Ptr{Cvoid}, Int32, Cdouble), model, option, value))
        end
        check(model, ccall(sym(:wlra_set_option), Int32, (Ptr{Cvoid}, Int32, Cdouble), model, OPTION_MISSING_NAN, 1.0))
        if start !== nothing
            U0, V0 = start_factors(start, n_rows, n_cols, rank)
            check(model, ccall(sym(:wlra_set_factors), Int32,
                               (Ptr{Cvoid}, Csize_t, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t, Int32),
                               model, size(U0, 1), size(V0, 1), U0, leading_dim(U0), V0, leading_dim(V0), COL_MAJOR))
        end
        status = GC.@preserve state begin
            if progress !== nothing
                callback = @cfunction(progress_trampoline, Int32, (Ptr{Cvoid}, Csize_t, Cdouble))
                check(model, ccall(sym(:wlra_set_progress), Int32, (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}),
                                   model, callback, pointer_from_objref(state)))
            end
            fit_call(model)
        end
        if status == ERROR_CANCELLED
            state.raised === nothing || throw(state.raised)
            message = last_error(model)
            throw(WlraError(status, :cancelled, message, read_result(model, n_rows, n_cols, rank)))
        end
        check(model, status)
        result = read_result(model, n_rows, n_cols, rank)
        warn_about_fit(model, n_rows, n_cols, rank)
        return result
    finally
        ccall(sym(:wlra_destroy), Cvoid, (Ptr{Cvoid},), model)
    end
end

"""
    wlra_fit(M, W=nothing; rank, progress=nothing, start=nothing, options...)

Fit U (size(M, 1) x rank) and V (size(M, 2) x rank) minimizing
sum(W .* (M - U V').^2) + ridge (|U|^2 + |V|^2). `W === nothing`: all weights 1.

`Matrix{Float64}` and column-major strided views (stride 1 down columns) are
passed to libwlra without a copy; other element types or layouts are
converted to `Matrix{Float64}` first. A sparse `M` is refused: see
`wlra_fit_sparse`.

Options by name, the C ABI's defaults when left out: `max_iterations` (100),
`tolerance` (1e-8), `seed` (0), `solver` (:auto, :exact, :sketch, :shared_pcg), `init`
(:svd, :random, :given), `ridge` (0), `threads` (0 = all cores),
`sketch_size_factor` (4), `regression_tolerance` (1e-10), `clip` (0 = off),
`adaptive_accuracy` (1 = on), `overrelaxation` (1 = off; in (0, 2)), `mixed_precision`
(1 = on: loose inner solves of sparse SHARED_PCG gather float32 rows; 0 = float64), `method`
(:auto, :alternating, :varpro, :accelerated: the outer method), `restarts` (-1 = auto, 0 = off; r > 0: up
to r further seeded random starts, until the best objective has been reached
twice). The result's `method_used`, `starts` and `starts_at_best` say what ran.

Also `ridge_scaling` (:uniform, :weight_sums), `folds` and `held_out_fold`
(hold out one of `folds` hash folds of the observed entries: the result's
`held_out_rmse`, see `cross_validate`) and `offsets` (:none, :rows, :columns,
:both: M ~ a 1' + 1 b' + U V', the result's `row_offsets`, `col_offsets`).
NaN in `M` is a missing entry (weight 0), read by the library in place.

`progress(iteration, objective)` runs after every iteration; returning `true`
cancels the fit, which throws `WlraError` with name `:cancelled` and the
factors of the completed iterations in `err.result`. An exception thrown by
`progress` cancels the fit and is rethrown; so is Ctrl-C (an
`InterruptException`) when Julia delivers it inside `progress`, which it
does once per iteration. `verbose = true` prints each iteration's
objective. `start = (U0, V0)` (or a `WlraFit`) sets starting factors (and
`init = :given`); their shapes must be (size(M, 1), rank) and (size(M, 2),
rank). Complex or non-numeric `M`, `W` or `start` are refused.

A warning (`@warn`) says when rows or columns have no positive weight
(their factor rows are 0) or when the fitted U V' has rank below `rank`
(the library's `WLRA_INFO_ZERO_WEIGHT_LINES` and `WLRA_INFO_DEGENERATE`).
"""
function wlra_fit(M::AbstractMatrix, W::Union{Nothing,AbstractMatrix} = nothing;
                  rank::Integer, progress = nothing, start = nothing, verbose::Bool = false, options...)
    M isa AbstractSparseMatrix &&
        throw(WlraError(2, "M is a sparse matrix: use wlra_fit_sparse, which keeps it sparse " *
                           "(and says what M and W are outside its pattern)"))
    values = option_values(rank, start, options)
    M = as_passable(check_real("M", M))
    if W !== nothing
        size(W) == size(M) || throw(WlraError(2, "W is $(size(W)) but M is $(size(M))"))
        W = as_passable(check_real("W", W))
    end
    n_rows, n_cols = size(M)
    run_fit(n_rows, n_cols, rank, values, start, progress, verbose) do model
        GC.@preserve M W begin
            w_ptr = W === nothing ? Ptr{Float64}(C_NULL) : pointer(W)
            ld_w = W === nothing ? leading_dim(M) : leading_dim(W)
            ccall(sym(:wlra_fit), Int32,
                  (Ptr{Cvoid}, Csize_t, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t, Int32),
                  model, n_rows, n_cols, pointer(M), leading_dim(M), w_ptr, ld_w, COL_MAJOR)
        end
    end
end

# ---- a fit loaded into a model (C ABI 1.3: wlra_set_fitted) -----------------

# `f(model)` on a model holding `fit`'s factors and offsets (wlra_set_fitted)
# and its ridge options, as after the fit itself: predict and fold-in are
# the library's, for a fit saved and loaded (Serialization) as well.
function with_loaded(f, fit::WlraFit)
    (n_rows, rank), n_cols = size(fit.U), size(fit.V, 1)
    U, V = as_passable(fit.U), as_passable(fit.V)
    a, b = fit.row_offsets, fit.col_offsets
    handle = Ref{Ptr{Cvoid}}(C_NULL)
    check(C_NULL, ccall(sym(:wlra_create), Int32, (Csize_t, Ref{Ptr{Cvoid}}), rank, handle))
    model = handle[]
    try
        for (name, value) in ((:ridge, fit.ridge), (:ridge_scaling, fit.ridge_scaling), (:offsets, fit.offsets))
            check(model, ccall(sym(:wlra_set_option), Int32, (Ptr{Cvoid}, Int32, Cdouble), model,
                               OPTIONS[name], option_value(name, value)))
        end
        check(model, ccall(sym(:wlra_set_option), Int32, (Ptr{Cvoid}, Int32, Cdouble), model, OPTION_MISSING_NAN, 1.0))
        GC.@preserve U V a b begin
            check(model, ccall(sym(:wlra_set_fitted), Int32,
                               (Ptr{Cvoid}, Csize_t, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t,
                                Ptr{Float64}, Ptr{Float64}, Int32),
                               model, n_rows, n_cols, pointer(U), leading_dim(U), pointer(V), leading_dim(V),
                               a === nothing ? Ptr{Float64}(C_NULL) : pointer(a),
                               b === nothing ? Ptr{Float64}(C_NULL) : pointer(b), COL_MAJOR))
        end
        return f(model)
    finally
        ccall(sym(:wlra_destroy), Cvoid, (Ptr{Cvoid},), model)
    end
end

"""
    fold_in(fit, X, W=nothing) -> U_new
    fold_in_with_offsets(fit, X, W=nothing) -> (U_new, a_new)

The factor rows (size(X, 1) x rank) of new rows `X` (size(X, 2) columns, as
the fit's M; NaN is missing) with weights `W` (`nothing`: all 1), each
row's weighted ridge regression on the fit's V with the fit's ridge: the C
ABI's `wlra_transform` (`wlra_transform_with_offsets`, which also gives the
new rows' own offsets `a_new`) on the fit loaded with `wlra_set_fitted`, so
a `WlraFit` saved and loaded (Serialization) folds in as the fitted model
did. With column offsets, they come off the rows' data first. A row with no
positive weight gets 0.
"""
fold_in(fit::WlraFit, X::AbstractMatrix, W::Union{Nothing,AbstractMatrix} = nothing) =
    transform(fit, X, W, false)[1]

fold_in_with_offsets(fit::WlraFit, X::AbstractMatrix, W::Union{Nothing,AbstractMatrix} = nothing) =
    transform(fit, X, W, true)

function transform(fit::WlraFit, X, W, with_offsets::Bool)
    rank, n_cols = size(fit.U, 2), size(fit.V, 1)
    size(X, 2) == n_cols || throw(WlraError(2, "X has $(size(X, 2)) columns, the fit has $n_cols"))
    X = as_passable(check_real("X", X))
    if W !== nothing
        size(W) == size(X) || throw(WlraError(2, "W is $(size(W)) but X is $(size(X))"))
        W = as_passable(check_real("W", W))
    end
    n_new = size(X, 1)
    out, a_out = Matrix{Float64}(undef, n_new, rank), Vector{Float64}(undef, n_new)
    n_new == 0 && return (out, a_out)
    with_loaded(fit) do model
        GC.@preserve X W out a_out begin
            w_ptr = W === nothing ? Ptr{Float64}(C_NULL) : pointer(W)
            ld_w = W === nothing ? leading_dim(X) : leading_dim(W)
            status = if with_offsets
                ccall(sym(:wlra_transform_with_offsets), Int32,
                      (Ptr{Cvoid}, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t,
                       Ptr{Float64}, Csize_t, Ptr{Float64}, Int32),
                      model, n_new, pointer(X), leading_dim(X), w_ptr, ld_w, pointer(out),
                      max(n_new, 1), pointer(a_out), COL_MAJOR)
            else
                ccall(sym(:wlra_transform), Int32,
                      (Ptr{Cvoid}, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t,
                       Ptr{Float64}, Csize_t, Int32),
                      model, n_new, pointer(X), leading_dim(X), w_ptr, ld_w, pointer(out),
                      max(n_new, 1), COL_MAJOR)
            end
            check(model, status)
        end
    end
    (out, a_out)
end

# ---- cross-validation (the library's folds: WLRA_OPTION_FOLDS) ---------------

"""
    cross_validate(M, W=nothing; ranks, ridges=[0.0], folds=5, options...)

Chooses rank and ridge on held-out entries, as Python's
`wlra.cross_validate` and R's `cross_validate`: for each rank, ridge
and fold, one fit with `folds` and `held_out_fold` set (the library's hash
folds of the observed entries; M is never copied or split here) and the
held-out RMSE the library reports. Returns a NamedTuple: `ranks`, `ridges`,
`fold_rmse` (ranks x ridges x folds), `rmse` (its mean over the folds),
`best_rank`, `best_ridge`, `best_rmse`, and `table`, a Vector of
`(rank, ridge, rmse)` NamedTuples. A sparse `M` fits with `wlra_fit_sparse`.

With `path = true` (the default) the ridges of each rank and fold are a
regularization path, largest first: the first fit starts as `options` say,
each later one from the fit before it on the same training entries (as the
Python and R bindings do); `path = false` fits every setting independently.
"""
function cross_validate(M::AbstractMatrix, W = nothing; ranks, ridges = [0.0], folds::Integer = 5,
                        path::Bool = true, options...)
    folds >= 2 || throw(WlraError(2, "folds = $folds must be at least 2"))
    isempty(ranks) && throw(WlraError(2, "ranks is empty: give at least one rank"))
    isempty(ridges) && throw(WlraError(2, "ridges is empty: give at least one ridge"))
    haskey(options, :start) && throw(ArgumentError("cross_validate() sets start itself"))
    fold_rmse = Array{Float64}(undef, length(ranks), length(ridges), folds)
    # Largest ridge first; equal ridges keep their order (sortperm is stable).
    order = sortperm(collect(ridges); rev = true)
    for (r, k) in enumerate(ranks), fold in 0:folds-1
        fits = along_path(M, W, collect(ridges)[order], path; rank = k, folds = folds, held_out_fold = fold, options...)
        for (p, fit) in zip(order, fits)
            rmse = fit.held_out_rmse
            rmse === nothing && throw(WlraError(2, "fold $fold of $folds held out no entry: use fewer folds"))
            fold_rmse[r, p, fold+1] = rmse
        end
    end
    rmse = dropdims(sum(fold_rmse; dims = 3); dims = 3) ./ folds
    best = argmin(rmse)
    table = [(rank = k, ridge = lambda, rmse = rmse[r, p]) for (r, k) in enumerate(ranks) for (p, lambda) in enumerate(ridges)]
    (ranks = collect(ranks), ridges = collect(ridges), fold_rmse = fold_rmse, rmse = rmse,
     best_rank = ranks[best[1]], best_ridge = ridges[best[2]], best_rmse = rmse[best], table = table)
end

# The fits at `ridges` in the order given: the first starts as `options`
# say; with `warm` each later one starts from the fit before it, whatever
# init the options name (Python's _along_path).
function along_path(M, W, ridges, warm::Bool; options...)
    fits = WlraFit[]
    for lambda in ridges
        previous = warm && !isempty(fits) ? last(fits) : nothing
        kw = previous === nothing ? values(options) : merge(values(options), (init = :given,))
        push!(fits, M isa SparseMatrixCSC ? wlra_fit_sparse(M, W; ridge = lambda, start = previous, kw...) :
                                           wlra_fit(M, W; ridge = lambda, start = previous, kw...))
    end
    fits
end

"""
    fit_path(M, W=nothing; rank, ridges, options...) -> Vector{WlraFit}

Fits at each ridge of `ridges`, in the order given (largest first is
best): the first starts as `options` say, each later one from the fit
before it (whatever `init` the options name), as Python's
`wlra.fit_path` and R's `fit_path`. A sparse `M` fits with
`wlra_fit_sparse`.
"""
function fit_path(M::AbstractMatrix, W = nothing; rank::Integer, ridges, options...)
    isempty(ridges) && throw(WlraError(2, "ridges is empty: give at least one ridge"))
    (haskey(options, :start) || haskey(options, :ridge)) && throw(ArgumentError("fit_path() sets start and ridge itself"))
    along_path(M, W, collect(ridges), true; rank = rank, options...)
end

# ---- canonical form (C ABI 1.4: wlra_get_canonical) -------------------------

"""
    canonical(fit) -> (U, s, V)
    canonical(U, V) -> (U, s, V)

The canonical form of `fit.U * fit.V'` (or of `U * V'`), computed by the
library (`wlra_get_canonical`, on the factors loaded with `wlra_set_fitted`):
`U` (n x rank) and `V` (m x rank) with orthonormal columns, `s` descending
and >= 0, `U * Diagonal(s) * V'` the fitted product; in each column of `V`
the entry of largest magnitude is positive (the first on ties), as in the
Python and R bindings. The same in any gauge of the factors and at any scale.
"""
canonical(fit::WlraFit) = canonical(fit.U, fit.V)

function canonical(U::AbstractMatrix, V::AbstractMatrix)
    (n_rows, rank), n_cols = size(U), size(V, 1)
    size(V, 2) == rank || throw(WlraError(2, "V has $(size(V, 2)) columns, U has $rank"))
    U, V = as_passable(U), as_passable(V)
    Uc, s, Vc = Matrix{Float64}(undef, n_rows, rank), Vector{Float64}(undef, rank), Matrix{Float64}(undef, n_cols, rank)
    handle = Ref{Ptr{Cvoid}}(C_NULL)
    check(C_NULL, ccall(sym(:wlra_create), Int32, (Csize_t, Ref{Ptr{Cvoid}}), rank, handle))
    model = handle[]
    try
        GC.@preserve U V begin
            check(model, ccall(sym(:wlra_set_fitted), Int32,
                               (Ptr{Cvoid}, Csize_t, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t,
                                Ptr{Float64}, Ptr{Float64}, Int32),
                               model, n_rows, n_cols, pointer(U), leading_dim(U), pointer(V), leading_dim(V),
                               Ptr{Float64}(C_NULL), Ptr{Float64}(C_NULL), COL_MAJOR))
        end
        check(model, ccall(sym(:wlra_get_canonical), Int32,
                           (Ptr{Cvoid}, Ptr{Float64}, Csize_t, Ptr{Float64}, Ptr{Float64}, Csize_t, Int32),
                           model, Uc, max(n_rows, 1), s, Vc, max(n_cols, 1), COL_MAJOR))
    finally
        ccall(sym(:wlra_destroy), Cvoid, (Ptr{Cvoid},), model)
    end
    (Uc, s, Vc)
end

# ---- sparse input (C ABI 1.1, wlra_fit_csr) --------------------------------

# The CSR arrays of A as wlra_fit_csr reads them (0-based Int64 row_ptr and
# col_idx, Float64 values). The CSC of A's transpose is the CSR of A:
# permutedims(A, (2, 1)) builds it with one counting sort (SparseArrays'
# halfperm!), O(nnz + size) time and memory, stored zeros kept and each
# row's columns increasing.
function csr_arrays(A::SparseMatrixCSC)
    At = permutedims(A, (2, 1))
    row_ptr = Int64.(At.colptr) .- 1
    col_idx = Int64.(At.rowval) .- 1
    values = convert(Vector{Float64}, At.nzval)
    (row_ptr = row_ptr, col_idx = col_idx, values = values)
end

# Throws WlraError(:invalid_argument) naming (1-based) an entry that one of M
# and W stores and the other does not. O(nnz).
function check_same_pattern(M::SparseMatrixCSC, W::SparseMatrixCSC)
    size(W) == size(M) || throw(WlraError(2, "W is $(size(W)) but M is $(size(M))"))
    M.colptr == W.colptr && M.rowval == W.rowval && return
    # The first column whose entry count differs; before it both patterns
    # line up entry by entry, so the first differing row index (if any) lies
    # in an earlier column.
    counts_m, counts_w = diff(M.colptr), diff(W.colptr)
    col = something(findfirst(counts_m .!= counts_w), size(M, 2) + 1)
    aligned = col <= size(M, 2) ? M.colptr[col] - 1 : nnz(M)
    differ = findfirst(k -> M.rowval[k] != W.rowval[k], 1:aligned)
    if differ !== nothing
        col = searchsortedlast(M.colptr, differ)
    end
    rows_m = M.rowval[M.colptr[col]:M.colptr[col+1]-1]
    rows_w = W.rowval[W.colptr[col]:W.colptr[col+1]-1]
    only_m, only_w = setdiff(rows_m, rows_w), setdiff(rows_w, rows_m)
    has, lacks, row = isempty(only_m) ? ("W", "M", first(only_w)) : ("M", "W", first(only_m))
    throw(WlraError(2, "W must store exactly the entries M stores: $has stores [$row, $col] but $lacks does not " *
                       "(M has $(nnz(M)) stored entries, W $(nnz(W)))"))
end

"""
    wlra_fit_sparse(M, W=nothing; rank, m_default=0.0, w_default=0.0, progress=nothing, start=nothing, options...)

Weighted low rank approximation of a sparse problem: the entries the
`SparseMatrixCSC` `M` stores are observed, with the weights `W` stores at the
same places (`W === nothing`: all 1); every other entry has the value
`m_default` and the weight `w_default`. `w_default = 0` is matrix completion,
`w_default > 0` implicit feedback. Stored zeros are observed zeros
(`dropzeros(M)` drops them). `W` must store exactly the entries `M` stores.

`M` (and `W`) are transposed once to the CSR that `wlra_fit_csr` reads, in
O(nnz) time and memory: nothing of size `size(M, 1) x size(M, 2)` is ever
formed. Options, `progress`, `start`, the result and the errors are those of
`wlra_fit`.
"""
function wlra_fit_sparse(M::SparseMatrixCSC, W::Union{Nothing,SparseMatrixCSC} = nothing;
                         rank::Integer, m_default::Real = 0.0, w_default::Real = 0.0,
                         progress = nothing, start = nothing, verbose::Bool = false, options...)
    values = option_values(rank, start, options)
    check_real("M", M)
    W === nothing || check_real("W", W)
    W === nothing || check_same_pattern(M, W)
    row_ptr, col_idx, m_values = csr_arrays(M)
    w_values = W === nothing ? nothing : csr_arrays(W).values
    n_rows, n_cols = size(M)
    run_fit(n_rows, n_cols, rank, values, start, progress, verbose) do model
        GC.@preserve row_ptr col_idx m_values w_values begin
            w_ptr = w_values === nothing ? Ptr{Float64}(C_NULL) : pointer(w_values)
            ccall(sym(:wlra_fit_csr), Int32,
                  (Ptr{Cvoid}, Csize_t, Csize_t, Ptr{Int64}, Ptr{Int64}, Ptr{Float64}, Ptr{Float64}, Cdouble, Cdouble),
                  model, n_rows, n_cols, pointer(row_ptr), pointer(col_idx), pointer(m_values), w_ptr,
                  Float64(m_default), Float64(w_default))
        end
    end
end

end # module
