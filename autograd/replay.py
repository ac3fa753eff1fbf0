"""The replay for ``autograd.compile``: a traced graph as groups over sources, run over a batch.

Every node becomes a column of a 2-D array, its *source*: the parameters (one row),
the closure's Values (one row), each batched argument, and each group's results
((batch, k), or one row when the batch shares them). A group runs its nodes as one
NumPy computation: a layer's dot nodes as ``X @ W.T + b`` (:class:`_Matmul`), one op's
nodes at one depth as one call of its array rule (:class:`_Elementwise`), an n-ary
node over its operands as columns (:class:`_Variadic`). The backward pass runs the
groups in reverse, each adding its operands' gradients into their sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from . import arrays
from .engine import Value
from .ops import OPS, Op
from .tracing import Batch, Bound, CompileError, Trace

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

    def forward(self, vals: list[np.ndarray], args: Batch) -> np.ndarray:
        raise NotImplementedError

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch) -> None:
        raise NotImplementedError


class _Elementwise(_Unit):
    """k nodes of one unary or binary op: one call of its array rule over (rows, k) arrays."""

    def __init__(self, op: Op, refs: list[list[Ref]], group: Group, sid: int) -> None:
        self.forward_rule, self.backward_rule = op.rules_for(arrays)
        self.takes = [_Take([r[j] for r in refs]) for j in range(op.arity)]
        self.group, self.sid, self.k = group, sid, len(refs)

    def forward(self, vals: list[np.ndarray], args: Batch) -> np.ndarray:
        # the operands are kept for the backward pass (a step runs one batch at a time)
        operands = self._operands = [take(vals) for take in self.takes]
        out = self.forward_rule(*operands)
        if out.__class__ is not np.ndarray or out.ndim != 2:  # a number, or one row of numbers
            out = np.asarray(out, dtype=np.float64).reshape(-1, self.k)
        return out

    def prepare(self, needs: list[bool]) -> None:
        self.wanted = [any(needs[s] for s in take.sources()) for take in self.takes]

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch) -> None:
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

    def forward(self, vals: list[np.ndarray], args: Batch) -> np.ndarray:
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

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch) -> None:
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

    def _params(self, args: Batch) -> list[Any]:
        return [args.arrays[p[1]] if isinstance(p, tuple) else p for p in self.params]

    def forward(self, vals: list[np.ndarray], args: Batch) -> np.ndarray:
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

    def backward(self, vals: list[np.ndarray], grads: list[np.ndarray | None], needs: list[bool], args: Batch) -> None:
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


class Tape:
    """The traced graph as groups over sources: what one call of the step runs."""

    def __init__(self, trace: Trace, bound: Bound, args: Batch, params: list[Value]) -> None:
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
            raise CompileError(
                f"compile(): fn returned a leaf ({v!r:.60}: a parameter, an input or a constant) as a result or extra; "
                "the replay gives the results of ops (return, say, 1.0 * it)"
            )
        return ref_of[position[id(v)]]

    # --- running -------------------------------------------------------------------------

    def _params_values(self) -> list[float]:
        return [p.data for p in self._params] + [c.data for c in self.constants]

    def forward(self, args: Batch, checking: list[_Unit] | None = None) -> list[np.ndarray]:
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
        self, vals: list[np.ndarray], args: Batch, reduction: str, checking: list[_Unit] | None = None
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

    def validate(self, trace: Trace, args: Batch) -> None:
        """Replay the traced sample and compare every node with its traced value: an op
        whose rules do not run on arrays is found here, named, before any training."""
        one = Batch([a[trace.row : trace.row + 1] for a in args.arrays], args.kinds, 1)
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


def _flatten_sums(trace: Trace) -> tuple[list[Op], list[list[tuple[str, Any, int]]], set[int], set[int]]:
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
        if id(node) in position:  # a leaf returned is refused by the tape, naming it
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
