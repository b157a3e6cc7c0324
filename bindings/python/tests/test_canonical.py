"""The canonical form of every fit result (U diag(s) V^T, U and V
orthonormal, s descending, sign fixed by V) against the library's own
factors, and wlra.ConvergenceWarning for a fit that runs out of iterations."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import wlra
from conftest import REFERENCE_OPTIONS, reference_csr_problem, reference_problem


def assert_canonical(fit):
    """fit's U, s, V: the library's product to 1e-12 relative, orthonormal
    columns to 1e-12, s descending and >= 0, each column of V's entry of
    largest magnitude positive."""
    U_lib, V_lib = fit.library_factors
    library_product = U_lib @ V_lib.T
    k = fit.rank
    assert fit.U.shape == U_lib.shape and fit.V.shape == V_lib.shape and fit.s.shape == (k,)
    assert np.linalg.norm(fit.fitted() - library_product) <= 1e-12 * np.linalg.norm(library_product)
    assert np.max(np.abs(fit.U.T @ fit.U - np.eye(k))) <= 1e-12
    assert np.max(np.abs(fit.V.T @ fit.V - np.eye(k))) <= 1e-12
    assert np.all(np.diff(fit.s) <= 0) and np.all(fit.s >= 0)
    largest = np.argmax(np.abs(fit.V), axis=0)
    assert np.all(fit.V[largest, np.arange(k)] > 0)
    # s are the singular values of the product.
    np.testing.assert_allclose(fit.s, np.linalg.svd(library_product, compute_uv=False)[:k],
                               rtol=1e-12, atol=1e-12 * fit.s[0])


@pytest.mark.parametrize("options", [
    dict(REFERENCE_OPTIONS),
    dict(rank=4, ridge=0.7, tolerance=1e-10, max_iterations=2000),
    dict(rank=2, method="varpro", tolerance=1e-10),
], ids=["reference", "ridge", "varpro"])
def test_dense_fits_are_in_canonical_form(options):
    M, W = reference_problem()
    assert_canonical(wlra.fit(M, W, **options))


def test_sparse_fits_are_in_canonical_form():
    rows, cols, mv, wv, shape, m_default, w_default = reference_csr_problem()
    M = sp.csr_matrix((mv, (rows, cols)), shape=shape)
    W = sp.csr_matrix((wv, (rows, cols)), shape=shape)
    assert_canonical(wlra.fit_sparse(M, W, m_default=m_default, w_default=w_default, **REFERENCE_OPTIONS))


def test_a_cancelled_fit_is_in_canonical_form():
    M, W = reference_problem()
    with pytest.raises(wlra.CancelledError) as info:
        wlra.fit(M, W, rank=3, tolerance=0.0, progress=lambda i, f: i >= 3)
    assert info.value.result.iterations == 3
    assert_canonical(info.value.result)


def test_the_canonical_form_does_not_depend_on_the_gauge():
    rng = np.random.default_rng(11)
    U, V = rng.standard_normal((40, 3)), rng.standard_normal((25, 3))
    R = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    a = wlra.canonical_factors(U, V)
    b = wlra.canonical_factors(U @ R, V @ np.linalg.inv(R).T)  # the same product U V^T
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-10)


def numpy_canonical(U, V):
    """The canonical form as the binding computed it before the library did
    (numpy's QRs and SVD, the same sign rule): the reference the library's
    wlra_get_canonical is held to."""
    Q_u, R_u = np.linalg.qr(U)
    Q_v, R_v = np.linalg.qr(V)
    P, s, Qt = np.linalg.svd(R_u @ R_v.T)
    U_c, V_c = Q_u @ P, Q_v @ Qt.T
    signs = np.sign(V_c[np.argmax(np.abs(V_c), axis=0), np.arange(V_c.shape[1])])
    signs[signs == 0] = 1.0
    return U_c * signs, s, V_c * signs


@pytest.mark.parametrize("scale", [1.0, 1e150, 1e-150])
def test_the_library_canonical_form_equals_numpys(scale):
    rng = np.random.default_rng(14)
    U, V = rng.standard_normal((30, 4)) * scale, rng.standard_normal((22, 4))
    got, want = wlra.canonical_factors(U, V), numpy_canonical(U / scale, V)
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[1] / scale, want[1], rtol=1e-12)
    np.testing.assert_allclose(got[2], want[2], rtol=0, atol=1e-12)
    # A fit result's canonical form is the library's, read through the C ABI.
    M, W = reference_problem()
    fit = wlra.fit(M, W, **REFERENCE_OPTIONS)
    for x, y in zip((fit.U, fit.s, fit.V), numpy_canonical(*fit.library_factors)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_rank_deficient_factors_get_zero_singular_values_and_orthonormal_columns():
    rng = np.random.default_rng(12)
    U = rng.standard_normal((20, 3))
    U[:, 2] = U[:, 0] - U[:, 1]  # rank 2
    V = rng.standard_normal((15, 3))
    U_c, s, V_c = wlra.canonical_factors(U, V)
    assert s[2] <= 1e-13 * s[0]
    assert np.max(np.abs(U_c.T @ U_c - np.eye(3))) <= 1e-12
    assert np.max(np.abs(V_c.T @ V_c - np.eye(3))) <= 1e-12
    assert np.linalg.norm((U_c * s) @ V_c.T - U @ V.T) <= 1e-12 * np.linalg.norm(U @ V.T)


def planted_weighted():
    rng = np.random.default_rng(13)
    M = rng.standard_normal((60, 4)) @ rng.standard_normal((4, 40)) + 0.3 * rng.standard_normal((60, 40))
    return M, rng.uniform(0.1, 1.0, M.shape)


def slow_completion():
    """Noise at 40 % observed, rank 5: alternation needs thousands of
    iterations (3722 to 1e-6)."""
    rng = np.random.default_rng(13)
    M = rng.standard_normal((60, 40))
    return M, (rng.random(M.shape) < 0.4) * 1.0


def test_a_fit_that_runs_out_of_iterations_warns_with_the_count_and_the_remedy():
    M, W = slow_completion()
    with pytest.warns(wlra.ConvergenceWarning,
                      match=r"stopped after 3 iterations \(max_iterations = 3\).*max_iterations=6") as record:
        fit = wlra.fit(M, W, rank=4, max_iterations=3, method="alternating")
    assert not fit.converged and fit.iterations == 3
    assert len(record) == 1
    # The warning points at the caller's line, not into wlra.
    assert record[0].filename == __file__
    S = sp.csr_matrix(M * W)  # the observed entries
    with pytest.warns(wlra.ConvergenceWarning, match="stopped after 2 iterations"):
        wlra.fit_sparse(S, rank=5, max_iterations=2, method="alternating")


def test_without_max_iterations_the_warning_names_the_default():
    M, W = slow_completion()
    with pytest.warns(wlra.ConvergenceWarning, match="max_iterations not set: each start runs up to its method.s default, "
                                                    "100 for alternation, 500 for VarPro"):
        fit = wlra.fit(M, W, rank=5, method="alternating", restarts=0)
    assert fit.iterations == 100 and not fit.converged


def test_converged_cancelled_and_fixed_count_fits_do_not_warn():
    M, W = planted_weighted()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        converged = wlra.fit(M, W, rank=4, tolerance=1e-6, max_iterations=5000)
        assert converged.converged
        with pytest.raises(wlra.CancelledError):
            wlra.fit(M, W, rank=4, tolerance=1e-15, progress=lambda i, f: i >= 2)
        # tolerance = 0 asks for all max_iterations; max_iterations = 0 for the start.
        assert not wlra.fit(M, W, rank=4, tolerance=0.0, max_iterations=3).converged
        assert not wlra.fit(M, W, rank=4, max_iterations=0).converged


def test_convergence_warning_subclasses_sklearns_where_installed_else_user_warning_and_wlra_needs_it():
    import sklearn.exceptions

    assert issubclass(wlra.ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    assert wlra.ConvergenceWarning is wlra.errors.ConvergenceWarning
    # Without sklearn (an import of it fails), a UserWarning; importing wlra
    # itself never imports sklearn.
    code = ("import sys\nprint('sklearn' in sys.modules)\nimport wlra\nprint('sklearn' in sys.modules)\n"
            "sys.modules['sklearn'] = None\n"
            "print([c.__name__ for c in wlra.ConvergenceWarning.__mro__[1:3]])\n"
            "from wlra import *\n"
            "try:\n    wlra.WLRA\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ)).stdout.split("\n")
    assert out[:3] == ["False", "False", "['UserWarning', 'Warning']"]
    assert out[3].startswith("wlra.WLRA is a scikit-learn estimator and needs scikit-learn (pip install scikit-learn)")
