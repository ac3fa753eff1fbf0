"""nn.data: the logic gates and the 2-D toy shapes (shapes, dtypes, labels, seeds, bad arguments)."""

from __future__ import annotations

import numpy as np
import pytest

from nn import data

SHAPES = {
    "moons": data.make_moons,
    "circles": data.make_circles,
    "blobs": data.make_blobs,
    "spirals": data.make_spirals,
}
DEFAULT_CLASSES = {"moons": 2, "circles": 2, "blobs": 3, "spirals": 2}


# --- logic gates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "outputs"),
    [("and", [0, 0, 0, 1]), ("nand", [1, 1, 1, 0]), ("or", [0, 1, 1, 1]), ("xor", [0, 1, 1, 0])],
)
def test_logic_gate_truth_tables(name: str, outputs: list[int]) -> None:
    X, y = data.logic_gate(name)
    assert X.dtype == np.float64 and X.shape == (4, 2)
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]  # truth-table order
    assert y.dtype == np.int64 and y.tolist() == outputs
    assert data.logic_gate(name.upper())[1].tolist() == outputs
    X_pm, y_pm = data.logic_gate(name, labels=(-1, 1))
    assert np.array_equal(X_pm, X) and y_pm.tolist() == [2 * o - 1 for o in outputs]


def test_logic_gate_bad_arguments() -> None:
    with pytest.raises(ValueError, match="knows 'and', 'nand', 'or', 'xor'; got 'nor'"):
        data.logic_gate("nor")
    with pytest.raises(ValueError, match="got 3"):
        data.logic_gate(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"labels must be \(0, 1\) or \(-1, 1\)"):
        data.logic_gate("and", labels=(1, 2))


# --- the shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SHAPES)
@pytest.mark.parametrize("n", [2 * 3, 7, 100])
def test_shape_dtype_and_labels(kind: str, n: int) -> None:
    X, y = SHAPES[kind](n_samples=n, seed=0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    classes = DEFAULT_CLASSES[kind]
    assert set(y.tolist()) == set(range(classes))
    counts = np.bincount(y, minlength=classes)
    assert counts.max() - counts.min() <= 1  # split as evenly as possible
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("kind", SHAPES)
def test_defaults_give_100_points(kind: str) -> None:
    X, y = SHAPES[kind]()
    assert X.shape == (100, 2) and y.shape == (100,)


@pytest.mark.parametrize("kind", SHAPES)
def test_same_seed_same_data_other_seed_other_data(kind: str) -> None:
    X1, y1 = SHAPES[kind](seed=42)
    X2, y2 = SHAPES[kind](seed=42)
    X3, y3 = SHAPES[kind](seed=43)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    X4, y4 = SHAPES[kind](seed=np.random.default_rng(42))
    assert np.array_equal(X1, X4) and np.array_equal(y1, y4)


@pytest.mark.parametrize("kind", SHAPES)
def test_seed_does_not_touch_global_state(kind: str) -> None:
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    SHAPES[kind](seed=1)
    assert np.random.random() == before


@pytest.mark.parametrize("kind", SHAPES)
def test_shuffle(kind: str) -> None:
    _, ordered = SHAPES[kind](seed=5, shuffle=False)
    _, shuffled = SHAPES[kind](seed=5)
    assert np.all(np.diff(ordered) >= 0)  # class 0's points first, then 1, ...
    assert not np.all(np.diff(shuffled) >= 0)
    assert sorted(shuffled.tolist()) == ordered.tolist()


def test_noise_free_geometry() -> None:
    """Without noise the points lie exactly on the curves they are drawn from."""
    X, y = data.make_moons(50, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    assert np.allclose(np.hypot(*upper.T), 1.0)
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert np.all(upper[:, 1] >= -1e-12) and np.all(lower[:, 1] <= 0.5 + 1e-12)

    X, y = data.make_circles(60, noise=0.0, factor=0.3, seed=0)
    radii = np.hypot(*X.T)
    assert np.allclose(radii[y == 0], 1.0) and np.allclose(radii[y == 1], 0.3)

    X, y = data.make_spirals(90, n_classes=3, noise=0.0, seed=0)
    assert set(y.tolist()) == {0, 1, 2}
    assert np.all(np.hypot(*X.T) <= 1.0 + 1e-12)


def test_noise_scales_the_spread() -> None:
    X0, y0 = data.make_circles(400, noise=0.0, seed=3)
    X1, y1 = data.make_circles(400, noise=0.2, seed=3)
    outer0, outer1 = np.hypot(*X0[y0 == 0].T), np.hypot(*X1[y1 == 0].T)
    assert outer0.std() < 1e-12
    assert 0.1 < outer1.std() < 0.3


def test_blobs_options() -> None:
    centers = [[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]]
    X, y = data.make_blobs(200, centers=centers, cluster_std=0.5, seed=2)
    assert X.shape == (200, 3) and set(y.tolist()) == {0, 1}
    for k, middle in enumerate(centers):
        assert np.allclose(X[y == k].mean(axis=0), middle, atol=0.2)
        assert X[y == k].std(axis=0) == pytest.approx([0.5] * 3, abs=0.1)
    X, y = data.make_blobs(50, centers=5, n_features=4, center_box=(0.0, 1.0), cluster_std=0.0, seed=2)
    assert X.shape == (50, 4) and set(y.tolist()) == set(range(5))
    assert np.all((X >= 0.0) & (X <= 1.0))  # std 0: every point sits on its centre, inside the box


def test_spirals_classes() -> None:
    X, y = data.make_spirals(301, n_classes=4, turns=1.5, seed=9)
    assert X.shape == (301, 2) and np.bincount(y).tolist() == [76, 75, 75, 75]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: data.make_moons(n_samples=1), "n_samples must be an int ≥ 2; got 1"),
        (lambda: data.make_moons(n_samples=10.0), "n_samples must be an int"),
        (lambda: data.make_moons(n_samples=True), "n_samples must be an int"),
        (lambda: data.make_moons(noise=-0.1), "noise must be a finite number ≥ 0; got -0.1"),
        (lambda: data.make_moons(noise=float("nan")), "noise must be a finite number"),
        (lambda: data.make_moons(seed=-1), "seed must be a non-negative int"),
        (lambda: data.make_moons(seed="abc"), "seed must be a non-negative int"),
        (lambda: data.make_circles(factor=1.0), "factor must be a number strictly between 0 and 1"),
        (lambda: data.make_circles(factor=0), "factor must be a number strictly between 0 and 1"),
        (lambda: data.make_blobs(centers=0), "centers must be an int ≥ 1"),
        (lambda: data.make_blobs(n_samples=2, centers=3), r"n_samples \(2\) must be at least the number of blobs \(3\)"),
        (lambda: data.make_blobs(centers=[1.0, 2.0]), "shape"),
        (lambda: data.make_blobs(centers="abc"), "centers must be an int or an array"),
        (lambda: data.make_blobs(cluster_std=-1), "cluster_std"),
        (lambda: data.make_blobs(center_box=(1, 1)), "low < high"),
        (lambda: data.make_blobs(center_box=5), "center_box must be a pair"),
        (lambda: data.make_spirals(n_classes=1), "n_classes must be an int ≥ 2"),
        (lambda: data.make_spirals(n_samples=5, n_classes=3), "n_samples must be an int ≥ 6"),
        (lambda: data.make_spirals(turns=0), "turns must be a finite number > 0"),
    ],
)
def test_bad_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
