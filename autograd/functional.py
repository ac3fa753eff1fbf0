"""Derivatives as functions: ``grad`` (reverse mode, to any order), ``jacrev``, ``hessian`` and ``hvp``.

They run the op table's rules, the same ones ``Value.backward`` runs: ``grad`` with
floats, or with Values when ``create_graph=True`` (so the gradient is a graph of its
own). ``hessian`` and ``hvp`` are forward mode (:mod:`autograd.forward`) over reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import values as value_kit
from .engine import Value, _number, _post_order
from .forward import _as_list, _inputs, _output, _recording, jacfwd, jvp

__all__ = ["grad", "hessian", "hvp", "jacrev"]

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

    An output that is a plain number, or a Value that does not depend on the inputs, is
    a constant: its gradient is 0 (as HIPS autograd and JAX say).

    >>> from autograd import Value, grad
    >>> x = Value(3.0)
    >>> y = x * x * x
    >>> [dy] = grad(y, [x], create_graph=True)
    >>> dy.data, grad(dy, [x])
    (27.0, [18.0])
    """
    outs = _values_list(outputs, "outputs", constants=True)
    ins = _values_list(inputs, "inputs")
    if not outs:
        raise ValueError("grad(): outputs is empty; give a Value or a list of Values")
    seeds = _seeds(grad_outputs, len(outs), create_graph)
    # a constant output (a plain number) contributes nothing
    outs, seeds = [o for o in outs if o.__class__ is Value], [s for o, s in zip(outs, seeds) if o.__class__ is Value]
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


def backward_with_graph(root: Value, seed: object = 1.0) -> None:
    """``root.backward(create_graph=True)``: every node's ``.grad`` a Value, built from the
    table's rules on Values, so that it can be differentiated again (DeZero's and PyTorch's
    ``create_graph``). Intermediate nodes get fresh gradients; a leaf adds to what it holds
    (a float 0, or None after ``cleargrad()``, counts as nothing)."""
    start = seed if seed.__class__ is Value else _number(seed, "backward(grad=...)")
    order = _post_order(root)
    grads: dict[Value, object] = {}
    _add(grads, root, start, True)
    leaves: list[Value] = [root] if root._rule is None else []
    for node in reversed(order):
        g = _collected(grads, node, True)
        node.grad = g if g.__class__ is Value else Value(g)  # type: ignore[arg-type]
        op = node._rule
        args = node._args
        local = _local_gradients(op, op.rules_for(value_kit)[1], g, node, args)  # type: ignore[arg-type]
        for a, ga in zip(args, local):
            if a.__class__ is Value:
                if a._rule is None and a not in grads:
                    leaves.append(a)
                _add(grads, a, ga, True)
    for leaf in leaves:
        g = _collected(grads, leaf, True)
        g = g if g.__class__ is Value else Value(g)  # type: ignore[arg-type]
        held = leaf.grad
        empty = held is None or (held.__class__ is float and held == 0.0)
        leaf.grad = g if empty else held + g  # type: ignore[operator]


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


def _values_list(x: object, name: str, constants: bool = False) -> list:
    """x as a list of Values; with ``constants`` (outputs), plain numbers too, as floats."""
    if constants and x.__class__ is not Value and not _listlike(x):
        x = [_output(x, "grad", "outputs must be", accepted="a Value, a number or a list of them")]
    items = [x] if x.__class__ is Value else _as_list(x, f"grad(): {name} must be a Value or a list of Values")
    for k, item in enumerate(items):
        if item.__class__ is not Value:
            if constants:
                items[k] = _output(item, "grad", f"outputs[{k}] must be")
                continue
            raise TypeError(f"grad(): {name}[{k}] must be a Value; got {type(item).__name__} {item!r:.60}")
    return items


def _listlike(x: object) -> bool:
    return not isinstance(x, (str, bytes)) and hasattr(x, "__iter__") and getattr(x, "ndim", 1) != 0


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

    Forward over reverse, as JAX's ``jacfwd(jacrev(fn))``: ``fn`` is called once with leaf
    Values holding ``xs``, its gradient is taken with ``create_graph=True``, and one forward
    pass carries all ``len(xs)`` unit tangents through both graphs at once: column j is the
    derivative of the gradient along x_j. For up to three inputs, where that measured no
    faster, each row is instead a reverse pass over the gradient's graph (reverse over
    reverse); both give the same numbers to rounding (benchmarks/bench_hessian.py).
    A function that returns a plain number has the zero Hessian.

    >>> from autograd import hessian
    >>> hessian(lambda x, y: x * x * y, [3.0, 2.0])
    [[4.0, 6.0], [6.0, 0.0]]
    """
    _recording("hessian")
    leaves = _leaves(xs, "hessian")
    if len(leaves) > REVERSE_OVER_REVERSE_UP_TO:
        return _hessian_forward_over_reverse(fn, leaves)
    return _hessian_reverse_over_reverse(fn, leaves)


# Up to this many inputs, reverse over reverse: forward over reverse took 1.35 times as long
# on Rosenbrock's 2 inputs, about as long at 3 and 5, and 0.6 to 0.8 of the time at 10 and
# 30 (benchmarks/bench_hessian.py; the figures in benchmarks/RESULTS.md).
REVERSE_OVER_REVERSE_UP_TO = 3


def _hessian_forward_over_reverse(fn: Callable[..., Value], leaves: list[Value]) -> list[list[float]]:
    def gradient(*inputs: Value) -> list:
        return grad(_called(fn, list(inputs), "hessian"), list(inputs), create_graph=True)

    return jacfwd(gradient, [leaf.data for leaf in leaves])  # type: ignore[no-any-return]


def _hessian_reverse_over_reverse(fn: Callable[..., Value], leaves: list[Value]) -> list[list[float]]:
    first = grad(_called(fn, leaves, "hessian"), leaves, create_graph=True)
    return [grad(g, leaves) for g in first]


def jacrev(fn: Callable[..., Any], xs: Sequence[Value | float]) -> list:
    """The Jacobian of ``fn`` at ``xs`` by reverse mode: J[i][j] = ∂output_i/∂x_j.

    One call of ``fn``, then one reverse pass per output. One output gives its gradient, a
    list (as JAX's jacrev gives a vector for a scalar function); a list or tuple of outputs
    gives a nested list, one row per output. When an input is a Value the gradients are
    taken with ``create_graph=True`` and the entries are Values, so ``jacrev`` composes with
    itself and with forward mode: ``jacfwd(lambda *x: jacrev(f, x), xs)`` is f's Hessian.

    >>> from autograd import jacrev
    >>> jacrev(lambda x, y: [x * y, x + y], [3.0, 2.0])
    [[2.0, 3.0], [1.0, 1.0]]
    """
    _recording("jacrev")
    items = _as_list(xs, "jacrev(): xs must be a list of numbers or Values")
    as_values = any(x.__class__ is Value for x in items)
    leaves = _inputs(items, "jacrev")
    out = fn(*leaves)
    if isinstance(out, (list, tuple)):
        return [grad(o, leaves, create_graph=as_values) for o in out]
    return grad(out, leaves, create_graph=as_values)


def hvp(fn: Callable[..., Value], xs: Sequence[Value | float], vs: Sequence[Value | float]) -> list:
    """The Hessian of ``fn`` at ``xs`` times the vector ``vs``, without forming the Hessian.

    Forward over reverse: one ``jvp`` along ``vs`` of ``fn``'s gradient (taken with
    ``create_graph=True``), so it costs a few evaluations of ``fn`` whatever ``len(xs)``.
    Floats for numbers; Values (differentiable again) when an input or ``vs`` holds a Value.

    >>> from autograd import hvp
    >>> hvp(lambda x, y: x * x * y, [3.0, 2.0], [1.0, 0.0])  # the first column of [[2y, 2x], [2x, 0]]
    [4.0, 6.0]
    """
    _recording("hvp")
    items = _as_list(xs, "hvp(): xs must be a list of numbers or Values")

    def gradient(*leaves: Value) -> list:
        return grad(fn(*leaves), list(leaves), create_graph=True)

    return jvp(gradient, items, vs)[1]  # type: ignore[no-any-return]


def _leaves(xs: Sequence[float], caller: str) -> list[Value]:
    items = _as_list(xs, f"{caller}(): xs must be a list of numbers")
    return [Value(_number(x.data if x.__class__ is Value else x, f"{caller}() xs")) for x in items]


def _called(fn: Callable[..., Value], leaves: list[Value], caller: str) -> Value | float:
    return _output(fn(*leaves), caller, "fn must return")
