"""softgrad.gradient / softgrad.jacobian by finite differences (python/softgrad/fd.py).

Oracles: analytic gradients (Rosenbrock, quadratics, exp/sin compositions) with error bounds that
follow from each stencil's order; scipy's ``approx_derivative`` with the same steps; exactness on
polynomials (hypothesis); every evaluation point recorded (bounds, caller's x, counts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import _numdiff, rosen, rosen_der

import softgrad
from softgrad import gradient, jacobian

EPS64 = float(np.finfo(np.float64).eps)


class Recorder:
    """Wraps ``f`` and keeps a copy of every point it was called with."""

    def __init__(self, f: Callable[[Any], Any]) -> None:
        self.f, self.points = f, []  # type: ignore[var-annotated]

    def __call__(self, x: Any) -> Any:
        self.points.append(np.array(x, copy=True))
        return self.f(x)


def comp(x: NDArray[Any]) -> Any:  # exp/sin composition with a known gradient
    return np.sum(np.sin(x) * np.exp(0.5 * x)) + np.exp(np.sum(x) / x.size)


def comp_grad(x: NDArray[Any]) -> NDArray[Any]:
    return (np.cos(x) + 0.5 * np.sin(x)) * np.exp(0.5 * x) + np.exp(np.sum(x) / x.size) / x.size


RNG = np.random.default_rng(7)
X5 = RNG.uniform(-1.5, 1.5, 5)
A = RNG.standard_normal((5, 5))
Q = A @ A.T + np.eye(5)


def quad(x: NDArray[Any]) -> Any:
    return 0.5 * x @ Q @ x + np.arange(1, 6) @ x


def quad_grad(x: NDArray[Any]) -> NDArray[Any]:
    return Q @ x + np.arange(1, 6)


def relerr(g: NDArray[Any], want: NDArray[Any]) -> float:
    return float(np.max(np.abs(g - want)) / max(1.0, float(np.max(np.abs(want)))))


# ---------------------------------------------------------------------------------------------
# accuracy against analytic gradients


# The bound for accuracy order q with the automatic step: about eps^(q/(q+1)) times the size of
# the derivatives (a factor 100 for the Rosenbrock function's large curvature).
@pytest.mark.parametrize(
    ("method", "order", "bound"),
    [
        ("forward", 1, 1e-6),
        ("backward", 1, 1e-6),
        ("forward", 2, 1e-8),
        ("central", 2, 1e-9),
        ("central", 4, 1e-11),
        ("central", 6, 1e-11),
        ("central", 8, 1e-11),
        ("complex", 2, 1e-14),
        ("richardson", 2, 1e-11),
        ("richardson", 4, 1e-11),
    ],
)
@pytest.mark.parametrize(
    ("f", "df"), [(rosen, rosen_der), (quad, quad_grad), (comp, comp_grad)], ids=["rosen", "quad", "comp"]
)
def test_accuracy_follows_the_order(method: str, order: int, bound: float, f: Any, df: Any) -> None:
    scale = 100.0 if f is rosen and method in ("forward", "backward") else 1.0
    r = gradient(f, X5, method=method, order=order, full_output=True)
    assert relerr(r.grad, df(X5)) <= bound * scale
    if method == "richardson":  # the error estimate bounds the true error
        assert np.all(np.abs(r.grad - df(X5)) <= r.error)


def test_complex_step_is_exact_to_rounding_and_float32_is_float32() -> None:
    g = gradient(comp, X5, method="complex")
    np.testing.assert_allclose(g, comp_grad(X5), rtol=4 * EPS64, atol=4 * EPS64)
    g32 = gradient(comp, X5.astype(np.float32), method="complex")
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, comp_grad(X5), rtol=1e-5)


@pytest.mark.parametrize("method", ["forward", "central", "richardson"])
def test_float32_uses_float32_points_and_the_float32_step(method: str) -> None:
    x = X5.astype(np.float32)
    rec = Recorder(lambda v: float(np.sum(np.sin(v.astype(np.float64)))))
    r = gradient(rec, x, method=method, full_output=True)
    assert r.grad.dtype == np.float32 and all(p.dtype == np.float32 for p in rec.points)
    tol = {"forward": 1e-3, "central": 1e-4, "richardson": 1e-5}[method]
    np.testing.assert_allclose(r.grad, np.cos(x.astype(np.float64)), atol=tol)


def test_x_of_any_shape_gives_a_gradient_of_its_shape() -> None:
    x = X5[:4].reshape(2, 2)
    g = gradient(lambda v: np.sum(v**3) + v[0, 1] * v[1, 0], x)
    want = 3 * x**2 + np.array([[0, x[1, 0]], [x[0, 1], 0]])
    np.testing.assert_allclose(g, want, rtol=1e-9)
    g0 = gradient(lambda v: float(np.sin(v)), 0.3)
    assert g0.shape == () and abs(g0 - np.cos(0.3)) < 1e-10


def test_the_jacobian_of_vector_functions_has_shape_out_by_in() -> None:
    def f(v: NDArray[Any]) -> NDArray[Any]:
        return np.array([[v[0] * v[1], np.sin(v[2])], [np.exp(v[0]), v[1] ** 2]])

    x = np.array([0.3, -0.7, 1.1])
    want = np.zeros((2, 2, 3))
    want[0, 0, :2] = [x[1], x[0]]
    want[0, 1, 2] = np.cos(x[2])
    want[1, 0, 0] = np.exp(x[0])
    want[1, 1, 1] = 2 * x[1]
    for method in ("central", "complex", "richardson"):
        r = jacobian(f, x, method=method, full_output=True)
        assert r.jac.shape == (2, 2, 3) and r.grad is None
        np.testing.assert_allclose(r.jac, want, atol=1e-9)
    vec = jacobian(lambda X: np.stack([f(p) for p in X]), x, vectorized=True)
    np.testing.assert_array_equal(vec, jacobian(f, x))


# ---------------------------------------------------------------------------------------------
# against scipy


@pytest.mark.parametrize(("method", "scipy_method"), [("forward", "2-point"), ("central", "3-point")])
def test_same_step_rule_same_values_as_scipy_approx_derivative(method: str, scipy_method: str) -> None:
    x = np.abs(X5) + 0.1  # scipy's step follows the sign of x; ours is positive
    r = gradient(rosen, x, method=method, full_output=True)
    want = _numdiff.approx_derivative(rosen, x, method=scipy_method)
    np.testing.assert_allclose(r.grad, want, rtol=1e-11, atol=1e-9)
    h = _numdiff._compute_absolute_step(None, x, np.float64(rosen(x)), scipy_method)
    np.testing.assert_array_equal(r.step, h)  # the same automatic step
    # any x, with scipy given our steps
    x = X5
    r = gradient(comp, x, method=method, full_output=True)
    want = _numdiff.approx_derivative(comp, x, method=scipy_method, abs_step=r.step)
    np.testing.assert_allclose(r.grad, want, rtol=1e-10, atol=1e-10)


def test_complex_step_agrees_with_scipy_cs() -> None:
    want = _numdiff.approx_derivative(comp, X5, method="cs")
    np.testing.assert_allclose(gradient(comp, X5, method="complex"), want, rtol=1e-14, atol=1e-14)


def test_bounded_jacobian_agrees_with_scipy_at_the_bounds() -> None:
    def f(v: NDArray[Any]) -> NDArray[Any]:
        return np.array([np.exp(v[0]) * v[1], np.log1p(v[1]) + v[0] ** 3])

    x, lb, ub = np.array([1.0, 0.0]), np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    want = _numdiff.approx_derivative(f, x, method="3-point", bounds=(lb, ub))
    got = jacobian(f, x, bounds=(lb, ub))
    np.testing.assert_allclose(got, want, rtol=1e-8)


def test_richardson_agrees_with_scipy_differentiate() -> None:
    from scipy.differentiate import derivative

    want = derivative(lambda t: np.sin(t) * np.exp(0.5 * t), X5).df
    got = gradient(lambda v: np.sum(np.sin(v) * np.exp(0.5 * v)), X5, method="richardson")
    np.testing.assert_allclose(got, want, rtol=1e-11)


# ---------------------------------------------------------------------------------------------
# properties


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(
        [
            ("forward", 1),
            ("forward", 3),
            ("backward", 2),
            ("central", 2),
            ("central", 4),
            ("central", 6),
            ("central", 8),
            ("richardson", 2),
        ]
    ),
    st.lists(st.floats(-2, 2), min_size=1, max_size=4),
    st.lists(st.floats(-1, 1), min_size=9, max_size=9),
)
def test_exact_on_polynomials_of_degree_up_to_the_order(
    mo: tuple[str, int], xs: list[float], coef: list[float]
) -> None:
    method, order = mo
    x = np.array(xs)
    deg = order if method != "richardson" else 2 * 6 + order - 1
    c = np.array(coef[: min(deg, 8) + 1])

    def p(v: NDArray[Any]) -> Any:
        return sum(np.polyval(c, v[i] * (i + 1) / 4) for i in range(v.size))

    want = np.array([np.polyval(np.polyder(c), xi * (i + 1) / 4) * (i + 1) / 4 for i, xi in enumerate(x)])
    r = gradient(p, x, method=method, order=order, step=0.1, full_output=True)
    # no truncation error: the rounding error is all, and the estimate bounds it
    assert np.all(np.abs(r.grad - want) <= 8 * r.error + 1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["forward", "backward", "central", "richardson"]),
    st.sampled_from([1, 2, 4, 8]),
    st.lists(st.tuples(st.floats(-3, 3), st.floats(0, 1), st.floats(1e-9, 2)), min_size=1, max_size=4),
    st.booleans(),
)
def test_bounds_are_never_left(method: str, order: int, boxes: list[Any], f32: bool) -> None:
    if method in ("central", "richardson") and order % 2:
        order = 2
    lo = np.array([b[0] for b in boxes])
    width = np.array([b[2] for b in boxes])
    hi = lo + width
    x = lo + np.array([b[1] for b in boxes]) * width
    dt = np.float32 if f32 else np.float64
    x = x.astype(dt)
    inside = (x >= lo) & (x <= hi) & (lo < hi)
    if not inside.all() or (f32 and np.any(lo.astype(dt) == hi.astype(dt))):
        return
    rec = Recorder(lambda v: float(np.sum(np.exp(v.astype(np.float64)))))
    try:
        g = gradient(rec, x, method=method, order=order, bounds=(lo, hi))
    except ValueError as e:  # a box narrower than the dtype can step in: refused, never left
        assert "step" in str(e)
        return
    for pt in rec.points:
        assert np.all(pt >= lo) and np.all(pt <= hi), (pt, lo, hi)
    wide = width > 1e-3
    tol = 1e-2 if f32 or method in ("forward", "backward") else 1e-5
    np.testing.assert_allclose(g[wide], np.exp(x[wide].astype(np.float64)), rtol=tol)


def test_a_coordinate_on_its_upper_bound_with_a_tiny_lower_bound_does_not_hang() -> None:
    # Found by hypothesis: the backward node x - 2 (x / 2) = 0 lies below lo = 1e-300, and was walked
    # back into the box one ulp at a time (2^70 steps). It is clamped now.
    lo, x = np.array([1e-300]), np.array([4.3366825117098036e-06])
    rec = Recorder(lambda v: float(np.sum(np.exp(v))))
    g = gradient(rec, x, method="richardson", order=2, bounds=(lo, x))
    assert all(lo[0] <= p[0] <= x[0] for p in rec.points)
    np.testing.assert_allclose(g, np.exp(x), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# the evaluation contract


@pytest.mark.parametrize(
    ("method", "order", "per", "center"),
    [
        ("forward", 1, 1, 1),
        ("backward", 3, 3, 1),
        ("central", 2, 2, 0),
        ("central", 8, 8, 0),
        ("complex", None, 1, 0),
        ("richardson", 2, 12, 0),
        ("richardson", 4, 24, 0),
    ],
)
def test_nfev_is_exact(method: str, order: int | None, per: int, center: int) -> None:
    rec = Recorder(comp)
    r = gradient(rec, X5, method=method, order=order, full_output=True)
    assert r.nfev == len(rec.points) == per * X5.size + center
    calls = []

    def fv(X: NDArray[Any]) -> NDArray[Any]:
        calls.append(X.shape[0])
        return np.array([comp(p) for p in X])

    rv = gradient(fv, X5, method=method, order=order, vectorized=True, batch_size=7, full_output=True)
    assert rv.nfev == sum(calls) == r.nfev and max(calls) <= 7
    np.testing.assert_array_equal(rv.grad, r.grad)


@pytest.mark.parametrize(("n", "dtype"), [(1000, np.float64), (1000, np.float32), (8200, np.float64)])
def test_vectorized_default_batches_stay_in_cache(n: int, dtype: Any) -> None:
    """Without batch_size a vectorized f gets batches of about 256 KiB of points (at least 4), and
    the estimate is the one of a single call on every point; with an executor, one call."""
    from concurrent.futures import ThreadPoolExecutor

    x = np.random.default_rng(n).uniform(-1, 1, n).astype(dtype)
    calls: list[int] = []

    def fv(X: NDArray[Any]) -> NDArray[Any]:
        calls.append(X.shape[0])
        return np.sum(X * X, axis=1) + np.sin(X[:, 0])

    got = gradient(fv, x, method="forward", vectorized=True)
    per = max(4, (1 << 18) // (n * np.dtype(dtype).itemsize))
    assert sum(calls) == n + 1 and max(calls) == min(per, n) and len(calls) > 1
    calls.clear()
    whole = n + 1 if n <= 1000 else 7  # past ~1000, one call on every point needs n^2 memory
    one = gradient(fv, x, method="forward", vectorized=True, batch_size=whole)
    assert max(calls) == min(whole, n) and sum(calls) == n + 1
    np.testing.assert_array_equal(got, one)
    if n <= 1000:
        calls.clear()
        with ThreadPoolExecutor(2) as pool:
            got = gradient(fv, x, method="forward", vectorized=True, executor=pool)
        np.testing.assert_array_equal(got, one)
        assert calls == [1, n]


def test_bounds_add_the_center_evaluation() -> None:
    rec = Recorder(comp)
    r = gradient(rec, X5, bounds=(X5, np.inf), full_output=True)  # every coordinate at its lower bound
    assert r.nfev == len(rec.points) == 2 * X5.size + 1
    np.testing.assert_allclose(r.grad, comp_grad(X5), rtol=1e-8)


def test_vectorized_f_receives_k_by_n() -> None:
    shapes = []

    def f(X: NDArray[Any]) -> NDArray[Any]:
        shapes.append(X.shape)
        return np.sum(X**2, axis=1)

    g = gradient(f, X5, vectorized=True)
    assert shapes == [(10, 5)]
    np.testing.assert_allclose(g, 2 * X5, rtol=1e-9)


def test_the_callers_x_is_never_modified_nor_handed_to_f() -> None:
    x = X5.copy()
    x.flags.writeable = True
    seen = []

    def f(v: NDArray[Any]) -> float:
        seen.append(v)
        out = float(np.sum(v**2))
        v[...] = 1e300  # a hostile f writes into its argument
        return out

    for method in ("forward", "central", "richardson"):
        gradient(f, x, method=method, bounds=(-10, 10))
    np.testing.assert_array_equal(x, X5)
    assert all(not np.shares_memory(v, x) for v in seen)


# ---------------------------------------------------------------------------------------------
# hostile input


class Boom(Exception):
    pass


def test_an_exception_of_f_propagates_unchanged() -> None:
    calls = [0]

    def f(v: NDArray[Any]) -> float:
        calls[0] += 1
        if calls[0] == 3:
            raise Boom("mine", 42)
        return float(v.sum())

    with pytest.raises(Boom) as info:
        gradient(f, X5)
    assert info.value.args == ("mine", 42)
    assert any("evaluation point 2" in n for n in getattr(info.value, "__notes__", []))
    with pytest.raises(KeyboardInterrupt):
        gradient(lambda v: (_ for _ in ()).throw(KeyboardInterrupt), X5)


@pytest.mark.parametrize(
    ("ret", "match"),
    [
        (np.nan, "returned a non-finite value \\(nan\\) at evaluation point 0 \\(of 10: coordinate 0"),
        (np.inf, "returned a non-finite value \\(inf\\)"),
        (np.ones(2), "must return a scalar, got shape \\(2,\\)"),
        (np.ones((1,)), "must return a scalar"),
        ("1.0", "must return real numbers, got str"),
        (None, "must return real numbers"),
        (1 + 2j, "must return real values"),
    ],
)
def test_bad_values_of_f_are_value_errors_naming_f_and_the_point(ret: Any, match: str) -> None:
    with pytest.raises(ValueError, match=f"^gradient: f {match}"):
        gradient(lambda v: ret, X5)


def test_bad_values_of_vectorized_f() -> None:
    with pytest.raises(ValueError, match=r"^gradient: f must return shape \(10,\), got shape \(10, 1\)"):
        gradient(lambda X: np.ones((X.shape[0], 1)), X5, vectorized=True)
    with pytest.raises(ValueError, match=r"non-finite value \(nan\) at evaluation point 3 "):
        gradient(lambda X: np.where(np.arange(len(X)) == 3, np.nan, 1.0), X5, vectorized=True)
    with pytest.raises(ValueError, match=r"^jacobian: f must return shape \(10, 2\), got shape \(10, 3\)"):
        jacobian(
            lambda X: np.ones((X.shape[0], 3 if X.shape[0] == 10 else 2)),
            X5,
            vectorized=True,
            bounds=(X5, np.inf),
            method="central",
        )


def test_a_jacobian_with_a_changing_output_shape_is_refused() -> None:
    calls = [0]

    def f(v: NDArray[Any]) -> NDArray[Any]:
        calls[0] += 1
        return np.ones(2 if calls[0] < 4 else 3)

    with pytest.raises(
        ValueError, match=r"^jacobian: f must return shape \(2,\), got shape \(3,\) at evaluation point 3"
    ):
        jacobian(f, X5)


def test_complex_step_on_an_f_that_drops_the_imaginary_part_is_detected() -> None:
    with pytest.raises(ValueError, match="drops the imaginary part"):
        gradient(lambda v: float(np.sum(v.real**2)), X5, method="complex")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(method="spline"), ValueError, "^gradient: method must be one of"),
        (dict(method=None), ValueError, "^gradient: method must be one of"),
        (dict(order=3), ValueError, "^gradient: order must be one of 2, 4, 6, 8"),
        (dict(order=10), ValueError, "^gradient: order must be one of 2, 4, 6, 8"),
        (dict(method="forward", order=0), ValueError, "^gradient: order must be one of 1, ..., 8"),
        (dict(order=-1), ValueError, "^gradient: order must be >= 0"),
        (dict(order=2.0), TypeError, "^gradient: order must be an int"),
        (dict(order=True), TypeError, "^gradient: order must be an int"),
        (dict(method="complex", order=4), ValueError, "^gradient: order must be 2"),
        (dict(method="richardson", n_steps=1), ValueError, "^gradient: n_steps must be in 2..=16"),
        (dict(method="richardson", n_steps=17), ValueError, "^gradient: n_steps must be in 2..=16"),
        (dict(step=0.0), ValueError, "^gradient: step must be finite and > 0, got 0"),
        (dict(step=-1e-3), ValueError, "^gradient: step must be finite and > 0"),
        (dict(step=np.nan), ValueError, "^gradient: step must be finite and > 0"),
        (dict(step=np.ones(3)), ValueError, "^gradient: step must be a scalar or have x's shape"),
        (dict(step="big"), TypeError, "^gradient: step must be a positive scalar"),
        (dict(step=1e-300), ValueError, "^gradient: step .* is too small to move x"),
        (dict(bounds=(0.0,)), ValueError, "^gradient: bounds must be a pair"),
        (
            dict(bounds=(np.zeros(3), 1.0)),
            ValueError,
            "^gradient: bounds must be scalars or arrays broadcastable",
        ),
        (dict(bounds=(2.0, 3.0)), ValueError, "^gradient: bounds must satisfy lower <= x <= upper"),
        (dict(bounds=(1.0, 1.0)), ValueError, "^gradient: bounds must satisfy"),
        (dict(bounds=(np.nan, 1.0)), ValueError, "^gradient: bounds must satisfy"),
        (dict(noise=-1.0), ValueError, "^gradient: noise must be finite and >= 0"),
        (dict(noise="x"), ValueError, "^gradient: noise must be a float or 'estimate', got 'x'"),
        (dict(noise=[1e-3]), TypeError, "^gradient: noise must be a real scalar"),
        (dict(vectorized=1), TypeError, "^gradient: vectorized must be a bool"),
        (dict(vectorized=True, batch_size=0), ValueError, "^gradient: batch_size must be >= 1"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], exc: type, match: str) -> None:
    calls = []
    with pytest.raises(exc, match=match):
        gradient(lambda v: calls.append(1) or float(np.sum(v)), np.array([-2.0, 3.0]), **kwargs)
    assert not calls  # checked before f is ever called


@pytest.mark.parametrize(
    ("x", "exc", "match"),
    [
        (
            np.array([1 + 1j]),
            TypeError,
            "^gradient: x must be a float32 or float64 array, got dtype complex128",
        ),
        (np.array([1.0], np.float16), TypeError, "got dtype float16"),
        (np.array([1.0], np.longdouble), TypeError, "got dtype float128"),
        (np.array(["a"]), TypeError, "got dtype <U1"),
        (np.array([1.0, np.nan]), ValueError, r"^gradient: x must be finite, got NaN at index 1"),
        (np.array([np.inf]), ValueError, "^gradient: x must be finite"),
    ],
)
def test_bad_x(x: Any, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        gradient(lambda v: 0.0, x)


def test_integer_x_is_float64_and_f_must_be_callable() -> None:
    assert gradient(lambda v: float(np.sum(v**2)), [1, 2]).dtype == np.float64
    with pytest.raises(TypeError, match=r"^jacobian: f must be callable"):
        jacobian(3, X5)  # type: ignore[arg-type]


def test_the_estimate_object() -> None:
    r = gradient(quad, X5, method="central", order=4, full_output=True)
    assert isinstance(r, softgrad.Estimate) and r.method == "central" and r.jac is None
    assert r.error.shape == r.step.shape == X5.shape and np.all(r.error > 0)
    assert np.all(np.abs(r.grad - quad_grad(X5)) <= 10 * r.error)
    np.testing.assert_array_equal(r.step, np.finfo(float).eps ** 0.2 * np.maximum(1, np.abs(X5)))
    big = gradient(quad, X5, noise=1e-6, full_output=True)
    assert np.all(big.step > r.step) and np.all(big.error > r.error)


def test_empty_x() -> None:
    assert gradient(lambda v: 1.0, np.zeros(0)).shape == (0,)
    assert jacobian(lambda v: np.ones(3), np.zeros(0)).shape == (3, 0)


@pytest.mark.parametrize("wrap", [float, np.float64, np.float32, np.asarray, lambda v: np.asarray([v])[0]])
def test_every_kind_of_real_scalar_result_is_accepted(wrap: Any) -> None:
    # float32 values of a float64 x: noise of f at float32's epsilon, which the step must know.
    noise = float(np.finfo(np.float32).eps) if wrap is np.float32 else None
    g = gradient(lambda v: wrap(np.sum(v**2)), X5, noise=noise)
    np.testing.assert_allclose(g, 2 * X5, rtol=1e-4 if wrap is np.float32 else 1e-9)
    assert gradient(lambda v: 3, X5).tolist() == [0.0] * 5  # an int is a real number too


def test_the_jacobian_of_a_scalar_f_is_its_gradient() -> None:
    np.testing.assert_array_equal(jacobian(comp, X5), gradient(comp, X5))
    np.testing.assert_array_equal(jacobian(comp, X5, method="forward"), gradient(comp, X5, method="forward"))


# ---------------------------------------------------------------------------------------------
# noise


def noisy(x: NDArray[Any]) -> Any:
    """comp plus deterministic noise of standard deviation 1e-6 / sqrt(2) (a fast-spinning phase)."""
    return comp(x) + 1e-6 * np.sin(1e9 * float(np.sum(x * np.arange(1, x.size + 1))))


@pytest.mark.parametrize("vectorized", [False, True])
def test_an_estimated_noise_sets_the_step(vectorized: bool) -> None:
    f: Any = (lambda X: np.array([noisy(p) for p in X])) if vectorized else noisy
    r = gradient(f, X5, noise="estimate", vectorized=vectorized, full_output=True)
    assert 2e-7 < r.noise < 3e-6
    assert r.nfev in (10 + 9, 10 + 18)  # central: 2n, plus 9 per ECnoise try
    plain = gradient(f, X5, vectorized=vectorized)
    assert relerr(r.grad, comp_grad(X5)) < relerr(plain, comp_grad(X5)) / 10
    assert relerr(r.grad, comp_grad(X5)) < 1e-2
    assert np.all(np.abs(r.grad - comp_grad(X5)) < 10 * r.error + 1e-3)
    given = gradient(f, X5, noise=r.noise, vectorized=vectorized)
    np.testing.assert_array_equal(given, r.grad)


def test_noise_estimate_of_a_jacobian_and_its_errors() -> None:
    r = jacobian(lambda v: np.array([noisy(v), 2 * noisy(v)]), X5, noise="estimate", full_output=True)
    assert 4e-7 < r.noise < 6e-6  # the larger of the two outputs' noise
    with pytest.raises(ValueError, match=r"^gradient: noise must be a float or 'estimate', got 'guess'"):
        gradient(comp, X5, noise="guess")
    with pytest.raises(ValueError, match=r"^gradient: noise='estimate' needs room"):
        gradient(comp, X5, noise="estimate", bounds=(X5, np.inf))
    with pytest.raises(ValueError, match=r"^gradient: noise could not be estimated"):
        gradient(lambda v: float(v[0] > 0), np.zeros(1), noise="estimate")  # a jump at x
