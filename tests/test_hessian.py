"""softgrad.hessian and softgrad.hvp (python/softgrad/hessian.py,
rust/softgrad-core/src/estimate/fd/{hessian.rs, sparse.rs} with a star colouring).

Oracles: analytic Hessians (Rosenbrock, quadratics, logistic regression), the dense estimate for every
sparse one (bit for bit from values; to rounding from a gradient), numdifftools' accuracy class
(``sqrt(eps)`` from values, ``eps^(2/3)`` from a gradient); star colourings checked by hypothesis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod

import softgrad
from softgrad import hessian, hvp
from softgrad._core import colour as C

RNG = np.random.default_rng(3)
X6 = RNG.uniform(-1.2, 1.2, 6)
A = RNG.standard_normal((6, 6))
Q = A @ A.T + np.eye(6)


def quad(x: NDArray[Any]) -> float:
    return float(0.5 * x @ Q @ x + np.arange(1, 7) @ x)


def quad_grad(x: NDArray[Any]) -> NDArray[Any]:
    return Q @ x + np.arange(1, 7)


# logistic regression: f(w) = sum log(1 + exp(-y Xw)) + 0.5 |w|^2
FX = RNG.standard_normal((40, 6))
FY = np.sign(RNG.standard_normal(40))


def logreg(w: NDArray[Any]) -> float:
    return float(np.sum(np.logaddexp(0.0, -FY * (FX @ w))) + 0.5 * w @ w)


def logreg_grad(w: NDArray[Any]) -> NDArray[Any]:
    s = 1.0 / (1.0 + np.exp(FY * (FX @ w)))
    return -(FX.T @ (FY * s)) + w


def logreg_hess(w: NDArray[Any]) -> NDArray[Any]:
    p = 1.0 / (1.0 + np.exp(-FY * (FX @ w)))
    return FX.T @ (FX * (p * (1 - p))[:, None]) + np.eye(w.size)


def rel(h: Any, want: NDArray[Any]) -> float:
    h = h.toarray() if sp.issparse(h) else np.asarray(h)
    return float(np.max(np.abs(h - want)) / max(1.0, float(np.max(np.abs(want)))))


CASES = [(rosen, rosen_der, rosen_hess), (quad, quad_grad, lambda x: Q), (logreg, logreg_grad, logreg_hess)]
IDS = ["rosen", "quad", "logreg"]


@pytest.mark.parametrize(("f", "g", "h"), CASES, ids=IDS)
def test_dense_hessians_are_accurate_and_symmetric(f: Any, g: Any, h: Any) -> None:
    r = hessian(f, X6, full_output=True)
    assert rel(r.hess, h(X6)) < 1e-6  # sqrt(eps) relative to the scale of f
    assert np.array_equal(r.hess, r.hess.T)
    assert r.nfev == 6 * 6 + 6 + 1 and r.error.shape == (6, 6)
    np.testing.assert_allclose(r.step, np.finfo(float).eps ** 0.25 * np.maximum(1, np.abs(X6)))
    rg = hessian(None, X6, grad=g, full_output=True)
    assert rel(rg.hess, h(X6)) < 1e-8 and np.array_equal(rg.hess, rg.hess.T)
    assert rg.nfev == 12
    r4 = hessian(None, X6, grad=g, order=4)
    assert rel(r4, h(X6)) < 1e-10


def test_a_quadratic_is_exact_up_to_rounding_with_large_steps() -> None:
    H = hessian(quad, X6, step=0.5)
    np.testing.assert_allclose(H, Q, rtol=1e-12, atol=1e-12)


def tridiag_pattern(n: int) -> NDArray[np.bool_]:
    return np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= 1


@pytest.mark.parametrize("n", [2, 7, 50])
def test_sparse_hessian_from_values_equals_the_dense_one_and_costs_4n(n: int) -> None:
    x = np.linspace(-0.8, 1.1, n)
    pattern = tridiag_pattern(n)
    r = hessian(rosen, x, sparsity=pattern, full_output=True)
    assert isinstance(r.hess, sp.csr_array) and r.hess.nnz == pattern.sum()
    assert r.nfev == 1 + 2 * n + 2 * (n - 1)
    dense = hessian(rosen, x)
    np.testing.assert_array_equal(r.hess.toarray()[pattern], dense[pattern])
    assert rel(r.hess, rosen_hess(x)) < 1e-6
    assert (r.hess != r.hess.T).nnz == 0


@pytest.mark.parametrize("n", [4, 30, 1000])
def test_sparse_hessian_from_a_gradient_takes_3_colours_for_a_tridiagonal_one(n: int) -> None:
    x = np.linspace(-0.8, 1.1, n)
    r = hessian(None, x, grad=rosen_der, sparsity=sp.csr_array(tridiag_pattern(n)), full_output=True)
    assert r.nfev == 6 and int(r.colours.max()) + 1 == 3
    assert rel(r.hess, rosen_hess(x)) < 1e-8 and (r.hess != r.hess.T).nnz == 0
    if n <= 30:
        dense = hessian(None, x, grad=rosen_der)
        np.testing.assert_allclose(r.hess.toarray(), dense * tridiag_pattern(n), rtol=1e-9, atol=1e-9)


def test_an_arrowhead_hessian_from_a_gradient_takes_2_colours() -> None:
    n = 40

    def f(x: NDArray[Any]) -> float:  # x0 couples with everything: an arrowhead Hessian
        return float(x[0] ** 2 * np.sum(x[1:] ** 2) + np.sum(np.cos(x)))

    def g(x: NDArray[Any]) -> NDArray[Any]:
        out = -np.sin(x)
        out[0] += 2 * x[0] * np.sum(x[1:] ** 2)
        out[1:] += 2 * x[0] ** 2 * x[1:]
        return out

    x = np.linspace(0.1, 1, n)
    arrow = np.eye(n, dtype=bool)
    arrow[0, :] = arrow[:, 0] = True
    r = hessian(f, x, grad=g, sparsity=arrow, full_output=True)
    assert int(r.colours.max()) + 1 == 2 and r.nfev == 4
    dense = hessian(f, x, grad=g)
    np.testing.assert_allclose(r.hess.toarray(), dense * arrow, rtol=1e-8, atol=1e-8)
    # from values: 1 + 2n + 2(n - 1) evaluations, the same entries as dense
    rv = hessian(f, x, sparsity=arrow, full_output=True)
    assert rv.nfev == 1 + 2 * n + 2 * (n - 1)
    np.testing.assert_allclose(rv.hess.toarray(), dense * arrow, rtol=1e-6, atol=1e-6)


def symmetric_valid_star(pattern: NDArray[Any], colours: NDArray[Any]) -> bool:
    n = len(pattern)
    adj = [set(np.flatnonzero(pattern[i]).tolist()) - {i} for i in range(n)]
    for v in range(n):
        for w in adj[v]:
            if colours[v] == colours[w]:
                return False
            for x in adj[w] - {v}:
                for y in adj[x] - {w, v}:
                    if colours[v] == colours[x] and colours[w] == colours[y]:
                        return False
    return True


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 16), st.floats(0.0, 0.4), st.integers(0, 2**32 - 1))
def test_star_colourings_are_valid_and_read_every_entry(n: int, density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random((n, n)) < density
    p = p | p.T | np.eye(n, dtype=bool)
    a = sp.csr_array(p)
    for ordering in ("auto", "smallest_last", "largest_first", "natural"):
        c, _, _ = C.star_colouring(a.indptr.astype(np.int64), a.indices.astype(np.int64), n, ordering)
        assert symmetric_valid_star(p, c)
    # and the Hessian of a quadratic with that pattern comes out exactly (up to rounding)
    B = np.where(p, rng.standard_normal((n, n)), 0.0)
    H = B + B.T
    x = rng.standard_normal(n)
    got = hessian(None, x, grad=lambda v: H @ v, sparsity=p)
    np.testing.assert_allclose(got.toarray(), H, rtol=1e-8, atol=1e-8)


def test_hvp_from_a_gradient_and_from_values() -> None:
    v = RNG.standard_normal(6)
    for f, g, h in CASES:
        want = h(X6) @ v
        r = hvp(None, X6, v, grad=g, full_output=True)
        assert r.nfev == 2 and rel(r.hess, want) < 1e-8
        rv = hvp(f, X6, v, full_output=True)
        assert rv.nfev == 4 * 6 and rel(rv.hess, want) < 1e-6
    np.testing.assert_allclose(hvp(None, X6, v, grad=rosen_der), rosen_hess_prod(X6, v), rtol=1e-8)
    vec = hvp(None, X6, v, grad=lambda X: np.stack([rosen_der(p) for p in X]), vectorized=True)
    np.testing.assert_array_equal(vec, hvp(None, X6, v, grad=rosen_der))
    assert np.all(hvp(rosen, X6, np.zeros(6)) == 0)
    assert hvp(rosen, X6.astype(np.float32), v).dtype == np.float32


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: hessian(rosen, X6, method="forward"),
            ValueError,
            r"^hessian: method must be 'central' from values",
        ),
        (lambda: hessian(rosen, X6, order=4), ValueError, r"^hessian: order must be 2 from values"),
        (
            lambda: hessian(rosen, X6, nan_policy="omit"),
            ValueError,
            r"^hessian: nan_policy='omit' needs grad=",
        ),
        (lambda: hessian(rosen, X6, step=0.0), ValueError, r"^hessian: step must be finite and > 0"),
        (lambda: hessian(rosen, X6, step=1e-300), ValueError, r"^hessian: step .* too small"),
        (
            lambda: hessian(rosen, X6, sparsity=np.eye(5)),
            ValueError,
            r"^hessian: sparsity must have shape \(6, 6\)",
        ),
        (lambda: hessian(rosen, np.r_[X6[:5], np.nan]), ValueError, r"^hessian: x must be finite"),
        (
            lambda: hessian(rosen, X6, grad=lambda v: v[:3]),
            ValueError,
            r"^hessian: grad must return an array of x's shape",
        ),
        (
            lambda: hessian(rosen, X6, grad=rosen_der, colouring="x", sparsity=np.eye(6)),
            ValueError,
            r"^hessian: colouring",
        ),
        (lambda: hvp(rosen, X6, np.ones(5)), ValueError, r"^hvp: v must have x's shape"),
        (lambda: hvp(rosen, X6, np.ones(6), step=-1.0), ValueError, r"^hvp: step must be finite and > 0"),
        (lambda: hvp(rosen, X6, [np.nan] * 6), ValueError, r"^hvp: v must be finite"),
        (
            lambda: hessian(lambda v: np.nan, X6),
            ValueError,
            r"^hessian: f returned a non-finite value \(nan\) at x",
        ),
    ],
)
def test_bad_input(call: Any, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_the_callers_x_is_never_modified_and_f_gets_copies() -> None:
    x = X6.copy()
    seen = []

    def f(v: NDArray[Any]) -> float:
        seen.append(v)
        out = rosen(v)
        v[...] = 1e300
        return out

    hessian(f, x)
    hessian(f, x, sparsity=tridiag_pattern(6))
    hvp(f, x, np.ones(6))
    np.testing.assert_array_equal(x, X6)
    assert all(not np.shares_memory(v, x) for v in seen)


def test_hessian_is_exported_and_documented() -> None:
    assert softgrad.hessian is hessian and softgrad.hvp is hvp
    assert "Abramowitz" in (hessian.__doc__ or "") and "4n evaluations" in (hvp.__doc__ or "")


def test_hostile_x_read_only_strided_integer_2d_empty() -> None:
    ro = X6.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(hessian(rosen, ro), hessian(rosen, X6))
    strided = np.repeat(X6, 2)[::2]
    np.testing.assert_array_equal(hessian(rosen, strided), hessian(rosen, X6))
    assert hessian(lambda v: float(np.sum(v**2)), [1, 2]).dtype == np.float64
    x2 = X6.reshape(2, 3)
    H2 = hessian(lambda v: rosen(v.ravel()), x2)
    assert H2.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(H2.reshape(6, 6), hessian(rosen, X6))
    assert hessian(lambda v: 1.0, np.zeros(0)).shape == (0, 0)
    assert hvp(lambda v: 1.0, np.zeros(0), np.zeros(0)).shape == (0,)
    h32 = hessian(None, X6.astype(np.float32), grad=rosen_der, sparsity=tridiag_pattern(6))
    assert h32.dtype == np.float32
    np.testing.assert_allclose(
        h32.toarray(), rosen_hess(X6.astype(np.float32)) * tridiag_pattern(6), rtol=2e-2
    )
