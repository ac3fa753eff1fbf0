"""`fit`: the training loop, with a progress bar, returning the loss and accuracy per epoch."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from autograd import Value

from .losses import LOSSES
from .module import Module
from .optim import SGD, Adam, Optimizer

__all__ = ["OPTIMIZERS", "History", "fit"]

# Optimizers by the names fit accepts, with the learning rate used when none is given.
OPTIMIZERS: dict[str, tuple[type[Optimizer], float]] = {"sgd": (SGD, 0.1), "adam": (Adam, 1e-3)}


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch.

    ``loss`` is the mean training loss over the epoch's samples; ``accuracy`` the
    share of the epoch's predictions that were right, measured on the outputs the
    loss was computed from (before each batch's update, as micrograd's demo
    reports it), or nan when the targets are not class labels. Also readable as
    ``history["loss"]`` and ``history["accuracy"]``.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

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
    progress: bool = True,
    seed: int | None = None,
    lr: float | None = None,
    shuffle: bool = True,
) -> History:
    """Train ``model`` on samples ``X`` with targets ``y`` and return the :class:`History`.

    Each batch: outputs ``model(x)`` for its samples, one loss over them,
    ``zero_grad``, ``backward``, ``optimizer.step()``.

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
        progress: show a tqdm progress bar (a widget in Jupyter, text in a
            terminal) with the running loss.
        seed: seeds the shuffling of mini-batches (a private ``random.Random``:
            no global random state is read or changed).
        lr: learning rate for an optimizer given by name.
        shuffle: shuffle the samples every epoch when ``batch_size`` is set.
    """
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
    loss_fn, loss_name = _loss(loss)
    opt = _optimizer(optimizer, model, lr)
    is_right = _accuracy_rule(loss_name, targets)

    n = len(samples)
    size = n if batch_size is None else min(int(batch_size), n)
    order = list(range(n))
    rng = random.Random(seed) if size < n and shuffle else None
    history = History()
    with tqdm(total=int(epochs), desc="fit", unit="epoch", disable=not progress) as bar:
        for _ in range(int(epochs)):
            if rng is not None:
                rng.shuffle(order)
            total_loss, right = 0.0, 0
            for start in range(0, n, size):
                batch = order[start : start + size]
                outputs = [model(samples[i]) for i in batch]
                batch_targets = [targets[i] for i in batch]
                value = loss_fn(outputs, batch_targets)
                if value.__class__ is not Value:
                    raise TypeError(f"fit(): the loss must return a Value; got {type(value).__name__}")
                opt.zero_grad()
                value.backward()
                opt.step()
                total_loss += value.data * len(batch)
                if is_right is not None:
                    right += sum(map(is_right, outputs, batch_targets))
                bar.set_postfix(loss=f"{total_loss / (start + len(batch)):.4g}", refresh=False)
            history.loss.append(total_loss / n)
            history.accuracy.append(right / n if is_right is not None else math.nan)
            if is_right is not None:
                bar.set_postfix(loss=f"{history.loss[-1]:.4g}", accuracy=f"{history.accuracy[-1]:.3f}", refresh=False)
            bar.update(1)
    return history


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


def _accuracy_rule(loss_name: str | None, targets: list[Any]) -> Callable[[Any, Any], bool] | None:
    """How to tell a right prediction for this loss and these targets; None when they are not labels."""
    if loss_name == "cross_entropy":
        return _argmax_matches
    if loss_name in ("hinge", "bce_with_logits"):
        return _above(0.0, 0.0 if loss_name == "hinge" else 0.5)
    if loss_name == "bce":
        return _above(0.5, 0.5)
    if all(isinstance(t, numbers.Real) for t in targets):
        labels = set(targets)
        if labels <= {0, 1}:
            return _above(0.5, 0.5)
        if labels <= {-1, 1}:
            return _above(0.0, 0.0)
        return None
    if all(isinstance(t, Sequence) and t and set(t) <= {0, 1} and sum(t) == 1 for t in targets):
        return _argmax_matches  # one-hot rows
    return None


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
