"""The README's pictures, drawn by gradtrace itself into docs/figures/.

    python tools/figures.py           # redraw every picture (make figures)
    python tools/figures.py NAME ...  # only these (file names, e.g. vanishing_gradient.svg)

Each picture is a function registered with ``@figure("file name")`` that returns a
:class:`Picture`: a way to save it and its *inputs*, a deterministic text that fixes what
it shows. ``docs/figures/figures.json`` records, per file, the SHA-256 of its inputs and of
the file written from them. ``tests/test_figures.py`` recomputes the inputs and compares:
a picture whose code, data or drawing library changed since it was drawn fails the test,
and so does a file edited by hand.

What counts as the inputs:

- Graph drawings (SVG): their DOT text, which gradtrace writes deterministically. The
  SVG made from it by graphviz-pure is deterministic too, but it also depends on the
  renderer's version; a renderer upgrade alone does not make a picture stale.
- matplotlib pictures (PNG): the data plotted (rounded to 10 significant digits), the
  figure function's source and the source of the viz module that plots it. PNG bytes
  depend on the matplotlib and FreeType versions, so they cannot be compared across
  machines; they are made reproducible on one machine (no timestamp or version in the
  metadata) so that redrawing an unchanged picture leaves the file unchanged.

- The backprop player's GIF: its frames' DOT texts and the source of the GIF writer.

A new picture is one more registered function.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import autograd
import nn
import viz
import viz.player
from autograd import Value
from viz import draw_dot

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "docs" / "figures"
MANIFEST = FOLDER / "figures.json"


@dataclass(frozen=True)
class Picture:
    """A picture ready to save: ``inputs`` fixes what it shows, ``save(path)`` writes it."""

    inputs: str
    save: Callable[[Path], object]


FIGURES: dict[str, Callable[[], Picture]] = {}


def figure(name: str) -> Callable[[Callable[[], Picture]], Callable[[], Picture]]:
    """Register the decorated function as the maker of ``docs/figures/<name>``."""

    def register(make: Callable[[], Picture]) -> Callable[[], Picture]:
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered twice")
        FIGURES[name] = make
        return make

    return register


def _inputs(*parts: Any) -> str:
    """Deterministic text for functions and modules (their source) and data (numbers to 10 digits,
    so that a last-bit difference between two machines' libm does not count as a change)."""

    def plain(x: Any) -> Any:
        if isinstance(x, float):
            return float(f"{x:.10g}")
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if hasattr(x, "tolist"):  # NumPy arrays and scalars
            return plain(x.tolist())
        return x

    texts = []
    for part in parts:
        if inspect.isfunction(part) or isinstance(part, ModuleType):
            texts.append(inspect.getsource(part))
        else:
            texts.append(json.dumps(plain(part), sort_keys=True, ensure_ascii=False))
    return "\n".join(texts)


def _matplotlib_picture(fig: Any, inputs: str) -> Picture:
    def save(path: Path) -> None:
        fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})  # no version stamp

    return Picture(inputs, save)


# The demo's graph, so that the README shows what `make demo` draws into out/.
apple_price: Callable[[], Value] = runpy.run_path(str(ROOT / "examples" / "drawing.py"))["apple_price"]


@figure("apple_lecture.svg")
def apple_lecture() -> Picture:
    graph = draw_dot(apple_price(), style="lecture")
    return Picture(graph.source, graph.save)


@figure("apple_record.svg")
def apple_record() -> Picture:
    graph = draw_dot(apple_price(), style="record")
    return Picture(graph.source, graph.save)


@figure("vanishing_gradient.svg")
def vanishing_gradient() -> Picture:
    """Six stacked sigmoids: each multiplies the gradient on its way back by σ' ≤ 0.25.

    Drawn top to bottom in micrograd's boxes: about 280 px wide, so that at GitHub's column width
    (about 830 px) it stands beside the decision boundary with its text at full size (the chain
    drawn left to right is 1,570 px wide, and its text would shrink to half)."""
    x = Value(0.5, label="x")
    a = x
    for i in range(1, 7):
        a = a.sigmoid()
        a.label = f"a{i}"
    a.backward()
    graph = draw_dot(a, rankdir="TB", color_by="grad")
    return Picture(graph.source, graph.save)


@figure("network.svg")
def network() -> Picture:
    """Notes 000's 2-2-2 sigmoid network after one forward and backward pass (a textbook's
    weights, no biases' values: the notes' own numbers did not survive), drawn as a network."""
    model = nn.MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid", rng=random.Random(0))
    weights = [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]]
    for k, layer in enumerate(model.layers):
        for j, neuron in enumerate(layer.neurons):
            for i, w in enumerate(neuron.w):
                w.data = weights[k][j][i]
    x, y = [0.05, 0.10], [0.01, 0.99]
    loss = autograd.sum([0.5 * (a - t) ** 2 for a, t in zip(model(x), y)])
    loss.backward()
    graph = viz.draw_network(model, x)
    return Picture(graph.source, graph.save)


@figure("decision_boundary.png")
def decision_boundary() -> Picture:
    """micrograd's demo: moons, MLP(2, [16, 16, 1]), max-margin loss + 1e-4·Σp², SGD, 100 steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = nn.data.make_moons(n_samples=100, noise=0.1, seed=1337)
    rows, labels = X.tolist(), (2 * y - 1).tolist()
    model = nn.MLP(2, [16, 16, 1], rng=random.Random(1337))
    optimizer = nn.SGD(model.parameters(), lr=1.0)
    for k in range(100):
        params = model.parameters()
        loss = nn.hinge_loss([model(row) for row in rows], labels) + 1e-4 * autograd.dot(params, params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.lr = 1.0 - 0.9 * k / 100
        optimizer.step()
    fig, ax = plt.subplots(figsize=(5, 4))
    viz.plot_decision_boundary(model, X, y, ax=ax)
    ax.set_title("MLP(2, [16, 16, 1]) on the two moons, after 100 SGD steps")
    return _matplotlib_picture(fig, _inputs(decision_boundary, viz.plots, model.state_dict(), X, y))


@figure("player.gif")
def player_gif() -> Picture:
    """The backprop player on the apple-price graph, as examples/player.py makes it."""
    player = runpy.run_path(str(ROOT / "examples" / "player.py"))["apple_price_player"]()
    return Picture(_inputs(player.sources, viz.player.Player.gif), player.save)


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def read_manifest() -> dict[str, dict[str, str]]:
    return json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.exists() else {}


def draw(names: list[str]) -> None:
    """Redraw the named pictures (all if none) into docs/figures/ and update the manifest."""
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise SystemExit(f"no such figure: {', '.join(unknown)}; there are {', '.join(FIGURES)}")
    FOLDER.mkdir(parents=True, exist_ok=True)
    manifest = {name: entry for name, entry in read_manifest().items() if name in FIGURES}
    for name in names or list(FIGURES):
        picture = FIGURES[name]()
        path = FOLDER / name
        picture.save(path)
        manifest[name] = {"inputs": sha256(picture.inputs), "file": sha256(path.read_bytes())}
        print(f"wrote {path.relative_to(ROOT)}")
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    draw(sys.argv[1:])
