"""The ``autograd-lite`` command.

Each sub-command lives in its own module and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (called with the parsed arguments and
returning an exit code). This file only wires them together, so sub-commands
can grow without touching each other.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Sub-command modules, in the order ``--help`` lists them.
SUBCOMMAND_MODULES = ("demo", "train", "graph")


class CommandError(Exception):
    """A user mistake on the command line: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="autograd-lite",
        description="Train small networks with a scalar autograd engine and see backpropagation.",
    )
    from autograd_lite import __version__

    parser.add_argument("--version", action="version", version=f"autograd-lite {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            # A sub-command whose own module is missing is skipped; a missing
            # third-party package inside it is reported when it runs.
            if error.name == f"{__name__}.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CommandError as error:
        print(f"autograd-lite {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`autograd-lite demo | head`): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
