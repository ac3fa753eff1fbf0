"""Losses: values and gradients by hand and by central differences, reductions, shapes, bad input."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import autograd
import nn
from autograd import Value


def grads(values: list[Value]) -> list[float]:
    return [v.grad for v in values]


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# --- values and gradients by hand ---------------------------------------------------------


def test_mse_by_hand() -> None:
    p = [Value(0.5), Value(2.0), Value(-1.0)]
    loss = nn.mse_loss(p, [1.0, 2.0, 1.0])
    assert loss.op == "mean"
    assert loss.data == pytest.approx((0.25 + 0 + 4) / 3, rel=1e-15)
    loss.backward()
    assert grads(p) == pytest.approx([2 * -0.5 / 3, 0.0, 2 * -2.0 / 3], rel=1e-15)
    total = nn.mse_loss([Value(0.5), Value(2.0), Value(-1.0)], [1.0, 2.0, 1.0], reduction="sum")
    assert total.op == "sum" and total.data == pytest.approx(4.25, rel=1e-15)


def test_l1_by_hand() -> None:
    p = [Value(0.5), Value(3.0), Value(1.0)]
    loss = nn.l1_loss(p, np.array([1.0, 2.0, 1.0]))
    assert loss.data == pytest.approx(1.5 / 3, rel=1e-15)
    loss.backward()
    assert grads(p) == [-1 / 3, 1 / 3, 0.0]  # abs'(0) = 0


def test_bce_by_hand() -> None:
    p = [Value(0.8), Value(0.3), Value(0.6)]
    t = [1, 0, 0.25]
    loss = nn.bce_loss(p, t)
    expected = [-math.log(0.8), -math.log(0.7), -(0.25 * math.log(0.6) + 0.75 * math.log(0.4))]
    assert loss.data == pytest.approx(sum(expected) / 3, rel=1e-14)
    loss.backward()
    # d/dp = (p - t) / (p (1 - p)), over n
    assert grads(p) == pytest.approx([(pi.data - ti) / (pi.data * (1 - pi.data)) / 3 for pi, ti in zip(p, t)], rel=1e-12)


def test_bce_clamps_so_log_never_sees_zero() -> None:
    certain_wrong = Value(0.0)
    loss = nn.bce_loss(certain_wrong, 1)
    assert math.isfinite(loss.data) and loss.data == pytest.approx(-math.log(1e-12))
    loss.backward()
    assert certain_wrong.grad == 0.0  # a clamped probability gets no gradient
    assert math.isfinite(nn.bce_loss(Value(1.0), 0).data)
    assert nn.bce_loss(Value(1.0), 1).data == pytest.approx(0.0, abs=1e-11)
    # probabilities a sigmoid saturates to exactly 0 or 1
    assert math.isfinite(nn.bce_loss([Value(-800.0).sigmoid(), Value(800.0).sigmoid()], [1, 0]).data)


def test_bce_with_logits_is_stable_and_its_gradient_is_sigmoid_minus_t() -> None:
    z = [Value(2.0), Value(-1.0), Value(800.0), Value(-800.0)]
    t = [1, 0.5, 0, 1]
    loss = nn.bce_with_logits(z, t, reduction="sum")
    assert math.isfinite(loss.data)
    assert loss.data == pytest.approx(math.log1p(math.exp(-2.0)) + (math.log1p(math.exp(-1.0)) + 0.5) + 800 + 800, rel=1e-12)
    loss.backward()
    assert grads(z) == pytest.approx([sigmoid(2.0) - 1, sigmoid(-1.0) - 0.5, 1.0, -1.0], rel=1e-12)
    # equal to bce_loss of the sigmoid where both are finite
    assert nn.bce_with_logits(Value(0.3), 1).data == pytest.approx(nn.bce_loss(Value(0.3).sigmoid(), 1).data, rel=1e-13)


def test_cross_entropy_gradient_is_p_minus_y() -> None:
    logits = [Value(2.0), Value(1.0), Value(0.1)]
    loss = nn.cross_entropy(logits, 0)
    denominator = sum(math.exp(v.data) for v in logits)
    p = [math.exp(v.data) / denominator for v in logits]
    assert loss.data == pytest.approx(-math.log(p[0]), rel=1e-14)
    loss.backward()
    assert grads(logits) == pytest.approx([p[0] - 1, p[1], p[2]], rel=1e-12)


def test_cross_entropy_batch_and_stability() -> None:
    rows = [[Value(1.0), Value(2.0)], [Value(1000.0), Value(-1000.0)]]
    loss = nn.cross_entropy(rows, [1, 1])
    assert loss.data == pytest.approx((math.log1p(math.exp(-1.0)) + 2000.0) / 2, rel=1e-14)
    loss.backward()
    assert grads(rows[1]) == pytest.approx([0.5, -0.5])
    assert nn.cross_entropy(np.array([[0.0, 0.0]]), np.array([0])).data == pytest.approx(math.log(2))


def test_hinge_is_micrograds_max_margin() -> None:
    scores = [Value(0.5), Value(-2.0), Value(3.0)]
    loss = nn.hinge_loss(scores, [1, 1, -1])
    assert loss.data == pytest.approx((0.5 + 3.0 + 4.0) / 3, rel=1e-15)
    loss.backward()
    assert grads(scores) == pytest.approx([-1 / 3, -1 / 3, 1 / 3])
    beyond_margin = Value(1.5)
    nn.hinge_loss(beyond_margin, 1).backward()
    assert beyond_margin.grad == 0.0


# --- central differences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "targets", "points"),
    [
        (nn.mse_loss, [0.5, -1.0, 2.0], [0.1, 0.7, -0.4]),
        (nn.l1_loss, [0.5, -1.0, 2.0], [0.1, 0.7, -0.4]),
        (nn.bce_loss, [1.0, 0.0, 0.3], [0.2, 0.6, 0.9]),
        (nn.bce_with_logits, [1.0, 0.0, 0.3], [1.2, -0.6, 3.0]),
        (nn.hinge_loss, [1, -1, 1], [0.2, -0.3, 2.0]),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_gradients_match_central_differences(loss, targets, points, reduction) -> None:  # type: ignore[no-untyped-def]
    assert autograd.gradcheck(lambda *p: loss(list(p), targets, reduction=reduction), points)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_central_differences(reduction: str) -> None:
    assert autograd.gradcheck(
        lambda a, b, c, d, e, f: nn.cross_entropy([[a, b, c], [d, e, f]], [2, 0], reduction=reduction),
        [0.3, -1.2, 2.0, 0.5, 0.5, -3.0],
    )


def test_targets_may_be_values_and_get_gradients() -> None:
    target = Value(0.25)
    assert autograd.gradcheck(lambda p, t: nn.bce_loss(p, t), [0.6, 0.25])
    nn.mse_loss(Value(1.0), target).backward()
    assert target.grad == pytest.approx(-1.5)


# --- shapes and reductions ----------------------------------------------------------------


def test_single_values_give_their_own_term() -> None:
    p = Value(3.0)
    loss = nn.mse_loss(p, 1.0)
    assert loss.op == "pow" and loss.data == 4.0
    assert nn.mse_loss(p, np.float64(1.0)).data == 4.0
    assert nn.mse_loss(p, np.array(1.0)).data == 4.0


def test_nested_outputs_are_flattened_as_for_several_outputs() -> None:
    outputs = [[Value(1.0), Value(0.0)], [Value(0.5), Value(0.5)]]
    loss = nn.mse_loss(outputs, np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert loss.data == pytest.approx(0.5 / 4)


def test_mean_is_sum_over_n() -> None:
    p, t = [0.3, 0.9, -0.2, 1.4], [0.0, 1.0, 1.0, 0.0]
    for loss in (nn.mse_loss, nn.l1_loss, nn.bce_with_logits):
        mean = loss([Value(x) for x in p], t)
        total = loss([Value(x) for x in p], t, reduction="sum")
        assert mean.data == pytest.approx(total.data / 4, rel=1e-15)


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_says_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="unknown reduction 'avg'; accepted: mean, sum"):
        nn.mse_loss(Value(1.0), 1.0, reduction="avg")
    with pytest.raises(ValueError, match="got 2 predictions and 3 targets"):
        nn.l1_loss([Value(1.0), Value(2.0)], [1, 2, 3])
    with pytest.raises(ValueError, match="no predictions"):
        nn.mse_loss([], [])
    with pytest.raises(TypeError, match="predictions must be a Value, a number or a list of them; got dict"):
        nn.mse_loss({}, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]; the prediction at index 1 is 1.5.*bce_with_logits"):
        nn.bce_loss([Value(0.5), Value(1.5)], [1, 0])
    with pytest.raises(ValueError, match="targets in \\[0, 1\\]; the target at index 0 is -1.0"):
        nn.bce_loss(Value(0.5), -1)
    with pytest.raises(ValueError, match="labels -1 or \\+1; the target at index 1 is 0.0.*2·y - 1"):
        nn.hinge_loss([Value(0.5), Value(1.5)], [1, 0])
    with pytest.raises(ValueError, match="target class 3 is out of range for 3 logits \\(classes 0..2\\); a model for k classes needs k outputs"):
        nn.cross_entropy([Value(1.0), Value(2.0), Value(3.0)], 3)
    with pytest.raises(TypeError, match="class index"):
        nn.cross_entropy([Value(1.0), Value(2.0)], 0.5)
    with pytest.raises(ValueError, match="2 samples of logits and 1 targets"):
        nn.cross_entropy([[Value(1.0)], [Value(2.0)]], [0])


def test_losses_by_name() -> None:
    assert set(nn.LOSSES) == {"mse", "l1", "bce", "bce_with_logits", "cross_entropy", "hinge"}
    assert nn.LOSSES["hinge"] is nn.hinge_loss


# --- errors that name the real cause ------------------------------------------------------------


def test_a_target_out_of_range_is_named_by_its_index() -> None:
    with pytest.raises(ValueError, match="^bce_loss takes targets in \\[0, 1\\]; the target at index 0 is 2.0$"):
        nn.bce_loss(Value(0.5), 2)


def three_class_data() -> tuple[list[list[float]], list[int]]:
    rng = random.Random(0)
    return [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(60)], [i % 3 for i in range(60)]


def test_cross_entropy_with_a_one_output_model_says_it_needs_one_output_per_class() -> None:
    X, y = three_class_data()
    model = nn.MLP(2, [4, 1], rng=random.Random(0))
    before = [p.data for p in model.parameters()]
    with pytest.raises(
        ValueError,
        match=r"cross_entropy: got 60 single scores for 60 targets: the model has 1 output per sample, but cross_entropy "
        r"needs one output \(a logit\) per class \(3 here, for targets 0..2\); give the model's last layer 3 outputs, "
        r"as in nn.MLP\(nin, \[16, 3\]\)",
    ):
        nn.fit(model, X, y, loss="cross_entropy", epochs=1, progress=False)
    assert [p.data for p in model.parameters()] == before
    with pytest.raises(ValueError, match="out of range for 2 logits .* a model for k classes needs k outputs"):
        nn.fit(nn.MLP(2, [4, 2], rng=random.Random(0)), X, y, loss="cross_entropy", epochs=1, progress=False)
    with pytest.raises(TypeError, match="one sample's list of 3 scores, so target must be one class index; got a list of 2"):
        nn.cross_entropy([Value(1.0), Value(2.0), Value(3.0)], [0, 1])


def test_bce_with_a_three_output_model_says_the_model_gives_three_outputs_per_sample() -> None:
    X, y = three_class_data()
    model = nn.MLP(2, [4, 3], output_activation="sigmoid", rng=random.Random(0))
    with pytest.raises(
        ValueError,
        match=r"^bce_loss: the model gives 3 outputs per sample, but each of the 60 samples has 1 target; the loss pairs "
        r"each output with one target: give the model 1 output \(or each sample 3 targets\)$",
    ):
        nn.fit(model, X, [t % 2 for t in y], loss="bce", epochs=1, progress=False)
    with pytest.raises(ValueError, match="the model gives 1 output per sample, but each of the 2 samples has 3 targets"):
        nn.mse_loss([Value(1.0), Value(2.0)], np.zeros((2, 3)))
