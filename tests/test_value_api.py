"""The Value API contract: types, errors, numerics, modes, the graph walk."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import autograd
from autograd import Value

# --- construction and attributes ------------------------------------------------------


@pytest.mark.parametrize("data", [3, 2.5, np.float64(1.25), np.float32(0.5), np.int64(7), True])
def test_data_is_kept_as_a_python_float(data: object) -> None:
    v = Value(data)  # type: ignore[arg-type]
    assert type(v.data) is float
    assert v.data == float(data)  # type: ignore[arg-type]
    assert (v.grad, v.label, v.op, v.parents, v.operands) == (0.0, "", "", (), ())


@pytest.mark.parametrize(
    "bad, name",
    [("1.0", "str"), (1 + 2j, "complex"), (None, "NoneType"), ([1.0], "list"),
     (np.array([1.0]), "ndarray"), (np.array("a"), "ndarray"), ({}, "dict")],
)
def test_bad_data_raises_type_error_naming_it(bad: object, name: str) -> None:
    with pytest.raises(TypeError, match=rf"accepts an int, float, NumPy real scalar or 0-d real array; got {name}"):
        Value(bad)  # type: ignore[arg-type]


def test_label_must_be_text() -> None:
    assert Value(1.0, label="사과").label == "사과"
    with pytest.raises(TypeError, match="label must be a str; got int"):
        Value(1.0, label=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda x: x + "a", "str"),
        (lambda x: "a" * x, "str"),
        (lambda x: x * [1], "list"),
        (lambda x: x ** None, "NoneType"),
        (lambda x: x - 1j, "complex"),
        (lambda x: x + np.array([1.0, 2.0]), "ndarray"),
        (lambda x: np.array([1.0]) + x, "ndarray"),
        (lambda x: x.leaky_relu("0.1"), "str"),
    ],
)
def test_bad_operand_raises_type_error_naming_it(make, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=rf"accepts a Value, int, float or NumPy real scalar; got {name}"):
        make(Value(2.0))


def test_bad_backward_seed() -> None:
    with pytest.raises(TypeError, match="backward.*got str"):
        (Value(1.0) * 2).backward(grad="a")  # type: ignore[arg-type]


def test_huge_int_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too large for a float"):
        Value(10**400)


def test_value_cannot_be_subclassed() -> None:
    with pytest.raises(TypeError, match="not meant to be subclassed"):
        type("Sub", (Value,), {})


def test_repr_shows_data_label_and_op() -> None:
    x = Value(2.0, label="x")
    assert repr(x) == "Value(data=2.0, grad=0.0, label='x')"
    assert "op='mul'" in repr(x * 3)
    assert float(x) == 2.0


# --- the graph ------------------------------------------------------------------------


def test_ops_record_names_parents_and_number_operands() -> None:
    x, y = Value(2.0), Value(3.0)
    cases = {
        "add": x + y, "sub": x - y, "mul": x * y, "div": x / y, "pow": x**y, "neg": -x,
        "abs": abs(x), "exp": x.exp(), "log": x.log(), "sigmoid": x.sigmoid(), "tanh": x.tanh(),
        "relu": x.relu(), "softplus": x.softplus(), "step": x.step(),
    }
    for op, node in cases.items():
        assert node.op == op
        assert all(p is x or p is y for p in node.parents) and node.parents
    assert (x - 1).operands == (x, 1.0) and (x - 1).parents == (x,)
    assert (2 - x).operands == (2.0, x) and (2 - x).data == 0.0
    assert x.leaky_relu().operands == (x, 0.01)
    assert x.elu().operands == (x, 1.0)
    assert (x + x).parents == (x, x)


@pytest.mark.parametrize(
    "make, data, grad",
    [
        (lambda x: 2 - x, 0.0, -1.0),
        (lambda x: 3 / x, 1.5, -0.75),
        (lambda x: 2**x, 4.0, 4.0 * math.log(2)),
        (lambda x: x**3, 8.0, 12.0),
        (lambda x: x * 0.5, 1.0, 0.5),
        (lambda x: np.float64(2.0) * x, 4.0, 2.0),
        (lambda x: np.int64(3) + x, 5.0, 1.0),
        (lambda x: x / np.float32(4.0), 0.5, 0.25),
    ],
)
def test_number_on_either_side(make, data: float, grad: float) -> None:  # type: ignore[no-untyped-def]
    x = Value(2.0)
    out = make(x)
    assert isinstance(out, Value) and type(out.data) is float
    assert out.data == pytest.approx(data, rel=1e-15)
    out.backward()
    assert x.grad == pytest.approx(grad, rel=1e-15)
    assert x in out.parents and len(out.parents) == 1
    assert any(not isinstance(o, Value) for o in out.operands)


def test_value_exponent_gets_its_gradient() -> None:
    """d(a^b)/db = a^b·ln a."""
    a, b = Value(3.0), Value(2.0)
    (a**b).backward()
    assert a.grad == pytest.approx(6.0) and b.grad == pytest.approx(9 * math.log(3))


def test_n_ary_ops_are_one_node() -> None:
    ws, xs, b = [Value(0.5), Value(-1.0), Value(2.0)], [1.0, 2.0, 3.0], Value(0.25)
    n = autograd.dot(ws, xs, bias=b)
    assert n.op == "dot" and n.parents == (*ws, b)
    assert n.operands == (*ws, *xs, b)
    assert n.data == 0.5 - 2.0 + 6.0 + 0.25
    n.backward()
    assert [w.grad for w in ws] == xs and b.grad == 1.0
    for fn, op in ((autograd.sum, "sum"), (autograd.mean, "mean"), (autograd.logsumexp, "logsumexp"),
                   (autograd.maximum, "maximum")):
        node = fn(ws)
        assert node.op == op and node.parents == tuple(ws)
    probs = autograd.softmax(ws)
    assert [p.op for p in probs] == ["softmax"] * 3
    assert [p.params for p in probs] == [(0,), (1,), (2,)]
    assert all(p.parents == tuple(ws) for p in probs)
    assert sum(p.data for p in probs) == pytest.approx(1.0, rel=1e-15)


def test_dot_accepts_a_numpy_row() -> None:
    ws = [Value(1.0), Value(2.0)]
    out = autograd.dot(ws, np.array([3.0, 4.0]))
    assert out.data == 11.0 and all(type(o) is float for o in out.operands[2:])


def test_n_ary_bad_input() -> None:
    with pytest.raises(ValueError, match="2 weights and 3 inputs"):
        autograd.dot([1.0, 2.0], [1.0, 2.0, 3.0])
    for fn in (autograd.mean, autograd.logsumexp, autograd.softmax, autograd.log_softmax, autograd.maximum):
        with pytest.raises(ValueError, match="at least one operand"):
            fn([])
    assert autograd.sum([]).data == 0.0
    with pytest.raises(TypeError, match="iterable of Values or numbers; got Value"):
        autograd.sum(Value(1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got str"):
        autograd.mean("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got str"):
        autograd.sum([Value(1.0), "x"])


# --- numerics -------------------------------------------------------------------------


def test_ieee_results_instead_of_exceptions() -> None:
    assert Value(1000).exp().data == math.inf
    assert math.isnan(Value(-1).log().data)
    assert Value(0).log().data == -math.inf
    assert (Value(1.0) / 0).data == math.inf
    assert math.isnan((Value(0.0) / 0).data)
    assert (Value(-1.0) / 0).data == -math.inf
    assert math.isnan((Value(-8.0) ** (1 / 3)).data)
    assert (Value(0.0) ** -1).data == math.inf
    assert (Value(-0.0) ** -1).data == -math.inf
    assert (Value(10.0) ** 400).data == math.inf
    assert (Value(-10.0) ** 401).data == -math.inf
    assert autograd.sum([1e308, 1e308]).data == math.inf
    assert math.isnan(autograd.sum([math.inf, -math.inf]).data)


def test_stable_functions_at_extreme_inputs() -> None:
    lo = Value(-1000.0)
    s = lo.sigmoid()
    s.backward()
    assert s.data == 0.0 and math.isfinite(lo.grad)
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(1000.0).softplus().data == 1000.0
    assert 0.0 <= Value(-1000.0).softplus().data < 1e-300
    assert autograd.logsumexp([1000.0, 1000.0]).data == pytest.approx(1000 + math.log(2), rel=1e-15)
    logs = autograd.log_softmax([1000.0, 0.0])
    assert logs[0].data == 0.0 and logs[1].data == -1000.0
    assert sum(p.data for p in autograd.softmax([1000.0, 999.0, -1000.0])) == pytest.approx(1.0)


def test_kinks_follow_pytorch() -> None:
    for method, expected in (("relu", 0.0), ("step", 0.0), ("__abs__", 0.0)):
        x = Value(0.0)
        getattr(x, method)().backward()
        assert x.grad == expected, method
    x = Value(0.0)
    x.leaky_relu(0.2).backward()
    assert x.grad == 0.2
    x = Value(3.0)
    x.step().backward()
    assert x.grad == 0.0


def test_value_slope_makes_a_prelu() -> None:
    x, slope = Value(-2.0), Value(0.1)
    x.leaky_relu(slope).backward()
    assert (x.grad, slope.grad) == (0.1, -2.0)


def test_pow_at_zero_base_follows_pytorch() -> None:
    """0 ** 0 = 1 with d/dbase = 0 (not nan); 0 ** b for b >= 0 has d/dexponent = 0 (not nan from 0·log 0)."""
    x = Value(0.0)
    y = x**0
    y.backward()
    assert y.data == 1.0 and x.grad == 0.0
    base, exponent = Value(0.0), Value(2.0)
    (base**exponent).backward()
    assert (base.grad, exponent.grad) == (0.0, 0.0)
    base, exponent = Value(0.0), Value(0.0)
    (base**exponent).backward()
    assert (base.grad, exponent.grad) == (0.0, 0.0)


def test_maximum_tie_sends_the_gradient_to_the_first() -> None:
    """maximum of tied operands: all the gradient goes to the first maximal one (as torch.max)."""
    a, b, c = Value(1.0), Value(3.0), Value(3.0)
    autograd.maximum([a, b, c]).backward()
    assert (a.grad, b.grad, c.grad) == (0.0, 1.0, 0.0)


# --- modes ----------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_and_operands() -> None:
    with autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"log gave nan from operands \(Value\(data=-1\.0"):
            Value(-1.0).log()
    assert math.isnan(Value(-1.0).log().data)  # outside the block: no error


def test_detect_anomaly_in_backward() -> None:
    x = Value(0.0, label="x")
    with autograd.detect_anomaly():
        y = x**0.5  # forward is 0.0, fine; the gradient 0.5·0^-0.5 is inf
        with pytest.raises(FloatingPointError, match="backward of pow.*gave inf"):
            y.backward()
    z = Value(0.0)
    (z**0.5).backward()
    assert z.grad == math.inf


def test_no_grad_records_nothing_and_restores() -> None:
    x = Value(2.0)
    with autograd.no_grad():
        assert not autograd.is_grad_enabled()
        y = x * 3
        n = autograd.dot([x], [1.0])
    assert (y.op, y.parents, n.parents) == ("", (), ())
    assert y.data == 6.0
    assert autograd.is_grad_enabled()
    with pytest.raises(RuntimeError):
        with autograd.no_grad():
            raise RuntimeError("inside")
    assert autograd.is_grad_enabled() and (x * 3).parents == (x,)

    @autograd.no_grad()
    def predict(v: Value) -> Value:
        return v * 2

    assert predict(x).parents == ()


def test_no_grad_is_thread_local() -> None:
    inside, done = threading.Event(), threading.Event()
    seen: list[tuple[Value, ...]] = []

    def other_thread() -> None:
        inside.wait(5)
        seen.append((Value(1.0) * 2).parents)
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with autograd.no_grad():
        inside.set()
        done.wait(5)
        assert (Value(1.0) * 2).parents == ()
    thread.join(5)
    assert len(seen) == 1 and len(seen[0]) == 1


# --- backward ---------------------------------------------------------------------------


def test_backward_on_a_leaf_and_with_a_seed() -> None:
    x = Value(1.0)
    x.backward()
    x.backward(2.5)
    assert x.grad == 3.5
    y = Value(3.0)
    (y * y).backward(grad=2.0)
    assert y.grad == 12.0


def test_diamond_and_wide_fan_out() -> None:
    x = Value(1.5)
    a, b = x * 2, x.exp()
    (a * b).backward()  # d/dx 2x·e^x = 2e^x(1 + x)
    assert x.grad == pytest.approx(2 * math.exp(1.5) * 2.5, rel=1e-15)
    w = Value(0.5)
    total = autograd.sum([w * i for i in range(10_000)])
    total.backward()
    assert w.grad == sum(range(10_000))


def test_million_deep_chain_needs_no_recursion() -> None:
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert y.data == 1_000_001.0 and x.grad == 1.0
