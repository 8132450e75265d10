"""``python -m softgrad demo``: what softgrad does today, with figures computed on the spot."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import softgrad as sg


def _best_ms(f: Callable[[], Any], repeat: int = 5) -> float:
    f()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def sparse_tridiagonal(n: int) -> Any:
    """The tridiagonal pattern of size n as a scipy.sparse array, or None without scipy."""
    try:
        import scipy.sparse as sp  # type: ignore[import-untyped]
    except ImportError:
        return None
    return sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1], format="csr")


def sparse_poisson(k: int) -> Any:
    """The 5-point Laplacian on a k x k grid (CSR), or None without scipy."""
    try:
        import scipy.sparse as sp
    except ImportError:
        return None
    t = sp.diags_array([-np.ones(k - 1), 2 * np.ones(k), -np.ones(k - 1)], offsets=[-1, 0, 1])
    eye = sp.eye_array(k)
    return (sp.kron(t, eye) + sp.kron(eye, t)).tocsr()


def demo() -> None:
    rng = np.random.default_rng(0)
    print(f"softgrad {sg.__version__}: SIMD level {sg.simd_level()}, {sg.get_num_threads()} threads\n")

    print("1. log-sum-exp that neither overflows nor loses tiny terms")
    print(
        f"   logsumexp([1000, 1000])         = {sg.logsumexp(np.array([1000.0, 1000.0])):.15f}  (1000 + ln 2)"
    )
    print(
        f"   logsumexp([0, -50])             = {sg.logsumexp(np.array([0.0, -50.0])):.6e}  (= log1p(e^-50))"
    )
    val, sign = sg.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    print(f"   log|e^1 - e^2|, sign            = {val:.12f}, {sign:+.0f}")

    x = np.array([0.0, 1.0, 5.0])
    print("\n2. smooth max tends to max as the temperature falls (max <= smooth_max <= max + t ln n)")
    for t in (1.0, 0.1, 0.01):
        print(
            f"   t = {t:<5}  smooth_max = {sg.smooth_max(x, temperature=t):.6f}"
            f"   bound {5 + t * np.log(3):.6f}"
        )

    print("\n3. gradients: vjp / jvp (here d logsumexp / d a is the softmax)")
    a = rng.normal(size=5)
    _, pullback = sg.vjp(sg.logsumexp, a, temperature=0.5)
    ct = pullback(1.0)
    print(f"   d/da        = {np.array2string(ct.a, precision=4)}")
    print(f"   softmax(a/t)= {np.array2string(sg.softmax(a, temperature=0.5), precision=4)}")
    print(f"   d/dt        = {ct.temperature:.6f}")
    h = 1e-6
    fd = (sg.logsumexp(a, temperature=0.5 + h) - sg.logsumexp(a, temperature=0.5 - h)) / (2 * h)
    print(f"   finite diff = {fd:.6f}")

    print("\n4. softmax cross-entropy: loss and gradient in one fused pass (vs NumPy by hand)")
    logits = rng.normal(size=(200_000, 10))
    labels = rng.integers(0, 10, size=200_000)

    def numpy_ce() -> tuple[float, Any]:
        z = logits - logits.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        p = np.exp(z - lse[:, None])
        p[np.arange(len(labels)), labels] -= 1.0
        return float(np.mean(lse - z[np.arange(len(labels)), labels])), p / len(labels)

    def softgrad_ce() -> tuple[float, Any]:
        loss, pullback = sg.vjp(sg.softmax_cross_entropy, logits, labels)
        return float(loss), pullback(1.0).logits

    (l_np, g_np), (l_sg, g_sg) = numpy_ce(), softgrad_ce()
    print(f"   loss {l_sg:.12f} (NumPy {l_np:.12f}), max |grad difference| {np.max(np.abs(g_sg - g_np)):.1e}")
    r, o = _best_ms(numpy_ce), _best_ms(softgrad_ce)
    print(f"   (200000, 10) value + gradient: NumPy {r:.1f} ms, softgrad {o:.2f} ms, {r / o:.1f}x")

    print("\n5. soft ranks: differentiable, and the ordinary ranks as the strength falls")
    v = np.array([3.0, 1.0, 2.0, 2.0])
    for strength in (1.0, 0.1, 0.001):
        ranks = np.array2string(sg.soft_rank(v, strength=strength), precision=4)
        print(f"   strength {strength:<6} soft_rank = {ranks}")
    print("   scipy.stats.rankdata      = [4.  1.  2.5 2.5]")

    print("\n6. gradients of a black box by finite differences (Rosenbrock, n = 5)")

    def rosen(x: Any) -> float:
        return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))

    def rosen_grad(x: Any) -> Any:
        g = np.zeros_like(x)
        g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        g[1:] += 200 * (x[1:] - x[:-1] ** 2)
        return g

    x0 = np.array([-1.2, 1.0, 0.5, 0.3, 2.0])
    exact = rosen_grad(x0)
    for method, order in (("forward", 1), ("central", 2), ("central", 8), ("richardson", 2)):
        est = sg.gradient(rosen, x0, method=method, order=order, full_output=True)
        err = np.max(np.abs(est.grad - exact)) / np.max(np.abs(exact))
        print(f"   {method:<10} order {order}: {est.nfev:3d} evaluations, relative error {err:.1e}")

    print("\n7. sparse Jacobians by colouring: a tridiagonal Jacobian, n = 10000")
    n = 10_000
    pattern = sparse_tridiagonal(n)
    if pattern is not None:
        est = sg.jacobian(
            lambda z: z**3 + np.roll(z, 1) * np.roll(z, -1),
            rng.normal(size=n),
            sparsity=pattern,
            full_output=True,
        )
        print(
            f"   {est.nfev} evaluations of f ({int(est.colours.max()) + 1} colours) for {est.jac.nnz} entries"
        )
    else:
        print("   scipy is not installed: pip install scipy to see it")

    print("\n8. zeroth-order: MeZO-style in-place SPSA (x perturbed in place, never copied)")
    w = rng.normal(size=200).astype(np.float32)

    def loss(v: Any) -> float:
        return float(np.mean((v - 0.5) ** 2, dtype=np.float64))

    start = loss(w)
    for step in range(400):
        proj, seeds = sg.spsa_inplace(loss, w, eps=1e-3, seed=step)
        sg.apply_seeded_update(w, seeds[0], -0.5 * float(proj[0]))
    print(f"   quadratic, n = 200: loss {start:.4f} -> {loss(w):.4f} after 400 steps of 2 evaluations each")

    print("\n9. tropical algebra: all shortest paths by min-plus powers, soft-DTW between series")
    inf = np.inf
    graph = np.array([[0, 4, inf, 1], [inf, 0, 1, inf], [inf, inf, 0, inf], [inf, 2, 5, 0]])
    print(f"   shortest paths from node 0: {sg.tropical_power(graph, 3, semiring='minplus')[0]}")
    phase = np.linspace(0, 2 * np.pi, 64)
    a, b = np.sin(phase), np.sin(phase + 0.5)
    _, pullback = sg.vjp(sg.soft_dtw_divergence, a, b, gamma=0.1)
    print(
        f"   soft-DTW divergence(sin t, sin(t + 0.5)) = {sg.soft_dtw_divergence(a, b, gamma=0.1):.5f}"
        f" (0 for identical series: {sg.soft_dtw_divergence(a, a, gamma=0.1):.1f}),"
        f" |d/dx| = {np.linalg.norm(pullback(1.0).x):.4f}"
    )

    print("\n10. sparse second order: IC(0)- and Jacobi-preconditioned CG, 2-D Poisson 300 x 300")
    poisson = sparse_poisson(300)
    if poisson is not None:
        rhs = np.ones(poisson.shape[0])
        for name, make in (("Jacobi", sg.precond.jacobi), ("IC(0)", sg.precond.ic0)):
            t0 = time.perf_counter()
            res = sg.linalg.cg(poisson, rhs, M=make(poisson), rtol=1e-8)
            ms = 1e3 * (time.perf_counter() - t0)
            print(
                f"   {name:<7} {res.nit:4d} iterations, {ms:6.1f} ms (setup + solve), converged {res.success}"
            )
    else:
        print("   scipy is not installed: pip install scipy to see it")

    print("\n11. speed against scipy.special (best of 5, this machine)")
    try:
        import scipy.special as ss  # type: ignore[import-untyped]
    except ImportError:
        print("   scipy is not installed: pip install scipy to see the comparison")
        return
    big = rng.normal(size=10_000_000)
    mat = rng.normal(size=(10_000, 1000))
    cases = [
        ("logsumexp, 1e7 float64", lambda: ss.logsumexp(big), lambda: sg.logsumexp(big)),
        (
            "logsumexp, (10000, 1000), axis=1",
            lambda: ss.logsumexp(mat, axis=1),
            lambda: sg.logsumexp(mat, axis=1),
        ),
        ("softmax, (10000, 1000), axis=1", lambda: ss.softmax(mat, axis=1), lambda: sg.softmax(mat, axis=1)),
    ]
    for name, ref, ours in cases:
        r, o = _best_ms(ref), _best_ms(ours)
        print(f"   {name:<36} scipy {r:7.1f} ms   softgrad {o:6.2f} ms   {r / o:5.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softgrad", description=__doc__)
    parser.add_argument("command", choices=["demo"], help="what to run")
    parser.parse_args(argv)
    demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
