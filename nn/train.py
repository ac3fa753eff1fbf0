"""`fit`: the training loop, with callbacks, a progress report, and the loss and accuracy per epoch."""

from __future__ import annotations

import gc
import math
import numbers
import random
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autograd
from autograd import Value

from .callbacks import FitState, LRSchedule, hooks_of
from .compiled import compiled_fit_step, not_compiled
from .losses import LOSSES
from .module import Module
from .optim import SGD, Adam, Optimizer
from .progress import reporter

__all__ = ["OPTIMIZERS", "History", "fit"]

# Optimizers by the names fit accepts, with the learning rate used when none is given.
OPTIMIZERS: dict[str, tuple[type[Optimizer], float]] = {"sgd": (SGD, 0.1), "adam": (Adam, 1e-3)}


@dataclass
class History:
    """What :func:`fit` measured, one entry per complete epoch.

    ``loss`` is the mean training loss over the epoch's samples; ``accuracy`` the
    share of the epoch's predictions that were right, measured on the outputs the
    loss was computed from (before each batch's update, as micrograd's demo
    reports it), or nan when the targets are not class labels. Also readable as
    ``history["loss"]`` and ``history["accuracy"]``. ``description`` says what was
    trained (model, loss, optimizer, batch size: ``viz.plot_history``'s title);
    ``interrupted`` is True when a KeyboardInterrupt ended the run early;
    ``compiled`` says whether the steps ran through ``autograd.compile``.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    description: str = ""
    interrupted: bool = False
    compiled: bool = False

    def __getitem__(self, key: str) -> list[float]:
        if key == "loss":
            return self.loss
        if key == "accuracy":
            return self.accuracy
        raise KeyError(f"History has 'loss' and 'accuracy'; got {key!r}")

    def keys(self) -> list[str]:
        return ["loss", "accuracy"]

    def __len__(self) -> int:
        return len(self.loss)


def fit(
    model: Callable[[Any], Any],
    X: Any,
    y: Any,
    loss: str | Callable[[Any, Any], Value] = "mse",
    optimizer: str | Optimizer = "sgd",
    epochs: int = 100,
    batch_size: int | None = None,
    progress: bool | str = True,
    seed: int | None = None,
    lr: float | None = None,
    shuffle: bool = True,
    callbacks: Sequence[Any] | None = None,
    pause_gc: bool = True,
    compiled: bool | None = None,
) -> History:
    """Train ``model`` on samples ``X`` with targets ``y`` and return the :class:`History`.

    Each batch: ``on_step_begin`` callbacks, outputs ``model(x)`` for its samples,
    one loss over them, ``zero_grad``, ``backward``, ``optimizer.step()``, then
    ``on_step_end`` callbacks; after each epoch, ``on_epoch_end`` callbacks.

    Compiled steps: with a named loss, fit compiles one sample's graph,
    ``loss(model(x), t)``, with ``autograd.compile`` and replays it over each
    batch with NumPy (the progress bar reads "fit · compiled"). The batches,
    shuffling, callbacks, optimizer steps, history and interrupts are those of
    the eager loop, and so are the numbers, to rounding (the tests ask 1e-12
    relative; digits, 129 Adam steps: weights 7e-14 apart): the batch loss is the mean over the samples of each sample's loss,
    which is the eager loss's mean over all terms when every sample has as many
    outputs. A loss given as a callable takes the batch's lists, so it cannot be
    split per sample: it runs eagerly. So does a model whose graph cannot be
    replayed (its structure depends on the data); fit then warns
    (:class:`nn.NotCompiledWarning`) with the reason.

    A KeyboardInterrupt (Ctrl-C, or raised by a callback or the loss) at any point,
    compiling included, ends training early and ``fit`` returns the History of the
    complete epochs (none, when it came before the first step), with ``interrupted=True``. The model then holds every update made so far: a Ctrl-C
    that arrives during ``optimizer.step()`` is held back until the step is whole,
    so no update is ever half applied. Gradients are left at zero.

    Args:
        model: an nn.Module (or any callable on one sample, with ``optimizer`` an instance).
        X: samples: a 2-D NumPy array or a list of rows.
        y: targets, one per sample: numbers, class indices or rows of numbers.
        loss: a name ("mse", "l1", "bce", "bce_with_logits", "cross_entropy",
            "hinge") or a callable ``loss(outputs, targets) -> Value`` taking the
            batch's list of model outputs and list of targets.
        optimizer: an optimizer instance, or "sgd" or "adam" (over
            ``model.parameters()``, with ``lr`` or 0.1 for SGD, 1e-3 for Adam).
        epochs: passes over the data.
        batch_size: samples per update; None for the full batch (one update per epoch).
        progress: True (or "auto"): a tqdm bar with the epoch's loss and accuracy where
            it can be redrawn (a widget in Jupyter, text in a terminal), otherwise (a
            log file, a pipe) a plain line every few epochs; "bar" or "lines" to choose;
            False (or "none") for silence.
        seed: seeds the shuffling of mini-batches (a private ``random.Random``:
            no global random state is read or changed).
        lr: learning rate for an optimizer given by name.
        shuffle: shuffle the samples every epoch when ``batch_size`` is set.
        callbacks: objects with any of ``on_step_begin(state)``, ``on_step_end(state)``
            and ``on_epoch_end(state)`` (see :mod:`nn.callbacks`), called in the order
            given; ``nn.LRSchedule(lambda step: ...)`` sets the learning rate per step.
        pause_gc: pause Python's cyclic garbage collector during each step (it is
            restored, as the caller had it, between steps and when fit ends, however
            it ends). gradtrace's graphs hold no reference cycles, so reference
            counting frees them; the collector's passes would only rescan live
            objects (7-12% of a digits epoch: benchmarks/bench_fit_gc.py).
        compiled: None (the default) compiles when the model and loss allow it and
            otherwise warns and runs eagerly; True insists (an ``autograd.CompileError``
            naming the reason when it cannot); False always runs the eager engine.
    """
    run = None
    try:  # the first statement: a Ctrl-C from here on returns the history
        run = _Run()
        _train(
            run, model, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size, progress=progress,
            seed=seed, lr=lr, shuffle=shuffle, callbacks=callbacks, pause_gc=pause_gc, compiled=compiled,
        )  # fmt: skip
    except KeyboardInterrupt:
        run = run or _Run()
        run.interrupted()
    finally:
        if run is not None:
            run.close()
    return run.history


@dataclass
class _Run:
    """What fit's interrupt handler needs, filled in as the run gets to it: a Ctrl-C may
    come at any point, compiling included, before there is an optimizer or a report."""

    history: History = field(default_factory=History)
    optimizer: Optimizer | None = None
    training: Any = None  # the compiled step's training block (the parameters in arrays), once opened
    state: FitState | None = None
    report: Any = None
    steps: int = 0

    def interrupted(self) -> None:
        with _interrupts_held():
            if self.training is not None:
                self.training.close()  # the Values get the steps made so far (closing twice does nothing)
            if self.optimizer is not None:
                self.optimizer.zero_grad()  # an interrupted backward pass leaves partial gradients
        self.history.interrupted = True
        if self.report is not None and self.state is not None:
            self.report.note(
                f"fit: interrupted (KeyboardInterrupt) in epoch {self.state.epoch + 1} of {self.state.epochs}, "
                f"after {self.steps} steps; the model keeps them, the history holds the {len(self.history)} complete epochs"
            )

    def close(self) -> None:
        if self.report is None:
            return
        try:
            self.report.close()
        except KeyboardInterrupt:  # the run is over; the Ctrl-C is still an interrupt, as the user sees it
            self.interrupted()


def _train(
    run: _Run,
    model: Callable[[Any], Any],
    X: Any,
    y: Any,
    *,
    loss: str | Callable[[Any, Any], Value],
    optimizer: str | Optimizer,
    epochs: int,
    batch_size: int | None,
    progress: bool | str,
    seed: int | None,
    lr: float | None,
    shuffle: bool,
    callbacks: Sequence[Any] | None,
    pause_gc: bool,
    compiled: bool | None,
) -> None:
    """fit's work, recording into ``run`` what an interrupt needs."""
    samples = _rows(X, "X")
    targets = _targets(y)
    if len(samples) != len(targets):
        raise ValueError(f"fit(): X has {len(samples)} samples but y has {len(targets)} targets")
    if not samples:
        raise ValueError("fit(): X and y are empty")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit(): epochs must be an int >= 0; got {epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"fit(): batch_size must be a positive int or None (full batch); got {batch_size!r}")
    if compiled is not None and not isinstance(compiled, bool):
        raise TypeError(f"fit(): compiled must be None (compile when possible), True or False; got {compiled!r:.60}")
    loss_fn, loss_name = _loss(loss)
    opt = run.optimizer = _optimizer(optimizer, model, lr)
    rule = _accuracy_rule(loss_name, targets)
    is_right = _scalar_rule(rule)
    hooks = hooks_of(callbacks)

    def eager_step(batch: list[int]) -> tuple[float, int]:
        outputs = [model(samples[i]) for i in batch]
        batch_targets = [targets[i] for i in batch]
        value = loss_fn(outputs, batch_targets)
        if value.__class__ is not Value:
            raise TypeError(f"fit(): the loss must return a Value; got {type(value).__name__}")
        opt.zero_grad()
        value.backward()
        right = sum(map(is_right, outputs, batch_targets)) if is_right is not None else 0
        return value.data, right

    step = eager_step
    fast = None
    if compiled is not False:
        fast = compiled_fit_step(model, _trained(model, opt), loss_fn, loss_name, samples, targets, opt.zero_grad, rule)
        if isinstance(fast, str):
            if compiled:
                raise autograd.CompileError(f"fit(compiled=True): cannot compile the training step: {fast}")
            not_compiled("fit", fast, stacklevel=3)  # from _train, through fit, to fit's caller
        elif fast is not None:
            step = fast.run
        # None: the data does not suit the model or loss; the eager step says how, at the first batch
    try:
        if step is not eager_step and opt.steps_on_arrays():
            # the parameters live in the step's arrays from here on (written back into the
            # Values around every callback that may look at them, and when fit ends)
            training = run.training = fast.step.training(opt)  # type: ignore[union-attr]
            try:
                training.open()
            except TypeError:  # a .grad that is not a number (None after cleargrad): the steps run on the Values
                run.training = None
        _loop(run, step, eager_step, compiled, model, opt, samples, epochs, batch_size, shuffle, seed, loss,
              is_right, hooks, progress, pause_gc, callbacks)  # fmt: skip
    finally:
        if run.training is not None:
            run.training.close()


def _loop(
    run: _Run, step: Callable[[list[int]], tuple[float, int]], eager_step: Callable[[list[int]], tuple[float, int]],
    compiled: bool | None, model: Any, opt: Optimizer, samples: list[Any], epochs: int, batch_size: int | None,
    shuffle: bool, seed: int | None, loss: Any, is_right: Any, hooks: dict[str, list[Any]], progress: bool | str,
    pause_gc: bool, callbacks: Sequence[Any] | None,
) -> None:  # fmt: skip
    """fit's epochs and steps."""
    history = run.history

    n, epochs = len(samples), int(epochs)
    size = n if batch_size is None else min(int(batch_size), n)
    order = list(range(n))
    rng = random.Random(seed) if size < n and shuffle else None
    scheduled = any(isinstance(callback, LRSchedule) for callback in callbacks or [])
    history.description = _describe(model, loss, opt, scheduled, size, n)
    history.compiled = step is not eager_step
    state = run.state = FitState(model=model, optimizer=opt, history=history, epochs=epochs, steps_per_epoch=math.ceil(n / size))
    report = run.report = reporter(progress, epochs, "fit · compiled" if history.compiled else "fit")
    step_begin, step_end = hooks["on_step_begin"], hooks["on_step_end"] + [report.on_step_end]
    epoch_end = hooks["on_epoch_end"] + [report.on_epoch_end]
    pause = _collector_paused if pause_gc else _unchanged
    # a callback may read or write the parameters: it sees them as Values (the learning-rate
    # schedule and the progress report do not look at them)
    looks = {name: any(not _blind(hook, report) for hook in hooks_) for name, hooks_ in
             (("begin", step_begin), ("end", step_end), ("epoch", epoch_end))}  # fmt: skip

    def as_values(name: str) -> Any:
        training = run.training
        return training.paused() if training is not None and looks[name] else _unchanged()

    for epoch in range(epochs):
        state.epoch = epoch
        if rng is not None:
            rng.shuffle(order)
        total_loss, right, seen = 0.0, 0, 0
        for start in range(0, n, size):
            batch = order[start : start + size]
            state.batch_size = len(batch)
            if step_begin:
                with as_values("begin"):
                    for hook in step_begin:
                        hook(state)
            with pause():  # the eager step's graph is freed when it returns, while the collector is paused
                try:
                    state.loss, batch_right = step(batch)
                except autograd.CompileError as error:  # a batch that needed a new trace, which failed
                    if step is eager_step or compiled:
                        raise
                    not_compiled("fit", str(error), stacklevel=4)
                    if run.training is not None:  # the eager step works on the Values
                        run.training.close()
                        run.training = None
                    step, history.compiled = eager_step, False
                    state.loss, batch_right = step(batch)
                with _interrupts_held():
                    opt.step()
                    run.steps += 1
                right += batch_right
            seen += len(batch)
            total_loss += state.loss * len(batch)
            state.epoch_loss = total_loss / seen
            state.epoch_accuracy = right / seen if is_right is not None else math.nan
            with as_values("end"):
                for hook in step_end:
                    hook(state)
            state.step += 1
        # one batch: its loss as computed (not rounded twice through x·n/n)
        history.loss.append(state.loss if size == n else total_loss / n)
        history.accuracy.append(state.epoch_accuracy)
        with as_values("epoch"):
            for hook in epoch_end:
                hook(state)
        if state.stop:
            break


def _blind(hook: Any, report: Any) -> bool:
    """A hook of fit's own that does not look at the parameters: the learning-rate schedule
    (nn.LRSchedule itself, not a subclass) and the progress report."""
    owner = getattr(hook, "__self__", None)
    return owner is report or type(owner) is LRSchedule


def _describe(model: Any, loss: Any, optimizer: Optimizer, scheduled: bool, size: int, n: int) -> str:
    """What is trained, in a few words: "MLP 2-4-1, bce, Adam(lr=0.1), full batch"."""
    name = type(model).__name__
    if isinstance(getattr(model, "nin", None), int) and isinstance(getattr(model, "nouts", None), list):
        name += " " + "-".join(map(str, [model.nin, *model.nouts]))
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)
    if loss_name == "<lambda>":
        loss_name = "custom loss"
    batches = "full batch" if size == n else f"batch {size}"
    lr = "scheduled" if scheduled else f"{optimizer.lr:g}"
    return f"{name}, {loss_name}, {type(optimizer).__name__}(lr={lr}), {batches}"


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic collector off for one step, then as the caller had it (even on an exception)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _unchanged() -> Iterator[None]:
    yield


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block is done, then deliver it to the handler it was for.

    Only the main thread receives signals, and only a Python-level handler can be held back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):  # SIG_IGN or SIG_DFL: nothing Python would run
        yield
        return
    held: list[tuple[int, Any]] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
    if held:
        handler(*held[0])  # the default handler raises KeyboardInterrupt here


def _rows(X: Any, what: str) -> list[Any]:
    """Samples as lists of Python numbers (what the engine reads fastest)."""
    if isinstance(X, np.ndarray):
        if X.ndim == 1:  # one input per sample
            return [[x] for x in X.tolist()]
        if X.ndim != 2:
            raise ValueError(f"fit(): {what} must be 2-D (samples × inputs); got shape {X.shape}")
        return X.tolist()
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(f"fit(): {what} must be a 2-D NumPy array or a list of rows; got {type(X).__name__}")
    return [row.tolist() if isinstance(row, np.ndarray) else row for row in X]


def _targets(y: Any) -> list[Any]:
    if isinstance(y, np.ndarray):
        return y.tolist()
    if isinstance(y, (str, bytes)) or not isinstance(y, Sequence):
        raise TypeError(f"fit(): y must be a NumPy array or a list of targets; got {type(y).__name__}")
    return [t.tolist() if isinstance(t, np.ndarray) else t for t in y]


def _loss(loss: object) -> tuple[Callable[[Any, Any], Value], str | None]:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"fit(): unknown loss {loss!r}; accepted: {', '.join(LOSSES)}, or a callable")
        return LOSSES[loss], loss
    if callable(loss):
        return loss, None  # type: ignore[return-value]
    raise TypeError(f"fit(): loss must be a name ({', '.join(LOSSES)}) or a callable; got {type(loss).__name__}")


def _optimizer(optimizer: object, model: object, lr: float | None) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError("fit(): lr is for an optimizer given by name; set optimizer.lr on an instance")
        return optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        if not isinstance(model, Module):
            raise TypeError(f"fit(): an optimizer by name needs an nn.Module; got {type(model).__name__} (pass an optimizer instance)")
        cls, default_lr = OPTIMIZERS[optimizer]
        return cls(model.parameters(), lr=default_lr if lr is None else lr)
    raise ValueError(f"fit(): unknown optimizer {optimizer!r}; accepted: {', '.join(OPTIMIZERS)}, or an optimizer instance")


def _trained(model: Any, opt: Optimizer) -> list[Value]:
    """The Values a compiled step differentiates: the optimizer's, then the model's others."""
    params = list(opt.params)
    if isinstance(model, Module):
        known = set(map(id, params))
        params += [p for p in model.parameters() if id(p) not in known]
    return params


def _accuracy_rule(loss_name: str | None, targets: list[Any]) -> tuple[str, float, float] | None:
    """How to tell a right prediction for this loss and these targets: ("argmax", 0, 0), or
    ("above", output threshold, target threshold); None when the targets are not labels."""
    if loss_name == "cross_entropy":
        return ("argmax", 0.0, 0.0)
    if loss_name in ("hinge", "bce_with_logits"):
        return ("above", 0.0, 0.0 if loss_name == "hinge" else 0.5)
    if loss_name == "bce":
        return ("above", 0.5, 0.5)
    if all(isinstance(t, numbers.Real) for t in targets):
        labels = set(targets)
        if labels <= {0, 1}:
            return ("above", 0.5, 0.5)
        if labels <= {-1, 1}:
            return ("above", 0.0, 0.0)
        return None
    if all(isinstance(t, Sequence) and t and set(t) <= {0, 1} and sum(t) == 1 for t in targets):
        return ("argmax", 0.0, 0.0)  # one-hot rows
    return None


def _scalar_rule(rule: tuple[str, float, float] | None) -> Callable[[Any, Any], bool] | None:
    """The eager loop's test of one output against its target, for the rule."""
    if rule is None:
        return None
    return _argmax_matches if rule[0] == "argmax" else _above(rule[1], rule[2])


def _above(output_threshold: float, target_threshold: float) -> Callable[[Any, Any], bool]:
    def is_right(output: Any, target: Any) -> bool:
        if isinstance(output, list):  # several outputs (multi-label): right when all are
            return all(is_right(o, t) for o, t in zip(output, target))
        return (output.data > output_threshold) == (float(target) > target_threshold)

    return is_right


def _argmax_matches(output: Any, target: Any) -> bool:
    scores = [o.data for o in output]
    predicted = max(range(len(scores)), key=scores.__getitem__)
    if isinstance(target, Sequence):  # one-hot
        return predicted == max(range(len(target)), key=target.__getitem__)
    return predicted == target
