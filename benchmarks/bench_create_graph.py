"""Workload "create_graph": what a gradient that is itself a graph costs on micrograd's demo step.

The step of the "training" workload (the same moons, ``MLP(2, [16, 16, 1])``, hinge
loss + 1e-4·Σp², the same weights), its gradient taken four ways, each after a forward
pass of its own:

- ``backward``: ``zero_grad()``, then ``loss.backward()``, the first-order path (the
  training workload's backward phase);
- ``grad``: ``autograd.grad(loss, params)``, floats, no ``.grad`` touched;
- ``create_graph``: ``autograd.grad(loss, params, create_graph=True)``, Values in a
  graph of their own;
- ``penalty``: those Values, then ``(loss + λ·‖∇loss‖²).backward()`` (λ = 1), the
  gradient of a loss penalised by its own gradient's squared norm, as in a gradient
  penalty: a second-order use, which differentiates the derivative graph.

PyTorch (when installed; CPU, eager, float64, one thread) does the same four with
``torch.autograd.grad``, for comparison. Within a step the four run one after the other
in the same process, their order rotating from step to step, so that a noisy moment on
a shared machine hits every one of them; each one's graphs are released, untimed, before
the next one's forward pass.

Referee: the first step's gradients. ``backward``, ``grad`` and ``create_graph`` against
the exact gradient of the training workload's referee (rational arithmetic); ``penalty``
against ∇loss + 2λ·H·∇loss, with H·∇loss from the exact gradients at θ ± h·∇loss. Along
that line the loss is a cubic in h (three layers of weights, piecewise linear
activations), so each gradient component is a quadratic and the central difference is
exact while no ReLU changes side; the referee checks that with two step sizes, which
must give the same rational numbers.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import bench_training as training
from common import GC_NAMES, Collector, Ratio, Results, Target, cpu_time, load_torch, median, spread, table

TITLE = "The cost of `create_graph=True` on the demo step"
ENGINES = ("gradtrace", "torch")
GC = (True, False)
VARIANTS = ("backward", "grad", "create_graph", "penalty")
PHASES = ("forward", *VARIANTS)
PENALTY = 1.0  # λ in loss + λ·‖∇loss‖²
SIZES = {"full": (10, 3), "quick": (2, 1), "tiny": (1, 1)}  # steps, repetitions
STEP = Fraction(1, 2**16)  # h of the referee's central differences (and h/2 to check them)
DESCRIPTIONS = {
    "backward": "`loss.backward()` (after `zero_grad`)",
    "grad": "`grad(loss, params)`: floats",
    "create_graph": "`grad(loss, params, create_graph=True)`",
    "penalty": "that, then `(loss + ‖∇loss‖²).backward()`",
}


def params(size: str) -> dict[str, Any]:
    """The training workload's data and initial weights at the same size (100 moons, 20 when tiny)."""
    steps, repeats = SIZES[size]
    shared = training.params(size)
    return {"steps": steps, "repeats": repeats, "X": shared["X"], "y": shared["y"], "weights": shared["weights"]}


@dataclass
class Step:
    """One engine's forward pass and its gradient taken each way (``VARIANTS``)."""

    forward: Callable[[], Any]
    variants: dict[str, Callable[[Any], Any]]  # loss -> what to keep alive until gradients() has read it
    gradients: dict[str, Callable[[Any], list[float]]]  # the kept result -> gradients, micrograd's order
    graph: Callable[[Any, Any], dict[str, int]] = lambda loss, kept: {}


def gradtrace_step(data: training.Data, _weights: training.Weights) -> Step:
    import autograd
    import nn

    X, y = data
    random.seed(training.SEED)
    model = nn.MLP(2, training.LAYERS)  # micrograd's weights: the training workload draws them so too
    params = model.parameters()

    def forward() -> Any:
        scores = [model(row) for row in X]
        return nn.hinge_loss(scores, y) + training.ALPHA * autograd.dot(params, params)

    def backward(loss: Any) -> None:
        model.zero_grad()
        loss.backward()

    def penalty(loss: Any) -> Any:
        gs = autograd.grad(loss, params, create_graph=True)
        total = loss + PENALTY * autograd.dot(gs, gs)
        model.zero_grad()
        total.backward()
        return total

    def own_grads(_kept: Any) -> list[float]:
        return [p.grad for p in params]

    def graph(loss: Any, gs: list[Any]) -> dict[str, int]:
        forward_nodes = _reachable([loss])
        new = [node for key, node in _reachable([loss, *gs]).items() if key not in forward_nodes]
        total = loss + PENALTY * autograd.dot(gs, gs)
        return {"forward": len(forward_nodes), "gradients": len(new),
                "zeros": sum(node.data == 0.0 for node in new), "penalty": len(_reachable([total]))}

    return Step(
        forward,
        {"backward": backward, "grad": lambda loss: autograd.grad(loss, params),
         "create_graph": lambda loss: autograd.grad(loss, params, create_graph=True), "penalty": penalty},
        {"backward": own_grads, "grad": list, "create_graph": lambda gs: [g.data for g in gs], "penalty": own_grads},
        graph,
    )


def _reachable(roots: Iterable[Any]) -> dict[int, Any]:
    """Every Value under the roots, leaves included, by id."""
    stack = list(roots)
    seen = {id(node): node for node in stack}
    while stack:
        for child in stack.pop().parents:
            if id(child) not in seen:
                seen[id(child)] = child
                stack.append(child)
    return seen


def torch_step(data: training.Data, weights: training.Weights) -> Step:
    torch = load_torch()
    model, xs, ys = training.torch_model(data, weights)
    params = list(model.parameters())  # weight, bias of each layer

    def forward() -> Any:
        scores = model(xs).squeeze(1)
        return torch.relu(1 - ys * scores).mean() + training.ALPHA * sum((p * p).sum() for p in params)

    def backward(loss: Any) -> None:
        model.zero_grad()
        loss.backward()

    def penalty(loss: Any) -> Any:
        gs = torch.autograd.grad(loss, params, create_graph=True)
        total = loss + PENALTY * sum((g * g).sum() for g in gs)
        model.zero_grad()
        total.backward()
        return total

    def flat(grads: list[Any]) -> list[float]:
        """Per layer, each neuron's weights then its bias: micrograd's order."""
        out: list[float] = []
        for weight, bias in zip(grads[::2], grads[1::2]):
            for row, b in zip(weight.tolist(), bias.tolist()):
                out += [*row, b]
        return out

    def own_grads(_kept: Any) -> list[float]:
        return flat([p.grad for p in params])

    return Step(
        forward,
        {"backward": backward, "grad": lambda loss: torch.autograd.grad(loss, params),
         "create_graph": lambda loss: torch.autograd.grad(loss, params, create_graph=True), "penalty": penalty},
        {"backward": own_grads, "grad": flat, "create_graph": lambda gs: flat([g.detach() for g in gs]),
         "penalty": own_grads},
    )


STEPS: dict[str, Callable[[training.Data, training.Weights], Step]] = {"gradtrace": gradtrace_step,
                                                                       "torch": torch_step}


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds per step of the forward pass (the mean over every variant's) and of each
    variant's gradient, after one untimed step of each variant.

    Before each forward pass the previous variant's graphs are released (untimed); with
    the collector off, it is off for the whole run and a full collection runs there too.
    """
    step = STEPS[engine]((params["X"], params["y"]), params["weights"])
    steps = params["steps"]
    totals = dict.fromkeys(PHASES, 0.0)
    first: dict[str, list[float]] = {}
    for variant in VARIANTS:  # the warm-up
        step.gradients[variant](step.variants[variant](step.forward()))
    gc.collect()
    loss = kept = None
    with Collector(collect_garbage) as collector:
        for k in range(steps):
            for variant in VARIANTS[k % len(VARIANTS):] + VARIANTS[: k % len(VARIANTS)]:
                loss = kept = None
                collector.fresh()
                t0 = cpu_time()
                loss = step.forward()
                t1 = cpu_time()
                kept = step.variants[variant](loss)
                t2 = cpu_time()
                totals["forward"] += t1 - t0
                totals[variant] += t2 - t1
                if k == 0:
                    first[variant] = step.gradients[variant](kept)
        loss = kept = None
        collector.fresh()
        loss = step.forward()
        graph = step.graph(loss, step.variants["create_graph"](loss))
    seconds = {phase: totals[phase] / steps for phase in VARIANTS}
    seconds = {"forward": totals["forward"] / (steps * len(VARIANTS)), **seconds}
    return {"seconds": seconds, "first_gradients": first, "graph": graph}


def referee(params: dict[str, Any]) -> dict[str, list[Fraction]]:
    """The first step's gradient, exactly, and that of loss + λ‖∇loss‖² (see the module's docstring)."""
    _, gradient = training.referee(params)
    u = [Fraction(float(g)) for g in gradient]  # the direction, rounded: H·u is still exact
    hu = [_central_difference(params, u, STEP)]
    hu.append(_central_difference(params, u, STEP / 2))
    if hu[0] != hu[1]:
        raise RuntimeError("the referee's central differences depend on the step: a ReLU changed side; "
                           "make STEP smaller")
    return {"first_order": gradient, "penalty": [g + 2 * Fraction(PENALTY) * d for g, d in zip(gradient, hu[0])]}


def _central_difference(params: dict[str, Any], u: list[Fraction], h: Fraction) -> list[Fraction]:
    """(∇loss(θ + h·u) − ∇loss(θ − h·u)) / 2h, exactly."""
    plus = training.referee({**params, "weights": _moved(params["weights"], u, h)})[1]
    minus = training.referee({**params, "weights": _moved(params["weights"], u, -h)})[1]
    return [(a - b) / (2 * h) for a, b in zip(plus, minus)]


def _moved(weights: training.Weights, u: list[Fraction], h: Fraction) -> Any:
    """The weights (micrograd's layout) plus h·u (micrograd's parameter order), as fractions."""
    flat = iter(u)
    moved = []
    for rows, biases in weights:
        new_rows, new_biases = [], []
        for row, b in zip(rows, biases):
            new_rows.append([Fraction(w) + h * next(flat) for w in row])
            new_biases.append(Fraction(b) + h * next(flat))
        moved.append((new_rows, new_biases))
    return moved


def _ratio(results: Results, engine: str, collect_garbage: bool, phase: str,
           baseline: Callable[[dict[str, float]], float], of: Callable[[dict[str, float]], float]) -> Ratio:
    """of(seconds) over baseline(seconds): the ratio of the medians, and the range of each run's own ratio."""
    runs = [m["seconds"] for m in results[(engine, collect_garbage)]]
    a, b = [of(s) for s in runs], [baseline(s) for s in runs]
    pairs = [x / y for x, y in zip(a, b)]
    return Ratio(median(a) / median(b), min(pairs), max(pairs), len(pairs))


def ratios(results: Results, engine: str, collect_garbage: bool, variant: str) -> tuple[Ratio, Ratio]:
    """(the variant's gradient ÷ backward's, its whole step ÷ the step with backward)."""
    gradient = _ratio(results, engine, collect_garbage, variant, lambda s: s["backward"], lambda s: s[variant])
    step = _ratio(results, engine, collect_garbage, variant, lambda s: s["forward"] + s["backward"],
                  lambda s: s["forward"] + s[variant])
    return gradient, step


def _error(values: list[float], exact: list[Fraction]) -> float:
    return max(float(abs(Fraction(v) - e)) for v, e in zip(values, exact, strict=True))


def report(results: Results, params: dict[str, Any], exact: dict[str, list[Fraction]],
           engines: list[str]) -> tuple[str, list[Target]]:
    """The section of RESULTS.md (this workload sets no target)."""
    lines = [
        f"## {TITLE}",
        "",
        f"The training workload's step ({len(params['y'])} moons, `MLP(2, {training.LAYERS})`, hinge loss + "
        "1e-4·Σp², the same weights), its gradient taken four ways, each after a forward pass of its own: "
        + "; ".join(f"**{v}**, {d}" for v, d in DESCRIPTIONS.items())
        + " (the gradient of a loss penalised by its own gradient's squared norm: it differentiates the "
        "derivative graph). PyTorch, when installed, does the same with `torch.autograd.grad`. "
        f"Each run is a fresh process: one untimed step of each, then {params['steps']} timed steps, in each of "
        "which the four run one after the other (their order rotating), each one's graphs released, untimed, "
        "before the next one's forward pass. CPU milliseconds per step (the mean over a run's steps; forward: "
        f"over every variant's); the median over {params['repeats']} run(s) per engine and setting, with the "
        "range. ÷ backward: the gradient's time over backward's; step ÷: forward + gradient over forward + "
        "backward, what a training step costs.",
        "",
    ]
    header = ["collector", "gradient"]
    for engine in engines:
        header += [f"{engine} (ms)", f"{engine} ÷ backward", f"{engine} step ÷"]
    rows = []
    for collect_garbage in (True, False):
        if (engines[0], collect_garbage) not in results:
            continue
        for phase in PHASES:
            cells = [GC_NAMES[collect_garbage], phase]
            for engine in engines:
                cells.append(spread([m["seconds"][phase] for m in results[(engine, collect_garbage)]], 1e3, 2))
                if phase in ("forward", "backward"):
                    cells += ["", ""]
                else:
                    gradient, step = ratios(results, engine, collect_garbage, phase)
                    bold = "**" if phase == "create_graph" else ""
                    cells += [f"{bold}{gradient}{bold}", str(step)]
            rows.append(cells)
    lines += [*table(header, rows, right_from=2), ""]
    on, off = (ratios(results, "gradtrace", gc_on, "create_graph")[0] for gc_on in (True, False))
    lines.append(f"`create_graph=True` costs gradtrace **{on}** the time of `backward()` with the collector on "
                 f"and **{off}** with it off.")
    if "torch" in engines:
        lines.append(f"PyTorch's `create_graph=True` costs {ratios(results, 'torch', True, 'create_graph')[0]} its "
                     "`backward()` with the collector on: its derivative graph is a few dozen tensor operations, "
                     "whatever the batch.")
    lines += ["", *_graph_sizes(results), "", *_checks(results, exact, engines)]
    return "\n".join(lines) + "\n", []


def _graph_sizes(results: Results) -> list[str]:
    sizes = results[("gradtrace", False)][0]["graph"]
    made = median([m["seconds"]["create_graph"] for m in results[("gradtrace", False)]])
    return [
        f"Graph sizes (gradtrace, nodes, leaves included): the forward graph has {sizes['forward']:,}; "
        f"`create_graph=True` adds {sizes['gradients']:,} ({sizes['gradients'] / sizes['forward']:.1f}× the "
        f"forward graph's; {made / sizes['gradients'] * 1e6:.2f} µs per node made, with the collector off), and "
        f"the penalised loss's graph has {sizes['penalty']:,} in all. The first-order path makes none: its rules "
        "run on floats, while `create_graph` runs the same rules on Values (`autograd.values`), one node per "
        "operation of each local derivative (a `dot` node's gradient is a mul node per operand). "
        f"{sizes['zeros']:,} of the new nodes hold 0: below each ReLU that is off, the rule's 0·g (a node, so "
        "that a g that is not finite would show) and every derivative built on it."
    ]


def _checks(results: Results, exact: dict[str, list[Fraction]], engines: list[str]) -> list[str]:
    rows = []
    for engine in engines:
        runs = [m["first_gradients"] for gc_on in (True, False) for m in results[(engine, gc_on)]]
        cells = [engine]
        for variant in VARIANTS:
            truth = exact["penalty" if variant == "penalty" else "first_order"]
            cells.append(f"{max(_error(run[variant], truth) for run in runs):.3g}")
        rows.append(cells)
    largest = max(abs(float(g)) for g in exact["penalty"])
    return [
        "Same gradients: the first step's, over every run of both settings, against the exact ones (rational "
        "arithmetic: the training workload's referee for the first three; for the penalty ∇loss + 2·H·∇loss, "
        "H·∇loss from exact gradients at θ ± h·∇loss, exact as the module's docstring explains). The largest "
        f"of the penalised loss's {len(exact['penalty'])} gradients is {largest:.3g}.",
        "",
        *table(["engine", *(f"{v}: largest error" for v in VARIANTS)], rows),
        "",
    ]
