"""examples/microgpt.py, a GPT in scalar code with its own ``Value`` class, runs on gradtrace
with only that class replaced by ``from autograd import Value``.

Each run is a separate program, as a user runs it: once as written, once edited (the
lines of ``class Value`` become the import line, found with ``ast``), a few steps on a small
generated names list with a tiny model. The later revision (one ``backward()`` of the mean
loss) prints the same losses on both engines. The early revision (a ``backward()`` per
position) gives gradtrace the gradient PyTorch gives (skipped without torch); its own class
counts the key/value cache's gradients again at every later position, so there the two
engines differ in the parameters the cache's keys and values come from, and agree in the rest.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "benchmarks"))  # microgpt_program, microgpt_numpy

import microgpt_numpy  # noqa: E402
import microgpt_program  # noqa: E402

SIZE = ["--n-embd", "8", "--n-head", "2", "--block-size", "8", "--n-layer", "1"]
STEPS = 4
# the parameters whose gradient reaches them only through the current position (not the cache)
NOT_THROUGH_THE_CACHE = ("layer0.attn_wq", "layer0.attn_wo", "layer0.mlp_fc1", "layer0.mlp_fc2", "lm_head")
THROUGH_THE_CACHE = ("layer0.attn_wk", "layer0.attn_wv", "wte", "wpe")


def generated_names(count: int = 40, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice("aeioulmnrst") for _ in range(rng.randint(2, 11))) for _ in range(count)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """(revision, engine): the program's stdout and what it saved, each from its own process."""
    folder = tmp_path_factory.mktemp("microgpt")
    (folder / "names.txt").write_text("\n".join(generated_names()) + "\n", encoding="utf-8")
    (folder / "microgpt.py").write_text(microgpt_program.source("microgpt"), encoding="utf-8")
    (folder / "microgpt_gradtrace.py").write_text(microgpt_program.edited_source(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's autograd
    found = {}
    for revision in ("later", "early"):
        for engine, program in (("microgpt", "microgpt.py"), ("gradtrace", "microgpt_gradtrace.py")):
            saved = folder / f"{revision}-{engine}.json"
            done = subprocess.run(
                [sys.executable, program, "--names", "names.txt", "--steps", str(STEPS), "--seed", "3", "--samples", "3",
                 "--revision", revision, "--save", saved.name, *SIZE],
                cwd=folder, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
            found[revision, engine] = {"stdout": done.stdout, **json.loads(saved.read_text(encoding="utf-8"))}
    return found


def test_the_edit_replaces_the_class_and_nothing_else() -> None:
    written, edited = microgpt_program.source("microgpt"), microgpt_program.edited_source()
    assert "class Value" in written and "\nclass Value" not in edited
    assert "\nfrom autograd import Value\n" in edited
    removed = [line for line in written.splitlines() if line not in edited.splitlines()]
    kept = [line for line in edited.splitlines() if line not in written.splitlines()]
    assert kept == ["from autograd import Value"]
    assert removed[0] == "class Value:" and all(not line or line.startswith("    ") for line in removed[1:])
    with pytest.raises(ValueError, match="found 0"):
        microgpt_program.edited_source("x = 1\n")


def test_later_revision_prints_the_same_losses_and_names_on_both_engines(runs: dict) -> None:
    own, ours = runs["later", "microgpt"], runs["later", "gradtrace"]
    printed = re.findall(r"^step +\d+ / +\d+ \| loss (\d+\.\d{6})$", own["stdout"], re.M)
    assert len(printed) == STEPS
    assert ours["stdout"] == own["stdout"]  # every printed loss to its 6th decimal, and the sampled names
    assert "--- sampled names ---" in ours["stdout"]
    # closer than printed: within a few units in the last place
    assert max(abs(a - b) / b for a, b in zip(ours["losses"], own["losses"])) < 1e-14
    assert own["losses"][-1] < own["losses"][0]  # it learns


def torch_loss(torch: Any, weights: dict[str, Any], tokens: list[int], n_head: int, block_size: int) -> Any:
    """The model on whole matrices in PyTorch: causal attention with a mask, not a cache."""
    n = min(block_size, len(tokens) - 1)
    x_in, targets = torch.tensor(tokens[:n]), torch.tensor(tokens[1 : n + 1])

    def rmsnorm(x: Any) -> Any:
        return x * (x.pow(2).mean(dim=1, keepdim=True) + 1e-5) ** -0.5

    x = rmsnorm(weights["wte"][x_in] + weights["wpe"][:n])
    d = x.shape[1] // n_head
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
    h = rmsnorm(x)
    q, k, v = (h @ weights[f"layer0.attn_w{m}"].T for m in "qkv")
    heads = []
    for i in range(n_head):
        part = slice(i * d, (i + 1) * d)
        scores = (q[:, part] @ k[:, part].T / d**0.5).masked_fill(future, float("-inf"))
        heads.append(torch.softmax(scores, dim=1) @ v[:, part])
    x = torch.cat(heads, dim=1) @ weights["layer0.attn_wo"].T + x
    x = torch.relu(rmsnorm(x) @ weights["layer0.mlp_fc1"].T) @ weights["layer0.mlp_fc2"].T + x
    return torch.nn.functional.cross_entropy(x @ weights["lm_head"].T, targets)


def relative(a: list[list[float]], b: list[list[float]]) -> float:
    a_, b_ = np.array(a), np.array(b)
    return float(np.max(np.abs(a_ - b_)) / np.max(np.abs(b_)))


@pytest.mark.parametrize("revision", ["early", "later"])
def test_gradtrace_gradients_equal_pytorchs(runs: dict, revision: str) -> None:
    torch = pytest.importorskip("torch")
    ours = runs[revision, "gradtrace"]
    weights = {key: torch.tensor(mat, dtype=torch.float64, requires_grad=True) for key, mat in ours["weights"].items()}
    loss = torch_loss(torch, weights, ours["tokens"], n_head=2, block_size=8)
    loss.backward()
    assert abs(loss.item() - ours["losses"][0]) < 1e-14
    for key, weight in weights.items():
        assert relative(ours["grads"][key], weight.grad.tolist()) < 1e-12, key


def test_early_revision_differs_in_the_cache_parameters_only_on_its_own_engine(runs: dict) -> None:
    own, ours, later = runs["early", "microgpt"], runs["early", "gradtrace"], runs["later", "gradtrace"]
    assert len(ours["tokens"]) > 3  # more than two positions: the cache is read again
    # on gradtrace, a backward() per position adds up to the mean's gradient
    for key in ours["grads"]:
        assert relative(ours["grads"][key], later["grads"][key]) < 1e-12, key
    # its own class agrees where the gradient does not pass through the cache ...
    for key in NOT_THROUGH_THE_CACHE:
        assert relative(own["grads"][key], ours["grads"][key]) < 1e-12, key
    # ... and counts it again at every later position where it does
    for key in THROUGH_THE_CACHE:
        assert relative(own["grads"][key], ours["grads"][key]) > 1e-2, key
    # the first step's forward pass is the same; from the second step on, the updates differ
    assert abs(own["losses"][0] - ours["losses"][0]) < 1e-14
    assert abs(own["losses"][1] - ours["losses"][1]) > 1e-6


def test_numpy_port_equals_eager_gradtrace() -> None:
    program = microgpt_program.load("gradtrace", ["--steps", "0", "--samples", "0", "--seed", "5", *SIZE, "--n-layer", "2"])
    weights = {key: np.array([[p.data for p in row] for row in mat]) for key, mat in program["state_dict"].items()}
    for name in ("emma", "al", "abcdefghijklmn"):  # the last is longer than the context and is cut
        tokens = program["tokenize"](name)
        loss = program["document_loss"](tokens)
        loss.backward()
        value, grads = microgpt_numpy.loss_and_grads(weights, tokens, n_layer=2, n_head=2, block_size=8)
        assert abs(value - loss.data) <= 4e-16 * loss.data, name
        for key, mat in program["state_dict"].items():
            assert relative(grads[key].tolist(), [[p.grad for p in row] for row in mat]) < 1e-13, (name, key)
        for p in program["params"]:
            p.grad = 0


@pytest.mark.parametrize("engine", microgpt_program.ENGINES)
def test_a_name_longer_than_the_context_is_cut_as_microgpt_cuts_it(engine: str) -> None:
    """Only the first block_size positions are predicted: the name's first block_size - 1
    characters and the one after them; the rest, and the closing BOS, are not seen."""
    program = microgpt_program.load(engine, ["--steps", "0", "--samples", "0", *SIZE])
    long = program["tokenize"]("abcdefghijkl")  # 14 tokens, 8 positions
    assert len(long) - 1 > 8
    cut = long[:9]
    assert program["document_loss"](long).data == program["document_loss"](cut).data
    assert program["document_loss"](long).data != program["document_loss"](long[:8] + [program["BOS"]]).data


def test_bad_arguments_say_what_was_given_and_what_is_accepted(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    for argv, message in ((["--n-embd", "10", "--n-head", "4"], "--n-head must divide --n-embd; got 4 heads for a width of 10"),
                          (["--block-size", "0"], "--block-size must be positive; got 0"),
                          (["--temperature", "0"], "--temperature must be in (0, 1]; got 0.0"),
                          (["--names", str(empty)], "the file holds no names")):  # fmt: skip
        done = subprocess.run([sys.executable, str(microgpt_program.PROGRAM), *argv], capture_output=True, text=True)
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_the_benchmark_workload_reports_every_engine_and_equal_losses(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny", "--workloads", "microgpt",
                           "--engines", "gradtrace,microgpt,numpy,compiled_adam", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "## microgpt: a GPT in scalar code, one name per step" in text
    for engine in ("gradtrace", "microgpt", "numpy", "compiled_adam"):
        assert f"| {engine} (ms) |" in text
    for setting in ("on (Python's default)", "off"):
        assert re.search(rf"^\| {re.escape(setting)} \| \*\*total\*\* \|.*\*\*\d+\.\d+×\*\* \|", text, re.M), text
    equal = re.search(r"^\| eager gradtrace's losses within 1e-12 of microgpt's own engine's, relative \| (\S+) \| "
                      r"\*\*met\*\* \|$", text, re.M)
    assert equal and float(equal.group(1)) < 1e-14, text
    agreement = re.search(r"microgpt's own Value (\S+), NumPy by hand (\S+), compiled \+ nn.Adam in step.training (\S+)\.",
                          text)
    assert agreement and all(float(x) < 1e-12 for x in agreement.groups()), text
    # the fast path's row: its whole-step target is stated (met or not: the tiny size's figures mean nothing),
    # its losses are within the target's 1e-10 of eager's
    assert re.search(r"^\| compiled \+ nn.Adam in step.training ≥ 25× eager gradtrace per step, one name per call "
                     r"\(the whole step: forward, backward, Adam\) \| \d+\.?\d*× \| \*\*(met|missed)\*\* \|$", text, re.M), text
    losses = re.search(r"^\| compiled \+ nn.Adam in step.training: losses within 1e-10 of eager gradtrace's, "
                       r"relative \(every step\) \| (\S+) \| \*\*met\*\* \|$", text, re.M)
    assert losses and float(losses.group(1)) < 1e-12, text


def test_nn_adam_in_the_training_block_trains_as_the_programs_own_adam(tmp_path: Path) -> None:
    """The fast path (docs/microgpt.md, the bench's compiled_adam): the compiled step with nn.Adam given the
    program's betas and eps, its lr set per step to the program's linear decay, inside step.training. Against
    the program's own loop on eager gradtrace (its adam_update in plain floats): the losses of every step and
    the trained parameters agree to 1e-10 (nn.Adam rounds in PyTorch's order, so not bit for bit)."""
    import autograd
    import nn

    (tmp_path / "names.txt").write_text("\n".join(generated_names()) + "\n", encoding="utf-8")
    argv = ["--steps", "0", "--samples", "0", "--seed", "3", "--names", str(tmp_path / "names.txt"), *SIZE]
    eager, fast = microgpt_program.load("gradtrace", argv), microgpt_program.load("gradtrace", argv)
    steps, docs = 12, eager["docs"]
    start = [p.data for p in eager["params"]]
    assert [p.data for p in fast["params"]] == start and fast["docs"] == docs
    eager_losses = []
    for step in range(steps):
        loss = eager["document_loss"](eager["tokenize"](docs[step % len(docs)]))
        loss.backward()
        eager_losses.append(loss.data)
        eager["adam_update"](step, steps)

    params = fast["params"]
    step_fn = autograd.compile(fast["document_loss"], params)
    opt = nn.Adam(params, lr=fast["learning_rate"], betas=(fast["beta1"], fast["beta2"]), eps=fast["eps"])
    fast_losses = []
    with step_fn.training(opt) as training:
        for step in range(steps):
            fast_losses.append(step_fn.backward(np.array([fast["tokenize"](docs[step % len(docs)])])))
            opt.lr = fast["learning_rate"] * (1 - step / steps)
            opt.step()
            opt.zero_grad()
        assert training.is_open and opt.steps_on_arrays()  # Adam stepped on the block's arrays
    assert opt.t == steps
    assert np.array_equal(training.theta, [p.data for p in params])  # written back at the block's end

    trained, reference = np.array([p.data for p in params]), np.array([p.data for p in eager["params"]])
    assert np.max(np.abs(reference - np.array(start))) > 1e-3  # the loop trained
    assert np.max(np.abs(np.array(fast_losses) - eager_losses)) <= 1e-10 * max(map(abs, eager_losses))
    assert np.max(np.abs(trained - reference)) <= 1e-10 * np.max(np.abs(reference))
    assert all(p.grad == 0 for p in params)
