"""autograd.compile on microgpt-shaped programs: rows of ints (token ids), ``table[token_id]``
as a gather, ``max(v.data for v in logits)`` replayed per sample, one tape per length.

Every compiled number is checked against eager gradtrace on the same program: the per-sample
results, the batch loss and every parameter's ``.grad``.
"""

from __future__ import annotations

import builtins
import random
import threading

import numpy as np
import pytest

import autograd
from autograd import Value
from autograd.compiler.trace import _PICKS

# --- a small GPT in microgpt's shape ------------------------------------------------------------------

VOCAB, EMBD, HEADS, BLOCK = 7, 8, 2, 6


def make_gpt(seed: int = 0, layers: int = 1, tied: bool = False):
    """(doc_loss, params, state): token and position tables as lists of rows of Values, one
    attention layer with a key/value cache, rmsnorm, a ReLU MLP, a softmax that subtracts a
    max read out of the graph, the mean loss over positions. ``tied``: the output layer is wte."""
    rng = random.Random(seed)

    def matrix(rows: int, cols: int) -> list[list[Value]]:
        return [[Value(rng.gauss(0, 0.4)) for _ in range(cols)] for _ in range(rows)]

    state = {"wte": matrix(VOCAB, EMBD), "wpe": matrix(BLOCK, EMBD)}
    state["lm_head"] = state["wte"] if tied else matrix(VOCAB, EMBD)
    for i in range(layers):
        for name, shape in {"wq": (EMBD, EMBD), "wk": (EMBD, EMBD), "wv": (EMBD, EMBD), "wo": (EMBD, EMBD),
                            "fc1": (2 * EMBD, EMBD), "fc2": (EMBD, 2 * EMBD)}.items():  # fmt: skip
            state[f"{i}.{name}"] = matrix(*shape)
    seen: set[int] = set()
    params = [p for m in state.values() for row in m for p in row if not (id(p) in seen or seen.add(id(p)))]
    hd = EMBD // HEADS

    def linear(x, w):
        return [sum(wi * xi for wi, xi in zip(row, x)) for row in w]

    def softmax(logits):
        top = max(v.data for v in logits)
        exps = [(v - top).exp() for v in logits]
        total = sum(exps)
        return [e / total for e in exps]

    def rmsnorm(x):
        ms = sum(xi * xi for xi in x) / len(x)
        return [xi * (ms + 1e-5) ** -0.5 for xi in x]

    def gpt(token_id, pos_id, keys, values):
        x = rmsnorm([t + p for t, p in zip(state["wte"][token_id], state["wpe"][pos_id])])
        for li in range(layers):
            res = x
            x = rmsnorm(x)
            q = linear(x, state[f"{li}.wq"])
            keys[li].append(linear(x, state[f"{li}.wk"]))
            values[li].append(linear(x, state[f"{li}.wv"]))
            out = []
            for h in range(HEADS):
                s = slice(h * hd, (h + 1) * hd)
                qh, kh, vh = q[s], [k[s] for k in keys[li]], [v[s] for v in values[li]]
                att = softmax([sum(a * b for a, b in zip(qh, kt)) / hd**0.5 for kt in kh])
                out += [sum(a * vt[j] for a, vt in zip(att, vh)) for j in range(hd)]
            x = [a + b for a, b in zip(linear(out, state[f"{li}.wo"]), res)]
            res = x
            x = [xi.relu() for xi in linear(rmsnorm(x), state[f"{li}.fc1"])]
            x = [a + b for a, b in zip(linear(x, state[f"{li}.fc2"]), res)]
        return linear(x, state["lm_head"])

    def doc_loss(tokens):
        n = min(BLOCK, len(tokens) - 1)
        keys, values = [[] for _ in range(layers)], [[] for _ in range(layers)]
        losses = []
        for pos_id in range(n):
            probs = softmax(gpt(tokens[pos_id], pos_id, keys, values))
            losses.append(-probs[tokens[pos_id + 1]].log())
        return (1 / n) * sum(losses)

    return doc_loss, params, state


def eager(fn, params, *batches):
    """Per-sample results, mean loss and gradients of eager gradtrace on the batch."""
    for p in params:
        p.grad = 0.0
    rows = [[b[i].tolist() if np.ndim(b) == 2 else b[i].item() for b in batches] for i in range(len(batches[0]))]
    outs = [fn(*r) for r in rows]
    loss = autograd.mean(outs)
    loss.backward()
    grads = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    return np.array([o.data for o in outs]), loss.data, grads


def compiled(step, params, *batches):
    for p in params:
        p.grad = 0.0
    out = step(*batches)
    loss = step.backward(*batches)
    grads = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    return out, loss, grads


def assert_equal_to_eager(step, fn, params, *batches, tol=1e-12):
    e_out, e_loss, e_grads = eager(fn, params, *batches)
    c_out, c_loss, c_grads = compiled(step, params, *batches)
    np.testing.assert_allclose(c_out, e_out, rtol=tol, atol=tol)
    assert abs(c_loss - e_loss) <= 1e-10 * max(1.0, abs(e_loss))
    scale = max(1.0, float(np.abs(e_grads).max()))
    np.testing.assert_allclose(c_grads, e_grads, rtol=0, atol=tol * scale)


def docs(rng, count, length, low=0, high=VOCAB):
    tokens = rng.integers(low, high, size=(count, length))
    tokens[:, 0] = VOCAB - 1  # BOS
    return tokens


# --- the compiled step equals eager --------------------------------------------------------------------


def test_a_gpt_step_equals_eager_over_lengths_and_batches():
    fn, params, _ = make_gpt()
    step = autograd.compile(fn, params)
    rng = np.random.default_rng(1)
    lengths = []
    for length, count in [(5, 1), (5, 4), (3, 2), (8, 3), (5, 16), (2, 1), (3, 5)]:  # 8 > BLOCK + 1: cut
        assert_equal_to_eager(step, fn, params, docs(rng, count, length))
        lengths.append(length)
        # one tape per length: the token ids, the targets and the softmax's max are replayed per sample
        assert step.patterns == len(set(lengths))
    kinds = {g.kind for g in step.groups}
    assert {"gather", "matmul", "chains"} <= kinds


def test_repeated_tokens_in_one_document_and_tokens_only_a_later_batch_uses():
    fn, params, _ = make_gpt(seed=3)
    step = autograd.compile(fn, params)
    first = np.array([[6, 1, 1, 1, 2], [6, 2, 2, 1, 1]])  # tokens 1, 2 and 6 only; repeated within each
    assert_equal_to_eager(step, fn, params, first)
    later = np.array([[6, 5, 5, 5, 5], [6, 3, 4, 3, 0], [6, 0, 0, 0, 0]])  # tokens the first batch never had
    assert_equal_to_eager(step, fn, params, later)
    assert step.patterns == 1
    # the rows of wte that only the later batch picked got their gradient: one check by hand
    for p in params:
        p.grad = 0.0
    step.backward(later)
    assert any(p.grad != 0.0 for p in _row(params, 5))
    assert all(p.grad == 0.0 for p in _row(params, 6)[:0])  # (BOS's row is read at position 0 in both)


def _row(params, token):
    """wte's row ``token`` among params (wte comes first, row by row)."""
    return params[token * EMBD : (token + 1) * EMBD]


def test_two_layers_and_a_tied_output_layer():
    rng = np.random.default_rng(2)
    for fn, params, _ in (make_gpt(seed=4, layers=2), make_gpt(seed=5, tied=True)):
        step = autograd.compile(fn, params)
        for length, count in [(4, 3), (6, 2), (4, 1)]:
            assert_equal_to_eager(step, fn, params, docs(rng, count, length))


def test_the_tables_are_left_as_they_were():
    fn, params, state = make_gpt(seed=6)
    rows = {name: [id(row) for row in table] for name, table in state.items()}
    values = {name: [[id(v) for v in row] for row in table] for name, table in state.items()}
    step = autograd.compile(fn, params)
    step.backward(docs(np.random.default_rng(0), 3, 5))
    assert {name: [id(row) for row in table] for name, table in state.items()} == rows
    assert {name: [[id(v) for v in row] for row in table] for name, table in state.items()} == values
    assert all(type(row) is list for table in state.values() for row in table)


def test_a_list_of_values_indexed_by_a_class_index_and_negative_indices():
    rng = random.Random(0)
    bias = [Value(rng.gauss(0, 1)) for _ in range(5)]
    w = Value(0.7)

    def fn(x, t):
        return (w * x[0] + bias[t]) ** 2

    step = autograd.compile(fn, [w, *bias])
    X = np.array([[0.5], [-1.0], [2.0], [0.1], [1.5], [0.3]])
    t = np.array([0, 4, -1, -5, 2, 4])  # Python counts negative indices from the end: eager does too
    assert_equal_to_eager(step, fn, [w, *bias], X, t)
    assert step.patterns == 1


def test_a_gather_of_nodes_picks_each_samples_own_node():
    w = [Value(0.3 * k - 0.5) for k in range(4)]

    def fn(x, t):
        nodes = [wk * x[0] for wk in w]  # per-sample nodes
        return nodes[t].tanh()

    step = autograd.compile(fn, w)
    X = np.array([[1.0], [2.0], [-1.5]])
    assert_equal_to_eager(step, fn, w, X, np.array([0, 3, 2]))
    assert_equal_to_eager(step, fn, w, X, np.array([1, 1, 1]))
    assert step.patterns == 1


def test_the_same_table_indexed_by_a_plain_int_too():
    fn, params, state = make_gpt(seed=7)

    def both(tokens):
        # wte[3] directly, next to wte[token] with a token that is 3 in the traced sample
        return fn(tokens) + 0.1 * sum(state["wte"][3]) * state["wte"][tokens[1]][0]

    step = autograd.compile(both, params)
    assert_equal_to_eager(step, both, params, np.array([[6, 3, 1, 2]]))
    assert_equal_to_eager(step, both, params, np.array([[6, 0, 1, 2], [6, 3, 3, 3], [6, 5, 4, 2]]))


def test_a_token_id_out_of_range_names_the_sample():
    fn, params, _ = make_gpt(seed=8)
    step = autograd.compile(fn, params)
    step.backward(np.array([[6, 1, 2, 3]]))
    for p in params:
        p.grad = 0.0
    bad = np.array([[6, 1, 2, 3], [6, 2, 2, 2], [6, 1, 7, 3]])  # sample 2's token 7: the vocabulary is 0..6
    with pytest.raises(IndexError, match=r"sample 2 .* 7, out of range"):
        step.backward(bad)
    with pytest.raises(IndexError, match=r"sample 1 .* -8, out of range"):
        step(np.array([[6, 1, 2, 3], [6, -8, 2, 3]]))
    # nothing was added to .grad by the refused calls
    assert all(p.grad == 0.0 for p in params)
    # eager raises too
    with pytest.raises(IndexError):
        fn([6, 1, 7, 3])


def test_one_tape_per_length_each_with_its_own_groups():
    fn, params, _ = make_gpt(seed=9)
    step = autograd.compile(fn, params)
    rng = np.random.default_rng(3)
    for length in (3, 4, 5, 3, 4):
        step.backward(docs(rng, 2, length))
    assert step.patterns == 3


# --- max() and min() of numbers read out of the graph ---------------------------------------------------


def test_max_of_data_is_replayed_per_sample_not_guarded():
    w = [Value(0.5 * k - 1.0) for k in range(5)]

    def fn(x):
        logits = [wk * x[0] + x[k] for k, wk in enumerate(w)]
        top = max(v.data for v in logits)
        low = min(v.data for v in logits)
        return sum((v - top).exp() for v in logits) * (low - top)

    step = autograd.compile(fn, w)
    X = np.random.default_rng(4).normal(size=(40, 5)) * 3
    assert_equal_to_eager(step, fn, w, X)
    assert step.patterns == 1  # the argmax differs from sample to sample: still one tape


@pytest.mark.parametrize("name", ["max", "min"])
def test_the_replayed_max_picks_as_pythons_does(name):
    """Python's max keeps the first of equal operands (-0.0 before 0.0), keeps a nan that comes
    first and passes over a later one; the replay's pick agrees on every row."""
    rng = np.random.default_rng(5)
    pool = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.5])
    rows = pool[rng.integers(0, len(pool), size=(400, 4))]
    got = _PICKS[name](rows[:, None, :])[:, 0]
    want = np.array([getattr(builtins, name)(row.tolist()) for row in rows])
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    assert same.all()
    assert (np.signbit(got) == np.signbit(want))[~np.isnan(want)].all()


def test_max_stays_the_builtin_outside_a_trace_and_in_other_threads():
    assert builtins.max is max and max([1, 3, 2]) == 3
    fn, params, _ = make_gpt(seed=10)
    step = autograd.compile(fn, params)
    seen = []

    def other():
        seen.append(max(x for x in [1.5, -2.0]))

    def traced(tokens):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        return fn(tokens)

    autograd.compile(traced, params).backward(np.array([[6, 1, 2]]))
    assert seen == [1.5]
    assert builtins.max.__module__ == "builtins"
    step.backward(np.array([[6, 1, 2]]))


# --- what is refused, and what falls back to a guard ------------------------------------------------------


def test_an_index_made_from_the_data_is_refused_with_what_to_write():
    table = [Value(1.0), Value(2.0)]

    def fn(x):
        return table[x[0].data > 0]  # a bool is an int: a guard, fine

    step = autograd.compile(lambda x: 1.0 * table[int(x[0].data > 0)], table)
    assert step(np.array([[1.0], [-1.0]])).tolist() == [2.0, 1.0]

    def by_float(x):
        return 1.0 * table[x[0].data]

    with pytest.raises(autograd.CompileError, match=r"as an index.*integer array.*table\[token_id\]"):
        autograd.compile(by_float, table)(np.array([[1.0]]))


def test_changing_a_gathered_row_is_refused():
    fn, params, state = make_gpt(seed=11)

    def changes(tokens):
        row = state["wte"][tokens[0]]
        row[0] = row[1]
        return fn(tokens)

    with pytest.raises(autograd.CompileError, match="changes a row it took"):
        autograd.compile(changes, params)(np.array([[6, 1, 2]]))
    assert all(type(row) is list and all(v.__class__ is Value for v in row) for row in state["wte"])


def test_a_subscript_that_cannot_be_proven_a_gather_is_a_guard_and_still_exact():
    rng = random.Random(1)
    table = [Value(rng.gauss(0, 1)) for _ in range(6)]
    as_tuple = tuple(table)
    w = Value(0.4)

    def fn(x, t):
        # a tuple cannot take a stand-in, and t + 1 is recomputed: each a guard on t's value
        return w * x[0] * as_tuple[t] + table[t + 1]

    step = autograd.compile(fn, [w, *table])
    X = np.array([[0.5], [1.0], [-2.0], [0.25]])
    t = np.array([0, 3, 0, 4])
    assert_equal_to_eager(step, fn, [w, *table], X, t)
    assert step.patterns == 3  # one per value of t


def test_source_that_cannot_be_read_is_named_when_the_patterns_run_out():
    namespace: dict = {}
    exec("def fn(x, t):\n    return table[t] * x[0]\n", namespace)  # no file: no source text to read
    table = [Value(float(k)) for k in range(80)]
    namespace["table"] = table
    step = autograd.compile(namespace["fn"], table)
    X = np.ones((80, 1))
    with pytest.raises(autograd.CompileError, match=r"more than 64 branch patterns.*source text could not be read"):
        step(X, np.arange(80))
    assert step(X[:3], np.array([1, 2, 3])).tolist() == [1.0, 2.0, 3.0]  # a few values: a guard each, exact


# --- rows of ints -------------------------------------------------------------------------------------


def test_rows_of_ints_are_lists_of_ints_and_int_rows_where_floats_were_traced():
    w = [Value(0.5), Value(-1.5)]

    def fn(x):
        return (w[0] * x[0] + w[1] * x[1]).tanh()

    X_int = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    step = autograd.compile(fn, w)
    assert_equal_to_eager(step, fn, w, X_int)  # traced as ints: per-sample numbers without gradient
    floats = autograd.compile(fn, w)
    floats(X_int.astype(float))
    assert_equal_to_eager(floats, fn, w, X_int)  # ints given where float rows were traced: as floats
    with pytest.raises(TypeError, match="2-D integers"):
        step(X_int.astype(float))
    with pytest.raises(ValueError, match=r"sample 1 holds 9007199254740994"):
        step(np.array([[0, 1], [2**53 + 2, 0]]))


def test_training_in_arrays_over_documents_of_several_lengths_equals_eager():
    """A new length traced inside a training block (parameters in arrays) reads the arrays'
    numbers; nn.Adam over the compiled steps gives eager's parameters."""
    import nn

    rng = np.random.default_rng(12)
    documents = [docs(rng, 1, length)[0] for length in (4, 5, 4, 3, 5, 6)]
    results = []
    for compiled_run in (False, True):
        fn, params, _ = make_gpt(seed=13)
        opt = nn.Adam(params, lr=0.05)
        step = autograd.compile(fn, params)
        losses = []
        if compiled_run:
            with step.training(opt):
                for tokens in documents:
                    losses.append(step.backward(tokens[None, :]))
                    opt.step()
                    opt.zero_grad()
        else:
            for tokens in documents:
                loss = fn(tokens.tolist())
                loss.backward()
                losses.append(loss.data)
                opt.step()
                opt.zero_grad()
        results.append((np.array(losses), np.array([p.data for p in params])))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10, atol=0)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=0, atol=1e-10)


def test_a_row_another_threads_trace_had_swapped_in_stands_for_the_tables_own():
    """While one thread traces a gather, the table holds the gathered row for one instruction;
    a trace in another thread that reads the table then gets it. Its nodes stand for the
    table's own elements (their gradient goes there), not for constants."""
    from autograd.compiler.trace import TracedInt, Tracer

    column = [Value(0.5), Value(-1.0), Value(2.0)]
    other = Tracer([])
    foreign = other._gathered(tuple(column), TracedInt(2, 0, other))
    other.end()

    def fn(x):  # traced while the table held the other thread's row
        return (foreign * x[0] + column[0]) ** 2

    def as_read(x):  # what the table held for every other instruction
        return (column[2] * x[0] + column[0]) ** 2

    step = autograd.compile(fn, column)
    X = np.array([[1.0], [-2.0], [0.5]])
    assert_equal_to_eager(step, as_read, column, X)
    column[2].data = 5.0  # training moves the element: the compiled step reads it, not a copy
    assert_equal_to_eager(step, as_read, column, X)


def test_gathers_under_a_trace_function_of_ones_own_and_it_stays_installed():
    """A debugger or coverage tool has sys.settrace on: gathers still happen, every event of
    the program's frames still reaches it, and it is the trace function afterwards."""
    import sys

    fn, params, _ = make_gpt(seed=14)
    events: list[str] = []

    def tool(frame, event, arg):
        events.append(event)
        return tool

    step = autograd.compile(fn, params)
    previous = sys.gettrace()
    sys.settrace(tool)
    try:
        step.backward(np.array([[6, 1, 2, 2]]))
        assert sys.gettrace() is tool
    finally:
        sys.settrace(previous)
    assert step.patterns == 1 and "call" in events and "line" in events
    assert_equal_to_eager(step, fn, params, np.array([[6, 3, 3, 0], [6, 0, 5, 4]]))


def test_a_layer_over_shared_inputs_with_per_sample_residuals_at_several_positions():
    """sum(w * c) + residual at each position, where the c are closure constants (shared by the
    batch) and only the residual is per sample: not stacked, and equal to eager."""
    rng = random.Random(15)
    W = [[Value(rng.gauss(0, 1)) for _ in range(3)] for _ in range(2)]
    consts = [[Value(rng.gauss(0, 1)) for _ in range(3)] for _ in range(3)]  # each position's own
    params = [w for row in W for w in row]

    def fn(tokens):
        out = []
        for pos in range(len(tokens)):
            residual = W[tokens[pos]][0] * 0.5
            out += [sum(w * c for w, c in zip(row, consts[pos])) + residual for row in W]
        return sum(v * v for v in out)

    step = autograd.compile(fn, params)
    assert_equal_to_eager(step, fn, params, np.array([[0, 1, 1], [1, 0, 0]]))


def test_source_text_edited_since_the_code_was_compiled_is_not_trusted():
    """linecache holds a file's text as it is now; the code may come from an earlier text. A
    subscript whose text loads other names than its code does is not gathered (a guard each
    value instead), so the edited text never says which list is indexed."""
    import linecache

    rng = random.Random(16)
    namespace = {
        "wte": [[Value(rng.gauss(0, 1)) for _ in range(2)] for _ in range(4)],
        "wpe": [[Value(rng.gauss(0, 1)) for _ in range(2)] for _ in range(4)],
    }
    filename = "<an edited file>"
    exec(compile("def fn(tokens):\n    row = wte[tokens[0]]\n    return row[0] * row[1]\n", filename, "exec"), namespace)
    edited = "def fn(tokens):\n    row = wpe[tokens[0]]\n    return row[0] * row[1]\n"  # the file as it is now
    linecache.cache[filename] = (len(edited), None, edited.splitlines(keepends=True), filename)
    fn = namespace["fn"]
    params = [v for table in ("wte", "wpe") for row in namespace[table] for v in row]
    step = autograd.compile(fn, params)
    assert_equal_to_eager(step, fn, params, np.array([[0], [3], [1], [3]]))
    assert step.patterns == 3  # a guard on each value seen, not a gather from wpe
    del linecache.cache[filename]


def test_index_expressions_with_folded_constants_are_gathers():
    rng = random.Random(17)
    table = [[Value(rng.gauss(0, 1)) for _ in range(2)] for _ in range(5)]
    params = [v for row in table for v in row]

    def fn(tokens):
        last, middle = table[tokens[-1]], table[tokens[2 * 1 - 1]]
        return sum(a * b for a, b in zip(last, middle))

    step = autograd.compile(fn, params)
    assert_equal_to_eager(step, fn, params, np.array([[0, 1, 4], [3, 3, 0], [2, 4, 1]]))
    assert step.patterns == 1
