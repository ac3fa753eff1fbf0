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
# bit 2 set = detect_anomaly. One integer keeps the hot path to a single lookup.
_NO_GRAD = 1
_ANOMALY = 2


class _Mode(threading.local):
    def __init__(self) -> None:
        self.state = 0


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
    if isinstance(x, numbers.Real):  # int, bool, NumPy real scalars, Fraction
        try:
            return float(x)
        except OverflowError:
            raise ValueError(f"{where}: {x!r:.60} is too large for a float") from None
    raise TypeError(
        f"{where} accepts {accepted}; got {cls.__name__} {x!r:.60}"
    )


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
            out._op = op
            out._args = (self,)
        return out

    method.__doc__ = doc
    return method


def _binary_method(name: str, doc: str, reflected: bool = False) -> Callable[[Value, Value | float], Value]:
    """A method for a binary op; reflected methods (``2 - x``) put the number first."""
    op = OPS[name]
    forward = op.forward

    def method(self: Value, other: Value | float) -> Value:
        if other.__class__ is Value:
            other_data = other.data  # type: ignore[union-attr]
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
            out._op = op
            out._args = args
        return out

    method.__doc__ = doc
    return method


class Value:
    """A scalar in a computation graph: its value, its gradient and how it was made.

    ``Value(data, label="")`` makes a leaf. Arithmetic (``+ - * / **``, unary ``-``,
    ``abs()``) and the methods ``exp``, ``log``, ``sigmoid``, ``tanh``, ``relu``,
    ``leaky_relu``, ``elu``, ``softplus`` and ``step`` make new nodes that remember
    their operands, so that :meth:`backward` can apply the chain rule.

    Attributes:
        data: the value, a Python float.
        grad: d(root)/d(self) from the last :meth:`backward` call (0.0 at first).
        label: a name for drawings; free text.
        op: the name of the op that made this node ("" for leaves).
        parents: the operand Values (numbers used as operands are in ``operands``).
    """

    __slots__ = ("data", "grad", "label", "_op", "_args")

    # Tell NumPy to leave mixed arithmetic to Value: np.float64(2) * v then calls
    # v.__rmul__ instead of building an object array.
    __array_ufunc__ = None

    def __init__(self, data: float, label: str = "") -> None:
        self.data = _number(data, "Value()", "an int, float or NumPy real scalar")
        self.grad = 0.0
        if label.__class__ is not str:
            raise TypeError(f"Value() label must be a str; got {type(label).__name__} {label!r:.60}")
        self.label = label
        self._op: Op | None = None
        self._args: tuple = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        # the engine tells nodes from numbers by exact class, for speed
        raise TypeError("Value is not meant to be subclassed; wrap it instead")

    # --- the graph, read-only ---------------------------------------------------------

    @property
    def op(self) -> str:
        """Name of the op that made this node; "" for a leaf."""
        return "" if self._op is None else self._op.name

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operand Values, in operand order (a Value used twice appears twice)."""
        return tuple(a for a in self._args if a.__class__ is Value)

    @property
    def operands(self) -> tuple[Value | float, ...]:
        """All operands in order: Values and the plain numbers the op was given."""
        op = self._op
        if op is None or not op.n_params:
            return self._args
        return self._args[: -op.n_params]

    @property
    def params(self) -> tuple[float, ...]:
        """Non-differentiable parameters of the op (the output index of softmax)."""
        op = self._op
        return self._args[len(self._args) - op.n_params :] if op is not None and op.n_params else ()

    def __repr__(self) -> str:
        extra = f", label={self.label!r}" if self.label else ""
        if self._op is not None:
            extra += f", op={self._op.name!r}"
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    def __float__(self) -> float:
        return self.data

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
    _leaky_relu = _binary_method("leaky_relu", "")
    _elu = _binary_method("elu", "")

    def leaky_relu(self, slope: Value | float = 0.01) -> Value:
        """x for x > 0, else slope·x; derivative 1 or slope. A Value slope is learnt too (PReLU)."""
        return self._leaky_relu(slope)

    def elu(self, alpha: Value | float = 1.0) -> Value:
        """x for x > 0, else alpha·(e^x - 1); derivative 1, or y + alpha for x ≤ 0."""
        return self._elu(alpha)

    def __pos__(self) -> Value:
        return self

    # --- reverse mode ----------------------------------------------------------------

    def backward(self, grad: float = 1.0) -> None:
        """Apply the chain rule from this node back to every node it depends on.

        Gradient lifetime follows PyTorch: leaves (nodes made by ``Value(...)`` or
        under :func:`no_grad`) accumulate into ``.grad`` across calls; every
        intermediate node gets a fresh gradient on each call, so after a call each
        node's ``.grad`` holds d(self)/d(node) from that call alone, ready to be
        drawn. With y = x·x and z = y·y at x = 2, two ``z.backward()`` calls leave
        ``x.grad == 64``.

        The walk is iterative: a chain of a million nodes needs no recursion limit.

        Args:
            grad: the seed d(loss)/d(self), 1.0 by default.
        """
        seed = _number(grad, "backward(grad=...)", "an int, float or NumPy real scalar")
        order = _post_order(self)  # also resets every intermediate gradient to 0.0
        if not order:  # a leaf: nothing to propagate
            self.grad += seed
            return
        self.grad = seed
        check = _mode.state & _ANOMALY
        for node in reversed(order):
            op: Op = node._op  # type: ignore[assignment]  # only non-leaf nodes are in order
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


def _post_order(root: Value) -> list[Value]:
    """Every non-leaf node that root depends on, each after its operands.

    Depth-first with an explicit stack: a node is pushed, then a None marker, then
    its operands; when the marker comes back off the stack, all the node's operands
    are done. Leaves are skipped: they have no rule to apply. A visited node is
    marked by a sentinel in its ``grad`` slot (its gradient is about to be reset
    anyway), which is cheaper than a set of a million nodes; on return every
    visited node's ``grad`` is 0.0 again.
    """
    order: list[Value] = []
    if root._op is None:
        return order
    visited = _Visited()
    stack: list[Value | None] = [root]
    push, pop, emit = stack.append, stack.pop, order.append
    try:
        while stack:
            node = pop()
            if node is None:
                emit(pop())  # type: ignore[arg-type]
                continue
            if node.grad is visited:
                continue
            node.grad = visited  # type: ignore[assignment]
            push(node)
            push(None)
            for a in node._args:
                if a.__class__ is Value and a._op is not None and a.grad is not visited:
                    push(a)
    finally:  # also on KeyboardInterrupt or MemoryError: no sentinel may stay behind
        for node in order:
            node.grad = 0.0
        for node in stack:
            if node is not None and node.grad is visited:
                node.grad = 0.0
    return order


class _Visited:
    """A fresh sentinel per graph walk, so walks never mistake each other's marks."""

    __slots__ = ()


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
    return _make_node(op, op.forward(values), args)


class _NotAFloat(Exception):
    """An operand is neither a Value nor a float: apply_variadic converts each operand."""


def _not_a_float() -> float:
    raise _NotAFloat


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
        out._op = op
        out._args = args
    return out


def _record_unusual(out: Value, op: Op, args: tuple) -> None:
    """Finish a node under no_grad and/or detect_anomaly."""
    state = _mode.state
    if state & _NO_GRAD:
        out._op = None
        out._args = ()
    else:
        out._op = op
        out._args = args
    if state & _ANOMALY and not math.isfinite(out.data):
        raise FloatingPointError(
            f"detect_anomaly: {op.name} gave {out.data} from operands {_describe(args)}"
        )


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
