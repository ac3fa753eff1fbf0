"""Hostile text in every format viz writes: labels, ``names=`` keys, and the names and symbols of
ops of your own, taken from a corpus an attacker would try (quotes, angle brackets,
``javascript:`` URLs, HTML comments, script tags, the page template's own placeholders, control
characters, NUL, lone surrogates, a 10⁶-character string, direction overrides).

Every output must parse (DOT by the renderer, SVG as XML, pages by html5lib as browsers parse
HTML, LaTeX by latex2mathml); no element, attribute, link or script may come from user text
(checked against the same drawing made with harmless names: the hostile one may use no element
or attribute the harmless one does not); and each string must show as text."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import html5lib
import pytest
from latex2mathml.converter import convert

import autograd
from autograd import Value
from viz import backprop_player, draw_dot, explain, nudge
from viz._safe import LONGEST, printable
from viz.draw import _short_name

CORPUS = [
    '<x> URL="javascript:alert(document.domain)" label=<PWNED> y=<z>',
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">click</a>',
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<script>alert(1)</script>",
    "</script><script>alert(2)</script>",
    "<!--<script>",
    "-->",
    "<![CDATA[ ]]>",
    "<i>x</i>",
    "<b>bold",
    "<<x>>",
    '"',
    "'\"'",
    "\\",
    "ends with a backslash\\",
    "\\N \\G \\E \\T \\H \\L \\n \\l \\r",
    '\\" quoted',
    "]; evil [label=PWNED",
    "} digraph { pwn",
    "a | b { c } d",
    "&amp; &lt; &#x3c; &#60;",
    "__CAPTIONS__",
    "__FRAMES__",
    "__SVG__",
    "__LAST__",
    "${x} {{x}} %s {0}",
    "90",
    "9000",
    "line one\nline two",
    "carriage\r\nreturn",
    "tab\there",
    "nul\x00byte",
    "escape \x1b[31mred\x1b[0m bell\x07 del\x7f c1\x85",
    "lone \ud800 surrogate \udfff",
    "\u202eevil override",
    "rtl \u200f mark \u2066isolate\u2069",
    "\ufffe\uffff nonchars",
    "$$ \\end{aligned} $ % # ^ _ ~ & { }",
    "\\text{x} \\href{javascript:alert(1)}{y}",
    "사과 🍎 μ",
    "A" * 10**6,
]
NAMES = [f"n {k}" for k in range(len(CORPUS))]  # harmless stand-ins, same structure (quoted in DOT too)


def build(texts: list[str]) -> tuple[Value, dict[str, Value], list[Value]]:
    """One graph with every text as a leaf's label, a parameter's name and an op's name and symbol."""
    terms, names, leaves = [], {}, []
    for k, text in enumerate(texts):
        op = autograd.primitive(lambda x: 2.0 * x, name=f"{text}#{k}", symbol=text)
        op.derivative(lambda g, out, x: 2.0 * g)
        leaf, weight = Value(k + 1.0, label=text), Value(0.5)
        names[text] = weight
        leaves.append(leaf)
        terms.append(op(leaf * weight))
    total = autograd.sum(terms)
    total.label = texts[0]
    return total, names, leaves


def local(name: object) -> str:
    return name.rsplit("}", 1)[-1] if isinstance(name, str) else "#comment"


def vocabulary(root: ET.Element) -> set[tuple[str, str]]:
    """(element, attribute) names used, '' for an element's own entry."""
    used = set()
    for element in root.iter():
        used.add((local(element.tag), ""))
        used.update((local(element.tag), local(attribute)) for attribute in element.attrib)
    return used


def shape(root: ET.Element) -> list[str]:
    """The tags in document order, with Graphviz's group classes: the drawing's structure."""
    return [f"{local(e.tag)}.{e.get('class', '')}" for e in root.iter() if local(e.tag) not in ("text", "title")]


def check_no_active_content(root: ET.Element) -> None:
    for element in root.iter():
        assert local(element.tag) not in ("script", "iframe", "object", "embed", "foreignObject", "style", "link")
        for attribute, value in element.attrib.items():
            name = local(attribute).lower()
            assert not name.startswith("on"), (element.tag, attribute)
            assert name not in ("href", "src", "action", "formaction", "style", "url"), (element.tag, attribute)
            assert "javascript:" not in value.lower() or name == "title", (element.tag, attribute, value)


def svg_texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter() if local(e.tag) == "text"]


def shown_lines(text: str) -> list[str]:
    """What a drawing shows of ``text``: its printable lines (a blank line shows nothing)."""
    return [line for line in printable(text).split("\n") if line.strip()]


@pytest.fixture(scope="module")
def harmless() -> dict[str, str]:
    before = set(autograd.OPS)
    total, names, _ = build(NAMES)
    out = {style: draw_dot(total, style=style, names=names).svg() for style in ("record", "lecture")}
    for name in set(autograd.OPS) - before:  # a module fixture runs outside the per-test own_ops clean-up
        autograd.OPS.pop(name)
    return out


@pytest.mark.parametrize("style", ["record", "lecture"])
def test_draw_dot_shows_hostile_text_as_text(style: str, harmless: dict[str, str]) -> None:
    total, names, _ = build(CORPUS)
    graph = draw_dot(total, style=style, names=names)
    svg = graph.svg()  # the renderer parsed the DOT
    root = ET.fromstring(svg)  # and wrote XML
    reference = ET.fromstring(harmless[style])
    check_no_active_content(root)
    assert vocabulary(root) <= vocabulary(reference)
    assert shape(root) == shape(reference)  # no node, edge or attribute more or less
    texts = svg_texts(root)
    joined = "\n".join(texts)
    for text in CORPUS:
        for line in shown_lines(text):  # the label
            assert line.strip() in joined, line[:80]
        for line in shown_lines(_short_name(text)):  # the name given, shown short
            assert line.strip() in joined, line[:80]
    # the long string is cut, saying how long it was; the names' full text are the tooltips
    assert any(t.startswith("A" * (LONGEST - 1) + "… (1,000,000 characters)") for t in texts)
    titles = {e.get("{http://www.w3.org/1999/xlink}title") for e in root.iter() if local(e.tag) == "a"}
    titles |= {e.get("title") for e in root.iter() if e.get("title")}
    ops = {printable(f"{text}#{k}") for k, text in enumerate(CORPUS)}
    assert {t.replace("\n", " ") for t in ops} <= {t.replace("\n", " ") for t in titles if t}


def dot_skeleton(source: str) -> str:
    """The DOT text with each value (quoted string, <…> HTML string or bare ID) replaced by S:
    what is left is the statements and attribute names."""
    out, i = [], 0
    while i < len(source):
        c = source[i]
        if c == '"':
            i += 1
            while source[i] != '"':
                i += 2 if source[i] == "\\" else 1
            out.append("S")
        elif c == "<":
            depth = 0
            while True:
                depth += {"<": 1, ">": -1}.get(source[i], 0)
                if depth == 0:
                    break
                i += 1
            out.append("S")
        else:
            out.append(c)
        i += 1
    # a value that is a bare DOT ID (the graphviz package leaves those unquoted) is a value too
    skeleton = re.sub(r"=[^\s\]\[,;=]+", "=S", "".join(out))
    return skeleton.replace(" width=S", "")  # Hangul text widens its node (viz.fonts)


@pytest.mark.parametrize("style", ["record", "lecture"])
def test_draw_dot_source_keeps_user_text_inside_strings(style: str) -> None:
    hostile, hostile_names, _ = build(CORPUS)
    hostile_source = draw_dot(hostile, style=style, names=hostile_names).source
    harmless, harmless_names, _ = build(NAMES)
    harmless_source = draw_dot(harmless, style=style, names=harmless_names).source
    assert dot_skeleton(hostile_source) == dot_skeleton(harmless_source)
    assert "javascript:alert" in hostile_source  # there, as text


def test_player_page_is_html_whose_only_script_is_ours(harmless: dict[str, str]) -> None:
    total, names, _ = build(CORPUS)
    player = backprop_player(total, names=names, max_nodes=None)
    page = player.html()
    document = html5lib.parse(page, namespaceHTMLElements=False)
    check_no_active_content_html(document)
    scripts = [e for e in document.iter() if local(e.tag) == "script"]
    assert len(scripts) == 1
    script = scripts[0].text
    literal = script.split("const frames = ", 1)[1].split(";\n  const frame = ", 1)[0]
    frames = json.loads(literal)
    assert len(frames) == len(player)
    from viz.player import _PAGE

    ours = _PAGE.split("<script>")[1].split("</script>")[0]
    assert script == ours.replace("__FRAMES__", literal)  # nothing else came into the script
    said = " ".join(frame["say"] for frame in frames)
    assert CORPUS[0] in said  # the root's label, in the captions as text
    for frame in frames:  # every text the script sets is printable: no surrogate, control or override
        assert frame["say"] == printable(frame["say"], 10**9)
        assert all(text == printable(text, 10**9) for _, text in frame["t"])
    page.encode("utf-8")
    shown = "\n".join(e.text or "" for e in document.iter() if local(e.tag) == "text")
    for text in CORPUS:
        for line in shown_lines(text):
            assert line.strip() in shown, line[:80]
    # the one drawing in the page: as draw_dot's, no element or attribute from user text
    svgs = [e for e in document.iter() if local(e.tag) == "svg"]
    assert len(svgs) == 1
    assert page.count("<svg") == 1
    small = backprop_player(build(CORPUS[:8])[0])  # Jupyter's iframe: the page as its srcdoc, nothing else
    inline = html5lib.parse(small._repr_html_(), namespaceHTMLElements=False)
    frames_in = [e for e in inline.iter() if local(e.tag) == "iframe"]
    assert len(frames_in) == 1 and frames_in[0].get("srcdoc") == small.html()
    assert not [e for e in inline.iter() if local(e.tag) == "script"]


def check_no_active_content_html(document: ET.Element) -> None:
    """Only the page's own elements: no link, no handler, no javascript: anywhere."""
    for element in document.iter():
        tag = local(element.tag)
        assert tag not in ("iframe", "object", "embed", "foreignObject", "link", "img", "a", "form") or (
            tag == "a" and not any(local(a) == "href" for a in element.attrib)
        ), tag
        for attribute, value in element.attrib.items():
            name = local(attribute).lower()
            assert not name.startswith("on"), (tag, attribute)
            assert name not in ("href", "src", "action", "formaction"), (tag, attribute)
            if name != "title":
                assert "javascript:" not in value.lower(), (tag, attribute, value)


def test_player_frames_svg_parse_with_hostile_text() -> None:
    total, names, _ = build(CORPUS[:12])
    player = backprop_player(total, names=names, max_nodes=None)
    for svg in (player.drawings[0].svg(), player.drawings[-1].svg(), player.page_svg()):
        root = ET.fromstring(svg)
        check_no_active_content(root)


def test_explain_latex_parses_and_holds_no_markup() -> None:
    total, names, leaves = build(CORPUS)
    explanations = explain(total, leaves, names=names)
    latex = explanations._repr_latex_()
    assert latex.count("$$") == 2 and latex.count(r"\end{aligned}") == 1 and latex.count(r"\begin{aligned}") == 1
    assert "<" not in latex and ">" not in latex  # no HTML tag can form in a Markdown cell
    body = latex.strip("$\n")
    mathml = convert(body)  # latex2mathml writes the aligned environment's & unescaped: not XML to parse
    elements = set(re.findall(r"<([a-zA-Z]+)", mathml))
    assert elements <= {"math", "mrow", "mfrac", "mo", "mi", "mn", "mtext", "mspace", "msub", "msup", "mstyle", "mtable", "mtr", "mtd", "mover", "munder"}, elements
    attributes = " ".join(re.findall(r"<[a-zA-Z]+([^>]*)>", mathml))
    assert "href" not in attributes and "javascript:alert" in mathml  # the URL is shown as text, never a link
    for single in explanations[:4]:
        convert(single._repr_latex_().strip("$\n"))


def test_nudge_html_is_text() -> None:
    a = Value(1.0, label=CORPUS[0])
    y = a * 3.0
    y.label = "<script>alert(1)</script>\ud800"
    shown = nudge(y, a, 0.5)
    document = html5lib.parse(shown._repr_html_(), namespaceHTMLElements=False)
    body = [local(e.tag) for e in document.iter()]
    assert "script" not in body and body.count("pre") == 1
    pre = next(e for e in document.iter() if local(e.tag) == "pre")
    assert "<script>alert(1)</script>" in pre.text and "label=<PWNED>" in pre.text


def test_printable_makes_every_string_storable_and_visible() -> None:
    for text in CORPUS:
        shown = printable(text)
        shown.encode("utf-8")  # lone surrogates are gone
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e\u2066-\u2069\ud800-\udfff]", shown)
        assert len(shown) <= LONGEST + 30
    assert printable("a\x00b") == "a\\x00b" and printable("\ud800") == "\\ud800" and printable("\u202e") == "\\u202e"
