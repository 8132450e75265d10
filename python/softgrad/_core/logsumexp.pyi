# softgrad._core.logsumexp: bindings of the log-sum-exp family (rust/softgrad-py/src/relax/logsumexp.rs).
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "logsumexp",
    "logsumexp_vjp",
    "logsumexp_vjp_weights",
    "logsumexp_weights",
    "softmax",
    "softmax_vjp",
]

def logsumexp(
    a: NDArray[np.floating[Any]],
    b: NDArray[np.floating[Any]] | None,
    layout: tuple[int, int, int],
    temperature: float,
    return_sign: bool,
    n_threads: int | None = None,
    lse: NDArray[np.float64] | None = None,
) -> tuple[NDArray[Any], NDArray[Any] | None]: ...
def softmax(
    x: NDArray[np.floating[Any]],
    layout: tuple[int, int, int],
    temperature: float,
    log: bool,
    n_threads: int | None = None,
    out: NDArray[np.floating[Any]] | None = None,
    lse: NDArray[np.float64] | None = None,
) -> NDArray[Any]: ...
def softmax_vjp(
    out: NDArray[np.floating[Any]],
    g: NDArray[np.floating[Any]],
    layout: tuple[int, int, int],
    temperature: float,
    log: bool,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], float]: ...
def logsumexp_vjp(
    a: NDArray[np.floating[Any]],
    b: NDArray[np.floating[Any]] | None,
    lse: NDArray[np.float64],
    sign: NDArray[np.floating[Any]] | None,
    ct: NDArray[np.float64],
    layout: tuple[int, int, int],
    temperature: float,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], NDArray[Any] | None, float]: ...
def logsumexp_weights(
    a: NDArray[np.floating[Any]],
    layout: tuple[int, int, int],
    temperature: float,
    return_sign: bool,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], NDArray[Any] | None, NDArray[Any], NDArray[np.float64]]: ...
def logsumexp_vjp_weights(
    p: NDArray[np.floating[Any]],
    h: NDArray[np.float64],
    ct: NDArray[np.float64],
    layout: tuple[int, int, int],
    temperature: float,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], float]: ...
