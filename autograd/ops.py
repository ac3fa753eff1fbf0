"""The table of primitive ops: each op's forward and local derivatives, defined once.

Every entry is an :class:`Op`. Its ``forward`` maps operand values to the result, and
its ``backward`` maps the upstream gradient ``g``, the result ``out`` and the operand
values to the gradient of each operand (the vector-Jacobian product). Rules are plain
module-level functions: no closures over nodes, so the same rules can be replayed on
any graph. Adding an op means adding one entry here (and a method or function that
builds its node); the tests draw their inputs from each entry's ``domain``.

One definition serves three kinds of number. A rule is written with Python's operators
and the functions of a *kit* ``K`` (``K.exp``, ``K.div``, ``K.where``, ``K.sum``, ...),
passed as its last argument and defaulting to the float kit:

* ``rule(..., K=floats)``: Python floats, the eager path (:mod:`autograd.floats`);
* ``rule(..., K=values)``: Values, so that a derivative is a graph (:mod:`autograd.values`);
* ``rule(..., K=arrays)``: NumPy arrays, elementwise over a batch (:mod:`autograd.arrays`).

Rules never branch with a Python ``if`` on a number, which an array cannot answer;
they say ``K.where(condition, a, b)``. For floats and Values (a Value's ``<`` reads its
data) the table compiles each ``K.where`` into Python's ``a if condition else b``, so
the float path costs what a hand-written float rule costs (see :func:`_scalar_form`).
A Value's ``==`` is identity, so rules test ``K.is_zero(x)`` and ``K.isnan(x)``; the
float form compiles those into comparisons too (``x == 0.0``, ``x != x``).

A forward that is one of the float kit's functions (``floats.exp``, ``floats.pow``,
``floats.sum``, ...) stands for the function of that name in every kit: the float path
calls it with no rule's frame around it, as fast as before the kits.

Signatures by arity:

* unary:    ``forward(x) -> out``;        ``backward(g, out, x) -> gx``
* binary:   ``forward(a, b) -> out``;     ``backward(g, out, a, b) -> (ga, gb)``
* variadic: ``forward(xs) -> out``;       ``backward(g, out, xs) -> [g_0, ..., g_k]``

A variadic op may end its operand list with ``n_params`` non-differentiable
parameters (such as the output index of ``softmax``); ``backward`` returns
gradients for the other operands only. A variadic op on the hot path (``dot``)
may also give ``accumulate(g, args)``: the float rule's derivatives, added straight
into the operand nodes, which saves building lists for every node.
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import CodeType, ModuleType
from typing import Any

from . import floats

NAN = floats.NAN
VARIADIC = -1
N = Any  # a rule's numbers: floats, Values or arrays, whichever its kit K computes with
Kit = ModuleType  # autograd.floats, autograd.values or autograd.arrays

__all__ = ["OPS", "Op", "VARIADIC"]


@dataclass(frozen=True, slots=True)
class Op:
    """One primitive operation: its name, its forward and its local derivatives.

    Attributes:
        name: the name recorded on result nodes (``Value.op``).
        symbol: a short symbol for drawings (``×`` for mul).
        arity: 1, 2 or ``VARIADIC``.
        forward: computes the result from the operand values (floats unless given ``K=``;
            a function of the float kit stands for its namesake in each kit).
        backward: computes each operand's gradient from ``g``, the result and the operands.
        domain: per operand, the ``(low, high)`` interval on which the derivative is
            tested against central differences (variadic ops: per element).
        kinks: points where the derivative jumps; tests keep inputs away from them.
        n_params: trailing non-differentiable parameters of a variadic op.
        accumulate: optional, for variadic ops on the hot path: ``accumulate(g, args)``
            applies the same derivatives as ``backward`` on floats but adds them straight
            into the operand nodes' ``grad`` (operands are nodes, or plain floats that get
            nothing). When set, ``Value.backward`` calls it instead of ``backward``.
        short: micrograd's name for the op (``Value._op``: ``'+'``, ``'*'``, ``'ReLU'``);
            "" means the same as ``name``.
        fingerprint: for an op of your own, what its rules are (each one's qualified
            name, module and a hash of its code): pickled graphs carry it, so that a graph
            is never rebuilt with another rule of the same name. ``()`` for a built-in op,
            whose name alone says what it is.

    ``forward`` and ``backward`` may take the kit as a keyword ``K`` (the table's rules
    do); rules that do not (``operator.add``, ops of your own) get the numbers of
    every kind as they are. :meth:`rules_for` gives both, bound to one kit.
    """

    name: str
    symbol: str
    arity: int
    forward: Callable[..., Any]
    backward: Callable[..., Any]
    domain: tuple[tuple[float, float], ...]
    kinks: tuple[float, ...] = ()
    n_params: int = 0
    accumulate: Callable[[float, tuple], None] | None = None
    short: str = ""
    fingerprint: tuple = ()
    _generic: tuple[Callable[..., Any], Callable[..., Any]] = field(init=False, repr=False, compare=False)
    _array: tuple[Callable[..., Any], Callable[..., Any]] | None = field(
        init=False, default=None, repr=False, compare=False
    )
    _scalar: tuple[Callable[..., Any], Callable[..., Any]] = field(init=False, repr=False, compare=False)
    _bound: dict[ModuleType, tuple[Callable[..., Any], Callable[..., Any]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # forward and backward become their compiled float forms; the scalar forms serve
        # Values; the array forms (made at the first batch replay: see _array_rules) serve arrays
        generic = (self.forward, self.backward)
        scalar = (_scalar_form(self.forward), _scalar_form(self.backward))
        object.__setattr__(self, "_generic", generic)
        object.__setattr__(self, "_scalar", scalar)
        object.__setattr__(self, "forward", _float_form(generic[0], scalar[0]))
        object.__setattr__(self, "backward", _float_form(generic[1], scalar[1]))
        object.__setattr__(self, "_bound", {})

    def rules_for(self, kit: ModuleType) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """``(forward, backward)`` for the numbers of ``kit``: ``autograd.floats``,
        ``autograd.values`` or ``autograd.arrays``."""
        # made once per kit: grad(create_graph=True) asks once per node, and reading the
        # rules' signatures each time took two thirds of its time
        bound = self._bound.get(kit)
        if bound is None:
            if kit is floats:
                rules = (self.forward, self.backward)
            else:
                rules = self._scalar if getattr(kit, "SCALAR", True) else _array_rules(self)
            bound = tuple(_bind(rule, kit) for rule in rules)  # type: ignore[assignment]
            self._bound[kit] = bound  # type: ignore[index]
        return bound  # type: ignore[return-value]


def _bind(rule: Callable[..., Any], kit: ModuleType) -> Callable[..., Any]:
    """The rule for the numbers of ``kit``: the kit's own function where the rule is the
    float kit's function of that name (``floats.exp`` → ``values.exp``), else the rule
    given ``K=kit``, or as it is when it takes no kit."""
    name = getattr(rule, "__name__", "")
    if getattr(floats, name, None) is rule and hasattr(kit, name):
        return getattr(kit, name)  # type: ignore[no-any-return]
    return partial(rule, K=kit) if _takes_kit(rule) else rule


def _takes_kit(rule: Callable[..., Any]) -> bool:
    try:
        return "K" in inspect.signature(rule).parameters
    except (TypeError, ValueError):  # a builtin such as operator.add
        return False


# The float kit's tests of a name x as expressions: floats only, as a Value's == is identity.
_FLOAT_TESTS: dict[str, Callable[[ast.expr], ast.expr]] = {
    "is_zero": lambda x: ast.Compare(x, [ast.Eq()], [ast.Constant(0.0)]),
    "isnan": lambda x: ast.Compare(x, [ast.NotEq()], [x]),
    "is_finite": lambda x: ast.Compare(ast.BinOp(x, ast.Sub(), x), [ast.Eq()], [ast.Constant(0.0)]),
}


class _InlineWhere(ast.NodeTransformer):
    """Rewrites ``K.where(c, a, b)`` as ``(a if c else b)``; with ``floats_only``, also
    ``K.is_zero(x)``, ``K.isnan(x)`` and ``K.is_finite(x)`` of a name ``x`` as the float
    kit's comparisons (``x == 0.0``, ...)."""

    def __init__(self, floats_only: bool = False) -> None:
        self.floats_only = floats_only

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "K"):
            return node
        if func.attr == "where" and len(node.args) == 3 and not node.keywords:
            condition, if_true, if_false = node.args
            return ast.copy_location(ast.IfExp(test=condition, body=if_true, orelse=if_false), node)
        if (
            self.floats_only and func.attr in _FLOAT_TESTS
            and len(node.args) == 1 and isinstance(node.args[0], ast.Name) and not node.keywords
        ):  # fmt: skip
            return ast.copy_location(_FLOAT_TESTS[func.attr](node.args[0]), node)
        return node


class _LazyWhere(ast.NodeTransformer):
    """Rewrites ``K.where(c, a, b)`` as ``K.where_lazy(c, lambda: a, lambda: b)`` where a
    branch calls a function (the costly ones): the array kit then evaluates a branch only
    where some sample takes it. A where between cheap branches (relu's ``x`` or ``0.0``)
    stays numpy.where, one call, as its condition is mixed in nearly every batch."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "K"
            and func.attr == "where" and len(node.args) == 3 and not node.keywords
            and any(_calls(branch) for branch in node.args[1:])
        ):  # fmt: skip
            condition, if_true, if_false = node.args
            no_arguments = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
            return ast.copy_location(
                ast.Call(
                    func=ast.Attribute(value=ast.Name(id="K", ctx=ast.Load()), attr="where_lazy", ctx=ast.Load()),
                    args=[condition, ast.Lambda(args=no_arguments, body=if_true), ast.Lambda(args=no_arguments, body=if_false)],
                    keywords=[],
                ),
                node,
            )
        return node


def _calls(branch: ast.expr) -> bool:
    return any(isinstance(node, (ast.Call, ast.ListComp)) for node in ast.walk(branch))


def _array_form(rule: Callable[..., Any]) -> Callable[..., Any]:
    """The rule with each ``K.where(c, a, b)`` as ``K.where_lazy(c, lambda: a, lambda: b)``.

    NumPy's where evaluates both branches for every sample. The softmax family's rules
    keep a plain formula for a non-finite largest logit beside the careful one: a batch
    replay computed both, always. With the branches as functions, the array kit runs
    only the branch the whole batch takes, or both where samples differ. Compiled as
    :func:`_scalar_form` compiles (a rule without source is returned as it is)."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_freevars or rule.__name__ == "<lambda>" or not _names_where(code):
        return rule
    definition = _definitions(code.co_filename).get((code.co_firstlineno, rule.__name__))
    if definition is None:
        return rule
    return _recompiled(rule, _LazyWhere().visit(definition))


def _array_rules(op: Op) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The op's array forms, made when a batch replay first asks (not at import: they
    took as long as the rest of the table); the whole table's at once, from one parse."""
    if op._array is None:
        # a fresh parse: making the scalar forms rewrote the parsed rules in place
        _definitions.cache_clear()
        for each in (*_TABLE, op) if any(op is built_in for built_in in _TABLE) else (op,):
            if each._array is None:
                object.__setattr__(each, "_array", (_array_form(each._generic[0]), _array_form(each._generic[1])))
        _definitions.cache_clear()
    return op._array  # type: ignore[return-value]


def _recompiled(rule: Callable[..., Any], definition: ast.stmt) -> Callable[..., Any]:
    """The rewritten definition of ``rule``, compiled with the rule's file name, line
    numbers (tracebacks point at the rule) and globals, named as the rule."""
    tree = ast.Module(body=[definition], type_ignores=[])
    ast.fix_missing_locations(tree)
    namespace: dict[str, Any] = {}
    code = rule.__code__
    exec(compile(tree, code.co_filename, "exec"), rule.__globals__, namespace)  # noqa: S102 - our own rule's source
    compiled = namespace[rule.__name__]
    compiled.__qualname__ = rule.__qualname__
    compiled.__module__ = rule.__module__
    compiled.__doc__ = rule.__doc__
    return compiled


def _scalar_form(rule: Callable[..., Any], floats_only: bool = False) -> Callable[..., Any]:
    """The rule with each ``K.where(c, a, b)`` compiled into ``(a if c else b)``.

    A float or a Value answers ``c`` with one bool, so the conditional expression is
    exact for both, evaluates only the branch it takes (no nodes made for the other)
    and costs no call: the float rules run as fast as hand-written ones. With
    ``floats_only`` (the form for floats alone), ``K.is_zero(x)``, ``K.isnan(x)`` and
    ``K.is_finite(x)`` become comparisons too: pow's derivative made four calls to them.
    The rule's source is compiled again with its own file name and line numbers, so
    tracebacks point at it. A rule without these, or without source (a builtin, a
    lambda, a closure), is returned as it is.
    """
    code = getattr(rule, "__code__", None)
    if code is None or code.co_freevars or rule.__name__ == "<lambda>":
        return rule
    if not _names_where(code, ("where", *_FLOAT_TESTS) if floats_only else ("where",)):
        return rule
    definitions = _definitions(code.co_filename)
    key = (code.co_firstlineno, rule.__name__)
    definition = definitions.get(key)
    if definition is None:
        return rule
    if floats_only:
        # made after the Value form (Op does so), and the definition's last use: its
        # tests become float comparisons in place, which no later Value form may see
        del definitions[key]
    # rewriting in place is fine: a rewritten definition has no K.where left to rewrite
    return _recompiled(rule, _InlineWhere(floats_only).visit(definition))


def _float_form(rule: Callable[..., Any], scalar: Callable[..., Any]) -> Callable[..., Any]:
    """The rule for floats alone: its scalar form, with the float kit's tests inlined where it has any."""
    code = getattr(rule, "__code__", None)
    if code is None or not _names_where(code, tuple(_FLOAT_TESTS)):
        return scalar
    return _scalar_form(rule, floats_only=True)


def _names_where(code: CodeType, names: tuple[str, ...] = ("where",)) -> bool:
    """The code, or a comprehension inside it, reads an attribute of one of these names (``where``)."""
    return any(name in code.co_names for name in names) or any(
        isinstance(c, CodeType) and _names_where(c, names) for c in code.co_consts
    )


@functools.cache
def _definitions(filename: str) -> dict[tuple[int, str], ast.FunctionDef]:
    """The module-level functions of a source file by (first line, name), decorators stripped: parsed once per file."""
    try:
        source = "".join(linecache.getlines(filename))
        tree = ast.parse(source) if source else None
    except SyntaxError:
        tree = None
    found = {}
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.FunctionDef):
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno  # co_firstlineno
            node.decorator_list = []
            found[(first, node.name)] = node
    return found


# --- unary rules ----------------------------------------------------------------------
# Where cheaper, the derivative is written from the result: exp' = out, tanh' = 1 - out².
# Every zero gradient is 0·g, not 0: nan and inf in g stay visible, as in IEEE.


def _neg_fwd(x: N, K: Kit = floats) -> N:
    return -x


def _neg_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return -g


def _abs_fwd(x: N, K: Kit = floats) -> N:
    return abs(x)


def _abs_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    # sign(x), with abs'(0) = 0 as in PyTorch
    return K.where(x > 0.0, g, K.where(x < 0.0, -g, 0.0 * g))


def _exp_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * out


def _log_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, x)


def _sigmoid_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * out * (1.0 - out)


def _tanh_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * (1.0 - out * out)


def _relu_fwd(x: N, K: Kit = floats) -> N:
    return K.where(x <= 0.0, 0.0, x)  # written so that nan stays nan


def _relu_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    # relu'(0) = 0 as in PyTorch
    return K.where(x > 0.0, g, 0.0 * g)


def _softplus_fwd(x: N, K: Kit = floats) -> N:
    # log(1 + e**x) = max(x, 0) + log1p(e**-|x|): no overflow, no loss for large |x|
    return K.where(x > 0.0, x, 0.0) + K.log1p(K.exp(-abs(x)))


def _softplus_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * K.sigmoid(x)


def _step_fwd(x: N, K: Kit = floats) -> N:
    return K.where(x > 0.0, 1.0, K.where(x <= 0.0, 0.0, x))  # nan stays nan


def _flat_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    # step, sign, floor, ceil: flat between their jumps
    return 0.0 * g


def _sign_fwd(x: N, K: Kit = floats) -> N:
    return K.where(x > 0.0, 1.0, K.where(x < 0.0, -1.0, x))  # ±0 and nan stay


def _sin_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * K.cos(x)


def _cos_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return -g * K.sin(x)


def _sqrt_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    # 1 / (2√x), from the result; inf at 0, as in PyTorch
    return K.div(g, 2.0 * out)


def _tan_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * (1.0 + out * out)


def _sinh_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * K.cosh(x)


def _cosh_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return g * K.sinh(x)


# 1 - x² as (1 - x)(1 + x): exact where 1 - x² cancels, near |x| = 1


def _arcsin_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, K.sqrt((1.0 - x) * (1.0 + x)))


def _arccos_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(-g, K.sqrt((1.0 - x) * (1.0 + x)))


def _arctan_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, 1.0 + x * x)


def _arcsinh_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    # √(x² + 1) as hypot(x, 1): no overflow for large |x|
    return K.div(g, K.hypot(x, 1.0))


def _arccosh_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, K.sqrt((x - 1.0) * (x + 1.0)))


def _arctanh_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, (1.0 - x) * (1.0 + x))


_LN2 = 0.6931471805599453  # ln 2, correctly rounded
_LN10 = 2.302585092994046  # ln 10
_LOG2E = 1.4426950408889634  # 1 / ln 2


def _log2_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, x * _LN2)


def _log10_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, x * _LN10)


def _log1p_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    return K.div(g, 1.0 + x)


def _expm1_bwd(g: N, out: N, x: N, K: Kit = floats) -> N:
    # e^x, not out + 1: that loses every digit where e^x < 2^-53 (x < -37)
    return g * K.exp(x)


# --- binary rules ---------------------------------------------------------------------


def _add_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    return g, g


def _sub_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    return g, -g


def _mul_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # the multiply node swaps its inputs
    return g * b, g * a


def _div_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # d(a/b)/da = 1/b;  d(a/b)/db = -a/b² = -out/b
    return K.div(g, b), K.neg_g_a_over_b_squared(g, a, b, out)


def _pow_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # d(a**b)/da = b·a**(b-1) (0 where b == 0 and a is 0 or nan: not 0·inf, nan);
    # d(a**b)/db = a**b·ln a (0 where a == 0 and b >= 0; nan where a < 0, made as a
    # constant: no log node of a negative number, which detect_anomaly would stop at,
    # when create_graph builds the gradient of a constant exponent, as in x**2).
    # b == 0 with other a keeps the formula: it is 0, and its derivative in b, a**(b-1),
    # is what create_graph needs for the mixed partial.
    ga = K.where(K.is_zero(b) & (K.is_zero(a) | K.isnan(a)), 0.0 * g, g * b * K.pow(a, b - 1.0))
    gb = K.where(K.is_zero(a) & (b >= 0.0), 0.0 * g, K.where(a < 0.0, NAN, g * out * K.log(a)))
    return ga, gb


def _leaky_relu_fwd(x: N, slope: N, K: Kit = floats) -> N:
    return K.where(x > 0.0, x, slope * x)


def _leaky_relu_bwd(g: N, out: N, x: N, slope: N, K: Kit = floats) -> tuple[N, N]:
    # the slope gets a gradient too, so a Value slope makes a PReLU
    return K.where(x > 0.0, g, g * slope), K.where(x > 0.0, 0.0 * g, g * x)


def _elu_fwd(x: N, alpha: N, K: Kit = floats) -> N:
    return K.where(x > 0.0, x, alpha * K.expm1(x))


def _elu_bwd(g: N, out: N, x: N, alpha: N, K: Kit = floats) -> tuple[N, N]:
    # alpha·e^x, not out + alpha = alpha·(e^x - 1) + alpha: that cancels, to 0 by x = -40.
    # At 0, as PyTorch: elu'(0) is the left derivative, alpha, and elu''(0) the right one, 0,
    # so the gradient there is g·alpha, which does not change with x
    gx = K.where(x > 0.0, g, K.where(K.is_zero(x), g * alpha, g * (alpha * K.exp(x))))
    return gx, K.where(x > 0.0, 0.0 * g, g * K.expm1(x))


def _mod_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # a % b = a - b·⌊a/b⌋: d/da = 1 (as NumPy and PyTorch), d/db = -⌊a/b⌋
    return g, -g * K.floor(K.div(a, b))


def _hypot_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # a/out and b/out, each at most 1 in size; 0 at the origin, where hypot(a, 0) is |a| (abs'(0) = 0)
    return (
        K.where(K.is_zero(out), 0.0 * g, g * K.div(a, out)),
        K.where(K.is_zero(out), 0.0 * g, g * K.div(b, out)),
    )


def _arctan2_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # atan2(a, b): d/da = b/(a² + b²), d/db = -a/(a² + b²), as (b/h)/h with h = hypot(a, b): no overflow
    h = K.hypot(a, b)
    scale = K.div(g, h)
    return scale * K.div(b, h), -scale * K.div(a, h)


def _logaddexp_fwd(a: N, b: N, K: Kit = floats) -> N:
    # max(a, b) + log1p(e^-|a - b|), as NumPy; where a - b is not finite (an infinity, or
    # nan) the larger operand, inf + inf or nan
    d = a - b
    return K.where(
        K.is_finite(d),
        K.where(a > b, a, b) + K.log1p(K.exp(-abs(d))),
        K.where(a > b, a, K.where(a < b, b, a + b)),
    )


def _logaddexp_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # e^a / (e^a + e^b) = σ(a - b)
    return g * K.sigmoid(a - b), g * K.sigmoid(b - a)


def _logaddexp2_fwd(a: N, b: N, K: Kit = floats) -> N:
    # max(a, b) + log1p(2^-|a - b|)/ln 2, as NumPy
    d = a - b
    return K.where(
        K.is_finite(d),
        K.where(a > b, a, b) + K.log1p(K.pow(2.0, -abs(d))) * _LOG2E,
        K.where(a > b, a, K.where(a < b, b, a + b)),
    )


def _logaddexp2_bwd(g: N, out: N, a: N, b: N, K: Kit = floats) -> tuple[N, N]:
    # 2^a / (2^a + 2^b) = σ((a - b)·ln 2)
    return g * K.sigmoid((a - b) * _LN2), g * K.sigmoid((b - a) * _LN2)


# --- variadic rules -------------------------------------------------------------------


def _sum_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    return [g] * len(xs)


def _mean_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    return [g / len(xs)] * len(xs)


def _dot_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    # operands: w_0..w_{n-1}, x_0..x_{n-1}, then the bias when the count is odd
    n = len(xs) // 2
    terms = list(map(operator.mul, xs[:n], xs[n : 2 * n]))
    if len(xs) % 2:  # the operand count, never a number: fine for arrays
        terms.append(xs[2 * n])
    return K.sum(terms)


def _dot_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    n = len(xs) // 2
    grads = [g * x for x in xs[n : 2 * n]]
    grads += [g * w for w in xs[:n]]
    if len(xs) % 2:
        grads.append(g)
    return grads


def _dot_accumulate(g: float, args: tuple) -> None:
    """_dot_bwd's float derivatives, added straight into the operand nodes' ``grad``.

    Every neuron makes one dot node per sample, with 2·fan-in + 1 operands, so
    training spends most of backward here. Multiplying and adding pair by pair,
    without _dot_bwd's lists of values and of gradients, is over twice as fast.
    Operands that are plain floats (inputs given as numbers) get nothing. A test
    checks it against ``_dot_bwd`` on every kind of operand.

    >>> from autograd import Value
    >>> w0, x0, x1, b = Value(2.0), Value(5.0), Value(7.0), Value(1.0)
    >>> _dot_accumulate(0.5, (w0, 3.0, x0, x1, b))
    >>> w0.grad, x0.grad, x1.grad, b.grad
    (2.5, 1.0, 1.5, 0.5)
    >>> _dot_bwd(0.5, 0.0, [2.0, 3.0, 5.0, 7.0, 1.0])
    [2.5, 3.5, 1.0, 1.5, 0.5]
    """
    n = len(args) // 2
    for w, x in zip(args[:n], args[n : 2 * n]):
        if x.__class__ is float:
            if w.__class__ is not float:
                w.grad += g * x
        elif w.__class__ is float:
            x.grad += g * w
        else:
            w.grad += g * x.data
            x.grad += g * w.data
    if len(args) % 2 and args[-1].__class__ is not float:
        args[-1].grad += g


# The softmax family works from e_j = e^(x_j - m), m the largest logit (K.shifted_exps;
# the float kit explains the accuracy). m is a constant, never differentiated: the
# results do not depend on it, so their derivatives do not either. A non-finite largest
# logit (±inf, or nan, which wins) takes the plain formulas: ±inf and nan results need
# no accuracy, and there logsumexp is m itself, so they read m (arrays evaluate both
# branches of K.where: a logsumexp per output there cost a batch replay most of its time).


def _logsumexp_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    m = K.max_of(xs)
    es = K.shifted_exps(xs, m)
    # lse = m + log1p(S - 1): the largest e is e^0 = 1, the 1 in log1p
    return K.where(K.is_finite(m), m + K.log1p(K.sum_except(es, K.winner(xs))), m)


def _logsumexp_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    m = K.max_of(xs)
    es = K.shifted_exps(xs, m)
    return K.where(K.is_finite(m), K.scaled(es, K.div(g, K.sum(es))), [g * K.exp(x - out) for x in xs])


def _softmax_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    # operands: x_0..x_{n-1}, then the index i of this output
    i, logits = xs[-1], xs[:-1]
    m = K.max_of(logits)
    es = K.shifted_exps(logits, m)
    return K.where(
        K.is_finite(m), K.div(K.pick(es, i), K.sum(es)), K.exp(K.pick(logits, i) - m)
    )


def _softmax_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    # dp_i/dx_j = p_i (δ_ij - p_j) = p_i (1 - p_i) for j = i, where 1 - p_i = Σ_{j≠i} e_j / S
    i, logits = xs[-1], xs[:-1]
    m = K.max_of(logits)
    es = K.shifted_exps(logits, m)
    total, rest = K.sum_and_rest(es, i)
    own = g * out * K.div(rest, total)
    return K.where(
        K.is_finite(m),
        K.scaled_except(es, K.div(-g * out, total), i, own),
        [g * out * (K.where(i == j, 1.0, 0.0) - K.exp(x - m)) for j, x in enumerate(logits)],
    )


def _log_softmax_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    i, logits = xs[-1], xs[:-1]
    m = K.max_of(logits)
    es = K.shifted_exps(logits, m)
    # (x_i - m) - log1p(S - 1): two terms <= 0, no cancellation
    careful = K.shifted_minus(K.pick(logits, i), m, K.log1p(K.sum_except(es, K.winner(logits))))
    return K.where(K.is_finite(m), careful, K.pick(logits, i) - m)


def _log_softmax_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    # d log p_i / dx_j = δ_ij - p_j: with cross-entropy this is the familiar p - y
    i, logits = xs[-1], xs[:-1]
    m = K.max_of(logits)
    es = K.shifted_exps(logits, m)
    total, rest = K.sum_and_rest(es, i)
    own = g * K.div(rest, total)
    return K.where(
        K.is_finite(m),
        K.scaled_except(es, K.div(-g, total), i, own),
        [g * (K.where(i == j, 1.0, 0.0) - K.exp(x - m)) for j, x in enumerate(logits)],
    )


def _max_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    return K.max_of(xs)  # nan wins, as in NumPy


def _max_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    # The whole gradient goes to the operand that gave the result: the first nan, since
    # nan wins, else the first maximal operand, as torch.max does.
    top = K.winner(xs)
    return [K.where(top == k, g, 0.0 * g) for k in range(len(xs))]


def _min_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    return K.min_of(xs)  # nan wins, as in NumPy


def _min_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    # to the operand that gave the result: the first nan, else the first minimal operand
    low = K.loser(xs)
    return [K.where(low == k, g, 0.0 * g) for k in range(len(xs))]


def _prod_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    # the product of the others, not out / x_k: right where some operand is 0
    return [g * K.prod_except(xs, k) for k in range(len(xs))]


def _var_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    # Σ (x - mean)² / n, numpy.var's ddof=0: the deviations summed correctly rounded
    m = K.mean(xs)
    return K.sum([(x - m) * (x - m) for x in xs]) / len(xs)


def _var_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    # 2(x_i - mean)/n (the mean's own dependence on x_i adds Σ(x_j - mean) = 0)
    m = K.mean(xs)
    scale = K.div(2.0 * g, len(xs))
    return [scale * (x - m) for x in xs]


def _std_fwd(xs: Sequence[N], K: Kit = floats) -> N:
    return K.sqrt(_var_fwd(xs, K))


def _std_bwd(g: N, out: N, xs: Sequence[N], K: Kit = floats) -> list[N]:
    # (x_i - mean)/(n·std); 0 where std is 0 (every operand equal), as abs'(0) = 0
    m = K.mean(xs)
    scale = K.div(g, len(xs) * out)
    return K.where(K.is_zero(out), [0.0 * g for x in xs], [scale * (x - m) for x in xs])


_REAL = (-5.0, 5.0)
_POSITIVE = (0.05, 20.0)
_UNIT = (-0.95, 0.95)
_WHOLE = tuple(float(k) for k in range(-5, 6))  # floor and ceil jump at every whole number

_TABLE = (
    Op("add", "+", 2, operator.add, _add_bwd, (_REAL, _REAL), short="+"),
    Op("sub", "−", 2, operator.sub, _sub_bwd, (_REAL, _REAL), short="-"),
    Op("mul", "×", 2, operator.mul, _mul_bwd, (_REAL, _REAL), short="*"),
    Op("div", "÷", 2, floats.div, _div_bwd, (_REAL, (0.2, 5.0)), short="/"),
    Op("pow", "^", 2, floats.pow, _pow_bwd, ((0.1, 5.0), (-3.0, 3.0)), short="**"),
    Op("neg", "−", 1, _neg_fwd, _neg_bwd, (_REAL,)),
    Op("abs", "|x|", 1, _abs_fwd, _abs_bwd, (_REAL,), kinks=(0.0,)),
    Op("exp", "exp", 1, floats.exp, _exp_bwd, (_REAL,)),
    Op("log", "log", 1, floats.log, _log_bwd, (_POSITIVE,)),
    Op("sigmoid", "σ", 1, floats.sigmoid, _sigmoid_bwd, ((-10.0, 10.0),)),
    Op("tanh", "tanh", 1, floats.tanh, _tanh_bwd, (_REAL,)),
    Op("relu", "ReLU", 1, _relu_fwd, _relu_bwd, (_REAL,), kinks=(0.0,), short="ReLU"),
    Op("softplus", "softplus", 1, _softplus_fwd, _softplus_bwd, ((-20.0, 20.0),)),
    Op("step", "step", 1, _step_fwd, _flat_bwd, (_REAL,), kinks=(0.0,)),
    Op("sin", "sin", 1, floats.sin, _sin_bwd, ((-10.0, 10.0),)),
    Op("cos", "cos", 1, floats.cos, _cos_bwd, ((-10.0, 10.0),)),
    Op("sqrt", "√", 1, floats.sqrt, _sqrt_bwd, (_POSITIVE,)),
    Op("tan", "tan", 1, floats.tan, _tan_bwd, ((-1.4, 1.4),)),
    Op("sinh", "sinh", 1, floats.sinh, _sinh_bwd, (_REAL,)),
    Op("cosh", "cosh", 1, floats.cosh, _cosh_bwd, (_REAL,)),
    Op("arcsin", "arcsin", 1, floats.arcsin, _arcsin_bwd, (_UNIT,)),
    Op("arccos", "arccos", 1, floats.arccos, _arccos_bwd, (_UNIT,)),
    Op("arctan", "arctan", 1, floats.arctan, _arctan_bwd, (_REAL,)),
    Op("arcsinh", "arsinh", 1, floats.arcsinh, _arcsinh_bwd, (_REAL,)),
    Op("arccosh", "arcosh", 1, floats.arccosh, _arccosh_bwd, ((1.05, 20.0),)),
    Op("arctanh", "artanh", 1, floats.arctanh, _arctanh_bwd, (_UNIT,)),
    Op("log2", "log₂", 1, floats.log2, _log2_bwd, (_POSITIVE,)),
    Op("log10", "log₁₀", 1, floats.log10, _log10_bwd, (_POSITIVE,)),
    Op("log1p", "log1p", 1, floats.log1p, _log1p_bwd, ((-0.95, 20.0),)),
    Op("expm1", "expm1", 1, floats.expm1, _expm1_bwd, (_REAL,)),
    Op("sign", "sgn", 1, _sign_fwd, _flat_bwd, (_REAL,), kinks=(0.0,)),
    Op("floor", "floor", 1, floats.floor, _flat_bwd, (_REAL,), kinks=_WHOLE),
    Op("ceil", "ceil", 1, floats.ceil, _flat_bwd, (_REAL,), kinks=_WHOLE),
    Op("leaky_relu", "LReLU", 2, _leaky_relu_fwd, _leaky_relu_bwd, (_REAL, (0.0, 0.5)), kinks=(0.0,), short="LeakyReLU"),
    Op("elu", "ELU", 2, _elu_fwd, _elu_bwd, (_REAL, (0.1, 2.0)), kinks=(0.0,), short="ELU"),
    Op("mod", "%", 2, floats.mod, _mod_bwd, (_REAL, (0.5, 3.0)), short="%"),
    Op("hypot", "hypot", 2, floats.hypot, _hypot_bwd, (_REAL, _REAL), kinks=(0.0,)),
    # kinks: the branch cut along a = 0 (b < 0), where atan2 jumps by 2π, and the origin
    Op("arctan2", "atan2", 2, floats.arctan2, _arctan2_bwd, (_REAL, _REAL), kinks=(0.0,)),
    Op("logaddexp", "logaddexp", 2, _logaddexp_fwd, _logaddexp_bwd, (_REAL, _REAL)),
    Op("logaddexp2", "logaddexp2", 2, _logaddexp2_fwd, _logaddexp2_bwd, (_REAL, _REAL)),
    Op("sum", "Σ", VARIADIC, floats.sum, _sum_bwd, (_REAL,)),
    Op("mean", "mean", VARIADIC, floats.mean, _mean_bwd, (_REAL,)),
    Op("dot", "Σw·x", VARIADIC, _dot_fwd, _dot_bwd, (_REAL,), accumulate=_dot_accumulate),
    Op("logsumexp", "logΣexp", VARIADIC, _logsumexp_fwd, _logsumexp_bwd, ((-10.0, 10.0),)),
    Op("softmax", "softmax", VARIADIC, _softmax_fwd, _softmax_bwd, ((-10.0, 10.0),), n_params=1),
    Op("log_softmax", "log softmax", VARIADIC, _log_softmax_fwd, _log_softmax_bwd, ((-10.0, 10.0),), n_params=1),
    Op("maximum", "max", VARIADIC, _max_fwd, _max_bwd, (_REAL,), kinks=(0.0,), short="max"),
    Op("minimum", "min", VARIADIC, _min_fwd, _min_bwd, (_REAL,), kinks=(0.0,), short="min"),
    Op("prod", "Π", VARIADIC, floats.prod, _prod_bwd, (_REAL,)),
    Op("var", "var", VARIADIC, _var_fwd, _var_bwd, (_REAL,)),
    Op("std", "std", VARIADIC, _std_fwd, _std_bwd, (_REAL,)),
)



class _OpTable(dict):  # type: ignore[type-arg]
    """``autograd.OPS``: a dict of ops by name in which a built-in op cannot be replaced
    or removed. Everything that reads an op by name (a graph rebuilt from a pickle, the
    tests, the drawings) trusts a built-in name to mean the built-in rule."""

    def __setitem__(self, name: str, op: Op) -> None:
        _refuse_built_in(name, op)
        super().__setitem__(name, op)

    def __delitem__(self, name: str) -> None:
        _refuse_built_in(name)
        super().__delitem__(name)

    def pop(self, name: str, *default: Any) -> Any:  # type: ignore[override]
        _refuse_built_in(name)
        return super().pop(name, *default)

    def popitem(self) -> tuple[str, Op]:
        raise TypeError("autograd.OPS: popitem() would remove an arbitrary op; remove an op of your own by its name")

    def clear(self) -> None:
        raise TypeError("autograd.OPS: clear() would remove the built-in ops; remove ops of your own by name")

    def setdefault(self, name: str, op: Op) -> Op:  # type: ignore[override]
        if name not in self:
            self[name] = op
        return self[name]

    def update(self, *others: Any, **named: Op) -> None:
        for name, op in dict(*others, **named).items():
            self[name] = op

    def __ior__(self, other: Any) -> _OpTable:  # type: ignore[override,misc]
        self.update(other)
        return self


def _refuse_built_in(name: object, op: object = None) -> None:
    built_in = _BUILT_IN.get(name) if isinstance(name, str) else None  # type: ignore[arg-type]
    if built_in is not None and op is not built_in:
        raise ValueError(f"autograd.OPS: {name!r} is a built-in op; it cannot be replaced or removed")


_BUILT_IN: dict[str, Op] = {op.name: op for op in _TABLE}
OPS: dict[str, Op] = _OpTable(_BUILT_IN)
"""Every primitive op by name; the single source of forward and derivative rules.
A built-in op cannot be replaced or removed; ops of your own join it (``autograd.primitive``)."""

# The table is compiled; kept, this file's syntax tree (over 3,000 objects) would only
# lengthen every full pass of the garbage collector.
_definitions.cache_clear()
