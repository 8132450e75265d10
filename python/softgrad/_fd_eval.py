"""Evaluating the black box for :mod:`softgrad.fd`: the evaluation contract (what ``f`` may return,
checked with errors naming ``f`` and the point), batches for a vectorized ``f``, executors, and the
noise estimate of ``f``'s values."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._core import fd as _k

_FLOATS = (float, np.float64, np.float32)


class _Eval:
    """Calls ``f`` on points and checks what it returns: ``m`` outputs each (shape ``out_shape``),
    real (imaginary parts for the complex step), finite."""

    def __init__(self, f: Callable[..., Any], shape: tuple[int, ...], func: str, jac: bool, cplx: bool):
        if not callable(f):
            raise TypeError(f"{func}: f must be callable, got {f!r}")
        self.f, self.shape, self.func, self.jac, self.cplx = f, shape, func, jac, cplx
        self.out_shape: tuple[int, ...] | None = None if jac else ()
        self.nfev = 0

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
        elif arr.dtype.kind == "c":
            raise ValueError(f"{self.func}: f must return real values, got dtype {arr.dtype} at {where(0)}")
        rows = np.asarray(arr, dtype=np.float64).reshape(1 if k is None else k, -1)
        bad = ~np.isfinite(rows)
        if bad.any():
            r = int(np.argwhere(bad)[0][0])
            raise ValueError(
                f"{self.func}: f returned a non-finite value ({rows[r][bad[r]][0]}) at {where(r)}"
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
