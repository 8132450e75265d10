"""``softgrad.linalg``: Krylov methods on sparse matrices, LinearOperators and plain functions:
:func:`cg` (preconditioned conjugate gradients, the loop in Rust), :func:`cg_steihaug` (truncated CG
for trust regions), :func:`lanczos` (extreme eigenpairs), :func:`hutchinson` (trace and diagonal
estimates) and :func:`polynomial` (Chebyshev / Neumann preconditioners). The incomplete
factorisations and the other preconditioners are in :mod:`softgrad.precond`."""

from .cg import CGResult, cg
from .hutchinson import HutchinsonResult, hutchinson
from .lanczos import LanczosResult, lanczos
from .poly import PolynomialPreconditioner, polynomial
from .steihaug import SteihaugResult, cg_steihaug

__all__ = [
    "CGResult",
    "HutchinsonResult",
    "LanczosResult",
    "PolynomialPreconditioner",
    "SteihaugResult",
    "cg",
    "cg_steihaug",
    "hutchinson",
    "lanczos",
    "polynomial",
]
