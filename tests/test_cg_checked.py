"""softgrad.linalg.cg after ic0() / ssor() checked A: cg checks A = Aᵀ again (check=True), so a
change made in place after the preconditioner, or another matrix, is caught; check=False and the
thread count do not change the solve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from softgrad import linalg, precond
from test_precond import poisson

MAKERS: dict[str, Callable[[Any], precond.Preconditioner]] = {
    "ic0": precond.ic0,
    "ssor": lambda a: precond.ssor(a, 1.3),
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_same_arrays_give_the_same_solve(kind: str) -> None:
    A = poisson(40, 0.3)  # 1600 rows: several fingerprint pieces
    b = np.random.default_rng(3).standard_normal(A.shape[0])
    M = MAKERS[kind](A)
    got = linalg.cg(A, b, M=M, rtol=1e-10)
    unchecked = linalg.cg(A, b, M=M, rtol=1e-10, check=False)
    assert got.success and got.nit == unchecked.nit
    np.testing.assert_array_equal(got.x, unchecked.x)
    for t in (1, 2, 3):
        np.testing.assert_array_equal(linalg.cg(A, b, M=M, rtol=1e-10, n_threads=t).x, got.x)


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_change_in_place_after_the_preconditioner_is_still_caught(kind: str, where: str) -> None:
    A = poisson(40, 0.3)
    b = np.ones(A.shape[0])
    M = MAKERS[kind](A)
    # One off-diagonal value changed in place: A's arrays are the same objects, no longer symmetric.
    off = np.flatnonzero(A.indices != np.repeat(np.arange(A.shape[0]), np.diff(A.indptr)))
    k = {"first": off[0], "middle": off[off.size // 2], "last": off[-1]}[where]
    A.data[k] *= 2.0
    with pytest.raises(ValueError, match=r"cg: A must be symmetric"):
        linalg.cg(A, b, M=M)
    A.data[k] /= 2.0  # restored exactly: checked and accepted again
    assert linalg.cg(A, b, M=M, rtol=1e-8).success


def test_another_matrix_is_checked() -> None:
    A = poisson(12)
    M = precond.ic0(A)
    ns = A.tolil()
    ns[0, 1] = 3.0
    with pytest.raises(ValueError, match=r"cg: A must be symmetric"):
        linalg.cg(ns.tocsr(), np.ones(144), M=M)
    # A preconditioner made with check=False records nothing: cg checks.
    U = A.copy()
    U.data[1] = 7.0
    with pytest.raises(ValueError, match=r"cg: A must be symmetric"):
        linalg.cg(U, np.ones(144), M=precond.ic0(U, check=False, on_breakdown="shift"))
