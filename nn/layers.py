"""Neurons, layers and multi-layer perceptrons, initialised as micrograd does by default."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd import Value, dot

from .module import Module

__all__ = ["ACTIVATIONS", "INITS", "MLP", "Layer", "Neuron"]

Input = Sequence[float] | Sequence[Value] | np.ndarray

# Activation names and the Value method each applies; linear is the identity (None: no node).
ACTIVATIONS: dict[str, Callable[[Value], Value] | None] = {
    "linear": None,
    "relu": Value.relu,
    "leaky_relu": Value.leaky_relu,  # slope 0.01
    "elu": Value.elu,  # alpha 1
    "sigmoid": Value.sigmoid,
    "tanh": Value.tanh,
    "step": Value.step,
}


def _uniform_bound(nin: int, fan_out: int) -> float:
    return 1.0


def _xavier_bound(nin: int, fan_out: int) -> float:
    return math.sqrt(6.0 / (nin + fan_out))


def _he_bound(nin: int, fan_out: int) -> float:
    return math.sqrt(6.0 / nin)


# Weight initialisation schemes: each weight is drawn from uniform(-bound, bound), biases are 0.
INITS: dict[str, Callable[[int, int], float]] = {
    "uniform": _uniform_bound,  # micrograd's: uniform(-1, 1)
    "xavier": _xavier_bound,  # Glorot: bound √(6 / (fan_in + fan_out)), for tanh and sigmoid
    "he": _he_bound,  # Kaiming: bound √(6 / fan_in), for ReLU
}


def _activation(name: object, who: str) -> Callable[[Value], Value] | None:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{who}: unknown activation {name!r}; accepted: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _with_nonlin(activation: str, nonlin: object, who: str) -> str:
    """The activation, with micrograd's ``nonlin=True/False`` (ReLU or linear) accepted for its code."""
    if nonlin is None:
        return activation
    if not isinstance(nonlin, bool):
        raise TypeError(f"{who}: nonlin (micrograd's switch) must be True or False; got {nonlin!r:.60}")
    if activation != "relu":
        raise ValueError(f"{who}: give activation={activation!r} or micrograd's nonlin={nonlin}, not both")
    return "relu" if nonlin else "linear"


def _size(n: object, what: str, who: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{who}: {what} must be a positive int; got {n!r}")
    return int(n)


def _rng(rng: object, who: str) -> Any:
    if rng is None:
        return random  # the global generator, as micrograd uses
    if not isinstance(rng, random.Random):
        raise TypeError(f"{who}: rng must be a random.Random (or None for the global random module); got {type(rng).__name__}")
    return rng


def _bound(init: object, nin: int, fan_out: int, who: str) -> float:
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"{who}: unknown init {init!r}; accepted: {', '.join(INITS)}")
    return INITS[init](nin, fan_out)


def _row(x: np.ndarray, module: Module) -> list[Any]:
    """A 1-D NumPy row as a list of Python numbers (fast for the engine); other shapes are refused."""
    if x.ndim != 1:
        raise ValueError(
            f"{module._signature()} takes one sample, a 1-D row; got an array of shape {x.shape} "
            "(for a batch, call it on each row)"
        )
    return x.tolist()


def _check_sample(x: object, nin: int, module: Module) -> None:
    """A clear error, naming the model, unless x is one sample of nin inputs (cheap for a list or tuple)."""
    kind = x.__class__
    if kind is not list and kind is not tuple and (isinstance(x, (str, bytes)) or not isinstance(x, (Sequence, np.ndarray))):
        raise TypeError(f"{module._signature()} takes {_one_sample(nin)}; got {type(x).__name__} {x!r:.60}")
    if len(x) != nin:  # type: ignore[arg-type]
        raise ValueError(f"{module._signature()} takes {nin} inputs; got {len(x)}")  # type: ignore[arg-type]


def _bad_inputs(x: object, nin: int, module: Module, error: TypeError) -> TypeError:
    """The error for a sample of the right length whose items are not numbers (the engine found out)."""
    return TypeError(f"{module._signature()} takes {_one_sample(nin)}; got {x!r:.80}, and {error}")


def _one_sample(nin: int) -> str:
    return f"one sample: a list of {nin} numbers or Values, or a 1-D NumPy row"


class Neuron(Module):
    """activation(Σ w_i·x_i + b): one ``autograd.dot`` node, then the activation's node.

    Args:
        nin: number of inputs.
        activation: one of ``ACTIVATIONS`` ("linear", "relu", "leaky_relu", "elu",
            "sigmoid", "tanh", "step").
        init: "uniform" (micrograd's: each weight from uniform(-1, 1)), "xavier" or
            "he"; the bias starts at 0. Weights are drawn in order, then the bias
            is made, as micrograd does.
        rng: a ``random.Random`` to draw from; None draws from the global ``random``
            module (so ``random.seed(s)`` reproduces micrograd's weights).
        fan_out: the width of the layer the neuron belongs to (used by "xavier").
        nonlin: micrograd's switch, for its code: True is ReLU, False linear.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        init: str = "uniform",
        rng: random.Random | None = None,
        *,
        fan_out: int = 1,
        nonlin: bool | None = None,
    ) -> None:
        self.nin = _size(nin, "nin", "Neuron")
        activation = _with_nonlin(activation, nonlin, "Neuron")
        self._activate = _activation(activation, "Neuron")
        self._activation = activation
        bound = _bound(init, self.nin, _size(fan_out, "fan_out", "Neuron"), "Neuron")
        uniform = _rng(rng, "Neuron").uniform
        self.w = [Value(uniform(-bound, bound)) for _ in range(self.nin)]
        self.b = Value(0)

    @property
    def activation(self) -> str:
        """The activation's name."""
        return self._activation

    def __call__(self, x: Input) -> Value:
        """The neuron's output for one sample ``x`` (numbers, Values or a 1-D NumPy row)."""
        _check_sample(x, self.nin, self)
        try:
            out = dot(self.w, x, bias=self.b)
        except TypeError as error:
            raise _bad_inputs(x, self.nin, self, error) from None
        activate = self._activate
        return out if activate is None else activate(out)

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "activation": self._activation}


class Layer(Module):
    """``nout`` neurons that read the same inputs.

    Calling it returns a list of Values, or a single Value when ``nout == 1`` (as
    micrograd does). Arguments as for :class:`Neuron`.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        init: str = "uniform",
        rng: random.Random | None = None,
        *,
        nonlin: bool | None = None,
    ) -> None:
        self.nin = _size(nin, "nin", "Layer")
        self.nout = _size(nout, "nout", "Layer")
        activation = _with_nonlin(activation, nonlin, "Layer")
        self._activate = _activation(activation, "Layer")
        self._activation = activation
        self.neurons = [Neuron(self.nin, activation, init, rng, fan_out=self.nout) for _ in range(self.nout)]

    @property
    def activation(self) -> str:
        """The activation's name."""
        return self._activation

    def __call__(self, x: Input) -> Value | list[Value]:
        """The layer's outputs for one sample ``x``."""
        if x.__class__ is np.ndarray:
            x = _row(x, self)  # type: ignore[arg-type]
        _check_sample(x, self.nin, self)
        try:
            out = self._forward(x)
        except TypeError as error:
            raise _bad_inputs(x, self.nin, self, error) from None
        return out[0] if len(out) == 1 else out

    def _forward(self, x: Sequence[Any]) -> list[Value]:
        """The outputs as a list, for an input already checked: what each neuron computes,
        with the per-neuron call and length check left out (this runs for every sample)."""
        out = [dot(neuron.w, x, bias=neuron.b) for neuron in self.neurons]
        activate = self._activate
        return out if activate is None else list(map(activate, out))

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nout": self.nout, "activation": self._activation}


class MLP(Module):
    """A multi-layer perceptron: layers of sizes ``nouts`` after ``nin`` inputs.

    Hidden layers use ``activation``, the last layer ``output_activation``; the
    defaults (ReLU, then linear) and the default init are micrograd's, so after
    ``random.seed(s)`` ``MLP(2, [16, 16, 1])`` holds the same weights as
    micrograd's. Calling the model on one sample returns a single Value when the
    last layer has one output, else a list of Values.

    Args:
        nin: number of inputs.
        nouts: the width of each layer, the last one being the output.
        activation, output_activation: names from ``ACTIVATIONS``.
        init, rng: as for :class:`Neuron`.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        init: str = "uniform",
        rng: random.Random | None = None,
    ) -> None:
        self.nin = _size(nin, "nin", "MLP")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, (Sequence, np.ndarray)) or len(nouts) == 0:
            raise ValueError(f"MLP: nouts must be a non-empty list of layer widths, such as [16, 16, 1]; got {nouts!r}")
        self.nouts = [_size(n, "each layer width in nouts", "MLP") for n in nouts]
        _activation(activation, "MLP")
        _activation(output_activation, "MLP (output_activation)")
        self._activation = activation
        self._output_activation = output_activation
        sizes = [self.nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], output_activation if i == last else activation, init, rng)
            for i in range(len(self.nouts))
        ]

    @property
    def activation(self) -> str:
        """The hidden layers' activation."""
        return self._activation

    @property
    def output_activation(self) -> str:
        """The last layer's activation."""
        return self._output_activation

    def __call__(self, x: Input) -> Value | list[Value]:
        """The model's output for one sample ``x`` (numbers, Values or a 1-D NumPy row)."""
        if x.__class__ is np.ndarray:
            x = _row(x, self)  # type: ignore[arg-type]
        _check_sample(x, self.nin, self)
        try:
            out = self.layers[0]._forward(x)
        except TypeError as error:  # an input that is not a number: only the first layer reads the inputs
            raise _bad_inputs(x, self.nin, self, error) from None
        for layer in self.layers[1:]:
            out = layer._forward(out)
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """The trainable Values: each neuron's weights then its bias, layer by layer (micrograd's order)."""
        if type(self) is MLP:  # the common case, called every training step: a flat comprehension
            params = [p for layer in self.layers for neuron in layer.neurons for p in (*neuron.w, neuron.b)]
            if len(set(map(id, params))) == len(params):
                return params
        # a subclass may hold more parameters, and tied ones are listed once: the general walk
        return super().parameters()

    def config(self) -> dict[str, Any]:
        return {
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self._activation,
            "output_activation": self._output_activation,
        }

    def __repr__(self) -> str:
        lines = [super().__repr__()]
        lines += [f"  layers.{i}: {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)
