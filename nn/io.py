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
import re
import reprlib
from pathlib import Path
from typing import Any

from ._atomic import atomic_open
from .layers import MLP, Layer, Neuron
from .module import Module, _few, constructor_call

__all__ = ["FORMAT", "MAX_FILE_BYTES", "VERSION", "ModelFileError", "load", "load_into", "save"]

FORMAT = "gradtrace.nn"
VERSION = 1

# A model file nests 4 levels deep; deeper JSON is refused before anything walks it.
MAX_DEPTH = 16
# Files larger than this are refused before they are read: 64 MiB holds a model of about a
# million parameters (an MLP's file takes about 55 bytes a parameter). load(..., max_bytes=)
# raises it for a file you trust.
MAX_FILE_BYTES = 64 * 2**20
# An architecture of a built-in class is a handful of numbers; beyond this many JSON values
# (plus those of the model's own architecture, when loading into a model) it is not read.
MAX_ARCHITECTURE_VALUES = 10_000
# How many strings and brackets the scan for the architecture reads before it gives up: a
# file nn.save wrote has it within the first ten.
_HEADER_TOKENS = 1_000
# The JSON values a file may hold besides its parameters, ties and architecture (its format
# and version, and room for a hand-edited file), and in all where it has no architecture.
_SPARE_VALUES = 64
_VALUES_WITHOUT_ARCHITECTURE = 10_000
# A JSON string or bracket: what the scan for the architecture reads (numbers, commas and
# colons are skipped in C). The string pattern is the unrolled loop: no backtracking.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_SPACE = re.compile(rb"[ \t\n\r]*")
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


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Module:
    """Rebuild the model saved at ``path`` (an MLP, Layer or Neuron) with its parameters.

    Rebuilding draws no numbers from the global ``random`` module. The file is read in
    bounded memory: one larger than ``max_bytes`` (64 MiB by default, a model of about a
    million parameters) is refused before it is read, and one that holds more JSON values
    than its architecture's parameters need, before it is parsed.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ModelFileError: the file is not a complete gradtrace model file of a known class,
            or is larger than ``max_bytes``.
    """
    document = _read(path, max_bytes)
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


def load_into(model: Module, path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Module:
    """Load the parameters saved at ``path`` into ``model`` and return it.

    The file must hold the same class and architecture, and every parameter;
    everything is checked before the model is touched, so on any error it is
    left exactly as it was. It is read in bounded memory, as by :func:`load`.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ModelFileError: the file is unreadable, holds another model, or is larger than ``max_bytes``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"load_into() takes an nn.Module; got {type(model).__name__}")
    document = _read(path, max_bytes, model)
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


def _read(path: str | os.PathLike[str], max_bytes: int, model: Module | None = None) -> dict[str, Any]:
    """The file's JSON document, with its header and parts checked.

    Memory stays bounded by the file's size whatever it holds: the size is checked before
    reading, the count of JSON values (commas and brackets, counted in C) against what the
    architecture needs before parsing, and the nesting while scanning for the architecture
    and, after parsing, by a walk that allocates nothing per element.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise TypeError(f"max_bytes must be a positive int; got {type(max_bytes).__name__} {max_bytes!r:.60}")
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > max_bytes:
                raise _too_large(path, size, max_bytes)
            data = _read_at_most(file, size, max_bytes)
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {_show(path)}") from None
    if data is None:
        raise _too_large(path, None, max_bytes)
    if not data or data.isspace():
        raise ModelFileError(f"{_show(path)} is empty, not a gradtrace model file")
    _check_size_before_parsing(data, path, model)  # on the bytes: a hostile file is never decoded
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{_show(path)} is not a gradtrace model file (not UTF-8 text)") from None
    del data
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
    del text
    if _too_deep(document):
        raise _nested_too_deep(path)
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
    """Whether the parsed JSON nests deeper than MAX_DEPTH.

    Iterative (no recursion on hostile input), and it allocates nothing per element: the
    stack holds one iterator per open container, at most MAX_DEPTH of them, and an array
    of ten million numbers is only iterated over.
    """
    if not isinstance(document, (dict, list)):
        return False
    stack = [iter(document.values() if isinstance(document, dict) else document)]
    while stack:
        for child in stack[-1]:
            if isinstance(child, (dict, list)):
                if len(stack) >= MAX_DEPTH:
                    return True
                stack.append(iter(child.values() if isinstance(child, dict) else child))
                break
        else:
            stack.pop()
    return False


def _check_size_before_parsing(text: bytes, path: str | os.PathLike[str], model: Module | None) -> None:
    """A ModelFileError unless the text's JSON values fit what its architecture describes.

    Parsing takes memory per JSON value (about 60 bytes for a number in an array, more in
    an object), so the values are counted before: every value but the first of an array or
    object follows a comma, so commas plus brackets bound their count (commas inside strings
    only add to it). A model file holds one value per parameter, one per tied place, its
    architecture and a few more; the architecture is found by a scan of the file's first
    strings and brackets and parsed alone, its own values counted first.
    """
    values = text.count(b",") + text.count(b"[") + text.count(b"{") + 1
    if values <= _VALUES_WITHOUT_ARCHITECTURE:
        return  # small: parsed as it is, and the usual checks say what is wrong
    extent = _architecture_extent(text, path)
    if extent is None:
        raise ModelFileError(
            f"{_show(path)} is not a gradtrace model file: it holds up to {values:,} JSON values "
            "and no \"architecture\" near its start to say how many parameters it has (nn.save writes it first)"
        )
    start, end = extent
    own = 0
    if model is not None:
        own_config = json.dumps(model.config())
        own = own_config.count(",") + own_config.count("[") + own_config.count("{") + 1
    architecture_values = text.count(b",", start, end) + text.count(b"[", start, end) + text.count(b"{", start, end) + 1
    if architecture_values > MAX_ARCHITECTURE_VALUES + own:
        raise ModelFileError(
            f"{_show(path)}: its \"architecture\" holds up to {architecture_values:,} JSON values; "
            f"an architecture of more than {MAX_ARCHITECTURE_VALUES + own:,} is not read"
        )
    try:
        architecture = json.loads(text[start:end])
    except (ValueError, RecursionError):  # the whole file's parse says what is wrong
        return
    parameters = None
    if isinstance(architecture, dict) and architecture.get("class") in BUILDERS and isinstance(architecture.get("config"), dict):
        parameters = _parameter_count(architecture["class"], architecture["config"])
    if parameters is None and model is not None:
        parameters = len(model.parameters()) + len(model.tied_parameters())
    if parameters is None:
        parameters = 0  # an architecture nn.load cannot rebuild: refused after parsing a small file
    allowed = 2 * parameters + architecture_values + _SPARE_VALUES
    if values > allowed:
        raise ModelFileError(
            f"{_show(path)} holds up to {values:,} JSON values, but its architecture "
            f"{_describe(architecture.get('class') if isinstance(architecture, dict) else None, architecture.get('config') if isinstance(architecture, dict) else None)} "
            f"has {_amount(parameters)} parameters: a model file of it holds at most {allowed:,} (not parsed)"
        )


def _architecture_extent(text: bytes, path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Where the top-level "architecture" object's text starts and ends, found by scanning the
    file's strings and brackets (at most _HEADER_TOKENS of them); None if not found. JSON nested
    deeper than MAX_DEPTH on the way is a ModelFileError."""
    depth = 0
    start = -1
    for count, token in enumerate(_TOKEN.finditer(text)):
        if count > _HEADER_TOKENS:
            return None
        first = text[token.start()]
        if first in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _nested_too_deep(path)
        elif first in b"]}":
            depth -= 1
            if start >= 0 and depth == 1:
                return start, token.end()
            if depth < 1:
                return None
        elif depth == 1 and start < 0 and token.end() - token.start() == len(b'"architecture"'):
            if text[token.start() : token.end()] == b'"architecture"':
                after = _SPACE.match(text, token.end()).end()  # type: ignore[union-attr]
                if text.startswith(b":", after):
                    value = _SPACE.match(text, after + 1).end()  # type: ignore[union-attr]
                    if not text.startswith(b"{", value):
                        return None
                    start = value
    return None


def _read_at_most(file: Any, size: int, max_bytes: int) -> bytes | None:
    """The file's bytes, or None where there are more than max_bytes. One read of the size the
    file says it has (a read allocates what it is asked for), then reads of 1 MiB at most for
    a file that grew or does not know its size (a pipe)."""
    chunks = [file.read(size + 1)]
    total = len(chunks[0])
    while total <= max_bytes:
        chunk = file.read(min(2**20, max_bytes + 1 - total))
        if not chunk:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    return None


def _too_large(path: str | os.PathLike[str], size: int | None, max_bytes: int) -> ModelFileError:
    held = f"is {size:,} bytes," if size is not None else "holds"
    return ModelFileError(
        f"{_show(path)} {held} more than max_bytes={max_bytes:,}; it is not read (a model file takes "
        "about 55 bytes a parameter: for a larger model you trust, pass a larger max_bytes)"
    )


def _nested_too_deep(path: str | os.PathLike[str]) -> ModelFileError:
    return ModelFileError(f"{_show(path)} is not a gradtrace model file: its JSON is nested more than {MAX_DEPTH} levels deep")


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
