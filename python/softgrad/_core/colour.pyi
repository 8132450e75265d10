# Stub of softgrad._core.colour (rust/softgrad-py/src/estimate/colour.rs): colourings of sparsity
# patterns given as CSR int64 arrays.
import numpy as np
from numpy.typing import NDArray

__all__ = ["column_colouring", "star_colouring"]

def column_colouring(
    indptr: NDArray[np.int64],
    indices: NDArray[np.int64],
    m: int,
    n: int,
    colouring: str = "auto",
    func: str = "jacobian",
) -> tuple[NDArray[np.int64], int, str]: ...
def star_colouring(
    indptr: NDArray[np.int64],
    indices: NDArray[np.int64],
    n: int,
    colouring: str = "auto",
    func: str = "hessian",
) -> tuple[NDArray[np.int64], int, str]: ...
