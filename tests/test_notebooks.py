"""The notebooks are committed executed, and a fresh run prints what they show.

Each notebook runs top to bottom in a fresh Jupyter kernel, the way ``make notebooks``
(``tools/notebooks.py``) made its committed outputs: the project's own Python as the
kernel, a scratch working directory, ``GRADTRACE_FAST=1``, text progress bars. Then every
code cell's text (stdout, stderr, results) must equal the committed text, after masking
what differs between runs (clock times, rates, memory addresses; see
``tools/notebooks.py``). Each notebook also asserts its own numbers, so a notebook that
runs but gets them wrong fails here too.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import nbformat
import pytest

from tools import notebooks as runner

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = runner.every_notebook()  # the English edition, then the Korean one
IDS = [runner.notebook_name(p) for p in NOTEBOOKS]
RERUN = "run `make notebooks` (or `python tools/notebooks.py NAME`) and commit the result"


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 9


def _differences(committed: list[dict[str, object]], fresh: list[dict[str, object]]) -> str:
    lines_a = json.dumps(committed, ensure_ascii=False, indent=1).splitlines()
    lines_b = json.dumps(fresh, ensure_ascii=False, indent=1).splitlines()
    return "\n".join(difflib.unified_diff(lines_a, lines_b, "committed", "fresh run", lineterm="", n=2))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_reproduces_its_committed_outputs(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    fresh = runner.execute(path)  # raises CellExecutionError, with the cell and its traceback, on any error
    expected, got = runner.text_outputs(committed, path.stem), runner.text_outputs(fresh, path.stem)
    assert got == expected, f"{path.name}: a fresh run differs from the committed outputs; {RERUN}\n" + _differences(
        expected, got
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_executed_and_readable(path: Path) -> None:
    """Executed in order, no errors, no widget state, no machine-specific paths, a modest size."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), f"{path.name}: {RERUN}"
    assert any(cell.outputs for cell in code), f"{path.name} has no outputs: {RERUN}"
    assert "widgets" not in notebook.metadata
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name}: a cell failed: {output.get('evalue')}"
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), path.name
            if output.output_type == "stream":
                assert "\r" not in output.text, f"{path.name}: progress-bar redraws left in a stream"
    text = path.read_text(encoding="utf-8")
    for marker in ("/work/", "/home/", "/root/", "/tmp/", "C:\\\\", "sys.path.insert", "sys.path.append"):
        assert marker not in text, f"{path.name} contains {marker!r}"
    assert path.stat().st_size < 500_000, f"{path.name} is {path.stat().st_size} bytes: images too large?"
    # what JupyterLab's kernel writes when it starts: committed as is, the notebook opens unchanged
    assert notebook.metadata.kernelspec == runner.KERNELSPEC, f"{path.name}: {RERUN}"
    info = notebook.metadata.language_info
    assert (info.name, info.mimetype, info.file_extension, info.pygments_lexer) == (
        "python", "text/x-python", ".py", "ipython3"), f"{path.name}: {RERUN}"


def test_masks_hide_times_and_addresses_only() -> None:
    masked = runner.masked
    bar = "fit: 100%|██████████| 200/200 [00:01<00:00, 150.12epoch/s, accuracy=1.000, loss=0.0005333]"
    assert masked(bar) == "fit: 100%|██████████| 200/200 [mm:ss<mm:ss, rate, accuracy=1.000, loss=0.0005333]"
    assert masked("6/6 [01:02<?, 2.31s/epoch]") == "6/6 [mm:ss<mm:ss, rate]"
    assert masked("6 epochs in 2.4 s (0.40 s per epoch)") == "6 epochs in time (time per epoch)"
    assert masked("per step gradtrace is 59.2× faster here") == "per step gradtrace is n× faster here"
    assert masked("<viz.Graph at 0x7f3a2b1c4d90>") == "<viz.Graph at 0x…>"
    for kept in ("η(y−o) = -0.1× (1, 0, 1)", "loss 0.0183, accuracy 100%", "σ'(±6) = 2.47e-03", "2410 parameters"):
        assert masked(kept) == kept
    row = "    2 | 0.5773641994333382 | 0.5773641994333384 |       0.020 |       1.784 |  92.0×"
    assert masked(row, "08_moons") == "    2 | 0.5773641994333382 | micrograd |       time |       time | n×"


def test_comparison_sees_a_changed_number() -> None:
    """The reproduction test can fail: one digit changed in a committed output is a difference."""
    path = ROOT / "notebooks" / "06_training_loops.ipynb"
    committed = nbformat.read(path, as_version=4)
    altered = nbformat.read(path, as_version=4)
    cell = next(c for c in altered.cells if c.cell_type == "code" and "seeds learn XOR" in str(c.outputs))
    cell.outputs[0].text = cell.outputs[0].text.replace("/10", "/11", 1)
    assert runner.text_outputs(altered, path.stem) != runner.text_outputs(committed, path.stem)


def test_tidy_outputs_apply_carriage_returns_and_merge_streams() -> None:
    stream = nbformat.v4.new_output
    outputs = [stream("stream", name="stderr", text="fit:  50%|#  | 1/2\r"), stream("stream", name="stderr", text="fit: 100%|##| 2/2\n"),
               stream("stream", name="stdout", text="done\n")]
    tidy = runner._tidy_outputs(outputs)
    assert [(o.name, o.text) for o in tidy] == [("stderr", "fit: 100%|##| 2/2\n"), ("stdout", "done\n")]


def test_tidy_outputs_redraw_a_bar_split_by_other_outputs() -> None:
    """The kernel may deliver a bar's redraws in pieces around a print: still one finished line."""
    stream = nbformat.v4.new_output
    outputs = [
        stream("stream", name="stderr", text="\rbar:  10%|#    | 1/10"),
        stream("stream", name="stdout", text="epoch 1\n"),
        stream("stream", name="stderr", text="\rbar:  90%|#### | 9/10   \rbar: 100%|#####| 10/10  "),
        stream("stream", name="stderr", text="\n"),
    ]
    tidy = runner._tidy_outputs(outputs)
    assert [(o.name, o.text) for o in tidy] == [("stdout", "epoch 1\n"), ("stderr", "bar: 100%|#####| 10/10\n")]


def test_tidy_outputs_turn_a_live_widget_into_a_note() -> None:
    widget = nbformat.v4.new_output(
        "execute_result",
        data={"application/vnd.jupyter.widget-view+json": {"model_id": "d9f8", "version_major": 2},
              "text/plain": "VBox(children=(FloatSlider(value=100.0, description='apple'),))"},
        execution_count=3,
    )
    (tidy,) = runner._tidy_outputs([widget])
    assert tidy.data == {"text/plain": "[an interactive widget (VBox): it works when the notebook runs in Jupyter, "
                                       "for example after `make lab`]"}


# JupyterLab 4 in a 1280-px-wide window gives a cell's output 833 px (measured in headless Chromium): an SVG
# drawing wider than that is cut at its edge, and a PNG plot much wider is shrunk until its text is hard to read.
COLUMN_PT = 620  # 827 px at 96 dpi: Graphviz writes SVG sizes in points
COLUMN_PX = 1000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_drawings_and_plots_fit_the_column(path: Path) -> None:
    import base64
    import re
    import struct

    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        for output in cell.outputs:
            data = output.get("data", {})
            svg = data.get("image/svg+xml")
            if svg:
                width = re.search(r"<svg[^>]*\swidth=\"([\d.]+)pt\"", svg)
                assert width and float(width.group(1)) <= COLUMN_PT, (
                    f"{path.name}, code cell {number + 1}: a drawing {width and width.group(1)} pt wide; "
                    "use size=, rankdir='TB' or depth= to fit the column")
            png = data.get("image/png")
            if png:
                pixels = struct.unpack(">I", base64.b64decode(png)[16:20])[0]  # the IHDR chunk's width
                assert pixels <= COLUMN_PX, f"{path.name}, code cell {number + 1}: a plot {pixels} px wide"
