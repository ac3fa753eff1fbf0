"""Model files: JSON (never pickle), written atomically, read back only after every check.

A file holds::

    {"format": "gradtrace.nn", "version": 1,
     "architecture": {"class": "MLP", "config": {"nin": 2, "nouts": [16, 16, 1], ...}},
     "parameters": {"layers.0.neurons.0.w.0": 0.2768..., ...}}

Floats are written with ``repr``, so they read back bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import random
from typing import Any

from ._atomic import atomic_open
from .layers import MLP, Layer, Neuron
from .module import Module, constructor_call

__all__ = ["FORMAT", "VERSION", "ModelFileError", "load", "load_into", "save"]

FORMAT = "gradtrace.nn"
VERSION = 1

# The classes nn.load can rebuild from a file's architecture.
BUILDERS: dict[str, type[Module]] = {"Neuron": Neuron, "Layer": Layer, "MLP": MLP}


class ModelFileError(ValueError):
    """A model file cannot be read: not JSON, truncated, another format or version, or another model."""


def save(model: Module, path: str | os.PathLike[str]) -> None:
    """Write ``model``'s architecture and parameters to ``path`` as JSON.

    The file is written to a temporary file in the same directory and then renamed
    over ``path`` (``os.replace``): a reader sees the old file or the new one, never
    half of one, and a failed save leaves the old file as it was. Otherwise it acts
    like ``open(path, "w")``: a new file's mode follows the umask, a replaced file
    keeps its mode, and a symbolic link's target is written (the link stays).

    Raises:
        TypeError: model is not an nn.Module.
        ValueError: a parameter is nan or infinite (JSON has no such numbers).
        OSError: the directory does not exist or cannot be written.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save() takes an nn.Module; got {type(model).__name__}")
    path = os.fspath(path)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": {"class": type(model).__name__, "config": model.config()},
        "parameters": model.state_dict(),
    }
    bad = [name for name, value in document["parameters"].items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"save(): parameter {bad[0]} is {document['parameters'][bad[0]]}; JSON holds finite numbers only")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save(): no directory {directory!r} to write {path!r} into")
    with atomic_open(path) as file:
        json.dump(document, file, indent=1, allow_nan=False)
        file.write("\n")


def load(path: str | os.PathLike[str]) -> Module:
    """Rebuild the model saved at ``path`` (an MLP, Layer or Neuron) with its parameters.

    Rebuilding draws no numbers from the global ``random`` module.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ModelFileError: the file is not a complete gradtrace model file of a known class.
    """
    document = _read(path)
    architecture = document["architecture"]
    name, config = architecture["class"], architecture["config"]
    builder = BUILDERS.get(name) if isinstance(name, str) else None
    if builder is None or not isinstance(config, dict):
        raise ModelFileError(
            f"{_show(path)}: cannot rebuild a {name!r}; nn.load rebuilds {', '.join(BUILDERS)} "
            "(to fill another Module, build it and call model.load(path))"
        )
    implied = _parameter_count(name, config)
    if implied is not None and implied != len(document["parameters"]):
        # checked before building, so a damaged config cannot make a model of a billion weights
        raise ModelFileError(
            f"{_show(path)}: the architecture {_describe(name, config)} has {implied} parameters, "
            f"but the file holds {len(document['parameters'])}"
        )
    try:
        # a private generator: the weights drawn here are overwritten just below
        model = builder(**config, rng=random.Random(0))
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{_show(path)}: the architecture {name}{config!r} cannot be built: {error}") from None
    _fill(model, document["parameters"], path)
    return model


def load_into(model: Module, path: str | os.PathLike[str]) -> Module:
    """Load the parameters saved at ``path`` into ``model`` and return it.

    The file must hold the same class and architecture, and every parameter;
    everything is checked before the model is touched, so on any error it is
    left exactly as it was.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ModelFileError: the file is unreadable or holds another model.
    """
    if not isinstance(model, Module):
        raise TypeError(f"load_into() takes an nn.Module; got {type(model).__name__}")
    document = _read(path)
    architecture = document["architecture"]
    name, config = architecture["class"], architecture["config"]
    mine = model.config()
    if name != type(model).__name__ or config != mine:
        raise ModelFileError(
            f"{_show(path)} holds {_describe(name, config)}, but the model is {_describe(type(model).__name__, mine)}"
        )
    _fill(model, document["parameters"], path)
    return model


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's JSON document, with its header and parts checked."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {_show(path)}") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{_show(path)} is not a gradtrace model file (not UTF-8 text)") from None
    if not text.strip():
        raise ModelFileError(f"{_show(path)} is empty, not a gradtrace model file")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        # a model file is one JSON object: opened but never closed means cut short
        stripped = text.strip()
        hint = " (the file looks truncated)" if stripped.startswith("{") and not stripped.endswith("}") else ""
        raise ModelFileError(f"{_show(path)} is not valid JSON{hint}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{_show(path)} is JSON but not a gradtrace model file (no \"format\": {FORMAT!r})")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{_show(path)}: the format version must be an int; got {version!r}")
    if version != VERSION:
        newer = " (written by a newer gradtrace)" if version > VERSION else ""
        raise ModelFileError(f"{_show(path)} has format version {version}{newer}; this gradtrace reads version {VERSION}")
    architecture = document.get("architecture")
    if not isinstance(architecture, dict) or "class" not in architecture or "config" not in architecture:
        raise ModelFileError(f"{_show(path)}: \"architecture\" must hold \"class\" and \"config\"")
    if not isinstance(document.get("parameters"), dict):
        raise ModelFileError(f"{_show(path)}: \"parameters\" must be an object of names and numbers")
    return document


def _fill(model: Module, parameters: dict[str, Any], path: str | os.PathLike[str]) -> None:
    try:
        model._load_state(parameters, _show(path))
    except (TypeError, ValueError) as error:
        raise ModelFileError(str(error)) from None


def _parameter_count(name: str, config: dict[str, Any]) -> int | None:
    """How many parameters the built-in architecture would have (None: the config is malformed)."""
    try:
        if name == "Neuron":
            return int(config["nin"]) + 1
        if name == "Layer":
            return (int(config["nin"]) + 1) * int(config["nout"])
        sizes = [int(config["nin"]), *(int(n) for n in config["nouts"])]
        return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    except (KeyError, TypeError, ValueError):
        return None  # the constructor will say what is wrong


def _describe(name: object, config: object) -> str:
    if isinstance(config, dict):
        return constructor_call(str(name), config)
    return f"a {name}"


def _show(path: str | os.PathLike[str]) -> str:
    return repr(os.fspath(path))
