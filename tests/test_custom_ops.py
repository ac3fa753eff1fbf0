"""Ops of your own (``autograd.primitive``): the lectures' multiply node, ``sin`` by hand,
a variadic op, and the errors a wrong op gets.

Every op a test registers joins ``autograd.OPS``; the ``own_ops`` fixture (tests/conftest.py) removes it
afterwards, since tests/test_op_table.py asks every op in the table for a test row.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from test_lecture_numbers import MulLayer  # notes 003's multiply layer, as the notes write it (the independent truth)

import autograd
import autograd.arrays
import viz
from autograd import Value
from autograd.ops import _TABLE

BUILT_IN = frozenset(op.name for op in _TABLE)


def define_times() -> autograd.Primitive:
    """Notes 003's MulLayer as an op: forward x·y; backward swaps its inputs."""

    @autograd.primitive(symbol="×")
    def times(x, y):  # type: ignore[no-untyped-def]
        return x * y

    @times.derivative
    def times_derivative(g, out, x, y):  # type: ignore[no-untyped-def]
        return g * y, g * x

    return times


def define_sin() -> autograd.Primitive:
    """sin written by hand: forward np.sin (floats and arrays), derivative g·cos x."""

    @autograd.primitive(name="my_sin", symbol="∿")
    def my_sin(x):  # type: ignore[no-untyped-def]
        return np.sin(x)

    @my_sin.derivative
    def my_sin_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return g * autograd.cos(x)

    return my_sin




# --- the lectures' multiply node ---------------------------------------------------------


def test_the_lectures_apple_example() -> None:
    """apple 100 × 2 apples × tax 1.1 = 220; ∂price/∂apple 2.2, ∂/∂apple_num 110, ∂/∂tax 200
    (the notes print 220 and "2.2 110 200"): the same floats as the notes' MulLayer code."""
    times = define_times()
    apple, apple_num, tax = Value(100.0, label="apple"), Value(2.0, label="apple_num"), Value(1.1, label="tax")
    apple_price = times(apple, apple_num)
    price = times(apple_price, tax)
    assert price.op == "times" and apple_price.op == "times"
    price.backward()

    mul_apple, mul_tax = MulLayer(), MulLayer()
    expected_price = mul_tax.forward(mul_apple.forward(100.0, 2.0), 1.1)
    dapple_price, dtax = mul_tax.backward(1.0)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert (price.data, apple.grad, apple_num.grad, tax.grad) == (expected_price, dapple, dapple_num, dtax)
    assert (price.data, apple.grad, apple_num.grad, tax.grad) == pytest.approx((220.0, 2.2, 110.0, 200.0), rel=1e-15)
    assert apple_price.grad == 1.1


def test_the_multiply_node_agrees_with_the_built_in_one() -> None:
    times = define_times()
    for x, y in [(3.0, -4.5), (0.1, 1e10), (-0.0, 2.0)]:
        a, b, c, d = Value(x), Value(y), Value(x), Value(y)
        mine, built_in = times(a, b), c * d
        mine.backward()
        built_in.backward()
        assert (mine.data, a.grad, b.grad) == (built_in.data, c.grad, d.grad)


# --- sin by hand -------------------------------------------------------------------------


def test_sin_by_hand_passes_gradcheck() -> None:
    my_sin = define_sin()
    assert autograd.gradcheck(lambda x: my_sin(x), [0.7])
    assert autograd.gradcheck(lambda x, y: my_sin(x * y) + my_sin(x), [1.3, -0.4])


def test_sin_by_hand_matches_math() -> None:
    my_sin = define_sin()
    for x0 in (-3.0, -0.5, 0.0, 1.0, 2.5):
        x = Value(x0)
        y = my_sin(x)
        y.backward()
        assert y.data.__class__ is float and x.grad.__class__ is float
        assert y.data == pytest.approx(math.sin(x0), abs=1e-15)
        assert x.grad == pytest.approx(math.cos(x0), abs=1e-15)


def test_sin_by_hand_draws_with_its_symbol() -> None:
    my_sin = define_sin()
    x = Value(0.5, label="x")
    source = viz.draw_dot(my_sin(x * 2.0)).source
    assert "label=<∿>" in source  # the op's ellipse shows its symbol (its tooltip, the name)


def test_sin_by_hand_differentiates_twice() -> None:
    """d/dx sin = cos and d²/dx² sin = -sin, both from grad(create_graph=True); a third is -cos."""
    my_sin = define_sin()
    for x0 in (-2.0, 0.3, 1.2):
        x = Value(x0)
        [first] = autograd.grad(my_sin(x), [x], create_graph=True)
        [second] = autograd.grad(first, [x], create_graph=True)
        [third] = autograd.grad(second, [x])
        assert first.data == pytest.approx(math.cos(x0), abs=1e-15)
        assert second.data == pytest.approx(-math.sin(x0), abs=1e-15)
        assert third == pytest.approx(-math.cos(x0), abs=1e-15)
    assert autograd.hessian(lambda x: my_sin(x), [0.3])[0][0] == pytest.approx(-math.sin(0.3), abs=1e-15)


def test_sin_by_hand_works_under_jvp() -> None:
    """Forward mode through sin(x·y): the tangent is cos(xy)·(y·dx + x·dy), and agrees with grad."""
    my_sin = define_sin()
    x0, y0, dx, dy = 0.8, -1.5, 0.3, 2.0
    value, tangent = autograd.jvp(lambda x, y: my_sin(x * y), [x0, y0], [dx, dy])
    assert value == pytest.approx(math.sin(x0 * y0), abs=1e-15)
    assert tangent == pytest.approx(math.cos(x0 * y0) * (y0 * dx + x0 * dy), rel=1e-14)
    x, y = Value(x0), Value(y0)
    gx, gy = autograd.grad(my_sin(x * y), [x, y])
    assert tangent == pytest.approx(gx * dx + gy * dy, abs=1e-12)


def test_sin_by_hand_rules_accept_arrays() -> None:
    """rules_for(arrays) gives the forward and derivative as written: np.sin and g·np.cos on a whole batch."""
    define_sin()
    forward, backward = autograd.OPS["my_sin"].rules_for(autograd.arrays)
    xs = np.linspace(-4.0, 4.0, 33)
    g = np.linspace(0.5, 2.0, 33)
    out = forward(xs)
    np.testing.assert_array_equal(out, np.sin(xs))
    np.testing.assert_array_equal(backward(g, out, xs), g * np.cos(xs))


# --- a variadic op -----------------------------------------------------------------------


def define_product() -> autograd.Primitive:
    """x_0·x_1·…·x_n; each operand's derivative is the product of the others."""

    @autograd.primitive(symbol="Π")
    def product(*xs):  # type: ignore[no-untyped-def]
        return math.prod(xs)

    @product.derivative
    def product_derivative(g, out, *xs):  # type: ignore[no-untyped-def]
        # math.prod multiplies whatever it is given: floats, Values or arrays
        return [g * math.prod(xs[:k] + xs[k + 1 :]) for k in range(len(xs))]

    return product


def test_a_variadic_op_of_your_own() -> None:
    product = define_product()
    xs = [Value(v) for v in (1.5, -2.0, 0.5, 3.0)]
    p = product(*xs)
    assert p.op == "product" and len(p.parents) == 4 and p.data == -4.5
    p.backward()
    assert [x.grad for x in xs] == [-3.0, 2.25, -9.0, -1.5]
    assert autograd.gradcheck(lambda *v: product(*v), [0.7, -1.1, 2.0])
    mixed = product(Value(2.0), 3.0, 4)  # plain numbers are constants
    assert mixed.data == 24.0


def test_a_variadic_op_differentiates_twice_and_takes_arrays() -> None:
    """The Hessian of xyz at (2, 3, 5) is [[0, z, y], [z, 0, x], [y, x, 0]]; the rules run on a batch."""
    product = define_product()
    assert autograd.hessian(lambda x, y, z: product(x, y, z), [2.0, 3.0, 5.0]) == [
        [0.0, 5.0, 3.0],
        [5.0, 0.0, 2.0],
        [3.0, 2.0, 0.0],
    ]
    forward, backward = autograd.OPS["product"].rules_for(autograd.arrays)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, -6.0])
    out = forward([a, b])
    np.testing.assert_array_equal(out, a * b)
    ga, gb = backward(np.ones(3), out, [a, b])
    np.testing.assert_array_equal(ga, b)
    np.testing.assert_array_equal(gb, a)


# --- joining the table ---------------------------------------------------------------------


def test_the_op_joins_the_table_and_pickles() -> None:
    """The op is in autograd.OPS once it has its derivative; a graph using it pickles and
    unpickles while the op is registered, and says which op is missing once it is not."""
    times = define_times()
    op = autograd.OPS["times"]
    assert (op.name, op.symbol, op.arity) == ("times", "×", 2)
    apple, num = Value(100.0, label="apple"), Value(2.0)
    price = times(apple, num) * 1.1
    copy = pickle.loads(pickle.dumps(price))
    assert copy.data == price.data and copy.parents[0].op == "times"
    copy.backward()
    price.backward()
    assert copy.parents[0].parents[0].grad == apple.grad == pytest.approx(2.2, rel=1e-15)
    payload = pickle.dumps(price)
    del autograd.OPS["times"]
    with pytest.raises(ValueError, match="'times'"):
        pickle.loads(payload)


def test_redefining_your_op_replaces_it() -> None:
    """A notebook cell run twice, or run again after an edit: the new definition wins."""
    first = define_times()
    first_op = autograd.OPS["times"]

    @autograd.primitive(symbol="⊗")
    def times(x, y):  # type: ignore[no-untyped-def]
        return 2.0 * x * y

    @times.derivative
    def times_derivative(g, out, x, y):  # type: ignore[no-untyped-def]
        return 2.0 * g * y, 2.0 * g * x

    assert autograd.OPS["times"] is not first_op and autograd.OPS["times"].symbol == "⊗"
    a = Value(3.0)
    y = times(a, 4.0)
    y.backward()
    assert (y.data, a.grad) == (24.0, 8.0)
    assert first(Value(3.0), 4.0).data == 12.0  # nodes keep the op that made them


# --- errors ----------------------------------------------------------------------------------


def test_a_built_in_name_is_refused() -> None:
    with pytest.raises(ValueError, match="'add' is a built-in op"):

        @autograd.primitive
        def add(x, y):  # type: ignore[no-untyped-def]
            return x + y

    with pytest.raises(ValueError, match="'sin' is a built-in op"):
        autograd.primitive(lambda x: x, name="sin")
    assert autograd.OPS["add"] in _TABLE and autograd.OPS["sin"] in _TABLE


def test_a_derivative_giving_the_wrong_number_of_gradients_names_the_op() -> None:
    @autograd.primitive
    def cube(x):  # type: ignore[no-untyped-def]
        return x**3

    @cube.derivative
    def cube_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return g * 3 * x**2, g

    x = Value(2.0)
    for run in (
        lambda: cube(x).backward(),
        lambda: autograd.grad(cube(x), [x]),
        lambda: autograd.grad(cube(x), [x], create_graph=True),
        lambda: autograd.jvp(lambda v: cube(v), [2.0], [1.0]),
    ):
        with pytest.raises(ValueError, match=r"op 'cube': its derivative gave 2 gradients for 1 operand"):
            run()

    times = define_times()

    @times.derivative
    def one_gradient(g, out, x, y):  # type: ignore[no-untyped-def]
        return g * y

    with pytest.raises(ValueError, match=r"op 'times': its derivative gave float 8\.0; .* 2 gradients"):
        times(Value(3.0), 8.0).backward()

    product = define_product()

    @product.derivative
    def too_few(g, out, *xs):  # type: ignore[no-untyped-def]
        return [g] * (len(xs) - 1)

    with pytest.raises(ValueError, match=r"op 'product': its derivative gave 2 gradients for 3 operands"):
        product(Value(1.0), Value(2.0), Value(3.0)).backward()


def test_a_derivative_giving_a_non_number_names_the_op() -> None:
    times = define_times()

    @times.derivative
    def words(g, out, x, y):  # type: ignore[no-untyped-def]
        return "dy", g * x

    with pytest.raises(TypeError, match=r"op 'times': its derivative gave str 'dy'; a number is accepted"):
        times(Value(3.0), Value(4.0)).backward()
    with pytest.raises(TypeError, match=r"op 'times': its derivative gave str 'dy'; a number or a Value"):
        a = Value(3.0)
        autograd.grad(times(a, 4.0), [a], create_graph=True)

    outside = Value(5.0)

    @times.derivative
    def uses_a_value_from_outside(g, out, x, y):  # type: ignore[no-untyped-def]
        return g * outside, g * x

    a = Value(3.0)
    with pytest.raises(TypeError, match=r"op 'times': its derivative gave a Value .* from numbers"):
        times(a, 4.0).backward()
    assert a.grad == 0.0 and a.grad.__class__ is float  # .grad stays a float


def test_a_forward_giving_a_non_number_names_the_op() -> None:
    @autograd.primitive
    def greet(x):  # type: ignore[no-untyped-def]
        return f"hello {x}"

    @greet.derivative
    def greet_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return g

    with pytest.raises(TypeError, match=r"op 'greet': its forward gave str 'hello 1\.0'; a number is accepted"):
        greet(Value(1.0))
    with pytest.raises(TypeError, match=r"op 'greet': its forward gave str"):
        greet(2.0)


def test_the_wrong_number_of_operands() -> None:
    times = define_times()
    with pytest.raises(TypeError, match=r"op 'times' takes 2 operand\(s\); got 1"):
        times(Value(1.0))
    with pytest.raises(TypeError, match=r"op 'times' takes 2 operand\(s\); got 3"):
        times(Value(1.0), 2.0, 3.0)
    with pytest.raises(TypeError, match=r"times accepts a Value, int, float or NumPy real scalar; got str"):
        times(Value(1.0), "2")
    with pytest.raises(TypeError, match=r"takes 3 parameters; an op takes 1 or 2 operands, or \*operands"):
        autograd.primitive(lambda x, y, z: x, name="first")


def test_calling_before_the_derivative_is_given() -> None:
    @autograd.primitive
    def half(x):  # type: ignore[no-untyped-def]
        return x / 2

    assert "half" not in autograd.OPS
    with pytest.raises(RuntimeError, match=r"op 'half' has no derivative yet; give it with @half\.derivative"):
        half(Value(1.0))


def test_bad_arguments_to_primitive() -> None:
    with pytest.raises(TypeError, match="primitive\\(\\) takes a function; got int 3"):
        autograd.primitive(3)
    with pytest.raises(TypeError, match="name must be a non-empty string; got int 7"):
        autograd.primitive(lambda x: x, name=7)
    with pytest.raises(TypeError, match="a lambda has no name; give the op one with name="):
        autograd.primitive(lambda x: x)
    square = autograd.primitive(lambda x: x * x, name="square")
    square.derivative(lambda g, out, x: 2.0 * g * x)
    # a lambda with a name is fine
    x = Value(3.0)
    assert autograd.grad(square(x), [x]) == [6.0]
    times = define_times()
    with pytest.raises(TypeError, match="times.derivative takes a function; got str"):
        times.derivative("g * y")
