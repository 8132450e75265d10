"""softgrad.gradient vs scipy (approx_fprime, approx_derivative, scipy.differentiate) and numdifftools.

    python benches/python/bench_fd.py [--repeat 5] [--n 1000]

Three tables, softgrad and the peers run side by side in one process (interleaved, best of N):

1. accuracy per evaluation: max relative error against the analytic gradient and the number of
   evaluations of f, for every method, on f(x) = sum sin(x) e^(x/2) + e^(mean x) at n = 10;
2. overhead per evaluation with a scalar f (scipy's ``rosen``, n = ``--n``): wall time / nfev,
   softgrad against the scipy method with the same stencil, and the ratio (above 1: softgrad
   costs less per evaluation);
3. a vectorized f (Rosenbrock over the rows of X) against scipy's scalar loop at the same accuracy,
   the issue's "20x scipy at n = 1000" target;
4. a sparse tridiagonal Jacobian at n = ``--n-sparse`` (10000) by colouring: softgrad against scipy's
   ``approx_derivative(..., sparsity=)`` (which colours too), evaluations, colours, time, error;
5. sparse Hessians: from values (softgrad only: no peer estimates a sparse Hessian from values) with
   numdifftools' dense ``Hessian`` at small n, and from an analytic gradient against scipy's
   ``approx_derivative`` of ``rosen_der`` with the same pattern.

A peer that is not installed is reported as missing, never silently skipped.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy
from scipy.optimize import _numdiff, approx_fprime, rosen, rosen_der

import softgrad as sg
import softgrad.sparse_fd

try:
    import numdifftools as nd

    ND = f"numdifftools {nd.__version__}"
except ImportError:  # pragma: no cover - a benchmark-only peer
    nd = None
    ND = "numdifftools not installed (pip install numdifftools): its rows are n/a"

try:
    from scipy.differentiate import derivative as sp_derivative
except ImportError:  # pragma: no cover - scipy < 1.15
    sp_derivative = None

EPS = float(np.finfo(float).eps)


def interleaved(fs: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best-of-``repeat`` seconds of each function, run in turn so that load hits all alike."""
    for f in fs:
        f()
    best = [float("inf")] * len(fs)
    for _ in range(repeat):
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


class Count:
    def __init__(self, f: Callable[[Any], Any]) -> None:
        self.f, self.n = f, 0

    def __call__(self, x: Any) -> Any:
        self.n += 1 if np.ndim(x) == 1 else len(x)
        return self.f(x)


def comp(x: Any) -> Any:
    return np.sum(np.sin(x) * np.exp(0.5 * x)) + np.exp(np.mean(x))


def comp_grad(x: Any) -> Any:
    return (np.cos(x) + 0.5 * np.sin(x)) * np.exp(0.5 * x) + np.exp(np.mean(x)) / x.size


def accuracy_table() -> None:
    x = np.random.default_rng(0).uniform(-2, 2, 10)
    want = comp_grad(x)
    rows: list[tuple[str, Callable[[Callable[[Any], Any]], Any]]] = [
        ("softgrad forward", lambda f: sg.gradient(f, x, method="forward")),
        ("scipy approx_fprime", lambda f: approx_fprime(x, f)),
        ("softgrad central (order 2)", lambda f: sg.gradient(f, x)),
        ("scipy approx_derivative 3-point", lambda f: _numdiff.approx_derivative(f, x, method="3-point")),
        ("softgrad central order 4", lambda f: sg.gradient(f, x, order=4)),
        ("softgrad central order 8", lambda f: sg.gradient(f, x, order=8)),
        ("softgrad richardson (6 steps)", lambda f: sg.gradient(f, x, method="richardson")),
        ("softgrad richardson (4 steps)", lambda f: sg.gradient(f, x, method="richardson", n_steps=4)),
        ("softgrad complex", lambda f: sg.gradient(f, x, method="complex")),
        ("scipy approx_derivative cs", lambda f: _numdiff.approx_derivative(f, x, method="cs")),
    ]
    if nd is not None:
        rows.append(("numdifftools Gradient", lambda f: nd.Gradient(f)(x)))
    print("\n1. accuracy per evaluation: f = sum sin(x) e^(x/2) + e^(mean x), n = 10, float64")
    print(f"{'method':34} {'nfev':>6} {'max rel err':>12} {'nfev/coord':>10}")
    for name, run in rows:
        f = Count(comp)
        g = run(f)
        err = np.max(np.abs(g - want)) / np.max(np.abs(want))
        print(f"{name:34} {f.n:6d} {err:12.2e} {f.n / x.size:10.1f}")
    if sp_derivative is not None:
        # scipy.differentiate works elementwise: a separable f, one coordinate per element.
        f = Count(lambda t: np.sin(t) * np.exp(0.5 * t))
        res = sp_derivative(f, x)
        want_s = (np.cos(x) + 0.5 * np.sin(x)) * np.exp(0.5 * x)
        err = np.max(np.abs(res.df - want_s)) / np.max(np.abs(want_s))
        nf = int(np.max(res.nfev)) * x.size
        print(f"{'scipy.differentiate (elementwise)':34} {nf:6d} {err:12.2e} {nf / x.size:10.1f}")
        r = sg.gradient(
            lambda v: np.sum(np.sin(v) * np.exp(0.5 * v)), x, method="richardson", full_output=True
        )
        err = np.max(np.abs(r.grad - want_s)) / np.max(np.abs(want_s))
        print(f"{'softgrad richardson (same f)':34} {r.nfev:6d} {err:12.2e} {r.nfev / x.size:10.1f}")


def overhead_table(n: int, repeat: int) -> None:
    x = np.random.default_rng(1).uniform(-1, 1, n)
    want = rosen_der(x)
    Run = Callable[[Callable[[Any], Any]], Any]
    pairs: list[tuple[str, Run, str, Run]] = [
        (
            "forward",
            lambda f: sg.gradient(f, x, method="forward"),
            "approx_fprime",
            lambda f: approx_fprime(x, f),
        ),
        (
            "forward",
            lambda f: sg.gradient(f, x, method="forward"),
            "approx_derivative 2-point",
            lambda f: _numdiff.approx_derivative(f, x, method="2-point"),
        ),
        (
            "central",
            lambda f: sg.gradient(f, x),
            "approx_derivative 3-point",
            lambda f: _numdiff.approx_derivative(f, x, method="3-point"),
        ),
    ]
    print(f"\n2. overhead per evaluation, scalar f = scipy.optimize.rosen, n = {n} (best of {repeat})")
    print(f"{'softgrad':10} {'us/eval':>8} {'peer':28} {'us/eval':>8} {'peer/softgrad':>14}")
    for sname, s, pname, p in pairs:
        cs, cp = Count(rosen), Count(rosen)
        s(cs), p(cp)
        ts, tp = interleaved([lambda s=s: s(rosen), lambda p=p: p(rosen)], repeat)
        us, up = 1e6 * ts / cs.n, 1e6 * tp / cp.n
        print(f"{sname:10} {us:8.2f} {pname:28} {up:8.2f} {up / us:14.2f}")

    # The pure overhead: an f that costs almost nothing.
    def tiny(v: Any) -> float:
        return float(v[0])

    ct, cp = Count(tiny), Count(tiny)
    sg.gradient(ct, x), _numdiff.approx_derivative(cp, x, method="3-point")
    ts, tp = interleaved(
        [lambda: sg.gradient(tiny, x), lambda: _numdiff.approx_derivative(tiny, x, method="3-point")], repeat
    )
    us, up = 1e6 * ts / ct.n, 1e6 * tp / cp.n
    print(f"{'central':10} {us:8.2f} {'3-point, f = float(v[0])':28} {up:8.2f} {up / us:14.2f}")
    t_f = interleaved([lambda: rosen(x)], repeat)[0]
    err = np.max(np.abs(sg.gradient(rosen, x) - want)) / np.max(np.abs(want))
    print(f"(one call of rosen itself: {1e6 * t_f:.2f} us; max rel err of softgrad central: {err:.1e})")
    if nd is not None:
        m = 100
        xm, wm = x[:m], rosen_der(x[:m])
        tn, ts = interleaved(
            [lambda: nd.Gradient(rosen)(xm), lambda: sg.gradient(rosen, xm, method="richardson")],
            max(1, repeat // 2),
        )
        en = np.max(np.abs(nd.Gradient(rosen)(xm) - wm)) / np.max(np.abs(wm))
        es = np.max(np.abs(sg.gradient(rosen, xm, method="richardson") - wm)) / np.max(np.abs(wm))
        print(
            f"numdifftools Gradient n = {m}: {1e3 * tn:.1f} ms (err {en:.1e}); softgrad richardson "
            f"{1e3 * ts:.1f} ms (err {es:.1e}); numdifftools/softgrad {tn / ts:.1f}"
        )
    else:
        print(ND)


def rosen_rows(X: Any) -> Any:
    return np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2, axis=1)


def compiled_rosen_rows(fastmath: bool) -> Callable[[Any], Any] | None:
    """Rosenbrock over the rows of X compiled with numba (one pass, no temporaries), or None;
    ``fastmath`` lets it vectorize the sum of each row (reassociated)."""
    try:
        import numba
    except ImportError:  # pragma: no cover - a benchmark-only peer
        return None

    @numba.njit(cache=False, fastmath=fastmath)  # type: ignore[misc]
    def rows(X: Any) -> Any:  # pragma: no cover - compiled
        k, n = X.shape
        out = np.empty(k)
        for r in range(k):
            s = 0.0
            for i in range(n - 1):
                a = X[r, i + 1] - X[r, i] * X[r, i]
                b = 1.0 - X[r, i]
                s += 100.0 * a * a + b * b
            out[r] = s
        return out

    rows(np.ones((2, 3)))
    return rows  # type: ignore[no-any-return]


def vectorized_table(n: int, repeat: int) -> None:
    x = np.random.default_rng(2).uniform(-1, 1, n)
    want = rosen_der(x)
    print(f"\n3. vectorized f (Rosenbrock over the rows of X) vs scipy's scalar loop, n = {n}")
    print(f"{'call':58} {'ms':>8} {'max rel err':>12} {'scipy/this':>10}")
    runs = [
        ("scipy approx_fprime (forward, scalar f)", lambda: approx_fprime(x, rosen)),
        (
            "scipy approx_derivative 3-point (scalar f)",
            lambda: _numdiff.approx_derivative(rosen, x, method="3-point"),
        ),
        (
            "softgrad forward, vectorized NumPy f",
            lambda: sg.gradient(rosen_rows, x, method="forward", vectorized=True),
        ),
        ("softgrad central, vectorized NumPy f", lambda: sg.gradient(rosen_rows, x, vectorized=True)),
        (
            "softgrad central, vectorized NumPy f, one call (batch 2n)",
            lambda: sg.gradient(rosen_rows, x, vectorized=True, batch_size=2 * n),
        ),
    ]
    for fastmath in (False, True):
        fast = compiled_rosen_rows(fastmath)
        if fast is None:
            break
        tag = "numba f" + (" (fastmath)" if fastmath else "")
        runs += [
            (
                f"softgrad forward, vectorized {tag}",
                (lambda g: lambda: sg.gradient(g, x, method="forward", vectorized=True))(fast),
            ),
            (
                f"softgrad central, vectorized {tag}",
                (lambda g: lambda: sg.gradient(g, x, vectorized=True))(fast),
            ),
        ]
    batch = np.repeat(x[None], 2 * n, axis=0)
    runs.append(("(NumPy rosen_rows on the 2n x n batch, one call)", lambda: rosen_rows(batch)))
    times = interleaved([r for _, r in runs], repeat)
    for (name, r), t in zip(runs, times, strict=True):
        if name.startswith("(NumPy"):
            print(f"{name:58} {1e3 * t:8.2f}")
            continue
        err = np.max(np.abs(r() - want)) / np.max(np.abs(want))
        base = times[0] if "forward" in name else times[1]
        print(f"{name:58} {1e3 * t:8.2f} {err:12.2e} {base / t:10.1f}")
    if fast is None:
        print("numba not installed (pip install numba): the compiled-f rows are n/a")


def tri(v: Any) -> Any:
    """f_r = x_r^2 e^{x_{r+1}} + sin(x_{r-1}): a tridiagonal Jacobian."""
    up = np.exp(np.r_[v[1:], 0.0])
    up[-1] = 1.0
    return v**2 * up + np.sin(np.r_[0.0, v[:-1]])


def tri_rows(X: Any) -> Any:
    up = np.exp(np.c_[X[:, 1:], np.zeros(len(X))])
    up[:, -1] = 1.0
    return X**2 * up + np.sin(np.c_[np.zeros(len(X)), X[:, :-1]])


def tri_jac_diags(v: Any) -> tuple[Any, Any, Any]:
    up = np.exp(np.r_[v[1:], 0.0])
    up[-1] = 1.0
    return 2 * v * up, v[:-1] ** 2 * up[:-1], np.cos(v[:-1])


def sparse_table(n: int, repeat: int) -> None:
    import scipy.sparse as sp

    x = np.random.default_rng(3).uniform(-1, 1, n)
    pattern = sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1], format="csr")
    d, upper, lower = tri_jac_diags(x)
    want = sp.diags_array([lower, d, upper], offsets=[-1, 0, 1], format="csr")

    def err(J: Any) -> float:
        return float(abs(sp.csr_array(J) - want).max() / abs(want).max())

    print(f"\n4. sparse tridiagonal Jacobian, n = {n} (best of {repeat})")
    print(f"{'call':58} {'nfev':>5} {'colours':>7} {'ms':>8} {'max rel err':>12}")
    from scipy.optimize._numdiff import group_columns

    groups = group_columns(pattern)
    cs, cp, cpg, cv = Count(tri), Count(tri), Count(tri), Count(tri_rows)
    runs: list[tuple[str, Callable[[], Any], Count | None]] = [
        ("softgrad jacobian(sparsity=), central, scalar f", lambda: sg.jacobian(cs, x, sparsity=pattern), cs),
        (
            "scipy approx_derivative(sparsity=), 3-point",
            lambda: _numdiff.approx_derivative(cp, x, method="3-point", sparsity=pattern),
            cp,
        ),
        (
            "scipy approx_derivative(sparsity=(A, groups)), 3-point",
            lambda: _numdiff.approx_derivative(cpg, x, method="3-point", sparsity=(pattern, groups)),
            cpg,
        ),
        (
            "softgrad jacobian(sparsity=), central, vectorized f",
            lambda: sg.jacobian(cv, x, sparsity=pattern, vectorized=True),
            cv,
        ),
    ]
    results = [r() for _, r, _ in runs]
    counts = [c.n if c is not None else 0 for _, _, c in runs]  # evaluations of one run
    times = interleaved([r for _, r, _ in runs], repeat)
    colours = [3, int(groups.max()) + 1, int(groups.max()) + 1, 3]
    for (name, _, _), J, k, t, nf in zip(runs, results, colours, times, counts, strict=True):
        print(f"{name:58} {nf:5d} {k:7d} {1e3 * t:8.2f} {err(J):12.2e}")
    print(
        f"scipy / softgrad (scalar f): {times[1] / times[0]:.2f}; "
        f"with scipy's groups given: {times[2] / times[0]:.2f}"
    )
    tc = interleaved([lambda: sg.sparse_fd.colour_columns(pattern), lambda: group_columns(pattern)], repeat)
    print(
        f"colouring alone: softgrad (3 orderings, best) {1e3 * tc[0]:.2f} ms, "
        f"scipy group_columns {1e3 * tc[1]:.2f} ms"
    )


def hessian_table(n_small: int, n_big: int, repeat: int) -> None:
    import scipy.sparse as sp
    from scipy.optimize import rosen_hess

    print(f"\n5. Hessians of Rosenbrock (best of {repeat})")
    print(f"{'call':60} {'n':>6} {'nfev':>6} {'ms':>9} {'max rel err':>12}")

    def rel(H: Any, W: Any) -> float:
        H = H.toarray() if sp.issparse(H) else np.asarray(H)
        return float(np.max(np.abs(H - W)) / np.max(np.abs(W)))

    x = np.random.default_rng(4).uniform(-1, 1, n_small)
    W = rosen_hess(x)
    tri = np.abs(np.subtract.outer(np.arange(n_small), np.arange(n_small))) <= 1
    rows: list[tuple[str, Callable[[Callable[[Any], Any]], Any]]] = [
        ("softgrad hessian, from values, sparse (tridiagonal)", lambda f: sg.hessian(f, x, sparsity=tri)),
        ("softgrad hessian, from values, dense", lambda f: sg.hessian(f, x)),
    ]
    if nd is not None:
        rows.append(("numdifftools Hessian (dense, Richardson)", lambda f: nd.Hessian(f)(x)))
    else:
        print(ND)
    times = interleaved([lambda r=r: r(rosen) for _, r in rows], repeat)
    for (name, r), t in zip(rows, times, strict=True):
        c = Count(rosen)
        H = r(c)
        print(f"{name:60} {n_small:6d} {c.n:6d} {1e3 * t:9.2f} {rel(H, W):12.2e}")
    if nd is not None:
        print(
            f"numdifftools / softgrad sparse: {times[2] / times[0]:.1f}; "
            f"/ softgrad dense: {times[2] / times[1]:.1f}"
        )
    x = np.random.default_rng(5).uniform(-1, 1, n_big)
    pattern = sp.diags_array(
        [np.ones(n_big - 1), np.ones(n_big), np.ones(n_big - 1)], offsets=[-1, 0, 1], format="csr"
    )
    diag = np.zeros(n_big)
    diag[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    diag[1:] += 200
    off = -400 * x[:-1]
    W2 = sp.diags_array([off, diag, off], offsets=[-1, 0, 1], format="csr")

    def rel2(H: Any) -> float:
        return float(abs(sp.csr_array(H) - W2).max() / abs(W2).max())

    runs = [
        (
            "softgrad hessian(grad=rosen_der, sparsity=), star colouring",
            lambda: sg.hessian(None, x, grad=rosen_der, sparsity=pattern),
        ),
        (
            "scipy approx_derivative(rosen_der, sparsity=), 3-point",
            lambda: _numdiff.approx_derivative(rosen_der, x, method="3-point", sparsity=pattern),
        ),
    ]
    times = interleaved([r for _, r in runs], repeat)
    nfevs = []
    for name, _ in runs:
        c = Count(rosen_der)
        if name.startswith("softgrad"):
            sg.hessian(None, x, grad=c, sparsity=pattern)
        else:
            _numdiff.approx_derivative(c, x, method="3-point", sparsity=pattern)
        nfevs.append(c.n)
    for (name, r), t, nf in zip(runs, times, nfevs, strict=True):
        print(f"{name:60} {n_big:6d} {nf:6d} {1e3 * t:9.2f} {rel2(r()):12.2e}")
    print(f"scipy / softgrad (from the gradient): {times[1] / times[0]:.2f}")
    # from values only: 4n - 1 evaluations of a scalar f (no peer); at n = 1000 to stay quick
    m = min(n_big, 1000)
    xm, pm = x[:m], pattern[:m, :m]
    c = Count(rosen)
    t = interleaved([lambda: sg.hessian(rosen, xm, sparsity=pm)], repeat)[0]
    H = sg.hessian(c, xm, sparsity=pm)
    dm = np.zeros(m)
    dm[:-1] = 1200 * xm[:-1] ** 2 - 400 * xm[1:] + 2
    dm[1:] += 200
    Wm = sp.diags_array([-400 * xm[:-1], dm, -400 * xm[:-1]], offsets=[-1, 0, 1], format="csr")
    e = float(abs(sp.csr_array(H) - Wm).max() / abs(Wm).max())
    name = "softgrad hessian(rosen, sparsity=), from values only"
    print(f"{name:60} {m:6d} {c.n:6d} {1e3 * t:9.2f} {e:12.2e}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--n-sparse", type=int, default=10_000)
    ap.add_argument("--only", choices=["all", "dense", "sparse"], default="all")
    a = ap.parse_args()
    print(
        f"softgrad {sg.__version__}, scipy {scipy.__version__}, numpy {np.__version__}, {ND}; "
        f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}"
    )
    if a.only in ("all", "dense"):
        accuracy_table()
        overhead_table(a.n, a.repeat)
        vectorized_table(a.n, a.repeat)
    if a.only in ("all", "sparse"):
        sparse_table(a.n_sparse, a.repeat)
        hessian_table(20, a.n_sparse, a.repeat)


if __name__ == "__main__":
    main()
