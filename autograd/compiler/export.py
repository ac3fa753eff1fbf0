"""``step.code``: a compiled step written out as a standalone NumPy module.

The module imports only ``numpy`` and ``math`` and defines

* ``forward(theta, *batches)``: the per-sample results, as ``step(*batches)`` gives them;
* ``loss_and_grad(theta, *batches)``: ``(loss, gradient)``, as ``step.backward`` computes
  them (the step's reduction), the gradient a 1-D array shaped like ``theta``.

``theta`` is the 1-D float64 vector of the parameters, in the order given to
``autograd.compile``. The code is the tape's groups, one line each: a layer's dot nodes
are one ``x @ W1.T + b1`` (``W1`` and ``b1`` views of ``theta``, their gradients
``dW1`` and ``db1`` views of the gradient), the other groups one NumPy expression of
their op's array rule, and the backward pass each group's chain rule, in reverse. Rules
longer than one expression, and the array kit's careful functions they call (compensated
sums, the softmax family's pieces), are copied in as functions after the step.

Each branch pattern the step has traced is a function of its own; a step with
comparisons on the data evaluates them for every sample, as the replay does, and
gives each sample to the pattern it takes. A sample that takes a pattern the step had
not traced when the code was written is an error of the exported code (``ValueError``),
never a number from another branch. What cannot be written as NumPy (an op of your own
whose rules use something else, a closure's node that leads to the parameters) is
refused with a :class:`CompileError` that names it. Values ``fn`` reads from its
closure are written in as the numbers they hold when the code is made.

The pipeline stays one way: this module reads tapes; nothing before it imports it.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import operator
import re
import textwrap
import types
from typing import Any

import numpy as np

from .. import floats, ops
from ..engine import Value
from ..ops import _TABLE, VARIADIC, Op
from . import gather as gather_module
from . import tape as tape_module
from .batch import CompileError
from .source import Helpers, NotExportable, numpy_name, parse_definition
from .tape import CONSTANTS, PARAMS, Tape, _Calc, _Chains, _Elementwise, _Gather, _Matmul, _Take, _Variadic

__all__ = ["module_source"]

_COMPARE = {operator.lt: "<", operator.le: "<=", operator.gt: ">", operator.ge: ">=", operator.eq: "==", operator.ne: "!="}
_INFIX = {operator.add: "+", operator.sub: "-", operator.mul: "*"}
_RESERVED = {"np", "math", "theta", "grad", "params", "constants", "seed", "B", "result", "outcomes", "problems",
             "forward", "loss_and_grad", "replay", "PATTERNS", "OUTCOMES", "batch_mean", "batch_sum"}  # fmt: skip

_TEMPLATE_HELPERS = '''
def gather(constants, *parts):
    """Columns from several arrays as one (rows, k) array; the constants where none gives one."""
    rows = max(array.shape[0] for array, _, _ in parts)
    out = np.repeat(constants, rows, axis=0) if rows > 1 else constants.copy()
    for array, positions, columns in parts:
        out[:, positions] = array[:, columns]
    return out


def spread(g, k):
    """A gradient as (rows, k) columns."""
    g = np.asarray(g)
    if g.ndim < 2 or g.shape[1] != k:
        g = np.broadcast_to(g, (g.shape[0] if g.ndim == 2 else 1, k))
    return g


def columns_of(local, k, rows):
    """A variadic rule's gradients (an array of k rows, or a list) as (rows, k) columns."""
    if isinstance(local, np.ndarray) and local.shape == (k, rows):
        return local.T
    return np.stack([np.broadcast_to(x, (rows,)) for x in local], axis=1)


def sum_repeated(g, inverse, rows):
    """The gradients of columns read several times (inverse: each read's column among the
    distinct ones), summed per column, as (rows, distinct) columns."""
    n = max(inverse) + 1
    g = np.broadcast_to(g, (rows, len(inverse)))
    if rows == 1:
        return np.bincount(inverse, weights=g[0], minlength=n)[None, :]
    at = np.array(inverse)[None, :] + n * np.arange(rows)[:, None]
    return np.bincount(at.ravel(), weights=g.ravel(), minlength=rows * n).reshape(rows, n)


def python_extreme(m, largest):
    """max() (or min()) over the last axis as Python's builtin picks: the first operand no
    later one beats, so a nan first is kept and a nan later skipped."""
    nan = np.isnan(m)
    filled = np.where(nan, -np.inf if largest else np.inf, m) if nan.any() else m
    at = (filled.argmax if largest else filled.argmin)(axis=-1)
    best = np.take_along_axis(m, at[..., None], axis=-1)[..., 0]
    first = m[..., 0]
    return np.where(np.isnan(first), first, best)


def calc_problem(name, operands, out, is_int):
    """What Python raises for a sample where NumPy gives a number (a division by 0), or None."""
    if name in ("true_divide", "divide", "floor_divide", "remainder") and np.any(operands[1] == 0.0):
        return ZeroDivisionError(f"{name} by zero (for a sample)")
    if name == "power":
        base, exponent = np.broadcast_arrays(*operands)
        if np.any((base == 0.0) & (exponent < 0.0)):
            return ZeroDivisionError("0 to a negative power (for a sample)")
        if np.any((base < 0.0) & (exponent != np.floor(exponent)) & np.isfinite(exponent)):
            return ValueError("a negative number to a fractional power (for a sample)")
        if not is_int and np.any(np.isinf(out) & np.isfinite(base) & np.isfinite(exponent)):
            return OverflowError("a power overflowed (for a sample)")
    if is_int and np.any(np.abs(out) > 2.0**53):
        return ValueError("integer arithmetic on a label went past 2**53")
    return None
'''

_DISPATCH = '''
def replay(theta, batches, seed):
    """Each sample replayed by the function of its branch pattern, as the compiled step does:
    the first pattern's comparisons are evaluated for every sample, and the samples whose
    outcomes differ go on to the pattern that agrees with them up to the first difference."""
    size = len(batches[0])
    result, grad = None, None
    shape = tuple(np.shape(b)[1] for b, token_rows in zip(batches, TOKEN_ROWS) if token_rows)
    pending = [(pattern_for((), 0, shape), None)]
    while pending:
        p, index = pending.pop()
        part = batches if index is None else [b[index] for b in batches]
        out, outcomes, problems, g = PATTERNS[p](theta, *part, seed=seed)
        if outcomes is not None:
            differ = outcomes != np.array(OUTCOMES[p], dtype=np.float64)
            strays = differ.any(axis=1)
            if strays.any():
                local = np.arange(len(part[0])) if index is None else index
                first = differ.argmax(axis=1)
                for position in np.unique(first[strays]).tolist():
                    at = strays & (first == position)
                    for value in np.unique(outcomes[at, position]).tolist():
                        members = local[at & (outcomes[:, position] == value)]
                        pending.append((pattern_for(OUTCOMES[p][:position] + (value,), int(members[0]), shape), members))
                keep = local[~strays]
                if not keep.size:
                    continue
                index, part = keep, [b[keep] for b in batches]
                out, outcomes, problems, g = PATTERNS[p](theta, *part, seed=seed)
        for problem in problems:
            if problem is not None:
                raise problem
        if result is None:
            result = np.empty((size,) + out.shape[1:])
        result[slice(None) if index is None else index] = out
        if g is not None:
            grad = g if grad is None else grad + g
    return result, grad


def pattern_for(prefix, sample, shape):
    """The first pattern (for rows of token ids of this length) whose comparisons' outcomes begin with prefix."""
    for p, outcomes in enumerate(OUTCOMES):
        if SHAPES[p] == shape and tuple(outcomes[: len(prefix)]) == tuple(prefix):
            return p
    raise ValueError(
        f"sample {sample} takes a branch pattern (or has rows of token ids of a length) that the compiled step had "
        "not traced when this code was written; run the step on a batch that holds such a sample, then export "
        "step.code again"
    )
'''


def _identifier(text: str, fallback: str) -> str:
    name = re.sub(r"\\W", "_", text)
    if not name or not name.isidentifier() or keyword.iskeyword(name):
        name = fallback
    return name


def _literal(x: float) -> str:
    if x != x:
        return "np.nan"
    if x in (float("inf"), float("-inf")):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(float(x))


def _slice_text(cols: slice) -> str:
    start, stop, step = cols.start, cols.stop, cols.step
    return f"{start}:{stop}" + (f":{step}" if step != 1 else "")


class _Rule:
    """An op's rule as the exported module writes it: an expression of its operands, or a call."""

    def __init__(self, exporter: _Exporter, op: Op, which: int) -> None:
        self.op, self.which, self.exporter = op, which, exporter
        generic = op._generic[which]
        self.inline: tuple[list[str], list[ast.expr], set[str]] | None = None
        self.call: str | None = None
        self.infix: str | None = None
        self.unpack = False
        helpers = exporter.helpers
        built_in = any(op is b for b in _TABLE)
        name = getattr(generic, "__name__", "")
        if built_in and getattr(floats, name, None) is generic:  # floats.exp stands for every kit's exp
            self.call = helpers.kit(name)
            return
        if generic in _INFIX:
            self.infix = _INFIX[generic]
            return
        found = numpy_name(generic)
        if found is not None:
            self.call = found
            return
        if built_in:
            module = ops
            function = generic
        else:
            function = _own_rule(op, which)
            module = types.ModuleType(getattr(function, "__module__", None) or "__main__")
            module.__dict__.update(function.__globals__)  # the names the rule reads, as it sees them
        tree = parse_definition(function)
        args = [a.arg for a in tree.args.args if a.arg != "K"]
        body = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if (
            op.arity != VARIADIC and len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None
            and not tree.args.vararg and not any(isinstance(n, (ast.Lambda, ast.ListComp, ast.NamedExpr)) for n in ast.walk(body[0]))
        ):  # fmt: skip
            value = body[0].value
            parts = list(value.elts) if isinstance(value, ast.Tuple) and which == 1 else [value]
            # resolve the globals once, with the parameters kept as names (substituted per use)
            self.inline = (args, parts, set(args))
            self.module = module
            for part in parts:  # fail now, naming what is not NumPy
                helpers.expression(_copy_node(part), module, {}, set(args))
            return
        wanted = f"{op.name}_{'forward' if which == 0 else 'backward'}"
        self.call = helpers.copy(function, module, wanted=_identifier(wanted, "rule"), drop_kit=True)
        # an op of your own that takes *operands gets them one by one (autograd.custom unpacks them)
        self.unpack = not built_in and op.arity == VARIADIC

    def expressions(self, operands: list[str]) -> list[str]:
        """The rule's result(s) for these operand expressions (names or simple expressions)."""
        if self.inline is not None:
            args, parts, _ = self.inline
            names = {a: ast.parse(e, mode="eval").body for a, e in zip(args, operands)}
            return [self.exporter.helpers.expression(_copy_node(p), self.module, names, set(args)) for p in parts]
        if self.infix is not None:
            a, b = (f"({o})" if not re.fullmatch(r"[\w.\[\]:, ]+", o) or o.startswith("-") else o for o in operands)
            return [f"{a} {self.infix} {b}"]
        if self.unpack:
            operands = [*operands[:-1], "*" + operands[-1]]
        call = f"{self.call}({', '.join(operands)})"
        return [call]


def _copy_node(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def _own_rule(op: Op, which: int) -> Any:
    """The function the user wrote for an op of their own (inside autograd.custom's checking wrappers)."""
    qualname = op.fingerprint[which][0] if op.fingerprint else None
    seen: set[int] = set()
    stack = [op._generic[which]]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if getattr(fn, "__qualname__", None) == qualname and getattr(fn, "__module__", "") != "autograd.custom":
            return fn
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                content = cell.cell_contents
            except ValueError:
                continue
            if callable(content):
                stack.append(content)
            forward = getattr(content, "forward", None)
            if callable(forward):
                stack.append(forward)
    raise NotExportable("its rule, which could not be found behind autograd.custom's checks")


class _Exporter:
    """Writes one module for a compiled step's tapes."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.helpers = Helpers()
        self.helpers.reserve(*_RESERVED)
        self.rules: dict[tuple[int, int], _Rule] = {}
        self.uses_gather = False

    def rule(self, op: Op, which: int) -> _Rule:
        key = (id(op), which)
        if key not in self.rules:
            try:
                self.rules[key] = _Rule(self, op, which)
            except NotExportable as error:
                raise CompileError(
                    f"step.code: the {op.name} op cannot be written as NumPy: its "
                    f"{'forward' if which == 0 else 'derivative'} uses {error}. An exported module uses NumPy alone; "
                    "write the op's rules with NumPy functions (np.sin, np.where) or with built-in ops"
                ) from None
        return self.rules[key]


class _TapeWriter:
    """One tape (one branch pattern) as a function of theta and the batches."""

    def __init__(self, exporter: _Exporter, tape: Tape, arg_names: list[str], function: str, reduction_seed: bool) -> None:
        self.x = exporter
        self.tape = tape
        self.arg_names = arg_names
        self.function = function
        self.lines: list[str] = []
        self.back: list[str] = []
        self.names: dict[int, str] = {}
        self.shared: dict[int, bool] = {}
        self.width: dict[int, int] = {}
        self.declared: set[int] = set()
        self.counts: dict[str, int] = {}
        self.used: set[str] = set(_RESERVED) | set(arg_names)
        self.weight_views: list[str] = []
        self.grad_views: dict[str, str] = {}
        self.layer = 0
        self.twice: set[str] = set()  # gradient expressions a unit adds into more than one operand
        self.views: set[str] = set()  # gradients that may be transposed views

    def fresh(self, base: str) -> str:
        base = _identifier(base, "v")
        self.counts[base] = self.counts.get(base, 0) + 1
        name = f"{base}{self.counts[base]}"
        while name in self.used:
            self.counts[base] += 1
            name = f"{base}{self.counts[base]}"
        self.used.add(name)
        return name

    # --- reading and adding into sources ------------------------------------------------------

    def read(self, take: _Take, scalar_ok: bool = False) -> str:
        """A take as a (rows, k) expression (a number, where that broadcasts alike and ``scalar_ok``)."""
        if take.mode == "const":
            values = take.const[0]
            if scalar_ok and (np.all(values == values[0]) or np.isnan(values).all()):
                return _literal(float(values[0]))
            return "np.array([[" + ", ".join(_literal(float(v)) for v in values) + "]])"
        if take.mode == "one":
            return self.columns(take.sid, take.cols)
        self.x.uses_gather = True
        const = "np.array([[" + ", ".join(_literal(float(v)) for v in take.const[0]) + "]])"
        parts = ", ".join(
            f"({self.names[sid]}, {positions.tolist()}, {cols.tolist()})" for sid, positions, cols, _ in take.parts
        )
        return f"gather({const}, {parts})"

    def columns(self, sid: int, cols: Any) -> str:
        name = self.names[sid]
        if isinstance(cols, slice):
            if cols.start == 0 and cols.step == 1 and cols.stop == self.width[sid]:
                return name
            return f"{name}[:, {_slice_text(cols)}]"
        return f"{name}[:, {cols.tolist()}]"

    def add(self, take: _Take, g: str, g_shared: bool) -> None:
        """Add gradient g ((rows, k)) into the take's sources (backward lines)."""
        needs = self.tape.needs
        if take.mode == "one":
            if needs[take.sid]:
                self.add_into(take.sid, take.cols, take.unique, g, g_shared)
        elif take.mode == "mixed":
            parts = [p for p in take.parts if needs[p[0]] and p[0] != CONSTANTS]
            if parts:
                name = self.fresh("g")
                self.back.append(f"{name} = spread({g}, {take.k})")
                self.x.uses_gather = True
                for sid, positions, cols, unique in parts:
                    self.add_into(sid, cols, unique, f"{name}[:, {positions.tolist()}]", g_shared)

    def add_into(self, sid: int, cols: Any, unique: bool, g: str, g_shared: bool) -> None:
        if sid == CONSTANTS:
            return  # a closure's constants: no gradient is written out (nodes leading to parameters are refused)
        if self.shared[sid] and not g_shared:
            g = f"({g}).sum(axis=0, keepdims=True)"
        target = "d_params" if sid == PARAMS else f"d_{self.names[sid]}"
        whole = isinstance(cols, slice) and cols.start == 0 and cols.step == 1 and cols.stop == self.width[sid]
        if sid != PARAMS and sid not in self.declared:
            self.declared.add(sid)
            if whole and self.shared[sid] == g_shared:
                # a gradient no other line adds into again may be taken as it is; one given to two
                # operands (add's) is copied, as each is added into apart
                # (and a transposed view is copied too: the replay's copy is C-ordered, and BLAS rounds by layout)
                simple = re.fullmatch(r"[A-Za-z_]\w*", g) is not None and (g in self.twice or g in self.views)
                self.back.append(f"{target} = {g}{'.copy()' if simple else ''}")
                return
            self.back.append(f"{target} = np.zeros_like({self.names[sid]})")
        if whole:
            self.back.append(f"{target} += {g}")
        elif unique is True:
            index = _slice_text(cols) if isinstance(cols, slice) else str(cols.tolist())
            self.back.append(f"{target}[:, {index}] += {g}")
        else:  # a column read several times: its gradients summed first, then added
            distinct, inverse = unique
            self.x.uses_gather = True
            self.back.append(
                f"{target}[:, {distinct.tolist()}] += sum_repeated({g}, {inverse.tolist()}, {target}.shape[0])"
            )

    def bind(self, expression: str, base: str) -> str:
        """A name for an expression (kept as it is when it is a name already)."""
        if (
            re.fullmatch(r"[A-Za-z_]\w*(\[:, [\d:]+\])?", expression)
            or re.fullmatch(r"-?[\d.e+-]+|-?np\.(nan|inf)", expression)
        ):
            return expression
        name = self.fresh(base)
        self.lines.append(f"{name} = {expression}")
        return name

    # --- the tape ----------------------------------------------------------------------------

    def write(self) -> str:
        tape = self.tape
        self.names[PARAMS], self.shared[PARAMS], self.width[PARAMS] = "params", True, tape.n_params
        self.names[CONSTANTS], self.shared[CONSTANTS], self.width[CONSTANTS] = "constants", True, len(tape.constants)
        prologue = [f"B = len({self.arg_names[0]})", "params = theta.reshape(1, -1)  # one row: every sample shares it"]
        for a, (kind, name) in enumerate(zip(tape.kinds, self.arg_names)):
            sid = tape.arg_sid[a]
            self.shared[sid], self.width[sid] = False, tape.widths[a]
            if kind in ("rows", "introws"):
                self.names[sid] = name
                prologue.append(f"{name} = np.asarray({name}).astype(np.float64)" + ("  # token ids, as numbers" if kind == "introws" else ""))
            else:
                column = self.fresh(f"{name}_")
                self.names[sid] = column
                prologue.append(f"{column} = np.asarray({name}).astype(np.float64).reshape(-1, 1)  # one column")
        if tape.constants:
            prologue.append(
                "constants = np.array([[" + ", ".join(_literal(c.data) for c in tape.constants) + "]])"
                "  # the Values fn reads from its closure, as they were when this code was written"
            )
        for source, alias in tape.alias_of.items():
            self.names[alias], self.shared[alias], self.width[alias] = self.names.get(source, "?"), True, 0
        for unit, alias in zip(tape.units, tape.unit_aliases):
            shared = unit.group.kind == "shared"
            self.shared[unit.sid] = shared
            self.width[unit.sid] = len(unit.group.nodes)
            self.names[unit.sid] = self.unit_name(unit)
            if alias is not None:
                self.names[alias], self.shared[alias], self.width[alias] = self.names[unit.sid], shared, self.width[unit.sid]
        for source, alias in tape.alias_of.items():  # aliases of the sources above: the same numbers, no gradient
            self.names[alias], self.shared[alias], self.width[alias] = self.names[source], self.shared[source], self.width[source]
        self.lines.append("# forward")
        for unit in tape.units:
            self.forward(unit)
        guards = tape.guards
        outcome_line = "outcomes = None"
        if len(guards):
            parts = []
            for fn, takes in zip(guards.fns, guards.takes):
                operands = [self.guard_operand(t) for t in takes]
                if fn is None:
                    parts.append(operands[0])
                elif fn in _COMPARE:
                    parts.append(f"({operands[0]} {_COMPARE[fn]} {operands[1]})")
                else:
                    found = numpy_name(fn)
                    if found is None:
                        raise CompileError(f"step.code: fn compares numbers with {fn!r:.60}, which is not NumPy")
                    parts.append(f"{found}({', '.join(operands)})")
            outcome_line = (
                "outcomes = np.stack([" + ", ".join(f"np.broadcast_to({p}, (B,))" for p in parts)
                + "], axis=1).astype(np.float64)  # the comparisons fn made, per sample"
            )
        self.lines.append(outcome_line)
        sid, col = tape.result_refs[0]
        if tape.result_list:
            self.lines.append(
                "result = np.stack([" + ", ".join(f"np.broadcast_to({self.names[s]}[:, {c}], (B,))" for s, c in tape.result_refs)
                + "], axis=1)"
            )
        else:
            self.lines.append(f"result = np.broadcast_to({self.names[sid]}[:, {col}], (B,))")
        self.lines.append("if seed is None:")
        self.lines.append("    return result, outcomes, problems, None")
        self.backward()
        body = prologue + self.weight_views + self.lines + self.back
        args = ", ".join(["theta", *self.arg_names])
        if self.function == "step":
            doc = '"""The forward pass over the batch, then (given seed, the loss\'s gradient per result) the backward."""'
        else:
            pattern = ", ".join(f"{o!r}" for o in tape.outcomes)
            doc = f'"""The samples whose comparisons come out {pattern}: forward, then (given seed) backward."""'
        text = f"def {self.function}({args}, seed=None):\n    {doc}\n    problems = []\n"
        return text + textwrap.indent("\n".join(body), "    ")

    def guard_operand(self, take: _Take) -> str:
        if take.mode == "const":
            return _literal(float(take.const[0][0]))
        return f"{self.columns(take.sid, take.cols)}[:, 0]" if not isinstance(take.cols, slice) or True else ""

    def unit_name(self, unit: Any) -> str:
        group = unit.group
        if isinstance(unit, _Matmul):
            if group.kind == "matmul":
                self.layer += 1
                return self.fresh_exact(f"z{self.layer}")
            return self.fresh("dot")
        if isinstance(unit, _Calc):
            return self.fresh(f"calc_{unit.name}")
        return self.fresh(group.op)

    def fresh_exact(self, name: str) -> str:
        if name in self.used:
            return self.fresh(name + "_")
        self.used.add(name)
        return name

    def forward(self, unit: Any) -> None:
        name = self.names[unit.sid]
        group = unit.group
        if isinstance(unit, _Matmul):
            self.matmul_forward(unit, name)
        elif isinstance(unit, _Elementwise):
            op = group.nodes[0]._rule
            rule = self.x.rule(op, 0)
            operands = [self.bind(self.read(t, True), f"{name}_in") for t in unit.takes]
            unit._export_operands = operands
            expression = rule.expressions(operands)[0]
            if all(t.mode == "const" for t in unit.takes):
                expression = f"np.asarray({expression}, dtype=np.float64).reshape(-1, {unit.k})"
            self.lines.append(f"{name} = {expression}  # {op.name} × {unit.k}")
        elif isinstance(unit, _Variadic):
            self.variadic_forward(unit, name)
        elif isinstance(unit, _Chains):
            operands = self.bind(self.read(unit.take), f"{name}_in")
            self.lines.append(
                f"{name} = np.cumsum({operands}.reshape(-1, {unit.k}, {unit.n}), axis=2)[:, :, -1]"
                f"  # {unit.k} sum(s) of {unit.n} terms, added left to right"
            )
        elif isinstance(unit, _Gather):
            helpers = self.x.helpers
            flat_positions = helpers.copy(gather_module.flat_positions, gather_module)
            gather_forward = helpers.copy(gather_module.gather_forward, gather_module)
            at = self.bind(self.read(unit.at), f"{name}_ids")
            tables = self.bind(self.read(unit.table), f"{name}_tables")
            flat = f"{name}_at"
            self.used.add(flat)
            offsets = "np.array([" + ", ".join(str(int(o)) for o in unit.offsets[0]) + "])[None, :]"
            self.lines.append(f"{flat}, {name}_bad = {flat_positions}({at}, {offsets}, {unit.n})")
            self.lines.append(
                f"problems.append(None if {name}_bad is None else IndexError(f'sample {{{name}_bad[0]}} indexes a list "
                f"of {unit.n} with {{int({name}_bad[1])}}, out of range'))"
            )
            self.lines.append(f"{name} = {gather_forward}({tables}, {flat})  # table[token id] × {unit.k}")
            unit._export_tables = tables
        elif isinstance(unit, _Calc) and getattr(unit, "reduces", False):
            if unit.name not in ("max", "min"):
                raise CompileError(f"step.code: fn computes {unit.name} of several numbers, which has no NumPy form here")
            self.x.uses_gather = True
            operands = self.bind(self.read(unit.takes[0]), f"{name}_in")
            self.lines.append(
                f"{name} = python_extreme({operands}.reshape(-1, {unit.k}, {unit.n}), largest={unit.name == 'max'})"
                f"  # Python's {unit.name}() of numbers (no gradient)"
            )
        elif isinstance(unit, _Calc):
            function = numpy_name(unit.fn)
            if function is None:
                raise CompileError(f"step.code: fn computes {unit.name} with {unit.fn!r:.60}, which is not NumPy")
            operands = [self.bind(self.read(t, True), f"{name}_in") for t in unit.takes]
            self.lines.append(
                f"{name} = np.asarray({function}({', '.join(operands)}), dtype=np.float64).reshape(-1, {unit.k})"
                "  # Python arithmetic on the data (no gradient)"
            )
            if unit.name in ("truediv", "floordiv", "mod", "pow") or unit.is_int:
                self.lines.append(
                    f"problems.append(calc_problem({function.split('.')[-1]!r}, [{', '.join(operands)}], {name}, {unit.is_int}))"
                )
                self.x.uses_gather = True
        else:
            raise CompileError(f"step.code: a group of kind {type(unit).__name__} ({group.op}) has no NumPy form here")

    def matmul_forward(self, unit: _Matmul, name: str) -> None:
        n, k = unit.shape
        x = self.bind(self.read(unit.x), f"{name}_x")
        layer = name[1:] if unit.group.kind == "matmul" and name.startswith("z") else None
        w_name = f"W{layer}" if layer else f"{name}_W"
        if unit.rows is not None:
            sid, start, length = unit.rows
            row = "theta" if sid == PARAMS else f"{self.names[sid]}[0]"
            grad_row = "grad" if sid == PARAMS else f"d_{self.names[sid]}[0]"
            if start + k * length <= self.width[sid]:
                view = f"{{}}[{start}:{start + k * length}].reshape({k}, {length})" + (f"[:, :{n}]" if n != length else "")
            else:
                view = f"np.lib.stride_tricks.as_strided({{}}[{start}:], shape=({k}, {n}), strides=({length} * 8, 8))"
            # column-major, so that W.T is a contiguous array: the product the replay computes, to the bit
            (self.weight_views if sid == PARAMS else self.lines).append(f"{w_name} = np.asfortranarray({view.format(row)})")
            unit._export_w = (w_name, view.format(grad_row), sid)
        else:
            self.lines.append(f"{w_name} = {self.read(unit.w)}.reshape({n}, {k}).T")
            unit._export_w = (w_name, None, None)
        bias = ""
        unit._export_b = None
        if unit.b is not None:
            b = unit.b
            if b.mode == "one" and b.sid == PARAMS and isinstance(b.cols, slice):
                b_name = f"b{layer}" if layer else f"{name}_b"
                self.weight_views.append(f"{b_name} = theta[{_slice_text(b.cols)}]")
                unit._export_b = (b_name, f"grad[{_slice_text(b.cols)}]")
            else:
                b_name = self.bind(self.read(b), f"{name}_b")
            bias = f" + {b_name}"
        unit._export_x = x
        what = f"layer {layer}: {k} neuron{'s' if k > 1 else ''}, one matrix product" if layer else f"dot × {k}"
        stack = getattr(unit, "stack", 1)
        if stack > 1:  # one layer at several positions: a row per (sample, position)
            rows = self.fresh(f"{name}_rows")
            self.lines.append(f"{rows} = {x}.reshape(-1, {n})  # {stack} positions per sample, one row each")
            unit._export_x = rows
            if bias:
                bias = f" + np.broadcast_to({bias[3:]}, ({x}.shape[0], {stack * k})).reshape(-1, {k})"
                unit._export_b = None  # its gradient: through the take, position by position
            self.lines.append(f"{name} = ({rows} @ {w_name}.T{bias}).reshape(-1, {stack * k})  # {what}, at {stack} positions")
            return
        self.lines.append(f"{name} = {x} @ {w_name}.T{bias}  # {what}")

    def variadic_forward(self, unit: _Variadic, name: str) -> None:
        op = unit.op
        operands = self.bind(self.read(unit.take), f"{name}_in")
        unit._export_operands = operands
        if unit.chain:
            self.lines.append(f"{name} = np.cumsum({operands}, axis=1)[:, -1:]  # a chain of additions, left to right")
            return
        if unit.fast_sum:
            kit = self.x.helpers
            fn = kit.copy(tape_module._row_sums, tape_module, wanted="row_sums") if op.name == "sum" else None
            if op.name == "sum":
                self.lines.append(f"{name} = {fn}({operands})[:, None]  # sum × 1")
            else:
                fmean = kit.global_of(floats, "mean", floats.mean)
                amean = kit.kit("mean")
                self.lines.append(
                    f"{name} = (np.array([[{fmean}({operands}[0].tolist())]]) if {operands}.shape[0] == 1 "
                    f"else {amean}(list({operands}.T))[:, None])  # mean × 1"
                )
            return
        rows_class = self.x.helpers.kit("Rows")
        params = []
        for p in unit.params:
            if isinstance(p, tuple):
                sid, col = p[1]
                params.append(f"np.clip({self.names[sid]}[:, {col}], 0, {unit.take.k - 1}).astype(np.int64)")
            else:
                params.append(_literal(float(p)) if not isinstance(p, int) else str(p))
        rows = f"{name}_rows"
        self.used.add(rows)
        unit._export_rows = rows
        self.lines.append(f"{rows} = {rows_class}(np.ascontiguousarray({operands}.T), [{', '.join(params)}])")
        forward = self.x.rule(op, 0).expressions([rows])[0]
        self.lines.append(f"{name} = np.asarray({forward}, dtype=np.float64).reshape(-1, 1)  # {op.name}")

    # --- backward ------------------------------------------------------------------------

    def backward(self) -> None:
        tape = self.tape
        back = self.back
        back.append("# backward: each group's chain rule, in reverse")
        back.append("grad = np.zeros_like(theta)")
        back.append("d_params = grad.reshape(1, -1)  # a view: adding into it adds into grad")
        sid, col = tape.result_refs[0]
        if not tape.needs[sid] or tape.result_list:
            back.append("return result, outcomes, problems, grad")
            return
        name = self.names[sid]
        self.declared.add(sid)
        scale = "seed * B" if self.shared[sid] else "seed"
        if self.width[sid] == 1:
            back.append(f"d_{name} = np.full_like({name}, {scale})")
        else:
            back.append(f"d_{name} = np.zeros_like({name})")
            back.append(f"d_{name}[:, {col}] = {scale}")
        for unit in reversed(tape.units):
            if not tape.needs[unit.sid] or unit.sid not in self.declared or isinstance(unit, _Calc):
                continue
            if isinstance(unit, _Matmul):
                self.matmul_backward(unit)
            elif isinstance(unit, _Elementwise):
                self.elementwise_backward(unit)
            elif isinstance(unit, _Variadic):
                self.variadic_backward(unit)
            elif isinstance(unit, _Chains):
                g = self.dead_where(unit, f"d_{self.names[unit.sid]}")
                self.add(unit.take, f"np.repeat({g}, {unit.n}, axis=1)", self.shared[unit.sid])
            elif isinstance(unit, _Gather):
                if not unit.wanted:
                    continue
                name = self.names[unit.sid]
                g = self.dead_where(unit, f"d_{name}")
                backward = self.x.helpers.copy(gather_module.gather_backward, gather_module)
                self.add(
                    unit.table,
                    f"{backward}({g}, {name}_at, {unit._export_tables}.shape[0], {unit.width})",
                    self.read_shared(unit.table),  # a shared table's gradient comes summed over the samples
                )
            else:
                raise CompileError(f"step.code: the {unit.group.op} group ({type(unit).__name__}) has no NumPy form here")
        back.append("return result, outcomes, problems, grad")

    def dead_where(self, unit: Any, g: str) -> str:
        return g if unit.dead is None else f"np.where({self.dead_mask(unit)}, 0.0, {g})"

    def dead_mask(self, unit: Any) -> str:
        return "np.array([" + ", ".join(str(bool(d)) for d in unit.dead) + "])"

    def elementwise_backward(self, unit: _Elementwise) -> None:
        name = self.names[unit.sid]
        op = unit.group.nodes[0]._rule
        rule = self.x.rule(op, 1)
        g = f"d_{name}"
        shared = self.shared[unit.sid]
        gradients = rule.expressions([g, name, *unit._export_operands])
        if len(gradients) != len(unit.takes):
            if len(unit.takes) == 1:
                gradients = gradients[:1]
            else:
                targets = [self.fresh(f"d_{name}_") for _ in unit.takes]
                self.back.append(f"{', '.join(targets)} = {gradients[0]}")
                gradients = targets
        given = [g for g, wanted in zip(gradients, unit.wanted) if wanted]
        self.twice = {g for g in given if given.count(g) > 1}
        for take, wanted, gradient in zip(unit.takes, unit.wanted, gradients):
            if not wanted:
                continue
            if unit.dead is not None:
                gradient = f"np.where({self.dead_mask(unit)}, 0.0, {gradient})"
            self.add(take, gradient, shared)

    def matmul_backward(self, unit: _Matmul) -> None:
        name = self.names[unit.sid]
        g = f"d_{name}"
        shared = self.shared[unit.sid]
        if unit.dead is not None:
            self.back.append(f"{g} = np.where({self.dead_mask(unit)}, 0.0, {g})")
        whole = g  # the biases' gradient: every position's
        stack = getattr(unit, "stack", 1)
        if stack > 1:
            g = self.fresh(f"d_{name}_rows")
            self.back.append(f"{g} = {whole}.reshape(-1, {unit.shape[1]})  # a row per (sample, position)")
        x = unit._export_x
        x_shared = self.read_shared(unit.x)
        w_name, w_grad_view, w_sid = unit._export_w
        if unit.w_needs:
            g_for_w = g if x_shared == shared else f"{g}.sum(axis=0, keepdims=True)"
            gw = f"{g_for_w}.T @ {x}"
            if unit.dead is not None:
                gw = f"np.where({self.dead_mask(unit)}[:, None], 0.0, {gw})"
            if w_grad_view is not None:
                target = "d" + w_name if w_sid == PARAMS else None
                if w_sid != PARAMS and w_sid not in self.declared and w_sid != CONSTANTS:
                    self.declared.add(w_sid)
                    self.back.append(f"d_{self.names[w_sid]} = np.zeros_like({self.names[w_sid]})")
                if w_sid == CONSTANTS:
                    pass
                elif target is not None:
                    if target not in self.grad_views:
                        self.grad_views[target] = w_grad_view
                        self.back.insert(3, f"{target} = {w_grad_view}")
                    self.back.append(f"{target} += {gw}  # the chain rule of layer {w_name[1:]}: dW = dz.T @ x")
                else:  # W read from a node's row: its gradient through a view of that row's gradient
                    view = self.fresh(f"d_{name}_W")
                    self.back.append(f"{view} = {w_grad_view}")
                    self.back.append(f"{view} += {gw}")
            else:
                self.add(unit.w, f"({gw}).T.reshape(1, -1)", True)
        if unit.b_needs:
            if unit._export_b is not None:
                b_name, view = unit._export_b
                target = "d" + b_name
                if target not in self.grad_views:
                    self.grad_views[target] = view
                    self.back.insert(3, f"{target} = {view}")
                self.back.append(f"{target} += {g}{'[0]' if shared else '.sum(axis=0)'}")
            else:
                self.add(unit.b, whole, shared)
        if unit.x_needs:
            gx = f"{g} @ {w_name}" if stack == 1 else f"({g} @ {w_name}).reshape({whole}.shape[0], -1)"
            self.add(unit.x, gx, shared)

    def read_shared(self, take: _Take) -> bool:
        if take.mode == "const":
            return True
        sources = take.sources()
        return all(self.shared[s] for s in sources)

    def variadic_backward(self, unit: _Variadic) -> None:
        if unit.dead is not None:
            return
        name = self.names[unit.sid]
        g = f"d_{name}"
        shared = self.shared[unit.sid]
        n = unit.take.k
        if unit.fast_sum:
            local = g if unit.op.name == "sum" else f"{g} / {n}"
            self.add(unit.take, f"np.broadcast_to({local}, ({g}.shape[0], {n}))", shared)
            return
        rows = unit._export_rows
        backward = self.x.rule(unit.op, 1).expressions([f"{g}[:, 0]", f"{name}[:, 0]", rows])[0]
        self.x.uses_gather = True
        local = self.fresh(f"d_{name}_in")
        self.views.add(local)
        self.back.append(
            f"{local} = columns_of({backward}, {n}, max({g}.shape[0], {rows}.matrix.shape[1]))  # {unit.op.name}'s chain rule"
        )
        self.add(unit.take, local, shared)


def _arg_names(step: Any, count: int) -> list[str]:
    try:
        names = [p.name for p in inspect.signature(step.fn).parameters.values()]
    except (TypeError, ValueError):
        names = []
    names = (names + [f"arg{a}" for a in range(len(names), count)])[:count]
    out: list[str] = []
    for a, name in enumerate(names):
        name = _identifier(name, f"arg{a}")
        if name in _RESERVED or name in out or name.startswith("d_"):
            name = f"{name}_arg{a}"
        out.append(name)
    return out


def _refuse_closure_nodes(step: Any, tapes: list[Tape]) -> None:
    params = {id(p) for p in step.params}
    for tape in tapes:
        for _, node in tape.constant_nodes:
            stack, seen = [node], set()
            while stack:
                v = stack.pop()
                if id(v) in seen or v.__class__ is not Value:
                    continue
                seen.add(id(v))
                if id(v) in params:
                    raise CompileError(
                        f"step.code: fn reads a Value made outside fn from the parameters ({node!r:.60}); the compiled "
                        "step passes its gradient on through gradtrace, which exported NumPy code cannot do. "
                        "Compute it inside fn"
                    )
                stack.extend(a for a in getattr(v, "_args", ()) or () if a.__class__ is Value)


def module_source(step: Any) -> str:
    """The source of a standalone NumPy module computing ``step`` (see the module's docstring)."""
    tapes: list[Tape] = list(step._patterns.tapes)
    if not tapes:
        raise CompileError(
            "step.code: the step has not been traced yet; call it on a batch (or step.trace(*batches)) first: "
            "the code is written from the traced graph"
        )
    _refuse_closure_nodes(step, tapes)
    exporter = _Exporter(step)
    arg_names = _arg_names(step, len(tapes[0].kinds))
    single = len(tapes) == 1 and not len(tapes[0].guards) and "introws" not in tapes[0].kinds
    functions = []
    for p, tape in enumerate(tapes):
        function = "step" if single else f"pattern_{p}"
        functions.append(_TapeWriter(exporter, tape, arg_names, function, True).write())
    args = ", ".join(arg_names)
    reduction = step.reduction
    reduce_fn = exporter.helpers.global_of(floats, reduction, getattr(floats, reduction))
    seed = "1.0 / len(result)" if reduction == "mean" else "1.0"
    if single:
        run = f"    result, _, problems, grad = step(theta, {args}, seed=seed)\n" \
              "    for problem in problems:\n        if problem is not None:\n            raise problem\n"  # fmt: skip
        forward_body = f"    result, _, problems, _ = step(theta, {args})\n" \
                       "    for problem in problems:\n        if problem is not None:\n            raise problem\n" \
                       "    return np.array(result)"  # fmt: skip
    else:
        run = f"    result, grad = replay(theta, [{args}], seed)\n"
        forward_body = f"    return replay(theta, [{args}], None)[0]"
    size = f"len({arg_names[0]})"
    public = f'''
def forward(theta, {args}):
    """The per-sample results: shape (B,) (or (B, k) for a list of k results)."""
    theta = np.asarray(theta, dtype=np.float64)
    with np.errstate(all="ignore"):
{textwrap.indent(forward_body, "    ")}


def loss_and_grad(theta, {args}):
    """(loss, gradient): the {reduction} of the per-sample results and its gradient, shaped like theta."""
    theta = np.asarray(theta, dtype=np.float64)
    seed = {seed.replace("len(result)", size)}
    with np.errstate(all="ignore"):
{textwrap.indent(run, "    ")}
    loss = {reduce_fn}(np.asarray(result).tolist())
    return loss, (np.zeros_like(theta) if grad is None else grad)
'''
    if tapes[0].result_list:
        public = public.split("\n\ndef loss_and_grad")[0] + (
            f'\n\n\ndef loss_and_grad(theta, {args}):\n    raise TypeError("fn returns a list of Values; loss_and_grad needs '
            'one Value per sample")\n'
        )
    dispatch = ""
    if not single:
        outcomes = [tuple(float(o) for o in tape.outcomes) for tape in tapes]
        dispatch = (
            "\n\nPATTERNS = [" + ", ".join(f"pattern_{p}" for p in range(len(tapes))) + "]\n"
            + "OUTCOMES = " + repr(outcomes) + "  # each pattern's comparisons' outcomes (1.0: true), in order\n"
            + "SHAPES = " + repr([tuple(getattr(tape, "shape", ())) for tape in tapes]) + "  # the lengths of its rows of token ids\n"
            + "TOKEN_ROWS = " + repr([kind == "introws" for kind in tapes[0].kinds]) + "\n"
            + _DISPATCH
        )
    name = getattr(step.fn, "__name__", "fn")
    header = f'''"""{name}, compiled by gradtrace and written out as NumPy: {len(step.params)} parameters, {len(tapes)} branch pattern(s).

forward(theta, {args}) gives the per-sample results; loss_and_grad(theta, {args}) gives the
{reduction} of them and its gradient. theta holds the parameters, in the order they were given
to autograd.compile. The code needs only NumPy.
"""

import math

import numpy as np
'''
    helpers = exporter.helpers.text()
    template = _TEMPLATE_HELPERS if exporter.uses_gather or not single else ""
    parts = [header, public, *functions]
    if dispatch:
        parts.append(dispatch)
    tail = "# --- helpers: the array kit's functions and rules the code above calls ----------------\n"
    if helpers or template:
        parts.append(tail + template + ("\n\n" + helpers if helpers else ""))
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"
