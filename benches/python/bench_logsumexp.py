"""softgrad vs scipy.special on the log-sum-exp family, side by side in one process.

    python benches/python/bench_logsumexp.py [--repeat 7] [--markdown]

Prints best-of-N wall times and the ratio scipy / softgrad, at softgrad's default thread count and at
1 and 2 threads, plus the one-memory-pass limit (``np.sum`` of the same array). If scipy is missing
it says so and compares with the plain NumPy formula instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import softgrad as sg

try:
    import scipy
    import scipy.special as ss

    PEER = f"scipy {scipy.__version__}"
except ImportError:  # pragma: no cover - the benchmark environment normally has scipy
    ss = None
    PEER = "numpy formula (scipy not installed)"


def best_ms(f: Callable[[], Any], repeat: int) -> float:
    return interleaved([f], repeat)[0]


def interleaved(fs: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best-of-``repeat`` milliseconds of each function, run in turn so that slow phases of the
    machine (page-fault cost on fresh memory varies a lot on VMs) hit every contender alike."""
    for f in fs:
        f()
    best = [float("inf")] * len(fs)
    for _ in range(repeat):
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t0)
    return [b * 1e3 for b in best]


def np_logsumexp(a: np.ndarray, axis: int | None = None) -> Any:
    m = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - m), axis=axis)) + np.squeeze(m, axis=axis)


def np_softmax(a: np.ndarray, axis: int) -> Any:
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_softmax_vjp(a: np.ndarray, g: np.ndarray, axis: int) -> Any:
    """What a user writes without softgrad: the peer's softmax, then the pullback in NumPy."""
    y = ss.softmax(a, axis=axis) if ss else np_softmax(a, axis)
    gy = y * g
    return gy - y * gy.sum(axis=axis, keepdims=True)


def np_logsumexp_vjp(a: np.ndarray, b: np.ndarray | None, ct: np.ndarray, axis: int) -> Any:
    """The peer's logsumexp, then its pullback in NumPy: ``ct * b * exp(a - L)``."""
    L = ss.logsumexp(a, axis=axis, b=b, keepdims=True) if ss else np_logsumexp(a, axis)[..., None]
    e = np.exp(a - L) * np.expand_dims(ct, axis)
    return e if b is None else (e * b, e)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    flat = rng.normal(size=10_000_000)
    mat = rng.normal(size=(10_000, 1000))
    mat32 = mat.astype(np.float32)
    wts = rng.uniform(0.5, 2.0, size=mat.shape)
    ct_rows, ct_cols = rng.normal(size=mat.shape[0]), rng.normal(size=mat.shape[1])
    buf = np.empty_like(mat)  # reused output: no allocation, no page faults (scipy has no out=)
    lse = (lambda a, axis=None: ss.logsumexp(a, axis=axis)) if ss else np_logsumexp
    smx = (lambda a, axis: ss.softmax(a, axis=axis)) if ss else np_softmax
    cases: list[tuple[str, Callable[[], Any], Callable[[int | None], Any]]] = [
        ("logsumexp 1e7 f64", lambda: lse(flat), lambda n: sg.logsumexp(flat, n_threads=n)),
        ("logsumexp (10000,1000) axis=1", lambda: lse(mat, 1), lambda n: sg.logsumexp(mat, 1, n_threads=n)),
        ("logsumexp (10000,1000) axis=0", lambda: lse(mat, 0), lambda n: sg.logsumexp(mat, 0, n_threads=n)),
        (
            "logsumexp (10000,1000) f32 axis=1",
            lambda: lse(mat32, 1),
            lambda n: sg.logsumexp(mat32, 1, n_threads=n),
        ),
        ("softmax (10000,1000) axis=1", lambda: smx(mat, 1), lambda n: sg.softmax(mat, 1, n_threads=n)),
        (
            "softmax (10000,1000) axis=1, out=",
            lambda: smx(mat, 1),
            lambda n: sg.softmax(mat, 1, n_threads=n, out=buf),
        ),
        (
            "softmax value + VJP (10000,1000) axis=1",
            lambda: np_softmax_vjp(mat, mat, 1),
            lambda n: sg.vjp(sg.softmax, mat, 1, n_threads=n)[1](mat),
        ),
        (
            "softmax value + VJP (10000,1000) axis=0",
            lambda: np_softmax_vjp(mat, mat, 0),
            lambda n: sg.vjp(sg.softmax, mat, 0, n_threads=n)[1](mat),
        ),
        (
            "logsumexp value + VJP (10000,1000) axis=1",
            lambda: np_logsumexp_vjp(mat, None, ct_rows, 1),
            lambda n: sg.vjp(sg.logsumexp, mat, 1, n_threads=n)[1](ct_rows),
        ),
        (
            "logsumexp value + VJP, weighted, axis=0",
            lambda: np_logsumexp_vjp(mat, wts, ct_cols, 0),
            lambda n: sg.vjp(sg.logsumexp, mat, 0, b=wts, n_threads=n)[1](ct_cols),
        ),
        (
            "log_softmax (10000,1000) axis=1",
            (lambda: ss.log_softmax(mat, axis=1)) if ss else (lambda: np.log(np_softmax(mat, 1))),
            lambda n: sg.log_softmax(mat, 1, n_threads=n),
        ),
    ]
    cpu = platform.processor() or platform.machine()
    print(
        f"# {PEER} vs softgrad {sg.__version__} ({sg.simd_level()}, default {sg.get_num_threads()} threads), "
        f"{os.cpu_count()} CPUs {cpu}, best of {args.repeat}"
    )
    one_pass = best_ms(lambda: np.sum(flat), args.repeat)
    print(f"# one memory pass (np.sum of 1e7 float64): {one_pass:.2f} ms")
    fresh_copy = best_ms(lambda: mat.copy(), args.repeat)
    print(
        f"# copy of the (10000,1000) input into fresh memory (mat.copy()): {fresh_copy:.2f} ms "
        "(for comparison: one new array of that size, written once, single-threaded)"
    )
    head = ("case", "peer ms", "softgrad ms", "ratio", "1 thread ms", "2 threads ms", "scaling")
    rows = []
    for name, peer, ours in cases:
        contenders = [peer] + [lambda ours=ours, n=n: ours(n) for n in (None, 1, 2)]
        p, d, t1, t2 = interleaved(contenders, args.repeat)
        rows.append(
            (name, f"{p:.1f}", f"{d:.2f}", f"{p / d:.1f}x", f"{t1:.2f}", f"{t2:.2f}", f"{t1 / t2:.2f}x")
        )
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        for r in [head, *rows]:
            print(
                "  ".join(
                    str(c).rjust(w) if i else str(c).ljust(w)
                    for i, (c, w) in enumerate(zip(r, widths, strict=True))
                )
            )
    print(f"# logsumexp 1e7 vs one pass: {float(rows[0][2]) / one_pass:.2f}x the np.sum time")


if __name__ == "__main__":
    main()
