"""``autograd-lite train``: train a network on a built-in data set and save what it learned.

::

    autograd-lite train --dataset moons --hidden 16,16 --optimizer adam --epochs 100 --out run/

The data set is split into training and test parts, an ``MLP`` is trained with a
progress bar, the final scores are printed, and the output directory receives
``model.json`` (load it with ``autograd_lite.serialization.load``), ``history.json``,
``loss_curve.png``, ``gradient_flow.png``, ``decision_boundary.png`` (2-D data sets) and
``forward_graph.svg``: the graph of one forward pass, one box per neuron (``.dot`` when
the Graphviz program is not installed). A missing optional package skips its file with a
note instead of failing the run.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from autograd_lite.cli import CommandError, train_gpt

DATASETS = ("moons", "circles", "spirals", "xor", "digits", "house", "names")
# Data sets drawn in the plane, which get a decision-boundary plot.
PLANAR = ("moons", "circles", "spirals", "xor")
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
    classes: int = 2
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


# --------------------------------------------------------------------------------------
# Argument types: each error message says what was expected
# --------------------------------------------------------------------------------------


def _parse(text: str, convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An int >= 1."""
    return _parse(text, int, lambda v: v >= 1, "a positive whole number")


def non_negative_int(text: str) -> int:
    """An int >= 0."""
    return _parse(text, int, lambda v: v >= 0, "a whole number >= 0")


def positive_float(text: str) -> float:
    """A finite float > 0."""
    return _parse(text, float, lambda v: math.isfinite(v) and v > 0, "a positive number")


def non_negative_float(text: str) -> float:
    """A finite float >= 0."""
    return _parse(text, float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")


def fraction(text: str) -> float:
    """A float strictly between 0 and 1."""
    return _parse(text, float, lambda v: 0 < v < 1, "a number between 0 and 1")


def layer_sizes(text: str) -> tuple[int, ...]:
    """Comma-separated positive ints: ``"16,16"`` → (16, 16)."""
    parts = [part.strip() for part in text.split(",")]
    sizes = []
    for part in parts:
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                f"expected hidden layer sizes as positive whole numbers separated by commas "
                f"(like 16,16), got {text!r}"
            )
        sizes.append(int(part))
    return tuple(sizes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``autograd-lite train``."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, default="moons", help="default: moons")
    data.add_argument(
        "--samples",
        type=positive_int,
        metavar="N",
        help="number of samples (default: 200; 100 for xor; all 1797 for digits)",
    )
    data.add_argument(
        "--noise", type=non_negative_float, metavar="S", help="noise of the toy data sets"
    )
    data.add_argument(
        "--classes", type=positive_int, default=2, metavar="K", help="spiral arms (default: 2)"
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
        default=(16, 16),
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (default: 16,16)",
    )
    model.add_argument(
        "--model",
        choices=train_gpt.MODELS,
        help="mlp (default), or gpt: a transformer for --dataset names (the default there)",
    )
    model.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="default: relu")
    model.add_argument(
        "--init",
        choices=INITS,
        default="auto",
        help="initial weights (default: he for relu, xavier otherwise)",
    )
    training = parser.add_argument_group("training")
    training.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="default: adam")
    training.add_argument(
        "--lr",
        type=positive_float,
        metavar="RATE",
        help="learning rate (default: 0.1 for sgd, 0.01 otherwise)",
    )
    training.add_argument(
        "--l2", type=non_negative_float, default=0.0, metavar="ALPHA", help="L2 penalty"
    )
    training.add_argument(
        "--epochs", type=positive_int, default=100, metavar="N", help="default: 100"
    )
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


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Report bad arguments in one line, without argparse's long usage block before it."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]


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


def run(args: argparse.Namespace) -> int:
    """Train as the parsed arguments say; return the exit status."""
    if args.model == "gpt" or args.dataset == "names":
        return train_gpt.run(args)
    settings = Settings(
        dataset=args.dataset,
        samples=args.samples,
        noise=args.noise,
        classes=args.classes,
        hidden=args.hidden,
        activation=args.activation,
        init=args.init,
        optimizer=args.optimizer,
        lr=args.lr,
        l2=args.l2,
        epochs=args.epochs,
        batch_size=args.batch_size,
        test_size=args.test_size,
        seed=args.seed,
        out=args.out,
        compile=args.compile,
        progress=not args.no_progress,
        plots=not args.no_plots,
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
        if settings.classes < 2:
            raise CommandError(f"--classes must be at least 2 for spirals, got {settings.classes}")
        return data.make_spirals(n or 200, n_classes=settings.classes, seed=settings.seed, **noise)
    if settings.dataset == "xor":
        return data.make_xor(n or 100, seed=settings.seed, **noise)
    if settings.dataset == "house":
        return data.make_house_prices(n or 200, seed=settings.seed, **noise)
    try:
        X, y = data.load_digits()
    except ImportError as error:
        raise CommandError(str(error)) from None
    if n is not None and n < len(X):
        # A seeded subset, so a quick run still sees every digit.
        X, _, y, _ = data.train_test_split(X, y, test_size=len(X) - n, seed=settings.seed)
    return X, y


def _outputs_for(settings: Settings) -> int:
    """One output for binary labels and regression, one per class otherwise."""
    if settings.dataset == "digits":
        return 10
    if settings.dataset == "spirals" and settings.classes > 2:
        return settings.classes
    return 1


def _check_output_directory(out: Path) -> None:
    """Create ``out`` and prove it is writable, before any time is spent training."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise CommandError(f"cannot write to --out {str(out)!r}: {reason}") from None


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def execute(settings: Settings) -> dict[str, Any]:
    """Run one training as ``settings`` say: print scores, write files; return a summary."""
    from autograd_lite.data import train_test_split
    from autograd_lite.nn import MLP
    from autograd_lite.optim import SGD, Adam, AdamW, RMSprop
    from autograd_lite.training import evaluate, fit

    _check_output_directory(settings.out)
    if settings.dataset == "digits" and not settings.compile:
        _note(
            "digits has 1797 images of 64 pixels, which trains slowly one scalar at a time; "
            "add --compile (needs numpy) to train on whole batches at once"
        )
    X, y = load_dataset(settings)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=settings.test_size, seed=settings.seed
    )
    n_outputs = _outputs_for(settings)
    init = settings.init
    if init == "auto":
        init = "he" if settings.activation in ("relu", "leaky_relu") else "xavier"
    model = MLP(
        len(X[0]),
        [*settings.hidden, n_outputs],
        activation=settings.activation,
        init=init,
        seed=settings.seed,
    )
    optimizer_class = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}
    lr = settings.lr if settings.lr is not None else DEFAULT_LR[settings.optimizer]
    optimizer = optimizer_class[settings.optimizer](model.parameters(), lr=lr)

    print(
        f"training {model!r} on {settings.dataset}: {len(X_train)} training and "
        f"{len(X_test)} test samples, {settings.optimizer} (lr {lr:g}), "
        f"{settings.epochs} epochs"
    )
    started = time.perf_counter()
    try:
        history = fit(
            model,
            X_train,
            y_train,
            optimizer=optimizer,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            l2=settings.l2,
            X_test=X_test,
            y_test=y_test,
            progress=settings.progress,
            compile=settings.compile,
            seed=settings.seed,
        )
    except ImportError as error:
        raise CommandError(str(error)) from None
    seconds = time.perf_counter() - started
    train_scores = evaluate(model, X_train, y_train)
    test_scores = evaluate(model, X_test, y_test)
    print(f"trained in {seconds:.1f} s")
    for name, scores in (("train", train_scores), ("test", test_scores)):
        line = f"  {name:<5} loss {scores['loss']:.4f}"
        if scores["accuracy"] is not None:
            line += f"  accuracy {100 * scores['accuracy']:.1f}%"
        print(line)

    try:
        written = _write_outputs(settings, model, history, X, y, X_train[0])
    except OSError as error:  # the directory was writable at the start; a disk can fill up
        raise CommandError(f"could not write to {str(settings.out)!r}: {error}") from None
    print(f"wrote {len(written)} files to {settings.out}:")
    for path in written:
        print(f"  {path.name}")
    return {"train": train_scores, "test": test_scores, "files": written, "history": history}


def _write_outputs(
    settings: Settings, model: Any, history: Any, X: list[Any], y: list[Any], x0: Any
) -> list[Path]:
    """Save the model, the history and the pictures; skip (with a note) what cannot be made."""
    from autograd_lite.serialization import atomic_write_text, save

    out = settings.out
    written = [save(model, out / "model.json")]
    text = json.dumps(history.to_dict(), indent=1)
    written.append(atomic_write_text(out / "history.json", text + "\n"))

    if not settings.plots:
        return written

    def attempt(name: str, make: Callable[[], Path]) -> None:
        try:
            written.append(make())
        except ImportError as error:
            _note(f"skipped {name}: {error}")

    def plot(name: str, function: str, *args: Any) -> None:
        def make() -> Path:
            from autograd_lite.viz import plots

            getattr(plots, function)(*args, out / name)
            return out / name

        attempt(name, make)

    plot("loss_curve.png", "plot_loss_curve", history)
    plot("gradient_flow.png", "plot_gradient_flow", history)
    if settings.dataset in PLANAR:
        plot("decision_boundary.png", "plot_decision_boundary", model, X, y)
    attempt("forward_graph.svg", lambda: _forward_graph(model, x0, out))
    return written


def _forward_graph(model: Any, x0: Any, out: Path) -> Path:
    """One sample's forward graph, a box per neuron: SVG, or DOT without Graphviz's ``dot``.

    For a one-output model the output is back-propagated first, so each box also shows
    d(output)/d(neuron) instead of zeros; the model's gradients are cleared after.
    """
    from autograd_lite.engine import Value
    from autograd_lite.viz.graph import GraphvizNotFoundError, render

    root = model(x0)
    if isinstance(root, Value):
        root.backward()
    try:
        if shutil.which("dot") is not None:
            try:
                return render(root, out / "forward_graph.svg", collapse="neuron")
            except GraphvizNotFoundError:
                pass
        path = render(root, out / "forward_graph.dot", collapse="neuron")
    finally:
        model.zero_grad()
    _note(
        "the Graphviz `dot` program is not installed, so the forward graph was saved as "
        "DOT source (forward_graph.dot); install Graphviz to get forward_graph.svg"
    )
    return path
