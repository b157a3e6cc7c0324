"""Minor page faults and seconds per outer iteration of a SHARED_PCG fit on
the implicit benchmark's small problem (20,000 x 8,000, k = 64, 2 threads):
(a 12-iteration fit - a 2-iteration fit) / 10, three times, after a warm-up
fit. For comparing two builds of libwlra (issue 29, buffers kept across
half-steps), each named by WLRA_LIBRARY, with the binding from the tree:

    WLRA_LIBRARY=path/to/libwlra.so PYTHONPATH=bindings/python \\
        target/implicit-venv/bin/python benches/implicit/faults.py

(target/implicit-venv is what benches/implicit/run.sh makes.) The
objective after 12 iterations is printed in full: equal builds give equal
bits.
"""

import os
import resource
import sys
import time

import wlra
from wlra._library import library_path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from problem import SIZES, problem  # noqa: E402

p = problem(SIZES["small"])


def run(iterations):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    r = wlra.fit_sparse(p.values, p.weights, rank=64, w_default=1.0, m_default=0.0, solver="shared_pcg",
                        threads=2, max_iterations=iterations, tolerance=0.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, time.perf_counter() - start, r.objective


run(1)  # warm-up: the library's pool and the allocator's arenas
faults, seconds = [], []
for _ in range(3):
    (f2, t2, _), (f12, t12, objective) = run(2), run(12)
    faults.append((f12 - f2) / 10)
    seconds.append((t12 - t2) / 10)
print(f"{library_path()}: minor faults per iteration {sorted(faults)}, seconds per iteration "
      f"{sorted(round(s, 3) for s in seconds)}; objective after 12 iterations {objective!r}")
