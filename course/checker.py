"""The checker: ``check(exercise_id, answer)`` prints right or wrong, with a hint; never the answer."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_MESSAGES = {
    "en": {
        "right": "✓ Right.",
        "wrong": "✗ Not yet.",
        "hint": "Hint",
        "empty": "Replace ... with your answer, then run this cell again.",
        "unknown": "no exercise {id!r}; the exercises are {known}",
        "error": "Your answer raised {error}",
    },
    "ko": {
        "right": "✓ 정답입니다.",
        "wrong": "✗ 아직 아닙니다.",
        "hint": "힌트",
        "empty": "... 자리에 답을 쓰고 이 셀을 다시 실행하세요.",
        "unknown": "{id!r}라는 연습 문제는 없습니다. 연습 문제: {known}",
        "error": "답을 계산하다가 오류가 났습니다: {error}",
    },
}
_language = ["en"]


def language(code: str) -> None:
    """Messages in English (``"en"``, the default) or Korean (``"ko"``)."""
    if code not in _MESSAGES:
        raise ValueError(f"language must be one of {sorted(_MESSAGES)}, got {code!r}")
    _language[0] = code


@dataclass(frozen=True)
class Exercise:
    """One exercise: how to judge an answer, its hint (per language), its solution and a typical mistake.

    ``judge(answer)`` returns True for a right answer. ``solution()`` and ``mistakes()`` build answers
    (fresh ones, since some are functions) for the tests; the notebooks never call them.
    """

    id: str
    judge: Callable[[Any], bool]
    hint: dict[str, str]
    solution: Callable[[], Any]
    mistakes: Callable[[], list[Any]] = field(default=lambda: [])


EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.id in EXERCISES:
        raise ValueError(f"exercise {exercise.id!r} is registered twice")
    EXERCISES[exercise.id] = exercise
    return exercise


def _exercise(exercise_id: str) -> Exercise:
    from course import exercises  # noqa: F401  (registers them)

    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(_MESSAGES[_language[0]]["unknown"].format(id=exercise_id, known=", ".join(EXERCISES))) from None


def is_right(exercise_id: str, answer: Any) -> bool:
    """True if ``answer`` solves the exercise. An answer that raises counts as wrong."""
    try:
        return bool(_exercise(exercise_id).judge(answer))
    except KeyError:
        raise
    except Exception:  # a learner's function that fails is a wrong answer, not a crash of the checker
        return False


def verdict(exercise_id: str, answer: Any) -> str:
    """The message ``check`` prints: right, or wrong with the hint. It never contains the solution."""
    text = _MESSAGES[_language[0]]
    exercise = _exercise(exercise_id)
    if _unanswered(answer):
        return f"{exercise_id}: {text['empty']}"
    try:
        right = bool(exercise.judge(answer))
    except TypeError as error:
        if "ellipsis" in str(error):  # a function that still returns the ... placeholder
            return f"{exercise_id}: {text['empty']}"
        return f"{exercise_id}: {text['wrong']} {text['error'].format(error=f'{type(error).__name__}: {error}')}"
    except Exception as error:  # noqa: BLE001
        return f"{exercise_id}: {text['wrong']} {text['error'].format(error=f'{type(error).__name__}: {error}')}"
    if right:
        return f"{exercise_id}: {text['right']}"
    return f"{exercise_id}: {text['wrong']} {text['hint']}: {hint(exercise_id)}"


def _unanswered(answer: Any) -> bool:
    """``...`` (the placeholder), ``None``, or a tuple or list that still holds a ``...``."""
    if answer is ... or answer is None:
        return True
    return isinstance(answer, (tuple, list)) and any(_unanswered(part) for part in answer)


def check(exercise_id: str, answer: Any) -> None:
    """Print whether ``answer`` solves the exercise (with a hint if not). ``...`` means not answered yet."""
    print(verdict(exercise_id, answer))


def hint(exercise_id: str) -> str:
    """The exercise's hint, in the current language."""
    hints = _exercise(exercise_id).hint
    return hints.get(_language[0], hints["en"])


# Judges shared by the exercises


def number_close(expected: float, rel: float = 1e-3, abs_: float = 1e-9) -> Callable[[Any], bool]:
    """A number within ``rel`` (relative) of ``expected``: 1e-3 accepts an answer worked out to 4 digits."""

    def judge(answer: Any) -> bool:
        return isinstance(answer, (int, float)) and not isinstance(answer, bool) and math.isclose(
            float(answer), expected, rel_tol=rel, abs_tol=abs_)

    return judge


def numbers_close(expected: list[float], rel: float = 1e-3, abs_: float = 1e-9) -> Callable[[Any], bool]:
    def judge(answer: Any) -> bool:
        values = list(answer)
        return len(values) == len(expected) and all(number_close(e, rel, abs_)(v) for v, e in zip(values, expected))

    return judge
