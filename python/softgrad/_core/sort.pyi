# softgrad._core.sort: bindings of soft sorting and ranking (rust/softgrad-py/src/relax/sort.rs).
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Residuals", "forward", "jvp", "vjp"]

@final
class Residuals: ...

def forward(
    x: NDArray[np.floating[Any]],
    layout: tuple[int, int, int],
    op: str,
    regularization: str,
    strength: float,
    descending: bool,
    n_threads: int | None = None,
    keep: bool = False,
    k: int = 0,
    lengths: NDArray[np.int64] | None = None,
) -> tuple[NDArray[Any], Residuals | None]: ...
def vjp(
    res: Residuals,
    g: NDArray[np.floating[Any]],
    n_threads: int | None = None,
) -> tuple[NDArray[Any], float]: ...
def jvp(
    res: Residuals,
    dx: NDArray[np.floating[Any]],
    dstrength: float,
    n_threads: int | None = None,
) -> NDArray[Any]: ...
