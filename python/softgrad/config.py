"""Library-wide settings: threads and the SIMD level in use."""

from __future__ import annotations

from . import _core


def set_num_threads(n: int | None = None) -> None:
    """Set the number of threads softgrad uses when a call passes no ``n_threads``.

    Parameters
    ----------
    n : int or None
        Threads to use, from 1 to 256. ``None`` or 0 restores the default: ``RAYON_NUM_THREADS``
        if set, else the number of logical CPUs.

    Raises
    ------
    TypeError
        ``n`` is not an int (``True`` and ``False`` are refused too).
    ValueError
        ``n`` is negative or larger than 256.

    Notes
    -----
    Results do not depend on the thread count: every reduction is cut into pieces whose boundaries
    depend only on the problem size and combined in a fixed order.
    """
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads a call without ``n_threads`` uses."""
    return _core.get_num_threads()


def simd_level() -> str:
    """The instruction set the kernels dispatch to on this CPU: ``"scalar"``, ``"avx2"`` or ``"avx512"``."""
    return _core.simd_level()
