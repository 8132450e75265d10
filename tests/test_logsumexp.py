"""The log-sum-exp family against scipy.special and analytic facts.

Oracles: ``scipy.special.logsumexp`` / ``softmax`` / ``log_softmax`` in float64 (with a temperature
``t`` applied as ``t * f(x / t)``), the bounds ``max <= smooth_max <= max + t log n``, and exact
answers for special values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import softgrad as sg
from conftest import (
    FLOAT_DTYPES,
    assert_lse_close,
    axes_for,
    call_strict,
    f64,
    finite_arrays,
    float_dtypes,
    quiet,
    ref_logsumexp,
    ref_softmax,
    shapes,
    softmax_tolerance,
    special_arrays,
    strict,
    temperatures,
    weights,
)

inf, nan = np.inf, np.nan


def reduced_size(shape: tuple[int, ...], axis: object) -> int:
    if axis is None:
        return max(math.prod(shape), 1)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[ax] for ax in axes) if axes else 1


# ---------------------------------------------------------------------------------------------
# logsumexp against scipy


@st.composite
def lse_problems(draw: st.DrawFn, special: bool = False, signed: bool = True, min_side: int = 1) -> dict:
    dtype = draw(float_dtypes())
    shape = draw(shapes(min_side=min_side))
    make = special_arrays if special else finite_arrays
    a = draw(make(dtype, shape))
    b = None
    full_shape = shape
    if draw(st.booleans()):
        bshape = draw(hnp.broadcastable_shapes(shape, min_side=min_side))
        bdtype = draw(st.sampled_from([dtype, np.float64]))
        b = draw(weights(bdtype, bshape, signed=signed))
        if special:  # zero weights on special values are scipy's fallback quirk: tested separately
            b = np.where(b == 0, 1.0, b).astype(bdtype)
        full_shape = np.broadcast_shapes(shape, bshape)
    axis = draw(axes_for(len(full_shape)))
    return {
        "a": a,
        "axis": axis,
        "b": b,
        "keepdims": draw(st.booleans()),
        "return_sign": draw(st.booleans()),
        "temperature": draw(temperatures),
    }


def check_against_scipy(p: dict) -> None:
    a, b = p["a"], p["b"]
    got = call_strict(sg.logsumexp, **p)
    dtype = a.dtype if b is None else np.result_type(a, b)
    assert_lse_close(got, dtype=dtype, **p)
    # dtype as scipy's (float32 stays float32, mixed with float64 becomes float64); a 0-d result
    # is a NumPy scalar, as in scipy
    for g in got if p["return_sign"] else (got,):
        assert g.dtype == dtype
        assert isinstance(g, np.generic if g.ndim == 0 else np.ndarray)


@given(lse_problems())
def test_logsumexp_matches_scipy(p: dict) -> None:
    check_against_scipy(p)


@given(lse_problems(min_side=0))
def test_logsumexp_matches_scipy_with_empty_axes(p: dict) -> None:
    check_against_scipy(p)


@given(lse_problems(special=True))
def test_logsumexp_special_values_match_scipy(p: dict) -> None:
    check_against_scipy(p)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([-inf, 0.0, 1.0], None),
        ([-inf, -inf, -inf], None),
        ([inf, 1.0], None),
        ([inf, -inf], None),
        ([inf, inf], None),
        ([nan, 1.0], None),
        ([nan, inf], None),
        ([nan, -inf], None),
        ([inf, 1.0], [-1.0, 1.0]),
        ([inf, inf], [-1.0, 1.0]),
        ([inf, inf], [2.0, -1.0]),
        ([1.0, 2.0], [1.0, -1.0]),
        ([1.0, 1.0], [1.0, -1.0]),
        ([1.0, 2.0], [inf, 1.0]),
        ([1.0, 2.0], [-inf, 1.0]),
        ([1.0, 2.0], [nan, 1.0]),
        ([-inf, 2.0], [-1.0, 1.0]),
        ([-inf, 2.0], [inf, 1.0]),
        # zero weights hide whatever value a has, as long as some weight is non-zero
        ([nan, 1.0], [0.0, 1.0]),
        ([inf, 1.0], [0.0, 1.0]),
        ([-inf, 1.0], [0.0, -1.0]),
        ([nan, inf, 3.0, -inf], [0.0, 0.0, 2.0, 1.0]),
        ([1.0, 2.0], [0.0, 0.0]),
    ],
)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_logsumexp_special_cases_exactly_as_scipy(a: list, b: list | None, dtype: type) -> None:
    a_arr = np.array(a, dtype=dtype)
    b_arr = None if b is None else np.array(b, dtype=dtype)
    with quiet():
        exp_val, exp_sgn = sp.logsumexp(a_arr, b=b_arr, return_sign=True)
        exp_plain = sp.logsumexp(a_arr, b=b_arr)
    val, sgn = call_strict(sg.logsumexp, a_arr, b=b_arr, return_sign=True)
    plain = call_strict(sg.logsumexp, a_arr, b=b_arr)
    np.testing.assert_allclose(val, exp_val, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(sgn, exp_sgn)
    np.testing.assert_allclose(plain, exp_plain, rtol=1e-6, atol=0)
    assert np.asarray(val).dtype == dtype


@pytest.mark.parametrize("n", [1, 7, 64, 2049, 40_000])
@pytest.mark.parametrize("value", [nan, inf, -inf])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_one_special_value_anywhere_in_long_rows(n: int, value: float, dtype: type, rng) -> None:
    """SIMD bodies, tails, chunk boundaries and the strided path all see the special value."""
    for pos in sorted({0, n // 2, n - 1, min(n - 1, 2048)}):
        a = rng.standard_normal(n).astype(dtype)
        a[pos] = value
        assert_lse_close(call_strict(sg.logsumexp, a), a, dtype=dtype)
        m = rng.standard_normal((n, 5)).astype(dtype)
        m[pos, 2] = value
        assert_lse_close(call_strict(sg.logsumexp, m, axis=0), m, axis=0, dtype=dtype)
        bw = rng.uniform(-1, 1, n).astype(dtype)
        assert_lse_close(
            call_strict(sg.logsumexp, a, b=bw, return_sign=True), a, b=bw, return_sign=True, dtype=dtype
        )


@pytest.mark.parametrize("n", [5, 2049, 70_000])
@pytest.mark.parametrize("value", [nan, inf, -inf, -0.0])
def test_one_special_weight_anywhere_in_long_rows(n: int, value: float, rng) -> None:
    a = rng.standard_normal(n)
    for pos in sorted({0, n // 2, n - 1}):
        b = rng.uniform(-1, 1, n)
        b[pos] = value
        got = call_strict(sg.logsumexp, a, b=b, return_sign=True)
        assert_lse_close(got, a, b=b, return_sign=True)
        m, bm = np.stack([a] * 3, axis=1), np.stack([b] * 3, axis=1)
        got = call_strict(sg.logsumexp, m, axis=0, b=bm, return_sign=True)
        assert_lse_close(got, m, axis=0, b=bm, return_sign=True)


@pytest.mark.parametrize("n", [4096, 70_000])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_weights_cancelling_across_chunks(n: int, n_threads: int) -> None:
    """Integer weights on equal values: the sums are exact, so the answers are exactly log|S|."""
    a = np.full(n, 0.25)
    b = np.where(np.arange(n) < n // 2, 1.0, -1.0)  # S = 0
    val, sgn = call_strict(sg.logsumexp, a, b=b, return_sign=True, n_threads=n_threads)
    assert val == -inf and sgn == 0.0
    b[-1] = 3.0  # S = 4 e^{0.25}
    val, sgn = call_strict(sg.logsumexp, a, b=b, return_sign=True, n_threads=n_threads)
    assert val == pytest.approx(0.25 + np.log(4.0), rel=1e-15) and sgn == 1.0
    b[-1], b[0] = -1.0, -1.0  # S = -2 e^{0.25}
    val, sgn = call_strict(sg.logsumexp, a, b=b, return_sign=True, n_threads=n_threads)
    assert val == pytest.approx(0.25 + np.log(2.0), rel=1e-15) and sgn == -1.0


def test_all_neg_inf_slices_give_neg_inf_without_warning() -> None:
    a = np.array([[-inf, -inf, -inf], [0.0, -inf, 1.0], [-inf, -inf, -inf]])
    with strict():
        val, sgn = sg.logsumexp(a, axis=1, return_sign=True)
        plain = sg.logsumexp(a, axis=1)
        col = sg.logsumexp(a, axis=0)
    np.testing.assert_array_equal(val, [-inf, np.log(1 + np.e), -inf])
    np.testing.assert_array_equal(sgn, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(plain, val)
    np.testing.assert_allclose(col, [0.0, -inf, 1.0])


def test_weights_cancelling_at_a_huge_maximum_stay_finite() -> None:
    """The documented deviation: scipy's overflowing fallback gives NaN, the exact answer is 999."""
    a = np.array([1000.0, 1000.0, 999.0])
    val, sgn = call_strict(sg.logsumexp, a, b=[1.0, -1.0, 1.0], return_sign=True)
    assert val == pytest.approx(999.0, rel=1e-15)
    assert sgn == 1.0
    # and with the sign flipped: log|-e^999| = 999 with sign -1; NaN without return_sign
    val, sgn = call_strict(sg.logsumexp, a, b=[1.0, -1.0, -1.0], return_sign=True)
    assert val == pytest.approx(999.0, rel=1e-15)
    assert sgn == -1.0
    assert np.isnan(call_strict(sg.logsumexp, a, b=[1.0, -1.0, -1.0]))
    # exact cancellation of everything: the sum is 0
    val, sgn = call_strict(sg.logsumexp, [800.0, 800.0], b=[1.0, -1.0], return_sign=True)
    assert val == -inf and sgn == 0.0


@pytest.mark.parametrize("special", [nan, inf, -inf])
def test_all_zero_weights_ignore_a(special: float) -> None:
    """Documented: entries with b == 0 are ignored whatever a is; a slice of them is an empty sum.

    (scipy gives NaN when such a slice holds +-inf or NaN, through the same overflow fallback as
    the deviation above, so the oracle here is the empty sum: -inf with sign 0.)
    """
    a = np.array([[special, 1.0], [2.0, special]])
    b = np.array([[0.0, 0.0], [0.0, 1.0]])
    val, sgn = call_strict(sg.logsumexp, a, axis=1, b=b, return_sign=True)
    assert val[0] == -inf and sgn[0] == 0.0
    with quiet():
        expected = sp.logsumexp(a[1], b=b[1])
    np.testing.assert_array_equal(val[1], expected)


@pytest.mark.parametrize(
    ("b_max", "b_rest"),
    [(1e-200, 1e200), (1e-170, 1e170), (-1e-200, 1e200), (1e-310, 1.0), (5e-324, 1.0)],
)
def test_weights_spanning_the_float_range(b_max: float, b_rest: float) -> None:
    a = np.array([1.0, 0.0])
    b = np.array([b_max, b_rest])
    expected = np.log(b_max * np.e + b_rest)  # exact enough: the first term is negligible
    val, sgn = call_strict(sg.logsumexp, a, b=b, return_sign=True)
    assert val == pytest.approx(expected, rel=1e-14, abs=1e-300)
    assert sgn == 1.0
    assert_lse_close((val, sgn), a, b=b, return_sign=True)


def test_weights_spanning_the_float_range_on_the_other_side() -> None:
    """The mirror case (huge weight at the maximum, tiny elsewhere) has no overflow to hit."""
    for b_max, b_rest in [(1e200, 1e-200), (1.0, 1e-310), (1.0, 5e-324), (-1e200, 1e-200)]:
        a, b = np.array([1.0, 0.0]), np.array([b_max, b_rest])
        val, sgn = call_strict(sg.logsumexp, a, b=b, return_sign=True)
        assert val == pytest.approx(1.0 + np.log(abs(b_max)), rel=1e-15)
        assert sgn == np.sign(b_max)


def test_huge_and_tiny_magnitudes_do_not_overflow() -> None:
    a = np.array([1e308, 1e308, -1e308])
    assert call_strict(sg.logsumexp, a) == 1e308  # 1e308 + log 2 rounds to 1e308
    a = np.array([710.0, 709.0, 0.0])
    np.testing.assert_allclose(call_strict(sg.logsumexp, a), 710 + np.log1p(np.exp(-1) + np.exp(-710)))
    np.testing.assert_allclose(call_strict(sg.logsumexp, a.astype(np.float32)), 710.3132616875182, rtol=1e-7)
    # terms far below the maximum are not lost: log(1 + 1e-20) rounds to 1e-20, not 0
    got = call_strict(sg.logsumexp, np.array([0.0, np.log(1e-20)]))
    assert got == pytest.approx(1e-20, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# dtypes, shapes, layouts


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64, np.bool_]
)
def test_integer_and_bool_input_is_float64(dtype: type) -> None:
    a = np.array([[0, 1, 1], [1, 0, 1]], dtype=dtype)
    for axis in (None, 0, 1):
        got = call_strict(sg.logsumexp, a, axis=axis)
        assert np.asarray(got).dtype == np.float64
        np.testing.assert_allclose(got, sp.logsumexp(a.astype(np.float64), axis=axis), rtol=1e-14)
    b = np.array([1, 2, 0], dtype=dtype)
    got = call_strict(sg.logsumexp, a, axis=1, b=b)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, sp.logsumexp(f64(a), axis=1, b=f64(b)), rtol=1e-14)
    for f in (sg.softmax, sg.log_softmax, sg.smooth_max, sg.smooth_min):
        assert np.asarray(call_strict(f, a)).dtype == np.float64


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_float_dtype_is_preserved(dtype: type, rng) -> None:
    a = rng.standard_normal((4, 5)).astype(dtype)
    assert call_strict(sg.logsumexp, a, axis=1).dtype == dtype
    assert np.asarray(call_strict(sg.logsumexp, a)).dtype == dtype
    val, sgn = call_strict(sg.logsumexp, a, axis=0, b=np.ones(5, dtype), return_sign=True)
    assert val.dtype == dtype and sgn.dtype == dtype
    for f in (sg.softmax, sg.log_softmax, sg.smooth_max, sg.smooth_min):
        assert call_strict(f, a).dtype == dtype
    # float32 mixed with float64 weights computes in float64, as numpy promotion and scipy do
    assert call_strict(sg.logsumexp, a, axis=1, b=np.ones(5)).dtype == np.float64


def test_float32_is_accurate_to_float32_rounding(rng) -> None:
    a = (rng.standard_normal((50, 300)) * 30).astype(np.float32)
    got = call_strict(sg.logsumexp, a, axis=1)
    np.testing.assert_allclose(got, sp.logsumexp(f64(a), axis=1), rtol=2 * np.finfo(np.float32).eps)


@pytest.mark.parametrize("a", [3.0, np.float64(-2.5), np.array(1.5), np.float32(0.5), 7])
def test_zero_dimensional_input(a: object) -> None:
    for kwargs in ({}, {"keepdims": True}, {"axis": 0}, {"axis": -1}, {"b": 2.0}, {"b": [1.0, -3.0]}):
        kw = {**kwargs, "return_sign": True}
        got = call_strict(sg.logsumexp, a, **kw)
        ref = sp.logsumexp(a, **kw)
        for g, r in zip(got, ref, strict=True):
            assert np.shape(g) == np.shape(r)
            if not isinstance(kw.get("b"), float):  # see test_python_float_weight_keeps_float32
                assert type(g) is type(r)
            np.testing.assert_allclose(g, r, rtol=1e-7)


def test_python_float_weight_keeps_float32() -> None:
    a = np.array([0.5, 1.5], dtype=np.float32)
    ref = sp.logsumexp(a, b=2.0)
    assert ref.dtype == np.float32
    got = call_strict(sg.logsumexp, a, b=2.0)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert got.dtype == np.float32


def test_axis_empty_tuple_reduces_nothing(rng) -> None:
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((3, 4))
    val, sgn = call_strict(sg.logsumexp, a, axis=(), b=b, return_sign=True)
    np.testing.assert_allclose(val, a + np.log(np.abs(b)), rtol=1e-14)
    np.testing.assert_array_equal(sgn, np.sign(b))


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, (0, 2), (2, 0), (0, 1), (1, 2), (0, 1, 2)])
def test_keepdims_shape_and_values(axis: object, rng) -> None:
    a = rng.standard_normal((3, 4, 5))
    got = call_strict(sg.logsumexp, a, axis=axis, keepdims=True)
    ref = sp.logsumexp(a, axis=axis, keepdims=True)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-14)
    flat = call_strict(sg.logsumexp, a, axis=axis)
    np.testing.assert_array_equal(np.squeeze(got, axis=axis), flat)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "view",
    [
        lambda m: m[::2],
        lambda m: m[::-1],
        lambda m: m[:, ::-1],
        lambda m: m[::-3, 1::2],
        lambda m: m.T,
        lambda m: np.asfortranarray(m),
        lambda m: m[:, 3],
        lambda m: m[5:, :][:, ::-2],
    ],
    ids=["step2", "rev0", "rev1", "mixed", "T", "fortran", "column", "nested"],
)
def test_non_contiguous_views(view, dtype: type, rng) -> None:
    m = rng.standard_normal((41, 37)).astype(dtype) * 4
    bm = rng.uniform(-1, 2, (41, 37)).astype(dtype)
    a, b = view(m), view(bm)
    assert not a.flags.c_contiguous or a.ndim == 1
    axes = [None, *range(a.ndim)] + ([(0, 1)] if a.ndim == 2 else [])
    for axis in axes:
        got = call_strict(sg.logsumexp, a, axis=axis, b=b, return_sign=True)
        assert_lse_close(got, a, axis=axis, b=b, return_sign=True, dtype=dtype)
        # a contiguous copy gives the same bits
        copy = sg.logsumexp(np.ascontiguousarray(a), axis=axis, b=np.ascontiguousarray(b), return_sign=True)
        np.testing.assert_array_equal(got[0], copy[0])
        np.testing.assert_array_equal(got[1], copy[1])
        ax = -1 if axis is None else axis
        s = call_strict(sg.softmax, a, axis=ax)
        np.testing.assert_allclose(s, ref_softmax(a, ax), rtol=64 * np.finfo(dtype).eps, atol=1e-30)


def test_zero_stride_broadcast_views(rng) -> None:
    row = rng.standard_normal(6)
    a = np.broadcast_to(row, (4, 6))
    b = np.broadcast_to(rng.uniform(0.5, 1.5, (4, 1)), (4, 6))
    assert a.strides[0] == 0
    for axis in (None, 0, 1):
        assert_lse_close(call_strict(sg.logsumexp, a, axis=axis, b=b), a, axis=axis, b=b)


def test_large_negative_stride_view_parallel_path(rng) -> None:
    m = rng.standard_normal((600, 300)) * 3
    a = m[::-1, ::-2]
    for axis in (0, 1, None):
        for n_threads in (1, 2):
            got = call_strict(sg.logsumexp, a, axis=axis, n_threads=n_threads)
            assert_lse_close(got, a, axis=axis)


# ---------------------------------------------------------------------------------------------
# temperature


@given(
    st.sampled_from(FLOAT_DTYPES).flatmap(lambda dt: finite_arrays(dt, shapes(min_dims=1, max_dims=3))),
    st.floats(1e-3, 1e3),
)
def test_temperature_is_scipy_on_scaled_input(a: np.ndarray, t: float) -> None:
    axis = -1
    got = call_strict(sg.logsumexp, a, axis=axis, temperature=t)
    assert_lse_close(got, a, axis=axis, temperature=t, dtype=a.dtype)
    sm = call_strict(sg.smooth_max, a, axis=axis, temperature=t)
    np.testing.assert_array_equal(sm, got)


@pytest.mark.parametrize("t", [1e-300, 1e-200, 1e-100, 1e-20])
def test_tiny_temperature_gives_the_maximum(t: float) -> None:
    a = np.array([[1.0, 2.0, 3.0, 3.0], [-5.0, -inf, -4.0, -7.0]])
    got = call_strict(sg.logsumexp, a, axis=1, temperature=t)
    # t log 2 (two entries at the maximum) is below half an ulp of 3 for every t here
    np.testing.assert_array_equal(got, [3.0, -4.0])
    b = np.array([[1.0, 1.0, 1.0, -3.0], [1.0, 1.0, 1.0, 1.0]])
    val, sgn = call_strict(sg.logsumexp, a, axis=1, b=b, temperature=t, return_sign=True)
    np.testing.assert_array_equal(val, [3.0, -4.0])
    np.testing.assert_array_equal(sgn, [-1.0, 1.0])


@pytest.mark.parametrize("t", [1e3, 1e6, 1e100, 1e300])
def test_huge_temperature_asymptotics(t: float, rng) -> None:
    """t log sum e^{a/t} = t log n + mean(a) + var(a) / (2t) + O(1/t^2)."""
    a = rng.standard_normal(10)
    got = call_strict(sg.logsumexp, a, temperature=t)
    expected = t * np.log(a.size) + a.mean() + a.var() / (2 * t)
    assert abs(got - expected) <= 4 * np.finfo(float).eps * abs(expected) + (10 / t) / t


# ---------------------------------------------------------------------------------------------
# smooth_max, smooth_min


@given(
    st.sampled_from(FLOAT_DTYPES).flatmap(lambda dt: finite_arrays(dt, shapes(min_dims=1, max_dims=3))),
    st.data(),
)
def test_smooth_max_and_min_bounds(x: np.ndarray, data) -> None:
    axis = data.draw(axes_for(x.ndim))
    t = data.draw(st.floats(1e-3, 10.0))
    keepdims = data.draw(st.booleans())
    n = reduced_size(x.shape, axis)
    eps = float(np.finfo(x.dtype).eps)
    x64 = f64(x)
    mx = np.max(x64, axis=axis, keepdims=keepdims)
    mn = np.min(x64, axis=axis, keepdims=keepdims)
    slack = 4 * eps * (np.abs(mx) + np.abs(mn) + t * np.log(n) + 1)
    smax = f64(call_strict(sg.smooth_max, x, axis=axis, keepdims=keepdims, temperature=t))
    smin = f64(call_strict(sg.smooth_min, x, axis=axis, keepdims=keepdims, temperature=t))
    assert smax.shape == mx.shape and smin.shape == mn.shape
    assert np.all(mx - slack <= smax) and np.all(smax <= mx + t * np.log(n) + slack)
    assert np.all(mn - t * np.log(n) - slack <= smin) and np.all(smin <= mn + slack)
    assert_lse_close(smax, x, axis, keepdims=keepdims, temperature=t, dtype=x.dtype)
    assert_lse_close(-smin, -x64, axis, keepdims=keepdims, temperature=t, dtype=x.dtype)


def test_smooth_max_tends_to_max(rng) -> None:
    x = rng.standard_normal((5, 50)) * 10
    mx, mn = x.max(axis=1), x.min(axis=1)
    prev = None
    for t in [1.0, 1e-1, 1e-2, 1e-4, 1e-8]:
        gap = call_strict(sg.smooth_max, x, temperature=t) - mx
        assert np.all(gap >= 0) and np.all(gap <= t * np.log(50) + 1e-14)
        if prev is not None:
            assert np.all(gap <= prev)  # monotone in t
        prev = gap
        gap_min = mn - call_strict(sg.smooth_min, x, temperature=t)
        assert np.all(gap_min >= 0) and np.all(gap_min <= t * np.log(50) + 1e-14)
    np.testing.assert_array_equal(call_strict(sg.smooth_max, x, temperature=1e-300), mx)
    np.testing.assert_array_equal(call_strict(sg.smooth_min, x, temperature=1e-300), mn)


def test_smooth_max_and_min_default_axis_is_last(rng) -> None:
    x = rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(call_strict(sg.smooth_max, x), sp.logsumexp(x, axis=-1), rtol=1e-14)
    np.testing.assert_allclose(call_strict(sg.smooth_min, x), -sp.logsumexp(-x, axis=-1), rtol=1e-14)
    got = call_strict(sg.smooth_max, x, axis=None, keepdims=True, temperature=0.5)
    assert got.shape == (1, 1, 1)
    np.testing.assert_allclose(got, 0.5 * sp.logsumexp(x / 0.5, keepdims=True), rtol=1e-14)


def test_smooth_max_and_min_with_infinities() -> None:
    x = np.array([[inf, 1.0], [-inf, 1.0], [-inf, -inf], [inf, -inf], [nan, 1.0]])
    with strict():
        smax = sg.smooth_max(x, temperature=0.5)
        smin = sg.smooth_min(x, temperature=0.5)
    np.testing.assert_array_equal(smax, ref_logsumexp(x, -1, temperature=0.5))
    np.testing.assert_array_equal(smin, -ref_logsumexp(-x, -1, temperature=0.5))
    # spelled out: an infinite entry wins the max/min it pushes in the right direction
    np.testing.assert_array_equal(smax[[0, 2, 3]], [inf, -inf, inf])
    np.testing.assert_array_equal(smin[[1, 2, 3]], [-inf, -inf, -inf])
    assert np.isnan(smax[4]) and np.isnan(smin[4])


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax


@st.composite
def softmax_problems(draw: st.DrawFn, special: bool = False) -> tuple:
    dtype = draw(float_dtypes())
    shape = draw(shapes(min_dims=1))
    x = draw((special_arrays if special else finite_arrays)(dtype, shape))
    axis = draw(axes_for(len(shape)))
    return x, axis, draw(temperatures)


@given(softmax_problems())
def test_softmax_matches_scipy(p: tuple) -> None:
    x, axis, t = p
    got = call_strict(sg.softmax, x, axis=axis, temperature=t)
    assert got.dtype == x.dtype and got.shape == x.shape
    rtol, atol = softmax_tolerance(x, t, x.dtype, log=False)
    np.testing.assert_allclose(got, ref_softmax(x, axis, t), rtol=rtol, atol=atol)
    np.testing.assert_allclose(
        np.sum(f64(got), axis=axis), 1.0, rtol=0, atol=8 * np.finfo(x.dtype).eps * np.sqrt(x.size)
    )


@given(softmax_problems())
def test_log_softmax_matches_scipy(p: tuple) -> None:
    x, axis, t = p
    got = call_strict(sg.log_softmax, x, axis=axis, temperature=t)
    assert got.dtype == x.dtype and got.shape == x.shape
    rtol, atol = softmax_tolerance(x, t, x.dtype, log=True)
    np.testing.assert_allclose(got, ref_softmax(x, axis, t, log=True), rtol=rtol, atol=atol)


@given(softmax_problems(special=True))
def test_softmax_and_log_softmax_special_values_match_scipy(p: tuple) -> None:
    x, axis, t = p
    for log in (False, True):
        f = sg.log_softmax if log else sg.softmax
        got = call_strict(f, x, axis=axis, temperature=t)
        ref = ref_softmax(x, axis, t, log=log)
        rtol, atol = softmax_tolerance(x, t, x.dtype, log=log)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
        fin = np.isfinite(ref)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    "x",
    [
        [-inf, -inf, -inf],
        [-inf, 0.0, 1.0],
        [inf, 1.0, 2.0],
        [inf, inf, 0.0],
        [nan, 1.0, 2.0],
        [1000.0, 1.0, -1000.0],
        [-1000.0, -1000.0, -1001.0],
    ],
)
def test_softmax_special_rows_exactly_as_scipy(x: list) -> None:
    a = np.array(x)
    with quiet():
        ref_s, ref_l = sp.softmax(a), sp.log_softmax(a)
    np.testing.assert_allclose(call_strict(sg.softmax, a), ref_s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(call_strict(sg.log_softmax, a), ref_l, rtol=1e-15, atol=0)


def test_softmax_default_axis_is_last_and_none_is_whole(rng) -> None:
    x = rng.standard_normal((3, 4, 5))
    for f, ref in ((sg.softmax, sp.softmax), (sg.log_softmax, sp.log_softmax)):
        np.testing.assert_allclose(call_strict(f, x), ref(x, axis=-1), rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(call_strict(f, x, axis=None), ref(x, axis=None), rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(call_strict(f, x, axis=(0, 2)), ref(x, axis=(0, 2)), rtol=1e-13)


def test_log_softmax_is_accurate_where_softmax_underflows() -> None:
    x = np.array([1000.0, 1.0, 0.0])
    np.testing.assert_array_equal(call_strict(sg.log_softmax, x), [0.0, -999.0, -1000.0])
    np.testing.assert_array_equal(call_strict(sg.softmax, x), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(
        call_strict(sg.log_softmax, x.astype(np.float32), temperature=2.0), [0.0, -499.5, -500.0], rtol=1e-7
    )


def test_softmax_temperature_limits(rng) -> None:
    x = rng.standard_normal((4, 6))
    hot = call_strict(sg.softmax, x, temperature=1e-6)
    np.testing.assert_array_equal(hot, np.eye(6)[np.argmax(x, axis=1)])
    cold = call_strict(sg.softmax, x, temperature=1e12)
    np.testing.assert_allclose(cold, 1 / 6, rtol=1e-10)
    # exp(log_softmax) is softmax
    for t in (0.3, 1.0, 3.0):
        np.testing.assert_allclose(
            np.exp(call_strict(sg.log_softmax, x, axis=0, temperature=t)),
            call_strict(sg.softmax, x, axis=0, temperature=t),
            rtol=1e-14,
        )


@pytest.mark.parametrize("t", [1e-309, 5e-324, 2.2e-308])
@pytest.mark.parametrize("axis", [-1, 0])
def test_subnormal_temperature_softmax_is_the_argmax(t: float, axis: int) -> None:
    """1/t overflows for a subnormal t: the maximum's (x - M)/t must still be 0, not 0 * inf."""
    x = np.array([[0.0, 1.0, 2.0], [2.0, 0.0, 2.0]])
    if axis == 0:
        x = x.T
    want = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 0.5]])
    if axis == 0:
        want = want.T
    np.testing.assert_array_equal(call_strict(sg.softmax, x, axis=axis, temperature=t), want)
    m = x.max(axis=axis, keepdims=True)
    with np.errstate(over="ignore"):
        want_log = (x - m) / t - np.log(np.sum(x == m, axis=axis, keepdims=True))
    np.testing.assert_array_equal(call_strict(sg.log_softmax, x, axis=axis, temperature=t), want_log)
    np.testing.assert_array_equal(call_strict(sg.softmax, [0.0, 1.0, 2.0], temperature=t), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(call_strict(sg.logsumexp, x, axis=axis, temperature=t), [2.0, 2.0])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 10, 17, 50, 63, 64, 65])
def test_narrow_rows_match_scipy_and_do_not_depend_on_threads(n: int, dtype: type, rng) -> None:
    """Many short rows (taken in blocks of rows in SIMD lanes) with special values and weights."""
    rows = 4001
    x = (rng.standard_normal((rows, n)) * 4).astype(dtype)
    x[3, n // 2] = nan
    x[5, 0] = inf
    x[7] = -inf
    x[9, n - 1] = -inf
    b = rng.uniform(0.1, 2.0, (rows, n)).astype(dtype)
    b[11] = 0.0
    b[13, ::2] = 0.0
    b[15] *= -1
    for t in (1.0, 0.4):
        for bb in (None, b):
            got = call_strict(sg.logsumexp, x, axis=-1, b=bb, temperature=t, return_sign=True)
            assert_lse_close(got, x, axis=-1, b=bb, temperature=t, dtype=dtype, return_sign=True)
            for n_threads in (1, 2, 3):
                again = sg.logsumexp(x, axis=-1, b=bb, temperature=t, return_sign=True, n_threads=n_threads)
                np.testing.assert_array_equal(again[0], got[0])
                np.testing.assert_array_equal(again[1], got[1])
        for log in (False, True):
            op = sg.log_softmax if log else sg.softmax
            y = call_strict(op, x, axis=-1, temperature=t)
            rtol, atol = softmax_tolerance(x, t, dtype, log=log)
            np.testing.assert_allclose(y, ref_softmax(x, -1, t, log=log), rtol=rtol, atol=atol)
            for n_threads in (1, 2, 3):
                np.testing.assert_array_equal(op(x, axis=-1, temperature=t, n_threads=n_threads), y)


def test_softmax_zero_dimensional_and_empty() -> None:
    assert call_strict(sg.softmax, 3.0) == sp.softmax(3.0) == 1.0
    assert call_strict(sg.log_softmax, np.float32(3.0)) == 0.0
    assert np.asarray(call_strict(sg.log_softmax, np.float32(3.0))).dtype == np.float32
    for shape, axis in (((0, 3), 1), ((0, 3), 0), ((3, 0), 1)):
        for f in (sg.softmax, sg.log_softmax):
            got = call_strict(f, np.zeros(shape), axis=axis)
            assert got.shape == shape


# ---------------------------------------------------------------------------------------------
# sizes past the kernels' boundaries: row pieces (2048 values), strided lane blocks (512 lanes),
# strided row pieces (16 * 2048 / lanes rows), parallel tasks; with special values in some pieces

BOUNDARY_LAYOUTS = [
    (1, 2047, 1),
    (2, 2049, 1),
    (1, 3 * 2048 + 1, 1),
    (40, 1000, 1),
    (3, 5, 511),
    (2, 7, 513),
    (1, 66, 600),
    (2, 300, 3),
    (1, 40_000, 2),
    # narrow rows, taken 8 to a block in SIMD lanes up to 64 wide; several parallel tasks
    (9, 1, 1),
    (17, 2, 1),
    (23, 10, 1),
    (9, 63, 1),
    (9, 64, 1),
    (9, 65, 1),
    (4001, 10, 1),
]


@st.composite
def boundary_problems(draw: st.DrawFn) -> tuple:
    outer, n, inner = draw(st.sampled_from(BOUNDARY_LAYOUTS))
    dtype = draw(float_dtypes())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal((outer, n, inner)) * draw(st.sampled_from([1.0, 30.0]))).astype(dtype)
    for _ in range(draw(st.integers(0, 3))):  # a few special values, sometimes a whole piece
        value = draw(st.sampled_from([-inf, -inf, inf, nan]))
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        x[draw(st.integers(0, outer - 1)), min(i, j) : max(i, j) + 1, draw(st.integers(0, inner - 1))] = value
    return x.reshape(outer, n * inner) if inner == 1 else x, 1, draw(temperatures)


@given(boundary_problems(), st.booleans())
def test_logsumexp_past_the_kernel_boundaries_matches_scipy(p: tuple, weighted: bool) -> None:
    x, axis, t = p
    b = None
    if weighted:
        b = np.random.default_rng(x.size).uniform(-1.0, 2.0, x.shape).astype(x.dtype)
    for kw in ({"return_sign": True}, {}):
        got = call_strict(sg.logsumexp, x, axis=axis, b=b, temperature=t, **kw)
        assert_lse_close(got, x, axis=axis, b=b, temperature=t, dtype=x.dtype, **kw)


@given(boundary_problems(), st.booleans())
def test_softmax_past_the_kernel_boundaries_matches_scipy(p: tuple, log: bool) -> None:
    x, axis, t = p
    op = sg.log_softmax if log else sg.softmax
    got = call_strict(op, x, axis=axis, temperature=t)
    rtol, atol = softmax_tolerance(x, t, x.dtype, log=log)
    np.testing.assert_allclose(got, ref_softmax(x, axis, t, log=log), rtol=rtol, atol=atol)
    for n in (1, 2, 3):
        np.testing.assert_array_equal(op(x, axis=axis, temperature=t, n_threads=n), got)
