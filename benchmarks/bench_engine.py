"""Engine benchmark: autograd_lite against micrograd 0.1.0, measured in the same process.

Machines here are noisy, so every number is a ratio between the two engines timed
alternately in one run, and each ratio is the median over repeats (see _harness.py:
each engine runs blocks of consecutive steps, as a training loop does).

    python benchmarks/bench_engine.py            # full run (a few minutes)
    python benchmarks/bench_engine.py --quick    # smoke run

(a) building and back-propagating a long chain;
(b) one training step of micrograd's demo network MLP(2, [16, 16, 1]) on 32 two-moons
    points with its hinge loss and L2 penalty (each engine written as its users write it:
    micrograd with its own nn, autograd_lite with one fused node per weighted sum);
(c) bytes per node (tracemalloc);
(d) the deepest chain each can back-propagate.
(a) and (b) are reported with the garbage collector on (as users run) and off in both.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import sys
import time
import tracemalloc

from _harness import HEADER, paired, row

import autograd_lite as al
from autograd_lite.data import labels_to_pm1, make_moons

try:
    from micrograd.engine import Value as MgValue
    from micrograd.nn import MLP as MgMLP
except ImportError:  # pragma: no cover - the benchmark needs its peer
    sys.exit('micrograd is not installed: pip install "autograd-lite[bench]"')


# ---- shared data ------------------------------------------------------------------------


def two_moons(n: int, seed: int) -> tuple[list[list[float]], list[int]]:
    """Two-moons points (noise 0.1) with labels -1/+1, as in micrograd's demo."""
    X, y = make_moons(n_samples=n, noise=0.1, seed=seed)
    return X, labels_to_pm1(y)


# ---- (b) one training step, each engine as its users write it -------------------------


def micrograd_step(model: MgMLP, xs: list[list[float]], ys: list[float]) -> float:
    """micrograd's demo loss(): hinge + L2, backward, SGD."""
    inputs = [list(map(MgValue, x)) for x in xs]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    return total.data


class InlineMLP:
    """MLP(2, [16, 16, 1]) on the engine alone: a dot node and a relu per neuron, linear out.

    Each layer is one ``dense`` call, which builds those nodes reading the inputs once.
    """

    def __init__(self, sizes: list[int], seed: int) -> None:
        rng = random.Random(seed)
        self.layers = []
        for nin, nout in itertools.pairwise(sizes):
            weights = [[al.Value(rng.uniform(-1, 1)) for _ in range(nin)] for _ in range(nout)]
            self.layers.append((weights, [al.Value(0.0) for _ in range(nout)]))

    def parameters(self) -> list[al.Value]:
        return [p for weights, biases in self.layers for row in weights for p in row] + [
            b for _, biases in self.layers for b in biases
        ]

    def __call__(self, x: list[float]) -> al.Value:
        x = [al.Value(v, requires_grad=False) for v in x]  # as micrograd's demo wraps inputs
        last = len(self.layers) - 1
        for i, (weights, biases) in enumerate(self.layers):
            x = al.dense(weights, x, biases, None if i == last else al.Value.relu, fuse=True)
        return x[0]


def autograd_lite_step(model: InlineMLP, xs: list[list[float]], ys: list[float]) -> float:
    """The same step: hinge + L2 with n-ary nodes, backward, SGD."""
    params = model.parameters()
    losses = [(1 + -yi * model(x)).relu() for x, yi in zip(xs, ys)]
    data_loss = al.sum_values(losses) * (1.0 / len(losses))
    total = data_loss + 1e-4 * al.dot(params, params)
    for p in params:
        p.grad = 0.0
    total.backward()
    for p in params:
        p.data -= 0.1 * p.grad
    return total.data


# ---- (a) a long chain ---------------------------------------------------------------------


def chain(value_type: type, length: int) -> None:
    x = value_type(0.5)
    y = x
    for _ in range(length):
        y = y * 0.999 + 0.001
    y.backward()


# ---- (c) and (d) -------------------------------------------------------------------------


def bytes_per_node(value_type: type, length: int) -> float:
    """Memory held by a chain of ``2 * length`` operation nodes, per node."""
    gc.collect()
    tracemalloc.start()
    x = value_type(0.5)
    y = x
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(length):
        y = y * 0.999 + 0.001
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del y
    # Each step makes two operation nodes; the constants are part of each engine's cost.
    return (after - before) / (2 * length)


def deepest_backward(value_type: type, limit: int) -> int:
    """The deepest chain (1-2-5 steps up to ``limit`` nodes) whose backward() succeeds."""
    steps = [m * 10**e for e in range(2, 8) for m in (1, 2, 5)]
    best = 0
    for depth in (d for d in steps if d <= limit):
        try:
            x = value_type(0.5)
            y = x
            for _ in range(depth):
                y = y * 1.0
            y.backward()
            best = depth
        except RecursionError:
            break
        finally:
            x = y = None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    # Consecutive training steps per timed block. micrograd's cost per step grows over the
    # first steps of a loop, as uncollected cycles pile up, so blocks must be long enough
    # to show what a user's 100-step training run pays.
    block = 3 if args.quick else 20

    xs, ys = two_moons(32, seed=1)
    random.seed(1)
    mg_model = MgMLP(2, [16, 16, 1])
    al_model = InlineMLP([2, 16, 16, 1], seed=1)

    print(f"Python {sys.version.split()[0]}; medians of {repeats} paired blocks\n")
    print(HEADER)
    for gc_enabled in (True, False):
        tag = "gc on" if gc_enabled else "gc off"
        result = paired(
            lambda: chain(MgValue, 400),  # micrograd's recursive sort caps its depth
            lambda: chain(al.Value, 400),
            repeats=repeats,
            slow_steps=20,
            fast_steps=20,
            gc_enabled=gc_enabled,
        )
        print(row(f"(a) chain of 800 operations, {tag}", result))
        result = paired(
            lambda: micrograd_step(mg_model, xs, ys),
            lambda: autograd_lite_step(al_model, xs, ys),
            repeats=repeats,
            slow_steps=block,
            fast_steps=block * 5,
            gc_enabled=gc_enabled,
        )
        print(row(f"(b) MLP(2,[16,16,1]) step, 32 points, {tag}", result))

    mg_bytes = bytes_per_node(MgValue, 400)
    al_bytes = bytes_per_node(al.Value, 400)
    share = al_bytes / mg_bytes
    print(f"{'(c) bytes per node':<52}{mg_bytes:>12.0f}{al_bytes:>14.0f}{share:>9.2f}x")

    limit = 100_000 if args.quick else 1_000_000
    mg_depth = deepest_backward(MgValue, limit)
    start = time.perf_counter()
    al_depth = deepest_backward(al.Value, limit)
    elapsed = time.perf_counter() - start
    print(f"{'(d) deepest chain back-propagated':<52}{mg_depth:>12,}{al_depth:>14,}")
    print(f"    (tried 1-2-5 steps up to {limit:,} nodes; autograd_lite took {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
