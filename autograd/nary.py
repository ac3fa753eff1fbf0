"""n-ary ops: each builds one graph node over many operands, not a chain of binary nodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .engine import Value, apply_variadic
from .ops import OPS

__all__ = ["dot", "log_softmax", "logsumexp", "maximum", "mean", "minimum", "prod", "softmax", "std", "sum", "var"]

Operand = Value | float
_DOT = OPS["dot"]


def _listed(values: Iterable[Operand], name: str, allow_empty: bool = False) -> Sequence[Operand]:
    """values as a list or tuple (never changed here), or a TypeError naming what was given."""
    if values.__class__ is list or values.__class__ is tuple:
        items = values  # the usual case; the abstract-class checks below cost more than dot's arithmetic
    elif isinstance(values, (Value, str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}() takes an iterable of Values or numbers; got {type(values).__name__}")
    else:
        items = list(values)
    if not items and not allow_empty:
        raise ValueError(f"{name}() needs at least one operand; got an empty sequence")
    return items


def sum(values: Iterable[Operand]) -> Value:  # noqa: A001 - the natural name, as numpy.sum
    """Σ values as one node (correctly rounded); each operand's derivative is 1."""
    return apply_variadic(OPS["sum"], _listed(values, "sum", allow_empty=True))


def mean(values: Iterable[Operand]) -> Value:
    """(Σ values) / n as one node; each operand's derivative is 1/n."""
    return apply_variadic(OPS["mean"], _listed(values, "mean"))


def dot(ws: Iterable[Operand], xs: Iterable[Operand], bias: Operand | None = None) -> Value:
    """Σ w_i·x_i (+ bias) as one node: a neuron's pre-activation.

    d/dw_i = x_i, d/dx_i = w_i, d/dbias = 1. ``xs`` may be numbers, Values or a NumPy row.
    """
    # lists and tuples, the usual case, skip _listed's checks: this runs once per neuron and sample
    w_list = ws if ws.__class__ is list or ws.__class__ is tuple else _listed(ws, "dot")
    x_list = xs if xs.__class__ is list or xs.__class__ is tuple else _listed(xs, "dot")
    if not w_list:
        _listed(w_list, "dot")  # the error for an empty sequence
    if len(w_list) != len(x_list):
        raise ValueError(f"dot() needs as many weights as inputs; got {len(w_list)} weights and {len(x_list)} inputs")
    operands = (*w_list, *x_list) if bias is None else (*w_list, *x_list, bias)
    return apply_variadic(_DOT, operands)


def logsumexp(values: Iterable[Operand]) -> Value:
    """log Σ e^x_i as one node, stable for any inputs; derivative softmax_i."""
    return apply_variadic(OPS["logsumexp"], _listed(values, "logsumexp"))


def softmax(values: Iterable[Operand]) -> list[Value]:
    """[e^x_i / Σ_j e^x_j], one node per output; dp_i/dx_j = p_i(δ_ij - p_j).

    Each output node recomputes the normaliser, O(n²) for n outputs: nothing for
    a handful of classes, and it keeps every node self-contained.
    """
    items = _listed(values, "softmax")
    return [apply_variadic(OPS["softmax"], items, (i,)) for i in range(len(items))]


def log_softmax(values: Iterable[Operand]) -> list[Value]:
    """[x_i - logsumexp(x)], stable, one node per output; d/dx_j = δ_ij - p_j."""
    items = _listed(values, "log_softmax")
    return [apply_variadic(OPS["log_softmax"], items, (i,)) for i in range(len(items))]


def maximum(values: Iterable[Operand]) -> Value:
    """max(values) as one node (maxout); nan wins, and the gradient goes to the operand that gave the
    result: the first nan, else the first maximal operand (as torch.max)."""
    return apply_variadic(OPS["maximum"], _listed(values, "maximum"))




def minimum(values: Iterable[Operand]) -> Value:
    """min(values) as one node; nan wins, and the gradient goes to the operand that gave the
    result: the first nan, else the first minimal operand (as torch.min)."""
    return apply_variadic(OPS["minimum"], _listed(values, "minimum"))


def prod(values: Iterable[Operand]) -> Value:
    """x_0·x_1·… as one node (left to right); d/dx_i is the product of the others, with no
    division, so it is right where some x_j is 0. The product of nothing is 1."""
    return apply_variadic(OPS["prod"], _listed(values, "prod", allow_empty=True))


def var(values: Iterable[Operand]) -> Value:
    """The population variance Σ(x_i - mean)² / n as one node, as numpy.var (ddof=0);
    d/dx_i = 2(x_i - mean)/n. For the sample variance (torch.var's default), multiply
    by n/(n - 1)."""
    return apply_variadic(OPS["var"], _listed(values, "var"))


def std(values: Iterable[Operand]) -> Value:
    """√var(values) as one node, as numpy.std (ddof=0); d/dx_i = (x_i - mean)/(n·std),
    and 0 where std is 0 (all values equal), as abs'(0) = 0."""
    return apply_variadic(OPS["std"], _listed(values, "std"))


# NumPy's and HIPS autograd's names. Not in __all__: a star import would hide the builtins
# min and max, which take several arguments where these take one iterable.
min = minimum  # noqa: A001
max = maximum  # noqa: A001
