"""Fonts for drawings: SVG text that fits its boxes in any viewer, and Hangul in PNGs.

The layout measures text with Helvetica's metrics (graphviz-pure's built-in table; its
drawings ask for Arimo, which has the same metrics). The SVG then names, in order, fonts with
those metrics (Arimo, Liberation Sans, Helvetica, Arial), so a viewer without Helvetica or
Arial (a bare Linux with only DejaVu) does not draw wider text that spills out of the boxes,
and after them Korean fonts for Hangul.

graphviz-pure's PNG writer only has its bundled Latin fonts: Hangul comes out as boxes.
A drawing with Hangul is therefore rasterized from its SVG by resvg (the rasterizer
graphviz-pure itself is built on) with NanumGothic, the font that the
``koreanize-matplotlib`` package ships (both in gradtrace's ``media`` extra).
"""

from __future__ import annotations

import importlib.metadata
import re
from functools import cache
from pathlib import Path

from .render import DEFAULT_TIMEOUT, Graph, RendererError, check_timeout

__all__ = ["FONT_FAMILY", "Drawing", "hangul_fonts", "has_hangul", "rasterize", "text_width"]

FONT_FAMILY = "Arimo,'Liberation Sans',Helvetica,Arial,NanumGothic,'Apple SD Gothic Neo','Malgun Gothic',sans-serif"
_ARIMO = re.compile(r'font-family="Arimo"')
# Hangul Jamo, compatibility Jamo, Jamo extended A and B, syllables
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
_POINTS = re.compile(r'\b(width|height)="([\d.]+)pt"')
_MEDIA = "pip install 'gradtrace[media]'"


def has_hangul(text: str) -> bool:
    """Whether ``text`` has Korean letters, which graphviz-pure's own fonts lack."""
    return _HANGUL.search(text) is not None


HANGUL_EM = 0.94  # NanumGothic's advance for every Hangul syllable, in ems
OTHER_EM = 0.62  # a bound on Helvetica's advances for the usual letters, digits and signs


def text_width(text: str, size: float) -> float:
    """Points that ``text`` needs at ``size`` points: a bound, for boxes the layout must widen.

    graphviz-pure's metrics know no Hangul and count each of a syllable's three UTF-8 bytes as
    a space (0.83 em in all, where NanumGothic draws 0.94 em): a Hangul label would spill out
    of its box. Drawings give such text this width as a minimum.
    """
    longest = max(text.split("\n"), key=len, default="")
    return sum(HANGUL_EM if has_hangul(c) else OTHER_EM for c in longest) * size


@cache
def hangul_fonts() -> tuple[Path, ...]:
    """NanumGothic regular and bold, as koreanize-matplotlib installs them (found without importing matplotlib)."""
    try:
        files = importlib.metadata.distribution("koreanize-matplotlib").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    found = {file.name: Path(str(file.locate())) for file in files if file.name in ("NanumGothic.ttf", "NanumGothicBold.ttf")}
    if "NanumGothic.ttf" in found and found["NanumGothic.ttf"].is_file():
        return tuple(path for _, path in sorted(found.items()) if path.is_file())
    raise RendererError(f"drawing Hangul into a PNG or GIF needs the NanumGothic font of koreanize-matplotlib: {_MEDIA}")


def rasterize(svg: str, zoom: float = 1.0) -> bytes:
    """PNG bytes of ``svg``, drawn by resvg with NanumGothic for Hangul."""
    try:
        import resvg_py
    except ImportError:
        raise RendererError(f"drawing Hangul into a PNG or GIF needs resvg-py: {_MEDIA}") from None
    # resvg-py takes sizes in pixels only: points → pixels at 96 dpi, the scale graphviz-pure's PNGs have
    svg = _POINTS.sub(lambda m: f'{m.group(1)}="{float(m.group(2)) * 96 / 72:.2f}"', svg, count=2)
    png = resvg_py.svg_to_bytes(svg_string=svg, font_files=[str(path) for path in hangul_fonts()], background="white", zoom=zoom)
    return bytes(png)


class Drawing(Graph):
    """A :class:`viz.Graph` whose SVG names fonts with the layout's metrics and whose PNG
    shows Hangul."""

    def svg(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        check_timeout(timeout)  # as Graph.svg does, even when the SVG is cached
        if self._svg is None:
            self._svg = _ARIMO.sub(f'font-family="{FONT_FAMILY}"', super().svg(timeout))
        return self._svg

    def pipe(self, fmt: str = "svg", timeout: float = DEFAULT_TIMEOUT) -> bytes:
        if fmt == "png" and self.renderer == "graphviz-pure" and has_hangul(self.source):
            return rasterize(self.svg(timeout))
        return super().pipe(fmt, timeout)
