"""Sparse Jacobians by column colouring: :func:`softgrad.jacobian` with ``sparsity=``.

The colourings are ``rust/softgrad-core/src/estimate/colour.rs`` (bound as ``softgrad._core.colour``),
the points and the assembly ``rust/softgrad-core/src/estimate/fd/sparse.rs`` (``_core.fd.SparsePlan``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._core import colour as _c
from ._core import fd as _k

__all__ = ["colour_columns"]

ORDERINGS = ("auto", "smallest_last", "largest_first", "natural")


def _scipy_sparse(func: str) -> Any:
    try:
        sp = importlib.import_module("scipy.sparse")
    except ImportError:  # pragma: no cover - scipy is in the test extra
        raise ImportError(f"{func}: sparsity= needs scipy (the result is a scipy.sparse array)") from None
    return sp


def pattern_csr(sparsity: Any, shape: tuple[int, int] | None, func: str) -> tuple[Any, Any, int, int]:
    """``sparsity`` (scipy.sparse or an array of bools) as CSR ``(indptr, indices, m, n)`` (int64,
    explicit zeros dropped; rows may be unsorted or repeat a column: the core sorts and dedups);
    ``shape`` the one it must have (``None``: any 2-d)."""
    if hasattr(sparsity, "tocsr") and hasattr(sparsity, "nnz"):  # scipy.sparse, without importing it
        a = sparsity.tocsr()
        if a.ndim != 2:
            raise ValueError(f"{func}: sparsity must be 2-d, got shape {a.shape}")
        m, n = a.shape
        indptr, indices, data = np.asarray(a.indptr), np.asarray(a.indices), np.asarray(a.data)
        keep = data != 0
        if not keep.all():
            rows = np.repeat(np.arange(m), np.diff(indptr))[keep]
            indices = indices[keep]
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))])
    else:
        try:
            arr = np.asarray(sparsity)
        except (TypeError, ValueError):
            raise TypeError(f"{func}: sparsity must be a scipy.sparse matrix or an array of bools") from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{func}: sparsity must be a 2-d scipy.sparse matrix or array of bools, got dtype {arr.dtype}"
            )
        if arr.ndim != 2:
            raise ValueError(
                f"{func}: sparsity must be a 2-d scipy.sparse matrix or array of bools, got shape {arr.shape}"
            )
        m, n = arr.shape
        rows, indices = np.nonzero(arr)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))])
    if shape is not None and (m, n) != shape:
        raise ValueError(f"{func}: sparsity must have shape {shape}, got shape {(m, n)}")
    return indptr.astype(np.int64), indices.astype(np.int64), int(m), int(n)


def sparse_plan(
    args: tuple[Any, ...], indptr: Any, indices: Any, m: int, kind: str, colouring: str, func: str
) -> Any:
    """``_core.fd.SparsePlan`` from the dense plan's arguments ``args`` (x, method, order, step,
    lower, upper, noise, n_steps) and the pattern."""
    x, method, order, step, lower, upper, noise, n_steps = args
    return _k.SparsePlan(
        x, method, order, step, lower, upper, noise, n_steps, indptr, indices, m, kind, colouring, func
    )


def colour_columns(sparsity: Any, colouring: str = "auto") -> tuple[NDArray[np.int64], int, str]:
    """The column colouring that :func:`softgrad.jacobian` uses for ``sparsity``.

    Parameters
    ----------
    sparsity : scipy.sparse matrix or array_like of bool, shape (m, n)
        The pattern.
    colouring : {'auto', 'smallest_last', 'largest_first', 'natural'}, optional
        The greedy ordering; ``'auto'`` keeps the fewest colours of the three.

    Returns
    -------
    colours : ndarray of int64, shape (n,)
        The colour of each column: two columns of one colour share no row.
    n_colours : int
        Their number (at least the largest number of entries in a row).
    ordering : str
        The ordering that gave it.

    Examples
    --------
    >>> import numpy as np
    >>> from softgrad.sparse_fd import colour_columns
    >>> arrow = np.eye(6, dtype=bool)
    >>> arrow[:, 0] = True  # a dense first column
    >>> colour_columns(arrow)[1]
    2
    """
    indptr, indices, m, n = pattern_csr(sparsity, None, "colour_columns")
    return _c.column_colouring(indptr, indices, m, n, colouring, "jacobian")


def sparse_jacobian(
    f: Callable[..., Any],
    x: Any,
    method: Any,
    order: Any,
    step: Any,
    bounds: Any,
    noise: Any,
    n_steps: Any,
    vectorized: Any,
    batch_size: Any,
    executor: Any,
    nan_policy: Any,
    progress: Any,
    sparsity: Any,
    colouring: Any,
    full_output: bool,
) -> Any:
    """:func:`softgrad.jacobian` with ``sparsity``."""
    from ._fd_estimate import _estimate, _x_param
    from .fd import Estimate

    func = "jacobian"
    if not isinstance(colouring, str) or colouring not in ORDERINGS:
        raise ValueError(
            f"{func}: colouring must be one of {', '.join(map(repr, ORDERINGS))}, got {colouring!r}"
        )
    n = _x_param(x, func).size
    indptr, indices, m, ncols = pattern_csr(sparsity, None, func)
    if ncols != n:
        raise ValueError(f"{func}: sparsity must have x.size = {n} columns, got shape ({m}, {ncols})")

    def sparse(args: tuple[Any, ...]) -> Any:
        return sparse_plan(args, indptr, indices, m, "jacobian", colouring, func)

    plan, values, f0, omit, ev, out_shape, used = _estimate(
        func, f, x, method, order, step, bounds, noise, n_steps, vectorized, batch_size, executor,
        nan_policy, progress, sparse, True,
    )  # fmt: skip
    got = int(np.prod(out_shape))
    if got != m:
        raise ValueError(f"{func}: f returned {got} values (shape {out_shape}) but sparsity has {m} rows")
    data, err = plan.assemble(values, f0, omit)
    sp = _scipy_sparse(func)
    ptr, idx = plan.csr
    dt = _x_param(x, func).dtype
    jac = sp.csr_array((data.astype(dt, copy=False), idx, ptr), shape=(m, n))
    if not full_output:
        return jac
    return Estimate(
        grad=None,
        jac=jac,
        error=sp.csr_array((err, idx.copy(), ptr.copy()), shape=(m, n)),
        nfev=ev.nfev,
        step=plan.steps.reshape(np.shape(x)),
        method=method,
        noise=used,
        colours=plan.colours,
    )
