"""The manual (docs/*.md) and the README: every Python example runs as written, every
relative link points at a file, and no page reads like a development log."""

from __future__ import annotations

import linecache
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
EXAMPLES = [
    (page, number, code)
    for page in PAGES
    for number, code in enumerate(FENCE.findall(page.read_text(encoding="utf-8")))
]
CHAPTERS = ("autograd", "higher-order", "compile", "nn", "viz", "numerics", "speed", "notebooks", "lecture-notes")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_every_chapter_is_there_and_has_examples_where_it_should() -> None:
    for chapter in CHAPTERS:
        assert (ROOT / "docs" / f"{chapter}.md").is_file(), chapter
    with_code = {_name(page) for page, _, _ in EXAMPLES}
    for chapter in ("autograd", "higher-order", "compile", "nn", "viz", "numerics"):
        assert f"docs/{chapter}.md" in with_code, f"docs/{chapter}.md has no runnable example"


@pytest.mark.parametrize(
    ("page", "number", "code"), EXAMPLES, ids=[f"{_name(p)}:{n}" for p, n, _ in EXAMPLES]
)
def test_example_runs(page: Path, number: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    """Each block runs in a scratch folder (the files it writes land there); it warns exactly
    where a comment says ``# warns: SomeWarning``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    filename = f"<{_name(page)} block {number}>"
    # the block's lines in linecache, as a file's or a notebook cell's are: tracebacks show them,
    # and autograd.compile reads the subscripts it gathers by (table[token_id]) from them
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(code, filename, "exec"), {"__name__": "__docs__"})
    announced = re.findall(r"# warns: (\w+)", code)
    assert [w.category.__name__ for w in caught] == announced, [str(w.message) for w in caught]
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:
        pass


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_relative_links_point_at_files(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{_name(page)} links to files that do not exist: {broken}"


# What a development log looks like: run dates and times, issue numbers, instruction counts,
# accounts of who did what in a session. They belong in benchmarks/RESULTS.md or nowhere.
_LOG = re.compile(
    r"\b20\d\d-\d\d-\d\d\b|\b\d\d:\d\d UTC\b|\bissues? #?\d+\b|callgrind|million instructions|this session",
    re.I,
)


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_no_development_log_in_user_facing_text(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    found = sorted({m.group(0) for m in _LOG.finditer(text)})
    assert not found, f"{_name(page)} reads like a development log here: {found}"


def _docstrings(path: Path) -> str:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return "\n".join(ast.get_docstring(n) or "" for n in nodes)


def test_no_development_log_in_notebooks_or_docstrings() -> None:
    """The site shows these too: the notebooks' cells and the API reference from the docstrings."""
    import json

    found = {}
    for notebook in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells)
        found[notebook.relative_to(ROOT).as_posix()] = sorted({m.group(0) for m in _LOG.finditer(text)})
    for package in ("autograd", "nn", "viz"):
        for module in sorted((ROOT / package).rglob("*.py")):
            found[module.relative_to(ROOT).as_posix()] = sorted({m.group(0) for m in _LOG.finditer(_docstrings(module))})
    assert not {name: log for name, log in found.items() if log}


def test_the_log_check_can_fail() -> None:
    for line in ("At the last run (2026-11-26 11:57 UTC)", "`autograd.compile` (issue 11)", "callgrind counts 193"):
        assert _LOG.search(line), line


def test_speed_chapter_quotes_the_figures_of_results_md() -> None:
    """The bold figures in docs/speed.md are those of the run recorded in benchmarks/RESULTS.md."""
    speed = (ROOT / "docs" / "speed.md").read_text(encoding="utf-8")
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    figures = re.findall(r"\*\*(\d[^*]*)\*\*", speed)
    assert len(figures) >= 8
    missing = [figure for figure in figures if figure not in results]
    assert not missing, f"docs/speed.md quotes figures benchmarks/RESULTS.md does not have (make bench ran again?): {missing}"


def test_every_notebook_is_listed_in_the_readme_and_the_notebooks_chapter() -> None:
    """docs/notebooks.md lists every notebook; the README lists those in notebooks/ and may link a
    whole folder (notebooks/ko/, an edition in another language) instead of each of its notebooks."""
    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    notebooks = [n for n in notebooks if ".ipynb_checkpoints" not in n.parts]
    assert notebooks
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    chapter = (ROOT / "docs" / "notebooks.md").read_text(encoding="utf-8")
    for notebook in notebooks:
        relative = notebook.relative_to(ROOT).as_posix()
        folder = notebook.parent.relative_to(ROOT).as_posix()
        in_readme = f"]({relative})" in readme or (folder != "notebooks" and f"]({folder}/)" in readme)
        assert in_readme, f"the README's notebook list lacks {relative}"
        assert f"](../{relative})" in chapter, f"docs/notebooks.md lacks {relative}"
