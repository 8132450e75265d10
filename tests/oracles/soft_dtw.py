"""Soft-DTW references: the plain O(nm) dynamic program of Cuturi & Blondel (2017), its gradient
by the backward recursion written independently (full tables, float64), and hard DTW."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def _2d(a: NDArray[np.float64]) -> NDArray[np.float64]:
    a = np.asarray(a, np.float64)
    return a[:, None] if a.ndim == 1 else a


def cost(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    x, y = _2d(x), _2d(y)
    c: NDArray[np.float64] = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return c


def table(x: NDArray[np.float64], y: NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
    """The forward table ``R`` (``(n+1) x (m+1)``)."""
    c = cost(x, y)
    n, m = c.shape
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            v = np.array([r[i - 1, j - 1], r[i - 1, j], r[i, j - 1]])
            lo = v.min()
            r[i, j] = c[i - 1, j - 1] + lo - gamma * np.log(np.exp(-(v - lo) / gamma).sum())
    return r


def soft_dtw(x: NDArray[np.float64], y: NDArray[np.float64], gamma: float) -> float:
    n, m = len(x), len(y)
    return float(table(x, y, gamma)[n, m])


def alignment(x: NDArray[np.float64], y: NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
    """``E = dR_nm / dC`` by the backward recursion (Algorithm 2 of the paper)."""
    c = cost(x, y)
    n, m = c.shape
    r = np.full((n + 2, m + 2), -np.inf)
    r[: n + 1, : m + 1] = table(x, y, gamma)
    r[n + 1, m + 1] = r[n, m]
    cp = np.zeros((n + 2, m + 2))
    cp[1 : n + 1, 1 : m + 1] = c
    e = np.zeros((n + 2, m + 2))
    e[n + 1, m + 1] = 1.0
    for j in range(m, 0, -1):
        for i in range(n, 0, -1):
            a = np.exp((r[i + 1, j] - r[i, j] - cp[i + 1, j]) / gamma)
            b = np.exp((r[i, j + 1] - r[i, j] - cp[i, j + 1]) / gamma)
            d = np.exp((r[i + 1, j + 1] - r[i, j] - cp[i + 1, j + 1]) / gamma)
            e[i, j] = e[i + 1, j] * a + e[i, j + 1] * b + e[i + 1, j + 1] * d
    return e[1 : n + 1, 1 : m + 1]


def gradients(
    x: NDArray[np.float64], y: NDArray[np.float64], gamma: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``d soft_dtw / dx`` and ``/ dy`` (shapes of ``x`` and ``y``)."""
    e = alignment(x, y, gamma)
    x2, y2 = _2d(x), _2d(y)
    diff = x2[:, None, :] - y2[None, :, :]
    gx = 2 * (e[:, :, None] * diff).sum(1)
    gy = -2 * (e[:, :, None] * diff).sum(0)
    return gx.reshape(np.shape(x)), gy.reshape(np.shape(y))


def dtw(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Hard DTW with squared Euclidean costs (the gamma -> 0 limit)."""
    c = cost(x, y)
    n, m = c.shape
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            r[i, j] = c[i - 1, j - 1] + min(r[i - 1, j - 1], r[i - 1, j], r[i, j - 1])
    return float(r[n, m])
