"""The third stage of ``autograd.compile``: one trace as a tape of groups over sources.

Every node becomes a column of a 2-D array, its *source*: the parameters (one row),
the closure's Values (one row), each batched argument, and each group's results
((batch, k), or one row when the batch shares them). A group runs its nodes as one
NumPy computation: a layer's dot nodes as ``X @ W.T + b`` (:class:`_Matmul`), one op's
nodes at one depth as one call of its array rule (:class:`_Elementwise`), an n-ary
node over its operands as columns (:class:`_Variadic`). The backward pass runs the
groups in reverse, each adding its operands' gradients into their sources. Python's
arithmetic on traced numbers runs as calcs (:class:`_Calc`, no gradient); a Value's
``.data`` used as a number is read through an *alias* of its source, which takes no
gradient. A tape also holds its trace's guards and their outcomes: the replay
(:mod:`autograd.compiler.replay`) gives each tape the samples that take its branches.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from .. import arrays, floats
from ..engine import Value
from ..ops import _TABLE, OPS, VARIADIC, Op
from .batch import Batch, CompileError
from .gather import GATHER, flat_positions, gather_backward, gather_forward
from .trace import Calc, Trace

__all__ = ["Group", "Tape"]

_data_of = attrgetter("data")


# A reference to a number in the replay: (source, column). Sources are 2-D arrays:
# the parameters (one row), the closure's Values (one row), each batched argument and
# each group's results ((batch, k), or one row when the batch shares them). A plain
# number is (NUMBER, value).
NUMBER = -1
PARAMS, CONSTANTS = 0, 1
Ref = tuple[int, Any]


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
                self.unique = _uniqueness(self.cols)
        else:
            self.mode = "mixed"
            for sid in sorted(sources):
                positions = [i for i, (s, _) in enumerate(refs) if s == sid]
                cols = [refs[i][1] for i in positions]
                self.parts.append((sid, np.array(positions, dtype=np.intp), np.array(cols, dtype=np.intp),
                                   _uniqueness(np.array(cols, dtype=np.intp))))  # fmt: skip

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


def _uniqueness(cols: np.ndarray) -> Any:
    """True when no column repeats; else (the distinct columns, each column's place among them),
    which a gradient's repeated columns are summed by (a bincount: np.add.at is slower)."""
    distinct, inverse = np.unique(cols, return_inverse=True)
    return True if len(distinct) == len(cols) else (distinct, inverse.ravel())


def _add_into(grads: list[np.ndarray | None], vals: list[np.ndarray], sid: int, cols: Any, unique: Any, g: Any) -> None:
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
    if unique is True:
        target[:, cols] += g
        return
    distinct, inverse = unique
    rows, n = target.shape[0], len(distinct)
    g = np.broadcast_to(g, (rows, len(inverse)))
    if rows == 1:
        summed = np.bincount(inverse, weights=g[0], minlength=n)[None, :]
    else:
        at = inverse[None, :] + n * np.arange(rows)[:, None]
        summed = np.bincount(at.ravel(), weights=g.ravel(), minlength=rows * n).reshape(rows, n)
    target[:, distinct] += summed


class _Unit:
    """One group of the replay: its forward and backward over the batch."""

    group: Group
    sid: int  # where its results go
    takes: list[_Take]
    index: int  # its place in the tape: saved[index] holds what its backward needs from this call
    dead: np.ndarray | None = None  # columns no result's gradient reaches (an extra's nodes): given none

    def prepare(self, needs: list[bool]) -> None:
        """Learn which of its operands need a gradient (fixed once the tape is built)."""

    def forward(self, vals: list[np.ndarray], args: Batch, saved: list[Any]) -> np.ndarray:
        raise NotImplementedError

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch, saved: list[Any]) -> None:
        raise NotImplementedError


class _Elementwise(_Unit):
    """k nodes of one unary or binary op: one call of its array rule over (rows, k) arrays."""

    def __init__(self, op: Op, refs: list[list[Ref]], group: Group, sid: int) -> None:
        self.forward_rule, self.backward_rule = op.rules_for(arrays)
        self.takes = [_Take([r[j] for r in refs]) for j in range(op.arity)]
        self.group, self.sid, self.k = group, sid, len(refs)

    def forward(self, vals: list[np.ndarray], args: Batch, saved: list[Any]) -> np.ndarray:
        # the operands are kept for the backward pass, in this call's own list
        operands = saved[self.index] = [take(vals) for take in self.takes]
        out = self.forward_rule(*operands)
        if out.__class__ is not np.ndarray or out.ndim != 2:  # a number, or one row of numbers
            out = np.asarray(out, dtype=np.float64).reshape(-1, self.k)
        return out

    def prepare(self, needs: list[bool]) -> None:
        self.wanted = [any(needs[s] for s in take.sources()) for take in self.takes]

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch, saved: list[Any]) -> None:
        g = grads[self.sid]
        if g is None:
            return
        local = self.backward_rule(g, vals[self.sid], *saved[self.index])
        if len(self.takes) == 1:
            local = (local,)
        if self.dead is not None:  # eager never visits them: 0·inf there would be nan
            local = [np.where(self.dead, 0.0, gradient) for gradient in local]
        for take, wanted, gradient in zip(self.takes, self.wanted, local):
            if wanted:
                take.add(grads, vals, needs, gradient)


class _Matmul(_Unit):
    """k dot nodes reading the same per-sample inputs: one ``X @ W.T (+ b)``.

    The forward pass keeps X and W.T for the backward pass in the call's ``saved`` list.
    """

    def __init__(
        self, inputs: list[Ref], weights: list[list[Ref]], biases: list[Ref] | None, group: Group, sid: int, stack: int = 1
    ) -> None:
        # stack > 1: one layer at several positions (each its own inputs, ``inputs`` laid end
        # to end), one product over (rows · stack, n); the results position after position
        n, k = len(inputs) // stack, len(weights)
        self.stack = stack
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

    def forward(self, vals: list[np.ndarray], args: Batch, saved: list[Any]) -> np.ndarray:
        x = self.x(vals)
        stack = self.stack
        if stack > 1:
            x = x.reshape(x.shape[0] * stack, -1)
        if self.rows is not None:
            wt = np.ascontiguousarray(self._weights(vals[self.rows[0]]).T)
        else:
            wt = self.w(vals).reshape(self.shape)
        saved[self.index] = (x, wt)
        out = x @ wt
        bias = None
        if self.b is not None:
            bias = self.b(vals)
            if stack > 1:
                bias = np.broadcast_to(bias, (out.shape[0] // stack, bias.shape[1])).reshape(out.shape[0], -1)
            if bias.shape[0] <= out.shape[0]:
                out += bias
            else:  # per-sample biases on shared products
                out = out + bias
        if not np.isfinite(out).all():
            out = self._exactly_where_not_finite(x, wt, bias, out)
        return out.reshape(-1, stack * self.shape[1]) if stack > 1 else out

    @staticmethod
    def _exactly_where_not_finite(x: np.ndarray, wt: np.ndarray, bias: np.ndarray | None, out: np.ndarray) -> np.ndarray:
        """Rows with an inf or nan redone as the dot rule does, product by product: BLAS may
        fuse a multiply into an add (w·x + y with w·x unrounded), so a product that overflows
        alone (inf - inf: nan, in eager) can vanish in its sum."""
        rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
        xs = np.broadcast_to(x, (out.shape[0], x.shape[1]))[rows]
        terms = xs[:, :, None] * wt[None, :, :]  # (rows, n, k)
        parts = [terms[:, j, :] for j in range(terms.shape[1])]
        if bias is not None:
            parts.append(np.broadcast_to(bias, out.shape)[rows])
        out = out.copy()
        out[rows] = arrays.sum(parts)
        return out

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch, saved: list[Any]) -> None:
        g = grads[self.sid]
        if g is None:
            return
        x, wt = saved[self.index]
        if self.dead is not None:  # eager never visits them: 0·inf there would be nan
            g = np.where(self.dead, 0.0, g)
        whole = g  # the biases' gradient, (rows, stack · k)
        if self.stack > 1:  # (never with dead columns: such groups are not stacked)
            g = g.reshape(-1, self.shape[1])
        if self.w_needs:
            # shared inputs (one row) under per-sample results (a per-sample bias): sum g first
            gw_t = x.T @ (g if x.shape[0] == g.shape[0] else g.sum(axis=0, keepdims=True))  # type: ignore[union-attr]
            if self.dead is not None:
                gw_t = np.where(self.dead, 0.0, gw_t)
            if self.rows is not None:
                sid = self.rows[0]
                if grads[sid] is None:
                    grads[sid] = np.zeros(vals[sid].shape)
                view = self._weights(grads[sid])
                view += gw_t.T
            else:
                self.w.add(grads, vals, needs, gw_t.reshape(1, -1))
        if self.x_needs:
            gx = g @ np.ascontiguousarray(wt.T)
            self.x.add(grads, vals, needs, gx.reshape(whole.shape[0], -1) if self.stack > 1 else gx)  # type: ignore[union-attr]
        if self.b_needs:
            self.b.add(grads, vals, needs, whole)  # type: ignore[union-attr]


def _live_items(trace: Trace) -> list[bool]:
    """The items a result's gradient reaches, through operands that are Values (eager's backward walk)."""
    position_of = {id(item): i for i, item in enumerate(trace.items)}
    live = [False] * len(trace.items)
    for node in trace.result_nodes:
        if id(node) in position_of:
            live[position_of[id(node)]] = True
    for i in range(len(trace.items) - 1, -1, -1):
        if live[i] and not isinstance(trace.items[i], Calc):
            for desc in trace.operands[i]:
                if desc[0] == "item":
                    live[desc[1]] = True
    return live


def _stack_layers(keyed: dict[tuple, list[int]], node_refs: list[list[Ref]], live: list[bool], per_sample: list[bool]) -> None:
    """A layer applied at several positions (a GPT's q, k, v at every token): the matmul
    groups at one depth with the same neurons' weights, each reading its own inputs, made
    one group whose members are position after position (``_Matmul``'s ``stack``)."""
    stacks: dict[tuple, list[tuple]] = {}
    for key, members in keyed.items():
        if key[2] == "matmul" and key[3] == "x" and key[6] and all(live[i] for i in members):
            n = len(node_refs[members[0]]) // 2
            inputs = node_refs[members[0]][n : 2 * n]
            if not any(s >= 2 or s == -3 and per_sample[c] or s == -4 for s, c in inputs):
                continue  # the inputs are shared (only a bias is per sample): nothing to stack
            signature = (key[0], key[5], tuple(tuple(node_refs[i][:n]) for i in members))
            stacks.setdefault(signature, []).append(key)
    for signature, keys in stacks.items():
        if len(keys) > 1:
            keys.sort(key=lambda key: keyed[key][0])
            merged = [i for key in keys for i in keyed.pop(key)]
            keyed[(signature[0], "dot", "matmul", "stack", keys[0], len(keys), True)] = merged


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
        self.params = params  # numbers, or ("ref", (sid, col)): one index per sample
        self.fast_sum = op.name in ("sum", "mean")
        self.group, self.sid = group, sid

    def _params(self, vals: list[np.ndarray]) -> list[Any]:
        # an index per sample, kept in range: a sample whose index is not (its guards
        # 0 <= i < n fail) is replayed by another tape, but runs through this one first
        last = self.take.k - 1
        return [
            np.clip(vals[p[1][0]][:, p[1][1]], 0, last).astype(np.int64) if isinstance(p, tuple) else p
            for p in self.params
        ]

    def forward(self, vals: list[np.ndarray], args: Batch, saved: list[Any]) -> np.ndarray:
        operands = self.take(vals)
        if self.chain:
            return np.cumsum(operands, axis=1)[:, -1:]
        if self.fast_sum:
            if self.op.name == "sum":
                return _row_sums(operands)[:, None]
            if operands.shape[0] == 1:  # the float kit's mean: as eager's, also where the sum overflows
                return np.array([[floats.mean(operands[0].tolist())]])
            return arrays.mean(list(operands.T))[:, None]
        # the operands as rows, kept for the backward pass in the call's own list
        rows = saved[self.index] = arrays.Rows(np.ascontiguousarray(operands.T), self._params(vals))
        out = self.forward_rule(rows)
        return np.asarray(out, dtype=np.float64).reshape(-1, 1)

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch, saved: list[Any]) -> None:
        g = grads[self.sid]
        if g is None or self.dead is not None:  # dead: an extra's node, which eager never visits
            return
        if self.fast_sum:
            n = self.take.k
            self.take.add(grads, vals, needs, np.broadcast_to(g if self.op.name == "sum" else g / n, (g.shape[0], n)))
            return
        operands = saved[self.index]
        local = self.backward_rule(g[:, 0], vals[self.sid][:, 0], operands)
        rows = max(g.shape[0], operands.matrix.shape[1])
        if local.__class__ is np.ndarray and local.shape == (self.take.k, rows):
            self.take.add(grads, vals, needs, local.T)  # the rule's gradients came as one array
        else:
            self.take.add(grads, vals, needs, np.stack([np.broadcast_to(x, (rows,)) for x in local], axis=1))


def _row_sums(m: np.ndarray) -> np.ndarray:
    """Each row's sum: correctly rounded (the float kit's) for one row, compensated for a batch."""
    if m.shape[0] == 1:  # the float kit's sum: as eager's, also where a partial sum overflows
        return np.array([floats.sum(m[0].tolist())])
    return arrays.sum(list(m.T))



class _Chains(_Unit):
    """k chains of n additions each (Python's ``sum()`` over Values, ((0 + a) + b) + c):
    added up left to right, as they rounded, by one cumsum over a (rows, k, n) array."""

    def __init__(self, refs: list[list[Ref]], group: Group, sid: int) -> None:
        # chains of several lengths (each starting from Python's sum()'s 0) padded in front
        # with more 0s: 0 + 0 + … + a rounds as 0 + a does, bit for bit
        self.k, self.n = len(refs), max(len(chain) for chain in refs)
        self.take = _Take([ref for chain in refs for ref in [(NUMBER, 0.0)] * (self.n - len(chain)) + chain])
        self.takes = [self.take]
        self.group, self.sid = group, sid

    def forward(self, vals: list[np.ndarray], args: Batch, saved: list[Any]) -> np.ndarray:
        operands = self.take(vals)
        return np.cumsum(operands.reshape(operands.shape[0], self.k, self.n), axis=2)[:, :, -1]

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch, saved: list[Any]) -> None:
        g = grads[self.sid]
        if g is None:
            return
        if self.dead is not None:  # an extra's chains: eager never visits them
            g = np.where(self.dead, 0.0, g)
        self.take.add(grads, vals, needs, np.repeat(g, self.n, axis=1))


class _Gather(_Unit):
    """k gathers (``table[token_id]``), each from a table of n elements by a per-sample
    index: one fancy index over the tables laid end to end; the backward pass adds each
    sample's gradient into the element it picked (a bincount)."""

    def __init__(self, refs: list[list[Ref]], index_refs: list[Ref], group: Group, sid: int) -> None:
        tables: dict[tuple[Ref, ...], int] = {}  # the gathers of one table (a column of wte) share it
        which = [tables.setdefault(tuple(r), len(tables)) for r in refs]
        self.n = len(refs[0])
        self.width = len(tables) * self.n
        self.table = _Take([ref for table in tables for ref in table])
        self.offsets = np.array(which, dtype=np.int64)[None, :] * self.n
        self.at = _Take(index_refs)
        self.takes = [self.table]  # the index gets no gradient
        self.group, self.sid, self.k = group, sid, len(refs)

    def forward(self, vals: list[np.ndarray], args: Batch, saved: list[Any]) -> np.ndarray:
        flat, error = flat_positions(self.at(vals), self.offsets, self.n)
        tables = self.table(vals)
        # an index out of range: raised by the replay if the sample is one this tape replays
        saved[self.index] = GatherRangeError(*error, self.n) if error else (flat, tables.shape[0])
        return gather_forward(tables, flat)

    def prepare(self, needs: list[bool]) -> None:
        self.wanted = any(needs[s] for s in self.table.sources())

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch, saved: list[Any]) -> None:
        g = grads[self.sid]
        if g is None or not self.wanted:
            return
        if self.dead is not None:  # an extra's gathers: eager never visits them
            g = np.where(self.dead, 0.0, g)
        flat, table_rows = saved[self.index]
        self.table.add(grads, vals, needs, gather_backward(g, flat, table_rows, self.width))


class GatherRangeError(IndexError):
    """A sample's index is out of range for the list it indexes (as eager's IndexError)."""

    def __init__(self, row: int, value: float, n: int) -> None:
        super().__init__(row, value, n)
        self.row, self.value, self.n = row, value, n

    def named(self, sample: int) -> IndexError:
        return IndexError(
            f"compile(): sample {sample} indexes a list of {self.n} Values (or rows) with {int(self.value)}, "
            f"out of range (-{self.n}..{self.n - 1}): a token id the table has no row for"
        )


class _Calc(_Unit):
    """k calcs of one kind (Python arithmetic on traced numbers, a NumPy function): one
    NumPy call over (rows, k) arrays, with Python's errors where Python raises. No gradient."""

    def __init__(self, calc: Calc, refs: list[list[Ref]], group: Group, sid: int) -> None:
        self.name, self.fn, self.is_int = calc.name, calc.fn, calc.is_int
        self.reduces = getattr(calc.fn, "reduces", False)  # max()/min(): over a (rows, k, n) array
        if self.reduces:
            # padded at the end with what never wins: -inf for max (a later operand wins only
            # when larger), +inf for min; a first nan still wins
            self.n = max(len(r) for r in refs)
            pad = (NUMBER, -math.inf if calc.name == "max" else math.inf)
            self.takes = [_Take([ref for r in refs for ref in r + [pad] * (self.n - len(r))])]
        else:
            self.takes = [_Take([r[j] for r in refs]) for j in range(len(refs[0]))]
        self.group, self.sid, self.k = group, sid, len(refs)

    def forward(self, vals: list[np.ndarray], args: Batch, saved: list[Any]) -> np.ndarray:
        if self.reduces:
            operands = self.takes[0](vals)
            out = self.fn(operands.reshape(operands.shape[0], self.k, self.n))
            return np.asarray(out, dtype=np.float64)
        operands = [take(vals) for take in self.takes]
        out = self.fn(*operands)
        # where Python raises, for a sample: kept in saved, raised by the replay only if the
        # sample is one this tape replays (a sample bound for another branch may divide by 0 here)
        error = self._error(operands, out)
        if error is not None:
            saved[self.index] = error
        out = np.asarray(out, dtype=np.float64)
        if out.ndim != 2:
            out = out.reshape(-1, self.k)
        return out

    def _error(self, operands: list[np.ndarray], out: np.ndarray) -> Exception | None:
        name = self.name
        if name in ("truediv", "floordiv", "mod") and np.any(operands[1] == 0.0):
            return ZeroDivisionError(f"a compiled step's {name} by zero (fn divides by a number that is 0 for a sample)")
        if name == "pow":
            base, exponent = np.broadcast_arrays(*operands)
            if np.any((base == 0.0) & (exponent < 0.0)):
                return ZeroDivisionError("a compiled step's power: 0 to a negative power (for a sample)")
            if np.any((base < 0.0) & (exponent != np.floor(exponent)) & np.isfinite(exponent)):
                return CompileError("compile(): a negative number to a fractional power is a complex number in Python (for a sample)")
            if not self.is_int and np.any(np.isinf(out) & np.isfinite(base) & np.isfinite(exponent)):
                return OverflowError("a compiled step's power overflowed (Python raises for a float power out of range)")
        if self.is_int and np.any(np.abs(out) > 2.0**53):
            return CompileError("compile(): integer arithmetic on a label went past 2**53, where float64 is no longer exact")
        return None

    def prepare(self, needs: list[bool]) -> None:
        pass

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch, saved: list[Any]) -> None:
        pass


# a comparison with its operands swapped (c < x is x > c), and its negation for numbers that are not nan
_FLIPPED = {operator.lt: operator.gt, operator.le: operator.ge, operator.gt: operator.lt, operator.ge: operator.le}
_NEGATED = {operator.lt: operator.ge, operator.le: operator.gt, operator.gt: operator.le, operator.ge: operator.lt}


class _Guards:
    """A tape's guards: each a comparison over referenced numbers (or an int's value),
    evaluated for a batch."""

    def __init__(self, fns: list[Any], refs: list[list[Ref]], outcomes: tuple[Any, ...]) -> None:
        self.fns = fns
        self.takes = [[_Take([r]) for r in operand_refs] for operand_refs in refs]
        self.outcomes = np.array([float(o) for o in outcomes], dtype=np.float64)
        self.is_value = [fn is None for fn in fns]
        self._plan_checks(outcomes)

    def _plan_checks(self, outcomes: tuple[Any, ...]) -> None:
        """What :meth:`agree` checks: per column compared with constants, the bounds its
        minimum and maximum must keep for every guard on it to take its traced outcome
        (a class index's range checks: one min and one max); the other guards, one by one."""
        bounds: dict[tuple[int, int], list[tuple[str, Any, float]]] = {}  # (sid, col) -> (which, compare, c)
        self.others: list[tuple[Any, list[_Take], Any]] = []
        for fn, takes, outcome in zip(self.fns, self.takes, outcomes):
            column = [t for t in takes if t.mode == "one"]
            consts = [t for t in takes if t.mode == "const"]
            if (len(column) == 1 and column[0].cols.__class__ is slice and len(takes) == 1 + len(consts)
                    and (fn is None or fn in _FLIPPED)):  # fmt: skip
                key = (column[0].sid, column[0].cols.start)
                if fn is None:  # an int's value: every sample's is the traced one
                    value = float(outcome)
                    bounds.setdefault(key, []).extend([("min", operator.ge, value), ("max", operator.le, value)])
                    continue
                if len(takes) == 2:
                    c = float(consts[0].const[0, 0])
                    compare = fn if takes[0] is column[0] else _FLIPPED[fn]  # as x <op> c
                    if not outcome:  # not (x <op> c), for numbers that are not nan
                        compare = _NEGATED[compare]
                    # x >= c (or >) for all: the minimum is; x <= c (or <) for all: the maximum is
                    which = "min" if compare in (operator.ge, operator.gt) else "max"
                    bounds.setdefault(key, []).append((which, compare, c))
                    continue
            self.others.append((fn, takes, outcome))
        self.bounds = [(sid, col, checks) for (sid, col), checks in bounds.items()]

    def agree(self, vals: list[np.ndarray], size: int) -> bool:
        """True when every sample takes the traced outcome of every guard (then
        :meth:`evaluate` has nothing to route); False when some may not. A nan fails the
        bounds (its min and max are nan), so it is left to :meth:`evaluate`."""
        if not size:
            return True
        for sid, col, checks in self.bounds:
            column = vals[sid][:, col]
            low = high = None
            for which, compare, c in checks:
                if which == "min":
                    if low is None:
                        low = column.min()
                    if not compare(low, c):
                        return False
                else:
                    if high is None:
                        high = column.max()
                    if not compare(high, c):
                        return False
        for fn, takes, outcome in self.others:
            operands = [take(vals)[:, 0] for take in takes]
            result = operands[0] == float(outcome) if fn is None else np.asarray(fn(*operands), dtype=bool)
            if not (result.all() if (fn is None or outcome) else not result.any()):
                return False
        return True

    def __len__(self) -> int:
        return len(self.fns)

    def evaluate(self, vals: list[np.ndarray], size: int) -> np.ndarray:
        """(size, guards): each sample's outcome of each guard (1.0 or 0.0, or an int's value)."""
        out = np.empty((size, len(self.fns)), dtype=np.float64)
        for g, (fn, takes) in enumerate(zip(self.fns, self.takes)):
            operands = [take(vals)[:, 0] for take in takes]
            result = operands[0] if fn is None else np.asarray(fn(*operands), dtype=bool)
            out[:, g] = np.broadcast_to(result, (size,))
        return out

    def key(self, g: int, value: float) -> Any:
        """Guard g's outcome as the pattern tree keys it: a bool, or an int."""
        return int(value) if self.is_value[g] else bool(value)


class Tape:
    """One trace as groups over sources: what the replay runs for the samples of one branch pattern."""

    def __init__(self, trace: Trace, args: Batch, params: list[Value]) -> None:
        self._params = params
        n_params = len(params)
        self.kinds = list(args.kinds)
        self.widths = args.widths
        self.shape = args.shape_key
        self.n_params = n_params
        self.outcomes = trace.outcomes
        self.row = trace.row
        # sources: parameters, the closure's constant Values, then each batched argument
        self.constants: list[Value] = []
        constant_index: dict[int, int] = {}
        self.arg_sid = {a: 2 + a for a in range(len(args.arrays))}
        n_sources = 2 + len(args.arrays)
        self.alias_of: dict[int, int] = {}  # source -> its alias (the same numbers, no gradient)
        alias_by_source: dict[int, int] = {}
        ref_of: dict[int, Ref] = {}  # item index -> (sid, col)
        rules, descriptions, dropped, chains = _flatten_sums(trace)
        node_refs: list[list[Ref]] = []
        node_params: list[list[Any]] = []
        depth: list[int] = []
        per_sample: list[bool] = []

        def resolve(desc: tuple[str, Any]) -> tuple[Ref, int, bool]:
            """(reference, depth, per sample); items as (-3, i) until their group is known, aliases as (-4, ref)."""
            kind, what = desc
            if kind == "item":
                return (-3, what), depth[what], per_sample[what]
            if kind == "param":
                return (PARAMS, what), 0, False
            if kind == "input":
                return (self.arg_sid[what[0]], what[1]), 0, True
            if kind == "arg":  # an integer argument, or ("arg", (a, j)): column j of a row of ints
                return ((self.arg_sid[what[0]], what[1]) if isinstance(what, tuple) else (self.arg_sid[what], 0)), 0, True
            if kind == "constant":
                if id(what) not in constant_index:
                    constant_index[id(what)] = len(self.constants)
                    self.constants.append(what)
                return (CONSTANTS, constant_index[id(what)]), 0, False
            if kind == "detached":
                inner, d, varies = resolve(what)
                return (-4, inner), d, varies
            if isinstance(what, int) and not isinstance(what, bool) and abs(what) > 2**53:
                raise CompileError(f"compile(): fn's integer {what} is too large to replay exactly in float64")
            return (NUMBER, float(what)), 0, False

        for i, rule in enumerate(rules):
            is_calc = isinstance(rule, Calc)
            n_args = len(descriptions[i]) - (0 if is_calc else rule.n_params)
            refs: list[Ref] = []
            node_param: list[Any] = []
            d, sample_dependent = 0, False
            for k, desc in enumerate(descriptions[i]):
                ref, ref_depth, varies = resolve(desc)
                d, sample_dependent = max(d, ref_depth), sample_dependent or varies
                if k >= n_args:
                    node_param.append(ref[1] if ref[0] == NUMBER else ("ref", ref))
                else:
                    refs.append(ref)
            node_refs.append(refs)
            node_params.append(node_param)
            depth.append(d + 1)
            per_sample.append(sample_dependent)

        def final(ref: Ref) -> Ref:
            nonlocal n_sources
            if ref[0] == -3:
                return ref_of[ref[1]]
            if ref[0] == -4:
                sid, col = final(ref[1])
                if sid >= 2 + len(args.arrays) or sid in (PARAMS, CONSTANTS):
                    if sid not in alias_by_source:
                        alias_by_source[sid] = n_sources
                        self.alias_of[sid] = n_sources
                        n_sources += 1
                    sid = alias_by_source[sid]
                return (sid, col)
            return ref

        # groups: by depth, op and how the nodes can run together
        keyed: dict[tuple, list[int]] = {}
        for i, rule in enumerate(rules):
            if i not in dropped:
                keyed.setdefault(
                    _group_key(rule, node_refs[i], node_params[i], depth[i], per_sample, i, i in chains), []
                ).append(i)
        live = _live_items(trace)
        _stack_layers(keyed, node_refs, live, per_sample)
        self.units: list[_Unit] = []
        order = sorted(keyed, key=lambda key: (key[0], keyed[key][0]))
        unit_sids = list(range(n_sources, n_sources + len(order)))
        n_sources += len(order)
        for key, sid in zip(order, unit_sids):
            members = keyed[key]
            for col, i in enumerate(members):
                ref_of[i] = (sid, col)
        for key, sid in zip(order, unit_sids):
            members = keyed[key]
            rule = rules[members[0]]
            refs = [[final(r) for r in node_refs[i]] for i in members]
            params_of = [[("ref", final(p[1])) if isinstance(p, tuple) else p for p in node_params[i]] for i in members]
            items = [trace.items[i] for i in members]
            kind = key[2]
            name = rule.name
            shown = "shared" if not per_sample[members[0]] else kind
            group = Group(name, shown, key[0], items)  # type: ignore[arg-type]
            if kind == "calc":
                unit: _Unit = _Calc(rule, refs, group, sid)  # type: ignore[arg-type]
            elif kind == "matmul":
                side = key[3]
                n = len(refs[0]) // 2
                halves = [(r[:n], r[n : 2 * n]) for r in refs]
                biases = [r[2 * n] for r in refs] if len(refs[0]) % 2 else None
                if side == "stack":  # one layer at several positions: members position after position
                    positions = key[5]
                    k = len(members) // positions
                    inputs = [ref for p in range(positions) for ref in halves[p * k][1]]
                    unit = _Matmul(inputs, [h[0] for h in halves[:k]], biases, group, sid, positions)
                else:
                    inputs = halves[0][1] if side == "x" else halves[0][0]
                    weights = [h[0] if side == "x" else h[1] for h in halves]
                    unit = _Matmul(inputs, weights, biases, group, sid)
            elif kind == "elementwise":
                unit = _Elementwise(rule, refs, group, sid)  # type: ignore[arg-type]
            elif kind == "chains":
                unit = _Chains(refs, group, sid)
            elif kind == "gather":
                unit = _Gather(refs, [p[0][1] for p in params_of], group, sid)
            else:
                unit = _Variadic(rule, refs[0], params_of[0], group, sid, members[0] in chains)  # type: ignore[arg-type]
            unit.index = len(self.units)
            self.units.append(unit)
        self.guards = _Guards(
            [g.fn for g, _ in trace.guards],
            [[final(resolve(desc)[0]) for desc in descs] for _, descs in trace.guards],
            trace.outcomes,
        )
        self.n_sources = n_sources
        # which sources need a gradient: the parameters, the constants (a closure's node may
        # lead to parameters) and whatever depends on them, except calcs and aliases
        needs = [False] * n_sources
        needs[PARAMS] = needs[CONSTANTS] = True
        for unit in self.units:
            if not isinstance(unit, _Calc):
                needs[unit.sid] = any(needs[s] for take in unit.takes for s in take.sources())
        self.needs = needs
        for unit in self.units:
            unit.prepare(needs)
        for key, unit in zip(order, self.units):
            members = keyed[key]
            if not all(live[i] for i in members):
                unit.dead = np.array([not live[i] for i in members])
        self.unit_aliases = [self.alias_of.get(unit.sid) for unit in self.units]
        self.calcs = [unit for unit in self.units if isinstance(unit, (_Calc, _Gather))]
        position = {id(item): i for i, item in enumerate(trace.items)}
        self.result_refs = [self._ref_of_output(v, position, ref_of) for v in trace.result_nodes]
        self.extra_refs = [self._ref_of_output(v, position, ref_of) for v in trace.extra_nodes]
        self.result_list, self.extra_list = trace.result_list, trace.extra_list
        # a closure's node (not a leaf) that leads to parameters: its gradient goes on to them
        self.constant_nodes = [(j, c) for j, c in enumerate(self.constants) if c._rule is not None]

    @staticmethod
    def _ref_of_output(v: Value, position: dict[int, int], ref_of: dict[int, Ref]) -> Ref:
        if id(v) not in position or id(v) not in position or position[id(v)] not in ref_of:
            raise CompileError(
                f"compile(): fn returned a leaf ({v!r:.60}: a parameter, an input or a constant) as a result or extra; "
                "the replay gives the results of ops (return, say, 1.0 * it)"
            )
        return ref_of[position[id(v)]]

    # --- running -------------------------------------------------------------------------

    def _params_values(self) -> list[float]:
        return [p.data for p in self._params] + [c.data for c in self.constants]

    def forward(
        self, args: Batch, checking: list[_Unit] | None = None, theta: np.ndarray | None = None
    ) -> tuple[list[np.ndarray], list[Any]]:
        """Every source's numbers for this batch, and what the backward pass needs (this call's own).
        ``theta``: the parameters' values (a training block's array); None reads the Values."""
        vals: list[np.ndarray] = [None] * self.n_sources  # type: ignore[list-item]
        saved: list[Any] = [None] * len(self.units)
        if theta is None:
            vals[PARAMS] = np.fromiter(map(_data_of, self._params), np.float64, self.n_params).reshape(1, -1)
        else:
            vals[PARAMS] = theta.reshape(1, -1)
        vals[CONSTANTS] = np.fromiter(map(_data_of, self.constants), np.float64, len(self.constants)).reshape(1, -1)
        vals[2 : 2 + len(args.columns)] = args.columns
        alias_of = self.alias_of
        if alias_of:
            for sid in (PARAMS, CONSTANTS):
                if sid in alias_of:
                    vals[alias_of[sid]] = vals[sid]
        for unit, alias in zip(self.units, self.unit_aliases):
            if checking is not None:
                checking.append(unit)
            vals[unit.sid] = unit.forward(vals, args, saved)
            if alias is not None:
                vals[alias] = vals[unit.sid]
        return vals, saved

    def raise_errors(self, saved: list[Any], index: np.ndarray | None = None) -> None:
        """Raise what Python would have raised for a sample this tape replayed (a division by
        0, an index out of range: ``index`` maps the replayed rows to the call's samples)."""
        for unit in self.calcs:
            error = saved[unit.index]
            if isinstance(error, GatherRangeError):
                raise error.named(error.row if index is None else int(index[error.row])) from None
            if isinstance(error, BaseException):
                raise error

    def backward(
        self, vals: list[np.ndarray], saved: list[Any], args: Batch, seed: float, checking: list[_Unit] | None = None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The gradients of the parameters and of the constants (None: none), for the results' sum times ``seed``."""
        grads: list[np.ndarray | None] = [None] * self.n_sources
        size = args.size
        sid, col = self.result_refs[0]
        if not self.needs[sid]:
            return None, None
        rows = vals[sid].shape[0]
        grads[sid] = np.zeros(vals[sid].shape)
        grads[sid][:, col] = seed * (size if rows == 1 else 1.0)
        needs = self.needs
        for unit in reversed(self.units):
            if needs[unit.sid]:
                if checking is not None:
                    checking.append(unit)
                unit.backward(vals, grads, needs, args, saved)
        g, c = grads[PARAMS], grads[CONSTANTS]
        return (g[0] if g is not None else None), (c[0] if c is not None and self.constant_nodes else None)

    @staticmethod
    def read(vals: list[np.ndarray], refs: list[Ref], as_list: bool, size: int) -> np.ndarray:
        """The referenced nodes' values per sample: (size,), or (size, k) as a list. A node
        the batch shares (it depends on the parameters alone) gives each sample its value."""
        if not as_list:
            sid, col = refs[0]
            column = vals[sid][:, col]
            return column.copy() if len(column) == size else np.repeat(column, size)
        return np.stack([np.broadcast_to(vals[sid][:, col], (size,)) for sid, col in refs], axis=1)

    def validate(self, trace: Trace, args: Batch) -> None:
        """Replay the traced sample and compare every node, calc and guard with the trace;
        then probe the ops of your own on several samples at once. An op whose rules do
        not run on arrays, or not elementwise per sample, is named here, before any training."""
        one = args.take(np.array([trace.row]))
        hint = "its rules must accept NumPy arrays (write them with operators, autograd's functions or NumPy)"
        checking: list[_Unit] = []  # the units run so far: the last is the one that failed
        phase = "forward"
        try:
            with arrays.quiet():
                vals, saved = self.forward(one, checking)
                self.raise_errors(saved)
                phase, checking = "derivative", []
                if not self.result_list:
                    self.backward(vals, saved, one, 1.0, checking)
        except Exception as error:  # noqa: BLE001 - reported with the op that failed
            what = f"the {phase} of the {checking[-1].group.op} op" if checking else f"the replay's {phase}"
            raise CompileError(f"compile(): {what} failed over a batch ({type(error).__name__}: {error}); {hint}") from error
        # the batch's arithmetic may round differently (matmul, compensated sums): a node
        # that cancels to 0 in one may hold an ulp of its operands in the other
        magnitudes = [abs(trace.value_of(i)) for i in range(len(trace.items))]
        magnitudes = [m for m in magnitudes if m - m == 0.0]
        scale = max(magnitudes + [abs(v) for v in self._params_values() if v - v == 0.0], default=1.0)
        position = {id(item): i for i, item in enumerate(trace.items)}
        for unit in self.units:
            got = vals[unit.sid][0]
            want = np.array([trace.value_of(position[id(item)]) for item in unit.group.nodes])
            close = np.isclose(got, want, rtol=1e-9, atol=1e-9 * scale, equal_nan=True) | (got == want)
            if not close.all():
                j = int(np.argmin(close))
                raise CompileError(
                    f"compile(): the {unit.group.op} op gives {got[j]!r} over a batch where the traced node holds "
                    f"{want[j]!r}; {hint}"
                )
        if len(self.guards):
            got_outcomes = self.guards.evaluate(vals, 1)[0]
            if not np.array_equal(got_outcomes, self.guards.outcomes):
                g = int(np.argmax(got_outcomes != self.guards.outcomes))
                guard = trace.guards[g][0]
                raise CompileError(
                    f"compile(): the comparison {guard.name} at {guard.where} gives {bool(got_outcomes[g])} over a "
                    f"batch where fn's run gave {guard.outcome}; its operands round differently in the replay"
                )
        for unit in self.units:
            op = getattr(unit, "forward_rule", None) and getattr(unit.group.nodes[0], "_rule", None)
            if isinstance(op, Op) and not any(op is built_in for built_in in _TABLE):
                probe_own_op(op, unit.group.nodes[0])


def probe_own_op(op: Op, node: Value) -> None:
    """An op of your own runs as one call over a batch: its array rules must act on each
    sample alone. They are run on several distinct samples near the traced one, together
    and one by one; a rule that reduces over the batch, or branches with a Python if
    (which cannot answer for an array), is refused, naming the op and the rule."""
    n_params = op.n_params
    args = node._args[: len(node._args) - n_params] if n_params else node._args
    values = np.array([float(a.data) if a.__class__ is Value else float(a) for a in args])
    values[~np.isfinite(values)] = 0.5  # inf or nan everywhere would make every probe alike
    steps = np.array([0.0, 1e-3, -2e-3, 3e-3, 5e-2])
    samples = values[None, :] * (1.0 + steps[:, None]) + steps[:, None]  # (samples, operands)
    forward, backward = op.rules_for(arrays)

    def run(rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        columns = [rows[:, k] for k in range(rows.shape[1])]
        if op.arity == VARIADIC:
            out = np.broadcast_to(np.asarray(forward(arrays.Rows(np.array(columns))), dtype=np.float64), (rows.shape[0],))
            grads = backward(np.ones(rows.shape[0]), out, arrays.Rows(np.array(columns)))
        else:
            out = np.broadcast_to(np.asarray(forward(*columns), dtype=np.float64), (rows.shape[0],))
            grads = backward(np.ones(rows.shape[0]), out, *columns)
            grads = [grads] if op.arity == 1 else list(grads)
        return np.array(out, dtype=np.float64), [np.broadcast_to(np.asarray(g, dtype=np.float64), (rows.shape[0],)) for g in grads]

    try:
        with arrays.quiet():
            together, together_grads = run(samples)
            alone = [run(samples[s : s + 1]) for s in range(len(samples))]
    except Exception as error:  # noqa: BLE001 - reported with the op
        raise CompileError(
            f"compile(): the {op.name} op's rules failed on several samples at once ({type(error).__name__}: {error}); "
            "a rule must act on each sample of an array alone (no Python if on a number, no sum over the batch)"
        ) from error
    for s, (out, grads) in enumerate(alone):
        for what, a, b in [("forward", together[s], out[0])] + [
            ("derivative", together_grads[k][s], grads[k][0]) for k in range(len(grads))
        ]:
            if not (a == b or (a != a and b != b) or abs(a - b) <= 1e-12 * max(abs(a), abs(b))):
                raise CompileError(
                    f"compile(): the {what} of the {op.name} op is not elementwise: over several samples it gives "
                    f"{a!r} for one where that sample alone gives {b!r}; a rule must act on each sample of an array "
                    "alone (no sum or mean over the batch, no Python if on a number)"
                )


def _group_key(
    rule: Op | Calc, refs: list[Ref], params: list[Any], depth: int, per_sample: list[bool], i: int, chain: bool = False
) -> tuple:
    """Items with one key run as one group. References to items are still (-3, index) here."""
    if chain:  # chains of adds at one depth (every neuron's sum(w * x)): one cumsum
        # of any length when they start from Python's sum()'s 0 (padded with 0s), else of one length
        starts_at_0 = refs[0][0] == NUMBER and refs[0][1] == 0.0 and math.copysign(1.0, refs[0][1]) > 0
        return (depth, "sum", "chains", -1 if starts_at_0 else len(refs), per_sample[i])
    if isinstance(rule, Calc):
        # max()/min() of any number of operands at one depth: padded (see _Calc)
        n = -1 if getattr(rule.fn, "reduces", False) else len(refs)
        return (depth, "calc:" + rule.name, "calc", n, rule.is_int, per_sample[i], id(rule.fn))
    op = rule
    if op is GATHER:  # gathers from tables of one length at one depth: one unit
        varies = any(s >= 2 or s == -3 and per_sample[c] or s == -4 for s, c in refs)
        return (depth, "gather", "gather", len(refs), varies, per_sample[i])
    if op.arity in (1, 2) and not params:
        return (depth, op.name, "elementwise", per_sample[i])
    if op.name == "dot" and not params:
        n = len(refs) // 2

        def varies(half: list[Ref]) -> bool:
            return any(s >= 2 or s == -3 and per_sample[c] or s == -4 for s, c in half)

        ws, xs = refs[:n], refs[n : 2 * n]
        if not varies(ws):
            return (depth, "dot", "matmul", "x", tuple(xs), len(refs) % 2, per_sample[i])
        if not varies(xs):
            return (depth, "dot", "matmul", "w", tuple(ws), len(refs) % 2, per_sample[i])
    return (depth, op.name, "variadic", i)


_ADD = OPS["add"]


def _flatten_sums(trace: Trace) -> tuple[list[Op | Calc], list[list[tuple[str, Any]]], set[int], set[int]]:
    """Each item's op (or calc) and operand descriptions, with chains of additions made
    one n-ary node: Python's ``sum()`` over Values, ((0 + a) + b) + c, would be k groups
    of one column each. An add whose result only the next add reads, as its left
    operand, is dropped into it. Returns the ops, the operands, the dropped nodes and the
    chains' nodes, which the replay adds up left to right (np.cumsum), rounding as the chain did."""
    uses = [0] * len(trace.items)

    def count(desc: tuple[str, Any], weight: int = 1) -> None:
        if desc[0] == "item":
            uses[desc[1]] += weight
        elif desc[0] == "detached":
            count(desc[1], 2)  # read as a number too: it keeps a column of its own

    for operands in trace.operands:
        for desc in operands:
            count(desc)
    for _, descs in trace.guards:
        for desc in descs:
            count(desc, 2)
    position = {id(item): i for i, item in enumerate(trace.items)}
    for node in trace.result_nodes + trace.extra_nodes:
        if id(node) in position:  # a leaf returned is refused by the tape, naming it
            uses[position[id(node)]] += 2  # a result stays a node of its own
    rules: list[Op | Calc] = []
    descriptions: list[list[tuple[str, Any]]] = []
    dropped: set[int] = set()
    chains: set[int] = set()
    for i, item in enumerate(trace.items):
        described = list(trace.operands[i])
        if isinstance(item, Calc):
            rules.append(item)
            descriptions.append(described)
            continue
        op: Op = item._rule  # type: ignore[assignment]
        if op is _ADD:
            merged: list[tuple[str, Any]] = []
            for k, desc in enumerate(described):
                j = desc[1] if desc[0] == "item" else -1
                # only the left operand: ((a + b) + c) + d adds up left to right, as cumsum does
                item_j = trace.items[j] if j >= 0 else None
                if k == 0 and item_j.__class__ is Value and item_j._rule is _ADD and uses[j] == 1:  # type: ignore[union-attr]
                    # the chain so far, taken over (not copied: a chain of n adds stays O(n))
                    merged, descriptions[j] = descriptions[j], []
                    dropped.add(j)
                    continue
                merged.append(desc)
            if len(merged) > len(described):
                op, described = OPS["sum"], merged
                chains.add(i)
        rules.append(op)
        descriptions.append(described)
    chains -= dropped  # an add merged into a later one is no chain of its own
    for i in sorted(chains):
        found = _as_dot(trace, descriptions[i], uses, dropped)
        if found is not None:  # sum(w * x for w, x in zip(row, x)): a neuron, run in a layer's matmul
            rules[i], descriptions[i] = OPS["dot"], found[0]
            dropped.update(found[1])
            chains.discard(i)
    return rules, descriptions, dropped, chains


_MUL = OPS["mul"]
_SHARED = ("param", "constant")


def _as_dot(
    trace: Trace, described: list[tuple[str, Any]], uses: list[int], dropped: set[int]
) -> tuple[list[tuple[str, Any]], list[int]] | None:
    """A chain ``first + w_0·x_0 + w_1·x_1 + …`` whose every term is a product that only the
    chain reads, with a parameter (or a closure's Value) on one side, as the operands of a
    dot node (w's, x's, then ``first`` as its bias) and the products it replaces; else None.
    The dot's rounding differs from the chain's as a layer's matmul differs from eager's dot."""
    first, terms = described[0], described[1:]
    if first[0] == "number" and first[1] == 0 and len(terms) > 2 and not _is_product(trace, terms[-1], uses):
        # sum(w * x for ...) + residual: Python's sum starts at 0, and the residual comes last
        first, terms = terms[-1], terms[:-1]
    if len(terms) < 2:
        return None
    ws, xs, items = [], [], []
    for desc in terms:
        if not _is_product(trace, desc, uses) or desc[1] in dropped:
            return None
        j = desc[1]
        a, b = trace.operands[j]
        if a[0] in _SHARED:
            ws.append(a)
            xs.append(b)
        elif b[0] in _SHARED:  # x·w: the same product (IEEE multiplication commutes)
            ws.append(b)
            xs.append(a)
        else:
            return None
        items.append(j)
    return ws + xs + [first], items


def _is_product(trace: Trace, desc: tuple[str, Any], uses: list[int]) -> bool:
    """Whether desc is a product node that only one node reads."""
    if desc[0] != "item" or uses[desc[1]] != 1:
        return False
    item = trace.items[desc[1]]
    return item.__class__ is Value and item._rule is _MUL  # type: ignore[union-attr]
