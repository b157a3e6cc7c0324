"""Shared fixtures: the repository's include/, the C reference programs of
bindings/tests/ (reference.c, reference_csr.c), built once per session
against the library, and the seeded planted problems."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def reference_problem():
    """The problem of bindings/tests/reference.c, from the same formula:
    M_ij = sin(0.3 i + 0.7 j) + cos(0.11 i j), W_ij = 0.1 + 0.9 frac(0.618 (i m + j))."""
    import math

    n, m = 37, 23
    M = np.empty((n, m))
    W = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            x = 0.618 * (float(i) * m + float(j))
            M[i, j] = math.sin(0.3 * i + 0.7 * j) + math.cos(0.11 * i * j)
            W[i, j] = 0.1 + 0.9 * (x - math.floor(x))
    return M, W


# The options reference.c fits with.
REFERENCE_OPTIONS = dict(rank=3, max_iterations=25, tolerance=0.0, seed=7, init="random", solver="exact")


def reference_csr_problem():
    """The sparse problem of bindings/tests/reference_csr.c, from the same
    formula, as coo triplets: (rows, cols, M values, W values, shape,
    m_default, w_default). With f = frac(0.618 (i m + j)): (i, 3 i mod m) is a
    stored zero of weight 2, else (i, j) is stored when f < 0.45 with
    M_ij = sin(0.3 i + 0.7 j) + cos(0.11 i j) and W_ij = 0.5 + f."""
    import math

    n, m = 37, 23
    rows, cols, mv, wv = [], [], [], []
    for i in range(n):
        for j in range(m):
            x = 0.618 * (float(i) * m + float(j))
            f = x - math.floor(x)
            if j == (3 * i) % m:
                value, weight = 0.0, 2.0
            elif f < 0.45:
                value, weight = math.sin(0.3 * i + 0.7 * j) + math.cos(0.11 * i * j), 0.5 + f
            else:
                continue
            rows.append(i)
            cols.append(j)
            mv.append(value)
            wv.append(weight)
    return np.array(rows), np.array(cols), np.array(mv), np.array(wv), (n, m), 0.25, 0.1


def _run_reference(tmp_path_factory, source):
    """Builds bindings/tests/<source> against the library, runs it, returns
    the (U, V) it writes."""
    library = os.environ.get("WLRA_LIBRARY")
    if not library:
        from wlra._library import library_path

        library = library_path()
    library = pathlib.Path(library).resolve()
    out = tmp_path_factory.mktemp("reference")
    # Link through our own directory holding both the plain name and the
    # SONAME (libwlra.so.1), so a cargo build tree (which lacks the latter) works.
    for name in ("libwlra.so", "libwlra.so.1"):
        (out / name).symlink_to(library)
    exe = out / "reference"
    subprocess.run(
        [os.environ.get("CC", "cc"), "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(REPO / "include"),
         str(REPO / "bindings" / "tests" / source), "-o", str(exe),
         f"-L{out}", "-lwlra", f"-Wl,-rpath,{out}", "-lm"],
        check=True,
    )
    factors = out / "factors.txt"
    subprocess.run([str(exe), str(factors)], check=True)
    values = np.loadtxt(factors, max_rows=None, skiprows=1)
    n, m, k = (int(x) for x in factors.read_text().split("\n", 1)[0].split())
    assert values.shape == ((n + m) * k,)
    return values[: n * k].reshape(n, k), values[n * k :].reshape(m, k)


@pytest.fixture(scope="session")
def reference_factors(tmp_path_factory):
    """(U, V) that the C ABI gives for reference_problem() and REFERENCE_OPTIONS."""
    return _run_reference(tmp_path_factory, "reference.c")


@pytest.fixture(scope="session")
def reference_csr_factors(tmp_path_factory):
    """(U, V) that wlra_fit_csr gives for reference_csr_problem() and REFERENCE_OPTIONS."""
    return _run_reference(tmp_path_factory, "reference_csr.c")


@pytest.fixture
def planted():
    """Noiseless rank-3 planted problem, 80 x 60, weights in [0.1, 1], seeded."""
    rng = np.random.default_rng(20240601)
    U = rng.standard_normal((80, 3))
    V = rng.standard_normal((60, 3))
    W = rng.uniform(0.1, 1.0, size=(80, 60))
    return U @ V.T, W


def sparse_planted(n, m, rank, observed, seed):
    """A seeded planted sparse problem: (truth (n x m, rank `rank`), noisy
    (truth + 0.1 noise), rows, cols of the observed entries (a fraction
    `observed`, in random order), weights on them in [0.5, 3])."""
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, m))
    noisy = truth + 0.1 * rng.standard_normal((n, m))
    rows, cols = np.nonzero(rng.uniform(size=(n, m)) < observed)
    order = rng.permutation(rows.size)
    weights = rng.uniform(0.5, 3.0, size=rows.size)
    return truth, noisy, rows[order], cols[order], weights
