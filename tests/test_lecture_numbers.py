"""The lecture notes' worked numbers (../shared/seeds/), computed by the engine.

Where the notes give code (MulLayer/AddLayer in lecture 003), that code is
written out here in plain Python as the independent truth.
"""

from __future__ import annotations

import pytest

import autograd
from autograd import Value


class MulLayer:
    """Lecture 003's multiply layer, as written there."""

    def forward(self, x: float, y: float) -> float:
        self.x, self.y = x, y
        return x * y

    def backward(self, dout: float) -> tuple[float, float]:
        return dout * self.y, dout * self.x


class AddLayer:
    """Lecture 003's add layer: the gradient passes through unchanged."""

    def forward(self, x: float, y: float) -> float:
        return x + y

    def backward(self, dout: float) -> tuple[float, float]:
        return dout, dout


def test_apple_price() -> None:
    """100 × 2 × 1.1 = 220; gradients 2.2, 110, 200 (lecture 003)."""
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.backward()
    assert price.data == pytest.approx(220, rel=1e-15)
    assert apple.grad == pytest.approx(2.2, rel=1e-15)
    assert num.grad == pytest.approx(110, rel=1e-15)
    assert tax.grad == pytest.approx(200, rel=1e-15)

    # the lecture's own MulLayer code gives the same numbers, to the bit
    mul_apple, mul_tax = MulLayer(), MulLayer()
    layer_price = mul_tax.forward(mul_apple.forward(100, 2), 1.1)
    dapple_price, dtax = mul_tax.backward(1)
    dapple, dnum = mul_apple.backward(dapple_price)
    assert (price.data, apple.grad, num.grad, tax.grad) == (layer_price, dapple, dnum, dtax)


def test_apple_and_mandarin() -> None:
    """(100·2 + 150·3)·1.1 = 715; gradients 2.2, 110, 3.3, 165, 650 (lecture 003)."""
    apple, apple_num = Value(100), Value(2)
    orange, orange_num = Value(150), Value(3)
    tax = Value(1.1)
    price = (apple * apple_num + orange * orange_num) * tax
    price.backward()
    assert price.data == pytest.approx(715, rel=1e-15)
    grads = (apple.grad, apple_num.grad, orange.grad, orange_num.grad, tax.grad)
    assert grads == pytest.approx((2.2, 110, 3.3, 165, 650), rel=1e-15)

    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    total = add.forward(mul_apple.forward(100, 2), mul_orange.forward(150, 3))
    layer_price = mul_tax.forward(total, 1.1)
    dtotal, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add.backward(dtotal)
    expected = (*mul_apple.backward(dapple_price), *mul_orange.backward(dorange_price), dtax)
    assert price.data == layer_price
    assert grads == expected


def test_multiply_node_swaps_and_add_node_passes_through() -> None:
    x, y = Value(3.0), Value(-4.0)
    (x * y).backward(grad=5.0)
    assert (x.grad, y.grad) == (5.0 * -4.0, 5.0 * 3.0)
    a, b = Value(3.0), Value(-4.0)
    (a + b).backward(grad=5.0)
    assert (a.grad, b.grad) == (5.0, 5.0)


def test_chain_rule_z_equals_t_squared() -> None:
    """z = t², t = x + y: dz/dx = dz/dy = 2t (lecture 003)."""
    x, y = Value(3.0), Value(2.0)
    t = x + y
    z = t**2
    z.backward()
    assert (x.grad, y.grad, t.grad) == (10.0, 10.0, 10.0)


def test_partial_derivatives_example() -> None:
    """z = x² + xy + y²: ∂z/∂x = 2x + y, ∂z/∂y = 2y + x (lecture 000)."""
    x, y = Value(1.5), Value(-2.0)
    z = x**2 + x * y + y**2
    z.backward()
    assert (x.grad, y.grad) == (2 * 1.5 - 2.0, 2 * -2.0 + 1.5)


@pytest.mark.parametrize("x", [-10.0, -4.0, -1.0, -0.1, 0.0, 0.3, 2.0, 7.5])
def test_sigmoid_derivative_is_y_times_one_minus_y(x: float) -> None:
    v = Value(x)
    y = v.sigmoid()
    y.backward()
    assert v.grad == pytest.approx(y.data * (1 - y.data), rel=1e-15)
    assert v.grad <= 0.25


def test_sigmoid_derivative_peaks_at_a_quarter() -> None:
    v = Value(0.0)
    v.sigmoid().backward()
    assert v.grad == 0.25


@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 0.8, 4.0])
def test_tanh_derivative_is_one_minus_y_squared(x: float) -> None:
    v = Value(x)
    y = v.tanh()
    y.backward()
    assert v.grad == pytest.approx(1 - y.data**2, rel=1e-15)


@pytest.mark.parametrize("x, slope", [(-2.0, 0.0), (3.0, 1.0)])
def test_relu_node(x: float, slope: float) -> None:
    """ReLU's backward: 1 for x > 0, 0 for x ≤ 0 (lecture 003)."""
    v = Value(x)
    v.relu().backward()
    assert v.grad == slope


def test_a_value_used_twice_gets_the_sum_of_both_gradients() -> None:
    """The lectures' copy (branch) node: gradients from both uses add up."""
    x = Value(3.0)
    (x + x).backward()
    assert x.grad == 2.0
    x = Value(3.0)
    (x * x * x).backward()
    assert x.grad == 27.0
    x = Value(2.0)
    y = x * 3
    z = y + y * x  # dz/dx = 3 + 2·3x = 15 at x = 2
    z.backward()
    assert x.grad == 15.0


def test_gradient_lifetime_leaves_accumulate_intermediates_do_not() -> None:
    """y = x·x, z = y·y at x = 2: two backward calls leave x.grad = 64 (micrograd: 96)."""
    x = Value(2.0)
    y = x * x
    z = y * y
    z.backward()
    assert (x.grad, y.grad, z.grad) == (32.0, 8.0, 1.0)
    z.backward()
    assert (x.grad, y.grad, z.grad) == (64.0, 8.0, 1.0)


GATES = {  # lecture 003: weights and bias of each gate
    "AND": ([0.5, 0.5], -0.7, [0, 0, 0, 1]),
    "NAND": ([-0.5, -0.5], 0.7, [1, 1, 1, 0]),
    "OR": ([0.5, 0.5], -0.2, [0, 1, 1, 1]),
}
INPUTS = [(0, 0), (0, 1), (1, 0), (1, 1)]


def gate(name: str, x1: float, x2: float) -> float:
    w, b, _ = GATES[name]
    return autograd.dot(w, [x1, x2], bias=b).step().data


@pytest.mark.parametrize("name", GATES)
def test_perceptron_gates_with_the_lectures_weights(name: str) -> None:
    assert [gate(name, *x) for x in INPUTS] == GATES[name][2]


def test_xor_from_nand_or_and() -> None:
    """XOR(x1, x2) = AND(NAND(x1, x2), OR(x1, x2)) (lectures 000, 003)."""
    assert [gate("AND", gate("NAND", *x), gate("OR", *x)) for x in INPUTS] == [0, 1, 1, 0]


def test_perceptron_operation_table_lecture_000() -> None:
    """w = (1.0, 1.0), b = -1.5 gives S = -1.5, -0.5, -0.5, 0.5 and y = 0, 0, 0, 1 (lecture 000)."""
    sums = [autograd.dot([1.0, 1.0], list(x), bias=-1.5) for x in INPUTS]
    assert [s.data for s in sums] == [-1.5, -0.5, -0.5, 0.5]
    assert [s.step().data for s in sums] == [0, 0, 0, 1]


def test_softmax_cross_entropy_gradient_is_p_minus_y() -> None:
    """Lecture 002: d(-log softmax_t)/dz_j = p_j - y_j."""
    logits = [Value(v) for v in (2.0, 1.0, 0.1, -1.3)]
    target = 2
    loss = -autograd.log_softmax(logits)[target]
    loss.backward()
    p = [s.data for s in autograd.softmax(logits)]
    for j, z in enumerate(logits):
        assert z.grad == pytest.approx(p[j] - (j == target), abs=1e-15)


def test_two_layer_sigmoid_network_deltas_lecture_000() -> None:
    """The 2-2-2 sigmoid network with J = ½Σ(a - y)²: lecture 000's delta formulas.

    The notes' figure with the network's numbers did not survive extraction, so the
    weights here are a common textbook choice; what is checked is the notes'
    δ⁽³⁾ = (a - y)·a(1 - a), δ⁽²⁾ = (Σ δ⁽³⁾w)·a(1 - a), ∂J/∂w = δ·a against backward.
    """
    x = [0.05, 0.10]
    w1 = [[0.15, 0.20], [0.25, 0.30]]
    w2 = [[0.40, 0.45], [0.50, 0.55]]
    y = [0.01, 0.99]
    W1 = [[Value(w) for w in row] for row in w1]
    W2 = [[Value(w) for w in row] for row in w2]
    a2 = [autograd.dot(row, x).sigmoid() for row in W1]
    a3 = [autograd.dot(row, a2).sigmoid() for row in W2]
    loss = autograd.sum([0.5 * (a - t) ** 2 for a, t in zip(a3, y)])
    loss.backward()

    h = [a.data for a in a2]
    o = [a.data for a in a3]
    delta3 = [(o[j] - y[j]) * o[j] * (1 - o[j]) for j in range(2)]
    delta2 = [(delta3[0] * w2[0][j] + delta3[1] * w2[1][j]) * h[j] * (1 - h[j]) for j in range(2)]
    for j in range(2):
        for i in range(2):
            assert W2[j][i].grad == pytest.approx(delta3[j] * h[i], rel=1e-12)
            assert W1[j][i].grad == pytest.approx(delta2[j] * x[i], rel=1e-12)
