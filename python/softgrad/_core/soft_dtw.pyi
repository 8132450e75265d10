# softgrad._core.soft_dtw: bindings of soft-DTW (rust/softgrad-py/src/relax/soft_dtw.rs).
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Residuals", "forward", "vjp"]

@final
class Residuals: ...

def forward(
    x: NDArray[np.floating[Any]],
    y: NDArray[np.floating[Any]],
    n: NDArray[np.int64],
    m: NDArray[np.int64],
    d: int,
    gamma: float,
    n_threads: int | None = None,
    keep: bool = False,
) -> tuple[NDArray[Any], Residuals | None]: ...
def vjp(
    res: Residuals,
    g: NDArray[np.floating[Any]],
    n_threads: int | None = None,
    alignment: bool = False,
) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.float64] | None]: ...
