"""The array kit's softmax pieces, vectorised over classes: what tests/test_rule_forms.py
does not see from the outside.

test_rule_forms compares every rule's array form with its float form. Here: the sum by
extraction that the softmax family's exponentials use is as exact as it claims, against
exact rational sums; the pieces a Rows remembers between the forward and the backward
rule give the bits a fresh computation gives; the backward rules give one (classes,
batch) array; and the fast largest-of keeps the float kit's first zero and its nans.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from autograd import arrays, floats
from autograd.ops import OPS


def _columns(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """(k, n) shifted exponentials as the softmax family makes them: each column's largest
    is exactly 1, the others in [0, 1], some tiny, subnormal or 0; in some columns the
    largest is left out (the sums Σ_{j≠winner})."""
    logits = rng.normal(0.0, rng.choice([0.3, 3.0, 30.0, 300.0], size=n), size=(k, n))
    es = np.exp(logits - logits.max(axis=0))
    left_out = rng.random(n) < 0.3
    es[logits.argmax(axis=0)[left_out], np.nonzero(left_out)[0]] = 0.0
    es *= rng.choice([1.0, 1.0, 1e-300, 2.0**-1060], size=n)  # subnormal sums too
    return es


@pytest.mark.parametrize("k", [1, 2, 3, 10, 33])
def test_unit_sum_is_within_a_hair_of_half_an_ulp_of_the_exact_sum(k: int) -> None:
    """The sum by extraction is faithful with an error far below an ulp: at most
    (0.5 + 2⁻³⁰) ulp from the exact sum, computed in rationals. Correct rounding is
    missed only where the exact sum lies within that hair of a tie (1 + x + tiny, with
    1 + x a tie): math.fsum agrees on all but a handful of columns, as the compensated
    sum does."""
    rng = np.random.default_rng(k)
    es = _columns(rng, k, 600)
    got = arrays._unit_sum(es)
    compensated = arrays._compensated_sum(es)
    disagree_fsum = disagree_compensated = 0
    for j in range(es.shape[1]):
        column = es[:, j].tolist()
        exact = sum(map(Fraction, column), Fraction(0))
        value = float(got[j])
        ulp = Fraction(math.ulp(value)) if value else Fraction(math.ulp(0.0))
        assert abs(Fraction(value) - exact) <= ulp * (Fraction(1, 2) + Fraction(1, 2**30)), (k, j, column)
        disagree_fsum += value != math.fsum(column)
        disagree_compensated += value != compensated[j]
    assert disagree_fsum <= 6 and disagree_compensated <= 6, (disagree_fsum, disagree_compensated)


def test_unit_sum_of_nan_is_nan_and_of_zeros_is_zero() -> None:
    rows = np.array([[1.0, 0.0, np.nan], [0.5, 0.0, 0.25]])
    got = arrays._unit_sum(rows)
    assert got[0] == 1.5 and got[1] == 0.0 and not math.copysign(1.0, got[1]) < 0 and math.isnan(got[2])


FAMILY = ["logsumexp", "softmax", "log_softmax"]


def _rows(name: str, matrix: np.ndarray, index: np.ndarray) -> arrays.Rows:
    return arrays.Rows(matrix, [index] if OPS[name].n_params else [])


@pytest.mark.parametrize("name", FAMILY)
def test_backward_after_forward_on_one_rows_equals_backward_on_fresh_rows(name: str) -> None:
    """A batch replay gives the forward and the backward rule one Rows, which remembers
    the largest logits, the winner and the shifted exponentials in between. The backward
    then gives the same bits as on a fresh Rows of the same logits, which computes them
    anew; and its result is one (classes, batch) array, not a list of rows."""
    forward, backward = OPS[name].rules_for(arrays)
    rng = np.random.default_rng(5)
    k, b = 10, 64
    matrix = rng.normal(0.0, 4.0, (k, b))
    matrix[3, :8] = np.inf
    matrix[5, 8:12] = np.nan  # non-finite largest logits: the plain formulas
    matrix[:, 12:16] = 0.0  # ties
    index = rng.integers(0, k, b)
    g = rng.normal(size=b)
    with arrays.quiet():
        shared = _rows(name, matrix, index)
        out = forward(shared)
        remembered = backward(g, out, shared)
        fresh = backward(g, out, _rows(name, matrix.copy(), index))
        again = forward(_rows(name, matrix.copy(), index))
    assert isinstance(remembered, np.ndarray) and remembered.shape == (k, b)
    np.testing.assert_array_equal(remembered, fresh)  # nan where nan, the same bits elsewhere
    np.testing.assert_array_equal(out, again)
    assert np.isnan(remembered[:, 8:12]).all() and np.isfinite(remembered[:, 16:]).all()


def test_shifted_exps_remembers_only_for_the_same_largest() -> None:
    rows = arrays.Rows(np.array([[0.0, 1.0], [2.0, -1.0]]))
    m = arrays.max_of(rows)
    assert arrays.max_of(rows) is m
    first = arrays.shifted_exps(rows, m)
    assert arrays.shifted_exps(rows, m) is first
    other = np.array([3.0, 3.0])
    shifted = arrays.shifted_exps(rows, other)  # another shift: computed, not remembered
    np.testing.assert_array_equal(shifted.matrix, np.exp(rows.matrix - other))
    np.testing.assert_array_equal(arrays.shifted_exps(rows, m).matrix, first.matrix)  # the last shift is remembered
    assert rows[:1] is rows[:1]  # a slice of the rows is remembered as well, with what it remembers


@pytest.mark.parametrize(
    "column",
    [[-0.0, 0.0], [0.0, -0.0], [-0.0, -1.0, 0.0], [1.0, np.nan, 2.0], [np.nan, -np.inf], [-np.inf, -np.inf],
     [np.inf, 1.0], [-5.0, -3.0, -3.0], [1e-300, -0.0]],
)
def test_max_of_and_winner_are_the_float_kits(column: list[float]) -> None:
    """max_of reduces with numpy.maximum, but a largest of 0 comes from the first maximal
    operand, as in the float kit: max(-0.0, 0.0) is -0.0, max(0.0, -0.0) is 0.0."""
    ordinary = [3.0] * len(column)  # another sample in the batch, as a replay has
    rows = arrays.Rows(np.array([column, ordinary]).T.copy())
    m, w = arrays.max_of(rows), arrays.winner(rows)
    expected = floats.max_of(column)
    assert (math.isnan(m[0]) and math.isnan(expected)) or (
        m[0] == expected and math.copysign(1.0, m[0]) == math.copysign(1.0, expected)
    )
    assert w[0] == floats.winner(column) and m[1] == 3.0


def test_scaled_except_puts_own_at_each_samples_index() -> None:
    xs = arrays.Rows(np.arange(6.0).reshape(3, 2))
    got = arrays.scaled_except(xs, np.array([10.0, 100.0]), np.array([2, 0]), np.array([-1.0, -2.0]))
    np.testing.assert_array_equal(got, [[0.0, -2.0], [20.0, 300.0], [-1.0, 500.0]])
    assert floats.scaled_except([0.0, 2.0, 4.0], 10.0, 2, -1.0) == [0.0, 20.0, -1.0]
    np.testing.assert_array_equal(arrays.scaled(xs, 2.0), 2.0 * xs.matrix)
