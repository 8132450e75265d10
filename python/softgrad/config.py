"""Library-wide settings: threads, the SIMD level in use, and the buffer cache."""

from __future__ import annotations

import operator

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


def set_buffer_cache(max_bytes: int) -> int:
    """Set how many bytes of freed result buffers softgrad keeps for reuse; returns the old limit.

    Results of at least 1 MiB live in buffers that softgrad hands out again, once the arrays using
    them are gone, to a later result of exactly the same size. A loop that calls the same ops on
    the same shapes (a training loop) then reuses memory instead of paying the operating system's
    first-touch page faults on fresh memory every call, which on a small VM cost more than the
    kernels themselves (15-17 ms for 80 MB). XLA and PyTorch keep freed buffers for the same reason.

    Parameters
    ----------
    max_bytes : int
        The most bytes kept while unused (default 512 MiB). 0 turns the cache off and frees what it
        holds; a lower limit frees the oldest buffers at once.

    Returns
    -------
    int
        The previous limit.

    Raises
    ------
    TypeError
        ``max_bytes`` is not an int (``True`` and ``False`` are refused too).
    ValueError
        ``max_bytes`` is negative.

    Examples
    --------
    >>> import softgrad as sg
    >>> old = sg.set_buffer_cache(0)      # no caching
    >>> sg.get_buffer_cache()["held_bytes"]
    0
    >>> _ = sg.set_buffer_cache(old)
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"set_buffer_cache: max_bytes must be an int, got {type(max_bytes).__name__}")
    limit = operator.index(max_bytes)
    if not 0 <= limit < 2**63:
        raise ValueError(f"set_buffer_cache: max_bytes must be >= 0, got {limit}")
    return _core._buffer_cache(limit=limit)[0]


def get_buffer_cache() -> dict[str, int]:
    """The buffer cache's state: ``{"max_bytes", "held_bytes", "buffers"}`` (see :func:`set_buffer_cache`)."""
    limit, _, _, held, blocks = _core._buffer_cache()
    return {"max_bytes": limit, "held_bytes": held, "buffers": blocks}
