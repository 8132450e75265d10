"""The trust-region subproblem by truncated CG (Rust: ``linalg/steihaug.rs``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._params import float_array, scalar_param, threads_param
from ._operator import as_operator, size_param

__all__ = ["SteihaugResult", "cg_steihaug"]


@dataclass(frozen=True)
class SteihaugResult:
    """What :func:`cg_steihaug` returned.

    Attributes
    ----------
    p : ndarray, shape (n,)
        The step.
    reason : str
        ``"converged"`` (residual met ``rtol`` inside the region), ``"negative_curvature"``
        (a direction ``d`` with ``dᵀAd <= 0`` followed to the boundary), ``"boundary"`` (stopped
        where a step would leave the region) or ``"maxiter"``.
    iterations : int
        CG iterations (products with ``A``).
    model_decrease : float
        ``-(gᵀp + ½ pᵀAp) >= 0``.
    norm : float
        ``‖p‖`` (``‖p‖_M`` with a preconditioner).
    direction : ndarray or None
        The direction of non-positive curvature (``reason == "negative_curvature"``).
    """

    p: NDArray[np.float64]
    reason: str
    iterations: int
    model_decrease: float
    norm: float
    direction: NDArray[np.float64] | None


def cg_steihaug(
    A: Any,
    g: ArrayLike,
    *,
    radius: float,
    M: Any = None,
    rtol: float = 1e-5,
    maxiter: int | None = None,
    n_threads: int | None = None,
) -> SteihaugResult:
    """Steihaug-Toint truncated CG for ``min gᵀp + ½ pᵀAp`` subject to ``‖p‖ <= radius``.

    CG from ``p = 0`` on ``A p = -g``, stopped when the residual ``‖g + Ap‖ <= rtol ‖g‖``, at the
    first direction of non-positive curvature (followed to the boundary: ``A`` may be indefinite),
    when a step would leave the region (stopped on the boundary), or after ``maxiter`` iterations.
    The iterates' norms grow monotonically, and the first step is the steepest descent, so the
    model decrease is at least the Cauchy point's: the step a Newton-CG trust-region method needs.

    Parameters
    ----------
    A : callable, LinearOperator, ndarray or scipy.sparse matrix
        The symmetric (Hessian) operator; a callable takes a float64 vector and returns ``A @ x``.
    g : array_like, shape (n,)
        The gradient.
    radius : float
        The trust-region radius, ``> 0``.
    M : callable, LinearOperator, ndarray or sparse matrix, optional
        A symmetric positive definite preconditioner, given as the map ``r -> M⁻¹ r``; the region
        is then ``‖p‖_M = √(pᵀMp) <= radius`` (Steihaug 1983; Gould et al. 1999).
    rtol : float
        Relative residual tolerance.
    maxiter : int, optional
        Iterations allowed (default ``n``).
    n_threads : int, optional
        Threads for the vector work.

    Returns
    -------
    SteihaugResult

    Raises
    ------
    ValueError
        ``radius <= 0``, a length mismatch, non-finite ``g``, or an indefinite ``M``.
    softgrad.SoftgradError
        ``A`` or ``M`` returned NaN or infinity.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> A = np.diag([2.0, -1.0])                  # indefinite
    >>> r = softgrad.linalg.cg_steihaug(A, np.array([0.1, 1.0]), radius=2.0)
    >>> r.reason, round(float(np.linalg.norm(r.p)), 12)
    ('negative_curvature', 2.0)

    References
    ----------
    T. Steihaug (1983), *The conjugate gradient method and trust regions in large scale
    optimization*; Ph. L. Toint (1981); J. Nocedal and S. Wright, *Numerical Optimization*,
    Algorithm 7.2; N. Gould, S. Lucidi, M. Roma and Ph. Toint (1999), *Solving the trust-region
    subproblem using the Lanczos method*.
    """
    func = "cg_steihaug"
    gv = float_array(g, func, "g")
    if gv.ndim != 1:
        raise ValueError(f"{func}: g must be 1-D, got shape {gv.shape}")
    gv = np.ascontiguousarray(gv, dtype=np.float64)
    n = gv.size
    mv, _, _ = as_operator(A, n, func, "A")
    mi = None if M is None else as_operator(M, n, func, "M")[0]
    r = scalar_param(radius, func, "radius")
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"{func}: radius must be finite and > 0, got {radius!r}")
    rt = scalar_param(rtol, func, "rtol")
    iters = n if maxiter is None else size_param(maxiter, func, "maxiter")
    p, reason, it, dec, nrm, d = _core.steihaug.cg_steihaug(
        mv, gv, r, mi, rt, iters, threads_param(n_threads, func)
    )
    return SteihaugResult(p, reason, it, dec, nrm, d)
