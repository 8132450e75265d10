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

from . import linalg
from ._core import InternalError, SoftgradError, __version__
from .autodiff import jvp, vjp
from .config import get_buffer_cache, get_num_threads, set_buffer_cache, set_num_threads, simd_level
from .cross_entropy import softmax_cross_entropy
from .fd import Estimate, gradient, jacobian
from .logsumexp import logsumexp, smooth_max, smooth_min
from .metrics import soft_accuracy, soft_balanced_accuracy, soft_confusion, soft_f1, soft_fbeta
from .quantile import soft_quantile
from .softmax import log_softmax, softmax
from .sort import soft_rank, soft_sort
from .spearman import spearman_loss
from .topk import soft_topk

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
    "linalg",
    "log_softmax",
    "logsumexp",
    "set_buffer_cache",
    "set_num_threads",
    "simd_level",
    "smooth_max",
    "smooth_min",
    "soft_accuracy",
    "soft_balanced_accuracy",
    "soft_confusion",
    "soft_f1",
    "soft_fbeta",
    "soft_quantile",
    "soft_rank",
    "soft_sort",
    "soft_topk",
    "softmax",
    "softmax_cross_entropy",
    "spearman_loss",
    "vjp",
]
