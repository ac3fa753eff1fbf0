"""Forward mode: ``jvp`` and ``jacfwd``, which compose with themselves and with reverse mode.

``jvp(fn, xs, tangents)`` runs ``fn`` once and carries, beside each node it makes, the
node's tangent: Σ_k ∂node/∂operand_k · tangent_k, from the op table's own local
derivatives. With numbers in and numbers out the tangents are floats, computed with the
float rules. When an input or a tangent is a Value, the tangents are computed with the
Value rules instead: each is a node of a graph over the inputs and tangents, so that it
can be differentiated again, by ``grad`` (reverse over forward) or by another ``jvp``
(forward over forward), and ``jvp`` of a function that calls ``grad(...,
create_graph=True)`` is forward over reverse.

Nested calls are told apart as JAX tells its levels apart: every call is a *trace* on a
per-thread stack. A node made inside a call is seen by every trace on the stack, the
outermost first; the nodes a trace makes while it computes tangents are seen by the
traces outside it only (never by itself, nor by traces opened inside it, which have no
use for them). Each call's inputs are fresh nodes (``x * 1.0`` for a Value input), so a
variable an inner function closes over is a constant to it, never confused with its own
input.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from . import floats
from . import values as value_kit
from .engine import Value, _number, is_grad_enabled, observe_nodes
from .ops import Op

__all__ = ["jacfwd", "jvp"]

Number = Value | float


class _Stack(threading.local):
    def __init__(self) -> None:
        self.traces: list[_Trace] = []
        self.depth = 0  # how many traces, from the outermost, see the nodes being made


_stack = _Stack()


class _Trace:
    """One jvp call: the tangents of the nodes made during it, by node.

    Width 0 (jvp): one direction, each tangent a float, or with ``as_values`` a Value or a
    plain number. Width n (jacfwd): n directions at once, each tangent a list of n floats.
    """

    __slots__ = ("as_values", "level", "tangent_of", "width")

    def __init__(self, tangent_of: dict[Value, Any], as_values: bool, width: int) -> None:
        self.tangent_of = tangent_of
        self.as_values = as_values
        self.width = width
        self.level = 0

    def carry(self, node: Value, op: Op, args: tuple) -> None:
        tangent_of = self.tangent_of
        operands = args[: len(args) - op.n_params] if op.n_params else args
        moving = [k for k, a in enumerate(operands) if a.__class__ is Value and a in tangent_of]
        if not moving:
            return  # made from constants only, as far as this trace is concerned
        if not self.as_values:
            data = [a.data if a.__class__ is Value else a for a in args]
            partials = _local_gradients(op, op.backward, 1.0, node.data, data)
            if not self.width:
                tangent_of[node] = floats.sum([partials[k] * tangent_of[operands[k]] for k in moving])
            elif len(moving) == 1:
                p = partials[moving[0]]
                tangent_of[node] = [p * t for t in tangent_of[operands[moving[0]]]]
            elif len(moving) == 2:  # two roundings more than the correctly rounded sum, as any a·x + b·y
                p, q = partials[moving[0]], partials[moving[1]]
                tangent_of[node] = [
                    p * t + q * u for t, u in zip(tangent_of[operands[moving[0]]], tangent_of[operands[moving[1]]])
                ]
            else:
                rows = [[partials[k] * t for t in tangent_of[operands[k]]] for k in moving]
                tangent_of[node] = list(map(floats.sum, zip(*rows)))
            return
        # Value rules: the nodes made here are seen by the outer traces only
        outer = _stack.depth
        _stack.depth = self.level
        try:
            tangent_of[node] = _value_tangent(op, node, args, operands, moving, tangent_of)
        finally:
            _stack.depth = outer


def _value_tangent(op: Op, node: Value, args: tuple, operands: tuple, moving: list[int], tangent_of: dict) -> Number:
    """Σ_k ∂node/∂operand_k · tangent_k as nodes: each rule is linear in its upstream
    gradient, so a unary or binary op's rule is given the tangent itself as ``g``."""
    backward = op.rules_for(value_kit)[1]
    if op.arity == 1:
        return backward(tangent_of[args[0]], node, args[0])  # type: ignore[no-any-return]
    if op.arity == 2:
        terms = [backward(tangent_of[args[k]], node, args[0], args[1])[k] for k in moving]
    else:
        partials = backward(1.0, node, list(args))
        terms = [partials[k] * tangent_of[operands[k]] for k in moving]
    return terms[0] if len(terms) == 1 else value_kit.sum(terms)


def _local_gradients(op: Op, backward: Callable, g: Number, out: Number, args: Sequence) -> Sequence:  # type: ignore[type-arg]
    """The rule's gradient for each operand (parameters get none)."""
    if op.arity == 1:
        return (backward(g, out, args[0]),)
    if op.arity == 2:
        return backward(g, out, args[0], args[1])  # type: ignore[no-any-return]
    return backward(g, out, list(args))  # type: ignore[no-any-return]


def _observe(node: Value, op: Op, args: tuple) -> None:
    traces = _stack.traces
    for k in range(_stack.depth):  # the outermost first: its tangents of the operands are in
        traces[k].carry(node, op, args)


def _run(fn: Callable[..., Any], leaves: list[Value], trace: _Trace) -> Any:
    """fn(*leaves) with ``trace`` on the stack."""
    stack = _stack
    trace.level = len(stack.traces)
    outer_depth = stack.depth
    stack.traces.append(trace)
    stack.depth = len(stack.traces)
    try:
        if len(stack.traces) == 1:
            with observe_nodes(_observe):
                return fn(*leaves)
        return fn(*leaves)
    finally:
        stack.traces.pop()
        stack.depth = outer_depth


def jvp(fn: Callable[..., Any], xs: Sequence[Number], tangents: Sequence[Number]) -> tuple[Any, Any]:
    """Forward mode: ``(fn(xs), the derivative of fn at xs in the direction tangents)``.

    ``fn`` runs once, and every node it makes carries its tangent (Σ_k ∂node/∂operand_k ·
    tangent_k, from the same local derivatives backward uses) as it is made. One pass
    gives one directional derivative, whatever the number of inputs; reverse mode gives
    every input's derivative of one output per pass.

    With numbers as ``xs`` and ``tangents`` the results are floats. When any input or
    tangent is a Value, they are Values: the output as ``fn`` made it, and the tangent as
    a graph over the inputs and tangents, built from the table's ops, so that ``jvp`` of
    a ``jvp`` (forward over forward), ``grad`` of a ``jvp`` (reverse over forward) and
    ``jvp`` of a ``grad(..., create_graph=True)`` (forward over reverse) all work.

    When ``fn`` returns a list or tuple, the result is two lists, the outputs and their
    derivatives, from the same one pass: with a unit tangent that is one column of the
    Jacobian. An output that does not depend on the inputs (a plain number, or a Value
    made from constants) has derivative 0.

    >>> from autograd import jvp
    >>> jvp(lambda x, y: x * y, [3.0, 2.0], [1.0, 0.0])  # ∂(xy)/∂x = y
    (6.0, 2.0)
    >>> jvp(lambda x, y: [x * y, x + y], [3.0, 2.0], [1.0, 0.0])  # a column: ∂(xy)/∂x, ∂(x + y)/∂x
    ([6.0, 5.0], [2.0, 1.0])
    >>> d = lambda x: jvp(lambda y: y.tanh(), [x], [1.0])[1]  # tanh' = 1 − tanh²
    >>> round(jvp(d, [0.5], [1.0])[1], 12)  # forward over forward: tanh'' = −2 tanh (1 − tanh²)
    -0.726861981384
    """
    _recording("jvp")
    items = _as_list(xs, "jvp(): xs must be a list of numbers or Values")
    seeds = _as_list(tangents, "jvp(): tangents must be a list of numbers, one per input")
    if len(seeds) != len(items):
        raise ValueError(f"jvp(): {len(seeds)} tangents for {len(items)} inputs; give one per input")
    seeds = [t if t.__class__ is Value else _number(t, "jvp() tangents") for t in seeds]
    as_values = any(v.__class__ is Value for v in (*items, *seeds))
    leaves = _inputs(items, "jvp")
    trace = _Trace(dict(zip(leaves, seeds)), as_values, 0)
    out = _run(fn, leaves, trace)
    if isinstance(out, (list, tuple)):
        outs = [_output(o, "jvp", f"fn's output [{k}] must be") for k, o in enumerate(out)]
        pairs = [_result(o, trace) for o in outs]
        return [p for p, _ in pairs], [t for _, t in pairs]
    return _result(_output(out, "jvp", "fn must return", "; a list or tuple of them is accepted too"), trace)


def jacfwd(fn: Callable[..., Any], xs: Sequence[Number]) -> list:
    """The Jacobian of ``fn`` at ``xs`` by forward mode: J[i][j] = ∂output_i/∂x_j.

    One pass of ``fn`` carries all ``len(xs)`` unit tangents at once (one column of J each).
    ``fn`` returning one output gives its row, a list of floats (as JAX's jacfwd gives a
    vector for a scalar function); a list or tuple of outputs gives a nested list, one row
    per output. When an input is a Value the entries are Values (one jvp per column), so
    that ``jacfwd`` composes: ``jacfwd(lambda *x: jacrev(f, x), xs)`` is f's Hessian.

    >>> from autograd import jacfwd
    >>> jacfwd(lambda x, y: [x * y, x + y], [3.0, 2.0])
    [[2.0, 3.0], [1.0, 1.0]]
    """
    _recording("jacfwd")
    items = _as_list(xs, "jacfwd(): xs must be a list of numbers or Values")
    n = len(items)
    if any(v.__class__ is Value for v in items):  # composable: one Value pass per column
        columns = []
        value = None
        for j in range(n):
            value, column = jvp(fn, items, [1.0 if k == j else 0.0 for k in range(n)])
            columns.append(column)
        if not isinstance(value, list):
            return columns
        return [[columns[j][i] for j in range(n)] for i in range(len(value))]
    leaves = _inputs(items, "jacfwd")
    trace = _Trace({leaf: [1.0 if k == j else 0.0 for k in range(n)] for j, leaf in enumerate(leaves)}, False, n)
    out = _run(fn, leaves, trace)
    zero = [0.0] * n
    if isinstance(out, (list, tuple)):
        outs = [_output(o, "jacfwd", f"fn's output [{k}] must be") for k, o in enumerate(out)]
        return [list(trace.tangent_of.get(o, zero)) if o.__class__ is Value else list(zero) for o in outs]
    out = _output(out, "jacfwd", "fn must return", "; a list or tuple of them is accepted too")
    return list(trace.tangent_of.get(out, zero)) if out.__class__ is Value else list(zero)


def _recording(caller: str) -> None:
    """A RuntimeError where ops record nothing (inside no_grad): fn's nodes would all be
    leaves, and every derivative a silent 0."""
    if not is_grad_enabled():
        raise RuntimeError(
            f"{caller}() inside no_grad(): ops record no graph there, so every derivative would be 0; "
            f"call {caller}() outside no_grad() (no_grad inside fn still makes constants)"
        )


def _inputs(items: list, caller: str) -> list[Value]:
    """Fresh nodes for the inputs: a leaf for a number, ``x * 1.0`` for a Value x (a node
    of its graph, so the results stay differentiable in x, but not x itself, which an inner
    function may close over as a constant)."""
    leaves = []
    for x in items:
        if x.__class__ is Value:
            leaves.append(x * 1.0)
        else:
            leaves.append(Value(_number(x, f"{caller}() xs")))
    return leaves


def _result(out: Number, trace: _Trace) -> tuple[Any, Any]:
    tangent = trace.tangent_of.get(out, 0.0) if out.__class__ is Value else 0.0
    if not trace.as_values:
        return (out.data if out.__class__ is Value else out), tangent
    return (out if out.__class__ is Value else Value(out)), (tangent if tangent.__class__ is Value else Value(tangent))


def _as_list(x: object, message: str) -> list:
    """x's items as a list, or a TypeError with ``message`` and what x is (a str is not a list of numbers)."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{message}; got {type(x).__name__}")
    return list(x)  # type: ignore[call-overload]


def _output(out: object, caller: str, what: str, hint: str = "", accepted: str = "a Value or a number") -> Number:
    """A Value, or a plain number (a constant output: its derivative is 0), or a TypeError."""
    if out.__class__ is Value:
        return out  # type: ignore[return-value]
    try:
        return _number(out, "")
    except (TypeError, ValueError):
        raise TypeError(f"{caller}(): {what} {accepted}; got {type(out).__name__} {out!r:.60}{hint}") from None
