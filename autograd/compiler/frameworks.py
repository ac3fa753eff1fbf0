"""A compiled step's forward pass as PyTorch or JAX code: ``step.to_torch()`` and ``backend="jax"``.

The tape's groups are written as the framework's array operations on (rows, k) tensors,
the forward pass alone: the framework's own automatic differentiation gives the gradient.
A layer is one ``x @ W.T + b``; the other groups are one call of the framework's form of
their op (:data:`ELEMENTWISE`, :func:`_variadic`). One branch pattern is written out: its
comparisons are evaluated for every sample, and a sample whose outcomes differ is an
error (``ValueError``), never a number from another branch. An op of your own, or one
this table has no form for, is refused with a :class:`CompileError` that names it.

PyTorch: :func:`torch_module` makes an ``nn.Module`` whose parameters hold theta: each
layer of the first tape whose neurons are stored as nn's are (each neuron's weights, then
its bias) is one ``(out, in + 1)`` parameter, and the rest are 1-D runs of theta, so that
``parameters_to_vector(module.parameters())`` is theta in order. JAX: :func:`jax_source`
writes ``forward(theta, *columns)`` with ``jnp``, for :mod:`autograd.compiler.jaxstep`.

The pipeline stays one way: this module reads tapes; nothing before it imports it.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import numpy as np

from ..ops import _TABLE, Op
from .batch import CompileError
from .tape import CONSTANTS, PARAMS, Tape, _Calc, _Chains, _Elementwise, _Gather, _Matmul, _Take, _Variadic

__all__ = ["ELEMENTWISE", "jax_source", "torch_module", "torch_source"]

# each op's forward in the framework: {a}, {b} its operands; "T" the framework's namespace
# (torch or jnp), "where" its where
ELEMENTWISE: dict[str, str] = {
    "add": "{a} + {b}", "sub": "{a} - {b}", "mul": "{a} * {b}", "div": "{a} / {b}", "pow": "{a} ** {b}",
    "neg": "-{a}", "abs": "T.abs({a})", "exp": "T.exp({a})", "log": "T.log({a})", "sigmoid": "SIGMOID({a})",
    "tanh": "T.tanh({a})", "relu": "T.where({a} <= 0.0, T.zeros_like({a}), {a})",
    "softplus": "T.where({a} > 0.0, {a}, T.zeros_like({a})) + T.log1p(T.exp(-T.abs({a})))",
    "step": "T.where({a} > 0.0, T.ones_like({a}), T.where({a} <= 0.0, T.zeros_like({a}), {a}))",
    "sin": "T.sin({a})", "cos": "T.cos({a})", "sqrt": "T.sqrt({a})", "tan": "T.tan({a})", "sinh": "T.sinh({a})",
    "cosh": "T.cosh({a})", "arcsin": "ASIN({a})", "arccos": "ACOS({a})", "arctan": "ATAN({a})",
    "arcsinh": "ASINH({a})", "arccosh": "ACOSH({a})", "arctanh": "ATANH({a})", "log2": "T.log2({a})",
    "log10": "T.log10({a})", "log1p": "T.log1p({a})", "expm1": "T.expm1({a})", "sign": "T.sign({a})",
    "floor": "T.floor({a})", "ceil": "T.ceil({a})", "leaky_relu": "T.where({a} > 0.0, {a}, {b} * {a})",
    "elu": "T.where({a} > 0.0, {a}, {b} * T.expm1({a}))", "mod": "REMAINDER({a}, {b})", "hypot": "T.hypot({a}, {b})",
    "arctan2": "ATAN2({a}, {b})", "logaddexp": "T.logaddexp({a}, {b})", "logaddexp2": "T.logaddexp2({a}, {b})",
}  # fmt: skip

_NAMES = {  # the functions whose names differ between the two frameworks
    "torch": {"SIGMOID": "torch.sigmoid", "ASIN": "torch.asin", "ACOS": "torch.acos", "ATAN": "torch.atan",
              "ASINH": "torch.asinh", "ACOSH": "torch.acosh", "ATANH": "torch.atanh", "REMAINDER": "torch.remainder",
              "ATAN2": "torch.atan2"},
    "jax": {"SIGMOID": "jax.nn.sigmoid", "ASIN": "jnp.arcsin", "ACOS": "jnp.arccos", "ATAN": "jnp.arctan",
            "ASINH": "jnp.arcsinh", "ACOSH": "jnp.arccosh", "ATANH": "jnp.arctanh", "REMAINDER": "jnp.remainder",
            "ATAN2": "jnp.arctan2"},
}  # fmt: skip

# Python's arithmetic on the data (calcs, no gradient): NumPy's ufunc name -> the framework's form
_CALCS = {
    "add": "{0} + {1}", "subtract": "{0} - {1}", "multiply": "{0} * {1}", "true_divide": "{0} / {1}",
    "divide": "{0} / {1}", "floor_divide": "T.floor({0} / {1})", "remainder": "REMAINDER({0}, {1})",
    "power": "{0} ** {1}", "negative": "-{0}", "positive": "{0}", "absolute": "T.abs({0})", "exp": "T.exp({0})",
    "log": "T.log({0})", "sqrt": "T.sqrt({0})", "sin": "T.sin({0})", "cos": "T.cos({0})", "tanh": "T.tanh({0})",
    "floor": "T.floor({0})", "ceil": "T.ceil({0})", "maximum": "T.maximum({0}, {1})", "minimum": "T.minimum({0}, {1})",
}  # fmt: skip
_COMPARE = {operator.lt: "<", operator.le: "<=", operator.gt: ">", operator.ge: ">=", operator.eq: "==", operator.ne: "!="}


def _literal(x: float) -> str:
    if x != x:
        return "float('nan')"
    if x in (float("inf"), float("-inf")):
        return "float('inf')" if x > 0 else "-float('inf')"
    return repr(float(x))


class _Writer:
    """The forward pass of one tape in one framework ("torch" or "jax")."""

    def __init__(self, tape: Tape, framework: str, arg_names: list[str], layers: dict[int, str], what: str) -> None:
        self.tape, self.framework, self.what = tape, framework, what
        self.T = "torch" if framework == "torch" else "jnp"
        self.arg_names = arg_names
        self.layers = layers  # a layer's first parameter index -> its parameter's name (torch)
        self.lines: list[str] = []
        self.names: dict[int, str] = {}
        self.width: dict[int, int] = {}
        self.count = 0

    def refuse(self, what: str) -> CompileError:
        return CompileError(f"{self.what}: {what}")

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{re.sub(r'[^0-9A-Za-z_]', '_', base)}_{self.count}"

    def fn(self, template: str) -> str:
        text = template.replace("T.", f"{self.T}.")
        for key, value in _NAMES[self.framework].items():
            text = text.replace(key + "(", value + "(")
        return text

    def const(self, values: list[float]) -> str:
        row = "[[" + ", ".join(_literal(v) for v in values) + "]]"
        return f"constant({row})"

    def read(self, take: _Take) -> str:
        if take.mode == "const":
            return self.const(take.const[0].tolist())
        if take.mode == "one":
            return self.columns(take.sid, take.cols)
        parts = []
        for position in range(take.k):
            found = None
            for sid, positions, cols, _ in take.parts:
                hits = np.flatnonzero(positions == position)
                if hits.size:
                    found = f"{self.names[sid]}[:, {int(cols[hits[0]])}:{int(cols[hits[0]]) + 1}]"
            parts.append(found if found is not None else self.const([float(take.const[0][position])]))
        return f"columns({', '.join(parts)})"

    def columns(self, sid: int, cols: Any) -> str:
        name = self.names[sid]
        if isinstance(cols, slice):
            if cols.start == 0 and cols.step == 1 and cols.stop == self.width[sid]:
                return name
            return f"{name}[:, {cols.start}:{cols.stop}" + (f":{cols.step}]" if cols.step != 1 else "]")
        return f"{name}[:, {self.index(cols.tolist())}]"

    def index(self, cols: list[int]) -> str:
        return f"{self.T}.asarray({cols})" if self.framework == "jax" else f"{cols}"

    def bind(self, expression: str, base: str) -> str:
        if re.fullmatch(r"[A-Za-z_]\w*", expression):
            return expression
        name = self.fresh(base)
        self.lines.append(f"{name} = {expression}")
        return name

    def write(self) -> list[str]:
        tape = self.tape
        self.lines.append("problems = []  # per-sample errors Python would raise (an index out of range, a division by 0)")
        self.names[PARAMS], self.width[PARAMS] = "params", tape.n_params
        self.names[CONSTANTS], self.width[CONSTANTS] = "constants", len(tape.constants)
        for a in range(len(tape.kinds)):
            self.names[tape.arg_sid[a]], self.width[tape.arg_sid[a]] = self.arg_names[a], tape.widths[a]
        if tape.constants and self.framework == "torch":  # JAX: an argument, read at every call
            self.lines.append(f"constants = {self.const([c.data for c in tape.constants])}")
        for source, alias in tape.alias_of.items():
            if source in self.names:
                self.alias(source, alias)
        for unit, alias in zip(tape.units, tape.unit_aliases):
            self.names[unit.sid] = self.fresh("z" if isinstance(unit, _Matmul) else unit.group.op)
            self.width[unit.sid] = len(unit.group.nodes)
            self.forward(unit)
            if alias is not None:
                self.alias(unit.sid, alias)
        guards = tape.guards
        if len(guards):
            parts = []
            for fn, takes in zip(guards.fns, guards.takes):
                operands = [self.read(t) + "[:, 0]" if t.mode != "const" else _literal(float(t.const[0][0])) for t in takes]
                if fn is None:
                    parts.append(operands[0])
                elif fn in _COMPARE:
                    parts.append(f"({operands[0]} {_COMPARE[fn]} {operands[1]})")
                elif getattr(fn, "__name__", "") in ("isnan", "isinf", "isfinite"):
                    parts.append(f"{self.T}.{fn.__name__}({operands[0]})")
                else:
                    raise self.refuse(f"fn compares numbers with {fn!r:.60}, which has no {self.framework} form here")
            self.lines.append(
                "outcomes = [" + ", ".join(f"{p}" for p in parts) + "]  # the comparisons fn made, per sample"
            )
            if self.framework == "torch":
                self.lines.append(f"expected = {[float(o) for o in tape.outcomes]!r}")
        else:
            self.lines.append("outcomes, expected = [], []" if self.framework == "torch" else "outcomes = []")
        if tape.result_list:
            cols = ", ".join(f"{self.names[s]}[:, {c}]" for s, c in tape.result_refs)
            self.lines.append(f"result = {self.T}.stack([{cols}], 1)")
        else:
            sid, col = tape.result_refs[0]
            self.lines.append(f"result = {self.names[sid]}[:, {col}]")
        return self.lines

    def alias(self, source: int, alias: int) -> None:
        name = self.names[source] + "_data"
        detach = f"{self.names[source]}.detach()" if self.framework == "torch" else f"jax.lax.stop_gradient({self.names[source]})"
        self.lines.append(f"{name} = {detach}  # its numbers, read with no gradient")
        self.names[alias], self.width[alias] = name, self.width[source]

    def forward(self, unit: Any) -> None:
        name = self.names[unit.sid]
        T = self.T
        if isinstance(unit, _Matmul):
            n, k = unit.shape
            x = self.bind(self.read(unit.x), "x")
            bias = ""
            key = (unit.rows[1], unit.rows[2] + (unit.shape[1] == 1 and unit.rows[2] == n), k) if unit.rows else None
            if unit.rows is not None and unit.rows[0] == PARAMS and key in self.layers:
                layer = self.layers[key]
                w, bias = f"self.{layer}[:, :{n}]", f" + self.{layer}[:, {n}]"
            else:
                if unit.rows is not None:
                    sid, start, length = unit.rows
                    row = "theta" if sid == PARAMS else f"{self.names[sid]}[0]"
                    idx = (np.arange(k)[:, None] * length + np.arange(n)[None, :] + start).ravel().tolist()
                    w = f"{row}[{self.index(idx)}].reshape({k}, {n})"
                else:
                    w = f"{self.read(unit.w)}.reshape({n}, {k}).T"
                if unit.b is not None:
                    bias = f" + {self.read(unit.b)}"
            stack = getattr(unit, "stack", 1)
            if stack > 1:  # one layer at several positions: a row per (sample, position)
                if bias and unit.b is not None and not (unit.rows is not None and key in self.layers):
                    bias = f" + {self.read(unit.b)}"
                    self.lines.append(f"{name} = ({x}.reshape(-1, {n}) @ {w}.T).reshape(-1, {stack * k}){bias}  # a layer at {stack} positions")
                else:
                    self.lines.append(f"{name} = ({x}.reshape(-1, {n}) @ {w}.T{bias}).reshape(-1, {stack * k})  # a layer at {stack} positions")
                return
            self.lines.append(f"{name} = {x} @ {w}.T{bias}  # {k} dot(s) as one matrix product")
        elif isinstance(unit, _Elementwise):
            op: Op = unit.group.nodes[0]._rule
            template = ELEMENTWISE.get(op.name) if any(op is b for b in _TABLE) else None
            if template is None:
                raise self.refuse(f"the op {op.name} has no {self.framework} form (an op of your own is not exported)")
            operands = [self.bind(self.read(t), "operand") for t in unit.takes]
            self.lines.append(f"{name} = {self.fn(template).format(a=operands[0], b=operands[-1])}  # {op.name}")
        elif isinstance(unit, _Variadic):
            self.lines.append(f"{name} = {self.variadic(unit)}  # {unit.op.name}")
        elif isinstance(unit, _Chains):
            operands = self.bind(self.read(unit.take), "terms")
            self.lines.append(f"{name} = {T}.cumsum({operands}.reshape(-1, {unit.k}, {unit.n}), 2)[:, :, -1]  # sums")
        elif isinstance(unit, _Gather):
            ids = self.bind(self.read(unit.at), "ids")
            tables = self.bind(self.read(unit.table), "tables")
            offsets = unit.offsets[0].tolist()
            self.lines.append(f"problems.append(check_ids({ids}, {unit.n}))")
            flat = self.fresh("flat")
            self.lines.append(f"{flat} = as_index({T}.where({ids} < 0, {ids} + {unit.n}, {ids}) + {self.const([float(o) for o in offsets])})")
            self.lines.append(f"{name} = take_columns({tables}, {flat})  # table[token id]")
        elif isinstance(unit, _Calc):
            self.calc(unit, name)
        else:
            raise self.refuse(f"the {unit.group.op} group ({type(unit).__name__}) has no {self.framework} form here")

    def calc(self, unit: _Calc, name: str) -> None:
        if getattr(unit, "reduces", False):
            if unit.name not in ("max", "min"):
                raise self.refuse(f"fn computes {unit.name} of several numbers, which has no {self.framework} form here")
            operands = self.bind(self.read(unit.takes[0]), "operands")
            self.lines.append(f"{name} = python_extreme(detach({operands}).reshape(-1, {unit.k}, {unit.n}), {unit.name == 'max'})")
            return
        ufunc = getattr(unit.fn, "__name__", "")
        template = _CALCS.get(ufunc)
        if template is None:
            raise self.refuse(f"fn computes {unit.name} of numbers with {ufunc}, which has no {self.framework} form here")
        operands = [f"detach({self.read(t)})" for t in unit.takes]
        operands = [self.bind(o, "number") for o in operands]
        if ufunc in ("true_divide", "divide", "floor_divide", "remainder"):
            self.lines.append(f"problems.append(check_nonzero({operands[1]}))")
        self.lines.append(f"{name} = {self.fn(template).format(*operands)}  # Python arithmetic on the data (no gradient)")

    def variadic(self, unit: _Variadic) -> str:
        T = self.T
        op = unit.op.name
        o = self.bind(self.read(unit.take), "operands")
        k = unit.take.k
        if unit.chain:
            return f"{T}.cumsum({o}, 1)[:, -1:]"
        if op in ("sum", "mean", "prod"):
            return f"row_{op}({o})"
        if op == "dot":
            n = k // 2
            bias = f" + {o}[:, {2 * n}:]" if k % 2 else ""
            return f"row_sum({o}[:, :{n}] * {o}[:, {n}:{2 * n}]){bias}"
        if op in ("maximum", "minimum"):
            arg = "argmax" if op == "maximum" else "argmin"
            return f"take_columns({o}, {T}.{arg}({o}, 1)[:, None])"
        if op == "logsumexp":
            return f"logsumexp({o})"
        if op in ("var", "std"):
            return f"{op}_of({o})"
        if op in ("softmax", "log_softmax"):
            (param,) = unit.params
            if isinstance(param, tuple):
                sid, col = param[1]
                index = f"as_index(detach({self.names[sid]}[:, {col}:{col + 1}]))"
            else:
                index = f"as_index({self.const([float(param)])})"
            return f"take_columns({op}({o}), {index})"
        raise self.refuse(f"the op {op} has no {self.framework} form (an op of your own is not exported)")


_TORCH_HELPERS = '''
def detach(x):
    return x.detach()


def as_index(x):
    return x.long()


def take_columns(table, index):
    """Each row's entries at index ((rows or 1, k) integer positions)."""
    rows = max(table.shape[0], index.shape[0])
    return torch.gather(table.expand(rows, -1), 1, index.expand(rows, -1))


def check_ids(ids, n):
    bad = (ids < -n) | (ids >= n)
    if bool(bad.any()):
        row = int(bad.any(1).nonzero()[0, 0])
        raise IndexError(f"sample {row} indexes a list of {n} with an id out of range")
    return False


def check_nonzero(x):
    if bool((x == 0).any()):
        raise ZeroDivisionError("fn divides by a number that is 0 for a sample")
    return False


def row_sum(x):
    return x.sum(1, keepdim=True)


def row_mean(x):
    return x.mean(1, keepdim=True)


def row_prod(x):
    return x.prod(1, keepdim=True)


def python_extreme(m, largest):
    nan = torch.isnan(m)
    filled = torch.where(nan, -torch.inf if largest else torch.inf, m)
    at = (filled.argmax if largest else filled.argmin)(-1)
    best = torch.gather(m, -1, at[..., None])[..., 0]
    first = m[..., 0]
    return torch.where(torch.isnan(first), first, best)


def largest(x):
    """Each row's largest logit (a constant, as in the op table), whether it is finite, and the
    rows with a non-finite largest made 0: there the op table's plain formulas hold instead."""
    m = x.detach().max(1, keepdim=True).values
    finite = torch.isfinite(m)
    return m, finite, torch.where(finite, x, torch.zeros_like(x))


def logsumexp(x):
    m, finite, safe = largest(x)
    return torch.where(finite, torch.logsumexp(safe, 1, keepdim=True), m)


def softmax(x):
    m, finite, safe = largest(x)
    return torch.where(finite, torch.softmax(safe, 1), torch.exp(x - m))


def log_softmax(x):
    m, finite, safe = largest(x)
    return torch.where(finite, torch.log_softmax(safe, 1), x - m)


def var_of(x):
    return x.var(1, correction=0, keepdim=True)


def std_of(x):
    return x.std(1, correction=0, keepdim=True)
'''


def _layers(tape: Tape) -> list[tuple[int, int, int, str]]:
    """(start, rows, row length, name): layers of the first tape stored as nn's neurons are
    (n weights then the bias, per neuron), each one augmented (out, in + 1) matrix of theta."""
    found: list[tuple[int, int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for unit in tape.units:
        if not isinstance(unit, _Matmul) or unit.rows is None or unit.rows[0] != PARAMS or unit.b is None:
            continue
        _, start, length = unit.rows
        n, k = unit.shape
        b = unit.b
        if k == 1 and length == n:  # one neuron: its run is its weights, then (checked below) its bias
            length = n + 1
        if length != n + 1 or b.mode != "one" or b.sid != PARAMS:
            continue
        if not (isinstance(b.cols, slice) and b.cols.start == start + n and (k == 1 or b.cols.step == length)):
            continue
        end = start + k * length
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        found.append((start, k, length, ""))
    found.sort()
    return [(s, k, length, f"layer{i + 1}") for i, (s, k, length, _) in enumerate(found)]


def _arg_names(step: Any, count: int) -> list[str]:
    from .export import _arg_names as names

    return names(step, count)


def _one_tape(step: Any, what: str) -> Tape:
    tapes = list(step._patterns.tapes)
    if not tapes:
        raise CompileError(f"{what}: the step has not been traced yet; call it on a batch (or step.trace(*batches)) first")
    if len(tapes) > 1:
        raise CompileError(
            f"{what}: the step has {len(tapes)} tapes (branch patterns of comparisons on the data or of an integer "
            "used as a Python int, or lengths of rows of token ids); a framework module holds one: write the branches "
            "with ops (relu, abs, autograd.maximum), compile apart for each length, or use step.code, which keeps them all"
        )
    from .export import _refuse_closure_nodes

    try:
        _refuse_closure_nodes(step, tapes)
    except CompileError as error:
        raise CompileError(str(error).replace("step.code", what)) from None
    return tapes[0]


def torch_source(step: Any) -> tuple[str, list[tuple[str, int, int, tuple[int, ...]]]]:
    """The module's source, and its parameters: (name, start, stop, shape) in theta's order."""
    what = "step.to_torch()"
    tape = _one_tape(step, what)
    n_params = len(step.params)
    layers = _layers(tape)
    params: list[tuple[str, int, int, tuple[int, ...]]] = []
    at = 0
    for start, k, length, name in layers:
        if at < start:
            params.append((f"theta_{at}_{start}", at, start, (start - at,)))
        params.append((name, start, start + k * length, (k, length)))
        at = start + k * length
    if at < n_params:
        params.append((f"theta_{at}_{n_params}", at, n_params, (n_params - at,)))
    arg_names = _arg_names(step, len(tape.kinds))
    writer = _Writer(tape, "torch", arg_names, {(start, length, k): name for start, k, length, name in layers}, what)
    body = writer.write()
    kinds = tape.kinds
    prologue = [f"first = {arg_names[0]}"]
    for a, kind in enumerate(kinds):
        name = arg_names[a]
        prologue.append(
            f"{name} = torch.as_tensor({name}, dtype=torch.float64, device=self.device)"
            + (".reshape(-1, 1)" if kind in ("floats", "ints") else "")
        )
    prologue.append(f"constant = lambda rows: torch.tensor(rows, dtype=torch.float64, device={arg_names[0]}.device)")
    prologue.append("columns = lambda *parts: torch.cat(torch.broadcast_tensors(*parts), 1) if len(parts) > 1 else parts[0]")
    prologue.append("theta = torch.cat([p.reshape(-1) for p in self.parameters()])")
    prologue.append("params = theta.reshape(1, -1)")
    forward = "\n".join("        " + line for line in prologue + body)
    args = ", ".join(arg_names)
    source = f'''import torch


class Exported(torch.nn.Module):
    """{getattr(step.fn, "__name__", "fn")}, compiled by gradtrace, as a PyTorch module: module({args}) gives the
    per-sample results (float64); the parameters, flattened in order, are theta."""

    def __init__(self, theta):
        super().__init__()
        theta = torch.as_tensor(theta, dtype=torch.float64)
{chr(10).join(f"        self.{name} = torch.nn.Parameter(theta[{a}:{b}].reshape{shape}.clone())" for name, a, b, shape in params)}

    @property
    def device(self):
        return next(self.parameters()).device

    def forward(self, {args}):
{forward}
        for g, (got, want) in enumerate(zip(outcomes, expected)):
            differ = (got.double() if hasattr(got, "double") else torch.as_tensor(got)) != want
            if bool(torch.as_tensor(differ).any()):
                sample = int(torch.as_tensor(differ).reshape(-1).nonzero()[0, 0])
                raise ValueError(
                    f"sample {{sample}} takes another branch (comparison {{g}}) than the one this module was "
                    "exported for; export from a step whose fn branches with ops, or use step.code"
                )
        return result.expand(first.shape[0]) if result.ndim == 1 and result.shape[0] == 1 else result
'''
    return source + "\n" + _TORCH_HELPERS, params


def torch_module(step: Any) -> Any:
    """``step.to_torch()``: see the module's docstring."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            "step.to_torch() needs PyTorch, an optional extra of gradtrace: pip install 'gradtrace[torch]' "
            "(or pip install torch)"
        ) from None
    source, _ = torch_source(step)
    namespace: dict[str, Any] = {"torch": torch, "__name__": "gradtrace_exported"}
    exec(compile(source, "<gradtrace step.to_torch()>", "exec"), namespace)  # noqa: S102 - code written from the tape
    theta = np.array([p.data for p in step.params], dtype=np.float64)
    module = namespace["Exported"](theta)
    module.code = source
    return module


def jax_source(step: Any, tape: Tape) -> str:
    """``forward(theta, *columns)`` with jnp for one tape: (result, outcomes list, expected list)."""
    what = 'autograd.compile(..., backend="jax")'
    arg_names = _arg_names(step, len(tape.kinds))
    writer = _Writer(tape, "jax", arg_names, {}, what)
    body = writer.write()
    prologue = [
        "constants = closure.reshape(1, -1)  # the Values fn reads from its closure, read at every call",
        "constant = lambda rows: jnp.asarray(rows, dtype=jnp.float64)",
        "columns = lambda *parts: jnp.concatenate(jnp.broadcast_arrays(*parts), 1) if len(parts) > 1 else parts[0]",
        "params = theta.reshape(1, -1)",
    ]
    lines = "\n".join("    " + line for line in prologue + body)
    return f"def forward(theta, closure, {', '.join(arg_names)}):\n{lines}\n    return result, outcomes, problems\n" + JAX_HELPERS


JAX_HELPERS = '''
def detach(x):
    return jax.lax.stop_gradient(x)


def as_index(x):
    return x.astype(jnp.int64)


def take_columns(table, index):
    rows = max(table.shape[0], index.shape[0])
    return jnp.take_along_axis(
        jnp.broadcast_to(table, (rows, table.shape[1])), jnp.broadcast_to(index, (rows, index.shape[1])), axis=1
    )


def check_ids(ids, n):
    return jnp.any((ids < -n) | (ids >= n))


def check_nonzero(x):
    return jnp.any(x == 0)


def python_extreme(m, largest):
    nan = jnp.isnan(m)
    filled = jnp.where(nan, -jnp.inf if largest else jnp.inf, m)
    at = (jnp.argmax if largest else jnp.argmin)(filled, axis=-1)
    best = jnp.take_along_axis(m, at[..., None], axis=-1)[..., 0]
    first = m[..., 0]
    return jnp.where(jnp.isnan(first), first, best)


def logsumexp(x):
    return jax.nn.logsumexp(x, axis=1, keepdims=True)


def softmax(x):
    return jax.nn.softmax(x, axis=1)


def log_softmax(x):
    return jax.nn.log_softmax(x, axis=1)


def var_of(x):
    return jnp.var(x, axis=1, keepdims=True)


def std_of(x):
    return jnp.std(x, axis=1, keepdims=True)


def row_sum(x):
    return jnp.sum(x, axis=1, keepdims=True)


def row_mean(x):
    return jnp.mean(x, axis=1, keepdims=True)


def row_prod(x):
    return jnp.prod(x, axis=1, keepdims=True)
'''
