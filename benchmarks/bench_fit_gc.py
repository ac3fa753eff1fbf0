"""What pausing Python's cyclic garbage collector during each step saves ``nn.fit``.

gradtrace's graphs hold no reference cycles: reference counting frees every node as soon
as a step is done with it. The cyclic collector still runs whenever enough objects have
been allocated, which in a training step is all the time, and each run of its older
generations walks every tracked object in the process (the model's parameters, and
everything imported). ``nn.fit(pause_gc=True)``, the default, turns it off for the
length of each step and gives it back, as the caller had it, between steps.

For comparison, one more setting freezes the process's objects (``gc.freeze()``) before
``fit`` and leaves the collector on: its passes then skip the model and the modules, but
still run as often, over each step's young objects.

The measurement: epochs of scikit-learn's 8 × 8 digits (the 1,347 training images of
notebook 09's split), ``nn.MLP(64, [32, 10])`` (He init, seeded), cross-entropy, Adam
(lr 0.005), mini-batches of 32, shuffled with a fixed seed: 43 steps an epoch. Each run
is a fresh Python process that builds the data and the model, then times ``nn.fit``
alone (3 epochs: the collector's full passes come every epoch or two) in CPU time
(``time.process_time``), reported per epoch. Runs alternate between the settings. The
"large imports" rows repeat both settings in a process that has also imported SciPy,
IPython, matplotlib's pyplot and PyTorch (those of them that are installed), as a
notebook's kernel has: the collector's full passes have more objects to walk there.

Referee: every run of every setting must end with the same loss, bit for bit (the
collector frees memory; it must not change any number).

Run: ``python benchmarks/bench_fit_gc.py``; it prints a markdown section
(``markdown()`` returns it, for ``benchmarks/run.py``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

BATCH = 32
LR = 0.005
SEED = 0
EPOCHS = 3
LARGE_IMPORTS = ("scipy.stats", "IPython", "matplotlib.pyplot", "torch")
SETTINGS = {
    "default collector": {"pause_gc": False, "ballast": False, "freeze": False},
    "collector paused per step": {"pause_gc": True, "ballast": False, "freeze": False},
    "default collector, gc.freeze() before fit": {"pause_gc": False, "ballast": False, "freeze": True},
    "default collector, large imports": {"pause_gc": False, "ballast": True, "freeze": False},
    "collector paused per step, large imports": {"pause_gc": True, "ballast": True, "freeze": False},
}


def worker(pause_gc: bool, ballast: bool, freeze: bool = False) -> dict[str, Any]:
    """EPOCHS epochs in this process; CPU seconds per epoch, the collections run, and the loss."""
    import gc
    import importlib
    import importlib.util
    import random

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import nn

    if ballast:
        for name in LARGE_IMPORTS:
            if importlib.util.find_spec(name.split(".")[0]) is not None:
                importlib.import_module(name)
    digits = load_digits()
    X_train, _, y_train, _ = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    model = nn.MLP(64, [32, 10], init="he", rng=random.Random(SEED))
    optimizer = nn.Adam(model.parameters(), lr=LR)
    if freeze:  # the alternative: everything alive now (model, data, modules) out of the collector's sight
        gc.freeze()
    before = [stats["collections"] for stats in gc.get_stats()]
    start = time.process_time()
    history = nn.fit(model, X_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=EPOCHS,
                     batch_size=BATCH, seed=SEED, progress=False, pause_gc=pause_gc, compiled=False)  # the eager engine's graphs
    seconds = (time.process_time() - start) / EPOCHS
    after = [stats["collections"] for stats in gc.get_stats()]
    return {
        "seconds": seconds,
        "objects": len(gc.get_objects()) + gc.get_freeze_count(),  # frozen ones too
        "collections": [b - a for a, b in zip(before, after)],
        "loss": history.loss[-1].hex(),
        "samples": len(X_train),
    }


def measure(repeats: int = 3) -> dict[str, list[dict[str, Any]]]:
    """``repeats`` fresh processes per setting, the settings interleaved."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SETTINGS}
    for _ in range(repeats):
        for name, setting in SETTINGS.items():
            code = (
                "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_fit_gc as b;"
                f" print(json.dumps(b.worker(**{setting!r})))"
            )
            out = subprocess.run([sys.executable, "-c", code, _here()], check=True, capture_output=True, text=True)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return runs


def _here() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent)


def markdown(repeats: int = 3) -> str:
    """Run the measurement and return it as a markdown section."""
    runs = measure(repeats)
    losses = {run["loss"] for results in runs.values() for run in results}
    samples = next(iter(runs.values()))[0]["samples"]
    lines = [
        "## The garbage collector during `nn.fit`",
        "",
        f"Epochs of the digits ({samples} training images), `MLP(64, [32, 10])`, cross-entropy, Adam, batches of"
        f" {BATCH}; CPU seconds of `nn.fit` alone per epoch ({EPOCHS} epochs a run), each run a fresh process,"
        f" {repeats} runs per setting (median, and the range). Collections: how many times the collector ran"
        f" during the {EPOCHS} epochs, per generation (0/1/2). Objects: what the collector tracks in the process.",
        "",
        "| setting | CPU s per epoch | range | collections (gen 0/1/2) | objects | time saved |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    medians = {name: statistics.median(run["seconds"] for run in results) for name, results in runs.items()}
    for name, results in runs.items():
        seconds = [run["seconds"] for run in results]
        collections = "/".join(str(statistics.median(c)) for c in zip(*(run["collections"] for run in results)))
        baseline = name.replace("collector paused per step", "default collector").replace(", gc.freeze() before fit", "")
        saved = "" if baseline == name else f"{1 - medians[name] / medians[baseline]:.0%}"
        objects = f"{statistics.median(run['objects'] for run in results):,.0f}"
        lines.append(
            f"| {name} | {medians[name]:.3f} | {min(seconds):.3f}–{max(seconds):.3f} | {collections} | {objects} | {saved} |"
        )
    lines += [
        "",
        f"Large imports: {', '.join(LARGE_IMPORTS)}, those installed. Every run ended with the same loss, bit for bit: "
        + ("yes." if len(losses) == 1 else f"NO ({len(losses)} different losses)."),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown())
