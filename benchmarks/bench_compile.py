"""Compiled batched replay (autograd_lite.compile) against the interpreted engine, micrograd
and PyTorch, measured in the same process.

Machines here are shared and noisy, so engines are timed alternately (in blocks of
consecutive steps, garbage collector on: see _harness.py), each comparison is a ratio of
two times taken back to back, and every number printed is a median over repeats. BLAS
and PyTorch run on one thread each (``--threads``): on a loaded 2-core machine a
multi-threaded BLAS waits for cores and a 32 × 64 matrix product can take milliseconds.

    python benchmarks/bench_compile.py            # full run (a few minutes)
    python benchmarks/bench_compile.py --quick    # smoke run

(a) One training step (zero grads, mean loss over the batch, backward, SGD update) of
    ``MLP(64, [32, 10])`` with softmax cross-entropy at batch 256: the compiled replay
    against the interpreted engine (the bar: at least 30x faster per sample) and against
    PyTorch CPU tensors doing the same step in float64 and float32. micrograd 0.1.0 (its
    own nn; a multi-class hinge loss since it has no exp or log) and the interpreted engine
    are timed on fewer samples and compared per sample.
(b) The whole training step against PyTorch at batch sizes 1, 8, 64 and 512 (the bar:
    at most 1.5x PyTorch float64's time; the aim: faster up to batch 64): the compiled
    trainer (flat parameter buffer, vectorised SGD), and ``step.backward`` followed by
    ``optimizer.step()`` (every gradient and weight written to its Value every step).
    Then gradients only, against batch size and hidden width.
(c) A GPT training step on token sequences (``GPT(27, 16, 16, 4, 1)``, mean per-position
    cross-entropy, Adam): compiled against the interpreted engine, per sequence (the bar:
    at least 20x faster at batch 64).
(d) Digits: an MLP trained with compiled steps, time and test accuracy (the bar: 95% in
    under a minute).
(e) The GPT step (``GPT(27, 16, 16, 4, 1)``, Adam, 8-token sequences) against PyTorch twins
    in float64 and float32 holding the same weights (embeddings, RMSNorm,
    ``scaled_dot_product_attention(is_causal=True)``, ReLU MLP, no biases) at batch 1, 16
    and 64, the losses of the first steps compared (the goal: at most float64's time);
    then 16-token sequences (the whole block) at batch 16 and 64, and 32-token ones at
    batch 4, 16 and 64 with a longer block and vocabulary (``GPT(40, 32, 16, 4, 1)``):
    attention's cost grows with the square of the length.
(f) MLP steps (SGD momentum 0.9, cross-entropy) over widths ``MLP(64, [32, 10])`` to
    ``MLP(784, [256, 10])`` at batch 1, 8, 64 and 256 against twins (the goal: at most half
    of float64's time up to batch 64, at most its time at 256), and against the same step
    written by hand in NumPy for this one architecture (``numpy_mlp_step``): how far the
    compiled replay is from the floor of any NumPy program, in the same run. Last, the
    step's matrix products alone (``numpy_mlp_products``) over PyTorch float64's step: what
    BLAS needs of any float64 step, a lower bound on every program's ratio.
(g) The same rows for MLPs and batches off (f)'s grid: deeper and wider networks, a tiny
    one, odd batch sizes and batches up to 2048.
(h) MLP steps with the other optimizers that compiled training replays (Adam and RMSprop,
    lr 1e-3) against twins with ``torch.optim``'s, then the update alone: our flat
    buffer's (``compile._optim.FlatUpdate``) against ``torch.optim``'s step on one float64
    tensor of as many parameters, at the sizes of ``MLP(64, [32, 10])``,
    ``MLP(784, [64, 10])`` and ``MLP(784, [256, 10])``.

The load average is printed first and last; a run at load above 1 says its ratios are not
to be trusted. ``--only torch`` runs (e) to (h) only, ``--only gpt`` (e) only; ``--clock
cpu`` times blocks by this process's CPU time (a shared machine). Run from a checkout with
``PYTHONPATH=.``: a script's folder, not the working directory, starts ``sys.path`` (the
copy measured is printed).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import _harness  # benchmarks/ is on sys.path when a script there runs
from _harness import time_block
from _twins import numpy_mlp_products, numpy_mlp_step, torch_gpt_step, torch_mlp_step

import autograd_lite as al
from autograd_lite import losses
from autograd_lite.compile import compile_loss
from autograd_lite.nn import MLP
from autograd_lite.optim import SGD, Adam

try:
    import numpy as np
except ImportError:  # pragma: no cover - the benchmark needs the compile extra
    sys.exit('numpy is not installed: pip install "autograd-lite[compile]"')

N_IN, HIDDEN, N_CLASSES = 64, 32, 10
LR = 0.05


# ---- data and timing ------------------------------------------------------------------------


def random_batch(n: int, n_in: int, seed: int) -> tuple[list[list[float]], list[int]]:
    rng = random.Random(seed)
    X = [[rng.random() for _ in range(n_in)] for _ in range(n)]
    y = [rng.randrange(N_CLASSES) for _ in range(n)]
    return X, y


BLOCK_SECONDS = 0.02  # the length of one timed block (see paired)
MAX_BLOCK_STEPS = 500


def paired(
    functions: dict[str, tuple[Callable[[], object], int]], repeats: int
) -> dict[str, float]:
    """Median seconds per sample of each function, timed in alternating blocks.

    ``functions`` maps a name to (step, samples per step). Each round times every
    function once, in a block of consecutive steps with the garbage collector on (see
    _harness.py). A block lasts about ``BLOCK_SECONDS`` (as many steps as fit, at least
    one), the same for every function: the collection run before each block evicts the
    caches, and the first step after it pays for that, the same time whatever the step.
    In blocks of a fixed 5 steps that cost weighed most on the fastest steps and pulled
    every ratio towards 1; spread over blocks of equal length it weighs the same on all.
    Returns, per name, the median time per sample, and for every two names,
    ``"<a>/<b>"``: the median of the per-round ratios of a's per-sample time to b's.
    """
    names = list(functions)
    pairs = [(a, b) for a in names for b in names if a != b]
    blocks = {}
    for name, (step, _) in functions.items():
        step()  # warm-up: the first call traces, compiles and checks
        start = time.perf_counter()
        step()  # and a second: the first may have allocated the tables of this width
        seconds = time.perf_counter() - start
        blocks[name] = max(1, min(MAX_BLOCK_STEPS, round(BLOCK_SECONDS / max(seconds, 1e-9))))
    per_sample: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {f"{a}/{b}": [] for a, b in pairs}
    for _ in range(repeats):
        round_times = {}
        for name in names:
            step, samples = functions[name]
            round_times[name] = time_block(step, blocks[name], gc_enabled=True) / samples
            per_sample[name].append(round_times[name])
        for a, b in pairs:
            ratios[f"{a}/{b}"].append(round_times[a] / round_times[b])
    result = {name: statistics.median(times) for name, times in per_sample.items()}
    for key, values in ratios.items():
        result[key] = statistics.median(values)
    return result


def limit_threads(threads: int) -> str:
    """One (or ``threads``) BLAS and PyTorch threads; returns a note of what was set."""
    notes = []
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        notes.append(f"numpy BLAS {threads}")
    except ImportError:
        notes.append("numpy BLAS default (threadpoolctl not installed)")
    torch = optional_torch()
    if torch is not None:
        torch.set_num_threads(threads)
        notes.append(f"torch {threads}")
    return ", ".join(notes)


def optional_torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---- the steps ------------------------------------------------------------------------------


def compiled_step(
    width: int = HIDDEN,
    loss: Callable[..., Any] = losses.cross_entropy,
    update: bool = True,
    trainer: bool = True,
):
    """``make(X, y)`` gives a function doing one compiled step on that batch.

    With ``update=False`` the step stops at the gradients (zero them, mean loss,
    backward): the part that compiling replaces. Otherwise SGD updates the weights too:
    on the trainer's flat buffer (``trainer=True``, the Values written at ``sync()``),
    or through every Value (``step.backward`` then ``optimizer.step()``).
    """
    model = MLP(N_IN, [width, N_CLASSES], seed=0)
    optimizer = SGD(model.parameters(), lr=LR)
    X0, y0 = random_batch(1, N_IN, seed=99)
    step = compile_loss(model, loss, X0[0], y0[0])

    def make(X: Any, y: Any) -> Callable[[], float]:
        if update and trainer:
            train = step.trainer(optimizer)
            return lambda: train.step(X, y)

        def run() -> float:
            optimizer.zero_grad()
            value = step.backward(X, y)
            if update:
                optimizer.step()
            return value

        return run

    return make


def interpreted_step(loss: Callable[..., Any] = losses.cross_entropy, update: bool = True):
    model = MLP(N_IN, [HIDDEN, N_CLASSES], seed=0)
    optimizer = SGD(model.parameters(), lr=LR)

    def make(X: Any, y: Any) -> Callable[[], float]:
        def run() -> float:
            optimizer.zero_grad()
            total = al.sum_values([loss(model(x), t) for x, t in zip(X, y)]) * (1.0 / len(X))
            total.backward()
            if update:
                optimizer.step()
            return total.data

        return run

    return make


def micrograd_step():
    from micrograd.engine import Value as MgValue
    from micrograd.nn import MLP as MgMLP

    random.seed(0)
    model = MgMLP(N_IN, [HIDDEN, N_CLASSES])
    params = model.parameters()

    def make(X: Any, y: Any) -> Callable[[], float]:
        def run() -> float:
            total = 0
            for x, target in zip(X, y):
                scores = model([MgValue(v) for v in x])
                margin = 1 - scores[target]
                terms = [(margin + s).relu() for i, s in enumerate(scores) if i != target]
                total = total + sum(terms)
            total = total * (1.0 / len(X))
            model.zero_grad()
            total.backward()
            for p in params:
                p.data -= LR * p.grad
            return total.data

        return run

    return make


def torch_step(dtype_name: str, width: int = HIDDEN, update: bool = True):
    torch = optional_torch()
    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(N_IN, width), torch.nn.ReLU(), torch.nn.Linear(width, N_CLASSES)
    ).to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    def make(X: Any, y: Any) -> Callable[[], float]:
        inputs = torch.tensor(X, dtype=dtype)
        targets = torch.tensor(y)

        def run() -> float:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(inputs), targets)
            loss.backward()
            if update:
                optimizer.step()
            return loss.item()

        return run

    return make


# ---- (a) one step at batch 256 ------------------------------------------------------------


def headline(batch: int, slow_batch: int, micrograd_batch: int, repeats: int) -> None:
    X, y = random_batch(batch, N_IN, seed=1)
    torch = optional_torch()
    print(f"(a) MLP({N_IN}, [{HIDDEN}, {N_CLASSES}]), softmax cross-entropy, batch {batch}")
    for update in (False, True):
        what = "training step (gradients + SGD update)" if update else "gradients only"
        functions = {
            "compiled": (compiled_step(update=update)(X, y), batch),
            "compiled, numpy input": (
                compiled_step(update=update)(np.array(X), np.array(y)),
                batch,
            ),
            "interpreted": (
                interpreted_step(update=update)(X[:slow_batch], y[:slow_batch]),
                slow_batch,
            ),
        }
        if torch is not None:
            functions["torch float64"] = (torch_step("float64", update=update)(X, y), batch)
            functions["torch float32"] = (torch_step("float32", update=update)(X, y), batch)
        result = paired(functions, repeats)
        print(f"    {what}, µs per sample (interpreted on {slow_batch} samples):")
        for name in functions:
            print(f"      {name:24s} {result[name] * 1e6:10.2f}")
        print("      ratios (medians of per-round ratios):")
        interpreted = result["interpreted/compiled"]
        print(f"        interpreted / compiled        {interpreted:7.1f}x   (bar: >= 30x)")
        numpy_input = 1 / result["compiled, numpy input/compiled"]
        print(f"        compiled / compiled numpy in  {numpy_input:7.2f}x")
        if torch is not None:
            for dtype in ("float64", "float32"):
                ratio = 1 / result[f"torch {dtype}/compiled"]
                numpy_ratio = ratio / numpy_input
                print(
                    f"        compiled / torch {dtype}      {ratio:7.2f}x   "
                    f"(numpy input: {numpy_ratio:.2f}x)"
                )

    # micrograd has no exp or log: compare on the multi-class hinge loss, per sample.
    hinge = {
        "compiled": (compiled_step(loss=losses.multiclass_hinge)(X, y), batch),
        "interpreted": (
            interpreted_step(loss=losses.multiclass_hinge)(X[:slow_batch], y[:slow_batch]),
            slow_batch,
        ),
    }
    try:
        hinge["micrograd"] = (
            micrograd_step()(X[:micrograd_batch], y[:micrograd_batch]),
            micrograd_batch,
        )
    except ImportError:
        print('    micrograd not installed (pip install "autograd-lite[bench]"): skipped')
    result = paired(hinge, repeats)
    print(
        f"    training step, multi-class hinge loss, µs per sample "
        f"(micrograd 0.1.0 on {micrograd_batch} samples, its own nn):"
    )
    for name in hinge:
        print(f"      {name:24s} {result[name] * 1e6:10.2f}")
    print(f"        interpreted / compiled        {result['interpreted/compiled']:7.1f}x")
    if "micrograd" in hinge:
        print(f"        micrograd / compiled          {result['micrograd/compiled']:7.1f}x")


# ---- (b) scaling ------------------------------------------------------------------------------


def against_torch(batches: list[int], repeats: int) -> None:
    """The whole training step at each batch size, against PyTorch in float64 and float32."""
    torch = optional_torch()
    if torch is None:
        print("(b) torch is not installed: the comparison with PyTorch is skipped")
        return
    print("(b) training step (zero grads, forward, backward, SGD update) against PyTorch")
    print(
        "      batch   compiled µs   per-Value µs   torch f64 µs   torch f32 µs"
        "   compiled/f64   compiled/f32   per-Value/f64"
    )
    for batch in batches:
        X, y = random_batch(batch, N_IN, seed=batch)
        Xa, ya = np.array(X), np.array(y)
        functions = {
            "compiled": (compiled_step()(Xa, ya), 1),
            "per-Value": (compiled_step(trainer=False)(Xa, ya), 1),
            "torch f64": (torch_step("float64")(X, y), 1),
            "torch f32": (torch_step("float32")(X, y), 1),
        }
        r = paired(functions, repeats)
        print(
            f"      {batch:5d} {r['compiled'] * 1e6:13.1f} {r['per-Value'] * 1e6:14.1f}"
            f" {r['torch f64'] * 1e6:14.1f} {r['torch f32'] * 1e6:14.1f}"
            f" {1 / r['torch f64/compiled']:14.2f}x {1 / r['torch f32/compiled']:13.2f}x"
            f" {r['per-Value/compiled'] / r['torch f64/compiled']:15.2f}x"
        )
    print("      (compiled/f64: the compiled step's time over PyTorch float64's; bar <= 1.5x)")


def gpt_step(repeats: int, batch: int, slow_batch: int, length: int) -> None:
    """A GPT training step, compiled against interpreted, per sequence."""
    import autograd_lite as al
    from autograd_lite.nn import GPT

    vocab = 27

    def sequence_loss(logits: Any, targets: Any) -> Any:
        terms = [losses.cross_entropy(row, t) for row, t in zip(logits, targets)]
        return al.sum_values(terms) * (1.0 / len(targets))

    rng = random.Random(0)
    X = [[rng.randrange(vocab) for _ in range(length)] for _ in range(batch)]
    Y = [[rng.randrange(vocab) for _ in range(length)] for _ in range(batch)]
    fast_model = GPT(vocab, 16, 16, 4, 1, seed=0)
    slow_model = GPT(vocab, 16, 16, 4, 1, seed=0)
    start = time.perf_counter()
    step = compile_loss(fast_model, sequence_loss, X[0], Y[0])
    train = step.trainer(Adam(fast_model.parameters(), lr=1e-2))
    train.step(X, Y)  # the first batch of a length is checked against the interpreter
    compile_seconds = time.perf_counter() - start
    slow_optimizer = Adam(slow_model.parameters(), lr=1e-2)

    def interpreted_gpt() -> float:
        slow_optimizer.zero_grad()
        pairs = zip(X[:slow_batch], Y[:slow_batch])
        total = al.sum_values([sequence_loss(slow_model(x), t) for x, t in pairs])
        total = total * (1.0 / slow_batch)
        total.backward()
        slow_optimizer.step()
        return total.data

    functions = {
        "compiled": (lambda: train.step(X, Y), batch),
        "interpreted": (interpreted_gpt, slow_batch),
    }
    r = paired(functions, repeats)
    print(
        f"(c) GPT(27, 16, 16, 4, 1) training step (Adam), {length} tokens per sequence, "
        f"{len(fast_model.parameters())} parameters"
    )
    print(f"      compiled, batch {batch}: {r['compiled'] * 1e6:10.1f} µs per sequence")
    print(f"      interpreted, batch {slow_batch}: {r['interpreted'] * 1e6:10.1f} µs per sequence")
    print(f"        interpreted / compiled   {r['interpreted/compiled']:7.1f}x   (bar: >= 20x)")
    print(f"      compiling this length and checking its first batch: {compile_seconds:.1f} s")


def scaling(batches: list[int], widths: list[int], repeats: int) -> None:
    torch = optional_torch()
    print("(b) gradients only (zero, mean loss, backward) against batch size, width 32")
    print("      batch   µs/step   µs/sample   torch f64 µs/step   compiled / torch")
    make = compiled_step(update=False)
    make_torch = torch_step("float64", update=False) if torch is not None else None
    for batch in batches:
        X, y = random_batch(batch, N_IN, seed=batch)
        functions = {"compiled": (make(X, y), 1)}
        if make_torch is not None:
            functions["torch"] = (make_torch(X, y), 1)
        result = paired(functions, repeats)
        step = result["compiled"]
        line = f"      {batch:5d} {step * 1e6:9.1f} {step / batch * 1e6:11.2f}"
        if make_torch is not None:
            line += f"   {result['torch'] * 1e6:17.1f}   {1 / result['torch/compiled']:14.2f}x"
        print(line)
    print("    against hidden width, batch 256")
    print("      width   params   µs/step   torch f64 µs/step   compiled / torch")
    X, y = random_batch(256, N_IN, seed=3)
    for width in widths:
        functions = {"compiled": (compiled_step(width, update=False)(X, y), 1)}
        if torch is not None:
            functions["torch"] = (torch_step("float64", width, update=False)(X, y), 1)
        result = paired(functions, repeats)
        params = N_IN * width + width + width * N_CLASSES + N_CLASSES
        line = f"      {width:5d} {params:8d} {result['compiled'] * 1e6:9.1f}"
        if torch is not None:
            line += f"   {result['torch'] * 1e6:17.1f}   {1 / result['torch/compiled']:14.2f}x"
        print(line)


# ---- (c) digits -----------------------------------------------------------------------------


def train_digits(epochs: int, batch_size: int = 32, hidden: int = 64, seed: int = 0) -> dict:
    """Train MLP(64, [hidden, 10]) on the digits with compiled steps; time and test accuracy."""
    from autograd_lite.data import batches, load_digits, train_test_split

    start = time.perf_counter()
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=seed)
    model = MLP(64, [hidden, 10], init="he", seed=seed)
    optimizer = Adam(model.parameters(), lr=3e-3)
    step = compile_loss(model, losses.cross_entropy, X_train[0], y_train[0])
    accuracy = 0.0
    train = step.trainer(optimizer)
    for epoch in range(epochs):
        for X_batch, y_batch in batches(X_train, y_train, batch_size, seed=seed + epoch):
            train.step(X_batch, y_batch)
        train.sync()  # forward reads the weights from the Values
        scores = np.array(step.forward(X_test))
        accuracy = float(np.mean(scores.argmax(axis=1) == np.array(y_test)))
    return {
        "seconds": time.perf_counter() - start,
        "accuracy": accuracy,
        "epochs": epochs,
        "train": len(X_train),
        "test": len(X_test),
    }


def digits(epochs: int, judge: bool) -> None:
    print(f"(d) digits: MLP(64, [64, 10]), Adam, batch 32, {epochs} epochs of compiled steps")
    try:
        result = train_digits(epochs)
    except ImportError as error:
        print(f"    skipped: {error}")
        return
    print(
        f"    {result['train']} training / {result['test']} test samples: test accuracy "
        f"{result['accuracy']:.2%} in {result['seconds']:.1f} s (load, compile, train, evaluate)"
    )
    if judge:
        met = result["accuracy"] >= 0.95 and result["seconds"] < 60
        print(f"    bar (>= 95% in under 60 s): {'met' if met else 'MISSED'}")
    else:
        print("    (quick run: too few epochs to judge the 95% bar)")


# ---- (e), (f) against PyTorch twins holding the same weights -------------------------------

GPT_CONFIG = (27, 16, 16, 4, 1)
LONG_GPT_CONFIG = (40, 32, 16, 4, 1)  # block 32; a sequence may not outnumber the vocabulary
MLP_SHAPES = ((64, 32), (128, 32), (64, 128), (196, 48), (784, 64), (784, 256))


def _ratio_line(label: str, r: dict[str, float]) -> str:
    """µs per step of each contender, and ours over PyTorch's (medians of paired ratios);
    for the MLPs also over the hand-written NumPy step's."""
    line = (
        f"      {label:<22}{r['compiled'] * 1e6:11.1f}{r['torch f64'] * 1e6:12.1f}"
        f"{r['torch f32'] * 1e6:12.1f}{r['compiled/torch f64']:10.2f}x"
        f"{r['compiled/torch f32']:9.2f}x"
    )
    if "numpy" in r:
        line += f"{r['numpy'] * 1e6:12.1f}{r['compiled/numpy']:10.2f}x{r['numpy/torch f64']:9.2f}x"
        line += f"{r['products/torch f64']:10.2f}x"
    return line


_RATIO_HEADER = (
    f"      {'':<22}{'ours µs':>11}{'f64 µs':>12}{'f32 µs':>12}{'ours/f64':>11}{'ours/f32':>10}"
)
_NUMPY_HEADER = f"{'numpy µs':>12}{'ours/np':>10}{'np/f64':>10}{'prod/f64':>11}"


def gpt_against_torch(
    batches: list[int], repeats: int, length: int = 8, config: tuple[int, ...] = GPT_CONFIG
) -> None:
    """GPT(*config) Adam steps, ours (compiled trainer) against PyTorch twins that start
    from the same weights; the losses of the first steps are compared too."""
    import torch

    from autograd_lite.nn import GPT

    def sequence_loss(logits: Any, targets: Any) -> Any:
        terms = [losses.cross_entropy(row, t) for row, t in zip(logits, targets)]
        return al.sum_values(terms) * (1.0 / len(targets))

    print(f"(e) GPT{config} training step (Adam, lr 1e-3), {length}-token sequences")
    print(_RATIO_HEADER)
    vocab = config[0]
    for batch in batches:
        rng = random.Random(batch)
        X = np.array([[rng.randrange(vocab) for _ in range(length)] for _ in range(batch)])
        Y = np.array([[rng.randrange(vocab) for _ in range(length)] for _ in range(batch)])
        model = GPT(*config, seed=0)
        twins = {name: torch_gpt_step(model, name, 1e-3) for name in ("float64", "float32")}
        train = compile_loss(model, sequence_loss, X[0].tolist(), Y[0].tolist()).trainer(
            Adam(model.parameters(), lr=1e-3)
        )
        tokens, targets = torch.from_numpy(X), torch.from_numpy(Y)
        gap = max(abs(train.step(X, Y) - twins["float64"](tokens, targets)) for _ in range(5))
        functions = {
            "compiled": (partial(train.step, X, Y), 1),
            "torch f64": (partial(twins["float64"], tokens, targets), 1),
            "torch f32": (partial(twins["float32"], tokens, targets), 1),
        }
        r = paired(functions, repeats)
        print(_ratio_line(f"batch {batch}", r) + f"   (5 losses within {gap:.1e} of f64's)")


def gpt_rows(repeats: int) -> None:
    """Section (e): 8-token sequences at batch 1, 16 and 64, 16-token ones at 16 and 64,
    then 32-token ones (a longer block) at 4, 16 and 64."""
    gpt_against_torch([1, 16, 64], repeats=repeats)
    gpt_against_torch([16, 64], repeats=repeats, length=16)
    gpt_against_torch([4, 16, 64], repeats=repeats, length=32, config=LONG_GPT_CONFIG)


def mlp_against_torch(batches: list[int], repeats: int, shapes=MLP_SHAPES) -> None:
    """MLP(n_in, [hidden, 10]) SGD-momentum steps with cross-entropy, ours against twins."""
    print(
        "(f) MLP training steps (SGD momentum 0.9, cross-entropy), ours over PyTorch, and over"
        " the same step written by hand in NumPy (benchmarks/_twins.py: the floor for NumPy);"
        " prod/f64: the step's matrix products alone over PyTorch's step, a lower bound for"
        " any float64 program (over 0.5: no float64 step takes half of PyTorch's time here)"
    )
    print(_RATIO_HEADER + _NUMPY_HEADER)
    for n_in, hidden in shapes:
        for batch in batches:
            mlp_row(n_in, [hidden], batch, repeats)


# Shapes and batches off the goal's grid: other depths, widths beyond it, odd and large batches.
OFF_GRID = (
    (10, (16,), (1, 32, 1024)),
    (100, (100, 100), (1, 8, 64, 256)),
    (300, (30, 30, 30), (1, 16, 128)),
    (32, (512,), (8, 256)),
    (784, (128,), (8, 64)),
    (64, (32,), (3, 100, 2048)),
)


def mlp_off_grid(repeats: int, shapes=OFF_GRID) -> None:
    """The rows of (f) for MLPs and batches the goal's table does not name."""
    print("(g) the same, off the table's grid: other depths and widths, odd and large batches")
    print(_RATIO_HEADER + _NUMPY_HEADER)
    for n_in, hidden, batches in shapes:
        for batch in batches:
            mlp_row(n_in, list(hidden), batch, repeats)


def mlp_row(n_in: int, hidden: list[int], batch: int, repeats: int) -> None:
    """One MLP(n_in, [*hidden, 10]) row: ours, the twins, the NumPy floor and the products."""
    import torch

    rng = np.random.default_rng(batch)
    X, y = rng.random((batch, n_in)), rng.integers(0, N_CLASSES, batch)
    model = MLP(n_in, [*hidden, N_CLASSES], seed=0)
    twins = {name: torch_mlp_step(model, name, LR, 0.9) for name in ("float64", "float32")}
    step = compile_loss(model, losses.cross_entropy, X[0].tolist(), int(y[0]))
    train = step.trainer(SGD(model.parameters(), lr=LR, momentum=0.9))
    inputs = {name: torch.tensor(X, dtype=getattr(torch, name)) for name in twins}
    targets = torch.from_numpy(y)
    by_hand = numpy_mlp_step(model, LR, 0.9)
    reference = twins["float64"](inputs["float64"], targets)  # each one's first step
    gap = max(abs(train.step(X, y) - reference), abs(by_hand(X, y) - reference))
    functions = {
        "compiled": (partial(train.step, X, y), 1),
        "torch f64": (partial(twins["float64"], inputs["float64"], targets), 1),
        "torch f32": (partial(twins["float32"], inputs["float32"], targets), 1),
        "numpy": (partial(by_hand, X, y), 1),
        "products": (numpy_mlp_products(model, batch), 1),
    }
    r = paired(functions, repeats)
    label = f"({n_in},[{','.join(map(str, hidden))},10]) b{batch}"
    print(_ratio_line(label, r) + f"   (losses within {gap:.0e})")


OPTIMIZER_ROWS = ((64, 32), (784, 64), (784, 256))
TWIN_DTYPES = {"torch f64": "float64", "torch f32": "float32"}  # contender: torch dtype


def mlp_other_optimizers(batches: list[int], repeats: int, shapes=OPTIMIZER_ROWS) -> None:
    """(h): MLP steps with Adam and RMSprop against torch.optim's, then the update alone."""
    import torch

    from autograd_lite import optim

    print("(h) MLP steps (cross-entropy) with Adam and RMSprop, lr 1e-3, ours over PyTorch")
    print(_RATIO_HEADER)
    for kind in ("Adam", "RMSprop"):
        print(f"    {kind}")
        for n_in, hidden in shapes:
            for batch in batches:
                rng = np.random.default_rng(batch)
                X, y = rng.random((batch, n_in)), rng.integers(0, N_CLASSES, batch)
                model = MLP(n_in, [hidden, N_CLASSES], seed=0)
                twins = {
                    name: torch_mlp_step(model, name, 1e-3, 0.0, kind)
                    for name in TWIN_DTYPES.values()
                }
                step = compile_loss(model, losses.cross_entropy, X[0].tolist(), int(y[0]))
                train = step.trainer(getattr(optim, kind)(model.parameters(), lr=1e-3))
                inputs = {name: torch.tensor(X, dtype=getattr(torch, name)) for name in twins}
                targets = torch.from_numpy(y)
                gap = max(
                    abs(train.step(X, y) - twins["float64"](inputs["float64"], targets))
                    for _ in range(3)
                )
                functions = {
                    "compiled": (partial(train.step, X, y), 1),
                    **{
                        label: (partial(twins[name], inputs[name], targets), 1)
                        for label, name in TWIN_DTYPES.items()
                    },
                }
                r = paired(functions, repeats)
                label = f"({n_in},[{hidden},10]) b{batch}"
                print(_ratio_line(label, r) + f"   (3 losses within {gap:.0e} of f64's)")
    update_alone(shapes, repeats)


def update_alone(shapes: Any, repeats: int) -> None:
    """The optimizer's update of every parameter, ours against torch.optim's in float64."""
    import torch

    from autograd_lite import optim
    from autograd_lite.compile._optim import FlatUpdate

    print("    the update alone: ours (FlatUpdate.step) over torch.optim's step, float64")
    print(f"      {'':<22}{'ours µs':>11}{'torch µs':>12}{'ours/torch':>12}")
    for n_in, hidden in shapes:
        n = (n_in + 1) * hidden + (hidden + 1) * N_CLASSES
        params = [al.Value(0.0) for _ in range(n)]
        rng = np.random.default_rng(n)
        theta, grad = rng.standard_normal(n), rng.standard_normal(n)
        for kind, options in (("SGD", {"lr": LR, "momentum": 0.9}), ("Adam", {}), ("RMSprop", {})):
            ours = FlatUpdate(getattr(optim, kind)(params, **options), params)
            tensor = torch.tensor(theta, requires_grad=True)
            tensor.grad = torch.tensor(grad)
            theirs = getattr(torch.optim, kind)([tensor], **options)
            functions = {
                "ours": (partial(ours.step, theta, grad), 1),
                "torch": (theirs.step, 1),
            }
            r = paired(functions, repeats)
            label = f"{kind} {n:,} parameters"
            print(
                f"      {label:<22}{r['ours'] * 1e6:11.1f}{r['torch'] * 1e6:12.1f}"
                f"{r['ours/torch']:11.2f}x"
            )


def load_note() -> str:
    """The load average, and whether ratios taken now can be trusted."""
    one, five, _ = os.getloadavg()
    verdict = "quiet" if one <= 1.0 else "LOADED: ratios of this run are not to be trusted"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min): {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    parser.add_argument(
        "--only",
        choices=("all", "torch", "gpt"),
        default="all",
        help="torch: sections (e)-(h) only; gpt: section (e) only",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: time blocks by this process's CPU time (a shared, loaded machine)",
    )
    args = parser.parse_args(argv)
    python = sys.version.split()[0]
    if args.clock == "cpu":
        _harness.clock = time.process_time
    print(load_note() + f"; clock: {args.clock}")
    # A script's own folder, not the working directory, starts sys.path: say which copy of
    # the package is measured (run with PYTHONPATH=. to measure a checkout).
    print(f"autograd_lite from {os.path.dirname(al.__file__)}")
    print(f"threads: {limit_threads(args.threads)}; numpy {np.__version__}; Python {python}")
    if args.only == "gpt":
        gpt_rows(repeats=3 if args.quick else 11)
        print(load_note())
        return 0
    if args.only == "torch":
        gpt_rows(repeats=3 if args.quick else 11)
        mlp_against_torch([1, 8, 64, 256], repeats=3 if args.quick else 11)
        mlp_off_grid(repeats=3 if args.quick else 7)
        mlp_other_optimizers([1, 8, 64, 256], repeats=3 if args.quick else 7)
        print(load_note())
        return 0
    if args.quick:
        headline(batch=64, slow_batch=8, micrograd_batch=2, repeats=3)
        against_torch([1, 64], repeats=3)
        scaling([1, 64], [32], repeats=3)
        gpt_step(repeats=3, batch=16, slow_batch=2, length=6)
        digits(epochs=2, judge=False)
        gpt_against_torch([1, 16], repeats=3)
        mlp_against_torch([1, 64], repeats=3, shapes=MLP_SHAPES[:1])
        mlp_other_optimizers([1], repeats=3, shapes=OPTIMIZER_ROWS[:1])
    else:
        headline(batch=256, slow_batch=32, micrograd_batch=4, repeats=11)
        against_torch([1, 8, 64, 512], repeats=21)
        scaling([1, 8, 64, 512], [8, 32, 128, 512], repeats=11)
        gpt_step(repeats=5, batch=64, slow_batch=4, length=12)
        digits(epochs=20, judge=True)
        gpt_rows(repeats=11)
        mlp_against_torch([1, 8, 64, 256], repeats=11)
        mlp_off_grid(repeats=7)
        mlp_other_optimizers([1, 8, 64, 256], repeats=7)
    print(load_note())
    return 0


if __name__ == "__main__":
    sys.exit(main())
