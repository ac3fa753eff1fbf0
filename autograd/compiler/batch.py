"""The first stage of ``autograd.compile``: a call's batched arguments, checked.

A 2-D array of floats gives ``fn`` each row as a list of Values, a 2-D array of
integers each row as a list of ints (token ids), a 1-D array of floats a Value, a 1-D
array of integers an int (a class index, a ±1 label). :class:`Batch` holds them as
float64 and int64 arrays of one length; :meth:`Batch.take` is the part of a batch that
one branch pattern replays. A row of ints may have another length at each call: each
length is traced and replayed apart (:attr:`Batch.shape_key`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["KIND_NAMES", "Batch", "CompileError"]

KIND_NAMES = {
    "rows": "2-D rows",
    "introws": "2-D integers (token ids)",
    "floats": "1-D floats",
    "ints": "1-D integers (class indices)",
}


class CompileError(ValueError):
    """The function's graph cannot be replayed over a batch; the message says why and where."""


_EXACT = 2**53  # the integers float64 holds exactly: the replay computes with labels as float64


def _as_int64(array: np.ndarray, a: int) -> np.ndarray:
    """An integer argument (1-D, or 2-D rows of ints) as int64; a ValueError naming the first
    sample whose value the replay cannot hold exactly (beyond ±2^53, or a uint64 that would wrap around)."""
    if array.size:
        big = np.abs(array.astype(np.float64)) > _EXACT
        if big.any():
            flat = int(np.argmax(big.ravel()))
            i = flat // (array.shape[1] if array.ndim == 2 else 1)
            raise ValueError(
                f"batched argument {a}: sample {i} holds {int(array.ravel()[flat])}, beyond ±2^53 ({_EXACT}); integer "
                "arguments (class indices, labels, token ids) must be exact as float64"
            )
    return array.astype(np.int64)


class Batch:
    """The batched arguments of one call, checked: 2-D float rows, 2-D int rows, 1-D floats, 1-D ints.

    ``columns[a]`` is argument a as a 2-D float64 array (a 1-D argument as one column),
    the form the replay reads."""

    __slots__ = ("arrays", "kinds", "size", "columns")

    def __init__(self, arrays_: list[np.ndarray], kinds: list[str], size: int) -> None:
        self.arrays, self.kinds, self.size = arrays_, kinds, size
        self.columns = [
            array if kind == "rows" else array.reshape(len(array), -1).astype(np.float64, copy=False)
            for array, kind in zip(arrays_, kinds)
        ]

    @classmethod
    def of(cls, batches: tuple[Any, ...], kinds: list[str] | None = None, widths: list[int] | None = None) -> Batch:
        """The batched arguments checked, and against the traced ``kinds`` and row ``widths`` when given."""
        if not batches:
            raise TypeError("a compiled step takes the batched arguments of fn (say X, t); got none")
        if kinds is not None and len(batches) != len(kinds):
            raise TypeError(f"this step was traced with {len(kinds)} batched arguments; got {len(batches)}")
        out, found, sizes = [], [], []
        for a, batch in enumerate(batches):
            array = np.asarray(batch)
            if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
                raise TypeError(
                    f"batched argument {a} must be an array of numbers (2-D rows, or 1-D values or class indices); "
                    f"got dtype {array.dtype} from {type(batch).__name__}"
                )
            if array.ndim == 2 and array.dtype.kind in "iu":
                kind = "introws"
                array = _as_int64(array, a)
            elif array.ndim == 2:
                kind = "rows"
                array = np.ascontiguousarray(array, dtype=np.float64)
            elif array.ndim == 1:
                kind = "ints" if array.dtype.kind in "iu" else "floats"
                array = _as_int64(array, a) if kind == "ints" else np.asarray(array, dtype=np.float64)
            else:
                raise ValueError(
                    f"batched argument {a} must be 2-D (one row per sample) or 1-D (one number per sample); "
                    f"got shape {array.shape}"
                )
            if kinds is not None and widths is not None:
                expected = kinds[a]
                if kind == "ints" and expected == "floats":  # integer labels where floats were traced
                    array, kind = array.astype(np.float64), "floats"
                if kind == "introws" and expected == "rows":  # integer rows where rows of Values were traced
                    array, kind = np.ascontiguousarray(array, dtype=np.float64), "rows"
                if kind != expected:
                    raise TypeError(f"batched argument {a} was traced as {KIND_NAMES[expected]}; got {KIND_NAMES[kind]}")
                if kind == "rows" and array.shape[1] != widths[a]:
                    raise ValueError(
                        f"batched argument {a}: each row must have {widths[a]} values, as when traced; "
                        f"got rows of {array.shape[1]}"
                    )
            out.append(array)
            found.append(kind)
            sizes.append(len(array))
        if len(set(sizes)) != 1:
            raise ValueError(f"the batched arguments must have one length (one entry per sample); got lengths {sizes}")
        if sizes[0] == 0:
            raise ValueError("got an empty batch: a compiled step needs at least one sample")
        return cls(out, found, sizes[0])

    @property
    def widths(self) -> list[int]:
        return [array.shape[1] if array.ndim == 2 else 1 for array in self.arrays]

    @property
    def shape_key(self) -> tuple[int, ...]:
        """The lengths of the rows of ints: a tape is traced for each (its structure may depend on them)."""
        return tuple(array.shape[1] for array, kind in zip(self.arrays, self.kinds) if kind == "introws")

    def take(self, index: np.ndarray) -> Batch:
        """The samples at ``index`` (sorted positions), as a batch of their own."""
        return Batch([array[index] for array in self.arrays], self.kinds, len(index))

    def row(self, row: int) -> list[Any]:
        """Sample ``row``'s arguments as plain numbers: a list of floats (or ints) per row, a float, an int."""
        return [
            array[row].tolist() if kind != "ints" else int(array[row])
            for array, kind in zip(self.arrays, self.kinds)
        ]
