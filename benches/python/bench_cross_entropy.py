"""softgrad's fused softmax cross-entropy vs JAX (jit) and NumPy by hand, side by side in one process.

    PYTHONPATH=/work/venvs/bench/lib/python3.11/site-packages \\
        python benches/python/bench_cross_entropy.py [--repeat 11] [--markdown]

Times the loss alone and the loss with its gradient with respect to the logits (the mean over the
samples of integer-label cross-entropy), for the shapes of classification: (200000, 10),
(200000, 50) and (10000, 1000), float64 and float32. The peers:

- JAX: ``jax.jit(jax.value_and_grad(ce))`` with ``ce`` written in ``jax.numpy`` two ways, as optax
  does: ``softmax_cross_entropy_with_integer_labels`` (``log_softmax`` then ``take_along_axis``,
  whose gradient is a scatter) and ``softmax_cross_entropy`` of ``one_hot`` labels (fused by XLA);
  the JAX column is the faster of the two (named in the last column), on device arrays, with
  ``block_until_ready``; ``jax_enable_x64`` for float64. If JAX is missing the table says so.
- NumPy by hand: what a user writes (``log_softmax`` by the max shift; gradient ``(p - onehot)/N``).

softgrad: ``sg.softmax_cross_entropy(x, y)`` for the value and ``sg.vjp(...)`` + ``pullback(1.0)``
for value and gradient. Best of N, all contenders interleaved so that slow phases of the machine hit
them alike; ratios are peer / softgrad (> 1: softgrad faster). One memory pass over the logits
(``np.sum``) is printed as the floor.
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
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    PEER = f"JAX {jax.__version__} (jit, CPU)"
except ImportError:  # pragma: no cover - the benchmark environment has JAX
    jax = None
    PEER = "JAX not installed: NumPy by hand only"


def interleaved(fs: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best-of-``repeat`` milliseconds of each function, run in turn."""
    for f in fs:
        f()
    best = [float("inf")] * len(fs)
    for _ in range(repeat):
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t0)
    return [b * 1e3 for b in best]


def np_value(x: np.ndarray, y: np.ndarray) -> Any:
    z = x - x.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def np_value_grad(x: np.ndarray, y: np.ndarray) -> Any:
    n = len(y)
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = -(z[np.arange(n), y] - np.log(s[:, 0])).mean()
    g = e / s
    g[np.arange(n), y] -= 1.0
    g /= n
    return loss, g


def jax_fns() -> dict[str, tuple[Any, Any]]:
    """``(value, value_and_grad)`` jitted, for two ways of writing the loss in ``jax.numpy``."""

    def ce_take(x: Any, y: Any) -> Any:  # optax.softmax_cross_entropy_with_integer_labels, then the mean
        logp = jax.nn.log_softmax(x, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0])

    def ce_onehot(x: Any, y: Any) -> Any:  # optax.softmax_cross_entropy with one_hot labels: no scatter
        logp = jax.nn.log_softmax(x, axis=-1)
        return -jnp.mean(jnp.sum(jax.nn.one_hot(y, x.shape[-1], dtype=x.dtype) * logp, axis=-1))

    return {
        name: (jax.jit(f), jax.jit(jax.value_and_grad(f)))
        for name, f in (("take", ce_take), ("one-hot", ce_onehot))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    jfs = jax_fns() if jax is not None else {}
    cpu = platform.processor() or platform.machine()
    print(
        f"# {PEER} and NumPy by hand vs softgrad {sg.__version__} ({sg.simd_level()}, default "
        f"{sg.get_num_threads()} threads), {os.cpu_count()} CPUs {cpu}, best of {args.repeat}"
    )
    head = (
        "case",
        "NumPy ms",
        "JAX ms",
        "softgrad ms",
        "vs NumPy",
        "vs JAX",
        "1 thread ms",
        "2 threads ms",
        "one pass ms",
        "JAX form",
    )
    rows = []
    for n, k in ((200_000, 10), (200_000, 50), (10_000, 1000)):
        for dtype in (np.float64, np.float32):
            x = (3 * rng.standard_normal((n, k))).astype(dtype)
            y = rng.integers(0, k, n)
            name = f"({n}, {k}) {np.dtype(dtype).name}"
            (floor,) = interleaved([lambda x=x: np.sum(x)], args.repeat)
            jax_v: dict[str, Callable[[], Any]] = {}
            jax_vg: dict[str, Callable[[], Any]] = {}
            if jax is not None:
                xd, yd = jax.device_put(x), jax.device_put(y)
                for form, (jv, jvg) in jfs.items():
                    jax_v[form] = lambda jv=jv, xd=xd, yd=yd: jv(xd, yd).block_until_ready()
                    jax_vg[form] = lambda jvg=jvg, xd=xd, yd=yd: [a.block_until_ready() for a in jvg(xd, yd)]

            for what, peer_np, peer_jax, ours in (
                (
                    "value",
                    lambda x=x, y=y: np_value(x, y),
                    jax_v,
                    lambda t, x=x, y=y: sg.softmax_cross_entropy(x, y, n_threads=t),
                ),
                (
                    "value + gradient",
                    lambda x=x, y=y: np_value_grad(x, y),
                    jax_vg,
                    lambda t, x=x, y=y: sg.vjp(sg.softmax_cross_entropy, x, y, n_threads=t)[1](1.0),
                ),
            ):
                forms = list(peer_jax)
                contenders = [peer_np, *peer_jax.values()]
                contenders += [lambda t=t, ours=ours: ours(t) for t in (None, 1, 2)]
                times = interleaved(contenders, args.repeat)
                p_np = times[0]
                jax_times = times[1 : 1 + len(forms)]
                best = int(np.argmin(jax_times)) if forms else -1
                p_jax = jax_times[best] if forms else float("nan")
                d, t1, t2 = times[-3:]
                rows.append(
                    (
                        f"{name} {what}",
                        f"{p_np:.2f}",
                        f"{p_jax:.2f}",
                        f"{d:.2f}",
                        f"{p_np / d:.1f}x",
                        f"{p_jax / d:.2f}x",
                        f"{t1:.2f}",
                        f"{t2:.2f}",
                        f"{floor:.2f}",
                        forms[best]
                        + "".join(f" ({f} {t:.1f})" for f, t in zip(forms, jax_times, strict=True))
                        if forms
                        else "-",
                    )
                )
                print("  ".join(rows[-1]), flush=True)
    print()
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(f"# load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
