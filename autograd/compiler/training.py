"""``step.training(...)``: a compiled step's parameters held in two flat arrays while it trains.

Outside a training block, a compiled step reads every parameter's ``.data`` at each
call and adds into every ``.grad``, and an optimizer reads and writes each Value: Python
work for every parameter, at every step. Inside ``with step.training(optimizer):`` the
parameters live in two 1-D float64 arrays, in the order given to ``autograd.compile``:

* ``theta``: the parameters' values (``theta[i]`` is ``step.params[i].data``);
* ``grad``: their gradients (``grad[i]`` is ``step.params[i].grad``).

The step replays from ``theta`` and adds its batch gradient into ``grad`` with one NumPy
call; optimizers that step on arrays (``nn.SGD``, ``nn.Adam``) update their slice of
``theta`` in place and ``zero_grad`` fills their slice of ``grad``. The numbers are the
ones the Values would hold, to the bit: each array operation is the scalar one, done
elementwise in the same order.

The Values are brought up to date (*synced*) where a user can look: when the block ends,
however it ends (an exception or Ctrl-C included), at :meth:`Training.sync`, and for the
length of a :meth:`Training.paused` block, in which the Values are the truth again (a
hand-written loop, reading, drawing) and are read back into the arrays at its end.
Between those points the Values hold the numbers of the last sync: read the arrays, or
call ``sync()``. A Value written inside the block (a hand loop, another optimizer) is
not seen by the step, and the next sync raises a RuntimeError that names it rather
than let the training's numbers replace it unnoticed.

A block belongs to the thread that opened it: a call of the step from another thread
while it is open raises a RuntimeError.
"""

from __future__ import annotations

import collections
import itertools
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

import numpy as np

from ..engine import Value

__all__ = ["Training", "held_elsewhere"]

_data_of = attrgetter("data")
_grad_of = attrgetter("grad")

# the blocks open now, in any thread: a parameter is held by one block at a time
_live: list[Training] = []
_live_lock = threading.Lock()


class Training:
    """A compiled step's parameters held in arrays while it trains: see :meth:`CompiledStep.training`.

    Attributes:
        params: the step's parameters, in the order given to ``autograd.compile``.
        theta: their values, a 1-D float64 array (live while the block is open).
        grad: their gradients, a 1-D float64 array (live while the block is open).
        optimizers: the optimizers that step on the arrays.
    """

    def __init__(self, step: Any, params: list[Value], optimizers: Sequence[Any]) -> None:
        self.step = step
        self.params = params
        n = len(params)
        self.theta = np.zeros(n)
        self.grad = np.zeros(n)
        self._written = (np.zeros(n), np.zeros(n))  # what the Values hold: as last read or written
        self._position = {id(p): i for i, p in enumerate(params)}
        self._ids = frozenset(self._position)
        self._open = False  # the arrays are the truth (not the Values)
        self._entered = False  # inside the block (open, or paused)
        self._thread: threading.Thread | None = None
        for k, opt in enumerate(optimizers):
            if not callable(getattr(opt, "use_arrays", None)) or not hasattr(opt, "params"):
                raise TypeError(
                    f"step.training(): optimizer {k} ({type(opt).__name__}) cannot step on arrays; pass optimizers "
                    "such as nn.SGD and nn.Adam (a hand-written update runs outside the block, or inside training.paused())"
                )
            missing = [i for i, p in enumerate(opt.params) if id(p) not in self._position]
            if missing:
                raise ValueError(
                    f"step.training(): parameter {missing[0]} of optimizer {k} ({type(opt).__name__}) is not among "
                    f"the step's {n} parameters; compile the step over every parameter the optimizer updates"
                )
        self.optimizers = list(optimizers)

    def __repr__(self) -> str:
        state = "open" if self._open else "paused" if self._entered else "closed"
        return f"<Training of {len(self.params)} parameters, {state}>"

    # --- what the step and the optimizers ask ---------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while the arrays hold the parameters (inside the block, not paused)."""
        return self._open

    def arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(theta, grad)`` while the block is open, in the thread that opened it; None when
        the Values are the truth. A RuntimeError from another thread while it is open."""
        if not self._open:
            return None
        if self._thread is not threading.current_thread():
            raise RuntimeError(
                f"this compiled step's parameters are held in arrays by step.training in thread "
                f"{self._thread.name if self._thread else '?'}; call the step and its optimizers from that thread, "
                "or after the block"
            )
        return self.theta, self.grad

    def positions(self, params: Sequence[Value]) -> slice | np.ndarray:
        """Where ``params`` sit in ``theta`` and ``grad``: a slice when they are consecutive, in
        order (a view, no copy), else an index array."""
        where = [self._position[id(p)] for p in params]
        if where and where == list(range(where[0], where[0] + len(where))):
            return slice(where[0], where[0] + len(where))
        return np.array(where, dtype=np.intp)

    # --- the block ------------------------------------------------------------------------

    def __enter__(self) -> Training:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Read the Values into the arrays and hold them there (``with`` does this). Opening an
        open block does nothing.

        In the main thread, a Ctrl-C while the block is open first writes the arrays into the
        Values (a handler of SIGINT that closes the block, then passes the signal on): so
        wherever it lands, inside the loop or on the first line of ``__exit__``, the Values
        get the numbers of the steps made."""
        try:
            with _interrupts_held():  # a Ctrl-C that came meanwhile is raised at its end: closed below
                if self._entered:
                    return
                with _live_lock:
                    for other in _live:
                        if not self._ids.isdisjoint(other._ids):
                            raise RuntimeError(
                                "step.training(): some of these parameters are already held in arrays by another "
                                "open step.training block; end that block first"
                            )
                    _live.append(self)
                self._entered = True
                self._thread = threading.current_thread()
                for opt in self.optimizers:
                    opt.use_arrays(self)
                self._pull()
            _ClosingHandler.install(self)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Write the arrays into the Values and let go of them (the end of the ``with`` block).
        Closing again does nothing."""
        with _interrupts_held():
            try:
                if self._open:
                    self._push()
            finally:
                self._open = False
                self._entered = False
                for opt in self.optimizers:
                    opt.use_arrays(None)
                with _live_lock:
                    if self in _live:
                        _live.remove(self)
        _ClosingHandler.uninstall(self)

    def sync(self) -> None:
        """Write the arrays' numbers into the Values now; the block stays open (a cost that
        grows with the number of parameters, as a step outside the block pays)."""
        if self.arrays() is not None:
            with _interrupts_held():
                self._push()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A block in which the Values are the truth: synced at its start, read back into the
        arrays at its end (when it ends without an exception). For code that reads or writes
        the parameters as Values: a hand-written update, drawing the graph, eager calls."""
        if self.arrays() is None:  # not open: nothing to pause
            yield
            return
        with _interrupts_held():
            self._push()
            self._open = False
        yield
        with _interrupts_held():
            if self._entered and not self._open:
                self._pull()

    # --- moving the numbers ---------------------------------------------------------------

    def _pull(self) -> None:
        """Values -> arrays; the arrays become the truth."""
        params, n = self.params, len(self.params)
        data = _read(params, _data_of, n, "value (.data)")
        grad = _read(params, _grad_of, n, "gradient (.grad)")
        self.theta[:] = data
        self.grad[:] = grad
        self._written = (data, grad)
        self._open = True

    def _push(self) -> None:
        """Arrays -> Values, after checking that no Value was written behind the arrays' back."""
        params, n = self.params, len(self.params)
        theta, grad = self.theta.copy(), self.grad.copy()
        conflict = _changed(params, _data_of, self._written[0], theta, "value (.data)")
        conflict = conflict or _changed(params, _grad_of, self._written[1], grad, "gradient (.grad)")
        # one C call writes every .data and .grad: no Ctrl-C and no other thread comes between
        collections.deque(
            map(setattr, itertools.chain(params, params), itertools.chain(itertools.repeat("data", n), itertools.repeat("grad", n)),
                itertools.chain(theta.tolist(), grad.tolist())),
            maxlen=0,
        )  # fmt: skip
        self._written = (theta, grad)
        if conflict:
            raise RuntimeError(
                f"step.training: {conflict} while the block held the parameters in "
                "arrays: the step and the optimizers did not see it, and the training's numbers replaced it. "
                "Inside the block, update the parameters with the optimizers given to step.training, or write "
                "them inside `with training.paused():`"
            )


_NUMBERS = frozenset((float, int, np.float64))


def _read(params: list[Value], attribute: attrgetter, n: int, what: str) -> np.ndarray:
    """Every parameter's .data (or .grad) as a float64 array; a TypeError naming the first that
    is not a plain number (None after cleargrad(), a Value after backward(create_graph=True))."""
    if set(map(type, map(attribute, params))) <= _NUMBERS:
        try:
            return np.fromiter(map(attribute, params), np.float64, n)
        except OverflowError:
            pass
    for i, p in enumerate(params):
        x = attribute(p)
        if type(x) not in _NUMBERS:
            raise TypeError(
                f"step.training(): parameter {i}'s {what} is {type(x).__name__} {x!r:.60}, not a number; "
                "set it to a number (opt.zero_grad() sets every gradient to 0.0)"
            )
        try:
            float(x)
        except OverflowError:
            raise OverflowError(f"step.training(): parameter {i}'s {what} is an integer too large for a float") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _changed(params: list[Value], attribute: attrgetter, written: np.ndarray, now: np.ndarray, what: str) -> str:
    """The first parameter whose Value holds neither what was last written into it nor the
    arrays' number (which it is about to get); "" when there is none."""
    try:
        current = np.fromiter(map(attribute, params), np.float64, len(params))
    except (TypeError, ValueError, OverflowError):
        for i, p in enumerate(params):
            x = attribute(p)
            if not isinstance(x, float):
                return f"parameter {i}'s {what} was set through the Value (to {type(x).__name__} {x!r:.40})"
        return f"a parameter's {what} was set through the Value"
    bits = current.view(np.int64)
    moved = (bits != written.view(np.int64)) & (bits != now.view(np.int64))
    if moved.any():
        i = int(moved.argmax())
        return (
            f"parameter {i}'s {what} was set through the Value (to {float(current[i])!r}, where the arrays hold "
            f"{float(now[i])!r})"
        )
    return ""


def held_elsewhere(step: Any, ids: frozenset[int]) -> Training | None:
    """An open block of another step that holds some of ``ids`` (a step's parameters) in its
    arrays, or None. Cheap when no block is open."""
    if not _live:
        return None
    for training in list(_live):
        if training.step is not step and training._open and not ids.isdisjoint(training._ids):
            return training
    return None


class _ClosingHandler:
    """The SIGINT handler while a block is open in the main thread: close the block (the
    Values get the arrays' numbers), then hand the signal to the handler it replaced."""

    def __init__(self, training: Training, replaced: Any) -> None:
        self.training, self.replaced = training, replaced

    def __call__(self, signum: int, frame: Any) -> None:
        self.training.close()
        self.replaced(signum, frame)

    @classmethod
    def install(cls, training: Training) -> None:
        if training._thread is not threading.main_thread() or threading.current_thread() is not threading.main_thread():
            return
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):  # SIG_IGN, SIG_DFL: nothing Python would run, nothing to chain
            signal.signal(signal.SIGINT, cls(training, handler))

    @classmethod
    def uninstall(cls, training: Training) -> None:
        """Give back the handler it replaced (past those of blocks closed meanwhile)."""
        if threading.current_thread() is not threading.main_thread():
            return
        handler = signal.getsignal(signal.SIGINT)
        if not isinstance(handler, cls):
            return
        restored = handler
        while isinstance(restored, cls) and not restored.training._entered:
            restored = restored.replaced
        if restored is not handler:
            signal.signal(signal.SIGINT, restored)


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block is done, then deliver it to its handler: the
    arrays and the Values change together or not at all. Only the main thread gets signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):
        yield
        return
    held: list[tuple[int, Any]] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
    if held:
        handler(*held[0])
