"""draw_network: an MLP, a Layer or a Neuron drawn as the lecture notes draw networks.

Inputs and neurons are circles in columns, one straight edge per weight with the weight
written on it, and each neuron's bias beside it. Given a sample ``x``, each circle shows the
value the model computes there; after ``backward()``, each weight's label shows its gradient
(in red, below the weight) and each neuron shows its delta δ = ∂loss/∂z, the gradient of its
pre-activation z = Σ wᵢaᵢ + b. Since ∂z/∂b = 1, δ is the bias's gradient, which is where it is
read from (for a loss summed over several samples it is the sum of their deltas).

Colour and width encode sign and size: an edge is blue for a positive weight and orange for a
negative one, as wide as |w| is large among the drawing's weights; a neuron is tinted the same
way by its delta.

Names follow ``style``: "lecture" writes the notes' notation (inputs a₁⁽¹⁾, a₂⁽¹⁾; the neurons of
the first layer a₁⁽²⁾, …; the weight from aᵢ⁽ˡ⁾ to zⱼ⁽ˡ⁺¹⁾ is wⱼᵢ⁽ˡ⁾, counted from 1); "python"
writes the places in the model, counted from 0 (x[0]; a[0][1] is ``model.layers[0].neurons[1]``;
w[0][1][2] is its ``w[2]``), the names :func:`viz.draw_dot` gives the parameters.

The drawing reads the model through nn's public attributes (``layers``, ``neurons``, ``w``,
``b``, ``activation``) and calls its neurons; it never changes a parameter or a gradient.

>>> import random
>>> import nn
>>> model = nn.MLP(2, [2, 1], activation="tanh", rng=random.Random(0))
>>> graph = draw_network(model, x=[0.5, -1.0])
>>> graph.source.count(" -> ")  # one edge per weight
6
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import graphviz

from autograd import Value

from ._safe import dot_attribute
from .draw import FONT, GRAD_RED, _html, _number_text, _Numbers, _text
from .fonts import Drawing
from .render import DEFAULT_RENDERER, Graph, check_renderer

__all__ = ["NETWORK_STYLES", "draw_network"]

NETWORK_STYLES = ("lecture", "python")
POSITIVE = "#1f6fd1"  # blue: a positive weight or delta
NEGATIVE = "#e8710a"  # orange: a negative one (blue and orange stay apart for colour-blind readers)
ZERO = "#9e9e9e"
CIRCLE = 0.95  # inches: every circle's diameter
ROW = 1.6  # inches between neighbouring circles of a column
COLUMN = 3.3  # inches between columns
LABELLED_EDGES = 20  # a layer with more weights than this draws them as colour and width only (tooltips keep the numbers)
WEIGHT_FONT = 10.0  # points
# where along its edge (0: the source, 1: the target) a weight's label may go, best first
_PLACES = sorted((k / 40 for k in range(8, 35)), key=lambda t: abs(t - 0.68))
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


@dataclass(frozen=True)
class _Net:
    """The model as columns: ``layers[k][j]`` is neuron j of layer k (duck-typed nn modules)."""

    nin: int
    layers: list[list]  # each neuron has .w (list of Values), .b (Value), .activation (str)
    activations: list[str]


def _structure(model: object) -> _Net:
    """Read an MLP (``.layers``), a Layer (``.neurons``) or a Neuron (``.w`` and ``.b``)."""
    accepted = "an nn.MLP, nn.Layer or nn.Neuron (anything with .layers, .neurons, or .w and .b)"
    if hasattr(model, "layers"):
        layers = [list(getattr(layer, "neurons", ())) for layer in model.layers]  # type: ignore[attr-defined]
    elif hasattr(model, "neurons"):
        layers = [list(model.neurons)]  # type: ignore[attr-defined]
    elif hasattr(model, "w") and hasattr(model, "b"):
        layers = [[model]]
    else:
        raise TypeError(f"draw_network draws {accepted}; got {type(model).__name__} {model!r:.60}")
    if not layers or any(not layer for layer in layers):
        raise ValueError(f"draw_network: every layer of the model needs at least one neuron; got layer sizes {[len(x) for x in layers]}")
    for k, layer in enumerate(layers):
        for j, neuron in enumerate(layer):
            w, b = getattr(neuron, "w", None), getattr(neuron, "b", None)
            if not isinstance(b, Value) or not isinstance(w, Sequence) or not all(isinstance(v, Value) for v in w):
                raise TypeError(f"draw_network: neuron {j} of layer {k} must have .w (a list of Values) and .b (a Value); it is {type(neuron).__name__}")
    nin = len(layers[0][0].w)
    width = nin
    for k, layer in enumerate(layers):
        for j, neuron in enumerate(layer):
            if len(neuron.w) != width:
                raise ValueError(
                    f"draw_network: neuron {j} of layer {k} has {len(neuron.w)} weights but the layer before it "
                    f"has {width} outputs; draw_network draws feed-forward stacks of fully connected layers"
                )
        width = len(layer)
    activations = [str(getattr(layer[0], "activation", "")) for layer in layers]
    return _Net(nin, layers, activations)


def _forward(net: _Net, x: object) -> tuple[list[float], list[list[float]], list[list[float]]]:
    """The inputs, and per layer each neuron's z and output, computed by the model's own neurons."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") or not hasattr(x, "__iter__"):
        raise TypeError(f"draw_network: x must be one sample, a sequence of {net.nin} numbers; got {type(x).__name__} {x!r:.60}")
    row = list(x)  # type: ignore[call-overload]
    if len(row) != net.nin:
        raise ValueError(f"draw_network: x must hold the model's {net.nin} inputs (one sample); got {len(row)}: {row!r:.60}")
    inputs = []
    for item in row:
        item = item.data if isinstance(item, Value) else item
        if isinstance(item, bool) or not isinstance(item, numbers.Real):
            raise TypeError(f"draw_network: x must hold numbers (or Values); got {type(item).__name__} {item!r:.40}")
        inputs.append(float(item))
    zs, outs = [], []
    values = inputs
    for layer in net.layers:
        layer_z, layer_out = [], []
        for neuron in layer:
            out = neuron(values)  # the model's own forward pass, on plain numbers: no parameter's grad changes
            z = out.operands[0] if out.op and out.op != "dot" else out
            layer_z.append(float(z.data))
            layer_out.append(float(out.data))
        zs.append(layer_z)
        outs.append(layer_out)
        values = layer_out
    return inputs, zs, outs


class _Names:
    """What the drawing calls inputs, neurons, weights, biases and deltas, by style."""

    def __init__(self, style: str) -> None:
        self.lecture = style == "lecture"

    def _lecture(self, letter: str, layer: int, *units: int) -> str:
        joiner = "" if all(u < 10 for u in units) else ","
        return letter + joiner.join(str(u).translate(_SUB) for u in units) + f"({layer})".translate(_SUP)

    def input(self, i: int) -> str:
        return self._lecture("a", 1, i + 1) if self.lecture else f"x[{i}]"

    def neuron(self, k: int, j: int) -> str:
        return self._lecture("a", k + 2, j + 1) if self.lecture else f"a[{k}][{j}]"

    def weight(self, k: int, j: int, i: int) -> str:
        return self._lecture("w", k + 1, j + 1, i + 1) if self.lecture else f"w[{k}][{j}][{i}]"

    def bias(self, k: int, j: int) -> str:
        return self._lecture("b", k + 2, j + 1) if self.lecture else f"b[{k}][{j}]"

    def delta(self, k: int, j: int) -> str:
        return self._lecture("δ", k + 2, j + 1) if self.lecture else f"δ[{k}][{j}]"

    def z(self, k: int, j: int) -> str:
        return self._lecture("z", k + 2, j + 1) if self.lecture else f"z[{k}][{j}]"

    def column(self, k: int, activation: str, last: bool) -> str:
        if k < 0:
            return "inputs"
        kind = "output" if last else "hidden"
        return f"layer ({k + 2}), {kind}: {activation}" if self.lecture else f"layers[{k}] · {activation}"


def _signed(x: float, largest: float) -> tuple[str, float]:
    """(colour, share of the largest |x|) for a signed number."""
    if not math.isfinite(x):
        return NEGATIVE, 1.0
    colour = POSITIVE if x > 0 else NEGATIVE if x < 0 else ZERO
    return colour, (abs(x) / largest if largest > 0 else 0.0)


def _tint(colour: str, share: float) -> str:
    """``colour`` mixed with white: share 0 is white, 1 is 55 % colour."""
    r, g, b = (int(colour[k : k + 2], 16) for k in (1, 3, 5))
    mix = 0.55 * min(max(share, 0.0), 1.0)
    return "#" + "".join(f"{round(255 + (c - 255) * mix):02x}" for c in (r, g, b))


def _largest(xs: list[float]) -> float:
    return max((abs(x) for x in xs if math.isfinite(x)), default=0.0)


@dataclass
class NetworkView:
    """What each element of a network drawing shows; draw_network fills it from the model,
    the network player once per frame. Texts are plain text ("" shows nothing)."""

    values: list[list[str]]  # per column (inputs first), per circle: the value shown in it
    deltas: list[list[str]]  # per layer, per neuron: the delta's text ("" for none)
    weight_grads: list[list[list[str]]]  # per layer, neuron, input: the gradient's text
    lit_neurons: frozenset[tuple[int, int]] = frozenset()  # (column, row) drawn highlighted
    lit_edges: frozenset[tuple[int, int, int]] = frozenset()  # (layer, neuron, input)
    caption: tuple[str, ...] = ()
    caption_width: float = 0.0
    # a player's frame: every text has its place in every frame (one layout), numbers it
    # has just computed (slots, in the order of slot_order) are bold, and the circles are not tinted
    player: bool = False
    grad_chars: int = 0  # the widest weight gradient of any frame, in characters
    template: bool = False  # the page's drawing: texts are placeholders, nothing lit
    fresh: frozenset[tuple[str, int, int, int]] = frozenset()  # ("value", c, r, 0), ("delta", k, j, 0), ("grad", k, j, i)


def draw_network(
    model: object,
    x: Sequence[float] | None = None,
    style: str = "lecture",
    *,
    show_grad: bool | None = None,
    fmt: str = ".4g",
    renderer: str = DEFAULT_RENDERER,
    size: tuple[float, float] | None = None,
) -> Graph:
    """Draw an ``nn.MLP``, ``nn.Layer`` or ``nn.Neuron`` as a network: circles in columns, a
    weight on each edge, each bias beside its neuron.

    Args:
        model: the model to draw; it is only read.
        x: one sample; each circle then shows the value the model computes for it (the
            model's own neurons compute them).
        style: "lecture" (the notes' names: aⱼ⁽ˡ⁾, wⱼᵢ⁽ˡ⁾, δⱼ⁽ˡ⁾, counted from 1, inputs as
            layer 1) or "python" (places in the model, from 0: x[i], a[k][j], w[k][j][i]).
        show_grad: show each weight's gradient and each neuron's delta (∂loss/∂z, its bias's
            gradient); None (the default) shows them when any parameter's gradient is not 0,
            that is after ``backward()``.
        fmt: format spec of the numbers.
        renderer: as in :func:`viz.draw_dot`.
        size: ``(width, height)`` in inches to scale a larger drawing down to.

    Returns:
        a :class:`viz.Graph`, as ``draw_dot`` returns: ``.source``, ``.svg()``, ``.save(path)``;
        it shows itself in Jupyter.
    """
    if style not in NETWORK_STYLES:
        raise ValueError(f"draw_network: style must be one of {NETWORK_STYLES}; got {style!r}")
    if show_grad not in (None, True, False):
        raise ValueError(f"draw_network: show_grad must be True, False or None (after backward); got {show_grad!r}")
    check_renderer(renderer)
    number = _Numbers(fmt)
    from .draw import _check_size

    fit = _check_size(size)
    net = _structure(model)
    drawer = _NetworkDrawer(net, style, number)
    if x is not None:
        inputs, _, outs = _forward(net, x)
        values = [[drawer.show(v) for v in inputs]] + [[drawer.show(v) for v in layer] for layer in outs]
    else:
        values = [[""] * net.nin] + [[""] * len(layer) for layer in net.layers]
    if show_grad is None:
        show_grad = any(p.grad != 0.0 for layer in net.layers for n in layer for p in (*n.w, n.b))
    if show_grad:
        deltas = [[drawer.show(n.b.grad) for n in layer] for layer in net.layers]
        grads = [[[drawer.show(w.grad) for w in n.w] for n in layer] for layer in net.layers]
    else:
        deltas = [[""] * len(layer) for layer in net.layers]
        grads = [[[""] * net_in for _ in layer] for layer, net_in in zip(net.layers, drawer.widths)]
    view = NetworkView(values, deltas, grads)
    return Drawing(drawer.source(view, fit), renderer)


class _NetworkDrawer:
    """Lays the network out once (positions fixed in inches, Graphviz's neato keeps them) and
    writes its DOT for a view; the player writes one view per frame on the same layout."""

    def __init__(self, net: _Net, style: str, number: _Numbers) -> None:
        self.net, self.names, self.fmt = net, _Names(style), number.fmt
        self.widths = [net.nin] + [len(layer) for layer in net.layers][:-1]  # inputs of each layer
        self.columns = [net.nin] + [len(layer) for layer in net.layers]
        tallest = max(self.columns)
        self.y = [[((n - 1) / 2 - r) * ROW for r in range(n)] for n in self.columns]
        self.x = [c * COLUMN for c in range(len(self.columns))]
        self.top = (tallest - 1) / 2 * ROW
        weights = [w.data for layer in net.layers for n in layer for w in n.w]
        self.largest_weight = _largest(weights)

    def show(self, x: float) -> str:
        """A number as text: never −0 (a zero is 0 whatever its sign)."""
        return _number_text(x, self.fmt)

    def labelled(self, k: int) -> bool:
        return self.widths[k] * len(self.net.layers[k]) <= LABELLED_EDGES

    def source(self, view: NetworkView, size: tuple[float, float] | None = None) -> str:
        graph_attr = {
            "layout": "neato", "splines": "false", "outputorder": "edgesfirst", "fontname": FONT,
            "bgcolor": "white", "pad": "0.2",
        }
        if size is not None:
            graph_attr["size"] = f"{size[0]:g},{size[1]:g}"
        dot = graphviz.Digraph(
            "network", graph_attr=graph_attr, node_attr={"fontname": FONT, "fontsize": "12"},
            edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.6"},
        )
        self._columns(dot)
        self._circles(dot, view)
        self._weights(dot, view)
        if view.caption:
            _caption(dot, view)
        else:
            dot.attr(label=_html(_legend(view)), labelloc="b", labeljust="l", fontsize="10")
        return dot.source

    def _columns(self, dot: graphviz.Digraph) -> None:
        last = len(self.net.layers) - 1
        for c in range(len(self.columns)):
            title = self.names.column(c - 1, self.net.activations[c - 1] if c else "", c - 1 == last)
            dot.node(f"head{c}", _html(f'<font color="#555555">{_text(title)}</font>'), shape="plaintext",
                     pos=f"{self.x[c]:.3f},{self.top + 0.95:.3f}!", **{"class": "head"})

    def _circles(self, dot: graphviz.Digraph, view: NetworkView) -> None:
        net, names = self.net, self.names
        deltas = [float(n.b.grad) for layer in net.layers for n in layer]
        largest_delta = _largest(deltas)
        for c, count in enumerate(self.columns):
            for r in range(count):
                name = names.input(r) if c == 0 else names.neuron(c - 1, r)
                value = view.values[c][r]
                delta = view.deltas[c - 1][r] if c else ""
                lit = (c, r) in view.lit_neurons
                fill = "#ffd54f" if lit else "white"
                if delta and not lit and not view.player:
                    colour, share = _signed(float(net.layers[c - 1][r].b.grad), largest_delta)
                    fill = _tint(colour, share)
                rows = f'<tr><td><font point-size="11"><i>{_text(name)}</i></font></td></tr>'
                rows += f'<tr><td><b>{_text(value) or "&#160;"}</b></td></tr>'
                tooltip = f"{name} = {value}" if value and not view.template else name
                ids = {"id": f"n{c}_{r}"} if view.player else {}
                dot.node(
                    f"n{c}_{r}", _html(f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{rows}</table>'),
                    shape="circle", fixedsize="true", width=f"{CIRCLE}", style="filled", fillcolor=fill,
                    penwidth="2.5" if lit else "1.2", **({"color": "#d62728"} if lit else {}), pos=f"{self.x[c]:.3f},{self.y[c][r]:.3f}!",
                    tooltip=dot_attribute(tooltip), **{"class": "neuron current" if lit else ("neuron" if c else "input")},
                    **ids,
                )
                if c == 0:
                    continue
                neuron = net.layers[c - 1][r]
                bias = f"{names.bias(c - 1, r)} = {self.show(neuron.b.data)}"
                dot.node(f"b{c}_{r}", _html(f'<font color="#555555" point-size="10">{_text(bias)}</font>'),
                         shape="plaintext", margin="0", pos=f"{self.x[c] + 0.05:.3f},{self.y[c][r] + CIRCLE / 2 + 0.14:.3f}!",
                         tooltip=dot_attribute(f"the bias of {name}"), **{"class": "bias"})
                if delta or view.player:
                    # a player's page writes the whole text into the template's placeholder, centred
                    text = delta if view.template else (f"{names.delta(c - 1, r)} = {delta}" if delta else "")
                    shown = _text(text) or "&#160;"
                    if ("delta", c - 1, r, 0) in view.fresh:
                        shown = f"<b>{shown}</b>"
                    label = f'<font color="{GRAD_RED}" point-size="11">{shown}</font>'
                    dot.node(f"d{c}_{r}", _html(label), shape="plaintext", margin="0",
                             pos=f"{self.x[c]:.3f},{self.y[c][r] - CIRCLE / 2 - 0.16:.3f}!",
                             tooltip=dot_attribute(f"{names.delta(c - 1, r)} = ∂loss/∂{names.z(c - 1, r)}"), **{"class": "delta"})

    def _weights(self, dot: graphviz.Digraph, view: NetworkView) -> None:
        placed = self._taken(view)
        for k, layer in enumerate(self.net.layers):
            labelled = self.labelled(k)
            scale = 3.2 if labelled else 1.6  # many unlabelled edges: thinner, so the layer stays legible
            for j, neuron in enumerate(layer):
                for i, w in enumerate(neuron.w):
                    colour, share = _signed(w.data, self.largest_weight)
                    lit = (k, j, i) in view.lit_edges
                    name = self.names.weight(k, j, i)
                    grad = view.weight_grads[k][j][i]
                    tooltip = f"{name} = {self.show(w.data)}" + (f", ∂loss/∂{name} = {grad}" if grad else "")
                    if view.template:
                        tooltip = f"{name} = {self.show(w.data)}"
                    dot.edge(
                        f"n{k}_{i}", f"n{k + 1}_{j}", color=colour if not lit else "#d62728",
                        penwidth=f"{0.6 + scale * share + (1.5 if lit else 0):.2f}", tooltip=dot_attribute(tooltip),
                        **{"class": "weight current" if lit else "weight"}, **({"id": f"e{k}_{j}_{i}"} if view.player else {}),
                    )
                    if labelled:
                        self._weight_label(dot, k, j, i, w.data, grad, tooltip, placed, view)

    def _taken(self, view: NetworkView) -> list[tuple[float, float, float, float]]:
        """Boxes (inches) of the circles, biases and deltas: weight labels keep off them."""
        boxes = []
        half = CIRCLE / 2 + 0.05
        for c, count in enumerate(self.columns):
            for r in range(count):
                x, y = self.x[c], self.y[c][r]
                boxes.append((x - half, y - half, x + half, y + half))
                if c == 0:
                    continue
                bias = f"{self.names.bias(c - 1, r)} = {self.show(self.net.layers[c - 1][r].b.data)}"
                boxes.append(_text_box(x + 0.05, y + CIRCLE / 2 + 0.14, bias, 10))
                if view.deltas[c - 1][r] or view.player:
                    delta = f"{self.names.delta(c - 1, r)} = {view.deltas[c - 1][r] if not view.player else 'x' * 9}"
                    boxes.append(_text_box(x, y - CIRCLE / 2 - 0.16, delta, 11))
        return boxes

    def _weight_label(self, dot: graphviz.Digraph, k: int, j: int, i: int, weight: float, grad: str,
                      tooltip: str, placed: list[tuple[float, float, float, float]], view: NetworkView) -> None:
        """The weight (and its gradient below it, in red) on its edge, where no other label is."""
        value = self.show(weight)
        rows_of_grad = bool(grad) or view.player
        chars = max(len(value), view.grad_chars if view.player else len(grad))
        width = (chars * 0.6 * WEIGHT_FONT + 6) / 72
        height = (2 if rows_of_grad else 1) * (WEIGHT_FONT + 6) / 72
        x0, y0 = self.x[k], self.y[k][i]
        x1, y1 = self.x[k + 1], self.y[k + 1][j]
        best, best_overlap = None, math.inf
        for t in _PLACES:
            cx, cy = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            box = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
            overlap = sum(_overlap(box, other) for other in placed)
            if overlap < best_overlap:
                best, best_overlap = (cx, cy, box), overlap
            if overlap == 0:
                break
        assert best is not None  # noqa: S101 - the loop always sets it
        cx, cy, box = best
        placed.append(box)
        rows = f'<tr><td sides="B" border="{1 if rows_of_grad else 0}" cellpadding="1"><font point-size="{WEIGHT_FONT:g}">{_text(value)}</font></td></tr>'
        if rows_of_grad:
            shown = _text(grad) or "&#160;"
            if ("grad", k, j, i) in view.fresh:
                shown = f"<b>{shown}</b>"
            rows += f'<tr><td cellpadding="1"><font point-size="{WEIGHT_FONT:g}" color="{GRAD_RED}">{shown}</font></td></tr>'
        table = f'<table border="0" cellborder="0" cellspacing="0" bgcolor="white">{rows}</table>'
        dot.node(f"w{k}_{j}_{i}", _html(table), shape="plain", pos=f"{cx:.3f},{cy:.3f}!", tooltip=dot_attribute(tooltip),
                 **{"class": "weight"})


def _text_box(x: float, y: float, text: str, points: float) -> tuple[float, float, float, float]:
    """A bound on the box (inches) that ``text`` centred at (x, y) takes."""
    half_width = (len(text) * 0.6 * points + 4) / 144
    half_height = (points + 4) / 144
    return (x - half_width, y - half_height, x + half_width, y + half_height)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _legend(view: NetworkView) -> str:
    grads = any(d for layer in view.deltas for d in layer)
    line = (f'edges: weights, <font color="{POSITIVE}">blue &gt; 0</font>, <font color="{NEGATIVE}">orange &lt; 0</font>, '
            "wider for larger |w|")
    rows = [f'<tr><td align="left">{line}</td></tr>']
    if grads:
        rows.append(f'<tr><td align="left">under each weight, in <font color="{GRAD_RED}">red</font>: ∂loss/∂w; '
                    "under each neuron: δ = ∂loss/∂z (its bias's gradient), the neuron tinted by its sign</td></tr>")
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="2">{"".join(rows)}</table>'


def _caption(dot: graphviz.Digraph, view: NetworkView) -> None:
    rows = "".join(
        f'<tr><td align="left" width="{view.caption_width:.0f}" height="17">{_text(line) or "&#160;"}</td></tr>'
        for line in view.caption
    )
    dot.attr(label=_html(f'<table border="0" cellborder="0" cellspacing="0" cellpadding="0">{rows}</table>'),
             labelloc="b", labeljust="l", fontsize="12")


# --- the network player: backprop_player(..., view="network") -----------------------------------

_SYMBOL = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LReLU", "elu": "ELU", "step": "step"}


def _product(a: str, b: str) -> str:
    """"a×b", a negative factor after the first in parentheses."""
    return f"{a}×({b})" if b.startswith("-") else f"{a}×{b}"


def _sum(terms: list[str]) -> str:
    """Terms joined by +, a negative one written as − its size."""
    out = terms[0] if terms else ""
    for term in terms[1:]:
        out += f" − {term[1:]}" if term.startswith("-") else f" + {term}"
    return out
MAX_LINES = 4  # a caption lists this many neurons or weights, then "… and k more"


@dataclass(frozen=True)
class NetworkFrame:
    """One frame of the network player: its phase, caption and what the drawing shows."""

    phase: str
    caption: tuple[str, ...]
    view: NetworkView


class NetworkReplay:
    """The forward and backward pass of one sample through ``model``, read from the graph of
    ``root`` (the loss), layer by layer: the network player's frames.

    Every number comes from the graph: values are its nodes' ``data``, gradients come from a
    reverse pass with the op table's rules in ``backward()``'s order (nothing is written to the
    graph), so the last frame shows the gradients ``backward()`` gives.
    """

    def __init__(self, root: Value, model: object, number: _Numbers, style: str, caller: str = "backprop_player") -> None:
        from ._chain import walk as walk_chain

        self.net = _structure(model)
        self.drawer = _NetworkDrawer(self.net, style, number)
        self.names = self.drawer.names
        self.show = self.drawer.show
        self.root_name = root.label or "loss"
        chain = walk_chain(root, caller)
        self.data = chain.stored_data()
        self.grads = chain.gradients(self.data)
        self.chain = chain
        users: list[list[tuple[int, int]]] = [[] for _ in chain.nodes]
        for i, row in enumerate(chain.slots):
            for position, j in enumerate(row):
                if j is not None:
                    users[j].append((i, position))
        self.z: list[list[int]] = []
        for k, layer in enumerate(self.net.layers):
            row = []
            for j, neuron in enumerate(layer):
                w0 = chain.index(neuron.w[0])
                found = [i for i, position in users[w0] if position == 0 and chain.nodes[i].op == "dot"] if w0 is not None else []
                if len(found) != 1:
                    raise ValueError(
                        f"{caller}(view='network'): the graph must hold one forward pass of the model given as names=, "
                        f"and neuron {j} of layer {k} is used {len(found)} times in it; play the loss of one sample "
                        "(model(x) once), or use view='graph'"
                    )
                row.append(found[0])
            self.z.append(row)
        first = chain.nodes[self.z[0][0]]
        self.inputs = [float(x.data if isinstance(x, Value) else x) for x in first.operands[self.net.nin : 2 * self.net.nin]]
        self.a: list[list[int]] = []
        for k, layer in enumerate(self.net.layers):
            row = []
            for j in range(len(layer)):
                row.append(self._activation_node(k, j, users, caller))
            self.a.append(row)

    def _activation_node(self, k: int, j: int, users: list[list[tuple[int, int]]], caller: str) -> int:
        """The node holding neuron (k, j)'s output: the next layer's input, or the activation of its z."""
        z = self.z[k][j]
        if k + 1 < len(self.net.layers):
            slot = self.chain.slots[self.z[k + 1][0]][len(self.net.layers[k]) + j]  # operands: w…, a…, b
            if slot is not None:
                return slot
        else:
            activation = self.net.activations[k]
            if activation == "linear":
                return z
            found = [i for i, position in users[z] if position == 0 and self.chain.nodes[i].op == activation]
            if len(found) == 1:
                return found[0]
        raise ValueError(f"{caller}(view='network'): the output of neuron {j} of layer {k} is not in the graph as the model computes it")

    def frames(self) -> list[NetworkFrame]:
        net, names, show, data, grads = self.net, self.names, self.show, self.data, self.grads
        columns = self.drawer.columns
        values = [[""] * n for n in columns]
        deltas = [[""] * len(layer) for layer in net.layers]
        weight_grads = [[[""] * len(n.w) for n in layer] for layer in net.layers]
        out: list[NetworkFrame] = []

        def frame(phase: str, caption: list[str], lit_neurons: set, lit_edges: set, fresh: set) -> None:
            view = NetworkView([list(c) for c in values], [list(d) for d in deltas], [[list(g) for g in n] for n in weight_grads],
                               frozenset(lit_neurons), frozenset(lit_edges), tuple(caption), player=True, fresh=frozenset(fresh))
            out.append(NetworkFrame(phase, tuple(caption), view))

        values[0] = [show(x) for x in self.inputs]
        given = ", ".join(f"{names.input(i)} = {show(x)}" for i, x in enumerate(self.inputs))
        frame("forward", [_cut(f"Forward pass: the inputs {given}.")], {(0, i) for i in range(net.nin)}, set(),
              {("value", 0, i, 0) for i in range(net.nin)})
        for k, layer in enumerate(net.layers):
            lines = []
            for j, neuron in enumerate(layer):
                values[k + 1][j] = show(data[self.a[k][j]])
                if j < MAX_LINES:
                    lines.append(self._forward_line(k, j, neuron))
            if len(layer) > MAX_LINES:
                lines.append(f"… and {len(layer) - MAX_LINES} more neurons")
            frame("forward", [f"Forward, layer ({k + 2}): each neuron's z = Σ w·a + b, then its activation" if names.lecture
                              else f"Forward, layers[{k}]: each neuron's z = Σ w·a + b, then its activation", *lines],
                  {(k + 1, j) for j in range(len(layer))}, {(k, j, i) for j, n in enumerate(layer) for i in range(len(n.w))},
                  {("value", k + 1, j, 0) for j in range(len(layer))})
        last = len(net.layers) - 1
        for k in range(last, -1, -1):
            layer = net.layers[k]
            lines = []
            for j in range(len(layer)):
                deltas[k][j] = show(grads[self.z[k][j]])
                if j < MAX_LINES:
                    lines.append(self._delta_line(k, j))
            if len(layer) > MAX_LINES:
                lines.append(f"… and {len(layer) - MAX_LINES} more neurons")
            if k == last:
                head = (f"Backward pass from {self.root_name} = {show(data[0])}: each output's δ = ∂{self.root_name}/∂z "
                        f"= ∂{self.root_name}/∂a × φ'(z)")
                used: set = set()
            else:
                head = "Backward: each δ gathers the deltas after it through the weights it feeds: δ = (Σ δ·w) × φ'(z)"
                used = {(k + 1, m, j) for m, n in enumerate(net.layers[k + 1]) for j in range(len(n.w))}
            frame("backward", [_cut(head), *lines], {(k + 1, j) for j in range(len(layer))} | ({(k + 2, m) for m in range(len(net.layers[k + 1]))} if k < last else set()),
                  used, {("delta", k, j, 0) for j in range(len(layer))})
            lines = []
            count = 0
            for j, neuron in enumerate(layer):
                for i, w in enumerate(neuron.w):
                    weight_grads[k][j][i] = show(grads[self.chain.index(w)])  # type: ignore[index]
                    if count < MAX_LINES:
                        lines.append(self._weight_line(k, j, i, w))
                    count += 1
            if count > MAX_LINES:
                lines.append(f"… and {count - MAX_LINES} more weights (each bias's gradient is its neuron's δ)")
            frame("backward", [_cut(f"Backward: each weight's gradient ∂{self.root_name}/∂w = δ of the neuron it feeds × a of the one it comes from"), *lines],
                  {(k, i) for i in range(columns[k])} | {(k + 1, j) for j in range(len(layer))},
                  {(k, j, i) for j, n in enumerate(layer) for i in range(len(n.w))},
                  {("grad", k, j, i) for j, n in enumerate(layer) for i in range(len(n.w))})
        return out

    def _incoming(self, k: int) -> list[str]:
        """The names of layer k's inputs."""
        if k == 0:
            return [self.names.input(i) for i in range(self.net.nin)]
        return [self.names.neuron(k - 1, i) for i in range(len(self.net.layers[k - 1]))]

    def _incoming_values(self, k: int) -> list[float]:
        return self.inputs if k == 0 else [self.data[a] for a in self.a[k - 1]]

    def _forward_line(self, k: int, j: int, neuron: object) -> str:
        names, show = self.names, self.show
        z, a = names.z(k, j), names.neuron(k, j)
        weights = [w.data for w in neuron.w]  # type: ignore[attr-defined]
        inputs = self._incoming_values(k)
        bias = neuron.b.data  # type: ignore[attr-defined]
        if len(weights) <= 3:
            numbers = _sum([_product(show(w), show(x)) for w, x in zip(weights, inputs)] + [show(bias)])
        else:
            numbers = _sum([_product(show(w), show(x)) for w, x in zip(weights[:2], inputs[:2])]) + " + …"
        activation = self.net.activations[k]
        line = f"{z} = {numbers} = {show(self.data[self.z[k][j]])}"
        if activation != "linear":
            line += f";  {a} = {_SYMBOL.get(activation, activation)}({z}) = {show(self.data[self.a[k][j]])}"
        return _cut(line)

    def _phi(self, k: int, j: int) -> float:
        if self.net.activations[k] == "linear":
            return 1.0
        a = self.a[k][j]
        return float(self.chain.backward_at(a, 1.0, self.data)[0])

    def _delta_line(self, k: int, j: int) -> str:
        names, show, grads = self.names, self.show, self.grads
        delta, z = names.delta(k, j), names.z(k, j)
        prime = _SYMBOL.get(self.net.activations[k], self.net.activations[k]) + "'"
        phi = self._phi(k, j)
        phi_text = "1" if self.net.activations[k] == "linear" else f"{prime}({z})"
        result = show(grads[self.z[k][j]])
        if k == len(self.net.layers) - 1:
            a = names.neuron(k, j)
            return _cut(f"{delta} = ∂{self.root_name}/∂{a} × {phi_text} = {show(grads[self.a[k][j]])} × {show(phi)} = {result}")
        after = self.net.layers[k + 1]
        terms = [(names.delta(k + 1, m), names.weight(k + 1, m, j), grads[self.z[k + 1][m]], n.w[j].data) for m, n in enumerate(after)]
        shown_terms = terms[:2] if len(terms) > 3 else terms
        more = " + …" if len(terms) > 3 else ""
        symbols = " + ".join(f"{d}·{w}" for d, w, _, _ in shown_terms) + more
        numbers = _sum([_product(show(d), show(w)) for _, _, d, w in shown_terms]) + more
        return _cut(f"{delta} = ({symbols}) × {phi_text} = ({numbers}) × {show(phi)} = {result}")

    def _weight_line(self, k: int, j: int, i: int, w: Value) -> str:
        names, show = self.names, self.show
        x = self._incoming(k)[i]
        return _cut(f"∂{self.root_name}/∂{names.weight(k, j, i)} = {names.delta(k, j)} × {x} = "
                    f"{show(self.grads[self.z[k][j]])} × {show(self._incoming_values(k)[i])} = {show(self.grads[self.chain.index(w)])}")  # type: ignore[index]


def _cut(line: str, limit: int = 130) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
