"""The synthetic implicit-feedback problems of benches/implicit/compare.py
and the objective both libraries are judged by.

The generator (Hu, Koren, Volinsky 2008): `events` interaction events, each
an item drawn with power-law (Zipf, exponent 1) popularity and a user drawn
uniformly, summed into counts; every entry weighs 1 and has value 0, except
observed ones: value 1, weight 1 + alpha * count.

Sizes: "small" (issue 7) draws 1,000,000 events over 20,000 x 8,000 (800,929
distinct entries); "movielens" (issue 29) is MovieLens 20M's shape, 138,000 x
27,000, and draws as many events as make 20,000,000 distinct entries in
expectation (`events_for_entries`), so the pattern has MovieLens's size with
the same popularity law.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Size:
    name: str
    users: int
    items: int
    events: int = 0  # 0: as many as make `entries` distinct entries in expectation
    entries: int = 0


SIZES = {
    "small": Size("small", 20_000, 8_000, events=1_000_000),
    "movielens": Size("movielens", 138_000, 27_000, entries=20_000_000),
}
ALPHA = 10.0


def popularity(items):
    """Zipf (exponent 1) item probabilities."""
    p = 1.0 / np.arange(1, items + 1)
    return p / p.sum()


def expected_entries(events, users, p):
    """Expected distinct (user, item) pairs among `events` events: item j's
    events fall on users uniformly, so it covers users (1 - (1 - 1/users)^(events p_j))."""
    return float(np.sum(users * -np.expm1(events * p * np.log1p(-1.0 / users))))


def events_for_entries(entries, users, items):
    """The event count whose expected distinct entries is `entries`
    (bisection; the expectation increases with the events)."""
    p = popularity(items)
    if entries >= users * items:
        raise ValueError(f"{entries} entries do not fit in {users} x {items}")
    low, high = entries, entries
    while expected_entries(high, users, p) < entries:
        high *= 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if expected_entries(mid, users, p) < entries else (low, mid)
    return high


@dataclass
class Problem:
    size: Size
    events: int
    counts: sp.csr_matrix  # int32 indices, float64 counts: what implicit is given (weights)
    values: sp.csr_matrix  # int64 indices, what wlra is given; shares indices with `weights`
    weights: sp.csr_matrix

    @property
    def nnz(self):
        return self.values.nnz

    @property
    def shape(self):
        return self.values.shape


def problem(size, seed=7):
    """The problem of `size` (a Size): counts, then M and W as above."""
    events = size.events or events_for_entries(size.entries, size.users, size.items)
    rng = np.random.default_rng(seed)
    items = rng.choice(size.items, size=events, p=popularity(size.items))
    users = rng.integers(0, size.users, size=events)
    ones = np.ones(events)
    counts = sp.coo_matrix((ones, (users, items)), shape=(size.users, size.items)).tocsr()
    del items, users, ones
    counts.sum_duplicates()
    # implicit takes its confidence 1 + alpha * count as the matrix it fits.
    confidence = counts.copy()
    confidence.data = 1.0 + ALPHA * counts.data
    indptr, indices = counts.indptr.astype(np.int64), counts.indices.astype(np.int64)
    shape = counts.shape
    values = sp.csr_matrix((np.ones(counts.nnz), indices, indptr), shape=shape, copy=False)
    weights = sp.csr_matrix((confidence.data.copy(), indices, indptr), shape=shape, copy=False)
    for a in (values, weights):
        a.has_sorted_indices = True
        a.has_canonical_format = True
    return Problem(size, events, confidence, values, weights)


def objective(values, weights, U, V, chunk=1 << 18):
    """sum_ij W_ij (M_ij - u_i . v_j)^2 with W = 1, M = 0 off the pattern,
    in float64: the all-ones part from k x k Grams plus the pattern's
    corrections, gathered `chunk` entries at a time (O(chunk k) memory,
    never n x m)."""
    U, V = np.asarray(U, dtype=np.float64), np.asarray(V, dtype=np.float64)
    total = float(np.sum((U.T @ U) * (V.T @ V)))
    indptr, indices = values.indptr, values.indices
    n = values.shape[0]
    row = 0
    while row < n:
        # Rows [row, end) hold about `chunk` entries (at least one row).
        end = max(row + 1, int(np.searchsorted(indptr, indptr[row] + chunk, side="right")) - 1)
        end = min(end, n)
        lo, hi = int(indptr[row]), int(indptr[end])
        rows = np.repeat(np.arange(row, end), np.diff(indptr[row : end + 1]))
        fitted = np.einsum("ij,ij->i", U[rows], V[indices[lo:hi]])
        total += float(np.sum(weights.data[lo:hi] * (values.data[lo:hi] - fitted) ** 2 - fitted**2))
        row = end
    return total
