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

Tracing and its checks live in :mod:`autograd.tracing`, the replay in :mod:`autograd.replay`.
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

import collections
import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import arrays, floats
from .engine import Value
from .replay import Group, Tape
from .tracing import CHECKED_SAMPLES, Batch, CompileError, bind_numbers, compare, probe_indices, trace_sample

__all__ = ["CompileError", "CompiledStep", "Group", "compile"]

REDUCTIONS = ("mean", "sum")


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
        self._tape: Tape | None = None

    def __repr__(self) -> str:
        state = f"{len(self.groups)} groups" if self._tape is not None else "not traced yet"
        return f"<CompiledStep of {getattr(self.fn, '__name__', 'fn')}: {len(self.params)} parameters, {state}>"

    # --- public calls ------------------------------------------------------------------

    def trace(self, *batches: Any) -> CompiledStep:
        """Trace ``fn`` on this batch's samples and build the replay (the first call does
        this by itself). Raises :class:`CompileError` when the graph cannot be replayed."""
        args = Batch.of(batches, self._tape)
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
        """The mean (or sum) of the per-sample results, as a float (nan over +inf and -inf,
        as eager's); its gradient is added into each parameter's ``.grad``, as ``backward()``
        on the eager batch loss would: into all of them, or (on Ctrl-C) into none."""
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
            _add_grads(self.params, grad.tolist())
        return total

    # --- tracing and building ----------------------------------------------------------

    def _ready(self, batches: tuple[Any, ...]) -> tuple[Tape, Batch]:
        args = Batch.of(batches, self._tape)
        if self._tape is None:
            self._build(args)
        args.check_indices(self._tape)  # type: ignore[arg-type]
        return self._tape, args  # type: ignore[return-value]

    def _build(self, args: Batch) -> None:
        start = time.process_time()
        first = trace_sample(self.fn, args, 0, self.params)
        traces = [first]
        for row in args.rows_to_check(CHECKED_SAMPLES):
            traces.append(trace_sample(self.fn, args, row, self.params))
            compare(first, traces[-1])  # at the first difference, before tracing more
        probe = probe_indices(self.fn, args, first, self.params)
        if probe is not None:
            compare(first, probe)
            traces.append(probe)
        bound = bind_numbers(traces, args)
        self.trace_seconds = time.process_time() - start
        start = time.process_time()
        tape = Tape(first, bound, args, self.params)
        tape.validate(first, args)
        self.compile_seconds = time.process_time() - start
        self._tape = tape
        self.graph = first.result_nodes[0] if first.result_nodes else None
        self.groups = [unit.group for unit in tape.units]


def _reduce(results: np.ndarray, reduction: str) -> float:
    """The eager mean (or sum) node's value: correctly rounded, and inf or nan where IEEE
    gives them (a mean over +inf and -inf is nan)."""
    return floats.mean(results.tolist()) if reduction == "mean" else floats.sum(results.tolist())


def _add_grads(params: list[Value], grads: list[float]) -> None:
    """Adds each gradient into its parameter's ``.grad``, all of them or (interrupted) none.

    The sums are made first; then one C call (``map`` of ``setattr`` over the slots) stores
    them all. Python runs no bytecode of its own inside it, so a KeyboardInterrupt (Ctrl-C's
    handler runs between bytecodes) comes before any ``.grad`` changed or after all did.
    """
    added = [p.grad + g for p, g in zip(params, grads)]
    collections.deque(map(setattr, params, itertools.repeat("grad"), added), maxlen=0)
