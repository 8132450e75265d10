"""soft_rank (or, with ``--op sort`` / ``--regularization kl``, soft_sort and the KL projection):
softgrad against torchsort (the peer of PEERS.md) and np.argsort (the floor), side by
side in one process.

torchsort needs torch (install both into the benchmark environment only, see PEERS.md); without it
the peer is a faithful re-implementation of fast-soft-sort's NumPy/Numba code path (``numpy_ops``:
argsort, PAV in a Numba-compiled loop, rows looped in Python as its wrappers do), and the output says
so. Before timing, the values and the x cotangents are checked equal to the peer's for the same
parameterisation (strength 1, float64). ``np.argsort`` of the same array is the floor: the PAV
pass is linear after the sort.

    PYTHONPATH=/work/venvs/bench/lib/python3.11/site-packages python benches/python/bench_sort.py \\
        [--repeat 7] [--markdown] [--op rank|sort] [--regularization l2|kl] [--strengths 1,1e-3]

Each shape is run at each strength (default 1 and 1e-3), and each row prints the number of blocks of
the isotonic solution (the mean over the first rows, read off softgrad's output): where it is 1 the
result is an affine map of x and softgrad's l2 ops skip the sort when they can prove it (strength 1
on both shapes; on (1, 1e6) standard normals down to ~1e-5); rows with many blocks measure the sort
and PAV.

Times are the best of ``--repeat`` runs (the median is printed too), every contender run once per
repeat in turn, so that a slow phase of a shared machine hits them all. ``--cpu`` measures the CPU
time of the process instead (all its threads), everything on one thread (softgrad ``n_threads=1``,
torch ``set_num_threads(1)``): on a loaded machine, where wall times say more about the neighbours,
a comparison of the work each does.
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
    import torch
    import torchsort

    PEER = f"torchsort {getattr(torchsort, '__version__', '?')} (torch {torch.__version__}, CPU)"
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
    torchsort = None

try:
    import numba

    njit: Callable[..., Any] = numba.njit
    NUMPY_PEER = f"fast-soft-sort algorithm (NumPy + Numba {numba.__version__} PAV, rows looped in Python)"
except ImportError:  # pragma: no cover - depends on the environment

    def njit(f: Callable[..., Any]) -> Callable[..., Any]:
        return f

    NUMPY_PEER = "fast-soft-sort algorithm (NumPy + pure-Python PAV: Numba is not installed)"


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


def numpy_peer(x: np.ndarray, grad: np.ndarray | None = None) -> Any:
    out = np.empty_like(x)
    gx = np.empty_like(x) if grad is not None else None
    for i in range(x.shape[0]):
        op = _SoftRankL2(x[i], STRENGTH)
        out[i] = op.compute()
        if gx is not None and grad is not None:
            gx[i] = op.vjp(grad[i])
    return out if gx is None else (out, gx)


OP = "rank"  # or "sort" (--op)
REG = "l2"  # or "kl" (--regularization)


STRENGTH = 1.0  # the row's strength (--strengths)


def torch_peer(x: Any, grad: Any | None = None) -> Any:
    """torchsort's soft_rank/soft_sort on a CPU tensor (strength ``STRENGTH``); with ``grad``,
    also the x cotangent."""
    f = torchsort.soft_rank if OP == "rank" else torchsort.soft_sort
    if grad is None:
        with torch.no_grad():
            return f(x, regularization=REG, regularization_strength=STRENGTH)
    xr = x.detach().requires_grad_(True)
    out = f(xr, regularization=REG, regularization_strength=STRENGTH)
    out.backward(grad)
    return out, xr.grad


def softgrad_rank(x: np.ndarray, grad: np.ndarray | None = None) -> Any:
    f = sg.soft_rank if OP == "rank" else sg.soft_sort
    if grad is None:
        return f(x, regularization=REG, strength=STRENGTH)
    out, pullback = sg.vjp(f, x, regularization=REG, strength=STRENGTH)
    return out, pullback(grad).x


def blocks(x: np.ndarray, rows: int = 10) -> float:
    """The mean number of blocks of the isotonic solution over the first ``rows`` rows, from the
    block values ``v`` (constant on a block, strictly decreasing from one to the next) recovered
    from softgrad's output: rank ``v = z/ε - r`` (l2) or ``z/ε - ln r`` (kl) in sorted order, sort
    ``v = rho/ε + s`` (ascending)."""
    counts = []
    for row in x[:rows]:
        n, e = row.size, STRENGTH
        out = softgrad_rank(row[None, :])[0]
        if OP == "rank":
            p = np.argsort(-row, kind="stable")
            r = out[p]
            v = row[p] / e - (r if REG == "l2" else np.log(r))
        else:
            v = np.arange(n, 0, -1) / e + out
        tol = 1e-9 * (1.0 + np.abs(v).max())
        counts.append(1 + int(np.count_nonzero(np.abs(np.diff(v)) > tol)))
    return float(np.mean(counts))


CLOCK = time.perf_counter


def timed(f: Callable[[], Any], into: list[float]) -> None:
    t = CLOCK()
    f()
    into.append(CLOCK() - t)


class sg_threads:
    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        self.old = sg.get_num_threads()
        sg.set_num_threads(self.n)

    def __exit__(self, *exc: Any) -> None:
        sg.set_num_threads(self.old)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--shapes", default="1000x1000,1x1000000,100000x32")
    ap.add_argument("--op", choices=("rank", "sort"), default="rank")
    ap.add_argument("--regularization", choices=("l2", "kl"), default="l2")
    ap.add_argument("--strengths", default="1,1e-3", help="comma-separated strengths, each a row")
    ap.add_argument(
        "--cpu", action="store_true", help="process CPU time, one thread each (see the module docs)"
    )
    args = ap.parse_args()
    global OP, REG, STRENGTH
    OP, REG = args.op, args.regularization
    strengths = [float(v) for v in args.strengths.split(",")]
    if torchsort is None and (OP, REG) != ("rank", "l2"):
        raise SystemExit(f"soft_{OP} {REG}: the NumPy peer has soft_rank l2 only; install torchsort")
    if args.cpu:
        global CLOCK
        CLOCK = time.process_time
        sg.set_num_threads(1)
        if torch is not None:
            torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    if torchsort is not None:
        peer_name = PEER + f", {torch.get_num_threads()} torch threads"
    else:
        peer_name = NUMPY_PEER + " -- torchsort is not installed (see PEERS.md)"
        numpy_peer(rng.standard_normal((2, 10)), grad=np.ones((2, 10)))  # compile
    print(f"peer: {peer_name}")
    print(
        f"softgrad {sg.__version__}, {sg.get_num_threads()} threads, SIMD {sg.simd_level()}, "
        f"load {os.getloadavg()[0]:.1f}; soft_{OP} {REG}, float64; "
        f"best (median) of {args.repeat}" + ("; process CPU time, one thread each" if args.cpu else "")
    )
    rows = []
    for shape in shapes:
        x = rng.standard_normal(shape)
        g = rng.standard_normal(shape)
        for strength in strengths:
            STRENGTH = strength
            nb = blocks(x)
            if torchsort is not None:
                xt, gt = torch.from_numpy(x), torch.from_numpy(g)

                def peer(grad: Any, xt: Any = xt, gt: Any = gt) -> Any:
                    return torch_peer(xt, None if grad is None else gt)

                want = torch_peer(xt).numpy()
                _, gp = torch_peer(xt, gt)
                gp = gp.numpy()
            else:

                def peer(grad: Any, x: Any = x) -> Any:
                    return numpy_peer(x, grad)

                want = numpy_peer(x)
                gp = numpy_peer(x, grad=g)[1]
            # the same values and cotangents as the peer, for the same parameterisation
            np.testing.assert_allclose(softgrad_rank(x), want, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(softgrad_rank(x, g)[1], gp, rtol=1e-8, atol=1e-9)
            for label, grad in (("fwd", None), ("fwd+bwd", g)):
                tp: list[float] = []
                ts: list[float] = []
                t1: list[float] = []
                ta: list[float] = []
                for _ in range(args.repeat):
                    timed(lambda grad=grad, peer=peer: peer(grad), tp)
                    timed(lambda x=x, grad=grad: softgrad_rank(x, grad), ts)
                    with sg_threads(1):
                        timed(lambda x=x, grad=grad: softgrad_rank(x, grad), t1)
                    timed(lambda x=x: np.argsort(x, axis=-1), ta)
                rows.append((f"{shape} ε {strength:g} ({nb:.0f} blocks) {label}", tp, ts, t1, ta))
    head = [
        "case",
        "peer ms",
        "softgrad ms",
        "peer / softgrad",
        "softgrad 1 thread ms",
        "np.argsort ms",
        "softgrad / argsort",
        "1 thread / argsort",
    ]
    lines = []
    for name, tp, ts, t1, ta in rows:
        b = [min(v) for v in (tp, ts, t1, ta)]
        md = [float(np.median(v)) for v in (tp, ts, t1, ta)]
        lines.append(
            [
                name,
                f"{1e3 * b[0]:.1f} ({1e3 * md[0]:.1f})",
                f"{1e3 * b[1]:.2f} ({1e3 * md[1]:.2f})",
                f"{b[0] / b[1]:.1f}x",
                f"{1e3 * b[2]:.2f} ({1e3 * md[2]:.2f})",
                f"{1e3 * b[3]:.2f} ({1e3 * md[3]:.2f})",
                f"{b[1] / b[3]:.2f}",
                f"{b[2] / b[3]:.2f}",
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
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
