"""wlra against exact weighted ALS written in NumPy (issue acceptance 4), on
a dense planted problem, same rank, same threads, same starting factors,
same number of iterations, measured in one process. Run through
benches/versus_numpy/run.sh (which passes its arguments on here).

The problem: M = U0 V0^T / sqrt(k) + noise * N(0, 1), n x m, with Gaussian
U0 (n x k), V0 (m x k), so the planted part has unit-variance entries;
weights W uniform in [0.1, 1] (dense, all positive); all from one seed.
Both minimize

    f(U, V) = sum_ij W_ij (M_ij - u_i . v_j)^2 + ridge (||U||^2 + ||V||^2)

(ridge 0 by default), evaluated here in float64 by NumPy on the factors each
returns. wlra orthonormalizes the fixed factor before each half-step when
ridge = 0 (U V^T unchanged), so its factors differ from NumPy's by an
invertible k x k matrix: compare objectives, never factors.

The NumPy baseline is exact ALS as a competent user writes it: for the row
half-step with V fixed, all n per-row Grams at once as one matrix product
G = W @ KR, KR the row-wise Khatri-Rao product of V with itself (m x k^2, or
its packed upper triangle m x k(k+1)/2, unpacked into a preallocated stack;
both are timed on one half-step first and the faster is used and printed),
rhs = (W * M) @ V (W * M formed once), then one batched np.linalg.solve on
the (n, k, k) stack; the column half-step the same on W^T. Rows go in blocks
so a Gram stack stays under 512 MB. NumPy's BLAS runs with the same thread
count as wlra (threadpoolctl).

Both start from wlra's SVD initialization (a 0-iteration wlra fit returns
it); wlra gets it back through start=(U, V) (init "given"). Both are asked
for --iterations iterations, wlra with tolerance 0; wlra still stops where
the objective rises by rounding at the optimum (this problem gets there in
6-7 iterations), so the objectives are compared after the iterations wlra
completed (NumPy's history is kept), and each side's time per iteration is
its own average (how wlra's is taken: see run_rank).
"""

import argparse
import os
import platform
import shlex
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import wlra

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import cache_sizes, cpu_model  # noqa: E402

GRAM_BLOCK_BYTES = 512 << 20
# wlra per-iteration speedup wanted at these ranks (issue 29, acceptance 3;
# issue 4 had asked 2.5x and 4x against a NumPy forming full Grams).
TARGETS = {16: 1.6, 64: 5.0}


def arguments():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3000, help="rows (default 3000)")
    p.add_argument("--m", type=int, default=None, help="columns (default: n)")
    p.add_argument("--ranks", default="16,64", help="comma-separated ranks (default 16,64)")
    p.add_argument("--iterations", type=int, default=10, help="ALS iterations for both (default 10)")
    p.add_argument("--noise", type=float, default=1e-2, help="noise standard deviation (default 0.01)")
    p.add_argument("--seed", type=int, default=0, help="problem seed (default 0)")
    p.add_argument("--ridge", type=float, default=0.0, help="ridge for both (default 0)")
    p.add_argument("--threads", type=int, default=cores, help=f"threads for both (default: the cores, {cores})")
    p.add_argument("--solver", default="auto", help="wlra solver (default auto)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 unless every rank's objectives agree to 1e-9 relative (the smoke run in the tests)")
    a = p.parse_args()
    if a.m is None:
        a.m = a.n
    a.ranks = [int(r) for r in a.ranks.split(",") if r]
    return a


def print_machine(a):
    caches = cache_sizes()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# CPU: {cpu_model()}, {cores} cores available ({os.cpu_count()} online); "
          + ", ".join(f"{name} {caches[name]}" for name in ("L1d", "L2", "L3") if name in caches))
    explicit = (f"--n {a.n} --m {a.m} --ranks {','.join(map(str, a.ranks))} --iterations {a.iterations} "
                f"--noise {a.noise:g} --seed {a.seed} --ridge {a.ridge:g} --threads {a.threads} --solver {a.solver}")
    print(f"# reproduce: bash benches/versus_numpy/run.sh {explicit}")
    if sys.argv[1:]:
        print(f"#   (as invoked: bash benches/versus_numpy/run.sh {shlex.join(sys.argv[1:])})")
    print(f"# Python {platform.python_version()}, numpy {np.__version__}, wlra binding {wlra.__version__}, "
          f"libwlra {wlra.library_version()} ({os.environ.get('WLRA_LIBRARY', '?')})")
    blas = "?"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]
        blas = f"{deps['blas'].get('name', '?')} {deps['blas'].get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older numpy: show_config has no dicts
        pass
    print(f"# numpy BLAS (build): {blas}")
    for pool in threadpool_info():
        print(f"# numpy BLAS (loaded): {pool.get('internal_api')} {pool.get('version')} "
              f"architecture {pool.get('architecture', '?')}, threading {pool.get('threading_layer', '?')}, "
              f"{pool.get('num_threads')} threads by default, {a.threads} used here ({pool.get('filepath')})")
    env = {v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print("# environment: " + ", ".join(f"{k}={'(unset)' if v is None else v}" for k, v in env.items()))


def problem(n, m, k, noise, seed):
    rng = np.random.default_rng([seed, k])
    U0 = rng.standard_normal((n, k))
    V0 = rng.standard_normal((m, k))
    M = (U0 @ V0.T) / np.sqrt(k) + noise * rng.standard_normal((n, m))
    W = rng.uniform(0.1, 1.0, (n, m))
    return M, W


def objective(M, W, U, V, ridge):
    R = M - U @ V.T
    return float(np.sum(W * R * R)) + ridge * float(np.sum(U * U) + np.sum(V * V))


class NumpyAls:
    """Exact weighted ALS in NumPy; `packed` picks the Gram layout. Buffers
    (Khatri-Rao product, Gram stack) are allocated once and reused."""

    def __init__(self, M, W, k, ridge, packed):
        self.W, self.WM = W, W * M
        self.k, self.ridge, self.packed = k, ridge, packed
        self.upper = np.triu_indices(k)
        n, m = M.shape
        width = len(self.upper[0]) if packed else k * k
        self.block = max(1, min(max(n, m), GRAM_BLOCK_BYTES // (8 * k * k)))
        self.kr = np.empty((max(n, m), width))
        self.gram = np.empty((min(self.block, max(n, m)), width))
        self.stack = np.empty((min(self.block, max(n, m)), k, k)) if packed else None

    def khatri_rao(self, X):
        kr = self.kr[: X.shape[0]]
        if self.packed:
            np.multiply(X[:, self.upper[0]], X[:, self.upper[1]], out=kr)
        else:
            np.multiply(X[:, :, None], X[:, None, :], out=kr.reshape(X.shape[0], self.k, self.k))
        return kr

    def half_step(self, W, WM, X):
        """argmin_Y sum_ij W_ij (M_ij - y_i . x_j)^2 + ridge ||Y||^2, with
        W and WM = W * M given as (rows of Y) x (rows of X)."""
        k = self.k
        kr = self.khatri_rao(X)
        rhs = WM @ X
        Y = np.empty((W.shape[0], k))
        for s in range(0, W.shape[0], self.block):
            e = min(s + self.block, W.shape[0])
            g = np.matmul(W[s:e], kr, out=self.gram[: e - s])
            if self.packed:
                G = self.stack[: e - s]
                off = 0
                for a in range(k):
                    w = k - a
                    G[:, a, a:] = g[:, off : off + w]
                    G[:, a + 1 :, a] = g[:, off + 1 : off + w]
                    off += w
            else:
                G = g.reshape(e - s, k, k)
            if self.ridge:
                G += self.ridge * np.eye(k)
            Y[s:e] = np.linalg.solve(G, rhs[s:e, :, None])[:, :, 0]
        return Y

    def iterate(self, U, V, iterations):
        """The factors after each of `iterations` iterations (a list)."""
        history = []
        for _ in range(iterations):
            U = self.half_step(self.W, self.WM, V)
            V = self.half_step(self.W.T, self.WM.T, U)
            history.append((U, V))
        return history


def timed(f):
    start = time.perf_counter()
    out = f()
    return time.perf_counter() - start, out


def wlra_timed(M, W, start, iterations, common):
    """One wlra fit from `start`: (wall seconds of the call, seconds since the
    call at each completed iteration's progress callback, the FitResult)."""
    marks = []
    t0 = time.perf_counter()
    fit = wlra.fit(M, W, start=start, max_iterations=iterations,
                   progress=lambda i, f: marks.append(time.perf_counter() - t0), **common)
    return time.perf_counter() - t0, marks, fit


def run_rank(a, k):
    n, m, N = a.n, a.m, a.iterations
    M, W = problem(n, m, k, a.noise, a.seed)
    common = dict(rank=k, threads=a.threads, ridge=a.ridge, solver=a.solver, tolerance=0.0)

    # The shared start: wlra's own SVD initialization (0 iterations).
    # The library's own factors (`library_factors`): the Fit's U and V are
    # the canonical form, orthonormal, whose product leaves out diag(s).
    init = wlra.fit(M, W, max_iterations=0, **common)
    start = tuple(x.copy() for x in init.library_factors)
    f0 = objective(M, W, *start, a.ridge)
    print(f"\n## n {n} x m {m}, k {k}, noise {a.noise:g}, seed {a.seed}, {N} iterations, {a.threads} threads, "
          f"ridge {a.ridge:g}; start (wlra SVD init) objective {f0:.10e}")

    with threadpool_limits(limits=a.threads):
        # NumPy: pick the Gram layout by timing one row half-step of each
        # (also warms up the BLAS threads and the buffers' pages).
        half = {}
        for packed in (False, True):
            als = NumpyAls(M, W, k, a.ridge, packed)
            als.half_step(W, als.WM, start[1])  # first touch of the buffers
            half[packed] = min(timed(lambda: als.half_step(W, als.WM, start[1]))[0] for _ in range(2))
            del als
        packed = half[True] < half[False]
        als = NumpyAls(M, W, k, a.ridge, packed)
        als.half_step(W, als.WM, start[1])
        # Timed: N full iterations (two half-steps each) and nothing else; the
        # objectives are evaluated after the clock stops.
        numpy_seconds, numpy_history = timed(lambda: als.iterate(*start, N))
        del als
    numpy_per_iteration = numpy_seconds / N

    # wlra per iteration: (time from the call to the progress callback of its
    # last completed iteration - the wall time of a 0-iteration fit from the
    # same start) / completed iterations. The 0-iteration fit (best of 3) is
    # what a fit does once (the ctypes call, input checks of M and W, thread
    # pool start, copying the start, the start's objective); what remains is
    # the iterations as wlra runs them, each with its orthonormalization of
    # the fixed factor and its objective evaluation (which NumPy's timed loop
    # does not do: in NumPy's favour), and any iteration wlra redoes at full
    # accuracy. Timing to the last callback rather than to the return leaves
    # out the one iteration wlra computes and rejects when the objective rises
    # by rounding at the optimum, its stopping rule even at tolerance 0
    # (tolerance 0 only removes the relative-decrease test): NumPy has no
    # such test to pay for. The fit is the best of 2. Also printed: the same
    # from WLRA_INFO_ELAPSED_SECONDS (whole fit, the rejected iteration
    # included).
    zero = [wlra_timed(M, W, start, 0, common) for _ in range(3)]
    zero_wall = min(z[0] for z in zero)
    zero_elapsed = min(z[2].elapsed_seconds for z in zero)
    runs = [wlra_timed(M, W, start, N, common) for _ in range(2)]
    per = [(marks[-1] - zero_wall) / len(marks) if marks else float("inf") for _, marks, _ in runs]
    best = int(np.argmin(per))
    wlra_wall, marks, fit = runs[best]
    wlra_per_iteration = per[best]
    done = fit.iterations
    elapsed_per_iteration = (fit.elapsed_seconds - zero_elapsed) / max(done, 1)

    f_wlra = objective(M, W, *fit.library_factors, a.ridge)
    compared = max(min(done, N), 1)
    f_numpy = objective(M, W, *numpy_history[compared - 1], a.ridge)
    f_numpy_last = objective(M, W, *numpy_history[-1], a.ridge)

    layout = (f"packed upper triangle (m x {k * (k + 1) // 2}) Khatri-Rao, unpacked into a preallocated stack"
              if packed else f"full Khatri-Rao (m x {k * k})")
    print(f"numpy Gram layout: {layout} (row half-step, best of 2: full {half[False]:.4f} s, "
          f"packed {half[True]:.4f} s; the faster is used)")
    print(f"numpy exact ALS  {numpy_per_iteration:8.4f} s/iteration   objective after {compared:2d}: {f_numpy:.10e}"
          + (f", after {N}: {f_numpy_last:.10e}" if compared != N else "")
          + f"   (total {numpy_seconds:.2f} s for {N})")
    print(f"wlra {a.solver:11s} {wlra_per_iteration:8.4f} s/iteration   objective after {done:2d}: {f_wlra:.10e}   "
          f"(solver used {fit.solver_used}; wlra's own objective {fit.objective:.10e})")
    steps = np.diff([zero_wall] + marks)
    print(f"    wlra per-iteration times (s): {' '.join(f'{t:.4f}' for t in steps)}; whole fit {wlra_wall:.3f} s, "
          f"0-iteration fit {zero_wall:.3f} s; by WLRA_INFO_ELAPSED_SECONDS {elapsed_per_iteration:.4f} s/iteration "
          f"(other run: {per[1 - best]:.4f} s/iteration)")
    if done < N:
        print(f"    note: wlra stopped after {done} of {N} iterations: the objective rose by rounding at "
              f"iteration {done + 1} (converged={fit.converged}), so objectives are compared after {done}")
    rel = (f_wlra - f_numpy) / f_numpy
    print(f"objective relative difference (wlra - numpy) / numpy after {compared} iterations: {rel:+.3e}")
    ratio = numpy_per_iteration / wlra_per_iteration
    print(f"wlra is {ratio:.2f}x faster per iteration than NumPy exact ALS (k = {k})")
    return k, ratio, rel


def main():
    a = arguments()
    print_machine(a)
    results = [run_rank(a, k) for k in a.ranks]
    print(f"\n## targets: per-iteration speedup of wlra over NumPy exact ALS, set for n = m = 3000 on 2 cores "
          f"(this run: {a.n} x {a.m}, {a.threads} threads)")
    for k, ratio, rel in results:
        target = TARGETS.get(k)
        if target is None:
            print(f"k = {k:3d}: {ratio:.2f}x (no target at this rank)")
        else:
            print(f"k = {k:3d}: {ratio:.2f}x, target >= {target}x: {'met' if ratio >= target else 'MISSED'} "
                  f"(objectives differ by {rel:+.2e} relative)")
    if a.check:
        apart = [(k, rel) for k, _, rel in results if not abs(rel) <= 1e-9]
        if apart:
            print(f"check FAILED: objectives of wlra and NumPy apart by more than 1e-9 relative: {apart}")
            return 1
        print("check passed: wlra's and NumPy's objectives agree to 1e-9 at every rank")
    return 0


if __name__ == "__main__":
    sys.exit(main())
