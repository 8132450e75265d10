"""The bindings of softgrad._core.linalg, called directly: every binding is listed here (the CSR
arguments do not fit the float-only ``Case`` table of test_robustness.py), and each accepts
read-only and unaligned arrays with the same result, refuses wrong dtypes with a TypeError naming
the function and the argument, and checks its thread count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from softgrad._core import linalg as K
from test_precond import spd
from test_robustness import read_only, unaligned

A = spd(50, 0.15, 1)
IP, IX, D, N = A.indptr, A.indices, A.data, A.shape[0]
B = np.random.default_rng(2).standard_normal(N)
P = K.ic0(IP, IX, D, N, 0.0, "raise", True)


def _solve(**kw: Any) -> Any:
    r = kw.pop("r")
    return P.solve(r, **kw)


# binding -> (call, the array arguments, the name its errors carry)
CALLS: dict[str, tuple[Callable[..., Any], dict[str, Any], str]] = {
    "jacobi": (lambda **k: K.jacobi(k["indptr"], k["indices"], k["data"], N).solve(B), {}, "jacobi"),
    "block_jacobi": (
        lambda **k: K.block_jacobi(k["indptr"], k["indices"], k["data"], N, 4).solve(B),
        {},
        "block_jacobi",
    ),
    "ssor": (lambda **k: K.ssor(k["indptr"], k["indices"], k["data"], N, 1.2, True).solve(B), {}, "ssor"),
    "ic0": (
        lambda **k: K.ic0(k["indptr"], k["indices"], k["data"], N, 0.0, "raise", True).solve(B),
        {},
        "ic0",
    ),
    "ilu0": (lambda **k: K.ilu0(k["indptr"], k["indices"], k["data"], N).solve(B), {}, "ilu0"),
    "cg": (
        lambda **k: K.cg(
            k["indptr"], k["indices"], k["data"], N, k.get("b", B), M=P, rtol=1e-10, maxiter=500
        )[0],
        {"b": B},
        "cg",
    ),
    "cg_op": (
        lambda **k: K.cg_op(lambda v: A @ v, N, k["b"], M=P, rtol=1e-10, maxiter=500)[0],
        {"b": B},
        "cg",
    ),
}
CSR = {"indptr": IP, "indices": IX, "data": D}


def args(name: str) -> dict[str, Any]:
    extra = CALLS[name][1]
    base = {} if name == "cg_op" else dict(CSR)
    return {k: v.copy() for k, v in {**base, **extra}.items()}


def test_every_binding_is_listed() -> None:
    bound = {n for n in dir(K) if not n.startswith("_") and callable(getattr(K, n))} - {"Preconditioner"}
    assert bound == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_read_only_and_unaligned_arrays_give_the_same_result(name: str) -> None:
    call = CALLS[name][0]
    want = call(**args(name))
    for make in (read_only, unaligned):
        kw = {k: make(v) for k, v in args(name).items()}
        before = {k: v.copy() for k, v in kw.items()}
        np.testing.assert_array_equal(call(**kw), want)
        for k, v in kw.items():
            np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("name", sorted(CALLS))
def test_wrong_dtypes_name_function_and_argument(name: str) -> None:
    call, _, func = CALLS[name]
    for arg, v in args(name).items():
        bad = [np.float16, np.int64] if arg in ("data", "b") else [np.float64, np.int16]
        for dt in bad:
            kw = args(name)
            kw[arg] = v.astype(dt)
            if arg in ("indptr", "indices"):
                if dt == np.int64:
                    continue
                with pytest.raises(
                    TypeError, match=rf"^{func}: indptr and indices must both be int32 or both int64"
                ):
                    call(**kw)
            else:
                with pytest.raises(
                    TypeError, match=rf"^{func}: {arg} must be a (float32 or )?float64 ndarray"
                ):
                    call(**kw)
    if "indptr" in args(name):
        kw = args(name)
        kw["indptr"] = kw["indptr"].astype(np.int64)  # mixed index dtypes
        with pytest.raises(TypeError, match=rf"^{func}: indptr and indices must both be"):
            call(**kw)


def test_csr_structure_errors_are_value_errors() -> None:
    bad_ptr = IP.copy()
    bad_ptr[3], bad_ptr[4] = bad_ptr[4], bad_ptr[3]
    with pytest.raises(ValueError, match=r"^jacobi: A has an invalid indptr"):
        K.jacobi(bad_ptr, IX, D, N)
    with pytest.raises(ValueError, match=r"^ic0: indptr has length 51, expected 52"):
        K.ic0(IP, IX, D, N + 1, 0.0, "raise", True)
    oob = IX.copy()
    oob[-1] = N
    with pytest.raises(ValueError, match=r"^ilu0: A has column index 50 in row 49, outside 0..50"):
        K.ilu0(IP, oob, D, N)


def test_thread_counts_are_checked() -> None:
    with pytest.raises(TypeError, match=r"^Preconditioner.solve: n_threads must be an int, got True"):
        P.solve(B, True)
    with pytest.raises(ValueError, match=r"^cg: n_threads must be in 1\.\.="):
        K.cg(IP, IX, D, N, B, n_threads=10**9)
    want = P.solve(B, 1)
    for t in (2, 3):
        np.testing.assert_array_equal(P.solve(B, t), want)


def test_solve_out_argument() -> None:
    out = np.empty(N)
    assert P.solve(B, None, out) is out
    np.testing.assert_array_equal(out, P.solve(B))
    with pytest.raises(ValueError, match=r"^Preconditioner.solve: out is read-only"):
        P.solve(B, None, read_only(out))
    assert isinstance(sp.csr_array(A), sp.csr_array)
