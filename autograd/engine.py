"""The Value node, the gradient modes and reverse-mode backward."""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from .ops import OPS, VARIADIC, Op

__all__ = ["Value", "detect_anomaly", "is_grad_enabled", "no_grad"]

# Thread-local mode, read once per op: 0 records the graph; bit 1 set = no_grad;
# bit 2 set = detect_anomaly; bit 4 set = an observer sees each new node (jvp's
# tangents). One integer keeps the hot path to a single lookup.
_NO_GRAD = 1
_ANOMALY = 2
_OBSERVED = 4


class _Mode(threading.local):
    def __init__(self) -> None:
        self.state = 0
        self.observer: Callable[[Value, Op, tuple], None] | None = None


_mode = _Mode()
# How many no_grad/detect_anomaly blocks are open in any thread: while none is,
# ops skip the thread-local lookup altogether.
_modes_in_use = 0
_modes_lock = threading.Lock()


def _number(x: object, where: str, accepted: str = "a Value, int, float or NumPy real scalar") -> float:
    """x as a float, or a TypeError naming what was given and what is accepted."""
    cls = x.__class__
    if cls is float:
        return x  # type: ignore[return-value]
    if cls is int or isinstance(x, numbers.Real) or _is_real_0d_array(x):  # int, bool, NumPy scalars, Fraction
        try:
            return float(x)
        except OverflowError:
            raise ValueError(f"{where}: {x!r:.60} is too large for a float") from None
    raise TypeError(
        f"{where} accepts {accepted}; got {cls.__name__} {x!r:.60}"
    )


def _is_real_0d_array(x: object) -> bool:
    """A 0-d NumPy array of a real dtype (``np.array(2.0)``), told apart without importing NumPy."""
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    return getattr(x, "ndim", None) == 0 and kind in ("b", "i", "u", "f")


_new = object.__new__


def _unary_method(name: str, doc: str) -> Callable[[Value], Value]:
    op = OPS[name]
    forward = op.forward

    def method(self: Value) -> Value:
        # _make_node's lines, inlined for speed
        out = _new(Value)
        out.data = forward(self.data)
        out.grad = 0.0
        out.label = ""
        if _modes_in_use and _mode.state:
            _record_unusual(out, op, (self,))
        else:
            out._rule = op
            out._args = (self,)
        return out

    method.__doc__ = doc
    return method


def _binary_method(name: str, doc: str, reflected: bool = False) -> Callable[[Value, Value | float], Value]:
    """A method for a binary op; reflected methods (``2 - x``) put the number first."""
    op = OPS[name]
    forward = op.forward

    def method(self: Value, other: Value | float) -> Value:
        cls = other.__class__
        if cls is Value:
            other_data = other.data  # type: ignore[union-attr]
        elif cls is float:
            other_data = other
        else:
            other = other_data = _number(other, name)
        # _make_node's lines, inlined for speed
        out = _new(Value)
        args: tuple[Value | float, Value | float]
        if reflected:
            out.data = forward(other_data, self.data)
            args = (other, self)
        else:
            out.data = forward(self.data, other_data)
            args = (self, other)
        out.grad = 0.0
        out.label = ""
        if _modes_in_use and _mode.state:
            _record_unusual(out, op, args)
        else:
            out._rule = op
            out._args = args
        return out

    method.__doc__ = doc
    return method


class Value:
    """A scalar in a computation graph: its value, its gradient and how it was made.

    ``Value(data, label="")`` makes a leaf. Arithmetic (``+ - * / **``, unary ``-``,
    ``abs()``) and the methods ``exp``, ``log``, ``sigmoid``, ``tanh``, ``relu``,
    ``leaky_relu``, ``elu``, ``softplus``, ``step``, ``sin``, ``cos``, ``sqrt``, ``tan``, ``sinh``, ``cosh``,
    ``arcsin``, ``arccos``, ``arctan``, ``arcsinh``, ``arccosh``, ``arctanh``, ``log2``, ``log10``, ``log1p``,
    ``expm1``, ``sign``, ``floor``, ``ceil`` (unary), ``%``, ``hypot``, ``arctan2``, ``logaddexp`` and
    ``logaddexp2`` (binary) make new nodes that remember their operands, so that :meth:`backward` can
    apply the chain rule.

    A Value reads as a number where Python expects one: ``<``, ``<=``, ``>``, ``>=``
    compare the data (a bool, no graph node), and ``int``, ``float``, ``round``,
    ``math.floor``/``ceil``/``trunc`` and ``format`` work on the data. ``==`` and
    ``hash`` stay identity-based, because graph walks keep Values in sets and dicts.

    Attributes:
        data: the value, a Python float.
        grad: d(root)/d(self) from the last :meth:`backward` call (0.0 at first); a Value
            after ``backward(create_graph=True)``, None after ``cleargrad()``.
        label: a name for drawings; free text.
        op: the name of the op that made this node ("" for leaves).
        parents: the operand Values (numbers used as operands are in ``operands``).

    micrograd's internal names work too, for code written against micrograd:
    ``_prev`` (the set of operand Values), ``_op`` (micrograd's short op string:
    ``'+'``, ``'*'``, ``'**2'``, ``'ReLU'``, ...; ``''`` for a leaf) and
    ``_backward()`` (one node's step of the chain rule).
    """

    __slots__ = ("data", "grad", "label", "_rule", "_args")

    # Tell NumPy to leave mixed arithmetic to Value: np.float64(2) * v then calls
    # v.__rmul__ instead of building an object array.
    __array_ufunc__ = None

    def __init__(self, data: float, label: str = "", *, name: str | None = None) -> None:
        if getattr(data, "ndim", 0):  # DeZero's Variable(np.linspace(-7, 7, 200)): one Value per number here
            shape = getattr(data, "shape", "?")
            raise TypeError(
                f"Value() accepts an int, float, NumPy real scalar or 0-d real array; got {type(data).__name__} "
                f"of shape {shape}: a Value holds one number, so make a list of them, [Value(v) for v in array]"
            )
        self.data = _number(data, "Value()", "an int, float, NumPy real scalar or 0-d real array")
        self.grad = 0.0
        if name is not None:  # DeZero's name for label
            label = name
        if label.__class__ is not str:
            raise TypeError(f"Value() label must be a str; got {type(label).__name__} {label!r:.60}")
        self.label = label
        self._rule: Op | None = None
        self._args: tuple = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        # the engine tells nodes from numbers by exact class, for speed
        raise TypeError("Value is not meant to be subclassed; wrap it instead")

    # --- the graph, read-only ---------------------------------------------------------

    @property
    def op(self) -> str:
        """Name of the op that made this node; "" for a leaf."""
        return "" if self._rule is None else self._rule.name

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operand Values, in operand order (a Value used twice appears twice)."""
        return tuple(a for a in self._args if a.__class__ is Value)

    @property
    def operands(self) -> tuple[Value | float, ...]:
        """All operands in order: Values and the plain numbers the op was given."""
        op = self._rule
        if op is None or not op.n_params:
            return self._args
        return self._args[: -op.n_params]

    @property
    def params(self) -> tuple[float, ...]:
        """Non-differentiable parameters of the op (the output index of softmax)."""
        op = self._rule
        return self._args[len(self._args) - op.n_params :] if op is not None and op.n_params else ()

    # --- micrograd's internal names, for code written against micrograd --------------

    @property
    def _prev(self) -> set[Value]:
        """micrograd's ``_prev``: the set of operand Values."""
        return set(self.parents)

    @property
    def _op(self) -> str:
        """micrograd's ``_op``: a short op string (``'+'``, ``'*'``, ``'**2'``, ``'ReLU'``); ``''`` for a leaf."""
        op = self._rule
        if op is None:
            return ""
        if op.name == "pow":  # micrograd writes the exponent in: '**2'
            exponent = self._args[1]
            if exponent.__class__ is Value:
                return "**"
            return f"**{int(exponent)}" if float(exponent).is_integer() else f"**{exponent}"
        return op.short or op.name

    def _backward(self) -> None:
        """micrograd's ``_backward()``: add this node's local derivatives, times its own
        ``.grad``, into its operands' ``.grad``. A leaf's does nothing.

        Stepping it by hand in reverse topological order from ``root.grad = 1.0``
        gives what :meth:`backward` gives.
        """
        if self._rule is not None:
            _apply_rules((self,), False)

    def __repr__(self) -> str:
        extra = f", label={self.label!r}" if self.label else ""
        if self._rule is not None:
            extra += f", op={self._rule.name!r}"
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    # --- the number protocol: read the data, record nothing ---------------------------

    def __float__(self) -> float:
        return self.data

    def __int__(self) -> int:
        return int(self.data)

    def __round__(self, ndigits: int | None = None) -> int | float:
        return round(self.data, ndigits)

    def __trunc__(self) -> int:
        return math.trunc(self.data)

    def __floor__(self) -> int:
        return math.floor(self.data)

    def __ceil__(self) -> int:
        return math.ceil(self.data)

    def __format__(self, spec: str) -> str:
        # an empty spec (f"{v}") shows the node as repr does; any other formats the data
        return format(self.data, spec) if spec else str(self)

    def __lt__(self, other: object) -> bool:
        other_data = _compared(other)
        return NotImplemented if other_data is None else self.data < other_data

    def __le__(self, other: object) -> bool:
        other_data = _compared(other)
        return NotImplemented if other_data is None else self.data <= other_data

    def __gt__(self, other: object) -> bool:
        other_data = _compared(other)
        return NotImplemented if other_data is None else self.data > other_data

    def __ge__(self, other: object) -> bool:
        other_data = _compared(other)
        return NotImplemented if other_data is None else self.data >= other_data

    # --- pickle and copy.deepcopy ------------------------------------------------------

    def __reduce__(self) -> tuple:
        # A leaf is its three fields. A result is its whole graph as a flat list,
        # operands before users, rebuilt in a loop: pickling the nested operand
        # tuples instead would recurse once per level and fail on deep chains.
        if self._rule is None:
            return _leaf, (self.data, self.grad, self.label)
        return _rebuild_graph, (_flatten_graph(self),)

    # --- arithmetic and functions: each a thin method over one entry of the op table ---

    __add__ = _binary_method("add", "self + other; both derivatives 1 (the add node passes the gradient on).")
    __radd__ = _binary_method("add", "other + self.", reflected=True)
    __sub__ = _binary_method("sub", "self - other; derivatives 1 and -1.")
    __rsub__ = _binary_method("sub", "other - self.", reflected=True)
    __mul__ = _binary_method("mul", "self * other; the multiply node swaps its inputs: d/dself = other.")
    __rmul__ = _binary_method("mul", "other * self.", reflected=True)
    __truediv__ = _binary_method("div", "self / other; derivatives 1/other and -self/other².")
    __rtruediv__ = _binary_method("div", "other / self.", reflected=True)
    __pow__ = _binary_method("pow", "self ** e; d/dself = e·self^(e-1), d/de = self^e·ln self (e may be a Value).")
    __rpow__ = _binary_method("pow", "base ** self.", reflected=True)
    __neg__ = _unary_method("neg", "-self; derivative -1.")
    __abs__ = _unary_method("abs", "|x|; derivative sign(x), with abs'(0) = 0 as in PyTorch.")
    exp = _unary_method("exp", "e^x; derivative e^x (inf past about 709.78, as IEEE says).")
    log = _unary_method("log", "Natural log; derivative 1/x (-inf at 0, nan below 0).")
    sigmoid = _unary_method("sigmoid", "1 / (1 + e^-x), stable for any x; derivative y(1 - y) ≤ 0.25.")
    tanh = _unary_method("tanh", "tanh x; derivative 1 - y².")
    relu = _unary_method("relu", "max(x, 0); derivative 1 for x > 0, else 0 (relu'(0) = 0 as in PyTorch).")
    softplus = _unary_method("softplus", "log(1 + e^x), stable for any x; derivative sigmoid(x).")
    step = _unary_method("step", "Heaviside: 1 if x > 0 else 0; derivative 0 (the classic perceptron's).")
    sin = _unary_method("sin", "sin x; derivative cos x.")
    cos = _unary_method("cos", "cos x; derivative -sin x.")
    sqrt = _unary_method("sqrt", "√x as one node; derivative 1 / (2√x) (inf at 0, nan below 0).")
    tan = _unary_method("tan", "tan x; derivative 1 + tan² x.")
    sinh = _unary_method("sinh", "sinh x; derivative cosh x.")
    cosh = _unary_method("cosh", "cosh x; derivative sinh x.")
    arcsin = _unary_method("arcsin", "asin x (nan outside [-1, 1]); derivative 1 / √(1 - x²).")
    arccos = _unary_method("arccos", "acos x (nan outside [-1, 1]); derivative -1 / √(1 - x²).")
    arctan = _unary_method("arctan", "atan x; derivative 1 / (1 + x²).")
    arcsinh = _unary_method("arcsinh", "asinh x; derivative 1 / √(x² + 1).")
    arccosh = _unary_method("arccosh", "acosh x (nan below 1); derivative 1 / √(x² - 1).")
    arctanh = _unary_method("arctanh", "atanh x (±inf at ±1); derivative 1 / (1 - x²).")
    log2 = _unary_method("log2", "log₂ x; derivative 1 / (x ln 2).")
    log10 = _unary_method("log10", "log₁₀ x; derivative 1 / (x ln 10).")
    log1p = _unary_method("log1p", "ln(1 + x), exact near 0; derivative 1 / (1 + x).")
    expm1 = _unary_method("expm1", "e^x - 1, exact near 0; derivative e^x.")
    sign = _unary_method("sign", "-1, 0 or 1 as a Value (±0 and nan stay); derivative 0.")
    floor = _unary_method("floor", "⌊x⌋ as a Value (math.floor(x) gives the int); derivative 0.")
    ceil = _unary_method("ceil", "⌈x⌉ as a Value (math.ceil(x) gives the int); derivative 0.")
    __mod__ = _binary_method("mod", "self % other with Python's sign (the result takes other's); derivatives 1 and -⌊self/other⌋.")
    __rmod__ = _binary_method("mod", "other % self.", reflected=True)
    hypot = _binary_method("hypot", "√(self² + other²) without overflow; derivatives self/out, other/out (0 at the origin).")
    arctan2 = _binary_method("arctan2", "atan2(self, other), the angle of (other, self); derivatives other/r², -self/r².")
    logaddexp = _binary_method("logaddexp", "ln(e^self + e^other), stable; derivatives σ(self - other), σ(other - self).")
    logaddexp2 = _binary_method("logaddexp2", "log₂(2^self + 2^other), stable.")
    _leaky_relu = _binary_method("leaky_relu", "")
    _elu = _binary_method("elu", "")

    def leaky_relu(self, slope: Value | float = 0.01) -> Value:
        """x for x > 0, else slope·x; derivative 1 or slope. A Value slope is learnt too (PReLU)."""
        return self._leaky_relu(slope)

    def elu(self, alpha: Value | float = 1.0) -> Value:
        """x for x > 0, else alpha·(e^x - 1); derivative 1, or alpha·e^x for x ≤ 0."""
        return self._elu(alpha)

    def __pos__(self) -> Value:
        return self

    # --- reverse mode ----------------------------------------------------------------

    # --- DeZero's names, for code written against DeZero (docs/autograd.md) -------------

    @property
    def name(self) -> str:
        """DeZero's name for :attr:`label` (the same attribute; setting None clears it)."""
        return self.label

    @name.setter
    def name(self, value: str | None) -> None:
        if value is None:
            value = ""
        if value.__class__ is not str:
            raise TypeError(f"Value.name must be a str or None; got {type(value).__name__} {value!r:.60}")
        self.label = value

    def cleargrad(self) -> None:
        """DeZero's ``cleargrad()``: forget this node's gradient (``.grad`` becomes None, as in
        DeZero). The next :meth:`backward` stores its gradient here as a Value, as DeZero does,
        so that ``x.grad.data`` reads it; leaves never cleared keep float gradients."""
        global _cleared_any
        _cleared_any = True
        self.grad = None  # type: ignore[assignment]

    def backward(self, grad: float = 1.0, create_graph: bool = False, *, retain_grad: bool = True) -> None:
        """Apply the chain rule from this node back to every node it depends on.

        Gradient lifetime follows PyTorch: leaves (nodes made by ``Value(...)`` or
        under :func:`no_grad`) accumulate into ``.grad`` across calls; every
        intermediate node gets a fresh gradient on each call, so after a call each
        node's ``.grad`` holds d(self)/d(node) from that call alone, ready to be
        drawn. With y = x·x and z = y·y at x = 2, two ``z.backward()`` calls leave
        ``x.grad == 64``.

        The walk is iterative: a chain of a million nodes needs no recursion limit.
        It keeps its bookkeeping to itself, so ``.grad`` holds a float at every
        moment, an interrupt leaves no mark behind, and threads may run backward
        over graphs that share nodes (their gradients then race, as in PyTorch).

        With ``create_graph=True`` (DeZero's and PyTorch's name) the rules run on Values,
        as in :func:`autograd.grad`: every ``.grad`` it writes is a Value in a graph of its
        own, which can be differentiated again (``x.grad.backward()``), drawn and used in
        arithmetic. A leaf that already holds a gradient gets the sum, as a node.

        Args:
            grad: the seed d(loss)/d(self), 1.0 by default.
            create_graph: store Values, differentiable again, instead of floats.
            retain_grad: DeZero's; accepted for code written against DeZero. gradtrace keeps
                every node's gradient either way (DeZero keeps only the leaves' unless True).
        """
        if create_graph:
            from .functional import backward_with_graph  # reverse mode on Values lives there

            backward_with_graph(self, grad)
            return
        seed = _number(grad, "backward(grad=...)", "an int, float or NumPy real scalar")
        order = _post_order(self, reset=True)  # intermediate gradients start afresh
        cleared = _cleared_leaves(self, order) if _cleared_any else ()
        if not order:  # a leaf: nothing to propagate
            self.grad += seed
        else:
            self.grad = seed
            order.reverse()
            _apply_rules(order, _mode.state & _ANOMALY)
        for leaf in cleared:  # after cleargrad(): a Value, as DeZero's Variable.grad
            leaf.grad = Value(leaf.grad)


# Set once cleargrad() is called anywhere: from then on backward() looks for leaves whose
# .grad is None (DeZero's cleared gradient); until then it pays nothing for them.
_cleared_any = False


def _cleared_leaves(root: Value, order: Sequence[Value]) -> list[Value]:
    """The leaves below root (root too) whose ``.grad`` is None, set to 0.0 for backward to add into."""
    found = [root] if root._rule is None and root.grad is None else []
    seen = set(found)
    for node in order:
        for a in node._args:
            if a.__class__ is Value and a._rule is None and a.grad is None and a not in seen:
                seen.add(a)
                found.append(a)
    for leaf in found:
        leaf.grad = 0.0
    return found


def _apply_rules(nodes: Sequence[Value], check: int) -> None:
    """For each node in turn, add its local derivatives times its ``grad`` into its
    operands' ``grad``: one step of the chain rule per node (micrograd's ``_backward``)."""
    for node in nodes:
        op: Op = node._rule  # type: ignore[assignment]  # only non-leaf nodes come here
        arity = op.arity
        args = node._args
        if arity == 2:
            a, b = args
            a_is_node = a.__class__ is Value
            b_is_node = b.__class__ is Value
            ga, gb = op.backward(node.grad, node.data, a.data if a_is_node else a, b.data if b_is_node else b)
            if a_is_node:
                a.grad += ga
            if b_is_node:
                b.grad += gb
        elif arity == 1:
            x = args[0]
            x.grad += op.backward(node.grad, node.data, x.data)
        elif op.accumulate is not None:
            op.accumulate(node.grad, args)
        else:
            values = [a.data if a.__class__ is Value else a for a in args]
            for a, ga in zip(args, op.backward(node.grad, node.data, values)):
                if a.__class__ is Value:
                    a.grad += ga
        if check:
            _check_gradients(node)


def _post_order(root: Value, reset: bool = False) -> list[Value]:
    """Every non-leaf node that root depends on, each after its operands.

    Depth-first with an explicit stack: a node is pushed, then a None marker, then
    its operands; when the marker comes back off the stack, all the node's operands
    are done. Leaves are skipped: they have no rule to apply. The visited set is
    the walk's own, so concurrent walks and interrupts cannot disturb the graph.
    With ``reset``, each node's ``grad`` is set to 0.0 as it is listed (backward's
    fresh start, without a second loop over the nodes).
    """
    order: list[Value] = []
    if root._rule is None:
        return order
    seen: set[Value] = set()
    mark = seen.add
    stack: list[Value | None] = [root]
    push, pop, emit = stack.append, stack.pop, order.append
    while stack:
        node = pop()
        if node is None:
            node = pop()
            emit(node)  # type: ignore[arg-type]
            if reset:
                node.grad = 0.0  # type: ignore[union-attr]
            continue
        if node in seen:
            continue
        mark(node)
        push(node)
        push(None)
        for a in node._args:
            if a.__class__ is Value and a._rule is not None and a not in seen:
                push(a)
    return order


def _compared(other: object) -> float | int | None:
    """The number a comparison reads from ``other``, or None where it is not a number."""
    cls = other.__class__
    if cls is Value:
        return other.data  # type: ignore[attr-defined]
    if cls is float or cls is int:
        return other  # type: ignore[return-value]
    try:
        return _number(other, "")
    except (TypeError, ValueError):
        return None


def _qualify_generated_methods() -> None:
    """Give the table-generated methods their real names (``Value.tanh``), so that
    pickle finds them by name: nn layers keep an activation such as ``Value.tanh``."""
    for name, attr in vars(Value).items():
        if getattr(attr, "__qualname__", "").startswith(("_unary_method.", "_binary_method.")):
            attr.__name__ = name
            attr.__qualname__ = f"Value.{name}"


_qualify_generated_methods()


# --- pickling whole graphs without recursion ----------------------------------------------


def _leaf(data: float, grad: float, label: str) -> Value:
    """A leaf with these fields (pickle's constructor for leaves)."""
    out = _new(Value)
    out.data, out.grad, out.label, out._rule, out._args = data, grad, label, None, ()
    return out


def _flatten_graph(root: Value) -> list[tuple]:
    """root's non-leaf nodes, operands first, as (data, grad, label, op, operands, params).

    The op is its name, or for an op of your own (name, fingerprint): a graph is rebuilt
    only with the rules it was made with. An operand that is an earlier node of the list
    is written as its index (an int; operands are otherwise Values or floats); leaves stay
    Values, so that pickle keeps their identity, shared with a model's parameters.
    """
    order = _post_order(root)
    index = {node: i for i, node in enumerate(order)}
    flat = []
    for node in order:
        op: Op = node._rule  # type: ignore[assignment]
        n_args = len(node._args) - op.n_params
        operands = tuple(index.get(a, a) if a.__class__ is Value else a for a in node._args[:n_args])
        which = (op.name, op.fingerprint) if op.fingerprint else op.name
        flat.append((node.data, node.grad, node.label, which, operands, node._args[n_args:]))
    return flat


def _rebuild_graph(flat: list[tuple]) -> Value:
    """The graph :func:`_flatten_graph` wrote, rebuilt in one loop; returns its root."""
    nodes: list[Value] = []
    rules: dict[object, Op] = {}
    for data, grad, label, which, operands, params in flat:
        rule = rules.get(which)
        if rule is None:
            rule = rules[which] = _rule_for(which)
        node = _new(Value)
        node.data, node.grad, node.label, node._rule = data, grad, label, rule
        node._args = tuple(nodes[a] if a.__class__ is int else a for a in operands) + tuple(params)
        nodes.append(node)
    return nodes[-1]


def _rule_for(which: str | tuple[str, tuple]) -> Op:
    """The op a pickled node names: a built-in by its name, an op of your own by its name and
    fingerprint; else a ValueError that names the op."""
    name, fingerprint = which if which.__class__ is tuple else (which, ())
    rule = OPS.get(name)  # type: ignore[call-overload]
    if rule is None:
        raise ValueError(f"cannot rebuild a graph node made by op {name!r}: no such op in autograd.OPS")
    if rule.fingerprint != fingerprint:
        raise ValueError(
            f"cannot rebuild a graph node made by op {name!r}: the graph was made with "
            f"{_rules_described(fingerprint)}, but autograd.OPS[{name!r}] now holds {_rules_described(rule.fingerprint)}; "
            "register the op as it was when the graph was pickled"
        )
    return rule


def _rules_described(fingerprint: tuple) -> str:
    if not fingerprint:
        return "the built-in op"
    (f_name, f_module, f_hash), (b_name, b_module, b_hash) = fingerprint
    return f"forward {f_module}.{f_name} (code {f_hash}) and derivative {b_module}.{b_name} (code {b_hash})"


# --- building nodes ----------------------------------------------------------------------


def apply_variadic(op: Op, operands: Sequence[Value | float], params: tuple = ()) -> Value:
    """Make one node of a variadic op over ``operands`` (Values or numbers)."""
    if op.arity != VARIADIC:
        raise ValueError(f"{op.name} is not a variadic op")
    args = tuple(operands)
    try:
        # One pass for the usual operands, Values and floats: a neuron's dot node has
        # dozens of them. Any other operand (an int, a NumPy scalar, a bad type) stops
        # it, and the operands are converted one by one instead.
        values = [a.data if a.__class__ is Value else a if a.__class__ is float else _not_a_float() for a in args]
    except _NotAFloat:
        args = tuple(a if a.__class__ is Value else _number(a, op.name) for a in args)
        values = [a.data if a.__class__ is Value else a for a in args]
    if params:
        return _make_node(op, op.forward(values + list(params)), args + tuple(params))
    # _make_node's lines, inlined: a neuron's dot node passes here once per sample
    out = _new(Value)
    out.data = op.forward(values)
    out.grad = 0.0
    out.label = ""
    if _modes_in_use and _mode.state:
        _record_unusual(out, op, args)
    else:
        out._rule = op
        out._args = args
    return out


class _NotAFloat(Exception):
    """An operand is neither a Value nor a float: apply_variadic converts each operand."""


def _not_a_float() -> float:
    raise _NotAFloat


def apply_binary(op: Op, a: Value | float, b: Value | float) -> Value:
    """Make one node of a binary op over ``a`` and ``b`` (Values or numbers)."""
    args = (a if a.__class__ is Value else _number(a, op.name), b if b.__class__ is Value else _number(b, op.name))
    return _make_node(op, op.forward(*(x.data if x.__class__ is Value else x for x in args)), args)


def _make_node(op: Op, data: float, args: tuple) -> Value:
    """A new node holding ``data``, made by ``op`` from ``args``.

    The unary and binary methods inline these lines: they run once per scalar op,
    and the extra call would cost about a tenth of their time.
    """
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    if _modes_in_use and _mode.state:
        _record_unusual(out, op, args)
    else:
        out._rule = op
        out._args = args
    return out


def _record_unusual(out: Value, op: Op, args: tuple) -> None:
    """Finish a node under no_grad and/or detect_anomaly."""
    state = _mode.state
    if state & _NO_GRAD:
        out._rule = None
        out._args = ()
    else:
        out._rule = op
        out._args = args
    if state & _ANOMALY and not math.isfinite(out.data):
        raise FloatingPointError(
            f"detect_anomaly: {op.name} gave {out.data} from operands {_describe(args)}"
        )
    if state & _OBSERVED and out._rule is not None:
        _mode.observer(out, op, args)  # type: ignore[misc]


def _check_gradients(node: Value) -> None:
    for a in node.parents:
        if not math.isfinite(a.grad):
            raise FloatingPointError(
                f"detect_anomaly: the backward of {node.op} (result {node.data!r}, "
                f"gradient {node.grad!r}) gave {a.grad} to an operand; operands {_describe(node._args)}"
            )


def _describe(args: tuple) -> str:
    return "(" + ", ".join(repr(a) for a in args) + ")"


# --- modes -------------------------------------------------------------------------------


@contextmanager
def _mode_bit(bit: int) -> Iterator[None]:
    global _modes_in_use
    previous = _mode.state
    with _modes_lock:
        _modes_in_use += 1
    _mode.state = previous | bit
    try:
        yield
    finally:
        _mode.state = previous
        with _modes_lock:
            _modes_in_use -= 1


@contextmanager
def observe_nodes(observer: Callable[[Value, Op, tuple], None]) -> Iterator[None]:
    """Within the block, in this thread, call ``observer(node, op, args)`` for each node
    an op makes (not under no_grad). Forward mode (``autograd.jvp``) computes each
    node's tangent this way, as the node is made; the usual path pays nothing for it."""
    previous = _mode.observer
    _mode.observer = observer
    try:
        with _mode_bit(_OBSERVED):
            yield
    finally:
        _mode.observer = previous


def no_grad() -> AbstractContextManager[None]:
    """Context manager (also a decorator): results made inside record no parents.

    The setting is per thread. Nodes made inside are leaves: they keep their value
    and accumulate gradient like any leaf if used later.
    """
    return _mode_bit(_NO_GRAD)


def detect_anomaly() -> AbstractContextManager[None]:
    """Context manager (also a decorator): raise FloatingPointError at the first
    op whose result, or whose gradient in backward, is not finite, naming the op
    and its operands. Per thread; slower, for debugging."""
    return _mode_bit(_ANOMALY)


def is_grad_enabled() -> bool:
    """Whether ops in this thread record the graph (False inside no_grad)."""
    return not _mode.state & _NO_GRAD
