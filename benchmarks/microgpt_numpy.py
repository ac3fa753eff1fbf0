"""examples/microgpt.py's model in NumPy, forward and backward written by hand: one document
at a time, all its positions at once (causal attention as a masked matrix, which is what the
key/value cache computes one position at a time). ``tests/test_microgpt.py`` checks its loss
and gradients against eager gradtrace's; ``bench_microgpt`` times it as the "numpy" engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Weights = dict[str, np.ndarray]
EPS = 1e-5  # rmsnorm's


def rmsnorm(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = (np.mean(x * x, axis=1, keepdims=True) + EPS) ** -0.5
    return x * scale, scale


def rmsnorm_back(x: np.ndarray, scale: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return dy * scale - x * scale**3 * np.sum(dy * x, axis=1, keepdims=True) / x.shape[1]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def loss_and_grads(w: Weights, tokens: list[int], n_layer: int, n_head: int, block_size: int) -> tuple[float, Weights]:
    """The mean next-token cross-entropy of one document (cut to block_size positions, as the
    program cuts it) and its gradient with respect to every matrix in ``w``."""
    n = min(block_size, len(tokens) - 1)
    inputs, targets = np.array(tokens[:n]), np.array(tokens[1 : n + 1])
    e = w["wte"][inputs] + w["wpe"][:n]
    x, s0 = rmsnorm(e)
    d = e.shape[1] // n_head
    future = np.triu(np.ones((n, n), dtype=bool), 1)  # position t attends to positions 0..t
    saved: list[dict[str, Any]] = []
    for li in range(n_layer):
        c: dict[str, Any] = {"x": x}
        c["h"], c["s"] = rmsnorm(x)
        q, k, v = (c["h"] @ w[f"layer{li}.attn_w{m}"].T for m in "qkv")
        c["qkv"] = [(q[:, h * d : (h + 1) * d], k[:, h * d : (h + 1) * d], v[:, h * d : (h + 1) * d]) for h in range(n_head)]
        c["p"] = [softmax(np.where(future, -np.inf, qh @ kh.T / d**0.5)) for qh, kh, _ in c["qkv"]]
        c["a"] = np.concatenate([p @ vh for p, (_, _, vh) in zip(c["p"], c["qkv"])], axis=1)
        x = c["a"] @ w[f"layer{li}.attn_wo"].T + x
        c["x2"] = x
        c["h2"], c["s2"] = rmsnorm(x)
        c["u"] = c["h2"] @ w[f"layer{li}.mlp_fc1"].T
        x = np.maximum(c["u"], 0) @ w[f"layer{li}.mlp_fc2"].T + x
        saved.append(c)
    probs = softmax(x @ w["lm_head"].T)
    loss = -np.mean(np.log(probs[np.arange(n), targets]))

    g = {key: np.zeros_like(value) for key, value in w.items()}
    dlogits = probs.copy()
    dlogits[np.arange(n), targets] -= 1
    dlogits /= n
    g["lm_head"] = dlogits.T @ x
    dx = dlogits @ w["lm_head"]
    for li in reversed(range(n_layer)):
        c = saved[li]
        g[f"layer{li}.mlp_fc2"] = dx.T @ np.maximum(c["u"], 0)
        du = (dx @ w[f"layer{li}.mlp_fc2"]) * (c["u"] > 0)
        g[f"layer{li}.mlp_fc1"] = du.T @ c["h2"]
        dx = dx + rmsnorm_back(c["x2"], c["s2"], du @ w[f"layer{li}.mlp_fc1"])
        g[f"layer{li}.attn_wo"] = dx.T @ c["a"]
        da = dx @ w[f"layer{li}.attn_wo"]
        dq, dk, dv = (np.zeros_like(c["a"]) for _ in range(3))
        for h, (p, (qh, kh, vh)) in enumerate(zip(c["p"], c["qkv"])):
            part = slice(h * d, (h + 1) * d)
            dp = da[:, part] @ vh.T
            dscores = p * (dp - np.sum(dp * p, axis=1, keepdims=True)) / d**0.5
            dq[:, part], dk[:, part], dv[:, part] = dscores @ kh, dscores.T @ qh, p.T @ da[:, part]
        dh = np.zeros_like(dx)
        for m, dm in zip("qkv", (dq, dk, dv)):
            g[f"layer{li}.attn_w{m}"] = dm.T @ c["h"]
            dh += dm @ w[f"layer{li}.attn_w{m}"]
        dx = dx + rmsnorm_back(c["x"], c["s"], dh)
    de = rmsnorm_back(e, s0, dx)
    np.add.at(g["wte"], inputs, de)
    g["wpe"][:n] = de
    return float(loss), g
