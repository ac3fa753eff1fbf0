"""The notebooks' exercises, their solutions and typical mistakes.

Expected numbers are computed here (with plain Python or the engine), not typed in, where the
exercise's quantity is a computation; a filled-in function is judged by running it on inputs.
"""

from __future__ import annotations

import math
import random
from typing import Any

from course.checker import Exercise, number_close, numbers_close, register

INPUTS = [(0, 0), (0, 1), (1, 0), (1, 1)]


def _step(s: float) -> int:
    return 1 if s > 0 else 0


def _sign(s: float) -> int:
    return 1 if s >= 0 else -1


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _gate(weights: Any, table: list[int], activation=_step) -> bool:
    w1, w2, b = (float(v) for v in weights)
    return [activation(w1 * x1 + w2 * x2 + b) for x1, x2 in INPUTS] == table


def _derivative_matches(candidate, f, points, tolerance: float = 1e-6) -> bool:
    """candidate(g, x) against g · f'(x) by central differences at each point, for g = 1 and g = 0.5."""
    h = 1e-6
    for x in points:
        slope = (f(x + h) - f(x - h)) / (2 * h)
        for g in (1.0, 0.5):
            if not math.isclose(float(candidate(g, x)), g * slope, rel_tol=tolerance, abs_tol=tolerance):
                return False
    return True


# ---------------------------------------------------------------- 01 perceptron

register(Exercise(
    "01.nand_sum",
    judge=number_close(-0.5 * 1 + -0.5 * 1 + 0.7),
    hint={"en": "w·x + b with w = (−0.5, −0.5), x = (1, 1), b = 0.7: add the two products and the bias.",
          "ko": "w = (−0.5, −0.5), x = (1, 1), b = 0.7일 때 w·x + b: 두 곱과 편향을 더하세요."},
    solution=lambda: -0.3,
    mistakes=lambda: [0.3, -1.0, 0.7],
))

register(Exercise(
    "01.nor_weights",
    judge=lambda answer: _gate(answer, [1, 0, 0, 0]),
    hint={"en": "NOR = NOT OR fires only at (0, 0): the bias alone must be positive, and each weight must pull the sum below 0.",
          "ko": "NOR = NOT OR은 (0, 0)에서만 1입니다: 편향만으로는 양수, 각 가중치는 합을 0 아래로 끌어내려야 합니다."},
    solution=lambda: (-0.5, -0.5, 0.2),
    mistakes=lambda: [(0.5, 0.5, -0.2), (-0.5, -0.5, 0.7), (-0.5, -0.5, -0.2)],
))


def _one_update() -> tuple[float, float, float]:
    # notes 002's start b = −0.4, w = (0.6, 0.6), η = 0.05, ±1 labels; the sample (0, 1) with y = −1
    b, w1, w2, eta, x, y = -0.4, 0.6, 0.6, 0.05, (0, 1), -1
    o = _sign(b + w1 * x[0] + w2 * x[1])
    delta = eta * (y - o)
    return b + delta, w1 + delta * x[0], w2 + delta * x[1]


register(Exercise(
    "01.rule_step",
    judge=numbers_close(list(_one_update()), rel=1e-9, abs_=1e-9),
    hint={"en": "First the output o = φ(−0.4 + 0.6·0 + 0.6·1). Then each weight moves by η(y − o)xᵢ, the bias by η(y − o)·1.",
          "ko": "먼저 출력 o = φ(−0.4 + 0.6·0 + 0.6·1)을 구하세요. 각 가중치는 η(y − o)xᵢ만큼, 편향은 η(y − o)·1만큼 바뀝니다."},
    solution=lambda: (-0.5, 0.6, 0.5),
    mistakes=lambda: [(-0.4, 0.6, 0.6), (-0.45, 0.6, 0.55), (-0.5, 0.5, 0.6)],
))

# ---------------------------------------------------------------- 02 MLP and XOR

register(Exercise(
    "02.param_count",
    judge=lambda n: isinstance(n, int) and n == (3 + 1) * 5 + (5 + 1) * 2,
    hint={"en": "(d+1)·h + (h+1)·c with d = 3 inputs, h = 5 hidden units, c = 2 outputs: the +1 is each layer's bias.",
          "ko": "입력 d = 3, 은닉 노드 h = 5, 출력 c = 2일 때 (d+1)·h + (h+1)·c. +1은 각 층의 편향입니다."},
    solution=lambda: 32,
    mistakes=lambda: [25, 30, 3 * 5 + 5 * 2],
))

register(Exercise(
    "02.hidden_at_11",
    judge=lambda answer: tuple(answer) == (0, 1),
    hint={"en": "s₁ = NAND(1, 1) and s₂ = OR(1, 1): work out −0.5 − 0.5 + 0.7 and 0.5 + 0.5 − 0.2, then the step.",
          "ko": "s₁ = NAND(1, 1), s₂ = OR(1, 1): −0.5 − 0.5 + 0.7과 0.5 + 0.5 − 0.2를 계산한 뒤 계단 함수를 적용하세요."},
    solution=lambda: (0, 1),
    mistakes=lambda: [(1, 1), (0, 0), (1, 0)],
))


def _xor_sign_network(v: Any) -> bool:
    v0, v1, v2 = (float(x) for x in v)
    outputs = []
    for x1, x2 in INPUTS:
        a1 = _sign(-0.4 + 0.6 * x1 + 0.6 * x2)  # OR in ±1
        a2 = _sign(0.6 - 0.5 * x1 - 0.5 * x2)  # NAND in ±1
        outputs.append(_sign(v0 + v1 * a1 + v2 * a2))
    return outputs == [-1, 1, 1, -1]


register(Exercise(
    "02.xor_output",
    judge=_xor_sign_network,
    hint={"en": "The output must fire only when both hidden units are +1 (an AND of a₁ and a₂): both v₁ and v₂ positive, v₀ negative enough.",
          "ko": "두 은닉 노드가 모두 +1일 때만 출력이 1이어야 합니다 (a₁과 a₂의 AND). v₁, v₂는 양수, v₀는 충분히 작은 음수."},
    solution=lambda: (-0.4, 0.6, 0.6),
    mistakes=lambda: [(-0.4, 0.6, -0.6), (0.4, 0.6, 0.6), (-2.0, 0.6, 0.6)],
))

# ---------------------------------------------------------------- 03 activations and losses

register(Exercise(
    "03.sigmoid_slope",
    judge=number_close(_sigmoid(0) * (1 - _sigmoid(0)), rel=1e-9),
    hint={"en": "σ′(x) = σ(x)(1 − σ(x)), and σ(0) = 1/(1 + e⁰).",
          "ko": "σ′(x) = σ(x)(1 − σ(x))이고 σ(0) = 1/(1 + e⁰)입니다."},
    solution=lambda: 0.25,
    mistakes=lambda: [0.5, 1.0, 0.0],
))

register(Exercise(
    "03.tanh_local",
    judge=lambda f: _derivative_matches(lambda g, x: g * f(math.tanh(x)), lambda x: math.tanh(x), [-2.0, -0.3, 0.0, 0.7, 1.9]),
    hint={"en": "Notes 003's tanh node: ∂y/∂x written with the output y itself, no x needed.",
          "ko": "노트 003의 tanh 노드의 역전파: ∂y/∂x를 출력 y만으로 쓰세요."},
    solution=lambda: (lambda y: 1 - y**2),
    mistakes=lambda: [(lambda y: y * (1 - y)), (lambda y: 1 - y), (lambda y: 1 + y**2)],
))

register(Exercise(
    "03.five_sigmoids",
    judge=number_close(0.25**5, rel=1e-6),
    hint={"en": "Each sigmoid layer multiplies the gradient by at most σ′'s largest value (weights 1). Five layers: five such factors.",
          "ko": "가중치가 1이면 시그모이드 층 하나가 기울기에 곱하는 값은 많아야 σ′의 최댓값입니다. 다섯 층이면 그 값을 다섯 번 곱합니다."},
    solution=lambda: 0.25**5,
    mistakes=lambda: [0.25 * 5, 0.25, 0.5**5],
))

# ---------------------------------------------------------------- 04 computational graph


def _apple_graph():
    from autograd import Value

    apple, apple_num, tax = Value(100.0), Value(2.0), Value(1.1)
    price = apple * apple_num * tax
    price.backward()
    return apple, apple_num, tax


register(Exercise(
    "04.apple_grad",
    judge=lambda answer: number_close(_apple_graph()[0].grad, rel=1e-6)(answer),
    hint={"en": "Right to left: the tax node sends back 1 × 1.1; the apple node then multiplies by the other input of its ×, the number of apples.",
          "ko": "오른쪽에서 왼쪽으로: 소비세 노드가 1 × 1.1을 보내고, 사과 노드는 곱셈의 다른 입력(사과 개수)을 곱합니다."},
    solution=lambda: 2.2,
    mistakes=lambda: [2.0, 1.1, 110.0, 220.0],
))

register(Exercise(
    "04.add_passes",
    judge=number_close(1.1, rel=1e-9),
    hint={"en": "An add node passes the upstream gradient through unchanged; what comes into all_price from the tax node?",
          "ko": "덧셈 노드는 상류의 기울기를 그대로 전달합니다. 소비세 노드에서 all_price로 오는 값은?"},
    solution=lambda: 1.1,
    mistakes=lambda: [1.0, 3.3, 650.0],
))

register(Exercise(
    "04.partial",
    judge=numbers_close([2 * 1.0 + 2.0, 2 * 2.0 + 1.0], rel=1e-9),
    hint={"en": "Hold y fixed and differentiate x² + xy + y² in x (then the other way round), at x = 1, y = 2.",
          "ko": "y를 상수로 두고 x² + xy + y²를 x로 미분하세요 (그다음 반대로). x = 1, y = 2에서."},
    solution=lambda: (4.0, 5.0),
    mistakes=lambda: [(2.0, 4.0), (5.0, 4.0), (3.0, 3.0)],
))

register(Exercise(
    "04.twice_used",
    judge=number_close(2 * 3.0 + 1, rel=1e-9),
    hint={"en": "b = a·a + a uses a three times: once on each side of × (each sends back the other input, a) and once through +. Add all three.",
          "ko": "b = a·a + a에서 a는 세 번 쓰입니다: 곱셈의 양쪽(각각 다른 입력 a를 보냄)과 덧셈. 세 값을 모두 더하세요."},
    solution=lambda: 7.0,
    mistakes=lambda: [4.0, 3.0, 6.0, 1.0],
))

register(Exercise(
    "04.cube_local",
    judge=lambda f: _derivative_matches(f, lambda x: x**3, [-1.5, -0.2, 0.5, 2.0]),
    hint={"en": "Two factors: the local derivative dy/dx of y = x³ (the power rule), times the upstream gradient g.",
          "ko": "두 인수의 곱입니다: y = x³의 국소적 미분 dy/dx (거듭제곱의 미분)와 상류의 기울기 g."},
    solution=lambda: (lambda g, x: g * 3 * x**2),
    mistakes=lambda: [(lambda g, x: 3 * x**2), (lambda g, x: g * x**3), (lambda g, x: g * 3 * x)],
))

# ---------------------------------------------------------------- 05 backprop by hand

A1, W1, W2, Y = [0.05, 0.10], [[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]], [0.01, 0.99]


def _network_222() -> dict[str, Any]:
    """notes 000's 2-2-2 sigmoid network with notebook 05's numbers: activations and deltas, by the formulas."""
    a2 = [_sigmoid(W1[j][0] * A1[0] + W1[j][1] * A1[1]) for j in range(2)]
    a3 = [_sigmoid(W2[j][0] * a2[0] + W2[j][1] * a2[1]) for j in range(2)]
    d3 = [(a3[j] - Y[j]) * a3[j] * (1 - a3[j]) for j in range(2)]
    d2 = [(d3[0] * W2[0][j] + d3[1] * W2[1][j]) * a2[j] * (1 - a2[j]) for j in range(2)]
    return {"a2": a2, "a3": a3, "d3": d3, "d2": d2}


register(Exercise(
    "05.delta2_2",
    judge=lambda answer: number_close(_network_222()["d2"][1])(answer),
    hint={"en": "δ₂⁽²⁾ = (δ₁⁽³⁾w₁₂⁽²⁾ + δ₂⁽³⁾w₂₂⁽²⁾) · a₂⁽²⁾(1 − a₂⁽²⁾): the weights out of hidden unit 2 are w₁₂⁽²⁾ = 0.45 and w₂₂⁽²⁾ = 0.55.",
          "ko": "δ₂⁽²⁾ = (δ₁⁽³⁾w₁₂⁽²⁾ + δ₂⁽³⁾w₂₂⁽²⁾) · a₂⁽²⁾(1 − a₂⁽²⁾): 은닉 노드 2에서 나가는 가중치는 w₁₂⁽²⁾ = 0.45, w₂₂⁽²⁾ = 0.55입니다."},
    solution=lambda: _network_222()["d2"][1],
    mistakes=lambda: [_network_222()["d2"][0],
                      (lambda n: (n["d3"][0] * W2[1][0] + n["d3"][1] * W2[1][1]) * n["a2"][1] * (1 - n["a2"][1]))(_network_222()),
                      (lambda n: n["d3"][0] * W2[0][1] + n["d3"][1] * W2[1][1])(_network_222())],
))

register(Exercise(
    "05.grad_w12",
    judge=lambda answer: number_close(_network_222()["d3"][0] * _network_222()["a2"][1])(answer),
    hint={"en": "∂J/∂wⱼᵢ⁽²⁾ = δⱼ⁽³⁾ aᵢ⁽²⁾: for w₁₂⁽²⁾, j = 1 (the output it feeds) and i = 2 (the hidden unit it comes from).",
          "ko": "∂J/∂wⱼᵢ⁽²⁾ = δⱼ⁽³⁾ aᵢ⁽²⁾: w₁₂⁽²⁾는 j = 1 (들어가는 출력 노드), i = 2 (나오는 은닉 노드)."},
    solution=lambda: _network_222()["d3"][0] * _network_222()["a2"][1],
    mistakes=lambda: [_network_222()["d3"][0] * _network_222()["a2"][0], _network_222()["d3"][1] * _network_222()["a2"][0]],
))

register(Exercise(
    "05.update_w11",
    judge=lambda answer: number_close(W2[0][0] - 0.5 * _network_222()["d3"][0] * _network_222()["a2"][0], rel=1e-6)(answer),
    hint={"en": "w ← w − η ∂J/∂w with η = 0.5: start from w₁₁⁽²⁾ = 0.40 and subtract half of δ₁⁽³⁾a₁⁽²⁾.",
          "ko": "η = 0.5로 w ← w − η ∂J/∂w: w₁₁⁽²⁾ = 0.40에서 δ₁⁽³⁾a₁⁽²⁾의 절반을 빼세요."},
    solution=lambda: W2[0][0] - 0.5 * _network_222()["d3"][0] * _network_222()["a2"][0],
    mistakes=lambda: [W2[0][0] + 0.5 * _network_222()["d3"][0] * _network_222()["a2"][0],
                      W2[0][0] - _network_222()["d3"][0] * _network_222()["a2"][0]],
))

# ---------------------------------------------------------------- 06 training loops


def _sgd_update_ok(update) -> bool:
    weights, grads = [0.5, -1.0, 2.0], [0.1, -0.4, 0.0]
    got = update(list(weights), list(grads), 0.1)
    return len(got) == 3 and all(math.isclose(g, w - 0.1 * d, abs_tol=1e-12) for g, w, d in zip(got, weights, grads))


register(Exercise(
    "06.sgd_update",
    judge=_sgd_update_ok,
    hint={"en": "Gradient descent steps against the gradient: each new weight is the old one minus lr times its gradient.",
          "ko": "경사하강법은 기울기의 반대 방향으로 갑니다: 새 가중치 = 이전 가중치 − 학습률 × 기울기."},
    solution=lambda: (lambda w, g, lr: [wi - lr * gi for wi, gi in zip(w, g)]),
    mistakes=lambda: [(lambda w, g, lr: [wi + lr * gi for wi, gi in zip(w, g)]), (lambda w, g, lr: [wi - gi for wi, gi in zip(w, g)])],
))

register(Exercise(
    "06.mse_slope",
    judge=number_close(2 * (0.8 - 1.0) / 4, rel=1e-9),
    hint={"en": "mse = (1/N) Σ (oᵢ − yᵢ)²; the derivative in one output is 2(oᵢ − yᵢ)/N, with N = 4 samples.",
          "ko": "mse = (1/N) Σ (oᵢ − yᵢ)²이므로 한 출력에 대한 미분은 2(oᵢ − yᵢ)/N, N = 4입니다."},
    solution=lambda: -0.1,
    mistakes=lambda: [-0.2, -0.4, 0.1],
))


def _logistic_gradient_ok(gradient) -> bool:
    rng = random.Random(3)
    X = [[1.0, rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(6)]
    y = [rng.randint(0, 1) for _ in range(6)]
    w = [rng.uniform(-1, 1) for _ in range(3)]
    p = [_sigmoid(sum(wj * xj for wj, xj in zip(w, x))) for x in X]
    expected = [-sum((yi - pi) * x[j] for yi, pi, x in zip(y, p, X)) for j in range(3)]
    got = list(gradient(w, X, y))
    return len(got) == 3 and all(math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-12) for g, e in zip(got, expected))


register(Exercise(
    "06.logistic_gradient",
    judge=_logistic_gradient_ok,
    hint={"en": "Notes 002: ∂J/∂wⱼ = −Σᵢ (y⁽ⁱ⁾ − p⁽ⁱ⁾) xⱼ⁽ⁱ⁾ with p⁽ⁱ⁾ = σ(wᵀx⁽ⁱ⁾); mind the minus sign and the sum over samples.",
          "ko": "노트 002: ∂J/∂wⱼ = −Σᵢ (y⁽ⁱ⁾ − p⁽ⁱ⁾) xⱼ⁽ⁱ⁾, p⁽ⁱ⁾ = σ(wᵀx⁽ⁱ⁾). 부호와 샘플에 대한 합에 주의하세요."},
    solution=lambda: (lambda w, X, y: [-sum((yi - _sigmoid(sum(a * b for a, b in zip(w, x)))) * x[j] for x, yi in zip(X, y))
                                       for j in range(len(w))]),
    mistakes=lambda: [(lambda w, X, y: [sum((yi - _sigmoid(sum(a * b for a, b in zip(w, x)))) * x[j] for x, yi in zip(X, y))
                                        for j in range(len(w))])],
))

# ---------------------------------------------------------------- 07 matrix form

register(Exercise(
    "07.grad_shape",
    judge=lambda shape: tuple(shape) == (3, 4),
    hint={"en": "∂J/∂W has W's shape: z = W a maps 4 activations to 3 units, so W (and δ aᵀ, a column times a row) is units × inputs.",
          "ko": "∂J/∂W의 모양은 W와 같습니다. z = W a가 활성값 4개를 노드 3개로 보내므로 W (그리고 열 × 행인 δ aᵀ)는 노드 수 × 입력 수."},
    solution=lambda: (3, 4),
    mistakes=lambda: [(4, 3), (3, 1), (4, 4)],
))


def _arrays_ok(candidate, reference) -> bool:
    import numpy as np

    rng = np.random.default_rng(7)
    for h, c in ((2, 2), (4, 3)):
        W2 = rng.normal(size=(c, h))
        delta3 = rng.normal(size=c)
        a2 = rng.uniform(0.05, 0.95, size=h)
        a1 = rng.normal(size=h)
        got = np.asarray(candidate(W2, delta3, a2, a1), dtype=float)
        want = reference(W2, delta3, a2, a1)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-12, atol=1e-15):
            return False
    return True


def _hidden_delta(W2, delta3, a2, a1):
    return (W2.T @ delta3) * a2 * (1 - a2)


register(Exercise(
    "07.hidden_delta",
    judge=lambda f: _arrays_ok(lambda W2, d, a2, a1: f(W2, d, a2), _hidden_delta),
    hint={"en": "δ⁽²⁾ = f′ ∘ (W⁽²⁾ᵀ δ⁽³⁾): the transpose sends each output's δ back along its weights (W2.T @ delta3); then multiply elementwise by σ′ = a(1 − a).",
          "ko": "δ⁽²⁾ = f′ ∘ (W⁽²⁾ᵀ δ⁽³⁾): 전치 행렬이 각 출력의 δ를 가중치를 따라 되돌려 보냅니다 (W2.T @ delta3). 그다음 σ′ = a(1 − a)를 원소별로 곱하세요."},
    solution=lambda: (lambda W2, delta3, a2: (W2.T @ delta3) * a2 * (1 - a2)),
    mistakes=lambda: [(lambda W2, delta3, a2: (W2 @ delta3) * a2 * (1 - a2)), (lambda W2, delta3, a2: W2.T @ delta3)],
))


def _outer_ok(f) -> bool:
    import numpy as np

    rng = np.random.default_rng(11)
    for units, inputs in ((2, 2), (3, 4)):
        delta, a = rng.normal(size=units), rng.normal(size=inputs)
        got = np.asarray(f(delta, a), dtype=float)
        if got.shape != (units, inputs) or not np.allclose(got, np.outer(delta, a), rtol=1e-12, atol=1e-15):
            return False
    return True


register(Exercise(
    "07.weight_gradient",
    judge=_outer_ok,
    hint={"en": "Notes 002: ∂J/∂W = δ aᵀ, a column of deltas times a row of inputs (an outer product: one row per delta).",
          "ko": "노트 002: ∂J/∂W = δ aᵀ, 델타의 열 벡터 × 입력의 행 벡터 (외적: 델타마다 한 행)."},
    solution=lambda: (lambda delta, a: __import__("numpy").outer(delta, a)),
    mistakes=lambda: [(lambda delta, a: __import__("numpy").outer(a, delta)), (lambda delta, a: delta * a)],
))
