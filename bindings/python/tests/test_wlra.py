"""The Python binding against the C ABI: recovery, bitwise agreement with a C
program, errors, cancellation, and that matrices are passed without a copy."""

import os
import pathlib
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import wlra
from conftest import REFERENCE_OPTIONS, REPO, reference_problem


def relative_error(fit, truth):
    return np.linalg.norm(fit.fitted() - truth) / np.linalg.norm(truth)


@pytest.mark.parametrize("order", ["C", "F"])
def test_planted_rank3_problem_is_recovered(planted, order):
    truth, W = planted
    fit = wlra.fit(np.asarray(truth, order=order), np.asarray(W, order=order), rank=3,
                   tolerance=1e-14, max_iterations=500)
    assert fit.U.shape == (80, 3) and fit.V.shape == (60, 3)
    assert relative_error(fit, truth) <= 1e-8
    assert fit.iterations >= 1 and fit.objective >= 0 and fit.solver_used in ("exact", "sketch")
    assert fit.elapsed_seconds >= 0 and isinstance(fit.converged, bool)


def padded(a, order, pad=3):
    """A view of `a` inside a larger array: leading dimension > its extent."""
    n, m = a.shape
    big = np.full((n + pad, m + pad), np.nan, order=order)
    big[:n, :m] = a
    return big[:n, :m]


@pytest.mark.parametrize("layout", ["C", "F", "C-padded", "F-padded", "mixed"])
def test_factors_equal_the_c_abi_reference(reference_factors, layout):
    M, W = reference_problem()
    if layout in ("C", "F"):
        M, W = np.asarray(M, order=layout), np.asarray(W, order=layout)
    elif layout.endswith("padded"):
        M, W = padded(M, layout[0]), padded(W, layout[0])
    else:
        M, W = np.asfortranarray(M), np.ascontiguousarray(W)
    fit = wlra.fit(M, W, **REFERENCE_OPTIONS)
    U_ref, V_ref = reference_factors
    U_lib, V_lib = fit.library_factors
    assert np.max(np.abs(U_lib - U_ref)) <= 1e-12
    assert np.max(np.abs(V_lib - V_ref)) <= 1e-12
    product = U_ref @ V_ref.T
    assert np.linalg.norm(fit.fitted() - product) <= 1e-12 * np.linalg.norm(product)
    assert fit.iterations == 25 and not fit.converged and fit.solver_used == "exact"


def test_option_names_and_strings_map_to_the_c_values(reference_factors):
    M, W = reference_problem()
    numeric = dict(REFERENCE_OPTIONS, init=1, solver=1)
    fit = wlra.fit(M, W, **numeric)
    assert np.max(np.abs(fit.library_factors[0] - reference_factors[0])) <= 1e-12


def test_integer_matrices_are_converted():
    M = np.arange(12, dtype=np.int64).reshape(4, 3)
    as_int = wlra.fit(M, rank=1, seed=1)
    as_float = wlra.fit(M.astype(float), rank=1, seed=1)
    assert np.array_equal(as_int.U, as_float.U) and np.array_equal(as_int.V, as_float.V)


def test_fitted_and_predict_give_u_diag_s_v_transpose_and_its_entries(planted):
    truth, W = planted
    fit = wlra.fit(truth, W, rank=3, max_iterations=5, tolerance=0.0)
    full = (fit.U * fit.s) @ fit.V.T
    assert np.array_equal(fit.fitted(), full)
    U_lib, V_lib = fit.library_factors
    library_product = U_lib @ V_lib.T
    assert np.linalg.norm(full - library_product) <= 1e-12 * np.linalg.norm(library_product)
    rows, cols = np.array([0, 4, 79]), np.array([1, 59, 0])
    assert np.allclose(fit.predict(rows, cols), full[rows, cols], rtol=1e-14, atol=1e-14)
    # One row against many columns broadcasts.
    assert np.allclose(fit.predict(7, np.arange(60)), full[7], rtol=1e-14, atol=1e-14)


def test_warm_start_with_zero_iterations_returns_the_start(planted):
    truth, W = planted
    first = wlra.fit(truth, W, rank=3, max_iterations=3, tolerance=0.0)
    again = wlra.fit(truth, W, rank=3, max_iterations=0, start=first)
    assert np.array_equal(again.library_factors[0], first.library_factors[0])
    assert np.array_equal(again.library_factors[1], first.library_factors[1])
    assert np.array_equal(again.U, first.U) and np.array_equal(again.s, first.s)
    assert np.array_equal(again.V, first.V)
    # The canonical factors as a start: (U * s, V) is the same product.
    canonical = wlra.fit(truth, W, rank=3, max_iterations=0, start=(first.U * first.s, first.V))
    assert np.linalg.norm(canonical.fitted() - first.fitted()) <= 1e-12 * np.linalg.norm(first.fitted())


def test_negative_weight_raises_negative_weight_error_with_the_library_message(planted):
    truth, W = planted
    W = W.copy()
    W[4, 7] = -0.5
    with pytest.raises(wlra.NegativeWeightError) as info:
        wlra.fit(truth, W, rank=3)
    assert "W[" in str(info.value) and info.value.status == 4
    assert isinstance(info.value, wlra.WlraError) and isinstance(info.value, ValueError)


def test_other_library_errors_map_to_their_classes(planted):
    truth, W = planted
    with pytest.raises(wlra.InvalidArgumentError, match="WLRA_OPTION_TOLERANCE"):
        wlra.fit(truth, W, rank=3, tolerance=-1.0)
    with pytest.raises(wlra.InvalidArgumentError, match="rank"):
        wlra.fit(truth, W, rank=0)
    with pytest.raises(wlra.InvalidArgumentError, match="rank"):
        wlra.fit(truth, W, rank=-1)
    bad = truth.copy()
    bad[0, 0] = np.inf
    with pytest.raises(wlra.NonFiniteInputError, match=r"M\[0, 0\] = inf"):
        wlra.fit(bad, W, rank=3)
    with pytest.raises(wlra.InvalidArgumentError, match="solver"):
        wlra.fit(truth, W, rank=3, solver="fastest")
    with pytest.raises(TypeError, match="max_iteration"):
        wlra.fit(truth, W, rank=3, max_iteration=5)


@pytest.mark.filterwarnings("ignore::wlra.ConvergenceWarning")  # 5 iterations, on purpose
def test_method_and_restarts_are_taken_by_name_and_checked(planted):
    truth, W = planted
    for method in ("auto", "alternating", "varpro", "VARPRO", "accelerated", 1):
        fit = wlra.fit(truth, W, rank=3, max_iterations=5, method=method, restarts=2, init="random")
        assert fit.method_used in (None, "alternating", "varpro", "accelerated")
        if fit.starts is not None:
            assert 1 <= fit.starts_at_best <= fit.starts <= 3
    with pytest.raises(wlra.InvalidArgumentError, match="method"):
        wlra.fit(truth, W, rank=3, method="newton")
    with pytest.raises(wlra.InvalidArgumentError, match="WLRA_OPTION_METHOD"):
        wlra.fit(truth, W, rank=3, method=4)
    with pytest.raises(wlra.InvalidArgumentError, match="WLRA_OPTION_RESTARTS"):
        wlra.fit(truth, W, rank=3, restarts=-2)


def test_progress_cancel_after_two_iterations_keeps_their_factors(planted):
    truth, W = planted
    seen = []

    def progress(iteration, objective):
        seen.append((iteration, objective))
        return iteration >= 2

    with pytest.raises(wlra.CancelledError) as info:
        wlra.fit(truth, W, rank=3, tolerance=1e-14, progress=progress)
    partial = info.value.result
    with pytest.warns(wlra.ConvergenceWarning, match="stopped after 2 iterations"):
        two = wlra.fit(truth, W, rank=3, tolerance=1e-14, max_iterations=2)
    assert [i for i, _ in seen] == [1, 2]
    assert partial.iterations == 2 and info.value.status == 6
    assert np.max(np.abs(partial.U - two.U)) <= 1e-12
    assert np.max(np.abs(partial.V - two.V)) <= 1e-12
    assert seen[-1][1] == pytest.approx(two.objective, rel=1e-12)


def test_progress_returning_none_runs_to_the_end_and_exceptions_propagate(planted):
    truth, W = planted
    calls = []
    fit = wlra.fit(truth, W, rank=3, max_iterations=4, tolerance=0.0, progress=lambda i, f: calls.append(i))
    assert calls == [1, 2, 3, 4] and fit.iterations == 4

    def boom(iteration, objective):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        wlra.fit(truth, W, rank=3, progress=boom)


def test_fortran_ordered_3000_by_3000_input_is_not_copied():
    rng = np.random.default_rng(3)
    M = np.asfortranarray(rng.standard_normal((3000, 3000)))
    W = np.asfortranarray(rng.uniform(0.1, 1.0, size=(3000, 3000)))
    tracemalloc.start()
    try:
        fit = wlra.fit(M, W, rank=2, max_iterations=2, tolerance=0.0, init="random")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nno-copy: peak traced allocation {peak} bytes during the fit of a "
          f"{M.nbytes}-byte F-ordered array ({100 * peak / M.nbytes:.3f}%)")
    assert fit.U.shape == (3000, 2)
    assert peak < 0.1 * M.nbytes


def test_constants_match_the_c_header():
    from wlra import _library as C

    header = (REPO / "include" / "wlra.h").read_text()
    defines = {name: int(value) for name, value in re.findall(r"#define (WLRA_\w+) (-?\d+)\b", header)}
    for name, value in C.OPTIONS.items():
        assert defines[f"WLRA_OPTION_{name.upper()}"] == value
    for name, value in C.SOLVERS.items():
        assert defines[f"WLRA_SOLVER_{name.upper()}"] == value
    for name, value in C.INITS.items():
        assert defines[f"WLRA_INIT_{name.upper()}"] == value
    for name, value in C.METHODS.items():
        assert defines[f"WLRA_METHOD_{name.upper()}"] == value
    for value, name in C.STATUS_NAMES.items():
        # WLRA_ERROR_BUSY (10): checked once the header has it.
        if name == "busy" and "WLRA_ERROR_BUSY" not in defines:
            continue
        assert defines[f"WLRA_ERROR_{name.upper()}"] == value
    assert defines["WLRA_ROW_MAJOR"] == C.ROW_MAJOR and defines["WLRA_COL_MAJOR"] == C.COL_MAJOR
    for item in ("ITERATIONS", "OBJECTIVE", "CONVERGED", "ELAPSED_SECONDS", "SOLVER_USED"):
        assert defines[f"WLRA_INFO_{item}"] == getattr(C, f"INFO_{item}")
    # Issue 14's items: checked once the header has them.
    for item in ("METHOD_USED", "STARTS", "STARTS_AT_BEST"):
        if f"WLRA_INFO_{item}" in defines:
            assert defines[f"WLRA_INFO_{item}"] == getattr(C, f"INFO_{item}")
    assert defines["WLRA_VERSION_MAJOR"] == C.ABI_MAJOR
    assert wlra.library_version().startswith("1.")


def test_option_ranges_come_from_the_library():
    """The binding types option ids and choice values, never bounds: the
    library describes every option (wlra_option_info), with the header's
    name, its default inside its range, and every choice the binding offers
    inside that range."""
    from wlra import _library as C

    if C.option_info(1) is None:
        pytest.skip("the loaded library predates wlra_option_info (1.2)")
    described = []
    while C.option_info(len(described) + 1) is not None:
        described.append(len(described) + 1)
    # WLRA_OPTION_MISSING_NAN is the binding's own (every fit sets it), not a user option.
    assert described == sorted([*C.OPTIONS.values(), C.OPTION_MISSING_NAN])
    assert C.option_info(C.OPTION_MISSING_NAN)[0] == "WLRA_OPTION_MISSING_NAN"
    for name, option in C.OPTIONS.items():
        c_name, low, high, default = C.option_info(option)
        assert c_name == f"WLRA_OPTION_{name.upper()}"
        assert low <= default <= high, (name, low, default, high)
    choices = {"solver": C.SOLVERS, "init": C.INITS, "method": C.METHODS,
               "ridge_scaling": C.RIDGE_SCALINGS, "offsets": C.OFFSETS}
    for name, values in choices.items():
        _, low, high, _ = C.option_info(C.OPTIONS[name])
        assert all(low <= value <= high for value in values.values()), (name, values, low, high)
    assert C.option_info(0) is None and C.option_info(len(described) + 1) is None


def test_missing_library_says_what_to_set():
    env = dict(os.environ, WLRA_LIBRARY="/nonexistent/libwlra.so")
    env.pop("WLRA_PREFIX", None)
    code = "import numpy, wlra\ntry:\n    wlra.fit(numpy.ones((2, 2)), rank=1)\nexcept wlra.LibraryNotFoundError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "WLRA_LIBRARY='/nonexistent/libwlra.so' is not a file" in out


def test_without_environment_the_library_inside_the_package_is_loaded():
    env = {k: v for k, v in os.environ.items() if k not in ("WLRA_LIBRARY", "WLRA_PREFIX")}
    code = ("import os, numpy, wlra\nfrom wlra import _library\n"
            "fit = wlra.fit(numpy.outer(numpy.arange(1.0, 5.0), numpy.arange(1.0, 4.0)), rank=1)\n"
            "print(_library.library_path()); print(os.path.dirname(wlra.__file__)); print(fit.objective)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    path, package, objective = out.split("\n")[:3]
    assert path == os.path.join(package, "libwlra.so")
    assert float(objective) < 1e-20


def test_wlra_library_overrides_the_library_inside_the_package(tmp_path):
    from wlra import _library as C

    bundled = C._bundled_path()
    if not os.path.isfile(bundled):
        pytest.skip("installed without a library inside the package")
    copy = tmp_path / "libwlra.so"
    copy.write_bytes(pathlib.Path(bundled).read_bytes())
    env = dict(os.environ, WLRA_LIBRARY=str(copy))
    code = "from wlra import _library as C\nC.lib()\nprint(C.library_path())\n"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(copy)


def test_version_is_the_crates():
    cargo_toml = (REPO / "Cargo.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', cargo_toml, re.M).group(1)
    assert wlra.__version__ == version


def test_without_a_library_in_the_package_the_system_loader_paths_are_searched(tmp_path):
    from wlra import _library as C

    library = pathlib.Path(os.environ.get("WLRA_LIBRARY") or C.library_path()).resolve()
    # A directory as scripts/install.sh lays out PREFIX/lib: the SONAME link.
    (tmp_path / "libwlra.so.1").symlink_to(library)
    env = {k: v for k, v in os.environ.items() if k not in ("WLRA_LIBRARY", "WLRA_PREFIX")}
    env["LD_LIBRARY_PATH"] = str(tmp_path)
    code = ("import numpy, wlra\nfrom wlra import _library as C\n"
            "C._bundled_path = lambda: '/nonexistent/libwlra.so'\n"
            "print(C.library_path()); print(wlra.fit(numpy.ones((3, 2)), rank=1).objective)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    name, objective = out.split("\n")[:2]
    assert name == "libwlra.so.1" and float(objective) < 1e-20
