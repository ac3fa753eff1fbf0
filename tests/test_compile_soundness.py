"""autograd.compile never gives a silently wrong number: every read of a number that
depends on the data, the parameters or the closure is replayed per sample or refused
with a CompileError naming fn's line; Python branches are replayed branch pattern by
branch pattern; ops of your own are probed as ops; closure Values are read as eager
reads them; one step serves many threads; the pipeline's modules import one way.

Each case is compiled on a first batch chosen so that a frozen number or branch would
go unnoticed there, then checked against eager gradtrace (tests/test_compile.py's
:func:`check_against_eager`: per-sample results, extras, mean and sum losses and
gradients) on later batches of sizes 1, 3, 8 and 40, after the parameters change.
"""

from __future__ import annotations

import ast
import math
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_compile import check_against_eager

import autograd
import nn
from autograd import Value

LATER_SIZES = (1, 3, 8, 40)


def compiled_on(fn: Callable[..., Any], params: list[Value], *first: np.ndarray) -> dict[str, Any]:
    """A mean step and a sum step of fn, each called once on the first batch."""
    steps = {"mean": autograd.compile(fn, params), "sum": autograd.compile(fn, params, reduction="sum")}
    for step in steps.values():
        step(*first)
    return steps


def check_later(
    fn: Callable[..., Any], params: list[Value], steps: dict[str, Any], make: Callable[[np.random.Generator, int], list[np.ndarray]],
    what: str, seed: int = 0,
) -> None:  # fmt: skip
    """Later batches of each size, with the parameters moved between them, against eager."""
    rng = np.random.default_rng(seed)
    for size in LATER_SIZES:
        for p in params:
            p.data += float(rng.normal(scale=0.3))
        check_against_eager(fn, params, make(rng, size), f"{what}, later batch of {size}", steps)


def rows(rng: np.random.Generator, size: int, width: int = 2) -> np.ndarray:
    return rng.normal(size=(size, width))


# --- item 1: every read of the data is seen ---------------------------------------------------


def test_float_of_the_data_is_refused_naming_the_line() -> None:
    """w·float(x[0]) + x[1] on a first batch whose column 0 is constant: a frozen 1.7 before."""
    w = Value(0.5)
    X = np.column_stack([np.full(6, 1.7), np.arange(6.0)])
    with pytest.raises(autograd.CompileError, match=r"float.*test_compile_soundness\.py, line \d+.*float\(x\[0\]\)"):
        autograd.compile(lambda x: w * float(x[0]) + x[1], [w])(X)


@pytest.mark.parametrize(
    "read",
    [
        lambda v: int(v),
        lambda v: round(v.data, 2),
        lambda v: math.exp(v.data),
        lambda v: math.floor(v),
        lambda v: f"{v.data:.3f}",
        lambda v: str(v.data),
        lambda v: np.float64(v.data),
        lambda v: {v.data: 1},
    ],
    ids=["int", "round", "math.exp", "floor", "format", "str", "np.float64", "hash"],
)
def test_reads_that_cannot_be_followed_are_refused(read: Callable[[Value], Any]) -> None:
    w = Value(0.5)

    def fn(x: list[Value]) -> Value:
        read(x[0])
        return w * x[0]

    with pytest.raises(autograd.CompileError, match=r"test_compile_soundness\.py, line \d+"):
        autograd.compile(fn, [w])(np.ones((3, 1)))


def test_arithmetic_on_data_is_replayed_per_sample() -> None:
    """.data arithmetic, NumPy functions of it and a Value made from it enter the graph
    as per-sample numbers with no gradient, on a first batch where they are constant."""
    w, b = Value(0.5), Value(-0.2)

    def fn(x: list[Value]) -> Value:
        scale = x[0].data * 2.0 + 1.0
        bump = np.exp(x[1].data) / (1.0 + abs(x[1].data))
        frozen = Value(x[0].data - x[1].data)  # a leaf: no gradient flows through it
        h = (w * x[0] + b) * scale + bump
        return h * h + frozen * w + (w * b).data * x[1]

    steps = compiled_on(fn, [w, b], np.column_stack([np.full(4, 1.7), np.full(4, 0.3)]))
    check_later(fn, [w, b], steps, lambda rng, n: [rows(rng, n)], "arithmetic on .data")


def test_python_errors_are_raised_for_the_samples_that_meet_them() -> None:
    """1 / x[0].data raises ZeroDivisionError for a sample with x[0] = 0, as eager does;
    behind a branch that such samples do not take, it raises nothing."""
    w = Value(0.5)
    guarded = lambda x: w * (1.0 / x[0].data) if x[0].data != 0.0 else w * x[1]  # noqa: E731
    steps = compiled_on(guarded, [w], np.array([[2.0, 1.0], [4.0, 1.0]]))
    check_against_eager(guarded, [w], [np.array([[1.0, 3.0], [0.0, 5.0], [-2.0, 1.0]])], "a guarded division", steps)
    unguarded = autograd.compile(lambda x: w * (1.0 / x[0].data), [w])
    unguarded(np.array([[2.0], [4.0]]))
    with pytest.raises(ZeroDivisionError):
        unguarded(np.array([[1.0], [0.0]]))


def test_a_value_made_in_fn_as_an_accumulator_compiles() -> None:
    w = Value(0.3)

    def fn(x: list[Value]) -> Value:
        total = Value(0.0)
        for xi in x:
            total = total + w * xi
        return total.tanh()

    steps = compiled_on(fn, [w], rows(np.random.default_rng(1), 5, 3))
    check_later(fn, [w], steps, lambda rng, n: [rows(rng, n, 3)], "accumulator")


def test_python_arithmetic_on_an_integer_label_is_replayed() -> None:
    """t·t, min(t, 1), t // 2 and float(t == 3) traced on labels where each agrees with t or is constant."""
    w = Value(0.7)

    def fn(x: list[Value], t: int) -> Value:
        return w * x[0] * (t * t) + min(t, 1) + (t // 2) * x[1] + float(t == 3) * w + (1 - t) % 3

    first = [rows(np.random.default_rng(2), 4), np.array([1, 1, 1, 1])]
    steps = compiled_on(fn, [w], *first)
    check_later(fn, [w], steps, lambda rng, n: [rows(rng, n), rng.integers(-2, 6, n)], "label arithmetic")


def test_two_integer_arguments_equal_when_traced_stay_apart() -> None:
    w = Value(1.5)
    fn = lambda x, s, t: w * x[0] * s + t  # noqa: E731
    same = np.array([2, 2, 2])
    steps = compiled_on(fn, [w], rows(np.random.default_rng(3), 3), same, same)
    check_later(fn, [w], steps, lambda rng, n: [rows(rng, n), rng.integers(-3, 4, n), rng.integers(-3, 4, n)], "two ints")


def test_parameters_and_closure_values_read_as_numbers_follow_their_changes() -> None:
    """w.data and margin.data are read at each call, as eager reads them, and give no gradient."""
    w, v = Value(0.5), Value(-1.0)
    margin = Value(1.0)  # a closure constant

    def fn(x: list[Value]) -> Value:
        return (v * x[0] * w.data + margin.data * x[1] * v).tanh() + (w * x[1] if w.data > 0.4 else -w * x[0])

    steps = compiled_on(fn, [w, v], rows(np.random.default_rng(4), 3))
    rng = np.random.default_rng(5)
    for size in LATER_SIZES:
        w.data -= 0.1
        margin.data += 0.5
        check_against_eager(fn, [w, v], [rows(rng, size)], f"w = {w.data:.2f}, margin = {margin.data}", steps)


def test_an_extra_that_overflows_leaves_the_gradient_as_eager_gives_it() -> None:
    """The extra's exp node runs in one group with the result's; eager never visits the
    extra's node in backward, so its 0·inf (nan) must not reach w.grad (found by the fuzzer)."""
    w = Value(0.5)
    fn = lambda x: ((w * x[1]).exp(), (w * x[0]).exp())  # noqa: E731
    step = autograd.compile(fn, [w])
    step.backward(np.array([[2000.0, 0.3], [1.0, -0.2]]))
    assert step.groups[1].kind == "elementwise" and len(step.groups[1].nodes) == 2
    assert math.isfinite(w.grad) and w.grad == pytest.approx((0.3 * math.exp(0.15) - 0.2 * math.exp(-0.1)) / 2, rel=1e-12)


def test_sums_and_means_whose_partial_sums_overflow_are_eager_s() -> None:
    """sum([1e308, 1e308, -1e308]) is 1e308 for eager's correctly rounded sum, and the mean of
    [1e308, 1e308] is 1e308: for one sample and for a batch (found by the fuzzer)."""
    w = Value(1.0)
    fn = lambda x: [autograd.sum([x[0] * w, x[1], -x[2]]), autograd.mean([x[0] * w, x[1]])]  # noqa: E731
    for X in (np.array([[1e308, 1e308, 1e308]]), np.array([[1e308, 1e308, 1e308], [1.0, 2.0, 3.0]])):
        eager = [[v.data for v in fn([Value(v) for v in row])] for row in X.tolist()]
        assert eager[0] == [1e308, 1e308]
        assert autograd.compile(fn, [w])(X).tolist() == eager


# --- item 2: branches replayed per branch pattern ---------------------------------------------------


def micrograd_mlp(seed: int, sizes: list[int]) -> tuple[list[list[list[Value]]], list[Value]]:
    rng = random.Random(seed)
    layers, params = [], []
    for nin, nout in zip(sizes, sizes[1:]):
        layer = [[Value(rng.uniform(-1, 1)) for _ in range(nin + 1)] for _ in range(nout)]
        layers.append(layer)
        params += [p for neuron in layer for p in neuron]
    return layers, params


def test_micrograd_relu_by_if_equals_eager_on_every_batch() -> None:
    """micrograd's `y if y.data > 0 else 0.1 * y` on each hidden neuron of a 2-3-3-1 MLP."""
    layers, params = micrograd_mlp(6, [2, 3, 3, 1])

    def fn(x: list[Value], t: float) -> Value:
        h: list[Any] = x
        for k, layer in enumerate(layers):
            out = []
            for neuron in layer:
                y = sum((w * xi for w, xi in zip(neuron, h)), neuron[-1])
                out.append((y if y.data > 0 else 0.1 * y) if k < len(layers) - 1 else y)
            h = out
        return (h[0] - t) ** 2

    first = [np.array([[0.1, 0.2]]), np.array([0.5])]  # a first batch of one row
    steps = compiled_on(fn, params, *first)
    check_later(fn, params, steps, lambda rng, n: [rows(rng, n) * 2, rng.normal(size=n)], "relu by if")
    assert steps["mean"].patterns > 1


def test_max_min_abs_and_sorted_of_values() -> None:
    w = Value(0.8)

    def fn(x: list[Value]) -> Value:
        a, b, c = w * x[0], x[1] - w, x[2]
        by_hand = a if a > 0 else -a  # abs written with a comparison
        ordered = sorted([a, b, c], key=lambda v: v.data)
        return max(a, b) * 2 + min(b, c) + by_hand + ordered[0] * 3 + ordered[1] * 5 + abs(c)

    steps = compiled_on(fn, [w], np.array([[1.0, 0.0, -1.0]]))
    check_later(fn, [w], steps, lambda rng, n: [rows(rng, n, 3)], "max, min, abs, sorted")


def test_a_branch_only_sample_two_of_a_thousand_takes() -> None:
    w = Value(0.5)

    def fn(x: list[Value]) -> Value:
        return x[0].exp() * w if x[0].data < -3.0 else x[0] * w

    X = np.abs(np.random.default_rng(7).normal(size=(1000, 1)))
    X[2, 0] = -4.0
    check_against_eager(fn, [w], [X], "sample 2 of 1000")


def test_a_branch_only_a_later_batch_takes() -> None:
    w = Value(0.5)

    def fn(x: list[Value]) -> Value:
        return x[0] * w if x[0] > 0 else x[0].exp() * w

    steps = compiled_on(fn, [w], np.linspace(0.1, 2.0, 16).reshape(16, 1))  # every sample takes the first branch
    X = np.linspace(0.1, 2.0, 16).reshape(16, 1)
    X[5, 0] = -1.0
    check_against_eager(fn, [w], [X], "a later batch taking the other branch", steps)


def test_bce_loss_with_integer_targets() -> None:
    rng = np.random.default_rng(17)
    model = nn.MLP(2, [3, 1], rng=random.Random(18))
    fn = lambda x, t: nn.bce_loss(model(x).sigmoid(), t)  # noqa: E731
    steps = compiled_on(fn, model.parameters(), rng.normal(size=(3, 2)), np.array([1, 1, 1]))
    check_later(fn, model.parameters(), steps, lambda rng, n: [rows(rng, n), rng.integers(0, 2, n)], "bce, int targets")


def test_predict_traced_on_one_row_then_many() -> None:
    model = nn.MLP(2, [4, 1], rng=random.Random(9))
    model.layers[0]._activate = lambda y: y if y.data > 0 else 0.1 * y  # a branch by if inside the model
    rng = np.random.default_rng(10)
    first = model.predict(rng.normal(size=(1, 2)))
    X = rng.normal(size=(40, 2)) * 3
    with autograd.no_grad():
        eager = np.array([model(row.tolist()).data for row in X])
    np.testing.assert_allclose(model.predict(X), eager, rtol=1e-12, atol=1e-14)
    assert first.shape == (1,)
    assert model._predict_cache[1].patterns > 1


def test_too_many_branch_patterns_is_an_error_that_says_so() -> None:
    w = Value(1.0)

    def fn(x: list[Value]) -> Value:
        total = w * 0.0
        for xi in x:
            total = total + (xi * w if xi.data > 0 else xi * 2.0)
        return total

    X = np.random.default_rng(11).normal(size=(400, 8))  # up to 256 patterns
    with pytest.raises(autograd.CompileError, match=rf"more than {autograd.MAX_PATTERNS} branch patterns"):
        autograd.compile(fn, [w])(X)


# --- item 3: ops of your own are checked as ops -------------------------------------------------------


def test_an_op_whose_forward_reduces_over_the_batch_is_refused() -> None:
    @autograd.primitive(name="batch_norm_of")
    def batch_norm_of(x):  # type: ignore[no-untyped-def]
        return np.sqrt(np.sum(x * x))

    @batch_norm_of.derivative
    def batch_norm_of_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return g * x / out

    w = Value(0.5)
    with pytest.raises(autograd.CompileError, match=r"forward of the batch_norm_of op"):
        autograd.compile(lambda x: batch_norm_of(w * x[0]), [w])(np.linspace(1.0, 2.0, 6).reshape(6, 1))


def test_an_op_that_reduces_is_refused_when_the_traced_sample_is_not_finite() -> None:
    """Probes near an inf or nan operand would all be inf or nan, alike together and alone (found by the fuzzer)."""

    @autograd.primitive(name="batch_norm_at_inf")
    def batch_norm_at_inf(x):  # type: ignore[no-untyped-def]
        return np.sqrt(np.sum(x * x))

    @batch_norm_at_inf.derivative
    def batch_norm_at_inf_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return g * x / out

    w = Value(0.5)
    with pytest.raises(autograd.CompileError, match=r"forward of the batch_norm_at_inf op"):
        autograd.compile(lambda x: batch_norm_at_inf(w * x[0]), [w])(np.array([[np.inf], [1.0]]))


def test_an_op_whose_derivative_reduces_over_the_batch_is_refused() -> None:
    @autograd.primitive(name="mean_derivative")
    def mean_derivative(x):  # type: ignore[no-untyped-def]
        return x * x

    @mean_derivative.derivative
    def mean_derivative_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return g * 2.0 * np.mean(x) + 0.0 * x

    w = Value(0.5)
    with pytest.raises(autograd.CompileError, match=r"derivative of the mean_derivative op"):
        autograd.compile(lambda x: mean_derivative(w * x[0]), [w])(np.linspace(1.0, 2.0, 6).reshape(6, 1))


def test_an_op_that_branches_with_a_python_if_is_refused() -> None:
    @autograd.primitive(name="if_relu")
    def if_relu(x):  # type: ignore[no-untyped-def]
        return x if x > 0 else 0.0 * x

    @if_relu.derivative
    def if_relu_derivative(g, out, x):  # type: ignore[no-untyped-def]
        return g if x > 0 else 0.0 * g

    w = Value(0.5)
    with pytest.raises(autograd.CompileError, match=r"if_relu op"):
        autograd.compile(lambda x: if_relu(w * x[0]), [w])(np.ones((1, 1)))


# --- item 4: closure Values ---------------------------------------------------------------------------


def test_a_closure_node_is_read_as_eager_reads_it() -> None:
    """c = a·b made before compile; a changes but c is not recomputed: eager reads c.data (6.5)."""
    a, b = Value(2.0), Value(3.0)
    c = a * b + 0.5  # 6.5
    w = Value(1.0)
    fn = lambda x: w * x[0] + c  # noqa: E731
    step = autograd.compile(fn, [w])
    step(np.ones((2, 1)))
    a.data = 50.0  # c stays 6.5: nothing recomputes it
    assert step(np.zeros((1, 1))).tolist() == [6.5]
    check_against_eager(fn, [w], [np.ones((3, 1))], "a closure node")


def test_a_gradient_through_a_closure_node_reaches_the_parameters() -> None:
    p, w = Value(0.5), Value(-1.2)
    c = (p * 3.0).tanh()  # a closure node made from a parameter
    fn = lambda x: (w * x[0] + c * x[1]) ** 2  # noqa: E731
    check_against_eager(fn, [p, w], [rows(np.random.default_rng(12), 8)], "through a closure node")


def test_retrace_after_the_parameters_were_replaced() -> None:
    model = nn.MLP(2, [3, 1], rng=random.Random(13))
    fn = lambda x: model(x)  # noqa: E731
    X = rows(np.random.default_rng(14), 5)
    step = autograd.compile(fn, model.parameters())
    step(X)
    for neuron in model.layers[0].neurons:
        neuron.w = [Value(0.25 * (k + 1)) for k in range(len(neuron.w))]
    step = autograd.compile(fn, model.parameters())  # a new compile, or:
    old = autograd.compile(fn, model.parameters())
    old(X)
    with autograd.no_grad():
        eager = [model(row.tolist()).data for row in X]
    np.testing.assert_allclose(step(X), eager, rtol=1e-12)
    np.testing.assert_allclose(old.retrace()(X), eager, rtol=1e-12)


# --- item 5: one step, many threads ---------------------------------------------------------------------


def test_one_step_from_many_threads() -> None:
    model = nn.MLP(3, [8, 8, 4], rng=random.Random(15))
    params = model.parameters()

    def fn(x: list[Value], t: int) -> tuple[Value, list[Value]]:
        out = model(x)
        return nn.cross_entropy(out, t), out

    step = autograd.compile(fn, params)
    rng = np.random.default_rng(16)
    batches = [(rng.normal(size=(int(rng.integers(5, 30)), 3)), None) for _ in range(24)]
    batches = [(X, rng.integers(0, 4, len(X))) for X, _ in batches]
    expected = [step(X, t) for X, t in batches]
    expected_extra = []
    for X, t in batches:
        step(X, t)
        expected_extra.append(step.extra)
    for p in params:
        p.grad = 0.0
    expected_losses = [step.backward(X, t) for X, t in batches]
    expected_grads = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    errors: list[str] = []
    losses: dict[int, float] = {}

    def work(k: int) -> None:
        for j in range(k, len(batches), 4):
            X, t = batches[j]
            out = step(X, t)
            extra = step.extra
            if not (np.array_equal(out, expected[j]) and np.array_equal(extra, expected_extra[j])):
                errors.append(f"batch {j}: results or extras differ")
            losses[j] = step.backward(X, t)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert [losses[j] for j in range(len(batches))] == expected_losses
    np.testing.assert_allclose([p.grad for p in params], expected_grads, rtol=1e-12, atol=1e-15)


# --- item 8: the pipeline imports one way ----------------------------------------------------------------


def test_the_pipeline_imports_one_way() -> None:
    stages = ["batch", "trace", "tape", "replay", "step"]
    folder = Path(autograd.__file__).parent / "compiler"
    for k, stage in enumerate(stages):
        tree = ast.parse((folder / f"{stage}.py").read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
        later = imported & set(stages[k:])
        assert not later, f"compiler/{stage}.py imports {later}, which come after it in the pipeline"
