"""``softgrad.linalg``: Krylov methods on sparse matrices, LinearOperators and plain functions."""

from .hutchinson import HutchinsonResult, hutchinson
from .lanczos import LanczosResult, lanczos
from .poly import PolynomialPreconditioner, polynomial
from .steihaug import SteihaugResult, cg_steihaug

__all__ = [
    "HutchinsonResult",
    "LanczosResult",
    "PolynomialPreconditioner",
    "SteihaugResult",
    "cg_steihaug",
    "hutchinson",
    "lanczos",
    "polynomial",
]
