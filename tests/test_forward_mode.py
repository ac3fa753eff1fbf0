"""Forward mode that composes: every composition of forward and reverse mode, orders 1 to 3.

A derivative in each mode, as a function that takes and gives Values:

* reverse: ``grad(f(x), [x], create_graph=True)[0]``;
* forward: ``jvp(f, [x], [1.0])[1]``.

Applied two or three times in every order (reverse over reverse, reverse over forward,
forward over reverse, forward over forward, and the eight orders of three), to every
unary op of the table and to the partial derivatives of every binary op, the numbers
must match the exact derivatives (mpmath's, at 50 digits) and central differences of
the order below. Then: jacfwd, jacrev, hessian (both of its paths) and hvp against
closed forms; inputs that are closed over are constants, not confused with an inner
call's own input; and floats in, floats out, as before.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import mpmath
import pytest
from test_higher_order import random_case

import autograd
from autograd import OPS, Value, functional, grad, hessian, hvp, jacfwd, jacrev, jvp

mpmath.mp.dps = 50

Fn = Callable[..., Value]

# Each op as an mpmath function, for exact derivatives; the points lie inside its domain
# and away from its kinks (relu, abs, step, sign, floor, ceil are smooth there).
MP_UNARY: dict[str, Callable[[mpmath.mpf], mpmath.mpf]] = {
    "neg": lambda x: -x,
    "abs": abs,
    "exp": mpmath.exp,
    "log": mpmath.log,
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "tanh": mpmath.tanh,
    "relu": lambda x: x if x > 0 else 0 * x,
    "softplus": lambda x: mpmath.log(1 + mpmath.exp(x)),
    "step": lambda x: mpmath.mpf(1 if x > 0 else 0),
    "sin": mpmath.sin,
    "cos": mpmath.cos,
    "sqrt": mpmath.sqrt,
    "tan": mpmath.tan,
    "sinh": mpmath.sinh,
    "cosh": mpmath.cosh,
    "arcsin": mpmath.asin,
    "arccos": mpmath.acos,
    "arctan": mpmath.atan,
    "arcsinh": mpmath.asinh,
    "arccosh": mpmath.acosh,
    "arctanh": mpmath.atanh,
    "log2": lambda x: mpmath.log(x, 2),
    "log10": lambda x: mpmath.log(x, 10),
    "log1p": lambda x: mpmath.log(1 + x),
    "expm1": mpmath.expm1,
    "sign": lambda x: mpmath.mpf(mpmath.sign(x)),
    "floor": mpmath.floor,
    "ceil": mpmath.ceil,
}
MP_BINARY: dict[str, Callable[[mpmath.mpf, mpmath.mpf], mpmath.mpf]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "leaky_relu": lambda a, b: a if a > 0 else b * a,
    "elu": lambda a, b: a if a > 0 else b * mpmath.expm1(a),
    "mod": lambda a, b: a - b * mpmath.floor(a / b),
    "hypot": lambda a, b: mpmath.sqrt(a * a + b * b),
    "arctan2": mpmath.atan2,
    "logaddexp": lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b)),
    "logaddexp2": lambda a, b: mpmath.log(2**a + 2**b, 2),
}
UNARY = [op for op in OPS.values() if op.arity == 1 and op.name in MP_UNARY]
BINARY = [op for op in OPS.values() if op.arity == 2 and op.name in MP_BINARY]


def test_every_unary_and_binary_op_has_an_exact_reference() -> None:
    from autograd.ops import _TABLE

    assert {op.name for op in _TABLE if op.arity == 1} == set(MP_UNARY)
    assert {op.name for op in _TABLE if op.arity == 2} == set(MP_BINARY)


def points(op) -> list[list[float]]:  # type: ignore[no-untyped-def]
    """Two points inside the op's domain, clear of its kinks (and of mod's jumps)."""
    out = []
    for fractions in ((0.31, 0.77), (0.83, 0.42)):
        point = [low + (high - low) * f for (low, high), f in zip(op.domain, fractions)]
        out.append(point)
    return out


def build(name: str, *args: Value) -> Value:
    method = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__",
              "neg": "__neg__", "abs": "__abs__", "mod": "__mod__", "leaky_relu": "leaky_relu", "elu": "elu"}  # fmt: skip
    return getattr(args[0], method.get(name, name))(*args[1:])


# --- the two derivative operators, each a function of Values giving Values -----------------


def reverse(f: Fn, i: int = 0) -> Fn:
    """∂f/∂x_i by reverse mode, as a graph: differentiable again."""

    def d(*xs: Value) -> Value:
        return grad(f(*xs), [xs[i]], create_graph=True)[0]  # type: ignore[no-any-return]

    return d


def forward(f: Fn, i: int = 0) -> Fn:
    """∂f/∂x_i by forward mode: jvp along x_i, the other inputs closed over."""

    def d(*xs: Value) -> Value:
        def along(u: Value) -> Value:
            return f(*xs[:i], u, *xs[i + 1 :])

        return jvp(along, [xs[i]], [1.0])[1]  # type: ignore[no-any-return]

    return d


MODES = {"rev": reverse, "fwd": forward}
COMPOSITIONS = [modes for order in (1, 2, 3) for modes in itertools.product(MODES, repeat=order)]


def derivative(f: Fn, modes: Sequence[str], wrt: Sequence[int]) -> Fn:
    """modes[0] of modes[1] of ... of f, the k-th along x_{wrt[k]}."""
    for mode, i in reversed(list(zip(modes, wrt))):
        f = MODES[mode](f, i)
    return f


def exact(name: str, point: Sequence[float], wrt: Sequence[int]) -> float:
    mp = MP_UNARY.get(name) or MP_BINARY[name]
    orders = tuple(sum(1 for i in wrt if i == k) for k in range(len(point)))
    if len(point) == 1:
        return float(mpmath.diff(mp, mpmath.mpf(point[0]), orders[0]))
    return float(mpmath.diff(mp, tuple(mpmath.mpf(p) for p in point), orders))


def close(got: float, want: float, rel: float = 1e-10) -> bool:
    return abs(got - want) <= rel * max(1.0, abs(want))


@pytest.mark.parametrize("modes", COMPOSITIONS, ids="-".join)
@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.name)
def test_unary_ops_in_every_composition_match_mpmath(op, modes: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    f = derivative(lambda x: build(op.name, x), modes, [0] * len(modes))
    for point in points(op):
        got = f(Value(point[0]))
        assert isinstance(got, Value)
        want = exact(op.name, point, [0] * len(modes))
        assert close(got.data, want), (op.name, modes, point, got.data, want)


# The partials taken, for each order: along a, along b, mixed.
WRT = {1: [(0,), (1,)], 2: [(0, 1), (1, 1), (1, 0)], 3: [(0, 0, 1), (1, 0, 1), (1, 1, 1)]}


@pytest.mark.parametrize("modes", COMPOSITIONS, ids="-".join)
@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.name)
def test_binary_ops_partials_in_every_composition_match_mpmath(op, modes: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    for wrt in WRT[len(modes)]:
        f = derivative(lambda a, b: build(op.name, a, b), modes, wrt)
        for point in points(op):
            got = f(Value(point[0]), Value(point[1]))
            want = exact(op.name, point, wrt)
            assert close(got.data, want), (op.name, modes, wrt, point, got.data, want)


def _mp_var(*v: mpmath.mpf) -> mpmath.mpf:
    m = sum(v) / len(v)
    return sum((x - m) ** 2 for x in v) / len(v)


# n-ary ops over three operands (dot: w·x + bias; softmax and log_softmax: output 1)
MP_VARIADIC: dict[str, tuple[Callable[..., Value], Callable[..., mpmath.mpf]]] = {
    "sum": (lambda *v: autograd.sum(v), lambda *v: sum(v)),
    "mean": (lambda *v: autograd.mean(v), lambda *v: sum(v) / 3),
    "dot": (lambda w, x, b: autograd.dot([w], [x], b), lambda w, x, b: w * x + b),
    "logsumexp": (lambda *v: autograd.logsumexp(v), lambda *v: mpmath.log(sum(mpmath.exp(x) for x in v))),
    "softmax": (lambda *v: autograd.softmax(v)[1], lambda *v: mpmath.exp(v[1]) / sum(mpmath.exp(x) for x in v)),
    "log_softmax": (lambda *v: autograd.log_softmax(v)[1], lambda *v: v[1] - mpmath.log(sum(mpmath.exp(x) for x in v))),
    "maximum": (lambda *v: autograd.maximum(v), lambda *v: max(v)),
    "minimum": (lambda *v: autograd.minimum(v), lambda *v: min(v)),
    "prod": (lambda *v: autograd.prod(v), lambda a, b, c: a * b * c),
    "var": (lambda *v: autograd.var(v), _mp_var),
    "std": (lambda *v: autograd.std(v), lambda *v: mpmath.sqrt(_mp_var(*v))),
}
WRT3 = {1: [(0,), (2,)], 2: [(0, 0), (0, 2)], 3: [(0, 1, 2), (1, 1, 0)]}


def test_every_variadic_op_has_an_exact_reference() -> None:
    from autograd.ops import _TABLE

    assert {op.name for op in _TABLE if op.arity == autograd.ops.VARIADIC} == set(MP_VARIADIC)


@pytest.mark.parametrize("modes", COMPOSITIONS, ids="-".join)
@pytest.mark.parametrize("name", list(MP_VARIADIC))
def test_variadic_ops_partials_in_every_composition_match_mpmath(name: str, modes: tuple[str, ...]) -> None:
    build_op, mp = MP_VARIADIC[name]
    low, high = OPS[name].domain[0]
    point = [low + (high - low) * f for f in (0.31, 0.77, 0.55)]
    for wrt in WRT3[len(modes)]:
        f = derivative(build_op, modes, wrt)
        got = f(*map(Value, point))
        orders = tuple(sum(1 for i in wrt if i == k) for k in range(3))
        want = float(mpmath.diff(mp, tuple(mpmath.mpf(p) for p in point), orders))
        assert close(got.data, want), (name, modes, wrt, point, got.data, want)


H = 1e-5


@pytest.mark.parametrize("modes", [m for m in COMPOSITIONS if len(m) > 1], ids="-".join)
@pytest.mark.parametrize("name", ["tanh", "arctan", "logaddexp", "hypot", "pow"])
def test_each_order_is_the_central_difference_of_the_one_below(name: str, modes: tuple[str, ...]) -> None:
    op = OPS[name]
    wrt = [k % op.arity for k in range(len(modes))]
    f = derivative(lambda *xs: build(name, *xs), modes, wrt)
    below = derivative(lambda *xs: build(name, *xs), modes[1:], wrt[1:])
    for point in points(op):
        i = wrt[0]
        plus = [*point[:i], point[i] + H, *point[i + 1 :]]
        minus = [*point[:i], point[i] - H, *point[i + 1 :]]
        numeric = (below(*map(Value, plus)).data - below(*map(Value, minus)).data) / (2 * H)
        assert close(f(*map(Value, point)).data, numeric, 1e-6), (name, modes, point)


# --- floats in, floats out; Values in, Values out -----------------------------------------------


def test_numbers_in_give_floats_and_values_in_give_values() -> None:
    value, tangent = jvp(lambda x: x.sin(), [0.5], [1.0])
    assert (type(value), type(tangent)) == (float, float) and tangent == math.cos(0.5)
    for xs, ts in (([Value(0.5)], [1.0]), ([0.5], [Value(1.0)]), ([Value(0.5)], [Value(1.0)])):
        value, tangent = jvp(lambda x: x.sin(), xs, ts)
        assert isinstance(value, Value) and isinstance(tangent, Value) and tangent.data == math.cos(0.5)


def test_a_value_tangent_is_differentiable_in_the_tangent_too() -> None:
    x, t = Value(0.7), Value(2.5)
    _, tangent = jvp(lambda u: u * u * u, [x], [t])  # 3x²·t
    assert tangent.data == pytest.approx(3 * 0.49 * 2.5, rel=1e-15)
    assert grad(tangent, [x, t]) == pytest.approx([6 * 0.7 * 2.5, 3 * 0.49], rel=1e-15)


def test_third_derivative_of_tanh_forward_over_forward_over_forward_as_in_notebook_08() -> None:
    """tanh''' = −2 + 8t² − 6t⁴ (t = tanh x), by jvp of jvp of jvp and by grad three times."""

    def d(f: Fn) -> Callable[[Value | float], Value | float]:
        return lambda x: jvp(f, [x], [1.0])[1]

    x0 = 0.5
    t = math.tanh(x0)
    want = -2 + 8 * t**2 - 6 * t**4
    third = d(d(d(Value.tanh)))
    assert third(x0) == pytest.approx(want, rel=1e-14)  # a number in: a float out
    assert third(Value(x0)).data == pytest.approx(want, rel=1e-14)  # a Value in: a Value out
    x = Value(x0)
    [g1] = grad(x.tanh(), [x], create_graph=True)
    [g2] = grad(g1, [x], create_graph=True)
    assert grad(g2, [x])[0] == pytest.approx(want, rel=1e-14)


def test_a_closed_over_input_is_a_constant_to_the_inner_call() -> None:
    """d/dx [x · d/dy (x + y)] = d/dx [x · 1] = 1, at y = x too: the inner jvp differentiates
    along its own input only (no perturbation confusion)."""

    def f(x: Value) -> Value:
        return x * jvp(lambda y: x + y, [x], [1.0])[1]

    assert jvp(f, [3.0], [1.0])[1] == 1.0
    x = Value(3.0)
    assert grad(f(x), [x]) == [1.0]


def test_forward_over_reverse_and_reverse_over_forward_agree_on_a_random_looking_function() -> None:
    def f(x: Value, y: Value) -> Value:
        return (x * y).sin() + autograd.logsumexp([x, y * y]) + autograd.prod([x, y, x]).arctan()

    xs = [0.3, -0.8]
    h = hessian(f, xs)
    for j in range(2):
        column = hvp(f, xs, [1.0 if k == j else 0.0 for k in range(2)])
        assert column == pytest.approx([h[i][j] for i in range(2)], rel=1e-12)
        leaves = [Value(v) for v in xs]
        d_j = jvp(lambda *u: f(*u), leaves, [1.0 if k == j else 0.0 for k in range(2)])[1]
        assert grad(d_j, leaves) == pytest.approx([h[j][i] for i in range(2)], rel=1e-12)


def test_jacfwd_and_jacrev_give_the_same_jacobian_as_closed_forms() -> None:
    def f(x: Value, y: Value, z: Value) -> list[Value]:
        return [x * y * z, x.sin() + z, autograd.hypot(x, y)]

    x, y, z = 0.4, -1.3, 2.0
    r = math.hypot(x, y)
    want = [[y * z, x * z, x * y], [math.cos(x), 0.0, 1.0], [x / r, y / r, 0.0]]
    for jac in (jacfwd, jacrev):
        got = jac(f, [x, y, z])
        for row, wrow in zip(got, want):
            assert row == pytest.approx(wrow, rel=1e-14, abs=1e-300)
    # one output: its row (the gradient), as JAX gives a vector for a scalar function
    assert jacfwd(lambda a, b: a * b, [2.0, 5.0]) == jacrev(lambda a, b: a * b, [2.0, 5.0]) == [5.0, 2.0]


def test_jacfwd_of_jacrev_is_the_hessian_and_composes_with_values() -> None:
    def rosenbrock(x: Value, y: Value) -> Value:
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    x, y = -1.2, 1.0
    want = [[1200 * x * x - 400 * y + 2, -400 * x], [-400 * x, 200.0]]
    as_values = jacfwd(lambda *v: jacrev(rosenbrock, v), [Value(x), Value(y)])  # JAX's hessian
    as_floats = jacfwd(lambda *v: jacrev(rosenbrock, v), [x, y])
    for row, float_row, wrow in zip(as_values, as_floats, want):
        assert all(isinstance(e, Value) for e in row)
        assert [e.data for e in row] == pytest.approx(wrow, rel=1e-14)
        assert float_row == pytest.approx(wrow, rel=1e-14)
    assert hessian(rosenbrock, [x, y]) == want


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_hessians_two_paths_agree(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forward over reverse (n > 3 inputs) and reverse over reverse (n <= 3) give the same
    matrix, within rounding, on a function with every kind of mixed partial."""
    weights = [0.3 * (k + 1) * (-1) ** k for k in range(n)]

    def f(*xs: Value) -> Value:
        return autograd.dot(weights, list(xs)).tanh() * autograd.prod(xs) + autograd.var(xs)

    xs = [0.2 + 0.1 * k for k in range(n)]
    monkeypatch.setattr(functional, "REVERSE_OVER_REVERSE_UP_TO", 100)
    by_reverse = hessian(f, xs)
    monkeypatch.setattr(functional, "REVERSE_OVER_REVERSE_UP_TO", 0)
    by_forward = hessian(f, xs)
    for row, wrow in zip(by_forward, by_reverse):
        assert row == pytest.approx(wrow, rel=1e-12, abs=1e-15)


def test_hvp_is_one_column_of_the_hessian_and_composes() -> None:
    def f(x: Value, y: Value) -> Value:
        return x * x * y + y.exp()

    assert hvp(f, [3.0, 0.5], [1.0, 2.0]) == pytest.approx([2 * 0.5 + 2 * 3.0 * 2, 2 * 3.0 + math.exp(0.5) * 2], rel=1e-15)
    x, y = Value(3.0), Value(0.5)
    hx, hy = hvp(f, [x, y], [1.0, 0.0])  # [2y, 2x]: Values, differentiable in x and y
    assert (hx.data, hy.data) == (1.0, 6.0) and grad(hx, [x, y]) == [0.0, 2.0]


# --- constant outputs -----------------------------------------------------------------------------


def test_the_derivatives_of_a_constant_are_zeros() -> None:
    """A plain number, or a Value that does not depend on the inputs, as HIPS and JAX say."""
    x, y = Value(1.5), Value(-2.0)
    assert grad(2.0, [x, y]) == [0.0, 0.0]
    assert grad(Value(3.0).exp(), [x, y]) == [0.0, 0.0]
    assert grad([x * y, 7], [x]) == [-2.0]
    zeros = grad(2.0, [x], create_graph=True)
    assert isinstance(zeros[0], Value) and zeros[0].data == 0.0
    assert jvp(lambda a: 2.0, [1.0], [1.0]) == (2.0, 0.0)
    assert jvp(lambda a: Value(2.0).exp(), [1.0], [1.0]) == (math.exp(2.0), 0.0)
    assert hessian(lambda a, b: 1.0, [0.5, 0.5]) == [[0.0, 0.0], [0.0, 0.0]]
    assert hessian(lambda a, b, c: 1.0, [0.5, 0.5, 0.5]) == [[0.0] * 3] * 3
    assert jacfwd(lambda a: 4, [0.5]) == [0.0] and jacrev(lambda a: 4, [0.5]) == [0.0]
    assert hvp(lambda a: 1.0, [0.5], [1.0]) == [0.0]


def test_inside_no_grad_the_transforms_refuse_instead_of_giving_zeros() -> None:
    """Inside no_grad ops record nothing, so fn's result would be a leaf and every derivative
    0: each transform that calls fn says so instead."""
    f = lambda x, y: x * x * y  # noqa: E731
    calls = {
        "jvp": lambda: jvp(f, [1.0, 2.0], [1.0, 0.0]),
        "jacfwd": lambda: jacfwd(f, [1.0, 2.0]),
        "jacrev": lambda: jacrev(f, [1.0, 2.0]),
        "hessian": lambda: hessian(f, [1.0, 2.0]),
        "hvp": lambda: hvp(f, [1.0, 2.0], [1.0, 0.0]),
    }
    for name, call in calls.items():
        with autograd.no_grad(), pytest.raises(RuntimeError, match=rf"{name}\(\) inside no_grad\(\).*would be 0"):
            call()
    assert hessian(f, [1.0, 2.0]) == [[4.0, 2.0], [2.0, 0.0]]  # outside, as ever


# --- random graphs of every op: the Value tangents against the float ones, and reverse over forward ---


@pytest.mark.parametrize("op", list(OPS.values()), ids=lambda op: op.name)
def test_value_tangents_equal_float_tangents_and_differentiate_to_the_hessian(op) -> None:  # type: ignore[no-untyped-def]
    """On a random graph holding the op (tests/test_higher_order.py's), jvp with Value inputs
    gives the float jvp's numbers, and grad of that tangent is H·t, the Hessian times the tangents."""
    if op.name not in {o.name for o in autograd.ops._TABLE}:
        pytest.skip("an op a test registered")
    fn, xs, tangents = random_case(op, 7, n_ops=4)
    value, tangent = jvp(fn, xs, tangents)
    leaves = [Value(v) for v in xs]
    node_value, node_tangent = jvp(fn, leaves, tangents)
    assert node_value.data == value
    assert abs(node_tangent.data - tangent) <= 1e-12 * max(1.0, abs(tangent)), (op.name, node_tangent.data, tangent)
    h = hessian(fn, xs)
    want = [math.fsum(h[i][j] * tangents[j] for j in range(3)) for i in range(3)]
    got = grad(node_tangent, leaves)
    scale = max(1.0, *(abs(v) for row in h for v in row))
    for g, w in zip(got, want):
        assert abs(g - w) <= 1e-10 * scale, (op.name, got, want)
