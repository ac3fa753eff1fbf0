"""``autograd.compile``: trace one sample's scalar graph, replay it over a whole batch with NumPy.

A function written for one sample (``lambda x, t: nn.cross_entropy(model(x), t)``)
builds the same graph for every sample whenever its structure does not depend on the
data. :func:`compile` records that graph once (the *tape*) and replays it over a batch
with the op table's array rules (:mod:`autograd.arrays`): every node becomes a column
of a ``(batch, k)`` array, and nodes are run in groups:

* a layer's dot nodes that read the same inputs in the same order are one matrix
  product, ``X @ W.T + b``: the lectures' "MLP in matrix form", found by the trace;
* the other nodes of one op at one depth are one call of the op's array rule;
* nodes that depend on the parameters alone (a penalty ``1e-4·Σp²``) are computed
  once per batch, as one row that the batch shares.

The structure is checked by tracing more samples of the first batch (up to 32: the one
whose numbers differ most from the first's, and samples spread over the batch) and
comparing their graphs with the first's node by node. A branch on the data that none of
them takes differently goes unseen: the check samples, it cannot prove. A number that
changes from sample to sample is either an argument's value (a class index, a ±1
label), which the replay takes per sample, or an error that names where it is.

>>> import numpy as np
>>> from autograd import Value
>>> w, b = Value(2.0), Value(0.5)
>>> step = compile(lambda x, t: (w * x[0] + b - t) ** 2, [w, b])
>>> X, t = np.array([[1.0], [2.0]]), np.array([3.0, 4.0])
>>> step(X, t).tolist()  # (2·1 + 0.5 - 3)², (2·2 + 0.5 - 4)²
[0.25, 0.25]
>>> step.backward(X, t)  # the mean loss; adds the batch-mean gradient into .grad
0.25
>>> w.grad, b.grad  # mean of 2(wx + b - t)·x and of 2(wx + b - t)
(0.5, 0.0)
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from . import arrays
from .engine import Value, is_grad_enabled
from .ops import OPS, Op

__all__ = ["CompileError", "CompiledStep", "Group", "compile"]

REDUCTIONS = ("mean", "sum")
# Samples traced besides the first to check that the graph's structure does not depend on
# the data: a branch that a fifth of the samples take differently goes unseen with
# probability 0.8^32 < 1e-3. Tracing costs about one eager forward pass per sample.
CHECKED_SAMPLES = 32
_data_of = attrgetter("data")

# A reference to a number in the replay: (source, column). Sources are 2-D arrays:
# the parameters (one row), the closure's Values (one row), each batched argument and
# each group's results ((batch, k), or one row when the batch shares them). A plain
# number is (NUMBER, value).
NUMBER = -1
PARAMS, CONSTANTS = 0, 1
Ref = tuple[int, Any]


class CompileError(ValueError):
    """The function's graph cannot be replayed over a batch; the message says why and where."""


@dataclass(eq=False)
class Group:
    """Nodes the replay runs as one NumPy computation.

    Attributes:
        op: the op's name ("dot", "relu", ...).
        kind: "matmul" (dot nodes reading the same inputs: one ``X @ W.T + b``),
            "elementwise" (one call of the op's array rule over k columns),
            "variadic" (one node of an n-ary op, its operands as columns) or "shared"
            (nodes that depend on the parameters alone: computed once per batch).
        depth: the longest path from a leaf to these nodes.
        nodes: the first sample's traced nodes, one per column.
    """

    op: str
    kind: str
    depth: int
    nodes: list[Value] = field(repr=False)

    def __repr__(self) -> str:
        return f"Group({self.kind} {self.op} × {len(self.nodes)} at depth {self.depth})"


def compile(fn: Callable[..., Any], params: Sequence[Value], reduction: str = "mean") -> CompiledStep:  # noqa: A001
    """Compile ``fn``, written for one sample, to run over whole batches.

    ``fn`` takes one sample's arguments and returns a Value (say, its loss), a list of
    Values (several results per sample), or a pair ``(result, extra)``: ``extra``, a
    Value or a list of them (say, the model's outputs), is replayed alongside and left
    in ``step.extra``, but not differentiated.

    The batched arguments of the returned step are arrays of one length, sliced per
    sample: a 2-D array gives ``fn`` each row as a list of Values; a 1-D array of
    integers gives an int (a class index, a ±1 label); a 1-D array of floats gives a
    Value. ``params`` are the leaves every sample shares (a model's parameters); other
    Values that ``fn`` reads are constants, read afresh at every call.

    The graph is traced at the first call (or :meth:`CompiledStep.trace`). ``step(...)``
    gives the per-sample results as an array; ``step.backward(...)`` returns their mean
    (``reduction="sum"``: their sum) and adds its gradient into each parameter's ``.grad``.
    """
    return CompiledStep(fn, params, reduction)


class CompiledStep:
    """A traced function replayed over batches: see :func:`compile`.

    Attributes:
        params: the parameters, in the order given.
        reduction: "mean" or "sum".
        graph: the first sample's traced result (a Value, drawable with ``viz.draw_dot``).
        groups: the replay's :class:`Group` list, in the order it runs them.
        extra: after a call, the replayed ``extra`` outputs ((batch,) or (batch, k)), or None.
        trace_seconds, compile_seconds: how long tracing and building the replay took.
    """

    def __init__(self, fn: Callable[..., Any], params: Sequence[Value], reduction: str = "mean") -> None:
        if not callable(fn):
            raise TypeError(f"compile() takes a function of one sample; got {type(fn).__name__} {fn!r:.60}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"compile(): unknown reduction {reduction!r}; accepted: {', '.join(REDUCTIONS)}")
        if isinstance(params, (Value, str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(f"compile() takes a list of parameter Values (model.parameters()); got {type(params).__name__}")
        params = list(params)
        for i, p in enumerate(params):
            if p.__class__ is not Value:
                raise TypeError(f"compile(): parameter {i} must be a Value; got {type(p).__name__} {p!r:.60}")
            if p._rule is not None:
                raise ValueError(
                    f"compile(): parameter {i} is not a leaf: it was made by {p.op} ({p!r:.80}); "
                    "parameters are leaves every sample shares, such as model.parameters()"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError("compile(): a parameter appears more than once in the list")
        self.fn = fn
        self.params = params
        self.reduction = reduction
        self.graph: Value | None = None
        self.groups: list[Group] = []
        self.extra: np.ndarray | None = None
        self.trace_seconds = math.nan
        self.compile_seconds = math.nan
        self._tape: _Tape | None = None

    def __repr__(self) -> str:
        state = f"{len(self.groups)} groups" if self._tape is not None else "not traced yet"
        return f"<CompiledStep of {getattr(self.fn, '__name__', 'fn')}: {len(self.params)} parameters, {state}>"

    # --- public calls ------------------------------------------------------------------

    def trace(self, *batches: Any) -> CompiledStep:
        """Trace ``fn`` on this batch's samples and build the replay (the first call does
        this by itself). Raises :class:`CompileError` when the graph cannot be replayed."""
        args = _Batch.of(batches, self._tape)
        self._build(args)
        return self

    def __call__(self, *batches: Any) -> np.ndarray:
        """The per-sample results: shape (batch,) for a Value, (batch, k) for a list of k.
        No gradient is computed or stored."""
        tape, args = self._ready(batches)
        with arrays.quiet():
            vals = tape.forward(args)
        self.extra = tape.read(vals, tape.extra_refs, tape.extra_list, args.size) if tape.extra_refs else None
        return tape.read(vals, tape.result_refs, tape.result_list, args.size)

    def backward(self, *batches: Any) -> float:
        """The mean (or sum) of the per-sample results, as a float; its gradient is added
        into each parameter's ``.grad``, as ``backward()`` on the eager batch loss would."""
        tape, args = self._ready(batches)
        if tape.result_list:
            raise TypeError("step.backward(): fn returned a list of Values; backward needs one Value per sample")
        with arrays.quiet():
            vals = tape.forward(args)
            results = tape.read(vals, tape.result_refs, False, args.size)
            total = _reduce(results, self.reduction)
            grad = tape.backward(vals, args, self.reduction)
        self.extra = tape.read(vals, tape.extra_refs, tape.extra_list, args.size) if tape.extra_refs else None
        if grad is not None:
            for p, g in zip(self.params, grad.tolist()):
                p.grad += g
        return total

    # --- tracing and building ----------------------------------------------------------

    def _ready(self, batches: tuple[Any, ...]) -> tuple[_Tape, _Batch]:
        args = _Batch.of(batches, self._tape)
        if self._tape is None:
            self._build(args)
        args.check_indices(self._tape)  # type: ignore[arg-type]
        return self._tape, args  # type: ignore[return-value]

    def _build(self, args: _Batch) -> None:
        start = time.process_time()
        first = _trace(self.fn, args, 0, self.params)
        traces = [first]
        for row in args.rows_to_check(CHECKED_SAMPLES):
            traces.append(_trace(self.fn, args, row, self.params))
            _compare(first, traces[-1])  # at the first difference, before tracing more
        probe = _probe_indices(self.fn, args, first, self.params)
        if probe is not None:
            traces.append(probe)
        if probe is not None:
            _compare(first, probe)
        bound = _bind_numbers(traces, args)
        self.trace_seconds = time.process_time() - start
        start = time.process_time()
        tape = _Tape(first, bound, args, self.params)
        tape.validate(first, args)
        self.compile_seconds = time.process_time() - start
        self._tape = tape
        self.graph = first.result_nodes[0] if first.result_nodes else None
        self.groups = [unit.group for unit in tape.units]


def _reduce(results: np.ndarray, reduction: str) -> float:
    # math.fsum: the correctly rounded total, as the eager mean and sum nodes give
    total = math.fsum(results.tolist())
    return total / len(results) if reduction == "mean" else total


# --- batches -------------------------------------------------------------------------------


class _Batch:
    """The batched arguments of one call, checked: 2-D float rows, 1-D floats, 1-D ints."""

    __slots__ = ("arrays", "kinds", "size")

    def __init__(self, arrays_: list[np.ndarray], kinds: list[str], size: int) -> None:
        self.arrays, self.kinds, self.size = arrays_, kinds, size

    @classmethod
    def of(cls, batches: tuple[Any, ...], tape: _Tape | None) -> _Batch:
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
                array = array.astype(np.int64) if kind == "ints" else np.asarray(array, dtype=np.float64)
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

    def check_indices(self, tape: _Tape) -> None:
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
class _Trace:
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


def _trace(fn: Callable[..., Any], args: _Batch, row: int, params: list[Value], ints: dict[int, int] | None = None) -> _Trace:
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
    return _Trace(row, sample, order, operands, numbers, sites, results, result_list, extras, extra_list)


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


def _describe_node(trace: _Trace, i: int) -> str:
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


def _compare(first: _Trace, other: _Trace) -> None:
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
                f"{_describe_node(first, i)} against {_describe_node(other, i)}; {hint}"
            )
    if len(first.nodes) != len(other.nodes):
        raise CompileError(
            f"compile(): the graph of sample {first.row} has {len(first.nodes)} nodes and that of sample "
            f"{other.row} {len(other.nodes)}; {hint}"
        )
    for trace in (first, other):
        roots = [id(n) for n in trace.result_nodes + trace.extra_nodes]
        if trace is other:
            index = {id(n): i for i, n in enumerate(other.nodes)}
            first_index = {id(n): i for i, n in enumerate(first.nodes)}
            mine = [index.get(r) for r in roots]
            theirs = [first_index.get(id(n)) for n in first.result_nodes + first.extra_nodes]
            if mine != theirs:
                raise CompileError(f"compile(): fn returns different nodes for {where}; {hint}")


def _probe_indices(fn: Callable[..., Any], args: _Batch, first: _Trace, params: list[Value]) -> _Trace | None:
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
            probe = _trace(fn, args, 0, params, ints)
        except CompileError:
            raise
        except Exception:  # noqa: BLE001 - the function refused this value (say, a class out of range)
            continue
        probe.row = 0
        probe.args = [ints.get(a, v) for a, v in enumerate(probe.args)]
        return probe
    return None


@dataclass
class _Bound:
    """Where the numbers of the graph come from: fixed, or an integer argument per sample."""

    per_sample: dict[int, int]  # index into trace.numbers -> batched argument


def _bind_numbers(traces: list[_Trace], args: _Batch) -> _Bound:
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
            raise CompileError(
                f"compile(): operand {position} of node {i}, {_describe_node(first, i)}, is a plain number that changes "
                f"with the data ({', '.join(repr(v) for v in values)} for samples {', '.join(str(t.row) for t in traces)}): "
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
                    f"{_describe_node(first, i)}; trace with a batch whose argument {a} takes two values"
                )
    return _Bound(per_sample)


# --- the replay ----------------------------------------------------------------------------


class _Take:
    """Reads references into one (rows, k) array, and adds a gradient back into their sources."""

    __slots__ = ("mode", "sid", "cols", "unique", "const", "parts", "k")

    def __init__(self, refs: list[Ref]) -> None:
        self.k = len(refs)
        sources = {s for s, _ in refs if s != NUMBER}
        numbers = [i for i, (s, _) in enumerate(refs) if s == NUMBER]
        self.const = np.array([[c if s == NUMBER else 0.0 for s, c in refs]], dtype=np.float64)
        self.sid, self.cols, self.unique, self.parts = -2, None, True, []
        if not sources:
            self.mode = "const"
        elif len(sources) == 1 and not numbers:
            self.mode = "one"
            self.sid = refs[0][0]
            cols = [c for _, c in refs]
            step = cols[1] - cols[0] if len(cols) > 1 else 1
            if step > 0 and cols == list(range(cols[0], cols[0] + step * len(cols), step)):
                # an arithmetic progression (a layer's biases among its weights): a view, no copy
                self.cols = slice(cols[0], cols[0] + step * (len(cols) - 1) + 1, step)
            else:
                self.cols = np.array(cols, dtype=np.intp)
                self.unique = len(set(cols)) == len(cols)
        else:
            self.mode = "mixed"
            for sid in sorted(sources):
                positions = [i for i, (s, _) in enumerate(refs) if s == sid]
                cols = [refs[i][1] for i in positions]
                self.parts.append((sid, np.array(positions, dtype=np.intp), np.array(cols, dtype=np.intp),
                                   len(set(cols)) == len(cols)))  # fmt: skip

    def __call__(self, vals: list[np.ndarray]) -> np.ndarray:
        mode = self.mode
        if mode == "one":
            return vals[self.sid][:, self.cols]
        if mode == "const":
            return self.const
        rows = max(vals[sid].shape[0] for sid, *_ in self.parts)
        out = np.repeat(self.const, rows, axis=0) if rows > 1 else self.const.copy()
        for sid, positions, cols, _ in self.parts:
            out[:, positions] = vals[sid][:, cols]
        return out

    def sources(self) -> list[int]:
        return [self.sid] if self.mode == "one" else [sid for sid, *_ in self.parts]

    def add(self, grads: list[np.ndarray | None], vals: list[np.ndarray], needs: list[bool], g: np.ndarray) -> None:
        """Add g ((rows, k), or broadcastable to it) into the gradients of the referenced sources."""
        if self.mode == "one":
            if needs[self.sid]:
                _add_into(grads, vals, self.sid, self.cols, self.unique, g)
        elif self.mode == "mixed":
            g = np.asarray(g)
            if g.ndim < 2 or g.shape[1] != self.k:
                g = np.broadcast_to(g, (g.shape[0] if g.ndim == 2 else 1, self.k))
            for sid, positions, cols, unique in self.parts:
                if needs[sid]:
                    _add_into(grads, vals, sid, cols, unique, g[:, positions])


def _add_into(grads: list[np.ndarray | None], vals: list[np.ndarray], sid: int, cols: Any, unique: bool, g: Any) -> None:
    target = grads[sid]
    shape = vals[sid].shape
    if g.__class__ is not np.ndarray:
        g = np.asarray(g)
    if shape[0] == 1 and g.ndim == 2 and g.shape[0] > 1:
        g = g.sum(axis=0, keepdims=True)  # a row the batch shares: its gradient sums the samples'
    if target is None:
        if cols.__class__ is slice and cols == slice(0, shape[1], 1) and g.shape == shape:
            grads[sid] = g.copy()  # the first gradient of a whole source: no zeros to add to
            return
        target = grads[sid] = np.zeros(shape)
    if unique:
        target[:, cols] += g
    else:
        np.add.at(target, (slice(None), cols), np.broadcast_to(g, target[:, cols].shape))


class _Unit:
    """One group of the replay: its forward and backward over the batch."""

    group: Group
    sid: int  # where its results go
    takes: list[_Take]

    def prepare(self, needs: list[bool]) -> None:
        """Learn which of its operands need a gradient (fixed once the tape is built)."""

    def forward(self, vals: list[np.ndarray], args: _Batch) -> np.ndarray:
        raise NotImplementedError

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: _Batch) -> None:
        raise NotImplementedError


class _Elementwise(_Unit):
    """k nodes of one unary or binary op: one call of its array rule over (rows, k) arrays."""

    def __init__(self, op: Op, refs: list[list[Ref]], group: Group, sid: int) -> None:
        self.forward_rule, self.backward_rule = op.rules_for(arrays)
        self.takes = [_Take([r[j] for r in refs]) for j in range(op.arity)]
        self.group, self.sid, self.k = group, sid, len(refs)

    def forward(self, vals: list[np.ndarray], args: _Batch) -> np.ndarray:
        # the operands are kept for the backward pass (a step runs one batch at a time)
        operands = self._operands = [take(vals) for take in self.takes]
        out = self.forward_rule(*operands)
        if out.__class__ is not np.ndarray or out.ndim != 2:  # a number, or one row of numbers
            out = np.asarray(out, dtype=np.float64).reshape(-1, self.k)
        return out

    def prepare(self, needs: list[bool]) -> None:
        self.wanted = [any(needs[s] for s in take.sources()) for take in self.takes]

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: _Batch) -> None:
        g = grads[self.sid]
        if g is None:
            return
        local = self.backward_rule(g, vals[self.sid], *self._operands)
        if len(self.takes) == 1:
            local = (local,)
        for take, wanted, gradient in zip(self.takes, self.wanted, local):
            if wanted:
                take.add(grads, vals, needs, gradient)


class _Matmul(_Unit):
    """k dot nodes reading the same per-sample inputs: one ``X @ W.T (+ b)``.

    The replay keeps X and W.T of the last forward pass for the backward pass: a
    compiled step runs one batch at a time.
    """

    def __init__(self, inputs: list[Ref], weights: list[list[Ref]], biases: list[Ref] | None, group: Group, sid: int) -> None:
        n, k = len(inputs), len(weights)
        self.x = _Take(inputs)
        # W.T's entries in row order, read as one C-contiguous (n, k) array: NumPy's
        # matmul with a transposed small operand can take a path 30 times slower than BLAS
        self.w = _Take([weights[r][j] for j in range(n) for r in range(k)])
        self.rows = _neuron_rows(weights)  # or W as a view of the parameters: (source, start, row length)
        self.b = _Take(biases) if biases is not None else None
        self.shape = (n, k)
        self.takes = [self.x, self.w] + ([self.b] if self.b is not None else [])
        self.group, self.sid = group, sid
        self.w_needs = self.x_needs = self.b_needs = True
        self._x: np.ndarray | None = None
        self._wt: np.ndarray | None = None

    def prepare(self, needs: list[bool]) -> None:
        self.w_needs = any(needs[s] for s in self.w.sources())
        self.x_needs = any(needs[s] for s in self.x.sources())
        self.b_needs = self.b is not None and any(needs[s] for s in self.b.sources())

    def _weights(self, source: np.ndarray) -> np.ndarray:
        """W as a (k, n) view of a row holding each neuron's weights in a run of its own."""
        sid, start, length = self.rows  # type: ignore[misc]
        n, k = self.shape
        row = source[0]
        if start + k * length <= row.shape[0]:
            return row[start : start + k * length].reshape(k, length)[:, :n]
        # the last neuron's run ends the row early (its n weights, not a whole run of length)
        step = row.strides[0]
        return np.lib.stride_tricks.as_strided(row[start:], shape=(k, n), strides=(length * step, step))

    def forward(self, vals: list[np.ndarray], args: _Batch) -> np.ndarray:
        x = self.x(vals)
        if self.rows is not None:
            wt = np.ascontiguousarray(self._weights(vals[self.rows[0]]).T)
        else:
            wt = self.w(vals).reshape(self.shape)
        self._x, self._wt = x, wt
        out = x @ wt
        if self.b is not None:
            bias = self.b(vals)
            if bias.shape[0] <= out.shape[0]:
                out += bias
            else:  # per-sample biases on shared products
                out = out + bias
        return out

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: _Batch) -> None:
        g = grads[self.sid]
        if g is None:
            return
        x, wt = self._x, self._wt
        if self.w_needs:
            # shared inputs (one row) under per-sample results (a per-sample bias): sum g first
            gw_t = x.T @ (g if x.shape[0] == g.shape[0] else g.sum(axis=0, keepdims=True))  # type: ignore[union-attr]
            if self.rows is not None:
                sid = self.rows[0]
                if grads[sid] is None:
                    grads[sid] = np.zeros(vals[sid].shape)
                view = self._weights(grads[sid])
                view += gw_t.T
            else:
                self.w.add(grads, vals, needs, gw_t.reshape(1, -1))
        if self.x_needs:
            self.x.add(grads, vals, needs, g @ np.ascontiguousarray(wt.T))  # type: ignore[union-attr]
        if self.b_needs:
            self.b.add(grads, vals, needs, g)  # type: ignore[union-attr]


def _neuron_rows(weights: list[list[Ref]]) -> tuple[int, int, int] | None:
    """(source, start, length) when neuron r's weights are columns start + r·length + j
    of one shared row (an nn.Layer's parameters: each neuron's weights, then its bias),
    so that W is a view of that row; else None."""
    first = weights[0][0]
    sid, start = first
    if sid < 0 or any(s != sid for row in weights for s, _ in row):
        return None
    n = len(weights[0])
    length = weights[1][0][1] - start if len(weights) > 1 else n
    if length < n:
        return None
    for r, row in enumerate(weights):
        if [c for _, c in row] != list(range(start + r * length, start + r * length + n)):
            return None
    return sid, start, length


class _Variadic(_Unit):
    """One node of an n-ary op: its operands as columns, its rule once over the batch."""

    def __init__(self, op: Op, refs: list[Ref], params: list[Any], group: Group, sid: int, chain: bool = False) -> None:
        self.op = op
        self.chain = chain  # a chain of adds: summed left to right, as it rounded
        self.forward_rule, self.backward_rule = op.rules_for(arrays)
        self.take = _Take(refs)
        self.takes = [self.take]
        self.params = params  # numbers, or ("ints", a): one per sample from argument a
        self.fast_sum = op.name in ("sum", "mean")
        self.group, self.sid = group, sid

    def _params(self, args: _Batch) -> list[Any]:
        return [args.arrays[p[1]] if isinstance(p, tuple) else p for p in self.params]

    def forward(self, vals: list[np.ndarray], args: _Batch) -> np.ndarray:
        operands = self.take(vals)
        if self.chain:
            return np.cumsum(operands, axis=1)[:, -1:]
        if self.fast_sum:
            total = _row_sums(operands)
            return (total if self.op.name == "sum" else total / operands.shape[1])[:, None]
        # the operands as rows, kept for the backward pass (a step runs one batch at a time)
        self._operands = arrays.Rows(np.ascontiguousarray(operands.T), self._params(args))
        out = self.forward_rule(self._operands)
        return np.asarray(out, dtype=np.float64).reshape(-1, 1)

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: _Batch) -> None:
        g = grads[self.sid]
        if g is None:
            return
        if self.fast_sum:
            n = self.take.k
            self.take.add(grads, vals, needs, np.broadcast_to(g if self.op.name == "sum" else g / n, (g.shape[0], n)))
            return
        local = self.backward_rule(g[:, 0], vals[self.sid][:, 0], self._operands)
        rows = max(g.shape[0], self._operands.matrix.shape[1])
        if local.__class__ is np.ndarray and local.shape == (self.take.k, rows):
            self.take.add(grads, vals, needs, local.T)  # the rule's gradients came as one array
        else:
            self.take.add(grads, vals, needs, np.stack([np.broadcast_to(x, (rows,)) for x in local], axis=1))


def _row_sums(m: np.ndarray) -> np.ndarray:
    """Each row's sum: correctly rounded (math.fsum) for one row, compensated for a batch."""
    if m.shape[0] == 1:
        return np.array([math.fsum(m[0].tolist())])
    return arrays.sum(list(m.T))


class _Tape:
    """The traced graph as groups over sources: what one call of the step runs."""

    def __init__(self, trace: _Trace, bound: _Bound, args: _Batch, params: list[Value]) -> None:
        self._params = params
        n_params = len(params)
        self.kinds = list(args.kinds)
        self.widths = [array.shape[1] if array.ndim == 2 else 1 for array in args.arrays]
        self.n_params = n_params
        # sources: parameters, the closure's constant Values, then each batched argument
        self.constants: list[Value] = []
        constant_index: dict[int, int] = {}
        self.arg_sid = {a: 2 + a for a in range(len(args.arrays))}
        n_sources = 2 + len(args.arrays)
        per_sample_source = [False, False] + [True] * len(args.arrays)
        ref_of: dict[int, Ref] = {}  # node index -> (sid, col)
        site_owner = bound.per_sample
        rules, descriptions, dropped, chains = _flatten_sums(trace)
        node_refs: list[list[Ref]] = []
        node_params: list[list[Any]] = []
        depth: list[int] = []
        per_sample: list[bool] = []
        self.index_limits: list[tuple[int, int, str]] = []
        for i, op in enumerate(rules):
            n_args = len(descriptions[i]) - op.n_params
            refs: list[Ref] = []
            params: list[Any] = []
            d, sample_dependent = 0, False
            for k, (kind, what, number_id) in enumerate(descriptions[i]):
                if kind == "number":
                    owner = site_owner.get(number_id)
                    if owner is not None:
                        sample_dependent = True
                        if k >= n_args:
                            params.append(("ints", owner))
                            if op.name in ("softmax", "log_softmax"):
                                self.index_limits.append((owner, n_args, op.name))
                        else:
                            refs.append((self.arg_sid[owner], 0))
                        continue
                    if k >= n_args:
                        params.append(what)
                    else:
                        refs.append((NUMBER, float(what)))
                    continue
                if kind == "node":
                    ref = (-3, what)  # until its group is known
                    d = max(d, depth[what])
                    sample_dependent |= per_sample[what]
                elif kind == "param":
                    ref = (PARAMS, what)
                elif kind == "input":
                    ref = (self.arg_sid[what[0]], what[1])
                    sample_dependent = True
                else:
                    if id(what) not in constant_index:
                        constant_index[id(what)] = len(self.constants)
                        self.constants.append(what)
                    ref = (CONSTANTS, constant_index[id(what)])
                refs.append(ref)
            node_refs.append(refs)
            node_params.append(params)
            depth.append(d + 1)
            per_sample.append(sample_dependent)
        # groups: by depth, op and how the nodes can run together
        keyed: dict[tuple, list[int]] = {}
        for i, op in enumerate(rules):
            if i not in dropped:
                keyed.setdefault(_group_key(op, node_refs[i], node_params[i], depth[i], per_sample, i), []).append(i)
        self.units: list[_Unit] = []
        for key in sorted(keyed, key=lambda key: (key[0], keyed[key][0])):
            members = keyed[key]
            sid = n_sources
            n_sources += 1
            per_sample_source.append(per_sample[members[0]])
            for col, i in enumerate(members):
                ref_of[i] = (sid, col)
            op = rules[members[0]]
            refs = [[ref_of[r[1]] if r[0] == -3 else r for r in node_refs[i]] for i in members]
            for i, r in zip(members, refs):
                node_refs[i] = r
            nodes = [trace.nodes[i] for i in members]
            kind = key[2]
            shown = "shared" if not per_sample[members[0]] else kind
            group = Group(op.name, shown, key[0], nodes)  # type: ignore[union-attr]
            if kind == "matmul":
                side = key[3]
                n = (len(refs[0]) // 2)
                halves = [(r[:n], r[n : 2 * n]) for r in refs]
                inputs = halves[0][1] if side == "x" else halves[0][0]
                weights = [h[0] if side == "x" else h[1] for h in halves]
                biases = [r[2 * n] for r in refs] if len(refs[0]) % 2 else None
                unit: _Unit = _Matmul(inputs, weights, biases, group, sid)
            elif kind == "elementwise":
                unit = _Elementwise(op, refs, group, sid)  # type: ignore[arg-type]
            else:
                unit = _Variadic(op, refs[0], node_params[members[0]], group, sid, members[0] in chains)  # type: ignore[arg-type]
            self.units.append(unit)
        self.n_sources = n_sources
        self.per_sample_source = per_sample_source
        # which sources need a gradient: the parameters and whatever depends on them
        needs = [False] * n_sources
        needs[PARAMS] = True
        for unit in self.units:
            needs[unit.sid] = any(needs[s] for take in unit.takes for s in take.sources())
        self.needs = needs
        for unit in self.units:
            unit.prepare(needs)
        position = {id(node): i for i, node in enumerate(trace.nodes)}
        self.result_refs = [self._ref_of_output(v, position, ref_of) for v in trace.result_nodes]
        self.extra_refs = [self._ref_of_output(v, position, ref_of) for v in trace.extra_nodes]
        self.result_list, self.extra_list = trace.result_list, trace.extra_list

    @staticmethod
    def _ref_of_output(v: Value, position: dict[int, int], ref_of: dict[int, Ref]) -> Ref:
        if id(v) not in position:
            raise CompileError(f"compile(): fn returned a leaf ({v!r:.60}), not a result computed by an op")
        return ref_of[position[id(v)]]

    # --- running -------------------------------------------------------------------------

    def _params_values(self) -> list[float]:
        return [p.data for p in self._params] + [c.data for c in self.constants]

    def forward(self, args: _Batch, checking: list[_Unit] | None = None) -> list[np.ndarray]:
        vals: list[np.ndarray] = [None] * self.n_sources  # type: ignore[list-item]
        vals[PARAMS] = np.fromiter(map(_data_of, self._params), np.float64, self.n_params).reshape(1, -1)
        vals[CONSTANTS] = np.fromiter(map(_data_of, self.constants), np.float64, len(self.constants)).reshape(1, -1)
        for a, array in enumerate(args.arrays):
            vals[2 + a] = array if array.ndim == 2 else array.reshape(-1, 1).astype(np.float64, copy=False)
        for unit in self.units:
            if checking is not None:
                checking.append(unit)
            vals[unit.sid] = unit.forward(vals, args)
        return vals

    def backward(
        self, vals: list[np.ndarray], args: _Batch, reduction: str, checking: list[_Unit] | None = None
    ) -> np.ndarray | None:
        grads: list[np.ndarray | None] = [None] * self.n_sources
        size = args.size
        sid, col = self.result_refs[0]
        seed = 1.0 / size if reduction == "mean" else 1.0
        if not self.needs[sid]:
            return None
        rows = vals[sid].shape[0]
        grads[sid] = np.zeros(vals[sid].shape)
        grads[sid][:, col] = seed * (size if rows == 1 else 1.0)
        needs = self.needs
        for unit in reversed(self.units):
            if needs[unit.sid]:
                if checking is not None:
                    checking.append(unit)
                unit.backward(vals, grads, needs, args)
        g = grads[PARAMS]
        return g[0] if g is not None else None

    @staticmethod
    def read(vals: list[np.ndarray], refs: list[Ref], as_list: bool, size: int) -> np.ndarray:
        """The referenced nodes' values per sample: (size,), or (size, k) as a list. A node
        the batch shares (it depends on the parameters alone) gives each sample its value."""
        if not as_list:
            sid, col = refs[0]
            column = vals[sid][:, col]
            return column.copy() if len(column) == size else np.repeat(column, size)
        return np.stack([np.broadcast_to(vals[sid][:, col], (size,)) for sid, col in refs], axis=1)

    def validate(self, trace: _Trace, args: _Batch) -> None:
        """Replay the traced sample and compare every node with its traced value: an op
        whose rules do not run on arrays is found here, named, before any training."""
        one = _Batch([a[trace.row : trace.row + 1] for a in args.arrays], args.kinds, 1)
        hint = "its rules must accept NumPy arrays (write them with operators, autograd's functions or NumPy)"
        checking: list[_Unit] = []  # the units run so far: the last is the one that failed
        phase = "forward"
        try:
            with arrays.quiet():
                vals = self.forward(one, checking)
                phase, checking = "derivative", []
                if not self.result_list:
                    self.backward(vals, one, "mean", checking)
        except Exception as error:  # noqa: BLE001 - reported with the op that failed
            what = f"the {phase} of the {checking[-1].group.op} op" if checking else f"the replay's {phase}"
            raise CompileError(f"compile(): {what} failed over a batch ({type(error).__name__}: {error}); {hint}") from error
        # the batch's arithmetic may round differently (matmul, compensated sums): a node
        # that cancels to 0 in one may hold an ulp of its operands in the other
        magnitudes = [abs(x) for x in trace.numbers if x - x == 0.0]
        magnitudes += [abs(node.data) for node in trace.nodes if node.data - node.data == 0.0]
        scale = max(magnitudes + [abs(v) for v in self._params_values()], default=1.0)
        for unit in self.units:
            got = vals[unit.sid][0]
            want = np.array([node.data for node in unit.group.nodes])
            close = np.isclose(got, want, rtol=1e-9, atol=1e-9 * scale, equal_nan=True) | (got == want)
            if not close.all():
                j = int(np.argmin(close))
                raise CompileError(
                    f"compile(): the {unit.group.op} op gives {got[j]!r} over a batch where the traced node holds "
                    f"{want[j]!r}; {hint}"
                )


def _group_key(op: Op, refs: list[Ref], params: list[Any], depth: int, per_sample: list[bool], i: int) -> tuple:
    """Nodes with one key run as one group. References to nodes are still (-3, index) here."""
    if op.arity in (1, 2) and not params:
        return (depth, op.name, "elementwise", per_sample[i])
    if op.name == "dot" and not params:
        n = len(refs) // 2

        def varies(half: list[Ref]) -> bool:
            return any(s >= 2 or s == -3 and per_sample[c] for s, c in half)

        ws, xs = refs[:n], refs[n : 2 * n]
        if not varies(ws):
            return (depth, "dot", "matmul", "x", tuple(xs), len(refs) % 2, per_sample[i])
        if not varies(xs):
            return (depth, "dot", "matmul", "w", tuple(ws), len(refs) % 2, per_sample[i])
    return (depth, op.name, "variadic", i)



_ADD = OPS["add"]


def _flatten_sums(trace: _Trace) -> tuple[list[Op], list[list[tuple[str, Any, int]]], set[int], set[int]]:
    """Each node's op and operands ``(kind, what, number id)``, with chains of additions
    made one n-ary node: Python's ``sum()`` over Values, ((0 + a) + b) + c, would be k
    groups of one column each. An add whose result only the next add reads, as its left
    operand, is dropped into it. Returns the ops, the operands, the dropped nodes and the chains' nodes,
    which the replay adds up left to right (np.cumsum), rounding as the chain did."""
    uses = [0] * len(trace.nodes)
    for operands in trace.operands:
        for kind, what in operands:
            if kind == "node":
                uses[what] += 1
    position = {id(node): i for i, node in enumerate(trace.nodes)}
    for node in trace.result_nodes + trace.extra_nodes:
        uses[position[id(node)]] += 2  # a result stays a node of its own
    rules: list[Op] = []
    descriptions: list[list[tuple[str, Any, int]]] = []
    dropped: set[int] = set()
    chains: set[int] = set()
    number_id = 0
    for i, node in enumerate(trace.nodes):
        described = []
        for kind, what in trace.operands[i]:
            described.append((kind, what, number_id if kind == "number" else -1))
            number_id += kind == "number"
        op: Op = node._rule  # type: ignore[assignment]
        if op is _ADD:
            merged = []
            for position, item in enumerate(described):
                j = item[1] if item[0] == "node" else -1
                # only the left operand: ((a + b) + c) + d adds up left to right, as cumsum does
                if position == 0 and j >= 0 and trace.nodes[j]._rule is _ADD and uses[j] == 1:
                    merged.extend(descriptions[j])
                    dropped.add(j)
                else:
                    merged.append(item)
            if len(merged) > len(described):
                op, described = OPS["sum"], merged
                chains.add(i)
        rules.append(op)
        descriptions.append(described)
    return rules, descriptions, dropped, chains
