"""Training benchmark: micrograd's demo, one training step at a time, on gradtrace and micrograd.

The demo (micrograd's ``demo.ipynb``): 100 moons, ``MLP(2, [16, 16, 1])`` with ReLU
hidden layers and a linear output, the max-margin loss mean(relu(1 − y·score)) plus
1e-4·Σp², full-batch SGD with lr = 1.0 − 0.9·k/100 for 100 steps. A step is the
forward pass over the batch, zero_grad, backward and the update.

Each engine runs its own idiomatic code for the same work: micrograd the demo's code
(inputs wrapped in Values, ``sum`` of Python objects, ``p.data -= lr * p.grad``);
gradtrace ``nn.MLP``, ``nn.hinge_loss``, one ``autograd.dot`` for Σp² and ``nn.SGD``.
Both start from the same weights (``random.seed(SEED)`` before building the model),
see the same data and run the same 100 steps. Each training run has a fresh Python
process of its own, with the same modules imported, started one after the other by
the same benchmark run; each engine first runs one untimed warm-up step on a
throwaway model. PyTorch (CPU, eager, float64, one thread, the same weights) is
measured the same way when it is installed; it is not a dependency, and only its own
runs import it (its many objects would slow the others' garbage collection).

Referee: the first step's loss and every parameter's gradient computed exactly, in
rational arithmetic (``fractions.Fraction``) from the same weights and data.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from importlib.metadata import version
from typing import Any

STEPS = 100
N_SAMPLES = 100
NOISE = 0.1
DATA_SEED = 0
SEED = 1337
LAYERS = [16, 16, 1]
ALPHA = 1e-4
TARGET = 60
PHASES = ("forward", "backward", "update")

Data = tuple[list[list[float]], list[float]]


def moons() -> Data:
    """The 100 moons as plain Python floats, labels -1/+1, the same for every engine."""
    from nn.data import make_moons

    X, y = make_moons(n_samples=N_SAMPLES, noise=NOISE, seed=DATA_SEED)
    return X.tolist(), [2.0 * label - 1.0 for label in y.tolist()]


def learning_rate(k: int) -> float:
    return 1.0 - 0.9 * k / STEPS


@dataclass
class Trainer:
    """One engine's training step, split into the phases that are timed."""

    forward: Callable[[], Any]  # the full-batch loss, a graph node
    backward: Callable[[Any], None]  # zero_grad, then backward from the loss
    update: Callable[[int], None]  # the SGD update of step k
    loss_value: Callable[[Any], float]
    gradients: Callable[[], list[float]]  # in micrograd's parameter order


def gradtrace_trainer(data: Data) -> Trainer:
    import autograd
    import nn

    X, y = data
    random.seed(SEED)
    model = nn.MLP(2, LAYERS)  # ReLU hidden layers, linear output: the defaults, as micrograd's
    params = model.parameters()
    optimizer = nn.SGD(params, lr=learning_rate(0))

    def forward() -> Any:
        scores = [model(row) for row in X]
        return nn.hinge_loss(scores, y) + ALPHA * autograd.dot(params, params)

    def backward(loss: Any) -> None:
        optimizer.zero_grad()
        loss.backward()

    def update(k: int) -> None:
        optimizer.lr = learning_rate(k)
        optimizer.step()

    return Trainer(forward, backward, update, lambda loss: loss.data, lambda: [p.grad for p in params])


def micrograd_trainer(data: Data) -> Trainer:
    from micrograd.engine import Value
    from micrograd.nn import MLP

    X, y = data
    random.seed(SEED)
    model = MLP(2, LAYERS)
    params = model.parameters()

    def forward() -> Any:  # the demo's loss(), without its accuracy
        inputs = [list(map(Value, row)) for row in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * score).relu() for yi, score in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in params)
        return data_loss + reg_loss

    def backward(loss: Any) -> None:
        model.zero_grad()
        loss.backward()

    def update(k: int) -> None:
        lr = learning_rate(k)
        for p in params:
            p.data -= lr * p.grad

    return Trainer(forward, backward, update, lambda loss: loss.data, lambda: [p.grad for p in params])


def initial_weights() -> list[tuple[list[list[float]], list[float]]]:
    """Per layer, the weight rows and biases micrograd starts from after random.seed(SEED)."""
    from micrograd.nn import MLP

    random.seed(SEED)
    model = MLP(2, LAYERS)
    return [([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons]) for layer in model.layers]


def torch_trainer(data: Data) -> Trainer:
    import torch

    X, y = data
    xs, ys = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    linears = []
    for rows, biases in initial_weights():
        linear = torch.nn.Linear(len(rows[0]), len(rows), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(rows, dtype=torch.float64))
            linear.bias.copy_(torch.tensor(biases, dtype=torch.float64))
        linears.append(linear)
    model = torch.nn.Sequential(linears[0], torch.nn.ReLU(), linears[1], torch.nn.ReLU(), linears[2])
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=learning_rate(0))

    def forward() -> Any:
        scores = model(xs).squeeze(1)
        return torch.relu(1 - ys * scores).mean() + ALPHA * sum((p * p).sum() for p in params)

    def backward(loss: Any) -> None:
        optimizer.zero_grad()
        loss.backward()

    def update(k: int) -> None:
        optimizer.param_groups[0]["lr"] = learning_rate(k)
        optimizer.step()

    def gradients() -> list[float]:
        grads = []
        for linear in linears:  # micrograd's order: each neuron's weights, then its bias
            for row, bias in zip(linear.weight.grad.tolist(), linear.bias.grad.tolist()):
                grads += [*row, bias]
        return grads

    return Trainer(forward, backward, update, lambda loss: loss.item(), gradients)


@dataclass
class Run:
    """Seconds per phase for each step, the loss of each step, the first step's gradients."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: {phase: [] for phase in PHASES})
    wall_seconds: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    first_gradients: list[float] = field(default_factory=list)

    def per_step(self, phase: str | None = None) -> float:
        """Mean CPU seconds per step (of one phase, or of the whole step)."""
        phases = PHASES if phase is None else (phase,)
        return math.fsum(math.fsum(self.seconds[p]) for p in phases) / len(self.losses)

    def wall_per_step(self) -> float:
        return math.fsum(self.wall_seconds) / len(self.losses)


def train(make: Callable[[Data], Trainer], data: Data, collect_garbage: bool) -> Run:
    """STEPS timed training steps after one untimed warm-up step on a throwaway model.

    Phases are timed in CPU time of this process (``time.process_time``), so that
    other programs on the machine do not distort them; each step's wall-clock time
    is kept too. With the collector on, the steps run back to back, as in any
    training loop, and each engine pays for its own garbage when Python's collector
    decides to. With it off, the previous step's graph is released and collected before each step,
    outside the timed region, and the collector is off during the step.
    """
    warm_up = make(data)
    loss = warm_up.forward()
    warm_up.backward(loss)
    warm_up.update(0)
    del warm_up, loss
    gc.collect()

    trainer, run = make(data), Run()
    loss = None
    for k in range(STEPS):
        if not collect_garbage:
            loss = None
            gc.collect()
            gc.disable()
        try:
            wall = time.perf_counter()
            t0 = time.process_time()
            loss = trainer.forward()
            t1 = time.process_time()
            trainer.backward(loss)
            t2 = time.process_time()
            trainer.update(k)
            t3 = time.process_time()
            wall = time.perf_counter() - wall
        finally:
            gc.enable()
        for phase, seconds in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2)):
            run.seconds[phase].append(seconds)
        run.wall_seconds.append(wall)
        run.losses.append(trainer.loss_value(loss))
        if k == 0:
            run.first_gradients = trainer.gradients()
    del trainer, loss
    gc.collect()
    return run


def exact_first_step(data: Data) -> tuple[Fraction, list[Fraction]]:
    """The first step's loss and gradients (micrograd's parameter order), exactly.

    Weights, inputs and 1e-4 are binary floats, hence exact rationals; every
    operation below is exact, and 1/100 is the mean's true 1/n.
    """
    X, y = data
    layers = [([[Fraction(w) for w in row] for row in rows], [Fraction(b) for b in biases])
              for rows, biases in initial_weights()]
    alpha = Fraction(ALPHA)
    grads = [([[Fraction(0)] * len(row) for row in rows], [Fraction(0)] * len(biases)) for rows, biases in layers]
    data_loss = Fraction(0)
    for row, label in zip(X, y):
        # forward, keeping each layer's input and pre-activation
        inputs, pre = [], []
        h = [Fraction(v) for v in row]
        for i, (rows, biases) in enumerate(layers):
            z = [sum((w * x for w, x in zip(ws, h)), b) for ws, b in zip(rows, biases)]
            inputs.append(h)
            pre.append(z)
            h = [max(v, Fraction(0)) for v in z] if i < len(layers) - 1 else z
        margin = 1 - Fraction(label) * h[0]
        if margin <= 0:  # relu'(0) = 0: no gradient from this sample
            continue
        data_loss += margin
        # backward: d loss/d score = -y / n
        dz = [-Fraction(label) / len(X)]
        for i in reversed(range(len(layers))):
            rows, _ = layers[i]
            grad_rows, grad_biases = grads[i]
            for j, d in enumerate(dz):
                grad_biases[j] += d
                for k, x in enumerate(inputs[i]):
                    grad_rows[j][k] += d * x
            if i:
                dh = [sum(dz[j] * rows[j][k] for j in range(len(dz))) for k in range(len(inputs[i]))]
                dz = [d if z > 0 else Fraction(0) for d, z in zip(dh, pre[i - 1])]
    squares = sum(w * w for rows, _ in layers for ws in rows for w in ws)
    squares += sum(b * b for _, biases in layers for b in biases)
    loss = data_loss / len(X) + alpha * squares
    flat: list[Fraction] = []
    for (rows, biases), (grad_rows, grad_biases) in zip(layers, grads):
        for ws, b, gws, gb in zip(rows, biases, grad_rows, grad_biases):
            flat += [g + 2 * alpha * w for g, w in zip(gws, ws)] + [gb + 2 * alpha * b]
    return loss, flat


def graph_size(root: Any, children: Callable[[Any], Any]) -> tuple[int, int]:
    """(nodes, operand edges) of the graph under root, leaves and constants included."""
    seen, stack, edges = {id(root)}, [root], 0
    while stack:
        for child in children(stack.pop()):
            edges += 1
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen), edges


def census(data: Data) -> dict[str, tuple[int, int]]:
    """The size of one step's graph on each engine (built once, untimed)."""
    ours, theirs = gradtrace_trainer(data), micrograd_trainer(data)
    sizes = {
        "ours": graph_size(ours.forward(), lambda node: node.parents),
        "micrograd": graph_size(theirs.forward(), lambda node: node._prev),
    }
    del ours, theirs
    gc.collect()
    return sizes


TRAINERS: dict[str, Callable[[Data], Trainer]] = {
    "gradtrace": gradtrace_trainer,
    "micrograd": micrograd_trainer,
    "torch": torch_trainer,
}


def train_in_fresh_process(engine: str, collect_garbage: bool) -> Run:
    """One training run of ``engine`` in a new Python process; its Run comes back as JSON.

    micrograd leaves a heap of hundreds of megabytes behind it (and the engine
    benchmark before this one, gigabytes), which slows whatever runs next in the
    same process; a fresh process per run gives every engine the same start.
    """
    command = [sys.executable, __file__, "--worker", engine, "on" if collect_garbage else "off"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {engine} training run failed:\n{done.stderr}")
    # the Run is the last line (anything a library printed comes before); floats survive JSON exactly
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


def worker(engine: str, collect_garbage: bool) -> None:
    """Body of a fresh process: every engine's modules are imported first, so each run
    starts from the same heap (PyTorch's only where it is measured), then one run."""
    import micrograd.engine  # noqa: F401
    import micrograd.nn  # noqa: F401

    import autograd  # noqa: F401
    import nn  # noqa: F401

    if engine == "torch":
        import torch

        torch.set_num_threads(1)  # one core, as the Python engines; a 100×16 batch gains nothing from more
    run = train(TRAINERS[engine], moons(), collect_garbage)
    print(json.dumps(asdict(run)))


def run() -> dict[str, Any]:
    """All training figures, as a dict for the report."""
    data = moons()
    figures: dict[str, Any] = {"graph": census(data)}
    figures["exact_loss"], figures["exact_grads"] = exact_first_step(data)
    engines = {"micrograd": "micrograd", "ours": "gradtrace"}
    if importlib.util.find_spec("torch") is not None:
        engines["torch"] = "torch"
        figures["torch_version"] = version("torch")
    for collect_garbage in (True, False):
        for key, engine in engines.items():
            figures[f"{key}_gc_{collect_garbage}"] = train_in_fresh_process(engine, collect_garbage)
    return figures


def _max_diff(a: list[float], b: list[float]) -> float:
    return max(abs(p - q) for p, q in zip(a, b, strict=True))


def _error(value: float, exact: Fraction) -> float:
    return float(abs(Fraction(value) - exact))


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def report(figures: dict[str, Any]) -> str:
    """The training section of RESULTS.md."""
    lines = [
        "## Training: micrograd's demo, step by step, on gradtrace and micrograd",
        "",
        f"{N_SAMPLES} moons (`nn.data.make_moons`, noise {NOISE}, seed {DATA_SEED}), `MLP(2, {LAYERS})` "
        "(ReLU, then linear), loss mean(relu(1 − y·score)) + 1e-4·Σp², SGD with lr = 1.0 − 0.9·k/100, "
        f"full batch, {STEPS} steps from the same weights (`random.seed({SEED})`). A step is forward, "
        "zero_grad + backward, update. micrograd runs its demo's code; gradtrace runs `nn.MLP`, "
        "`nn.hinge_loss`, `autograd.dot(params, params)` for Σp² and `nn.SGD`. One training run per engine "
        "and garbage-collector setting, each in a fresh Python process with the same modules imported (so that "
        "no run inherits another's heap), one after the other; each engine first has one untimed "
        "warm-up step on a throwaway model. Figures are CPU time of the process (`time.process_time`) per "
        f"step, the mean over the {STEPS} steps; with the collector off, it is off during each step and "
        "a collection runs before each step, untimed, for both engines.",
        "",
        "| garbage collector | phase | gradtrace (ms) | micrograd (ms) | speed-up |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for collect_garbage, name in ((True, "on (Python's default)"), (False, "off (both engines)")):
        ours, theirs = figures[f"ours_gc_{collect_garbage}"], figures[f"micrograd_gc_{collect_garbage}"]
        for phase in (*PHASES, None):
            a, b = ours.per_step(phase) * 1e3, theirs.per_step(phase) * 1e3
            label = "**step**" if phase is None else phase
            bold = "**" if phase is None else ""
            lines.append(f"| {name} | {label} | {a:.2f} | {b:.2f} | {bold}{b / a:.1f}×{bold} |")
    ours, theirs = figures["ours_gc_True"], figures["micrograd_gc_True"]
    ours_off, theirs_off = figures["ours_gc_False"], figures["micrograd_gc_False"]
    on, off = theirs.per_step() / ours.per_step(), theirs_off.per_step() / ours_off.per_step()
    (our_nodes, our_edges), (their_nodes, their_edges) = figures["graph"]["ours"], figures["graph"]["micrograd"]
    lines += [
        "",
        f"Target (at least {TARGET}× per step): {_verdict(on >= TARGET)} with Python's default settings "
        f"({on:.1f}×); {_verdict(off >= TARGET)} with the garbage collector off for both ({off:.1f}×). "
        f"Wall-clock time per step with the collector on: gradtrace {ours.wall_per_step() * 1e3:.2f} ms, "
        f"micrograd {theirs.wall_per_step() * 1e3:.2f} ms "
        f"({theirs.wall_per_step() / ours.wall_per_step():.1f}×).",
        "",
        f"One step's graph: micrograd {their_nodes:,} nodes and {their_edges:,} operand edges; gradtrace "
        f"{our_nodes:,} nodes and {our_edges:,} operand edges (a neuron's Σw·x + b is one `dot` node). Every "
        "micrograd node holds a `set`, a closure and a reference cycle (its closure refers to it), so only "
        "the cyclic collector frees a step's graph: with the collector on, its collections take most of "
        "micrograd's time. gradtrace's nodes hold no cycles and are freed by reference counting; the "
        "collector still scans them while they live (gradtrace's step, collector on minus off: "
        f"{(ours.per_step() - ours_off.per_step()) * 1e3:+.1f} ms). With the collector off, both engines "
        "spend their step on pure-Python work per operand edge (forward, graph walk, backward): "
        f"{ours_off.per_step() / our_edges * 1e9:.0f} ns per edge for gradtrace, "
        f"{theirs_off.per_step() / their_edges * 1e9:.0f} ns for micrograd, which also has "
        f"{their_edges / our_edges:.1f}× as many edges.",
    ]
    loss_diff = _max_diff(ours.losses, theirs.losses)
    exact_loss, exact_grads = figures["exact_loss"], figures["exact_grads"]
    lines += [
        "",
        f"Same losses: over all {STEPS} steps the largest |Δloss| between gradtrace and micrograd is "
        f"{loss_diff:.3g} (target: at most 1e-9: {_verdict(loss_diff <= 1e-9)}); the loss goes from "
        f"{theirs.losses[0]:.12g} to {theirs.losses[-1]:.12g}. The second run (collector off) repeated "
        f"gradtrace's losses to the bit: **{ours_off.losses == ours.losses}**; micrograd's differ from its first "
        f"run by up to {_max_diff(theirs_off.losses, theirs.losses):.3g} (its backward visits a node's "
        "operands in `set` order, which follows memory addresses, so the order of gradient sums changes "
        "from run to run). Referee: the first step computed exactly with `fractions.Fraction`. Loss error "
        f"{_error(ours.losses[0], exact_loss):.3g} for gradtrace, {_error(theirs.losses[0], exact_loss):.3g} "
        f"for micrograd; largest error over the {len(exact_grads)} parameter gradients "
        f"{max(map(_error, ours.first_gradients, exact_grads)):.3g} for gradtrace, "
        f"{max(map(_error, theirs.first_gradients, exact_grads)):.3g} for micrograd "
        f"(largest gradient {max(abs(float(g)) for g in exact_grads):.3g}).",
        "",
        "### PyTorch (optional)",
        "",
    ]
    if "torch_gc_True" not in figures:
        lines.append("PyTorch is not installed here, so it was not measured (it is not a dependency).")
        return "\n".join(lines) + "\n"
    torch_on = figures["torch_gc_True"]
    lines += [
        f"PyTorch {figures['torch_version']} on the CPU, eager, float64, one thread (as the Python engines), "
        "the same weights, data, loss and schedule, the whole batch in matrix operations; measured the same "
        "way, in fresh processes of its own.",
        "",
        "| garbage collector | PyTorch (ms/step) | gradtrace (ms/step) | micrograd (ms/step) | PyTorch's speed-up over gradtrace |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for collect_garbage, name in ((True, "on (Python's default)"), (False, "off")):
        t = figures[f"torch_gc_{collect_garbage}"].per_step()
        ours_t = figures[f"ours_gc_{collect_garbage}"].per_step()
        theirs_t = figures[f"micrograd_gc_{collect_garbage}"].per_step()
        lines.append(f"| {name} | {t * 1e3:.3f} | {ours_t * 1e3:.2f} | {theirs_t * 1e3:.2f} | {ours_t / t:.1f}× |")
    lines += [
        "",
        f"PyTorch's losses against micrograd's: largest |Δloss| {_max_diff(torch_on.losses, theirs.losses):.3g} over "
        f"{STEPS} steps; against the exact referee, first-step loss error {_error(torch_on.losses[0], exact_loss):.3g} "
        f"and largest gradient error {max(map(_error, torch_on.first_gradients, exact_grads)):.3g}.",
    ]
    return "\n".join(lines) + "\n"


TARGETS = (
    f"Targets (issue 3): micrograd's training demo at least {TARGET}× faster per step than micrograd, "
    "with the same losses (to 1e-9 at every step)."
)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[3] == "on")
    else:
        print(report(run()))
