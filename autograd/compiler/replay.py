"""The last stage of ``autograd.compile``: a batch replayed, each sample by the tape of its branch pattern.

A tape is traced for one branch pattern: the outcomes of the comparisons (guards) fn
made on one sample. :class:`Patterns` keeps the tapes in a tree by outcome. A batch
is run by the first tape; its guards are evaluated for every sample, and the samples
whose outcomes differ go on to the tape whose pattern agrees up to the first guard
where they differ, traced from the first such sample when there is none yet. Each
sample ends up replayed by the tape of its own pattern, so a branch that a single
sample takes, in any batch, is replayed as eager gradtrace runs it. At most
:data:`MAX_PATTERNS` tapes are traced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import arrays
from ..engine import Value
from .batch import Batch, CompileError
from .tape import Tape
from .trace import Trace, trace_sample

__all__ = ["MAX_PATTERNS", "Patterns", "Run"]

MAX_PATTERNS = 64


@dataclass
class Run:
    """One tape's replay of some of a call's samples (``index``: their positions; None: all)."""

    tape: Tape
    index: np.ndarray | None
    batch: Batch
    vals: list[np.ndarray]
    saved: list[Any]


class Patterns:
    """The tapes of a compiled function, one per branch pattern, in a tree by guard outcome."""

    def __init__(self, fn: Callable[..., Any], params: list[Value]) -> None:
        self.fn, self.params = fn, params
        self.tapes: list[Tape] = []
        self.traces: list[Trace] = []
        # per length of the rows of ints (Batch.shape_key): ("o", outcome) -> subtree; "tape" -> a tape whose
        # pattern goes through here
        self.trees: dict[tuple[int, ...], dict[Any, Any]] = {}
        self.firsts: dict[tuple[int, ...], Tape] = {}
        # reentrant: a Ctrl-C between a lock's acquire and its with-block leaves it held, and the
        # thread that was interrupted can still trace
        self.lock = threading.RLock()
        self.kinds: list[str] | None = None
        self.widths: list[int] | None = None

    def first(self, batch: Batch, before_trace: Callable[[], None] | None = None) -> Tape:
        """The first tape for the batch's lengths of rows of ints, traced on the batch's first
        sample when there is none yet (``before_trace`` called first, as in :meth:`forward`)."""
        shape = batch.shape_key
        tape = self.firsts.get(shape)
        if tape is not None:
            return tape
        if before_trace is not None:
            before_trace()
        with self.lock:
            if shape not in self.firsts:
                self._add(batch, 0, ())
            return self.firsts[shape]

    def _find(self, shape: tuple[int, ...], prefix: tuple[Any, ...]) -> Tape | None:
        node = self.trees.get(shape)
        if node is None:
            return None
        for outcome in prefix:
            node = node.get(("o", outcome))  # type: ignore[assignment]
            if node is None:
                return None
        return node.get("tape")  # type: ignore[no-any-return]

    def _add(self, batch: Batch, row: int, prefix: tuple[Any, ...]) -> Tape:
        """Trace sample ``row`` (of ``batch``), whose outcomes begin with ``prefix``, as a new tape."""
        shape = batch.shape_key
        if sum(1 for tape in self.tapes if tape.shape == shape) >= MAX_PATTERNS:
            raise CompileError(
                f"compile(): fn takes more than {MAX_PATTERNS} branch patterns (combinations of the outcomes of its "
                "comparisons on the data, or of the values of integers it uses as Python ints)"
                + (f" for rows of ints of length {', '.join(map(str, shape))}" if shape else "")
                + "; each is traced and replayed apart, and more are not kept. Write the branches with ops (relu, "
                "abs, autograd.maximum, autograd.where in an op of your own) instead, and index lists of Values "
                "by an integer argument directly (table[token_id]: a gather), not by a number computed from it"
                + "".join(f"; not gathered: {note}" for note in (self.traces[-1].notes if self.traces else [])[:3])
            )
        trace = trace_sample(self.fn, batch, row, self.params)
        if trace.outcomes[: len(prefix)] != prefix:
            raise CompileError(
                "compile(): fn made other comparisons on a sample than the replay found for it: it does not compute "
                "the same way from the same numbers (random numbers or state that changes between calls?)"
            )
        tape = Tape(trace, batch, self.params)
        tape.validate(trace, batch)
        if self.kinds is None:
            self.kinds, self.widths = list(batch.kinds), batch.widths
        self.tapes.append(tape)
        self.traces.append(trace)
        self.firsts.setdefault(shape, tape)
        node = self.trees.setdefault(shape, {})
        node.setdefault("tape", tape)
        for outcome in trace.outcomes:
            node = node.setdefault(("o", outcome), {})
            node.setdefault("tape", tape)
        return tape

    def forward(
        self, batch: Batch, theta: np.ndarray | None = None, before_trace: Callable[[], None] | None = None
    ) -> list[Run]:
        """Every sample replayed by the tape of its branch pattern (tracing patterns not seen before).
        ``theta``: the parameters' values (None: read from the Values); ``before_trace``: called
        before a new pattern is traced (a training block writes its arrays into the Values)."""
        pending: list[tuple[Tape, np.ndarray | None]] = [(self.first(batch, before_trace), None)]
        runs: list[Run] = []
        with arrays.quiet():
            while pending:
                tape, index = pending.pop()
                part = batch if index is None else batch.take(index)
                vals, saved = tape.forward(part, theta=theta)
                guards = tape.guards
                if len(guards) and not guards.agree(vals, part.size):  # agree: one NumPy min/max per checked column
                    outcomes = guards.evaluate(vals, part.size)
                    differ = outcomes != guards.outcomes
                    strays = differ.any(axis=1)
                    if strays.any():
                        local = np.arange(part.size) if index is None else index
                        first = differ.argmax(axis=1)
                        for position in np.unique(first[strays]).tolist():
                            at = strays & (first == position)
                            for value in np.unique(outcomes[at, position]).tolist():
                                members = local[at & (outcomes[:, position] == value)]
                                prefix = tape.outcomes[:position] + (guards.key(position, value),)
                                pending.append((self._tape_for(prefix, batch, int(members[0]), before_trace), members))
                        keep = local[~strays]
                        if not keep.size:
                            continue
                        index, part = keep, batch.take(keep)
                        vals, saved = tape.forward(part, theta=theta)
                tape.raise_errors(saved, index)
                runs.append(Run(tape, index, part, vals, saved))
        return runs

    def _tape_for(self, prefix: tuple[Any, ...], batch: Batch, row: int, before_trace: Callable[[], None] | None) -> Tape:
        tape = self._find(batch.shape_key, prefix)
        if tape is not None:
            return tape
        if before_trace is not None:
            before_trace()
        with self.lock:
            tape = self._find(batch.shape_key, prefix)
            if tape is None:
                tape = self._add(batch, row, prefix)
            return tape
