"""Workload "microgpt": a GPT in scalar code (examples/microgpt.py), one name per step.

The program trains a one-layer GPT (n_embd 16, 4 heads, block_size 16, 4,192 parameters at
the default size) on a names list, one document per step: the mean next-token loss over
the name's positions, one ``backward()``, Adam. Engines:

- "microgpt": the program as written, on its own ``Value`` class (a Value keeps its
  children and local derivatives; ``backward()`` sorts the graph and accumulates);
- "gradtrace": the same program with that class replaced by ``from autograd import Value``;
- "numpy": the model in NumPy, forward and backward by hand (``microgpt_numpy``), with the
  same Adam on arrays;
- "compiled": the same program's ``document_loss`` through ``autograd.compile``, one name
  per call (``step.backward(np.array([tokens]))``), with the program's own Adam. Each name
  length is a tape of its own, traced before the timed steps (its cost is reported apart).
  The same process then times batches of 16 names of one length per call, and eager
  gradtrace on those same names, for the per-name ratio;
- "compiled_adam": the same compiled step inside ``with step.training(opt):`` with
  ``opt = nn.Adam(params, lr, betas=(beta1, beta2), eps)`` (the program's constants), its
  ``lr`` set before each step to the program's linear decay: the parameters live in the
  step's flat arrays, and Adam is a few NumPy calls on them instead of the program's Python
  loop. nn.Adam rounds its formula in another order than the program's ``adam_update``
  (PyTorch's), so its losses can differ from eager's in the last bits: reported with the rest.
  The block is opened before the warm-up step and closed after the timed steps (both untimed;
  their cost is reported apart).

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
ENGINES = ("gradtrace", "microgpt", "numpy", "compiled", "compiled_adam")
REQUIRED = ("gradtrace", "microgpt")
GC = (True, False)
PHASES = ("gradient", "update")
NAMES = {"gradtrace": "eager gradtrace", "microgpt": "microgpt's own Value", "numpy": "NumPy by hand",
         "compiled": "compiled gradtrace", "compiled_adam": "compiled + nn.Adam in step.training"}
TOLERANCE = 1e-12  # eager gradtrace's losses against microgpt's own engine's, relative
COMPILED_TOLERANCE = 1e-10  # compiled gradtrace's losses against eager gradtrace's, relative
BATCH = 16  # names of one length per compiled call
SPEEDUP_ONE, SPEEDUP_BATCH = 25.0, 200.0  # the compiled targets: per step, and per name in a batch
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

    def start(self) -> None:
        """Before the warm-up step (untimed)."""

    def finish(self) -> None:
        """After the timed steps (untimed)."""


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


class Compiled(Eager):
    """The program's ``document_loss`` compiled: ``step.backward`` of one name (a (1, n) array
    of token ids) per step, the program's own Adam."""

    def __init__(self, program: dict[str, Any], total_steps: int) -> None:
        import numpy as np

        import autograd

        super().__init__(program, total_steps)
        self.np = np
        self.step = autograd.compile(program["document_loss"], program["params"])
        self.trace_seconds: dict[int, float] = {}

    def prepare(self, documents: list[list[int]]) -> None:
        """Trace a tape for each length among ``documents`` (untimed: each length's first call)."""
        for tokens in documents:
            if len(tokens) not in self.trace_seconds:
                start = cpu_time()
                self.step.trace(self.np.array([tokens]))
                self.trace_seconds[len(tokens)] = cpu_time() - start

    def gradient(self, tokens: list[int]) -> float:
        return self.step.backward(self.np.array([tokens]))


class CompiledAdam(Compiled):
    """The compiled step inside ``step.training(opt)`` with ``opt = nn.Adam`` set up as the
    program's Adam: gradient = ``step.backward``, update = ``opt.lr = ...; opt.step();
    opt.zero_grad()`` (the program's ``adam_update`` also zeroes the gradients)."""

    def __init__(self, program: dict[str, Any], total_steps: int) -> None:
        import nn

        super().__init__(program, total_steps)
        self.opt = nn.Adam(program["params"], lr=program["learning_rate"], betas=(program["beta1"], program["beta2"]),
                           eps=program["eps"])
        self.block = self.step.training(self.opt)
        self.block_seconds = {"open": 0.0, "close": 0.0}

    def update(self, step: int) -> None:
        opt = self.opt
        opt.lr = self.program["learning_rate"] * (1 - step / self.total_steps)  # the program's expression
        opt.step()
        opt.zero_grad()

    def start(self) -> None:
        start = cpu_time()
        self.block.open()
        self.block_seconds["open"] = cpu_time() - start

    def finish(self) -> None:
        start = cpu_time()
        self.block.close()
        self.block_seconds["close"] = cpu_time() - start


def make(engine: str, argv: list[str], total_steps: int) -> Eager | NumPy:
    import microgpt_program

    program = microgpt_program.load("microgpt" if engine == "microgpt" else "gradtrace",
                                    ["--steps", "0", "--samples", "0", *argv])
    if engine == "compiled":
        return Compiled(program, total_steps)
    if engine == "compiled_adam":
        return CompiledAdam(program, total_steps)
    return NumPy(program, total_steps) if engine == "numpy" else Eager(program, total_steps)


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds per step and phase (the mean over the run's steps) after one untimed
    warm-up step; with the collector off, a full collection runs, untimed, before each step."""
    total = params["steps"] + 1
    run = make(engine, params["argv"], total)
    docs, tokenize = run.program["docs"], run.program["tokenize"]
    if isinstance(run, Compiled):
        run.prepare([tokenize(docs[step % len(docs)]) for step in range(total)])
    totals = dict.fromkeys(PHASES, 0.0)
    if not isinstance(run, NumPy):
        run.start()
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
    if not isinstance(run, NumPy):
        run.finish()
    gc.collect()
    result = {"seconds": {phase: totals[phase] / params["steps"] for phase in PHASES}, "losses": losses,
              "parameters": len(run.program["params"])}
    if isinstance(run, CompiledAdam):
        result["trace_seconds"] = run.trace_seconds
        result["block_seconds"] = run.block_seconds
    elif isinstance(run, Compiled):
        result["trace_seconds"] = run.trace_seconds
        result["batch"] = measure_batch(run, collect_garbage, params["steps"])
        result["profile"] = profile_groups(run, result["batch"]["length"])
    return result


def profile_groups(run: Compiled, length: int, steps: int = 20) -> dict[str, Any]:
    """Where one name's compiled step goes (a name of ``length`` tokens): CPU seconds per step in
    each kind of group's forward and backward (clocks around each group, which cost time
    themselves), and the whole step with and without the clocks."""
    np, program = run.np, run.program
    tokens = np.array([next(t for d in program["docs"] if len(t := program["tokenize"](d)) == length)])
    run.step.backward(tokens)
    tape = next(t for t in run.step._patterns.tapes if t.shape == (length,))  # internal: the replay's units
    for p in program["params"]:
        p.grad = 0.0
    start = cpu_time()
    for _ in range(steps):
        run.step.backward(tokens)
    plain = (cpu_time() - start) / steps
    seconds: dict[str, float] = {}
    kept = [(unit, unit.forward, unit.backward) for unit in tape.units]

    def clocked(method: Any, key: str) -> Any:
        def timed(*args: Any) -> Any:
            start = cpu_time()
            try:
                return method(*args)
            finally:
                seconds[key] = seconds.get(key, 0.0) + cpu_time() - start
        return timed

    try:
        for unit, forward, backward in kept:
            unit.forward = clocked(forward, f"{unit.group.kind} {unit.group.op} forward")
            unit.backward = clocked(backward, f"{unit.group.kind} {unit.group.op} backward")
        start = cpu_time()
        for _ in range(steps):
            run.step.backward(tokens)
        clocked_total = (cpu_time() - start) / steps
    finally:
        for unit, *_ in kept:
            del unit.forward, unit.backward
    for p in program["params"]:
        p.grad = 0.0
    return {"groups": len(tape.units), "step": plain, "clocked": clocked_total,
            "parts": {key: value / steps for key, value in seconds.items()}}


def measure_batch(run: Compiled, collect_garbage: bool, steps: int) -> dict[str, Any]:
    """Batches of BATCH names of one length (the most common one) per compiled call: CPU
    seconds per name of the gradient and update phases, eager gradtrace's gradient phase on
    the first batch's names, and the first batch's loss against eager's mean on it."""
    import autograd

    np, program = run.np, run.program
    by_length: dict[int, list[list[int]]] = {}
    for doc in program["docs"]:
        tokens = program["tokenize"](doc)
        by_length.setdefault(len(tokens), []).append(tokens)
    length = max(by_length, key=lambda n: len(by_length[n]))
    names = by_length[length]
    batches = [np.array([names[(b * BATCH + i) % len(names)] for i in range(BATCH)]) for b in range(steps + 1)]
    params = program["params"]
    for p in params:
        p.grad = 0.0
    # eager gradtrace on the first batch's names, one by one (the reference for the ratio and the loss)
    eager_losses, eager_seconds = [], 0.0
    with Collector(collect_garbage) as collector:
        for tokens in batches[0].tolist():
            collector.fresh()
            start = cpu_time()
            loss = program["document_loss"](tokens)
            loss.backward()
            eager_seconds += cpu_time() - start
            eager_losses.append(loss.data)  # the number only: 16 graphs kept alive would slow the collector
            del loss
    eager_mean = autograd.mean([autograd.Value(x) for x in eager_losses]).data  # eager's batch loss node
    for p in params:
        p.grad = 0.0
    first = run.step.backward(batches[0])  # traces this length if the names of the timed steps had not
    program["adam_update"](0, steps + 1)
    totals = dict.fromkeys(PHASES, 0.0)
    gc.collect()
    with Collector(collect_garbage) as collector:
        for step in range(1, steps + 1):
            collector.fresh()
            start = cpu_time()
            run.step.backward(batches[step])
            middle = cpu_time()
            program["adam_update"](step, steps + 1)
            totals["gradient"] += middle - start
            totals["update"] += cpu_time() - middle
    gc.collect()
    return {"size": BATCH, "length": length, "seconds": {phase: totals[phase] / steps / BATCH for phase in PHASES},
            "eager_gradient": eager_seconds / BATCH, "loss_difference": abs(first - eager_mean) / abs(eager_mean)}


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
    if "compiled" in engines:
        text, found = compiled_report(results, worst["compiled"])
        lines.append(text)
        targets += found
    if "compiled_adam" in engines:
        text, found = compiled_adam_report(results, worst["compiled_adam"], "compiled" in engines)
        lines.append(text)
        targets += found
    return "\n".join(lines) + "\n", targets


def compiled_adam_report(results: Results, worst: float, with_compiled: bool) -> tuple[str, list[Target]]:
    """The fast path's row: the whole step's ratio to eager, Adam's share, the block's cost, the losses."""
    from statistics import median

    whole = ratio(results, "gradtrace", "compiled_adam", True)
    gradient = ratio(results, "gradtrace", "compiled_adam", True, "gradient")
    off = ratio(results, "gradtrace", "compiled_adam", False) if ("compiled_adam", False) in results else None
    runs = results[("compiled_adam", True)]
    update = median(m["seconds"]["update"] for m in runs)
    opened = median(m["block_seconds"]["open"] for m in runs)
    closed = median(m["block_seconds"]["close"] for m in runs)
    hand = ""
    if with_compiled:
        program_adam = median(m["seconds"]["update"] for m in results[("compiled", True)])
        hand = f" (the program's `adam_update`, a Python loop over the Values: {program_adam * 1e3:.2f} ms)"
    lines = [
        "Compiled with nn.Adam in the training block (`step = autograd.compile(document_loss, params)`, "
        "`opt = nn.Adam(params, lr=learning_rate, betas=(beta1, beta2), eps=eps)`, then inside "
        "`with step.training(opt):` per step `step.backward(np.array([tokens]))`, `opt.lr = learning_rate * "
        "(1 - step / num_steps)`, `opt.step()`, `opt.zero_grad()`): the whole step takes "
        f"1/{whole} of eager gradtrace's time (forward and backward 1/{gradient}"
        + (f"; the whole step with the collector off 1/{off}" if off else "") + "); Adam and zero_grad on the "
        f"step's flat arrays take {update * 1e3:.3f} ms a step{hand}. Opening the block (the Values read into "
        f"the arrays) took {opened * 1e3:.1f} ms and closing it (written back) {closed * 1e3:.1f} ms, once each, "
        "outside the timed steps. nn.Adam computes the program's update in PyTorch's order of operations, so "
        f"its numbers differ from `adam_update`'s in the last bits; the losses stay within {worst:.2g} "
        "(relative) of eager gradtrace's.",
        "",
    ]
    targets = [
        Target("22", f"compiled + nn.Adam in step.training ≥ {SPEEDUP_ONE:g}× eager gradtrace per step, one name "
                     "per call (the whole step: forward, backward, Adam)", f"{whole}", whole.median >= SPEEDUP_ONE),
        Target("22", f"compiled + nn.Adam in step.training: losses within {COMPILED_TOLERANCE:g} of eager "
                     "gradtrace's, relative (every step)", f"{worst:.2g}", worst <= COMPILED_TOLERANCE),
    ]
    return "\n".join(lines), targets


def compiled_report(results: Results, worst: float) -> tuple[str, list[Target]]:
    """The compiled rows: the per-step ratio, the batch's per-name ratio, the tracing, the losses."""
    from statistics import median

    one = ratio(results, "gradtrace", "compiled", True, "gradient")
    whole = ratio(results, "gradtrace", "compiled", True)
    runs = results[("compiled", True)]
    batch = [m["batch"] for m in runs]
    per_name = median(b["seconds"]["gradient"] for b in batch)
    eager_per_name = median(b["eager_gradient"] for b in batch)
    pairs = sorted(b["eager_gradient"] / b["seconds"]["gradient"] for b in batch)
    batch_ratio = median(pairs)
    update_per_name = median(b["seconds"]["update"] for b in batch)
    traces = {int(n): s for m in runs for n, s in m["trace_seconds"].items()}
    batch_loss = max(m["batch"]["loss_difference"] for on in GC for m in results.get(("compiled", on), []))
    lines = [
        f"Compiled (`step = autograd.compile(document_loss, params)`, then `step.backward(np.array([tokens]))` "
        f"for one name per step): forward and backward take 1/{one} of eager gradtrace's time, the whole step "
        f"1/{whole} with the program's own Adam (a Python loop over the parameters, untouched). A tape per name "
        f"length is traced at its first call, {min(traces.values()) * 1e3:.0f}–{max(traces.values()) * 1e3:.0f} ms "
        f"each ({len(traces)} lengths here), not in the timed steps.",
        "",
        f"A batch of {batch[0]['size']} names of one length ({batch[0]['length'] - 2} letters, the most common) per "
        f"call: forward and backward {per_name * 1e3:.3f} ms per name, against {eager_per_name * 1e3:.1f} ms for "
        f"eager gradtrace on the same names: {batch_ratio:.0f}× (per process: "
        f"{', '.join(f'{x:.0f}×' for x in pairs)}); the program's Adam adds {update_per_name * 1e3:.2f} ms per name. "
        f"The batch's mean loss is within {batch_loss:.2g} (relative) of eager's mean over the same names.",
        "",
    ]
    profile = runs[0]["profile"]
    parts = sorted(profile["parts"].items(), key=lambda kv: -kv[1])
    in_groups = sum(profile["parts"].values())
    lines += [
        f"Where one name's compiled step goes ({batch[0]['length'] - 2} letters: a tape of {profile['groups']} groups; "
        f"{profile['step'] * 1e3:.2f} ms a step, {profile['clocked'] * 1e3:.2f} ms with a clock around each group): "
        f"{in_groups / profile['clocked']:.0%} in the groups' NumPy calls, the rest in the Python around them "
        "(reading the parameters' `.data`, splitting by pattern, adding into `.grad`). The largest parts, "
        "in ms per step: " + ", ".join(f"{key} {value * 1e3:.2f}" for key, value in parts[:6]) + ".",
        "",
    ]
    targets = [
        Target("22", f"compiled ≥ {SPEEDUP_ONE:g}× eager gradtrace per step, one name per call (forward and "
                     "backward)", f"{one}", one.median >= SPEEDUP_ONE),
        Target("22", f"compiled ≥ {SPEEDUP_ONE:g}× eager gradtrace per step, one name per call (the whole step, "
                     "with the program's own Adam)", f"{whole}", whole.median >= SPEEDUP_ONE),
        Target("22", f"a batch of {BATCH} same-length names ≥ {SPEEDUP_BATCH:g}× eager gradtrace per name "
                     "(forward and backward)", f"{batch_ratio:.0f}×", batch_ratio >= SPEEDUP_BATCH),
        Target("22", f"compiled losses within {COMPILED_TOLERANCE:g} of eager gradtrace's, relative (every step, "
                     "and a batch's mean)", f"{max(worst, batch_loss):.2g}", max(worst, batch_loss) <= COMPILED_TOLERANCE),
    ]
    return "\n".join(lines), targets
