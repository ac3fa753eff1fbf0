"""The lecture notes' examples, end to end, computed by gradtrace (run by `make demo`).

Every number printed here comes out of the engine; the lectures' figures are
printed beside them for comparison.
"""

from __future__ import annotations

import autograd
from autograd import Value


def heading(title: str) -> None:
    print(f"\n== {title} ==")


def apple_price() -> None:
    heading("Computational graph: 100 won apples × 2 × tax 1.1 (lecture 003)")
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.backward()
    print(f"price = {price.data:.10g}                      (lecture: 220)")
    print(f"d price/d apple = {apple.grad:.10g}, d/d apple_num = {num.grad:.10g}, d/d tax = {tax.grad:.10g}"
          "   (lecture: 2.2 110 200)")


def apple_and_mandarin() -> None:
    heading("Apples and mandarins: (100 × 2 + 150 × 3) × 1.1 (lecture 003)")
    apple, apple_num = Value(100, label="apple"), Value(2, label="apple_num")
    orange, orange_num = Value(150, label="orange"), Value(3, label="orange_num")
    tax = Value(1.1, label="tax")
    price = (apple * apple_num + orange * orange_num) * tax
    price.backward()
    print(f"price = {price.data:.10g}                      (lecture: 715)")
    print(f"gradients: apple {apple.grad:.10g}, apple_num {apple_num.grad:.10g}, orange {orange.grad:.10g}, "
          f"orange_num {orange_num.grad:.10g}, tax {tax.grad:.10g}   (lecture: 2.2 110 3.3 165 650)")


def gates() -> None:
    heading("Perceptron gates with the lectures' weights: y = step(w·x + b) (lecture 003)")
    weights = {"AND": ([0.5, 0.5], -0.7), "NAND": ([-0.5, -0.5], 0.7), "OR": ([0.5, 0.5], -0.2)}

    def gate(name: str, x1: float, x2: float) -> int:
        w, b = weights[name]
        return int(autograd.dot(w, [x1, x2], bias=b).step().data)

    print("x1 x2 | AND NAND OR | XOR = AND(NAND, OR)")
    for x1, x2 in ((0, 0), (0, 1), (1, 0), (1, 1)):
        s1, s2 = gate("NAND", x1, x2), gate("OR", x1, x2)
        print(f" {x1}  {x2} |  {gate('AND', x1, x2)}    {s1}   {s2}  | {gate('AND', s1, s2)}")


def chain_rule() -> None:
    heading("Chain rule: z = t², t = x + y (lecture 003)")
    x, y = Value(3.0, label="x"), Value(2.0, label="y")
    t = x + y
    z = t**2
    z.backward()
    print(f"t = {t.data:g}, z = {z.data:g}; dz/dx = {x.grad:g} = 2t, dz/dy = {y.grad:g} = 2t")


def activations() -> None:
    heading("Activation derivatives, computed by backward (lectures 000, 003)")
    for x in (-4.0, -1.0, 0.0, 1.0, 4.0):
        s, t, r = Value(x), Value(x), Value(x)
        ys, yt, yr = s.sigmoid(), t.tanh(), r.relu()
        for y in (ys, yt, yr):
            y.backward()
        print(f"x = {x:+.1f}: sigmoid' = {s.grad:.4f} (y(1-y) = {ys.data * (1 - ys.data):.4f}), "
              f"tanh' = {t.grad:.4f} (1-y² = {1 - yt.data**2:.4f}), relu' = {r.grad:g}")
    print("sigmoid' is at most 0.25, at x = 0: the root of the vanishing gradient")


def vanishing_gradient() -> None:
    heading("Vanishing gradient: d out/d x through n stacked activations (weight 1)")
    print(" n | sigmoid          | tanh             | relu")
    for depth in (1, 5, 10, 20):
        grads = []
        for activation in ("sigmoid", "tanh", "relu"):
            x = Value(0.5)
            y = x
            for _ in range(depth):
                y = getattr(y, activation)()
            y.backward()
            grads.append(x.grad)
        print(f"{depth:2d} | {grads[0]:.3e}        | {grads[1]:.3e}        | {grads[2]:.3e}")


def softmax_cross_entropy() -> None:
    heading("Softmax + cross-entropy: the gradient on the logits is p - y (lecture 002)")
    logits = [Value(v, label=f"z{i}") for i, v in enumerate((2.0, 1.0, 0.1))]
    target = 0
    loss = -autograd.log_softmax(logits)[target]
    loss.backward()
    p = [v.data for v in autograd.softmax(logits)]
    print(f"p = {[round(v, 4) for v in p]}, loss = -log p[0] = {loss.data:.4f}")
    print(f"gradient = {[round(v.grad, 4) for v in logits]}; p - y = "
          f"{[round(pi - (i == target), 4) for i, pi in enumerate(p)]}")


def main() -> None:
    apple_price()
    apple_and_mandarin()
    gates()
    chain_rule()
    activations()
    vanishing_gradient()
    softmax_cross_entropy()


if __name__ == "__main__":
    main()
