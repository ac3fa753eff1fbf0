"""matplotlib plots: decision boundaries, activations with their autograd derivatives, training
history, confusion matrices.

matplotlib is an optional extra (``pip install gradtrace[plot]``): it is imported on the first
call, so ``import viz`` works without it. No backend is chosen here; headless runs set
``MPLBACKEND=Agg`` (or ``matplotlib.use("Agg")``) themselves. The first call also makes the
extra's Hangul font a fallback (:func:`viz.use_hangul_font`), so Korean labels render.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd import Value, no_grad

from .fonts import use_hangul_font

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ACTIVATIONS", "plot_activation", "plot_confusion_matrix", "plot_decision_boundary", "plot_history"]

# activation name → the Value method it stands for (nn's names; "linear" is the identity)
ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "linear": lambda v: +v,
    "relu": Value.relu,
    "leaky_relu": Value.leaky_relu,
    "elu": Value.elu,
    "sigmoid": Value.sigmoid,
    "tanh": Value.tanh,
    "step": Value.step,
    "softplus": Value.softplus,
    "exp": Value.exp,
    "abs": abs,
}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "viz's plots need matplotlib, an optional extra: pip install gradtrace[plot]"
        ) from error
    use_hangul_font()
    return plt


def _axes(ax: Axes | None) -> Axes:
    plt = _pyplot()  # also on a given Axes: it sets up the Hangul font
    if ax is not None:
        return ax
    _, new_ax = plt.subplots()
    return new_ax


def _class_colours(count: int) -> list[Any]:
    """One colour per class: coolwarm's blue and red for two (the lectures' look), else a qualitative map,
    whose colours are told apart by hue (a sequential map would give neighbouring classes near-equal greys)."""
    from matplotlib import colormaps

    if count <= 2:
        return [colormaps["coolwarm"](0.0), colormaps["coolwarm"](1.0)][:count]
    qualitative = colormaps["tab10" if count <= 10 else "tab20"]
    if count > qualitative.N:
        raise ValueError(f"plot_decision_boundary: at most {qualitative.N} classes can be told apart by colour; got {count}")
    return [qualitative(i) for i in range(count)]


def _label_text(label: Any) -> str:
    return str(int(label)) if float(label).is_integer() else f"{label:g}"


def _predict(model: Any, row: np.ndarray) -> float:
    """A class label for one sample. Duck-typed, since viz does not import nn: a callable model's
    output Value(s) thresholded or argmaxed, else a ``predict(row)`` method's label (nn.Perceptron).
    A callable model is called even when it has ``predict``: nn's modules have one for a 2-D batch."""
    if not callable(model) and callable(getattr(model, "predict", None)):
        return float(model.predict(row))
    out = model(row)
    if isinstance(out, (list, tuple)):
        scores = [o.data if isinstance(o, Value) else float(o) for o in out]
        return float(np.argmax(scores))
    score = out.data if isinstance(out, Value) else float(out)
    threshold = 0.5 if getattr(model, "output_activation", None) == "sigmoid" else 0.0
    return float(score > threshold)


def plot_decision_boundary(
    model: Any, X: Any, y: Any, ax: Axes | None = None, resolution: int = 80, padding: float = 0.5
) -> Axes:
    """Shade the plane by the model's predicted class and scatter the samples on top.

    Args:
        model: is called as ``model(row)`` giving a Value (thresholded at 0.5 if
            ``model.output_activation == "sigmoid"``, else at 0) or a list of Values (argmax);
            or, not callable, has ``predict(row)`` giving a label.
        X: samples, shape (n, 2). y: their labels, n of them.
        ax: the Axes to draw on (a new figure if None).
        resolution: grid points per axis (the model runs resolution² times, without a graph).
        padding: margin around the samples.

    Returns:
        the Axes.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n, 2); got shape {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"plot_decision_boundary: y must hold one label per row of X ({len(X)}); got shape {y.shape}")
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be an int ≥ 2; got {resolution!r}")
    if not (callable(model) or callable(getattr(model, "predict", None))):
        raise TypeError(
            f"plot_decision_boundary: model must have predict(row) or be callable; got {type(model).__name__}"
        )
    ax = _axes(ax)
    (x0, y0), (x1, y1) = X.min(axis=0) - padding, X.max(axis=0) + padding
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    with no_grad():  # thousands of forward passes: record no graph
        labels = np.array([_predict(model, row) for row in np.column_stack([grid_x.ravel(), grid_y.ravel()])])
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D

    classes = np.unique(np.concatenate([labels, y.astype(float)]))
    colours = _class_colours(len(classes))
    cmap = ListedColormap(colours)
    levels = np.arange(len(classes) + 1) - 0.5  # class k (by index in classes) fills [k - ½, k + ½]
    norm = BoundaryNorm(levels, cmap.N)
    grid_index = np.searchsorted(classes, labels).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, grid_index, levels=levels, cmap=cmap, norm=norm, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=np.searchsorted(classes, y.astype(float)), cmap=cmap, norm=norm,
               edgecolors="k", s=30)
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor=colour, markeredgecolor="k",
                      label=_label_text(label)) for label, colour in zip(classes, colours)]
    ax.legend(handles=handles, title="class", loc="best")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title("decision boundary")
    return ax


def plot_activation(
    name_or_fn: str | Callable[[Value], Value],
    derivative: bool = True,
    ax: Axes | None = None,
    x_range: tuple[float, float] = (-5.0, 5.0),
    n_points: int = 401,
) -> Axes:
    """Plot an activation function and, computed by autograd's backward, its derivative.

    Args:
        name_or_fn: one of ACTIVATIONS ("relu", "sigmoid", "tanh", ...) or a function of a Value.
        derivative: also plot f'(x), from ``f(Value(x)).backward()`` at each point.
        ax: the Axes to draw on (a new figure if None).
        x_range: the interval of x. n_points: how many x.

    Returns:
        the Axes.
    """
    if isinstance(name_or_fn, str):
        if name_or_fn not in ACTIVATIONS:
            raise ValueError(f"plot_activation: unknown activation {name_or_fn!r}; known: {', '.join(ACTIVATIONS)}")
        fn, name = ACTIVATIONS[name_or_fn], name_or_fn
    elif callable(name_or_fn):
        fn, name = name_or_fn, getattr(name_or_fn, "__name__", "f")
    else:
        raise TypeError(
            f"plot_activation: give an activation name or a function of a Value; got {type(name_or_fn).__name__}"
        )
    low, high = x_range
    if not low < high:
        raise ValueError(f"plot_activation: x_range must be (low, high) with low < high; got {x_range!r}")
    xs = np.linspace(low, high, n_points)
    values, slopes = [], []
    for x in xs:
        point = Value(float(x))
        out = fn(point)
        if not isinstance(out, Value):
            raise TypeError(f"plot_activation: {name} must return a Value; got {type(out).__name__}")
        out.backward()
        values.append(out.data)
        slopes.append(point.grad)
    ax = _axes(ax)
    ax.plot(xs, values, label=f"{name}(x)")
    if derivative:
        ax.plot(xs, slopes, "--", label=f"{name}'(x), by autograd")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.axvline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("x")
    ax.set_title(name)
    ax.legend(loc="best")
    return ax


def _series(history: Any, key: str) -> list[float]:
    if isinstance(history, Mapping):
        series = history.get(key, [])
    else:
        series = getattr(history, key, [])
    return [float(v) for v in (series or [])]


def plot_history(history: Any, ax: Axes | None = None, title: str | None = None, log_loss: bool = False) -> Axes:
    """Plot the loss per epoch (left axis) and the accuracy, if any, on a right axis (0-100% for a share in [0, 1]).

    One legend names both curves; it goes where it covers the fewest points of either
    (matplotlib's own ``loc="best"`` sees only the curves of one Axes and would sit on
    the other's).

    Args:
        history: ``nn.fit``'s History (``.loss``, ``.accuracy``) or a mapping with those keys.
        ax: the Axes to draw on (a new figure if None).
        title: the title; by default what was trained, from ``history.description`` (which
            ``nn.fit`` fills in: model, loss, optimizer, batch size), else "training history";
            "(interrupted)" follows when a KeyboardInterrupt ended the training.
        log_loss: the loss axis on a log scale (set here, so that the legend is placed
            for the curves as they are drawn).

    Returns:
        the Axes with the loss (the accuracy's twin Axes shares its x axis).
    """
    has_fields = isinstance(history, Mapping) or hasattr(history, "loss") or hasattr(history, "accuracy")
    if not has_fields:
        raise TypeError(
            f"plot_history: give nn.fit's History or a mapping with 'loss'/'accuracy' lists; got {type(history).__name__}"
        )
    loss, accuracy = _series(history, "loss"), _series(history, "accuracy")
    accuracy = [] if all(np.isnan(accuracy)) else accuracy  # nan throughout: targets were not class labels
    if not loss and not accuracy:
        raise ValueError("plot_history: the history has no 'loss' or 'accuracy' entries to plot")
    ax = _axes(ax)
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    lines, axes = [], [ax]
    if loss:
        lines += ax.plot(range(1, len(loss) + 1), loss, color="tab:blue", label="loss")
        ax.set_ylabel("loss", color="tab:blue")
        if log_loss:
            ax.set_yscale("log")
    if accuracy:
        other = ax.twinx() if loss else ax
        axes.append(other)
        lines += other.plot(range(1, len(accuracy) + 1), accuracy, color="tab:orange", label="accuracy")
        other.set_ylabel("accuracy", color="tab:orange")
        if 0.0 <= min(accuracy) and max(accuracy) <= 1.0:  # a share, as nn.fit's: the whole 0-100% range
            other.set_ylim(0.0, 1.05)
            other.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_xlabel("epoch")
    if title is None:
        title = getattr(history, "description", "") or "training history"
        if getattr(history, "interrupted", False):
            title += " (interrupted)"
    ax.set_title(title)
    _legend_off_the_curves(axes[-1], lines)  # on the top Axes, so no curve is drawn over it
    return ax


# Where a legend may go, matplotlib's names, in order of preference for a training history
# (loss falls to the lower right, accuracy climbs to the upper right: the right middle is often free).
_LEGEND_PLACES = ("center right", "upper right", "lower right", "upper center", "lower center",
                  "center left", "upper left", "lower left", "center")


def _legend_off_the_curves(ax: Axes, lines: list[Any]) -> None:
    """Put a legend for ``lines`` (possibly on different Axes) where it covers the fewest of their points."""
    labels = [line.get_label() for line in lines]
    canvas = ax.figure.canvas
    if len(lines) < 2 or not hasattr(canvas, "get_renderer"):
        ax.legend(lines, labels, loc="best")
        return
    renderer = canvas.get_renderer()
    points = np.concatenate([_display_points(line) for line in lines])
    best_place, fewest = _LEGEND_PLACES[0], None
    for place in _LEGEND_PLACES:
        legend = ax.legend(lines, labels, loc=place)
        covered = legend.get_window_extent(renderer).padded(4).count_contains(points)
        if fewest is None or covered < fewest:
            best_place, fewest = place, covered
    ax.legend(lines, labels, loc=best_place)


def _display_points(line: Any, per_segment: int = 20) -> np.ndarray:
    """The line's points in display coordinates, with points along each segment (a legend can sit between
    two data points and still cover the line)."""
    xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) < 2:
        return xy.reshape(-1, 2)
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None, None]
    along = xy[:-1][None] + t * (xy[1:] - xy[:-1])[None]
    return np.concatenate([along.reshape(-1, 2), xy[-1:]])


def plot_confusion_matrix(
    y_true: Any, y_pred: Any, labels: Any = None, ax: Axes | None = None, title: str = "confusion matrix"
) -> Axes:
    """Draw the confusion matrix: row = the true class, column = the predicted one, each cell its count.

    The diagonal holds the right answers; every count off it is a mistake. Cells are
    shaded by count (a light-to-dark blue), with the count written in each.

    Args:
        y_true, y_pred: the true and the predicted class of each sample, as many of one as of the other.
        labels: the classes, in the order of the rows and columns (default: every class
            that occurs in either, sorted).
        ax: the Axes to draw on (a new figure if None).
        title: the title.

    Returns:
        the Axes; its image's array (``ax.images[0].get_array()``) is the matrix.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            "plot_confusion_matrix: y_true and y_pred must be 1-D with one entry per sample each;"
            f" got shapes {y_true.shape} and {y_pred.shape}"
        )
    classes = np.unique(np.concatenate([y_true, y_pred])) if labels is None else np.asarray(labels)
    if len(np.unique(classes)) != len(classes):
        raise ValueError(f"plot_confusion_matrix: labels must be distinct; got {classes.tolist()!r}")
    position = {label: i for i, label in enumerate(classes.tolist())}
    unknown = sorted({v for v in [*y_true.tolist(), *y_pred.tolist()] if v not in position}, key=str)
    if unknown:
        raise ValueError(f"plot_confusion_matrix: {unknown[:5]!r} occur in the data but not in labels {classes.tolist()!r}")
    matrix = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(matrix, ([position[v] for v in y_true.tolist()], [position[v] for v in y_pred.tolist()]), 1)
    ax = _axes(ax)
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    names = [str(label) for label in classes.tolist()]
    ax.set_xticks(range(len(classes)), names)
    ax.set_yticks(range(len(classes)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    dark = matrix.max() / 2 if matrix.max() else 1
    for (row, column), count in np.ndenumerate(matrix):
        if count or row == column:
            ax.text(column, row, str(count), ha="center", va="center", fontsize=9,
                    color="white" if count > dark else "black")
    image.set_array(matrix)
    return ax
