# softgrad._core.maxplus: bindings of the tropical matrix products (rust/softgrad-py/src/relax/maxplus.rs).
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["matmul"]

def matmul(
    a: NDArray[Any],
    b: NDArray[Any],
    a_offsets: NDArray[np.int64],
    b_offsets: NDArray[np.int64],
    a_strides: tuple[int, int],
    b_strides: tuple[int, int],
    shape: tuple[int, int, int, int],
    semiring: str,
    argmax: bool = False,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], NDArray[np.int64] | None]: ...
