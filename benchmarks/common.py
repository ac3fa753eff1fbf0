"""What every workload shares: timing under a garbage-collector setting, statistics over
repetitions, ratios, target verdicts and Markdown tables.

Imports only the standard library, so that a worker process holds nothing but the
harness and the one engine it measures.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# One thread for NumPy's BLAS too, as for PyTorch (load_torch) and the Python engines: set
# before any worker imports NumPy (workers inherit it). OpenBLAS's threads also cost CPU
# time: on a busy 2-core machine a (1797, 64) @ (64, 32) product took 3.8 ms of CPU time
# with its 2 threads, 0.2 ms with one.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

# results[(engine, collect_garbage)] is the list of what measure() returned, one per repetition
Results = dict[tuple[str, bool], list[dict[str, Any]]]

GC_NAMES = {True: "on (Python's default)", False: "off"}


class Collector:
    """A run's collector setting: ``with Collector(collect_garbage) as collector:``, and
    ``collector.fresh()`` before each timed region.

    On: Python's default, untouched; the engine pays for its own collections when
    Python decides to run them. Off: the collector is off for the whole run, and
    ``fresh()`` runs a full collection (untimed, so that each timed region starts with
    no garbage). It is not switched back on between regions: the first allocation after
    ``gc.enable()`` would set off a collection of every object made while it was off,
    the live graph included (0.45 s a step of micrograd's demo, untimed but tripling
    the length of its runs). Workloads collect once after their set-up in both settings.
    """

    def __init__(self, collect_garbage: bool) -> None:
        self.collect_garbage = collect_garbage

    def __enter__(self) -> Collector:
        if not self.collect_garbage:
            gc.disable()
        return self

    def fresh(self) -> None:
        if not self.collect_garbage:
            gc.collect()

    def __exit__(self, *exc: object) -> None:
        if not self.collect_garbage:
            gc.enable()


def cpu_time() -> float:
    """CPU seconds of this process: other programs on a shared machine do not count."""
    return time.process_time()


def load_torch() -> Any:
    """PyTorch on one thread, as the Python engines have one core each."""
    import torch

    torch.set_num_threads(1)
    return torch


def load_jax() -> Any:
    """JAX on the CPU in float64, on one thread (XLA's Eigen pool and intra-op threads off),
    as PyTorch and the Python engines have one core each. Set before JAX is first imported."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    if flags not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def jax_mlp(jax: Any, params: Any, X: Any) -> Any:
    """The JAX anchors' MLP: X @ W.T + b per layer, ReLU between layers, logits out."""
    h = X
    for i, (W, b) in enumerate(params):
        h = h @ W.T + b
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h


def in_big_stack(fn: Callable[[], Any]) -> Any:
    """Run fn in a thread with a 1 GiB stack and a recursion limit of 10^7.

    micrograd's backward sorts the graph recursively; every engine of a workload that
    needs this runs under the same settings.
    """
    result: list[Any] = []
    errors: list[BaseException] = []
    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size(1 << 30)
    sys.setrecursionlimit(10**7)

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    try:
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    if errors:
        raise errors[0]
    return result[0]


# --- statistics over repetitions -------------------------------------------------


def total(measurement: dict[str, Any], phase: str | None = None) -> float:
    """Seconds of one repetition: one phase, or the sum of all its phases."""
    seconds = measurement["seconds"]
    return seconds[phase] if phase is not None else sum(seconds.values())


def seconds(results: Results, engine: str, collect_garbage: bool, phase: str | None = None) -> list[float]:
    """Seconds of each repetition, in the order they ran."""
    return [total(m, phase) for m in results[(engine, collect_garbage)]]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class Ratio:
    """How many times `slower` took as long as `faster`: medians, and each repetition's own ratio."""

    median: float
    low: float
    high: float
    repeats: int

    def __str__(self) -> str:
        if self.repeats < 2:
            return f"{times(self.median)}×"
        return f"{times(self.median)}× ({times(self.low)}–{times(self.high)}×)"


def times(x: float) -> str:
    """A ratio to one decimal, or to three significant digits below 1 (0.0172)."""
    return f"{x:.1f}" if x >= 1 else f"{x:.3g}"


def ratio(results: Results, slower: str, faster: str, collect_garbage: bool, phase: str | None = None) -> Ratio:
    """slower's median time over faster's, both from this run.

    Repetition i of every engine ran in the same round (the harness interleaves
    engines), so the per-repetition ratios pair measurements taken close in time;
    their range is the spread.
    """
    a = seconds(results, slower, collect_garbage, phase)
    b = seconds(results, faster, collect_garbage, phase)
    pairs = [x / y for x, y in zip(a, b, strict=True)]
    return Ratio(median(a) / median(b), min(pairs), max(pairs), len(pairs))


def spread(values: Sequence[float], scale: float, digits: int) -> str:
    """Median and, over several repetitions, the range: '27.6 (27.1–29.0)'."""
    middle = f"{median(values) * scale:.{digits}f}"
    if len(values) < 2:
        return middle
    return f"{middle} ({min(values) * scale:.{digits}f}–{max(values) * scale:.{digits}f})"


# --- targets and tables ----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A goal and what this run measured against it (``issue``: where the goal was set, for the
    code's readers; the report shows the goal alone)."""

    issue: str
    goal: str
    measured: str
    met: bool

    def row(self) -> str:
        verdict = "**met**" if self.met else "**missed**"
        return f"| {self.goal} | {self.measured} | {verdict} |"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1, align: str = "") -> list[str]:
    """A Markdown table; columns from `right_from` on are right-aligned (numbers), unless
    `align` spells each column out ("lrrl")."""
    align = align or "l" * right_from + "r" * (len(header) - right_from)
    marks = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(cells) + " |" for cells in (header, marks, *rows)]


def timing_table(
    results: Results, engines: Sequence[str], phases: Sequence[str], unit: str, scale: float, digits: int
) -> list[str]:
    """Per collector setting and phase, each engine's median time (and range), then the
    other engines' ratio to the first engine (gradtrace), e.g. micrograd / gradtrace."""
    subject, others = engines[0], engines[1:]
    header = ["collector", "phase", *(f"{e} ({unit})" for e in engines), *(f"{e} ÷ {subject}" for e in others)]
    rows = []
    for collect_garbage in (True, False):
        if (subject, collect_garbage) not in results:
            continue
        for phase in (*phases, None):
            bold = "**" if phase is None else ""
            cells = [GC_NAMES[collect_garbage], f"{bold}{phase or 'total'}{bold}"]
            cells += [spread(seconds(results, e, collect_garbage, phase), scale, digits) for e in engines]
            cells += [f"{bold}{ratio(results, e, subject, collect_garbage, phase)}{bold}" for e in others]
            rows.append(cells)
    return table(header, rows, right_from=2)


# --- the compiled engine (issue 11) -----------------------------------------------


def relative_difference(values: Sequence[float], reference: Sequence[float]) -> float:
    """Largest |a − b| over the largest |b|: differences on the reference's scale (a gradient
    that cancels to 1e-18 in one engine and 3e-18 in the other is not a 200% error)."""
    scale = max(abs(b) for b in reference)
    worst = max(abs(a - b) for a, b in zip(values, reference, strict=True))
    return worst / scale if scale else worst


def jax_backend_section(results: Results, engines: Sequence[str]) -> tuple[list[str], list[Target]]:
    """The compiled step run by JAX (``backend="jax"``) beside hand-written JAX: a sentence and
    its target, when both engines ran (else nothing)."""
    if "jax" not in engines or "compiled_jax" not in engines:
        return [], []
    on, off = ratio(results, "compiled_jax", "jax", True), ratio(results, "compiled_jax", "jax", False)
    lines = [f"gradtrace compiled, backend jax (`autograd.compile(..., backend=\"jax\")`: the tape's forward and "
             f"backward as one `jax.jit` program, the optimizer's update in NumPy) takes **{on}** JAX jit's time "
             f"with the collector on and {off} with it off.", ""]
    target = Target("18", "compiled, backend jax, within 1.2× of hand-written JAX (collector on)", str(on), on.median <= 1.2)
    return lines, [target]


def compile_times(runs: Sequence[dict[str, Any]]) -> list[str]:
    """A table of what ``autograd.compile`` cost in the runs' processes: each run's first call
    (the warm-up's: cold caches, lazy imports) and its second (the measured step's)."""
    rows = []
    for i, name in enumerate(("first in a process", "second (the timed step's)")):
        calls = [run["compiles"][i] for run in runs if len(run["compiles"]) > i]
        if not calls:
            continue
        cells = [name] + [spread([call[key] for call in calls], 1e3, 2) for key in ("seconds", "trace", "fuse")]
        rows.append(cells + [str(calls[0]["groups"])])
    return table(["`autograd.compile` call", "CPU ms", "tracing (ms)", "fusing (ms)", "fused groups"], rows)
