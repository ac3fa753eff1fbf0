"""``autograd.compile``: trace one sample's scalar graph, replay it over a whole batch with NumPy.

A function written for one sample (``lambda x, t: nn.cross_entropy(model(x), t)``) is
run once on one sample with every read of a number seen, and its graph recorded (the
*tape*); the tape is then replayed over a batch with the op table's array rules
(:mod:`autograd.arrays`): every node becomes a column of a ``(batch, k)`` array, and
nodes are run in groups:

* a layer's dot nodes that read the same inputs in the same order are one matrix
  product, ``X @ W.T + b``: the lectures' "MLP in matrix form", found by the trace;
* the other nodes of one op at one depth are one call of the op's array rule;
* nodes that depend on the parameters alone (a penalty ``1e-4·Σp²``) are computed
  once per batch, as one row that the batch shares.

The pipeline runs one way: the batched arguments (:mod:`.batch`) → one sample's trace
(:mod:`.trace`) → a tape (:mod:`.tape`) → the replay of a batch by branch pattern
(:mod:`.replay`). Numbers fn computes in Python from the data, the parameters or the
closure are replayed per sample or refused (:class:`CompileError`, naming fn's line);
comparisons are replayed as guards, and each sample is replayed by the tape of its
own branch pattern, traced the first time a sample takes it.

>>> import numpy as np
>>> from autograd import Value
>>> w, b = Value(2.0), Value(0.5)
>>> step = compile(lambda x, t: (w * x[0] + b - t) ** 2, [w, b])
>>> X, t = np.array([[1.0], [2.0]]), np.array([3.0, 4.0])
>>> step(X, t).tolist()  # (2·1 + 0.5 - 3)², (2·2 + 0.5 - 4)²
[0.25, 0.25]
>>> step.backward(X, t)  # the mean loss; adds the batch-mean gradient into .grad
0.25
>>> w.grad, b.grad  # mean of 2(wx + b - t)·x and of 2(wx + b - t)
(0.5, 0.0)
"""

from __future__ import annotations

import collections
import itertools
import math
import operator
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import floats
from ..engine import Value
from ..functional import grad as _grad
from .batch import Batch, CompileError
from .replay import MAX_PATTERNS, Patterns, Run
from .tape import Group, Tape
from .training import Training, held_elsewhere

__all__ = ["MAX_PATTERNS", "CompileError", "CompiledStep", "Group", "Training", "compile"]

REDUCTIONS = ("mean", "sum")
BACKENDS = ("numpy", "jax")

_grad_of = operator.attrgetter("grad")


def compile(  # noqa: A001
    fn: Callable[..., Any], params: Sequence[Value], reduction: str = "mean", backend: str = "numpy"
) -> CompiledStep:
    """Compile ``fn``, written for one sample, to run over whole batches.

    ``fn`` takes one sample's arguments and returns a Value (say, its loss), a list of
    Values (several results per sample), or a pair ``(result, extra)``: ``extra``, a
    Value or a list of them (say, the model's outputs), is replayed alongside and left
    in ``step.extra``, but not differentiated.

    The batched arguments of the returned step are arrays of one length, sliced per
    sample: a 2-D array gives ``fn`` each row as a list of Values; a 1-D array of
    integers gives an int (a class index, a ±1 label); a 1-D array of floats gives a
    Value. ``params`` are the leaves every sample shares (a model's parameters); other
    Values that ``fn`` reads are constants, read afresh at every call (their ``.data``).

    The graph is traced at the first call (or :meth:`CompiledStep.trace`), and again for
    each new branch pattern a sample takes. ``step(...)`` gives the per-sample results as
    an array; ``step.backward(...)`` returns their mean (``reduction="sum"``: their sum)
    and adds its gradient into each parameter's ``.grad``. One step may be called from
    several threads at once.

    ``backend="jax"`` runs a traced tape as one ``jax.jit`` program (float64), its forward
    and backward one XLA computation, with the NumPy backend's API and numbers (needs
    ``pip install 'gradtrace[jax]'``; see :mod:`autograd.compiler.jaxstep`).
    """
    return CompiledStep(fn, params, reduction, backend)


class CompiledStep:
    """A traced function replayed over batches: see :func:`compile`.

    Attributes:
        params: the parameters, in the order given.
        reduction: "mean" or "sum".
        graph: the first traced sample's result (a Value, drawable with ``viz.draw_dot``).
        groups: the first tape's :class:`Group` list, in the order it runs them.
        patterns: how many branch patterns have been traced (one tape each).
        extra: after a call in this thread, the replayed ``extra`` outputs ((batch,) or (batch, k)), or None.
        trace_seconds, compile_seconds: how long the first tracing and building its tape took.
    """

    def __init__(
        self, fn: Callable[..., Any], params: Sequence[Value], reduction: str = "mean", backend: str = "numpy"
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"compile(): unknown backend {backend!r}; accepted: {', '.join(map(repr, BACKENDS))}")
        if backend == "jax":
            from .jaxstep import load

            load()  # an ImportError naming the extra, now rather than at the first call
        if not callable(fn):
            raise TypeError(f"compile() takes a function of one sample; got {type(fn).__name__} {fn!r:.60}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"compile(): unknown reduction {reduction!r}; accepted: {', '.join(REDUCTIONS)}")
        if isinstance(params, (Value, str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(f"compile() takes a list of parameter Values (model.parameters()); got {type(params).__name__}")
        params = list(params)
        for i, p in enumerate(params):
            if p.__class__ is not Value:
                raise TypeError(f"compile(): parameter {i} must be a Value; got {type(p).__name__} {p!r:.60}")
            if p._rule is not None:
                raise ValueError(
                    f"compile(): parameter {i} is not a leaf: it was made by {p.op} ({p!r:.80}); "
                    "parameters are leaves every sample shares, such as model.parameters()"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError("compile(): a parameter appears more than once in the list")
        self.fn = fn
        self.params = params
        self.reduction = reduction
        self.trace_seconds = math.nan
        self.compile_seconds = math.nan
        self._patterns = Patterns(fn, params)
        self._local = threading.local()
        self._training: Training | None = None  # the open step.training block, if any
        self._ids: frozenset[int] | None = None  # id() of each parameter, made when another block is open
        self.backend = backend
        self._jax: Any = None  # the first tape's JaxRunner, once made

    def __repr__(self) -> str:
        state = f"{self.patterns} branch pattern(s), {len(self.groups)} groups" if self.patterns else "not traced yet"
        return f"<CompiledStep of {getattr(self.fn, '__name__', 'fn')}: {len(self.params)} parameters, {state}>"

    @property
    def patterns(self) -> int:
        return len(self._patterns.tapes)

    @property
    def graph(self) -> Value | None:
        traces = self._patterns.traces
        return traces[0].result_nodes[0] if traces and traces[0].result_nodes else None

    @property
    def groups(self) -> list[Group]:
        tapes = self._patterns.tapes
        return [unit.group for unit in tapes[0].units] if tapes else []

    @property
    def code(self) -> str:
        """The source of a standalone module that imports only NumPy (and math) and computes
        this step: ``forward(theta, *batches)`` (the per-sample results) and
        ``loss_and_grad(theta, *batches)`` (the loss and its gradient, shaped like ``theta``,
        the parameters' values in the order given to compile). Written from the tapes traced
        so far: trace first. Raises :class:`CompileError` naming what cannot be written as
        NumPy. See :mod:`autograd.compiler.export`."""
        from .export import module_source  # one way: the exporter reads tapes, nothing here needs it

        with self._patterns.lock:
            return module_source(self)

    def to_torch(self) -> Any:
        """A ``torch.nn.Module`` computing this step: ``module(*batches)`` gives the per-sample
        results as a float64 tensor, and PyTorch's autograd their gradients. Its parameters
        hold the parameters' values (copied), and ``parameters_to_vector(module.parameters())``
        is theta in the order given to compile: a layer stored as nn's neurons are is one
        ``(out, in + 1)`` parameter, the rest 1-D runs. Written from the one traced branch
        pattern (trace first); needs PyTorch (``pip install 'gradtrace[torch]'``). Raises
        :class:`CompileError` naming what has no PyTorch form. The module's source is its
        ``code`` attribute. See :mod:`autograd.compiler.frameworks`."""
        from .frameworks import torch_module  # one way: imports PyTorch only here

        with self._patterns.lock:
            return torch_module(self)

    @property
    def extra(self) -> np.ndarray | None:
        return getattr(self._local, "extra", None)

    @extra.setter
    def extra(self, value: np.ndarray | None) -> None:
        self._local.extra = value

    # --- public calls ------------------------------------------------------------------

    def trace(self, *batches: Any) -> CompiledStep:
        """Trace ``fn`` on this batch: the first sample, then every branch pattern the
        batch's samples take (the first call does this by itself). Raises
        :class:`CompileError` when the graph cannot be replayed."""
        self._runs(batches)
        return self

    def retrace(self) -> CompiledStep:
        """Forget every tape: the next call traces ``fn`` afresh. Needed when ``fn`` now
        reads other Values than when it was traced (a model whose parameters were
        replaced by new Values: pass the new ones with a new ``compile``)."""
        with self._patterns.lock:
            self._patterns = Patterns(self.fn, self.params)
        return self

    def training(self, *optimizers: Any) -> Training:
        """A block in which the parameters live in two flat arrays: the fast path of training.

        ``with step.training(opt):`` reads every parameter's ``.data`` and ``.grad`` once into
        ``theta`` and ``grad`` (1-D float64, in the order of ``step.params``); inside it the
        step replays from ``theta`` and adds its gradient into ``grad`` in one NumPy call, and
        the optimizers given (``nn.SGD``, ``nn.Adam``) step and ``zero_grad`` on slices of the
        arrays: no Python work per parameter. The numbers are those of the same loop without
        the block, to the bit. The Values are written back when the block ends (however it
        ends), at ``training.sync()``, and during ``with training.paused():``, where they are
        the truth again (a hand-written update goes there). See :mod:`autograd.compiler.training`.

        >>> import numpy as np
        >>> from autograd import Value
        >>> w = Value(2.0)
        >>> step = compile(lambda x, t: (w * x[0] - t) ** 2, [w])
        >>> X, t = np.array([[1.0], [2.0]]), np.array([1.0, 2.0])
        >>> with step.training() as training:
        ...     for _ in range(3):
        ...         training.grad[:] = 0.0
        ...         loss = step.backward(X, t)
        ...         training.theta -= 0.1 * training.grad
        >>> round(w.data, 6)  # written back when the block ended: w - 1 halves at each step (the gradient is 5(w - 1))
        1.125
        """
        if self._training is not None and self._training._entered:
            raise RuntimeError("step.training(): this step is already inside a step.training block; end that one first")
        training = Training(self, self.params, optimizers)
        self._training = training
        return training

    def _arrays(self, writes: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """(theta, grad) when this step's open training block holds the parameters, else None.

        When another step's open block holds some of them (``model.predict`` inside a block,
        say), its arrays are written into the Values first, so that this step reads the
        current numbers; a gradient (``writes``) would go into ``.grad`` behind that block's
        back, so it is refused."""
        training = self._training
        arrays = None if training is None else training.arrays()
        if arrays is None:
            if self._ids is None:
                self._ids = frozenset(map(id, self.params))
            other = held_elsewhere(self, self._ids)
            if other is not None:
                if writes:
                    raise RuntimeError(
                        "step.backward(): some of this step's parameters are held in arrays by another step's open "
                        "step.training block; their gradients would be lost. Call it after that block, or inside "
                        "its paused()"
                    )
                other.sync()
        return arrays

    def _on_jax(self, batches: tuple[Any, ...], seed: float | None) -> tuple[np.ndarray, np.ndarray | None, Batch] | None:
        """The call run by JAX: (results, gradient, batch), or None where the NumPy backend runs it."""
        if self.backend != "jax":
            return None
        if not self.patterns:
            self.trace(*batches)  # every pattern of this batch: JAX runs the call where there is one
        if self.patterns != 1:
            return None
        patterns = self._patterns
        tape = patterns.tapes[0]
        args = Batch.of(batches, patterns.kinds, patterns.widths)
        if args.shape_key != tape.shape:
            return None
        if self._jax is None or self._jax.tape is not tape:
            from .jaxstep import JaxRunner

            self._jax = JaxRunner(self, tape)
        if not self._jax.usable():
            return None
        arrays = self._arrays()
        theta = arrays[0] if arrays is not None else np.array([p.data for p in self.params], dtype=np.float64)
        if seed is not None:
            seed = 1.0 / args.size if self.reduction == "mean" else 1.0
        found = self._jax.run(theta, args, seed)
        return None if found is None else (found[0], found[1], args)

    def __call__(self, *batches: Any) -> np.ndarray:
        """The per-sample results: shape (batch,) for a Value, (batch, k) for a list of k.
        No gradient is computed or stored."""
        on_jax = self._on_jax(batches, None)
        if on_jax is not None:
            self.extra = None
            return on_jax[0]
        runs, args = self._runs(batches)
        tape = runs[0].tape
        self.extra = _gather(runs, "extra_refs", tape.extra_list, args.size) if tape.extra_refs else None
        return _gather(runs, "result_refs", tape.result_list, args.size)

    def backward(self, *batches: Any) -> float:
        """The mean (or sum) of the per-sample results, as a float; its gradient is added
        into each parameter's ``.grad``, as ``backward()`` on the eager batch loss would."""
        on_jax = self._on_jax(batches, 1.0)
        if on_jax is not None:
            results, grad, _ = on_jax
            if results.ndim != 1:
                raise TypeError("step.backward(): fn returned a list of Values; backward needs one Value per sample")
            self.extra = None
            arrays = self._arrays(writes=True)
            if grad is not None:
                if arrays is not None:
                    np.add(arrays[1], grad, out=arrays[1])
                else:
                    _add_grads(self.params, grad.tolist())
            return _reduce(results, self.reduction)
        arrays = self._arrays(writes=True)
        runs, args = self._runs(batches, arrays)
        tape = runs[0].tape
        if tape.result_list:
            raise TypeError("step.backward(): fn returned a list of Values; backward needs one Value per sample")
        results = _gather(runs, "result_refs", False, args.size)
        total = _reduce(results, self.reduction)
        seed = 1.0 / args.size if self.reduction == "mean" else 1.0
        grad: np.ndarray | None = None
        through: dict[int, tuple[Value, float]] = {}  # a closure's node -> its gradient, to pass on
        with np.errstate(all="ignore"):
            for run in runs:
                g, c = run.tape.backward(run.vals, run.saved, run.batch, seed)
                if g is not None:
                    grad = g if grad is None else grad + g
                if c is not None:
                    for j, node in run.tape.constant_nodes:
                        previous = through.get(id(node), (node, 0.0))[1]
                        through[id(node)] = (node, previous + float(c[j]))
        self.extra = _gather(runs, "extra_refs", tape.extra_list, args.size) if tape.extra_refs else None
        if through:
            nodes = [node for node, g in through.values() if g != 0.0]
            if nodes and arrays is not None:
                self._training.sync()  # type: ignore[union-attr] # eager backward reads the parameters' .data
            if nodes:
                passed = _grad(nodes, self.params, grad_outputs=[through[id(n)][1] for n in nodes])
                more = np.array([float(x) for x in passed])
                grad = more if grad is None else grad + more
        if grad is not None:
            if arrays is not None:
                np.add(arrays[1], grad, out=arrays[1])  # one C call: no Ctrl-C between two of its additions
            else:
                _add_grads(self.params, grad.tolist())
        return total

    # --- tracing and replaying -----------------------------------------------------------

    def _runs(self, batches: tuple[Any, ...], arrays: Any = False) -> tuple[list[Run], Batch]:
        """Every sample replayed; ``arrays``: the open training block's (theta, grad), None
        when the Values are the truth, False when not looked up yet."""
        if arrays is False:
            arrays = self._arrays()
        patterns = self._patterns
        args = Batch.of(batches, patterns.kinds, patterns.widths)
        # a trace runs fn on the Values: they get the arrays' numbers first
        before_trace = self._training.sync if arrays is not None else None  # type: ignore[union-attr]
        if not patterns.tapes:
            if before_trace is not None:
                before_trace()
            start = time.process_time()
            patterns.first(args)
            self.trace_seconds = time.process_time() - start
            self.compile_seconds = 0.0
        return patterns.forward(args, None if arrays is None else arrays[0], before_trace), args


def _gather(runs: list[Run], which: str, as_list: bool, size: int) -> np.ndarray:
    """The results (or extras) of every sample, from the runs that replayed them."""
    if len(runs) == 1 and runs[0].index is None:
        run = runs[0]
        return Tape.read(run.vals, getattr(run.tape, which), as_list, size)
    out: np.ndarray | None = None
    for run in runs:
        part = Tape.read(run.vals, getattr(run.tape, which), as_list, run.batch.size)
        if out is None:
            out = np.empty((size,) + part.shape[1:])
        if part.shape[1:] != out.shape[1:]:
            raise CompileError("compile(): fn returns a different number of results on different branches")
        out[run.index] = part
    return out  # type: ignore[return-value]


def _reduce(results: np.ndarray, reduction: str) -> float:
    """The eager mean (or sum) node's value: correctly rounded, and inf or nan where IEEE
    gives them (a mean over +inf and -inf is nan)."""
    return floats.mean(results.tolist()) if reduction == "mean" else floats.sum(results.tolist())


def _add_grads(params: list[Value], grads: list[float]) -> None:
    """Adds each gradient into its parameter's ``.grad``, all of them or (interrupted) none,
    and as one step for other threads (so that gradients from several threads add up).

    One C call (``map`` of ``setattr`` over the slots, fed by ``map`` of ``+`` over the
    ``.grad`` read and the gradient) reads, adds and stores them all. Python runs no
    bytecode inside it, so neither a KeyboardInterrupt (Ctrl-C's handler runs between
    bytecodes) nor another thread (the interpreter switches threads between bytecodes)
    comes between a read and its store: no lock, which a Ctrl-C could leave held.
    """
    added = map(operator.add, map(_grad_of, params), grads)
    collections.deque(map(setattr, params, itertools.repeat("grad"), added), maxlen=0)
