"""draw_dot: a Value's computation graph as DOT, in micrograd's look or the lectures' look.

Every piece of user text (labels) goes into Graphviz HTML-like labels through :func:`_text`,
which HTML-escapes it: quotes, backslashes, ``{ } | < >``, ``</td>`` and newlines can only ever
show as text. Node names are generated (``v0``, ``op0``, ``c0``...) in discovery order from the
root through each node's operands in operand order, so the same graph always gives the same DOT.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

import graphviz

from autograd import OPS, Value

from .render import DEFAULT_RENDERER, Graph, check_renderer

__all__ = ["DEFAULT_MAX_NODES", "GRAD_COLORS", "draw_dot"]

DEFAULT_MAX_NODES = 500  # fits micrograd demo's 2-16-16-1 MLP on one sample (407 values)
STYLES = ("record", "lecture")
RANKDIRS = ("LR", "RL", "TB", "BT")
FONT = "Helvetica"
GRAD_RED = "#d62728"
CONSTANT_GREY = "#666666"

# color_by="grad": |grad| by decades, largest first: (lower bound, fill, text colour, legend text).
# Strong colours for large gradients, fading to pale as they vanish.
GRAD_COLORS: tuple[tuple[float, str, str, str], ...] = (
    (10.0, "#800026", "white", "≥ 10"),
    (1.0, "#bd0026", "white", "1 to 10"),
    (1e-1, "#e31a1c", "white", "0.1 to 1"),
    (1e-2, "#fc4e2a", "black", "0.01 to 0.1"),
    (1e-3, "#fd8d3c", "black", "10⁻³ to 10⁻²"),
    (1e-4, "#feb24c", "black", "10⁻⁴ to 10⁻³"),
    (1e-5, "#fed976", "black", "10⁻⁵ to 10⁻⁴"),
    (1e-6, "#ffeda0", "black", "10⁻⁶ to 10⁻⁵"),
    (0.0, "#ffffcc", "black", "below 10⁻⁶ (vanishing)"),
)
ZERO_GRAD = ("#d9d9d9", "black", "exactly 0")
NONFINITE_GRAD = ("#9e9ac8", "black", "nan or inf")

# Characters that XML (so SVG) or Graphviz's HTML-label parser reject: C0 controls other than
# newline and tab, DEL, and the Unicode noncharacters (U+FFFE, U+FFFF, ...). They are shown as
# escapes such as \x1b instead.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\ufdd0-\ufdef"
    + "".join(chr(plane * 0x10000 + 0xFFFE) + chr(plane * 0x10000 + 0xFFFF) for plane in range(17))
    + "]"
)


def _text(s: str) -> str:
    """User text → the text of an HTML-like label: shown literally, never markup."""
    s = s.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates → visible escapes
    s = html.escape(s.replace("\r\n", "\n").replace("\t", " "), quote=True)  # Graphviz drops tabs
    s = _INVISIBLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), s)
    # Graphviz expands escapes such as \N (the node's name) even in HTML-like labels, after
    # decoding entities; a doubled backslash is its way of writing one backslash.
    s = s.replace("\\", "\\\\")
    return s.replace("\n", "<br/>")


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
            return _text(format(float(x), self.fmt))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _text(str(x))


def _check_arguments(
    root: object, style: str, rankdir: str, max_nodes: int | None, depth: int | None, color_by: str | None
) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot() draws a Value's graph; got {type(root).__name__} {root!r:.60}")
    if style not in STYLES:
        raise ValueError(f"draw_dot: style must be one of {STYLES}; got {style!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_dot: rankdir must be one of {RANKDIRS}; got {rankdir!r}")
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1):
        raise ValueError(f"draw_dot: max_nodes must be a positive int or None (no limit); got {max_nodes!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"draw_dot: depth must be an int ≥ 0 (levels of ops before the root) or None; got {depth!r}")
    if color_by not in (None, "grad"):
        raise ValueError(f"draw_dot: color_by must be None or 'grad'; got {color_by!r}")


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

    Returns:
        a :class:`viz.Graph`: ``.source`` (DOT), ``.svg()``, ``.save(path)``; it displays
        itself in Jupyter.
    """
    _check_arguments(root, style, rankdir, max_nodes, depth, color_by)
    check_renderer(renderer)
    number = _Numbers(fmt)
    walk = _walk(root, depth)
    if max_nodes is not None and len(walk.values) > max_nodes:
        raise ValueError(
            f"draw_dot: the graph has {len(walk.values)} values"
            + (f" within depth={depth}" if depth is not None else "")
            + f", more than max_nodes={max_nodes}; pass max_nodes=None to draw them all "
            "(laying out thousands of nodes takes a while) or depth=k to draw only the last k levels before the root"
        )
    dot = graphviz.Digraph(
        "gradtrace",
        graph_attr={"rankdir": rankdir, "fontname": FONT, "bgcolor": "white"},
        node_attr={"fontname": FONT, "fontsize": "12"},
        edge_attr={"fontname": FONT, "fontsize": "11"},
    )
    drawer = _RecordDrawer if style == "record" else _LectureDrawer
    drawer(dot, walk, number, show_grad, color_by).draw()
    if color_by == "grad":
        _legend(dot, {_grad_colors(walk.values[i].grad)[0] for i in range(len(walk.values))})
    return Graph(dot.source, renderer)


class _Drawer:
    def __init__(self, dot: graphviz.Digraph, walk: _Walk, number: _Numbers, show_grad: bool, color_by: str | None):
        self.dot, self.walk, self.number = dot, walk, number
        self.show_grad, self.color_by = show_grad, color_by
        self.constants = 0

    def colors(self, value: Value) -> tuple[str | None, str, str]:
        """(fill or None, text colour, gradient colour) of a value's drawing."""
        if self.color_by == "grad":
            fill, ink = _grad_colors(value.grad)
            return fill, ink, ink
        return None, "black", GRAD_RED

    def op_node(self, i: int, value: Value, shape: str) -> str:
        name = f"op{i}"
        cut = i in self.walk.cut
        self.dot.node(
            name,
            _html(_op_text(value)),
            shape=shape,
            style="dashed" if cut else "solid",
            tooltip=f"inputs not drawn (depth limit): {value.op}" if cut else value.op,
            margin="0.04",
            fontsize="16",
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

    def draw(self) -> None:
        raise NotImplementedError


class _RecordDrawer(_Drawer):
    """micrograd's look: a box per value (label | data | grad), an ellipse per op."""

    def draw(self) -> None:
        dot = self.dot
        for i, value in enumerate(self.walk.values):
            fill, ink, grad_ink = self.colors(value)
            cells = []
            if value.label:
                cells.append(f"<td><b>{_text(value.label)}</b></td>")
            cells.append(f"<td>data {self.number(value.data)}</td>")
            if self.show_grad:
                cells.append(f'<td><font color="{grad_ink}">grad {self.number(value.grad)}</font></td>')
            background = f' bgcolor="{fill}"' if fill else ""
            table = (
                f'<table border="0" cellborder="1" cellspacing="0" cellpadding="6"{background}>'
                f'<tr>{"".join(cells)}</tr></table>'
            )
            if ink != "black":
                table = f'<font color="{ink}">{table}</font>'
            dot.node(f"v{i}", _html(table), shape="plain")
            if value.op:
                dot.edge(self.op_node(i, value, "ellipse"), f"v{i}")
            for kind, ref in self.walk.operands(i):
                source = f"v{ref}" if kind == "value" else self.constant_node(ref)
                dot.edge(source, f"op{i}")


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
                if value.label:
                    dot.node(source, _html(f"<b>{_text(value.label)}</b>"), shape="plaintext")
                else:
                    dot.node(source, "", shape="point", width="0.06")
            dot.node(f"v{i}", _html(self.edge_table(value, labelled=bool(i and value.op and value.label))), shape="plain")
            dot.edge(source, f"v{i}", headport="w", arrowhead="none")
            for kind, ref in self.walk.operands(i):
                if kind == "value":
                    dot.edge(f"v{ref}", f"op{i}", tailport="e")
                else:
                    dot.edge(self.constant_node(ref), f"op{i}")
        root = self.walk.values[0]
        if root.op:  # the result leaves to the right, named if it has a label
            if root.label:
                dot.node("out", _html(f"<b>{_text(root.label)}</b>"), shape="plaintext")
            else:  # the arrow ends in the open, as in the lectures
                dot.node("out", "", shape="none", width="0.1", height="0.1")
            dot.edge("v0", "out", tailport="e")

    def edge_table(self, value: Value, labelled: bool) -> str:
        """The value above a line and its gradient below: the line continues the edge.

        The rows above and below the line are the same height, so the line sits at the
        table's middle, where the edges attach (ports w and e)."""
        fill, ink, grad_ink = self.colors(value)
        background = f' bgcolor="{fill}"' if fill else ""
        blank = "&#160;"
        grad = f'<font color="{grad_ink}">{self.number(value.grad)}</font>' if self.show_grad else blank
        rows = [
            f'<tr><td sides="B" border="1" cellpadding="2"><font color="{ink}">{self.number(value.data)}</font></td></tr>',
            f'<tr><td cellpadding="2">{grad}</td></tr>',
        ]
        if labelled:  # an intermediate value's name above, balanced by a blank row below
            rows.insert(0, f'<tr><td cellpadding="1"><font color="{ink}" point-size="10"><i>{_text(value.label)}</i></font></td></tr>')
            rows.append(f'<tr><td cellpadding="1"><font point-size="10">{blank}</font></td></tr>')
        return f'<table border="0" cellborder="0" cellspacing="0"{background}>{"".join(rows)}</table>'


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
