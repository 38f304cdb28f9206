"""``autograd-lite demo``: a quick tour. Train a small network on two moons and draw it.

Runs ``autograd-lite train`` with settings chosen to finish in seconds (200 points,
a 16-16 ReLU network, Adam, mini-batches of 16 for 30 epochs), then says where the
pictures are.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autograd_lite.cli.options import one_line_errors
from autograd_lite.cli.train import Settings, execute

DEFAULT_OUT = Path("autograd-lite-demo")

# What each picture shows, printed under its path: a picture must say whose numbers it
# draws (the forward graph's gradients are the output's, not the loss's).
PICTURE_CAPTIONS = {
    "loss_curve": "the training loss per epoch",
    "gradient_flow": (
        "each layer's gradient norm per epoch; shaded: healthy, from 0.01× to 100× the "
        "output layer's gradient norm"
    ),
    "decision_boundary": "the class the network predicts at every point, with the data",
    "forward_graph": (
        "one training sample through the network, one box per neuron; grad = "
        "d(output)/d(box) for one training sample, not the loss's; a red box is a dead "
        "ReLU: it receives a gradient ('grad in') but passes back 0"
    ),
}

# What the demo trains: small enough to finish in a few seconds with the scalar engine.
DEMO_SETTINGS = {
    "dataset": "moons",
    "samples": 200,
    "hidden": (16, 16),
    "activation": "relu",
    "optimizer": "adam",
    "lr": 0.02,
    "epochs": 30,
    "batch_size": 16,
    "seed": 0,
}


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="train a small network on two moons in seconds and draw it",
        description=(
            "Train a 16-16 ReLU network on 200 two-moons points and save the model, its "
            "loss curve, decision boundary, gradient flow and forward graph."
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"where to write the files (default: ./{DEFAULT_OUT})",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    one_line_errors(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train the demo network and say where its files are."""
    settings = Settings(**DEMO_SETTINGS, out=args.out, progress=not args.no_progress)
    summary = execute(settings)
    pictures = [path for path in summary["files"] if path.suffix in (".png", ".svg", ".dot")]
    print()
    if pictures:
        print(f"Done. Open the pictures in {settings.out.resolve()}:")
        for path in pictures:
            print(f"  {path.resolve()}")
            caption = PICTURE_CAPTIONS.get(path.stem)
            if caption:
                print(f"    {caption}")
    else:  # each skipped picture has its note above, naming what to install
        print(
            f"Done, but no pictures were made (see the notes above); the model is in "
            f"{settings.out.resolve()}"
        )
    print("Train your own: autograd-lite train --help")
    return 0
