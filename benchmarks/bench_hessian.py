"""hessian's two paths, timed against each other: forward over reverse and reverse over reverse.

``autograd.hessian`` takes the gradient with ``create_graph=True`` once, then either
carries all n unit tangents forward through both graphs in one pass (forward over
reverse, as JAX's ``jacfwd(jacrev(f))``), or runs one reverse pass over the gradient's
graph per row (reverse over reverse). Both are timed here on Rosenbrock (n = 2) and on
a layer of tanh units with a chain of products (n = 3 to 30); the two must agree to
rounding. It picks forward over reverse above ``REVERSE_OVER_REVERSE_UP_TO`` inputs.

Run: ``python benchmarks/bench_hessian.py`` (one process; ``make bench`` runs three and
writes the section of benchmarks/RESULTS.md). Each case is timed for 0.2 s of CPU per
path, the paths alternating, five rounds: the median, in CPU milliseconds.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd  # noqa: E402
from autograd import Value, functional  # noqa: E402


def rosenbrock(x: Value, y: Value) -> Value:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def tanh_layer(n: int, width: int, seed: int = 0) -> Callable[..., Value]:
    rng = random.Random(seed)
    weights = [[rng.uniform(-1.0, 1.0) for _ in range(n)] for _ in range(width)]

    def f(*xs: Value) -> Value:
        units = autograd.sum([autograd.dot(w, list(xs)).tanh() for w in weights])
        return units + autograd.sum([a * a * b for a, b in zip(xs, xs[1:])])

    return f


def timed(fn: Callable[..., Value], xs: list[float], forward: bool, seconds: float) -> tuple[float, list[list[float]]]:
    """CPU milliseconds per hessian(fn, xs) on one path, over about ``seconds``, and the matrix."""
    functional.REVERSE_OVER_REVERSE_UP_TO = -1 if forward else 10**9
    reps, start = 0, time.process_time()
    while True:
        result = autograd.hessian(fn, xs)
        reps += 1
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return elapsed / reps * 1e3, result


def cases() -> list[tuple[str, int, Callable[..., Value], list[float]]]:
    rng = random.Random(1)
    found: list[tuple[str, int, Callable[..., Value], list[float]]] = [("Rosenbrock", 2, rosenbrock, [0.3, -0.4])]
    found += [(f"tanh layer, {w} units", n, tanh_layer(n, w), [rng.uniform(-1, 1) for _ in range(n)])
              for n, w in ((3, 3), (5, 5), (10, 10), (30, 20))]  # fmt: skip
    return found


def measure(rounds: int = 5, seconds: float = 0.2) -> list[dict[str, Any]]:
    """Per case: the median CPU ms of each path over ``rounds`` alternating rounds, and how far apart the matrices are."""
    saved = functional.REVERSE_OVER_REVERSE_UP_TO
    rows = []
    try:
        for name, n, fn, xs in cases():
            times: dict[bool, list[float]] = {True: [], False: []}
            results = {}
            for _ in range(rounds):
                for forward in (True, False):
                    ms, results[forward] = timed(fn, xs, forward, seconds)
                    times[forward].append(ms)
            apart = max(abs(a - b) for ra, rb in zip(results[True], results[False]) for a, b in zip(ra, rb))
            rows.append({"name": name, "n": n, "forward": statistics.median(times[True]),
                         "reverse": statistics.median(times[False]), "apart": apart})  # fmt: skip
    finally:
        functional.REVERSE_OVER_REVERSE_UP_TO = saved
    return rows


def markdown(repeats: int = 3) -> str:
    """The section of benchmarks/RESULTS.md: ``repeats`` fresh processes, the median of their medians."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, __file__, "--json"], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout))
    lines = [
        "## `hessian`: forward over reverse against reverse over reverse",
        "",
        "`autograd.hessian(fn, xs)` takes the gradient with `create_graph=True` once, then either carries all n unit"
        " tangents forward through both graphs in one pass (forward over reverse, as JAX's `jacfwd(jacrev(f))`) or"
        " runs one reverse pass over the gradient's graph per row (reverse over reverse). CPU milliseconds per"
        f" Hessian; each path timed for 0.2 s, the two alternating, five rounds a process, {repeats} fresh"
        " process(es): the median. It takes forward over reverse above"
        f" {functional.REVERSE_OVER_REVERSE_UP_TO} inputs.",
        "",
        "| function | n | forward over reverse (ms) | reverse over reverse (ms) | forward ÷ reverse | largest difference |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k, row in enumerate(runs[0]):
        fwd = statistics.median(run[k]["forward"] for run in runs)
        rev = statistics.median(run[k]["reverse"] for run in runs)
        apart = max(run[k]["apart"] for run in runs)
        lines.append(f"| {row['name']} | {row['n']} | {fwd:.3f} | {rev:.3f} | {fwd / rev:.2f}× | {apart:.1e} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if "--json" in sys.argv:
        print(json.dumps(measure()))
        return
    print(markdown(repeats=1))


if __name__ == "__main__":
    main()
