"""softgrad vs scipy.special and JAX on the log-sum-exp family, side by side in one process.

    python benches/python/bench_logsumexp.py [--repeat 7] [--markdown] [--only SUBSTRING]

Prints best-of-N wall times of scipy (or the NumPy a user writes by hand, for value + gradient), JAX
(``jax.jit`` on CPU, arrays already on the device, ``block_until_ready``; float64 with
``jax_enable_x64``) and softgrad at its default thread count and at 1 and 2 threads, with the ratios
peer / softgrad (above 1: softgrad is faster). Also prints the one-memory-pass limit (``np.sum`` of the
same array). A peer that is not installed is reported as missing, never silently skipped.
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

try:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    JAX = f"JAX {jax.__version__} (jit, {jax.devices()[0].platform})"
except ImportError:  # pragma: no cover - JAX is a benchmark-only peer
    jax = None
    jnp = None
    JAX = "JAX not installed (pip install 'jax[cpu]'): its column is n/a"


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
    return y, gy - y * gy.sum(axis=axis, keepdims=True)


def np_logsumexp_vjp(a: np.ndarray, b: np.ndarray | None, ct: np.ndarray, axis: int) -> Any:
    """The peer's logsumexp, then its pullback in NumPy: ``ct * b * exp(a - L)``."""
    L = ss.logsumexp(a, axis=axis, b=b, keepdims=True) if ss else np_logsumexp(a, axis)[..., None]
    e = np.exp(a - L) * np.expand_dims(ct, axis)
    return L, (e if b is None else (e * b, e))


def jitted(f: Callable[..., Any], *arrays: np.ndarray) -> Callable[[], Any] | None:
    """``f`` under ``jax.jit`` on device copies of ``arrays``, waiting for the result."""
    if jax is None:
        return None
    g = jax.jit(f)
    dev = [jax.device_put(a) for a in arrays]
    return lambda: jax.block_until_ready(g(*dev))


def jax_value_and_vjp(f: Callable[..., Any], argnums: tuple[int, ...]) -> Callable[..., Any]:
    """``(*primals, cotangent) -> (value, cotangents of argnums)``, as one jitted function."""

    def run(*args: Any) -> Any:
        *primals, ct = args
        value, pullback = jax.vjp(f, *primals)
        cts = pullback(ct)
        return value, tuple(cts[i] for i in argnums)

    return run


Case = tuple[str, Callable[[], Any], Callable[[], Any] | None, Callable[[int | None], Any]]


def cases() -> list[Case]:
    rng = np.random.default_rng(0)
    flat = rng.normal(size=10_000_000)
    mat = rng.normal(size=(10_000, 1000))
    mat32 = mat.astype(np.float32)
    n10 = rng.normal(size=(200_000, 10))
    n50 = rng.normal(size=(200_000, 50))
    n10f = n10.astype(np.float32)
    wts = rng.uniform(0.5, 2.0, size=mat.shape)
    ct_rows, ct_cols = rng.normal(size=mat.shape[0]), rng.normal(size=mat.shape[1])
    ct_rows32 = ct_rows.astype(np.float32)
    ct10, ct10f = rng.normal(size=n10.shape[0]), rng.normal(size=n10.shape[0]).astype(np.float32)
    ct50 = rng.normal(size=n50.shape[0])
    buf = np.empty_like(mat)  # reused output: no allocation, no page faults (scipy has no out=)
    lse = (lambda a, axis=None: ss.logsumexp(a, axis=axis)) if ss else np_logsumexp
    smx = (lambda a, axis: ss.softmax(a, axis=axis)) if ss else np_softmax
    lsm = (
        (lambda a, axis: ss.log_softmax(a, axis=axis))
        if ss
        else (lambda a, axis: np.log(np_softmax(a, axis)))
    )
    jn = jax.nn if jax else None

    def j_lse(axis: int | None) -> Callable[[Any], Any]:
        return lambda a: jax.nn.logsumexp(a, axis=axis)

    out: list[Case] = [
        (
            "logsumexp 1e7 f64",
            lambda: lse(flat),
            jitted(j_lse(None), flat) if jn else None,
            lambda n: sg.logsumexp(flat, n_threads=n),
        ),
    ]
    for label, a in (
        ("(10000,1000)", mat),
        ("(10000,1000) f32", mat32),
        ("(200000,10)", n10),
        ("(200000,10) f32", n10f),
        ("(200000,50)", n50),
    ):
        out.append(
            (
                f"logsumexp {label} axis=1",
                lambda a=a: lse(a, 1),
                jitted(j_lse(1), a) if jn else None,
                lambda n, a=a: sg.logsumexp(a, 1, n_threads=n),
            )
        )
    out.append(
        (
            "logsumexp (10000,1000) axis=0",
            lambda: lse(mat, 0),
            jitted(j_lse(0), mat) if jn else None,
            lambda n: sg.logsumexp(mat, 0, n_threads=n),
        )
    )
    for label, a in (
        ("(10000,1000)", mat),
        ("(10000,1000) f32", mat32),
        ("(200000,10)", n10),
        ("(200000,50)", n50),
    ):
        out.append(
            (
                f"softmax {label} axis=1",
                lambda a=a: smx(a, 1),
                jitted(lambda x: jax.nn.softmax(x, axis=1), a) if jn else None,
                lambda n, a=a: sg.softmax(a, 1, n_threads=n),
            )
        )
    out.append(
        (
            "softmax (10000,1000) axis=1, out=",
            lambda: smx(mat, 1),
            jitted(lambda x: jax.nn.softmax(x, axis=1), mat) if jn else None,
            lambda n: sg.softmax(mat, 1, n_threads=n, out=buf),
        )
    )
    for label, a in (("(10000,1000)", mat), ("(200000,10)", n10)):
        out.append(
            (
                f"log_softmax {label} axis=1",
                lambda a=a: lsm(a, 1),
                jitted(lambda x: jax.nn.log_softmax(x, axis=1), a) if jn else None,
                lambda n, a=a: sg.log_softmax(a, 1, n_threads=n),
            )
        )
    # value + gradient: the forward and the pullback of a cotangent, as a training step needs them
    for label, a, axis in (
        ("(10000,1000) axis=1", mat, 1),
        ("(10000,1000) axis=0", mat, 0),
        ("(10000,1000) f32 axis=1", mat32, 1),
        ("(200000,10) axis=1", n10, 1),
        ("(200000,50) axis=1", n50, 1),
    ):
        f = (lambda x, axis=axis: jax.nn.softmax(x, axis=axis)) if jn else None
        out.append(
            (
                f"softmax value + VJP {label}",
                lambda a=a, axis=axis: np_softmax_vjp(a, a, axis),
                jitted(jax_value_and_vjp(f, (0,)), a, a) if jn else None,
                lambda n, a=a, axis=axis: sg.vjp(sg.softmax, a, axis, n_threads=n)[1](a),
            )
        )
    for label, a, ct, axis in (
        ("(10000,1000) axis=1", mat, ct_rows, 1),
        ("(10000,1000) axis=0", mat, ct_cols, 0),
        ("(10000,1000) f32 axis=1", mat32, ct_rows32, 1),
        ("(200000,10) axis=1", n10, ct10, 1),
        ("(200000,10) f32 axis=1", n10f, ct10f, 1),
        ("(200000,50) axis=1", n50, ct50, 1),
    ):
        out.append(
            (
                f"logsumexp value + VJP {label}",
                lambda a=a, ct=ct, axis=axis: np_logsumexp_vjp(a, None, ct, axis),
                jitted(jax_value_and_vjp(j_lse(axis), (0,)), a, ct) if jn else None,
                lambda n, a=a, ct=ct, axis=axis: sg.vjp(sg.logsumexp, a, axis, n_threads=n)[1](ct),
            )
        )
    out.append(
        (
            "logsumexp value + VJP, weighted, axis=0",
            lambda: np_logsumexp_vjp(mat, wts, ct_cols, 0),
            jitted(
                jax_value_and_vjp(lambda a, b: jax.nn.logsumexp(a, axis=0, b=b), (0, 1)), mat, wts, ct_cols
            )
            if jn
            else None,
            lambda n: sg.vjp(sg.logsumexp, mat, 0, b=wts, n_threads=n)[1](ct_cols),
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(
        f"# {PEER} and {JAX} vs softgrad {sg.__version__} ({sg.simd_level()}, default "
        f"{sg.get_num_threads()} threads), {os.cpu_count()} CPUs {cpu}, best of {args.repeat}"
    )
    flat = np.random.default_rng(0).normal(size=10_000_000)
    one_pass = best_ms(lambda: np.sum(flat), args.repeat)
    print(f"# one memory pass (np.sum of 1e7 float64): {one_pass:.2f} ms")
    head = (
        "case",
        "scipy/NumPy ms",
        "JAX ms",
        "softgrad ms",
        "vs scipy",
        "vs JAX",
        "1 thread ms",
        "2 threads ms",
    )
    rows = []
    for name, peer, jx, ours in cases():
        if args.only not in name:
            continue
        contenders = [peer] + ([jx] if jx else []) + [lambda ours=ours, n=n: ours(n) for n in (None, 1, 2)]
        times = interleaved(contenders, args.repeat)
        p, rest = times[0], times[1:]
        j = rest.pop(0) if jx else None
        d, t1, t2 = rest
        rows.append(
            (
                name,
                f"{p:.1f}",
                f"{j:.2f}" if j else "n/a",
                f"{d:.2f}",
                f"{p / d:.1f}x",
                f"{j / d:.2f}x" if j else "n/a",
                f"{t1:.2f}",
                f"{t2:.2f}",
            )
        )
        if not args.markdown:
            print("  ".join(rows[-1]), flush=True)
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
