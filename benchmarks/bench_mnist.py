"""Workload "mnist": an MNIST-sized MLP, 784-128-10, mini-batches of 64, Adam (issue 24).

Synthetic data, made in each worker from a seed (no download): 784 "pixels" per sample,
uniform in [0, 1) on a grid of 1/256, and a class from a random linear teacher (the
argmax of ten random projections). He-initialised weights from the same seed, zero
biases. The engines are the digits workload's (``bench_digits``): gradtrace compiled
(``autograd.compile`` traced on the whole set, then, inside ``step.training(optimizer)``,
per step ``zero_grad()``, ``step.backward(X, t)`` and ``nn.Adam``), PyTorch eager, the NumPy step by hand and
JAX's ``jit`` of the whole step; eager gradtrace is left out (seconds per step). A run
is a number of consecutive mini-batches, timed per step in two phases, "gradient" and
"update", as in ``bench_digits``.

``bench_mnist_wide`` is the same workload with 784-256-256-10 and batches of 128.
"""

from __future__ import annotations

import gc
from typing import Any

import bench_digits as digits
from common import Collector, Results, Target

TITLE = "MNIST-sized MLP: 784-128-10, batches of 64"
ENGINES = ("compiled", "torch", "numpy", "jax")
REQUIRED = ("compiled",)
GC = (True, False)
PHASES = digits.PHASES
SEED = 24
INPUTS, CLASSES = 784, 10
# issue 24: a compiled step in at most PyTorch eager's time
GOALS = {"torch": [("24", 1.0)]}
# per size: (inputs, hidden layers, batch, timed steps, repetitions); the tests' size is small everywhere
SIZES = {"full": (INPUTS, [128], 64, 20, 3), "quick": (INPUTS, [128], 64, 5, 1), "tiny": (30, [8], 4, 2, 1)}


def params(size: str) -> dict[str, Any]:
    return make_params(SIZES[size])


def make_params(sizes: tuple[int, list[int], int, int, int]) -> dict[str, Any]:
    """What every worker gets: the shapes, the batch, the steps and the seed (each worker
    makes the data and weights from it)."""
    inputs, hidden, batch, steps, repeats = sizes
    return {"repeats": repeats, "inputs": inputs, "layers": [*hidden, CLASSES], "batch": batch, "steps": steps}


def data(params: dict[str, Any]) -> tuple[Any, Any]:
    """(X, t): one sample per row, enough for the warm-up step and the timed steps."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    samples = params["batch"] * (params["steps"] + 1)
    X = rng.integers(0, 256, size=(samples, params["inputs"])) / 256.0
    teacher = rng.normal(size=(params["inputs"], CLASSES))
    t = np.argmax((X - 0.5) @ teacher, axis=1).astype(np.int64)
    return X, t


def weights(params: dict[str, Any]) -> list[tuple[list[list[float]], list[float]]]:
    """Per layer, He-initialised weight rows (normal, variance 2 / fan-in) and zero biases."""
    import numpy as np

    rng = np.random.default_rng(SEED + 1)
    sizes = [params["inputs"], *params["layers"]]
    return [(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)).tolist(), [0.0] * fan_out)
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]  # lists: Values hold Python floats


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds per step and phase (the mean over the run's steps), after one untimed
    warm-up step on a throwaway model; with the collector off, a full collection runs,
    untimed, before each step."""
    X, t = data(params)
    layers = weights(params)
    batch = params["batch"]
    chunks = [list(range(start, start + batch)) for start in range(0, len(t), batch)]
    digits.warm_up(engine, (X, t), layers, chunks[0])
    run = digits.MAKERS[engine]((X, t), layers)
    batches = [run.batch(indices) for indices in chunks[1:]]
    totals = dict.fromkeys(PHASES, 0.0)
    losses: list[float] = []
    first_gradients: list[float] = []
    with Collector(collect_garbage) as collector:
        for each in batches:
            collector.fresh()
            digits.timed_step(run, each, totals, losses, first_gradients)
    gc.collect()
    return {"seconds": {phase: totals[phase] / len(batches) for phase in PHASES}, "losses": losses,
            "first_gradients": first_gradients, **run.info()}


def report(results: Results, params: dict[str, Any], _referee: None, engines: list[str]) -> tuple[str, list[Target]]:
    """The section of RESULTS.md, and the target it decides."""
    shape = "-".join(str(n) for n in [params["inputs"], *params["layers"]])
    count = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip([params["inputs"], *params["layers"]][:-1],
                                                                    params["layers"]))
    title = f"MNIST-sized MLP: {shape}, batches of {params['batch']}"
    lines = [
        f"## {title}",
        "",
        f"`MLP({params['inputs']}, {params['layers']})` ({count:,} parameters; ReLU, then linear; He init, zero "
        f"biases), cross-entropy of class indices, Adam (lr {digits.LR}), on synthetic data made from a seed: "
        f"{params['inputs']} pixels per sample, uniform on a grid of 1/256, each labelled by a random linear teacher. "
        "Engines as in the digits workloads, without eager gradtrace (seconds per step): gradtrace compiled, "
        "PyTorch eager, NumPy by hand and JAX's `jit` of the whole step (when installed). Figures are CPU "
        f"milliseconds per step, the mean over {params['steps']} consecutive mini-batches after one untimed warm-up "
        f"step, the median over {params['repeats']} fresh process(es) per engine and setting, with the range in "
        "parentheses; with the collector off, a full collection runs, untimed, before each step. The ratio columns "
        "divide each engine's time by the compiled engine's: above 1, compiled is faster.",
        "",
    ]
    return digits.report_section(results, engines, "step", GOALS, f"{shape} step", lines)
