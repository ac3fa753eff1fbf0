"""viz.backprop_player: the frames' content against the lectures' numbers and the engine's
backward, their SVG, the GIF and the self-contained HTML; and the slide-ready drawing options."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

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
    # the drawing once (its layout is every frame's), the frames as changes of its texts and classes
    assert page.count("<svg") == 1 and "</script>" not in page.split("<script>")[1].split("</script>")[0]
    assert page.count('class="slot"') == 2 * 5 + max(len(step.caption) for step in player.steps)
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
    assert "w[0][0][0]" in shown and "w[0][1][1]" in shown and "b[1][0]" in shown  # model.layers[0].neurons[1].w[1]
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
    assert page.read_text(encoding="utf-8").count("<svg") == 1  # one drawing; the frames change its texts


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
    order = ["w[0]", "0.25", "w[1]", "-1.5", "w[2]", "2.75", "b"]  # top to bottom (or bottom to top)
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


# --- the page: the drawing once, frames as changes -------------------------------------------------


def _mlp_3441() -> tuple[Value, object]:
    import random

    from nn import MLP

    model = MLP(3, [4, 4, 1], activation="tanh", rng=random.Random(0))
    out = model([Value(0.5), Value(-1.0), Value(2.0)])
    return (out - 1.0) ** 2, model


def test_a_3_4_4_1_mlps_page_holds_one_drawing_and_stays_under_a_megabyte() -> None:
    loss, model = _mlp_3441()
    player = backprop_player(loss, names=model)
    page = player.html()
    assert len(page.encode("utf-8")) <= 1_000_000
    assert page.count("<svg") == 1 and len(player) == 40
    # the page's one drawing has the frames' layout: the same size as the last frame
    assert _size(player.page_svg()) == _size(player.drawings[-1].svg())


def _size(svg: str) -> tuple[str, str]:
    root = ET.fromstring(svg if svg.startswith("<?xml") else svg)
    return root.get("width"), root.get("height")


def test_draw_dot_names_every_parameter_of_an_mlp_apart() -> None:
    loss, model = _mlp_3441()
    svg = draw_dot(loss, style="record", names=model).svg()
    shown = texts(svg)
    names = [f"w[{k}][{j}][{i}]" for k, (nin, nout) in enumerate([(3, 4), (4, 4), (4, 1)]) for j in range(nout) for i in range(nin)]
    names += [f"b[{k}][{j}]" for k, nout in enumerate([4, 4, 1]) for j in range(nout)]
    assert len(names) == len(model.parameters()) == 41
    for name in names:
        assert shown.count(name) == 1, name
    assert {"x₀", "x₁", "x₂"} <= set(shown)  # the inputs, unlabelled, by their place
    lecture = texts(draw_dot(loss, style="lecture", names=model).svg())
    assert {"x₀", "x₁", "x₂", "w[2][0][3]", "b[1][2]"} <= set(lecture)


def test_two_parameters_with_one_short_name_keep_their_full_names() -> None:
    a, b = Value(1.0), Value(2.0)
    y = a * b
    shown = texts(draw_dot(y, names={"enc.w.0": a, "dec.w.0": b}).svg())
    assert "enc.w.0" in shown and "dec.w.0" in shown and "w[0]" not in shown


def test_captions_name_nodes_never_by_their_value_and_never_print_negative_zero() -> None:
    loss, model = _mlp_3441()
    captions = "\n".join(line for step in backprop_player(loss, names=model).steps for line in step.caption)
    assert "z[0][3]" in captions and "tanh(z[1][2])" in captions
    assert "Σw·x node" not in captions and "∂0.5/" not in captions and "∂-1/" not in captions
    assert "x₀ = 0.5, x₁ = -1, …" in captions and "∂x₀ += " in captions
    zero = Value(0.0, label="z")
    y = zero * Value(-2.0, label="k")
    y.label = "y"
    player = backprop_player(y)
    shown = "\n".join(line for step in player.steps for line in step.caption) + "\n".join(g for s in player.steps for g in s.grads)
    assert "-0" not in shown.replace("-0.", "")  # 0 × −2 is −0.0 in floats: shown as 0
    assert "-0" not in "".join(texts(draw_dot(y, style="lecture").svg()))


def test_the_page_centres_each_text_where_the_frames_centre_it() -> None:
    price, *_ = apple_price()
    for style in STYLES:
        player = backprop_player(price, style=style)
        page = ET.fromstring(player.page_svg())
        slots = {t.get("id"): t for t in page.iter(f"{SVG}text") if (t.get("class") or "") == "slot"}
        frame = ET.fromstring(player.drawings[-1].svg())
        last = player.template.frames[-1]
        widths = {**dict.fromkeys("0123456789", 556), ".": 278, " ": 278, "a": 556, "d": 556, "g": 556, "r": 333, "t": 278}
        checked = 0
        for t in frame.iter(f"{SVG}text"):
            text = t.text or ""
            matches = [n for n, shown in enumerate(last.texts) if shown == text and player.template.slots[n].centred]
            if len(matches) != 1 or t.get("text-anchor") != "start" or not set(text) <= set(widths):
                continue
            slot = slots[f"s{matches[0]}"]
            middle = float(t.get("x")) + sum(widths[c] for c in text) * float(t.get("font-size")) / 2000
            assert slot.get("text-anchor") == "middle" and abs(float(slot.get("x")) - middle) < 0.05
            checked += 1
        assert checked >= 4
