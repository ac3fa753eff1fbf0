"""Training with gradtrace's nn, end to end (run by `make demo`).

1. XOR, which no single perceptron can learn, by a small MLP through ``nn.fit``.
2. micrograd's demo: the moons data, ``MLP(2, [16, 16, 1])``, the max-margin loss
   plus 1e-4·Σp², full batch of 100, SGD with lr = 1.0 − 0.9·k/100 (``nn.LRSchedule``,
   a callback of ``nn.fit``), all 100 steps.

Both report their progress (a tqdm bar in a terminal, a widget in Jupyter, a line every
few epochs in a log) and print their accuracy.
"""

from __future__ import annotations

import random
import sys

import autograd
import nn


def heading(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def xor(epochs: int = 200) -> float:
    """Train a 2-4-1 MLP (tanh, sigmoid output) on XOR with BCE and Adam; return its accuracy."""
    heading("XOR with nn.fit: MLP(2, [4, 1]), tanh then sigmoid, BCE, Adam(lr=0.1)")
    X, y = nn.data.logic_gate("xor")
    model = nn.MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", rng=random.Random(0))
    history = nn.fit(model, X, y, loss="bce", optimizer="adam", lr=0.1, epochs=epochs)
    sys.stderr.flush()
    print(" x1 x2 | target | output")
    right = 0
    for row, target in zip(X.tolist(), y.tolist()):
        output = model(row).data
        right += (output > 0.5) == bool(target)
        print(f"  {row[0]:.0f}  {row[1]:.0f} |   {target}    | {output:.3f}")
    accuracy = right / len(y)
    print(f"XOR: loss {history.loss[-1]:.4f} after {epochs} epochs, accuracy {accuracy:.0%}")
    return accuracy


def moons(steps: int = 100) -> float:
    """micrograd's demo on gradtrace, through nn.fit; return the accuracy at the last step."""
    heading(f"micrograd's moons demo: MLP(2, [16, 16, 1]), max-margin loss + 1e-4·L2, SGD, {steps} steps")
    X, y = nn.data.make_moons(n_samples=100, noise=0.1, seed=1337)
    labels = (2 * y - 1).tolist()  # labels ±1 for the max-margin loss
    random.seed(1337)  # the global generator, as micrograd's demo initialises its weights
    model = nn.MLP(2, [16, 16, 1])
    print(repr(model).splitlines()[0])
    params = model.parameters()

    def loss(scores: list[autograd.Value], targets: list[int]) -> autograd.Value:
        return nn.hinge_loss(scores, targets) + 1e-4 * autograd.dot(params, params)  # Σp² as one node

    schedule = nn.LRSchedule(lambda k: 1.0 - 0.9 * k / 100)  # micrograd's learning rate at step k
    # full batch: one epoch is one step; a callable loss runs eagerly (compiled=False: no warning about it)
    history = nn.fit(model, X, labels, loss=loss, optimizer=nn.SGD(params, lr=1.0), epochs=steps, callbacks=[schedule],
                     compiled=False)
    sys.stderr.flush()
    print(f"moons: loss {history.loss[-1]:.4f} after {steps} steps, accuracy {history.accuracy[-1]:.0%}")
    return history.accuracy[-1]


def main(xor_epochs: int = 200, moons_steps: int = 100) -> None:
    xor(xor_epochs)
    moons(moons_steps)


if __name__ == "__main__":
    main()
