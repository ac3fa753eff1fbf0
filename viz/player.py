"""backprop_player: the forward pass, then the backward pass, one step at a time.

Each frame is a drawing by :func:`viz.draw_dot`'s own drawers (same DOT, same renderer, same
deterministic SVG), with the current node lit up, the edges whose local derivatives are being
multiplied drawn thick and blue, and a caption that writes the product out. Numbers not yet
computed are blank, not 0. With ``view="network"`` the frames are :func:`viz.draw_network`'s
drawing of the model instead, one layer at a time (:class:`viz.network.NetworkReplay`).

All frames share one layout, so the page holds the drawing once, with its changing texts as
empty slots, and per frame only what changes (viz._page); the GIF renders every frame.

The steps are replayed from the graph with the public op table (``autograd.OPS[op].backward``
on each node's ``operands``/``params``), in the order ``Value.backward`` visits the nodes, so
the last frame shows exactly the gradients ``backward()`` gives. The user's graph is only read:
no ``.grad`` is touched. (Stepping ``Value._backward()`` node by node would give the same
numbers, but it writes into the graph's ``.grad`` and says nothing of the local derivatives
that the captions show; the op table gives both without writing anything.)

>>> from autograd import Value
>>> apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
>>> price = apple * num * tax
>>> player = backprop_player(price)
>>> player
<viz.Player: 6 frames (3 forward, 3 backward)>
>>> player.steps[-1].caption[1]
'∂((apple × apple_num) × tax)/∂apple = 1.1 × 2 = 2.2   [local ∂(apple × apple_num)/∂apple = 2]'

Where it shows:

- in Jupyter (JupyterLab, Notebook 7, VS Code): an ``<iframe srcdoc=...>`` holding the same
  page as ``.save("x.html")``. The iframe isolates the player's script and styles from the
  notebook page and needs nothing installed in the front end (no widget extension, no kernel
  once drawn), so it works the same in every front end that shows trusted HTML output;
- ``.save("x.html")``: one file, the drawing, the frames' changes and the script inline, no URL at all;
- ``.save("x.gif")``: an animated GIF (Pillow), frames rasterized from the same SVG.
"""

from __future__ import annotations

import html
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograd import OPS, Value

from ._atomic import atomic_open
from ._chain import walk as walk_chain
from ._page import PageFrame, Slot, Template, frames_json, page_svg, placeholders
from .draw import (
    FrameView,
    _check_arguments,
    _node_names,
    _number_text,
    _Numbers,
    _parameter_names,
    _source,
    _walk,
)
from .fonts import Drawing, text_width
from .network import NETWORK_STYLES, NetworkReplay, NetworkView
from .render import DEFAULT_RENDERER, RendererError, check_renderer

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

__all__ = ["PLAYER_MAX_NODES", "Player", "Step", "backprop_player"]

# as draw_dot's: the page lays the graph out once (micrograd's 2-16-16-1 MLP on one sample, 406
# values: about a second and 850 KB); the GIF renders every frame, which takes longer
PLAYER_MAX_NODES = 500
MAX_OPERAND_LINES = 4  # a caption lists this many products of one node, then "… and k more"
CHAR_WIDTH = 7.4  # points per character of 12 pt text: a bound on Helvetica's widths, with room
GIF_MS = 1200  # how long each GIF frame shows; the first and last show longer


@dataclass(frozen=True)
class Step:
    """One frame's content, before drawing.

    Attributes:
        phase: "forward" or "backward".
        node: the place (in the drawing's walk; 0 is the root) of the value being computed or
            differentiated, or None for the opening frame.
        edges: (value, operand position) of the edges whose local derivatives are multiplied.
        caption: the narration lines under the drawing.
        data: per value, its value as shown ("" while not yet computed).
        grads: per value, its gradient as shown ("" while not yet known; "2.2 + …" while
            more contributions are to come).
    """

    phase: str
    node: int | None
    edges: frozenset[tuple[int, int]]
    caption: tuple[str, ...]
    data: tuple[str, ...]
    grads: tuple[str, ...]


def backprop_player(
    root: Value,
    style: str = "lecture",
    rankdir: str = "LR",
    fmt: str = ".4g",
    max_nodes: int | None = PLAYER_MAX_NODES,
    names: object = None,
    renderer: str = DEFAULT_RENDERER,
    view: str = "graph",
) -> Player:
    """Play the forward and backward pass that made ``root``, one node at a time, or one layer
    at a time on the network drawing (``view="network"``).

    Args:
        root: the result; its graph is read, never changed (no ``.grad`` is set).
        style: "lecture" (the lectures' figure, the default) or "record", as in ``draw_dot``.
        rankdir, fmt, names, renderer: as in :func:`viz.draw_dot`.
        max_nodes: as in ``draw_dot`` (a larger graph raises ValueError saying what to pass),
            500 by default. The page holds the drawing once and each frame as the texts and
            highlights that change, so it grows with the graph, not with graph × frames
            (144 KB for a 3-4-4-1 MLP, 850 KB for a 2-16-16-1); the GIF renders every frame.

        view: "graph" (the computation graph, as ``draw_dot`` draws it) or "network": the
            model given as ``names=`` (an ``nn.MLP``, ``Layer`` or ``Neuron``) drawn as
            :func:`viz.draw_network` draws it, the forward pass layer by layer, then the backward
            pass: each layer's deltas δ = ∂root/∂z with their formula and numbers (the notes'
            δ = (Σ δ·w) × φ'(z)), then its weights' gradients δ × a. ``root`` must come from one
            call of the model (one sample); ``style`` is then "lecture" or "python", as in
            draw_network, and ``rankdir`` and ``max_nodes`` do not apply.

    Returns:
        a :class:`Player`: ``.frames`` (SVG per frame), ``.steps``, ``.save("x.html")``,
        ``.save("x.gif")``; it shows itself in Jupyter with play/pause, previous/next, a
        slider and the arrow keys.
    """
    if view == "network":
        return _network_player(root, names, style, _Numbers(fmt), renderer)
    if view != "graph":
        raise ValueError(f"backprop_player: view must be 'graph' or 'network'; got {view!r}")
    _check_arguments(root, style, rankdir, max_nodes, caller="backprop_player", does="plays")
    number = _Numbers(fmt)
    check_renderer(renderer)
    walk = _walk(root, None)
    if max_nodes is not None and len(walk.values) > max_nodes:
        raise ValueError(
            f"backprop_player: the graph has {len(walk.values)} values, more than max_nodes={max_nodes}; "
            "pass max_nodes=None to play it all (laying out thousands of values takes a while, and the GIF "
            "renders every step), or play a smaller part of it"
        )
    named = _node_names(root, _parameter_names(names, "backprop_player"))
    steps = _Replay(walk.values, walk.index, named, number).steps()
    widths = _cell_widths(steps, style, len(walk.values))
    caption_lines = max(len(step.caption) for step in steps)
    caption_width = max(text_width(line, 12) for step in steps for line in step.caption)
    def frame_sources() -> list[str]:  # each frame's own DOT: for the GIF and .frames, made when first asked for
        sources = []
        for step in steps:
            caption = step.caption + ("",) * (caption_lines - len(step.caption))
            view = FrameView(step.phase, step.data, step.grads, step.node, step.edges, caption, widths, caption_width)
            # _Numbers escapes the graph's own numbers; the view's texts are plain and escaped by draw
            sources.append(_source(walk, style, rankdir, True, number, None, named, None, view))
        return sources

    def template_source(tokens: list[str]) -> str:
        n = len(walk.values)
        view = FrameView("template", tuple(tokens[0 : 2 * n : 2]), tuple(tokens[1 : 2 * n : 2]), None, frozenset(),
                         tuple(tokens[2 * n :]), widths, caption_width, template=True)
        return _source(walk, style, rankdir, True, number, None, named, None, view)

    template = _dot_template(walk, steps, style, caption_lines, template_source)
    return Player(steps, frame_sources, renderer, template)


def _network_player(root: Value, model: object, style: str, number: _Numbers, renderer: str) -> Player:
    """backprop_player(..., view="network"): the layers' passes on draw_network's drawing."""
    if not isinstance(root, Value):
        raise TypeError(f"backprop_player() plays a Value's graph; got {type(root).__name__} {root!r:.60}")
    if style not in NETWORK_STYLES:
        raise ValueError(f"backprop_player(view='network'): style must be one of {NETWORK_STYLES}; got {style!r}")
    if model is None:
        raise TypeError("backprop_player(view='network') draws the model: pass it as names= (an nn.MLP, Layer or Neuron)")
    check_renderer(renderer)
    replay = NetworkReplay(root, model, number, style)
    frames = replay.frames()
    drawer = replay.drawer
    lines = max(len(f.caption) for f in frames)
    width = max(text_width(line, 12) for f in frames for line in f.caption)
    grad_chars = max((len(g) for f in frames for layer in f.view.weight_grads for n in layer for g in n), default=1)
    views = []
    for f in frames:
        f.view.caption = f.caption + ("",) * (lines - len(f.caption))
        f.view.caption_width, f.view.grad_chars = width, grad_chars
        views.append(f.view)
    steps = [Step(f.phase, None, frozenset(), f.caption, tuple(v for c in f.view.values for v in c),
                  tuple(d for layer in f.view.deltas for d in layer)) for f in frames]
    template = _network_template(drawer, views, lines, width, grad_chars)
    return Player(steps, lambda: [drawer.source(v) for v in views], renderer, template)


def _network_template(drawer, views: list, lines: int, width: float, grad_chars: int) -> Template:  # type: ignore[no-untyped-def]
    """The page's drawing of the network: placeholders in the values, deltas, weight gradients and caption."""
    columns = drawer.columns
    layers = drawer.net.layers
    keys: list[tuple[str, int, int, int]] = [("value", c, r, 0) for c, n in enumerate(columns) for r in range(n)]
    keys += [("delta", k, j, 0) for k, layer in enumerate(layers) for j in range(len(layer))]
    keys += [("grad", k, j, i) for k, layer in enumerate(layers) if drawer.labelled(k) for j, n in enumerate(layer) for i in range(len(n.w))]
    keys += [("caption", n, 0, 0) for n in range(lines)]
    place = {key: n for n, key in enumerate(keys)}

    def texts_of(view) -> list[str]:  # type: ignore[no-untyped-def]
        out = []
        for kind, a, b, c in keys:
            if kind == "value":
                out.append(view.values[a][b])
            elif kind == "delta":
                out.append(f"{drawer.names.delta(a, b)} = {view.deltas[a][b]}" if view.deltas[a][b] else "")
            elif kind == "grad":
                out.append(view.weight_grads[a][b][c])
            else:
                out.append(view.caption[a])
        return out

    def source_of(tokens: list[str]) -> str:
        shown = dict(zip(keys, tokens))
        view = NetworkView(
            [[shown[("value", c, r, 0)] for r in range(n)] for c, n in enumerate(columns)],
            [[shown[("delta", k, j, 0)] for j in range(len(layer))] for k, layer in enumerate(layers)],
            [[[shown.get(("grad", k, j, i), "") for i in range(len(n.w))] for j, n in enumerate(layer)] for k, layer in enumerate(layers)],
            caption=tuple(shown[("caption", n, 0, 0)] for n in range(lines)), caption_width=width,
            player=True, grad_chars=grad_chars, template=True,
        )
        return drawer.source(view)

    tokens = placeholders(len(keys), source_of)
    slots = tuple(Slot(token, key[0] != "caption") for token, key in zip(tokens, keys))  # captions are left-aligned
    frames = []
    for view in views:
        lit = [f"n{c}_{r}" for c, r in sorted(view.lit_neurons)] + [f"e{k}_{j}_{i}" for k, j, i in sorted(view.lit_edges)]
        fresh = sorted(place[key] for key in view.fresh if key in place)
        frames.append(PageFrame(tuple(texts_of(view)), tuple(lit), tuple(fresh), " ".join(line for line in view.caption if line)))
    return Template(source_of(tokens), slots, tuple(frames))


def _dot_template(walk, steps: list[Step], style: str, caption_lines: int, source_of) -> Template:  # type: ignore[no-untyped-def]
    """The page's one drawing and its frames: per value a data and a gradient text, then the caption's lines."""
    n = len(walk.values)
    tokens = placeholders(2 * n + caption_lines, source_of)
    data_prefix, grad_prefix = ("data ", "grad ") if style == "record" else ("", "")
    slots = [Slot(f"{data_prefix if k % 2 == 0 else grad_prefix}{token}", True) for k, token in enumerate(tokens[: 2 * n])]
    slots += [Slot(token, False) for token in tokens[2 * n :]]
    frames = []
    for step in steps:
        texts = [f"{data_prefix}{step.data[i]}" if k == 0 else f"{grad_prefix}{step.grads[i]}" for i in range(n) for k in (0, 1)]
        texts += [*step.caption, *[""] * (caption_lines - len(step.caption))]
        lit: list[str] = []
        fresh: list[int] = []
        if step.node is not None:
            lit.append(f"v{step.node}")
            if walk.values[step.node].op:
                lit.append(f"op{step.node}")
            lit += [f"e{i}_{k}" for i, k in sorted(step.edges)]
            if step.phase == "forward":
                fresh.append(2 * step.node)
            else:
                operands = walk.operands(step.node)
                fresh += sorted({2 * ref + 1 for _, k in step.edges for kind, ref in [operands[k]] if kind == "value"})
        frames.append(PageFrame(tuple(texts), tuple(lit), tuple(fresh), " ".join(step.caption)))
    return Template(source_of(tokens), tuple(slots), tuple(frames))


def _cell_widths(steps: list[Step], style: str, count: int) -> tuple[float, ...]:
    """Per value, a width its widest number in any frame fits: one layout for every frame."""
    prefix = len("data ") if style == "record" else 0
    longest = [1] * count
    for step in steps:
        for i in range(count):
            longest[i] = max(longest[i], len(step.data[i]), len(step.grads[i]))
    return tuple((n + prefix) * CHAR_WIDTH + 4 for n in longest)


class _Replay:
    """Forward and backward, node by node, with the op table: the frames' numbers and captions."""

    def __init__(self, values: list[Value], index: dict[int, int], names: dict, number: _Numbers) -> None:
        self.values, self.index, self.number = values, index, number
        self.show = lambda x: _number_text(x, number.fmt) if isinstance(x, float) else str(x)
        self.chain = walk_chain(values[0], "backprop_player")
        self.data = self.chain.stored_data()
        self.order = self._post_order()
        self.names = self._names(names)

    def _post_order(self) -> list[int]:
        """Op nodes, each after its operands, in the order Value.backward applies their rules
        (explain's walk, renumbered as the drawing numbers the values)."""
        chain = self.chain
        return [self.index[id(chain.nodes[c])] for c in reversed(chain.order) if chain.nodes[c].op]

    def _names(self, names: dict) -> list[str]:
        """What the captions call each value, never its number: its name (a parameter's short
        name, or x₀, x₁, … for an unnamed input), its label, z[l][j] for a neuron's Σw·x + b
        (the dot whose first weight is w[l][j][0]), its expression if short, else its op and its
        place in the drawing (tanh₁₂)."""
        result: list[str] = [""] * len(self.values)
        for i, value in enumerate(self.values):
            named = names.get(id(value))
            if named or value.label:
                result[i] = named[0] if named else value.label
            elif value.op == "dot" and value.operands and isinstance(value.operands[0], Value):
                first = names.get(id(value.operands[0]), ("", ""))[1]
                if first.endswith(".w.0"):
                    result[i] = "z" + "".join(f"[{part}]" for part in first[:-4].split(".") if part.isdigit())
        taken = set(result)
        for i in self.order:  # operands first, so their names are ready
            if result[i]:
                continue
            value = self.values[i]
            symbol = OPS[value.op].symbol
            parts = [result[self.index[id(a)]] if isinstance(a, Value) else self.show(a) for a in value.operands]
            if len(parts) == 2 and OPS[value.op].arity == 2:
                text = f"({parts[0]} {symbol} {parts[1]})"
            else:
                text = f"{symbol}({', '.join(parts)})"
            if len(text) > 28 or text in taken:  # the frame lights the node up; the tag names it in the caption
                text = value.op + str(i).translate(_SUBSCRIPTS)
            result[i] = text
            taken.add(text)
        return result

    def _local(self, value: Value, g: float) -> list[float]:
        """Each operand's share of ``g`` through this node, by the op table (g=1: the local derivatives)."""
        chain = self.chain
        return list(chain.backward_at(chain.index(value), g, self.data))  # type: ignore[arg-type]

    def steps(self) -> list[Step]:
        values, index, show, names = self.values, self.index, self.show, self.names
        n = len(values)
        known = [not v.op for v in values]
        data = lambda: tuple(show(v.data) if known[i] else "" for i, v in enumerate(values))  # noqa: E731
        blank = ("",) * n
        leaves: dict[int, None] = {}  # in the order the forward pass first uses them
        for i in self.order:
            leaves.update((index[id(a)], None) for a in values[i].operands if isinstance(a, Value) and not a.op)
        inputs = ", ".join(f"{names[i]} = {show(values[i].data)}" for i in leaves if names[i] != show(values[i].data))
        steps = [Step("forward", None, frozenset(), (_cut(f"Forward pass: the inputs {inputs or 'are given'}."),), data(), blank)]
        for k, i in enumerate(self.order, 1):
            value = values[i]
            op = OPS[value.op]
            parts = [show(a.data) if isinstance(a, Value) else show(a) for a in value.operands]
            expression = f"{parts[0]} {op.symbol} {parts[1]}" if op.arity == 2 else f"{op.symbol}({', '.join(parts[:4])}{', …' if len(parts) > 4 else ''})"
            known[i] = True
            edges = frozenset((i, p) for p, a in enumerate(value.operands) if isinstance(a, Value))
            caption = (_cut(f"Forward {k}/{len(self.order)}: {names[i]} = {expression} = {show(value.data)}"),)
            steps.append(Step("forward", i, edges, caption, data(), blank))
        final = data()
        if not self.order:  # a leaf alone: its gradient is the seed
            steps.append(Step("backward", 0, frozenset(), (f"Backward: ∂{names[0]}/∂{names[0]} = 1.",), final, (show(1.0),)))
            return steps

        # how many contributions each value's gradient gathers (a value used twice gets two)
        expected = [0] * n
        for i in self.order:
            for a in values[i].operands:
                if isinstance(a, Value):
                    expected[index[id(a)]] += 1
        received = [0] * n
        grads: list[float | None] = [None] * n
        grads[0] = 1.0

        def shown() -> tuple[str, ...]:
            texts = []
            for j, g in enumerate(grads):
                if g is None:
                    texts.append("")
                else:
                    texts.append(show(g) + (" + …" if received[j] < expected[j] else ""))
            return tuple(texts)

        root = names[0]
        steps.append(Step("backward", 0, frozenset(), (f"Backward pass: start at {root} with ∂{root}/∂{root} = 1.",), final, shown()))
        for k, i in enumerate(reversed(self.order), 1):
            value = values[i]
            g = grads[i]  # final: every user of values[i] came before it
            assert g is not None  # noqa: S101 - for type checkers; the order guarantees it
            shares, locals_ = self._local(value, g), self._local(value, 1.0)
            lines = [_cut(f"Backward {k}/{len(self.order)}: through {OPS[value.op].symbol}, ∂{root}/∂{names[i]} = {show(g)}")]
            edges = set()
            for position, (operand, share, local) in enumerate(zip(value.operands, shares, locals_)):
                if not isinstance(operand, Value):
                    continue
                j = index[id(operand)]
                before = grads[j]
                grads[j] = (0.0 if before is None else before) + share  # as Value.backward adds
                received[j] += 1
                edges.add((i, position))
                if len(lines) > MAX_OPERAND_LINES:
                    continue
                line = f"∂{root}/∂{names[j]} {'+' if before is not None else ''}= {show(g)} × {show(local)} = {show(share)}"
                if before is not None:
                    line += f", total {show(grads[j])} (used again: the paths add up)"
                lines.append(_cut(line + f"   [local ∂{names[i]}/∂{names[j]} = {show(local)}]"))
            hidden = len(edges) - (len(lines) - 1)
            if hidden > 0:
                lines.append(f"… and {hidden} more operands")
            steps.append(Step("backward", i, frozenset(edges), tuple(lines), final, shown()))
        return steps


def _cut(line: str, limit: int = 110) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Player:
    """The frames of a forward and backward pass, to show in Jupyter or save as HTML or GIF.

    Attributes:
        steps: per frame, what it shows (:class:`Step`).
        sources: per frame, its DOT text.
    """

    def __init__(self, steps: list[Step], sources: Callable[[], list[str]], renderer: str, template: Template) -> None:
        self.steps, self.renderer = steps, renderer
        self.template = template
        self._make_sources = sources
        self._sources: list[str] | None = None
        self._drawings: list[Drawing] | None = None
        self._page_svg: str | None = None

    @property
    def sources(self) -> list[str]:
        """Per frame, its DOT text (made on first use: the page needs only the template)."""
        if self._sources is None:
            self._sources = self._make_sources()
        return self._sources

    @property
    def drawings(self) -> list[Drawing]:
        """Per frame, its drawing (each renders once, on demand)."""
        if self._drawings is None:
            self._drawings = [Drawing(source, self.renderer) for source in self.sources]
        return self._drawings

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        forward = sum(step.phase == "forward" for step in self.steps)
        return f"<viz.Player: {len(self)} frames ({forward} forward, {len(self) - forward} backward)>"

    @property
    def frames(self) -> list[str]:
        """Each frame as SVG text, as draw_dot renders it (rendered once, then cached; the GIF's frames)."""
        return [drawing.svg() for drawing in self.drawings]

    def page_svg(self) -> str:
        """The page's one drawing: the frames' layout, with the changing texts empty and named s0, s1, …"""
        if self._page_svg is None:
            self._page_svg = page_svg(Drawing(self.template.source, self.renderer).svg(), self.template.slots)
        return self._page_svg

    def html(self) -> str:
        """The player as one self-contained HTML page: the drawing once, each frame's changes, styles and script inline."""
        parts = {"SVG": self.page_svg(), "FRAMES": frames_json(self.template.frames), "LAST": str(len(self) - 1)}
        # one pass over the template: a placeholder-like text inside the parts is never replaced
        return re.sub("__(SVG|FRAMES|LAST)__", lambda m: parts[m.group(1)], _PAGE)

    def _repr_html_(self) -> str:
        # the drawing's height, points → CSS pixels, plus the controls' row and the page's margins
        height = _svg_height(self.page_svg()) * 96 / 72 + 64
        return (
            f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
            f'style="width: 100%; height: {height:.0f}px; border: 0" sandbox="allow-scripts"></iframe>'
        )

    def gif(self, ms: int = GIF_MS) -> bytes:
        """The frames as an animated GIF that loops; the first and last frames show 3× longer."""
        try:
            from PIL import Image
        except ImportError:
            raise RendererError("backprop_player(...).save('x.gif') needs Pillow: pip install 'gradtrace[media]'") from None
        # PNGs as draw_dot's drawings make them (graphviz-pure; resvg with NanumGothic for Hangul)
        images = [Image.open(io.BytesIO(drawing.pipe("png"))).convert("RGB") for drawing in self.drawings]
        width, height = max(im.width for im in images), max(im.height for im in images)
        padded = []
        for im in images:  # frames of one layout are one size; pad any stray pixel of difference
            frame = Image.new("RGB", (width, height), "white")
            frame.paste(im, (0, 0))
            padded.append(frame)
        # one palette for every frame, from the last (it has every colour: highlight, lit edges,
        # gradients), so colours do not flicker between frames and each frame is mapped quickly
        palette = padded[-1].quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        canvas = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in padded]
        durations = [ms] * len(canvas)
        durations[0] = durations[-1] = 3 * ms
        out = io.BytesIO()
        canvas[0].save(out, format="GIF", save_all=True, append_images=canvas[1:], duration=durations, loop=0)
        return out.getvalue()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.html`` (one self-contained page) or ``.gif`` (animated); written atomically."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".html":
            data = self.html().encode("utf-8")
        elif suffix == ".gif":
            data = self.gif()
        else:
            raise ValueError(f"Player.save: writes .html or .gif; got {suffix or 'a file without a suffix'} ({target.name!r})")
        with atomic_open(target, binary=True) as file:  # a failed write leaves the old file as it was
            file.write(data)
        return target


def _svg_height(svg: str) -> float:
    """The height in points that the SVG's root element declares."""
    start = svg.find('height="')
    try:
        return float(svg[start + 8 : svg.index("pt", start)]) if start >= 0 else 300.0
    except ValueError:
        return 300.0


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gradtrace: backprop, step by step</title>
<style>
body { font-family: Arimo, 'Liberation Sans', Helvetica, Arial, sans-serif; margin: 8px; background: white; }
#controls { display: flex; align-items: center; gap: 6px; margin-bottom: 6px; }
#controls button { font-size: 15px; min-width: 2.4em; }
#slider { flex: 1; max-width: 420px; }
#counter { font-variant-numeric: tabular-nums; color: #444; }
#frame svg { display: block; width: auto; height: auto; max-width: 100%; }
/* "fit": the whole frame, caption included, in view; a large graph scales down instead of scrolling */
#frame.fit svg { max-height: calc(100vh - 56px); }
/* a frame's current node and the edges whose local derivatives are multiplied; its new numbers in bold */
#frame g.node.current polygon { fill: #ffd54f; }
#frame g.node.current ellipse { fill: #ffd54f; stroke-width: 2.5; }
#frame g.edge.current path { stroke: #1f6fd1; stroke-width: 2.5; }
#frame g.edge.current polygon { fill: #1f6fd1; stroke: #1f6fd1; }
#frame g.node.neuron.current ellipse { stroke: #d62728; }
#frame g.edge.weight.current path { stroke: #d62728; stroke-width: 4; }
#frame g.edge.weight.current polygon { fill: #d62728; stroke: #d62728; }
#frame text.fresh { font-weight: bold; }
</style></head>
<body tabindex="0">
<div id="controls">
  <button id="prev" title="previous step (←)">&#9664;</button>
  <button id="play" title="play / pause (space)">&#9654; play</button>
  <button id="next" title="next step (→)">&#9654;&#9654;</button>
  <input id="slider" type="range" min="0" max="__LAST__" value="0" aria-label="step">
  <span id="counter"></span>
  <button id="fit" title="fit the whole drawing in the window (f)">fit</button>
</div>
<div id="frame" role="img">__SVG__</div>
<p id="caption" hidden></p>
<script>
(function () {
  const frames = __FRAMES__;
  const frame = document.getElementById("frame"), slider = document.getElementById("slider");
  const counter = document.getElementById("counter"), play = document.getElementById("play");
  const caption = document.getElementById("caption");
  // the texts that change, by slot; each frame's full set of texts, from the changes it lists
  const slots = [];
  frame.querySelectorAll("text.slot").forEach(function (t) { slots[Number(t.id.slice(1))] = t; });
  const states = [];
  let texts = [];
  frames.forEach(function (f) { f.t.forEach(function (change) { texts[change[0]] = change[1]; }); states.push(texts.slice()); });
  let current = 0, timer = null, shown = [], lit = [], bold = [];
  function mark(ids, cls, on) {
    ids.forEach(function (id) { const e = typeof id === "number" ? slots[id] : document.getElementById(id); if (e) e.classList.toggle(cls, on); });
  }
  function show(i) {
    current = Math.max(0, Math.min(frames.length - 1, i));
    const want = states[current];
    for (let n = 0; n < slots.length; n++) {
      const text = want[n] === undefined ? "" : want[n];
      if (shown[n] !== text && slots[n]) { slots[n].textContent = text; shown[n] = text; }
    }
    mark(lit, "current", false); lit = frames[current].lit; mark(lit, "current", true);
    mark(bold, "fresh", false); bold = frames[current].bold; mark(bold, "fresh", true);
    frame.setAttribute("aria-label", frames[current].say);
    caption.textContent = frames[current].say;
    slider.value = current;
    counter.textContent = "step " + current + " of " + (frames.length - 1);
    document.body.dataset.frame = current;
  }
  function stop() { if (timer !== null) { clearInterval(timer); timer = null; } play.innerHTML = "&#9654; play"; }
  function start() {
    if (current === frames.length - 1) show(0);
    play.innerHTML = "&#10074;&#10074; pause";
    timer = setInterval(function () { show(current + 1); if (current >= frames.length - 1) stop(); }, 1200);
  }
  document.getElementById("fit").onclick = function () { frame.classList.toggle("fit"); };
  play.onclick = function () { if (timer === null) start(); else stop(); };
  document.getElementById("prev").onclick = function () { stop(); show(current - 1); };
  document.getElementById("next").onclick = function () { stop(); show(current + 1); };
  slider.oninput = function () { stop(); show(parseInt(slider.value, 10)); };
  document.addEventListener("keydown", function (e) {
    if (e.target === slider) return;  // the slider handles its own arrows
    if (e.key === "ArrowRight" || e.key === "ArrowDown") { stop(); show(current + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { stop(); show(current - 1); e.preventDefault(); }
    else if (e.key === " ") { play.onclick(); e.preventDefault(); }
    else if (e.key === "f") { frame.classList.toggle("fit"); }
    else if (e.key === "Home") { stop(); show(0); e.preventDefault(); }
    else if (e.key === "End") { stop(); show(frames.length - 1); e.preventDefault(); }
  });
  show(0);
  document.body.focus();
})();
</script>
</body></html>
"""
