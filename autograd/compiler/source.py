"""Functions copied as source into an exported module (``step.code``), with what they use.

An exported module imports only ``numpy`` and ``math``. The op table's rules, the array
kit's functions (:mod:`autograd.arrays`) and the float kit's (:mod:`autograd.floats`) that
its code calls are copied into it from their source: a rule's ``K.exp`` becomes
``np.exp`` where the array kit's ``exp`` is NumPy's, or a call of the kit's function,
copied too; the module globals a copied function reads (constants, other functions)
are copied with it. A name that resolves to anything else (another library, an object
that has no source) cannot be exported: :class:`NotExportable` names it.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import operator
import textwrap
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import arrays, floats

__all__ = ["Helpers", "NotExportable", "numpy_name"]


class NotExportable(Exception):
    """What a rule or function uses that an exported module cannot: the message names it."""


# Python's operators as NumPy's functions (a rule may be operator.add)
_OPERATORS = {
    operator.add: "np.add", operator.sub: "np.subtract", operator.mul: "np.multiply",
    operator.truediv: "np.true_divide", operator.neg: "np.negative", operator.pow: "np.power",
}  # fmt: skip

_PREFIX = {arrays.__name__: "", floats.__name__: "float_"}


def numpy_name(obj: Any) -> str | None:
    """``np.<name>`` when obj is one of NumPy's public functions or ufuncs, else None."""
    name = getattr(obj, "__name__", None)
    if isinstance(name, str) and getattr(np, name, None) is obj:
        return f"np.{name}"
    try:
        return _OPERATORS.get(obj)
    except TypeError:  # unhashable
        return None


class Helpers:
    """The functions, classes and constants an exported module defines, in an order in
    which each is defined before the module's code uses it."""

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}  # name in the module -> its definition
        self.origin: dict[tuple[str, str], str] = {}  # (module, name) -> name in the module
        self.taken: set[str] = set()

    def text(self) -> str:
        return "\n\n\n".join(self.sources.values())

    def reserve(self, *names: str) -> None:
        self.taken.update(names)

    # --- names ---------------------------------------------------------------------------

    def kit(self, name: str) -> str:
        """The expression for the array kit's ``name`` (a rule's ``K.name``)."""
        obj = getattr(arrays, name, None)
        if obj is None:
            raise NotExportable(f"the array kit has no function {name!r}")
        return self.global_of(arrays, name, obj)

    def global_of(self, module: types.ModuleType, name: str, obj: Any) -> str:
        """The expression, in the exported module, for the global ``name`` of ``module``."""
        if obj is np:
            return "np"
        if obj is math:
            return "math"
        found = numpy_name(obj)
        if found is not None:
            return found
        if isinstance(obj, types.ModuleType) and obj.__name__ in _PREFIX:
            return f"<module {obj.__name__}>"  # floats.sum: resolved at the attribute
        if isinstance(obj, (bool, int, float, np.floating)):
            if isinstance(obj, (bool, int)) and not isinstance(obj, np.generic):
                return self._constant(module, name, repr(obj))
            value = float(obj)
            return self._constant(module, name, repr(value) if math.isfinite(value) else f"float({str(value)!r})")
        if isinstance(obj, dict) and (not obj or module is arrays):  # the array kit's caches start empty
            return self._constant(module, name, "{}")
        if isinstance(obj, tuple) and all(isinstance(x, type) for x in obj):
            parts = [self.global_of(module, x.__name__, x) for x in obj]
            return self._constant(module, name, "(" + ", ".join(parts) + ",)")
        if isinstance(obj, (types.FunctionType, type)) and obj.__module__ in _PREFIX:
            return self.copy(obj, sys_module(obj))
        if isinstance(obj, types.FunctionType) and getattr(obj, "__module__", None) == module.__name__:
            return self.copy(obj, module, drop_kit=True)
        if getattr(builtins, name, None) is obj:
            return name
        raise NotExportable(f"{name} ({type(obj).__name__} from {getattr(obj, '__module__', '?')}), which is not NumPy")

    def _unique(self, wanted: str) -> str:
        name, k = wanted, 2
        while name in self.taken or name in self.sources:
            name, k = f"{wanted}_{k}", k + 1
        self.taken.add(name)
        return name

    def _constant(self, module: types.ModuleType, name: str, value: str) -> str:
        key = (module.__name__, name)
        if key in self.origin:
            return self.origin[key]
        local = self._unique(_PREFIX.get(module.__name__, "") + name)
        self.origin[key] = local
        self.sources[local] = f"{local} = {value}"
        return local

    # --- copying -------------------------------------------------------------------------

    def copy(self, obj: Callable[..., Any] | type, module: types.ModuleType, wanted: str | None = None,
             drop_kit: bool = False) -> str:  # fmt: skip
        """Copy a function or class (and what it uses) into the module; returns its name there."""
        key = (module.__name__, obj.__name__ if wanted is None else "rule:" + obj.__qualname__)
        if key in self.origin:
            return self.origin[key]
        base = wanted or (_PREFIX.get(module.__name__, "") + obj.__name__)
        if base in dir(builtins) or base in ("np", "math"):
            base = "rows_" + base
        local = self._unique(base)
        self.origin[key] = local
        tree = parse_definition(obj)
        tree.name = local
        self.sources[local] = ""  # reserved, so that recursion finds it
        body = self.rewrite(tree, module, drop_kit)
        self.sources.pop(local)
        self.sources[local] = body
        return local

    def rewrite(self, tree: ast.FunctionDef | ast.ClassDef, module: types.ModuleType, drop_kit: bool,
                substitute: dict[str, ast.expr] | None = None) -> str:  # fmt: skip
        """The definition's source, with types dropped and globals resolved."""
        _Rewriter(self, module, tree, drop_kit, substitute or {}).visit(tree)
        ast.fix_missing_locations(tree)
        return ast.unparse(tree)

    def expression(self, node: ast.expr, module: types.ModuleType, names: dict[str, ast.expr], locals_: set[str]) -> str:
        """An expression of a rule, with its parameters replaced by ``names``' expressions."""
        wrapper = ast.Expression(body=node)
        _Rewriter(self, module, None, True, names, locals_).visit(wrapper)
        ast.fix_missing_locations(wrapper)
        return ast.unparse(wrapper.body)


def sys_module(obj: Any) -> types.ModuleType:
    import sys

    return sys.modules[obj.__module__]


def parse_definition(obj: Any) -> Any:
    """The definition of a function or class, parsed (a lambda or a builtin has none we copy)."""
    if getattr(obj, "__name__", "") == "<lambda>":
        raise NotExportable("a lambda, whose source cannot be copied on its own")
    code = getattr(obj, "__code__", None)
    if code is not None and code.co_freevars:
        raise NotExportable(f"{obj.__qualname__}, a function that reads variables of an enclosing function")
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        raise NotExportable(f"{getattr(obj, '__qualname__', obj)!r}, whose source is not available") from None
    tree = ast.parse(source).body[0]
    if not isinstance(tree, (ast.FunctionDef, ast.ClassDef)):
        raise NotExportable(f"{obj.__qualname__}, which is not a def or a class")
    tree.decorator_list = []
    return tree


def _bound_names(tree: ast.AST) -> set[str]:
    """Names a definition binds itself: parameters, assignments, comprehension and loop targets."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node is not tree:
            found.add(node.name)
    return found


class _Rewriter(ast.NodeTransformer):
    """Drops annotations, removes the kit parameter K, and resolves globals: ``K.x`` to the
    array kit's x, ``floats.x`` to the float kit's, other globals to copies."""

    def __init__(self, helpers: Helpers, module: types.ModuleType, tree: Any, drop_kit: bool,
                 substitute: dict[str, ast.expr], locals_: set[str] | None = None) -> None:  # fmt: skip
        self.helpers, self.module, self.drop_kit, self.substitute = helpers, module, drop_kit, substitute
        self.locals = _bound_names(tree) if tree is not None else set(locals_ or ())
        self.locals.discard("K")
        self.class_name = tree.name if isinstance(tree, ast.ClassDef) else None

    def visit_arguments(self, node: ast.arguments) -> ast.arguments:
        for arg in [*node.posonlyargs, *node.args, *node.kwonlyargs, node.vararg, node.kwarg]:
            if arg is not None:
                arg.annotation = None
        if self.drop_kit:
            keep = [(a, d) for a, d in zip(node.args[::-1], ([None] * len(node.args) + node.defaults)[::-1])]
            args = [a for a, _ in keep[::-1] if a.arg != "K"]
            defaults = [d for a, d in keep[::-1] if a.arg != "K" and d is not None]
            node.args, node.defaults = args, [self.visit(d) for d in defaults]
        else:
            node.defaults = [self.visit(d) for d in node.defaults]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        node.decorator_list = []
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.decorator_list = []
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.Pass()
        return ast.copy_location(ast.Assign(targets=[node.target], value=self.visit(node.value)), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id not in self.locals:
            owner = node.value.id
            if owner == "K":
                return _parsed(self.helpers.kit(node.attr))
            target = self.module.__dict__.get(owner)
            if isinstance(target, types.ModuleType) and target.__name__ in _PREFIX:
                obj = getattr(target, node.attr)
                return _parsed(self.helpers.global_of(target, node.attr, obj))
            if isinstance(target, types.ModuleType) and target is operator:
                found = _OPERATORS.get(getattr(operator, node.attr))
                if found is None:
                    raise NotExportable(f"operator.{node.attr}")
                return _parsed(found)
        self.generic_visit(node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        name = node.id
        if name in self.substitute and isinstance(node.ctx, ast.Load):
            return self.substitute[name]
        if name in self.locals or not isinstance(node.ctx, ast.Load) or name == self.class_name:
            return node
        if name in self.module.__dict__:
            obj = self.module.__dict__[name]
            if isinstance(obj, type) and obj.__module__ == "typing":
                return node
            return _parsed(self.helpers.global_of(self.module, name, obj))
        if hasattr(builtins, name):
            return node
        raise NotExportable(f"the name {name!r}, which is not defined in {self.module.__name__}")

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # the kit is a module global of the exported code: a rule passes it on to no one
        node.args = [a for a in node.args if not (isinstance(a, ast.Name) and a.id == "K")]
        node.keywords = [k for k in node.keywords if k.arg != "K"]
        self.generic_visit(node)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        self.generic_visit(node)
        return node


def _parsed(expression: str) -> ast.expr:
    return ast.parse(expression, mode="eval").body
