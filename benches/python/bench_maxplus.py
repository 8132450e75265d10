"""maxplus_matmul: softgrad against tropical-gemm, NumPy broadcasting and np.matmul, in one run.

The peer (PEERS.md) is tropical-gemm (Rust/PyO3/rayon, ``tropical_gemm.maxplus_matmul_2d`` and
``_f64``); ``np.matmul`` of the same shape (BLAS, fused multiply-add) is the limit; NumPy broadcasting
(``(a[:, :, None] + b[None]).max(1)``, ``O(m k n)`` memory) is what users write without a library.
Thread counts are fixed per process (rayon and BLAS read them at start), so each thread count runs
in a child process with ``RAYON_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` set
and softgrad called with ``n_threads``. Within a child the libraries are interleaved, several
repeats each; the table shows the best time (median in brackets) and softgrad's speed-up.

    PYTHONPATH=/work/venvs/bench/lib/python3.11/site-packages python benches/python/bench_maxplus.py \
        [--sizes 256 512 1024] [--repeat 7] [--threads 1 2]

If tropical-gemm cannot be imported, its column says so and the ratios use NumPy broadcasting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import softgrad as sg

try:
    import tropical_gemm as tg

    PEER = f"tropical-gemm {getattr(tg, '__version__', '')}".strip()
except ImportError:  # pragma: no cover - depends on the environment
    tg = None
    PEER = "tropical-gemm (not installed: ratios against NumPy broadcasting)"


def broadcast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What users write without a library; in row blocks so that 1024³ fits in memory."""
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    step = max(1, (1 << 24) // (a.shape[1] * b.shape[1]))
    for i in range(0, a.shape[0], step):
        out[i : i + step] = (a[i : i + step, :, None] + b[None]).max(axis=1)
    return out


def timings(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, float]]:
    """Best and median seconds of each function, interleaved."""
    runs: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()  # warm-up (pages, pools)
    for _ in range(repeat):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            runs[k].append(time.perf_counter() - t)
    return {k: (min(v), float(np.median(v))) for k, v in runs.items()}


def child(sizes: list[int], repeat: int, threads: int) -> None:
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        for dt in (np.float32, np.float64):
            a = rng.standard_normal((n, n)).astype(dt)
            b = rng.standard_normal((n, n)).astype(dt)
            ref = sg.maxplus_matmul(a, b, n_threads=threads)
            fns: dict[str, Callable[[], Any]] = {
                "softgrad": lambda a=a, b=b: sg.maxplus_matmul(a, b, n_threads=threads),
                "softgrad+argmax": lambda a=a, b=b: sg.maxplus_matmul(
                    a, b, return_argmax=True, n_threads=threads
                ),
                "np.matmul": lambda a=a, b=b: np.matmul(a, b),
            }
            if tg is not None:
                f = tg.maxplus_matmul_2d if dt == np.float32 else tg.maxplus_matmul_2d_f64
                g = tg.maxplus_matmul_with_argmax if dt == np.float32 else tg.maxplus_matmul_with_argmax_f64
                got = np.asarray(f(a, b)).reshape(n, n)
                assert np.array_equal(got, ref), "tropical-gemm and softgrad disagree"
                fns["tropical-gemm"] = lambda a=a, b=b, f=f: f(a, b)
                fns["tropical-gemm+argmax"] = lambda a=a, b=b, g=g: g(a, b)
            if n <= 512:
                assert np.array_equal(broadcast(a[:64], b), ref[:64])
                fns["numpy broadcast"] = lambda a=a, b=b: broadcast(a, b)
            t = timings(fns, repeat if n <= 512 else max(3, repeat // 2))
            rows.append({"n": n, "dtype": np.dtype(dt).name, "threads": threads, "t": t})
    print(json.dumps(rows))


def fmt(t: tuple[float, float] | None) -> str:
    return "n/a" if t is None else f"{t[0] * 1e3:.2f} ({t[1] * 1e3:.2f})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.sizes, args.repeat, args.child)
        return
    rows: list[dict[str, Any]] = []
    for th in args.threads:
        env = {
            **os.environ,
            **{
                v: str(th)
                for v in ("RAYON_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
            },
        }
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(th),
            "--repeat",
            str(args.repeat),
            "--sizes",
            *map(str, args.sizes),
        ]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        rows += json.loads(out.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    print(f"max-plus matmul, n x n x n; peer: {PEER}; softgrad {sg.__version__}", end="")
    print(f", SIMD {sg.simd_level()}; load average {load:.1f}")
    print("times in ms: best (median); speed-up = peer time / softgrad time (best)\n")
    cols = ["n", "dtype", "threads", "softgrad", "+argmax", "tropical-gemm", "+argmax", "np.matmul"]
    cols += ["numpy broadcast", "vs tropical-gemm", "vs tg argmax", "softgrad / np.matmul"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        t = r["t"]
        sgt = t["softgrad"][0]
        peer = t.get("tropical-gemm") or t.get("numpy broadcast")
        peer_arg = t.get("tropical-gemm+argmax")
        ratio = f"{peer[0] / sgt:.2f}x" if peer else "n/a"
        ratio_arg = f"{peer_arg[0] / t['softgrad+argmax'][0]:.2f}x" if peer_arg else "n/a"
        print(
            f"| {r['n']} | {r['dtype']} | {r['threads']} | {fmt(t['softgrad'])} | "
            f"{fmt(t['softgrad+argmax'])} | "
            f"{fmt(t.get('tropical-gemm'))} | {fmt(t.get('tropical-gemm+argmax'))} | {fmt(t['np.matmul'])} | "
            f"{fmt(t.get('numpy broadcast'))} | {ratio} | {ratio_arg} | {sgt / t['np.matmul'][0]:.2f} |"
        )


if __name__ == "__main__":
    main()
