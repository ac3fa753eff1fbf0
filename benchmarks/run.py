"""Run every benchmark side by side with its peer and write benchmarks/RESULTS.md."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engine  # noqa: E402
import bench_training  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def torch_version() -> str:
    try:
        return f"PyTorch {version('torch')} (optional)"
    except PackageNotFoundError:
        return "PyTorch not installed (optional)"


def machine_header() -> str:
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Written by `make bench` (`benchmarks/run.py`); every figure below comes from one run. The engine "
            "benchmarks measure each peer in the same process; the training benchmark gives each training run a "
            "fresh process. Ratios matter; seconds depend on the machine.",
            "",
            f"- date: {datetime.date.today().isoformat()}",
            f"- machine: {cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            f"- Python: {platform.python_implementation()} {platform.python_version()}",
            f"- gradtrace {version('gradtrace')}, micrograd {version('micrograd')}, {torch_version()}",
            "",
        ]
    )


def main() -> None:
    print("engine benchmarks (a few minutes: micrograd is slow) ...", flush=True)
    engine = bench_engine.run()
    print("training benchmark (a few minutes more: a step of micrograd's demo takes it about a second) ...", flush=True)
    training = bench_training.run()
    text = "\n".join(
        [
            machine_header(),
            bench_engine.TARGETS,
            "",
            bench_training.TARGETS,
            "",
            bench_engine.report(engine),
            bench_training.report(training),
        ]
    )
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(RESULTS)
    print(text)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
