"""``autograd-lite graph``: draw an expression's graph with its values and gradients.

    autograd-lite graph "tanh(x*w + b)" --x 2 --w -3 --b 6.88 --out graph.svg

Every variable in the expression needs a ``--NAME VALUE`` option (``--w=-3`` works too);
``pi`` and ``e`` are the constants. The expression may start with ``-`` (``graph "-x"
--x 3``, even ``graph "--x" --x 3``). Variables are drawn as inputs (data);
``--parameters w,b`` draws those as parameters (weights or biases). The expression is
parsed by :mod:`autograd_lite.expression`, which accepts only numbers, names, arithmetic
and the engine's functions and never hands the text to Python's ``eval``. The command
back-propagates from the result, prints the result and each variable's gradient, and
with ``--out`` writes the drawing (``.svg``, ``.png``, ``.pdf`` or ``.dot`` by suffix);
without ``--out`` it says what to pass.

Graphviz's layout time grows steeply with values used many times (``x*x*...*x`` with 60
factors takes minutes), so a picture is refused beyond ``MAX_SHARED_USES`` such uses or
``MAX_DRAWN_NODES`` nodes (a ``.dot`` file, which needs no layout, is still written), and
``dot`` itself runs under a time limit of ``DOT_SECONDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from autograd_lite.cli import CommandError
from autograd_lite.engine import Value
from autograd_lite.expression import CONSTANTS, FUNCTIONS, ExpressionError, parse_expression
from autograd_lite.viz.graph import RENDER_SUFFIXES, draw_graph

# Options of the command itself; a variable may not take one of these names.
_OPTIONS = ("out", "rankdir", "parameters", "help")
_RANKDIRS = ("LR", "TB", "RL", "BT")
EXAMPLE = 'autograd-lite graph "tanh(x*w + b)" --x 2 --w -3 --b 6.88 --out graph.svg'
# Measured on a 2-core machine under a load of 8: x*x*...*x lays out in 0.8 s with 24
# uses of x, 1.7 s with 32, 8 s with 48, and never finished with 100; a sum of 300
# distinct terms (900 nodes, no sharing) takes about a second.
MAX_SHARED_USES = 32
MAX_DRAWN_NODES = 1000
# Within the bounds above nothing should come near this; it stops what they miss.
DOT_SECONDS = 20.0
# Lines of the text view printed without --out; a longer graph is summarised.
TEXT_LINES = 30


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``graph`` sub-command."""
    parser = subparsers.add_parser(
        "graph",
        help="draw an expression's computation graph with its gradients",
        description=(
            "Evaluate an expression, back-propagate, print the gradients and draw the graph. "
            "Allowed: numbers, variables, the constants pi and e, + - * / **, and "
            + ", ".join(FUNCTIONS)
            + ". Give each variable as --NAME VALUE. Options: --out FILE (.svg, .png, .pdf "
            "or .dot) writes the drawing; --rankdir LR|TB|RL|BT sets its direction; "
            "--parameters NAMES (comma-separated) draws those variables as parameters "
            "(weights or biases), the others as inputs."
        ),
        epilog=f"example: {EXAMPLE}",
        usage='%(prog)s "EXPRESSION" [--NAME VALUE ...] [--out FILE] [--rankdir LR|TB] '
        "[--parameters NAMES]",
        # Every word is read by _parse_arguments: an expression may start with "-".
        prefix_chars="\0",
        add_help=False,
    )
    parser.add_argument("words", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(func=run, graph_parser=parser)


def _parse_arguments(
    words: Sequence[str],
) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """(expression, command options, variables) from the words after ``graph``.

    Done by hand because variable names are only known from the expression, a value such
    as ``-3`` must not be mistaken for an option, and the expression may start with ``-``.
    The first word that is neither ``--NAME`` nor its value is the expression; so is a
    first word that looks like an option but cannot be one (``graph "--x" --x 3``, the
    expression −(−x)): one followed by nothing or by another ``--`` word, since a value
    never starts with ``--``.
    """
    expression: str | None = None
    options: dict[str, str] = {}
    variables: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-h", "--help"):
            options["help"] = ""
            i += 1
            continue
        if _is_expression(words, i, expression):
            if expression is not None:
                raise CommandError(f"expected --NAME VALUE, got {word!r}")
            expression = word
            i += 1
            continue
        name, has_value, value = word[2:].partition("=")
        if not has_value:
            if i + 1 >= len(words):
                raise CommandError(f"--{name} needs a value")
            value = words[i + 1]
            i += 1
        i += 1
        target = options if name in _OPTIONS else variables
        if name in target:
            raise CommandError(f"--{name} is given twice")
        target[name] = value
    return expression, options, variables


def _is_expression(words: Sequence[str], i: int, expression: str | None) -> bool:
    """Whether ``words[i]`` is the expression rather than a ``--NAME [VALUE]`` option."""
    word = words[i]
    if not word.startswith("--") or len(word) == 2:
        return True
    if expression is not None or "=" in word:
        return False
    following = words[i + 1] if i + 1 < len(words) else None
    return following is None or following.startswith("--") or not word[2:].isidentifier()


def _check_out(out: str) -> Path:
    """The path to write, after checking that it can be: each mistake named precisely."""
    path = Path(out)
    if path.is_dir():
        suffix = path.suffix if path.suffix.lower() in RENDER_SUFFIXES else ".svg"
        example = str(path / f"graph{suffix}")
        raise CommandError(
            f"--out {out!r} is a folder; give a file name in it, such as {example!r}"
        )
    if path.suffix.lower() not in RENDER_SUFFIXES:
        raise CommandError(f"--out must end in one of {', '.join(RENDER_SUFFIXES)}, got {out!r}")
    folder = path.parent
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise CommandError(
                    f"cannot write --out {out!r}: {str(parent)!r} is a file, not a folder"
                )
            break
    if not folder.is_dir():
        raise CommandError(f"cannot write --out {out!r}: there is no folder {str(folder)!r}")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write --out {out!r}: the folder {str(folder)!r} is read-only")
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"cannot write --out {out!r}: the file is read-only")
    return path


def run(args: argparse.Namespace) -> int:
    """Evaluate, back-propagate, print the gradients and draw; return the exit status."""
    source, options, given = _parse_arguments(args.words)
    if "help" in options:
        args.graph_parser.print_help()
        return 0
    if source is None:
        raise CommandError(f"give an expression to draw, such as: {EXAMPLE}")
    out = options.get("out")
    rankdir = options.get("rankdir", "LR")
    if rankdir not in _RANKDIRS:
        raise CommandError(f"--rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    path = _check_out(out) if out is not None else None
    parameters = [n for n in options.get("parameters", "").split(",") if n.strip()]
    try:
        expression = parse_expression(source)
    except ExpressionError as error:
        raise CommandError(str(error)) from None
    for name in expression.variables:
        if name in _OPTIONS:
            raise CommandError(
                f"the variable name {name!r} is taken by the --{name} option; rename it"
            )
    for name in given:
        if name in CONSTANTS:
            raise CommandError(f"{name} is the constant {CONSTANTS[name]!r}; it takes no value")
    unknown = [name for name in given if name not in expression.variables]
    if unknown:
        known = ", ".join(expression.variables) or "no variables"
        raise CommandError(f"unknown option --{unknown[0]}: the expression has {known}")
    strangers = [name for name in parameters if name not in expression.variables]
    if strangers:
        known = ", ".join(expression.variables) or "no variables"
        raise CommandError(
            f"--parameters names {strangers[0]!r}, which is not a variable: the expression "
            f"has {known}"
        )
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
    if path is not None:
        _check_drawable(result, path)
    print(f"out = {expression.source.strip()} = {result.data:.6g}")
    if result.requires_grad:
        result.backward()
        for name in expression.variables:
            print(f"d(out)/d{name} = {leaves[name].grad:.6g}")
    else:
        print("the expression has no variables, so there are no gradients")
    if path is None:
        print("the graph, inputs first:")
        for line in graph_lines(result):
            print(f"  {line}")
        print("to draw the graph, add --out graph.svg (or .png, .pdf, .dot)")
        return 0
    inputs = [leaf for name, leaf in leaves.items() if name not in parameters]
    _draw(result, path, rankdir, inputs)
    print(f"wrote {out}")
    return 0


def graph_lines(result: Value, limit: int = TEXT_LINES) -> list[str]:
    """The graph as text, one line per variable and operation, in the order computed.

    ``v3 = mul(x, w) = -6, grad 1.002``: constants appear by their value inside the
    operations that use them. Beyond ``limit`` lines the rest is summarised in one.
    """
    from autograd_lite import topological_order

    names: dict[Value, str] = {}
    lines = []
    unnamed = 0  # results without a label are numbered v1, v2, ... in the order computed
    for node in topological_order(result):
        if not node.parents and not node.requires_grad:
            names[node] = node.label or f"{node.data:.6g}"
            continue
        if not node.label:
            unnamed += 1
        name = node.label or f"v{unnamed}"
        names[node] = name
        if node.parents:
            arguments = ", ".join(names[parent] for parent in node.parents)
            text = f"{name} = {node.op}({arguments}) = {node.data:.6g}"
        else:
            text = f"{name} = {node.data:.6g}"
        grad = node.grad.data if isinstance(node.grad, Value) else node.grad
        lines.append(f"{text}, grad {grad:.6g}" if node.requires_grad else text)
    if not lines:
        lines = [f"{result.label} = {result.data:.6g} (a constant)"]
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"... {len(lines) - limit + 1} more lines"]
    return lines


def _size(result: Value) -> tuple[int, int, str | None]:
    """(drawn nodes, uses of values used more than once, the most used value's name)."""
    uses: dict[Value, int] = {}
    seen = {result}
    stack = [result]
    while stack:
        node = stack.pop()
        for parent in node.parents:
            uses[parent] = uses.get(parent, 0) + 1
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    drawn = len(seen) + sum(1 for node in seen if node.parents)
    shared = sum(count for count in uses.values() if count > 1)
    most = max(uses, key=uses.__getitem__, default=None)
    name = None
    if most is not None and uses[most] > 1:
        name = f"{most.label or 'a value'} is used {uses[most]} times"
    return drawn, shared, name


def _check_drawable(result: Value, path: Path) -> None:
    """Refuse, before anything is printed, a picture Graphviz would take minutes to lay out."""
    if RENDER_SUFFIXES[path.suffix.lower()] is None:
        return  # DOT source needs no layout
    drawn, shared, most_used = _size(result)
    if shared > MAX_SHARED_USES:
        why = f"{shared} uses of values used more than once ({most_used})"
        limit = f"at most {MAX_SHARED_USES} such uses"
    elif drawn > MAX_DRAWN_NODES:
        why, limit = f"{drawn} nodes", f"at most {MAX_DRAWN_NODES} nodes"
    else:
        return
    raise CommandError(
        f"the graph has {why}, which Graphviz would take minutes to lay out; pictures are "
        f"drawn for {limit}. Pass --out with .dot for the DOT source, or draw a shorter "
        "expression"
    )


def _draw(result: Value, path: Path, rankdir: str, inputs: list[Value]) -> None:
    """Write the drawing: DOT source as is, or a picture laid out by ``dot`` under a time limit.

    ``inputs`` are drawn as inputs (data); other variables as parameters.
    """
    output_format = RENDER_SUFFIXES[path.suffix.lower()]
    drawn = _size(result)[0]
    try:
        # _check_drawable already bounded what dot must lay out; a wide picture is still wanted.
        digraph = draw_graph(
            result, rankdir=rankdir, max_nodes=max(drawn, 1), max_size=sys.maxsize, inputs=inputs
        )
    except ImportError as error:
        raise CommandError(str(error)) from None
    if output_format is None:
        data = digraph.source.encode("utf-8")
    else:
        data = _run_dot(digraph.source, output_format, drawn)
    try:
        _write_atomically(path, data)
    except OSError as error:
        raise CommandError(f"cannot write {str(path)!r}: {error.strerror or error}") from None


def _run_dot(source: str, output_format: str, drawn: int) -> bytes:
    dot = shutil.which("dot")
    if dot is None:
        raise CommandError(
            f"the Graphviz `dot` program was not found, so no {output_format.upper()} can be "
            "made: install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: "
            "brew install graphviz), or pass --out with .dot for the DOT source"
        )
    try:
        finished = subprocess.run(
            [dot, f"-T{output_format}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=DOT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CommandError(
            f"Graphviz's dot took more than {DOT_SECONDS:g} s to lay out this graph of "
            f"{drawn} nodes and was stopped; pass --out with .dot for the DOT source, or draw "
            "a shorter expression"
        ) from None
    if finished.returncode != 0:
        message = finished.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CommandError(
            f"Graphviz's dot failed (exit status {finished.returncode})"
            + (f": {message[-1]}" if message else "")
        )
    return finished.stdout


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file beside ``path`` and ``os.replace``: never half-written."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        mask = os.umask(0o022)  # read by setting it; set straight back
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
