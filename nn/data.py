"""Small toy data sets for classifiers: the logic gates and four 2-D shapes, made with NumPy.

Every generator returns ``(X, y)``: X a float64 array of shape (n, features), y an
int64 array of class labels 0..k-1 (as scikit-learn does). The shapes take a
``seed`` (an int, None for fresh randomness, or a ``numpy.random.Generator``) and
draw everything from ``np.random.default_rng(seed)``: the same seed gives the same
data, without touching any global random state.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["GATES", "logic_gate", "make_blobs", "make_circles", "make_moons", "make_spirals"]

# Truth tables: outputs for the inputs (0, 0), (0, 1), (1, 0), (1, 1), in that order.
GATES: dict[str, tuple[int, int, int, int]] = {
    "and": (0, 0, 0, 1),
    "nand": (1, 1, 1, 0),
    "or": (0, 1, 1, 1),
    "xor": (0, 1, 1, 0),
}
_INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))

def logic_gate(name: str, labels: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """A gate's truth table: X the rows (0,0), (0,1), (1,0), (1,1) and y its outputs.

    ``name`` is "and", "nand", "or" or "xor" (any case). ``labels=(-1, 1)`` maps the
    outputs 0/1 to -1/1, the targets of notes 002's perceptron and Adaline.
    """
    if not isinstance(name, str) or name.lower() not in GATES:
        raise ValueError(f"logic_gate() knows {', '.join(repr(g) for g in GATES)}; got {name!r}")
    if not isinstance(labels, (tuple, list)) or tuple(labels) not in ((0, 1), (-1, 1)):
        raise ValueError(f"labels must be (0, 1) or (-1, 1); got {labels!r}")
    X = np.array(_INPUTS, dtype=np.float64)
    y = np.array(GATES[name.lower()], dtype=np.int64)
    if tuple(labels) == (-1, 1):
        y = 2 * y - 1
    return X, y


# --- argument checks --------------------------------------------------------------------


def _count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int ≥ {minimum}; got {value!r}")
    return int(value)


def _nonnegative(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0; got {value!r}")
    return float(value)


def _rng(seed: object) -> np.random.Generator:
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, a numpy.random.Generator or None; got {seed!r}")
    return np.random.default_rng(int(seed))


def _split(n_samples: int, n_classes: int) -> list[int]:
    """n_samples shared as evenly as possible; the first classes get the remainder."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def _finish(parts: list[np.ndarray], rng: np.random.Generator, noise: float, shuffle: bool) -> tuple:
    """Stack the classes' points, label them 0..k-1, add Gaussian noise, shuffle."""
    X = np.concatenate(parts).astype(np.float64)
    y = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(parts)])
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return X, y


# --- the shapes -------------------------------------------------------------------------


def make_moons(
    n_samples: int = 100, noise: float = 0.1, seed: int | np.random.Generator | None = None, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's shape): class 0 the upper, class 1 the lower.

    Args:
        n_samples: total number of points (≥ 2), split as evenly as possible.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: int, Generator or None.
        shuffle: shuffle the rows (else class 0's points come first).
    """
    n = _count(n_samples, "n_samples", 2)
    noise = _nonnegative(noise, "noise")
    rng = _rng(seed)
    n_upper, n_lower = _split(n, 2)
    t_upper, t_lower = np.linspace(0, np.pi, n_upper), np.linspace(0, np.pi, n_lower)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    return _finish([upper, lower], rng, noise, shuffle)


def make_circles(
    n_samples: int = 100,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | np.random.Generator | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 the outer (radius 1), class 1 the inner (radius ``factor``).

    Args:
        n_samples: total number of points (≥ 2).
        noise: standard deviation of the Gaussian noise added to each coordinate.
        factor: inner radius over outer radius, strictly between 0 and 1.
        seed: int, Generator or None.
        shuffle: shuffle the rows.
    """
    n = _count(n_samples, "n_samples", 2)
    noise = _nonnegative(noise, "noise")
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"factor must be a number strictly between 0 and 1; got {factor!r}")
    rng = _rng(seed)
    parts = []
    for count, radius in zip(_split(n, 2), (1.0, float(factor))):
        angle = np.linspace(0, 2 * np.pi, count, endpoint=False)
        parts.append(radius * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _finish(parts, rng, noise, shuffle)


def make_blobs(
    n_samples: int = 100,
    centers: int | np.ndarray = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    seed: int | np.random.Generator | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, one per class, labelled 0..k-1.

    Args:
        n_samples: total number of points (at least one per blob).
        centers: the number of blobs (their centres drawn uniformly from ``center_box``)
            or their centres, an array-like of shape (k, n_features).
        n_features: dimensions of each point when ``centers`` is a number.
        cluster_std: standard deviation of each blob.
        center_box: (low, high) bounds for drawn centres.
        seed: int, Generator or None.
        shuffle: shuffle the rows.
    """
    n = _count(n_samples, "n_samples", 1)
    std = _nonnegative(cluster_std, "cluster_std")
    rng = _rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        k = _count(centers, "centers", 1)
        dims = _count(n_features, "n_features", 1)
        low, high = _box(center_box)
        middles = rng.uniform(low, high, size=(k, dims))
    else:
        try:
            middles = np.asarray(centers, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"centers must be an int or an array of shape (k, n_features); got {centers!r:.80}") from None
        if middles.ndim != 2 or len(middles) == 0 or not np.all(np.isfinite(middles)):
            raise ValueError(f"centers must be an int or a finite array of shape (k, n_features); got shape {middles.shape}")
        k = len(middles)
    if n < k:
        raise ValueError(f"n_samples ({n}) must be at least the number of blobs ({k})")
    parts = [middle + rng.normal(scale=std, size=(count, middles.shape[1]))
             for middle, count in zip(middles, _split(n, k))]
    return _finish(parts, rng, 0.0, shuffle)


def _box(center_box: object) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in center_box)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"center_box must be a pair (low, high); got {center_box!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"center_box must be finite with low < high; got {center_box!r}")
    return low, high


def make_spirals(
    n_samples: int = 100,
    n_classes: int = 2,
    noise: float = 0.05,
    turns: float = 1.0,
    seed: int | np.random.Generator | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms from the origin, one per class (the CS231n toy problem).

    Arm k has points at radius r from 0 to 1 and angle 2π·(turns·r + k / n_classes).

    Args:
        n_samples: total number of points (at least 2 per arm).
        n_classes: number of arms (≥ 2).
        noise: standard deviation of the Gaussian noise added to each coordinate.
        turns: how many full turns each arm makes (> 0).
        seed: int, Generator or None.
        shuffle: shuffle the rows.
    """
    k = _count(n_classes, "n_classes", 2)
    n = _count(n_samples, "n_samples", 2 * k)
    noise = _nonnegative(noise, "noise")
    if isinstance(turns, bool) or not isinstance(turns, numbers.Real) or not (np.isfinite(turns) and turns > 0):
        raise ValueError(f"turns must be a finite number > 0; got {turns!r}")
    rng = _rng(seed)
    parts = []
    for arm, count in enumerate(_split(n, k)):
        radius = np.linspace(0, 1, count)
        angle = 2 * np.pi * (float(turns) * radius + arm / k)
        parts.append(radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _finish(parts, rng, noise, shuffle)
