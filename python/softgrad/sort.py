r"""Soft sorting and ranking: differentiable ``sort`` and ``rank`` in :math:`O(n \log n)`.

Kernels: ``rust/softgrad-core/src/relax/sort/`` (``pav.rs``: the sort, pool-adjacent-violators and
the derivatives), bound as ``softgrad._core.sort`` by ``rust/softgrad-py/src/relax/sort.rs``.

Blondel, Teboul, Berthet & Djolonga (ICML 2020) write soft sorting and ranking as projections onto
the permutahedron, reduced to an isotonic regression solved exactly by pool-adjacent-violators
(PAV). For a row :math:`x` of length :math:`n`, :math:`\rho = (n, n-1, \dots, 1)` and strength
:math:`\varepsilon`:

- ``soft_rank(x) = P(x/eps, rho)``, the projection of :math:`x/\varepsilon` onto the convex hull of the
  permutations of :math:`\rho`;
- ``soft_sort(x) = -P(rho/eps, -x)`` (ascending), the projection of :math:`\rho/\varepsilon` onto the
  hull of the permutations of :math:`x`;

with the Euclidean projection (``regularization="l2"``) or the KL one (``"kl"``). These are the
values of fast-soft-sort (``SoftRank``/``SoftSort``) and torchsort for the same parameters.

Derivatives. The forward keeps, in Rust, the sorting permutation, the sorted values and the blocks of
the PAV solution; within a block the Jacobian of the isotonic regression is a rank-one averaging
(``1/|B|`` for l2, a softmax for kl), so the VJP and JVP cost :math:`O(n)` per row, the strength
derivative included, and never form a dense Jacobian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._array import Array, Plan, cast, compute_dtype, float_array, result_dtype, scalar_param, threads_param
from ._core import sort as _k
from ._ragged import _Ragged, axis_of
from .autodiff import Example, differentiable, rules

_REGULARIZATIONS = ("l2", "kl")


@dataclass(frozen=True, eq=False)
class SortCall:
    """One call of ``soft_sort``/``soft_rank``, its arguments normalised once (shared by the value
    path and the derivative rules). ``x`` is in the compute dtype, C-contiguous in the
    ``(outer, n, inner)`` layout; it may be the caller's own buffer, which the rules never keep (the
    residuals are Rust's)."""

    func: str
    x: Array
    layout: tuple[int, int, int]
    shape: tuple[int, ...]
    dtype: np.dtype[Any]  # of the result
    x_dtype: np.dtype[Any]  # of the x cotangent
    op: str  # "sort", "rank" or "topk"
    reg: str
    strength: float
    descending: bool
    n_threads: int | None
    k: int = 0
    lengths: Array | None = None  # int64, one per lane (the layout's outer * inner), or None
    # Non-prefix masks: per lane, the positions of the kept values first (a stable argsort of the
    # mask, (outer, n, inner)); ``x`` is then compacted by it and results are scattered back.
    order: Array | None = None
    nan_at: Array | None = None  # bool (outer, n, inner): NaN omitted by nan_policy="omit"

    @classmethod
    def of(
        cls,
        func: str,
        x: ArrayLike,
        axis: Any,
        strength: Any,
        regularization: Any,
        descending: Any,
        n_threads: int | None,
        op: str,
        lengths: Any = None,
        mask: Any = None,
        nan_policy: Any = "raise",
    ) -> SortCall:
        arr = float_array(x, func, "x")
        s = scalar_param(strength, func, "strength")
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"{func}: strength must be finite and > 0, got {strength!r}")
        if not isinstance(regularization, str) or regularization not in _REGULARIZATIONS:
            raise ValueError(f"{func}: regularization must be 'l2' or 'kl', got {regularization!r}")
        if not isinstance(descending, (bool, np.bool_)):
            raise TypeError(f"{func}: descending must be a bool, got {descending!r}")
        nt = threads_param(n_threads, func)
        if arr.ndim == 0:
            raise ValueError(f"{func}: x must have at least one dimension, got a scalar")
        ax = axis_of(func, arr.ndim, axis)
        plan = Plan.of(arr.shape, (ax,))
        dt = result_dtype(arr.dtype)
        xc = plan.arrange(arr, compute_dtype(dt))
        layout = (plan.outer, plan.n, plan.inner)
        r = _Ragged.of(func, xc.reshape(layout), arr.shape, ax, lengths, mask, nan_policy)
        xc = r.compact(xc)
        return cls(
            func, xc, layout, arr.shape, dt, dt, op, regularization, s, bool(descending), nt, 0,
            r.lengths, r.order, r.nan_at,
        )  # fmt: skip

    def forward(self, keep: bool) -> tuple[Array, Any]:
        """The result in the shape of ``x`` (and the residuals, with ``keep``)."""
        flat, res = self.kernel(keep)
        return self.restore(flat, nan=True).astype(self.dtype, copy=False), res

    def kernel(self, keep: bool) -> tuple[Array, Any]:
        """The kernel's flat result, compacted as ``x`` is (and the residuals, with ``keep``)."""
        return _k.forward(
            self.x,
            self.layout,
            self.op,
            self.reg,
            self.strength,
            self.descending,
            self.n_threads,
            keep,
            self.k,
            self.lengths,
        )

    def arranged(self, v: Any) -> Array:
        """A cotangent or tangent of the shape of ``x`` as a C-contiguous array of the compute dtype
        (compacted as ``x`` is)."""
        a = np.ascontiguousarray(np.asarray(v).reshape(self.shape), dtype=self.x.dtype)
        if self.order is None:
            return a
        return np.take_along_axis(a.reshape(self.layout), self.order, axis=1).reshape(-1)

    def restore(self, flat: Array, nan: bool = False) -> Array:
        """A flat result of the kernels (compacted as ``x`` is) in the shape of ``x``: scattered
        back to the kept positions (0 at the others) and, with ``nan``, NaN where ``nan_policy``
        omitted a NaN."""
        if self.order is not None:
            out = np.empty(self.layout, flat.dtype)
            np.put_along_axis(out, self.order, flat.reshape(self.layout), axis=1)
            flat = out
        if nan and self.nan_at is not None:
            flat = np.where(self.nan_at, np.nan, flat.reshape(self.layout)).astype(flat.dtype, copy=False)
        return flat.reshape(self.shape)


def _call(func: str, op: str) -> Any:
    def make(
        x: ArrayLike,
        strength: Any,
        regularization: Any,
        descending: Any,
        axis: Any,
        n_threads: int | None,
        lengths: Any,
        mask: Any,
        nan_policy: Any,
    ) -> SortCall:
        return SortCall.of(
            func, x, axis, strength, regularization, descending, n_threads, op, lengths, mask, nan_policy
        )

    return make


def _examples() -> tuple[Example, ...]:
    return (
        Example({"x": (4, 7)}, {"strength": 0.5}),
        Example({"x": (5, 6)}, {"axis": 0, "regularization": "kl"}),
        Example({"x": (2, 3, 8)}, {"axis": 1, "descending": True, "strength": 2.0}),
        Example({"x": (9,)}, {"regularization": "kl", "strength": 0.3, "descending": True}),
        Example({"x": (3, 7)}, {"lengths": [7, 3, 0], "strength": 0.4}),
        Example({"x": (4, 2, 3)}, {"axis": 0, "lengths": [[4, 1, 2], [0, 3, 4]], "regularization": "kl"}),
        # 40 values in one block, far from any breakpoint or swap, so that finite differences are exact
        Example({"x": (3, 40)}, {"strength": 100.0}),
    )


@differentiable(params=("x", "strength"), call=_call("soft_sort", "sort"), examples=_examples())
def soft_sort(
    x: ArrayLike,
    *,
    strength: float = 1.0,
    regularization: str = "l2",
    descending: bool = False,
    axis: int = -1,
    n_threads: int | None = None,
    lengths: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    nan_policy: str = "raise",
) -> Any:
    r"""Soft sort along ``axis``: a differentiable relaxation of :func:`numpy.sort`.

    With :math:`\rho = (n, \dots, 1)`, :math:`z` the values sorted descending and ``ε = strength``,
    the descending soft sort is the projection of :math:`\rho/\varepsilon` onto the permutahedron of
    :math:`z`: per block :math:`B` of the isotonic regression solved by PAV,
    :math:`s_i = z`-average of :math:`B` plus :math:`(\rho_i - \bar\rho_B)/\varepsilon` (l2), or
    :math:`s_i = \operatorname{LSE}_B(z) + \rho_i/\varepsilon - \operatorname{LSE}_B(\rho/\varepsilon)` (kl).
    Ascending sorts are ``-soft_sort(-x, descending=True)``.

    Parameters
    ----------
    x : array_like
        Input, at least 1-D; float32 stays float32, bool and integers become float64, float16 is
        computed in float32.
    strength : float, keyword-only
        The regularization strength :math:`\varepsilon > 0` (finite). As it tends to 0 the result
        tends to ``np.sort(x)``; as it grows, to the mean of each row (l2) or to
        :math:`-\log \operatorname{mean} e^{-x}` (kl, ascending).
    regularization : {"l2", "kl"}, keyword-only
        Euclidean or KL projection.
    descending : bool, keyword-only
        Sort from largest to smallest.
    axis : int, keyword-only
        The axis to sort along (default ``-1``); any axis, without copying the input.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.

    lengths : array_like of int, keyword-only, optional
        Ragged rows in one call: the shape of ``x`` without ``axis``, each in ``[0, n]``; the slice
        at that position is its first ``lengths`` values only, and the rest of it is 0 in the
        result and in every derivative.
    mask : array_like of bool, keyword-only, optional
        The alternative to ``lengths`` (not both): booleans of the shape of ``x``; each slice is
        its ``True`` values only, wherever they are. A masked-out value takes no part in its
        slice's sort: it gets 0 in the result and in every derivative (its value is never read,
        so it may be NaN), and the sorted values fill the slice's kept positions in order. A mask
        that keeps a prefix of every slice is the same call as ``lengths``; any other is served by
        moving the kept values to the front of their slice (one copy of ``x``).
    nan_policy : {"raise", "omit"}, keyword-only
        ``"raise"`` (default): NaN in ``x`` is a ``ValueError`` naming its position. ``"omit"``:
        each NaN is masked out as by ``mask`` (as ``scipy.stats.rankdata(nan_policy="omit")``), and
        its position of the result is NaN (derivative 0). Infinities are refused either way.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (float64 for integer input). l2 preserves each row's sum.

    Raises
    ------
    TypeError
        Non-real ``x``; non-scalar ``strength``; non-int ``axis``; non-bool ``descending``.
    ValueError
        ``strength`` not finite and positive; unknown ``regularization`` or ``nan_policy``;
        ``axis`` out of bounds; a scalar ``x``; infinite values in ``x``, or NaN unless
        ``nan_policy="omit"`` (the message gives the first one's flat index in C order of ``x``
        moved so that ``axis`` is contiguous: for ``axis=-1``, of ``x``; with a mask that is not a
        prefix, of ``x`` with each slice's kept values moved to its front); ``lengths`` and
        ``mask`` both given, or of the wrong shape.

    Notes
    -----
    Under :func:`softgrad.vjp` and :func:`softgrad.jvp` the derivatives with respect to ``x`` and
    ``strength`` cost :math:`O(n)` per row from the PAV blocks kept by the forward (in Rust; the
    input is neither copied nor read again). At ties and block boundaries the function is not
    differentiable; the derivative of the pooled block is returned.

    References
    ----------
    M. Blondel, O. Teboul, Q. Berthet, J. Djolonga, "Fast Differentiable Sorting and Ranking",
    ICML 2020, arXiv:2002.08871.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x = np.array([2.0, 0.0, 1.0])
    >>> softgrad.soft_sort(x, strength=1e-3)
    array([0., 1., 2.])
    >>> softgrad.soft_sort(x, strength=2.0)  # one block: the mean, spread by rho/strength
    array([0.5, 1. , 1.5])
    >>> softgrad.soft_sort(x, strength=1e-3, descending=True)
    array([2., 1., 0.])
    """
    c = SortCall.of(
        "soft_sort",
        x,
        axis,
        strength,
        regularization,
        descending,
        n_threads,
        "sort",
        lengths,
        mask,
        nan_policy,
    )
    return c.forward(False)[0]


@differentiable(params=("x", "strength"), call=_call("soft_rank", "rank"), examples=_examples())
def soft_rank(
    x: ArrayLike,
    *,
    strength: float = 1.0,
    regularization: str = "l2",
    descending: bool = False,
    axis: int = -1,
    n_threads: int | None = None,
    lengths: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    nan_policy: str = "raise",
) -> Any:
    r"""Soft ranks along ``axis`` (1 = smallest): a differentiable relaxation of ranking.

    The projection of :math:`x/\varepsilon` onto the permutahedron of :math:`\rho = (n, \dots, 1)`:
    with :math:`z` the values sorted descending and :math:`B` the blocks of the isotonic regression
    solved by PAV, the rank of the :math:`i`-th largest value is
    :math:`(z_i - \bar z_B)/\varepsilon + \bar\rho_B` (l2) or
    :math:`\operatorname{softmax}_B(z/\varepsilon)_i \sum_B \rho` (kl, always positive).

    Parameters
    ----------
    x : array_like
        Input, at least 1-D.
    strength : float, keyword-only
        :math:`\varepsilon > 0`. As it tends to 0 the ranks tend to
        ``scipy.stats.rankdata(x, axis=axis)`` (ties get their average rank); as it grows, to
        :math:`(n + 1)/2`.
    regularization : {"l2", "kl"}, keyword-only
        Euclidean or KL projection.
    descending : bool, keyword-only
        Rank 1 for the largest value.
    axis : int, keyword-only
        The axis to rank along (default ``-1``).
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.

    lengths : array_like of int, keyword-only, optional
        Ragged rows, as for :func:`soft_sort` (padding ranks are 0).
    mask : array_like of bool, keyword-only, optional
        The values to rank, as for :func:`soft_sort`: a masked-out value gets rank 0 and the kept
        ones of a slice are ranked among themselves (``1 .. m``).
    nan_policy : {"raise", "omit"}, keyword-only
        As for :func:`soft_sort`: with ``"omit"`` the NaN of a slice are left out of its ranking
        and ranked NaN.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (float64 for integer input). With l2 each row sums to
        :math:`n(n+1)/2`.

    Raises
    ------
    TypeError, ValueError
        As :func:`soft_sort`.

    Notes
    -----
    Derivatives as for :func:`soft_sort`: :math:`O(n)` per row from the PAV blocks. The KL
    pullback is computed from per-block softmaxes shifted by their maximum, so it is finite for
    any finite input and strength.

    References
    ----------
    M. Blondel, O. Teboul, Q. Berthet, J. Djolonga, "Fast Differentiable Sorting and Ranking",
    ICML 2020, arXiv:2002.08871.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x = np.array([0.5, -1.0, 3.0, 0.5])
    >>> softgrad.soft_rank(x, strength=1e-3)
    array([2.5, 1. , 4. , 2.5])
    >>> softgrad.soft_rank(x, strength=3.0)
    array([2.41666667, 1.91666667, 3.25      , 2.41666667])
    >>> softgrad.soft_rank(x, strength=3.0, regularization="kl")
    array([2.30191039, 1.39617923, 4.        , 2.30191039])
    >>> softgrad.soft_rank(x, strength=1e-3, descending=True)
    array([2.5, 4. , 1. , 2.5])
    """
    c = SortCall.of(
        "soft_rank",
        x,
        axis,
        strength,
        regularization,
        descending,
        n_threads,
        "rank",
        lengths,
        mask,
        nan_policy,
    )
    return c.forward(False)[0]


# ---------------------------------------------------------------------------------------------
# derivatives: the residuals are Rust's (permutation, sorted values, PAV blocks)


def _forward(c: SortCall) -> tuple[Any, tuple[SortCall, Any]]:
    out, res = c.forward(True)
    return out, (c, res)


def _pullback(res: tuple[SortCall, Any], ct: Any) -> tuple[Any, Any]:
    c, r = res
    gx, ge = _k.vjp(r, c.arranged(ct), c.n_threads)
    return c.restore(gx).astype(c.x_dtype, copy=False), cast(ge, c.dtype)


def _jvp(c: SortCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    out, r = c.forward(True)
    dx = tangents.get("x")
    u = np.zeros(c.x.shape, c.x.dtype) if dx is None else c.arranged(dx)
    ds = float(tangents.get("strength", 0.0))
    tan = _k.jvp(r, u, ds, c.n_threads)
    return out, c.restore(tan).astype(c.dtype, copy=False)


for _op in (soft_sort, soft_rank):
    rules(_op).fwd(_forward)
    rules(_op).bwd(_pullback)
    rules(_op).jvp(_jvp)
del _op
