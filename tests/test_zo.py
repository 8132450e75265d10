"""Randomized gradient estimators (``softgrad.gradient(method="spsa" | "gaussian" | "sphere" |
"coordinate")``) and the counter-based generator behind them: unbiasedness and variance against
theory on quadratics and linear functions, reproducibility, bit-identity across threads / batches /
executors, masks, and hostile input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

import softgrad
from softgrad._core import zo as Z
from softgrad.zo import ZOEstimate

RNG = np.random.default_rng(3)
D = 20
A = RNG.uniform(0.5, 2.0, D)
B = RNG.uniform(-1.0, 1.0, D)
X0 = RNG.uniform(-1.0, 1.0, D)
TRUTH = A * X0 + B


def quad(X: NDArray[Any]) -> NDArray[Any]:
    """``sum a x^2 / 2 + b x`` of each row (vectorized)."""
    return np.sum(0.5 * A * X * X + B * X, axis=-1)


def quad1(x: NDArray[Any]) -> float:
    return float(np.sum(0.5 * A * x * x + B * x))


METHODS = ["spsa", "gaussian", "sphere", "coordinate"]


# ---------------------------------------------------------------------------------------------
# the generator


def test_normal_values_pass_a_ks_test_against_scipy() -> None:
    z = Z.sample(2024, 0, "normal", 0, 200_000)
    assert stats.kstest(z, stats.norm.cdf).pvalue > 1e-3
    # Odd and even values (the two Box-Muller branches) separately, and another stream.
    assert stats.kstest(z[1::2], stats.norm.cdf).pvalue > 1e-3
    assert stats.kstest(Z.sample(2024, 9, "normal", 10**12, 50_000), stats.norm.cdf).pvalue > 1e-3


def test_normal_values_have_the_normal_tails_and_angles() -> None:
    # The vectorized Box-Muller (fdlibm log, sin/cos of a turn reduced exactly): 2e6 values, the
    # tails a wrong radius would miss, and the angle of each pair uniform on the circle.
    z = Z.sample(11, 2, "normal", 3, 2_000_000)
    assert stats.kstest(z, stats.norm.cdf).pvalue > 1e-4
    for t in (2.0, 3.0, 4.0):
        p = 2 * stats.norm.sf(t)
        se = np.sqrt(p * (1 - p) / z.size)
        assert abs(np.mean(np.abs(z) > t) - p) < 5 * se
    assert np.abs(z).max() < 8.6
    c, s = Z.sample(11, 2, "normal", 0, 2_000_000).reshape(-1, 2).T  # one block's pair
    angle = (np.arctan2(s, c) / (2 * np.pi)) % 1.0
    assert stats.kstest(angle, stats.uniform.cdf).pvalue > 1e-4
    assert abs(np.corrcoef(c, s)[0, 1]) < 5 / np.sqrt(c.size)


def test_uniform_and_rademacher_values() -> None:
    u = Z.sample(5, 1, "uniform", 0, 100_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, stats.uniform.cdf).pvalue > 1e-3
    r = Z.sample(5, 1, "rademacher", 0, 100_000)
    assert set(np.unique(r).tolist()) == {-1.0, 1.0}
    assert abs(r.mean()) < 5 / np.sqrt(r.size)


def test_values_are_addressable() -> None:
    whole = Z.sample(7, 3, "normal", 0, 1000)
    np.testing.assert_array_equal(Z.sample(7, 3, "normal", 501, 99), whole[501:600])
    with pytest.raises(ValueError, match="dist"):
        Z.sample(7, 3, "cauchy", 0, 10)


# ---------------------------------------------------------------------------------------------
# unbiased, with the variance theory predicts


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sides", [2, 1])
def test_mean_over_seeds_is_the_gradient_of_a_quadratic(method: str, sides: int) -> None:
    reps = 300
    gs = np.array(
        [
            softgrad.gradient(
                quad, X0, method=method, seed=s, n_samples=2, sides=sides, step=1e-5, vectorized=True
            )
            for s in range(reps)
        ]
    )
    mean, se = gs.mean(axis=0), gs.std(axis=0, ddof=1) / np.sqrt(reps)
    # One-sided adds the O(c) curvature term: 1e-5 here.
    assert np.all(np.abs(mean - TRUTH) <= 5 * se + 1e-4), (mean - TRUTH) / se


@pytest.mark.parametrize(
    "method, theory",
    [
        ("spsa", lambda d, q: (d - 1) / q),
        ("gaussian", lambda d, q: (d + 1) / q),
        ("sphere", lambda d, q: (d - 1) / q),
        ("coordinate", lambda d, q: d / q - 1),
    ],
)
def test_relative_mse_is_what_theory_predicts(method: str, theory: Any) -> None:
    d, q, reps = 50, 5, 400
    b = np.random.default_rng(1).standard_normal(d)
    x = np.zeros(d)
    errs, reported = [], []
    for s in range(reps):
        r = softgrad.gradient(
            lambda X: X @ b, x, method=method, n_samples=q, seed=s, vectorized=True, full_output=True
        )
        errs.append(np.sum((r.grad - b) ** 2))
        reported.append(np.sum(r.variance))
    rel = np.mean(errs) / np.sum(b * b)
    assert rel == pytest.approx(theory(d, q), rel=0.15)
    # The reported variance (sample variance / n) estimates the same quantity, unbiased for
    # independent samples (coordinate samples are drawn without replacement: conservative).
    ratio = np.mean(reported) / np.mean(errs)
    if method == "coordinate":
        assert 1.0 <= ratio <= 1.2
    else:
        assert ratio == pytest.approx(1.0, rel=0.15)


def test_one_sided_antithetic_equals_two_sided_on_half_the_directions() -> None:
    two = softgrad.gradient(quad1, X0, method="spsa", n_samples=3, seed=11, step=1e-4)
    anti = softgrad.gradient(
        quad1, X0, method="spsa", n_samples=6, sides=1, antithetic=True, seed=11, step=1e-4
    )
    np.testing.assert_allclose(anti, two, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# reproducible, and the same bits however evaluated


@pytest.mark.parametrize("method", METHODS)
def test_bits_do_not_depend_on_threads_batches_or_executor(method: str) -> None:
    n = 5000  # past the generator's blocks and the drivers' pieces
    x = np.random.default_rng(2).standard_normal(n)
    w = np.random.default_rng(3).standard_normal(n)

    def fv(X: NDArray[Any]) -> NDArray[Any]:
        return np.array([float(np.dot(r, w)) + float(np.dot(r, r)) for r in X.reshape(-1, n)])

    def f1(v: NDArray[Any]) -> float:
        return float(np.dot(v, w)) + float(np.dot(v, v))

    kw: dict[str, Any] = dict(method=method, n_samples=6, seed=99, full_output=True)
    base = softgrad.gradient(fv, x, vectorized=True, **kw)
    with ThreadPoolExecutor(3) as ex:
        variants = [
            softgrad.gradient(fv, x, vectorized=True, n_threads=1, **kw),
            softgrad.gradient(fv, x, vectorized=True, n_threads=3, **kw),
            softgrad.gradient(fv, x, vectorized=True, batch_size=1, **kw),
            softgrad.gradient(fv, x, vectorized=True, batch_size=5, executor=ex, **kw),
            softgrad.gradient(f1, x, **kw),
            softgrad.gradient(f1, x, executor=ex, n_threads=2, **kw),
        ]
    for v in variants:
        np.testing.assert_array_equal(v.grad, base.grad)
        np.testing.assert_array_equal(v.variance, base.variance)
        assert v.nfev == base.nfev == 12


def test_seeds_reproduce_and_differ() -> None:
    a = softgrad.gradient(quad1, X0, method="gaussian", seed=5, full_output=True)
    b = softgrad.gradient(quad1, X0, method="gaussian", seed=5)
    c = softgrad.gradient(quad1, X0, method="gaussian", seed=6)
    np.testing.assert_array_equal(a.grad, b)
    assert not np.array_equal(b, c)
    drawn = softgrad.gradient(quad1, X0, method="gaussian", full_output=True)
    again = softgrad.gradient(quad1, X0, method="gaussian", seed=drawn.seed)
    np.testing.assert_array_equal(drawn.grad, again)


# ---------------------------------------------------------------------------------------------
# the result, masks, dtypes


def test_full_output_fields() -> None:
    r = softgrad.gradient(quad1, X0, method="spsa", n_samples=4, sides=1, seed=1, full_output=True)
    assert isinstance(r, ZOEstimate) and isinstance(r, softgrad.Estimate)
    assert r.nfev == 5  # + f(x)
    assert r.method == "spsa" and r.n_samples == 4 and r.seed == 1
    np.testing.assert_array_equal(r.stderr, np.sqrt(r.variance))
    np.testing.assert_array_equal(r.error, r.stderr)
    assert r.step.shape == X0.shape and np.all(r.step == r.step[0])
    one = softgrad.gradient(quad1, X0, method="spsa", seed=1, full_output=True)
    assert np.all(np.isnan(one.variance)) and one.nfev == 2


@pytest.mark.parametrize("method", METHODS)
def test_mask_is_respected(method: str) -> None:
    x = np.linspace(-1, 1, 30).reshape(5, 6)
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    seen: list[NDArray[Any]] = []

    def f(v: NDArray[Any]) -> float:
        seen.append(v.copy())
        return float(np.sum(v**2))

    r = softgrad.gradient(f, x, method=method, n_samples=4, seed=3, mask=mask, full_output=True)
    assert r.grad.shape == x.shape
    assert np.all(r.grad[~mask] == 0) and np.all(r.variance[~mask] == 0)
    for p in seen:  # f never sees a coordinate outside the mask moved
        np.testing.assert_array_equal(p[~mask], x[~mask])
    if method == "coordinate":  # 4 distinct coordinates of the 6 in the mask
        assert np.count_nonzero(r.grad) == 4
        full = softgrad.gradient(f, x, method=method, n_samples=6, seed=3, mask=mask)
        np.testing.assert_allclose(full[mask], (2 * x)[mask], rtol=1e-6)


def test_float32_in_float32_out() -> None:
    x = X0.astype(np.float32)
    g = softgrad.gradient(
        lambda v: float(np.sum(v.astype(np.float64) ** 2)), x, method="spsa", n_samples=64, seed=0
    )
    assert g.dtype == np.float32
    assert np.abs(g - 2 * x).max() < 3 * np.abs(2 * x).max()  # a noisy but sane estimate


# ---------------------------------------------------------------------------------------------
# hostile input


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(n_samples=0), ValueError, "n_samples"),
        (dict(n_samples=1.5), TypeError, "n_samples"),
        (dict(sides=3), ValueError, "sides"),
        (dict(sides=2, antithetic=True), ValueError, "antithetic"),
        (dict(sides=1, antithetic=True, n_samples=3), ValueError, "n_samples"),
        (dict(sides=1, two_sided=True), ValueError, "two_sided"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=2**64), ValueError, "seed"),
        (dict(step=0.0), ValueError, "step"),
        (dict(step="a"), TypeError, "step"),
        (dict(mask=np.ones(3)), TypeError, "mask"),
        (dict(mask=np.ones(3, bool)), ValueError, "mask"),
        (dict(mask=np.zeros(D, bool)), ValueError, "mask"),
        (dict(order=2), ValueError, "order"),
        (dict(method="coordinate", n_samples=D + 1), ValueError, "distinct"),
        (dict(n_threads=0), ValueError, "n_threads"),
        (dict(executor=3), TypeError, "executor"),
    ],
)
def test_bad_options_name_the_argument(kw: dict[str, Any], exc: type[Exception], match: str) -> None:
    kw = {"method": "spsa", **kw}
    with pytest.raises(exc, match=f"gradient: .*{match}"):
        softgrad.gradient(quad1, X0, **kw)


def test_bad_points_and_values() -> None:
    x = X0.copy()
    with pytest.raises(ValueError, match="finite"):
        softgrad.gradient(quad1, np.array([1.0, np.nan]), method="spsa")
    with pytest.raises(ValueError, match=r"evaluation point [01] \(of 2: spsa sample 0\)"):
        softgrad.gradient(lambda v: np.nan if v[0] < X0[0] else 1.0, x, method="spsa", seed=0)
    with pytest.raises(ValueError, match="scalar"):
        softgrad.gradient(lambda v: v, x, method="gaussian")
    with pytest.raises(TypeError, match="randomized methods"):
        softgrad.gradient(quad1, x, method="central", n_samples=3)
    with pytest.raises(TypeError, match="float32 or float64"):
        softgrad.gradient(quad1, x.astype(complex), method="spsa")
    np.testing.assert_array_equal(x, X0)  # never modified


def test_f_raising_names_the_point() -> None:
    def f(v: NDArray[Any]) -> float:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom") as info:
        softgrad.gradient(f, X0, method="sphere")
    notes = getattr(info.value, "__notes__", [])
    assert any("evaluation point 0" in n for n in notes)


def test_empty_x() -> None:
    g = softgrad.gradient(lambda v: 0.0, np.zeros(0), method="spsa", seed=0)
    assert g.shape == (0,)


def test_finite_difference_only_options_are_rejected_by_randomized_methods() -> None:
    f = lambda v: float(np.sum(v**2))  # noqa: E731
    x = np.ones(3)
    with pytest.raises(ValueError, match="nan_policy='omit'"):
        softgrad.gradient(f, x, method="spsa", nan_policy="omit", seed=0)
    with pytest.raises(ValueError, match="progress=True"):
        softgrad.gradient(f, x, method="gaussian", progress=True, seed=0)


def test_vectorized_default_batches_are_those_of_finite_differences() -> None:
    """A vectorized f gets the batches of softgrad.gradient's finite differences (about 256 KiB of
    points, at least 4; one task with an executor), and the estimate of one call on every point."""
    n, q = 1000, 100
    x = np.random.default_rng(5).standard_normal(n)
    calls: list[int] = []

    def fv(X: NDArray[Any]) -> NDArray[Any]:
        calls.append(len(X))
        return np.sum(X * X, axis=1) + X[:, 0]

    kw: dict[str, Any] = dict(method="spsa", n_samples=q, seed=3, vectorized=True)
    got = softgrad.gradient(fv, x, **kw)
    assert sum(calls) == 2 * q and max(calls) == (1 << 18) // (8 * n) and len(calls) > 1
    calls.clear()
    np.testing.assert_array_equal(softgrad.gradient(fv, x, batch_size=2 * q, **kw), got)
    assert calls == [2 * q]
    calls.clear()
    with ThreadPoolExecutor(2) as ex:
        np.testing.assert_array_equal(softgrad.gradient(fv, x, executor=ex, **kw), got)
    assert calls == [2 * q]
