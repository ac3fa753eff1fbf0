"""Workload "digits_full": one training step over all 1,797 digits at once (issue 11).

The digits workload's model, data, weights and engines (``bench_digits``), with the
whole set as one batch: a step is ``gradient`` (zero_grad, forward, loss, backward) and
``update`` (Adam), timed per step. Here the batch is large enough for NumPy's matrix
products to dominate every engine but eager gradtrace, which builds and walks one
sample's graph per row.
"""

from __future__ import annotations

from typing import Any

import bench_digits as digits
from common import Collector, Results, Target

TITLE = "Digits: one step over the whole set"
ENGINES = digits.ENGINES
REQUIRED = digits.REQUIRED
GC = digits.GC
PHASES = digits.PHASES
# samples, steps of eager gradtrace (about 2 s each), steps of the others, repetitions
SIZES = {"full": (1797, 2, 20, 3), "quick": (1797, 1, 3, 1), "tiny": (40, 1, 2, 1)}
# issue 11: a compiled full-batch step in at most PyTorch eager's time; issue 24: in at most 0.7 of it
GOALS = {"torch": [("11", 1.0), ("24", 0.7)]}


def params(size: str) -> dict[str, Any]:
    samples, slow, fast, repeats = SIZES[size]
    X, t = digits.digits(samples)
    return {"repeats": repeats, "steps": {"gradtrace": slow, "other": fast}, "X": X, "t": t,
            "weights": digits.initial_weights()}


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds per step and phase (the mean over the run's steps), after one untimed
    warm-up step; with the collector off, a full collection runs, untimed, before each step."""
    data, weights = (params["X"], params["t"]), params["weights"]
    everything = list(range(len(params["t"])))
    # eager gradtrace warms up on a mini-batch: a full-batch step of its takes seconds
    digits.warm_up(engine, data, weights, everything[: digits.BATCH] if engine == "gradtrace" else everything)
    run = digits.MAKERS[engine](data, weights)
    batch = run.batch(everything)
    steps = params["steps"]["gradtrace" if engine == "gradtrace" else "other"]
    totals = dict.fromkeys(PHASES, 0.0)
    losses: list[float] = []
    first_gradients: list[float] = []
    with Collector(collect_garbage) as collector:
        for _ in range(steps):
            collector.fresh()
            digits.timed_step(run, batch, totals, losses, first_gradients)
    return {"seconds": {phase: totals[phase] / steps for phase in PHASES}, "losses": losses,
            "first_gradients": first_gradients, **run.info()}


def report(results: Results, params: dict[str, Any], _referee: None, engines: list[str]) -> tuple[str, list[Target]]:
    """The section of RESULTS.md, and the target it decides."""
    steps = params["steps"]
    intro = (
        f"One step is forward, backward and Adam over all {len(params['t']):,} samples as one batch. Figures are "
        f"CPU milliseconds per step, the mean over a run's steps ({steps['gradtrace']} for gradtrace eager, "
        f"{steps['other']} for the others), the median over {params['repeats']} run(s) per engine and setting, "
        "with the range in parentheses. With the collector off, it is off for the whole run and a full "
        "collection runs, untimed, before each step."
    )
    lines = [f"## {TITLE}", "", digits.describe(params), "", intro, ""]
    return digits.report_section(results, engines, "full-batch step", GOALS, "digits full-batch step", lines)
