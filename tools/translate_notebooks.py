"""Make the Korean edition (notebooks/ko/) from the English notebooks and a translation file each.

    python tools/translate_notebooks.py                  # every notebook that has a translation file
    python tools/translate_notebooks.py 04_computational_graph ...
    python tools/notebooks.py ko/04_computational_graph  # then execute it (make notebooks does all)

A translation file, ``notebooks/ko/translations/<name>.txt``, has one section per cell it changes,
each starting with a line ``=== markdown <cell id>`` or ``=== code <cell id>``:

- a markdown section holds the cell's Korean text, which replaces the English;
- a code section holds replacements, one a line, ``'old' -> 'new'`` with both sides Python string
  literals: every occurrence of ``old`` in the cell becomes ``new``. They may change only string
  literals and comments (labels, printed words); ``tests/test_notebooks_ko.py`` checks that the code
  is otherwise the English edition's, token for token.

Every markdown cell of the English notebook needs a translation; code cells without a section are
copied as they are. The Korean notebook keeps the English one's cell ids, so the two stay in step:
when a cell is added, changed or removed in English, this script says which translation is missing
or stale. Lines before the first section, and lines starting with ``#`` in a code section, are
comments.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = ROOT / "notebooks"
KOREAN = ENGLISH / "ko"
TRANSLATIONS = KOREAN / "translations"

_SECTION = re.compile(r"^=== (markdown|code) (\S+)[ \t]*$", re.M)


class TranslationError(ValueError):
    """A translation file that does not fit its English notebook."""


@dataclass
class Translation:
    markdown: dict[str, str] = field(default_factory=dict)
    code: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def parse(text: str, where: str = "") -> Translation:
    """The sections of a translation file."""
    translation = Translation()
    parts = _SECTION.split(text)
    for kind, cell_id, body in zip(parts[1::3], parts[2::3], parts[3::3]):
        if cell_id in translation.markdown or cell_id in translation.code:
            raise TranslationError(f"{where}: cell {cell_id} has two sections")
        if kind == "markdown":
            translation.markdown[cell_id] = body.strip("\n")
            continue
        pairs = []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            pair = _pair(line)
            if pair is None:
                raise TranslationError(f"{where}: code {cell_id}, line {number}: expected 'old' -> 'new' "
                                       f"(two Python string literals), got {line!r}")
            pairs.append(pair)
        translation.code[cell_id] = pairs
    return translation


def _pair(line: str) -> tuple[str, str] | None:
    """``'old' -> 'new'`` as two strings; the arrow may also occur inside either literal."""
    for match in re.finditer(" -> ", line):
        old, new = line[: match.start()].strip(), line[match.end():].strip()
        try:
            pair = (ast.literal_eval(old), ast.literal_eval(new))
        except (SyntaxError, ValueError):
            continue
        if all(isinstance(part, str) for part in pair):
            return pair
    return None


def translated(english: NotebookNode, translation: Translation, where: str = "") -> NotebookNode:
    """The Korean notebook: the English one's cells and metadata, with the translation applied; no outputs."""
    ids = {cell.id: cell for cell in english.cells}
    problems = [f"no translation of markdown cell {cell.id}" for cell in english.cells
                if cell.cell_type == "markdown" and cell.id not in translation.markdown]
    problems += [f"a translation of {kind} cell {cell_id}, which the English notebook does not have"
                 for kind, table in (("markdown", translation.markdown), ("code", translation.code))
                 for cell_id in table if cell_id not in ids or ids[cell_id].cell_type != kind]
    cells = []
    for cell in english.cells:
        if cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(translation.markdown.get(cell.id, cell.source))
        else:
            source = cell.source
            for old, replacement in translation.code.get(cell.id, []):
                if old not in source:
                    problems.append(f"code cell {cell.id}: {old!r} is not in it (stale?)")
                source = source.replace(old, replacement)
            new = nbformat.v4.new_code_cell(source)
        new.id = cell.id
        new.metadata = nbformat.from_dict(dict(cell.metadata))
        cells.append(new)
    if problems:
        raise TranslationError(f"{where}: " + "; ".join(problems))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=nbformat.from_dict(dict(english.metadata)))
    notebook.nbformat_minor = english.nbformat_minor
    return notebook


def korean_source(name: str) -> NotebookNode:
    """The Korean edition of notebook ``name`` as its translation file makes it (no outputs)."""
    path = TRANSLATIONS / f"{name}.txt"
    english = nbformat.read(ENGLISH / f"{name}.ipynb", as_version=4)
    return translated(english, parse(path.read_text(encoding="utf-8"), path.name), path.name)


def translated_names() -> list[str]:
    return sorted(p.stem for p in TRANSLATIONS.glob("*.txt"))


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from tools.notebooks import write

    names = [name.removesuffix(".ipynb") for name in argv] or translated_names()
    for name in names:
        notebook = korean_source(name)
        target = KOREAN / f"{name}.ipynb"
        if target.exists():  # keep the outputs of unchanged code cells until the notebook is executed again
            old = {cell.id: cell for cell in nbformat.read(target, as_version=4).cells}
            for cell in notebook.cells:
                previous = old.get(cell.id)
                if cell.cell_type == "code" and previous is not None and previous.source == cell.source:
                    cell.outputs, cell.execution_count = previous.outputs, previous.execution_count
        write(notebook, target)
        print(f"wrote {target.relative_to(ROOT)}; run `python tools/notebooks.py ko/{name}` to execute it")


if __name__ == "__main__":
    main(sys.argv[1:])
