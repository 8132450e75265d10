"""Krylov solvers and estimates for second-order methods: :func:`cg` (preconditioned conjugate
gradients, the loop in Rust). Preconditioners are in :mod:`softgrad.precond`."""

from .cg import CGResult, cg

__all__ = ["CGResult", "cg"]
