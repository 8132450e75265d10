"""Argument checks shared by the facade: array arguments and their dtypes, scalar parameters (temperature,
thread counts, flags), axes and ``out=``. Each raises TypeError (a wrong kind of value) or ValueError (a
wrong value) whose message starts with the function's name and names the argument."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.ma as ma  # imported now: NumPy loads it lazily, which fails in a call during shutdown
from numpy.typing import ArrayLike, NDArray

# softgrad_core::par::MAX_THREADS (tests/test_logsumexp_hostile.py checks that they agree).
MAX_THREADS = 256

# Dtypes the Rust kernels take; every other real dtype is computed in one of them and cast back.
_COMPUTE: dict[np.dtype[Any], type[np.floating[Any]]] = {
    np.dtype(np.float32): np.float32,
    np.dtype(np.float64): np.float64,
}


def _plain(x: ArrayLike, func: str, name: str) -> NDArray[Any]:
    """``np.asarray(x)``; TypeError naming ``func`` and ``name`` for what is not array-like, and for a
    masked array with masked entries (computing over its hidden data silently would be wrong)."""
    if type(x) is np.ndarray:  # the common case, without further checks
        return x
    if isinstance(x, ma.MaskedArray):
        if ma.getmask(x) is not ma.nomask and np.any(ma.getmask(x)):
            raise TypeError(
                f"{func}: {name} is a masked array with masked entries, which softgrad does not "
                f"support; pass {name}.filled(value) (e.g. -inf for a log-sum-exp) instead"
            )
        x = ma.getdata(x)
    try:
        return np.asarray(x)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{func}: {name} must be array-like of real numbers ({exc})") from None


def float_array(x: ArrayLike, func: str, name: str) -> NDArray[Any]:
    """``x`` as a real floating ndarray (no copy when it already is one).

    bool and integer input become float64; complex, object, string and other dtypes raise TypeError,
    as does a masked array with masked entries.
    """
    arr = _plain(x, func, name)
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.float64)
    if kind != "f":
        raise TypeError(f"{func}: {name} must contain real numbers, got dtype {arr.dtype}")
    return arr


def numeric_array(x: ArrayLike, func: str, name: str) -> NDArray[Any]:
    """``x`` as an ndarray of bool, integer, real or complex floating dtype, unconverted (no copy).

    Object, string, datetime and other dtypes raise TypeError, as does a masked array with masked
    entries. (For the ops that follow scipy on complex input: see :func:`is_numpy_path`.)
    """
    arr = _plain(x, func, name)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{func}: {name} must contain real or complex numbers, got dtype {arr.dtype}")
    return arr


def is_numpy_path(dt: np.dtype[Any]) -> bool:
    """Whether results of dtype ``dt`` are computed by NumPy rather than by the Rust kernels: complex
    dtypes, and real floats wider than float64 (``longdouble``, computed in its own precision)."""
    return dt.kind == "c" or (dt.kind == "f" and dt.itemsize > 8)


def result_dtype(*dtypes: np.dtype[Any]) -> np.dtype[Any]:
    """The common floating dtype of the inputs: NumPy's ``result_type``, float64 where that is bool or
    an integer (as scipy does); complex stays complex."""
    dt = np.result_type(*dtypes)
    if dt.kind not in "fc":
        return np.dtype(np.float64)
    return dt if dt.isnative else dt.newbyteorder("=")


def promoted_dtype(*pairs: tuple[Any, NDArray[Any]]) -> np.dtype[Any]:
    """Result dtype of several ``(original argument, array of it)`` pairs, as scipy promotes.

    NumPy's ``result_type`` of the arrays' dtypes (so float32 with an int64 array is float64, as
    in scipy), Python scalars counting as weak (``float32`` with ``b=2.0`` stays float32); a bool or
    integer result becomes float64. ``array of it`` may be the original dtype or its float64
    conversion (:func:`float_array`): integer arrays are recognised from the original argument.
    """
    parts: list[Any] = []
    for obj, arr in pairs:
        if type(obj) in (float, int, complex):
            parts.append(obj)
        else:
            orig = getattr(obj, "dtype", None)
            if not isinstance(orig, np.dtype):
                orig = np.asarray(obj).dtype if arr.dtype.kind == "f" else arr.dtype
            parts.append(orig if orig.kind in "biufc" else arr.dtype)
    return result_dtype(*parts)


def compute_dtype(dt: np.dtype[Any]) -> type[np.floating[Any]]:
    """float32 and float64 are computed as themselves; float16 in float32; other floats in float64."""
    if dt in _COMPUTE:
        return _COMPUTE[dt]
    if dt.itemsize < 4:
        return np.float32
    return np.float64


def scalar_param(value: Any, func: str, name: str) -> float:
    """A real scalar parameter as a Python float (TypeError if it is not one)."""
    if type(value) is float:  # the common case, without NumPy calls
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(
                f"{func}: {name} must be finite, got {_short(value)} (too large for a float)"
            ) from None
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.ndim(value) != 0:
        raise TypeError(f"{func}: {name} must be a real scalar, got {value!r}")
    if isinstance(value, complex) or np.iscomplexobj(value):
        raise TypeError(f"{func}: {name} must be a real scalar, got {value!r}")
    try:
        out = float(value)
    except OverflowError:
        raise ValueError(
            f"{func}: {name} must be finite, got {_short(value)} (too large for a float)"
        ) from None
    except (TypeError, ValueError):
        raise TypeError(f"{func}: {name} must be a real scalar, got {_short(value)}") from None
    return out


def _short(value: Any) -> str:
    """``repr(value)``, shortened (a 10**400 integer has 401 digits)."""
    r = repr(value)
    return r if len(r) <= 40 else f"{r[:20]}...{r[-10:]}"


def temperature_param(value: Any, func: str) -> float:
    """The temperature: a finite, positive real scalar."""
    t = scalar_param(value, func, "temperature")
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"{func}: temperature must be finite and > 0, got {_short(value)}")
    return t


def threads_param(n_threads: int | None, func: str) -> int | None:
    """``n_threads`` checked: None or an integer >= 1."""
    if n_threads is None:
        return None
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError(f"{func}: n_threads must be an integer or None, got {n_threads!r}")
    try:
        n = operator.index(n_threads)
    except TypeError:
        raise TypeError(f"{func}: n_threads must be an integer or None, got {n_threads!r}") from None
    if n < 1:
        raise ValueError(f"{func}: n_threads must be >= 1, got {n}")
    if n > MAX_THREADS:  # checked here too: a binding shared by several ops would name itself
        raise ValueError(f"{func}: n_threads must be in 1..={MAX_THREADS}, got {n}")
    return n


def flag_param(value: Any, func: str, name: str) -> bool:
    """A boolean flag (``keepdims``, ``return_sign``): a bool, or the integer 0 or 1."""
    if type(value) is bool:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{func}: {name} must be True or False, got {_short(value)}")


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, func: str) -> tuple[int, ...]:
    """Sorted, non-negative, unique axes; ValueError naming ``axis`` otherwise."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in items:
        if isinstance(ax, (bool, np.bool_)):  # operator.index(True) is 1: almost surely a mistake
            raise TypeError(f"{func}: axis must be an int, a tuple of ints or None, got {axis!r}")
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


def check_out(out: Any, shape: tuple[int, ...], dt: np.dtype[Any], func: str) -> None:
    """``out=`` checked: an ndarray (not a masked array) of the result's dtype (either byte order),
    shape, writeable."""
    if not isinstance(out, np.ndarray) or isinstance(out, ma.MaskedArray):
        raise TypeError(f"{func}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype.newbyteorder("=") != dt.newbyteorder("="):
        raise TypeError(f"{func}: out has dtype {out.dtype}, the result has dtype {dt}")
    if out.shape != shape:
        raise ValueError(f"{func}: out has shape {out.shape}, the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{func}: out is read-only")
