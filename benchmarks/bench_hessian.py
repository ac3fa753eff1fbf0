"""hessian's two paths, timed against each other: forward over reverse and reverse over reverse.

``autograd.hessian`` takes the gradient with ``create_graph=True`` once, then either
carries all n unit tangents forward through both graphs in one pass (forward over
reverse, as JAX's ``jacfwd(jacrev(f))``), or runs one reverse pass over the gradient's
graph per row (reverse over reverse). Both are timed here on Rosenbrock (n = 2) and on
a layer of tanh units with a chain of products (n = 3 to 30); the two must agree to
rounding. It picks forward over reverse above ``REVERSE_OVER_REVERSE_UP_TO`` inputs.

Run: ``python benchmarks/bench_hessian.py`` (each case timed for about a second per
path, the paths alternating; the median of five rounds, in milliseconds).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
    functional.REVERSE_OVER_REVERSE_UP_TO = -1 if forward else 10**9
    reps, start = 0, time.perf_counter()
    while True:
        result = autograd.hessian(fn, xs)
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / reps * 1e3, result


def main() -> None:
    saved = functional.REVERSE_OVER_REVERSE_UP_TO
    rng = random.Random(1)
    cases = [("Rosenbrock", 2, rosenbrock, [0.3, -0.4])]
    cases += [(f"tanh layer, {w} units", n, tanh_layer(n, w), [rng.uniform(-1, 1) for _ in range(n)])
              for n, w in ((3, 3), (5, 5), (10, 10), (30, 20))]  # fmt: skip
    print("| function | n | forward over reverse (ms) | reverse over reverse (ms) | ratio | largest difference |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    try:
        for name, n, fn, xs in cases:
            times: dict[bool, list[float]] = {True: [], False: []}
            results = {}
            for _ in range(5):
                for forward in (True, False):
                    ms, results[forward] = timed(fn, xs, forward, 0.2)
                    times[forward].append(ms)
            fwd, rev = statistics.median(times[True]), statistics.median(times[False])
            apart = max(abs(a - b) for ra, rb in zip(results[True], results[False]) for a, b in zip(ra, rb))
            print(f"| {name} | {n} | {fwd:.3f} | {rev:.3f} | {fwd / rev:.2f} | {apart:.1e} |")
    finally:
        functional.REVERSE_OVER_REVERSE_UP_TO = saved


if __name__ == "__main__":
    main()
