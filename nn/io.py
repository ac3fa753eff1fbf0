"""Model files: JSON (never pickle), written atomically, read back only after every check.

A file holds::

    {"format": "gradtrace.nn", "version": 1,
     "architecture": {"class": "MLP", "config": {"nin": 2, "nouts": [16, 16, 1], ...}},
     "parameters": {"layers.0.neurons.0.w.0": 0.2768..., ...}}

Floats are written with ``repr``, so they read back bit for bit.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import reprlib
from pathlib import Path
from typing import Any

from ._atomic import atomic_open
from .layers import MLP, Layer, Neuron
from .module import Module, _few, constructor_call

__all__ = ["FORMAT", "VERSION", "ModelFileError", "load", "load_into", "save"]

FORMAT = "gradtrace.nn"
VERSION = 1

# A model file nests 4 levels deep; deeper JSON is refused before anything walks it.
MAX_DEPTH = 16
# Error messages quote at most about this many characters of a file's content.
MAX_QUOTE = 200
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlong = 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = 20

# The classes nn.load can rebuild from a file's architecture.
BUILDERS: dict[str, type[Module]] = {"Neuron": Neuron, "Layer": Layer, "MLP": MLP}


class ModelFileError(ValueError):
    """A model file cannot be read: not JSON, truncated, another format or version, or another model."""


def save(model: Module, path: str | os.PathLike[str]) -> Path:
    """Write ``model``'s architecture and parameters to ``path`` as JSON; return the path.

    The file is written to a temporary file in the same directory and then renamed
    over ``path`` (``os.replace``): a reader sees the old file or the new one, never
    half of one, and a failed save leaves the old file as it was. Tied parameters
    (one Value in several places) are recorded, and nn.load ties them again. It acts
    like ``open(path, "w")``: a new file's mode follows the umask, a replaced file
    keeps its mode, and a symbolic link's target is written (the link stays).

    Raises:
        TypeError: model is not an nn.Module.
        ValueError: a parameter is nan or infinite (JSON has no such numbers), or an
            MLP, Layer or Neuron no longer has the shape of its architecture (nn.load
            could not rebuild it).
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
    ties = model.tied_parameters()
    if ties:
        document["ties"] = ties
    _check_rebuildable(model, ties)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save(): no directory {directory!r} to write {path!r} into")
    with atomic_open(path) as file:
        json.dump(document, file, indent=1, allow_nan=False)
        file.write("\n")
    return Path(path)


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
            f"{_show(path)}: cannot rebuild a {_quote(name)}; nn.load rebuilds {', '.join(BUILDERS)} "
            "(to fill another Module, build it and call model.load(path))"
        )
    ties = document["ties"]
    implied = _parameter_count(name, config)
    held = len(document["parameters"]) + len(ties)
    if implied is not None and implied != held:
        # checked before building, so a damaged config cannot make a model of a billion weights
        tied = f" and {len(ties)} tied place{'s' if len(ties) > 1 else ''}" if ties else ""
        raise ModelFileError(
            f"{_show(path)}: the architecture {_describe(name, config)} has {_amount(implied)} parameters, "
            f"but the file holds {len(document['parameters'])}{tied}"
        )
    try:
        # a private generator: the weights drawn here are overwritten just below
        model = builder(**config, rng=random.Random(0))
    except (TypeError, ValueError, OverflowError) as error:
        raise ModelFileError(
            f"{_show(path)}: the architecture {_describe(name, config)} cannot be built: {_clip(str(error))}"
        ) from None
    _tie(model, ties, path)
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
    mine = json.loads(json.dumps(model.config()))  # as the file holds it: a tuple reads back as a list
    if name != type(model).__name__ or config != mine:
        raise ModelFileError(
            f"{_show(path)} holds {_describe(name, config)}, but the model is {_describe(type(model).__name__, mine)}"
        )
    ties, my_ties = document["ties"], model.tied_parameters()
    if ties != my_ties:
        differ = sorted(set(ties.items()) ^ set(my_ties.items()))
        alias, original = differ[0]
        whose, other = ("the file's model", "this model") if ties.get(alias) == original else ("this model", "the file's model")
        raise ModelFileError(
            f"{_show(path)}: in {whose}, {_quote(alias)} is the same Value as {_quote(original)} (tied), "
            f"but not in {other}; tie or untie the model's parameters as in the file before loading"
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
    except RecursionError:
        raise ModelFileError(f"{_show(path)} is not a gradtrace model file: its JSON is nested too deeply to read") from None
    except ValueError as error:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise ModelFileError(f"{_show(path)} holds a number too long to read: {_clip(str(error))}") from None
    if _too_deep(document):
        raise ModelFileError(
            f"{_show(path)} is not a gradtrace model file: its JSON is nested more than {MAX_DEPTH} levels deep"
        )
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{_show(path)} is JSON but not a gradtrace model file (no \"format\": {FORMAT!r})")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{_show(path)}: the format version must be an int; got {_quote(version)}")
    if version != VERSION:
        newer = " (written by a newer gradtrace)" if version > VERSION else ""
        raise ModelFileError(f"{_show(path)} has format version {_quote(version)}{newer}; this gradtrace reads version {VERSION}")
    architecture = document.get("architecture")
    if not isinstance(architecture, dict) or "class" not in architecture or "config" not in architecture:
        raise ModelFileError(f"{_show(path)}: \"architecture\" must hold \"class\" and \"config\"")
    if not isinstance(document.get("parameters"), dict):
        raise ModelFileError(f"{_show(path)}: \"parameters\" must be an object of names and numbers")
    ties = document.setdefault("ties", {})
    if not isinstance(ties, dict) or not all(isinstance(v, str) for v in ties.values()):
        raise ModelFileError(f"{_show(path)}: \"ties\" must be an object of parameter names; got {_quote(ties)}")
    return document


def _check_rebuildable(model: Module, ties: dict[str, str]) -> None:
    """ValueError unless nn.load can rebuild ``model`` (a built-in class) from its architecture and ties.

    The places of a freshly built architecture must be exactly the model's parameters and
    tied places; replacing a whole list (``neuron.w = other.w``) can change the shape.
    """
    builder = BUILDERS.get(type(model).__name__)
    if builder is not type(model):
        return  # a Module of another class: nn.load does not rebuild it, model.load(path) fills it
    fresh = builder(**model.config(), rng=random.Random(0))  # type: ignore[arg-type]
    expected = [name for name, _ in fresh.named_parameters()]
    held = {name for name, _ in model.named_parameters()} | set(ties)
    lacking = [name for name in expected if name not in held]
    extra = sorted(held - set(expected))
    if lacking or extra:
        what = f"lacks {_few(lacking)}" if lacking else f"has {_few(extra)} in addition"
        raise ValueError(
            f"save(): this {type(model).__name__} no longer has the shape of {model._signature()}: it {what}, "
            "so nn.load could not rebuild it from the file; to share weights, tie single Values "
            "(a.w[0] = b.w[0]: files record such ties) rather than replacing a whole list"
        )


def _tie(model: Module, ties: dict[str, str], path: str | os.PathLike[str]) -> None:
    """Make each alias place of a freshly built model hold its original's Value, as in the saved model."""
    places = {name for name, _ in model.named_parameters()}
    for alias, original in ties.items():
        if alias not in places or original not in places or alias == original:
            raise ModelFileError(
                f"{_show(path)}: the file ties {_quote(alias)} to {_quote(original)}, "
                f"but the architecture has no such pair of parameters"
            )
    for alias, original in ties.items():
        _place(model, alias, _find(model, original))


def _find(model: Module, name: str) -> Any:
    """The object at a dotted parameter name (names checked by the caller)."""
    found: Any = model
    for part in name.split("."):
        found = found[int(part)] if isinstance(found, list) else getattr(found, part)
    return found


def _place(model: Module, name: str, value: Any) -> None:
    owner_name, _, last = name.rpartition(".")
    owner = _find(model, owner_name) if owner_name else model
    if isinstance(owner, list):
        owner[int(last)] = value
    else:
        setattr(owner, last, value)


def _too_deep(document: Any) -> bool:
    """Whether the parsed JSON nests deeper than MAX_DEPTH (iterative: no recursion on hostile input)."""
    stack = [(document, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


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
    except (KeyError, TypeError, ValueError, OverflowError):
        return None  # the constructor will say what is wrong


def _describe(name: object, config: object) -> str:
    """``MLP(nin=2, ...)`` for an architecture read from a file, at most MAX_QUOTE characters."""
    if isinstance(config, dict):
        shown = {_clip(str(k), 40): _Shown(v) for k, v in itertools.islice(config.items(), 12)}
        more = ", ..." if len(config) > 12 else ""
        return _clip(constructor_call(_clip(str(name), 40), shown)[:-1] + more + ")")
    return f"a {_quote(name)}"


class _Shown:
    """A value whose repr is the short one of _quote."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return _SHORT.repr(self.value)


def _quote(content: object) -> str:
    """The repr of content read from a file, cut to at most about MAX_QUOTE characters."""
    return _clip(_SHORT.repr(content))


def _amount(n: int) -> str:
    # a count from a hostile config may have more digits than str() converts
    return str(n) if n < 10**30 else "more than 10^30"


def _clip(text: str, limit: int = MAX_QUOTE) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _show(path: str | os.PathLike[str]) -> str:
    return repr(os.fspath(path))
