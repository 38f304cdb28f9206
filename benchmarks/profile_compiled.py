"""Where a compiled training step's time goes: each line of its generated program, timed.

A compiled program is two straight-line functions per batch width (autograd_lite/compile/
_codegen.py), so a profile by line is a profile by NumPy call. This script compiles the
GPT or an MLP of bench_compile.py, runs a few steps, then runs ``forward(x)`` and
``backward(x)`` again with a timer around every line and prints the lines that take at
least 1% of the total, the largest first. A line ``opN.forward(...)`` or
``opN.backward(...)`` is an instruction called through its method (attention's products).

    python benchmarks/profile_compiled.py gpt 64          # GPT(27, 16, 16, 4, 1), batch 64
    python benchmarks/profile_compiled.py gpt 64 --length 16   # ... sequences of 16 tokens
    python benchmarks/profile_compiled.py gpt 4 --length 32    # GPT(40, 32, 16, 4, 1), 32 tokens
    python benchmarks/profile_compiled.py mlp 64 32 64     # MLP(64, [32, 10]), batch 64

Times are wall clock on one BLAS thread, medians of nothing: a profile, not a benchmark
(run bench_compile.py for ratios). Run from a checkout with ``PYTHONPATH=.``.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import numpy as np

import autograd_lite as al
from autograd_lite import losses
from autograd_lite.compile import compile_loss
from autograd_lite.nn import GPT, MLP
from autograd_lite.optim import SGD, Adam


def _sequence_loss(logits: Any, targets: Any) -> Any:
    terms = [losses.cross_entropy(row, t) for row, t in zip(logits, targets)]
    return al.sum_values(terms) * (1.0 / len(targets))


def _trainer(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(trainer, X, y) for the model asked for, as bench_compile.py builds it."""
    if args.model == "gpt":
        # bench_compile.py's GPT_CONFIG, or LONG_GPT_CONFIG past its 16-token block
        config = (27, 16, 16, 4, 1) if args.length <= 16 else (40, 32, 16, 4, 1)
        rng = random.Random(args.batch)
        X = np.array(
            [[rng.randrange(config[0]) for _ in range(args.length)] for _ in range(args.batch)]
        )
        y = np.array(
            [[rng.randrange(config[0]) for _ in range(args.length)] for _ in range(args.batch)]
        )
        model = GPT(*config, seed=0)
        step = compile_loss(model, _sequence_loss, X[0].tolist(), y[0].tolist())
        return step.trainer(Adam(model.parameters(), lr=1e-3)), X, y
    generator = np.random.default_rng(args.batch)
    X = generator.random((args.batch, args.inputs))
    y = generator.integers(0, 10, args.batch)
    model = MLP(args.inputs, [args.hidden, 10], seed=0)
    step = compile_loss(model, losses.cross_entropy, X[0].tolist(), int(y[0]))
    return step.trainer(SGD(model.parameters(), lr=0.05, momentum=0.9)), X, y


def _programs(compiled: Any) -> list[Any]:
    """The programs a compiled loss has built (a token-sequence loss keeps one per length)."""
    found = [entry.program for entry in getattr(compiled, "_programs", {}).values()]
    for variant in getattr(compiled, "_variants", {}).values():
        found += [p for p in (variant.merged, *variant.per_label.values()) if p]
    return found


def profile(program: Any, inputs: np.ndarray, steps: int) -> list[tuple[float, str]]:
    """(seconds per call, line) for every line of the program's two functions, on
    ``inputs`` (one column per sample)."""
    width = inputs.shape[1]
    tables = program._buffers(width)
    forward, backward = tables.forward, tables.backward
    namespace = forward.__globals__
    timed: list[str] = []
    lines: list[str] = []
    for line in program.source(width).splitlines():
        code = line.strip()
        if line.startswith("def ") or code == "pass" or code.endswith(":"):
            timed.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        timed += [f"{indent}__t = __clock()", line]
        timed.append(f"{indent}__spent[{len(lines)}] += __clock() - __t")
        lines.append(code)
    spent = [0.0] * len(lines)
    namespace.update(__clock=time.perf_counter, __spent=spent)
    exec("\n".join(timed), namespace)  # timed twins of forward() and backward()
    try:
        with np.errstate(all="ignore"):
            for _ in range(steps):
                namespace["forward"](inputs)
                namespace["backward"](inputs)
    finally:
        namespace["forward"], namespace["backward"] = forward, backward
    return sorted(((s / steps, line) for s, line in zip(spent, lines)), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("gpt", "mlp"))
    parser.add_argument("numbers", type=int, nargs="+", help="gpt: batch; mlp: inputs hidden batch")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--length", type=int, default=8, help="gpt: tokens per sequence (1-32)")
    args = parser.parse_args()
    if args.model == "gpt":
        (args.batch,) = args.numbers
    else:
        args.inputs, args.hidden, args.batch = args.numbers
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    train, X, y = _trainer(args)
    for _ in range(3):
        train.step(X, y)
    program = next(p for p in _programs(train.compiled) if args.batch in p._by_width)
    # The inputs as the program reads them, one column per sample (none for tokens).
    inputs = np.empty((0, args.batch))
    if program.n_x:
        inputs = np.asarray(X, dtype=float).reshape(args.batch, -1).T
    rows = profile(program, inputs, args.steps)
    total = sum(seconds for seconds, _ in rows)
    print(f"{args.model} {args.numbers}: forward + backward {total * 1e6:.1f} µs per call")
    for seconds, line in rows:
        if seconds >= 0.01 * total:
            print(f"{seconds * 1e6:9.1f} µs {100 * seconds / total:5.1f}%  {line[:110]}")


if __name__ == "__main__":
    main()
