"""Workload "scalar": the same scalar code on every engine, built, then differentiated.

``iterations`` rounds of ``acc = acc + (a * b).relu() * 0.5 - a`` over 1,000 leaves,
then ``acc.backward()``: five binary ops and a ReLU per round, written once for all
engines (for PyTorch the leaves are 0-d float64 tensors). micrograd's recursive
topological sort needs a raised recursion limit and a big thread stack for this
graph; every engine runs under those same settings.

Referee: each leaf's exact gradient. Every contribution (−1, 0.5·b, 0.5·a) is exact
in floating point, so ``math.fsum`` of them is the true gradient, correctly rounded.
"""

from __future__ import annotations

import gc
import math
import random
from collections.abc import Callable
from functools import partial
from typing import Any

from common import Collector, Results, Target, cpu_time, in_big_stack, load_torch, ratio, timing_table

TITLE = "Scalar code on every engine"
ENGINES = ("gradtrace", "micrograd", "torch")
GC = (True, False)
PHASES = ("forward", "backward")
LEAVES = 1_000
WARM_UP = 1_000  # untimed iterations first, so that no engine's first-call costs are timed
SIZES = {"full": (200_000, 3), "quick": (20_000, 1), "tiny": (2_000, 1)}  # iterations, repetitions
SCALAR_TARGET_GC_ON = 6  # issue 2
SCALAR_TARGET_GC_OFF = 5  # issue 9


def params(size: str) -> dict[str, Any]:
    iterations, repeats = SIZES[size]
    return {"iterations": iterations, "repeats": repeats}


def build_scalar_graph(make: Callable[[float], Any], iterations: int) -> tuple[list[Any], Any]:
    """The benchmark expression, written once for every engine; make(x) is a leaf."""
    rng = random.Random(0)
    leaves = [make(rng.uniform(-1.0, 1.0)) for _ in range(LEAVES)]
    acc = make(0.0)
    for i in range(iterations):
        a = leaves[i % LEAVES]
        b = leaves[(i * 7 + 3) % LEAVES]
        acc = acc + (a * b).relu() * 0.5 - a
    return leaves, acc


def leaf_maker(engine: str) -> Callable[[float], Any]:
    if engine == "gradtrace":
        from autograd import Value

        return Value
    if engine == "micrograd":
        from micrograd.engine import Value as MicrogradValue

        return MicrogradValue
    if engine == "torch":
        torch = load_torch()
        return lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)
    raise ValueError(f"scalar workload: unknown engine {engine!r}; it measures {', '.join(ENGINES)}")


def _number(x: Any) -> float:
    """A Value's data or gradient, or a 0-d tensor's, as a float (an untouched torch leaf's grad is None)."""
    return 0.0 if x is None else float(x)


def _measure(engine: str, collect_garbage: bool, iterations: int) -> dict[str, Any]:
    make = leaf_maker(engine)
    _, warm = build_scalar_graph(make, WARM_UP)
    warm.backward()
    del warm
    gc.collect()
    with Collector(collect_garbage) as collector:
        collector.fresh()
        t0 = cpu_time()
        leaves, acc = build_scalar_graph(make, iterations)
        t1 = cpu_time()
        acc.backward()
        t2 = cpu_time()
    root = acc.item() if engine == "torch" else acc.data
    return {
        "seconds": {"forward": t1 - t0, "backward": t2 - t1},
        "root": float(root),
        "grads": [_number(leaf.grad) for leaf in leaves],
    }


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """One build and backward of the whole graph (after an untimed warm-up), in CPU seconds."""
    return in_big_stack(partial(_measure, engine, collect_garbage, params["iterations"]))


def referee(params: dict[str, Any]) -> list[float]:
    """Each leaf's gradient summed exactly (math.fsum) from its contributions.

    d acc/d a is −1 from ``- a`` plus 0.5·b when a·b > 0 (and 0.5·a for b).
    """
    rng = random.Random(0)
    data = [rng.uniform(-1.0, 1.0) for _ in range(LEAVES)]
    contributions: list[list[float]] = [[] for _ in range(LEAVES)]
    for i in range(params["iterations"]):
        ia, ib = i % LEAVES, (i * 7 + 3) % LEAVES
        a, b = data[ia], data[ib]
        contributions[ia].append(-1.0)
        if a * b > 0:
            contributions[ia].append(0.5 * b)
            contributions[ib].append(0.5 * a)
    return [math.fsum(c) for c in contributions]


def report(results: Results, params: dict[str, Any], exact: list[float], engines: list[str]) -> tuple[str, list[Target]]:
    """The section of RESULTS.md, and the targets it decides."""
    iterations = params["iterations"]
    lines = [
        f"## {TITLE}",
        "",
        f"`acc = acc + (a * b).relu() * 0.5 - a`, {iterations:,} iterations over {LEAVES:,} leaves, then "
        "`acc.backward()`; the same Python code on every engine (PyTorch: 0-d float64 tensors, eager, one "
        "thread). Every engine ran under a recursion limit of 10^7 and a 1 GiB thread stack, which micrograd "
        "needs for this graph. CPU seconds of one build and one backward per fresh process, after an "
        f"untimed warm-up of {WARM_UP:,} iterations; the median over {params['repeats']} process(es) per "
        "engine and setting, with the range in parentheses. The ratio columns divide each engine's time by "
        "gradtrace's: above 1, gradtrace is faster.",
        "",
        *timing_table(results, engines, PHASES, "s", 1.0, 3),
        "",
    ]
    on = ratio(results, "micrograd", "gradtrace", True)
    off = ratio(results, "micrograd", "gradtrace", False)
    targets = [
        Target("2", f"scalar code ≥ {SCALAR_TARGET_GC_ON}× micrograd, collector on", str(on), on.median >= SCALAR_TARGET_GC_ON),
        Target("9", f"scalar code ≥ {SCALAR_TARGET_GC_OFF}× micrograd, collector off", str(off), off.median >= SCALAR_TARGET_GC_OFF),
    ]
    lines += [f"gradtrace is **{on}** as fast as micrograd with the collector on and **{off}** with it off.", ""]
    lines += _checks(results, exact, engines)
    return "\n".join(lines) + "\n", targets


def _checks(results: Results, exact: list[float], engines: list[str]) -> list[str]:
    """Every repetition's root against gradtrace's, and its leaf gradients against the exact ones."""
    ours = results[("gradtrace", True)][0]
    rows = []
    for engine in engines:
        runs = [m for gc_on in (True, False) for m in results.get((engine, gc_on), [])]
        same_root = all(m["root"] == ours["root"] for m in runs)
        error = max(max(abs(g - e) for g, e in zip(m["grads"], exact, strict=True)) for m in runs)
        identical = min(sum(g == e for g, e in zip(m["grads"], exact)) for m in runs)
        rows.append(f"| {engine} | {same_root} | {error:.3g} | {identical:,} of {LEAVES:,} |")
    return [
        "Same results: the root of every run against gradtrace's (same bits?), and the leaf gradients against "
        "the exact ones (each leaf's contributions summed with `math.fsum`); the engines add a leaf's "
        "contributions in different orders (micrograd's follows `set` iteration), so the last bits can differ.",
        "",
        "| engine | root identical to gradtrace's | largest leaf-gradient error | leaf gradients exact to the bit (fewest over runs) |",
        "| --- | --- | ---: | ---: |",
        *rows,
        "",
        f"Over both collector settings and every repetition; the largest exact gradient is "
        f"{max(abs(e) for e in exact):.4g}.",
    ]
