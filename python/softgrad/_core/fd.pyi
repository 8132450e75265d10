# Stub of softgrad._core.fd (rust/softgrad-py/src/estimate/fd.rs): finite-difference plans.
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = ["HessianPlan", "Plan", "SparsePlan", "ecnoise"]

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
        self,
        values: NDArray[np.float64],
        m: int,
        f0: NDArray[np.float64] | None = None,
        omit: bool = False,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...

@final
class SparsePlan:
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
        indptr: NDArray[np.int64],
        indices: NDArray[np.int64],
        m: int,
        kind: str = "jacobian",
        colouring: str = "auto",
        func: str = "jacobian",
    ) -> SparsePlan: ...
    @property
    def n_points(self) -> int: ...
    @property
    def needs_center(self) -> bool: ...
    @property
    def n_colours(self) -> int: ...
    @property
    def ordering(self) -> str: ...
    @property
    def colours(self) -> NDArray[np.int64]: ...
    @property
    def csr(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]: ...
    @property
    def steps(self) -> NDArray[np.float64]: ...
    def points(self, start: int, stop: int) -> NDArray[Any]: ...
    def assemble(
        self, values: NDArray[np.float64], f0: NDArray[np.float64] | None = None, omit: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...

@final
class HessianPlan:
    def __new__(
        cls,
        x: NDArray[Any],
        step: NDArray[np.float64],
        noise: float,
        indptr: NDArray[np.int64] | None = None,
        indices: NDArray[np.int64] | None = None,
        func: str = "hessian",
    ) -> HessianPlan: ...
    @property
    def n_points(self) -> int: ...
    @property
    def nnz(self) -> int: ...
    @property
    def csr(self) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None: ...
    @property
    def steps(self) -> NDArray[np.float64]: ...
    def moved(self, q: int) -> tuple[int, int]: ...
    def points(self, start: int, stop: int) -> NDArray[Any]: ...
    def assemble(
        self, f0: float, values: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...

def ecnoise(values: NDArray[np.float64]) -> tuple[str, float]: ...
