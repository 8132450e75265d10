r"""Tropical matrix products: ``max_k a[i, k] + b[k, j]`` (max-plus) and its min-plus twin.

Kernels: ``rust/softgrad-core/src/relax/maxplus/`` (``kernel.rs``: packing and the register-tiled
micro-kernel), bound as ``softgrad._core.maxplus`` by ``rust/softgrad-py/src/relax/maxplus.rs``.

Matrix multiplication over the semiring :math:`(\mathbb{R} \cup \{-\infty\}, \max, +)`:
:math:`C_{ij} = \max_k A_{ik} + B_{kj}`. Its products are longest paths (shortest paths for
min-plus, over :math:`(\mathbb{R} \cup \{+\infty\}, \min, +)`), Viterbi decoding, and the limit of the
log-semiring product :math:`t \log \sum_k e^{(A_{ik} + B_{kj})/t}` as :math:`t \to 0`.

Conventions (the same for every function here):

- ``-inf`` (``+inf`` for min-plus) is the semiring zero and absorbs: ``-inf + inf`` counts as ``-inf``
  in max-plus (``+inf`` in min-plus), never NaN. A NaN anywhere in row ``i`` of ``a`` or column ``j`` of
  ``b`` makes ``C[i, j]`` NaN. An empty inner dimension gives the zero, as an empty max would.
- dtypes follow NumPy promotion (``np.result_type(a, b)``), computed exactly: float32 stays float32
  (in float32 lanes), float64; bool and integers that fit in int32 are computed in int32, int64 and
  uint32 in int64. Integer sums **saturate** at the dtype's bounds, so an integer result is the exact
  product clipped to the dtype's range (never wrapped around). uint64, float16 (computed in float32),
  longdouble: see :func:`maxplus_matmul`.
- leading dimensions broadcast as in :func:`numpy.matmul`; 1-D operands are promoted and the added
  axis removed, as :func:`numpy.matmul` does.
- the argmax is the smallest ``k`` attaining the optimum (``0`` when every candidate is the zero or
  NaN, ``-1`` for an empty inner dimension).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._array import numeric_array, threads_param
from ._core import maxplus as _k
from .autodiff import Example, differentiable, rules

Array = NDArray[Any]


def _compute_dtype(func: str, dt: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype the kernel computes (and returns) for NumPy's promoted dtype ``dt``."""
    if dt.kind == "f":
        if dt.itemsize <= 4:
            return np.dtype(np.float32)
        if dt.itemsize == 8:
            return np.dtype(np.float64)
        raise TypeError(f"{func}: {dt} is not supported (float32 and float64 are computed exactly)")
    if dt.kind == "b" or (dt.kind in "iu" and dt.itemsize < 4) or dt == np.dtype(np.int32):
        return np.dtype(np.int32)
    if dt == np.dtype(np.int64) or dt == np.dtype(np.uint32):
        return np.dtype(np.int64)
    if dt.kind == "u":
        raise TypeError(
            f"{func}: {dt} is not supported (its values do not fit int64); cast to int64 or float64"
        )
    raise TypeError(f"{func}: a and b must contain real numbers, got dtype {dt}")


def _operand(x: Array, dt: np.dtype[Any]) -> tuple[Array, tuple[int, int]]:
    """``x`` (at least 2-D) as a C-contiguous buffer of ``dt`` and the element strides of its matrices:
    a transposed matrix (or batch of them) is used as it is, anything else copied once."""
    m, k = x.shape[-2:]
    x = x.astype(dt, copy=False)
    if x.flags.c_contiguous:
        return x, (k, 1)
    t = np.swapaxes(x, -1, -2)
    if t.flags.c_contiguous:
        return t, (1, m)
    return np.ascontiguousarray(x), (k, 1)


_ONE_PRODUCT = np.zeros(1, np.int64)
_ONE_PRODUCT.flags.writeable = False


def _matrix_index(batch_shape: tuple[int, ...], full: tuple[int, ...]) -> Array:
    """For each product of the broadcast batch ``full``, which matrix of an operand with batch shape
    ``batch_shape`` it reads (int64, C order)."""
    if not full:
        return _ONE_PRODUCT
    if batch_shape == full:
        return np.arange(math.prod(full), dtype=np.int64)
    own = np.arange(math.prod(batch_shape), dtype=np.int64).reshape(batch_shape)
    return np.ascontiguousarray(np.broadcast_to(own, full)).reshape(-1)


@dataclass(frozen=True, eq=False)
class MatmulCall:
    """One call of a tropical product, normalised once (shared by the value path and the rules)."""

    func: str
    semiring: str  # "max" or "min"
    a: Array  # buffers passed to Rust (may be the caller's; never kept by the rules)
    b: Array
    a_index: Array  # int64: matrix of a (of b) read by each product
    b_index: Array
    a_strides: tuple[int, int]
    b_strides: tuple[int, int]
    dims: tuple[int, int, int, int]  # (batch, m, k, n)
    out_shape: tuple[int, ...]
    a_shape: tuple[int, ...]  # the caller's shapes and floating dtypes (for cotangents)
    b_shape: tuple[int, ...]
    a_dtype: np.dtype[Any]
    b_dtype: np.dtype[Any]
    dtype: np.dtype[Any]
    n_threads: int | None

    @classmethod
    def of(cls, func: str, semiring: str, a: ArrayLike, b: ArrayLike, n_threads: Any) -> MatmulCall:
        x, y = numeric_array(a, func, "a"), numeric_array(b, func, "b")
        for name, v in (("a", x), ("b", y)):
            if v.dtype.kind == "c":
                raise TypeError(f"{func}: {name} must contain real numbers, got dtype {v.dtype}")
        dt = _compute_dtype(func, np.result_type(x.dtype, y.dtype))
        nt = threads_param(n_threads, func)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(
                f"{func}: a and b must have at least one dimension, got shapes {x.shape} and {y.shape}"
            )
        x2 = x[np.newaxis, :] if x.ndim == 1 else x
        y2 = y[:, np.newaxis] if y.ndim == 1 else y
        (m, k), (k2, n) = x2.shape[-2:], y2.shape[-2:]
        if k != k2:
            raise ValueError(
                f"{func}: shapes {x.shape} (a) and {y.shape} (b) do not match: inner dimension {k} != {k2}"
            )
        try:
            sa, sb = x2.shape[:-2], y2.shape[:-2]
            batch = sa if sa == sb else np.broadcast_shapes(sa, sb)
        except ValueError:
            raise ValueError(
                f"{func}: shapes {x.shape} (a) and {y.shape} (b) do not match: batch dimensions "
                f"{x2.shape[:-2]} and {y2.shape[:-2]} do not broadcast"
            ) from None
        out_shape = batch + ((m,) if x.ndim > 1 else ()) + ((n,) if y.ndim > 1 else ())
        xa, xs = _operand(x2, dt)
        yb, ys = _operand(y2, dt)
        ai, bi = _matrix_index(x2.shape[:-2], batch), _matrix_index(y2.shape[:-2], batch)
        return cls(
            func,
            semiring,
            xa,
            yb,
            ai,
            bi,
            xs,
            ys,
            (math.prod(batch), m, k, n),
            out_shape,
            x.shape,
            y.shape,
            x.dtype if x.dtype.kind == "f" else np.dtype(np.float64),
            y.dtype if y.dtype.kind == "f" else np.dtype(np.float64),
            dt,
            nt,
        )

    def run(self, argmax: bool) -> tuple[Array, Array | None]:
        _, m, k, n = self.dims
        out, arg = _k.matmul(
            self.a.reshape(-1),
            self.b.reshape(-1),
            self.a_index * (m * k),
            self.b_index * (k * n),
            self.a_strides,
            self.b_strides,
            self.dims,
            self.semiring,
            argmax,
            self.n_threads,
        )
        return out.reshape(self.out_shape), None if arg is None else arg.reshape(self.out_shape)

    def flat_indices(self, arg: Array) -> tuple[Array, Array]:
        """Flat indices into ``a`` and ``b`` (C order, their own shapes) of each product's winners."""
        batch, m, k, n = self.dims
        g = arg.reshape(batch, m, n)
        i = np.arange(m, dtype=np.int64)[:, None]
        j = np.arange(n, dtype=np.int64)[None, :]
        ia = (self.a_index[:, None, None] * m + i) * k + g
        ib = (self.b_index[:, None, None] * k + g) * n + j
        return ia.reshape(-1), ib.reshape(-1)


def _examples() -> tuple[Example, ...]:
    return (
        Example({"a": (3, 4), "b": (4, 5)}),
        Example({"a": (2, 3, 6), "b": (6, 2)}),
        Example({"a": (5,), "b": (5, 3)}),
        Example({"a": (4, 3), "b": (3,)}),
        Example({"a": (2, 1, 3, 4), "b": (3, 4, 2)}),
    )


def _call(func: str, semiring: str) -> Any:
    def make(a: ArrayLike, b: ArrayLike, return_argmax: bool, n_threads: Any) -> tuple[MatmulCall, bool]:
        return MatmulCall.of(func, semiring, a, b, n_threads), _flag(func, return_argmax)

    return make


def _flag(func: str, v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{func}: return_argmax must be a bool, got {v!r}")
    return bool(v)


_DOC = r"""{title}

    ``C[..., i, j] = {op}_k a[..., i, k] + b[..., k, j]``: matrix multiplication over the {name}
    semiring, with :func:`numpy.matmul`'s shapes. See :mod:`softgrad.maxplus` for the conventions
    (zero, NaN, dtypes, integer saturation, ties).

    Parameters
    ----------
    a, b : array_like
        Real arrays of shapes ``(..., m, k)`` and ``(..., k, n)``; leading dimensions broadcast; a
        1-D ``a`` is a row, a 1-D ``b`` a column, and the added axis is removed from the result.
        Any strides (transposed operands are read in place; other layouts are copied once);
        the inputs are never modified.
    return_argmax : bool, keyword-only
        Also return the winning ``k`` of every entry (int64, the smallest on ties).
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it (bit for bit).

    Returns
    -------
    out : ndarray
        Shape ``(..., m, n)``, dtype: float32, float64, int32 or int64 (see the module notes).
    argmax : ndarray of int64, only with ``return_argmax``
        Same shape as ``out``.

    Raises
    ------
    TypeError
        Complex, object, string, uint64 or longdouble operands; a non-bool ``return_argmax``.
    ValueError
        Scalars; inner dimensions or batch dimensions that do not match (the message gives both
        shapes); ``n_threads`` out of range.

    Notes
    -----
    Under :func:`softgrad.vjp` and :func:`softgrad.jvp` the derivative routes each entry through its
    winner: ``dC[i, j] = da[i, k*] + db[k*, j]`` with ``k* = argmax``, and the pullback adds the
    cotangent of ``C[i, j]`` to ``a[i, k*]`` and to ``b[k*, j]``. The argmax is the forward's
    residual (the inputs are not kept). At ties the product is not differentiable and this is a
    subgradient (the smallest ``k`` gets everything). Integer operands get float64 cotangents.

    The kernel packs blocks of ``a`` and ``b`` into panels and runs a register-tiled {op}/add
    micro-kernel in SIMD lanes (float32 data in float32 lanes), in parallel over blocks of rows.

    References
    ----------
    P. Butkovič, *Max-linear Systems: Theory and Algorithms*, Springer, 2010.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> a = np.array([[0.0, 2.0], [1.0, -np.inf]])
    >>> b = np.array([[1.0, 0.0], [0.0, 3.0]])
    >>> softgrad.{func}(a, b)
    {example}
    >>> softgrad.{func}(a, b, return_argmax=True)[1]
    {example_arg}
    """


@differentiable(
    params=("a", "b"),
    outputs=("out", "argmax"),
    nondiff_outputs=("argmax",),
    call=_call("maxplus_matmul", "max"),
    examples=_examples(),
)
def maxplus_matmul(
    a: ArrayLike, b: ArrayLike, *, return_argmax: bool = False, n_threads: int | None = None
) -> Any:
    c = MatmulCall.of("maxplus_matmul", "max", a, b, n_threads)
    out, arg = c.run(_flag("maxplus_matmul", return_argmax))
    return (out, arg) if arg is not None else out


@differentiable(
    params=("a", "b"),
    outputs=("out", "argmax"),
    nondiff_outputs=("argmax",),
    call=_call("minplus_matmul", "min"),
    examples=_examples(),
)
def minplus_matmul(
    a: ArrayLike, b: ArrayLike, *, return_argmax: bool = False, n_threads: int | None = None
) -> Any:
    c = MatmulCall.of("minplus_matmul", "min", a, b, n_threads)
    out, arg = c.run(_flag("minplus_matmul", return_argmax))
    return (out, arg) if arg is not None else out


maxplus_matmul.__doc__ = _DOC.format(
    title="Max-plus matrix product: ``max_k a[i, k] + b[k, j]`` (longest paths).",
    op="max",
    name="max-plus",
    func="maxplus_matmul",
    example="array([[2., 5.],\n           [2., 1.]])",
    example_arg="array([[1, 1],\n           [0, 0]])",
)
minplus_matmul.__doc__ = _DOC.format(
    title="Min-plus matrix product: ``min_k a[i, k] + b[k, j]`` (shortest paths).",
    op="min",
    name="min-plus",
    func="minplus_matmul",
    example="array([[ 1.,  0.],\n           [-inf, -inf]])",
    example_arg="array([[0, 0],\n           [1, 1]])",
)


# ---------------------------------------------------------------------------------------------
# derivatives: the residual is the argmax (from Rust); the inputs are not kept


def _forward(ca: tuple[MatmulCall, bool]) -> tuple[Any, tuple[MatmulCall, Array]]:
    c, want = ca
    out, arg = c.run(True)
    assert arg is not None
    return ((out, arg) if want else out), (c, arg)


def _pullback(res: tuple[MatmulCall, Array], ct: Any) -> tuple[Array, Array]:
    c, arg = res
    g = np.asarray(ct, dtype=np.float64).reshape(-1)
    ia, ib = c.flat_indices(arg)
    keep = arg.reshape(-1) >= 0  # -1: empty inner dimension, no winner
    if not keep.all():
        ia, ib, g = ia[keep], ib[keep], g[keep]
    size_a, size_b = math.prod(c.a_shape), math.prod(c.b_shape)
    ga = np.bincount(ia, weights=g, minlength=size_a).reshape(c.a_shape).astype(c.a_dtype, copy=False)
    gb = np.bincount(ib, weights=g, minlength=size_b).reshape(c.b_shape).astype(c.b_dtype, copy=False)
    return ga, gb


def _jvp(ca: tuple[MatmulCall, bool], tangents: dict[str, Any]) -> tuple[Any, Any]:
    c, want = ca
    out, arg = c.run(True)
    assert arg is not None
    tdt = out.dtype if out.dtype.kind == "f" else np.dtype(np.float64)
    ia, ib = c.flat_indices(np.maximum(arg, 0))
    tan: Array = np.zeros(arg.size, dtype=tdt)
    if arg.size and c.dims[2] > 0:
        if "a" in tangents:
            tan += np.asarray(tangents["a"], dtype=tdt).reshape(-1)[ia]
        if "b" in tangents:
            tan += np.asarray(tangents["b"], dtype=tdt).reshape(-1)[ib]
    tan = tan.reshape(out.shape)
    if want:
        return (out, arg), (tan, np.zeros(arg.shape, dtype=arg.dtype))
    return out, tan


for _op in (maxplus_matmul, minplus_matmul):
    rules(_op).fwd(_forward)
    rules(_op).bwd(_pullback)
    rules(_op).jvp(_jvp)
del _op


# ---------------------------------------------------------------------------------------------
# matrix-vector products and powers


def maxplus_matvec(
    a: ArrayLike, x: ArrayLike, *, minplus: bool = False, n_threads: int | None = None
) -> Array:
    r"""Tropical matrix-vector product: ``max_k a[..., i, k] + x[..., k]`` (``min`` with ``minplus``).

    One step of a max-plus linear system :math:`x_{t+1} = A \otimes x_t` (Bellman-Ford relaxations
    for ``minplus``). The same as ``maxplus_matmul(a, x[..., None])[..., 0]``, with batch dimensions
    broadcast.

    Parameters
    ----------
    a : array_like
        Shape ``(..., m, k)``.
    x : array_like
        Shape ``(..., k)``.
    minplus : bool, keyword-only
        Use the min-plus semiring.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray
        Shape ``(..., m)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`maxplus_matmul`.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.maxplus_matvec(np.array([[0.0, 1.0], [2.0, -np.inf]]), np.array([3.0, 1.0]))
    array([3., 5.])
    """
    func = "maxplus_matvec"
    xv = numeric_array(x, func, "x")
    if xv.ndim == 0:
        raise ValueError(f"{func}: x must have at least one dimension, got a scalar")
    op = minplus_matmul if minplus else maxplus_matmul
    out: Array = op(a, xv[..., None], n_threads=n_threads)
    return out[..., 0]


def tropical_power(a: ArrayLike, p: int, *, semiring: str = "maxplus", n_threads: int | None = None) -> Array:
    r"""The ``p``-th tropical power of square matrices: ``a ⊗ a ⊗ ... ⊗ a`` by repeated squaring.

    With ``semiring="minplus"`` and ``a`` the weighted adjacency matrix of a graph (``inf`` for no
    edge, ``0`` on the diagonal), ``tropical_power(a, n - 1)`` holds every shortest-path length
    (as :func:`scipy.sparse.csgraph.shortest_path`); with ``"maxplus"``, the longest walks of at
    most ... edges in the same way. Costs :math:`O(n^3 \log p)`.

    Parameters
    ----------
    a : array_like
        Shape ``(..., n, n)``.
    p : int
        The power, ``>= 0``; ``p = 0`` gives the semiring identity (``0`` on the diagonal, the zero
        elsewhere).
    semiring : {"maxplus", "minplus"}, keyword-only
        The semiring.
    n_threads : int, keyword-only, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray
        Shape and dtype of ``maxplus_matmul(a, a)``.

    Raises
    ------
    TypeError
        ``p`` not an int; ``a`` as for :func:`maxplus_matmul`.
    ValueError
        ``p < 0``; non-square matrices; an unknown ``semiring``.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> inf = np.inf
    >>> w = np.array([[0.0, 1.0, inf], [inf, 0.0, 2.0], [1.0, inf, 0.0]])
    >>> softgrad.tropical_power(w, 2, semiring="minplus")
    array([[0., 1., 3.],
           [3., 0., 2.],
           [1., 2., 0.]])
    """
    func = "tropical_power"
    if semiring not in ("maxplus", "minplus"):
        raise ValueError(f"{func}: semiring must be 'maxplus' or 'minplus', got {semiring!r}")
    if isinstance(p, (bool, np.bool_)):
        raise TypeError(f"{func}: p must be an int, got {p!r}")
    try:
        q = operator.index(p)
    except TypeError:
        raise TypeError(f"{func}: p must be an int, got {p!r}") from None
    if q < 0:
        raise ValueError(f"{func}: p must be >= 0, got {q}")
    x = numeric_array(a, func, "a")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{func}: a must be a (batch of) square matrices, got shape {x.shape}")
    op = maxplus_matmul if semiring == "maxplus" else minplus_matmul
    dt = _compute_dtype(func, x.dtype)
    eye = np.full(x.shape[-2:], _zero(dt, semiring == "maxplus"), dtype=dt)
    np.fill_diagonal(eye, 0)
    if q <= 1:  # the identity, or x ⊗ I (the result dtype, in a fresh array)
        one: Array = np.broadcast_to(eye, x.shape).copy() if q == 0 else op(x, eye, n_threads=n_threads)
        return one
    result: Array | None = None
    base: Array = x
    while True:  # the first factor is x itself only for odd p, then multiplied again
        if q & 1:
            result = base if result is None else op(result, base, n_threads=n_threads)
        q >>= 1
        if not q:
            break
        base = op(base, base, n_threads=n_threads)
    assert result is not None
    return result


def _zero(dt: np.dtype[Any], maxplus: bool) -> Any:
    if dt.kind == "f":
        return -np.inf if maxplus else np.inf
    info = np.iinfo(dt)
    return info.min if maxplus else info.max
