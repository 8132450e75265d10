"""soft_sort and soft_rank: values against the plain-Python PAV oracle (tests/oracles/sort.py), the
hard limits (np.sort, scipy.stats.rankdata), invariants, N-D axes, dtypes, threads and hostile input.
The derivatives are checked generically by tests/test_autodiff.py on the registered examples; the
ones specific to the family (strength, KL stability, residuals) are here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import softgrad as sg
from conftest import call_strict
from oracles import sort as oracle

OPS = {"soft_sort": (sg.soft_sort, oracle.soft_sort), "soft_rank": (sg.soft_rank, oracle.soft_rank)}
REGS = ("l2", "kl")


def rows(max_n: int = 30) -> st.SearchStrategy:
    # small integers give ties; floats give everything else
    ints = hnp.arrays(np.float64, st.integers(1, max_n), elements=st.integers(-4, 4).map(float))
    floats = hnp.arrays(
        np.float64, st.integers(1, max_n), elements=st.floats(-20, 20, allow_nan=False, width=64)
    )
    return st.one_of(ints, floats)


@given(
    x=rows(),
    name=st.sampled_from(sorted(OPS)),
    reg=st.sampled_from(REGS),
    strength=st.floats(0.01, 20.0),
    descending=st.booleans(),
)
def test_values_match_the_reference_pav(x, name, reg, strength, descending) -> None:
    fn, ref = OPS[name]
    got = call_strict(fn, x, strength=strength, regularization=reg, descending=descending)
    want = ref(x, strength=strength, regularization=reg, descending=descending)
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)


@given(x=rows(), reg=st.sampled_from(REGS), strength=st.floats(0.01, 20.0))
def test_invariants(x, reg, strength) -> None:
    n = x.size
    s = sg.soft_sort(x, strength=strength, regularization=reg)
    assert np.all(np.diff(s) >= -1e-9 * max(1.0, np.abs(s).max()))
    r = sg.soft_rank(x, strength=strength, regularization=reg)
    if reg == "l2":
        np.testing.assert_allclose(s.sum(), x.sum(), atol=1e-9 * max(1.0, np.abs(x).sum()))
        np.testing.assert_allclose(r.sum(), n * (n + 1) / 2, rtol=1e-12)
    else:
        assert np.all(r > 0)
    # descending is the ascending op of -x (negated for sort), bit for bit
    np.testing.assert_array_equal(
        sg.soft_rank(x, strength=strength, regularization=reg, descending=True),
        sg.soft_rank(-x, strength=strength, regularization=reg),
    )
    np.testing.assert_array_equal(
        sg.soft_sort(x, strength=strength, regularization=reg, descending=True),
        -sg.soft_sort(-x, strength=strength, regularization=reg),
    )
    # ranks are monotone in x
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(r[order]) >= -1e-9 * n)


@pytest.mark.parametrize("reg", REGS)
def test_tiny_strength_gives_np_sort_and_rankdata(reg, rng) -> None:
    x = rng.integers(-5, 5, (6, 50)).astype(float) + rng.choice([0.0, 0.5], (6, 50))  # many ties
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(
            sg.soft_sort(x, strength=1e-9, regularization=reg, axis=axis), np.sort(x, axis=axis)
        )
        np.testing.assert_array_equal(
            sg.soft_sort(x, strength=1e-9, regularization=reg, axis=axis, descending=True),
            -np.sort(-x, axis=axis),
        )
    # l2: ties pool exactly to their average rank; kl: nearly (its blocks are softmax-weighted)
    r = sg.soft_rank(x, strength=1e-9, regularization=reg, axis=1)
    want = scipy.stats.rankdata(x, axis=1)
    if reg == "l2":
        np.testing.assert_array_equal(r, want)
    else:
        np.testing.assert_allclose(r, want, rtol=1e-12)
    xd = rng.standard_normal(300)  # no ties: both exact
    np.testing.assert_array_equal(
        sg.soft_rank(xd, strength=1e-9, regularization=reg), scipy.stats.rankdata(xd)
    )


def test_large_strength_tends_to_the_mean(rng) -> None:
    x = rng.standard_normal((4, 30))
    np.testing.assert_allclose(
        sg.soft_sort(x, strength=1e7), np.broadcast_to(x.mean(1, keepdims=True), x.shape), atol=1e-5
    )
    for reg in REGS:
        np.testing.assert_allclose(sg.soft_rank(x, strength=1e9, regularization=reg), 15.5, atol=1e-5)
    # kl sort tends to the log-mean-exp: -log mean exp(-x) ascending
    want = -np.log(np.mean(np.exp(-x), axis=1, keepdims=True))
    np.testing.assert_allclose(
        sg.soft_sort(x, strength=1e9, regularization="kl"), np.broadcast_to(want, x.shape), atol=1e-6
    )


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize(
    ("shape", "axis"), [((3, 700, 5), 1), ((3, 700, 5), 0), ((4, 5, 600), -1), ((2, 2100), 0)]
)
def test_any_axis_equals_row_by_row_and_threads_do_not_matter(name, reg, shape, axis, rng) -> None:
    fn, ref = OPS[name]
    x = rng.standard_normal(shape) * 3
    got = fn(x, strength=0.7, regularization=reg, axis=axis, n_threads=1)
    np.testing.assert_allclose(got, ref(x, strength=0.7, regularization=reg, axis=axis), rtol=1e-9, atol=1e-9)
    for n in (2, 3):
        np.testing.assert_array_equal(fn(x, strength=0.7, regularization=reg, axis=axis, n_threads=n), got)


@pytest.mark.parametrize("name", sorted(OPS))
def test_long_rows_sort_in_parallel_with_the_same_bits(name, rng) -> None:
    fn, ref = OPS[name]
    x = rng.standard_normal((2, 40_000))  # rows past PAR_MIN_ELEMS: the parallel sort
    one = fn(x, n_threads=1)
    for n in (2, 3):
        np.testing.assert_array_equal(fn(x, n_threads=n), one)
    np.testing.assert_allclose(one[0, :500], ref(x[0])[:500], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_stays_float32_and_agrees_with_float64(name, rng) -> None:
    fn, _ = OPS[name]
    x = rng.standard_normal((5, 40)).astype(np.float32)
    for reg in REGS:
        got = fn(x, regularization=reg)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, fn(x.astype(np.float64), regularization=reg), rtol=2e-6, atol=2e-5)
    assert fn(x.astype(np.float16)).dtype == np.float16
    assert fn(np.arange(5)).dtype == np.float64
    assert fn([True, False]).dtype == np.float64


@pytest.mark.parametrize("name", sorted(OPS))
def test_views_read_only_unaligned_and_callers_arrays_unchanged(name, rng) -> None:
    fn, _ = OPS[name]
    base = rng.standard_normal((6, 50))
    want = fn(base)
    ro = base.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(fn(ro), want)
    buf = bytearray(base.nbytes + 1)
    un = np.ndarray(base.shape, base.dtype, buffer=buf, offset=1)
    un[...] = base
    np.testing.assert_array_equal(fn(un), want)
    big = np.zeros((6, 100))
    big[:, ::2] = base
    np.testing.assert_array_equal(fn(big[:, ::2]), want)  # strided view
    np.testing.assert_array_equal(fn(base.T, axis=0), want.T)
    before = base.copy()
    out, pullback = sg.vjp(fn, base)
    pullback(np.ones_like(out))
    sg.jvp(fn, (base,), (np.ones_like(base),))
    np.testing.assert_array_equal(base, before)


@pytest.mark.parametrize("name", sorted(OPS))
def test_empty_arrays(name) -> None:
    fn, _ = OPS[name]
    for shape in [(0,), (3, 0), (0, 4)]:
        out = fn(np.zeros(shape))
        assert out.shape == shape
    out, pullback = sg.vjp(fn, np.zeros((3, 0)))
    assert pullback(np.zeros((3, 0))).x.shape == (3, 0)


@pytest.mark.parametrize("name", sorted(OPS))
def test_bad_input(name) -> None:
    fn, _ = OPS[name]
    x = np.ones((2, 3))
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=rf"^{name}: strength must be finite and > 0"):
            fn(x, strength=bad)
    with pytest.raises(TypeError, match=rf"^{name}: strength must be a real scalar"):
        fn(x, strength=np.ones(2))
    with pytest.raises(ValueError, match=rf"^{name}: regularization must be 'l2' or 'kl', got 'l1'"):
        fn(x, regularization="l1")
    for ax in (2, -3):
        with pytest.raises(ValueError, match=rf"^{name}: axis {ax} is out of bounds"):
            fn(x, axis=ax)
    for ax in (None, (0, 1), 1.0, True):
        with pytest.raises(TypeError, match=rf"^{name}: axis must be an int"):
            fn(x, axis=ax)
    with pytest.raises(TypeError, match=rf"^{name}: descending must be a bool"):
        fn(x, descending="yes")
    with pytest.raises(ValueError, match=rf"^{name}: x must have at least one dimension"):
        fn(np.float64(1.0))
    for bad_x in (np.ones(3, complex), np.array(["a", "b"]), np.array([object()])):
        with pytest.raises(TypeError, match=rf"^{name}: x must"):
            fn(bad_x)
    with pytest.raises(ValueError, match=rf"^{name}: n_threads must be >= 1"):
        fn(x, n_threads=0)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused_naming_the_position(name, bad) -> None:
    fn, _ = OPS[name]
    x = np.zeros((3, 4))
    x[1, 2] = bad
    shown = {"nan": "NaN"}.get(str(bad), str(bad))  # as Rust prints it
    with pytest.raises(ValueError, match=rf"^{name}: x must be finite, got {shown} at flat index 6$"):
        fn(x)
    with pytest.raises(ValueError, match=rf"^{name}: x must be finite"):
        sg.vjp(fn, x.astype(np.float32), axis=0)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("reg", REGS)
def test_derivatives_stay_finite_for_wild_scales(name, reg) -> None:
    fn, _ = OPS[name]
    x = np.array([1e300, -1e300, 0.0, 1e-300, 5.0, 5.0, -3e200])
    g = np.array([1.0, -2.0, 0.5, 0.3, 1.0, -1.0, 2.0])
    for strength in (1e-300, 1e-8, 1.0, 1e8, 1e300):
        out, pullback = call_strict(sg.vjp, fn, x, strength=strength, regularization=reg)
        ct = pullback(g)
        if name == "soft_rank":
            assert np.all(np.isfinite(out))
        assert not np.any(np.isnan(ct.x)) and not np.isnan(ct.strength), strength
        _, tan = call_strict(sg.jvp, fn, (x, strength), (g, 0.0), regularization=reg)
        assert not np.any(np.isnan(tan))
    # moderate scales: everything finite
    for strength in (1e-3, 1.0, 1e3):
        xs = np.array([700.0, -700.0, 0.0, 1.0, 1.0, 30.0])
        _, pullback = call_strict(sg.vjp, fn, xs, strength=strength, regularization=reg)
        ct = pullback(np.arange(6.0))
        assert np.all(np.isfinite(ct.x)) and np.isfinite(ct.strength)


def test_rank_gradient_is_the_block_average(rng) -> None:
    # l2 ranks: inside one pooled block, d r / d x = (I - 11^T/|B|)/eps
    x = np.array([0.0, 0.1, 0.2])
    out, pullback = sg.vjp(sg.soft_rank, x, strength=10.0)
    np.testing.assert_allclose(out, 2.0 + (x - x.mean()) / 10.0)
    np.testing.assert_allclose(pullback(np.array([1.0, 0.0, 0.0])).x, [2 / 30, -1 / 30, -1 / 30])
    # strength: d r/d eps = -(x - mean)/eps^2
    np.testing.assert_allclose(pullback(np.array([1.0, 0.0, 0.0])).strength, 0.1 / 100)


def _same(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_pullback_runs_on_the_rust_residuals_only(rng) -> None:
    x = rng.standard_normal((3, 20))
    out, pullback = sg.vjp(sg.soft_rank, x, regularization="kl")
    ct = rng.standard_normal(out.shape)
    before = pullback(ct)
    x[...] = 0.0
    out[...] = 0.0
    after = pullback(ct)
    _same(before.x, after.x)
    _same(before.strength, after.strength)


# ---------------------------------------------------------------------------------------------
# soft_topk and soft_quantile


@given(x=rows(), data=st.data(), strength=st.floats(0.01, 20.0))
def test_topk_matches_the_reference_and_is_a_capped_simplex_mask(x, data, strength) -> None:
    k = data.draw(st.integers(0, x.size))
    m = call_strict(sg.soft_topk, x, k, strength=strength)
    np.testing.assert_allclose(m, oracle.soft_topk(x, k, strength=strength), rtol=1e-9, atol=1e-9)
    assert np.all(m >= -1e-12) and np.all(m <= 1 + 1e-12)
    np.testing.assert_allclose(m.sum(), k, atol=1e-9 * max(1, x.size))


def test_topk_limits_axes_and_errors(rng) -> None:
    x = rng.standard_normal((4, 30, 3))
    hard = sg.soft_topk(x, 5, strength=1e-9, axis=1)
    want = (np.argsort(np.argsort(-x, axis=1), axis=1) < 5).astype(float)
    np.testing.assert_array_equal(hard, want)
    np.testing.assert_allclose(sg.soft_topk(x, 5, strength=1e9, axis=1), 5 / 30, atol=1e-6)
    np.testing.assert_allclose(
        sg.soft_topk(x, 7, strength=0.3, axis=1), oracle.soft_topk(x, 7, strength=0.3, axis=1), atol=1e-12
    )
    np.testing.assert_array_equal(
        sg.soft_topk(np.array([1.0, 3.0, 3.0, 0.0]), 1, strength=1e-9), [0, 0.5, 0.5, 0]
    )
    for bad in (-1, 31):
        with pytest.raises(ValueError, match=r"^soft_topk: k must be in \[0, n\] = \[0, 30\], got"):
            sg.soft_topk(x, bad, axis=1)
    for bad_k in (1.5, True, None):
        with pytest.raises(TypeError, match=r"^soft_topk: k must be an int"):
            sg.soft_topk(x, bad_k)
    with pytest.raises(ValueError, match=r"^soft_topk: strength"):
        sg.soft_topk(x, 2, strength=0.0)
    assert sg.soft_topk(x.astype(np.float32), 2).dtype == np.float32


@given(x=rows(), q=st.floats(0.0, 1.0), strength=st.floats(0.01, 20.0), reg=st.sampled_from(REGS))
def test_quantile_matches_the_reference(x, q, strength, reg) -> None:
    got = call_strict(sg.soft_quantile, x, q, strength=strength, regularization=reg)
    want = oracle.soft_quantile(x, q, strength=strength, regularization=reg)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(x).max()))


def test_quantile_shapes_limits_and_errors(rng) -> None:
    x = rng.standard_normal((4, 30, 3))
    q = np.array([[0.0, 0.1], [0.5, 1.0]])
    for axis in (0, 1, -1):
        got = sg.soft_quantile(x, q, strength=1e-9, axis=axis)
        want = np.quantile(x, q, axis=axis)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            sg.soft_quantile(x, q, strength=0.7, axis=axis),
            oracle.soft_quantile(x, q, strength=0.7, axis=axis),
            rtol=1e-10,
            atol=1e-12,
        )
    np.testing.assert_allclose(sg.soft_quantile(x, 0.9, strength=1e7, axis=1), x.mean(axis=1), atol=1e-5)
    assert np.ndim(sg.soft_quantile(np.arange(5.0), 0.5)) == 0
    for bad in (-0.1, 1.5, np.nan, [0.5, 2.0]):
        with pytest.raises(ValueError, match=r"^soft_quantile: q must be in \[0, 1\]"):
            sg.soft_quantile(x, bad)
    with pytest.raises(TypeError, match=r"^soft_quantile: q must be a real"):
        sg.soft_quantile(x, "a")
    with pytest.raises(ValueError, match=r"^soft_quantile: x has no values"):
        sg.soft_quantile(np.zeros((3, 0)), 0.5)
    assert sg.soft_quantile(x.astype(np.float32), [0.2, 0.4]).dtype == np.float32


# ---------------------------------------------------------------------------------------------
# spearman_loss


def test_spearman_loss_is_one_minus_scipy_spearman_at_tiny_strength(rng) -> None:
    pred = rng.standard_normal((5, 40))
    target = np.round(pred + rng.standard_normal((5, 40)), 1)  # ties in the target
    got = sg.spearman_loss(pred, target, strength=1e-9)
    want = [1 - scipy.stats.spearmanr(p, t).statistic for p, t in zip(pred, target, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sg.spearman_loss(pred.T, target.T, axis=0, strength=1e-9), want, atol=1e-12)
    assert np.ndim(sg.spearman_loss(pred[0], target[0])) == 0
    assert sg.spearman_loss(np.ones(4), np.arange(4.0)) == 1.0  # undefined correlation: 0
    _, pullback = sg.vjp(sg.spearman_loss, np.ones(4), np.arange(4.0))
    np.testing.assert_array_equal(pullback(1.0).pred, 0.0)
    with pytest.raises(ValueError, match=r"^spearman_loss: target has shape \(3,\), pred has shape \(4,\)"):
        sg.spearman_loss(np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match=r"^spearman_loss: strength"):
        sg.spearman_loss(np.ones(4), np.ones(4), strength=-1.0)


def test_training_a_linear_ranker_with_spearman_loss_raises_held_out_spearman() -> None:
    # A linear model trained by gradient descent on the soft Spearman loss alone (scikit-learn's
    # load_diabetes is not installed here: a synthetic regression with a monotone, noisy target).
    rng = np.random.default_rng(0)
    w_true = rng.standard_normal(8)
    X = rng.standard_normal((600, 8))
    y = np.exp(X @ w_true / 2) + 0.3 * rng.standard_normal(600)
    Xtr, ytr, Xte, yte = X[:400], y[:400], X[400:], y[400:]
    w = rng.standard_normal(8)
    held_out = [scipy.stats.spearmanr(Xte @ w, yte).statistic]
    for _ in range(60):
        _, pullback = sg.vjp(sg.spearman_loss, Xtr @ w, ytr, strength=0.1)
        w -= 2.0 * Xtr.T @ pullback(1.0).pred
        held_out.append(scipy.stats.spearmanr(Xte @ w, yte).statistic)
    assert held_out[-1] > 0.9 > held_out[0] + 0.3, held_out[::10]


# ---------------------------------------------------------------------------------------------
# ragged rows


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("reg", REGS)
def test_lengths_make_ragged_rows_equal_to_truncated_rows(name, reg, rng) -> None:
    fn, ref = OPS[name]
    x = rng.standard_normal((5, 30, 4))
    lengths = rng.integers(0, 31, (5, 4))
    lengths[0, 0], lengths[1, 1] = 0, 30
    got = fn(x, axis=1, lengths=lengths, strength=0.6, regularization=reg, n_threads=2)
    for o in range(5):
        for j in range(4):
            m = lengths[o, j]
            want = ref(x[o, :m, j], strength=0.6, regularization=reg) if m else np.zeros(0)
            np.testing.assert_allclose(got[o, :m, j], want, rtol=1e-9, atol=1e-9)
            np.testing.assert_array_equal(got[o, m:, j], 0.0)
    _, pullback = sg.vjp(fn, x, axis=1, lengths=lengths, strength=0.6, regularization=reg)
    gx = pullback(np.ones_like(x)).x
    for o in range(5):
        for j in range(4):
            np.testing.assert_array_equal(gx[o, lengths[o, j] :, j], 0.0)
    m = sg.soft_topk(x, 0, axis=1, lengths=lengths)
    np.testing.assert_array_equal(m, 0.0)


def test_lengths_are_checked(rng) -> None:
    x = rng.standard_normal((3, 5))
    with pytest.raises(ValueError, match=r"^soft_rank: lengths has shape \(2,\), expected \(3,\)"):
        sg.soft_rank(x, lengths=[1, 2])
    with pytest.raises(ValueError, match=r"^soft_sort: lengths must be in \[0, n\] = \[0, 5\]"):
        sg.soft_sort(x, lengths=[1, 6, 2])
    with pytest.raises(TypeError, match=r"^soft_sort: lengths must be integers"):
        sg.soft_sort(x, lengths=[1.0, 2.0, 2.0])
    with pytest.raises(ValueError, match=r"^soft_topk: k must be in \[0, n\] = \[0, 1\], got 2"):
        sg.soft_topk(x, 2, lengths=[1, 5, 5])


@pytest.mark.parametrize("f", [0.5, 1 - 1e-9, 1 + 1e-9, 2.0])
@pytest.mark.parametrize("n", [9, 300])
def test_l2_lanes_near_the_one_block_tests_equal_the_oracle(f: float, n: int) -> None:
    # Just inside the one-block tests (rank: range/strength <= n/2; sort: 2 strength D >= (n-1)^2,
    # D = sum of positive deviations from the mean) softgrad skips the sort; just past them it
    # sorts and pools. Both sides, values and x cotangents, against the plain PAV oracle.
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    x[n // 3] = 4.0  # one value apart: where both tests are tight
    g = rng.standard_normal(n)
    ranked = np.ptp(x) / (f * n / 2)
    d = np.maximum(x - x.mean(), 0).sum()
    sorted_ = f * (n - 1) ** 2 / (2 * d)
    for name, strength in (("soft_rank", ranked), ("soft_sort", sorted_)):
        op, ref = OPS[name]
        for descending in (False, True):
            out = op(x, strength=strength, descending=descending)
            want = ref(x, strength=strength, descending=descending)
            np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12 * n)
            _, pullback = sg.vjp(op, x, strength=strength, descending=descending)
            eps = 1e-6
            fd = (
                np.dot(g, ref(x + eps * g, strength=strength, descending=descending))
                - np.dot(g, ref(x - eps * g, strength=strength, descending=descending))
            ) / (2 * eps)
            np.testing.assert_allclose(np.dot(g, pullback(g).x), fd, rtol=1e-5, atol=1e-6)
