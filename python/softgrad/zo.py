r"""Randomized (zeroth-order) gradient estimates and MeZO's in-place perturbations.

:func:`gradient` with ``method="spsa" | "gaussian" | "sphere" | "coordinate"`` (reached through
:func:`softgrad.gradient`), :func:`spsa_inplace` and :func:`apply_seeded_update`.

Directions and estimate: ``rust/softgrad-core/src/estimate/zo.rs``; the in-place steps:
``estimate/zo/inplace.rs``; the generator: ``rust/softgrad-core/src/rng.rs`` (Philox4x32-10,
counter-based); bound as ``softgrad._core.zo`` by ``rust/softgrad-py/src/estimate/zo.rs``. Rust
builds the points and assembles the estimate; ``f`` is evaluated under the contract of
:func:`softgrad.gradient` (``vectorized``, ``batch_size``, ``executor``).

Direction :math:`j` is stream :math:`(\text{seed}, j)` of the generator: the same bits whatever the
thread count, batch size or executor. With step :math:`c` and :math:`d` coordinates (in ``mask``),
the per-sample estimates are

.. math::
    g_k = s \, \frac{f(x + c u_k) - f(x - c u_k)}{2c}\, u_k
    \quad\text{(two-sided)}, \qquad
    g_k = s \, \frac{f(x + c u_k) - f(x)}{c}\, u_k \quad\text{(one-sided)},

with :math:`u_k` Rademacher and :math:`s = 1` for ``"spsa"`` (:math:`\Delta^{-1} = \Delta`), standard
normal and :math:`s = 1` for ``"gaussian"``, uniform on the unit sphere and :math:`s = d` for
``"sphere"``, and a coordinate :math:`e_i` drawn without replacement and :math:`s = d` for
``"coordinate"`` (so the mean over :math:`q` samples is the :math:`d/q`-scaled sum of :math:`q`
partial differences). The estimate is the mean of the :math:`g_k`, unbiased for quadratics; its
``variance`` is the per-coordinate sample variance of the :math:`g_k` over ``n_samples``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._core import zo as _k
from ._fd_eval import _Eval, batch_points
from ._params import _plain, threads_param
from .fd import Estimate

__all__ = ["ZOEstimate", "apply_seeded_update", "spsa_inplace"]

METHODS = ("spsa", "gaussian", "sphere", "coordinate")
_DISTS = ("gaussian", "rademacher")
_U64 = 1 << 64


@dataclass(frozen=True)
class ZOEstimate(Estimate):
    """The full output of a randomized :func:`softgrad.gradient` (``full_output=True``).

    An :class:`~softgrad.Estimate` (``grad``, ``nfev``, ``step`` (the step :math:`c` in every
    coordinate), ``method``; ``error`` is ``stderr``) with:

    Attributes
    ----------
    variance : ndarray
        Per coordinate, the sample variance of the per-sample estimates divided by ``n_samples``:
        the variance of ``grad`` (float64, x's shape; NaN with one sample, 0 outside ``mask``).
    stderr : ndarray
        ``sqrt(variance)``.
    seed : int
        The seed of the directions (drawn from the OS when not given): pass it back to reproduce.
    n_samples : int
        Per-sample estimates averaged.
    """

    variance: NDArray[np.float64] | None = None
    stderr: NDArray[np.float64] | None = None
    seed: int = 0
    n_samples: int = 0


def _int(value: Any, func: str, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an int, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v >= hi):
        want = f">= {lo}" if hi is None else f"in [{lo}, {hi})"
        raise ValueError(f"{func}: {name} must be {want}, got {v}")
    return v


def _seed(seed: Any, func: str) -> int:
    if seed is None:
        return secrets.randbits(64)
    return _int(seed, func, "seed", 0, _U64)


def _positive(value: Any, func: str, name: str) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: {name} must be a real number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{func}: {name} must be finite and > 0, got {v}")
    return v


def _gradient(
    f: Callable[..., Any],
    x: ArrayLike,
    *,
    method: str,
    step: Any = None,
    vectorized: Any = False,
    batch_size: Any = None,
    executor: Any = None,
    full_output: bool = False,
    n_samples: Any = 1,
    antithetic: Any = False,
    sides: Any = None,
    two_sided: Any = None,
    seed: Any = None,
    mask: Any = None,
    n_threads: Any = None,
    order: Any = None,
    bounds: Any = None,
    noise: Any = None,
) -> Any:
    """The randomized branch of :func:`softgrad.gradient` (its docstring lists the options)."""
    func = "gradient"
    if method not in METHODS:
        raise TypeError(
            f"gradient: n_samples, antithetic, sides, two_sided, seed, mask and n_threads are options of "
            f"the randomized methods {', '.join(map(repr, METHODS))}, not of method={method!r}"
        )
    for name, v in (("order", order), ("bounds", bounds), ("noise", noise)):
        if v is not None:
            raise ValueError(f"{func}: {name} is not an option of method={method!r}")
    arr = _plain(x, func, "x")
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{func}: x must be a float32 or float64 array, got dtype {arr.dtype}")
    shape, dt = arr.shape, arr.dtype
    ns = _int(n_samples, func, "n_samples", 1)
    if not isinstance(antithetic, (bool, np.bool_)):
        raise TypeError(f"{func}: antithetic must be a bool, got {antithetic!r}")
    if two_sided is not None and sides is not None:
        raise ValueError(f"{func}: give sides or two_sided, not both")
    if two_sided is not None:
        if not isinstance(two_sided, (bool, np.bool_)):
            raise TypeError(f"{func}: two_sided must be a bool, got {two_sided!r}")
        nsides = 2 if two_sided else 1
    else:
        nsides = 2 if sides is None else _int(sides, func, "sides", 1, 3)
    s = _seed(seed, func)
    c = None if step is None else _positive(step, func, "step")
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"{func}: vectorized must be a bool, got {vectorized!r}")
    if batch_size is not None:
        _int(batch_size, func, "batch_size", 1)
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"{func}: executor must be a concurrent.futures.Executor, got {executor!r}")
    m = None
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"{func}: mask must be a boolean array, got dtype {m.dtype}")
        if m.shape != shape:
            raise ValueError(f"{func}: mask must have x's shape {shape}, got {m.shape}")
        m = np.ascontiguousarray(m).ravel()
    xf = np.ascontiguousarray(arr).ravel()
    plan = _k.Plan(xf, method, ns, nsides, bool(antithetic), s, c, m, threads_param(n_threads, func))
    ev = _Eval(f, shape, func, False, False)
    values, f0 = _evaluate(ev, plan, xf, bool(vectorized), batch_size, executor, method)
    g, var = plan.assemble(values, f0)
    grad = g.reshape(shape).astype(dt, copy=False)
    if not full_output:
        return grad
    var = var.reshape(shape)
    err = np.sqrt(var)
    return ZOEstimate(
        grad=grad,
        jac=None,
        error=err,
        nfev=ev.nfev,
        step=np.full(shape, plan.step),
        method=method,
        variance=var,
        stderr=err,
        seed=s,
        n_samples=ns,
    )


def _evaluate(
    ev: _Eval,
    plan: Any,
    xf: NDArray[Any],
    vectorized: bool,
    batch_size: int | None,
    executor: Executor | None,
    method: str,
) -> tuple[NDArray[np.float64], float | None]:
    """``f`` at every point of ``plan`` (and at ``x`` one-sided) under the evaluation contract of
    :mod:`softgrad._fd_eval`: batches for a vectorized ``f``, one point per call otherwise, spread
    over ``executor`` when given."""
    n, npts, shape = xf.size, plan.n_points, ev.shape
    per = 2 if not plan.needs_center else 1

    def where(q: int) -> str:
        return f"evaluation point {q} (of {npts}: {method} sample {q // per})"

    f0 = None
    if plan.needs_center:
        x0 = xf.copy()
        v0 = ev.batch(x0[None], lambda _: "x") if vectorized else ev.one(x0, 0, lambda _: "x")
        f0 = float(np.asarray(v0, dtype=np.float64).reshape(-1)[0])
    size = batch_points(npts, n * xf.dtype.itemsize, vectorized, batch_size, executor)
    out: list[Any] = []
    batches = [(start, min(npts, start + size)) for start in range(0, npts, size)]
    if executor is not None:  # all points first, so that the executor runs them concurrently
        pts = [plan.points(a, b).reshape(b - a, n) for a, b in batches]
        if vectorized:
            args = [p.reshape((len(p), *shape)) for p in pts]
            firsts = [a for a, _ in batches]
            for (a, b), v in zip(batches, ev.mapped(executor, args, firsts, where), strict=True):
                out.append(ev.check_batch(v, b - a, where, a).reshape(-1))
        else:
            args = [p.reshape(shape) for batch in pts for p in batch]
            mapped = ev.mapped(executor, args, list(range(npts)), where)
            out.append(np.array([ev.check_one(v, q, where) for q, v in enumerate(mapped)], dtype=np.float64))
    else:
        for a, b in batches:
            p = plan.points(a, b).reshape(b - a, n)
            if vectorized:
                out.append(ev.batch(p, where, a).reshape(-1))
            else:
                out.append(np.array([ev.one(r, a + i, where) for i, r in enumerate(p)], dtype=np.float64))
    values = np.concatenate(out) if out else np.zeros(0)
    return np.ascontiguousarray(values, dtype=np.float64), f0


# ---------------------------------------------------------------------------------------------
# in place (MeZO)


def _inplace_x(x: Any, func: str) -> NDArray[Any]:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: x must be a numpy.ndarray (it is changed in place), got {type(x).__name__}")
    if x.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{func}: x must be a float32 or float64 array, got dtype {x.dtype}")
    if not x.flags.c_contiguous:
        raise TypeError(f"{func}: x must be C-contiguous (it is changed in place, never copied)")
    if not x.flags.writeable:
        raise ValueError(f"{func}: x is read-only")
    if not x.flags.aligned:
        raise ValueError(f"{func}: x must be aligned (it is changed in place, never copied)")
    return x


def _dist(dist: Any, func: str) -> str:
    if not isinstance(dist, str) or dist not in _DISTS:
        raise ValueError(f"{func}: dist must be 'gaussian' or 'rademacher', got {dist!r}")
    return dist


def spsa_inplace(
    f: Callable[[NDArray[Any]], Any],
    x: NDArray[Any],
    *,
    eps: float,
    seed: int,
    n_samples: int = 1,
    dist: str = "gaussian",
    n_threads: int | None = None,
) -> tuple[NDArray[np.float64], list[int]]:
    r"""Projected gradients of ``f`` at ``x`` along seeded directions, perturbing ``x`` in place
    (MeZO's estimator): no copy of ``x`` is made.

    For each sample :math:`k` with seed :math:`s_k` and direction :math:`z = z(s_k)`:
    ``x += eps z``, :math:`f_+ = f(x)`; ``x -= 2 eps z``, :math:`f_- = f(x)`; ``x`` is restored;
    the projected gradient is :math:`(f_+ - f_-) / (2\,\text{eps})`, and
    :math:`\frac{f_+ - f_-}{2\,\text{eps}} z` estimates the gradient. :math:`z` is regenerated from
    :math:`(s_k, i)` in fixed pieces whenever it is needed and never stored: memory beyond ``x`` is
    a few kilobytes per thread. The perturbation passes release the GIL and run on ``n_threads``
    threads with identical bits for any count.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, called with ``x`` itself (perturbed). It must not keep ``x`` or change it.
    x : numpy.ndarray
        float32 or float64, C-contiguous, aligned and writeable (anything else raises: it is never
        copied). Any shape.
    eps : float
        The perturbation scale, finite and > 0 (MeZO uses 1e-3). With ``dist='rademacher'`` it is
        first rounded to 8 significant bits (Notes).
    seed : int
        In ``[0, 2**64)``. Sample :math:`k` uses the seed ``seeds[k]`` derived from ``(seed, k)``.
    n_samples : int, optional
        Directions (2 evaluations each).
    dist : {'gaussian', 'rademacher'}, optional
        The distribution of :math:`z`: standard normal (MeZO, default) or :math:`\pm 1` (SPSA).
    n_threads : int, optional
        Threads of the perturbation passes.

    Returns
    -------
    projected : ndarray
        float64, shape ``(n_samples,)``: :math:`(f_+ - f_-) / (2\,\text{eps})` per sample
        (``eps`` rounded to 8 significant bits with ``dist='rademacher'``).
    seeds : list of int
        The seed of each sample's :math:`z`: ``apply_seeded_update(x, seeds[k], -lr *
        projected[k] / n_samples, dist=dist)`` is MeZO's update.

    Raises
    ------
    TypeError
        ``x`` not an ndarray, not float32/float64 or not C-contiguous; ``f`` not callable.
    ValueError
        ``x`` read-only or unaligned; ``eps``, ``seed``, ``n_samples`` or ``dist`` out of range;
        ``f`` returning a non-scalar or a non-finite value.
    Exception
        Whatever ``f`` raises, including ``KeyboardInterrupt``: ``x`` is restored first.

    Notes
    -----
    **Restoration and rounding.** A perturbation of scale :math:`d_i = c z_i` adds :math:`d_i`
    rounded to a multiple of :math:`x_i`'s ulp, so that the sum is exact unless it enters a coarser
    binade; there it is rounded to nearest with **ties toward zero** (not to even). Each evaluation
    point is one such step from the original: ``f`` sees :math:`x_i \pm \text{eps}\, z_i` rounded
    once from :math:`x_i`, within half an ulp of :math:`x_i` of the sum rounded to :math:`x_i`'s
    grid (the minus point is not reached by adding :math:`-2\,\text{eps}\,z_i` to the plus point:
    the pass recovers :math:`x_i` first). Adding the negated perturbation back does *not* give the
    original bits in general (in float32, ``x + eps z - 2 eps z + eps z`` differs from ``x`` in
    about half the coordinates), so restoration instead *solves* for the value whose step produced
    the current one, among the float nearest :math:`x_i' - d_i` and its neighbours (±3 ulp),
    checked by replaying the step. With ties toward zero a step is at most two-to-one wherever
    :math:`|x_i| > \text{eps}\,|z_i| + 4` ulp (proof in the core's ``estimate/zo/inplace.rs``: a
    step into a coarser binade floors the sum to its grid, so two sums end on each float of it;
    with ties to even, a float with an even last bit is where three end), and the passes keep the
    one bit that tells two apart in a bitmap of ``ceil(x.size / 8)`` bytes (3.1 % of a float32
    ``x``, 1.6 % of a float64 one: the only memory beyond a few kilobytes per thread). So ``x``
    comes back **bit for bit at every coordinate with** :math:`|x_i| > \text{eps}\,|z_i| + 4`
    **ulp** for every sample (exact powers of two, ``-x`` as ``x``, float32 and float64, any
    thread count and SIMD level), and exact zeros come back as ``+0.0`` (``-0.0`` too). Below that
    (a step across several binades or across zero) many floats end together and no method without
    a copy can tell them apart (:math:`[-|d|, |d|]` holds far more floats than :math:`[d/2, 3d/2]`):
    the value restored is one of them, within a few ulp of :math:`\text{eps}\,|z_i|`. Weights of
    std 0.02 at ``eps=1e-3``, one sample: 97.3-98.3 % of coordinates come back exact (all with
    :math:`|x_i|` above the bound), the rest within 5e-10 in float32 (plain MeZO code,
    ``x.add_(z, alpha=eps)`` three times, gives back 54-71 %). Cost: :math:`z` is regenerated by
    a vectorized Philox4x32-10 (and Box-Muller) in every pass; where a step keeps :math:`x_i`
    inside its binade (most coordinates) a pass is a vectorized exact shift, and the others are
    solved by a vectorized, branch-free search over the candidates, so the passes of
    ``spsa_inplace`` cost a few times a plain pass (``benches/python/bench_zo.py``, table 2);
    :func:`apply_seeded_update` is one plain pass (rounded ties to even).

    **Rademacher steps are float additions.** With ``dist='rademacher'``, ``eps`` is rounded to 8
    significant bits before anything else (ties to even; a relative change of at most
    :math:`2^{-8}`, 0.4 %: ``1e-3`` becomes :math:`131 \cdot 2^{-17} \approx 9.9945 \cdot
    10^{-4}`), and ``projected`` divides by the rounded value, so it is the exact difference
    quotient of the points ``f`` saw. Then :math:`|d_i| = \text{eps}` is a multiple of the ulp of
    every :math:`x_i` below about :math:`2^{15}\,\text{eps}`, the rounding to :math:`x_i`'s grid
    changes nothing there, and a step is the float sum :math:`x_i \pm \text{eps}` rounded with
    ties toward zero: the float32 passes compute it and its undoing with a few vector float
    operations per 8 coordinates. The rule, the bits kept and the coordinates restored exactly
    are the ones above.

    References
    ----------
    S. Malladi et al., "Fine-tuning language models with just forward passes", NeurIPS 2023.
    J. C. Spall, IEEE TAC 37 (1992).

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x = np.linspace(-1, 1, 1000).astype(np.float32)
    >>> before = x.copy()
    >>> g, seeds = softgrad.spsa_inplace(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x,
    ...                                  eps=1e-3, seed=0, n_samples=4)
    >>> g.shape, len(seeds)
    ((4,), 4)
    >>> bool(np.all(x[np.abs(before) > 0.01] == before[np.abs(before) > 0.01]))  # see Notes
    True
    >>> float(np.abs(x - before).max()) < 1e-7
    True
    >>> for gk, sk in zip(g, seeds):
    ...     softgrad.apply_seeded_update(x, sk, -1e-3 * gk / 4)
    """
    func = "spsa_inplace"
    x = _inplace_x(x, func)
    c = _positive(eps, func, "eps")
    s = _int(seed, func, "seed", 0, _U64)
    ns = _int(n_samples, func, "n_samples", 1)
    d = _dist(dist, func)
    if d == "rademacher":
        c = _eight_bits(c)
    nt = threads_param(n_threads, func)
    ev = _Eval(f, x.shape, func, False, False)
    seeds = [int(v) for v in _k.derive_seeds(s, ns)]
    state = np.zeros(4)  # [steps applied, their coefficients]: written by the passes themselves
    bits = np.zeros((x.size + 7) // 8, np.uint8)  # the one bit a perturbation may lose
    projected = np.empty(ns)
    current = seeds[0]

    def where(q: int) -> str:
        return f"sample {q // 2} ({'x + eps z' if q % 2 == 0 else 'x - eps z'})"

    try:
        for k, sk in enumerate(seeds):
            current = sk
            _k.apply(x, sk, d, c, state, bits, nt)
            fp = ev.check_one(_call(ev, x, 2 * k, where), 2 * k, where)
            _k.apply(x, sk, d, -2.0 * c, state, bits, nt)
            fm = ev.check_one(_call(ev, x, 2 * k + 1, where), 2 * k + 1, where)
            _k.restore(x, sk, d, state, bits, nt)
            projected[k] = (fp - fm) / (2.0 * c)
    finally:
        if state[0] > 0:
            _k.restore(x, current, d, state, bits, nt)
    return projected, seeds


def _eight_bits(eps: float) -> float:
    """``eps`` rounded to 8 significant bits (to nearest, ties to even; the largest such float
    below 2**1024 where that would overflow)."""
    m, e = math.frexp(eps)  # eps = m 2**e, 1/2 <= m < 1: m 2**8 is exact
    r = round(m * 256.0)
    if r == 256 and e == 1024:
        r = 255
    return math.ldexp(r, e - 8)


def _call(ev: _Eval, x: NDArray[Any], q: int, where: Callable[[int], str]) -> Any:
    try:
        return ev.f(x)
    except BaseException as exc:
        ev._note(exc, where(q))
        raise


def apply_seeded_update(
    x: NDArray[Any], seed: int, coeff: float, *, dist: str = "gaussian", n_threads: int | None = None
) -> None:
    r"""``x += coeff * z(seed)`` in place, :math:`z` regenerated from the seed (MeZO's update step).

    Parameters
    ----------
    x : numpy.ndarray
        float32 or float64, C-contiguous, aligned, writeable.
    seed : int
        A seed returned by :func:`spsa_inplace` (or any int in ``[0, 2**64)``).
    coeff : float
        Finite; e.g. ``-lr * projected_gradient``.
    dist : {'gaussian', 'rademacher'}, optional
        Must match the :func:`spsa_inplace` call that produced the seed.
    n_threads : int, optional
        Threads of the pass (the bits do not depend on it).

    Raises
    ------
    TypeError, ValueError
        As :func:`spsa_inplace` for ``x``; ``coeff`` not finite; ``seed`` out of range.

    Notes
    -----
    Each element becomes :math:`x_i + \text{coeff}\, z_i` with the increment rounded to a multiple
    of :math:`x_i`'s ulp (the sum exact unless it enters a coarser binade, then rounded to
    nearest), :math:`z_i` the same value :func:`spsa_inplace` perturbed with: within an ulp of
    :math:`x_i` of :math:`\operatorname{round}(x_i + \text{coeff}\, z_i)`.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> x = np.zeros(4)
    >>> softgrad.apply_seeded_update(x, 7, 0.5, dist="rademacher")
    >>> sorted(set(np.abs(x).tolist()))
    [0.5]
    """
    func = "apply_seeded_update"
    x = _inplace_x(x, func)
    s = _int(seed, func, "seed", 0, _U64)
    if isinstance(coeff, (bool, np.bool_)):
        raise TypeError(f"{func}: coeff must be a real number, got {coeff!r}")
    try:
        cf = float(coeff)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: coeff must be a real number, got {coeff!r}") from None
    if not math.isfinite(cf):
        raise ValueError(f"{func}: coeff must be finite, got {cf}")
    _k.apply(x, s, _dist(dist, func), cf, None, None, threads_param(n_threads, func))
