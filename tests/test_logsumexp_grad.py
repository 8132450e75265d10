"""VJPs and JVPs of the log-sum-exp family (the generic checks of every registered op are in
``test_autodiff.py``).

Oracles: the NumPy formulas in ``oracles/logsumexp.py`` (for the Rust pullbacks, on every layout),
central finite differences (five-point stencil, see ``conftest.fd_jvp``), the analytic
derivatives ``d smooth_max / dx = softmax(x/t)`` and ``d smooth_max / dt = entropy(softmax(x/t))``,
the softmax Jacobian ``(diag y - y y^T) / t``, and the adjoint identity ``<ct, J v> = <J^T ct, v>``
between ``jvp`` and ``vjp``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import softgrad as sg
from conftest import (
    FLOAT_DTYPES,
    assert_jvp_matches_fd,
    assert_vjp_matches_fd,
    axes_for,
    call_strict,
    f64,
    fd_jvp,
    shapes,
    strict,
    vdot,
)
from oracles import logsumexp as orc
from softgrad._core import logsumexp as _k

inf = np.inf

X_OPS = [sg.softmax, sg.log_softmax, sg.smooth_max, sg.smooth_min]
REDUCING_X_OPS = [sg.smooth_max, sg.smooth_min]


def lse_fn(axis=None, keepdims=False, return_sign=False):
    """logsumexp as a function of its differentiable arguments ``(a, b, t)``."""

    def f(a, b, t):
        return sg.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign, temperature=t)

    return f


def x_fn(op, **kwargs):
    """A softmax-family op as a function of ``(x, t)``."""

    def f(x, t):
        return op(x, temperature=t, **kwargs)

    return f


def entropy(y: np.ndarray, axis, keepdims: bool = False) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(y), 0.0)
    return -np.sum(ylogy, axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------------------------
# logsumexp

LSE_CASES = [
    # a_shape, b_shape, axis, keepdims, t
    ((7,), None, None, False, 1.0),
    ((4, 5), None, 0, False, 0.7),
    ((4, 5), None, 1, True, 1.3),
    ((4, 5), None, -1, False, 1.0),
    ((3, 4, 5), None, (0, 2), False, 2.0),
    ((3, 4, 5), None, (2, 0), True, 0.5),
    ((3, 4, 5), None, (1, 2), False, 1.0),
    ((3, 4, 5), None, None, True, 1.0),
    ((4, 5), (4, 5), 1, False, 1.0),
    ((4, 5), (5,), 0, False, 0.8),
    ((4, 5), (4, 1), None, True, 1.5),
    ((5,), (3, 5), 1, False, 1.0),
    ((4, 1), (1, 5), 0, False, 1.2),
    ((2, 3, 4), (3, 1), (0, 2), True, 0.9),
    ((), None, None, False, 1.0),
    ((), (3,), None, False, 2.0),
    ((3, 4), (3, 4), (), False, 1.0),
]


def lse_case(rng, a_shape, b_shape):
    a = rng.standard_normal(a_shape) * 2
    b = None if b_shape is None else rng.uniform(0.5, 2.0, b_shape)
    return a, b


@pytest.mark.parametrize(("a_shape", "b_shape", "axis", "keepdims", "t"), LSE_CASES)
def test_logsumexp_vjp_matches_finite_differences(a_shape, b_shape, axis, keepdims, t, rng) -> None:
    a, b = lse_case(rng, a_shape, b_shape)
    out, pullback = call_strict(sg.vjp, sg.logsumexp, a, axis=axis, b=b, keepdims=keepdims, temperature=t)
    np.testing.assert_array_equal(out, sg.logsumexp(a, axis=axis, b=b, keepdims=keepdims, temperature=t))
    ct = rng.standard_normal(np.shape(out))
    cts = call_strict(pullback, ct)
    assert cts._fields == ("a", "b", "temperature")
    assert np.shape(cts.a) == a.shape
    assert (cts.b is None) if b is None else (np.shape(cts.b) == b.shape)
    assert np.ndim(cts.temperature) == 0
    assert_vjp_matches_fd(lse_fn(axis, keepdims), (a, b, t), cts, ct, rng)


@pytest.mark.parametrize(("a_shape", "b_shape", "axis", "keepdims", "t"), LSE_CASES)
def test_logsumexp_jvp_matches_finite_differences(a_shape, b_shape, axis, keepdims, t, rng) -> None:
    a, b = lse_case(rng, a_shape, b_shape)
    va = rng.standard_normal(a.shape)
    vb = None if b is None else rng.standard_normal(b.shape)
    vt = 0.7
    f = lse_fn(axis, keepdims)
    kwargs = {"axis": axis, "keepdims": keepdims}
    # every direction at once, then one argument at a time
    for tangents in ((va, vb, vt), (va, None, None), (None, vb, None), (None, None, vt)):
        out, tan = call_strict(sg.jvp, sg.logsumexp, (a, b, t), tangents, **kwargs)
        np.testing.assert_array_equal(out, f(a, b, t))
        assert np.shape(tan) == np.shape(out)
        assert_jvp_matches_fd(tan, f, (a, b, t), tangents, rtol=1e-8)


@pytest.mark.parametrize("flip", [1.0, -1.0], ids=["positive-sum", "negative-sum"])
@pytest.mark.parametrize("t", [0.6, 1.0, 1.7])
def test_logsumexp_signed_weights_with_return_sign(flip: float, t: float, rng) -> None:
    a = np.array([[0.3, -0.2, 1.0, 0.5], [0.1, 0.4, -0.3, 0.2], [1.5, 1.4, -2.0, 0.0]])
    b = flip * np.array([[1.0, -0.5, 2.0, -1.5], [-1.0, 2.5, 0.3, -0.2], [1.0, -1.0, 3.0, 0.5]])
    f = lse_fn(axis=1, return_sign=True)
    (val, sgn), pullback = call_strict(sg.vjp, sg.logsumexp, a, axis=1, b=b, return_sign=True, temperature=t)
    # the sums stay well away from zero, so the value is smooth in all arguments
    np.testing.assert_array_equal(sgn, np.sign(np.sum(b * np.exp(a / t), axis=1)))
    np.testing.assert_array_equal(sgn, flip)
    ct = rng.standard_normal(val.shape)
    cts = call_strict(pullback, (ct, None))
    assert_vjp_matches_fd(f, (a, b, t), cts, ct, rng)
    # the sign is piecewise constant: its cotangent is ignored
    pair = call_strict(pullback, (ct, rng.standard_normal(val.shape)))
    for u, v in zip(cts, pair, strict=True):
        np.testing.assert_array_equal(u, v)
    # jvp: the value's tangent matches FD, the sign's tangent is zero
    tangents = (rng.standard_normal(a.shape), rng.standard_normal(b.shape), 0.3)
    out, (tval, tsgn) = call_strict(sg.jvp, sg.logsumexp, (a, b, t), tangents, axis=1, return_sign=True)
    np.testing.assert_array_equal(out[0], val)
    assert_jvp_matches_fd(tval, f, (a, b, t), tangents)
    np.testing.assert_array_equal(tsgn, np.zeros_like(val))


@pytest.mark.parametrize("t", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("axis", [0, 1, None, (0, 1)])
def test_logsumexp_gradient_is_the_softmax_and_temperature_gradient_the_entropy(t, axis, rng) -> None:
    a = rng.standard_normal((4, 6)) * 3
    out, pullback = call_strict(sg.vjp, sg.logsumexp, a, axis=axis, temperature=t)
    cts = pullback(np.ones(np.shape(out)))
    y = sp.softmax(a / t, axis=axis)
    np.testing.assert_allclose(cts.a, y, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(cts.temperature, np.sum(entropy(y, axis)), rtol=1e-11)
    # with weights: dL/da = b e^{(a - L)/t}, dL/db = t e^{(a - L)/t}
    b = rng.uniform(0.1, 3.0, a.shape)
    out, pullback = call_strict(sg.vjp, sg.logsumexp, a, axis=axis, b=b, keepdims=True, temperature=t)
    cts = pullback(np.ones(out.shape))
    e = np.exp((a - t * sp.logsumexp(a / t, axis=axis, b=b, keepdims=True)) / t)
    np.testing.assert_allclose(cts.a, b * e, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(cts.b, t * e, rtol=1e-12, atol=1e-300)


def test_logsumexp_derivatives_with_neg_inf_entries(rng) -> None:
    a = rng.standard_normal((3, 5))
    a[0, [1, 3]] = -inf
    a[2, :] = -inf  # an all--inf slice: the value is -inf, every derivative is taken as zero
    ct = rng.standard_normal(3)
    with strict():
        out, pullback = sg.vjp(sg.logsumexp, a, axis=1, temperature=0.8)
        cts = pullback(ct)
    assert out[2] == -inf
    np.testing.assert_array_equal(cts.a[0, [1, 3]], 0.0)
    np.testing.assert_array_equal(cts.a[2], 0.0)
    expected = ct[:2, None] * sp.softmax(a[:2] / 0.8, axis=1)
    np.testing.assert_allclose(cts.a[:2], expected, rtol=1e-12, atol=1e-300)
    # temperature: only the finite rows contribute, each with its entropy
    y = sp.softmax(a[:2] / 0.8, axis=1)
    np.testing.assert_allclose(cts.temperature, np.sum(ct[:2] * entropy(y, axis=1)), rtol=1e-11)
    # FD agrees on the finite rows (moving a -inf entry by h leaves it at -inf)
    f = lse_fn(axis=1)
    v = rng.standard_normal(a.shape)
    fd = fd_jvp(lambda x, t: f(x, None, t)[:2], (a, 0.8), (v, None))
    np.testing.assert_allclose(np.sum(cts.a[:2] * v[:2]), vdot(ct[:2], fd), rtol=1e-9)
    with strict():
        out, tan = sg.jvp(sg.logsumexp, (a, None, 0.8), (v, None, 1.0), axis=1)
    assert np.all(np.isfinite(tan)) and tan[2] == 0.0


def test_logsumexp_zero_weights_have_zero_gradient_but_a_weight_derivative(rng) -> None:
    a = rng.standard_normal(6)
    b = rng.uniform(0.5, 2, 6)
    b[[1, 4]] = 0.0
    out, pullback = call_strict(sg.vjp, sg.logsumexp, a, b=b)
    cts = pullback(1.0)
    np.testing.assert_array_equal(cts.a[[1, 4]], 0.0)
    # dL/db_i = e^{a_i - L} even where b_i = 0: moving b_i off zero changes the sum
    np.testing.assert_allclose(cts.b, np.exp(a - out), rtol=1e-13)
    assert_vjp_matches_fd(lse_fn(), (a, b, 1.0), cts, 1.0, rng)


@st.composite
def lse_ad_problems(draw):
    shape = draw(shapes(min_dims=0, max_dims=3, max_side=4))
    b = None
    full = shape
    if draw(st.booleans()):
        bshape = draw(hnp.broadcastable_shapes(shape, max_dims=3, max_side=4))
        b = draw(hnp.arrays(np.float64, bshape, elements=st.floats(0.25, 2.0)))
        full = np.broadcast_shapes(shape, bshape)
    a = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3.0, 3.0)))
    axis = draw(axes_for(len(full), allow_empty=True))
    return a, b, axis, draw(st.booleans()), draw(st.floats(0.5, 2.0))


@given(lse_ad_problems(), st.randoms(use_true_random=False))
def test_logsumexp_jvp_and_vjp_are_adjoint(p, r) -> None:
    a, b, axis, keepdims, t = p
    rng = np.random.default_rng(r.getrandbits(32))
    kw = {"axis": axis, "keepdims": keepdims}
    out, pullback = call_strict(sg.vjp, sg.logsumexp, a, b=b, temperature=t, **kw)
    ct = rng.standard_normal(np.shape(out))
    cts = pullback(ct)
    va = rng.standard_normal(a.shape)
    vb = None if b is None else rng.standard_normal(b.shape)
    vt = float(rng.standard_normal())
    out2, tan = call_strict(sg.jvp, sg.logsumexp, (a, b, t), (va, vb, vt), **kw)
    np.testing.assert_array_equal(out2, out)
    lhs = vdot(ct, tan)
    rhs = vdot(cts.a, va) + (0.0 if b is None else vdot(cts.b, vb)) + float(cts.temperature) * vt
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)
    # and both agree with finite differences
    fd = vdot(ct, fd_jvp(lse_fn(**kw), (a, b, t), (va, vb, vt)))
    assert lhs == pytest.approx(fd, rel=1e-7, abs=1e-7)


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax, smooth_max, smooth_min

X_CASES = [
    # shape, axis, t
    ((6,), -1, 1.0),
    ((6,), 0, 0.4),
    ((4, 5), 0, 1.0),
    ((4, 5), 1, 2.5),
    ((4, 5), None, 0.8),
    ((3, 4, 5), (0, 2), 1.0),
    ((3, 4, 5), (1, 2), 0.6),
    ((3, 4, 5), -2, 1.5),
    ((), None, 1.0),
]


X_PARAMS = pytest.mark.parametrize(
    ("op", "shape", "axis", "t", "keepdims"),
    [
        pytest.param(op, shape, axis, t, keepdims, id=f"{op.__name__}-{shape}-{axis}-{t}-{keepdims}")
        for op in X_OPS
        for shape, axis, t in X_CASES
        for keepdims in ((False, True) if op in REDUCING_X_OPS else (False,))
    ],
)


def x_kwargs(op, axis, keepdims: bool):
    kw = {"axis": axis}
    if op in REDUCING_X_OPS:
        kw["keepdims"] = keepdims
    return kw


@X_PARAMS
def test_vjp_matches_finite_differences(op, shape, axis, t, keepdims, rng) -> None:
    x = rng.standard_normal(shape) * 2
    kw = x_kwargs(op, axis, keepdims)
    out, pullback = call_strict(sg.vjp, op, x, temperature=t, **kw)
    np.testing.assert_array_equal(out, op(x, temperature=t, **kw))
    ct = rng.standard_normal(np.shape(out))
    cts = call_strict(pullback, ct)
    assert cts._fields == ("x", "temperature")
    assert np.shape(cts.x) == x.shape and np.ndim(cts.temperature) == 0
    assert_vjp_matches_fd(x_fn(op, **kw), (x, t), cts, ct, rng)


@X_PARAMS
def test_jvp_matches_finite_differences(op, shape, axis, t, keepdims, rng) -> None:
    x = rng.standard_normal(shape) * 2
    kw = x_kwargs(op, axis, keepdims)
    f = x_fn(op, **kw)
    vx = rng.standard_normal(shape)
    for tangents in ((vx, -0.6), (vx, None), (None, 1.0)):
        out, tan = call_strict(sg.jvp, op, (x, t), tangents, **kw)
        np.testing.assert_array_equal(out, f(x, t))
        assert np.shape(tan) == np.shape(out)
        assert_jvp_matches_fd(tan, f, (x, t), tangents, rtol=1e-8)


@st.composite
def x_ad_problems(draw):
    op = draw(st.sampled_from(X_OPS))
    shape = draw(shapes(min_dims=0, max_dims=3, max_side=4))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3.0, 3.0)))
    axis = draw(axes_for(len(shape)))
    kw = x_kwargs(op, axis, draw(st.booleans()))
    return op, x, kw, draw(st.floats(0.5, 2.0))


@given(x_ad_problems(), st.randoms(use_true_random=False))
def test_jvp_and_vjp_are_adjoint(p, r) -> None:
    op, x, kw, t = p
    rng = np.random.default_rng(r.getrandbits(32))
    out, pullback = call_strict(sg.vjp, op, x, temperature=t, **kw)
    ct = rng.standard_normal(np.shape(out))
    cts = pullback(ct)
    vx = rng.standard_normal(x.shape)
    vt = float(rng.standard_normal())
    _, tan = call_strict(sg.jvp, op, (x, t), (vx, vt), **kw)
    lhs = vdot(ct, tan)
    rhs = vdot(cts.x, vx) + float(cts.temperature) * vt
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)
    fd = vdot(ct, fd_jvp(x_fn(op, **kw), (x, t), (vx, vt)))
    assert lhs == pytest.approx(fd, rel=1e-7, abs=1e-7)


@pytest.mark.parametrize("t", [0.5, 1.0, 3.0])
def test_softmax_and_log_softmax_jacobians_are_analytic(t: float, rng) -> None:
    x = rng.standard_normal(5) * 2
    y = sp.softmax(x / t)
    for op, jac in (
        (sg.softmax, (np.diag(y) - np.outer(y, y)) / t),
        (sg.log_softmax, (np.eye(5) - np.outer(np.ones(5), y)) / t),
    ):
        _, pullback = sg.vjp(op, x, temperature=t)
        rows = np.array([pullback(e).x for e in np.eye(5)])  # row i = e_i^T J
        np.testing.assert_allclose(rows, jac, rtol=1e-12, atol=1e-15)
        cols = np.array([sg.jvp(op, (x,), (e,), temperature=t)[1] for e in np.eye(5)]).T
        np.testing.assert_allclose(cols, jac, rtol=1e-12, atol=1e-15)
    # d softmax / dt = -y (x - <y, x>) / t^2 and d log_softmax / dt = -(x - <y, x>) / t^2
    centred = x - np.dot(y, x)
    np.testing.assert_allclose(sg.jvp(sg.softmax, (x, t), (None, 1.0))[1], -y * centred / t**2, rtol=1e-12)
    np.testing.assert_allclose(sg.jvp(sg.log_softmax, (x, t), (None, 1.0))[1], -centred / t**2, rtol=1e-12)


@pytest.mark.parametrize("t", [0.2, 1.0, 5.0])
def test_smooth_max_and_min_gradients_are_analytic(t: float, rng) -> None:
    x = rng.standard_normal((3, 6)) * 2
    ct = rng.standard_normal(3)
    ymax, ymin = sp.softmax(x / t, axis=1), sp.softmax(-x / t, axis=1)
    _, pullback = sg.vjp(sg.smooth_max, x, temperature=t)
    cts = pullback(ct)
    np.testing.assert_allclose(cts.x, ct[:, None] * ymax, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(cts.temperature, np.dot(ct, entropy(ymax, axis=1)), rtol=1e-11)
    _, pullback = sg.vjp(sg.smooth_min, x, temperature=t)
    cts = pullback(ct)
    np.testing.assert_allclose(cts.x, ct[:, None] * ymin, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(cts.temperature, -np.dot(ct, entropy(ymin, axis=1)), rtol=1e-11)


def test_softmax_derivatives_with_neg_inf_entries(rng) -> None:
    x = rng.standard_normal((2, 5))
    x[0, 2] = -inf
    for op in (sg.softmax, sg.log_softmax):
        ct = rng.standard_normal(x.shape)
        ct[0, 2] = 0.0  # the output there is a constant (0 or -inf): its cotangent is irrelevant
        with strict():
            _, pullback = sg.vjp(op, x, temperature=0.7)
            cts = pullback(ct)
        assert np.all(np.isfinite(cts.x)) and np.isfinite(cts.temperature)
        assert cts.x[0, 2] == 0.0
        # compare with FD on the finite entries only
        finite = np.isfinite(x)
        v = np.where(finite, rng.standard_normal(x.shape), 0.0)
        fd = fd_jvp(
            lambda y, t, op=op, finite=finite: np.where(finite, op(y, temperature=t), 0.0), (x, 0.7), (v, 0.4)
        )
        assert vdot(cts.x, v) + float(cts.temperature) * 0.4 == pytest.approx(vdot(ct, fd), rel=1e-8)


def test_log_softmax_temperature_vjp_where_softmax_underflows() -> None:
    x = np.array([0.0, -800.0])
    _, pullback = call_strict(sg.vjp, sg.log_softmax, x, temperature=1.0)
    cts = pullback(np.array([0.0, 1.0]))
    # log_softmax(x / t)[1] = -800 / t - log(1 + e^{-800/t}): derivative 800 / t^2 at t = 1
    fd = fd_jvp(x_fn(sg.log_softmax), (x, 1.0), (None, 1.0))[1]
    assert fd == pytest.approx(800.0, rel=1e-9)
    assert cts.temperature == pytest.approx(800.0, rel=1e-9)


def test_log_softmax_temperature_jvp_where_softmax_underflows() -> None:
    x = np.array([0.0, -800.0])
    _, tan = call_strict(sg.jvp, sg.log_softmax, (x, 1.0), (None, 1.0))
    np.testing.assert_allclose(tan, [0.0, 800.0], rtol=1e-9, atol=1e-300)


def test_log_softmax_x_derivative_where_softmax_underflows() -> None:
    """The x-derivative is (I - 1 y^T)/t, which stays right where y underflows."""
    x = np.array([0.0, -800.0])
    _, pullback = sg.vjp(sg.log_softmax, x)
    np.testing.assert_array_equal(pullback(np.array([0.0, 1.0])).x, [-1.0, 1.0])
    np.testing.assert_array_equal(sg.jvp(sg.log_softmax, (x,), (np.array([0.0, 1.0]),))[1], [0.0, 1.0])


# ---------------------------------------------------------------------------------------------
# dtypes and shapes of the derivatives


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_cotangents_and_tangents_have_the_argument_dtypes(dtype, rng) -> None:
    a = rng.standard_normal((3, 4)).astype(dtype)
    b = rng.uniform(0.5, 2, (1, 4)).astype(dtype)
    out, pullback = sg.vjp(sg.logsumexp, a, axis=1, b=b, temperature=0.9)
    assert out.dtype == dtype
    cts = pullback(np.ones(3, dtype))
    assert cts.a.dtype == dtype and cts.a.shape == a.shape
    assert cts.b.dtype == dtype and cts.b.shape == b.shape
    assert np.ndim(cts.temperature) == 0
    _, tan = sg.jvp(sg.logsumexp, (a, b), (np.ones_like(a), np.ones_like(b)), axis=1)
    assert tan.dtype == dtype and tan.shape == (3,)
    # float32 cotangents agree with the float64 ones to float32 accuracy
    _, pull64 = sg.vjp(sg.logsumexp, f64(a), axis=1, b=f64(b), temperature=0.9)
    for c, c64 in zip(cts, pull64(np.ones(3)), strict=True):
        np.testing.assert_allclose(c, c64, rtol=8 * np.finfo(dtype).eps)
    for op in X_OPS:
        out, pullback = sg.vjp(op, a, axis=0, temperature=1.1)
        assert out.dtype == dtype
        cts = pullback(np.ones(out.shape, dtype))
        assert cts.x.dtype == dtype and cts.x.shape == a.shape
        _, tan = sg.jvp(op, (a, 1.1), (np.ones_like(a), 1.0), axis=0)
        assert tan.dtype == dtype and tan.shape == out.shape


@pytest.mark.parametrize(("adt", "bdt"), [(np.float32, np.float64), (np.float64, np.float32)])
def test_mixed_dtype_cotangents_follow_their_arguments(adt, bdt, rng) -> None:
    a = rng.standard_normal(4).astype(adt)
    b = rng.uniform(0.5, 2.0, 4).astype(bdt)
    _, pullback = sg.vjp(sg.logsumexp, a, b=b)
    cts = pullback(1.0)
    assert cts.a.dtype == adt
    assert cts.b.dtype == bdt


def test_cotangent_of_unweighted_logsumexp_names_b_as_none(rng) -> None:
    a = rng.standard_normal(3)
    _, pullback = sg.vjp(sg.logsumexp, a)
    cts = pullback(2.0)
    assert cts.b is None
    assert cts[1] is None
    np.testing.assert_allclose(cts[0], 2.0 * sp.softmax(a), rtol=1e-13)
    np.testing.assert_allclose(cts[2], 2.0 * entropy(sp.softmax(a), axis=None), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# calling conventions of jvp


def test_jvp_primals_as_prefix_dict_and_list(rng) -> None:
    a = rng.standard_normal((3, 4))
    b = rng.uniform(0.5, 2.0, (3, 4))
    va, vb = rng.standard_normal(a.shape), rng.standard_normal(b.shape)
    f = lse_fn(axis=0)
    fd_a = fd_jvp(f, (a, b, 1.3), (va, None, None))
    fd_t = fd_jvp(f, (a, b, 1.3), (None, None, 1.0))
    fd_b = fd_jvp(f, (a, b, 1.3), (None, vb, None))
    # a prefix tuple, the rest as keyword arguments
    _, tan = sg.jvp(sg.logsumexp, (a,), (va,), axis=0, b=b, temperature=1.3)
    np.testing.assert_allclose(tan, fd_a, rtol=1e-8)
    # lists work like tuples
    _, tan = sg.jvp(sg.logsumexp, [a, b], [None, vb], axis=0, temperature=1.3)
    np.testing.assert_allclose(tan, fd_b, rtol=1e-8)
    # dicts by name; None is a zero tangent
    _, tan = sg.jvp(sg.logsumexp, {"a": a, "temperature": 1.3}, {"a": None, "temperature": 1.0}, axis=0, b=b)
    np.testing.assert_allclose(tan, fd_t, rtol=1e-8)
    _, tan = sg.jvp(sg.logsumexp, {"b": b, "a": a}, {"a": va, "b": None}, axis=0, temperature=1.3)
    np.testing.assert_allclose(tan, fd_a, rtol=1e-8)
    _, tan = sg.jvp(sg.logsumexp, (a, b, 1.3), (None, None, None), axis=0)
    np.testing.assert_array_equal(tan, np.zeros(4))
    # a scalar tangent for the temperature, positional for the softmax family
    _, tan = sg.jvp(sg.smooth_max, (a, 1.3), (None, 1.0), axis=0)
    np.testing.assert_allclose(tan, fd_jvp(x_fn(sg.smooth_max, axis=0), (a, 1.3), (None, 1.0)), rtol=1e-8)


def test_jvp_structure_errors(rng) -> None:
    a = rng.standard_normal(4)
    v = np.ones(4)
    with pytest.raises(TypeError, match="primals"):
        sg.jvp(sg.logsumexp, a, (v,))
    with pytest.raises(TypeError, match="tangents"):
        sg.jvp(sg.logsumexp, (a,), v)
    with pytest.raises(ValueError, match="primals"):
        sg.jvp(sg.logsumexp, (a, None, 1.0, 2.0), (v, None, 1.0, 0.0))
    with pytest.raises(ValueError, match="tangents"):
        sg.jvp(sg.softmax, (a,), (v, 1.0, 2.0))
    with pytest.raises(ValueError, match="different parameters"):
        sg.jvp(sg.logsumexp, (a, np.ones(4)), (v,))
    with pytest.raises(ValueError, match="different parameters"):
        sg.jvp(sg.logsumexp, {"a": a}, {"temperature": 1.0})
    with pytest.raises(ValueError, match="axis"):
        sg.jvp(sg.logsumexp, {"a": a, "axis": 0}, {"a": v, "axis": None})
    with pytest.raises(ValueError, match="both"):
        sg.jvp(sg.logsumexp, (a,), (v,), a=a)
    with pytest.raises(ValueError, match="both"):
        sg.jvp(sg.softmax, {"x": a, "temperature": 2.0}, {"x": v, "temperature": 0.0}, temperature=2.0)
    with pytest.raises(TypeError):
        sg.jvp(sg.logsumexp, (a,), (v,), not_an_argument=1)


def test_shape_mismatches_are_value_errors(rng) -> None:
    a = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match="tangent"):
        sg.jvp(sg.logsumexp, (a,), (np.ones(4),), axis=1)
    with pytest.raises(ValueError, match="tangent"):
        sg.jvp(sg.logsumexp, (a, np.ones(4)), (None, np.ones((3, 4))), axis=1)
    with pytest.raises(ValueError, match="tangent"):
        sg.jvp(sg.softmax, (a,), (np.ones((4, 3)),))
    _, pullback = sg.vjp(sg.logsumexp, a, axis=1)
    with pytest.raises(ValueError, match="cotangent"):
        pullback(np.ones(4))
    _, pullback = sg.vjp(sg.log_softmax, a)
    with pytest.raises(ValueError, match="cotangent"):
        pullback(np.ones(3))


def test_vjp_argument_errors_are_those_of_the_op(rng) -> None:
    a = rng.standard_normal(3)
    with pytest.raises(TypeError):
        sg.vjp(sg.logsumexp, a, not_an_argument=1)
    with pytest.raises(ValueError, match="temperature"):
        sg.vjp(sg.logsumexp, a, temperature=-1.0)
    with pytest.raises(ValueError, match="axis"):
        sg.vjp(sg.softmax, a, axis=3)
    with pytest.raises(TypeError):
        sg.vjp(sg.smooth_max, a.astype(complex))
    with pytest.raises(ValueError, match="b"):
        sg.vjp(sg.logsumexp, a, b=np.ones(4))


# ---------------------------------------------------------------------------------------------
# the Rust pullbacks against the NumPy oracle, on every layout the kernels distinguish

LAYOUTS = [
    # (outer, n, inner): rows, one long row past several pieces, strided lanes around the
    # 512-lane block, a reduction long enough for several row pieces, multi-task row counts
    (1, 1, 1),
    (3, 7, 1),
    (2, 5000, 1),
    (64, 300, 1),
    (1, 40, 3),
    (2, 9, 511),
    (2, 9, 512),
    (2, 9, 513),
    (1, 70, 1100),
    (3, 600, 2),
    # narrow rows (n <= 64) in blocks of 8 rows in SIMD lanes: widths and row counts around the
    # block, the threshold (64) and several parallel tasks (more than 20 values: `layout_data` then
    # puts a NaN in, as for the other layouts)
    (25, 1, 1),
    (17, 2, 1),
    (23, 10, 1),
    (8, 17, 1),
    (13, 64, 1),
    (13, 65, 1),
    (4001, 10, 1),
]


def layout_data(layout, rng, dtype, special: bool):
    o, n, k = layout
    x = (rng.standard_normal(o * n * k) * 6.0).astype(dtype)
    if special and x.size > 4:
        x[rng.integers(0, x.size, 3)] = -inf
        x[: n * k : k] = -inf  # lane 0 of the first outer block is all -inf
        if x.size > 20:
            x[min(n * k, x.size - k) + 1] = inf  # a lane whose maximum is +inf
            x[-1] = np.nan
    return x


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("special", [False, True], ids=["finite", "special"])
def test_softmax_pullback_kernel_matches_the_oracle(layout, dtype, log, special, rng) -> None:
    x = layout_data(layout, rng, dtype, special)
    g = rng.standard_normal(x.size).astype(dtype)
    t = 0.7
    lse = np.empty(layout[0] * layout[2])
    y = _k.softmax(x, layout, t, log, None, None, lse)
    # float32 data sums float32 exponentials (in float64): the residual is good to ~t eps32.
    lse_atol = 1e-300 if dtype == np.float64 else 8 * t * float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(lse, orc.lse(x, None, layout, t), rtol=1e-12, atol=lse_atol)
    # The pullback works from the forward's output; the oracle from the input.
    dx, dt = _k.softmax_vjp(y, g, layout, t, log)
    want_dx, want_dt = orc.softmax_vjp(x, g, layout, t, log)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, want_dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(dt, want_dt, rtol=tol, atol=tol * (1 + abs(want_dt)))
    for n_threads in (1, 2, 3):
        dx2, dt2 = _k.softmax_vjp(y, g, layout, t, log, n_threads)
        np.testing.assert_array_equal(dx2, dx)
        assert dt2 == dt or (np.isnan(dt2) and np.isnan(dt))


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("weights", ["none", "positive", "signed"])
@pytest.mark.parametrize("special", [False, True], ids=["finite", "special"])
def test_logsumexp_pullback_kernel_matches_the_oracle(layout, dtype, weights, special, rng) -> None:
    x = layout_data(layout, rng, dtype, special)
    b = None
    if weights != "none":
        b = rng.uniform(0.5, 2.0, x.size).astype(dtype)
        b[rng.integers(0, x.size, 3)] = 0.0
        if weights == "signed":
            b *= rng.choice([-1.0, 1.0], x.size).astype(dtype)
    ct = rng.standard_normal(layout[0] * layout[2])
    t = 1.3
    want_sign = b is not None
    lse = np.empty(ct.size)
    _, sign = _k.logsumexp(x, b, layout, t, want_sign, None, lse)
    with np.errstate(all="ignore"):
        lse_atol = 1e-300 if dtype == np.float64 else 8 * t * float(np.finfo(np.float32).eps)
        np.testing.assert_allclose(lse, orc.lse(x, b, layout, t), rtol=1e-12, atol=lse_atol)
    da, db, dt = _k.logsumexp_vjp(x, b, lse, sign, ct, layout, t)
    want_da, want_db, want_dt = orc.logsumexp_vjp(x, b, lse, sign, ct, layout, t)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    assert da.dtype == dtype
    np.testing.assert_allclose(da, want_da, rtol=tol, atol=tol)
    if b is None:
        assert db is None
    else:
        assert db.dtype == dtype
        np.testing.assert_allclose(db, want_db, rtol=tol, atol=tol)
    np.testing.assert_allclose(dt, want_dt, rtol=tol, atol=tol * (1 + abs(want_dt)))
    for n_threads in (1, 2, 3):
        da2, db2, dt2 = _k.logsumexp_vjp(x, b, lse, sign, ct, layout, t, n_threads)
        np.testing.assert_array_equal(da2, da)
        if db is not None:
            np.testing.assert_array_equal(db2, db)
        assert dt2 == dt or (np.isnan(dt2) and np.isnan(dt))


@pytest.mark.parametrize("op", [sg.softmax, sg.log_softmax, sg.smooth_max], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_row_and_column_layouts_give_the_same_derivatives(op, dtype, rng) -> None:
    x = rng.normal(scale=8.0, size=(37, 61)).astype(dtype)
    x[3, 5] = -inf  # a masked entry
    g = rng.normal(size=np.shape(op(x, -1))).astype(dtype)
    # axis=-1 on x runs the row kernels; axis=0 on x.T the strided ones
    rows = sg.vjp(op, x, -1, temperature=0.7)[1](g)
    cols = sg.vjp(op, x.T, 0, temperature=0.7)[1](g.T if g.ndim == 2 else g)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(rows.x, cols.x.T, rtol=tol, atol=tol)
    np.testing.assert_allclose(rows.temperature, cols.temperature, rtol=tol)
    assert rows.x.dtype == dtype


def test_pullback_input_survives_out_aliasing(rng) -> None:
    x = rng.normal(size=(5, 9))
    want = sg.vjp(sg.softmax, x.copy(), -1)[1](np.ones_like(x))
    got = sg.vjp(sg.softmax, x, -1, out=x)[1](np.ones_like(x))  # x is overwritten by the forward pass
    np.testing.assert_allclose(got.x, want.x, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("op", [sg.softmax, sg.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [-1, 0, (0, 2)], ids=str)
def test_vjp_output_is_read_only_and_the_plain_output_writeable(op, dtype, axis, rng) -> None:
    x = rng.normal(size=(4, 6, 5)).astype(dtype)
    ct = rng.normal(size=x.shape).astype(dtype)
    assert op(x, axis).flags.writeable
    out, pullback = sg.vjp(op, x, axis)
    want = pullback(ct)
    if axis != (0, 2):  # a transposed axis gives a fresh (writeable) array, not the residual
        assert not out.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            out[0] = 0.0
    x[...] = 0.0  # the pullback needs neither the input nor a writeable output
    got = pullback(ct)
    np.testing.assert_array_equal(got.x, want.x)
    assert got.temperature == want.temperature
    assert op(x, axis).flags.writeable


@pytest.mark.parametrize("op", [sg.softmax, sg.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0], ids=str)
def test_vjp_with_out_writes_out_and_keeps_a_private_copy(op, axis, rng) -> None:
    x = rng.normal(size=(6, 7))
    ct = rng.normal(size=x.shape)
    want_out, want_pb = sg.vjp(op, x.copy(), axis)
    buf = np.empty_like(x)
    out, pullback = sg.vjp(op, x, axis, out=buf)
    assert out is buf and buf.flags.writeable
    np.testing.assert_array_equal(buf, want_out)
    buf[...] = np.nan  # the caller's array is theirs to change
    got, want = pullback(ct), want_pb(ct)
    np.testing.assert_array_equal(got.x, want.x)
    assert got.temperature == want.temperature


@pytest.mark.parametrize("shape_axis", [((2048 * 3 + 5,), 0), ((40, 1000), 1), ((700, 3, 30), 0)], ids=str)
def test_large_pullbacks_match_the_oracle_and_do_not_depend_on_threads(shape_axis, rng) -> None:
    shape, axis = shape_axis
    # magnitudes over many binades, so that any reordering of a sum changes its bits
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-30, 8, shape))
    b = rng.uniform(0.5, 2.0, shape)
    ct = rng.standard_normal(np.shape(sg.logsumexp(x, axis)))
    got = [sg.vjp(sg.logsumexp, x, axis, b=b, n_threads=n)[1](ct) for n in (1, 2, 3)]
    for other in got[1:]:
        for u, v in zip(got[0], other, strict=True):
            np.testing.assert_array_equal(u, v)
    L = sp.logsumexp(x, axis=axis, b=b, keepdims=True)
    e = np.exp(x - L)
    c = np.expand_dims(ct, axis)
    np.testing.assert_allclose(got[0].a, c * b * e, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(got[0].b, c * e, rtol=1e-10, atol=1e-300)
