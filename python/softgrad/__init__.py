"""softgrad: optimizing what has no usable gradient.

A Rust core (multithreaded, SIMD) behind NumPy-friendly functions. Available today:

- the log-sum-exp family, with temperature, weights and signs: :func:`logsumexp`,
  :func:`softmax`, :func:`log_softmax`, :func:`smooth_max`, :func:`smooth_min`;
- derivatives of every differentiable operation: ``out, pullback = vjp(op, ...)`` and
  ``out, tangent = jvp(op, primals, tangents, ...)``;
- thread control (:func:`set_num_threads`), results independent of the thread count; a cache of
  large result buffers (:func:`set_buffer_cache`) so loops reuse memory.

Errors: wrong dtypes raise ``TypeError``, bad shapes and parameters ``ValueError`` naming the
argument, and failures of softgrad itself a subclass of :class:`SoftgradError`.
"""

from ._core import InternalError, SoftgradError, __version__
from .autodiff import jvp, vjp
from .config import get_buffer_cache, get_num_threads, set_buffer_cache, set_num_threads, simd_level
from .fd import Estimate, gradient, jacobian
from .logsumexp import logsumexp, smooth_max, smooth_min
from .softmax import log_softmax, softmax

__all__ = [
    "Estimate",
    "InternalError",
    "SoftgradError",
    "__version__",
    "get_buffer_cache",
    "get_num_threads",
    "gradient",
    "jacobian",
    "jvp",
    "log_softmax",
    "logsumexp",
    "set_buffer_cache",
    "set_num_threads",
    "simd_level",
    "smooth_max",
    "smooth_min",
    "softmax",
    "vjp",
]
