"""Implicit-feedback benchmark (issue 7, acceptance 3): wlra against the CPU
ALS of the Python package `implicit`, on one synthetic problem, same rank,
same threads, measured in the same run. Run through benches/implicit/run.sh.

The problem (Hu, Koren, Volinsky 2008): 20,000 users x 8,000 items,
1,000,000 interaction events with power-law (Zipf, exponent 1) item
popularity and uniform users, summed into counts; every entry weighs 1 and
has value 0, except observed ones: value 1, weight 1 + alpha * count,
alpha = 10. Both libraries minimize the same objective (regularization 0):

    f(U, V) = sum_ij W_ij (M_ij - u_i . v_j)^2

evaluated here, for both, in float64 from the factors each returns
(O(nnz k + (n + m) k^2), never densified). implicit takes its confidence
matrix as C = 1 + alpha * count (its least-squares step adds C - 1 on the
pattern to Y^T Y), which is W above.

Printed: per-iteration time and objective of implicit's conjugate-gradient
and exact ALS (float32, its default, and float64) for 15 iterations, and of
wlra (AUTO and EXACT solvers); then the targets: wlra faster per iteration
than both, and time for wlra to reach the objective implicit's CG reaches
after 15 iterations, against implicit's own time for those 15.
"""

import csv
import os
import sys
import time

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

import wlra

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import describe  # noqa: E402

USERS, ITEMS, EVENTS, ALPHA, RANK, THREADS = 20_000, 8_000, 1_000_000, 10.0, 64, 2
IMPLICIT_ITERATIONS = 15


def problem(seed=7):
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, ITEMS + 1)
    items = rng.choice(ITEMS, size=EVENTS, p=popularity / popularity.sum())
    users = rng.integers(0, USERS, size=EVENTS)
    counts = sp.coo_matrix((np.ones(EVENTS), (users, items)), shape=(USERS, ITEMS)).tocsr()
    counts.sum_duplicates()
    weights = counts.copy()
    weights.data = 1.0 + ALPHA * counts.data
    values = counts.copy()
    values.data = np.ones_like(counts.data)
    return values, weights


def objective(values, weights, U, V):
    """sum_ij W_ij (M_ij - u_i . v_j)^2 with W = 1, M = 0 off the pattern:
    the all-ones part from k x k Grams plus the pattern's corrections."""
    U, V = np.asarray(U, dtype=np.float64), np.asarray(V, dtype=np.float64)
    everywhere = float(np.sum((U.T @ U) * (V.T @ V)))
    rows = np.repeat(np.arange(values.shape[0]), np.diff(values.indptr))
    fitted = np.einsum("ij,ij->i", U[rows], V[values.indices])
    return everywhere + float(np.sum(weights.data * (values.data - fitted) ** 2 - fitted**2))


def run_implicit(values, weights, use_cg, dtype):
    model = AlternatingLeastSquares(
        factors=RANK, regularization=0.0, use_cg=use_cg, iterations=IMPLICIT_ITERATIONS,
        calculate_training_loss=False, num_threads=THREADS, dtype=dtype, random_state=0)
    times, objectives = [], []

    def callback(iteration, elapsed, loss):
        # elapsed covers the iteration's two half-steps only; the objective
        # is evaluated outside it.
        times.append(elapsed)
        objectives.append(objective(values, weights, model.user_factors, model.item_factors))

    model.fit(weights, show_progress=False, callback=callback)
    return np.cumsum(times), objectives


def run_wlra(values, weights, solver, target, max_iterations=60, **options):
    """Fits until the objective is <= target (cancelling there) or
    max_iterations; returns (times since the call, objectives, result)."""
    times, objectives = [], []
    start = time.perf_counter()

    def progress(iteration, value):
        times.append(time.perf_counter() - start)
        objectives.append(value)
        return value <= target  # true cancels the fit

    try:
        result = wlra.fit_sparse(values, weights, rank=RANK, w_default=1.0, m_default=0.0, solver=solver,
                                 threads=THREADS, max_iterations=max_iterations, tolerance=0.0,
                                 progress=progress, **options)
    except wlra.CancelledError as stop:
        result = stop.result
    return np.array(times), objectives, result


def main():
    print(describe())
    values, weights = problem()
    print(f"# {USERS} users x {ITEMS} items, {EVENTS} events -> {values.nnz} observed entries, "
          f"alpha {ALPHA}, k {RANK}, {THREADS} threads")
    rows = []
    implicit_runs = {}
    for use_cg in (True, False):
        for dtype in (np.float32, np.float64):
            name = f"implicit {'cg' if use_cg else 'exact'} {np.dtype(dtype).name}"
            times, objectives = run_implicit(values, weights, use_cg, dtype)
            implicit_runs[name] = (times, objectives)
            per_iteration = times[-1] / len(times)
            print(f"{name:24s} {per_iteration:7.3f} s/iteration   objective after {len(times)}: {objectives[-1]:.6e}   "
                  f"total {times[-1]:.2f} s")
            rows.append((name, per_iteration, len(times), objectives[-1], times[-1]))
    cg_times, cg_objectives = implicit_runs["implicit cg float32"]
    cg64_times, cg64_objectives = implicit_runs["implicit cg float64"]
    target = min(cg_objectives[-1], cg64_objectives[-1])
    for name, (times, objectives) in implicit_runs.items():
        reached = next(((t, i + 1) for i, (t, f) in enumerate(zip(times, objectives)) if f <= target), None)
        print(f"{name:24s} reaches the target objective {target:.6e} "
              + (f"after {reached[0]:.2f} s ({reached[1]} iterations)" if reached else "not in 15 iterations"))
    reach = {}
    runs = [("auto", {}), ("auto", {"init": "random", "overrelaxation": 1.5}), ("exact", {})]
    for solver, options in runs:
        times, objectives, result = run_wlra(values, weights, solver, target, **options)
        name = f"wlra {solver}" + "".join(f", {k} {v}" for k, v in options.items())
        steps = np.diff(times)
        per_iteration = float(np.median(steps)) if steps.size else float(times[-1])
        reached = next((t for t, f in zip(times, objectives) if f <= target), None)
        reach[name] = reached
        print(f"{name:24s} {per_iteration:7.3f} s/iteration (median; the first, with the start, "
              f"{times[0]:.3f} s)   {len(times)} iterations, objective {objectives[-1]:.6e}, "
              f"solver used {result.solver_used}, reached the target after "
              + (f"{reached:.2f} s" if reached is not None else "never"))
        for i, (t, f) in enumerate(zip(times, objectives)):
            print(f"    iteration {i + 1:2d}  {t:7.3f} s  objective {f:.6e}")
        rows.append((name, per_iteration, len(times), objectives[-1], times[-1]))

    print()
    print(f"target objective (implicit CG after {IMPLICIT_ITERATIONS} iterations, best dtype): {target:.6e}")
    implicit_rows = [r for r in rows if r[0].startswith("implicit")]
    fastest = min(implicit_rows, key=lambda r: r[1])
    cg_total = min(cg_times[-1], cg64_times[-1])
    for name, per_iteration, *_ in rows[len(implicit_rows):]:
        print(f"{name}: per iteration {per_iteration:.3f} s vs {fastest[0]} {fastest[1]:.3f} s: "
              f"{fastest[1] / per_iteration:.2f}x (target > 1 against every implicit run)")
        if reach[name] is not None:
            print(f"{name}: time to the target {reach[name]:.2f} s vs implicit CG's {IMPLICIT_ITERATIONS} "
                  f"iterations {cg_total:.2f} s: {cg_total / reach[name]:.2f}x (target >= 2x)")
        else:
            print(f"{name}: never reached the target")

    out = os.environ.get("WLRA_BENCH_CSV", os.path.join("target", "bench", "implicit.csv"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "seconds_per_iteration", "iterations", "final_objective", "total_seconds"])
        writer.writerows(rows)
    print(f"rows written to {out}")


if __name__ == "__main__":
    sys.exit(main())
