r"""The log-sum-exp reductions and their derivatives: ``logsumexp``, ``smooth_max``, ``smooth_min``.

Kernels: ``rust/softgrad-core/src/relax/logsumexp/`` (values in ``mod.rs``, pullbacks in ``grad.rs``),
bound as ``softgrad._core.logsumexp`` by ``rust/softgrad-py/src/relax/logsumexp.rs``; ``softmax`` and
``log_softmax``, the same family, are in :mod:`softgrad.softmax`. Complex and longdouble input are
computed by NumPy (:mod:`softgrad._numpy_path`, scipy's algorithm). Each op normalises its arguments
once into an :class:`AxisCall`, which the value path and the derivative rules below share.

Derivatives. With :math:`S = \sum_i b_i e^{a_i/t}`, :math:`L = t \log|S|`,
:math:`\sigma = \operatorname{sgn} S` and :math:`e_i = e^{(a_i - L)/t}`:

.. math::
    \frac{\partial L}{\partial a_i} = \sigma b_i e_i =: w_i, \qquad
    \frac{\partial L}{\partial b_i} = \sigma t e_i, \qquad
    \frac{\partial L}{\partial t} = \frac{L - \sum_i w_i a_i}{t}.

Entries at ``-inf`` and entries with zero weight carry zero weight; where ``L = -inf`` every
derivative is zero. The pullbacks run in Rust for every layout. Over unweighted contiguous rows
(``axis=-1``, the ML shape) the forward also computes the pullback's weights :math:`e_i` and the
temperature term of each row while the row is in cache, so the pullback is one scaling pass and the
input is not kept; otherwise the residuals are the forward's per-slice log-sum-exp and a private
copy of the input where it is the caller's memory. The forward-mode rules combine the same kernels
with NumPy reductions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import _numpy_path
from ._array import Array, Axis, AxisCall, cast, scalar
from ._core import logsumexp as _k
from .autodiff import Example, differentiable, rules
from .softmax import X_EXAMPLES

# ---------------------------------------------------------------------------------------------
# values


def _reduce(c: AxisCall, want_sign: bool, lse: Array | None = None) -> tuple[Array, Array | None]:
    out, sgn = _k.logsumexp(c.x, c.b, c.layout, c.t, want_sign, c.n_threads, lse)
    return out, sgn


def _lse_result(c: AxisCall, out: Array, sgn: Array | None) -> Any:
    shape = c.plan.reduced_shape(c.keepdims)
    res = scalar(out.reshape(shape).astype(c.dtype, copy=False))
    if not c.return_sign:
        return res
    assert sgn is not None
    if c.plan.n == 0:
        sgn[:] = -1.0  # scipy's sign of an empty sum (sign(-inf)); an all -inf sum has sign 0
    return res, scalar(sgn.reshape(shape).astype(c.dtype, copy=False))


def _lse_value(c: AxisCall) -> Any:
    if c.numpy_path:
        return _lse_numpy(c)
    out, sgn = _reduce(c, c.return_sign)
    return _lse_result(c, out, sgn)


def _lse_numpy(c: AxisCall) -> Any:
    """Complex and longdouble input, by NumPy (:mod:`softgrad._numpy_path`)."""
    a = c.given.astype(c.dtype, copy=False)
    b = None if c.given_b is None else c.given_b.astype(c.dtype, copy=False)
    out, sgn = _numpy_path.logsumexp(a, b, c.plan.axes, c.t, c.return_sign)
    shape = c.plan.reduced_shape(c.keepdims)
    res = scalar(out.reshape(shape))
    if not c.return_sign:
        return res
    assert sgn is not None
    return res, scalar(sgn.reshape(shape))


# ---------------------------------------------------------------------------------------------
# the ops

_LSE_EXAMPLES = (
    Example({"a": (4, 5)}, {"axis": 1, "temperature": 0.7}),
    Example({"a": (4, 5)}, {"axis": 0, "keepdims": True}),
    Example({"a": (3, 4, 5)}, {"axis": (0, 2), "temperature": 1.5}),
    Example({"a": (3, 4, 5)}, {"axis": (1, 2), "keepdims": True}),
    Example({"a": (7,)}, {}),
    Example({"a": ()}, {"temperature": 2.0}),
    Example({"a": (4, 5), "b": (1, 5)}, {"axis": 0, "temperature": 1.3}, positive=("b",)),
    Example({"a": (5,), "b": (3, 5)}, {"axis": 1}, positive=("b",)),
    Example({"a": (4, 5), "b": (4, 5)}, {"axis": 1, "return_sign": True}, positive=("b",)),
    Example({"a": (3, 600)}, {"axis": 0, "temperature": 0.8}),
    Example({"a": (2, 2100)}, {"axis": 1}),
    Example({"a": (2, 3, 600), "b": (3, 1)}, {"axis": 1}, positive=("b",)),
)


@differentiable(
    params=("a", "b", "temperature"),
    outputs=("out", "sign"),
    nondiff_outputs=("sign",),
    call=lambda a, axis, b, keepdims, return_sign, temperature, n_threads: AxisCall.reduction(
        "logsumexp", a, axis, b, keepdims, return_sign, temperature, n_threads
    ),
    examples=_LSE_EXAMPLES,
)
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
        float64); float16 is computed in float32. complex64/complex128 and longdouble input are
        computed by NumPy in their own dtype (see Notes). The result dtype is NumPy's result type of
        ``a`` and ``b`` (Python scalars weak), float64 where that is bool or integer, as in scipy.
    axis : None or int or tuple of ints, optional
        Axes to reduce over; ``None`` (default) reduces over all of them.
    b : array_like, optional
        Weights ``b`` broadcastable against ``a``; may be negative (or complex). Entries with
        ``b == 0`` are ignored whatever the value of ``a`` there.
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
        Only with ``return_sign``: +1, 0 or -1; for complex input the complex unit :math:`S/|S|`
        (and ``res`` is then real).

    Raises
    ------
    TypeError
        Object, string or datetime input, a masked array with masked entries, a non-integer or
        boolean ``axis``, a non-scalar temperature, non-boolean ``keepdims``/``return_sign``.
    ValueError
        ``b`` not broadcastable, ``axis`` out of range or repeated, ``temperature`` not finite and
        positive, ``n_threads`` outside ``1..=256``.

    Notes
    -----
    Where scipy's result is infinite it recomputes the unshifted sum, which overflows when weights
    cancel at a large maximum (``a = [1000, 1000, 999], b = [1, -1, 1]`` gives NaN in scipy); softgrad
    keeps the shift and returns 999. Infinite and NaN inputs behave as in scipy.

    Complex input follows scipy exactly (a NumPy path, several times slower than the real kernels):
    the principal branch of :math:`t \log \sum_i b_i e^{a_i/t}`, its imaginary part in
    :math:`(-t\pi, t\pi]`. It is not differentiable: :func:`softgrad.vjp` and :func:`softgrad.jvp`
    raise TypeError. longdouble input is computed in longdouble by the same NumPy path (so
    ``np.longdouble`` results carry its precision); under ``vjp``/``jvp`` the value is the longdouble
    one and the derivatives come from the float64 kernels, returned as longdouble.

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
    return _lse_value(
        AxisCall.reduction("logsumexp", a, axis, b, keepdims, return_sign, temperature, n_threads)
    )


@differentiable(
    params=("x", "temperature"),
    call=lambda x, axis, keepdims, temperature, n_threads: AxisCall.reduction(
        "smooth_max", x, axis, None, keepdims, False, temperature, n_threads
    ),
    examples=X_EXAMPLES,
)
def smooth_max(
    x: ArrayLike,
    axis: Axis = -1,
    keepdims: bool = False,
    *,
    temperature: float = 1.0,
    n_threads: int | None = None,
) -> Any:
    r"""Smooth maximum :math:`t \log \sum_i e^{x_i/t}` along ``axis`` (real input only).

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
        As :func:`logsumexp`; complex input is a TypeError (a maximum of complex numbers has no
        meaning).

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.smooth_max(np.array([0.0, 1.0, 5.0]), temperature=0.1)
    np.float64(5.0)
    """
    return _lse_value(
        AxisCall.reduction("smooth_max", x, axis, None, keepdims, False, temperature, n_threads)
    )


@differentiable(
    params=("x", "temperature"),
    call=lambda x, axis, keepdims, temperature, n_threads: AxisCall.reduction(
        "smooth_min", x, axis, None, keepdims, False, temperature, n_threads, negate=True
    ),
    examples=X_EXAMPLES,
)
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
    >>> softgrad.smooth_min(np.array([0.0, 1.0, 5.0]), temperature=0.1).round(12)
    np.float64(-4.53989e-06)
    """
    c = AxisCall.reduction("smooth_min", x, axis, None, keepdims, False, temperature, n_threads, negate=True)
    return -_lse_value(c)


# ---------------------------------------------------------------------------------------------
# reverse mode: the reductions keep private inputs and the per-slice log-sum-exp, softmax and
# log_softmax their output; the pullbacks are the Rust kernels.

_LseResiduals = tuple[AxisCall, Array, Array | None]


class _Weights(NamedTuple):
    """Residuals of unweighted rows: the call (for shapes only: its input is never read again), the
    pullback's weights ``p = e^{(a - L)/t}`` and per-row temperature terms ``h``
    (``_core.logsumexp_weights``)."""

    c: AxisCall
    p: Array
    h: Array


def _lse_forward(c: AxisCall) -> tuple[Any, _LseResiduals | _Weights]:
    """Value and residuals of a reduction.

    Unweighted contiguous rows (``inner == 1``): the forward also computes the pullback's weights
    while each row is in cache, so the pullback is one scaling pass and no copy of the input is
    kept. Otherwise ``(call with private inputs, lse, sign)``. longdouble input: the value in
    longdouble (NumPy), the residuals (so the derivatives) in float64.
    """
    c.require_real("vjp")
    if c.b is None and c.plan.inner == 1 and c.plan.n > 0:
        out, sgn, p, h = _k.logsumexp_weights(c.x, c.layout, c.t, c.return_sign, c.n_threads)
        return (_lse_numpy(c) if c.numpy_path else _lse_result(c, out, sgn)), _Weights(c, p, h)
    c = c.private_inputs()
    lse = np.empty(c.lanes)
    # Weighted sums keep their sign: the derivatives of a negative sum are those of log|S|.
    want_sign = c.return_sign or c.b is not None
    out, sgn = _reduce(c, want_sign, lse)
    sign_res = None if sgn is None else sgn.copy()
    if want_sign and not c.return_sign:
        assert sgn is not None
        out[sgn < 0] = np.nan
    value = _lse_numpy(c) if c.numpy_path else _lse_result(c, out, sgn)
    return value, (c, lse, sign_res)


def _lse_pullback(res: _LseResiduals | _Weights, ct: Any) -> tuple[Any, Any, Any]:
    ctf = np.ascontiguousarray(np.asarray(ct, dtype=np.float64).reshape(-1))
    if isinstance(res, _Weights):
        c, p, h = res
        da, dt = _k.logsumexp_vjp_weights(p, h, ctf, c.layout, c.t, c.n_threads)
        return c.from_layout(da, c.a_shape, c.a_dtype), None, cast(dt, c.dtype)
    c, lse, sgn = res
    da, db, dt = _k.logsumexp_vjp(c.x, c.b, lse, sgn, ctf, c.layout, c.t, c.n_threads)
    ga = c.from_layout(da, c.a_shape, c.a_dtype)
    gb = None
    if db is not None and c.b_shape is not None and c.b_dtype is not None:
        gb = c.from_layout(db, c.b_shape, c.b_dtype)
    return ga, gb, cast(dt, c.dtype)


rules(logsumexp).fwd(_lse_forward)
rules(logsumexp).bwd(_lse_pullback)
rules(smooth_max).fwd(_lse_forward)


@rules(smooth_max).bwd
def _smooth_max_bwd(res: _LseResiduals | _Weights, ct: Any) -> tuple[Any, Any]:
    da, _, dt = _lse_pullback(res, ct)
    return da, dt


@rules(smooth_min).fwd
def _smooth_min_fwd(c: AxisCall) -> tuple[Any, _LseResiduals | _Weights]:
    value, res = _lse_forward(c)
    return -value, res


@rules(smooth_min).bwd
def _smooth_min_bwd(res: _LseResiduals | _Weights, ct: Any) -> tuple[Any, Any]:
    # smooth_min(x, t) = -L(-x, t): d/dx = dL/da, d/dt = -dL/dt.
    da, _, dt = _lse_pullback(res, ct)
    return da, -dt


# ---------------------------------------------------------------------------------------------
# forward mode


def _lse_tangent(c: AxisCall, tangents: dict[str, Any]) -> Array:
    """``Σ_p dL/dp · tangent_p`` per lane, shaped ``(outer, inner)``, in float64."""
    c.require_real("jvp")
    c64 = c.as_float64().private_inputs()
    lse = np.empty(c64.lanes)
    want_sign = c64.b is not None
    _, sgn = _reduce(c64, want_sign, lse)
    # The pullback of unit cotangents gives the weights dL/da and dL/db element by element.
    w, wb, _ = _k.logsumexp_vjp(c64.x, c64.b, lse, sgn, np.ones(c64.lanes), c64.layout, c64.t, c64.n_threads)
    W = c64.lanes3(w)
    tan = np.zeros((c.plan.outer, c.plan.inner))
    if "a" in tangents:
        tan += np.einsum("onk,onk->ok", W, c64.lanes3(c64.arranged(tangents["a"], c.a_shape, np.float64)))
    if "b" in tangents and wb is not None and c.b_shape is not None:
        db = c64.lanes3(c64.arranged(tangents["b"], c.b_shape, np.float64))
        tan += np.einsum("onk,onk->ok", c64.lanes3(wb), db)
    if "temperature" in tangents:
        X = c64.lanes3(c64.x)
        with np.errstate(invalid="ignore"):
            wa = np.where(W == 0, 0.0, W * X).sum(axis=1)
        L = lse.reshape(c.plan.outer, c.plan.inner)
        empty = ~(L > -np.inf) if sgn is None else (sgn.reshape(L.shape) == 0) | (L == -np.inf)
        with np.errstate(invalid="ignore"):
            dldt = np.where(empty, 0.0, (L - wa) / c.t)
        tan += dldt * float(tangents["temperature"])
    return tan


@rules(logsumexp).jvp
def _lse_jvp(c: AxisCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    value = _lse_value(c)
    shape = c.plan.reduced_shape(c.keepdims)
    tout = scalar(_lse_tangent(c, tangents).reshape(shape).astype(c.dtype))
    if c.return_sign:
        return value, (tout, cast(np.zeros(shape), c.dtype))
    return value, tout


@rules(smooth_max).jvp
def _smooth_max_jvp(c: AxisCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    named = {("a" if k == "x" else k): v for k, v in tangents.items()}
    shape = c.plan.reduced_shape(c.keepdims)
    return _lse_value(c), scalar(_lse_tangent(c, named).reshape(shape).astype(c.dtype))


@rules(smooth_min).jvp
def _smooth_min_jvp(c: AxisCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    # smooth_min(x, t) = -L(-x, t): the tangent of x enters negated, and the result is negated.
    named = {("a" if k == "x" else k): (-np.asarray(v) if k == "x" else v) for k, v in tangents.items()}
    shape = c.plan.reduced_shape(c.keepdims)
    return -_lse_value(c), scalar(-_lse_tangent(c, named).reshape(shape).astype(c.dtype))
