"""Every form of every rule against the others: floats, Values and NumPy arrays.

Each op in the table (:mod:`autograd.ops`) is written once and run three ways: the
float form (``op.forward``, ``op.backward``), the Value form (``op.rules_for(values)``,
whose derivative is a graph) and the array form (``op.rules_for(arrays)``, one array
per operand holding every sample point at once). Here all three run on the same
points: a grid inside each operand's ``domain``, the op's ``kinks``, ±0, ±inf, nan,
±1e300 and ±1e-300, in combinations for binary and variadic ops, with several upstream
gradients ``g`` (among them 0, inf and nan).

What they must agree on:

* Values against floats: bit for bit, signed zeros and nans included, for every op
  (``test_value_form_equals_float_form``). The Value kit computes each quantity as the
  float kit does; where it once used plainer formulas (exp(x) - 1 for expm1: +0 at -0
  and 8e-8 relative error at -1e-10; e^(x - m) without the rounding of x - m put back:
  up to 16 ulps in the softmax family) it now does not. One gap remains outside these
  points: div's divisor gradient -g·a/b² where out = a/b or out/b overflows or is
  subnormal while the gradient need not be (g = 1e-300, a = 1, b = 1e-200), which the
  float and array kits redo on mantissas and exponents and the Value kit does not (see
  the last test).
* Arrays against floats: within ``MAX_ULPS`` (NumPy's exp, log, tanh, power are not
  always C's; the table below says how far, and why tanh's derivative goes further),
  and of the same kind at special points: nan for nan, the same infinity, zeros of the
  same sign.
* The compiled scalar rules (``K.where`` turned into a conditional expression) against
  the rules as written: bit for bit.
"""

from __future__ import annotations

import dis
import functools
import inspect
import itertools
import math
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

import autograd
from autograd import Value, arrays, values
from autograd.engine import _make_node, apply_variadic
from autograd.ops import _TABLE, VARIADIC, Op

BUILT_IN = [op for op in _TABLE if autograd.OPS.get(op.name) is op]  # ops tests registered are not ours
INF, NAN = math.inf, math.nan
SPECIALS = (0.0, -0.0, INF, -INF, NAN)
EXTREME = (1e300, -1e300, 1e-300, -1e-300)  # finite, but far outside every domain
GS = (1.0, -2.5, 0.0, INF, NAN)  # upstream gradients: 0·g, inf and nan in g must stay visible


# --- ulps --------------------------------------------------------------------------------

_MAGNITUDE = np.uint64(0x7FFF_FFFF_FFFF_FFFF)
_NAN_APART = np.iinfo(np.uint64).max


def ulps(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """How many float64s lie between a and b, elementwise (0 for equal values, ±0 included).

    Floats ordered by value are ordered as integers once each is read as its sign and
    its magnitude bits: numbers of one sign differ by the difference of magnitudes,
    numbers of opposite signs by their sum. Two nans are 0 apart; a nan and a number
    are as far apart as can be.
    """
    a64, b64 = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    shape = a64.shape
    a64, b64 = np.ravel(a64), np.ravel(b64)
    mag_a, mag_b = a64.view(np.uint64) & _MAGNITUDE, b64.view(np.uint64) & _MAGNITUDE
    apart = np.where(
        np.signbit(a64) == np.signbit(b64), np.maximum(mag_a, mag_b) - np.minimum(mag_a, mag_b), mag_a + mag_b
    )
    nan_a, nan_b = np.isnan(a64), np.isnan(b64)
    apart = np.where(nan_a & nan_b, np.uint64(0), np.where(nan_a | nan_b, _NAN_APART, apart))
    return apart.reshape(shape)


def test_ulps_counts_floats_between() -> None:
    assert ulps(1.0, math.nextafter(1.0, 2.0)) == 1
    assert ulps(1.0, 1.0 + 4 * 2.0**-52) == 4
    assert ulps(0.0, -0.0) == 0
    assert ulps(5e-324, -5e-324) == 2  # the smallest subnormals, either side of zero
    assert ulps(INF, INF) == 0 and ulps(-INF, INF) > 0
    assert ulps(NAN, NAN) == 0 and ulps(NAN, 1.0) == _NAN_APART
    assert ulps(math.nextafter(INF, 0.0), INF) == 1
    np.testing.assert_array_equal(ulps(np.array([1.0, 2.0]), np.array([1.0, math.nextafter(2.0, 0.0)])), [0, 1])
    np.testing.assert_array_equal(ulps(np.array([-1.0, 3.0]), -1.0), [0, ulps(3.0, -1.0)])  # broadcast


def identical(a: float, b: float) -> bool:
    """Equal bit for bit, but any nan is any nan."""
    return (a != a and b != b) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


# --- sample points -----------------------------------------------------------------------


@dataclass
class Sample:
    """One call of a rule: operand values (and parameters) and the upstream gradient.
    ``special_operands``: an operand is a kink, ±0, ±inf or nan; ``special``: that, or g is."""

    operands: tuple[float, ...]
    params: tuple[int, ...]
    g: float
    special_operands: bool
    special: bool


def _grid(low: float, high: float, n: int) -> list[float]:
    return [float(v) for v in np.linspace(low, high, n)]


def _is_special(x: float, op: Op) -> bool:
    return x == 0.0 or not math.isfinite(x) or x in op.kinks


@functools.cache
def samples(op: Op) -> list[Sample]:
    """Every point the forms are compared on, for one op.

    Unary and binary ops: every combination of a grid over each operand's domain, the
    kinks, SPECIALS and EXTREME; variadic ops: every combination of such values for 1 to
    3 operands (dot: 2 to 4, one weight and one input at least; the largest count from
    a smaller pool), then random points inside the domain, up to 9 operands. Special
    points get every g of GS, the others one each in turn.
    """
    out: list[Sample] = []

    def add(operands: Sequence[float], params: tuple[int, ...], k: int) -> None:
        special = any(_is_special(x, op) for x in operands)
        for g in GS if special else (GS[k % len(GS)],):
            out.append(Sample(tuple(map(float, operands)), params, g, special, special or _is_special(g, op)))

    if op.arity != VARIADIC:
        per_operand = [
            [*_grid(low, high, 1001 if op.arity == 1 else 11), *op.kinks, *SPECIALS, *EXTREME]
            for low, high in op.domain
        ]
        for k, operands in enumerate(itertools.product(*per_operand)):
            add(operands, (), k)
        return out
    low, high = op.domain[0]
    pool = [*_grid(low, high, 5), *op.kinks, *SPECIALS, *EXTREME]
    small_pool = [low, high, *op.kinks, *SPECIALS, EXTREME[0]]
    rng = np.random.default_rng(10)
    sizes = (2, 3, 4) if op.name == "dot" else (1, 2, 3)
    for n in sizes:
        combos = [list(c) for c in itertools.product(pool if n < sizes[-1] else small_pool, repeat=n)]
        combos += [list(rng.uniform(low, high, n)) for _ in range(150)]
        for k, operands in enumerate(combos):
            for i in range(n) if op.n_params else (None,):
                add(operands, () if i is None else (i,), k)
    for n in (5, 6, 9):
        for k in range(60):
            add(list(rng.uniform(low, high, n)), (k % n,) if op.n_params else (), k)
    return out


# --- the three forms ---------------------------------------------------------------------


def _data(x: Value | float) -> float:
    return x.data if isinstance(x, Value) else float(x)


def float_form(op: Op, s: Sample) -> tuple[float, list[float]]:
    """(forward, gradients) from op.forward and op.backward on floats."""
    if op.arity == 1:
        out = op.forward(*s.operands)
        return out, [op.backward(s.g, out, *s.operands)]
    if op.arity == 2:
        out = op.forward(*s.operands)
        return out, list(op.backward(s.g, out, *s.operands))
    args = [*s.operands, *s.params]
    out = op.forward(args)
    return out, list(op.backward(s.g, out, args))


def value_form(op: Op, s: Sample) -> list[float]:
    """The gradients' data from the Value form of backward: Value g, Value operands and
    the result node as ``out`` (a Value's forward is its node: nothing to compare)."""
    backward = op.rules_for(values)[1]
    leaves = [Value(x) for x in s.operands]
    g = Value(s.g)
    if op.arity == VARIADIC:
        node = apply_variadic(op, leaves, s.params)
        grads = backward(g, node, [*leaves, *s.params])
    else:
        node = _make_node(op, op.forward(*s.operands), tuple(leaves))
        grads = backward(g, node, *leaves)
        grads = [grads] if op.arity == 1 else grads
    return [_data(gk) for gk in grads]


def array_form(
    op: Op, batch: Sequence[Sample], index_as_array: bool, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(forward, gradients as rows) from the array form, all samples at once (they share a
    length). The index parameter goes in as one int array, or as an int when every
    sample has the same. Backward gets the array forward's result, or ``out`` if given."""
    forward, backward = op.rules_for(arrays)
    columns = [np.array(c, dtype=np.float64) for c in zip(*(s.operands for s in batch))]
    g = np.array([s.g for s in batch])
    params: list[np.ndarray | int] = []
    for c in zip(*(s.params for s in batch)):
        params.append(np.array(c, dtype=np.int64) if index_as_array else c[0])
    with arrays.quiet():
        if op.arity == VARIADIC:
            result = forward([*columns, *params])
            grads = backward(g, result if out is None else out, [*columns, *params])
        else:
            result = forward(*columns)
            grads = backward(g, result if out is None else out, *columns)
            grads = [grads] if op.arity == 1 else grads
    n = len(batch)
    return np.broadcast_to(result, (n,)), np.stack([np.broadcast_to(gk, (n,)) for gk in grads])


def batches(op: Op, points: list[Sample]) -> Iterator[tuple[list[Sample], bool]]:
    """The samples grouped by operand count; an op with an index parameter gets each
    group once with the index as an int array, then once per index value as an int."""
    by_length: dict[int, list[Sample]] = {}
    for s in points:
        by_length.setdefault(len(s.operands), []).append(s)
    for group in by_length.values():
        if not op.n_params:
            yield group, False
            continue
        yield group, True
        by_index: dict[tuple[int, ...], list[Sample]] = {}
        for s in group:
            by_index.setdefault(s.params, []).append(s)
        for same_index in by_index.values():
            yield same_index, False


# --- comparing them ----------------------------------------------------------------------


@dataclass
class Comparison:
    """Floats against arrays for one op, over all its samples.

    ``forward``, ``backward``: the largest distance in ulps away from special points
    (backward on each form's own forward result, as a batch replay runs it);
    ``rule``: the same for backward fed the float form's result (the rule alone);
    ``mismatches``: special points where the two disagree in kind (one nan, an infinity
    or its sign, the sign of a zero) or by more than the op's bound.
    """

    forward: int = 0
    backward: int = 0
    rule: int = 0
    mismatches: list[str] = field(default_factory=list)


def same_kind(a: float, b: float, bound: int) -> bool:
    """Both nan; or equal infinities; or zeros of one sign; or finite, nonzero and within bound ulps."""
    if a != a or b != b:
        return a != a and b != b
    if math.isinf(a) or math.isinf(b) or a == 0.0 or b == 0.0:
        return identical(a, b)
    return int(ulps(a, b)) <= bound


@functools.cache
def float_results(name: str) -> list[tuple[float, list[float]]]:
    op = autograd.OPS[name]
    return [float_form(op, s) for s in samples(op)]


@functools.cache
def compare_arrays(name: str) -> Comparison:
    op = autograd.OPS[name]
    points = samples(op)
    row = {id(s): k for k, s in enumerate(points)}
    expected = float_results(name)
    bound_forward, bound_backward, bound_rule = MAX_ULPS[name]
    result = Comparison()
    for batch, index_as_array in batches(op, points):
        mine = [expected[row[id(s)]] for s in batch]
        out, grads = array_form(op, batch, index_as_array)
        _, rule_grads = array_form(op, batch, index_as_array, out=np.array([f for f, _ in mine]))
        for j, (s, (f_out, f_grads)) in enumerate(zip(batch, mine)):
            pairs = [("forward", f_out, out[j], bound_forward, s.special_operands)]
            pairs += [(f"gradient {k}", gk, grads[k][j], bound_backward, s.special) for k, gk in enumerate(f_grads)]
            pairs += [(f"rule {k}", gk, rule_grads[k][j], bound_rule, s.special) for k, gk in enumerate(f_grads)]
            for what, a, b, bound, special in pairs:
                b = float(b)
                if special:
                    if not same_kind(a, b, bound):
                        result.mismatches.append(
                            f"{what} at {s.operands}{s.params} g={s.g}: floats {a!r}, arrays {b!r}"
                        )
                    continue
                kind = {"forward": "forward", "gradient": "backward", "rule": "rule"}[what.split()[0]]
                setattr(result, kind, max(getattr(result, kind), int(ulps(a, b))))
    return result


# Floats against arrays, in ulps: (forward, backward, rule), as Comparison says. Measured
# with NumPy 2.4 on x86-64 (AVX-512), over samples() (away from special points):
#
#   op           forward  backward  rule
#   pow                1         3     2   np.power against C's pow
#   exp, sigmoid       1         1     0   np.exp: the derivative is g·out
#   log                1         0     0
#   softplus           1         2     2   via np.exp and np.log1p
#   tanh               1     10240     0   see below
#   logsumexp          1         2     2   np.exp, np.log1p
#   softmax            1         3     2
#   log_softmax        2         2     2
#   tan                1         2     0   np.tan; the derivative 1 + out² from each form's out
#   sinh, cosh         1         2     2   np.sinh, np.cosh in the derivative too
#   expm1              1         1     1   np.expm1; the derivative g·e^x through np.exp
#   arcsin, arccos,    1         0     0   NumPy's inverse functions against C's; their
#    arctan, arctan2,                       derivatives are arithmetic, sqrt and hypot,
#    arcsinh, arccosh,                      all correctly rounded in both
#    arctanh, log2,
#    log10, log1p
#   every other op     0         0     0   IEEE arithmetic, compensated sums: bit for bit
#
# tanh's derivative g·(1 - out²) is exact given out (rule: 0), but 1 - out² cancels: at
# x = -4.99 np.tanh and math.tanh differ by one ulp of out (1.1e-16), which moves
# 1 - out² = 1.85e-4 by 2.2e-16, 8,192 of its ulps (10,240 after the rounding of g·).
# A new op starts at 0 ulps, exact, until a row here says otherwise. The bounds leave
# twice the measured distance for other NumPy builds and CPUs; ops that only add,
# multiply, divide, compare and sum (compensated) must agree exactly everywhere.
LOOSER = {
    "pow": (2, 6, 4),
    "exp": (2, 2, 2),
    "log": (2, 2, 2),
    "sigmoid": (2, 2, 2),
    "softplus": (2, 4, 4),
    "tanh": (2, 2 * 10240, 0),
    "logsumexp": (2, 4, 4),
    "softmax": (2, 6, 4),
    "log_softmax": (4, 4, 4),
    "tan": (2, 4, 0),
    "sinh": (2, 4, 4),
    "cosh": (2, 4, 4),
    "expm1": (2, 2, 2),
    **{name: (2, 0, 0) for name in ("arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh", "log2", "log10", "log1p")},
}
MAX_ULPS: dict[str, tuple[int, int, int]] = {op.name: LOOSER.get(op.name, (0, 0, 0)) for op in BUILT_IN}


def test_every_built_in_op_is_compared() -> None:
    """Every op of the table is compared (on points from its own domain); the looser
    bounds name real ops, and each sample set has special and ordinary points."""
    assert {op.name for op in BUILT_IN} == {op.name for op in _TABLE}
    assert set(LOOSER) <= set(MAX_ULPS)
    for op in BUILT_IN:
        points = samples(op)
        assert any(s.special_operands for s in points) and any(not s.special for s in points), op.name


@pytest.mark.parametrize("op", BUILT_IN, ids=lambda op: op.name)
def test_value_form_equals_float_form(op: Op) -> None:
    """The Value form's gradients hold the float form's numbers bit for bit, signed zeros
    and nans included, on every sample: the Value kit computes the same quantities in the
    same order (its expm1 is an ELU node and its shifted exponentials put back the
    rounding of x - m, as the float kit does; see autograd/values.py)."""
    expected = float_results(op.name)
    wrong = []
    for s, (_, gradients) in zip(samples(op), expected):
        got = value_form(op, s)
        assert len(got) == len(gradients)
        for k, (a, b) in enumerate(zip(gradients, got)):
            if not identical(a, b):
                wrong.append(f"gradient {k} at {s.operands}{s.params} g={s.g}: floats {a!r}, Values {b!r}")
    assert not wrong, f"{len(wrong)} differences, first: {wrong[:5]}"


@pytest.mark.parametrize("op", BUILT_IN, ids=lambda op: op.name)
def test_array_form_within_its_bound_of_float_form(op: Op) -> None:
    """Away from special points, within MAX_ULPS; at them (a kink, ±0, ±inf or nan in an
    operand or in g) the same kind of result: nan for nan, the same infinity, a zero of
    the same sign, else within the bound. The index of softmax and log_softmax goes in
    both as an int and as an int array, one per sample."""
    result = compare_arrays(op.name)
    bound = MAX_ULPS[op.name]
    measured = (result.forward, result.backward, result.rule)
    assert all(got <= most for got, most in zip(measured, bound)), (
        f"(forward, backward, rule) ulps {measured}, bound {bound}"
    )
    assert not result.mismatches, f"{len(result.mismatches)} at special points, first: {result.mismatches[:5]}"


# --- the compiled scalar rules -------------------------------------------------------------


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _calls_where(code: types.CodeType) -> bool:
    return any("where" in c.co_names for c in _code_objects(code))


@pytest.mark.parametrize("op", BUILT_IN, ids=lambda op: op.name)
def test_scalar_form_compiles_every_where(op: Op) -> None:
    """A rule that says K.where is compiled for floats and Values into a conditional
    expression: no call to where is left; a rule without K.where is kept as it is."""
    for compiled, written in zip((op.forward, op.backward), op._generic):
        uses_where = "K.where" in inspect.getsource(written) if hasattr(written, "__code__") else False
        if uses_where:
            assert compiled is not written and _calls_where(written.__code__), op.name
            assert not _calls_where(compiled.__code__), op.name
            assert compiled.__code__.co_filename == written.__code__.co_filename  # tracebacks point at the rule
        else:
            assert compiled is written, op.name


BRANCH_ONLY = [("relu", 0), ("relu", 1), ("step", 0), ("abs", 1), ("leaky_relu", 0), ("leaky_relu", 1)]


@pytest.mark.parametrize(
    ("name", "which"), BRANCH_ONLY, ids=[f"{n}-{('forward', 'backward')[w]}" for n, w in BRANCH_ONLY]
)
def test_branching_float_rules_call_nothing(name: str, which: int) -> None:
    """Rules made of K.where, comparisons and arithmetic only (relu's forward and backward,
    step's forward, ...) compile to bytecode without a single call: as cheap as the
    hand-written float code they replace. As written, they call K.where."""
    op = autograd.OPS[name]
    compiled, written = (op.forward, op.backward)[which], op._generic[which]
    assert [i for i in dis.get_instructions(written) if i.opname.startswith(("CALL", "PRECALL"))]
    calls = [i.opname for i in dis.get_instructions(compiled) if i.opname.startswith(("CALL", "PRECALL"))]
    assert not calls, (name, compiled.__name__, calls)


TESTS = ("is_zero", "isnan", "is_finite")


def _names(code: types.CodeType, names: Sequence[str]) -> set[str]:
    return {name for c in _code_objects(code) for name in c.co_names if name in names}


@pytest.mark.parametrize("op", [op for op in BUILT_IN if any(
    hasattr(rule, "__code__") and _names(rule.__code__, TESTS) for rule in op._generic)], ids=lambda op: op.name)
def test_float_forms_compare_instead_of_calling_the_kit_tests(op: Op) -> None:
    """For floats alone, K.is_zero(x), K.isnan(x) and K.is_finite(x) are compiled into
    x == 0.0, x != x and x - x == 0.0 (pow's derivative called them four times); the
    Value form keeps the calls, since a Value's == is identity."""
    for float_form, value_form in zip((op.forward, op.backward), op._scalar):
        if hasattr(value_form, "__code__") and _names(value_form.__code__, TESTS):
            assert not _names(float_form.__code__, TESTS), op.name
    x = Value(0.0)
    assert op.rules_for(values)[1] is not op.backward and not (x == 0.0) and values.is_zero(x)


@pytest.mark.parametrize(
    "op",
    [op for op in BUILT_IN if op.forward is not op._generic[0] or op.backward is not op._generic[1]],
    ids=lambda op: op.name,
)
def test_compiled_rules_equal_the_rules_as_written(op: Op) -> None:
    """On floats, the compiled rule and the rule as written (K.where a function call,
    both branches evaluated) give the same bits on every sample."""
    forward, backward = op._generic
    wrong = []
    for s, (out, gradients) in zip(samples(op), float_results(op.name)):
        if op.arity == VARIADIC:
            args = [*s.operands, *s.params]
            written_out, written_grads = forward(args), list(backward(s.g, out, args))
        else:
            written_out = forward(*s.operands)
            written_grads = backward(s.g, out, *s.operands)
            written_grads = [written_grads] if op.arity == 1 else list(written_grads)
        pairs = [
            ("forward", out, written_out),
            *((f"gradient {k}", a, b) for k, (a, b) in enumerate(zip(gradients, written_grads))),
        ]
        wrong += [
            f"{what} at {s.operands}{s.params} g={s.g}: {a!r} against {b!r}"
            for what, a, b in pairs
            if not identical(a, b)
        ]
    assert not wrong, f"{len(wrong)} differences, first: {wrong[:5]}"


# --- dot's accumulate ------------------------------------------------------------------------


def test_dot_accumulate_agrees_with_backward_at_special_points() -> None:
    """tests/test_op_table.py checks accumulate against backward inside the domain, with
    operands of both kinds; here every special sample (±0, ±inf, nan, ±1e300 operands,
    and g 0, inf, nan) too: accumulate adds the same bits backward gives."""
    op = autograd.OPS["dot"]
    checked = 0
    for s in samples(op):
        if not s.special:
            continue
        leaves = [Value(x) for x in s.operands]
        for leaf in leaves:
            leaf.grad = 0.25
        op.accumulate(s.g, tuple(leaves))
        expected = op.backward(s.g, op.forward(list(s.operands)), list(s.operands))
        for leaf, ga in zip(leaves, expected):
            assert identical(leaf.grad, 0.25 + ga), (s, leaf.grad, ga)
        checked += 1
    assert checked > 1000


# --- the divisor's gradient across the whole float range ------------------------------------


def test_divisor_gradient_of_arrays_equals_floats_across_the_float_range() -> None:
    """-g·a/b² where out = a/b or out/b overflows or is subnormal: the float kit redoes it on
    mantissas and exponents, and so does the array kit (before, 2,224 of these 20,000
    log-uniform triples differed: -inf for -1e100 at g = 1e-300, a = 1, b = 1e-200).
    The Value kit still computes -g·(out/b) as nodes and differs at those points; no
    sample of the op's domain, kinks or the points above reaches them."""
    rng = np.random.default_rng(7)
    n = 20_000
    a, b, g = (rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-320.0, 308.0, n) for _ in range(3))
    forward, backward = autograd.OPS["div"].rules_for(arrays)
    with arrays.quiet():
        _, got = backward(g, forward(a, b), a, b)
    op = autograd.OPS["div"]
    expected = [
        op.backward(gk, op.forward(ak, bk), ak, bk)[1] for ak, bk, gk in zip(a.tolist(), b.tolist(), g.tolist())
    ]
    wrong = [(k, e, float(x)) for k, (e, x) in enumerate(zip(expected, got)) if not identical(e, float(x))]
    assert not wrong, f"{len(wrong)} differ, first: {wrong[:3]}"
    with arrays.quiet():
        plain = -g * (forward(a, b) / b)  # the formula without the care
    assert sum(not identical(e, float(p)) for e, p in zip(expected, plain)) > 2000  # the careful regime is reached


@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_and_mean_arrays_equal_floats_where_a_partial_sum_overflows(name: str) -> None:
    # the float kit sums exactly: [1e308, 1e308, -1e308] is 1e308, the mean of two -1e308
    # is -1e308, [1e308, 1e308, -inf] is -inf; a pairwise sum over the batch got inf or nan
    big = 1.7e308
    columns = [
        [big, big, -big], [-big, -big], [big, big, -math.inf], [math.inf, big, 1.0], [math.inf, -math.inf, 1.0],
        [big, -big, big, big, -big], [1.0, 2.0, 3.0], [math.nan, big, big], [5.0, 1e300, -1e300],
    ]  # fmt: skip
    op = autograd.OPS[name]
    forward = op.rules_for(arrays)[0]
    for column in columns:
        batch = [np.array([x, 1.0, x]) for x in column]  # the column as sample 0 and 2, a plain sample between
        expected = [op.forward(column), op.forward([1.0] * len(column)), op.forward(column)]
        with arrays.quiet():  # as the replay runs it
            got = forward(batch)
        assert ulps(got, expected).tolist() == [0, 0, 0], (column, got, expected)
