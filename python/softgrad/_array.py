"""Array normalisation shared by the facade: dtypes, axes and the ``(outer, n, inner)`` layout."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Dtypes the Rust kernels take; every other real dtype is computed in one of them and cast back.
_COMPUTE: dict[np.dtype[Any], type[np.floating[Any]]] = {
    np.dtype(np.float32): np.float32,
    np.dtype(np.float64): np.float64,
}


def float_array(x: ArrayLike, func: str, name: str) -> NDArray[Any]:
    """``x`` as a real floating ndarray (no copy when it already is one).

    bool and integer input become float64; complex, object, string and other dtypes raise TypeError.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{func}: {name} must be array-like of real numbers ({exc})") from None
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.float64)
    if kind != "f":
        raise TypeError(f"{func}: {name} must contain real numbers, got dtype {arr.dtype}")
    return arr


def result_dtype(*dtypes: np.dtype[Any]) -> np.dtype[Any]:
    """The common real floating dtype of the inputs (float64 for integers, as scipy does)."""
    dt = np.result_type(*dtypes)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def promoted_dtype(*pairs: tuple[Any, NDArray[Any]]) -> np.dtype[Any]:
    """Result dtype of several ``(original argument, float_array of it)`` pairs, as scipy promotes.

    Floating arguments decide (a Python float counts as weak, as in NumPy); integer and bool ones
    only matter when nothing is floating, and then the result is float64.
    """
    parts: list[Any] = []
    for obj, arr in pairs:
        if isinstance(obj, float):
            parts.append(obj)
        elif np.asarray(obj).dtype.kind == "f":
            parts.append(arr.dtype)
    if not parts:
        return np.dtype(np.float64)
    dt = np.result_type(*parts)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def compute_dtype(dt: np.dtype[Any]) -> type[np.floating[Any]]:
    """float32 and float64 are computed as themselves; float16 in float32; other floats in float64."""
    if dt in _COMPUTE:
        return _COMPUTE[dt]
    if dt.itemsize < 4:
        return np.float32
    return np.float64


def scalar_param(value: Any, func: str, name: str) -> float:
    """A real scalar parameter as a Python float (TypeError if it is not one)."""
    if type(value) is float or type(value) is int:  # the common case, without NumPy calls
        return float(value)
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.ndim(value) != 0:
        raise TypeError(f"{func}: {name} must be a real scalar, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: {name} must be a real scalar, got {value!r}") from None
    if isinstance(value, complex) or np.iscomplexobj(value):
        raise TypeError(f"{func}: {name} must be a real scalar, got {value!r}")
    return out


def temperature_param(value: Any, func: str) -> float:
    """The temperature: a finite, positive real scalar."""
    t = scalar_param(value, func, "temperature")
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"{func}: temperature must be finite and > 0, got {value!r}")
    return t


def threads_param(n_threads: int | None, func: str) -> int | None:
    """``n_threads`` checked: None or an integer >= 1."""
    if n_threads is None:
        return None
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError(f"{func}: n_threads must be an int, got {n_threads!r}")
    try:
        n = operator.index(n_threads)
    except TypeError:
        raise TypeError(f"{func}: n_threads must be an integer or None, got {n_threads!r}") from None
    if n < 1:
        raise ValueError(f"{func}: n_threads must be >= 1, got {n}")
    return n


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, func: str) -> tuple[int, ...]:
    """Sorted, non-negative, unique axes; ValueError naming ``axis`` otherwise."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in items:
        try:
            a = operator.index(ax)
        except TypeError:
            raise TypeError(f"{func}: axis must be an int, a tuple of ints or None, got {axis!r}") from None
        if not -ndim <= a < ndim:
            raise ValueError(f"{func}: axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{func}: axis contains a repeated axis: {axis!r}")
    return tuple(sorted(out))


def _size(dims: Sequence[int]) -> int:
    return math.prod(dims)


@dataclass(frozen=True)
class Plan:
    """How an N-D reduction maps onto the kernels' contiguous ``(outer, n, inner)`` layout.

    When the reduced axes are adjacent the array is used in place; otherwise it is transposed so
    that they are last (``perm``) and copied once.
    """

    shape: tuple[int, ...]
    axes: tuple[int, ...]
    perm: tuple[int, ...] | None
    outer: int
    n: int
    inner: int

    @staticmethod
    def of(shape: tuple[int, ...], axes: tuple[int, ...]) -> Plan:
        if not axes:
            return Plan(shape, axes, None, _size(shape), 1, 1)
        lo, hi = axes[0], axes[-1]
        if hi - lo + 1 == len(axes):
            outer, n, inner = _size(shape[:lo]), _size(shape[lo : hi + 1]), _size(shape[hi + 1 :])
            return Plan(shape, axes, None, outer, n, inner)
        kept = tuple(i for i in range(len(shape)) if i not in axes)
        perm = kept + axes
        return Plan(shape, axes, perm, _size([shape[i] for i in kept]), _size([shape[i] for i in axes]), 1)

    def arrange(self, x: NDArray[Any], dtype: type[np.floating[Any]]) -> NDArray[Any]:
        """``x`` (of ``shape``) as a C-contiguous array of ``dtype`` in the plan's layout."""
        if self.perm is not None:
            x = x.transpose(self.perm)
        return np.ascontiguousarray(x, dtype=dtype)

    def reduced_shape(self, keepdims: bool) -> tuple[int, ...]:
        """Shape of a reduction's result."""
        if keepdims:
            return tuple(1 if i in self.axes else d for i, d in enumerate(self.shape))
        return tuple(d for i, d in enumerate(self.shape) if i not in self.axes)

    def restore(self, flat: NDArray[Any]) -> NDArray[Any]:
        """A same-size result (flat, in the plan's layout) back in the original axis order."""
        if self.perm is None:
            return flat.reshape(self.shape)
        permuted = flat.reshape(tuple(self.shape[i] for i in self.perm))
        back: NDArray[Any] = permuted.transpose(np.argsort(self.perm))
        return back
