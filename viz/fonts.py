"""A Hangul font for plots: the lectures' Korean terms (손실함수, 기울기 소실, ...) render as glyphs, not boxes.

matplotlib ships DejaVu Sans, which has no Hangul. The ``plot`` extra installs
`koreanize-matplotlib <https://pypi.org/project/koreanize-matplotlib/>`_ for the
NanumGothic TrueType file it carries (SIL Open Font License). Its module is not
imported: importing it would replace the whole font setting and it needs
``distutils``, gone from Python 3.12. :func:`use_hangul_font` registers the file with
matplotlib and adds NanumGothic as a fallback after the current fonts, so Latin text
keeps its look and only characters the first fonts lack (Hangul) come from NanumGothic.
viz's plots call it themselves; call it before drawing your own figures with Korean text.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["HANGUL_FONT", "hangul_font_path", "use_hangul_font"]

HANGUL_FONT = "NanumGothic"
_PACKAGE, _FILE = "koreanize_matplotlib", "fonts/NanumGothic.ttf"


def hangul_font_path() -> Path | None:
    """The NanumGothic .ttf file shipped by koreanize-matplotlib, or None when that package is not installed.

    Found without importing the package (``find_spec`` only locates it).
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _FILE
    return path if path.is_file() else None


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
