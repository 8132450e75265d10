# Stub of softgrad._core.hutchinson (rust/softgrad-py/src/linalg/hutchinson.rs): trace and diagonal.
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["hutchinson"]

def hutchinson(
    matvec: Callable[[NDArray[np.float64]], Any],
    matmat: Callable[[NDArray[np.float64]], Any] | None,
    n: int,
    n_samples: int,
    seed: int,
    distribution: str,
    batch: int,
    trace: bool,
    diagonal: bool,
    method: str,
    n_threads: int | None = None,
) -> tuple[float, float, NDArray[np.float64] | None, NDArray[np.float64] | None, int]: ...
