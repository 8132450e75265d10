"""softgrad.linalg.cg: solutions against spsolve, scipy's stopping rule, preconditioners cutting
iterations, callables, non-convergence reported, thread-count independence, hostile input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from softgrad import linalg, precond
from test_precond import poisson, spd

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("m", [None, "jacobi", "ssor", "ic0", "block"])
def test_pcg_matches_spsolve(m: str | None) -> None:
    A = poisson(30, 0.2)
    b = RNG.standard_normal(900)
    M = {
        None: None,
        "jacobi": precond.jacobi,
        "ssor": lambda a: precond.ssor(a, 1.4),
        "ic0": precond.ic0,
        "block": lambda a: precond.block_jacobi(a, 30),
    }[m]
    res = linalg.cg(A, b, M=None if M is None else M(A), rtol=1e-12)
    assert res.success and res.status == "converged", res.message
    np.testing.assert_allclose(res.x, spla.spsolve(A.tocsc(), b), rtol=1e-9, atol=1e-10)
    assert len(res.residuals) == res.nit + 1
    assert res.residuals[-1] <= res.tol == 1e-12 * np.linalg.norm(b)
    assert res.nmatvec == res.nit


def test_preconditioners_cut_iterations() -> None:
    A = poisson(40, 0.05)
    b = RNG.standard_normal(1600)
    nit = {
        k: linalg.cg(A, b, M=M, rtol=1e-8).nit
        for k, M in [
            ("none", None),
            ("jacobi", precond.jacobi(A)),
            ("ssor", precond.ssor(A, 1.5)),
            ("ic0", precond.ic0(A)),
        ]
    }
    assert nit["ic0"] < nit["ssor"] < nit["none"], nit
    assert nit["jacobi"] <= nit["none"], nit


@pytest.mark.parametrize("bump", [False, True])
def test_same_iterates_as_scipy(bump: bool) -> None:
    # Jacobi runs as CG on D^-1/2 A D^-1/2: a constant diagonal, or one varying by grid line.
    A = poisson(15, 0.5)
    if bump:
        A = (A + sp.diags_array(np.repeat(np.arange(15) % 3, 15).astype(float))).tocsr()
    b = RNG.standard_normal(225)
    mine: list[Any] = []
    res = linalg.cg(A, b, M=precond.jacobi(A), rtol=1e-6, callback=lambda x: mine.append(x.copy()))
    theirs: list[Any] = []
    x, info = spla.cg(
        A, b, M=sp.diags_array(1 / A.diagonal()), rtol=1e-6, callback=lambda x: theirs.append(x.copy())
    )
    assert info == 0
    assert res.nit == len(theirs) == len(mine)
    np.testing.assert_allclose(res.x, x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mine[3], theirs[3], rtol=1e-9, atol=1e-12)
    # The residuals reported are the unscaled system's, and the last one is the true one.
    assert res.residuals[-1] <= res.tol
    assert np.linalg.norm(b - A @ res.x) <= 1.01 * res.tol
    np.testing.assert_allclose(res.residuals[1], np.linalg.norm(b - A @ mine[0]), rtol=1e-9)


def test_linear_operator_callable_and_dense_a_and_m() -> None:
    A = poisson(12)
    b = RNG.standard_normal(144)
    want = linalg.cg(A, b, M=precond.ic0(A), rtol=1e-10)
    for a in (spla.aslinearoperator(A), A.toarray(), lambda v: A @ v):
        for M in (precond.ic0(A), precond.ic0(A).as_linear_operator(), precond.ic0(A).solve):
            res = linalg.cg(a, b, M=M, rtol=1e-10)
            assert res.success and res.nit == want.nit
            np.testing.assert_allclose(res.x, want.x, rtol=1e-12, atol=1e-14)


def test_x0_atol_and_zero_rhs() -> None:
    A = poisson(10)
    b = RNG.standard_normal(100)
    x = spla.spsolve(A.tocsc(), b)
    res = linalg.cg(A, b, x0=x, rtol=1e-8)
    assert res.success and res.nit == 0 and res.nmatvec == 1
    res = linalg.cg(A, b, atol=1e3, rtol=0.0)
    assert res.success and res.nit == 0 and res.tol == 1e3
    res = linalg.cg(A, np.zeros(100), x0=np.ones(100))
    assert res.success and res.nit == 0 and not res.x.any()


def test_non_convergence_is_reported() -> None:
    A = poisson(20)
    b = RNG.standard_normal(400)
    res = linalg.cg(A, b, rtol=1e-12, maxiter=5)
    assert not res.success and res.status == "maxiter" and res.nit == 5
    assert "did not converge" in res.message
    res = linalg.cg(-A, b, check=True)
    assert not res.success and res.status == "not_positive_definite"
    neg = precond.ssor(A)
    res = linalg.cg(A, b, M=lambda v: -(neg @ v))
    assert not res.success and res.status == "preconditioner_not_positive"
    res = linalg.cg(lambda v: v * np.inf, b)
    assert not res.success and res.status == "non_finite"


def test_thread_counts_give_identical_iterates() -> None:
    A = poisson(200, 0.3)  # 40 000 rows
    b = RNG.standard_normal(A.shape[0])
    for M in (None, precond.jacobi(A), precond.ic0(A)):
        one = linalg.cg(A, b, M=M, rtol=1e-8, n_threads=1)
        two = linalg.cg(A, b, M=M, rtol=1e-8, n_threads=2)
        np.testing.assert_array_equal(one.x, two.x)
        np.testing.assert_array_equal(one.residuals, two.residuals)


def test_float32_int64_and_read_only_inputs() -> None:
    A = poisson(16, 0.7)
    b = RNG.standard_normal(256)
    want = linalg.cg(A, b, rtol=1e-10)
    B = A.astype(np.float32)
    res = linalg.cg(B, b.astype(np.float32), rtol=1e-10)
    np.testing.assert_allclose(
        res.x, spla.spsolve(B.astype(np.float64).tocsc(), b.astype(np.float32)), rtol=1e-8
    )
    # The dtype rule: x is float64 for float32 A and b, and meets an rtol float32 cannot hold.
    assert res.x.dtype == np.float64 and res.success
    b32 = b.astype(np.float32).astype(np.float64)
    B64 = B.astype(np.float64)
    assert np.linalg.norm(b32 - B64 @ res.x) <= 1e-10 * np.linalg.norm(b32)
    assert np.linalg.norm(b32 - B64 @ res.x.astype(np.float32)) > 1e-9 * np.linalg.norm(b32)
    C = A.copy()
    C.indptr, C.indices = C.indptr.astype(np.int64), C.indices.astype(np.int64)
    for a in (C.data, C.indices, C.indptr):
        a.flags.writeable = False
    bro = b.copy()
    bro.flags.writeable = False
    np.testing.assert_array_equal(linalg.cg(C, bro, rtol=1e-10).x, want.x)
    np.testing.assert_array_equal(linalg.cg(A.tocsc(), b, rtol=1e-10).x, want.x)  # symmetric: read as CSR
    np.testing.assert_array_equal(linalg.cg(A.tocoo(), b[:, None], rtol=1e-10).x, want.x)


def test_callback_and_exceptions_from_python() -> None:
    A = poisson(10)
    b = RNG.standard_normal(100)
    seen: list[int] = []
    res = linalg.cg(A, b, callback=lambda x: seen.append(x.size))
    assert len(seen) == res.nit and seen[0] == 100

    def boom(_: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        linalg.cg(A, b, callback=boom)
    with pytest.raises(RuntimeError, match="boom"):
        linalg.cg(A, b, M=boom)
    with pytest.raises(ValueError, match=r"cg: M returned 3 values, expected 100"):
        linalg.cg(A, b, M=lambda v: v[:3])


def test_bad_input_names_the_problem() -> None:
    A = poisson(5)
    b = np.ones(25)
    with pytest.raises(ValueError, match=r"cg: A must be square"):
        linalg.cg(sp.csr_array(np.ones((2, 3))), np.ones(2))
    with pytest.raises(ValueError, match=r"cg: b has 24 elements, expected 25"):
        linalg.cg(A, np.ones(24))
    with pytest.raises(ValueError, match=r"cg: b has non-finite values"):
        linalg.cg(A, np.r_[np.nan, np.ones(24)])
    with pytest.raises(ValueError, match=r"cg: x0 has 3 elements"):
        linalg.cg(A, b, x0=np.ones(3))
    nan = A.copy()
    nan.data[0] = np.inf
    with pytest.raises(ValueError, match=r"cg: A has a non-finite value"):
        linalg.cg(nan, b)
    ns = A.tolil()
    ns[0, 1] = 3.0
    with pytest.raises(ValueError, match=r"cg: A must be symmetric"):
        linalg.cg(ns.tocsr(), b)
    with pytest.raises(ValueError, match=r"cg: M has shape \(4, 4\)"):
        linalg.cg(A, b, M=precond.jacobi(poisson(2)))
    with pytest.raises(ValueError, match=r"cg: rtol and atol must be >= 0"):
        linalg.cg(A, b, rtol=-1.0)
    with pytest.raises(TypeError, match=r"cg: maxiter must be an int"):
        linalg.cg(A, b, maxiter=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"cg: A must be a scipy.sparse matrix"):
        linalg.cg("A", b)
    with pytest.raises(TypeError, match=r"cg: b must be real"):
        linalg.cg(A, b.astype(complex))


@settings(max_examples=15)
@given(n=st.integers(1, 60), density=st.floats(0.0, 0.3), seed=st.integers(0, 2**31 - 1))
def test_random_spd_systems(n: int, density: float, seed: int) -> None:
    A = spd(n, density, seed)
    b = np.random.default_rng(seed).standard_normal(n)
    want = np.linalg.solve(A.toarray(), b)
    for M in (None, precond.jacobi(A), precond.ic0(A), precond.ssor(A)):
        res = linalg.cg(A, b, M=M, rtol=1e-12)
        assert res.success, res.message
        np.testing.assert_allclose(res.x, want, rtol=1e-8, atol=1e-9)


def test_ctrl_c_stops_a_long_solve() -> None:
    from test_robustness import run_script

    r = run_script(
        """
import threading, time, _thread, numpy as np, scipy.sparse as sp
from softgrad import linalg, precond
t = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(300, 300))
A = (sp.kron(sp.identity(300), t) + sp.kron(t, sp.identity(300))).tocsr()
b = np.ones(A.shape[0])
threading.Timer(0.5, _thread.interrupt_main).start()
t0 = time.monotonic()
try:
    linalg.cg(A, b, M=precond.jacobi(A), rtol=0.0, maxiter=10**7)
    print("NOT INTERRUPTED")
except KeyboardInterrupt:
    print("INTERRUPTED", time.monotonic() - t0)
""",
        timeout=120,
    )
    assert "INTERRUPTED" in r.out and "NOT" not in r.out, r
    assert float(r.out.split("INTERRUPTED")[1].split()[0]) < 10.0, r
