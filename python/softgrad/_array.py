"""Array normalisation shared by the facade: dtypes, axes, the ``(outer, n, inner)`` layout, and the
call object of ops along axes."""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
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


Axis = int | Sequence[int] | None
Array = NDArray[Any]


def scalar(x: Array) -> Any:
    return x[()] if x.ndim == 0 else x


def cast(v: Any, dt: np.dtype[Any]) -> Any:
    return np.asarray(v, dtype=dt)[()]


def unbroadcast(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``g`` down to ``shape`` (the adjoint of broadcasting)."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if axes:
        summed: Array = g.sum(axis=axes, keepdims=True)
        return summed
    return g


def private(v: Array, *owners: Array | None) -> Array:
    """``v``, copied if it may share memory with one of ``owners`` (arrays the caller can change)."""
    if any(o is not None and np.may_share_memory(v, o) for o in owners):
        copy: Array = v.copy()
        return copy
    return v


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


def _arranged(plan: Plan, v: Array, dtype: type[np.floating[Any]], func: str, name: str) -> Array:
    """``plan.arrange(v, dtype)``; a failed allocation of the copy is a MemoryError naming ``func``
    and ``name`` (a broadcast view can stand for terabytes)."""
    try:
        return plan.arrange(v, dtype)
    except MemoryError as exc:
        nbytes = v.size * np.dtype(dtype).itemsize
        raise MemoryError(
            f"{func}: could not allocate {nbytes} bytes for a contiguous {np.dtype(dtype)} copy of {name}"
        ) from exc


@dataclass(frozen=True, eq=False)
class AxisCall:
    """One call of an op along axes, its arguments normalised once: shared by the value path and the
    derivative rules.

    ``x`` (and ``b``) are the inputs in the compute dtype, C-contiguous in the ``(outer, n, inner)``
    layout of ``plan``; they may be the caller's own buffers (``given``, ``given_b``), so the forward
    rules copy them before keeping them as residuals.
    """

    func: str
    given: Array  # the (broadcast) input in its original axis order, at least 1-D
    x: Array
    plan: Plan
    t: float
    n_threads: int | None
    dtype: np.dtype[Any]  # dtype of the result
    a_shape: tuple[int, ...]  # shape of the differentiable array argument (before broadcasting)
    a_dtype: np.dtype[Any]  # dtype of its cotangent
    given_b: Array | None = None
    b: Array | None = None
    b_shape: tuple[int, ...] | None = None
    b_dtype: np.dtype[Any] | None = None
    keepdims: bool = False
    return_sign: bool = False
    scalar_in: bool = False
    out: Array | None = None

    @property
    def layout(self) -> tuple[int, int, int]:
        return (self.plan.outer, self.plan.n, self.plan.inner)

    @property
    def lanes(self) -> int:
        return self.plan.outer * self.plan.inner

    @classmethod
    def reduction(
        cls,
        func: str,
        a: ArrayLike,
        axis: Axis,
        b: ArrayLike | None,
        keepdims: bool,
        return_sign: bool,
        temperature: float,
        n_threads: int | None,
        negate: bool = False,
    ) -> AxisCall:
        """logsumexp, smooth_max and (with ``negate``) smooth_min.

        logsumexp also takes complex ``a`` and ``b`` (scipy's semantics, computed by NumPy: see
        :func:`is_numpy_path`); then ``x`` and ``b`` are the broadcast inputs as given, unconverted.
        """
        name = "a" if func == "logsumexp" else "x"
        arr = numeric_array(a, func, name) if func == "logsumexp" else float_array(a, func, name)
        t = temperature_param(temperature, func)
        nt = threads_param(n_threads, func)
        keep, sign = flag_param(keepdims, func, "keepdims"), flag_param(return_sign, func, "return_sign")
        a_shape, a_dtype = arr.shape, result_dtype(arr.dtype)
        if negate:
            try:
                arr = -arr
            except MemoryError as exc:
                raise MemoryError(f"{func}: could not allocate {arr.nbytes} bytes for -{name}") from exc
        barr = b_shape = b_dtype = None
        if b is None:
            dt = a_dtype
        else:
            barr = numeric_array(b, func, "b")
            b_shape, b_dtype = barr.shape, result_dtype(barr.dtype)
            dt = promoted_dtype((a, arr), (b, barr))
            try:
                shape = np.broadcast_shapes(arr.shape, barr.shape)
            except ValueError:
                raise ValueError(
                    f"{func}: b with shape {barr.shape} does not broadcast against a with shape {arr.shape}"
                ) from None
            arr, barr = np.broadcast_to(arr, shape), np.broadcast_to(barr, shape)
        scalar_in = arr.ndim == 0
        if scalar_in:
            arr = arr.reshape(1)
            barr = None if barr is None else barr.reshape(1)
        plan = Plan.of(arr.shape, normalize_axes(axis, arr.ndim, func))
        cdt = compute_dtype(dt)
        cplx = dt.kind == "c"  # complex: only the NumPy path reads x and b, as given
        return cls(
            func,
            arr,
            arr if cplx else _arranged(plan, arr, cdt, func, name),
            plan,
            t,
            nt,
            dt,
            a_shape,
            a_dtype,
            barr,
            None if barr is None else barr if cplx else _arranged(plan, barr, cdt, func, "b"),
            b_shape,
            b_dtype,
            keep,
            sign,
            scalar_in,
        )

    @classmethod
    def softmax(
        cls, func: str, x: ArrayLike, axis: Axis, temperature: float, n_threads: int | None, out: Any
    ) -> AxisCall:
        """softmax and log_softmax (complex ``x`` as in scipy, computed by NumPy; then ``x`` is the
        input as given)."""
        arr = numeric_array(x, func, "x")
        t = temperature_param(temperature, func)
        nt = threads_param(n_threads, func)
        dt = result_dtype(arr.dtype)
        if out is not None:
            check_out(out, arr.shape, dt, func)
        shape = arr.shape
        scalar_in = arr.ndim == 0
        if scalar_in:
            arr = arr.reshape(1)
        plan = Plan.of(arr.shape, normalize_axes(axis, arr.ndim, func))
        xc = arr if dt.kind == "c" else _arranged(plan, arr, compute_dtype(dt), func, "x")
        return cls(func, arr, xc, plan, t, nt, dt, shape, dt, scalar_in=scalar_in, out=out)

    @property
    def numpy_path(self) -> bool:
        """Whether the value is computed by NumPy (complex or longdouble: :func:`is_numpy_path`)."""
        return is_numpy_path(self.dtype)

    def require_real(self, mode: str) -> None:
        """TypeError for complex input under ``vjp``/``jvp`` (``mode``): the derivative rules are real."""
        if self.dtype.kind == "c":
            raise TypeError(
                f"{mode}({self.func}): complex input (dtype {self.dtype}) is not differentiable: "
                "softgrad's derivative rules are real"
            )

    def private_inputs(self) -> AxisCall:
        """This call with inputs that share no memory with the caller's arrays (for residuals)."""
        x = private(self.x, self.given, self.out)
        b = None if self.b is None else private(self.b, self.given_b)
        if x is self.x and b is self.b:
            return self
        return dataclasses.replace(self, x=x, b=b)

    def as_float64(self) -> AxisCall:
        """This call computed in float64 (for the forward-mode rules of float32 input)."""
        if self.x.dtype == np.float64:
            return self
        b = None if self.b is None else self.b.astype(np.float64)
        return dataclasses.replace(self, x=self.x.astype(np.float64), b=b, out=None)

    def arranged(self, v: Any, shape: tuple[int, ...], dtype: Any) -> Array:
        """``v`` (of ``shape``, broadcast to the input's shape) in the plan's layout, C-contiguous."""
        arr = np.broadcast_to(np.asarray(v).reshape(shape), self.given.shape)
        return self.plan.arrange(arr, dtype)

    def lanes3(self, flat: Array) -> Array:
        """A flat array of the layout seen as ``(outer, n, inner)``."""
        return flat.reshape(self.layout)

    def from_layout(self, flat: Array, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        """A flat array in the plan's layout back in the original axis order, summed to ``shape``."""
        full = self.plan.restore(flat)
        return unbroadcast(full, shape).reshape(shape).astype(dtype, copy=False)
