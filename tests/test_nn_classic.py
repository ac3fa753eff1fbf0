"""The lectures' classic learners: perceptron, Adaline and logistic regression, with the notes' numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from nn import data
from nn.classic import AdalineFit, ConvergenceWarning, PerceptronFit

INPUTS = [(0, 0), (0, 1), (1, 0), (1, 1)]
AND_PM = [-1, -1, -1, 1]  # AND with the ±1 targets of notes 002


# --- notes 002: the sign perceptron, one epoch over AND ---------------------------------


def lecture_002_perceptron() -> nn.Perceptron:
    return nn.Perceptron(2, lr=0.05, weights=[0.6, 0.6], bias=-0.4, labels=(-1, 1))


def test_lecture_002_perceptron_classifies_like_the_slide() -> None:
    """φ(-0.4 + 0.6x1 + 0.6x2) = -1, 1, 1, 1 (notes 002, 'Perceptron 분류 예시')."""
    p = lecture_002_perceptron()
    assert [p.net_input(x) for x in INPUTS] == pytest.approx([-0.4, 0.2, 0.2, 0.8], abs=1e-15)
    assert [p.predict(x) for x in INPUTS] == [-1, 1, 1, 1]


def test_lecture_002_perceptron_one_epoch_over_and() -> None:
    """From b = -0.4, w = [0.6, 0.6], η = 0.05: rows (0,1) and (1,0) err, each moving w by -2η·x.

    The slide's result: w0 = b = -0.6, w1 = w2 = 0.5. In floating point these come out
    as exactly the doubles nearest -0.6 and 0.5.
    """
    p = lecture_002_perceptron()
    changed, trace = [], []
    for x, y in zip(INPUTS, AND_PM):
        changed.append(p.update(x, y))
        trace.append((p.bias, p.weights))
    assert changed == [False, True, True, False]
    assert trace[1] == (-0.5, [0.6, 0.5])  # the slide's first block: w0 and w2 move by 0.05·(-2)
    assert trace[2] == (-0.6, [0.5, 0.5])  # the second block: w0 and w1 move
    assert (p.bias, p.weights) == (-0.6, [0.5, 0.5])
    # notes 002's XOR slide then lists φ(-0.6 + 0.5x1 + 0.5x2) = -1, -1, -1, 1
    assert [p.predict(x) for x in INPUTS] == [-1, -1, -1, 1]


def test_lecture_002_perceptron_fit_converges_in_the_second_epoch() -> None:
    p = lecture_002_perceptron()
    result = p.fit(*data.logic_gate("and", labels=(-1, 1)), epochs=10)
    assert result == PerceptronFit(converged=True, epochs=2, errors=[2, 0])
    assert (p.bias, p.weights) == (-0.6, [0.5, 0.5])


def test_lecture_002_two_layer_xor_needs_v2_positive() -> None:
    """Notes 002 solve XOR with a1 = φ(-0.4 + 0.6x1 + 0.6x2) (OR), a2 = φ(0.6 - 0.5x1 - 0.5x2) (NAND)
    and y = φ(v0 + v1·a1 + v2·a2). The slide prints v = (-0.4, 0.6, -0.6), which computes
    AND, not XOR; v2 = +0.6 (AND of OR and NAND) gives XOR."""
    a1 = nn.Perceptron(2, weights=[0.6, 0.6], bias=-0.4, labels=(-1, 1))
    a2 = nn.Perceptron(2, weights=[-0.5, -0.5], bias=0.6, labels=(-1, 1))
    assert [a1.predict(x) for x in INPUTS] == [-1, 1, 1, 1]
    assert [a2.predict(x) for x in INPUTS] == [1, 1, 1, -1]

    def network(v: list[float]) -> list[int]:
        out = nn.Perceptron(2, weights=v[1:], bias=v[0], labels=(-1, 1))
        return [out.predict([a1.predict(x), a2.predict(x)]) for x in INPUTS]

    assert network([-0.4, 0.6, -0.6]) == [-1, -1, -1, 1]  # as printed: AND
    assert network([-0.4, 0.6, 0.6]) == [-1, 1, 1, -1]  # XOR


# --- notes 002: Adaline, one batch step on AND ------------------------------------------


def test_lecture_002_adaline_table() -> None:
    """The slide's table: w·x = -0.4, 0.2, 0.2, 0.8 and y - w·x = -0.6, -1.2, -1.2, 0.2."""
    a = nn.Adaline(2, lr=0.05, weights=[0.6, 0.6], bias=-0.4)
    outputs = [a.net_input(x) for x in INPUTS]
    assert outputs == pytest.approx([-0.4, 0.2, 0.2, 0.8], abs=1e-15)
    assert [y - o for y, o in zip(AND_PM, outputs)] == pytest.approx([-0.6, -1.2, -1.2, 0.2], abs=1e-15)


def test_lecture_002_adaline_one_step() -> None:
    """J = ½Σ(y - w·x)², ∂J/∂w_j = -Σ(y - w·x)x_j = (-2.8, -1, -1): b = -0.54, w = [0.55, 0.55].

    The gradient comes from backward(); 0.6 - 0.05 rounds to 0.5499999999999999 in
    binary floating point, so the weights agree with 0.55 to one ulp.
    """
    a = nn.Adaline(2, lr=0.05, weights=[0.6, 0.6], bias=-0.4)
    cost = a.gradient_step(*data.logic_gate("and", labels=(-1, 1)))
    assert cost == pytest.approx(0.5 * (0.36 + 1.44 + 1.44 + 0.04), abs=1e-15)  # J before the step: 1.64
    assert a.bias == pytest.approx(-0.54, abs=1e-15)
    assert a.weights == pytest.approx([0.55, 0.55], abs=1e-15)


def test_lecture_002_adaline_number_needs_the_sum_convention() -> None:
    """With ½·mean instead of ½Σ the same step gives b = -0.435, w = 0.5875: not the slide's."""
    a = nn.Adaline(2, lr=0.05, weights=[0.6, 0.6], bias=-0.4, reduction="mean")
    a.gradient_step(*data.logic_gate("and", labels=(-1, 1)))
    assert a.bias == pytest.approx(-0.435, abs=1e-15)
    assert a.weights == pytest.approx([0.5875, 0.5875], abs=1e-15)


def test_adaline_step_is_the_delta_rule() -> None:
    """backward() on ½Σ(y - w·x - b)² gives exactly w ← w + η Σ (y - w·x - b) x on random data."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(7, 3)), rng.choice([-1, 1], size=7)
    w0, b0, lr = rng.normal(size=3).tolist(), 0.3, 0.02
    a = nn.Adaline(3, lr=lr, weights=w0, bias=b0)
    a.gradient_step(X, y)
    errors = [t - (float(np.dot(w0, x)) + b0) for x, t in zip(X, y)]
    expected_w = [w0[j] + lr * math.fsum(e * x[j] for e, x in zip(errors, X)) for j in range(3)]
    assert a.weights == pytest.approx(expected_w, rel=1e-12)
    assert a.bias == pytest.approx(b0 + lr * math.fsum(errors), rel=1e-12)


# --- notes 000 / 001 / 003: the step perceptron -----------------------------------------


def test_step_and_sign_at_zero_follow_the_notes() -> None:
    """Notes 000: h(a) = 0 for a ≤ 0, so step(0) = 0; notes 002: φ(z) = 1 for z ≥ 0, so sign(0) = +1."""
    step = nn.Perceptron(2, weights=[1.0, 1.0], bias=-1.0)
    sign = nn.Perceptron(2, weights=[1.0, 1.0], bias=-1.0, labels=(-1, 1))
    assert step.net_input([0, 1]) == 0.0
    assert step.predict([0, 1]) == 0
    assert sign.predict([0, 1]) == 1
    assert nn.Adaline(2, weights=[1.0, 1.0], bias=-1.0).predict([1, 0]) == 1
    assert Value(0.0).step().data == 0.0  # the engine's step agrees with notes 000


def test_lecture_000_and_table() -> None:
    """w = (1.0, 1.0), b = -1.5: S = -1.5, -0.5, -0.5, 0.5 and y = 0, 0, 0, 1."""
    p = nn.Perceptron(2, weights=[1.0, 1.0], bias=-1.5)
    assert [p.net_input(x) for x in INPUTS] == [-1.5, -0.5, -0.5, 0.5]
    assert [p.predict(x) for x in INPUTS] == [0, 0, 0, 1]


def test_lecture_000_or_table_follows_from_bias_minus_half() -> None:
    """The slide labels its OR example 'w0 = -0.5, w1 = 1.0, b = 1.0' but its S column
    (-0.5, 0.5, 0.5, 1.5) is that of b = -0.5, w = (1.0, 1.0); read literally, the
    labels give S = 1.0, 2.0, 0.5, 1.5 and y = 1, 1, 1, 1."""
    table = nn.Perceptron(2, weights=[1.0, 1.0], bias=-0.5)
    assert [table.net_input(x) for x in INPUTS] == [-0.5, 0.5, 0.5, 1.5]
    assert [table.predict(x) for x in INPUTS] == [0, 1, 1, 1]
    literal = nn.Perceptron(2, weights=[-0.5, 1.0], bias=1.0)
    assert [literal.net_input(x) for x in INPUTS] == [1.0, 2.0, 0.5, 1.5]
    assert [literal.predict(x) for x in INPUTS] == [1, 1, 1, 1]


def test_lecture_000_learning_slide_does_not_follow_from_its_weights() -> None:
    """Notes 000 (and 001) start from w = [0.55, 0.55], b = -0.65 and list o = 0, 1, 1, 1,
    then update on rows (0,1) and (1,0) as if o = 1 there. These weights give
    S = -0.65, -0.1, -0.1, 0.45, so o = 0, 0, 0, 1: AND already, and the rule changes nothing."""
    p = nn.Perceptron(2, lr=0.05, weights=[0.55, 0.55], bias=-0.65)
    assert [p.net_input(x) for x in INPUTS] == pytest.approx([-0.65, -0.1, -0.1, 0.45], abs=1e-15)
    assert [p.predict(x) for x in INPUTS] == [0, 0, 0, 1]  # the slide says 0, 1, 1, 1
    assert p.update([0, 1], 0) is False and p.update([1, 0], 0) is False
    assert (p.bias, p.weights) == (-0.65, [0.55, 0.55])
    assert p.fit(*data.logic_gate("and")) == PerceptronFit(converged=True, epochs=1, errors=[0])


def test_lecture_000_update_arithmetic_when_o_is_one() -> None:
    """The slide's arithmetic itself is the rule's: a mistake o = 1, y = 0 on (0,1) moves b and w2 by -η.

    It takes weights that really output 1 there (bias -0.45 instead of -0.65) to see it.
    """
    p = nn.Perceptron(2, lr=0.05, weights=[0.55, 0.55], bias=-0.45)
    assert p.predict([0, 1]) == 1
    assert p.update([0, 1], 0) is True
    assert p.bias == pytest.approx(-0.5, abs=1e-15)
    assert p.weights == pytest.approx([0.55, 0.5], abs=1e-15)


GATE_WEIGHTS_003 = {"and": ([0.5, 0.5], -0.7), "nand": ([-0.5, -0.5], 0.7), "or": ([0.5, 0.5], -0.2)}


@pytest.mark.parametrize("gate", GATE_WEIGHTS_003)
def test_lecture_003_gates(gate: str) -> None:
    weights, bias = GATE_WEIGHTS_003[gate]
    p = nn.Perceptron(2, weights=weights, bias=bias)
    X, y = data.logic_gate(gate)
    assert [p.predict(x) for x in X] == y.tolist()


def test_lecture_003_xor_from_gates() -> None:
    gates = {name: nn.Perceptron(2, weights=w, bias=b) for name, (w, b) in GATE_WEIGHTS_003.items()}
    xor = [gates["and"].predict([gates["nand"].predict(x), gates["or"].predict(x)]) for x in INPUTS]
    assert xor == data.logic_gate("xor")[1].tolist()


# --- learning the gates; XOR does not converge -----------------------------------------


@pytest.mark.parametrize("labels", [(0, 1), (-1, 1)])
@pytest.mark.parametrize("gate", ["and", "nand", "or"])
@pytest.mark.parametrize("start", ["zeros", "lecture"])
def test_perceptron_learns_separable_gates(gate: str, labels: tuple[int, int], start: str) -> None:
    X, y = data.logic_gate(gate, labels=labels)
    if start == "zeros":
        p = nn.Perceptron(2, lr=0.1, labels=labels)
    else:
        p = nn.Perceptron(2, lr=0.05, weights=[0.6, 0.6], bias=-0.4, labels=labels)
    result = p.fit(X, y, epochs=100)
    assert result.converged and result.errors[-1] == 0 and result.epochs == len(result.errors)
    assert all(e > 0 for e in result.errors[:-1])
    assert [p.predict(x) for x in X] == y.tolist()


@pytest.mark.parametrize("labels", [(0, 1), (-1, 1)])
def test_perceptron_on_xor_stops_and_reports(labels: tuple[int, int]) -> None:
    X, y = data.logic_gate("xor", labels=labels)
    p = nn.Perceptron(2, lr=0.1, labels=labels)
    with pytest.warns(ConvergenceWarning, match="not be linearly separable"):
        result = p.fit(X, y, epochs=25)
    assert result.converged is False
    assert result.epochs == 25 and len(result.errors) == 25
    assert min(result.errors) >= 1  # no line gets all four right
    assert sum(p.predict(x) == t for x, t in zip(X, y)) <= 3


def test_perceptron_separates_far_blobs() -> None:
    X, y = data.make_blobs(60, centers=[[-3.0, -3.0], [3.0, 3.0]], cluster_std=0.5, seed=1)
    p = nn.Perceptron(2, lr=0.1)
    result = p.fit(X, y, epochs=50)
    assert result.converged
    assert all(p.predict(x) == t for x, t in zip(X, y))


# --- update(), inputs, setters and bad input --------------------------------------------


def test_update_returns_whether_it_changed_anything() -> None:
    p = nn.Perceptron(2, lr=0.5, weights=[1.0, -1.0], bias=0.0)
    assert p.predict([1, 0]) == 1
    assert p.update([1, 0], 1) is False
    assert (p.weights, p.bias) == ([1.0, -1.0], 0.0)
    assert p.update([1, 0], 0) is True  # o = 1, y = 0: w ← w - 0.5·x, b ← b - 0.5
    assert (p.weights, p.bias) == ([0.5, -1.0], -0.5)


def test_inputs_may_be_lists_tuples_numpy_rows_or_values() -> None:
    p = nn.Perceptron(3, weights=[1.0, 2.0, 3.0], bias=-1.0)
    expected = 1 * 1 + 2 * 0.5 + 3 * -1 - 1.0
    for x in ([1, 0.5, -1], (1, 0.5, -1), np.array([1, 0.5, -1]), [Value(1), Value(0.5), Value(-1)]):
        assert p.net_input(x) == expected
    assert p.predict(np.array([1.0, 0.5, -1.0])) == 0


def test_weights_and_bias_read_and_set() -> None:
    p = nn.Perceptron(2)
    assert (p.weights, p.bias) == ([0.0, 0.0], 0.0)
    p.weights = np.array([0.25, -0.75])
    p.bias = 1
    assert p.weights == [0.25, -0.75] and all(type(w) is float for w in p.weights)
    assert p.bias == 1.0 and type(p.bias) is float
    p.weights[0] = 99.0  # the getter hands out a copy
    assert p.weights == [0.25, -0.75]
    a = nn.Adaline(3, weights=(1, 2, 3), bias=0.5)
    assert (a.weights, a.bias) == ([1.0, 2.0, 3.0], 0.5)
    assert "Perceptron(nin=2" in repr(p) and "Adaline(nin=3" in repr(a)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: nn.Perceptron(0), ValueError, "nin"),
        (lambda: nn.Perceptron(2.5), ValueError, "nin"),
        (lambda: nn.Perceptron(2, lr=0), ValueError, "lr must be positive"),
        (lambda: nn.Perceptron(2, lr="fast"), TypeError, "lr must be a real number"),
        (lambda: nn.Perceptron(2, labels=(1, 2)), ValueError, r"labels must be \(0, 1\)"),
        (lambda: nn.Perceptron(2, weights=[1.0]), ValueError, "must have 2 values"),
        (lambda: nn.Perceptron(2, weights=[1.0, "a"]), TypeError, r"weights\[1\] must be a real number"),
        (lambda: nn.Perceptron(2, weights=[1.0, math.nan]), ValueError, "finite"),
        (lambda: nn.Perceptron(2, weights=1.0), TypeError, "sequence of 2 numbers"),
        (lambda: nn.Perceptron(2, bias="0"), TypeError, "bias must be a real number"),
        (lambda: nn.Perceptron(2, bias=math.inf), ValueError, "bias must be finite"),
        (lambda: nn.Adaline(2, reduction="max"), ValueError, "reduction"),
    ],
)
def test_bad_construction(make, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


def test_bad_assignment_leaves_the_model_alone() -> None:
    p = nn.Perceptron(2, weights=[0.1, 0.2], bias=0.3)
    with pytest.raises(ValueError, match="must have 2 values"):
        p.weights = [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="bias"):
        p.bias = None
    assert (p.weights, p.bias) == ([0.1, 0.2], 0.3)


def test_bad_samples_and_targets() -> None:
    p = nn.Perceptron(2)
    X, y = data.logic_gate("and")
    with pytest.raises(ValueError, match="must have 2 values"):
        p.predict([1, 2, 3])
    with pytest.raises(ValueError, match="1-D row"):
        p.predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"y must be one of \(0, 1\); got -1"):
        p.update([0, 1], -1)
    with pytest.raises(ValueError, match=r"y\[3\] must be one of \(0, 1\)"):
        p.fit(X, [0, 0, 0, 2])
    with pytest.raises(ValueError, match="one label per sample"):
        p.fit(X, [0, 1])
    with pytest.raises(ValueError, match="X must be 2-D"):
        p.fit(np.zeros(4), y)
    with pytest.raises(ValueError, match="at least one sample"):
        p.fit([], [])
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        p.fit(X, y, epochs=0)
    with pytest.raises(ValueError, match=r"convert with 2 \* y - 1"):
        nn.Adaline(2).fit(X, y)


# --- Adaline learns ---------------------------------------------------------------------


@pytest.mark.parametrize("gate", ["and", "nand", "or"])
def test_adaline_learns_separable_gates(gate: str) -> None:
    X, y = data.logic_gate(gate, labels=(-1, 1))
    a = nn.Adaline(2, lr=0.05)
    result = a.fit(X, y, epochs=60)
    assert isinstance(result, AdalineFit) and result.epochs == 60
    assert all(later <= earlier + 1e-12 for earlier, later in zip(result.loss, result.loss[1:]))
    assert [a.predict(x) for x in X] == y.tolist()


def test_adaline_reaches_the_least_squares_solution_on_and() -> None:
    """The ±1 AND's least-squares line is b = -1.5, w = (1, 1), with J = ½·4·0.5² = 0.5."""
    X, y = data.logic_gate("and", labels=(-1, 1))
    a = nn.Adaline(2, lr=0.1, weights=[0.6, 0.6], bias=-0.4)
    a.fit(X, y, epochs=400)
    assert a.bias == pytest.approx(-1.5, abs=1e-6)
    assert a.weights == pytest.approx([1.0, 1.0], abs=1e-6)
    assert a.cost(X, y) == pytest.approx(0.5, abs=1e-9)


def test_adaline_mean_reduction_on_blobs() -> None:
    X, y01 = data.make_blobs(80, centers=[[-2.0, 0.0], [2.0, 1.0]], cluster_std=0.6, seed=4)
    a = nn.Adaline(2, lr=0.1, reduction="mean")
    result = a.fit(X, 2 * y01 - 1, epochs=40)
    assert result.loss[-1] < result.loss[0]
    assert result.errors[-1] == 0
    assert all(a.predict(x) == 2 * t - 1 for x, t in zip(X, y01))


# --- logistic regression: one sigmoid neuron, BCE through autograd -----------------------


def bce(p: Value, y: float) -> Value:
    """-(y log p + (1 - y) log(1 - p)), written out."""
    return -(y * p.log() + (1 - y) * (1 - p).log())


def train_logistic(X: np.ndarray, y: np.ndarray, lr: float, epochs: int) -> tuple[list[Value], Value, list[float]]:
    w, b = [Value(0.0), Value(0.0)], Value(0.0)
    losses = []
    for _ in range(epochs):
        loss = autograd.mean([bce(autograd.dot(w, x, bias=b).sigmoid(), t) for x, t in zip(X, y)])
        for param in (*w, b):
            param.grad = 0.0
        loss.backward()
        for param in (*w, b):
            param.data -= lr * param.grad
        losses.append(loss.data)
    return w, b, losses


def test_logistic_regression_gradient_is_the_lectures() -> None:
    """Notes 002: J = -Σ{y log p + (1 - y) log(1 - p)} has ∂J/∂w_j = -Σ(y - p)x_j."""
    X, y = data.logic_gate("or")
    w, b = [Value(0.3), Value(-0.2)], Value(0.1)
    ps = [autograd.dot(w, x, bias=b).sigmoid() for x in X]
    autograd.sum([bce(p, t) for p, t in zip(ps, y)]).backward()
    residuals = [t - p.data for p, t in zip(ps, y)]
    for j in range(2):
        assert w[j].grad == pytest.approx(-sum(r * x[j] for r, x in zip(residuals, X)), abs=1e-14)
    assert b.grad == pytest.approx(-sum(residuals), abs=1e-14)


@pytest.mark.parametrize("gate", ["and", "or"])
def test_logistic_regression_learns_gates(gate: str) -> None:
    X, y = data.logic_gate(gate)
    w, b, losses = train_logistic(X, y, lr=1.0, epochs=300)
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
    probabilities = [autograd.dot(w, x, bias=b).sigmoid().data for x in X]
    assert [int(p > 0.5) for p in probabilities] == y.tolist()
    assert losses[-1] < 0.15


def test_logistic_regression_learns_separable_blobs() -> None:
    X, y = data.make_blobs(40, centers=[[-2.0, -1.0], [2.0, 1.0]], cluster_std=0.5, seed=7)
    w, b, losses = train_logistic(X, y, lr=0.5, epochs=60)
    assert losses[-1] < 0.1 * losses[0]
    predictions = [int(autograd.dot(w, x, bias=b).data > 0) for x in X]
    assert predictions == y.tolist()
