# softgrad._core.cross_entropy: the fused softmax cross-entropy (rust/softgrad-py/src/relax/cross_entropy.rs).
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["softmax_cross_entropy"]

def softmax_cross_entropy(
    logits: NDArray[np.floating[Any]],
    labels: NDArray[np.floating[Any]] | None,
    classes: NDArray[np.int64] | None,
    sample_weight: NDArray[np.floating[Any]] | None,
    layout: tuple[int, int, int],
    temperature: float,
    label_smoothing: float,
    grad_scale: float,
    grad: bool,
    losses: bool,
    n_threads: int | None = None,
) -> tuple[float, NDArray[np.float64] | None, NDArray[np.float64] | None, NDArray[Any] | None]: ...
