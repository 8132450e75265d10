# Stub of softgrad._core.steihaug (rust/softgrad-py/src/linalg/steihaug.rs): truncated CG.
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["cg_steihaug"]

def cg_steihaug(
    matvec: Callable[[NDArray[np.float64]], Any],
    g: NDArray[np.float64],
    radius: float,
    m_inv: Callable[[NDArray[np.float64]], Any] | None,
    rtol: float,
    maxiter: int,
    n_threads: int | None = None,
) -> tuple[NDArray[np.float64], str, int, float, float, NDArray[np.float64] | None]: ...
