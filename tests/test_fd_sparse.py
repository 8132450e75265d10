"""Sparse Jacobians by column colouring: ``softgrad.jacobian(..., sparsity=)`` (python/softgrad/sparse_fd.py,
rust/softgrad-core/src/estimate/{colour.rs, fd/sparse.rs}).

Oracles: the dense estimate (bit for bit on the pattern, since every entry is assembled from the same
values with the same weights), analytic Jacobians, scipy's ``approx_derivative(..., sparsity=)``; the
colourings checked for validity (hypothesis) and for their counts on banded, arrowhead, crown and
random patterns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import _numdiff

from softgrad import jacobian
from softgrad._core import colour as C
from softgrad.sparse_fd import colour_columns


def banded(n: int, b: int) -> NDArray[np.bool_]:
    return np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= b


def tri(v: NDArray[Any]) -> NDArray[Any]:
    """f_r = x_r^2 e^{x_{r+1}} + sin(x_{r-1}): a tridiagonal Jacobian."""
    up = np.exp(np.r_[v[1:], 0.0])
    up[-1] = 1.0
    return v**2 * up + np.sin(np.r_[0.0, v[:-1]])


def tri_rows(X: NDArray[Any]) -> NDArray[Any]:
    up = np.exp(np.c_[X[:, 1:], np.zeros(len(X))])
    up[:, -1] = 1.0
    return X**2 * up + np.sin(np.c_[np.zeros(len(X)), X[:, :-1]])


def tri_jac(v: NDArray[Any]) -> NDArray[Any]:
    n = v.size
    up = np.exp(np.r_[v[1:], 0.0])
    up[-1] = 1.0
    J = np.diag(2 * v * up)
    J[np.arange(n - 1), np.arange(1, n)] = v[:-1] ** 2 * up[:-1]
    J[np.arange(1, n), np.arange(n - 1)] = np.cos(v[:-1])
    return J


def valid(pattern: Any, colours: NDArray[Any]) -> bool:
    a = sp.csr_array(pattern)
    return all(
        len(set(colours[a.indices[a.indptr[r] : a.indptr[r + 1]]].tolist())) == a.indptr[r + 1] - a.indptr[r]
        for r in range(a.shape[0])
    )


def test_a_tridiagonal_jacobian_of_size_10000_takes_3_colours_and_6_evaluations() -> None:
    n = 10_000
    x = np.random.default_rng(0).uniform(-1, 1, n)
    pattern = sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1], format="csr")
    r = jacobian(tri_rows, x, sparsity=pattern, vectorized=True, full_output=True)
    assert r.nfev == 6 and int(r.colours.max()) + 1 == 3
    assert isinstance(r.jac, sp.csr_array) and r.jac.shape == (n, n) and r.jac.nnz == 3 * n - 2
    want = tri_jac(x[:50])[:49, :49]  # row 49 of the small one is a last row, not of the big one
    np.testing.assert_allclose(r.jac[:49, :49].toarray(), want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(r.jac[-5:, -5:].toarray(), tri_jac(x[-5:]), rtol=1e-9, atol=1e-9)
    assert isinstance(r.error, sp.csr_array) and r.error.nnz == r.jac.nnz
    np.testing.assert_array_equal(r.error.indices, r.jac.indices)


@pytest.mark.parametrize(
    ("method", "order"),
    [("central", 2), ("central", 4), ("forward", 1), ("backward", 2), ("richardson", 2), ("complex", 2)],
)
@pytest.mark.parametrize("bounded", [False, True])
def test_sparse_equals_dense_on_the_pattern_bit_for_bit(method: str, order: int, bounded: bool) -> None:
    n = 23
    x = np.random.default_rng(1).uniform(-1, 1, n)
    # some columns on their upper bound, some on the lower: one-sided stencils inside a colour
    bounds = (
        (np.where(np.arange(n) % 5 == 1, x, -5.0), np.where(np.arange(n) % 5 == 3, x, 5.0))
        if bounded
        else None
    )
    if bounded and method == "complex":
        return
    dense = jacobian(tri, x, method=method, order=order, bounds=bounds, full_output=True)
    sparse = jacobian(
        tri, x, method=method, order=order, bounds=bounds, sparsity=banded(n, 1), full_output=True
    )
    mask = banded(n, 1)
    np.testing.assert_array_equal(sparse.jac.toarray()[mask], dense.jac[mask])
    np.testing.assert_array_equal(sparse.error.toarray()[mask], dense.error[mask])
    np.testing.assert_array_equal(sparse.step, dense.step)
    per, center = divmod(dense.nfev, n)  # per coordinate, and f(x) if a stencil is one-sided
    assert sparse.nfev == 3 * per + center


def test_the_pattern_is_exactly_the_given_one_and_agrees_with_scipy() -> None:
    n = 40
    x = np.linspace(-1, 1, n)
    pattern = banded(n, 2)  # wider than the true one: the extra entries are stored, near 0
    J = jacobian(tri, x, sparsity=pattern)
    assert J.nnz == pattern.sum()
    np.testing.assert_array_equal(J.toarray() != 0, banded(n, 1))
    assert np.all(np.abs(J.toarray()[pattern & ~banded(n, 1)]) < 1e-12)
    np.testing.assert_allclose(J.toarray(), tri_jac(x), rtol=1e-9, atol=1e-9)
    want = _numdiff.approx_derivative(tri, x, method="3-point", sparsity=sp.csr_array(banded(n, 1)))
    np.testing.assert_allclose(J.toarray(), want.toarray(), rtol=1e-7, atol=1e-9)
    # explicit zeros of a sparse pattern are not part of it
    s = sp.csr_array(banded(n, 1).astype(float))
    s.data[:3] = 0.0
    assert jacobian(tri, x, sparsity=s).nnz == 3 * n - 2 - 3


def test_float32_and_outputs_other_than_n() -> None:
    x = np.linspace(0.1, 1, 12).astype(np.float32)

    def f(v: NDArray[Any]) -> NDArray[Any]:  # 4 outputs, each of 3 consecutive inputs
        return (v.reshape(4, 3).astype(np.float64) ** 2).sum(axis=1)

    pattern = np.kron(np.eye(4, dtype=bool), np.ones((1, 3), bool))
    r = jacobian(f, x, sparsity=pattern, full_output=True)
    assert r.jac.dtype == np.float32 and r.jac.shape == (4, 12)
    assert int(r.colours.max()) + 1 == 3 and r.nfev == 6
    np.testing.assert_allclose(r.jac.toarray(), pattern * 2 * x.astype(np.float64), rtol=1e-3)


@pytest.mark.parametrize(
    ("name", "pattern", "colours"),
    [
        ("banded 2", banded(60, 2), 5),
        ("banded 4", banded(60, 4), 9),
        ("dense column", np.eye(60, dtype=bool) | (np.arange(60) == 0)[None, :], 2),
        ("dense row", np.eye(60, dtype=bool) | (np.arange(60) == 0)[:, None], 60),
        ("block diagonal", np.kron(np.eye(10, dtype=bool), np.ones((6, 6), bool)), 6),
    ],
)
def test_colour_counts(name: str, pattern: NDArray[Any], colours: int) -> None:
    c, k, _ = colour_columns(pattern)
    assert k == colours and valid(pattern, c)


def test_smallest_last_beats_greedy_in_index_on_a_crown() -> None:
    k = 8  # columns a_i = 2i, b_j = 2j + 1 share a row iff i != j
    rows = [(2 * i, 2 * j + 1) for i in range(k) for j in range(k) if i != j]
    pattern = np.zeros((len(rows), 2 * k), bool)
    for r, (a, b) in enumerate(rows):
        pattern[r, [a, b]] = True
    assert colour_columns(pattern, "natural")[1] == k
    c, best, ordering = colour_columns(pattern)
    assert best == 2 and ordering != "natural" and valid(pattern, c)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 30),
    st.integers(1, 30),
    st.floats(0.0, 0.5),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["auto", "smallest_last", "largest_first", "natural"]),
)
def test_every_colouring_is_valid(m: int, n: int, density: float, seed: int, ordering: str) -> None:
    pattern = np.random.default_rng(seed).random((m, n)) < density
    c, k, used = colour_columns(pattern, ordering)
    assert c.shape == (n,) and valid(pattern, c)
    assert k >= max(1, int(pattern.sum(axis=1).max(initial=0))) or not pattern.any()
    assert set(c.tolist()) == set(range(k))
    if ordering == "auto":
        assert k <= min(colour_columns(pattern, o)[1] for o in ("smallest_last", "largest_first", "natural"))
    else:
        assert used == ordering


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (
            dict(sparsity=np.ones((5, 4), bool)),
            ValueError,
            r"^jacobian: sparsity must have x.size = 5 columns",
        ),
        (dict(sparsity=np.ones(5, bool)), ValueError, r"^jacobian: sparsity must be a 2-d"),
        (dict(sparsity=np.array([["a"] * 5])), TypeError, r"^jacobian: sparsity must be a 2-d"),
        (
            dict(sparsity=np.eye(5, dtype=bool), colouring="random"),
            ValueError,
            r"^jacobian: colouring must be one of",
        ),
        (
            dict(sparsity=np.eye(5, dtype=bool), step=-1.0),
            ValueError,
            r"^jacobian: step must be finite and > 0",
        ),
        (
            dict(sparsity=np.eye(5, dtype=bool), method="sparse"),
            ValueError,
            r"^jacobian: method must be one of",
        ),
    ],
)
def test_bad_sparsity_is_refused_before_f_is_called(kwargs: dict[str, Any], exc: type, match: str) -> None:
    calls = []
    with pytest.raises(exc, match=match):
        jacobian(lambda v: calls.append(1) or v, np.ones(5), **kwargs)
    assert not calls


def test_f_with_the_wrong_number_of_outputs() -> None:
    with pytest.raises(
        ValueError, match=r"^jacobian: f returned 4 values \(shape \(4,\)\) but sparsity has 5 rows"
    ):
        jacobian(lambda v: v[:4], np.ones(5), sparsity=np.eye(5, dtype=bool))


def test_empty_patterns_and_x() -> None:
    J = jacobian(lambda v: v, np.ones(3), sparsity=np.zeros((3, 3), bool))
    assert J.nnz == 0 and J.shape == (3, 3)
    J = jacobian(lambda v: np.ones(2), np.ones(0), sparsity=np.zeros((2, 0), bool))
    assert J.shape == (2, 0)


def test_the_colour_bindings_check_their_arrays() -> None:
    ptr, idx = np.array([0, 1, 2], np.int64), np.array([0, 1], np.int64)
    c, k, o = C.column_colouring(ptr, idx, 2, 2)
    assert k == 1 and c.tolist() == [0, 0] and o in ("smallest_last", "largest_first", "natural")
    ro = idx.copy()
    ro.flags.writeable = False
    assert C.column_colouring(ptr, ro, 2, 2)[1] == 1
    assert C.column_colouring(ptr, np.repeat(idx, 2)[::2], 2, 2)[1] == 1  # strided: copied
    with pytest.raises(TypeError, match=r"^jacobian: indices must be a 1-d int64 ndarray, got int32 array"):
        C.column_colouring(ptr, idx.astype(np.int32), 2, 2)
    with pytest.raises(TypeError, match=r"^jacobian: indptr must be a 1-d int64 ndarray, got <class 'list'>"):
        C.column_colouring([0, 1, 2], idx, 2, 2)
    with pytest.raises(ValueError, match=r"^jacobian: sparsity column index 5 is outside 0..2"):
        C.column_colouring(ptr, np.array([0, 5], np.int64), 2, 2)
    with pytest.raises(ValueError, match=r"^jacobian: sparsity indptr has length 3, expected 4"):
        C.column_colouring(ptr, idx, 3, 2)
    with pytest.raises(ValueError, match=r"^hessian: sparsity must be a symmetric pattern"):
        C.star_colouring(np.array([0, 1, 1], np.int64), np.array([1], np.int64), 2)
    with pytest.raises(ValueError, match=r"^jacobian: colouring must be one of"):
        C.column_colouring(ptr, idx, 2, 2, "best")


def test_the_plan_bindings_check_their_arguments() -> None:
    from softgrad._core import fd as K

    x = np.linspace(0, 1, 4)
    e, ptr, idx = np.zeros(0), np.arange(5, dtype=np.int64), np.arange(4, dtype=np.int64)
    p = K.SparsePlan(x, "central", 2, e, e, e, 0.0, 6, ptr, idx, 4)
    assert (
        p.n_points == 2 and p.n_colours == 1 and p.ordering in ("smallest_last", "largest_first", "natural")
    )
    with pytest.raises(TypeError, match=r"^jacobian: x must be a float32 or float64 ndarray, got float16"):
        K.SparsePlan(x.astype(np.float16), "central", 2, e, e, e, 0.0, 6, ptr, idx, 4)
    with pytest.raises(ValueError, match=r"^jacobian: kind must be 'jacobian' or 'hessian'"):
        K.SparsePlan(x, "central", 2, e, e, e, 0.0, 6, ptr, idx, 4, "laplacian")
    with pytest.raises(ValueError, match=r"^points: need start <= stop <= 2, got 0..3"):
        p.points(0, 3)
    with pytest.raises(ValueError, match=r"^assemble: values has length 3, expected 8"):
        p.assemble(np.zeros(3))
    h = K.HessianPlan(x, e, 0.0)
    assert h.n_points == 2 * 4 + 4 * 3 and h.nnz == 16 and h.csr is None and h.moved(9) == (0, 1)
    with pytest.raises(ValueError, match=r"^hessian: indptr and indices go together"):
        K.HessianPlan(x, e, 0.0, ptr)
    with pytest.raises(ValueError, match=r"^assemble: values must be finite, got NaN at 0"):
        h.assemble(0.0, np.full(h.n_points, np.nan))
    with pytest.raises(ValueError, match=r"^moved: q must be < 20"):
        h.moved(20)


def test_two_threads_at_once_get_the_serial_results() -> None:
    from concurrent.futures import ThreadPoolExecutor

    n = 300
    xs = [np.random.default_rng(s).uniform(-1, 1, n) for s in range(4)]
    pattern = banded(n, 1)
    want = [jacobian(tri, x, sparsity=pattern).toarray() for x in xs]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda x: jacobian(tri, x, sparsity=pattern).toarray(), xs))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
