# The Julia binding against the C ABI, one to one with
# bindings/r/tests/testthat/test-wlra.R and test-sparse.R. Not run in this project's CI (no
# Julia toolchain there); run with WLRA_LIBRARY set:
#   julia --project=bindings/julia -e 'using Pkg; Pkg.test()'
using Test, LinearAlgebra, Random, Serialization, SparseArrays
using Wlra

const REPO = normpath(joinpath(@__DIR__, "..", "..", ".."))

function planted_problem()
    rng = MersenneTwister(20240601)
    U, V = randn(rng, 80, 3), randn(rng, 60, 3)
    (truth = U * V', W = 0.1 .+ 0.9 .* rand(rng, 80, 60))
end

# M_ij = sin(0.3 i + 0.7 j) + cos(0.11 i j), W_ij = 0.1 + 0.9 frac(0.618 (i m + j)), 0-based.
function reference_problem(n = 37, m = 23)
    M, W = zeros(n, m), zeros(n, m)
    for i in 0:n-1, j in 0:m-1
        x = 0.618 * (Float64(i) * m + Float64(j))
        M[i+1, j+1] = sin(0.3 * i + 0.7 * j) + cos(0.11 * i * j)
        W[i+1, j+1] = 0.1 + 0.9 * (x - floor(x))
    end
    (M = M, W = W)
end

# The sparse problem of reference_csr.c, 0-based i, j in the formula: with
# f = frac(0.618 (i m + j)), (i, 3 i mod m) is a stored zero of weight 2,
# else (i, j) is stored when f < 0.45 with M_ij = sin(0.3 i + 0.7 j) +
# cos(0.11 i j) and W_ij = 0.5 + f; outside, M = 0.25 and W = 0.1.
function reference_csr_problem(n = 37, m = 23)
    I, J, X, Y = Int[], Int[], Float64[], Float64[]
    for i in 0:n-1, j in 0:m-1
        x = 0.618 * (Float64(i) * m + Float64(j))
        f = x - floor(x)
        if j == (3 * i) % m
            value, weight = 0.0, 2.0
        elseif f < 0.45
            value, weight = sin(0.3 * i + 0.7 * j) + cos(0.11 * i * j), 0.5 + f
        else
            continue
        end
        push!(I, i + 1); push!(J, j + 1); push!(X, value); push!(Y, weight)
    end
    (M = sparse(I, J, X, n, m), W = sparse(I, J, Y, n, m), m_default = 0.25, w_default = 0.1)
end

# A seeded planted sparse problem: truth (rank `rank`), noisy (truth + 0.1
# noise), I, J of the observed entries (a fraction `observed`), weights on
# them in [0.5, 3].
function sparse_planted(n, m, rank, observed, seed)
    rng = MersenneTwister(seed)
    truth = randn(rng, n, rank) * randn(rng, rank, m)
    noisy = truth .+ 0.1 .* randn(rng, n, m)
    at = findall(rand(rng, n, m) .< observed)
    (truth = truth, noisy = noisy, I = getindex.(at, 1), J = getindex.(at, 2),
     weights = 0.5 .+ 2.5 .* rand(rng, length(at)))
end

function densified(I, J, x, dims, default)
    out = fill(Float64(default), dims)
    for (k, (i, j)) in enumerate(zip(I, J))
        out[i, j] = x isa Number ? x : x[k]
    end
    out
end

relative_difference(a, b) = norm(fitted(a) - fitted(b)) / norm(fitted(a))

reference_fit(M, W) = wlra_fit(M, W; rank = 3, max_iterations = 25, tolerance = 0, seed = 7, init = :random, solver = :exact)

function reference_factors(source = "reference.c")
    lib = realpath(Wlra.library_path())
    dir = mktempdir()
    for name in ("libwlra.so", "libwlra.so.1")  # the plain name and the SONAME
        symlink(lib, joinpath(dir, name))
    end
    exe = joinpath(dir, "reference")
    run(`$(get(ENV, "CC", "cc")) -std=c99 -Wall -Wextra -Werror -I $(joinpath(REPO, "include"))
         $(joinpath(REPO, "bindings", "tests", source)) -o $exe -L$dir -lwlra -Wl,-rpath,$dir -lm`)
    out = joinpath(dir, "factors.txt")
    run(`$exe $out`)
    values = parse.(Float64, split(read(out, String)))
    n, m, k = Int.(values[1:3])
    values = values[4:end]
    (U = permutedims(reshape(values[1:n*k], k, n)), V = permutedims(reshape(values[n*k+1:(n+m)*k], k, m)))
end

relative_error(fit, truth) = norm(fitted(fit) - truth) / norm(truth)

@testset "Wlra" begin
    @testset "planted rank-3 problem is recovered" begin
        p = planted_problem()
        fit = wlra_fit(p.truth, p.W; rank = 3, tolerance = 1e-14, max_iterations = 500)
        @test size(fit.U) == (80, 3) && size(fit.V) == (60, 3)
        @test relative_error(fit, p.truth) <= 1e-8
        @test fit.iterations >= 1 && fit.objective >= 0
        @test fit.solver_used in (:exact, :sketch)
    end

    @testset "a serialized fit folds in through wlra_set_fitted as the fit does" begin
        p = planted_problem()
        fit = wlra_fit(p.truth, p.W; rank = 3, tolerance = 1e-14, max_iterations = 500, ridge = 0.01)
        buffer = IOBuffer()
        serialize(buffer, fit)
        again = deserialize(seekstart(buffer))
        rows, weights = p.truth[1:5, :], p.W[1:5, :]
        # The fit's ridge travels with it: fold-in uses it.
        @test fit.ridge == 0.01 && again.ridge == 0.01
        u = fold_in(again, rows, weights)
        @test u == fold_in(fit, rows, weights)
        # The training rows' fold-in is the fit's next U half-step: at a
        # converged fit, its own U to within the tolerance's effect.
        @test maximum(abs.(u - fit.U[1:5, :])) <= 1e-4 * maximum(abs.(fit.U))
        @test size(fold_in(fit, zeros(0, size(fit.V, 1)))) == (0, 3)
    end

    @testset "offsets: fitted, predict and fold-in include them, by the library" begin
        p = planted_problem()
        M = p.truth .+ (1:80) .+ 10 .* (1:60)'
        fit = wlra_fit(M, p.W; rank = 3, offsets = :both, tolerance = 1e-14, max_iterations = 500)
        @test fit.offsets == :both && length(fit.row_offsets) == 80 && length(fit.col_offsets) == 60
        @test maximum(abs.(fitted(fit) - M)) <= 1e-6 * maximum(abs.(M))
        i, j = [1, 5, 80], [2, 60, 1]
        @test maximum(abs.(predict(fit, i, j) - [fitted(fit)[a, b] for (a, b) in zip(i, j)])) <= 1e-10 * maximum(abs.(M))
        u, a = fold_in_with_offsets(fit, M[1:4, :], p.W[1:4, :])
        @test maximum(abs.(u * fit.V' .+ a .+ fit.col_offsets' - M[1:4, :])) <= 1e-6 * maximum(abs.(M))
    end

    @testset "the same input checks as Python and R" begin
        p = planted_problem()
        err(f) = try f(); nothing catch e; e end
        e = err(() -> wlra_fit(p.truth; rank = 3, start = (ones(80, 4), ones(60, 3))))
        @test e isa WlraError && e.name == :invalid_argument
        @test occursin("start U0 has shape (80, 4) but must be (80, 3): one row per row of M (80) and one column per component (rank = 3)", e.message)
        e = err(() -> wlra_fit(p.truth .+ 0im; rank = 3))
        @test e isa WlraError && occursin(r"^M has element type Complex(F64|\{Float64\}): wlra fits real matrices", e.message)
        e = err(() -> wlra_fit(fill("a", 80, 60); rank = 3))
        @test e isa WlraError && startswith(e.message, "M has element type String, which is not numeric")
        @test_logs (:warn, r"every weight is 0") wlra_fit(p.truth, zeros(80, 60); rank = 3)
        rank_one = (1:80) * (1:60)'
        @test_logs (:warn, r"the fit is degenerate: U V' has rank 1, below rank = 2") wlra_fit(Float64.(rank_one); rank = 2, tolerance = 0, max_iterations = 5)
    end

    @testset "cross-validation over the library's folds" begin
        p = planted_problem()
        cv = cross_validate(p.truth, p.W; ranks = [2, 3], ridges = [0.0], folds = 3, tolerance = 1e-10)
        @test size(cv.fold_rmse) == (2, 1, 3) && cv.best_rank == 3 && length(cv.table) == 2
        # Each fold runs the ridges as a path, largest first, each fit from the one before.
        settings = (ranks = [3], ridges = [0.0, 2.0], folds = 3, tolerance = 1e-10)
        on_path = cross_validate(p.truth, p.W; settings...)
        alone = cross_validate(p.truth, p.W; path = false, settings...)
        for fold in 0:2
            first = wlra_fit(p.truth, p.W; rank = 3, ridge = 2.0, folds = 3, held_out_fold = fold, tolerance = 1e-10)
            second = wlra_fit(p.truth, p.W; rank = 3, ridge = 0.0, folds = 3, held_out_fold = fold, tolerance = 1e-10,
                              start = first)
            @test on_path.fold_rmse[1, :, fold+1] == [second.held_out_rmse, first.held_out_rmse]
            @test alone.fold_rmse[1, 2, fold+1] == first.held_out_rmse
        end
        # fit_path: the same chain, whatever init the options name.
        path = fit_path(p.truth, p.W; rank = 3, ridges = [2.0, 0.0], tolerance = 1e-10, init = :random)
        first = wlra_fit(p.truth, p.W; rank = 3, ridge = 2.0, tolerance = 1e-10, init = :random)
        second = wlra_fit(p.truth, p.W; rank = 3, ridge = 0.0, tolerance = 1e-10, start = first)
        @test [f.objective for f in path] == [first.objective, second.objective]
    end

    @testset "factors equal the C ABI reference program's" begin
        ref = reference_factors()
        p = reference_problem()
        fit = reference_fit(p.M, p.W)
        @test maximum(abs.(fit.U - ref.U)) <= 1e-12
        @test maximum(abs.(fit.V - ref.V)) <= 1e-12
        @test fit.iterations == 25 && !fit.converged && fit.solver_used == :exact
    end

    @testset "numeric option values map like their names" begin
        p = reference_problem()
        by_value = wlra_fit(p.M, p.W; rank = 3, max_iterations = 25, tolerance = 0, seed = 7, init = 1, solver = 1)
        @test by_value.U == reference_fit(p.M, p.W).U
    end

    @testset "integer matrices are converted" begin
        M = reshape(collect(0:11), 4, 3)
        @test wlra_fit(M; rank = 1, seed = 1).U == wlra_fit(Float64.(M); rank = 1, seed = 1).U
    end

    @testset "fitted and predict give U V' and its entries" begin
        p = planted_problem()
        fit = wlra_fit(p.truth, p.W; rank = 3, max_iterations = 5)
        full = fit.U * fit.V'
        @test fitted(fit) == full
        @test predict(fit) == full
        @test predict(fit, [1, 5, 80], [2, 60, 1]) ≈ [full[1, 2], full[5, 60], full[80, 1]]
    end

    @testset "warm start with zero iterations returns the start" begin
        p = planted_problem()
        first = wlra_fit(p.truth, p.W; rank = 3, max_iterations = 3)
        again = wlra_fit(p.truth, p.W; rank = 3, max_iterations = 0, start = (first.U, first.V))
        @test again.U == first.U && again.V == first.V
    end

    @testset "negative weight is a WlraError with the library's message" begin
        p = planted_problem()
        W = copy(p.W)
        W[5, 8] = -0.5
        err = try wlra_fit(p.truth, W; rank = 3); nothing catch e; e end
        @test err isa WlraError && err.name == :negative_weight && err.status == 4
        @test occursin("W[", err.message)
    end

    @testset "other library errors map to their names" begin
        p = planted_problem()
        catch_error(f) = try f(); nothing catch e; e end
        e = catch_error(() -> wlra_fit(p.truth, p.W; rank = 3, tolerance = -1))
        @test e isa WlraError && e.name == :invalid_argument && occursin("WLRA_OPTION_TOLERANCE", e.message)
        e = catch_error(() -> wlra_fit(p.truth, p.W; rank = 0))
        @test e isa WlraError && e.name == :invalid_argument && occursin("rank", e.message)
        bad = copy(p.truth)
        bad[1, 1] = NaN
        @test catch_error(() -> wlra_fit(bad, p.W; rank = 3)).name == :non_finite_input
        e = catch_error(() -> wlra_fit(p.truth, p.W; rank = 3, solver = :fastest))
        @test e isa WlraError && e.name == :invalid_argument && occursin("solver", e.message)
        @test_throws ArgumentError wlra_fit(p.truth, p.W; rank = 3, max_iteration = 5)
    end

    @testset "a progress callback cancelling after 2 iterations keeps their factors" begin
        p = planted_problem()
        seen = Int[]
        err = try
            wlra_fit(p.truth, p.W; rank = 3, tolerance = 1e-14,
                     progress = (i, f) -> (push!(seen, i); i >= 2))
            nothing
        catch e
            e
        end
        @test err isa WlraError && err.name == :cancelled
        @test seen == [1, 2]
        two = wlra_fit(p.truth, p.W; rank = 3, tolerance = 1e-14, max_iterations = 2)
        @test err.result.iterations == 2
        @test maximum(abs.(err.result.U - two.U)) <= 1e-12
        @test maximum(abs.(err.result.V - two.V)) <= 1e-12
    end

    @testset "an error in the progress callback cancels the fit and is rethrown" begin
        p = planted_problem()
        @test_throws KeyError wlra_fit(p.truth, p.W; rank = 3, progress = (i, f) -> throw(KeyError(:callback)))
        calls = Ref(0)
        fit = wlra_fit(p.truth, p.W; rank = 3, max_iterations = 4, tolerance = 0,
                       progress = (i, f) -> (calls[] += 1; nothing))
        @test calls[] == 4 && fit.iterations == 4
    end

    @testset "a 3000 x 3000 Float64 matrix is passed without a copy" begin
        rng = MersenneTwister(3)
        M, W = randn(rng, 3000, 3000), 0.1 .+ 0.9 .* rand(rng, 3000, 3000)
        wlra_fit(M[1:10, 1:10], W[1:10, 1:10]; rank = 2, max_iterations = 2, init = :random)  # compile first
        allocated = @allocated wlra_fit(M, W; rank = 2, max_iterations = 2, init = :random)
        println("no-copy: $allocated bytes allocated during the fit of a $(sizeof(M))-byte matrix")
        @test allocated < 0.1 * sizeof(M)
    end

    @testset "constants match the C header" begin
        defines = Dict{String,Int}()
        for line in eachline(joinpath(REPO, "include", "wlra.h"))
            m = match(r"^#define (WLRA_[A-Z_]+) (-?[0-9]+)$", line)
            m === nothing || (defines[m.captures[1]] = parse(Int, m.captures[2]))
        end
        @test all(defines["WLRA_OPTION_" * uppercase(String(k))] == v for (k, v) in Wlra.OPTIONS)
        @test all(defines["WLRA_SOLVER_" * uppercase(String(k))] == v for (k, v) in Wlra.SOLVERS)
        @test all(defines["WLRA_INIT_" * uppercase(String(k))] == v for (k, v) in Wlra.INITS)
        @test all(defines["WLRA_METHOD_" * uppercase(String(k))] == v for (k, v) in Wlra.METHODS)
        # WLRA_ERROR_BUSY (10): checked once the header has it.
        @test all((k == :busy && !haskey(defines, "WLRA_ERROR_BUSY")) || defines["WLRA_ERROR_" * uppercase(String(k))] == i
                  for (i, k) in enumerate(Wlra.STATUS_NAMES))
        @test startswith(wlra_library_version(), "1.")
    end

    @testset "a SparseMatrixCSC gives the fit of the densified problem" begin
        p = sparse_planted(70, 50, 3, 0.4, 90)
        values = [p.noisy[i, j] for (i, j) in zip(p.I, p.J)]
        values[1:25] .= 0.0  # observed zeros: stored, so they stay in the pattern
        M = sparse(p.I, p.J, values, 70, 50)
        W = sparse(p.I, p.J, p.weights, 70, 50)
        @test nnz(M) == length(p.I)
        for (m_default, w_default) in ((0.0, 0.0), (0.25, 1.0))
            got = wlra_fit_sparse(M, W; rank = 3, m_default = m_default, w_default = w_default,
                                  tolerance = 0, max_iterations = 15)
            dense = wlra_fit(densified(p.I, p.J, values, (70, 50), m_default),
                             densified(p.I, p.J, p.weights, (70, 50), w_default);
                             rank = 3, tolerance = 0, max_iterations = 15)
            @test got.iterations == dense.iterations == 15
            @test relative_difference(dense, got) <= 1e-10
            @test abs(got.objective - dense.objective) <= 1e-10 * dense.objective
        end
    end

    @testset "sparse weights default to 1 on the pattern" begin
        p = sparse_planted(40, 30, 2, 0.5, 94)
        values = [p.noisy[i, j] for (i, j) in zip(p.I, p.J)]
        got = wlra_fit_sparse(sparse(p.I, p.J, values, 40, 30); rank = 2, tolerance = 0, max_iterations = 10)
        dense = wlra_fit(densified(p.I, p.J, values, (40, 30), 0.0), densified(p.I, p.J, 1.0, (40, 30), 0.0);
                         rank = 2, tolerance = 0, max_iterations = 10)
        @test relative_difference(dense, got) <= 1e-10
    end

    @testset "factors equal the C ABI sparse reference program's" begin
        ref = reference_factors("reference_csr.c")
        p = reference_csr_problem()
        @test count(iszero, nonzeros(p.M)) == 37  # the stored zeros survived sparse()
        fit = wlra_fit_sparse(p.M, p.W; rank = 3, m_default = p.m_default, w_default = p.w_default,
                              max_iterations = 25, tolerance = 0, seed = 7, init = :random, solver = :exact)
        @test maximum(abs.(fit.U - ref.U)) <= 1e-12
        @test maximum(abs.(fit.V - ref.V)) <= 1e-12
        @test fit.iterations == 25 && !fit.converged && fit.solver_used == :exact
    end

    @testset "sparse completion recovers the unobserved entries to 1e-6" begin
        p = sparse_planted(60, 50, 3, 0.4, 97)
        M = sparse(p.I, p.J, [p.truth[i, j] for (i, j) in zip(p.I, p.J)], 60, 50)
        fit = wlra_fit_sparse(M; rank = 3, w_default = 0, tolerance = 1e-16, max_iterations = 3000)
        unobserved = trues(60, 50)
        for (i, j) in zip(p.I, p.J)
            unobserved[i, j] = false
        end
        @test norm((fitted(fit) - p.truth)[unobserved]) / norm(p.truth[unobserved]) <= 1e-6
    end

    @testset "W with another pattern is a WlraError naming the entry" begin
        p = sparse_planted(30, 20, 2, 0.4, 98)
        M = sparse(p.I, p.J, [p.noisy[i, j] for (i, j) in zip(p.I, p.J)], 30, 20)
        W = sparse(p.I[1:end-1], p.J[1:end-1], p.weights[1:end-1], 30, 20)
        catch_error(f) = try f(); nothing catch e; e end
        e = catch_error(() -> wlra_fit_sparse(M, W; rank = 2))
        @test e isa WlraError && e.name == :invalid_argument && e.status == 2
        @test occursin("M stores [$(p.I[end]), $(p.J[end])] but W does not", e.message)
        e = catch_error(() -> wlra_fit_sparse(M, sparse([1], [1], [1.0], 30, 21); rank = 2))
        @test e isa WlraError && occursin("W is (30, 21) but M is (30, 20)", e.message)
    end

    @testset "bad sparse values are WlraErrors with the library's message" begin
        p = sparse_planted(30, 20, 2, 0.4, 99)
        M = sparse(p.I, p.J, [p.noisy[i, j] for (i, j) in zip(p.I, p.J)], 30, 20)
        W = sparse(p.I, p.J, p.weights, 30, 20)
        nonzeros(W)[4] = -0.5
        catch_error(f) = try f(); nothing catch e; e end
        e = catch_error(() -> wlra_fit_sparse(M, W; rank = 2))
        @test e isa WlraError && e.name == :negative_weight && e.status == 4
        @test occursin(Regex("row $(rowvals(W)[4] - 1): w_values\\[\\d+\\] = -0.5 is negative"), e.message)
        e = catch_error(() -> wlra_fit_sparse(M; rank = 2, w_default = -1))
        @test e isa WlraError && e.name == :negative_weight && occursin("w_default", e.message)
        e = catch_error(() -> wlra_fit(M; rank = 2))
        @test e isa WlraError && e.name == :invalid_argument && occursin("wlra_fit_sparse", e.message)
    end

    @testset "canonical form (wlra_get_canonical)" begin
        p = planted_problem()
        fit = wlra_fit(p.truth, p.W; rank = 3, tolerance = 1e-12)
        U, s, V = canonical(fit)
        @test maximum(abs.(U' * U - I)) <= 1e-12 && maximum(abs.(V' * V - I)) <= 1e-12
        @test issorted(s; rev = true) && all(s .>= 0)
        @test norm(U * Diagonal(s) * V' - fit.U * fit.V') <= 1e-12 * norm(fit.U * fit.V')
        @test all(V[argmax(abs.(V[:, j])), j] > 0 for j in 1:3)
        R = [2.0 0.3 0.0; 0.1 1.0 0.2; 0.0 0.4 3.0]
        U2, s2, V2 = canonical(fit.U * R, fit.V * inv(R)')
        @test maximum(abs.(U2 - U)) <= 1e-10 && maximum(abs.(s2 - s)) <= 1e-10 * s[1]
    end

    @testset "a 20000 x 20000 SparseMatrixCSC is not densified" begin
        rng = MersenneTwister(101)
        n = 20000
        I, J = rand(rng, 1:n, 200_000), rand(rng, 1:n, 200_000)
        M = sparse(I, J, randn(rng, 200_000), n, n)
        W = SparseMatrixCSC(n, n, copy(M.colptr), copy(M.rowval), 0.5 .+ 2.5 .* rand(rng, nnz(M)))
        small = sparse([1, 2], [1, 2], [1.0, 2.0], 2, 2)
        wlra_fit_sparse(small, small; rank = 1, max_iterations = 1)  # compile first
        allocated = @allocated wlra_fit_sparse(M, W; rank = 2, w_default = 1, max_iterations = 2, init = :random)
        println("no-densify: $allocated bytes allocated during the fit of a $n x $n SparseMatrixCSC with $(nnz(M)) entries")
        @test allocated < 0.01 * n * n * 8
    end
end
