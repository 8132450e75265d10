# Stub of softgrad._core.zo (rust/softgrad-py/src/estimate/zo.rs): randomized estimators, in-place
# MeZO steps and the counter-based generator.
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Plan", "apply", "derive_seeds", "restore", "sample"]

@final
class Plan:
    def __new__(
        cls,
        x: NDArray[Any],
        method: str,
        n_samples: int,
        sides: int,
        antithetic: bool,
        seed: int,
        step: float | None = None,
        mask: NDArray[np.bool_] | None = None,
        n_threads: int | None = None,
    ) -> Plan: ...
    @property
    def n_points(self) -> int: ...
    @property
    def needs_center(self) -> bool: ...
    @property
    def step(self) -> float: ...
    @property
    def dim(self) -> int: ...
    def points(self, start: int, stop: int) -> NDArray[Any]: ...
    def assemble(
        self, values: NDArray[np.float64], f0: float | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...

def apply(
    x: NDArray[Any],
    seed: int,
    dist: str,
    coeff: float,
    state: NDArray[np.float64] | None = None,
    bits: NDArray[np.uint8] | None = None,
    n_threads: int | None = None,
) -> None: ...
def restore(
    x: NDArray[Any],
    seed: int,
    dist: str,
    state: NDArray[np.float64],
    bits: NDArray[np.uint8] | None = None,
    n_threads: int | None = None,
) -> None: ...
def derive_seeds(seed: int, n: int) -> list[int]: ...
def sample(seed: int, stream: int, dist: str, start: int, n: int) -> NDArray[np.float64]: ...
