"""Hostile input to the log-sum-exp family's public functions (issue 6, section 2): every defect
the sweep found has a regression test here, and the sweep's other probes are kept as tests.

Bad input is a TypeError (a wrong kind of value) or a ValueError (a wrong value) whose message
starts with the function's name and names the argument; never a crash, a bare NumPy/Python error,
or silent acceptance; the caller's arrays are never modified.
"""

from __future__ import annotations

import decimal
import warnings
from typing import Any

import numpy as np
import pytest

import softgrad as sg

OPS = [sg.logsumexp, sg.smooth_max, sg.smooth_min, sg.softmax, sg.log_softmax]
OUT_OPS = [sg.softmax, sg.log_softmax]


def name(op: Any) -> str:
    return str(op.__name__)


def x_name(op: Any) -> str:
    return "a" if op is sg.logsumexp else "x"


def matrix(v: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(v)


# ---------------------------------------------------------------------------------------------
# axis


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("axis", [True, False, np.True_, (0, True)], ids=repr)
def test_a_boolean_axis_is_a_type_error(op: Any, axis: Any) -> None:
    # Issue 6: axis=True was taken as axis 1 (operator.index(True) == 1).
    with pytest.raises(TypeError, match=rf"^{name(op)}: axis must be an int"):
        op(np.ones((2, 3)), axis=axis)
    with pytest.raises(TypeError, match=rf"^{name(op)}: axis must be an int"):
        sg.vjp(op, np.ones((2, 3)), axis=axis)
    with pytest.raises(TypeError, match=rf"^{name(op)}: axis must be an int"):
        sg.jvp(op, (np.ones((2, 3)),), (np.ones((2, 3)),), axis=axis)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("axis", [2, -3, 2**63, -(2**70), (0, 2**64)], ids=repr)
def test_an_axis_out_of_range_is_a_value_error(op: Any, axis: Any) -> None:
    with pytest.raises(ValueError, match=rf"^{name(op)}: axis -?\d+ is out of bounds"):
        op(np.ones((2, 3)), axis=axis)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("axis", [1.0, "0", np.array([0, 1]), [0, None]], ids=repr)
def test_an_axis_of_another_type_is_a_type_error(op: Any, axis: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{name(op)}: axis must be an int"):
        op(np.ones((2, 3)), axis=axis)


@pytest.mark.parametrize("op", OPS, ids=name)
def test_a_repeated_axis_is_a_value_error(op: Any) -> None:
    with pytest.raises(ValueError, match=rf"^{name(op)}: axis contains a repeated axis"):
        op(np.ones((2, 3)), axis=(1, -1))


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("axis", [None, 0, -1, ()], ids=repr)
def test_zero_dimensional_input(op: Any, axis: Any) -> None:
    # A 0-d input is one slice of one element (axis 0 and -1 name it, as for a 1-element array);
    # a reduction over no axes keeps that 1-element axis, as scipy's logsumexp(3.0, axis=()) does.
    want = {"softmax": 1.0, "log_softmax": 0.0}.get(name(op), 3.0)
    got = op(np.float64(3.0), axis=axis)
    reduction = op not in OUT_OPS
    assert np.shape(got) == ((1,) if reduction and axis == () else ()) and got == want


# ---------------------------------------------------------------------------------------------
# scalar parameters


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize(
    "t",
    [10**400, -(10**400), decimal.Decimal("1e400"), np.longdouble("1e4000"), float("inf")],
    ids=["int 10**400", "int -10**400", "Decimal 1e400", "longdouble 1e4000", "inf"],
)
def test_a_temperature_too_large_for_a_float_is_a_value_error(op: Any, t: Any) -> None:
    # Issue 6: temperature=10**400 raised a bare OverflowError.
    with pytest.raises(ValueError, match=rf"^{name(op)}: temperature must be finite"):
        op(np.ones(3), temperature=t)
    with pytest.raises(ValueError, match=rf"^{name(op)}: temperature must be finite"):
        sg.vjp(op, np.ones(3), temperature=t)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("t", [0.0, -0.0, -1.0, -1e-300, float("nan"), -np.inf], ids=repr)
def test_a_temperature_not_positive_is_a_value_error(op: Any, t: Any) -> None:
    with pytest.raises(ValueError, match=rf"^{name(op)}: temperature must be finite and > 0"):
        op(np.ones(3), temperature=t)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("t", ["2", None, [2.0], np.ones(2), 1 + 1j, True], ids=repr)
def test_a_temperature_that_is_not_a_real_scalar_is_a_type_error(op: Any, t: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{name(op)}: temperature must be a real scalar"):
        op(np.ones(3), temperature=t)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("t", [np.float32(2.0), np.array(2.0), np.int8(2), 2]
                         , ids=repr)  # fmt: skip
def test_numpy_and_integer_temperatures_are_accepted(op: Any, t: Any) -> None:
    x = np.array([0.5, 1.0, 3.0])
    np.testing.assert_allclose(op(x, temperature=t), op(x, temperature=2.0), rtol=1e-15)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("n", [2**64, 2**63, 10**9], ids=repr)
def test_a_huge_thread_count_is_a_value_error(op: Any, n: int) -> None:
    # Issue 6: n_threads=2**64 raised a bare OverflowError.
    with pytest.raises(ValueError, match=rf"^{name(op)}: n_threads must be in 1\.\.="):
        op(np.ones(3), n_threads=n)


def test_the_facades_thread_limit_is_the_cores() -> None:
    from softgrad._array import MAX_THREADS

    try:
        sg.set_num_threads(MAX_THREADS)
        with pytest.raises(ValueError, match=rf"n must be in 0\.\.={MAX_THREADS}"):
            sg.set_num_threads(MAX_THREADS + 1)
    finally:
        sg.set_num_threads(None)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("n", [0, -1, -(2**64)], ids=repr)
def test_a_thread_count_below_one_is_a_value_error(op: Any, n: int) -> None:
    with pytest.raises(ValueError, match=rf"^{name(op)}: n_threads must be >= 1"):
        op(np.ones(3), n_threads=n)


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("n", [True, 1.5, "2", np.float64(2.0)], ids=repr)
def test_a_thread_count_that_is_not_an_int_is_a_type_error(op: Any, n: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{name(op)}: n_threads must be an integer"):
        op(np.ones(3), n_threads=n)


@pytest.mark.parametrize("flag", ["keepdims", "return_sign"])
@pytest.mark.parametrize("value", ["no", 2, np.array([1, 0]), None, 1.0], ids=repr)
def test_a_flag_that_is_not_a_bool_is_a_type_error(flag: str, value: Any) -> None:
    # "no" was taken as True, np.array([1, 0]) raised NumPy's ambiguous-truth-value error.
    with pytest.raises(TypeError, match=rf"^logsumexp: {flag} must be True or False"):
        sg.logsumexp(np.ones(3), **{flag: value})


def test_flags_accept_numpy_bools_and_zero_or_one() -> None:
    x = np.ones((2, 3))
    assert sg.logsumexp(x, axis=1, keepdims=np.True_).shape == (2, 1)
    assert sg.logsumexp(x, axis=1, keepdims=1).shape == (2, 1)
    assert not isinstance(sg.logsumexp(x, return_sign=0), tuple)


# ---------------------------------------------------------------------------------------------
# input arrays


@pytest.mark.parametrize("op", OPS, ids=name)
def test_bool_and_integer_arrays_are_computed_in_float64(op: Any) -> None:
    for v in (np.array([True, False, True]), np.array([3, -1, 2], np.int8), np.array([2**40, 1], np.uint64)):
        got = op(v)
        assert np.asarray(got).dtype == np.float64
        np.testing.assert_array_equal(got, op(v.astype(np.float64)))


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize(
    "x", [np.array([1.0, None], dtype=object), np.array(["1", "2"]), np.ones(2, "m8[s]"), None, b"ab"]
)
def test_non_numeric_input_is_a_type_error(op: Any, x: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{name(op)}: {x_name(op)} must contain"):
        op(x)


@pytest.mark.parametrize("op", OPS, ids=name)
def test_a_masked_array_with_masked_entries_is_a_type_error(op: Any) -> None:
    # The mask was silently ignored: the result included the hidden values.
    x = np.ma.array([1.0, 50.0, 2.0], mask=[False, True, False])
    with pytest.raises(TypeError, match=rf"^{name(op)}: {x_name(op)} is a masked array with masked entries"):
        op(x)
    unmasked = np.ma.array([1.0, 50.0, 2.0])
    np.testing.assert_array_equal(op(unmasked), op(unmasked.data))
    assert type(op(unmasked)) in (np.ndarray, np.float64)


def test_masked_weights_are_a_type_error() -> None:
    b = np.ma.array([1.0, 1.0, 1.0], mask=[False, True, False])
    with pytest.raises(TypeError, match=r"^logsumexp: b is a masked array with masked entries"):
        sg.logsumexp(np.ones(3), b=b)


@pytest.mark.parametrize("op", OPS, ids=name)
def test_a_matrix_input_gives_the_ndarray_result(op: Any) -> None:
    x = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    got = op(matrix(x), axis=-1)
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, op(x, axis=-1))


@pytest.mark.parametrize("op", OPS, ids=name)
def test_a_copy_too_large_to_allocate_is_a_memory_error_naming_the_function(op: Any) -> None:
    # A broadcast view of 2 PiB: the contiguous copy fails; NumPy's message named neither. (Past the
    # 128 TiB of x86-64 user address space, so malloc refuses it whatever the overcommit policy.)
    big = np.broadcast_to(np.ones(1), (2**24, 2**24))
    with pytest.raises(MemoryError, match=rf"^{name(op)}: could not allocate \d+ bytes .*{x_name(op)}$"):
        op(big, axis=0)


def test_weights_of_the_wrong_shape_are_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^logsumexp: b with shape \(3,\) does not broadcast against a"):
        sg.logsumexp(np.ones(4), b=np.ones(3))
    with pytest.raises(ValueError, match=r"^logsumexp: b with shape \(2, 5\) does not broadcast"):
        sg.logsumexp(np.ones((4, 5)), b=np.ones((2, 5)))
    with pytest.raises(TypeError, match=r"^logsumexp: b must contain"):
        sg.logsumexp(np.ones(3), b=np.array(["x", "y", "z"]))


@pytest.mark.parametrize("op", OPS, ids=name)
def test_the_callers_arrays_are_never_modified(op: Any) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7))
    keep = x.copy()
    op(x, axis=0)
    op(x.T, axis=None)
    _, pullback = sg.vjp(op, x, axis=1)
    ct = np.ones(np.shape(op(x, axis=1)))
    ct_keep = ct.copy()
    pullback(ct)
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_array_equal(ct, ct_keep)


# ---------------------------------------------------------------------------------------------
# out=


@pytest.mark.parametrize("op", OUT_OPS, ids=name)
def test_a_matrix_out_of_the_right_shape_receives_the_result(op: Any) -> None:
    # Issue 6: out=np.matrix said "out must be a 1-D array".
    x = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    out = matrix(np.zeros((2, 3)))
    assert op(x, out=out) is out
    np.testing.assert_array_equal(np.asarray(out), op(x))


@pytest.mark.parametrize("op", OUT_OPS, ids=name)
def test_a_matrix_out_of_another_shape_is_a_clear_value_error(op: Any) -> None:
    with pytest.raises(
        ValueError, match=rf"^{name(op)}: out has shape \(1, 3\), the result has shape \(3,\)"
    ):
        op(np.ones(3), out=matrix(np.zeros(3)))


@pytest.mark.parametrize("op", OUT_OPS, ids=name)
def test_bad_outs_are_refused_naming_out(op: Any) -> None:
    f, x = name(op), np.ones((2, 3))
    with pytest.raises(TypeError, match=rf"^{f}: out has dtype float32, the result has dtype float64"):
        op(x, out=np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match=rf"^{f}: out has dtype complex128, the result has dtype float64"):
        op(x, out=np.zeros((2, 3), complex))
    with pytest.raises(ValueError, match=rf"^{f}: out has shape \(3, 2\), the result has shape \(2, 3\)"):
        op(x, out=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=rf"^{f}: out is read-only"):
        op(x, out=np.broadcast_to(np.zeros(3), (2, 3)))
    for bad in ([[0.0] * 3] * 2, np.ma.zeros((2, 3)), 3.0):
        with pytest.raises(TypeError, match=rf"^{f}: out must be a numpy.ndarray"):
            op(x, out=bad)


@pytest.mark.parametrize("op", OUT_OPS, ids=name)
def test_outs_that_are_strided_overlapping_or_byte_swapped_receive_the_right_result(op: Any) -> None:
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 6))
    want = op(x)
    strided = np.zeros((6, 4)).T
    assert op(x, out=strided) is strided
    np.testing.assert_array_equal(strided, want)
    swapped = np.zeros((4, 6), ">f8")
    assert op(x, out=swapped) is swapped
    np.testing.assert_array_equal(swapped, want)
    buf = np.zeros(25)  # out is x shifted by one element: the result must not read what it wrote
    buf[1:] = x.reshape(-1)
    got = op(buf[1:].reshape(4, 6), out=buf[:-1].reshape(4, 6))
    np.testing.assert_allclose(got, want, rtol=1e-15)
    y = x.copy()
    op(y, out=y)
    np.testing.assert_allclose(y, want, rtol=1e-15)
    y = x.copy()
    op(y, axis=0, out=y)
    np.testing.assert_allclose(y, op(x, axis=0), rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# cotangents and tangents


BAD_KINDS = {
    "complex": lambda s: np.ones(s, complex),
    "complex scalar": lambda s: (1 + 1j) * np.ones(s),
    "datetime64": lambda s: np.full(s, np.datetime64("2020-01-01")),
    "timedelta64": lambda s: np.full(s, np.timedelta64(1, "s")),
    "object": lambda s: np.ones(s, object),
    "string": lambda s: np.full(s, "1.0"),
    "bytes": lambda s: np.full(s, b"1"),
}


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("kind", list(BAD_KINDS))
def test_non_real_cotangents_are_a_type_error_naming_the_cotangent(op: Any, kind: str) -> None:
    # Issue 6: complex cotangents lost their imaginary part (with a warning only), datetime64 ones
    # were used as numbers, strings raised NumPy's ValueError.
    x = np.array([[0.5, 1.0, 2.0], [3.0, -1.0, 0.0]])
    out, pullback = sg.vjp(op, x, axis=1)
    with pytest.raises(TypeError, match=rf"^{name(op)}: cotangent of out must be real, got dtype"):
        pullback(BAD_KINDS[kind](np.shape(out)))


@pytest.mark.parametrize("op", OPS, ids=name)
@pytest.mark.parametrize("kind", list(BAD_KINDS))
def test_non_real_tangents_are_a_type_error_naming_the_tangent(op: Any, kind: str) -> None:
    x = np.array([[0.5, 1.0, 2.0], [3.0, -1.0, 0.0]])
    p = x_name(op)
    with pytest.raises(TypeError, match=rf"^jvp\({name(op)}\): tangent of {p} must be real, got dtype"):
        sg.jvp(op, (x,), (BAD_KINDS[kind](x.shape),), axis=1)
    with pytest.raises(TypeError, match=rf"^jvp\({name(op)}\): tangent of temperature must be real"):
        sg.jvp(op, {p: x, "temperature": 1.0}, {p: None, "temperature": BAD_KINDS[kind](())}, axis=1)


@pytest.mark.parametrize("op", OPS, ids=name)
def test_bool_and_integer_cotangents_are_numbers(op: Any) -> None:
    x = np.array([[0.5, 1.0, 2.0], [3.0, -1.0, 0.0]])
    out, pullback = sg.vjp(op, x, axis=1)
    ones = np.ones(np.shape(out))
    want = pullback(ones)
    for ct in (ones.astype(bool), ones.astype(np.int8)):
        got = pullback(ct)
        np.testing.assert_array_equal(got[0], want[0])


def test_a_cotangent_of_the_wrong_shape_is_a_value_error() -> None:
    _, pullback = sg.vjp(sg.softmax, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^softmax: cotangent of out has shape \(3,\), expected \(2, 3\)"):
        pullback(np.ones(3))
    _, pullback = sg.vjp(sg.logsumexp, np.ones(3), return_sign=True)
    with pytest.raises(ValueError, match=r"^logsumexp: the cotangent must be a tuple of 2 entries"):
        pullback(1.0)


@pytest.mark.parametrize("op", OPS, ids=name)
def test_masked_cotangents_and_tangents_are_a_type_error(op: Any) -> None:
    x = np.array([[0.5, 1.0, 2.0], [3.0, -1.0, 0.0]])
    out, pullback = sg.vjp(op, x, axis=1)
    ct = np.ma.array(np.ones(np.shape(out)), mask=np.ones(np.shape(out), bool))
    with pytest.raises(TypeError, match=rf"^{name(op)}: cotangent of out is a masked array"):
        pullback(ct)
    t = np.ma.array(np.ones(x.shape), mask=np.eye(2, 3, dtype=bool))
    with pytest.raises(TypeError, match=rf"^jvp\({name(op)}\): tangent of {x_name(op)} is a masked array"):
        sg.jvp(op, (x,), (t,), axis=1)
    np.testing.assert_array_equal(
        pullback(np.ma.array(np.ones(np.shape(out))))[0], pullback(np.ones(np.shape(out)))[0]
    )


@pytest.mark.parametrize("op", OPS, ids=name)
def test_ragged_cotangents_and_tangents_are_a_type_error_naming_them(op: Any) -> None:
    # They raised NumPy's bare "setting an array element with a sequence" ValueError.
    x = np.array([[0.5, 1.0, 2.0], [3.0, -1.0, 0.0]])
    _, pullback = sg.vjp(op, x, axis=1)
    with pytest.raises(TypeError, match=rf"^{name(op)}: cotangent of out must be array-like"):
        pullback([1.0, [2.0, 3.0]])
    with pytest.raises(TypeError, match=rf"^jvp\({name(op)}\): tangent of {x_name(op)} must be array-like"):
        sg.jvp(op, (x,), ([[1.0, 1.0, 1.0], [1.0]],), axis=1)
