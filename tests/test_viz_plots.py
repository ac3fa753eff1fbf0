"""viz's matplotlib plots, headless (Agg): decision boundary, activation with its autograd derivative, history."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from autograd import Value
from viz import plot_activation, plot_decision_boundary, plot_history
from viz.plots import _predict

matplotlib = pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def headless() -> None:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


# --- plot_activation -----------------------------------------------------------------------------


def test_relu_and_its_derivative_by_autograd() -> None:
    ax = plot_activation("relu", x_range=(-2.0, 2.0), n_points=5)
    (f, df) = ax.get_lines()[:2]
    assert list(f.get_xdata()) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert list(f.get_ydata()) == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert list(df.get_ydata()) == [0.0, 0.0, 0.0, 1.0, 1.0]  # relu'(0) = 0, as PyTorch
    assert "autograd" in df.get_label()


def test_sigmoid_derivative_peaks_at_a_quarter() -> None:
    ax = plot_activation("sigmoid")
    slopes = np.asarray(ax.get_lines()[1].get_ydata())
    assert slopes.max() == pytest.approx(0.25)
    assert ax.get_title() == "sigmoid"


def test_a_function_of_a_value_and_no_derivative() -> None:
    def square(v: Value) -> Value:
        return v * v

    ax = plot_activation(square, derivative=False, x_range=(-1.0, 1.0), n_points=3)
    assert len(ax.get_lines()) == 3  # the function and the two axis lines
    assert list(ax.get_lines()[0].get_ydata()) == [1.0, 0.0, 1.0]
    ax = plot_activation(square, derivative=True, x_range=(-1.0, 1.0), n_points=3)
    assert list(ax.get_lines()[1].get_ydata()) == [-2.0, 0.0, 2.0]


def test_plot_activation_draws_on_a_given_axes() -> None:
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert plot_activation("tanh", ax=ax) is ax


def test_plot_activation_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown activation 'swish'; known: linear, relu"):
        plot_activation("swish")
    with pytest.raises(TypeError, match="got int"):
        plot_activation(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must return a Value; got float"):
        plot_activation(lambda v: 1.0)
    with pytest.raises(ValueError, match="low < high"):
        plot_activation("relu", x_range=(1.0, 0.0))


# --- plot_decision_boundary --------------------------------------------------------------------------


class LinearModel:
    """A hand-written model from autograd: one sigmoid neuron, as nn's MLP would be called."""

    output_activation = "sigmoid"

    def __init__(self) -> None:
        self.w, self.b = [Value(4.0), Value(-4.0)], Value(0.0)

    def __call__(self, x: np.ndarray) -> Value:
        return (self.w[0] * float(x[0]) + self.w[1] * float(x[1]) + self.b).sigmoid()


def test_predict_follows_the_duck_typing_contract() -> None:
    row = np.array([1.0, 0.0])
    assert _predict(LinearModel(), row) == 1.0  # sigmoid(4) > 0.5
    assert _predict(LinearModel(), np.array([0.0, 1.0])) == 0.0
    assert _predict(lambda x: Value(0.3), row) == 1.0  # no sigmoid: threshold 0
    assert _predict(lambda x: Value(-0.3), row) == 0.0
    assert _predict(lambda x: [Value(0.1), Value(0.7), Value(0.2)], row) == 1.0  # argmax
    assert _predict(SimpleNamespace(predict=lambda x: 2), row) == 2.0


def test_decision_boundary_separates_the_classes() -> None:
    X = np.array([[1.0, 0.0], [2.0, 1.0], [0.0, 1.0], [1.0, 2.0]])
    y = np.array([1, 1, 0, 0])
    ax = plot_decision_boundary(LinearModel(), X, y, resolution=20)
    assert ax.get_xlim() == (-0.5, 2.5)
    (points,) = [c for c in ax.collections if c.get_offsets().shape == (4, 2)]
    assert np.array_equal(points.get_offsets(), X)
    assert ax.get_legend() is not None


def test_decision_boundary_with_a_predict_model_and_three_classes() -> None:
    X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    y = np.array([0, 1, 2])
    model = SimpleNamespace(predict=lambda x: int(round(min(max(x[0], 0.0), 2.0))))
    ax = plot_decision_boundary(model, X, y, resolution=10)
    assert len(ax.get_legend().get_texts()) == 3


def test_decision_boundary_bad_input() -> None:
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\); got shape \(3,\)"):
        plot_decision_boundary(LinearModel(), [1.0, 2.0, 3.0], [0, 1, 0])
    with pytest.raises(ValueError, match="one label per row of X"):
        plot_decision_boundary(LinearModel(), np.zeros((3, 2)), [0, 1])
    with pytest.raises(TypeError, match="model must have predict"):
        plot_decision_boundary(object(), np.zeros((2, 2)), [0, 1])


# --- plot_history -------------------------------------------------------------------------------------


def test_history_object_with_loss_and_accuracy() -> None:
    history = SimpleNamespace(loss=[1.0, 0.5, 0.25], accuracy=[0.5, 0.75, 1.0])
    ax = plot_history(history)
    (loss,) = ax.get_lines()
    assert list(loss.get_ydata()) == [1.0, 0.5, 0.25]
    assert list(loss.get_xdata()) == [1, 2, 3]
    twin = [other for other in ax.figure.axes if other is not ax]
    assert list(twin[0].get_lines()[0].get_ydata()) == [0.5, 0.75, 1.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "accuracy"]


def test_history_mapping_with_loss_only() -> None:
    ax = plot_history({"loss": [3.0, 2.0]})
    assert len(ax.figure.axes) == 1
    assert ax.get_ylabel() == "loss"


def test_history_bad_input() -> None:
    with pytest.raises(TypeError, match="got int"):
        plot_history(5)
    with pytest.raises(ValueError, match="no 'loss' or 'accuracy'"):
        plot_history({"loss": [], "accuracy": []})


# --- matplotlib is optional ----------------------------------------------------------------------------


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install gradtrace\[plot\]"):
        plot_history({"loss": [1.0]})


def test_import_viz_loads_no_matplotlib() -> None:
    code = "import sys, viz; assert 'matplotlib' not in sys.modules, 'viz imported matplotlib'"
    subprocess.run([sys.executable, "-c", code], check=True)
