# Stub of softgrad._core.fd (rust/softgrad-py/src/estimate/fd.rs): finite-difference plans.
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Plan", "ecnoise"]

@final
class Plan:
    def __new__(
        cls,
        x: NDArray[Any],
        method: str,
        order: int,
        step: NDArray[np.float64],
        lower: NDArray[np.float64],
        upper: NDArray[np.float64],
        noise: float,
        n_steps: int,
        func: str = "gradient",
    ) -> Plan: ...
    @property
    def n_points(self) -> int: ...
    @property
    def needs_center(self) -> bool: ...
    @property
    def steps(self) -> NDArray[np.float64]: ...
    @property
    def sides(self) -> list[int]: ...
    def points(self, start: int, stop: int) -> NDArray[Any]: ...
    def assemble(
        self, values: NDArray[np.float64], m: int, f0: NDArray[np.float64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...

def ecnoise(values: NDArray[np.float64]) -> tuple[str, float]: ...
