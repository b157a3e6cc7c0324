"""Draw docs/solvers.png and docs/robustness.png from the benchmarks' CSVs.

    cargo bench --bench solvers -- 2000 8 16 32 64 128 256
    cargo bench --bench robustness
    python3 docs/plot.py        # needs matplotlib (e.g. pip install matplotlib)
"""
import csv
import math
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

root = pathlib.Path(__file__).resolve().parent.parent
bench = root / "target" / "bench"


def read(name):
    with open(bench / name) as f:
        return list(csv.DictReader(f))


def plot_solvers():
    rows = read("solvers.csv")
    families = sorted({r["family"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4.2), squeeze=False)
    for ax, family in zip(axes[0], families):
        mine = [r for r in rows if r["family"] == family]
        exact = {int(r["k"]): float(r["seconds_per_half_step"]) for r in mine if r["solver"] == "EXACT"}
        for solver, style in [("SKETCH", "s--"), ("SHARED_PCG", "^-"), ("AUTO", "o-")]:
            ks = sorted(int(r["k"]) for r in mine if r["solver"] == solver)
            per = {int(r["k"]): float(r["seconds_per_half_step"]) for r in mine if r["solver"] == solver}
            ax.plot(ks, [exact[k] / per[k] for k in ks], style, label=f"EXACT / {solver}")
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("rank k")
        ax.set_ylabel("speed-up over EXACT (time per half-step)")
        ax.set_title(f"weights: {family}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(root / "docs" / "solvers.png", dpi=110)


def plot_robustness():
    rows = read("robustness.csv")
    fixed = [r for r in rows if r["rule"] == "fixed"]
    acc = [float(r["accuracy"]) for r in fixed]
    gap = [max(float(r["final_gap"]), 1e-16) for r in fixed]
    its = [int(r["iterations_to_1e-8"]) for r in fixed]
    chosen = [r for r in rows if r["rule"] == "adaptive_choice"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    left.loglog(acc, gap, "o-", label="final relative gap to the optimum")
    for a, i, g in zip(acc, its, gap):
        left.annotate("no" if i < 0 else str(i), (a, g), textcoords="offset points", xytext=(4, 6), fontsize=8)
    left.set_xlabel("fixed inner accuracy (WLRA_OPTION_REGRESSION_TOLERANCE)")
    left.set_ylabel("final gap; labels: outer iterations to 1e-8")
    left.axhline(1e-8, color="gray", lw=0.8)
    left.set_title("SKETCH with a fixed inner accuracy")
    left.legend()
    right.semilogy([int(r["iterations_to_1e-8"]) for r in chosen], [float(r["accuracy"]) for r in chosen], "o-")
    right.set_xlabel("outer iteration")
    right.set_ylabel("inner accuracy the adaptive rule chose")
    right.set_title("adaptive rule")
    fig.tight_layout()
    fig.savefig(root / "docs" / "robustness.png", dpi=110)


if __name__ == "__main__":
    plot_solvers()
    plot_robustness()
    print("wrote docs/solvers.png and docs/robustness.png")
