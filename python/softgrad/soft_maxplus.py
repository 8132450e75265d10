r"""The log-semiring matrix product: smooth max-plus and min-plus ``matmul``.

Kernels: ``rust/softgrad-core/src/relax/soft_maxplus/`` (``gemm.rs``: the dense f64 product the
factorised form needs), bound as ``softgrad._core.soft_maxplus`` by
``rust/softgrad-py/src/relax/soft_maxplus.rs``.

:math:`C_{ij} = t \log \sum_k e^{(A_{ik} + B_{kj})/t}` replaces the max of the tropical (max-plus)
product :math:`\max_k A_{ik} + B_{kj}` by a log-sum-exp at temperature :math:`t`, which makes
longest/shortest-path, Viterbi and threshold dynamics differentiable; min-plus uses
:math:`-t \log \sum_k e^{-(A_{ik} + B_{kj})/t}`. As :math:`t \to 0` both tend to the hard products.

How. With the row maxima :math:`\alpha_i` of ``A`` and column maxima :math:`\beta_j` of ``B``,
:math:`C = \alpha_i + \beta_j + t \log (E^A E^B)_{ij}` with
:math:`E^A = e^{(A - \alpha)/t}` and :math:`E^B = e^{(B - \beta)/t}` (entries in ``[0, 1]``: no
overflow): :math:`O(mk + kn)` exponentials and one dense product, no :math:`m \times k \times n`
temporary. Entries where that product would lose terms to underflow (small temperatures), or whose
row or column holds an infinity or NaN, are computed exactly by the shifted log-sum-exp over ``k``.
The derivatives (the softmax weights :math:`P_{ikj}`, never stored) are two more dense products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._array import (
    Array,
    cast,
    compute_dtype,
    float_array,
    result_dtype,
    temperature_param,
    threads_param,
    unbroadcast,
)
from ._core import soft_maxplus as _k
from .autodiff import Example, differentiable, rules


@dataclass(frozen=True, eq=False)
class MatmulCall:
    """One call of ``soft_maxplus_matmul``/``soft_minplus_matmul``, its arguments normalised once:
    the stacks of ``A`` and ``B`` matrices (flat, C-contiguous, the compute dtype) and which pair of
    them each product of the broadcast batch takes. The residuals are Rust's private copies."""

    func: str
    a: Array
    b: Array
    a_index: Array
    b_index: Array
    m: int
    k: int
    n: int
    t: float
    min: bool
    n_threads: int | None
    dtype: np.dtype[Any]
    a_dtype: np.dtype[Any]
    b_dtype: np.dtype[Any]
    a_shape: tuple[int, ...]  # as given
    b_shape: tuple[int, ...]
    a_full: tuple[int, ...]  # as 2-D-or-more (1-D promoted as np.matmul does)
    b_full: tuple[int, ...]
    batch: tuple[int, ...]
    out_shape: tuple[int, ...]

    @classmethod
    def of(cls, func: str, A: Any, B: Any, temperature: Any, n_threads: Any, minplus: bool) -> MatmulCall:
        a, b = float_array(A, func, "A"), float_array(B, func, "B")
        t = temperature_param(temperature, func)
        nt = threads_param(n_threads, func)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"{func}: A and B must have at least one dimension, got shapes {a.shape} and {b.shape}"
            )
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        m, k = a2.shape[-2:]
        k2, n = b2.shape[-2:]
        if k != k2:
            raise ValueError(
                f"{func}: inner dimensions differ: A has shape {a.shape} ({k} columns), B has shape "
                f"{b.shape} ({k2} rows)"
            )
        try:
            batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
        except ValueError:
            raise ValueError(
                f"{func}: batch dimensions do not broadcast: A has shape {a.shape}, B has shape {b.shape}"
            ) from None
        dt = result_dtype(a.dtype, b.dtype)
        ct = compute_dtype(dt)
        na, nb = math.prod(a2.shape[:-2]), math.prod(b2.shape[:-2])
        ai = np.broadcast_to(np.arange(na, dtype=np.int64).reshape(a2.shape[:-2]), batch).reshape(-1)
        bi = np.broadcast_to(np.arange(nb, dtype=np.int64).reshape(b2.shape[:-2]), batch).reshape(-1)
        out_shape = batch + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
        return cls(
            func,
            np.ascontiguousarray(a2, dtype=ct).reshape(-1),
            np.ascontiguousarray(b2, dtype=ct).reshape(-1),
            np.ascontiguousarray(ai),
            np.ascontiguousarray(bi),
            m,
            k,
            n,
            t,
            minplus,
            nt,
            dt,
            result_dtype(a.dtype),
            result_dtype(b.dtype),
            a.shape,
            b.shape,
            a2.shape,
            b2.shape,
            batch,
            out_shape,
        )

    def forward(self, keep: bool) -> tuple[Any, Any]:
        flat, res = _k.forward(
            self.a,
            self.b,
            self.a_index,
            self.b_index,
            self.m,
            self.k,
            self.n,
            self.t,
            self.min,
            self.n_threads,
            keep,
        )
        out = flat.reshape(self.out_shape).astype(self.dtype, copy=False)
        return (out[()] if out.ndim == 0 else out), res

    def cotangent(self, g: Array, which: str) -> Array:
        """A per-product cotangent (flat) summed over broadcast copies, in the argument's shape."""
        if which == "a":
            full, shape, dt, inner = self.a_full, self.a_shape, self.a_dtype, (self.m, self.k)
        else:
            full, shape, dt, inner = self.b_full, self.b_shape, self.b_dtype, (self.k, self.n)
        per = g.reshape(self.batch + inner)
        summed = unbroadcast(per, full) if per.shape != full else per
        return np.ascontiguousarray(summed).reshape(shape).astype(dt, copy=False)

    def arranged(self, v: Any, which: str) -> Array:
        full = self.a_full if which == "a" else self.b_full
        return np.ascontiguousarray(np.asarray(v).reshape(full), dtype=self.a.dtype).reshape(-1)


def _call(func: str, minplus: bool) -> Any:
    def make(A: Any, B: Any, temperature: Any, n_threads: Any = None) -> MatmulCall:
        return MatmulCall.of(func, A, B, temperature, n_threads, minplus)

    return make


def _examples() -> tuple[Example, ...]:
    return (
        Example({"A": (3, 4), "B": (4, 5)}, {"temperature": 0.5}),
        Example({"A": (2, 1, 3, 4), "B": (3, 4, 2)}, {"temperature": 1.3}),
        Example({"A": (5,), "B": (5, 3)}, {"temperature": 1.0}),
        Example({"A": (6, 9), "B": (9,)}, {"temperature": 2.0}),
        # past the 4 x 16 register tiles
        Example({"A": (6, 9), "B": (9, 21)}, {"temperature": 0.2}),
    )


_DOC_PARAMS = """
    Parameters
    ----------
    A : array_like, shape (..., m, k) or (k,)
        Left operand; float32 stays float32 (the product is computed in float64), integers become
        float64.
    B : array_like, shape (..., k, n) or (k,)
        Right operand. Leading (batch) dimensions broadcast as in :func:`numpy.matmul`, without
        copying; a 1-D operand is a row (``A``) or a column (``B``) whose dimension is removed from
        the result, as in :func:`numpy.matmul`.
    temperature : float, keyword-only
        :math:`t > 0`, finite. As it tends to 0 the result tends to the hard product.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray
        Shape ``(..., m, n)`` (broadcast batch), the dtype of ``A`` and ``B`` promoted.

    Raises
    ------
    TypeError
        Non-real input; a non-scalar temperature.
    ValueError
        Inner dimensions that differ or batch dimensions that do not broadcast (the message gives
        both shapes); a temperature that is not finite and positive; 0-d input.

    Notes
    -----
    Under :func:`softgrad.vjp` and :func:`softgrad.jvp` the derivatives in ``A``, ``B`` and
    ``temperature`` use the softmax weights :math:`P_{ikj}` recomputed from the factors (two dense
    products for the pullback, one for the tangent), never an :math:`m \\times k \\times n` array.
    Entries whose value is infinite have zero derivatives. NaN propagates to the entries whose row of
    ``A`` or column of ``B`` holds it.
"""


def _doc(f: Any) -> Any:
    f.__doc__ = f.__doc__.replace("    {params}\n", _DOC_PARAMS)
    return f


@_doc
@differentiable(
    params=("A", "B", "temperature"), call=_call("soft_maxplus_matmul", False), examples=_examples()
)
def soft_maxplus_matmul(
    A: ArrayLike, B: ArrayLike, *, temperature: float = 1.0, n_threads: int | None = None
) -> Any:
    r"""Smooth max-plus product: ``C[..., i, j] = t * log(sum_k exp((A[..., i, k] + B[..., k, j]) / t))``.

    The log-semiring (soft tropical) product: as :math:`t \to 0` it is
    ``max_k A[i, k] + B[k, j]``, and for any :math:`t` it lies between that and that plus
    :math:`t \log k`. ``-inf`` is the semiring zero: a row of ``A`` (or a column of ``B``) that is
    all ``-inf`` gives ``-inf``, never NaN; an empty inner dimension gives ``-inf``.

    {params}
    References
    ----------
    M. Akian, R. Bapat, S. Gaubert, "Max-plus algebra", in Handbook of Linear Algebra (2006);
    A. Mensch, M. Blondel, "Differentiable Dynamic Programming for Structured Prediction and
    Attention", ICML 2018 (smoothed max operators).

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> A = np.array([[0.0, 1.0], [2.0, -np.inf]])
    >>> B = np.array([[1.0, 0.0], [0.0, 3.0]])
    >>> softgrad.soft_maxplus_matmul(A, B, temperature=1e-9)  # the hard max-plus product
    array([[1., 4.],
           [3., 2.]])
    >>> softgrad.soft_maxplus_matmul(A, B, temperature=1.0).round(4)
    array([[1.6931, 4.0181],
           [3.    , 2.    ]])
    """
    return MatmulCall.of("soft_maxplus_matmul", A, B, temperature, n_threads, False).forward(False)[0]


@_doc
@differentiable(
    params=("A", "B", "temperature"), call=_call("soft_minplus_matmul", True), examples=_examples()
)
def soft_minplus_matmul(
    A: ArrayLike, B: ArrayLike, *, temperature: float = 1.0, n_threads: int | None = None
) -> Any:
    r"""Smooth min-plus product: ``C[..., i, j] = -t * log(sum_k exp(-(A[..., i, k] + B[..., k, j]) / t))``.

    ``-soft_maxplus_matmul(-A, -B)``: as :math:`t \to 0` it is ``min_k A[i, k] + B[k, j]`` (the
    shortest-path product), and ``+inf`` is the semiring zero.

    {params}
    References
    ----------
    M. Akian, R. Bapat, S. Gaubert, "Max-plus algebra", in Handbook of Linear Algebra (2006).

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> D = np.array([[0.0, 1.0, np.inf], [np.inf, 0.0, 2.0], [np.inf, np.inf, 0.0]])
    >>> softgrad.soft_minplus_matmul(D, D, temperature=1e-9)  # paths of up to two edges
    array([[ 0.,  1.,  3.],
           [inf,  0.,  2.],
           [inf, inf,  0.]])
    """
    return MatmulCall.of("soft_minplus_matmul", A, B, temperature, n_threads, True).forward(False)[0]


def _forward(c: MatmulCall) -> tuple[Any, tuple[MatmulCall, Any]]:
    out, res = c.forward(True)
    return out, (c, res)


def _pullback(res: tuple[MatmulCall, Any], ct: Any) -> tuple[Any, Any, Any]:
    c, r = res
    g = np.ascontiguousarray(np.broadcast_to(np.asarray(ct), c.out_shape).reshape(-1), dtype=c.a.dtype)
    ga, gb, gt = _k.vjp(r, g, c.n_threads)
    return c.cotangent(ga, "a"), c.cotangent(gb, "b"), cast(gt, c.dtype)


def _jvp(c: MatmulCall, tangents: dict[str, Any]) -> tuple[Any, Any]:
    out, r = c.forward(True)
    da = tangents.get("A")
    db = tangents.get("B")
    ua = np.zeros_like(c.a) if da is None else c.arranged(da, "a")
    ub = np.zeros_like(c.b) if db is None else c.arranged(db, "b")
    dt = float(tangents.get("temperature", 0.0))
    tan = _k.jvp(r, ua, ub, dt, c.n_threads).reshape(c.out_shape).astype(c.dtype, copy=False)
    return out, (tan[()] if tan.ndim == 0 else tan)


for _op in (soft_maxplus_matmul, soft_minplus_matmul):
    rules(_op).fwd(_forward)
    rules(_op).bwd(_pullback)
    rules(_op).jvp(_jvp)
del _op
