"""Exercises with checked answers for the gradtrace notebooks (the course).

A notebook asks the learner to predict a number before a cell reveals it, or to fill in a
small function; the learner runs ``course.check("04.apple_grad", answer)``, which says right or
wrong and gives a hint, and never prints the expected answer. Each exercise's solution lives
here, in ``course.exercises`` (out of the notebooks' sight), and the tests run every exercise
with its solution and with a typical wrong answer.

    >>> import course
    >>> course.is_right("01.nand_sum", -0.3)
    True
    >>> course.is_right("01.nand_sum", 0.3)
    False

``course.language("ko")`` switches the messages to Korean (the Korean edition's notebooks).
"""

from course.checker import EXERCISES, Exercise, check, hint, is_right, language, verdict

__all__ = ["EXERCISES", "Exercise", "check", "hint", "is_right", "language", "verdict"]
