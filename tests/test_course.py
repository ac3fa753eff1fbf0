"""The course's exercises: every one is solved by its solution, catches typical mistakes, never prints the answer.

The notebooks ask for answers with ``course.check(id, answer)``; their solutions live in
``course/exercises.py``. Here each exercise runs with its solution (right) and with each of its
typical mistakes (wrong, with a hint), and every exercise is asked in both editions of a notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

import course
from course import EXERCISES
from course import exercises as _registered  # noqa: F401  (registers the exercises)

ROOT = Path(__file__).resolve().parent.parent
IDS = sorted(EXERCISES)
CORE = ["01_perceptron", "02_mlp_xor", "03_activations_and_losses", "04_computational_graph",
        "05_backprop_by_hand", "06_training_loops", "07_backprop_matrix_form"]


@pytest.fixture(autouse=True)
def english():
    course.language("en")
    yield
    course.language("en")


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_solution_is_right(exercise_id: str, capsys) -> None:
    solution = EXERCISES[exercise_id].solution()
    assert course.is_right(exercise_id, solution)
    course.check(exercise_id, solution)
    assert capsys.readouterr().out == f"{exercise_id}: ✓ Right.\n"


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_wrong_answer_is_caught_with_a_hint_and_without_the_answer(exercise_id: str) -> None:
    exercise = EXERCISES[exercise_id]
    mistakes = exercise.mistakes()
    assert mistakes, f"{exercise_id} has no typical mistake to test with"
    solution = exercise.solution()
    for wrong in mistakes:
        assert not course.is_right(exercise_id, wrong), (exercise_id, wrong)
        message = course.verdict(exercise_id, wrong)
        assert message.startswith(f"{exercise_id}: ✗ Not yet. Hint: ")
        if isinstance(solution, (int, float)):  # the number asked for is not in the message
            for shown in {repr(solution), f"{solution:.4g}"}:
                assert shown not in message, (exercise_id, shown, message)


def test_an_unanswered_exercise_asks_for_an_answer_and_a_failing_one_is_wrong() -> None:
    assert course.verdict("04.apple_grad", ...) == "04.apple_grad: Replace ... with your answer, then run this cell again."
    assert course.verdict("01.rule_step", (..., 0.6, ...)) == course.verdict("04.apple_grad", ...).replace("04.apple_grad", "01.rule_step")
    assert course.verdict("04.cube_local", lambda g, x: ...).endswith("Replace ... with your answer, then run this cell again.")
    assert course.verdict("03.tanh_local", lambda y: 1 / 0).startswith("03.tanh_local: ✗ Not yet. Your answer raised ZeroDivisionError")
    assert not course.is_right("03.tanh_local", lambda y: 1 / 0)
    assert not course.is_right("04.apple_grad", "2.2")  # a string is not a number
    assert not course.is_right("04.apple_grad", True)


def test_messages_in_korean() -> None:
    course.language("ko")
    assert course.verdict("04.apple_grad", 2.2) == "04.apple_grad: ✓ 정답입니다."
    assert course.verdict("04.apple_grad", 2.0).startswith("04.apple_grad: ✗ 아직 아닙니다. 힌트: 오른쪽에서 왼쪽으로")
    with pytest.raises(ValueError, match="language must be one of"):
        course.language("fr")


def test_an_unknown_exercise_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no exercise '04.apples'; the exercises are 01.nand_sum"):
        course.check("04.apples", 2.2)


def _asked(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [m for cell in notebook.cells if cell.cell_type == "code"
            for m in re.findall(r"course\.check\(\"([\w.]+)\"", cell.source)]


@pytest.mark.parametrize("edition", ["", "ko"])
def test_every_core_notebook_asks_three_exercises_or_more_and_every_exercise_is_asked(edition: str) -> None:
    folder = ROOT / "notebooks" / edition
    asked = {name: _asked(folder / f"{name}.ipynb") for name in CORE if (folder / f"{name}.ipynb").exists()}
    if edition == "ko" and not asked:
        pytest.skip("no Korean notebooks")
    for name, ids in asked.items():
        assert len(set(ids)) >= 3, f"{edition}/{name} asks {ids}"
        assert all(i.startswith(name[:2] + ".") for i in ids), (name, ids)
    every = {i for ids in asked.values() for i in ids}
    expected = {i for i in IDS if any(i.startswith(n[:2] + ".") for n in asked)}
    assert every == expected
