"""The player's page: one drawing, and per frame only what changes (texts, which parts are lit).

A player's frames share one layout, so the page holds the drawing once. It is rendered from a
*template*: the drawing with a placeholder (a string of digits that nothing else in the DOT
contains) in every text that changes between frames. The placeholders are found in the SVG,
given ids and emptied; the page's script then sets, per frame, those texts (``textContent``,
so any text stays text), and the classes that light up nodes and edges (``current``) and
make new numbers bold (``fresh``).

Graphviz writes the texts of HTML-like labels left-anchored at an x computed from its font
metrics (Helvetica's). A centred cell's texts are re-anchored at their middle, computed from
the placeholder's width in those metrics, so that texts of any width stay centred.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._safe import LONGEST, printable, script_json

__all__ = ["PageFrame", "Slot", "Template", "page_svg", "placeholders"]

# Helvetica's advance widths (per 1000 em) for the characters placeholders are made of
_WIDTHS = {**dict.fromkeys("0123456789", 556), " ": 278, "a": 556, "d": 556, "g": 556, "r": 333, "t": 278}


@dataclass(frozen=True)
class Slot:
    """A text that changes between frames: its placeholder as the template writes it."""

    placeholder: str
    centred: bool


@dataclass(frozen=True)
class PageFrame:
    """What one frame shows: a text per slot, the ids of the lit nodes and edges, the slots in
    bold, and the caption as one line (for screen readers and the page's hidden caption)."""

    texts: tuple[str, ...]
    lit: tuple[str, ...]
    fresh: tuple[int, ...]
    caption: str


@dataclass(frozen=True)
class Template:
    """The DOT of the drawing with placeholders, its slots and its frames."""

    source: str
    slots: tuple[Slot, ...]
    frames: tuple[PageFrame, ...]


def placeholders(count: int, source_of: object) -> list[str]:
    """``count`` placeholders (digit strings) that ``source_of(tokens)`` contains once each.

    The DOT holds user text and numbers, which might contain a placeholder; each of the digits
    9 to 1 is tried as the tokens' first digit until none is found anywhere else. (page_svg
    checks again that each is one whole text of the SVG.)
    """
    width = len(str(max(count - 1, 0)))
    for first in "987654321":
        tokens = [f"{first}{n:0{width}d}" for n in range(count)]
        source = source_of(tokens)  # type: ignore[operator]
        # a token counts where it stands alone: not inside a longer number (positions such as
        # "3.300", widths, "#555555"), where it could never be a whole text of the drawing
        alone = re.findall(r"(?<![\d.])\d+(?![\d.])", source)
        seen: dict[str, int] = {}
        for number in alone:
            seen[number] = seen.get(number, 0) + 1
        if all(seen.get(token, 0) == 1 for token in tokens):
            return tokens
    raise RuntimeError("no placeholder digits are free in this drawing")  # pragma: no cover - needs all nine in use


_TEXT = re.compile(r'<text ([^>]*)>([^<]*)</text>')
_X = re.compile(r'\bx="(-?[\d.]+)"')
_COMMENT = re.compile(r"<!--.*?-->\n?", re.DOTALL)  # user text in the SVG is escaped: "<!--" is only ever Graphviz's
_SIZE = re.compile(r'\bfont-size="([\d.]+)"')


def page_svg(svg: str, slots: Sequence[Slot]) -> str:
    """The template's SVG for the page: each slot's text gets the id ``s<n>``, is emptied and,
    if centred, anchored at its middle; the XML prolog and comments are dropped (the SVG goes inline)."""
    wanted = {slot.placeholder: n for n, slot in enumerate(slots)}
    found: set[int] = set()

    def replace(match: re.Match[str]) -> str:
        attributes, content = match.group(1), match.group(2)
        n = wanted.get(content)
        if n is None:
            return match.group(0)
        if n in found:
            raise RuntimeError(f"the player's placeholder {content} appears twice in its drawing")
        found.add(n)
        if slots[n].centred and 'text-anchor="start"' in attributes:
            size = float(_SIZE.search(attributes).group(1))  # type: ignore[union-attr]
            x = float(_X.search(attributes).group(1))  # type: ignore[union-attr]
            middle = x + sum(_WIDTHS[c] for c in content) * size / 2000
            attributes = _X.sub(f'x="{middle:.2f}"', attributes.replace('text-anchor="start"', 'text-anchor="middle"'), count=1)
        return f'<text id="s{n}" class="slot" {attributes}></text>'

    svg = _TEXT.sub(replace, svg)
    if len(found) != len(slots):
        missing = [slots[n].placeholder for n in range(len(slots)) if n not in found][:3]
        raise RuntimeError(f"the player's drawing lost texts {missing} (the renderer split or dropped them)")
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    return _COMMENT.sub("", svg)  # Graphviz's comments name each node and edge again: bytes the page need not hold


def frames_json(frames: Sequence[PageFrame]) -> str:
    """The frames as the page's script reads them: per frame the texts that changed since the
    frame before ([slot, text] pairs), the lit ids, the bold slots and the caption."""
    out = []
    before: tuple[str, ...] | None = None
    for frame in frames:
        texts = tuple(printable(text) for text in frame.texts)  # the one place the frames' texts enter the page
        changed = [[n, text] for n, text in enumerate(texts) if before is None or before[n] != text]
        out.append({"t": changed, "lit": list(frame.lit), "bold": list(frame.fresh), "say": printable(frame.caption, 4 * LONGEST)})
        before = texts
    return script_json(out)
