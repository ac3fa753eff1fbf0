"""A differential fuzzer for ``autograd.compile``: random one-sample programs, compiled
and run eagerly, must give equal numbers, or compile must refuse them.

Each program is Python source (so a mismatch prints as code anyone can read and run):
a ``build()`` that makes parameters, constant Values, non-leaf Values and ops of one's
own, and returns ``fn(x, ...)``, a function of one sample written with gradtrace
Values. The programs mix every op of autograd's op table (read at generation time, so
ops added to the table are fuzzed too) with the constructs a learner writes and a
tracer may get wrong (:data:`FEATURES`): Python branches on the data, ``max``/``min``
and ``sorted`` of Values, ``abs`` by comparison, ``float()``/``int()`` reads of data,
arithmetic on integer labels, closures over parameters and non-leaf Values, Values
made inside ``fn`` (accumulators), nn's losses, and ops of one's own, sound and unsound.
Two features are of the run rather than the code: ``nonfinite`` puts inf, -inf, nan,
±1e308 and 0 among the later batches' numbers, and ``threads`` ends with two threads
calling the one step at once.

Each program is compiled with ``autograd.compile`` and called on a first batch (small,
often of one row, with constant columns or equal labels) and then on later batches of
1, 3, 8 and 40 samples, the parameters and constants changed before each. Every call is
compared with eager gradtrace (``fn`` on each sample, ``autograd.mean``/``sum``,
``backward()``): per-sample results, extras, the batch loss and every parameter's
``.grad``, with tests/test_compile.py's definition of "equal within 1e-12 relative"
(:func:`test_compile.assert_matches` and its rounding-size bound). Non-finite entries
must be the same non-finite numbers. The outcome of a program is

* ``equal``: every batch equal;
* ``refused``: ``autograd.CompileError`` at some call (the batches before it equal);
* ``mismatch``: anything else where eager succeeds: a different number, another
  exception, non-finite where eager is finite;
* ``invalid``: eager itself raised (the generator's fault; should stay rare).

Run ``python tests/fuzz_compile.py -n 1000 --seed 1`` (``make fuzz N=1000 SEED=1``); a
mismatch prints with its program's seed, ``--program SEED`` runs that one again and
``--minimize`` shortens it; ``--exclude`` leaves features out. The summary attributes
mismatches to features (programs with one feature alone say the most).
tests/test_fuzz_compile.py runs a fixed-seed slice in the suite.
"""

from __future__ import annotations

import argparse
import collections
import linecache
import random
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

# run as a script: test_compile from beside this file, autograd from this checkout (not an installed copy)
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from test_compile import (  # noqa: E402
    NARROWER,
    Eager,
    assert_matches,
    compiled_backward,
    eager_backward,
    eager_outputs,
    sample_args,
)

import autograd  # noqa: E402
from autograd import CompileError, Value  # noqa: E402
from autograd.ops import _TABLE, VARIADIC, Op  # noqa: E402

# What a program may contain besides the table's ops. Each program draws a few.
FEATURES = (
    "branch_if",  # if v.data > 0: ... else: ...; micrograd's y if y.data > 0 else 0.1 * y
    "max_min",  # max(a, b), min(a, b) of Values
    "abs_cmp",  # a if a >= 0 else -a
    "sorted",  # sorted([...], key=lambda v: v.data)[i]
    "float_read",  # w * float(x[0]), v.data, round(), math.* of data
    "int_read",  # int(v), a list indexed by int(...) of data
    "label_arith",  # t * t, min(t, 1), t // 2, float(t == 2), if t == 1, ±1 labels, per-label picks
    "two_ints",  # two integer arguments (often equal on the first batch)
    "closure_nonleaf",  # a non-leaf Value computed outside fn, read inside it
    "accumulator",  # acc = Value(0.0); for ...: acc = acc + ...
    "own_op",  # ops of one's own whose rules are elementwise (NumPy or autograd's functions)
    "own_op_batch",  # ops of one's own whose forward or derivative reduces over a batch array
    "own_op_branch",  # ops of one's own with a Python if in a rule
    "own_op_math",  # ops of one's own written with math.* (floats only)
    "nn_loss",  # nn's losses inside fn: cross_entropy with the label, bce_loss with 0/1 ints, hinge, ...
    "threads",  # after the batches, two threads call the one step at once (results, losses, .grad sums)
    "nonfinite",  # the data: later batches hold inf, -inf, nan, ±1e308 and 0.0 among their numbers
    "gather",  # table[tok[i]], vec[k], nodes[tok[i]] on lists of Values (rows of ints: token ids), max(z.data ...)
)
# features drawn after the others, from a stream of their own (see Generator)
LATER_FEATURES = ("gather",)
EDGES = np.array([np.inf, -np.inf, np.nan, 1e308, -1e308, 0.0])

BUILT_IN: dict[str, Op] = {op.name: op for op in _TABLE}
N_CLASSES = 3
# ops through which a node's value passes without a transcendental function: a node of
# any size may feed them as it is; other ops get their operand squashed into their domain.
# var and std are here too: squashed operands crowd near the squash's bounds, and var's and
# std's derivatives (x - mean) cancel where operands nearly agree (see FLAT_WHERE_EQUAL)
PIECEWISE_LINEAR = {"add", "sub", "mul", "neg", "abs", "relu", "step", "sum", "mean", "dot", "maximum", "minimum", "leaky_relu", "var", "std"}
SYNTAX = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}", "pow": "{0} ** {1}", "neg": "-{0}", "abs": "abs({0})"}
OPERATORS = ("+", "-", "*", "/", "**", "%", "//")  # an op whose micrograd name is one of these is spelled with it
LATER_SIZES = (1, 3, 8, 40)
# var and std of equal operands: the deviations are 0, and so is every first-order error size
# (test_compile's bound); an ulp between NumPy's and libm's value of an operand (tanh, cosh)
# then gives var 1e-32 where eager gives 0. The same node twice is left out of their operands.
FLAT_WHERE_EQUAL = ("var", "std")


def table_ops() -> list[Op]:
    """The op table's ops as autograd has them now (not ops of one's own)."""
    return [op for name, op in autograd.OPS.items() if name in BUILT_IN]


def domain_of(op: Op, k: int) -> tuple[float, float]:
    """Operand k's interval: the table's, kept inside (-5, 5) (and tanh's narrower: see
    tests/test_compile.py), where eager and NumPy agree to 1e-12."""
    low, high = NARROWER.get(op.name, op.domain[min(k, len(op.domain) - 1)])
    return max(low, -5.0), min(high, 5.0)


def num(x: float) -> str:
    return repr(round(x, 3))


# --- ops of one's own ------------------------------------------------------------------------
# (feature, arity, forward body, derivative body); x, y, xs the operands; g, out as in autograd.primitive

OWN_OPS: tuple[tuple[str, int, str, str], ...] = (
    ("own_op", 1, "x * x + 1.0", "g * (2.0 * x)"),
    ("own_op", 1, "np.sin(x) * 0.5", "g * (0.5 * autograd.cos(x))"),
    ("own_op", 1, "x / (1.0 + abs(x))", "g / ((1.0 + abs(x)) * (1.0 + abs(x)))"),
    ("own_op", 1, "autograd.where(x > 0.0, x, 0.25 * x)", "autograd.where(x > 0.0, g, 0.25 * g)"),
    ("own_op", 2, "x * y + x", "(g * (y + 1.0), g * x)"),
    ("own_op", VARIADIC, "sum(xs) * 0.5", "[0.5 * g for _ in xs]"),
    ("own_op_batch", 1, "np.sqrt(np.sum(x * x))", "g * x / out"),
    ("own_op_batch", 1, "x - np.mean(x) + x", "g * (2.0 + 0.0 * np.sum(x))"),
    ("own_op_batch", 1, "x * x", "g * 2.0 * np.max(x)"),
    ("own_op_branch", 1, "x if x > 0 else 0.5 * x", "g if x > 0 else 0.5 * g"),
    ("own_op_branch", 1, "x * x", "g * 2.0 * x if x != 0 else 0.0 * g"),
    ("own_op_math", 1, "math.sin(x)", "g * math.cos(x)"),
    ("own_op_math", 1, "x * 2.0", "g * 2.0 + 0.0 * math.fabs(x)"),
)


# --- the generator --------------------------------------------------------------------------------


@dataclass
class Program:
    """One random program: its source, what it contains, and how to make its data."""

    seed: int
    source: str
    features: frozenset[str]
    ops: frozenset[str]
    width: int
    args: tuple[str, ...]  # after x: "t" (a float Value), "k", "j" (class indices), "s" (±1 label), "tok" (a row of ints)
    reduction: str
    own_names: tuple[str, ...] = ()
    tok_len: int = 0  # "tok": each sample's number of token ids (later batches may have more)
    rows: int = 0  # "tok": the tables' rows; token ids are drawn from -rows..rows - 1


class Generator:
    """Writes one program's source from a seed; ``exclude`` names features it never uses."""

    def __init__(self, seed: int, exclude: Iterable[str] = ()) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        # "gather" is drawn from a stream of its own, after the others: a seed's program without it
        # is the one it was before the feature existed (a kept program, such as a strict xfail's, stays)
        allowed = [f for f in FEATURES if f not in set(exclude) and f not in LATER_FEATURES]
        count = self.rng.choice((0, 1, 1, 2, 2, 3))
        self.features = set(self.rng.sample(allowed, min(count, len(allowed))))
        self.later_rng = random.Random(seed * 7919 + 17)
        self.later = [f for f in LATER_FEATURES if f not in set(exclude) and self.later_rng.random() < 0.15]
        self.used: set[str] = set()
        self.ops_used: set[str] = set()
        self.width = self.rng.randint(2, 4)
        args = ["t"] if self.rng.random() < 0.5 else []
        if {"label_arith", "two_ints", "nn_loss"} & self.features or self.rng.random() < 0.4:
            args.append("k")
        if "two_ints" in self.features:
            args.append(self.rng.choice(("j", "s")))
        if "label_arith" in self.features and "s" not in args and self.rng.random() < 0.4:
            args.append("s")
        self.tok_len = self.rows = self.cols = 0
        if "gather" in self.later:
            args.append("tok")
            r = self.later_rng
            self.tok_len, self.rows, self.cols = r.randint(1, 4), r.randint(N_CLASSES, 5), r.randint(2, 3)
        self.args = tuple(args)
        self.n_params = self.rng.randint(2, 6)
        self.n_consts = self.rng.randint(0, 2)
        self.n_closures = self.rng.randint(1, 2) if "closure_nonleaf" in self.features else 0
        self.body: list[str] = []
        self.values: list[str] = []  # names of Values made in fn, in order
        self.own: list[tuple[str, str, int, str, str]] = []  # (name, feature, arity, forward, derivative)
        self.reduction = self.rng.choice(("mean", "sum"))

    # operands

    def leaf(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            return f"x[{self.rng.randrange(self.width)}]"
        if r < 0.55 and "t" in self.args:
            return "t"
        if r < 0.62 and self.n_consts:
            return f"c[{self.rng.randrange(self.n_consts)}]"
        if r < 0.72 and self.n_closures:
            self.used.add("closure_nonleaf")
            return f"h[{self.rng.randrange(self.n_closures)}]"
        return f"p[{self.rng.randrange(self.n_params)}]"

    def value(self) -> tuple[str, bool]:
        """A Value's source and whether it is a leaf (of known, small size)."""
        if self.values and self.rng.random() < 0.6:
            recent = self.values[-4:] if self.rng.random() < 0.7 else self.values
            return self.rng.choice(recent), False
        return self.leaf(), True

    def number(self, low: float, high: float) -> str:
        return num(self.rng.uniform(low, high))

    def squashed(self, source: str, low: float, high: float) -> str:
        """source mapped into (low, high) by v / (1 + |v|): no transcendental rounding."""
        mid, half = (low + high) / 2, (high - low) / 2 * 0.95
        return f"({num(mid)} + {num(half)} * ({source} / (1.0 + abs({source}))))"

    def operand(self, op: Op, k: int, number_ok: bool = False) -> str:
        low, high = domain_of(op, k)
        if number_ok and self.rng.random() < 0.3:
            return self.number(low, high)
        source, is_leaf = self.value()
        inside = low <= -4.5 and high >= 4.5
        if (is_leaf and inside) or (op.name in PIECEWISE_LINEAR and self.rng.random() < 0.7):
            return source
        return self.squashed(source, low, high)

    # statements

    def new(self, expression: str) -> str:
        name = f"v{len(self.values)}"
        self.body.append(f"{name} = {expression}")
        self.values.append(name)
        return name

    def spell(self, op: Op) -> str:
        """A node of op through the public API, its operands drawn at random."""
        self.ops_used.add(op.name)
        if op.arity == 1:
            a = self.operand(op, 0)
            if op.name in SYNTAX:
                return SYNTAX[op.name].format(a)
            return f"{a}.{op.name}()" if hasattr(Value, op.name) else f"autograd.{_function(op)}({a})"
        if op.arity == 2:
            a = self.operand(op, 0)
            b = self.operand(op, 1, number_ok=True)
            if op.name == "pow" and self.rng.random() < 0.5:
                b = self.rng.choice(("2", "3", "0.5", "-1.0"))
            if op.name in SYNTAX:
                return SYNTAX[op.name].format(a, b)
            if op.short in OPERATORS:
                return f"{a} {op.short} {b}"
            return f"{a}.{op.name}({b})" if hasattr(Value, op.name) else f"autograd.{_function(op)}({a}, {b})"
        if op.name == "dot":
            n = self.rng.randint(1, 3)
            ws = ", ".join(self.operand(op, 0, number_ok=True) for _ in range(n))
            xs = ", ".join(self.operand(op, 0) for _ in range(n))
            bias = f", {self.operand(op, 0, number_ok=True)}" if self.rng.random() < 0.6 else ""
            return f"autograd.dot([{ws}], [{xs}]{bias})"
        if op.n_params == 1:  # an n-ary op with an index parameter: softmax, log_softmax
            n = self.rng.randint(N_CLASSES, N_CLASSES + 1)
            logits = ", ".join(self.operand(op, 0) for _ in range(n))
            index = "k" if "k" in self.args and self.rng.random() < 0.6 else str(self.rng.randrange(n))
            return f"autograd.{op.name}([{logits}])[{index}]"
        if op.n_params:
            raise NotImplementedError(f"the fuzzer cannot spell op {op.name!r} ({op.n_params} parameters): teach spell()")
        n = self.rng.randint(1, 4)
        items = [self.operand(op, 0, number_ok=self.rng.random() < 0.3) for _ in range(n)]
        if op.name in FLAT_WHERE_EQUAL:
            items = list(dict.fromkeys(items))
        return f"autograd.{_function(op)}([{', '.join(items)}])"

    def op_statement(self) -> None:
        self.new(self.spell(self.rng.choice(table_ops())))

    def feature_statement(self, feature: str) -> None:
        rng = self.rng
        v = self.value()[0]
        w = self.value()[0]
        if feature == "branch_if":
            form = rng.randrange(4)
            if form == 0:
                self.new(f"{v} if {v}.data > 0 else 0.1 * {v}")
            elif form == 1:
                name = f"v{len(self.values)}"
                threshold = self.number(-0.5, 0.5)
                self.body += [
                    f"if {v}.data > {threshold}:",
                    f"    {name} = {v} * {w}",
                    "else:",
                    f"    {name} = {w}.exp() * 0.5 - {v}",
                ]
                self.values.append(name)
            elif form == 2:
                self.new(f"({v} - {w}).relu() if {v} > {w} else {w} * 2.0")
            else:
                name = f"v{len(self.values)}"
                self.body += [f"{name} = {v} * 1.5", f"if x[0].data < {self.number(-1, 1)}:", f"    {name} = {name} + {w}"]
                self.values.append(name)
        elif feature == "max_min":
            u = self.value()[0]
            self.new(rng.choice((f"max({v}, {w})", f"min({v}, {w})", f"max({v}, {w}, {u}) - min({v}, {u})", f"max(x) * {w}")))
        elif feature == "abs_cmp":
            self.new(rng.choice((f"{v} if {v} >= 0 else -{v}", f"-{v} if {v}.data < 0 else {v}", f"({v} if {v} > 0 else {v} * -1.0) + {w}")))
        elif feature == "sorted":
            u = self.value()[0]
            i = rng.randrange(3)
            self.new(
                rng.choice(
                    (
                        f"sorted([{v}, {w}, {u}], key=lambda z: z.data)[{i}]",
                        f"sorted([{v}, {w}, {u}])[{i}] * {w}",
                        f"sorted(x, key=lambda z: -z.data)[0] + {v}",
                        f"autograd.sum(sorted([{v}, {w}, {u}], key=lambda z: abs(z.data))[:2])",
                    )
                )
            )
        elif feature == "float_read":
            j = rng.randrange(self.width)
            self.new(
                rng.choice(
                    (
                        f"{v} * float(x[{j}])",
                        f"{v} + {w}.data",
                        f"{v} * round({w}.data, 1)",
                        f"{v} * math.tanh({w}.data)",
                        f"p[0] * float({v}) + x[{j}]",
                        f"{v} * np.float64(x[{j}].data)",
                        f"{v} * (1.0 if {w}.data > 0 else -1.0)",
                        f"{v} * float(format({w}, '.2f'))",
                    )
                )
            )
        elif feature == "int_read":
            n = self.n_params
            j = rng.randrange(self.width)
            self.new(
                rng.choice(
                    (
                        f"{v} * int(x[{j}] * 2.0)",
                        f"p[int(abs(x[{j}].data)) % {n}] * {v}",
                        f"{v} * int({w}.data > 0)",
                        f"{v} + math.floor({w})",
                        f"{v} * float(bool({w} > 0.5))",
                    )
                )
            )
        elif feature == "label_arith" and "k" in self.args:
            forms = [
                f"{v} * (k * k)",
                f"{v} * min(k, 1)",
                f"{v} + k // 2",
                f"{v} * float(k == 2)",
                f"{v} * (k + 1)",
                f"[p[0], p[1], {w}][k] * {v}",
                f"{v} * (2 - k) + {w} * k",
            ]
            if "s" in self.args:
                forms += [f"{v} * (1 - s)", f"({v} * s).relu()", f"{v} * max(s, 0)"]
            expression = rng.choice(forms)
            if rng.random() < 0.3:
                name = f"v{len(self.values)}"
                self.body += ["if k == 1:", f"    {name} = {v} * {w}", "else:", f"    {name} = {v} + {w}"]
                self.values.append(name)
            else:
                self.new(expression)
        elif feature == "two_ints" and "k" in self.args:
            other = "j" if "j" in self.args else "s"
            self.new(rng.choice((f"{v} * k + {w} * {other}", f"{v} * ({other} - k)", f"autograd.softmax([{v}, {w}, p[0]])[{other} % 3] * (k + 1)")))
        elif feature == "accumulator":
            u = self.value()[0]
            name = f"v{len(self.values)}"
            start, combine = rng.choice((("Value(0.0)", "{acc} + {item} * {w}"), ("Value(1.0)", "{acc} * {item}"), ("Value(0.5, label='acc')", "{acc} + {item}")))
            self.body += [
                f"acc = {start}",
                f"for item in [{v}, {u}, x[0]]:",
                "    acc = " + combine.format(acc="acc", item="item", w=w),
                f"{name} = acc",
            ]
            self.values.append(name)
            if rng.random() < 0.3:
                self.new(f"{name} * Value({self.number(-2, 2)})")
        elif feature.startswith("own_op"):
            self.own_statement(feature)
        elif feature == "nn_loss":
            forms = [f"nn.mse_loss({v}, {w})", f"nn.l1_loss({v}, 0.5)", f"nn.bce_with_logits({v}, 1.0)", f"nn.hinge_loss({v}, -1)"]
            if "t" in self.args:
                forms.append(f"nn.mse_loss({v}, t)")
            if "k" in self.args:
                u = self.value()[0]
                forms += [
                    f"nn.cross_entropy([{v}, {w}, {u}], k)",
                    f"nn.bce_loss({v}.sigmoid(), k % 2)",
                    f"nn.bce_loss({v}.sigmoid(), min(k, 1))",
                    f"nn.hinge_loss({v}, 1 - 2 * (k % 2))",
                    f"nn.bce_with_logits({v}, float(k == 1))",
                ]
            if "s" in self.args:
                forms.append(f"nn.hinge_loss({v}, s)")
            self.new(rng.choice(forms))
        elif feature == "gather":
            self.gather_statement(v, w)
        elif feature in ("nonfinite", "threads"):  # a property of the data or of the run; the statement is an op
            self.op_statement()
        else:
            self.op_statement()
            return
        self.used.add(feature)

    def gather_statement(self, v: str, w: str) -> None:
        """A list of Values (or of rows of them) indexed by a token id or a class index."""
        rng = self.rng
        i, j = rng.randrange(self.tok_len), rng.randrange(self.tok_len)
        col = rng.randrange(self.cols)
        operands = ", ".join([v, w, "x[0]"][: self.cols])
        forms = [
            f"sum(a * b for a, b in zip(tab[tok[{i}]], [{operands}]))",
            f"vec[tok[{i}]] * {v}",
            f"tab[tok[{i}]][{col}] + {w}",
            f"({v} - max(z.data for z in tab[tok[{i}]])) * {w}",
            f"[{v} * a for a in vec][tok[{i}]]",
            f"sum(a * b for a, b in zip(tab[tok[{i}]], tab[tok[{j}]])) + {v}",
            f"{v} * min(z.data for z in [{v}, {w}, vec[tok[{j}]]]) + {w}",
        ]
        if "k" in self.args:
            forms += [f"tab[k][{col}] * {v}", f"vec[k] + vec[tok[{i}]] * {v}"]
        if rng.random() < 0.3:  # the row taken first, by a name
            name = f"v{len(self.values)}"
            self.body += [f"token = tok[{i}]", "row = tab[token]", f"{name} = row[{col}] * {v} + sum(row)"]
            self.values.append(name)
        else:
            self.new(rng.choice(forms))

    def own_statement(self, feature: str) -> None:
        kinds = [k for k in OWN_OPS if k[0] == feature]
        _, arity, forward, derivative = self.rng.choice(kinds)
        name = f"fz{self.seed}_{len(self.own)}"
        self.own.append((name, feature, arity, forward, derivative))
        operand = self.squashed(self.value()[0], -3.0, 3.0)
        if arity == 1:
            self.new(f"{name}({operand})")
        elif arity == 2:
            self.new(f"{name}({operand}, {self.value()[0]})")
        else:
            self.new(f"{name}({operand}, {self.value()[0]}, x[0])")

    def result(self) -> str:
        """The returned Value: the last node, a + chain or a sum of the last few; sometimes with extras."""
        tail = self.values[-self.rng.randint(1, min(3, len(self.values))) :]
        form = self.rng.randrange(3)
        if len(tail) == 1 or form == 0:
            result = self.new(f"{tail[-1]} * 1.0 + p[0]") if form == 0 else tail[-1]
        elif form == 1:
            result = self.new(" + ".join(tail))
        else:
            result = self.new(f"autograd.sum([{', '.join(tail)}])")
        if self.rng.random() < 0.25:
            extras = ", ".join(self.rng.sample(self.values, min(2, len(self.values))))
            return f"{result}, [{extras}]"
        return result

    def program(self) -> Program:
        rng = self.rng
        steps = rng.randint(3, 9)
        specials = sorted(self.features)
        plan = ["op"] * steps + specials + [rng.choice(specials) for _ in range(rng.randint(0, 1)) if specials]
        rng.shuffle(plan)
        self.op_statement()  # the first statement reads the inputs
        for what in plan:
            if what == "op":
                self.op_statement()
            else:
                self.feature_statement(what)
        for feature in self.later:  # with their own stream (see __init__), last: near the result
            self.rng, kept = self.later_rng, self.rng
            for _ in range(self.rng.randint(1, 2)):
                self.feature_statement(feature)
            self.rng = kept
        result = self.result()
        lines = [
            f"# gradtrace compile fuzzer, program {self.seed}: features {sorted(self.used) or 'none'}, reduction {self.reduction!r}",
            "import math",
            "import numpy as np",
            "import autograd",
            "import nn",
            "from autograd import Value",
            "",
            "",
            "def build():",
            "    p = [" + ", ".join(f"Value({self.number(-1.5, 1.5)})" for _ in range(self.n_params)) + "]  # parameters",
            "    c = [" + ", ".join(f"Value({self.number(-2, 2)})" for _ in range(self.n_consts)) + "]  # constant Values",
        ]
        closures = [f"(p[0] * {self.number(0.5, 2)} + p[{rng.randrange(self.n_params)}]).tanh()", f"p[1] * p[0] + {self.number(-1, 1)}"]
        lines.append("    h = [" + ", ".join(closures[: self.n_closures]) + "]  # non-leaf Values read by fn")
        if self.rows:
            lines += [
                "    tab = [[" + ", ".join(f"Value({self.number(-1.5, 1.5)})" for _ in range(self.cols)) + "]"
                + "".join(", [" + ", ".join(f"Value({self.number(-1.5, 1.5)})" for _ in range(self.cols)) + "]" for _ in range(self.rows - 1))
                + "]  # a table: rows of parameters, picked by token id",
                "    vec = [" + ", ".join(f"Value({self.number(-1.5, 1.5)})" for _ in range(self.rows)) + "]",
                "    p += [a for row in tab for a in row] + vec",
            ]
        for name, _feature, arity, forward, derivative in self.own:
            operands = {1: "x", 2: "x, y", VARIADIC: "*xs"}[arity]
            lines += [
                "",
                f"    @autograd.primitive(name={name!r})",
                f"    def {name}({operands}):",
                f"        return {forward}",
                "",
                f"    @{name}.derivative",
                f"    def {name}_derivative(g, out, {operands}):",
                f"        return {derivative}",
            ]
        lines += ["", f"    def fn(x, {', '.join(self.args)}):" if self.args else "    def fn(x):"]
        lines += [f"        {line}" for line in self.body]
        lines += [f"        return {result}", "", "    return fn, p, c, h"]
        return Program(
            seed=self.seed,
            source="\n".join(lines) + "\n",
            features=frozenset(self.used),
            ops=frozenset(self.ops_used),
            width=self.width,
            args=self.args,
            reduction=self.reduction,
            own_names=tuple(o[0] for o in self.own),
            tok_len=self.tok_len,
            rows=self.rows,
        )


def _function(op: Op) -> str:
    if not hasattr(autograd, op.name):
        raise NotImplementedError(f"the fuzzer cannot spell op {op.name!r}: no Value method, operator or autograd function; teach spell()")
    return op.name


def generate(seed: int, exclude: Iterable[str] = ()) -> Program:
    """The program of this seed (the same source every time)."""
    return Generator(seed, exclude).program()


# --- data -----------------------------------------------------------------------------------------


def make_batch(program: Program, rng: np.random.Generator, size: int, first: bool) -> list[np.ndarray]:
    """Batched arguments for fn. A first batch is often adversarial: a constant column,
    equal labels, two integer arguments equal on every sample."""
    X = np.clip(rng.normal(scale=1.5, size=(size, program.width)), -4.5, 4.5)
    if first and rng.random() < 0.4:
        X[:, rng.integers(program.width)] = X[0, rng.integers(program.width)]
    edges = "nonfinite" in program.features and (not first or rng.random() < 0.3)
    if edges:
        X[rng.random(X.shape) < 0.15] = 0.0  # set below, one edge each
        X = np.where(X == 0.0, rng.choice(EDGES, size=X.shape), X)
    batches: list[np.ndarray] = [X]
    same_labels = first and rng.random() < 0.4
    ints: dict[str, np.ndarray] = {}
    for name in program.args:
        if name == "tok":  # token ids, repeated within a row; a first batch often holds only 0 and 1
            low, high = (0, 2) if first and rng.random() < 0.5 else (-program.rows, program.rows)
            length = program.tok_len if first else program.tok_len + int(rng.integers(0, 3))
            batches.append(rng.integers(low, high, size=(size, length)).astype(np.int64))
            continue
        if name == "t":
            t = np.clip(rng.normal(size=size), -4.5, 4.5)
            if edges:
                t = np.where(rng.random(size) < 0.15, rng.choice(EDGES, size=size), t)
            batches.append(t)
            continue
        if name == "s":
            labels = rng.choice(np.array([-1, 1]), size=size)
        else:
            labels = rng.integers(0, N_CLASSES, size=size)
        if same_labels:
            labels[:] = labels[0]
        if name == "j" and first and "k" in ints and rng.random() < 0.6:
            labels = ints["k"].copy()
        ints[name] = labels
        batches.append(labels.astype(np.int64))
    return batches


# --- running one program --------------------------------------------------------------------------


@dataclass
class Outcome:
    program: Program
    status: str  # equal, refused, mismatch, invalid
    detail: str = ""
    warned: list[str] = field(default_factory=list)  # warnings compile let through where eager gave none

    def report(self) -> str:
        p = self.program
        return (
            f"--- program {p.seed}: {self.status.upper()} (features: {', '.join(sorted(p.features)) or 'none'}; "
            f"reduction {p.reduction})\n{self.detail}\n{p.source}"
        )


class Mismatch(Exception):
    pass


def same_numbers(actual: Any, expected: Any, what: str, sizes: Any = None) -> None:
    """tests/test_compile.py's equality on the finite entries; the non-finite ones must be
    the same (nan for nan, inf of the same sign)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise Mismatch(f"{what}: shape {a.shape}, eager {e.shape}")
    finite = np.isfinite(e)
    odd = ~finite & ~((np.isnan(a) & np.isnan(e)) | (a == e))
    if odd.any():
        i = int(np.flatnonzero(odd)[0])
        raise Mismatch(f"{what}: compiled {a.ravel()[i]!r} where eager gives {e.ravel()[i]!r} (flat index {i})")
    size = None
    if sizes is not None:
        size = np.asarray(sizes, dtype=np.float64)[finite]
        size = np.where(np.isfinite(size), size, 0.0)  # a size through an inf node: plain relative error
    try:
        with np.errstate(all="ignore"):  # its worst-entry ratio may overflow where the bound is tiny
            assert_matches(a[finite], e[finite], what, size)
    except AssertionError as error:
        raise Mismatch(str(error)) from None


def load(program: Program) -> tuple[Any, list[Value], list[Value], list[Value]]:
    namespace: dict[str, Any] = {"__name__": f"fuzz_program_{program.seed}"}
    filename = f"<fuzz program {program.seed}>"
    # in linecache, as a file's lines: tracebacks show them, and compile reads the subscripts it gathers by
    linecache.cache[filename] = (len(program.source), None, program.source.splitlines(keepends=True), filename)
    exec(compile(program.source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["build"]()


def plain_eager(fn: Any, params: list[Value], batches: list[np.ndarray], reduction: str) -> tuple[Any, float, np.ndarray]:
    """Eager gradtrace as test_compile's eager_outputs and eager_backward run it, without the
    error sizes (their walk divides by the data, which fails on some non-finite numbers):
    each entry is then held to plain 1e-12 relative error."""
    results, extras, graphs = [], [], []
    for i in range(len(batches[0])):
        out = fn(*sample_args(batches, i))
        if isinstance(out, tuple):
            out, extra = out
            extras.append([v.data for v in extra] if isinstance(extra, list) else extra.data)
        graphs.append(out)
        results.append([v.data for v in out] if isinstance(out, list) else out.data)
    expected = Eager(np.array(results), None, np.array(extras) if extras else None, None, graphs)  # type: ignore[arg-type]
    saved = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    loss = autograd.mean(graphs) if reduction == "mean" else autograd.sum(graphs)
    loss.backward()
    grads = np.array([p.grad for p in params])
    for p, g in zip(params, saved):
        p.grad = g
    return expected, loss.data, grads


def _warnings_of(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught]


@contextmanager
def cleaned_up(program: Program) -> Iterator[None]:
    """Whatever loading and running the program leaves behind is gone at the end: the ops of
    its own it registered, and its source in linecache (put there by :func:`load`)."""
    before = set(autograd.OPS)
    try:
        yield
    finally:
        for name in set(autograd.OPS) - before:
            autograd.OPS.pop(name, None)
        linecache.cache.pop(f"<fuzz program {program.seed}>", None)


def run(program: Program) -> Outcome:
    """Compile the program and compare it with eager on a first batch and on later ones."""
    with cleaned_up(program):
        return _run(program)


def _run(program: Program) -> Outcome:
    rng = np.random.default_rng(program.seed)
    try:
        fn, params, constants, _closures = load(program)
    except Exception:  # noqa: BLE001 - the generator's fault, reported as such
        return Outcome(program, "invalid", "build() failed:\n" + traceback.format_exc(limit=3))
    step = autograd.compile(fn, params, reduction=program.reduction)
    leaked: list[str] = []
    sizes = [int(rng.choice([1, 1, 2, 3, 5, 8]))] + list(LATER_SIZES)
    for n, size in enumerate(sizes):
        if n:  # the parameters and constants change between calls
            for v in (*params, *constants):
                v.data = float(rng.uniform(-1.5, 1.5))
        batches = make_batch(program, rng, size, first=n == 0)
        what = f"batch {n} (size {size})"
        try:
            with warnings.catch_warnings(record=True) as eager_warnings:
                warnings.simplefilter("always")
                try:
                    expected = eager_outputs(fn, batches)
                    eager_loss, eager_grads, loss_size, grad_sizes = eager_backward(
                        fn, params, batches, program.reduction, expected.graphs
                    )
                except ArithmeticError:  # the error sizes' walk on non-finite data: eager, without them
                    expected, eager_loss, eager_grads = plain_eager(fn, params, batches, program.reduction)
                    loss_size, grad_sizes = None, None
        except Exception:  # noqa: BLE001
            return Outcome(program, "invalid", f"eager failed on {what}:\n" + traceback.format_exc(limit=4))
        try:
            with warnings.catch_warnings(record=True) as compiled_warnings:
                warnings.simplefilter("always")
                results = step(*batches)
                extra = step.extra
                loss, grads = compiled_backward(step, params, batches)
        except CompileError as error:
            return Outcome(program, "refused", f"CompileError on {what}: {error}", leaked)
        except Exception:  # noqa: BLE001 - eager succeeded, so this is a mismatch
            return Outcome(program, "mismatch", f"{what}: compiled raised where eager did not:\n" + traceback.format_exc(limit=6), leaked)
        eager_kinds = {type(w.message) for w in eager_warnings}
        leaked += [s for w, s in zip(compiled_warnings, _warnings_of(compiled_warnings)) if type(w.message) not in eager_kinds]
        try:
            same_numbers(results, expected.results, f"{what}: per-sample results", expected.result_sizes)
            if expected.extras is not None:
                same_numbers(extra, expected.extras, f"{what}: step.extra", expected.extra_sizes)
            if not isinstance(loss, float):
                raise Mismatch(f"{what}: step.backward gave {loss!r}, not a float")
            same_numbers(loss, eager_loss, f"{what}: {program.reduction} loss", loss_size)
            same_numbers(grads, eager_grads, f"{what}: parameters' .grad ({program.reduction})", grad_sizes)
        except Mismatch as error:
            inputs = "\n".join(f"    argument {i}: {np.array2string(b, precision=4, threshold=24)}" for i, b in enumerate(batches))
            return Outcome(program, "mismatch", f"{error}\n  batch:\n{inputs}", leaked)
    if "threads" in program.features:
        return _threads(program, step, fn, params, rng, leaked)
    return Outcome(program, "equal", "", leaked)


THREAD_CALLS = 4


def _threads(program: Program, step: Any, fn: Any, params: list[Value], rng: np.random.Generator, leaked: list[str]) -> Outcome:
    """Two threads call the one step at once, each on its own batch, THREAD_CALLS times:
    each call's results and loss must be its own batch's, and the .grad added up over all
    calls must be eager's gradients of both batches, each THREAD_CALLS times."""
    sizes = (40, 8) if rng.random() < 0.5 else (16, 16)  # batches of one size: a mix-up is not a shape error
    mine = [make_batch(program, rng, size, first=False) for size in sizes]
    expected = []
    for batches in mine:
        try:
            out = eager_outputs(fn, batches)
            loss, grads, loss_size, grad_sizes = eager_backward(fn, params, batches, program.reduction, out.graphs)
        except Exception:  # noqa: BLE001 - eager fails on this data: nothing to compare
            return Outcome(program, "equal", "", leaked)
        expected.append((out, loss, grads, loss_size, grad_sizes))
    saved = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    problems: list[str] = []

    def calls(which: int) -> None:
        out, loss, _, loss_size, _ = expected[which]
        try:
            for _ in range(THREAD_CALLS):
                same_numbers(step(*mine[which]), out.results, f"thread {which}: per-sample results", out.result_sizes)
                same_numbers(step.backward(*mine[which]), loss, f"thread {which}: {program.reduction} loss", loss_size)
        except CompileError as error:
            problems.append(f"refused: {error}")
        except Mismatch as error:
            problems.append(str(error))
        except Exception:  # noqa: BLE001 - reported as a mismatch
            problems.append(f"thread {which} raised:\n" + traceback.format_exc(limit=4))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        workers = [threading.Thread(target=calls, args=(which,)) for which in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    grads = np.array([p.grad for p in params])
    for p, g in zip(params, saved):
        p.grad = g
    if any(problem.startswith("refused: ") for problem in problems):
        return Outcome(program, "refused", "in threads: " + problems[0], leaked)
    if problems:
        return Outcome(program, "mismatch", "two threads calling one step:\n" + "\n".join(problems[:2]), leaked)
    total = THREAD_CALLS * (expected[0][2] + expected[1][2])
    # the calls' .grad additions interleave in any order: rounding of 2·THREAD_CALLS terms on top of each's own
    size = THREAD_CALLS * (expected[0][4] + expected[1][4] + 8 * (np.abs(expected[0][2]) + np.abs(expected[1][2])))
    try:
        same_numbers(grads, total, f"two threads: the parameters' .grad after {2 * THREAD_CALLS} calls", size)
    except Mismatch as error:
        return Outcome(program, "mismatch", str(error), leaked)
    return Outcome(program, "equal", "", leaked)


def minimize(program: Program) -> Program:
    """A smaller program that still mismatches: lines of fn removed one at a time (greedily,
    while the outcome stays a mismatch), and extras dropped from the return."""
    lines = program.source.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("    def fn("))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("        return "))
    if ", [" in lines[end]:
        shorter = [*lines[:end], lines[end].split(", [")[0] + "\n", *lines[end + 1 :]]
        if run(replace(program, source="".join(shorter))).status == "mismatch":
            lines = shorter
    i = end - 1
    while i > start:
        trial = lines[:i] + lines[i + 1 :]
        if run(replace(program, source="".join(trial))).status == "mismatch":
            lines = trial
        i -= 1
    return replace(program, source="".join(lines))


# --- many programs --------------------------------------------------------------------------------


def program_seed(seed: int, i: int) -> int:
    return seed * 1_000_000 + i


@dataclass
class Summary:
    outcomes: list[Outcome]
    seconds: float

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "mismatch"]

    def text(self) -> str:
        lines = [
            f"programs {len(self.outcomes)}, equal {self.count('equal')}, refused {self.count('refused')}, "
            f"mismatches {self.count('mismatch')}, invalid {self.count('invalid')} ({self.seconds:.1f} s)"
        ]
        by_feature: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        alone: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for o in self.outcomes:
            for f in o.program.features or {"(none)"}:
                by_feature[f][o.status] += 1
            if len(o.program.features) <= 1:
                alone[next(iter(o.program.features), "(none)")][o.status] += 1
        lines.append("by feature: programs with it / equal / refused / mismatches; then programs with it alone / mismatches")
        for f in (*FEATURES, "(none)"):
            c, a = by_feature.get(f), alone.get(f, collections.Counter())
            if c:
                lines.append(
                    f"  {f:16} {sum(c.values()):6} {c['equal']:6} {c['refused']:6} {c['mismatch']:6}"
                    f"   {sum(a.values()):6} {a['mismatch']:6}"
                )
        sets = collections.Counter(", ".join(sorted(o.program.features)) or "(none)" for o in self.mismatches)
        if sets:
            lines.append("mismatches by the program's feature set (the 12 commonest):")
            lines += [f"  {n:5}  {name}" for name, n in sets.most_common(12)]
        kinds = collections.Counter(_kind(o.detail) for o in self.mismatches)
        if kinds:
            lines.append("mismatches by what differed:")
            lines += [f"  {n:5}  {name}" for name, n in kinds.most_common()]
        warned = [o for o in self.outcomes if o.warned]
        if warned:
            lines.append(f"programs where compile let a warning through that eager did not give: {len(warned)}")
            for w, n in collections.Counter(w.split(":")[0] for o in warned for w in set(o.warned)).most_common():
                lines.append(f"  {n:5}  {w}")
        ops = collections.Counter(op for o in self.outcomes for op in o.program.ops)
        missing = [op.name for op in table_ops() if op.name not in ops]
        lines.append(f"table ops used: {len(ops)} of {len(table_ops())}" + (f"; never: {', '.join(missing)}" if missing else ""))
        return "\n".join(lines)


def _kind(detail: str) -> str:
    first = detail.splitlines()[0] if detail else ""
    if first.startswith("two threads"):
        return "threads: " + ("an exception" if "raised" in detail else ".grad sums" if ".grad" in first else "different numbers")
    if "raised where eager did not" in first:
        last = [line for line in detail.splitlines() if line and not line.startswith(" ")][-1]
        return "exception: " + last.split(":")[0]
    for what in ("per-sample results", "step.extra", "loss", ".grad"):
        if what in first:
            return f"different {what}"
    return first[:60]


def fuzz(n: int, seed: int = 0, exclude: Iterable[str] = (), progress: bool = False) -> Summary:
    """Run n programs from this seed."""
    exclude = tuple(exclude)
    start = time.perf_counter()
    outcomes = []
    for i in range(n):
        outcomes.append(run(generate(program_seed(seed, i), exclude)))
        if progress and (i + 1) % 100 == 0:
            bad = sum(o.status == "mismatch" for o in outcomes)
            print(f"  {i + 1} programs, {bad} mismatches, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return Summary(outcomes, time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Differential fuzzer: autograd.compile against eager gradtrace.")
    parser.add_argument("-n", type=int, default=200, help="how many programs (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (program i's seed is seed·10⁶ + i)")
    parser.add_argument("--program", type=int, action="append", help="run only the program of this seed; print its source")
    parser.add_argument("--exclude", default="", help="features never used, comma-separated: " + ", ".join(FEATURES))
    parser.add_argument("--minimize", action="store_true", help="with --program: also print a smaller program that still mismatches")
    parser.add_argument("--show", type=int, default=3, help="how many mismatches to print in full (default 3)")
    args = parser.parse_args(argv)
    exclude = [f for f in args.exclude.split(",") if f]
    unknown = set(exclude) - set(FEATURES)
    if unknown:
        parser.error(f"unknown features {sorted(unknown)}; known: {', '.join(FEATURES)}")
    np.seterr(all="warn")
    if args.program:
        bad = 0
        for s in args.program:
            outcome = run(generate(s, exclude))
            print(outcome.report())
            if outcome.warned:
                print("warnings compile let through:", *outcome.warned, sep="\n  ")
            bad += outcome.status == "mismatch"
            if args.minimize and outcome.status == "mismatch":
                print("--- smaller, still a mismatch:")
                print(run(minimize(outcome.program)).report())
        return 1 if bad else 0
    print(f"fuzzing autograd.compile: {args.n} programs, seed {args.seed}" + (f", excluding {', '.join(exclude)}" if exclude else ""))
    summary = fuzz(args.n, args.seed, exclude, progress=True)
    for outcome in summary.mismatches[: args.show]:
        print(outcome.report())
    if len(summary.mismatches) > args.show:
        seeds = " ".join(str(o.program.seed) for o in summary.mismatches[args.show :])
        print(f"... {len(summary.mismatches) - args.show} more mismatches, programs: {seeds}")
    print(summary.text())
    return 1 if summary.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
