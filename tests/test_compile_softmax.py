"""Fused softmaxes (autograd_lite.compile._softmax): the engine's five-node chain per input,
replayed as one instruction, against the interpreted engine.

The engine is the oracle: losses, parameter gradients and outputs must agree to 1e-12
(relative and absolute), nan where the engine gives nan and the same infinities. Each test
also checks which chains were fused, so that a test of the fused path cannot pass by
replaying the chain node by node.
"""

from __future__ import annotations

import math
import random

import pytest

import autograd_lite as al
from autograd_lite import Value, sum_values
from autograd_lite.nn import GPT, Module
from tests.optional import need
from tests.test_compile import assert_all_close, assert_same_step, compiled, interpreted, rows

np = need("numpy")

from autograd_lite import losses  # noqa: E402  (after the numpy skip: the module needs it)
from autograd_lite.compile import compile_loss  # noqa: E402
from autograd_lite.compile._softmax import Softmax  # noqa: E402

pytestmark = pytest.mark.training

BAD = [math.inf, -math.inf, math.nan, -0.0, 800.0, -800.0, 1e308, -1e308]


class Softmaxes(Module):
    """Softmaxes of four scaled inputs: of each prefix (lengths 1-4, as causal attention
    has), of a list that holds one input twice, and one whose first and last outputs
    nothing reads."""

    def __init__(self):
        self.w = [Value(0.5), Value(-1.25), Value(2.0), Value(0.75)]

    def forward(self, x):
        v = [xi * wi for xi, wi in zip(x, self.w)]
        out = []
        for n in range(1, 5):
            out += al.softmax(v[:n])
        out += al.softmax([v[0], v[0], v[1]])
        out += al.softmax(v)[1:3]
        return out


def weighted(out, target):
    """A different weight per output, so every softmax input gets its own gradient."""
    return sum_values([o * (target + 0.25 * k) for k, o in enumerate(out)])


def log_of_each(out, target):
    """-log of every output: infinite where an output is 0 (a -inf input), so the incoming
    gradient itself is infinite."""
    return sum_values([-al.log(o) * target for o in out])


def through_infinity(out, target):
    """An infinite weight on every third output: incoming gradients of inf where the
    softmax outputs are positive, which the engine's chain turns into nan everywhere."""
    return sum_values([o * (math.inf if k % 3 == 0 else target) for k, o in enumerate(out)])


def fused(step):
    """The fused softmax instructions of the compiled loss's program."""
    program = next(iter(step._variants.values())).merged_program(step._replay, step._params)
    return [i for i in program.instructions if isinstance(i, Softmax)]


def test_softmaxes_of_every_length_are_one_instruction_with_the_engines_numbers():
    """Prefix softmaxes, a repeated input and unread outputs are fused into one instruction
    and give the engine's loss, gradients and outputs at batch 1, 3 and 64."""
    model = Softmaxes()
    X = rows(64, 4, seed=3)
    y = [random.Random(k).uniform(-1, 1) for k in range(64)]
    step = compile_loss(model, weighted, X[0], y[0])
    for n in (1, 3, 64):
        assert_same_step(model, weighted, X[:n], y[:n], step)
    (instruction,) = fused(step)
    assert instruction.slots.k == 6  # six softmaxes, whose 4 + 6 + 3 + 2 outputs are read
    assert instruction.out.shape == (1 + 2 + 3 + 4 + 3 + 2,)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("loss_fn", [weighted, log_of_each, through_infinity])
def test_infinite_nan_or_huge_inputs_give_the_engines_numbers(bad, loss_fn):
    """An infinite, nan, -0.0 or huge input (alone in its batch, and among finite samples),
    and infinite incoming gradients (the log of a softmax output of 0), give the engine's
    numbers: the finite formula where every sum and gradient is finite, the engine's own
    chain where one is not."""
    model = Softmaxes()
    X = rows(5, 4, seed=4)
    X[1][2] = bad
    X[3] = [bad, 0.0, -0.0, bad]
    y = [1.0, -0.5, 2.0, 0.5, 1.5]
    step = compile_loss(model, loss_fn, X[0], y[0])
    assert fused(step)
    assert_same_step(model, loss_fn, X, y, step)
    for k in range(5):
        assert_same_step(model, loss_fn, X[k : k + 1], y[k : k + 1], step)


class SharedInnerNodes(Module):
    """Softmax chains written out by hand, each with an inner node that something else
    reads too: the logsumexp, one exponential, the sum. None of them may be fused."""

    def __init__(self):
        self.w = [Value(0.5), Value(-1.25), Value(2.0)]

    def forward(self, x):
        v = [xi * wi for xi, wi in zip(x, self.w)]
        out = []
        for shared in ("lse", "term", "total"):
            lse = al.logsumexp(v)
            terms = [al.exp(vi - lse) for vi in v]
            total = sum_values(terms)
            out += [t / total for t in terms]
            out.append({"lse": lse, "term": terms[1] * 3.0, "total": total}[shared])
        return out


def test_a_chain_whose_inner_nodes_are_read_elsewhere_is_not_fused():
    """A logsumexp, exponential or sum that the model also reads keeps the chain node by
    node, with the engine's numbers."""
    model = SharedInnerNodes()
    X = rows(4, 3, seed=5)
    step = assert_same_step(model, weighted, X, [1.0, 0.5, -1.0, 2.0])
    assert not fused(step)


class HandWritten(Module):
    """The engine's softmax written out as a user would, node for node."""

    def __init__(self):
        self.w = [Value(0.5), Value(-1.25), Value(2.0)]

    def forward(self, x):
        v = [xi * wi for xi, wi in zip(x, self.w)]
        lse = al.logsumexp(v)
        terms = [al.exp(vi - lse) for vi in v]
        total = sum_values(terms)
        return [t / total for t in terms]


def test_a_hand_written_softmax_is_fused_and_gives_the_engines_numbers():
    """The same chain written by hand is recognised as a softmax."""
    model = HandWritten()
    X = rows(6, 3, seed=6)
    step = assert_same_step(model, weighted, X, [1.0] * 6)
    assert len(fused(step)) == 1


def test_gpt_attention_softmaxes_are_fused():
    """A GPT's causal attention softmaxes (every position and head) become one instruction
    per layer, and training steps give the engine's numbers."""
    model = GPT(11, 6, 8, 2, 2, seed=1)

    def loss_fn(logits, targets):
        terms = [losses.cross_entropy(row, t) for row, t in zip(logits, targets)]
        return sum_values(terms) * (1.0 / len(targets))

    rng = random.Random(7)
    X = [[rng.randrange(11) for _ in range(6)] for _ in range(5)]
    y = [[rng.randrange(11) for _ in range(6)] for _ in range(5)]
    step = compile_loss(model, loss_fn, X[0], y[0])
    ref_loss, ref_grads, _ = interpreted(model, loss_fn, X, y)
    loss, grads, _ = compiled(step, model, X, y)
    assert_all_close([loss, *grads], [ref_loss, *ref_grads], "loss and gradients")
    (entry,) = step._programs.values()
    softmaxes = [i for i in entry.program.instructions if isinstance(i, Softmax)]
    assert len(softmaxes) == 2  # one per layer
    assert softmaxes[0].slots.k == 2 * 6  # heads × positions
