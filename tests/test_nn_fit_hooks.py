"""nn.fit's callbacks and learning-rate schedule, KeyboardInterrupt, progress reports, and the collector."""

from __future__ import annotations

import gc
import io
import itertools
import random
import re
import signal
import sys

import numpy as np
import pytest

import autograd
import nn

X4 = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y4 = [-1, 1, 1, -1]


def small_model(seed: int = 0) -> nn.MLP:
    return nn.MLP(2, [4, 1], rng=random.Random(seed))


class Recorder(nn.Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_step_begin(self, state: nn.FitState) -> None:
        self.calls.append(("begin", state.epoch, state.step, state.batch_size))

    def on_step_end(self, state: nn.FitState) -> None:
        self.calls.append(("end", state.epoch, state.step, state.batch_size))

    def on_epoch_end(self, state: nn.FitState) -> None:
        self.calls.append(("epoch", state.epoch, len(state.history)))


# --- callbacks -----------------------------------------------------------------------------------


def test_hooks_run_in_order_with_the_epoch_step_and_batch() -> None:
    recorder = Recorder()
    nn.fit(small_model(), X4[:3], Y4[:3], loss="hinge", epochs=2, batch_size=2, progress=False, callbacks=[recorder])
    assert recorder.calls == [
        ("begin", 0, 0, 2), ("end", 0, 0, 2), ("begin", 0, 1, 1), ("end", 0, 1, 1), ("epoch", 0, 1),
        ("begin", 1, 2, 2), ("end", 1, 2, 2), ("begin", 1, 3, 1), ("end", 1, 3, 1), ("epoch", 1, 2),
    ]


def test_state_holds_the_batch_loss_and_the_running_epoch_figures() -> None:
    # lr 0: nothing changes, so the losses are those of the fixed model, computed here independently
    model = nn.MLP(1, [1], activation="linear", rng=random.Random(0))
    model.load_state_dict({"layers.0.neurons.0.w.0": 1.0, "layers.0.neurons.0.b": 0.0})
    X, y = [[2.0], [-0.5], [0.5], [-3.0]], [1, 1, -1, -1]  # hinge terms 0, 1.5, 1.5, 0
    seen = []

    class Watch(nn.Callback):
        def on_step_end(self, state: nn.FitState) -> None:
            seen.append((state.loss, state.epoch_loss, state.epoch_accuracy, state.steps_per_epoch, state.epochs))

    nn.fit(model, X, y, loss="hinge", optimizer="sgd", lr=0.0, epochs=1, batch_size=3, shuffle=False,
           progress=False, callbacks=[Watch()])
    assert seen == [(pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1 / 3), 2, 1),
                    (0.0, pytest.approx(0.75), 0.5, 2, 1)]


def moons_loss(model: nn.MLP):
    def loss(scores, labels):
        params = model.parameters()
        return nn.hinge_loss(scores, labels) + 1e-4 * autograd.dot(params, params)

    return loss


def test_lr_schedule_is_micrograds_hand_written_loop_bit_for_bit() -> None:
    X, y = nn.data.make_moons(n_samples=30, noise=0.1, seed=1337)
    rows, labels = X.tolist(), (2 * y - 1).tolist()

    def schedule(k: int) -> float:
        return 1.0 - 0.9 * k / 100

    fitted = nn.MLP(2, [8, 8, 1], rng=random.Random(1337))
    optimizer = nn.SGD(fitted.parameters(), lr=1.0)
    history = nn.fit(fitted, X, labels, loss=moons_loss(fitted), optimizer=optimizer, epochs=12, progress=False, compiled=False,
                     callbacks=[nn.LRSchedule(schedule)])

    manual = nn.MLP(2, [8, 8, 1], rng=random.Random(1337))
    by_hand = nn.SGD(manual.parameters(), lr=1.0)
    losses, accuracies = [], []
    for k in range(12):  # micrograd's demo loop
        scores = [manual(row) for row in rows]
        loss = moons_loss(manual)(scores, labels)
        by_hand.zero_grad()
        loss.backward()
        by_hand.lr = schedule(k)
        by_hand.step()
        losses.append(loss.data)
        accuracies.append(sum((s.data > 0) == (t > 0) for s, t in zip(scores, labels)) / len(labels))
    assert history.loss == losses  # exactly: the same arithmetic in the same order
    assert history.accuracy == accuracies
    assert fitted.state_dict() == manual.state_dict()
    assert optimizer.lr == schedule(11)
    assert history.description == "MLP 2-8-8-1, loss, SGD(lr=scheduled), full batch"


def test_a_bad_learning_rate_from_a_schedule_stops_before_its_step() -> None:
    model, reference = small_model(), small_model()
    schedule = nn.LRSchedule(lambda k: 0.1 if k < 2 else -1.0)
    with pytest.raises(ValueError, match="SGD: lr must be a finite number >= 0; got -1.0"):
        nn.fit(model, X4, Y4, loss="hinge", optimizer="sgd", epochs=5, progress=False, callbacks=[schedule])
    nn.fit(reference, X4, Y4, loss="hinge", optimizer="sgd", lr=0.1, epochs=2, progress=False)
    assert model.state_dict() == reference.state_dict()  # two whole steps, not a third


def test_stop_ends_training_after_the_epoch() -> None:
    class StopBelow(nn.Callback):
        def on_epoch_end(self, state: nn.FitState) -> None:
            state.stop = state.history.loss[-1] < 0.8

    history = nn.fit(small_model(), X4, Y4, loss="hinge", optimizer="adam", lr=0.05, epochs=500, progress=False,
                     callbacks=[StopBelow()])
    assert history.loss[-1] < 0.8 <= history.loss[-2]
    assert len(history) < 500 and not history.interrupted


def test_callbacks_that_are_not_callbacks_are_refused() -> None:
    with pytest.raises(TypeError, match=r"callback 0 \(function\) has none of the hooks on_step_begin, on_step_end,"
                                        r" on_epoch_end; .* nn.LRSchedule\(function\)"):
        nn.fit(small_model(), X4, Y4, progress=False, callbacks=[lambda state: None])
    with pytest.raises(TypeError, match="callbacks must be a list of callback objects; got Recorder"):
        nn.fit(small_model(), X4, Y4, progress=False, callbacks=Recorder())
    with pytest.raises(TypeError, match="LRSchedule takes a function of the step number; got float"):
        nn.LRSchedule(0.1)  # type: ignore[arg-type]


# --- KeyboardInterrupt ------------------------------------------------------------------------------


def trained(epochs: int) -> dict[str, float]:
    model = small_model()
    nn.fit(model, X4, Y4, loss="hinge", optimizer="sgd", lr=0.1, epochs=epochs, progress=False)
    return model.state_dict()


def test_an_interrupt_in_the_loss_returns_the_complete_epochs() -> None:
    calls = 0

    def loss(outputs, targets):
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt
        return nn.hinge_loss(outputs, targets)

    model = small_model()
    history = nn.fit(model, X4, Y4, loss=loss, optimizer="sgd", lr=0.1, epochs=10, progress=False, compiled=False)
    reference = nn.fit(small_model(), X4, Y4, loss="hinge", optimizer="sgd", lr=0.1, epochs=3, progress=False)
    assert history.interrupted and len(history) == 3
    assert history.loss == reference.loss
    assert model.state_dict() == trained(3)  # the fourth forward pass changed nothing
    assert all(p.grad == 0.0 for p in model.parameters())


def test_an_interrupt_in_a_callback_keeps_the_step_it_follows(capsys: pytest.CaptureFixture[str]) -> None:
    class InterruptAt(nn.Callback):
        def on_step_end(self, state: nn.FitState) -> None:
            if state.step == 2:
                raise KeyboardInterrupt

    model = small_model()
    history = nn.fit(model, X4, Y4, loss="hinge", optimizer="sgd", lr=0.1, epochs=10, progress="lines",
                     callbacks=[InterruptAt()])
    assert history.interrupted and len(history) == 2  # the third epoch's step was made, its epoch not closed
    assert model.state_dict() == trained(3)
    assert "fit: interrupted (KeyboardInterrupt) in epoch 3 of 10, after 3 steps" in capsys.readouterr().err


class InterruptedSGD(nn.SGD):
    """Plain SGD, except that in step ``at`` Ctrl-C arrives halfway through the parameters."""

    def __init__(self, params, lr: float, at: int) -> None:
        super().__init__(params, lr=lr)
        self.at, self.count = at, 0

    def step(self) -> None:
        half = len(self.params) // 2
        for i, p in enumerate(self.params):
            if self.count == self.at and i == half:
                signal.raise_signal(signal.SIGINT)  # Python runs the handler before the next line
            p.data -= self.lr * p.grad
        self.count += 1


def test_ctrl_c_during_an_optimizer_step_waits_for_the_whole_step() -> None:
    model = small_model()
    history = nn.fit(model, X4, Y4, loss="hinge", optimizer=InterruptedSGD(model.parameters(), lr=0.1, at=1),
                     epochs=10, progress=False)
    assert history.interrupted and len(history) == 1
    assert model.state_dict() == trained(2)  # the second step applied to every parameter, not half of them
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler given back


def test_without_fit_the_same_ctrl_c_would_half_apply_the_step() -> None:
    # the control for the test above: the interrupt does land in the middle of the step
    model = small_model()
    optimizer = InterruptedSGD(model.parameters(), lr=0.1, at=0)
    before = [p.data for p in model.parameters()]
    nn.hinge_loss([model(x) for x in X4], Y4).backward()
    with pytest.raises(KeyboardInterrupt):
        optimizer.step()
    changed = [p.data != b for p, b in zip(model.parameters(), before)]
    assert any(changed) and not all(p.grad == 0 or c for p, c in zip(model.parameters(), changed))


class InterruptingMLP(nn.MLP):
    """An MLP that gets Ctrl-C (a real SIGINT) in its ``at``-th call: fit's compiling calls it too."""

    def __init__(self, at: int) -> None:
        super().__init__(2, [4, 1], rng=random.Random(0))
        self.at, self.calls = at, 0

    def __call__(self, x):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.at:
            signal.raise_signal(signal.SIGINT)
        return super().__call__(x)


def test_ctrl_c_while_fit_compiles_returns_the_history() -> None:
    at = 1  # compiling traces the model: its first call (the steps replay, they do not call it)
    model = InterruptingMLP(at)
    before = model.state_dict()
    try:
        history = nn.fit(model, X4, Y4, loss="hinge", optimizer="sgd", lr=0.1, epochs=10, progress=False)
    except KeyboardInterrupt:  # a failure of this test, not the end of the test run
        pytest.fail(f"Ctrl-C in the model's call {at} escaped fit")
    assert model.calls == at  # the interrupt came while compiling
    assert history.interrupted and len(history) == 0
    assert model.state_dict() == before and all(p.grad == 0.0 for p in model.parameters())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_at_any_line_of_a_compiled_fit_returns_the_history() -> None:
    # Ctrl-C (a real SIGINT) at the n-th Python line that fit runs, in any frame it calls:
    # argument checks, compiling (tracing, building the replay), steps, callbacks. fit's
    # own frame is left out: its first and last lines are outside any try. So are the
    # collector's callbacks (hypothesis registers one): a collection comes whenever
    # allocations reach its threshold, so their lines would make the count vary from run to run.
    skipped = {nn.train.fit.__code__} | {getattr(c, "__code__", None) for c in gc.callbacks}

    def train(model: nn.MLP, n: int | None) -> tuple[nn.History, int]:
        count = itertools.count()

        def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
            if event == "line" and frame.f_code not in skipped and next(count) == n:
                sys.settrace(None)
                signal.raise_signal(signal.SIGINT)
            return tracer

        sys.settrace(tracer)
        try:
            history = nn.fit(model, X4, Y4, loss="hinge", optimizer="sgd", lr=0.1, epochs=2, progress=False)
        except KeyboardInterrupt:  # a failure of this test, not the end of the test run
            pytest.fail(f"Ctrl-C at line event {n} escaped fit")
        finally:
            sys.settrace(None)
        return history, next(count)

    train(small_model(), None)  # once first: the op table's array forms are made at the first replay
    total = train(small_model(), None)[1]
    points = sorted(set(range(0, 300, 7)) | set(np.linspace(300, total - 1, 100).astype(int).tolist()))
    gc_was = gc.isenabled()
    for n in points:
        model = small_model()
        history, _ = train(model, n)
        assert isinstance(history, nn.History), n
        assert history.interrupted, f"Ctrl-C at line event {n} of {total} went unnoticed"
        assert all(p.grad == 0.0 for p in model.parameters()), n
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, n
        assert gc.isenabled() == gc_was, n
    assert not train(small_model(), total)[0].interrupted  # past the last line: no Ctrl-C came


# --- progress reports ----------------------------------------------------------------------------------


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


POSTFIX = r"loss=\d\.\d{1,4}(e-\d+)?, accuracy=\d{1,3}\.\d%"


def test_a_log_file_gets_a_plain_line_every_few_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    nn.fit(small_model(), X4, Y4, loss="hinge", epochs=25)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert [int(re.match(r"fit · compiled: epoch (\d+)/25: ", line).group(1)) for line in lines] == [1, 3, 6, 9, 12, 15, 18, 21, 24, 25]
    assert all(re.search(POSTFIX + r" \(\d+\.\d s\)$", line) for line in lines)


def test_a_terminal_gets_tqdms_bar_with_the_same_postfix(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = TTY()
    monkeypatch.setattr(sys, "stderr", terminal)
    nn.fit(small_model(), X4, Y4, loss="hinge", epochs=3)
    out = terminal.getvalue()
    assert "\r" in out and "fit · compiled: 100%" in out and "3/3" in out
    assert re.search(POSTFIX, out)


def test_no_accuracy_for_regression_and_silence_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    nn.fit(small_model(), X4, [0.5, 0.1, -0.2, 0.3], loss="mse", epochs=2, progress="lines")
    err = capsys.readouterr().err
    assert re.fullmatch(r"(fit · compiled: epoch \d/2: loss=[\d.e-]+ \(\d+\.\d s\)\n){2}", err)
    nn.fit(small_model(), X4, Y4, loss="hinge", epochs=2, progress=False)
    nn.fit(small_model(), X4, Y4, loss="hinge", epochs=2, progress="none")
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="progress must be True, False or one of 'auto', 'bar', 'lines', 'none'; got 'tqdm'"):
        nn.fit(small_model(), X4, Y4, progress="tqdm")


def test_metrics_is_the_one_format() -> None:
    from nn.progress import metrics

    assert metrics(1.0, 1.0) == {"loss": "1", "accuracy": "100.0%"}
    assert metrics(0.000123456, 0.5) == {"loss": "0.0001235", "accuracy": "50.0%"}


# --- the cyclic garbage collector ---------------------------------------------------------------------


def test_the_collector_is_paused_in_each_step_and_given_back_between_steps() -> None:
    during, between = [], []

    def loss(outputs, targets):
        during.append(gc.isenabled())
        return nn.hinge_loss(outputs, targets)

    class Between(nn.Callback):
        def on_step_end(self, state: nn.FitState) -> None:
            between.append(gc.isenabled())

    assert gc.isenabled()
    nn.fit(small_model(), X4, Y4, loss=loss, epochs=2, batch_size=2, progress=False, compiled=False, callbacks=[Between()])
    assert during == [False] * 4 and between == [True] * 4 and gc.isenabled()
    during.clear()
    nn.fit(small_model(), X4, Y4, loss=loss, epochs=1, progress=False, compiled=False, pause_gc=False)
    assert during == [True]


def test_the_collector_is_restored_as_the_caller_had_it_even_after_an_error() -> None:
    def failing(outputs, targets):
        raise ArithmeticError("boom")

    try:
        with pytest.raises(ArithmeticError):
            nn.fit(small_model(), X4, Y4, loss=failing, progress=False, compiled=False)
        assert gc.isenabled()
        gc.disable()  # a caller who turned it off keeps it off
        nn.fit(small_model(), X4, Y4, loss="hinge", epochs=2, progress=False)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pausing_the_collector_changes_no_number() -> None:
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    runs = []
    for pause in (True, False):
        model = nn.MLP(2, [6, 1], output_activation="sigmoid", rng=random.Random(2))
        history = nn.fit(model, X, y, loss="bce", optimizer="adam", lr=0.05, epochs=5, batch_size=5, seed=1,
                         progress=False, pause_gc=pause)
        runs.append((history.loss, model.state_dict()))
    assert runs[0] == runs[1]


def test_jupyter_gets_the_widget_and_a_kernel_with_text_bars_gets_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import tqdm.auto
    import tqdm.notebook
    import tqdm.std

    from nn.progress import ProgressBar, ProgressLines, reporter

    log = io.StringIO()  # a kernel's stderr is no terminal
    monkeypatch.setattr(sys, "stderr", log)
    for patched, expected in ((tqdm.notebook.tqdm, ProgressBar), (tqdm.std.tqdm, ProgressLines)):
        monkeypatch.setattr(tqdm.auto, "tqdm", patched)  # in Jupyter; in a kernel pointed at the text bar
        report = reporter(True, 3)
        report.close()
        assert isinstance(report, expected)
