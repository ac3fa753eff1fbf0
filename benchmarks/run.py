"""`make bench`: every workload on every engine, each measurement in a fresh Python
process, and benchmarks/RESULTS.md from what they report.

    python benchmarks/run.py                  # the full run (BENCH_QUICK=1: the quick one)
    python benchmarks/run.py --quick          # everything at small sizes, about a minute; the report
                                              # goes to the temporary directory, not RESULTS.md
                                              # (so does a partial run's: some workloads or engines,
                                              # or other repeats)
    python benchmarks/run.py --engines gradtrace,micrograd --workloads training --repeats 5

Why a process per measurement: micrograd leaves millions of nodes in reference
cycles behind it, and a collector that has to scan them slows down whatever runs
next in the same process. A worker imports the harness and its one engine only.
Repetitions run round-robin (repetition 1 of every workload and engine, then
repetition 2, ...), so that a noisy minute on a shared machine hits every engine.

A workload is a module here with:

- ``TITLE``; ``ENGINES``, the engines it can measure (names from ENGINES below),
  the one the others are compared with first; optionally ``REQUIRED``, those that must
  be measured (default: gradtrace and micrograd); ``GC``, the collector settings it measures (True: on, Python's
  default; False: off);
- ``params(size) -> dict`` for size "full", "quick" or "tiny" (the tests' size): what
  every worker gets, as JSON, with ``"repeats"``, the number of fresh processes per
  engine and setting;
- ``measure(engine, collect_garbage, params) -> dict``, run in the worker; JSON, with
  ``"seconds": {phase: CPU seconds}`` for ``common.timing_table``;
- optionally ``referee(params)``, computed once here (an exact answer to check against);
- ``report(results, params, referee, engines) -> (markdown section, [common.Target])``.

Adding one is a module and a line in WORKLOADS. A module that starts its own processes
can instead go in SECTIONS with just ``markdown(repeats=...) -> str``: the harness runs it
after the workloads (with ``repeats=1`` in a quick run, not at all in a tiny one) and
puts its section in the report.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Results, Target, table  # noqa: E402

RESULTS = HERE / "RESULTS.md"
WORKLOADS = {  # name: module in benchmarks/, in the order of RESULTS.md
    "training": "bench_training",
    "scalar": "bench_engine",
    "graph": "bench_graph",
    "create_graph": "bench_create_graph",
    "digits": "bench_digits",
    "digits_full": "bench_digits_full",
    "mnist": "bench_mnist",
    "mnist_wide": "bench_mnist_wide",
    "microgpt": "bench_microgpt",
}
SECTIONS = {  # name: module that measures itself (its own processes) and returns Markdown
    "fit_gc": "bench_fit_gc",
    "profile": "bench_profile",
    "hessian": "bench_hessian",
}
ENGINES = {  # engine: (module it needs, distribution for the version line)
    "gradtrace": ("autograd", "gradtrace"),
    "compiled": ("autograd", "gradtrace"),  # gradtrace through autograd.compile (issue 11)
    "micrograd": ("micrograd", "micrograd"),
    "torch": ("torch", "torch"),
    "numpy": ("numpy", "numpy"),
    "jax": ("jax", "jax"),  # the whole step under jax.jit (issue 24)
    "compiled_jax": ("jax", "gradtrace"),  # autograd.compile(..., backend="jax"): the tape as one jax.jit program
    "microgpt": ("autograd", "gradtrace"),  # examples/microgpt.py's own Value class (the microgpt workload)
    "compiled_adam": ("autograd", "gradtrace"),  # microgpt compiled, nn.Adam in step.training (the microgpt workload)
}
# the engines a workload cannot do without, unless it says otherwise (REQUIRED); torch, numpy and jax are optional
REQUIRED = ("gradtrace", "micrograd")
QUICK_WARNING = {
    "full": [],
    "quick": ["**Quick run**: small sizes and one process each, to check the machinery. Its figures are not "
              "the benchmark's: micrograd's collector costs grow with its heap, so small sizes flatter it.", ""],
    "tiny": ["**Tiny run** (the tests' size): only that the machinery works; the figures mean nothing.", ""],
}


def worker() -> None:
    """Body of a fresh process: one measurement, its job read from stdin as JSON, its result
    printed as the last line of stdout (floats survive JSON exactly)."""
    job = json.loads(sys.stdin.read())
    module = importlib.import_module(WORKLOADS[job["workload"]])
    result = module.measure(job["engine"], job["collect_garbage"], job["params"])
    print(json.dumps(result))


def measure_in_fresh_process(workload: str, engine: str, collect_garbage: bool, params: dict[str, Any]) -> dict[str, Any]:
    job = {"workload": workload, "engine": engine, "collect_garbage": collect_garbage, "params": params}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker"],
                          input=json.dumps(job), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{workload} on {engine} (collector {'on' if collect_garbage else 'off'}) failed:\n"
                           f"{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def available(engine: str) -> bool:
    return importlib.util.find_spec(ENGINES[engine][0]) is not None


def choose_engines(asked: list[str] | None, required: dict[str, list[str]]) -> list[str]:
    """The engines asked for (default: all), without those not installed; each workload's
    required engines (required[engine]: the workloads that need it) must be there."""
    names = asked or list(ENGINES)
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s) {', '.join(unknown)}; the engines are {', '.join(ENGINES)}")
    missing = [name for name in required if name not in names or not available(name)]
    if missing:
        raise SystemExit("; ".join(f"{name} must be measured and installed for the workload(s) {', '.join(required[name])}"
                                   for name in missing) + " (make bench installs them)")
    return [name for name in names if available(name)]


def required_engines(modules: dict[str, ModuleType]) -> dict[str, list[str]]:
    """Engine: the workloads that cannot do without it."""
    required: dict[str, list[str]] = {}
    for name, module in modules.items():
        for engine in getattr(module, "REQUIRED", REQUIRED):
            required.setdefault(engine, []).append(name)
    return required


def versions(engines: list[str]) -> str:
    parts: dict[str, str] = {}  # distribution: its part of the line (gradtrace and compiled share one)
    for engine in ENGINES:
        distribution = ENGINES[engine][1]
        try:
            found = version(distribution)
        except PackageNotFoundError:
            found = "not installed"
        measured = any(ENGINES[e][1] == distribution for e in engines)
        parts[distribution] = f"{distribution} {found}" + ("" if measured else " (not measured)")
    return ", ".join(parts.values())


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "unknown"


def header(size: str, engines: list[str], plan: dict[str, dict[str, Any]], started: datetime.datetime,
           took: tuple[float, float], loads: tuple[str, str]) -> list[str]:
    repeats = ", ".join(f"{name} {params['repeats']}" for name, params in plan.items())
    return [
        "# Benchmark results",
        "",
        f"Written by `{'BENCH_QUICK=1 ' if size == 'quick' else ''}make bench` (`benchmarks/run.py`, size "
        f"\"{size}\"); every figure below comes from this one run, and every ratio divides two figures of it. "
        "Each measurement ran in a fresh Python process that imported only the harness and its one engine, "
        "so that no engine pays for another's garbage; the repetitions ran round-robin over workloads and "
        "engines. Times are CPU time of the process (`time.process_time`), so other programs on the machine "
        "count less than in wall-clock time, though they still share its caches. Ratios matter; seconds "
        "depend on the machine.",
        "",
        f"- the run took {took[0] / 60:.1f} minutes, {took[1] / 60:.1f} of them CPU time (its length on an "
        "idle machine)",
        f"- machine: {cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"load average (1, 5, 15 min) {loads[0]} at the start, {loads[1]} at the end",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- {versions(engines)}",
        f"- fresh processes per engine and collector setting: {repeats}",
        "",
        *QUICK_WARNING[size],
    ]


def targets_section(targets: list[Target]) -> list[str]:
    if not targets:
        return []
    rows = [[t.goal, t.measured, "**met**" if t.met else "**missed**"] for t in targets]
    return [
        "## Targets",
        "",
        "Each verdict compares the median ratio of this run with the goal; the range in parentheses "
        "is the spread of the per-repetition ratios.",
        "",
        *table(["goal", "measured", "verdict"], rows, align="lrl"),
        "",
    ]


def children_cpu() -> float:
    """CPU seconds of this process and every finished child: the run's length on an idle machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + usage.ru_utime + usage.ru_stime


def measure_all(modules: dict[str, ModuleType], plan: dict[str, dict[str, Any]], engines: list[str]) -> dict[str, Results]:
    """Every job in a fresh process, round-robin: repetition 1 of everything, then repetition 2, ..."""
    jobs = [
        (repeat, name, engine, collect_garbage)
        for repeat in range(max((params["repeats"] for params in plan.values()), default=0))
        for name, module in modules.items()
        if repeat < plan[name]["repeats"]
        for collect_garbage in module.GC
        for engine in module.ENGINES
        if engine in engines
    ]
    results: dict[str, Results] = {name: {} for name in modules}
    for i, (repeat, name, engine, collect_garbage) in enumerate(jobs, 1):
        tic, cpu = time.perf_counter(), children_cpu()
        measured = measure_in_fresh_process(name, engine, collect_garbage, plan[name])
        results[name].setdefault((engine, collect_garbage), []).append(measured)
        print(f"[{i}/{len(jobs)}] {name}: {engine}, collector {'on' if collect_garbage else 'off'}, "
              f"repetition {repeat + 1}: {time.perf_counter() - tic:.1f} s ({children_cpu() - cpu:.1f} s CPU)",
              flush=True)
    return results


def own_section(name: str, module: ModuleType, size: str) -> str:
    """A SECTIONS module's Markdown."""
    if size == "tiny":
        return f"## {name}\n\nNot run at the tiny size ({module.__name__} starts its own processes).\n"
    print(f"{name}: {module.__name__} measures itself ...", flush=True)
    return module.markdown(repeats=1) if size == "quick" else module.markdown()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes, about a minute (also BENCH_QUICK=1)")
    sizes.add_argument("--tiny", action="store_true", help="the tests' size: only that the machinery works")
    everything = [*WORKLOADS, *SECTIONS]
    parser.add_argument("--engines", help=f"comma-separated, from {','.join(ENGINES)} (default: all installed)")
    parser.add_argument("--workloads", help=f"comma-separated, from {','.join(everything)} (default: all)")
    parser.add_argument("--repeats", type=int, help="fresh processes per engine and setting (default: per workload)")
    parser.add_argument("--out", type=Path, help="where to write the report (default: benchmarks/RESULTS.md; "
                        "for a quick, tiny or partial run, a file in the temporary directory, so that it never "
                        "replaces the full run's figures)")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1; got {args.repeats}")
    args.size = "tiny" if args.tiny else "quick" if args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0") else "full"
    args.names = args.workloads.split(",") if args.workloads else everything
    unknown = [name for name in args.names if name not in everything]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; the workloads are {', '.join(everything)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    size = args.size
    modules = {name: importlib.import_module(WORKLOADS[name]) for name in args.names if name in WORKLOADS}
    engines = choose_engines(args.engines.split(",") if args.engines else None, required_engines(modules))
    complete = size == "full" and not (args.workloads or args.engines or args.repeats)
    out = args.out or (RESULTS if complete else Path(tempfile.gettempdir()) / f"gradtrace-RESULTS-{size}.md")

    started, clock, cpu, start_load = datetime.datetime.now(datetime.timezone.utc), time.perf_counter(), children_cpu(), load()
    plan: dict[str, dict[str, Any]] = {}
    for name, module in modules.items():
        plan[name] = module.params(size)
        if args.repeats is not None:
            plan[name]["repeats"] = args.repeats
    referees = {name: m.referee(plan[name]) if hasattr(m, "referee") else None for name, m in modules.items()}
    results = measure_all(modules, plan, engines)

    sections, targets = [], []
    for name, module in modules.items():
        measured_engines = [engine for engine in module.ENGINES if engine in engines]
        text, found = module.report(results[name], plan[name], referees[name], measured_engines)
        sections.append(text)
        targets += found
    sections += [own_section(name, importlib.import_module(SECTIONS[name]), size) for name in args.names
                 if name in SECTIONS]
    took = (time.perf_counter() - clock, children_cpu() - cpu)
    text = "\n".join([*header(size, engines, plan, started, took, (start_load, load())),
                      *targets_section(targets), *sections])
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)  # a failed run leaves the old report whole
    print(text)
    print(f"written to {out} in {took[0] / 60:.1f} minutes ({took[1] / 60:.1f} CPU minutes)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main()
