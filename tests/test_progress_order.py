"""fit's progress (standard error) comes after what the cell printed before it (standard output),
in a real Jupyter kernel as the committed notebooks are made, and through a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import notebooks

ROOT = Path(__file__).resolve().parent.parent
CELL = """
import nn
X, y = nn.data.logic_gate("xor")
print("before fit")
model = nn.MLP(2, [3, 1], output_activation="sigmoid")
nn.fit(model, X, y, loss="bce", epochs=3, progress="lines")
print("after fit")
"""


def test_in_a_kernel_the_cell_shows_its_prints_and_progress_in_the_order_they_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's nn
    path = tmp_path / "order.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)]), path)
    [cell] = notebooks.execute(path).cells
    shown = [(o.name, o.text.splitlines()[0]) for o in cell.outputs]
    assert [name for name, _ in shown] == ["stdout", "stderr", "stdout"], shown
    assert shown[0][1] == "before fit" and shown[1][1].startswith("fit") and shown[2][1] == "after fit"


def test_through_a_pipe_too() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", CELL], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, timeout=120, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "before fit" and lines[1].startswith("fit") and lines[-1] == "after fit", lines
