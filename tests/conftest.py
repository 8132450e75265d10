"""Shared oracles for the softgrad test suite.

- scipy-based references for the log-sum-exp family, computed in float64, with the temperature
  applied as ``t * f(x / t)``;
- condition-aware tolerances, so that a test fails on a wrong answer but not on the rounding a
  correct one is entitled to;
- central finite differences (five-point stencil) for checking VJPs and JVPs;
- hypothesis strategies for shapes, axes, dtypes and arrays, and the hypothesis profiles.

Select a profile with ``HYPOTHESIS_PROFILE=dev|ci|thorough`` (default ``ci``).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import softgrad

# ---------------------------------------------------------------------------------------------
# hypothesis profiles

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    # Under CI (CI=true) the examples are fixed, so a run can only fail on a real change; the dev
    # and thorough profiles keep exploring.
    derandomize=bool(os.environ.get("CI")),
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=15)
settings.register_profile("thorough", parent=settings.get_profile("ci"), max_examples=1000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FLOAT_DTYPES = (np.float32, np.float64)


# ---------------------------------------------------------------------------------------------
# warnings


@contextlib.contextmanager
def strict() -> Iterator[None]:
    """Every warning raised inside the block is an error (softgrad must not warn).

    NumPy's floating-point warnings are back at their defaults too (underflow is not one of them),
    in case the caller silenced them.
    """
    with warnings.catch_warnings(), np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
        warnings.simplefilter("error")
        yield


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the oracle: scipy and NumPy warn on the special values we feed them on purpose."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def call_strict(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``f(*args, **kwargs)``, failing the test if it emits any warning."""
    with strict():
        return f(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# scipy oracles (float64)


def f64(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _scipy_lse(a: Any, axis: Any, b: Any, keepdims: bool) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.special.logsumexp(..., return_sign=True)`` in float64, quietly.

    Empty input is answered directly with scipy's convention (-inf, sign ``np.sign(-inf) = -1``):
    scipy 1.17 raises IndexError for some empty shapes with a tuple axis, e.g. shape (0, 0) with
    axis (0, 1).
    """
    a64 = f64(a)
    b64 = None if b is None else f64(b)
    shape = np.broadcast_shapes(a64.shape, () if b64 is None else b64.shape)
    if math.prod(shape) == 0:
        out_shape = np.sum(np.zeros(shape or (1,)), axis=axis, keepdims=keepdims).shape
        return np.full(out_shape, -np.inf), np.full(out_shape, -1.0)
    with quiet():
        val, sgn = sp.logsumexp(a64, axis=axis, b=b64, keepdims=keepdims, return_sign=True)
    return np.asarray(val), np.asarray(sgn)


def ref_logsumexp(
    a: Any,
    axis: Any = None,
    b: Any = None,
    keepdims: bool = False,
    return_sign: bool = False,
    temperature: float = 1.0,
) -> Any:
    """``t * scipy.special.logsumexp(a / t, ...)`` in float64; the sign is unchanged by ``t``."""
    t = float(temperature)
    val, sgn = _scipy_lse(f64(a) / t, axis, b, keepdims)
    val = val * t
    return (val, sgn) if return_sign else val


def lse_tolerance(
    a: Any, axis: Any, b: Any, keepdims: bool, temperature: float, dtype: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Absolute tolerance on ``L = t log|S|``, the condition number ``kappa = sum|terms| / |S|`` and
    ``log sum|terms|``.

    Each term of ``S = sum b exp(a/t)`` carries a relative error of a few ulps (more where ``a/t`` is
    large, since rounding ``a/t`` perturbs the exponent), so
    ``|dL| <~ eps * (|L| + (t + max|a|) * kappa)``, times a slowly growing factor for long sums.
    """
    t = float(temperature)
    eps = float(np.finfo(dtype).eps)
    a64 = f64(a)
    absb = None if b is None else np.abs(f64(b))
    l_abs, _ = _scipy_lse(a64 / t, axis, absb, keepdims)
    l_val, _ = _scipy_lse(a64 / t, axis, b, keepdims)
    shape = np.broadcast_shapes(a64.shape, () if b is None else np.shape(b))
    full = np.broadcast_to(a64, shape)
    amax = float(np.max(np.abs(full[np.isfinite(full)]), initial=0.0))
    n = max(math.prod(shape), 1)
    with np.errstate(all="ignore"):
        kappa = np.exp(l_abs - l_val)
        tol = 8 * eps * (np.abs(l_val * t) + (t + amax) * kappa) * (1 + np.log2(n))
    return tol, kappa, l_abs


def assert_lse_close(
    got: Any,
    a: Any,
    axis: Any = None,
    b: Any = None,
    keepdims: bool = False,
    return_sign: bool = False,
    temperature: float = 1.0,
    dtype: Any = np.float64,
    max_kappa: float = 1e8,
) -> None:
    """``got`` (softgrad's result) agrees with scipy: value, sign, shape and special values.

    Where every term is zero, infinite or NaN (``sum|terms|`` not finite and positive) the value and
    sign are compared exactly. Elsewhere, sums that nearly cancel (``kappa > max_kappa``) are too
    ill-conditioned to compare and are skipped; the others are within :func:`lse_tolerance` with the
    exact sign.
    """
    exp_val, exp_sgn = ref_logsumexp(a, axis, b, keepdims, True, temperature)
    tol, kappa, l_abs = lse_tolerance(a, axis, b, keepdims, temperature, dtype)
    # A sum of nothing but -inf (or zero-weighted) terms has sign 0, as in scipy when nothing is
    # infinite; an empty array keeps scipy's sign -1 (softgrad follows scipy there).
    full_size = math.prod(np.broadcast_shapes(np.shape(a), () if b is None else np.shape(b)))
    if full_size != 0:
        exp_sgn = np.where(np.isneginf(l_abs), 0.0, exp_sgn)
    if return_sign:
        assert isinstance(got, tuple) and len(got) == 2
        got_val, got_sgn = np.asarray(got[0]), np.asarray(got[1])
    else:
        got_val, got_sgn = np.asarray(got), None
        exp_val = np.where((exp_sgn < 0) & (full_size != 0), np.nan, exp_val)
    assert got_val.shape == exp_val.shape
    special = ~np.isfinite(l_abs)
    regular = ~special & (kappa <= max_kappa)
    np.testing.assert_array_equal(got_val[special], exp_val[special])
    assert np.all(np.isfinite(exp_val[regular]) | np.isnan(exp_val[regular]))
    np.testing.assert_array_equal(np.isnan(got_val[regular]), np.isnan(exp_val[regular]))
    fin = regular & np.isfinite(exp_val)
    np.testing.assert_array_less(np.abs(got_val[fin] - exp_val[fin]), tol[fin] + 1e-300)
    if got_sgn is not None:
        assert got_sgn.shape == exp_sgn.shape
        np.testing.assert_array_equal(got_sgn[special | regular], exp_sgn[special | regular])


def ref_softmax(x: Any, axis: Any, temperature: float = 1.0, log: bool = False) -> np.ndarray:
    """scipy's softmax / log_softmax of ``x / t`` in float64."""
    with quiet():
        f = sp.log_softmax if log else sp.softmax
        return np.asarray(f(f64(x) / float(temperature), axis=axis))


def softmax_tolerance(x: Any, temperature: float, dtype: Any, log: bool) -> tuple[float, float]:
    """``(rtol, atol)`` for softmax / log_softmax: exponents are off by ``eps * |x - max| / t``."""
    eps = float(np.finfo(dtype).eps)
    xf = f64(x)
    finite = xf[np.isfinite(xf)]
    spread = 2 * float(np.max(np.abs(finite), initial=0.0)) / float(temperature)
    n = max(xf.size, 1)
    if log:
        return 0.0, 16 * eps * (1 + spread + np.log(n))
    return 16 * eps * (1 + spread + np.log(n)), 16 * float(np.finfo(dtype).tiny)


# ---------------------------------------------------------------------------------------------
# finite differences


def vdot(u: Any, v: Any) -> float:
    """Real inner product of two equally shaped arrays (or scalars), in float64."""
    return float(np.sum(f64(u) * f64(v)))


def fd_jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], h: float = 1e-3
) -> np.ndarray:
    """Directional derivative ``d/ds f(primals + s * tangents)`` at ``s = 0`` by the five-point stencil.

    ``None`` tangents hold their primal fixed. The stencil's truncation error is ``O(h^4)``, so
    ``h = 1e-3`` gives about 1e-11 relative accuracy on smooth, O(1)-scaled functions.
    """

    def at(s: float) -> np.ndarray:
        args = [p if v is None else f64(p) + s * f64(v) for p, v in zip(primals, tangents, strict=True)]
        out = f(*args)
        if isinstance(out, tuple):
            out = out[0]
        return f64(out)

    with quiet():
        return (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)


def assert_vjp_matches_fd(
    f: Callable[..., Any],
    primals: Sequence[Any],
    cotangents_in: Sequence[Any],
    ct: Any,
    rng: np.random.Generator,
    h: float = 1e-3,
    rtol: float = 1e-7,
) -> None:
    """For each differentiable argument separately: ``<ct, J_p v> (FD) == <pullback(ct)_p, v>``.

    ``f(*primals)`` is the op as a function of its differentiable arguments; ``cotangents_in`` is
    the pullback's output for those arguments (same order). ``v`` is a random direction.
    """
    for k, (p, cot) in enumerate(zip(primals, cotangents_in, strict=True)):
        if p is None:
            continue
        v = rng.standard_normal(np.shape(p))
        if np.ndim(p) == 0:
            v = float(v)
        tangents = [None] * len(primals)
        tangents[k] = v
        fd = vdot(ct, fd_jvp(f, primals, tangents, h))
        ad = vdot(cot, v)
        scale = np.sqrt(vdot(ct, ct) * vdot(v, v)) * max(1.0, np.max(np.abs(f64(cot)), initial=0.0))
        assert abs(ad - fd) <= rtol * (abs(fd) + scale), (
            f"argument {k}: vjp gives {ad}, finite differences {fd}"
        )


def assert_jvp_matches_fd(
    tangent_out: Any,
    f: Callable[..., Any],
    primals: Sequence[Any],
    tangents: Sequence[Any],
    h: float = 1e-3,
    rtol: float = 1e-7,
) -> None:
    """The JVP's tangent output matches the finite-difference directional derivative entrywise."""
    fd = fd_jvp(f, primals, tangents, h)
    got = f64(tangent_out)
    assert got.shape == fd.shape
    scale = max(1.0, float(np.max(np.abs(fd), initial=0.0)))
    np.testing.assert_allclose(got, fd, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------------------------------------
# hypothesis strategies


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5) -> st.SearchStrategy:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def axes_for(draw: st.DrawFn, ndim: int, allow_none: bool = True, allow_empty: bool = False) -> Any:
    """``None``, an int (possibly negative) or a tuple of distinct axes in any order and sign."""
    choices = ["int", "tuple"] + (["none"] if allow_none else [])
    if ndim == 0:
        return None if allow_none else 0
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        ax = draw(st.integers(0, ndim - 1))
        return ax - ndim if draw(st.booleans()) else ax
    chosen = draw(
        st.lists(st.integers(0, ndim - 1), min_size=0 if allow_empty else 1, max_size=ndim, unique=True)
    )
    return tuple(ax - ndim if draw(st.booleans()) else ax for ax in chosen)


def float_dtypes() -> st.SearchStrategy:
    return st.sampled_from(FLOAT_DTYPES)


def finite_arrays(dtype: Any, shape: Any, bound: float = 20.0) -> st.SearchStrategy:
    """Finite values in ``[-bound, bound]``, with repeats (ties at the maximum) likely."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    elements = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False)
    return hnp.arrays(dtype, shape, elements=elements)


def special_arrays(dtype: Any, shape: Any, bound: float = 20.0) -> st.SearchStrategy:
    """Mostly finite values with -inf, +inf and NaN mixed in."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    finite = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False)
    special = st.sampled_from([-np.inf, -np.inf, np.inf, np.nan])
    return hnp.arrays(dtype, shape, elements=st.one_of(finite, finite, special))


def weights(dtype: Any, shape: Any, signed: bool = True) -> st.SearchStrategy:
    """Weights ``b`` with ``|b|`` in ``{0} U [2**-20, 2]``: zeros likely, negatives when ``signed``.

    (Weights spanning hundreds of orders of magnitude are tested on their own.)
    """
    width = 32 if np.dtype(dtype) == np.float32 else 64
    positive = st.floats(2.0**-20, 2.0, width=width)
    magnitudes = [st.just(0.0), positive]
    if signed:
        magnitudes.append(positive.map(lambda v: -v))
    return hnp.arrays(dtype, shape, elements=st.one_of(*magnitudes))


temperatures = st.one_of(st.just(1.0), st.floats(0.25, 4.0))


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def restore_threads() -> Iterator[None]:
    """Tests that call ``set_num_threads`` leave the default behind them."""
    yield
    softgrad.set_num_threads(None)


# ---------------------------------------------------------------------------------------------
# the buffer cache


@pytest.fixture(autouse=True, scope="session")
def _every_result_through_a_poisoned_cache() -> Iterator[None]:
    """Every result array goes through softgrad's buffer cache (not only those of >= 1 MiB), and a
    reused buffer is filled with NaN bytes first: a kernel that left an element of its output
    unwritten returns NaN there, and the oracle comparisons fail."""
    old = softgrad._core._buffer_cache(min_bytes=0, poison=True)
    yield
    softgrad._core._buffer_cache(min_bytes=old[1], poison=old[2])


# ---------------------------------------------------------------------------------------------
# reporting


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show how many of scipy's own cases passed (``test_scipy_suite.py``), whatever ``-q``."""
    import sys

    suite = sys.modules.get("test_scipy_suite")
    for line in getattr(suite, "SUMMARY", ()):
        terminalreporter.write_line(line)
