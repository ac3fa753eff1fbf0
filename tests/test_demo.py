"""`make demo` and the first run: the lectures' numbers, where the drawings go, what `make` says it does."""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
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


ROOT = Path(__file__).resolve().parent.parent


def test_drawing_demo_prints_the_paths_it_writes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    drawing = runpy.run_path(str(ROOT / "examples" / "drawing.py"), run_name="drawing_demo")
    written = drawing["main"](tmp_path)
    out = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["apple_price_lecture.svg", "apple_price_record.svg"]
    for path in written:
        assert f"wrote {path}" in out
        assert path.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_readme_says_where_the_demo_writes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    drawing = runpy.run_path(str(ROOT / "examples" / "drawing.py"), run_name="drawing_demo")
    assert drawing["OUT"] == ROOT / "out"
    assert "out/apple_price_lecture.svg" in section and "out/apple_price_record.svg" in section


def _make_dry_run(target: str) -> str:
    """The commands ``make`` would run for ``target`` from scratch (-B: as if nothing were built yet)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # under make test
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_first_install_says_what_it_does_and_shows_pips_progress() -> None:
    commands = _make_dry_run(".venv/.installed-dev").splitlines()
    install = next(i for i, line in enumerate(commands) if "pip install" in line and "-e '.[dev]'" in line)
    assert "--quiet" not in commands[install] and " -q " not in commands[install]
    explanation = " ".join(commands[:install])
    assert "==> Setup: installing gradtrace" in explanation and "into .venv/" in explanation
    # pip >= 25.1 draws a bar over the installation itself (before, a long silent step)
    assert any("pip install" in line and "'pip>=25.1'" in line for line in commands[:install])


def test_make_lab_installs_jupyterlab_once_and_opens_the_notebooks() -> None:
    commands = _make_dry_run("lab").splitlines()
    install = next(line for line in commands if "pip install" in line and "lab]" in line)
    assert commands.index(install) < commands.index(".venv/bin/jupyter lab notebooks/") == len(commands) - 1
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^lab = \[.*"jupyterlab>=\d', pyproject, re.M)


def test_demo_ends_by_saying_where_to_go_next() -> None:
    last = [line for line in _make_dry_run("demo").splitlines() if line.strip()][-1]
    assert "Next:" in last and "make lab" in last and "make docs" in last and "site/index.html" in last
