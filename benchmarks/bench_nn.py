"""nn benchmark: training epochs with autograd_lite.nn against micrograd 0.1.0's nn.

Both sides are written as their users write them, and timed in the same process in
alternating blocks of consecutive epochs (see _harness.py); every number printed is a
median over repeats, and the ratios are what to read.

    python benchmarks/bench_nn.py            # full run (a few minutes)
    python benchmarks/bench_nn.py --quick    # smoke run

(1) micrograd's demo: MLP(2, [16, 16, 1]) on 100 two-moons points (noise 0.1), hinge loss
    + L2 1e-4, one full-batch SGD step per epoch. Here: nn.MLP, losses.hinge,
    losses.l2_penalty and optim.SGD.
(2) MLP(64, [32, 10]) on 32 samples of 64 features with a multi-class hinge loss (micrograd
    has no exp or log for a softmax), one SGD step per epoch.
"""

from __future__ import annotations

import argparse
import random
import sys

from _harness import HEADER, paired, row

import autograd_lite as al
from autograd_lite import losses, optim
from autograd_lite.data import labels_to_pm1, make_moons
from autograd_lite.nn import MLP

try:
    from micrograd.engine import Value as MgValue
    from micrograd.nn import MLP as MgMLP
except ImportError:  # pragma: no cover - the benchmark needs its peer
    sys.exit('micrograd is not installed: pip install "autograd-lite[bench]"')


# ---- micrograd, as its demo notebook writes it ---------------------------------------------


def micrograd_hinge_epoch(model: MgMLP, X: list[list[float]], y: list[int]) -> float:
    inputs = [list(map(MgValue, sample)) for sample in X]
    scores = list(map(model, inputs))
    data_loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
    total = data_loss + 1e-4 * sum(p * p for p in model.parameters())
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    return total.data


def micrograd_multiclass_epoch(model: MgMLP, X: list[list[float]], y: list[int]) -> float:
    inputs = [list(map(MgValue, sample)) for sample in X]
    sample_losses = []
    for sample, target in zip(inputs, y):
        scores = model(sample)
        margins = [(1 + s - scores[target]).relu() for j, s in enumerate(scores) if j != target]
        sample_losses.append(sum(margins) * (1.0 / len(scores)))
    total = sum(sample_losses) * (1.0 / len(sample_losses))
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    return total.data


# ---- autograd_lite, with its nn, losses and optimizer -----------------------------------


def autograd_lite_hinge_epoch(
    model: MLP, optimizer: optim.SGD, X: list[list[float]], y: list[int]
) -> float:
    data_loss = al.sum_values(losses.hinge(model(x), t) for x, t in zip(X, y)) * (1.0 / len(y))
    total = data_loss + losses.l2_penalty(model.parameters(), 1e-4)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return total.data


def autograd_lite_multiclass_epoch(
    model: MLP, optimizer: optim.SGD, X: list[list[float]], y: list[int]
) -> float:
    sample_losses = [losses.multiclass_hinge(model(x), t) for x, t in zip(X, y)]
    total = al.sum_values(sample_losses) * (1.0 / len(sample_losses))
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return total.data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 5

    X, labels = make_moons(n_samples=100, noise=0.1, seed=0)
    y = labels_to_pm1(labels)
    random.seed(1)
    mg_demo = MgMLP(2, [16, 16, 1])
    al_demo = MLP(2, [16, 16, 1], seed=1)
    al_demo_sgd = optim.SGD(al_demo.parameters(), lr=0.1)

    rng = random.Random(2)
    X64 = [[rng.uniform(0.0, 1.0) for _ in range(64)] for _ in range(32)]
    y64 = [rng.randrange(10) for _ in range(32)]
    random.seed(3)
    mg_wide = MgMLP(64, [32, 10])
    al_wide = MLP(64, [32, 10], seed=3)
    al_wide_sgd = optim.SGD(al_wide.parameters(), lr=0.1)

    print(f"Python {sys.version.split()[0]}; medians of {repeats} paired blocks\n")
    print(HEADER)
    for gc_enabled in (True, False):
        tag = "gc on" if gc_enabled else "gc off"
        result = paired(
            lambda: micrograd_hinge_epoch(mg_demo, X, y),
            lambda: autograd_lite_hinge_epoch(al_demo, al_demo_sgd, X, y),
            repeats=repeats,
            slow_steps=2 if args.quick else 5,
            fast_steps=10 if args.quick else 25,
            gc_enabled=gc_enabled,
        )
        print(row(f"(1) demo epoch, MLP(2,[16,16,1]), 100 points, {tag}", result))
        result = paired(
            lambda: micrograd_multiclass_epoch(mg_wide, X64, y64),
            lambda: autograd_lite_multiclass_epoch(al_wide, al_wide_sgd, X64, y64),
            repeats=repeats,
            slow_steps=1 if args.quick else 2,
            fast_steps=5 if args.quick else 20,
            gc_enabled=gc_enabled,
        )
        print(row(f"(2) MLP(64,[32,10]), 32 samples, multiclass hinge, {tag}", result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
