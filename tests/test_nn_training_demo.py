"""`make demo`'s training script: XOR learned, the moons demo runs and reports its accuracy."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "training.py"


def test_training_demo_learns_xor_and_runs_the_moons_demo(capsys: pytest.CaptureFixture[str]) -> None:
    demo = runpy.run_path(str(SCRIPT), run_name="training_demo")  # not "__main__": call main ourselves
    demo["main"](moons_steps=20)  # the script runs all 100 steps (a few seconds); 20 keep the test quick
    captured = capsys.readouterr()
    assert "XOR: loss " in captured.out and "accuracy 100%" in captured.out.split("XOR: loss ")[1].splitlines()[0]
    moons = re.search(r"moons: loss ([\d.]+) after 20 steps, accuracy (\d+)%", captured.out)
    assert moons is not None and int(moons.group(2)) >= 80
    # the progress reports: captured stderr is not a terminal, so plain lines, not a redrawn bar
    assert "fit · compiled: epoch 200/200: loss=" in captured.err and "fit: epoch 20/20: loss=" in captured.err
    assert "\r" not in captured.err
