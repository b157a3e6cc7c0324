"""Memory traffic of benches/implicit/compare.py (issue 29): a STREAM-like
triad measured in the same run, and a model of the bytes each library's
ALS iteration moves (docs/performance.md, "Bytes per iteration", states
the same formulas).

wlra, SHARED_PCG (src/solver/sparse/jacobi_cg.rs), one half-step solving
the r rows of X against the fixed factor Y (c rows, k columns), over the
nnz pattern entries:

    pattern   nnz (24 + 8 p)          column index, value, weight (8 bytes each) read once
                                      for the row's coefficients; the index again in each of
                                      the p CG passes
    gathered  b k nnz (1 + p)         one row of Y (k values of b bytes) per entry, in the
                                      setup pass (right-hand side and G_i x0) and in each CG
                                      pass: b = 8, or 4 in a half-step that reads float32 rows
                                      (WLRA_OPTION_MIXED_PRECISION; the share s of the fit's
                                      half-steps that did is WLRA_INFO_NARROW_HALF_STEPS over
                                      2 x iterations). Its setup pass reads float32 rows only
                                      while the inner accuracy is 1e-5 or looser, so b = 4 for
                                      all of such a half-step is a lower bound.
    factors   8 k (3 c + 6 r)         Y read for its Gram and written and read row-contiguous;
                                      X's warm start made row-contiguous (read, write), the
                                      solutions zero-filled, written, and transposed back

with p the CG iterations per row (WLRA_INFO_INNER_ITERATIONS: the mean
over rows and half-steps of the fit, so the same p serves both sides).
An iteration is the user half-step (r = users, c = items) plus the item
half-step (r = items, c = users). The QR of the fixed factor and the
objective are left out (O((n + m) k) each, no pattern).

implicit's CG ALS (implicit/cpu/_als.pyx, least_squares_cg, cg_steps = 3)
in float32 (b = 4) or float64 (b = 8): per row one pass for the residual
and one per CG step, each reading the entry's column index and confidence
(4 + b bytes) and the gathered row (b k bytes):

    nnz (1 + cg_steps) (4 + b + b k)   per half-step, plus b k (users + items) for the
                                       factors read and written

"Gathered" bytes are what the kernels load, from cache or memory: at
20,000 x 8,000 both factors fit in L3, at MovieLens size the user factor
(138,000 x 64 doubles, 71 MB) does not. The achieved rate bytes / seconds
is set against the triad's rate.
"""

import resource
import threading
import time

import numpy as np


def triad_gbs(threads, megabytes=256, repetitions=5, block=1 << 15):
    """a = b + s c over three float64 arrays of `megabytes` each (far above
    any L3), split among `threads` Python threads (numpy releases the GIL);
    each thread runs the triad block by block through a cache-resident
    temporary, so every element of b and c is read once and of a written
    once: 24 bytes an element, STREAM's count. Returns the best GB/s of
    `repetitions`, with the arrays touched beforehand."""
    n = megabytes * (1 << 20) // 8
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    scalar = 3.0
    bounds = np.linspace(0, n, threads + 1).astype(int)

    def work(lo, hi):
        temporary = np.empty(block)
        for start in range(lo, hi, block):
            end = min(start + block, hi)
            t = temporary[: end - start]
            np.multiply(c[start:end], scalar, out=t)
            np.add(b[start:end], t, out=a[start:end])

    best = float("inf")
    for _ in range(repetitions):
        workers = [threading.Thread(target=work, args=(bounds[i], bounds[i + 1])) for i in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - started)
    if not (a[0] == 7.0 and a[-1] == 7.0):
        raise AssertionError(f"the triad computed a[0] = {a[0]}, a[-1] = {a[-1]}, not 7")
    return 24.0 * n / best / 1e9


def wlra_bytes(users, items, nnz, k, inner, narrow=0.0):
    """wlra SHARED_PCG bytes per outer iteration (module docstring), with a
    share `narrow` of the half-steps gathering float32 rows: (pattern,
    gathered, factors)."""
    pattern = 2 * nnz * (24 + 8 * inner)
    gathered = 2 * (8 * (1 - narrow) + 4 * narrow) * k * nnz * (1 + inner)
    factors = 8 * k * (3 * items + 6 * users) + 8 * k * (3 * users + 6 * items)
    return pattern, gathered, factors


def implicit_bytes(users, items, nnz, k, itemsize, cg_steps=3):
    """implicit's CG ALS bytes per iteration (module docstring):
    (pattern, gathered, factors)."""
    passes = 1 + cg_steps
    pattern = 2 * nnz * passes * (4 + itemsize)
    gathered = 2 * nnz * passes * itemsize * k
    factors = 2 * itemsize * k * (users + items)
    return pattern, gathered, factors


def peak_rss_mib():
    """This process's peak resident set (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
