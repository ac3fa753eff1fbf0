"""``autograd.compile(fn, params, backend="jax")``: a tape's forward and backward as one XLA program.

The first tape's forward pass is written with ``jax.numpy`` (:func:`.frameworks.jax_source`)
and ``jax.jit`` compiles ``value_and_grad`` of the seeded sum of its results: one XLA
computation gives the per-sample results, the comparisons' outcomes and the gradient, in
float64 (x64 is switched on for these calls alone, with ``jax.enable_x64``; the user's
global setting is left as it is). The batch is checked as the NumPy backend checks it, and
a call runs on JAX only where that gives the NumPy backend's numbers for certain: every
sample takes the traced branch pattern, no sample raises (an index out of range, a
division by 0), and fn has no extras or closure nodes to pass a gradient through.
Otherwise the call is the NumPy backend's own (which traces a new pattern, or raises).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .batch import Batch
from .frameworks import jax_source
from .tape import Tape

__all__ = ["JaxRunner", "load"]

# the jitted programs by source: a step made again for the same model (a new compile of the
# same fn) reuses them and the executables XLA compiled for them, shape by shape
_PROGRAMS: dict[tuple[str, tuple[float, ...]], tuple[Any, Any]] = {}
_KEPT = 32
_LOCK = threading.Lock()


def _programs(jax: Any, jnp: Any, source: str, expected: np.ndarray) -> tuple[Any, Any]:
    namespace: dict[str, Any] = {"jax": jax, "jnp": jnp, "__name__": "gradtrace_jax"}
    exec(compile(source, '<gradtrace backend="jax">', "exec"), namespace)  # noqa: S102 - written from the tape
    forward = namespace["forward"]

    def checked(theta: Any, closure: Any, *columns: Any) -> Any:
        # one flag, read back once: every sample took the traced branches and none raises
        result, outcomes, problems = forward(theta, closure, *columns)
        size = columns[0].shape[0]
        fine = jnp.asarray(True)
        for o, want in zip(outcomes, expected.tolist()):
            fine = fine & jnp.all(jnp.broadcast_to(jnp.asarray(o, dtype=jnp.float64), (size,)) == want)
        for p in problems:
            fine = fine & ~jnp.asarray(p)
        return result, fine

    def seeded(theta: Any, seed: Any, closure: Any, *columns: Any) -> Any:
        result, fine = checked(theta, closure, *columns)
        # a result the batch shares (it depends on the parameters alone) is every sample's
        return seed * jnp.sum(jnp.broadcast_to(result, (columns[0].shape[0],))), (result, fine)

    return jax.jit(checked), jax.jit(jax.value_and_grad(seeded, has_aux=True))


def load() -> Any:
    try:
        import jax
    except ImportError:
        raise ImportError(
            'autograd.compile(..., backend="jax") needs JAX, an optional extra of gradtrace: '
            "pip install 'gradtrace[jax]' (or pip install jax)"
        ) from None
    return jax


class JaxRunner:
    """One tape's jitted forward (``forward``) and forward-and-gradient (``value_and_grad``)."""

    def __init__(self, step: Any, tape: Tape) -> None:
        jax = load()
        import jax.numpy as jnp

        self.tape = tape
        self.expected = np.array([float(o) for o in tape.outcomes], dtype=np.float64)
        self.source = jax_source(step, tape)
        self.jax = jax
        key = (self.source, tuple(self.expected.tolist()))
        with _LOCK:
            programs = _PROGRAMS.get(key)
            if programs is None:
                programs = _PROGRAMS[key] = _programs(jax, jnp, self.source, self.expected)
                while len(_PROGRAMS) > _KEPT:
                    _PROGRAMS.pop(next(iter(_PROGRAMS)))
        self.forward, self.value_and_grad = programs

    def usable(self) -> bool:
        tape = self.tape
        return not tape.extra_refs and not tape.constant_nodes

    def run(self, theta: np.ndarray, batch: Batch, seed: float | None) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(results, gradient or None), or None where the NumPy backend must run the call."""
        columns = batch.columns
        closure = np.array([c.data for c in self.tape.constants], dtype=np.float64)  # read afresh, as the replay does
        with self.jax.enable_x64(True):
            if seed is None:
                result, fine = self.forward(theta, closure, *columns)
                grad = None
            else:
                (_, (result, fine)), grad = self.value_and_grad(theta, np.float64(seed), closure, *columns)
            if not bool(fine):
                return None
            result = np.asarray(result, dtype=np.float64)
            if result.ndim == 1 and result.shape[0] != batch.size:
                result = np.repeat(result, batch.size)
            elif result.ndim == 2 and result.shape[0] != batch.size:
                result = np.broadcast_to(result, (batch.size, result.shape[1])).copy()
            return result, (None if grad is None else np.asarray(grad, dtype=np.float64))
