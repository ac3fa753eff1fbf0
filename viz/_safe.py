"""User text → each format viz writes, as text and never as markup: the one place per format.

Any string a user gives (a label, a ``names=`` key, the name or symbol of an op of their own)
and any caption or tooltip made from such strings reaches a drawing or a page through one of
these functions, chosen by where it goes:

- :func:`dot_label`: the text of a Graphviz HTML-like label (``<td>…</td>``);
- :func:`dot_label_attribute`: an attribute inside such a label (``<td title="…">``);
- :func:`dot_attribute`: a DOT attribute value (``tooltip=…``), always a quoted string;
- :func:`html_text`: text in an HTML page;
- :func:`script_json`: data in a page's ``<script>``;
- :func:`latex_text`: text in LaTeX math (MathJax/KaTeX).

Each first makes the string :func:`printable`: lone surrogates (which no UTF-8 file can hold),
control characters (which XML forbids), NUL and the Unicode direction overrides (which would
reorder the text drawn after them) are written as visible escapes such as ``\\x1b`` and
``\\u202e``; a string longer than :data:`LONGEST` characters is cut, saying how long it was.
"""

from __future__ import annotations

import html
import json
import re

import graphviz

__all__ = [
    "LONGEST",
    "dot_attribute",
    "dot_label",
    "dot_label_attribute",
    "html_text",
    "latex_text",
    "printable",
    "script_json",
]

LONGEST = 300  # characters of one user string that a drawing or page shows

# C0 controls other than newline and tab, DEL, C1 controls, the Unicode noncharacters, and the
# bidirectional embeddings, overrides, isolates and marks.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef"
    + "".join(chr(plane * 0x10000 + 0xFFFE) + chr(plane * 0x10000 + 0xFFFF) for plane in range(17))
    + "]"
)


def printable(s: object, limit: int = LONGEST) -> str:
    """``s`` as text every format can hold and show literally (see the module's docstring)."""
    s = s if isinstance(s, str) else str(s)
    if len(s) > limit:
        s = s[: limit - 1] + f"… ({len(s):,} characters)"
    s = s.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates → \udc80
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), s)


def dot_label(s: object) -> str:
    """Text for a Graphviz HTML-like label: entities for ``& < > " '``, lines as ``<br/>``."""
    s = html.escape(printable(s), quote=True)
    # Graphviz expands escapes such as \N (the node's name) even in HTML-like labels, after
    # decoding entities; a doubled backslash is its way of writing one backslash.
    s = s.replace("\\", "\\\\")
    return s.replace("\n", "<br/>")


def dot_label_attribute(s: object) -> str:
    """An attribute value inside an HTML-like label (``title="…"``): entities only, no markup."""
    return html.escape(printable(s), quote=True).replace("\\", "\\\\").replace("\n", "&#10;")


def dot_attribute(s: object) -> graphviz.nohtml:  # type: ignore[valid-type]
    """A DOT attribute value (a tooltip): always a quoted string, never ``<…>`` HTML.

    Graphviz reads entities in such strings (``&amp;``) and then reads backslash escapes twice
    for tooltips (``\\N`` is the node's name after the second reading): so ``&`` is written as
    ``&amp;`` and each backslash as four; the graphviz package escapes the quotes.
    """
    return graphviz.nohtml(printable(s).replace("&", "&amp;").replace("\\", "\\" * 4))


def html_text(s: object) -> str:
    """Text in an HTML page (element content or a quoted attribute)."""
    return html.escape(printable(s), quote=True)


_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: object) -> str:
    """``data`` as a JavaScript literal to put inside ``<script>``: JSON with ``< > &`` written as
    ``\\u003c``…, so no ``</script>``, ``<!--`` or ``]]>`` can end or change the script."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_UNSAFE[m.group()], text)


_LATEX_SPECIALS = {
    "\\": r"\backslash ", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\hat{\ }", "~": r"\sim ", "<": r"\lt ", ">": r"\gt ",
}


def latex_text(s: object) -> str:
    r"""User text for math mode: letters (any script) in \\text{}, specials as math symbols.

    Both MathJax and KaTeX read \\text{} literally, so characters that LaTeX, Markdown or HTML
    treat specially are kept out of it and written as their math-mode commands (``<`` as
    ``\lt``, so no HTML tag can form in a Markdown cell either).
    """
    parts: list[str] = []
    run = ""
    for ch in printable(s):
        if ch in _LATEX_SPECIALS or ch == "\n":
            if run:
                parts.append(r"\text{" + run + "}")
                run = ""
            parts.append(_LATEX_SPECIALS.get(ch, r"\ "))
        else:
            run += ch
    if run:
        parts.append(r"\text{" + run + "}")
    return "".join(parts) or r"\text{}"
