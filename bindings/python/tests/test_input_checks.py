"""Input the binding refuses before the library sees it, with a message that
names the argument in the caller's terms (issue 28): starting factors of the
wrong shape, complex matrices. R has the same cases in test-input.R."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import wlra
from wlra import InvalidArgumentError

N_ROWS, N_COLS, RANK = 6, 5, 2


@pytest.fixture
def problem():
    rng = np.random.default_rng(28)
    M = rng.standard_normal((N_ROWS, RANK)) @ rng.standard_normal((RANK, N_COLS))
    U0, V0 = rng.standard_normal((N_ROWS, RANK)), rng.standard_normal((N_COLS, RANK))
    return M, U0, V0


def column(rows):
    return np.ones((rows, 1))


def test_start_with_an_extra_column_is_refused_not_truncated(problem):
    M, U0, V0 = problem
    with pytest.raises(InvalidArgumentError,
                       match=r"start U0 has shape \(6, 3\) but must be \(6, 2\): one row per row of M \(6\) "
                             r"and one column per component \(rank = 2\)"):
        wlra.fit(M, rank=RANK, start=(np.hstack([U0, column(N_ROWS)]), V0))
    with pytest.raises(InvalidArgumentError, match=r"start V0 has shape \(5, 3\) but must be \(5, 2\)"):
        wlra.fit(M, rank=RANK, start=(U0, np.hstack([V0, column(N_COLS)])))


def test_start_with_too_few_columns_is_refused_in_terms_of_rank(problem):
    M, U0, V0 = problem
    with pytest.raises(InvalidArgumentError,
                       match=r"start U0 has shape \(6, 1\) but must be \(6, 2\): .*\(rank = 2\)") as err:
        wlra.fit(M, rank=RANK, start=(U0[:, :1], V0))
    assert "ld_u" not in str(err.value) and "n_cols" not in str(err.value)
    with pytest.raises(InvalidArgumentError, match=r"start V0 has shape \(5, 1\) but must be \(5, 2\)"):
        wlra.fit(M, rank=RANK, start=(U0, V0[:, :1]))


def test_start_with_the_wrong_number_of_rows_is_refused(problem):
    M, U0, V0 = problem
    with pytest.raises(InvalidArgumentError, match=r"start V0 has shape \(4, 2\) but must be \(5, 2\): "
                                                   r"one row per column of M \(5\)"):
        wlra.fit(M, rank=RANK, start=(U0, V0[:4]))
    with pytest.raises(InvalidArgumentError, match=r"start must be a pair \(U0, V0\) or a FitResult"):
        wlra.fit(M, rank=RANK, start=U0)


def test_sparse_fit_checks_the_start_the_same_way(problem):
    M, U0, V0 = problem
    with pytest.raises(InvalidArgumentError, match=r"start U0 has shape \(6, 3\) but must be \(6, 2\)"):
        wlra.fit_sparse(sp.csr_matrix(M), rank=RANK, start=(np.hstack([U0, column(N_ROWS)]), V0))


def test_a_start_of_the_right_shape_is_taken(problem):
    M, U0, V0 = problem
    fit = wlra.fit(M, rank=RANK, start=(U0, V0), max_iterations=0)
    np.testing.assert_allclose(fit.library_factors[0] @ fit.library_factors[1].T, U0 @ V0.T, rtol=0, atol=1e-12)


def test_complex_m_or_w_is_refused_without_dropping_the_imaginary_part(problem):
    M, U0, V0 = problem
    W = np.ones_like(M)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: refused before any conversion
        with pytest.raises(InvalidArgumentError, match=r"^M has complex dtype complex128: wlra fits real matrices"):
            wlra.fit(M + 1j, rank=RANK)
        with pytest.raises(InvalidArgumentError, match=r"^W has complex dtype complex64"):
            wlra.fit(M, W.astype(np.complex64), rank=RANK)
        with pytest.raises(InvalidArgumentError, match=r"^start U0 has complex dtype"):
            wlra.fit(M, rank=RANK, start=(U0 + 0j, V0))
        with pytest.raises(InvalidArgumentError, match=r"^M has complex dtype complex128"):
            wlra.fit_sparse(sp.csr_matrix(M + 1j), rank=RANK)
        with pytest.raises(InvalidArgumentError, match=r"^W has complex dtype complex128"):
            wlra.fit_sparse(sp.csr_matrix(M), sp.csr_matrix(W + 0j), rank=RANK)


def test_non_numeric_m_is_refused_naming_the_entry(problem):
    M, _, _ = problem
    text = M.astype(object)
    text[2, 3] = "x"
    with pytest.raises(InvalidArgumentError, match=r"M\[2, 3\] = 'x' is not a number"):
        wlra.fit(text, rank=RANK)
    with pytest.raises(InvalidArgumentError, match=r"^M has dtype <U1, which is not numeric"):
        wlra.fit(np.full(M.shape, "a"), rank=RANK)


def test_a_degenerate_fit_warns_with_the_library_count(problem):
    rank_one = np.outer(np.arange(1.0, 7.0), np.arange(1.0, 6.0))
    with pytest.warns(UserWarning, match=r"^wlra: the fit is degenerate: U V\^T has rank 1, below rank = 2 "
                                         r"\(1 of its singular values are 0\); a lower rank fits the same product$"):
        wlra.fit(rank_one, rank=RANK)
    with pytest.warns(UserWarning, match=r"^wlra: the fit is degenerate: U V\^T = 0 \(all 2 singular values are 0\)$"):
        wlra.fit(np.zeros((N_ROWS, N_COLS)), rank=RANK)
    M, _, _ = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wlra.fit(M, rank=RANK)  # full rank: no warning


def test_every_weight_zero_warns_once_and_not_as_degenerate(problem):
    M, _, _ = problem
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wlra.fit(M, np.zeros_like(M), rank=RANK)
    assert [str(w.message) for w in caught] == [
        "wlra: every weight is 0 (or every entry of M missing): the fit is U = V = 0, s = 0"]
