"""A distributed fit from Python: mpi4py's communicator handed to
wlra_fit_mpi through ctypes (comm.py2f() is the Fortran handle it takes).

    cargo build --release --features mpi
    pip install mpi4py numpy
    mpirun -np 4 python3 examples/mpi/fit_mpi.py [path/to/libwlra.so]
"""

import ctypes
import sys

import numpy as np
from mpi4py import MPI

WLRA_ROW_MAJOR = 101
WLRA_OPTION_INIT, WLRA_INIT_RANDOM = 5, 1
WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT = 4, 1
WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING = 13, 1
WLRA_OPTION_RIDGE = 6
WLRA_INFO_ITERATIONS, WLRA_INFO_OBJECTIVE = 1, 2

lib = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else "target/release/libwlra.so")
size_t, dbl_p = ctypes.c_size_t, ctypes.POINTER(ctypes.c_double)
lib.wlra_create.argtypes = [size_t, ctypes.POINTER(ctypes.c_void_p)]
lib.wlra_set_option.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_double]
lib.wlra_fit_mpi.argtypes = [ctypes.c_void_p, ctypes.c_int, size_t, size_t, size_t, size_t,
                             dbl_p, size_t, dbl_p, size_t, ctypes.c_int32]
lib.wlra_get_factors.argtypes = [ctypes.c_void_p, dbl_p, size_t, dbl_p, size_t, ctypes.c_int32]
lib.wlra_get_info.argtypes = [ctypes.c_void_p, ctypes.c_int32, dbl_p]
lib.wlra_last_error.argtypes = [ctypes.c_void_p]
lib.wlra_last_error.restype = ctypes.c_char_p
lib.wlra_destroy.argtypes = [ctypes.c_void_p]

comm = MPI.COMM_WORLD
n, m, k = 600, 200, 5
first = comm.rank * n // comm.size
count = (comm.rank + 1) * n // comm.size - first

# Every rank draws the same planted problem and keeps its rows.
rng = np.random.default_rng(0)
a, b = rng.standard_normal((n, k)), rng.standard_normal((m, k))
weights = rng.uniform(0.5, 1.5, (n, m))
rows = slice(first, first + count)
M = np.ascontiguousarray((a @ b.T)[rows])
W = np.ascontiguousarray(weights[rows])

model = ctypes.c_void_p()
lib.wlra_create(k, ctypes.byref(model))
for option, value in [(WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING),
                      (WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT),
                      (WLRA_OPTION_INIT, WLRA_INIT_RANDOM),
                      (WLRA_OPTION_RIDGE, 1e-6)]:
    lib.wlra_set_option(model, option, value)

as_ptr = lambda x: x.ctypes.data_as(dbl_p)  # noqa: E731
status = lib.wlra_fit_mpi(model, comm.py2f(), n, m, first, count,
                          as_ptr(M), m, as_ptr(W), m, WLRA_ROW_MAJOR)
if status != 0:
    print(f"rank {comm.rank}: status {status}: {lib.wlra_last_error(model).decode()}")
    sys.exit(1)

u, v = np.zeros((count, k)), np.zeros((m, k))  # this rank's rows of U, all of V
lib.wlra_get_factors(model, as_ptr(u), k, as_ptr(v), k, WLRA_ROW_MAJOR)
local = np.array([np.sum((u @ v.T - M) ** 2), np.sum(M ** 2)])
total = comm.allreduce(local)
iterations = ctypes.c_double()
lib.wlra_get_info(model, WLRA_INFO_ITERATIONS, ctypes.byref(iterations))
if comm.rank == 0:
    print(f"{comm.size} ranks: {iterations.value:.0f} iterations, "
          f"relative error {np.sqrt(total[0] / total[1]):.2e}")
lib.wlra_destroy(model)
