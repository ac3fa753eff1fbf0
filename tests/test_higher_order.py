"""Higher-order derivatives and forward mode: ``autograd.grad``, ``hessian`` and ``jvp``.

Every check is against independent truth: tanh's derivatives as exact polynomials in
tanh, Newton's iterates in exact rational arithmetic (and DeZero step 33's numbers),
closed-form Hessians, central differences of the first derivative, and reverse mode
against forward mode on random graphs built from every op in the table.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_op_table import BUILDERS, away_from_kinks, operands

import autograd
from autograd import OPS, Value, grad, hessian, jvp
from autograd.ops import _TABLE, VARIADIC, Op

FEW = settings(max_examples=30, deadline=None, derandomize=True, database=None)

# The built-in ops, read from the table: a new built-in op is covered here as soon as
# tests/test_op_table.py has its builder (which that module's tests demand).
BUILT_INS: list[Op] = [OPS[op.name] for op in _TABLE]


def build(op: Op, leaves: Sequence[Value]) -> Value:
    if op.name not in BUILDERS:
        pytest.fail(f"op {op.name!r} has no builder in tests/test_op_table.py")
    return BUILDERS[op.name](leaves)


def close(actual: float, expected: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(actual - expected) <= max(rel * abs(expected), abs_)


def assert_matrix_close(got: list[list[float]], want: list[list[float]], rel: float = 1e-12, abs_: float = 1e-14) -> None:
    assert len(got) == len(want)
    for i, (row, wrow) in enumerate(zip(got, want)):
        for j, (a, b) in enumerate(zip(row, wrow)):
            assert close(a, b, rel, abs_), (i, j, got, want)


# --- 1. tanh's derivatives, exact polynomials in t = tanh x -----------------------------


def tanh_derivative_polynomials(order: int) -> list[list[int]]:
    """Integer coefficients (t⁰ first) of P_n with dⁿ/dxⁿ tanh x = P_n(tanh x), n = 0..order.

    P_0 = t and P_{n+1} = P_n'(t)·(1 − t²), since dt/dx = 1 − t².
    """
    polys = [[0, 1]]
    for _ in range(order):
        p = polys[-1]
        derivative = [k * c for k, c in enumerate(p)][1:] or [0]
        nxt = [0] * (len(derivative) + 2)
        for k, c in enumerate(derivative):
            nxt[k] += c
            nxt[k + 2] -= c
        polys.append(nxt)
    return polys


def test_tanh_polynomials_are_the_known_ones() -> None:
    """The recurrence's first terms, by hand: 1 − t², −2t + 2t³, −2 + 8t² − 6t⁴."""
    polys = tanh_derivative_polynomials(3)
    assert polys[1] == [1, 0, -1]
    assert polys[2] == [0, -2, 0, 2]
    assert polys[3] == [-2, 0, 8, 0, -6]


@pytest.mark.parametrize("x", [-2.0, -0.5, 0.0, 0.7, 3.0])
def test_tanh_derivatives_up_to_order_6_are_polynomials_in_tanh(x: float) -> None:
    polys = tanh_derivative_polynomials(6)
    t = Fraction(math.tanh(x))  # exact arithmetic from here on
    leaf = Value(x)
    y = leaf.tanh()
    for n in range(1, 7):
        [y] = grad(y, [leaf], create_graph=True)
        assert isinstance(y, Value)
        expected = float(sum(c * t**k for k, c in enumerate(polys[n])))
        if expected == 0.0:  # even orders at x = 0
            assert abs(y.data) <= 1e-12, (n, x, y.data)
        else:
            assert close(y.data, expected, 1e-10), (n, x, y.data, expected)


# --- 2. Newton's method with f' and f'' from grad -----------------------------------------


def test_newton_on_x4_minus_2x2_gives_dezero_step_33s_iterates() -> None:
    def f(x: Value) -> Value:
        return x**4 - 2 * x**2

    dezero = [2.0, 1.4545454545, 1.1510467893, 1.0253259289, 1.0009084519, 1.0000012353]
    exact = Fraction(2)  # x ← x − (4x³ − 4x)/(12x² − 4), in rationals
    x = 2.0
    for expected in dezero:
        assert abs(x - expected) <= 1e-9, (x, expected)
        assert close(x, float(exact), 1e-14)
        leaf = Value(x)
        [d1] = grad(f(leaf), [leaf], create_graph=True)
        [d2] = grad(d1, [leaf])
        x -= d1.data / d2
        exact -= (4 * exact**3 - 4 * exact) / (12 * exact**2 - 4)


# --- 3. Hessians against closed forms ----------------------------------------------------


def rosenbrock(x: Value, y: Value) -> Value:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def rosenbrock_hessian(x: float, y: float) -> list[list[float]]:
    return [[1200 * x * x - 400 * y + 2, -400 * x], [-400 * x, 200.0]]


def test_rosenbrock_hessian_at_the_minimum_is_exact() -> None:
    assert hessian(rosenbrock, [1.0, 1.0]) == [[802.0, -400.0], [-400.0, 200.0]]


@pytest.mark.parametrize("point", [(0.0, 0.0), (-1.2, 1.0), (0.3, -2.5), (2.0, 3.75), (-0.7, 0.49)])
def test_rosenbrock_hessian_matches_its_closed_form(point: tuple[float, float]) -> None:
    assert_matrix_close(hessian(rosenbrock, list(point)), rosenbrock_hessian(*point), abs_=1e-12)


def test_hessian_of_a_cubic_form() -> None:
    """f = x²y + sin(x)·z³: every entry by hand."""
    x, y, z = 0.8, -1.3, 1.7
    got = hessian(lambda a, b, c: a * a * b + a.sin() * c**3, [x, y, z])
    want = [
        [2 * y - math.sin(x) * z**3, 2 * x, 3 * math.cos(x) * z**2],
        [2 * x, 0.0, 0.0],
        [3 * math.cos(x) * z**2, 0.0, 6 * math.sin(x) * z],
    ]
    assert_matrix_close(got, want, rel=1e-13)


@pytest.mark.parametrize("point", [(2.0, 0.0), (0.5, 0.0), (2.0, -0.0), (1.5, 2.5), (0.3, -1.7), (3.0, 1.0)])
def test_hessian_of_pow_in_base_and_exponent(point: tuple[float, float]) -> None:
    """a**b: [[b(b−1)a^(b−2), a^(b−1)(1 + b ln a)], [·, a^b ln²a]], at b = 0 too (the mixed
    partial there is 1/a, not 0)."""
    a, b = point
    mixed = a ** (b - 1) * (1 + b * math.log(a))
    want = [[b * (b - 1) * a ** (b - 2), mixed], [mixed, a**b * math.log(a) ** 2]]
    assert_matrix_close(hessian(lambda x, y: x**y, [a, b]), want, rel=1e-14)


def test_create_graph_under_detect_anomaly_at_a_negative_base() -> None:
    """x**2 at x < 0: the constant exponent's gradient (nan, ln of a negative number) is
    never built as a node, so detect_anomaly has nothing to stop at."""
    x = Value(-1.5)
    with autograd.detect_anomaly():
        [d1] = grad(x**2 + x**3, [x], create_graph=True)
        [d2] = grad(d1, [x])
    assert (d1.data, d2) == (2 * -1.5 + 3 * 1.5**2, 2 + 6 * -1.5)


# --- 4. second derivatives of every op against central differences -------------------------

H = 1e-5


def first_derivatives(op: Op, point: Sequence[float]) -> list[float]:
    """The first derivatives of op at point (float gradients, create_graph=False)."""
    n = len(point) - op.n_params
    leaves = [Value(v) for v in point]
    return grad(build(op, leaves), leaves[:n], create_graph=False)


def second_derivatives_numerically(op: Op, point: Sequence[float]) -> list[list[float]]:
    """H[i][j] = (f_i(x + h e_j) − f_i(x − h e_j)) / 2h, f_i the first derivatives."""
    n = len(point) - op.n_params
    columns = []
    for j in range(n):
        plus = [*point[:j], point[j] + H, *point[j + 1 :]]
        minus = [*point[:j], point[j] - H, *point[j + 1 :]]
        gp, gm = first_derivatives(op, plus), first_derivatives(op, minus)
        columns.append([(p - m) / (2 * H) for p, m in zip(gp, gm)])
    return [[columns[j][i] for j in range(n)] for i in range(n)]


@pytest.mark.parametrize("op", BUILT_INS, ids=lambda op: op.name)
def test_second_derivatives_match_central_differences_of_the_first(op: Op) -> None:
    @FEW
    @given(operands(op))
    def check(point: list[float]) -> None:
        n = len(point) - op.n_params
        assume(away_from_kinks(op, point[:n]))
        leaves = [Value(v) for v in point]
        first = grad(build(op, leaves), leaves[:n], create_graph=True)
        assert all(isinstance(g, Value) for g in first)
        exact = [grad(g, leaves[:n]) for g in first]
        numeric = second_derivatives_numerically(op, point)
        scale = max(1.0, *(abs(v) for row in numeric for v in row))
        for i in range(n):
            for j in range(n):
                assert close(exact[i][j], numeric[i][j], 1e-5, 1e-7 * scale), (op.name, i, j, point, exact, numeric)
                assert close(exact[i][j], exact[j][i], 1e-9, 1e-12 * scale), ("not symmetric", op.name, i, j, exact)

    check()


def second_derivatives(op: Op, point: Sequence[float]) -> list[list[float]]:
    n = len(point) - op.n_params
    leaves = [Value(v) for v in point]
    first = grad(build(op, leaves), leaves[:n], create_graph=True)
    return [grad(g, leaves[:n]) for g in first]


@pytest.mark.parametrize("op", BUILT_INS, ids=lambda op: op.name)
def test_third_derivatives_match_central_differences_of_the_second(op: Op) -> None:
    """grad three times: ∂³f/∂x_i∂x_j∂x_k against (H_ij(x + h e_k) − H_ij(x − h e_k)) / 2h."""
    h = 1e-4

    @settings(max_examples=10, deadline=None, derandomize=True, database=None)
    @given(operands(op).filter(lambda point: len(point) - op.n_params <= 3))
    def check(point: list[float]) -> None:
        n = len(point) - op.n_params
        assume(away_from_kinks(op, point[:n], margin=1e-2))
        leaves = [Value(v) for v in point]
        first = grad(build(op, leaves), leaves[:n], create_graph=True)
        second = [grad(g, leaves[:n], create_graph=True) for g in first]
        for k in range(n):
            plus = second_derivatives(op, [*point[:k], point[k] + h, *point[k + 1 :]])
            minus = second_derivatives(op, [*point[:k], point[k] - h, *point[k + 1 :]])
            for i in range(n):
                for j in range(n):
                    [third] = grad(second[i][j], [leaves[k]])
                    numeric = (plus[i][j] - minus[i][j]) / (2 * h)
                    assert close(third, numeric, 1e-4, 1e-6), (op.name, (i, j, k), point, third, numeric)

    check()


def near_zero_too(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats in [low, high], and tiny ones where the interval holds 0 (where e^x − 1 and
    the like cancel)."""
    anywhere = st.floats(low, high, allow_nan=False)
    if low < 0.0 < high:
        return st.one_of(st.floats(-1e-6, 1e-6, allow_nan=False, allow_subnormal=False), anywhere)
    return anywhere


def operands_near_zero_too(op: Op) -> st.SearchStrategy[list[float]]:
    if op.arity == VARIADIC:
        values = st.lists(near_zero_too(*op.domain[0]), min_size=2, max_size=5)
        if op.n_params:  # a trailing output index
            return st.tuples(values, st.integers(0, 4)).map(lambda pair: [*pair[0], float(pair[1] % len(pair[0]))])
        return values
    return st.tuples(*(near_zero_too(low, high) for low, high in op.domain)).map(list)


@pytest.mark.parametrize("op", BUILT_INS, ids=lambda op: op.name)
def test_create_graph_gradients_equal_the_float_ones_for_every_op(op: Op) -> None:
    """The rules run on Values (create_graph=True) give the float rules' numbers, to
    1e-12, near 0 too (elu's gradient in alpha, e^x − 1, once lost 5 digits there)."""

    @FEW
    @given(operands_near_zero_too(op))
    def check(point: list[float]) -> None:
        n = len(point) - op.n_params
        leaves = [Value(v) for v in point]
        out = build(op, leaves)
        as_floats = grad(out, leaves[:n])
        as_values = grad(out, leaves[:n], create_graph=True)
        for k, (f, v) in enumerate(zip(as_floats, as_values)):
            assert isinstance(v, Value)
            both_nan = v.data != v.data and f != f  # atan2 at the origin
            assert both_nan or close(v.data, f, 1e-12, 1e-300), (op.name, k, point, v.data, f)

    check()


# --- random graphs from every op ---------------------------------------------------------

MIXERS = [op for op in BUILT_INS if op.arity != 1]


def _fit(v: Value, low: float, high: float) -> Value:
    """v itself when its value lies well inside [low, high]; else v squashed into it."""
    margin = 0.02 * (high - low)
    if low + margin <= v.data <= high - margin:
        return v
    return low + (high - low) * (0.05 + 0.9 * v.sigmoid())


def random_program(seed: int | str, first: Op | None, pool_ops: Sequence[Op], n_ops: int) -> Callable[..., Value]:
    """A function of its inputs that applies ``first``, then ``n_ops`` ops drawn from
    ``pool_ops``, each to operands drawn from the inputs and earlier results (fitted
    into the op's domain), and returns a weighted sum of everything it made.

    The choices come from ``random.Random(seed)`` afresh on every call, so the same
    inputs give the same graph.
    """

    def fn(*xs: Value) -> Value:
        rng = random.Random(seed)
        pool: list[Value] = list(xs)
        chosen = ([first] if first is not None else []) + [rng.choice(pool_ops) for _ in range(n_ops)]
        for op in chosen:
            if op.arity == VARIADIC:
                low, high = op.domain[0]
                count = rng.randint(2, 5)
                args = [_fit(rng.choice(pool), low, high) for _ in range(count)]
                if op.n_params:  # an output index, a constant
                    args.append(Value(float(rng.randrange(count))))
            else:
                args = [_fit(rng.choice(pool), low, high) for low, high in op.domain]
            pool.append(build(op, args))
        weights = [rng.uniform(-1.0, 1.0) for _ in pool]
        return autograd.dot(weights, pool)

    return fn


def random_point(seed: int, n: int) -> list[float]:
    rng = random.Random(1000 + seed)
    return [rng.uniform(-2.0, 2.0) for _ in range(n)]


GRAPH_SEEDS = range(4)


def random_case(op: Op, seed: int, n_ops: int) -> tuple[Callable[..., Value], list[float], list[float]]:
    """A random graph that uses ``op`` and ``n_ops`` other ops, a point and tangents."""
    rng = random.Random(seed)
    tangents = [rng.uniform(-1.0, 1.0) for _ in range(3)]
    return random_program(f"{op.name} {seed}", op, BUILT_INS, n_ops), random_point(seed, 3), tangents


# --- 4b. mixed partials are symmetric on random graphs of binary and variadic ops -------


@pytest.mark.parametrize("seed", range(12))
def test_mixed_partials_are_symmetric_on_random_graphs(seed: int) -> None:
    fn = random_program(seed, None, MIXERS, n_ops=10)
    xs = random_point(seed, 3)
    h = hessian(fn, xs)
    assert any(abs(h[i][j]) > 1e-6 for i in range(3) for j in range(i)), "a graph without mixed partials tests nothing"
    scale = max(1e-3, *(abs(v) for row in h for v in row))
    for i in range(3):
        for j in range(i):
            assert close(h[i][j], h[j][i], 1e-10, 1e-12 * scale), (seed, i, j, h)
    # and each row is the derivative of the gradient: central differences of grad
    for j in range(3):
        plus = [*xs[:j], xs[j] + H, *xs[j + 1 :]]
        minus = [*xs[:j], xs[j] - H, *xs[j + 1 :]]
        lp, lm = [Value(v) for v in plus], [Value(v) for v in minus]
        gp, gm = grad(fn(*lp), lp), grad(fn(*lm), lm)
        for i in range(3):
            assert close(h[i][j], (gp[i] - gm[i]) / (2 * H), 1e-5, 1e-6 * scale), (seed, i, j, h)


# --- 5. grad's behaviour -----------------------------------------------------------------


def test_grad_touches_no_grad_field() -> None:
    x, y = Value(0.5), Value(-1.5)
    x.grad, y.grad = 7.0, -3.0
    mid = x * y
    mid.grad = 11.0
    out = (mid + x).tanh()
    for create_graph in (False, True):
        grad(out, [x, y, mid], create_graph=create_graph)
        assert (x.grad, y.grad, mid.grad, out.grad) == (7.0, -3.0, 11.0, 0.0)


def test_an_input_the_outputs_do_not_depend_on_gets_zero() -> None:
    x, unused = Value(2.0), Value(5.0)
    side = unused * 3.0  # made from unused, but not used by out
    out = x * x
    assert grad(out, [x, unused, side]) == [4.0, 0.0, 0.0]
    got = grad(out, [x, unused, side], create_graph=True)
    assert all(isinstance(g, Value) for g in got)
    assert [g.data for g in got] == [4.0, 0.0, 0.0]
    assert grad(Value(1.0), [x]) == [0.0]  # an output that is a leaf of its own


def test_grad_of_an_output_with_respect_to_itself_is_the_seed() -> None:
    x = Value(2.0)
    y = x.exp()
    assert grad(y, [y]) == [1.0]
    assert grad(y, [y, x], grad_outputs=[2.5]) == [2.5, 2.5 * math.exp(2.0)]


def test_grad_outputs_seed_and_several_outputs_add() -> None:
    x = Value(0.3)
    y1, y2 = x.sin(), x * x
    assert grad(y1, [x], grad_outputs=2.0) == [2.0 * math.cos(0.3)]
    [g] = grad([y1, y2], [x], grad_outputs=[2.0, -3.0])
    assert close(g, 2.0 * math.cos(0.3) - 3.0 * 0.6, 1e-15)
    [g] = grad([y1, y2], [x])  # default seeds: 1 each
    assert close(g, math.cos(0.3) + 0.6, 1e-15)
    # a Value seed: its data under create_graph=False, a node of the graph under True
    seed = Value(4.0)
    assert grad(y2, [x], grad_outputs=[seed]) == [4.0 * 0.6]
    [g] = grad(y2, [x], grad_outputs=[seed], create_graph=True)
    assert g.data == 4.0 * 0.6
    assert grad(g, [seed, x]) == [0.6, 8.0]  # ∂(s·2x)/∂s = 2x, ∂/∂x = 2s


def test_grad_outputs_may_be_numpy_numbers_and_inputs_may_repeat() -> None:
    np = pytest.importorskip("numpy")
    x = Value(1.5)
    y = x * x
    assert grad(y, [x], grad_outputs=np.float64(2.0)) == [6.0]
    assert grad(y, [x], grad_outputs=np.array(2.0)) == [6.0]  # a 0-d array is one seed
    assert grad(y, [x, x]) == [3.0, 3.0]
    assert grad([y, y], [x]) == [6.0]  # an output given twice counts twice


def test_grad_with_respect_to_an_intermediate_node() -> None:
    x = Value(0.9)
    mid = x * x
    out = mid.sin() * x
    # ∂out/∂mid with x held fixed: cos(mid)·x
    assert close(grad(out, [mid])[0], math.cos(0.81) * 0.9, 1e-15)
    [g] = grad(out, [mid], create_graph=True)
    # that derivative depends on x through mid and directly: d/dx [cos(x²)·x]
    assert close(grad(g, [x])[0], -math.sin(0.81) * 2 * 0.9 * 0.9 + math.cos(0.81), 1e-14)


def test_a_gradient_penalty_backpropagates_to_the_leaves() -> None:
    """P = ‖∇f‖² for f = x²y + y³: P = 4x²y² + (x² + 3y²)², differentiated by hand."""
    x0, y0 = 0.7, -1.1
    x, y = Value(x0), Value(y0)
    f = x * x * y + y**3
    gx, gy = grad(f, [x, y], create_graph=True)
    assert (gx.data, gy.data) == pytest.approx((2 * x0 * y0, x0 * x0 + 3 * y0 * y0), rel=1e-15)
    penalty = gx * gx + gy * gy
    assert close(penalty.data, 4 * x0**2 * y0**2 + (x0**2 + 3 * y0**2) ** 2, 1e-14)
    penalty.backward()
    assert close(x.grad, 8 * x0 * y0**2 + 4 * x0 * (x0**2 + 3 * y0**2), 1e-14)
    assert close(y.grad, 8 * x0**2 * y0 + 12 * y0 * (x0**2 + 3 * y0**2), 1e-14)


def test_a_second_derivative_is_a_graph_that_draws() -> None:
    from viz import draw_dot

    x = Value(0.7, label="x")
    [d1] = grad(x.tanh() * x.sin(), [x], create_graph=True)
    [d2] = grad(d1, [x], create_graph=True)
    source = draw_dot(d2, max_nodes=None).source
    # d²/dx² (tanh x · sin x) has tanh, sin and cos nodes, and the backward rules' ×, Σ and −
    for name in ("tanh", "sin", "cos", "mul", "sum", "sub"):
        assert f"label=<{OPS[name].symbol}>" in source and f"tooltip={name}" in source, name
    assert "<b>x</b>" in source  # the leaf, by its label


def test_second_derivative_graph_of_a_variadic_op_draws() -> None:
    from viz import draw_dot

    xs = [Value(v) for v in (0.2, -1.0, 0.5)]
    [g0, *_] = grad(autograd.logsumexp(xs), xs, create_graph=True)
    source = draw_dot(g0).source
    for name in ("exp", "div", "sub"):  # e^(x − m) / Σ e^(x_j − m)
        assert f"tooltip={name}" in source, name


@pytest.mark.parametrize("seed", GRAPH_SEEDS)
@pytest.mark.parametrize("op", BUILT_INS, ids=lambda op: op.name)
def test_grad_agrees_with_backward_and_create_graph_agrees_in_value(op: Op, seed: int) -> None:
    fn, xs, _ = random_case(op, seed, n_ops=5)
    leaves = [Value(v) for v in xs]
    out = fn(*leaves)
    floats = grad(out, leaves)
    nodes = grad(out, leaves, create_graph=True)
    out.backward()
    for leaf, g, node in zip(leaves, floats, nodes):
        assert isinstance(g, float) and isinstance(node, Value)
        scale = max(1.0, abs(g))
        assert abs(leaf.grad - g) <= 1e-12 * scale, (op.name, seed, leaf.grad, g)
        assert abs(node.data - g) <= 1e-12 * scale, (op.name, seed, node.data, g)


def test_deep_graphs_need_no_recursion() -> None:
    """y = x + n·x² as a chain of n adds, deeper than Python's recursion limit:
    y' = 1 + 2nx and y'' = 2n from grad twice, and y' again from jvp."""
    n, x0 = 1500, 0.25

    def chain(x: Value) -> Value:
        y = x
        for _ in range(n):
            y = y + x * x
        return y

    x = Value(x0)
    [d1] = grad(chain(x), [x], create_graph=True)
    assert d1.data == 1 + 2 * n * x0
    assert grad(d1, [x]) == [2.0 * n]
    assert jvp(chain, [x0], [1.0])[1] == 1 + 2 * n * x0


# --- 5b. create_graph through the n-ary ops, against closed forms ------------------------


def softmax_of(xs: Sequence[float]) -> list[float]:
    m = max(xs)
    es = [math.exp(v - m) for v in xs]
    return [e / sum(es) for e in es]


def hessian_of(fn: Callable[..., Value], xs: Sequence[float]) -> list[list[float]]:
    """grad twice by hand (as hessian does, but also checking the first derivatives' type)."""
    leaves = [Value(v) for v in xs]
    first = grad(fn(*leaves), leaves, create_graph=True)
    assert all(isinstance(g, Value) for g in first)
    return [grad(g, leaves) for g in first]


XS = [0.4, -1.2, 2.1, 0.0]


def test_create_graph_through_dot() -> None:
    """f = w·x + b: ∂²f/∂w_i∂x_j = δ_ij, all else 0; f² adds 2∇f∇fᵀ."""
    n = 2

    def f(*v: Value) -> Value:
        return autograd.dot(v[:n], v[n : 2 * n], v[2 * n])

    vals = [0.5, -1.5, 2.0, 0.25, 0.75]
    want = [[1.0 if {i, j} in ({0, 2}, {1, 3}) else 0.0 for j in range(5)] for i in range(5)]
    assert_matrix_close(hessian_of(f, vals), want)
    grad_f = [2.0, 0.25, 0.5, -1.5, 1.0]
    value = 0.5 * 2.0 - 1.5 * 0.25 + 0.75
    want_sq = [[2 * grad_f[i] * grad_f[j] + 2 * value * want[i][j] for j in range(5)] for i in range(5)]
    assert_matrix_close(hessian_of(lambda *v: f(*v) ** 2, vals), want_sq)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_create_graph_through_sum_and_mean(reduce: str) -> None:
    """sum/mean of [x², xy, y³]: Hessian [[2, 1], [1, 6y]] (÷3 for mean)."""
    x, y = 1.3, -0.6
    scale = 1.0 if reduce == "sum" else 1.0 / 3.0
    fn = getattr(autograd, reduce)
    got = hessian_of(lambda a, b: fn([a * a, a * b, b**3]), [x, y])
    assert_matrix_close(got, [[2 * scale, scale], [scale, 6 * y * scale]])


def test_create_graph_through_logsumexp() -> None:
    """Hessian of logsumexp: diag(p) − ppᵀ."""
    p = softmax_of(XS)
    want = [[(p[i] if i == j else 0.0) - p[i] * p[j] for j in range(4)] for i in range(4)]
    assert_matrix_close(hessian_of(lambda *v: autograd.logsumexp(v), XS), want)


@pytest.mark.parametrize("k", range(4))
def test_create_graph_through_softmax(k: int) -> None:
    """∂²p_k/∂x_i∂x_j = p_k[(δ_ki − p_i)(δ_kj − p_j) − p_i(δ_ij − p_j)]."""
    p = softmax_of(XS)

    def d(a: int, b: int) -> float:
        return 1.0 if a == b else 0.0

    want = [[p[k] * ((d(k, i) - p[i]) * (d(k, j) - p[j]) - p[i] * (d(i, j) - p[j])) for j in range(4)] for i in range(4)]
    assert_matrix_close(hessian_of(lambda *v: autograd.softmax(v)[k], XS), want)


@pytest.mark.parametrize("k", range(4))
def test_create_graph_through_log_softmax(k: int) -> None:
    """Hessian of log p_k: −(diag(p) − ppᵀ), the same for every k."""
    p = softmax_of(XS)
    want = [[p[i] * p[j] - (p[i] if i == j else 0.0) for j in range(4)] for i in range(4)]
    assert_matrix_close(hessian_of(lambda *v: autograd.log_softmax(v)[k], XS), want)


def test_create_graph_through_maximum() -> None:
    """maximum([x², xy, 3]): the Hessian of whichever operand is largest."""
    def f(x: Value, y: Value) -> Value:
        return autograd.maximum([x * x, x * y, 3.0])

    assert_matrix_close(hessian_of(f, [2.0, 1.0]), [[2.0, 0.0], [0.0, 0.0]])  # x² = 4 wins
    assert_matrix_close(hessian_of(f, [2.0, 3.0]), [[0.0, 1.0], [1.0, 0.0]])  # xy = 6 wins
    assert_matrix_close(hessian_of(f, [0.5, 1.0]), [[0.0, 0.0], [0.0, 0.0]])  # the constant wins


def test_create_graph_keeps_the_conventions_at_kinks() -> None:
    zero = Value(0.0)
    for make in (Value.relu, abs):
        [g] = grad(make(zero), [zero], create_graph=True)
        assert isinstance(g, Value) and g.data == 0.0  # relu'(0) = abs'(0) = 0
        assert grad(g, [zero]) == [0.0]
    # x·relu(x): d/dx = relu(x) + x·relu'(x), second derivative 2·relu'(x)
    for x0, second in ((0.0, 0.0), (1.5, 2.0), (-1.5, 0.0)):
        assert hessian(lambda x: x * x.relu(), [x0]) == [[second]]
    # maximum's gradient goes to the first maximal operand, at every order
    a, b = Value(1.0), Value(1.0)
    ga, gb = grad(autograd.maximum([a, b]), [a, b], create_graph=True)
    assert (ga.data, gb.data) == (1.0, 0.0)
    # maximum([x², 2x]) ties at x = 2: the first operand, x², gives f' = 4 and f'' = 2
    x = Value(2.0)
    [d1] = grad(autograd.maximum([x * x, 2 * x]), [x], create_graph=True)
    assert d1.data == 4.0
    assert grad(d1, [x]) == [2.0]


# elu's first and second derivatives in x near 0, from PyTorch 2.13 (torch.nn.functional.elu in
# float64, torch.autograd.grad twice), checked by hand: at 0 and -0 PyTorch takes elu' from the
# left (alpha) and elu'' from the right (0).
TORCH_ELU: list[tuple[float, float, float, float]] = [  # alpha, x, elu'(x), elu''(x)
    (1.0, 0.0, 1.0, 0.0), (1.0, -0.0, 1.0, 0.0), (1.0, -1e-300, 1.0, 1.0), (1.0, 1e-300, 1.0, 0.0),
    (0.5, 0.0, 0.5, 0.0), (0.5, -0.0, 0.5, 0.0), (0.5, -1e-300, 0.5, 0.5), (0.5, 1e-300, 1.0, 0.0),
    (2.0, 0.0, 2.0, 0.0), (2.0, -0.0, 2.0, 0.0), (2.0, -1e-300, 2.0, 2.0), (2.0, 1e-300, 1.0, 0.0),
]  # fmt: skip


@pytest.mark.parametrize(("alpha", "x0", "first", "second"), TORCH_ELU)
def test_elu_derivatives_at_0_follow_pytorch(alpha: float, x0: float, first: float, second: float) -> None:
    """elu'(0) = alpha and elu''(0) = 0, as PyTorch; a hair to the left, elu'' = alpha·e^x."""
    x = Value(x0)
    [d1] = grad(x.elu(alpha), [x], create_graph=True)
    assert (d1.data, grad(d1, [x])) == (first, [second])
    assert hessian(lambda v: v.elu(alpha), [x0]) == [[second]]
    a = Value(alpha)  # a Value alpha: the mixed partial d²/dx dalpha is 1 on the left, at 0 too
    [dx] = grad(x.elu(a), [x], create_graph=True)
    assert grad(dx, [a]) == [0.0 if x0 > 0 else 1.0]


# The conventions at 0, by hand (operands after the first: their values in the point).
AT_KINK: dict[str, Callable[[list[float]], list[float]]] = {
    "relu": lambda p: [0.0],
    "abs": lambda p: [0.0],
    "step": lambda p: [0.0],
    "leaky_relu": lambda p: [p[1], 0.0],  # the slope; d/dslope = x = 0
    "elu": lambda p: [p[1], 0.0],  # alpha·e⁰; d/dalpha = e⁰ − 1 = 0
    "maximum": lambda p: [1.0, 0.0, 0.0],  # the first of the tied operands
    "minimum": lambda p: [0.0, 0.0, 1.0],  # the third operand is the least: no tie
    "sign": lambda p: [0.0],
    "floor": lambda p: [0.0],
    "ceil": lambda p: [0.0],
    "hypot": lambda p: [0.0, math.copysign(1.0, p[1])],  # (0, b): d/da = 0/|b|, d/db = b/|b|
    "arctan2": lambda p: [1.0 / p[1], 0.0],  # on the branch cut, the derivative is still b/b², -0/b²
}


@pytest.mark.parametrize("op", [op for op in BUILT_INS if op.kinks], ids=lambda op: op.name)
def test_create_graph_and_jvp_use_the_float_rules_conventions_at_every_kink(op: Op) -> None:
    """At a kink, grad(create_graph=True) and jvp pick the same one-sided derivative as
    backward (relu'(0) = abs'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha, the first
    maximal operand of maximum)."""
    for kink in op.kinks:
        if op.arity == VARIADIC:
            point = [kink, kink, kink - 1.0]  # a tie for the largest
        else:
            point = [kink] + [low + 0.4 * (high - low) for low, high in op.domain[1:]]
        leaves = [Value(v) for v in point]
        out = build(op, leaves)
        out.backward()
        as_floats = grad(out, leaves)
        as_values = grad(out, leaves, create_graph=True)
        assert [leaf.grad for leaf in leaves] == as_floats == [v.data for v in as_values]
        if op.name in AT_KINK:
            assert as_floats == AT_KINK[op.name](point), (op.name, point)
        for k in range(len(point)):
            tangents = [1.0 if j == k else 0.0 for j in range(len(point))]
            assert jvp(lambda *xs: build(op, xs), point, tangents)[1] == as_floats[k]


# --- 6. jvp ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", GRAPH_SEEDS)
@pytest.mark.parametrize("op", BUILT_INS, ids=lambda op: op.name)
def test_jvp_agrees_with_grad_dotted_with_the_tangents(op: Op, seed: int) -> None:
    fn, xs, tangents = random_case(op, seed, n_ops=6)
    value, directional = jvp(fn, xs, tangents)
    leaves = [Value(v) for v in xs]
    out = fn(*leaves)
    assert value == out.data
    gs = grad(out, leaves)
    assert all(g != 0.0 for g in gs)  # the output depends on every input
    reference = math.fsum(g * t for g, t in zip(gs, tangents))
    assert close(directional, reference, 1e-12), (op.name, seed, directional, reference)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("op", BUILT_INS, ids=lambda op: op.name)
def test_jvp_of_a_gradient_is_the_hessian_times_the_tangents(op: Op, seed: int) -> None:
    """Forward over reverse: the nodes grad(..., create_graph=True) makes carry tangents too."""
    fn, xs, tangents = random_case(op, seed, n_ops=5)
    h = hessian(fn, xs)
    for k in range(3):
        def gradient_k(*leaves: Value, k: int = k) -> Value:
            return grad(fn(*leaves), list(leaves), create_graph=True)[k]

        value, directional = jvp(gradient_k, xs, tangents)
        leaves = [Value(v) for v in xs]
        assert close(value, grad(fn(*leaves), leaves)[k], 1e-12, 1e-300)
        terms = [h[k][j] * tangents[j] for j in range(3)]
        # the terms' size, and the Hessian's: a row that is 0 exactly by reverse over reverse may
        # come out as rounding noise (1e-17) forward over reverse, where terms cancel
        scale = math.fsum(map(abs, terms)) + max(abs(v) for row in h for v in row)
        assert abs(directional - math.fsum(terms)) <= 1e-12 * scale, (op.name, seed, k, directional, terms)


def test_jvp_along_each_axis_is_the_gradient() -> None:
    def f(x: Value, y: Value) -> Value:
        return (x * y).sin() + autograd.logsumexp([x, y * y])

    xs = [0.3, -0.8]
    leaves = [Value(v) for v in xs]
    gs = grad(f(*leaves), leaves)
    assert jvp(f, xs, [1.0, 0.0])[1] == pytest.approx(gs[0], rel=1e-14)
    assert jvp(f, xs, [0.0, 1.0])[1] == pytest.approx(gs[1], rel=1e-14)


def test_jvp_of_a_function_that_ignores_its_inputs_is_zero() -> None:
    assert jvp(lambda x: Value(2.0).exp(), [1.0], [1.0]) == (math.exp(2.0), 0.0)
    assert jvp(lambda x, y: y.exp(), [1.0, 0.5], [1.0, 0.0]) == (math.exp(0.5), 0.0)
    assert jvp(lambda x: x, [1.5], [2.0]) == (1.5, 2.0)  # the identity carries its tangent


def test_no_grad_inside_fn_cuts_the_tangent() -> None:
    def fn(x: Value) -> Value:
        with autograd.no_grad():
            c = x * 2.0  # a constant leaf: no tangent flows through it
        return c * x

    assert jvp(fn, [3.0], [1.0]) == (18.0, 6.0)  # d(c·x)/dx = c = 6, not d(2x²)/dx = 12

    def all_cut(x: Value) -> Value:
        with autograd.no_grad():
            return x.exp()

    assert jvp(all_cut, [0.0], [1.0]) == (1.0, 0.0)


# --- 7. clear errors --------------------------------------------------------------------------


def test_grad_rejects_what_is_not_a_value() -> None:
    x = Value(1.0)
    y = x * 2
    with pytest.raises(TypeError, match=r"outputs must be a Value, a number or a list of them; got str 'y'"):
        grad("y", [x])
    with pytest.raises(TypeError, match=r"outputs\[1\] must be a Value or a number; got list \[3\.0\]"):
        grad([y, [3.0]], [x])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Value; got float 1\.5"):
        grad(y, [x, 1.5])
    with pytest.raises(TypeError, match=r"inputs must be a Value or a list of Values; got str"):
        grad(y, "x")
    with pytest.raises(ValueError, match=r"outputs is empty"):
        grad([], [x])


def test_grad_rejects_a_wrong_number_of_grad_outputs() -> None:
    x = Value(1.0)
    y1, y2 = x * 2, x * 3
    with pytest.raises(ValueError, match=r"grad_outputs has 1 entries for 2 outputs"):
        grad([y1, y2], [x], grad_outputs=[1.0])
    with pytest.raises(ValueError, match=r"grad_outputs has 3 entries for 1 outputs"):
        grad(y1, [x], grad_outputs=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"grad_outputs.*got str 'a'"):
        grad(y1, [x], grad_outputs=["a"])


def test_jvp_errors_name_what_was_given() -> None:
    with pytest.raises(ValueError, match=r"jvp\(\): 3 tangents for 2 inputs"):
        jvp(lambda x, y: x * y, [1.0, 2.0], [1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match=r"jvp\(\): fn must return a Value or a number; got str 'x'"):
        jvp(lambda x: "x", [1.0], [1.0])
    with pytest.raises(TypeError, match=r"jvp\(\) tangents.*got str 'a'"):
        jvp(lambda x: x, [1.0], ["a"])
    with pytest.raises(TypeError, match=r"jvp\(\): xs must be a list of numbers or Values; got float"):
        jvp(lambda x: x, 1.0, [1.0])
    for tangents in (1.0, None, "a"):
        kind = type(tangents).__name__
        with pytest.raises(TypeError, match=rf"jvp\(\): tangents must be a list of numbers, one per input; got {kind}"):
            jvp(lambda x: x, [1.0], tangents)


def test_hessian_errors_name_what_was_given() -> None:
    with pytest.raises(TypeError, match=r"hessian\(\): fn must return a Value or a number; got list"):
        hessian(lambda x: [x], [1.0])
    with pytest.raises(TypeError, match=r"hessian\(\): xs must be a list of numbers; got int"):
        hessian(lambda x: x * x, 3)
    with pytest.raises(TypeError, match=r"hessian\(\) xs.*got str 'a'"):
        hessian(lambda x: x * x, ["a"])
