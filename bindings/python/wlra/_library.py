"""Finding libwlra and declaring its C functions for ctypes.

The library is looked for, on first use, in this order:
1. WLRA_LIBRARY, the full path of a libwlra (an override);
2. WLRA_PREFIX, an install prefix holding lib/libwlra.so;
3. the library inside this package (wlra/libwlra.so, built into the wheel
   by setup.py);
4. the system's loader paths (libwlra.so.1, then libwlra.so: for example
   after scripts/install.sh --prefix /usr/local).
The constants mirror include/wlra.h (C ABI version 1, stable); a test checks
them against the header.
"""

import ctypes
import os
import sys
import threading

# Status codes.
OK = 0
STATUS_NAMES = {
    1: "null_pointer",
    2: "invalid_argument",
    3: "non_finite_input",
    4: "negative_weight",
    5: "not_fitted",
    6: "cancelled",
    7: "out_of_memory",
    8: "numerical",
    9: "internal",
    10: "busy",
}
ERROR_INVALID_ARGUMENT = 2
ERROR_CANCELLED = 6

ROW_MAJOR = 101
COL_MAJOR = 102

# Option names as the bindings spell them -> WLRA_OPTION_* value.
OPTIONS = {
    "max_iterations": 1,
    "tolerance": 2,
    "seed": 3,
    "solver": 4,
    "init": 5,
    "ridge": 6,
    "threads": 7,
    "sketch_size_factor": 8,
    "regression_tolerance": 9,
    "clip": 10,
    "adaptive_accuracy": 11,
    "overrelaxation": 12,
    "method": 13,
    "restarts": 14,
    "ridge_scaling": 15,
    "folds": 16,
    "held_out_fold": 17,
    "offsets": 18,
    # 19 is WLRA_OPTION_MISSING_NAN, the binding's own (OPTION_MISSING_NAN).
    "mixed_precision": 20,
}
SOLVERS = {"auto": 0, "exact": 1, "sketch": 2, "shared_pcg": 3}
INITS = {"svd": 0, "random": 1, "given": 2}
METHODS = {"auto": 0, "alternating": 1, "varpro": 2, "accelerated": 3}
# WLRA_METHOD_SVD: reported by WLRA_INFO_METHOD_USED only (the closed form
# AUTO runs where the truncated SVD is the optimum), never set.
METHOD_SVD = 4
RIDGE_SCALINGS = {"uniform": 0, "weight_sums": 1}
# WLRA_OPTION_OFFSETS: M ~ a 1^T + 1 b^T + U V^T (issue 17).
OFFSETS = {"none": 0, "rows": 1, "columns": 2, "both": 3}

INFO_ITERATIONS = 1
INFO_OBJECTIVE = 2
INFO_CONVERGED = 3
INFO_ELAPSED_SECONDS = 4
INFO_SOLVER_USED = 5
INFO_INNER_ITERATIONS = 6
# Added with WLRA_OPTION_METHOD / WLRA_OPTION_RESTARTS (issue 14); a library
# without them answers invalid_argument, read as None.
INFO_METHOD_USED = 7
INFO_STARTS = 8
INFO_STARTS_AT_BEST = 9
# Added with WLRA_OPTION_FOLDS (issue 17); invalid_argument (read as None)
# after a fit that held nothing out.
INFO_HELD_OUT_RMSE = 10
INFO_HELD_OUT_ENTRIES = 11
# Added in C ABI 1.4: rows plus columns with no positive weight (a library
# before 1.4 answers invalid_argument, read as None: no warning).
INFO_ZERO_WEIGHT_LINES = 12
# Added in C ABI 1.4: how many components the fitted product U V^T lacks
# (rank minus its numerical rank; None before 1.4: no warning).
INFO_DEGENERATE = 13

# WLRA_OPTION_MISSING_NAN (C ABI 1.4): NaN in M is a missing entry (weight
# 0), read in place by the library. Every fit and fold-in sets it, so M is
# never copied or scanned here to find NaNs; not a user option.
OPTION_MISSING_NAN = 19

ABI_MAJOR = 1

PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_double)

_model_p = ctypes.c_void_p
_double_p = ctypes.c_void_p  # matrices travel as raw addresses (numpy .ctypes.data)
_status = ctypes.c_int32
_size = ctypes.c_size_t

_PROTOTYPES = {
    "wlra_version": (ctypes.c_char_p, []),
    "wlra_status_message": (ctypes.c_char_p, [_status]),
    "wlra_create": (_status, [_size, ctypes.POINTER(_model_p)]),
    "wlra_destroy": (None, [_model_p]),
    "wlra_set_option": (_status, [_model_p, ctypes.c_int32, ctypes.c_double]),
    "wlra_get_option": (_status, [_model_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_double)]),
    "wlra_fit": (
        _status,
        [_model_p, _size, _size, _double_p, _size, _double_p, _size, ctypes.c_int32],
    ),
    "wlra_get_factors": (
        _status,
        [_model_p, _double_p, _size, _double_p, _size, ctypes.c_int32],
    ),
    "wlra_set_factors": (
        _status,
        [_model_p, _size, _size, _double_p, _size, _double_p, _size, ctypes.c_int32],
    ),
    "wlra_get_info": (_status, [_model_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_double)]),
    "wlra_set_progress": (_status, [_model_p, PROGRESS_FN, ctypes.c_void_p]),
    "wlra_last_error": (ctypes.c_char_p, [_model_p]),
}

# Added in C ABI 1.1: declared when the loaded library has them, so that a
# 1.0 library still serves everything else.
_PROTOTYPES_SINCE_1_1 = {
    "wlra_fit_csr": (
        _status,
        [_model_p, _size, _size, ctypes.c_void_p, ctypes.c_void_p, _double_p, _double_p, ctypes.c_double, ctypes.c_double],
    ),
}


# Added in C ABI 1.2 (the fold-in of issue 15): declared when present.
_PROTOTYPES_SINCE_1_2 = {
    "wlra_transform": (
        _status,
        [_model_p, _size, _double_p, _size, _double_p, _size, _double_p, _size, ctypes.c_int32],
    ),
    "wlra_get_offsets": (_status, [_model_p, _double_p, _double_p]),
    "wlra_transform_with_offsets": (
        _status,
        [_model_p, _size, _double_p, _size, _double_p, _size, _double_p, _size, _double_p, ctypes.c_int32],
    ),
    "wlra_predict": (_status, [_model_p, _size, ctypes.c_void_p, ctypes.c_void_p, _double_p]),
    "wlra_option_info": (
        _status,
        [ctypes.c_int32, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)],
    ),
}


# Added in C ABI 1.3 (issue 28): a saved fit loaded into a model, which
# every fold-in and prediction of a FitResult or WLRA goes through.
_PROTOTYPES_SINCE_1_3 = {
    "wlra_set_fitted": (
        _status,
        [_model_p, _size, _size, _double_p, _size, _double_p, _size, _double_p, _double_p, ctypes.c_int32],
    ),
}


# Added in C ABI 1.4 (issue 28): the canonical form of a fit's product,
# which FitResult.U, .s and .V and wlra.canonical_factors read.
_PROTOTYPES_SINCE_1_4 = {
    "wlra_get_canonical": (
        _status,
        [_model_p, _double_p, _size, _double_p, _double_p, _size, ctypes.c_int32],
    ),
}


def option_info(option):
    """(C name, min, max, default) of a WLRA_OPTION_* id, as the loaded library
    checks it (wlra_option_info: every value in [min, max] is accepted, a whole
    number for integer options); None for an unknown id, or from a library
    before 1.2, which lacks the function."""
    loaded = lib()
    if not hasattr(loaded, "wlra_option_info"):
        return None
    name = ctypes.c_char_p()
    low, high, default = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    status = loaded.wlra_option_info(option, ctypes.byref(name), ctypes.byref(low),
                                     ctypes.byref(high), ctypes.byref(default))
    if status != OK:
        return None
    return name.value.decode(), low.value, high.value, default.value


class LibraryNotFoundError(OSError):
    """libwlra could not be located or loaded; the message says what to set."""


def _library_name():
    if sys.platform == "darwin":
        return "libwlra.dylib"
    if sys.platform == "win32":
        return "wlra.dll"
    return "libwlra.so"


def _bundled_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), _library_name())


def _loader_names():
    """Names for the system loader: the SONAME of C ABI 1.x first."""
    name = _library_name()
    if sys.platform == "darwin":
        return [f"libwlra.{ABI_MAJOR}.dylib", name]
    if sys.platform == "win32":
        return [name]
    return [f"{name}.{ABI_MAJOR}", name]


def library_path():
    """Where libwlra is loaded from: the path that WLRA_LIBRARY or WLRA_PREFIX
    names, else the library inside this package, else a name for the system
    loader (libwlra.so.1), which ctypes looks up in the loader's paths."""
    path = os.environ.get("WLRA_LIBRARY")
    if path:
        if not os.path.isfile(path):
            raise LibraryNotFoundError(f"WLRA_LIBRARY={path!r} is not a file; set it to the full path of {_library_name()}")
        return path
    prefix = os.environ.get("WLRA_PREFIX")
    if prefix:
        subdir = "bin" if sys.platform == "win32" else "lib"
        path = os.path.join(prefix, subdir, _library_name())
        if not os.path.isfile(path):
            raise LibraryNotFoundError(f"WLRA_PREFIX={prefix!r} has no {subdir}/{_library_name()}; install wlra there (scripts/install.sh --prefix DIR) or set WLRA_LIBRARY")
        return path
    bundled = _bundled_path()
    if os.path.isfile(bundled):
        return bundled
    return _loader_names()[0]


def _load(path):
    """ctypes.CDLL of the library library_path() chose; for the system loader,
    each of its names in turn."""
    if os.path.isabs(path):
        try:
            return path, ctypes.CDLL(path)
        except OSError as e:
            raise LibraryNotFoundError(f"could not load {path}: {e}") from e
    errors = []
    for name in _loader_names():
        try:
            return name, ctypes.CDLL(name)
        except OSError as e:
            errors.append(str(e))
    raise LibraryNotFoundError(
        "libwlra not found: this package holds no library (installed without one?), and the system "
        f"loader has none ({'; '.join(errors)}). Reinstall with pip (which builds it with cargo), install "
        "wlra system-wide (scripts/install.sh --prefix /usr/local, then ldconfig), or set WLRA_LIBRARY "
        f"to the full path of {_library_name()} or WLRA_PREFIX to the prefix wlra was installed under "
        f"(the one holding lib/{_library_name()})"
    )


_lock = threading.Lock()
_lib = None


def lib():
    """The loaded library with its prototypes declared (loaded once)."""
    global _lib
    with _lock:
        if _lib is None:
            path, loaded = _load(library_path())
            for name, (restype, argtypes) in _PROTOTYPES.items():
                fn = getattr(loaded, name)
                fn.restype = restype
                fn.argtypes = argtypes
            optional = {**_PROTOTYPES_SINCE_1_1, **_PROTOTYPES_SINCE_1_2, **_PROTOTYPES_SINCE_1_3,
                        **_PROTOTYPES_SINCE_1_4}
            for name, (restype, argtypes) in optional.items():
                try:
                    fn = getattr(loaded, name)
                except AttributeError:
                    continue
                fn.restype = restype
                fn.argtypes = argtypes
            version = loaded.wlra_version().decode()
            if not version.startswith(f"{ABI_MAJOR}."):
                raise LibraryNotFoundError(f"{path} is wlra {version}; this binding needs the C ABI {ABI_MAJOR}.x")
            _lib = loaded
        return _lib
