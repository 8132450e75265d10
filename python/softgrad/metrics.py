r"""Soft classification metrics from a relaxed confusion matrix (AnyLoss).

Han, Lee et al., "AnyLoss: Transforming Classification Metrics into Loss Functions" (KDD 2024):
a score :math:`s \in [0, 1]` (a predicted probability) is mapped to a near-binary prediction by the
amplified sigmoid :math:`A(s) = 1 / (1 + e^{-L (s - 1/2)})` (amplifier :math:`L`, 73 in the paper),
and the confusion matrix is summed from it:
:math:`TP = \sum y A`, :math:`FN = \sum y (1 - A)`, :math:`FP = \sum (1 - y) A`,
:math:`TN = \sum (1 - y)(1 - A)`. Any metric of the four entries is then differentiable in the
scores; ``1 - metric`` is the loss to minimise. Multi-class scores ``(n, C)`` with integer labels are
treated one-vs-rest, class by class, and the metrics macro-averaged over the classes.

All functions here are NumPy (no Rust kernel: a few elementwise passes); derivatives go through
:func:`softgrad.vjp` / :func:`softgrad.jvp` with respect to ``scores``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._array import Array, float_array, result_dtype, scalar_param
from .autodiff import Example, differentiable, rules


@dataclass(frozen=True, eq=False)
class _Call:
    func: str
    y: Array  # (n, K) float64 in [0, 1]: one column per class (K = 1 for binary)
    a: Array  # (n, K) the amplified sigmoid of the scores
    da: Array  # (n, K) dA/ds
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    multiclass: bool
    beta: float = 1.0

    @classmethod
    def of(cls, func: str, y_true: ArrayLike, scores: ArrayLike, amplifier: Any, beta: Any = 1.0) -> _Call:
        s = float_array(scores, func, "scores")
        dt = result_dtype(s.dtype)
        if s.ndim not in (1, 2) or s.shape[0] == 0:
            raise ValueError(f"{func}: scores must have shape (n,) or (n, C) with n >= 1, got {s.shape}")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"{func}: scores must be finite")
        amp = scalar_param(amplifier, func, "amplifier")
        if not (math.isfinite(amp) and amp > 0):
            raise ValueError(f"{func}: amplifier must be finite and > 0, got {amplifier!r}")
        b = scalar_param(beta, func, "beta")
        if not (math.isfinite(b) and b > 0):
            raise ValueError(f"{func}: beta must be finite and > 0, got {beta!r}")
        yt = np.asarray(y_true)
        if yt.dtype.kind not in "biuf":
            raise TypeError(f"{func}: y_true must be real labels, got dtype {yt.dtype}")
        if yt.shape != s.shape[:1]:
            raise ValueError(f"{func}: y_true has shape {yt.shape}, expected ({s.shape[0]},)")
        s64 = s.astype(np.float64).reshape(s.shape[0], -1)
        if s.ndim == 2:
            k = s.shape[1]
            if yt.dtype.kind not in "biu" or np.any((yt < 0) | (yt >= k)):
                raise ValueError(
                    f"{func}: y_true must hold integer class labels in [0, {k}) for scores (n, {k})"
                )
            y = np.zeros((s.shape[0], k))
            y[np.arange(s.shape[0]), yt.astype(np.int64)] = 1.0
        else:
            y = yt.astype(np.float64).reshape(-1, 1)
            if not np.all((y >= 0) & (y <= 1)):
                raise ValueError(f"{func}: y_true must be in [0, 1] for binary scores")
        th = np.tanh(0.5 * amp * (s64 - 0.5))  # A = (1 + tanh(L (s - 1/2) / 2)) / 2: never overflows
        a = 0.5 * (1.0 + th)
        return cls(func, y, a, 0.25 * amp * (1.0 - th * th), s.shape, dt, s.ndim == 2, b)

    def confusion(self, a: Array | None = None) -> Array:
        """``(4, K)``: TN, FP, FN, TP per class (from ``a``, default the forward's)."""
        a = self.a if a is None else a
        y = self.y
        return np.stack(
            [((1 - y) * (1 - a)).sum(0), ((1 - y) * a).sum(0), (y * (1 - a)).sum(0), (y * a).sum(0)]
        )

    def spread(self, dc: Array) -> Array:
        """The score cotangent ``(n, K)`` from a cotangent ``(4, K)`` of the confusion entries."""
        y = self.y
        da: Array = (-dc[0] * (1 - y) + dc[1] * (1 - y) - dc[2] * y + dc[3] * y) * self.da
        return da

    def cast(self, v: Any) -> Any:
        out = np.asarray(v, dtype=self.dtype)
        return out[()] if out.ndim == 0 else out


def _metric(kind: str, c: Array, beta: float) -> tuple[Array, Array]:
    """Per class: the metric ``(K,)`` and its gradient with respect to the entries ``(4, K)``."""
    tn, fp, fn, tp = c
    g = np.zeros_like(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "fbeta":
            b2 = beta * beta
            num = (1 + b2) * tp
            den = num + b2 * fn + fp
            ok = den > 0
            d = np.where(ok, den, 1.0)
            v = np.where(ok, num / d, 0.0)
            g[3] = np.where(ok, (1 + b2) * (b2 * fn + fp) / d**2, 0.0)
            g[2] = np.where(ok, -num * b2 / d**2, 0.0)
            g[1] = np.where(ok, -num / d**2, 0.0)
        elif kind == "balanced":
            p, q = tp + fn, tn + fp
            okp, okq = p > 0, q > 0
            pp, qq = np.where(okp, p, 1.0), np.where(okq, q, 1.0)
            v = 0.5 * (np.where(okp, tp / pp, 0.0) + np.where(okq, tn / qq, 0.0))
            g[3] = np.where(okp, 0.5 * fn / pp**2, 0.0)
            g[2] = np.where(okp, -0.5 * tp / pp**2, 0.0)
            g[0] = np.where(okq, 0.5 * fp / qq**2, 0.0)
            g[1] = np.where(okq, -0.5 * tn / qq**2, 0.0)
        else:  # accuracy: (TP + TN) / n, n = the sum of the four entries (a constant)
            n = c.sum(0)
            v = (tp + tn) / n
            g[0] = g[3] = 1.0 / n
    return v, g


def _value(kind: str, k: _Call) -> Any:
    v, _ = _metric(kind, k.confusion(), k.beta)
    return k.cast(v.mean())


def _rules_for(op: Any, kind: str) -> None:
    def fwd(k: _Call) -> tuple[Any, tuple[_Call, Array]]:
        v, g = _metric(kind, k.confusion(), k.beta)
        return k.cast(v.mean()), (k, g / g.shape[1])

    def bwd(res: tuple[_Call, Array], ct: Any) -> tuple[Any]:
        k, g = res
        ds = float(np.asarray(ct)) * k.spread(g)
        return (ds.reshape(k.shape).astype(k.dtype),)

    def jvp(k: _Call, tangents: dict[str, Any]) -> tuple[Any, Any]:
        v, g = _metric(kind, k.confusion(), k.beta)
        t = tangents.get("scores")
        if t is None:
            return k.cast(v.mean()), k.cast(0.0)
        da = np.asarray(t, dtype=np.float64).reshape(k.a.shape) * k.da
        dc = k.confusion(da) - k.confusion(np.zeros_like(da))  # the linear part of C in a
        return k.cast(v.mean()), k.cast(np.sum(g * dc) / g.shape[1])

    rules(op).fwd(fwd)
    rules(op).bwd(bwd)
    rules(op).jvp(jvp)


_Y20 = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0]
_LABELS = [0, 2, 1, 1, 0, 2, 2, 1, 0, 1, 2, 0]
_EXAMPLES = (
    Example({"scores": (20,)}, {"y_true": _Y20, "amplifier": 3.0}, positive=("scores",)),
    Example({"scores": (20,)}, {"y_true": _Y20, "amplifier": 1.0}),
    Example({"scores": (12, 3)}, {"y_true": _LABELS, "amplifier": 2.0}, positive=("scores",)),
)


@differentiable(
    params=("scores",),
    call=lambda y_true, scores, amplifier: _Call.of("soft_confusion", y_true, scores, amplifier),
    examples=_EXAMPLES,
)
def soft_confusion(y_true: ArrayLike, scores: ArrayLike, *, amplifier: float = 73.0) -> Any:
    r"""The relaxed confusion matrix ``[[TN, FP], [FN, TP]]`` (rows: truth, columns: prediction).

    Parameters
    ----------
    y_true : array_like
        ``(n,)``: binary labels (0/1, or soft labels in ``[0, 1]``) for scores ``(n,)``, or integer
        class labels in ``[0, C)`` for scores ``(n, C)``.
    scores : array_like
        ``(n,)`` probabilities of the positive class, or ``(n, C)`` per-class probabilities.
    amplifier : float, keyword-only
        :math:`L > 0` of :math:`A(s) = 1/(1 + e^{-L(s - 1/2)})`; large values approach the hard
        threshold at 1/2 (the paper uses 73).

    Returns
    -------
    ndarray
        ``(2, 2)`` for binary scores, ``(C, 2, 2)`` one-vs-rest for multi-class; the dtype of
        ``scores``. The entries sum to ``n`` (per class).

    Raises
    ------
    TypeError
        Non-real ``scores`` or labels, non-scalar parameters.
    ValueError
        Bad shapes, labels out of range, non-finite scores, ``amplifier <= 0``.

    References
    ----------
    D. Han, N. Moniz, N. V. Chawla, "AnyLoss: Transforming Classification Metrics into Loss
    Functions", KDD 2024, arXiv:2405.14745.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.soft_confusion([0, 1, 1], np.array([0.1, 0.9, 0.2]), amplifier=73.0).round(3)
    array([[1., 0.],
           [1., 1.]])
    """
    k = _Call.of("soft_confusion", y_true, scores, amplifier)
    return _confusion_out(k, k.confusion())


def _confusion_out(k: _Call, c: Array) -> Any:
    m = np.moveaxis(c.reshape(2, 2, -1), -1, 0)  # (K, 2, 2): [[TN, FP], [FN, TP]]
    return k.cast(m if k.multiclass else m[0])


def _confusion_fwd(k: _Call) -> tuple[Any, _Call]:
    return soft_confusion_value(k), k


def soft_confusion_value(k: _Call) -> Any:
    return _confusion_out(k, k.confusion())


def _confusion_bwd(k: _Call, ct: Any) -> tuple[Any]:
    c = np.asarray(ct, dtype=np.float64).reshape(-1, 2, 2)  # (K, 2, 2)
    dc = np.moveaxis(c, 0, -1).reshape(4, -1)
    return (k.spread(dc).reshape(k.shape).astype(k.dtype),)


def _confusion_jvp(k: _Call, tangents: dict[str, Any]) -> tuple[Any, Any]:
    t = tangents.get("scores")
    da = np.zeros_like(k.a) if t is None else np.asarray(t, dtype=np.float64).reshape(k.a.shape) * k.da
    dc = k.confusion(da) - k.confusion(np.zeros_like(da))
    return soft_confusion_value(k), _confusion_out(k, dc)


rules(soft_confusion).fwd(_confusion_fwd)
rules(soft_confusion).bwd(_confusion_bwd)
rules(soft_confusion).jvp(_confusion_jvp)


@differentiable(
    params=("scores",),
    call=lambda y_true, scores, beta, amplifier: _Call.of("soft_fbeta", y_true, scores, amplifier, beta),
    examples=(*_EXAMPLES, Example({"scores": (20,)}, {"y_true": _Y20, "beta": 2.0, "amplifier": 2.0})),
)
def soft_fbeta(y_true: ArrayLike, scores: ArrayLike, *, beta: float = 1.0, amplifier: float = 73.0) -> Any:
    r"""Soft :math:`F_\beta = (1 + \beta^2) TP / ((1 + \beta^2) TP + \beta^2 FN + FP)` of the
    relaxed confusion matrix (macro-averaged over classes for multi-class scores).

    Parameters
    ----------
    y_true, scores, amplifier
        As for :func:`soft_confusion`.
    beta : float, keyword-only
        :math:`\beta > 0`: recall weighs :math:`\beta` times as much as precision.

    Returns
    -------
    scalar
        In ``[0, 1]`` (0 where a class has no positives and none predicted); ``1 - value`` is the
        loss. The dtype of ``scores``.

    Raises
    ------
    TypeError, ValueError
        As :func:`soft_confusion`, and ``beta <= 0``.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> y = np.array([0, 1, 1, 0])
    >>> round(float(softgrad.soft_fbeta(y, np.array([0.1, 0.9, 0.8, 0.3]))), 6)
    1.0
    >>> round(float(softgrad.soft_fbeta(y, np.array([0.1, 0.9, 0.2, 0.3]), beta=2.0)), 4)
    0.5556
    """
    return _value("fbeta", _Call.of("soft_fbeta", y_true, scores, amplifier, beta))


@differentiable(
    params=("scores",),
    call=lambda y_true, scores, amplifier: _Call.of("soft_f1", y_true, scores, amplifier),
    examples=_EXAMPLES,
)
def soft_f1(y_true: ArrayLike, scores: ArrayLike, *, amplifier: float = 73.0) -> Any:
    r"""Soft :math:`F_1 = 2 TP / (2 TP + FN + FP)`: :func:`soft_fbeta` with :math:`\beta = 1`.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> round(float(softgrad.soft_f1([0, 1, 1, 0], np.array([0.1, 0.9, 0.2, 0.3]))), 4)
    0.6667
    """
    return _value("fbeta", _Call.of("soft_f1", y_true, scores, amplifier))


@differentiable(
    params=("scores",),
    call=lambda y_true, scores, amplifier: _Call.of("soft_balanced_accuracy", y_true, scores, amplifier),
    examples=_EXAMPLES,
)
def soft_balanced_accuracy(y_true: ArrayLike, scores: ArrayLike, *, amplifier: float = 73.0) -> Any:
    r"""Soft balanced accuracy :math:`(TP/(TP + FN) + TN/(TN + FP))/2` (macro over classes).

    A class without positives (or negatives) contributes 0 for that half, as a 0/0 rate.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> round(float(softgrad.soft_balanced_accuracy([0, 1, 1, 0], np.array([0.1, 0.9, 0.2, 0.3]))), 4)
    0.75
    """
    return _value("balanced", _Call.of("soft_balanced_accuracy", y_true, scores, amplifier))


@differentiable(
    params=("scores",),
    call=lambda y_true, scores, amplifier: _Call.of("soft_accuracy", y_true, scores, amplifier),
    examples=_EXAMPLES,
)
def soft_accuracy(y_true: ArrayLike, scores: ArrayLike, *, amplifier: float = 73.0) -> Any:
    r"""Soft accuracy :math:`(TP + TN)/n` (one-vs-rest, macro over classes for multi-class).

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> round(float(softgrad.soft_accuracy([0, 1, 1, 0], np.array([0.1, 0.9, 0.2, 0.3]))), 4)
    0.75
    """
    return _value("accuracy", _Call.of("soft_accuracy", y_true, scores, amplifier))


for _op, _kind in (
    (soft_fbeta, "fbeta"),
    (soft_f1, "fbeta"),
    (soft_balanced_accuracy, "balanced"),
    (soft_accuracy, "accuracy"),
):
    _rules_for(_op, _kind)
del _op, _kind
