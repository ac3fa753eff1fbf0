"""draw_dot: a Value's computation graph as DOT, in micrograd's look or the lectures' look.

Every piece of user text (labels) goes into Graphviz HTML-like labels through :func:`_text`,
which HTML-escapes it: quotes, backslashes, ``{ } | < >``, ``</td>`` and newlines can only ever
show as text. Node names are generated (``v0``, ``op0``, ``c0``...) in discovery order from the
root through each node's operands in operand order, so the same graph always gives the same DOT.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import graphviz

from autograd import OPS, Value

from ._chain import walk as walk_chain
from ._safe import dot_attribute, dot_label, dot_label_attribute, printable
from .fonts import Drawing, has_hangul, text_width
from .render import DEFAULT_RENDERER, Graph, check_renderer

__all__ = ["DEFAULT_MAX_NODES", "GRAD_COLORS", "draw_dot"]

DEFAULT_MAX_NODES = 500  # fits micrograd demo's 2-16-16-1 MLP on one sample (407 values)
STYLES = ("record", "lecture")
RANKDIRS = ("LR", "RL", "TB", "BT")
# Arimo has Helvetica's metrics, which the layout uses; the SVG names it with its
# metric-compatible fallbacks (viz.fonts), so text fits its boxes in any viewer.
FONT = "Arimo"
HIGHLIGHT = "#ffd54f"  # the player's current node
HIGHLIGHT_EDGE = "#1f6fd1"  # the player's edges whose local derivatives are multiplied
GRAD_RED = "#d62728"
CONSTANT_GREY = "#666666"

# color_by="grad": |grad| by decades, largest first: (lower bound, fill, text colour, legend text).
# Google's Turbo map sampled once per decade, hot for large gradients, cold for vanishing ones:
# dark red, orange, yellow, lime, green, teal, sky blue, blue, deep indigo. Neighbouring decades
# differ in hue, not only in lightness (CIELAB distance ≥ 23 between any two neighbours; a
# sequential map such as viridis manages 17 at 9 steps). One notation for every bound.
GRAD_COLORS: tuple[tuple[float, str, str, str], ...] = (
    (10.0, "#c42503", "white", "10¹ or more"),
    (1.0, "#f56918", "black", "10⁰ to 10¹"),
    (1e-1, "#fbb938", "black", "10⁻¹ to 10⁰"),
    (1e-2, "#c7ef34", "black", "10⁻² to 10⁻¹"),
    (1e-3, "#72fe5e", "black", "10⁻³ to 10⁻²"),
    (1e-4, "#1ae4b6", "black", "10⁻⁴ to 10⁻³"),
    (1e-5, "#36aaf9", "black", "10⁻⁵ to 10⁻⁴"),
    (1e-6, "#4662d7", "white", "10⁻⁶ to 10⁻⁵"),
    (0.0, "#30123b", "white", "below 10⁻⁶ (vanishing)"),
)
ZERO_GRAD = ("#d9d9d9", "black", "exactly 0")
NONFINITE_GRAD = ("#e377c2", "black", "nan or inf")

def _text(s: str) -> str:
    """User text → the text of an HTML-like label: shown literally, never markup (viz._safe)."""
    return dot_label(s)


def _html(markup: str) -> str:
    """Wrap our own markup as a DOT HTML string (the graphviz package leaves ``<...>`` unquoted)."""
    return f"<{markup}>"


def _grad_colors(grad: float) -> tuple[str, str]:
    """(fill, text colour) for a gradient on the log scale of GRAD_COLORS."""
    size = abs(grad)
    if not math.isfinite(size):
        return NONFINITE_GRAD[:2]
    if size == 0.0:
        return ZERO_GRAD[:2]
    for lower, fill, ink, _ in GRAD_COLORS:
        if size >= lower:
            return fill, ink
    raise AssertionError("unreachable: the last bin's lower bound is 0")  # pragma: no cover


@dataclass
class _Walk:
    """The part of the graph to draw, in discovery order (values[0] is the root)."""

    values: list[Value]
    index: dict[int, int]  # id(value) → its place in values: identity lookup only, never output
    cut: set[int] = field(default_factory=set)  # made by an op whose inputs lie beyond depth

    def operands(self, i: int) -> list[tuple[str, object]]:
        """The operands of values[i] in order: ("value", index) or ("number", the number)."""
        if i in self.cut:
            return []
        return [
            ("value", self.index[id(operand)]) if isinstance(operand, Value) else ("number", operand)
            for operand in self.values[i].operands
        ]


def _walk(root: Value, depth: int | None) -> _Walk:
    """Breadth-first from the root through operands in order; no recursion.

    The list of values doubles as the queue: discovery order is the drawing's order, so the
    same graph always gets the same names. This is all that runs before the max_nodes check.
    """
    values, index = [root], {id(root): 0}
    levels = [0]
    cut: set[int] = set()
    i = 0
    while i < len(values):
        value = values[i]
        if value.op:
            if depth is not None and levels[i] >= depth:
                cut.add(i)
            else:
                for operand in value.operands:
                    if isinstance(operand, Value) and id(operand) not in index:
                        index[id(operand)] = len(values)
                        values.append(operand)
                        levels.append(levels[i] + 1)
        i += 1
    return _Walk(values, index, cut)


def _op_text(value: Value) -> str:
    op = OPS.get(value.op)
    text = op.symbol if op is not None else value.op
    if value.params:
        text += "[" + ", ".join(str(p) for p in value.params) + "]"
    return _text(text)


class _Numbers:
    def __init__(self, fmt: str) -> None:
        try:
            format(1.5, fmt)
        except (ValueError, TypeError):
            raise ValueError(f"draw_dot: fmt must be a float format spec such as '.4g' or '.2f'; got {fmt!r}") from None
        self.fmt = fmt

    def __call__(self, x: object) -> str:
        try:
            return _text(_number_text(float(x), self.fmt))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _text(str(x))


def _check_arguments(
    root: object,
    style: str,
    rankdir: str,
    max_nodes: int | None,
    depth: int | None = None,
    color_by: str | None = None,
    caller: str = "draw_dot",
    does: str = "draws",
) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"{caller}() {does} a Value's graph; got {type(root).__name__} {root!r:.60}")
    if style not in STYLES:
        raise ValueError(f"{caller}: style must be one of {STYLES}; got {style!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"{caller}: rankdir must be one of {RANKDIRS}; got {rankdir!r}")
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1):
        raise ValueError(f"{caller}: max_nodes must be a positive int or None (no limit); got {max_nodes!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"{caller}: depth must be an int ≥ 0 (levels of ops before the root) or None; got {depth!r}")
    if color_by not in (None, "grad"):
        raise ValueError(f"{caller}: color_by must be None or 'grad'; got {color_by!r}")


def _check_size(size: object) -> tuple[float, float] | None:
    if size is None:
        return None
    try:
        width, height = (float(x) for x in size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        width = height = float("nan")
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0) or isinstance(size, str):
        raise ValueError(f"draw_dot: size must be (width, height) in inches, both > 0, such as (10, 7.5); got {size!r}")
    return width, height


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _short_name(name: str) -> str:
    """The name a slide shows: the parameter's own name, then the numbers of its place, as indices.

    'layers.0.neurons.1.w.2' → 'w[0][1][2]' (``model.layers[0].neurons[1].w[2]``),
    'layers.0.neurons.1.b' → 'b[0][1]', a Neuron's 'w.2' → 'w[2]', 'scale' → 'scale'.
    """
    parts = name.split(".")
    words = [part for part in parts if part and not part.isdigit()]
    if not words:
        return name
    return words[-1] + "".join(f"[{part}]" for part in parts if part.isdigit())


def _unique_short_names(full_names: list[str]) -> list[str]:
    """Short names, with the full name kept wherever two parameters would share a short one."""
    short = [_short_name(name) for name in full_names]
    counts: dict[str, int] = {}
    for name in short:
        counts[name] = counts.get(name, 0) + 1
    return [s if counts[s] == 1 else full for s, full in zip(short, full_names)]


def _number_text(x: float, fmt: str) -> str:
    """``format(x, fmt)``, but never −0: a number that rounds to zero shows as 0 ("-0.00" → "0.00")."""
    text = format(x, fmt)
    mantissa = text.lower().split("e")[0]
    if text.startswith("-") and not any(ch in "123456789" for ch in mantissa) and "nan" not in mantissa:
        return text[1:]
    return text


def _input_tags(root: Value, named: Mapping[int, object]) -> dict[int, tuple[str, str]]:
    """id(leaf) → ("x₀", "") for the leaves with neither a label nor a given name: x₀, x₁, … in the
    order the forward pass first reads them (an MLP's inputs come first, in their order)."""
    chain = walk_chain(root, "draw_dot")
    tags: dict[int, tuple[str, str]] = {}

    def tag(value: Value) -> None:
        if not value.op and not value.label and id(value) not in named and id(value) not in tags:
            tags[id(value)] = ("x" + str(len(tags)).translate(_SUBSCRIPTS), "")

    for i in reversed(chain.order):
        node = chain.nodes[i]
        for operand in node.operands if node.op else ():
            if isinstance(operand, Value):
                tag(operand)
    tag(root)
    return tags


def _node_names(root: Value, named: dict[int, tuple[str, str]]) -> dict[int, tuple[str, str]]:
    """What drawings call values: the given names, then x₀, x₁, … for unnamed unlabelled leaves."""
    return {**_input_tags(root, named), **named}


def _parameter_names(names: object, caller: str = "draw_dot") -> dict[int, tuple[str, str]]:
    """id(parameter) → (short name, full name), from a model, a mapping or (name, Value) pairs.

    The one reader of the ``names=`` argument of draw_dot, backprop_player, explain and nudge.
    """
    if names is None:
        return {}
    accepted = "a model with named_parameters(), a {name: Value} mapping or (name, Value) pairs"
    if callable(getattr(names, "named_parameters", None)):
        pairs: Iterable = names.named_parameters()  # type: ignore[attr-defined]
    elif isinstance(names, Mapping):
        pairs = names.items()
    elif isinstance(names, Iterable) and not isinstance(names, (str, bytes)):
        pairs = names
    else:
        raise TypeError(f"{caller}: names must be {accepted}; got {type(names).__name__} {names!r:.60}")
    found: dict[int, str] = {}
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"{caller}: names must be {accepted}; got the item {pair!r:.60}") from None
        if not isinstance(name, str) or not isinstance(value, Value):
            raise TypeError(
                f"{caller}: names must be {accepted}, and each must pair a str with a Value; "
                f"got ({name!r:.40}, {value!r:.40})"
            )
        found.setdefault(id(value), name)
    shorts = _unique_short_names(list(found.values()))
    return {key: (short, full) for (key, full), short in zip(found.items(), shorts)}


@dataclass(frozen=True)
class FrameView:
    """What one frame of :func:`viz.backprop_player` shows instead of the graph's own numbers.

    Indices are places in the drawing's walk (0 is the root). Texts are plain text ("" shows
    as a blank). Each number cell is given a width (a minimum, in points) that its widest text
    in any frame fits, and the caption a size, so all frames of one player share one layout
    and only colours and texts change between them.
    """

    phase: str  # "forward": the data of ``node`` is new; "backward": the gradients of its operands are
    data: tuple[str, ...]
    grads: tuple[str, ...]
    node: int | None
    edges: frozenset[tuple[int, int]]  # (value index, operand position): the edges lit up
    caption: tuple[str, ...]
    cell_widths: tuple[float, ...]
    caption_width: float
    # the player page's one drawing: every value on a white ground (the page's script paints the
    # current one), texts are the page's placeholders
    template: bool = False


def draw_dot(
    root: Value,
    style: str = "record",
    rankdir: str = "LR",
    show_grad: bool = True,
    fmt: str = ".4g",
    max_nodes: int | None = DEFAULT_MAX_NODES,
    depth: int | None = None,
    color_by: str | None = None,
    renderer: str = DEFAULT_RENDERER,
    names: object = None,
    size: tuple[float, float] | None = None,
) -> Graph:
    """Draw the computation graph that made ``root``.

    Args:
        root: the Value to draw, with everything it was computed from.
        style: "record" (micrograd's look: a box per value with label | data | grad, an
            ellipse per op) or "lecture" (the lectures' figure: ops as circles, inputs named
            by their labels, each value written above its edge and its gradient below, in red).
        rankdir: "LR" (left to right, the default), "RL", "TB" or "BT".
        show_grad: write the gradients.
        fmt: format spec for the numbers (".4g": 220.00000000000003 shows as 220).
        max_nodes: the most values to draw; a larger graph raises ValueError (None: no limit).
        depth: draw only the last ``depth`` levels of ops before the root (0: the root alone).
            Values whose inputs are cut off show their op in a dashed outline.
        color_by: "grad" shades each value by |grad| on a log scale, with a legend.
        renderer: "graphviz-pure" (installed with gradtrace, same output everywhere) or
            "system" (Graphviz's ``dot`` on PATH).
        names: name the parameters: a model (anything with ``named_parameters()``, such as
            an ``nn.MLP``), a mapping ``{name: Value}`` or ``(name, Value)`` pairs. They are
            shown short: the parameter's name with the numbers of its place as indices
            (``layers.0.neurons.1.w.2`` as w[0][1][2], that is ``model.layers[0].neurons[1].w[2]``;
            ``…b`` as b[0][1]), the full name as tooltip; two that would share a short name keep
            their full names. Leaves with neither a label nor a name (a model's inputs) are
            drawn as x₀, x₁, … in the order the forward pass reads them.
        size: ``(width, height)`` in inches: a larger drawing is scaled down to fit (Graphviz's
            ``size``), keeping its proportions. ``(10, 7.5)`` fits a 4:3 slide.

    Returns:
        a :class:`viz.Graph`: ``.source`` (DOT), ``.svg()``, ``.save(path)``; it displays
        itself in Jupyter.
    """
    _check_arguments(root, style, rankdir, max_nodes, depth, color_by)
    check_renderer(renderer)
    number = _Numbers(fmt)
    fit = _check_size(size)
    walk = _walk(root, depth)
    _check_count(walk, max_nodes, depth)
    named = _node_names(root, _parameter_names(names))
    return Drawing(_source(walk, style, rankdir, show_grad, number, color_by, named, fit), renderer)


def plot_dot_graph(output: Value, verbose: bool = True, to_file: str = "graph.png") -> Graph:
    """DeZero's ``plot_dot_graph``, for code written against DeZero: draw ``output``'s whole
    graph and write it to ``to_file`` (its suffix picks the format: .png, .svg, .dot).

    ``verbose`` shows each value's gradient as well as its data (DeZero's shows shapes and
    dtypes, which scalars do not have). Returns the drawing, which shows itself in Jupyter.
    """
    graph = draw_dot(output, show_grad=verbose, max_nodes=None)
    graph.save(to_file)
    return graph


def _check_count(walk: _Walk, max_nodes: int | None, depth: int | None) -> None:
    if max_nodes is not None and len(walk.values) > max_nodes:
        raise ValueError(
            f"draw_dot: the graph has {len(walk.values)} values"
            + (f" within depth={depth}" if depth is not None else "")
            + f", more than max_nodes={max_nodes}; pass max_nodes=None to draw them all "
            "(laying out thousands of nodes takes a while) or depth=k to draw only the last k levels before the root"
        )


def _source(
    walk: _Walk,
    style: str,
    rankdir: str,
    show_grad: bool,
    number: _Numbers,
    color_by: str | None,
    names: dict[int, tuple[str, str]],
    size: tuple[float, float] | None,
    view: FrameView | None = None,
) -> str:
    """The DOT text of a drawing (or of one player frame, when ``view`` is given)."""
    graph_attr = {"rankdir": rankdir, "fontname": FONT, "bgcolor": "white"}
    if size is not None:
        graph_attr["size"] = f"{size[0]:g},{size[1]:g}"
    dot = graphviz.Digraph(
        "gradtrace",
        graph_attr=graph_attr,
        node_attr={"fontname": FONT, "fontsize": "12"},
        edge_attr={"fontname": FONT, "fontsize": "11"},
    )
    drawer = _RecordDrawer if style == "record" else _LectureDrawer
    drawer(dot, walk, number, show_grad, color_by, names, view).draw()
    if view is not None:
        _caption(dot, view)
    elif color_by == "grad":
        _legend(dot, {_grad_colors(walk.values[i].grad)[0] for i in range(len(walk.values))})
    return dot.source


def _operand_order(value: Value, count: int) -> list[int]:
    """Operand positions in drawing order: a dot node's w_i beside its x_i (w₀ x₀ w₁ x₁ … bias)."""
    if value.op == "dot" and count >= 2:
        n = count // 2
        order = [k for i in range(n) for k in (i, n + i)]
        return order + list(range(2 * n, count))
    return list(range(count))


class _Drawer:
    def __init__(
        self,
        dot: graphviz.Digraph,
        walk: _Walk,
        number: _Numbers,
        show_grad: bool,
        color_by: str | None,
        names: dict[int, tuple[str, str]],
        view: FrameView | None,
    ):
        self.dot, self.walk, self.number = dot, walk, number
        self.show_grad, self.color_by = show_grad, color_by
        self.names, self.view = names, view
        self.constants = 0
        self.fresh: set[int] = set()  # a player frame's numbers just computed: drawn bold
        if view is not None and view.node is not None:
            if view.phase == "forward":
                self.fresh.add(view.node)
            else:
                operands = walk.operands(view.node)
                self.fresh.update(ref for i, k in view.edges for kind, ref in [operands[k]] if kind == "value")

    def colors(self, i: int, value: Value) -> tuple[str | None, str, str]:
        """(fill or None, text colour, gradient colour) of a value's drawing."""
        if self.view is not None:
            if self.view.template:
                return "white", "black", GRAD_RED
            return (HIGHLIGHT if self.view.node == i else None), "black", GRAD_RED
        if self.color_by == "grad":
            fill, ink = _grad_colors(value.grad)
            return fill, ink, ink
        return None, "black", GRAD_RED

    def label(self, value: Value) -> tuple[str, str]:
        """(the name shown, a tooltip): a parameter's short name and full name, else the label and ""."""
        return self.names.get(id(value), (value.label, ""))

    def data_text(self, i: int, value: Value) -> str:
        if self.view is not None:
            text = _text(self.view.data[i]) or BLANK
            return f"<b>{text}</b>" if i in self.fresh and self.view.phase == "forward" else text
        return self.number(value.data)

    def grad_text(self, i: int, value: Value) -> str:
        if self.view is not None:
            text = _text(self.view.grads[i]) or BLANK
            return f"<b>{text}</b>" if i in self.fresh and self.view.phase == "backward" else text
        return self.number(value.grad)

    def cell_size(self, i: int) -> str:
        """A player frame's number cells have one fixed size in every frame."""
        if self.view is None:
            return ""
        return f' width="{self.view.cell_widths[i]:.0f}"'

    def operand_edges(self, i: int, value: Value) -> list[tuple[int, str, object]]:
        """(position, kind, ref) of values[i]'s operands, in drawing order."""
        operands = self.walk.operands(i)
        return [(k, *operands[k]) for k in _operand_order(value, len(operands))]

    def edge_style(self, i: int, position: int) -> dict[str, str]:
        if self.view is None:
            return {}
        ids = {"id": f"e{i}_{position}"}  # a player's frames name their edges, for its page's script
        if (i, position) in self.view.edges:
            return {"color": HIGHLIGHT_EDGE, "penwidth": "2.5", "class": "current", **ids}
        return ids

    def op_node(self, i: int, value: Value, shape: str) -> str:
        name = f"op{i}"
        cut = i in self.walk.cut
        current = self.view is not None and self.view.node == i
        extra = {"style": ("filled,dashed" if cut else "filled"), "fillcolor": HIGHLIGHT, "penwidth": "2",
                 "class": "current"} if current else {"style": "dashed" if cut else "solid"}
        if self.view is not None:
            extra["id"] = name
        if value.op == "dot":
            extra["ordering"] = "in"  # keep each weight beside the input it multiplies
        self.dot.node(
            name,
            _html(_op_text(value)),
            shape=shape,
            tooltip=dot_attribute(f"inputs not drawn (depth limit): {value.op}" if cut else value.op),
            margin="0.04",
            fontsize="16",
            **extra,
        )
        return name

    def constant_node(self, x: object) -> str:
        name = f"c{self.constants}"
        self.constants += 1
        self.dot.node(
            name,
            _html(f'<font color="{CONSTANT_GREY}">{self.number(x)}</font>'),
            shape="box",
            style="rounded,dashed",
            color=CONSTANT_GREY,
            tooltip="a number operand (no gradient)",
            margin="0.05,0.02",
            height="0.3",
        )
        return name

    def node_class(self, i: int) -> dict[str, str]:
        if self.view is None:
            return {}
        return {"id": f"v{i}", **({"class": "current"} if self.view.node == i else {})}

    def draw(self) -> None:
        raise NotImplementedError


BLANK = "&#160;"


def _wide(text: str, size: float, padding: float = 0.0) -> str:
    """A cell's minimum width for text with Hangul, which the layout's metrics underestimate."""
    text = printable(text)  # as shown: a very long text is cut
    return f' width="{text_width(text, size) + padding:.0f}"' if has_hangul(text) else ""


def _wide_node(text: str, size: float) -> dict[str, str]:
    """The same for a whole node (a plaintext name), in inches."""
    text = printable(text)
    return {"width": f"{(text_width(text, size) + 16) / 72:.2f}"} if has_hangul(text) else {}


class _RecordDrawer(_Drawer):
    """micrograd's look: a box per value (label | data | grad), an ellipse per op."""

    def draw(self) -> None:
        dot = self.dot
        for i, value in enumerate(self.walk.values):
            fill, ink, grad_ink = self.colors(i, value)
            cells = []
            name, tooltip = self.label(value)
            if name:
                title = f' title="{dot_label_attribute(tooltip)}"' if tooltip else ""
                cells.append(f"<td{title}{_wide(name, 12, 14)}><b>{_text(name)}</b></td>")
            size = self.cell_size(i)
            cells.append(f"<td{size}>data {self.data_text(i, value)}</td>")
            if self.show_grad:
                cells.append(f'<td{size}><font color="{grad_ink}">grad {self.grad_text(i, value)}</font></td>')
            background = f' bgcolor="{fill}"' if fill else ""
            table = (
                f'<table border="0" cellborder="1" cellspacing="0" cellpadding="6"{background}>'
                f'<tr>{"".join(cells)}</tr></table>'
            )
            if ink != "black":
                table = f'<font color="{ink}">{table}</font>'
            dot.node(f"v{i}", _html(table), shape="plain", **self.node_class(i))
            if value.op:
                dot.edge(self.op_node(i, value, "ellipse"), f"v{i}")
            for position, kind, ref in self.operand_edges(i, value):
                source = f"v{ref}" if kind == "value" else self.constant_node(ref)
                dot.edge(source, f"op{i}", **self.edge_style(i, position))


class _LectureDrawer(_Drawer):
    """The lectures' figure: ops as circles; each value is an edge with its value above the
    line and its gradient below, in red; inputs named by their labels at the left."""

    def draw(self) -> None:
        dot = self.dot
        for i, value in enumerate(self.walk.values):
            if value.op:
                source = self.op_node(i, value, "circle")
            else:
                source = f"in{i}"
                name, tooltip = self.label(value)
                if name:
                    extra = {"tooltip": dot_attribute(tooltip)} if tooltip else {}
                    extra.update(_wide_node(name, 12))
                    dot.node(source, _html(f"<b>{_text(name)}</b>"), shape="plaintext", **extra)
                else:
                    dot.node(source, "", shape="point", width="0.06")
            table = self.edge_table(i, value, labelled=bool(i and value.op and value.label))
            dot.node(f"v{i}", _html(table), shape="plain", **self.node_class(i))
            dot.edge(source, f"v{i}", headport="w", arrowhead="none")
            for position, kind, ref in self.operand_edges(i, value):
                if kind == "value":
                    dot.edge(f"v{ref}", f"op{i}", tailport="e", **self.edge_style(i, position))
                else:
                    dot.edge(self.constant_node(ref), f"op{i}")
        root = self.walk.values[0]
        if root.op:  # the result leaves to the right, named if it has a label
            if root.label:
                dot.node("out", _html(f"<b>{_text(root.label)}</b>"), shape="plaintext", **_wide_node(root.label, 12))
            else:  # the arrow ends in the open, as in the lectures
                dot.node("out", "", shape="none", width="0.1", height="0.1")
            dot.edge("v0", "out", tailport="e")

    def edge_table(self, i: int, value: Value, labelled: bool) -> str:
        """The value above a line and its gradient below: the line continues the edge.

        The rows above and below the line are the same height, so the line sits at the
        table's middle, where the edges attach (ports w and e)."""
        fill, ink, grad_ink = self.colors(i, value)
        background = f' bgcolor="{fill}"' if fill else ""
        grad = f'<font color="{grad_ink}">{self.grad_text(i, value)}</font>' if self.show_grad else BLANK
        size = self.cell_size(i)
        rows = [
            f'<tr><td sides="B" border="1" cellpadding="2"{size}><font color="{ink}">{self.data_text(i, value)}</font></td></tr>',
            f'<tr><td cellpadding="2"{size}>{grad}</td></tr>',
        ]
        if labelled:  # an intermediate value's name above, balanced by a blank row below
            rows.insert(0, f'<tr><td cellpadding="1"{_wide(value.label, 10, 2)}><font color="{ink}" point-size="10"><i>{_text(value.label)}</i></font></td></tr>')
            rows.append(f'<tr><td cellpadding="1"><font point-size="10">{BLANK}</font></td></tr>')
        return f'<table border="0" cellborder="0" cellspacing="0"{background}>{"".join(rows)}</table>'


CAPTION_LINE = 17  # points per caption line (12 pt text)


def _caption(dot: graphviz.Digraph, view: FrameView) -> None:
    """A player frame's narration below the drawing, in a box of the same size in every frame."""
    rows = "".join(
        f'<tr><td align="left" width="{view.caption_width:.0f}" height="{CAPTION_LINE}">'
        f"{_text(line) or BLANK}</td></tr>"
        for line in view.caption
    )
    table = f'<table border="0" cellborder="0" cellspacing="0" cellpadding="0">{rows}</table>'
    dot.attr(label=_html(table), labelloc="b", labeljust="l", fontsize="12")


def _legend(dot: graphviz.Digraph, used: set[str]) -> None:
    """The colours that appear in the drawing, in the scale's order, and what they mean."""
    rows = ['<tr><td colspan="2"><b>|grad|, log scale</b></td></tr>']
    scale = [(fill, text) for _, fill, _, text in GRAD_COLORS] + [(ZERO_GRAD[0], ZERO_GRAD[2]),
                                                                  (NONFINITE_GRAD[0], NONFINITE_GRAD[2])]
    for fill, text in scale:
        if fill in used:
            rows.append(f'<tr><td bgcolor="{fill}" width="18"> </td><td align="left">{_text(text)}</td></tr>')
    table = f'<table border="1" cellborder="0" cellspacing="2" cellpadding="2" color="#999999">{"".join(rows)}</table>'
    # the graph's own label: below the drawing, out of the layout's way
    dot.attr(label=_html(table), labelloc="b", labeljust="l", fontsize="10")
