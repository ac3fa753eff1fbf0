"""Optimizers: SGD (with momentum and weight decay) and Adam, with PyTorch's update formulas.

Each takes the list of parameters (``model.parameters()``), reads their ``.grad``
in :meth:`step` and changes their ``.data``. ``lr`` is a plain attribute: change
it between steps for a schedule.

Inside ``with step.training(opt):`` (a compiled step's training block, which
``nn.fit`` opens), the parameters live in the step's flat arrays, and ``step`` and
``zero_grad`` work on the optimizer's slice of them with a few NumPy calls, whatever
the number of parameters: the same numbers, to the bit, as the loop over the Values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Value

__all__ = ["SGD", "Adam", "Optimizer"]


def _non_negative(x: object, what: str, who: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not x >= 0 or not math.isfinite(x):
        raise ValueError(f"{who}: {what} must be a finite number >= 0; got {x!r}")
    return float(x)


class Optimizer:
    """Base class: holds the parameters and clears their gradients.

    A subclass that overrides :meth:`step` or :meth:`zero_grad` works on the Values
    (``p.data``, ``p.grad``), and so does not step on a training block's arrays
    (:meth:`steps_on_arrays` is False): ``nn.fit`` then runs it on the Values.
    """

    _training: Any = None  # the open step.training block holding the parameters, if any
    _positions: slice | np.ndarray | None = None  # where they sit in its arrays

    def __init__(self, params: Iterable[Value], who: str) -> None:
        if isinstance(params, Value) or not isinstance(params, Iterable):
            raise TypeError(f"{who} takes a list of parameters (model.parameters()); got {type(params).__name__}")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{who} got an empty list of parameters")
        for i, p in enumerate(self.params):
            if p.__class__ is not Value:
                raise TypeError(f"{who}: parameter {i} must be a Value; got {type(p).__name__} {p!r:.60}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{who}: a parameter appears more than once in the list")

    @property
    def lr(self) -> float:
        """The learning rate; set it between steps for a schedule (checked like the constructor's)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _non_negative(value, "lr", type(self).__name__)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 before the next backward pass."""
        arrays = self._arrays()
        if arrays is not None:
            arrays[1][self._positions] = 0.0
            return
        for p in self.params:
            p.grad = 0.0

    def steps_on_arrays(self) -> bool:
        """Whether :meth:`step` and :meth:`zero_grad` can work on a training block's arrays:
        nn.SGD's and nn.Adam's own (a subclass that overrides either works on the Values)."""
        cls = type(self)
        return cls.zero_grad is Optimizer.zero_grad and cls.step in (SGD.step, Adam.step)

    def use_arrays(self, training: Any) -> None:
        """Called by ``step.training``: from now on the parameters live in ``training``'s arrays
        while it is open (None: in the Values again). Not for optimizers that work on the Values."""
        if training is None:
            self._training = self._positions = None
            return
        if not self.steps_on_arrays():
            raise TypeError(
                f"step.training(): {type(self).__name__} overrides step() or zero_grad(), which work on the parameter "
                "Values; it cannot step on the training block's arrays (run it outside the block)"
            )
        self._positions = training.positions(self.params)
        self._training = training

    def _arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(theta, grad) of the open training block that holds the parameters, or None."""
        training = self._training
        return None if training is None else training.arrays()

    def step(self) -> None:
        """Update every parameter from its gradient: all of them, or (on an error) none."""
        raise NotImplementedError

    def _step_failed(self, error: Exception) -> Exception:
        """The error to raise when a step could not be computed (nothing was changed)."""
        who = type(self).__name__
        for i, p in enumerate(self.params):
            for what, x in (("gradient", p.grad), ("value", p.data)):
                if isinstance(x, bool) or not isinstance(x, numbers.Real):
                    return TypeError(
                        f"{who}.step(): parameter {i}'s {what} is {type(x).__name__} {x!r:.60}, not a number; "
                        "nothing was updated"
                    )
                try:
                    float(x)
                except OverflowError:
                    return OverflowError(
                        f"{who}.step(): parameter {i}'s {what} is an integer too large for a float; nothing was updated"
                    )
        return error


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` (no dampening, no Nesterov).

    Per parameter p with gradient g:

    * weight decay: g ← g + weight_decay·p
    * momentum μ: b ← g at the first step, then b ← μ·b + g; g ← b
    * p ← p - lr·g
    """

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, "SGD")
        self.lr = lr
        self.momentum = _non_negative(momentum, "momentum", "SGD")
        self.weight_decay = _non_negative(weight_decay, "weight_decay", "SGD")
        self._buffers: list[float] | None = None  # momentum buffers, made at the first step
        self._scratch: np.ndarray | None = None  # the array path's buffer for lr·g

    def step(self) -> None:
        # every new value is computed before any is assigned: an error changes nothing
        params, lr, momentum, weight_decay = self.params, self.lr, self.momentum, self.weight_decay
        arrays = self._arrays()
        if arrays is not None:
            self._step_arrays(*arrays)
            return
        try:
            if not momentum and not weight_decay:  # plain gradient descent: the hot path
                updated = [p.data - lr * p.grad for p in params]
                buffers = None
            else:
                gradients = [p.grad + weight_decay * p.data if weight_decay else p.grad for p in params]
                if momentum:
                    old = self._buffers
                    if isinstance(old, np.ndarray):  # made on a training block's arrays
                        old = old.tolist()
                    gradients = buffers = gradients if old is None else [momentum * b + g for b, g in zip(old, gradients)]
                else:
                    buffers = None
                updated = [p.data - lr * g for p, g in zip(params, gradients)]
        except Exception as error:
            raise self._step_failed(error) from error
        if buffers is not None:
            self._buffers = buffers
        for p, value in zip(params, updated):
            p.data = value

    def _step_arrays(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """The step on a training block's arrays: the formulas above, elementwise, in the same order."""
        lr, momentum, weight_decay, at = self.lr, self.momentum, self.weight_decay, self._positions
        with np.errstate(all="ignore"):  # inf and nan propagate, as in float arithmetic
            g = grad[at]
            if weight_decay:
                g = g + weight_decay * theta[at]
            if momentum:
                old = self._buffers
                g = g.copy() if old is None else momentum * np.asarray(old) + g  # a copy: grad changes later
                self._buffers = g
            if at.__class__ is slice:
                view = theta[at]
                scratch = self._scratch
                if scratch is None or scratch.shape != view.shape:
                    scratch = self._scratch = np.empty(view.shape)
                np.subtract(view, np.multiply(g, lr, out=scratch), out=view)  # in place: p.data - lr·g
            else:
                theta[at] = theta[at] - lr * g

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr}, momentum={self.momentum}, weight_decay={self.weight_decay}; {len(self.params)} parameters)"


class Adam(Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam`` with amsgrad off.

    Per parameter p with gradient g, at step t = 1, 2, ...:

    * weight decay (L2): g ← g + weight_decay·p
    * m ← m + (1 - β1)(g - m);  v ← β2·v + (1 - β2)·g²
    * p ← p - lr/(1 - β1^t) · m / (√v / √(1 - β2^t) + eps)
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, "Adam")
        self.lr = lr
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2); got {betas!r}")
        for beta in betas:
            if _non_negative(beta, "each beta", "Adam") >= 1.0:
                raise ValueError(f"Adam: each beta must be in [0, 1); got betas={betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        # √v is 0 until a parameter gets a gradient: eps > 0 keeps m / (√v + eps) a number
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < math.inf:
            raise ValueError(f"Adam: eps must be a finite number > 0, such as the default 1e-8; got {eps!r}")
        self.eps = float(eps)
        self.weight_decay = _non_negative(weight_decay, "weight_decay", "Adam")
        self.t = 0
        self._m = np.zeros(len(self.params))  # the moments, one entry per parameter
        self._v = np.zeros(len(self.params))
        self._spare: tuple[np.ndarray, ...] | None = None  # the array path's buffers (see _step_arrays)

    def step(self) -> None:
        # every new value and moment is computed before any is assigned: an error changes nothing.
        # NumPy, elementwise in the same order as the scalar formulas (each operation correctly
        # rounded, so the same floats): 2.5x faster than a Python loop for 300 parameters and up
        t = self.t + 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1.0 - beta1**t)
        correction2_sqrt = math.sqrt(1.0 - beta2**t)
        weight = 1.0 - beta1
        eps, weight_decay, params = self.eps, self.weight_decay, self.params
        n = len(params)
        arrays = self._arrays()
        if arrays is not None:
            self._step_arrays(*arrays, t, step_size, correction2_sqrt, weight)
            return
        try:
            grads, values = [p.grad for p in params], [p.data for p in params]
            sum(grads, 0.0) + sum(values, 0.0)  # a TypeError or OverflowError for what float arithmetic refuses
            g, data = np.fromiter(grads, np.float64, n), np.fromiter(values, np.float64, n)
        except Exception as error:
            raise self._step_failed(error) from error
        m, v = self._m, self._v
        with np.errstate(all="ignore"):  # inf and nan propagate, as in float arithmetic
            if weight_decay:
                g = g + weight_decay * data
            # m.lerp_(g, 1 - β1), as PyTorch computes it for a weight below 0.5
            m = m + weight * (g - m) if weight < 0.5 else g - (g - m) * (1.0 - weight)
            v = v * beta2 + (1.0 - beta2) * g * g
            updated = (data + -step_size * (m / (np.sqrt(v) / correction2_sqrt + eps))).tolist()
        self.t, self._m, self._v = t, m, v
        for p, value in zip(params, updated):
            p.data = value

    def _step_arrays(
        self, theta: np.ndarray, grad: np.ndarray, t: int, step_size: float, correction2_sqrt: float, weight: float
    ) -> None:
        """The step on a training block's arrays: the formulas of :meth:`step`, operation by
        operation in the same order, written into buffers kept from step to step (no new
        arrays: at 100,000 parameters and more, making them cost as much as the arithmetic).
        The new moments go into spare buffers, swapped in when all is computed."""
        at, beta2, eps, weight_decay = self._positions, self.betas[1], self.eps, self.weight_decay
        g, data = grad[at], theta[at]  # views for consecutive parameters
        m, v = self._m, self._v
        spare = self._spare
        if spare is None or spare[0].shape != m.shape:
            spare = tuple(np.empty(m.shape) for _ in range(4))
        m_new, v_new, a, b = spare
        with np.errstate(all="ignore"):  # inf and nan propagate, as in float arithmetic
            if weight_decay:  # g + weight_decay·p
                g = np.add(g, np.multiply(data, weight_decay, out=a), out=a)
            np.subtract(g, m, out=b)
            if weight < 0.5:  # m + weight·(g - m)
                np.add(m, np.multiply(b, weight, out=b), out=m_new)
            else:  # g - (g - m)·(1 - weight)
                np.subtract(g, np.multiply(b, 1.0 - weight, out=b), out=m_new)
            # v·β2 + ((1 - β2)·g)·g
            np.add(np.multiply(v, beta2, out=v_new), np.multiply(np.multiply(g, 1.0 - beta2, out=b), g, out=b), out=v_new)
            # -step_size·(m / (√v / √(1 - β2^t) + eps))
            np.add(np.divide(np.sqrt(v_new, out=b), correction2_sqrt, out=b), eps, out=b)
            np.multiply(np.divide(m_new, b, out=b), -step_size, out=b)
        self.t, self._m, self._v, self._spare = t, m_new, v_new, (m, v, a, b)
        if at.__class__ is slice:
            np.add(data, b, out=data)  # in place on the view: p.data + change, one C call
        else:
            theta[at] = data + b

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}; {len(self.params)} parameters, step {self.t})"
