"""``step.code``: the exported NumPy module, run in a fresh process where gradtrace cannot be
imported, gives eager gradtrace's per-sample results, loss and gradient (moons, digits and
the compile fuzzer's random programs); what cannot be written as NumPy is refused, naming it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_compile import cleaned_up, generate, load, make_batch, program_seed, same_numbers
from test_compile import assert_matches, eager_backward, eager_outputs

import autograd
import nn
from autograd import CompileError, Value

# runs exported modules with gradtrace's packages unimportable: a finder that refuses them
# sits first on sys.meta_path, and the check that it works is part of the run
RUNNER = textwrap.dedent('''
    import importlib.abc, json, sys
    import numpy as np

    class NoGradtrace(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("autograd", "nn", "viz", "_gradtrace", "gradtrace"):
                raise ImportError(f"{name} is not importable here: the exported code must not need it")
            return None

    sys.meta_path.insert(0, NoGradtrace())
    try:
        import autograd  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("gradtrace was importable")
    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        namespace = {"__name__": "exported"}
        exec(compile(open(job["code"]).read(), job["code"], "exec"), namespace)
        data = np.load(job["data"])
        theta = data["theta"]
        batches = [data[f"b{i}"] for i in range(job["n"])]
        out = {"results": namespace["forward"](theta, *batches)}
        if job["backward"]:
            loss, grad = namespace["loss_and_grad"](theta, *batches)
            out["loss"], out["grad"] = np.array(loss), grad
        np.savez(job["out"], **out)
    leaked = [m for m in sys.modules if m.split(".")[0] in ("autograd", "nn", "viz")]
    if leaked:
        raise SystemExit(f"imported {leaked}")
''')


def run_fresh(tmp_path: Path, jobs: list[dict[str, Any]]) -> list[dict[str, np.ndarray]]:
    """Each job's exported code run in one fresh Python (isolated mode: no cwd, no PYTHONPATH)."""
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    spec = []
    for k, job in enumerate(jobs):
        code, data, out = tmp_path / f"exported_{k}.py", tmp_path / f"data_{k}.npz", tmp_path / f"out_{k}.npz"
        code.write_text(job["code"])
        np.savez(data, theta=job["theta"], **{f"b{i}": b for i, b in enumerate(job["batches"])})
        spec.append({"code": str(code), "data": str(data), "out": str(out), "n": len(job["batches"]),
                     "backward": job.get("backward", True)})  # fmt: skip
    (tmp_path / "jobs.json").write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, "-I", str(runner), str(tmp_path / "jobs.json")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return [dict(np.load(s["out"])) for s in spec]


def theta_of(params: list[Value]) -> np.ndarray:
    return np.array([p.data for p in params])


def moons_case() -> tuple[Any, list[Value], list[np.ndarray]]:
    X, y = nn.data.make_moons(100, noise=0.1, seed=0)
    model = nn.MLP(2, [16, 16, 1], rng=random.Random(1))
    params = model.parameters()

    def loss(x: list[Value], label: Any) -> Value:
        return nn.hinge_loss(model(x), label) + 1e-4 * autograd.dot(params, params)

    return loss, params, [X, (2 * y - 1).astype(np.int64)]


def digits_case(rows: int = 96) -> tuple[Any, list[Value], list[np.ndarray]]:
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is in gradtrace's dev extra")
    X, y = datasets.load_digits(return_X_y=True)
    model = nn.MLP(64, [32, 10], rng=random.Random(3))
    return (lambda x, t: nn.cross_entropy(model(x), t)), model.parameters(), [X[:rows] / 16.0, y[:rows].astype(np.int64)]


def test_moons_and_digits_exported_equal_eager_in_a_process_without_gradtrace(tmp_path: Path) -> None:
    cases = [("moons", *moons_case()), ("digits", *digits_case())]
    jobs, expected = [], []
    for name, fn, params, batches in cases:
        step = autograd.compile(fn, params)
        replayed = step(*batches)
        jobs.append({"code": step.code, "theta": theta_of(params), "batches": batches})
        eager = eager_outputs(fn, batches)
        loss, grads, loss_size, grad_sizes = eager_backward(fn, params, batches, "mean", eager.graphs)
        for p in params:
            p.grad = 0.0
        compiled_loss = step.backward(*batches)
        expected.append((name, eager, loss, grads, loss_size, grad_sizes, replayed, compiled_loss, [p.grad for p in params]))
    for got, (name, eager, loss, grads, loss_size, grad_sizes, replayed, compiled_loss, compiled_grads) in zip(
        run_fresh(tmp_path, jobs), expected
    ):
        assert_matches(got["results"], eager.results, f"{name}: per-sample results", eager.result_sizes)
        assert_matches(float(got["loss"]), loss, f"{name}: loss", loss_size)
        assert_matches(got["grad"], grads, f"{name}: gradient", grad_sizes)
        # and the replay's own numbers, to the bit: the same NumPy calls in the same order
        assert np.array_equal(got["results"], replayed), name
        assert float(got["loss"]) == compiled_loss, name
        assert np.array_equal(got["grad"], compiled_grads), name


FUZZ_PROGRAMS = 60
FUZZ_SEED = 18


def test_fuzz_programs_exported_equal_eager_in_a_process_without_gradtrace(tmp_path: Path) -> None:
    """The compile fuzzer's random programs (every op, branches, calcs, labels, nn's losses, ops of
    one's own, non-finite data): each exported and run without gradtrace equals eager, or
    compile or step.code refuses it with a CompileError."""
    jobs, expected, outcomes = [], [], {"exported": 0, "refused": 0}
    for i in range(FUZZ_PROGRAMS):
        program = generate(program_seed(FUZZ_SEED, i), exclude=("threads",))
        with cleaned_up(program):
            rng = np.random.default_rng(program.seed)
            fn, params, constants, _ = load(program)
            step = autograd.compile(fn, params, reduction=program.reduction)
            for n, size in enumerate([3, 40]):
                if n:
                    for v in (*params, *constants):
                        v.data = float(rng.uniform(-1.5, 1.5))
                batches = make_batch(program, rng, size, first=n == 0)
                try:
                    eager = eager_outputs(fn, batches)
                    loss, grads, loss_size, grad_sizes = eager_backward(fn, params, batches, program.reduction, eager.graphs)
                except Exception:  # noqa: BLE001 - eager's error sizes on non-finite data: that batch is skipped
                    continue
                try:
                    step.trace(*batches)  # every branch pattern of the batch, so the code has them all
                    code = step.code
                except CompileError:
                    outcomes["refused"] += 1
                    break
                has_loss = not step._patterns.tapes[0].result_list
                jobs.append({"code": code, "theta": theta_of(params), "batches": batches, "backward": has_loss})
                expected.append((program.seed, eager, loss, grads, loss_size, grad_sizes, has_loss))
                outcomes["exported"] += 1
    assert outcomes["exported"] >= FUZZ_PROGRAMS, outcomes  # most programs export (two batches each)
    for got, (seed, eager, loss, grads, loss_size, grad_sizes, has_loss) in zip(run_fresh(tmp_path, jobs), expected):
        same_numbers(got["results"], eager.results, f"program {seed}: per-sample results", eager.result_sizes)
        if has_loss:
            same_numbers(float(got["loss"]), loss, f"program {seed}: loss", loss_size)
            same_numbers(got["grad"], grads, f"program {seed}: gradient", grad_sizes)


def exported(step: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(step.code, "<exported>", "exec"), namespace)  # noqa: S102 - code we just wrote
    return namespace


def test_a_two_layer_mlp_reads_as_matrix_code() -> None:
    """A layer is one product with W1, b1; the code fits in a page and imports only NumPy and math."""
    model = nn.MLP(2, [4, 1], rng=random.Random(0))
    step = autograd.compile(lambda x, t: (model(x) - t) ** 2, model.parameters())
    X, t = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([1.0, 1.0, 0.0])
    step(X, t)
    code = step.code
    assert "z1 = x @ W1.T + b1" in code and "z2 = relu1 @ W2.T + b2" in code, code
    assert "dW1 += d_z1.T @ x" in code and "db2 += d_z2.sum(axis=0)" in code, code
    imports = [line for line in code.splitlines() if line.startswith(("import", "from"))]
    assert imports == ["import math", "import numpy as np"]
    step_part = code.split("# --- helpers")[0]  # the helpers after it: the exact mean, pow's careful derivative
    assert len(step_part.splitlines()) <= 80, len(step_part.splitlines())
    namespace = exported(step)
    theta = theta_of(model.parameters())
    assert np.array_equal(namespace["forward"](theta, X, t), step(X, t))
    loss, grad = namespace["loss_and_grad"](theta, X, t)
    assert loss == step.backward(X, t)
    assert np.array_equal(grad, [p.grad for p in model.parameters()])
    assert grad.shape == theta.shape


def test_branch_patterns_are_functions_and_an_untraced_one_is_an_error() -> None:
    w = Value(0.5)

    def leaky(x: list[Value], t: Value) -> Value:
        y = w * x[0]
        return (y if y.data > 0 else 0.1 * y) - t

    step = autograd.compile(leaky, [w])
    X, t = np.array([[1.0], [-2.0], [3.0]]), np.array([0.0, 0.0, 1.0])
    step(X, t)
    namespace = exported(step)
    assert step.patterns == 2 and "def pattern_1(" in step.code
    assert namespace["forward"](np.array([0.5]), X, t).tolist() == step(X, t).tolist()
    loss, grad = namespace["loss_and_grad"](np.array([0.5]), X, t)
    w.grad = 0.0
    assert loss == step.backward(X, t) and grad.tolist() == [w.grad]
    # a step that saw only the positive branch: its code refuses a sample that takes the other
    only = autograd.compile(leaky, [w])
    only(X[:1], t[:1])
    with pytest.raises(ValueError, match="sample 1 takes a branch pattern .* that the compiled step had"):
        exported(only)["forward"](np.array([0.5]), X, t)


def test_refusals_name_what_cannot_be_numpy() -> None:
    w = Value(0.3)
    step = autograd.compile(lambda x: w * x[0], [w])
    with pytest.raises(CompileError, match="has not been traced yet"):
        step.code  # noqa: B018

    @autograd.primitive(name="export_test_sine")
    def sine(x: Any) -> Any:
        return autograd.sin(x)  # autograd's function: works on arrays, but is not NumPy

    @sine.derivative
    def sine_derivative(g: Any, out: Any, x: Any) -> Any:
        return g * autograd.cos(x)

    try:
        own = autograd.compile(lambda x: sine(w * x[0]), [w])
        own(np.array([[0.5], [1.0]]))
        with pytest.raises(CompileError, match="export_test_sine op cannot be written as NumPy.*autograd"):
            own.code  # noqa: B018

        @autograd.primitive(name="export_test_cube")
        def cube(x: Any) -> Any:
            return np.power(x, 3.0)

        @cube.derivative
        def cube_derivative(g: Any, out: Any, x: Any) -> Any:
            return g * 3.0 * np.square(x)

        numpy_op = autograd.compile(lambda x: cube(w * x[0]), [w])
        X = np.array([[0.5], [1.0], [-2.0]])
        numpy_op(X)
        namespace = exported(numpy_op)  # an op of your own written with NumPy is copied in
        assert np.array_equal(namespace["forward"](np.array([0.3]), X), numpy_op(X))
    finally:
        autograd.OPS.pop("export_test_sine", None)
        autograd.OPS.pop("export_test_cube", None)
    # a closure's node made from the parameters passes its gradient on through gradtrace
    scale = w * 2.0
    closure = autograd.compile(lambda x: scale * x[0], [w])
    closure(np.array([[1.0]]))
    with pytest.raises(CompileError, match="made outside fn from the parameters"):
        closure.code  # noqa: B018


def test_a_gpt_with_gathers_stacked_layers_and_two_lengths() -> None:
    """microgpt's shape: token and position tables gathered by id, each layer one product over every
    position, Python's max() of the data, a tape per document length: the exported code keeps both."""
    from test_compile_gather import docs, eager, make_gpt

    fn, params, _ = make_gpt(layers=2)
    rng = np.random.default_rng(0)
    step = autograd.compile(fn, params)
    batches = [docs(rng, 5, 5), docs(rng, 3, 7)]
    for batch in batches:
        step(batch)
    assert step.patterns == 2 and any(getattr(u, "stack", 1) > 1 for u in step._patterns.tapes[0].units)
    namespace = exported(step)
    theta = theta_of(params)
    for batch in batches:
        results, loss, grads = eager(fn, params, batch)
        np.testing.assert_allclose(namespace["forward"](theta, batch), results, rtol=1e-12, atol=1e-14)
        got_loss, got_grads = namespace["loss_and_grad"](theta, batch)
        assert got_loss == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(got_grads, grads, rtol=0, atol=1e-12 * max(1.0, float(np.abs(grads).max())))
    with pytest.raises(ValueError, match="sample 0 takes a branch pattern"):  # a length never traced
        namespace["forward"](theta, docs(rng, 2, 4))


# 77000123: a layer whose weights are a node's row (its gradient through a view); 31000080: an op of
# your own over *operands (called with them one by one)
@pytest.mark.parametrize("seed", [77000123, 31000080])
def test_fuzz_programs_that_once_failed(seed: int) -> None:
    program = generate(seed, exclude=("threads",))
    with cleaned_up(program):
        rng = np.random.default_rng(program.seed)
        fn, params, constants, _ = load(program)
        step = autograd.compile(fn, params, reduction=program.reduction)
        for n, size in enumerate([3, 8, 40]):
            if n:
                for v in (*params, *constants):
                    v.data = float(rng.uniform(-1.5, 1.5))
            batches = make_batch(program, rng, size, first=n == 0)
            eager = eager_outputs(fn, batches)
            loss, grads, loss_size, grad_sizes = eager_backward(fn, params, batches, program.reduction, eager.graphs)
            step.trace(*batches)
            namespace = exported(step)
            theta = theta_of(params)
            same_numbers(namespace["forward"](theta, *batches), eager.results, f"batch {n}: results", eager.result_sizes)
            got_loss, got_grads = namespace["loss_and_grad"](theta, *batches)
            same_numbers(got_loss, loss, f"batch {n}: loss", loss_size)
            same_numbers(got_grads, grads, f"batch {n}: gradient", grad_sizes)
