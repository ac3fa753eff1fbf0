"""``step.to_torch()`` and ``autograd.compile(..., backend="jax")``: the same numbers as eager
gradtrace and the NumPy backend, ordinary PyTorch, and clear errors (skipped without
PyTorch or JAX: ``make test-all`` installs both)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from test_compile import assert_matches, eager_backward, eager_outputs
from test_export import digits_case, moons_case

import autograd
import nn
from autograd import CompileError, Value


def moons() -> tuple[Any, list[Value], list[np.ndarray]]:
    return moons_case()


def digits() -> tuple[Any, list[Value], list[np.ndarray]]:
    return digits_case(64)


def mixed_ops() -> tuple[Any, list[Value], list[np.ndarray]]:
    """Several ops of the table, a float target and a sum over a closure's parameters."""
    rng = np.random.default_rng(5)
    w = [Value(float(v)) for v in rng.normal(size=4)]

    def fn(x: list[Value], t: Value) -> Value:
        a = (w[0] * x[0] + w[1]).tanh() + (w[2] * x[1]).sigmoid() * x[0].exp()
        b = autograd.logsumexp([a, w[3] * x[1], (x[0] * w[1]).softplus()])
        return (b - t) ** 2 + autograd.maximum([a, b]).relu() + (w[3] * w[3] + 1.0).log()

    return fn, w, [rng.normal(size=(16, 2)), rng.normal(size=16)]


def gpt() -> tuple[Any, list[Value], list[np.ndarray]]:
    """A small GPT in microgpt's shape: gathers by token id, layers at several positions, max() of data."""
    from test_compile_gather import docs, make_gpt

    fn, params, _ = make_gpt(layers=1)
    return fn, params, [docs(np.random.default_rng(0), 6, 5)]


CASES = {"moons": moons, "digits": digits, "mixed ops": mixed_ops, "gpt": gpt}


# --- PyTorch ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_torch_module_equals_eager(case: str) -> None:
    torch = pytest.importorskip("torch")
    fn, params, batches = CASES[case]()
    step = autograd.compile(fn, params)
    step(*batches)
    module = step.to_torch()
    theta = np.array([p.data for p in params])
    assert np.array_equal(torch.nn.utils.parameters_to_vector(module.parameters()).detach().numpy(), theta)
    results = module(*batches)
    assert results.dtype == torch.float64 and results.shape == (len(batches[0]),)
    loss = results.mean()
    loss.backward()
    grads = torch.cat([p.grad.reshape(-1) for p in module.parameters()]).numpy()
    eager = eager_outputs(fn, batches)
    eager_loss, eager_grads, loss_size, grad_sizes = eager_backward(fn, params, batches, "mean", eager.graphs)
    assert_matches(results.detach().numpy(), eager.results, f"{case}: torch results", eager.result_sizes)
    assert_matches(loss.item(), eager_loss, f"{case}: torch loss", loss_size)
    assert_matches(grads, eager_grads, f"{case}: torch gradients", grad_sizes)


def test_torch_module_is_ordinary_pytorch() -> None:
    """Layers are augmented (out, in + 1) parameters; torch.optim trains it to the loss gradtrace's SGD gives."""
    torch = pytest.importorskip("torch")
    fn, params, batches = moons()
    step = autograd.compile(fn, params)
    step(*batches)
    module = step.to_torch()
    shapes = [tuple(p.shape) for p in module.parameters()]
    assert shapes == [(16, 3), (16, 17), (1, 17)], shapes
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    optimizer.zero_grad()
    module(*batches).mean().backward()
    optimizer.step()
    sgd = nn.SGD(params, lr=0.5)
    sgd.zero_grad()
    step.backward(*batches)
    sgd.step()
    with torch.no_grad():
        after_torch = module(*batches).mean().item()
    after_gradtrace = float(np.mean(step(*batches)))
    assert after_torch == pytest.approx(after_gradtrace, rel=1e-12)
    assert "import torch" in module.code and "gradtrace" not in module.code.split("class Exported")[1].split('"""')[2]
    if torch.distributed.is_available():  # DistributedDataParallel wraps it (one process, gloo)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
        try:
            wrapped = torch.nn.parallel.DistributedDataParallel(module)
            wrapped(*batches).mean().backward()
            assert all(p.grad is not None for p in module.parameters())
        finally:
            torch.distributed.destroy_process_group()


def test_to_torch_refusals_and_the_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    w = Value(0.5)

    def leaky(x: list[Value]) -> Value:
        y = w * x[0]
        return y if y.data > 0 else 0.1 * y

    step = autograd.compile(leaky, [w])
    step(np.array([[1.0], [-1.0]]))
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(ImportError, match=r"gradtrace\[torch\]"):
        step.to_torch()
    monkeypatch.undo()
    pytest.importorskip("torch")
    with pytest.raises(CompileError, match="2 tapes"):
        step.to_torch()

    @autograd.primitive(name="frameworks_test_cube")
    def cube(x: Any) -> Any:
        return np.power(x, 3.0)

    @cube.derivative
    def cube_derivative(g: Any, out: Any, x: Any) -> Any:
        return g * 3.0 * np.square(x)

    try:
        own = autograd.compile(lambda x: cube(w * x[0]), [w])
        own(np.array([[1.0]]))
        with pytest.raises(CompileError, match="frameworks_test_cube has no torch form"):
            own.to_torch()
    finally:
        autograd.OPS.pop("frameworks_test_cube", None)


# --- JAX ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_jax_backend_equals_numpy_backend(case: str) -> None:
    pytest.importorskip("jax")
    fn, params, batches = CASES[case]()
    numpy_step = autograd.compile(fn, params)
    jax_step = autograd.compile(fn, params, backend="jax")
    for size in (len(batches[0]), 7, 1):
        part = [b[:size] for b in batches]
        expected = numpy_step(*part)
        for p in params:
            p.grad = 0.0
        expected_loss = numpy_step.backward(*part)
        expected_grads = np.array([p.grad for p in params])
        got = jax_step(*part)
        for p in params:
            p.grad = 0.0
        loss = jax_step.backward(*part)
        grads = np.array([p.grad for p in params])
        assert jax_step._jax is not None and jax_step._jax.usable()  # the call ran on JAX
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        np.testing.assert_allclose(grads, expected_grads, rtol=1e-12, atol=1e-15)


def test_jax_backend_trains_in_a_training_block_and_falls_back_for_other_branches() -> None:
    jax = pytest.importorskip("jax")
    x64_before = jax.config.jax_enable_x64
    fn, params, batches = moons()
    start = [p.data for p in params]
    losses = {}
    for backend in ("numpy", "jax"):
        for p, v in zip(params, start):
            p.data, p.grad = v, 0.0
        step = autograd.compile(fn, params, backend=backend)
        sgd = nn.SGD(params, lr=0.5)
        with step.training(sgd):
            for _ in range(3):
                sgd.zero_grad()
                losses.setdefault(backend, []).append(step.backward(*batches))
                sgd.step()
        losses[backend].append(float(np.mean(step(*batches))))
    np.testing.assert_allclose(losses["jax"], losses["numpy"], rtol=1e-12)
    assert jax.config.jax_enable_x64 == x64_before  # float64 for these calls alone
    # a sample that takes another branch than the traced one: the NumPy backend's call
    w = Value(0.5)
    leaky = lambda x: (w * x[0]) if (w * x[0]).data > 0 else 0.1 * (w * x[0])  # noqa: E731
    step = autograd.compile(leaky, [w], backend="jax")
    step(np.array([[1.0]]))
    got = step(np.array([[1.0], [-2.0]]))
    assert got.tolist() == [0.5, -0.1 * 1.0] and step.patterns == 2


def test_jax_backend_errors() -> None:
    with pytest.raises(ValueError, match="unknown backend 'torch'; accepted: 'numpy', 'jax'"):
        autograd.compile(lambda x: x[0] * 1.0, [], backend="torch")
    pytest.importorskip("jax")
    w = Value(0.5)

    @autograd.primitive(name="frameworks_test_square")
    def square(x: Any) -> Any:
        return x * x

    @square.derivative
    def square_derivative(g: Any, out: Any, x: Any) -> Any:
        return 2.0 * g * x

    try:
        step = autograd.compile(lambda x: square(w * x[0]), [w], backend="jax")
        with pytest.raises(CompileError, match="frameworks_test_square has no jax form"):
            step(np.array([[1.0], [2.0]]))
    finally:
        autograd.OPS.pop("frameworks_test_square", None)


JAX_FUZZ_PROGRAMS = 40


def test_jax_backend_equals_numpy_backend_on_fuzz_programs() -> None:
    """The compile fuzzer's random programs (every op, branches, calcs, labels, closures whose Values
    change between calls, non-finite data): the JAX backend's results, loss and gradient are the
    NumPy backend's, or it refuses with a CompileError naming what has no JAX form."""
    pytest.importorskip("jax")
    from fuzz_compile import cleaned_up, generate, load, make_batch, program_seed

    ran = 0
    for i in range(JAX_FUZZ_PROGRAMS):
        program = generate(program_seed(5, i), exclude=("threads",))
        with cleaned_up(program):
            rng = np.random.default_rng(program.seed)
            fn, params, constants, _ = load(program)
            numpy_step = autograd.compile(fn, params, reduction=program.reduction)
            jax_step = autograd.compile(fn, params, reduction=program.reduction, backend="jax")
            for n, size in enumerate([3, 40]):
                if n:
                    for v in (*params, *constants):
                        v.data = float(rng.uniform(-1.5, 1.5))
                batches = make_batch(program, rng, size, first=n == 0)
                try:
                    expected = numpy_step(*batches)
                    has_loss = not numpy_step._patterns.tapes[0].result_list
                    for p in params:
                        p.grad = 0.0
                    expected_loss = numpy_step.backward(*batches) if has_loss else None
                    expected_grads = np.array([p.grad for p in params])
                except Exception:  # noqa: BLE001 - the NumPy backend raises or refuses: nothing to compare
                    break
                try:
                    got = jax_step(*batches)
                    for p in params:
                        p.grad = 0.0
                    loss = jax_step.backward(*batches) if has_loss else None
                except CompileError:
                    break
                grads = np.array([p.grad for p in params])
                ran += 1
                np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300, equal_nan=True,
                                           err_msg=f"program {program.seed}, batch {n}")  # fmt: skip
                if has_loss:
                    assert loss == pytest.approx(expected_loss, rel=1e-12, nan_ok=True), program.seed
                    scale = max(1.0, float(np.nanmax(np.abs(expected_grads), initial=0.0)))
                    np.testing.assert_allclose(grads, expected_grads, rtol=1e-12, atol=1e-15 * scale, equal_nan=True,
                                               err_msg=f"program {program.seed}, batch {n}")  # fmt: skip
    assert ran >= JAX_FUZZ_PROGRAMS, ran
