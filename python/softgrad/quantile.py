r"""Soft quantiles: :func:`numpy.quantile` (linear interpolation) of the soft sort.

The ``q``-quantile of a slice is read from its ascending soft sort (:func:`softgrad.soft_sort`) at
position :math:`q (n - 1)`, interpolating linearly between the two neighbouring entries as NumPy's
default ``method="linear"`` does; as the strength tends to 0 it is ``np.quantile``. The derivatives
are the soft sort's (:math:`O(n)` per slice from the PAV blocks), composed with the interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._array import Array, cast
from ._core import sort as _k
from .autodiff import Example, differentiable, rules
from .sort import SortCall


@dataclass(frozen=True, eq=False)
class _QuantileCall:
    c: SortCall
    axis: int
    q_shape: tuple[int, ...]
    lo: Array  # (outer, len(q), inner): the two neighbours in each (compacted) slice and the weight
    hi: Array
    frac: Array
    empty: Array | None  # (outer, 1, inner): slices with no values (NaN quantiles), if ragged

    @classmethod
    def of(
        cls,
        x: ArrayLike,
        q: Any,
        strength: Any,
        regularization: Any,
        axis: Any,
        n_threads: int | None,
        lengths: Any = None,
        mask: Any = None,
        nan_policy: Any = "raise",
    ) -> _QuantileCall:
        func = "soft_quantile"
        c = SortCall.of(
            func, x, axis, strength, regularization, False, n_threads, "sort", lengths, mask, nan_policy
        )
        try:
            qa = np.asarray(q)
        except (TypeError, ValueError):
            raise TypeError(f"{func}: q must be a real number or array of them, got {q!r}") from None
        if qa.dtype.kind not in "biuf":
            raise TypeError(f"{func}: q must be a real number or array of them, got dtype {qa.dtype}")
        qa = qa.astype(np.float64)
        if not np.all((qa >= 0.0) & (qa <= 1.0)):  # NaN fails too
            bad = qa[~((qa >= 0.0) & (qa <= 1.0))].flat[0]
            raise ValueError(f"{func}: q must be in [0, 1], got {bad}")
        outer, n, inner = c.layout
        if n == 0:
            raise ValueError(f"{func}: x has no values along axis {axis}")
        m = np.full((1, 1, 1), n) if c.lengths is None else c.lengths.reshape(outer, 1, inner)
        pos = qa.reshape(1, -1, 1) * (m - 1)
        lo = np.maximum(np.minimum(np.floor(pos).astype(np.int64), np.maximum(m - 2, 0)), 0)
        hi = np.minimum(lo + 1, np.maximum(m - 1, 0))
        frac = np.where(m > 0, pos - lo, 0.0)
        full = (outer, qa.size, inner)
        lo, hi, frac = (np.broadcast_to(a, full) for a in (lo, hi, frac))
        empty = None if c.lengths is None or m.min() > 0 else m == 0
        return cls(c, int(axis) % len(c.shape), qa.shape, lo, hi, frac, empty)

    def interpolate(self, flat: Array, nan: bool = True) -> Array:
        """Values at the quantile positions of a flat ``(outer, n, inner)`` array (compacted as
        ``x`` is), shaped as ``np.quantile`` returns them: ``q.shape + x.shape without axis``; NaN
        for an empty slice (0 without ``nan``: tangents)."""
        s3 = flat.reshape(self.c.layout)
        f = self.frac
        v = (1.0 - f) * np.take_along_axis(s3, self.lo, axis=1) + f * np.take_along_axis(s3, self.hi, axis=1)
        if self.empty is not None:
            v = np.where(self.empty, np.nan if nan else 0.0, v)
        shape, ax = self.c.shape, self.axis
        v = v.reshape((*shape[:ax], self.lo.shape[1], *shape[ax + 1 :]))
        v = np.moveaxis(v, ax, 0).reshape(self.q_shape + shape[:ax] + shape[ax + 1 :])
        out: Array = v.astype(self.c.dtype, copy=False)
        return out

    def scatter(self, ct: Any) -> Array:
        """The adjoint of :meth:`interpolate`: a cotangent of the quantiles as a flat array of the
        layout (compacted, in the compute dtype)."""
        outer, n, inner = self.c.layout
        shape, ax = self.c.shape, self.axis
        g = np.asarray(ct, dtype=np.float64).reshape((self.lo.shape[1], *shape[:ax], *shape[ax + 1 :]))
        g3 = np.moveaxis(g, 0, ax).reshape(outer, self.lo.shape[1], inner)
        if self.empty is not None:
            g3 = np.where(self.empty, 0.0, g3)
        out = np.zeros((outer, n, inner))
        o, i = np.arange(outer)[:, None, None], np.arange(inner)[None, None, :]
        np.add.at(out, (o, self.lo, i), (1.0 - self.frac) * g3)
        np.add.at(out, (o, self.hi, i), self.frac * g3)
        return np.ascontiguousarray(out.reshape(-1), dtype=self.c.x.dtype)

    def value(self) -> Any:
        v = self.interpolate(self.c.kernel(False)[0])
        return v[()] if v.ndim == 0 else v


@differentiable(
    params=("x", "strength"),
    call=lambda x, q, strength, regularization, axis, n_threads, lengths, mask, nan_policy: _QuantileCall.of(
        x, q, strength, regularization, axis, n_threads, lengths, mask, nan_policy
    ),
    examples=(
        Example({"x": (4, 7)}, {"q": 0.3, "strength": 0.5}),
        Example({"x": (5, 6)}, {"q": [0.1, 0.5, 0.9], "axis": 0, "regularization": "kl"}),
        Example({"x": (2, 3, 8)}, {"q": [[0.25], [1.0]], "axis": 1, "strength": 2.0}),
        Example({"x": (9,)}, {"q": 0.5, "strength": 0.3}),
        Example({"x": (3, 40)}, {"q": [0.0, 0.77], "strength": 100.0}),
        Example({"x": (4, 6)}, {"q": [0.3, 1.0], "lengths": [6, 2, 1, 4], "strength": 0.5}),
        Example(
            {"x": (6, 3)}, {"q": 0.6, "axis": 0, "mask": (np.arange(18).reshape(6, 3) % 4 != 1).tolist()}
        ),
    ),
)
def soft_quantile(
    x: ArrayLike,
    q: Any,
    *,
    strength: float = 1.0,
    regularization: str = "l2",
    axis: int = -1,
    n_threads: int | None = None,
    lengths: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    nan_policy: str = "raise",
) -> Any:
    r"""Soft ``q``-quantiles along ``axis``: :func:`numpy.quantile` of the soft sort.

    With :math:`s` the ascending soft sort of a slice (:func:`softgrad.soft_sort`) and
    :math:`p = q (n - 1)`, the result is :math:`(1 - (p - \lfloor p \rfloor)) s_{\lfloor p \rfloor}
    + (p - \lfloor p \rfloor) s_{\lfloor p \rfloor + 1}` (NumPy's ``method="linear"``).

    Parameters
    ----------
    x : array_like
        Input, at least 1-D, with at least one value along ``axis``.
    q : float or array_like of float
        Quantiles in ``[0, 1]``.
    strength : float, keyword-only
        :math:`\varepsilon > 0`. As it tends to 0 the result is ``np.quantile(x, q, axis=axis)``;
        as it grows (l2), the mean of the slice.
    regularization : {"l2", "kl"}, keyword-only
        Of the soft sort.
    axis : int, keyword-only
        The axis of the slices (default ``-1``).
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.
    lengths, mask : keyword-only, optional
        Ragged slices, as for :func:`softgrad.soft_sort`: each slice's quantiles are those of its
        kept values (``m`` of them, interpolated at :math:`q (m - 1)`); a slice with none gives NaN
        (derivative 0), as :func:`numpy.nanquantile` does.
    nan_policy : {"raise", "omit"}, keyword-only
        ``"omit"`` leaves NaN out of their slice: with a tiny strength, :func:`numpy.nanquantile`.

    Returns
    -------
    ndarray or scalar
        Shape ``q.shape + x.shape without axis``, as ``np.quantile``; the dtype of ``x``.

    Raises
    ------
    TypeError
        As :func:`softgrad.soft_sort`, and a non-real ``q``.
    ValueError
        As :func:`softgrad.soft_sort`, ``q`` outside ``[0, 1]`` (or NaN), and an empty axis.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x = np.array([3.0, 1.0, 4.0, 1.5, 9.0])
    >>> float(softgrad.soft_quantile(x, 0.5, strength=1e-3)), float(np.quantile(x, 0.5))
    (3.0, 3.0)
    >>> softgrad.soft_quantile(x, [0.25, 0.75], strength=1e-3)
    array([1.5, 4. ])
    """
    return _QuantileCall.of(
        x, q, strength, regularization, axis, n_threads, lengths, mask, nan_policy
    ).value()


def _forward(qc: _QuantileCall) -> tuple[Any, tuple[_QuantileCall, Any]]:
    flat, res = qc.c.kernel(True)
    v = qc.interpolate(flat)
    return (v[()] if v.ndim == 0 else v), (qc, res)


def _pullback(res: tuple[_QuantileCall, Any], ct: Any) -> tuple[Any, Any]:
    qc, r = res
    c = qc.c
    gx, ge = _k.vjp(r, qc.scatter(ct), c.n_threads)
    return c.restore(gx).astype(c.x_dtype, copy=False), cast(ge, c.dtype)


def _jvp(qc: _QuantileCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    c = qc.c
    flat, r = c.kernel(True)
    dx = tangents.get("x")
    u = np.zeros(c.x.shape, c.x.dtype) if dx is None else c.arranged(dx)
    tan = _k.jvp(r, u, float(tangents.get("strength", 0.0)), c.n_threads)
    v, t = qc.interpolate(flat), qc.interpolate(tan, nan=False)
    return (v[()] if v.ndim == 0 else v), (t.reshape(()) if t.ndim == 0 else t)


rules(soft_quantile).fwd(_forward)
rules(soft_quantile).bwd(_pullback)
rules(soft_quantile).jvp(_jvp)
