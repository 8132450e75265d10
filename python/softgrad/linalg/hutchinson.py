"""Randomized trace and diagonal estimates (Rust: ``linalg/hutchinson.rs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _core
from .._params import threads_param
from ._operator import as_operator, seed_param, size_param

__all__ = ["HutchinsonResult", "hutchinson"]


@dataclass(frozen=True)
class HutchinsonResult:
    """What :func:`hutchinson` estimated (``None`` / NaN for what was not asked for).

    Attributes
    ----------
    trace, trace_stderr : float
        The trace estimate and its standard error (NaN with a single sample).
    diagonal, diagonal_stderr : ndarray, shape (n,) or None
        The diagonal estimate and its element-wise standard errors.
    n_matvecs : int
        Products with the operator.
    """

    trace: float
    trace_stderr: float
    diagonal: NDArray[np.float64] | None
    diagonal_stderr: NDArray[np.float64] | None
    n_matvecs: int


def hutchinson(
    matvec: Any,
    n: int | None = None,
    *,
    n_samples: int,
    seed: int = 0,
    estimate: str = "both",
    distribution: str = "rademacher",
    method: str = "hutchinson",
    batch: int = 16,
    n_threads: int | None = None,
) -> HutchinsonResult:
    """Estimates of ``tr A`` and ``diag A`` from products ``A z`` with random probes ``z``.

    Hutchinson's estimators ``mean_s z_sᵀ A z_s`` and ``mean_s z_s ∘ A z_s`` are unbiased for probes
    with independent entries of mean 0 and variance 1; their standard errors are the sample
    standard deviations over ``√n_samples``. For Rademacher probes and symmetric ``A`` the variance
    of one trace sample is ``2 Σ_{i≠j} A_ij²`` (Gaussian: ``2 Σ_ij A_ij²``). ``method="hutch++"``
    (trace only) spends a third of the products on a sketch ``Q = orth(A S)``, a third on
    ``tr(QᵀAQ)`` and the rest on Hutchinson for the deflated remainder: error ``O(1/n_samples)``
    instead of ``O(1/√n_samples)`` for decaying spectra.

    Probe ``s`` is generated from ``(seed, s)`` alone by a counter-based generator and samples are
    accumulated in order, so the result is identical whatever ``batch`` and ``n_threads`` (given an
    operator whose products do not depend on the batch).

    Parameters
    ----------
    matvec : callable, LinearOperator, ndarray or scipy.sparse matrix
        The operator; a callable takes a float64 vector and returns ``A @ x``.
    n : int, optional
        The dimension (required for a callable).
    n_samples : int
        Products with ``A`` (``>= 1``; ``>= 3`` for Hutch++).
    seed : int
        Seed of the probes.
    estimate : {"both", "trace", "diagonal"}
        What to estimate.
    distribution : {"rademacher", "gaussian"}
        Entries of the probes: ±1 (the smallest trace variance) or standard normal.
    method : {"hutchinson", "hutch++"}
        The trace estimator (Hutch++ needs ``estimate="trace"``).
    batch : int
        Probes per call when the operator can take a block (LinearOperator ``matmat``, ndarray,
        sparse matrix): memory ``2 · batch · n`` floats; no effect on the result.
    n_threads : int, optional
        Threads for the vector work.

    Returns
    -------
    HutchinsonResult

    Raises
    ------
    ValueError
        ``n_samples < 1``, a bad ``estimate``/``distribution``/``method``/``batch``, or an operator
        output of the wrong length.
    softgrad.SoftgradError
        The operator returned NaN or infinity.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> A = np.diag([1.0, 2.0, 3.0])
    >>> r = softgrad.linalg.hutchinson(A, n_samples=10)
    >>> float(r.trace), r.diagonal.tolist()  # exact: Rademacher probes and a diagonal A
    (6.0, [1.0, 2.0, 3.0])

    References
    ----------
    M. F. Hutchinson (1989), *A stochastic estimator of the trace of the influence matrix*;
    C. Bekas, E. Kokiopoulou and Y. Saad (2007), *An estimator for the diagonal of a matrix*;
    R. A. Meyer, C. Musco, C. Musco and D. P. Woodruff (2021), *Hutch++*.
    """
    func = "hutchinson"
    mv, mm, n = as_operator(matvec, n, func)
    if estimate not in ("both", "trace", "diagonal"):
        raise ValueError(f"{func}: estimate must be 'both', 'trace' or 'diagonal', got {estimate!r}")
    n_samples = size_param(n_samples, func, "n_samples")
    batch = size_param(batch, func, "batch")
    tr, tr_se, diag, diag_se, count = _core.hutchinson.hutchinson(
        mv,
        mm,
        n,
        n_samples,
        seed_param(seed, func),
        distribution,
        batch,
        estimate != "diagonal",
        estimate != "trace",
        method,
        threads_param(n_threads, func),
    )
    if estimate == "diagonal":
        tr, tr_se = float("nan"), float("nan")
    return HutchinsonResult(tr, tr_se, diag, diag_se, count)
