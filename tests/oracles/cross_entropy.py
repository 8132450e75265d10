r"""Hand-written NumPy softmax cross-entropy (float64): the reference for ``softgrad.softmax_cross_entropy``.

Written the way a user writes it by hand (no softgrad, no scipy): the class axis moved last,
``log p = z - max z - log Σ e^{z - max z}`` with ``z = x/t``, targets ``y = (1-ε) onehot + ε/K`` (or
``(1-ε) q + ε/K`` for probabilities), per-sample loss ``-Σ_j y_j log p_j`` over the ``y_j != 0``, and
the conventions of softgrad's docstring: ``'mean'`` is ``Σ w l / Σ w`` (torch's weighted mean), a
sample of weight 0 contributes nothing. The gradient is ``w ((Σy) p - y)/t`` times the reduction's
scale and the cotangent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray


def _prepare(
    logits: Any, labels: Any, axis: int, label_smoothing: float, temperature: float
) -> tuple[Array, Array, Array]:
    """``(z, log p, y)`` with the classes last, in float64."""
    x = np.moveaxis(np.asarray(logits, dtype=np.float64), axis, -1)
    k = x.shape[-1]
    lab = np.asarray(labels)
    if lab.shape == x.shape[:-1]:
        y = np.zeros(x.shape)
        np.put_along_axis(y, lab[..., None], 1.0, axis=-1)
    else:
        y = np.moveaxis(np.asarray(lab, dtype=np.float64), axis, -1)
    y = (1.0 - label_smoothing) * y + label_smoothing / k
    z = x / temperature
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(z, axis=-1, keepdims=True)
        finite = np.isfinite(m)
        shifted = z - np.where(finite, m, 0.0)
        lse = np.where(finite, np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True)), np.nan)
        logp = shifted - lse  # NaN for the whole sample when its maximum is not finite
    return z, logp, y


def _weights(sample_weight: Any, shape: tuple[int, ...]) -> Array:
    if sample_weight is None:
        return np.ones(shape)
    return np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), shape)


def losses(
    logits: Any, labels: Any, *, axis: int = -1, label_smoothing: float = 0.0, temperature: float = 1.0
) -> Array:
    """Unweighted per-sample losses (NaN where a sample's log-sum-exp is not finite)."""
    _, logp, y = _prepare(logits, labels, axis, label_smoothing, temperature)
    with np.errstate(invalid="ignore"):
        terms = np.where(y == 0, 0.0, -y * logp)
    out = np.sum(terms, axis=-1)
    return np.where(np.isnan(logp[..., 0]), np.nan, out)


def softmax_cross_entropy(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: str = "mean",
    temperature: float = 1.0,
) -> Any:
    """The value, as softgrad documents it."""
    lv = losses(logits, labels, axis=axis, label_smoothing=label_smoothing, temperature=temperature)
    w = _weights(sample_weight, lv.shape)
    with np.errstate(invalid="ignore"):
        wl = np.where(w == 0, 0.0, w * lv)
    if reduction == "none":
        return wl
    if reduction == "sum":
        return np.sum(wl)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(wl) / np.sum(w)


def grad_logits(
    logits: Any,
    labels: Any,
    ct: Any = 1.0,
    *,
    axis: int = -1,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: str = "mean",
    temperature: float = 1.0,
) -> Array:
    """The cotangent of the logits for the output cotangent ``ct`` (per sample for ``'none'``)."""
    _, logp, y = _prepare(logits, labels, axis, label_smoothing, temperature)
    p = np.exp(logp)
    w = _weights(sample_weight, logp.shape[:-1])
    scale = 1.0 / np.sum(w) if reduction == "mean" else 1.0
    c = np.asarray(ct, dtype=np.float64) if reduction == "none" else float(ct)
    factor = np.where(w == 0, 0.0, w * scale * c)[..., None]
    with np.errstate(invalid="ignore"):
        g = np.where(factor == 0, 0.0, (np.sum(y, axis=-1, keepdims=True) * p - y) / temperature * factor)
    return np.moveaxis(g, -1, axis)
