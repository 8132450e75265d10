"""Preconditioned CG: softgrad against scipy and pyamg, side by side in one process.

Problems (rtol 1e-8 on ||r|| / ||b||, b standard normal with a fixed seed):

- ``poisson``: the 5-point Laplacian on a 500 x 500 grid (250 000 unknowns), the issue's case;
- ``aniso``: the same with the y-couplings weighted by 0.01 (400 x 400);
- ``logreg``: the Hessian of an L2-regularised logistic regression, ``Xᵀ D X + λ I`` with a sparse
  ``X`` whose features have unequal scales (not an M-matrix: AMG's coarsening assumptions do not hold).

Solvers: scipy ``cg`` + a Jacobi ``LinearOperator``; scipy ``spilu(drop_tol=0, fill_factor=1)`` +
``cg`` (capped at ``maxiter=3000``, Poisson only unless ``--spilu-all``); pyamg
``smoothed_aggregation_solver`` + CG (``ml.solve(accel="cg")``); softgrad ``linalg.cg`` with
``precond.jacobi`` / ``ssor`` / ``ic0``. Times are best (and median) of ``--repeat`` runs, solvers
interleaved so that slow phases of a shared machine hit all of them.

    PYTHONPATH=/work/venvs/bench/lib/python3.11/site-packages \
        python benches/python/bench_precond.py [--repeat 3] [--skip-spilu]
"""

from __future__ import annotations

import argparse
import builtins
import functools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import softgrad
from softgrad import linalg, precond

try:
    import pyamg
except ImportError:  # pragma: no cover - depends on the environment
    pyamg = None

RTOL = 1e-8


def poisson(m: int, eps: float = 1.0) -> Any:
    t = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    i = sp.identity(m)
    return (sp.kron(i, t) + eps * sp.kron(t, i)).tocsr()


def logreg(n_samples: int, n_features: int, per_row: int, lam: float, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_samples), per_row)
    cols = rng.integers(0, n_features, n_samples * per_row)
    X = sp.csr_array((rng.standard_normal(rows.size), (rows, cols)), shape=(n_samples, n_features))
    X = X @ sp.diags_array(10.0 ** rng.uniform(-1.5, 1.5, n_features))  # features on unequal scales
    w = rng.standard_normal(n_features) * 0.5
    p = 1 / (1 + np.exp(-(X @ w)))
    H = (X.T @ sp.diags_array(p * (1 - p)) @ X + lam * sp.identity(n_features)).tocsr()
    H = ((H + H.T) * 0.5).tocsr()  # exactly symmetric
    H.sum_duplicates()
    return H


def true_rel(A: Any, x: Any, b: Any) -> float:
    return float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))


Run = Callable[[Any, Any], tuple[float, float, int, Any]]


def scipy_jacobi(A: Any, b: Any) -> tuple[float, float, int, Any]:
    t0 = time.perf_counter()
    d = 1.0 / A.diagonal()
    M = spla.LinearOperator(A.shape, matvec=lambda v: d * v.ravel(), dtype=np.float64)
    t1 = time.perf_counter()
    it = [0]
    x, _ = spla.cg(A, b, rtol=RTOL, M=M, maxiter=20000, callback=lambda _: it.__setitem__(0, it[0] + 1))
    return t1 - t0, time.perf_counter() - t1, it[0], x


def scipy_spilu(A: Any, b: Any) -> tuple[float, float, int, Any]:
    t0 = time.perf_counter()
    ilu = spla.spilu(A.tocsc(), drop_tol=0.0, fill_factor=1.0)
    M = spla.LinearOperator(A.shape, matvec=ilu.solve, dtype=np.float64)
    t1 = time.perf_counter()
    it = [0]
    x, _ = spla.cg(A, b, rtol=RTOL, M=M, maxiter=3000, callback=lambda _: it.__setitem__(0, it[0] + 1))
    return t1 - t0, time.perf_counter() - t1, it[0], x


def amg(A: Any, b: Any) -> tuple[float, float, int, Any]:
    t0 = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(A)
    t1 = time.perf_counter()
    res: list[float] = []
    x = ml.solve(b, tol=RTOL, accel="cg", maxiter=3000, residuals=res)
    return t1 - t0, time.perf_counter() - t1, len(res) - 1, x


def softgrad_with(make: Callable[[Any], Any]) -> Run:
    def run(A: Any, b: Any) -> tuple[float, float, int, Any]:
        t0 = time.perf_counter()
        M = make(A)
        t1 = time.perf_counter()
        r = linalg.cg(A, b, M=M, rtol=RTOL, maxiter=20000)
        return t1 - t0, time.perf_counter() - t1, r.nit if r.success else -r.nit, r.x

    return run


def problems(spilu_all: bool) -> list[tuple[str, Any, list[str]]]:
    return [
        ("poisson 500x500 (n=250 000)", poisson(500), ["scipy spilu+CG"]),
        (
            "anisotropic poisson 400x400, eps=0.01 (n=160 000)",
            poisson(400, 0.01),
            ["scipy spilu+CG"] if spilu_all else [],
        ),
        (
            "logistic Hessian XᵀDX+λI (X 200 000 x 40 000, 4 nnz/row, scales 10^±1.5, λ=1e-4)",
            logreg(200_000, 40_000, 4, 1e-4),
            ["scipy spilu+CG"] if spilu_all else [],
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--spilu-all", action="store_true", help="run spilu+CG on every problem (slow)")
    ap.add_argument("--skip-spilu", action="store_true")
    args = ap.parse_args()
    print = functools.partial(builtins.print, flush=True)
    solvers: dict[str, Run] = {
        "scipy CG + Jacobi": scipy_jacobi,
        "scipy spilu+CG": scipy_spilu,
        "pyamg SA + CG": amg,
        "softgrad Jacobi-PCG": softgrad_with(precond.jacobi),
        "softgrad SSOR-PCG (ω=1.5)": softgrad_with(lambda A: precond.ssor(A, 1.5)),
        "softgrad IC(0)-PCG": softgrad_with(lambda A: precond.ic0(A, on_breakdown="shift")),
    }
    if pyamg is None:
        print("pyamg is not installed: its rows are skipped (pip install pyamg into the bench venv)")
        del solvers["pyamg SA + CG"]
    print(
        f"softgrad {softgrad.__version__}, scipy {scipy.__version__}, pyamg "
        f"{getattr(pyamg, '__version__', 'n/a')}, threads {softgrad.get_num_threads()}, "
        f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, rtol {RTOL:g}, best (median) of {args.repeat}"
    )
    for title, A, slow in problems(args.spilu_all):
        b = np.random.default_rng(0).standard_normal(A.shape[0])
        names = [k for k in solvers if k != "scipy spilu+CG" or (k in slow and not args.skip_spilu)]
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
        info: dict[str, tuple[int, float]] = {}
        for rep in range(args.repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for k in order:
                if k == "scipy spilu+CG" and rep > 0:
                    continue  # ~30 s a run: once is enough
                s, v, it, x = solvers[k](A, b)
                times[k].append((s, v))
                info[k] = (it, true_rel(A, x, b))
        base = min(s + v for s, v in times["scipy CG + Jacobi"])
        print(f"\n### {title}, nnz={A.nnz}\n")
        print(
            "| solver | iterations | setup s | solve s | total s (median) | ‖b-Ax‖/‖b‖ "
            "| speed-up vs scipy Jacobi-CG |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for k in names:
            best = min(times[k], key=lambda t: t[0] + t[1])
            med = statistics.median(s + v for s, v in times[k])
            it, rel = info[k]
            its = f"{it}" if it >= 0 else f"{-it} (not converged)"
            print(
                f"| {k} | {its} | {best[0]:.3f} | {best[1]:.3f} | {sum(best):.3f} ({med:.3f}) | {rel:.1e} | "
                f"{base / sum(best):.2f}x |"
            )


if __name__ == "__main__":
    main()
