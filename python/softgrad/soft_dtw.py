r"""Soft-DTW: a differentiable dynamic time warping discrepancy between time series.

Kernels: ``rust/softgrad-core/src/relax/soft_dtw/`` (``kernel.rs``: the forward and backward
recursions in SIMD lanes), bound as ``softgrad._core.soft_dtw`` by
``rust/softgrad-py/src/relax/soft_dtw.rs``.

For series :math:`x \in \mathbb{R}^{n \times d}`, :math:`y \in \mathbb{R}^{m \times d}` and
:math:`\gamma > 0`, with :math:`C_{ij} = \lVert x_i - y_j \rVert^2`, Cuturi & Blondel (2017) define

.. math:: R_{ij} = C_{ij} + \operatorname{softmin}_\gamma(R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1}),
   \qquad \operatorname{softmin}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma},

with :math:`R_{00} = 0` and :math:`R_{i0} = R_{0j} = +\infty`; ``soft_dtw(x, y) = R_{nm}``. As
:math:`\gamma \to 0` it is the DTW distance (with squared Euclidean costs).

Derivatives. The gradient is :math:`\partial R_{nm} / \partial C = E`, the expected alignment,
computed by the backward recursion of the paper from the forward table (kept in Rust as the
residual): :math:`O(nm)` time and memory per pair, never a dense Jacobian.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._array import Array, compute_dtype, float_array, result_dtype, scalar_param, threads_param
from ._core import soft_dtw as _k
from .autodiff import Example, differentiable, rules

_METRICS = ("sqeuclidean",)


def _is_list_of_series(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and any(np.ndim(e) >= 1 for e in v)


def _series(v: Any, func: str, name: str) -> Array:
    a = float_array(v, func, name)
    if a.ndim not in (1, 2):
        raise ValueError(f"{func}: each series in {name} must have shape (n,) or (n, d), got {a.shape}")
    return a


@dataclass(frozen=True, eq=False)
class DtwCall:
    """One call of ``soft_dtw``, its arguments normalised once: the pairs as flat C-contiguous
    arrays of the compute dtype and their lengths. ``x``/``y`` may be the caller's own buffers;
    the residuals are Rust's (private copies), so the rules never keep them."""

    func: str
    x: Array
    y: Array
    n: Array  # int64, one per pair
    m: Array
    d: int
    gamma: float
    n_threads: int | None
    dtype: np.dtype[Any]  # of the values
    x_dtype: np.dtype[Any]  # of the x cotangent
    y_dtype: np.dtype[Any]
    out_shape: tuple[int, ...]  # () for one pair, (pairs,) else
    x_shapes: tuple[tuple[int, ...], ...] | None  # per series for a list, else None
    y_shapes: tuple[tuple[int, ...], ...] | None
    x_shape: tuple[int, ...]  # of the array x (unused for lists)
    y_shape: tuple[int, ...]

    @classmethod
    def of(cls, func: str, x: Any, y: Any, gamma: Any, metric: Any, n_threads: Any) -> DtwCall:
        g = scalar_param(gamma, func, "gamma")
        if not (math.isfinite(g) and g > 0):
            raise ValueError(f"{func}: gamma must be finite and > 0, got {gamma!r}")
        if not isinstance(metric, str) or metric not in _METRICS:
            raise ValueError(f"{func}: metric must be 'sqeuclidean', got {metric!r}")
        nt = threads_param(n_threads, func)
        if _is_list_of_series(x) or _is_list_of_series(y):
            return cls._of_lists(func, x, y, g, nt)
        xa, ya = float_array(x, func, "x"), float_array(y, func, "y")
        if xa.ndim != ya.ndim or xa.ndim not in (1, 2, 3):
            raise ValueError(
                f"{func}: x and y must both have shape (n,), (n, d) or (batch, n, d), "
                f"got {xa.shape} and {ya.shape}"
            )
        if xa.ndim >= 2 and xa.shape[-1] != ya.shape[-1]:
            raise ValueError(
                f"{func}: x and y must have the same number of features, got shapes {xa.shape} and {ya.shape}"
            )
        if xa.ndim == 3 and xa.shape[0] != ya.shape[0]:
            raise ValueError(
                f"{func}: x and y must hold the same number of series, got shapes {xa.shape} and {ya.shape}"
            )
        dt = result_dtype(xa.dtype, ya.dtype)
        ct = compute_dtype(dt)
        d = 1 if xa.ndim == 1 else xa.shape[-1]
        pairs = xa.shape[0] if xa.ndim == 3 else 1
        n, m = xa.shape[-2 if xa.ndim > 1 else 0], ya.shape[-2 if ya.ndim > 1 else 0]
        return cls(
            func,
            np.ascontiguousarray(xa, dtype=ct).reshape(-1),
            np.ascontiguousarray(ya, dtype=ct).reshape(-1),
            np.full(pairs, n, np.int64),
            np.full(pairs, m, np.int64),
            d,
            g,
            nt,
            dt,
            result_dtype(xa.dtype),
            result_dtype(ya.dtype),
            (pairs,) if xa.ndim == 3 else (),
            None,
            None,
            xa.shape,
            ya.shape,
        )

    @classmethod
    def _of_lists(cls, func: str, x: Any, y: Any, g: float, nt: int | None) -> DtwCall:
        if not isinstance(x, (list, tuple)) or not isinstance(y, (list, tuple)):
            raise TypeError(f"{func}: x and y must both be lists of series, or both arrays")
        if len(x) != len(y):
            raise ValueError(
                f"{func}: x and y must hold the same number of series, got {len(x)} and {len(y)}"
            )
        xs = [_series(v, func, "x") for v in x]
        ys = [_series(v, func, "y") for v in y]
        feats = {1 if a.ndim == 1 else a.shape[1] for a in xs + ys}
        if len(feats) > 1:
            shapes = sorted({a.shape[1:] for a in xs + ys})
            raise ValueError(f"{func}: every series must have the same number of features, got {shapes}")
        d = feats.pop()
        dt = result_dtype(*(a.dtype for a in xs + ys))
        ct = compute_dtype(dt)

        def flat(arrs: list[Array]) -> Array:
            parts = [np.asarray(a, dtype=ct).reshape(-1) for a in arrs]
            return np.concatenate(parts) if parts else np.zeros(0, ct)

        return cls(
            func,
            flat(xs),
            flat(ys),
            np.array([a.shape[0] for a in xs], np.int64),
            np.array([a.shape[0] for a in ys], np.int64),
            d,
            g,
            nt,
            dt,
            result_dtype(*(a.dtype for a in xs)),
            result_dtype(*(a.dtype for a in ys)),
            (len(xs),),
            tuple(a.shape for a in xs),
            tuple(a.shape for a in ys),
            (),
            (),
        )

    def swapped(self, which: str) -> DtwCall:
        """The call of ``(x, x)`` (``which="x"``) or ``(y, y)``, for the divergence."""
        if which == "x":
            return DtwCall(
                self.func, self.x, self.x, self.n, self.n, self.d, self.gamma, self.n_threads,
                self.dtype, self.x_dtype, self.x_dtype, self.out_shape, self.x_shapes, self.x_shapes,
                self.x_shape, self.x_shape,
            )  # fmt: skip
        return DtwCall(
            self.func, self.y, self.y, self.m, self.m, self.d, self.gamma, self.n_threads,
            self.dtype, self.y_dtype, self.y_dtype, self.out_shape, self.y_shapes, self.y_shapes,
            self.y_shape, self.y_shape,
        )  # fmt: skip

    def forward(self, keep: bool) -> tuple[Any, Any]:
        vals, res = _k.forward(self.x, self.y, self.n, self.m, self.d, self.gamma, self.n_threads, keep)
        out = vals.astype(self.dtype, copy=False)
        return (out.reshape(()) [()] if self.out_shape == () else out), res  # fmt: skip

    def pullback(self, res: Any, ct: Any, alignment: bool = False) -> tuple[Any, Any, Any]:
        g = np.ascontiguousarray(
            np.broadcast_to(np.asarray(ct), self.out_shape).reshape(-1), dtype=self.x.dtype
        )
        gx, gy, al = _k.vjp(res, g, self.n_threads, alignment)
        return self.shaped(gx, "x"), self.shaped(gy, "y"), al

    def shaped(self, flat: Array, which: str) -> Any:
        """A flat cotangent of ``x`` or ``y`` in the caller's structure and dtype."""
        dt, shapes, shape = (
            (self.x_dtype, self.x_shapes, self.x_shape)
            if which == "x"
            else (self.y_dtype, self.y_shapes, self.y_shape)
        )
        if shapes is None:
            return flat.reshape(shape).astype(dt, copy=False)
        ends = np.cumsum([math.prod(s) for s in shapes])
        return [
            p.reshape(s).astype(dt, copy=False)
            for p, s in zip(np.split(flat, ends[:-1]), shapes, strict=True)
        ]

    def per_pair_dot(self, grad: Any, tangent: Any, which: str) -> Array:
        """``<grad_p, tangent_p>`` for each pair."""
        if isinstance(grad, list):
            return np.array(
                [np.vdot(a, np.asarray(b, np.float64)) for a, b in zip(grad, tangent, strict=True)]
            )
        pairs = max(1, math.prod(self.out_shape))
        a = np.asarray(grad, np.float64).reshape(pairs, -1)
        b = np.asarray(tangent, np.float64).reshape(pairs, -1)
        dots: Array = np.einsum("ij,ij->i", a, b)
        return dots


def _call(func: str) -> Any:
    def make(x: Any, y: Any, gamma: Any, metric: Any = "sqeuclidean", n_threads: Any = None) -> DtwCall:
        return DtwCall.of(func, x, y, gamma, metric, n_threads)

    return make


def _examples() -> tuple[Example, ...]:
    return (
        Example({"x": (7,), "y": (5,)}, {"gamma": 0.5}),
        Example({"x": (6, 3), "y": (9, 3)}, {"gamma": 1.0}),
        Example({"x": (3, 4, 2), "y": (3, 6, 2)}, {"gamma": 0.3}),
        # a batch in SIMD lanes (8 pairs or more), one block of 32 past the first
        Example({"x": (35, 5, 1), "y": (35, 4, 1)}, {"gamma": 2.0}),
    )


@differentiable(params=("x", "y"), call=_call("soft_dtw"), examples=_examples())
def soft_dtw(
    x: ArrayLike | Sequence[ArrayLike],
    y: ArrayLike | Sequence[ArrayLike],
    *,
    gamma: float = 1.0,
    metric: str = "sqeuclidean",
    n_threads: int | None = None,
) -> Any:
    r"""Soft-DTW between time series (Cuturi & Blondel 2017), batched and differentiable.

    :math:`R_{nm}` of the recursion
    :math:`R_{ij} = \lVert x_i - y_j\rVert^2
    + \operatorname{softmin}_\gamma(R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1})`
    with :math:`\operatorname{softmin}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma}`: the
    soft minimum over all monotone alignments of the summed squared distances. The soft-min is
    shifted by the smallest argument, so no finite input overflows.

    Parameters
    ----------
    x, y : array_like, or lists of array_like
        One pair: ``x`` of shape ``(n,)`` or ``(n, d)`` and ``y`` of shape ``(m,)`` or ``(m, d)``
        (the same ndim and ``d``). A batch: ``x`` of shape ``(b, n, d)`` and ``y`` of shape
        ``(b, m, d)``. Or two lists (or tuples) of the same number of series of any lengths
        (each ``(n_p,)`` or ``(n_p, d)``, one ``d`` for all): pair ``p`` is ``(x[p], y[p])``. float32
        stays float32 (computed in float64); integers become float64.
    gamma : float, keyword-only
        The smoothing :math:`\gamma > 0` (finite). As it tends to 0 the value tends to DTW.
    metric : {"sqeuclidean"}, keyword-only
        The ground cost between steps: squared Euclidean distance (as tslearn and the paper).
    n_threads : int, keyword-only, optional
        Threads to use (pairs run in parallel); the result does not depend on it.

    Returns
    -------
    float or ndarray
        A scalar for one pair; shape ``(b,)`` (or ``(len(x),)`` for lists) for a batch. An empty
        series against a non-empty one gives ``inf`` (no alignment), two empty series 0. A pair
        with a NaN gives NaN.

    Raises
    ------
    TypeError
        Non-real input; a list for one argument and an array for the other.
    ValueError
        Shapes that do not pair up (the message gives both); ``gamma`` not finite and positive;
        an unknown ``metric``.

    Notes
    -----
    Under :func:`softgrad.vjp` the gradients in ``x`` and ``y`` come from the expected alignment
    (:func:`soft_dtw_alignment`) computed backward from the forward's DP table, kept in Rust:
    :math:`O(nm)` time and memory per pair. :func:`softgrad.jvp` works for arrays (not lists).
    A batch of equal shapes runs 32 pairs at a time in SIMD lanes; a pair's value does not depend
    on the batch it is in, nor on the thread count. Unlike tslearn, no ``be`` backend or
    normalisation is offered; :func:`soft_dtw_divergence` is the normalised, non-negative form.

    References
    ----------
    M. Cuturi, M. Blondel, "Soft-DTW: a Differentiable Loss Function for Time-Series", ICML 2017,
    arXiv:1703.01541.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0])
    >>> round(float(softgrad.soft_dtw(x, y, gamma=1e-6)), 5)  # DTW: 0 + 1 + 0
    1.0
    >>> round(float(softgrad.soft_dtw(x, y, gamma=1.0)), 6)
    0.122654
    >>> softgrad.soft_dtw([x, y], [y, y], gamma=0.1).shape  # a list of pairs
    (2,)
    """
    return DtwCall.of("soft_dtw", x, y, gamma, metric, n_threads).forward(False)[0]


def _forward(c: DtwCall) -> tuple[Any, tuple[DtwCall, Any]]:
    out, res = c.forward(True)
    return out, (c, res)


def _pullback(res: tuple[DtwCall, Any], ct: Any) -> tuple[Any, Any]:
    c, r = res
    gx, gy, _ = c.pullback(r, ct)
    return gx, gy


def _tangent(c: DtwCall, gx: Any, gy: Any, tangents: dict[str, Any]) -> Any:
    tan = np.zeros(max(1, math.prod(c.out_shape)))
    if tangents.get("x") is not None:
        tan = tan + c.per_pair_dot(gx, tangents["x"], "x")
    if tangents.get("y") is not None:
        tan = tan + c.per_pair_dot(gy, tangents["y"], "y")
    out: Any = tan.astype(c.dtype).reshape(c.out_shape)
    return out[()] if c.out_shape == () else out


def _jvp(c: DtwCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    out, r = c.forward(True)
    gx, gy, _ = c.pullback(r, np.ones(c.out_shape))
    return out, _tangent(c, gx, gy, tangents)


rules(soft_dtw).fwd(_forward)
rules(soft_dtw).bwd(_pullback)
rules(soft_dtw).jvp(_jvp)


@differentiable(params=("x", "y"), call=_call("soft_dtw_divergence"), examples=_examples())
def soft_dtw_divergence(
    x: ArrayLike | Sequence[ArrayLike],
    y: ArrayLike | Sequence[ArrayLike],
    *,
    gamma: float = 1.0,
    metric: str = "sqeuclidean",
    n_threads: int | None = None,
) -> Any:
    r"""Soft-DTW divergence: ``soft_dtw(x, y) - (soft_dtw(x, x) + soft_dtw(y, y)) / 2``.

    Blondel, Mensch & Vert (2021) show it is non-negative, zero iff ``x == y`` (for the squared
    Euclidean cost) and a better loss than soft-DTW itself, whose value can be negative and is not
    minimised at ``y = x``.

    Parameters
    ----------
    x, y, gamma, metric, n_threads
        As for :func:`soft_dtw` (one pair, a batch, or lists of series).

    Returns
    -------
    float or ndarray
        As :func:`soft_dtw`.

    Raises
    ------
    TypeError, ValueError
        As :func:`soft_dtw`.

    Notes
    -----
    Differentiable in ``x`` and ``y`` under :func:`softgrad.vjp` and :func:`softgrad.jvp`: three
    soft-DTW forwards and pullbacks.

    References
    ----------
    M. Blondel, A. Mensch, J.-P. Vert, "Differentiable Divergences Between Time Series",
    AISTATS 2021, arXiv:2010.08354.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> float(softgrad.soft_dtw_divergence(x, x, gamma=1.0))
    0.0
    >>> float(softgrad.soft_dtw_divergence(x, x + 1, gamma=1.0)) > 0
    True
    """
    c = DtwCall.of("soft_dtw_divergence", x, y, gamma, metric, n_threads)
    return _div_forward(c)[0]


def _div_forward(c: DtwCall) -> tuple[Any, Any]:
    parts = [c, c.swapped("x"), c.swapped("y")]
    outs, ress = zip(*(p.forward(True) for p in parts), strict=True)
    out = outs[0] - (outs[1] + outs[2]) / 2
    return np.asarray(out, c.dtype)[()], (parts, ress)


def _div_grads(parts: list[DtwCall], ress: Any, ct: Any) -> tuple[Any, Any]:
    c, cx, cy = parts
    gx, gy, _ = c.pullback(ress[0], ct)
    hx1, hx2, _ = cx.pullback(ress[1], ct)
    hy1, hy2, _ = cy.pullback(ress[2], ct)
    if isinstance(gx, list):
        gx = [a - (b + e) / 2 for a, b, e in zip(gx, hx1, hx2, strict=True)]
        gy = [a - (b + e) / 2 for a, b, e in zip(gy, hy1, hy2, strict=True)]
        return gx, gy
    return (gx - (hx1 + hx2) / 2).astype(c.x_dtype, copy=False), (gy - (hy1 + hy2) / 2).astype(
        c.y_dtype, copy=False
    )


def _div_fwd_rule(c: DtwCall) -> tuple[Any, Any]:
    return _div_forward(c)


def _div_pullback(res: Any, ct: Any) -> tuple[Any, Any]:
    parts, ress = res
    return _div_grads(parts, ress, ct)


def _div_jvp(c: DtwCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    out, (parts, ress) = _div_forward(c)
    gx, gy = _div_grads(parts, ress, np.ones(c.out_shape))
    return out, _tangent(c, gx, gy, tangents)


rules(soft_dtw_divergence).fwd(_div_fwd_rule)
rules(soft_dtw_divergence).bwd(_div_pullback)
rules(soft_dtw_divergence).jvp(_div_jvp)


def soft_dtw_alignment(
    x: ArrayLike | Sequence[ArrayLike],
    y: ArrayLike | Sequence[ArrayLike],
    *,
    gamma: float = 1.0,
    metric: str = "sqeuclidean",
    n_threads: int | None = None,
) -> tuple[Any, Any]:
    r"""The expected alignment matrix of soft-DTW and the soft-DTW value (as tslearn's
    ``soft_dtw_alignment``).

    :math:`E = \partial R_{nm} / \partial C`: the average, under the Gibbs distribution over
    monotone alignments, of the alignment matrices. Each entry is in ``[0, 1]``; ``E[0, 0]`` and
    ``E[-1, -1]`` are 1. As :math:`\gamma \to 0` it tends to the DTW path.

    Parameters
    ----------
    x, y, gamma, metric, n_threads
        As for :func:`soft_dtw`.

    Returns
    -------
    alignment : ndarray or list of ndarray
        float64, shape ``(n, m)`` for one pair, ``(b, n, m)`` for a batch, a list of ``(n_p, m_p)``
        arrays for lists.
    value : float or ndarray
        :func:`soft_dtw` of the pairs.

    Raises
    ------
    TypeError, ValueError
        As :func:`soft_dtw`.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> a, v = softgrad.soft_dtw_alignment(np.array([0.0, 1.0]), np.array([0.0, 1.0]), gamma=1e-6)
    >>> a
    array([[1., 0.],
           [0., 1.]])
    """
    c = DtwCall.of("soft_dtw_alignment", x, y, gamma, metric, n_threads)
    out, res = c.forward(True)
    _, _, al = c.pullback(res, np.ones(c.out_shape), alignment=True)
    if c.x_shapes is not None:
        sizes = [int(a * b) for a, b in zip(c.n, c.m, strict=True)]
        ends = np.cumsum(sizes)[:-1]
        return [p.reshape(int(a), int(b)) for p, a, b in zip(np.split(al, ends), c.n, c.m, strict=True)], out
    n, m = int(c.n[0]) if c.n.size else 0, int(c.m[0]) if c.m.size else 0
    return al.reshape((*c.out_shape, n, m)), out
