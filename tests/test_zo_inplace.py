"""In-place MeZO steps: ``softgrad.spsa_inplace`` and ``softgrad.apply_seeded_update``. The
promise tested: x comes back bit for bit wherever the perturbations lost no information (and
within a few ulp elsewhere), also when f raises or on KeyboardInterrupt; no copy; the same bits
for any thread count."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import softgrad
from softgrad._core import zo as Z

PIECE = 1 << 16


def weights(n: int, dtype: Any, seed: int = 0) -> NDArray[Any]:
    """Like a layer's weights: normal with std 0.02, a few exact zeros."""
    w = (0.02 * np.random.default_rng(seed).standard_normal(n)).astype(dtype)
    w[::97] = 0
    return w


def sumsq(v: NDArray[Any]) -> float:
    return float(np.sum(v.astype(np.float64) ** 2))


def z_of(seed: int, n: int, dist: str = "gaussian") -> NDArray[np.float64]:
    return Z.sample(seed, 0, "normal" if dist == "gaussian" else dist, 0, n)


def eps_used(eps: float, dist: str) -> float:
    """The scale spsa_inplace perturbs by: with Rademacher z, eps rounded to 8 significant bits
    (ties to even)."""
    if dist == "gaussian":
        return eps
    m, e = np.frexp(eps)
    return float(np.ldexp(np.round(m * 256.0), e - 8))


def image(r: NDArray[Any], d: list[NDArray[np.float64]]) -> NDArray[Any]:
    """The steps ``d`` replayed on ``r`` as ``apply_seeded_update`` makes them: each increment
    rounded to a multiple of r's ulp (ties to even), added in float64, rounded once to r's dtype
    (ties to even)."""
    for dk in d:
        q = np.spacing(np.abs(r)).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # dk / q overflows where dk is kept
            snapped = np.where(np.abs(dk) >= q * 2.0**52, dk, np.round(dk / q) * q)
        r = (r.astype(np.float64) + snapped).astype(r.dtype)
    return r


def step_r(r: NDArray[Any], d: NDArray[np.float64]) -> NDArray[Any]:
    """One recorded step as the core makes it: ``d`` rounded to a multiple of r's ulp (ties to
    even), added, the sum rounded to r's dtype to nearest with ties toward zero."""
    q = np.spacing(np.abs(r)).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # d / q overflows where d is kept
        snapped = np.where(np.abs(d) >= q * 2.0**52, d, np.round(d / q) * q)
    a = r.astype(np.float64)
    s = a + snapped
    if r.dtype == np.float64:  # two-sum: the exact error of the float64 sum
        bb = s - a
        err = (a - (s - bb)) + (snapped - bb)
        out, e = s, -err
    else:  # the float64 sum is exact
        out = s.astype(r.dtype)
        e = out.astype(np.float64) - s
    tz = np.nextafter(out, np.zeros_like(out))
    half = 0.5 * np.abs(out.astype(np.float64) - tz)
    with np.errstate(invalid="ignore"):
        away = (e != 0) & ((e > 0) == (out > 0)) & (np.abs(e) == half) & (out != 0) & np.isfinite(out)
    return np.where(away, tz, out)


def covered(x0: NDArray[Any], d: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Where the restore is promised exact for a sample of scale ``d = eps z``:
    ``|x0| > |d| + 4 ulp``."""
    ok: NDArray[np.bool_] = np.abs(x0.astype(np.float64)) > np.abs(d) + 4 * np.spacing(np.abs(x0)).astype(
        np.float64
    )
    return ok


def check_restored(x: NDArray[Any], x0: NDArray[Any], *samples: NDArray[np.float64]) -> float:
    """The promise: x equals x0 bit for bit wherever every sample (its ``d = eps z``) is covered,
    and in value at exact zeros (-0.0 may come back as +0.0); elsewhere within 4 ulp of
    max(|x0|, |d|) per sample. Returns the fraction restored exactly."""
    ok = np.ones(x0.shape, bool)
    for d in samples:
        ok &= covered(x0, d)
    u = f"u{x.itemsize}"
    assert np.array_equal(x[ok].view(u), x0[ok].view(u)), np.flatnonzero(ok & (x != x0))[:5]
    assert np.all(x[x0 == 0] == 0)
    big = np.abs(x0).astype(np.float64)
    for d in samples:
        big = np.maximum(big, np.abs(d))
    bound = 4 * len(samples) * np.spacing(big.astype(x0.dtype)).astype(np.float64)
    assert np.all(np.abs(x.astype(np.float64) - x0) <= bound)
    return float(np.mean(x == x0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_x_is_restored_exactly_where_information_survives(dtype: Any, dist: str) -> None:
    n, eps = 2 * PIECE + 123, 1e-3
    x0 = weights(n, dtype)
    x = x0.copy()
    g, seeds = softgrad.spsa_inplace(sumsq, x, eps=eps, seed=1, n_samples=2, dist=dist)
    frac = check_restored(x, x0, *(eps_used(eps, dist) * z_of(s, n, dist) for s in seeds))
    assert frac > 0.9, frac  # weights of std 0.02 against eps 1e-3: all but |x| < eps |z|
    # The projected gradient of sum x^2 along z is 2 x.z (+ O(eps) in float32 rounding).
    for k, s in enumerate(seeds):
        want = 2 * float(np.dot(x0.astype(np.float64), z_of(s, n, dist)))
        assert g[k] == pytest.approx(want, rel=1e-2 if dtype == np.float32 else 1e-6, abs=1e-2)


def edge_plants(n: int, dtype: Any, eps: float) -> NDArray[Any]:
    """Values just below, at and just above powers of two (1/16 to 4), both signs: most below it by
    up to 3 eps, so that x + eps z or x - eps z often crosses it upwards."""
    p = 2.0 ** (np.arange(n) % 7 - 4)
    v = (p - np.random.default_rng(3).uniform(0, 3 * eps, n)).astype(dtype)
    pd = p.astype(dtype)
    v[0::5] = np.nextafter(pd[0::5], -np.inf)
    v[1::5] = pd[1::5]
    v[2::5] = np.nextafter(np.nextafter(pd[2::5], np.inf), np.inf)
    v[(np.arange(n) // 7) % 2 == 1] *= -1
    return v


@pytest.mark.parametrize(
    ("eps", "want"),
    [(1e-3, 131 * 2.0**-17), (0.5, 0.5), (0.3, 77 * 2.0**-8), (1.0 - 2.0**-10, 1.0), (3e-300, None)],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rademacher_eps_is_rounded_to_eight_bits(eps: float, want: float | None, dtype: Any) -> None:
    """f sees x0 +- eps' z with eps' eps rounded to 8 significant bits, and the projected
    gradient is the exact difference quotient of what f returned over 2 eps'."""
    want = eps_used(eps, "rademacher") if want is None else want
    assert want == eps_used(eps, "rademacher") and abs(want - eps) <= eps * 2.0**-8
    # Every |x0| above 2 eps': each point is one step from x0 (module docstring), exact to undo.
    x0 = ((weights(3000, dtype) + dtype(2)) * np.where(np.arange(3000) % 3 == 0, -1, 1)).astype(dtype)
    x, seen, vals = x0.copy(), [], []

    def f(v: NDArray[Any]) -> float:
        seen.append(v.copy())
        vals.append(float(np.sum(np.sin(v.astype(np.float64)))))
        return vals[-1]

    g, seeds = softgrad.spsa_inplace(f, x, eps=eps, seed=4, dist="rademacher")
    d = want * z_of(seeds[0], x.size, "rademacher")
    u = f"u{x.itemsize}"
    assert np.array_equal(seen[0].view(u), step_r(x0, d).view(u))
    assert np.array_equal(seen[1].view(u), step_r(x0, -d).view(u))
    assert g[0] == (vals[0] - vals[1]) / (2 * want)
    assert np.array_equal(x.view(u), x0.view(u))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
@pytest.mark.parametrize("n_samples", [1, 2, 3])
def test_x_is_restored_exactly_below_and_at_powers_of_two(dtype: Any, dist: str, n_samples: int) -> None:
    """Where perturbations cross powers of two (a crossing into a coarser binade is rounded to
    nearest, ties toward zero, so no value is the image of more than two floats): exact at every
    covered coordinate, and f sees x0 +- eps z each rounded once from x0 (not a chain)."""
    n, eps = PIECE + 321, 1e-3
    x0 = edge_plants(n, dtype, eps)
    x = x0.copy()
    seen: list[NDArray[Any]] = []

    def f(v: NDArray[Any]) -> float:
        seen.append(v.copy())
        return 0.0

    _, seeds = softgrad.spsa_inplace(f, x, eps=eps, seed=1, n_samples=n_samples, dist=dist)
    samples = [eps_used(eps, dist) * z_of(s, n, dist) for s in seeds]
    frac = check_restored(x, x0, *samples)
    assert frac == 1.0, frac  # every plant is covered: |x0| >= 1/16 - 3 eps > eps |z| + 4 ulp
    for k, d in enumerate(samples):
        u = f"u{x.itemsize}"
        assert np.array_equal(seen[2 * k].view(u), step_r(x0, d).view(u))
        assert np.array_equal(seen[2 * k + 1].view(u), step_r(x0, -d).view(u))
    # The tie rule is at work: crossings that land on a tie exist among these plants.
    assert np.mean(step_r(x0, samples[0]) != image(x0, [samples[0]])) > 0.01


def test_plain_add_back_would_drift() -> None:
    """Why restoration solves instead of adding back: x + eps z - 2 eps z + eps z != x often."""
    x0 = weights(100_000, np.float32)
    z = z_of(5, x0.size)
    naive = x0
    for c in (1e-3, -2e-3, 1e-3):
        naive = (naive.astype(np.float64) + c * z).astype(np.float32)
    assert np.mean(naive != x0) > 0.1
    x = x0.copy()
    st, bits = np.zeros(4), np.zeros((x.size + 7) // 8, np.uint8)
    Z.apply(x, 5, "gaussian", 1e-3, st, bits)
    Z.apply(x, 5, "gaussian", -2e-3, st, bits)
    np.testing.assert_array_equal(st, [2.0, 1e-3, -2e-3, 0.0])
    Z.restore(x, 5, "gaussian", st, bits)
    assert st[0] == 0
    assert np.mean(x != x0) < np.mean(naive != x0) / 4
    check_restored(x, x0, 1e-3 * z)


@pytest.mark.parametrize("where", ["plus", "minus"])
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_x_is_restored_when_f_raises(where: str, exc: type[BaseException]) -> None:
    x0 = weights(10_000, np.float32)
    x = x0.copy()
    calls = []

    def f(v: NDArray[Any]) -> float:
        calls.append(1)
        if (where == "plus" and len(calls) == 3) or (where == "minus" and len(calls) == 4):
            raise exc("stop")
        return sumsq(v)

    with pytest.raises(exc):
        softgrad.spsa_inplace(f, x, eps=1e-3, seed=3, n_samples=3)
    z0, z1 = (z_of(s, x.size) for s in Z.derive_seeds(3, 2))
    check_restored(x, x0, 1e-3 * z0, 1e-3 * z1)


def test_x_is_restored_on_a_real_sigint_in_f() -> None:
    x0 = weights(10_000, np.float64)
    x = x0.copy()

    def f(v: NDArray[Any]) -> float:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)  # the handler raises KeyboardInterrupt here
        return sumsq(v)

    # Python's handler, even where the run inherited SIGINT ignored (a background job)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            softgrad.spsa_inplace(f, x, eps=1e-3, seed=4)
    finally:
        signal.signal(signal.SIGINT, old)
    check_restored(x, x0, 1e-3 * z_of(Z.derive_seeds(4, 1)[0], x.size))


def test_x_is_restored_on_an_interrupt_during_the_passes() -> None:
    """A signal whose handler raises while the Rust passes run (long passes run on the worker
    thread; the interrupt surfaces after the pass, whose record is already written)."""
    n = 1 << 22
    x0 = weights(n, np.float32)
    old = signal.getsignal(signal.SIGALRM)

    armed = [False]

    def handler(signum: int, frame: Any) -> None:
        if armed[0]:  # only while the call runs (the timer may fire after it returned)
            raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, handler)
    try:
        for delay in [0.001, 0.01, 0.03, 0.07]:
            x = x0.copy()
            signal.setitimer(signal.ITIMER_REAL, delay)
            try:
                armed[0] = True
                softgrad.spsa_inplace(lambda v: 0.0, x, eps=1e-3, seed=9, n_samples=4)
                armed[0] = False
            except KeyboardInterrupt:
                armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            # Restored (up to the lossy coordinates' few ulp), not left perturbed by ~1e-3.
            assert np.all(np.abs(x - x0) <= 16 * np.spacing(np.maximum(np.abs(x0), np.float32(1e-2))))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_bits_do_not_depend_on_threads() -> None:
    n = 3 * PIECE + 5
    x0 = weights(n, np.float32)
    outs = []
    for nt in [1, 2, 3]:
        x = x0.copy()
        g, seeds = softgrad.spsa_inplace(sumsq, x, eps=1e-3, seed=8, n_samples=2, n_threads=nt)
        for gk, s in zip(g, seeds, strict=True):
            softgrad.apply_seeded_update(x, s, -0.1 * gk, n_threads=nt)
        outs.append((g, x))
    for g, x in outs[1:]:
        np.testing.assert_array_equal(g, outs[0][0])
        np.testing.assert_array_equal(x, outs[0][1])


def test_apply_seeded_update_adds_coeff_z() -> None:
    x0 = weights(5000, np.float32)
    x = x0.copy()
    softgrad.apply_seeded_update(x, 123, -0.25)
    z = z_of(123, 5000)
    np.testing.assert_array_equal(x, image(x0, [-0.25 * z]))
    plain = (x0.astype(np.float64) - 0.25 * z).astype(np.float32)  # the same within an ulp of x0
    assert np.all(np.abs(x - plain) <= np.maximum(np.spacing(np.abs(x0)), np.spacing(np.abs(plain))))
    y = np.zeros((10, 3))
    softgrad.apply_seeded_update(y, 1, 2.0, dist="rademacher")
    assert set(np.abs(y).ravel().tolist()) == {2.0}


def test_seeds_are_reproducible() -> None:
    x = weights(1000, np.float64)
    a = softgrad.spsa_inplace(sumsq, x, eps=1e-3, seed=42, n_samples=3)
    b = softgrad.spsa_inplace(sumsq, x, eps=1e-3, seed=42, n_samples=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1] and len(set(a[1])) == 3


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: [1.0, 2.0], TypeError, "ndarray"),
        (lambda: np.arange(4), TypeError, "float32 or float64"),
        (lambda: np.zeros((4, 4))[:, 1], TypeError, "C-contiguous"),
        (lambda: np.zeros(4).astype(np.float16), TypeError, "float32 or float64"),
    ],
)
def test_bad_x_is_refused(make: Any, exc: type[Exception], match: str) -> None:
    for call in (
        lambda x: softgrad.spsa_inplace(sumsq, x, eps=1e-3, seed=0),
        lambda x: softgrad.apply_seeded_update(x, 0, 1.0),
    ):
        with pytest.raises(exc, match=match):
            call(make())


def test_read_only_and_unaligned_x_are_refused() -> None:
    ro = np.zeros(8)
    ro.flags.writeable = False
    buf = bytearray(8 * 8 + 1)
    un = np.ndarray((8,), np.float64, buffer=buf, offset=1)
    for x, match in [(ro, "read-only"), (un, "aligned")]:
        with pytest.raises(ValueError, match=f"spsa_inplace: x .*{match}"):
            softgrad.spsa_inplace(sumsq, x, eps=1e-3, seed=0)
        with pytest.raises(ValueError, match=f"apply_seeded_update: x .*{match}"):
            softgrad.apply_seeded_update(x, 0, 1.0)


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(eps=0.0), ValueError, "eps"),
        (dict(eps=np.inf), ValueError, "eps"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(n_samples=0), ValueError, "n_samples"),
        (dict(dist="cauchy"), ValueError, "dist"),
        (dict(n_threads=0), ValueError, "n_threads"),
    ],
)
def test_bad_parameters(kw: dict[str, Any], exc: type[Exception], match: str) -> None:
    x0 = weights(100, np.float64)
    x = x0.copy()
    with pytest.raises(exc, match=f"spsa_inplace: {match}"):
        softgrad.spsa_inplace(sumsq, x, **{"eps": 1e-3, "seed": 0, **kw})
    np.testing.assert_array_equal(x, x0)


def test_bad_values_of_f_restore_x() -> None:
    x0 = weights(1000, np.float64)
    for bad in [lambda v: v, lambda v: np.nan, lambda v: "a"]:
        x = x0.copy()
        with pytest.raises(ValueError, match="spsa_inplace: f"):
            softgrad.spsa_inplace(bad, x, eps=1e-3, seed=0)
        assert np.mean(x == x0) > 0.5
        assert np.all(np.abs(x - x0) <= 4 * np.spacing(np.maximum(np.abs(x0), 1e-2)))
    with pytest.raises(TypeError, match="callable"):
        softgrad.spsa_inplace(3, x0.copy(), eps=1e-3, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="coeff"):
        softgrad.apply_seeded_update(x0.copy(), 0, np.nan)


def test_f_sees_x_itself_perturbed() -> None:
    x = np.zeros(50)
    seen = []

    def f(v: NDArray[Any]) -> float:
        assert v is x
        seen.append(v.copy())
        return 0.0

    g, seeds = softgrad.spsa_inplace(f, x, eps=0.5, seed=2)
    z = z_of(seeds[0], 50)
    np.testing.assert_array_equal(seen[0], 0.5 * z)
    np.testing.assert_array_equal(seen[1], 0.5 * z - 1.0 * z)
    np.testing.assert_array_equal(x, np.zeros(50))
    assert g[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_plus_and_minus_powers_of_two_come_back_exactly(dtype: Any, dist: str) -> None:
    # LayerNorm gains start at exactly 1.0: every one comes back, at +v and -v alike, over several
    # samples and thread counts.
    n = 100_000
    for v in (1.0, 0.5, 2.0, float(np.nextafter(dtype(1.0), dtype(0)))):
        for s in (v, -v):
            for nt in (1, 2, 3):
                x = np.full(n, s, dtype)
                softgrad.spsa_inplace(
                    lambda a: 0.0, x, eps=1e-3, seed=0, n_samples=3, dist=dist, n_threads=nt
                )
                assert np.all(x == dtype(s)), (s, nt, float(np.mean(x == s)))


def test_a_concurrent_call_on_the_same_x_is_refused_by_name() -> None:
    """Two threads on one array: the one that finds x borrowed is refused with the name of the
    function it called (spsa_inplace, not the internal pass). (Sharing x between threads is the
    caller's error: which calls are refused, and what x holds after, depends on the timing.)"""
    w = (np.random.default_rng(0).standard_normal(2 * 10**6)).astype(np.float32)
    errors: list[str] = []

    def run() -> None:
        try:
            softgrad.spsa_inplace(lambda v: 0.0, w, eps=1e-3, seed=3, dist="rademacher")
        except ValueError as e:
            errors.append(str(e))

    import threading

    for _ in range(10):
        ts = [threading.Thread(target=run) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert all(e.startswith("spsa_inplace: x is in use") for e in errors), set(errors)
