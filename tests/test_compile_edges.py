"""autograd.compile at the edges: non-finite numbers as eager gives them, no NumPy warnings
of its own, and Ctrl-C inside ``step.backward``.

The reference is eager gradtrace: ``fn`` on each sample, ``autograd.mean`` (or ``sum``)
of the results and ``backward()``.
"""

from __future__ import annotations

import itertools
import math
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autograd
from autograd import Value


def eager(fn: Callable[..., Value], params: list[Value], X: np.ndarray, reduction: str) -> tuple[float, list[float]]:
    """The eager batch loss and each parameter's gradient (the params' .grad left as found)."""
    saved = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    outs = [fn([Value(v) for v in row]) for row in X.tolist()]
    loss = autograd.mean(outs) if reduction == "mean" else autograd.sum(outs)
    loss.backward()
    grads = [p.grad for p in params]
    for p, g in zip(params, saved):
        p.grad = g
    return loss.data, grads


def compiled(fn: Callable[..., Value], params: list[Value], X: np.ndarray, reduction: str) -> tuple[float, list[float]]:
    saved = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    loss = autograd.compile(fn, params, reduction=reduction).backward(X)
    grads = [p.grad for p in params]
    for p, g in zip(params, saved):
        p.grad = g
    return loss, grads


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# --- non-finite numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(
    "rows",
    [
        [[math.inf], [-math.inf]],  # inf - inf: nan, where fsum raises ValueError
        [[math.inf], [1.0], [-math.inf], [2.0]],
        [[math.inf], [math.inf]],
        [[math.nan], [1.0]],
        [[1e308], [1e308]],  # the sum overflows; the exact mean does not
        [[1e308], [1e308], [-1e308]],  # a partial sum overflows, the total does not
    ],
)
def test_a_reduction_over_non_finite_results_is_what_eager_gives(rows: list[list[float]], reduction: str) -> None:
    w = Value(1.0)
    X = np.array(rows)

    def fn(x: list[Value]) -> Value:
        return w * x[0]

    expected_loss, expected_grads = eager(fn, [w], X, reduction)
    loss, grads = compiled(fn, [w], X, reduction)
    assert same(loss, expected_loss), f"compiled {loss!r}, eager {expected_loss!r}"
    assert all(map(same, grads, expected_grads)), f"compiled {grads}, eager {expected_grads}"


def test_a_mean_over_plus_and_minus_inf_is_nan() -> None:
    w = Value(2.0)
    step = autograd.compile(lambda x: w * x[0], [w])
    assert math.isnan(step.backward(np.array([[math.inf], [-math.inf]])))


VALUES = [0.0, -1.0, 1.0, math.inf, -math.inf, math.nan, 1e308, -1e308, 800.0, 5e-324]


def test_compile_gives_no_numpy_warning_of_its_own() -> None:
    # rows of every extreme: eager gradtrace gives no warning on them (floats do not warn),
    # and neither may compile's checks nor its replay
    w, b = Value(2.0), Value(0.5)
    functions: list[Callable[[list[Value]], Value]] = [
        lambda x: w * x[0] + b,
        lambda x: (w * x[0] + b).log() + x[1],
        lambda x: (w * x[0]).exp() * x[1],
        lambda x: x[0] / (x[1] - b),
        lambda x: autograd.log_softmax([x[0] * w, x[1], b])[0],
        lambda x: (x[0] * w).sqrt() + x[1] ** 2,
    ]
    rng = np.random.default_rng(3)
    for fn in functions:
        for _ in range(25):
            X = rng.choice(VALUES, size=(int(rng.integers(1, 6)), 2))
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                eager(fn, [w, b], X, "mean")
                step = autograd.compile(fn, [w, b])
                step(X)
                step.backward(X)
            w.grad = b.grad = 0.0


# --- Ctrl-C inside step.backward --------------------------------------------------------------------


def interrupted_at(n: int, call: Callable[[], Any]) -> bool:
    """Runs call with Ctrl-C (a real SIGINT) at its n-th line event, counting every Python
    line it runs, in whatever frame; True when the interrupt came (call did not finish)."""
    count = itertools.count()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and next(count) == n:
            sys.settrace(None)
            signal.raise_signal(signal.SIGINT)  # Python runs the handler before the next line
        return tracer

    sys.settrace(tracer)
    try:
        call()
    except KeyboardInterrupt:
        return True
    finally:
        sys.settrace(None)
    return False


def test_ctrl_c_inside_backward_leaves_every_grad_as_before_or_fully_added() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    params = [Value(0.1 * (k + 1) * (-1) ** k) for k in range(12)]

    def fn(x: list[Value], t: Value) -> Value:
        h = [autograd.dot(params[3 * j : 3 * j + 3], x, params[9 + j]).tanh() for j in range(3)]
        return (autograd.dot(h, x) - t) ** 2

    rng = np.random.default_rng(0)
    X, t = rng.normal(size=(8, 3)), rng.normal(size=8)
    step = autograd.compile(fn, params)
    step(X, t)  # traced
    before = [0.25 * k for k in range(len(params))]
    for p, g in zip(params, before):
        p.grad = g
    step.backward(X, t)
    after = [p.grad for p in params]
    assert all(a != b for a, b in zip(after, before))
    outcomes = set()
    for n in itertools.count():
        for p, g in zip(params, before):
            p.grad = g
        if not interrupted_at(n, lambda: step.backward(X, t)):
            break
        grads = [p.grad for p in params]
        state = "before" if grads == before else "added" if grads == after else "half"
        assert state != "half", f"Ctrl-C at line event {n} of step.backward left .grad half added: {grads}"
        outcomes.add(state)
    assert n > 50 and outcomes == {"before", "added"}, (n, outcomes)  # interrupts came all through the call
