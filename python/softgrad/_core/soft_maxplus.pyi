# softgrad._core.soft_maxplus: bindings of the log-semiring matrix product
# (rust/softgrad-py/src/relax/soft_maxplus.rs).
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Residuals", "forward", "jvp", "vjp"]

@final
class Residuals: ...

def forward(
    a: NDArray[np.floating[Any]],
    b: NDArray[np.floating[Any]],
    a_index: NDArray[np.int64],
    b_index: NDArray[np.int64],
    m: int,
    k: int,
    n: int,
    temperature: float,
    min: bool,
    n_threads: int | None = None,
    keep: bool = False,
) -> tuple[NDArray[Any], Residuals | None]: ...
def vjp(
    res: Residuals,
    g: NDArray[np.floating[Any]],
    n_threads: int | None = None,
) -> tuple[NDArray[Any], NDArray[Any], float]: ...
def jvp(
    res: Residuals,
    da: NDArray[np.floating[Any]],
    db: NDArray[np.floating[Any]],
    dt: float,
    n_threads: int | None = None,
) -> NDArray[Any]: ...
