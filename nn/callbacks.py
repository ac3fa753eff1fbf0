"""Callbacks: code that :func:`nn.fit` runs before and after every step and after every epoch.

A callback is any object with one or more of the methods ``on_step_begin(state)``,
``on_step_end(state)`` and ``on_epoch_end(state)`` (subclass :class:`Callback` and
override what you need). Each receives the run's :class:`FitState`. A learning-rate
schedule is :class:`LRSchedule`; micrograd's demo, for example:

>>> import random
>>> import nn
>>> model = nn.MLP(2, [4, 1], rng=random.Random(0))
>>> seen = []
>>> class Record(nn.Callback):
...     def on_step_end(self, state):
...         seen.append((state.step, state.optimizer.lr))
>>> schedule = nn.LRSchedule(lambda k: 1.0 - 0.9 * k / 100)
>>> _ = nn.fit(model, [[0, 0], [1, 1]], [-1, 1], loss="hinge", epochs=3, progress=False,
...            callbacks=[schedule, Record()])
>>> seen
[(0, 1.0), (1, 0.991), (2, 0.982)]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .optim import Optimizer
    from .train import History

__all__ = ["HOOKS", "Callback", "FitState", "LRSchedule"]

HOOKS = ("on_step_begin", "on_step_end", "on_epoch_end")


@dataclass
class FitState:
    """Where a :func:`nn.fit` run is; the same object is passed to every hook of the run.

    Attributes:
        model, optimizer, history: the run's model, optimizer and :class:`nn.History`
            (which holds the complete epochs so far).
        epochs: how many epochs the run was asked for; steps_per_epoch: updates per epoch.
        epoch: the current epoch, from 0. step: the current update, counted from 0 over
            the whole run (the same number in ``on_step_begin`` and ``on_step_end``).
        batch_size: samples in the current batch (the last one may be smaller).
        loss: the current batch's loss (in ``on_step_end``; nan before the first step).
        epoch_loss, epoch_accuracy: the mean loss and the accuracy over the epoch's
            samples so far (accuracy nan when the targets are not class labels).
        stop: set it to True in any hook to end training after the current epoch.
    """

    model: Any
    optimizer: Optimizer
    history: History
    epochs: int
    steps_per_epoch: int
    epoch: int = 0
    step: int = 0
    batch_size: int = 0
    loss: float = math.nan
    epoch_loss: float = math.nan
    epoch_accuracy: float = math.nan
    stop: bool = False


class Callback:
    """Base class for callbacks: every hook does nothing until overridden."""

    def on_step_begin(self, state: FitState) -> None:
        """Before the batch's forward pass (set ``state.optimizer.lr`` here for a schedule)."""

    def on_step_end(self, state: FitState) -> None:
        """After the optimizer's step; ``state.loss`` is the batch's loss."""

    def on_epoch_end(self, state: FitState) -> None:
        """After the epoch's last step, once ``state.history`` holds the epoch."""


class LRSchedule(Callback):
    """Set the learning rate before every step: ``optimizer.lr = schedule(step)``, step counted from 0.

    ``nn.LRSchedule(lambda k: 1.0 - 0.9 * k / 100)`` is micrograd's demo's schedule. The
    optimizer checks each value as its constructor does: a negative or non-finite one
    raises ValueError before the step, which then does not happen.
    """

    def __init__(self, schedule: Callable[[int], float]) -> None:
        if not callable(schedule):
            raise TypeError(f"LRSchedule takes a function of the step number; got {type(schedule).__name__}")
        self.schedule = schedule

    def on_step_begin(self, state: FitState) -> None:
        state.optimizer.lr = self.schedule(state.step)

    def __repr__(self) -> str:
        return f"LRSchedule({getattr(self.schedule, '__name__', self.schedule)!s})"


def hooks_of(callbacks: Any) -> dict[str, list[Callable[[FitState], None]]]:
    """The callbacks' bound hooks by name, in the order given; a clear error for anything else."""
    if callbacks is None:
        callbacks = []
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"fit(): callbacks must be a list of callback objects; got {type(callbacks).__name__}")
    found: dict[str, list[Callable[[FitState], None]]] = {name: [] for name in HOOKS}
    for i, callback in enumerate(callbacks):
        methods = {name: getattr(callback, name, None) for name in HOOKS}
        if not any(callable(method) for method in methods.values()):
            raise TypeError(
                f"fit(): callback {i} ({type(callback).__name__}) has none of the hooks {', '.join(HOOKS)};"
                " subclass nn.Callback and override one (a plain function is not a callback: for a"
                " learning-rate schedule use nn.LRSchedule(function))"
            )
        for name, method in methods.items():
            if callable(method):
                found[name].append(method)
    return found
