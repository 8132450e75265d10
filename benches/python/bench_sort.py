"""soft_rank / soft_sort: softgrad against fast-soft-sort's algorithm, side by side in one process.

The peers named in PEERS.md are torchsort (needs torch, ~4 GB: not installed here) and fast-soft-sort
(not on PyPI). This benchmark therefore compares against a faithful re-implementation of
fast-soft-sort's NumPy/Numba code path (``numpy_ops.SoftRank`` / ``SoftSort``: argsort, PAV in a
Numba-compiled loop, rows looped in Python as its PyTorch/JAX wrappers do). Without Numba it falls
back to the same algorithm with a pure-Python PAV and says so. ``np.argsort`` of the same array is the
floor (the PAV pass is linear after the sort).

    python benches/python/bench_sort.py [--repeat 5] [--markdown]

Times are best of ``--repeat`` runs, peer and softgrad interleaved so slow phases hit both.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import softgrad as sg

try:
    import numba

    njit: Callable[..., Any] = numba.njit
    PEER = f"fast-soft-sort algorithm (NumPy + Numba {numba.__version__} PAV, rows looped in Python)"
except ImportError:  # pragma: no cover - depends on the environment

    def njit(f: Callable[..., Any]) -> Callable[..., Any]:
        return f

    PEER = "fast-soft-sort algorithm (NumPy + pure-Python PAV: Numba is not installed)"


# --- fast-soft-sort's PAV (isotonic regression, decreasing), as in its numpy_ops.py -------------


@njit
def _isotonic_l2(y: np.ndarray, sol: np.ndarray) -> None:
    n = y.shape[0]
    target = np.arange(n)
    c = np.ones(n)
    sums = np.zeros(n)
    for i in range(n):
        sol[i] = y[i]
        sums[i] = y[i]
    i = 0
    while i < n:
        k = target[i] + 1
        if k == n:
            break
        if sol[i] > sol[k]:
            i = k
            continue
        sum_y = sums[i]
        sum_c = c[i]
        while True:
            prev_y = sol[k]
            sum_y += sums[k]
            sum_c += c[k]
            k = target[k] + 1
            if k == n or prev_y > sol[k]:
                sol[i] = sum_y / sum_c
                sums[i] = sum_y
                c[i] = sum_c
                target[i] = k - 1
                target[k - 1] = i
                if i > 0:
                    i = target[i - 1]
                break
    i = 0
    while i < n:
        k = target[i] + 1
        sol[i + 1 : k] = sol[i]
        i = k


def _partition(solution: np.ndarray, eps: float = 1e-9) -> list[int]:
    if len(solution) == 0:
        return []
    sizes = [1]
    for i in range(1, len(solution)):
        if abs(solution[i] - solution[i - 1]) > eps:
            sizes.append(0)
        sizes[-1] += 1
    return sizes


class _SoftRankL2:
    """fast-soft-sort's ``SoftRank(values, regularization="l2")`` for one row."""

    def __init__(self, values: np.ndarray, strength: float) -> None:
        self.values = values
        self.scale = 1.0 / strength

    def compute(self) -> np.ndarray:
        theta = self.values * self.scale
        n = theta.size
        w = np.arange(n)[::-1] + 1.0
        self.perm = np.argsort(theta)[::-1]
        s = theta[self.perm]
        self.sol = np.zeros(n)
        _isotonic_l2(s - w, self.sol)
        self.inv = np.empty(n, dtype=np.int64)
        self.inv[self.perm] = np.arange(n)
        return (s - self.sol)[self.inv]

    def vjp(self, v: np.ndarray) -> np.ndarray:
        vs = v[self.perm]
        ret = np.zeros_like(self.sol)
        start = 0
        for size in _partition(self.sol):
            end = start + size
            ret[start:end] = np.sum(vs[start:end]) / size
            start = end
        return (v - ret[self.inv]) * self.scale


def peer_rank(x: np.ndarray, strength: float = 1.0, grad: np.ndarray | None = None) -> Any:
    out = np.empty_like(x)
    gx = np.empty_like(x) if grad is not None else None
    for i in range(x.shape[0]):
        op = _SoftRankL2(x[i], strength)
        out[i] = op.compute()
        if gx is not None and grad is not None:
            gx[i] = op.vjp(grad[i])
    return out if gx is None else (out, gx)


def softgrad_rank(x: np.ndarray, grad: np.ndarray | None = None) -> Any:
    if grad is None:
        return sg.soft_rank(x)
    out, pullback = sg.vjp(sg.soft_rank, x)
    return out, pullback(grad).x


def best(f: Callable[[], Any], results: list[float]) -> Any:
    t = time.perf_counter()
    r = f()
    results.append(time.perf_counter() - t)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    shapes = [(1000, 1000), (100_000, 32), (1, 1_000_000)]
    print(f"peer: {PEER}; torchsort not installed (needs torch, ~4 GB)")
    print(
        f"softgrad {sg.__version__}, {sg.get_num_threads()} threads, SIMD {sg.simd_level()}, "
        f"load {os.getloadavg()[0]:.1f}; soft_rank l2, strength 1, float64; best of {args.repeat}"
    )
    rows = []
    peer_rank(rng.standard_normal((2, 10)), grad=np.ones((2, 10)))  # compile
    for shape in shapes:
        x = rng.standard_normal(shape)
        g = rng.standard_normal(shape)
        want = peer_rank(x)
        np.testing.assert_allclose(softgrad_rank(x), want, rtol=1e-9, atol=1e-9)
        _, gp = peer_rank(x, grad=g)
        np.testing.assert_allclose(softgrad_rank(x, g)[1], gp, rtol=1e-8, atol=1e-9)
        for label, grad in (("fwd", None), ("fwd+bwd", g)):
            tp: list[float] = []
            ts: list[float] = []
            t1: list[float] = []
            ta: list[float] = []
            for _ in range(args.repeat):
                best(lambda x=x, grad=grad: peer_rank(x, grad=grad), tp)
                best(lambda x=x, grad=grad: softgrad_rank(x, grad), ts)
                with sg_threads(1):
                    best(lambda x=x, grad=grad: softgrad_rank(x, grad), t1)
                best(lambda x=x: np.argsort(x, axis=-1), ta)
            rows.append((f"{shape} {label}", min(tp), min(ts), min(t1), min(ta)))
    head = [
        "case",
        "peer ms",
        "softgrad ms",
        "ratio",
        "softgrad 1 thread ms",
        "np.argsort ms",
        "softgrad / argsort",
    ]
    lines = []
    for name, tp_, ts_, t1_, ta_ in rows:
        lines.append(
            [
                name,
                f"{1e3 * tp_:.1f}",
                f"{1e3 * ts_:.2f}",
                f"{tp_ / ts_:.1f}x",
                f"{1e3 * t1_:.2f}",
                f"{1e3 * ta_:.2f}",
                f"{ts_ / ta_:.2f}",
            ]
        )
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for ln in lines:
            print("| " + " | ".join(ln) + " |")
    else:
        widths = [max(len(h), *(len(ln[i]) for ln in lines)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        for ln in lines:
            print("  ".join(c.ljust(w) for c, w in zip(ln, widths, strict=True)))


class sg_threads:
    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        self.old = sg.get_num_threads()
        sg.set_num_threads(self.n)

    def __exit__(self, *exc: Any) -> None:
        sg.set_num_threads(self.old)


if __name__ == "__main__":
    main()
