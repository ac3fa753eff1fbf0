"""viz.explain: the lectures' chain rule strings, sums over paths, summaries of MLP parameters
(path counts and largest contributions checked by brute force), totals against backward(),
Korean labels, and the LaTeX parsed by an independent converter."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from latex2mathml.converter import convert

import autograd
import nn
import viz
from autograd import Value
from viz import Explanation, Explanations, explain


def apple_price(intermediate_labels: bool = False) -> tuple[Value, ...]:
    apple, apple_num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    apple_price = apple * apple_num
    if intermediate_labels:
        apple_price.label = "apple_price"
    price = apple_price * tax
    price.label = "price"
    return price, apple, apple_num, tax


def apple_and_mandarin() -> tuple[Value, ...]:
    apple, apple_num = Value(100, label="apple"), Value(2, label="apple_num")
    orange, orange_num = Value(150, label="orange"), Value(3, label="orange_num")
    tax = Value(1.1, label="tax")
    apple_price, orange_price = apple * apple_num, orange * orange_num
    apple_price.label, orange_price.label = "apple_price", "orange_price"
    all_price = apple_price + orange_price
    all_price.label = "all_price"
    price = all_price * tax
    price.label = "price"
    return price, apple, apple_num, orange, orange_num, tax


# --- the lectures' numbers, as sentences ---------------------------------------------------------


def test_apple_price_reads_as_the_chain_rule() -> None:
    price, apple, apple_num, tax = apple_price()
    assert str(explain(price, apple)) == (
        "∂price/∂apple = ∂price/∂(apple × apple_num) · ∂(apple × apple_num)/∂apple = 1.1 × 2 = 2.2"
    )
    assert str(explain(price, apple_num)) == (
        "∂price/∂apple_num = ∂price/∂(apple × apple_num) · ∂(apple × apple_num)/∂apple_num = 1.1 × 100 = 110"
    )
    assert str(explain(price, tax)) == "∂price/∂tax = 200"


def test_labelled_intermediate_nodes_are_named_by_their_labels() -> None:
    price, apple, _, _ = apple_price(intermediate_labels=True)
    assert str(explain(price, apple)) == "∂price/∂apple = ∂price/∂apple_price · ∂apple_price/∂apple = 1.1 × 2 = 2.2"


def test_apple_price_totals_are_the_lecture_numbers() -> None:
    price, apple, apple_num, tax = apple_price()
    every = explain(price)
    assert isinstance(every, Explanations)
    assert [e.wrt for e in every] == ["tax", "apple", "apple_num"]  # draw_dot's order: breadth-first
    for leaf, lecture in ((apple, 2.2), (apple_num, 110), (tax, 200)):
        assert math.isclose(every[leaf].total, lecture, rel_tol=1e-12)
        assert every[leaf].n_paths == 1 and every[leaf].complete
    assert str(every) == "\n".join(str(explain(price, leaf)) for leaf in (tax, apple, apple_num))


def test_apple_and_mandarin() -> None:
    price, apple, apple_num, orange, orange_num, tax = apple_and_mandarin()
    assert math.isclose(price.data, 715, rel_tol=1e-12)
    assert str(explain(price, orange)) == (
        "∂price/∂orange = ∂price/∂all_price · ∂all_price/∂orange_price · ∂orange_price/∂orange = 1.1 × 1 × 3 = 3.3"
    )
    for leaf, lecture in zip((apple, apple_num, orange, orange_num, tax), (2.2, 110, 3.3, 165, 650)):
        e = explain(price, leaf)
        assert math.isclose(e.total, lecture, rel_tol=1e-12), (e.wrt, e.total)
        assert len(e.paths) == 1 and math.isclose(e.paths[0].value, lecture, rel_tol=1e-12)


# --- a node used more than once: a sum over paths ----------------------------------------------


def test_a_plus_a_sums_two_paths() -> None:
    a = Value(3.0, label="a")
    y = a + a
    y.label = "y"
    e = explain(y, a)
    assert str(e) == "∂y/∂a = 1 + 1 = 2"
    assert e.n_paths == 2 and [p.value for p in e.paths] == [1.0, 1.0] and e.total == 2.0


def test_copier_node_shows_each_path_with_its_number() -> None:
    a, b, c = Value(3.0, label="a"), Value(4.0, label="b"), Value(-5.0, label="c")
    z = a * b + a * c
    z.label = "z"
    assert str(explain(z, a)) == (
        "∂z/∂a = ∂z/∂(a × b) · ∂(a × b)/∂a + ∂z/∂(a × c) · ∂(a × c)/∂a = 1 × 4 + 1 × (-5) = 4 - 5 = -1"
    )


def test_long_sums_go_on_several_lines() -> None:
    x = Value(2.0, label="x")
    y = x * x * x
    y.label = "y"
    e = explain(y, x)
    assert e.n_paths == 3 and e.total == 12.0  # d(x³)/dx = 3x²
    assert [p.value for p in e.paths] == [4.0, 4.0, 4.0]
    lines = str(e).split("\n")
    assert lines[0] == "∂y/∂x = ∂y/∂(x × x) · ∂(x × x)/∂x"
    assert lines[1:] == [
        "      + ∂y/∂(x × x) · ∂(x × x)/∂x",
        "      + ∂y/∂x",
        "      = 2 × 2 + 2 × 2 + 4",
        "      = 4 + 4 + 4",
        "      = 12",
    ]


def test_unlabelled_nodes_are_named_by_expression_or_by_op_and_number() -> None:
    a, b = Value(0.5), Value(2.0, label="b")
    y = (a * b).tanh() * b + (a * b).sigmoid() * b * b * b
    e = explain(y, a)
    assert e.root == "add₀"  # its expression is too long to be a name
    assert "tanh(leaf" in str(e) and "σ(" in str(e)
    assert re.fullmatch(r"leaf[₀-₉]+", e.wrt)


def test_numbers_as_operands_and_other_ops() -> None:
    x = Value(0.5, label="x")
    y = (2 * x - 1) ** 2 / 4
    e = explain(y, x)
    assert e.n_paths == 1
    assert "2 × x" in str(e) and math.isclose(e.total, (2 * 0.5 - 1) * 2 * 2 / 4 + 0.0, abs_tol=1e-15)
    s = autograd.softmax([x, 2 * x, Value(1.0, label="c")])[0]
    e = explain(s, x)
    assert "softmax(x, 2 × x, c)[0]" in str(e)


def test_wrt_may_be_the_root_or_an_intermediate_node() -> None:
    price, apple, _, _ = apple_price(intermediate_labels=True)
    assert str(explain(price, price)) == "∂price/∂price = 1"
    apple_price_node = price.parents[0]
    assert str(explain(price, apple_price_node)) == "∂price/∂apple_price = 1.1"


def test_explain_does_not_touch_the_graph() -> None:
    price, apple, apple_num, tax = apple_price()
    before = [(v.data, v.grad) for v in (price, apple, apple_num, tax, price.parents[0])]
    explain(price)
    explain(price, apple, max_paths=1)
    assert [(v.data, v.grad) for v in (price, apple, apple_num, tax, price.parents[0])] == before


# --- many paths: summaries ---------------------------------------------------------------------


def _brute_force_paths(root: Value, target: Value) -> list[float]:
    """Every path's product of local derivatives, by plain enumeration (explicit stack)."""
    products = []
    stack = [(root, 1.0)]
    while stack:
        node, product = stack.pop()
        if node is target:
            products.append(product)
            continue
        if not node.op:
            continue
        values = [o.data if isinstance(o, Value) else o for o in node.operands]
        op = autograd.OPS[node.op]
        if op.arity == 1:
            local = [op.backward(1.0, node.data, values[0])]
        elif op.arity == 2:
            local = list(op.backward(1.0, node.data, *values))
        else:
            local = op.backward(1.0, node.data, values + list(node.params))
        for operand, d in zip(node.operands, local):
            if isinstance(operand, Value):
                stack.append((operand, product * d))
    return products


def mlp_loss() -> tuple[Value, nn.MLP]:
    model = nn.MLP(2, [4, 4, 1], activation="tanh", rng=random.Random(3))
    samples = [((0.5, -1.0), 1.0), ((1.5, 0.3), -1.0), ((-0.7, 0.9), 1.0)]
    loss = autograd.sum([(model(x) - y) ** 2 for x, y in samples])
    loss.label = "loss"
    return loss, model


def test_an_mlp_parameter_is_summarised() -> None:
    loss, model = mlp_loss()
    w = model.layers[0].neurons[0].w[0]
    products = _brute_force_paths(loss, w)
    assert len(products) == 3 * 4  # three samples, each through the four neurons of layer 2
    e = explain(loss, w, max_paths=5, top=3)
    assert not e.complete and e.n_paths == len(products)
    largest = sorted(products, key=abs, reverse=True)[:3]
    assert [p.value for p in e.paths] == pytest.approx(largest, rel=1e-12)
    assert all(p.names[0] == "loss" and len(p.factors) == len(p.names) - 1 for p in e.paths)
    assert all(math.isclose(math.prod(p.factors), p.value, rel_tol=1e-12) for p in e.paths)
    loss.backward()
    assert math.isclose(e.total, w.grad, rel_tol=1e-12)
    assert math.isclose(math.fsum(products), w.grad, rel_tol=1e-9, abs_tol=1e-15)
    text = str(e).split("\n")
    assert text[0].startswith("∂loss/∂leaf")  # the weights have no labels
    assert text[0].endswith(f"= sum over 12 paths = {format(e.total, '.4g')}")
    assert text[1] == "  the 3 largest contributions:"
    assert text[-1] == f"  the other 9 paths together: {format(e.total - math.fsum(largest), '.4g')}"


def test_a_bigger_mlp_every_parameter() -> None:
    loss, model = mlp_loss()
    loss.backward()
    every = explain(loss, model.parameters(), top=2)
    assert len(every) == len(model.parameters())
    for p, e in zip(model.parameters(), every):
        assert e.total == p.grad  # the same rules, added up in the order backward() adds them
        assert e.n_paths == len(_brute_force_paths(loss, p))


def test_exponentially_many_paths_are_counted_not_enumerated() -> None:
    x = Value(1.0, label="x")
    y = x
    for _ in range(200):  # y = 2^200 · x: every step doubles the number of paths
        y = y + y
    y.label = "y"
    e = explain(y, x)
    assert e.n_paths == 2**200
    assert e.total == 2.0**200
    assert len(e.paths) == 5 and all(p.value == 1.0 for p in e.paths)
    assert str(e).startswith(f"∂y/∂x = sum over {2**200:,} paths = 1.607e+60")


# --- agreement with backward() on many graphs ---------------------------------------------------

_UNARY = ("tanh", "sigmoid", "relu", "softplus", "__neg__", "__abs__", "leaky_relu", "elu")
_VARIADIC = (autograd.mean, autograd.logsumexp, autograd.maximum)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Value, list[Value]]:
    n_leaves = draw(st.integers(1, 4))
    leaves = [Value(draw(st.floats(-2, 2)), label=f"x{i}") for i in range(n_leaves)]
    nodes: list[Value] = list(leaves)
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(
            ("add", "sub", "mul", "unary", "dot", "sum", "variadic", "softmax", "pow", "div", "number")
        ))
        pick = st.sampled_from(nodes)
        if kind == "add":
            node = draw(pick) + draw(pick)
        elif kind == "sub":
            node = draw(pick) - draw(pick)
        elif kind == "mul":
            node = draw(pick) * draw(pick)
        elif kind == "unary":
            node = getattr(draw(pick), draw(st.sampled_from(_UNARY)))()
        elif kind == "dot":
            k = draw(st.integers(1, 3))
            node = autograd.dot([draw(pick) for _ in range(k)], [draw(pick) for _ in range(k)], draw(pick))
        elif kind == "sum":
            node = autograd.sum([draw(pick) for _ in range(draw(st.integers(1, 4)))])
        elif kind == "variadic":
            node = draw(st.sampled_from(_VARIADIC))([draw(pick) for _ in range(draw(st.integers(1, 3)))])
        elif kind == "softmax":
            softmax = draw(st.sampled_from((autograd.softmax, autograd.log_softmax)))
            outs = softmax([draw(pick) for _ in range(draw(st.integers(1, 3)))])
            node = outs[draw(st.integers(0, len(outs) - 1))]
        elif kind == "pow":
            node = draw(pick).tanh() ** 2
        elif kind == "div":
            node = draw(pick) / (1 + draw(pick) ** 2)
        else:
            node = draw(st.floats(-3, 3)) * draw(pick)
        nodes.append(node)
    root = nodes[-1]
    return root, leaves


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_totals_equal_backward_and_the_sum_over_paths(graph: tuple[Value, list[Value]]) -> None:
    root, leaves = graph
    snapshot = {id(v): v.grad for v in leaves}
    every = explain(root, max_paths=64)
    assert all(v.grad == snapshot[id(v)] for v in leaves)  # explain wrote no gradient
    root.backward()
    assert len(every) == sum(1 for _ in every)
    for e in every:
        leaf = next(v for v in leaves if v.label == e.wrt)
        scale = max(1.0, abs(leaf.grad))
        assert math.isclose(e.total, leaf.grad, rel_tol=1e-12, abs_tol=1e-12 * scale), (e.wrt, e.total, leaf.grad)
        if e.complete:
            assert len(e.paths) == e.n_paths
            path_sum = math.fsum(p.value for p in e.paths)
            size = math.fsum(abs(p.value) for p in e.paths)
            assert abs(path_sum - e.total) <= 1e-9 * max(1.0, size)
            assert e.n_paths == len(_brute_force_paths(root, leaf))
    for node in root.parents:  # intermediate nodes too: backward() leaves ∂root/∂node in their grad
        assert math.isclose(explain(root, node).total, node.grad, rel_tol=1e-12, abs_tol=1e-12 * max(1.0, abs(node.grad)))


# --- Korean labels, LaTeX --------------------------------------------------------------------


def korean_price() -> tuple[Value, Value, Value, Value]:
    apple, apple_num, tax = Value(100, label="사과"), Value(2, label="사과 개수"), Value(1.1, label="소비세")
    apple_price = apple * apple_num
    apple_price.label = "사과 가격"
    price = apple_price * tax
    price.label = "지불 금액"
    return price, apple, apple_num, tax


def test_korean_labels_in_text_and_latex() -> None:
    price, apple, _, _ = korean_price()
    e = explain(price, apple)
    assert str(e) == "∂지불 금액/∂사과 = ∂지불 금액/∂사과 가격 · ∂사과 가격/∂사과 = 1.1 × 2 = 2.2"
    latex = e._repr_latex_()
    assert r"\frac{\partial \text{지불 금액}}{\partial \text{사과}}" in latex
    assert r"\text{사과 가격}" in latex
    mathml = convert(_math_of(latex))
    assert "<mtext>사과</mtext>" in mathml and "<mtext>지불&#x000A0;금액</mtext>" in mathml


def _math_of(latex: str) -> str:
    assert latex.startswith("$$\n\\begin{aligned}\n") and latex.endswith("\n\\end{aligned}\n$$")
    return latex.strip("$\n")


def _check_well_formed(latex: str) -> str:
    """Balanced braces and \\left/\\right, and a MathML conversion with no unknown command left over."""
    body = _math_of(latex)
    depth = 0
    for token in re.findall(r"\\[{}]|[{}]", body):
        if token in "{}":
            depth += 1 if token == "{" else -1
            assert depth >= 0, body
    assert depth == 0, body
    assert body.count(r"\left") == body.count(r"\right")
    mathml = convert(body)
    unknown = re.findall(r"<mi>\\[A-Za-z]+", mathml)  # latex2mathml keeps unknown macros as text
    assert not unknown, unknown
    return mathml


def test_latex_is_well_formed_for_every_kind_of_explanation() -> None:
    price, apple, _, _ = apple_price()
    loss, model = mlp_loss()
    a = Value(3.0, label="a")
    x = Value(2.0, label="x")
    for shown in (
        explain(price, apple),
        explain(price),
        explain(a + a, a),
        explain(x * x * x, x),
        explain(loss, model.layers[0].neurons[0].w[0], max_paths=4),
        explain(loss, max_paths=4),
        explain(autograd.softmax([x, a])[1].leaky_relu(0.1).elu() ** 0.5 / 1e-7),
    ):
        mathml = _check_well_formed(shown._repr_latex_())
        assert "<mfrac>" in mathml
        assert shown._repr_markdown_() == shown._repr_latex_()


def test_latex_of_labels_with_tex_and_html_characters() -> None:
    nasty = r"a_b^{c}$ \d & #%~<i>"
    x = Value(1.0, label=nasty)
    y = x * 2
    y.label = "y</td>"
    latex = explain(y, x)._repr_latex_()
    assert "<i>" not in latex and "</td>" not in latex  # no HTML can come through the markdown
    mathml = _check_well_formed(latex)
    for piece in ("a", "b", "c", "d", "i", "y", "/td"):
        assert f"<mtext>{piece}" in mathml or f">{piece}<" in mathml


def test_numbers_in_latex() -> None:
    x = Value(1e-7, label="x")
    y = x * 3e-9
    latex = explain(y, x)._repr_latex_()
    assert r"3 \times 10^{-9}" in latex
    _check_well_formed(latex)


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_is_refused_clearly() -> None:
    price, apple, _, _ = apple_price()
    stranger = Value(5.0, label="stranger")
    with pytest.raises(ValueError, match="root does not depend on .*stranger"):
        explain(price, stranger)
    with pytest.raises(TypeError, match="explain: root must be a Value; got float"):
        explain(2.0, apple)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrt must be a Value, a sequence of Values or None; got str"):
        explain(price, "apple")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrt must hold Values; got int"):
        explain(price, [apple, 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="max_paths must be an int ≥ 1; got 0"):
        explain(price, apple, max_paths=0)
    with pytest.raises(ValueError, match="top must be an int ≥ 1; got True"):
        explain(price, apple, top=True)
    with pytest.raises(ValueError, match="fmt must be a float format spec"):
        explain(price, apple, fmt="%d")
    with pytest.raises(KeyError, match="stranger"):
        explain(price)[stranger]


def test_public_names() -> None:
    assert viz.explain is explain
    price, apple, _, _ = apple_price()
    assert isinstance(explain(price, apple), Explanation)
    assert isinstance(explain(price, [apple]), Explanations)
    assert "Explanations of 3 nodes: tax, apple, apple_num" in repr(explain(price))


def test_repr_and_ipython_text() -> None:
    from IPython.lib.pretty import pretty

    price, apple, _, _ = apple_price()
    e = explain(price, apple)
    assert repr(e) == "<viz.Explanation ∂price/∂apple = 2.2 over 1 path>"
    assert pretty(e) == str(e) and pretty(explain(price)) == str(explain(price))
    assert pretty(viz.nudge(price, apple, 1)) == str(viz.nudge(price, apple, 1))


def test_names_from_a_model_or_pairs() -> None:
    loss, model = mlp_loss()
    w = model.layers[0].neurons[0].w[0]
    e = explain(loss, w, max_paths=4, top=2, names=model)
    assert e.wrt == "layers.0.neurons.0.w.0"
    assert all(p.names[-1] == "layers.0.neurons.0.w.0" for p in e.paths)
    assert explain(loss, w, names=[("w", w)]).wrt == "w"
    assert viz.nudge(loss, w, 0.1, names=model).node == "layers.0.neurons.0.w.0"
    price, apple, _, _ = apple_price()
    assert str(explain(price, apple, names=[("사과", apple)])).startswith("∂price/∂사과 = ∂price/∂(사과 × apple_num)")
    assert explain(price, apple, names={"사과": apple}).wrt == "사과"
    with pytest.raises(TypeError, match="names must be a model with named_parameters\\(\\), a \\{name: Value\\} mapping or"):
        explain(price, apple, names=[("apple", 100.0)])
    with pytest.raises(TypeError, match="names must be .* got int"):
        explain(price, apple, names=3)


def test_a_long_chain_is_elided_in_the_middle() -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y.sigmoid()
    y.label = "y"
    e = explain(y, x)
    y.backward()
    assert e.n_paths == 1 and len(e.paths[0].factors) == 3000 and e.total == x.grad
    assert math.isclose(math.prod(e.paths[0].factors), e.total, rel_tol=1e-9, abs_tol=0.0)
    text = str(e)
    assert len(text) < 1000 and text.count("…") == 2  # the symbols and the product, 10 steps each side
    assert text.count(" · ") == 2 * 10 and text.count(" × ") == 2 * 10  # 21 items: 20 separators
    _check_well_formed(e._repr_latex_())
