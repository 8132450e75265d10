r"""Sparse preconditioners: :func:`jacobi`, :func:`block_jacobi`, :func:`ssor`, :func:`ic0`, :func:`ilu0`,
and :func:`polynomial` (Chebyshev / Neumann, from :mod:`softgrad.linalg`; it needs only ``A @ v``).

Each returns a :class:`Preconditioner` that applies :math:`M^{-1}` (``P.solve(r)`` or ``P @ r``),
usable as ``M=`` in :func:`softgrad.linalg.cg` (the fast path: the whole loop runs in Rust) and,
through :meth:`Preconditioner.as_linear_operator`, in :func:`scipy.sparse.linalg.cg` / ``gmres``.

The kernels are in ``rust/softgrad-core/src/linalg/`` (``jacobi.rs``, ``ssor.rs``, ``ilu.rs``, the
triangular solves in ``tri.rs``), bound as ``softgrad._core.linalg`` by
``rust/softgrad-py/src/linalg/precond.rs``.

**Input.** ``A`` is any ``scipy.sparse`` matrix or array (CSR, CSC, COO, ...), float64 or float32
(integer values are converted to float64). A CSR matrix with sorted indices and no duplicates is
read in place: its ``indptr``, ``indices`` and ``data`` are not copied. Other formats are converted
(on a copy), except a CSC matrix where the operation does not see the difference between
:math:`A` and :math:`A^T` (:func:`jacobi`), or where :math:`A = A^T` is checked (``check=True``):
the CSC arrays of :math:`A` are the CSR arrays of :math:`A^T`. Unsorted indices are sorted and
duplicates summed, on a copy. The caller's arrays are never modified.

**Symmetry.** :func:`ssor` and :func:`ic0` are for symmetric matrices: with ``check=True`` (the
default) :math:`A = A^T` is verified exactly in :math:`O(\mathrm{nnz}\log)` and a ``ValueError``
names the first entry that differs; with ``check=False`` symmetry is assumed and only the lower
triangle (with the diagonal) is read.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._core import linalg as _k
from ._params import flag_param, scalar_param
from .linalg.poly import PolynomialPreconditioner, polynomial

__all__ = [
    "PolynomialPreconditioner",
    "Preconditioner",
    "block_jacobi",
    "ic0",
    "ilu0",
    "jacobi",
    "polynomial",
    "ssor",
]

_CsrArrays = tuple[NDArray[Any], NDArray[Any], NDArray[Any], int]


def _is_sparse(A: Any) -> bool:
    """Whether ``A`` is a scipy.sparse matrix or array (scipy is not a dependency of softgrad: if
    ``scipy.sparse`` was never imported, ``A`` cannot be one)."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and bool(sp.issparse(A))


def _csr(A: Any, func: str, *, transpose_ok: bool = False) -> _CsrArrays:
    """``(indptr, indices, data, n)`` of ``A`` as a canonical CSR matrix, without copies when
    the layout allows; ``transpose_ok``: a CSC ``A`` may be read as the CSR of ``Aᵀ``."""
    if not _is_sparse(A):
        raise TypeError(f"{func}: A must be a scipy.sparse matrix or array, got {type(A).__name__}")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{func}: A must be square, got shape {A.shape}")
    if A.format == "csr" or (A.format == "csc" and transpose_ok):
        m = A
    else:
        m = A.tocsr()
    if m.dtype not in (np.float64, np.float32):
        if m.dtype.kind in "biu" or m.dtype == np.float16:
            m = m.astype(np.float64)
        else:
            raise TypeError(f"{func}: A must have a float32 or float64 dtype, got {m.dtype}")
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()
    indptr, indices = m.indptr, m.indices
    if indptr.dtype != indices.dtype or indptr.dtype not in (np.int32, np.int64):
        indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
    data = np.ascontiguousarray(m.data)
    return np.ascontiguousarray(indptr), np.ascontiguousarray(indices), data, int(A.shape[0])


class Preconditioner:
    """An operator applying :math:`M^{-1}`, the inverse of a preconditioner :math:`M \\approx A`.

    Made by :func:`jacobi`, :func:`block_jacobi`, :func:`ssor`, :func:`ic0` and :func:`ilu0`.

    Attributes
    ----------
    kind : str
        The function that made it (``"ic0"``, ...).
    shape : tuple of int
        ``(n, n)``.
    dtype : numpy.dtype
        float64: vectors are applied in float64 whatever the dtype of ``A``.
    nnz : int
        Values stored by the preconditioner (its factors, or its diagonal).
    shift : float
        The relative diagonal shift :func:`ic0` used (0 otherwise).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from softgrad import precond
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4), format="csr")
    >>> P = precond.jacobi(A)
    >>> P @ np.ones(4)
    array([0.5, 0.5, 0.5, 0.5])
    """

    def __init__(self, core: Any) -> None:
        self._core = core

    @property
    def kind(self) -> str:
        return str(self._core.kind)

    @property
    def shape(self) -> tuple[int, int]:
        n = int(self._core.n)
        return (n, n)

    @property
    def dtype(self) -> np.dtype[np.float64]:
        return np.dtype(np.float64)

    @property
    def nnz(self) -> int:
        return int(self._core.nnz)

    @property
    def shift(self) -> float:
        return float(self._core.shift)

    def solve(self, r: ArrayLike, *, n_threads: int | None = None) -> NDArray[np.float64]:
        """:math:`M^{-1} r` for a vector ``r`` of shape ``(n,)`` (or a matrix ``(n, k)``, column by
        column); float64.

        Raises
        ------
        ValueError
            If ``r`` does not have ``n`` rows, or has non-finite values.
        """
        a = np.asarray(r)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"Preconditioner.solve: r must be real, got {a.dtype}")
        a = np.ascontiguousarray(a, dtype=np.float64)
        n = self.shape[0]
        if a.ndim == 0 or a.shape[0] != n or a.ndim > 2:
            raise ValueError(f"Preconditioner.solve: r must have shape ({n},) or ({n}, k), got {a.shape}")
        if a.ndim == 2:
            cols = [self._core.solve(np.ascontiguousarray(a[:, j]), n_threads) for j in range(a.shape[1])]
            return np.stack(cols, axis=1) if cols else np.empty((n, 0))
        out: NDArray[np.float64] = self._core.solve(a, n_threads)
        return out

    def __matmul__(self, r: ArrayLike) -> NDArray[np.float64]:
        return self.solve(r)

    def as_linear_operator(self) -> Any:
        """This :math:`M^{-1}` as a :class:`scipy.sparse.linalg.LinearOperator`, for ``M=`` in
        :func:`scipy.sparse.linalg.cg`, ``gmres``, ``minres``, ... (``rmatvec`` is the same
        operator for the symmetric preconditioners: all but ILU(0), whose is not provided)."""
        import scipy.sparse.linalg as spla  # type: ignore[import-untyped]

        symmetric = self.kind != "ilu0"
        return spla.LinearOperator(
            self.shape,
            matvec=self.solve,
            matmat=self.solve,
            rmatvec=self.solve if symmetric else None,
            dtype=np.float64,
        )

    def factor_values(self) -> NDArray[np.float64] | None:
        """The incomplete factors' values on the pattern of ``A`` (sorted CSR order), for
        :func:`ic0` (``L`` on and below the diagonal, ``Lᵀ`` above) and :func:`ilu0` (the unit
        lower ``L`` below, ``U`` on and above); ``None`` for the others."""
        v: NDArray[np.float64] | None = self._core.factor_values()
        return v

    def __repr__(self) -> str:
        n = self.shape[0]
        extra = f", shift={self.shift:g}" if self.shift else ""
        return f"<Preconditioner {self.kind} of shape ({n}, {n}), nnz={self.nnz}{extra}>"


def _made(core: Any) -> Preconditioner:
    """The Python face of a ``_core.linalg.Preconditioner`` (each constructor's last line; a new
    kind of preconditioner is one more function here returning ``_made(_k.<kind>(...))``)."""
    return Preconditioner(core)


def _int_param(value: Any, func: str, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an int, got {value!r}")
    return int(value)


def jacobi(A: Any) -> Preconditioner:
    r"""The Jacobi (diagonal) preconditioner :math:`M = \operatorname{diag}(A)`.

    Parameters
    ----------
    A : scipy.sparse matrix or array, shape (n, n)
        Square, with a positive diagonal.

    Returns
    -------
    Preconditioner
        Applies :math:`M^{-1} r = r / \operatorname{diag}(A)`. With a sparse ``A``,
        :func:`softgrad.linalg.cg` runs CG on the scaled system :math:`D^{-1/2} A D^{-1/2}`
        instead (Jacobi-PCG in exact arithmetic, with less memory traffic an iteration).

    Raises
    ------
    ValueError
        If ``A`` is not square, has a non-finite value, or a zero or negative diagonal entry (the
        message names the row).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from softgrad import precond
    >>> precond.jacobi(sp.eye(3, format="csr") * 4.0).solve([4.0, 8.0, 12.0])
    array([1., 2., 3.])
    """
    ip, ix, d, n = _csr(A, "jacobi", transpose_ok=True)
    return _made(_k.jacobi(ip, ix, d, n))


def block_jacobi(A: Any, block_size: int) -> Preconditioner:
    r"""The block-Jacobi preconditioner: the diagonal blocks of ``A``, inverted densely.

    :math:`M = \operatorname{blockdiag}(A_{11}, A_{22}, \dots)` with blocks of ``block_size``
    consecutive rows (the last one may be smaller); each block is inverted by Gauss-Jordan
    elimination with partial pivoting at set-up, so applying :math:`M^{-1}` is one small dense
    product per block.

    Parameters
    ----------
    A : scipy.sparse matrix or array, shape (n, n)
    block_size : int
        Rows per block, in ``1..=4096``.

    Returns
    -------
    Preconditioner

    Raises
    ------
    ValueError
        If a block is singular (the message names its rows), ``block_size`` is out of range, or
        ``A`` is not square or has non-finite values.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from softgrad import precond
    >>> A = sp.csr_array(np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 4.0]]))
    >>> precond.block_jacobi(A, 2) @ np.array([3.0, 3.0, 4.0])
    array([1., 1., 1.])
    """
    bs = _int_param(block_size, "block_jacobi", "block_size")
    if not 1 <= bs <= 4096:
        raise ValueError(f"block_jacobi: block_size must be in 1..=4096, got {bs}")
    ip, ix, d, n = _csr(A, "block_jacobi")
    return _made(_k.block_jacobi(ip, ix, d, n, bs))


def ssor(A: Any, omega: float = 1.0, *, check: bool = True) -> Preconditioner:
    r"""The symmetric successive over-relaxation (SSOR) preconditioner.

    With :math:`A = L + D + U` (strict lower, diagonal, strict upper) and :math:`0 < \omega < 2`,

    .. math:: M = \frac{1}{\omega(2-\omega)} (D + \omega L)\, D^{-1} (D + \omega U),

    symmetric positive definite when :math:`A` is; :math:`M^{-1}` is a forward and a backward
    sparse triangular solve (level-scheduled, see :func:`ic0`). ``omega=1`` is symmetric
    Gauss-Seidel.

    Parameters
    ----------
    A : scipy.sparse matrix or array, shape (n, n)
        Symmetric, with a positive diagonal.
    omega : float
        Relaxation factor in ``(0, 2)``.
    check : bool
        Verify that ``A`` is symmetric (exactly); ``False`` assumes it.

    Returns
    -------
    Preconditioner

    Raises
    ------
    ValueError
        If ``omega`` is outside ``(0, 2)``, the diagonal is not positive, ``A`` is not symmetric
        (with ``check=True``), not square or has non-finite values.

    References
    ----------
    Y. Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., SIAM 2003, section 10.2.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from softgrad import precond
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(3, 3), format="csr")
    >>> P = precond.ssor(A, omega=1.0)
    >>> np.round(P @ np.array([1.0, 0.0, 0.0]), 4)
    array([0.6562, 0.3125, 0.125 ])
    """
    chk = flag_param(check, "ssor", "check")
    w = scalar_param(omega, "ssor", "omega")
    ip, ix, d, n = _csr(A, "ssor", transpose_ok=chk)
    return _made(_k.ssor(ip, ix, d, n, w, chk))


def ic0(A: Any, *, shift: float = 0.0, on_breakdown: str = "raise", check: bool = True) -> Preconditioner:
    r"""Zero-fill incomplete Cholesky, IC(0): :math:`M = L L^T \approx A` on the pattern of ``A``.

    :math:`L` is lower triangular with the pattern of the lower triangle of ``A`` and
    :math:`(L L^T)_{ij} = a_{ij}` wherever :math:`a_{ij}` is stored, computed row by row from
    the lower triangle: :math:`l_{ij} = (a_{ij} - \sum_{k<j} l_{ik} l_{jk}) / l_{jj}` over the
    common pattern, :math:`l_{ii} = (a_{ii} - \sum_{k<i} l_{ik}^2)^{1/2}`. It exists for
    M-matrices and H-matrices (e.g. the discrete Laplacian); for other SPD matrices a pivot can
    be :math:`\le 0` (a breakdown). Then ``on_breakdown="raise"`` raises
    :class:`softgrad.SoftgradError` naming the row, and ``on_breakdown="shift"`` factors
    :math:`A + \alpha\,\operatorname{diag}(A)` instead, doubling :math:`\alpha` from ``shift``
    (or from ``1e-3``) until it succeeds; the :math:`\alpha` used is
    ``P.shift`` (Manteuffel's shift).

    :math:`M^{-1} r` is a forward and a backward sparse triangular solve. Rows are grouped into
    levels (rows of a level depend only on earlier levels) once at set-up; a level with enough
    work runs on several threads. Each row is computed the same way whatever the schedule, so the
    result is identical for any thread count. For the 5-point Laplacian in natural order the
    levels are the grid's anti-diagonals, too narrow to split: the solves then run on one thread.

    Parameters
    ----------
    A : scipy.sparse matrix or array, shape (n, n)
        Symmetric positive definite, every diagonal entry stored and positive.
    shift : float
        Relative diagonal shift :math:`\alpha \ge 0` applied from the start.
    on_breakdown : {"raise", "shift"}
    check : bool
        Verify that ``A`` is symmetric (exactly); ``False`` assumes it and reads only the lower
        triangle.

    Returns
    -------
    Preconditioner

    Raises
    ------
    ValueError
        If ``A`` is not square, not symmetric (``check=True``), has non-finite values or a zero or
        negative diagonal entry (the message names the row).
    softgrad.SoftgradError
        On a breakdown with ``on_breakdown="raise"`` (the message names the row and the pivot).

    References
    ----------
    J. A. Meijerink and H. A. van der Vorst, "An iterative solution method for linear systems of
    which the coefficient matrix is a symmetric M-matrix", Math. Comp. 31, 1977.
    T. A. Manteuffel, "An incomplete factorization technique for positive definite linear
    systems", Math. Comp. 34, 1980.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from softgrad import precond
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(3, 3), format="csr")
    >>> P = precond.ic0(A)  # tridiagonal: IC(0) is the exact Cholesky factor
    >>> np.allclose(P @ (A @ np.array([1.0, 2.0, 3.0])), [1.0, 2.0, 3.0])
    True
    """
    chk = flag_param(check, "ic0", "check")
    s = scalar_param(shift, "ic0", "shift")
    if on_breakdown not in ("raise", "shift"):
        raise ValueError(f"ic0: on_breakdown must be 'raise' or 'shift', got {on_breakdown!r}")
    ip, ix, d, n = _csr(A, "ic0", transpose_ok=chk)
    return _made(_k.ic0(ip, ix, d, n, s, on_breakdown, chk))


def ilu0(A: Any) -> Preconditioner:
    r"""Zero-fill incomplete LU, ILU(0): :math:`M = L U \approx A` on the pattern of ``A``.

    :math:`L` unit lower and :math:`U` upper triangular, with :math:`(L U)_{ij} = a_{ij}` wherever
    :math:`a_{ij}` is stored (Saad's IKJ algorithm, no pivoting). For non-symmetric ``A`` (use
    with GMRES or BiCGSTAB through :meth:`Preconditioner.as_linear_operator`).

    Parameters
    ----------
    A : scipy.sparse matrix or array, shape (n, n)
        Every diagonal entry stored.

    Returns
    -------
    Preconditioner

    Raises
    ------
    ValueError
        If a diagonal entry is not stored, ``A`` is not square or has non-finite values.
    softgrad.SoftgradError
        If a pivot is zero (the message names the row).

    References
    ----------
    Y. Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., SIAM 2003, algorithm 10.4.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from softgrad import precond
    >>> A = sp.csr_array(np.array([[4.0, 1.0], [2.0, 3.0]]))
    >>> np.allclose(precond.ilu0(A) @ (A @ np.array([1.0, -1.0])), [1.0, -1.0])
    True
    """
    ip, ix, d, n = _csr(A, "ilu0")
    return _made(_k.ilu0(ip, ix, d, n))
