"""Loss functions: each takes predictions and targets and returns one Value to call backward on.

Predictions and targets are single values or equally long lists (a list of
per-sample lists is flattened, as for a model with several outputs); targets may
be numbers, NumPy arrays or Values. ``reduction`` is "mean" (one
``autograd.mean`` node) or "sum" (one ``autograd.sum`` node); a single
prediction gives its own loss term.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

import autograd
from autograd import Value

__all__ = ["LOSSES", "bce_loss", "bce_with_logits", "cross_entropy", "hinge_loss", "l1_loss", "mse_loss"]

REDUCTIONS = ("mean", "sum")


def _is_scalar(x: object) -> bool:
    return x.__class__ is Value or (isinstance(x, numbers.Real) and not isinstance(x, bool)) or (
        isinstance(x, np.ndarray) and x.ndim == 0
    )


def _flat(x: object, what: str, who: str) -> list[Any]:
    """x as a flat list of scalars (a scalar becomes a list of one)."""
    if _is_scalar(x):
        return [x.item() if isinstance(x, np.ndarray) else x]
    if isinstance(x, np.ndarray):
        return x.ravel().tolist()
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{who}: {what} must be a Value, a number or a list of them; got {type(x).__name__}")
    flat: list[Any] = []
    for item in x:
        if _is_scalar(item):
            flat.append(item.item() if isinstance(item, np.ndarray) else item)
        elif isinstance(item, np.ndarray):
            flat.extend(item.ravel().tolist())
        elif isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
            flat.extend(item)
        else:
            raise TypeError(f"{who}: {what} must hold Values or numbers; got {type(item).__name__} {item!r:.60}")
    return flat


def _pairs(prediction: object, target: object, who: str) -> tuple[list[Any], list[Any]]:
    predictions = _flat(prediction, "predictions", who)
    targets = _flat(target, "targets", who)
    if len(predictions) != len(targets):
        shapes = _samples(prediction), _samples(target)
        if None not in shapes and shapes[0][0] == shapes[1][0]:  # type: ignore[index]
            (n, outputs), (_, wanted) = shapes  # type: ignore[misc]
            raise ValueError(
                f"{who}: the model gives {_count(outputs, 'output')} per sample, but each of the {n} samples has "
                f"{_count(wanted, 'target')}; the loss pairs each output with one target: give the model "
                f"{_count(wanted, 'output')} (or each sample {_count(outputs, 'target')})"
            )
        raise ValueError(f"{who}: got {len(predictions)} predictions and {len(targets)} targets; they must pair up")
    if not predictions:
        raise ValueError(f"{who}: got no predictions")
    return predictions, targets


def _samples(x: object) -> tuple[int, int] | None:
    """(samples, values per sample) for a list of samples of one width (a number is one value); else None."""
    if isinstance(x, np.ndarray):
        return (x.shape[0], x[0].size if x.shape[0] else 1) if x.ndim >= 1 else None
    if _is_scalar(x) or isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        return None
    widths = {1 if _is_scalar(item) else len(item) for item in x}
    return (len(x), widths.pop()) if len(widths) == 1 else None


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _reduce(terms: list[Value], reduction: str, who: str) -> Value:
    """One mean or sum node over the terms (checked by _check_reduction first)."""
    if len(terms) == 1:
        return terms[0]
    return autograd.mean(terms) if reduction == "mean" else autograd.sum(terms)


def _check_reduction(reduction: object, who: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{who}: unknown reduction {reduction!r}; accepted: {', '.join(REDUCTIONS)}")


def _data(x: Value | float) -> float:
    # a number as it is: autograd.compile's traced label must stay traced (float() would fix its value)
    return x.data if x.__class__ is Value else x  # type: ignore[union-attr, return-value]


def _as_value(x: Value | float) -> Value:
    return x if x.__class__ is Value else Value(x)  # type: ignore[return-value, arg-type]


def mse_loss(prediction: Any, target: Any, reduction: str = "mean") -> Value:
    """Squared error (p - t)², averaged or summed; d/dp = 2(p - t) per term."""
    _check_reduction(reduction, "mse_loss")
    predictions, targets = _pairs(prediction, target, "mse_loss")
    terms = [(_as_value(p) - t) ** 2 for p, t in zip(predictions, targets)]
    return _reduce(terms, reduction, "mse_loss")


def l1_loss(prediction: Any, target: Any, reduction: str = "mean") -> Value:
    """Absolute error |p - t|, averaged or summed; d/dp = sign(p - t) (0 at p = t)."""
    _check_reduction(reduction, "l1_loss")
    predictions, targets = _pairs(prediction, target, "l1_loss")
    terms = [abs(_as_value(p) - t) for p, t in zip(predictions, targets)]
    return _reduce(terms, reduction, "l1_loss")


def bce_loss(prediction: Any, target: Any, reduction: str = "mean", eps: float = 1e-12) -> Value:
    """Binary cross-entropy of probabilities: -(t·log p + (1 - t)·log(1 - p)).

    ``p`` must lie in [0, 1] (a sigmoid output); ``t`` in [0, 1] too (0/1 labels, or
    soft ones). ``p`` is clamped to [eps, 1 - eps] so that log never sees 0 (the
    loss stays finite, at most about 27.6 for the default eps; a clamped ``p`` gets
    no gradient, as with any clamp). The clamp is two ``maximum`` nodes on every
    term, whatever p is, so the graph's structure does not depend on the data
    (``autograd.compile`` replays it over a batch); at p = eps or 1 - eps exactly,
    p itself is the maximum's first operand and keeps its gradient. Both terms
    are built for every label (a term whose weight t or 1 - t is 0 adds an exact
    0). For raw scores, :func:`bce_with_logits` is the stable choice.
    """
    _check_reduction(reduction, "bce_loss")
    predictions, targets = _pairs(prediction, target, "bce_loss")
    terms = []
    for i, (p, t) in enumerate(zip(predictions, targets)):
        p_data, t_data = _data(p), _data(t)
        check_probability(p_data, i)
        check_bce_target(t_data, i)
        # min(max(p, eps), 1 - eps), branch-free: max(-max(p, eps), eps - 1) is -min(...)
        p = -autograd.maximum([-autograd.maximum([_as_value(p), eps]), eps - 1.0])
        # both terms always, even when t or 1 - t is 0 (0·log(...) is an exact 0, as the clamp
        # keeps log finite): leaving one out would make the graph depend on the label
        terms.append(-(t * p.log() + (1 - t) * (1 - p).log()))
    return _reduce(terms, reduction, "bce_loss")


def check_probability(p: float, i: int) -> None:
    """bce_loss's check of one prediction (nn.fit's compiled path runs it on the outputs too)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(
            f"bce_loss takes probabilities in [0, 1]; the prediction at index {i} is {p!r} (for raw scores use bce_with_logits)"
        )


def check_bce_target(t: float, i: int) -> None:
    """bce_loss's check of one target."""
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"bce_loss takes targets in [0, 1]; the target at index {i} is {t + 0.0!r}")


def bce_with_logits(prediction: Any, target: Any, reduction: str = "mean") -> Value:
    """Binary cross-entropy of a logit z (a raw score): softplus(z) - t·z.

    Equal to bce_loss(sigmoid(z), t), but stable for any z: no exp overflows and no
    log sees 0. d/dz = sigmoid(z) - t.
    """
    _check_reduction(reduction, "bce_with_logits")
    predictions, targets = _pairs(prediction, target, "bce_with_logits")
    terms = [_as_value(z).softplus() - t * z for z, t in zip(predictions, targets)]
    return _reduce(terms, reduction, "bce_with_logits")


def hinge_loss(prediction: Any, target: Any, reduction: str = "mean") -> Value:
    """micrograd's max-margin loss relu(1 - y·score), with labels y in {-1, +1}.

    Zero once a sample is on the right side with margin 1; d/dscore = -y inside the margin.
    """
    _check_reduction(reduction, "hinge_loss")
    predictions, targets = _pairs(prediction, target, "hinge_loss")
    terms = []
    for i, (score, y) in enumerate(zip(predictions, targets)):
        check_hinge_label(_data(y), i)
        terms.append((1 - y * _as_value(score)).relu())
    return _reduce(terms, reduction, "hinge_loss")


def check_hinge_label(y: float, i: int) -> None:
    """hinge_loss's check of one label."""
    if not abs(y) == 1.0:  # one comparison for both labels (a compiled step replays it as one branch)
        raise ValueError(f"hinge_loss takes labels -1 or +1; the target at index {i} is {y + 0.0!r} (from 0/1 labels use 2·y - 1)")


def _class_index(t: object, n_classes: int, who: str) -> int:
    if isinstance(t, bool) or not isinstance(t, (numbers.Integral, np.integer)):
        if isinstance(t, (float, np.floating)) and float(t).is_integer():
            t = int(t)
        else:
            raise TypeError(f"{who}: a target must be a class index (an int); got {type(t).__name__} {t!r:.60}")
    if not 0 <= t < n_classes:  # type: ignore[operator]
        raise ValueError(
            f"{who}: target class {t} is out of range for {n_classes} logits (classes 0..{n_classes - 1}); "
            "a model for k classes needs k outputs, one logit per class"
        )
    if not isinstance(t, (int, np.integer)):  # autograd.compile's traced label: kept, to pick each sample's class
        return t  # type: ignore[return-value]
    return int(t)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Value:
    """-log softmax(logits)[target]: the cross-entropy of a class index.

    ``logits`` is one sample's list of raw scores with ``target`` an int, or a list
    of such lists with a list of ints. Built on ``autograd.log_softmax``, so it is
    stable for any logits and d/dlogit_j = p_j - y_j, with y the one-hot target.
    """
    who = "cross_entropy"
    _check_reduction(reduction, who)
    if isinstance(logits, np.ndarray):
        logits = logits.tolist()
    if isinstance(logits, (str, bytes)) or not isinstance(logits, Sequence) or not logits:
        raise TypeError(f"{who}: logits must be a non-empty list of Values (one sample) or a list of such lists")
    if _is_scalar(logits[0]):
        if not _is_scalar(target) and isinstance(target, (Sequence, np.ndarray)) and not isinstance(target, (str, bytes)):
            raise _single_scores(len(logits), list(target), who)
        samples, targets = [logits], [target]
    else:
        samples = [row.tolist() if isinstance(row, np.ndarray) else row for row in logits]
        if isinstance(target, np.ndarray):
            target = target.tolist()
        if isinstance(target, (str, bytes)) or not isinstance(target, Sequence):
            raise TypeError(f"{who}: for a list of samples, target must be a list of class indices; got {type(target).__name__}")
        targets = list(target)
        if len(samples) != len(targets):
            raise ValueError(f"{who}: got {len(samples)} samples of logits and {len(targets)} targets; they must pair up")
    terms = []
    for row, t in zip(samples, targets):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or not row:
            raise TypeError(f"{who}: each sample's logits must be a non-empty list; got {type(row).__name__}")
        index = _class_index(t, len(row), who)
        terms.append(-autograd.log_softmax(row)[index])
    return _reduce(terms, reduction, who)


def _single_scores(n_logits: int, targets: list[Any], who: str) -> Exception:
    """The error for one list of scores given with a list of targets."""
    if len(targets) != n_logits:
        return TypeError(
            f"{who}: logits is one sample's list of {n_logits} scores, so target must be one class index; "
            f"got a list of {len(targets)} (for a batch, pass one list of logits per sample)"
        )
    labels = [t for t in targets if isinstance(t, (numbers.Integral, np.integer)) and not isinstance(t, bool) and t >= 0]
    classes = int(max(labels)) + 1 if len(labels) == len(targets) else None
    per_class = f"{classes} here, for targets 0..{classes - 1}" if classes else "one per class"
    return ValueError(
        f"{who}: got {n_logits} single scores for {len(targets)} targets: the model has 1 output per sample, "
        f"but cross_entropy needs one output (a logit) per class ({per_class}); "
        f"give the model's last layer {classes or 'k'} outputs, as in nn.MLP(nin, [16, {classes or 'k'}])"
    )


# Losses by the names nn.fit accepts.
LOSSES = {
    "mse": mse_loss,
    "l1": l1_loss,
    "bce": bce_loss,
    "bce_with_logits": bce_with_logits,
    "cross_entropy": cross_entropy,
    "hinge": hinge_loss,
}
