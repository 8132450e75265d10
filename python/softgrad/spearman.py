r"""A differentiable Spearman correlation loss built on :func:`softgrad.soft_rank`.

Spearman's correlation is Pearson's correlation of ranks; replacing the ranks of the prediction by
soft ranks makes it differentiable (Blondel et al., ICML 2020, section 6). The loss is
:math:`1 - \rho` with :math:`\rho = \operatorname{corr}(r_\varepsilon(\hat y), \operatorname{rank}(y))`;
with the centred ranks :math:`r_c, t_c`, :math:`\partial\rho/\partial r =
t_c / (\lVert r_c\rVert \lVert t_c\rVert) - \rho\, r_c / \lVert r_c\rVert^2`, pulled back through the
soft rank in :math:`O(n)` per slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._array import Array, cast, float_array
from ._core import sort as _k
from ._ragged import axis_of, keep_of, nan_policy_of
from .autodiff import Example, differentiable, rules
from .sort import SortCall

# Exact ties pool; two distinct normal doubles differ by more than this, so the soft rank with this
# strength is the hard average rank (scipy.stats.rankdata) of the target.
_HARD = 1e-300


@dataclass(frozen=True, eq=False)
class _SpearmanCall:
    c: SortCall
    axis: int
    tc: Array  # centred hard ranks of the target, (outer, n, inner), float64, 0 where left out
    tn: Array  # their norms, (outer, 1, inner)
    valid: Array | None  # (outer, n, inner): the kept pairs of each compacted slice, if ragged
    m: Array | None  # (outer, 1, inner): how many

    @classmethod
    def of(
        cls,
        pred: ArrayLike,
        target: ArrayLike,
        strength: Any,
        regularization: Any,
        axis: Any,
        n_threads: Any,
        lengths: Any = None,
        mask: Any = None,
        nan_policy: Any = "raise",
    ) -> _SpearmanCall:
        func = "spearman_loss"
        p = float_array(pred, func, "pred")
        t = float_array(target, func, "target")
        if t.shape != p.shape:
            raise ValueError(f"{func}: target has shape {t.shape}, pred has shape {p.shape}")
        if nan_policy_of(func, nan_policy) == "omit" and p.ndim:
            bad = np.isnan(p) | np.isnan(t)  # a NaN on either side leaves the pair out
            if bad.any():
                mask = keep_of(func, p.shape, axis_of(func, p.ndim, axis), lengths, mask) & ~bad
                lengths = None
        for name, a in (("pred", p), ("target", t)):
            _check_finite(func, name, a, keep_of(func, p.shape, axis_of(func, p.ndim, axis), lengths, mask))
        c = SortCall.of(func, p, axis, strength, regularization, False, n_threads, "rank", lengths, mask)
        tcall = SortCall.of(func, t, axis, _HARD, "l2", False, n_threads, "rank", lengths, mask)
        valid = m = None
        if c.lengths is not None:
            outer, n, inner = c.layout
            m = c.lengths.reshape(outer, 1, inner)
            valid = np.arange(n)[None, :, None] < m
        tc = _centred(tcall.kernel(False)[0].astype(np.float64).reshape(c.layout), valid, m)
        return cls(
            c, axis_of(func, p.ndim, axis), tc, np.sqrt(np.sum(tc * tc, axis=1, keepdims=True)), valid, m
        )

    def out(self, v3: Array) -> Any:
        """A per-slice ``(outer, 1, inner)`` array in the output shape (pred's without axis)."""
        shape, ax = self.c.shape, self.axis
        out = v3.reshape(shape[:ax] + shape[ax + 1 :]).astype(self.c.dtype, copy=False)
        return out[()] if out.ndim == 0 else out

    def rho(self, r_flat: Array) -> tuple[Array, Array]:
        """``(rho, d rho / d r)`` per slice from the soft ranks (flat, the compacted layout); 0
        where a slice's ranks are all equal (the correlation is undefined)."""
        rc = _centred(r_flat.astype(np.float64).reshape(self.c.layout), self.valid, self.m)
        rn = np.sqrt(np.sum(rc * rc, axis=1, keepdims=True))
        den = rn * self.tn
        ok = den > 0
        safe = np.where(ok, den, 1.0)
        rho = np.where(ok, np.sum(rc * self.tc, axis=1, keepdims=True) / safe, 0.0)
        grad = np.where(ok, self.tc / safe - rho * rc / np.where(ok, rn * rn, 1.0), 0.0)
        return rho, grad

    def ranks(self, keep: bool) -> tuple[Array, Any]:
        return self.c.kernel(keep)


def _check_finite(func: str, name: str, a: Array, keep: Array) -> None:
    """A ``ValueError`` naming the first kept non-finite value of ``a`` (C order), if any."""
    bad = ~np.isfinite(a) & keep
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{func}: {name} must be finite, got {a.flat[k]} at flat index {k}")


def _centred(r: Array, valid: Array | None, m: Array | None) -> Array:
    """``r`` minus its mean over each slice's kept values (the padding is 0 and stays 0)."""
    if valid is None or m is None:
        out: Array = r - r.mean(axis=1, keepdims=True)
        return out
    return np.where(valid, r - r.sum(axis=1, keepdims=True) / np.maximum(m, 1), 0.0)


@differentiable(
    params=("pred", "strength"),
    call=lambda pred, target, strength, regularization, axis, n_threads, lengths, mask, nan_policy: (
        _SpearmanCall.of(pred, target, strength, regularization, axis, n_threads, lengths, mask, nan_policy)
    ),
    examples=(
        Example({"pred": (4, 7), "target": (4, 7)}, {"strength": 0.5}),
        Example({"pred": (5, 6), "target": (5, 6)}, {"axis": 0, "regularization": "kl"}),
        Example({"pred": (2, 3, 8), "target": (2, 3, 8)}, {"axis": 2, "strength": 2.0}),
        Example({"pred": (9,), "target": (9,)}, {"strength": 0.3}),
        Example({"pred": (3, 8), "target": (3, 8)}, {"lengths": [8, 5, 3], "strength": 0.5}),
        Example(
            {"pred": (7, 2), "target": (7, 2)},
            {"axis": 0, "mask": (np.arange(14).reshape(7, 2) % 3 != 0).tolist()},
        ),
    ),
)
def spearman_loss(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    strength: float = 1.0,
    regularization: str = "l2",
    axis: int = -1,
    n_threads: int | None = None,
    lengths: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    nan_policy: str = "raise",
) -> Any:
    r"""``1 -`` the soft Spearman correlation of ``pred`` with ``target``, per slice along ``axis``.

    :math:`1 - \operatorname{corr}(r, t)` with :math:`r` the soft ranks of ``pred``
    (:func:`softgrad.soft_rank`) and :math:`t` the average ranks of ``target``
    (``scipy.stats.rankdata``), Pearson's correlation taken along ``axis``. Differentiable in
    ``pred`` and ``strength`` (``target`` is held fixed: its ranks are piecewise constant).

    Parameters
    ----------
    pred : array_like
        Predictions, at least 1-D.
    target : array_like
        Targets, the shape of ``pred``.
    strength, regularization, axis, n_threads
        As for :func:`softgrad.soft_rank`.
    lengths, mask : keyword-only, optional
        Ragged slices, as for :func:`softgrad.soft_rank`: each slice's correlation is over its kept
        ``(pred, target)`` pairs only (the others get derivative 0).
    nan_policy : {"raise", "omit"}, keyword-only
        ``"omit"`` leaves out every pair with a NaN on either side (as ``scipy.stats.spearmanr``
        with ``nan_policy="omit"``); ``"raise"``: a NaN in either is a ``ValueError``.

    Returns
    -------
    ndarray or scalar
        The loss in ``[0, 2]`` per slice: ``pred``'s shape without ``axis`` (a scalar for 1-D
        input). A slice whose ranks are all equal has correlation 0 (loss 1) and gradient 0.

    Raises
    ------
    TypeError, ValueError
        As :func:`softgrad.soft_rank`, for either argument; ``target`` of another shape.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> y = np.array([1.0, 5.0, 2.0, 4.0])
    >>> round(float(softgrad.spearman_loss(2 * y, y, strength=1e-3)), 12)  # same order
    0.0
    >>> round(float(softgrad.spearman_loss(-y, y, strength=1e-3)), 12)
    2.0
    >>> round(float(softgrad.spearman_loss(np.array([1.0, 2.0, 4.0, 3.0]), y, strength=1.0)), 6)
    0.8
    """
    sc = _SpearmanCall.of(pred, target, strength, regularization, axis, n_threads, lengths, mask, nan_policy)
    rho, _ = sc.rho(sc.ranks(False)[0])
    return sc.out(1.0 - rho)


def _forward(sc: _SpearmanCall) -> tuple[Any, tuple[_SpearmanCall, Any, Array]]:
    r, res = sc.ranks(True)
    rho, grad = sc.rho(r)
    return sc.out(1.0 - rho), (sc, res, grad)


def _pullback(res: tuple[_SpearmanCall, Any, Array], ct: Any) -> tuple[Any, Any]:
    sc, r, grad = res
    c = sc.c
    outer, _, inner = c.layout
    g = -np.asarray(ct, dtype=np.float64).reshape(outer, 1, inner) * grad
    gx, ge = _k.vjp(r, np.ascontiguousarray(g.reshape(-1), dtype=c.x.dtype), c.n_threads)
    return c.restore(gx).astype(c.x_dtype, copy=False), cast(ge, c.dtype)


def _jvp(sc: _SpearmanCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    c = sc.c
    r, res = sc.ranks(True)
    rho, grad = sc.rho(r)
    dx = tangents.get("pred")
    u = np.zeros(c.x.shape, c.x.dtype) if dx is None else c.arranged(dx)
    dr = _k.jvp(res, u, float(tangents.get("strength", 0.0)), c.n_threads)
    d = -np.sum(grad * dr.astype(np.float64).reshape(c.layout), axis=1, keepdims=True)
    return sc.out(1.0 - rho), sc.out(d)


rules(spearman_loss).fwd(_forward)
rules(spearman_loss).bwd(_pullback)
rules(spearman_loss).jvp(_jvp)
