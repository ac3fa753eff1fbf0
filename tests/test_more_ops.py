"""The trigonometric, hyperbolic, logarithmic, rounding and n-ary ops other engines' tests call.

Each is one entry of the op table (tests/test_op_table.py checks its derivative against
central differences, tests/test_rule_forms.py its three forms against each other, and
tests/test_higher_order.py its higher derivatives). Here: forward values against mpmath
at 50 digits, the conventions where the ops have a choice to make (Python's sign for
``%``, ``-0`` from ``ceil``, the gradient of ``std`` where it is 0, ties of ``minimum``,
zeros in ``prod``), the functions' three kinds of number, and the drawings.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import autograd
from autograd import Value, grad

mpmath.mp.dps = 50

# (op name, the function at 50 digits, points inside the op's domain)
UNARY = [
    ("tan", mpmath.tan, [-1.4, -0.3, 0.0, 0.7, 1.3]),
    ("sinh", mpmath.sinh, [-5.0, -0.2, 1e-9, 0.9, 4.5]),
    ("cosh", mpmath.cosh, [-5.0, -0.2, 0.0, 0.9, 4.5]),
    ("arcsin", mpmath.asin, [-0.95, -0.3, 1e-9, 0.5, 0.95]),
    ("arccos", mpmath.acos, [-0.95, -0.3, 0.0, 0.5, 0.95]),
    ("arctan", mpmath.atan, [-5.0, -0.3, 1e-9, 0.5, 4.0]),
    ("arcsinh", mpmath.asinh, [-5.0, -0.3, 1e-9, 0.5, 4.0]),
    ("arccosh", mpmath.acosh, [1.05, 1.5, 3.0, 19.0]),
    ("arctanh", mpmath.atanh, [-0.95, -0.3, 1e-9, 0.5, 0.95]),
    ("log2", mpmath.log2 if hasattr(mpmath, "log2") else lambda x: mpmath.log(x, 2), [0.05, 0.5, 1.0, 8.0, 19.0]),
    ("log10", mpmath.log10, [0.05, 0.5, 1.0, 100.0, 19.0]),
    ("log1p", lambda x: mpmath.log(1 + x), [-0.95, -1e-10, 1e-12, 0.5, 19.0]),
    ("expm1", mpmath.expm1, [-5.0, -1e-10, 1e-12, 0.5, 4.0]),
]

BINARY = [
    ("hypot", lambda a, b: mpmath.sqrt(a * a + b * b), [(3.0, 4.0), (-1.5, 0.25), (1e-3, -4.0)]),
    ("arctan2", mpmath.atan2, [(1.0, -1.0), (-0.5, 2.0), (-1.0, -1e-3), (3.0, 0.1)]),
    ("logaddexp", lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b)), [(0.5, -1.5), (2.0, 2.0), (-5.0, 4.0)]),
    ("logaddexp2", lambda a, b: mpmath.log(2**a + 2**b, 2), [(0.5, -1.5), (2.0, 2.0), (-5.0, 4.0)]),
]


def ulps_apart(a: float, b: float) -> float:
    return abs(a - b) / math.ulp(b) if b else abs(a) / 5e-324


@pytest.mark.parametrize(("name", "exact", "points"), UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward_within_an_ulp_or_two_of_mpmath(name: str, exact, points: list[float]) -> None:  # type: ignore[no-untyped-def]
    for x in points:
        got = getattr(Value(x), name)().data
        want = float(exact(mpmath.mpf(x)))
        assert ulps_apart(got, want) <= 2, (name, x, got, want)
        assert getattr(autograd, name)(x) == got  # the function on a float: the same rule
        assert getattr(autograd, name)(np.array([x]))[0] == pytest.approx(got, rel=4e-16)  # NumPy's own


@pytest.mark.parametrize(("name", "exact", "points"), BINARY, ids=[b[0] for b in BINARY])
def test_binary_forward_within_an_ulp_or_two_of_mpmath(name: str, exact, points) -> None:  # type: ignore[no-untyped-def]
    fn = getattr(autograd, name)
    for a, b in points:
        want = float(exact(mpmath.mpf(a), mpmath.mpf(b)))
        for args in ((Value(a), Value(b)), (a, Value(b)), (Value(a), b)):
            node = fn(*args)
            assert node.op == name and ulps_apart(node.data, want) <= 2, (name, a, b, node.data, want)
        assert fn(a, b) == node.data
        assert fn(np.array([a]), np.array([b]))[0] == pytest.approx(want, rel=4e-16)


def test_mod_takes_the_divisors_sign_as_python_does() -> None:
    for a, b in [(7.0, 3.0), (-7.0, 3.0), (7.0, -3.0), (-7.0, -3.0), (5.5, 2.0), (-0.0, 5.0), (0.0, -5.0), (-3.0, math.inf)]:
        node = Value(a) % Value(b)
        assert node.op == "mod"
        got, want = node.data, a % b
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (a, b, got, want)
        assert (a % Value(b)).data == want and (Value(a) % b).data == want
    assert math.isnan((Value(1.0) % 0.0).data)  # no ZeroDivisionError: nan, as NumPy
    a, b = Value(-7.0), Value(3.0)
    assert grad(a % b, [a, b]) == [1.0, 3.0]  # d/da = 1, d/db = -⌊-7/3⌋ = 3
    assert (Value(2.0) % 3)._op == "%"


def test_floor_ceil_and_sign_keep_signed_zeros_and_nan() -> None:
    cases = {"floor": [(-0.5, -1.0), (-0.0, -0.0), (2.5, 2.0), (0.3, 0.0)],
             "ceil": [(-0.5, -0.0), (-0.0, -0.0), (2.5, 3.0), (0.3, 1.0)],
             "sign": [(-0.5, -1.0), (-0.0, -0.0), (2.5, 1.0), (0.0, 0.0)]}  # fmt: skip
    for name, pairs in cases.items():
        for x, want in pairs:
            got = getattr(Value(x), name)().data
            assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (name, x, got)
            assert got == getattr(np, name)(x) or name == "sign"  # NumPy's floor and ceil
        for special in (math.inf, -math.inf):
            assert getattr(Value(special), name)().data == (special if name != "sign" else math.copysign(1.0, special))
        assert math.isnan(getattr(Value(math.nan), name)().data)
        x = Value(1.7)
        assert grad(getattr(x, name)(), [x]) == [0.0]
    assert math.floor(Value(1.7)) == 1 and isinstance(math.floor(Value(1.7)), int)  # the int protocol stays


def test_prod_differentiates_through_zeros() -> None:
    xs = [Value(v) for v in (2.0, 0.0, 3.0, 0.0)]
    assert grad(autograd.prod(xs), xs) == [0.0, 0.0, 0.0, 0.0]
    xs = [Value(v) for v in (2.0, 0.0, 3.0)]
    assert grad(autograd.prod(xs), xs) == [0.0, 6.0, 0.0]  # not out/x: 0/0
    assert autograd.prod([]).data == 1.0
    assert autograd.prod([2, Value(5.0), 0.5]).data == 5.0
    x, y = Value(1.5), Value(-2.0)
    [dx] = grad(autograd.prod([x, y, x]), [x], create_graph=True)  # x²y: 2xy, then 2y
    assert dx.data == 2 * 1.5 * -2.0 and grad(dx, [x]) == [-4.0]


def test_var_and_std_are_numpys_population_statistics() -> None:
    data = [0.5, -1.25, 3.0, 2.0]
    xs = [Value(v) for v in data]
    assert autograd.var(xs).data == pytest.approx(np.var(data), rel=1e-15)
    assert autograd.std(xs).data == pytest.approx(np.std(data), rel=1e-15)
    m = sum(data) / 4
    assert grad(autograd.var(xs), xs) == pytest.approx([2 * (v - m) / 4 for v in data], rel=1e-14)
    s = float(np.std(data))
    assert grad(autograd.std(xs), xs) == pytest.approx([(v - m) / (4 * s) for v in data], rel=1e-14)
    # the Hessian of var: (2/n)(δ_ij − 1/n)
    h = autograd.hessian(lambda *v: autograd.var(v), data)
    for i, row in enumerate(h):
        assert row == pytest.approx([(2 / 4) * ((i == j) - 1 / 4) for j in range(4)], abs=1e-15)
    equal = [Value(2.0), Value(2.0)]
    assert autograd.std(equal).data == 0.0 and grad(autograd.std(equal), equal) == [0.0, 0.0]  # as abs'(0)
    lone = Value(3.0)
    assert autograd.var([lone]).data == 0.0 and grad(autograd.std([lone]), [lone]) == [0.0]


def test_minimum_gives_the_gradient_to_the_first_least_operand() -> None:
    a, b, c = Value(1.0), Value(-2.0), Value(-2.0)
    node = autograd.minimum([a, b, c])
    assert node.data == -2.0 and node._op == "min"
    assert grad(node, [a, b, c]) == [0.0, 1.0, 0.0]
    assert math.isnan(autograd.minimum([a, Value(math.nan)]).data)  # nan wins, as in NumPy
    assert autograd.min is autograd.minimum and autograd.max is autograd.maximum  # NumPy's names
    assert "min" not in autograd.__all__  # a star import keeps Python's min and max


def test_hypot_and_atan2_at_the_origin() -> None:
    a, b = Value(0.0), Value(0.0)
    assert grad(autograd.hypot(a, b), [a, b]) == [0.0, 0.0]  # as abs'(0): hypot(x, 0) is |x|
    assert all(math.isnan(g) for g in grad(autograd.arctan2(a, b), [a, b]))  # no direction: nan, as PyTorch
    x = Value(1e300)  # √(x² + 1) and x² + y² would overflow; hypot does not
    assert grad(x.arcsinh(), [x]) == [pytest.approx(1e-300, rel=1e-15)]
    assert grad(autograd.arctan2(Value(1e300), x), [x])[0] == pytest.approx(-0.5e-300, rel=1e-15)


def test_logaddexp_at_infinities() -> None:
    inf = math.inf
    for a, b, want in [(inf, 3.0, inf), (-inf, 3.0, 3.0), (inf, inf, inf), (-inf, -inf, -inf), (1e308, -1e308, 1e308)]:
        for name in ("logaddexp", "logaddexp2"):
            got = getattr(autograd, name)(Value(a), Value(b)).data
            with np.errstate(over="ignore"):
                assert got == want == getattr(np, name)(a, b), (name, a, b, got)
    assert math.isnan(autograd.logaddexp(Value(math.nan), 1.0).data)
    x, y = Value(1000.0), Value(0.0)
    assert grad(autograd.logaddexp(x, y), [x, y]) == [1.0, 0.0]  # no overflow: σ(a − b)


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("mod", lambda x, y: x % y),
        ("hypot", autograd.hypot),
        ("arctan2", autograd.arctan2),
        ("logaddexp", autograd.logaddexp),
        ("tan", lambda x, y: x.tan() * y),
        ("arcsinh", lambda x, y: x.arcsinh() * y),
        ("prod", lambda x, y: autograd.prod([x, y])),
        ("std", lambda x, y: autograd.std([x, y])),
    ],
)
def test_the_new_ops_draw_with_their_symbols(name: str, build) -> None:  # type: ignore[no-untyped-def]
    from viz import draw_dot, explain

    x, y = Value(0.4, label="x"), Value(1.3, label="y")
    out = build(x, y)
    out.backward()
    source = draw_dot(out).source
    symbol = autograd.OPS[name].symbol
    assert f"tooltip={name}" in source and f"label=<{symbol}>" in source, (name, symbol)
    assert explain(out, x).total == x.grad  # the chain rule, path by path, from the table's rule
    assert symbol in str(explain(out, x)) or name in ("mod", "prod")  # written infix (%), or as Π
