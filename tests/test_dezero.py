"""Code written against DeZero (Deep Learning from Scratch 3) runs with only its imports changed.

Steps 33 to 36 of the book (Newton's method with a second derivative, higher derivatives
of sin and of tanh, double backprop) and its ``examples/tanh.py``, as the book writes
them, with DeZero's imports replaced by gradtrace's:

    from dezero import Variable          ->  from autograd import Value as Variable
    import dezero.functions as F         ->  import autograd as F
    from dezero.utils import plot_dot_graph  ->  from viz import plot_dot_graph

They need DeZero's three names: ``backward(create_graph=True)``, which leaves a Value
in ``.grad``; ``cleargrad()``; and ``name`` for ``label``. The expected numbers are what
DeZero 0.0.13 itself printed for the same programs (float64, NumPy 2); gradtrace gives
them bit for bit. Step 34 makes a Variable of 200 points, which gradtrace's scalar
Values cannot hold: the error says to make a list, and the list version gives the same
numbers as DeZero at every point.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from autograd import Value

IMPORTS = """\
import numpy as np
from autograd import Value as Variable
import autograd as F
from viz import plot_dot_graph
"""

STEP_33 = IMPORTS + """
def f(x):
    y = x ** 4 - 2 * x ** 2
    return y

x = Variable(np.array(2.0))
iters = 10

for i in range(iters):
    print(i, x)
    trace.append(x.data)

    y = f(x)
    x.cleargrad()
    y.backward(create_graph=True)

    gx = x.grad
    x.cleargrad()
    gx.backward()
    gx2 = x.grad

    x.data -= gx.data / gx2.data
"""

STEP_34 = IMPORTS + """
x = Variable(np.linspace(-7, 7, 200))
y = F.sin(x)
y.backward(create_graph=True)

logs = [y.data.flatten()]

for i in range(3):
    logs.append(x.grad.data.flatten())
    gx = x.grad
    x.cleargrad()
    gx.backward(create_graph=True)
"""

# step 34 with one Variable per point, as the error says
STEP_34_AS_A_LIST = IMPORTS + """
xs = [Variable(v) for v in POINTS]
logs = []
for x in xs:
    y = F.sin(x)
    y.backward(create_graph=True)
    log = [y.data]
    for i in range(3):
        log.append(x.grad.data)
        gx = x.grad
        x.cleargrad()
        gx.backward(create_graph=True)
    logs.append(log)
"""

STEP_35 = IMPORTS + """
x = Variable(np.array(1.0))
y = F.tanh(x)
x.name = 'x'
y.name = 'y'
y.backward(create_graph=True)

iters = 1

for i in range(iters):
    gx = x.grad
    x.cleargrad()
    gx.backward(create_graph=True)

gx = x.grad
gx.name = 'gx' + str(iters + 1)
plot_dot_graph(gx, to_file='tanh.png')
"""

STEP_36 = IMPORTS + """
x = Variable(np.array(2.0))
y = x ** 2
y.backward(create_graph=True)
gx = x.grad
x.cleargrad()

z = gx ** 3 + y
z.backward()
print(x.grad)
"""

EXAMPLE_TANH = IMPORTS + """
x = Variable(np.array(1.0))
y = F.tanh(x)
x.name = 'x'
y.name = 'y'
y.backward(create_graph=True)

iters = 3

for i in range(iters):
    gx = x.grad
    x.cleargrad()
    gx.backward(create_graph=True)

gx = x.grad
gx.name = 'gx' + str(iters + 1)
plot_dot_graph(gx, verbose=False, to_file='tanh.png')
"""

# What DeZero 0.0.13 printed for these programs (repr of each float).
DEZERO_STEP_33 = [2.0, 1.4545454545454546, 1.1510467893775467, 1.0253259289766978, 1.0009084519430513,
                  1.0000012353089454, 1.000000000002289, 1.0, 1.0, 1.0]  # fmt: skip
DEZERO_SIN_AT_1 = [0.8414709848078965, 0.5403023058681398, -0.8414709848078965, -0.5403023058681398]
DEZERO_TANH_AT_1 = [0.41997434161402614, -0.6397000084492246, 0.6216266807712962, 0.6650910447505024]


def run(program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, points: object = None) -> dict:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"trace": [], "POINTS": points}
    exec(compile(program, "dezero program", "exec"), namespace)  # noqa: S102 - the test's own program text
    return namespace


def test_step_33_newtons_method_with_the_second_derivative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run(STEP_33, tmp_path, monkeypatch)
    assert ns["trace"] == DEZERO_STEP_33  # bit for bit
    assert isinstance(ns["gx"], Value) and isinstance(ns["gx2"], Value)  # cleared leaves get Values


def test_step_34_says_to_use_a_list_and_the_list_gives_dezeros_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match=r"got ndarray of shape \(200,\): a Value holds one number, so make a list of them, \[Value\(v\) for v in array\]"):
        run(STEP_34, tmp_path, monkeypatch)
    logs = run(STEP_34_AS_A_LIST, tmp_path, monkeypatch, np.linspace(-7, 7, 200))["logs"]
    for x, log in zip(np.linspace(-7, 7, 200), logs):
        x = float(x)
        assert log == pytest.approx([math.sin(x), math.cos(x), -math.sin(x), -math.cos(x)], rel=1e-15, abs=1e-16)
    # at x = 1, DeZero's own numbers, bit for bit
    assert run(STEP_34_AS_A_LIST, tmp_path, monkeypatch, [1.0])["logs"] == [DEZERO_SIN_AT_1]


def test_step_35_and_examples_tanh_draw_the_derivatives_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    for program, order in ((STEP_35, 2), (EXAMPLE_TANH, 4)):
        ns = run(program, tmp_path, monkeypatch)
        gx = ns["gx"]
        assert gx.name == gx.label == f"gx{order}"
        assert gx.data == DEZERO_TANH_AT_1[order - 1]  # bit for bit
        assert ns["x"].name == "x" and ns["y"].label == "y"
        with Image.open(tmp_path / "tanh.png") as image:
            assert image.format == "PNG" and image.width > 200


def test_step_36_double_backprop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ns = run(STEP_36, tmp_path, monkeypatch)
    assert ns["x"].grad.data == 100.0  # d/dx [(2x)³ + x²] = 24x² + 2x at 2
    assert "100.0" in capsys.readouterr().out


# --- each name on its own -----------------------------------------------------------------------


def test_backward_create_graph_stores_values_the_default_stays_floats() -> None:
    x = Value(0.5)
    y = x.sin() * x
    y.backward()
    assert type(x.grad) is float and x.grad == math.cos(0.5) * 0.5 + math.sin(0.5)
    x.grad = 0.0
    y.backward(create_graph=True)
    gx = x.grad
    assert isinstance(gx, Value) and gx.data == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5), rel=1e-15)
    assert isinstance(y.grad, Value) and y.grad.data == 1.0  # every node's gradient is a Value
    # differentiable again, by grad or by backward
    from autograd import grad

    [d2] = grad(gx, [x])
    assert d2 == pytest.approx(-math.sin(0.5) * 0.5 + 2 * math.cos(0.5), rel=1e-15)
    # a leaf that holds a gradient adds, as a node
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == pytest.approx(2 * gx.data, rel=1e-15)


def test_backward_create_graph_draws_and_takes_a_seed() -> None:
    from viz import draw_dot

    x = Value(1.0, name="x")
    y = x.tanh()
    y.backward(2.0, create_graph=True)
    assert x.grad.data == pytest.approx(2.0 * (1 - math.tanh(1.0) ** 2), rel=1e-15)
    assert "tooltip=tanh" in draw_dot(x.grad).source


def test_cleargrad_empties_the_gradient_and_the_next_backward_fills_it_with_a_value() -> None:
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    x.cleargrad()
    assert x.grad is None
    (x * x).backward()
    assert isinstance(x.grad, Value) and x.grad.data == 6.0
    other = Value(2.0)
    (other * x).backward()  # a leaf never cleared keeps its float gradient
    assert type(other.grad) is float and other.grad == 3.0


def test_retain_grad_is_accepted_and_every_gradient_is_kept_anyway() -> None:
    x = Value(2.0)
    y = x * x
    z = y * 3.0
    z.backward(retain_grad=True)
    assert (y.grad, x.grad) == (3.0, 12.0)
    z.backward(retain_grad=False)
    assert (y.grad, x.grad) == (3.0, 24.0)  # intermediate nodes afresh, leaves accumulate


def test_name_is_another_name_of_label() -> None:
    x = Value(1.0, name="x")
    assert x.label == x.name == "x"
    x.label = "y"
    assert x.name == "y"
    x.name = None
    assert x.label == ""
    with pytest.raises(TypeError, match="Value.name must be a str or None; got int 3"):
        x.name = 3  # type: ignore[assignment]
