"""The replay's quick check that a whole batch takes a tape's branch pattern
(``_Guards.agree``: one min and max per column compared with constants) against the
guard-by-guard evaluation it skips: it never says "all agree" when a sample differs."""

from __future__ import annotations

import operator
import random

import numpy as np

from autograd.compiler.tape import NUMBER, _Guards

COMPARISONS = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne, None]
NUMBERS = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 9.0, 10.0, float("inf"), float("-inf"), float("nan")]


def _case(rng: random.Random) -> tuple[_Guards, list[np.ndarray], int, bool]:
    size = rng.choice([1, 2, 5, 17])
    columns = 3
    pool = rng.sample(NUMBERS, rng.randint(1, 4))
    batch = np.array([[rng.choice(pool) for _ in range(columns)] for _ in range(size)])
    shared = np.array([[rng.choice(pool) for _ in range(columns)]])  # a row the batch shares
    vals = [shared, shared, batch]
    fns, refs = [], []
    for _ in range(rng.randint(1, 5)):
        fn = rng.choice(COMPARISONS)
        column = (rng.choice([0, 2, 2]), rng.randrange(columns))
        if fn is None:
            refs.append([column])
        else:
            kind = rng.random()
            if kind < 0.7:
                const = (NUMBER, rng.choice(NUMBERS))
                refs.append([column, const] if rng.random() < 0.5 else [const, column])
            else:
                refs.append([column, (2, rng.randrange(columns))])
        fns.append(fn)
    # each guard's outcome as one sample took it (the traced sample)
    probe = _Guards(fns, refs, tuple(False for _ in fns))
    row = rng.randrange(size)
    traced = probe.evaluate(vals, size)[row]
    outcomes = tuple((int(v) if np.isfinite(v) else float(v)) if fn is None else bool(v) for fn, v in zip(fns, traced))
    consts = [c for operands in refs for s, c in operands if s == NUMBER]
    has_nan = bool(np.isnan(batch).any() or np.isnan(shared).any() or np.isnan(consts).any())
    return _Guards(fns, refs, outcomes), vals, size, has_nan


def test_agree_is_exactly_the_evaluation_where_it_says_so() -> None:
    rng = random.Random(24)
    said_yes = said_no = 0
    for _ in range(3000):
        guards, vals, size, has_nan = _case(rng)
        every = bool((guards.evaluate(vals, size) == guards.outcomes).all())
        quick = guards.agree(vals, size)
        assert not quick or every  # never "all agree" when a sample differs
        if every and not has_nan:
            assert quick  # without nan (in the data or a constant) the quick check is exact
        said_yes += quick
        said_no += not quick
    assert said_yes > 300 and said_no > 300  # both answers exercised


def test_a_class_index_range_is_one_min_and_max() -> None:
    ge_lt = [operator.ge, operator.lt] * 2
    refs = [[(2, 0), (NUMBER, 0.0)], [(2, 0), (NUMBER, 10.0)]] * 2
    guards = _Guards(ge_lt, refs, (True,) * 4)
    assert len(guards.bounds) == 1 and not guards.others
    inside, outside = np.array([[0.0], [9.0], [3.0]]), np.array([[0.0], [10.0], [3.0]])
    assert guards.agree([None, None, inside], 3)
    assert not guards.agree([None, None, outside], 3)
