"""Ragged batches and NaN for the soft sort family: ``mask=`` (any subset of each slice) as the
alternative to ``lengths=`` (a prefix), ``lengths``/``mask`` for soft_topk, soft_quantile and
spearman_loss, and ``nan_policy="omit"``. Each is checked against the same op on the kept values of
each slice taken one by one; the derivatives are checked generically (tests/test_autodiff.py, on
the registered examples with lengths and masks) and here against the compacted slices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import softgrad as sg
from oracles import sort as oracle

OPS = {"soft_sort": (sg.soft_sort, oracle.soft_sort), "soft_rank": (sg.soft_rank, oracle.soft_rank)}


def _slices(shape: tuple[int, ...], axis: int):
    """The index tuples of every 1-D slice along ``axis``."""
    rest = shape[:axis] + shape[axis + 1 :]
    for idx in np.ndindex(*rest):
        yield (*idx[:axis], slice(None), *idx[axis:])


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("reg", ["l2", "kl"])
@pytest.mark.parametrize("axis", [1, 2])
def test_a_mask_sorts_each_slice_among_its_kept_values(name, reg, axis, rng) -> None:
    fn, ref = OPS[name]
    x = rng.standard_normal((3, 9, 300))
    mask = rng.random(x.shape) < 0.6
    mask[0, ...] = True  # whole slices kept, and one emptied
    mask[(1, slice(None), 0) if axis == 1 else (1, 0, slice(None))] = False
    x[~mask] = np.nan  # never read
    got = fn(x, mask=mask, axis=axis, strength=0.7, regularization=reg, n_threads=2)
    for s in _slices(x.shape, axis):
        keep = mask[s]
        np.testing.assert_array_equal(got[s][~keep], 0.0)
        want = ref(x[s][keep], strength=0.7, regularization=reg) if keep.any() else np.zeros(0)
        np.testing.assert_allclose(got[s][keep], want, rtol=1e-9, atol=1e-9)
    again = fn(x, mask=mask, axis=axis, strength=0.7, regularization=reg, n_threads=1)
    np.testing.assert_array_equal(again, got)
    # the derivatives: those of the kept values' op, 0 elsewhere
    g = rng.standard_normal(x.shape)
    _, pullback = sg.vjp(fn, x, mask=mask, axis=axis, strength=0.7, regularization=reg)
    gx = pullback(g).x
    for s in list(_slices(x.shape, axis))[:40]:
        keep = mask[s]
        np.testing.assert_array_equal(gx[s][~keep], 0.0)
        if keep.any():
            _, pb = sg.vjp(fn, x[s][keep], strength=0.7, regularization=reg)
            np.testing.assert_allclose(gx[s][keep], pb(g[s][keep]).x, rtol=1e-12, atol=1e-12)
    _, tan = sg.jvp(fn, (x,), (g,), mask=mask, axis=axis, strength=0.7, regularization=reg)
    assert np.all(np.isfinite(tan))
    np.testing.assert_array_equal(tan[~mask], 0.0)


@pytest.mark.parametrize("name", ["soft_sort", "soft_rank", "soft_topk"])
def test_a_prefix_mask_is_lengths(name, rng) -> None:
    x = rng.standard_normal((4, 6, 5))
    lengths = rng.integers(2, 7, (4, 5))
    mask = np.arange(6)[None, :, None] < lengths[:, None, :]
    fn = getattr(sg, name)
    args = (x, 2) if name == "soft_topk" else (x,)
    np.testing.assert_array_equal(fn(*args, axis=1, mask=mask), fn(*args, axis=1, lengths=lengths))


def test_topk_with_a_mask_never_selects_a_masked_value(rng) -> None:
    x = rng.standard_normal((6, 50))
    mask = rng.random(x.shape) < 0.5
    mask[:, :3] = True
    x_big = np.where(mask, x, 100.0)  # masked-out values would win if they took part
    m = sg.soft_topk(x_big, 3, mask=mask, strength=1e-3)
    np.testing.assert_array_equal(m[~mask], 0.0)
    np.testing.assert_allclose(m.sum(axis=1), 3.0)
    for i in range(6):
        top = np.argsort(np.where(mask[i], x[i], -np.inf))[-3:]
        np.testing.assert_allclose(m[i, top], 1.0)
    with pytest.raises(ValueError, match=r"^soft_topk: k must be in \[0, n\] = \[0, 3\], got 4"):
        sg.soft_topk(x, 4, mask=mask & (np.arange(50) < 3))


@pytest.mark.parametrize("ragged", ["lengths", "mask"])
def test_quantile_of_ragged_slices_is_the_quantile_of_the_kept_values(ragged, rng) -> None:
    x = rng.standard_normal((5, 40))
    lengths = np.array([40, 1, 2, 17, 0])
    keep = np.arange(40) < lengths[:, None]
    if ragged == "mask":
        keep = rng.random(x.shape) < 0.5
        keep[1] = False
        keep[1, 7] = True  # one value
        keep[4] = False  # none
    kw = {"lengths": lengths} if ragged == "lengths" else {"mask": keep}
    q = [0.0, 0.3, 0.5, 1.0]
    got = sg.soft_quantile(x, q, strength=1e-6, **kw)
    assert got.shape == (4, 5)
    for i in range(5):
        if keep[i].any():
            np.testing.assert_allclose(got[:, i], np.quantile(x[i][keep[i]], q), atol=1e-9)
        else:
            assert np.all(np.isnan(got[:, i]))
    soft = sg.soft_quantile(x, q, strength=0.8, **kw)
    for i in range(4):
        want = sg.soft_quantile(x[i][keep[i]], q, strength=0.8)
        np.testing.assert_allclose(soft[:, i], want, rtol=1e-12, atol=1e-12)
    _, pullback = sg.vjp(sg.soft_quantile, x, q, strength=0.8, **kw)
    g = rng.standard_normal((4, 5))
    gx = pullback(g).x
    np.testing.assert_array_equal(gx[~keep], 0.0)
    assert np.all(np.isfinite(gx))
    for i in range(4):
        _, pb = sg.vjp(sg.soft_quantile, x[i][keep[i]], q, strength=0.8)
        np.testing.assert_allclose(gx[i][keep[i]], pb(g[:, i]).x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ragged", ["lengths", "mask"])
def test_spearman_of_ragged_slices_uses_the_kept_pairs(ragged, rng) -> None:
    pred = rng.standard_normal((4, 30))
    target = np.round(pred + rng.standard_normal((4, 30)), 1)
    lengths = np.array([30, 12, 5, 1])
    keep = np.arange(30) < lengths[:, None]
    if ragged == "mask":
        keep = rng.random(pred.shape) < 0.6
        keep[3] = False
        keep[3, 4] = True
    kw = {"lengths": lengths} if ragged == "lengths" else {"mask": keep}
    got = sg.spearman_loss(pred, target, strength=1e-9, **kw)
    for i in range(3):
        want = 1 - scipy.stats.spearmanr(pred[i][keep[i]], target[i][keep[i]]).statistic
        np.testing.assert_allclose(got[i], want, atol=1e-12)
    assert got[3] == 1.0  # one pair: undefined correlation, 0
    _, pullback = sg.vjp(sg.spearman_loss, pred, target, strength=0.5, **kw)
    gx = pullback(np.ones(4)).pred
    np.testing.assert_array_equal(gx[~keep], 0.0)
    for i in range(3):
        _, pb = sg.vjp(sg.spearman_loss, pred[i][keep[i]], target[i][keep[i]], strength=0.5)
        np.testing.assert_allclose(gx[i][keep[i]], pb(1.0).pred, rtol=1e-10, atol=1e-12)


def test_nan_policy_omit_leaves_nan_out(rng) -> None:
    x = rng.standard_normal((4, 20))
    x[0, 3] = x[1, 0] = x[1, 19] = x[2, 5] = np.nan
    x[3] = np.nan
    want = scipy.stats.rankdata(x, axis=1, nan_policy="omit")
    got = sg.soft_rank(x, strength=1e-6, nan_policy="omit")
    np.testing.assert_allclose(got, want, atol=1e-9)  # NaN where x is NaN, as scipy
    np.testing.assert_array_equal(np.isnan(got), np.isnan(x))
    s = sg.soft_sort(x, strength=1e-6, nan_policy="omit")
    np.testing.assert_array_equal(np.isnan(s), np.isnan(x))
    np.testing.assert_allclose(s[0][~np.isnan(x[0])], np.sort(x[0][~np.isnan(x[0])]), atol=1e-9)
    np.testing.assert_allclose(
        sg.soft_quantile(x[:3], [0.2, 0.5], strength=1e-6, nan_policy="omit"),
        np.nanquantile(x[:3], [0.2, 0.5], axis=1),
        atol=1e-9,
    )
    _, pullback = sg.vjp(sg.soft_rank, x, strength=0.5, nan_policy="omit")
    gx = pullback(np.where(np.isnan(x), np.nan, 1.0)).x  # a NaN cotangent where the rank is NaN
    assert np.all(np.isfinite(gx))
    np.testing.assert_array_equal(gx[np.isnan(x)], 0.0)
    with pytest.raises(ValueError, match=r"^soft_rank: x must be finite, got NaN at flat index 3"):
        sg.soft_rank(x)
    with pytest.raises(ValueError, match=r"^soft_rank: x must be finite, got inf"):
        sg.soft_rank(np.array([1.0, np.inf, np.nan]), nan_policy="omit")
    with pytest.raises(ValueError, match=r"^soft_sort: nan_policy must be 'raise' or 'omit', got 'skip'"):
        sg.soft_sort(x, nan_policy="skip")
    # spearman: a NaN on either side drops the pair
    pred, target = rng.standard_normal(25), rng.standard_normal(25)
    pred[2], target[7] = np.nan, np.nan
    ok = ~(np.isnan(pred) | np.isnan(target))
    got = sg.spearman_loss(pred, target, strength=1e-9, nan_policy="omit")
    want = 1 - scipy.stats.spearmanr(pred, target, nan_policy="omit").statistic
    np.testing.assert_allclose(got, want, atol=1e-12)
    _, pullback = sg.vjp(sg.spearman_loss, pred, target, strength=0.5, nan_policy="omit")
    gp = pullback(1.0).pred
    np.testing.assert_array_equal(gp[~ok], 0.0)
    with pytest.raises(ValueError, match=r"^spearman_loss: pred must be finite, got nan at flat index 2$"):
        sg.spearman_loss(pred, target)
    with pytest.raises(ValueError, match=r"^spearman_loss: target must be finite, got inf at flat index 7$"):
        sg.spearman_loss(np.ones(25), np.where(np.isnan(target), np.inf, target), nan_policy="omit")


def test_ragged_arguments_are_checked(rng) -> None:
    x = rng.standard_normal((3, 5))
    with pytest.raises(ValueError, match=r"^soft_rank: give lengths or mask, not both"):
        sg.soft_rank(x, lengths=[5, 5, 5], mask=np.ones((3, 5), bool))
    with pytest.raises(TypeError, match=r"^soft_sort: mask must be booleans, got dtype int64"):
        sg.soft_sort(x, mask=np.ones((3, 5), np.int64))
    with pytest.raises(ValueError, match=r"^soft_topk: mask has shape \(3,\), expected \(3, 5\)"):
        sg.soft_topk(x, 1, mask=np.ones(3, bool))
    with pytest.raises(ValueError, match=r"^soft_quantile: lengths must be in \[0, n\] = \[0, 5\]"):
        sg.soft_quantile(x, 0.5, lengths=[1, 6, 2])
    with pytest.raises(ValueError, match=r"^spearman_loss: mask has shape"):
        sg.spearman_loss(x, x, mask=np.ones(5, bool))
    mask = np.ones((3, 5), bool)
    before = mask.copy(), x.copy()
    sg.vjp(sg.soft_rank, x, mask=mask)[1](x)
    np.testing.assert_array_equal(mask, before[0])
    np.testing.assert_array_equal(x, before[1])
