"""Elementwise functions for any kind of number: floats, Values and NumPy arrays.

``autograd.sin(x)`` is ``math.sin`` on a float, a sin node on a Value and ``numpy.sin``
on an array, each from the op table's one rule. Derivatives of ops of your own written
with these functions work for all three kinds, so they can be differentiated again
(``grad(..., create_graph=True)``) and replayed over a batch.
"""

from __future__ import annotations

from typing import Any, TypeVar

from . import floats
from .engine import Value, apply_binary
from .ops import OPS

__all__ = [
    "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "ceil", "cos", "cosh", "exp",
    "expm1", "floor", "hypot", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2", "relu", "sigmoid",
    "sign", "sin", "sinh", "softplus", "sqrt", "tan", "tanh", "where",
]  # fmt: skip

T = TypeVar("T")


def _is_array(x: object) -> bool:
    return bool(getattr(x, "ndim", 0)) and type(x).__module__ == "numpy"


def _elementwise(name: str) -> Any:
    op = OPS[name]
    method = getattr(Value, name)

    def apply(x: Any) -> Any:
        cls = x.__class__
        if cls is Value:
            return method(x)
        if _is_array(x):
            from . import arrays

            with arrays.quiet():
                return op.rules_for(arrays)[0](x)
        return op.forward(x if cls is float else float(x))

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"{name} of a float, a Value (a {name} node) or a NumPy array (elementwise)."
    return apply


exp = _elementwise("exp")
log = _elementwise("log")
sin = _elementwise("sin")
cos = _elementwise("cos")
sqrt = _elementwise("sqrt")
tanh = _elementwise("tanh")
sigmoid = _elementwise("sigmoid")
relu = _elementwise("relu")
softplus = _elementwise("softplus")
tan = _elementwise("tan")
sinh = _elementwise("sinh")
cosh = _elementwise("cosh")
arcsin = _elementwise("arcsin")
arccos = _elementwise("arccos")
arctan = _elementwise("arctan")
arcsinh = _elementwise("arcsinh")
arccosh = _elementwise("arccosh")
arctanh = _elementwise("arctanh")
log2 = _elementwise("log2")
log10 = _elementwise("log10")
log1p = _elementwise("log1p")
expm1 = _elementwise("expm1")
sign = _elementwise("sign")
floor = _elementwise("floor")
ceil = _elementwise("ceil")


def _elementwise2(name: str, operands: str) -> Any:
    op = OPS[name]

    def apply(a: Any, b: Any) -> Any:
        if a.__class__ is Value or b.__class__ is Value:
            return apply_binary(op, a, b)
        if _is_array(a) or _is_array(b):
            from . import arrays

            with arrays.quiet():
                return op.rules_for(arrays)[0](a, b)
        return op.forward(float(a), float(b))

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"{name}({operands}) of floats, Values (a {name} node) or NumPy arrays (elementwise)."
    return apply


arctan2 = _elementwise2("arctan2", "y, x")
hypot = _elementwise2("hypot", "a, b")
logaddexp = _elementwise2("logaddexp", "a, b")
logaddexp2 = _elementwise2("logaddexp2", "a, b")


def where(condition: Any, if_true: T, if_false: T) -> T:
    """``if_true if condition else if_false``; elementwise (``numpy.where``) when any is an array.

    For a Value, compare its data to choose (``x > 0`` is a bool): the branch taken stays
    in the graph, so its derivative is the branch's derivative.
    """
    if _is_array(condition) or _is_array(if_true) or _is_array(if_false):
        import numpy as np

        return np.where(condition, if_true, if_false)  # type: ignore[return-value]
    return floats.where(condition, if_true, if_false)
