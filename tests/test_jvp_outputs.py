"""``autograd.jvp`` on a function with several outputs: one forward pass, one column of the Jacobian."""

from __future__ import annotations

import math

import pytest

import autograd
from autograd import Value

W = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]  # two tanh units of three inputs
X = [0.3, -0.2, 0.1]


def layer(*xs: Value) -> list[Value]:
    return [autograd.dot(row, list(xs)).tanh() for row in W]


def test_a_unit_tangent_gives_a_column_of_the_jacobian_in_closed_form() -> None:
    for j in range(len(X)):
        tangent = [1.0 if k == j else 0.0 for k in range(len(X))]
        values, column = autograd.jvp(layer, X, tangent)
        for i, row in enumerate(W):
            t = math.tanh(sum(w * x for w, x in zip(row, X)))
            assert values[i] == pytest.approx(t, rel=1e-15)
            assert column[i] == pytest.approx((1 - t * t) * row[j], rel=1e-12)  # tanh' = 1 − t²


def test_columns_from_jvp_equal_rows_from_grad() -> None:
    leaves = [Value(x) for x in X]
    rows = [autograd.grad(out, leaves) for out in layer(*leaves)]
    for j in range(len(X)):
        _, column = autograd.jvp(layer, X, [1.0 if k == j else 0.0 for k in range(len(X))])
        assert column == pytest.approx([row[j] for row in rows], rel=1e-12, abs=1e-15)


def test_a_tuple_an_input_itself_and_a_constant_free_output() -> None:
    values, tangents = autograd.jvp(lambda x, y: (x, x * y, y), [3.0, 2.0], [1.0, 0.0])
    assert (values, tangents) == ([3.0, 6.0, 2.0], [1.0, 2.0, 0.0])


def test_one_output_still_gives_floats() -> None:
    assert autograd.jvp(lambda x: x * x, [3.0], [1.0]) == (9.0, 6.0)


def test_an_output_that_is_not_a_value_is_named() -> None:
    with pytest.raises(TypeError, match=r"output \[1\] must be a Value or a number; got str 'y'"):
        autograd.jvp(lambda x: [x, "y"], [1.0], [1.0])
    with pytest.raises(TypeError, match="fn must return a Value or a number; got str 'x'; a list or tuple of them"):
        autograd.jvp(lambda x: "x", [1.0], [1.0])


def test_a_constant_output_has_derivative_zero() -> None:
    """A plain number among the outputs is a constant, as in HIPS autograd and JAX."""
    assert autograd.jvp(lambda x: [x, 2.0], [1.0], [1.0]) == ([1.0, 2.0], [1.0, 0.0])
    assert autograd.jvp(lambda x: 2, [1.0], [1.0]) == (2.0, 0.0)
