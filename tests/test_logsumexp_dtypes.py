"""Dtypes of the log-sum-exp family beyond float32/float64 (issue 6, section 2): result-type
promotion as NumPy and scipy do it, complex input with scipy's semantics, longdouble computed in
longdouble, and what ``vjp``/``jvp`` do with them. (scipy's own suite: ``test_scipy_suite.py``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.special as sp

import softgrad as sg

COMPLEX = [np.complex64, np.complex128]
RTOL = {np.complex64: 2e-6, np.complex128: 1e-14}


def rand_complex(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> Any:
    return (rng.uniform(-3, 3, shape) + 1j * rng.uniform(-9, 9, shape)).astype(dtype)


# ---------------------------------------------------------------------------------------------
# promotion


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (np.float32, np.int32, np.float64),  # the 4 cases of scipy's suite that failed
        (np.float32, np.int64, np.float64),
        (np.int32, np.float32, np.float64),
        (np.int64, np.float32, np.float64),
        (np.float32, np.int8, np.float32),  # NumPy: int8 fits float32
        (np.float16, np.int8, np.float16),
        (np.float32, np.bool_, np.float32),
        (np.int8, np.int16, np.float64),
        (np.float32, np.float64, np.float64),
        (np.float32, np.complex64, np.complex64),
        (np.int32, np.complex64, np.complex128),
        (np.float64, np.complex64, np.complex128),
    ],
)
def test_a_and_b_promote_as_numpy_and_scipy(a: Any, b: Any, want: Any) -> None:
    av, bv = np.array([2, 1], dtype=a), np.array([1, -1], dtype=b)
    got = sg.logsumexp(av, b=bv)
    assert got.dtype == want
    assert sp.logsumexp(av, b=bv).dtype == want
    tol = 1e-3 if want == np.float16 else 1e-6
    np.testing.assert_allclose(got, sp.logsumexp(av, b=bv), rtol=tol)


def test_python_scalars_are_weak_and_lists_are_arrays() -> None:
    a = np.array([1.0, 2.0], np.float32)
    for b in (2.0, 2, True):
        assert sg.logsumexp(a, b=b).dtype == np.float32 == sp.logsumexp(a, b=b).dtype
    assert sg.logsumexp(a, b=[1, 2]).dtype == np.float64 == sp.logsumexp(a, b=[1, 2]).dtype
    assert sg.logsumexp(1.0, b=a).dtype == np.float32
    assert sg.logsumexp(a, b=1j).dtype == np.complex64


# ---------------------------------------------------------------------------------------------
# complex: scipy's semantics


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("t", [1.0, 0.3, 2.5])
def test_complex_logsumexp_is_the_principal_log_of_the_sum(dtype: Any, t: float) -> None:
    rng = np.random.default_rng(1)
    a = rand_complex(rng, (3, 40, 5), dtype)
    b = rng.uniform(-1, 2, (40, 1)).astype(np.empty(0, dtype).real.dtype)
    got = sg.logsumexp(a, axis=1, b=b, temperature=t)
    assert got.dtype == dtype and got.shape == (3, 5)
    ref = t * np.log(np.sum(b * np.exp(a.astype(np.complex128) / t), axis=1))  # principal branch
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype])
    assert np.all(np.abs(got.imag) <= t * np.pi)
    if t == 1.0:
        np.testing.assert_allclose(got, sp.logsumexp(a, axis=1, b=b), rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", COMPLEX)
def test_complex_return_sign_is_a_complex_unit(dtype: Any) -> None:
    rng = np.random.default_rng(2)
    a = rand_complex(rng, (4, 30), dtype)
    out, sgn = sg.logsumexp(a, axis=-1, return_sign=True, keepdims=True)
    s = np.sum(np.exp(a.astype(np.complex128)), axis=-1, keepdims=True)
    assert out.dtype == np.empty(0, dtype).real.dtype and sgn.dtype == dtype
    assert out.shape == sgn.shape == (4, 1)
    np.testing.assert_allclose(out, np.log(np.abs(s)), rtol=RTOL[dtype])
    np.testing.assert_allclose(sgn, s / np.abs(s), rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(np.abs(sgn), 1.0, rtol=RTOL[dtype])
    so, ss = sp.logsumexp(a, axis=-1, return_sign=True, keepdims=True)
    np.testing.assert_allclose(out, so, rtol=RTOL[dtype])
    np.testing.assert_allclose(sgn, ss, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_complex_special_values_follow_scipy() -> None:
    cases = [
        [],
        [complex(-np.inf, 0.0)],
        [complex(np.inf, 1.0), 0.0],
        [complex(-np.inf, 2.0), complex(-np.inf, -1.0)],
        [complex(np.nan, 0.0), 1.0],
        [1 + 1j, 1 + 1j + 2j * np.pi],
    ]
    with np.errstate(all="ignore"):
        for v in cases:
            a = np.asarray(v, dtype=np.complex128)
            np.testing.assert_array_equal(sg.logsumexp(a), sp.logsumexp(a))
            mine, theirs = sg.logsumexp(a, return_sign=True), sp.logsumexp(a, return_sign=True)
            for got, want in zip(mine, theirs, strict=True):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("op", [sg.softmax, sg.log_softmax], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("axis", [-1, 0, (0, 2), None])
def test_complex_softmax_follows_scipy(op: Any, dtype: Any, axis: Any) -> None:
    rng = np.random.default_rng(3)
    x = rand_complex(rng, (3, 4, 5), dtype)
    ref = getattr(sp, op.__name__)
    got = op(x, axis=axis)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got, ref(x, axis=axis), rtol=RTOL[dtype] * 10, atol=RTOL[dtype])
    np.testing.assert_allclose(op(x, axis=axis, temperature=2.0), ref(x / 2, axis=axis), rtol=1e-5)
    out = np.zeros_like(x)
    assert op(x, axis=axis, out=out) is out
    np.testing.assert_array_equal(out, got)


def test_complex_input_leaves_the_callers_arrays_alone() -> None:
    a = np.array([1 + 2j, 3 - 1j])
    b = np.array([2.0, -1.0])
    keep_a, keep_b = a.copy(), b.copy()
    sg.logsumexp(a, b=b)
    sg.softmax(a)
    np.testing.assert_array_equal(a, keep_a)
    np.testing.assert_array_equal(b, keep_b)


@pytest.mark.parametrize("op", [sg.logsumexp, sg.softmax, sg.log_softmax], ids=lambda f: f.__name__)
def test_complex_input_is_not_differentiable(op: Any) -> None:
    # A decision: the rules are real; complex input under vjp/jvp is a TypeError, not a silent real
    # derivative.
    x = np.array([1 + 2j, 3 - 1j, 0.5j])
    with pytest.raises(TypeError, match=rf"^vjp\({op.__name__}\): complex input .* is not differentiable"):
        sg.vjp(op, x)
    with pytest.raises(TypeError, match=rf"^jvp\({op.__name__}\): complex input .* is not differentiable"):
        sg.jvp(op, (x,), (np.ones(3),))
    if op is sg.logsumexp:
        with pytest.raises(TypeError, match=r"^vjp\(logsumexp\): complex input"):
            sg.vjp(op, np.ones(3), b=np.array([1j, 1, 1]))


# ---------------------------------------------------------------------------------------------
# longdouble: computed in longdouble


LONG = np.longdouble
HAS_LONG = np.finfo(LONG).eps < np.finfo(np.float64).eps


@pytest.mark.skipif(not HAS_LONG, reason="longdouble is float64 on this platform")
def test_longdouble_is_computed_in_longdouble() -> None:
    # log(1 + e^-40) = e^-40 - ...: float64 rounds 1 + 4e-18 to 1; longdouble keeps it.
    got = sg.logsumexp(np.array([0, -40], LONG))
    assert got.dtype == LONG
    want = np.log1p(np.exp(LONG(-40)))
    assert got == want and got > 0
    x = np.array([[0.0, -40.0], [1.0, 3.0]], LONG)
    np.testing.assert_array_equal(sg.logsumexp(x, axis=1), sp.logsumexp(x, axis=1))
    np.testing.assert_array_equal(sg.log_softmax(x, axis=1), sp.log_softmax(x, axis=1))
    y = sg.softmax(x, axis=1, temperature=LONG(1))
    assert y.dtype == LONG and abs(y.sum(axis=1) - 1).max() <= 2 * np.finfo(LONG).eps
    assert sg.smooth_max(x, axis=1).dtype == LONG == sg.smooth_min(x, axis=1).dtype
    assert sg.smooth_max(np.array([0, -40], LONG)) == want
    assert sg.smooth_min(np.array([0, 40], LONG)) == -want
    out = np.zeros_like(x)
    assert sg.log_softmax(x, axis=1, out=out) is out
    out32 = np.zeros(x.shape)
    with pytest.raises(TypeError, match="out has dtype float64, the result has dtype"):
        sg.softmax(x, out=out32)


@pytest.mark.skipif(not HAS_LONG, reason="longdouble is float64 on this platform")
@pytest.mark.parametrize("op", [sg.logsumexp, sg.smooth_max, sg.smooth_min, sg.softmax, sg.log_softmax])
def test_longdouble_derivatives_are_float64_returned_as_longdouble(op: Any) -> None:
    # A decision: the value under vjp/jvp is the longdouble one; the derivatives come from the
    # float64 kernels (float64 accuracy), in longdouble arrays.
    x = np.array([[0.0, -40.0, 2.0], [1.0, 3.0, -1.0]], LONG)
    out, pullback = sg.vjp(op, x, axis=1)
    np.testing.assert_array_equal(out, op(x, axis=1))
    _, ref_pullback = sg.vjp(op, x.astype(np.float64), axis=1)
    ct = np.ones(np.shape(out))
    got, ref = pullback(ct), ref_pullback(ct)
    assert got[0].dtype == LONG
    np.testing.assert_array_equal(got[0].astype(np.float64), ref[0])
    value, tangent = sg.jvp(op, (x,), (np.ones(x.shape),), axis=1)
    np.testing.assert_array_equal(value, op(x, axis=1))
    assert np.asarray(tangent).dtype == LONG
    _, ref_tangent = sg.jvp(op, (x.astype(np.float64),), (np.ones(x.shape),), axis=1)
    np.testing.assert_array_equal(np.asarray(tangent).astype(np.float64), ref_tangent)
