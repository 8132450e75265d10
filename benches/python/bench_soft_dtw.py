"""soft_dtw: softgrad against tslearn and pysdtw (torch, CPU), side by side in one process.

The issue's workload: a batch of 512 pairs of series of length 256 x 256, d = 1, the value alone and
the value with its gradient in ``x``. tslearn computes one pair at a time (its Numba kernels, the
pairs looped in Python: ``tslearn.metrics.soft_dtw`` for the value, ``SquaredEuclidean`` +
``SoftDTW`` + ``jacobian_product`` for the gradient, as its barycenter code does); pysdtw batches the
pairs in torch on the CPU (``SoftDTW(use_cuda=False)``, Numba CPU kernels, ``backward()`` for the
gradient; it computes in float32 whatever the input). A peer that cannot be imported is
reported as missing, never silently skipped.

    PYTHONPATH=/work/venvs/bench/lib/python3.11/site-packages python benches/python/bench_soft_dtw.py \
        [--pairs 512] [--n 256] [--repeat 5] [--threads 2]

Times are best and median of ``--repeat`` runs, the peers and softgrad interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import softgrad as sg


def timed(f: Callable[[], Any]) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--d", type=int, default=1)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    b, n, d, gamma = args.pairs, args.n, args.d, args.gamma
    rng = np.random.default_rng(0)
    x = rng.standard_normal((b, n, d))
    y = rng.standard_normal((b, n, d))
    print(f"soft-DTW, {b} pairs of {n} x {n}, d = {d}, gamma = {gamma}, float64, {args.threads} threads")
    print(f"softgrad {sg.__version__}, SIMD {sg.simd_level()}; load average {os.getloadavg()[0]:.2f}")

    def sg_value() -> Any:
        return sg.soft_dtw(x, y, gamma=gamma, n_threads=args.threads)

    def sg_grad() -> Any:
        v, pb = sg.vjp(sg.soft_dtw, x, y, gamma=gamma, n_threads=args.threads)
        return v, pb(np.ones(b)).x

    runs: dict[str, dict[str, Callable[[], Any]]] = {
        "value": {"softgrad": sg_value},
        "value+grad": {"softgrad": sg_grad},
    }
    want_v, want_g = sg_grad()

    try:
        import tslearn
        from tslearn.metrics import SoftDTW, SquaredEuclidean
        from tslearn.metrics import soft_dtw as ts_soft_dtw

        def ts_value() -> Any:
            return np.array([ts_soft_dtw(x[p], y[p], gamma=gamma) for p in range(b)])

        def ts_grad() -> Any:
            vals, grads = np.empty(b), np.empty_like(x)
            for p in range(b):
                dist = SquaredEuclidean(x[p], y[p])
                sdtw = SoftDTW(dist, gamma=gamma)
                vals[p] = sdtw.compute()
                grads[p] = dist.jacobian_product(sdtw.grad())
            return vals, grads

        v = ts_value()
        np.testing.assert_allclose(v, want_v, rtol=1e-9)
        _, gg = ts_grad()
        np.testing.assert_allclose(gg, want_g, rtol=1e-7, atol=1e-9)
        runs["value"][f"tslearn {tslearn.__version__}"] = ts_value
        runs["value+grad"][f"tslearn {tslearn.__version__}"] = ts_grad
    except ImportError as e:
        print(f"tslearn: not installed ({e})")

    try:
        import pysdtw
        import torch

        torch.set_num_threads(args.threads)
        sdtw = pysdtw.SoftDTW(gamma=gamma, use_cuda=False)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def pt_value() -> Any:
            with torch.no_grad():
                return sdtw(xt, yt).numpy()

        def pt_grad() -> Any:
            xg = xt.clone().requires_grad_(True)
            v = sdtw(xg, yt)
            v.sum().backward()
            return v.detach().numpy(), xg.grad.numpy()

        # pysdtw's CPU kernels compute in float32 whatever the input dtype
        np.testing.assert_allclose(pt_value(), want_v, rtol=1e-5)
        np.testing.assert_allclose(pt_grad()[1], want_g, rtol=1e-3, atol=1e-4)
        runs["value"][f"pysdtw (torch {torch.__version__} CPU)"] = pt_value
        runs["value+grad"][f"pysdtw (torch {torch.__version__} CPU)"] = pt_grad
    except ImportError as e:
        print(f"pysdtw: not installed ({e})")

    print(f"\n{'task':<11} {'implementation':<34} {'best ms':>9} {'median ms':>10} {'softgrad is':>12}")
    for task, impls in runs.items():
        times: dict[str, list[float]] = {k: [] for k in impls}
        for _ in range(args.repeat):
            for name, f in impls.items():
                times[name].append(timed(f))
        base = min(times["softgrad"])
        for name, ts in times.items():
            best = min(ts)
            ratio = "" if name == "softgrad" else f"{best / base:10.1f}x"
            print(f"{task:<11} {name:<34} {best * 1e3:9.2f} {statistics.median(ts) * 1e3:10.2f} {ratio:>12}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
