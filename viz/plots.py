"""matplotlib plots: decision boundaries, activations with their autograd derivatives, training history.

matplotlib is an optional extra (``pip install gradtrace[plot]``): it is imported on the first
call, so ``import viz`` works without it. No backend is chosen here; headless runs set
``MPLBACKEND=Agg`` (or ``matplotlib.use("Agg")``) themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd import Value, no_grad

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ACTIVATIONS", "plot_activation", "plot_decision_boundary", "plot_history"]

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
    return plt


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, new_ax = _pyplot().subplots()
    return new_ax


def _predict(model: Any, row: np.ndarray) -> float:
    """A class label for one sample. Duck-typed, since viz does not import nn: a ``predict``
    method (nn.Perceptron), else the model's output Value(s) thresholded or argmaxed."""
    if callable(getattr(model, "predict", None)):
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
        model: has ``predict(row)`` giving a label; or is called as ``model(row)`` giving a
            Value (thresholded at 0.5 if ``model.output_activation == "sigmoid"``, else at 0)
            or a list of Values (argmax).
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
    classes = np.unique(np.concatenate([labels, y.astype(float)]))
    levels = np.concatenate([classes - 0.5, [classes[-1] + 0.5]])
    ax.contourf(grid_x, grid_y, labels.reshape(grid_x.shape), levels=levels, cmap="coolwarm", alpha=0.3)
    scatter = ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=30,
                         vmin=classes[0], vmax=classes[-1])
    ax.legend(*scatter.legend_elements(), title="class", loc="best")
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


def plot_history(history: Any, ax: Axes | None = None) -> Axes:
    """Plot the loss per epoch (left axis) and the accuracy, if any, on a right axis.

    Args:
        history: ``nn.fit``'s History (``.loss``, ``.accuracy``) or a mapping with those keys.
        ax: the Axes to draw on (a new figure if None).

    Returns:
        the Axes with the loss (the accuracy's twin Axes shares its x axis).
    """
    has_fields = isinstance(history, Mapping) or hasattr(history, "loss") or hasattr(history, "accuracy")
    if not has_fields:
        raise TypeError(
            f"plot_history: give nn.fit's History or a mapping with 'loss'/'accuracy' lists; got {type(history).__name__}"
        )
    loss, accuracy = _series(history, "loss"), _series(history, "accuracy")
    if not loss and not accuracy:
        raise ValueError("plot_history: the history has no 'loss' or 'accuracy' entries to plot")
    ax = _axes(ax)
    lines = []
    if loss:
        lines += ax.plot(range(1, len(loss) + 1), loss, color="tab:blue", label="loss")
        ax.set_ylabel("loss")
    if accuracy:
        other = ax.twinx() if loss else ax
        lines += other.plot(range(1, len(accuracy) + 1), accuracy, color="tab:orange", label="accuracy")
        other.set_ylabel("accuracy")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_xlabel("epoch")
    ax.set_title("training history")
    ax.legend(lines, [line.get_label() for line in lines], loc="best")
    return ax
