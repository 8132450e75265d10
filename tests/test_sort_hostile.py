"""The soft sort family under hostile input: values that defeat a truncated-key sort (near-ties in
the last bits, ±0, subnormals, ±1e308), lanes across the sort's size thresholds (256: radix; 4096:
a 32-bit radix prefix), integer input, read-only and strided arrays and masks, and two Python threads
calling at once."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.stats

import softgrad as sg

SIZES = [2, 31, 255, 256, 257, 4095, 4096, 5000]


def _hostile(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "last_bits":  # equal in all but the last few bits: one long run for the fix-up
        return 1.0 + rng.integers(0, 40, n) * 2.0**-50
    if kind == "ties":
        return rng.integers(-3, 4, n).astype(float)
    if kind == "specials":  # (gaps of at least 1e-250: hard ranks at strength 1e-300)
        pool = np.array([0.0, -0.0, 1e-250, -1e-250, 1e300, -1e300, 1.0, np.nextafter(1.0, 2.0), 3e299])
        return rng.choice(pool, n)
    return rng.standard_normal(n) * 10.0 ** rng.integers(-240, 300, n)  # (almost) every exponent


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["last_bits", "ties", "specials", "scales"])
def test_hard_ranks_and_sorts_of_hostile_rows(n, kind, rng) -> None:
    x = _hostile(n, kind, rng)
    np.testing.assert_array_equal(sg.soft_rank(x, strength=1e-300), scipy.stats.rankdata(x))
    s = sg.soft_sort(x, strength=1e-300)
    if kind in ("last_bits", "ties"):
        np.testing.assert_array_equal(s, np.sort(x) + 0.0)
    else:  # gaps beyond 1/strength pool (the projection of rho/strength): still sorted and finite
        assert np.all(np.isfinite(s)) and np.all(np.diff(s) >= 0)
    np.testing.assert_array_equal(sg.soft_rank(x, strength=1e-300, descending=True), scipy.stats.rankdata(-x))
    # the same rows in one batch, in parallel and strided, give the same bits
    xs = np.stack([x, x[::-1], -x])
    want = sg.soft_rank(xs, strength=0.3, n_threads=1)
    np.testing.assert_array_equal(sg.soft_rank(xs, strength=0.3, n_threads=2), want)
    np.testing.assert_array_equal(sg.soft_rank(np.asfortranarray(xs.T), axis=0, strength=0.3).T, want)
    np.testing.assert_array_equal(sg.soft_rank(x[None], strength=0.3, n_threads=2)[0], want[0])


@pytest.mark.parametrize("name", ["soft_sort", "soft_rank", "soft_topk", "soft_quantile", "spearman_loss"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint64, np.int64, np.bool_])
def test_integers_and_bools_are_float64(name, dtype, rng) -> None:
    x = rng.integers(0, 2 if dtype == np.bool_ else 100, (3, 9)).astype(dtype)
    args = {
        "soft_topk": (x, 2),
        "soft_quantile": (x, 0.5),
        "spearman_loss": (x, np.tile(np.arange(9.0), (3, 1))),
    }.get(name, (x,))
    got = getattr(sg, name)(*args, strength=0.5)
    want = getattr(sg, name)(args[0].astype(np.float64), *args[1:], strength=0.5)
    assert np.asarray(got).dtype == np.float64
    np.testing.assert_array_equal(got, want)


def test_read_only_and_strided_masks_and_inputs(rng) -> None:
    x = rng.standard_normal((4, 2, 30))
    mask = rng.random(x.shape) < 0.5
    want = sg.soft_rank(x, mask=mask)
    xs, ms = np.zeros((4, 2, 60)), np.zeros((4, 2, 60), bool)
    xs[..., ::2], ms[..., ::2] = x, mask
    ro_x, ro_m = x.copy(), mask.copy()
    ro_x.flags.writeable = ro_m.flags.writeable = False
    np.testing.assert_array_equal(sg.soft_rank(xs[..., ::2], mask=ms[..., ::2]), want)
    np.testing.assert_array_equal(sg.soft_rank(ro_x, mask=ro_m), want)
    np.testing.assert_array_equal(sg.soft_rank(x.tolist(), mask=mask.tolist()), want)
    _, pullback = sg.vjp(sg.soft_rank, ro_x, mask=ro_m)
    assert pullback(np.ones_like(x)).x.shape == x.shape
    # empty rows and an empty axis with masks
    np.testing.assert_array_equal(sg.soft_sort(x, mask=np.zeros_like(mask)), 0.0)
    assert sg.soft_rank(np.zeros((3, 0)), mask=np.zeros((3, 0), bool)).shape == (3, 0)


def test_kl_never_overflows_at_huge_strength_and_wild_scales() -> None:
    x = np.array([1e308, -1e308, 0.0, 5e-324, 3.0, 3.0, -7e200, 1e-300])
    g = np.linspace(-1.0, 1.0, x.size)
    for name in ("soft_sort", "soft_rank"):
        for strength in (5e-324, 1e-300, 1.0, 1e300, 1.7e308):
            out, pullback = sg.vjp(getattr(sg, name), x, strength=strength, regularization="kl")
            ct = pullback(g)
            assert not np.any(np.isnan(out)), (name, strength)
            assert not np.any(np.isnan(ct.x)) and not np.isnan(ct.strength), (name, strength)
    r = sg.soft_rank(x, strength=1.7e308, regularization="kl")
    np.testing.assert_allclose(r.sum(), x.size * (x.size + 1) / 2, rtol=1e-12)


def test_two_threads_at_once_give_the_serial_results(rng) -> None:
    xs = [rng.standard_normal(s) for s in [(300, 700), (1, 200_000), (2000, 33), (50, 5000)]]
    calls = [
        lambda x: sg.soft_rank(x, strength=0.5),
        lambda x: sg.soft_sort(x, regularization="kl", descending=True),
        lambda x: sg.vjp(sg.soft_rank, x)[1](x).x,
        lambda x: sg.soft_quantile(x, [0.1, 0.9], mask=x > -1.0),
    ]
    want = [[f(x) for x in xs] for f in calls]
    got: list[list[object]] = [[None] * len(xs) for _ in calls]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(2):
                for j, x in enumerate(xs):
                    got[i][j] = calls[i](x)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(len(calls)):
        for j in range(len(xs)):
            np.testing.assert_array_equal(got[i][j], want[i][j])


@pytest.mark.xfail(
    strict=True,
    reason="known defect: l2 block sums of z (sort) and z - z0 (rank, its strength derivative) overflow "
    "when a block pools values near +-1e308 (several of them, or at strength ~1e308)",
)
def test_l2_blocks_of_values_near_the_float_limit_stay_finite() -> None:
    x = np.array([1e308, -1e308, 0.0, 1e308, 3.0, 1e308])
    for name in ("soft_sort", "soft_rank"):
        for strength in (1e-300, 1.0, 1.7e308):
            out, pullback = sg.vjp(getattr(sg, name), x, strength=strength)
            ct = pullback(np.ones_like(x))
            assert np.all(np.isfinite(out)) and np.all(np.isfinite(ct.x)) and np.isfinite(ct.strength)
