# Stub of softgrad._core.poly (rust/softgrad-py/src/linalg/poly.rs): polynomial preconditioners.
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["poly_apply", "poly_bounds"]

def poly_bounds(
    matvec: Callable[[NDArray[np.float64]], Any],
    n: int,
    inv_diag: NDArray[np.float64] | None,
    seed: int,
    n_threads: int | None = None,
) -> tuple[float, float]: ...
def poly_apply(
    matvec: Callable[[NDArray[np.float64]], Any],
    r: NDArray[np.float64],
    kind: str,
    degree: int,
    lo: float,
    hi: float,
    inv_diag: NDArray[np.float64] | None,
    n_threads: int | None = None,
) -> NDArray[np.float64]: ...
