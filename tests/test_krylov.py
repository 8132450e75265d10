"""softgrad.linalg.lanczos (and the operator handling shared by the Krylov functions): eigenpairs
against numpy.linalg.eigh on dense symmetric matrices and the known spectrum of scipy.sparse Poisson
matrices, multiple eigenvalues, thread independence, hostile operators."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from numpy.typing import NDArray

import softgrad
from softgrad.linalg import lanczos


def poisson(nx: int, ny: int) -> sp.csr_matrix:
    tx = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(nx, nx))
    ty = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(ny, ny))
    return sp.csr_matrix(sp.kron(sp.eye(ny), tx) + sp.kron(ty, sp.eye(nx)))


def poisson_spectrum(nx: int, ny: int) -> NDArray[np.float64]:
    i = np.arange(1, nx + 1)[:, None]
    j = np.arange(1, ny + 1)[None, :]
    lam = 4 - 2 * np.cos(i * np.pi / (nx + 1)) - 2 * np.cos(j * np.pi / (ny + 1))
    return np.sort(lam.ravel())


def random_symmetric(n: int, seed: int) -> NDArray[np.float64]:
    a = np.random.default_rng(seed).standard_normal((n, n))
    return (a + a.T) / 2


def check_pairs(a: Any, r: softgrad.linalg.LanczosResult, tol: float) -> None:
    x = r.eigenvectors
    assert x is not None
    res = np.linalg.norm(a @ x - x * r.eigenvalues, axis=0)
    np.testing.assert_allclose(res, r.residual_norms, atol=tol)
    assert np.all(res <= tol)
    np.testing.assert_allclose(x.T @ x, np.eye(x.shape[1]), atol=1e-8)


@pytest.mark.parametrize("which", ["largest", "smallest", "both"])
@pytest.mark.parametrize("n", [5, 40, 150])
def test_dense_symmetric_matrices_match_eigh(which: str, n: int) -> None:
    a = random_symmetric(n, n)
    w = np.linalg.eigvalsh(a)
    k = min(4, n)
    want = {"largest": w[n - k :], "smallest": w[:k], "both": np.r_[w[: k // 2], w[n - (k - k // 2) :]]}
    r = lanczos(a, None, k, which=which, tol=1e-10)
    assert r.success
    np.testing.assert_allclose(r.eigenvalues, np.sort(want[which]), atol=1e-8 * np.abs(w).max())
    check_pairs(a, r, 1e-7 * np.abs(w).max())


def test_poisson_matrices_with_double_eigenvalues_match_the_known_spectrum() -> None:
    a = poisson(24, 24)  # λ_ij = λ_ji: many double eigenvalues
    lam = poisson_spectrum(24, 24)
    r = lanczos(a, None, 6, which="largest", tol=1e-10)
    assert r.success and r.runs >= 2
    np.testing.assert_allclose(r.eigenvalues, lam[-6:], atol=1e-9)
    check_pairs(a, r, 1e-8)
    r = lanczos(a, None, 5, which="smallest", tol=1e-10)
    np.testing.assert_allclose(r.eigenvalues, lam[:5], atol=1e-9)


def test_every_kind_of_operator_gives_the_same_answer() -> None:
    a = poisson(9, 7)
    dense = a.toarray()
    ops: list[tuple[Any, int | None]] = [
        (a, None),
        (sp.csr_array(a), None),
        (sp.coo_matrix(a), 63),
        (dense, None),
        (spl.aslinearoperator(a), None),
        (lambda x: dense @ x, 63),
        (lambda x: (dense @ x)[:, None], 63),  # a column is accepted
        (dense.astype(np.float32), None),
    ]
    want = np.linalg.eigvalsh(dense)[-3:]
    for op, n in ops:
        r = lanczos(op, n, 3, which="largest", tol=1e-10)
        np.testing.assert_allclose(r.eigenvalues, want, atol=1e-5 if n is None and op is ops[-1][0] else 1e-9)


def test_threads_and_seeds() -> None:
    a = poisson(300, 120)  # n past the parallel threshold
    one = lanczos(a, None, 2, which="both", maxiter=60, n_threads=1)
    for t in (2, 3):
        r = lanczos(a, None, 2, which="both", maxiter=60, n_threads=t)
        np.testing.assert_array_equal(r.eigenvalues, one.eigenvalues)
        assert r.eigenvectors is not None and one.eigenvectors is not None
        np.testing.assert_array_equal(r.eigenvectors, one.eigenvectors)
    other = lanczos(a, None, 2, which="both", maxiter=60, seed=1)
    assert not np.array_equal(other.eigenvectors, one.eigenvectors)
    assert not one.success  # 60 products are not enough here: reported, not hidden


def test_without_eigenvectors_and_with_k_equal_n() -> None:
    a = random_symmetric(6, 1)
    r = lanczos(a, None, 6, which="largest", return_eigenvectors=False)
    assert r.eigenvectors is None
    np.testing.assert_allclose(r.eigenvalues, np.linalg.eigvalsh(a), atol=1e-10)
    r = lanczos(np.eye(5), None, 3)
    np.testing.assert_allclose(r.eigenvalues, 1.0)


class Boom(Exception):
    pass


def test_hostile_operators() -> None:
    a = random_symmetric(10, 2)
    with pytest.raises(ValueError, match=r"^lanczos: matvec returned an array of shape \(3,\), expected"):
        lanczos(lambda x: x[:3], 10, 2)
    with pytest.raises(softgrad.SoftgradError, match=r"^lanczos: matvec returned a non-finite value"):
        lanczos(lambda x: x * np.nan, 10, 2)

    def boom(x: Any) -> Any:
        raise Boom("mine")

    with pytest.raises(Boom, match="mine"):
        lanczos(boom, 10, 2)
    calls = []

    def late(x: Any) -> Any:
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return a @ x

    with pytest.raises(KeyboardInterrupt):
        lanczos(late, 10, 2)
    with pytest.raises(ValueError, match=r"could not convert string to float"):  # NumPy's own error
        lanczos(lambda x: "abc", 10, 2)
    with pytest.raises(TypeError, match=r"^lanczos: n is required"):
        lanczos(lambda x: x, None, 2)
    with pytest.raises(TypeError, match=r"^lanczos: matvec must be a function"):
        lanczos(3.0, 10, 2)
    with pytest.raises(ValueError, match=r"^lanczos: matvec must be square"):
        lanczos(np.ones((3, 4)), None, 2)
    with pytest.raises(ValueError, match=r"^lanczos: n = 9 does not match"):
        lanczos(a, 9, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(k=11), r"^lanczos: k must be in 1\.\.=n \(n = 10\), got 11"),
        (dict(k=0), r"^lanczos: k must be in 1\.\.=n"),
        (dict(k=-1), r"^lanczos: k must be >= 0"),
        (dict(which="BE"), r"^lanczos: which must be"),
        (dict(tol=-1.0), r"^lanczos: tol must be in \[0, 1\)"),
        (dict(tol=float("nan")), r"^lanczos: tol must be in"),
        (dict(maxiter=0), r"^lanczos: maxiter must be >= 1"),
        (dict(seed=-1), r"^lanczos: seed must be >= 0"),
        (dict(n_threads=0), r"^lanczos: n_threads must be >= 1"),
    ],
)
def test_bad_parameters_are_value_errors(kwargs: dict[str, Any], match: str) -> None:
    args = dict(k=2) | kwargs
    k = args.pop("k")
    with pytest.raises(ValueError, match=match):
        lanczos(np.eye(10), None, k, **args)


def test_caller_arrays_are_not_modified_and_two_threads_at_once() -> None:
    a = poisson(20, 20)
    a0 = a.copy()
    want = lanczos(a, None, 3, which="largest").eigenvalues
    got: list[NDArray[np.float64]] = []

    def work() -> None:
        got.append(lanczos(a, None, 3, which="largest").eigenvalues)

    ths = [threading.Thread(target=work) for _ in range(2)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(timeout=120)
    assert len(got) == 2
    for g in got:
        np.testing.assert_array_equal(g, want)
    assert (a != a0).nnz == 0
