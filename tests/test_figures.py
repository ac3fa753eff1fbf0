"""The README's pictures are up to date: each is what `make figures` draws from today's code.

``tools/figures.py`` records per picture the SHA-256 of its inputs (a drawing's DOT text; a
plot's data and plotting code) and of the file. Here the inputs are computed afresh and must
hash the same, and each file must be the one recorded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tools import figures

ROOT = Path(__file__).resolve().parent.parent

README = (ROOT / "README.md").read_text(encoding="utf-8")
REDRAW = "run `make figures` and commit docs/figures/"


def test_every_figure_is_drawn_recorded_and_shown_in_the_readme() -> None:
    assert len(figures.FIGURES) >= 4
    assert sorted(figures.read_manifest()) == sorted(figures.FIGURES), REDRAW
    on_disk = sorted(p.name for p in figures.FOLDER.iterdir() if p != figures.MANIFEST)
    assert on_disk == sorted(figures.FIGURES), f"docs/figures/ holds files no figure makes, or lacks some: {REDRAW}"
    for name in figures.FIGURES:
        assert f"](docs/figures/{name})" in README, f"the README does not show docs/figures/{name}"


@pytest.mark.parametrize("name", list(figures.FIGURES))
def test_figure_is_up_to_date(name: str) -> None:
    recorded = figures.read_manifest()[name]
    picture = figures.FIGURES[name]()
    assert hashlib.sha256(picture.inputs.encode()).hexdigest() == recorded["inputs"], (
        f"docs/figures/{name} was drawn from other inputs than today's code gives: {REDRAW}"
    )
    written = (figures.FOLDER / name).read_bytes()
    assert hashlib.sha256(written).hexdigest() == recorded["file"], (
        f"docs/figures/{name} is not the file `make figures` wrote: {REDRAW}"
    )


def test_drawings_show_what_the_readme_says() -> None:
    """Independent of the hashes: the lecture drawing carries the lectures' numbers."""
    source = figures.FIGURES["apple_lecture.svg"]().inputs
    for number in ("100", "2.2", "110", "200", "1.1", "220"):
        assert f">{number}<" in source, number
    svg = (figures.FOLDER / "apple_lecture.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and ">220<" in svg and ">2.2<" in svg
    shaded = figures.FIGURES["vanishing_gradient.svg"]().inputs
    assert "|grad|" in shaded and "10⁻⁴ to 10⁻³" in shaded  # the legend reaches the vanishing decades
    assert ">grad 0.0001366<" in shaded and "x gets 1.4·10⁻⁴ of it" in README  # x's gradient, as the README says
    png = (figures.FOLDER / "decision_boundary.png").read_bytes()
    assert png.startswith(b"\x89PNG") and b"Software" not in png  # no version stamp: redrawing changes nothing


def test_inputs_see_data_and_code_but_not_rounding_noise() -> None:
    inputs = figures._inputs
    assert inputs({"w": [0.1 + 0.2]}) == inputs({"w": [0.3]})  # differs in the 17th digit only
    assert inputs({"w": [0.3]}) != inputs({"w": [0.300001]})
    assert figures.decision_boundary.__name__ in inputs(figures.decision_boundary)  # a function counts by its source
    with pytest.raises(ValueError, match="registered twice"):
        figures.figure("apple_lecture.svg")(figures.apple_lecture)


def _width_px(path: Path) -> float:
    """A picture's natural width in CSS pixels: an SVG's width in points × 4/3, a PNG's or GIF's pixels."""
    if path.suffix == ".svg":
        import re

        width = re.search(r'<svg width="([\d.]+)pt"', path.read_text(encoding="utf-8"))
        assert width, path.name
        return float(width.group(1)) * 4 / 3
    from PIL import Image

    with Image.open(path) as image:
        return image.size[0]


def test_pictures_read_at_githubs_column_width() -> None:
    """GitHub shows a README in a column about 830 px wide and scales wider pictures down: none
    may shrink below 0.8 (a drawing's 14 pt text stays at 15 px or more), and the two pictures
    that stand side by side fit the column together."""
    column = 830
    for name in figures.FIGURES:
        assert _width_px(figures.FOLDER / name) * 0.8 <= column, f"{name} is {_width_px(figures.FOLDER / name):.0f} px wide"
    side_by_side = ("vanishing_gradient.svg", "decision_boundary.png")
    row = next(line for line in README.splitlines() if all(f"docs/figures/{n}" in line for n in side_by_side))
    assert row.startswith("|")
    assert sum(_width_px(figures.FOLDER / n) for n in side_by_side) <= column
