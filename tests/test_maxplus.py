"""maxplus_matmul / minplus_matmul against broadcast NumPy references: shapes past the kernel's
tiles and blocks, batches, 1-D operands, dtypes and promotion, infinities and NaN, integer
saturation, the argmax and its ties, thread counts. Derivatives: tests/test_maxplus_grad.py;
hostile input: tests/test_maxplus_hostile.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import softgrad as sg
from oracles.maxplus import tropical

OPS = [pytest.param(sg.maxplus_matmul, True, id="max"), pytest.param(sg.minplus_matmul, False, id="min")]


def assert_same(x: Any, y: Any) -> None:
    np.testing.assert_array_equal(x, y)
    assert np.asarray(x).dtype == np.asarray(y).dtype


# past MR, the 64-row tasks, KC = 256 and NC = 512; n = 1 takes the row kernel
SIZES = [(1, 1, 1), (7, 3, 5), (9, 300, 33), (70, 5, 530), (65, 257, 17), (130, 70, 1), (3, 1000, 1)]


@pytest.mark.parametrize(("op", "mx"), OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("m", "k", "n"), SIZES)
def test_matches_the_broadcast_reference(op: Any, mx: bool, dtype: Any, m: int, k: int, n: int, rng) -> None:
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    want, arg = tropical(a, b, mx)
    out, got_arg = op(a, b, return_argmax=True)
    assert_same(out, want)
    np.testing.assert_array_equal(got_arg, arg)
    assert_same(op(a, b), want)


shapes = st.tuples(*(st.integers(0, 40) for _ in range(3)))


@given(mkn=shapes, seed=st.integers(0, 2**32 - 1), ties=st.booleans(), mx=st.booleans())
def test_hypothesis_shapes_and_ties(mkn: tuple[int, int, int], seed: int, ties: bool, mx: bool) -> None:
    m, k, n = mkn
    r = np.random.default_rng(seed)
    a = r.integers(-2, 3, (m, k)).astype(float) if ties else r.standard_normal((m, k))
    b = r.integers(-2, 3, (k, n)).astype(float) if ties else r.standard_normal((k, n))
    op = sg.maxplus_matmul if mx else sg.minplus_matmul
    out, arg = op(a, b, return_argmax=True)
    want, warg = tropical(a, b, mx)
    assert_same(out, want)
    np.testing.assert_array_equal(arg, warg)
    if k:
        # the argmax is valid: it attains the optimum
        i, j = np.indices((m, n))
        np.testing.assert_array_equal(a[i, arg] + b[arg, j], out)


def test_argmax_is_the_smallest_k_on_ties() -> None:
    a = np.zeros((3, 6))
    b = np.zeros((6, 4))
    out, arg = sg.maxplus_matmul(a, b, return_argmax=True)
    assert_same(out, np.zeros((3, 4)))
    np.testing.assert_array_equal(arg, 0)
    b[2:, 1] = 1.0  # k = 2..5 tie at 1
    _, arg = sg.maxplus_matmul(a, b, return_argmax=True)
    assert (arg[:, 1] == 2).all()
    _, arg = sg.minplus_matmul(a, -b, return_argmax=True)
    assert (arg[:, 1] == 2).all()


@pytest.mark.parametrize(("op", "mx"), OPS)
def test_batches_broadcast_as_numpy_matmul(op: Any, mx: bool, rng) -> None:
    a = rng.standard_normal((2, 1, 5, 4))
    b = rng.standard_normal((3, 4, 6))
    out, arg = op(a, b, return_argmax=True)
    assert out.shape == np.matmul(a, b).shape == (2, 3, 5, 6)
    want, warg = tropical(np.broadcast_to(a, (2, 3, 5, 4)), np.broadcast_to(b, (2, 3, 4, 6)), mx)
    assert_same(out, want)
    np.testing.assert_array_equal(arg, warg)


@pytest.mark.parametrize(
    ("sa", "sb"), [((4,), (4, 3)), ((5, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))]
)
def test_one_dimensional_operands_as_numpy_matmul(sa: tuple[int, ...], sb: tuple[int, ...], rng) -> None:
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out = sg.maxplus_matmul(a, b)
    assert np.shape(out) == np.matmul(a, b).shape
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    want = tropical(a2, b2)[0].reshape(np.matmul(a, b).shape)
    assert_same(out, want)


def test_infinities_never_make_nan_and_nan_propagates() -> None:
    inf = np.inf
    a = np.array([[-inf, 1.0], [inf, -inf], [np.nan, 0.0]])
    b = np.array([[inf, 2.0, -inf], [-inf, inf, 0.0]])
    out = sg.maxplus_matmul(a, b)
    np.testing.assert_array_equal(out[:2], [[-inf, inf, 1.0], [inf, inf, -inf]])
    assert np.isnan(out[2]).all()
    out = sg.minplus_matmul(a, b)
    np.testing.assert_array_equal(out[:2], [[-inf, -inf, -inf], [-inf, inf, -inf]])  # -inf + inf is +inf here
    # NaN in column 1 of b only
    b2 = b.copy()
    b2[0, 1] = np.nan
    out = sg.maxplus_matmul(a[:2], b2)
    assert np.isnan(out[:, 1]).all() and not np.isnan(out[:, [0, 2]]).any()
    for dt in (np.float32, np.float64):
        want = tropical(a.astype(dt), b.astype(dt))[0]
        assert_same(sg.maxplus_matmul(a.astype(dt), b.astype(dt)), want)


@pytest.mark.parametrize(("op", "mx"), OPS)
def test_empty_inner_dimension_gives_the_semiring_zero(op: Any, mx: bool) -> None:
    out, arg = op(np.zeros((3, 0)), np.zeros((0, 2)), return_argmax=True)
    assert_same(out, np.full((3, 2), -np.inf if mx else np.inf))
    np.testing.assert_array_equal(arg, -1)
    z = op(np.zeros((3, 0), np.int64), np.zeros((0, 2), np.int64))
    info = np.iinfo(np.int64)
    assert_same(z, np.full((3, 2), info.min if mx else info.max, np.int64))
    assert op(np.zeros((0, 4)), np.zeros((4, 5))).shape == (0, 5)
    assert op(np.zeros((2, 0, 4)), np.zeros((4, 5))).shape == (2, 0, 5)
    assert op(np.zeros((0, 2, 4)), np.zeros((4, 5))).shape == (0, 2, 5)


@pytest.mark.parametrize(("op", "mx"), OPS)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integers_are_exact_and_saturate(op: Any, mx: bool, dtype: Any, rng) -> None:
    info = np.iinfo(dtype)
    pool = np.array([info.max, info.min, info.max - 3, info.min + 2, 5, -7, 0, 1 << 20], dtype=dtype)
    a = rng.choice(pool, (9, 11))
    b = rng.choice(pool, (11, 13))
    out, arg = op(a, b, return_argmax=True)
    want, warg = tropical(a, b, mx)
    assert_same(out, want)
    np.testing.assert_array_equal(arg, warg)
    # beyond float64's integers: exact
    big = np.array([[2**53 + 1]], dtype=np.int64)
    assert op(big, np.array([[2]], np.int64))[0, 0] == 2**53 + 3


@pytest.mark.parametrize(
    ("da", "db", "want"),
    [
        (np.float32, np.float32, np.float32),
        (np.float32, np.float64, np.float64),
        (np.float16, np.float16, np.float32),
        (np.int32, np.float32, np.float64),
        (np.int8, np.int16, np.int32),
        (np.bool_, np.bool_, np.int32),
        (np.uint32, np.int32, np.int64),
        (np.int64, np.int64, np.int64),
        (np.int32, np.int32, np.int32),
    ],
)
def test_mixed_dtypes_follow_numpy_promotion(da: Any, db: Any, want: Any) -> None:
    a = np.arange(6).reshape(2, 3).astype(da)
    b = np.arange(12).reshape(3, 4).astype(db)
    out = sg.maxplus_matmul(a, b)
    assert out.dtype == want
    np.testing.assert_array_equal(out, tropical(a.astype(np.float64), b.astype(np.float64))[0])


def test_transposed_and_strided_inputs_are_read_in_place_and_left_alone(rng) -> None:
    a0 = rng.standard_normal((40, 30))
    b0 = rng.standard_normal((50, 40))
    a, b = a0.T, b0.T[:, ::2]  # (30, 40) transposed, (40, 25) strided
    ca, cb = a0.copy(), b0.copy()
    out = sg.maxplus_matmul(a, b)
    assert_same(out, tropical(np.ascontiguousarray(a), np.ascontiguousarray(b))[0])
    np.testing.assert_array_equal(a0, ca)
    np.testing.assert_array_equal(b0, cb)
    # batch of transposed matrices
    x = rng.standard_normal((3, 8, 6))
    assert_same(
        sg.minplus_matmul(np.swapaxes(x, -1, -2), x), tropical(np.swapaxes(x, -1, -2).copy(), x, False)[0]
    )


@pytest.mark.parametrize(("op", "mx"), OPS)
def test_one_two_and_three_threads_give_the_same_bits(op: Any, mx: bool, rng) -> None:
    a = rng.standard_normal((3, 130, 70)).astype(np.float32) * np.exp2(rng.integers(-20, 20, (3, 130, 70)))
    b = rng.standard_normal((70, 90)).astype(np.float32)
    ref = op(a, b, return_argmax=True, n_threads=1)
    for t in (2, 3):
        got = op(a, b, return_argmax=True, n_threads=t)
        assert_same(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


def test_matvec_and_tropical_power_find_shortest_paths(rng) -> None:
    import scipy.sparse.csgraph as csgraph

    from oracles.maxplus import floyd_warshall

    n = 37
    w = rng.integers(1, 10, (n, n)).astype(float)  # exact sums: every association agrees
    w[rng.random((n, n)) < 0.8] = np.inf
    np.fill_diagonal(w, 0.0)
    d = sg.tropical_power(w, n - 1, semiring="minplus")
    np.testing.assert_allclose(d, floyd_warshall(w))
    dense = np.where(np.isinf(w), 0.0, w)
    np.testing.assert_allclose(d, csgraph.shortest_path(dense, method="D"))
    for p in range(0, 6):
        ref = np.full((n, n), np.inf)
        np.fill_diagonal(ref, 0.0)
        for _ in range(p):
            ref = tropical(ref, w, False)[0]
        np.testing.assert_array_equal(sg.tropical_power(w, p, semiring="minplus"), ref)
    # Bellman-Ford by matvec from node 0
    x = np.full(n, np.inf)
    x[0] = 0.0
    for _ in range(n):
        x = sg.maxplus_matvec(w.T, x, minplus=True)
    np.testing.assert_allclose(x, d[0])
    # batched matvec, broadcast; transposed matrices take the blocked kernel, the same values
    ab = rng.standard_normal((2, 9, 70))
    xv = rng.standard_normal(70)
    want = (ab + xv).max(axis=-1)
    assert_same(sg.maxplus_matvec(ab, xv), want)
    assert_same(sg.maxplus_matvec(np.swapaxes(np.swapaxes(ab, -1, -2).copy(), -1, -2), xv), want)
    # longest paths in a DAG (upper triangular): max-plus power
    g = np.triu(rng.uniform(0, 1, (6, 6)), 1)
    g[g == 0] = -np.inf
    np.fill_diagonal(g, 0.0)
    lp = sg.tropical_power(g, 5)
    assert lp[0, 5] >= g[0, 5] and lp.dtype == np.float64
    with pytest.raises(ValueError, match="tropical_power: p must be >= 0"):
        sg.tropical_power(w, -1)
    with pytest.raises(TypeError, match="tropical_power: p must be an int"):
        sg.tropical_power(w, 1.5)
    with pytest.raises(ValueError, match="square"):
        sg.tropical_power(np.zeros((2, 3)), 2)
    with pytest.raises(ValueError, match="semiring"):
        sg.tropical_power(w, 2, semiring="plus")
    assert sg.tropical_power(np.eye(3, dtype=np.int32), 3).dtype == np.int32
