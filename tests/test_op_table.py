"""Every op in the table: its gradient against central differences, over its own domain.

The op table drives these tests: each entry's ``domain`` and ``kinks`` say where
hypothesis draws inputs. A new op without a builder below fails
``test_every_op_has_a_builder``, so adding an op forces a test row.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable, Sequence

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import autograd
from autograd import Value
from autograd.ops import _TABLE, VARIADIC, Op

BUILT_IN = {op.name: op for op in _TABLE}  # ops of your own (README examples, notebooks) are not the table's

Builder = Callable[[Sequence[Value]], Value]

# How each op's node is built through the public API (never through the table).
BUILDERS: dict[str, Builder] = {
    "add": lambda v: v[0] + v[1],
    "sub": lambda v: v[0] - v[1],
    "mul": lambda v: v[0] * v[1],
    "div": lambda v: v[0] / v[1],
    "pow": lambda v: v[0] ** v[1],
    "neg": lambda v: -v[0],
    "abs": lambda v: abs(v[0]),
    "exp": lambda v: v[0].exp(),
    "log": lambda v: v[0].log(),
    "sigmoid": lambda v: v[0].sigmoid(),
    "tanh": lambda v: v[0].tanh(),
    "relu": lambda v: v[0].relu(),
    "softplus": lambda v: v[0].softplus(),
    "step": lambda v: v[0].step(),
    "sin": lambda v: v[0].sin(),
    "cos": lambda v: v[0].cos(),
    "sqrt": lambda v: v[0].sqrt(),
    "leaky_relu": lambda v: v[0].leaky_relu(v[1]),
    "elu": lambda v: v[0].elu(v[1]),
    "sum": lambda v: autograd.sum(v),
    "mean": lambda v: autograd.mean(v),
    "dot": lambda v: autograd.dot(v[: len(v) // 2], v[len(v) // 2 : 2 * (len(v) // 2)], *v[2 * (len(v) // 2) :]),
    "logsumexp": lambda v: autograd.logsumexp(v),
    "softmax": lambda v: autograd.softmax(v[:-1])[int(v[-1].data) % (len(v) - 1)],
    "log_softmax": lambda v: autograd.log_softmax(v[:-1])[int(v[-1].data) % (len(v) - 1)],
    "maximum": lambda v: autograd.maximum(v),
    "tan": lambda v: v[0].tan(),
    "sinh": lambda v: v[0].sinh(),
    "cosh": lambda v: v[0].cosh(),
    "arcsin": lambda v: v[0].arcsin(),
    "arccos": lambda v: v[0].arccos(),
    "arctan": lambda v: v[0].arctan(),
    "arcsinh": lambda v: v[0].arcsinh(),
    "arccosh": lambda v: v[0].arccosh(),
    "arctanh": lambda v: v[0].arctanh(),
    "log2": lambda v: v[0].log2(),
    "log10": lambda v: v[0].log10(),
    "log1p": lambda v: v[0].log1p(),
    "expm1": lambda v: v[0].expm1(),
    "sign": lambda v: v[0].sign(),
    "floor": lambda v: v[0].floor(),
    "ceil": lambda v: v[0].ceil(),
    "mod": lambda v: v[0] % v[1],
    "hypot": lambda v: autograd.hypot(v[0], v[1]),
    "arctan2": lambda v: autograd.arctan2(v[0], v[1]),
    "logaddexp": lambda v: autograd.logaddexp(v[0], v[1]),
    "logaddexp2": lambda v: autograd.logaddexp2(v[0], v[1]),
    "minimum": lambda v: autograd.minimum(v),
    "prod": lambda v: autograd.prod(v),
    "var": lambda v: autograd.var(v),
    "std": lambda v: autograd.std(v),
}

# Independent references for the forward values (NumPy-free closed forms).
REFERENCES: dict[str, Callable[[Sequence[float]], float]] = {
    "add": lambda x: x[0] + x[1],
    "sub": lambda x: x[0] - x[1],
    "mul": lambda x: x[0] * x[1],
    "div": lambda x: x[0] / x[1],
    "pow": lambda x: x[0] ** x[1],
    "neg": lambda x: -x[0],
    "abs": lambda x: abs(x[0]),
    "exp": lambda x: math.exp(x[0]),
    "log": lambda x: math.log(x[0]),
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x[0])),
    "tanh": lambda x: (math.exp(2 * x[0]) - 1) / (math.exp(2 * x[0]) + 1),
    "relu": lambda x: max(x[0], 0.0),
    "softplus": lambda x: math.log(1.0 + math.exp(x[0])),
    "step": lambda x: 1.0 if x[0] > 0 else 0.0,
    "sin": lambda x: math.sin(x[0]),
    "cos": lambda x: math.cos(x[0]),
    "sqrt": lambda x: x[0] ** 0.5,
    "leaky_relu": lambda x: x[0] if x[0] > 0 else x[1] * x[0],
    "elu": lambda x: x[0] if x[0] > 0 else x[1] * (math.exp(x[0]) - 1.0),
    "sum": lambda x: sum(x),
    "mean": lambda x: sum(x) / len(x),
    "dot": lambda x: sum(w * v for w, v in zip(x[: len(x) // 2], x[len(x) // 2 :])) + (x[-1] if len(x) % 2 else 0.0),
    "logsumexp": lambda x: math.log(sum(math.exp(v) for v in x)),
    "softmax": lambda x: math.exp(x[int(x[-1]) % (len(x) - 1)]) / sum(math.exp(v) for v in x[:-1]),
    "log_softmax": lambda x: x[int(x[-1]) % (len(x) - 1)] - math.log(sum(math.exp(v) for v in x[:-1])),
    "maximum": lambda x: max(x),
    "tan": lambda x: math.sin(x[0]) / math.cos(x[0]),
    "sinh": lambda x: (math.exp(x[0]) - math.exp(-x[0])) / 2,
    "cosh": lambda x: (math.exp(x[0]) + math.exp(-x[0])) / 2,
    "arcsin": lambda x: math.atan(x[0] / math.sqrt(1 - x[0] ** 2)),
    "arccos": lambda x: math.pi / 2 - math.atan(x[0] / math.sqrt(1 - x[0] ** 2)),
    "arctan": lambda x: math.asin(x[0] / math.sqrt(1 + x[0] ** 2)),
    "arcsinh": lambda x: math.copysign(math.log(abs(x[0]) + math.sqrt(x[0] ** 2 + 1)), x[0]),
    "arccosh": lambda x: math.log(x[0] + math.sqrt(x[0] ** 2 - 1)),
    "arctanh": lambda x: 0.5 * math.log((1 + x[0]) / (1 - x[0])),
    "log2": lambda x: math.log(x[0]) / math.log(2),
    "log10": lambda x: math.log(x[0]) / math.log(10),
    "log1p": lambda x: math.log(1 + x[0]),
    "expm1": lambda x: math.exp(x[0]) - 1,
    "sign": lambda x: (x[0] > 0) - (x[0] < 0),
    "floor": lambda x: math.floor(x[0]),
    "ceil": lambda x: math.ceil(x[0]),
    "mod": lambda x: x[0] - x[1] * math.floor(x[0] / x[1]),
    "hypot": lambda x: math.sqrt(x[0] ** 2 + x[1] ** 2),
    "arctan2": lambda x: cmath.phase(complex(x[1], x[0])),
    "logaddexp": lambda x: math.log(math.exp(x[0]) + math.exp(x[1])),
    "logaddexp2": lambda x: math.log2(2 ** x[0] + 2 ** x[1]),
    "minimum": lambda x: min(x),
    "prod": lambda x: math.prod(x),
    "var": lambda x: sum((v - sum(x) / len(x)) ** 2 for v in x) / len(x),
    "std": lambda x: (sum((v - sum(x) / len(x)) ** 2 for v in x) / len(x)) ** 0.5,
}

EPS = 1e-6


def away_from_kinks(op: Op, values: Sequence[float], margin: float = 1e-3) -> bool:
    """The point keeps ``margin`` from the op's kinks, and from the jumps that are not at fixed
    points: maximum's and minimum's ties, a % b's whole a/b, std's equal operands."""
    if not all(abs(v - k) > margin for v in values for k in op.kinks):
        return False
    if op.name in ("maximum", "minimum", "std") and len(values) > 1:  # a tie, or std's kink at equal values
        ordered = sorted(values)
        extreme = ordered[-1] - ordered[-2] if op.name == "maximum" else ordered[1] - ordered[0]
        if op.name == "std":
            extreme = ordered[-1] - ordered[0]
        return extreme > margin
    if op.name == "mod":
        quotient = values[0] / values[1]
        return abs(quotient - round(quotient)) > margin
    return True


def operands(op: Op) -> st.SearchStrategy[list[float]]:
    """Operand values drawn from the op's domain (variadic: 1 to 6 elements)."""
    if op.arity == VARIADIC:
        low, high = op.domain[0]
        elements = st.floats(low, high, allow_nan=False)
        values = st.lists(elements, min_size=2 if op.name == "dot" else 1, max_size=6)  # dot: one weight at least
        if op.n_params:  # a trailing output index
            return st.tuples(values, st.integers(0, 5)).map(lambda pair: [*pair[0], float(pair[1])])
        return values
    return st.tuples(*(st.floats(low, high, allow_nan=False) for low, high in op.domain)).map(list)


def central_differences(op_name: str, point: list[float], differentiable: int) -> list[float]:
    """d f/d x_i by (f(x + eps) - f(x - eps)) / 2eps, re-running the public API."""
    build = BUILDERS[op_name]
    grads = []
    for i in range(differentiable):
        plus = [*point[:i], point[i] + EPS, *point[i + 1 :]]
        minus = [*point[:i], point[i] - EPS, *point[i + 1 :]]
        f_plus = build([Value(v) for v in plus]).data
        f_minus = build([Value(v) for v in minus]).data
        grads.append((f_plus - f_minus) / (2 * EPS))
    return grads


def test_every_op_has_a_builder_and_a_reference() -> None:
    assert set(BUILDERS) == set(BUILT_IN), "every op in the table needs a test row"
    assert set(REFERENCES) == set(BUILT_IN)


@pytest.mark.parametrize("op", list(BUILT_IN.values()), ids=lambda op: op.name)
def test_gradient_matches_central_differences(op: Op) -> None:
    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(operands(op))
    def check(point: list[float]) -> None:
        assume(away_from_kinks(op, point[: len(point) - op.n_params]))
        leaves = [Value(v) for v in point]
        out = BUILDERS[op.name](leaves)
        assert out.op == op.name
        assert out.data == pytest.approx(REFERENCES[op.name](point), rel=1e-12, abs=1e-12)
        out.backward()
        differentiable = len(point) - op.n_params
        numeric = central_differences(op.name, point, differentiable)
        for i, (leaf, expected) in enumerate(zip(leaves, numeric)):
            assert leaf.grad == pytest.approx(expected, rel=1e-5, abs=1e-6), (op.name, i, point)

    check()


@pytest.mark.parametrize("op", list(BUILT_IN.values()), ids=lambda op: op.name)
def test_gradcheck_agrees_on_every_op(op: Op) -> None:
    """autograd.gradcheck on each op at a fixed interior point of its domain."""
    if op.arity == VARIADIC:
        low, high = op.domain[0]
        point = [low + (high - low) * f for f in (0.3, 0.55, 0.8)]
        if op.n_params:
            point.append(1.0)
    else:
        point = [low + (high - low) * f for (low, high), f in zip(op.domain, (0.62, 0.37))]
    differentiable = len(point) - op.n_params
    params = point[differentiable:]
    assert autograd.gradcheck(lambda *xs: BUILDERS[op.name]([*xs, *map(Value, params)]), point[:differentiable])


def test_gradcheck_catches_a_wrong_rule() -> None:
    """A deliberately wrong derivative (3x² reported as 2x) must be caught."""
    wrong = Op("cube", "x³", VARIADIC, lambda xs: xs[0] ** 3, lambda g, out, xs: [g * 2 * xs[0]], ((-2.0, 2.0),))
    right = Op("cube", "x³", VARIADIC, lambda xs: xs[0] ** 3, lambda g, out, xs: [g * 3 * xs[0] ** 2], ((-2.0, 2.0),))
    from autograd.engine import apply_variadic

    assert autograd.gradcheck(lambda x: apply_variadic(right, [x]), [1.5])
    with pytest.raises(autograd.GradcheckError, match=r"input x = 1\.5: backward gives 3\.0"):
        autograd.gradcheck(lambda x: apply_variadic(wrong, [x]), [Value(1.5, label="x")])


def test_gradcheck_catches_a_value_computed_outside_the_graph() -> None:
    """data that depends on x with no graph path to x has gradient 0, not 2x."""
    with pytest.raises(autograd.GradcheckError, match="#0"):
        autograd.gradcheck(lambda x: x * 0 + Value(x.data) ** 2, [1.0])


def test_gradcheck_leaves_its_inputs_alone() -> None:
    """Value inputs are read, not differentiated: their data and grad are unchanged."""
    a, b = Value(0.5, label="a"), Value(2.0, label="b")
    b.grad = 7.0
    assert autograd.gradcheck(lambda p, q: p * q.exp(), [a, b]) is True
    assert (a.data, a.grad, b.data, b.grad) == (0.5, 0.0, 2.0, 7.0)


ACCUMULATING = [op for op in BUILT_IN.values() if op.accumulate is not None]


def test_accumulating_ops_are_variadic() -> None:
    assert ACCUMULATING, "dot adds its gradients straight into its operands"
    assert all(op.arity == VARIADIC for op in ACCUMULATING)


@pytest.mark.parametrize("op", ACCUMULATING, ids=lambda op: op.name)
def test_accumulate_agrees_with_the_reference_rule(op: Op) -> None:
    """An op's fast ``accumulate`` (what backward runs) adds exactly what its ``backward`` rule gives,
    to Value operands only, whichever operands are plain numbers."""

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(values=operands(op), as_nodes=st.lists(st.booleans(), min_size=7, max_size=7), g=st.floats(-4.0, 4.0))
    def check(values: list[float], as_nodes: list[bool], g: float) -> None:
        args = tuple(Value(v) if node else v for v, node in zip(values, as_nodes))
        for a in args:
            if isinstance(a, Value):
                a.grad = 0.25  # accumulate adds to what is there
        op.accumulate(g, args)
        expected = op.backward(g, op.forward(values), values)
        for a, ga in zip(args, expected):
            if isinstance(a, Value):
                assert a.grad == 0.25 + ga

    check()


@pytest.mark.parametrize("op", list(BUILT_IN.values()), ids=lambda op: op.name)
def test_derivatives_stay_in_the_graph(op: Op) -> None:
    """The check ops of your own get under grad(create_graph=True), run once here on the table:
    given Value operands, the Value form of each derivative gives a Value, or a number that does
    not change with the operands (probed on both sides), whether g is a number or a Value."""
    from autograd import values
    from autograd.custom import _check_in_graph
    from autograd.functional import _local_gradients

    _, backward = op.rules_for(values)

    def float_gradients(g: float, out: float, xs: Sequence[float]) -> list[float]:
        return list(_local_gradients(op, op.backward, g, out, xs))

    def forward(xs: Sequence[float]) -> float:
        return op.forward(list(xs)) if op.arity == VARIADIC else op.forward(*xs)

    @settings(max_examples=25, deadline=None, derandomize=True, database=None)
    @given(operands(op), st.floats(-3.0, 3.0))
    def check(point: list[float], seed: float) -> None:
        assume(away_from_kinks(op, point[: len(point) - op.n_params]))
        differentiable = len(point) - op.n_params
        xs = [Value(v) for v in point[:differentiable]] + point[differentiable:]
        out = BUILDERS[op.name]([Value(v) for v in point])
        for g in (seed, Value(seed)):
            grads = list(_local_gradients(op, backward, g, out, xs))
            _check_in_graph(op.name, forward, float_gradients, op.kinks, g, xs, grads)

    check()
