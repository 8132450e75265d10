# Stub of softgrad._core.lanczos (rust/softgrad-py/src/linalg/lanczos.rs): extreme eigenpairs.
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["lanczos"]

def lanczos(
    matvec: Callable[[NDArray[np.float64]], Any],
    n: int,
    k: int,
    which: str,
    maxiter: int | None,
    tol: float,
    seed: int,
    n_threads: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], int, int, bool]: ...
