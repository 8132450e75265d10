r"""The log-sum-exp family in NumPy, for the dtypes the Rust kernels do not take: complex64/complex128
(and clongdouble), with scipy's semantics, and ``longdouble``, computed in its own precision.

Complex log-sum-exp is the principal branch of :math:`\log \sum_i b_i e^{a_i}`: the imaginary part is
wrapped into :math:`(-\pi, \pi]`; with ``return_sign`` the result is the real :math:`\log|S|` and the
"sign" the complex unit :math:`S/|S|`. The algorithm is scipy's (``scipy.special.logsumexp``, scipy
>= 1.15): the element of largest real part is taken out of the sum, so that
:math:`\log S = a_{max} + \log m + \operatorname{log1p}(s/m)` with :math:`m` the weight at the
maximum and :math:`s` the shifted rest; where that is not finite the direct sum decides (the IEEE
value for infinities). With a temperature :math:`t`, every function is applied to :math:`a/t` and
log-sum-exp multiplied by :math:`t` (the imaginary part wrapped before), as for real input.

Softmax and log-softmax of complex input follow scipy's formulas: :math:`e^{x - M} / \sum e^{x - M}`
with :math:`M` NumPy's (lexicographic) maximum, and :math:`x - M' - \log \sum e^{x - M'}` with
:math:`M'` zero where :math:`M` is not finite.

Warnings of intermediate steps (overflow, invalid) are silenced: as the Rust path, these functions
encode special values in their results and do not warn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


def _scaled(x: Array, t: float) -> Array:
    return x if t == 1.0 else x / x.real.dtype.type(t)


def wrap_radians(x: Array) -> Array:
    """``x`` wrapped into ``(-pi, pi]`` (values already inside are left exactly as they are)."""
    pi = x.dtype.type(np.pi)
    wrapped = -((-x + pi) % (2 * pi) - pi)
    return np.where(np.abs(x) < pi, x, wrapped)


def _sign(z: Array) -> Array:
    """``sign`` as scipy computes it: for complex, ``z / |z|`` (0 at 0, NaN at infinities: so the
    "sign" of an empty or infinite complex sum is NaN), for real, ``np.sign``."""
    if z.dtype.kind != "c":
        return np.sign(z)
    return np.where(z == 0, 0, z / np.abs(z)).astype(z.dtype, copy=False)


def _max_real(a: Array, axes: tuple[int, ...]) -> tuple[Array, Array]:
    """Per slice, the maximum (for complex input: one element of largest real part, the last one)
    and the mask of the elements it stands for."""
    if a.dtype.kind != "c":
        m = np.max(a, axis=axes, keepdims=True)
        return m, a == m
    re = a.real
    mask = re == np.max(re, axis=axes, keepdims=True)
    idx = np.where(mask, np.arange(a.size).reshape(a.shape), -1)
    mask = idx == np.max(idx, axis=axes, keepdims=True)
    return np.sum(np.where(mask, a, 0), axis=axes, keepdims=True, dtype=a.dtype), mask


def _shifted(a: Array, b: Array | None, axes: tuple[int, ...], return_sign: bool) -> tuple[Array, Array]:
    """``log S`` with the maximum taken out, and the sign of ``S``, per slice (kept dims)."""
    if b is not None:
        a = np.where(b == 0, -np.inf, a).astype(a.dtype, copy=False)
    a_max, at_max = _max_real(a, axes)
    rest = np.where(at_max, -np.inf, a).astype(a.dtype, copy=False)
    m = np.sum(at_max.astype(a.dtype) if b is None else b * at_max, axis=axes, keepdims=True, dtype=a.dtype)
    e = np.exp(rest - a_max) if b is None else b * np.exp(rest - a_max)
    s = np.sum(e, axis=axes, keepdims=True, dtype=e.dtype)
    s = np.where(s == 0, s, s / m)
    sgn = _sign(s + 1) * _sign(m)
    if a.dtype.kind == "c":
        sgn = sgn * np.exp(a_max.imag * 1j)
    else:
        s = np.where(s < -1, -s - 2, s)
        m = np.abs(m)
    out = np.log1p(s) + np.log(m) + a_max
    if return_sign:
        out = out.real
    elif out.dtype.kind == "f":
        out = np.where(sgn < 0, np.nan, out)
    return out, sgn


def logsumexp(
    a: Array, b: Array | None, axes: tuple[int, ...], t: float, return_sign: bool
) -> tuple[Array, Array | None]:
    """:math:`t \\log \\sum b e^{a/t}` over ``axes`` of ``a`` (and ``b``, same shape and dtype as
    ``a``), dims kept, and its sign if ``return_sign``."""
    a = _scaled(a, t)
    with np.errstate(all="ignore"):
        if a.size:
            direct = np.sum(np.exp(a) if b is None else b * np.exp(a), axis=axes, keepdims=True)
            out_direct = np.log(np.abs(direct) if return_sign else direct)
            out, sgn = _shifted(a, b, axes, return_sign)
            finite = np.isfinite(out)
            out = np.where(finite, out, out_direct)
            if return_sign:
                sgn = np.where(finite, sgn, _sign(direct))
        else:
            shape = tuple(1 if i in axes else d for i, d in enumerate(a.shape))
            out = np.full(shape, -np.inf, dtype=a.dtype)
            sgn = _sign(out)
        if out.dtype.kind == "c":
            out = out.real + wrap_radians(out.imag) * 1j
        if return_sign and sgn.dtype.kind == "c":
            sgn = sgn.real + wrap_radians(sgn.imag) * 1j
        if t != 1.0:
            out = out * out.real.dtype.type(t)
    return out, (sgn if return_sign else None)


def softmax(x: Array, axes: tuple[int, ...], t: float, log: bool) -> Array:
    """Softmax (or log-softmax) of ``x / t`` over ``axes``."""
    x = _scaled(x, t)
    if x.size == 0:
        empty: Array = x.copy()
        return empty
    with np.errstate(all="ignore"):
        x_max = np.max(x, axis=axes, keepdims=True)
        if not log:
            e = np.exp(x - x_max)
            res: Array = e / np.sum(e, axis=axes, keepdims=True)
            return res
        x_max = np.where(np.isfinite(x_max), x_max, 0).astype(x.dtype, copy=False)
        shifted = x - x_max
        out: Array = shifted - np.log(np.sum(np.exp(shifted), axis=axes, keepdims=True))
        return out
