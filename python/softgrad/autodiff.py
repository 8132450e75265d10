"""Derivatives of softgrad's differentiable operations, NumPy style.

One convention for the whole library:

- ``out, pullback = vjp(op, *args, **kwargs)`` evaluates ``op(*args, **kwargs)`` and returns a
  function from an output cotangent to the input cotangents (as ``jax.vjp`` does);
- ``out, tangent_out = jvp(op, primals, tangents, **kwargs)`` pushes tangents forward.

Each differentiable operation declares, once, its differentiable parameters in order (for
:func:`softgrad.logsumexp`: ``a``, ``b``, ``temperature``), its outputs and which of them are not
differentiable (a sign, an argmax). ``pullback(ct)`` returns a named tuple with one cotangent per
declared parameter (``None`` for a parameter that was not given, such as ``b=None``); cotangents have
the shape of the argument they belong to and its floating dtype. ``ct`` has the structure of ``out``:
one array for a single output, a tuple for several; ``None`` stands for a zero cotangent, and the
cotangent of a non-differentiable output is ignored. ``primals`` and ``tangents`` are tuples bound to
the declared parameters in order (a prefix is allowed) or dicts keyed by parameter name; a ``None``
tangent means zero; every other argument goes in ``kwargs``.

A pullback depends only on the values at the time of ``vjp`` (as in JAX): changing an input array
afterwards does not change what it returns.

How an operation plugs in (the rules live in the operation's own module)::

    @differentiable(params=("x", "temperature"), call=_Call.of, examples=[Example({"x": (3, 4)})])
    def op(x, axis=-1, *, temperature=1.0): ...

    @rules(op).fwd
    def _(c: _Call) -> tuple[out, residuals]: ...      # residuals: whatever the backward needs

    @rules(op).bwd
    def _(res, ct) -> tuple[cotangent per param]: ... # ct: one array per differentiable output

    @rules(op).jvp                                    # optional
    def _(c: _Call, tangents: dict[str, Any]) -> tuple[out, tangent_out]: ...

``call`` normalises the bound arguments once into the object that the value path and the rules
share.
"""

from __future__ import annotations

import inspect
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.ma as ma  # imported now: NumPy loads it lazily, which fails in a call during shutdown

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R", bound=Callable[..., Any])


@dataclass(frozen=True)
class Example:
    """An example call of an operation, for the generic derivative tests.

    ``arrays`` maps argument names to the shapes of random float arguments (standard normal, or
    uniform in ``[0.5, 2]`` for names in ``positive``); ``kwargs`` holds the other arguments.
    """

    arrays: Mapping[str, tuple[int, ...]]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    positive: tuple[str, ...] = ()

    def draw(self, rng: np.random.Generator, dtype: Any = np.float64) -> dict[str, Any]:
        """The example's arguments with fresh random arrays of ``dtype``."""
        args: dict[str, Any] = dict(self.kwargs)
        for name, shape in self.arrays.items():
            v = rng.uniform(0.5, 2.0, shape) if name in self.positive else rng.standard_normal(shape)
            args[name] = np.asarray(v, dtype=dtype)
        return args


@dataclass
class Op:
    """The derivative machinery of one differentiable operation."""

    fn: Callable[..., Any]
    params: tuple[str, ...]
    outputs: tuple[str, ...]
    nondiff_outputs: frozenset[str]
    call: Callable[..., Any] | None
    examples: tuple[Example, ...]
    fwd_rule: Callable[[Any], tuple[Any, Any]] | None = None
    bwd_rule: Callable[[Any, Any], Sequence[Any]] | None = None
    jvp_rule: Callable[[Any, dict[str, Any]], tuple[Any, Any]] | None = None
    cotangents: type = field(init=False)
    signature: inspect.Signature = field(init=False)

    def __post_init__(self) -> None:
        name = "".join(p.title() for p in self.name.split("_")) + "Cotangents"
        self.cotangents = namedtuple(name, self.params)  # type: ignore[misc]
        self.signature = inspect.signature(self.fn)

    @property
    def name(self) -> str:
        return str(self.fn.__name__)

    # -- registration of the rules -------------------------------------------------------------

    def fwd(self, rule: R) -> R:
        """Register the forward rule: ``rule(call) -> (out, residuals)``."""
        self.fwd_rule = rule
        return rule

    def bwd(self, rule: R) -> R:
        """Register the backward rule: ``rule(residuals, ct) -> cotangents`` (one per parameter).

        ``ct`` is one array for an operation with one differentiable output, else a tuple with one
        array per differentiable output. Cotangents may be ``None`` (zero, or an absent argument).
        """
        self.bwd_rule = rule
        return rule

    def jvp(self, rule: R) -> R:
        """Register the forward-mode rule: ``rule(call, tangents) -> (out, tangent_out)``.

        ``tangents`` maps parameter names to non-``None`` tangents (checked against the primals).
        """
        self.jvp_rule = rule
        return rule

    # -- calling -------------------------------------------------------------------------------

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def prepare(self, bound: dict[str, Any]) -> Any:
        return self.call(**bound) if self.call is not None else bound

    def check_cotangent(self, ct: Any, out: Any) -> Any:
        """``ct`` checked against the structure and shapes of ``out``; ``None`` becomes zeros.

        Returns one array for a single differentiable output, else a tuple of them.
        """
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        names = self.outputs[: len(outs)] if multi else self.outputs[:1]
        if multi:
            if not isinstance(ct, (tuple, list)) or len(ct) != len(outs):
                raise ValueError(
                    f"{self.name}: the cotangent must be a tuple of {len(outs)} entries "
                    f"({', '.join(names)}), like the output"
                )
            cts = tuple(ct)
        else:
            cts = (ct,)
        diff = []
        for name, o, c in zip(names, outs, cts, strict=True):
            shape = np.shape(o)
            if c is None:
                if name not in self.nondiff_outputs:
                    diff.append(np.zeros(shape, dtype=_float_dtype(o)))
                continue
            arr = _unmasked(c, f"{self.name}: cotangent of {name}")
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{self.name}: cotangent of {name} must be real, got dtype {arr.dtype}")
            if arr.shape != shape:
                raise ValueError(f"{self.name}: cotangent of {name} has shape {arr.shape}, expected {shape}")
            if name not in self.nondiff_outputs:
                diff.append(arr)
        return diff[0] if len(diff) == 1 else tuple(diff)

    def check_tangents(self, call_args: Mapping[str, Any], tangents: Mapping[str, Any]) -> dict[str, Any]:
        """Tangents that are not ``None``, each checked against the shape of its primal."""
        out = {}
        for name, v in tangents.items():
            if v is None:
                continue
            primal = call_args[name]
            if primal is None:
                raise ValueError(f"jvp({self.name}): a tangent for {name}, which was not given")
            arr = _unmasked(v, f"jvp({self.name}): tangent of {name}")
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"jvp({self.name}): tangent of {name} must be real, got dtype {arr.dtype}")
            if arr.shape != np.shape(primal):
                raise ValueError(
                    f"jvp({self.name}): tangent of {name} has shape {arr.shape}, "
                    f"expected {np.shape(primal)} (the shape of {name})"
                )
            out[name] = v
        return out


def _unmasked(v: Any, what: str) -> np.ndarray[Any, Any]:
    """``np.asarray(v)``; TypeError (``what`` names it) for a masked array with masked entries, whose
    hidden values ``np.asarray`` would silently use."""
    if isinstance(v, ma.MaskedArray) and ma.getmask(v) is not ma.nomask and np.any(ma.getmask(v)):
        raise TypeError(f"{what} is a masked array with masked entries, which softgrad does not support")
    try:
        return np.asarray(ma.getdata(v) if isinstance(v, ma.MaskedArray) else v)
    except (TypeError, ValueError, OverflowError) as exc:  # ragged nested sequences
        raise TypeError(f"{what} must be array-like of real numbers ({exc})") from None


def _float_dtype(x: Any) -> np.dtype[Any]:
    dt = np.asarray(x).dtype
    return dt if dt.kind == "f" else np.dtype(np.float64)


_OPS: dict[Callable[..., Any], Op] = {}


def differentiable(
    *,
    params: Sequence[str],
    outputs: Sequence[str] = ("out",),
    nondiff_outputs: Sequence[str] = (),
    call: Callable[..., Any] | None = None,
    examples: Sequence[Example] = (),
) -> Callable[[F], F]:
    """Declare a function differentiable with respect to ``params`` (returns it unchanged).

    Parameters
    ----------
    params : sequence of str
        The differentiable parameters, in the order of the cotangent tuple.
    outputs : sequence of str
        Names of the outputs, in order (an operation that sometimes returns a tuple, such as
        ``logsumexp(return_sign=True)``, names them all).
    nondiff_outputs : sequence of str
        Outputs whose cotangent is ignored (signs, indices, counts).
    call : callable, optional
        ``call(**bound_arguments)`` builds the normalised call object handed to the rules.
    examples : sequence of Example
        Calls on which the generic tests check the rules.
    """

    def register(fn: F) -> F:
        sig = inspect.signature(fn)
        missing = [p for p in params if p not in sig.parameters]
        if missing:
            raise ValueError(f"differentiable: {fn.__name__} has no parameter(s) {missing}")
        unknown = set(nondiff_outputs) - set(outputs)
        if unknown:
            raise ValueError(f"differentiable: {fn.__name__} has no output(s) {sorted(unknown)}")
        _OPS[fn] = Op(fn, tuple(params), tuple(outputs), frozenset(nondiff_outputs), call, tuple(examples))
        return fn

    return register


def rules(op: Callable[..., Any]) -> Op:
    """The registration of a differentiable operation (to attach its rules, or to inspect it)."""
    try:
        return _OPS[op]
    except (KeyError, TypeError):
        name = getattr(op, "__name__", repr(op))
        known = ", ".join(sorted(o.name for o in _OPS.values()))
        raise TypeError(
            f"vjp/jvp: {name} is not a differentiable softgrad operation (known: {known})"
        ) from None


def registered() -> list[Op]:
    """Every registered differentiable operation."""
    return list(_OPS.values())


def vjp(op: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Callable[[Any], Any]]:
    """Evaluate ``op(*args, **kwargs)`` and return ``(out, pullback)``.

    Parameters
    ----------
    op : callable
        A differentiable softgrad operation, e.g. :func:`softgrad.logsumexp`.
    *args, **kwargs
        Its arguments, exactly as for a direct call.

    Returns
    -------
    out : ndarray or tuple
        ``op(*args, **kwargs)``. It may be read-only (for :func:`softgrad.softmax` and
        :func:`softgrad.log_softmax`): the output of vjp is read-only when the pullback keeps it;
        copy it to change it, as JAX arrays are immutable.
    pullback : callable
        ``pullback(ct)`` maps a cotangent of ``out`` (same structure and shapes; ``None`` for zero)
        to a named tuple of cotangents, one per differentiable parameter of ``op``:
        ``ct @ d out / d param``. It may be called any number of times.

    Raises
    ------
    TypeError
        If ``op`` is not differentiable or the arguments do not fit its signature, or for complex
        input (the rules are real); from the pullback, a cotangent that is not real (complex,
        datetime, object, string).
    ValueError
        As ``op`` does for bad arguments; from the pullback, a cotangent of the wrong structure
        or shape.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> out, pullback = softgrad.vjp(softgrad.logsumexp, np.array([0.0, 1.0]))
    >>> pullback(1.0).a  # the softmax
    array([0.26894142, 0.73105858])
    """
    spec = rules(op)
    if spec.fwd_rule is None or spec.bwd_rule is None:
        raise TypeError(f"vjp: {spec.name} has no reverse-mode rule")
    bound = spec.bind(args, kwargs)
    out, res = spec.fwd_rule(spec.prepare(bound))
    bwd = spec.bwd_rule
    present = [bound[p] is not None for p in spec.params]

    def pullback(ct: Any) -> Any:
        grads = tuple(bwd(res, spec.check_cotangent(ct, out)))
        if len(grads) != len(spec.params):
            raise RuntimeError(f"{spec.name}: backward rule returned {len(grads)} cotangents")
        return spec.cotangents(*(g if p else None for g, p in zip(grads, present, strict=True)))

    return out, pullback


def jvp(
    op: Callable[..., Any],
    primals: Sequence[Any] | Mapping[str, Any],
    tangents: Sequence[Any] | Mapping[str, Any],
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Evaluate ``op`` and its directional derivative: ``(out, d out[tangents])``.

    Parameters
    ----------
    op : callable
        A differentiable softgrad operation.
    primals : tuple or dict
        Values of differentiable parameters: a tuple bound to them in declaration order (a prefix
        is allowed) or a dict keyed by name.
    tangents : tuple or dict
        Same structure as ``primals``; ``None`` entries are zero tangents.
    **kwargs
        The remaining arguments of ``op``.

    Returns
    -------
    out, tangent_out
        ``op(...)`` and ``Σ_p (d out / d p) · tangent_p``, shaped like ``out`` (a tuple for several
        outputs; non-differentiable outputs get zero tangents).

    Raises
    ------
    TypeError
        ``op`` is not differentiable or has no forward-mode rule; ``primals``/``tangents`` are
        neither tuples nor dicts; complex input; a tangent that is not real.
    ValueError
        Mismatched structure or shapes.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.jvp(softgrad.logsumexp, (np.zeros(2),), (np.ones(2),))
    (np.float64(0.6931471805599453), np.float64(1.0))
    """
    spec = rules(op)
    name = spec.name
    if spec.jvp_rule is None:
        raise TypeError(f"jvp: {name} has no forward-mode rule (use vjp)")
    p, t = _named(spec, primals, "primals"), _named(spec, tangents, "tangents")
    if set(p) != set(t):
        raise ValueError(
            f"jvp({name}): primals and tangents name different parameters: {sorted(p)} vs {sorted(t)}"
        )
    clash = set(p) & set(kwargs)
    if clash:
        raise ValueError(f"jvp({name}): {sorted(clash)} given both in primals and as keyword arguments")
    bound = spec.bind((), {**kwargs, **p})
    checked = spec.check_tangents(bound, t)
    return spec.jvp_rule(spec.prepare(bound), checked)


def _named(spec: Op, values: Sequence[Any] | Mapping[str, Any], what: str) -> dict[str, Any]:
    name = spec.name
    if isinstance(values, Mapping):
        unknown = set(values) - set(spec.params)
        if unknown:
            raise ValueError(f"jvp({name}): {what} names {sorted(unknown)}, not among {list(spec.params)}")
        return dict(values)
    if not isinstance(values, (tuple, list)):
        raise TypeError(f"jvp({name}): {what} must be a tuple or a dict, got {type(values).__name__}")
    if len(values) > len(spec.params):
        raise ValueError(
            f"jvp({name}): {what} has {len(values)} entries, more than the differentiable "
            f"parameters {list(spec.params)}"
        )
    return dict(zip(spec.params[: len(values)], values, strict=True))
