"""Training with gradtrace's nn, end to end (run by `make demo`).

1. XOR, which no single perceptron can learn, by a small MLP through ``nn.fit``.
2. micrograd's demo: the moons data, ``MLP(2, [16, 16, 1])``, the max-margin loss
   plus 1e-4·Σp², full batch of 100, SGD with lr = 1.0 − 0.9·k/100, all 100 steps,
   written out as a loop so the learning-rate schedule shows.

Both show a progress bar (tqdm: text here, a widget in Jupyter) and print their accuracy.
"""

from __future__ import annotations

import random
import sys

from tqdm.auto import tqdm

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
    """micrograd's demo on gradtrace; return the accuracy at the last step."""
    heading(f"micrograd's moons demo: MLP(2, [16, 16, 1]), max-margin loss + 1e-4·L2, SGD, {steps} steps")
    X, y = nn.data.make_moons(n_samples=100, noise=0.1, seed=1337)
    rows, labels = X.tolist(), (2 * y - 1).tolist()  # labels ±1 for the max-margin loss
    random.seed(1337)  # the global generator, as micrograd's demo initialises its weights
    model = nn.MLP(2, [16, 16, 1])
    print(repr(model).splitlines()[0])
    optimizer = nn.SGD(model.parameters(), lr=1.0)
    accuracy = 0.0
    with tqdm(range(steps), desc="moons", unit="step") as bar:
        for k in bar:
            scores = [model(row) for row in rows]
            params = model.parameters()
            loss = nn.hinge_loss(scores, labels) + 1e-4 * autograd.dot(params, params)  # Σp² as one node
            optimizer.zero_grad()
            loss.backward()
            optimizer.lr = 1.0 - 0.9 * k / 100
            optimizer.step()
            accuracy = sum((s.data > 0) == (t > 0) for s, t in zip(scores, labels)) / len(labels)
            bar.set_postfix(loss=f"{loss.data:.4f}", accuracy=f"{accuracy:.0%}", refresh=False)
    sys.stderr.flush()
    print(f"moons: loss {loss.data:.4f} after {steps} steps, accuracy {accuracy:.0%}")
    return accuracy


def main(xor_epochs: int = 200, moons_steps: int = 100) -> None:
    xor(xor_epochs)
    moons(moons_steps)


if __name__ == "__main__":
    main()
