"""nn.Module, Neuron, Layer and MLP: parameters and their names, state dicts, inputs, activations, init."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import autograd
import nn
from autograd import Value


def weights_of(model: nn.Module) -> list[float]:
    return [p.data for p in model.parameters()]


# --- parameters and names -----------------------------------------------------------------


def test_named_parameters_follow_micrograd_order_with_readable_names() -> None:
    model = nn.MLP(2, [4, 3, 1], rng=random.Random(0))
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == (2 + 1) * 4 + (4 + 1) * 3 + (3 + 1) * 1 == model.num_parameters()
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.1.neurons.2.w.3" in names
    assert names[-1] == "layers.2.neurons.0.b"
    assert len(set(names)) == len(names)
    assert [p for _, p in model.named_parameters()] == model.parameters()
    # the names are attribute paths
    assert model.layers[1].neurons[2].w[3] is dict(model.named_parameters())["layers.1.neurons.2.w.3"]


def test_neuron_and_layer_names() -> None:
    neuron = nn.Neuron(3, rng=random.Random(0))
    assert [n for n, _ in neuron.named_parameters()] == ["w.0", "w.1", "w.2", "b"]
    layer = nn.Layer(2, 2, rng=random.Random(0))
    assert [n for n, _ in layer.named_parameters()] == [
        "neurons.0.w.0", "neurons.0.w.1", "neurons.0.b", "neurons.1.w.0", "neurons.1.w.1", "neurons.1.b"
    ]


def test_a_custom_module_finds_its_parameters_in_attribute_order() -> None:
    class Affine(nn.Module):
        def __init__(self) -> None:
            self.scale = Value(2.0)
            self.hidden = nn.Neuron(1, rng=random.Random(1))
            self.extra = [Value(1.0), Value(3.0)]
            self._cache = Value(9.0)  # private: not a parameter
            self.note = "not a parameter"
            self.tied = self.scale  # the same Value again: listed once

    names = [n for n, _ in Affine().named_parameters()]
    assert names == ["scale", "hidden.w.0", "hidden.b", "extra.0", "extra.1"]


def test_zero_grad_clears_every_gradient() -> None:
    model = nn.MLP(2, [3, 1], rng=random.Random(0))
    model([1.0, -2.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_repr_shows_architecture_and_parameter_counts() -> None:
    model = nn.MLP(2, [16, 16, 1])
    text = repr(model)
    assert text.splitlines()[0] == (
        "MLP(nin=2, nouts=[16, 16, 1], activation='relu', output_activation='linear')  # 337 parameters"
    )
    assert "layers.1: Layer(nin=16, nout=16, activation='relu')  # 272 parameters" in text
    assert "layers.2: Layer(nin=16, nout=1, activation='linear')  # 17 parameters" in text
    assert repr(nn.Neuron(1)) == "Neuron(nin=1, activation='relu')  # 2 parameters"


# --- state dicts ----------------------------------------------------------------------------


def test_state_dict_round_trip() -> None:
    source, target = nn.MLP(2, [3, 1], rng=random.Random(1)), nn.MLP(2, [3, 1], rng=random.Random(2))
    state = source.state_dict()
    assert list(state) == [n for n, _ in source.named_parameters()]
    assert all(type(v) is float for v in state.values())
    target.load_state_dict(state)
    assert weights_of(target) == weights_of(source)
    state["layers.0.neurons.0.b"] = 5.0  # a copy: changing it leaves the model alone
    assert source.layers[0].neurons[0].b.data == 0.0


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda s: s.pop("layers.1.neurons.0.b"), ValueError, "missing 'layers.1.neurons.0.b'"),
        (lambda s: s.update(bogus=1.0), ValueError, "unexpected 'bogus'"),
        (lambda s: s.update({"layers.0.neurons.2.w.1": "0.5"}), TypeError, "layers.0.neurons.2.w.1 must be a real number"),
        (lambda s: s.update({"layers.0.neurons.2.w.1": True}), TypeError, "must be a real number; got bool"),
        (lambda s: s.update({"layers.1.neurons.0.w.2": math.nan}), ValueError, "layers.1.neurons.0.w.2 is nan"),
    ],
)
def test_a_bad_state_dict_changes_nothing(change, error, message) -> None:  # type: ignore[no-untyped-def]
    model = nn.MLP(2, [3, 1], rng=random.Random(1))
    before = weights_of(model)
    state = {name: 0.25 for name, _ in model.named_parameters()}  # valid values first, in order
    change(state)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        model.load_state_dict(state)
    assert weights_of(model) == before


def test_load_state_dict_accepts_numpy_and_int_values() -> None:
    model = nn.Neuron(2, rng=random.Random(0))
    model.load_state_dict({"w.0": np.float64(0.5), "w.1": 2, "b": np.float32(0.25)})
    assert weights_of(model) == [0.5, 2.0, 0.25]
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("w.0", 1.0)])  # type: ignore[arg-type]


# --- forward: one dot node, inputs, outputs ---------------------------------------------------


def test_a_neurons_sum_is_one_dot_node_then_the_activation() -> None:
    neuron = nn.Neuron(3, activation="tanh", rng=random.Random(0))
    out = neuron([1.0, 2.0, 3.0])
    assert out.op == "tanh"
    (pre,) = out.parents
    assert pre.op == "dot"
    assert list(pre.parents) == [*neuron.w, neuron.b]  # numbers stay numbers, not nodes
    assert pre.operands[3:6] == (1.0, 2.0, 3.0)
    expected = math.fsum([w.data * x for w, x in zip(neuron.w, [1.0, 2.0, 3.0])]) + neuron.b.data
    assert pre.data == expected and out.data == math.tanh(expected)
    linear = nn.Neuron(2, activation="linear", rng=random.Random(0))
    assert linear([1.0, 1.0]).op == "dot"


def test_neuron_gradients_by_hand_and_by_central_differences() -> None:
    neuron = nn.Neuron(2, activation="sigmoid", rng=random.Random(3))
    x = [0.5, -1.5]
    out = neuron(x)
    out.backward()
    s = out.data
    for w, xi in zip(neuron.w, x):
        assert w.grad == pytest.approx(s * (1 - s) * xi, rel=1e-12)
    assert neuron.b.grad == pytest.approx(s * (1 - s), rel=1e-12)

    def through_neuron(w0: Value, w1: Value, b: Value) -> Value:
        probe = nn.Neuron(2, activation="sigmoid", rng=random.Random(3))
        probe.w, probe.b = [w0, w1], b
        return probe(x)

    assert autograd.gradcheck(through_neuron, [w.data for w in neuron.w] + [0.3])


@pytest.mark.parametrize(
    "row", [[0.5, -1.0], (0.5, -1.0), np.array([0.5, -1.0]), [Value(0.5), Value(-1.0)], np.array([1, -2]) / 2]
)
def test_inputs_lists_tuples_values_and_numpy_rows_agree(row: object) -> None:
    model = nn.MLP(2, [4, 2], rng=random.Random(5))
    expected = [v.data for v in model([0.5, -1.0])]
    assert [v.data for v in model(row)] == expected  # type: ignore[arg-type]
    assert [v.data for v in model.layers[0](row)] == [v.data for v in model.layers[0]([0.5, -1.0])]  # type: ignore[arg-type]


def test_gradients_reach_value_inputs() -> None:
    model = nn.MLP(2, [3, 1], activation="tanh", rng=random.Random(0))
    x = [Value(0.3), Value(-0.7)]
    out = model(x)
    out.backward()
    assert autograd.gradcheck(lambda a, b: model([a, b]), [0.3, -0.7])
    assert x[0].grad != 0.0


def test_outputs_single_value_or_list_as_micrograd() -> None:
    assert isinstance(nn.MLP(2, [3, 1], rng=random.Random(0))([1, 2]), Value)
    many = nn.MLP(2, [3, 4], rng=random.Random(0))([1, 2])
    assert isinstance(many, list) and len(many) == 4
    assert isinstance(nn.Layer(2, 1, rng=random.Random(0))([1, 2]), Value)
    # a hidden layer of width one still feeds the next layer (micrograd would fail here)
    narrow = nn.MLP(2, [1, 1, 2], rng=random.Random(0))
    assert len(narrow([1.0, 2.0])) == 2


@pytest.mark.parametrize("name", list(nn.ACTIVATIONS))
def test_activations_by_name(name: str) -> None:
    model = nn.MLP(2, [3, 2], activation=name, output_activation=name, rng=random.Random(4))
    assert model.activation == name and model.output_activation == name
    assert all(layer.activation == name for layer in model.layers)
    assert all(neuron.activation == name for layer in model.layers for neuron in layer.neurons)
    neuron = model.layers[0].neurons[0]
    pre = autograd.dot(neuron.w, [0.5, -2.0], bias=neuron.b)
    method = {"linear": lambda v: v, "relu": Value.relu, "leaky_relu": Value.leaky_relu, "elu": Value.elu,
              "sigmoid": Value.sigmoid, "tanh": Value.tanh, "step": Value.step}[name]
    assert neuron([0.5, -2.0]).data == method(pre).data


def test_hidden_and_output_activations() -> None:
    model = nn.MLP(2, [3, 3, 1], activation="tanh", output_activation="sigmoid", rng=random.Random(0))
    assert [layer.activation for layer in model.layers] == ["tanh", "tanh", "sigmoid"]
    assert model([0.1, 0.2]).op == "sigmoid"
    assert [layer.activation for layer in nn.MLP(2, [3, 1]).layers] == ["relu", "linear"]


# --- bad input --------------------------------------------------------------------------------


def test_wrong_input_length_says_what_is_expected() -> None:
    model = nn.MLP(2, [3, 1], rng=random.Random(0))
    with pytest.raises(ValueError, match=r"^MLP\(nin=2, nouts=\[3, 1\], activation='relu', output_activation='linear'\) takes 2 inputs; got 3$"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"^Neuron\(nin=2, activation='relu'\) takes 2 inputs; got 1$"):
        model.layers[0].neurons[0]([1.0])
    with pytest.raises(ValueError, match=r"^Layer\(nin=2, nout=3, activation='relu'\) takes 2 inputs; got 0$"):
        model.layers[0]([])
    with pytest.raises(TypeError, match="takes one sample: a list of 2 numbers or Values, or a 1-D NumPy row; got float 1.5"):
        model(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"one sample, a 1-D row; got an array of shape \(5, 2\)"):
        model(np.zeros((5, 2)))


SIGNATURE = r"MLP\(nin=2, nouts=\[3, 1\], activation='relu', output_activation='linear'\)"


@pytest.mark.parametrize(
    ("sample", "got"),
    [
        ("ab", "got str 'ab'$"),  # as long as a sample of 2, yet text
        (b"ab", "got bytes b'ab'$"),
        ({0: 1.0, 1: 2.0}, r"got dict \{0: 1.0, 1: 2.0\}$"),  # its keys would have been read as the inputs
        (["a", "b"], r"got \['a', 'b'\], and dot accepts a Value, int, float or NumPy real scalar; got str 'a'$"),
        ([[1.0, 2.0], [3.0, 4.0]], r"got \[\[1.0, 2.0\], \[3.0, 4.0\]\], and dot accepts"),
    ],    ids=["str", "bytes", "dict", "list of text", "a batch"],
)
def test_a_sample_that_is_not_numbers_names_the_model_and_what_it_takes(sample: object, got: str) -> None:
    model = nn.MLP(2, [3, 1], rng=random.Random(0))
    takes = " takes one sample: a list of 2 numbers or Values, or a 1-D NumPy row; "
    with pytest.raises(TypeError, match="^" + SIGNATURE + takes + got):
        model(sample)  # type: ignore[arg-type]
    for part, name in ((model.layers[0], r"Layer\(nin=2, nout=3, activation='relu'\)"), (model.layers[0].neurons[0], r"Neuron\(nin=2, activation='relu'\)")):
        with pytest.raises(TypeError, match="^" + name + takes):
            part(sample)  # type: ignore[arg-type]


def test_bad_constructor_arguments_list_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="unknown activation 'softmax'; accepted: linear, relu, leaky_relu, elu, sigmoid, tanh, step"):
        nn.MLP(2, [1], activation="softmax")
    with pytest.raises(ValueError, match="output_activation.*unknown activation 'Sigmoid'"):
        nn.MLP(2, [1], output_activation="Sigmoid")
    with pytest.raises(ValueError, match="unknown init 'normal'; accepted: uniform, xavier, he"):
        nn.Neuron(2, init="normal")
    with pytest.raises(TypeError, match="rng must be a random.Random"):
        nn.Layer(2, 2, rng=np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nin must be a positive int; got 0"):
        nn.Neuron(0)
    with pytest.raises(ValueError, match="nouts must be a non-empty list"):
        nn.MLP(2, [])
    with pytest.raises(ValueError, match="nouts must be a non-empty list"):
        nn.MLP(2, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="each layer width in nouts must be a positive int; got 2.5"):
        nn.MLP(2, [2.5, 1])  # type: ignore[list-item]


# --- initialisation -------------------------------------------------------------------------


def test_default_init_is_micrograds_order_of_draws() -> None:
    rng = random.Random(42)
    model = nn.MLP(2, [3, 1], rng=rng)
    replay = random.Random(42)
    expected = []
    for nin, nout in [(2, 3), (3, 1)]:
        for _ in range(nout):
            expected += [replay.uniform(-1, 1) for _ in range(nin)] + [0.0]
    assert weights_of(model) == expected


def test_an_rng_leaves_the_global_random_state_alone() -> None:
    random.seed(5)
    state = random.getstate()
    a = nn.MLP(3, [4, 1], rng=random.Random(9))
    assert random.getstate() == state
    assert weights_of(a) == weights_of(nn.MLP(3, [4, 1], rng=random.Random(9)))
    # without an rng, the global generator is used, as in micrograd
    random.seed(5)
    b = nn.MLP(3, [4, 1])
    random.seed(5)
    assert weights_of(b) == weights_of(nn.MLP(3, [4, 1]))


@pytest.mark.parametrize(("init", "bound"), [("uniform", 1.0), ("xavier", math.sqrt(6 / (50 + 30))), ("he", math.sqrt(6 / 50))])
def test_init_schemes_draw_within_their_bounds(init: str, bound: float) -> None:
    layer = nn.Layer(50, 30, init=init, rng=random.Random(0))
    weights = [w.data for neuron in layer.neurons for w in neuron.w]
    assert max(abs(w) for w in weights) <= bound
    assert max(abs(w) for w in weights) > 0.9 * bound  # the draws fill the interval
    assert abs(sum(weights) / len(weights)) < 0.05 * bound
    assert all(neuron.b.data == 0.0 for neuron in layer.neurons)


def test_a_layer_computes_what_its_neurons_compute() -> None:
    model = nn.MLP(3, [4, 4, 2], activation="elu", output_activation="tanh", rng=random.Random(8))
    x = [0.3, -1.2, 2.0]
    hidden = x
    for layer in model.layers:
        hidden = [neuron(hidden) for neuron in layer.neurons]
        assert [v.op for v in hidden] == [layer.activation] * layer.nout
    assert [v.data for v in model(x)] == [v.data for v in hidden]


def test_parameters_of_subclasses_and_tied_weights_match_the_names() -> None:
    class Scaled(nn.MLP):
        def __init__(self) -> None:
            super().__init__(2, [2, 1], rng=random.Random(0))
            self.scale = Value(2.0)

    scaled = Scaled()
    assert len(scaled.parameters()) == 10 and scaled.parameters()[-1] is scaled.scale
    assert [n for n, _ in scaled.named_parameters()][-1] == "scale"
    tied = nn.MLP(2, [2, 1], rng=random.Random(0))
    tied.layers[1].neurons[0].w[0] = tied.layers[0].neurons[0].w[0]  # one Value in two places
    assert len(tied.parameters()) == 8
    assert tied.parameters() == [p for _, p in tied.named_parameters()]
