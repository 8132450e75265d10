r"""Derivatives of black boxes by finite differences: :func:`gradient` and :func:`jacobian`.

Points and weights: ``rust/softgrad-core/src/estimate/fd.rs`` (Fornberg's weights and the step rule
in ``fd/stencil.rs``, the Richardson tableau in ``fd/richardson.rs``), bound as
``softgrad._core.fd`` by ``rust/softgrad-py/src/estimate/fd.rs``. Rust builds the evaluation points
and assembles the estimate; this module calls ``f`` and checks what it returns.

For coordinate :math:`i` with step :math:`h_i` and a stencil of nodes :math:`c_k` (in units of the
step) and weights :math:`w_k`,

.. math::
    \frac{\partial f}{\partial x_i}(x) \approx \sum_k w_k\, f(x + c_k h_i e_i),

where the weights are computed by Fornberg's algorithm on the nodes *as rounded to the dtype of x*,
so the rounding of :math:`x + c_k h` never biases the estimate. The stencils of accuracy order
:math:`p` are: central, nodes :math:`\pm 1, \dots, \pm p/2` (:math:`p` evaluations, :math:`f(x)`
not needed); forward, nodes :math:`0, 1, \dots, p`; backward, nodes :math:`0, -1, \dots, -p`. The
automatic step :math:`h_i = r^{1/(p+1)} \max(1, |x_i|)`, with :math:`r = \max(\epsilon, \text{noise})`,
balances truncation (:math:`\propto h^p`) and rounding (:math:`\propto r/h`) errors; for
:math:`p = 1` and :math:`p = 2` it is scipy's rule (``approx_derivative``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

# The arguments and the evaluation loop live in _fd_estimate.py (re-exported for the sibling modules).
from ._fd_estimate import (  # noqa: F401
    _DEFAULT_ORDER,
    METHODS,
    _bounds_param,
    _estimate,
    _int_param,
    _method_param,
    _step_param,
    _x_param,
)

__all__ = ["Estimate", "gradient", "jacobian"]


@dataclass(frozen=True)
class Estimate:
    """The full output of :func:`gradient` and :func:`jacobian` (``full_output=True``).

    Attributes
    ----------
    grad : ndarray or None
        The gradient (shape of ``x``), from :func:`gradient`; ``None`` from :func:`jacobian`.
    jac : ndarray or None
        The Jacobian (shape ``f(x).shape + x.shape``), from :func:`jacobian`; ``None`` from
        :func:`gradient`.
    error : ndarray
        An estimate of the absolute error of each entry (float64, the shape of the result). For
        ``"richardson"``: Ridders' estimate from the extrapolation tableau (never below the
        amplified rounding error). For the other methods: the rounding error
        ``max(eps * |f|, noise) * sum |w|`` of the stencil (``eps * |d|`` for the complex step);
        with the automatic step the truncation error, which is not estimated, is of the same order.
    nfev : int
        Number of points at which ``f`` was evaluated (with ``vectorized=True`` a call evaluates
        several).
    step : ndarray
        The step taken in each coordinate (float64, shape of ``x``; for ``"richardson"`` the
        largest), after shrinking to fit ``bounds``.
    method : str
        The method used.
    noise : float
        The noise of f the step rule assumed: ``noise`` as given, the estimate with
        ``noise='estimate'``, else 0 (rounding only).
    hess : ndarray, scipy.sparse.csr_array or None
        The Hessian from :func:`softgrad.hessian` (the product ``H v`` from :func:`softgrad.hvp`).
    colours : ndarray or None
        With a sparsity pattern: the colour of each column (int64, ``0 .. n_colours - 1``).
    """

    grad: NDArray[Any] | None
    jac: NDArray[Any] | None
    error: NDArray[np.float64]
    nfev: int
    step: NDArray[np.float64]
    method: str
    noise: float = 0.0
    hess: Any = None
    colours: NDArray[np.int64] | None = None


_PARAMS_DOC = """\
    method : {'central', 'forward', 'backward', 'complex', 'richardson'}, optional
        The estimator. ``'central'`` (default): central differences of accuracy order ``order``
        (2, 4, 6 or 8), ``order`` evaluations per coordinate. ``'forward'`` / ``'backward'``:
        one-sided differences of order ``order`` (1 to 8, default 1), ``order`` evaluations per
        coordinate plus one at ``x``. ``'complex'``: the complex step :math:`\\operatorname{Im}
        f(x + i h e_j) / h` (f must accept complex input and propagate it analytically), one
        evaluation per coordinate and accurate to rounding. ``'richardson'``: central differences of
        order ``order`` at ``n_steps`` steps :math:`h, h/2, h/4, \\dots` extrapolated to zero step
        (Ridders' method), ``order * n_steps`` evaluations per coordinate, with an error estimate.
    order : int, optional
        Accuracy order of the stencil (of the base stencil for ``'richardson'``): the error is
        :math:`O(h^{order})`; a stencil of order ``p`` is exact on polynomials of degree ``<= p``
        (up to rounding).
    step : float or array_like, optional
        Absolute step, one for all coordinates or one per coordinate (x's shape), positive. Default:
        the automatic rule :math:`r^{1/(q+1)} \\max(1, |x_i|)` with :math:`r = \\max(\\epsilon,`
        ``noise``:math:`)` (:math:`\\epsilon` of x's dtype) and ``q`` the accuracy order (for
        ``'richardson'``, of the fully extrapolated estimate, which makes the first step large);
        :math:`\\epsilon \\max(1, |x_i|)` for ``'complex'``.
    bounds : (lower, upper), optional
        Every evaluation stays in ``lower <= x <= upper`` (scalars or arrays broadcastable to x's
        shape; ``±inf`` for none). Where the stencil does not fit, a one-sided stencil of the same
        order on the side with room is used, and where neither fits the step shrinks.
    noise : float or 'estimate', optional
        The absolute noise of f's values; raises the automatic step (J. J. Moré and S. M. Wild,
        2012) and the error estimate. The rule assumes f and its derivatives of order 1 at the
        scale of x. ``'estimate'``: measured first by Moré and Wild's ECnoise (2011) from 9 values
        of f on a line through x (9 evaluations per try, at most 4 tries); see ``Estimate.noise``.
    n_steps : int, optional
        Steps in the Richardson tableau (2 to 16, default 6); ignored by the other methods.
    vectorized : bool, optional
        If true, ``f`` takes a batch ``X`` of shape ``(k, *x.shape)`` (``(k, n)`` for a vector x) and
        returns the ``k`` results stacked along the first axis.
    batch_size : int, optional
        With ``vectorized``, at most this many points per call. Default: batches of about 256 KiB
        of points (at least 4), which keeps each batch and the temporaries ``f`` makes from it in
        the core's cache (at n = 1000 this is several times faster than one call on all 2n points);
        with an ``executor``, all points in one call unless ``batch_size`` is set.
    executor : concurrent.futures.Executor, optional
        Spread the evaluations over it (``executor.map``: a thread or process pool, or any
        ``Executor``; ``f`` must be picklable for processes): one point per task, or with
        ``vectorized`` one batch of ``batch_size`` points per task (set ``batch_size``, else the
        whole estimate is one task). ``f(x)``, when needed, is evaluated in the caller's thread.
        The estimate is identical to the serial one. For a cluster, ``dask.distributed``'s
        ``Client(...).get_executor()`` is one (tested with a ``LocalCluster`` of processes); Ray's
        ``ray.util.multiprocessing.Pool`` is not an ``Executor``, but a ten-line
        ``concurrent.futures.Executor`` subclass over it (``submit`` via ``apply_async``, ``map`` via
        ``starmap``) is enough: ``tests/test_zo_ray.py`` has it and checks the serial bits.
    nan_policy : {'raise', 'omit'}, optional
        What a non-finite value of ``f`` (NaN or ±inf) does. ``'raise'`` (default): a
        ``ValueError`` naming the evaluation point (``x`` untouched). ``'omit'``: the value is left
        out and the entry it served is estimated from the others: Fornberg's weights on the
        remaining nodes of its stencil and ``f(x)`` (evaluated once more if the method had not
        needed it), so a central difference becomes one-sided and each node left out lowers the
        accuracy order by one; ``'richardson'`` keeps the longest run of consecutive steps whose
        stencils are whole (and only if none is, Fornberg's weights on every finite node of every
        step). An entry left with fewer than two values, the complex step (one value per entry)
        and a non-finite ``f(x)`` still raise. ``noise='estimate'`` needs finite values.
    progress : bool, optional
        Show a tqdm progress bar of the evaluations (needs ``tqdm``: ``pip install
        'softgrad[progress]'``; an ``ImportError`` says so if it is missing).
    full_output : bool, optional
        Return an :class:`Estimate` (value, error estimate, ``nfev``, steps) instead of the array."""

_RAISES_DOC = """\
    Raises
    ------
    TypeError
        ``x`` is not a real float array (complex, object, float16 and longdouble are refused; bool
        and integers become float64), ``f`` is not callable, or an int parameter is not an int.
    ValueError
        A bad ``method``, ``order``, ``step``, ``bounds`` (excluding ``x``, or empty), ``noise``,
        ``n_steps`` or ``batch_size`` (the message names it); ``x`` not finite; ``f`` returning a
        value of the wrong shape, not a number, NaN or infinite, or (for ``'complex'``) a real value
        (the message names the evaluation point).
    Exception
        Whatever ``f`` raises propagates unchanged (with a note naming the evaluation point, on
        Python 3.11+). The caller's ``x`` is never modified: ``f`` receives fresh arrays."""


def gradient(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    method: str = "central",
    order: int | None = None,
    step: ArrayLike | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    noise: float | None = None,
    n_steps: int = 6,
    vectorized: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
    full_output: bool = False,
    nan_policy: str = "raise",
    progress: bool = False,
    **zo: Any,
) -> Any:
    """Gradient of a scalar function ``f`` at ``x`` from values of ``f`` only.

        Parameters
        ----------
        f : callable
            ``f(x) -> float`` for a point of x's shape and dtype (a real scalar: a float, a NumPy
            scalar or a 0-d array); with ``vectorized=True``, ``f(X) -> (k,)``.
        x : array_like
            The point, float32 or float64, any shape. The result has its shape and dtype.
    {params}
        **zo
            The randomized methods ``'spsa'``, ``'gaussian'``, ``'sphere'``, ``'coordinate'`` and their
            options ``n_samples``, ``antithetic``, ``sides`` / ``two_sided``, ``seed``, ``mask``,
            ``n_threads``: see :mod:`softgrad.zo` (result: :class:`softgrad.zo.ZOEstimate`).

        Returns
        -------
        grad : ndarray or Estimate
            The gradient (x's shape and dtype), or with ``full_output`` an :class:`Estimate` whose
            ``.grad`` it is.

    {raises}

        See Also
        --------
        jacobian : the same for vector-valued ``f``.
        scipy.optimize.approx_fprime, scipy.differentiate.derivative : the peers.

        Notes
        -----
        Evaluations: ``order * n`` for ``'central'``, ``order * n + 1`` for the one-sided methods,
        ``n`` for ``'complex'`` and ``order * n_steps * n`` for ``'richardson'`` (plus one at ``x`` if
        ``bounds`` force a one-sided stencil somewhere). With the automatic step, the relative error of
        central differences of order 2 is about :math:`\\epsilon^{{2/3}}` (``1e-10`` in float64), of
        forward differences :math:`\\epsilon^{{1/2}}`, of the complex step :math:`\\epsilon`.

        Differences from scipy's ``approx_derivative``: the step is positive (scipy's follows the sign
        of ``x``), the weights are computed on the nodes as rounded (so central differences can differ
        from scipy's in the last bits), and stencils of order above 2 are available.

        References
        ----------
        B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced grids", Math. Comp.
        51 (1988). C. J. F. Ridders, "Accurate computation of F'(x) and F'(x)F''(x)", Adv. Eng. Software
        4 (1982). J. R. R. A. Martins, P. Sturdza and J. J. Alonso, "The complex-step derivative
        approximation", ACM TOMS 29 (2003).

        Examples
        --------
        >>> import numpy as np, softgrad
        >>> def rosen(x):
        ...     return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
        >>> x = np.array([0.5, -0.3, 1.2])
        >>> g = softgrad.gradient(rosen, x)
        >>> np.round(g, 6)
        array([109. ,  20.6, 222. ])
        >>> r = softgrad.gradient(rosen, x, method="richardson", full_output=True)
        >>> bool(np.all(r.error < 1e-8)), r.nfev
        (True, 36)
        >>> softgrad.gradient(lambda X: np.sin(X).sum(axis=1), x, vectorized=True, order=4).dtype
        dtype('float64')
        >>> softgrad.gradient(lambda z: np.exp(z).sum(), np.float32([0.0, 1.0]), method="complex")
        array([1.       , 2.7182817], dtype=float32)
    """
    if method in ("spsa", "gaussian", "sphere", "coordinate") or zo:  # randomized: softgrad.zo
        from .zo import _gradient as _zo

        if nan_policy != "raise" or progress:
            raise ValueError(
                f"gradient: nan_policy={nan_policy!r} and progress={progress!r} are options of the "
                f"finite-difference methods; method={method!r} raises on a non-finite value of f"
            )
        args = dict(order=order, bounds=bounds, noise=noise, vectorized=vectorized, batch_size=batch_size)
        return _zo(f, x, method=method, step=step, executor=executor, full_output=full_output, **args, **zo)
    g, err, nfev, steps, used = _estimate(
        "gradient", f, x, method, order, step, bounds, noise, n_steps, vectorized, batch_size, executor,
        nan_policy, progress,
    )  # fmt: skip
    if not full_output:
        return g
    return Estimate(grad=g, jac=None, error=err, nfev=nfev, step=steps, method=method, noise=used)


def jacobian(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    method: str = "central",
    order: int | None = None,
    step: ArrayLike | None = None,
    bounds: tuple[ArrayLike, ArrayLike] | None = None,
    noise: float | None = None,
    n_steps: int = 6,
    vectorized: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
    full_output: bool = False,
    nan_policy: str = "raise",
    progress: bool = False,
    sparsity: Any = None,
    colouring: str = "auto",
) -> Any:
    """Jacobian of ``f`` at ``x`` from values of ``f`` only.

        Parameters
        ----------
        f : callable
            ``f(x) -> array`` of a fixed shape (``out_shape``; a scalar counts, ``()``) for a point of
            x's shape and dtype; with ``vectorized=True``, ``f(X) -> (k, *out_shape)``.
        x : array_like
            The point, float32 or float64, any shape.
    {params}
        sparsity : scipy.sparse matrix or array_like of bool, optional
            The pattern of the Jacobian, shape ``(m, x.size)`` with ``m`` the number of outputs:
            entries outside it are known to be zero. The columns are coloured so that no two
            columns of a colour share a row, and all columns of a colour are moved at once (each by
            its own step and stencil, one-sided where ``bounds`` require): ``order * n_colours``
            evaluations for ``'central'`` instead of ``order * n`` (6 for a tridiagonal Jacobian
            of any size). The result is a ``scipy.sparse.csr_array`` with exactly this pattern
            (explicit zeros of a sparse matrix are not part of it). Needs scipy.
        colouring : {{'auto', 'smallest_last', 'largest_first', 'natural'}}, optional
            The vertex ordering of the greedy column colouring; ``'auto'`` (default) tries the
            three and keeps the fewest colours (``'natural'`` is scipy's ``group_columns``).

        Returns
        -------
        jac : ndarray, scipy.sparse.csr_array or Estimate
            The Jacobian, shape ``out_shape + x.shape`` (``(m, n)`` for vectors, as scipy's
            ``approx_derivative``), x's dtype: ``jac[j, i] = d f_j / d x_i``; with ``sparsity`` a
            CSR array of shape ``(m, x.size)``. With ``full_output`` an :class:`Estimate` whose
            ``.jac`` it is (and ``.error`` a CSR array of the same pattern, ``.colours`` the colour
            of each column).

    {raises}

        See Also
        --------
        gradient : the same for scalar ``f``.
        scipy.optimize.approx_derivative : the peer.

        Notes
        -----
        One evaluation of ``f`` serves every output, so the counts are those of :func:`gradient`
        (with ``sparsity``, with ``n_colours`` in place of ``n``). A sparse Jacobian equals the
        dense one on its pattern, bit for bit, when ``f`` truly has that pattern.

        References
        ----------
        A. R. Curtis, M. J. D. Powell and J. K. Reid, "On the estimation of sparse Jacobian
        matrices", J. Inst. Math. Appl. 13 (1974). D. W. Matula and L. L. Beck, "Smallest-last
        ordering and clustering and graph coloring algorithms", J. ACM 30 (1983). A. H.
        Gebremedhin, F. Manne and A. Pothen, "What color is your Jacobian? Graph coloring for
        computing derivatives", SIAM Review 47 (2005).

        Examples
        --------
        >>> import numpy as np, softgrad
        >>> def polar(p):
        ...     return np.array([p[0] * np.cos(p[1]), p[0] * np.sin(p[1])])
        >>> J = softgrad.jacobian(polar, np.array([2.0, 0.0]))
        >>> np.round(J, 8)
        array([[1., 0.],
               [0., 2.]])
        >>> softgrad.jacobian(polar, np.array([2.0, 0.0]), method="complex").shape
        (2, 2)

        A tridiagonal Jacobian from 3 colours, 6 evaluations:

        >>> def tri(v):
        ...     return v**2 + np.r_[v[1:], 0.0] - np.r_[0.0, v[:-1]]
        >>> pattern = np.abs(np.subtract.outer(np.arange(1000), np.arange(1000))) <= 1
        >>> r = softgrad.jacobian(tri, np.ones(1000), sparsity=pattern, full_output=True)
        >>> r.nfev, int(r.colours.max()) + 1, r.jac.nnz
        (6, 3, 2998)
        >>> r.jac[:3, :3].toarray().round(8)
        array([[ 2.,  1.,  0.],
               [-1.,  2.,  1.],
               [ 0., -1.,  2.]])
    """
    if sparsity is not None:
        from .sparse_fd import sparse_jacobian

        return sparse_jacobian(
            f, x, method, order, step, bounds, noise, n_steps, vectorized, batch_size, executor,
            nan_policy, progress, sparsity, colouring, full_output,
        )  # fmt: skip
    j, err, nfev, steps, used = _estimate(
        "jacobian", f, x, method, order, step, bounds, noise, n_steps, vectorized, batch_size, executor,
        nan_policy, progress,
    )  # fmt: skip
    if not full_output:
        return j
    return Estimate(grad=None, jac=j, error=err, nfev=nfev, step=steps, method=method, noise=used)


assert gradient.__doc__ is not None and jacobian.__doc__ is not None
gradient.__doc__ = gradient.__doc__.format(params=_PARAMS_DOC, raises=_RAISES_DOC)
jacobian.__doc__ = jacobian.__doc__.format(params=_PARAMS_DOC, raises=_RAISES_DOC)
