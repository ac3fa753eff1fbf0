"""Workload "training": micrograd's demo, one training step at a time, on every engine.

The demo (micrograd's ``demo.ipynb``): 100 moons, ``MLP(2, [16, 16, 1])`` with ReLU
hidden layers and a linear output, the max-margin loss mean(relu(1 − y·score)) plus
1e-4·Σp², full-batch SGD with lr = 1.0 − 0.9·k/100. A step is the forward pass over
the batch, zero_grad, backward and the update.

Each engine runs its own idiomatic code for the same work: micrograd the demo's code
(inputs wrapped in Values, ``sum`` of Python objects, ``p.data -= lr * p.grad``);
gradtrace ``nn.MLP``, ``nn.hinge_loss``, one ``autograd.dot`` for Σp² and ``nn.SGD``;
"compiled" the same model, loss and optimizer through ``autograd.compile`` (one sample's
hinge term plus 1e-4·Σp², whose batch mean is the same loss; ``step.backward`` does the
forward and backward passes in one call, timed as the backward phase); PyTorch (CPU, eager, float64, one thread) ``torch.nn`` and ``torch.optim.SGD``; and,
as the floor, the step written by hand in NumPy (three matrix products forward, their
transposes backward). All start from micrograd's weights after ``random.seed(SEED)``
(gradtrace draws the same ones itself; the others get them from the harness) and
see the same data, which the harness makes once with ``nn.data.make_moons`` and hands
to every worker, so that a worker imports only its own engine.

Referee: the first step's loss and every parameter's gradient computed exactly, in
rational arithmetic (``fractions.Fraction``) from the same weights and data.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from common import (
    Collector,
    Results,
    Target,
    compile_times,
    cpu_time,
    jax_backend_section,
    jax_mlp,
    load_jax,
    load_torch,
    median,
    ratio,
    relative_difference,
    table,
    timing_table,
)

TITLE = "Training: micrograd's demo, step by step"
ENGINES = ("gradtrace", "micrograd", "compiled", "torch", "numpy", "jax", "compiled_jax")
REQUIRED = ("gradtrace", "micrograd")  # compiled, torch, numpy and jax are optional here
GC = (True, False)
PHASES = ("forward", "backward", "update")
NOISE = 0.1
DATA_SEED = 0
SEED = 1337
LAYERS = [16, 16, 1]
ALPHA = 1e-4
SCHEDULE_STEPS = 100  # lr = 1.0 − 0.9·k/100, the demo's schedule, whatever the number of steps run
# samples, steps, micrograd's steps with the collector on (about 1.5 s each), repetitions
SIZES = {"full": (100, 100, 20, 3), "quick": (100, 5, 2, 1), "tiny": (20, 2, 2, 1)}
TARGET_GC_ON = 60  # issues 3 and 9
TARGET_GC_OFF = 8  # issue 9
LOSS_TOLERANCE = 1e-9  # issue 3
COMPILED_VS_TORCH = 0.5  # issue 11: the compiled step's time at most this fraction of PyTorch eager's
COMPILED_VS_NUMPY = 2.5  # issue 11: at most this many times the hand-written NumPy step's
COMPILED_VS_MICROGRAD = 3000  # issue 11: at least this many times as fast as micrograd
COMPILED_TOLERANCE = 1e-12  # issue 11: compiled loss and gradients equal eager's to this, relative
# issue 24: the compiled step with nn.SGD at most this many times PyTorch eager's, the NumPy floor's and JAX's
ARRAY_SPEED = {"torch": 0.3, "numpy": 1.5, "jax": 1.5}

Data = tuple[list[list[float]], list[float]]
Weights = list[tuple[list[list[float]], list[float]]]  # per layer: weight rows, biases


def params(size: str) -> dict[str, Any]:
    """Sizes, the data and micrograd's initial weights, for every worker."""
    from nn.data import make_moons

    samples, steps, micrograd_steps, repeats = SIZES[size]
    X, y = make_moons(n_samples=samples, noise=NOISE, seed=DATA_SEED)
    return {
        "steps": steps,
        "micrograd_gc_on_steps": micrograd_steps,
        "repeats": repeats,
        "X": X.tolist(),
        "y": [2.0 * label - 1.0 for label in y.tolist()],
        "weights": initial_weights(),
    }


def initial_weights() -> Weights:
    """Per layer, the weight rows and biases micrograd starts from after random.seed(SEED)."""
    from micrograd.nn import MLP

    random.seed(SEED)
    model = MLP(2, LAYERS)
    return [([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons]) for layer in model.layers]


def learning_rate(k: int) -> float:
    return 1.0 - 0.9 * k / SCHEDULE_STEPS


@dataclass
class Trainer:
    """One engine's training step, split into the phases that are timed."""

    forward: Callable[[], Any]  # the full-batch loss
    backward: Callable[[Any], None]  # zero_grad, then backward from the loss
    update: Callable[[int], None]  # the SGD update of step k
    loss_value: Callable[[Any], float]
    gradients: Callable[[], list[float]]  # in micrograd's order: each neuron's weights, then its bias
    graph: Callable[[Any], tuple[int, int] | None] = lambda loss: None  # (nodes, operand edges) of a step
    info: Callable[[], dict[str, Any]] = dict  # anything else to report (the compiled engine's compile times)


def gradtrace_trainer(data: Data, _weights: Weights) -> Trainer:
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

    return Trainer(forward, backward, update, lambda loss: loss.data, lambda: [p.grad for p in params],
                   lambda loss: graph_size(loss, lambda node: node.parents))


COMPILES: list[dict[str, float]] = []  # this process's autograd.compile calls, in order: the warm-up's first


def compiled_trainer(data: Data, _weights: Weights, backend: str = "numpy") -> Trainer:
    import numpy as np

    import autograd
    import nn

    X, y = np.array(data[0], dtype=np.float64), np.array(data[1], dtype=np.float64)
    random.seed(SEED)
    model = nn.MLP(2, LAYERS)
    params = model.parameters()
    optimizer = nn.SGD(params, lr=learning_rate(0))

    def sample_loss(x: list[Any], label: Any) -> Any:
        # the batch mean of this is mean hinge + 1e-4·Σp², the eager engines' loss
        return nn.hinge_loss(model(x), label) + ALPHA * autograd.dot(params, params)

    COMPILES.append(timed_compile(autograd, sample_loss, params, X, y, backend=backend))
    step = COMPILES[-1].pop("step")
    # the parameters in the step's arrays for the whole run: the fast path (the process ends with it)
    block = step.training(optimizer)
    block.open()
    state: dict[str, float] = {}

    def backward(_nothing: None) -> None:
        optimizer.zero_grad()
        state["loss"] = step.backward(X, y)

    def update(k: int) -> None:
        optimizer.lr = learning_rate(k)
        optimizer.step()

    return Trainer(lambda: None, backward, update, lambda _nothing: state["loss"], lambda: block.grad.tolist(),
                   info=lambda: {"compiles": COMPILES})


def compiled_jax_trainer(data: Data, weights: Weights) -> Trainer:
    """The compiled engine with ``backend="jax"``: the tape's forward and backward as one
    ``jax.jit`` program (float64, one thread, as the JAX anchor), nn.SGD on the arrays."""
    load_jax()
    return compiled_trainer(data, weights, backend="jax")


def timed_compile(autograd: Any, fn: Callable[..., Any], params: list[Any], *batches: Any,
                  backend: str = "numpy") -> dict[str, Any]:  # fmt: skip
    """``autograd.compile(fn, params).trace(*batches)`` (a step traces at its first call
    otherwise, inside the timed loop), its CPU time and what the step says of its own
    tracing and fusing."""
    tic = cpu_time()
    step = autograd.compile(fn, params, backend=backend).trace(*batches)
    if backend != "numpy":
        step.backward(*batches)  # the program is compiled at its first call
        for p in params:
            p.grad = 0.0
    seconds = cpu_time() - tic
    return {"step": step, "seconds": seconds, "trace": step.trace_seconds, "fuse": step.compile_seconds,
            "groups": len(step.groups)}


def micrograd_trainer(data: Data, _weights: Weights) -> Trainer:
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

    return Trainer(forward, backward, update, lambda loss: loss.data, lambda: [p.grad for p in params],
                   lambda loss: graph_size(loss, lambda node: node._prev))


def torch_model(data: Data, weights: Weights) -> tuple[Any, Any, Any]:
    """The demo's MLP in torch.nn from micrograd's weights (float64), and the data as tensors."""
    torch = load_torch()
    X, y = data
    xs, ys = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    return torch_mlp(weights), xs, ys


def torch_mlp(weights: Weights) -> Any:
    """A torch.nn MLP (float64) holding these weights: Linear layers with a ReLU between each two."""
    torch = load_torch()
    modules = []
    for rows, biases in weights:
        linear = torch.nn.Linear(len(rows[0]), len(rows), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(rows, dtype=torch.float64))
            linear.bias.copy_(torch.tensor(biases, dtype=torch.float64))
        modules += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*modules[:-1])


def torch_trainer(data: Data, weights: Weights) -> Trainer:
    torch = load_torch()
    model, xs, ys = torch_model(data, weights)
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
        for linear in model[::2]:  # the Linear layers, between the ReLUs
            for row, bias in zip(linear.weight.grad.tolist(), linear.bias.grad.tolist()):
                grads += [*row, bias]
        return grads

    return Trainer(forward, backward, update, lambda loss: loss.item(), gradients)


def jax_trainer(data: Data, weights: Weights) -> Trainer:
    """The whole step (forward, backward and the SGD update) as one ``jax.jit`` function:
    float64, one thread. Its forward and update phases are empty: the step is one call,
    timed as the backward phase, as the compiled engine's is. It also returns the
    gradients (for the equality checks) and the loss before the update."""
    jax = load_jax()
    jnp = jax.numpy
    X, y = jnp.asarray(data[0], dtype=jnp.float64), jnp.asarray(data[1], dtype=jnp.float64)
    params = [(jnp.asarray(rows, dtype=jnp.float64), jnp.asarray(biases, dtype=jnp.float64)) for rows, biases in weights]
    state: dict[str, Any] = {"params": params, "k": 0}  # (micrograd's biases start as the int 0)
    step = jax_sgd_step()

    def backward(_nothing: None) -> None:
        params, loss, grads = step(state["params"], X, y, learning_rate(state["k"]))
        state.update(params=params, loss=float(loss), grads=grads)  # float() waits for the result

    def update(k: int) -> None:
        state["k"] = k + 1  # the step itself used learning_rate(k)

    def gradients() -> list[float]:
        flat: list[float] = []
        for dW, db in state["grads"]:
            for row, g in zip(dW.tolist(), db.tolist()):
                flat += [*row, g]
        return flat

    return Trainer(lambda: None, backward, update, lambda _nothing: state["loss"], gradients)


_JAX_STEPS: dict[str, Any] = {}  # one jitted function per process: the warm-up's compilation serves the timed run


def jax_sgd_step() -> Any:
    """``step(params, X, y, lr) -> (new params, loss, gradients)``, jitted: the demo's loss
    (mean hinge + 1e-4·Σp², ReLU hidden layers with relu'(0) = 0 as everywhere here) and SGD."""
    if "sgd" not in _JAX_STEPS:
        jax = load_jax()
        jnp = jax.numpy

        def loss_of(params: Any, X: Any, y: Any) -> Any:
            h = jax_mlp(jax, params, X)
            squares = sum(jnp.sum(W * W) + jnp.sum(b * b) for W, b in params)
            return jnp.mean(jax.nn.relu(1.0 - y * h[:, 0])) + ALPHA * squares

        def step(params: Any, X: Any, y: Any, lr: Any) -> Any:
            loss, grads = jax.value_and_grad(loss_of)(params, X, y)
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss, grads

        _JAX_STEPS["sgd"] = jax.jit(step)
    return _JAX_STEPS["sgd"]


def numpy_trainer(data: Data, weights: Weights) -> Trainer:
    """The step by hand: the floor for a Python program that does this work in float64."""
    import numpy as np

    X, y = np.array(data[0], dtype=np.float64), np.array(data[1], dtype=np.float64)
    Ws = [np.array(rows, dtype=np.float64) for rows, _ in weights]
    bs = [np.array(biases, dtype=np.float64) for _, biases in weights]
    last = len(Ws) - 1
    saved: dict[str, Any] = {}
    grads: list[tuple[Any, Any]] = [(None, None)] * len(Ws)

    def forward() -> float:
        inputs, pre = [], []
        h = X
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = h @ W.T + b
            inputs.append(h)
            pre.append(z)
            h = np.maximum(z, 0.0) if i < last else z
        margin = 1.0 - y * h[:, 0]
        squares = sum(float(np.dot(W.ravel(), W.ravel())) + float(np.dot(b, b)) for W, b in zip(Ws, bs))
        saved.update(inputs=inputs, pre=pre, margin=margin)
        return float(np.maximum(margin, 0.0).mean()) + ALPHA * squares

    def backward(_loss: float) -> None:
        inputs, pre, margin = saved["inputs"], saved["pre"], saved["margin"]
        dz = (np.where(margin > 0, -y, 0.0) / len(y))[:, None]  # d loss / d score; relu'(0) = 0
        for i in reversed(range(len(Ws))):
            grads[i] = (dz.T @ inputs[i] + 2 * ALPHA * Ws[i], dz.sum(axis=0) + 2 * ALPHA * bs[i])
            if i:
                dz = (dz @ Ws[i]) * (pre[i - 1] > 0)

    def update(k: int) -> None:
        lr = learning_rate(k)
        for W, b, (dW, db) in zip(Ws, bs, grads):
            W -= lr * dW
            b -= lr * db

    def gradients() -> list[float]:
        flat: list[float] = []
        for dW, db in grads:
            for row, g in zip(dW.tolist(), db.tolist()):
                flat += [*row, g]
        return flat

    return Trainer(forward, backward, update, float, gradients)


TRAINERS: dict[str, Callable[[Data, Weights], Trainer]] = {
    "gradtrace": gradtrace_trainer,
    "micrograd": micrograd_trainer,
    "compiled": compiled_trainer,
    "torch": torch_trainer,
    "numpy": numpy_trainer,
    "jax": jax_trainer,
    "compiled_jax": compiled_jax_trainer,
}


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


def steps_for(engine: str, collect_garbage: bool, params: dict[str, Any]) -> int:
    """micrograd's step takes over a second with the collector on: it runs fewer steps then."""
    return params["micrograd_gc_on_steps"] if engine == "micrograd" and collect_garbage else params["steps"]


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """The training run's mean CPU seconds per step and phase, after one untimed warm-up
    step on a throwaway model.

    With the collector on, the steps run back to back, as in any training loop, and the
    engine pays for its own collections when Python decides to run them (the previous
    step's graph is freed when the new loss replaces it). With it off, it is off for the
    whole run, and the previous step's graph is released and collected before each step,
    untimed.
    """
    make, data, weights = TRAINERS[engine], (params["X"], params["y"]), params["weights"]
    warm_up = make(data, weights)
    loss = warm_up.forward()
    warm_up.backward(loss)
    warm_up.update(0)
    del warm_up, loss
    gc.collect()

    trainer = make(data, weights)
    steps = steps_for(engine, collect_garbage, params)
    totals = dict.fromkeys(PHASES, 0.0)
    wall, losses, first_gradients, loss = 0.0, [], [], None
    with Collector(collect_garbage) as collector:
        for k in range(steps):
            if not collect_garbage:
                loss = None
            collector.fresh()
            w0 = time.perf_counter()
            t0 = cpu_time()
            loss = trainer.forward()
            t1 = cpu_time()
            trainer.backward(loss)
            t2 = cpu_time()
            trainer.update(k)
            t3 = cpu_time()
            wall += time.perf_counter() - w0
            for phase, elapsed in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2)):
                totals[phase] += elapsed
            losses.append(trainer.loss_value(loss))
            if k == 0:
                first_gradients = trainer.gradients()
    return {
        "seconds": {phase: totals[phase] / steps for phase in PHASES},
        "wall": wall / steps,
        "losses": losses,
        "first_gradients": first_gradients,
        "graph": trainer.graph(loss),
        **trainer.info(),
    }


def referee(params: dict[str, Any]) -> tuple[Fraction, list[Fraction]]:
    """The first step's loss and gradients (micrograd's parameter order), exactly.

    Weights, inputs and 1e-4 are binary floats, hence exact rationals; every
    operation below is exact, and 1/n is the mean's true 1/n.
    """
    X, y = params["X"], params["y"]
    layers = [([[Fraction(w) for w in row] for row in rows], [Fraction(b) for b in biases])
              for rows, biases in params["weights"]]
    alpha = Fraction(ALPHA)
    grads = [([[Fraction(0)] * len(row) for row in rows], [Fraction(0)] * len(biases)) for rows, biases in layers]
    data_loss = Fraction(0)
    for row, label in zip(X, y):
        inputs, pre = [], []  # each layer's input and pre-activation
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
        dz = [-Fraction(label) / len(X)]  # d loss / d score
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


def _error(value: float, exact: Fraction) -> float:
    return float(abs(Fraction(value) - exact))


def _max_diff(a: list[float], b: list[float]) -> float:
    """Largest difference over the steps both runs made."""
    return max(abs(p - q) for p, q in zip(a, b))


def report(results: Results, params: dict[str, Any], exact: tuple[Fraction, list[Fraction]],
           engines: list[str]) -> tuple[str, list[Target]]:
    """The section of RESULTS.md, and the targets it decides."""
    steps, few = params["steps"], params["micrograd_gc_on_steps"]
    lines = [
        f"## {TITLE}",
        "",
        f"{len(params['y'])} moons (`nn.data.make_moons`, noise {NOISE}, seed {DATA_SEED}), `MLP(2, {LAYERS})` "
        "(ReLU, then linear), loss mean(relu(1 − y·score)) + 1e-4·Σp², SGD with lr = 1.0 − 0.9·k/100, full "
        f"batch, from the same weights (micrograd's after `random.seed({SEED})`). A step is forward, "
        "zero_grad + backward, update. micrograd runs its demo's code; gradtrace `nn.MLP`, `nn.hinge_loss`, "
        "`autograd.dot(params, params)` for Σp² and `nn.SGD`; compiled the same through "
        "`autograd.compile(lambda x, y: nn.hinge_loss(model(x), y) + 1e-4 * autograd.dot(params, params), params)`, "
        "whose batch mean is the same loss (the Σp² term, the same for every sample, is computed once per batch), "
        "`step.backward(X, y)` after zero_grad and `nn.SGD`, inside `step.training(optimizer)` (the parameters in "
        "the step's flat arrays): its forward and backward passes are one call, timed "
        "as its backward phase (its forward phase is empty); PyTorch (when installed) `torch.nn` and "
        "`torch.optim.SGD` on the CPU, eager, float64, one thread; NumPy the step written by hand, as a floor; "
        "JAX (when installed) the whole step, forward, backward and SGD update, as one `jax.jit` function on the "
        "CPU, float64, one thread, timed as its backward phase. "
        f"Each training run is a fresh process: one untimed warm-up step on a throwaway model, then {steps} "
        f"timed steps ({few} for micrograd with the collector on: its steps take over a second there). "
        "Figures are CPU milliseconds per step (the mean over a run's steps); the median over "
        f"{params['repeats']} run(s) per engine and setting, with the range in parentheses. With the collector "
        "off, it is off for the whole run, and the previous step's graph is collected before each step, untimed (that "
        "full collection probably leaves the CPU caches cold, which is why PyTorch's and NumPy's sub-millisecond "
        "steps are slower with the collector off than on). The "
        "ratio columns divide each engine's time by gradtrace's: above 1, gradtrace is faster.",
        "",
        *timing_table(results, engines, PHASES, "ms", 1e3, 2),
        "",
    ]
    on = ratio(results, "micrograd", "gradtrace", True)
    off = ratio(results, "micrograd", "gradtrace", False)
    lines += [f"gradtrace's step is **{on}** as fast as micrograd's with the collector on and **{off}** with it off.",
              *_floors(results, engines), ""]
    lines += _explain(results)
    text, parity = _checks(results, exact, engines, steps)
    lines += text
    targets = [
        Target("3, 9", f"demo step ≥ {TARGET_GC_ON}× micrograd, collector on", str(on), on.median >= TARGET_GC_ON),
        Target("9", f"demo step ≥ {TARGET_GC_OFF}× micrograd, collector off", str(off), off.median >= TARGET_GC_OFF),
        Target("3", f"demo losses within {LOSS_TOLERANCE:g} of micrograd's at every step", f"{parity:.3g}",
               parity <= LOSS_TOLERANCE),
    ]
    if "compiled" in engines:
        text, found = _compiled(results, engines)
        lines += text
        targets += found
    text, found = jax_backend_section(results, engines)
    lines += text
    targets += found
    return "\n".join(lines) + "\n", targets


def _compiled(results: Results, engines: list[str]) -> tuple[list[str], list[Target]]:
    """The compiled step against PyTorch, the NumPy floor and micrograd (issue 11's targets,
    collector on, Python's default), its equality with the eager step, and its compile time."""
    lines, targets = ["### The demo step compiled (`autograd.compile`)", ""], []
    speed = {e: (ratio(results, "compiled", e, True), ratio(results, "compiled", e, False))
             for e in ("torch", "numpy", "jax") if e in engines}
    faster = {e: (ratio(results, e, "compiled", True), ratio(results, e, "compiled", False))
              for e in ("gradtrace", "micrograd")}
    names = {"torch": "PyTorch eager's time", "numpy": "the hand-written NumPy step's time",
             "jax": "the `jax.jit` step's time"}
    parts = [f"{on} {names[e]} with the collector on, {off} with it off" for e, (on, off) in speed.items()]
    lines += [
        "A compiled step (forward, backward, SGD update) takes " + ("; ".join(parts) + "; it is " if parts else "")
        + f"{faster['gradtrace'][0]} as fast as the eager gradtrace step with the collector on "
        f"({faster['gradtrace'][1]} off) and {faster['micrograd'][0]} as fast as micrograd's "
        f"({faster['micrograd'][1]} off).",
        "",
    ]
    goals = {"torch": (f"compiled demo step ≤ {COMPILED_VS_TORCH}× PyTorch eager, collector on", COMPILED_VS_TORCH),
             "numpy": (f"compiled demo step ≤ {COMPILED_VS_NUMPY}× the NumPy floor, collector on", COMPILED_VS_NUMPY)}
    for engine, (on, _off) in speed.items():
        if engine in goals:
            goal, limit = goals[engine]
            targets.append(Target("11", goal, str(on), on.median <= limit))
    for engine, (on, _off) in speed.items():
        limit = ARRAY_SPEED[engine]
        anchor = {"torch": "PyTorch eager", "numpy": "the NumPy floor", "jax": "JAX jit"}[engine]
        targets.append(Target("24", f"compiled demo step ≤ {limit:g}× {anchor}, collector on", str(on),
                              on.median <= limit))
    on = faster["micrograd"][0]
    targets.append(Target("11", f"compiled demo step ≥ {COMPILED_VS_MICROGRAD:,}× micrograd, collector on", str(on),
                          on.median >= COMPILED_VS_MICROGRAD))
    eager = results[("gradtrace", False)][0]
    runs = [m for gc_on in (True, False) for m in results[("compiled", gc_on)]]
    loss = max(relative_difference(m["losses"], eager["losses"][: len(m["losses"])]) for m in runs)
    first = max(relative_difference(m["losses"][:1], eager["losses"][:1]) for m in runs)
    grads = max(relative_difference(m["first_gradients"], eager["first_gradients"]) for m in runs)
    worst = max(first, grads)
    lines += [
        f"Against the eager step, over every compiled run: the first step's loss differs by {first:.3g} of it, its "
        f"{len(eager['first_gradients'])} gradients by at most {grads:.3g} of the largest one, and the losses of "
        f"all {len(eager['losses'])} steps by at most {loss:.3g} of the largest eager loss (the trajectories may drift apart "
        "by rounding over the steps).",
        "",
        "What `autograd.compile` cost (CPU time, the median over every compiled run of both settings, range in "
        "parentheses; tracing and fusing are the step's own `trace_seconds` and `compile_seconds`):",
        "",
        *compile_times(runs),
        "",
    ]
    targets.append(Target("11", f"compiled demo step's loss and gradients within {COMPILED_TOLERANCE:g} of eager's, "
                          "relative", f"{worst:.3g}", worst <= COMPILED_TOLERANCE))
    return lines, targets


def _floors(results: Results, engines: list[str]) -> list[str]:
    """How far ahead the engines are that do the batch in matrix operations instead of one
    Python object per scalar."""
    names = {"torch": "PyTorch", "numpy": "the hand-written NumPy step", "jax": "JAX's jitted step"}
    parts = [f"{names[e]} is {ratio(results, 'gradtrace', e, True)} as fast with the collector on and "
             f"{ratio(results, 'gradtrace', e, False)} with it off" for e in engines if e in names]
    if not parts:
        return []
    return [f"Matrix code is faster than gradtrace: {'; '.join(parts)}."]


def _explain(results: Results) -> list[str]:
    """Where the time goes: graph sizes and the time per operand edge with the collector off."""
    (our_nodes, our_edges) = results[("gradtrace", False)][0]["graph"]
    (their_nodes, their_edges) = results[("micrograd", False)][0]["graph"]
    ours_off = median([sum(m["seconds"].values()) for m in results[("gradtrace", False)]])
    theirs_off = median([sum(m["seconds"].values()) for m in results[("micrograd", False)]])
    return [
        f"One step's graph: micrograd {their_nodes:,} nodes and {their_edges:,} operand edges; gradtrace "
        f"{our_nodes:,} nodes and {our_edges:,} operand edges (a neuron's Σw·x + b is one `dot` node). Every "
        "micrograd node holds a `set`, a closure and a reference cycle (its closure refers to it), so only the "
        "cyclic collector frees a step's graph: with the collector on, collections take most of micrograd's "
        "time. gradtrace's nodes hold no cycles and are freed by reference counting. With the collector off, "
        f"a step costs {ours_off / our_edges * 1e9:.0f} ns per operand edge on gradtrace and "
        f"{theirs_off / their_edges * 1e9:.0f} ns on micrograd.",
        "",
    ]


def _checks(results: Results, exact: tuple[Fraction, list[Fraction]], engines: list[str],
            steps: int) -> tuple[list[str], float]:
    """Loss parity with micrograd over the steps, and the first step against the exact referee."""
    exact_loss, exact_grads = exact
    micrograd_losses = results[("micrograd", False)][0]["losses"]  # its longest run
    rows, parity = [], 0.0
    for engine in engines:
        runs = [m for gc_on in (True, False) for m in results[(engine, gc_on)]]
        diff = max(_max_diff(m["losses"], micrograd_losses) for m in runs)
        if engine == "gradtrace":
            parity = diff
        longest = max(runs, key=lambda m: len(m["losses"]))["losses"]
        repeatable = all(m["losses"] == longest[: len(m["losses"])] for m in runs)
        loss_error = max(_error(m["losses"][0], exact_loss) for m in runs)
        grad_error = max(max(map(_error, m["first_gradients"], exact_grads)) for m in runs)
        rows.append([engine, f"{diff:.3g}", str(repeatable), f"{loss_error:.3g}", f"{grad_error:.3g}"])
    lines = [
        f"Same losses and gradients, over every run of both settings. Losses against micrograd's run of {steps} "
        "steps (collector off) at every step both made; identical losses to the bit in every run of the engine "
        "(micrograd's backward adds in `set` order, which follows memory addresses, so its last bits can "
        "change from run to run); and the first step against the exact referee (`fractions.Fraction`): the "
        f"loss goes from {micrograd_losses[0]:.12g} to {micrograd_losses[-1]:.12g}, the largest of the "
        f"{len(exact_grads)} gradients is {max(abs(float(g)) for g in exact_grads):.3g}.",
        "",
        *table(["engine", "largest Δloss vs micrograd", "same losses in every run", "first-step loss error",
                "largest first-step gradient error"], rows, align="lrlrr"),
        "",
    ]
    return lines, parity
