"""The derivative machinery, checked generically: every registered op, on each of its examples.

A new differentiable op is tested here by registering it with examples: its VJP and JVP against
central finite differences, the adjoint identity ``<u, J v> = <J^T u, v>``, the dtypes and shapes of
cotangents and tangents, results independent of the thread count, and pullbacks that depend only on
the values at ``vjp`` time. The registry's own mechanics (cotangent structure, errors) follow.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import softgrad as sg
from conftest import assert_jvp_matches_fd, assert_vjp_matches_fd, call_strict, f64, vdot
from softgrad import autodiff
from softgrad.autodiff import Example, Op

CASES = [
    pytest.param(op, ex, id=f"{op.name}-{i}")
    for op in autodiff.registered()
    for i, ex in enumerate(op.examples)
]


def test_every_public_differentiable_op_has_examples() -> None:
    ops = autodiff.registered()
    assert {op.name for op in ops} >= {"logsumexp", "softmax", "log_softmax", "smooth_max", "smooth_min"}
    for op in ops:
        assert len(op.examples) >= 3, op.name
        assert getattr(sg, op.name) is op.fn


def primal_values(op: Op, args: dict[str, Any]) -> list[Any]:
    """The differentiable arguments of a call, defaults applied (None where absent)."""
    params = op.signature.parameters
    return [args.get(p, params[p].default) for p in op.params]


def as_function(op: Op, args: dict[str, Any]) -> Callable[..., Any]:
    """``op`` as a function of its differentiable arguments, the others fixed."""

    def f(*values: Any) -> Any:
        return op.fn(**{**args, **dict(zip(op.params, values, strict=True))})

    return f


def random_like(out: Any, rng: np.random.Generator, op: Op) -> Any:
    """A random cotangent with the structure of ``out`` (None for non-differentiable outputs)."""
    if isinstance(out, tuple):
        return tuple(
            None if name in op.nondiff_outputs else rng.standard_normal(np.shape(o))
            for name, o in zip(op.outputs, out, strict=False)
        )
    return rng.standard_normal(np.shape(out))


def first(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize(("op", "ex"), CASES)
def test_vjp_matches_central_differences(op: Op, ex: Example, rng) -> None:
    args = ex.draw(rng)
    out, pullback = call_strict(sg.vjp, op.fn, **args)
    np.testing.assert_array_equal(first(out), first(op.fn(**args)))
    ct = random_like(out, rng, op)
    cts = call_strict(pullback, ct)
    assert cts._fields == op.params
    primals = primal_values(op, args)
    for p, c in zip(primals, cts, strict=True):
        assert (c is None) == (p is None)
    assert_vjp_matches_fd(as_function(op, args), primals, list(cts), first(ct), rng, rtol=1e-7)


@pytest.mark.parametrize(("op", "ex"), CASES)
def test_jvp_matches_central_differences_and_is_adjoint_to_vjp(op: Op, ex: Example, rng) -> None:
    args = ex.draw(rng)
    primals = primal_values(op, args)
    tangents = [
        None if p is None else (rng.standard_normal(np.shape(p)) if np.ndim(p) else 0.7) for p in primals
    ]
    kwargs = {k: v for k, v in args.items() if k not in op.params}
    out, tan = call_strict(sg.jvp, op.fn, tuple(primals), tuple(tangents), **kwargs)
    np.testing.assert_array_equal(first(out), first(op.fn(**args)))
    if isinstance(out, tuple):
        for name, o, tn in zip(op.outputs, out, tan, strict=False):
            assert np.shape(tn) == np.shape(o)
            if name in op.nondiff_outputs:
                np.testing.assert_array_equal(tn, 0.0)
    assert_jvp_matches_fd(first(tan), as_function(op, args), primals, tangents, rtol=1e-7)
    # <u, J v> = <J^T u, v>
    _, pullback = sg.vjp(op.fn, **args)
    u = random_like(out, rng, op)
    cts = pullback(u)
    lhs = vdot(first(u), first(tan))
    rhs = sum(vdot(c, v) for c, v in zip(cts, tangents, strict=True) if v is not None)
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize(("op", "ex"), CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cotangents_and_tangents_have_the_shapes_and_dtypes_of_their_arguments(
    op: Op, ex: Example, dtype: Any, rng
) -> None:
    args = ex.draw(rng, dtype)
    out, pullback = sg.vjp(op.fn, **args)
    out_dtype = np.asarray(first(out)).dtype
    assert out_dtype == dtype
    cts = pullback(random_like(out, rng, op))
    for p, c in zip(primal_values(op, args), cts, strict=True):
        if p is None:
            continue
        assert np.shape(c) == np.shape(p)
        # arrays keep their dtype; a scalar parameter's cotangent is a NumPy scalar of the output's
        want = p.dtype if isinstance(p, np.ndarray) else out_dtype
        assert isinstance(c, (np.ndarray, np.generic)) and c.dtype == want, (type(c), want)
    primals = primal_values(op, args)
    tangents = [None if p is None else np.ones(np.shape(p), dtype) if np.ndim(p) else 1.0 for p in primals]
    kwargs = {k: v for k, v in args.items() if k not in op.params}
    _, tan = sg.jvp(op.fn, tuple(primals), tuple(tangents), **kwargs)
    assert np.shape(first(tan)) == np.shape(first(out))
    assert np.asarray(first(tan)).dtype == dtype


@pytest.mark.parametrize(("op", "ex"), CASES)
def test_pullbacks_do_not_depend_on_the_thread_count(op: Op, ex: Example, rng) -> None:
    if "n_threads" not in op.signature.parameters:
        pytest.skip("no n_threads")
    args = ex.draw(rng)
    # values spread over many magnitudes, so that a change in the order of a sum changes its bits
    for k, v in args.items():
        if isinstance(v, np.ndarray) and k not in ("b",):
            args[k] = v * np.exp2(rng.integers(-20, 20, v.shape))
    results = []
    for n in (1, 2, 3):
        out, pullback = sg.vjp(op.fn, **args, n_threads=n)
        ct = random_like(out, np.random.default_rng(7), op)
        results.append((first(out), *pullback(ct)))
    for other in results[1:]:
        for u, v in zip(results[0], other, strict=True):
            if u is not None:
                np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(("op", "ex"), CASES)
def test_pullback_uses_the_values_at_vjp_time(op: Op, ex: Example, rng) -> None:
    args = ex.draw(rng)
    out, pullback = sg.vjp(op.fn, **args)
    ct = random_like(out, rng, op)
    before = pullback(ct)
    for v in args.values():  # change every input array in place, and the output too
        if isinstance(v, np.ndarray) and v.ndim:
            v[...] = 100.0 * rng.standard_normal(v.shape)
    for o in out if isinstance(out, tuple) else (out,):
        if isinstance(o, np.ndarray) and o.ndim and o.flags.writeable:
            o[...] = -7.0
    after = pullback(ct)
    for u, v in zip(before, after, strict=True):
        if u is not None:
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(("op", "ex"), CASES)
def test_none_is_a_zero_cotangent_and_a_zero_tangent(op: Op, ex: Example, rng) -> None:
    args = ex.draw(rng)
    out, pullback = sg.vjp(op.fn, **args)
    zero = tuple(None for _ in out) if isinstance(out, tuple) else None
    for p, c in zip(primal_values(op, args), pullback(zero), strict=True):
        if p is not None:
            np.testing.assert_array_equal(c, 0.0)
    kwargs = {k: v for k, v in args.items() if k not in op.params}
    primals = primal_values(op, args)
    _, tan = sg.jvp(op.fn, tuple(primals), tuple(None for _ in primals), **kwargs)
    np.testing.assert_array_equal(first(tan), 0.0)


@pytest.mark.parametrize(("op", "ex"), CASES)
def test_cotangent_structure_and_shape_are_checked(op: Op, ex: Example, rng) -> None:
    args = ex.draw(rng)
    out, pullback = sg.vjp(op.fn, **args)
    ct = random_like(out, rng, op)
    wrong_shape = np.ones((*np.shape(first(out)), 2))
    with pytest.raises(ValueError, match=f"{op.name}: .*cotangent"):
        pullback((wrong_shape, *ct[1:]) if isinstance(out, tuple) else wrong_shape)
    complex_ct = np.ones(np.shape(first(out)), complex)
    with pytest.raises(TypeError, match=f"{op.name}: cotangent"):
        pullback((complex_ct, *ct[1:]) if isinstance(out, tuple) else complex_ct)
    if isinstance(out, tuple):
        with pytest.raises(ValueError, match="tuple"):
            pullback(ct[0])


# ---------------------------------------------------------------------------------------------
# the registry's mechanics, on throwaway ops


@pytest.fixture
def scratch_ops() -> Iterator[list[Callable[..., Any]]]:
    made: list[Callable[..., Any]] = []
    yield made
    for fn in made:
        autodiff._OPS.pop(fn, None)


def test_a_registered_op_gets_vjp_and_a_clear_error_without_jvp(scratch_ops) -> None:
    def cube(x, *, scale=1.0):
        return scale * np.asarray(x) ** 3, np.sign(x)

    autodiff.differentiable(params=("x", "scale"), outputs=("y", "s"), nondiff_outputs=("s",))(cube)
    scratch_ops.append(cube)
    spec = autodiff.rules(cube)

    @spec.fwd
    def _(bound):
        x, scale = np.asarray(bound["x"], float), bound["scale"]
        return cube(x, scale=scale), (x.copy(), scale)

    @spec.bwd
    def _(res, ct):
        x, scale = res
        return 3 * scale * x**2 * ct, np.sum(x**3 * ct)

    x = np.array([1.0, -2.0])
    (y, _), pullback = sg.vjp(cube, x, scale=2.0)
    np.testing.assert_array_equal(y, [2.0, -16.0])
    cts = pullback((np.ones(2), None))
    np.testing.assert_array_equal(cts.x, [6.0, 24.0])
    assert cts.scale == -7.0
    with pytest.raises(TypeError, match="cube has no forward-mode rule"):
        sg.jvp(cube, (x,), (x,))


def test_registration_is_checked() -> None:
    def f(x):
        return x

    with pytest.raises(ValueError, match="no parameter"):
        autodiff.differentiable(params=("y",))(f)
    with pytest.raises(ValueError, match="no output"):
        autodiff.differentiable(params=("x",), nondiff_outputs=("idx",))(f)
    assert f not in {op.fn for op in autodiff.registered()}


@pytest.mark.parametrize("op", [np.sum, np.exp, max, lambda x: x, sg.set_num_threads, sg.get_num_threads])
def test_non_differentiable_ops_are_a_type_error(op) -> None:
    with pytest.raises(TypeError, match="differentiable"):
        sg.vjp(op, np.ones(3))
    with pytest.raises(TypeError, match="differentiable"):
        sg.jvp(op, (np.ones(3),), (np.ones(3),))


def test_examples_draw_their_arrays() -> None:
    ex = Example({"a": (2, 3), "b": (3,)}, {"axis": 1}, positive=("b",))
    args = ex.draw(np.random.default_rng(0), np.float32)
    assert args["a"].shape == (2, 3) and args["a"].dtype == np.float32
    assert np.all(args["b"] >= 0.5) and args["axis"] == 1
    assert inspect.signature(ex.draw).parameters["dtype"].default is np.float64
    assert f64(args["a"]).dtype == np.float64
