r"""Softmax cross-entropy, value and gradient in one fused pass.

Kernel: ``rust/softgrad-core/src/relax/logsumexp/cross_entropy/`` (``mod.rs``; ``strided.rs`` for a
class axis that is not last): it runs the family's softmax kernel on pieces of rows and turns the
probabilities into the gradient while they are in cache. Bound as ``softgrad._core.cross_entropy``
by ``rust/softgrad-py/src/relax/cross_entropy.rs``.

Derivatives. With :math:`z = x/t`, :math:`p = \operatorname{softmax}(z)` and targets :math:`y`, the
loss of a sample is :math:`\ell = -\sum_j y_j \log p_j` and

.. math::

    \frac{\partial \ell}{\partial x_j} = \frac{(\textstyle\sum_i y_i)\, p_j - y_j}{t}, \qquad
    \frac{\partial \ell}{\partial t} = -\frac{1}{t} \Big\langle \frac{\partial \ell}{\partial x}, x
    \Big\rangle.

The forward rule of :func:`softgrad.vjp` asks the kernel for the gradient (weighted and scaled for
the reduction), the per-sample losses and the per-sample :math:`\langle\,\cdot\,, x\rangle` terms; the
pullback only scales them by the cotangent. Nothing of the caller's arrays is kept.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._array import (
    Array,
    Plan,
    cast,
    compute_dtype,
    float_array,
    result_dtype,
    scalar_param,
    temperature_param,
    threads_param,
    unbroadcast,
)
from ._core import cross_entropy as _k
from .autodiff import Example, differentiable, rules

_F = "softmax_cross_entropy"
_REDUCTIONS = ("mean", "sum", "none")


@dataclass(frozen=True, eq=False)
class _Call:
    """One call, normalised once: logits (and probability labels) in the ``(outer, n, inner)`` layout
    of the class axis, in the compute dtype; class indices, weights per sample, flat."""

    x: Array
    probs: Array | None
    classes: Array | None
    w: Array | None  # per sample, compute dtype, flat
    plan: Plan
    t: float
    eps: float
    reduction: str
    n_threads: int | None
    dtype: np.dtype[Any]  # of the result and of the logits' cotangent
    sample_shape: tuple[int, ...]
    w_shape: tuple[int, ...] | None
    w_dtype: np.dtype[Any] | None
    wsum: float  # Σ w (the number of samples without weights)

    @property
    def layout(self) -> tuple[int, int, int]:
        return (self.plan.outer, self.plan.n, self.plan.inner)

    @property
    def scale(self) -> float:
        """The gradient's factor for the reduction: ``1/Σw`` for the mean, else 1."""
        if self.reduction != "mean":
            return 1.0
        return 1.0 / self.wsum if self.wsum != 0 else math.nan

    def run(self, grad: bool, losses: bool) -> tuple[float, Any, Any, Any]:
        return _k.softmax_cross_entropy(
            self.x,
            self.probs,
            self.classes,
            self.w,
            self.layout,
            self.t,
            self.eps,
            self.scale,
            grad,
            losses,
            self.n_threads,
        )

    def value(self, total: float, losses: Array | None) -> Any:
        """The result for the reduction, from the kernel's total and per-sample losses."""
        if self.reduction == "none":
            assert losses is not None
            v = losses if self.w is None else np.where(self.w == 0, 0.0, self.w * losses)
            out = v.reshape(self.sample_shape).astype(self.dtype)
            return out[()] if out.ndim == 0 else out
        if self.reduction == "sum":
            return cast(total, self.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            return cast(np.float64(total) / np.float64(self.wsum), self.dtype)


def _axis(axis: Any, ndim: int) -> int:
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{_F}: axis must be an int, got {axis!r}")
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"{_F}: axis must be an int (one class axis), got {axis!r}") from None
    if not -ndim <= a < ndim:
        raise ValueError(f"{_F}: axis {a} is out of bounds for logits of dimension {ndim}")
    return a % ndim


def _call(
    logits: ArrayLike,
    labels: ArrayLike,
    axis: int,
    label_smoothing: float,
    sample_weight: ArrayLike | None,
    reduction: str,
    temperature: float,
    n_threads: int | None,
) -> _Call:
    x = float_array(logits, _F, "logits")
    if x.ndim == 0:
        raise ValueError(f"{_F}: logits must have at least one dimension (the classes)")
    ax = _axis(axis, x.ndim)
    t = temperature_param(temperature, _F)
    eps = scalar_param(label_smoothing, _F, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{_F}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{_F}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    nt = threads_param(n_threads, _F)
    dt = result_dtype(x.dtype)
    cdt = compute_dtype(dt)
    plan = Plan.of(x.shape, (ax,))
    k = x.shape[ax]
    sample_shape = x.shape[:ax] + x.shape[ax + 1 :]
    if k == 0:
        raise ValueError(f"{_F}: logits has no classes (axis {ax} has length 0)")
    try:
        lab = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{_F}: labels must be array-like ({exc})") from None
    probs = classes = None
    if lab.shape == x.shape and lab.ndim != len(sample_shape):
        if lab.dtype.kind not in "biuf":
            raise TypeError(f"{_F}: labels (probabilities) must be real, got dtype {lab.dtype}")
        probs = plan.arrange(lab, cdt).reshape(-1)
    elif lab.shape == sample_shape:
        if lab.dtype.kind not in "iu":
            raise TypeError(
                f"{_F}: labels of shape {sample_shape} (the logits' without axis) are class indices "
                f"and must be integers, got dtype {lab.dtype}"
            )
        if lab.dtype.kind == "u" and lab.size and int(lab.max()) >= k:
            raise ValueError(f"{_F}: labels must be class indices in [0, {k}), got {int(lab.max())}")
        classes = np.ascontiguousarray(lab, dtype=np.int64).reshape(-1)
    else:
        raise ValueError(
            f"{_F}: labels has shape {lab.shape}; expected {sample_shape} (class indices) "
            f"or {x.shape} (probabilities, the shape of logits)"
        )
    w = w_shape = w_dtype = None
    wsum = float(math.prod(sample_shape))
    if sample_weight is not None:
        warr = float_array(sample_weight, _F, "sample_weight")
        w_shape, w_dtype = warr.shape, result_dtype(warr.dtype)
        try:
            wb = np.broadcast_to(warr, sample_shape)
        except ValueError:
            raise ValueError(
                f"{_F}: sample_weight with shape {warr.shape} does not broadcast to the samples' "
                f"shape {sample_shape}"
            ) from None
        w = np.ascontiguousarray(wb, dtype=cdt).reshape(-1)
        wsum = float(np.sum(w, dtype=np.float64))
    xc = plan.arrange(x, cdt).reshape(-1)
    return _Call(xc, probs, classes, w, plan, t, eps, reduction, nt, dt, sample_shape, w_shape, w_dtype, wsum)


_EXAMPLE_CLASSES = [0, 3, 4, 1]
EXAMPLES = (
    Example({"logits": (4, 5)}, {"labels": _EXAMPLE_CLASSES}),
    Example(
        {"logits": (4, 5)},
        {"labels": _EXAMPLE_CLASSES, "label_smoothing": 0.2, "temperature": 0.7, "reduction": "sum"},
    ),
    Example({"logits": (4, 5), "labels": (4, 5)}, {"reduction": "none"}, positive=("labels",)),
    Example(
        {"logits": (4, 5), "sample_weight": (4,)},
        {"labels": _EXAMPLE_CLASSES, "label_smoothing": 0.1},
        positive=("sample_weight",),
    ),
    Example(
        {"logits": (3, 5, 2), "sample_weight": (3, 2)},
        {"labels": [[0, 4], [2, 2], [1, 3]], "axis": 1, "reduction": "none", "label_smoothing": 0.1},
        positive=("sample_weight",),
    ),
    Example(
        {"logits": (3, 4, 6), "labels": (3, 4, 6), "sample_weight": (1, 6)},
        {"axis": 1, "temperature": 1.3, "label_smoothing": 0.3},
        positive=("labels", "sample_weight"),
    ),
    Example({"logits": (2, 2100)}, {"labels": [5, 2099], "temperature": 2.0}),
    Example({"logits": (7,)}, {"labels": 3, "reduction": "none", "temperature": 0.8}),
)


@differentiable(
    params=("logits", "sample_weight", "temperature"),
    call=lambda logits, labels, axis, label_smoothing, sample_weight, reduction, temperature, n_threads: (
        _call(logits, labels, axis, label_smoothing, sample_weight, reduction, temperature, n_threads)
    ),
    examples=EXAMPLES,
)
def softmax_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    label_smoothing: float = 0.0,
    sample_weight: ArrayLike | None = None,
    reduction: str = "mean",
    temperature: float = 1.0,
    n_threads: int | None = None,
) -> Any:
    r"""Cross-entropy between targets and the softmax of ``logits / temperature`` along ``axis``.

    For each sample (every index of ``logits`` but ``axis``), with :math:`K` classes,
    :math:`p = \operatorname{softmax}(x/t)` and targets :math:`y`,

    .. math::

        \ell = -\sum_j y_j \log p_j, \qquad
        y = (1-\varepsilon)\, e_c + \varepsilon/K \quad\text{or}\quad
        y = (1-\varepsilon)\, q + \varepsilon/K

    for a class index :math:`c` or a target distribution :math:`q`, with label smoothing
    :math:`\varepsilon`. The values of ``torch.nn.functional.cross_entropy`` (``reduction``,
    ``label_smoothing``, class indices or probabilities) and of optax's
    ``softmax_cross_entropy(_with_integer_labels)`` (per-sample losses), computed from the
    log-sum-exp so that no finite logit overflows.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, at least 1-D; float32 stays float32, bool and integers become float64.
    labels : array_like
        Either integer class indices in ``[0, K)`` with the shape of ``logits`` without ``axis``, or
        target probabilities with the shape of ``logits`` (any real weights: they need not sum to
        one, the loss is then :math:`-\sum_j y_j \log p_j` as written).
    axis : int, keyword-only
        The class axis (default ``-1``).
    label_smoothing : float, keyword-only
        :math:`\varepsilon \in [0, 1]` (default 0).
    sample_weight : array_like, optional, keyword-only
        One weight per sample (broadcast to the shape of ``logits`` without ``axis``). A sample of
        weight 0 contributes nothing, even if its loss is infinite or NaN: use it to mask samples (as
        torch's ``ignore_index`` does).
    reduction : {'mean', 'sum', 'none'}, keyword-only
        ``'mean'``: the weighted mean :math:`\sum_i w_i \ell_i / \sum_i w_i` (torch's convention for
        weighted cross-entropy; the plain mean without weights); ``'sum'``: :math:`\sum_i w_i
        \ell_i`; ``'none'``: the per-sample :math:`w_i \ell_i` (shape of ``logits`` without
        ``axis``). For Keras' ``sum(w l) / N``, use ``'sum'`` and divide by the number of samples.
    temperature : float, keyword-only
        :math:`t > 0`, finite: the logits are divided by it.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    float or ndarray
        A NumPy scalar of the logits' dtype, or for ``reduction='none'`` an array of per-sample
        losses. A sample with a NaN or ``+inf`` logit, or with every logit ``-inf``, has a NaN loss;
        a ``-inf`` logit is fine where its target is 0 (with smoothing every target is positive, and
        the loss is ``inf``). The mean of no samples (or of weights summing to 0) is NaN.

    Raises
    ------
    TypeError
        Non-real logits, weights or probability labels; non-integer class indices; a non-scalar
        ``temperature``/``label_smoothing``; a non-int ``axis``.
    ValueError
        Class indices outside ``[0, K)`` (named ``labels``; there is no ``ignore_index``: give such
        samples weight 0), labels or weights of the wrong shape, an empty class axis, or a bad
        ``axis``, ``reduction``, ``label_smoothing``, ``temperature`` or ``n_threads``.

    Notes
    -----
    Differentiable (:func:`softgrad.vjp`, :func:`softgrad.jvp`) with respect to ``logits``,
    ``sample_weight`` and ``temperature``; ``labels`` are data (the cotangent of probability labels
    would be :math:`-w \log p` per class, scaled as the reduction: ``-log_softmax`` is one call away).
    The loss and the gradient :math:`w\,((\sum_i y_i)\,p - y)/t` (scaled by :math:`1/\sum w` for the
    mean) come from one pass over the logits; the pullback scales that gradient by the cotangent.
    **The logits' cotangent is read-only**: for a unit cotangent (``pullback(1.0)``, the usual call
    of an optimizer loop) it is the gradient the forward computed, handed out without a copy and
    kept by the pullback (as JAX arrays are immutable); copy it to change it.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> float(softgrad.softmax_cross_entropy(logits, np.array([0, 1])).round(5))
    0.31854
    >>> softgrad.softmax_cross_entropy(logits, np.array([0, 1]), reduction="none").round(5)
    array([0.41703, 0.22005])
    >>> q = np.array([[0.9, 0.1, 0.0], [0.0, 1.0, 0.0]])  # probabilities as labels
    >>> softgrad.softmax_cross_entropy(logits, q, label_smoothing=0.1, reduction="none").round(5)
    array([0.6037 , 0.36005])
    >>> loss, pullback = softgrad.vjp(softgrad.softmax_cross_entropy, logits, np.array([0, 1]))
    >>> pullback(1.0).logits.round(4)  # (softmax(logits) - onehot) / 2
    array([[-0.1705,  0.1212,  0.0493],
           [ 0.0543, -0.0988,  0.0445]])

    References
    ----------
    Szegedy et al., "Rethinking the Inception architecture for computer vision", CVPR 2016 (label
    smoothing).
    """
    c = _call(logits, labels, axis, label_smoothing, sample_weight, reduction, temperature, n_threads)
    total, losses, _, _ = c.run(grad=False, losses=reduction == "none")
    return c.value(total, losses)


# ---------------------------------------------------------------------------------------------
# derivatives: the kernel's gradient, per-sample losses and temperature dots are the residuals


@dataclass(frozen=True, eq=False)
class _Residuals:
    c: _Call  # with x, probs and classes dropped: no array of the caller is kept
    w: Array | None  # a private copy of the weights
    total: float
    losses: Array  # float64, per sample, unweighted
    dots: Array  # float64, per sample: Σ_j (Σy p_j - y_j)(x_j - L)
    grad: Array  # compute dtype, the layout of the logits


def _forward(c: _Call) -> tuple[Any, _Residuals]:
    total, losses, dots, grad = c.run(grad=True, losses=True)
    grad.flags.writeable = False  # the pullback may hand it out: no view of it may change it
    w = None if c.w is None else c.w.copy()
    lean = _Call(
        c.x[:0], None, None, None, c.plan, c.t, c.eps, c.reduction, c.n_threads, c.dtype,
        c.sample_shape, c.w_shape, c.w_dtype, c.wsum,
    )  # fmt: skip
    value = c.value(total, losses)
    return value, _Residuals(lean, w, total, losses, dots, grad)


def _per_sample(r: _Residuals, ct: Any) -> Array:
    """The factor of each sample's gradient: the cotangent (per sample for 'none') times the
    reduction's scale."""
    c = r.c
    if c.reduction == "none":
        return np.asarray(ct, dtype=np.float64).reshape(-1)
    return np.full(r.losses.shape, float(ct) * c.scale)


def _weights(r: _Residuals) -> Array:
    return np.ones(r.losses.shape) if r.w is None else r.w.astype(np.float64)


def _weight_coefficients(r: _Residuals) -> Array:
    """d value / d w_i, per sample, for a unit cotangent (per sample for 'none')."""
    c = r.c
    if c.reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            return (r.losses - r.total / c.wsum) / c.wsum
    return r.losses


@rules(softmax_cross_entropy).fwd
def _(c: _Call) -> tuple[Any, _Residuals]:
    return _forward(c)


@rules(softmax_cross_entropy).bwd
def _(r: _Residuals, ct: Any) -> tuple[Any, Any, Any]:
    c = r.c
    outer, n, inner = c.layout
    g = r.grad
    if c.reduction == "none":
        cs = np.asarray(ct, dtype=np.float64).reshape(outer, 1, inner).astype(g.dtype)
        dx = (g.reshape(outer, n, inner) * cs).reshape(-1)
    elif float(ct) == 1.0:
        dx = g  # the usual call: the forward's gradient itself, no copy (it is read-only)
    else:
        dx = g * g.dtype.type(float(ct))
    dx.flags.writeable = False  # always read-only, as the case above must be
    dlogits = c.plan.restore(dx).astype(c.dtype, copy=False)
    dt = _dt(r, ct)
    dw = None
    if r.w is not None:
        assert c.w_shape is not None and c.w_dtype is not None
        cw = np.asarray(ct, dtype=np.float64).reshape(-1) if c.reduction == "none" else float(ct)
        full = (cw * _weight_coefficients(r)).reshape(c.sample_shape)
        dw = unbroadcast(full, c.w_shape).reshape(c.w_shape).astype(c.w_dtype)
    return dlogits, dw, cast(dt, c.dtype)


def _dt(r: _Residuals, ct: Any) -> float:
    """The temperature cotangent: ``-Σ_i f_i w_i dots_i / t²``."""
    f = _per_sample(r, ct)
    with np.errstate(invalid="ignore"):
        return -float(np.sum(f * _weights(r) * r.dots)) / r.c.t**2


@rules(softmax_cross_entropy).jvp
def _(c: _Call, tangents: dict[str, Any]) -> tuple[Any, Any]:
    value, r = _forward(c)
    outer, n, inner = c.layout
    tan = np.zeros(r.losses.shape)
    if "logits" in tangents:
        v = c.plan.arrange(np.asarray(tangents["logits"], dtype=np.float64).reshape(c.plan.shape), np.float64)
        g = r.grad.astype(np.float64).reshape(outer, n, inner)
        tan += np.sum(g * v.reshape(outer, n, inner), axis=1).reshape(-1)
    if "temperature" in tangents:
        tan -= float(tangents["temperature"]) * c.scale * _weights(r) * r.dots / c.t**2
    if "sample_weight" in tangents:
        assert c.w_shape is not None
        dw = np.broadcast_to(
            np.asarray(tangents["sample_weight"], dtype=np.float64).reshape(c.w_shape), c.sample_shape
        )
        tan += _weight_coefficients(r) * dw.reshape(-1)
    if c.reduction == "none":
        out = tan.reshape(c.sample_shape).astype(c.dtype)
        return value, (out[()] if out.ndim == 0 else out)
    return value, cast(np.sum(tan), c.dtype)
