"""A Value's graph as numbered nodes, with the op table's forward and local derivatives replayed on it.

explain and nudge both need the graph without touching it: they read ``data``, ``op``,
``operands`` and ``params`` and never write a node. Values are kept in lists indexed like
the nodes, so a forward pass at other leaf values or a reverse pass leaves the user's
``data`` and ``grad`` as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autograd import OPS, Op, Value

__all__ = ["Chain", "walk"]


@dataclass(frozen=True)
class Chain:
    """The graph below ``nodes[0]`` (the root).

    Attributes:
        nodes: every Value the root depends on, breadth-first from the root through operands
            in order (the numbering draw_dot uses), each once.
        slots: per node, per operand: the operand's node index, or None for a plain number.
        order: node indices with every node before its operands (root first, leaves last);
            reversed, it is an order for the forward pass.
    """

    nodes: list[Value]
    slots: list[tuple[int | None, ...]]
    order: list[int]
    ids: dict[int, int]  # id(node) → its index: identity lookup only, never output

    def index(self, value: Value) -> int | None:
        """The node index of ``value`` (by identity), or None when the root does not depend on it."""
        return self.ids.get(id(value))

    def stored_data(self) -> list[float]:
        """Each node's ``data`` as the graph holds it."""
        return [node.data for node in self.nodes]

    def forward(self, data: Sequence[float], held: dict[int, float] | None = None) -> list[float]:
        """Every node's value recomputed from the leaves' values in ``data`` with the op table.

        ``held`` fixes some nodes at given values (their operands are then ignored), which is
        how a nudge of an intermediate node is computed.
        """
        held = held or {}
        values = list(data)
        for i in reversed(self.order):
            if i in held:
                values[i] = held[i]
                continue
            node = self.nodes[i]
            if not node.op:
                continue
            op = _op(node)
            args = self._operand_values(i, values)
            if op.arity == 1:
                values[i] = op.forward(args[0])
            elif op.arity == 2:
                values[i] = op.forward(args[0], args[1])
            else:
                values[i] = op.forward(args + list(node.params))
        return values

    def backward_at(self, i: int, g: float, data: Sequence[float]) -> tuple[float, ...]:
        """Gradients that node ``i``'s rule sends to each operand slot, for upstream ``g``.

        With ``g = 1`` these are the local derivatives ∂node/∂operand. Plain-number operands
        get their entry too (the rule computes it); callers skip them.
        """
        node = self.nodes[i]
        op = _op(node)
        args = self._operand_values(i, data)
        if op.arity == 1:
            return (op.backward(g, data[i], args[0]),)
        if op.arity == 2:
            return tuple(op.backward(g, data[i], args[0], args[1]))
        return tuple(op.backward(g, data[i], args + list(node.params)))

    def gradients(self, data: Sequence[float]) -> list[float]:
        """∂root/∂node for every node: reverse mode with the table's rules, as ``backward()`` does."""
        grads = [0.0] * len(self.nodes)
        grads[0] = 1.0
        for i in self.order:
            if not self.nodes[i].op:
                continue
            for j, g in zip(self.slots[i], self.backward_at(i, grads[i], data)):
                if j is not None:
                    grads[j] += g
        return grads

    def _operand_values(self, i: int, data: Sequence[float]) -> list[float]:
        return [
            data[j] if j is not None else float(operand)  # type: ignore[arg-type]
            for j, operand in zip(self.slots[i], self.nodes[i].operands)
        ]


def _op(node: Value) -> Op:
    try:
        return OPS[node.op]
    except KeyError:
        raise ValueError(f"the graph has a node made by {node.op!r}, which is not in autograd.OPS") from None


def walk(root: Value, caller: str) -> Chain:
    """Number root's graph; no recursion, so chains of any length work."""
    if not isinstance(root, Value):
        raise TypeError(f"{caller}: root must be a Value; got {type(root).__name__} {root!r:.60}")
    nodes, index = [root], {id(root): 0}
    slots: list[tuple[int | None, ...]] = []
    i = 0
    while i < len(nodes):
        row: list[int | None] = []
        for operand in nodes[i].operands if nodes[i].op else ():
            if isinstance(operand, Value):
                if id(operand) not in index:
                    index[id(operand)] = len(nodes)
                    nodes.append(operand)
                row.append(index[id(operand)])
            else:
                row.append(None)
        slots.append(tuple(row))
        i += 1
    return Chain(nodes, slots, _consumers_first(nodes, slots), index)


def _consumers_first(nodes: list[Value], slots: list[tuple[int | None, ...]]) -> list[int]:
    """A topological order with each node before its operands, leaves last.

    The nodes with an op come in the order ``Value.backward()`` applies their rules (a
    reversed depth-first post-order with an explicit stack: a node, a None marker, then its
    operands; the node is emitted when the marker comes back), so gradients are added up in
    the same order and the totals come out as the same floats.
    """
    done = [False] * len(slots)
    post: list[int] = []
    stack: list[int | None] = [0]
    while stack:
        i = stack.pop()
        if i is None:
            post.append(stack.pop())  # type: ignore[arg-type]
            continue
        if done[i]:
            continue
        done[i] = True
        stack.append(i)
        stack.append(None)
        for j in slots[i]:
            if j is not None and nodes[j].op and not done[j]:
                stack.append(j)
    post.reverse()
    if not nodes[0].op:
        post = []
    return post + [i for i, node in enumerate(nodes) if not node.op]
