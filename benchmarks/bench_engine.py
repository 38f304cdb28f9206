"""Engine benchmark: autograd_lite against micrograd 0.1.0, measured in the same process.

Machines here are noisy, so every number is a ratio between the two engines timed
alternately in one run, and each ratio is the median over repeats.

    python benchmarks/bench_engine.py            # full run (about a minute)
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
import math
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import autograd_lite as al

try:
    from micrograd.engine import Value as MgValue
    from micrograd.nn import MLP as MgMLP
except ImportError:  # pragma: no cover - the benchmark needs its peer
    sys.exit('micrograd is not installed: pip install "autograd-lite[bench]"')


# ---- shared data ------------------------------------------------------------------------


def two_moons(n: int, noise: float, seed: int) -> tuple[list[list[float]], list[float]]:
    """Two interleaving half circles with labels -1/+1, as in micrograd's demo."""
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), -1.0
        else:
            x, y, label = 1 - math.cos(t), 0.5 - math.sin(t), 1.0
        xs.append([x + rng.gauss(0, noise), y + rng.gauss(0, noise)])
        ys.append(label)
    return xs, ys


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
    """MLP(2, [16, 16, 1]) on the engine alone: one dot node per neuron, relu, linear out."""

    def __init__(self, sizes: list[int], seed: int) -> None:
        rng = random.Random(seed)
        self.layers = []
        for nin, nout in zip(sizes, sizes[1:]):
            neurons = [
                ([al.Value(rng.uniform(-1, 1)) for _ in range(nin)], al.Value(0.0))
                for _ in range(nout)
            ]
            self.layers.append(neurons)

    def parameters(self) -> list[al.Value]:
        return [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def __call__(self, x: list[float]) -> al.Value:
        x = [al.Value(v, requires_grad=False) for v in x]  # as micrograd's demo wraps inputs
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            outs = [al.dot(w, x, b) for w, b in layer]
            x = outs if i == last else [o.relu() for o in outs]
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


# ---- timing helpers -----------------------------------------------------------------------


def timed(function: Callable[[], object], gc_enabled: bool) -> float:
    gc.collect()
    if gc_enabled:
        gc.enable()
    else:
        gc.disable()
    try:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start
    finally:
        gc.enable()


def paired_ratio(
    slow: Callable[[], object], fast: Callable[[], object], repeats: int, gc_enabled: bool
) -> tuple[float, float, float]:
    """Median micrograd time, median autograd_lite time, median of per-pair ratios."""
    slow_times, fast_times, ratios = [], [], []
    for _ in range(repeats):
        s = timed(slow, gc_enabled)
        f = timed(fast, gc_enabled)
        slow_times.append(s)
        fast_times.append(f)
        ratios.append(s / f)
    return statistics.median(slow_times), statistics.median(fast_times), statistics.median(ratios)


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
    repeats = 3 if args.quick else 11
    chain_length = 2_000 if args.quick else 20_000

    xs, ys = two_moons(32, 0.1, seed=1)
    mg_model = MgMLP(2, [16, 16, 1])
    al_model = InlineMLP([2, 16, 16, 1], seed=1)

    print(f"Python {sys.version.split()[0]}; medians of {repeats} paired runs\n")
    print(f"{'benchmark':<44}{'micrograd':>12}{'autograd_lite':>15}{'ratio':>9}")
    for gc_enabled in (True, False):
        tag = "gc on" if gc_enabled else "gc off"
        mg, me, ratio = paired_ratio(
            lambda: chain(MgValue, 400),  # micrograd's recursion limit caps its chain
            lambda: chain(al.Value, 400),
            repeats,
            gc_enabled,
        )
        print(f"{'(a) chain of 800 ops, ' + tag:<44}{mg * 1e3:>10.2f}ms{me * 1e3:>13.2f}ms"
              f"{ratio:>8.1f}x")
        mg, me, ratio = paired_ratio(
            lambda: micrograd_step(mg_model, xs, ys),
            lambda: autograd_lite_step(al_model, xs, ys),
            repeats,
            gc_enabled,
        )
        print(f"{'(b) MLP(2,[16,16,1]) step, 32 points, ' + tag:<44}{mg * 1e3:>10.2f}ms"
              f"{me * 1e3:>13.2f}ms{ratio:>8.1f}x")

    al_long = statistics.median(
        timed(lambda: chain(al.Value, chain_length), True) for _ in range(3)
    )
    print(f"{'(a) autograd_lite alone, chain of ' + format(2 * chain_length, ',') + ' ops':<44}"
          f"{'':>12}{al_long * 1e3:>13.2f}ms")

    mg_bytes = bytes_per_node(MgValue, 400)
    al_bytes = bytes_per_node(al.Value, 400)
    print(f"{'(c) bytes per node':<44}{mg_bytes:>12.0f}{al_bytes:>15.0f}"
          f"{al_bytes / mg_bytes:>8.2f}x")

    limit = 100_000 if args.quick else 1_000_000
    mg_depth = deepest_backward(MgValue, limit)
    start = time.perf_counter()
    al_depth = deepest_backward(al.Value, limit)
    elapsed = time.perf_counter() - start
    print(f"{'(d) deepest chain back-propagated':<44}{mg_depth:>12,}{al_depth:>15,}"
          f"   (tried up to {limit:,}; {elapsed:.1f}s for autograd_lite)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
