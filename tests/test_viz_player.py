"""viz.backprop_player: the frames' content against the lectures' numbers and the engine's
backward, their SVG, the GIF and the self-contained HTML; and the slide-ready drawing options."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import viz.render
from autograd import Value
from viz import GRAD_COLORS, Player, backprop_player, draw_dot

SVG = "{http://www.w3.org/2000/svg}"
STYLES = ("lecture", "record")


def apple_price() -> tuple[Value, Value, Value, Value]:
    """Lecture 003's apple price: 100 won × 2 apples × 1.1 tax = 220 (no backward called)."""
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.label = "price"
    return price, apple, num, tax


def current(svg: str) -> tuple[list[str], int]:
    """Titles of the nodes lit up in a frame, and how many edges are."""
    root = ET.fromstring(svg)
    nodes, edges = [], 0
    for g in root.iter(f"{SVG}g"):
        classes = (g.get("class") or "").split()
        if "current" in classes and "node" in classes:
            nodes.append(g.find(f"{SVG}title").text)
        elif "current" in classes and "edge" in classes:
            edges += 1
    return sorted(nodes), edges


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_the_apple_price_plays_forward_then_backward_with_the_lectures_numbers() -> None:
    price, apple, num, tax = apple_price()
    player = backprop_player(price)
    phases = [step.phase for step in player.steps]
    assert phases == ["forward"] * 3 + ["backward"] * 3  # inputs, two × nodes; seed, two × nodes
    walk = {"price": 0, "tax": 2, "apple": 3, "apple_num": 4}  # breadth-first from the root
    first, last = player.steps[0], player.steps[-1]
    assert first.data[walk["apple"]] == "100" and first.data[walk["price"]] == ""  # not computed yet: blank
    assert set(first.grads) == {""}  # no gradient is shown as 0 before it is known
    assert player.steps[2].data[walk["price"]] == "220"
    assert last.grads[walk["apple"]] == "2.2" and last.grads[walk["apple_num"]] == "110"
    assert last.grads[walk["tax"]] == "200" and last.grads[walk["price"]] == "1"
    seed = player.steps[3]
    assert seed.grads[walk["price"]] == "1" and seed.grads.count("") == 4
    # the step through apple × apple_num: its two edges, the local derivatives and the products
    assert last.node == 1 and last.edges == {(1, 0), (1, 1)}
    caption = "\n".join(last.caption)
    assert "∂price/∂apple = 1.1 × 2 = 2.2" in caption and "∂price/∂apple_num = 1.1 × 100 = 110" in caption
    assert "local ∂(apple × apple_num)/∂apple = 2" in caption
    # the user's graph is only read
    assert (price.grad, apple.grad, num.grad, tax.grad) == (0.0, 0.0, 0.0, 0.0)


def test_a_gradient_is_blank_until_known_and_marked_while_partial() -> None:
    a = Value(3.0, label="a")
    y = a * a + a  # a is used three times: its gradient gathers three contributions
    y.label = "y"
    steps = backprop_player(y).steps
    place = 2  # y=0, a*a=1, a=2 in walk order
    shown = [step.grads[place] for step in steps if step.phase == "backward"]
    assert shown[0] == "" and shown[1] == "1 + …"  # after y: one of three contributions
    assert shown[-1] == "7"  # dy/da = 2a + 1
    assert any("(used again: the paths add up)" in line for step in steps for line in step.caption)


def _mlp_loss() -> tuple[Value, list[Value], object]:
    import random

    from nn import MLP

    model = MLP(2, [2, 1], activation="tanh", rng=random.Random(0))
    out = model([0.5, -1.5])
    loss = (out - 1.0) ** 2 + out.tanh() * 0.5
    return loss, model.parameters(), model


@pytest.mark.parametrize("style", STYLES)
def test_the_last_frame_has_exactly_the_gradients_of_backward(style: str) -> None:
    loss, params, model = _mlp_loss()
    player = backprop_player(loss, style=style, names=model, fmt=".17g")  # shown digits round-trip
    loss.backward()
    last = player.steps[-1]
    walk_values = _walk_values(loss)
    for i, value in enumerate(walk_values):
        assert float(last.grads[i]) == value.grad
    assert all(p.grad != 0.0 for p in params)


def _walk_values(root: Value) -> list[Value]:
    from viz.draw import _walk

    return _walk(root, None).values


@pytest.mark.parametrize("style", STYLES)
def test_frames_are_draw_dots_svg_with_the_current_node_and_edges_lit(style: str) -> None:
    price, *_ = apple_price()
    player = backprop_player(price, style=style)
    frames = player.frames
    assert len(frames) == len(player.steps) == 6
    assert frames == backprop_player(apple_price()[0], style=style).frames  # deterministic
    assert current(frames[0]) == ([], 0)
    assert current(frames[1])[0] and current(frames[1])[1] == 2  # apple × apple_num, both inputs
    assert current(frames[-1])[1] == 2
    lit = current(frames[-1])[0]
    assert {"op1", "v1"} & set(lit)  # the × node of apple × apple_num
    shown = " ".join(texts(frames[-1]))
    assert "2.2" in shown and "110" in shown and "∂price/∂apple = 1.1 × 2 = 2.2" in shown
    before = " ".join(texts(frames[3]))  # the seed: only price's gradient is known
    assert "110" not in before and "2.2" not in before
    # one layout for every frame: the same size and the same node positions
    sizes = {re.search(r'viewBox="([^"]+)"', svg).group(1) for svg in frames}
    assert len(sizes) == 1
    centres = [[float(c) for c in re.findall(r'<ellipse[^>]*c[xy]="(-?[\d.]+)"', svg)] for svg in frames]
    assert all(len(c) == len(centres[0]) and max(abs(p - q) for p, q in zip(c, centres[0])) < 0.1 for c in centres)


def test_gif_has_a_frame_per_step_and_pillow_opens_it(tmp_path: Path) -> None:
    from PIL import Image

    price, *_ = apple_price()
    player = backprop_player(price)
    path = player.save(tmp_path / "apple.gif")
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(player) == 6 and gif.is_animated
        gif.seek(5)
        colors = {rgb for _, rgb in gif.convert("RGB").getcolors(1 << 16)}
    assert (0xFF, 0xD5, 0x4F) in colors  # the current node's highlight is drawn


def _bill(item: str, count: str, total: str) -> Value:
    apple, n = Value(100, label=item), Value(2, label=count)
    price = apple * n
    price.label = total
    return price


# Two graphs that differ only in which Hangul syllables their labels hold: the layout gives every
# syllable the same width, so the pictures can differ only where the syllables are drawn. Empty
# boxes (a font without Hangul) or nothing at all look the same for every syllable; glyphs do not,
# and 뷁 has more strokes than 이.
_FEW_STROKES = ("이", "아", "이이")
_MANY_STROKES = ("뷁", "쀍", "뷁뷁")


def _pixels(image_bytes: bytes):
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as image:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(image.n_frames - 1)  # the GIF's last frame: every number and gradient shown
        return np.asarray(image.convert("L"))


def _shows_hangul(few_strokes: bytes, many_strokes: bytes) -> bool:
    few, many = _pixels(few_strokes), _pixels(many_strokes)
    assert few.shape == many.shape  # one layout for both
    differing = int((few != many).sum())
    extra_ink = int((many < 128).sum()) - int((few < 128).sum())  # pixels darker than mid-grey
    return differing > 100 and extra_ink > 20


def test_png_and_gif_draw_hangul_glyphs_whatever_the_system_fonts() -> None:
    few, many = _bill(*_FEW_STROKES), _bill(*_MANY_STROKES)
    assert _shows_hangul(draw_dot(few, style="lecture").pipe("png"), draw_dot(many, style="lecture").pipe("png"))
    assert _shows_hangul(draw_dot(few).pipe("png"), draw_dot(many).pipe("png"))
    player = backprop_player(few)
    assert _shows_hangul(player.gif(), backprop_player(many).gif())
    from PIL import Image

    with Image.open(io.BytesIO(player.gif())) as gif:
        assert gif.n_frames == len(player)


def test_the_hangul_check_fails_where_no_font_has_hangul(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same drawings rasterized with only DejaVu Sans (no Hangul) and no system fonts: boxes
    or blanks, the same for every syllable, which the check above must reject."""
    import matplotlib
    import resvg_py

    dejavu = str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    render = resvg_py.svg_to_bytes
    monkeypatch.setattr(resvg_py, "svg_to_bytes",
                        lambda **options: render(**{**options, "font_files": [dejavu], "skip_system_fonts": True}))
    few, many = _bill(*_FEW_STROKES), _bill(*_MANY_STROKES)
    assert not _shows_hangul(draw_dot(few, style="lecture").pipe("png"), draw_dot(many, style="lecture").pipe("png"))


def test_html_is_one_self_contained_page(tmp_path: Path) -> None:
    price, *_ = apple_price()
    player = backprop_player(price)
    page = player.save(tmp_path / "apple.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(?i)https?://(?!www\.w3\.org/(2000/svg|1999/xlink|Graphics/SVG))", page)  # no URL but SVG namespaces
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert page.count("<svg") == 6 and "</script>" not in page.split("<script>")[1].split("</script>")[0]
    inline = player._repr_html_()
    assert inline.startswith("<iframe srcdoc=") and "&lt;svg" in inline


def test_player_checks_its_arguments(tmp_path: Path) -> None:
    price, *_ = apple_price()
    with pytest.raises(TypeError, match="plays a Value's graph; got float"):
        backprop_player(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="style must be one of"):
        backprop_player(price, style="fancy")
    with pytest.raises(ValueError, match="rankdir must be one of"):
        backprop_player(price, rankdir="up")
    with pytest.raises(ValueError, match="fmt must be a float format spec"):
        backprop_player(price, fmt="%d")
    with pytest.raises(ValueError, match="more than max_nodes=3"):
        backprop_player(price, max_nodes=3)
    with pytest.raises(ValueError, match=r"writes \.html or \.gif; got \.png"):
        backprop_player(price).save(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_a_leaf_alone_plays() -> None:
    player = backprop_player(Value(5.0, label="x"))
    assert isinstance(player, Player) and [s.grads for s in player.steps] == [("",), ("1",)]
    assert len(player.frames) == 2


# --- drawings fit for a slide ------------------------------------------------------------------


def test_names_show_parameters_short_and_weights_beside_their_inputs() -> None:
    loss, _, model = _mlp_loss()
    loss.backward()
    svg = draw_dot(loss, style="lecture", names=model).svg()
    shown = texts(svg)
    assert "w₀" in shown and "w₁" in shown and "b" in shown
    source = draw_dot(loss, names=model).source
    assert "layers.0.neurons.1.w.0" in source  # the full name, as a tooltip
    assert 'ordering=in' in source  # dot nodes keep w₀ x₀ w₁ x₁ in order
    with pytest.raises(TypeError, match="names must be a model with named_parameters"):
        draw_dot(loss, names=3)
    with pytest.raises(TypeError, match="must pair a str with a Value"):
        draw_dot(loss, names=[("w", 1.0)])


def test_size_scales_a_long_chain_down_to_the_slide() -> None:
    x = Value(0.5, label="x")
    for _ in range(20):
        x = x.sigmoid()
    wide = draw_dot(x, style="lecture").svg()
    fitted = draw_dot(x, style="lecture", size=(10, 7.5)).svg()
    width = lambda svg: float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))  # noqa: E731
    assert width(wide) > 2000 and width(fitted) <= 720.5
    with pytest.raises(ValueError, match=r"size must be \(width, height\) in inches"):
        draw_dot(x, size=(0, 3))


def test_svg_names_fonts_with_the_layouts_metrics() -> None:
    price, *_ = apple_price()
    svg = draw_dot(price, style="lecture").svg()
    families = set(re.findall(r'font-family="([^"]+)"', svg))
    assert families and all(f.startswith("Arimo,'Liberation Sans',Helvetica,Arial") for f in families)


def _lab(hex_colour: str) -> tuple[float, float, float]:
    """sRGB → CIELAB (D65), to measure how far apart two colours look."""
    rgb = [int(hex_colour[k : k + 2], 16) / 255 for k in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def test_adjacent_decades_are_told_apart_and_the_legend_uses_one_notation() -> None:
    labs = [_lab(fill) for _, fill, _, _ in GRAD_COLORS]
    gaps = [sum((p - q) ** 2 for p, q in zip(a, b)) ** 0.5 for a, b in zip(labs, labs[1:])]
    assert min(gaps) > 20  # ΔE*ab: 2.3 is a just-noticeable difference
    for _, _, _, text in GRAD_COLORS:
        assert re.fullmatch(r"(10[⁰¹⁻²³⁴⁵⁶]+ to 10[⁰¹⁻²³⁴⁵⁶]+|10¹ or more|below 10⁻⁶ \(vanishing\))", text), text


def test_the_player_leaves_gradients_from_an_earlier_backward_alone() -> None:
    price, apple, num, tax = apple_price()
    price.backward()
    before = [v.grad for v in (price, apple, num, tax)]
    player = backprop_player(price)
    player.frames  # noqa: B018 - rendering reads the graph too
    assert [v.grad for v in (price, apple, num, tax)] == before == pytest.approx([1.0, 2.2, 110.0, 200.0])


@pytest.mark.parametrize("style", STYLES)
def test_frames_draw_the_same_nodes_as_draw_dot(style: str) -> None:
    price, *_ = apple_price()
    titles = lambda svg: sorted(g.find(f"{SVG}title").text for g in ET.fromstring(svg).iter(f"{SVG}g")  # noqa: E731
                                if "node" in (g.get("class") or "").split())
    drawing = draw_dot(price, style=style).svg()
    assert all(titles(frame) == titles(drawing) for frame in backprop_player(price, style=style).frames)


def test_hangul_labels_get_boxes_as_wide_as_nanumgothic_draws_them() -> None:
    from viz.fonts import HANGUL_EM

    label = "사과의가격과귤의가격표"  # ten syllables: 10 × 0.94 em at 12 pt = 112.8 pt; the layout's metrics say 100
    y = Value(100, label=label) * 2
    root = ET.fromstring(draw_dot(y).svg())
    for g in root.iter(f"{SVG}g"):
        children = list(g)
        labelled = [k for k, e in enumerate(children) if e.tag == f"{SVG}text" and e.text == label]
        if "node" in (g.get("class") or "").split() and labelled:
            cell, text = children[labelled[0] - 1], children[labelled[0]]  # the cell is drawn before its text
            break
    else:
        pytest.fail("the label is not drawn")
    xs = [float(x) for x in re.findall(r"(-?[\d.]+),-?[\d.]+", cell.get("points"))]
    # the text, as NanumGothic draws it from where the layout starts it, ends inside its cell
    assert float(text.get("x")) + 10 * HANGUL_EM * 12 <= max(xs)
    # the cell asks for that width: the layout's own metrics count a syllable as 3 spaces (0.83 em)
    width = re.search(r'<td width="(\d+)"><b>' + label, draw_dot(y).source)
    assert width and float(width.group(1)) >= 10 * HANGUL_EM * 12


def test_the_player_example_writes_the_readme_gif_and_a_page(tmp_path: Path) -> None:
    import runpy

    from PIL import Image

    example = runpy.run_path(str(Path(__file__).resolve().parent.parent / "examples" / "player.py"))
    gif, page = example["main"](tmp_path / "player.gif", tmp_path / "apple.html")
    with Image.open(gif) as image:
        assert image.n_frames == 6
    assert page.read_text(encoding="utf-8").count("<svg") == 6


def test_without_the_media_extra_gif_and_hangul_png_say_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    import sys

    from viz import RendererError

    price, *_ = apple_price()
    player = backprop_player(price)
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError
    with pytest.raises(RendererError, match=r"needs Pillow: pip install 'gradtrace\[media\]'"):
        player.save(tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()
    monkeypatch.setitem(sys.modules, "resvg_py", None)
    hangul = Value(1.0, label="사과") * 2
    with pytest.raises(RendererError, match=r"needs resvg-py: pip install 'gradtrace\[media\]'"):
        draw_dot(hangul).save(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_each_weight_is_drawn_beside_the_input_it_multiplies() -> None:
    import random

    from nn import Neuron

    neuron = Neuron(3, activation="tanh", rng=random.Random(1))
    out = neuron([0.25, -1.5, 2.75])
    out.backward()
    svg = draw_dot(out, style="lecture", names=neuron).svg()
    y = {t.text: float(t.get("y")) for t in ET.fromstring(svg).iter(f"{SVG}text")}
    order = ["w₀", "0.25", "w₁", "-1.5", "w₂", "2.75", "b"]  # top to bottom (or bottom to top)
    ys = [y[name] for name in order]
    assert ys == sorted(ys) or ys == sorted(ys, reverse=True)
    # names may also be a mapping or (name, Value) pairs
    pairs = neuron.named_parameters()
    assert draw_dot(out, names=dict(pairs)).source == draw_dot(out, names=pairs).source == draw_dot(out, names=neuron).source


def test_fan_out_sums_in_backwards_order_to_the_same_float() -> None:
    # values used many times, with contributions whose sum depends on the order of adding
    x, w = Value(0.1, label="x"), Value(0.7, label="w")
    h = x * w
    terms = [h * 0.3, (x * x) * 1.1, x.tanh() * h, h / 3.0, (w - x) * x, h.exp() * w]
    y = terms[0]
    for term in terms[1:]:
        y = y + term * x
    player = backprop_player(y, fmt=".17g")
    y.backward()
    values = _walk_values(y)
    assert [float(g) for g in player.steps[-1].grads] == [v.grad for v in values]
