"""soft_maxplus_matmul / soft_minplus_matmul against NumPy broadcasting + scipy's logsumexp
(tests/oracles/soft_maxplus.py); FD, adjointness, dtypes and threads are checked generically by
tests/test_autodiff.py from the registered examples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import softgrad as sg
from oracles import soft_maxplus as O

OPS = [
    (sg.soft_maxplus_matmul, O.soft_maxplus, O.maxplus),
    (sg.soft_minplus_matmul, O.soft_minplus, O.minplus),
]


@pytest.mark.parametrize(("op", "oracle", "hard"), OPS)
@pytest.mark.parametrize(
    ("sa", "sb"),
    [
        ((3, 4), (4, 5)),
        ((1, 1), (1, 1)),
        ((17, 33), (33, 40)),
        ((2, 1, 5, 6), (3, 6, 7)),
        ((6,), (6, 3)),
        ((4, 6), (6,)),
        ((5,), (5,)),
    ],
)
@pytest.mark.parametrize("t", [1.0, 0.05, 30.0])
def test_values_match_broadcasting_and_logsumexp(
    op: Any, oracle: Any, hard: Any, sa: Any, sb: Any, t: float, rng
) -> None:
    a, b = 3 * rng.standard_normal(sa), 3 * rng.standard_normal(sb)
    got = op(a, b, temperature=t)
    want = oracle(a, b, t)
    assert np.shape(got) == np.shape(want) == np.shape(np.matmul(a, b))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("op", "oracle", "hard"), OPS)
def test_small_temperature_is_the_hard_product(op: Any, oracle: Any, hard: Any, rng) -> None:
    a, b = rng.standard_normal((2, 9, 13)), rng.standard_normal((13, 11))
    np.testing.assert_allclose(op(a, b, temperature=1e-10), hard(a, b), atol=1e-8)


@pytest.mark.parametrize(("op", "oracle", "hard"), OPS)
def test_the_semiring_zero_never_gives_nan(op: Any, oracle: Any, hard: Any, rng) -> None:
    zero = -np.inf if op is sg.soft_maxplus_matmul else np.inf
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    a[0] = zero
    a[1, 2] = zero
    b[:, 1] = zero
    c = op(a, b, temperature=0.5)
    assert not np.isnan(c).any()
    np.testing.assert_array_equal(c[0], zero)
    np.testing.assert_array_equal(c[:, 1], zero)
    np.testing.assert_allclose(c, oracle(a, b, 0.5), rtol=1e-12)
    # an empty inner dimension: the empty sum
    np.testing.assert_array_equal(
        op(np.zeros((3, 0)), np.zeros((0, 2)), temperature=1.0), np.full((3, 2), zero)
    )
    # gradients at the zero rows are 0, elsewhere finite
    _, pb = sg.vjp(op, a, b, temperature=0.5)
    ga, gb, gt = pb(np.ones((4, 3)))
    assert np.isfinite(ga).all() and np.isfinite(gb).all() and np.isfinite(gt)
    np.testing.assert_array_equal(ga[0], 0.0)


def test_nan_propagates_and_huge_values_do_not_overflow(rng) -> None:
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    a[1, 2] = np.nan
    c = sg.soft_maxplus_matmul(a, b, temperature=1.0)
    assert np.isnan(c[1]).all() and np.isfinite(np.delete(c, 1, axis=0)).all()
    big = 1e300 * rng.standard_normal((3, 4))
    c = sg.soft_maxplus_matmul(big, b, temperature=1e-300)
    assert np.isfinite(c).all()
    np.testing.assert_allclose(c, O.maxplus(big, b), rtol=1e-12)


@pytest.mark.parametrize(("op", "oracle", "hard"), OPS)
def test_derivatives_on_the_exact_path_match_finite_differences(op: Any, oracle: Any, hard: Any, rng) -> None:
    # t = 0.05 with values of scale 5: most entries leave the factorised path
    a, b = 5 * rng.standard_normal((4, 6)), 5 * rng.standard_normal((6, 5))
    t = 0.05
    g = rng.standard_normal((4, 5))
    _, pb = sg.vjp(op, a, b, temperature=t)
    ga, gb, gt = pb(g)
    h = 1e-6

    def f(a_: Any, b_: Any, t_: float) -> float:
        return float((op(a_, b_, temperature=t_) * g).sum())

    for idx in [(0, 0), (3, 5), (2, 1)]:
        e = np.zeros_like(a)
        e[idx] = h
        assert ga[idx] == pytest.approx((f(a + e, b, t) - f(a - e, b, t)) / (2 * h), rel=1e-6, abs=1e-8)
    for idx in [(0, 0), (5, 4), (2, 3)]:
        e = np.zeros_like(b)
        e[idx] = h
        assert gb[idx] == pytest.approx((f(a, b + e, t) - f(a, b - e, t)) / (2 * h), rel=1e-6, abs=1e-8)
    ht = 1e-7
    assert gt == pytest.approx((f(a, b, t + ht) - f(a, b, t - ht)) / (2 * ht), rel=1e-5, abs=1e-6)


def test_broadcast_cotangents_are_summed(rng) -> None:
    a, b = rng.standard_normal((1, 3, 4)), rng.standard_normal((5, 4, 2))
    _, pb = sg.vjp(sg.soft_maxplus_matmul, a, b, temperature=0.7)
    g = rng.standard_normal((5, 3, 2))
    ga, _, _ = pb(g)
    want = sum(sg.vjp(sg.soft_maxplus_matmul, a[0], b[i], temperature=0.7)[1](g[i]).A for i in range(5))
    np.testing.assert_allclose(ga[0], want, rtol=1e-12)


def test_threads_give_identical_bits(rng) -> None:
    a, b = rng.standard_normal((3, 70, 50)), rng.standard_normal((50, 90))
    want = sg.soft_maxplus_matmul(a, b, temperature=0.3, n_threads=1)
    for n in (2, 3):
        np.testing.assert_array_equal(sg.soft_maxplus_matmul(a, b, temperature=0.3, n_threads=n), want)


def test_float32_stays_float32(rng) -> None:
    a, b = rng.standard_normal((6, 7)).astype(np.float32), rng.standard_normal((7, 8)).astype(np.float32)
    c = sg.soft_maxplus_matmul(a, b, temperature=0.5)
    assert c.dtype == np.float32
    np.testing.assert_allclose(c, O.soft_maxplus(a, b, 0.5), rtol=1e-6)


@given(st.integers(1, 5), st.integers(0, 5), st.integers(1, 5), st.floats(0.01, 10.0))
def test_bounds_between_the_hard_product_and_it_plus_t_log_k(m: int, k: int, n: int, t: float) -> None:
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    c = sg.soft_maxplus_matmul(a, b, temperature=t)
    h = O.maxplus(a, b) if k else np.full((m, n), -np.inf)
    assert (c >= h - 1e-12).all()
    if k:
        assert (c <= h + t * np.log(k) + 1e-12).all()


@pytest.mark.parametrize(
    ("a", "b", "kw", "exc", "match"),
    [
        (
            np.zeros((3, 4)),
            np.zeros((5, 2)),
            {},
            ValueError,
            r"soft_maxplus_matmul: inner dimensions.*\(3, 4\).*\(5, 2\)",
        ),
        (
            np.zeros((2, 3, 4)),
            np.zeros((3, 4, 2)),
            {},
            ValueError,
            r"batch dimensions.*\(2, 3, 4\).*\(3, 4, 2\)",
        ),
        (np.zeros(()), np.zeros((1, 1)), {}, ValueError, "at least one dimension"),
        (
            np.zeros((2, 2)),
            np.zeros((2, 2)),
            {"temperature": 0.0},
            ValueError,
            "temperature must be finite and > 0",
        ),
        (np.zeros((2, 2)), np.zeros((2, 2)), {"temperature": -1.0}, ValueError, "temperature must be finite"),
        (
            np.zeros((2, 2)),
            np.zeros((2, 2)),
            {"temperature": np.nan},
            ValueError,
            "temperature must be finite",
        ),
        (
            np.zeros((2, 2)),
            np.zeros((2, 2)),
            {"temperature": np.inf},
            ValueError,
            "temperature must be finite",
        ),
        (
            np.zeros((2, 2), complex),
            np.zeros((2, 2)),
            {},
            TypeError,
            "soft_maxplus_matmul: A must contain real",
        ),
    ],
)
def test_bad_input_is_refused_naming_function_and_argument(
    a: Any, b: Any, kw: Any, exc: Any, match: str
) -> None:
    with pytest.raises(exc, match=match):
        sg.soft_maxplus_matmul(a, b, **{"temperature": 1.0, **kw})


def test_mixed_dtypes_and_views(rng) -> None:
    a = rng.standard_normal((8, 6))
    b = rng.standard_normal((6, 5)).astype(np.float32)
    c = sg.soft_minplus_matmul(a[::2], b.T.T, temperature=0.4)
    assert c.dtype == np.float64
    np.testing.assert_allclose(c, O.soft_minplus(a[::2], b, 0.4), rtol=1e-12)
    a0 = a.copy()
    sg.vjp(sg.soft_minplus_matmul, a, b, temperature=0.4)[1](np.ones((8, 5)))
    np.testing.assert_array_equal(a, a0)
