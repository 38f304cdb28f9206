"""Timing helpers shared by the benchmarks.

These machines are noisy, so a benchmark never reports a bare time as its result: it
times two contenders alternately in one process and reports the median of the per-pair
ratios. A contender is timed in *blocks* of consecutive steps with nothing in between,
as a user's training loop runs them: with the garbage collector on, the cost of
collecting one step's garbage then lands in the next steps, as it does in real use.
Between blocks the collector is run untimed, so one contender's garbage is never
collected on the other's clock.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class PairedResult:
    """Median seconds per step of each contender, and the median of per-pair ratios."""

    slow_seconds: float
    fast_seconds: float
    ratio: float


# The clock blocks are timed with: wall time by default. On a machine shared with other
# jobs, ``time.process_time`` (this process's CPU time) leaves out the time spent waiting
# for a core; with one BLAS and one torch thread it counts the work of both contenders.
clock: Callable[[], float] = time.perf_counter


def time_block(step: Callable[[], object], steps: int, gc_enabled: bool) -> float:
    """Seconds per step over ``steps`` consecutive calls, after an untimed collection."""
    gc.collect()
    if gc_enabled:
        gc.enable()
    else:
        gc.disable()
    try:
        start = clock()
        for _ in range(steps):
            step()
        return (clock() - start) / steps
    finally:
        gc.enable()


def paired(
    slow: Callable[[], object],
    fast: Callable[[], object],
    *,
    repeats: int,
    slow_steps: int,
    fast_steps: int,
    gc_enabled: bool,
) -> PairedResult:
    """Time ``slow`` and ``fast`` in alternating blocks; medians over ``repeats`` pairs."""
    slow_times, fast_times, ratios = [], [], []
    for _ in range(repeats):
        s = time_block(slow, slow_steps, gc_enabled)
        f = time_block(fast, fast_steps, gc_enabled)
        slow_times.append(s)
        fast_times.append(f)
        ratios.append(s / f)
    return PairedResult(
        statistics.median(slow_times), statistics.median(fast_times), statistics.median(ratios)
    )


def row(name: str, result: PairedResult, unit: float = 1e3, suffix: str = "ms") -> str:
    """One table line: name, both medians, and the ratio."""
    return (
        f"{name:<52}{result.slow_seconds * unit:>10.2f}{suffix}"
        f"{result.fast_seconds * unit:>12.2f}{suffix}{result.ratio:>9.1f}x"
    )


HEADER = f"{'benchmark':<52}{'micrograd':>12}{'autograd_lite':>14}{'ratio':>10}"
