r"""VJP and JVP rules of the log-sum-exp family, registered with :mod:`softgrad.autodiff`.

With :math:`S = \sum_i b_i e^{a_i/t}`, :math:`L = t \log|S|`, :math:`\sigma = \operatorname{sgn} S`
and :math:`e_i = e^{(a_i - L)/t}`:

.. math::
    \frac{\partial L}{\partial a_i} = \sigma b_i e_i =: w_i, \qquad
    \frac{\partial L}{\partial b_i} = \sigma t e_i, \qquad
    \frac{\partial L}{\partial t} = \frac{L - \sum_i w_i a_i}{t}.

For :math:`y = \operatorname{softmax}(x/t)` and :math:`P_y(v) = y \odot (v - \langle y, v\rangle)`:
:math:`\bar x = P_y(\bar y)/t`, :math:`\bar t = -\langle \bar y, P_y(x)\rangle / t^2`; for
:math:`z = \operatorname{log\_softmax}(x/t)`: :math:`\bar x = (\bar z - y \langle 1, \bar z\rangle)/t`,
:math:`\bar t = -\langle \bar z, x - \langle y, x\rangle\rangle / t^2`. Entries at ``-inf`` (and entries
with zero weight) carry zero weight; where ``L = -inf`` every derivative is taken as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import autodiff
from ._array import (
    Plan,
    compute_dtype,
    float_array,
    normalize_axes,
    promoted_dtype,
    result_dtype,
    temperature_param,
)
from ._core import logsumexp as _lse_core
from .logsumexp import log_softmax, logsumexp, smooth_max, smooth_min, softmax

Array = NDArray[Any]


def _unbroadcast(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``g`` down to ``shape`` (the adjoint of broadcasting)."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _cast(v: Any, dt: np.dtype[Any]) -> Any:
    return np.asarray(v, dtype=dt)[()]


@dataclass
class _Lse:
    """Everything the logsumexp rules need, computed once per call."""

    a_dt: np.dtype[Any]
    b_dt: np.dtype[Any] | None
    a_shape: tuple[int, ...]
    bshape: tuple[int, ...]  # broadcast shape of a and b
    b_shape: tuple[int, ...] | None
    dt: np.dtype[Any]
    axes: tuple[int, ...]
    keepdims: bool
    return_sign: bool
    t: float
    a: Array  # broadcast, float64
    out: Any  # the op's return value
    w: Array  # dL/da, full shape
    dldb: Array | None  # dL/db, full shape
    dldt: Array  # dL/dt, keepdims shape

    @staticmethod
    def of(args: dict[str, Any]) -> _Lse:
        func = "logsumexp"
        a = float_array(args["a"], func, "a")
        b = None if args["b"] is None else float_array(args["b"], func, "b")
        t = temperature_param(args["temperature"], func)
        keepdims, return_sign = bool(args["keepdims"]), bool(args["return_sign"])
        out = logsumexp(
            args["a"],
            args["axis"],
            args["b"],
            keepdims,
            return_sign,
            temperature=t,
            n_threads=args["n_threads"],
        )
        dt = result_dtype(a.dtype) if b is None else promoted_dtype((args["a"], a), (args["b"], b))
        shape = a.shape if b is None else np.broadcast_shapes(a.shape, b.shape)
        A = np.asarray(np.broadcast_to(a, shape), dtype=np.float64).reshape(shape or (1,))
        B = (
            None
            if b is None
            else np.asarray(np.broadcast_to(b, shape), dtype=np.float64).reshape(shape or (1,))
        )
        axes = normalize_axes(args["axis"], A.ndim, func)
        nt = args["n_threads"]
        L, sign = logsumexp(A, axes, B, True, True, temperature=t, n_threads=nt)
        L, sign = np.asarray(L), np.asarray(sign)
        empty = (sign == 0) | np.isneginf(L)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if B is None and np.isfinite(L).all():
                # Unweighted and nothing degenerate: dL/da is the softmax (one Rust pass).
                w = np.asarray(softmax(A, axes, temperature=t, n_threads=nt))
                dldb = None
            else:
                e = np.where(empty, 0.0, np.exp((A - np.where(empty, 0.0, L)) / t))
                w = e if B is None else np.where(B == 0, 0.0, sign * B * e)
                dldb = None if B is None else np.where(empty, 0.0, sign * t * e)
            wa_sum = (w * A).sum(axis=axes, keepdims=True)
            if not np.isfinite(wa_sum).all():  # 0 * -inf where a weight vanishes
                wa_sum = np.where(w == 0, 0.0, w * A).sum(axis=axes, keepdims=True)
            dldt = np.where(empty, 0.0, (L - wa_sum) / t)
        a_dt, b_dt = result_dtype(a.dtype), None if b is None else result_dtype(b.dtype)
        return _Lse(
            a_dt,
            b_dt,
            a.shape,
            shape,
            None if b is None else b.shape,
            dt,
            axes,
            keepdims,
            return_sign,
            t,
            A,
            out,
            w,
            dldb,
            dldt,
        )

    def tangent(self, v: Any, shape: tuple[int, ...], name: str) -> Array:
        """A tangent of an argument of ``shape``, broadcast against the full array."""
        d = np.asarray(v, dtype=np.float64)
        if d.shape != shape:
            raise ValueError(f"logsumexp: tangent of {name} has shape {d.shape}, expected {shape}")
        return np.broadcast_to(d, self.bshape).reshape(self.a.shape)

    def reduce(self, v: Array) -> Array:
        """A keepdims-shaped array in the shape of the op's value."""
        return v if self.keepdims else np.squeeze(v, axis=self.axes).reshape(np.shape(self.value))

    @property
    def value(self) -> Any:
        return self.out[0] if self.return_sign else self.out

    def expand(self, ct: Any) -> Array:
        """An output cotangent broadcast against the full array."""
        c = np.asarray(ct, dtype=np.float64)
        if c.shape != np.shape(self.value):
            raise ValueError(f"logsumexp: cotangent has shape {c.shape}, expected {np.shape(self.value)}")
        if not self.keepdims:
            c = np.expand_dims(c.reshape(np.shape(self.value)), self.axes) if self.axes else c
        return c.reshape(self.dldt.shape)


def _fused_lse_vjp(args: dict[str, Any]) -> tuple[Any, Callable[[Any], tuple[Any, ...]]] | None:
    """VJP through the fused Rust kernel for unweighted log-sum-exp over contiguous rows whose
    values are all finite; None sends the call to the general rules."""
    if args["b"] is not None:
        return None
    func = "logsumexp"
    a = float_array(args["a"], func, "a")
    t = temperature_param(args["temperature"], func)
    a1 = np.atleast_1d(a)
    plan = Plan.of(a1.shape, normalize_axes(args["axis"], a1.ndim, func))
    if plan.perm is not None or plan.inner != 1 or not 0 < plan.n <= _FUSED_MAX_ROW:
        return None
    keepdims, return_sign, nt = bool(args["keepdims"]), bool(args["return_sign"]), args["n_threads"]
    out = logsumexp(args["a"], args["axis"], None, keepdims, return_sign, temperature=t, n_threads=nt)
    value = out[0] if return_sign else out
    if not np.isfinite(value).all():
        return None
    dt = result_dtype(a.dtype)
    xc = np.ascontiguousarray(a1, dtype=compute_dtype(dt))
    vshape = np.shape(value)

    def pullback(ct: Any) -> tuple[Any, ...]:
        if return_sign and isinstance(ct, tuple):
            ct = ct[0]  # the sign is piecewise constant
        c = np.asarray(ct, dtype=np.float64)
        if c.shape != vshape:
            raise ValueError(f"logsumexp: cotangent has shape {c.shape}, expected {vshape}")
        da, dtemp = _lse_core.logsumexp_vjp_rows(xc, np.ascontiguousarray(c.reshape(-1)), plan.n, t, nt)
        return da.reshape(a.shape).astype(dt, copy=False), None, _cast(dtemp, dt)

    return out, pullback


def _lse_vjp(args: dict[str, Any]) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    fused = _fused_lse_vjp(args)
    if fused is not None:
        return fused
    ctx = _Lse.of(args)

    def pullback(ct: Any) -> tuple[Any, ...]:
        if ctx.return_sign and isinstance(ct, tuple):
            ct = ct[0]  # the sign is piecewise constant
        c = ctx.expand(ct)
        da = _unbroadcast((c * ctx.w).reshape(ctx.bshape), ctx.a_shape).astype(ctx.a_dt, copy=False)
        db = None
        if ctx.dldb is not None and ctx.b_shape is not None:
            db = _unbroadcast((c * ctx.dldb).reshape(ctx.bshape), ctx.b_shape).astype(ctx.b_dt, copy=False)
        dt = _cast(np.sum(c * ctx.dldt), ctx.dt)
        return da, db, dt

    return ctx.out, pullback


def _lse_jvp(args: dict[str, Any], tangents: dict[str, Any]) -> tuple[Any, Any]:
    ctx = _Lse.of(args)
    tan = np.zeros(ctx.dldt.shape)
    if "a" in tangents:
        da = ctx.tangent(tangents["a"], ctx.a_shape, "a")
        tan = tan + (ctx.w * da).sum(axis=ctx.axes, keepdims=True)
    if "b" in tangents and ctx.dldb is not None and ctx.b_shape is not None:
        db = ctx.tangent(tangents["b"], ctx.b_shape, "b")
        tan = tan + (ctx.dldb * db).sum(axis=ctx.axes, keepdims=True)
    if "temperature" in tangents:
        tan = tan + ctx.dldt * float(tangents["temperature"])
    tout = _cast(ctx.reduce(tan), ctx.dt)
    if ctx.return_sign:
        return ctx.out, (tout, _cast(np.zeros(np.shape(ctx.value)), ctx.dt))
    return ctx.out, tout


@dataclass
class _Soft:
    """Shared state of the softmax / log_softmax rules."""

    shape: tuple[int, ...]
    dt: np.dtype[Any]
    axes: tuple[int, ...]
    t: float
    x: Array  # float64, at least 1-D, entries with zero softmax weight replaced by 0
    raw: Array  # float64, at least 1-D, as given
    y: Array  # softmax, float64
    out: Any

    @staticmethod
    def of(args: dict[str, Any], log: bool) -> _Soft:
        func = "log_softmax" if log else "softmax"
        x = float_array(args["x"], func, "x")
        t = temperature_param(args["temperature"], func)
        op = log_softmax if log else softmax
        # A copy only when `out` may overwrite x before the rules read it.
        x1 = np.atleast_1d(
            np.array(x, dtype=np.float64) if args["out"] is not None else np.asarray(x, np.float64)
        )
        out = op(x, args["axis"], temperature=t, n_threads=args["n_threads"], out=args["out"])
        axes = normalize_axes(args["axis"], x1.ndim, func)
        if not log and isinstance(out, np.ndarray) and out.dtype == np.float64 and args["out"] is None:
            y = out.reshape(x1.shape)  # the op's own float64 result
        else:
            y = np.asarray(softmax(x1, axes, temperature=t, n_threads=args["n_threads"]))
        xs = x1 if np.isfinite(x1).all() else np.where(y == 0, 0.0, x1)
        return _Soft(x.shape, result_dtype(x.dtype), axes, t, xs, x1, y, out)

    def centred(self) -> Array:
        """``x - <y, x>``, zero at ``-inf`` entries (whose log-softmax is ``-inf`` for every t)."""
        with np.errstate(invalid="ignore"):
            c: Array = np.where(np.isneginf(self.raw), 0.0, self.raw - self.inner(self.y, self.x))
        return c

    def inner(self, u: Array, v: Array) -> Array:
        prod: Array = np.sum(u * v, axis=self.axes, keepdims=True)
        return prod

    def arr(self, v: Any, name: str) -> Array:
        a = np.asarray(v, dtype=np.float64)
        if a.shape != self.shape:
            raise ValueError(f"softmax: {name} has shape {a.shape}, expected {self.shape}")
        return a.reshape(self.x.shape)

    def back(self, v: Array) -> Any:
        return v.reshape(self.shape).astype(self.dt, copy=False)


# Rows up to this long take the fused Rust pullback (its per-row scratch stays in cache).
_FUSED_MAX_ROW = 1 << 16


def _fused_vjp(args: dict[str, Any], log: bool) -> tuple[Any, Callable[[Any], tuple[Any, ...]]] | None:
    """VJP through the fused Rust kernel when the softmax runs over contiguous rows, else None."""
    func = "log_softmax" if log else "softmax"
    x = float_array(args["x"], func, "x")
    t = temperature_param(args["temperature"], func)
    x1 = np.atleast_1d(x)
    plan = Plan.of(x1.shape, normalize_axes(args["axis"], x1.ndim, func))
    if plan.perm is not None or plan.inner != 1 or not 0 < plan.n <= _FUSED_MAX_ROW:
        return None
    dt = result_dtype(x.dtype)
    cdt = compute_dtype(dt)
    # A private copy when `out` may overwrite x before the pullback reads it.
    xc = (
        np.array(x1, dtype=cdt, order="C") if args["out"] is not None else np.ascontiguousarray(x1, dtype=cdt)
    )
    nt = args["n_threads"]
    op = log_softmax if log else softmax
    out = op(x, args["axis"], temperature=t, n_threads=nt, out=args["out"])

    def pullback(ct: Any) -> tuple[Any, ...]:
        g = np.asarray(ct)
        if g.shape != x.shape:
            raise ValueError(f"{func}: cotangent has shape {g.shape}, expected {x.shape}")
        gc = np.ascontiguousarray(g.reshape(x1.shape), dtype=cdt)
        dx, dtemp = _lse_core.softmax_vjp_rows(xc, gc, plan.n, t, log, nt)
        return dx.reshape(x.shape).astype(dt, copy=False), _cast(dtemp, dt)

    return out, pullback


def _softmax_vjp(args: dict[str, Any]) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    fused = _fused_vjp(args, log=False)
    if fused is not None:
        return fused
    s = _Soft.of(args, log=False)

    def pullback(ct: Any) -> tuple[Any, ...]:
        g = s.arr(ct, "cotangent")
        # gy = y (g - <y, g>), built in place: each pass over the data once.
        gy = s.y * g
        total = gy.sum(axis=s.axes, keepdims=True)
        gy -= s.y * total
        dt = -float(np.vdot(gy.ravel(), s.x.ravel())) / s.t**2
        gy /= s.t
        return s.back(gy), _cast(dt, s.dt)

    return s.out, pullback


def _softmax_jvp(args: dict[str, Any], tangents: dict[str, Any]) -> tuple[Any, Any]:
    s = _Soft.of(args, log=False)
    tan = np.zeros_like(s.y)
    if "x" in tangents:
        dx = s.arr(tangents["x"], "tangent of x")
        tan += s.y * (dx - s.inner(s.y, dx)) / s.t
    if "temperature" in tangents:
        tan -= float(tangents["temperature"]) * s.y * (s.x - s.inner(s.y, s.x)) / s.t**2
    return s.out, s.back(tan)


def _log_softmax_vjp(args: dict[str, Any]) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    fused = _fused_vjp(args, log=True)
    if fused is not None:
        return fused
    s = _Soft.of(args, log=True)
    finite = bool(np.isfinite(s.raw).all())
    xbar = s.inner(s.y, s.x)
    centred = None if finite else s.centred()

    def pullback(ct: Any) -> tuple[Any, ...]:
        g = s.arr(ct, "cotangent")
        gsum = np.sum(g, axis=s.axes, keepdims=True)
        dx = s.y * gsum
        np.subtract(g, dx, out=dx)
        dx /= s.t
        if centred is None:  # sum g (x - xbar) = <g, x> - sum over slices of xbar * sum(g)
            dt = -(float(np.vdot(g.ravel(), s.raw.ravel())) - float(np.sum(xbar * gsum))) / s.t**2
        else:
            dt = -float(np.vdot(g.ravel(), centred.ravel())) / s.t**2
        return s.back(dx), _cast(dt, s.dt)

    return s.out, pullback


def _log_softmax_jvp(args: dict[str, Any], tangents: dict[str, Any]) -> tuple[Any, Any]:
    s = _Soft.of(args, log=True)
    tan = np.zeros_like(s.y)
    if "x" in tangents:
        dx = s.arr(tangents["x"], "tangent of x")
        tan += (dx - s.inner(s.y, dx)) / s.t
    if "temperature" in tangents:
        tan -= float(tangents["temperature"]) * s.centred() / s.t**2
    return s.out, s.back(tan)


def _as_lse(args: dict[str, Any], negate: bool) -> dict[str, Any]:
    x = float_array(args["x"], "smooth_min" if negate else "smooth_max", "x")
    return {
        "a": -x if negate else x,
        "axis": args["axis"],
        "b": None,
        "keepdims": args["keepdims"],
        "return_sign": False,
        "temperature": args["temperature"],
        "n_threads": args["n_threads"],
    }


def _smooth_max_vjp(args: dict[str, Any]) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    out, pull = _lse_vjp(_as_lse(args, negate=False))

    def pullback(ct: Any) -> tuple[Any, ...]:
        da, _, dt = pull(ct)
        return da, dt

    return out, pullback


def _smooth_max_jvp(args: dict[str, Any], tangents: dict[str, Any]) -> tuple[Any, Any]:
    return _lse_jvp(_as_lse(args, negate=False), {("a" if k == "x" else k): v for k, v in tangents.items()})


def _smooth_min_vjp(args: dict[str, Any]) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    out, pull = _lse_vjp(_as_lse(args, negate=True))

    def pullback(ct: Any) -> tuple[Any, ...]:
        # smooth_min(x, t) = -L(-x, t): d/dx = dL/da, d/dt = -dL/dt.
        da, _, dt = pull(ct)
        return da, -dt

    return -out, pullback


def _smooth_min_jvp(args: dict[str, Any], tangents: dict[str, Any]) -> tuple[Any, Any]:
    neg = {("a" if k == "x" else k): (-np.asarray(v) if k == "x" else v) for k, v in tangents.items()}
    out, tan = _lse_jvp(_as_lse(args, negate=True), neg)
    return -out, -tan


autodiff.register(logsumexp, ("a", "b", "temperature"), vjp=_lse_vjp, jvp=_lse_jvp)
autodiff.register(softmax, ("x", "temperature"), vjp=_softmax_vjp, jvp=_softmax_jvp)
autodiff.register(log_softmax, ("x", "temperature"), vjp=_log_softmax_vjp, jvp=_log_softmax_jvp)
autodiff.register(smooth_max, ("x", "temperature"), vjp=_smooth_max_vjp, jvp=_smooth_max_jvp)
autodiff.register(smooth_min, ("x", "temperature"), vjp=_smooth_min_vjp, jvp=_smooth_min_jvp)
