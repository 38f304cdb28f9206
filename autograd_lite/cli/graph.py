"""``autograd-lite graph``: draw an expression's graph with its values and gradients.

    autograd-lite graph "tanh(x*w + b)" --x 2 --w -3 --b 6.88 --out graph.svg

Every variable in the expression needs a ``--NAME VALUE`` option (``--w=-3`` works too).
The expression is parsed by :mod:`autograd_lite.expression`, which accepts only numbers,
names, arithmetic and the engine's functions and never hands the text to Python's
``eval``. The command back-propagates from the result, prints the result and each
variable's gradient, and with ``--out`` writes the drawing (``.svg``, ``.png``, ``.pdf``
or ``.dot`` by suffix).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from autograd_lite.cli import CommandError
from autograd_lite.engine import Value
from autograd_lite.expression import ExpressionError, parse_expression
from autograd_lite.viz.graph import RENDER_SUFFIXES, GraphvizNotFoundError, render

# Options of the command itself; a variable may not take one of these names.
_OPTIONS = ("out", "rankdir", "help")
_RANKDIRS = ("LR", "TB", "RL", "BT")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``graph`` sub-command."""
    parser = subparsers.add_parser(
        "graph",
        help="draw an expression's computation graph with its gradients",
        description=(
            "Evaluate an expression, back-propagate, print the gradients and draw the graph. "
            "Allowed: numbers, variables, + - * / **, and exp, log, tanh, sigmoid, relu, "
            "leaky_relu, softplus, sin, cos, sqrt, abs. Give each variable as --NAME VALUE."
        ),
        epilog='example: autograd-lite graph "tanh(x*w + b)" --x 2 --w -3 --b 6.88 --out g.svg',
    )
    parser.add_argument("expression", help='the expression, e.g. "tanh(x*w + b)" (quote it)')
    parser.add_argument("--out", help="write the drawing here; .svg, .png, .pdf or .dot")
    parser.add_argument("--rankdir", default="LR", help="layout direction: LR (default) or TB")
    parser.add_argument(
        "variables",
        nargs=argparse.REMAINDER,
        metavar="--NAME VALUE",
        help="a value for each variable in the expression",
    )
    parser.set_defaults(func=run, graph_parser=parser)


def _parse_options(tokens: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``--name value`` / ``--name=value`` pairs into (command options, variables).

    Done by hand because variable names are only known from the expression, and a value
    such as ``-3`` must not be mistaken for an option.
    """
    options: dict[str, str] = {}
    variables: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or len(token) == 2:
            raise CommandError(f"expected --NAME VALUE, got {token!r}")
        name, has_value, value = token[2:].partition("=")
        if name == "help":
            options["help"] = ""
            i += 1
            continue
        if not has_value:
            if i + 1 >= len(tokens):
                raise CommandError(f"--{name} needs a value")
            value = tokens[i + 1]
            i += 1
        i += 1
        target = options if name in _OPTIONS else variables
        if name in target:
            raise CommandError(f"--{name} is given twice")
        target[name] = value
    return options, variables


def run(args: argparse.Namespace) -> int:
    """Evaluate, back-propagate, print the gradients and draw; return the exit status."""
    options, given = _parse_options(args.variables)
    if "help" in options:
        args.graph_parser.print_help()
        return 0
    out = options.get("out", args.out)
    rankdir = options.get("rankdir", args.rankdir)
    if rankdir not in _RANKDIRS:
        raise CommandError(f"--rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    if out is not None and Path(out).suffix.lower() not in RENDER_SUFFIXES:
        raise CommandError(f"--out must end in one of {', '.join(RENDER_SUFFIXES)}, got {out!r}")
    try:
        expression = parse_expression(args.expression)
    except ExpressionError as error:
        raise CommandError(str(error)) from None
    for name in expression.variables:
        if name in _OPTIONS:
            raise CommandError(
                f"the variable name {name!r} is taken by the --{name} option; rename it"
            )
    unknown = [name for name in given if name not in expression.variables]
    if unknown:
        known = ", ".join(expression.variables) or "no variables"
        raise CommandError(f"unknown option --{unknown[0]}: the expression has {known}")
    missing = [name for name in expression.variables if name not in given]
    if missing:
        raise CommandError(
            "no value for "
            + ", ".join(missing)
            + ": pass "
            + " ".join(f"--{name} VALUE" for name in missing)
        )
    values = {}
    for name, text in given.items():
        try:
            number = float(text)
        except ValueError:
            raise CommandError(f"--{name} expects a number, got {text!r}") from None
        if not math.isfinite(number):
            raise CommandError(f"--{name} expects a finite number, got {text!r}")
        values[name] = number

    leaves = {name: Value(number, label=name) for name, number in values.items()}
    try:
        result = expression.evaluate(leaves)
    except ExpressionError as error:
        raise CommandError(str(error)) from None
    if not result.label:  # a bare variable keeps its own name
        result.label = "out"
    print(f"out = {expression.source.strip()} = {result.data:.6g}")
    if result.requires_grad:
        result.backward()
        for name in expression.variables:
            print(f"d(out)/d{name} = {leaves[name].grad:.6g}")
    else:
        print("the expression has no variables, so there are no gradients")
    if out is not None:
        _draw(result, out, rankdir)
        print(f"wrote {out}")
    return 0


def _draw(result: Value, out: str, rankdir: str) -> None:
    # The graphviz package itself is imported by render(), only when drawing.
    try:
        render(result, out, rankdir=rankdir, max_nodes=2000)
    except (GraphvizNotFoundError, ImportError) as error:
        raise CommandError(str(error)) from None
    except ValueError as error:  # an unknown suffix, or too many nodes
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"cannot write {out}: {error.strerror or error}") from None
