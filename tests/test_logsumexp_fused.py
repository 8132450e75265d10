"""Reverse mode of log-sum-exp over unweighted contiguous rows: the forward also computes the
pullback's weights (``_core.logsumexp_weights``), so the pullback is one scaling pass
(``_core.logsumexp_vjp_weights``). It must give what the general kernels give (``logsumexp`` then
``logsumexp_vjp`` from the residual) to rounding, and the same bits for any thread count; and the
log-softmax temperature cotangent of a lane whose output is NaN."""

from __future__ import annotations

import numpy as np
import pytest

import softgrad as sg
from oracles import logsumexp as orc
from softgrad._core import logsumexp as _k

inf = np.inf

SHAPES = [(1, 1), (7, 3), (40, 10), (3001, 10), (17, 64), (9, 65), (12, 1000), (3, 5000)]


def rows(shape: tuple[int, int], dtype, rng) -> np.ndarray:
    r, n = shape
    x = (rng.standard_normal(shape) * 6.0).astype(dtype)
    if r >= 6:
        x[0] = -inf  # all -inf: value -inf, derivatives c * 0
        x[1, n // 2] = np.nan
        x[2, 0] = inf
        x[3, 0] = -inf
        x[4, [0, -1]] = 20.0  # two entries at the maximum
    return x


def general(x: np.ndarray, ct: np.ndarray, t: float, n_threads=None):
    """The general kernels: the value and the residual, then the pullback reading the input."""
    layout = (x.shape[0], x.shape[1], 1)
    lse = np.empty(x.shape[0])
    out, _ = _k.logsumexp(x.reshape(-1), None, layout, t, False, n_threads, lse)
    da, _, dt = _k.logsumexp_vjp(x.reshape(-1), None, lse, None, ct, layout, t, n_threads)
    return out, da.reshape(x.shape), dt


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("t", [1.0, 0.7])
def test_vjp_of_rows_gives_the_general_kernels_results(shape, dtype, t, rng) -> None:
    x = rows(shape, dtype, rng)
    ct = rng.standard_normal(shape[0])
    want_out, want_da, want_dt = general(x, ct, t)
    # The general pullback's e^{(a - L)/t} is itself off by up to |a - L|/t (here up to ~60) ulps.
    tol = 256 * np.finfo(np.float64).eps if dtype == np.float64 else 3 * np.finfo(np.float32).eps
    first = None
    with np.errstate(invalid="ignore"):
        for n_threads in (1, 2, 3):
            out, pullback = sg.vjp(sg.logsumexp, x, 1, temperature=t, n_threads=n_threads)
            got = pullback(ct.astype(dtype))
            np.testing.assert_array_equal(out, want_out)
            assert got.a.dtype == dtype and got.b is None
            np.testing.assert_allclose(got.a, want_da, rtol=tol, atol=1e-300)
            np.testing.assert_allclose(got.temperature, want_dt, rtol=1e3 * tol, atol=1e3 * tol)
            first = first or got
            np.testing.assert_array_equal(got.a, first.a)  # any thread count: the same bits
            np.testing.assert_array_equal(got.temperature, first.temperature)


def test_smooth_max_and_min_take_the_fused_rows(rng) -> None:
    x = rng.standard_normal((300, 12))
    ct = rng.standard_normal(300)
    _, da, dt = general(x, ct, 0.5)
    got = sg.vjp(sg.smooth_max, x, -1, temperature=0.5)[1](ct)
    np.testing.assert_allclose(got.x, da, rtol=1e-13)
    np.testing.assert_allclose(got.temperature, dt, rtol=1e-12)
    _, da, dt = general(-x, ct, 0.5)
    got = sg.vjp(sg.smooth_min, x, -1, temperature=0.5)[1](ct)
    np.testing.assert_allclose(got.x, da, rtol=1e-13)
    np.testing.assert_allclose(got.temperature, -dt, rtol=1e-12)


def test_the_pullback_never_reads_the_input(rng) -> None:
    x = rng.standard_normal((50, 10))
    ct = rng.standard_normal(50)
    out, pullback = sg.vjp(sg.logsumexp, x, 1, return_sign=True)
    want = pullback((ct, None))
    x[...] = np.nan
    got = pullback((ct, None))
    np.testing.assert_array_equal(got.a, want.a)
    assert got.temperature == want.temperature
    np.testing.assert_array_equal(out[1], 1.0)


def test_the_weight_bindings_refuse_strided_layouts_and_bad_lengths() -> None:
    x = np.zeros(12)
    with pytest.raises(ValueError, match=r"^logsumexp: layout"):
        _k.logsumexp_weights(x, (3, 2, 2), 1.0, False)
    with pytest.raises(ValueError, match=r"^logsumexp_vjp"):
        _k.logsumexp_vjp_weights(x, np.zeros(6), np.zeros(6), (3, 2, 2), 1.0)
    with pytest.raises(ValueError, match=r"^logsumexp_vjp"):
        _k.logsumexp_vjp_weights(x, np.zeros(5), np.zeros(6), (6, 2, 1), 1.0)
    with pytest.raises(TypeError, match=r"^logsumexp_vjp"):
        _k.logsumexp_vjp_weights(x, np.zeros(6, np.float32), np.zeros(6), (6, 2, 1), 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [1, 0], ids=["rows", "strided"])
def test_log_softmax_dt_of_an_all_neg_inf_lane_is_nan(dtype, axis) -> None:
    # Its output is NaN (as scipy's and JAX's), so is its input cotangent; the temperature
    # cotangent is NaN too (JAX: NaN propagates through x / t), in the kernels and the oracle.
    x = np.array([[-inf, -inf, -inf], [0.0, 1.0, 2.0]], dtype)
    x = x if axis == 1 else np.ascontiguousarray(x.T)
    g = np.ones_like(x)
    with np.errstate(invalid="ignore"):
        y, pullback = sg.vjp(sg.log_softmax, x, axis, temperature=0.7)
        got = pullback(g)
        layout = (2, 3, 1) if axis == 1 else (1, 3, 2)
        want_dx, want_dt = orc.softmax_vjp(x.reshape(-1), g.reshape(-1), layout, 0.7, True)
    assert np.isnan(np.take(y, 0, axis=1 - axis)).all()
    assert np.isnan(got.temperature) and np.isnan(want_dt)
    np.testing.assert_array_equal(np.isnan(got.x), np.isnan(want_dx.reshape(x.shape)))
    # the finite lane alone
    fin = np.take(x, [1], axis=1 - axis)
    dt = sg.vjp(sg.log_softmax, fin, axis, temperature=0.7)[1](np.ones_like(fin)).temperature
    assert np.isfinite(dt)
