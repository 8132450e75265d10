"""Log-semiring product references: NumPy broadcasting (the m x k x n temporary) and
``scipy.special.logsumexp``, and the hard tropical products."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special as sp


def _z(a: Any, b: Any) -> Any:
    a2 = np.asarray(a, np.float64)
    b2 = np.asarray(b, np.float64)
    a2 = a2[None, :] if a2.ndim == 1 else a2
    b2 = b2[:, None] if b2.ndim == 1 else b2
    with np.errstate(invalid="ignore"):
        z = a2[..., :, :, None] + b2[..., None, :, :]
    return z, np.ndim(a) == 1, np.ndim(b) == 1


def _squeeze(c: Any, a1: bool, b1: bool) -> Any:
    if b1:
        c = c[..., 0]
    if a1:
        c = c[..., 0, :] if not b1 else c[..., 0]
    return c


def soft_maxplus(a: Any, b: Any, t: float) -> Any:
    z, a1, b1 = _z(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = t * sp.logsumexp(z / t, axis=-2)
    return _squeeze(c, a1, b1)


def soft_minplus(a: Any, b: Any, t: float) -> Any:
    z, a1, b1 = _z(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = -t * sp.logsumexp(-z / t, axis=-2)
    return _squeeze(c, a1, b1)


def maxplus(a: Any, b: Any) -> Any:
    z, a1, b1 = _z(a, b)
    return _squeeze(z.max(axis=-2), a1, b1)


def minplus(a: Any, b: Any) -> Any:
    z, a1, b1 = _z(a, b)
    return _squeeze(z.min(axis=-2), a1, b1)
