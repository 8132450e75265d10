"""softgrad.linalg.polynomial: the Chebyshev polynomial's spectrum bound, the Neumann series, and
fewer CG iterations with it as scipy's preconditioner."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl

from softgrad.linalg import polynomial
from test_krylov import poisson, poisson_spectrum


def residual_polynomial_on_spectrum(P: object, a: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    pa = np.column_stack([P @ e for e in np.eye(n)])  # type: ignore[operator]
    return np.linalg.eigvals(np.eye(n) - pa @ a)


@pytest.mark.parametrize("degree", [1, 3, 6])
def test_the_chebyshev_residual_meets_its_bound(degree: int) -> None:
    a = poisson(8, 8).toarray()
    lam = poisson_spectrum(8, 8)
    lo, hi = lam[0], lam[-1]
    P = polynomial(a, degree, bounds=(lo, hi))
    bound = 1 / np.cosh((degree + 1) * np.arccosh((hi + lo) / (hi - lo)))
    mu = residual_polynomial_on_spectrum(P, a)
    assert np.max(np.abs(mu)) <= bound * (1 + 1e-8)
    assert np.max(np.abs(mu)) >= bound * (1 - 1e-6)  # attained at the ends of the spectrum
    assert bound <= 2 * ((np.sqrt(hi / lo) - 1) / (np.sqrt(hi / lo) + 1)) ** (degree + 1)


def test_neumann_is_the_jacobi_scaled_series() -> None:
    rng = np.random.default_rng(0)
    a = poisson(6, 6).toarray() + np.diag(rng.uniform(0, 2, 36))
    d = np.diag(a)
    P = polynomial(a, 4, kind="neumann", bounds=(0.2, 1.9))
    w = 2 / (0.2 + 1.9)
    b = a / d[:, None]
    want = w * sum(np.linalg.matrix_power(np.eye(36) - w * b, k) for k in range(5)) / d[None, :]
    r = rng.standard_normal(36)
    np.testing.assert_allclose(P @ r, want @ r, rtol=1e-12, atol=1e-14)
    est = polynomial(sp.csr_matrix(a), 4, kind="neumann")  # bounds of D⁻¹A estimated
    mu = np.linalg.eigvalsh(np.diag(d**-0.5) @ a @ np.diag(d**-0.5))
    assert est.bounds[1] >= mu[-1] and est.bounds[0] > 0


@pytest.mark.parametrize("kind", ["chebyshev", "neumann"])
def test_fewer_cg_iterations_with_it(kind: str) -> None:
    a = poisson(40, 40)
    b = np.random.default_rng(1).standard_normal(a.shape[0])

    def iterations(M: object) -> int:
        count = [0]

        def cb(_: object) -> None:
            count[0] += 1

        x, info = spl.cg(a, b, M=M, rtol=1e-8, callback=cb)
        assert info == 0 and np.linalg.norm(a @ x - b) <= 1e-7 * np.linalg.norm(b)
        return count[0]

    plain = iterations(None)
    P = polynomial(a, 5, kind=kind)
    top = poisson_spectrum(40, 40)[-1] / (4 if kind == "neumann" else 1)  # Neumann: of D⁻¹A = A/4
    assert P.bounds[1] >= top
    with_p = iterations(P.as_linear_operator())
    assert with_p < plain / 2, (with_p, plain)


def test_bad_input() -> None:
    a = np.eye(4)
    for bounds in [(0.0, 1.0), (2.0, 1.0), (1.0, 1.0), (float("nan"), 2.0)]:
        with pytest.raises(ValueError, match=r"^polynomial: bounds must satisfy 0 < lo < hi"):
            polynomial(a, 2, bounds=bounds)
    with pytest.raises(TypeError, match=r"^polynomial: bounds must be a pair"):
        polynomial(a, 2, bounds=3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^polynomial: kind must be"):
        polynomial(a, 2, kind="jacobi")
    with pytest.raises(ValueError, match=r"^polynomial: degree must be >= 0"):
        polynomial(a, -1)
    with pytest.raises(ValueError, match=r"^polynomial: A must be positive definite"):
        polynomial(-np.eye(4) - 0.1 * np.ones((4, 4)), 2)
    with pytest.raises(ValueError, match=r"^polynomial: diagonal must be finite and > 0"):
        polynomial(np.diag([1.0, -1.0, 1.0, 1.0]), 2, kind="neumann")
    P = polynomial(a, 2, bounds=(0.5, 2.0))
    with pytest.raises(ValueError, match=r"^polynomial: r must have shape \(4,\)"):
        P.solve(np.ones(3))
    assert "chebyshev" in repr(P) and P.shape == (4, 4)
