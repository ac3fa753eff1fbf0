"""Indexing a Python list of Values by an integer argument, while fn is traced: a gather.

``state_dict['wte'][token_id]`` picks a row of Values by a token id. Python's list asks the
index for its number (``__index__``) and gives back its element; it never tells the index
which list it was. So, when a traced int is asked for its number, :func:`find_subscript`
looks at the instruction that asked: a ``container[index]`` subscript (``BINARY_SUBSCR``)
in fn's code, found by the instruction's source position (Python 3.11's ``co_positions``).
Its container expression is evaluated again in the caller's frame, which is safe only for
expressions that cannot run code or change anything between the two evaluations: names,
attributes stored on an object or a module, subscripts of a dict, list or tuple by an int
or a string, and integer arithmetic (``tokens[pos_id + 1]``) on plain ints. The text is
checked against the code: the names, attributes and constants the code loads inside the
subscript must be the text's (a file edited since it was imported reads otherwise). The
index expression must give the traced int itself. The container must be a ``list`` of
Values, or of rows of Values of one length.

Then the element at the sample's index is swapped, for exactly that one subscript, for the
gathered element: a node (or a row of nodes, :class:`GatheredRow`) of the :data:`GATHER`
op, whose operands are the whole column of the table and whose parameter is the index. The
element is put back before the next instruction of fn runs (a one-instruction trace
function on fn's frame), and again, in any case, when the trace ends. The replay picks each
sample's row from the table (:func:`gather_forward`) and adds each sample's gradient into
the row it picked (:func:`gather_backward`, a ``bincount``), so a token repeated in one
document, or one only a later batch holds, is replayed as eager gradtrace runs it.

Whatever cannot be shown to be such a subscript gives None, and the traced int is made a
Python int as before: a guard on its value.
"""

from __future__ import annotations

import ast
import dis
import inspect
import linecache
import operator
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import Value
from ..ops import VARIADIC, Op
from .batch import CompileError

__all__ = ["GATHER", "GatheredRow", "Substitution", "find_subscript", "gather_backward", "gather_forward"]


def _forward(xs: Any) -> Any:
    # operands: the column of the table (x_0..x_{n-1}), then the index
    *column, i = xs
    return column[int(i)]


def _backward(g: Any, out: Any, xs: Any) -> list[Any]:
    *column, i = xs
    at = int(i) % len(column)
    return [g if j == at else 0.0 * g for j in range(len(column))]


# The op of a gathered node: its operands are a table's column, its parameter the index.
# It is the compiler's own (not in the op table): eager gradtrace never makes one, since
# there ``table[token_id]`` gives the row itself.
GATHER = Op("gather", "[ ]", VARIADIC, _forward, _backward, ((-1.0, 1.0),), n_params=1)


class GatheredRow(list):  # type: ignore[type-arg]
    """The row a table gives for a traced token id, while fn is traced: a node per column.

    Changing it would change the table's row in eager gradtrace, which the replay cannot
    follow: refused."""

    def _refused(self, *args: Any, **kwargs: Any) -> Any:
        raise CompileError(
            "compile(): fn changes a row it took from a list of Values by a token id (table[token_id]); eager "
            "gradtrace would change the table itself, which the replay does not follow: copy the row first "
            "(list(table[token_id]))"
        )

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refused
    append = extend = insert = pop = remove = clear = sort = reverse = _refused


# --- which subscript asked --------------------------------------------------------------------

_SUBSCRIPT_OPS = frozenset({"BINARY_SUBSCR"})
_sites: dict[tuple[types.CodeType, int], tuple[ast.expr, ast.expr] | None] = {}


_instructions: dict[types.CodeType, dict[int, dis.Instruction]] = {}


def _instruction(code: types.CodeType, offset: int) -> dis.Instruction | None:
    table = _instructions.get(code)
    if table is None:
        if len(_instructions) > 1024:
            _instructions.clear()
        table = _instructions[code] = {i.offset: i for i in dis.get_instructions(code)}
    return table.get(offset)


def _site(code: types.CodeType, offset: int) -> tuple[ast.expr, ast.expr] | None:
    """The (container, index) expressions of the subscript at ``offset`` in ``code``, or None."""
    key = (code, offset)
    if key in _sites:
        return _sites[key]
    found: tuple[ast.expr, ast.expr] | None = None
    try:
        instruction = _instruction(code, offset)
        positions = getattr(instruction, "positions", None)
        if instruction is not None and instruction.opname in _SUBSCRIPT_OPS and positions is not None:
            found = _parse_subscript(code.co_filename, positions)
            if found is not None and not _source_matches(code, positions, found):
                found = None  # the text is not what this code was compiled from (a file edited since)
    except (SyntaxError, ValueError, TypeError, IndexError):
        found = None
    if len(_sites) > 4096:
        _sites.clear()
    _sites[key] = found
    return found


_LOADS = frozenset({"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_CONST", "LOAD_ATTR"})


def _within(inner: Any, outer: Any) -> bool:
    if None in (inner.lineno, inner.end_lineno, inner.col_offset, inner.end_col_offset):
        return False
    return (inner.lineno, inner.col_offset) >= (outer.lineno, outer.col_offset) and (
        inner.end_lineno, inner.end_col_offset) <= (outer.end_lineno, outer.end_col_offset)  # fmt: skip


def _source_matches(code: types.CodeType, positions: Any, site: tuple[ast.expr, ast.expr]) -> bool:
    """Whether the names, attributes and constants the code loads inside the subscript's span
    are those of the parsed text: a source file edited after its code was compiled reads
    otherwise, and its text must not say which list is indexed."""
    loaded = sorted(
        repr(i.argval)
        for i in dis.get_instructions(code)
        if i.opname in _LOADS and i.positions is not None and _within(i.positions, positions)
    )
    written: list[str] = []
    for expr in site:
        for node in ast.walk(_folded(expr)):
            if isinstance(node, ast.Name):
                written.append(repr(node.id))
            elif isinstance(node, ast.Attribute):
                written.append(repr(node.attr))
            elif isinstance(node, ast.Constant):
                written.append(repr(node.value))
    return loaded == sorted(written)


def _folded(expr: ast.expr) -> ast.expr:
    """expr with arithmetic on constants (``-1``, ``2 * 3``) made one constant, as the compiler folds it."""

    class Fold(ast.NodeTransformer):
        def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.operand, ast.Constant) and isinstance(node.op, (ast.USub, ast.UAdd)):
                value = node.operand.value
                if type(value) in (int, float):
                    return ast.Constant(-value if isinstance(node.op, ast.USub) else value)
            return node

        def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant) and type(node.op) in _INT_ARITHMETIC:
                left, right = node.left.value, node.right.value
                if type(left) is int and type(right) is int:
                    try:
                        return ast.Constant(_INT_ARITHMETIC[type(node.op)](left, right))
                    except ArithmeticError:
                        return node
            return node

    return Fold().visit(ast.parse(ast.unparse(expr), mode="eval").body)  # a copy: the site's tree stays as parsed


def _parse_subscript(filename: str, positions: Any) -> tuple[ast.expr, ast.expr] | None:
    first, last, start, end = positions.lineno, positions.end_lineno, positions.col_offset, positions.end_col_offset
    if None in (first, last, start, end):
        return None
    lines = linecache.getlines(filename)
    if not lines or last > len(lines):
        return None
    # column offsets count UTF-8 bytes
    chunk = [line.encode("utf-8") for line in lines[first - 1 : last]]
    if len(chunk) == 1:
        text = chunk[0][start:end]
    else:
        text = chunk[0][start:] + b"".join(chunk[1:-1]) + chunk[-1][:end]
    tree = ast.parse(b"(" + text + b")", mode="eval")
    node = tree.body
    if not isinstance(node, ast.Subscript):
        return None
    return node.value, node.slice


class _Unsafe(Exception):
    """The expression could run code, or change between two evaluations."""


_MISSING = object()
_INT_ARITHMETIC: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _evaluate(node: ast.expr, frame: types.FrameType) -> Any:
    """The value of a name, attribute or constant-key subscript chain in ``frame``, without
    running any code of the program (no property, no __getitem__ of its own, no call)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        for scope in (frame.f_locals, frame.f_globals, frame.f_builtins):
            value = scope.get(node.id, _MISSING)
            if value is not _MISSING:
                return value
        raise _Unsafe
    if isinstance(node, ast.Attribute):
        obj = _evaluate(node.value, frame)
        if type(obj).__getattribute__ not in (object.__getattribute__, types.ModuleType.__getattribute__):
            raise _Unsafe
        try:
            value = inspect.getattr_static(obj, node.attr)
        except AttributeError:
            raise _Unsafe from None
        if isinstance(value, types.MemberDescriptorType):  # a __slots__ attribute
            return value.__get__(obj, type(obj))
        if hasattr(type(value), "__get__"):  # a method, property or other descriptor: it runs code
            raise _Unsafe
        return value
    if isinstance(node, ast.BinOp) and type(node.op) in _INT_ARITHMETIC:  # tokens[pos_id + 1]
        left, right = _evaluate(node.left, frame), _evaluate(node.right, frame)
        if type(left) is not int or type(right) is not int:
            raise _Unsafe
        try:
            return _INT_ARITHMETIC[type(node.op)](left, right)
        except ArithmeticError:
            raise _Unsafe from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _evaluate(node.operand, frame)
        if type(value) is not int:
            raise _Unsafe
        return -value
    if isinstance(node, ast.Subscript):
        container = _evaluate(node.value, frame)
        key = _evaluate(node.slice, frame)
        if type(container) not in (dict, list, tuple) or type(key) not in (int, str):
            raise _Unsafe
        try:
            return container[key]
        except (KeyError, IndexError, TypeError):
            raise _Unsafe from None
    raise _Unsafe


def _table_shape(container: list[Any]) -> int | None:
    """0 for a list of Values, m for a list of rows of m Values each, else None."""
    if not container:
        return None
    first = container[0]
    if first.__class__ is Value:
        return 0 if all(x.__class__ is Value for x in container) else None
    if type(first) not in (list, tuple, GatheredRow) or not first:
        return None
    m = len(first)
    for row in container:
        if type(row) not in (list, tuple, GatheredRow) or len(row) != m or not all(x.__class__ is Value for x in row):
            return None
    return m


def find_subscript(index: object, frame: types.FrameType | None) -> tuple[list[Any], int] | str | None:
    """When ``frame`` is running ``container[index]`` on a list of Values (or of rows of
    Values), proven as the module docstring says: (container, the row's width, 0 for a list
    of Values). A subscript that cannot be proven one gives the reason, as text; anything
    else (``range(index)``, ``int(index)``) None."""
    if frame is None or sys.version_info < (3, 11):
        return None
    try:
        instruction = _instruction(frame.f_code, frame.f_lasti)
    except (ValueError, TypeError):
        return None
    if instruction is None or instruction.opname not in _SUBSCRIPT_OPS:
        return None
    where = f"{frame.f_code.co_filename}, line {instruction.positions.lineno}"  # type: ignore[union-attr]
    site = _site(frame.f_code, frame.f_lasti)
    if site is None:
        return f"{where}: fn's source text could not be read there (a subscript is gathered from its source)"
    container_expr, index_expr = site
    try:
        if _evaluate(index_expr, frame) is not index:
            return f"{where}: the index is not the integer argument itself (write token_id = ...; table[token_id])"
        container = _evaluate(container_expr, frame)
    except _Unsafe:
        return (
            f"{where}: the list or the index is not reached by names, attributes, subscripts by constants and "
            "integer arithmetic only (no calls, no properties)"
        )
    if type(container) is not list:
        return None  # a dict, a tuple, an array, a list of your own: the index's value decides
    width = _table_shape(container)
    if width is None:
        return f"{where}: the list holds other things than Values, or rows of Values of one length"
    return container, width


# --- the swap of one element, for one subscript -------------------------------------------------


class Substitution:
    """``container[at]`` holds ``stand_in`` until :meth:`undo` (called before fn's next
    instruction, and by the trace's end in any case)."""

    __slots__ = ("container", "at", "original", "stand_in", "done", "frame", "previous")

    def __init__(self, container: list[Any], at: int, stand_in: Any, frame: types.FrameType) -> None:
        self.container, self.at, self.original, self.stand_in = container, at, container[at], stand_in
        self.done = False
        self.frame = frame
        # what the frame and the thread traced with before: put back by undo
        self.previous = (frame.f_trace, frame.f_trace_opcodes, sys.gettrace())
        container[at] = stand_in
        frame.f_trace_opcodes = True
        frame.f_trace = self._next_instruction
        sys.settrace(_no_calls)

    def _next_instruction(self, frame: types.FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        previous_local = self.previous[0]
        self.undo()
        return previous_local

    def undo(self) -> None:
        if self.done:
            return
        self.done = True
        if self.container[self.at] is self.stand_in:
            self.container[self.at] = self.original
        local, opcodes, global_ = self.previous
        self.frame.f_trace = local
        self.frame.f_trace_opcodes = opcodes
        sys.settrace(global_)
        self.frame = None  # type: ignore[assignment]


def _no_calls(frame: types.FrameType, event: str, arg: Any) -> None:
    """The thread's trace function while a swap waits for fn's next instruction: other frames are not traced."""
    return None


# --- the replay ---------------------------------------------------------------------------------


def flat_positions(index: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, tuple[int, float] | None]:
    """Each (sample, gather)'s position in the tables laid end to end (``offsets``: where each
    gather's table starts, ``n`` elements each), Python's negative indices counted from the
    end; and (sample, index) for the first index out of range, or None. An index out of
    range is kept in range, so that the other samples go on."""
    at = index.astype(np.int64)
    bad = (at < -n) | (at >= n)
    error = None
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        error = (row, float(index[row][np.argmax(bad[row])]))
        at = np.clip(at, -n, n - 1)
    at[at < 0] += n
    return at + offsets, error


def gather_forward(tables: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """(rows, k): each sample's element of each gather's table. ``tables`` is (1 or rows, tables · n)."""
    if tables.shape[0] == 1:
        return tables[0][flat]
    return np.take_along_axis(tables, np.broadcast_to(flat, (tables.shape[0], flat.shape[1])), axis=1)


def gather_backward(g: np.ndarray, flat: np.ndarray, table_rows: int, width: int) -> np.ndarray:
    """The tables' gradient ((table_rows, width)): each sample's g added into the element it picked."""
    rows = max(g.shape[0], flat.shape[0])
    flat = np.broadcast_to(flat, (rows, flat.shape[1]))
    g = np.broadcast_to(g, flat.shape)
    if table_rows == 1:
        return np.bincount(flat.ravel(), weights=g.ravel(), minlength=width)[None, :]
    shifted = flat + width * np.arange(rows)[:, None]
    return np.bincount(shifted.ravel(), weights=g.ravel(), minlength=rows * width).reshape(rows, width)
