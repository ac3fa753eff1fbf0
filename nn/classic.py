"""The lectures' classic single-neuron learners: Rosenblatt's perceptron and Widrow-Hoff's Adaline.

Both keep their parameters as plain floats, ``weights`` (one per input) and
``bias`` (the lectures' w₀, the weight of a constant input x₀ = 1).

Conventions, as the lecture notes write them:

- Perceptron with ``labels=(0, 1)`` (notes 000, 001, 003): step activation,
  h(a) = 1 if a > 0 else 0, so **step(0) = 0** (the same as ``Value.step``).
- Perceptron with ``labels=(-1, 1)`` and Adaline (notes 002): sign activation,
  φ(z) = 1 if z ≥ 0 else -1, so **sign(0) = +1**.
- Perceptron rule (all notes): w ← w + η(y − o)x, one sample at a time, with
  the labels used as numbers; with ±1 labels a mistake moves w by ±2η·x.
- Adaline (notes 002): J(w) = ½ Σᵢ (yᵢ − w·xᵢ − b)², a *sum* over the batch with
  a factor ½, so one batch step is w ← w + η Σᵢ (yᵢ − w·xᵢ − b) xᵢ. This is the
  only convention under which the notes' worked step (bias −0.4 → −0.54,
  weights 0.6 → 0.55 at η = 0.05 on AND) comes out; ``reduction="mean"`` uses
  ½·mean instead, which keeps η independent of the data-set size.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

import autograd
from autograd import Value

__all__ = ["Adaline", "AdalineFit", "ConvergenceWarning", "Perceptron", "PerceptronFit"]

_LABEL_SETS = ((0, 1), (-1, 1))


class ConvergenceWarning(UserWarning):
    """A perceptron's ``fit`` used up its epochs and still made mistakes (XOR, for one)."""


@dataclass(frozen=True)
class PerceptronFit:
    """What :meth:`Perceptron.fit` did.

    Attributes:
        converged: True when the last epoch made no mistake (the data are then separated).
        epochs: how many epochs ran, the error-free one included.
        errors: mistakes (that is, updates) in each epoch, in order.
    """

    converged: bool
    epochs: int
    errors: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AdalineFit:
    """What :meth:`Adaline.fit` did: one entry per epoch (one batch step each).

    Attributes:
        loss: the cost J(w) at the start of each epoch, before its step.
        errors: samples whose sign(w·x + b) differed from the target, before the step.
    """

    loss: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """How many epochs (batch steps) ran."""
        return len(self.loss)


# --- validation helpers -----------------------------------------------------------------


def _real(value: object, what: str) -> float:
    """value as a finite float, or a clear TypeError/ValueError."""
    if isinstance(value, Value):
        value = value.data
    if isinstance(value, (str, bytes)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number; got {type(value).__name__} {value!r:.60}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite; got {number!r}")
    return number


def _row(x: object, nin: int, what: str) -> list[float]:
    """One sample as nin floats: a list/tuple of numbers (or Values) or a 1-D NumPy row."""
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(f"{what} must be one sample (a 1-D row); got an array of shape {x.shape}")
        x = x.tolist()
    if isinstance(x, (str, bytes, Value)) or not isinstance(x, Iterable):
        raise TypeError(f"{what} must be a sequence of {nin} numbers; got {type(x).__name__} {x!r:.60}")
    items = list(x)
    if len(items) != nin:
        raise ValueError(f"{what} must have {nin} values (nin={nin}); got {len(items)}: {items!r:.80}")
    return [_real(v, f"{what}[{i}]") for i, v in enumerate(items)]


def _rows(X: object, nin: int) -> list[list[float]]:
    """A batch of samples: a 2-D array-like with nin columns."""
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, one row per sample; got an array of shape {X.shape}")
        X = X.tolist()
    if isinstance(X, (str, bytes)) or not isinstance(X, Iterable):
        raise TypeError(f"X must be a sequence of samples; got {type(X).__name__}")
    rows = [_row(x, nin, f"X[{i}]") for i, x in enumerate(X)]
    if not rows:
        raise ValueError("X must hold at least one sample; got none")
    return rows


def _label(value: object, allowed: Sequence[int], what: str) -> int:
    """One target label, which must be one of allowed."""
    number = _real(value, what)
    if number not in allowed:
        hint = " (0/1 labels convert with 2 * y - 1)" if tuple(allowed) == (-1, 1) and number == 0 else ""
        raise ValueError(f"{what} must be one of {tuple(allowed)}; got {value!r}{hint}")
    return int(number)


def _targets(y: object, n: int, allowed: Sequence[int]) -> list[int]:
    """Targets: n labels, each one of allowed."""
    if isinstance(y, np.ndarray):
        y = y.tolist()
    if isinstance(y, (str, bytes)) or not isinstance(y, Iterable):
        raise TypeError(f"y must be a sequence of labels; got {type(y).__name__}")
    labels = list(y)
    if len(labels) != n:
        raise ValueError(f"y must have one label per sample of X ({n}); got {len(labels)}")
    return [_label(label, allowed, f"y[{i}]") for i, label in enumerate(labels)]


def _epochs(epochs: object) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be a positive int; got {epochs!r}")
    return int(epochs)


def _nin(nin: object) -> int:
    if isinstance(nin, bool) or not isinstance(nin, numbers.Integral) or nin < 1:
        raise ValueError(f"nin (the number of inputs) must be a positive int; got {nin!r}")
    return int(nin)


def _lr(lr: object) -> float:
    rate = _real(lr, "lr")
    if rate <= 0:
        raise ValueError(f"lr must be positive; got {rate!r}")
    return rate


class _LinearUnit:
    """Shared parts: nin weights and a bias as floats, validated on every assignment."""

    def __init__(self, nin: int, lr: float, weights: Sequence[float] | None, bias: float | None) -> None:
        self.nin = _nin(nin)
        self.lr = lr
        self.weights = [0.0] * self.nin if weights is None else weights
        self.bias = 0.0 if bias is None else bias

    @property
    def lr(self) -> float:
        """The learning rate η (positive)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _lr(value)

    @property
    def weights(self) -> list[float]:
        """The weights, one per input, as a new list (assign a sequence to change them)."""
        return list(self._w)

    @weights.setter
    def weights(self, values: Sequence[float]) -> None:
        self._w = _row(values, self.nin, "weights")

    @property
    def bias(self) -> float:
        """The bias b (the lectures' w₀)."""
        return self._b

    @bias.setter
    def bias(self, value: float) -> None:
        self._b = _real(value, "bias")

    def net_input(self, x: Sequence[float]) -> float:
        """w·x + b for one sample, as one correctly rounded sum (``autograd.dot``)."""
        with autograd.no_grad():
            return autograd.dot(self._w, _row(x, self.nin, "x"), bias=self._b).data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nin={self.nin}, lr={self.lr!r}, weights={self._w!r}, bias={self._b!r})"


class Perceptron(_LinearUnit):
    """Rosenblatt's perceptron: o = h(w·x + b), learned by w ← w + η(y − o)x.

    Args:
        nin: number of inputs.
        lr: the learning rate η.
        weights: initial weights (nin numbers); zeros if None.
        bias: initial bias; 0 if None.
        labels: (0, 1) for the step activation (notes 000/001/003, step(0) = 0) or
            (-1, 1) for the sign activation (notes 002, sign(0) = +1).
    """

    def __init__(
        self,
        nin: int,
        lr: float = 0.1,
        weights: Sequence[float] | None = None,
        bias: float | None = None,
        labels: tuple[int, int] = (0, 1),
    ) -> None:
        if not isinstance(labels, (tuple, list)) or tuple(labels) not in _LABEL_SETS:
            raise ValueError(f"labels must be (0, 1) (step activation) or (-1, 1) (sign activation); got {labels!r}")
        self.labels: tuple[int, int] = (int(labels[0]), int(labels[1]))
        super().__init__(nin, lr, weights, bias)

    def _activate(self, z: float) -> int:
        if self.labels == (0, 1):
            return 1 if z > 0 else 0  # step(0) = 0, as notes 000 write h(a)
        return 1 if z >= 0 else -1  # sign(0) = +1, as notes 002 write φ(z)

    def predict(self, x: Sequence[float]) -> int:
        """The label h(w·x + b) for one sample: 0/1 or -1/1 according to ``labels``."""
        return self._activate(self.net_input(x))

    def update(self, x: Sequence[float], y: int) -> bool:
        """One step of the rule on one sample; returns True if it changed the parameters.

        w_i ← w_i + η(y − o)x_i and b ← b + η(y − o): nothing changes when o = y.
        """
        row = _row(x, self.nin, "x")
        target = _label(y, self.labels, "y")
        output = self._activate(self.net_input(row))
        if output == target:
            return False
        delta = self.lr * (target - output)
        self._w = [w + delta * xi for w, xi in zip(self._w, row)]
        self._b = self._b + delta
        return True

    def fit(self, X: Sequence[Sequence[float]], y: Sequence[int], epochs: int = 100) -> PerceptronFit:
        """Sweep the samples in the given order, updating after each mistake, until an epoch makes none.

        Stops after ``epochs`` sweeps at the latest: on data no line separates (XOR)
        the rule never settles, so ``fit`` then returns ``converged=False`` and
        warns with a :class:`ConvergenceWarning`.
        """
        rows = _rows(X, self.nin)
        targets = _targets(y, len(rows), self.labels)
        limit = _epochs(epochs)
        errors: list[int] = []
        for _ in range(limit):
            errors.append(sum(self.update(row, target) for row, target in zip(rows, targets)))
            if errors[-1] == 0:
                return PerceptronFit(converged=True, epochs=len(errors), errors=errors)
        warnings.warn(
            f"Perceptron.fit: still {errors[-1]} mistake(s) in epoch {limit}, the last one allowed; "
            "the data may not be linearly separable (XOR is not)",
            ConvergenceWarning,
            stacklevel=2,
        )
        return PerceptronFit(converged=False, epochs=limit, errors=errors)


class Adaline(_LinearUnit):
    """Widrow-Hoff's Adaline: the delta rule on a linear output, predicting sign(w·x + b).

    Training minimises J(w) = ½ Σᵢ (yᵢ − (w·xᵢ + b))² over ±1 targets by batch
    gradient descent; the gradient comes from ``backward()`` on J. Notes 002
    write J with a sum and ½, which gives ∂J/∂w_j = −Σᵢ (yᵢ − w·xᵢ − b) x_ij.

    Args:
        nin: number of inputs.
        lr: the learning rate η.
        weights: initial weights (nin numbers); zeros if None.
        bias: initial bias; 0 if None.
        reduction: "sum" (the lecture's ½Σ) or "mean" (½ times the mean).
    """

    def __init__(
        self,
        nin: int,
        lr: float = 0.01,
        weights: Sequence[float] | None = None,
        bias: float | None = None,
        reduction: str = "sum",
    ) -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f'reduction must be "sum" (the lecture\'s ½Σ) or "mean"; got {reduction!r}')
        self.reduction = reduction
        super().__init__(nin, lr, weights, bias)

    def predict(self, x: Sequence[float]) -> int:
        """sign(w·x + b) for one sample: -1 or 1, with sign(0) = +1 (notes 002)."""
        return 1 if self.net_input(x) >= 0 else -1

    def cost(self, X: Sequence[Sequence[float]], y: Sequence[int]) -> float:
        """J(w) = ½ Σ (y − w·x − b)² (or ½·mean) over the batch, without changing anything."""
        rows = _rows(X, self.nin)
        targets = _targets(y, len(rows), (-1, 1))
        with autograd.no_grad():
            return self._cost(self._w, self._b, rows, targets).data

    def _cost(self, w: list, b: float | Value, rows: list[list[float]], targets: list[int]) -> Value:
        squares = [(t - autograd.dot(w, row, bias=b)) ** 2 for row, t in zip(rows, targets)]
        total = autograd.sum(squares) if self.reduction == "sum" else autograd.mean(squares)
        return 0.5 * total

    def gradient_step(self, X: Sequence[Sequence[float]], y: Sequence[int]) -> float:
        """One batch step w ← w − η ∂J/∂w, b ← b − η ∂J/∂b; returns J before the step."""
        rows = _rows(X, self.nin)
        targets = _targets(y, len(rows), (-1, 1))
        return self._step(rows, targets)

    def _step(self, rows: list[list[float]], targets: list[int]) -> float:
        w = [Value(v) for v in self._w]
        b = Value(self._b)
        loss = self._cost(w, b, rows, targets)
        loss.backward()
        self._w = [p.data - self.lr * p.grad for p in w]
        self._b = b.data - self.lr * b.grad
        return loss.data

    def fit(self, X: Sequence[Sequence[float]], y: Sequence[int], epochs: int = 50) -> AdalineFit:
        """``epochs`` batch steps on (X, y) with targets -1/1; the cost and mistakes per epoch.

        Labels 0/1 (``nn.data``'s) convert with ``2 * y - 1``.
        """
        rows = _rows(X, self.nin)
        targets = _targets(y, len(rows), (-1, 1))
        limit = _epochs(epochs)
        result = AdalineFit()
        for _ in range(limit):
            result.errors.append(sum(self.predict(row) != t for row, t in zip(rows, targets)))
            result.loss.append(self._step(rows, targets))
        return result
