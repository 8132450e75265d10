"""In-place SPSA (MeZO) on a huge float32 vector, and SPSA overhead per iteration against the peers.

    python benches/python/bench_zo.py [--n 100000000] [--repeat 5] [--tables 1234]

Tables:

1. memory: the peak resident set (``VmHWM``, which sees Rust's allocations, unlike tracemalloc)
   of ``spsa_inplace`` on ``--n`` float32 parameters, against the vector's own size (target:
   vector + 5 %);
2. bandwidth: GB/s of one perturbation pass (``x += c z(seed)``: read + write of x, z regenerated)
   and of the three recorded passes of one ``spsa_inplace`` sample (per pass), per distribution and
   thread count, against ``np.add(x, 0, out=x)`` on the same array (the memory-bandwidth
   reference);
3. restoration: the fraction of coordinates restored bit for bit after ``spsa_inplace`` on weights
   like a layer's (normal, std 0.02, eps 1e-3) against plain MeZO arithmetic (add back the negated
   perturbations);
4. SPSA overhead per iteration with a trivial f (``x.x``), softgrad (``gradient(method="spsa")``
   and ``spsa_inplace`` + ``apply_seeded_update``) against qiskit-algorithms ``SPSA`` and noisyopt
   ``minimizeSPSA``, interleaved (qiskit only up to n = 1e4: it allocates an n x n identity).

A peer that is not installed is reported as missing. Run peers from the bench venv:
``PYTHONPATH=/work/venvs/bench/lib/python3.11/site-packages python benches/python/bench_zo.py``.
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
from softgrad._core import zo as Z

try:
    from qiskit_algorithms.optimizers import SPSA as QiskitSPSA

    QISKIT = "qiskit-algorithms"
except ImportError:  # pragma: no cover - a benchmark-only peer
    QiskitSPSA = None
    QISKIT = "qiskit-algorithms not installed: its rows are n/a"

try:
    import noisyopt

    NOISYOPT = "noisyopt"
except ImportError:  # pragma: no cover
    noisyopt = None
    NOISYOPT = "noisyopt not installed: its rows are n/a"


def vm(field: str) -> int:
    """``VmHWM`` / ``VmRSS`` of this process in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_hwm() -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def interleaved_all(fs: list[Callable[[], Any]], repeat: int) -> list[list[float]]:
    """Every time of each function, run in turn ``repeat`` times after one warm-up call each."""
    for f in fs:
        f()
    times: list[list[float]] = [[] for _ in fs]
    for _ in range(repeat):
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    return times


def interleaved(fs: list[Callable[[], Any]], repeat: int) -> list[float]:
    return [min(t) for t in interleaved_all(fs, repeat)]


def weights(n: int) -> np.ndarray:
    """n float32 values ~ N(0, 0.02^2), like a layer's weights (no float64 temporary of n)."""
    x = np.empty(n, np.float32)
    for i in range(0, n, 1 << 24):
        m = min(n, i + (1 << 24)) - i
        x[i : i + m] = 0.02 * np.random.default_rng(i).standard_normal(m)
    return x


def memory_table(n: int) -> None:
    print(f"\n1. peak memory of spsa_inplace, n = {n:.3g} float32 weights ({4 * n / 1e9:.2f} GB)")
    x = weights(n)
    rss0 = vm("VmRSS")
    ok = reset_hwm()
    hwm0 = vm("VmHWM")

    def f(v: np.ndarray) -> float:
        return float(v[:4096].sum(dtype=np.float64))

    t0 = time.perf_counter()
    g, seeds = sg.spsa_inplace(f, x, eps=1e-3, seed=1, n_samples=2, dist="rademacher")
    for gk, s in zip(g, seeds, strict=True):
        sg.apply_seeded_update(x, s, -1e-3 * gk, dist="rademacher")
    dt = time.perf_counter() - t0
    hwm = vm("VmHWM")
    extra = hwm - (hwm0 if ok else rss0)
    print(f"   RSS with x: {rss0 / 1e9:.3f} GB; peak during 2 samples + 2 updates: {hwm / 1e9:.3f} GB")
    print(f"   extra beyond x: {extra / 1e6:.2f} MB = {100 * extra / x.nbytes:.3f} % of x (target <= 5 %)")
    print(f"   time: {dt:.2f} s for 6 perturbation/restore passes + 2 updates (f trivial)")
    if not ok:
        print("   (VmHWM could not be reset: extra is measured against the RSS before the call)")


def bandwidth_table(n: int, repeat: int) -> None:
    print(f"\n2. one pass over n = {n:.3g} float32 weights ~ N(0, 0.02^2) (GB/s = 2 * 4n bytes / time)")
    x = weights(n)
    gb = 2 * x.nbytes / 1e9
    st, bits = np.zeros(4), np.zeros((n + 7) // 8, np.uint8)
    runs: list[tuple[str, Callable[[], Any]]] = [("np.add(x, 0, out=x)", lambda: np.add(x, 0, out=x))]
    for dist in ("rademacher", "gaussian"):
        for nt in (1, 2):
            runs.append(
                (f"apply {dist}, {nt} thread(s)", lambda d=dist, t=nt: Z.apply(x, 5, d, 1e-3, None, None, t))
            )

    def spsa_passes(dist: str, nt: int) -> None:  # the three passes of one spsa_inplace sample
        # eps=1e-3 as spsa_inplace perturbs by it: rounded to 8 significant bits with Rademacher z.
        c = 131 * 2.0**-17 if dist == "rademacher" else 1e-3
        st[:] = 0
        Z.apply(x, 5, dist, c, st, bits, nt)
        Z.apply(x, 5, dist, -2 * c, st, bits, nt)
        Z.restore(x, 5, dist, st, bits, nt)

    for dist in ("rademacher", "gaussian"):
        for nt in (1, 2):
            runs.append((f"3 passes of a sample, {dist}, {nt} thr", lambda d=dist, t=nt: spsa_passes(d, t)))
    times = interleaved_all([r for _, r in runs], repeat)
    best = [min(t) for t in times]
    median = [float(np.median(t)) for t in times]
    head = f"   {'pass (best of ' + str(repeat) + ')':<38}{'ms':>9}{'GB/s':>9}{'of np.add':>11}"
    print(f"{head}{'median':>9}")
    for (name, _), t, m in zip(runs, best, median, strict=True):
        k = 3 if name.startswith("3 passes") else 1
        ratio, mratio = k * gb / t / (gb / best[0]), k * gb / m / (gb / median[0])
        print(f"   {name:<38}{1e3 * t:>9.1f}{k * gb / t:>9.2f}{ratio:>10.0%}{mratio:>9.0%}")


def restoration_table() -> None:
    print("\n3. coordinates restored bit for bit (weights ~ N(0, 0.02^2), 1e6 of them, eps = 1e-3)")
    for dtype in (np.float32, np.float64):
        for dist in ("gaussian", "rademacher"):
            x0 = (0.02 * np.random.default_rng(0).standard_normal(1_000_000)).astype(dtype)
            x = x0.copy()
            _, seeds = sg.spsa_inplace(lambda v: 0.0, x, eps=1e-3, seed=3, dist=dist)
            z = Z.sample(seeds[0], 0, "normal" if dist == "gaussian" else dist, 0, x.size)
            naive = x0
            for c in (1e-3, -2e-3, 1e-3):
                naive = (naive.astype(np.float64) + c * z).astype(dtype)
            print(
                f"   {np.dtype(dtype).name:<8}{dist:<11} softgrad {np.mean(x == x0):.4%}   "
                f"plain add-back {np.mean(naive == x0):.4%}   max drift {np.max(np.abs(x - x0)):.2e}"
            )


def overhead_table(repeat: int) -> None:
    print("\n4. SPSA overhead per iteration (f = x.x, 100 iterations, best of repeats)")
    iters = 100
    print(f"   peers: {QISKIT}; {NOISYOPT}")
    head = f"{'softgrad gradient':>18}{'spsa_inplace':>14}{'qiskit SPSA':>13}{'noisyopt':>10}"
    print(f"   {'n':>8}  {head}  (us/iter)")
    for n in (10, 1000, 100_000):
        x0 = np.full(n, 0.3)  # 0.5 would sit on a binade edge (the checked path everywhere)

        def f(v: np.ndarray) -> float:
            return float(v @ v)

        def ours(x0: np.ndarray = x0) -> None:
            x = x0.copy()
            for k in range(iters):
                x -= 1e-3 * sg.gradient(f, x, method="spsa", seed=k, step=1e-2)

        def ours_inplace(x0: np.ndarray = x0) -> None:
            x = x0.copy()
            for k in range(iters):
                g, s = sg.spsa_inplace(f, x, eps=1e-2, seed=k, dist="rademacher")
                sg.apply_seeded_update(x, s[0], -1e-3 * g[0], dist="rademacher")

        fs: list[Callable[[], Any]] = [ours, ours_inplace]
        if QiskitSPSA is not None and n <= 10_000:  # it allocates an n x n identity (74 GB at 1e5)
            opt = QiskitSPSA(maxiter=iters, learning_rate=1e-3, perturbation=1e-2)
            fs.append(lambda opt=opt, x0=x0: opt.minimize(f, x0.copy()))
        if noisyopt is not None:
            fs.append(
                lambda x0=x0: noisyopt.minimizeSPSA(f, x0.copy(), niter=iters, paired=False, a=1e-3, c=1e-2)
            )
        times = [1e6 * t / iters for t in interleaved(fs, repeat)]
        cells = [f"{t:.1f}" for t in times] + ["n/a"] * (4 - len(times))
        if QiskitSPSA is not None and n > 10_000:  # qiskit skipped: noisyopt is the 3rd time
            cells = [*cells[:2], "n/a", cells[2]]
        print(f"   {n:>8}  {cells[0]:>18}{cells[1]:>14}{cells[2]:>13}{cells[3]:>10}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tables", default="1234", help="which tables to run, e.g. 24")
    a = ap.parse_args()
    print(f"softgrad {sg.__version__}, numpy {np.__version__}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"threads {sg.get_num_threads()}, SIMD {sg.simd_level()}; load {os.getloadavg()[0]:.1f}")
    if "1" in a.tables:
        memory_table(a.n)
    if "2" in a.tables:
        bandwidth_table(a.n, a.repeat)
    if "3" in a.tables:
        restoration_table()
    if "4" in a.tables:
        overhead_table(a.repeat)


if __name__ == "__main__":
    main()
