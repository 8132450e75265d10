# Hand-written stub of the Rust extension module softgrad._core (checked by mypy.stubtest in tests).
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "InternalError",
    "SoftgradError",
    "__version__",
    "get_num_threads",
    "logsumexp",
    "logsumexp_vjp",
    "set_num_threads",
    "simd_level",
    "softmax",
    "softmax_vjp",
]
__version__: str

class SoftgradError(Exception): ...
class InternalError(SoftgradError): ...

def set_num_threads(n: int | None = None) -> None: ...
def get_num_threads() -> int: ...
def simd_level() -> str: ...
def logsumexp(
    a: NDArray[np.floating[Any]],
    b: NDArray[np.floating[Any]] | None,
    outer: int,
    n: int,
    inner: int,
    temperature: float = 1.0,
    return_sign: bool = False,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], NDArray[Any] | None]: ...
def softmax(
    x: NDArray[np.floating[Any]],
    outer: int,
    n: int,
    inner: int,
    temperature: float = 1.0,
    log: bool = False,
    n_threads: int | None = None,
    out: NDArray[np.floating[Any]] | None = None,
) -> NDArray[Any]: ...
def softmax_vjp(
    x: NDArray[np.floating[Any]],
    g: NDArray[np.floating[Any]],
    n: int,
    temperature: float = 1.0,
    log: bool = False,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], float]: ...
def logsumexp_vjp(
    a: NDArray[np.floating[Any]],
    ct: NDArray[np.float64],
    n: int,
    temperature: float = 1.0,
    n_threads: int | None = None,
) -> tuple[NDArray[Any], float]: ...
