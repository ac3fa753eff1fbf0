"""`make demo`'s script prints the lectures' numbers, computed by the engine."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "lectures.py"


def test_demo_prints_the_lecture_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(DEMO), run_name="__main__")
    out = capsys.readouterr().out
    assert "price = 220 " in out
    assert "d price/d apple = 2.2, d/d apple_num = 110, d/d tax = 200" in out
    assert "price = 715 " in out
    assert "apple 2.2, apple_num 110, orange 3.3, orange_num 165, tax 650" in out
    # XOR column of the gates table: 0 1 1 0
    rows = [line for line in out.splitlines() if line.count("|") == 2 and line.strip()[0] in "01"]
    assert [row.split("|")[-1].strip() for row in rows] == ["0", "1", "1", "0"]
