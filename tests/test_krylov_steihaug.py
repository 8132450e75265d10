"""softgrad.linalg.cg_steihaug: the Newton step inside the region, boundary hits on ‖p‖ = radius,
negative curvature on indefinite matrices, at least the Cauchy decrease, the M-norm."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

import softgrad
from softgrad.linalg import cg_steihaug


def model(a: NDArray[np.float64], g: NDArray[np.float64], p: NDArray[np.float64]) -> float:
    return float(g @ p + 0.5 * p @ a @ p)


def spd(n: int, seed: int, lo: float = 1.0) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.linspace(lo, 10.0, n)) @ q.T


def cauchy_decrease(a: NDArray[np.float64], g: NDArray[np.float64], radius: float) -> float:
    gn = np.linalg.norm(g)
    gag = g @ a @ g
    tau = 1.0 if gag <= 0 else min(1.0, gn**3 / (radius * gag))
    return -model(a, g, -tau * radius * g / gn)


def test_inside_the_region_it_is_the_exact_solution() -> None:
    a = spd(30, 0)
    g = np.random.default_rng(1).standard_normal(30)
    r = cg_steihaug(a, g, radius=1e3, rtol=1e-12)
    assert r.reason == "converged"
    np.testing.assert_allclose(r.p, np.linalg.solve(a, -g), rtol=1e-9, atol=1e-12)
    assert r.model_decrease == pytest.approx(-model(a, g, r.p), rel=1e-12)
    assert r.norm == pytest.approx(np.linalg.norm(r.p))


def test_a_boundary_hit_lands_on_the_sphere() -> None:
    a = spd(30, 2)
    g = np.random.default_rng(3).standard_normal(30)
    r = cg_steihaug(a, g, radius=0.05)
    assert r.reason == "boundary"
    assert np.linalg.norm(r.p) == pytest.approx(0.05, rel=1e-12)
    assert r.model_decrease >= cauchy_decrease(a, g, 0.05) * (1 - 1e-12)


def test_negative_curvature_is_detected_on_indefinite_matrices() -> None:
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    a = (q * np.r_[-3.0, -0.5, np.linspace(1, 5, 18)]) @ q.T
    g = rng.standard_normal(20)
    r = cg_steihaug(a, g, radius=2.0)
    assert r.reason == "negative_curvature"
    assert r.direction is not None and r.direction @ a @ r.direction <= 0
    assert np.linalg.norm(r.p) == pytest.approx(2.0, rel=1e-12)
    assert r.model_decrease == pytest.approx(-model(a, g, r.p), rel=1e-10)
    assert r.model_decrease >= cauchy_decrease(a, g, 2.0) * (1 - 1e-12)


@given(st.integers(0, 10_000), st.floats(0.01, 10.0), st.booleans())
def test_model_decrease_is_at_least_cauchy(seed: int, radius: float, indefinite: bool) -> None:
    rng = np.random.default_rng(seed)
    n = 12
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = rng.uniform(-2 if indefinite else 0.1, 5, n)
    a = (q * eig) @ q.T
    g = rng.standard_normal(n)
    r = cg_steihaug(a, g, radius=radius, rtol=1e-10)
    assert np.linalg.norm(r.p) <= radius * (1 + 1e-10)
    assert r.model_decrease >= cauchy_decrease(a, g, radius) * (1 - 1e-9) - 1e-12
    assert r.model_decrease == pytest.approx(-model(a, g, r.p), rel=1e-8, abs=1e-12)


def test_the_preconditioned_region_is_in_the_m_norm() -> None:
    a = spd(25, 5)
    d = np.diag(a).copy()
    g = np.random.default_rng(6).standard_normal(25)
    r = cg_steihaug(a, g, radius=0.1, M=lambda x: x / d)
    assert r.reason == "boundary"
    assert np.sqrt(r.p @ (d * r.p)) == pytest.approx(0.1, rel=1e-9)
    inside = cg_steihaug(a, g, radius=1e3, M=sp.diags(1 / d), rtol=1e-12)
    np.testing.assert_allclose(inside.p, np.linalg.solve(a, -g), rtol=1e-8)


def test_zero_gradient_maxiter_and_sparse() -> None:
    a = sp.diags([1.0, 3.0, 1.0], [-1, 0, 1], shape=(100, 100), format="csr")
    r = cg_steihaug(a, np.zeros(100), radius=1.0)
    assert (r.reason, r.iterations, r.model_decrease) == ("converged", 0, 0.0)
    r = cg_steihaug(a, np.ones(100), radius=100.0, maxiter=2, rtol=0.0)
    assert (r.reason, r.iterations) == ("maxiter", 2)


class Boom(Exception):
    pass


def test_bad_input() -> None:
    a = np.eye(3)
    g = np.ones(3)
    for radius in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^cg_steihaug: radius must be finite and > 0"):
            cg_steihaug(a, g, radius=radius)
    with pytest.raises(ValueError, match=r"^cg_steihaug: n = 3 does not match A's shape"):
        cg_steihaug(np.eye(4), g, radius=1.0)
    with pytest.raises(ValueError, match=r"^cg_steihaug: g must be finite"):
        cg_steihaug(a, np.array([1.0, np.nan, 0.0]), radius=1.0)
    with pytest.raises(ValueError, match=r"^cg_steihaug: g must be 1-D"):
        cg_steihaug(a, np.ones((3, 1)), radius=1.0)
    with pytest.raises(ValueError, match=r"^cg_steihaug: M must be positive definite"):
        cg_steihaug(a, g, radius=1.0, M=lambda x: -x)
    calls: list[int] = []

    def m_inf(x: Any) -> Any:
        calls.append(1)
        return x if len(calls) == 1 else x * np.inf

    with pytest.raises(softgrad.SoftgradError, match=r"^cg_steihaug: M returned a non-finite"):
        cg_steihaug(np.diag([1.0, 2.0, 3.0]), g, radius=10.0, M=m_inf)

    def boom(x: Any) -> Any:
        raise Boom

    with pytest.raises(Boom):
        cg_steihaug(boom, g, radius=1.0)
    g0 = g.copy()
    cg_steihaug(a, g, radius=1.0)
    np.testing.assert_array_equal(g, g0)
