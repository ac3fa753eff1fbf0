"""gradtrace's autograd: a scalar reverse-mode automatic differentiation engine.

>>> from autograd import Value
>>> apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
>>> price = apple * num * tax
>>> price.backward()
>>> round(price.data, 9), round(apple.grad, 9), round(num.grad, 9), round(tax.grad, 9)
(220.0, 2.2, 110.0, 200.0)
"""

from .compiled import MAX_PATTERNS, CompiledStep, CompileError, Group, compile  # noqa: A004 - autograd.compile, as torch.compile
from .custom import Primitive, primitive
from .engine import Value, detect_anomaly, is_grad_enabled, no_grad
from .functional import grad, hessian, jvp
from .functions import cos, exp, log, relu, sigmoid, sin, softplus, sqrt, tanh, where
from .gradcheck import GradcheckError, gradcheck
from .nary import dot, log_softmax, logsumexp, maximum, mean, softmax, sum  # noqa: A004 - autograd.sum, as numpy.sum
from .ops import OPS, Op

__all__ = [
    "CompileError",
    "CompiledStep",
    "GradcheckError",
    "MAX_PATTERNS",
    "Group",
    "OPS",
    "Op",
    "Primitive",
    "Value",
    "compile",
    "cos",
    "detect_anomaly",
    "dot",
    "exp",
    "grad",
    "gradcheck",
    "hessian",
    "is_grad_enabled",
    "jvp",
    "log",
    "log_softmax",
    "logsumexp",
    "maximum",
    "mean",
    "no_grad",
    "primitive",
    "relu",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "sum",
    "tanh",
    "where",
]
