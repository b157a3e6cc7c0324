"""
    Wlra

Weighted low rank approximation: a thin `ccall` binding over the wlra C ABI
(libwlra, found through `WLRA_LIBRARY` or `WLRA_PREFIX`). Mirrors the R
binding: `wlra_fit(M, W; rank, options...)`, `wlra_fit_sparse(M, W; rank,
m_default, w_default, options...)` for a `SparseMatrixCSC`, `fitted`,
`predict`, errors as `WlraError(status, name, message)`.
"""
module Wlra

using Libdl
using SparseArrays

export wlra_fit, wlra_fit_sparse, WlraFit, WlraError, fitted, predict, fold_in, canonical, wlra_library_version

# C ABI version 1 (stable). scripts/check-julia-abi.py (run by bindings/run-tests.sh)
# checks these and every ccall against include/wlra.h, since no Julia runs there.
const ROW_MAJOR = Int32(101)
const COL_MAJOR = Int32(102)
const OPTIONS = Dict{Symbol,Int32}(
    :max_iterations => 1, :tolerance => 2, :seed => 3, :solver => 4, :init => 5, :ridge => 6,
    :threads => 7, :sketch_size_factor => 8, :regression_tolerance => 9, :clip => 10,
    :adaptive_accuracy => 11, :overrelaxation => 12, :method => 13, :restarts => 14)
const SOLVERS = Dict{Symbol,Int}(:auto => 0, :exact => 1, :sketch => 2, :shared_pcg => 3)
const INITS = Dict{Symbol,Int}(:svd => 0, :random => 1, :given => 2)
const METHODS = Dict{Symbol,Int}(:auto => 0, :alternating => 1, :varpro => 2, :accelerated => 3)
# Reported by WLRA_INFO_METHOD_USED only: the closed form, not a value of the method option.
const METHOD_SVD = Int32(4)
const STATUS_NAMES = (:null_pointer, :invalid_argument, :non_finite_input, :negative_weight,
                      :not_fitted, :cancelled, :out_of_memory, :numerical, :internal, :busy)
const ERROR_INVALID_ARGUMENT = Int32(2)
const ERROR_CANCELLED = Int32(6)
const INFO_ITEMS = (objective = Int32(2), iterations = Int32(1), converged = Int32(3),
                    elapsed_seconds = Int32(4), solver_used = Int32(5))
# Issue 14's items: a library without them answers invalid_argument, read as `nothing`.
const OPTIONAL_INFO_ITEMS = (method_used = Int32(7), starts = Int32(8), starts_at_best = Int32(9))

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
end

"""The low rank approximation U V'."""
fitted(fit::WlraFit) = fit.U * fit.V'

"""Entries of U V': the whole matrix, or those at rows `i` and columns `j`."""
predict(fit::WlraFit) = fitted(fit)
predict(fit::WlraFit, i::AbstractVector{<:Integer}, j::AbstractVector{<:Integer}) =
    vec(sum(fit.U[i, :] .* fit.V[j, :]; dims = 2))

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
    choices = name == :solver ? SOLVERS : name == :init ? INITS : name == :method ? METHODS : Dict{Symbol,Int}()
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
    solver = Int(info(INFO_ITEMS.solver_used))
    method = optional(OPTIONAL_INFO_ITEMS.method_used)
    starts = optional(OPTIONAL_INFO_ITEMS.starts)
    at_best = optional(OPTIONAL_INFO_ITEMS.starts_at_best)
    WlraFit(U, V, info(INFO_ITEMS.objective), Int(info(INFO_ITEMS.iterations)),
            info(INFO_ITEMS.converged) != 0, info(INFO_ITEMS.elapsed_seconds),
            solver == 0 ? :unknown : name_in(SOLVERS, solver),
            method === nothing ? nothing : method == METHOD_SVD ? :svd : method == 0 ? :unknown : name_in(METHODS, Int(method)),
            starts === nothing ? nothing : Int(starts), at_best === nothing ? nothing : Int(at_best))
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
function run_fit(fit_call, n_rows, n_cols, rank, values, start, progress)
    handle = Ref{Ptr{Cvoid}}(C_NULL)
    check(C_NULL, ccall(sym(:wlra_create), Int32, (Csize_t, Ref{Ptr{Cvoid}}), rank, handle))
    model = handle[]
    state = ProgressState(progress, nothing)
    try
        for (option, value) in values
            check(model, ccall(sym(:wlra_set_option), Int32, (Ptr{Cvoid}, Int32, Cdouble), model, option, value))
        end
        if start !== nothing
            U0, V0 = as_passable(start[1]), as_passable(start[2])
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
        return read_result(model, n_rows, n_cols, rank)
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
`adaptive_accuracy` (1 = on), `overrelaxation` (1 = off; in (0, 2)), `method`
(:auto, :alternating, :varpro, :accelerated: the outer method), `restarts` (-1 = auto, 0 = off; r > 0: up
to r further seeded random starts, until the best objective has been reached
twice). The result's `method_used`, `starts` and `starts_at_best` say what ran.

`progress(iteration, objective)` runs after every iteration; returning `true`
cancels the fit, which throws `WlraError` with name `:cancelled` and the
factors of the completed iterations in `err.result`. An exception thrown by
`progress` cancels the fit and is rethrown. `start = (U0, V0)` sets starting
factors (and `init = :given`).
"""
function wlra_fit(M::AbstractMatrix, W::Union{Nothing,AbstractMatrix} = nothing;
                  rank::Integer, progress = nothing, start = nothing, options...)
    M isa AbstractSparseMatrix &&
        throw(WlraError(2, "M is a sparse matrix: use wlra_fit_sparse, which keeps it sparse " *
                           "(and says what M and W are outside its pattern)"))
    values = option_values(rank, start, options)
    M = as_passable(M)
    if W !== nothing
        size(W) == size(M) || throw(WlraError(2, "W is $(size(W)) but M is $(size(M))"))
        W = as_passable(W)
    end
    n_rows, n_cols = size(M)
    run_fit(n_rows, n_cols, rank, values, start, progress) do model
        GC.@preserve M W begin
            w_ptr = W === nothing ? Ptr{Float64}(C_NULL) : pointer(W)
            ld_w = W === nothing ? leading_dim(M) : leading_dim(W)
            ccall(sym(:wlra_fit), Int32,
                  (Ptr{Cvoid}, Csize_t, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t, Int32),
                  model, n_rows, n_cols, pointer(M), leading_dim(M), w_ptr, ld_w, COL_MAJOR)
        end
    end
end

# ---- fold-in (C ABI 1.3: wlra_set_fitted, wlra_transform) -------------------

"""
    fold_in(fit, X, W=nothing; ridge=0.0)

The factor rows (size(X, 1) x rank) of new rows `X` (size(X, 2) columns, as
the fit's M) with weights `W` (`nothing`: all 1), each row's weighted ridge
regression on the fit's V: the C ABI's `wlra_transform` on the fit loaded
into a model with `wlra_set_fitted` (a `WlraFit` saved and loaded, with
Serialization for example, folds in as the fitted model did). Give the
`ridge` the fit had. A row with no positive weight gets
0; `fit.V * u` predicts a row from its factor row `u`.
"""
function fold_in(fit::WlraFit, X::AbstractMatrix, W::Union{Nothing,AbstractMatrix} = nothing;
                 ridge = 0.0)
    (n_rows, rank), n_cols = size(fit.U), size(fit.V, 1)
    size(X, 2) == n_cols || throw(WlraError(2, "X has $(size(X, 2)) columns, the fit has $n_cols"))
    X = as_passable(X)
    if W !== nothing
        size(W) == size(X) || throw(WlraError(2, "W is $(size(W)) but X is $(size(X))"))
        W = as_passable(W)
    end
    U, V = as_passable(fit.U), as_passable(fit.V)
    n_new = size(X, 1)
    out = Matrix{Float64}(undef, n_new, rank)
    handle = Ref{Ptr{Cvoid}}(C_NULL)
    check(C_NULL, ccall(sym(:wlra_create), Int32, (Csize_t, Ref{Ptr{Cvoid}}), rank, handle))
    model = handle[]
    try
        check(model, ccall(sym(:wlra_set_option), Int32, (Ptr{Cvoid}, Int32, Cdouble), model,
                           OPTIONS[:ridge], option_value(:ridge, ridge)))
        GC.@preserve U V X W out begin
            check(model, ccall(sym(:wlra_set_fitted), Int32,
                               (Ptr{Cvoid}, Csize_t, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t,
                                Ptr{Float64}, Ptr{Float64}, Int32),
                               model, n_rows, n_cols, pointer(U), leading_dim(U), pointer(V), leading_dim(V),
                               Ptr{Float64}(C_NULL), Ptr{Float64}(C_NULL), COL_MAJOR))
            n_new == 0 && return out
            w_ptr = W === nothing ? Ptr{Float64}(C_NULL) : pointer(W)
            ld_w = W === nothing ? leading_dim(X) : leading_dim(W)
            check(model, ccall(sym(:wlra_transform), Int32,
                               (Ptr{Cvoid}, Csize_t, Ptr{Float64}, Csize_t, Ptr{Float64}, Csize_t,
                                Ptr{Float64}, Csize_t, Int32),
                               model, n_new, pointer(X), leading_dim(X), w_ptr, ld_w, pointer(out),
                               max(n_new, 1), COL_MAJOR))
        end
    finally
        ccall(sym(:wlra_destroy), Cvoid, (Ptr{Cvoid},), model)
    end
    out
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
                         progress = nothing, start = nothing, options...)
    values = option_values(rank, start, options)
    W === nothing || check_same_pattern(M, W)
    row_ptr, col_idx, m_values = csr_arrays(M)
    w_values = W === nothing ? nothing : csr_arrays(W).values
    n_rows, n_cols = size(M)
    run_fit(n_rows, n_cols, rank, values, start, progress) do model
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
