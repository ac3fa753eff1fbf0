"""viz's matplotlib plots, headless (Agg): decision boundary, activation with its autograd derivative, history,
confusion matrix, and the Hangul font."""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from autograd import Value
from viz import hangul_font_path, plot_activation, plot_confusion_matrix, plot_decision_boundary, plot_history
from viz.plots import _display_points, _predict

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


def test_many_classes_get_distinct_colours_not_greys() -> None:
    from matplotlib.colors import rgb_to_hsv

    labels = [0, 2, 5, 7, 9]  # not 0..k-1: each still gets its own colour and its own legend entry
    X = np.array([[float(i), 0.0] for i in range(5)])
    model = SimpleNamespace(predict=lambda x: labels[int(round(min(max(x[0], 0.0), 4.0)))])
    ax = plot_decision_boundary(model, X, np.array(labels), resolution=12)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "2", "5", "7", "9"]
    ax.figure.canvas.draw()  # colours are mapped at draw time
    (points,) = [c for c in ax.collections if c.get_offsets().shape == (5, 2)]
    colours = points.get_facecolors()[:, :3]
    assert len({tuple(np.round(c, 3)) for c in colours}) == 5
    assert all(rgb_to_hsv(c)[1] > 0.3 for c in colours)  # saturated: told apart by hue, none grey


def test_two_classes_keep_blue_and_red() -> None:
    ax = plot_decision_boundary(LinearModel(), np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, 0]), resolution=8)
    ax.figure.canvas.draw()
    (points,) = [c for c in ax.collections if c.get_offsets().shape == (2, 2)]
    red, blue = points.get_facecolors()[:, :3]
    assert red[0] > red[2] and blue[2] > blue[0]


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
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    assert list(twin.get_lines()[0].get_ydata()) == [0.5, 0.75, 1.0]
    # one legend for both curves, on the twin Axes (drawn last, so neither curve covers it)
    assert ax.get_legend() is None
    assert [t.get_text() for t in twin.get_legend().get_texts()] == ["loss", "accuracy"]
    assert (ax.get_xlabel(), ax.get_ylabel(), twin.get_ylabel()) == ("epoch", "loss", "accuracy")
    assert ax.get_title() == "training history"  # no description to say more
    assert twin.get_ylim() == (0.0, 1.05)


def legend_covers(ax) -> int:
    """How many points of the figure's curves (both Axes, and along their segments) lie under the legend."""
    figure = ax.figure
    figure.canvas.draw()
    (legend,) = [a.get_legend() for a in figure.axes if a.get_legend() is not None]
    box = legend.get_window_extent(figure.canvas.get_renderer())
    points = np.concatenate([_display_points(line, per_segment=50) for a in figure.axes for line in a.get_lines()])
    return int(box.count_contains(points))


@pytest.mark.parametrize(
    "loss, accuracy",
    [
        ([1.0 / (k + 1) for k in range(40)], [min(1.0, 0.5 + k / 40) for k in range(40)]),  # the usual shapes
        ([0.6] * 40, [0.55] * 40),  # both across the middle: the usual spot, center right, is taken
        ([0.1 + 0.02 * k for k in range(40)], [1.0 - 0.02 * k for k in range(40)]),  # diverging training
    ],
    ids=["learning", "flat", "diverging"],
)
def test_the_legend_covers_neither_curve(loss: list[float], accuracy: list[float]) -> None:
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 3.5))
    plot_history({"loss": loss, "accuracy": accuracy}, ax=ax)
    assert legend_covers(ax) == 0


def test_the_title_says_what_was_trained() -> None:
    import nn

    X, y = nn.data.logic_gate("xor")
    model = nn.MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", rng=random.Random(0))
    history = nn.fit(model, X, y, loss="bce", optimizer="adam", lr=0.1, epochs=3, progress=False)
    assert plot_history(history).get_title() == "MLP 2-4-1, bce, Adam(lr=0.1), full batch"
    history.interrupted = True
    assert plot_history(history).get_title() == "MLP 2-4-1, bce, Adam(lr=0.1), full batch (interrupted)"
    ax = plot_history(history, title="XOR", log_loss=True)
    assert ax.get_title() == "XOR" and ax.get_yscale() == "log"


def test_accuracy_given_in_percent_is_not_clipped() -> None:
    ax = plot_history({"loss": [1.0, 0.5], "accuracy": [50.0, 90.0]})
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    low, high = twin.get_ylim()
    assert low <= 50.0 and high >= 90.0


def test_a_regression_history_has_no_accuracy_axis() -> None:
    ax = plot_history({"loss": [3.0, 2.0], "accuracy": [float("nan")] * 2})
    assert len(ax.figure.axes) == 1 and ax.get_legend() is not None


def test_history_mapping_with_loss_only() -> None:
    ax = plot_history({"loss": [3.0, 2.0]})
    assert len(ax.figure.axes) == 1
    assert ax.get_ylabel() == "loss"


def test_history_bad_input() -> None:
    with pytest.raises(TypeError, match="got int"):
        plot_history(5)
    with pytest.raises(ValueError, match="no 'loss' or 'accuracy'"):
        plot_history({"loss": [], "accuracy": []})


# --- plot_confusion_matrix ----------------------------------------------------------------------------


def test_confusion_matrix_counts_and_labels() -> None:
    y_true = [0, 0, 1, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 2, 2, 0, 2]
    ax = plot_confusion_matrix(y_true, y_pred)
    expected = np.zeros((3, 3), dtype=int)
    for t, p in zip(y_true, y_pred):  # counted one by one, independently of the function
        expected[t, p] += 1
    assert np.array_equal(ax.images[0].get_array(), expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert texts == {(0, 0): "1", (0, 1): "1", (1, 1): "2", (1, 2): "1", (2, 0): "1", (2, 2): "3"}


def test_confusion_matrix_with_given_labels_and_bad_input() -> None:
    ax = plot_confusion_matrix(["cat", "dog"], ["dog", "dog"], labels=["dog", "cat", "bird"])
    assert ax.images[0].get_array().tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match=r"one entry per sample each; got shapes \(2,\) and \(3,\)"):
        plot_confusion_matrix([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"\[3\] occur in the data but not in labels \[0, 1\]"):
        plot_confusion_matrix([0, 3], [0, 1], labels=[0, 1])


# --- the Hangul font -----------------------------------------------------------------------------------


def glyph_warnings(text: str) -> list[str]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_the_plot_extra_ships_a_hangul_font() -> None:
    from matplotlib.ft2font import FT2Font

    path = hangul_font_path()
    assert path is not None and path.suffix == ".ttf"
    charmap = FT2Font(str(path)).get_charmap()
    assert all(ord(c) in charmap for c in "손실함수 기울기 소실 역전파".replace(" ", ""))


def test_korean_labels_render_with_glyphs() -> None:
    import matplotlib

    plot_history({"loss": [1.0, 0.5]}, title="손실 (loss)")  # viz's plots set the font up
    assert glyph_warnings("기울기 소실 (vanishing gradient), 역전파") == []
    saved = matplotlib.rcParams["font.family"]
    try:  # the control: without the fallback, matplotlib draws boxes and says so
        matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
        assert glyph_warnings("기울기 소실") != []
    finally:
        matplotlib.rcParams["font.family"] = saved


# --- matplotlib is optional ----------------------------------------------------------------------------


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install gradtrace\[plot\]"):
        plot_history({"loss": [1.0]})


def test_import_viz_loads_no_matplotlib() -> None:
    code = "import sys, viz; assert 'matplotlib' not in sys.modules, 'viz imported matplotlib'"
    subprocess.run([sys.executable, "-c", code], check=True)
