"""nn on autograd.compile: fit's compiled steps equal the eager loop's, the fallback and its reasons,
Module.predict, and every loss's graph keeping one structure whatever the data."""

from __future__ import annotations

import copy
import io
import math
import pickle
import random
import re
import sys
import warnings

import numpy as np
import pytest

import autograd
import nn
from autograd import Value

RTOL = 1e-12


def moons(n: int = 40, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return nn.data.make_moons(n_samples=n, noise=0.1, seed=seed)


def three_classes(n: int = 45, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 2)) * 0.6 + np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])[y]
    return X, y


# loss name, output activation, outputs, targets of the moons labels y
CASES = {
    "mse": ("linear", 1, lambda X, y: X[:, 0] - 0.5 * X[:, 1]),
    "mse, two outputs": ("tanh", 2, lambda X, y: np.column_stack([np.sin(X[:, 0]), y])),
    "l1": ("linear", 1, lambda X, y: X[:, 0] * X[:, 1]),
    "bce": ("sigmoid", 1, lambda X, y: y),
    "bce, soft labels": ("sigmoid", 1, lambda X, y: 0.1 + 0.8 * y),
    "bce_with_logits": ("linear", 1, lambda X, y: y),
    "cross_entropy": ("linear", 3, None),
    "hinge": ("linear", 1, lambda X, y: 2 * y - 1),
}


def data_for(case: str) -> tuple[np.ndarray, np.ndarray]:
    if case == "cross_entropy":
        return three_classes()
    X, y = moons()
    return X, CASES[case][2](X, y)  # type: ignore[misc]


def run(case: str, compiled: bool, batch_size: int | None, optimizer: str = "adam", **kwargs):  # type: ignore[no-untyped-def]
    activation, outputs, _ = CASES[case]
    X, y = data_for(case)
    model = nn.MLP(2, [6, outputs], activation="tanh", output_activation=activation, rng=random.Random(3))
    history = nn.fit(model, X, y, loss=case.split(",")[0], optimizer=optimizer, lr=0.05, epochs=4,
                     batch_size=batch_size, seed=7, progress=False, compiled=compiled, **kwargs)
    return history, model


def close(a: list[float], b: list[float]) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=RTOL))


# --- fit: compiled equals eager ---------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 8])
@pytest.mark.parametrize("case", list(CASES))
def test_compiled_fit_equals_eager_fit(case: str, batch_size: int | None) -> None:
    (eager, eager_model), (fast, fast_model) = run(case, False, batch_size), run(case, True, batch_size)
    assert not eager.compiled and fast.compiled
    assert len(fast) == len(eager) == 4
    assert close(fast.loss, eager.loss)
    assert fast.accuracy == eager.accuracy or (math.isnan(fast.accuracy[0]) and math.isnan(eager.accuracy[0]))
    before = nn.MLP(2, [6, CASES[case][1]], rng=random.Random(3)).state_dict()
    assert fast_model.state_dict() != before  # it trained
    assert close(list(fast_model.state_dict().values()), list(eager_model.state_dict().values()))
    assert fast.description == eager.description


def test_digits_compiled_equals_eager() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X, y = digits.data[:200] / 16.0, digits.target[:200]
    runs = []
    for compiled in (True, False):
        model = nn.MLP(64, [16, 10], init="he", rng=random.Random(0))
        history = nn.fit(model, X, y, loss="cross_entropy", optimizer=nn.Adam(model.parameters(), lr=0.01), epochs=2,
                         batch_size=32, seed=0, progress=False, compiled=compiled)
        runs.append((history, np.array(list(model.state_dict().values()))))
    (fast, w_fast), (eager, w_eager) = runs
    assert fast.compiled and close(fast.loss, eager.loss) and fast.accuracy == eager.accuracy
    assert fast.accuracy[-1] > fast.accuracy[0] + 0.2  # it learns
    # Adam divides by √v: a weight with tiny gradients may move by a few ulps of its step, so relative to 1e-3
    assert np.all(np.abs(w_fast - w_eager) <= RTOL * np.maximum(np.abs(w_eager), 1e-3))


def test_compiled_is_the_default_for_a_named_loss_and_sgd_with_momentum() -> None:
    X, y = moons()
    models = [nn.MLP(2, [5, 1], rng=random.Random(0)) for _ in range(2)]
    histories = [
        nn.fit(m, X, 2 * y - 1, loss="hinge", optimizer=nn.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3),
               epochs=3, batch_size=16, seed=2, progress=False, compiled=c)
        for m, c in zip(models, (None, False))
    ]
    assert histories[0].compiled and not histories[1].compiled
    assert close(histories[0].loss, histories[1].loss)
    assert close(list(models[0].state_dict().values()), list(models[1].state_dict().values()))


def test_a_plain_function_as_the_model_and_one_input_per_sample() -> None:
    x = np.linspace(-1.0, 1.0, 21)  # 1-D: one input per sample
    runs = []
    for compiled in (True, False):
        w, b = Value(0.3), Value(-0.2)
        history = nn.fit(lambda row, w=w, b=b: (w * row[0] + b).tanh(), x, 0.5 * x + 0.1, loss="mse",
                         optimizer=nn.SGD([w, b], lr=0.2), epochs=5, batch_size=4, seed=1, progress=False, compiled=compiled)
        assert history.compiled == compiled
        runs.append((history.loss, [w.data, b.data]))
    assert close(runs[0][0], runs[1][0]) and close(runs[0][1], runs[1][1])
    assert runs[0][1] != [0.3, -0.2]


def test_callbacks_see_the_same_steps_and_a_schedule_sets_the_same_rates() -> None:
    seen: dict[bool, list[tuple]] = {True: [], False: []}

    class Record(nn.Callback):
        def __init__(self, key: bool) -> None:
            self.key = key

        def on_step_begin(self, state: nn.FitState) -> None:
            seen[self.key].append(("begin", state.epoch, state.step, state.batch_size, state.optimizer.lr))

        def on_step_end(self, state: nn.FitState) -> None:
            seen[self.key].append(("end", state.step, state.loss, state.epoch_loss, state.epoch_accuracy))

        def on_epoch_end(self, state: nn.FitState) -> None:
            seen[self.key].append(("epoch", state.epoch, state.history.loss[-1]))

    for compiled in (True, False):
        run("bce", compiled, 12, optimizer="sgd", callbacks=[nn.LRSchedule(lambda k: 0.5 / (1 + k)), Record(compiled)])
    fast, eager = seen[True], seen[False]
    assert len(fast) == len(eager) == 4 * (4 * 2 + 1)  # 40 samples in batches of 12: 4 steps an epoch
    for a, b in zip(fast, eager):
        assert a[:2] == b[:2] and close([x for x in a[2:] if isinstance(x, float)], [x for x in b[2:] if isinstance(x, float)])
        assert [x for x in a if isinstance(x, int)] == [x for x in b if isinstance(x, int)]


def test_the_progress_report_says_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    X, y = moons()
    nn.fit(nn.MLP(2, [4, 1], rng=random.Random(0)), X, 2 * y - 1, loss="hinge", epochs=2)
    nn.fit(nn.MLP(2, [4, 1], rng=random.Random(0)), X, 2 * y - 1, loss="hinge", epochs=2, compiled=False)
    lines = log.getvalue().splitlines()
    assert [re.match(r"(fit( · compiled)?): epoch", line).group(1) for line in lines] == ["fit · compiled"] * 2 + ["fit"] * 2


def test_an_interrupt_keeps_the_steps_made_and_leaves_gradients_at_zero() -> None:
    class InterruptAt(nn.Callback):
        def on_step_end(self, state: nn.FitState) -> None:
            if state.step == 5:
                raise KeyboardInterrupt

    results = []
    for compiled in (True, False):
        history, model = run("cross_entropy", compiled, 16, callbacks=[InterruptAt()])
        assert history.interrupted and len(history) == 1  # 45 samples in batches of 16: step 5 is in epoch 2
        assert all(p.grad == 0.0 for p in model.parameters())
        results.append(list(model.state_dict().values()))
    assert close(results[0], results[1])


# --- fit: when it does not compile --------------------------------------------------------------------


class Branchy(nn.Module):
    """A model whose graph depends on the data: a Python if on an input's value."""

    def __init__(self) -> None:
        self.nin = 2
        self.w = [Value(0.5), Value(-0.3)]

    def __call__(self, x):  # type: ignore[no-untyped-def]
        z = self.w[0] * x[0] + self.w[1] * x[1]
        return z.tanh() if float(x[0]) > 0 else z.sigmoid()


def test_a_callable_loss_runs_eagerly_and_says_why() -> None:
    X, y = moons()
    labels = (2 * y - 1).tolist()

    def loss(scores, targets):  # type: ignore[no-untyped-def]
        return nn.hinge_loss(scores, targets)

    with pytest.warns(nn.NotCompiledWarning, match="fit: running eagerly .* the loss is a callable over the batch") as caught:
        history = nn.fit(nn.MLP(2, [4, 1], rng=random.Random(0)), X, labels, loss=loss, epochs=2, progress=False)
    assert caught[0].filename == __file__
    assert not history.compiled
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.fit(nn.MLP(2, [4, 1], rng=random.Random(0)), X, labels, loss=loss, epochs=2, progress=False, compiled=False)
    with pytest.raises(autograd.CompileError, match=r"fit\(compiled=True\): cannot compile .* the loss is a callable"):
        nn.fit(nn.MLP(2, [4, 1], rng=random.Random(0)), X, labels, loss=loss, epochs=2, progress=False, compiled=True)


def test_a_model_that_branches_on_the_data_falls_back_with_the_compilers_reason() -> None:
    X, y = moons()
    X = X - X.mean(axis=0)  # inputs on both sides of 0
    X[0, 0], X[1, 0] = 0.5, -0.5  # from the first two samples on, where a compiler may look
    runs = []
    for compiled in (None, False):
        model = Branchy()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = nn.fit(model, X, y, loss="mse", optimizer="sgd", lr=0.1, epochs=3, progress=False, compiled=compiled)
        runs.append((history.loss, model.state_dict(), [str(w.message) for w in caught if w.category is nn.NotCompiledWarning]))
    (loss, state, said), (eager_loss, eager_state, eager_said) = runs
    assert loss == eager_loss and state == eager_state  # the fallback is the eager loop itself
    assert eager_said == [] and len(said) == 1 and said[0].startswith("fit: running eagerly (not compiled): ")
    with pytest.raises(autograd.CompileError, match=r"fit\(compiled=True\): cannot compile"):
        nn.fit(Branchy(), X, y, loss="mse", optimizer="sgd", epochs=1, progress=False, compiled=True)


def test_a_compile_error_in_a_later_step_switches_to_eager_for_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    real = autograd.compile

    class FailsAtStep3:  # a compiled step whose third batch would need a new trace, which fails
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            self.step, self.calls = real(*args, **kwargs), 0

        def trace(self, *batches):  # type: ignore[no-untyped-def]
            return self.step.trace(*batches)

        def training(self, *optimizers):  # type: ignore[no-untyped-def]
            return self.step.training(*optimizers)  # fit's steps hold the parameters in the step's arrays

        def backward(self, *batches):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 3:
                raise autograd.CompileError("compile(): a retrace failed (a test's stand-in)")
            loss = self.step.backward(*batches)
            self.extra = self.step.extra
            return loss

    eager, eager_model = run("hinge", False, 8)
    monkeypatch.setattr(autograd, "compile", FailsAtStep3)
    with pytest.warns(nn.NotCompiledWarning, match=r"fit: running eagerly \(not compiled\): compile\(\): a retrace failed"):
        fast, fast_model = run("hinge", None, 8)
    assert not fast.compiled  # it ended eager
    assert close(fast.loss, eager.loss)
    assert close(list(fast_model.state_dict().values()), list(eager_model.state_dict().values()))
    with pytest.raises(autograd.CompileError, match="a retrace failed"):
        run("hinge", True, 8)  # compiled=True: no switching


def test_bad_labels_and_predictions_get_the_losses_errors_before_any_step() -> None:
    X, y = moons()
    model = nn.MLP(2, [4, 1], rng=random.Random(0))
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"hinge_loss takes labels -1 or \+1; the target at index \d+ is 0.0"):
        nn.fit(model, X, y, loss="hinge", progress=False)  # 0/1 labels
    with pytest.raises(ValueError, match=r"bce_loss takes targets in \[0, 1\]; the target at index \d+ is -1.0"):
        nn.fit(model, X, 2 * y - 1, loss="bce", progress=False)
    with pytest.raises(ValueError, match=r"bce_loss takes probabilities in \[0, 1\]; the prediction at index \d+ is"):
        nn.fit(model, X * 10, y, loss="bce", progress=False)  # a linear output is no probability
    with pytest.raises(ValueError, match="target class 3 is out of range for 3 logits"):
        nn.fit(nn.MLP(2, [4, 3], rng=random.Random(0)), X, y + 2, loss="cross_entropy", progress=False)
    assert model.state_dict() == before
    with pytest.raises(TypeError, match="compiled must be None .*, True or False; got 'yes'"):
        nn.fit(model, X, y, progress=False, compiled="yes")  # type: ignore[arg-type]


# --- predict ------------------------------------------------------------------------------------------


def eager_outputs(model, X):  # type: ignore[no-untyped-def]
    outs = [model(row) for row in X.tolist()]
    return np.array([[o.data for o in out] if isinstance(out, (list, tuple)) else out.data for out in outs])


@pytest.mark.parametrize(
    "model",
    [
        nn.Neuron(3, "tanh", rng=random.Random(0)),
        nn.Layer(3, 1, "sigmoid", rng=random.Random(0)),
        nn.Layer(3, 4, "relu", rng=random.Random(0)),
        nn.MLP(3, [5, 1], rng=random.Random(0)),
        nn.MLP(3, [8, 6, 10], activation="tanh", rng=random.Random(0)),
    ],
    ids=["neuron", "layer-1", "layer-4", "mlp-1", "mlp-10"],
)
@pytest.mark.parametrize("rows", [1, 2, 37])
def test_predict_is_the_eager_outputs(model: nn.Module, rows: int) -> None:
    X = np.random.default_rng(rows).normal(size=(rows, 3))
    out = model.predict(X)
    expected = eager_outputs(model, X)
    assert out.shape == expected.shape == ((rows,) if expected.ndim == 1 else (rows, expected.shape[1]))
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(model.predict(X.tolist()), expected, rtol=RTOL, atol=1e-14)  # a list of rows


def test_predict_follows_training_and_new_parameters() -> None:
    X, y = three_classes()
    model = nn.MLP(2, [6, 3], rng=random.Random(1))
    before = model.predict(X)
    nn.fit(model, X, y, loss="cross_entropy", optimizer="adam", lr=0.05, epochs=3, progress=False)
    after = model.predict(X)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, eager_outputs(model, X), rtol=RTOL, atol=1e-14)
    model.layers[1].neurons[0].b = Value(5.0)  # another Value in the model: traced again
    np.testing.assert_allclose(model.predict(X), eager_outputs(model, X), rtol=RTOL, atol=1e-14)
    assert np.all(model.predict(X)[:, 0] > after[:, 0] + 4.0)
    copied = copy.deepcopy(model)  # the cached step is not copied, and the copy predicts for itself
    copied.layers[1].neurons[0].b.data = -5.0
    np.testing.assert_allclose(copied.predict(X), eager_outputs(copied, X), rtol=RTOL, atol=1e-14)
    assert pickle.loads(pickle.dumps(model)).predict(X[:3]) == pytest.approx(model.predict(X[:3]), rel=RTOL)


class Pair(nn.Module):
    """A model that returns its two outputs as a tuple."""

    def __init__(self) -> None:
        self.nin = 2
        self.w = [Value(0.5), Value(-0.3)]

    def __call__(self, x):  # type: ignore[no-untyped-def]
        return (self.w[0] * x[0]).tanh(), self.w[1] * x[1] + 1.0


def test_a_model_giving_a_tuple_has_both_outputs() -> None:
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2]])
    model = Pair()
    np.testing.assert_allclose(model.predict(X), eager_outputs(model, X), rtol=RTOL)
    assert model.predict(X).shape == (3, 2)
    runs = []
    for compiled in (True, False):
        model = Pair()
        history = nn.fit(model, X, [[0.5, 1.0], [0.0, -1.0], [0.2, 0.2]], loss="mse", optimizer="sgd", epochs=3,
                         progress=False, compiled=compiled)
        assert history.compiled == compiled
        runs.append((history.loss, [p.data for p in model.parameters()]))
    assert close(runs[0][0], runs[1][0]) and close(runs[0][1], runs[1][1])


def test_predict_turns_eager_when_a_later_call_cannot_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    real = autograd.compile

    class FailsAtCall2:  # a compiled step whose second batch would need a new trace, which fails
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            self.step, self.calls = real(*args, **kwargs), 0

        def trace(self, *batches):  # type: ignore[no-untyped-def]
            return self.step.trace(*batches)

        def __call__(self, *batches):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 2:
                raise autograd.CompileError("compile(): a retrace failed (a test's stand-in)")
            return self.step(*batches)

    monkeypatch.setattr(autograd, "compile", FailsAtCall2)
    model, X = nn.MLP(3, [4, 2], rng=random.Random(2)), np.random.default_rng(0).normal(size=(5, 3))
    first = model.predict(X)
    with pytest.warns(nn.NotCompiledWarning, match="MLP.predict: running eagerly .*a retrace failed") as caught:
        second = model.predict(X)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = model.predict(X)  # eager from then on, without a word
    np.testing.assert_allclose(first, eager_outputs(model, X), rtol=RTOL, atol=1e-14)
    assert second.tolist() == third.tolist() == eager_outputs(model, X).tolist()


def test_predict_inside_no_grad_gives_the_same_outputs() -> None:
    model, X = nn.MLP(3, [4, 2], rng=random.Random(2)), np.random.default_rng(0).normal(size=(5, 3))
    with autograd.no_grad():
        first = model.predict(X)  # nothing to trace in no_grad: eager
    np.testing.assert_allclose(first, eager_outputs(model, X), rtol=RTOL, atol=1e-14)
    compiled = model.predict(X)
    with autograd.no_grad():
        again = model.predict(X)  # the compiled step, kept from the call outside
    np.testing.assert_allclose(again, compiled, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(compiled, first, rtol=RTOL, atol=1e-14)


def test_predict_refuses_what_is_not_a_batch_of_rows() -> None:
    model = nn.MLP(2, [3, 1], rng=random.Random(0))
    with pytest.raises(ValueError, match=r"predict takes a 2-D array of rows .*got shape \(2,\) \(for one sample use model\(x\)"):
        model.predict(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"predict takes rows of 2 inputs; got rows of 3"):
        model.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="predict got no rows"):
        model.predict(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="predict takes a 2-D array of rows"):
        model.predict(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="predict takes a 2-D array of numbers; X is not a rectangular array"):
        model.predict([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="predict takes a 2-D array of rows"):
        model.predict("rows")


def test_predict_of_a_model_that_does_not_compile_is_eager_and_says_why() -> None:
    model = Branchy()
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2]])
    with pytest.warns(nn.NotCompiledWarning, match=r"Branchy.predict: running eagerly") as caught:
        out = model.predict(X)
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert out.tolist() == eager_outputs(model, X).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not at every call
        assert model.predict(X).tolist() == out.tolist()


# --- every loss keeps one graph structure, whatever the data ------------------------------------------


def structure(root: Value) -> list[tuple]:
    """The graph as (op, operand positions, constants' positions) in a fixed order: equal for two
    graphs exactly when one tape replays both (op params such as a class index may differ)."""
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents))
    index = {id(node): i for i, node in enumerate(order)}
    return [(node.op, tuple(index[id(a)] if isinstance(a, Value) else "number" for a in node.operands)) for node in order]


PROBABILITIES = [0.0, 1e-13, 1e-12, 0.3, 1 - 1e-12, 1 - 1e-13, 1.0]


@pytest.mark.parametrize(
    ("loss", "predictions", "targets"),
    [
        (nn.mse_loss, [-2.0, 0.0, 3.5], [0.0, 1.0, -1.0]),
        (nn.l1_loss, [-2.0, 0.0, 3.5], [0.0, 0.0, -1.0]),  # abs at its kink too
        (nn.bce_loss, PROBABILITIES, [0, 1, 0.5]),
        (nn.bce_with_logits, [-800.0, 0.0, 2.0, 800.0], [0, 1, 0.25]),
        (nn.hinge_loss, [-2.0, 0.5, 1.0, 3.0], [-1, 1]),
    ],
)
@pytest.mark.parametrize("as_value", [False, True])
def test_each_loss_has_one_structure_for_every_prediction_and_target(loss, predictions, targets, as_value) -> None:  # type: ignore[no-untyped-def]
    shapes = set()
    for p in predictions:
        for t in targets:
            shapes.add(str(structure(loss(Value(p), Value(t) if as_value else t))))
    assert len(shapes) == 1


def test_cross_entropy_has_one_structure_for_every_class_and_logits() -> None:
    shapes = {
        str(structure(nn.cross_entropy([Value(a), Value(b), Value(c)], t)))
        for a, b, c in [(0.0, 0.0, 0.0), (1000.0, -1000.0, 3.0), (-2.0, 5.0, 5.0)]
        for t in range(3)
    }
    assert len(shapes) == 1


@pytest.mark.parametrize("t", [0.0, 1.0, 0.3])
def test_bce_gradient_at_and_beyond_the_clamp(t: float) -> None:
    eps = 1e-12
    for p, inside in [
        (eps, True),  # p = eps exactly: p is the maximum's first operand, not clamped
        (1 - eps, True),
        (0.5 * eps, False),  # clamped: no gradient
        (1.0, False),
        (0.25, True),
    ]:
        expected = -t / p + (1 - t) / (1 - p) if inside else 0.0  # d/dp = (p - t) / (p (1 - p)) inside
        v = Value(p)
        loss = nn.bce_loss(v, t)
        loss.backward()
        clamped = min(max(p, eps), 1 - eps)
        assert loss.data == pytest.approx(-(t * math.log(clamped) + (1 - t) * math.log(1 - clamped)), rel=1e-15)
        assert v.grad == pytest.approx(expected, rel=1e-15)
    assert autograd.gradcheck(lambda p: nn.bce_loss(p, t), [0.7])


def test_accuracy_with_a_nan_logit_counts_as_eager_counts() -> None:
    # the eager loop predicts max(range(k), key=scores.__getitem__): no comparison with nan
    # is true, so a nan logit is never picked after the first place (NumPy's argmax picks it)
    X, y = three_classes()
    histories = []
    for compiled in (True, False):
        model = nn.MLP(2, [6, 3], activation="tanh", rng=random.Random(3))
        model.layers[-1].neurons[1].b.data = math.nan  # the second logit is nan for every sample
        histories.append(nn.fit(model, X, y, loss="cross_entropy", epochs=1, progress=False, compiled=compiled))
    fast, eager = histories
    assert fast.compiled and not eager.compiled
    assert 0.0 < eager.accuracy[0] < 1.0  # the other two logits decide
    assert fast.accuracy == eager.accuracy


def test_first_largest_picks_as_python_max_does() -> None:
    from nn.compiled import _first_largest

    nan, inf = math.nan, math.inf
    rows = [[nan, 1.0, 2.0], [1.0, nan, 2.0], [2.0, nan, 1.0], [nan, nan, nan], [1.0, 1.0, 0.0], [-inf, -inf, 0.0],
            [0.0, inf, nan], [3.0, 2.0, 1.0]]  # fmt: skip
    expected = [max(range(3), key=row.__getitem__) for row in rows]
    assert _first_largest(np.array(rows)).tolist() == expected == [0, 2, 0, 0, 0, 2, 1, 0]
