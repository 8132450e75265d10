"""The arguments and the evaluation loop of :mod:`softgrad.fd` (dense estimates, and the sparse ones
of :mod:`softgrad.sparse_fd` and :mod:`softgrad.hessian` through the ``sparse`` hook): checks every
argument, builds the Rust plan, evaluates ``f`` at its points (``_fd_eval``) and assembles."""

from __future__ import annotations

import math
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._core import fd as _k
from ._fd_eval import (
    _Eval,
    _noise,
    center,
    check_imaginary,
    evaluate,
    nan_policy_param,
    progress_bar,
    stack,
)
from ._params import _plain, scalar_param

METHODS = ("forward", "backward", "central", "complex", "richardson")
_DEFAULT_ORDER = {"forward": 1, "backward": 1, "central": 2, "complex": 2, "richardson": 2}


# ---------------------------------------------------------------------------------------------
# arguments


def _x_param(x: ArrayLike, func: str) -> NDArray[Any]:
    arr = _plain(x, func, "x")
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{func}: x must be a float32 or float64 array, got dtype {arr.dtype}")
    return arr


def _method_param(method: Any, func: str) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"{func}: method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    return method


def _int_param(value: Any, func: str, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an int, got {value!r}")
    return int(value)


def _step_param(step: Any, shape: tuple[int, ...], func: str) -> NDArray[np.float64]:
    if step is None:
        return np.zeros(0)
    try:
        s = np.asarray(step, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{func}: step must be a positive scalar or an array of x's shape, got {step!r}"
        ) from None
    if s.ndim == 0:
        return s.reshape(1)
    if s.shape != shape:
        raise ValueError(f"{func}: step must be a scalar or have x's shape {shape}, got shape {s.shape}")
    return np.ascontiguousarray(s).ravel()


def _bounds_param(bounds: Any, shape: tuple[int, ...], func: str) -> tuple[NDArray[np.float64], ...]:
    if bounds is None:
        return np.zeros(0), np.zeros(0)
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise ValueError(f"{func}: bounds must be a pair (lower, upper), got {bounds!r}")
    out = []
    for b in bounds:
        try:
            a = np.broadcast_to(np.asarray(b, dtype=np.float64), shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"{func}: bounds must be scalars or arrays broadcastable to x's shape {shape}, got {b!r}"
            ) from None
        out.append(np.ascontiguousarray(a).ravel())
    return out[0], out[1]


# ---------------------------------------------------------------------------------------------
# evaluating f


def _estimate(
    func: str,
    f: Any,  # checked by _Eval: callable
    x: ArrayLike,
    method: Any,
    order: Any,
    step: Any,
    bounds: Any,
    noise: Any,
    n_steps: Any,
    vectorized: Any,
    batch_size: Any,
    executor: Any,
    nan_policy: Any = "raise",
    progress: Any = False,
    sparse: Any = None,
    jac: bool | None = None,
) -> Any:
    """The estimate of ``func`` (dense: ``(jac, err, nfev, steps, noise)``); with ``sparse`` (a
    callable ``plan_args -> SparsePlan``, :mod:`softgrad.sparse_fd`) the plan and the values,
    ``(plan, values, f0, omit, ev, out_shape, noise)``, for the caller to assemble."""
    xa = _x_param(x, func)
    shape, dt = xa.shape, xa.dtype
    method = _method_param(method, func)
    order = _DEFAULT_ORDER[method] if order is None else _int_param(order, func, "order")
    n_steps = _int_param(n_steps, func, "n_steps")
    estimate_noise = isinstance(noise, str)
    if estimate_noise and noise != "estimate":
        raise ValueError(f"{func}: noise must be a float or 'estimate', got {noise!r}")
    noise = 0.0 if noise is None or estimate_noise else scalar_param(noise, func, "noise")
    if batch_size is not None and _int_param(batch_size, func, "batch_size") < 1:
        raise ValueError(f"{func}: batch_size must be >= 1, got {batch_size}")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"{func}: executor must be a concurrent.futures.Executor, got {executor!r}")
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"{func}: vectorized must be a bool, got {vectorized!r}")
    if order < 0 or n_steps < 0:
        name = "order" if order < 0 else "n_steps"
        raise ValueError(f"{func}: {name} must be >= 0, got {order if order < 0 else n_steps}")
    omit = nan_policy_param(nan_policy, func)
    progress_bar(progress, func, None)  # checks the flag (and tqdm) before f is called
    xf = np.ascontiguousarray(xa).ravel()
    lower, upper = _bounds_param(bounds, shape, func)
    steps_given = _step_param(step, shape, func)
    jac = func != "gradient" if jac is None else jac
    args = (xf, method, order, steps_given, lower, upper, noise, n_steps)
    # Built (and so every argument checked) before f is called; again if the noise was estimated.
    plan: Any = sparse(args) if sparse is not None else _k.Plan(*args, func)
    cplx = method == "complex"
    ev = _Eval(f, shape, func, jac, cplx, omit)
    if estimate_noise:
        nev = _Eval(f, shape, func, jac, False)
        noise = _noise(nev, xf, dt, lower, upper, bool(vectorized), func)
        ev.nfev = nev.nfev
        args = (xf, method, order, steps_given, lower, upper, noise, n_steps)
        plan = sparse(args) if sparse is not None else _k.Plan(*args, func)
    steps = plan.steps
    n, npts = xf.size, plan.n_points
    per = npts // max(1, n if sparse is None else plan.n_colours)
    if sparse is None:

        def where(q: int) -> str:
            i = q // per
            return f"evaluation point {q} (of {npts}: coordinate {i} moved by about {steps[i]:.3g})"

        def imag(pts: NDArray[Any], start: int) -> None:  # point q moves coordinate q by i h_q
            q = np.arange(start, start + len(pts))
            pts[q - start, q] += 1j * steps[q]

    else:
        colours = plan.colours

        def where(q: int) -> str:
            c = q // per
            k = int(np.count_nonzero(colours == c))
            return f"evaluation point {q} (of {npts}: the {k} columns of colour {c} moved)"

        def imag(pts: NDArray[Any], start: int) -> None:  # point c moves the columns of colour c
            for r in range(len(pts)):
                cols = colours == (start + r)
                pts[r, cols] += 1j * steps[cols]

    bar = progress_bar(progress, func, npts + int(plan.needs_center))
    ev.bar = bar
    try:
        f0 = None
        if plan.needs_center or (ev.out_shape is None and npts == 0):
            f0 = center(ev, xf, bool(vectorized), cplx)
        chunks = evaluate(
            plan, ev, n, dt, bool(vectorized), batch_size, executor, where, imag if cplx else None
        )
        values = stack(chunks, bool(vectorized), jac)
        if ev.n_bad and f0 is None:  # the fall-backs of nan_policy="omit" may use f(x)
            f0 = center(ev, xf, bool(vectorized), cplx)
    finally:
        if bar is not None:
            bar.close()
    if cplx:
        check_imaginary(ev, xf, bool(vectorized), values)
    out_shape = ev.out_shape if ev.out_shape is not None else ()
    m = math.prod(out_shape)
    if sparse is not None:
        return plan, values, f0, omit, ev, out_shape, noise
    j, err = plan.assemble(values, m, f0, omit)
    full = (*out_shape, *shape)
    return j.reshape(full).astype(dt, copy=False), err.reshape(full), ev.nfev, steps.reshape(shape), noise
