"""nudge: change one input a little and see the output move by about gradient × change.

The lectures read ∂price/∂apple = 2.2 as "if apples cost 1 won more, the bill rises by 2.2 won":

>>> from autograd import Value
>>> apple, apple_num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
>>> price = apple * apple_num * tax
>>> price.label = "price"
>>> print(nudge(price, apple, 1))
apple: 100 → 101 (h = 1)
price: 220 → 222.2 (Δprice = 2.2)
∂price/∂apple · h = 2.2 × 1 = 2.2

The graph is recomputed from its leaves with the op table's forward rules, in lists of its own:
no node's ``data`` or ``grad`` changes. :func:`nudge_slider` puts a slider on a leaf in Jupyter.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from autograd import Value

from ._chain import Chain, walk
from ._safe import html_text
from .draw import _number_text
from .explain import _Namer, given_names

__all__ = ["Nudge", "nudge", "nudge_slider"]


@dataclass(frozen=True)
class Nudge:
    """What a change of ``h`` in one node does to the root, next to what the gradient predicts.

    Attributes:
        root, node: names (labels, or expressions) of the root and the nudged node.
        h: the change.
        node_before, node_after: the nudged node's value before and after.
        root_before, root_after: the root recomputed at both.
        grad: ∂root/∂node at the values before.
    """

    root: str
    node: str
    h: float
    node_before: float
    node_after: float
    root_before: float
    root_after: float
    grad: float
    fmt: str = ".4g"

    @property
    def delta(self) -> float:
        """Δroot: how much the root actually moved."""
        return self.root_after - self.root_before

    @property
    def predicted(self) -> float:
        """grad · h: the first-order prediction of Δroot."""
        return self.grad * self.h

    def __str__(self) -> str:
        n = lambda x: _number_text(x, self.fmt)  # noqa: E731  (never −0)
        return (
            f"{self.node}: {n(self.node_before)} → {n(self.node_after)} (h = {n(self.h)})\n"
            f"{self.root}: {n(self.root_before)} → {n(self.root_after)} (Δ{self.root} = {n(self.delta)})\n"
            f"∂{self.root}/∂{self.node} · h = {n(self.grad)} × {n(self.h)} = {n(self.predicted)}"
        )

    def _repr_html_(self) -> str:
        return "<pre>" + html_text(str(self)) + "</pre>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _check_h(h: object) -> float:
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not math.isfinite(float(h)):
        raise ValueError(f"nudge: h must be a finite real number; got {h!r:.60}")
    return float(h)


def _index(chain: Chain, node: object, caller: str) -> int:
    if not isinstance(node, Value):
        raise TypeError(f"{caller}: the node to nudge must be a Value; got {type(node).__name__} {node!r:.60}")
    i = chain.index(node)
    if i is None:
        raise ValueError(f"{caller}: root does not depend on {node!r:.80}; it is not in root's graph")
    return i


class _Nudger:
    """One graph, nudged again and again (the slider) without walking it each time."""

    def __init__(self, root: Value, node: Value, fmt: str, caller: str, names: object = None) -> None:
        try:
            format(1.5, fmt)
        except (TypeError, ValueError):
            raise ValueError(f"{caller}: fmt must be a float format spec such as '.4g'; got {fmt!r}") from None
        self.chain = walk(root, caller)
        self.i = _index(self.chain, node, caller)
        self.fmt = fmt
        namer = _Namer(self.chain, fmt, given_names(names, caller))
        self.root_name, self.node_name = namer(0).text, namer(self.i).text
        # the graph recomputed from its leaves as they are now, and its gradients there
        self.before = self.chain.forward(self.chain.stored_data())
        self.grads = self.chain.gradients(self.before)

    def at(self, h: float) -> tuple[Nudge, list[float]]:
        """The Nudge for ``h`` and every node's value after it."""
        after = self.chain.forward(self.before, held={self.i: self.before[self.i] + h})
        result = Nudge(
            root=self.root_name,
            node=self.node_name,
            h=h,
            node_before=self.before[self.i],
            node_after=after[self.i],
            root_before=self.before[0],
            root_after=after[0],
            grad=self.grads[self.i],
            fmt=self.fmt,
        )
        return result, after


def nudge(root: Value, node: Value, h: float, fmt: str = ".4g", names: object = None) -> Nudge:
    """Change ``node`` by ``h``, recompute ``root``, and compare Δroot with ∂root/∂node · h.

    Args:
        root: the output (a price, a loss).
        node: a node of root's graph, usually a leaf. An intermediate node is held at its
            value + h, whatever its operands say.
        h: the change, a finite number.
        fmt: format spec for the printed numbers.
        names: names for unlabelled nodes, as for :func:`viz.explain` (a model, or pairs).

    Returns:
        a :class:`Nudge`, with ``delta`` (Δroot) and ``predicted`` (grad · h). Both values of
        the root are recomputed from the leaves as they are now; the graph is not changed.
    """
    return _Nudger(root, node, fmt, "nudge", names).at(_check_h(h))[0]


def nudge_slider(
    root: Value,
    node: Value,
    span: float | None = None,
    steps: int = 100,
    fmt: str = ".4g",
    names: object = None,
    **draw_options: Any,
) -> Any:
    """A Jupyter widget: a slider over ``node``'s value, the two numbers of :func:`nudge`, and
    the graph drawn by :func:`viz.draw_dot` at the nudged values, all redrawn as it moves.

    Args:
        root: the output.
        node: the node the slider moves (usually a leaf).
        span: the slider runs over value ± span (default: max(|value|, 1)).
        steps: slider steps on each side of the value.
        fmt: format spec for the numbers.
        names: names for unlabelled nodes, as for :func:`viz.explain`.
        draw_options: passed to draw_dot (default style="lecture").

    Returns:
        an ``ipywidgets.VBox`` with attributes ``slider``, ``readout`` (its value in ``fmt``), ``numbers`` (HTML), ``graph`` (HTML
        holding the SVG) and ``result`` (the latest :class:`Nudge`). To draw, the graph's nodes
        get the nudged values and their gradients there for the moment draw_dot reads them; they
        are restored right after, also when drawing fails.

    Needs ipywidgets (``pip install gradtrace[notebook]``).
    """
    try:
        import ipywidgets
    except ImportError:
        raise ImportError("nudge_slider needs ipywidgets: pip install 'gradtrace[notebook]' (or ipywidgets)") from None
    from .draw import draw_dot

    nudger = _Nudger(root, node, fmt, "nudge_slider", names)
    start = nudger.before[nudger.i]
    if span is None:
        span = max(abs(start), 1.0)
    if isinstance(span, bool) or not isinstance(span, numbers.Real) or not (math.isfinite(span) and span > 0):
        raise ValueError(f"nudge_slider: span must be a finite number > 0; got {span!r:.60}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"nudge_slider: steps must be an int ≥ 1; got {steps!r:.60}")
    options = {"style": "lecture", **draw_options}
    draw_dot(root, **options)  # bad draw options fail here, before any widget exists

    slider = ipywidgets.FloatSlider(
        value=start, min=start - span, max=start + span, step=span / steps,
        description=nudger.node_name, continuous_update=False, readout=False,
        layout=ipywidgets.Layout(width="32em"), style={"description_width": "initial"},
    )
    # the slider's own readout is formatted by d3 in the browser (".4g" shows 100 as 100.0); this one uses
    # Python's format, as the numbers below it do
    readout = ipywidgets.Label(value=format(start, fmt))
    numbers_box = ipywidgets.HTML()
    graph_box = ipywidgets.HTML()
    box = ipywidgets.VBox([ipywidgets.HBox([slider, readout]), numbers_box, graph_box])

    def show(change: object = None) -> None:
        readout.value = format(slider.value, fmt)
        result, values = nudger.at(slider.value - start)
        grads = nudger.chain.gradients(values)
        numbers_box.value = result._repr_html_()
        graph_box.value = _drawn_at(nudger.chain, values, grads, lambda: draw_dot(root, **options).svg())
        box.result = result

    slider.observe(show, names="value")
    box.slider, box.readout, box.numbers, box.graph = slider, readout, numbers_box, graph_box
    show()
    return box


def _drawn_at(chain: Chain, values: list[float], grads: list[float], draw: Any) -> str:
    """draw() with every node showing the given value and gradient; the graph restored after."""
    saved = [(node.data, node.grad) for node in chain.nodes]
    try:
        for node, value, grad in zip(chain.nodes, values, grads):
            node.data, node.grad = value, grad
        return draw()
    finally:
        for node, (value, grad) in zip(chain.nodes, saved):
            node.data, node.grad = value, grad
