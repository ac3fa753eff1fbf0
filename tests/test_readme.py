"""The README is a front page: short, with a contents list, a quick start that writes its files,
and commands that exist. (Its examples run in tests/test_docs.py, with the manual's.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_is_a_front_page_with_a_contents_list() -> None:
    assert len(README.splitlines()) <= 300
    headings = re.findall(r"^## (.+)$", README, re.M)
    contents = _section("Contents")
    anchors = re.findall(r"\]\(#([^)]+)\)", contents)
    assert len(anchors) >= 6
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", README, re.M)}
    assert set(anchors) <= slugs, set(anchors) - slugs
    for chapter in ("autograd", "higher-order", "compile", "nn", "viz", "numerics", "speed"):
        assert f"](docs/{chapter}.md)" in _section("The manual"), chapter
    assert {"Quick start", "Notebooks", "The manual", "Licence"} <= set(headings)


def test_quick_start_writes_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    [code] = re.findall(r"^```python\n(.*?)^```", _section("Quick start"), re.S | re.M)
    assert 20 <= len(code.splitlines()) <= 40
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md quick start", "exec"), namespace)
    out = tmp_path / "out"
    written = sorted(p.name for p in out.iterdir())
    assert written == ["apple.svg", "apple_player.html", "xor.json", "xor_history.png"]
    assert (out / "apple.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert (out / "apple_player.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (out / "xor_history.png").read_bytes().startswith(b"\x89PNG")
    import nn

    assert nn.load(out / "xor.json").state_dict() == namespace["model"].state_dict()  # type: ignore[attr-defined]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "220.00000000000003 2.2 110.00000000000001 200.0"
    assert printed[1:3] == ["out/apple.svg", "out/apple_player.html"]  # each save returns its path
    assert printed[3] == "[0.0, 1.0, 1.0, 0.0]" and printed[4] == "out/xor.json"
    import matplotlib.pyplot as plt

    plt.close("all")


def test_readme_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test", "docs", "bench", "lab", "notebooks", "figures"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_install_section_names_the_hips_autograd_clash() -> None:
    section = _section("Two commands")
    assert "HIPS autograd" in section and "pip uninstall autograd" in section and "ImportError" in section
