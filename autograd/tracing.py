"""Tracing for ``autograd.compile``: one sample's graph, flattened, and the checks that
the graph's structure does not depend on the data.

A sample's arguments become placeholder Values (rows, floats) or ints (class indices);
``fn`` runs on them and its graph is flattened into nodes in topological order, each
operand described as another node, a parameter, an input, a constant Value or a plain
number. Graphs of other samples must match the first's node by node (:func:`compare`);
numbers that change between them must be an integer argument's value
(:func:`bind_numbers`), which the replay then reads per sample.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .engine import Value, is_grad_enabled

if TYPE_CHECKING:
    from .replay import Tape

__all__ = ["Batch", "Bound", "CompileError", "Trace", "bind_numbers", "compare", "describe_node", "probe_indices", "trace_sample"]

# Samples traced besides the first to check that the graph's structure does not depend on
# the data: a branch that a fifth of the samples take differently goes unseen with
# probability 0.8^32 < 1e-3. Tracing costs about one eager forward pass per sample.
CHECKED_SAMPLES = 32


class CompileError(ValueError):
    """The function's graph cannot be replayed over a batch; the message says why and where."""


# --- batches -------------------------------------------------------------------------------

_INT64_MAX = int(np.iinfo(np.int64).max)


def _as_int64(array: np.ndarray, a: int) -> np.ndarray:
    """A 1-D integer argument as int64; a ValueError naming the first sample whose value does
    not fit (a uint64 of 2^63 or more would wrap around to a negative number)."""
    if array.dtype.kind == "u" and array.size and int(array.max()) > _INT64_MAX:
        i = int(np.argmax(array > _INT64_MAX))
        raise ValueError(
            f"batched argument {a}: sample {i} holds {int(array[i])}, more than the largest int64 "
            f"({_INT64_MAX}); integer arguments (class indices) must fit in int64"
        )
    return array.astype(np.int64)



class Batch:
    """The batched arguments of one call, checked: 2-D float rows, 1-D floats, 1-D ints."""

    __slots__ = ("arrays", "kinds", "size")

    def __init__(self, arrays_: list[np.ndarray], kinds: list[str], size: int) -> None:
        self.arrays, self.kinds, self.size = arrays_, kinds, size

    @classmethod
    def of(cls, batches: tuple[Any, ...], tape: Tape | None) -> Batch:
        if not batches:
            raise TypeError("a compiled step takes the batched arguments of fn (say X, t); got none")
        if tape is not None and len(batches) != len(tape.kinds):
            raise TypeError(f"this step was traced with {len(tape.kinds)} batched arguments; got {len(batches)}")
        out, kinds, sizes = [], [], []
        for a, batch in enumerate(batches):
            array = np.asarray(batch)
            if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
                raise TypeError(
                    f"batched argument {a} must be an array of numbers (2-D rows, or 1-D values or class indices); "
                    f"got dtype {array.dtype} from {type(batch).__name__}"
                )
            if array.ndim == 2:
                kind = "rows"
                array = np.ascontiguousarray(array, dtype=np.float64)
            elif array.ndim == 1:
                kind = "ints" if array.dtype.kind in "iu" else "floats"
                array = _as_int64(array, a) if kind == "ints" else np.asarray(array, dtype=np.float64)
            else:
                raise ValueError(
                    f"batched argument {a} must be 2-D (one row per sample) or 1-D (one number per sample); "
                    f"got shape {array.shape}"
                )
            if tape is not None:
                expected = tape.kinds[a]
                if kind == "ints" and expected == "floats":  # integer labels where floats were traced
                    array, kind = array.astype(np.float64), "floats"
                if kind != expected:
                    raise TypeError(f"batched argument {a} was traced as {_KIND_NAMES[expected]}; got {_KIND_NAMES[kind]}")
                if kind == "rows" and array.shape[1] != tape.widths[a]:
                    raise ValueError(
                        f"batched argument {a}: each row must have {tape.widths[a]} values, as when traced; "
                        f"got rows of {array.shape[1]}"
                    )
            out.append(array)
            kinds.append(kind)
            sizes.append(len(array))
        if len(set(sizes)) != 1:
            raise ValueError(f"the batched arguments must have one length (one entry per sample); got lengths {sizes}")
        if sizes[0] == 0:
            raise ValueError("got an empty batch: a compiled step needs at least one sample")
        return cls(out, kinds, sizes[0])

    def rows_to_check(self, count: int) -> list[int]:
        """Up to ``count`` samples besides the first, whose graphs must have its structure:
        the one whose numbers differ from the first's the most, then samples spread evenly
        over the batch. A branch on the data that some of them take differently is found."""
        if self.size < 2:
            return []
        head = min(self.size, 4096)
        score = np.zeros(head)
        for array in self.arrays:
            part = array[:head].reshape(head, -1).astype(np.float64)
            with np.errstate(all="ignore"):  # inf - inf, overflow: the user's data is not our warning to give
                score += (part != part[0]).sum(axis=1) + np.abs(part - part[0]).sum(axis=1) * 1e-9
        score[0] = -1.0
        rows = [int(score.argmax())]
        for row in np.linspace(1, self.size - 1, num=min(count, self.size - 1)).astype(int).tolist():
            if row not in rows and len(rows) < count:
                rows.append(row)
        return rows

    def sample(self, row: int, names: list[str]) -> tuple[list[Any], dict[int, tuple[int, int]]]:
        """One sample's arguments for fn: rows as lists of placeholder Values, floats as
        Values, ints as ints; with the placeholders' ids mapped to (argument, column)."""
        values: list[Any] = []
        slots: dict[int, tuple[int, int]] = {}
        for a, (array, kind) in enumerate(zip(self.arrays, self.kinds)):
            if kind == "rows":
                row_values = [Value(x, label=f"{names[a]}[{j}]") for j, x in enumerate(array[row].tolist())]
                slots.update((id(v), (a, j)) for j, v in enumerate(row_values))
                values.append(row_values)
            elif kind == "floats":
                v = Value(float(array[row]), label=names[a])
                slots[id(v)] = (a, 0)
                values.append(v)
            else:
                values.append(int(array[row]))
        return values, slots

    def check_indices(self, tape: Tape) -> None:
        """A class index out of range is an error, as in the eager loss."""
        for a, limit, node in tape.index_limits:
            column = self.arrays[a]
            bad = (column < 0) | (column >= limit)
            if bad.any():
                row = int(np.argmax(bad))
                raise ValueError(
                    f"batched argument {a}: class index {int(column[row])} (sample {row}) is out of range for the "
                    f"{limit} logits of the {node} node (classes 0..{limit - 1})"
                )


_KIND_NAMES = {"rows": "2-D rows", "floats": "1-D floats", "ints": "1-D integers (class indices)"}


# --- tracing -------------------------------------------------------------------------------


@dataclass
class Trace:
    """One sample's graph, flattened: non-leaf nodes in topological order, each with its
    operands as references, and every plain number the graph holds in order."""

    row: int
    args: list[Any]
    nodes: list[Value]
    operands: list[list[tuple[str, Any]]]  # ("node", i) ("param", i) ("input", (a, j)) ("constant", Value) ("number", x)
    numbers: list[float]  # every ("number", x) operand and op parameter, in order
    number_sites: list[tuple[int, int]]  # (node, operand position) of each number
    result_nodes: list[Value]
    result_list: bool
    extra_nodes: list[Value]
    extra_list: bool


def _names(fn: Callable[..., Any], count: int) -> list[str]:
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        names = []
    return (names + [f"arg{a}" for a in range(len(names), count)])[:count]


def _outputs(result: Any, what: str) -> tuple[list[Value], bool]:
    if result.__class__ is Value:
        return [result], False
    if isinstance(result, list) and result and all(v.__class__ is Value for v in result):
        return list(result), True
    raise CompileError(
        f"compile(): fn must return a Value, a list of Values or a pair (result, extra); its {what} is "
        f"{type(result).__name__} {result!r:.60}"
    )


def trace_sample(fn: Callable[..., Any], args: Batch, row: int, params: list[Value], ints: dict[int, int] | None = None) -> Trace:
    """Run fn on sample ``row`` (its integer arguments replaced by ``ints``, for a probe)
    and flatten the graph of what it returns."""
    if not is_grad_enabled():
        raise CompileError("compile(): cannot trace under no_grad(): the graph would not be recorded")
    sample, slots = args.sample(row, _names(fn, len(args.arrays)))
    for a, value in (ints or {}).items():
        sample[a] = value
    result = fn(*sample)
    if isinstance(result, tuple):
        if len(result) != 2:
            raise CompileError(f"compile(): fn returned a tuple of {len(result)}; a pair (result, extra) is accepted")
        results, result_list = _outputs(result[0], "result")
        extras, extra_list = _outputs(result[1], "extra")
    else:
        (results, result_list), (extras, extra_list) = _outputs(result, "result"), ([], False)
    param_index = {id(p): i for i, p in enumerate(params)}
    order = _topological(results + extras)
    position = {id(node): i for i, node in enumerate(order)}
    operands, numbers, sites = [], [], []
    for i, node in enumerate(order):
        described = []
        for k, a in enumerate(node._args):
            if a.__class__ is not Value:
                described.append(("number", a))
                numbers.append(a)
                sites.append((i, k))
            elif id(a) in position:
                described.append(("node", position[id(a)]))
            elif id(a) in param_index:
                described.append(("param", param_index[id(a)]))
            elif id(a) in slots:
                described.append(("input", slots[id(a)]))
            else:
                described.append(("constant", a))
        operands.append(described)
    return Trace(row, sample, order, operands, numbers, sites, results, result_list, extras, extra_list)


def _topological(roots: list[Value]) -> list[Value]:
    """The non-leaf nodes the roots depend on, each after its operands (iteratively)."""
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen or node._rule is None:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((a, False) for a in reversed(node._args) if a.__class__ is Value and a._rule is not None)
    return order


def describe_node(trace: Trace, i: int) -> str:
    """Node i as its op over its first operands: "mul(x[0], 2.0)"."""

    def name(kind: str, what: Any) -> str:
        if kind == "node":
            return f"node {what}"
        if kind == "param":
            return f"parameter {what}"
        if kind == "input":
            a, j = what
            placeholder = trace.args[a][j] if isinstance(trace.args[a], list) else trace.args[a]
            return placeholder.label
        return "a constant Value" if kind == "constant" else repr(what)

    operands = trace.operands[i]
    more = ", ..." if len(operands) > 4 else ""
    return f"{trace.nodes[i].op}({', '.join(name(*o) for o in operands[:4])}{more})"


def compare(first: Trace, other: Trace) -> None:
    """The two samples' graphs have one structure, or a CompileError naming the first difference."""
    where = f"samples {first.row} and {other.row}"
    hint = (
        "the graph's structure depends on the data (a Python `if` on a Value or its .data, a clamp that "
        "branches, min/max over Values): write it with ops instead (relu, abs, autograd.maximum, leaky_relu, "
        "or an op of your own whose rules use autograd.where) to compile it"
    )
    if len(first.result_nodes) != len(other.result_nodes) or len(first.extra_nodes) != len(other.extra_nodes):
        raise CompileError(f"compile(): fn returns a different number of results for {where}; {hint}")
    for i, (a, b) in enumerate(zip(first.nodes, other.nodes)):
        same = a._rule is b._rule and len(a._args) == len(b._args) and all(
            x[0] == y[0] and (x[0] == "number" or x[1] is y[1] or x[1] == y[1])
            for x, y in zip(first.operands[i], other.operands[i])
        )
        if not same:
            raise CompileError(
                f"compile(): the graphs of {where} differ at node {i} of {len(first.nodes)}: "
                f"{describe_node(first, i)} against {describe_node(other, i)}; {hint}"
            )
    if len(first.nodes) != len(other.nodes):
        raise CompileError(
            f"compile(): the graph of sample {first.row} has {len(first.nodes)} nodes and that of sample "
            f"{other.row} {len(other.nodes)}; {hint}"
        )
    if _result_positions(first) != _result_positions(other):
        raise CompileError(f"compile(): fn returns different nodes for {where}; {hint}")


def _result_positions(trace: Trace) -> list[int | None]:
    """Where the results and extras are among the trace's nodes (None: a leaf)."""
    position = {id(n): i for i, n in enumerate(trace.nodes)}
    return [position.get(id(n)) for n in trace.result_nodes + trace.extra_nodes]


def probe_indices(fn: Callable[..., Any], args: Batch, first: Trace, params: list[Value]) -> Trace | None:
    """A third trace of the first sample with every integer argument changed, so that
    each place an integer enters the graph (a class index, a ±1 label) shows up as a
    number that changes with it. Candidates: the batch's other values, then ±1 steps and
    the negation; a candidate the function refuses (a class out of range) is skipped."""
    int_args = [a for a, kind in enumerate(args.kinds) if kind == "ints"]
    if not int_args:
        return None
    changed: dict[int, int] = {}
    for a in int_args:
        own = int(args.arrays[a][0])
        others = [int(v) for v in np.unique(args.arrays[a][:4096]) if int(v) != own][:3]
        candidates = others + [c for c in (own + 1, own - 1, -own) if c != own and c not in others]
        changed[a] = candidates  # type: ignore[assignment]
    # try the candidates in turn, all integer arguments at once
    for attempt in range(max(len(c) for c in changed.values())):  # type: ignore[arg-type]
        ints = {a: c[min(attempt, len(c) - 1)] for a, c in changed.items()}  # type: ignore[index, arg-type]
        try:
            probe = trace_sample(fn, args, 0, params, ints)
        except CompileError:
            raise
        except Exception:  # noqa: BLE001 - the function refused this value (say, a class out of range)
            continue
        probe.row = 0
        probe.args = [ints.get(a, v) for a, v in enumerate(probe.args)]
        return probe
    return None


@dataclass
class Bound:
    """Where the numbers of the graph come from: fixed, or an integer argument per sample."""

    per_sample: dict[int, int]  # index into trace.numbers -> batched argument


def bind_numbers(traces: list[Trace], args: Batch) -> Bound:
    """Which of the graph's numbers are an integer argument's value per sample; a number
    that changes otherwise, or an integer argument that cannot be told apart from a
    fixed number, is a CompileError naming the node."""
    first = traces[0]
    per_sample: dict[int, int] = {}
    for k, value in enumerate(first.numbers):
        values = [t.numbers[k] for t in traces]
        if all(v == value or (v != v and value != value) for v in values):
            continue
        # a number that changes: one integer argument's value in every trace?
        owner = None
        for a, kind in enumerate(args.kinds):
            if kind == "ints" and all(float(t.args[a]) == float(v) for t, v in zip(traces, values)):
                owner = a
                break
        if owner is None:
            i, position = first.number_sites[k]
            differ = [j for j, v in enumerate(values) if not v == value][:1]
            shown = [(t.row, v) for t, v in zip(traces, values)][:1] + [(traces[j].row, values[j]) for j in differ]
            raise CompileError(
                f"compile(): operand {position} of node {i}, {describe_node(first, i)}, is a plain number that changes "
                f"with the data ({' and '.join(f'{v!r} for sample {row}' for row, v in shown)}): "
                "fn computed it from the data outside the graph (.data, float(), a NumPy call); keep it a Value"
            )
        per_sample[k] = owner
    for a, kind in enumerate(args.kinds):
        # an integer argument that kept one value in every trace (the probe found no other
        # value fn accepts) may still be a number of the graph: then where it enters is unknown
        if kind == "ints" and len({t.args[a] for t in traces}) == 1:
            same = [k for k, v in enumerate(first.numbers) if k not in per_sample and v == float(first.args[a])]
            if same:
                i, position = first.number_sites[same[0]]
                raise CompileError(
                    f"compile(): integer argument {a} was {first.args[a]} in every traced sample, and fn refused other "
                    f"values, so it cannot be told apart from the number {first.numbers[same[0]]!r} in node {i}, "
                    f"{describe_node(first, i)}; trace with a batch whose argument {a} takes two values"
                )
    return Bound(per_sample)
