"""Workload "mnist_wide": ``bench_mnist`` with two hidden layers of 256 and batches of 128 (issue 24)."""

from __future__ import annotations

from typing import Any

from bench_mnist import ENGINES, GC, GOALS, INPUTS, PHASES, REQUIRED, make_params, measure, report

__all__ = ["ENGINES", "GC", "GOALS", "PHASES", "REQUIRED", "TITLE", "measure", "params", "report"]

TITLE = "MNIST-sized MLP: 784-256-256-10, batches of 128"
SIZES = {"full": (INPUTS, [256, 256], 128, 10, 3), "quick": (INPUTS, [256, 256], 128, 3, 1),
         "tiny": (30, [8, 8], 4, 2, 1)}


def params(size: str) -> dict[str, Any]:
    return make_params(SIZES[size])
