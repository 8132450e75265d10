"""Evaluating the black box for :mod:`softgrad.fd`: the evaluation contract (what ``f`` may return,
checked with errors naming ``f`` and the point), batches for a vectorized ``f``, executors, the
``nan_policy`` and ``progress`` options, and the noise estimate of ``f``'s values."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._core import fd as _k

_FLOATS = (float, np.float64, np.float32)
# Points generated and evaluated per batch when f takes one point at a time (bounds the memory of
# the points, not the number of calls).
_SCALAR_BATCH_BYTES = 1 << 22
# Points per call of a vectorized f when batch_size is not given: about 256 KiB of points, so that the
# batch and the temporaries f makes from it (a NumPy expression makes several) stay in the core's
# cache. One call on the whole 2n x n batch is several times slower at n = 1000 (the batch and its
# temporaries stream through memory); see benches/python/bench_fd.py, table 3.
_VECTOR_BATCH_BYTES = 1 << 18
_VECTOR_BATCH_MIN = 4


class _Eval:
    """Calls ``f`` on points and checks what it returns: ``m`` outputs each (shape ``out_shape``),
    real (imaginary parts for the complex step), finite."""

    def __init__(
        self,
        f: Any,  # checked: callable
        shape: tuple[int, ...],
        func: str,
        jac: bool,
        cplx: bool,
        omit: bool = False,
        bar: Any = None,
    ):
        if not callable(f):
            raise TypeError(f"{func}: f must be callable, got {f!r}")
        self.f, self.shape, self.func, self.jac, self.cplx = f, shape, func, jac, cplx
        self.out_shape: tuple[int, ...] | None = None if jac else ()
        self.nfev = 0
        # nan_policy="omit": non-finite values are kept (and counted) for the assembly to leave out.
        self.omit, self.n_bad, self.bar = omit, 0, bar
        self.all_imag_zero = True  # complex step: every imaginary part seen was exactly 0

    def _values(self, v: Any, k: int | None, where: Callable[[int], str]) -> NDArray[np.float64]:
        """``v`` (one result, or ``k`` stacked results) as float64 rows of ``m``."""
        arr = np.asarray(v)
        if arr.dtype.kind not in "biufc":
            raise ValueError(f"{self.func}: f must return real numbers, got {type(v).__name__} at {where(0)}")
        lead = () if k is None else (k,)
        if self.out_shape is None:  # the first result of a jacobian sets the output shape
            if arr.shape[: len(lead)] != lead:
                raise ValueError(
                    f"{self.func}: f must return an array of shape (k, ...) for a batch of k points, "
                    f"got shape {arr.shape} at {where(0)}"
                )
            self.out_shape = arr.shape[len(lead) :]
        if arr.shape != lead + self.out_shape:
            what = "a scalar" if not self.jac else f"shape {self.out_shape}"
            want = f"shape {lead + self.out_shape}" if k is not None else what
            raise ValueError(f"{self.func}: f must return {want}, got shape {arr.shape} at {where(0)}")
        if self.cplx:
            if arr.dtype.kind != "c":
                raise ValueError(
                    f"{self.func}: f returned real values for complex input at {where(0)}: it drops the "
                    "imaginary part, so the complex step cannot be used (use method='central')"
                )
            arr = arr.imag
            if self.all_imag_zero and np.any(arr != 0):
                self.all_imag_zero = False
        elif arr.dtype.kind == "c":
            raise ValueError(f"{self.func}: f must return real values, got dtype {arr.dtype} at {where(0)}")
        rows = np.asarray(arr, dtype=np.float64).reshape(1 if k is None else k, -1)
        bad = ~np.isfinite(rows)
        if bad.any() and self.omit:
            self.n_bad += int(bad.any(axis=1).sum())
        elif bad.any():
            r = int(np.argwhere(bad)[0][0])
            raise ValueError(
                f"{self.func}: f returned a non-finite value ({rows[r][bad[r]][0]}) at {where(r)} "
                "(nan_policy='raise'; 'omit' leaves such values out)"
            )
        return rows

    def one(self, point: NDArray[Any], q: int, where: Callable[[int], str]) -> Any:
        """``f`` at one point (number ``q``): a float for a gradient, else a row of ``m`` values."""
        try:
            v = self.f(point.reshape(self.shape))
        except BaseException as exc:
            self._note(exc, where(q))
            raise
        return self.check_one(v, q, where)

    def check_one(self, v: Any, q: int, where: Callable[[int], str]) -> Any:
        self.nfev += 1
        if self.bar is not None:
            self.bar.update(1)
        if not self.jac and not self.cplx and type(v) in _FLOATS:  # the common case, fast
            fv = float(v)
            if fv - fv == 0.0:  # finite
                return fv
        rows = self._values(v, None, lambda _: where(q))
        return float(rows[0, 0]) if not self.jac else rows

    def batch(
        self, points: NDArray[Any], where: Callable[[int], str], offset: int = 0
    ) -> NDArray[np.float64]:
        k = points.shape[0]
        try:
            v = self.f(points.reshape((k, *self.shape)))
        except BaseException as exc:
            self._note(exc, where(offset))
            raise
        return self.check_batch(v, k, where, offset)

    def check_batch(self, v: Any, k: int, where: Callable[[int], str], offset: int) -> NDArray[np.float64]:
        self.nfev += k
        if self.bar is not None:
            self.bar.update(k)

        def at(r: int) -> str:
            return where(offset + r)

        return self._values(v, k, at)

    def mapped(
        self, executor: Executor, args: list[NDArray[Any]], firsts: list[int], where: Callable[[int], str]
    ) -> Iterator[Any]:
        """``executor.map(f, args)`` in order; an exception of ``f`` gets a note naming the first
        point of the argument it came from (``firsts``)."""
        it = executor.map(self.f, args)
        for first in firsts:
            try:
                yield next(it)
            except BaseException as exc:
                self._note(exc, where(first))
                raise

    def _note(self, exc: BaseException, where: str) -> None:
        if hasattr(exc, "add_note"):
            exc.add_note(f"softgrad.{self.func}: raised by f at {where}")


# ---------------------------------------------------------------------------------------------
# the options of the evaluation


def nan_policy_param(value: Any, func: str) -> bool:
    """``nan_policy`` as "omit?"."""
    if not isinstance(value, str) or value not in ("raise", "omit"):
        raise ValueError(f"{func}: nan_policy must be 'raise' or 'omit', got {value!r}")
    return value == "omit"


def progress_bar(progress: Any, func: str, total: int | None) -> Any:
    """A tqdm bar of ``total`` evaluations if ``progress``, else None (``total=None``: only the
    checks); ImportError naming the extra if tqdm is not installed (an optional dependency:
    ``softgrad[progress]``)."""
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"{func}: progress must be a bool, got {progress!r}")
    if not progress:
        return None
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        raise ImportError(
            f"{func}: progress=True needs tqdm, which is not installed: "
            "pip install 'softgrad[progress]' (or pip install tqdm)"
        ) from None
    if total is None:
        return None
    return tqdm(total=total, desc=f"softgrad.{func}", unit="eval", leave=False)


# ---------------------------------------------------------------------------------------------
# the evaluation loop


def batch_points(
    npts: int, point_bytes: int, vectorized: bool, batch_size: int | None, executor: Executor | None
) -> int:
    """Points generated per batch: ``batch_size`` if given; for a vectorized ``f`` about 256 KiB of
    points (at least 4), or all ``npts`` in one task with an executor; for a scalar ``f`` (one call
    per point) 4 MiB of points, which bounds the memory of the points only."""
    if vectorized and batch_size is not None:
        return int(batch_size)
    if vectorized and executor is not None:
        return max(1, npts)  # one task: the caller sets batch_size to spread it
    if vectorized:
        return max(_VECTOR_BATCH_MIN, _VECTOR_BATCH_BYTES // max(1, point_bytes))
    return max(1, _SCALAR_BATCH_BYTES // max(1, point_bytes))


def evaluate(
    plan: Any,
    ev: _Eval,
    n: int,
    dt: np.dtype[Any],
    vectorized: bool,
    batch_size: int | None,
    executor: Executor | None,
    where: Callable[[int], str],
    imag: Callable[[NDArray[Any], int], None] | None = None,
) -> list[Any]:
    """The values of ``f`` at every point of ``plan`` (``plan.points(start, stop)``), in order: floats
    (scalar gradient) or rows. ``imag(points, start)`` adds the complex step to a batch."""
    npts = plan.n_points
    size = batch_points(npts, n * dt.itemsize, vectorized, batch_size, executor)
    chunks: list[Any] = []
    pending: list[tuple[int, NDArray[Any]]] = []  # (first point, points) for the executor
    shape = ev.shape
    for start in range(0, npts, max(size, 1)):
        stop = min(npts, start + size)
        pts = plan.points(start, stop).reshape(stop - start, n)
        if imag is not None:
            pts = pts.astype(np.result_type(dt, np.complex64))
            imag(pts, start)
        if executor is not None:
            pending.append((start, pts))
        elif vectorized:
            chunks.append(ev.batch(pts, where, start))
        else:
            chunks.extend(ev.one(p, start + r, where) for r, p in enumerate(pts))
    if executor is not None and vectorized:
        args = [p.reshape((len(p), *shape)) for _, p in pending]
        firsts = [s for s, _ in pending]
        for (s, p), v in zip(pending, ev.mapped(executor, args, firsts, where), strict=True):
            chunks.append(ev.check_batch(v, len(p), where, s))
    elif executor is not None:
        args = [p.reshape(shape) for _, pts in pending for p in pts]
        firsts = list(range(len(args)))
        for qi, v in enumerate(ev.mapped(executor, args, firsts, where)):
            chunks.append(ev.check_one(v, qi, where))
    return chunks


def center(ev: _Eval, xf: NDArray[Any], vectorized: bool, cplx: bool = False) -> NDArray[np.float64]:
    """``f(x)`` as float64 values (never omitted: a non-finite ``f(x)`` raises)."""
    x0 = xf.copy()
    if cplx:
        x0 = x0.astype(np.result_type(x0.dtype, np.complex64))
    omit, ev.omit = ev.omit, False
    try:
        f0 = ev.batch(x0[None], lambda _: "x") if vectorized else ev.one(x0, 0, lambda _: "x")
    finally:
        ev.omit = omit
    return np.asarray(f0, dtype=np.float64).reshape(-1)


def stack(chunks: list[Any], vectorized: bool, jac: bool) -> NDArray[np.float64]:
    """The values of :func:`evaluate` as one flat float64 array (points x outputs)."""
    if not chunks:
        return np.zeros(0)
    if vectorized or jac:
        return np.concatenate(chunks).reshape(-1)
    return np.array(chunks, dtype=np.float64)


def check_imaginary(ev: _Eval, xf: NDArray[Any], vectorized: bool, values: NDArray[Any]) -> None:
    """The complex step on an f that returns complex values whose imaginary parts are all exactly 0:
    either f's derivatives are all 0 or it dropped the imaginary part (``x.real`` inside). Two real
    evaluations (x and x moved along a fixed direction by sqrt(eps) max(1, |x|)) tell: if f moves
    there, it dropped the imaginary part and the estimate would be a silent 0."""
    if not ev.all_imag_zero or xf.size == 0 or values.size == 0:
        return
    signs = np.array([1.0 - 2.0 * (bin(i).count("1") % 2) for i in range(xf.size)])
    h = float(np.sqrt(np.finfo(xf.dtype).eps)) * np.maximum(1.0, np.abs(xf))
    pts = np.stack([xf, (xf + h * signs).astype(xf.dtype)])
    if vectorized:
        out = np.asarray(ev.f(pts.reshape((2, *ev.shape))))
        rows = [np.real(out[0]), np.real(out[1])]
    else:
        rows = [np.real(np.asarray(ev.f(p.reshape(ev.shape)))) for p in pts]
    ev.nfev += 2
    if np.shape(rows[0]) == np.shape(rows[1]) and np.any(rows[0] != rows[1]):
        raise ValueError(
            f"{ev.func}: f returned complex values with imaginary parts all exactly 0 although its real "
            "values change with x: it drops the imaginary part of its input, so the complex step "
            "cannot be used (use method='central')"
        )


# ---------------------------------------------------------------------------------------------
# the estimate


def _noise(
    ev: _Eval,
    xf: NDArray[Any],
    dt: np.dtype[Any],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    vectorized: bool,
    func: str,
) -> float:
    """Moré and Wild's noise estimate (``_core.fd.ecnoise``) from f at 9 equally spaced points on a
    line through x, the spacing tried at 1e-6 max(1, |x_i|) and moved by factors of 100 (at most 4
    tries); the largest level over f's outputs."""
    n = xf.size
    # A fixed direction with every coordinate (Thue-Morse signs: no period for f to resonate with).
    signs = np.array([1.0 - 2.0 * (bin(i).count("1") % 2) for i in range(n)])
    h = 1e-6 * np.maximum(1.0, np.abs(xf))
    lo = lower if lower.size else np.full(n, -np.inf)
    hi = upper if upper.size else np.full(n, np.inf)
    t = np.arange(-4.0, 5.0)
    for _ in range(4):
        d = np.where((xf - 4 * h >= lo) & (xf + 4 * h <= hi), h * signs, 0.0)
        if not d.any():
            raise ValueError(
                f"{func}: noise='estimate' needs room for 4 steps of {h.min():.3g} on both sides of x"
            )
        pts = (xf[None, :] + t[:, None] * d[None, :]).astype(dt)

        def where(j: int) -> str:
            return f"noise-estimation point {j} (of 9)"

        if vectorized:
            rows = ev.batch(pts, where)
        else:
            rows = np.stack(
                [np.asarray(ev.one(p, j, where), dtype=np.float64).reshape(-1) for j, p in enumerate(pts)]
            )
        found = [_k.ecnoise(np.ascontiguousarray(rows[:, j])) for j in range(rows.shape[1])]
        levels = [lv for kind, lv in found if kind == "level"]
        if levels:
            return float(max(levels))
        h = h * 100.0 if found[0][0] == "too_small" else h / 100.0
    raise ValueError(
        f"{func}: noise could not be estimated from f's values (ECnoise found no consistent level at "
        "spacings 1e-10 to 1e-2 relative to x); pass noise= a float"
    )
