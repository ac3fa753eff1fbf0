"""explain: the chain rule written out with the graph's own numbers.

∂root/∂x is the sum, over every path from the root down to x, of the product of the local
derivatives along the path. For the lectures' apple-price graph:

>>> from autograd import Value
>>> apple, apple_num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
>>> price = apple * apple_num * tax
>>> price.label = "price"
>>> print(explain(price, apple))
∂price/∂apple = ∂price/∂(apple × apple_num) · ∂(apple × apple_num)/∂apple = 1.1 × 2 = 2.2

A node used twice (the lectures' copier) gets one path per use, and the paths add up:

>>> a = Value(3.0, label="a")
>>> y = a + a
>>> y.label = "y"
>>> print(explain(y, a))
∂y/∂a = 1 + 1 = 2

Local derivatives come from the op table (``autograd.OPS[node.op].backward`` with ``g = 1``);
the total is a reverse pass with the same rules, so it is the gradient ``backward()`` gives.
Nothing in the graph is changed: no ``grad`` is written. Paths are never enumerated when there
are many: their number and the largest contributions come from dynamic programming over the
graph (the k best paths into every node), so a parameter of an MLP with astronomically many
paths is summarised in time proportional to the graph's size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from autograd import OPS, Value

from ._chain import Chain, walk
from ._safe import latex_text as _latex_text
from .draw import _number_text as _shown_number
from .draw import _parameter_names

__all__ = ["Explanation", "Explanations", "Path", "explain"]

MAX_EXPRESSION = 32  # longer expressions name a node by its op and number instead (tanh₇)
ONE_LINE = 100  # a multi-path explanation that fits in this many characters stays on one line
LONG_PATH = 10  # a path of more steps shows its first and last LONG_PATH steps, with … between
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


# --- names: each node as text and as LaTeX ---------------------------------------------------


@dataclass(frozen=True)
class _Name:
    text: str
    latex: str
    atomic: bool  # needs no parentheses as an operand or after ∂


def _number_text(x: float, fmt: str) -> str:
    return _shown_number(x, fmt)  # never −0


def _number_latex(x: float, fmt: str) -> str:
    if math.isnan(x):
        return r"\mathrm{nan}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    text = _shown_number(x, fmt)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def _label_name(label: str) -> _Name:
    return _Name(label, _latex_text(label), atomic=True)


def _generated(kind: str, i: int) -> _Name:
    # kind is an op's name, which may be one of your own: text, never LaTeX
    return _Name(f"{kind}{str(i).translate(_SUBSCRIPTS)}", rf"{{{_latex_text(kind)}}}_{{{i}}}", atomic=True)


_FUNCTION_LATEX = {
    "σ": r"\sigma", "exp": r"\exp", "log": r"\log", "tanh": r"\tanh", "sin": r"\sin", "cos": r"\cos",
    "tan": r"\tan", "sinh": r"\sinh", "cosh": r"\cosh", "arcsin": r"\arcsin", "arccos": r"\arccos",
    "arctan": r"\arctan", "log₂": r"\log_2", "log₁₀": r"\log_{10}", "Π": r"\prod", "min": r"\min",
    "max": r"\max",
}  # fmt: skip
_INFIX = {"add": ("+", "+"), "sub": ("−", "-"), "mul": ("×", r"\times"), "div": ("/", "/"), "mod": ("%", r"\bmod")}


def given_names(names: object, caller: str) -> dict[int, str]:
    """id(Value) → its full name, from a model (anything with ``named_parameters()``), a
    {name: Value} mapping or (name, Value) pairs (read as draw_dot reads them)."""
    return {key: full for key, (_, full) in _parameter_names(names, caller).items()}


class _Namer:
    """Names nodes: a name given for it, else its label, else its expression if short, else op₇."""

    def __init__(self, chain: Chain, fmt: str, given: dict[int, str] | None = None) -> None:
        self.chain, self.fmt = chain, fmt
        self.given = given or {}
        self.names: list[_Name | None] = [None] * len(chain.nodes)

    def __call__(self, i: int) -> _Name:
        if self.names[i] is None:
            # operands first, without recursion: the forward order of the graph
            for j in reversed(self.chain.order):
                if self.names[j] is None:
                    self.names[j] = self._name(j)
                if j == i:
                    break
        return self.names[i]  # type: ignore[return-value]

    def _operand(self, i: int, k: int) -> _Name:
        j = self.chain.slots[i][k]
        if j is not None:
            return self.names[j] if self.names[j] is not None else self(j)  # type: ignore[return-value]
        x = float(self.chain.nodes[i].operands[k])  # type: ignore[arg-type]
        text, latex = _number_text(x, self.fmt), _number_latex(x, self.fmt)
        return _Name(text, latex, atomic=x >= 0)

    def _name(self, i: int) -> _Name:
        node = self.chain.nodes[i]
        if id(node) in self.given:
            return _label_name(self.given[id(node)])
        if node.label:
            return _label_name(node.label)
        if not node.op:
            return _generated("leaf", i)
        name = self._expression(i, node)
        return name if len(name.text) <= MAX_EXPRESSION else _generated(node.op, i)

    def _expression(self, i: int, node: Value) -> _Name:
        ops = [self._operand(i, k) for k in range(len(node.operands))]

        def wrap(n: _Name) -> tuple[str, str]:
            return (n.text, n.latex) if n.atomic else (f"({n.text})", rf"\left({n.latex}\right)")

        op = OPS[node.op]
        if node.op in _INFIX:
            (ta, la), (tb, lb) = wrap(ops[0]), wrap(ops[1])
            symbol, latex = _INFIX[node.op]
            return _Name(f"{ta} {symbol} {tb}", f"{la} {latex} {lb}", atomic=False)
        if node.op == "pow":
            (ta, la), (tb, lb) = wrap(ops[0]), wrap(ops[1])
            return _Name(f"{ta}^{tb}", f"{{{la}}}^{{{ops[1].latex}}}", atomic=False)
        if node.op == "neg":
            ta, la = wrap(ops[0])
            return _Name(f"−{ta}", f"-{la}", atomic=False)
        if node.op == "abs":
            return _Name(f"|{ops[0].text}|", rf"\left|{ops[0].latex}\right|", atomic=True)
        if node.op == "sum":
            return _Name(" + ".join(n.text for n in ops), " + ".join(n.latex for n in ops), atomic=False)
        if node.op == "dot":  # operands w..., x..., then the bias when their number is odd
            n = len(ops) // 2
            terms_t = [f"{wrap(w)[0]}·{wrap(x)[0]}" for w, x in zip(ops[:n], ops[n : 2 * n])]
            terms_l = [rf"{wrap(w)[1]} \cdot {wrap(x)[1]}" for w, x in zip(ops[:n], ops[n : 2 * n])]
            if len(ops) % 2:
                terms_t.append(ops[-1].text)
                terms_l.append(ops[-1].latex)
            return _Name(" + ".join(terms_t), " + ".join(terms_l), atomic=False)
        # any other op, including ones added to the table later: symbol(operands)[params]
        latex_symbol = _FUNCTION_LATEX.get(op.symbol, rf"\operatorname{{{_latex_text(op.symbol)}}}")
        text = f"{op.symbol}({', '.join(n.text for n in ops)})"
        latex = rf"{latex_symbol}\left({', '.join(n.latex for n in ops)}\right)"
        if node.params:
            text += "[" + ", ".join(format(p, "g") for p in node.params) + "]"
            latex += "_{" + ", ".join(format(p, "g") for p in node.params) + "}"
        return _Name(text, latex, atomic=True)


# --- the results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One path from the root down to the explained node, and its share of the gradient.

    Attributes:
        names: the nodes along the path, root first, as text.
        factors: the local derivative of each step (one fewer than ``names``).
        value: their product, this path's contribution to the gradient.
    """

    names: tuple[str, ...]
    factors: tuple[float, ...]
    value: float
    _latex: tuple[str, ...] = field(repr=False, compare=False, default=())
    _atomic: tuple[bool, ...] = field(repr=False, compare=False, default=())


def _partial_text(top: str, top_atomic: bool, bottom: str, bottom_atomic: bool) -> str:
    top = top if top_atomic else f"({top})"
    bottom = bottom if bottom_atomic else f"({bottom})"
    return f"∂{top}/∂{bottom}"


def _partial_latex(top: str, top_atomic: bool, bottom: str, bottom_atomic: bool) -> str:
    top = top if top_atomic else rf"\left({top}\right)"
    bottom = bottom if bottom_atomic else rf"\left({bottom}\right)"
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def _elide(items: list[str], latex: bool) -> list[str]:
    """A long path's first and last LONG_PATH items, with an ellipsis between (its value is exact)."""
    if len(items) <= 2 * LONG_PATH + 1:
        return items
    return [*items[:LONG_PATH], r"\cdots" if latex else "…", *items[-LONG_PATH:]]


def _signed_sum(values: Sequence[str]) -> str:
    out = values[0]
    for v in values[1:]:
        out += f" - {v[1:]}" if v.startswith("-") else f" + {v}"
    return out


@dataclass(frozen=True)
class Explanation:
    """∂root/∂wrt written out by the chain rule; prints as text, shows as typeset math in Jupyter.

    Attributes:
        root: the root's name (its label, or its expression).
        wrt: the explained node's name.
        total: ∂root/∂wrt, the sum over all paths, computed as ``backward()`` computes it.
        n_paths: how many paths lead from the root down to ``wrt`` (an exact integer).
        paths: every path, in the graph's operand order, when ``complete``; else the largest
            contributions by absolute value, largest first.
        complete: whether ``paths`` lists every path.
        fmt: the format spec of the numbers shown.

    ``str()`` is the text; Jupyter shows the math (``_repr_latex_``, ``_repr_markdown_``) and
    IPython's text form is the text too.
    """

    root: str
    wrt: str
    total: float
    n_paths: int
    paths: tuple[Path, ...]
    complete: bool
    fmt: str = field(default=".4g", repr=False)
    _root: _Name = field(default=_Name("", "", True), repr=False, compare=False)
    _wrt: _Name = field(default=_Name("", "", True), repr=False, compare=False)

    # --- text --------------------------------------------------------------------------------

    def _lhs(self, latex: bool) -> str:
        partial = _partial_latex if latex else _partial_text
        name = (lambda n: n.latex) if latex else (lambda n: n.text)
        return partial(name(self._root), self._root.atomic, name(self._wrt), self._wrt.atomic)

    def _symbolic(self, path: Path, latex: bool) -> str:
        names = path._latex if latex else path.names
        partial = _partial_latex if latex else _partial_text
        dot = r" \cdot " if latex else " · "
        return dot.join(_elide(
            [partial(names[s], path._atomic[s], names[s + 1], path._atomic[s + 1]) for s in range(len(path.factors))],
            latex,
        ))

    def _product(self, path: Path, latex: bool, first: bool = True) -> str:
        """The path's factors multiplied out; negative factors in parentheses, except a leading one."""
        number = (lambda x: _number_latex(x, self.fmt)) if latex else (lambda x: _number_text(x, self.fmt))
        shown = [number(x) for x in path.factors] or [number(1.0)]
        shown = [f"({s})" if s.startswith("-") and (k or not first) else s for k, s in enumerate(shown)]
        return (r" \times " if latex else " × ").join(_elide(shown, latex))

    def _chain_sides(self, latex: bool) -> list[str]:
        """The right-hand sides of the complete explanation: symbols, products, path values, total."""
        number = (lambda x: _number_latex(x, self.fmt)) if latex else (lambda x: _number_text(x, self.fmt))
        sides: list[str] = []
        if any(len(p.factors) > 1 for p in self.paths):  # one factor per path restates the left side
            sides.append(" + ".join(self._symbolic(p, latex) for p in self.paths))
        sides.append(" + ".join(self._product(p, latex, first=not k) for k, p in enumerate(self.paths)))
        sides.append(_signed_sum([number(p.value) for p in self.paths]))
        sides.append(number(self.total))
        unique: list[str] = []
        for side in sides:  # 1.1 × 2 is one path: its value and the total say the same
            if not unique or unique[-1] != side:
                unique.append(side)
        return unique

    def __str__(self) -> str:
        lhs = self._lhs(latex=False)
        if self.complete:
            sides = self._chain_sides(latex=False)
            line = " = ".join([lhs, *sides])
            if len(self.paths) <= 1 or len(line) <= ONE_LINE:
                return line
            pad = " " * len(lhs)
            if any(len(p.factors) > 1 for p in self.paths):  # the symbols first, one path per line
                lines = [f"{lhs} = {self._symbolic(self.paths[0], False)}"]
                lines += [f"{pad} + {self._symbolic(p, False)}" for p in self.paths[1:]]
                sides = sides[1:]
            else:
                lines = [f"{lhs} = {sides[0]}"]
                sides = sides[1:]
            lines += [f"{pad} = {side}" for side in sides]
            return "\n".join(lines)
        number = lambda x: _number_text(x, self.fmt)  # noqa: E731
        lines = [f"{lhs} = sum over {self.n_paths:,} paths = {number(self.total)}"]
        lines.append(f"  the {len(self.paths)} largest contributions:")
        for p in self.paths:
            lines.append(f"    {' → '.join(_elide(list(p.names), False))}: {self._product(p, False)} = {number(p.value)}")
        if self.n_paths > len(self.paths):
            lines.append(f"  the other {self.n_paths - len(self.paths):,} paths together: {number(self._rest())}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        paths = f"{self.n_paths:,} path" + ("" if self.n_paths == 1 else "s")
        return f"<viz.Explanation {self._lhs(latex=False)} = {_number_text(self.total, self.fmt)} over {paths}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _rest(self) -> float:
        return self.total - math.fsum(p.value for p in self.paths)

    def latex_lines(self) -> list[str]:
        """The explanation as lines of a LaTeX ``aligned`` environment (``&=`` aligns them)."""
        lhs = self._lhs(latex=True)
        if self.complete:
            sides = self._chain_sides(latex=True)
            if len(self.paths) > 1 and any(len(p.factors) > 1 for p in self.paths):  # one path per line
                lines = [f"{lhs} &= {self._symbolic(self.paths[0], True)}"]
                lines += [rf"&\quad + {self._symbolic(p, True)}" for p in self.paths[1:]]
                return lines + [f"&= {side}" for side in sides[1:]]
            return [f"{lhs} &= {sides[0]}"] + [f"&= {side}" for side in sides[1:]]
        number = lambda x: _number_latex(x, self.fmt)  # noqa: E731
        count = f"{self.n_paths:,}".replace(",", "{,}")
        lines = [rf"{lhs} &= \sum_{{{count}\ \text{{paths}}}} = {number(self.total)}"]
        lines.append(rf"&\quad\text{{the {len(self.paths)} largest contributions:}}")
        for p in self.paths:
            chain = r" \to ".join(_elide(list(p._latex), True))
            lines.append(rf"&\qquad {chain}:\ {self._product(p, True)} = {number(p.value)}")
        other = f"{self.n_paths - len(self.paths):,}".replace(",", "{,}")
        if self.n_paths > len(self.paths):
            lines.append(rf"&\quad\text{{the other }}{other}\text{{ paths together: }}{number(self._rest())}")
        return lines

    def _repr_latex_(self) -> str:
        return _aligned(self.latex_lines())

    def _repr_markdown_(self) -> str:
        return _aligned(self.latex_lines())


def _aligned(lines: list[str]) -> str:
    body = " \\\\\n".join(lines)
    return f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$"


class Explanations(Sequence[Explanation]):
    """Explanations for several nodes (every leaf, by default): a sequence, also indexed by the Value."""

    def __init__(self, items: Sequence[Explanation], values: Sequence[Value]) -> None:
        self._items = tuple(items)
        self._by_id = {id(v): e for v, e in zip(values, items)}

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, key):  # type: ignore[no-untyped-def, override]
        """``explanations[0]``, a slice, or ``explanations[value]`` for the node itself."""
        if isinstance(key, Value):
            try:
                return self._by_id[id(key)]
            except KeyError:
                raise KeyError(f"no explanation for {key!r}: it was not among the explained nodes") from None
        return self._items[key]

    def __iter__(self) -> Iterator[Explanation]:
        return iter(self._items)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self._items)

    def __repr__(self) -> str:
        return f"<viz.Explanations of {len(self)} nodes: {', '.join(e.wrt for e in self._items)}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_latex_(self) -> str:
        return _aligned([line for e in self._items for line in e.latex_lines()])

    def _repr_markdown_(self) -> str:
        return self._repr_latex_()


# --- the computation ---------------------------------------------------------------------------


def _check_count(name: str, x: object) -> None:
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        raise ValueError(f"explain: {name} must be an int ≥ 1; got {x!r}")


def explain(
    root: Value,
    wrt: Value | Sequence[Value] | None = None,
    *,
    max_paths: int = 8,
    top: int = 5,
    fmt: str = ".4g",
    names: object = None,
) -> Explanation | Explanations:
    """∂root/∂wrt by the chain rule, with every factor's number.

    Args:
        root: the Value whose gradient is explained (usually a loss).
        wrt: a node of root's graph (a leaf, or an intermediate node such as a neuron's z),
            a sequence of them, or None for every leaf, in the order draw_dot numbers them.
        max_paths: up to this many paths are written out one by one; with more, a summary
            gives their number, the ``top`` largest contributions and the total.
        top: how many of the largest contributions a summary shows.
        fmt: format spec for the numbers (".4g": 110.00000000000001 shows as 110).
        names: names for nodes without labels, such as a model's weights: a model (anything
            with ``named_parameters()``, e.g. an ``nn.MLP``: ``layers.0.neurons.0.w.0``), a
            {name: Value} mapping or (name, Value) pairs. They take precedence over labels.

    Returns:
        an :class:`Explanation` for one node, or :class:`Explanations` for None or a sequence.
        ``print()`` gives text; Jupyter shows typeset math.
    """
    chain = walk(root, "explain")
    _check_count("max_paths", max_paths)
    _check_count("top", top)
    try:
        format(1.5, fmt)
    except (TypeError, ValueError):
        raise ValueError(f"explain: fmt must be a float format spec such as '.4g'; got {fmt!r}") from None
    if wrt is None:
        targets = [node for node in chain.nodes if not node.op]
        single = False
    elif isinstance(wrt, Value):
        targets, single = [wrt], True
    elif isinstance(wrt, Sequence) and not isinstance(wrt, (str, bytes)):
        targets, single = list(wrt), False
    else:
        raise TypeError(f"explain: wrt must be a Value, a sequence of Values or None; got {type(wrt).__name__}")
    indices = []
    for target in targets:
        if not isinstance(target, Value):
            raise TypeError(f"explain: wrt must hold Values; got {type(target).__name__} {target!r:.60}")
        i = chain.index(target)
        if i is None:
            raise ValueError(f"explain: root does not depend on {target!r:.80}; it is not in root's graph")
        indices.append(i)
    explainer = _Explainer(chain, max_paths, top, fmt, given_names(names, "explain"))
    results = [explainer.explain(i) for i in indices]
    return results[0] if single else Explanations(results, targets)


class _Explainer:
    """Everything computed once per graph and shared by the explanations of all its nodes."""

    def __init__(self, chain: Chain, max_paths: int, top: int, fmt: str, given: dict[int, str]) -> None:
        self.chain, self.max_paths, self.top, self.fmt = chain, max_paths, top, fmt
        self.namer = _Namer(chain, fmt, given)
        data = chain.stored_data()
        self.grads = chain.gradients(data)
        self.local = [chain.backward_at(i, 1.0, data) if node.op else () for i, node in enumerate(chain.nodes)]
        self.counts = self._count_paths()
        self._best: list[list[tuple[float, int, int, int]]] | None = None
        self._users: list[list[tuple[int, int]]] | None = None

    def _count_paths(self) -> list[int]:
        """Paths from the root to each node (exact integers): each node passes its count to its operands."""
        counts = [0] * len(self.chain.nodes)
        counts[0] = 1
        for i in self.chain.order:
            for j in self.chain.slots[i]:
                if j is not None:
                    counts[j] += counts[i]
        return counts

    def explain(self, target: int) -> Explanation:
        n_paths = self.counts[target]
        if n_paths <= self.max_paths:
            paths, complete = self._all_paths(target), True
        else:
            paths, complete = self._largest_paths(target), False
        return Explanation(
            root=self.namer(0).text,
            wrt=self.namer(target).text,
            total=self.grads[target],
            n_paths=n_paths,
            paths=tuple(self._path(steps) for steps in paths),
            complete=complete,
            fmt=self.fmt,
            _root=self.namer(0),
            _wrt=self.namer(target),
        )

    def _path(self, steps: list[tuple[int, int]]) -> Path:
        """A Path from steps (node, operand slot) taken from the root."""
        nodes = [0]
        factors = []
        value = 1.0
        for i, k in steps:
            factor = self.local[i][k]
            factors.append(factor)
            value *= factor
            nodes.append(self.chain.slots[i][k])  # type: ignore[arg-type]
        names = [self.namer(i) for i in nodes]
        return Path(
            tuple(n.text for n in names), tuple(factors), value,
            _latex=tuple(n.latex for n in names), _atomic=tuple(n.atomic for n in names),
        )

    def _consumers(self) -> list[list[tuple[int, int]]]:
        """Per node, the (consumer, operand slot) pairs that use it, built once per graph."""
        if self._users is None:
            self._users = [[] for _ in self.chain.nodes]
            for i, row in enumerate(self.chain.slots):
                for k, j in enumerate(row):
                    if j is not None:
                        self._users[j].append((i, k))
        return self._users

    def _all_paths(self, target: int) -> list[list[tuple[int, int]]]:
        """Every path root → target (there are at most max_paths of them), in operand order.

        Walked upwards from the target through the nodes that use it: every node but the root
        has a user, so every such walk ends at the root and the work is bounded by the paths.
        Sorting the (node, slot) steps from the root puts operand 0's paths first.
        """
        users = self._consumers()
        paths: list[list[tuple[int, int]]] = []
        stack: list[tuple[int, list[tuple[int, int]]]] = [(target, [])]
        while stack:
            j, steps = stack.pop()
            if j == 0:
                paths.append(steps[::-1])
                continue
            for i, k in users[j]:
                stack.append((i, [*steps, (i, k)]))
        return sorted(paths, key=lambda steps: [k for _, k in steps])

    def _largest_paths(self, target: int) -> list[list[tuple[int, int]]]:
        """The ``top`` paths root → target with the largest |product|, largest first.

        Dynamic programming over the graph: each node keeps its ``top`` best partial paths from
        the root, as (|product|, consumer, slot, rank of the consumer's partial path). The best
        paths into a node extend the best paths into its consumers, so this is exact; it runs
        once per graph and serves every node. nan products rank first: they decide the total.
        """
        best = self._best_partials()
        paths = []
        for rank in range(len(best[target])):
            steps: list[tuple[int, int]] = []
            node, r = target, rank
            while node != 0:
                _, consumer, slot, r = best[node][r]
                steps.append((consumer, slot))
                node = consumer
            steps.reverse()
            paths.append(steps)
        return paths

    def _best_partials(self) -> list[list[tuple[float, int, int, int]]]:
        if self._best is not None:
            return self._best
        n = len(self.chain.nodes)
        size = [[] for _ in range(n)]  # type: list[list[float]]  # |product| of each kept partial path
        best: list[list[tuple[float, int, int, int]]] = [[] for _ in range(n)]
        candidates: list[list[tuple[float, int, int, int]]] = [[] for _ in range(n)]
        size[0] = [1.0]
        best[0] = [(1.0, -1, -1, -1)]
        for i in self.chain.order:  # each node after all its consumers: its candidates are complete
            if i != 0:
                ranked = sorted(candidates[i], key=_rank_key)[: self.top]
                best[i] = ranked
                size[i] = [c[0] for c in ranked]
                candidates[i] = []
            for k, j in enumerate(self.chain.slots[i]):
                if j is None:
                    continue
                local = abs(self.local[i][k])
                for r, s in enumerate(size[i]):
                    candidates[j].append((s * local, i, k, r))
        self._best = best
        return best


def _rank_key(candidate: tuple[float, int, int, int]) -> tuple[int, float, int, int, int]:
    size, consumer, slot, rank = candidate
    # nan first, then by size; ties in the graph's own order so the result is deterministic
    return (0 if size != size else 1, -size if size == size else 0.0, consumer, slot, rank)
