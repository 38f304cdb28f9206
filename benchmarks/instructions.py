"""Steps of a benchmark workload, for counting instructions with callgrind.

Wall-clock ratios move by several percent between runs minutes apart; an instruction
count does not. Run the workload for two step counts and take the difference, so that
start-up and imports cancel out:

    PY=$(python -c 'import sys; print(sys.executable)')
    valgrind --tool=callgrind --callgrind-out-file=/dev/null $PY benchmarks/instructions.py demo 2
    valgrind --tool=callgrind --callgrind-out-file=/dev/null $PY benchmarks/instructions.py demo 12

(instructions per step = difference of the two "Collected" counts / 10). ``python`` must
be the interpreter itself, not a shell shim such as pyenv's. Workloads: ``demo``, the
training step of bench_engine.py (b); ``mlp64``, the epoch of bench_nn.py (2); ``gpt`` and
``gpt-tiny``, the GPT step of bench_graphs.py (1) on this engine and on microgpt's design.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
from collections.abc import Callable


def demo_step() -> Callable[[], float]:
    """bench_engine.py (b): MLP(2, [16, 16, 1]) on 32 points, the engine alone."""
    import bench_engine

    xs, ys = bench_engine.two_moons(32, seed=1)
    model = bench_engine.InlineMLP([2, 16, 16, 1], seed=1)
    return lambda: bench_engine.autograd_lite_step(model, xs, ys)


def mlp64_epoch() -> Callable[[], float]:
    """bench_nn.py (2): MLP(64, [32, 10]) on 32 samples with nn, losses and optim.SGD."""
    import bench_nn

    from autograd_lite import optim
    from autograd_lite.nn import MLP

    rng = random.Random(2)
    xs = [[rng.uniform(0.0, 1.0) for _ in range(64)] for _ in range(32)]
    ys = [rng.randrange(10) for _ in range(32)]
    model = MLP(64, [32, 10], seed=3)
    sgd = optim.SGD(model.parameters(), lr=0.1)
    return lambda: bench_nn.autograd_lite_multiclass_epoch(model, sgd, xs, ys)


def gpt_step(engine: str) -> Callable[[], float]:
    """bench_graphs.py (1): the micrograd-style GPT step, on autograd_lite or on ``Tiny``
    (microgpt's engine design, defined in bench_graphs.py)."""
    import bench_graphs

    import autograd_lite as al

    model = bench_graphs.GPT(al.Value if engine == "ours" else bench_graphs.Tiny)
    return lambda: bench_graphs.gpt_step(model)


WORKLOADS = {
    "demo": demo_step,
    "mlp64": mlp64_epoch,
    "gpt": lambda: gpt_step("ours"),
    "gpt-tiny": lambda: gpt_step("tiny"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("steps", type=int, help="steps after one warm-up step")
    args = parser.parse_args(argv)
    gc.disable()  # the collector's work depends on what ran before: count the engine's
    step = WORKLOADS[args.workload]()
    step()
    for _ in range(args.steps):
        step()
    return 0


if __name__ == "__main__":
    sys.exit(main())
