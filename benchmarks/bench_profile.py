"""Where a compiled training step's time goes: CPU time per fused group and per phase.

For the compiled engine of five workloads (a digits mini-batch of 32, the whole digits
set of 1,797 as one batch, the MNIST-sized 784-128-10 step on batches of 64 and
784-256-256-10 on batches of 128; the models, data and Adam of ``bench_digits``,
``bench_mnist`` and ``bench_mnist_wide``), and micrograd's demo step (``bench_training``'s
compiled engine: hinge + 1e-4·Σp², ``nn.SGD``), a fresh process runs the training loop of
those benchmarks inside ``step.training(optimizer)`` (the parameters in the step's flat
arrays: ``zero_grad()``, ``step.backward(X, t)``, ``nn.Adam``) with a clock around each
part:

- ``zero_grad()``, which fills the optimizer's slice of the gradient array;
- the replay's forward pass: each fused group's forward (``step.groups``: a layer's
  matmul, an op's elementwise call, a variadic node such as cross-entropy's
  log-softmax), and the loop around them;
- its backward pass, group by group in reverse;
- the rest of ``step.backward``: checking the batch, reducing the per-sample losses and
  adding the batch gradient into the gradient array;
- the optimizer's step on the arrays (``nn.Adam``; ``nn.SGD`` for the demo).

The clocks are ``time.process_time`` calls around each part, which cost CPU time
themselves: the instrumented step is compared with the same loop without them. The
clocks reach into the replay (``step._tape`` and its units), which is internal and may
change; the section says so when it cannot find them.

Run: ``python benchmarks/bench_profile.py``; it prints a markdown section (``markdown()``
returns it, for ``benchmarks/run.py``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_digits as digits  # noqa: E402
import bench_mnist as mnist  # noqa: E402
import bench_training as training  # noqa: E402
from common import table  # noqa: E402

# name: (title, steps timed per process)
WORKLOADS = {
    "demo": ("micrograd's demo step (100 moons, `MLP(2, [16, 16, 1])`, hinge + 1e-4·Σp², `nn.SGD`)", 300),
    "digits": ("digits, a mini-batch of 32 (`MLP(64, [32, 10])`)", 300),
    "digits_full": ("digits, the whole set of 1,797 as one batch", 40),
    "mnist": ("MNIST-sized, 784-128-10, a mini-batch of 64", 30),
    "mnist_wide": ("MNIST-sized, 784-256-256-10, a mini-batch of 128", 20),
}
REPEATS = 3


def _data(name: str, steps: int) -> tuple[Any, Any, list[Any], list[list[int]]]:
    """(X, t, weights, each step's sample indices) of a workload."""
    import numpy as np

    if name in ("mnist", "mnist_wide"):
        hidden, batch = ([128], 64) if name == "mnist" else ([256, 256], 128)
        params = mnist.make_params((mnist.INPUTS, hidden, batch, steps, 1))
        X, t = mnist.data(params)
        return X, t, mnist.weights(params), [list(range(i * batch, i * batch + batch)) for i in range(steps)]
    X, t = digits.digits(1797)
    X, t = np.array(X), np.array(t)
    if name == "digits_full":
        return X, t, digits.initial_weights(), [list(range(1797))] * steps
    order = np.random.default_rng(digits.SEED).permutation(1797).tolist()
    batches = [order[i : i + digits.BATCH] for i in range(0, 1792, digits.BATCH)]  # whole batches only
    return X, t, digits.initial_weights(), [batches[k % len(batches)] for k in range(steps)]


class Clock:
    """CPU seconds per part, summed over the steps."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, method: str, part: str) -> None:
        """Time owner.method under part (an attribute on the instance, over its class's method)."""
        inner: Callable[..., Any] = getattr(owner, method)
        seconds = self.seconds
        seconds.setdefault(part, 0.0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[part] += time.process_time() - start

        setattr(owner, method, timed)


def _group_name(group: Any, width: int) -> str:
    return f"{group.kind} {group.op} ×{len(group.nodes)}" + (f" (depth {group.depth})" if width else "")


def worker(name: str) -> dict[str, Any]:
    """In a fresh process: the loop without clocks, then with them; CPU seconds per step."""
    import gc

    import numpy as np

    import autograd
    import nn

    steps = WORKLOADS[name][1]
    if name == "demo":  # bench_training's compiled engine: hinge + 1e-4·Σp², nn.SGD, the whole set
        data = training.params("full")
        X, t = np.array(data["X"]), np.array(data["y"])
        model = digits.gradtrace_model(data["weights"])
        params = model.parameters()
        optimizer: Any = nn.SGD(params, lr=training.learning_rate(0))
        step = autograd.compile(lambda x, label: nn.hinge_loss(model(x), label) + training.ALPHA * autograd.dot(params, params),
                                params).trace(X, t)  # fmt: skip
        batches = [(X, t)] * steps
    else:
        X, t, weights, chunks = _data(name, steps)
        model = digits.gradtrace_model(weights)
        params = model.parameters()
        optimizer = nn.Adam(params, lr=digits.LR)
        step = autograd.compile(lambda x, target: nn.cross_entropy(model(x), target), params).trace(X[chunks[0]], t[chunks[0]])
        batches = [(X[c], t[c]) for c in chunks]
    block = step.training(optimizer)  # the parameters in the step's arrays, for the process's life
    block.open()

    def loop() -> float:
        gc.collect()
        start = time.process_time()
        for batch in batches:
            optimizer.zero_grad()
            step.backward(*batch)
            optimizer.step()
        return (time.process_time() - start) / len(batches)

    loop()  # warm: the array forms, the caches
    plain = loop()
    tapes = getattr(getattr(step, "_patterns", None), "tapes", None)
    tape = tapes[0] if tapes and len(tapes) == 1 else None
    units = getattr(tape, "units", None)
    if tape is None or units is None or not all(hasattr(u, "group") for u in units):
        return {"plain": plain, "found": False}
    clock = Clock()
    clock.wrap(optimizer, "zero_grad", "zero_grad()")
    clock.wrap(step, "backward", "step.backward(X, t)")
    clock.wrap(tape, "forward", "replay forward")
    clock.wrap(tape, "backward", "replay backward")
    names = []
    for k, unit in enumerate(units):
        label = f"{k + 1}. {_group_name(unit.group, 0)}"
        names.append(label)
        clock.wrap(unit, "forward", f"forward {label}")
        clock.wrap(unit, "backward", f"backward {label}")
    clock.wrap(optimizer, "step", "optimizer step")
    instrumented = loop()
    per_step = {part: seconds / len(batches) for part, seconds in clock.seconds.items()}
    return {"plain": plain, "instrumented": instrumented, "parts": per_step, "groups": names, "found": True,
            "parameters": len(params), "batch": int(np.asarray(batches[0][1]).shape[0])}


def _median_parts(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {part: statistics.median(run["parts"][part] for run in runs) for part in runs[0]["parts"]}


def section(name: str, runs: list[dict[str, Any]]) -> list[str]:
    """One workload's table: each part's CPU ms per step and its share of the instrumented step."""
    title = WORKLOADS[name][0]
    plain = statistics.median(run["plain"] for run in runs)
    if not all(run["found"] for run in runs):
        return [f"### {title}", "", f"{plain * 1e3:.2f} ms per step. The replay's groups were not found "
                "(`step._patterns.tapes[0].units`): this profile needs updating to the replay.", ""]
    parts = _median_parts(runs)
    whole = statistics.median(run["instrumented"] for run in runs)
    forward_groups = sum(v for k, v in parts.items() if k.startswith("forward "))
    backward_groups = sum(v for k, v in parts.items() if k.startswith("backward "))
    step_total = parts["step.backward(X, t)"]
    rows = [["`zero_grad()` on the gradient array", parts["zero_grad()"]],
            ["replay forward: the loop around the groups", parts["replay forward"] - forward_groups]]
    rows += [[f"forward, group {label}", parts[f"forward {label}"]] for label in runs[0]["groups"]]
    rows += [[f"backward, group {label}", parts[f"backward {label}"]] for label in reversed(runs[0]["groups"])]
    rows += [["replay backward: seeding (and the loop)", parts["replay backward"] - backward_groups],
             ["`step.backward`'s rest: checking the batch, the mean, adding the gradient into the array",
              step_total - parts["replay forward"] - parts["replay backward"]],
             [f"`nn.{'SGD' if name == 'demo' else 'Adam'}` step on the arrays", parts["optimizer step"]]]
    counted = sum(seconds for _, seconds in rows)
    rows.append(["**the step, instrumented** (the loop's own time outside the parts: "
                 f"{(whole - counted) * 1e3:.3f} ms)", whole])
    body = [[label, f"{seconds * 1e3:.3f}", f"{seconds / whole:.0%}"] for label, seconds in rows]
    groups = forward_groups + backward_groups
    optimizer = parts["zero_grad()"] + parts["optimizer step"]
    rest = whole - groups - optimizer
    return [
        f"### {title}",
        "",
        f"{runs[0]['parameters']:,} parameters, batch {runs[0]['batch']}. Without the clocks, a step takes "
        f"{plain * 1e3:.3f} ms; with them {whole * 1e3:.3f} ms. The fused groups' NumPy work is "
        f"{groups / whole:.0%} of the instrumented step, the optimizer and zero_grad on the arrays {optimizer / whole:.0%}, "
        f"and the Python around them (checking the batch, the loops, the mean, the clocks) {rest / whole:.0%}.",
        "",
        *table(["part", "CPU ms per step", "share"], body),
        "",
    ]


def markdown(repeats: int = REPEATS) -> str:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in WORKLOADS}
    for _ in range(repeats):
        for name in WORKLOADS:
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", name],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"profile of {name} failed:\n{done.stderr}")
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    lines = [
        "## Where the compiled step's time goes",
        "",
        "The compiled engine's training loop inside `step.training(optimizer)` (the parameters in the step's flat "
        "arrays: `zero_grad()`, `step.backward(X, t)`, `nn.Adam`) with a `time.process_time` clock around each "
        "part: zero_grad, the replay's forward pass (each fused group of `step.groups`), its backward pass group "
        "by group, the rest of `step.backward` (checking the batch, the mean, adding the gradient into the array) "
        "and the optimizer's step (`nn.SGD` for the demo, `nn.Adam` for the others). CPU milliseconds per step, the "
        f"mean over a process's steps, the median over {repeats} fresh process(es). The clocks cost time of their "
        "own: each table gives the step with and without them.",
        "",
    ]
    for name in WORKLOADS:
        lines += section(name, runs[name])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(sys.argv[2])))
    else:
        print(markdown(int(sys.argv[1]) if len(sys.argv) > 1 else REPEATS))
