"""Reference soft sort and soft rank (plain Python PAV, float64), written from the formulas of
Blondel, Teboul, Berthet & Djolonga, "Fast Differentiable Sorting and Ranking" (ICML 2020), in the
parameterisation of fast-soft-sort and torchsort: ``P(z, w)`` projects ``z`` onto the permutahedron
of ``w`` (sorted descending) as ``s - v`` with ``s = sort_desc(z)`` and ``v`` the decreasing isotonic
regression of ``s - w`` (l2) or the KL one of ``(s, w)``.

Kept deliberately naive (a list of blocks, pooled one merge at a time): independent of the Rust
kernel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _lse(v: list[float]) -> float:
    m = max(v)
    return m + math.log(sum(math.exp(t - m) for t in v))


def isotonic_l2(y: np.ndarray) -> np.ndarray:
    """``argmin_{v_1 >= ... >= v_n} ||v - y||^2``: pool adjacent violators with block means, each
    block kept as its sum and size (recomputing the mean of a list at every merge made one long
    row of large blocks take minutes)."""
    blocks: list[tuple[float, int]] = []
    for t in y:
        blocks.append((float(t), 1))
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] <= blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1] = (blocks[-1][0] + s, blocks[-1][1] + c)
    return np.concatenate([np.full(c, s / c) for s, c in blocks]) if blocks else np.zeros(0)


def isotonic_kl(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``argmin_{v_1 >= ... >= v_n} <e^{y - v}, 1> + <e^w, v>``: per block ``LSE(y_B) - LSE(w_B)``."""
    blocks: list[tuple[list[float], list[float]]] = []

    def value(b: tuple[list[float], list[float]]) -> float:
        return _lse(b[0]) - _lse(b[1])

    for a, c in zip(y, w, strict=True):
        blocks.append(([float(a)], [float(c)]))
        while len(blocks) > 1 and value(blocks[-2]) <= value(blocks[-1]):
            ys, ws = blocks.pop()
            blocks[-1][0].extend(ys)
            blocks[-1][1].extend(ws)
    return np.concatenate([[value(b)] * len(b[0]) for b in blocks]) if blocks else np.zeros(0)


def projection(z: np.ndarray, w: np.ndarray, reg: str) -> np.ndarray:
    """Projection of ``z`` onto the permutahedron of ``w`` (``w`` sorted descending)."""
    perm = np.argsort(-z, kind="stable")
    s = z[perm]
    v = isotonic_l2(s - w) if reg == "l2" else isotonic_kl(s, w)
    out = np.empty_like(s)
    out[perm] = s - v
    return out


def soft_rank_1d(x: Any, strength: float = 1.0, reg: str = "l2", descending: bool = False) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    rho = np.arange(n, 0, -1, dtype=np.float64)
    theta = (-x if descending else x) / strength
    if reg == "l2":
        return projection(theta, rho, "l2")
    return np.exp(projection(theta, np.log(rho), "kl"))


def soft_sort_1d(x: Any, strength: float = 1.0, reg: str = "l2", descending: bool = False) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    sign = 1.0 if descending else -1.0
    z = np.sort(sign * x)[::-1]
    w = np.arange(x.size, 0, -1, dtype=np.float64) / strength
    v = isotonic_l2(w - z) if reg == "l2" else isotonic_kl(w, z)
    return sign * (w - v)


def soft_sort(
    x: Any, *, strength: float = 1.0, regularization: str = "l2", descending: bool = False, axis: int = -1
) -> np.ndarray:
    return np.apply_along_axis(
        soft_sort_1d, axis, np.asarray(x, np.float64), strength, regularization, descending
    )


def soft_rank(
    x: Any, *, strength: float = 1.0, regularization: str = "l2", descending: bool = False, axis: int = -1
) -> np.ndarray:
    return np.apply_along_axis(
        soft_rank_1d, axis, np.asarray(x, np.float64), strength, regularization, descending
    )


def soft_topk_1d(x: Any, k: int, strength: float = 1.0) -> np.ndarray:
    """Projection of ``x/strength`` onto the capped simplex: the permutahedron of ``(1^k, 0^{n-k})``."""
    x = np.asarray(x, dtype=np.float64)
    w = np.concatenate([np.ones(k), np.zeros(x.size - k)])
    return projection(x / strength, w, "l2")


def soft_topk(x: Any, k: int, *, strength: float = 1.0, axis: int = -1) -> np.ndarray:
    return np.apply_along_axis(soft_topk_1d, axis, np.asarray(x, np.float64), k, strength)


def soft_quantile(
    x: Any, q: Any, *, strength: float = 1.0, regularization: str = "l2", axis: int = -1
) -> np.ndarray:
    """``np.quantile`` (linear) of the reference soft sort, shaped ``q.shape + x.shape without axis``."""
    s = soft_sort(x, strength=strength, regularization=regularization, axis=axis)
    ax = axis % s.ndim
    n = s.shape[ax]
    f = np.asarray(q, np.float64) * (n - 1)
    lo = np.minimum(np.floor(f).astype(int), max(n - 2, 0))
    hi = np.minimum(lo + 1, n - 1)
    f = f - lo
    # np.take puts q's axes at `axis`; np.quantile puts them first
    src, dst = tuple(range(ax, ax + f.ndim)), tuple(range(f.ndim))
    a = np.moveaxis(np.take(s, lo, axis=ax), src, dst)
    b = np.moveaxis(np.take(s, hi, axis=ax), src, dst)
    fb = f.reshape(f.shape + (1,) * (a.ndim - f.ndim))
    return (1 - fb) * a + fb * b
