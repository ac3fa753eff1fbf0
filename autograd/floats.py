"""The float kit: how Python floats compute the quantities the op table's rules name.

Every rule in :mod:`autograd.ops` is written once, against a *kit* ``K``: Python's
operators plus the functions here (``K.exp``, ``K.div``, ``K.where``, ``K.sum``, ...).
Three kits implement the same names for three kinds of number:

* this module, for Python floats: the eager path, correct to the last bit where it can be;
* :mod:`autograd.values`, for Values: each function makes graph nodes, so a derivative
  is itself a graph, differentiable again;
* :mod:`autograd.arrays`, for NumPy arrays: elementwise over a batch.

The table says *what* an op and its derivatives are; a kit says how its kind of number
computes them. Here that means IEEE-754 results where Python's ``math`` raises
(overflow gives ``inf``, invalid operations ``nan``, as NumPy and PyTorch do), correctly
rounded sums, and the rounding of ``x - max`` put back in the softmax family.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TypeVar

__all__ = [
    "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "ceil", "cos", "cosh", "div",
    "exp", "expm1", "floor", "hypot", "is_finite", "is_zero", "isnan", "log", "log10", "log1p", "log2",
    "loser", "max_of", "mean", "min_of", "mod", "neg_g_a_over_b_squared", "pick", "pow", "prod",
    "prod_except", "scaled", "scaled_except", "shifted_exps", "shifted_minus", "sigmoid", "sin", "sinh",
    "sqrt", "sum", "sum_and_rest", "sum_except", "tan", "tanh", "where", "winner",
]  # fmt: skip

INF = math.inf
NAN = math.nan
T = TypeVar("T")

_builtin_sum = sum
tanh = math.tanh
# tanh is the C library's math.tanh: against mpmath, over 200,000 inputs (half
# log-uniform in ±[1e-8, 20], half uniform in [-5, 5]) it is correctly rounded for 80.8%
# and never more than 2 ulps off. At the lecture neuron's n = 0.8813735870195432 it gives
# 0.7071067811865477, one ulp above the correctly rounded ...476 (PyTorch's). No cheap
# formula does better, and all are slower: t/(t + 2) with t = expm1(2|x|) 78.3%,
# micrograd's (e^2x - 1)/(e^2x + 1) 43.5%, 2·sigmoid(2x) - 1 34.5%; t/(t + 2) with the
# errors of the sum and the division put back reaches 87.3% at 12 times the cost.


def where(condition: bool, if_true: T, if_false: T) -> T:
    """``if_true if condition else if_false``.

    The table compiles each rule's ``K.where(c, a, b)`` into Python's conditional
    expression for floats and Values (see ``ops._scalar_form``), so this function only
    runs for rules that could not be compiled (a rule without source code).
    """
    return if_true if condition else if_false


def div(a: float, b: float) -> float:
    """a / b with IEEE results for b == 0 (±inf, or nan for 0/0)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def exp(x: float) -> float:
    """e**x, inf on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def expm1(x: float) -> float:
    """e**x - 1 without cancellation near 0; inf on overflow."""
    try:
        return math.expm1(x)
    except OverflowError:
        return INF


def log(x: float) -> float:
    """ln x: -inf at 0, nan below 0."""
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -INF
    return NAN


def log1p(x: float) -> float:
    """ln(1 + x) without cancellation near 0: -inf at -1, nan below."""
    if x > -1.0:
        return math.log1p(x)
    if x == -1.0:
        return -INF
    return NAN


def sqrt(x: float) -> float:
    """√x: nan below 0 (√-0 = -0, as IEEE says)."""
    return math.sqrt(x) if x >= 0.0 or x != x else NAN


def sin(x: float) -> float:
    """sin x; nan at ±inf."""
    return math.sin(x) if x - x == 0.0 else NAN


def cos(x: float) -> float:
    """cos x; nan at ±inf."""
    return math.cos(x) if x - x == 0.0 else NAN


def tan(x: float) -> float:
    """tan x; nan at ±inf."""
    return math.tan(x) if x - x == 0.0 else NAN


def sinh(x: float) -> float:
    """sinh x, ±inf on overflow."""
    try:
        return math.sinh(x)
    except OverflowError:
        return math.copysign(INF, x)


def cosh(x: float) -> float:
    """cosh x, inf on overflow."""
    try:
        return math.cosh(x)
    except OverflowError:
        return INF


def arcsin(x: float) -> float:
    """asin x: nan outside [-1, 1]."""
    return math.asin(x) if -1.0 <= x <= 1.0 else NAN


def arccos(x: float) -> float:
    """acos x: nan outside [-1, 1]."""
    return math.acos(x) if -1.0 <= x <= 1.0 else NAN


def arctan(x: float) -> float:
    """atan x (±π/2 at ±inf)."""
    return math.atan(x)


def arcsinh(x: float) -> float:
    """asinh x."""
    return math.asinh(x)


def arccosh(x: float) -> float:
    """acosh x: nan below 1."""
    return math.acosh(x) if x >= 1.0 else NAN


def arctanh(x: float) -> float:
    """atanh x: ±inf at ±1, nan beyond."""
    if -1.0 < x < 1.0:
        return math.atanh(x)
    if x == 1.0 or x == -1.0:
        return math.copysign(INF, x)
    return NAN


def arctan2(y: float, x: float) -> float:
    """The angle of the point (x, y), in [-π, π]: C's atan2."""
    return math.atan2(y, x)


def hypot(a: float, b: float) -> float:
    """√(a² + b²) without overflow on the way; inf where the result overflows."""
    try:
        return math.hypot(a, b)
    except OverflowError:
        return INF


def log2(x: float) -> float:
    """log₂ x: -inf at 0, nan below 0."""
    if x > 0.0:
        return math.log2(x)
    if x == 0.0:
        return -INF
    return NAN


def log10(x: float) -> float:
    """log₁₀ x: -inf at 0, nan below 0."""
    if x > 0.0:
        return math.log10(x)
    if x == 0.0:
        return -INF
    return NAN


def floor(x: float) -> float:
    """The largest whole number <= x, as a float; ±inf and nan stay, -0 stays -0 (IEEE's floor)."""
    if x - x != 0.0:
        return x
    whole = float(math.floor(x))
    return whole if whole else math.copysign(0.0, x)


def ceil(x: float) -> float:
    """The smallest whole number >= x, as a float; ±inf and nan stay, ceil(-0.5) is -0 (IEEE's ceil)."""
    if x - x != 0.0:
        return x
    whole = float(math.ceil(x))
    return whole if whole else math.copysign(0.0, x)


def mod(a: float, b: float) -> float:
    """a % b with Python's sign convention (the result takes b's sign); nan where b is 0."""
    try:
        return a % b
    except ZeroDivisionError:
        return NAN


def sigmoid(x: float) -> float:
    """1 / (1 + e**-x), computed without overflow for any x."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _is_odd_integer(b: float) -> bool:
    return math.isfinite(b) and b == int(b) and int(b) % 2 == 1


def pow(a: float, b: float) -> float:  # noqa: A001 - the kit's name for a**b, as numpy.power
    """a**b as C's pow: nan for a negative base with a non-integer exponent, ±inf on overflow."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return -INF if a < 0.0 and _is_odd_integer(b) else INF
    except ValueError:
        if a == 0.0:  # zero to a negative power
            return math.copysign(INF, a) if _is_odd_integer(b) else INF
        return NAN


def isnan(x: float) -> bool:
    """x is nan."""
    return x != x


def is_zero(x: float) -> bool:
    """x is +0 or -0. (Rules say ``K.is_zero(x)``, not ``x == 0``: a Value's ``==`` is identity.)"""
    return x == 0.0


def is_finite(x: float) -> bool:
    """x is neither ±inf nor nan."""
    return x - x == 0.0


# --- sums ---------------------------------------------------------------------------------


def sum(xs: Sequence[float]) -> float:  # noqa: A001 - the kit's name, as numpy.sum
    """The correctly rounded sum, whatever the order; inf or nan where IEEE gives them."""
    try:
        return math.fsum(xs)
    except (OverflowError, ValueError):
        # fsum raises on inf - inf, and where a partial sum overflows even when the
        # total does not ([1e308, 1e308, -1e308]): redo those sums exactly
        return _exact_sum(xs, 1)


def mean(xs: Sequence[float]) -> float:
    """The correctly rounded sum over n; where that sum overflows (two copies of the
    largest float) the exact mean, rounded once."""
    try:
        return math.fsum(xs) / len(xs)
    except (OverflowError, ValueError):  # as in sum; the same answer in every order
        total = _exact_sum(xs, 1)
        return total / len(xs) if total - total == 0.0 else _exact_sum(xs, len(xs))


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


def prod(xs: Sequence[float]) -> float:
    """x_0·x_1·…, multiplied left to right (as NumPy's prod along an axis); 1 for no operands."""
    return math.prod(xs)


def prod_except(xs: Sequence[float], i: int) -> float:
    """The product of every operand but xs[i], left to right: prod's derivative in x_i,
    with no division (right where x_i is 0)."""
    return math.prod([*xs[:i], *xs[i + 1 :]])


# --- the divisor's gradient ---------------------------------------------------------------

_TINY = sys.float_info.min  # the smallest normal float
_HUGE = sys.float_info.max


def neg_g_a_over_b_squared(g: float, a: float, b: float, out: float) -> float:
    """-g·a/b², the divisor's gradient of out = a/b: -g·(out/b), PyTorch's order.

    (g/b)·out overflowed to inf (times 0: nan) at a = 0, b = 1e-300, g = 1e10. Where out
    or out/b is not a normal float, a step on the way overflowed or lost bits, so
    -g·a/b² is redone on mantissas and exponents apart: within 3 ulps (three roundings)
    for any finite nonzero g, a, b.
    """
    r = div(out, b)
    if _TINY <= abs(r) <= _HUGE and _TINY <= abs(out):
        return -g * r
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


# --- the softmax family's pieces ----------------------------------------------------------
# The softmax family works from e_j = e^(x_j - m), m the largest logit: each e_j is
# within an ulp, the largest is exactly 1, and S = Σ e_j is in [1, n]. Then
#   softmax_i = e_i / S,   log_softmax_i = (x_i - m) - log1p(S - 1),   lse = m + log1p(S - 1),
# and 1 - p_i, which cancels where p_i rounds to 1, is (Σ_{j≠i} e_j) / S. Going through
# lse = m + log S instead rounds it at the scale of m: at m = 1e16, where a float's ulp
# is 2, e^(x_i - lse) was 1 for both of two equal logits.


def max_of(xs: Sequence[float]) -> float:
    """The largest of xs; nan if any is nan (nan wins, as in NumPy)."""
    m = max(xs)
    return NAN if m == m and any(x != x for x in xs) else m


def winner(xs: Sequence[float]) -> int:
    """The index of the operand max_of returns: the first nan, else the first maximal one."""
    for k, x in enumerate(xs):
        if x != x:
            return k
    return max(range(len(xs)), key=xs.__getitem__)


def min_of(xs: Sequence[float]) -> float:
    """The smallest of xs; nan if any is nan (nan wins, as in NumPy)."""
    m = min(xs)
    return NAN if m == m and any(x != x for x in xs) else m


def loser(xs: Sequence[float]) -> int:
    """The index of the operand min_of returns: the first nan, else the first minimal one."""
    for k, x in enumerate(xs):
        if x != x:
            return k
    return min(range(len(xs)), key=xs.__getitem__)


def pick(xs: Sequence[T], i: float) -> T:
    """xs[i], i an op's index parameter."""
    return xs[int(i)]


def sum_except(xs: Sequence[float], i: float) -> float:
    """Σ_{j≠i} xs_j, correctly rounded: S - e_i without cancelling (1 - p_i where p_i rounds to 1)."""
    k = int(i)
    return sum(xs[:k] + xs[k + 1 :])


def sum_and_rest(xs: Sequence[float], i: float) -> tuple[float, float]:
    """(Σ xs, Σ_{j≠i} xs_j), both correctly rounded: S and S - e_i without cancelling."""
    return sum(xs), sum_except(xs, i)


def scaled(xs: Sequence[float], c: float) -> list[float]:
    """[c·x for each x]."""
    return [c * x for x in xs]


def scaled_except(xs: Sequence[float], c: float, i: float, own: float) -> list[float]:
    """[c·x for each x], but own in place of xs[i]: a softmax's row of derivatives."""
    k = int(i)
    return [own if j == k else c * x for j, x in enumerate(xs)]


def shifted_exps(xs: Sequence[float], m: float) -> list[float]:
    """e^(x - m) for each x, within an ulp: x - m is rounded when the logits differ in
    scale (by up to 2^-44 relative, 250 ulps of the exponential); that rounding is put
    back as e^(d + lo) = e^d·(1 + lo)."""
    es = []
    for x in xs:
        d = x - m
        try:
            e = math.exp(d)  # d <= 0 for finite m: no overflow
        except OverflowError:  # only when m is -inf or nan: the rules use other formulas then
            e = INF
        if e and d and e - e == 0.0:  # _two_diff's lines, inlined: this loop runs n times per output node
            x_part = d + m
            e += e * ((x - x_part) - (m + (d - x_part)))
        es.append(e)
    return es


def shifted_minus(x: float, m: float, c: float) -> float:
    """(x - m) - c, with the rounding of x - m put back (Knuth's TwoSum): both terms are
    at most 0 where the rules use it, so nothing cancels."""
    d = x - m
    if d - d != 0.0:
        return d - c
    x_part = d + m  # the part of x that made it into d
    lo = (x - x_part) - (m + (d - x_part))
    return (d - c) + lo
