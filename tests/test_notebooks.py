"""Every notebook in notebooks/ runs top to bottom in a fresh Jupyter kernel.

The kernel is the project's own Python (jupyter_client starts ``python`` as the
running interpreter), so the notebooks import the installed packages exactly as
a user's Jupyter does. They run in a scratch directory: whatever they write
stays out of the checkout. ``GRADTRACE_FAST=1`` asks the long ones to train on
less (the digits notebook trains on a subset); each notebook asserts its own
numbers, so a notebook that runs but gets them wrong fails here too.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADTRACE_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path: Path) -> None:
    """Outputs cleared (small diffs, no stale numbers) and no machine-specific paths."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: commit notebooks with their outputs cleared"
            assert cell.execution_count is None
    text = path.read_text(encoding="utf-8")
    for marker in ("/work/", "/home/", "/root/", "C:\\\\", "sys.path.insert", "sys.path.append"):
        assert marker not in text, f"{path.name} contains {marker!r}"
    assert os.path.getsize(path) < 200_000
