"""Model files: JSON round trips, atomic saves, and bad files that leave the model untouched."""

from __future__ import annotations

import json
import math
import os
import random
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import nn
from autograd import Value


def trained_model(seed: int = 0) -> nn.MLP:
    model = nn.MLP(2, [4, 3, 1], activation="tanh", output_activation="sigmoid", rng=random.Random(seed))
    for p in model.parameters():  # biases too, so that every number is non-trivial
        p.data += random.Random(seed + 1).uniform(-0.1, 0.1)
    return model


def weights_of(model: nn.Module) -> list[float]:
    return [p.data for p in model.parameters()]


# --- round trips ----------------------------------------------------------------------------


def test_save_then_nn_load_rebuilds_the_model_bit_for_bit(tmp_path: Path) -> None:
    model = trained_model()
    path = tmp_path / "model.json"
    model.save(path)
    random.seed(1)
    state = random.getstate()
    loaded = nn.load(path)
    assert random.getstate() == state  # rebuilding draws nothing from the global generator
    assert isinstance(loaded, nn.MLP)
    assert loaded.config() == model.config()
    assert weights_of(loaded) == weights_of(model)
    assert loaded([0.3, -0.2]).data == model([0.3, -0.2]).data


def test_save_returns_the_path_it_wrote_as_graph_and_player_save_do(tmp_path: Path) -> None:
    model = trained_model()
    written = model.save(str(tmp_path / "as_text.json"))  # a str in, a Path out
    assert written == tmp_path / "as_text.json" and isinstance(written, Path) and written.is_file()
    assert nn.save(model, tmp_path / "by_function.json") == tmp_path / "by_function.json"
    assert nn.load(written).state_dict() == model.state_dict()


def test_the_file_is_readable_json_with_version_and_architecture(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    nn.save(nn.MLP(2, [2, 1], rng=random.Random(0)), str(path))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "gradtrace.nn" and document["version"] == 1
    assert document["architecture"] == {
        "class": "MLP",
        "config": {"nin": 2, "nouts": [2, 1], "activation": "relu", "output_activation": "linear"},
    }
    assert list(document["parameters"])[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left behind


@pytest.mark.parametrize("model", [nn.Neuron(3, activation="tanh"), nn.Layer(2, 3, activation="elu")])
def test_neurons_and_layers_round_trip(model: nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    model.save(path)
    loaded = type(model).load(path)
    assert type(loaded) is type(model) and weights_of(loaded) == weights_of(model)
    assert loaded.activation == model.activation  # type: ignore[attr-defined]


def test_class_load_and_instance_load(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    source = trained_model(3)
    source.save(path)
    assert weights_of(nn.MLP.load(path)) == weights_of(source)
    target = trained_model(4)
    assert target.load(path) is target  # an instance loads in place
    assert weights_of(target) == weights_of(source)
    with pytest.raises(TypeError, match="Neuron.load\\(\\): .* holds a MLP"):
        nn.Neuron.load(path)


def test_a_custom_module_saves_and_loads_in_place(tmp_path: Path) -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            self.factor = Value(random.random())

    path = tmp_path / "scale.json"
    a, b = Scale(), Scale()
    a.save(path)
    b.load(path)
    assert b.factor.data == a.factor.data
    with pytest.raises(nn.ModelFileError, match="cannot rebuild a 'Scale'; nn.load rebuilds Neuron, Layer, MLP"):
        nn.load(path)


def test_a_custom_module_whose_config_holds_a_tuple_loads_back(tmp_path: Path) -> None:
    class Pair(nn.Module):
        def __init__(self, sizes: tuple[int, int]) -> None:
            self.sizes = sizes
            self.w = [Value(float(i)) for i in range(sum(sizes))]

        def config(self) -> dict:
            return {"sizes": self.sizes}  # JSON writes the tuple as a list

    path = tmp_path / "pair.json"
    Pair((1, 2)).save(path)
    assert weights_of(Pair((1, 2)).load(path)) == [0.0, 1.0, 2.0]
    with pytest.raises(nn.ModelFileError, match="holds Pair\\(sizes=\\[1, 2\\]\\), but the model is Pair\\(sizes=\\[2, 1\\]\\)"):
        Pair((2, 1)).load(path)


# --- bad files: a clear error, and the model exactly as it was ----------------------------------


def damaged_file(folder: Path, damage: Callable[[Path], None]) -> Path:
    """A model file in folder, saved and then damaged."""
    path = folder / "model.json"
    trained_model(7).save(path)
    damage(path)
    return path


def rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


BAD_FILES = {
    "truncated": (lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]), "not valid JSON \\(the file looks truncated\\)"),
    "not json": (lambda p: p.write_text("weights: 1, 2, 3\n"), "is not valid JSON: Expecting value"),
    "binary": (lambda p: p.write_bytes(b"\x80\x04\x95 pickle"), "not UTF-8 text"),
    "empty": (lambda p: p.write_text(""), "is empty"),
    "other json": (lambda p: p.write_text('{"weights": [1, 2]}'), "not a gradtrace model file"),
    "newer version": (lambda p: rewrite(p, lambda d: d.update(version=2)), "format version 2 \\(written by a newer gradtrace\\); this gradtrace reads version 1"),
    "version as text": (lambda p: rewrite(p, lambda d: d.update(version="1")), "version must be an int; got '1'"),
    "no architecture": (lambda p: rewrite(p, lambda d: d.pop("architecture")), '"architecture" must hold'),
    "other architecture": (
        lambda p: rewrite(p, lambda d: d["architecture"]["config"].update(nouts=[5, 3, 1])),
        "holds MLP\\(nin=2, nouts=\\[5, 3, 1\\].*but the model is MLP\\(nin=2, nouts=\\[4, 3, 1\\]",
    ),
    "other activation": (lambda p: rewrite(p, lambda d: d["architecture"]["config"].update(activation="relu")), "but the model is"),
    "other class": (lambda p: rewrite(p, lambda d: d["architecture"].update({"class": "Layer"})), "holds Layer"),
    "missing parameter": (lambda p: rewrite(p, lambda d: d["parameters"].pop("layers.2.neurons.0.b")), "missing 'layers.2.neurons.0.b'"),
    "extra parameter": (lambda p: rewrite(p, lambda d: d["parameters"].update({"layers.3.neurons.0.b": 1.0})), "unexpected 'layers.3.neurons.0.b'"),
    "text parameter": (lambda p: rewrite(p, lambda d: d["parameters"].update({"layers.1.neurons.2.w.0": "0.5"})), "layers.1.neurons.2.w.0 must be a real number"),
    "nan parameter": (lambda p: p.write_text(p.read_text().replace('"layers.0.neurons.0.b": ', '"layers.0.neurons.0.b": NaN, "x": ')),
                      "unexpected 'x'|is nan"),
    "parameters not an object": (lambda p: rewrite(p, lambda d: d.update(parameters=[1.0, 2.0])), '"parameters" must be an object'),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_raises_clearly_and_leaves_the_model_alone(case: str, tmp_path: Path) -> None:
    damage, message = BAD_FILES[case]
    path = damaged_file(tmp_path, damage)
    model = trained_model(8)
    before = weights_of(model)
    with pytest.raises(nn.ModelFileError, match=message):
        model.load(path)
    assert weights_of(model) == before
    if case != "other activation":  # that file holds a valid model, of another architecture
        with pytest.raises(nn.ModelFileError):
            nn.load(path)


def test_a_nan_parameter_alone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    trained_model(7).save(path)
    text = path.read_text()
    name = '"layers.0.neurons.0.b": '
    start = text.index(name) + len(name)
    end = text.index(",", start)
    path.write_text(text[:start] + "NaN" + text[end:])
    model = trained_model(8)
    before = weights_of(model)
    with pytest.raises(nn.ModelFileError, match="layers.0.neurons.0.b is nan; only finite numbers"):
        model.load(path)
    assert weights_of(model) == before


def test_a_missing_file(tmp_path: Path) -> None:
    model = trained_model()
    before = weights_of(model)
    with pytest.raises(FileNotFoundError, match="no model file at .*nowhere.json"):
        model.load(tmp_path / "nowhere.json")
    with pytest.raises(FileNotFoundError, match="no model file"):
        nn.load(tmp_path / "nowhere.json")
    assert weights_of(model) == before


def test_an_unbuildable_architecture(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    trained_model().save(path)
    rewrite(path, lambda d: d["architecture"]["config"].update(activation="swish"))
    with pytest.raises(nn.ModelFileError, match="cannot be built: MLP: unknown activation 'swish'"):
        nn.load(path)


# --- atomic saves ---------------------------------------------------------------------------------


def test_a_save_that_fails_midway_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.json"
    old = trained_model(1)
    old.save(path)
    old_bytes = path.read_bytes()

    def failing_dump(document: object, file, **kwargs: object) -> None:  # type: ignore[no-untyped-def]
        file.write(json.dumps(document)[:40])  # half a file reaches the disk, then serialization fails
        raise RuntimeError("disk full, or a bug")

    monkeypatch.setattr(nn.io.json, "dump", failing_dump)
    with pytest.raises(RuntimeError, match="disk full"):
        trained_model(2).save(path)
    assert path.read_bytes() == old_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # the temporary file is gone
    monkeypatch.undo()
    assert weights_of(nn.load(path)) == weights_of(old)


def test_a_non_finite_parameter_is_not_saved(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    model = trained_model()
    model.save(path)
    old_bytes = path.read_bytes()
    model.layers[1].neurons[0].w[2].data = math.inf
    with pytest.raises(ValueError, match="parameter layers.1.neurons.0.w.2 is inf; JSON holds finite numbers only"):
        model.save(path)
    assert path.read_bytes() == old_bytes


def test_save_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no directory"):
        trained_model().save(tmp_path / "missing" / "model.json")
    with pytest.raises(TypeError, match="save\\(\\) takes an nn.Module; got dict"):
        nn.save({}, tmp_path / "x.json")  # type: ignore[arg-type]


def test_saving_over_a_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("old")
    os.chmod(path, 0o640)
    trained_model().save(path)
    assert path.stat().st_mode & 0o777 == 0o640
    # a new file's mode (the umask's) and the other cases: tests/test_atomic_writes.py


def test_a_huge_architecture_in_a_small_file_is_refused_before_building(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    trained_model().save(path)
    rewrite(path, lambda d: d["architecture"]["config"].update(nouts=[10**9, 1]))
    with pytest.raises(nn.ModelFileError, match="has 4000000001 parameters, but the file holds 31"):
        nn.load(path)


# --- tied parameters: recorded in the file and tied again on load, or refused -----------------------


def test_tied_parameters_round_trip(tmp_path: Path) -> None:
    model = trained_model(5)
    shared = model.layers[0].neurons[0].w[0]
    model.layers[1].neurons[2].w[3] = shared
    model.layers[2].neurons[0].b = model.layers[1].neurons[0].b
    assert model.tied_parameters() == {"layers.1.neurons.2.w.3": "layers.0.neurons.0.w.0", "layers.2.neurons.0.b": "layers.1.neurons.0.b"}
    path = tmp_path / "tied.json"
    model.save(path)
    loaded = nn.load(path)
    assert loaded.tied_parameters() == model.tied_parameters()
    assert loaded.layers[1].neurons[2].w[3] is loaded.layers[0].neurons[0].w[0]
    assert weights_of(loaded) == weights_of(model) and loaded.num_parameters() == model.num_parameters() == 29
    x = [0.3, -0.7]
    assert loaded(x).data == model(x).data
    # a tied model loads into a model tied the same way, and nowhere else
    again = trained_model(6)
    again.layers[1].neurons[2].w[3] = again.layers[0].neurons[0].w[0]
    again.layers[2].neurons[0].b = again.layers[1].neurons[0].b
    assert weights_of(again.load(path)) == weights_of(model)
    untied = trained_model(6)
    before = weights_of(untied)
    with pytest.raises(nn.ModelFileError, match="in the file's model, 'layers.1.neurons.2.w.3' is the same Value as 'layers.0.neurons.0.w.0' \\(tied\\), but not in this model"):
        untied.load(path)
    assert weights_of(untied) == before
    trained_model(7).save(path)
    with pytest.raises(nn.ModelFileError, match="in this model, 'layers.1.neurons.2.w.3' is the same Value"):
        again.load(path)


def test_a_whole_list_tied_where_the_shapes_agree_round_trips(tmp_path: Path) -> None:
    model = nn.MLP(2, [2, 2], rng=random.Random(0))
    model.layers[1].neurons[0].w = model.layers[0].neurons[0].w  # two weights where the architecture has two
    path = tmp_path / "model.json"
    model.save(path)
    loaded = nn.load(path)
    assert loaded.layers[1].neurons[0].w[1] is loaded.layers[0].neurons[0].w[1]
    assert loaded.num_parameters() == model.num_parameters() == 10
    assert [v.data for v in loaded([0.5, -1.5])] == [v.data for v in model([0.5, -1.5])]


def test_an_untied_model_writes_no_ties() -> None:
    assert trained_model().tied_parameters() == {}


def test_a_model_reshaped_by_tying_a_whole_list_is_not_saved(tmp_path: Path) -> None:
    model = nn.MLP(2, [4, 1], rng=random.Random(0))
    model.layers[1].neurons[0].w = model.layers[0].neurons[0].w  # 2 weights where the architecture has 4
    path = tmp_path / "model.json"
    path.write_text("old")
    with pytest.raises(ValueError, match="no longer has the shape of MLP\\(nin=2, nouts=\\[4, 1\\].*lacks 'layers.1.neurons.0.w.2', 'layers.1.neurons.0.w.3'"):
        model.save(path)
    assert path.read_text() == "old"  # never a file that cannot be read back
    model.layers[0].neurons[1].w.append(Value(1.0))
    with pytest.raises(ValueError, match="has 'neurons.1.w.2' in addition"):
        model.layers[0].save(path)


def test_damaged_ties_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    model = trained_model()
    model.layers[1].neurons[0].w[0] = model.layers[0].neurons[0].w[0]
    model.save(path)
    rewrite(path, lambda d: d["ties"].update({"layers.1.neurons.0.w.0": "layers.9.neurons.0.w.0"}))
    with pytest.raises(nn.ModelFileError, match="ties 'layers.1.neurons.0.w.0' to 'layers.9.neurons.0.w.0', but the architecture has no such pair"):
        nn.load(path)
    rewrite(path, lambda d: d.update(ties=["x"]))
    with pytest.raises(nn.ModelFileError, match='"ties" must be an object of parameter names'):
        nn.load(path)


# --- hostile files: a ModelFileError naming the file, quoting little of it --------------------------

HUGE = "x" * 10_000_000


def replace_text(old: str, new: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return damage


HOSTILE_FILES = {
    "deep nesting": (lambda p: p.write_text("[" * 100_000), "nested more than 16 levels deep"),
    "deep but parsable": (lambda p: p.write_text("[" * 500 + "]" * 500), "nested more than 16 levels deep"),
    "deep config": (lambda p: rewrite(p, lambda d: d["architecture"]["config"].update(nouts=json.loads("[" * 200 + "]" * 200))),
                    "nested more than 16 levels deep"),
    "1e400 as an integer": (lambda p: rewrite(p, lambda d: d["parameters"].update({"layers.0.neurons.0.b": 10**400})),
                            "an integer too large for a float"),
    "5,000 digits": (replace_text('"version": 1', '"version": 1' + "0" * 5000), "holds a number too long to read"),
    "huge class name": (lambda p: rewrite(p, lambda d: d["architecture"].update({"class": HUGE})), "cannot rebuild a 'xxxx|holds xxxx"),
    "huge activation": (lambda p: rewrite(p, lambda d: d["architecture"]["config"].update(activation=HUGE)), "cannot be built|holds MLP"),
    "huge config key": (lambda p: rewrite(p, lambda d: d["architecture"]["config"].update({HUGE: 1})), "cannot be built|holds MLP"),
    "a 4,000-digit version": (replace_text('"version": 1', '"version": 1' + "0" * 4000), "format version 1000.*written by a newer"),
    "huge version": (lambda p: rewrite(p, lambda d: d.update(version=HUGE)), "version must be an int"),
    "huge parameter name": (lambda p: rewrite(p, lambda d: d["parameters"].update({HUGE: 1.0})), "the file holds 32|unexpected 'xxx"),
    "huge text parameter": (lambda p: rewrite(p, lambda d: d["parameters"].update({"layers.0.neurons.0.b": HUGE})), "must be a real number"),
    "huge ties": (lambda p: rewrite(p, lambda d: d.update(ties={HUGE: HUGE})), "the file holds 31 and 1 tied place$|in the file's model, 'xxx"),
    "ties not names": (lambda p: rewrite(p, lambda d: d.update(ties={"a": [HUGE]})), '"ties" must be an object'),
    "astronomical nin": (lambda p: rewrite(p, lambda d: d["architecture"]["config"].update(nin=10**4000, nouts=[10**4000, 1])),
                         "has more than 10\\^30 parameters|holds MLP\\(nin=1000"),
    "infinite nin": (replace_text('"nin": 2', '"nin": 1e400'), "cannot be built|holds MLP\\(nin=inf"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_a_hostile_file_raises_a_short_model_file_error(case: str, tmp_path: Path) -> None:
    damage, message = HOSTILE_FILES[case]
    path = damaged_file(tmp_path, damage)
    model = trained_model(8)
    before = weights_of(model)
    for read in (nn.load, model.load):
        with pytest.raises(nn.ModelFileError, match=message) as caught:
            read(path)
        text = str(caught.value)
        assert str(path) in text
        assert len(text) < 200 + 2 * len(str(path)) + 300  # at most ~200 characters of the file, plus the wording
    assert weights_of(model) == before


def test_a_parameter_too_large_for_a_float_is_named(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    trained_model(7).save(path)
    text = path.read_text()
    name = '"layers.0.neurons.0.b": '
    start = text.index(name) + len(name)
    path.write_text(text[:start] + "1" + "0" * 400 + text[text.index(",", start):])
    model = trained_model(8)
    before = weights_of(model)
    with pytest.raises(nn.ModelFileError, match="layers.0.neurons.0.b is an integer too large for a float \\(beyond ±1.8e308\\)"):
        model.load(path)
    assert weights_of(model) == before
    with pytest.raises(ValueError, match="too large for a float"):
        model.load_state_dict({**model.state_dict(), "layers.0.neurons.0.b": 10**400})
    with pytest.raises(ValueError, match="too large for a float"):
        model.load_state_dict({**model.state_dict(), "layers.0.neurons.0.b": 10**5000})  # more digits than str() converts
    assert weights_of(model) == before


# --- bounded memory ---------------------------------------------------------------------------


def peak_bytes_of(read: Callable[[], object]) -> tuple[int, BaseException | None]:
    """The peak of memory Python allocates while ``read()`` runs (tracemalloc), and what it raised."""
    tracemalloc.start()
    try:
        read()
        raised = None
    except Exception as error:  # noqa: BLE001 - returned to the caller to check
        raised = error
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


ONES = "[" + "1," * (10**7 - 1) + "1]"  # 10^7 ones: 20 MB


def with_ones(where: str) -> Callable[[Path], None]:
    """A hostile 20 MB model file: the ones put somewhere in a valid file, or the file is the array."""

    def damage(path: Path) -> None:
        text = path.read_text()
        if where == "bare array":
            text = ONES
        elif where == "extra key":
            text = text[: text.rindex("}")] + ', "x": ' + ONES + "}"
        elif where == "first key":
            text = '{"x": ' + ONES + ", " + text[1:]
        elif where == "a parameter":
            text = text.replace('"layers.0.neurons.0.b": ', '"layers.0.neurons.0.b": ' + ONES + ', "y": ', 1)
        elif where == "config":
            text = text.replace('"nouts": [', '"nouts": [' + ONES[1:-1] + ", ", 1)
        path.write_text(text)

    return damage


@pytest.mark.parametrize("where", ["bare array", "extra key", "first key", "a parameter", "config"])
def test_a_hostile_20_mb_file_is_refused_in_bounded_memory(where: str, tmp_path: Path) -> None:
    """Ten million ones, anywhere in the file: refused before parsing, with the file's bytes and
    its text (20 MB each) the only large allocations. Parsing alone took over 100 MB, and the
    nesting check that followed 700 MB more."""
    path = damaged_file(tmp_path, with_ones(where))
    assert 20_000_000 < path.stat().st_size < 21_000_000
    model = trained_model(8)
    before = weights_of(model)
    for read in (lambda: nn.load(path), lambda: model.load(path)):
        peak, raised = peak_bytes_of(read)
        assert peak < 50_000_000, f"{peak / 1e6:.0f} MB"  # under 100 MB is the promise
        assert isinstance(raised, nn.ModelFileError), raised
        assert "JSON values" in str(raised) and len(str(raised)) < 500
    assert weights_of(model) == before


def test_the_nesting_check_allocates_nothing_per_element() -> None:
    from nn.io import _too_deep

    wide = [list(range(1_000_000)), [[] for _ in range(100_000)], {str(k): {} for k in range(100_000)}]
    peak, raised = peak_bytes_of(lambda: _too_deep({"a": wide}))
    assert raised is None and peak < 10_000, peak
    deep: list = []
    for _ in range(16):
        deep = [deep]
    assert _too_deep(deep) and not _too_deep(deep[0])  # 17 levels against 16


def test_a_file_larger_than_max_bytes_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """The limit is nn.io.MAX_FILE_BYTES (64 MiB) unless max_bytes raises it; a file over it
    (here a sparse one: nothing to read from the disk) costs no memory."""
    assert nn.io.MAX_FILE_BYTES == 64 * 2**20
    path = tmp_path / "model.json"
    model = trained_model(7)
    model.save(path)
    size = path.stat().st_size
    with pytest.raises(nn.ModelFileError, match=rf"is {size:,} bytes, more than max_bytes={size - 1:,}; it is not read .*pass a larger max_bytes"):
        nn.load(path, max_bytes=size - 1)
    for read in (lambda: nn.load(path, max_bytes=size), lambda: trained_model(8).load(path, max_bytes=size),
                 lambda: nn.MLP.load(path, max_bytes=size), lambda: nn.io.load_into(trained_model(8), path, max_bytes=size)):
        assert weights_of(read()) == weights_of(model)  # type: ignore[arg-type]
    with pytest.raises(nn.ModelFileError, match="more than max_bytes"):
        trained_model(8).load(path, max_bytes=100)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as file:
        file.truncate(nn.io.MAX_FILE_BYTES + 1)
    for read in (lambda: nn.load(huge), lambda: trained_model(8).load(huge)):
        peak, raised = peak_bytes_of(read)
        assert isinstance(raised, nn.ModelFileError) and f"is {nn.io.MAX_FILE_BYTES + 1:,} bytes" in str(raised)
        assert peak < 1_000_000, peak
    for bad in (0, -5, 2.5e7, "64 MiB", True):
        with pytest.raises(TypeError, match="max_bytes must be a positive int"):
            nn.load(path, max_bytes=bad)  # type: ignore[arg-type]


def test_large_models_load_and_a_file_must_say_its_architecture_before_its_parameters(tmp_path: Path) -> None:
    """Above 10,000 JSON values the count is checked against the architecture, which a file nn.save
    wrote (or any with sorted keys) gives first; a reordered file of a large model is refused."""
    model = nn.MLP(200, [60, 10], rng=random.Random(3))  # 12,670 parameters
    model.layers[1].neurons[2].w[5] = model.layers[1].neurons[0].w[5]  # a tie
    path = tmp_path / "large.json"
    model.save(path)
    assert weights_of(nn.load(path)) == weights_of(model)
    document = json.loads(path.read_text())
    path.write_text(json.dumps(document, sort_keys=True))
    reloaded = nn.load(path)
    assert weights_of(reloaded) == weights_of(model)
    reordered = {"parameters": document["parameters"], **{k: v for k, v in document.items() if k != "parameters"}}
    path.write_text(json.dumps(reordered))
    with pytest.raises(nn.ModelFileError, match=r'no "architecture" near its start .*nn\.save writes it first'):
        nn.load(path)
    document["parameters"].update({f"extra.{k}": 0.0 for k in range(30_000)})
    path.write_text(json.dumps(document))
    with pytest.raises(nn.ModelFileError, match=r"holds up to [\d,]+ JSON values, but its architecture MLP\(nin=200, nouts=\[60, 10\].*has 12670 parameters"):
        nn.load(path)
