"""What ``train`` (and ``demo``) share: option types, the output folder, and the run's size.

Both ``cli/train.py`` (the MLP) and ``cli/train_gpt.py`` (the GPT) import this module and
neither imports the other's helpers, so the two can be read apart.

The size of a run is bounded as a whole, before anything is built: the parameters the
model will hold and the scalar operations one training step will record, both estimated
from the options (see :func:`mlp_size` and :func:`gpt_size`), not each number alone.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from autograd_lite.cli import CommandError

# Bounds on what one run holds. A parameter costs about 500 bytes with its gradient and
# Adam's state (MLP(64, [700, 700, 10]), 543,210 parameters, peaked at 309 MB), and an
# operation recorded in a step's graph about 50 bytes: these keep a run under about 1.2 GB.
# Time bounds the parameters first: `train --hidden 100000` (400,001 parameters, 6
# training samples, one epoch) took 114 s under a load of 4 on 2 cores.
MAX_PARAMETERS = 250_000
MAX_STEP_OPERATIONS = 20_000_000


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


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Report bad arguments in one line, without argparse's long usage block before it."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------
# Printing and the output folder
# --------------------------------------------------------------------------------------


def plural(count: int, word: str, many: str | None = None) -> str:
    """``plural(1, "epoch")`` → "1 epoch"; ``plural(3, "epoch")`` → "3 epochs"."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def note(message: str) -> None:
    """A remark on stderr that does not stop the run."""
    print(f"note: {message}", file=sys.stderr)


def check_output_directory(out: Path) -> None:
    """Create ``out`` and prove it is writable, before any time is spent training."""
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                what = "it is" if folder == out else f"{str(folder)!r} is"
                raise CommandError(
                    f"cannot write to --out {str(out)!r}: {what} a file, not a folder; "
                    "give a folder for the model and pictures"
                )
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise CommandError(f"cannot write to --out {str(out)!r}: {reason}") from None


# --------------------------------------------------------------------------------------
# The size of a run, estimated from the options
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSize:
    """What one run holds: its parameters, and the operations one step records."""

    parameters: int
    step_operations: int
    model: str  # the options that make the model, for the error message
    step: str  # what one step works on, for the error message


def mlp_size(inputs: int, layers: Sequence[int], batch: int) -> RunSize:
    """An ``MLP(inputs, layers)`` trained on ``batch`` samples per step.

    Each sample's forward pass uses every weight once, and its backward pass as often.
    """
    sizes = [inputs, *layers]
    parameters = sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(sizes))
    return RunSize(
        parameters,
        batch * parameters,
        f"{','.join(map(str, layers[:-1]))} hidden on {plural(inputs, 'input')}",
        f"{plural(batch, 'sample')} per step × {parameters:,} parameters",
    )


def gpt_size(vocab: int, block: int, n_embd: int, n_layer: int, batch: int) -> RunSize:
    """An ``nn.GPT(vocab, block, n_embd, n_head, n_layer)`` trained on ``batch`` sequences.

    Parameters: two embeddings and the output layer (vocab and block rows of ``n_embd``),
    per block 12·n_embd² (query, key, value and projection: 4; the MLP: 8) and two norm
    weights, and the final norm. A step applies every weight but the embeddings once per
    position, and attention adds two products of ``block × n_embd`` per position and block.
    """
    per_block = 12 * n_embd * n_embd + 2 * n_embd
    parameters = 2 * vocab * n_embd + block * n_embd + n_layer * per_block + n_embd
    per_position = vocab * n_embd + n_layer * (per_block + 2 * block * n_embd)
    return RunSize(
        parameters,
        batch * block * per_position,
        f"--n-embd {n_embd} --n-layer {n_layer}",
        f"{plural(batch, 'name')} of up to {block} positions per step",
    )


def check_size(size: RunSize) -> None:
    """Refuse, in one line, a run that would hold more than the bounds allow."""
    if size.parameters > MAX_PARAMETERS:
        raise CommandError(
            f"the model would have {size.parameters:,} parameters ({size.model}); a scalar "
            f"engine holds at most {MAX_PARAMETERS:,} here: choose a smaller model"
        )
    if size.step_operations > MAX_STEP_OPERATIONS:
        raise CommandError(
            f"one training step would record {size.step_operations:,} operations "
            f"({size.step}); at most "
            f"{MAX_STEP_OPERATIONS:,} fit in memory here: give a smaller --batch-size"
        )
