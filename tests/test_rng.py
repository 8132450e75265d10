"""The normal stream of the core generator (``rng.rs``, ``rng/normal.rs``), through the public API.

Value ``i`` of ``Z.sample(seed, stream, "normal", ...)`` is re-derived here independently: Philox4x32-10
in NumPy integer arithmetic (pinned by Random123's known answers), then the documented Box-Muller in
NumPy ``float32`` operations (each rounded once, as the definition says): the bits must be equal. The
distribution is then checked against the normal one: moments within their standard errors on 1e7
values, a Kolmogorov-Smirnov test against ``scipy.stats.norm``, the tails, and the radius map out
to its largest value (beyond 6 sigma).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

import softgrad as sg
from softgrad._core import zo as Z

U32 = np.uint64(0xFFFF_FFFF)


def philox(ctr: NDArray[np.uint64], key: tuple[int, int]) -> NDArray[np.uint64]:
    """Philox4x32-10 of counters ``ctr`` (shape (4, m), 32-bit words in uint64) under ``key``."""
    x0, x1, x2, x3 = (ctr[w].astype(np.uint64) for w in range(4))
    k0, k1 = key
    m0, m1 = np.uint64(0xD251_1F53), np.uint64(0xCD9E_8D57)
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + 0x9E37_79B9) & 0xFFFF_FFFF, (k1 + 0xBB67_AE85) & 0xFFFF_FFFF
        p0, p1 = x0 * m0, x2 * m1
        x0, x1, x2, x3 = (
            (p1 >> np.uint64(32)) ^ x1 ^ np.uint64(k0),
            p1 & U32,
            (p0 >> np.uint64(32)) ^ x3 ^ np.uint64(k1),
            p0 & U32,
        )
    return np.stack([x0, x1, x2, x3])


def blocks(seed: int, stream: int, b0: int, m: int) -> NDArray[np.uint64]:
    """The words of blocks ``b0 .. b0 + m`` of stream ``(seed, stream)``, shape (4, m)."""
    b = np.arange(b0, b0 + m, dtype=np.uint64)
    ctr = np.stack(
        [
            b & U32,
            b >> np.uint64(32),
            np.full(m, stream & 0xFFFF_FFFF, np.uint64),
            np.full(m, stream >> 32, np.uint64),
        ]
    )
    return philox(ctr, (seed & 0xFFFF_FFFF, seed >> 32))


def horner(c: list[float], t: NDArray[np.float32]) -> NDArray[np.float32]:
    p = np.full_like(t, np.float32(c[-1]))
    for ci in c[-2::-1]:
        p = p * t + np.float32(ci)
    return p


Q = [1.442695, -0.72135293, 0.4809167, -0.36022517, 0.28728887, -0.24927182, 0.23265257, -0.14275974]
SIN = [0.7853982, -0.080745436, 0.0024900069, -3.595429e-05]
COS = [1.0, -0.30842513, 0.015854325, -0.0003259386, 3.5297971e-06]


def radius(w: NDArray[np.uint64]) -> NDArray[np.float32]:
    """``sqrt(-2 ln u)``, ``u = (f32(w >> 1) + 0.5) / 2^31``, as ``rng/normal.rs`` defines it."""
    v = (w >> np.uint64(1)).astype(np.int64).astype(np.float32) + np.float32(0.5)
    ix = (v.view(np.uint32).astype(np.int64) - 0x3F35_04F3) & 0xFFFF_FFFF
    e = (ix.astype(np.uint32).view(np.int32) >> 23).astype(np.int32)
    f = ((ix & 0x7F_FFFF) + 0x3F35_04F3).astype(np.uint32).view(np.float32) - np.float32(1.0)
    t = (31 - e).astype(np.float32) - f * horner(Q, f)
    out: NDArray[np.float32] = np.sqrt(t * np.float32(1.3862944))
    return out


def turn(w: NDArray[np.uint64]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``(cos, sin)`` of ``2 pi (w + 1/2) / 2^32`` as ``rng/normal.rs`` defines them."""
    a = (w + np.uint64(1 << 29)) & U32
    q = (a >> np.uint64(30)).astype(np.uint32)
    s = (a & np.uint64((1 << 30) - 1)).astype(np.int64) - (1 << 29)
    x = (2 * s + 1).astype(np.float32) * np.float32(2.0**-30)
    y = x * x
    sn, cs = x * horner(SIN, y), horner(COS, y)
    odd = (q & 1) == 1
    c, s_ = np.where(odd, sn, cs), np.where(odd, cs, sn)
    c = (c.view(np.uint32) ^ (((q + 1) & 2) << 30).astype(np.uint32)).view(np.float32)
    s_ = (s_.view(np.uint32) ^ ((q & 2) << 30).astype(np.uint32)).view(np.float32)
    return c, s_


def normals(seed: int, stream: int, start: int, n: int) -> NDArray[np.float32]:
    """Values ``start .. start + n`` of the normal stream, re-derived from Philox's words."""
    b0 = start // 4
    m = (start + n + 3) // 4 - b0
    w = blocks(seed, stream, b0, m)
    z = np.empty((m, 4), np.float32)
    for p in range(2):
        r = radius(w[2 * p])
        c, s = turn(w[2 * p + 1])
        z[:, 2 * p], z[:, 2 * p + 1] = r * c, r * s
    out: NDArray[np.float32] = z.reshape(-1)[start - 4 * b0 : start - 4 * b0 + n]
    return out


def test_the_numpy_philox_is_random123s() -> None:
    # Random123's known-answer vectors (kat_vectors) for Philox4x32-10.
    got = philox(np.array([[0], [0], [0], [0]], np.uint64), (0, 0))[:, 0]
    assert got.tolist() == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    ctr = np.array([[0x243F6A88], [0x85A308D3], [0x13198A2E], [0x03707344]], np.uint64)
    got = philox(ctr, (0xA4093822, 0x299F31D0))[:, 0]
    assert got.tolist() == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize(
    ("seed", "stream", "start", "n"),
    [(0, 0, 0, 4), (2024, 0, 0, 100_003), (2**64 - 1, 2**64 - 1, 3, 5001), (7, 9, 4 * 2**32 - 5, 999)],
)
def test_normal_values_are_the_documented_box_muller_of_philox_words_bit_for_bit(
    seed: int, stream: int, start: int, n: int
) -> None:
    want = normals(seed, stream, start, n)
    got = Z.sample(seed, stream, "normal", start, n)
    assert got.dtype == np.float64
    # f32 values, widened exactly
    np.testing.assert_array_equal(got.astype(np.float32).astype(np.float64), got)
    np.testing.assert_array_equal(got.astype(np.float32).view(np.uint32), want.view(np.uint32))


def test_known_answers_of_seed_zero() -> None:
    # Block 0 of stream (0, 0) is Random123's first known-answer vector; the values by the definition
    # in float64 (libm): sqrt(-2 ln u) (cos, sin)(2 pi (w + 1/2) / 2^32), u = (f32(w >> 1) + 1/2) / 2^31.
    w = [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    want = []
    for p in range(2):
        u = (float(np.float32(w[2 * p] >> 1) + np.float32(0.5))) / 2.0**31
        r, t = np.sqrt(-2 * np.log(u)), 2 * np.pi * (w[2 * p + 1] + 0.5) / 2.0**32
        want += [r * np.cos(t), r * np.sin(t)]
    got = Z.sample(0, 0, "normal", 0, 4)
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-7)
    # and the bits (this implementation's; the same as the NumPy float32 re-derivation above)
    assert got.astype(np.float32).view(np.uint32).tolist() == [0x3F7DBB31, 0xBF6CB6B0, 0xBF1E1BA0, 0xBEF6D1B3]


def test_the_radius_reaches_past_six_sigma_and_follows_the_definition_in_the_tail() -> None:
    # The smallest radius words (u from 2^-32): r = sqrt(-2 ln u) to 4 f32 ulps, up to 6.66.
    w = np.concatenate(
        [np.arange(0, 4096, dtype=np.uint64), np.uint64(2**32) - np.arange(1, 4096, dtype=np.uint64)]
    )
    r = radius(w).astype(np.float64)
    u = ((w >> np.uint64(1)).astype(np.float32) + np.float32(0.5)).astype(np.float64) / 2.0**31
    exact = np.sqrt(-2 * np.log(u))
    assert np.all(np.abs(r - exact) <= 4 * np.spacing(np.maximum(exact, 2**-8).astype(np.float32)))
    assert r.max() == pytest.approx(np.sqrt(64 * np.log(2)), rel=1e-6)
    assert r.max() > 6.6
    # The angle turns uniformly: cos and sin of a quarter-turn grid to an ulp or two.
    a = np.arange(0, 2**32, 2**20 + 12345, dtype=np.uint64)
    c, s = turn(a)
    t = 2 * np.pi * (a.astype(np.float64) + 0.5) / 2.0**32
    assert np.max(np.abs(c - np.cos(t))) < 2.5e-7 and np.max(np.abs(s - np.sin(t))) < 2.5e-7


def test_moments_of_ten_million_values_are_within_their_standard_errors() -> None:
    n = 10_000_000
    z = Z.sample(12345, 0, "normal", 0, n)
    k = 5.0  # standard errors
    assert abs(z.mean()) < k * np.sqrt(1 / n)
    assert abs(z.var() - 1) < k * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < k * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < k * np.sqrt(24 / n)
    # The two values of a pair (cos and sin branches) and the two pairs of a block are uncorrelated.
    b = z.reshape(-1, 4)
    for i, j in [(0, 1), (2, 3), (0, 2), (1, 3)]:
        assert abs(np.mean(b[:, i] * b[:, j])) < k * np.sqrt(1 / b.shape[0])
    # Each slot of a block is standard normal.
    for j in range(4):
        assert abs(b[:, j].mean()) < k * np.sqrt(4 / n)
        assert abs(b[:, j].var() - 1) < k * np.sqrt(8 / n)


def test_tails_and_a_ks_test_against_scipy() -> None:
    n = 10_000_000
    z = Z.sample(99, 4, "normal", 10**9, n)
    assert stats.kstest(z[:2_000_000], stats.norm.cdf).pvalue > 1e-3
    for t in (2.0, 3.0, 4.0, 4.5):
        p = 2 * stats.norm.sf(t)
        se = np.sqrt(p * (1 - p) / n)
        assert abs(np.mean(np.abs(z) > t) - p) < 5 * se, t
    # beyond 5 sigma: about 5.7 expected in 1e7 (Poisson); beyond 6.7 impossible by construction
    assert np.sum(np.abs(z) > 5) <= 20
    assert np.abs(z).max() < np.sqrt(64 * np.log(2)) + 1e-6
    # the radius squared is exponential with mean 2 (chi-square, 2 degrees of freedom)
    b = z.reshape(-1, 2)
    r2 = b[:, 0] ** 2 + b[:, 1] ** 2
    assert stats.kstest(r2[:1_000_000], stats.expon(scale=2).cdf).pvalue > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_consumer_sees_the_same_values(dtype: Any) -> None:
    # apply_seeded_update on zeros with coeff 1 writes z itself (rounded to the dtype: exact).
    n = 70_001
    x = np.zeros(n, dtype)
    sg.apply_seeded_update(x, 31, 1.0, dist="gaussian")
    np.testing.assert_array_equal(x, normals(31, 0, 0, n).astype(dtype))


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_the_values_do_not_depend_on_the_thread_count(n_threads: int) -> None:
    # Past the parallel threshold and several 2^16-long pieces, with a ragged end.
    n = 3 * 2**16 + 4099
    x = np.zeros(n, np.float32)
    sg.apply_seeded_update(x, 2**63 + 5, 1.0, dist="gaussian", n_threads=n_threads)
    np.testing.assert_array_equal(x.view(np.uint32), normals(2**63 + 5, 0, 0, n).view(np.uint32))
