"""The second stage of ``autograd.compile``: one sample's run of ``fn``, with every read
of a number seen.

``fn`` runs on one sample (:func:`trace_sample`) inside the engine's tracing mode
(:func:`autograd.engine.tracing_with`). There, every node is made by the :class:`Tracer`,
and every read of a Value's ``.data`` (the parameters', the inputs', the closure's and
the nodes' alike) gives a *traced number* instead of a float; an integer argument
(a class index, a ±1 label) is a traced int. What Python then does with a traced number
is seen:

* arithmetic (``+ - * / // % **``, ``abs``, NumPy's elementwise functions) gives
  another traced number: a *calc* of the tape, replayed per sample with NumPy;
* a comparison (``<``, ``==``, ``bool()``, and so ``if``, ``min``, ``max``, ``sorted``)
  gives the sample's answer and records a *guard*: the replay evaluates it for every
  sample and replays each sample with the tape of its own branch pattern;
* a traced number used as an operand of an op is read per sample, with no gradient
  (as a plain number gets none);
* a traced int made into a Python int (an index, ``int()``, ``float()``, ``hash``,
  ``str``) records the guard "equal to this sample's value";
* a traced float made into a Python number or text (``float()``, ``int()``,
  ``round``, ``math.*``, ``format``, ``str``) cannot be followed: a
  :class:`CompileError` names the line of fn where it happened.

So nothing that depends on the data, the parameters or the closure is frozen into a
tape: it is replayed, or refused.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import linecache
import math
import numbers
import operator
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine
from ..engine import TracedNumber, Value, is_grad_enabled, stored_data, tracing_with
from ..ops import VARIADIC, Op
from .batch import Batch, CompileError
from .gather import GATHER, GatheredRow, Substitution, find_subscript

__all__ = ["Calc", "Guard", "Trace", "trace_sample"]

_AUTOGRAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_new = object.__new__


def user_line(skip: int = 1) -> str:
    """Where fn's code stands: the innermost frame outside the autograd package (with
    the outermost such frame, fn's own line, when they differ)."""
    frame = sys._getframe(skip)
    outside: list[Any] = []
    while frame is not None:
        name = frame.f_code.co_filename
        if not os.path.abspath(name).startswith(_AUTOGRAD_DIR):
            outside.append(frame)
        elif outside:  # back in autograd: the compile machinery that called fn
            break
        frame = frame.f_back
    if not outside:
        return "an unknown line"

    def shown(f: Any) -> str:
        code = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
        return f"{os.path.basename(f.f_code.co_filename)}, line {f.f_lineno}, in {f.f_code.co_name}: {code}"

    text = shown(outside[0])
    if len(outside) > 1:
        text += f" (called from {shown(outside[-1])})"
    return text


# --- calcs and guards ----------------------------------------------------------------------


@dataclass(eq=False)
class Calc:
    """A Python computation on traced numbers, replayed per sample with ``fn`` (NumPy)."""

    name: str  # "add", "floordiv", "sin", ...
    fn: Callable[..., Any]
    operands: tuple[Any, ...]  # traced numbers and plain numbers
    value: Any  # the traced sample's result
    is_int: bool  # a Python int: replayed in float64, exact below 2**53
    seq: int

    @property
    def data(self) -> float:
        return float(self.value)


@dataclass(eq=False)
class Guard:
    """A comparison on traced numbers: ``fn(*operands)`` gave ``outcome`` for the traced
    sample. A traced int made into a Python int is a guard on its value: ``fn`` is None,
    and ``outcome`` is the int (each value a branch of its own)."""

    name: str  # "<", "==", "isnan", "int", ...
    fn: Callable[..., Any] | None
    operands: tuple[Any, ...]
    outcome: bool | int
    where: str


_ARITHMETIC: dict[str, tuple[Callable[[Any, Any], Any], Callable[..., Any]]] = {
    # name: (Python's operator, NumPy's function for the replay)
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "truediv": (operator.truediv, np.true_divide),
    "floordiv": (operator.floordiv, np.floor_divide),
    "mod": (operator.mod, np.remainder),
    "pow": (operator.pow, np.power),
}
_UNARY: dict[str, tuple[Callable[[Any], Any], Callable[..., Any]]] = {
    "neg": (operator.neg, np.negative),
    "pos": (operator.pos, np.positive),
    "abs": (operator.abs, np.abs),
}
_COMPARISONS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "lt": ("<", operator.lt),
    "le": ("<=", operator.le),
    "gt": (">", operator.gt),
    "ge": (">=", operator.ge),
    "eq": ("==", operator.eq),
    "ne": ("!=", operator.ne),
}


def _plain(x: Any) -> Any:
    return x.value if isinstance(x, Traced) else x


def _is_number(x: Any) -> bool:
    if isinstance(x, Traced):
        return True
    cls = x.__class__
    return cls is float or cls is int or cls is bool or isinstance(x, (np.floating, np.integer, np.bool_))


class Traced(TracedNumber):
    """A number fn reads while it is traced, which knows where it comes from: a Value
    (its ``.data``), an integer argument, or a calc over other traced numbers.
    Once its trace has ended it acts as the plain number it holds."""

    __slots__ = ("value", "source", "tracer")
    is_int = False

    def __init__(self, value: Any, source: Any, tracer: Tracer) -> None:
        self.value, self.source, self.tracer = value, source, tracer

    def as_operand(self) -> object:
        return self if self.tracer.active else self.value

    def __repr__(self) -> str:
        return repr(self.value)

    # --- arithmetic: a calc --------------------------------------------------------------

    def _arith(self, name: str, a: Any, b: Any) -> Any:
        python = _ARITHMETIC[name][0]
        result = python(_plain(a), _plain(b))  # raises where Python raises (1 / 0)
        if not self.tracer.active:
            return result
        return self.tracer.calc(name, _ARITHMETIC[name][1], (a, b), result)

    def _unary(self, name: str) -> Any:
        result = _UNARY[name][0](self.value)
        if not self.tracer.active:
            return result
        return self.tracer.calc(name, _UNARY[name][1], (self,), result)

    def __neg__(self) -> Any:
        return self._unary("neg")

    def __pos__(self) -> Any:
        return self._unary("pos")

    def __abs__(self) -> Any:
        return self._unary("abs")

    def __divmod__(self, other: Any) -> Any:
        if not _is_number(other):
            return NotImplemented
        return self._arith("floordiv", self, other), self._arith("mod", self, other)

    def __rdivmod__(self, other: Any) -> Any:
        if not _is_number(other):
            return NotImplemented
        return self._arith("floordiv", other, self), self._arith("mod", other, self)

    # --- comparisons: a guard ------------------------------------------------------------

    def _compare(self, name: str, other: Any) -> Any:
        if not _is_number(other):
            return NotImplemented
        symbol, fn = _COMPARISONS[name]
        outcome = fn(self.value, _plain(other))
        if not self.tracer.active:
            return outcome
        return self.tracer.guard(symbol, fn, (self, other), bool(outcome))

    def __lt__(self, other: Any) -> Any:
        return self._compare("lt", other)

    def __le__(self, other: Any) -> Any:
        return self._compare("le", other)

    def __gt__(self, other: Any) -> Any:
        return self._compare("gt", other)

    def __ge__(self, other: Any) -> Any:
        return self._compare("ge", other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self._compare("eq", other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self._compare("ne", other)

    def __bool__(self) -> bool:
        if not self.tracer.active:
            return bool(self.value)
        return self.tracer.guard("!= 0", operator.ne, (self, 0), bool(self.value))

    # --- conversions to Python numbers and text --------------------------------------------

    def _convert(self, what: str) -> Any:
        """A float cannot be followed as a Python number: refused, naming fn's line."""
        if not self.tracer.active:
            return None
        raise CompileError(
            f"compile(): fn makes a number that depends on the data, the parameters or the closure into a plain "
            f"Python {what}, at {user_line()}; the replay cannot follow a plain number from sample to sample. "
            "Keep it a Value (compute with ops), or compare it (comparisons are replayed per sample)"
        )

    def __float__(self) -> float:
        self._convert("float (float(), math.*)")
        return float(self.value)

    def __int__(self) -> int:
        self._convert("int (int())")
        return int(self.value)

    def __index__(self) -> int:
        if self.tracer.active:
            raise CompileError(
                f"compile(): fn uses a number that depends on the data, the parameters or the closure as an index, at "
                f"{user_line()}; the replay cannot follow a plain number from sample to sample. A list of Values is "
                "indexed per sample by an integer argument only: pass the indices (token ids) as an integer array "
                "(a 2-D one gives each sample a list of ints) and write table[token_id]"
            )
        return operator.index(self.value)

    def __complex__(self) -> complex:
        self._convert("complex number")
        return complex(self.value)

    def __round__(self, ndigits: int | None = None) -> Any:
        self._convert("number (round())")
        return round(self.value, ndigits)

    def __trunc__(self) -> int:
        self._convert("int (math.trunc)")
        return math.trunc(self.value)

    def __floor__(self) -> int:
        self._convert("int (math.floor)")
        return math.floor(self.value)

    def __ceil__(self) -> int:
        self._convert("int (math.ceil)")
        return math.ceil(self.value)

    def __hash__(self) -> int:
        self._convert("dictionary key (hash())")
        return hash(self.value)

    def __str__(self) -> str:
        self._convert("text (str(), print)")
        return str(self.value)

    def __format__(self, spec: str) -> str:
        self._convert("text (format, an f-string)")
        return format(self.value, spec)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self._convert("NumPy array (np.asarray, np.float64)")
        return np.asarray(self.value, dtype=dtype)

    # --- NumPy's elementwise functions: a calc, or a guard for a test ------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        plain = [_plain(x) for x in inputs]
        if not self.tracer.active:
            return getattr(ufunc, method)(*plain, **kwargs)
        if method != "__call__" or kwargs or ufunc.nout != 1 or not all(_is_number(x) for x in inputs):
            raise CompileError(
                f"compile(): fn calls numpy.{ufunc.__name__}"
                f"{'' if method == '__call__' else '.' + method} on a number that depends on the data, at "
                f"{user_line()}; elementwise NumPy functions of numbers are replayed, this call is not"
            )
        result = ufunc(*plain)
        if isinstance(result, np.bool_):
            return np.bool_(self.tracer.guard(ufunc.__name__, ufunc, tuple(inputs), bool(result)))
        return self.tracer.calc(ufunc.__name__, ufunc, tuple(inputs), result)


def _binary(name: str, reflected: bool) -> Callable[[Traced, Any], Any]:
    def method(self: Traced, other: Any) -> Any:
        if not _is_number(other):
            return NotImplemented  # a Value's own method makes the node
        return self._arith(name, other, self) if reflected else self._arith(name, self, other)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


for _name in _ARITHMETIC:
    setattr(Traced, f"__{_name}__", _binary(_name, False))
    setattr(Traced, f"__r{_name}__", _binary(_name, True))


class TracedFloat(Traced):
    """A traced float: a Value's ``.data``, or arithmetic over one."""

    __slots__ = ()


class TracedInt(Traced):
    """A traced int: an integer argument, or integer arithmetic over one. Made into a
    Python int, it records the guard "equal to this value"."""

    __slots__ = ()
    is_int = True

    def _exactly(self) -> Any:
        if self.tracer.active:
            self.tracer.guard("int", None, (self,), self.value)
        return self.value

    def index_into(self, n: int) -> object:
        if (self >= 0) and (self < n):  # two guards, the same for every index in range
            return self
        return operator.index(self)

    def __float__(self) -> float:
        return float(self._exactly())

    def __int__(self) -> int:
        return int(self._exactly())

    def __index__(self) -> int:
        if self.tracer.active:  # table[token_id]: a gather, when the subscript can be shown to be one
            at = self.tracer.subscript(self, sys._getframe(1))
            if at is not None:
                return at
        return operator.index(self._exactly())

    def __round__(self, ndigits: int | None = None) -> Any:
        return round(self._exactly(), ndigits)

    def __trunc__(self) -> int:
        return math.trunc(self._exactly())

    def __floor__(self) -> int:
        return math.floor(self._exactly())

    def __ceil__(self) -> int:
        return math.ceil(self._exactly())

    def __hash__(self) -> int:
        return hash(self._exactly())

    def __str__(self) -> str:
        return str(self._exactly())

    def __format__(self, spec: str) -> str:
        return format(self._exactly(), spec)

    def __complex__(self) -> complex:
        return complex(self._exactly())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self._exactly(), dtype=dtype)


numbers.Real.register(TracedFloat)
numbers.Integral.register(TracedInt)


# --- max() and min() of traced numbers: one calc ---------------------------------------------
#
# ``max(v.data for v in logits)`` compares traced numbers: as comparisons, every pair would
# be a guard, and which logit is largest changes from sample to sample (a branch pattern
# each). While any thread traces, the builtins ``max`` and ``min`` are wrapped: in the
# tracing thread, over numbers of which some are traced (all floats, or all ints), they
# give one calc, replayed per sample with Python's rule (the first largest; a nan first
# wins, a nan later is passed over); anything else goes to the builtin, as before.

_BUILTIN = {"max": builtins.max, "min": builtins.min}
_extremes_lock = threading.Lock()
_extremes_users = 0


def _kind_of(x: Any) -> str | None:
    """"float" or "int" for a number max() may pick (a traced one, or a plain one), else None."""
    if isinstance(x, Traced):
        return "int" if x.is_int else "float"
    cls = x.__class__
    if cls is float or isinstance(x, np.floating):
        return "float"
    if cls is int or isinstance(x, np.integer):
        return "int"
    return None


def _python_extreme(largest: bool) -> Callable[..., np.ndarray]:
    """The replay of max (or min) over operand arrays, as Python's builtin picks: the first
    operand that no later one beats (``x > best``), so a nan first is kept, a nan later skipped."""

    def pick(m: np.ndarray) -> np.ndarray:  # m: (rows, k, n), each calc's n operands on the last axis
        nan = np.isnan(m)
        filled = np.where(nan, -np.inf if largest else np.inf, m) if nan.any() else m
        at = (filled.argmax if largest else filled.argmin)(axis=-1)
        best = np.take_along_axis(m, at[..., None], axis=-1)[..., 0]
        first = m[..., 0]
        return np.where(np.isnan(first), first, best)

    pick.__name__ = "max" if largest else "min"
    pick.reduces = True  # type: ignore[attr-defined]
    return pick


_PICKS = {"max": _python_extreme(True), "min": _python_extreme(False)}


def _extreme(name: str) -> Callable[..., Any]:
    original = _BUILTIN[name]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not engine.is_tracing() or kwargs or not args:
            return original(*args, **kwargs)
        if len(args) == 1:
            try:
                items = list(args[0])
            except TypeError:
                return original(*args)
        else:
            items = list(args)
        tracer = next((x.tracer for x in items if isinstance(x, Traced) and x.tracer.active), None)
        kinds = {_kind_of(x) for x in items}
        if tracer is None or len(kinds) != 1 or None in kinds:
            return original(items)
        result = original([_plain(x) for x in items])
        return tracer.calc(name, _PICKS[name], tuple(items), result)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = original.__doc__
    return wrapper


_WRAPPERS = {name: _extreme(name) for name in _BUILTIN}


@contextlib.contextmanager
def _extremes_traced() -> Iterator[None]:
    """The builtins max and min wrapped while this trace runs (the last trace to end puts them back)."""
    global _extremes_users
    with _extremes_lock:
        if _extremes_users == 0:
            builtins.max, builtins.min = _WRAPPERS["max"], _WRAPPERS["min"]  # type: ignore[assignment]
        _extremes_users += 1
    try:
        yield
    finally:
        with _extremes_lock:
            _extremes_users -= 1
            if _extremes_users == 0:
                builtins.max, builtins.min = _BUILTIN["max"], _BUILTIN["min"]  # type: ignore[assignment]


# --- the tracer ----------------------------------------------------------------------------


class Tracer(engine.Tracer):
    """Makes fn's nodes and hands out traced numbers while one sample is traced."""

    def __init__(self, params: list[Value]) -> None:
        self.active = True
        self.param_index = {id(p): i for i, p in enumerate(params)}
        self.inputs: dict[int, tuple[int, int]] = {}  # placeholder id -> (argument, column)
        self.made: dict[int, Value] = {}  # op nodes made while tracing
        self.leaves: dict[int, Value] = {}  # leaves made while tracing (Value(...) in fn)
        self.seq: dict[int, int] = {}  # creation order of nodes and calcs
        self.counter = 0
        self.reads: dict[int, Traced] = {}
        self.kept: list[Any] = []  # what the ids above refer to stays alive
        self.guards: list[Guard] = []
        self.substitutions: list[Substitution] = []
        self.notes: list[str] = []  # why a subscript by a traced int was not gathered

    # --- the sample's arguments --------------------------------------------------------------

    def arguments(self, batch: Batch, row: int, names: list[str]) -> list[Any]:
        values: list[Any] = []
        for a, (array, kind) in enumerate(zip(batch.arrays, batch.kinds)):
            if kind == "rows":
                row_values = [Value(x, label=f"{names[a]}[{j}]") for j, x in enumerate(array[row].tolist())]
                self.inputs.update((id(v), (a, j)) for j, v in enumerate(row_values))
                self.kept.extend(row_values)
                values.append(row_values)
            elif kind == "introws":
                values.append([TracedInt(x, (a, j), self) for j, x in enumerate(array[row].tolist())])
            elif kind == "floats":
                v = Value(float(array[row]), label=names[a])
                self.inputs[id(v)] = (a, 0)
                self.kept.append(v)
                values.append(v)
            else:
                values.append(TracedInt(int(array[row]), a, self))
        return values

    # --- engine.Tracer -------------------------------------------------------------------

    def make_node(self, op: Op, args: tuple) -> Value:
        state = engine._mode.state
        if state & (engine._NO_GRAD | engine._ANOMALY):
            what = "no_grad()" if state & engine._NO_GRAD else "detect_anomaly()"
            raise CompileError(
                f"compile(): fn makes a node inside {what}, at {user_line()}; a compiled step does not replay "
                f"{what} blocks: take it out of fn"
            )
        values = []
        for a in args:
            if a.__class__ is Value:
                d = stored_data(a)
                values.append(d.value if isinstance(d, Traced) else d)
            elif isinstance(a, Traced):
                values.append(a.value)
            else:
                values.append(a)
        data = op.forward(values) if op.arity == VARIADIC else op.forward(*values)
        out = _new(Value)
        engine._slot_set(out, data)
        out.grad = 0.0
        out.label = ""
        out._rule = op
        out._args = args
        self.made[id(out)] = out
        self.seq[id(out)] = self.counter
        self.counter += 1
        if state & engine._OBSERVED:
            engine._mode.observer(out, op, args)  # type: ignore[misc]
        return out

    def read(self, value: Value, data: Any) -> Any:
        if isinstance(data, Traced):
            return data
        proxy = self.reads.get(id(value))
        if proxy is None:
            proxy = self.reads[id(value)] = TracedFloat(data, value, self)
            self.kept.append(value)
        return proxy

    def assigned(self, value: Value, data: Any) -> None:
        try:
            value._rule  # noqa: B018 - unset while Value() runs: a leaf made in fn
        except AttributeError:
            self.leaves[id(value)] = value
            return
        raise CompileError(
            f"compile(): fn sets the .data of a Value, at {user_line()}; a compiled step replays what fn computes, "
            "not changes it makes to Values: leave .data alone inside fn"
        )

    # --- calcs and guards ----------------------------------------------------------------------

    def calc(self, name: str, fn: Callable[..., Any], operands: tuple[Any, ...], result: Any) -> Any:
        if isinstance(result, complex) or not isinstance(result, (int, float, np.number, np.bool_)):
            raise CompileError(
                f"compile(): fn's {name} of numbers that depend on the data gives {type(result).__name__} "
                f"{result!r:.40}, at {user_line()}; only real results are replayed"
            )
        is_int = isinstance(result, (int, np.integer)) and not isinstance(result, bool)
        calc = Calc(name, fn, operands, result, is_int, self.counter)
        self.counter += 1
        self.kept.append(calc)
        return (TracedInt if is_int else TracedFloat)(int(result) if is_int else float(result), calc, self)

    def guard(self, name: str, fn: Callable[..., Any] | None, operands: tuple[Any, ...], outcome: Any) -> Any:
        self.guards.append(Guard(name, fn, operands, outcome, user_line()))
        return outcome

    def subscript(self, index: TracedInt, frame: Any) -> int | None:
        """``container[index]`` on a list of Values (or of rows of Values), running in ``frame``:
        the element at the sample's index swapped, for this one subscript, for its gather
        (see :mod:`autograd.compiler.gather`), and the index returned; None when the
        subscript cannot be shown to be one (the index is then a guard on its value)."""
        found = find_subscript(index, frame)
        if found is None:
            return None
        if isinstance(found, str):  # a subscript that is not shown to be a gather: said if patterns run out
            if found not in self.notes:
                self.notes.append(found)
            return None
        container, width = found
        at = index.value
        if not -len(container) <= at < len(container):
            return None  # Python raises IndexError, as for eager gradtrace
        if width == 0:
            stand_in: Any = self._gathered(tuple(container), index)
        else:
            stand_in = GatheredRow(self._gathered(tuple(row[j] for row in container), index) for j in range(width))
        self.substitutions.append(Substitution(container, at, stand_in, frame))
        return at

    def _gathered(self, column: tuple[Value, ...], index: TracedInt) -> Value:
        """A node of the gather op: the element of ``column`` at the sample's index."""
        data = stored_data(column[index.value])
        out = _new(Value)
        engine._slot_set(out, data.value if isinstance(data, Traced) else data)
        out.grad = 0.0
        out.label = ""
        out._rule = GATHER
        out._args = column + (index,)
        self.made[id(out)] = out
        self.seq[id(out)] = self.counter
        self.counter += 1
        return out

    def end(self) -> None:
        """The trace is over: traced numbers act as plain ones, and every swapped element is back."""
        self.active = False
        for substitution in self.substitutions:
            substitution.undo()

    def restore(self) -> None:
        """Leaves made from traced numbers hold floats again (once the trace is flattened)."""
        for leaf in self.leaves.values():
            data = stored_data(leaf)
            if isinstance(data, Traced):
                engine._slot_set(leaf, float(data.value))


# --- one sample's trace ----------------------------------------------------------------------

Desc = tuple[str, Any]
# ("item", i): a node or calc of the trace; ("param", i); ("input", (a, j)); ("arg", a): an
# integer argument; ("constant", Value): read .data at each call; ("number", x);
# ("detached", desc): desc's value with no gradient (a Value's .data used as a number)


@dataclass
class Trace:
    """One sample's run of fn, flattened: its nodes and calcs in the order they were
    made, each operand described, and the guards with the sample's outcomes."""

    row: int
    args: list[Any]
    items: list[Value | Calc]
    operands: list[list[Desc]]  # a node's: its operands, then its op's parameters
    guards: list[tuple[Guard, list[Desc]]]
    outcomes: tuple[Any, ...]  # each guard's: a bool, or an int's value
    result_nodes: list[Value]
    result_list: bool
    extra_nodes: list[Value]
    extra_list: bool
    notes: list[str] = field(default_factory=list)  # subscripts by a traced int not gathered, and why

    def value_of(self, i: int) -> float:
        item = self.items[i]
        return float(stored_data(item)) if item.__class__ is Value else item.data  # type: ignore[arg-type]


def _names(fn: Callable[..., Any], count: int) -> list[str]:
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        names = []
    return (names + [f"arg{a}" for a in range(len(names), count)])[:count]


def _outputs(result: Any, what: str) -> tuple[list[Value], bool]:
    if result.__class__ is Value:
        return [result], False
    if isinstance(result, list) and result and all(v.__class__ is Value for v in result):
        return list(result), True
    raise CompileError(
        f"compile(): fn must return a Value, a list of Values or a pair (result, extra); its {what} is "
        f"{type(result).__name__} {result!r:.60}"
    )


def trace_sample(fn: Callable[..., Any], batch: Batch, row: int, params: list[Value]) -> Trace:
    """Run fn on sample ``row`` with every read seen, and flatten what it returns."""
    if not is_grad_enabled():
        raise CompileError("compile(): cannot trace under no_grad(): the graph would not be recorded")
    tracer = Tracer(params)
    args = tracer.arguments(batch, row, _names(fn, len(batch.arrays)))
    try:
        with _extremes_traced(), tracing_with(tracer):
            result = fn(*args)
    finally:
        tracer.end()
    if isinstance(result, tuple):
        if len(result) != 2:
            raise CompileError(f"compile(): fn returned a tuple of {len(result)}; a pair (result, extra) is accepted")
        results, result_list = _outputs(result[0], "result")
        extras, extra_list = _outputs(result[1], "extra")
    else:
        (results, result_list), (extras, extra_list) = _outputs(result, "result"), ([], False)
    try:
        return _flatten(tracer, row, args, results, result_list, extras, extra_list)
    finally:
        tracer.restore()


def _flatten(
    tracer: Tracer, row: int, args: list[Any], results: list[Value], result_list: bool, extras: list[Value], extra_list: bool
) -> Trace:
    """The items the results and guards depend on, in the order they were made, operands described."""
    reached: dict[int, Value | Calc] = {}
    stack: list[Any] = list(results) + list(extras)
    for guard in tracer.guards:
        stack.extend(guard.operands)
    made, leaves = tracer.made, tracer.leaves
    while stack:
        x = stack.pop()
        if x.__class__ is Value:
            if id(x) in made:
                if id(x) not in reached:
                    reached[id(x)] = x
                    stack.extend(x._args)
            elif id(x) in leaves and isinstance(stored_data(x), Traced):
                stack.append(stored_data(x))
        elif isinstance(x, Traced):
            if isinstance(x.source, Calc):
                if id(x.source) not in reached:
                    reached[id(x.source)] = x.source
                    stack.extend(x.source.operands)
            elif isinstance(x.source, Value):
                stack.append(x.source)
    seq = tracer.seq
    items = sorted(reached.values(), key=lambda item: item.seq if isinstance(item, Calc) else seq[id(item)])
    position = {id(item): i for i, item in enumerate(items)}

    def describe(x: Any, detached: bool = False) -> Desc:
        if x.__class__ is Value:
            key = id(x)
            if key not in made and x._rule is GATHER:
                # another thread's trace had swapped it into a table for one subscript, and this
                # thread read the table then: what it read stands for the table's own element
                return describe(x._args[int(x._args[-1])], detached)
            if key in position:
                desc: Desc = ("item", position[key])
            elif key in tracer.param_index:
                desc = ("param", tracer.param_index[key])
            elif key in tracer.inputs:
                return ("input", tracer.inputs[key])
            elif key in leaves and isinstance(stored_data(x), Traced):
                return describe(stored_data(x), True)
            else:
                desc = ("constant", x)
            return ("detached", desc) if detached else desc
        if isinstance(x, Traced):
            if isinstance(x.source, Calc):
                return ("item", position[id(x.source)])
            if isinstance(x.source, Value):
                return describe(x.source, True)
            return ("arg", x.source)
        return ("number", x)

    operands = []
    for item in items:
        if isinstance(item, Calc):
            operands.append([describe(x) for x in item.operands])
        else:
            operands.append([describe(x) for x in item._args])
    guards = [(g, [describe(x) for x in g.operands]) for g in tracer.guards]
    return Trace(
        row, args, items, operands, guards, tuple(g.outcome for g in tracer.guards),
        results, result_list, extras, extra_list, list(tracer.notes),
    )  # fmt: skip
