r"""Soft top-k: a differentiable membership mask of the ``k`` largest values.

Kernel: the soft-rank kernel of ``rust/softgrad-core/src/relax/sort/`` with the target
:math:`w = (1, \dots, 1, 0, \dots, 0)` (``k`` ones) instead of :math:`\rho = (n, \dots, 1)`: the
permutahedron of :math:`w` is the capped simplex :math:`\{m \in [0, 1]^n : \sum_i m_i = k\}`, so the
Euclidean projection of :math:`x/\varepsilon` onto it (Blondel et al., ICML 2020, section 3) is solved
by the same sort and pool-adjacent-violators pass, and has the same :math:`O(n)` VJP and JVP.
"""

from __future__ import annotations

import operator
from typing import Any

from numpy.typing import ArrayLike

from .autodiff import Example, differentiable, rules
from .sort import SortCall, _forward, _jvp, _pullback


def _call(
    x: ArrayLike,
    k: Any,
    strength: Any,
    axis: Any,
    n_threads: int | None,
    lengths: Any = None,
    mask: Any = None,
    nan_policy: Any = "raise",
) -> SortCall:
    func = "soft_topk"
    if isinstance(k, bool):
        raise TypeError(f"{func}: k must be an int, got {k!r}")
    try:
        kk = operator.index(k)
    except TypeError:
        raise TypeError(f"{func}: k must be an int, got {k!r}") from None
    c = SortCall.of(func, x, axis, strength, "l2", False, n_threads, "topk", lengths, mask, nan_policy)
    n = c.layout[1] if c.lengths is None or c.lengths.size == 0 else int(c.lengths.min())
    if not 0 <= kk <= n:
        raise ValueError(f"{func}: k must be in [0, n] = [0, {n}], got {kk}")
    return SortCall(**{**c.__dict__, "k": kk})


@differentiable(
    params=("x", "strength"),
    call=_call,
    examples=(
        Example({"x": (4, 7)}, {"k": 3, "strength": 0.5}),
        Example({"x": (5, 6)}, {"k": 2, "axis": 0}),
        Example({"x": (2, 3, 8)}, {"k": 2, "axis": 1, "strength": 2.0}),
        Example({"x": (9,)}, {"k": 1, "strength": 0.3}),
        Example({"x": (3, 40)}, {"k": 10, "strength": 100.0}),
        Example({"x": (3, 7)}, {"k": 2, "lengths": [7, 3, 2], "strength": 0.4}),
        Example(
            {"x": (2, 5)},
            {
                "k": 2,
                "mask": [[True, False, True, True, False], [False, True, True, True, True]],
                "strength": 0.4,
            },
        ),
    ),
)
def soft_topk(
    x: ArrayLike,
    k: int,
    *,
    strength: float = 1.0,
    axis: int = -1,
    n_threads: int | None = None,
    lengths: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    nan_policy: str = "raise",
) -> Any:
    r"""Soft top-k mask along ``axis``: values in ``[0, 1]`` summing to ``k``, near 1 on the ``k``
    largest entries.

    The Euclidean projection of :math:`x/\varepsilon` onto the capped simplex
    :math:`\{m \in [0, 1]^n : \sum_i m_i = k\}`, i.e. onto the permutahedron of
    :math:`(1, \dots, 1, 0, \dots, 0)`: with :math:`z` the values sorted descending and :math:`B`
    the blocks of the isotonic regression solved by PAV, the mask of the :math:`i`-th largest value
    is :math:`(z_i - \bar z_B)/\varepsilon + (\text{ones of } B)/|B|`.

    Parameters
    ----------
    x : array_like
        Input, at least 1-D.
    k : int
        How many entries to select, ``0 <= k <= n``.
    strength : float, keyword-only
        :math:`\varepsilon > 0`. As it tends to 0 the mask tends to the hard top-k (tied values at
        the boundary share the remaining mass equally); as it grows, to :math:`k/n` everywhere.
    axis : int, keyword-only
        The axis to select along (default ``-1``).
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.
    lengths : array_like of int, keyword-only, optional
        Ragged rows, as for :func:`softgrad.soft_sort` (each at least ``k``; the mask is 0 on the
        padding).
    mask : array_like of bool, keyword-only, optional
        The candidates, as for :func:`softgrad.soft_sort` (at least ``k`` per slice): a masked-out
        value is never selected (0, derivative 0).
    nan_policy : {"raise", "omit"}, keyword-only
        As for :func:`softgrad.soft_sort`: with ``"omit"`` NaN are not candidates and get NaN.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``; each slice along ``axis`` sums to ``k``.

    Raises
    ------
    TypeError
        As :func:`softgrad.soft_sort`, and a non-int ``k``.
    ValueError
        As :func:`softgrad.soft_sort`, and ``k`` outside ``[0, n]``.

    Notes
    -----
    Derivatives as for :func:`softgrad.soft_rank` (:math:`O(n)` per slice from the PAV blocks).

    References
    ----------
    M. Blondel, O. Teboul, Q. Berthet, J. Djolonga, "Fast Differentiable Sorting and Ranking",
    ICML 2020, arXiv:2002.08871.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x = np.array([0.1, 2.0, -1.0, 1.5])
    >>> softgrad.soft_topk(x, 2, strength=1e-3)
    array([0., 1., 0., 1.])
    >>> softgrad.soft_topk(x, 2, strength=2.0)
    array([0.15, 1.  , 0.  , 0.85])
    """
    return _call(x, k, strength, axis, n_threads, lengths, mask, nan_policy).forward(False)[0]


rules(soft_topk).fwd(_forward)
rules(soft_topk).bwd(_pullback)
rules(soft_topk).jvp(_jvp)
