"""Krylov methods: softgrad.linalg against scipy / NumPy, side by side in one process.

- ``lanczos`` vs ``scipy.sparse.linalg.eigsh`` (ARPACK, implicitly restarted Lanczos): the ``k = 6``
  largest eigenpairs of the 2-D Poisson matrix (5-point stencil), whose spectrum is known in closed
  form, so each row also reports the largest eigenvalue error. The Poisson matrix on a square grid
  has many *double* eigenvalues: a single-vector Krylov method finds one copy of each unless it
  deflates and looks again (softgrad locks converged pairs and runs again orthogonally to them).
  Both use the same CSR matrix for their products (softgrad through a Python callback).
- ``hutchinson`` vs the NumPy loop a user would write (Rademacher probes from
  ``numpy.random.Generator``, ``A @ z`` and the running sums), trace and diagonal, same matrix.

    python benches/python/bench_krylov.py [--repeat 3] [--big] [--markdown]

Times are best (and median) of ``--repeat`` runs, peer and softgrad interleaved so slow phases hit
both. ``--big`` adds the 200 x 200 grid (40 000 unknowns; ARPACK needs minutes there).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spl

import softgrad as sg


def poisson(n: int) -> sp.csr_matrix:
    t = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))
    return sp.csr_matrix(sp.kron(sp.eye(n), t) + sp.kron(t, sp.eye(n)))


def spectrum(n: int) -> np.ndarray:
    i = np.arange(1, n + 1)
    c = 2 - 2 * np.cos(i * np.pi / (n + 1))
    return np.sort((c[:, None] + c[None, :]).ravel())


def timed(f: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def row(name: str, peer: list[float], ours: list[float], extra: str, md: bool) -> None:
    bp, bo = min(peer), min(ours)
    mp, mo = statistics.median(peer), statistics.median(ours)
    if md:
        print(f"| {name} | {bp * 1e3:.1f} | {bo * 1e3:.1f} | {bp / bo:.2f}x | {extra} |")
    else:
        print(
            f"{name:<44} peer {bp * 1e3:9.1f} ms (med {mp * 1e3:9.1f})  softgrad {bo * 1e3:9.1f} ms "
            f"(med {mo * 1e3:9.1f})  ratio {bp / bo:6.2f}x  {extra}"
        )


def bench_lanczos(n: int, repeat: int, md: bool) -> None:
    a = poisson(n)
    want = spectrum(n)[-6:]
    counts = {"peer": 0, "ours": 0}

    def counted(key: str) -> Callable[[np.ndarray], np.ndarray]:
        def mv(x: np.ndarray) -> np.ndarray:
            counts[key] += 1
            return a @ x

        return mv

    op = spl.LinearOperator(a.shape, matvec=counted("peer"), dtype=np.float64)
    peer_t, ours_t = [], []
    for _ in range(repeat):
        counts.update(peer=0, ours=0)
        t, (w, _) = timed(lambda: spl.eigsh(op, 6, which="LA", tol=0))
        peer_t.append(t)
        err_p = np.abs(np.sort(w) - want).max()
        t, r = timed(lambda: sg.linalg.lanczos(counted("ours"), a.shape[0], 6, which="largest", tol=1e-10))
        ours_t.append(t)
        err_o = np.abs(r.eigenvalues - want).max()
    extra = (
        f"products {counts['peer']} vs {counts['ours']} ({r.runs} runs); max |λ err| "
        f"{err_p:.1e} vs {err_o:.1e}"
    )
    row(f"k=6 largest, Poisson {n}x{n} (eigsh tol=0)", peer_t, ours_t, extra, md)
    # ARPACK at a looser tolerance: faster, but it misses second copies of double eigenvalues.
    t, (w, _) = timed(lambda: spl.eigsh(a, 6, which="LA", tol=1e-8))
    print(
        f"    (eigsh tol=1e-8: {t * 1e3:.1f} ms, max |λ err| {np.abs(np.sort(w) - want).max():.1e};"
        f" softgrad tol=1e-8: ",
        end="",
    )
    t, r = timed(lambda: sg.linalg.lanczos(a, None, 6, which="largest", tol=1e-8))
    print(f"{t * 1e3:.1f} ms, max |λ err| {np.abs(r.eigenvalues - want).max():.1e})")


def bench_hutchinson(n: int, samples: int, repeat: int, md: bool) -> None:
    a = poisson(n)
    size = a.shape[0]

    def numpy_loop() -> tuple[float, np.ndarray]:
        rng = np.random.default_rng(0)
        tr, diag = 0.0, np.zeros(size)
        for _ in range(samples):
            z = rng.integers(0, 2, size) * 2.0 - 1.0
            y = a @ z
            tr += z @ y
            diag += z * y
        return tr / samples, diag / samples

    peer_t, ours_t = [], []
    for _ in range(repeat):
        t, _ = timed(numpy_loop)
        peer_t.append(t)
        t, r = timed(lambda: sg.linalg.hutchinson(a, n_samples=samples, batch=32))
        ours_t.append(t)
    extra = (
        f"trace {r.trace:.1f} ± {r.trace_stderr:.1f} (exact {a.diagonal().sum():.1f}); with standard errors"
    )
    row(f"hutchinson trace+diag, Poisson {n}x{n}, {samples} probes", peer_t, ours_t, extra, md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    print(
        f"softgrad {sg.__version__}, scipy {scipy.__version__}, numpy {np.__version__}, "
        f"threads {sg.get_num_threads()}, load {os.getloadavg()[0]:.1f}"
    )
    print("peer: scipy.sparse.linalg.eigsh (ARPACK) / a NumPy loop")
    if args.markdown:
        print("| case | peer (ms) | softgrad (ms) | ratio | notes |\n|---|---|---|---|---|")
    bench_lanczos(100, args.repeat, args.markdown)
    if args.big:
        bench_lanczos(200, 1, args.markdown)
    bench_hutchinson(200, 100, args.repeat, args.markdown)
    bench_hutchinson(500, 30, args.repeat, args.markdown)


if __name__ == "__main__":
    main()
