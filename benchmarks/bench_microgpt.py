"""Workload "microgpt": a GPT in scalar code (examples/microgpt.py), one name per step.

The program trains a one-layer GPT (n_embd 16, 4 heads, block_size 16, 4,192 parameters at
the default size) on a names list, one document per step: the mean next-token loss over
the name's positions, one ``backward()``, Adam. Engines:

- "microgpt": the program as written, on its own ``Value`` class (a Value keeps its
  children and local derivatives; ``backward()`` sorts the graph and accumulates);
- "gradtrace": the same program with that class replaced by ``from autograd import Value``;
- "numpy": the model in NumPy, forward and backward by hand (``microgpt_numpy``), with the
  same Adam on arrays.

A run loads the program with ``--steps 0`` (the model and its initial weights, the same
for every engine: the seed), does one untimed warm-up step, then times ``steps`` steps on
the documents the program would train on, in two phases: "gradient" (forward and backward)
and "update" (Adam, the program's ``adam_update``). Losses of every engine are reported
against eager gradtrace's.
"""

from __future__ import annotations

import gc
from typing import Any

from common import Collector, Results, Target, cpu_time, ratio, relative_difference, timing_table

TITLE = "microgpt: a GPT in scalar code, one name per step"
ENGINES = ("gradtrace", "microgpt", "numpy")
REQUIRED = ("gradtrace", "microgpt")
GC = (True, False)
PHASES = ("gradient", "update")
NAMES = {"gradtrace": "eager gradtrace", "microgpt": "microgpt's own Value", "numpy": "NumPy by hand"}
TOLERANCE = 1e-12  # eager gradtrace's losses against microgpt's own engine's, relative
# per size: (program arguments, timed steps, repetitions)
DEFAULT = ["--n-embd", "16", "--n-head", "4", "--n-layer", "1", "--block-size", "16", "--seed", "42"]
SIZES = {"full": (DEFAULT, 10, 3), "quick": (DEFAULT, 3, 1),
         "tiny": (["--n-embd", "8", "--n-head", "2", "--n-layer", "1", "--block-size", "8", "--seed", "42"], 2, 1)}


def params(size: str) -> dict[str, Any]:
    argv, steps, repeats = SIZES[size]
    return {"repeats": repeats, "argv": argv, "steps": steps}


class Eager:
    """The program's own training step, on whichever Value class it was loaded with."""

    def __init__(self, program: dict[str, Any], total_steps: int) -> None:
        self.program, self.total_steps = program, total_steps

    def gradient(self, tokens: list[int]) -> float:
        loss = self.program["document_loss"](tokens)
        loss.backward()
        return loss.data

    def update(self, step: int) -> None:
        self.program["adam_update"](step, self.total_steps)


class NumPy:
    """The NumPy port: loss and gradients by hand, then the program's Adam on arrays."""

    def __init__(self, program: dict[str, Any], total_steps: int) -> None:
        import microgpt_numpy
        import numpy as np

        self.np, self.port, self.program, self.total_steps = np, microgpt_numpy, program, total_steps
        self.weights = {key: np.array([[p.data for p in row] for row in mat]) for key, mat in program["state_dict"].items()}
        self.m = {key: np.zeros_like(w) for key, w in self.weights.items()}
        self.v = {key: np.zeros_like(w) for key, w in self.weights.items()}
        self.grads: dict[str, Any] = {}

    def gradient(self, tokens: list[int]) -> float:
        p = self.program
        loss, self.grads = self.port.loss_and_grads(self.weights, tokens, p["n_layer"], p["n_head"], p["block_size"])
        return loss

    def update(self, step: int) -> None:
        p = self.program
        beta1, beta2 = p["beta1"], p["beta2"]
        lr = p["learning_rate"] * (1 - step / self.total_steps)
        for key, w in self.weights.items():
            g = self.grads[key]
            self.m[key] = beta1 * self.m[key] + (1 - beta1) * g
            self.v[key] = beta2 * self.v[key] + (1 - beta2) * g**2
            m_hat = self.m[key] / (1 - beta1 ** (step + 1))
            v_hat = self.v[key] / (1 - beta2 ** (step + 1))
            w -= lr * m_hat / (v_hat**0.5 + p["eps"])


def make(engine: str, argv: list[str], total_steps: int) -> Eager | NumPy:
    import microgpt_program

    program = microgpt_program.load("microgpt" if engine == "microgpt" else "gradtrace",
                                    ["--steps", "0", "--samples", "0", *argv])
    return NumPy(program, total_steps) if engine == "numpy" else Eager(program, total_steps)


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds per step and phase (the mean over the run's steps) after one untimed
    warm-up step; with the collector off, a full collection runs, untimed, before each step."""
    total = params["steps"] + 1
    run = make(engine, params["argv"], total)
    docs, tokenize = run.program["docs"], run.program["tokenize"]
    totals = dict.fromkeys(PHASES, 0.0)
    losses = [run.gradient(tokenize(docs[0]))]
    run.update(0)
    gc.collect()
    with Collector(collect_garbage) as collector:
        for step in range(1, total):
            tokens = tokenize(docs[step % len(docs)])
            collector.fresh()
            start = cpu_time()
            losses.append(run.gradient(tokens))
            middle = cpu_time()
            run.update(step)
            totals["gradient"] += middle - start
            totals["update"] += cpu_time() - middle
    gc.collect()
    return {"seconds": {phase: totals[phase] / params["steps"] for phase in PHASES}, "losses": losses,
            "parameters": len(run.program["params"])}


def report(results: Results, params: dict[str, Any], _referee: None, engines: list[str]) -> tuple[str, list[Target]]:
    """The section of RESULTS.md: the timing table, the ratios, the losses' agreement."""
    first = results[("gradtrace", True)][0]
    lines = [
        f"## {TITLE}",
        "",
        f"`examples/microgpt.py` (arguments `{' '.join(params['argv'])}`: {first['parameters']:,} parameters), one "
        "name per step: the mean next-token loss over its positions, one `backward()`, Adam. Engines: the program "
        "with `class Value` replaced by `from autograd import Value` (eager gradtrace), the program as written "
        "(microgpt's own `Value`), and the model in NumPy with its backward pass written by hand. CPU milliseconds "
        f"per step, the mean over {params['steps']} consecutive names after one untimed warm-up step, the median over "
        f"{params['repeats']} fresh process(es) per engine and setting, range in parentheses; with the collector off "
        "a full collection runs, untimed, before each step. Ratio columns divide each engine's time by eager "
        "gradtrace's: above 1, gradtrace is faster.",
        "",
        *timing_table(results, engines, PHASES, "ms", 1e3, 1),
        "",
    ]
    if "microgpt" in engines:
        lines += [f"Eager gradtrace takes a step in 1/{ratio(results, 'microgpt', 'gradtrace', True)} of the time of "
                  f"microgpt's own `Value` with the collector on, 1/{ratio(results, 'microgpt', 'gradtrace', False)} "
                  "with it off.", ""]
    reference = first["losses"]
    worst: dict[str, float] = {}
    for engine in engines:
        runs = [m for on in GC for m in results[(engine, on)]]
        worst[engine] = max(relative_difference(m["losses"], reference) for m in runs)
    lines += ["Losses of every step, every run, against eager gradtrace's (largest relative difference): "
              + ", ".join(f"{NAMES[e]} {worst[e]:.2g}" for e in engines) + ".", ""]
    targets = []
    if "microgpt" in engines:
        targets.append(Target("22", f"eager gradtrace's losses within {TOLERANCE:g} of microgpt's own engine's, "
                                    "relative", f"{worst['microgpt']:.2g}", worst["microgpt"] <= TOLERANCE))
    return "\n".join(lines) + "\n", targets
