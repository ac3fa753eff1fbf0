"""microgpt: a GPT that learns to make up names, in one file of dependency-free Python.

Written for gradtrace in the shape of Andrej Karpathy's microgpt.py: a scalar autograd
class ``Value``, a one-layer GPT (token and position embeddings, RMSNorm, multi-head
attention with a key/value cache, a ReLU MLP, residual connections), Adam written out, a
character tokenizer with a BOS token, and sampling with a temperature. Everything is a
Python float in a ``Value``; the weights are lists of lists.

    python examples/microgpt.py                          # 1000 steps on the names list
    python examples/microgpt.py --steps 50 --n-embd 8    # smaller and shorter
    python examples/microgpt.py --revision early         # backward() once per position

To run it on gradtrace, delete ``class Value`` below and write ``from autograd import Value``
in its place; nothing else changes. ``--revision early`` trains as microgpt's first revision
did, calling ``backward()`` after each position's loss instead of once for the document's
mean: the own ``Value`` below then counts the key/value cache's gradients more than once
(it never clears the gradients of intermediate nodes between calls), while gradtrace, as
PyTorch, gives the gradient of the mean.
"""

import argparse
import json
import math
import os
import random

parser = argparse.ArgumentParser(description="Train a tiny GPT on a list of names, one name per step.")
parser.add_argument("--names", help="a text file, one name per line (default: the first names of the `names` "
                    "package, or a generated list where it is not installed)")
parser.add_argument("--steps", type=int, default=1000, help="training steps, one name each (default 1000)")
parser.add_argument("--seed", type=int, default=42, help="seeds the shuffle, the weights and the sampling")
parser.add_argument("--n-embd", type=int, default=16, help="embedding width (default 16)")
parser.add_argument("--n-head", type=int, default=4, help="attention heads; must divide --n-embd (default 4)")
parser.add_argument("--n-layer", type=int, default=1, help="transformer blocks (default 1)")
parser.add_argument("--block-size", type=int, default=16, help="longest context; longer names are cut (default 16)")
parser.add_argument("--revision", choices=("later", "early"), default="later",
                    help="later: one backward() of the mean loss; early: one backward() per position")
parser.add_argument("--samples", type=int, default=20, help="names to sample after training (default 20)")
parser.add_argument("--temperature", type=float, default=0.5, help="sampling temperature in (0, 1] (default 0.5)")
parser.add_argument("--save", metavar="FILE", help="write the losses, and the first step's document, weights "
                    "and gradients, as JSON (to check one engine against another)")
args = parser.parse_args()
for name in ("steps", "n_embd", "n_head", "n_layer", "block_size"):
    if getattr(args, name) < (0 if name == "steps" else 1):
        parser.error(f"--{name.replace('_', '-')} must be positive; got {getattr(args, name)}")
if args.n_embd % args.n_head:
    parser.error(f"--n-head must divide --n-embd; got {args.n_head} heads for a width of {args.n_embd}")
if not 0 < args.temperature <= 1:
    parser.error(f"--temperature must be in (0, 1]; got {args.temperature}")
random.seed(args.seed)


# The data: a list of names (documents), shuffled
def generated_names(count=2000):
    """Pronounceable made-up names, for a machine without the `names` package."""
    rng = random.Random(0)
    onsets, vowels, endings = "b d f g h j k l m n p r s t v w y z br ch sh st th".split(), "aeiou", " n l r s".split(" ")

    def syllable():
        return rng.choice(onsets) + rng.choice(vowels)

    return ["".join(syllable() for _ in range(rng.randint(1, 3))) + rng.choice(endings) for _ in range(count)]


if args.names:
    with open(args.names, encoding="utf-8") as file:
        docs = [line.strip() for line in file if line.strip()]
    if not docs:
        parser.error(f"--names {args.names}: the file holds no names (one name per line is expected)")
else:
    try:
        import names as names_package  # the 1990 US census's first names, shipped with the package
        folder = os.path.dirname(names_package.__file__)
        docs = set()
        for kind in ("female", "male"):
            with open(os.path.join(folder, f"dist.{kind}.first"), encoding="utf-8") as file:
                docs |= {line.split()[0].lower() for line in file if line.strip()}
        docs = sorted(docs)
    except ImportError:
        docs = generated_names()
random.shuffle(docs)
print(f"num docs: {len(docs)}")

# The tokenizer: one token per character, and BOS, which starts and ends every name
uchars = sorted(set("".join(docs)))
BOS = len(uchars)
vocab_size = len(uchars) + 1
print(f"vocab size: {vocab_size}")


# The autograd: each Value keeps its inputs and its derivative with respect to each of them
class Value:
    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k): return Value(self.data ** k, (self,), (k * self.data ** (k - 1),))
    def log(self): return Value(math.log(self.data), (self,), (1 / self.data,))
    def exp(self): return Value(math.exp(self.data), (self,), (math.exp(self.data),))
    def relu(self): return Value(max(0, self.data), (self,), (float(self.data > 0),))
    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other ** -1
    def __rtruediv__(self, other): return other * self ** -1

    def backward(self):
        order, seen = [], set()

        def visit(node):  # depth first: a node after everything it was computed from
            if node not in seen:
                seen.add(node)
                for child in node._children:
                    visit(child)
                order.append(node)

        visit(self)
        self.grad = 1
        for node in reversed(order):
            for child, local_grad in zip(node._children, node._local_grads):
                child.grad += local_grad * node.grad


# The parameters: matrices as lists of rows of Values
n_embd, n_head, n_layer, block_size = args.n_embd, args.n_head, args.n_layer, args.block_size
head_dim = n_embd // n_head


def matrix(rows, cols, std=0.08):
    return [[Value(random.gauss(0, std)) for _ in range(cols)] for _ in range(rows)]


state_dict = {"wte": matrix(vocab_size, n_embd), "wpe": matrix(block_size, n_embd),
              "lm_head": matrix(vocab_size, n_embd)}
for i in range(n_layer):
    state_dict[f"layer{i}.attn_wq"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.attn_wk"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.attn_wv"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.attn_wo"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.mlp_fc1"] = matrix(4 * n_embd, n_embd)
    state_dict[f"layer{i}.mlp_fc2"] = matrix(n_embd, 4 * n_embd)
params = [p for mat in state_dict.values() for row in mat for p in row]
print(f"num params: {len(params)}")


# The model: one token at one position in, logits over the next token out
def linear(x, w):
    return [sum(wij * xj for wij, xj in zip(row, x)) for row in w]


def softmax(logits):
    top = max(v.data for v in logits)  # a plain number: exp never overflows, and the result is the same
    exps = [(v - top).exp() for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x):
    mean_square = sum(xi * xi for xi in x) / len(x)
    scale = (mean_square + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def gpt(token_id, pos_id, keys, values):
    """Logits for the token after ``token_id`` at ``pos_id``; appends this position's keys and
    values to the cache (``keys[layer]``, ``values[layer]``) that later positions attend to."""
    x = [t + p for t, p in zip(state_dict["wte"][token_id], state_dict["wpe"][pos_id])]
    x = rmsnorm(x)
    for li in range(n_layer):
        residual = x  # attention: this position looks at itself and every earlier one
        x = rmsnorm(x)
        q = linear(x, state_dict[f"layer{li}.attn_wq"])
        keys[li].append(linear(x, state_dict[f"layer{li}.attn_wk"]))
        values[li].append(linear(x, state_dict[f"layer{li}.attn_wv"]))
        heads = []
        for h in range(n_head):
            part = slice(h * head_dim, (h + 1) * head_dim)
            q_h, k_h, v_h = q[part], [k[part] for k in keys[li]], [v[part] for v in values[li]]
            scores = [sum(qj * kj for qj, kj in zip(q_h, k_t)) / head_dim ** 0.5 for k_t in k_h]
            weights = softmax(scores)
            heads += [sum(w_t * v_t[j] for w_t, v_t in zip(weights, v_h)) for j in range(head_dim)]
        x = [a + b for a, b in zip(linear(heads, state_dict[f"layer{li}.attn_wo"]), residual)]
        residual = x  # the MLP: widen four times, ReLU, narrow again
        x = [h.relu() for h in linear(rmsnorm(x), state_dict[f"layer{li}.mlp_fc1"])]
        x = [a + b for a, b in zip(linear(x, state_dict[f"layer{li}.mlp_fc2"]), residual)]
    return linear(x, state_dict["lm_head"])


def tokenize(name):
    """BOS, the name's characters, BOS."""
    return [BOS] + [uchars.index(ch) for ch in name] + [BOS]


def document_loss(tokens):
    """The mean cross-entropy of predicting each next token; a name longer than the context
    is cut: only its first block_size positions are predicted."""
    n = min(block_size, len(tokens) - 1)
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    losses = []
    for pos_id in range(n):
        probs = softmax(gpt(tokens[pos_id], pos_id, keys, values))
        losses.append(-probs[tokens[pos_id + 1]].log())
    return (1 / n) * sum(losses)


def early_backward(tokens):
    """The early revision's pass: each position's share of the mean loss gets its own
    backward(), as soon as it is computed. Returns the loss as a number."""
    n = min(block_size, len(tokens) - 1)
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    total = 0.0
    for pos_id in range(n):
        probs = softmax(gpt(tokens[pos_id], pos_id, keys, values))
        loss = (1 / n) * -probs[tokens[pos_id + 1]].log()
        loss.backward()
        total += loss.data
    return total


def snapshot(attribute):
    return {key: [[getattr(p, attribute) for p in row] for row in mat] for key, mat in state_dict.items()}


# Training: Adam, one name per step, the learning rate decaying linearly to zero
learning_rate, beta1, beta2, eps = 0.01, 0.85, 0.99, 1e-8
m, v = [0.0] * len(params), [0.0] * len(params)


def adam_update(step, num_steps):
    lr = learning_rate * (1 - step / num_steps)
    for i, p in enumerate(params):
        m[i] = beta1 * m[i] + (1 - beta1) * p.grad
        v[i] = beta2 * v[i] + (1 - beta2) * p.grad ** 2
        m_hat = m[i] / (1 - beta1 ** (step + 1))
        v_hat = v[i] / (1 - beta2 ** (step + 1))
        p.data -= lr * m_hat / (v_hat ** 0.5 + eps)
        p.grad = 0


loss_history, saved = [], {"weights": snapshot("data")} if args.save else {}
for step in range(args.steps):
    tokens = tokenize(docs[step % len(docs)])
    if args.revision == "later":
        loss = document_loss(tokens)
        loss.backward()
        loss = loss.data
    else:
        loss = early_backward(tokens)
    if step == 0 and args.save:
        saved.update(tokens=tokens, grads=snapshot("grad"))
    adam_update(step, args.steps)
    loss_history.append(loss)
    print(f"step {step + 1:4d} / {args.steps:4d} | loss {loss:.6f}")


# Sampling: new names, one character at a time, until the model says BOS
def sample(temperature=args.temperature):
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    token_id, name = BOS, []
    for pos_id in range(block_size):
        probs = softmax([logit / temperature for logit in gpt(token_id, pos_id, keys, values)])
        token_id = random.choices(range(vocab_size), weights=[p.data for p in probs])[0]
        if token_id == BOS:
            break
        name.append(uchars[token_id])
    return "".join(name)


if args.samples:
    print("--- sampled names ---")
for i in range(args.samples):
    print(f"sample {i + 1:2d}: {sample()}")

if args.save:
    with open(args.save, "w", encoding="utf-8") as file:
        json.dump({"losses": loss_history, **saved}, file)
