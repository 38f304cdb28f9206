"""``autograd-lite train --dataset names --model gpt``: a character-level GPT on real names.

::

    autograd-lite train --dataset names --model gpt              # 300 names, one per step
    autograd-lite train --dataset names --model gpt --compile    # 600 batches of 16

Loads the 1990 US census first names (:func:`autograd_lite.data.load_names`), holds some
out for testing, trains a one-layer :class:`autograd_lite.nn.GPT` to predict each next
character (boundary token first and last), prints progress, and ends by printing names
the model samples. The output directory receives ``model.json``, ``history.json``
(the mean training loss every tenth of the run) and ``loss_curve.png`` (not with
``--no-plots``). Each step's loss is the mean, over a batch of names, of each name's
mean cross-entropy per position. A loss that becomes non-finite stops the run with a
warning: ``history.json`` then ends at that step (``stopped_step``), ``model.json``
holds the last weights that were all finite (``finite_step``), and no names are sampled.

``train.py`` checks which options apply and dispatches here; this module adds the GPT's
own options to its parser.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd_lite.cli import CommandError
from autograd_lite.cli.options import (
    check_output_directory,
    check_size,
    gpt_size,
    non_negative_float,
    note,
    plural,
    positive_int,
)

MODELS = ("mlp", "gpt")
# Defaults that train in well under a minute on a 2-core machine (interpreted: GPTSettings).
COMPILED_STEPS = 600
COMPILED_BATCH = 16
# The held-out loss is measured on at most this many names: a scalar forward pass costs.
EVALUATED_NAMES = 200


@dataclass
class GPTSettings:
    """One GPT training run on the names."""

    names: int | None = None
    test_size: float = 0.25
    n_embd: int = 16
    n_head: int = 4
    n_layer: int = 1
    steps: int = 300
    batch_size: int = 1
    lr: float = 0.01
    seed: int = 0
    generate: int = 20
    temperature: float = 0.6
    out: Path = Path("autograd-lite-train")
    compile: bool = False
    progress: bool = True
    plots: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options only the GPT uses (``train`` has the shared ones)."""
    gpt = parser.add_argument_group("GPT (--model gpt, --dataset names)")
    gpt.add_argument(
        "--steps",
        type=positive_int,
        metavar="N",
        help=f"optimizer steps (default: 300; {COMPILED_STEPS} with --compile, in batches of "
        f"{COMPILED_BATCH} names of one length; without, one name per step)",
    )
    gpt.add_argument(
        "--n-embd", type=positive_int, metavar="D", help="embedding size (default: 16)"
    )
    gpt.add_argument(
        "--n-head", type=positive_int, metavar="H", help="attention heads (default: 4)"
    )
    gpt.add_argument("--n-layer", type=positive_int, metavar="L", help="blocks (default: 1)")
    gpt.add_argument(
        "--generate",
        type=positive_int,
        metavar="N",
        help="names to sample at the end (default: 20)",
    )
    gpt.add_argument(
        "--temperature",
        type=non_negative_float,
        metavar="T",
        help="sampling temperature; 0 picks the likeliest character (default: 0.6)",
    )


def run(args: argparse.Namespace) -> int:
    """Train the GPT as the parsed arguments say (``train`` checked what applies)."""
    settings = GPTSettings(
        names=args.samples,
        test_size=args.test_size,
        n_embd=_given(args.n_embd, GPTSettings.n_embd),
        n_head=_given(args.n_head, GPTSettings.n_head),
        n_layer=_given(args.n_layer, GPTSettings.n_layer),
        steps=args.steps or (COMPILED_STEPS if args.compile else GPTSettings.steps),
        batch_size=args.batch_size or (COMPILED_BATCH if args.compile else GPTSettings.batch_size),
        lr=args.lr if args.lr is not None else GPTSettings.lr,
        seed=args.seed,
        generate=_given(args.generate, GPTSettings.generate),
        temperature=_given(args.temperature, GPTSettings.temperature),
        out=args.out,
        compile=args.compile,
        progress=not args.no_progress,
        plots=not args.no_plots,
    )
    execute(settings)
    return 0


def _given(value: Any, default: Any) -> Any:
    """The option's value, or the default when it was not given (the parser leaves None)."""
    return default if value is None else value


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


def sequence_loss(logits: list[list[Any]], targets: list[int]) -> Any:
    """The mean cross-entropy of the next-token predictions of one sequence."""
    from autograd_lite.engine import sum_values
    from autograd_lite.losses import cross_entropy

    return sum_values([cross_entropy(row, t) for row, t in zip(logits, targets)]) * (
        1.0 / len(targets)
    )


def _interpreted_step(model: Any, batch: list[list[int]]) -> float:
    """Mean loss over ``batch`` (token sequences); its gradient is added to ``p.grad``."""
    from autograd_lite.engine import sum_values

    losses = [sequence_loss(model(tokens[:-1]), tokens[1:]) for tokens in batch]
    loss = sum_values(losses) * (1.0 / len(batch))
    loss.backward()
    return loss.data


def _mean_loss(model: Any, sequences: list[list[int]]) -> float:
    """The mean per-name loss over ``sequences``, without building a graph."""
    from autograd_lite.engine import no_grad

    with no_grad():
        total = sum(sequence_loss(model(s[:-1]), s[1:]).data for s in sequences)
    return total / len(sequences)


def _check_settings(settings: GPTSettings) -> None:
    if settings.n_embd % settings.n_head:
        raise CommandError(
            f"--n-embd ({settings.n_embd}) must be a multiple of --n-head ({settings.n_head})"
        )


@dataclass
class Names:
    """The names split for training and testing, encoded with one vocabulary."""

    vocab: Any
    known: set[str]
    train: list[list[int]]
    test: list[list[int]]
    block_size: int


def _load_names(settings: GPTSettings, rng: random.Random) -> Names:
    """Load the names, keep the most frequent ``settings.names``, split and encode them."""
    from autograd_lite.data import CharVocabulary, load_names

    try:
        names = load_names()
    except ImportError as error:
        raise CommandError(str(error)) from None
    vocab = CharVocabulary(names)  # from every name, so it does not depend on --samples
    if settings.names is not None:
        names = names[: settings.names]  # the most frequent ones
    if len(names) < 2:
        raise CommandError(f"--samples must keep at least 2 names, got {len(names)}")
    shuffled = list(names)
    rng.shuffle(shuffled)
    n_test = min(max(round(settings.test_size * len(shuffled)), 1), len(shuffled) - 1)
    train = [vocab.encode(name) for name in shuffled[n_test:]]
    test = [vocab.encode(name) for name in shuffled[:n_test]]
    block_size = max(len(s) for s in train + test) - 1
    return Names(vocab, set(names), train, test, block_size)


def execute(settings: GPTSettings) -> dict[str, Any]:
    """Train as ``settings`` say, print progress and samples, write files; return a summary."""
    from autograd_lite.nn import GPT

    _check_settings(settings)
    rng = random.Random(settings.seed)
    data = _load_names(settings, rng)
    vocab, train, test = data.vocab, data.train, data.test
    check_size(
        gpt_size(
            len(vocab), data.block_size, settings.n_embd, settings.n_layer, settings.batch_size
        )
    )
    check_output_directory(settings.out)
    model = GPT(
        len(vocab),
        data.block_size,
        settings.n_embd,
        settings.n_head,
        settings.n_layer,
        seed=settings.seed,
    )
    print(
        f"training GPT(vocab {len(vocab)}, block {data.block_size}, n_embd {settings.n_embd}, "
        f"{settings.n_head} heads, {plural(settings.n_layer, 'layer')}; "
        f"{len(model.parameters())} parameters) on {len(train)} names "
        f"({len(test)} held out): {settings.steps} steps of {plural(settings.batch_size, 'name')}"
        f", adam (lr {settings.lr:g}, decaying to 0)"
    )
    run = _train(model, train, settings, rng)
    seconds = run.records[-1]["time"]
    test_loss = _mean_loss(model, test[:EVALUATED_NAMES])
    run.records[-1]["test_loss"] = test_loss
    print(
        f"trained in {seconds:.1f} s; loss on {min(len(test), EVALUATED_NAMES)} held-out names "
        f"{test_loss:.4f} (guessing uniformly: {math.log(len(vocab)):.4f})"
    )
    samples = [] if run.stopped_step is not None else _print_samples(model, data, settings)
    written = _write_outputs(settings, model, run)
    print(
        f"wrote {plural(len(written), 'file')} to {settings.out}: "
        + ", ".join(p.name for p in written)
    )
    return {
        "model": model,
        "vocab": vocab,
        "records": run.records,
        "test_loss": test_loss,
        "samples": samples,
        "seconds": seconds,
        "files": written,
        "diverged": run.stopped_step is not None,
    }


def _print_samples(model: Any, data: Names, settings: GPTSettings) -> list[str]:
    """Sample ``settings.generate`` names, print them (marking new ones), return them."""
    samples = [
        data.vocab.decode(
            model.generate(
                [data.vocab.boundary], data.block_size, settings.temperature, seed, stop=0
            )
        )
        for seed in range(settings.seed, settings.seed + settings.generate)
    ]
    print(f"sampled names (temperature {settings.temperature:g}; * = not in the data):")
    for name in samples:
        print(f"  {name}{'' if name in data.known else ' *'}")
    return samples


def length_batches(
    sequences: list[list[int]], batch_size: int, rng: random.Random
) -> Iterator[list[list[int]]]:
    """Endless batches of sequences of one length each (a compiled program is per length).

    Each pass over the data shuffles the sequences of every length, cuts them into
    batches of ``batch_size`` (the last of a length may be smaller) and shuffles the
    batches, so every sequence is seen once per pass.
    """
    by_length: dict[int, list[list[int]]] = {}
    for sequence in sequences:
        by_length.setdefault(len(sequence), []).append(sequence)
    while True:
        batches = []
        for group in by_length.values():
            group = list(group)
            rng.shuffle(group)
            batches += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
        rng.shuffle(batches)
        yield from batches


@dataclass
class Run:
    """What training left: progress records, and where it stopped if the loss became non-finite."""

    records: list[dict[str, Any]]
    stopped_step: int | None = None  # the step whose loss was not finite
    finite_step: int = 0  # the last step after which every weight was finite


def _train(model: Any, train: list[list[int]], settings: GPTSettings, rng: random.Random) -> Run:
    """Run the steps, compiled or interpreted, printing progress; stop at a non-finite loss.

    Nothing can come back from nan or inf, so the run stops at the first step whose loss
    is not finite, and the model is given back the last weights that were all finite.
    """
    from autograd_lite.optim import Adam
    from autograd_lite.optim.lr_scheduler import LambdaLR

    optimizer = Adam(model.parameters(), lr=settings.lr, betas=(0.85, 0.99))
    steps = settings.steps
    # The learning rate falls linearly to zero, as in microgpt.
    schedule = LambdaLR(optimizer, lambda step: 1.0 - step / steps)
    report_every = max(1, steps // 10)
    batches = length_batches(train, settings.batch_size, rng)
    run = Run([])
    recent: list[float] = []
    started = time.perf_counter()
    finite_weights = [p.data for p in model.parameters()]
    with _step_runner(model, optimizer, settings, train) as runner:
        for step in range(1, steps + 1):
            recent.append(runner.step(next(batches)))
            schedule.step()
            if not math.isfinite(recent[-1]):
                run.stopped_step = step
            elif _all_finite(weights := runner.weights()):
                finite_weights, run.finite_step = weights, step
            if step % report_every == 0 or step == steps or run.stopped_step is not None:
                _report(run, step, recent, time.perf_counter() - started, settings)
                recent = []
            if run.stopped_step is not None:
                break
    if run.stopped_step is not None:
        for parameter, value in zip(model.parameters(), finite_weights):
            parameter.data = value
        print(_divergence_warning(run, settings.lr), file=sys.stderr)
    return run


def _report(
    run: Run, step: int, recent: list[float], seconds: float, settings: GPTSettings
) -> None:
    """Record (and unless --no-progress print) the mean loss of the steps since the last."""
    loss = math.fsum(recent) / len(recent)
    run.records.append({"step": step, "loss": loss, "time": seconds})
    if settings.progress:
        print(f"  step {step:>5}/{settings.steps}  loss {loss:.4f}  {seconds:6.1f} s")


def _all_finite(values: list[float]) -> bool:
    return all(map(math.isfinite, values))


def _divergence_warning(run: Run, lr: float) -> str:
    loss = run.records[-1]["loss"]
    kept = (
        f"model.json keeps the weights after step {run.finite_step}, the last that were all finite"
        if run.finite_step
        else "model.json keeps the initial weights, as every step made some weight non-finite"
    )
    smaller = f"{GPTSettings.lr:g} (the default)" if lr > GPTSettings.lr else f"{lr / 10:g}"
    return (
        f"warning: training diverged: the loss became {loss} at step {run.stopped_step}, so "
        f"training stopped there; {kept}. The learning rate is probably too large: try a "
        f"smaller --lr than {lr:g}, such as {smaller}"
    )


@dataclass
class StepRunner:
    """One training step on a batch (zero_grad, backward, update), and the current weights."""

    step: Callable[[list[list[int]]], float]
    weights: Callable[[], list[float]]


@contextlib.contextmanager
def _step_runner(
    model: Any, optimizer: Any, settings: GPTSettings, train: list[list[int]]
) -> Iterator[StepRunner]:
    """Steps interpreted, or compiled: then the batch runs as one numpy program for its
    length, parameters and Adam's state in a flat buffer written back to the Values when
    the block ends.
    """
    if not settings.compile:

        def interpreted(batch: list[list[int]]) -> float:
            optimizer.zero_grad()
            loss = _interpreted_step(model, batch)
            optimizer.step()
            return loss

        yield StepRunner(interpreted, lambda: [p.data for p in model.parameters()])
        return
    try:
        from autograd_lite.compile import compile_loss

        compiled = compile_loss(model, sequence_loss, train[0][:-1], train[0][1:])
    except ImportError as error:
        raise CommandError(str(error)) from None
    # Each new length is compiled, and checked against the interpreted engine at the
    # trainer's current weights, the first time a batch of that length arrives.
    with compiled.trainer(optimizer) as trainer:
        yield StepRunner(
            lambda batch: trainer.step([s[:-1] for s in batch], [s[1:] for s in batch]),
            lambda: trainer.theta.tolist(),
        )


def _write_outputs(settings: GPTSettings, model: Any, run: Run) -> list[Path]:
    """model.json, history.json (with where a diverged run stopped) and the loss curve."""
    from autograd_lite.serialization import atomic_write_text, save

    out = settings.out
    written = [save(model, out / "model.json")]
    history: dict[str, Any] = {"records": run.records}
    if run.stopped_step is not None:
        history |= {"stopped_step": run.stopped_step, "finite_step": run.finite_step}
    text = json.dumps(history, indent=1)
    written.append(atomic_write_text(out / "history.json", text + "\n"))
    if settings.plots:
        try:
            written.append(_loss_curve(run, out / "loss_curve.png"))
        except ImportError as error:
            note(f"skipped loss_curve.png: {error}")
    return written


def _loss_curve(run: Run, path: Path) -> Path:
    """The training loss against the step, each point the mean since the previous one.

    Each point is marked (a short or diverged run may have one finite point, which a line
    alone would not show), and a diverged run's stop is drawn as a red line.
    """
    from autograd_lite.viz import plots

    points = [{"epoch": r["step"], "loss": r["loss"]} for r in run.records]
    figure = plots.plot_loss_curve(points, loss_name="cross-entropy")
    ax = figure.axes[0]
    for line in ax.get_lines():
        line.set_marker("o")
        line.set_markersize(3)
    ax.set_xlabel("step")
    title = "Training cross-entropy per position, mean over a name"
    if run.stopped_step is not None:
        loss = run.records[-1]["loss"]
        ax.axvline(run.stopped_step, color="tab:red", linestyle=":")
        title += f"\nthe loss became {loss} at step {run.stopped_step} (red): training stopped"
    else:
        title += "\neach point: the mean over the steps since the previous one"
    ax.set_title(title, fontsize="medium")
    return plots.save_figure(figure, path)
