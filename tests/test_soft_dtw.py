"""soft_dtw, soft_dtw_divergence and soft_dtw_alignment against the plain dynamic program
(tests/oracles/soft_dtw.py); FD, adjointness, dtypes and threads are checked generically by
tests/test_autodiff.py from the registered examples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import softgrad as sg
from oracles import soft_dtw as O


@pytest.mark.parametrize(
    ("n", "m", "d", "gamma"), [(1, 1, 1, 1.0), (5, 8, 1, 0.1), (12, 7, 3, 1.0), (20, 30, 2, 0.01)]
)
def test_values_and_gradients_match_the_plain_dynamic_program(
    n: int, m: int, d: int, gamma: float, rng
) -> None:
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    v, pullback = sg.vjp(sg.soft_dtw, x, y, gamma=gamma)
    assert v == pytest.approx(O.soft_dtw(x, y, gamma), rel=1e-12, abs=1e-12)
    gx, gy = pullback(1.0)
    wx, wy = O.gradients(x, y, gamma)
    np.testing.assert_allclose(gx, wx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gy, wy, rtol=1e-10, atol=1e-12)
    al, v2 = sg.soft_dtw_alignment(x, y, gamma=gamma)
    assert v2 == v
    np.testing.assert_allclose(al, O.alignment(x, y, gamma), rtol=1e-10, atol=1e-13)


def test_one_dimensional_series_are_one_feature(rng) -> None:
    x, y = rng.standard_normal(9), rng.standard_normal(4)
    assert sg.soft_dtw(x, y, gamma=0.5) == sg.soft_dtw(x[:, None], y[:, None], gamma=0.5)
    _, pb = sg.vjp(sg.soft_dtw, x, y, gamma=0.5)
    gx, gy = pb(2.0)
    assert gx.shape == (9,) and gy.shape == (4,)


@pytest.mark.parametrize("gamma", [1e-8, 1e-200])
def test_small_gamma_is_dtw(gamma: float, rng) -> None:
    for n, m in [(1, 5), (10, 10), (17, 6)]:
        x, y = rng.standard_normal((n, 2)), rng.standard_normal((m, 2))
        assert sg.soft_dtw(x, y, gamma=gamma) == pytest.approx(O.dtw(x, y), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("pairs", [1, 7, 8, 33, 70])  # one-lane, and wide blocks of 32 with a ragged last one
def test_a_batch_equals_its_pairs_one_by_one(pairs: int, rng) -> None:
    x, y = rng.standard_normal((pairs, 11, 2)), rng.standard_normal((pairs, 9, 2))
    out, pullback = sg.vjp(sg.soft_dtw, x, y, gamma=0.7)
    ct = rng.standard_normal(pairs)
    gx, gy = pullback(ct)
    for p in range(pairs):
        v, pb = sg.vjp(sg.soft_dtw, x[p], y[p], gamma=0.7)
        assert out[p] == v
        hx, hy = pb(ct[p])
        np.testing.assert_array_equal(gx[p], hx)
        np.testing.assert_array_equal(gy[p], hy)


def test_lists_of_unequal_series_equal_their_pairs_one_by_one(rng) -> None:
    xs = [rng.standard_normal((k, 3)) for k in (4, 1, 19, 7, 0)]
    ys = [rng.standard_normal((k, 3)) for k in (6, 12, 2, 7, 3)]
    out, pullback = sg.vjp(sg.soft_dtw, xs, ys, gamma=0.4)
    assert out.shape == (5,)
    gx, gy = pullback(np.arange(1.0, 6.0))
    for p, (a, b) in enumerate(zip(xs, ys, strict=True)):
        assert out[p] == sg.soft_dtw(a, b, gamma=0.4)
        if len(a):
            hx, hy = sg.vjp(sg.soft_dtw, a, b, gamma=0.4)[1](p + 1.0)
            np.testing.assert_array_equal(gx[p], hx)
            np.testing.assert_array_equal(gy[p], hy)
    assert out[4] == np.inf
    al, _ = sg.soft_dtw_alignment(xs, ys, gamma=0.4)
    assert [a.shape for a in al] == [(4, 6), (1, 12), (19, 2), (7, 7), (0, 3)]
    # a list of equal lengths runs as a batch, with the same values
    same = [rng.standard_normal(5) for _ in range(9)]
    np.testing.assert_array_equal(
        sg.soft_dtw(same, same[::-1], gamma=1.0),
        sg.soft_dtw(np.array(same)[:, :, None], np.array(same[::-1])[:, :, None], gamma=1.0),
    )


def test_results_do_not_depend_on_the_thread_count(rng) -> None:
    x, y = rng.standard_normal((40, 30, 1)), rng.standard_normal((40, 25, 1))
    xs = [rng.standard_normal(k) for k in range(1, 40)]
    want = [sg.soft_dtw(x, y, gamma=0.1, n_threads=1), sg.soft_dtw(xs, xs[::-1], gamma=0.1, n_threads=1)]
    for n in (2, 3):
        np.testing.assert_array_equal(sg.soft_dtw(x, y, gamma=0.1, n_threads=n), want[0])
        np.testing.assert_array_equal(sg.soft_dtw(xs, xs[::-1], gamma=0.1, n_threads=n), want[1])


def test_divergence_is_zero_on_the_diagonal_and_non_negative(rng) -> None:
    x = rng.standard_normal((6, 10, 2))
    np.testing.assert_array_equal(sg.soft_dtw_divergence(x, x, gamma=1.0), 0.0)
    for _ in range(5):
        y = rng.standard_normal((6, 13, 2))
        assert (sg.soft_dtw_divergence(x, y, gamma=float(rng.uniform(0.01, 5))) >= 0).all()
    v = sg.soft_dtw_divergence(x[0], x[1], gamma=0.3)
    want = O.soft_dtw(x[0], x[1], 0.3) - (O.soft_dtw(x[0], x[0], 0.3) + O.soft_dtw(x[1], x[1], 0.3)) / 2
    assert v == pytest.approx(want, rel=1e-12)
    _, pb = sg.vjp(sg.soft_dtw_divergence, x[0], x[0], gamma=0.3)
    gx, gy = pb(1.0)  # a minimum: zero gradient
    np.testing.assert_allclose(gx, 0.0, atol=1e-12)
    np.testing.assert_allclose(gy, 0.0, atol=1e-12)


@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.05, 5.0))
def test_alignment_is_a_soft_path(n: int, m: int, gamma: float) -> None:
    rng = np.random.default_rng(n * 7 + m)
    a, _ = sg.soft_dtw_alignment(rng.standard_normal(n), rng.standard_normal(m), gamma=gamma)
    assert a[0, 0] == pytest.approx(1.0) and a[-1, -1] == pytest.approx(1.0)
    assert ((a >= 0) & (a <= 1 + 1e-12)).all()


def test_float32_stays_float32(rng) -> None:
    x, y = (
        rng.standard_normal((3, 8, 2)).astype(np.float32),
        rng.standard_normal((3, 5, 2)).astype(np.float32),
    )
    out, pb = sg.vjp(sg.soft_dtw, x, y, gamma=0.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(
        out, sg.soft_dtw(x.astype(np.float64), y.astype(np.float64), gamma=0.5), rtol=1e-6
    )
    gx, gy = pb(np.ones(3, np.float32))
    assert gx.dtype == gy.dtype == np.float32


def test_nan_propagates_to_its_pair_only(rng) -> None:
    x, y = rng.standard_normal((9, 5, 1)), rng.standard_normal((9, 6, 1))
    x[3, 2, 0] = np.nan
    out, pb = sg.vjp(sg.soft_dtw, x, y, gamma=1.0)
    assert np.isnan(out[3]) and np.isfinite(np.delete(out, 3)).all()
    gx, _ = pb(np.ones(9))
    assert np.isnan(gx[3]).all() and np.isfinite(np.delete(gx, 3, axis=0)).all()


def test_no_overflow_for_huge_values(rng) -> None:
    x, y = 1e150 * rng.standard_normal(7), 1e150 * rng.standard_normal(9)
    assert np.isfinite(sg.soft_dtw(x / 1e10, y / 1e10, gamma=1e-3))


def test_inputs_are_not_modified_and_views_work(rng) -> None:
    x = rng.standard_normal((4, 12, 2))
    y = rng.standard_normal((4, 10, 2))
    x0 = x.copy()
    v = sg.soft_dtw(x[:, ::2], y[..., ::-1].transpose(0, 1, 2), gamma=0.5)
    np.testing.assert_array_equal(
        v, sg.soft_dtw(np.ascontiguousarray(x[:, ::2]), np.ascontiguousarray(y[..., ::-1]), gamma=0.5)
    )
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize(
    ("x", "y", "kw", "exc", "match"),
    [
        (np.zeros((3, 2)), np.zeros((4, 3)), {}, ValueError, r"soft_dtw: .*\(3, 2\) and \(4, 3\)"),
        (np.zeros((2, 3, 1)), np.zeros((3, 3, 1)), {}, ValueError, r"\(2, 3, 1\) and \(3, 3, 1\)"),
        (np.zeros(3), np.zeros((3, 1)), {}, ValueError, r"\(3,\) and \(3, 1\)"),
        (np.zeros(()), np.zeros(()), {}, ValueError, "soft_dtw: x and y"),
        (np.zeros(3), np.zeros(3), {"gamma": 0.0}, ValueError, "soft_dtw: gamma must be finite and > 0"),
        (np.zeros(3), np.zeros(3), {"gamma": -1.0}, ValueError, "gamma must be finite"),
        (np.zeros(3), np.zeros(3), {"gamma": np.inf}, ValueError, "gamma must be finite"),
        (np.zeros(3), np.zeros(3), {"gamma": np.nan}, ValueError, "gamma must be finite"),
        (np.zeros(3), np.zeros(3), {"gamma": "1"}, TypeError, "soft_dtw: gamma must be a real scalar"),
        (
            np.zeros(3),
            np.zeros(3),
            {"metric": "euclidean"},
            ValueError,
            "soft_dtw: metric must be 'sqeuclidean'",
        ),
        (np.zeros(3, complex), np.zeros(3), {}, TypeError, "soft_dtw: x must contain real numbers"),
        ([np.zeros(3)], [np.zeros(3), np.zeros(2)], {}, ValueError, "same number of series, got 1 and 2"),
        ([np.zeros((3, 2))], [np.zeros((3, 1))], {}, ValueError, "same number of features"),
        ([np.zeros(3)], np.zeros((1, 3, 1)), {}, TypeError, "both be lists"),
        (np.zeros(3), np.zeros(3), {"n_threads": 0}, ValueError, "n_threads must be >= 1"),
    ],
)
def test_bad_input_is_refused_naming_function_and_argument(
    x: Any, y: Any, kw: Any, exc: Any, match: str
) -> None:
    with pytest.raises(exc, match=match):
        sg.soft_dtw(x, y, **{"gamma": 1.0, **kw})


def test_two_threads_calling_at_once_get_the_right_results(rng) -> None:
    import threading

    x, y = rng.standard_normal((64, 40, 1)), rng.standard_normal((64, 40, 1))
    want = sg.soft_dtw(x, y, gamma=0.2)
    got: list[Any] = []
    ts = [
        threading.Thread(target=lambda: got.append(sg.soft_dtw(x, y, gamma=0.2, n_threads=2)))
        for _ in range(3)
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(got) == 3
    for g in got:
        np.testing.assert_array_equal(g, want)
