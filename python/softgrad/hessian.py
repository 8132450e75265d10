r"""Hessians and Hessian-vector products of black boxes by finite differences: :func:`hessian` and
:func:`hvp`.

From values of ``f`` (``rust/softgrad-core/src/estimate/fd/hessian.rs``, ``_core.fd.HessianPlan``):
per coordinate the nodes :math:`x_i + a_i`, :math:`x_i - b_i` (the step rounded to x's dtype, so
:math:`a_i, b_i` are the exact moves) and per off-diagonal pair the two points
:math:`x \pm (\dots)`; the diagonal from Fornberg's second-derivative weights, the off-diagonal
entries from the symmetric seven-point formula

.. math::
    H_{ij} \approx \frac{f(x + a_i e_i + a_j e_j) + f(x - b_i e_i - b_j e_j) - f(x + a_i e_i)
    - f(x - b_i e_i) - f(x + a_j e_j) - f(x - b_j e_j) + 2 f(x)}{a_i a_j + b_i b_j},

(Abramowitz and Stegun 25.3.27), second-order accurate and unbiased by the rounding of the nodes.
From a gradient callable (``grad=``): the Jacobian of ``grad``, symmetrised; sparse by a star
colouring (``rust/softgrad-core/src/estimate/colour.rs``, ``fd/sparse.rs``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._core import fd as _k
from ._fd_estimate import _estimate, _step_param, _x_param
from ._fd_eval import _Eval, center, evaluate, nan_policy_param, progress_bar, stack
from ._params import scalar_param
from .fd import Estimate

__all__ = ["hessian", "hvp"]


def hessian(
    f: Callable[..., Any] | None,
    x: ArrayLike,
    *,
    sparsity: Any = None,
    grad: Callable[..., Any] | None = None,
    method: str = "central",
    order: int | None = None,
    step: ArrayLike | None = None,
    noise: float | None = None,
    colouring: str = "auto",
    vectorized: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
    nan_policy: str = "raise",
    progress: bool = False,
    full_output: bool = False,
) -> Any:
    """Hessian of a scalar function ``f`` at ``x`` from its values, or from its gradient ``grad``.

    Parameters
    ----------
    f : callable or None
        ``f(x) -> float`` (the evaluation contract of :func:`softgrad.gradient`). Not called (and
        may be ``None``) when ``grad`` is given.
    x : array_like
        The point, float32 or float64, any shape (``n = x.size``).
    sparsity : scipy.sparse matrix or array_like of bool, optional
        The pattern of the Hessian, shape ``(n, n)``; it is made symmetric (with its transpose) and
        its diagonal is added. The result is then a ``scipy.sparse.csr_array`` with that pattern.
    grad : callable, optional
        ``grad(x) -> array of x's shape``: the Hessian is its Jacobian (by ``method``, ``order``,
        ``step`` as :func:`softgrad.jacobian`), made symmetric: dense ``(J + J.T) / 2``; sparse by a
        star colouring, every entry read directly from the products with the colours (Coleman and
        Moré's method), averaged where both ``(i, j)`` and ``(j, i)`` can be read.
    method, order : optional
        With ``grad``, as :func:`softgrad.jacobian`. From values of ``f`` only ``'central'`` (second
        order) exists.
    step : float or array_like, optional
        Absolute step (one, or one per coordinate). Default from values:
        :math:`\\max(\\epsilon, noise)^{1/4} \\max(1, |x_i|)`, which balances the rounding error
        :math:`\\propto \\epsilon / h^2` of a second difference against its truncation error
        :math:`\\propto h^2` (relative error about :math:`\\sqrt{\\epsilon}`, ``1e-8``); with
        ``grad`` the rule of :func:`softgrad.jacobian` (:math:`\\epsilon^{1/3}` for central).
    noise : float, optional
        Absolute noise of ``f`` (or of ``grad``), raising the step.
    colouring : {'auto', 'smallest_last', 'largest_first', 'natural'}, optional
        The ordering of the star colouring (with ``grad`` and ``sparsity``).
    vectorized, batch_size, executor, progress :
        As :func:`softgrad.gradient` (for ``grad`` when it is given).
    nan_policy : {'raise', 'omit'}, optional
        ``'omit'`` needs ``grad`` (the fall-backs of :func:`softgrad.jacobian`): a second difference
        of values has no node to spare.
    full_output : bool, optional
        Return an :class:`Estimate` with ``.hess``, ``.error`` (the rounding error of each entry;
        with ``grad``, that of the Jacobian, plus half the disagreement of the two reads of an
        entry), ``.nfev`` (evaluations of ``f``, or of ``grad``), ``.step``.

    Returns
    -------
    hess : ndarray, scipy.sparse.csr_array or Estimate
        Dense: shape ``x.shape + x.shape``, x's dtype, exactly symmetric. Sparse: ``(n, n)`` CSR.

    Raises
    ------
    TypeError, ValueError
        As :func:`softgrad.gradient`; also a ``sparsity`` of the wrong shape, ``method`` other than
        ``'central'`` without ``grad``, ``nan_policy='omit'`` without ``grad``.

    Notes
    -----
    Evaluations from values: ``1 + 2n + 2p`` with ``p`` the off-diagonal pairs, so ``n^2 + n + 1``
    dense and ``1 + 2n + nnz_offdiag`` sparse (``4n - 1`` for a tridiagonal Hessian), instead
    of ``n^2 + n + 1``. Why no colouring reduces this: one value of ``f`` is one number, and the
    ``n + p`` unknowns of ``H`` each need one symmetric pair of values (the pair cancels the
    gradient's terms and the third-order ones) — the seven-point formula shares the pairs
    ``f(x ± a_i e_i)`` between the diagonal and every pair, so ``2(n + p) + 1`` is the least a
    scheme of symmetric pairs can do (grouping coordinates would only give sums of entries). With
    ``grad`` a colouring does reduce the count: ``order * n_colours`` evaluations of ``grad`` for
    ``'central'`` (6 for a tridiagonal Hessian, 4 for an arrowhead).

    The rounding error of a second difference is about :math:`\\epsilon |f| / h^2`: from values,
    the absolute error grows with the size of ``f`` itself (a sum of many terms), not of ``H``;
    ``grad=`` avoids that.

    numdifftools' ``Hessian`` (dense, Richardson) and scipy (which has no Hessian; its
    ``approx_derivative`` of an analytic gradient is the ``grad=`` route) are the peers; neither
    estimates a sparse Hessian from function values.

    References
    ----------
    M. Abramowitz and I. A. Stegun, Handbook of Mathematical Functions (1964), 25.3.27. T. F.
    Coleman and J. J. Moré, "Estimation of sparse Hessian matrices and graph coloring problems",
    Math. Prog. 28 (1984). M. J. D. Powell and Ph. L. Toint, "On the estimation of sparse Hessian
    matrices", SIAM J. Numer. Anal. 16 (1979).

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> from scipy.optimize import rosen, rosen_der, rosen_hess
    >>> x = np.array([0.5, -0.3, 1.2])
    >>> H = softgrad.hessian(rosen, x)
    >>> bool(np.allclose(H, rosen_hess(x), rtol=1e-6, atol=1e-5)), bool(np.all(H == H.T))
    (True, True)
    >>> Hg = softgrad.hessian(None, x, grad=rosen_der)
    >>> bool(np.allclose(Hg, rosen_hess(x), rtol=1e-8))
    True
    >>> tri = np.abs(np.subtract.outer(np.arange(500), np.arange(500))) <= 1
    >>> r = softgrad.hessian(None, np.ones(500), grad=rosen_der, sparsity=tri, full_output=True)
    >>> r.nfev, r.hess.shape, r.hess.nnz
    (6, (500, 500), 1498)
    >>> softgrad.hessian(rosen, np.ones(500), sparsity=tri, full_output=True).nfev
    1999
    """
    func = "hessian"
    xa = _x_param(x, func)
    shape, dt, n = xa.shape, xa.dtype, xa.size
    omit = nan_policy_param(nan_policy, func)
    if grad is not None:
        if sparsity is None:
            j, err, nfev, steps, _ = _estimate(
                func, grad, xa, method, order, step, None, noise, 6, vectorized, batch_size, executor,
                nan_policy, progress, None, True,
            )  # fmt: skip
            if j.shape != (*shape, *shape):
                raise ValueError(
                    f"{func}: grad must return an array of x's shape {shape}, got {j.shape[: -xa.ndim]}"
                )
            j2, e2 = j.reshape(n, n), err.reshape(n, n)
            h = (0.5 * (j2 + j2.T)).astype(dt, copy=False)
            e = 0.5 * (e2 + e2.T) + 0.5 * np.abs(j2 - j2.T)
            hess: Any = h.reshape(*shape, *shape)
            error: Any = e.reshape(*shape, *shape)
        else:
            hess, error, nfev, steps, colours = _sparse_from_grad(
                grad, xa, sparsity, method, order, step, noise, colouring, vectorized, batch_size,
                executor, nan_policy, progress,
            )  # fmt: skip
            if full_output:
                return Estimate(None, None, error, nfev, steps, method, 0.0, hess, colours)
            return hess
        if not full_output:
            return hess
        return Estimate(None, None, error, nfev, steps, method, 0.0, hess)
    if method != "central":
        raise ValueError(
            f"{func}: method must be 'central' from values of f (other methods need grad=), got {method!r}"
        )
    if order not in (None, 2):
        raise ValueError(f"{func}: order must be 2 from values of f, got {order!r}")
    if omit:
        raise ValueError(
            f"{func}: nan_policy='omit' needs grad= (a second difference of values has no node to spare)"
        )
    noise_f = 0.0 if noise is None else scalar_param(noise, func, "noise")
    steps_given = _step_param(step, shape, func)
    xf = np.ascontiguousarray(xa).ravel()
    if sparsity is None:
        plan = _k.HessianPlan(xf, steps_given, noise_f, None, None, func)
    else:
        from .sparse_fd import pattern_csr

        ptr0, idx0, _, _ = pattern_csr(sparsity, (n, n), func)
        plan = _k.HessianPlan(xf, steps_given, noise_f, ptr0, idx0, func)
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
        raise ValueError(f"{func}: batch_size must be >= 1, got {batch_size}")
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"{func}: vectorized must be a bool, got {vectorized!r}")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"{func}: executor must be a concurrent.futures.Executor, got {executor!r}")
    progress_bar(progress, func, None)
    ev = _Eval(f, shape, func, False, False)
    npts = plan.n_points

    def where(q: int) -> str:
        i, j = plan.moved(q)
        what = f"coordinate {i}" if j < 0 else f"coordinates {i} and {j}"
        return f"evaluation point {q} (of {npts}: {what} moved)"

    ev.bar = progress_bar(progress, func, npts + 1)
    try:
        f0 = float(center(ev, xf, bool(vectorized))[0])
        values = stack(
            evaluate(plan, ev, n, dt, bool(vectorized), batch_size, executor, where), bool(vectorized), False
        )
    finally:
        if ev.bar is not None:
            ev.bar.close()
    h, err = plan.assemble(f0, values)
    steps = plan.steps.reshape(shape)
    if sparsity is None:
        hess, error = h.reshape(*shape, *shape).astype(dt, copy=False), err.reshape(*shape, *shape)
    else:
        from .sparse_fd import _scipy_sparse

        sp = _scipy_sparse(func)
        csr = plan.csr
        assert csr is not None  # a sparse plan
        indptr, indices = csr
        hess = sp.csr_array((h.astype(dt, copy=False), indices, indptr), shape=(n, n))
        error = sp.csr_array((err, indices.copy(), indptr.copy()), shape=(n, n))
    if not full_output:
        return hess
    return Estimate(None, None, error, ev.nfev, steps, "central", noise_f, hess)


def _sparse_from_grad(
    grad: Callable[..., Any],
    xa: NDArray[Any],
    sparsity: Any,
    method: Any,
    order: Any,
    step: Any,
    noise: Any,
    colouring: Any,
    vectorized: Any,
    batch_size: Any,
    executor: Any,
    nan_policy: Any,
    progress: Any,
) -> tuple[Any, Any, int, NDArray[np.float64], NDArray[np.int64]]:
    from .sparse_fd import ORDERINGS, _scipy_sparse, pattern_csr, sparse_plan

    func = "hessian"
    if not isinstance(colouring, str) or colouring not in ORDERINGS:
        raise ValueError(
            f"{func}: colouring must be one of {', '.join(map(repr, ORDERINGS))}, got {colouring!r}"
        )
    n = xa.size
    indptr, indices, _, _ = pattern_csr(sparsity, (n, n), func)

    def sparse(args: tuple[Any, ...]) -> Any:  # the pattern made symmetric with its diagonal
        return sparse_plan(args, indptr, indices, n, "hessian", colouring, func)

    plan, values, f0, omit, ev, out_shape, _ = _estimate(
        func, grad, xa, method, order, step, None, noise, 6, vectorized, batch_size, executor,
        nan_policy, progress, sparse, True,
    )  # fmt: skip
    if math.prod(out_shape) != n:
        raise ValueError(f"{func}: grad must return an array of x's shape {xa.shape}, got {out_shape}")
    data, err = plan.assemble(values, f0, omit)
    sp = _scipy_sparse(func)
    ptr, idx = plan.csr
    hess = sp.csr_array((data.astype(xa.dtype, copy=False), idx, ptr), shape=(n, n))
    error = sp.csr_array((err, idx.copy(), ptr.copy()), shape=(n, n))
    return hess, error, ev.nfev, plan.steps.reshape(xa.shape), plan.colours


def hvp(
    f: Callable[..., Any] | None,
    x: ArrayLike,
    v: ArrayLike,
    *,
    grad: Callable[..., Any] | None = None,
    step: float | None = None,
    vectorized: bool = False,
    batch_size: int | None = None,
    executor: Executor | None = None,
    nan_policy: str = "raise",
    progress: bool = False,
    full_output: bool = False,
) -> Any:
    """Hessian-vector product ``H(x) v`` of a scalar function by finite differences.

    Parameters
    ----------
    f : callable or None
        ``f(x) -> float``; not called (and may be ``None``) when ``grad`` is given.
    x, v : array_like
        The point (float32 or float64) and the direction (x's shape).
    grad : callable, optional
        ``grad(x) -> array of x's shape``. Then ``H v = (grad(x + t v) - grad(x - t v)) / (2 t)``:
        **2 evaluations of grad**, error :math:`O(t^2)`, with
        :math:`t = \\epsilon^{1/3} \\max(1, \\|x\\|_\\infty) / \\|v\\|_\\infty`.
    step : float, optional
        The step ``t`` along ``v`` (positive).
    vectorized, batch_size, executor, nan_policy, progress :
        As :func:`softgrad.gradient` (for ``f`` only; with ``grad``, ``vectorized`` means
        ``grad(X)`` of a batch of two points).
    full_output : bool, optional
        Return an :class:`Estimate` whose ``.hess`` is ``H v``.

    Returns
    -------
    Hv : ndarray
        x's shape and dtype.

    Notes
    -----
    From values of ``f`` only, ``H v`` is the difference of two central-difference gradients at
    ``x ± t v``, :math:`(\\nabla f(x + t v) - \\nabla f(x - t v)) / (2t)` with the gradient's step
    :math:`k_i = \\epsilon^{1/4} \\max(1, |x_i|)` and :math:`t = \\epsilon^{1/4} \\max(1,
    \\|x\\|_\\infty) / \\|v\\|_\\infty`: **4n evaluations of f** (each entry a four-point mixed
    difference, error :math:`O(t^2 + k^2)`, relative error about :math:`\\sqrt{\\epsilon}`).
    Only the scalar :math:`v^T H v = (f(x + tv) - 2 f(x) + f(x - tv)) / t^2` is cheaper (3
    evaluations); ``H v`` needs the ``n`` numbers of a gradient, hence ``O(n)`` evaluations.
    ``v = 0`` gives zeros with no evaluation.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> from scipy.optimize import rosen, rosen_der, rosen_hess_prod
    >>> x, v = np.array([0.5, -0.3, 1.2]), np.array([1.0, 2.0, -1.0])
    >>> bool(np.allclose(softgrad.hvp(None, x, v, grad=rosen_der), rosen_hess_prod(x, v), rtol=1e-8))
    True
    >>> r = softgrad.hvp(rosen, x, v, full_output=True)
    >>> bool(np.allclose(r.hess, rosen_hess_prod(x, v), rtol=1e-6)), r.nfev
    (True, 12)
    """
    func = "hvp"
    xa = _x_param(x, func)
    shape, dt = xa.shape, xa.dtype
    try:
        va = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: v must be a real array of x's shape, got {v!r}") from None
    if va.shape != shape:
        raise ValueError(f"{func}: v must have x's shape {shape}, got shape {va.shape}")
    if not np.all(np.isfinite(va)):
        raise ValueError(f"{func}: v must be finite")
    if not np.all(np.isfinite(xa)):
        raise ValueError(f"{func}: x must be finite")
    vmax = float(np.max(np.abs(va))) if va.size else 0.0
    eps = float(np.finfo(dt).eps)
    scale = max(1.0, float(np.max(np.abs(xa)))) if xa.size else 1.0
    if step is not None:
        t = scalar_param(step, func, "step")
        if not (t > 0 and math.isfinite(t)):
            raise ValueError(f"{func}: step must be finite and > 0, got {step}")
    else:
        t = (eps ** (1 / 3) if grad is not None else eps**0.25) * scale / max(vmax, 1e-300)
    if vmax == 0.0:
        hv = np.zeros(shape, dt)
        return (
            Estimate(None, None, np.zeros(shape), 0, np.full(shape, t), "central", 0.0, hv)
            if full_output
            else hv
        )
    xp = (xa + t * va).astype(dt)
    xm = (xa - t * va).astype(dt)
    if grad is not None:
        ev = _Eval(grad, shape, func, True, False)
        where = ("x + t v", "x - t v")
        if vectorized:
            rows = ev.batch(np.stack([xp, xm]).reshape(2, -1), lambda q: f"the point {where[q]}")
        else:
            rows = np.stack(
                [
                    np.asarray(ev.one(p, q, lambda q: f"the point {where[q]}")).reshape(-1)
                    for q, p in enumerate((xp, xm))
                ]
            )
        if rows.shape[1] != xa.size:
            raise ValueError(f"{func}: grad must return an array of x's shape {shape}, got {ev.out_shape}")
        hv = ((rows[0] - rows[1]) / (2 * t)).reshape(shape)
        err = (eps * np.maximum(np.abs(rows[0]), np.abs(rows[1])) / t).reshape(shape)
        nfev = 2
    else:
        k = eps**0.25 * np.maximum(1.0, np.abs(xa))
        res = [
            _estimate(
                "hvp",
                f,
                p,
                "central",
                2,
                k,
                None,
                None,
                6,
                vectorized,
                batch_size,
                executor,
                nan_policy,
                progress,
                None,
                False,
            )
            for p in (xp, xm)
        ]
        hv = ((res[0][0].astype(np.float64) - res[1][0]) / (2 * t)).reshape(shape)
        err = (res[0][1] + res[1][1]) / (2 * t)
        nfev = res[0][2] + res[1][2]
    hv = hv.astype(dt, copy=False)
    if not full_output:
        return hv
    return Estimate(None, None, err, nfev, np.full(shape, t), "central", 0.0, hv)
