"""The Korean edition (notebooks/ko/) stays in step with the English one.

Each Korean notebook is made by ``tools/translate_notebooks.py`` from its English notebook and a
translation file. Here: the committed Korean notebook is what the tool makes now (so an English edit
without a matching translation fails), its code is the English code token for token once string
literals and comments are masked, and its prose is Korean. The Korean notebooks are executed and
compared with their committed outputs by ``tests/test_notebooks.py``, as the English ones are.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

from tools import translate_notebooks as translate

ROOT = Path(__file__).resolve().parent.parent
KOREAN = sorted((ROOT / "notebooks" / "ko").glob("*.ipynb"))
HANGUL = re.compile(r"[가-힣]")


def masked_code(source: str) -> list[tuple[int, str]]:
    """The cell's tokens with every string literal as "…" and without comments: what must not drift.

    Formatted strings count as literals whole (Python 3.12 splits them into parts; the mask joins them).
    """
    tokens = []
    depth = 0  # inside an f-string (3.12+ tokenizes FSTRING_START … FSTRING_END)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        name = tokenize.tok_name[token.type]
        if name == "FSTRING_START":
            depth += 1
            if depth == 1:
                tokens.append((tokenize.STRING, "…"))
            continue
        if name == "FSTRING_END":
            depth -= 1
            continue
        if depth or token.type in (tokenize.COMMENT, tokenize.NL):
            continue
        tokens.append((tokenize.STRING, "…") if token.type == tokenize.STRING else (token.type, token.string))
    return tokens


def test_there_is_a_korean_edition_with_a_glossary() -> None:
    assert KOREAN, "no notebooks in notebooks/ko/"
    assert {p.stem for p in KOREAN} == set(translate.translated_names())
    guide = (ROOT / "notebooks" / "ko" / "README.md").read_text(encoding="utf-8")
    assert "용어집" in guide and "역전파" in guide and "backpropagation" in guide
    for path in KOREAN:
        assert f"({path.name})" in guide, f"notebooks/ko/README.md does not link {path.name}"


@pytest.mark.parametrize("path", KOREAN, ids=[p.stem for p in KOREAN])
def test_korean_notebook_is_what_its_translation_makes(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    made = translate.korean_source(path.stem)
    rerun = f"run `python tools/translate_notebooks.py {path.stem}` and `python tools/notebooks.py ko/{path.stem}`"
    assert [(c.id, c.cell_type, c.source) for c in committed.cells] == [
        (c.id, c.cell_type, c.source) for c in made.cells], f"ko/{path.name} is out of step with its translation: {rerun}"
    assert [c.metadata for c in committed.cells] == [c.metadata for c in made.cells]


@pytest.mark.parametrize("path", KOREAN, ids=[p.stem for p in KOREAN])
def test_korean_code_equals_english_code_apart_from_strings_and_comments(path: Path) -> None:
    english = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    korean = nbformat.read(path, as_version=4)
    assert [c.id for c in korean.cells] == [c.id for c in english.cells]
    for en, ko in zip(english.cells, korean.cells):
        assert en.cell_type == ko.cell_type, en.id
        if en.cell_type == "code":
            assert masked_code(ko.source) == masked_code(en.source), f"code cell {en.id} differs beyond strings"


@pytest.mark.parametrize("path", KOREAN, ids=[p.stem for p in KOREAN])
def test_korean_prose_is_korean(path: Path) -> None:
    korean = nbformat.read(path, as_version=4)
    english = {c.id: c.source for c in nbformat.read(ROOT / "notebooks" / path.name, as_version=4).cells}
    for cell in korean.cells:
        if cell.cell_type == "markdown":
            assert cell.source != english[cell.id] and len(HANGUL.findall(cell.source)) >= 5, cell.id
    setup = "\n".join(c.source for c in korean.cells if c.cell_type == "code")
    assert 'course.language("ko")' in setup  # the checker answers in Korean


def test_the_mask_sees_a_code_change_and_ignores_strings_and_comments() -> None:
    code = 'apple = Value(100, label="apple")  # the apples\nprint(f"price = {price.data:.4g}")'
    assert masked_code(code) == masked_code('apple = Value(100, label="사과")  # 사과\nprint(f"지불 금액 = {price.data}")')
    assert masked_code(code) != masked_code(code.replace("100", "101"))
    assert masked_code(code) != masked_code(code.replace("apple =", "pear ="))
    assert masked_code(code) != masked_code(code.replace("label=", "name="))


def test_the_translation_tool_refuses_a_missing_or_stale_translation() -> None:
    english = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Apples"),
                                              nbformat.v4.new_code_cell('x = Value(1, label="apple")')])
    english.cells[0].id, english.cells[1].id = "intro", "code1"
    good = translate.parse("=== markdown intro\n# 사과\n=== code code1\n'\"apple\"' -> '\"사과\"'\n")
    made = translate.translated(english, good)
    assert [c.source for c in made.cells] == ["# 사과", 'x = Value(1, label="사과")']
    with pytest.raises(translate.TranslationError, match="no translation of markdown cell intro"):
        translate.translated(english, translate.parse("=== code code1\n'\"apple\"' -> '\"사과\"'\n"))
    with pytest.raises(translate.TranslationError, match="'\"pear\"' is not in it"):
        translate.translated(english, translate.parse("=== markdown intro\n# 사과\n=== code code1\n'\"pear\"' -> '\"배\"'\n"))
    with pytest.raises(translate.TranslationError, match="which the English notebook does not have"):
        translate.translated(english, translate.parse("=== markdown intro\n# 사과\n=== markdown gone\n# 없음\n"))
    with pytest.raises(translate.TranslationError, match="two Python string literals"):
        translate.parse("=== code code1\napple -> 사과\n")
