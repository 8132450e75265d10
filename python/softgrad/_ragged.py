"""Ragged rows of the soft-sort family: ``lengths=`` / ``mask=`` mapped onto per-lane lengths (kept
values moved to the front of each row), the axis and ``nan_policy`` checks shared by the family's
modules (:mod:`softgrad.sort`, :mod:`softgrad.topk`, :mod:`softgrad.quantile`,
:mod:`softgrad.spearman`)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._array import Array

_NAN_POLICIES = ("raise", "omit")


@dataclass(frozen=True)
class _Ragged:
    """Which values of each lane take part: from ``lengths`` (a prefix per lane), ``mask`` (any
    subset) and ``nan_policy="omit"`` (all but the NaN), as the kernels' per-lane ``lengths`` plus,
    when the kept values are not a prefix, the ``order`` that moves them to the front."""

    lengths: Array | None = None
    order: Array | None = None
    nan_at: Array | None = None

    @classmethod
    def of(
        cls,
        func: str,
        x3: Array,
        shape: tuple[int, ...],
        axis: int,
        lengths: Any,
        mask: Any,
        nan_policy: Any,
    ) -> _Ragged:
        nan_policy_of(func, nan_policy)
        if lengths is not None and mask is not None:
            raise ValueError(f"{func}: give lengths or mask, not both")
        layout = x3.shape
        keep = None if mask is None else _mask(func, mask, shape, axis).reshape(layout)
        nan_at = None
        if nan_policy == "omit":
            isnan = np.isnan(x3)
            if isnan.any():
                nan_at = isnan
                if lengths is not None:
                    lens = _lengths(func, lengths, shape, axis).reshape(layout[0], 1, layout[2])
                    keep, lengths = np.arange(layout[1])[None, :, None] < lens, None
                keep = ~isnan if keep is None else keep & ~isnan
        if keep is None:
            return cls(None if lengths is None else _lengths(func, lengths, shape, axis), None, nan_at)
        lens = np.ascontiguousarray(keep.sum(axis=1, dtype=np.int64).reshape(-1))
        if layout[1] < 2 or bool(np.all(keep[:, 1:, :] <= keep[:, :-1, :])):  # a prefix per lane
            return cls(lens, None, nan_at)
        return cls(lens, np.argsort(~keep, axis=1, kind="stable"), nan_at)

    def compact(self, xc: Array) -> Array:
        """``x`` (flat, the layout) with each lane's kept values moved to its front."""
        if self.order is None:
            return xc
        x3 = xc.reshape(self.order.shape)
        return np.ascontiguousarray(np.take_along_axis(x3, self.order, axis=1).reshape(-1))


def _mask(func: str, mask: Any, shape: tuple[int, ...], axis: int) -> Array:
    """``mask`` checked: booleans of the shape of ``x``."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(f"{func}: mask must be booleans, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{func}: mask has shape {arr.shape}, expected {shape} (the shape of x)")
    return arr


def axis_of(func: str, ndim: int, axis: Any) -> int:
    """``axis`` checked and made non-negative."""
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{func}: axis must be an int, got {axis!r}")
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"{func}: axis must be an int, got {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise ValueError(f"{func}: axis {ax} is out of bounds for array of dimension {ndim}")
    return ax % ndim


def keep_of(func: str, shape: tuple[int, ...], axis: int, lengths: Any, mask: Any) -> Array:
    """The values a ``lengths`` or ``mask`` argument keeps, as booleans of ``shape``."""
    if lengths is not None and mask is not None:
        raise ValueError(f"{func}: give lengths or mask, not both")
    if mask is not None:
        return _mask(func, mask, shape, axis)
    if lengths is None:
        return np.ones(shape, bool)
    lens = _lengths(func, lengths, shape, axis).reshape((*shape[:axis], 1, *shape[axis + 1 :]))
    pos = np.arange(shape[axis]).reshape((-1,) + (1,) * (len(shape) - axis - 1))
    return np.broadcast_to(pos < lens, shape)


def nan_policy_of(func: str, nan_policy: Any) -> str:
    """``nan_policy`` checked."""
    if not isinstance(nan_policy, str) or nan_policy not in _NAN_POLICIES:
        raise ValueError(f"{func}: nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    return nan_policy


def _lengths(func: str, lengths: Any, shape: tuple[int, ...], axis: int) -> Array:
    """``lengths`` checked: integers in ``[0, n]`` with the shape of ``x`` without ``axis``."""
    arr = np.asarray(lengths)
    want = shape[:axis] + shape[axis + 1 :]
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{func}: lengths must be integers, got dtype {arr.dtype}")
    if arr.shape != want:
        raise ValueError(f"{func}: lengths has shape {arr.shape}, expected {want} (x without axis)")
    n = shape[axis]
    if arr.size and (arr.min() < 0 or arr.max() > n):
        raise ValueError(f"{func}: lengths must be in [0, n] = [0, {n}]")
    return np.ascontiguousarray(arr.reshape(-1), dtype=np.int64)
