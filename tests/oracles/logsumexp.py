r"""NumPy references for the pullbacks of the log-sum-exp family, at the level of the kernels.

These are the formulas softgrad used in NumPy before the pullbacks moved to Rust; they stay here as
the oracle, as ``simd/reference.rs`` is for the SIMD kernels. Arrays are flat in the
``(outer, n, inner)`` layout of the kernels, reduced over ``n``.

With :math:`S = \sum_i b_i e^{a_i/t}`, :math:`L = t \log|S|`, :math:`\sigma = \operatorname{sgn} S`
and :math:`e_i = e^{(a_i - L)/t}`: :math:`\partial L/\partial a_i = \sigma b_i e_i =: w_i`,
:math:`\partial L/\partial b_i = \sigma t e_i`, :math:`\partial L/\partial t = (L - \sum_i w_i a_i)/t`;
lanes whose sum is empty (sign 0 or ``L = -inf``) have zero derivatives. For
:math:`y = \operatorname{softmax}(x/t)`: :math:`\bar x = y \odot (g - \langle y, g\rangle)/t`,
:math:`\bar t = -\langle y \odot (g - \langle y, g\rangle), \tilde x\rangle / t^2`; for log-softmax
:math:`\bar x = (g - y \textstyle\sum g)/t`, :math:`\bar t = -\sum_{x \text{ finite}} g (x - \langle y,
\tilde x\rangle)/t^2`, where :math:`\tilde x` is :math:`x` with entries of zero weight set to 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special as sp

Array = np.ndarray
Layout = tuple[int, int, int]


def _lanes(v: Any, layout: Layout) -> Array:
    return np.asarray(v, dtype=np.float64).reshape(layout)


def logsumexp_vjp(
    a: Any, b: Any, lse: Any, sign: Any, ct: Any, layout: Layout, t: float
) -> tuple[Array, Array | None, float]:
    """``(da, db, dt)`` for output cotangents ``ct`` (one per lane); ``lse`` is ``t log|S|``."""
    o, _, k = layout
    A = _lanes(a, layout)
    B = None if b is None else _lanes(b, layout)
    L = np.asarray(lse, dtype=np.float64).reshape(o, 1, k)
    S = np.ones_like(L) if sign is None else np.asarray(sign, dtype=np.float64).reshape(o, 1, k)
    C = np.asarray(ct, dtype=np.float64).reshape(o, 1, k)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        empty = (S == 0) | (L == -np.inf)
        e = np.where(empty, 0.0, np.exp((A - np.where(empty, 0.0, L)) / t))
        w = e if B is None else np.where(B == 0, 0.0, S * B * e)
        dldb = None if B is None else np.where(empty, 0.0, S * t * e)
        wa = np.where(w == 0, 0.0, w * A).sum(axis=1, keepdims=True)
        dldt = np.where(empty, 0.0, (L - wa) / t)
        da = (C * w).reshape(-1)
        db = None if dldb is None else (C * dldb).reshape(-1)
        dt = float(np.sum(C * dldt))
    return da, db, dt


def softmax_vjp(x: Any, g: Any, layout: Layout, t: float, log: bool) -> tuple[Array, float]:
    """``(dx, dt)`` of softmax (or log-softmax) of ``x / t`` for the cotangent ``g``."""
    X, G = _lanes(x, layout), _lanes(g, layout)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        y = sp.softmax(X / t, axis=1)
        xs = np.where(y == 0, 0.0, X)
        if not log:
            gy = y * G
            gy -= y * gy.sum(axis=1, keepdims=True)
            dt = -float(np.sum(gy * xs)) / t**2
            return (gy / t).reshape(-1), dt
        gsum = G.sum(axis=1, keepdims=True)
        dx = (G - y * gsum) / t
        xbar = np.sum(y * xs, axis=1, keepdims=True)
        # A lane whose output is NaN (all -inf, or a NaN or +inf entry) has a NaN xbar and a NaN
        # temperature cotangent, as its input cotangent is NaN (and as JAX's is: NaN propagates).
        centred = np.where(np.isneginf(X) & ~np.isnan(xbar), 0.0, X - xbar)
        dt = -float(np.sum(G * centred)) / t**2
    return dx.reshape(-1), dt


def lse(x: Any, b: Any, layout: Layout, t: float) -> Array:
    """``t log|Σ b e^{x/t}|`` per lane (the residual the forward kernels keep), via scipy."""
    X = _lanes(x, layout)
    B = None if b is None else _lanes(b, layout)
    with np.errstate(all="ignore"):
        val = sp.logsumexp(X / t, axis=1, b=B, return_sign=True)[0]
    return (np.asarray(val) * t).reshape(-1)
