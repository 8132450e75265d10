# Hand-written stub of the Rust extension module softgrad._core (checked by mypy.stubtest in
# tests/test_stubs.py): settings and exceptions here, one submodule (and one stub file) per family.
from typing import Any

from numpy.typing import NDArray

from . import colour as colour
from . import cross_entropy as cross_entropy
from . import fd as fd
from . import hutchinson as hutchinson
from . import lanczos as lanczos
from . import linalg as linalg
from . import logsumexp as logsumexp
from . import maxplus as maxplus
from . import poly as poly
from . import soft_dtw as soft_dtw
from . import soft_maxplus as soft_maxplus
from . import sort as sort
from . import steihaug as steihaug
from . import zo as zo

__all__ = [
    "InternalError",
    "SoftgradError",
    "__version__",
    "colour",
    "copy",
    "cross_entropy",
    "fd",
    "get_num_threads",
    "hutchinson",
    "lanczos",
    "linalg",
    "logsumexp",
    "maxplus",
    "poly",
    "set_num_threads",
    "simd_level",
    "soft_dtw",
    "soft_maxplus",
    "sort",
    "steihaug",
    "zo",
]
__version__: str

class SoftgradError(Exception): ...
class InternalError(SoftgradError): ...

def set_num_threads(n: int | None = None) -> None: ...
def get_num_threads() -> int: ...
def simd_level() -> str: ...
def _panic(place: str) -> None: ...  # test hook: a panic in "body", "core" or "worker"
def copy(x: NDArray[Any], n_threads: int | None = None) -> NDArray[Any]: ...
def _buffer_cache(
    limit: int | None = None, min_bytes: int | None = None, poison: bool | None = None
) -> tuple[int, int, bool, int, int]: ...
