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

import hashlib
import inspect
from collections.abc import Callable, Sequence
from types import CodeType
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
        self.op: Op | None = None
        self.name = name or forward.__name__  # checked by the name property
        self.symbol = symbol or self.name
        self.arity = _arity(forward, self.name)
        count = 1 if self.arity == VARIADIC else self.arity
        self.domain = tuple(domain) if domain is not None else (_REAL,) * count
        self.kinks = tuple(kinks)
        self.forward = forward
        self.__doc__ = forward.__doc__
        self.__name__ = self.name

    @property
    def name(self) -> str:
        """The op's name in ``autograd.OPS`` and on its nodes; fixed once the op is registered."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        if self.op is not None:
            raise AttributeError(
                f"op {self._name!r} is registered in autograd.OPS under its name, which cannot change; "
                "to register it under another, make a new op with primitive(..., name=...)"
            )
        self._name = _checked_name(name)
        self.__name__ = name

    def derivative(self, backward: Callable[..., Any]) -> Primitive:
        """Decorator: the local derivatives ``backward(g, out, *operands)``; the op joins ``autograd.OPS``."""
        if not callable(backward):
            raise TypeError(f"{self.name}.derivative takes a function; got {type(backward).__name__}")
        name = _checked_name(self.name)  # checked again where it takes effect
        op = Op(
            name, self.symbol, self.arity, _checked_forward(self), _checked_backward(self, backward),
            self.domain, kinks=self.kinks, fingerprint=(_fingerprint(self.forward), _fingerprint(backward)),
        )  # fmt: skip
        OPS[name] = op  # replaces an earlier op of your own by this name (a notebook cell run again)
        self.op = op
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


def _checked_name(name: object) -> str:
    """The name, if an op of your own may take it: a non-empty string, not a lambda's, not a built-in op's."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"primitive(): name must be a non-empty string; got {type(name).__name__} {name!r:.60}")
    if name == "<lambda>":  # two such ops would replace each other in autograd.OPS
        raise TypeError("primitive(): a lambda has no name; give the op one with name=...")
    if name in _BUILT_IN or OPS.get(name) in _TABLE:
        raise ValueError(f"primitive(): {name!r} is a built-in op; give your op another name (name=...)")
    return name


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


def _as_result(x: object, what: str, name: str, values_ok: bool = False, inputs: Sequence[Any] = ()) -> Any:
    """What a rule gave, as it enters the graph: a float for a number (a NumPy scalar, a
    0-d or size-1 array, a bool, an int); a Value where ``values_ok``; an array only where
    ``inputs`` hold arrays (a batch); else a TypeError naming the op."""
    cls = x.__class__
    if cls is float or (values_ok and cls is Value):
        return x
    if cls is Value:  # .grad must stay a float: backward() adds this into it
        raise TypeError(
            f"op {name!r}: its {what} gave a Value ({x!r:.60}) from numbers; given numbers it must give "
            "numbers (does it use a Value that is not one of its arguments?)"
        )
    if getattr(x, "ndim", 0):  # an array
        if _is_batch(inputs):  # the batch kind: arrays in, arrays out
            return x
        if getattr(x, "size", None) != 1:
            raise TypeError(
                f"op {name!r}: its {what} gave an array of shape {getattr(x, 'shape', '?')} from numbers; "
                "one number is accepted (a size-1 array, a NumPy scalar or a bool is converted to a float)"
            )
        x = x.reshape(())  # type: ignore[attr-defined]  # a size-1 array: its one number
    try:
        return _number(x, "")
    except (TypeError, ValueError):
        accepted = "a number or a Value is accepted" if values_ok else "a number is accepted"
        raise TypeError(f"op {name!r}: its {what} gave {type(x).__name__} {x!r:.60}; {accepted}") from None


def _is_batch(inputs: Sequence[Any]) -> bool:
    """Some input is an array of one or more dimensions (a list of them too: a variadic op's operands)."""
    return any(
        getattr(a, "ndim", 0) or (isinstance(a, (list, tuple)) and any(getattr(b, "ndim", 0) for b in a)) for a in inputs
    )


def _checked_forward(p: Primitive) -> Callable[..., Any]:
    fn, name = p.forward, p.name

    def forward(*xs: Any) -> Any:
        out = fn(*xs)
        return out if out.__class__ is float else _as_result(out, "forward", name, inputs=xs)

    if p.arity == VARIADIC:
        return lambda xs: forward(*xs)
    return forward


def _checked_backward(p: Primitive, fn: Callable[..., Any]) -> Callable[..., Any]:
    name, arity, forward, kinks = p.name, p.arity, p.forward, p.kinks

    def gradients(g: Any, out: Any, xs: Sequence[Any], grads: Any = None) -> list[Any]:
        """The rule's gradients (``grads``, or computed here), one per operand, each as it enters the graph."""
        if grads is None:
            grads = fn(g, out, *xs)
        values_ok = g.__class__ is Value or out.__class__ is Value  # under grad(..., create_graph=True)
        if arity == 1:
            if isinstance(grads, (tuple, list)):
                if len(grads) != 1:
                    raise ValueError(f"op {name!r}: its derivative gave {len(grads)} gradients for 1 operand")
                grads = grads[0]
            grads = [grads]
        elif not isinstance(grads, (tuple, list)):
            raise ValueError(
                f"op {name!r}: its derivative gave {type(grads).__name__} {grads!r:.60}; "
                f"it must give a tuple or list of {len(xs)} gradients, one per operand"
            )
        elif len(grads) != len(xs):
            raise ValueError(f"op {name!r}: its derivative gave {len(grads)} gradients for {len(xs)} operands")
        inputs = (g, out, xs)
        return [_as_result(gk, "derivative", name, values_ok, inputs) for gk in grads]

    def backward(g: Any, out: Any, *operands: Any) -> Any:
        xs = operands[0] if arity == VARIADIC else operands
        grads = fn(g, out, *xs)
        if out.__class__ is float:  # backward() on floats: floats as they are, at the cost of a check
            if arity == 1:
                if grads.__class__ is float:
                    return grads
            elif (
                arity == 2 and grads.__class__ is tuple and len(grads) == 2
                and grads[0].__class__ is float and grads[1].__class__ is float
            ):  # fmt: skip
                return grads
        checked = gradients(g, out, xs, grads)
        if out.__class__ is Value:  # under grad(..., create_graph=True): the gradients must be graphs
            _check_in_graph(name, forward_of_list, gradients, kinks, g, xs, checked)
            if g.__class__ is Value:  # g·math.cos(x) is a Value: asked with g a number, it gives a number
                _check_in_graph(name, forward_of_list, gradients, kinks, g.data, xs, gradients(g.data, out, xs))
        if arity == 1:
            return checked[0]
        return tuple(checked) if arity == 2 else checked

    def forward_of_list(xs: Sequence[float]) -> Any:
        return _as_result(forward(*xs), "forward", name)

    return backward


# --- derivatives that leave the graph ------------------------------------------------------

# How far the probes move each operand, relative to its size (at least 1): far enough that a
# smooth function's change shows in its float (cos moves by about 2^-33 at 0), near enough
# that a jump of a piecewise-constant derivative is rarely crossed, and then on one side only.
_PROBE_STEP = 2.0**-16


def _check_in_graph(
    name: str,
    forward: Callable[[Sequence[float]], Any],
    gradients: Callable[[Any, Any, Sequence[Any]], Sequence[Any]],
    kinks: Sequence[float],
    g: Any,
    xs: Sequence[Any],
    grads: Sequence[Any],
) -> None:
    """Under ``grad(..., create_graph=True)``: a TypeError naming the op when its derivative
    gave a plain number for a Value operand though the number changes with the operands.

    Such a derivative computed with something that reads a Value's number (``math.cos(x)``,
    ``float(x)``, ``x.data``, NumPy): its gradient is a constant of the new graph, and the
    next derivative would come out 0 with no error. ``gradients(g, out, xs)`` is the
    derivative's list of gradients and ``forward(xs)`` the op's result, both of which take
    floats: they are probed at two points, every Value operand (and ``g``, when it is a
    Value) moved a little up and a little down. A gradient that changes on both sides
    depends on them. One that does not (a constant derivative; a piecewise-constant one,
    whose jump is crossed on one side at most; any at one of the op's ``kinks``) is a right
    derivative whose own derivative is 0.
    """
    suspects = [k for k, (x, gk) in enumerate(zip(xs, grads)) if x.__class__ is Value and gk.__class__ is not Value]
    if not suspects:
        return
    moving = [x.__class__ is Value for x in xs] + [g.__class__ is Value]
    point = [x.data if x.__class__ is Value else x for x in xs] + [g.data if g.__class__ is Value else g]
    for j, (m, v) in enumerate(zip(moving, point)):
        if m and (v - v != 0.0 or (j < len(xs) and v in kinks)):
            return  # at a non-finite number, or at a kink: nothing to learn from nearby points
    at_point = _float_gradients(forward, gradients, point)
    if at_point is None:
        return
    changed = dict.fromkeys(suspects, 0)
    for sign in (1.0, -1.0):
        moved = [v + sign * _PROBE_STEP * max(abs(v), 1.0) * (1.0 + 0.375 * j) if m else v
                 for j, (m, v) in enumerate(zip(moving, point))]  # fmt: skip
        nearby = _float_gradients(forward, gradients, moved)
        if nearby is None:
            return
        for k in suspects:
            a, b = nearby[k], at_point[k]
            if not (a == b or (a != a and b != b)):
                changed[k] += 1
    leaving = [k for k, sides in changed.items() if sides == 2]
    if leaving:
        k = leaving[0]
        which = "its gradient" if len(xs) == 1 else f"the gradient of operand {k}"
        raise TypeError(
            f"op {name!r}: under grad(..., create_graph=True) its derivative gives {which} as a plain number "
            f"({float(grads[k])!r}) where the operands are Values, though it changes with them: the derivative "
            "left the graph (math functions, float(), .data and NumPy read a Value's number), and the next "
            "derivative would be 0. Write it with operators and autograd's functions (autograd.cos, "
            "autograd.exp, autograd.where, ...), which take floats, Values and arrays alike"
        )


def _float_gradients(
    forward: Callable[[Sequence[float]], Any], gradients: Callable[..., Sequence[Any]], point: list[float]
) -> list[float] | None:
    """The derivative's float form at ``point`` (operands, then g), or None where it cannot be computed there."""
    xs, g = point[:-1], point[-1]
    try:
        return [float(gk) for gk in gradients(g, forward(xs), xs)]
    except Exception:  # noqa: BLE001 - outside the rule's domain, say: no evidence either way
        return None


# --- fingerprints ----------------------------------------------------------------------------


def _fingerprint(rule: Callable[..., Any]) -> tuple[str, str, str]:
    """(qualified name, module, hash of the code) of a rule: what a pickled graph carries to
    know its op again. The hash covers the bytecode, constants and names of the function and
    of the functions inside it, and its defaults and closure where they are plain numbers
    or strings, not its file or line numbers: the same definition run again (a notebook
    cell, another process) has the same fingerprint."""
    qualname = getattr(rule, "__qualname__", None) or getattr(rule, "__name__", None) or type(rule).__qualname__
    module = getattr(rule, "__module__", None) or type(rule).__module__
    digest = hashlib.sha256()
    code = getattr(rule, "__code__", None)
    if code is None:  # a builtin, a NumPy function, a callable object: known by its name and type
        digest.update(repr(type(rule)).encode())
        call = type(rule).__call__ if callable(rule) else None  # a callable object: its class's __call__
        code = getattr(call, "__code__", None)
    codes = [code] if code is not None else []
    while codes:
        c = codes.pop()
        for part in (c.co_code, c.co_names, c.co_varnames, c.co_freevars, c.co_cellvars):
            digest.update(repr(part).encode())
        digest.update(repr((c.co_argcount, c.co_posonlyargcount, c.co_kwonlyargcount, c.co_flags)).encode())
        for const in c.co_consts:
            if isinstance(const, CodeType):
                codes.append(const)
            else:
                digest.update(_plain_repr(const).encode())
    for value in (*(getattr(rule, "__defaults__", None) or ()), *_closure_values(rule)):
        digest.update(_plain_repr(value).encode())
    return (str(qualname), str(module), digest.hexdigest()[:16])


def _closure_values(rule: Callable[..., Any]) -> list[Any]:
    values = []
    for cell in getattr(rule, "__closure__", None) or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # an empty cell
            values.append(None)
    return values


def _plain_repr(value: object) -> str:
    """repr of a plain constant (frozensets sorted: their order changes between processes);
    of anything else, its type's name."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, (tuple, frozenset)):
        items = [_plain_repr(v) for v in value]
        return f"{type(value).__name__}({', '.join(sorted(items) if isinstance(value, frozenset) else items)})"
    return f"<{type(value).__module__}.{type(value).__qualname__}>"
