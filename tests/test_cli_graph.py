"""Tests for ``autograd-lite graph``: evaluate, back-propagate, print and draw an expression.

Printed gradients are checked against sympy; hostile expressions must exit with status 2
and run nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest
import sympy as sp

from autograd_lite.cli import graph as cli_graph
from autograd_lite.cli import main
from tests.optional import need

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the dot program is missing")


def printed_numbers(text: str) -> dict[str, float]:
    """``out`` and each ``d(out)/dNAME`` from the command's output."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"(out = .*|d\(out\)/d\w+) = (\S+)$", line)
        if match:
            key = "out" if match.group(1).startswith("out") else match.group(1)
            found[key] = float(match.group(2))
    return found


@needs_dot
def test_the_example_from_the_brief_prints_sympys_gradients_and_writes_svg(tmp_path, capsys):
    """tanh(x*w + b): printed value and gradients are sympy's; the SVG shows them."""
    need("graphviz")
    out = tmp_path / "graph.svg"
    argv = ["graph", "tanh(x*w + b)", "--x", "2", "--w", "-3", "--b", "6.88", "--out", str(out)]
    assert main(argv) == 0
    printed = printed_numbers(capsys.readouterr().out)
    x, w, b = sp.symbols("x w b")
    expression = sp.tanh(x * w + b)
    at = {x: 2, w: -3, b: sp.Rational(688, 100)}
    assert printed["out"] == pytest.approx(float(expression.subs(at)), rel=1e-5)
    for symbol in (x, w, b):
        expected = float(sp.diff(expression, symbol).subs(at))
        assert printed[f"d(out)/d{symbol}"] == pytest.approx(expected, rel=1e-5)
    svg = out.read_text()
    assert "</svg>" in svg and "grad" in svg
    assert f"grad {float(sp.diff(expression, w).subs(at)):.4f}" in svg


@needs_dot
@pytest.mark.parametrize(
    ("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph")]
)
def test_out_suffix_picks_the_format(tmp_path, capsys, suffix, magic):
    """--out graph.png / .pdf / .dot writes that format."""
    need("graphviz")
    path = tmp_path / f"graph{suffix}"
    assert main(["graph", "x * y", "--x", "1.5", "--y=-2", "--out", str(path)]) == 0
    assert path.read_bytes().startswith(magic)
    assert f"wrote {path}" in capsys.readouterr().out


def test_options_may_come_before_the_expression_and_in_any_order(tmp_path, capsys):
    """--out before the expression, --NAME=VALUE and negative values all work."""
    need("graphviz")
    path = tmp_path / "g.dot"
    assert main(["graph", "--out", str(path), "x ** 2 - y", "--y=-1", "--x", "-3"]) == 0
    printed = printed_numbers(capsys.readouterr().out)
    assert printed == {"out": 10.0, "d(out)/dx": -6.0, "d(out)/dy": -1.0}  # 9 + 1; 2x; -1
    assert "rankdir=LR" in path.read_text()
    assert main(["graph", "x", "--x", "1", "--rankdir", "TB", "--out", str(path)]) == 0
    assert "rankdir=TB" in path.read_text()


def test_without_out_nothing_is_written(tmp_path, capsys, monkeypatch):
    """No --out: the numbers are printed and no file appears."""
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "sigmoid(z)", "--z", "0"]) == 0
    assert printed_numbers(capsys.readouterr().out) == {"out": 0.5, "d(out)/dz": 0.25}
    assert list(tmp_path.iterdir()) == []


def test_an_expression_without_variables_has_no_gradients(capsys):
    """'2 + 3' prints 5 and says there is nothing to differentiate."""
    assert main(["graph", "2 + 3"]) == 0
    output = capsys.readouterr().out
    assert "= 5" in output and "no variables" in output


HOSTILE = [
    "__import__('os').system('touch pwned')",
    "open('pwned', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "lambda: 0",
    "[x for x in ()]",
    "exec('import os')",
    "tanh(x=1)",
    "'x'",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_exit_2_and_run_nothing(expression, tmp_path, capsys, monkeypatch):
    """Anything outside the grammar: one line on stderr, exit status 2, no file created."""
    monkeypatch.chdir(tmp_path)
    assert main(["graph", expression, "--x", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("autograd-lite graph: error:")
    assert "not allowed" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x * y", "--x", "1"], "no value for y: pass --y VALUE"),
        (["x", "--x", "1", "--z", "2"], "unknown option --z: the expression has x"),
        (["x", "--x", "abc"], "--x expects a number, got 'abc'"),
        (["x", "--x", "nan"], "--x expects a finite number"),
        (["x", "--x"], "--x needs a value"),
        (["x", "--x", "1", "--x", "2"], "--x is given twice"),
        (["x", "--x", "1", "stray"], "expected --NAME VALUE, got 'stray'"),
        (["x", "--x", "1", "--out", "g.jpg"], "--out must end in one of .svg"),
        (["x", "--x", "1", "--rankdir", "XY"], "--rankdir must be one of LR"),
        (["out + 1", "--out", "g.dot"], "'out' is taken by the --out option"),
        (["log(x)", "--x", "-1"], "log is defined for x >= 0"),
        (["x +", "--x", "1"], "not a valid expression"),
    ],
)
def test_user_mistakes_exit_2_with_a_clear_message(argv, message, tmp_path, capsys, monkeypatch):
    """Each mistake gives exit status 2 and says what to do."""
    monkeypatch.chdir(tmp_path)
    assert main(["graph", *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_missing_dot_program_is_a_clear_error(tmp_path, capsys, monkeypatch):
    """Without Graphviz's dot an SVG cannot be made: exit 2 with install instructions."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["graph", "x * 2", "--x", "1", "--out", str(tmp_path / "g.svg")]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert not (tmp_path / "g.svg").exists()


def test_help_shows_the_example(capsys):
    """--help after the expression prints the sub-command's help with an example."""
    assert main(["graph", "x", "--help"]) == 0
    output = capsys.readouterr().out
    assert "--NAME VALUE" in output and "tanh(x*w + b)" in output


def test_the_installed_command_runs(tmp_path):
    """python -m autograd_lite graph ... works end to end in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-m", "autograd_lite", "graph", "x * x", "--x", "3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert printed_numbers(result.stdout) == {"out": 9.0, "d(out)/dx": 6.0}


# --------------------------------------------------------------------------------------
# A new user's surprises, each answered
# --------------------------------------------------------------------------------------


def test_an_expression_may_start_with_a_minus(capsys):
    """graph "-x" --x -3 is read as the expression -x at x = -3, not as an option."""
    assert main(["graph", "-x", "--x", "-3"]) == 0
    assert printed_numbers(capsys.readouterr().out) == {"out": 3.0, "d(out)/dx": -1.0}
    assert main(["graph", "--x", "2", "-x**2"]) == 0  # also after the variables
    assert printed_numbers(capsys.readouterr().out) == {"out": -4.0, "d(out)/dx": -4.0}


def test_pi_and_e_are_the_constants(capsys):
    """pi and e are math's constants, not variables: values and gradients as sympy says."""
    r = sp.Symbol("r")
    assert main(["graph", "2*pi*r + e**r", "--r", "1.5"]) == 0
    printed = printed_numbers(capsys.readouterr().out)
    expression = 2 * sp.pi * r + sp.E**r
    assert printed["out"] == pytest.approx(float(expression.subs(r, 1.5)), rel=1e-5)
    assert printed["d(out)/dr"] == pytest.approx(
        float(sp.diff(expression, r).subs(r, 1.5)), rel=1e-5
    )
    assert set(printed) == {"out", "d(out)/dr"}


def test_a_value_for_a_constant_is_refused(capsys):
    """--e 2 says that e is a constant."""
    assert main(["graph", "e * x", "--x", "1", "--e", "2"]) == 2
    assert "e is the constant 2.718281828459045; it takes no value" in capsys.readouterr().err


def test_without_out_it_says_what_to_pass(capsys):
    """Without --out the last line says how to get a drawing; the graph is shown as text."""
    assert main(["graph", "x * 2", "--x", "1"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "to draw the graph, add --out graph.svg (or .png, .pdf, .dot)"


def test_the_bare_command_asks_for_an_expression_with_an_example(capsys):
    """`graph` alone: one line asking for an expression, with an example, exit status 2."""
    assert main(["graph"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "autograd-lite graph: error: give an expression to draw, such as: autograd-lite graph "
        '"tanh(x*w + b)" --x 2 --w -3 --b 6.88 --out graph.svg\n'
    )


def test_out_mistakes_are_named_precisely(tmp_path, capsys):
    """A folder, a file used as a folder, and a missing folder each get their own message."""
    blocker = tmp_path / "passwd"
    blocker.write_text("root")
    cases = {
        str(tmp_path): f"--out {str(tmp_path)!r} is a folder; give a file name in it, such as "
        f"{str(tmp_path / 'graph.svg')!r}",
        str(blocker / "g.svg"): f"{str(blocker)!r} is a file, not a folder",
        str(tmp_path / "no" / "g.svg"): f"there is no folder {str(tmp_path / 'no')!r}",
        str(blocker): "--out must end in one of .svg",
    }
    for out, message in cases.items():
        assert main(["graph", "x", "--x", "1", "--out", out]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and captured.out == ""
    assert blocker.read_text() == "root"


@needs_dot
def test_a_graph_too_big_to_lay_out_is_refused_in_one_line(tmp_path, capsys):
    """x*x*...*x with 100 factors: a one-line refusal before any output; .dot still works."""
    need("graphviz")
    product = "*".join(["x"] * 100)
    started = time.perf_counter()
    assert main(["graph", product, "--x", "1.01", "--out", str(tmp_path / "g.svg")]) == 2
    assert time.perf_counter() - started < 5
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "100 uses of values used more than once (x is used 100 times)" in line
    assert f"pictures are drawn for at most {cli_graph.MAX_SHARED_USES} such uses" in line
    assert not (tmp_path / "g.svg").exists()
    assert main(["graph", product, "--x", "1.01", "--out", str(tmp_path / "g.dot")]) == 0
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


@needs_dot
def test_the_dot_program_runs_under_a_time_limit(tmp_path, capsys, monkeypatch):
    """A layout slower than DOT_SECONDS is stopped: one line, exit status 2, no file."""
    need("graphviz")
    monkeypatch.setattr(cli_graph, "DOT_SECONDS", 0.001)
    assert (
        main(
            [
                "graph",
                "tanh(x*w + b)",
                "--x",
                "1",
                "--w",
                "2",
                "--b",
                "3",
                "--out",
                str(tmp_path / "g.svg"),
            ]
        )
        == 2
    )
    (line,) = capsys.readouterr().err.splitlines()
    assert "Graphviz's dot took more than 0.001 s" in line and "Traceback" not in line
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_the_largest_allowed_picture_is_drawn_quickly(tmp_path, capsys):
    """MAX_SHARED_USES uses of one value still draw within the time limit, even under load."""
    need("graphviz")
    product = "*".join(["x"] * cli_graph.MAX_SHARED_USES)
    assert main(["graph", product, "--x", "1", "--out", str(tmp_path / "g.svg")]) == 0
    assert "</svg>" in (tmp_path / "g.svg").read_text()


def test_without_out_the_graph_is_shown_as_text_with_sympys_numbers(capsys):
    """One line per node, `name = op(arguments) = value, grad g`, with sympy's numbers."""
    assert main(["graph", "tanh(x*w + b)*2", "--x", "2", "--w", "-3", "--b", "0.5"]) == 0
    out = capsys.readouterr().out
    lines = out.split("the graph, inputs first:\n")[1].splitlines()
    x, w, b = sp.symbols("x w b")
    at = {x: 2, w: -3, b: sp.Rational(1, 2)}
    product = x * w
    inner = product + b
    expected = [
        ("x", None, 2, sp.diff(2 * sp.tanh(inner), x)),
        ("w", None, -3, sp.diff(2 * sp.tanh(inner), w)),
        ("v1", "mul(x, w)", product, 2 * (1 - sp.tanh(inner) ** 2)),
        ("b", None, sp.Rational(1, 2), 2 * (1 - sp.tanh(inner) ** 2)),
        ("v2", "add(v1, b)", inner, 2 * (1 - sp.tanh(inner) ** 2)),
        ("v3", "tanh(v2)", sp.tanh(inner), 2),
        ("out", "mul(v3, 2)", 2 * sp.tanh(inner), 1),
    ]
    assert len(lines) == len(expected) + 1  # and the hint
    for line, (name, operation, value, grad) in zip(lines, expected):
        match = re.fullmatch(r"  (\w+) = (?:(.+\)) = )?(\S+), grad (\S+)", line)
        assert match is not None, line
        assert match.group(1) == name and match.group(2) == operation
        assert float(match.group(3)) == pytest.approx(float(sp.sympify(value).subs(at)), rel=1e-5)
        assert float(match.group(4)) == pytest.approx(float(sp.sympify(grad).subs(at)), rel=1e-5)


def test_the_text_view_of_a_long_graph_is_summarised(capsys):
    """Beyond TEXT_LINES lines the rest is counted in one line."""
    terms = [f"x{i}" for i in range(40)]
    argv = ["graph", "+".join(terms)] + [word for t in terms for word in (f"--{t}", "1")]
    assert main(argv) == 0
    lines = capsys.readouterr().out.split("the graph, inputs first:\n")[1].splitlines()
    assert len(lines) == cli_graph.TEXT_LINES + 1
    assert (
        lines[-2] == f"  ... {40 + 39 - cli_graph.TEXT_LINES + 1} more lines"
    )  # 40 inputs, 39 sums


def test_an_expression_that_looks_like_an_option_is_the_expression(capsys):
    """`graph "--x" --x 3` draws −(−x) at 3 (value 3, gradient 1), not options."""
    assert main(["graph", "--x", "--x", "3"]) == 0
    out = capsys.readouterr().out
    assert "= 3\n" in out.splitlines(keepends=True)[0] and "d(out)/dx = 1\n" in out
    assert main(["graph", "--x"]) == 2
    assert "no value for x" in capsys.readouterr().err


def test_variables_are_coloured_as_inputs_unless_named_as_parameters(tmp_path):
    """The drawing's legend says input (data) for variables; --parameters makes some weights."""
    need("graphviz")
    dot = tmp_path / "g.dot"
    assert main(["graph", "x*w + b", "--x", "2", "--w", "-3", "--b", "1", "--out", str(dot)]) == 0
    source = dot.read_text()
    assert "input (data)" in source and "parameter (a weight or bias)" not in source
    argv = ["graph", "x*w + b", "--x", "2", "--w", "-3", "--b", "1", "--parameters", "w,b"]
    assert main([*argv, "--out", str(dot)]) == 0
    source = dot.read_text()
    assert "input (data)" in source and "parameter (a weight or bias)" in source
    assert main([*argv[:-1], "w,z", "--out", str(dot)]) == 2
