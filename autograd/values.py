"""The Value kit: the op table's rules on Values, so that a derivative is itself a graph.

Called with ``K=values``, a rule of :mod:`autograd.ops` gets Values (and plain floats
for constant operands) and builds its derivative out of the table's own ops: tanh's
``g * (1.0 - out * out)`` becomes a sub node and two mul nodes over the tanh node
itself, which :func:`autograd.grad` can differentiate again and ``viz.draw_dot`` can
draw. Each function here makes the node of the op it names when an argument is a
Value, and falls back to the float kit when all are plain numbers.

Quantities a rule only uses to choose a formula (the largest logit ``m`` that the
softmax family shifts by, which operand won a maximum, whether a number is zero) are
read from the data and stay constants: the results do not depend on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from . import floats, nary
from .engine import Value, apply_binary
from .ops import OPS

__all__ = [
    "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "ceil", "cos", "cosh", "div",
    "exp", "expm1", "floor", "hypot", "is_finite", "is_zero", "isnan", "log", "log10", "log1p", "log2",
    "logaddexp", "logaddexp2", "loser", "max_of", "mean", "min_of", "mod", "neg_g_a_over_b_squared", "pick",
    "pow", "prod", "prod_except", "scaled", "scaled_except", "shifted_exps", "shifted_minus", "sigmoid",
    "sign", "sin", "sinh", "sqrt", "sum", "sum_and_rest", "sum_except", "tan", "tanh", "where", "winner",
]  # fmt: skip

Number = Value | float
T = TypeVar("T")
where = floats.where


def _data(x: Number) -> float:
    return x.data if x.__class__ is Value else x  # type: ignore[union-attr, return-value]


def _unary(method: str, on_floats):  # type: ignore[no-untyped-def]
    def apply(x: Number) -> Number:
        return getattr(x, method)() if x.__class__ is Value else on_floats(x)

    apply.__name__ = apply.__qualname__ = method
    apply.__doc__ = f"The {method} node of a Value; floats.{on_floats.__name__} of a number."
    return apply


exp = _unary("exp", floats.exp)
log = _unary("log", floats.log)
tanh = _unary("tanh", floats.tanh)
sigmoid = _unary("sigmoid", floats.sigmoid)
sin = _unary("sin", floats.sin)
cos = _unary("cos", floats.cos)
sqrt = _unary("sqrt", floats.sqrt)
tan = _unary("tan", floats.tan)
sinh = _unary("sinh", floats.sinh)
cosh = _unary("cosh", floats.cosh)
arcsin = _unary("arcsin", floats.arcsin)
arccos = _unary("arccos", floats.arccos)
arctan = _unary("arctan", floats.arctan)
arcsinh = _unary("arcsinh", floats.arcsinh)
arccosh = _unary("arccosh", floats.arccosh)
arctanh = _unary("arctanh", floats.arctanh)
log2 = _unary("log2", floats.log2)
log10 = _unary("log10", floats.log10)
log1p = _unary("log1p", floats.log1p)
expm1 = _unary("expm1", floats.expm1)
sign = _unary("sign", OPS["sign"].forward)
floor = _unary("floor", floats.floor)
ceil = _unary("ceil", floats.ceil)


def _binary(name: str, on_floats):  # type: ignore[no-untyped-def]
    op = OPS[name]

    def apply(a: Number, b: Number) -> Number:
        if a.__class__ is Value or b.__class__ is Value:
            return apply_binary(op, a, b)
        return on_floats(a, b)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"The {name} node when either operand is a Value; the float rule's result for numbers."
    return apply


hypot = _binary("hypot", floats.hypot)
arctan2 = _binary("arctan2", floats.arctan2)
mod = _binary("mod", floats.mod)
logaddexp = _binary("logaddexp", OPS["logaddexp"].forward)
logaddexp2 = _binary("logaddexp2", OPS["logaddexp2"].forward)


def div(a: Number, b: Number) -> Number:
    """a / b: a div node when either is a Value."""
    if a.__class__ is Value or b.__class__ is Value:
        return a / b
    return floats.div(a, b)  # type: ignore[arg-type]


def pow(a: Number, b: Number) -> Number:  # noqa: A001 - the kit's name for a**b
    """a ** b: a pow node when either is a Value."""
    if a.__class__ is Value or b.__class__ is Value:
        return a**b
    return floats.pow(a, b)  # type: ignore[arg-type]


def neg_g_a_over_b_squared(g: Number, a: Number, b: Number, out: Number) -> Number:
    """-g·(out/b): the divisor's gradient of out = a/b, as a graph."""
    return -g * div(out, b)


def isnan(x: Number) -> bool:
    """The data is nan."""
    return floats.isnan(_data(x))


def is_zero(x: Number) -> bool:
    """The data is ±0."""
    return floats.is_zero(_data(x))


def is_finite(x: Number) -> bool:
    """The data is finite."""
    return floats.is_finite(_data(x))


def sum(xs: Sequence[Number]) -> Number:  # noqa: A001 - the kit's name, as numpy.sum
    """Σ xs as one sum node (floats alone: their correctly rounded sum)."""
    if any(x.__class__ is Value for x in xs):
        return nary.sum(xs)
    return floats.sum(xs)  # type: ignore[arg-type]


def mean(xs: Sequence[Number]) -> Number:
    """The mean of xs as one mean node."""
    if any(x.__class__ is Value for x in xs):
        return nary.mean(xs)
    return floats.mean(xs)  # type: ignore[arg-type]


def sum_except(xs: Sequence[Number], i: float) -> Number:
    """Σ_{j≠i} xs_j as one sum node."""
    k = int(i)
    return sum([*xs[:k], *xs[k + 1 :]])


def sum_and_rest(xs: Sequence[Number], i: float) -> tuple[Number, Number]:
    """(Σ xs, Σ_{j≠i} xs_j) as two sum nodes."""
    return sum(xs), sum_except(xs, i)


def scaled(xs: Sequence[Number], c: Number) -> list[Number]:
    """[c·x for each x] as nodes."""
    return [c * x for x in xs]


def scaled_except(xs: Sequence[Number], c: Number, i: float, own: Number) -> list[Number]:
    """[c·x for each x] as nodes, but own in place of xs[i] (no node made for c·xs[i])."""
    k = int(i)
    return [own if j == k else c * x for j, x in enumerate(xs)]


def prod(xs: Sequence[Number]) -> Number:
    """x_0·x_1·… as one prod node (floats alone: their product, left to right)."""
    if any(x.__class__ is Value for x in xs):
        return nary.prod(xs)
    return floats.prod(xs)  # type: ignore[arg-type]


def prod_except(xs: Sequence[Number], i: int) -> Number:
    """The product of every operand but xs[i] as one prod node (1.0 when there is no other)."""
    return prod([*xs[:i], *xs[i + 1 :]])


def min_of(xs: Sequence[Number]) -> float:
    """The smallest data (nan wins): a constant."""
    return floats.min_of([_data(x) for x in xs])


def loser(xs: Sequence[Number]) -> int:
    """The index of the operand that gives min_of: the first nan, else the first minimal one."""
    return floats.loser([_data(x) for x in xs])


def max_of(xs: Sequence[Number]) -> float:
    """The largest data (nan wins): a constant."""
    return floats.max_of([_data(x) for x in xs])


def winner(xs: Sequence[Number]) -> int:
    """The index of the operand that gives max_of: the first nan, else the first maximal one."""
    return floats.winner([_data(x) for x in xs])


def pick(xs: Sequence[T], i: float) -> T:
    """xs[i], i an op's index parameter."""
    return xs[int(i)]


def shifted_exps(xs: Sequence[Number], m: float) -> list[Number]:
    """e^(x - m) for each x, as nodes (m is a constant), with the rounding of x - m put
    back as in the float kit: e + e·lo, lo a constant. Without it the softmax family's
    Value derivatives were up to 16 ulps off the float ones for logits in [-10, 10],
    and up to about 250 at wider ranges."""
    es = []
    for x in xs:
        e = exp(x - m)
        x_data, e_data = _data(x), _data(e)
        d = x_data - m
        if e_data and d and e_data - e_data == 0.0:
            x_part = d + m  # TwoSum, as in floats.shifted_exps
            lo = (x_data - x_part) - (m + (d - x_part))
            if lo:
                e = e + e * lo
        es.append(e)
    return es


def shifted_minus(x: Number, m: float, c: Number) -> Number:
    """(x - m) - c as nodes."""
    return (x - m) - c
