"""Check backward's gradients against central differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .engine import Value, _number, no_grad

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """backward's gradient and the central difference disagree for some input."""


def gradcheck(
    fn: Callable[..., Value],
    inputs: Sequence[Value | float],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> bool:
    """Compare the gradients of ``fn(*inputs)`` from backward with central differences.

    ``fn`` is called with fresh leaf Values holding the inputs' data (the inputs
    themselves, and their ``.grad``, are left alone) and must return a Value. For
    each input, the central difference (f(x + eps) - f(x - eps)) / 2eps must agree
    with backward's gradient: |analytic - numeric| <= atol + rtol·|numeric|.

    Returns:
        True when every input agrees.

    Raises:
        GradcheckError: naming the first input that disagrees, with both gradients.
    """
    points = [x.data if isinstance(x, Value) else _number(x, "gradcheck() inputs") for x in inputs]
    names = [x.label if isinstance(x, Value) and x.label else f"#{i}" for i, x in enumerate(inputs)]

    def evaluate(at: Sequence[float]) -> Value:
        out = fn(*(Value(p) for p in at))
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck(): fn must return a Value; got {type(out).__name__}")
        return out

    leaves = [Value(p) for p in points]
    out = fn(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck(): fn must return a Value; got {type(out).__name__}")
    out.backward()
    with no_grad():
        for i, (leaf, x) in enumerate(zip(leaves, points)):
            plus = evaluate([*points[:i], x + eps, *points[i + 1 :]]).data
            minus = evaluate([*points[:i], x - eps, *points[i + 1 :]]).data
            numeric = (plus - minus) / (2.0 * eps)
            if not abs(leaf.grad - numeric) <= atol + rtol * abs(numeric):
                raise GradcheckError(
                    f"gradcheck: input {names[i]} = {x!r}: backward gives {leaf.grad!r}, "
                    f"central differences give {numeric!r} (eps={eps}, atol={atol}, rtol={rtol})"
                )
    return True
