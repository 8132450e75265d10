"""softgrad.precond: Jacobi, block Jacobi, SSOR, IC(0), ILU(0) against dense references, in scipy's
solvers, on every input layout, and against hostile input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

import softgrad
from softgrad import precond


def poisson(m: int, eps: float = 1.0, fmt: str = "csr") -> Any:
    """The 5-point Laplacian on an m x m grid, y-couplings weighted by eps."""
    t = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    i = sp.identity(m)
    return (sp.kron(i, t) + eps * sp.kron(t, i)).asformat(fmt)


def spd(n: int, density: float, seed: int) -> Any:
    """A random sparse SPD matrix (diagonally dominant, so IC(0) exists)."""
    rng = np.random.default_rng(seed)
    r = sp.random_array((n, n), density=density, rng=rng, format="csr")
    s = (r + r.T) * 0.5
    d = np.asarray(abs(s).sum(axis=1)).ravel() + 1.0
    return (s + sp.diags_array(d)).tocsr()


def dense_ssor(a: Any, w: float) -> Any:
    d = np.diag(np.diag(a))
    lo, up = np.tril(a, -1), np.triu(a, 1)
    return (d + w * lo) @ np.linalg.inv(d) @ (d + w * up) / (w * (2 - w))


def factors(P: precond.Preconditioner, A: Any) -> tuple[Any, Any]:
    """The incomplete factors as dense matrices, from their values on A's pattern."""
    c = A.tocsr()
    c.sort_indices()
    v = P.factor_values()
    assert v is not None
    f = sp.csr_array((v, c.indices, c.indptr), shape=c.shape).toarray()
    return np.tril(f), np.triu(f)


RNG = np.random.default_rng(3)


def test_jacobi_is_the_inverse_diagonal() -> None:
    A = poisson(7, 0.3)
    r = RNG.standard_normal(49)
    np.testing.assert_allclose(precond.jacobi(A) @ r, r / A.diagonal(), rtol=1e-15)


def test_block_jacobi_inverts_the_diagonal_blocks() -> None:
    A = spd(37, 0.2, 1)
    for bs in (1, 5, 8, 37, 100):
        P = precond.block_jacobi(A, bs)
        a = A.toarray()
        want = np.zeros_like(a)
        for s in range(0, 37, bs):
            e = min(s + bs, 37)
            want[s:e, s:e] = np.linalg.inv(a[s:e, s:e])
        r = RNG.standard_normal(37)
        np.testing.assert_allclose(P @ r, want @ r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("w", [0.5, 1.0, 1.7])
def test_ssor_matches_its_dense_formula(w: float) -> None:
    A = spd(30, 0.15, 2)
    r = RNG.standard_normal(30)
    want = np.linalg.solve(dense_ssor(A.toarray(), w), r)
    np.testing.assert_allclose(precond.ssor(A, w) @ r, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "A", [poisson(6, 0.2), spd(40, 0.1, 4), spd(25, 0.3, 5)], ids=["poisson", "spd1", "spd2"]
)
def test_ic0_factor_reproduces_a_on_its_pattern(A: Any) -> None:
    P = precond.ic0(A)
    lo, up = factors(P, A)
    np.testing.assert_array_equal(up, lo.T)  # the upper part is L transposed, exactly
    prod = lo @ lo.T
    mask = A.toarray() != 0
    np.testing.assert_allclose(prod[mask], A.toarray()[mask], rtol=1e-12, atol=1e-12)
    r = RNG.standard_normal(A.shape[0])
    np.testing.assert_allclose(P @ r, np.linalg.solve(prod, r), rtol=1e-9, atol=1e-12)


def test_ilu0_factors_reproduce_a_on_its_pattern() -> None:
    A = spd(40, 0.1, 6).tolil()
    A[3, 7] = 0.4  # not symmetric
    A = A.tocsr()
    P = precond.ilu0(A)
    lo, up = factors(P, A)
    lo = lo - np.diag(np.diag(lo)) + np.eye(40)
    prod = lo @ up
    mask = A.toarray() != 0
    np.testing.assert_allclose(prod[mask], A.toarray()[mask], rtol=1e-12, atol=1e-12)
    r = RNG.standard_normal(40)
    np.testing.assert_allclose(P @ r, np.linalg.solve(prod, r), rtol=1e-9, atol=1e-12)


def test_tridiagonal_ic0_is_exact_cholesky() -> None:
    A = poisson(1, 0.0) if False else sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(20, 20), format="csr")
    lo, _ = factors(precond.ic0(A), A)
    np.testing.assert_allclose(lo, np.linalg.cholesky(A.toarray()), rtol=1e-13, atol=1e-14)


def test_ic0_breakdown_raises_naming_the_row_or_shifts() -> None:
    A = sp.csr_array(np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    with pytest.raises(softgrad.SoftgradError, match=r"ic0: breakdown at row 1"):
        precond.ic0(A)
    P = precond.ic0(A, on_breakdown="shift")
    assert P.shift >= 1.0
    assert "shift=" in repr(P)
    # An SPD matrix that is not an H-matrix: IC(0) on its pattern may break down; the shift works.
    rng = np.random.default_rng(0)
    x = sp.random_array((60, 30), density=0.2, rng=rng, format="csr")
    H = (x.T @ x + 1e-3 * sp.identity(30)).tocsr()
    P = precond.ic0(H, on_breakdown="shift")
    assert np.isfinite(P @ np.ones(30)).all()


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil", "bsr", "dia"])
@pytest.mark.parametrize("cls", ["array", "matrix"])
def test_every_layout_gives_the_same_preconditioner(fmt: str, cls: str) -> None:
    A = spd(33, 0.2, 7)
    B = (sp.csr_array(A) if cls == "array" else sp.csr_matrix(A)).asformat(fmt)
    r = RNG.standard_normal(33)
    for f in (precond.jacobi, precond.ic0, precond.ilu0, lambda M: precond.ssor(M, 1.2)):
        np.testing.assert_array_equal(f(B) @ r, f(A) @ r)


def test_hostile_index_layouts() -> None:
    A = spd(30, 0.2, 8)
    r = RNG.standard_normal(30)
    want = precond.ic0(A) @ r
    # int64 indices
    B = A.copy()
    B.indptr, B.indices = B.indptr.astype(np.int64), B.indices.astype(np.int64)
    np.testing.assert_array_equal(precond.ic0(B) @ r, want)
    # unsorted indices and duplicates (summed), on a copy: the caller's arrays stay as they were
    coo = A.tocoo()
    half = coo.data / 2
    C = sp.csr_array(
        (np.r_[half, half][::-1], (np.r_[coo.row, coo.row][::-1], np.r_[coo.col, coo.col][::-1])),
        shape=A.shape,
    )
    C = sp.csr_array((C.data, C.indices, C.indptr), shape=A.shape)  # unsummed, unsorted
    before = (C.data.copy(), C.indices.copy())
    np.testing.assert_allclose(precond.ic0(C) @ r, want, rtol=1e-12)
    np.testing.assert_array_equal(C.data, before[0])
    np.testing.assert_array_equal(C.indices, before[1])
    # read-only arrays
    D = A.copy()
    for a in (D.data, D.indices, D.indptr):
        a.flags.writeable = False
    np.testing.assert_array_equal(precond.ic0(D) @ r, want)
    # float32 values
    F = A.astype(np.float32)
    np.testing.assert_allclose(precond.ic0(F) @ r, precond.ic0(F.astype(np.float64)) @ r, rtol=1e-12)


def test_empty_rows_1x1_and_int_values() -> None:
    P = precond.jacobi(sp.csr_array(np.array([[4.0]])))
    assert P.shape == (1, 1) and P.dtype == np.float64
    np.testing.assert_array_equal(P @ np.array([2.0]), [0.5])
    np.testing.assert_array_equal(precond.ic0(sp.csr_array(np.array([[4]]))) @ [4.0], [1.0])
    A = sp.csr_array(np.array([[2.0, 0.0], [0.0, 0.0]]))  # an empty row: no diagonal
    with pytest.raises(ValueError, match=r"jacobi: A must have a positive diagonal, got A\[1, 1\] = 0"):
        precond.jacobi(A)
    with pytest.raises(ValueError, match=r"ic0: A has a zero diagonal entry at row 1"):
        precond.ic0(A)
    with pytest.raises(ValueError, match=r"ilu0: A has a zero diagonal entry at row 1"):
        precond.ilu0(A)


def test_bad_input_is_a_value_or_type_error_naming_the_problem() -> None:
    A = poisson(4)
    with pytest.raises(ValueError, match=r"jacobi: A must be square"):
        precond.jacobi(sp.csr_array(np.ones((2, 3))))
    with pytest.raises(TypeError, match=r"ic0: A must be a scipy.sparse"):
        precond.ic0(np.eye(3))
    nan = A.copy()
    nan.data[5] = np.nan
    with pytest.raises(ValueError, match=r"ssor: A has a non-finite value"):
        precond.ssor(nan)
    neg = A.copy()
    neg.setdiag(-1.0)
    with pytest.raises(ValueError, match=r"ic0: A must have a positive diagonal, got A\[0, 0\] = -1"):
        precond.ic0(neg)
    with pytest.raises(ValueError, match=r"jacobi: A must have a positive diagonal"):
        precond.jacobi(neg)
    ns = A.tolil()
    ns[0, 1] = -0.5
    with pytest.raises(ValueError, match=r"ic0: A must be symmetric: A\[0, 1\] = -0.5 but A\[1, 0\] = -1"):
        precond.ic0(ns.tocsr())
    with pytest.raises(ValueError, match=r"ssor: A must be symmetric"):
        precond.ssor(ns.tocsc())
    precond.ic0(ns.tocsr(), check=False)  # assumed: the lower triangle is used
    with pytest.raises(ValueError, match=r"ssor: omega must be in \(0, 2\)"):
        precond.ssor(A, 2.0)
    with pytest.raises(ValueError, match=r"block_jacobi: block_size must be in"):
        precond.block_jacobi(A, 0)
    with pytest.raises(TypeError, match=r"block_jacobi: block_size must be an int"):
        precond.block_jacobi(A, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ic0: on_breakdown must be"):
        precond.ic0(A, on_breakdown="ignore")
    with pytest.raises(ValueError, match=r"ic0: shift must be >= 0"):
        precond.ic0(A, shift=-1.0)
    with pytest.raises(TypeError, match=r"ic0: A must have a float32 or float64 dtype"):
        precond.ic0(A.astype(np.complex128))
    with pytest.raises(ValueError, match=r"block_jacobi: A has a singular diagonal block at rows 0..2"):
        precond.block_jacobi(sp.csr_array(np.array([[1.0, 1.0], [1.0, 1.0]])), 2)
    P = precond.jacobi(A)
    with pytest.raises(ValueError, match=r"Preconditioner.solve: r must have shape \(16,\)"):
        P.solve(np.ones(3))
    with pytest.raises(TypeError, match=r"Preconditioner.solve: r must be real"):
        P.solve(np.ones(16, complex))


def test_as_linear_operator_inside_scipy_cg_and_gmres() -> None:
    A = poisson(20, 0.1)
    b = np.random.default_rng(1).standard_normal(400)
    counts = {}
    for name, M in [
        ("none", None),
        ("jacobi", precond.jacobi(A)),
        ("ssor", precond.ssor(A, 1.5)),
        ("ic0", precond.ic0(A)),
    ]:
        it = [0]
        x, info = spla.cg(
            A,
            b,
            rtol=1e-10,
            M=None if M is None else M.as_linear_operator(),
            callback=lambda _, it=it: it.__setitem__(0, it[0] + 1),
        )
        assert info == 0
        np.testing.assert_allclose(A @ x, b, atol=1e-7)
        counts[name] = it[0]
    assert counts["ic0"] < counts["ssor"] < counts["none"]
    N = A.tolil()
    N[0, 5] = 0.3  # non-symmetric: ILU(0) in GMRES
    N = N.tocsr()
    P = precond.ilu0(N).as_linear_operator()
    x, info = spla.gmres(N, b, M=P, rtol=1e-10, restart=50)
    assert info == 0
    np.testing.assert_allclose(N @ x, b, atol=1e-7)
    np.testing.assert_allclose(P.matmat(np.c_[b, 2 * b])[:, 1], 2 * (P @ b))


def test_thread_counts_give_identical_results() -> None:
    A = poisson(300, 0.5)  # 90 000 rows: the products run in pieces
    r = RNG.standard_normal(A.shape[0])
    for f in (precond.jacobi, precond.ic0, precond.ilu0, precond.ssor, lambda M: precond.block_jacobi(M, 7)):
        P = f(A)
        one = P.solve(r, n_threads=1)
        for t in (2, 3):
            np.testing.assert_array_equal(P.solve(r, n_threads=t), one)


def test_concurrent_solves_from_two_threads() -> None:
    import threading

    A = poisson(100)
    P = precond.ic0(A)
    r = RNG.standard_normal(A.shape[0])
    want = P @ r
    got: list[Any] = []
    ts = [threading.Thread(target=lambda: got.append(P @ r)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(got) == 4
    for g in got:
        np.testing.assert_array_equal(g, want)


@settings(max_examples=20)
@given(n=st.integers(1, 40), density=st.floats(0.0, 0.4), seed=st.integers(0, 2**31 - 1))
def test_random_spd_ic0_and_ilu0_match_on_their_pattern(n: int, density: float, seed: int) -> None:
    A = spd(n, density, seed)
    a = A.toarray()
    mask = a != 0
    lo, _ = factors(precond.ic0(A), A)
    np.testing.assert_allclose((lo @ lo.T)[mask], a[mask], rtol=1e-10, atol=1e-10)
    lo, up = factors(precond.ilu0(A), A)
    lo = lo - np.diag(np.diag(lo)) + np.eye(n)
    np.testing.assert_allclose((lo @ up)[mask], a[mask], rtol=1e-10, atol=1e-10)
