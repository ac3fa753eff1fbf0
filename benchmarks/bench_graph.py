"""Workload "graph": how much memory the scalar workload's graph holds, and how deep a
graph backward can walk.

Memory: tracemalloc bytes held by the built graph of ``bench_engine``'s expression,
per iteration. Depth: ``y = y * 1.0000001`` chained ``chain_depth`` times, then
``backward()``; micrograd is tried at Python's default recursion limit on a shorter
chain (a chain of 10^6 would take over a gigabyte of micrograd nodes to build first).
PyTorch is left out: tracemalloc cannot see its C++ allocations.
"""

from __future__ import annotations

import sys
import tracemalloc
from functools import partial
from typing import Any

from bench_engine import build_scalar_graph, leaf_maker
from common import Collector, Results, Target, cpu_time, in_big_stack, table

TITLE = "Graph memory and depth"
ENGINES = ("gradtrace", "micrograd")
GC = (True,)
SIZES = {"full": (200_000, 1_000_000, 10_000), "quick": (20_000, 100_000, 2_000), "tiny": (2_000, 10_000, 2_000)}
MEMORY_TARGET = 0.20  # issue 2: at most this fraction of micrograd's memory
FACTOR = 1.0000001


def params(size: str) -> dict[str, Any]:
    iterations, depth, micrograd_depth = SIZES[size]
    return {"iterations": iterations, "chain_depth": depth, "micrograd_chain_depth": micrograd_depth, "repeats": 1}


def _bytes_per_iteration(engine: str, iterations: int) -> float:
    """The collector is off during the build: the graph holds no garbage for it to free,
    and its passes over micrograd's nodes would take most of the time."""
    make = leaf_maker(engine)
    with Collector(False) as collector:
        collector.fresh()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            leaves, acc = build_scalar_graph(make, iterations)
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    del leaves, acc
    return (after - before) / iterations


def _chain(engine: str, depth: int) -> dict[str, Any]:
    x = y = leaf_maker(engine)(1.0)
    for _ in range(depth):
        y = y * FACTOR
    start = cpu_time()
    try:
        y.backward()
    except RecursionError as error:
        return {"depth": depth, "error": f"RecursionError ({error})"}
    return {"depth": depth, "seconds": cpu_time() - start, "grad": x.grad, "expected": FACTOR**depth}


def measure(engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    """Bytes per iteration (under the big stack, as the scalar workload), then the chain at
    Python's default recursion limit, in this thread."""
    per_iteration = in_big_stack(partial(_bytes_per_iteration, engine, params["iterations"]))
    depth = params["chain_depth"] if engine == "gradtrace" else params["micrograd_chain_depth"]
    limit = sys.getrecursionlimit()
    return {"bytes_per_iteration": per_iteration, "recursion_limit": limit, "chain": _chain(engine, depth)}


def report(results: Results, params: dict[str, Any], _referee: Any, engines: list[str]) -> tuple[str, list[Target]]:
    ours, theirs = results[("gradtrace", True)][0], results[("micrograd", True)][0]
    share = ours["bytes_per_iteration"] / theirs["bytes_per_iteration"]
    rows = []
    for name, m in (("gradtrace", ours), ("micrograd", theirs)):
        chain = m["chain"]
        if "error" in chain:
            outcome = chain["error"][:100]
        else:
            outcome = (f"{chain['seconds']:.3f} s; x.grad = {chain['grad']:.12g} "
                       f"(1.0000001^{chain['depth']:,} = {chain['expected']:.12g})")
        rows.append([name, f"{m['bytes_per_iteration']:.0f}", f"{chain['depth']:,}", outcome])
    lines = [
        f"## {TITLE}",
        "",
        f"Memory: tracemalloc bytes held by the scalar workload's graph ({params['iterations']:,} iterations), "
        "per iteration, before backward (the collector off during the build: there is no garbage for it to free). Depth: `y = y * 1.0000001` chained, then `y.backward()` at Python's "
        f"default recursion limit ({ours['recursion_limit']:,}), CPU seconds of the backward. One fresh "
        "process per engine.",
        "",
        *table(["engine", "bytes per iteration", "chain depth", "backward through the chain"], rows, align="lrrl"),
        "",
        f"gradtrace holds **{share:.2f}** of micrograd's memory per iteration: a node is a `__slots__` object "
        "with an operand tuple and no closure, and `* 0.5` keeps 0.5 as a plain number operand; micrograd "
        "makes a `set` and a closure per node and a Value per constant.",
    ]
    targets = [Target("2", f"graph memory ≤ {MEMORY_TARGET:.2f} of micrograd's", f"{share:.2f}", share <= MEMORY_TARGET)]
    return "\n".join(lines) + "\n", targets
