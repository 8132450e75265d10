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
from oracles import sort as oracle

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


def _scaled_reference(name: str, x: np.ndarray, strength: float, k: int) -> np.ndarray:
    """The oracle on ``x 2^-k``, scaled back, where its sums of ``x`` cannot overflow. A soft sort is
    ``sign (w - v)`` with ``w = rho/strength`` and ``v`` the isotonic regression of ``w - z``, which
    is positively homogeneous: ``2^k`` times that of ``(w 2^-k, z 2^-k)``. A soft rank sees only
    ``x/strength`` (the rank of ``(x 2^-k, strength 2^-k)``); for the rows here (gaps of at least 3)
    at a strength up to 1, nothing but ties pools (``x/strength - rho`` decreases from block to
    block): the hard rank, which the oracle, subtracting means of ``x/strength`` near 1e308 from it,
    cannot resolve."""
    c = 2.0**-k
    if name == "soft_rank":
        if strength <= 1.0:
            assert np.diff(np.unique(x)).min() >= 3.0
            return scipy.stats.rankdata(x)
        return oracle.soft_rank(x * c, strength=strength * c)
    z = np.sort(-x * c)[::-1]  # ascending sort: sign -1
    w = np.arange(x.size, 0, -1, dtype=np.float64) / strength * c
    return -(w - oracle.isotonic_l2(w - z)) / c


def test_l2_blocks_of_values_near_the_float_limit_stay_finite() -> None:
    # blocks pooling several values near +-1e308 (sums of x, of x - x0 would overflow)
    x = np.array([1e308, -1e308, 0.0, 1e308, 3.0, 1e308])
    g = np.array([1.0, -2.0, 0.5, 0.3, 1.0, -1.5])
    c = 2.0**-64  # exact: the problem 2^64 times smaller is far from the limit
    for name in ("soft_sort", "soft_rank"):
        fn = getattr(sg, name)
        for strength in (1e-300, 1.0, 1.7e308):
            out, pullback = sg.vjp(fn, x, strength=strength)
            # (a constant cotangent: a sort's d/d strength, -(rho_i - mean_B rho)/strength^2 per
            # block, reaches 1e600 at strength 1e-300, beyond any float, but sums to 0 over a block)
            ones = pullback(np.ones_like(x))
            assert np.all(np.isfinite(out)) and np.all(np.isfinite(ones.x)) and np.isfinite(ones.strength)
            ct = pullback(g)
            want = _scaled_reference(name, x, strength, 4)
            np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
            # derivatives: those of the same problem 2^64 times smaller (rank: (x c, strength c);
            # sort: 1/c times (x c, strength/c)), where the scaled strength is a normal float
            if name == "soft_rank" and strength * c > 1e-300:
                out_c, pb_c = sg.vjp(fn, x * c, strength=strength * c)
                ct_c, back, de_back = pb_c(g), c, c
            elif name == "soft_sort" and strength / c < 1.7e308:
                out_c, pb_c = sg.vjp(fn, x * c, strength=strength / c)
                out_c = out_c / c
                ct_c, back, de_back = pb_c(g), 1.0, 1.0 / (c * c)
            else:
                continue
            np.testing.assert_allclose(out, out_c, rtol=1e-12)
            np.testing.assert_allclose(ct.x, ct_c.x * back, rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(ct.strength, ct_c.strength * de_back, rtol=1e-12)
