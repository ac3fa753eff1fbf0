"""The README's Python examples run as written, and its commands exist."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Each block runs; a block warns exactly where a comment says `# warns: SomeWarning`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})
    announced = re.findall(r"# warns: (\w+)", BLOCKS[index])
    assert [w.category.__name__ for w in caught] == announced, [str(w.message) for w in caught]


def test_readme_apple_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[0], "README.md block 0", "exec"), namespace)
    price, apple, num, tax = (namespace[k] for k in ("price", "apple", "num", "tax"))
    assert price.data == pytest.approx(220)  # type: ignore[attr-defined]
    assert (apple.grad, num.grad, tax.grad) == pytest.approx((2.2, 110, 200))  # type: ignore[attr-defined]


def test_readme_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test", "bench", "lab", "notebooks", "figures"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
