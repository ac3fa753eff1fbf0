"""Numerics at extreme inputs, against exact arithmetic and closed forms.

References are independent of the code under test: ``fractions.Fraction`` (exact
rational arithmetic, rounded once by ``float()``) and mpmath at 1200 bits. An
error is counted in ulps of the exact answer (``math.ulp`` of the nearest float).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import pytest
from mpmath import mpf

import autograd
import nn
from autograd import Value

INF, NAN = math.inf, math.nan
MAX = sys.float_info.max


@pytest.fixture(autouse=True)
def _exact_enough() -> Iterator[None]:
    """mpmath at 1200 bits: x_j - max is exact wherever e^(x_j - max) is not 0, and 1 - p_j,
    which cancels where p_j is near 1, keeps its bits down to 2^-1200, far below the
    smallest subnormal (2^-1074)."""
    with mpmath.workprec(1200):
        yield

# How far from the exact answer each quantity may be, in ulps of that answer. The worst
# cases measured over the 2,432 logit vectors below: values 1.54 ulps (softmax), 1.21
# (log_softmax, cross-entropy); gradients 2.94 (softmax), 2.02 (log_softmax,
# cross-entropy), 1.64 (logsumexp). PyTorch 2.13 in float64 on the same vectors: 36 ulps
# for softmax values; log_softmax([-1e15 - 139.6, -1e15 - 0.9]) gives 0 for the winner
# (exact: -5.5e-61) and so 0 for its gradient 1 - p; logsumexp's gradient at five equal
# logits of 1e20 is 1 each instead of 0.2. The bounds leave an ulp for another libm's exp.
VALUE_ULPS = 3
GRAD_ULPS = 4


def ulps(got: float, exact: mpf) -> float:
    """|got - exact| in ulps of the float nearest to exact (inf when got is not finite)."""
    if not math.isfinite(got):
        return INF
    return float(abs(mpf(got) - exact) / mpf(math.ulp(float(exact))))


# --- 1. softmax, log_softmax, logsumexp, cross-entropy at any scale -------------------------


def logit_cases() -> list[list[float]]:
    """Logit vectors at every scale from 1e-3 to 1e300, both signs: clustered (differences of
    a few units to a few hundred, so no probability is trivially 0 or 1), relatively close
    (neighbouring floats at large scales), and spread over both signs."""
    rng = random.Random(20261126)
    cases = []
    for k in range(-3, 301):
        for sign in (1.0, -1.0):
            c = sign * 10.0**k
            n = rng.randint(2, 5)
            spread = rng.choice((1.0, 30.0, 700.0))
            cases.append([c + rng.uniform(-1.0, 1.0) * spread for _ in range(n)])
            cases.append([c * (1.0 + rng.uniform(-1.0, 1.0) * 2.0 ** -rng.randint(40, 52)) for _ in range(n)])
            cases.append([c, -c, c * rng.uniform(-1.0, 1.0), 1e-3 * sign])
            cases.append([c, c] + [c + rng.choice((-1.0, 1.0)) * math.ulp(c) * rng.randint(0, 3) for _ in range(n - 2)])
    return cases


CASES = logit_cases()

Pair = tuple[float, float]  # hi + lo: an exact value to about 106 bits, cheap to compare with


def pair(x: mpf) -> Pair:
    hi = float(x)
    return hi, float(x - hi)


def pair_ulps(got: float, want: Pair, scale: float | None = None) -> float:
    """|got - want| in ulps of want's float (or of scale); got - hi is exact within a few ulps."""
    if not math.isfinite(got):
        return INF
    hi, lo = want
    return abs((got - hi) - lo) / math.ulp(hi if scale is None else scale)


@dataclass(frozen=True)
class Exact:
    """The softmax family of one logit vector, from mpmath at 1200 bits."""

    p: list[Pair]  # softmax
    logp: list[Pair]  # log_softmax; cross-entropy is -logp[target]
    lse: Pair
    lse_scale: float  # max(|lse|, |largest logit|)
    dp: list[list[Pair]]  # dp_i/dx_j = p_i(δ_ij - p_j)
    dlogp: list[list[Pair]]  # d log p_i/dx_j = δ_ij - p_j; cross-entropy's is its negation


@functools.cache
def exact(xs: tuple[float, ...]) -> Exact:
    with mpmath.workprec(1200):
        ms = [mpf(x) for x in xs]
        top = max(ms)
        # e^-1000 < 2^-1442 vanishes next to the largest term's 1 at 1200 bits (and mpmath
        # takes 30 ms for e^-1e300)
        shifted = [mpmath.exp(x - top) if x - top > -1000 else mpf(0) for x in ms]
        total = mpmath.fsum(shifted)
        log_total = mpmath.log(total)
        p = [e / total for e in shifted]
        lse = top + log_total
        n = len(xs)
        return Exact(
            p=[pair(q) for q in p],
            logp=[pair(x - top - log_total) for x in ms],
            lse=pair(lse),
            lse_scale=float(max(abs(lse), abs(top))),
            dp=[[pair(p[i] * ((i == j) - p[j])) for j in range(n)] for i in range(n)],
            dlogp=[[pair((i == j) - p[j]) for j in range(n)] for i in range(n)],
        )


def negated(x: Pair) -> Pair:
    return -x[0], -x[1]


def worst(errors: list[tuple[float, object]]) -> tuple[float, object]:
    return max(errors, key=lambda pair: pair[0])


# Per output i (the target, for cross-entropy): the node, its exact value, and the exact
# derivative of that value with respect to logit j.
FAMILY: dict[str, tuple[Callable[[list[Value], int], Value], Callable[[Exact, int], Pair], Callable[[Exact, int, int], Pair]]] = {
    "softmax": (lambda v, i: autograd.softmax(v)[i], lambda e, i: e.p[i], lambda e, i, j: e.dp[i][j]),
    "log_softmax": (lambda v, i: autograd.log_softmax(v)[i], lambda e, i: e.logp[i], lambda e, i, j: e.dlogp[i][j]),
    "cross_entropy": (
        lambda v, t: nn.cross_entropy(v, t),
        lambda e, t: negated(e.logp[t]),
        lambda e, t, j: negated(e.dlogp[t][j]),
    ),
}


@pytest.mark.parametrize("name", FAMILY)
def test_softmax_family_is_within_a_few_ulps_at_any_scale(name: str) -> None:
    build, value, derivative = FAMILY[name]
    value_errors, grad_errors = [], []
    for xs in CASES:
        want = exact(tuple(xs))
        for i in range(len(xs)):
            leaves = [Value(x) for x in xs]
            out = build(leaves, i)
            out.backward()
            value_errors.append((pair_ulps(out.data, value(want, i)), (xs, i)))
            grad_errors += [(pair_ulps(leaf.grad, derivative(want, i, j)), (xs, i, j)) for j, leaf in enumerate(leaves)]
    assert worst(value_errors)[0] <= VALUE_ULPS, worst(value_errors)
    assert worst(grad_errors)[0] <= GRAD_ULPS, worst(grad_errors)


def test_softmax_outputs_sum_to_one() -> None:
    for xs in CASES:
        total = math.fsum(p.data for p in autograd.softmax(xs))
        assert abs(total - 1.0) <= 2 * math.ulp(1.0), (xs, total)


def test_logsumexp_is_within_a_few_ulps_at_any_scale() -> None:
    """The gradient (softmax) within a few ulps. The value m + log Σe^(x-m) within a few ulps
    of the larger of its two terms: where they cancel (lse near 0 while the largest logit m
    is not), the rounding of log Σ in the last place is all that is left, as in PyTorch."""
    value_errors, grad_errors = [], []
    for xs in CASES:
        want = exact(tuple(xs))
        leaves = [Value(x) for x in xs]
        out = autograd.logsumexp(leaves)
        out.backward()
        value_errors.append((pair_ulps(out.data, want.lse, want.lse_scale), xs))
        grad_errors += [(pair_ulps(leaf.grad, want.p[j]), (xs, j)) for j, leaf in enumerate(leaves)]
    assert worst(value_errors)[0] <= VALUE_ULPS, worst(value_errors)
    assert worst(grad_errors)[0] <= GRAD_ULPS, worst(grad_errors)


def test_equal_huge_logits_give_even_odds() -> None:
    """The issue's example: at 1e16 a float's ulp is 2, and exp(x - lse) rounded everything to 1."""
    assert [p.data for p in autograd.softmax([Value(1e16), Value(1e16)])] == [0.5, 0.5]
    logits = [Value(1e16), Value(1e16)]
    loss = nn.cross_entropy(logits, 0)
    loss.backward()
    assert loss.data == math.log(2) == 0.6931471805599453
    assert [v.grad for v in logits] == [-0.5, 0.5]
    logits = [Value(1e16), Value(1e16)]
    lse = autograd.logsumexp(logits)
    lse.backward()
    assert lse.data == 1e16 and [v.grad for v in logits] == [0.5, 0.5]


def test_a_sure_class_keeps_its_tiny_gradient() -> None:
    """p = 1/(1 + e^-40) rounds to 1, but 1 - p = e^-40/(1 + e^-40) is 4.25e-18, not 0."""
    logits = [Value(0.0), Value(-40.0)]
    loss = nn.cross_entropy(logits, 0)
    loss.backward()
    tail = mpmath.exp(-40) / (1 + mpmath.exp(-40))
    assert ulps(loss.data, mpmath.log1p(mpmath.exp(-40))) <= 1
    assert ulps(logits[0].grad, -tail) <= 2 and ulps(logits[1].grad, tail) <= 2


def test_masked_logits() -> None:
    """A logit of -inf (a masked class) has probability 0 and takes no part; the rest are exact."""
    assert [p.data for p in autograd.softmax([-INF, 1.0, 1.0])] == [0.0, 0.5, 0.5]
    logits = [Value(-INF), Value(1.0)]
    out = autograd.log_softmax(logits)[0]
    out.backward()
    assert out.data == -INF and [v.grad for v in logits] == [1.0, -1.0]  # δ_ij - p_j, as PyTorch gives
    logits = [Value(-INF), Value(1.0)]
    lse = autograd.logsumexp(logits)
    lse.backward()
    assert lse.data == 1.0 and [v.grad for v in logits] == [0.0, 1.0]
    assert all(math.isnan(p.data) for p in autograd.softmax([-INF, -INF]))  # 0/0, as in PyTorch


@pytest.mark.parametrize("scale", [1e4, 1e12])
def test_the_issues_scales_now_agree_to_the_last_ulps(scale: float) -> None:
    """At logits near 1e4 the relative error was 4.5e-13, near 1e12 1.3e-5."""
    xs = [scale, scale + 1.0, scale - 2.0]
    for got, want in zip(autograd.softmax(xs), exact(tuple(xs)).p):
        assert pair_ulps(got.data, want) <= 2


# --- 2. elu's derivative ------------------------------------------------------------------------


@pytest.mark.parametrize("x", [-1e-3, -1.0, -30.0, -40.0, -300.0, -700.0, -745.0])
@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_elu_derivative_is_alpha_e_to_the_x(x: float, alpha: float) -> None:
    """For x ≤ 0, elu' = alpha·e^x; out + alpha cancelled (0 instead of 4.25e-18 at x = -40)."""
    v, a = Value(x), Value(alpha)
    v.elu(a).backward()
    assert ulps(v.grad, mpf(alpha) * mpmath.exp(x)) <= 1.5
    assert ulps(a.grad, mpmath.expm1(x)) <= 1


# --- 3. nan wins ----------------------------------------------------------------------------------


@pytest.mark.parametrize("xs", [[INF, NAN], [-INF, NAN], [NAN, INF], [NAN, -INF], [1.0, NAN], [NAN, 1.0], [INF, 1.0, NAN]])
def test_nan_wins_in_logsumexp_and_softmax(xs: list[float]) -> None:
    assert math.isnan(autograd.logsumexp(xs).data)
    assert all(math.isnan(p.data) for p in autograd.softmax(xs))
    assert all(math.isnan(p.data) for p in autograd.log_softmax(xs))


@pytest.mark.parametrize(
    ("xs", "winner"),
    [([1.0, NAN], 1), ([NAN, 1.0], 0), ([2.0, NAN, NAN], 1), ([INF, NAN], 1), ([1.0, 3.0, 3.0], 1), ([0.0, -0.0], 0)],
)
def test_maximum_gives_the_gradient_to_the_operand_that_made_the_result(xs: list[float], winner: int) -> None:
    leaves = [Value(x) for x in xs]
    out = autograd.maximum(leaves)
    out.backward()
    assert out.data == xs[winner] or (math.isnan(out.data) and math.isnan(xs[winner]))
    assert [leaf.grad for leaf in leaves] == [1.0 if i == winner else 0.0 for i in range(len(xs))]


# --- 4. the divisor's gradient -------------------------------------------------------------------


def test_divisor_gradient_does_not_overflow() -> None:
    """The issue's two cases: -g·a/b² is -0 and -1e300; g/b overflowed first (nan, -inf)."""
    x, y = Value(0.0), Value(1e-300)
    ((x / y) * 1e10).backward()
    assert y.grad == 0.0  # the leaf's 0.0 plus the rule's -0.0
    x, y = Value(1e-310), Value(1e-300)
    ((x / y) * 1e10).backward()
    assert ulps(y.grad, mpf(-1e10) * mpf(1e-310) / mpf(1e-300) ** 2) <= 3


def test_divisor_gradient_matches_exact_arithmetic_over_the_exponent_range() -> None:
    """-g·a/b² from Fractions: within 3 ulps (three roundings) for g, a, b anywhere in the float range, including
    where g/b, a/b or (a/b)/b overflow or underflow on the way to a representable answer."""
    rng = random.Random(9)
    for _ in range(4000):
        a, b, g = (rng.choice((-1, 1)) * rng.uniform(1, 2) * 2.0 ** rng.randint(-1074, 1023) for _ in range(3))
        if rng.random() < 0.05:
            a = 0.0
        exact_q = -Fraction(g) * Fraction(a) / Fraction(b) ** 2
        x, y = Value(a), Value(b)
        (x / y).backward(g)
        try:
            float(exact_q)
        except OverflowError:
            assert y.grad == (INF if exact_q > 0 else -INF), (a, b, g, y.grad)
            continue
        assert ulps(y.grad, mpf(exact_q.numerator) / exact_q.denominator) <= 3, (a, b, g, y.grad, float(exact_q))


# --- 5. correctly rounded sums, whatever the order, even when partial sums overflow -----------------


BIG = 1e308
HALF_ULP = math.ulp(BIG) / 2


def mean_of(terms: list[float]) -> float:
    """The README's mean: the correctly rounded sum over n; where that sum overflows,
    the exact mean rounded once."""
    total = correctly_rounded(terms)
    return total / len(terms) if math.isfinite(total) else correctly_rounded(terms, len(terms))


def correctly_rounded(terms: list[float], divisor: int = 1) -> float:
    """The exact sum (over divisor) rounded once; ±inf where it overflows, IEEE's inf/nan rules."""
    if any(math.isnan(t) for t in terms) or (INF in terms and -INF in terms):
        return NAN
    if INF in terms or -INF in terms:
        return INF if INF in terms else -INF
    total = sum(map(Fraction, terms), Fraction(0)) / divisor
    try:
        return float(total)
    except OverflowError:
        return INF if total > 0 else -INF


SUM_CASES = [
    [BIG, BIG, -BIG],
    [BIG, -BIG, BIG],
    [-BIG, -BIG, BIG],
    [BIG, BIG],  # a real overflow: inf
    [-BIG, -BIG],
    [BIG, BIG, -INF],  # the partial sum overflows before the -inf comes
    [BIG, BIG, INF, -INF],  # inf - inf: nan
    [BIG, BIG, NAN],
    [MAX, MAX, -MAX],
    [MAX, HALF_ULP * 2**20, -HALF_ULP * 2**20],
    [BIG, BIG, -BIG, HALF_ULP, 5e-324],  # a tie broken by the smallest subnormal: rounds up
    [BIG, BIG, -BIG, HALF_ULP],  # an exact tie: to even
    [BIG, BIG, -BIG, 1.5, -1e-300, 2.5e-320],
]


@pytest.mark.parametrize("terms", SUM_CASES, ids=lambda t: f"{len(t)} terms")
def test_sum_is_correctly_rounded_and_mean_is_it_over_n_in_every_order(terms: list[float]) -> None:
    want_sum, want_mean = correctly_rounded(terms), mean_of(terms)
    for order in itertools.permutations(terms):
        got_sum, got_mean = autograd.sum(order).data, autograd.mean(order).data
        assert got_sum == want_sum or (math.isnan(got_sum) and math.isnan(want_sum)), (order, got_sum, want_sum)
        assert got_mean == want_mean or (math.isnan(got_mean) and math.isnan(want_mean)), (order, got_mean, want_mean)


@pytest.mark.parametrize("terms", SUM_CASES, ids=lambda t: f"{len(t)} terms")
def test_dot_adds_its_products_correctly_rounded_in_every_order(terms: list[float]) -> None:
    """dot(w, x) with x = 1 and then with the last term as the bias: each product is exact."""
    want = correctly_rounded(terms)
    for order in itertools.permutations(terms):
        for got in (autograd.dot(order, [1.0] * len(order)).data, autograd.dot(order[:-1], [1.0] * (len(order) - 1), order[-1]).data):
            assert got == want or (math.isnan(got) and math.isnan(want)), (order, got, want)


def test_mean_of_two_largest_floats_is_the_largest_float() -> None:
    assert autograd.mean([MAX] * 2).data == MAX
    assert autograd.mean([BIG] * 5).data == BIG


def test_large_random_sums_are_correctly_rounded() -> None:
    """Random terms near the top of the range, both signs: every order gives the exact sum rounded once."""
    rng = random.Random(5)
    for _ in range(300):
        terms = [rng.choice((-1, 1)) * rng.uniform(0.5, 1.0) * 2.0 ** rng.choice((1023, 1022, 1000, 0, -1074)) for _ in range(rng.randint(2, 8))]
        want, want_mean = correctly_rounded(terms), mean_of(terms)
        for _ in range(3):
            rng.shuffle(terms)
            got = autograd.sum(terms).data
            assert got == want or (math.isnan(got) and math.isnan(want)), (terms, got, want)
            assert autograd.mean(terms).data == want_mean, terms


# --- tanh: the C library's, within 2 ulps; the lecture's printed numbers do not see the ulp ----------


def test_tanh_is_within_two_ulps() -> None:
    """math.tanh over log-uniform ±[1e-8, 20] and uniform [-5, 5]: at most 2 ulps off (see ops.py)."""
    rng = random.Random(3)
    xs = [rng.choice((-1, 1)) * 10 ** rng.uniform(-8, 1.3) for _ in range(1000)] + [rng.uniform(-5, 5) for _ in range(1000)]
    assert max(ulps(Value(x).tanh().data, mpmath.tanh(mpf(x))) for x in xs) <= 2


def test_the_lecture_neuron_prints_the_same_with_a_one_ulp_tanh() -> None:
    """x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.8813735870195432, o = tanh(x1·w1 + x2·w2 + b).
    math.tanh gives o one ulp above the correctly rounded 0.7071067811865476; at the
    lecture's 4 decimals every number is the same."""
    x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    o.backward()
    assert ulps(o.data, mpmath.tanh(mpf(n.data))) <= 1
    printed = [f"{v:.4f}" for v in (o.data, n.grad, x1.grad, w1.grad, x2.grad, w2.grad)]
    assert printed == ["0.7071", "0.5000", "-1.5000", "1.0000", "0.5000", "0.0000"]
