"""SGD and Adam: PyTorch's update formulas, checked against numbers worked out by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import nn
from autograd import Value


def square_gradient(p: Value) -> None:
    """Set p.grad to d(p²)/dp = 2p through the engine."""
    p.grad = 0.0
    (p * p).backward()


def test_plain_sgd_is_p_minus_lr_g() -> None:
    a, b = Value(1.0), Value(-2.0)
    a.grad, b.grad = 0.5, -4.0
    optimizer = nn.SGD([a, b], lr=0.1)
    optimizer.step()
    assert (a.data, b.data) == (1.0 - 0.1 * 0.5, -2.0 - 0.1 * -4.0)


def test_sgd_momentum_and_weight_decay_by_hand() -> None:
    # f = p², p0 = 1, lr 0.1, momentum 0.9, weight decay 0.1, as torch.optim.SGD:
    # g = 2p + 0.1p; b = g at step 1, then 0.9b + g; p -= 0.1 b
    p = Value(1.0)
    optimizer = nn.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    expected = [0.79, 0.4351, 0.024319]  # b = 2.1, 3.549, 4.10781
    for value in expected:
        square_gradient(p)
        optimizer.step()
        assert p.data == pytest.approx(value, rel=1e-13)


def test_sgd_weight_decay_alone_and_momentum_alone() -> None:
    p = Value(2.0)
    p.grad = 1.0
    nn.SGD([p], lr=0.5, weight_decay=0.25).step()
    assert p.data == 2.0 - 0.5 * (1.0 + 0.25 * 2.0)
    q = Value(0.0)
    optimizer = nn.SGD([q], lr=1.0, momentum=0.5)
    for _ in range(3):
        q.grad = 1.0  # constant gradient: buffers 1, 1.5, 1.75
        optimizer.step()
    assert q.data == -(1.0 + 1.5 + 1.75)


def textbook_adam(p: float, grad, lr: float, beta1: float, beta2: float, eps: float, steps: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Kingma & Ba's algorithm 1 with bias-corrected moments, written out plainly."""
    m = v = 0.0
    out = []
    for t in range(1, steps + 1):
        g = grad(p)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(p)
    return out


def test_adam_first_step_by_hand() -> None:
    # m̂ = g and v̂ = g² at step 1, so p moves by lr·g/(|g| + eps)
    p = Value(1.0)
    optimizer = nn.Adam([p], lr=0.1)
    square_gradient(p)
    optimizer.step()
    assert p.data == pytest.approx(1.0 - 0.1 * 2.0 / (2.0 + 1e-8), rel=1e-15)
    q = Value(5.0)
    q.grad = -1e-3  # a tiny gradient still moves the parameter by about lr
    nn.Adam([q], lr=0.01).step()
    assert q.data == pytest.approx(5.0 + 0.01 * 1e-3 / (1e-3 + 1e-8), rel=1e-15)


@pytest.mark.parametrize(("lr", "betas", "eps"), [(0.1, (0.9, 0.999), 1e-8), (0.05, (0.5, 0.9), 1e-3), (0.2, (0.0, 0.99), 1e-300)])
def test_adam_follows_the_algorithm(lr: float, betas: tuple[float, float], eps: float) -> None:
    p = Value(1.5)
    optimizer = nn.Adam([p], lr=lr, betas=betas, eps=eps)
    ours = []
    for _ in range(25):
        square_gradient(p)
        optimizer.step()
        ours.append(p.data)
    expected = textbook_adam(1.5, lambda x: 2 * x, lr, betas[0], betas[1], eps, 25)
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert optimizer.t == 25


@pytest.mark.parametrize(("betas", "weight_decay"), [((0.9, 0.999), 0.0), ((0.3, 0.9), 0.1)])
def test_adam_on_many_parameters_is_the_scalar_formula_bit_for_bit(betas: tuple[float, float], weight_decay: float) -> None:
    # Adam steps all parameters as arrays; each operation is correctly rounded, in the scalar formula's order
    rng = random.Random(5)
    start = [rng.gauss(0, 1) for _ in range(300)]
    params = [Value(x) for x in start]
    optimizer = nn.Adam(params, lr=0.01, betas=betas, weight_decay=weight_decay)
    expected, m, v = list(start), [0.0] * 300, [0.0] * 300
    (beta1, beta2), weight = betas, 1 - betas[0]
    for t in range(1, 11):
        grads = [rng.choice([rng.gauss(0, 1), 0.0, rng.gauss(0, 1e6)]) for _ in params]
        for p, g in zip(params, grads):
            p.grad = g
        optimizer.step()
        for i, g in enumerate(grads):
            g = g + weight_decay * expected[i] if weight_decay else g
            m[i] = m[i] + weight * (g - m[i]) if weight < 0.5 else g - (g - m[i]) * (1.0 - weight)
            v[i] = v[i] * beta2 + (1.0 - beta2) * g * g
            step_size, correction = 0.01 / (1.0 - beta1**t), math.sqrt(1.0 - beta2**t)
            expected[i] = expected[i] + -step_size * (m[i] / (math.sqrt(v[i]) / correction + 1e-8))
        assert [p.data for p in params] == expected


def test_adam_weight_decay_adds_to_the_gradient() -> None:
    p = Value(1.0)
    optimizer = nn.Adam([p], lr=0.1, weight_decay=0.5)
    ours = []
    for _ in range(5):
        square_gradient(p)
        optimizer.step()
        ours.append(p.data)
    assert ours == pytest.approx(textbook_adam(1.0, lambda x: 2 * x + 0.5 * x, 0.1, 0.9, 0.999, 1e-8, 5), rel=1e-12)


@pytest.mark.parametrize("make", [lambda ps: nn.SGD(ps, lr=0.1), lambda ps: nn.Adam(ps, lr=0.1)])
def test_lr_can_change_between_steps(make) -> None:  # type: ignore[no-untyped-def]
    p = Value(1.0)
    optimizer = make([p])
    p.grad = 1.0
    optimizer.lr = 0.0
    optimizer.step()
    assert p.data == 1.0
    optimizer.lr = 0.5
    optimizer.step()
    assert p.data < 1.0


def test_zero_grad_and_minimising_a_quadratic() -> None:
    params = [Value(3.0), Value(-2.0)]
    for optimizer in (nn.SGD(params, lr=0.1, momentum=0.5), nn.Adam(params, lr=0.1)):
        params[0].data, params[1].data = 3.0, -2.0
        for _ in range(300):
            optimizer.zero_grad()
            ((params[0] - 1) ** 2 + (params[1] + 0.5) ** 2).backward()
            optimizer.step()
        assert params[0].data == pytest.approx(1.0, abs=1e-3)
        assert params[1].data == pytest.approx(-0.5, abs=1e-3)
        optimizer.zero_grad()
        assert [p.grad for p in params] == [0.0, 0.0]


def test_optimizers_take_model_parameters() -> None:
    model = nn.MLP(2, [2, 1])
    optimizer = nn.SGD(model.parameters(), lr=0.1)
    assert optimizer.params == model.parameters()
    assert "SGD(lr=0.1" in repr(optimizer) and "9 parameters" in repr(optimizer)


def test_bad_arguments_say_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="empty list of parameters"):
        nn.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 must be a Value; got float"):
        nn.SGD([Value(1.0), 2.0], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="takes a list of parameters"):
        nn.Adam(Value(1.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="more than once"):
        shared = Value(1.0)
        nn.SGD([shared, shared], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0; got -0.1"):
        nn.SGD([Value(1.0)], lr=-0.1)
    with pytest.raises(ValueError, match="momentum must be a finite number >= 0"):
        nn.SGD([Value(1.0)], lr=0.1, momentum=math.nan)
    with pytest.raises(ValueError, match=r"each beta must be in \[0, 1\)"):
        nn.Adam([Value(1.0)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="betas must be a pair"):
        nn.Adam([Value(1.0)], betas=0.9)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [lambda ps: nn.SGD(ps, lr=0.1), lambda ps: nn.Adam(ps, lr=0.1)])
def test_a_bad_learning_rate_set_between_steps_is_refused_and_changes_nothing(make) -> None:
    optimizer = make([Value(1.0)])
    for bad in (-0.1, float("nan"), "0.1", None, True):
        with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
            optimizer.lr = bad
        assert optimizer.lr == 0.1
    optimizer.lr = 0.05
    assert optimizer.lr == 0.05


@pytest.mark.parametrize("eps", [0, 0.0, -1e-8, math.nan, math.inf, "1e-8", None])
def test_adam_refuses_an_eps_that_is_not_positive(eps: object) -> None:
    with pytest.raises(ValueError, match=f"Adam: eps must be a finite number > 0, such as the default 1e-8; got {eps!r}"):
        nn.Adam([Value(1.0)], eps=eps)  # type: ignore[arg-type]


OPTIMIZERS = {
    "sgd": lambda ps: nn.SGD(ps, lr=0.1),
    "sgd momentum": lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda ps: nn.Adam(ps, lr=0.1, weight_decay=0.01),
}


def state_of(optimizer: nn.Optimizer) -> dict:
    return {k: (list(v) if isinstance(v, (list, np.ndarray)) else v) for k, v in vars(optimizer).items() if k != "params"}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize(
    ("bad_grad", "error", "message"),
    [
        (None, TypeError, "parameter 2's gradient is NoneType None, not a number; nothing was updated"),
        ("0.5", TypeError, "parameter 2's gradient is str '0.5', not a number"),
        (10**400, OverflowError, "parameter 2's gradient is an integer too large for a float; nothing was updated"),
    ],
    ids=["None", "text", "10**400"],
)
def test_a_step_that_fails_midway_changes_nothing(name: str, bad_grad: object, error: type, message: str) -> None:
    params = [Value(1.0), Value(-2.0), Value(0.5), Value(3.0)]
    reference = [Value(p.data) for p in params]
    optimizer, twin = OPTIMIZERS[name](params), OPTIMIZERS[name](reference)
    for ps, opt in ((params, optimizer), (reference, twin)):  # one good step, so that momentum and moments are set
        for p in ps:
            p.grad = p.data
        opt.step()
    data, state = [p.data for p in params], state_of(optimizer)
    for p, g in zip(params, (0.1, 0.2, bad_grad, 0.4)):
        p.grad = g
    with pytest.raises(error, match=message):
        optimizer.step()
    assert [p.data for p in params] == data  # parameters 0 and 1 come first, and were not updated either
    assert state_of(optimizer) == state  # nor the step count, momentum buffers or moments
    params[2].grad = 0.3
    for p, g in zip(reference, (0.1, 0.2, 0.3, 0.4)):
        p.grad = g
    optimizer.step()
    twin.step()
    assert [p.data for p in params] == [p.data for p in reference]  # as if the failed step never happened
