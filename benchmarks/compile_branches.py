"""What ``autograd.compile``'s tracing and branch patterns cost, printed as a Markdown table.

Run: ``python benchmarks/compile_branches.py`` (about a minute). CPU time of this process,
the best of 3 repetitions; the machine's load moves the figures, the ratios less.

- the first call of an MNIST-sized MLP (784-128-10 and 784-256-256-10, batch 64 of
  random rows, cross-entropy): tracing one sample and building its tape, then the batch;
- moons (100 samples), ``MLP(2, [w, w, 1])`` with hinge loss: the hidden activation as
  the ``relu`` op against ReLU written with a Python ``if`` on ``.data`` (a guard per
  hidden unit, each branch pattern replayed by a tape of its own).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's autograd

import autograd  # noqa: E402
import nn  # noqa: E402


def best_ms(call: Callable[[], object], n: int) -> float:
    call()
    times = []
    for _ in range(3):
        start = time.process_time()
        for _ in range(n):
            call()
        times.append((time.process_time() - start) / n * 1000)
    return min(times)


def first_call(sizes: list[int]) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    model = nn.MLP(784, [*sizes, 10], rng=random.Random(0))
    X, t = rng.normal(size=(64, 784)), rng.integers(0, 10, 64)
    step = autograd.compile(lambda x, t: nn.cross_entropy(model(x), t), model.parameters())
    start = time.process_time()
    step.backward(X, t)
    return time.process_time() - start, step.trace_seconds


def main() -> None:
    print("| model | first call (s) | of which tracing (s) |")
    print("| --- | ---: | ---: |")
    for sizes in ([128], [256, 256]):
        total, tracing = first_call(sizes)
        print(f"| 784-{'-'.join(map(str, sizes))}-10, batch 64 | {total:.2f} | {tracing:.2f} |")
    print()
    X, y = nn.data.make_moons(100, noise=0.1, seed=0)
    labels = (2 * np.asarray(y) - 1).astype(np.int64)
    print("| moons, hinge | activation | branch patterns | first call (ms) | step.backward (ms) | ÷ relu op |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for width in (4, 8):
        relu_ms = None
        for how in ("relu op", "if on .data"):
            model = nn.MLP(2, [width, width, 1], rng=random.Random(2))
            if how != "relu op":
                for layer in model.layers[:-1]:
                    layer._activate = lambda v: v if v.data > 0 else 0.0 * v
            step = autograd.compile(lambda x, t: nn.hinge_loss(model(x), t), model.parameters())  # noqa: B023
            start = time.process_time()
            step.backward(X, labels)
            first = (time.process_time() - start) * 1000
            ms = best_ms(lambda: step.backward(X, labels), 50)  # noqa: B023
            relu_ms = relu_ms or ms
            print(f"| MLP(2, [{width}, {width}, 1]) | {how} | {step.patterns} | {first:.0f} | {ms:.2f} | {ms / relu_ms:.1f}× |")


if __name__ == "__main__":
    main()
