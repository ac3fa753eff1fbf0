"""gradtrace's autograd: a scalar reverse-mode automatic differentiation engine.

>>> from autograd import Value
>>> apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
>>> price = apple * num * tax
>>> price.backward()
>>> round(price.data, 9), round(apple.grad, 9), round(num.grad, 9), round(tax.grad, 9)
(220.0, 2.2, 110.0, 200.0)
"""

from .compiled import CompiledStep, CompileError, Group, compile  # noqa: A004 - autograd.compile, as torch.compile
from .custom import Primitive, primitive
from .engine import Value, detect_anomaly, is_grad_enabled, no_grad
from .forward import jacfwd, jvp
from .functional import grad, hessian, hvp, jacrev
from .functions import (
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    ceil,
    cos,
    cosh,
    exp,
    expm1,
    floor,
    hypot,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    relu,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    tan,
    tanh,
    where,
)  # fmt: skip
from .gradcheck import GradcheckError, gradcheck
from .nary import (
    dot,
    log_softmax,
    logsumexp,
    max,  # noqa: A004, F401 - autograd.max and autograd.min, as numpy.max; not in __all__ (see nary)
    maximum,
    mean,
    min,  # noqa: A004, F401
    minimum,
    prod,
    softmax,
    std,
    sum,  # noqa: A004 - autograd.sum, as numpy.sum
    var,
)  # fmt: skip
from .ops import OPS, Op

__all__ = [
    "CompileError",
    "CompiledStep",
    "GradcheckError",
    "Group",
    "OPS",
    "Op",
    "Primitive",
    "Value",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "ceil",
    "compile",
    "cos",
    "cosh",
    "detect_anomaly",
    "dot",
    "exp",
    "expm1",
    "floor",
    "grad",
    "gradcheck",
    "hessian",
    "hvp",
    "hypot",
    "is_grad_enabled",
    "jacfwd",
    "jacrev",
    "jvp",
    "log",
    "log10",
    "log1p",
    "log2",
    "log_softmax",
    "logaddexp",
    "logaddexp2",
    "logsumexp",
    "maximum",
    "mean",
    "minimum",
    "no_grad",
    "primitive",
    "prod",
    "relu",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "softmax",
    "softplus",
    "sqrt",
    "std",
    "sum",
    "tan",
    "tanh",
    "var",
    "where",
]
