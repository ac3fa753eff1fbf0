"""Issue 9, items 6–9: threads and interrupts, pickling, the number protocol, micrograd's names."""

from __future__ import annotations

import copy
import math
import pickle
import random
import sys
import threading

import numpy as np
import pytest

import autograd
import nn
from autograd import Value

# --- 6. threads and interrupts ------------------------------------------------------------


def _every_node(root: Value) -> list[Value]:
    seen, stack, out = set(), [root], []
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            out.append(node)
            stack.extend(node.parents)
    return out


def test_threads_running_backward_over_a_shared_node_never_crash() -> None:
    x = Value(0.5, label="x")
    shared = (x * 2.0).tanh() + x.exp()  # every thread's graph goes through this node
    errors: list[BaseException] = []
    not_float: list[object] = []
    stop = threading.Event()

    def train() -> None:
        try:
            for _ in range(300):
                y = (shared * shared + shared.sigmoid()).relu() * 3.0
                y.backward()
        except BaseException as error:  # noqa: BLE001 - any crash fails the test
            errors.append(error)

    def watch() -> None:
        while not stop.is_set():
            for node in (x, shared):
                if type(node.grad) is not float:
                    not_float.append(node.grad)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=train) for _ in range(8)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
        stop.set()
        watcher.join()
    assert errors == []
    assert not_float == []
    assert f"{x.grad:.3f}"  # a float, formatted as one


def test_an_interrupt_at_any_point_of_backward_leaves_every_grad_a_float() -> None:
    """Raise KeyboardInterrupt at the n-th line the engine runs, for every n, deterministically."""
    import autograd.engine as engine

    engine_file = engine.__file__
    interrupted = 0
    for n in range(1, 400, 3):
        x, w = Value(1.5, label="x"), Value(-0.5, label="w")
        h = (x * w).tanh()
        root = autograd.sum([h * h, (h + x).relu(), autograd.dot([w, x], [h, 2.0])])
        count = 0

        def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
            nonlocal count
            if frame.f_code.co_filename == engine_file and event == "line":
                count += 1
                if count == n:  # noqa: B023 - the tracer runs inside this iteration
                    raise KeyboardInterrupt
            return tracer

        sys.settrace(tracer)
        try:
            root.backward()
        except KeyboardInterrupt:
            interrupted += 1
        finally:
            sys.settrace(None)
        for node in _every_node(root):
            assert type(node.grad) is float, (n, node)
            assert f"{node.grad:.3f}"
    assert interrupted > 50  # most of the points fell inside backward


# --- 7. pickle and deepcopy -----------------------------------------------------------------


def _round_trips(obj: object) -> list[object]:
    return [pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)]


def test_values_and_graphs_round_trip_with_data_grad_label_and_structure() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="사과")
    h = a * b
    loss = autograd.sum([h.tanh(), h * a, autograd.softmax([a, b, 1.5])[1]])
    loss.label = "loss"
    loss.backward()
    for copied in _round_trips(loss):
        assert isinstance(copied, Value) and copied is not loss
        assert (copied.data, copied.grad, copied.label, copied.op) == (loss.data, loss.grad, "loss", "sum")
        ours, theirs = _every_node(loss), _every_node(copied)  # same walk order
        assert [(n.data, n.grad, n.label, n.op, n.params) for n in ours] == [
            (n.data, n.grad, n.label, n.op, n.params) for n in theirs
        ]
        # shared structure stays shared: the copy's leaf 'a' is one node, used three times
        leaves = [n for n in theirs if n.label == "a"]
        assert len(leaves) == 1
        copied.backward()
        assert leaves[0].grad == pytest.approx(2 * a.grad)  # it accumulated a second time


def test_a_deep_chain_pickles_and_deepcopies_without_recursion() -> None:
    x = Value(1.0, label="x")
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    for copied in _round_trips(y):
        assert copied.data == y.data
        copied.backward()
        leaf = copied
        while leaf.parents:
            leaf = leaf.parents[0]
        assert leaf.label == "x" and leaf.grad == pytest.approx(1.0000001**100_000, rel=1e-12)


def test_a_leaf_shared_with_a_graph_keeps_its_identity() -> None:
    w = Value(0.5, label="w")
    y = w * w + 1.0
    w2, y2 = pickle.loads(pickle.dumps([w, y]))
    y2.backward()
    assert w2.grad == 1.0  # the copy of y reads the copy of w, not a stranger


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Neuron(3, activation="tanh", rng=random.Random(0)),
        lambda: nn.Layer(3, 2, activation="sigmoid", rng=random.Random(0)),
        lambda: nn.MLP(2, [4, 1], rng=random.Random(0)),
        lambda: nn.MLP(2, [3, 3, 2], activation="leaky_relu", rng=random.Random(1)),
        lambda: nn.Perceptron(2),
        lambda: nn.Adaline(2),
    ],
    ids=["Neuron", "Layer", "MLP", "MLP-leaky", "Perceptron", "Adaline"],
)
def test_every_nn_module_round_trips(make) -> None:  # type: ignore[no-untyped-def]
    model = make()
    x = [0.3, -1.2, 0.7][: _nin(model)]
    if hasattr(model, "parameters"):
        out = model(x)
        outs = out if isinstance(out, list) else [out]
        autograd.sum(outs).backward()
        for i, p in enumerate(model.parameters()):
            p.label = f"p{i}"
    for copied in _round_trips(model):
        assert type(copied) is type(model) and repr(copied) == repr(model)
        if hasattr(model, "parameters"):
            assert [(p.data, p.grad, p.label) for p in copied.parameters()] == [
                (p.data, p.grad, p.label) for p in model.parameters()
            ]
            again = copied(x)
            again = again if isinstance(again, list) else [again]
            assert [v.data for v in again] == [v.data for v in outs]
        else:
            assert (copied.weights, copied.bias) == (model.weights, model.bias)
            assert copied.predict(x) == model.predict(x)


def _nin(model: object) -> int:
    for name in ("nin",):
        if hasattr(model, name):
            return int(getattr(model, name))
    if hasattr(model, "weights"):
        return len(model.weights)  # type: ignore[attr-defined]
    return len(model.layers[0].neurons[0].w)  # type: ignore[attr-defined]


# --- 8. the number protocol ------------------------------------------------------------------


def test_comparisons_read_the_data_and_make_no_node() -> None:
    a, b = Value(2.0), Value(3.0)
    results = [a < b, a <= b, a > b, a >= b, a < 2.5, a <= 2, a > 1, a >= 2.0, 1 < a, 3 <= a, np.float64(2.5) > a]
    assert results == [True, True, False, False, True, True, True, True, True, False, True]
    assert all(type(r) is bool for r in results)
    assert max(a, b) is b and sorted([b, a]) == [a, b]
    assert not (Value(math.nan) < 1.0) and not (Value(math.nan) >= 1.0)
    assert a < 10**400  # exact int comparison, no overflow
    with pytest.raises(TypeError, match="'<' not supported"):
        a < "3"  # noqa: B015


def test_equality_and_hash_stay_identity() -> None:
    a, b = Value(2.0), Value(2.0)
    assert a != b and a == a and len({a, b}) == 2 and hash(a) != hash(b)


def test_int_round_floor_ceil_trunc_and_format_read_the_data() -> None:
    v = Value(-2.675)
    assert int(v) == -2 and type(int(v)) is int
    assert round(v) == -3 and type(round(v)) is int
    assert round(v, 2) == round(-2.675, 2)
    assert (math.floor(v), math.ceil(v), math.trunc(v)) == (-3, -2, -2)
    assert format(v, ".3f") == "-2.675" and f"{v:.1e}" == "-2.7e+00" and f"{v:>8.2f}" == "   -2.67"
    assert f"{v}" == str(v) == repr(v)
    with pytest.raises(ValueError):
        int(Value(math.nan))


def test_a_0d_array_is_a_number() -> None:
    v = Value(np.array(2.0))
    assert type(v.data) is float and v.data == 2.0
    assert Value(np.array(3, dtype=np.int32)).data == 3.0
    assert (Value(1.0) + np.array(0.5)).data == 1.5
    with pytest.raises(TypeError, match="got ndarray"):
        Value(np.array([2.0]))


# --- 9. micrograd's names and code ---------------------------------------------------------


def _lecture_neuron() -> tuple[Value, ...]:
    """nn-zero-to-hero's worked neuron, with its labels."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o


def test_stepping_backward_by_hand_as_the_lecture_does() -> None:
    x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o = _lecture_neuron()
    o.grad = 1.0
    o._backward()
    n._backward()
    b._backward()  # a leaf's does nothing
    x1w1x2w2._backward()
    x2w2._backward()
    x1w1._backward()
    by_hand = [v.grad for v in (x1, x2, w1, w2, b, n)]
    assert by_hand == pytest.approx([-1.5, 0.5, 1.0, 0.0, 0.5, 0.5], rel=1e-12, abs=1e-12)

    again = _lecture_neuron()
    again[-1].backward()
    assert [v.grad for v in (again[0], again[1], again[2], again[3], again[4], again[8])] == by_hand


def test_micrograd_internal_names() -> None:
    x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o = _lecture_neuron()
    assert (x1._op, x1w1._op, n._op, o._op) == ("", "*", "+", "tanh")
    assert x1._prev == set() and x1w1._prev == {x1, w1} and o._prev == {n}
    assert (x1 ** 2)._op == "**2" and (x1 ** -1)._op == "**-1" and (x1 ** 0.5)._op == "**0.5"
    assert (x1 ** w1)._op == "**"
    assert x1.relu()._op == "ReLU" and x1.exp()._op == "exp" and (x1 - 1)._op == "-" and (x1 / 2)._op == "/"
    assert autograd.dot([x1], [w1])._op == "dot"
    for op in autograd.OPS.values():  # every op has a short name
        assert op.short or op.name


def _trace(root):  # type: ignore[no-untyped-def]
    # the helper micrograd's trace_graph.ipynb and the lecture write (our wording, their
    # names): every node and edge, found through the nodes' micrograd-style `_prev` sets
    nodes, edges = set(), set()

    def visit(v):  # type: ignore[no-untyped-def]
        if v in nodes:
            return
        nodes.add(v)
        for operand in v._prev:
            edges.add((operand, v))
            visit(operand)

    visit(root)
    return nodes, edges


def _draw_dot(root):  # type: ignore[no-untyped-def]
    # likewise: a record node per Value and an op node named by the Value's `_op` string
    from graphviz import Digraph

    graph = Digraph(format="svg", graph_attr={"rankdir": "LR"})
    nodes, edges = _trace(root)
    for v in nodes:
        graph.node(name=str(id(v)), label=f"{{ {v.label} | data {v.data:.4f} | grad {v.grad:.4f} }}", shape="record")
        if v._op:
            graph.node(name=str(id(v)) + v._op, label=v._op)
            graph.edge(str(id(v)) + v._op, str(id(v)))
    for a, b in edges:
        graph.edge(str(id(a)), str(id(b)) + b._op)
    return graph


def test_micrographs_own_trace_and_draw_dot_run_unchanged() -> None:
    *_, o = _lecture_neuron()
    o.backward()
    nodes, edges = _trace(o)
    assert len(nodes) == 10 and len(edges) == 9
    source = _draw_dot(o).source
    assert "data 0.7071 | grad 1.0000" in source and "grad -1.5000" in source
    assert source.count("label=tanh") == 1 and source.count("label=\"*\"") + source.count("label=*") == 2

    # the notebook's two examples: (x·2 + 1).relu(), and a neuron from micrograd's nn
    x = Value(1.0)
    y = (x * 2 + 1).relu()
    y.backward()
    assert {v._op for v in _trace(y)[0]} == {"", "*", "+", "ReLU"} and x.grad == 2.0
    random.seed(1337)
    neuron = nn.Neuron(2)
    y = neuron([Value(1.0), Value(-2.0)])
    y.backward()
    assert "ReLU" in _draw_dot(y).source
    assert [p.grad for p in neuron.parameters()] == [1.0, -2.0, 1.0]  # as micrograd's neuron gives


def test_micrographs_nonlin_switch() -> None:
    assert nn.Neuron(2, nonlin=False).activation == "linear" and nn.Layer(2, 3, nonlin=True).activation == "relu"
    with pytest.raises(ValueError, match="not both"):
        nn.Neuron(2, activation="tanh", nonlin=True)
    with pytest.raises(TypeError, match="True or False"):
        nn.Layer(2, 2, nonlin="yes")  # type: ignore[arg-type]


def test_micrographs_own_tests_pass_with_only_the_import_changed() -> None:
    """micrograd's test/test_engine.py, whose expected numbers come from PyTorch."""
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert (y.data, x.grad) == (-20.0, 46.0)

    a, b = Value(-4.0), Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    tol = 1e-6
    assert abs(g.data - 24.70408163265306) < tol
    assert abs(a.grad - 138.83381924198252) < tol
    assert abs(b.grad - 645.5772594752186) < tol


def test_micrographs_demo_model_code_runs_unchanged() -> None:
    """The demo's model, loss and update lines, with `from nn import MLP` for micrograd.nn's."""
    from nn import MLP

    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    X = [[0.5, -0.2], [1.0, 0.3], [-0.7, 0.9]]
    y = [1, -1, 1]
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    model.zero_grad()
    total_loss.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    assert len(accuracy) == 3 and math.isfinite(total_loss.data)

