"""A safe parser for small arithmetic expressions such as ``"tanh(x*w + b)"``.

The text is parsed with Python's ``ast`` module and then *walked*, never evaluated by
Python: the walker builds the graph out of engine operations itself. Only these are
accepted, anything else is refused with an ``ExpressionError`` naming what was found:

* numbers (``2``, ``0.5``, ``1e-3``), made into constants;
* variable names (letters, digits and ``_``, not starting with ``_``), except ``pi`` and
  ``e``, which are the constants π and e;
* ``+ - * / **`` and unary ``-``/``+``;
* calls, with positional arguments only, of ``exp log tanh sigmoid relu leaky_relu
  softplus sin cos sqrt abs``; ``leaky_relu(x, slope)`` takes an optional number as its
  second argument.

Arithmetic follows the engine's conventions (IEEE results for ``x / 0``, a
``ValueError`` for ``log(-1)`` that becomes an ``ExpressionError``).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from autograd_lite.engine import (
    Value,
    abs_,
    cos,
    exp,
    leaky_relu,
    log,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    tanh,
)

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_LENGTH",
    "Expression",
    "ExpressionError",
    "parse_expression",
]

# name -> (function, fewest arguments, most arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "exp": (exp, 1, 1),
    "log": (log, 1, 1),
    "tanh": (tanh, 1, 1),
    "sigmoid": (sigmoid, 1, 1),
    "relu": (relu, 1, 1),
    "leaky_relu": (leaky_relu, 1, 2),
    "softplus": (softplus, 1, 1),
    "sin": (sin, 1, 1),
    "cos": (cos, 1, 1),
    "sqrt": (sqrt, 1, 1),
    "abs": (abs_, 1, 1),
}
# Names that stand for numbers, as in mathematics; they are constants, not variables.
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
# Long enough for any expression worth drawing; bounds the work a hostile input can cause.
MAX_LENGTH = 2000

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}
_ALLOWED = "numbers, variable names, + - * / **, and calls of " + ", ".join(FUNCTIONS)
# Readable names for what people try; anything else is named by its ast class.
_REFUSED_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "lambda",
    ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "a conditional expression",
    ast.JoinedStr: "an f-string",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.NamedExpr: "an assignment (:=)",
    ast.Starred: "*arguments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
}


class ExpressionError(ValueError):
    """The expression is not allowed or cannot be evaluated; the message says why."""


def _refuse(node: ast.AST, what: str) -> ExpressionError:
    column = getattr(node, "col_offset", None)
    where = f" at column {column + 1}" if column is not None else ""
    return ExpressionError(f"{what}{where} is not allowed; expressions may use {_ALLOWED}")


@dataclass(frozen=True)
class Expression:
    """A checked expression: its source, its syntax tree and its variables."""

    source: str
    tree: ast.expr
    variables: tuple[str, ...]

    def evaluate(self, values: Mapping[str, Value | float]) -> Value:
        """Build the graph with each variable bound to a Value (numbers become leaves).

        Returns a Value; without variables it is a constant. Missing variables and
        invalid arithmetic (``log(-1)``) raise ExpressionError.
        """
        missing = [name for name in self.variables if name not in values]
        if missing:
            raise ExpressionError(f"no value given for {', '.join(missing)}")
        leaves = {}
        for name in self.variables:
            value = values[name]
            if isinstance(value, Value):
                leaves[name] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                leaves[name] = Value(float(value), label=name)
            else:
                raise ExpressionError(
                    f"the value of {name} must be a number or a Value, got {type(value).__name__}"
                )
        try:
            result = _evaluate(self.tree, leaves)
        except ExpressionError:
            raise
        except (ValueError, TypeError, ArithmeticError) as error:
            raise ExpressionError(f"cannot evaluate {self.source!r}: {error}") from error
        return result


def parse_expression(source: str) -> Expression:
    """Parse and check ``source``; raise ExpressionError for anything not allowed."""
    if not isinstance(source, str):
        raise TypeError(f"expected the expression as a str, got {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(source)} characters long; at most {MAX_LENGTH} are allowed"
        )
    if not source.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"not a valid expression: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError) as error:
        # Null bytes, too deep nesting, or a number too long to convert.
        raise ExpressionError(f"not a valid expression: {error}") from None
    return Expression(source, tree.body, _check(tree.body))


def _check(tree: ast.expr) -> tuple[str, ...]:
    """Walk the tree iteratively, refuse anything not allowed, and list the variables."""
    variables: dict[str, None] = {}
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise _refuse(node, f"the constant {node.value!r}")
            try:
                float(node.value)
            except OverflowError:
                raise _refuse(node, "a number too large for a float") from None
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise _refuse(node, f"using the function {node.id} without calling it")
            if node.id.startswith("_"):
                raise _refuse(node, f"the name {node.id!r} (names may not start with _)")
            if node.id not in CONSTANTS:
                variables.setdefault(node.id, None)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise _refuse(node, f"the operator {_operator_name(node.op)}")
            stack.extend((node.right, node.left))
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise _refuse(node, f"the operator {_operator_name(node.op)}")
            stack.append(node.operand)
        elif isinstance(node, ast.Call):
            stack.extend(reversed(_check_call(node)))
        else:
            what = _REFUSED_NAMES.get(type(node), f"a {type(node).__name__} expression")
            raise _refuse(node, what)
    return tuple(variables)


def _check_call(node: ast.Call) -> list[ast.expr]:
    if not isinstance(node.func, ast.Name):
        raise _refuse(node, "calling anything but a function name")
    name = node.func.id
    if name not in FUNCTIONS:
        raise _refuse(node, f"the function {name!r}")
    if node.keywords:
        raise _refuse(node, f"keyword arguments (in {name})")
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise _refuse(arg, f"*arguments (in {name})")
    _, fewest, most = FUNCTIONS[name]
    if not fewest <= len(node.args) <= most:
        expected = str(fewest) if fewest == most else f"{fewest} or {most}"
        raise ExpressionError(
            f"{name} takes {expected} argument{'s' if most > 1 else ''}, got {len(node.args)}"
        )
    return list(node.args)


def _operator_name(op: ast.AST) -> str:
    symbols = {
        ast.Mod: "%",
        ast.FloorDiv: "//",
        ast.MatMult: "@",
        ast.BitAnd: "&",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.Invert: "~",
        ast.Not: "not",
    }
    return symbols.get(type(op), type(op).__name__)


def _evaluate(tree: ast.expr, leaves: Mapping[str, Value]) -> Value:
    """Post-order walk with an explicit stack (long sums would overflow recursion)."""
    results: list[Value] = []
    # Entries: (node, visited); a visited node pops its arguments' results.
    stack: list[tuple[ast.expr, bool]] = [(tree, False)]
    while stack:
        node, visited = stack.pop()
        if isinstance(node, ast.Constant):
            results.append(Value(float(node.value), requires_grad=False))
        elif isinstance(node, ast.Name) and node.id in CONSTANTS:
            results.append(Value(CONSTANTS[node.id], label=node.id, requires_grad=False))
        elif isinstance(node, ast.Name):
            results.append(leaves[node.id])
        elif not visited:
            stack.append((node, True))
            for child in reversed(_children(node)):
                stack.append((child, False))
        else:
            count = len(_children(node))
            args = results[len(results) - count :]
            del results[len(results) - count :]
            results.append(_apply(node, args))
    (result,) = results
    return result


def _children(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    return list(node.args)  # a checked ast.Call


def _apply(node: ast.expr, args: list[Value]) -> Value:
    if isinstance(node, ast.BinOp):
        a, b = args
        op = type(node.op)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        if op is ast.Div:
            return a / b
        return a**b
    if isinstance(node, ast.UnaryOp):
        return -args[0] if isinstance(node.op, ast.USub) else args[0]
    name = node.func.id  # type: ignore[attr-defined]
    function = FUNCTIONS[name][0]
    if name == "leaky_relu" and len(args) == 2:
        slope = args[1]
        if slope.requires_grad:
            raise ExpressionError("the slope of leaky_relu must be a number, not a variable")
        return function(args[0], slope.data)
    return function(*args)
