"""nn on ``autograd.compile``: fit's per-sample step and the models' ``predict``.

``autograd.compile`` traces one sample's graph and replays it over a batch with
NumPy. :func:`nn.fit` uses it for the named losses: per sample it compiles
``loss(model(x), t)``, with the model's outputs replayed alongside (for the
accuracy), and runs the same batches, callbacks and optimizer steps as the eager
loop. :meth:`nn.Module.predict` compiles ``model(x)`` to get a batch's outputs.
Where a graph cannot be replayed (its structure depends on the data, an op has
no array rules, the loss is a callable over the whole batch), both fall back to
the eager engine and say why with a :class:`NotCompiledWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import autograd
from autograd import Value

from .losses import _class_index, check_bce_target, check_hinge_label, check_probability

__all__ = ["NotCompiledWarning", "compiled_fit_step", "predict"]

class NotCompiledWarning(UserWarning):
    """``nn.fit`` or ``predict`` runs eagerly because the model or loss does not compile (the message says why).

    Silence it with ``warnings.simplefilter("ignore", nn.NotCompiledWarning)``, or
    pass ``compiled=False`` to ``nn.fit``.
    """


def not_compiled(who: str, reason: str, stacklevel: int) -> None:
    """Warn that ``who`` runs eagerly, and why; ``stacklevel`` as warnings.warn's, from the caller."""
    warnings.warn(f"{who}: running eagerly (not compiled): {reason}", NotCompiledWarning, stacklevel=stacklevel + 1)


def _numbers(rows: Sequence[Any], what: str) -> np.ndarray | str:
    """rows as a float64 array, or the reason they cannot be one (ragged rows, Values among them)."""
    try:
        array = np.asarray(rows)
    except ValueError:
        return f"{what} is not a rectangular array of numbers (rows of different lengths)"
    if array.dtype.kind not in "biuf":
        return f"{what} holds {array.dtype} items, not plain numbers (Values or objects are run eagerly)"
    return array.astype(np.float64)


class CompiledFitStep:
    """One compiled training step of :func:`nn.fit`: ``run(batch)`` does zero_grad and the
    batch's forward and backward pass, and returns the batch loss and the count of right
    predictions (from the outputs before the update), as fit's eager step does."""

    def __init__(
        self,
        step: Any,
        X: np.ndarray,
        T: np.ndarray,
        zero_grad: Callable[[], None],
        rule: tuple[str, float, float] | None,
        probabilities: bool,
    ) -> None:
        self.step, self.X, self.T, self.zero_grad = step, X, T, zero_grad
        self.rule, self.probabilities = rule, probabilities
        if rule is not None and rule[0] == "argmax" and T.ndim == 2:
            self.labels = T.argmax(axis=1)  # one-hot rows
        else:
            self.labels = T

    def run(self, batch: list[int]) -> tuple[float, int]:
        index = np.asarray(batch)
        self.zero_grad()
        loss = float(self.step.backward(self.X[index], self.T[index]))
        outputs = self.step.extra
        if self.probabilities:  # bce_loss's check of every prediction (the replay runs it only on the traced sample)
            flat = outputs.ravel()
            bad = ~((flat >= 0.0) & (flat <= 1.0))  # nan too
            if bad.any():
                i = int(bad.argmax())
                check_probability(float(flat[i]), i)
        return loss, self._right(outputs, index)

    def _right(self, outputs: np.ndarray, index: np.ndarray) -> int:
        if self.rule is None:
            return 0
        kind, output_threshold, target_threshold = self.rule
        if kind == "argmax":
            predicted = _first_largest(outputs.reshape(len(index), -1))
            return int(np.count_nonzero(predicted == self.labels[index]))
        right = (outputs > output_threshold) == (self.T[index] > target_threshold)
        if right.ndim == 2:  # several outputs (multi-label): right when all are
            right = right.all(axis=1)
        return int(np.count_nonzero(right))


def _first_largest(scores: np.ndarray) -> np.ndarray:
    """Each row's predicted class as the eager loop picks it, ``max(range(k), key=scores.__getitem__)``:
    the first score that no later one exceeds. NumPy's argmax differs where a score is nan
    (nan wins there; for Python's max, no comparison with nan is true)."""
    predicted = np.zeros(len(scores), dtype=np.int64)
    best = scores[:, 0].copy()
    for j in range(1, scores.shape[1]):
        larger = scores[:, j] > best
        predicted[larger] = j
        best[larger] = scores[larger, j]
    return predicted


def compiled_fit_step(
    model: Callable[[Any], Any],
    params: list[Value],
    loss_fn: Callable[[Any, Any], Value],
    loss_name: str | None,
    samples: list[Any],
    targets: list[Any],
    zero_grad: Callable[[], None],
    rule: tuple[str, float, float] | None,
) -> CompiledFitStep | str | None:
    """fit's compiled step, or the reason there is none, or None when the data does not suit
    the model or loss (the eager loop then raises its error at the first batch).

    A label that the loss refuses raises here, before any step.
    """
    if loss_name is None:
        return "the loss is a callable over the batch's lists of outputs and targets, which fit cannot split per sample (the named losses compile)"
    X = _numbers(samples, "X")
    if isinstance(X, str):
        return X
    T = _numbers(targets, "y")
    if isinstance(T, str):
        return _eager_error_or(model, loss_fn, samples[:2], targets[:2], T)
    if loss_name == "cross_entropy":
        if T.ndim != 1:
            return _eager_error_or(model, loss_fn, samples[:2], targets[:2], "y is not one class index per sample")
        try:
            first = _outputs(model(samples[0]))
        except Exception:  # noqa: BLE001 - the eager loop raises it, with its message
            return None
        if not isinstance(first, list):  # one output: the eager loss says what cross_entropy needs
            return _eager_error_or(model, loss_fn, samples[:2], targets[:2], "the model gives one output per sample")
        T = np.array([_class_index(t, len(first), "cross_entropy") for t in targets], dtype=np.int64)
    else:
        for i, t in enumerate(T.ravel().tolist()):
            if loss_name == "hinge":
                check_hinge_label(t, i)
            elif loss_name == "bce":
                check_bce_target(t, i)

    def per_sample(x: list[Value], t: Any) -> tuple[Value, Any]:
        outputs = _outputs(model(x))
        return loss_fn(outputs, t), outputs

    try:
        step = autograd.compile(per_sample, params)
        # traced on all the samples: the structure check compares the first with up to 32 others
        # spread over the whole training set, not just the first batch
        step.trace(X, T)
    except (ValueError, TypeError) as error:  # CompileError is a ValueError
        return _eager_error_or(model, loss_fn, samples[:2], targets[:2], _reason(error))
    return CompiledFitStep(step, X, T, zero_grad, rule, probabilities=loss_name == "bce")


def _outputs(out: Any) -> Any:
    """A model's outputs for compile: a tuple of Values as a list (compile reads a tuple as a pair (result, extra))."""
    return list(out) if isinstance(out, tuple) else out


def _reason(error: Exception) -> str:
    return str(error) if isinstance(error, autograd.CompileError) else f"{type(error).__name__}: {error}"


def _eager_error_or(
    model: Callable[[Any], Any], loss_fn: Callable[[Any, Any], Value], samples: list[Any], targets: list[Any], reason: str
) -> str | None:
    """The reason, or None when the eager loop fails on these samples too: the data does not
    suit the model or loss, and the eager loop's error (which names the batch) is the clear one."""
    try:
        loss_fn([model(x) for x in samples], list(targets))
    except Exception:
        return None
    return reason


# --- predict --------------------------------------------------------------------------------------------


def predict(model: Any, X: Any) -> np.ndarray:
    """The model's outputs for the rows of X: (B,) for one output, (B, k) for k (see Module.predict)."""
    name = model._signature()
    if isinstance(X, (str, bytes)) or not isinstance(X, (Sequence, np.ndarray)):
        raise TypeError(f"{name}.predict takes a 2-D array of rows (samples × inputs); got {type(X).__name__}")
    rows = _numbers(X, "X")
    if isinstance(rows, str):
        raise TypeError(f"{name}.predict takes a 2-D array of numbers; {rows}")
    nin = getattr(model, "nin", None)
    if rows.ndim != 2:
        one = " (for one sample use model(x), or predict([x]))" if rows.ndim == 1 else ""
        raise ValueError(f"{name}.predict takes a 2-D array of rows (samples × inputs); got shape {rows.shape}{one}")
    if len(rows) == 0:
        raise ValueError(f"{name}.predict got no rows (X has shape {rows.shape})")
    if isinstance(nin, int) and rows.shape[1] != nin:
        raise ValueError(f"{name}.predict takes rows of {nin} inputs; got rows of {rows.shape[1]} (X has shape {rows.shape})")
    step = _predict_step(model, rows)
    if step is not None:
        try:
            return np.asarray(step(rows), dtype=np.float64)
        except autograd.CompileError as error:  # a retrace that failed: eager from now on
            model._predict_cache = (model._predict_cache[0], None)
            not_compiled(f"{type(model).__name__}.predict", str(error), stacklevel=3)
    with autograd.no_grad():
        outputs = [model(row) for row in rows.tolist()]
    return np.array([[o.data for o in out] if isinstance(out, (list, tuple)) else out.data for out in outputs])


def _predict_step(model: Any, rows: np.ndarray) -> Any:
    """The compiled ``model(x)``, cached on the model (None: it does not compile); traced
    again when the model's parameters are other Values than at the last trace."""
    params = model.parameters()
    cached = getattr(model, "_predict_cache", None)
    if cached is not None and len(cached[0]) == len(params) and all(a is b for a, b in zip(cached[0], params)):
        return cached[1]
    if not autograd.is_grad_enabled():  # inside no_grad a trace would record no graph: eager, this time
        return None
    step = None
    try:
        step = autograd.compile(lambda x: _outputs(model(x)), params)
        step.trace(rows)  # the structure check compares the first row with up to 32 others of X
    except (ValueError, TypeError) as error:
        step = None
        not_compiled(f"{type(model).__name__}.predict", _reason(error), stacklevel=4)
    model._predict_cache = (params, step)
    return step
