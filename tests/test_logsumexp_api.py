"""The log-sum-exp family as an API: thread counts, caller arrays, ``out=``, dtypes and errors.

Values against scipy are in ``test_logsumexp.py``, derivatives in ``test_logsumexp_grad.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp

import softgrad as sg
from conftest import (
    assert_lse_close,
    call_strict,
    quiet,
    ref_softmax,
)

inf, nan = np.inf, np.nan


def reduced_size(shape: tuple[int, ...], axis: object) -> int:
    if axis is None:
        return max(math.prod(shape), 1)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[ax] for ax in axes) if axes else 1


# ---------------------------------------------------------------------------------------------
# threads


def _bit_identical(results: list) -> None:
    for r in results[1:]:
        if isinstance(r, tuple):
            for u, v in zip(r, results[0], strict=True):
                np.testing.assert_array_equal(u, v, strict=True)
        else:
            np.testing.assert_array_equal(r, results[0], strict=True)


@pytest.fixture(scope="module")
def big() -> dict:
    rng = np.random.default_rng(7)
    return {
        "x": rng.standard_normal(300_000) * 5,
        "bx": rng.standard_normal(300_000),
        "m": rng.standard_normal((2000, 300)) * 5,
        "bm": rng.standard_normal((2000, 300)),
    }


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("lse-1d", lambda d, **k: sg.logsumexp(d["x"], **k)),
        ("lse-1d-f32", lambda d, **k: sg.logsumexp(d["x"].astype(np.float32), **k)),
        ("lse-1d-b", lambda d, **k: sg.logsumexp(d["x"], b=d["bx"], return_sign=True, **k)),
        ("lse-axis0", lambda d, **k: sg.logsumexp(d["m"], axis=0, **k)),
        ("lse-axis1", lambda d, **k: sg.logsumexp(d["m"], axis=1, **k)),
        ("lse-none", lambda d, **k: sg.logsumexp(d["m"], **k)),
        ("lse-axis0-b", lambda d, **k: sg.logsumexp(d["m"], axis=0, b=d["bm"], return_sign=True, **k)),
        ("lse-axis1-t", lambda d, **k: sg.logsumexp(d["m"], axis=1, temperature=0.3, **k)),
        ("softmax-1d", lambda d, **k: sg.softmax(d["x"], **k)),
        ("softmax-axis0", lambda d, **k: sg.softmax(d["m"], axis=0, **k)),
        ("log_softmax-axis1", lambda d, **k: sg.log_softmax(d["m"], axis=1, **k)),
        ("log_softmax-none", lambda d, **k: sg.log_softmax(d["m"], axis=None, **k)),
        ("smooth_max-axis0", lambda d, **k: sg.smooth_max(d["m"], axis=0, **k)),
        ("smooth_min-1d", lambda d, **k: sg.smooth_min(d["x"], temperature=2.0, **k)),
    ],
)
def test_results_do_not_depend_on_thread_count(name: str, call, big: dict, restore_threads) -> None:
    results = [call(big, n_threads=n) for n in (1, 2, 3)]
    _bit_identical(results)
    sg.set_num_threads(1)
    results.append(call(big))
    sg.set_num_threads(3)
    results.append(call(big))
    _bit_identical(results)


def test_large_inputs_match_scipy(big: dict) -> None:
    x, m, bm = big["x"], big["m"], big["bm"]
    assert_lse_close(sg.logsumexp(x, n_threads=2), x)
    assert_lse_close(sg.logsumexp(x, b=big["bx"], return_sign=True), x, b=big["bx"], return_sign=True)
    for axis in (0, 1):
        assert_lse_close(sg.logsumexp(m, axis=axis, n_threads=2), m, axis=axis)
        assert_lse_close(
            sg.logsumexp(m, axis=axis, b=bm, return_sign=True, n_threads=2),
            m,
            axis=axis,
            b=bm,
            return_sign=True,
        )
        np.testing.assert_allclose(
            sg.softmax(m, axis=axis, n_threads=2), sp.softmax(m, axis=axis), rtol=1e-12
        )
    np.testing.assert_allclose(sg.log_softmax(x, n_threads=2), sp.log_softmax(x), rtol=1e-13)


def test_set_and_get_num_threads(restore_threads) -> None:
    default = sg.get_num_threads()
    assert isinstance(default, int) and default >= 1
    for n in (1, 3, 5):
        sg.set_num_threads(n)
        assert sg.get_num_threads() == n
    sg.set_num_threads(None)
    assert sg.get_num_threads() == default
    sg.set_num_threads(4)
    sg.set_num_threads(0)
    assert sg.get_num_threads() == default
    with pytest.raises(ValueError, match="n"):
        sg.set_num_threads(-1)
    assert sg.get_num_threads() == default


def test_simd_level_is_reported() -> None:
    assert sg.simd_level() in {"scalar", "avx2", "avx512"}


# ---------------------------------------------------------------------------------------------
# inputs are left alone


def test_caller_arrays_are_not_modified(rng) -> None:
    a = rng.standard_normal((6, 7)) * 3
    a[0, 0], a[1, 1], a[2, 2] = -inf, inf, nan
    b = rng.standard_normal((6, 7))
    b[3, 3] = 0.0
    x32 = a.astype(np.float32)
    keep = [a.copy(), b.copy(), x32.copy()]
    with quiet():
        for axis in (None, 0, 1, (0, 1)):
            sg.logsumexp(a, axis=axis, b=b, return_sign=True, temperature=0.7)
            sg.logsumexp(a[:, ::-1], axis=axis, b=b[::-1], return_sign=True)
            sg.logsumexp(x32, axis=axis, keepdims=True)
            ax = -1 if axis is None else axis
            sg.softmax(a, axis=ax, temperature=2.0)
            sg.log_softmax(x32, axis=ax)
            sg.smooth_max(a, axis=ax)
            sg.smooth_min(x32, axis=ax)
    for now, before in zip((a, b, x32), keep, strict=True):
        np.testing.assert_array_equal(now, before, strict=True)


def test_read_only_inputs_are_accepted(rng) -> None:
    a = rng.standard_normal((5, 4))
    b = rng.uniform(0.1, 1, (5, 4))
    a.flags.writeable = False
    b.flags.writeable = False
    assert_lse_close(call_strict(sg.logsumexp, a, axis=1, b=b), a, axis=1, b=b)
    np.testing.assert_allclose(call_strict(sg.softmax, a, axis=0), sp.softmax(a, axis=0), rtol=1e-14)


def test_result_does_not_alias_input(rng) -> None:
    a = rng.standard_normal(5)
    before = a.copy()
    out = call_strict(sg.logsumexp, a, axis=())
    out[...] = 123.0
    np.testing.assert_array_equal(a, before)
    s = call_strict(sg.softmax, a)
    s[...] = 0.0
    np.testing.assert_array_equal(a, before)


# ---------------------------------------------------------------------------------------------
# errors

ALL_OPS = [sg.logsumexp, sg.softmax, sg.log_softmax, sg.smooth_max, sg.smooth_min]


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "x",
    [
        np.array(["a", "b"]),
        np.array([1.0, None], dtype=object),
        np.ones(2, dtype="M8[s]"),
        [[1.0, 2.0], [3.0]],
        "abc",
    ],
    ids=["str", "object", "datetime", "ragged", "string"],
)
def test_non_real_input_is_a_type_error(op, x) -> None:
    with pytest.raises(TypeError, match=op.__name__):
        op(x)


@pytest.mark.parametrize("op", [sg.smooth_max, sg.smooth_min], ids=lambda f: f.__name__)
def test_complex_input_of_the_smooth_extrema_is_a_type_error(op) -> None:
    # a smooth maximum of complex numbers has no meaning (logsumexp and softmax follow scipy)
    with pytest.raises(TypeError, match=rf"{op.__name__}: x must contain real numbers"):
        op(np.ones(3, dtype=complex))


def test_non_numeric_weights_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="b"):
        sg.logsumexp(np.ones(3), b=np.array(["x", "y", "z"]))


@pytest.mark.parametrize("bshape", [(4,), (2, 3), (3, 2, 1, 4)])
def test_unbroadcastable_weights_are_a_value_error(bshape: tuple) -> None:
    with pytest.raises(ValueError, match=r"\bb\b"):
        sg.logsumexp(np.ones((3, 3)), b=np.ones(bshape))


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [2, -3, (0, 2), (0, 0), (1, -1), (0, 1, 0)])
def test_bad_axis_is_a_value_error(op, axis) -> None:
    with pytest.raises(ValueError, match="axis"):
        op(np.ones((3, 3)), axis=axis)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("t", [0.0, -0.0, -1.0, inf, -inf, nan])
def test_bad_temperature_is_a_value_error(op, t: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        op(np.ones((3, 3)), temperature=t)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("t", [np.ones(2), "abc", 1j, None, True])
def test_non_scalar_temperature_is_a_type_error(op, t) -> None:
    with pytest.raises(TypeError, match="temperature"):
        op(np.ones((3, 3)), temperature=t)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
def test_string_temperature_is_a_type_error(op) -> None:
    with pytest.raises(TypeError, match="temperature"):
        op(np.ones((3, 3)), temperature="2.0")


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [0, -1, -8])
def test_bad_n_threads_is_a_value_error(op, n: int) -> None:
    with pytest.raises(ValueError, match="n_threads"):
        op(np.ones((3, 3)), n_threads=n)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
def test_non_integer_n_threads_is_a_type_error(op) -> None:
    for bad in (1.5, True, np.True_, "2"):
        with pytest.raises(TypeError, match=f"{op.__name__}: n_threads"):
            op(np.ones((3, 3)), n_threads=bad)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda f: f.__name__)
def test_absurd_n_threads_is_a_value_error(op) -> None:
    with pytest.raises(ValueError, match="n_threads"):
        op(np.ones((3, 3)), n_threads=10**9)


@pytest.mark.parametrize(
    ("op", "kwargs", "arg"),
    [
        pytest.param(
            op,
            kwargs,
            arg,
            id=f"{op.__name__}-{arg}",
        )
        for op in ALL_OPS
        for kwargs, arg in (
            ({"temperature": -1.0}, "temperature"),
            ({"n_threads": 0}, "n_threads"),
            ({"axis": 5}, "axis"),
        )
    ],
)
def test_error_messages_name_the_function(op, kwargs: dict, arg: str) -> None:
    """STYLE.md: messages name the function and the argument, ``"<func>: <arg> ..."``."""
    with pytest.raises(ValueError, match=rf"^{op.__name__}: .*{arg}"):
        op(np.ones((3, 3)), **kwargs)


# --- out= -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [sg.softmax, sg.log_softmax], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("shape", "axis"), [((7, 300), -1), ((7, 300), 0), ((4, 5, 6), (0, 2)), ((2000, 600), 1), ((50,), None)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_receives_the_same_values(op, shape, axis, dtype, rng) -> None:
    x = rng.normal(scale=5.0, size=shape).astype(dtype)
    want = op(x, axis)
    out = np.full(shape, np.nan, dtype=dtype)
    got = op(x, axis, out=out)
    assert got is out
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("op", [sg.softmax, sg.log_softmax], ids=lambda f: f.__name__)
def test_out_may_be_the_input(op, rng) -> None:
    x = rng.normal(size=(30, 40))
    want = ref_softmax(x, axis=1, log=op is sg.log_softmax)
    got = op(x, 1, out=x)
    assert got is x
    np.testing.assert_allclose(x, want, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("op", [sg.softmax, sg.log_softmax], ids=lambda f: f.__name__)
def test_out_is_checked(op) -> None:
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match="out"):
        op(x, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="out"):
        op(x, out=np.empty((3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="out"):
        op(x, out=[[0.0] * 4] * 3)
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        op(x, out=ro)


# --- thread settings ------------------------------------------------------------------------------


def test_default_thread_count_honours_rayon_num_threads() -> None:
    import os
    import subprocess
    import sys

    code = "import softgrad as sg; print(sg.get_num_threads())"
    for n in ("1", "3"):
        env = {**os.environ, "RAYON_NUM_THREADS": n}
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert proc.stdout.strip() == n


def test_float16_is_computed_in_float32_and_returned_as_float16(rng) -> None:
    x = rng.normal(size=(4, 9)).astype(np.float16)
    got = sg.logsumexp(x, axis=1)
    assert got.dtype == np.float16
    want = sp.logsumexp(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3)
    sm = sg.softmax(x, 1)
    assert sm.dtype == np.float16
    np.testing.assert_allclose(
        sm.astype(np.float64), sp.softmax(x.astype(np.float64), axis=1), rtol=2e-3, atol=1e-4
    )
