"""Execute the lecture notebooks the way their committed outputs are made, and compare runs.

    python tools/notebooks.py                 # re-execute every notebook in notebooks/, in place
    python tools/notebooks.py 02_mlp_xor ...  # only these (names with or without .ipynb)
    python tools/notebooks.py ko/02_mlp_xor   # the Korean edition's

``make notebooks`` runs the first form. ``tests/test_notebooks.py`` executes each notebook
the same way into memory and checks that the text it prints equals the committed text.

How a run is made reproducible and readable without a kernel:

- The kernel gets ``GRADTRACE_FAST=1`` (the notebooks train less where it matters), the
  inline matplotlib backend and ``PYTHONHASHSEED=0``; it starts in a scratch folder, so
  whatever a notebook writes stays out of the checkout.
- Progress bars are text, not widgets: widget state does not survive on GitHub (it shows
  "Loading widget...") and would fill the file with JSON. The kernel's startup code points
  ``tqdm.auto`` at tqdm's plain text bar before any cell runs; run interactively in Jupyter,
  the notebooks still show widget bars. The notebooks' sources are not touched.
- Carriage returns are applied per stream, as a terminal would, and consecutive pieces of a
  stream merged: a finished bar is one line, whatever number of redraws the machine's speed
  gave and however the kernel split them.
- A live widget (``viz.nudge_slider``'s slider) becomes a one-line note that it needs a
  kernel: without its state, which would be large and machine-specific, no viewer can draw it.
- Execution counts run 1, 2, 3, ...; cell metadata loses nbclient's timestamps.

What may differ between two runs, and is masked before comparing (``masked``): clock times
and rates in bars, durations printed by a notebook (``1.2 s``, ``27.5 ms``), ratios of such
durations (``59× faster``), and memory addresses (``0x7f...``); ``NOTEBOOK_MASKS`` adds a
notebook's own (06's side-by-side timings and micrograd's last-bit noise).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

KERNEL_ENV = {
    "GRADTRACE_FAST": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYTHONHASHSEED": "0",
}

# Run in the kernel before the first cell (not a cell: no output, no execution count).
STARTUP = (
    "import tqdm.auto, tqdm.autonotebook, tqdm.std; "
    "tqdm.auto.tqdm = tqdm.autonotebook.tqdm = tqdm.std.tqdm; "
    "tqdm.auto.trange = tqdm.autonotebook.trange = tqdm.std.trange"
)

TIMEOUT = 600  # seconds per cell
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}  # ipykernel's own

_CARRIAGE_RETURN = re.compile(r"[^\n]*\r(?=[^\n])")  # text a later \r on the same line overwrites
_TRAILING_SPACES = re.compile(r"[ \t]+$", re.M)
_WIDGET = "application/vnd.jupyter.widget-view+json"
_MASKS = [
    (re.compile(r"0x[0-9a-fA-F]{4,}"), "0x…"),  # memory addresses in reprs
    (re.compile(r"\d+:\d\d(?::\d\d)?"), "mm:ss"),  # tqdm's elapsed<remaining
    (re.compile(r"<\?"), "<mm:ss"),  # tqdm's unknown remaining time
    (re.compile(r" *(?:\d+(?:\.\d+)?|\?)\s?[A-Za-z]+/s\b"), " rate"),  # tqdm's rate: 12.3epoch/s, ?it/s
    (re.compile(r" *\d+(?:\.\d+)?\s?s/[A-Za-z]+\b"), " rate"),  # 1.2s/it
    (re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?\s?(?:s|ms|µs|us|ns|min)\b"), "time"),  # 27.5 ms, 1.2 s
    (re.compile(r" *\d+(?:\.\d+)?×(?= faster| slower|$)", re.M), " n×"),  # ratios of times: 59× faster
]

# Per notebook: what else differs between runs there.
NOTEBOOK_MASKS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    # The side-by-side table: seconds per step, and micrograd's loss, whose last bit varies from run
    # to run (micrograd keeps a node's operands in a set, so its gradient sums run in an order that
    # depends on memory addresses). gradtrace's column stays exact.
    "08_moons": [
        (re.compile(r"^(\s*\d+ \| \S+ \| )\S+( \| +)\d+\.\d+( \| +)\d+\.\d+", re.M), r"\1micrograd\2time\3time"),
        (re.compile(r"largest loss difference \S+;"), "largest loss difference d;"),
    ],
    # The PyTorch cell: its training line where PyTorch is installed, how to install it where not
    # (the cell after it checks the numbers where it ran); the same notebook passes on both machines.
    "07_backprop_matrix_form": [
        (re.compile(r"^PyTorch(: parameters .*| is not installed: .*)$", re.M), "PyTorch: (its line, or how to install it)"),
    ],
}


def masked(text: str, notebook: str = "") -> str:
    """``text`` with what legitimately differs between runs (times, rates, addresses) replaced.

    ``notebook`` (a file stem) adds that notebook's own masks from ``NOTEBOOK_MASKS``.
    """
    for pattern, replacement in NOTEBOOK_MASKS.get(notebook, []) + _MASKS:
        text = pattern.sub(replacement, text)
    return text


def _tidy_outputs(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """The outputs as a terminal would leave them: each stream's carriage returns applied.

    A redraw (``\\r`` + line, as tqdm writes) replaces the unfinished last line of its stream,
    even when the kernel delivered the stream in pieces with other outputs between them; so a
    finished bar is one line, however many redraws the machine's speed gave. Consecutive
    pieces of one stream are merged; trailing spaces (a redraw's padding) are dropped.
    """
    tidy: list[NotebookNode] = []
    last: dict[str, NotebookNode] = {}  # stream name → its latest output
    for output in outputs:
        if output.output_type != "stream":
            tidy.append(output)
            continue
        text = output.text.replace("\r\n", "\n")
        earlier = last.get(output.name)
        if earlier is not None and text.startswith("\r") and not earlier.text.endswith("\n"):
            earlier.text = earlier.text[: earlier.text.rfind("\n") + 1]  # its unfinished line is redrawn
        if tidy and tidy[-1].output_type == "stream" and tidy[-1].name == output.name:
            tidy[-1].text += text
        else:
            output.text = text
            tidy.append(output)
        last[output.name] = tidy[-1]
    for output in tidy:
        if output.output_type == "stream":
            output.text = _TRAILING_SPACES.sub("", _CARRIAGE_RETURN.sub("", output.text))
        elif _WIDGET in output.get("data", {}):
            output.data = {"text/plain": _widget_note(output.data.get("text/plain", ""))}
    return [o for o in tidy if o.output_type != "stream" or o.text]


def _widget_note(text: str) -> str:
    """What a committed notebook shows for a live widget (say a slider): it needs a kernel."""
    kind = re.match(r"\w+", text)
    what = f"an interactive widget ({kind.group()})" if kind else "an interactive widget"
    return f"[{what}: it works when the notebook runs in Jupyter, for example after `make lab`]"


def execute(path: Path, workdir: Path | None = None) -> NotebookNode:
    """Run the notebook at ``path`` top to bottom in a fresh kernel and return it with tidy outputs.

    Raises nbclient's CellExecutionError (naming the cell, with its traceback) if a cell fails.
    """
    notebook = nbformat.read(path, as_version=4)
    metadata = dict(notebook.metadata)
    with tempfile.TemporaryDirectory(prefix="gradtrace-notebook-") as scratch:
        client = NotebookClient(
            notebook,
            timeout=TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir or scratch)}},
            # the startup code; and no warning per kernel that it listens on localhost TCP
            extra_arguments=[f"--IPKernelApp.exec_lines={[STARTUP]!r}", "--IPKernelApp.log_level=ERROR"],
            record_timing=False,
        )
        client.execute(env=_kernel_env())
    for number, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), start=1):
        cell.execution_count = number
        cell.outputs = _tidy_outputs(cell.outputs)
        for output in cell.outputs:
            if "execution_count" in output:
                output.execution_count = number
        cell.metadata.pop("execution", None)
    # What JupyterLab's kernel writes when it starts (its spec's display name, the language_info it
    # reports): committed as is, a notebook opened in JupyterLab does not show as changed.
    metadata["kernelspec"] = dict(KERNELSPEC)
    metadata["language_info"] = notebook.metadata.get("language_info", metadata.get("language_info"))
    notebook.metadata = nbformat.from_dict(metadata)
    notebook.metadata.pop("widgets", None)
    return notebook


def _kernel_env() -> dict[str, str]:
    return {**os.environ, **KERNEL_ENV}


def text_outputs(notebook: NotebookNode, name: str = "") -> list[dict[str, object]]:
    """What each code cell shows as text, masked: its stdout, its stderr, and its other outputs in order.

    Streams are compared per name, since the kernel may interleave stdout and stderr differently
    from run to run. Images count by their kind only: their bytes depend on the matplotlib and
    FreeType versions, and what they show is computed from numbers the cells' asserts check.
    """
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        streams = {"stdout": "", "stderr": ""}
        shown: list[str] = []
        for output in cell.outputs:
            if output.output_type == "stream":
                streams[output.name] += output.text
            elif output.output_type == "error":
                shown.append(f"error: {output.ename}: {output.evalue}")
            else:
                data = output.get("data", {})
                kinds = sorted(k for k in data if k != "text/plain")
                shown.append(" + ".join(kinds) if kinds else masked(data.get("text/plain", ""), name))
        cells.append({"source": cell.source, **{k: masked(v, name) for k, v in streams.items()}, "outputs": shown})
    return cells


def write(notebook: NotebookNode, path: Path) -> None:
    """Save ``notebook`` to ``path`` (nbformat's layout, one trailing newline), all or nothing."""
    text = nbformat.writes(notebook) + "\n"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def every_notebook() -> list[Path]:
    """The English edition's notebooks, then the Korean edition's (``notebooks/ko/``)."""
    return sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "ko").glob("*.ipynb"))


def notebook_name(path: Path) -> str:
    """``01_perceptron`` for the English edition, ``ko/01_perceptron`` for the Korean one."""
    return path.relative_to(NOTEBOOKS).with_suffix("").as_posix()


def selected(names: Iterable[str]) -> list[Path]:
    """The notebooks named (``01_perceptron``, ``ko/01_perceptron``, with or without .ipynb), or all of them."""
    every = every_notebook()
    wanted = [name.removesuffix(".ipynb").removeprefix("notebooks/") for name in names]
    unknown = sorted(set(wanted) - {notebook_name(p) for p in every})
    if unknown:
        raise SystemExit(f"no such notebook: {', '.join(unknown)}; there are {', '.join(map(notebook_name, every))}")
    return [p for p in every if not wanted or notebook_name(p) in wanted]


def main(argv: list[str]) -> None:
    import time

    for path in selected(argv):
        start = time.perf_counter()
        print(f"executing {path.relative_to(ROOT)} ...", end=" ", flush=True)
        write(execute(path), path)
        print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
