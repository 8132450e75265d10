r"""Derivatives of black boxes by finite differences: :func:`gradient` and :func:`jacobian`.

Points and weights: ``rust/softgrad-core/src/estimate/fd.rs`` (Fornberg's weights and the step rule
in ``fd/stencil.rs``, the Richardson tableau in ``fd/richardson.rs``), bound as
``softgrad._core.fd`` by ``rust/softgrad-py/src/estimate/fd.rs``. Rust builds the evaluation points
and assembles the estimate; this module calls ``f`` and checks what it returns.

For coordinate :math:`i` with step :math:`h_i` and a stencil of nodes :math:`c_k` (in units of the
step) and weights :math:`w_k`,

.. math::
    \frac{\partial f}{\partial x_i}(x) \approx \sum_k w_k\, f(x + c_k h_i e_i),

where the weights are computed by Fornberg's algorithm on the nodes *as rounded to the dtype of x*,
so the rounding of :math:`x + c_k h` never biases the estimate. The stencils of accuracy order
:math:`p` are: central, nodes :math:`\pm 1, \dots, \pm p/2` (:math:`p` evaluations, :math:`f(x)`
not needed); forward, nodes :math:`0, 1, \dots, p`; backward, nodes :math:`0, -1, \dots, -p`. The
automatic step :math:`h_i = r^{1/(p+1)} \max(1, |x_i|)`, with :math:`r = \max(\epsilon, \text{noise})`,
balances truncation (:math:`\propto h^p`) and rounding (:math:`\propto r/h`) errors; for
:math:`p = 1` and :math:`p = 2` it is scipy's rule (``approx_derivative``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._core import fd as _k
from ._fd_eval import _Eval, _noise
from ._params import _plain, scalar_param

__all__ = ["Estimate", "gradient", "jacobian"]

METHODS = ("forward", "backward", "central", "complex", "richardson")
_DEFAULT_ORDER = {"forward": 1, "backward": 1, "central": 2, "complex": 2, "richardson": 2}
# Points generated and evaluated per batch when f takes one point at a time (bounds the memory of
# the points, not the number of calls).
_SCALAR_BATCH_BYTES = 1 << 22


@dataclass(frozen=True)
class Estimate:
    """The full output of :func:`gradient` and :func:`jacobian` (``full_output=True``).

    Attributes
    ----------
    grad : ndarray or None
        The gradient (shape of ``x``), from :func:`gradient`; ``None`` from :func:`jacobian`.
    jac : ndarray or None
        The Jacobian (shape ``f(x).shape + x.shape``), from :func:`jacobian`; ``None`` from
        :func:`gradient`.
    error : ndarray
        An estimate of the absolute error of each entry (float64, the shape of the result). For
        ``"richardson"``: Ridders' estimate from the extrapolation tableau (never below the
        amplified rounding error). For the other methods: the rounding error
        ``max(eps * |f|, noise) * sum |w|`` of the stencil (``eps * |d|`` for the complex step);
        with the automatic step the truncation error, which is not estimated, is of the same order.
    nfev : int
        Number of points at which ``f`` was evaluated (with ``vectorized=True`` a call evaluates
        several).
    step : ndarray
        The step taken in each coordinate (float64, shape of ``x``; for ``"richardson"`` the
        largest), after shrinking to fit ``bounds``.
    method : str
        The method used.
    noise : float
        The noise of f the step rule assumed: ``noise`` as given, the estimate with
        ``noise='estimate'``, else 0 (rounding only).
    """

    grad: NDArray[Any] | None
    jac: NDArray[Any] | None
    error: NDArray[np.float64]
    nfev: int
    step: NDArray[np.float64]
    method: str
    noise: float = 0.0


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
    f: Callable[..., Any],
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
) -> tuple[NDArray[Any], NDArray[Any], int, NDArray[Any], float]:
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
    xf = np.ascontiguousarray(xa).ravel()
    lower, upper = _bounds_param(bounds, shape, func)
    steps_given = _step_param(step, shape, func)
    plan = _k.Plan(xf, method, order, steps_given, lower, upper, noise, n_steps, func)  # checks all
    n, npts, cplx = xf.size, plan.n_points, method == "complex"
    ev = _Eval(f, shape, func, func == "jacobian", cplx)
    if estimate_noise:
        nev = _Eval(f, shape, func, func == "jacobian", False)
        noise = _noise(nev, xf, dt, lower, upper, bool(vectorized), func)
        ev.nfev = nev.nfev
        plan = _k.Plan(xf, method, order, steps_given, lower, upper, noise, n_steps, func)
    steps = plan.steps
    per = npts // n if n else 1

    def where(q: int) -> str:
        i = q // per
        return f"evaluation point {q} (of {npts}: coordinate {i} moved by about {steps[i]:.3g})"

    f0 = None
    if plan.needs_center or (ev.out_shape is None and npts == 0):
        x0 = xf.copy()
        if cplx:
            x0 = x0.astype(np.result_type(dt, np.complex64))
        f0 = ev.batch(x0[None], lambda _: "x") if vectorized else ev.one(x0, 0, lambda _: "x")
        f0 = np.asarray(f0, dtype=np.float64).reshape(-1)
    if vectorized:
        size = npts if batch_size is None else int(batch_size)
    else:
        size = max(1, _SCALAR_BATCH_BYTES // max(1, n * dt.itemsize))
    chunks: list[Any] = []
    pending: list[tuple[int, NDArray[Any]]] = []  # (first point, points) for the executor
    for start in range(0, npts, max(size, 1)):
        stop = min(npts, start + size)
        pts = plan.points(start, stop).reshape(stop - start, n)
        if cplx:  # point q moves coordinate q by i h_q
            pts = pts.astype(np.result_type(dt, np.complex64))
            q = np.arange(start, stop)
            pts[q - start, q] += 1j * steps[q]
        if executor is not None:
            pending.append((start, pts))
        elif vectorized:
            chunks.append(ev.batch(pts, where, start))
        else:
            chunks.extend(ev.one(p, start + r, where) for r, p in enumerate(pts))
    if executor is not None and vectorized:
        args = [p.reshape((len(p), *shape)) for _, p in pending]
        firsts = [s for s, _ in pending]
        for (s, p), v in zip(pending, ev.mapped(executor, args, firsts, where), strict=True):
            chunks.append(ev.check_batch(v, len(p), where, s))
    elif executor is not None:
        args = [p.reshape(shape) for _, pts in pending for p in pts]
        firsts = list(range(len(args)))
        for qi, v in enumerate(ev.mapped(executor, args, firsts, where)):
            chunks.append(ev.check_one(v, qi, where))
    out_shape = ev.out_shape if ev.out_shape is not None else ()
    m = math.prod(out_shape)
    if not chunks:
        values = np.zeros(0)
    elif vectorized or ev.jac:
        values = np.concatenate(chunks).reshape(-1)
    else:
        values = np.array(chunks, dtype=np.float64)
    jac, err = plan.assemble(values, m, f0)
    full = (*out_shape, *shape)
    return jac.reshape(full).astype(dt, copy=False), err.reshape(full), ev.nfev, steps.reshape(shape), noise


_PARAMS_DOC = """\
    method : {'central', 'forward', 'backward', 'complex', 'richardson'}, optional
        The estimator. ``'central'`` (default): central differences of accuracy order ``order``
        (2, 4, 6 or 8), ``order`` evaluations per coordinate. ``'forward'`` / ``'backward'``:
        one-sided differences of order ``order`` (1 to 8, default 1), ``order`` evaluations per
        coordinate plus one at ``x``. ``'complex'``: the complex step :math:`\\operatorname{Im}
        f(x + i h e_j) / h` (f must accept complex input and propagate it analytically), one
        evaluation per coordinate and accurate to rounding. ``'richardson'``: central differences of
        order ``order`` at ``n_steps`` steps :math:`h, h/2, h/4, \\dots` extrapolated to zero step
        (Ridders' method), ``order * n_steps`` evaluations per coordinate, with an error estimate.
    order : int, optional
        Accuracy order of the stencil (of the base stencil for ``'richardson'``): the error is
        :math:`O(h^{order})`; a stencil of order ``p`` is exact on polynomials of degree ``<= p``
        (up to rounding).
    step : float or array_like, optional
        Absolute step, one for all coordinates or one per coordinate (x's shape), positive. Default:
        the automatic rule :math:`r^{1/(q+1)} \\max(1, |x_i|)` with :math:`r = \\max(\\epsilon,`
        ``noise``:math:`)` (:math:`\\epsilon` of x's dtype) and ``q`` the accuracy order (for
        ``'richardson'``, of the fully extrapolated estimate, which makes the first step large);
        :math:`\\epsilon \\max(1, |x_i|)` for ``'complex'``.
    bounds : (lower, upper), optional
        Every evaluation stays in ``lower <= x <= upper`` (scalars or arrays broadcastable to x's
        shape; ``±inf`` for none). Where the stencil does not fit, a one-sided stencil of the same
        order on the side with room is used, and where neither fits the step shrinks.
    noise : float or 'estimate', optional
        The absolute noise of f's values; raises the automatic step (J. J. Moré and S. M. Wild,
        2012) and the error estimate. The rule assumes f and its derivatives of order 1 at the
        scale of x. ``'estimate'``: measured first by Moré and Wild's ECnoise (2011) from 9 values
        of f on a line through x (9 evaluations per try, at most 4 tries); see ``Estimate.noise``.
    n_steps : int, optional
        Steps in the Richardson tableau (2 to 16, default 6); ignored by the other methods.
    vectorized : bool, optional
        If true, ``f`` takes a batch ``X`` of shape ``(k, *x.shape)`` (``(k, n)`` for a vector x) and
        returns the ``k`` results stacked along the first axis.
    batch_size : int, optional
        With ``vectorized``, at most this many points per call (default: all in one call).
    executor : concurrent.futures.Executor, optional
        Spread the evaluations over it (``executor.map``: a thread or process pool, or any
        ``Executor``; ``f`` must be picklable for processes): one point per task, or with
        ``vectorized`` one batch of ``batch_size`` points per task (set ``batch_size``, else the
        whole estimate is one task). ``f(x)``, when needed, is evaluated in the caller's thread.
        The estimate is identical to the serial one.
    full_output : bool, optional
        Return an :class:`Estimate` (value, error estimate, ``nfev``, steps) instead of the array."""

_RAISES_DOC = """\
    Raises
    ------
    TypeError
        ``x`` is not a real float array (complex, object, float16 and longdouble are refused; bool
        and integers become float64), ``f`` is not callable, or an int parameter is not an int.
    ValueError
        A bad ``method``, ``order``, ``step``, ``bounds`` (excluding ``x``, or empty), ``noise``,
        ``n_steps`` or ``batch_size`` (the message names it); ``x`` not finite; ``f`` returning a
        value of the wrong shape, not a number, NaN or infinite, or (for ``'complex'``) a real value
        (the message names the evaluation point).
    Exception
        Whatever ``f`` raises propagates unchanged (with a note naming the evaluation point, on
        Python 3.11+). The caller's ``x`` is never modified: ``f`` receives fresh arrays."""


def gradient(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    method: str = "central",
    order: int | None = None,
    step: ArrayLike | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    noise: float | None = None,
    n_steps: int = 6,
    vectorized: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
    full_output: bool = False,
    **zo: Any,
) -> Any:
    """Gradient of a scalar function ``f`` at ``x`` from values of ``f`` only.

        Parameters
        ----------
        f : callable
            ``f(x) -> float`` for a point of x's shape and dtype (a real scalar: a float, a NumPy
            scalar or a 0-d array); with ``vectorized=True``, ``f(X) -> (k,)``.
        x : array_like
            The point, float32 or float64, any shape. The result has its shape and dtype.
    {params}
        **zo
            The randomized methods ``'spsa'``, ``'gaussian'``, ``'sphere'``, ``'coordinate'`` and their
            options ``n_samples``, ``antithetic``, ``sides`` / ``two_sided``, ``seed``, ``mask``,
            ``n_threads``: see :mod:`softgrad.zo` (result: :class:`softgrad.zo.ZOEstimate`).

        Returns
        -------
        grad : ndarray or Estimate
            The gradient (x's shape and dtype), or with ``full_output`` an :class:`Estimate` whose
            ``.grad`` it is.

    {raises}

        See Also
        --------
        jacobian : the same for vector-valued ``f``.
        scipy.optimize.approx_fprime, scipy.differentiate.derivative : the peers.

        Notes
        -----
        Evaluations: ``order * n`` for ``'central'``, ``order * n + 1`` for the one-sided methods,
        ``n`` for ``'complex'`` and ``order * n_steps * n`` for ``'richardson'`` (plus one at ``x`` if
        ``bounds`` force a one-sided stencil somewhere). With the automatic step, the relative error of
        central differences of order 2 is about :math:`\\epsilon^{{2/3}}` (``1e-10`` in float64), of
        forward differences :math:`\\epsilon^{{1/2}}`, of the complex step :math:`\\epsilon`.

        Differences from scipy's ``approx_derivative``: the step is positive (scipy's follows the sign
        of ``x``), the weights are computed on the nodes as rounded (so central differences can differ
        from scipy's in the last bits), and stencils of order above 2 are available.

        References
        ----------
        B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced grids", Math. Comp.
        51 (1988). C. J. F. Ridders, "Accurate computation of F'(x) and F'(x)F''(x)", Adv. Eng. Software
        4 (1982). J. R. R. A. Martins, P. Sturdza and J. J. Alonso, "The complex-step derivative
        approximation", ACM TOMS 29 (2003).

        Examples
        --------
        >>> import numpy as np, softgrad
        >>> def rosen(x):
        ...     return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
        >>> x = np.array([0.5, -0.3, 1.2])
        >>> g = softgrad.gradient(rosen, x)
        >>> np.round(g, 6)
        array([109. ,  20.6, 222. ])
        >>> r = softgrad.gradient(rosen, x, method="richardson", full_output=True)
        >>> bool(np.all(r.error < 1e-8)), r.nfev
        (True, 36)
        >>> softgrad.gradient(lambda X: np.sin(X).sum(axis=1), x, vectorized=True, order=4).dtype
        dtype('float64')
        >>> softgrad.gradient(lambda z: np.exp(z).sum(), np.float32([0.0, 1.0]), method="complex")
        array([1.       , 2.7182817], dtype=float32)
    """
    if method in ("spsa", "gaussian", "sphere", "coordinate") or zo:  # randomized: softgrad.zo
        from .zo import _gradient as _zo

        args = dict(order=order, bounds=bounds, noise=noise, vectorized=vectorized, batch_size=batch_size)
        return _zo(f, x, method=method, step=step, executor=executor, full_output=full_output, **args, **zo)
    g, err, nfev, steps, used = _estimate(
        "gradient", f, x, method, order, step, bounds, noise, n_steps, vectorized, batch_size, executor
    )
    if not full_output:
        return g
    return Estimate(grad=g, jac=None, error=err, nfev=nfev, step=steps, method=method, noise=used)


def jacobian(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    method: str = "central",
    order: int | None = None,
    step: ArrayLike | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    noise: float | None = None,
    n_steps: int = 6,
    vectorized: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
    full_output: bool = False,
) -> Any:
    """Dense Jacobian of ``f`` at ``x`` from values of ``f`` only.

        Parameters
        ----------
        f : callable
            ``f(x) -> array`` of a fixed shape (``out_shape``; a scalar counts, ``()``) for a point of
            x's shape and dtype; with ``vectorized=True``, ``f(X) -> (k, *out_shape)``.
        x : array_like
            The point, float32 or float64, any shape.
    {params}

        Returns
        -------
        jac : ndarray or Estimate
            The Jacobian, shape ``out_shape + x.shape`` (``(m, n)`` for vectors, as scipy's
            ``approx_derivative``), x's dtype: ``jac[j, i] = d f_j / d x_i``. With ``full_output`` an
            :class:`Estimate` whose ``.jac`` it is.

    {raises}

        See Also
        --------
        gradient : the same for scalar ``f``.
        scipy.optimize.approx_derivative : the peer.

        Notes
        -----
        One evaluation of ``f`` serves every output, so the counts are those of :func:`gradient`.

        Examples
        --------
        >>> import numpy as np, softgrad
        >>> def polar(p):
        ...     return np.array([p[0] * np.cos(p[1]), p[0] * np.sin(p[1])])
        >>> J = softgrad.jacobian(polar, np.array([2.0, 0.0]))
        >>> np.round(J, 8)
        array([[1., 0.],
               [0., 2.]])
        >>> softgrad.jacobian(polar, np.array([2.0, 0.0]), method="complex").shape
        (2, 2)
    """
    j, err, nfev, steps, used = _estimate(
        "jacobian", f, x, method, order, step, bounds, noise, n_steps, vectorized, batch_size, executor
    )
    if not full_output:
        return j
    return Estimate(grad=None, jac=j, error=err, nfev=nfev, step=steps, method=method, noise=used)


assert gradient.__doc__ is not None and jacobian.__doc__ is not None
gradient.__doc__ = gradient.__doc__.format(params=_PARAMS_DOC, raises=_RAISES_DOC)
jacobian.__doc__ = jacobian.__doc__.format(params=_PARAMS_DOC, raises=_RAISES_DOC)
