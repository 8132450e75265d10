"""The log-sum-exp family: ``logsumexp``, ``softmax``, ``log_softmax``, ``smooth_max``, ``smooth_min``.

Kernels: ``rust/softgrad-core/src/relax/logsumexp.rs`` and ``relax/softmax.rs`` (bindings in
``rust/softgrad-py/src/logsumexp.rs``). Derivative rules: ``logsumexp_rules.py``, registered with
:mod:`softgrad.autodiff` on import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._array import (
    Plan,
    compute_dtype,
    float_array,
    normalize_axes,
    promoted_dtype,
    result_dtype,
    temperature_param,
    threads_param,
)
from ._core import logsumexp as _lse_core

Axis = int | Sequence[int] | None


def _scalar(x: NDArray[Any]) -> Any:
    return x[()] if x.ndim == 0 else x


def logsumexp(
    a: ArrayLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    return_sign: bool = False,
    *,
    temperature: float = 1.0,
    n_threads: int | None = None,
) -> Any:
    r"""Log of the sum of exponentials, :math:`t \log \sum_i b_i e^{a_i / t}`, computed stably.

    Same results and semantics as :func:`scipy.special.logsumexp` (``axis``, ``b``, ``keepdims``,
    ``return_sign``), plus a temperature :math:`t`. With :math:`M = \max\{a_i : b_i \neq 0\}`,
    :math:`w = \sum_{a_i = M} b_i` and :math:`s = \sum_{a_i < M} b_i e^{(a_i - M)/t}`, the result is
    :math:`M + t(\log|w| + \operatorname{log1p}(s/w))`, which loses neither huge nor tiny terms
    (Blanchard, Higham & Higham 2021).

    Parameters
    ----------
    a : array_like
        Input. bool and integer input is computed in float64; float32 stays float32 (accumulated in
        float64).
    axis : None or int or tuple of ints, optional
        Axes to reduce over; ``None`` (default) reduces over all of them.
    b : array_like, optional
        Weights ``b`` broadcastable against ``a``; may be negative. Entries with ``b == 0`` are
        ignored whatever the value of ``a`` there.
    keepdims : bool, optional
        Keep reduced axes as dimensions of size one.
    return_sign : bool, optional
        Also return the sign of the sum. Without it, negative sums give NaN.
    temperature : float, keyword-only
        :math:`t > 0`, finite. ``t * logsumexp(a / t)``; tends to ``max(a)`` as ``t -> 0``.
    n_threads : int, keyword-only, optional
        Threads to use (default: :func:`softgrad.get_num_threads`). The result does not depend on it.

    Returns
    -------
    res : ndarray or scalar
        :math:`t \log|\sum b e^{a/t}|`. ``-inf`` where the sum is empty or all ``-inf``; NaN where an
        entry is NaN; ``+inf`` entries give the IEEE value of the direct sum.
    sgn : ndarray or scalar
        Only with ``return_sign``: +1, 0 or -1.

    Raises
    ------
    TypeError
        Complex, object or string input, or a non-scalar temperature.
    ValueError
        ``b`` not broadcastable, ``axis`` out of range or repeated, ``temperature`` not finite and
        positive, ``n_threads < 1``.

    Notes
    -----
    Where scipy's result is infinite it recomputes the unshifted sum, which overflows when weights
    cancel at a large maximum (``a = [1000, 1000, 999], b = [1, -1, 1]`` gives NaN in scipy); softgrad
    keeps the shift and returns 999. Infinite and NaN inputs behave as in scipy.

    References
    ----------
    P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing the log-sum-exp and softmax
    functions", IMA J. Numer. Anal. 41(4), 2021.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.logsumexp(np.arange(10.0))
    np.float64(9.45862974442671)
    >>> softgrad.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    >>> softgrad.logsumexp([0.0, 1.0, 2.0], temperature=0.01)  # close to max
    np.float64(2.0)
    """
    return _lse(a, axis, b, keepdims, return_sign, temperature, n_threads, "logsumexp")


def _lse(
    a: ArrayLike,
    axis: Axis,
    b: ArrayLike | None,
    keepdims: bool,
    return_sign: bool,
    temperature: float,
    n_threads: int | None,
    func: str,
) -> Any:
    arr = float_array(a, func, "a" if func == "logsumexp" else "x")
    t = temperature_param(temperature, func)
    nt = threads_param(n_threads, func)
    barr = None
    if b is None:
        dt = result_dtype(arr.dtype)
    else:
        barr = float_array(b, func, "b")
        dt = promoted_dtype((a, arr), (b, barr))
        try:
            shape = np.broadcast_shapes(arr.shape, barr.shape)
        except ValueError:
            raise ValueError(
                f"{func}: b with shape {barr.shape} does not broadcast against a with shape {arr.shape}"
            ) from None
        arr, barr = np.broadcast_to(arr, shape), np.broadcast_to(barr, shape)
    if arr.ndim == 0:
        arr = arr.reshape(1)
        barr = None if barr is None else barr.reshape(1)
    plan = Plan.of(arr.shape, normalize_axes(axis, arr.ndim, func))
    cdt = compute_dtype(dt)
    x = plan.arrange(arr, cdt)
    bx = None if barr is None else plan.arrange(barr, cdt)
    out, sgn = _lse_core.logsumexp(x, bx, (plan.outer, plan.n, plan.inner), t, bool(return_sign), nt)
    shape_out = plan.reduced_shape(bool(keepdims))
    res = _scalar(out.reshape(shape_out).astype(dt, copy=False))
    if not return_sign:
        return res
    assert sgn is not None
    if plan.n == 0:
        sgn[:] = -1.0  # scipy's sign of an empty sum (sign(-inf)); an all -inf sum has sign 0
    return res, _scalar(sgn.reshape(shape_out).astype(dt, copy=False))


def _softmax(
    x: ArrayLike, axis: Axis, temperature: float, n_threads: int | None, log: bool, out: NDArray[Any] | None
) -> Any:
    func = "log_softmax" if log else "softmax"
    arr = float_array(x, func, "x")
    t = temperature_param(temperature, func)
    nt = threads_param(n_threads, func)
    dt = result_dtype(arr.dtype)
    if out is not None:
        _check_out(out, arr.shape, dt, func)
    scalar_in = arr.ndim == 0
    if scalar_in:
        arr = arr.reshape(1)
    plan = Plan.of(arr.shape, normalize_axes(axis, arr.ndim, func))
    cdt = compute_dtype(dt)
    xc = plan.arrange(arr, cdt)
    direct = (
        out is not None
        and plan.perm is None
        and out.dtype == cdt
        and out.flags.c_contiguous
        and not np.may_share_memory(out, xc)
    )
    if direct:
        assert out is not None
        _lse_core.softmax(xc, (plan.outer, plan.n, plan.inner), t, log, nt, out.reshape(-1))
        return out
    flat = _lse_core.softmax(xc, (plan.outer, plan.n, plan.inner), t, log, nt)
    res = np.ascontiguousarray(plan.restore(flat), dtype=dt)
    if out is not None:
        np.copyto(out, res.reshape(out.shape))
        return out
    return res.reshape(())[()] if scalar_in else res


def _check_out(out: Any, shape: tuple[int, ...], dt: np.dtype[Any], func: str) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dt:
        raise TypeError(f"{func}: out has dtype {out.dtype}, the result has dtype {dt}")
    if out.shape != shape:
        raise ValueError(f"{func}: out has shape {out.shape}, the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{func}: out is read-only")


def softmax(
    x: ArrayLike,
    axis: Axis = -1,
    *,
    temperature: float = 1.0,
    n_threads: int | None = None,
    out: NDArray[Any] | None = None,
) -> Any:
    r"""Softmax with temperature, :math:`e^{x_i/t} / \sum_j e^{x_j/t}`, along ``axis``.

    As :func:`scipy.special.softmax`, but ``axis`` defaults to the last axis (as in PyTorch and JAX;
    pass ``axis=None`` for scipy's default of the whole array) and there is a temperature.
    Computed as :math:`e^{(x_i - M)/t} / \sum_j e^{(x_j - M)/t}` with :math:`M = \max_j x_j`.

    Parameters
    ----------
    x : array_like
        Input; float32 stays float32, bool and integers become float64.
    axis : int or tuple of ints or None, optional
        Axes over which the result sums to one (default ``-1``).
    temperature : float, keyword-only
        :math:`t > 0`, finite. Small ``t`` tends to the one-hot argmax, large ``t`` to uniform.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.
    out : ndarray, keyword-only, optional
        Where to write the result (same shape as ``x``, the result's dtype). Reusing a buffer skips
        the allocation and first-touch page faults of a fresh array, a large part of the cost for big
        inputs. It may be ``x`` itself.

    Returns
    -------
    ndarray
        Same shape as ``x`` (``out`` if given). A slice whose maximum is not finite (NaN, ``+inf``,
        all ``-inf``) is NaN, as in scipy.

    Raises
    ------
    TypeError
        Non-real input, a non-scalar temperature, or ``out`` of the wrong dtype.
    ValueError
        Bad ``axis``, ``temperature`` or ``n_threads``; ``out`` of the wrong shape or read-only.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.softmax(np.array([1.0, 2.0, 3.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    >>> softgrad.softmax(np.array([1.0, 2.0, 3.0]), temperature=10.0).round(3)
    array([0.301, 0.332, 0.367])
    """
    return _softmax(x, axis, temperature, n_threads, False, out)


def log_softmax(
    x: ArrayLike,
    axis: Axis = -1,
    *,
    temperature: float = 1.0,
    n_threads: int | None = None,
    out: NDArray[Any] | None = None,
) -> Any:
    r"""Log of the softmax with temperature, :math:`x_i/t - \log \sum_j e^{x_j/t}`, along ``axis``.

    As :func:`scipy.special.log_softmax` (which it matches, including its special values), with
    ``axis`` defaulting to ``-1`` and a temperature. Accurate where ``log(softmax(x))`` underflows:
    computed as :math:`(x_i - M)/t - \log \sum_j e^{(x_j - M)/t}`.

    Parameters
    ----------
    x : array_like
        Input.
    axis : int or tuple of ints or None, optional
        Axes of the softmax (default ``-1``).
    temperature : float, keyword-only
        :math:`t > 0`, finite.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.
    out : ndarray, keyword-only, optional
        Where to write the result, as in :func:`softmax`.

    Returns
    -------
    ndarray
        Same shape as ``x`` (``out`` if given).

    Raises
    ------
    TypeError, ValueError
        As :func:`softmax`.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    """
    return _softmax(x, axis, temperature, n_threads, True, out)


def smooth_max(
    x: ArrayLike,
    axis: Axis = -1,
    keepdims: bool = False,
    *,
    temperature: float = 1.0,
    n_threads: int | None = None,
) -> Any:
    r"""Smooth maximum :math:`t \log \sum_i e^{x_i/t}` along ``axis``.

    The soft maximum of ultradiscretization (the max-plus limit of the log-semiring): it is convex,
    its gradient is ``softmax(x / t)``, and

    .. math:: \max_i x_i \le \mathrm{smooth\_max}_t(x) \le \max_i x_i + t \log n,

    so it tends to ``max`` as :math:`t \to 0`.

    Parameters
    ----------
    x : array_like
        Input.
    axis : int or tuple of ints or None, optional
        Axes to reduce (default ``-1``).
    keepdims : bool, optional
        Keep reduced axes as size-one dimensions.
    temperature : float, keyword-only
        :math:`t > 0`, finite.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray or scalar

    Raises
    ------
    TypeError, ValueError
        As :func:`logsumexp`.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.smooth_max(np.array([0.0, 1.0, 5.0]), temperature=0.1)
    np.float64(5.0)
    """
    return _lse(x, axis, None, keepdims, False, temperature, n_threads, "smooth_max")


def smooth_min(
    x: ArrayLike,
    axis: Axis = -1,
    keepdims: bool = False,
    *,
    temperature: float = 1.0,
    n_threads: int | None = None,
) -> Any:
    r"""Smooth minimum :math:`-t \log \sum_i e^{-x_i/t}` along ``axis``.

    ``smooth_min(x) = -smooth_max(-x)``, so :math:`\min_i x_i - t \log n \le` ``smooth_min`` :math:`\le
    \min_i x_i`. Parameters, returns and errors as :func:`smooth_max`.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.smooth_min(np.array([0.0, 1.0, 5.0]), temperature=0.1)
    np.float64(-4.5398899216870535e-06)
    """
    arr = float_array(x, "smooth_min", "x")
    return -_lse(-arr, axis, None, keepdims, False, temperature, n_threads, "smooth_min")
