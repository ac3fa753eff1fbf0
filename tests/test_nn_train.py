"""nn.fit: learns XOR, matches a hand-written loop, batches, seeds, History, bad input.

Callbacks, interrupts, progress reports and the collector: tests/test_nn_fit_hooks.py."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import nn

XOR_X = [[0, 0], [0, 1], [1, 0], [1, 1]]
XOR_Y = [0, 1, 1, 0]


def xor_model(seed: int) -> nn.MLP:
    return nn.MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", rng=random.Random(seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_small_mlp_learns_xor_to_full_accuracy(seed: int) -> None:
    model = xor_model(seed)
    history = nn.fit(model, np.array(XOR_X), np.array(XOR_Y), loss="bce", optimizer="adam", lr=0.1, epochs=200, progress=False)
    assert history.accuracy[-1] == 1.0
    assert history.loss[-1] < 0.05 < history.loss[0]
    assert [int(model(x).data > 0.5) for x in XOR_X] == XOR_Y  # the trained model itself, not just the history


def test_xor_with_the_max_margin_loss_and_sgd() -> None:
    model = nn.MLP(2, [8, 1], rng=random.Random(0))
    history = nn.fit(model, XOR_X, [-1, 1, 1, -1], loss="hinge", optimizer=nn.SGD(model.parameters(), lr=0.1),
                     epochs=200, progress=False)
    assert history.accuracy[-1] == 1.0
    assert [model(x).data > 0 for x in XOR_X] == [False, True, True, False]


def test_full_batch_fit_is_the_hand_written_loop() -> None:
    X, y = np.array([[0.5, -1.0], [1.5, 2.0], [-0.3, 0.1]]), np.array([0.2, -0.4, 1.0])
    fitted, manual = nn.MLP(2, [3, 1], rng=random.Random(4)), nn.MLP(2, [3, 1], rng=random.Random(4))
    history = nn.fit(fitted, X, y, loss="mse", optimizer="sgd", lr=0.05, epochs=5, progress=False)
    optimizer = nn.SGD(manual.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        loss = nn.mse_loss([manual(row) for row in X], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.data)
    assert history.loss == losses
    assert fitted.state_dict() == manual.state_dict()
    assert all(math.isnan(a) for a in history.accuracy)  # regression targets: no accuracy


class CountingSGD(nn.SGD):
    steps = 0

    def step(self) -> None:
        self.steps += 1
        super().step()


def test_mini_batches_and_seeded_shuffling() -> None:
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = (X[:, 0] > 0).astype(int)
    model = nn.MLP(2, [3, 1], output_activation="sigmoid", rng=random.Random(0))
    optimizer = CountingSGD(model.parameters(), lr=0.1)
    random.seed(123)
    global_state, numpy_state = random.getstate(), np.random.get_state()
    history = nn.fit(model, X, y, loss="bce", optimizer=optimizer, epochs=3, batch_size=4, seed=7, progress=False)
    assert optimizer.steps == 3 * 3  # batches of 4, 4 and 2
    assert len(history.loss) == len(history.accuracy) == len(history) == 3
    assert random.getstate() == global_state  # the shuffling has its own generator
    assert str(np.random.get_state()) == str(numpy_state)

    def run(seed: int) -> list[float]:
        again = nn.MLP(2, [3, 1], output_activation="sigmoid", rng=random.Random(0))
        return nn.fit(again, X, y, loss="bce", optimizer="sgd", epochs=3, batch_size=4, seed=seed, progress=False).loss

    assert run(7) == run(7) == history.loss
    assert run(7) != run(8)


def test_epoch_loss_is_the_mean_over_samples_and_accuracy_counts_predictions() -> None:
    # lr 0: nothing changes, so every epoch sees the same predictions
    model = nn.MLP(1, [1], activation="linear", output_activation="linear", rng=random.Random(0))
    model.load_state_dict({"layers.0.neurons.0.w.0": 1.0, "layers.0.neurons.0.b": 0.0})
    X, y = [[2.0], [-0.5], [0.5], [-3.0]], [1, 1, -1, -1]
    history = nn.fit(model, X, y, loss="hinge", optimizer="sgd", lr=0.0, epochs=2, batch_size=3, progress=False)
    # relu(1 - y·x): 0, 1.5, 1.5, 0 -> mean 0.75; right: x > 0 == y > 0 for samples 0 and 3
    assert history.loss == [pytest.approx(0.75), pytest.approx(0.75)]
    assert history.accuracy == [0.5, 0.5]


def test_cross_entropy_on_three_classes() -> None:
    rng = np.random.default_rng(1)
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = np.repeat([0, 1, 2], 10)
    X = centers[y] + rng.normal(scale=0.3, size=(30, 2))
    model = nn.MLP(2, [8, 3], rng=random.Random(0))
    history = nn.fit(model, X, y, loss="cross_entropy", optimizer="adam", lr=0.05, epochs=40, progress=False)
    assert history.accuracy[-1] == 1.0
    assert history["loss"][-1] < history["loss"][0]


def test_a_callable_loss_and_one_hot_targets() -> None:
    model = nn.MLP(2, [4, 2], activation="tanh", output_activation="sigmoid", rng=random.Random(3))
    targets = [[1, 0], [0, 1], [0, 1], [1, 0]]
    with pytest.warns(nn.NotCompiledWarning, match="the loss is a callable over the batch"):
        history = nn.fit(model, XOR_X, targets, loss=lambda out, t: nn.mse_loss(out, t, reduction="sum"),
                         optimizer="adam", lr=0.1, epochs=150, progress=False)
    assert history.accuracy[-1] == 1.0  # argmax of the outputs against the one-hot targets


def test_history_reads_like_a_mapping() -> None:
    history = nn.History(loss=[1.0, 0.5], accuracy=[0.5, 1.0])
    assert history["loss"] is history.loss and history["accuracy"] is history.accuracy
    assert dict((key, history[key]) for key in history.keys()) == {"loss": [1.0, 0.5], "accuracy": [0.5, 1.0]}
    with pytest.raises(KeyError, match="'loss' and 'accuracy'; got 'acc'"):
        history["acc"]


def test_zero_epochs_train_nothing() -> None:
    model = xor_model(0)
    before = model.state_dict()
    history = nn.fit(model, XOR_X, XOR_Y, epochs=0, progress=False)
    assert history.loss == [] and model.state_dict() == before


def test_bad_arguments_say_what_is_accepted() -> None:
    model = xor_model(0)
    with pytest.raises(ValueError, match="X has 4 samples but y has 3 targets"):
        nn.fit(model, XOR_X, [0, 1, 1], progress=False)
    with pytest.raises(ValueError, match="unknown loss 'cross-entropy'; accepted: mse, l1, bce, bce_with_logits, cross_entropy, hinge"):
        nn.fit(model, XOR_X, XOR_Y, loss="cross-entropy", progress=False)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; accepted: sgd, adam"):
        nn.fit(model, XOR_X, XOR_Y, optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match="epochs must be an int >= 0; got -1"):
        nn.fit(model, XOR_X, XOR_Y, epochs=-1, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive int or None"):
        nn.fit(model, XOR_X, XOR_Y, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="lr is for an optimizer given by name"):
        nn.fit(model, XOR_X, XOR_Y, optimizer=nn.SGD(model.parameters(), lr=0.1), lr=0.5, progress=False)
    with pytest.raises(ValueError, match="X and y are empty"):
        nn.fit(model, [], [], progress=False)
    with pytest.raises(TypeError, match="the loss must return a Value; got float"):
        nn.fit(model, XOR_X, XOR_Y, loss=lambda out, t: 1.0, progress=False, compiled=False)
