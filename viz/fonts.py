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

Plots use the same NanumGothic file: matplotlib ships DejaVu Sans, which has no Hangul.
:func:`use_hangul_font` registers the file with matplotlib and adds NanumGothic as a
fallback after the current fonts, so Latin text keeps its look and only characters the
first fonts lack (the lectures' 손실함수, 기울기 소실) come from NanumGothic. The
koreanize-matplotlib module itself is never imported: importing it would replace the
whole font setting, and it needs ``distutils``, gone from Python 3.12.
"""

from __future__ import annotations

import importlib.metadata
import re
from functools import cache
from pathlib import Path

from .render import DEFAULT_TIMEOUT, Graph, RendererError, check_timeout

__all__ = [
    "FONT_FAMILY",
    "HANGUL_FONT",
    "Drawing",
    "hangul_font_path",
    "hangul_fonts",
    "has_hangul",
    "rasterize",
    "text_width",
    "use_hangul_font",
]

HANGUL_FONT = "NanumGothic"

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
        return tuple(path for _, path in sorted(found.items()) if path.is_file())  # regular first
    raise RendererError(f"drawing Hangul into a PNG or GIF needs the NanumGothic font of koreanize-matplotlib: {_MEDIA}")


def hangul_font_path() -> Path | None:
    """The NanumGothic .ttf file shipped by koreanize-matplotlib, or None when that package is not installed."""
    try:
        return hangul_fonts()[0]
    except RendererError:
        return None


def use_hangul_font() -> str | None:
    """Register NanumGothic with matplotlib and make it the fallback font for Hangul; return its name.

    Idempotent. Returns None, changing nothing, when the font is not installed
    (``pip install gradtrace[plot]`` installs it); matplotlib then draws Hangul as boxes
    and warns "Glyph ... missing from font(s)".
    """
    path = hangul_font_path()
    if path is None:
        return None
    import matplotlib
    from matplotlib import font_manager

    if HANGUL_FONT not in {font.name for font in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(path))
    families = list(matplotlib.rcParams["font.family"])
    if HANGUL_FONT not in families:
        matplotlib.rcParams["font.family"] = [*families, HANGUL_FONT]  # a fallback: per glyph, after the others
    return HANGUL_FONT


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
