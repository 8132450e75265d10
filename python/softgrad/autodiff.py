"""Derivatives of softgrad's differentiable operations, NumPy style.

One convention for the whole library:

- ``out, pullback = vjp(op, *args, **kwargs)`` evaluates ``op(*args, **kwargs)`` and returns a
  function from an output cotangent to the input cotangents (as ``jax.vjp`` does);
- ``out, tangent_out = jvp(op, primals, tangents, **kwargs)`` pushes tangents forward.

Each differentiable operation declares its differentiable parameters in order (for
:func:`softgrad.logsumexp`: ``a``, ``b``, ``temperature``). ``pullback(ct)`` returns a named tuple
with one cotangent per declared parameter (``None`` for a parameter that was not given, such as
``b=None``); cotangents have the shape and dtype of the argument they belong to. ``primals`` and
``tangents`` are tuples bound to the declared parameters in order (a prefix is allowed) or dicts
keyed by parameter name; a ``None`` tangent means zero; every other argument goes in ``kwargs``.
Operations register themselves with :func:`register` when their module is imported.
"""

from __future__ import annotations

import inspect
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A rule takes the op's bound arguments (every parameter, defaults applied) and returns
# (out, pullback) for vjp, or (out, tangent_out) given a dict of tangents for jvp.
VjpRule = Callable[[dict[str, Any]], tuple[Any, Callable[[Any], tuple[Any, ...]]]]
JvpRule = Callable[[dict[str, Any], dict[str, Any]], tuple[Any, Any]]


@dataclass(frozen=True)
class Rule:
    """The derivative rules of one operation."""

    op: Callable[..., Any]
    params: tuple[str, ...]
    vjp: VjpRule
    jvp: JvpRule
    cotangents: type = field(init=False)
    signature: inspect.Signature = field(init=False)

    def __post_init__(self) -> None:
        name = "".join(p.title() for p in self.op.__name__.split("_")) + "Cotangents"
        object.__setattr__(self, "cotangents", namedtuple(name, self.params))
        object.__setattr__(self, "signature", inspect.signature(self.op))

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.op.__name__}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)


_RULES: dict[Callable[..., Any], Rule] = {}


def register(op: Callable[..., Any], params: Sequence[str], *, vjp: VjpRule, jvp: JvpRule) -> None:
    """Make ``op`` differentiable with respect to ``params`` through :func:`vjp` and :func:`jvp`."""
    sig = inspect.signature(op)
    missing = [p for p in params if p not in sig.parameters]
    if missing:
        raise ValueError(f"register: {op.__name__} has no parameter(s) {missing}")
    _RULES[op] = Rule(op, tuple(params), vjp, jvp)


def _rule(op: Callable[..., Any]) -> Rule:
    try:
        return _RULES[op]
    except (KeyError, TypeError):
        name = getattr(op, "__name__", repr(op))
        known = ", ".join(sorted(r.op.__name__ for r in _RULES.values()))
        raise TypeError(
            f"vjp/jvp: {name} is not a differentiable softgrad operation (known: {known})"
        ) from None


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
        ``op(*args, **kwargs)``.
    pullback : callable
        ``pullback(ct)`` maps a cotangent of ``out`` (same shape) to a named tuple of cotangents,
        one per differentiable parameter of ``op``: ``ct @ d out / d param``.

    Raises
    ------
    TypeError
        If ``op`` is not differentiable or the arguments do not fit its signature.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> out, pullback = softgrad.vjp(softgrad.logsumexp, np.array([0.0, 1.0]))
    >>> pullback(1.0).a  # the softmax
    array([0.26894142, 0.73105858])
    """
    rule = _rule(op)
    out, pull = rule.vjp(rule.bind(args, kwargs))

    def pullback(ct: Any) -> Any:
        return rule.cotangents(*pull(ct))

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
        ``op(...)`` and ``Σ_p (d out / d p) · tangent_p``, shaped like ``out``.

    Examples
    --------
    >>> import numpy as np, softgrad
    >>> softgrad.jvp(softgrad.logsumexp, (np.zeros(2),), (np.ones(2),))
    (np.float64(0.6931471805599453), np.float64(1.0))
    """
    rule = _rule(op)
    name = op.__name__
    p, t = _named(rule, primals, "primals"), _named(rule, tangents, "tangents")
    if set(p) != set(t):
        raise ValueError(
            f"jvp({name}): primals and tangents name different parameters: {sorted(p)} vs {sorted(t)}"
        )
    clash = set(p) & set(kwargs)
    if clash:
        raise ValueError(f"jvp({name}): {sorted(clash)} given both in primals and as keyword arguments")
    bound = rule.bind((), {**kwargs, **p})
    return rule.jvp(bound, {k: v for k, v in t.items() if v is not None})


def _named(rule: Rule, values: Sequence[Any] | Mapping[str, Any], what: str) -> dict[str, Any]:
    name = rule.op.__name__
    if isinstance(values, Mapping):
        unknown = set(values) - set(rule.params)
        if unknown:
            raise ValueError(f"jvp({name}): {what} names {sorted(unknown)}, not among {list(rule.params)}")
        return dict(values)
    if not isinstance(values, (tuple, list)):
        raise TypeError(f"jvp({name}): {what} must be a tuple or a dict, got {type(values).__name__}")
    if len(values) > len(rule.params):
        raise ValueError(
            f"jvp({name}): {what} has {len(values)} entries, more than the differentiable "
            f"parameters {list(rule.params)}"
        )
    return dict(zip(rule.params[: len(values)], values, strict=True))
