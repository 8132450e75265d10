# Stub of softgrad._core.linalg (rust/softgrad-py/src/linalg/): preconditioners and CG on CSR arrays.
from collections.abc import Callable
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Preconditioner", "block_jacobi", "cg", "cg_op", "ic0", "ilu0", "jacobi", "ssor"]

_Vec = NDArray[np.float64]
_Outcome = tuple[_Vec, str, int, _Vec, int, int]

@final
class Preconditioner:
    @property
    def kind(self) -> str: ...
    @property
    def n(self) -> int: ...
    @property
    def nnz(self) -> int: ...
    @property
    def shift(self) -> float: ...
    def solve(self, r: _Vec, n_threads: int | None = None, out: _Vec | None = None) -> _Vec: ...
    def factor_values(self) -> _Vec | None: ...
    def levels(self) -> tuple[int, int]: ...

def jacobi(indptr: NDArray[Any], indices: NDArray[Any], data: NDArray[Any], n: int) -> Preconditioner: ...
def block_jacobi(
    indptr: NDArray[Any], indices: NDArray[Any], data: NDArray[Any], n: int, block_size: int
) -> Preconditioner: ...
def ssor(
    indptr: NDArray[Any], indices: NDArray[Any], data: NDArray[Any], n: int, omega: float, check: bool
) -> Preconditioner: ...
def ic0(
    indptr: NDArray[Any],
    indices: NDArray[Any],
    data: NDArray[Any],
    n: int,
    shift: float,
    on_breakdown: str,
    check: bool,
) -> Preconditioner: ...
def ilu0(indptr: NDArray[Any], indices: NDArray[Any], data: NDArray[Any], n: int) -> Preconditioner: ...
def cg(
    indptr: NDArray[Any],
    indices: NDArray[Any],
    data: NDArray[Any],
    n: int,
    b: _Vec,
    x0: _Vec | None = None,
    M: Preconditioner | Callable[[_Vec], _Vec] | None = None,
    rtol: float = 1e-05,
    atol: float = 0.0,
    maxiter: int = 0,
    callback: Callable[[_Vec], Any] | None = None,
    n_threads: int | None = None,
    check: bool = True,
) -> _Outcome: ...
def cg_op(
    matvec: Callable[[_Vec], _Vec],
    n: int,
    b: _Vec,
    x0: _Vec | None = None,
    M: Preconditioner | Callable[[_Vec], _Vec] | None = None,
    rtol: float = 1e-05,
    atol: float = 0.0,
    maxiter: int = 0,
    callback: Callable[[_Vec], Any] | None = None,
    n_threads: int | None = None,
) -> _Outcome: ...
