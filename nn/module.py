"""`Module`: the base of every model, holding its parameters under stable, readable names."""

from __future__ import annotations

import functools
import math
import numbers
import os
import reprlib
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autograd import Value

from . import compiled

__all__ = ["Module"]


class _ClassOrInstanceMethod:
    """A method that receives the class when called on the class, else the instance.

    ``MLP.load(path)`` builds a new model; ``model.load(path)`` loads into ``model``.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def __get__(self, instance: object, owner: type) -> Callable[..., Any]:
        return types.MethodType(self.function, owner if instance is None else instance)


class Module:
    """Base class of models: finds parameters in the model's public attributes.

    A subclass stores its parameters as attributes: a ``Value``, a list of Values,
    another ``Module`` or a list of Modules. They are found in the order the
    attributes were first assigned (the order of construction), under dotted names
    such as ``layers.0.neurons.3.w.1``. Attributes starting with ``_`` are skipped.
    """

    # --- parameters -------------------------------------------------------------------

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, Value)`` pairs in construction order; a Value shared twice is listed once."""
        found: list[tuple[str, Value]] = []
        _collect(self, "", found, {}, named=True)
        return found

    def parameters(self) -> list[Value]:
        """The trainable Values, in the order of :meth:`named_parameters`."""
        found: list[Value] = []
        _collect(self, "", found, {}, named=False)
        return found

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (leaves accumulate across backward calls)."""
        for p in self.parameters():
            p.grad = 0.0

    def tied_parameters(self) -> dict[str, str]:
        """``{alias: name}`` for every place that holds a parameter already listed under ``name``.

        Empty for a model without shared Values; after ``m.layers[1].neurons[0].w[0] =
        m.layers[0].neurons[0].w[0]`` it is ``{"layers.1.neurons.0.w.0": "layers.0.neurons.0.w.0"}``.
        """
        ties: dict[str, str] = {}
        _collect(self, "", [], {}, named=True, ties=ties)
        return ties

    def num_parameters(self) -> int:
        """How many scalar parameters the model has."""
        return len(self.named_parameters())

    # --- state ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, float]:
        """``{name: value}`` of every parameter, as plain floats (a copy)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Set the parameters from ``state`` (as made by :meth:`state_dict`).

        Everything is checked first (the same names, no more and no fewer, and a
        finite real number for each); on any error the model is left unchanged.

        Raises:
            TypeError: state is not a mapping, or a value is not a real number.
            ValueError: names are missing or unexpected, or a value is not finite.
        """
        self._load_state(state, "load_state_dict()")

    def _load_state(self, state: object, where: str) -> None:
        """Check ``state`` whole (errors name ``where``), then set the parameters from it."""
        values = self._checked_state(state, where)
        for (_, p), value in zip(self.named_parameters(), values):
            p.data = value

    def _checked_state(self, state: object, where: str) -> list[float]:
        """The state's values in parameter order, or an error naming what is wrong."""
        if not isinstance(state, Mapping):
            raise TypeError(f"{where} takes a mapping of parameter names to numbers; got {type(state).__name__}")
        names = [name for name, _ in self.named_parameters()]
        missing = [name for name in names if name not in state]
        unexpected = sorted(set(state) - set(names), key=str)
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {_few(missing)}")
            if unexpected:
                parts.append(f"unexpected {_few(unexpected)}")
            raise ValueError(
                f"{where}: the names do not match {type(self).__name__}'s {len(names)} parameters: " + "; ".join(parts)
            )
        values = []
        for name in names:
            value = state[name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{where}: parameter {name} must be a real number; got {type(value).__name__} {value!r:.60}")
            try:
                value = float(value)
            except OverflowError:  # an int beyond the float range: JSON allows 1 followed by 400 zeros
                raise ValueError(f"{where}: parameter {name} is an integer too large for a float (beyond ±1.8e308)") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: parameter {name} is {value}; only finite numbers are accepted")
            values.append(value)
        return values

    # --- batches ----------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """The outputs for each row of ``X`` (a 2-D array, samples × inputs), as a NumPy array.

        Shape (B,) when the model gives one output, (B, k) for k outputs; the numbers
        are ``[model(row) for row in X]``'s. The model's graph for one sample is
        compiled (``autograd.compile``) and replayed over all rows at once; the
        compiled step is kept on the model, reads the parameters' current values at
        every call (so it stays right after training) and is traced again when the
        parameters are other Values. A model that does not compile runs eagerly,
        with a :class:`nn.NotCompiledWarning` saying why.

        Raises:
            ValueError: X is not 2-D (one sample: ``model(x)``), is empty, or its
                rows are not ``nin`` wide.
            TypeError: X does not hold plain numbers.

        >>> import random
        >>> import nn
        >>> model = nn.MLP(2, [3, 2], rng=random.Random(0))
        >>> X = np.array([[0.5, -1.0], [2.0, 0.25], [0.0, 0.0]])
        >>> model.predict(X).shape
        (3, 2)
        >>> bool(np.allclose(model.predict(X)[1], [o.data for o in model(X[1])], rtol=1e-12))
        True
        """
        return compiled.predict(self, X)

    def __getstate__(self) -> dict[str, Any]:
        # predict's compiled step is a cache (and holds closures): copies and pickles leave it out
        state = dict(vars(self))
        state.pop("_predict_cache", None)
        return state

    # --- files ------------------------------------------------------------------------

    def config(self) -> dict[str, Any] | None:
        """The constructor arguments that rebuild this architecture (None: not rebuildable by nn.load)."""
        return None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the architecture and parameters to ``path`` as JSON, atomically (see :func:`nn.save`).

        Returns the path written, as a :class:`pathlib.Path` (as ``viz.Graph.save`` and ``viz.Player.save`` do).
        """
        from . import io

        return io.save(self, path)

    @_ClassOrInstanceMethod
    def load(self_or_cls: Any, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Any:
        """``MLP.load(path)`` builds the saved model; ``model.load(path)`` loads into ``model``.

        Loading into a model checks that the file holds the same architecture and
        every parameter before touching anything, and returns the model. A file larger
        than ``max_bytes`` (default ``nn.io.MAX_FILE_BYTES``, 64 MiB) is not read.
        """
        from . import io

        limit = io.MAX_FILE_BYTES if max_bytes is None else max_bytes
        if isinstance(self_or_cls, type):
            model = io.load(path, max_bytes=limit)
            if not isinstance(model, self_or_cls):
                raise TypeError(f"{self_or_cls.__name__}.load(): {os.fspath(path)!s} holds a {type(model).__name__}")
            return model
        return io.load_into(self_or_cls, path, max_bytes=limit)

    # --- display ----------------------------------------------------------------------

    def _signature(self) -> str:
        """The constructor call that describes this module, for repr."""
        return constructor_call(type(self).__name__, self.config() or {})

    def __repr__(self) -> str:
        return f"{self._signature()}  # {_count(self.num_parameters())}"


def constructor_call(name: str, config: Mapping[str, Any]) -> str:
    """``Name(key=value, ...)``: how a model's architecture reads in reprs and error messages."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in config.items())})"


def _collect(
    module: Module, prefix: str, found: list, seen: dict[int, str | None], named: bool, ties: dict[str, str] | None = None
) -> None:
    """Append the module's parameters (with their names when ``named``) to ``found``.

    ``seen`` maps the id of each Value found to its name (None when not ``named``);
    ``ties``, when given, receives ``{alias: name}`` for each Value met again.
    A plain loop that appends, not nested generators: ``parameters()`` runs once
    per training step, and the names are only built when asked for.
    """
    for attribute, value in vars(module).items():
        if attribute[0] == "_":
            continue
        _collect_value(value, prefix + attribute, found, seen, named, ties)


def _collect_value(
    value: object, name: str, found: list, seen: dict[int, str | None], named: bool, ties: dict[str, str] | None
) -> None:
    if value.__class__ is Value:
        _found(value, name, found, seen, named, ties)
    elif isinstance(value, Module):
        _collect(value, name + ".", found, seen, named, ties)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if item.__class__ is Value:
                _found(item, f"{name}.{i}" if named else name, found, seen, named, ties)
            elif isinstance(item, (Module, list, tuple)):
                _collect_value(item, f"{name}.{i}", found, seen, named, ties)


def _found(value: Value, name: str, found: list, seen: dict[int, str | None], named: bool, ties: dict[str, str] | None) -> None:
    """Record one place that holds ``value``: a new parameter, or (in ``ties``) another place of a known one."""
    key = id(value)
    if key not in seen:
        seen[key] = name if named else None
        found.append((name, value) if named else value)
    elif ties is not None:
        ties[name] = seen[key]  # type: ignore[assignment]


def _count(n: int) -> str:
    return f"{n} parameter" if n == 1 else f"{n} parameters"


_NAMES = reprlib.Repr()
_NAMES.maxstring = 80  # a name from a hostile file may be megabytes long


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(_NAMES.repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
