"""A fixed-seed slice of the differential fuzzer (tests/fuzz_compile.py) in the suite:
every program compiled by ``autograd.compile`` equals eager gradtrace or is refused with
``CompileError``. ``make fuzz N=...`` runs more programs. The other tests here check the
fuzzer itself: that it can fail, and that its programs are what they say.
"""

from __future__ import annotations

import numpy as np
import pytest
from fuzz_compile import FEATURES, fuzz, generate, load, run, table_ops

import autograd

SLICE_SEED = 2026
SLICE_PROGRAMS = 300
# Features whose programs compile is still allowed to get wrong: none may stay here
# silently; each one named is a known hole in compile's soundness.
STILL_UNSOUND: tuple[str, ...] = ()


def _reports(outcomes: list) -> str:
    return "\n\n".join(o.report() for o in outcomes[:3])


def test_a_fixed_slice_of_random_programs_equals_eager_or_is_refused() -> None:
    summary = fuzz(SLICE_PROGRAMS, SLICE_SEED, exclude=STILL_UNSOUND)
    assert not summary.mismatches, (
        f"{len(summary.mismatches)} of {SLICE_PROGRAMS} programs differ from eager:\n{summary.text()}\n\n"
        f"{_reports(summary.mismatches)}"
    )
    assert summary.count("invalid") <= SLICE_PROGRAMS // 50, summary.text()
    # the slice must mostly compile, not pass by refusing: programs without special
    # constructs always do, and so must a third of all
    plain = [o for o in summary.outcomes if not o.program.features]
    assert plain and all(o.status == "equal" for o in plain), _reports([o for o in plain if o.status != "equal"])
    assert summary.count("equal") >= SLICE_PROGRAMS // 3, summary.text()
    used = {op for o in summary.outcomes for op in o.program.ops}
    assert {op.name for op in table_ops()} <= used, f"table ops never fuzzed: {sorted({op.name for op in table_ops()} - used)}"
    features = {f for o in summary.outcomes for f in o.program.features}
    assert features == set(FEATURES) - set(STILL_UNSOUND), f"features never fuzzed: {sorted(set(FEATURES) - features)}"


def test_a_program_is_the_same_source_for_its_seed_and_runs_as_code() -> None:
    program = generate(7)
    assert generate(7).source == program.source
    assert generate(8).source != program.source
    compile(program.source, "<program>", "exec")  # noqa: S102 - valid Python
    fn, params, _, _ = load(program)
    args: list = [[autograd.Value(0.5) for _ in range(program.width)]]
    args += [autograd.Value(0.3) if name == "t" else [1] * program.tok_len if name == "tok" else 1 for name in program.args]
    out = fn(*args)
    assert isinstance(out[0] if isinstance(out, tuple) else out, autograd.Value)
    for name in program.own_names:
        autograd.OPS.pop(name, None)


def _plain_seed() -> int:
    seed = 0
    while generate(seed).features:
        seed += 1
    return seed


@pytest.mark.parametrize("wrong", ["result", "grad", "raise"])
def test_the_fuzzer_catches_a_compile_that_differs_from_eager(monkeypatch: pytest.MonkeyPatch, wrong: str) -> None:
    seed = _plain_seed()
    assert run(generate(seed)).status == "equal"
    call, backward = autograd.CompiledStep.__call__, autograd.CompiledStep.backward

    def wrong_call(self, *batches):  # type: ignore[no-untyped-def]
        results = call(self, *batches)
        return results * (1 + 1e-10) if wrong == "result" else results

    def wrong_backward(self, *batches):  # type: ignore[no-untyped-def]
        if wrong == "raise":
            raise IndexError("a replay bug")
        total = backward(self, *batches)
        if wrong == "grad":
            self.params[0].grad += 1e-9 * (1.0 + abs(self.params[0].grad))
        return total

    monkeypatch.setattr(autograd.CompiledStep, "__call__", wrong_call)
    monkeypatch.setattr(autograd.CompiledStep, "backward", wrong_backward)
    outcome = run(generate(seed))
    assert outcome.status == "mismatch", outcome.report()
    assert generate(seed).source in outcome.report()  # the program is printed with the mismatch


def test_a_compile_error_counts_as_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = _plain_seed()

    def refuse(self, *batches):  # type: ignore[no-untyped-def]
        raise autograd.CompileError("no")

    monkeypatch.setattr(autograd.CompiledStep, "__call__", refuse)
    assert run(generate(seed)).status == "refused"


def test_nonfinite_numbers_must_be_the_same() -> None:
    from fuzz_compile import Mismatch, same_numbers

    same_numbers([np.nan, np.inf, 1.0], [np.nan, np.inf, 1.0], "equal")
    for actual in ([1.0, np.inf, 1.0], [np.nan, -np.inf, 1.0], [np.nan, np.inf, np.nan]):
        with pytest.raises(Mismatch):
            same_numbers(actual, [np.nan, np.inf, 1.0], "differs")


@pytest.mark.xfail(
    strict=True,
    reason="known gap: in a batch with ±1e308 and inf data, a gradient that overflows partway is multiplied in "
    "another order than eager's, so compile's .grad reads 0.0 where eager's 0·inf gives nan",
)
def test_program_2026004560_overflowing_gradient_equals_eager() -> None:
    outcome = run(generate(2026004560))
    assert outcome.status != "mismatch", outcome.report()
