"""viz.draw_network: an MLP, Layer or Neuron as circles in columns with a weight on each edge,
checked on the SVG it renders, against the lecture notes' delta formulas (notes 000's 2-2-2
sigmoid network) computed by hand in plain floats."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET

import pytest

import autograd
import nn
from viz import Graph, draw_dot, draw_network

SVG = "{http://www.w3.org/2000/svg}"
X = [0.05, 0.10]
Y = [0.01, 0.99]
W = [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]]


def notes_network() -> nn.MLP:
    """Notes 000's 2-2-2 sigmoid network, with a textbook's weights (the notes' numbers did not survive)."""
    model = nn.MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid", rng=random.Random(0))
    for k, layer in enumerate(model.layers):
        for j, neuron in enumerate(layer.neurons):
            for i, w in enumerate(neuron.w):
                w.data = W[k][j][i]
    return model


def by_hand() -> dict[str, list[float]]:
    """The notes' formulas in plain floats: a⁽²⁾, a⁽³⁾, δ⁽³⁾ = (a − y)a(1 − a), δ⁽²⁾ = (Σ δ⁽³⁾w)a(1 − a)."""
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    a2 = [sig(W[0][j][0] * X[0] + W[0][j][1] * X[1]) for j in range(2)]
    a3 = [sig(W[1][j][0] * a2[0] + W[1][j][1] * a2[1]) for j in range(2)]
    d3 = [(a3[j] - Y[j]) * a3[j] * (1 - a3[j]) for j in range(2)]
    d2 = [(d3[0] * W[1][0][j] + d3[1] * W[1][1][j]) * a2[j] * (1 - a2[j]) for j in range(2)]
    return {"a2": a2, "a3": a3, "d3": d3, "d2": d2}


def trained_once(model: nn.MLP) -> autograd.Value:
    out = model(X)
    loss = autograd.sum([0.5 * (a - t) ** 2 for a, t in zip(out, Y)])
    loss.backward()
    return loss


def groups(svg: str, kind: str, cls: str) -> list[ET.Element]:
    """The SVG groups Graphviz wrote for nodes or edges (kind) of one class of ours."""
    return [g for g in ET.fromstring(svg).iter(f"{SVG}g") if {kind, cls} <= set((g.get("class") or "").split())]


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_one_edge_per_weight_and_one_circle_per_neuron_and_input() -> None:
    model = nn.MLP(3, [4, 4, 1], activation="tanh", rng=random.Random(0))
    graph = draw_network(model)
    assert isinstance(graph, Graph) and type(graph) is type(draw_dot(autograd.Value(1.0)))
    svg = graph.svg()
    edges = groups(svg, "edge", "weight")
    assert len(edges) == 3 * 4 + 4 * 4 + 4 * 1 == sum(len(n.w) for layer in model.layers for n in layer.neurons)
    assert all(len(list(e.iter(f"{SVG}path"))) == 1 for e in edges)
    circles = groups(svg, "node", "neuron") + groups(svg, "node", "input")
    assert len(groups(svg, "node", "input")) == 3 and len(circles) == 3 + 4 + 4 + 1
    assert all(next(c.iter(f"{SVG}ellipse"), None) is not None for c in circles)
    biases = groups(svg, "node", "bias")
    assert len(biases) == 9  # one beside each neuron


def test_columns_hold_the_layers_in_order() -> None:
    model = nn.MLP(3, [4, 2], rng=random.Random(1))
    svg = draw_network(model).svg()
    xs: dict[str, float] = {}
    for g in groups(svg, "node", "neuron") + groups(svg, "node", "input"):
        xs[g.find(f"{SVG}title").text] = float(next(g.iter(f"{SVG}ellipse")).get("cx"))
    columns = sorted({round(x) for x in xs.values()})
    assert len(columns) == 3
    for name, x in xs.items():
        column = int(name[1 : name.index("_")])
        assert round(x) == columns[column]


def test_values_after_forward_and_deltas_after_backward_are_the_notes_numbers() -> None:
    model = notes_network()
    hand = by_hand()
    before = draw_network(model, X, fmt=".6g").svg()
    shown = texts(before)
    for a in hand["a2"] + hand["a3"]:
        assert format(a, ".6g") in shown
    assert "0.05" in shown and "0.1" in shown
    assert not groups(before, "node", "delta")  # no backward yet: no delta, no weight gradient

    trained_once(model)
    svg = draw_network(model, X, fmt=".6g").svg()
    shown = texts(svg)
    joined = "\n".join(shown)
    for k, name in ((0, "δ₁⁽³⁾"), (1, "δ₂⁽³⁾")):
        assert f"{name} = {format(hand['d3'][k], '.6g')}" in joined
    for k, name in ((0, "δ₁⁽²⁾"), (1, "δ₂⁽²⁾")):
        assert f"{name} = {format(hand['d2'][k], '.6g')}" in joined
    # every weight and its gradient ∂J/∂wⱼᵢ = δⱼ·aᵢ, on its edge's label
    inputs = [X, hand["a2"]]
    deltas = [hand["d2"], hand["d3"]]
    for k in range(2):
        for j in range(2):
            for i in range(2):
                label = [g for g in groups(svg, "node", "weight") if g.find(f"{SVG}title").text == f"w{k}_{j}_{i}"]
                assert len(label) == 1
                words = [t.text for t in label[0].iter(f"{SVG}text")]
                assert words[0] == format(W[k][j][i], ".6g")
                assert float(words[1]) == pytest.approx(deltas[k][j] * inputs[k][i], rel=1e-5)


def test_the_drawing_reads_the_model_and_changes_nothing() -> None:
    model = notes_network()
    trained_once(model)
    before = [(p.data, p.grad) for p in model.parameters()]
    draw_network(model, X)
    draw_network(model, X, style="python", show_grad=False)
    assert [(p.data, p.grad) for p in model.parameters()] == before


def test_colour_and_width_follow_the_weights_sign_and_size() -> None:
    model = nn.MLP(2, [2, 1], rng=random.Random(0))
    weights = {f"n0_{i}->n1_{j}": n.w[i].data for j, n in enumerate(model.layers[0].neurons) for i in range(2)}
    weights.update({f"n1_{i}->n2_0": w.data for i, w in enumerate(model.layers[1].neurons[0].w)})
    svg = draw_network(model).svg()
    widths = {}
    for edge in groups(svg, "edge", "weight"):
        name = edge.find(f"{SVG}title").text.replace("&#45;&gt;", "->")
        path = next(edge.iter(f"{SVG}path"))
        w = weights[name]
        assert path.get("stroke") == ("#1f6fd1" if w > 0 else "#e8710a")
        widths[name] = float(path.get("stroke-width") or 1.0)
    ordered = sorted(weights, key=lambda name: abs(weights[name]))
    assert [widths[name] for name in ordered] == sorted(widths.values())
    assert widths[ordered[-1]] > widths[ordered[0]]


def test_layer_and_neuron_draw_as_one_column_after_the_inputs() -> None:
    layer = nn.Layer(3, 2, activation="tanh", rng=random.Random(0))
    svg = draw_network(layer, [1.0, 2.0, 3.0]).svg()
    assert len(groups(svg, "edge", "weight")) == 6 and len(groups(svg, "node", "neuron")) == 2
    expected = [format(n([1.0, 2.0, 3.0]).data, ".4g") for n in layer.neurons]
    assert set(expected) <= set(texts(svg))
    neuron = nn.Neuron(2, activation="linear", rng=random.Random(0))
    svg = draw_network(neuron, [1.0, -1.0]).svg()
    assert len(groups(svg, "edge", "weight")) == 2 and len(groups(svg, "node", "neuron")) == 1


def test_python_style_names_places_in_the_model() -> None:
    model = nn.MLP(2, [3, 1], rng=random.Random(0))
    trained = model([1.0, 2.0])
    trained.backward()
    shown = "\n".join(texts(draw_network(model, [1.0, 2.0], style="python").svg()))
    assert "x[1]" in shown and "a[0][2]" in shown and "a[1][0]" in shown and "b[0][1] = 0" in shown
    assert "δ[1][0] = 1" in shown  # a linear output: ∂out/∂z = 1
    lecture = "\n".join(texts(draw_network(model, [1.0, 2.0]).svg()))
    assert "a₂⁽¹⁾" in lecture and "a₃⁽²⁾" in lecture and "δ₁⁽³⁾ = 1" in lecture


def test_no_negative_zero_is_printed() -> None:
    model = nn.MLP(2, [1], activation="linear", rng=random.Random(0))
    neuron = model.layers[0].neurons[0]
    neuron.w[0].data, neuron.w[1].data = -1e-9, 0.5
    neuron.b.data = -0.0
    neuron.w[0].grad = -0.0
    neuron.w[1].grad = -1e-12
    shown = texts(draw_network(model, [0.0, 0.0], fmt=".2f", show_grad=True).svg())
    assert all(not t.lstrip().startswith("-0") or any(c in t for c in "123456789") for t in shown), shown
    assert "0.00" in shown


def test_bad_arguments_say_what_is_accepted() -> None:
    model = nn.MLP(2, [2, 1], rng=random.Random(0))
    with pytest.raises(TypeError, match="nn.MLP, nn.Layer or nn.Neuron"):
        draw_network(autograd.Value(1.0))
    with pytest.raises(ValueError, match="2 inputs"):
        draw_network(model, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="one sample"):
        draw_network(model, 1.0)
    with pytest.raises(TypeError, match="numbers"):
        draw_network(model, ["a", 1.0])
    with pytest.raises(ValueError, match="style must be one of"):
        draw_network(model, style="record")
    with pytest.raises(ValueError, match="show_grad"):
        draw_network(model, show_grad="yes")


# --- the network player: backprop_player(..., view="network") ------------------------------------


def test_the_network_player_plays_the_notes_deltas_layer_by_layer() -> None:
    from viz import backprop_player

    model = notes_network()
    hand = by_hand()
    out = model(X)
    loss = autograd.sum([0.5 * (a - t) ** 2 for a, t in zip(out, Y)])
    loss.label = "J"
    player = backprop_player(loss, names=model, view="network", fmt=".6g")
    assert [s.phase for s in player.steps] == ["forward"] * 3 + ["backward"] * 4  # inputs, 2 layers; δ and ∂w per layer
    assert all(p.grad == 0.0 for p in model.parameters())  # only read: nothing written into the graph
    captions = ["\n".join(s.caption) for s in player.steps]
    f = lambda x: format(x, ".6g")  # noqa: E731
    assert f"a₁⁽²⁾ = σ(z₁⁽²⁾) = {f(hand['a2'][0])}" in captions[1]
    assert f"a₂⁽³⁾ = σ(z₂⁽³⁾) = {f(hand['a3'][1])}" in captions[2]
    # the output deltas: δ = ∂J/∂a × σ'(z) = (a − y) × a(1 − a)
    a3, d3 = hand["a3"], hand["d3"]
    assert f"δ₁⁽³⁾ = ∂J/∂a₁⁽³⁾ × σ'(z₁⁽³⁾) = {f(a3[0] - Y[0])} × {f(a3[0] * (1 - a3[0]))} = {f(d3[0])}" in captions[3]
    # the hidden deltas: (δ₁⁽³⁾·w₁ⱼ⁽²⁾ + δ₂⁽³⁾·w₂ⱼ⁽²⁾) × σ'(z), the notes' formula with its numbers
    a2, d2 = hand["a2"], hand["d2"]
    line = (f"δ₁⁽²⁾ = (δ₁⁽³⁾·w₁₁⁽²⁾ + δ₂⁽³⁾·w₂₁⁽²⁾) × σ'(z₁⁽²⁾) = ({f(d3[0])}×{f(W[1][0][0])} − {f(-d3[1])}×{f(W[1][1][0])})"
            f" × {f(a2[0] * (1 - a2[0]))} = {f(d2[0])}")
    assert line in captions[5], captions[5]
    assert f"∂J/∂w₂₁⁽¹⁾ = δ₂⁽²⁾ × a₁⁽¹⁾ = {f(d2[1])} × {f(X[0])} = {f(d2[1] * X[0])}" in captions[6]
    # the last frame shows every delta, and the gradients backward() gives
    last = player.steps[-1]
    assert last.grads == tuple(f(d) for d in d2 + d3)
    loss.backward()
    for k, layer in enumerate(model.layers):
        for j, neuron in enumerate(layer.neurons):
            assert float(last.grads[2 * k + j]) == pytest.approx(neuron.b.grad, rel=1e-5)


def test_the_network_players_page_is_one_drawing_and_its_gif_every_frame(tmp_path) -> None:
    import io

    from PIL import Image

    from viz import backprop_player

    model = nn.MLP(3, [4, 4, 1], activation="tanh", rng=random.Random(0))
    loss = (model([0.5, -1.0, 2.0]) - 1.0) ** 2
    player = backprop_player(loss, names=model, view="network")
    assert len(player) == 1 + 3 + 6
    page = player.html()
    assert page.count("<svg") == 1 and len(page.encode("utf-8")) < 200_000
    root = ET.fromstring(player.page_svg())
    slots = [t for t in root.iter(f"{SVG}text") if t.get("class") == "slot"]
    captions = max(len(s.caption) for s in player.steps)
    assert len(slots) == (3 + 4 + 4 + 1) + (4 + 4 + 1) + (12 + 16 + 4) + captions
    with Image.open(io.BytesIO(player.gif())) as gif:
        assert gif.n_frames == len(player)
    assert player.steps[0].grads == ("",) * 9 and all(player.steps[-1].grads)


def test_the_network_player_says_what_it_needs() -> None:
    from viz import backprop_player

    model = nn.MLP(2, [2, 1], rng=random.Random(0))
    loss = model([1.0, 2.0]) ** 2
    with pytest.raises(TypeError, match="pass it as names="):
        backprop_player(loss, view="network")
    with pytest.raises(ValueError, match="style must be one of"):
        backprop_player(loss, names=model, view="network", style="record")
    with pytest.raises(ValueError, match="view must be 'graph' or 'network'"):
        backprop_player(loss, names=model, view="layers")
    batch = model([1.0, 2.0]) + model([0.5, 0.5])  # two samples: each neuron twice
    with pytest.raises(ValueError, match="used 2 times"):
        backprop_player(batch, names=model, view="network")
    other = nn.MLP(2, [2, 1], rng=random.Random(1))
    with pytest.raises(ValueError, match="used 0 times"):
        backprop_player(loss, names=other, view="network")
    assert len(backprop_player(loss, names=model, view="network", style="python")) == 1 + 2 + 4
