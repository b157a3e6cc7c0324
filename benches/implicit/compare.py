"""Implicit-feedback benchmark (issues 7 and 29): wlra against the CPU ALS of
the Python package `implicit`, same rank, same threads, measured in the same
run. Run through benches/implicit/run.sh (which installs both).

    compare.py [--size small|movielens|both] [--threads T] [--rank K]
    compare.py --smoke        # a tiny problem, a few iterations, with assertions

The problems (benches/implicit/problem.py): "small" is 20,000 users x 8,000
items from 1,000,000 Zipf-popularity events (800,929 entries); "movielens" is
MovieLens 20M's shape, 138,000 x 27,000 with 20 million entries, from the
same generator. Every entry weighs 1 and has value 0, except observed ones:
value 1, weight 1 + alpha * count, alpha = 10. Both libraries minimize the
same objective (regularization 0), f(U, V) = sum_ij W_ij (M_ij - u_i . v_j)^2,
evaluated here for both in float64 from the factors each returns (never
densified). implicit takes the confidence matrix C = 1 + alpha * count (its
least-squares step adds C - 1 on the pattern to Y^T Y), which is W above.

Printed, per size: implicit's per-iteration seconds and objectives (CG and
exact ALS in float32, its default, and float64 on "small"; CG float32 on
"movielens", whose objective is evaluated after its last iteration only),
wlra's (AUTO, AUTO with a random start and over-relaxation 1.5, and EXACT on
"small") until they reach implicit CG's 15-iteration objective; the ratios;
then each library's modelled bytes per iteration (benches/implicit/traffic.py)
and the rate they make, against the triad bandwidth measured at the start of
the run, and the process's peak RSS. Rows go to target/bench/implicit.csv
(WLRA_BENCH_CSV overrides).

--smoke runs the same code on a 600 x 300 problem (rank 8, 2 implicit
iterations, at most 4 of wlra's) and asserts that both libraries ran and
returned finite factors; that wlra's objective (AUTO, SHARED_PCG, EXACT)
never rose, ended below its start's and below the objective of zero factors,
and agrees with this file's float64 objective of its factors; that
implicit's is below the objective of zero factors; that the generator's
entry count hits its target; and that the triad and the byte model give
positive figures.
scripts/test.sh runs it (suite "implicit benchmark (smoke)").
"""

import argparse
import csv
import importlib
import math
import os
import sys
import time

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares

import wlra

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from machine import describe  # noqa: E402
from problem import ALPHA, SIZES, Size, events_for_entries, objective, problem  # noqa: E402
from traffic import implicit_bytes, peak_rss_mib, triad_gbs, wlra_bytes  # noqa: E402

IMPLICIT_ITERATIONS = 15


# WLRA_INFO_NARROW_HALF_STEPS (C ABI 1.5): half-steps that gathered float32 rows.
INFO_NARROW_HALF_STEPS = 14


def inner_iterations_reader():
    """wlra's FitResult does not carry WLRA_INFO_INNER_ITERATIONS (the mean
    CG iterations per row) nor WLRA_INFO_NARROW_HALF_STEPS, which the byte
    model needs: wrap the binding's `_result`, which reads every info item
    while the model is still alive, to read them too. Returns the list each
    fit appends (inner iterations, share of its half-steps that read float32
    rows) to."""
    fit_module = importlib.import_module("wlra.fit")
    library = importlib.import_module("wlra._library")
    original = fit_module._result
    captured = []

    def result(lib, model, *args):
        out = original(lib, model, *args)
        inner = fit_module._info(lib, model, library.INFO_INNER_ITERATIONS)
        narrow = fit_module._info(lib, model, INFO_NARROW_HALF_STEPS)
        iterations = fit_module._info(lib, model, library.INFO_ITERATIONS)
        captured.append((inner, narrow / max(2 * iterations, 1)))
        return out

    fit_module._result = result
    return captured


INNER = inner_iterations_reader()


def run_implicit(p, rank, threads, use_cg, dtype, iterations, every_iteration):
    """implicit's ALS for `iterations`; returns (cumulative seconds, objectives
    (None where not evaluated), model)."""
    model = AlternatingLeastSquares(
        factors=rank, regularization=0.0, use_cg=use_cg, iterations=iterations,
        calculate_training_loss=False, num_threads=threads, dtype=dtype, random_state=0)
    times, objectives = [], []

    def callback(iteration, elapsed, loss):
        # elapsed covers the iteration's two half-steps only; the objective
        # is evaluated outside it.
        times.append(elapsed)
        last = len(times) == iterations
        objectives.append(objective(p.values, p.weights, model.user_factors, model.item_factors)
                          if every_iteration or last else None)

    model.fit(p.counts, show_progress=False, callback=callback)
    return np.cumsum(times), objectives, model


def run_wlra(p, rank, threads, solver, target, max_iterations, **options):
    """wlra until the objective is <= target (cancelling there) or
    max_iterations; returns (seconds since the call, objectives, result,
    mean inner iterations, share of half-steps with float32 rows)."""
    times, objectives = [], []
    start = time.perf_counter()

    def progress(iteration, value):
        times.append(time.perf_counter() - start)
        objectives.append(value)
        return value <= target  # true cancels the fit

    try:
        result = wlra.fit_sparse(p.values, p.weights, rank=rank, w_default=1.0, m_default=0.0, solver=solver,
                                 threads=threads, max_iterations=max_iterations, tolerance=0.0,
                                 progress=progress, **options)
    except wlra.CancelledError as stop:
        result = stop.result
    return np.array(times), objectives, result, INNER[-1][0], INNER[-1][1]


def per_iteration(times):
    """The median iteration (the first, which holds wlra's start, only when alone)."""
    steps = np.diff(times)
    return float(np.median(steps)) if steps.size else float(times[-1])


def bench(size, rank, threads, implicit_runs, wlra_runs, implicit_iterations, wlra_max, every_iteration=True):
    """One problem, every run on it; prints as it goes and returns
    {"problem", "implicit": {name: (times, objectives)}, "wlra": {name: (times,
    objectives, result, inner, narrow)}, "rows", "target"}."""
    started = time.perf_counter()
    p = problem(size)
    users, items = p.shape
    print(f"\n## {size.name}: {users} users x {items} items, {p.events} events -> {p.nnz} observed entries, "
          f"alpha {ALPHA}, k {rank}, {threads} threads (generated in {time.perf_counter() - started:.1f} s)")
    out = {"problem": p, "implicit": {}, "wlra": {}, "rows": []}
    for use_cg, dtype in implicit_runs:
        name = f"implicit {'cg' if use_cg else 'exact'} {np.dtype(dtype).name}"
        times, objectives, _ = run_implicit(p, rank, threads, use_cg, dtype, implicit_iterations, every_iteration)
        out["implicit"][name] = (times, objectives)
        seconds = times[-1] / len(times)
        print(f"{name:44s} {seconds:7.3f} s/iteration   objective after {len(times)}: {objectives[-1]:.6e}   "
              f"total {times[-1]:.2f} s   per iteration: " + " ".join(f"{s:.3f}" for s in np.diff(times, prepend=0.0)))
        out["rows"].append((size.name, name, seconds, len(times), objectives[-1], times[-1], ""))
    cg_finals = [o[-1] for n, (_, o) in out["implicit"].items() if " cg " in n]
    target = out["target"] = min(cg_finals)
    cg_total = min(t[-1] for n, (t, _) in out["implicit"].items() if " cg " in n)
    for name, (times, objectives) in out["implicit"].items():
        reached = next(((t, i + 1) for i, (t, f) in enumerate(zip(times, objectives)) if f is not None and f <= target), None)
        print(f"{name:44s} reaches the target objective {target:.6e} "
              + (f"after {reached[0]:.2f} s ({reached[1]} iterations)" if reached else f"not in {implicit_iterations} iterations"))
    fastest_name, fastest = min(((n, t[-1] / len(t)) for n, (t, _) in out["implicit"].items()), key=lambda r: r[1])
    for solver, options in wlra_runs:
        times, objectives, result, inner, narrow = run_wlra(p, rank, threads, solver, target, wlra_max, **options)
        name = f"wlra {solver}" + "".join(f", {k} {v}" for k, v in options.items())
        out["wlra"][name] = (times, objectives, result, inner, narrow)
        seconds = per_iteration(times)
        reached = next((t for t, f in zip(times, objectives) if f <= target), None)
        print(f"{name:44s} {seconds:7.3f} s/iteration (median; the first, with the start, {times[0]:.3f} s)   "
              f"{len(times)} iterations, objective {objectives[-1]:.6e}, solver used {result.solver_used} "
              f"({inner:.2f} inner iterations per row; {100 * narrow:.0f} % of the half-steps gathered float32 rows), "
              "reached the target after "
              + (f"{reached:.2f} s" if reached is not None else "never"))
        for i, (t, f) in enumerate(zip(times, objectives)):
            print(f"    iteration {i + 1:2d}  {t:7.3f} s  objective {f:.6e}")
        print(f"{name}: per iteration {seconds:.3f} s vs {fastest_name} {fastest:.3f} s: {fastest / seconds:.2f}x")
        print(f"{name}: time to the target " + (
            f"{reached:.2f} s vs implicit CG's {implicit_iterations} iterations {cg_total:.2f} s: {cg_total / reached:.2f}x"
            if reached is not None else "never reached"))
        out["rows"].append((size.name, name, seconds, len(times), objectives[-1], times[-1], f"{inner:.3f}"))
    return out


def traffic(out, rank, triad):
    """Bytes per iteration of wlra's runs that used SHARED_PCG and of
    implicit's CG runs, and the rates they make against the triad's."""
    p = out["problem"]
    users, items = p.shape
    lines = []
    print(f"bytes per iteration (model: benches/implicit/traffic.py), against the triad's {triad:.1f} GB/s:")
    models = []
    for name, (times, objectives, result, inner, narrow) in out["wlra"].items():
        if result.solver_used == "shared_pcg":
            models.append((name, per_iteration(times), wlra_bytes(users, items, p.nnz, rank, inner, narrow)))
    for name, (times, _) in out["implicit"].items():
        if " cg " in name:
            itemsize = 4 if name.endswith("float32") else 8
            models.append((name, times[-1] / len(times), implicit_bytes(users, items, p.nnz, rank, itemsize)))
    for name, seconds, (pattern, gathered, factors) in models:
        total = pattern + gathered + factors
        rate = total / seconds / 1e9
        print(f"    {name:44s} pattern {pattern / 1e9:6.3f} GB + gathered rows {gathered / 1e9:6.3f} GB + factors "
              f"{factors / 1e9:6.3f} GB = {total / 1e9:6.3f} GB in {seconds:.3f} s: {rate:6.1f} GB/s, "
              f"{100 * rate / triad:5.1f} % of the triad")
        lines.append((name, total, rate))
    return lines


def smoke(threads):
    """A tiny run of everything above, with assertions."""
    started = time.perf_counter()
    rank = 8
    events = events_for_entries(5_000, 600, 300)
    size = Size("smoke", 600, 300, events=events)
    out = bench(size, rank, threads, [(True, np.float32), (False, np.float64)],
                [("auto", {}), ("shared_pcg", {}), ("exact", {})], implicit_iterations=2, wlra_max=4)
    p = out["problem"]
    assert abs(p.nnz - 5_000) < 250, f"the generator made {p.nnz} entries for a target of 5000"
    zero = float(p.weights.data.sum())  # f at U = V = 0: M = 1 on the pattern
    for name, (times, objectives) in out["implicit"].items():
        assert len(times) == 2 and np.all(np.diff(times, prepend=0.0) > 0), f"{name}: iteration times {times}"
        assert math.isfinite(objectives[-1]) and objectives[-1] < zero, f"{name}: objective {objectives[-1]} vs f(0) {zero}"
    for name, (times, objectives, result, inner, narrow) in out["wlra"].items():
        U, V = result.library_factors
        assert U.shape == (600, rank) and V.shape == (300, rank) and np.all(np.isfinite(U)) and np.all(np.isfinite(V)), name
        assert 1 <= len(objectives) <= 4 and all(map(math.isfinite, objectives)), f"{name}: objectives {objectives}"
        start = wlra.fit_sparse(p.values, p.weights, rank=rank, w_default=1.0, m_default=0.0, threads=threads,
                                solver=result.solver_used, max_iterations=0).objective
        assert objectives[-1] < min(start, zero), f"{name}: objective {objectives[-1]}, start {start}, f(0) {zero}"
        assert all(b <= a * (1 + 1e-12) for a, b in zip(objectives, objectives[1:])), f"{name}: rose: {objectives}"
        reference = objective(p.values, p.weights, U, V)
        assert abs(reference - objectives[-1]) <= 1e-9 * start, f"{name}: wlra says {objectives[-1]}, numpy {reference}"
        assert math.isfinite(inner) and inner >= 0, f"{name}: inner iterations {inner}"
        assert 0 <= narrow <= 1, f"{name}: {narrow} of the half-steps read float32 rows"
        print(f"{name}: start {start:.6e} -> {objectives[-1]:.6e} after {len(objectives)} iterations "
              f"(numpy's objective of its factors {reference:.6e})")
    assert "shared_pcg" in {r.solver_used for (_, _, r, _, _) in out["wlra"].values()}, "no wlra run used SHARED_PCG"
    triad = triad_gbs(threads, megabytes=16, repetitions=2)
    assert triad > 0, triad
    lines = traffic(out, rank, triad)
    assert len(lines) == 2 and all(total > 0 and rate > 0 for _, total, rate in lines), lines
    print(f"smoke: passed in {time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mib():.0f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["small", "movielens", "both"], default="small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--smoke", action="store_true", help="a tiny problem with assertions (seconds)")
    args = parser.parse_args()
    print(describe())
    if args.smoke:
        return smoke(args.threads)
    started = time.perf_counter()
    triad = triad_gbs(args.threads)
    print(f"# triad a = b + s c, 3 x 256 MiB float64, {args.threads} threads: {triad:.1f} GB/s "
          f"(single thread {triad_gbs(1):.1f} GB/s), {time.perf_counter() - started:.1f} s")
    rows = []
    for name in (["small", "movielens"] if args.size == "both" else [args.size]):
        if name == "small":
            implicit_runs = [(True, np.float32), (True, np.float64), (False, np.float32), (False, np.float64)]
            wlra_runs = [("auto", {}), ("auto", {"init": "random", "overrelaxation": 1.5}), ("exact", {})]
            out = bench(SIZES[name], args.rank, args.threads, implicit_runs, wlra_runs, IMPLICIT_ITERATIONS, 60)
        else:
            # implicit's exact ALS and wlra's EXACT take minutes an iteration
            # here; implicit's objective is evaluated after its last iteration.
            out = bench(SIZES[name], args.rank, args.threads, [(True, np.float32)],
                        [("auto", {}), ("auto", {"init": "random", "overrelaxation": 1.5})],
                        IMPLICIT_ITERATIONS, 30, every_iteration=False)
        traffic(out, args.rank, triad)
        print(f"peak RSS of this process so far: {peak_rss_mib():.0f} MiB")
        rows += out["rows"]
        del out

    path = os.environ.get("WLRA_BENCH_CSV", os.path.join(HERE, "..", "..", "target", "bench", "implicit.csv"))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["size", "run", "seconds_per_iteration", "iterations", "final_objective", "total_seconds",
                         "inner_iterations"])
        writer.writerows(rows)
    print(f"rows written to {os.path.normpath(path)}")


if __name__ == "__main__":
    sys.exit(main())
