# The Julia binding against the C ABI, one to one with
# bindings/r/tests/testthat/test-wlra.R. Not run in this project's CI (no
# Julia toolchain there); run with WLRA_LIBRARY set:
#   julia --project=bindings/julia -e 'using Pkg; Pkg.test()'
using Test, LinearAlgebra, Random
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

reference_fit(M, W) = wlra_fit(M, W; rank = 3, max_iterations = 25, tolerance = 0, seed = 7, init = :random, solver = :exact)

function reference_factors()
    lib = realpath(Wlra.library_path())
    dir = mktempdir()
    for name in ("libwlra.so", "libwlra.so.1")  # the plain name and the SONAME
        symlink(lib, joinpath(dir, name))
    end
    exe = joinpath(dir, "reference")
    run(`$(get(ENV, "CC", "cc")) -std=c99 -Wall -Wextra -Werror -I $(joinpath(REPO, "include"))
         $(joinpath(REPO, "bindings", "tests", "reference.c")) -o $exe -L$dir -lwlra -Wl,-rpath,$dir -lm`)
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
        @test all(defines["WLRA_ERROR_" * uppercase(String(k))] == i for (i, k) in enumerate(Wlra.STATUS_NAMES))
        @test startswith(wlra_library_version(), "1.")
    end
end
