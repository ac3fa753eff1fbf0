"""The benchmark harness: it runs every workload in fresh processes and writes a
well-formed report (at a tiny size: no timing is asserted), and its ratios are what
they say."""

from __future__ import annotations

import gc
import importlib.util
import re
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


def _common():
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "benchmarks" / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_common", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    # a tiny run takes under a minute on an idle machine; the timeout leaves room for a loaded one
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True, timeout=400)


def test_tiny_run_writes_a_well_formed_report(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    # torch and jax are left out even where they are installed: their imports alone take seconds;
    # the MNIST-sized workloads have a test of their own
    workloads = "training,scalar,graph,create_graph,digits,digits_full,fit_gc"
    done = _bench("--tiny", "--workloads", workloads, "--engines", "gradtrace,compiled,micrograd,numpy", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results")
    assert not (tmp_path / "RESULTS.md.tmp").exists()
    for heading in ("## Targets", "## Training: micrograd's demo", "### The demo step compiled", "## Scalar code",
                    "## Graph memory", "## Digits: an epoch of mini-batches", "## Digits: one step over the whole set"):
        assert heading in text
    verdicts = re.findall(r"^\| [^|]+ \| [^|]+ \| \*\*(met|missed)\*\* \|$", text, re.M)
    assert len(verdicts) == 12, text  # without torch and jax, the targets against them are not decided
    # the compiled engine's loss and gradients equal the eager engine's: demo, digits epoch, digits full batch
    equal = re.findall(r"^\| .+ within 1e-12 of eager's, relative \| (\S+) \| \*\*met\*\* \|$", text, re.M)
    assert len(equal) == 3 and all(float(e) <= 1e-12 for e in equal), text
    # every timing table has both collector settings, every engine's column and a ratio per row
    for engine in ("gradtrace", "compiled", "micrograd", "numpy"):
        assert f"| {engine} (ms) |" in text
    for setting in ("on (Python's default)", "off"):
        rows = re.findall(rf"^\| {re.escape(setting)} \| \*\*total\*\* \|(.+)$", text, re.M)
        assert len(rows) == 4, text  # training, scalar, digits and digits_full
        for row in rows:
            assert re.search(r"\*\*\d+\.\d+×\*\*", row), row
    assert "| torch (" not in text and "| torch |" not in text  # not asked for, so not measured
    assert "| jax (" not in text and "not installed, or not asked for" in text
    assert "nan" not in text and "inf×" not in text
    # the honesty checks ran: losses agree with micrograd's and the exact referee
    parity = re.search(r"^\| demo losses within 1e-09 .+ \| (\S+) \| \*\*met\*\* \|$", text, re.M)
    assert parity and float(parity.group(1)) < 1e-12
    assert "| gradtrace | True |" in text  # the scalar root matches to the bit
    # create_graph's cost: every gradient phase has its ratio to backward() in both settings,
    # and every way of taking the gradient agrees with the exact referee
    assert "## The cost of `create_graph=True` on the demo step" in text
    for setting in ("on (Python's default)", "off"):
        for phase in ("grad", "create_graph", "penalty"):
            assert re.search(rf"^\| {re.escape(setting)} \| {phase} \| [\d.]+ \| \S*\d+\.\d+×\S* \| \d", text, re.M), text
    section = text.split("## The cost of `create_graph=True`")[1]
    errors = re.search(r"^\| gradtrace \| (\S+) \| (\S+) \| (\S+) \| (\S+) \|$", section, re.M)
    assert errors and all(float(e) < 1e-14 for e in errors.groups()), section
    assert re.search(r"`create_graph=True` adds [\d,]+ \(", section)


def test_mnist_sized_workloads_report_every_engine_and_the_same_first_step(tmp_path: Path) -> None:
    """The MNIST-sized workloads (at the tiny size: 30 inputs, hidden layers of 8, batches
    of 4): a timing table per shape with both collector settings, and every engine's first
    step equal to the compiled engine's to rounding."""
    out = tmp_path / "RESULTS.md"
    done = _bench("--tiny", "--workloads", "mnist,mnist_wide", "--engines", "compiled,numpy", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    for heading in ("## MNIST-sized MLP: 30-8-10, batches of 4", "## MNIST-sized MLP: 30-8-8-10, batches of 4"):
        assert heading in text
    for setting in ("on (Python's default)", "off"):
        rows = re.findall(rf"^\| {re.escape(setting)} \| \*\*total\*\* \| [\d.]+ \| [\d.]+ \| \*\*\d+(\.\d+)?×\*\* \|$",
                          text, re.M)
        assert len(rows) == 2, text
    numpy_rows = re.findall(r"^\| NumPy by hand \| (\S+) \| (\S+) \| (\S+) \| True \|$", text, re.M)
    assert len(numpy_rows) == 2 and all(float(e) < 1e-13 for row in numpy_rows for e in row), text
    assert "(338 parameters;" in text and "(410 parameters;" in text  # 31·8 + 9·10; 31·8 + 9·8 + 9·10
    assert "PyTorch eager was not measured" in text  # the target against it is not decided


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (a bench extra)")
def test_jax_rows_train_the_same_steps(tmp_path: Path) -> None:
    """With jax installed, the demo step and the MNIST-sized step also run as one jax.jit
    function each: a column of their own, their ratios, and the same first-step loss and
    gradients as the other engines' (to rounding)."""
    out = tmp_path / "RESULTS.md"
    done = _bench("--tiny", "--workloads", "training,mnist", "--engines", "gradtrace,micrograd,compiled,jax",
                  "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    sections = [section for section in text.split("\n## ")[1:] if not section.startswith("Targets")]
    assert len(sections) == 2, text
    for section in sections:
        assert "| jax (ms) |" in section and re.search(r"\*\*[\d.]+×\*\*", section), section
    assert re.search(r"^\| compiled demo step ≤ 1\.5× JAX jit, collector on \| \S+.* \| \*\*(met|missed)\*\* \|$",
                     text, re.M), text
    # the first step's loss and gradients: against the exact referee (demo), against compiled's (MNIST-sized)
    demo = re.search(r"^\| jax \| \S+ \| True \| (\S+) \| (\S+) \|$", text, re.M)
    assert demo and all(float(e) < 1e-14 for e in demo.groups()), text
    mnist = re.search(r"^\| JAX jit \| (\S+) \| (\S+) \| (\S+) \| True \|$", text, re.M)
    assert mnist and all(float(e) < 1e-13 for e in mnist.groups()), text


def test_bad_arguments_are_refused_with_what_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = _bench("--tiny", "--engines", "gradtrace,micrograd,tensorflow", "--out", str(out))
    assert done.returncode != 0
    assert "unknown engine(s) tensorflow; the engines are gradtrace, compiled, micrograd, torch, numpy, jax" in done.stderr
    done = _bench("--tiny", "--engines", "gradtrace", "--out", str(out))
    assert "micrograd must be measured" in done.stderr
    done = _bench("--tiny", "--workloads", "training,fit", "--out", str(out))
    assert "unknown workload(s) fit" in done.stderr
    assert not out.exists()


def test_ratio_is_the_ratio_of_medians_with_the_paired_range() -> None:
    common = _common()
    results = {
        ("gradtrace", True): [{"seconds": {"forward": 1.0, "backward": 1.0}},
                              {"seconds": {"forward": 2.0, "backward": 2.0}},
                              {"seconds": {"forward": 1.5, "backward": 0.5}}],
        ("micrograd", True): [{"seconds": {"forward": 10.0, "backward": 10.0}},
                              {"seconds": {"forward": 30.0, "backward": 10.0}},
                              {"seconds": {"forward": 25.0, "backward": 5.0}}],
    }
    # totals: gradtrace 2, 4, 2 (median 2); micrograd 20, 40, 30 (median 30); pairs 10, 10, 15
    r = common.ratio(results, "micrograd", "gradtrace", True)
    assert (r.median, r.low, r.high, r.repeats) == (15.0, 10.0, 15.0, 3)
    assert str(r) == "15.0× (10.0–15.0×)"
    forward = common.ratio(results, "micrograd", "gradtrace", True, "forward")
    assert forward.median == 25.0 / 1.5
    assert common.spread([0.002, 0.004, 0.003], 1e3, 1) == "3.0 (2.0–4.0)"
    assert common.times(0.0172) == "0.0172"



class _Node:
    """An object in a reference cycle with itself, as a micrograd node is."""

    def __init__(self) -> None:
        self.me = self


def test_collector_off_stays_off_for_the_run_and_fresh_collects_cycles() -> None:
    common = _common()
    assert gc.isenabled()
    with common.Collector(False) as collector:
        assert not gc.isenabled()
        node = _Node()
        ref = weakref.ref(node)
        del node
        assert ref() is not None  # only the cyclic collector frees a cycle, and it is off
        collector.fresh()
        assert ref() is None and not gc.isenabled()
    assert gc.isenabled()
    with common.Collector(True) as collector:
        collector.fresh()  # on: the collections are left to Python
        assert gc.isenabled()


def test_profile_section_accounts_for_every_part_of_the_step() -> None:
    """The profile's table (bench_profile.section) from made-up clock readings: each part's
    time, the replay's loop and `step.backward`'s rest as what their clocks read beyond the
    groups inside them, and the loop's own time as what is left."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_profile
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    ms = 1e-3
    parts = {"zero_grad()": 0.1 * ms, "step.backward(X, t)": 1.0 * ms, "replay forward": 0.5 * ms,
             "replay backward": 0.3 * ms, "forward 1. matmul dot ×2": 0.2 * ms, "backward 1. matmul dot ×2": 0.25 * ms,
             "optimizer step": 0.4 * ms}
    run = {"plain": 1.4 * ms, "instrumented": 1.6 * ms, "parts": parts, "groups": ["1. matmul dot ×2"], "found": True,
           "parameters": 6, "batch": 3}
    text = "\n".join(bench_profile.section("digits", [run]))
    expected = {
        "`zero_grad()` on the gradient array": "0.100", "replay forward: the loop around the groups": "0.300",
        "forward, group 1. matmul dot ×2": "0.200", "backward, group 1. matmul dot ×2": "0.250",
        "replay backward: seeding (and the loop)": "0.050",
        "`step.backward`'s rest: checking the batch, the mean, adding the gradient into the array": "0.200",
        "`nn.Adam` step on the arrays": "0.400",
    }
    for label, value in expected.items():
        assert f"| {label} | {value} |" in text, text
    assert "the loop's own time outside the parts: 0.100 ms) | 1.600 | 100% |" in text  # 1.6 - 1.5 counted
    assert "a step takes 1.400 ms; with them 1.600 ms" in text
    assert "groups' NumPy work is 28%" in text  # 0.45 of 1.6
    assert "the optimizer and zero_grad on the arrays 31%" in text  # (0.1 + 0.4) / 1.6
    assert "(checking the batch, the loops, the mean, the clocks) 41%" in text  # (1.6 - 0.45 - 0.5) / 1.6
    assert "`nn.SGD` step on the arrays" in "\n".join(bench_profile.section("demo", [run]))
    missing = bench_profile.section("digits", [{"plain": 1.4 * ms, "found": False}])
    assert "this profile needs updating to the replay" in "\n".join(missing)
