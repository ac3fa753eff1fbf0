"""viz.nudge and viz.nudge_slider: Δroot against grad·h, recomputation checked against rebuilding
the graph at the nudged value, the user's graph left as it was, and the widget driven without a browser."""

from __future__ import annotations

import math
import random

import pytest

import autograd
import nn
import viz
from autograd import Value
from viz import Nudge, nudge, nudge_slider


def apple_price() -> tuple[Value, Value, Value, Value]:
    apple, apple_num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * apple_num * tax
    price.label = "price"
    return price, apple, apple_num, tax


def test_one_won_more_for_apples_raises_the_bill_by_2_2_won() -> None:
    price, apple, _, _ = apple_price()
    result = nudge(price, apple, 1)
    assert isinstance(result, Nudge)
    assert result.node_before == 100 and result.node_after == 101 and result.h == 1
    assert result.root_before == 100 * 2 * 1.1
    assert result.root_after == 101 * 2 * 1.1  # the same float operations, in the same order
    assert math.isclose(result.delta, 2.2, rel_tol=1e-12)
    assert math.isclose(result.predicted, 2.2, rel_tol=1e-12) and math.isclose(result.grad, 2.2, rel_tol=1e-12)
    assert str(result) == (
        "apple: 100 → 101 (h = 1)\n"
        "price: 220 → 222.2 (Δprice = 2.2)\n"
        "∂price/∂apple · h = 2.2 × 1 = 2.2"
    )
    assert "Δprice = 2.2" in result._repr_html_()


def test_the_graph_is_not_changed() -> None:
    price, apple, apple_num, tax = apple_price()
    price.backward()
    nodes = (price, price.parents[0], apple, apple_num, tax)
    before = [(v.data, v.grad) for v in nodes]
    nudge(price, apple, 37.5)
    nudge(price, price.parents[0], -3)
    assert [(v.data, v.grad) for v in nodes] == before


def _loss(model: nn.MLP) -> Value:
    samples = [((0.5, -1.0), 1.0), ((1.5, 0.3), -1.0), ((-0.7, 0.9), 1.0)]
    return autograd.sum([(model(x) - y) ** 2 for x, y in samples])


def test_recomputation_equals_rebuilding_the_graph() -> None:
    model = nn.MLP(2, [4, 4, 1], activation="tanh", rng=random.Random(5))
    loss = _loss(model)
    loss.backward()
    w = model.layers[1].neurons[2].w[3]
    original, grad = w.data, w.grad
    for h in (1e-3, -0.25, 2.0):
        result = nudge(loss, w, h)
        w.data = original + h
        rebuilt = _loss(model).data  # the model run again from scratch at the nudged weight
        w.data = original
        assert result.root_after == rebuilt
        assert result.root_before == loss.data
        assert math.isclose(result.grad, grad, rel_tol=1e-12)
    small = nudge(loss, w, 1e-6)
    assert math.isclose(small.delta, small.predicted, rel_tol=1e-4)  # first order: Δ ≈ grad·h


def test_nudging_an_intermediate_node_holds_it() -> None:
    x, y = Value(3.0, label="x"), Value(2.0, label="y")
    t = x + y
    t.label = "t"
    z = t**2
    z.label = "z"
    result = nudge(z, t, 0.5)
    assert result.root_after == 5.5**2 and result.grad == 10.0  # ∂z/∂t = 2t


def test_recomputation_uses_the_leaves_as_they_are_now() -> None:
    price, apple, _, _ = apple_price()
    apple.data = 200.0  # changed after the forward pass: the graph's stored values are stale
    result = nudge(price, apple, 1)
    assert result.root_before == 200 * 2 * 1.1 and result.root_after == 201 * 2 * 1.1
    assert price.data == 100 * 2 * 1.1


def test_bad_input() -> None:
    price, apple, _, _ = apple_price()
    with pytest.raises(ValueError, match="h must be a finite real number; got nan"):
        nudge(price, apple, math.nan)
    with pytest.raises(ValueError, match="h must be a finite real number; got '1'"):
        nudge(price, apple, "1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="root does not depend on"):
        nudge(price, Value(1.0), 1)
    with pytest.raises(TypeError, match="nudge: the node to nudge must be a Value; got float"):
        nudge(price, 1.0, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="nudge: root must be a Value"):
        nudge(None, apple, 1)  # type: ignore[arg-type]


# --- the slider, without a browser ----------------------------------------------------------


def test_slider_builds_and_updates_the_numbers_and_the_drawing() -> None:
    price, apple, apple_num, tax = apple_price()
    price.backward()
    nodes = (price, price.parents[0], apple, apple_num, tax)
    before = [(v.data, v.grad) for v in nodes]
    box = nudge_slider(price, apple)
    assert box.slider.description == "apple"
    assert (box.slider.min, box.slider.value, box.slider.max, box.slider.step) == (0.0, 100.0, 200.0, 1.0)
    # the value beside the slider in Python's format, as the numbers below it: 100, not ipywidgets' 100.0
    assert not box.slider.readout and box.readout.value == "100"
    assert box.result.h == 0 and "Δprice = 0" in box.numbers.value
    first_svg = box.graph.value
    assert first_svg.lstrip().startswith("<?xml") or "<svg" in first_svg
    assert ">220<" in first_svg

    box.slider.value = 101.0  # what dragging the slider does
    assert box.readout.value == "101"
    assert box.result.h == 1.0 and math.isclose(box.result.delta, 2.2, rel_tol=1e-12)
    assert "Δprice = 2.2" in box.numbers.value and "2.2 × 1 = 2.2" in box.numbers.value
    assert ">222.2<" in box.graph.value and ">101<" in box.graph.value and ">220<" not in box.graph.value
    assert [(v.data, v.grad) for v in nodes] == before  # drawn at 101, restored to 100

    box.slider.value = 150.0
    assert ">330<" in box.graph.value and ">150<" in box.graph.value
    assert "Δprice = 110" in box.numbers.value


def test_slider_shows_gradients_at_the_nudged_point() -> None:
    x = Value(1.0, label="x")
    y = x * x
    y.label = "y"
    box = nudge_slider(y, x, span=2.0, steps=4)
    assert box.slider.step == 0.5
    box.slider.value = 3.0
    assert ">9<" in box.graph.value and ">6<" in box.graph.value  # y = 9, ∂y/∂x = 2x = 6
    assert "Δy = 8" in box.numbers.value and "2 × 2 = 4" in box.numbers.value


def test_slider_bad_input() -> None:
    price, apple, _, _ = apple_price()
    with pytest.raises(ValueError, match="span must be a finite number > 0; got 0"):
        nudge_slider(price, apple, span=0)
    with pytest.raises(ValueError, match="steps must be an int ≥ 1; got 2.5"):
        nudge_slider(price, apple, steps=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="style must be one of"):
        nudge_slider(price, apple, style="fancy")
    assert apple.data == 100.0


def test_public_names() -> None:
    assert viz.nudge is nudge and viz.nudge_slider is nudge_slider and viz.Nudge is Nudge
