r"""Preconditioned conjugate gradients: :func:`cg`.

The loop is ``rust/softgrad-core/src/linalg/cg.rs`` (bound by
``rust/softgrad-py/src/linalg/cg.rs``): for a sparse ``A`` and a :class:`~softgrad.precond.Preconditioner`
(or none) every iteration runs in Rust with the GIL released: the product :math:`Ap` fused with
:math:`p^T A p` and the updates of :math:`x` and :math:`r` fused with :math:`\|r\|^2`, on fixed
pieces so the iterates do not depend on the thread count. With Jacobi on a sparse ``A``, CG runs
on the scaled system :math:`D^{-1/2} A D^{-1/2}` (``linalg/packed.rs``): the same iterates in exact
arithmetic, the residuals reported in the unscaled system's terms, and neither :math:`z = M^{-1} r`
nor the diagonal read an iteration. IC(0) and SSOR on a matrix whose rows repeat (a grid) run on
:math:`S A S` too, with :math:`S` the inverse of the factor's diagonal (IC(0)) or
:math:`D^{-1/2}` (SSOR), so that their triangular factors have a unit diagonal and are stored as
runs of identical rows (``linalg/tri/unit.rs``); otherwise the product runs over a packed copy of
``A`` when its rows repeat. A ``LinearOperator`` or callable ``A`` or ``M`` is called from
the loop (re-acquiring the GIL) once per iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._core import linalg as _k
from .._params import flag_param, scalar_param, threads_param
from ..precond import Preconditioner, _csr, _is_sparse

__all__ = ["CGResult", "cg"]

_MESSAGES = {
    "converged": "converged: ||r|| <= max(rtol * ||b||, atol)",
    "maxiter": "did not converge in maxiter iterations",
    "not_positive_definite": "stopped: p^T A p <= 0, A is not positive definite",
    "preconditioner_not_positive": "stopped: r^T M^-1 r <= 0, M is not positive definite",
    "non_finite": "stopped: a non-finite value appeared (A, M or the callback produced inf/nan)",
    "stopped": "stopped by the callback",
}


@dataclass(frozen=True)
class CGResult:
    """The outcome of :func:`cg`.

    Attributes
    ----------
    x : ndarray, shape (n,)
        The last iterate: the solution when ``success``. Always float64, also for float32 ``A``
        or ``b`` (see :func:`cg`).
    success : bool
        Whether :math:`\\|r\\| \\le \\max(\\text{rtol}\\,\\|b\\|, \\text{atol})` was reached.
    status : str
        ``"converged"``, ``"maxiter"``, ``"not_positive_definite"`` (:math:`p^TAp \\le 0`),
        ``"preconditioner_not_positive"`` (:math:`r^TM^{-1}r \\le 0`) or ``"non_finite"``.
    message : str
        ``status`` in words.
    nit : int
        Iterations done.
    residuals : ndarray, shape (nit + 1,)
        :math:`\\|r_k\\|` (the recursively updated residual) from the start.
    nmatvec : int
        Products with ``A``.
    nprecond : int
        Applications of ``M``.
    tol : float
        The threshold :math:`\\max(\\text{rtol}\\,\\|b\\|, \\text{atol})`.
    """

    x: NDArray[np.float64]
    success: bool
    status: str
    message: str
    nit: int
    residuals: NDArray[np.float64]
    nmatvec: int
    nprecond: int
    tol: float


def _vector(v: ArrayLike, n: int | None, func: str, name: str) -> NDArray[np.float64]:
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{func}: {name} must be real, got dtype {a.dtype}")
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{func}: {name} must have shape (n,) or (n, 1), got {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{func}: {name} has {a.shape[0]} elements, expected {n} (the size of A)")
    out = np.ascontiguousarray(a, dtype=np.float64)
    if not np.isfinite(out).all():
        raise ValueError(f"{func}: {name} has non-finite values")
    return out


def _callable(f: Any, func: str, name: str) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """``f`` (a LinearOperator, a sparse or dense matrix, or a callable) as ``v -> f v`` returning
    a float64 1-D array."""
    if hasattr(f, "matvec"):
        apply = f.matvec
    elif _is_sparse(f) or isinstance(f, np.ndarray):
        apply = f.__matmul__
    elif callable(f):
        apply = f
    else:
        raise TypeError(
            f"{func}: {name} must be a scipy.sparse matrix, a LinearOperator, a callable or a "
            f"Preconditioner, got {type(f).__name__}"
        )

    def call(v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.ascontiguousarray(np.asarray(apply(v), dtype=np.float64).reshape(-1))

    return call


def cg(
    A: Any,
    b: ArrayLike,
    *,
    M: Any = None,
    x0: ArrayLike | None = None,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    callback: Callable[[NDArray[np.float64]], Any] | None = None,
    check: bool = True,
    n_threads: int | None = None,
) -> CGResult:
    r"""Solve :math:`A x = b` for symmetric positive definite :math:`A` by preconditioned
    conjugate gradients.

    Same iteration and stopping rule as :func:`scipy.sparse.linalg.cg`: stop when the
    (recursively updated) residual satisfies :math:`\|r_k\| \le \max(\text{rtol}\,\|b\|,
    \text{atol})`; :math:`b = 0` gives :math:`x = 0`. Unlike scipy, a run that does not converge
    says so: ``success=False`` with the ``status``, also when :math:`A` or :math:`M` turns out
    not to be positive definite.

    Parameters
    ----------
    A : scipy.sparse matrix or array, LinearOperator or callable, shape (n, n)
        Sparse: the whole loop runs in Rust (float32 or float64 values; see
        :mod:`softgrad.precond` for which layouts are read in place). A LinearOperator, a dense
        array or a callable ``v -> A v`` is called once per iteration.
    b : array_like, shape (n,) or (n, 1)
    M : Preconditioner, LinearOperator or callable, optional
        Applies :math:`M^{-1}` (:mod:`softgrad.precond`); a
        :class:`~softgrad.precond.Preconditioner` runs in Rust.
    x0 : array_like, shape (n,), optional
        Starting point (default 0).
    rtol, atol : float
        Tolerances (see above).
    maxiter : int, optional
        Most iterations (default ``10 * n``, as scipy).
    callback : callable, optional
        ``callback(xk)`` after each iteration (with a copy of the iterate).
    check : bool
        For sparse ``A``: verify that ``A`` is symmetric (exactly, :math:`O(\mathrm{nnz}\log)`).
    n_threads : int, optional
        Threads for the products and vector updates (default: :func:`softgrad.get_num_threads`);
        the result does not depend on it.

    Returns
    -------
    CGResult
        ``x``, ``success``, ``status``, ``message``, ``nit``, ``residuals``, ``nmatvec``,
        ``nprecond``, ``tol``. ``x`` is float64 whatever the dtype of ``A`` and ``b`` (scipy
        returns their result type): the iteration runs in float64 on float32 values widened
        exactly, so the solution meets an ``rtol`` below float32's resolution (~1e-7), which
        rounding it back to float32 would undo. Cast it with ``res.x.astype(np.float32)`` if
        wanted.

    Raises
    ------
    ValueError
        If ``A`` is not square, not symmetric (``check=True``), has non-finite values, or ``b``
        / ``x0`` have the wrong length or non-finite values.
    TypeError
        If an argument has the wrong type.
    KeyboardInterrupt
        On Ctrl-C (checked every iteration).

    References
    ----------
    M. R. Hestenes and E. Stiefel, "Methods of conjugate gradients for solving linear systems",
    J. Res. Nat. Bur. Standards 49, 1952. Y. Saad, *Iterative Methods for Sparse Linear
    Systems*, 2nd ed., SIAM 2003, algorithm 9.1.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from softgrad import linalg, precond
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50), format="csr")
    >>> b = np.ones(50)
    >>> res = linalg.cg(A, b, M=precond.ic0(A), rtol=1e-10)
    >>> res.success, res.nit
    (True, 1)
    >>> bool(np.allclose(A @ res.x, b))
    True
    """
    func = "cg"
    rt = scalar_param(rtol, func, "rtol")
    at = scalar_param(atol, func, "atol")
    if not (rt >= 0.0 and at >= 0.0):
        raise ValueError(f"{func}: rtol and atol must be >= 0, got {rt} and {at}")
    chk = flag_param(check, func, "check")
    nt = threads_param(n_threads, func)
    sparse = _is_sparse(A)
    if sparse:
        ip, ix, d, n = _csr(A, func, transpose_ok=chk)
    else:
        shape = getattr(A, "shape", None)
        if shape is not None and (len(shape) != 2 or shape[0] != shape[1]):
            raise ValueError(f"{func}: A must be square, got shape {tuple(shape)}")
        n = int(shape[0]) if shape is not None else np.asarray(b).shape[0]
        mv = _callable(A, func, "A")
    bb = _vector(b, n, func, "b")
    xx = None if x0 is None else _vector(x0, n, func, "x0")
    if maxiter is None:
        mi = 10 * n
    else:
        if isinstance(maxiter, (bool, np.bool_)) or not isinstance(maxiter, (int, np.integer)):
            raise TypeError(f"{func}: maxiter must be an int or None, got {maxiter!r}")
        if maxiter < 0:
            raise ValueError(f"{func}: maxiter must be >= 0, got {maxiter}")
        mi = int(maxiter)
    if M is None or isinstance(M, Preconditioner):
        mm = None if M is None else M._core
        if M is not None and M.shape[0] != n:
            raise ValueError(f"{func}: M has shape {M.shape}, expected ({n}, {n})")
    else:
        mshape = getattr(M, "shape", None)
        if mshape is not None and tuple(mshape) != (n, n):
            raise ValueError(f"{func}: M has shape {tuple(mshape)}, expected ({n}, {n})")
        mm = _callable(M, func, "M")
    cb = None
    if callback is not None:
        if not callable(callback):
            raise TypeError(f"{func}: callback must be callable, got {type(callback).__name__}")
        user_cb = callback

        def cb(xk: NDArray[np.float64]) -> None:
            user_cb(xk)

    if sparse:
        out = _k.cg(ip, ix, d, n, bb, xx, mm, rt, at, mi, cb, nt, chk)
    else:
        out = _k.cg_op(mv, n, bb, xx, mm, rt, at, mi, cb, nt)
    x, status, nit, residuals, nmatvec, nprecond = out
    bnorm = float(np.linalg.norm(bb))
    return CGResult(
        x=x,
        success=status == "converged",
        status=status,
        message=_MESSAGES.get(status, status),
        nit=int(nit),
        residuals=residuals,
        nmatvec=int(nmatvec),
        nprecond=int(nprecond),
        tol=max(rt * bnorm, at),
    )
