"""The array kit: the op table's rules on NumPy arrays, elementwise over a batch.

Called with ``K=arrays``, a rule of :mod:`autograd.ops` gets one float64 array per
operand (one entry per sample; plain floats broadcast) and returns arrays: the batch
replay of a traced graph runs the same rules as the eager float path. A rule's
``K.where(c, a, b)`` becomes :func:`where_lazy` in its array form: only the branch
every sample takes runs, or both where samples differ (as ``numpy.where`` does):
callers run the rules under ``numpy.errstate(all="ignore")`` (:func:`quiet`), since
a branch no sample takes may overflow or divide by zero harmlessly. An op's index parameter (the class a softmax
output picks) may be a number or an integer array, one index per sample.

A variadic node's operands come as one :class:`Rows` array (operands × samples), and
the softmax family works on it whole: one NumPy call per piece over every class, a
backward rule's gradients as one array (``scaled``, ``scaled_except``), and the pieces
the forward rule computed (the largest logits, the winner, the shifted exponentials)
remembered by the Rows for the backward rule.

NumPy's elementary functions are not always correctly rounded, and its sums here are
compensated (the exponentials': by error-free extraction) rather than exact: results
may differ from the float kit's by a few ulps (``tests/test_rule_forms.py`` measures
how many).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from . import floats

__all__ = [
    "Rows", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "ceil", "cos", "cosh",
    "div", "exp", "expm1", "floor", "hypot", "is_finite", "is_zero", "isnan", "log", "log10", "log1p", "log2",
    "loser", "max_of", "mean", "min_of", "mod", "neg_g_a_over_b_squared", "pick", "pow", "prod",
    "prod_except", "quiet", "scaled", "scaled_except", "shifted_exps", "shifted_minus", "sigmoid", "sin",
    "sinh", "sqrt", "sum", "sum_and_rest", "sum_except", "tan", "tanh", "where", "where_lazy", "winner",
]  # fmt: skip

SCALAR = False  # the table gives this kit its array forms: K.where's branches as functions (where_lazy)
_TINY = np.finfo(np.float64).tiny  # the smallest normal float
_HUGE = np.finfo(np.float64).max

Array = np.ndarray
where = np.where
exp = np.exp
expm1 = np.expm1
log = np.log
log1p = np.log1p
tanh = np.tanh
sin = np.sin
cos = np.cos
sqrt = np.sqrt
tan = np.tan
sinh = np.sinh
cosh = np.cosh
arcsin = np.arcsin
arccos = np.arccos
arctan = np.arctan
arcsinh = np.arcsinh
arccosh = np.arccosh
arctanh = np.arctanh
arctan2 = np.arctan2
hypot = np.hypot
log2 = np.log2
log10 = np.log10
floor = np.floor
ceil = np.ceil
mod = np.mod  # Python's sign convention, as the float kit's a % b
pow = np.power  # noqa: A001 - the kit's name for a**b
div = np.true_divide
isnan = np.isnan
is_finite = np.isfinite


def where_lazy(condition: Array, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Array:
    """``where(condition, if_true(), if_false())``, calling only the branch every sample
    takes when they all take one (the table's array form of a rule's ``K.where``)."""
    c = np.asarray(condition)
    taken = np.count_nonzero(c)
    if taken == c.size:
        chosen = if_true()
    elif not taken:
        chosen = if_false()
    else:
        return np.where(c, if_true(), if_false())
    return np.where(c, chosen, chosen)  # the shape where() gives: the branch broadcast with the condition


def quiet() -> AbstractContextManager[object]:
    """A context in which the rules may overflow and divide by zero without warnings, as floats do."""
    return np.errstate(all="ignore")


def is_zero(x: Array) -> Array:
    """x is ±0."""
    return np.asarray(x) == 0.0


def sigmoid(x: Array) -> Array:
    """1 / (1 + e^-x) without overflow: e^-|x| in both branches."""
    z = np.exp(-np.abs(x))
    return np.where(np.asarray(x) >= 0.0, 1.0 / (1.0 + z), z / (1.0 + z))


def neg_g_a_over_b_squared(g: Array, a: Array, b: Array, out: Array) -> Array:
    """-g·(out/b), the divisor's gradient of out = a/b, as the float kit computes it: where
    out or out/b is not a normal float (a step overflowed or lost bits) and g, a, b are
    finite and nonzero, -g·a/b² is redone on mantissas and exponents apart (at g = 1e-300,
    a = 1, b = 1e-200: -1e100, where -g·(out/b) gives -inf)."""
    r = out / b
    plain = -g * r
    normal = (np.abs(r) >= _TINY) & (np.abs(r) <= _HUGE) & (np.abs(out) >= _TINY)
    ordinary = (g != 0.0) & (a != 0.0) & (b != 0.0) & np.isfinite(g) & np.isfinite(a) & np.isfinite(b)
    redo = ~normal & ordinary
    if not np.any(redo):  # the usual case: one test over the batch
        return plain
    (mg, eg), (ma, ea), (mb, eb) = np.frexp(g), np.frexp(a), np.frexp(b)
    careful = np.ldexp(-mg * ma / mb / mb, eg + ea - 2 * eb)  # each |m| in [0.5, 1): no overflow here
    return np.where(redo, careful, plain)


class Rows(list):  # type: ignore[type-arg]
    """Operands that are the rows of one 2-D array (one row per operand, one column per
    sample), followed by any other items (an op's parameters): the kit's functions over
    all operands read the array at once instead of stacking the rows again. A slice
    that stays within the array's rows keeps it.

    A Rows also remembers what the softmax family's pieces computed from it (its largest
    row per sample, the winner, the shifted exponentials, slices): a batch replay gives
    an op's forward and backward rules the same Rows, so the backward reads them instead
    of computing them again. The array must not change after the Rows is made."""

    __slots__ = ("matrix", "memo")

    def __init__(self, matrix: Array, extra: Sequence[object] = ()) -> None:
        super().__init__([*matrix, *extra])
        self.matrix = matrix
        self.memo: dict[object, Any] = {}

    def __getitem__(self, index: Any) -> Any:
        if index.__class__ is slice:
            start, stop, step = index.indices(len(self))
            if step == 1 and stop <= len(self.matrix) and start < stop:
                key = ("slice", start, stop)
                part = self.memo.get(key)
                if part is None:
                    part = self.memo[key] = Rows(self.matrix[start:stop])
                return part
        return list.__getitem__(self, index)


def _memo(xs: Sequence[object]) -> dict[object, Any] | None:
    """What xs remembers, when it is a Rows of its array's rows only (None: remember nothing)."""
    if xs.__class__ in _ROWS and len(xs) == len(xs.matrix):  # type: ignore[attr-defined]
        return xs.memo  # type: ignore[attr-defined, no-any-return]
    return None


def _stacked(xs: Sequence[Array | float]) -> Array:
    """The operands as rows of one 2-D array (numbers broadcast to the batch)."""
    if xs.__class__ in _ROWS and len(xs) == len(xs.matrix):  # type: ignore[attr-defined]
        return xs.matrix  # type: ignore[attr-defined, no-any-return]
    return np.stack(np.broadcast_arrays(*[np.asarray(x, dtype=np.float64) for x in xs]))


def sum(xs: Sequence[Array | float]) -> Array:  # noqa: A001 - the kit's name, as numpy.sum
    """Σ xs per sample, compensated: as if summed in twice the precision and rounded
    once, so it agrees with the float kit's correctly rounded sum (a plain sum of
    [5, 1e300, -1e300] gives 0, this one 5)."""
    rows = _stacked(xs)
    if xs.__class__ is _Exps:  # exponentials in [0, 1]: no overflow, and no check on the softmax family's path
        return _unit_sum(rows)
    return _as_float_kit_where_not_finite(_compensated_sum(rows), rows, floats.sum)


def _as_float_kit_where_not_finite(result: Array, rows: Array, rule: Callable[[list[float]], float]) -> Array:
    """result, except where it is inf or nan: there the float kit's rule, sample by sample.

    A partial sum that overflows ([1e308, 1e308, -1e308], or the mean of two -1e308) or
    meets an infinity of the other sign makes the pairwise sum inf or nan where the float
    kit (eager gradtrace) sums exactly and gives a finite number, or the infinity IEEE
    gives. Such samples are rare, so they are summed one at a time."""
    bad = ~np.isfinite(result)
    if not bad.any():
        return result
    result = np.array(result, dtype=np.float64)
    columns = rows.reshape(len(rows), -1)[:, bad.ravel()].T.tolist()
    result[bad] = [rule(column) for column in columns]
    return result


def _compensated_sum(rows: Array) -> Array:
    """The rows' sum, each addition's rounding error (Knuth's TwoSum, exact) collected
    apart and added last: as if summed in twice the precision and rounded once. The
    rows are added pairwise, a whole level of pairs per NumPy call (a softmax over ten
    logits: four levels, not ten additions), and the errors in plain precision."""
    total = np.asarray(rows, dtype=np.float64)
    errors = []
    while len(total) > 1:
        half = len(total) // 2
        a, b = total[:half], total[half : 2 * half]
        partial = a + b
        b_part = partial - a  # the part of b that made it into partial
        errors.append(((a - (partial - b_part)) + (b - b_part)).sum(axis=0))  # what a and b lost
        total = np.concatenate([partial, total[2 * half :]]) if len(total) % 2 else partial
    total = total[0]
    error = np.sum(errors, axis=0) if errors else 0.0
    # a non-finite total is inf or nan already; its error terms are nan, not a correction
    return np.where(np.isfinite(total), total + error, total)


def _unit_sum(rows: Array) -> Array:
    """The rows' sum where every entry is in [0, 1] (or nan), as exact as the compensated
    sum at a third of the NumPy calls: each entry is split into a high part on a grid of
    ulp(σ)/2, σ a power of two at least (k + 2) times the column's largest entry, and
    the rest. The high parts add up exactly in any order; the rests are below ulp(σ)/2
    each and add up in plain precision (Rump, Ogita and Oishi's ExtractVector: their sum
    is off by about k³·2⁻¹⁰⁶ of the total, which is rounded once at the end)."""
    k = len(rows)
    _, exponent = np.frexp(np.maximum.reduce(rows, axis=0))  # the largest < 2**exponent
    sigma = np.ldexp(1.0, exponent + (k + 1).bit_length())  # (k + 1).bit_length() = ⌈log2(k + 2)⌉
    high = (rows + sigma) - sigma
    return high.sum(axis=0) + (rows - high).sum(axis=0)


def _sum_rows(xs: Sequence[Array | float], rows: Array) -> Array:
    """The rows' sum: by extraction for the softmax family's exponentials, else compensated."""
    return _unit_sum(rows) if xs.__class__ is _Exps else _compensated_sum(rows)


def mean(xs: Sequence[Array | float]) -> Array:
    """The mean of xs per sample (where the sum overflows, the exact mean, as the float kit's)."""
    rows = _stacked(xs)
    return _as_float_kit_where_not_finite(_compensated_sum(rows) / len(xs), rows, floats.mean)


def _others(rows: Array, i: Array | float) -> Array:
    """The rows with row i of each sample made 0; i a number or one index per sample."""
    return np.where(_classes(len(rows)) != np.asarray(i), rows, 0.0)


def sum_except(xs: Sequence[Array | float], i: Array | float) -> Array:
    """Σ_{j≠i} xs_j per sample; i a number or one index per sample."""
    return _sum_rows(xs, _others(_stacked(xs), i))


def sum_and_rest(xs: Sequence[Array | float], i: Array | float) -> tuple[Array, Array]:
    """(Σ xs, Σ_{j≠i} xs_j) per sample, as ``sum`` and ``sum_except`` give them: both
    compensated sums run side by side, as one sum over twice the columns."""
    rows = _stacked(xs)
    rest = _others(rows, i)
    if rest.shape != rows.shape:  # one row of logits and an index per sample: apart
        return _sum_rows(xs, rows), _sum_rows(xs, rest)
    both = _sum_rows(xs, np.concatenate([rows, rest], axis=1))
    n = rows.shape[1]
    return both[:n], both[n:]


def _classes(n: int) -> Array:
    """[[0], [1], ..., [n - 1]]: compared with an index per sample, a (n, batch) mask."""
    found = _CLASSES.get(n)
    if found is None:
        found = _CLASSES[n] = np.arange(n)[:, None]
        found.flags.writeable = False
    return found


_CLASSES: dict[int, Array] = {}


def max_of(xs: Sequence[Array | float]) -> Array:
    """The largest per sample; nan wins. Of equal largest operands, the first (the one
    ``winner`` names, as in the float kit): max(0.0, -0.0) is 0.0, where ndarray.max gives -0.0."""
    memo = _memo(xs)
    if memo is not None and "max" in memo:
        return memo["max"]  # type: ignore[no-any-return]
    rows = _stacked(xs)
    m = np.maximum.reduce(rows, axis=0)  # nan wins; one largest value, but for the sign of a zero
    if not m.all():  # a largest of 0: the first maximal operand says which zero
        m = np.take_along_axis(rows, winner(xs)[None], axis=0)[0]
    if memo is not None:
        memo["max"] = m
    return m


def winner(xs: Sequence[Array | float]) -> Array:
    """Per sample, the index of the operand max_of gives: the first nan, else the first maximal one."""
    memo = _memo(xs)
    if memo is not None and "winner" in memo:
        return memo["winner"]  # type: ignore[no-any-return]
    found = _stacked(xs).argmax(axis=0)  # argmax takes the first nan, as the float kit does
    if memo is not None:
        memo["winner"] = found
    return found


def min_of(xs: Sequence[Array | float]) -> Array:
    """The smallest per sample; nan wins; of equal smallest operands, the first (as ``loser`` names)."""
    rows = _stacked(xs)
    return np.take_along_axis(rows, rows.argmin(axis=0)[None], axis=0)[0]


def loser(xs: Sequence[Array | float]) -> Array:
    """Per sample, the index of the operand min_of gives: the first nan, else the first minimal one."""
    return _stacked(xs).argmin(axis=0)  # argmin takes the first nan, as the float kit does


def prod(xs: Sequence[Array | float]) -> Array:
    """x_0·x_1·… per sample, left to right (NumPy multiplies the rows in order, as the float kit does)."""
    return np.multiply.reduce(_stacked(xs), axis=0)


def prod_except(xs: Sequence[Array | float], i: int) -> Array:
    """The product of every operand but xs[i] per sample, left to right; 1 where there is no other."""
    rows = _stacked(xs)
    others = np.delete(rows, i, axis=0)
    return np.multiply.reduce(others, axis=0) if len(others) else np.ones(rows.shape[1:])


def pick(xs: Sequence[Array | float], i: Array | float) -> Array:
    """xs[i] per sample; i a number or one index per sample."""
    if np.ndim(i) == 0:
        return np.asarray(xs[int(i)], dtype=np.float64)
    rows = _stacked(xs)
    index = np.asarray(i, dtype=np.int64)
    if rows.shape[1] == index.shape[0]:
        return rows[index, np.arange(index.shape[0])]
    return np.take_along_axis(rows, index[None, :], axis=0)[0]


def shifted_exps(xs: Sequence[Array | float], m: Array) -> Rows:
    """e^(x - m) for each x, with the rounding of x - m put back as in the float kit:
    one (operands, batch) array. Given a Rows and the largest of its rows that max_of
    gave it, the second call (the backward rule's) gets the first call's array."""
    memo = _memo(xs)
    if memo is not None:
        kept = memo.get("exps")
        if kept is not None and kept[0] is m:
            return kept[1]  # type: ignore[no-any-return]
    rows = _stacked(xs)
    d = rows - m
    e = np.exp(d)
    x_part = d + m
    lo = (rows - x_part) - (m + (d - x_part))  # the rounding of x - m (TwoSum)
    correction = e * lo
    # where e·lo is not finite (e is inf or nan, or lo is: x - m overflowed) e stays as it is;
    # where e or lo is 0 (x = m: lo = 0), e + e·lo is e
    es = _Exps(np.where(np.isfinite(correction), e + correction, e))
    if memo is not None:
        memo["exps"] = (m, es)
    return es


class _Exps(Rows):
    """shifted_exps' result: each entry in [0, 1] where the largest is finite (nan where
    it is not), which the kit's sums add by extraction."""

    __slots__ = ()


_ROWS = (Rows, _Exps)


def scaled(xs: Sequence[Array | float], c: Array | float) -> Array:
    """c·x for each x: one (operands, batch) array."""
    return c * _stacked(xs)


def scaled_except(xs: Sequence[Array | float], c: Array | float, i: Array | float, own: Array | float) -> Array:
    """c·x for each x, but own in place of operand i: one (operands, batch) array; i a
    number or one index per sample."""
    rows = _stacked(xs)
    return np.where(_classes(len(rows)) == np.asarray(i), own, c * rows)


def shifted_minus(x: Array, m: Array, c: Array) -> Array:
    """(x - m) - c with the rounding of x - m put back (TwoSum), as in the float kit."""
    d = x - m
    x_part = d + m
    lo = (x - x_part) - (m + (d - x_part))
    return np.where(np.isfinite(d), (d - c) + lo, d - c)
