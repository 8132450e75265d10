"""soft_maxplus_matmul: softgrad against NumPy broadcasting + scipy's logsumexp and JAX (jit, CPU),
side by side in one process, with the hard max-plus product as the yardstick.

The issue's target: the soft product within 4x of the hard one. The hard products timed here are
NumPy broadcasting (``(A[:, :, None] + B[None]).max(1)``) and, once merged, softgrad's own
``maxplus_matmul`` (issue 9, another branch: reported as missing until then); ``np.matmul`` of the
same shape is the floor. Peers: ``t * scipy.special.logsumexp((A[:, :, None] + B[None]) / t, axis=1)``
(the m x k x n temporary) and ``t * jax.nn.logsumexp(...)`` under ``jax.jit`` (and
``jax.value_and_grad`` for the gradient), float32 kept in float32 (``jax_enable_x64`` for float64).

    PYTHONPATH=/work/venvs/bench/lib/python3.11/site-packages python benches/python/bench_soft_maxplus.py \
        [--sizes 256 512] [--dtype float32] [--repeat 5] [--threads 2]

Times are best and median of ``--repeat`` runs, interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as sp

import softgrad as sg


def timed(f: Callable[[], Any]) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def one_size(size: int, args: Any, dt: np.dtype[Any], t: float, peers: dict[str, Any]) -> None:
    jax, jnp, jax_soft, jax_grad, jax_name, hard = (
        peers.get(k) for k in ("jax", "jnp", "jax_soft", "jax_grad", "jax_name", "hard")
    )
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dt)
    b = rng.standard_normal((size, size)).astype(dt)
    ones = np.ones((size, size), dt)
    runs: dict[str, dict[str, Callable[[], Any]]] = {"value": {}, "value+grad": {}}
    runs["value"]["softgrad soft_maxplus_matmul"] = lambda: sg.soft_maxplus_matmul(
        a, b, temperature=t, n_threads=args.threads
    )

    def sg_grad() -> Any:
        _, pb = sg.vjp(sg.soft_maxplus_matmul, a, b, temperature=t, n_threads=args.threads)
        return pb(ones)

    runs["value+grad"]["softgrad soft_maxplus_matmul"] = sg_grad
    want = sg.soft_maxplus_matmul(a, b, temperature=t)
    if size <= args.cap:
        z = lambda: a[:, :, None] + b[None, :, :]  # noqa: E731
        runs["value"]["scipy logsumexp of the broadcast"] = lambda: t * sp.logsumexp(z() / t, axis=1)
        runs["value"]["hard: NumPy broadcast max"] = lambda: z().max(axis=1)
        np.testing.assert_allclose(t * sp.logsumexp(z() / t, axis=1), want, rtol=2e-5, atol=1e-4)
    if hard is not None:
        runs["value"]["hard: softgrad maxplus_matmul"] = lambda: hard(a, b)
    runs["value"]["floor: np.matmul"] = lambda: a @ b
    if jax is not None:
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        np.testing.assert_allclose(np.asarray(jax_soft(ja, jb)), want, rtol=2e-5, atol=1e-4)
        runs["value"][jax_name] = lambda: jax_soft(ja, jb).block_until_ready()
        runs["value+grad"][jax_name] = lambda: jax.block_until_ready(jax_grad(ja, jb))
    for task, impls in runs.items():
        times: dict[str, list[float]] = {k: [] for k in impls}
        for f in impls.values():
            f()  # warm-up (JIT compilation, buffer cache)
        for _ in range(args.repeat):
            for name, f in impls.items():
                times[name].append(timed(f))
        base = min(times["softgrad soft_maxplus_matmul"])
        for name, ts in times.items():
            best = min(ts)
            ratio = "" if name.startswith("softgrad soft") else f"{best / base:10.2f}x"
            med = statistics.median(ts) * 1e3
            print(f"{size:>5} {task:<11} {name:<40} {best * 1e3:9.2f} {med:10.2f} {ratio:>12}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-broadcast-peers-above", type=int, default=256, dest="cap")
    args = ap.parse_args()
    dt, t = np.dtype(args.dtype), args.temperature
    print(f"soft max-plus product, {dt}, t = {t}, {args.threads} threads")
    print(f"softgrad {sg.__version__}, SIMD {sg.simd_level()}; load average {os.getloadavg()[0]:.2f}")
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", dt == np.float64)

        @jax.jit
        def jax_soft(a: Any, b: Any) -> Any:
            return t * jax.nn.logsumexp((a[:, :, None] + b[None, :, :]) / t, axis=1)

        jax_grad = jax.jit(jax.value_and_grad(lambda a, b: jax_soft(a, b).sum(), argnums=(0, 1)))
        jax_name = f"JAX {jax.__version__} jit (CPU)"
    except ImportError as e:
        jax = None
        print(f"JAX: not installed ({e})")
    hard = getattr(sg, "maxplus_matmul", None)
    if hard is None:
        print("softgrad.maxplus_matmul: not on this branch (issue 9, hard product): using NumPy broadcasting")
    head = f"{'size':>5} {'task':<11} {'implementation':<40} {'best ms':>9} {'median ms':>10}"
    print(f"\n{head} {'vs softgrad':>12}")
    peers = {"hard": hard}
    if jax is not None:
        peers.update(jax=jax, jnp=jnp, jax_soft=jax_soft, jax_grad=jax_grad, jax_name=jax_name)
    for size in args.sizes:
        one_size(size, args, dt, t, peers)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
