"""Polynomial preconditioners ``p(A) ≈ A⁻¹`` (Rust: ``linalg/poly.rs``); ``softgrad.precond``'s
``polynomial`` is this function."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._params import float_array, scalar_param, threads_param
from ._operator import as_operator, seed_param, size_param

__all__ = ["PolynomialPreconditioner", "polynomial"]


class PolynomialPreconditioner:
    """``r -> p(A) r``: made by :func:`polynomial`. ``P @ r`` is ``P.solve(r)``."""

    def __init__(
        self,
        matvec: Any,
        n: int,
        kind: str,
        degree: int,
        bounds: tuple[float, float],
        inv_diag: NDArray[np.float64] | None,
        n_threads: int | None,
    ) -> None:
        self._matvec = matvec
        self._inv_diag = inv_diag
        self._n_threads = n_threads
        self.kind = kind
        self.degree = degree
        self.bounds = bounds
        self.shape = (n, n)

    def solve(self, r: ArrayLike) -> NDArray[np.float64]:
        """``p(A) r`` for a vector ``r`` of length ``n`` (float64)."""
        rv = np.ascontiguousarray(float_array(r, "polynomial", "r"), dtype=np.float64)
        if rv.shape != (self.shape[0],):
            raise ValueError(f"polynomial: r must have shape ({self.shape[0]},), got {rv.shape}")
        out: NDArray[np.float64] = _core.poly.poly_apply(
            self._matvec,
            rv,
            self.kind,
            self.degree,
            self.bounds[0],
            self.bounds[1],
            self._inv_diag,
            self._n_threads,
        )
        return out

    def __matmul__(self, r: ArrayLike) -> NDArray[np.float64]:
        return self.solve(r)

    def as_linear_operator(self) -> Any:
        """A :class:`scipy.sparse.linalg.LinearOperator` (usable as ``M=`` in ``cg``)."""
        from scipy.sparse.linalg import LinearOperator  # type: ignore[import-untyped]

        return LinearOperator(self.shape, matvec=self.solve, dtype=np.float64)

    def __repr__(self) -> str:
        return (
            f"PolynomialPreconditioner(kind={self.kind!r}, degree={self.degree}, "
            f"bounds=({self.bounds[0]:.6g}, {self.bounds[1]:.6g}), shape={self.shape})"
        )


def _diagonal(A: Any) -> NDArray[np.float64] | None:
    d = getattr(A, "diagonal", None)
    if d is None or not callable(d):
        return None
    return np.ascontiguousarray(d(), dtype=np.float64)


def polynomial(
    A: Any,
    degree: int,
    *,
    kind: str = "chebyshev",
    bounds: tuple[float, float] | None = None,
    diagonal: ArrayLike | None = None,
    n: int | None = None,
    seed: int = 0,
    n_threads: int | None = None,
) -> PolynomialPreconditioner:
    """A polynomial preconditioner ``p(A) ≈ A⁻¹`` of a symmetric positive definite ``A``.

    Applying it costs ``degree`` products with ``A`` and nothing else.

    - ``kind="chebyshev"``: ``degree`` steps of the Chebyshev iteration from 0; with spectral bounds
      ``[a, b]`` of ``A``, ``θ = (a+b)/2``, ``δ = (b-a)/2``, the residual polynomial is
      ``1 - λ p(λ) = T_{d+1}((θ-λ)/δ) / T_{d+1}(θ/δ)``, the smallest on ``[a, b]`` among
      polynomials of its degree that are 1 at 0: ``|1 - λ p(λ)| <= 1/T_{d+1}(θ/δ)
      <= 2 ((√κ-1)/(√κ+1))^{d+1}`` on the spectrum.
    - ``kind="neumann"``: the truncated Neumann series ``ω Σ_{k<=d} (I - ωB)^k D⁻¹`` of the
      Jacobi-scaled ``B = D⁻¹A`` (``D`` the diagonal of ``A``, when known), ``ω = 2/(a+b)`` with
      ``[a, b]`` bounds of the spectrum of ``B``.

    Both are symmetric positive definite on a spectrum inside ``(0, b]``, hence usable in CG.

    Parameters
    ----------
    A : callable, LinearOperator, ndarray or scipy.sparse matrix
        The operator (a callable needs ``n``).
    degree : int
        Products with ``A`` per application (``>= 0``).
    kind : {"chebyshev", "neumann"}
    bounds : (float, float), optional
        ``0 < a < b`` enclosing the spectrum of ``A`` (Chebyshev) or of ``D⁻¹A`` (Neumann). By
        default estimated by 20 Lanczos steps: ``b`` is the largest Ritz value plus its residual,
        widened by 5 % (Ritz values lie inside the spectrum, and a ``b`` below ``λ_max`` could make
        ``p`` indefinite); ``a`` the smallest Ritz value (too large an ``a`` only damps the lowest
        modes less).
    diagonal : array_like, optional
        The diagonal of ``A`` for the Neumann scaling (default ``A.diagonal()`` when ``A`` has one,
        else no scaling).
    n : int, optional
        The dimension, for a callable ``A``.
    seed : int
        Seed of the Lanczos start vector.
    n_threads : int, optional
        Threads for the vector work.

    Returns
    -------
    PolynomialPreconditioner
        ``.solve(r)``, ``P @ r``, ``.as_linear_operator()``, ``.bounds``, ``.shape``.

    Raises
    ------
    ValueError
        Bad ``degree``/``kind``/``bounds``, a non-positive diagonal, or ``A`` found not positive
        definite while estimating the bounds.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> A = np.diag(np.linspace(1.0, 10.0, 50))
    >>> P = softgrad.linalg.polynomial(A, 8, bounds=(1.0, 10.0))
    >>> x = P @ np.ones(50)
    >>> bool(np.abs(A @ x - 1).max() < 2 / np.cosh(9 * np.arccosh(11 / 9)))
    True

    References
    ----------
    Y. Saad, *Iterative Methods for Sparse Linear Systems* (2003), §12.3, Algorithm 12.1;
    O. G. Johnson, C. A. Micchelli and G. Paul (1983), *Polynomial preconditioners for conjugate
    gradient calculations*.
    """
    func = "polynomial"
    mv, _, n = as_operator(A, n, func, "A")
    degree = size_param(degree, func, "degree")
    if kind not in ("chebyshev", "neumann"):
        raise ValueError(f"{func}: kind must be 'chebyshev' or 'neumann', got {kind!r}")
    inv_diag = None
    if kind == "neumann":
        d = _diagonal(A) if diagonal is None else np.asarray(float_array(diagonal, func, "diagonal"))
        if d is not None:
            d = np.ascontiguousarray(d, dtype=np.float64).reshape(-1)
            if d.size != n:
                raise ValueError(f"{func}: diagonal has {d.size} elements, expected {n}")
            if not (np.all(np.isfinite(d)) and np.all(d > 0)):
                raise ValueError(f"{func}: diagonal must be finite and > 0 (Jacobi scaling)")
            inv_diag = 1.0 / d
    threads = threads_param(n_threads, func)
    if bounds is None:
        lo, hi = _core.poly.poly_bounds(mv, n, inv_diag, seed_param(seed, func), threads)
    else:
        try:
            a, b = bounds
        except (TypeError, ValueError):
            raise TypeError(f"{func}: bounds must be a pair (lo, hi), got {bounds!r}") from None
        lo, hi = scalar_param(a, func, "bounds"), scalar_param(b, func, "bounds")
        ok = (
            math.isfinite(lo)
            and math.isfinite(hi)
            and 0 < lo
            and (lo < hi or (kind == "neumann" and lo <= hi))
        )
        if not ok:
            raise ValueError(f"{func}: bounds must satisfy 0 < lo < hi, got {bounds!r}")
    return PolynomialPreconditioner(mv, n, kind, degree, (lo, hi), inv_diag, threads)
