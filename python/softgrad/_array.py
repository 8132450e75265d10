"""Array normalisation shared by the facade: the ``(outer, n, inner)`` layout of an N-D array along axes
(:class:`Plan`) and the call object of ops along axes (:class:`AxisCall`). The argument checks are in
:mod:`softgrad._params`, re-exported here (``from ._array import float_array`` keeps working)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._params import MAX_THREADS as MAX_THREADS
from ._params import check_out as check_out
from ._params import compute_dtype as compute_dtype
from ._params import flag_param as flag_param
from ._params import float_array as float_array
from ._params import is_numpy_path as is_numpy_path
from ._params import normalize_axes as normalize_axes
from ._params import numeric_array as numeric_array
from ._params import promoted_dtype as promoted_dtype
from ._params import result_dtype as result_dtype
from ._params import scalar_param as scalar_param
from ._params import temperature_param as temperature_param
from ._params import threads_param as threads_param


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
        if v.dtype in (np.float32, np.float64) and v.flags.c_contiguous:
            # in parallel, into cached memory: a training loop pays no page faults for it
            copied: Array = _core.copy(v.reshape(-1)).reshape(v.shape)
            return copied
        copy: Array = v.copy()
        return copy
    return v


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
