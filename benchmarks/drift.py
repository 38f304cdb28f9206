"""How much this machine's speed drifts: the same three fixed workloads timed again and again.

A shared or virtual machine can change speed within seconds (another tenant, the host's
clock), and not by the same factor for every kind of work. This script times, in rounds,
a pure Python loop, NumPy's float64 ``exp`` over 200,000 numbers and a 256 × 256 matrix
product (one BLAS thread), and prints each one's fastest and slowest round. A ratio
between two programs taken while one kind of work slows more than another moves with it:
read the benchmarks' ratios against this spread.

    python benchmarks/drift.py            # 20 rounds, about 15 seconds
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np


def _python_loop() -> None:
    total = 0
    for i in range(200_000):
        total += i


def _workloads() -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    numbers, out = rng.standard_normal(200_000), np.empty(200_000)
    matrix = rng.standard_normal((256, 256))
    return {
        "Python loop": _python_loop,
        "np.exp, 200,000 float64": lambda: np.exp(numbers, out=out),
        "256 x 256 matrix product": lambda: matrix @ matrix,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")
    workloads = _workloads()
    times: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(args.rounds):
        for name, work in workloads.items():
            start = time.perf_counter()
            for _ in range(10):
                work()
            times[name].append((time.perf_counter() - start) / 10)
    for name, seconds in times.items():
        fastest, slowest = min(seconds), max(seconds)
        print(
            f"{name:<26} fastest {fastest * 1e6:9.1f} µs  slowest {slowest * 1e6:9.1f} µs"
            f"  slowest/fastest {slowest / fastest:5.2f}"
        )
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
