"""Operators for the Krylov methods: whatever the caller passed (a function ``x -> A @ x``, a
:class:`scipy.sparse.linalg.LinearOperator`, an ndarray, a ``scipy.sparse`` matrix or array) as the
callables ``matvec(x)`` and, where the object can apply itself to a block, ``matmat(X)`` that
``softgrad._core`` calls with the GIL attached. Their outputs are checked in Rust (length, NaN)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

Matvec = Callable[[NDArray[np.float64]], Any]


def _dim(a: Any, func: str, name: str) -> int:
    shape = getattr(a, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{func}: {name} must be square, got shape {shape}")
    return int(shape[0])


def size_param(value: Any, func: str, name: str, *, lo: int = 0) -> int:
    """An int >= ``lo`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an int, got {type(value).__name__}")
    v = operator.index(value)
    if v < lo:
        raise ValueError(f"{func}: {name} must be >= {lo}, got {v}")
    return v


def seed_param(value: Any, func: str) -> int:
    """A seed: an int in ``0..2**64``."""
    v = size_param(value, func, "seed")
    if v >= 2**64:
        raise ValueError(f"{func}: seed must be < 2**64, got {v}")
    return v


def as_operator(a: Any, n: int | None, func: str, name: str = "matvec") -> tuple[Matvec, Matvec | None, int]:
    """``(matvec, matmat or None, n)`` for the operator ``a``; ``n`` is required for a plain callable
    and must agree with the shape of anything that has one."""
    if n is not None:
        n = size_param(n, func, "n", lo=1)
    if hasattr(a, "shape") and (hasattr(a, "matvec") or hasattr(a, "__matmul__")):
        m = _dim(a, func, name)
        if n is not None and n != m:
            raise ValueError(f"{func}: n = {n} does not match {name}'s shape {a.shape}")
        if hasattr(a, "matvec") and hasattr(a, "matmat"):  # a LinearOperator
            return a.matvec, a.matmat, m
        if isinstance(a, np.ndarray):
            if a.dtype.kind not in "fiub":
                raise TypeError(f"{func}: {name} must be a real matrix, got dtype {a.dtype}")
            dense = np.ascontiguousarray(a, dtype=np.float64)
            return dense.__matmul__, dense.__matmul__, m
        mat = a  # scipy.sparse (matrix or array classes)
        return mat.__matmul__, mat.__matmul__, m
    if callable(a):
        if n is None:
            raise TypeError(f"{func}: n is required when {name} is a function")
        return a, None, n
    raise TypeError(
        f"{func}: {name} must be a function, a LinearOperator, an ndarray or a sparse matrix, "
        f"got {type(a).__name__}"
    )
