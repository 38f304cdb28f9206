"""Tests for autograd_lite.expression: the safe parser behind ``autograd-lite graph``.

Values and gradients are checked against sympy; hostile inputs must be refused without
anything being executed.
"""

from __future__ import annotations

import builtins
import math

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_lite import Value
from autograd_lite.expression import (
    FUNCTIONS,
    MAX_LENGTH,
    Expression,
    ExpressionError,
    parse_expression,
)
from tests.oracles import assert_close, symbolic_derivatives, sympy_backend

SYMPY = sympy_backend()
X, Y, Z = sp.symbols("x y z")
SYMBOLS = {"x": X, "y": Y, "z": Z}


def check_against_sympy(text: str, expected, point: dict[str, float]) -> None:
    """Evaluate ``text`` at ``point``; compare value and gradients with sympy's ``expected``."""
    expression = parse_expression(text)
    names = list(expression.variables)
    leaves = {name: Value(point[name], label=name) for name in names}
    out = expression.evaluate(leaves)
    if names:
        out.backward()
    symbols = [SYMBOLS[name] for name in names]
    value, gradient, _ = symbolic_derivatives(expected, symbols, order=1)(
        [point[name] for name in names]
    )
    assert_close(out.data, value, rtol=1e-12, atol=1e-12, what=f"{text} value")
    for name, g in zip(names, gradient):
        assert_close(leaves[name].grad, g, rtol=1e-9, atol=1e-12, what=f"d({text})/d{name}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tanh(x*y + z)", sp.tanh(X * Y + Z)),
        ("x - y / z", X - Y / Z),
        ("-x ** 2 + +y", -(X**2) + Y),
        ("2 ** x * 3", 2**X * 3),
        ("x ** y", X**Y),
        ("exp(x) * log(y)", sp.exp(X) * sp.log(Y)),
        ("sigmoid(x) + softplus(y)", SYMPY.sigmoid(X) + SYMPY.softplus(Y)),
        ("relu(x) * relu(-y)", SYMPY.relu(X) * SYMPY.relu(-Y)),
        ("leaky_relu(-x) + leaky_relu(-y, 0.2)", SYMPY.leaky_relu(-X) + SYMPY.leaky_relu(-Y, 0.2)),
        ("sin(x) * cos(y) + sqrt(z)", sp.sin(X) * sp.cos(Y) + sp.sqrt(Z)),
        ("abs(x - y) / 2", SYMPY.abs(X - Y) / 2),
        ("x * x * x", X**3),
        ("1e-3 * x + 0.5", sp.Rational(1, 1000) * X + sp.Rational(1, 2)),
    ],
)
def test_values_and_gradients_match_sympy(text, expected):
    """Every allowed construct evaluates to sympy's value and gradient."""
    check_against_sympy(text, expected, {"x": 0.7, "y": 1.3, "z": 2.1})


# A random expression as (text, sympy twin), from the allowed grammar; domains kept safe.
# Every operand is parenthesised in the text, so Python's precedence matches the twin's.
LEAVES = st.sampled_from([("x", X), ("y", Y), ("z", Z), ("2", 2), ("0.5", sp.Rational(1, 2))])
UNARY = [
    ("tanh", sp.tanh),
    ("sigmoid", SYMPY.sigmoid),
    ("sin", sp.sin),
    ("cos", sp.cos),
    ("softplus", SYMPY.softplus),
]


def _extend(children):
    unary = st.tuples(st.sampled_from(UNARY), children).map(
        lambda t: (f"{t[0][0]}({t[1][0]})", t[0][1](t[1][1]))
    )
    binary = st.tuples(st.sampled_from(["+", "-", "*"]), children, children).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})", _sympy_binary(t[0], t[1][1], t[2][1]))
    )
    safe_division = st.tuples(children, children).map(
        lambda t: (f"({t[0][0]}) / (({t[1][0]}) ** 2 + 1)", t[0][1] / (t[1][1] ** 2 + 1))
    )
    safe_log = children.map(lambda c: (f"log(({c[0]}) * ({c[0]}) + 1)", sp.log(c[1] * c[1] + 1)))
    negation = children.map(lambda c: (f"-({c[0]})", -c[1]))
    return st.one_of(unary, binary, safe_division, safe_log, negation)


def _sympy_binary(op, a, b):
    return {"+": a + b, "-": a - b, "*": a * b}[op]


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, st.tuples(*[st.floats(-2, 2, allow_nan=False)] * 3))
def test_random_expressions_match_sympy(pair, values):
    """Random allowed expressions: value and gradients equal sympy's."""
    text, expected = pair
    check_against_sympy(text, sp.sympify(expected), dict(zip("xyz", values)))


# --------------------------------------------------------------------------------------
# Hostile input
# --------------------------------------------------------------------------------------

HOSTILE = [
    "__import__('os').system('touch pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "exec('1')",
    "eval('1')",
    "getattr(x, 'data')",
    "x.data",
    "x[0]",
    "x[1:2]",
    "lambda: 1",
    "[x for x in y]",
    "{x for x in y}",
    "{x: 1 for x in y}",
    "(x for x in y)",
    "tanh(x=1)",
    "tanh(*x)",
    "tanh(x)(y)",
    "'text'",
    "b'bytes'",
    "f'{x}'",
    "1j",
    "True",
    "None",
    "...",
    "x if y else z",
    "x < 1",
    "x and y",
    "not x",
    "~x",
    "x % 2",
    "x // 2",
    "x @ y",
    "x << 1",
    "x | y",
    "(x := 1)",
    "[x]",
    "(x, y)",
    "{1: 2}",
    "__builtins__",
    "_x + 1",
    "tanh",
    "unknown(x)",
    "tanh(x, y)",
    "leaky_relu(x, 0.1, 2)",
    "exp()",
    "import os",
    "x = 1",
    "x; y",
    "await x",
    "yield x",
    "\x00",
    "",
    "   ",
    "9" * 400,
    "(" * 250 + "x" + ")" * 250,
    "x + " * (MAX_LENGTH // 4) + "x",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_inputs_are_refused_without_running_anything(text, tmp_path, monkeypatch):
    """Everything outside the grammar raises ExpressionError; nothing is executed."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExpressionError) as error:
        parse_expression(text).evaluate({"x": 1.0, "y": 2.0, "z": 3.0})
    assert str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x.data", "attribute access"),
        ("x[0]", "indexing"),
        ("lambda: 1", "lambda"),
        ("tanh(x=1)", "keyword arguments"),
        ("'s'", "the constant 's'"),
        ("unknown(x)", "the function 'unknown'"),
        ("x % 2", "the operator %"),
        ("x +", "not a valid expression"),
        ("tanh(x, y)", "tanh takes 1 argument, got 2"),
        ("9" * 400, "too large for a float"),
    ],
)
def test_refusals_say_what_was_found_and_what_is_allowed(text, words):
    """The message names the construct and lists what expressions may use."""
    with pytest.raises(ExpressionError) as error:
        parse_expression(text)
    message = str(error.value)
    assert words in message
    if "not allowed" in message:
        assert "+ - * / **" in message and ", ".join(FUNCTIONS) in message


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_parsed_or_refused_cleanly(text):
    """Arbitrary text either parses or raises ExpressionError: no other exception escapes."""
    try:
        expression = parse_expression(text)
    except ExpressionError:
        return
    assert isinstance(expression, Expression)


def test_eval_and_exec_are_never_used(monkeypatch):
    """Parsing and evaluating work with Python's eval and exec disabled."""

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    out = parse_expression("tanh(x * 2) + 1").evaluate({"x": 0.0})
    assert out.data == 1.0


# --------------------------------------------------------------------------------------
# Variables, constants and evaluation errors
# --------------------------------------------------------------------------------------


def test_variables_are_listed_once_in_order_of_appearance():
    """Each name once, in the order it first appears; function names are not variables."""
    assert parse_expression("tanh(w * x + b) * x + w").variables == ("w", "x", "b")


def test_numbers_become_constants_and_variables_leaves():
    """Literals are constants (no gradient); given numbers become labelled leaves."""
    out = parse_expression("x * 3").evaluate({"x": 2.0})
    x, three = out.parents
    assert x.label == "x" and x.requires_grad and x.is_leaf
    assert three.data == 3.0 and not three.requires_grad


def test_given_values_are_used_as_they_are():
    """Values passed in are the graph's leaves, so their gradients can be read after."""
    x = Value(0.5, label="x")
    out = parse_expression("x * x").evaluate({"x": x})
    out.backward()
    assert x.grad == 1.0  # d(x^2)/dx at 0.5


def test_a_long_sum_needs_no_recursion():
    """900 terms: the evaluator walks without recursion; d/dx of 900 x is 900."""
    text = "+".join(["x"] * 900)
    assert len(text) <= MAX_LENGTH
    x = Value(1.0, label="x")
    out = parse_expression(text).evaluate({"x": x})
    out.backward()
    assert out.data == 900.0 and x.grad == 900.0


def test_division_by_zero_follows_the_engine():
    """x / 0 is inf (IEEE), as in the engine, not a ZeroDivisionError."""
    assert parse_expression("x / 0").evaluate({"x": 1.0}).data == float("inf")


def test_domain_errors_become_expression_errors():
    """log(-1) and a negative base to a variable power are refused with the engine's reason."""
    with pytest.raises(ExpressionError, match="log is defined for x >= 0"):
        parse_expression("log(x)").evaluate({"x": -1.0})
    with pytest.raises(ExpressionError, match="negative base"):
        parse_expression("x ** y").evaluate({"x": -2.0, "y": 0.5})


def test_missing_and_bad_values_are_named():
    """A missing variable or a value of the wrong type is named in the error."""
    expression = parse_expression("x + y")
    with pytest.raises(ExpressionError, match="no value given for y"):
        expression.evaluate({"x": 1.0})
    with pytest.raises(ExpressionError, match="value of y must be a number or a Value, got str"):
        expression.evaluate({"x": 1.0, "y": "2"})


def test_leaky_relu_slope_must_be_a_number():
    """leaky_relu's slope cannot depend on a variable (the engine takes a plain number)."""
    with pytest.raises(ExpressionError, match="slope of leaky_relu must be a number"):
        parse_expression("leaky_relu(x, y)").evaluate({"x": -1.0, "y": 0.1})
    out = parse_expression("leaky_relu(x, 0.1 * 2)").evaluate({"x": -1.0})
    assert out.data == pytest.approx(-0.2, rel=1e-15)


def test_non_string_is_a_type_error():
    """parse_expression(42) names the type it got."""
    with pytest.raises(TypeError, match="got int"):
        parse_expression(42)  # type: ignore[arg-type]


def test_pi_and_e_are_constants_not_variables():
    """pi and e evaluate to math.pi and math.e, take no gradient, and are not variables."""
    expression = parse_expression("2*pi + e**x + pie")
    assert expression.variables == ("x", "pie")
    x, pie = Value(1.5, label="x"), Value(0.25, label="pie")
    result = expression.evaluate({"x": x, "pie": pie})
    assert result.data == 2 * math.pi + math.e**1.5 + 0.25
    result.backward()
    assert x.grad == math.e**1.5 * math.log(math.e)
    assert parse_expression("pi * e").evaluate({}).data == math.pi * math.e
