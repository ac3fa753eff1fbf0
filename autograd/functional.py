"""Derivatives as functions: ``grad`` (reverse mode, to any order), ``hessian`` and ``jvp`` (forward mode).

All three run the op table's rules, the same ones ``Value.backward`` runs: ``grad``
with floats, or with Values when ``create_graph=True`` (so the gradient is a graph of
its own), and ``jvp`` with floats, pushing tangents forward instead of gradients back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import floats
from . import values as value_kit
from .engine import Value, _number, _post_order, observe_nodes
from .ops import Op

__all__ = ["grad", "hessian", "jvp"]

Number = Value | float


def grad(
    outputs: Value | Sequence[Value],
    inputs: Sequence[Value],
    grad_outputs: Number | Sequence[Number] | None = None,
    create_graph: bool = False,
) -> list:
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Reverse mode from each output, seeded by its entry of ``grad_outputs`` (1 by
    default): the result is Σ_k seed_k · ∂output_k/∂input for each input, in the
    inputs' order. No ``.grad`` is read or written. An input the outputs do not depend
    on gets 0.

    With ``create_graph=False`` the gradients are floats. With ``create_graph=True``
    the rules run on Values, so each gradient is a Value in a graph of its own, built
    from the table's ops over the original graph: pass it to ``grad`` again for a
    second derivative, use it in further arithmetic (a penalty on ‖∇f‖²) or draw it
    with ``viz.draw_dot``. A gradient that is a constant is a leaf Value.

    >>> from autograd import Value, grad
    >>> x = Value(3.0)
    >>> y = x * x * x
    >>> [dy] = grad(y, [x], create_graph=True)
    >>> dy.data, grad(dy, [x])
    (27.0, [18.0])
    """
    outs = _values_list(outputs, "outputs")
    ins = _values_list(inputs, "inputs")
    if not outs:
        raise ValueError("grad(): outputs is empty; give a Value or a list of Values")
    seeds = _seeds(grad_outputs, len(outs), create_graph)
    # each node's gradient: a float, or (create_graph) a list of the contributions
    # from its users, added with one sum node once all of them are in
    grads: dict[Value, object] = {}
    # every node the outputs depend on, operands first: each output's walk adds the
    # nodes the earlier walks did not list, after the operands they did
    order: list[Value] = []
    seen: set[Value] = set()
    for out in outs:
        for node in _post_order(out):
            if node not in seen:
                seen.add(node)
                order.append(node)
    # only nodes that depend on an input need a gradient: the rest of the graph (an
    # MLP's weights, when the inputs are its input values) is left alone
    on_path = set(ins)
    for node in order:
        if any(a.__class__ is Value and a in on_path for a in node._args):
            on_path.add(node)
    for out, seed in zip(outs, seeds):
        _add(grads, out, seed, create_graph)
    for node in reversed(order):
        if node not in on_path:
            continue
        g = _collected(grads, node, create_graph)
        if g is None:
            continue
        op = node._rule
        args = node._args
        if create_graph:
            backward = op.rules_for(value_kit)[1]
            local = _local_gradients(op, backward, g, node, args)
        else:
            data = [a.data if a.__class__ is Value else a for a in args]
            local = _local_gradients(op, op.backward, g, node.data, data)
        for a, ga in zip(args, local):
            if a.__class__ is Value and a in on_path:
                _add(grads, a, ga, create_graph)
    results = []
    for x in ins:
        g = _collected(grads, x, create_graph)
        if g is None:
            g = 0.0
        if create_graph and g.__class__ is not Value:
            g = Value(g)
        results.append(g)
    return results


def _local_gradients(op, backward: Callable, g: Number, out: Number, args: Sequence) -> Sequence:  # type: ignore[no-untyped-def]
    """The rule's gradient for each operand (parameters get none)."""
    if op.arity == 1:
        return (backward(g, out, args[0]),)
    if op.arity == 2:
        return backward(g, out, args[0], args[1])
    return backward(g, out, list(args))


def _add(grads: dict, node: Value, g: object, create_graph: bool) -> None:
    if create_graph:
        grads.setdefault(node, []).append(g)
    else:
        grads[node] = grads.get(node, 0.0) + g  # type: ignore[operator]


def _collected(grads: dict, node: Value, create_graph: bool) -> object:
    g = grads.get(node)
    if not create_graph or g is None:
        return g
    terms = [t for t in g if not (t.__class__ is not Value and t == 0.0)] or [0.0]
    total = terms[0] if len(terms) == 1 else value_kit.sum(terms)
    grads[node] = [total]
    return total


def _values_list(x: object, name: str) -> list[Value]:
    items = [x] if x.__class__ is Value else _as_list(x, f"grad(): {name} must be a Value or a list of Values")
    for k, item in enumerate(items):
        if item.__class__ is not Value:
            raise TypeError(f"grad(): {name}[{k}] must be a Value; got {type(item).__name__} {item!r:.60}")
    return items


def _seeds(grad_outputs: object, n: int, create_graph: bool) -> list[Number]:
    if grad_outputs is None:
        return [1.0] * n
    one = grad_outputs.__class__ is Value or not hasattr(grad_outputs, "__iter__") or getattr(grad_outputs, "ndim", None) == 0
    items = [grad_outputs] if one else list(grad_outputs)  # type: ignore[call-overload]
    if len(items) != n:
        raise ValueError(f"grad(): grad_outputs has {len(items)} entries for {n} outputs; give one per output")
    seeds: list[Number] = []
    for item in items:
        if item.__class__ is Value:
            seeds.append(item if create_graph else item.data)  # type: ignore[union-attr]
        else:
            seeds.append(_number(item, "grad(grad_outputs=...)"))
    return seeds


def hessian(fn: Callable[..., Value], xs: Sequence[float]) -> list[list[float]]:
    """The matrix of second derivatives ∂²fn/∂x_i∂x_j at the numbers ``xs``, as lists of floats.

    ``fn`` is called once with leaf Values holding ``xs``; its gradient is taken with
    ``create_graph=True``, and each row is the gradient of one entry of it.

    >>> from autograd import hessian
    >>> hessian(lambda x, y: x * x * y, [3.0, 2.0])
    [[4.0, 6.0], [6.0, 0.0]]
    """
    leaves = _leaves(xs, "hessian")
    out = _called(fn, leaves, "hessian")
    first = grad(out, leaves, create_graph=True)
    return [grad(g, leaves) for g in first]


def jvp(
    fn: Callable[..., Value | Sequence[Value]], xs: Sequence[float], tangents: Sequence[float]
) -> tuple[float, float] | tuple[list[float], list[float]]:
    """Forward mode: ``(fn(xs), the derivative of fn at xs in the direction tangents)``, as floats.

    ``fn`` runs once on leaf Values, and every node it makes carries its tangent
    (Σ_k ∂node/∂operand_k · tangent_k, from the same local derivatives backward uses)
    as it is made. One pass gives one directional derivative, whatever the number of
    inputs; reverse mode gives every input's derivative of one output per pass.

    When ``fn`` returns a list or tuple of Values, the result is two lists, the outputs'
    values and their derivatives, from the same one pass: with a unit tangent that is
    one column of the Jacobian.

    >>> from autograd import jvp
    >>> jvp(lambda x, y: x * y, [3.0, 2.0], [1.0, 0.0])  # ∂(xy)/∂x = y
    (6.0, 2.0)
    >>> jvp(lambda x, y: [x * y, x + y], [3.0, 2.0], [1.0, 0.0])  # a column: ∂(xy)/∂x, ∂(x + y)/∂x
    ([6.0, 5.0], [2.0, 1.0])
    """
    leaves = _leaves(xs, "jvp")
    ts = [_number(t, "jvp() tangents") for t in _as_list(tangents, "jvp(): tangents must be a list of numbers, one per input")]
    if len(ts) != len(leaves):
        raise ValueError(f"jvp(): {len(ts)} tangents for {len(leaves)} inputs; give one per input")
    tangent_of: dict[Value, float] = dict(zip(leaves, ts))

    def carry_tangent(node: Value, op: Op, args: tuple) -> None:
        operands = args[: len(args) - op.n_params]
        if not any(a.__class__ is Value and a in tangent_of for a in operands):
            return  # made from constants only
        data = [a.data if a.__class__ is Value else a for a in args]
        partials = _local_gradients(op, op.backward, 1.0, node.data, data)
        tangent_of[node] = floats.sum(
            [p * tangent_of[a] for a, p in zip(operands, partials) if a.__class__ is Value and a in tangent_of]
        )

    with observe_nodes(carry_tangent):
        out = fn(*leaves)
    if isinstance(out, (list, tuple)):
        outs = [_checked_output(o, "jvp", f"fn's output [{k}] must be a Value") for k, o in enumerate(out)]
        return [o.data for o in outs], [tangent_of.get(o, 0.0) for o in outs]
    out = _checked_output(out, "jvp", "fn must return a Value", "; a list or tuple of Values is accepted too")
    return out.data, tangent_of.get(out, 0.0)


def _leaves(xs: Sequence[float], caller: str) -> list[Value]:
    items = _as_list(xs, f"{caller}(): xs must be a list of numbers")
    return [Value(_number(x.data if x.__class__ is Value else x, f"{caller}() xs")) for x in items]


def _as_list(x: object, message: str) -> list:
    """x's items as a list, or a TypeError with ``message`` and what x is (a str is not a list of numbers)."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{message}; got {type(x).__name__}")
    return list(x)  # type: ignore[call-overload]


def _called(fn: Callable[..., Value], leaves: list[Value], caller: str) -> Value:
    return _checked_output(fn(*leaves), caller)


def _checked_output(out: object, caller: str, what: str = "fn must return a Value", hint: str = "") -> Value:
    if out.__class__ is not Value:
        raise TypeError(f"{caller}(): {what}; got {type(out).__name__} {out!r:.60}{hint}")
    return out  # type: ignore[return-value]


