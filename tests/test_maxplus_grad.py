"""Derivatives of the tropical products (the generic FD/adjoint checks run from the registered
examples in tests/test_autodiff.py): cotangents routed to the winners, against central differences
at points without ties, with broadcasting, the argmax output, integer operands."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import softgrad as sg

OPS = [sg.maxplus_matmul, sg.minplus_matmul]


def fd_grad(f: Any, x: np.ndarray, u: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``d <u, f(x)> / dx`` by central differences (exact for a piecewise-linear f away from kinks)."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (np.vdot(u, f(x + e)) - np.vdot(u, f(x - e))) / (2 * h)
    return g


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(
    ("sa", "sb"), [((4, 5), (5, 3)), ((2, 1, 3, 4), (3, 4, 2)), ((5,), (5, 2)), ((3, 5), (5,))]
)
def test_vjp_and_jvp_match_central_differences(
    op: Any, sa: tuple[int, ...], sb: tuple[int, ...], rng
) -> None:
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out, pullback = sg.vjp(op, a, b)
    u = rng.standard_normal(np.shape(out))
    ga, gb = pullback(u)
    np.testing.assert_allclose(ga, fd_grad(lambda x: op(x, b), a, u), atol=1e-8)
    np.testing.assert_allclose(gb, fd_grad(lambda y: op(a, y), b, u), atol=1e-8)
    da, db = rng.standard_normal(sa), rng.standard_normal(sb)
    _, tan = sg.jvp(op, (a, b), (da, db))
    h = 1e-6
    fd = (op(a + h * da, b + h * db) - op(a - h * da, b - h * db)) / (2 * h)
    np.testing.assert_allclose(tan, fd, atol=1e-8)


def test_the_pullback_routes_each_cotangent_to_its_winners() -> None:
    a = np.array([[0.0, 5.0, 1.0]])
    b = np.array([[0.0, 9.0], [1.0, 0.0], [2.0, 0.0]])
    out, pullback = sg.vjp(sg.maxplus_matmul, a, b)
    np.testing.assert_array_equal(out, [[6.0, 9.0]])  # winners k = 1 and k = 0
    ga, gb = pullback(np.array([[10.0, 100.0]]))
    np.testing.assert_array_equal(ga, [[100.0, 10.0, 0.0]])
    np.testing.assert_array_equal(gb, [[0.0, 100.0], [10.0, 0.0], [0.0, 0.0]])
    # at a tie the smallest k gets the whole cotangent (a subgradient)
    _, pullback = sg.vjp(sg.maxplus_matmul, np.zeros((1, 3)), np.zeros((3, 1)))
    np.testing.assert_array_equal(pullback(np.ones((1, 1))).a, [[1.0, 0.0, 0.0]])


def test_with_the_argmax_output_its_cotangent_is_ignored(rng) -> None:
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    (out, arg), pullback = sg.vjp(sg.maxplus_matmul, a, b, return_argmax=True)
    u = rng.standard_normal(out.shape)
    g1 = pullback((u, None))
    g2 = sg.vjp(sg.maxplus_matmul, a, b)[1](u)
    np.testing.assert_array_equal(g1.a, g2.a)
    np.testing.assert_array_equal(g1.b, g2.b)
    (_, a2), (t, targ) = sg.jvp(sg.maxplus_matmul, (a, b), (np.ones_like(a), None), return_argmax=True)
    np.testing.assert_array_equal(a2, arg)
    np.testing.assert_array_equal(t, 1.0)
    np.testing.assert_array_equal(targ, 0)


def test_broadcast_operands_accumulate_their_cotangents(rng) -> None:
    a = rng.standard_normal((4, 3))  # shared by the 5 products
    b = rng.standard_normal((5, 3, 2))
    out, pullback = sg.vjp(sg.minplus_matmul, a, b)
    u = rng.standard_normal(out.shape)
    ga, gb = pullback(u)
    want = sum(sg.vjp(sg.minplus_matmul, a, b[i])[1](u[i]).a for i in range(5))
    np.testing.assert_allclose(ga, want, rtol=1e-14)
    assert gb.shape == b.shape


def test_integer_and_float32_operands_get_cotangents_of_their_kind(rng) -> None:
    a = rng.integers(-5, 5, (3, 4)).astype(np.int32)
    b = rng.standard_normal((4, 2)).astype(np.float32)
    out, pullback = sg.vjp(sg.maxplus_matmul, a, b)
    assert out.dtype == np.float64  # int32 with float32: numpy promotes to float64
    ga, gb = pullback(np.ones(out.shape))
    assert ga.dtype == np.float64 and gb.dtype == np.float32
    assert ga.sum() == gb.sum() == out.size


def test_empty_inner_dimension_has_zero_derivatives() -> None:
    _, pullback = sg.vjp(sg.maxplus_matmul, np.zeros((2, 0)), np.zeros((0, 3)))
    ga, gb = pullback(np.ones((2, 3)))
    assert ga.shape == (2, 0) and gb.shape == (0, 3)
    _, tan = sg.jvp(sg.maxplus_matmul, (np.zeros((2, 0)), np.zeros((0, 3))), (np.zeros((2, 0)), None))
    np.testing.assert_array_equal(tan, np.zeros((2, 3)))


def test_the_pullback_does_not_read_the_inputs_again(rng) -> None:
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    out, pullback = sg.vjp(sg.maxplus_matmul, a, b)
    u = rng.standard_normal(out.shape)
    want = pullback(u)
    a[...] = 0.0
    b[...] = np.nan
    got = pullback(u)
    np.testing.assert_array_equal(got.a, want.a)
    np.testing.assert_array_equal(got.b, want.b)
