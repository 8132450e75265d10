"""Naive references for the tropical products: NumPy broadcasting (``O(m k n)`` memory) with the
documented conventions spelled out, and Floyd-Warshall."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


def tropical(a: Array, b: Array, maxplus: bool = True) -> tuple[Array, Array]:
    """``(C, argmax)`` of ``a (..., m, k) ⊗ b (..., k, n)`` (both at least 2-D, one float dtype or
    int64 via Python ints), computed by broadcasting.

    ``-inf + inf`` counts as the zero; NaN in row i of a or column j of b makes C[i, j] NaN; integers
    are exact (object arithmetic) and clipped to ``dtype``'s range; the argmax is the smallest k.
    """
    zero = -np.inf if maxplus else np.inf
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        s = a.astype(object)[..., :, :, None] + b.astype(object)[..., None, :, :]
        s = np.clip(s, info.min, info.max).astype(a.dtype)
    else:
        with np.errstate(invalid="ignore"):
            s = a[..., :, :, None] + b[..., None, :, :]
        s = np.where(np.isnan(s), zero, s)  # -inf + inf (and NaN, fixed below)
    k = a.shape[-1]
    if k == 0:
        shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        if a.dtype.kind in "iu":
            z = np.iinfo(a.dtype).min if maxplus else np.iinfo(a.dtype).max
            return np.full(shape, z, a.dtype), np.full(shape, -1)
        return np.full(shape, zero, a.dtype), np.full(shape, -1)
    c = s.max(axis=-2) if maxplus else s.min(axis=-2)
    arg = (s.argmax(axis=-2) if maxplus else s.argmin(axis=-2)).astype(np.int64)  # the first one
    if a.dtype.kind == "f":
        nan = np.isnan(a).any(axis=-1)[..., :, None] | np.isnan(b).any(axis=-2)[..., None, :]
        c = np.where(nan, np.nan, c).astype(a.dtype)
    return c, arg


def floyd_warshall(w: Array) -> Array:
    """All-pairs shortest path lengths of the weighted adjacency matrix ``w`` (``inf``: no edge)."""
    d = np.array(w, dtype=np.float64)
    np.fill_diagonal(d, np.minimum(np.diag(d), 0.0))
    for k in range(d.shape[0]):
        d = np.minimum(d, d[:, k : k + 1] + d[k : k + 1, :])
    return d
