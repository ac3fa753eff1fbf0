"""viz.draw_dot: DOT text and rendered SVG (parsed as XML) for both styles, escaping, limits,
colours, saving, and rendering with no system Graphviz."""

from __future__ import annotations

import functools
import math
import os
import re
import runpy
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd
import viz
import viz.render
from autograd import Value
from viz import GRAD_COLORS, Graph, RendererError, draw_dot
from viz.draw import NONFINITE_GRAD, ZERO_GRAD, _grad_colors

SVG = "{http://www.w3.org/2000/svg}"
STYLES = ("record", "lecture")
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "drawing.py"


@pytest.fixture(scope="module", autouse=True)
def no_system_dot() -> None:
    """Every test here runs as on a machine without Graphviz: no `dot` is findable."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", "")
        viz.render._program.cache_clear()
        assert shutil.which("dot") is None
        yield
    viz.render._program.cache_clear()


def apple_price() -> tuple[Value, Value, Value, Value]:
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.label = "price"
    price.backward()
    return price, apple, num, tax


def svg_texts(svg: str) -> list[str]:
    """The text of every <text> element, in document order (a label's lines are separate texts)."""
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def text_elements(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}text"))


def node_titles(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


# --- both styles: the apple-price graph ---------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_apple_price_svg_shows_labels_values_and_gradients(style: str) -> None:
    price, *_ = apple_price()
    texts = svg_texts(draw_dot(price, style=style).svg())
    joined = " ".join(texts)
    for label in ("apple", "apple_num", "tax", "price"):
        assert label in joined
    assert texts.count("×") == 2
    if style == "record":
        for cell in ("data 100", "data 2", "data 1.1", "data 200", "data 220",
                     "grad 2.2", "grad 110", "grad 200", "grad 1.1", "grad 1"):
            assert cell in texts, cell
    else:
        for number in ("100", "2", "1.1", "200", "220", "2.2", "110", "1"):
            assert number in texts, number


def test_lecture_style_writes_values_above_the_edge_and_red_gradients_below() -> None:
    price, *_ = apple_price()
    svg = draw_dot(price, style="lecture").svg()
    elements = text_elements(svg)
    by_text: dict[str, list[ET.Element]] = {}
    for element in elements:
        by_text.setdefault(element.text or "", []).append(element)
    # apple: 100 above its line, its gradient 2.2 below it, in red
    (data,), (grad,) = by_text["100"], by_text["2.2"]
    assert float(data.get("y")) < float(grad.get("y"))  # SVG's y grows downwards
    assert grad.get("fill") == viz.draw.GRAD_RED
    assert data.get("fill") in (None, "black")
    # ops are circles holding the op's symbol
    root = ET.fromstring(svg)
    ops = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"
           and [t.text for t in g.iter(f"{SVG}text")] == ["×"]]
    assert len(ops) == 2
    for g in ops:
        (ellipse,) = g.iter(f"{SVG}ellipse")
        assert ellipse.get("rx") == ellipse.get("ry")  # a circle


def test_record_style_dot_has_a_box_per_value_and_an_ellipse_per_op() -> None:
    price, *_ = apple_price()
    source = draw_dot(price).source
    assert len(re.findall(r"^\s*v\d+ \[", source, re.M)) == 5
    assert len(re.findall(r"^\s*op\d+ \[label=<×>.*shape=ellipse", source, re.M)) == 2
    assert "<b>apple</b>" in source and "data 100" in source and "grad 2.2" in source


def test_show_grad_false_hides_the_gradients() -> None:
    price, *_ = apple_price()
    for style in STYLES:
        source = draw_dot(price, style=style, show_grad=False).source
        assert viz.draw.GRAD_RED not in source
        assert "grad" not in source.replace("gradtrace", "")


def test_fmt_formats_the_numbers() -> None:
    price, *_ = apple_price()
    assert "data 220.00" in draw_dot(price, fmt=".2f").source
    with pytest.raises(ValueError, match="fmt must be a float format spec.*'x!'"):
        draw_dot(price, fmt="x!")


@pytest.mark.parametrize("style", STYLES)
def test_number_operands_are_drawn(style: str) -> None:
    x = Value(3.0, label="x")
    y = (x * 2 + 1.5) ** 3
    y.backward()
    texts = svg_texts(draw_dot(y, style=style).svg())
    for constant in ("2", "1.5", "3"):
        assert constant in texts, constant
    assert "x" in " ".join(texts)


def test_op_parameters_are_shown() -> None:
    probs = autograd.softmax([Value(1.0), Value(2.0)])
    assert "softmax[0]" in svg_texts(draw_dot(probs[0]).svg())


def test_a_value_used_twice_gets_one_node_and_two_edges() -> None:
    x = Value(2.0, label="x")
    y = x * x
    source = draw_dot(y).source
    assert source.count("v1 -> op0") == 2
    assert len(re.findall(r"^\s*v\d+ \[", source, re.M)) == 2


def test_a_leaf_alone_is_drawn() -> None:
    x = Value(4.0, label="x")
    for style in STYLES:
        texts = svg_texts(draw_dot(x, style=style).svg())
        assert "4" in " ".join(texts) and "x" in " ".join(texts)


# --- determinism ----------------------------------------------------------------------------


def build_network() -> Value:
    xs = [Value(0.5, label="x0"), Value(-1.5, label="x1")]
    ws = [Value(0.3, label="w0"), Value(-0.2, label="w1")]
    hidden = [(w * x + 0.1).tanh() for w, x in zip(ws, xs)]
    out = autograd.dot(ws, hidden, bias=Value(0.05, label="b")).sigmoid()
    loss = (out - 1) ** 2
    loss.backward()
    return loss


@pytest.mark.parametrize("style", STYLES)
def test_same_graph_same_dot_and_equal_graphs_equal_dot(style: str) -> None:
    first = build_network()
    assert draw_dot(first, style=style).source == draw_dot(first, style=style).source
    assert draw_dot(first, style=style).source == draw_dot(build_network(), style=style).source
    assert draw_dot(first, style=style).svg() == draw_dot(build_network(), style=style).svg()


def test_node_names_are_generated_not_ids() -> None:
    source = draw_dot(build_network(), color_by="grad").source
    names = set(re.findall(r"^\s*(\S+) \[", source, re.M)) - {"graph", "node", "edge"}
    assert names and all(re.fullmatch(r"(v|op|c|in)\d+|out", name) for name in names), names


# --- escaping --------------------------------------------------------------------------------

ADVERSARIAL = [
    'say "hi"',
    "back\\slash \\N \\G \\l \\",
    "{ a | b } < c >",
    "</td></tr></table>",
    '"]; evil [label="x',
    "<b>bold</b>",
    "&amp; &#92;N",
    "사과",
    "x\ty",
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("label", ADVERSARIAL)
def test_adversarial_labels_show_literally_and_change_nothing(style: str, label: str) -> None:
    a, b = Value(1.5, label=label), Value(2.0, label="b")
    y = a * b
    y.label = label
    y.backward()
    graph = draw_dot(y, style=style)
    plain = draw_dot(_same_graph_labelled("plain"), style=style)
    # the label is text: the drawing has the same nodes, edges and attributes as with a plain label
    assert _structure(graph.source) == _structure(plain.source)
    svg = graph.svg()
    texts = svg_texts(svg)
    shown = label.replace("\t", " ")  # Graphviz drops tabs; draw_dot writes them as spaces
    assert texts.count(shown) == 2, texts  # the input's box and the root's, each shown whole
    assert node_titles(svg) == node_titles(plain.svg())
    assert "evil" not in node_titles(svg)
    root = ET.fromstring(svg)
    assert all(t.get("font-weight") in (None, "bold") for t in root.iter(f"{SVG}text"))
    assert not [e for e in root.iter() if e.tag in (f"{SVG}b", "b", f"{SVG}table", "td")]


def _same_graph_labelled(label: str) -> Value:
    a, b = Value(1.5, label=label), Value(2.0, label="b")
    y = a * b
    y.label = label
    y.backward()
    return y


def _structure(source: str) -> list[str]:
    """Each DOT line with the HTML labels' text content blanked out, and the widths that
    Hangul labels are given (the layout's metrics underestimate them) left out."""
    lines = [re.sub(r"<b>.*?</b>|<i>.*?</i>", "<b></b>", line) for line in source.splitlines()]
    return [re.sub(r' width="\d+"| width=[\d.]+', "", line) for line in lines]


@pytest.mark.parametrize("style", STYLES)
def test_newlines_control_characters_and_noncharacters_are_text(style: str) -> None:
    x = Value(1.0, label="first line\nsecond line\x1b\x00 \ufffe\U0010ffff")
    y = x * 3
    y.backward()
    svg = draw_dot(y, style=style).svg()
    texts = svg_texts(svg)  # parses: nothing XML forbids reached the SVG
    assert "first line" in texts and "second line\\x1b\\x00 \\ufffe\\U0010ffff" in texts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label=st.text(st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=12))
def test_any_printable_label_shows_exactly(label: str) -> None:
    a = Value(1.5, label=label)
    y = a * 2
    y.backward()
    assert label in svg_texts(draw_dot(y).svg())


# --- limits: max_nodes and depth --------------------------------------------------------------


def chain(n: int) -> Value:
    x = Value(0.5, label="x")
    for _ in range(n):
        x = x * 1.01 + 0.001
    return x


def test_max_nodes_raises_with_the_count_and_what_to_pass() -> None:
    y = chain(30)  # 61 values: x and two per step
    with pytest.raises(ValueError) as info:
        draw_dot(y, max_nodes=20)
    message = str(info.value)
    assert "61 values" in message and "max_nodes=20" in message
    assert "max_nodes=None" in message and "depth=k" in message
    assert draw_dot(y, max_nodes=None).source.count("op") >= 60
    assert draw_dot(y, max_nodes=61).source


def test_the_default_limit_protects_a_large_graph() -> None:
    y = chain(viz.DEFAULT_MAX_NODES)
    with pytest.raises(ValueError, match=f"{2 * viz.DEFAULT_MAX_NODES + 1} values"):
        draw_dot(y)


def test_depth_draws_only_the_last_levels_and_marks_cut_ops() -> None:
    y = chain(10_000)  # deep: the walk must not recurse, and depth keeps the drawing small
    source = draw_dot(y, depth=2).source
    values = re.findall(r"^\s*(v\d+) \[", source, re.M)
    # level 0: y (add); level 1: the mul and the 0.001 is a number; level 2: the previous add
    assert values == ["v0", "v1", "v2"]
    assert re.search(r"^\s*op2 \[.*style=dashed", source, re.M)  # the op of v2 is cut off
    assert not re.search(r"^\s*op[01] \[.*style=dashed", source, re.M)
    assert "op3" not in source
    root_only = draw_dot(y, depth=0).source
    assert re.findall(r"^\s*(v\d+) \[", root_only, re.M) == ["v0"]


def test_depth_counts_only_what_is_drawn() -> None:
    y = chain(1_000)
    assert draw_dot(y, depth=5, max_nodes=20).source  # 11 values within depth 5
    with pytest.raises(ValueError, match="values within depth=50"):
        draw_dot(y, depth=50, max_nodes=20)


# --- color_by="grad" ----------------------------------------------------------------------------


def test_grad_colours_follow_decades() -> None:
    assert _grad_colors(25.0)[0] == GRAD_COLORS[0][1]
    assert _grad_colors(-1.0)[0] == GRAD_COLORS[1][1]
    assert _grad_colors(0.5)[0] == GRAD_COLORS[2][1]
    assert _grad_colors(1e-7)[0] == GRAD_COLORS[-1][1]
    assert _grad_colors(0.0)[0] == ZERO_GRAD[0]
    assert _grad_colors(float("nan"))[0] == NONFINITE_GRAD[0]
    assert _grad_colors(float("-inf"))[0] == NONFINITE_GRAD[0]


@pytest.mark.parametrize("style", STYLES)
def test_color_by_grad_shades_vanishing_gradients_and_adds_a_legend(style: str) -> None:
    big = Value(30.0, label="big")
    y = big.sigmoid() * 2  # sigmoid'(30) ≈ 9e-14: a vanishing gradient
    y.backward()
    graph = draw_dot(y, style=style, color_by="grad")
    source = graph.source
    assert f'bgcolor="{GRAD_COLORS[-1][1]}"' in source  # big's |grad| < 1e-6
    assert f'bgcolor="{GRAD_COLORS[1][1]}"' in source  # y's grad is 1
    texts = " ".join(svg_texts(graph.svg()))
    assert "|grad|, log scale" in texts and "below 10⁻⁶ (vanishing)" in texts and "10⁰ to 10¹" in texts
    assert "exactly 0" not in texts and "10⁻² to 10⁻¹" not in texts  # the legend lists the colours used
    fills = {p.get("fill") for p in ET.fromstring(graph.svg()).iter(f"{SVG}polygon")}
    assert GRAD_COLORS[-1][1] in fills
    assert "log scale" not in draw_dot(y, style=style).source


# --- Graph: svg, save, Jupyter ---------------------------------------------------------------------


def test_svg_is_rendered_once_and_shown_in_jupyter(monkeypatch: pytest.MonkeyPatch) -> None:
    price, *_ = apple_price()
    graph = draw_dot(price)
    calls = []
    real_render = viz.render.render
    monkeypatch.setattr(viz.render, "render", lambda *args: calls.append(args) or real_render(*args))
    svg = graph.svg()
    assert graph.svg() is svg and graph._repr_svg_() is svg
    assert graph._repr_mimebundle_() == {"image/svg+xml": svg}
    assert len(calls) == 1
    assert ET.fromstring(svg).tag == f"{SVG}svg"


def test_save_svg_png_and_dot(tmp_path: Path) -> None:
    price, *_ = apple_price()
    graph = draw_dot(price, style="lecture")
    assert graph.save(tmp_path / "a.svg").read_text(encoding="utf-8") == graph.svg()
    assert graph.save(tmp_path / "a.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert graph.save(str(tmp_path / "a.dot")).read_text(encoding="utf-8") == graph.source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dot", "a.png", "a.svg"]  # no temporary files left


def test_save_names_the_formats_it_supports(tmp_path: Path) -> None:
    graph = draw_dot(apple_price()[0])
    with pytest.raises(ValueError, match=r"cannot write \.pdf.*writes \.svg, \.png, \.dot, \.gv"):
        graph.save(tmp_path / "a.pdf")
    with pytest.raises(ValueError, match="without a suffix"):
        graph.save(tmp_path / "a")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_render_leaves_no_file(tmp_path: Path) -> None:
    broken = Graph("digraph { a -> }")
    with pytest.raises(RendererError, match="graphviz-pure failed"):
        broken.save(tmp_path / "broken.svg")
    assert list(tmp_path.iterdir()) == []


def test_renders_without_a_system_graphviz() -> None:
    assert shutil.which("dot") is None  # PATH is masked for this module
    svg = draw_dot(apple_price()[0]).svg()
    assert "graphviz-pure" in svg


def test_the_system_renderer_says_it_needs_dot() -> None:
    graph = draw_dot(apple_price()[0], renderer="system")
    assert graph.source  # the DOT text needs no renderer
    with pytest.raises(RendererError, match="needs Graphviz's 'dot' on PATH"):
        graph.svg()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"style": "fancy"}, ValueError, "style must be one of"),
        ({"rankdir": "up"}, ValueError, "rankdir must be one of"),
        ({"max_nodes": 0}, ValueError, "max_nodes must be a positive int or None"),
        ({"depth": -1}, ValueError, "depth must be an int ≥ 0"),
        ({"color_by": "data"}, ValueError, "color_by must be None or 'grad'"),
        ({"renderer": "magic"}, ValueError, "unknown renderer 'magic'"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        draw_dot(Value(1.0), **kwargs)


def test_draw_dot_needs_a_value() -> None:
    with pytest.raises(TypeError, match="draws a Value's graph; got float"):
        draw_dot(1.0)  # type: ignore[arg-type]


# --- the demo ---------------------------------------------------------------------------------------


def test_drawing_example_writes_both_styles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(EXAMPLE))
    written = module["main"](tmp_path)
    assert [p.name for p in written] == ["apple_price_record.svg", "apple_price_lecture.svg"]
    out = capsys.readouterr().out
    for path in written:
        assert "apple_num" in " ".join(svg_texts(path.read_text(encoding="utf-8")))
        assert f"wrote {path}" in out


def test_color_by_grad_marks_dead_and_nonfinite_gradients() -> None:
    dead, broken = Value(-2.0, label="dead"), Value(0.0, label="zero")
    y = dead.relu() + broken ** 0.5  # relu'(-2) = 0; d/dx √x at 0 is inf
    y.backward()
    source = draw_dot(y, color_by="grad").source
    assert f'bgcolor="{ZERO_GRAD[0]}"' in source and f'bgcolor="{NONFINITE_GRAD[0]}"' in source
    texts = svg_texts(draw_dot(y, color_by="grad").svg())
    assert "exactly 0" in texts and "nan or inf" in texts


def test_ipython_displays_the_svg() -> None:
    interactive = pytest.importorskip("IPython.core.interactiveshell")
    x = Value(2.0, label="x")
    y = x * 3
    y.backward()
    graph = draw_dot(y)
    data, _ = interactive.InteractiveShell.instance().display_formatter.format(graph)
    assert data["image/svg+xml"] == graph.svg()
    assert data["text/plain"].startswith("<viz.Graph:")


# --- renderer failures: each a RendererError that says what happened and what to do ----------------

posix_only = pytest.mark.skipif(os.name != "posix", reason="fake renderer programs are shell scripts")


def fake_renderer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str | None, mode: int = 0o755) -> Path:
    """Make graphviz-pure's program a shell script with this body (None: a program that is not there)."""
    program = tmp_path / "graphviz-pure"
    if script is not None:
        program.write_text("#!/bin/sh\n" + script + "\n")
        program.chmod(mode)
    monkeypatch.setattr(viz.render, "_program", functools.cache(lambda renderer: str(program)))
    return program


@posix_only
@pytest.mark.parametrize(
    ("script", "mode", "message"),
    [
        (None, 0o755, "the graphviz-pure program .*/graphviz-pure is gone \\(uninstalled or moved since it was found\\); "
                      "reinstall it: pip install --force-reinstall graphviz-pure"),
        ("exit 0", 0o644, "cannot be run: it is not executable \\(permission denied\\); make it executable \\(chmod \\+x .*\\), "
                          "or reinstall it: pip install --force-reinstall graphviz-pure"),
        ("printf '<svg>\\377</svg>'", 0o755, "graphviz-pure wrote SVG that is not UTF-8 text \\(byte 0xff at offset 5\\); "
                                            "Graphviz writes UTF-8, so the program is damaged or not Graphviz: reinstall it"),
        ("ulimit -c 0; kill -SEGV $$", 0o755, "graphviz-pure was killed by signal 11 \\(SIGSEGV\\) while laying out the graph; "
                                              "if nothing on this machine stopped it, it crashed: draw less .* try renderer='system', "
                                              "and please report the graph's DOT text \\(graph.source\\)"),
        ("echo 'Error: syntax error in line 1' >&2; exit 1", 0o755, "graphviz-pure failed \\(exit 1\\): Error: syntax error in line 1$"),
        ("exit 3", 0o755, "graphviz-pure failed \\(exit 3\\): it gave no reason$"),
        ("exit 0", 0o755, "graphviz-pure succeeded but wrote no svg; reinstall it: pip install --force-reinstall graphviz-pure$"),
    ],
    ids=["vanished", "not executable", "not UTF-8", "killed by a signal", "failed", "failed silently", "wrote nothing"],
)
def test_a_broken_renderer_raises_a_renderer_error_that_says_what_to_do(
    script: str | None, mode: int, message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_renderer(monkeypatch, tmp_path, script, mode)
    graph = draw_dot(apple_price()[0])
    with pytest.raises(RendererError, match=message):
        graph.svg()
    with pytest.raises(RendererError, match=message):
        graph.save(tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()


@posix_only
def test_a_slow_renderer_times_out_with_advice_that_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    program = fake_renderer(monkeypatch, tmp_path, "exec /bin/sleep 30")
    graph = draw_dot(apple_price()[0])
    with pytest.raises(RendererError, match=r"took longer than 0.2 s .* give it more time: graph.svg\(timeout=...\), graph.save\(path, timeout=...\)"):
        graph.svg(timeout=0.2)
    with pytest.raises(RendererError, match="took longer than 0.2 s"):
        graph.save(tmp_path / "graph.png", timeout=0.2)
    program.write_text("#!/bin/sh\n/bin/sleep 0.3; printf '<svg/>'\n")  # slower than 0.2 s, within the 5 s now given
    assert graph.svg(timeout=5) == "<svg/>"
    assert graph.save(tmp_path / "graph.svg", timeout=5).read_text() == "<svg/>"
    for bad in (0, -1, math.nan, math.inf, "5", None):
        with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
            graph.svg(timeout=bad)  # type: ignore[arg-type]
