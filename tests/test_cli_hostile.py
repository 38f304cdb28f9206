"""The command line under a time limit: generated hostile expressions and arguments.

Every generated command must end, within its time limit, with exit status 0 or with
status 2 and exactly one line on stderr naming the mistake: never a traceback, never a
hang (issue 11: a 201-character product once kept Graphviz busy for minutes).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_lite.cli import graph as cli_graph
from autograd_lite.cli import main
from autograd_lite.expression import ExpressionError, parse_expression

# A generous bound on one command: dot's own limit plus Python's start and drawing.
GRAPH_SECONDS = cli_graph.DOT_SECONDS + 5
TRAIN_SECONDS = 20

NAMES = ["x", "y", "w", "pi", "e", "out", "_x", "__import__", "exp", "os", "help"]
NUMBERS = ["0", "1", "-0.0", "1e308", "1e-320", "5e-324", "9" * 400, "1e999", "0x1F", "1_0"]
FUNCTIONS = ["exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs", "leaky_relu", "open", "eval"]
OPERATORS = ["+", "-", "*", "/", "**", "%", "//", "@", "<<", "and", "<", "==", "if x else"]


def _expressions() -> st.SearchStrategy[str]:
    leaves = st.sampled_from(NAMES + NUMBERS) | st.text(max_size=6)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(OPERATORS), inner).map(" ".join),
            st.tuples(st.sampled_from(["-", "+", "~", "not "]), inner).map("".join),
            st.tuples(st.sampled_from(FUNCTIONS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda t: f"({t})"),
            st.tuples(inner, st.integers(2, 120)).map(lambda t: "*".join([t[0]] * t[1])),
            st.tuples(inner, st.integers(2, 400)).map(lambda t: "(" * t[1] + t[0] + ")" * t[1]),
            inner.map(lambda t: f"{t}.__class__"),
            inner.map(lambda t: f"lambda: {t}"),
            inner.map(lambda t: f"[{t} for _ in ()]"),
        ),
        max_leaves=12,
    )


def _value_arguments(expression: str, value: str) -> list[str]:
    """--NAME VALUE for each variable the expression has (none when it does not parse)."""
    try:
        names = parse_expression(expression).variables
    except (ExpressionError, TypeError):
        names = ("x",)
    return [word for name in names for word in (f"--{name}", value)]


def _check_outcome(status: int, err: str, command: str) -> None:
    assert status in (0, 2), (command, status, err)
    assert "Traceback" not in err, (command, err)
    if status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("autograd-lite "), (command, err)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    expression=_expressions(),
    value=st.sampled_from(["0.5", "-3", "0", "1e308", "-1e-300", "nan", "2"]),
    suffix=st.sampled_from([None, ".svg", ".dot", ".png"]),
)
def test_graph_answers_hostile_expressions_quickly(expression, value, suffix, tmp_path, capsys):
    """Any expression, any value, any format: exit 0, or 2 with one line, within the limit."""
    argv = ["graph", expression, *_value_arguments(expression, value)]
    if suffix is not None:
        argv += ["--out", str(tmp_path / f"g{suffix}")]
    started = time.perf_counter()
    status = main(argv)
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    _check_outcome(status, err, repr(argv))
    assert elapsed < GRAPH_SECONDS, (argv, elapsed)


TRAIN_BASE = ["train", "--samples", "8", "--hidden", "2", "--epochs", "1"]
TRAIN_BASE += ["--no-plots", "--no-progress"]
# Values that are wrong, extreme, or valid: none asks for a long run.
HOSTILE_VALUES = [
    "",
    " ",
    "-1",
    "0",
    "1",
    "2",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "1e-320",
    "0x10",
    "3.5",
    "1,2",
    ",",
    "16,",
    "99999999999",
    "1e6",
    "-0",
    "٣",
    "None",
    "../../etc",
    "\x00",
]
TRAIN_OPTIONS = {
    "--dataset": ["moons", "spirals", "digits", "house", "mnist", "names", ""],
    "--samples": HOSTILE_VALUES,
    "--noise": HOSTILE_VALUES,
    "--classes": HOSTILE_VALUES,
    "--hidden": [*HOSTILE_VALUES, "100000", "4096,4096,4096"],
    "--lr": HOSTILE_VALUES,
    "--l2": HOSTILE_VALUES,
    "--test-size": [*HOSTILE_VALUES, "0.99", "0.01"],
    "--batch-size": HOSTILE_VALUES,
    "--seed": HOSTILE_VALUES,
    "--optimizer": ["adam", "sgd", "lbfgs", ""],
    "--activation": ["tanh", "softmax", ""],
    "--epochs": ["0", "-1", "nan", "", "1.5", "2"],
}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    options=st.lists(
        st.sampled_from(sorted(TRAIN_OPTIONS)).flatmap(
            lambda name: st.tuples(st.just(name), st.sampled_from(TRAIN_OPTIONS[name]))
        ),
        min_size=1,
        max_size=3,
    )
)
def test_train_answers_hostile_arguments_quickly(options, tmp_path, capsys):
    """Generated options and values: exit 0, or 2 with one line, within the time limit."""
    argv = [*TRAIN_BASE, "--out", str(tmp_path / "run")]
    for name, value in options:
        argv += [f"{name}={value}"]
    started = time.perf_counter()
    try:
        status = main(argv)
    except SystemExit as exit_info:  # argparse's own errors
        status = exit_info.code
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("note:", "warning:"))]
    _check_outcome(status, "\n".join(lines), repr(argv))
    assert elapsed < TRAIN_SECONDS, (argv, elapsed)


@pytest.mark.parametrize(
    "argv",
    [
        ["graph", "*".join(["x"] * 600), "--x", "1.0001", "--out", "g.svg"],
        ["graph", "-" * 1999 + "x", "--x", "1", "--out", "g.png"],
        ["graph", "(" * 300 + "x" + ")" * 300, "--x", "1"],
        ["graph", "+".join(f"x{i % 10}" for i in range(300)), "--out", "g.svg"]
        + [word for i in range(10) for word in (f"--x{i}", "1")],
        ["train", "--samples", "99999999999"],
        ["train", "--hidden", "100000000", "--samples", "8"],
    ],
    ids=["long-product", "2000-minuses", "deep-parentheses", "reused-sum", "samples", "hidden"],
)
def test_known_hostile_command_lines_end_quickly_in_a_fresh_process(argv, tmp_path):
    """Commands that once hung or crashed: one line, exit status 2, within the time limit."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "autograd_lite", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=GRAPH_SECONDS + 30,
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 2, result.stderr
    _check_outcome(result.returncode, result.stderr, repr(argv))
    assert elapsed < GRAPH_SECONDS + 10
    assert [p.name for p in tmp_path.iterdir()] == []
