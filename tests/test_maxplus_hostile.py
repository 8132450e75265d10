"""The tropical products as a hostile user calls them: wrong dtypes and shapes, read-only, unaligned
and non-contiguous arrays, huge integers, infinities, two threads at once, and the binding's own
checks (these are the checks tests/test_robustness.py makes of the float-only bindings)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import softgrad as sg
from oracles.maxplus import tropical
from softgrad._core import maxplus as K

OPS = [sg.maxplus_matmul, sg.minplus_matmul]


@pytest.mark.parametrize("op", OPS)
def test_shape_mismatches_name_both_shapes(op: Any) -> None:
    name = op.__name__
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(3, 4\) \(a\) and \(5, 2\) \(b\) do not match"):
        op(np.zeros((3, 4)), np.zeros((5, 2)))
    with pytest.raises(
        ValueError, match=rf"^{name}: shapes \(2, 3, 4\) \(a\) and \(3, 4, 2\) \(b\).*broadcast"
    ):
        op(np.zeros((2, 3, 4)), np.zeros((3, 4, 2)))
    with pytest.raises(ValueError, match=rf"^{name}: a and b must have at least one dimension"):
        op(np.float64(1.0), np.zeros(3))
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(3,\) \(a\) and \(4,\) \(b\)"):
        op(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 2), complex), np.zeros((2, 2), object), np.array([["a", "b"], ["c", "d"]])],
)
def test_wrong_dtypes_are_type_errors(op: Any, bad: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{op.__name__}: "):
        op(bad, np.zeros((2, 2)))
    with pytest.raises(TypeError, match=rf"^{op.__name__}: "):
        op(np.zeros((2, 2)), bad)
    u64 = np.zeros((2, 2), np.uint64)
    with pytest.raises(TypeError, match=rf"^{op.__name__}: uint64 is not supported"):
        op(u64, u64)
    with pytest.raises(TypeError, match=rf"^{op.__name__}: return_argmax must be a bool"):
        op(np.zeros((2, 2)), np.zeros((2, 2)), return_argmax="yes")


def test_lists_read_only_unaligned_and_non_contiguous_inputs_work_and_are_left_alone(rng) -> None:
    a, b = rng.standard_normal((30, 20)), rng.standard_normal((20, 25))
    want = sg.maxplus_matmul(a, b)
    np.testing.assert_array_equal(sg.maxplus_matmul(a.tolist(), b.tolist()), want)
    ra, rb = a.copy(), b.copy()
    ra.flags.writeable = rb.flags.writeable = False
    np.testing.assert_array_equal(sg.maxplus_matmul(ra, rb), want)
    buf = bytearray(a.nbytes + 1)
    ua: np.ndarray = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    ua[...] = a
    assert not ua.flags.aligned
    np.testing.assert_array_equal(sg.maxplus_matmul(ua, b), want)
    big = np.zeros((60, 40))
    big[::2, ::2] = a
    view = big[::2, ::2]
    np.testing.assert_array_equal(sg.maxplus_matmul(view, b), want)
    np.testing.assert_array_equal(big[::2, ::2], a)
    np.testing.assert_array_equal(sg.maxplus_matmul(np.asfortranarray(a), np.asfortranarray(b)), want)


def test_zero_size_dimensions() -> None:
    for sa, sb in [
        ((0, 3), (3, 4)),
        ((2, 3), (3, 0)),
        ((0, 2, 3), (3, 4)),
        ((2, 0), (0, 5)),
        ((1, 0, 0), (2, 0, 0)),
    ]:
        out, arg = sg.maxplus_matmul(np.zeros(sa), np.zeros(sb), return_argmax=True)
        assert out.shape == arg.shape == np.matmul(np.zeros(sa), np.zeros(sb)).shape
        assert (out == -np.inf).all() and (arg == -1).all()


def test_huge_integers_saturate_instead_of_wrapping() -> None:
    big = np.iinfo(np.int64).max
    a = np.array([[big, -big]], dtype=np.int64)
    b = np.array([[big], [-big]], dtype=np.int64)
    np.testing.assert_array_equal(sg.maxplus_matmul(a, b), [[big]])
    np.testing.assert_array_equal(sg.minplus_matmul(a, b), [[np.iinfo(np.int64).min]])
    i32 = np.iinfo(np.int32)
    x = np.array([[i32.max]], np.int32)
    assert sg.maxplus_matmul(x, x)[0, 0] == i32.max and sg.maxplus_matmul(x, x).dtype == np.int32
    # uint32 values that do not fit int32: computed in int64, exactly
    u = np.array([[4_000_000_000]], np.uint32)
    assert sg.maxplus_matmul(u, u)[0, 0] == 8_000_000_000


def test_float_extremes_overflow_to_inf_not_nan() -> None:
    m = np.finfo(np.float32).max
    a = np.array([[m, -np.inf]], np.float32)
    b = np.array([[m], [np.inf]], np.float32)
    out = sg.maxplus_matmul(a, b)
    assert out.dtype == np.float32 and out[0, 0] == np.inf
    out = sg.minplus_matmul(-a, -b)
    assert out[0, 0] == -np.inf


def test_two_threads_at_once_get_the_right_results(rng) -> None:
    xs = [(rng.standard_normal((90, 70)), rng.standard_normal((70, 80))) for _ in range(4)]
    want = [tropical(a, b)[0] for a, b in xs]
    errors: list[BaseException] = []
    got: dict[int, Any] = {}

    def work(i: int) -> None:
        try:
            got[i] = [sg.maxplus_matmul(*xs[i], n_threads=2) for _ in range(5)]
        except BaseException as e:  # reported below
            errors.append(e)

    ths = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert not errors
    for i in range(4):
        for g in got[i]:
            np.testing.assert_array_equal(g, want[i])


def test_thread_counts_are_checked() -> None:
    a = np.zeros((2, 2))
    with pytest.raises(TypeError, match=r"^maxplus_matmul: n_threads must be an int"):
        sg.maxplus_matmul(a, a, n_threads=True)
    with pytest.raises(ValueError, match=r"^maxplus_matmul: n_threads must be in 1\.\.="):
        sg.maxplus_matmul(a, a, n_threads=10**9)


def test_the_binding_checks_what_the_facade_hands_it() -> None:
    a = np.arange(6.0)
    off = np.zeros(1, np.int64)
    ok = dict(
        a=a,
        b=a,
        a_offsets=off,
        b_offsets=off,
        a_strides=(3, 1),
        b_strides=(2, 1),
        shape=(1, 2, 3, 2),
        semiring="max",
    )
    out, arg = K.matmul(**ok, argmax=True)
    assert out.shape == arg.shape == (4,)
    with pytest.raises(ValueError, match=r"^maxplus_matmul: b .*does not fit"):
        K.matmul(**{**ok, "b_strides": (3, 1)})
    with pytest.raises(ValueError, match=r"^maxplus_matmul: a_offsets must be >= 0"):
        K.matmul(**{**ok, "a_offsets": np.array([-1])})
    with pytest.raises(ValueError, match=r"^maxplus_matmul: a_offsets has length 2, expected 1"):
        K.matmul(**{**ok, "a_offsets": np.zeros(2, np.int64)})
    with pytest.raises(ValueError, match=r"semiring must be 'max' or 'min'"):
        K.matmul(**{**ok, "semiring": "plus"})
    with pytest.raises(TypeError, match=r"^minplus_matmul: b must have the dtype of a"):
        K.matmul(**{**ok, "b": a.astype(np.float32), "semiring": "min"})
    with pytest.raises(
        TypeError, match=r"^maxplus_matmul: a must be a float32, float64, int32 or int64 ndarray, got float16"
    ):
        K.matmul(**{**ok, "a": a.astype(np.float16)})
    with pytest.raises(TypeError, match=r"^maxplus_matmul: a must be C-contiguous"):
        K.matmul(**{**ok, "a": np.arange(12.0)[::2]})
    with pytest.raises(TypeError, match=r"^maxplus_matmul: n_threads must be an int"):
        K.matmul(**ok, n_threads=True)
    for t in (1, 2, 3):
        o2, _ = K.matmul(**ok, n_threads=t)
        np.testing.assert_array_equal(o2, out)
