"""Extreme eigenpairs of a symmetric operator by the Lanczos process (Rust: ``linalg/lanczos.rs``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _core
from .._params import scalar_param, threads_param
from ._operator import as_operator, seed_param, size_param

__all__ = ["LanczosResult", "lanczos"]

_WHICH = ("largest", "smallest", "both")


@dataclass(frozen=True)
class LanczosResult:
    """What :func:`lanczos` found.

    Attributes
    ----------
    eigenvalues : ndarray, shape (k,)
        Ascending.
    eigenvectors : ndarray, shape (n, k) or None
        Unit eigenvectors, column ``i`` for ``eigenvalues[i]`` (None unless asked for).
    residual_norms : ndarray, shape (k,)
        ``‖A x_i - λ_i x_i‖`` (from the Lanczos relation, equal to the explicit residual to
        rounding).
    iterations : int
        Products with the operator.
    runs : int
        Lanczos runs: 1, plus the deflated runs that looked for further copies of multiple
        eigenvalues.
    success : bool
        Whether every pair met ``tol`` within ``maxiter`` products.
    """

    eigenvalues: NDArray[np.float64]
    eigenvectors: NDArray[np.float64] | None
    residual_norms: NDArray[np.float64]
    iterations: int
    runs: int
    success: bool


def lanczos(
    matvec: Any,
    n: int | None,
    k: int,
    *,
    which: str = "both",
    maxiter: int | None = None,
    tol: float = 1e-8,
    seed: int = 0,
    return_eigenvectors: bool = True,
    n_threads: int | None = None,
) -> LanczosResult:
    """The ``k`` extreme eigenpairs of a symmetric operator, by Lanczos in Rust.

    Each step multiplies by ``A`` once, orthogonalises the product against the whole basis so far
    (full reorthogonalisation: classical Gram-Schmidt applied twice), and extends the tridiagonal
    matrix ``T_m = Vᵀ A V``. Its eigenpairs ``(θ, s)`` (implicit QL, in Rust) give Ritz pairs
    ``(θ, V s)`` with residual ``β_m |s_m|``, checked after every step. A single Krylov space
    contains one direction per eigenspace, so converged pairs are locked and a deflated run looks
    for missing copies of multiple eigenvalues (e.g. the 2-D Poisson matrix's) until none is found.

    Parameters
    ----------
    matvec : callable, LinearOperator, ndarray or scipy.sparse matrix
        The symmetric operator (symmetry is assumed, not checked). A callable takes a float64
        vector of length ``n`` and returns ``A @ x``; it is called with the GIL held, and an
        exception it raises propagates unchanged.
    n : int or None
        The dimension (required for a callable; checked against ``matvec.shape`` otherwise).
    k : int
        Eigenpairs wanted, ``1 <= k <= n``.
    which : {"both", "largest", "smallest"}
        The ``k`` largest or smallest (algebraic) eigenvalues, or ``ceil(k/2)`` largest and
        ``floor(k/2)`` smallest (ARPACK's ``"BE"``).
    maxiter : int, optional
        Products with ``A`` allowed in all; default ``max(20 k, 200)``, capped near ``4 n``. The
        basis holds one vector of length ``n`` per product of a run (no restarts).
    tol : float
        A pair is accepted when ``‖A x - θ x‖ <= tol · max|θ|`` (0: roundoff level).
    seed : int
        Seed of the random start vectors (results are reproducible for a seed).
    return_eigenvectors : bool
        Return the eigenvectors too.
    n_threads : int, optional
        Threads for the vector work (the result does not depend on it).

    Returns
    -------
    LanczosResult

    Raises
    ------
    ValueError
        ``k`` outside ``1..=n``, a bad ``which``/``tol``/``maxiter``, or ``matvec`` returning an
        array of the wrong length.
    softgrad.SoftgradError
        ``matvec`` returned NaN or infinity.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> r = softgrad.linalg.lanczos(A, None, 2, which="largest")
    >>> np.round(r.eigenvalues, 10)
    array([ 9., 10.])

    References
    ----------
    C. Lanczos (1950); G. Golub and C. Van Loan, *Matrix Computations*, §10.1; Y. Saad, *Numerical
    Methods for Large Eigenvalue Problems* (2011), §4.2 (locking).
    """
    func = "lanczos"
    mv, _, n = as_operator(matvec, n, func)
    k = size_param(k, func, "k")
    if which not in _WHICH:
        raise ValueError(f"{func}: which must be 'largest', 'smallest' or 'both', got {which!r}")
    if maxiter is not None:
        maxiter = size_param(maxiter, func, "maxiter", lo=1)
    tol_f = scalar_param(tol, func, "tol")
    if not (math.isfinite(tol_f) and 0 <= tol_f < 1):
        raise ValueError(f"{func}: tol must be in [0, 1), got {tol!r}")
    vals, vecs, res, matvecs, runs, ok = _core.lanczos.lanczos(
        mv, n, k, which, maxiter, tol_f, seed_param(seed, func), threads_param(n_threads, func)
    )
    vectors = vecs.reshape(len(vals), n).T if return_eigenvectors else None
    return LanczosResult(vals, vectors, res, matvecs, runs, ok)
