"""step.training: a compiled step's parameters in flat arrays while it trains.

Inside the block the step, nn.SGD, nn.Adam and zero_grad work on the arrays; the
Values must read, wherever a user can look, what the same loop over the Values (the
path without the block: today's numbers) gives, to the bit; and against eager
gradtrace to rounding. Hand-written loops between the blocks (and inside
``training.paused()``) still train; a hand write behind the arrays' back is an error,
never a silently lost number; a failed optimizer step changes nothing; a block belongs
to one thread; Ctrl-C anywhere leaves the Values at a step boundary.
"""

from __future__ import annotations

import itertools
import random
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from autograd.compiler import training as training_module


def bits(xs: list[float]) -> list[int]:
    """Each float's bit pattern: equality of these is equality to the bit (nan and -0.0 included)."""
    return np.array(xs, dtype=np.float64).view(np.int64).tolist()


def state(params: list[Value]) -> tuple[list[int], list[int]]:
    return bits([p.data for p in params]), bits([p.grad for p in params])


def classes(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 3)) + np.eye(3)[t]
    return X, t


def model_and_step(seed: int = 1, penalty: bool = False) -> tuple[nn.MLP, list[Value], Any]:
    model = nn.MLP(3, [6, 3], rng=random.Random(seed))
    params = model.parameters()

    def fn(x: list[Value], t: int) -> Value:
        loss = nn.cross_entropy(model(x), t)
        return loss + 1e-3 * autograd.dot(params, params) if penalty else loss

    return model, params, autograd.compile(fn, params)


OPTIMIZERS: dict[str, Callable[[list[Value]], nn.Optimizer]] = {
    "sgd": lambda ps: nn.SGD(ps, lr=0.1),
    "sgd, momentum and weight decay": lambda ps: nn.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-2),
    "adam": lambda ps: nn.Adam(ps, lr=0.01),
    "adam, weight decay, beta1 0.3": lambda ps: nn.Adam(ps, lr=0.02, betas=(0.3, 0.99), weight_decay=0.1),
}


def batches(steps: int, size: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    X, t = classes()
    rng = np.random.default_rng(5)
    out = []
    for _ in range(steps):
        index = rng.choice(len(X), size, replace=False)
        out.append((X[index], t[index]))
    return out


def train(name: str, arrays: bool, steps: int = 6, penalty: bool = False, look: Callable[[int, list[Value]], None] | None = None):  # type: ignore[no-untyped-def]
    """zero_grad, step.backward, opt.step over the batches: in a training block or on the Values."""
    _, params, step = model_and_step(penalty=penalty)
    opt = OPTIMIZERS[name](params)
    losses = []
    block = step.training(opt) if arrays else None
    if block is not None:
        block.open()
    try:
        for k, (X, t) in enumerate(batches(steps)):
            opt.zero_grad()
            losses.append(step.backward(X, t))
            opt.step()
            if look is not None:
                if block is not None:
                    with block.paused():
                        look(k, params)
                else:
                    look(k, params)
    finally:
        if block is not None:
            block.close()
    return losses, params, opt


# --- the block gives the Values' numbers, to the bit --------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_block_trains_to_the_bit_as_the_loop_over_the_values(name: str) -> None:
    seen: dict[bool, list[Any]] = {True: [], False: []}
    results = {}
    for arrays in (False, True):
        losses, params, opt = train(name, arrays, look=lambda k, ps, a=arrays: seen[a].append(state(ps)))
        results[arrays] = (bits(losses), state(params))
    assert results[True] == results[False]
    assert seen[True] == seen[False] and len(seen[True]) == 6  # read between steps, in paused()


def test_the_block_agrees_with_eager_gradtrace() -> None:
    model, params, step = model_and_step()
    eager_model = nn.MLP(3, [6, 3], rng=random.Random(1))
    eager_params = eager_model.parameters()
    opt, eager_opt = nn.Adam(params, lr=0.01), nn.Adam(eager_params, lr=0.01)
    with step.training(opt):
        for X, t in batches(5):
            opt.zero_grad()
            loss = step.backward(X, t)
            opt.step()
            eager_opt.zero_grad()
            eager_loss = autograd.mean([nn.cross_entropy(eager_model(x), int(c)) for x, c in zip(X.tolist(), t)])
            eager_loss.backward()
            eager_opt.step()
            assert loss == pytest.approx(eager_loss.data, rel=1e-12)
    np.testing.assert_allclose([p.data for p in params], [p.data for p in eager_params], rtol=1e-12, atol=1e-14)


def test_theta_and_grad_follow_the_order_given_to_compile() -> None:
    _, params, step = model_and_step()
    for i, p in enumerate(params):
        p.grad = 0.5 * i
    with step.training() as block:
        assert block.theta.tolist() == [p.data for p in params]
        assert block.grad.tolist() == [0.5 * i for i in range(len(params))]
        block.theta[3] = 7.25  # set through the array: written back at the end
        block.grad[:] = 0.0
    assert params[3].data == 7.25 and all(p.grad == 0.0 for p in params)


def test_an_optimizer_over_some_parameters_in_another_order() -> None:
    """The optimizer's parameters are a shuffled subset (an index array, not a slice); the
    others' gradients add up across steps, as on the Values."""
    results = []
    for arrays in (False, True):
        _, params, step = model_and_step()
        chosen = params[::2][::-1]
        opt = nn.Adam(chosen, lr=0.05)
        block = step.training(opt) if arrays else None
        if block is not None:
            block.open()
        for X, t in batches(4):
            opt.zero_grad()
            step.backward(X, t)
            opt.step()
        if block is not None:
            assert not isinstance(opt._positions, slice)
            block.close()
        results.append(state(params))
    assert results[0] == results[1]


def branchy(w: list[Value], penalty: Value) -> Callable[[list[Value], float], Value]:
    def fn(x: list[Value], t: float) -> Value:
        h = w[0] * x[0] + w[1] * x[1]
        if h.data > 0.0:  # a branch pattern per sign
            h = h * w[2]
        return (h - t) ** 2 + penalty

    return fn


def test_step_call_a_closure_penalty_and_new_branch_patterns_inside_a_block() -> None:
    """step(X) replays from the arrays; a closure node's gradient (eager backward) and a
    branch pattern traced inside the block see the arrays' numbers."""
    results = []
    for arrays in (False, True):
        w = [Value(0.3), Value(-0.2), Value(0.1)]
        penalty = w[0] * w[1]  # a closure node over the parameters: its gradient goes through eager backward

        step = autograd.compile(branchy(w, penalty), w)
        opt = nn.SGD(w, lr=0.05)
        rng = np.random.default_rng(3)
        seen = []
        block = step.training(opt) if arrays else None
        if block is not None:
            block.open()
        for k in range(6):
            X = np.abs(rng.normal(size=(5, 2))) * (1.0 if k < 3 else -1.0)  # new patterns from step 3
            t = rng.normal(size=5)
            seen.append(bits(step(X, t).tolist()))
            opt.zero_grad()
            seen.append(bits([step.backward(X, t)]))
            opt.step()
        if block is not None:
            assert step.patterns == 2
            block.close()
        results.append((seen, state(w)))
    assert results[0] == results[1]


# --- hand loops -----------------------------------------------------------------------------------


def test_a_hand_loop_between_blocks_and_inside_paused_trains_as_on_the_values() -> None:
    def run(arrays: bool) -> tuple[list[int], list[int]]:
        _, params, step = model_and_step()
        opt = nn.SGD(params, lr=0.1)
        data = batches(9)
        for round_ in range(3):
            X, t = data[3 * round_]
            if arrays:
                with step.training(opt) as block:
                    opt.zero_grad()
                    step.backward(X, t)
                    opt.step()
                    with block.paused():  # micrograd's loop, on the Values
                        opt.zero_grad()
                        step.backward(*data[3 * round_ + 1])
                        for p in params:
                            p.data -= 0.1 * p.grad
            else:
                opt.zero_grad()
                step.backward(X, t)
                opt.step()
                opt.zero_grad()
                step.backward(*data[3 * round_ + 1])
                for p in params:
                    p.data -= 0.1 * p.grad
            for p in params:  # between blocks: micrograd's loop over the Values
                p.grad = 0.0
            step.backward(*data[3 * round_ + 2])
            for p in params:
                p.data -= 0.1 * p.grad
        return state(params)

    assert run(True) == run(False)


def test_a_value_written_inside_an_open_block_is_an_error_not_a_lost_number() -> None:
    _, params, step = model_and_step()
    opt = nn.SGD(params, lr=0.1)
    X, t = batches(1)[0]
    with pytest.raises(RuntimeError, match=r"parameter 4's value \(\.data\) was set through the Value"):
        with step.training(opt):
            opt.zero_grad()
            step.backward(X, t)
            params[4].data += 0.5  # a hand update the arrays never see
            opt.step()
    assert step._arrays() is None and not training_module._live  # the block ended all the same
    with pytest.raises(RuntimeError, match=r"parameter 0's gradient \(\.grad\)"):
        with step.training(opt):
            step.backward(X, t)
            params[0].grad = 123.0
    # model.zero_grad() after the optimizer's zero_grad writes what the arrays hold: no conflict
    with step.training(opt):
        step.backward(X, t)
        opt.zero_grad()
        for p in params:
            p.grad = 0.0


def test_optimizers_that_work_on_the_values_are_refused_by_the_block() -> None:
    class HandSGD(nn.SGD):
        def step(self) -> None:
            for p in self.params:
                p.data -= self.lr * p.grad

    _, params, step = model_and_step()
    assert nn.SGD(params, lr=0.1).steps_on_arrays() and not HandSGD(params, lr=0.1).steps_on_arrays()
    with pytest.raises(TypeError, match="HandSGD overrides step"):
        with step.training(HandSGD(params, lr=0.1)):
            pass
    assert not training_module._live
    with pytest.raises(ValueError, match="not among the step's"):
        step.training(nn.SGD([Value(1.0)], lr=0.1))
    with pytest.raises(TypeError, match=r"step.training\(\): parameter 2's gradient \(\.grad\) is NoneType"):
        params[2].grad = None
        with step.training():
            pass


# --- failures, threads, Ctrl-C --------------------------------------------------------------------


def test_a_failed_optimizer_step_on_the_arrays_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _, params, step = model_and_step()
    opt = nn.Adam(params, lr=0.01)
    X, t = batches(1)[0]
    with step.training(opt) as block:
        for _ in range(2):
            opt.zero_grad()
            step.backward(X, t)
            opt.step()
        before = (block.theta.copy(), block.grad.copy(), opt._m.copy(), opt._v.copy(), opt.t)

        def broken(*args: Any, **kwargs: Any) -> None:
            raise MemoryError("a stand-in for a failure inside the update")

        monkeypatch.setattr(np, "sqrt", broken)
        with pytest.raises(MemoryError):
            opt.step()
        monkeypatch.undo()
        after = (block.theta, block.grad, opt._m, opt._v, opt.t)
        assert all(np.array_equal(a, b) for a, b in zip(before[:4], after[:4])) and before[4] == after[4]


def test_a_block_belongs_to_its_thread() -> None:
    _, params, step = model_and_step()
    opt = nn.SGD(params, lr=0.1)
    X, t = batches(1)[0]
    errors: list[BaseException] = []

    def other() -> None:
        try:
            step.backward(X, t)
        except RuntimeError as error:
            errors.append(error)

    with step.training(opt):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "held in arrays by step.training in thread MainThread" in str(errors[0])
    thread = threading.Thread(target=other)  # after the block, any thread
    thread.start()
    thread.join()
    assert len(errors) == 1
    with step.training(opt), pytest.raises(RuntimeError, match="already inside a step.training block"):
        step.training(opt)
    _, _, second = model_and_step()
    second_step = autograd.compile(lambda x, t: nn.cross_entropy([p * x[0] for p in params[:3]], t), params)
    with step.training(), pytest.raises(RuntimeError, match="already held in arrays by another open"):
        with second_step.training():
            pass


def test_ctrl_c_at_any_line_of_a_block_leaves_the_values_at_a_step_boundary() -> None:
    """A real SIGINT at every 7th line event of a training loop in a block: the block ends,
    the handler is given back, and the Values hold the numbers of a boundary between the
    parts of a step (no half-applied update, no half-added gradient)."""
    data = batches(3)
    _, ref_params, ref_step = model_and_step()
    ref_opt = nn.Adam(ref_params, lr=0.01)
    boundaries = [state(ref_params)]
    for X, t in data:
        for part in (ref_opt.zero_grad, lambda: ref_step.backward(X, t), ref_opt.step):  # noqa: B023
            part()
            boundaries.append(state(ref_params))
    n, lines = 0, None
    while lines is None or n < lines:
        _, params, step = model_and_step()
        opt = nn.Adam(params, lr=0.01)
        step(*data[0])
        count = itertools.count()

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            if event == "line" and next(count) == n:  # noqa: B023
                sys.settrace(None)
                signal.raise_signal(signal.SIGINT)
            return tracer

        sys.settrace(tracer)
        try:
            with step.training(opt):
                for X, t in data:
                    opt.zero_grad()
                    step.backward(X, t)
                    opt.step()
        except KeyboardInterrupt:
            pass
        else:
            lines = next(count)
        finally:
            sys.settrace(None)
        assert state(params) in boundaries, f"Ctrl-C at line event {n}: the Values are between steps"
        assert not training_module._live and step._arrays() is None, n
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, n
        n += 7
    assert lines > 100


# --- nn.fit ----------------------------------------------------------------------------------------


class OnValues(nn.Adam):
    """nn.Adam run on the Values: it overrides step (with the same step), so fit keeps the
    parameters in the Values, as before there were training blocks."""

    def step(self) -> None:
        super().step()


class Looks(nn.Callback):
    """Records the parameters' .data and .grad wherever a callback can look."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_step_begin(self, state: nn.FitState) -> None:
        self.seen.append(("begin", state.step, *_values(state.model)))

    def on_step_end(self, state: nn.FitState) -> None:
        self.seen.append(("end", state.step, *_values(state.model)))

    def on_epoch_end(self, state: nn.FitState) -> None:
        self.seen.append(("epoch", state.epoch, *_values(state.model)))


def _values(model: nn.Module) -> tuple[list[int], list[int]]:
    return state(model.parameters())


def fit(optimizer: type[nn.Optimizer], callbacks: list[Any] | None = None, **kwargs: Any) -> tuple[nn.History, nn.MLP]:
    X, t = classes()
    model = nn.MLP(3, [6, 3], rng=random.Random(1))
    history = nn.fit(model, X, t, loss="cross_entropy", optimizer=optimizer(model.parameters(), lr=0.01), epochs=3,
                     batch_size=8, seed=2, progress=False, callbacks=callbacks, **kwargs)
    return history, model


def test_fit_on_arrays_reads_the_same_in_callbacks_and_after_as_on_values() -> None:
    runs = []
    for optimizer in (nn.Adam, OnValues):
        looks = Looks()
        history, model = fit(optimizer, [looks, nn.LRSchedule(lambda k: 0.01 / (1 + k))])
        runs.append((bits(history.loss), looks.seen, _values(model)))
    assert runs[0] == runs[1]
    assert len(runs[0][1]) == 3 * (5 * 2 + 1)
    eager, eager_model = fit(nn.Adam, compiled=False)
    fast, model = fit(nn.Adam)
    np.testing.assert_allclose(fast.loss, eager.loss, rtol=1e-12)
    np.testing.assert_allclose([p.data for p in model.parameters()], [p.data for p in eager_model.parameters()], rtol=1e-11)


def test_fit_without_callbacks_keeps_the_arrays_for_the_whole_run(monkeypatch: pytest.MonkeyPatch) -> None:
    pulls = []
    real = training_module.Training._pull
    monkeypatch.setattr(training_module.Training, "_pull", lambda self: (pulls.append(1), real(self)))
    fast, model = fit(nn.Adam)
    assert fast.compiled and len(pulls) == 1  # read once at the start, written back once at the end
    monkeypatch.undo()
    slow, slow_model = fit(OnValues)
    assert bits(fast.loss) == bits(slow.loss) and _values(model) == _values(slow_model)


def test_a_callback_that_writes_the_parameters_is_seen_by_the_next_step() -> None:
    class Clip(nn.Callback):
        def on_step_end(self, state: nn.FitState) -> None:
            for p in state.model.parameters():
                p.data = max(-0.3, min(0.3, p.data))

    runs = [fit(optimizer, [Clip()]) for optimizer in (nn.Adam, OnValues)]
    assert bits(runs[0][0].loss) == bits(runs[1][0].loss) and _values(runs[0][1]) == _values(runs[1][1])


def test_ctrl_c_in_a_compiled_fit_step_leaves_the_values_of_the_steps_made(monkeypatch: pytest.MonkeyPatch) -> None:
    real = autograd.CompiledStep.backward

    def run(optimizer: type[nn.Optimizer], at: int) -> tuple[nn.History, nn.MLP]:
        calls = itertools.count()

        def backward(self: Any, *batches: Any) -> float:
            if next(calls) == at:
                signal.raise_signal(signal.SIGINT)  # inside the step, with the parameters in the arrays
            return real(self, *batches)

        monkeypatch.setattr(autograd.CompiledStep, "backward", backward)
        try:
            return fit(optimizer)
        finally:
            monkeypatch.undo()

    for at in (0, 1, 7):
        fast, model = run(nn.Adam, at)
        slow, slow_model = run(OnValues, at)
        assert fast.interrupted and slow.interrupted and len(fast) == at // 5
        assert _values(model) == _values(slow_model), at
        assert all(p.grad == 0.0 for p in model.parameters())
        assert not training_module._live


def test_fit_after_cleargrad_trains_on_the_values_as_before() -> None:
    """A gradient that is None (cleargrad) cannot go into the arrays: fit runs that run on the
    Values, where zero_grad sets it to 0.0 before the first step, as before."""
    X, t = classes()
    runs = []
    for optimizer in (nn.Adam, OnValues):
        model = nn.MLP(3, [6, 3], rng=random.Random(1))
        model.parameters()[5].grad = None
        history = nn.fit(model, X, t, loss="cross_entropy", optimizer=optimizer(model.parameters(), lr=0.01), epochs=2,
                         batch_size=8, seed=2, progress=False)
        runs.append((bits(history.loss), _values(model)))
    assert runs[0] == runs[1] and not training_module._live


def test_another_compiled_step_over_held_parameters_reads_the_arrays_and_may_not_add_gradients() -> None:
    """model.predict (a compiled step of its own) inside an open block sees the block's numbers,
    not the Values' stale ones; another step's backward over them is refused, not lost."""
    model, params, step = model_and_step()
    opt = nn.Adam(params, lr=0.05)
    X, t = classes()
    other = autograd.compile(lambda x, c: nn.cross_entropy(model(x), c), params)
    with step.training(opt) as block:
        for _ in range(3):
            opt.zero_grad()
            step.backward(X, t)
            opt.step()
        inside = model.predict(X)
        with pytest.raises(RuntimeError, match="held in arrays by another step's open step.training block"):
            other.backward(X, t)
        assert bits(block.theta.tolist()) == bits([p.data for p in params])  # predict wrote the arrays into the Values
    assert bits(inside.ravel().tolist()) == bits(model.predict(X).ravel().tolist())
    other.backward(X, t)  # after the block: as usual
