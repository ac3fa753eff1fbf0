"""The table of primitive ops: each op's forward and local derivatives, defined once.

Every entry is an :class:`Op`. Its ``forward`` maps operand values (floats) to the
result, and its ``backward`` maps the upstream gradient ``g``, the result ``out`` and
the operand values to the gradient of each operand (the vector-Jacobian product).
Rules are plain module-level functions of numbers: no closures over nodes, so the
same rules can be replayed on any graph. Adding an op means adding one entry here
(and a method or function that builds its node); the tests draw their inputs from
each entry's ``domain``.

Signatures by arity:

* unary:    ``forward(x) -> out``;        ``backward(g, out, x) -> gx``
* binary:   ``forward(a, b) -> out``;     ``backward(g, out, a, b) -> (ga, gb)``
* variadic: ``forward(xs) -> out``;       ``backward(g, out, xs) -> [g_0, ..., g_k]``

A variadic op may end its operand tuple with ``n_params`` non-differentiable
parameters (such as the output index of ``softmax``); ``backward`` returns
gradients for the other operands only. A variadic op on the hot path (``dot``)
may also give ``accumulate(g, args)``: the same derivatives, added straight into
the operand nodes, which saves building lists for every node.

Numerics follow IEEE-754 as NumPy and PyTorch do: overflow gives ``inf`` and
invalid operations give ``nan`` instead of raising ``OverflowError``,
``ValueError`` or ``ZeroDivisionError`` in the middle of a graph.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

INF = math.inf
NAN = math.nan
VARIADIC = -1

__all__ = ["OPS", "Op", "VARIADIC"]


@dataclass(frozen=True, slots=True)
class Op:
    """One primitive operation: its name, its forward and its local derivatives.

    Attributes:
        name: the name recorded on result nodes (``Value.op``).
        symbol: a short symbol for drawings (``×`` for mul).
        arity: 1, 2 or ``VARIADIC``.
        forward: computes the result from the operand values.
        backward: computes each operand's gradient from ``g``, the result and the operands.
        domain: per operand, the ``(low, high)`` interval on which the derivative is
            tested against central differences (variadic ops: per element).
        kinks: points where the derivative jumps; tests keep inputs away from them.
        n_params: trailing non-differentiable parameters of a variadic op.
        accumulate: optional, for variadic ops on the hot path: ``accumulate(g, args)``
            applies the same derivatives as ``backward`` but adds them straight into the
            operand nodes' ``grad`` (operands are nodes, or plain floats that get
            nothing). When set, ``Value.backward`` calls it instead of ``backward``.
        short: micrograd's name for the op (``Value._op``: ``'+'``, ``'*'``, ``'ReLU'``);
            "" means the same as ``name``.
    """

    name: str
    symbol: str
    arity: int
    forward: Callable[..., float]
    backward: Callable[..., Any]
    domain: tuple[tuple[float, float], ...]
    kinks: tuple[float, ...] = ()
    n_params: int = 0
    accumulate: Callable[[float, tuple], None] | None = None
    short: str = ""


# --- IEEE-754 helpers: Python's math raises where IEEE returns inf or nan -------------


def _div(a: float, b: float) -> float:
    """a / b with IEEE results for b == 0 (±inf, or nan for 0/0)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _exp(x: float) -> float:
    """e**x, inf on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def _log(x: float) -> float:
    """ln x: -inf at 0, nan below 0."""
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -INF
    return NAN


def _is_odd_integer(b: float) -> bool:
    return math.isfinite(b) and b == int(b) and int(b) % 2 == 1


def _pow(a: float, b: float) -> float:
    """a**b as C's pow: nan for a negative base with a non-integer exponent, ±inf on overflow."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return -INF if a < 0.0 and _is_odd_integer(b) else INF
    except ValueError:
        if a == 0.0:  # zero to a negative power
            return math.copysign(INF, a) if _is_odd_integer(b) else INF
        return NAN


def _mul(a: float, b: float) -> float:
    """a * b (Python float multiplication already follows IEEE)."""
    return a * b


def _sigmoid(x: float) -> float:
    """1 / (1 + e**-x), computed without overflow for any x."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


# --- unary rules ----------------------------------------------------------------------
# Where cheaper, the derivative is written from the result: exp' = out, tanh' = 1 - out².


def _neg_fwd(x: float) -> float:
    return -x


def _neg_bwd(g: float, out: float, x: float) -> float:
    return -g


def _abs_fwd(x: float) -> float:
    return abs(x)


def _abs_bwd(g: float, out: float, x: float) -> float:
    # sign(x), with abs'(0) = 0 as in PyTorch
    return g if x > 0.0 else (-g if x < 0.0 else 0.0 * g)


def _exp_bwd(g: float, out: float, x: float) -> float:
    return g * out


def _log_bwd(g: float, out: float, x: float) -> float:
    return _div(g, x)


def _sigmoid_bwd(g: float, out: float, x: float) -> float:
    return g * out * (1.0 - out)


# tanh's forward is the C library's math.tanh: against mpmath, over 200,000 inputs
# (half log-uniform in ±[1e-8, 20], half uniform in [-5, 5]) it is correctly rounded for
# 80.8% and never more than 2 ulps off. At the lecture neuron's n = 0.8813735870195432
# it gives 0.7071067811865477, one ulp above the correctly rounded ...476 (PyTorch's).
# No cheap formula does better, and all are slower: t/(t + 2) with t = expm1(2|x|) 78.3%
# (right at the lecture's point, by chance), -t/(t + 2) with t = expm1(-2|x|) 53.0%,
# micrograd's (e^2x - 1)/(e^2x + 1) 43.5%, 2·sigmoid(2x) - 1 34.5%. t/(t + 2) with the
# errors of the sum and the division put back (TwoSum, Dekker's product) reaches 87.3%
# at 12 times the cost; PyTorch's SLEEF kernel (double-double throughout) reaches 98%.
# The lecture prints 4 decimals (o = 0.7071, n.grad = 0.5000, x1.grad = -1.5000): the
# same with either tanh.


def _tanh_bwd(g: float, out: float, x: float) -> float:
    return g * (1.0 - out * out)


def _relu_fwd(x: float) -> float:
    return 0.0 if x <= 0.0 else x  # written so that nan stays nan


def _relu_bwd(g: float, out: float, x: float) -> float:
    # relu'(0) = 0 as in PyTorch
    return g if x > 0.0 else 0.0 * g


def _softplus_fwd(x: float) -> float:
    # log(1 + e**x) = max(x, 0) + log1p(e**-|x|): no overflow, no loss for large |x|
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


def _softplus_bwd(g: float, out: float, x: float) -> float:
    return g * _sigmoid(x)


def _step_fwd(x: float) -> float:
    return 1.0 if x > 0.0 else (0.0 if x <= 0.0 else x)  # nan stays nan


def _step_bwd(g: float, out: float, x: float) -> float:
    return 0.0 * g


# --- binary rules ---------------------------------------------------------------------


def _add_bwd(g: float, out: float, a: float, b: float) -> tuple[float, float]:
    return g, g


def _sub_bwd(g: float, out: float, a: float, b: float) -> tuple[float, float]:
    return g, -g


def _mul_bwd(g: float, out: float, a: float, b: float) -> tuple[float, float]:
    # the multiply node swaps its inputs
    return g * b, g * a


_TINY = sys.float_info.min  # the smallest normal float
_HUGE = sys.float_info.max


def _div_bwd(g: float, out: float, a: float, b: float) -> tuple[float, float]:
    # d(a/b)/db = -a/b² = -out/b, as -g·(out/b) (PyTorch's order): (g/b)·out overflowed
    # to inf (times 0: nan) at a = 0, b = 1e-300, g = 1e10. Where out or out/b is not a
    # normal float, a step on the way overflowed or lost bits, so -g·a/b² is redone on
    # mantissas and exponents apart.
    r = _div(out, b)
    if _TINY <= abs(r) <= _HUGE and _TINY <= abs(out):
        return _div(g, b), -g * r
    return _div(g, b), _neg_g_a_over_b_squared(g, a, b, r)


def _neg_g_a_over_b_squared(g: float, a: float, b: float, r: float) -> float:
    """-g·a/b² within 3 ulps (three roundings) for any finite nonzero g, a, b (IEEE's -g·r otherwise)."""
    if not (g and a and b) or (g - g) + (a - a) + (b - b) != 0.0:  # a zero, inf or nan
        return -g * r
    mg, eg = math.frexp(g)
    ma, ea = math.frexp(a)
    mb, eb = math.frexp(b)
    mantissa = -mg * ma / mb / mb  # each |m| in [0.5, 1): no overflow or underflow here
    try:
        return math.ldexp(mantissa, eg + ea - 2 * eb)
    except OverflowError:
        return math.copysign(INF, mantissa)


def _pow_bwd(g: float, out: float, a: float, b: float) -> tuple[float, float]:
    # d(a**b)/da = b·a**(b-1) (0 where b == 0); d(a**b)/db = a**b·ln a (0 where a == 0 and b >= 0)
    ga = g * b * _pow(a, b - 1.0) if b != 0.0 else 0.0 * g
    gb = g * out * _log(a) if not (a == 0.0 and b >= 0.0) else 0.0 * g
    return ga, gb


def _leaky_relu_fwd(x: float, slope: float) -> float:
    return x if x > 0.0 else slope * x


def _leaky_relu_bwd(g: float, out: float, x: float, slope: float) -> tuple[float, float]:
    # the slope gets a gradient too, so a Value slope makes a PReLU
    if x > 0.0:
        return g, 0.0 * g
    return g * slope, g * x


def _elu_fwd(x: float, alpha: float) -> float:
    return x if x > 0.0 else alpha * math.expm1(x)


def _elu_bwd(g: float, out: float, x: float, alpha: float) -> tuple[float, float]:
    if x > 0.0:
        return g, 0.0 * g
    # alpha·e^x, not out + alpha = alpha·(e^x - 1) + alpha: that cancels, to 0 by x = -40
    return g * (alpha * math.exp(x)), g * math.expm1(x)


# --- variadic rules -------------------------------------------------------------------


def _fsum(xs: Sequence[float]) -> float:
    """The correctly rounded sum, whatever the order; inf or nan where IEEE gives them."""
    try:
        return math.fsum(xs)
    except (OverflowError, ValueError):
        # fsum raises on inf - inf, and where a partial sum overflows even when the
        # total does not ([1e308, 1e308, -1e308]): redo those sums exactly
        return _exact_sum(xs, 1)


# Every finite float is a whole multiple of 2^-1074, the smallest subnormal.
_SUBNORMAL_BITS = 1074


def _exact_sum(xs: Sequence[float], n: int) -> float:
    """(Σ xs) / n rounded once, by exact integer arithmetic; ±inf where it overflows.

    Non-finite terms follow IEEE: nan wins, inf - inf is nan, else the infinity.
    """
    special = [x for x in xs if x - x != 0.0]
    if special:
        if any(x != x for x in special) or (INF in special and -INF in special):
            return NAN
        return special[0]
    total = 0
    for x in xs:
        numerator, denominator = x.as_integer_ratio()  # the denominator is 2^k, k <= 1074
        total += numerator << (_SUBNORMAL_BITS + 1 - denominator.bit_length())
    try:
        return total / (n << _SUBNORMAL_BITS)  # int / int is correctly rounded, subnormals too
    except OverflowError:
        return INF if total > 0 else -INF


def _sum_bwd(g: float, out: float, xs: Sequence[float]) -> list[float]:
    return [g] * len(xs)


def _mean_fwd(xs: Sequence[float]) -> float:
    """The correctly rounded sum over n; where that sum overflows (two copies of the
    largest float) the exact mean, rounded once."""
    try:
        return math.fsum(xs) / len(xs)
    except (OverflowError, ValueError):  # as in _fsum; the same answer in every order
        total = _exact_sum(xs, 1)
        return total / len(xs) if total - total == 0.0 else _exact_sum(xs, len(xs))


def _mean_bwd(g: float, out: float, xs: Sequence[float]) -> list[float]:
    return [g / len(xs)] * len(xs)


def _dot_fwd(xs: Sequence[float]) -> float:
    # operands: w_0..w_{n-1}, x_0..x_{n-1}, then the bias when the count is odd
    n = len(xs) // 2
    terms = list(map(operator.mul, xs[:n], xs[n : 2 * n]))
    if len(xs) % 2:
        terms.append(xs[2 * n])
    return _fsum(terms)


def _dot_bwd(g: float, out: float, xs: Sequence[float]) -> list[float]:
    n = len(xs) // 2
    grads = [g * x for x in xs[n : 2 * n]]
    grads += [g * w for w in xs[:n]]
    if len(xs) % 2:
        grads.append(g)
    return grads


def _dot_accumulate(g: float, args: tuple) -> None:
    """_dot_bwd's derivatives, added straight into the operand nodes' ``grad``.

    Every neuron makes one dot node per sample, with 2·fan-in + 1 operands, so
    training spends most of backward here. Multiplying and adding pair by pair,
    without _dot_bwd's lists of values and of gradients, is over twice as fast.
    Operands that are plain floats (inputs given as numbers) get nothing.

    >>> from autograd import Value
    >>> w0, x0, x1, b = Value(2.0), Value(5.0), Value(7.0), Value(1.0)
    >>> _dot_accumulate(0.5, (w0, 3.0, x0, x1, b))
    >>> w0.grad, x0.grad, x1.grad, b.grad
    (2.5, 1.0, 1.5, 0.5)
    >>> _dot_bwd(0.5, 0.0, [2.0, 3.0, 5.0, 7.0, 1.0])
    [2.5, 3.5, 1.0, 1.5, 0.5]
    """
    n = len(args) // 2
    for w, x in zip(args[:n], args[n : 2 * n]):
        if x.__class__ is float:
            if w.__class__ is not float:
                w.grad += g * x
        elif w.__class__ is float:
            x.grad += g * w
        else:
            w.grad += g * x.data
            x.grad += g * w.data
    if len(args) % 2 and args[-1].__class__ is not float:
        args[-1].grad += g


# The softmax family works from e_j = e^(x_j - m), m the largest logit: each e_j is
# within an ulp, the largest is exactly 1, and S = Σ e_j is in [1, n]. Then
#   softmax_i = e_i / S,   log_softmax_i = (x_i - m) - log1p(S - 1),   lse = m + log1p(S - 1),
# and 1 - p_i, which cancels where p_i rounds to 1, is (Σ_{j≠i} e_j) / S. Going through
# lse = m + log S instead rounds it at the scale of m: at m = 1e16, where a float's ulp
# is 2, e^(x_i - lse) was 1 for both of two equal logits. A non-finite largest logit
# (±inf, or nan first) takes the plain formulas: ±inf and nan results need no accuracy.


def _two_diff(x: float, m: float) -> tuple[float, float]:
    """d = x - m rounded, and lo with d + lo == x - m exactly (Knuth's TwoSum; lo = 0 for infinite d)."""
    d = x - m
    if d - d != 0.0:
        return d, 0.0
    x_part = d + m  # the part of x that made it into d
    return d, (x - x_part) - (m + (d - x_part))


def _shifted_exps(xs: Sequence[float], m: float) -> list[float]:
    """e^(x - m) for each x, within an ulp: x - m is rounded when the logits differ in
    scale (by up to 2^-44 relative, 250 ulps of the exponential); that rounding is put
    back as e^(d + lo) = e^d·(1 + lo)."""
    es = []
    for x in xs:
        d = x - m
        e = math.exp(d)  # d <= 0: no overflow
        if e and d:  # _two_diff's lines, inlined: this loop runs n times per output node
            x_part = d + m
            e += e * ((x - x_part) - (m + (d - x_part)))
        es.append(e)
    return es


def _is_finite(m: float) -> bool:
    return m - m == 0.0


def _logsumexp_fwd(xs: Sequence[float]) -> float:
    m = max(xs)
    if not _is_finite(m):
        return NAN if any(x != x for x in xs) else m  # nan wins, as in NumPy
    es = _shifted_exps(xs, m)
    es[xs.index(m)] = 0.0  # its e^0 = 1 is the one in log1p
    return m + math.log1p(math.fsum(es))  # a nan logit makes the sum nan


def _logsumexp_bwd(g: float, out: float, xs: Sequence[float]) -> list[float]:
    m = max(xs)
    if not _is_finite(m):
        return [g * _exp(x - out) for x in xs]
    es = _shifted_exps(xs, m)
    scale = g / math.fsum(es)
    return [scale * e for e in es]


def _softmax_fwd(xs: Sequence[float]) -> float:
    # operands: x_0..x_{n-1}, then the index i of this output
    i, logits = int(xs[-1]), xs[:-1]
    m = max(logits)
    if not _is_finite(m):
        return _exp(logits[i] - _logsumexp_fwd(logits))
    es = _shifted_exps(logits, m)
    return es[i] / math.fsum(es)


def _softmax_bwd(g: float, out: float, xs: Sequence[float]) -> list[float]:
    # dp_i/dx_j = p_i (δ_ij - p_j)
    i, logits = int(xs[-1]), xs[:-1]
    m = max(logits)
    if not _is_finite(m):
        lse = _logsumexp_fwd(logits)
        grads = [-g * out * _exp(x - lse) for x in logits]
        grads[i] += g * out
        return grads
    es = _shifted_exps(logits, m)
    total = math.fsum(es)
    es[i] = 0.0
    scale = -g * out / total
    grads = [scale * e for e in es]
    grads[i] = g * out * (math.fsum(es) / total)
    return grads


def _log_softmax_fwd(xs: Sequence[float]) -> float:
    i, logits = int(xs[-1]), xs[:-1]
    m = max(logits)
    if not _is_finite(m):
        return logits[i] - _logsumexp_fwd(logits)
    es = _shifted_exps(logits, m)
    es[logits.index(m)] = 0.0
    d, lo = _two_diff(logits[i], m)
    return (d - math.log1p(math.fsum(es))) + lo  # two terms <= 0: no cancellation


def _log_softmax_bwd(g: float, out: float, xs: Sequence[float]) -> list[float]:
    # d log p_i / dx_j = δ_ij - p_j: with cross-entropy this is the familiar p - y
    i, logits = int(xs[-1]), xs[:-1]
    m = max(logits)
    if not _is_finite(m):
        lse = _logsumexp_fwd(logits)
        grads = [-g * _exp(x - lse) for x in logits]
        grads[i] += g
        return grads
    es = _shifted_exps(logits, m)
    total = math.fsum(es)
    es[i] = 0.0
    scale = -g / total
    grads = [scale * e for e in es]
    grads[i] = g * (math.fsum(es) / total)
    return grads


def _max_fwd(xs: Sequence[float]) -> float:
    m = max(xs)
    return NAN if any(x != x for x in xs) else m  # nan wins, as in NumPy


def _max_bwd(g: float, out: float, xs: Sequence[float]) -> list[float]:
    # The whole gradient goes to the operand that gave the result: the first nan, since
    # nan wins, else the first maximal operand, as torch.max does.
    grads = [0.0 * g] * len(xs)
    winner = next((k for k, x in enumerate(xs) if x != x), None)
    if winner is None:
        winner = max(range(len(xs)), key=xs.__getitem__)
    grads[winner] = g
    return grads


_REAL = (-5.0, 5.0)
_POSITIVE = (0.05, 20.0)

_TABLE = (
    Op("add", "+", 2, operator.add, _add_bwd, (_REAL, _REAL), short="+"),
    Op("sub", "−", 2, operator.sub, _sub_bwd, (_REAL, _REAL), short="-"),
    Op("mul", "×", 2, _mul, _mul_bwd, (_REAL, _REAL), short="*"),
    Op("div", "÷", 2, _div, _div_bwd, (_REAL, (0.2, 5.0)), short="/"),
    Op("pow", "^", 2, _pow, _pow_bwd, ((0.1, 5.0), (-3.0, 3.0)), short="**"),
    Op("neg", "−", 1, _neg_fwd, _neg_bwd, (_REAL,)),
    Op("abs", "|x|", 1, _abs_fwd, _abs_bwd, (_REAL,), kinks=(0.0,)),
    Op("exp", "exp", 1, _exp, _exp_bwd, (_REAL,)),
    Op("log", "log", 1, _log, _log_bwd, (_POSITIVE,)),
    Op("sigmoid", "σ", 1, _sigmoid, _sigmoid_bwd, ((-10.0, 10.0),)),
    Op("tanh", "tanh", 1, math.tanh, _tanh_bwd, (_REAL,)),
    Op("relu", "ReLU", 1, _relu_fwd, _relu_bwd, (_REAL,), kinks=(0.0,), short="ReLU"),
    Op("softplus", "softplus", 1, _softplus_fwd, _softplus_bwd, ((-20.0, 20.0),)),
    Op("step", "step", 1, _step_fwd, _step_bwd, (_REAL,), kinks=(0.0,)),
    Op("leaky_relu", "LReLU", 2, _leaky_relu_fwd, _leaky_relu_bwd, (_REAL, (0.0, 0.5)), kinks=(0.0,), short="LeakyReLU"),
    Op("elu", "ELU", 2, _elu_fwd, _elu_bwd, (_REAL, (0.1, 2.0)), kinks=(0.0,), short="ELU"),
    Op("sum", "Σ", VARIADIC, _fsum, _sum_bwd, (_REAL,)),
    Op("mean", "mean", VARIADIC, _mean_fwd, _mean_bwd, (_REAL,)),
    Op("dot", "Σw·x", VARIADIC, _dot_fwd, _dot_bwd, (_REAL,), accumulate=_dot_accumulate),
    Op("logsumexp", "logΣexp", VARIADIC, _logsumexp_fwd, _logsumexp_bwd, ((-10.0, 10.0),)),
    Op("softmax", "softmax", VARIADIC, _softmax_fwd, _softmax_bwd, ((-10.0, 10.0),), n_params=1),
    Op("log_softmax", "log softmax", VARIADIC, _log_softmax_fwd, _log_softmax_bwd, ((-10.0, 10.0),), n_params=1),
    Op("maximum", "max", VARIADIC, _max_fwd, _max_bwd, (_REAL,), kinks=(0.0,), short="max"),
)

OPS: dict[str, Op] = {op.name: op for op in _TABLE}
"""Every primitive op by name; the single source of forward and derivative rules."""
