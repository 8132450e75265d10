"""softgrad.linalg.hutchinson: means within a few standard errors, the Rademacher variance theory
predicts, determinism across batches and threads, Hutch++."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from numpy.typing import NDArray

import softgrad
from softgrad.linalg import hutchinson


def matrix(n: int = 50, seed: int = 0) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    return (a + a.T) / 2 + np.diag(np.arange(n, dtype=float))


@pytest.mark.parametrize("distribution", ["rademacher", "gaussian"])
def test_means_are_within_a_few_standard_errors(distribution: str) -> None:
    a = matrix()
    r = hutchinson(a, n_samples=400, distribution=distribution, seed=3)
    assert abs(r.trace - np.trace(a)) < 4 * r.trace_stderr
    assert r.diagonal is not None and r.diagonal_stderr is not None
    z = (r.diagonal - np.diag(a)) / r.diagonal_stderr
    assert np.mean(np.abs(z) < 3) > 0.95  # ~99.7 % expected; a few may stray
    assert r.n_matvecs == 400


def test_the_rademacher_trace_variance_is_as_theory_predicts() -> None:
    a = matrix(30, 1)
    off = a - np.diag(np.diag(a))
    var_one = 2 * np.sum(off**2)  # Var(zᵀAz) for Rademacher z, symmetric A
    m = 20
    est = np.array([hutchinson(a, n_samples=m, seed=s, estimate="trace").trace for s in range(300)])
    # The sample variance over 300 seeds of a mean of 20 samples: within ~5 standard errors of theory.
    ratio = est.var(ddof=1) / (var_one / m)
    assert abs(ratio - 1) < 5 * np.sqrt(2 / 299), ratio
    # Each run's own standard error estimates the same quantity.
    se = np.array([hutchinson(a, n_samples=m, seed=s, estimate="trace").trace_stderr for s in range(50)])
    assert abs(np.mean(se**2) / (var_one / m) - 1) < 0.25


def test_batches_threads_and_operator_kinds_give_identical_results() -> None:
    # Integer entries: every product is exact, whatever the operator's own summation order.
    rng = np.random.default_rng(2)
    a = rng.integers(-3, 4, (60, 60)).astype(float)
    a = a + a.T
    want = hutchinson(a, n_samples=37, batch=1)
    for batch, threads in [(5, 1), (37, 2), (64, 3)]:
        for op, n in [
            (a, None),
            (sp.csr_matrix(a), None),
            (spl.aslinearoperator(a), None),
            (lambda x: a @ x, 60),
        ]:
            r = hutchinson(op, n, n_samples=37, batch=batch, n_threads=threads)
            assert (r.trace, r.trace_stderr) == (want.trace, want.trace_stderr)
            np.testing.assert_array_equal(r.diagonal, want.diagonal)
            np.testing.assert_array_equal(r.diagonal_stderr, want.diagonal_stderr)
    big = sp.diags([1.0, 2.0, 1.0], [-1, 0, 1], shape=(50_000, 50_000), format="csr")
    one = hutchinson(big, n_samples=3, n_threads=1, distribution="gaussian")
    two = hutchinson(big, n_samples=3, n_threads=2, batch=2, distribution="gaussian")
    assert one.trace == two.trace
    np.testing.assert_array_equal(one.diagonal, two.diagonal)


def test_estimate_selects_what_is_computed() -> None:
    a = matrix(8)
    r = hutchinson(a, n_samples=4, estimate="trace")
    assert r.diagonal is None and r.diagonal_stderr is None and np.isfinite(r.trace)
    r = hutchinson(a, n_samples=4, estimate="diagonal")
    assert np.isnan(r.trace) and r.diagonal is not None and r.diagonal.shape == (8,)
    r = hutchinson(a, n_samples=1)
    assert np.isnan(r.trace_stderr)


def test_hutchpp_beats_hutchinson_on_a_decaying_spectrum() -> None:
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    a = (q * 0.8 ** np.arange(200)) @ q.T
    tr = np.trace(a)
    err_pp = [
        abs(hutchinson(a, n_samples=60, method="hutch++", estimate="trace", seed=s).trace - tr)
        for s in range(10)
    ]
    err_h = [abs(hutchinson(a, n_samples=60, estimate="trace", seed=s).trace - tr) for s in range(10)]
    assert np.mean(err_pp) < 0.1 * np.mean(err_h)


class Boom(Exception):
    pass


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(n_samples=0), ValueError, r"^hutchinson: n_samples must be >= 1"),
        (
            dict(n_samples=2, method="hutch++", estimate="trace"),
            ValueError,
            r"^hutchinson: n_samples must be >= 3",
        ),
        (dict(n_samples=9, method="hutch++"), ValueError, r"^hutchinson: estimate must be 'trace'"),
        (dict(n_samples=3, method="svd"), ValueError, r"^hutchinson: method must be"),
        (dict(n_samples=3, distribution="normal"), ValueError, r"^hutchinson: distribution must be"),
        (dict(n_samples=3, estimate="all"), ValueError, r"^hutchinson: estimate must be"),
        (dict(n_samples=3, batch=0), ValueError, r"^hutchinson: batch must be >= 1"),
        (dict(n_samples=3.0), TypeError, r"^hutchinson: n_samples must be an int"),
    ],
)
def test_bad_parameters(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        hutchinson(np.eye(4), **kwargs)


def test_hostile_operators() -> None:
    with pytest.raises(ValueError, match=r"^hutchinson: matvec returned an array of shape \(2,\)"):
        hutchinson(lambda x: x[:2], 5, n_samples=2)
    with pytest.raises(softgrad.SoftgradError, match=r"^hutchinson: matvec returned a non-finite"):
        hutchinson(lambda x: x / 0.0, 5, n_samples=2)
    with pytest.raises(softgrad.SoftgradError, match=r"non-finite"):
        hutchinson(np.full((5, 5), np.inf), n_samples=4, batch=4)

    def boom(x: Any) -> Any:
        raise Boom

    with pytest.raises(Boom):
        hutchinson(boom, 5, n_samples=2)
