"""Ops of your own: a primitive defined from its forward and its local derivatives.

>>> import autograd
>>> from autograd import Value
>>> @autograd.primitive(symbol="×")
... def times(x, y):
...     return x * y
>>> @times.derivative
... def times_derivative(g, out, x, y):
...     return g * y, g * x  # the multiply node swaps its inputs
>>> apple, num = Value(100.0), Value(2.0)
>>> price = times(apple, num)
>>> price.backward()
>>> price.data, apple.grad, num.grad
(200.0, 2.0, 100.0)

The op joins ``autograd.OPS`` under the forward's name, so drawings show its symbol,
``gradcheck`` checks it and pickled graphs find it again. Its derivative gets floats on
``backward()``, Values under ``grad(..., create_graph=True)`` and NumPy arrays in a
batch: written with operators and autograd's functions (``autograd.cos``,
``autograd.exp``, ``autograd.where``, ...), which accept all three, it is
differentiable again. A forward written with NumPy (``np.sin``) accepts both floats
and arrays.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from .engine import Value, _number, apply_op, apply_variadic
from .ops import _TABLE, OPS, VARIADIC, Op

__all__ = ["Primitive", "primitive"]

_BUILT_IN = frozenset(op.name for op in _TABLE)
_REAL = (-5.0, 5.0)


def primitive(
    forward: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    symbol: str | None = None,
    domain: Sequence[tuple[float, float]] | None = None,
    kinks: Sequence[float] = (),
) -> Any:
    """Decorator: make ``forward`` a primitive op; give its derivative with ``@op.derivative``.

    ``forward`` takes one or two numbers, or any number of them (``def f(*xs)``), and
    returns the result. The derivative takes ``(g, out, *operands)``, the upstream
    gradient, the result and the operands, and returns each operand's gradient: one
    for a unary op, a pair for a binary one, a list otherwise.

    Args:
        forward: the forward function (when used as ``@primitive`` without arguments).
        name: the op's name in ``autograd.OPS`` and on its nodes (default: the function's).
        symbol: how drawings show it (default: the name).
        domain: per operand, the ``(low, high)`` interval where tests may check it
            (default: (-5, 5)).
        kinks: points where its derivative jumps.
    """

    def make(fn: Callable[..., Any]) -> Primitive:
        return Primitive(fn, name=name, symbol=symbol, domain=domain, kinks=kinks)

    return make(forward) if forward is not None else make


class Primitive:
    """An op of your own: call it on Values or numbers to make its node.

    Made by :func:`primitive`; it joins ``autograd.OPS`` once :meth:`derivative` gives
    its local derivatives.
    """

    def __init__(
        self,
        forward: Callable[..., Any],
        *,
        name: str | None = None,
        symbol: str | None = None,
        domain: Sequence[tuple[float, float]] | None = None,
        kinks: Sequence[float] = (),
    ) -> None:
        if not callable(forward):
            raise TypeError(f"primitive() takes a function; got {type(forward).__name__} {forward!r:.60}")
        for what, given in (("name", name), ("symbol", symbol)):
            if given is not None and (not isinstance(given, str) or not given):
                raise TypeError(f"primitive(): {what} must be a non-empty string; got {type(given).__name__} {given!r:.60}")
        self.name = name or forward.__name__
        if self.name == "<lambda>":  # two such ops would replace each other in autograd.OPS
            raise TypeError("primitive(): a lambda has no name; give the op one with name=...")
        if self.name in _BUILT_IN:
            raise ValueError(f"primitive(): {self.name!r} is a built-in op; give your op another name (name=...)")
        self.symbol = symbol or self.name
        self.arity = _arity(forward, self.name)
        count = 1 if self.arity == VARIADIC else self.arity
        self.domain = tuple(domain) if domain is not None else (_REAL,) * count
        self.kinks = tuple(kinks)
        self.forward = forward
        self.op: Op | None = None
        self.__doc__ = forward.__doc__
        self.__name__ = self.name

    def derivative(self, backward: Callable[..., Any]) -> Primitive:
        """Decorator: the local derivatives ``backward(g, out, *operands)``; the op joins ``autograd.OPS``."""
        if not callable(backward):
            raise TypeError(f"{self.name}.derivative takes a function; got {type(backward).__name__}")
        self.op = Op(
            self.name, self.symbol, self.arity, _checked_forward(self), _checked_backward(self, backward),
            self.domain, kinks=self.kinks,
        )  # fmt: skip
        OPS[self.name] = self.op  # replaces an earlier op of your own by this name (a notebook cell run again)
        return self

    def __call__(self, *operands: Value | float) -> Value:
        op = self.op
        if op is None:
            raise RuntimeError(f"op {self.name!r} has no derivative yet; give it with @{self.name}.derivative")
        if self.arity != VARIADIC and len(operands) != self.arity:
            raise TypeError(f"op {self.name!r} takes {self.arity} operand(s); got {len(operands)}")
        if self.arity == VARIADIC:
            return apply_variadic(op, operands)
        args = tuple(a if a.__class__ is Value else _number(a, self.name) for a in operands)
        return apply_op(op, args)

    def __repr__(self) -> str:
        return f"<primitive {self.name!r} ({self.symbol})>"


def _arity(forward: Callable[..., Any], name: str) -> int:
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        raise TypeError(f"primitive(): cannot read the parameters of {name!r}; give a Python function") from None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return VARIADIC
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) not in (1, 2):
        raise TypeError(
            f"primitive(): {name!r} takes {len(positional)} parameters; an op takes 1 or 2 operands, or *operands"
        )
    return len(positional)


def _as_result(x: object, what: str, name: str, values_ok: bool = False) -> Any:
    """A float for a plain number; a Value (where ``values_ok``) or an array as it is;
    else a TypeError naming the op."""
    if x.__class__ is float or (values_ok and x.__class__ is Value):
        return x
    if getattr(x, "ndim", 0):  # an array: the batch kind
        return x
    if x.__class__ is Value:  # .grad must stay a float: backward() adds this into it
        raise TypeError(
            f"op {name!r}: its {what} gave a Value ({x!r:.60}) from numbers; given numbers it must give "
            "numbers (does it use a Value that is not one of its arguments?)"
        )
    try:
        return _number(x, "")
    except (TypeError, ValueError):
        accepted = "a number or a Value is accepted" if values_ok else "a number is accepted"
        raise TypeError(f"op {name!r}: its {what} gave {type(x).__name__} {x!r:.60}; {accepted}") from None


def _checked_forward(p: Primitive) -> Callable[..., Any]:
    fn, name = p.forward, p.name
    if p.arity == VARIADIC:
        return lambda xs: _as_result(fn(*xs), "forward", name)
    return lambda *xs: _as_result(fn(*xs), "forward", name)


def _checked_backward(p: Primitive, fn: Callable[..., Any]) -> Callable[..., Any]:
    name, arity = p.name, p.arity

    def backward(g: Any, out: Any, *operands: Any) -> Any:
        xs = operands[0] if arity == VARIADIC else operands
        grads = fn(g, out, *xs)
        values_ok = g.__class__ is Value or out.__class__ is Value  # under grad(..., create_graph=True)
        if arity == 1:
            if isinstance(grads, (tuple, list)):
                if len(grads) != 1:
                    raise ValueError(f"op {name!r}: its derivative gave {len(grads)} gradients for 1 operand")
                grads = grads[0]
            return _as_result(grads, "derivative", name, values_ok)
        if not isinstance(grads, (tuple, list)):
            raise ValueError(
                f"op {name!r}: its derivative gave {type(grads).__name__} {grads!r:.60}; "
                f"it must give a tuple or list of {len(xs)} gradients, one per operand"
            )
        if len(grads) != len(xs):
            raise ValueError(f"op {name!r}: its derivative gave {len(grads)} gradients for {len(xs)} operands")
        checked = [_as_result(gk, "derivative", name, values_ok) for gk in grads]
        return tuple(checked) if arity == 2 else checked

    return backward
