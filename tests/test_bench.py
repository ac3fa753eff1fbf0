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

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


def _common():
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "benchmarks" / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_common", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True, timeout=120)


def test_tiny_run_writes_a_well_formed_report(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    # torch is left out even where it is installed: its import alone takes seconds
    done = _bench("--tiny", "--engines", "gradtrace,compiled,micrograd,numpy", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results")
    assert not (tmp_path / "RESULTS.md.tmp").exists()
    for heading in ("## Targets", "## Training: micrograd's demo", "### The demo step compiled", "## Scalar code",
                    "## Graph memory", "## Digits: an epoch of mini-batches", "## Digits: one step over the whole set"):
        assert heading in text
    verdicts = re.findall(r"^\| [\d, ]+ \| .+ \| \*\*(met|missed)\*\* \|$", text, re.M)
    assert len(verdicts) == 11, text  # without torch, the targets against it are not decided
    # the compiled engine's loss and gradients equal the eager engine's: demo, digits epoch, digits full batch
    equal = re.findall(r"^\| 11 \| .+ within 1e-12 of eager's, relative \| (\S+) \| \*\*met\*\* \|$", text, re.M)
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
    assert "nan" not in text and "inf×" not in text
    # the honesty checks ran: losses agree with micrograd's and the exact referee
    parity = re.search(r"^\| 3 \| demo losses within 1e-09 .+ \| (\S+) \| \*\*met\*\* \|$", text, re.M)
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


def test_bad_arguments_are_refused_with_what_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = _bench("--tiny", "--engines", "gradtrace,micrograd,jax", "--out", str(out))
    assert done.returncode != 0
    assert "unknown engine(s) jax; the engines are gradtrace, compiled, micrograd, torch, numpy" in done.stderr
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
