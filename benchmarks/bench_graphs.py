"""Graphs users write themselves: micrograd-style code run on three engines in one process.

The code below is written the way scalar-engine programs are written (a ``sum(w * x for
...)`` per neuron, everything built from ``+``, ``*``, ``**``, ``exp``, ``log``,
``relu``), once, and run unchanged on:

* ``Tiny``: a minimal engine defined in this file, the fastest design among the tiny
  ones (``__slots__``, local derivatives stored at forward time, recursive sort);
* ``autograd_lite.Value``, with only the import changed;
* micrograd 0.1.0 where it has the operations (it has no ``exp`` or ``log``).

    python benchmarks/bench_graphs.py            # full run (a few minutes)
    python benchmarks/bench_graphs.py --quick    # smoke run

(1) one training step of a one-layer character-level GPT (embeddings, RMSNorm, 4-head
    causal attention, ReLU MLP, softmax cross-entropy, Adam written by hand);
(2) one training step of an RNN written by hand (ReLU cell, squared error, SGD);
(3) memory of each graph (tracemalloc), per operation the program performs.

Each ratio is the median over alternating blocks of steps (see _harness.py).
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from _harness import paired

import autograd_lite as al

try:
    from micrograd.engine import Value as MgValue
except ImportError:  # pragma: no cover - the benchmark needs its peer
    sys.exit('micrograd is not installed: pip install "autograd-lite[bench]"')


# ---- the minimal engine -------------------------------------------------------------------


class Tiny:
    """A scalar with its parents and the local derivatives d(self)/d(parent), nothing else."""

    __slots__ = ("_children", "_local_grads", "data", "grad")

    def __init__(self, data: float, children: tuple = (), local_grads: tuple = ()) -> None:
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other: Any) -> Tiny:
        other = other if isinstance(other, Tiny) else Tiny(other)
        return Tiny(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other: Any) -> Tiny:
        other = other if isinstance(other, Tiny) else Tiny(other)
        return Tiny(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k: float) -> Tiny:
        return Tiny(self.data**k, (self,), (k * self.data ** (k - 1),))

    def log(self) -> Tiny:
        return Tiny(math.log(self.data), (self,), (1 / self.data,))

    def exp(self) -> Tiny:
        e = math.exp(self.data)
        return Tiny(e, (self,), (e,))

    def relu(self) -> Tiny:
        return Tiny(max(0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self) -> Tiny:
        return self * -1

    def __radd__(self, other: Any) -> Tiny:
        return self + other

    def __sub__(self, other: Any) -> Tiny:
        return self + (-other)

    def __rsub__(self, other: Any) -> Tiny:
        return other + (-self)

    def __rmul__(self, other: Any) -> Tiny:
        return self * other

    def __truediv__(self, other: Any) -> Tiny:
        return self * other**-1

    def __rtruediv__(self, other: Any) -> Tiny:
        return other * self**-1

    def backward(self) -> None:
        topo, visited = [], set()

        def build(v: Tiny) -> None:
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1
        for v in reversed(topo):
            for child, local in zip(v._children, v._local_grads):
                child.grad += local * v.grad


# ---- (1) a one-layer character-level GPT, micrograd style ---------------------------------

WORDS = [
    "emma",
    "olivia",
    "ava",
    "isabella",
    "sophia",
    "charlotte",
    "mia",
    "amelia",
    "harper",
    "evelyn",
    "abigail",
]
VOCAB = 27  # a..z and one boundary token
BOUNDARY = 26


def linear(x: list, w: list) -> list:
    return [sum(wi * xi for wi, xi in zip(row, x)) for row in w]


def softmax(logits: list) -> list:
    top = max(v.data for v in logits)
    exps = [(v - top).exp() for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x: list) -> list:
    ms = sum(xi * xi for xi in x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]


class GPT:
    """One transformer block over character embeddings; every weight one scalar."""

    def __init__(self, V: type, n_embd: int = 16, n_head: int = 4, block: int = 16) -> None:
        rng = random.Random(42)

        def matrix(rows: int, cols: int) -> list:
            return [[V(rng.gauss(0, 0.08)) for _ in range(cols)] for _ in range(rows)]

        self.n_head, self.head_dim, self.block = n_head, n_embd // n_head, block
        self.wte, self.wpe = matrix(VOCAB, n_embd), matrix(block, n_embd)
        self.wq, self.wk = matrix(n_embd, n_embd), matrix(n_embd, n_embd)
        self.wv, self.wo = matrix(n_embd, n_embd), matrix(n_embd, n_embd)
        self.fc1, self.fc2 = matrix(4 * n_embd, n_embd), matrix(n_embd, 4 * n_embd)
        self.head = matrix(VOCAB, n_embd)
        mats = [self.wte, self.wpe, self.wq, self.wk, self.wv, self.wo, self.fc1, self.fc2]
        self.params = [p for m in [*mats, self.head] for row in m for p in row]
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        self.steps = 0

    def __call__(self, token: int, pos: int, keys: list, values: list) -> list:
        x = [t + p for t, p in zip(self.wte[token], self.wpe[pos])]
        x = rmsnorm(x)
        residual = x
        x = rmsnorm(x)
        q, k, v = linear(x, self.wq), linear(x, self.wk), linear(x, self.wv)
        keys.append(k)
        values.append(v)
        heads = []
        d = self.head_dim
        for h in range(self.n_head):
            s = h * d
            qh = q[s : s + d]
            kh = [kt[s : s + d] for kt in keys]
            vh = [vt[s : s + d] for vt in values]
            logits = [sum(qh[j] * kt[j] for j in range(d)) / d**0.5 for kt in kh]
            weights = softmax(logits)
            heads.extend(sum(weights[t] * vh[t][j] for t in range(len(vh))) for j in range(d))
        x = [a + b for a, b in zip(linear(heads, self.wo), residual)]
        residual = x
        x = [xi.relu() for xi in linear(rmsnorm(x), self.fc1)]
        x = [a + b for a, b in zip(linear(x, self.fc2), residual)]
        return linear(x, self.head)

    def loss(self, word: str) -> Any:
        tokens = [BOUNDARY, *(ord(c) - ord("a") for c in word), BOUNDARY]
        n = min(self.block, len(tokens) - 1)
        keys: list = []
        values: list = []
        losses = []
        for pos in range(n):
            probs = softmax(self(tokens[pos], pos, keys, values))
            losses.append(-probs[tokens[pos + 1]].log())
        return (1 / n) * sum(losses)

    def adam(self, lr: float = 0.01, beta1: float = 0.85, beta2: float = 0.99) -> None:
        self.steps += 1
        for i, p in enumerate(self.params):
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * p.grad
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * p.grad**2
            m_hat = self.m[i] / (1 - beta1**self.steps)
            v_hat = self.v[i] / (1 - beta2**self.steps)
            p.data -= lr * m_hat / (v_hat**0.5 + 1e-8)
            p.grad = 0


def gpt_step(model: GPT) -> float:
    loss = model.loss(WORDS[model.steps % len(WORDS)])
    loss.backward()
    model.adam()
    return loss.data


# ---- (2) an RNN written by hand ---------------------------------------------------------


class RNN:
    """h_t = relu(Wx x_t + Wh h_{t-1} + b), y_t = w . h_t + c; squared error on a sine."""

    def __init__(self, V: type, n_in: int = 4, n_hidden: int = 24, steps: int = 12) -> None:
        rng = random.Random(7)
        self.wx = [[V(rng.uniform(-0.5, 0.5)) for _ in range(n_in)] for _ in range(n_hidden)]
        self.wh = [[V(rng.uniform(-0.3, 0.3)) for _ in range(n_hidden)] for _ in range(n_hidden)]
        self.b = [V(0.1) for _ in range(n_hidden)]
        self.wy = [V(rng.uniform(-0.5, 0.5)) for _ in range(n_hidden)]
        self.c = V(0.0)
        rows = [*self.wx, *self.wh, self.b, self.wy]
        self.params = [p for row in rows for p in row] + [self.c]
        self.n_hidden = n_hidden
        self.xs = [[math.sin(0.3 * t + i) for i in range(n_in)] for t in range(steps)]
        self.targets = [math.sin(0.3 * (t + 1)) for t in range(steps)]

    def loss(self) -> Any:
        h = [0.0] * self.n_hidden
        total = 0.0
        for x, target in zip(self.xs, self.targets):
            h = [
                (
                    sum(w * xi for w, xi in zip(wx, x)) + sum(u * hi for u, hi in zip(wh, h)) + b
                ).relu()
                for wx, wh, b in zip(self.wx, self.wh, self.b)
            ]
            y = sum(w * hi for w, hi in zip(self.wy, h)) + self.c
            total = total + (y - target) ** 2
        return total * (1 / len(self.xs))


def rnn_step(model: RNN) -> float:
    loss = model.loss()
    loss.backward()
    for p in model.params:
        p.data -= 0.01 * p.grad
        p.grad = 0
    return loss.data


# ---- (3) memory --------------------------------------------------------------------------


def operations(loss: Tiny) -> int:
    """The operations a program performed: the interior nodes of its graph on ``Tiny``."""
    seen, stack, count = set(), [loss], 0
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        count += bool(v._children)
        stack.extend(v._children)
    return count


def graph_bytes(build: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes held by the graph ``build()`` returns (its root kept alive), and the root."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, root


def graph_nodes(root: Any) -> int:
    """Interior nodes of an autograd_lite graph."""
    return sum(1 for node in al.topological_order(root) if node.parents)


# ---- the run -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    block = 2 if args.quick else 5

    # The same program gives the same losses on every engine: the engines agree.
    tiny_losses = [gpt_step(GPT(Tiny)) for _ in range(1)] + [rnn_step(RNN(Tiny))]
    ours_losses = [gpt_step(GPT(al.Value)) for _ in range(1)] + [rnn_step(RNN(al.Value))]
    for theirs, ours in zip(tiny_losses, ours_losses):
        if not math.isclose(theirs, ours, rel_tol=1e-12):
            sys.exit(f"the engines disagree: {theirs!r} against {ours!r}")

    print(f"Python {sys.version.split()[0]}; medians of {repeats} paired blocks of {block} steps")
    print("(a shared machine: the ratios, measured side by side, are what to read)\n")
    print(f"{'benchmark':<44}{'peer':>12}{'autograd_lite':>15}{'ratio':>9}")
    contenders = [
        ("(1) GPT step vs minimal engine", GPT, gpt_step, Tiny),
        ("(2) RNN step vs minimal engine", RNN, rnn_step, Tiny),
        ("(2) RNN step vs micrograd 0.1.0", RNN, rnn_step, MgValue),
    ]
    for gc_enabled in (True, False):
        tag = "gc on" if gc_enabled else "gc off"
        for name, model_type, step, peer in contenders:
            theirs, ours = model_type(peer), model_type(al.Value)
            result = paired(
                lambda s=step, m=theirs: s(m),
                lambda s=step, m=ours: s(m),
                repeats=repeats,
                slow_steps=block,
                fast_steps=block,
                gc_enabled=gc_enabled,
            )
            print(
                f"{name + ', ' + tag:<44}{result.slow_seconds * 1e3:>10.2f}ms"
                f"{result.fast_seconds * 1e3:>13.2f}ms{result.ratio:>8.2f}x"
            )

    print(f"\n{'(3) one graph held in memory':<44}{'minimal':>12}{'autograd_lite':>15}")
    for name, model_type, builder in (
        ("GPT loss", GPT, lambda m: lambda: m.loss(WORDS[0])),
        ("RNN loss", RNN, lambda m: lambda: m.loss()),
    ):
        tiny_bytes, tiny_root = graph_bytes(builder(model_type(Tiny)))
        ours_bytes, ours_root = graph_bytes(builder(model_type(al.Value)))
        ops, nodes = operations(tiny_root), graph_nodes(ours_root)
        for what, theirs, ours in (
            ("operation nodes", ops, nodes),
            ("bytes per operation", tiny_bytes / ops, ours_bytes / ops),
            ("bytes per node", tiny_bytes / ops, ours_bytes / nodes),
        ):
            print(f"{'    ' + name + ': ' + what:<44}{theirs:>12.0f}{ours:>15.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
