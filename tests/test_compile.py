"""autograd.compile against eager gradtrace: the same per-sample results, batch loss and gradients.

The independent truth is the eager path: ``fn`` called on each sample's row, the
per-sample ``.data``, and ``autograd.mean`` (or ``autograd.sum``) of them, whose
``backward()`` gives each parameter's gradient. The compiled step must agree with it
to ``RTOL`` = 1e-12 relative, entry by entry (:func:`assert_matches` says exactly how),
on random graphs of every op in the table, on micrograd's moons demo and on digits,
at batch sizes 1, 2, 7 and 64. Then: per-sample op parameters (class indices, ±1
labels) and terms shared by every sample. tests/test_compile_validity.py has what
compile refuses (graphs whose structure depends on the data, bad input), ops of your
own, and how ``.grad`` is touched.
"""

from __future__ import annotations

import functools
import operator
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_op_table import BUILDERS  # how each op's node is built through the public API

import autograd
import nn
from autograd import Value
from autograd.ops import _TABLE, VARIADIC

BUILT_IN = {op.name: op for op in _TABLE}
BATCH_SIZES = (1, 2, 7, 64)

# --- equality with eager ------------------------------------------------------------------

RTOL = 1e-12
# Relative to what? An entry that is a small difference of large terms (a gradient
# summed over samples of both signs, a loss near 0, a dot of cancelling products)
# carries the rounding of the large terms, in eager and in compiled alike, whichever
# order they add in: its error is relative to them, not to itself. So each entry e is
# held to RTOL relative to max(|e|, FLOOR·s), where s is the first-order size of the
# rounding that e can carry, computed from eager's own graph (:func:`error_sizes`):
# for a result, Σ over its nodes of |∂result/∂node|·|node| (and, for an n-ary node such
# as a dot, ·Σ_k |∂node/∂operand_k·operand_k|, its terms);
# for a gradient, the same chain rule with every local derivative taken absolutely
# (no contribution cancels another). FLOOR·RTOL = 1e-15 is about 4.5 ulps of s.
FLOOR = 1e-3
TINY = np.finfo(np.float64).tiny


def assert_matches(actual: Any, expected: Any, what: str, sizes: Any = None) -> None:
    """Entry by entry: |a - e| <= RTOL·max(|e|, FLOOR·s, tiny), s the entry's error size
    (``sizes``, by :func:`error_sizes`; 0 when not given: plain relative error).

    ``expected`` is eager gradtrace's; the shapes must be equal and every entry finite
    on both sides (the tests stay inside each op's domain).
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, eager {e.shape}"
    assert np.isfinite(e).all(), f"{what}: eager gave non-finite values (a test out of its domain)"
    assert np.isfinite(a).all(), f"{what}: compiled gave non-finite values where eager gave {e}"
    size = np.zeros_like(e) if sizes is None else np.asarray(sizes, dtype=np.float64)
    assert np.isfinite(size).all(), f"{what}: error sizes {size}"
    bound = RTOL * np.maximum(np.abs(e), np.maximum(FLOOR * size, TINY))
    error = np.abs(a - e)
    bad = np.flatnonzero(~(error <= bound))
    if bad.size:
        worst = bad[np.argmax((error / bound).ravel()[bad])]
        raise AssertionError(
            f"{what}: {bad.size} of {e.size} entries differ from eager by more than {RTOL:g} relative; "
            f"worst at flat index {worst}: compiled {a.ravel()[worst]!r}, eager {e.ravel()[worst]!r} "
            f"(|diff| {error.ravel()[worst]:.3g}, allowed {bound.ravel()[worst]:.3g})"
        )


def _nodes_in_order(root: Value) -> list[Value]:
    """The non-leaf nodes root depends on, each after its operands."""
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen and node.op:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((a, False) for a in node.parents)
    return order


def _local_derivatives(node: Value) -> list[float]:
    """∂node/∂operand for each operand (numbers included), from the op's float rule with g = 1."""
    op = autograd.OPS[node.op]
    xs = [a.data if isinstance(a, Value) else a for a in node.operands]
    if op.arity == 1:
        return [op.backward(1.0, node.data, xs[0])]
    if op.arity == 2:
        return list(op.backward(1.0, node.data, *xs))
    return list(op.backward(1.0, node.data, [*xs, *node.params]))


def error_sizes(root: Value, params: Sequence[Value]) -> tuple[float, np.ndarray]:
    """(the size of the rounding root's value can carry, and each param's gradient's):
    reverse mode over root's graph with every local derivative made absolute. A node
    rounds relative to its value, and an n-ary node (a dot, a sum) relative to its
    terms; numbers given as operands are exact."""
    sensitivity = {id(root): 1.0}
    value_size = 0.0
    for node in reversed(_nodes_in_order(root)):
        g = sensitivity.get(id(node), 0.0)
        local = [(abs(d), a) for d, a in zip(_local_derivatives(node), node.operands) if isinstance(a, Value)]
        value_size += g * abs(node.data)
        if autograd.OPS[node.op].arity == VARIADIC:
            value_size += g * sum(d * abs(a.data) for d, a in local)
        for d, a in local:
            sensitivity[id(a)] = sensitivity.get(id(a), 0.0) + g * d
    return value_size, np.array([sensitivity.get(id(p), 0.0) for p in params])


# --- the eager reference ---------------------------------------------------------------------


def sample_args(batches: Sequence[np.ndarray], i: int) -> list[Any]:
    """Sample i's arguments as the contract gives them to fn: a row as a list of Values (a
    list of ints for integer rows), an int for an integer 1-D batch, a Value for a float 1-D batch."""
    args: list[Any] = []
    for b in batches:
        if b.ndim == 2 and b.dtype.kind in "iu":
            args.append([int(v) for v in b[i]])
        elif b.ndim == 2:
            args.append([Value(float(v)) for v in b[i]])
        elif b.dtype.kind in "iu":
            args.append(int(b[i]))
        else:
            args.append(Value(float(b[i])))
    return args


def _data_and_size(out: Any) -> tuple[Any, Any]:
    if isinstance(out, list):
        return [v.data for v in out], [error_sizes(v, [])[0] for v in out]
    return out.data, error_sizes(out, [])[0]


@dataclass
class Eager:
    """Eager gradtrace's per-sample results and extras, with their error sizes."""

    results: np.ndarray
    result_sizes: np.ndarray
    extras: np.ndarray | None
    extra_sizes: np.ndarray | None
    graphs: list[Any]  # each sample's result (a Value, or a list of them)


def eager_outputs(fn: Callable[..., Any], batches: Sequence[np.ndarray]) -> Eager:
    """fn called on each sample in turn: its results and extras."""
    results, sizes, extras, extra_sizes, graphs = [], [], [], [], []
    for i in range(len(batches[0])):
        out = fn(*sample_args(batches, i))
        graphs.append(out[0] if isinstance(out, tuple) else out)
        if isinstance(out, tuple):
            out, extra = out
            data, size = _data_and_size(extra)
            extras.append(data)
            extra_sizes.append(size)
        data, size = _data_and_size(out)
        results.append(data)
        sizes.append(size)
    if not extras:
        return Eager(np.array(results), np.array(sizes), None, None, graphs)
    return Eager(np.array(results), np.array(sizes), np.array(extras), np.array(extra_sizes), graphs)


_SUM_SIZES: dict[str, tuple[Any, ...]] = {}  # the last batch's graphs, params and sizes


def eager_backward(
    fn: Callable[..., Any], params: Sequence[Value], batches: Sequence[np.ndarray], reduction: str = "mean",
    outs: list[Value] | None = None,
) -> tuple[float, np.ndarray, float, np.ndarray]:  # fmt: skip
    """Eager gradtrace's batch loss (``autograd.mean``, or ``sum``, of the per-sample results:
    ``outs``, or fn called on each sample), each parameter's gradient from its ``backward()``,
    and their error sizes. The params' .grad is left as found."""
    saved = [p.grad for p in params]
    if outs is None:
        outs = eager_outputs(fn, batches).graphs
    loss = autograd.mean(outs) if reduction == "mean" else autograd.sum(outs)
    # the mean's sizes are the sum's over B (every sensitivity scales by 1/B): one walk serves both
    cached = _SUM_SIZES.get("last")
    if cached is None or cached[0] is not outs or cached[1] != params:
        cached = _SUM_SIZES["last"] = (outs, list(params), *error_sizes(autograd.sum(outs), params))
    loss_size, grad_sizes = cached[2], cached[3]
    if reduction == "mean":
        loss_size, grad_sizes = loss_size / len(outs), grad_sizes / len(outs)
    for p in params:
        p.grad = 0.0
    loss.backward()
    grads = np.array([p.grad for p in params])
    for p, g in zip(params, saved):
        p.grad = g
    return loss.data, grads, loss_size, grad_sizes


def compiled_backward(step: Any, params: Sequence[Value], batches: Sequence[np.ndarray]) -> tuple[float, np.ndarray]:
    """(batch loss, gradients) from the compiled step, the params' .grad zeroed first and left as found."""
    saved = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    loss = step.backward(*batches)
    grads = np.array([p.grad for p in params])
    for p, g in zip(params, saved):
        p.grad = g
    return loss, grads


def check_against_eager(
    fn: Callable[..., Any], params: Sequence[Value], batches: Sequence[np.ndarray], what: str,
    steps: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """step(...), step.extra and step.backward(...) (mean and sum) against eager on one batch."""
    steps = steps if steps is not None else {}
    expected = eager_outputs(fn, batches)
    for reduction in ("mean", "sum"):
        step = steps.get(reduction) or autograd.compile(fn, params, reduction=reduction)
        steps[reduction] = step
        before = [p.grad for p in params]
        results = step(*batches)
        assert [p.grad for p in params] == before, f"{what}: step(...) touched .grad"
        assert isinstance(results, np.ndarray)
        assert_matches(results, expected.results, f"{what}: per-sample results", expected.result_sizes)
        if expected.extras is None:
            assert step.extra is None, f"{what}: step.extra is {step.extra!r} for fn without extras"
        else:
            assert_matches(step.extra, expected.extras, f"{what}: step.extra", expected.extra_sizes)
        loss, grads = compiled_backward(step, params, batches)
        assert isinstance(loss, float) and not isinstance(loss, np.ndarray), f"{what}: backward gave {loss!r}"
        eager_loss, eager_grads, loss_size, grad_sizes = eager_backward(fn, params, batches, reduction, expected.graphs)
        assert_matches(loss, eager_loss, f"{what}: {reduction} loss", loss_size)
        assert_matches(grads, eager_grads, f"{what}: gradients ({reduction})", grad_sizes)


# --- random graphs of every op ----------------------------------------------------------------

# Every leaf (inputs, params, constants) lies in [LOW, HIGH], which is inside every
# operand's domain in the table, so a leaf may feed any op as it is. A "spread" leaf is
# mapped affinely onto the whole domain of its operand (across the kinks at 0, so that
# samples take both sides of relu, abs, step, ...); an earlier node is squashed by a
# sigmoid onto the domain. Everything stays finite and well away from poles.
LOW, HIGH = 0.25, 0.45
WIDTH = 3  # the per-sample row
N_PARAMS = 8
N_CONSTANTS = 3
N_CLASSES = 3  # the per-sample class index picks one of this many softmax outputs
# tanh's derivative 1 - out² cancels as |x| grows: NumPy's tanh and C's differ by an ulp
# of out at some points, which 1 - out² turns into 8,192 of its own ulps at |x| = 5
# (2.4e-12 relative: tests/test_rule_forms.py measures it). Eager has that error too;
# neither side is the more exact, so the graphs keep tanh's inputs where 1e-12 holds.
NARROWER = {"tanh": (-3.0, 3.0)}
# row entry, per-sample float, per-sample int (the class index), param, Value constant, float, earlier node
KINDS = ("x", "t", "k", "p", "c", "f", "node")
SOFTMAX_FAMILY = ("softmax", "log_softmax")


@dataclass(frozen=True)
class Operand:
    kind: str
    index: int
    spread: bool


@dataclass(frozen=True)
class Instruction:
    # an op's name; "layer": dots of params over one input list, as nn.Layer makes;
    # "chain": Python's + over the operands (sum(), left- or right-nested)
    op: str
    operands: tuple[Operand, ...]
    index: int = 0  # softmax family: the output picked; -1 picks the sample's class


@dataclass
class Graph:
    """A random program over a sample (x, t, k), its params and its constants."""

    program: tuple[Instruction, ...]
    params: list[Value]
    constants: list[Value]
    numbers: list[float]
    extras: bool = False  # also return every instruction's node, as (result, extra)

    def __call__(self, x: list[Value], t: Value, k: int) -> Value | tuple[Value, list[Value]]:
        self.k = k
        nodes: list[Value] = []
        for ins in self.program:
            nodes.extend(self._apply(ins, x, t, k, nodes))
        result = autograd.sum(nodes) if len(nodes) > 1 else nodes[0]
        return (result, nodes) if self.extras else result

    def _operand(
        self, o: Operand, domain: tuple[float, float], x: list[Value], t: Value, nodes: list[Value], ints: bool = False
    ) -> Any:
        """The operand for a domain; the sample's class index as a plain int only where ``ints``."""
        low, high = domain
        if not low <= LOW <= HIGH <= high:  # leaves lie outside the domain (arccosh's, from 1): spread them into it
            o = Operand(o.kind, o.index, True)
        if o.kind == "k" and ints:
            return self.k
        if o.kind == "node" and nodes:
            return low + (high - low) * nodes[o.index % len(nodes)].sigmoid()
        leaf: Any = {
            "x": lambda: x[o.index % WIDTH],
            "t": lambda: t,
            "p": lambda: self.params[o.index % N_PARAMS],
            "c": lambda: self.constants[o.index % N_CONSTANTS],
            "f": lambda: self.numbers[o.index % len(self.numbers)],
        }.get(o.kind, lambda: x[o.index % WIDTH])()
        return low + (high - low) * ((leaf - LOW) / (HIGH - LOW)) if o.spread else leaf

    def _value(self, o: Operand, domain: tuple[float, float], x: list[Value], t: Value, nodes: list[Value]) -> Value:
        """An operand that must be a Value (a number becomes a Value constant)."""
        if o.kind in ("f", "k"):
            o = Operand("c", o.index, o.spread)
        return self._operand(o, domain, x, t, nodes)  # type: ignore[no-any-return]

    def _apply(self, ins: Instruction, x: list[Value], t: Value, k: int, nodes: list[Value]) -> list[Value]:
        if ins.op == "chain":  # chains of add nodes, which compile may merge into one n-ary sum
            terms = [self._value(o, (-5.0, 5.0), x, t, nodes) for o in ins.operands]
            nesting = ins.index % 3
            if nesting == 0:
                return [sum(terms)]  # type: ignore[list-item]  # ((0 + a) + b) + c
            if nesting == 1:
                return [functools.reduce(lambda acc, v: v + acc, terms)]  # c + (b + a)
            head = functools.reduce(operator.add, terms[:-1]) if len(terms) > 1 else terms[0]
            return [head + terms[-1], head * 0.5]  # a partial chain also read elsewhere
        if ins.op == "layer":  # len(operands) inputs, 2 neurons with weights and biases from the params
            inputs = [self._operand(o, (-1.0, 1.0), x, t, nodes) for o in ins.operands]
            n = len(inputs)
            out = []
            for neuron in range(2):
                ws = [self.params[(neuron * n + j + ins.index) % N_PARAMS] for j in range(n)]
                out.append(autograd.dot(ws, inputs, self.params[(neuron + 5) % N_PARAMS]).tanh())
            return out
        op = BUILT_IN[ins.op]
        if op.arity == 1:
            domain = NARROWER.get(op.name, op.domain[0])
            return [BUILDERS[op.name]([self._value(ins.operands[0], domain, x, t, nodes)])]
        if op.arity == 2:
            first, second = ins.operands
            ints = op.name in ("add", "sub", "mul")  # an int 0 would be a pole of div and pow
            b = self._operand(second, op.domain[1], x, t, nodes, ints)
            if op.name in ("leaky_relu", "elu") or not isinstance(b, Value):
                a = self._value(first, op.domain[0], x, t, nodes)
            else:
                a = self._operand(first, op.domain[0], x, t, nodes, ints)
            return [BUILDERS[op.name]([a, b])]
        operands = [self._operand(o, op.domain[0], x, t, nodes, ints=True) for o in ins.operands]
        if op.name in SOFTMAX_FAMILY:
            index = k if ins.index < 0 else ins.index % len(operands)
            return [getattr(autograd, op.name)(operands)[index]]
        return [BUILDERS[op.name](operands)]


def operands(n: int | tuple[int, int]) -> st.SearchStrategy[tuple[Operand, ...]]:
    low, high = (n, n) if isinstance(n, int) else n
    one = st.builds(Operand, kind=st.sampled_from(KINDS), index=st.integers(0, 23), spread=st.booleans())
    return st.lists(one, min_size=low, max_size=high).map(tuple)


def instructions(name: str) -> st.SearchStrategy[Instruction]:
    """An instruction of op ``name`` with a fitting number of operands."""
    if name == "layer":
        return st.builds(Instruction, st.just("layer"), operands((1, 4)), st.integers(0, 7))
    if name == "chain":
        return st.builds(Instruction, st.just("chain"), operands((2, 5)), st.integers(0, 5))
    op = BUILT_IN[name]
    if op.arity != VARIADIC:
        return st.builds(Instruction, st.just(name), operands(op.arity))
    if name in SOFTMAX_FAMILY:  # index -1: the sample's class, over N_CLASSES logits
        per_sample = st.builds(Instruction, st.just(name), operands(N_CLASSES), st.just(-1))
        fixed = st.builds(Instruction, st.just(name), operands((1, 4)), st.integers(0, 3))
        return st.one_of(per_sample, fixed)
    return st.builds(Instruction, st.just(name), operands((2, 7) if name == "dot" else (1, 4)))


ANY_INSTRUCTION = st.sampled_from([*BUILT_IN, "layer", "chain"]).flatmap(instructions)


def random_batches(rng: np.random.Generator, b: int) -> list[np.ndarray]:
    """(rows, per-sample floats, per-sample class indices) for b samples, every class used once b >= 3."""
    classes = rng.permutation(np.arange(b) % N_CLASSES).astype(np.int64)
    return [rng.uniform(LOW, HIGH, (b, WIDTH)), rng.uniform(LOW, HIGH, b), classes]


def make_graph(program: tuple[Instruction, ...], rng: np.random.Generator) -> Graph:
    return Graph(
        program,
        params=[Value(v) for v in rng.uniform(LOW, HIGH, N_PARAMS)],
        constants=[Value(v) for v in rng.uniform(LOW, HIGH, N_CONSTANTS)],
        numbers=[float(v) for v in rng.uniform(LOW, HIGH, 4)],
    )


def test_the_random_graphs_know_every_op() -> None:
    assert set(BUILDERS) | set(SOFTMAX_FAMILY) == set(BUILT_IN)
    assert len(BUILT_IN) == 51


@pytest.mark.parametrize("name", [*BUILT_IN, "layer", "chain"])
def test_random_graphs_of_each_op_equal_eager(name: str) -> None:
    """Graphs holding op ``name`` among others, each compiled once and replayed at
    batch sizes 1, 2, 7 and 64 (mean and sum); half of them give every node as extras."""

    @settings(max_examples=4, deadline=None, derandomize=True, database=None)
    @given(
        before=st.lists(ANY_INSTRUCTION, max_size=2),
        this=instructions(name),
        after=st.lists(ANY_INSTRUCTION, max_size=1),
        seed=st.integers(0, 2**32 - 1),
    )
    def check(before: list[Instruction], this: Instruction, after: list[Instruction], seed: int) -> None:
        rng = np.random.default_rng(seed)
        graph = make_graph((*before, this, *after), rng)
        graph.extras = seed % 2 == 1
        steps: dict[str, Any] = {}
        for b in BATCH_SIZES:
            check_against_eager(graph, graph.params, random_batches(rng, b), f"{name}, B={b}", steps)

    check()


def test_a_dot_over_shared_operands_with_a_bias_per_sample() -> None:
    """dot(ws, xs, bias) whose weights and inputs are params and constants (one row for
    the batch) but whose bias is per sample (found by the random graphs)."""
    w, v, c = Value(0.3), Value(-0.7), Value(1.5)
    fn = lambda x, t: autograd.dot([w, c], [v, w], bias=x[0] * t).tanh() + autograd.dot([c], [w], bias=t)  # noqa: E731
    rng = np.random.default_rng(19)
    for b in BATCH_SIZES:
        check_against_eager(fn, [w, v], [rng.normal(size=(b, 1)), rng.normal(size=b)], f"shared dot, B={b}")


def test_dots_whose_weights_are_every_other_column_of_a_group() -> None:
    """Two dots over one input whose weights are columns 0 and 2 of a three-node group
    (found by the random graphs): the layer's W cannot be read as whole runs of a row."""
    c, p = Value(0.4), Value(0.9)

    def fn(x: list[Value]) -> Value:
        a, between, b = c * p, c * 3.0, c * 4.0  # traced in the order a, between, b: one group of three
        return autograd.dot([a], [x[0]], between) * autograd.dot([b], [x[0]], 0.5)

    rng = np.random.default_rng(20)
    for size in BATCH_SIZES:
        check_against_eager(fn, [p], [rng.normal(size=(size, 1))], f"weights every other column, B={size}")


# --- moons and digits ------------------------------------------------------------------------


def moons_demo(seed: int = 1) -> tuple[nn.MLP, Callable[..., Value]]:
    """micrograd's demo: MLP(2, [16, 16, 1]), hinge loss plus 1e-4·Σp²."""
    model = nn.MLP(2, [16, 16, 1], rng=random.Random(seed))
    params = model.parameters()

    def loss(x: list[Value], y: Any) -> Value:
        return (1 - y * model(x)).relu() + 1e-4 * autograd.sum([p * p for p in params])

    return model, loss


@pytest.mark.parametrize("b", BATCH_SIZES)
def test_moons_demo_equals_eager(b: int) -> None:
    X, y = nn.data.make_moons(100, noise=0.1, seed=0)
    model, loss = moons_demo()
    labels = (2 * y - 1).astype(np.int64)
    check_against_eager(loss, model.parameters(), [X[:b], labels[:b]], f"moons, int labels, B={b}")
    check_against_eager(loss, model.parameters(), [X[:b], labels[:b].astype(np.float64)], f"moons, float labels, B={b}")


def test_moons_demo_loss_is_micrograds() -> None:
    """The compiled batch loss is micrograd's: mean hinge over the batch plus the
    regulariser once (not an eager mean of per-sample copies of it)."""
    X, y = nn.data.make_moons(100, noise=0.1, seed=0)
    model, loss = moons_demo()
    labels = 2 * y - 1
    params = model.parameters()
    step = autograd.compile(loss, params)
    compiled, grads = compiled_backward(step, params, [X, labels])
    scores = [model(row) for row in X]
    data_loss = autograd.mean([(1 - int(yi) * s).relu() for yi, s in zip(labels, scores)])
    total = data_loss + 1e-4 * autograd.sum([p * p for p in params])
    total.backward()
    loss_size, grad_sizes = error_sizes(total, params)
    assert_matches(compiled, total.data, "moons loss, micrograd's form", loss_size)
    assert_matches(grads, [p.grad for p in params], "moons gradients, micrograd's form", grad_sizes)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is in gradtrace's dev extra")
    X, y = datasets.load_digits(return_X_y=True)
    return X / 16.0, y.astype(np.int64)


@pytest.mark.parametrize("b", [1, 7, 32])
def test_digits_equals_eager(b: int, digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    model = nn.MLP(64, [32, 10], rng=random.Random(3))
    fn = lambda x, t: nn.cross_entropy(model(x), t)  # noqa: E731
    check_against_eager(fn, model.parameters(), [X[:b], y[:b]], f"digits, B={b}")


def test_digits_with_the_model_outputs_as_extra(digits: tuple[np.ndarray, np.ndarray]) -> None:
    """fn returning (loss, logits): step.extra holds the (B, 10) logits, and the loss alone is differentiated."""
    X, y = digits
    model = nn.MLP(64, [32, 10], rng=random.Random(4))

    def fn(x: list[Value], t: int) -> tuple[Value, list[Value]]:
        logits = model(x)
        return nn.cross_entropy(logits, t), logits

    check_against_eager(fn, model.parameters(), [X[:8], y[:8]], "digits with extras")
    step = autograd.compile(fn, model.parameters())
    step(X[:5], y[:5])
    assert step.extra.shape == (5, 10)


def test_several_results_per_sample() -> None:
    """fn returning a list of k Values: step gives (B, k), equal to eager."""
    model = nn.MLP(2, [4, 3], rng=random.Random(5))
    X, _ = nn.data.make_moons(9, noise=0.1, seed=1)
    step = autograd.compile(lambda x: model(x), model.parameters())
    out = step(X)
    assert out.shape == (9, 3)
    expected = eager_outputs(lambda x: model(x), [X])
    assert_matches(out, expected.results, "three outputs per sample", expected.result_sizes)
    with pytest.raises((TypeError, ValueError), match="list"):
        step.backward(X)  # no single result to reduce and differentiate


def test_lists_and_integer_rows_are_converted() -> None:
    """Batches given as lists, and rows of ints (digits' raw pixels), give what float arrays give."""
    model = nn.MLP(3, [4, 3], rng=random.Random(16))
    fn = lambda x, t: nn.cross_entropy(model(x), t)  # noqa: E731
    X = np.array([[0, 3, 16], [7, 1, 0], [2, 2, 9], [16, 0, 5]], dtype=np.int64)
    t = np.array([0, 2, 1, 2], dtype=np.int64)
    step = autograd.compile(fn, model.parameters())
    expected = eager_outputs(fn, [X.astype(np.float64), t])
    assert_matches(step(X, t), expected.results, "int rows", expected.result_sizes)
    assert_matches(step(X.tolist(), t.tolist()), expected.results, "lists", expected.result_sizes)
    loss, grads = compiled_backward(step, model.parameters(), [X.tolist(), t.tolist()])
    eager_loss, eager_grads, loss_size, grad_sizes = eager_backward(fn, model.parameters(), [X.astype(np.float64), t])
    assert_matches(loss, eager_loss, "lists: loss", loss_size)
    assert_matches(grads, eager_grads, "lists: gradients", grad_sizes)


def test_the_traced_graph_and_its_groups() -> None:
    """step.graph is sample one's result; each layer's dot nodes form one matmul group; timings are reported."""
    X, y = nn.data.make_moons(8, noise=0.1, seed=6)
    model, loss = moons_demo(seed=3)
    step = autograd.compile(loss, model.parameters())
    step(X, 2 * y - 1)
    assert isinstance(step.graph, Value)
    assert step.graph.data == pytest.approx(loss([Value(v) for v in X[0]], int(2 * y[0] - 1)).data, rel=1e-15)
    assert isinstance(step.trace_seconds, float) and isinstance(step.compile_seconds, float)
    assert 0.0 <= step.trace_seconds < 10.0 and 0.0 <= step.compile_seconds < 10.0
    matmuls = [g for g in step.groups if g.kind == "matmul"]
    assert all(n.op == "dot" for g in matmuls for n in g.nodes)
    assert sorted(len(g.nodes) for g in matmuls if len(g.nodes) > 1) == [16, 16]
    for g in matmuls:  # one layer: the neurons read the same inputs
        inputs = {tuple(id(a) for a in n.operands[len(n.operands) // 2 : 2 * (len(n.operands) // 2)]) for n in g.nodes}
        assert len(inputs) == 1


def test_a_batch_of_another_width_is_retraced_or_refused() -> None:
    """fn that takes rows of any width: a wider batch after a narrower one gives eager's results or a clear error."""
    w = Value(0.5)
    fn = lambda x: autograd.sum([v * v for v in x]) * w  # noqa: E731
    step = autograd.compile(fn, [w])
    narrow, wide = np.arange(6.0).reshape(3, 2), np.arange(15.0).reshape(3, 5)
    expected = eager_outputs(fn, [narrow])
    assert_matches(step(narrow), expected.results, "width 2", expected.result_sizes)
    try:
        out = step(wide)
    except ValueError as error:
        assert "5" in str(error) and "2" in str(error), error
    else:
        expected = eager_outputs(fn, [wide])
        assert_matches(out, expected.results, "width 5 after width 2", expected.result_sizes)


# --- per-sample op parameters ------------------------------------------------------------------


def test_class_indices_that_agree_on_the_first_samples() -> None:
    """The class index is read per sample even when the first samples (the traced ones)
    share a class, and when one batch holds a single class and the next call others."""
    model = nn.MLP(3, [5, 4], rng=random.Random(6))
    rng = np.random.default_rng(7)
    X = rng.normal(size=(12, 3))
    fn = lambda x, t: nn.cross_entropy(model(x), t)  # noqa: E731
    steps: dict[str, Any] = {}
    same_first = np.array([2, 2, 2, 0, 1, 3, 2, 1, 0, 3, 3, 1], dtype=np.int64)
    check_against_eager(fn, model.parameters(), [X, same_first], "classes 2, 2, 2, then others", steps)
    all_one = np.full(12, 1, dtype=np.int64)
    check_against_eager(fn, model.parameters(), [X, all_one], "every sample class 1", steps)
    fresh: dict[str, Any] = {}
    check_against_eager(fn, model.parameters(), [X, all_one], "class 1 first (traced)", fresh)
    check_against_eager(fn, model.parameters(), [X, same_first[::-1].copy()], "then mixed classes", fresh)


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_hinge_labels_that_agree_on_the_first_samples(dtype: type) -> None:
    """±1 labels (ints and floats) per sample, the first samples sharing a label, then a batch of one label."""
    model = nn.MLP(2, [4, 1], rng=random.Random(8))
    X, _ = nn.data.make_moons(10, noise=0.1, seed=2)
    fn = lambda x, y: nn.hinge_loss(model(x), y)  # noqa: E731
    steps: dict[str, Any] = {}
    labels = np.array([1, 1, 1, -1, 1, -1, -1, 1, -1, -1], dtype=dtype)
    check_against_eager(fn, model.parameters(), [X, labels], "labels 1, 1, 1, then -1s", steps)
    check_against_eager(fn, model.parameters(), [X, -np.ones(10, dtype=dtype)], "every label -1", steps)


# --- shared terms ------------------------------------------------------------------------------


def test_a_shared_term_is_computed_once_per_batch() -> None:
    """A term over the params alone (here through an op of our own that counts the numbers
    its forward is given) runs once per batch, not once per sample, and equals eager."""
    seen: list[int] = []

    @autograd.primitive(name="counted_square")
    def counted_square(x):  # type: ignore[no-untyped-def]
        seen.append(int(np.size(x)))
        return x * x

    @counted_square.derivative
    def counted_square_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return 2.0 * g * x

    model = nn.MLP(2, [6, 1], rng=random.Random(9))
    params = model.parameters()
    made: list[Value] = []

    def fn(x: list[Value], y: int) -> Value:
        regulariser = 1e-2 * autograd.sum([counted_square(p) for p in params])
        made.append(regulariser)
        return (1 - y * model(x)).relu() + regulariser

    X, y = nn.data.make_moons(64, noise=0.1, seed=3)
    labels = 2 * y - 1
    check_against_eager(fn, params, [X, labels], "hinge + a counted regulariser")
    step = autograd.compile(fn, params)
    step(X, labels)  # traced
    seen.clear()
    step(X, labels)
    # once per batch is len(params) numbers (a retrace of two samples would add twice that); per sample, 64 times
    assert 0 < sum(seen) <= 4 * len(params), f"the regulariser's op saw {sum(seen)} numbers for {len(params)} params"
    groups = getattr(step, "groups", None)
    if groups is not None:
        shared = [g for g in groups if any(any(n is m for m in made) for n in g.nodes)]
        assert shared, "no group holds the regulariser's node"
        assert all(g.kind == "shared" for g in shared), [(g.op, g.kind) for g in shared]
