r"""Softmax and log-softmax with temperature, and their derivatives.

Kernels: ``rust/softgrad-core/src/relax/logsumexp/softmax.rs`` (values) and ``grad.rs`` (pullbacks),
bound as ``softgrad._core.logsumexp`` by ``rust/softgrad-py/src/relax/logsumexp.rs``: the log-sum-exp
family, whose reductions are in :mod:`softgrad.logsumexp`. Complex and longdouble input are computed
by NumPy (:mod:`softgrad._numpy_path`, scipy's formulas).

Derivatives. For :math:`y = \operatorname{softmax}(x/t)` and
:math:`P_y(v) = y \odot (v - \langle y, v\rangle)`: :math:`\bar x = P_y(\bar y)/t`,
:math:`\bar t = -\langle \bar y, P_y(x)\rangle / t^2 = -\langle P_y(\bar y), \log y\rangle / t`; for
:math:`z = \operatorname{log\_softmax}(x/t)`: :math:`\bar x = (\bar z - y \langle 1, \bar z\rangle)/t`,
:math:`\bar t = -\langle \bar z, z - \langle y, z\rangle\rangle / t` over the entries that are not
``-inf``. So the pullbacks (Rust, every layout) need only the forward's output, which ``vjp`` keeps
(read-only) instead of the input; the forward-mode rules combine the Rust softmax with NumPy
reductions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _numpy_path
from ._array import Array, Axis, AxisCall, cast
from ._core import logsumexp as _k
from .autodiff import Example, differentiable, rules

# ---------------------------------------------------------------------------------------------
# values


def _softmax_value(c: AxisCall, lse: Array | None = None) -> Any:
    log = c.func == "log_softmax"
    if c.numpy_path:
        return _softmax_numpy(c)
    out = c.out
    direct = (
        out is not None
        and c.plan.perm is None
        and out.dtype == c.x.dtype
        and out.flags.c_contiguous
        and not np.may_share_memory(out, c.x)
    )
    if direct:
        assert out is not None
        _k.softmax(c.x, c.layout, c.t, log, c.n_threads, out.reshape(-1), lse)
        return out
    flat = _k.softmax(c.x, c.layout, c.t, log, c.n_threads, None, lse)
    res = np.ascontiguousarray(c.plan.restore(flat), dtype=c.dtype)
    if out is not None:
        np.copyto(out, res.reshape(out.shape))
        return out
    return res.reshape(())[()] if c.scalar_in else res


def _softmax_numpy(c: AxisCall) -> Any:
    """Complex and longdouble input, by NumPy (:mod:`softgrad._numpy_path`)."""
    x = c.given.astype(c.dtype, copy=False)
    res = _numpy_path.softmax(x, c.plan.axes, c.t, c.func == "log_softmax")
    if c.out is not None:
        np.copyto(c.out, res.reshape(c.out.shape))
        return c.out
    return res.reshape(())[()] if c.scalar_in else res


# ---------------------------------------------------------------------------------------------
# the ops

X_EXAMPLES = (
    Example({"x": (4, 5)}, {"axis": -1, "temperature": 0.7}),
    Example({"x": (4, 5)}, {"axis": 0}),
    Example({"x": (3, 4, 5)}, {"axis": (0, 2), "temperature": 1.5}),
    Example({"x": (3, 4, 5)}, {"axis": None}),
    Example({"x": (7,)}, {}),
    Example({"x": (2, 3, 600)}, {"axis": 1, "temperature": 0.8}),
    Example({"x": (2, 2100)}, {"axis": -1}),
)


@differentiable(
    params=("x", "temperature"),
    call=lambda x, axis, temperature, n_threads, out: AxisCall.softmax(
        "softmax", x, axis, temperature, n_threads, out
    ),
    examples=X_EXAMPLES,
)
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
        Input; float32 stays float32, bool and integers become float64. complex and longdouble
        input are computed by NumPy in their own dtype, as scipy does (not differentiable if
        complex; see :func:`softgrad.logsumexp`).
    axis : int or tuple of ints or None, optional
        Axes over which the result sums to one (default ``-1``).
    temperature : float, keyword-only
        :math:`t > 0`, finite. Small ``t`` tends to the one-hot argmax, large ``t`` to uniform.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.
    out : ndarray, keyword-only, optional
        Where to write the result (same shape as ``x``, the result's dtype). Reusing a buffer skips
        the allocation and first-touch page faults of a fresh array, a large part of the cost for big
        inputs. It may be ``x`` itself. If the call fails or is interrupted, ``out`` may be partly
        written.

    Returns
    -------
    ndarray
        Same shape as ``x`` (``out`` if given). A slice whose maximum is not finite (NaN, ``+inf``,
        all ``-inf``) is NaN, as in scipy.

    Raises
    ------
    TypeError
        Non-numeric input (object, string, datetime), a masked array with masked entries, a
        boolean or non-integer ``axis``, a non-scalar temperature, ``out`` not an ndarray (a masked
        array) or of the wrong dtype.
    ValueError
        Bad ``axis``, ``temperature`` or ``n_threads``; ``out`` of the wrong shape or read-only, or
        in use by a call on another thread.

    Notes
    -----
    Under :func:`softgrad.vjp` the pullback works from the output alone (the input is neither
    copied nor read again): :math:`\bar x = y \odot (g - \langle y, g\rangle)/t`. So the output
    of ``vjp`` is read-only: the pullback keeps it; copy it to change it (as JAX arrays are
    immutable). A plain call returns a writeable array; with ``out=``, ``out`` is written and the
    pullback keeps a private copy.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.softmax(np.array([1.0, 2.0, 3.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    >>> softgrad.softmax(np.array([1.0, 2.0, 3.0]), temperature=10.0).round(3)
    array([0.301, 0.332, 0.367])
    """
    return _softmax_value(AxisCall.softmax("softmax", x, axis, temperature, n_threads, out))


@differentiable(
    params=("x", "temperature"),
    call=lambda x, axis, temperature, n_threads, out: AxisCall.softmax(
        "log_softmax", x, axis, temperature, n_threads, out
    ),
    examples=X_EXAMPLES,
)
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

    Notes
    -----
    As for :func:`softmax`, the pullback of :func:`softgrad.vjp` works from the output, so the
    output of ``vjp`` is read-only: the pullback keeps it; copy it to change it.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    """
    return _softmax_value(AxisCall.softmax("log_softmax", x, axis, temperature, n_threads, out))


# ---------------------------------------------------------------------------------------------
# reverse mode: the pullbacks work from the forward's output

_SoftmaxResiduals = tuple[AxisCall, Array]


def _softmax_forward(c: AxisCall) -> tuple[Any, _SoftmaxResiduals]:
    """Value and residuals ``(call, output)``: the pullback works from the output alone (flat, in the
    plan's layout and the compute dtype), so the input is never copied or read again.

    The output array must stay as it is: when the value handed to the caller is a view of it, it is
    made read-only first (the output of ``vjp`` is read-only, as JAX arrays are immutable); with
    ``out=`` the caller's array gets a copy and the residual stays private.
    """
    c.require_real("vjp")
    log = c.func == "log_softmax"
    flat = _k.softmax(c.x, c.layout, c.t, log, c.n_threads, None, None)
    if c.numpy_path:  # longdouble: the value in longdouble, the residual (so the pullback) in float64
        return _softmax_numpy(c), (c, flat)
    if c.out is None and c.plan.perm is None and flat.dtype == c.dtype:
        flat.flags.writeable = False  # before any view of it exists: views inherit the flag
    res = np.ascontiguousarray(c.plan.restore(flat), dtype=c.dtype)
    if c.out is not None:
        np.copyto(c.out, res.reshape(c.out.shape))
        return c.out, (c, flat)
    return (res.reshape(())[()] if c.scalar_in else res), (c, flat)


def _softmax_pullback(res: _SoftmaxResiduals, ct: Any) -> tuple[Any, Any]:
    c, y = res
    g = c.arranged(ct, c.a_shape, y.dtype)
    dx, dt = _k.softmax_vjp(y, g, c.layout, c.t, c.func == "log_softmax", c.n_threads)
    return c.from_layout(dx, c.a_shape, c.a_dtype), cast(dt, c.dtype)


for _op in (softmax, log_softmax):
    rules(_op).fwd(_softmax_forward)
    rules(_op).bwd(_softmax_pullback)


# ---------------------------------------------------------------------------------------------
# forward mode


def _softmax_jvp(c: AxisCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    c.require_real("jvp")
    log = c.func == "log_softmax"
    value = _softmax_value(c)
    c64 = c.as_float64()
    shape3 = c.layout
    y = _k.softmax(c64.x, c64.layout, c64.t, False, c64.n_threads).reshape(shape3)
    X = c64.lanes3(c64.x)
    tan = np.zeros(shape3)
    if "x" in tangents:
        D = c64.lanes3(c64.arranged(tangents["x"], c.a_shape, np.float64))
        proj = D - np.sum(y * D, axis=1, keepdims=True)
        tan += (y * proj if not log else proj) / c.t
    if "temperature" in tangents:
        with np.errstate(invalid="ignore"):
            xs = np.where(y == 0, 0.0, X)
            mean = np.sum(y * xs, axis=1, keepdims=True)
            centred = y * (xs - mean) if not log else np.where(np.isneginf(X), 0.0, X - mean)
        tan -= float(tangents["temperature"]) * centred / c.t**2
    full = c.plan.restore(tan.reshape(-1)).astype(c.dtype)
    return value, (full.reshape(()) if c.scalar_in else full)


for _op in (softmax, log_softmax):
    rules(_op).jvp(_softmax_jvp)
del _op
