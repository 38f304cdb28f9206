"""Exercises: a grader for the micrograd-style engine a student writes.

In Karpathy's lecture "The spelled-out intro to neural networks and backpropagation:
building micrograd" the student writes ``Value(data, _children, _op)``, one ``_backward``
closure per operator and a ``backward()`` that walks the graph in reverse topological
order. :func:`check_engine` grades such a class::

    report = check_engine(Value)     # the student's class
    report.ok                        # True when nothing is wrong
    report.problems                  # one sentence per mistake, naming the operator
    report                           # in a notebook: the problems, what passed, what was skipped

It checks every operator the class defines (the others are listed as skipped): first each
operator alone, against its calculus (forward value, local derivative, the chain rule's
``* out.grad``, accumulation with ``+=`` when an input is used twice, numbers on either
side), then ``backward()`` on a diamond, then random graphs drawn by Hypothesis (reused
nodes, diamonds, chains, constants on both sides) against this library's engine and
against central differences. The mistakes it recognises, and the sentences it writes
(these are what tests/test_exercises.py's broken engines get):

* a wrong forward value: "`tanh`: at x = 0.99 your value is 0.8574; expected 0.7574";
* a wrong local derivative, named when it is a usual slip: "`tanh`: your local derivative
  is 1 − t; it should be 1 − t² (at t = 0.76 you give 0.24, expected 0.43)", "`exp`: your
  local derivative is x; it should be eˣ (the output itself) (...)";
* an exponent off by one in ``__pow__``: "`**`: your local derivative of x**n is n·x**n;
  it should be n·x**(n−1) (x**3 at x = 1.3: you give ..., expected ...)";
* a ``_backward`` that forgets ``* out.grad``: "`*`: for out = x * -0.7 with
  out.grad = 3, x.grad becomes -0.7; expected -2.1: your _backward ignores out.grad;
  multiply the local derivative by it";
* ``=`` instead of ``+=``: "`*`: when one node is used twice (x * x at x = 0.5) its
  gradient is 0.5; expected 1: your _backward sets the gradient (self.grad = ...) instead
  of adding to it (self.grad += ...), so the second use overwrites the first", and for a
  one-input operator "`tanh`: when x is used twice, in tanh(x) + x at x = 0.5, ...";
* a ``backward()`` without topological order, on a diamond with an interior node:
  "`backward()`: on a diamond (x → b = 3x → c1 = 2b and c2 = b + 1 → d = c1·c2, at
  x = 2.0) x.grad is 114; expected 78: a node's _backward ran more than once (once per
  path); visit each node once. Build a topological order first (build_topo in the
  lecture) and call _backward in reverse" (or "... you visit the nodes from the leaves
  up", or "... b's _backward ran before both of its uses had added to b.grad");
* a ``backward()`` that does not start from ``self.grad = 1``: "`backward()`: after
  y.backward() y.grad is 0; it must start the chain rule with self.grad = 1 (dy/dy)";
* wrong sides or signs in the reflected operators: "`__rsub__`: 2 - x at x = 0.5 gives
  -1.5; expected 1.5 (other - self)", "`__rtruediv__`: 2 / x at x = 0.5 gives 0.25;
  expected 4 (...)";
* a number on the right not wrapped in a Value: "`+`: x + 2 raised AttributeError: 'int'
  object has no attribute 'data' (wrap a plain number in a Value first)";
* anything else, on a random graph, with the graph written out: "random graphs: on the
  graph n1 = x0 + x0; ... (with x0 = 1) your gradient for x0 is 12; expected 14 (this
  library's engine and central differences agree)".

A problem found after another one ends with "(if it is built on an operator above, fix
that one first)": ``-x`` written as ``x * -1`` inherits a mistake in ``*``.

This module sits beside :mod:`autograd_lite.diagnostics`: it imports the engine; nothing
below it imports it.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EngineReport", "check_engine"]

# Relative tolerance for a student's numbers: their formulas may round differently.
_RTOL = 1e-6


def _close(a: Any, b: float) -> bool:
    try:
        a = float(a)
    except (TypeError, ValueError):
        return False
    return math.isclose(a, b, rel_tol=_RTOL, abs_tol=1e-9)


def _fmt(x: Any, decimals: int | None = None) -> str:
    """A number as a student reads it: 4 significant digits, or ``decimals`` places."""
    try:
        return f"{float(x):.{decimals}f}" if decimals is not None else f"{float(x):.4g}"
    except (TypeError, ValueError):
        return repr(x)


@dataclass
class EngineReport:
    """What :func:`check_engine` found: ``ok``, ``problems`` (sentences), passed, skipped."""

    problems: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found in what the class offers."""
        return not self.problems

    def __str__(self) -> str:
        lines = ["Your engine passes every check." if self.ok else "Problems found:"]
        lines += [f"  - {problem}" for problem in self.problems]
        if self.passed:
            lines.append("Passed: " + ", ".join(self.passed))
        if self.skipped:
            lines.append("Not defined by your class, so not checked: " + ", ".join(self.skipped))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"EngineReport(ok={self.ok}, problems={len(self.problems)})"

    def _repr_markdown_(self) -> str:
        head = "✅ **Your engine passes every check.**" if self.ok else "❌ **Problems found:**"
        lines = [head, ""]
        lines += [f"* {problem}" for problem in self.problems]
        if self.passed:
            lines += ["", "Passed: " + ", ".join(self.passed)]
        if self.skipped:
            lines += ["", "Not defined by your class, so not checked: " + ", ".join(self.skipped)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        head = "Your engine passes every check." if self.ok else "Problems found:"
        items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
        parts = [f'<p style="color:{colour}"><b>{head}</b></p>']
        if items:
            parts.append(f"<ul>{items}</ul>")
        if self.passed:
            parts.append("<p>Passed: " + html.escape(", ".join(self.passed)) + "</p>")
        if self.skipped:
            skipped = html.escape(", ".join(self.skipped))
            parts.append(f"<p>Not defined by your class, so not checked: {skipped}</p>")
        return "\n".join(parts)


# --------------------------------------------------------------------------------------
# The operators, their calculus, and the usual slips
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unary:
    """A one-input operator: how to call it, its value and local derivative, usual slips."""

    name: str  # as the student writes it
    attribute: str  # what the class must define
    call: Callable[[Any], Any]
    value: Callable[[float], float]
    local: Callable[[float, float], float]  # (x, out) -> d out / dx
    rule: str  # the correct local derivative, in words
    point: float  # where it is checked (away from kinks)
    slips: tuple[tuple[str, Callable[[float, float], float]], ...] = ()
    output_symbol: str = ""  # e.g. "t" for tanh: the slips read in terms of the output


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


_UNARY = (
    _Unary(
        "tanh",
        "tanh",
        lambda v: v.tanh(),
        math.tanh,
        lambda x, t: 1 - t * t,
        "1 − t²",
        0.99,
        (
            ("1 − t", lambda x, t: 1 - t),
            ("1 + t²", lambda x, t: 1 + t * t),
            ("t²", lambda x, t: t * t),
            ("1 − x²", lambda x, t: 1 - x * x),
            ("t", lambda x, t: t),
        ),
        "t",
    ),
    _Unary(
        "exp",
        "exp",
        lambda v: v.exp(),
        math.exp,
        lambda x, e: e,
        "eˣ (the output itself)",
        0.7,
        (
            ("x", lambda x, e: x),
            ("1", lambda x, e: 1.0),
            ("x·eˣ", lambda x, e: x * e),
            ("eˣ⁻¹", lambda x, e: math.exp(x - 1)),
        ),
    ),
    _Unary(
        "sigmoid",
        "sigmoid",
        lambda v: v.sigmoid(),
        _sigmoid,
        lambda x, s: s * (1 - s),
        "s·(1 − s)",
        0.8,
        (
            ("1 − s", lambda x, s: 1 - s),
            ("s", lambda x, s: s),
            ("s·(1 + s)", lambda x, s: s * (1 + s)),
            ("1 − s²", lambda x, s: 1 - s * s),
        ),
        "s",
    ),
    _Unary(
        "log",
        "log",
        lambda v: v.log(),
        math.log,
        lambda x, y: 1 / x,
        "1/x",
        1.7,
        (
            ("log x", lambda x, y: math.log(x)),
            ("x", lambda x, y: x),
            ("−1/x", lambda x, y: -1 / x),
            ("1/x²", lambda x, y: 1 / (x * x)),
        ),
    ),
    _Unary(
        "relu",
        "relu",
        lambda v: v.relu(),
        lambda x: max(x, 0.0),
        lambda x, y: float(x > 0),
        "1 where x > 0 and 0 elsewhere",
        1.5,
        (("x (the output)", lambda x, y: y),),
    ),
    _Unary(
        "-x",
        "__neg__",
        lambda v: -v,
        lambda x: -x,
        lambda x, y: -1.0,
        "−1",
        0.6,
        (("1", lambda x, y: 1.0),),
    ),
)
# relu is checked on both sides of its kink: at x < 0 the local derivative is 0.
_RELU_NEGATIVE = -0.8
# ** with these exponents; n·x**n and friends differ from n·x**(n−1) at x = 1.3.
_POWERS = (3, 2, -1)
_POW_POINT = 1.3
_POW_SLIPS = (
    ("n·x**n", lambda x, n: n * x**n),
    ("n·x**(n−2)", lambda x, n: n * x ** (n - 2)),
    ("(n−1)·x**(n−1)", lambda x, n: (n - 1) * x ** (n - 1)),
    ("x**(n−1)", lambda x, n: x ** (n - 1)),
    ("n·x", lambda x, n: n * x),
)

# Binary operators between two Values: (name, attribute, call, value, d/da, d/db).
_BINARY = (
    ("+", "__add__", lambda a, b: a + b, lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0),
    ("*", "__mul__", lambda a, b: a * b, lambda a, b: a * b, lambda a, b: b, lambda a, b: a),
    ("-", "__sub__", lambda a, b: a - b, lambda a, b: a - b, lambda a, b: 1.0, lambda a, b: -1.0),
    (
        "/",
        "__truediv__",
        lambda a, b: a / b,
        lambda a, b: a / b,
        lambda a, b: 1 / b,
        lambda a, b: -a / (b * b),
    ),
)
_A, _B = 1.5, -0.7
# A number on the left calls the reflected operator: (name, attribute, call, value, d/dx,
# what the student should write).
_REFLECTED = (
    ("__radd__", "2 + x", lambda x: 2 + x, lambda x: 2 + x, lambda x: 1.0, "other + self"),
    ("__rmul__", "2 * x", lambda x: 2 * x, lambda x: 2 * x, lambda x: 2.0, "other * self"),
    ("__rsub__", "2 - x", lambda x: 2 - x, lambda x: 2 - x, lambda x: -1.0, "other - self"),
    (
        "__rtruediv__",
        "2 / x",
        lambda x: 2 / x,
        lambda x: 2 / x,
        lambda x: -2 / (x * x),
        "other / self, i.e. other * self**-1",
    ),
)
_RIGHT_CONSTANT = (
    ("+", "__add__", "x + 2", lambda x: x + 2, lambda x: x + 2, lambda x: 1.0),
    ("*", "__mul__", "x * 2", lambda x: x * 2, lambda x: x * 2, lambda x: 2.0),
    ("-", "__sub__", "x - 2", lambda x: x - 2, lambda x: x - 2, lambda x: 1.0),
    ("/", "__truediv__", "x / 2", lambda x: x / 2, lambda x: x / 2, lambda x: 0.5),
)
_X = 0.5


class _Crash(Exception):
    """The student's code raised: the sentence that says where."""


def _attempt(what: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as error:  # the student's code may raise anything
        raise _Crash(f"{what} raised {type(error).__name__}: {error}") from None


def _grad_of(node: Any) -> Any:
    return getattr(node, "grad", None)


class _Grader:
    """Runs the checks in order, each on the operators that passed the ones before."""

    def __init__(self, value_class: type) -> None:
        self.V = value_class
        self.report = EngineReport()
        self.failed: set[str] = set()
        self.diamond_ran = False

    def offers(self, attribute: str) -> bool:
        return callable(getattr(self.V, attribute, None)) and getattr(
            self.V, attribute, None
        ) is not getattr(object, attribute, None)

    def problem(self, name: str, sentence: str) -> None:
        if self.failed - {name} and name not in ("backward", "random graphs"):
            # An operator may be built on one that failed above (-x as x * -1).
            sentence += " (if it is built on an operator above, fix that one first)"
        self.failed.add(name)
        self.report.problems.append(sentence)

    def backprop(self, leaves: list[float], build: Callable[..., Any]) -> tuple[Any, list[Any]]:
        """Fresh leaves, the graph ``build`` makes of them, its backward(): (value, grads)."""
        nodes = [self.V(x) for x in leaves]
        out = build(*nodes)
        out.backward()
        return out.data, [_grad_of(node) for node in nodes]

    # ---- the checks ------------------------------------------------------------------

    def construction(self) -> bool:
        try:
            node = self.V(1.5)
        except Exception as error:
            self.problem("Value", f"`Value(1.5)` raised {type(error).__name__}: {error}")
            return False
        if getattr(node, "data", None) != 1.5 or getattr(node, "grad", None) != 0:
            self.problem(
                "Value", "`Value(1.5)` should have .data 1.5 and .grad 0 before backward()"
            )
            return False
        if not callable(getattr(node, "backward", None)):
            self.problem("backward", "your class has no backward() method")
            return False
        return True

    def seed(self) -> None:
        first = next((b for b in _BINARY if self.offers(b[1])), None)
        if first is None:
            return
        name, _, call = first[0], first[1], first[2]
        nodes = [self.V(_A), self.V(_B)]
        out = _attempt(f"`{name}`", lambda: call(*nodes))
        _attempt("`backward()`", out.backward)
        if not _close(out.grad, 1.0):
            self.problem(
                "backward",
                f"`backward()`: after y.backward() y.grad is {_fmt(out.grad)}; it must start "
                "the chain rule with self.grad = 1 (dy/dy)",
            )

    def binary(
        self, name: str, call: Callable, value: Callable, da: Callable, db: Callable
    ) -> None:
        got, (ga, gb) = self.backprop([_A, _B], call)
        where = f"a {name} b at a = {_A}, b = {_B}"
        if not _close(got, value(_A, _B)):
            self.problem(
                name, f"`{name}`: {where} gives {_fmt(got)}; expected {_fmt(value(_A, _B))}"
            )
            return
        for side, grad, expected, other_value in (
            ("a", ga, da(_A, _B), _A),
            ("b", gb, db(_A, _B), _B),
        ):
            if _close(grad, expected):
                continue
            hint = ""
            if name == "*" and _close(grad, other_value):
                hint = f": the gradient of {side} is the other factor's value, not its own"
            self.problem(
                name,
                f"`{name}`: for {where} your gradient of {side} is {_fmt(grad)}; "
                f"expected {_fmt(expected)}{hint}",
            )
            return

    def reuse(self, name: str, call: Callable, value: Callable, da: Callable, db: Callable) -> None:
        """x op x: both local derivatives add up; ``=`` keeps only the last one."""
        _, (grad,) = self.backprop([_X], lambda x: call(x, x))
        expected = da(_X, _X) + db(_X, _X)
        if _close(grad, expected):
            return
        overwritten = any(_close(grad, g) for g in (da(_X, _X), db(_X, _X)))
        why = (
            ": your _backward sets the gradient (self.grad = ...) instead of adding to it "
            "(self.grad += ...), so the second use overwrites the first"
            if overwritten
            else ""
        )
        self.problem(
            name,
            f"`{name}`: when one node is used twice (x {name} x at x = {_X}) its gradient is "
            f"{_fmt(grad)}; expected {_fmt(expected)}{why}",
        )

    def chain(self, name: str, build: Callable[[Any], Any], local: float, where: str) -> None:
        """With out.grad = 3, out's _backward must give x.grad = local derivative * 3.

        The closure is called directly when x is a direct input of out, so that this check
        does not depend on backward(); otherwise ``(op(...) * 3).backward()`` is used.
        """
        x = self.V(_X)
        out = build(x)
        if callable(getattr(out, "_backward", None)) and any(
            child is x for child in getattr(out, "_prev", ())
        ):
            out.grad = 3.0
            out._backward()
            grad = x.grad
        else:
            _, (grad,) = self.backprop([_X], lambda v: build(v) * 3.0)
        if _close(grad, 3 * local):
            return
        hint = " (the chain rule: local derivative * out.grad)"
        if _close(grad, local):
            hint = ": your _backward ignores out.grad; multiply the local derivative by it"
        self.problem(
            name,
            f"`{name}`: for out = {where} with out.grad = 3, x.grad becomes {_fmt(grad)}; "
            f"expected {_fmt(3 * local)}{hint}",
        )

    def unary(self, op: _Unary, x: float) -> None:
        got, (grad,) = self.backprop([x], op.call)
        expected_value = op.value(x)
        if not _close(got, expected_value):
            self.problem(
                op.name,
                f"`{op.name}`: at x = {x} your value is {_fmt(got)}; "
                f"expected {_fmt(expected_value)}",
            )
            return
        expected = op.local(x, expected_value)
        if _close(grad, expected):
            return
        at = f"at {op.output_symbol} = {expected_value:.2f}" if op.output_symbol else f"at x = {x}"
        numbers = f"({at} you give {_fmt(grad, 2)}, expected {_fmt(expected, 2)})"
        for words, slip in op.slips:
            if _close(grad, slip(x, expected_value)):
                self.problem(
                    op.name,
                    f"`{op.name}`: your local derivative is {words}; "
                    f"it should be {op.rule} {numbers}",
                )
                return
        self.problem(
            op.name,
            f"`{op.name}`: your local derivative is wrong; it should be {op.rule} {numbers}",
        )

    def power(self, n: int) -> None:
        x = _POW_POINT
        got, (grad,) = self.backprop([x], lambda v: v**n)
        if not _close(got, x**n):
            self.problem("**", f"`**`: x**{n} at x = {x} gives {_fmt(got)}; expected {_fmt(x**n)}")
            return
        expected = n * x ** (n - 1)
        if _close(grad, expected):
            return
        numbers = f"(x**{n} at x = {x}: you give {_fmt(grad)}, expected {_fmt(expected)})"
        words = next((w for w, slip in _POW_SLIPS if _close(grad, slip(x, n))), None)
        start = (
            f"your local derivative of x**n is {words}"
            if words
            else "your local derivative is wrong"
        )
        self.problem("**", f"`**`: {start}; it should be n·x**(n−1) {numbers}")

    def number_on_one_side(
        self, name: str, text: str, call: Callable, value: Callable, local: Callable, hint: str
    ) -> None:
        """``2 - x`` (a reflected operator) or ``x - 2`` (a number on the right)."""
        try:
            got, (grad,) = self.backprop([_X], call)
        except Exception as error:
            raise _Crash(f"{text} raised {type(error).__name__}: {error} ({hint})") from None
        expected_value = value(_X)
        if not _close(got, expected_value):
            swapped = {"2 - x": _X - 2, "2 / x": _X / 2}.get(text)
            why = f" ({hint})" if swapped is not None and _close(got, swapped) else ""
            if not why and name.startswith("__r"):
                why = f" (write it as {hint})"
            self.problem(
                name,
                f"`{name}`: {text} at x = {_X} gives {_fmt(got)}; expected "
                f"{_fmt(expected_value)}{why}",
            )
            return
        if not _close(grad, local(_X)):
            sign = " (the sign is wrong)" if _close(grad, -local(_X)) else ""
            self.problem(
                name,
                f"`{name}`: in {text} at x = {_X} the gradient of x is "
                f"{_fmt(grad)}; expected {_fmt(local(_X))}{sign}",
            )

    def diamond(self) -> None:
        """x → b = 3x → c1 = 2b and c2 = b + 1 → d = c1 * c2: b's _backward must run last."""
        self.diamond_ran = True
        x0 = 2.0
        _, (grad,) = self.backprop([x0], _diamond)
        b = 3 * x0
        expected = 3 * (4 * b + 2)
        if _close(grad, expected):
            return
        if _close(grad, 0.0):
            why = (
                "you visit the nodes from the leaves up; go through the topological order reversed"
            )
        elif grad > expected:
            why = "a node's _backward ran more than once (once per path); visit each node once"
        else:
            why = "b's _backward ran before both of its uses had added to b.grad"
        self.problem(
            "backward",
            f"`backward()`: on a diamond (x → b = 3x → c1 = 2b and c2 = b + 1 → d = c1·c2, "
            f"at x = {x0}) x.grad is {_fmt(grad)}; expected {_fmt(expected)}: {why}. Build a "
            "topological order first (build_topo in the lecture) and call _backward in reverse",
        )


def _diamond(x: Any) -> Any:
    V = type(x)  # numbers as Values: this checks backward(), not how constants are wrapped
    b = x * V(3.0)
    return (b * V(2.0)) * (b + V(1.0))


# --------------------------------------------------------------------------------------
# Random graphs: a program of steps over leaves x0, x1, ...; every node may be reused
# --------------------------------------------------------------------------------------

_UNARY_BY_NAME = {op.name: op for op in _UNARY}
_BINARY_CALL = {name: call for name, _, call, *_ in _BINARY}
_CONSTANTS = (2.0, -1.5, 0.5, 3.0)
_MAX_BOUND = 1e4  # |value| stays below this, so every number and derivative is moderate


def _evaluate(program: list[tuple], leaves: list[Any], on_values: bool) -> Any:
    nodes = list(leaves)
    for step in program:
        kind = step[0]
        if kind == "unary":
            op = _UNARY_BY_NAME[step[1]]
            nodes.append(op.call(nodes[step[2]]) if on_values else op.value(nodes[step[2]]))
        elif kind == "binary":
            nodes.append(_BINARY_CALL[step[1]](nodes[step[2]], nodes[step[3]]))
        elif kind == "left":
            nodes.append(_BINARY_CALL[step[1]](step[2], nodes[step[3]]))
        elif kind == "right":
            nodes.append(_BINARY_CALL[step[1]](nodes[step[2]], step[3]))
        else:  # "pow"
            nodes.append(nodes[step[1]] ** step[2])
    return nodes[-1]


def _evaluate_nodes(program: list[tuple], *nodes: Any) -> Any:
    return _evaluate(program, list(nodes), True)


def _describe(program: list[tuple], leaves: list[float]) -> str:
    names = [f"x{i}" for i in range(len(leaves))]
    lines = []
    for step in program:
        kind, new = step[0], f"n{len(names)}"
        if kind == "unary":
            text = f"-{names[step[2]]}" if step[1] == "-x" else f"{names[step[2]]}.{step[1]}()"
        elif kind == "binary":
            text = f"{names[step[2]]} {step[1]} {names[step[3]]}"
        elif kind == "left":
            text = f"{step[2]:g} {step[1]} {names[step[3]]}"
        elif kind == "right":
            text = f"{names[step[2]]} {step[1]} {step[3]:g}"
        else:
            text = f"{names[step[1]]} ** {step[2]}"
        names.append(new)
        lines.append(f"{new} = {text}")
    values = ", ".join(f"x{i} = {x:.3g}" for i, x in enumerate(leaves))
    return "; ".join(lines) + f" (with {values})"


def _draw_step(draw: Callable, offered: dict[str, list], info: list[tuple]) -> tuple | None:
    """One step whose operands keep every value moderate, or None when none fits."""
    kind = draw("kind", [k for k, names in offered.items() if names])
    name = draw("op", offered[kind])
    index = draw("node", range(len(info)))
    low, bound = info[index]
    positive = low is not None and low >= 0.1
    if kind == "unary":
        if (name == "log" and not positive) or (name == "exp" and bound > 3):
            return None
        return ("unary", name, index)
    if kind == "pow":
        if (name < 0 and not positive) or bound**name > _MAX_BOUND:
            return None
        return ("pow", index, name)
    if kind == "binary":
        other = draw("other node", range(len(info)))
        other_low, other_bound = info[other]
        if name == "/" and (other_low is None or other_low < 0.1):
            return None
        if name in ("*", "/") and bound * other_bound / (other_low or 1) > _MAX_BOUND:
            return None
        return ("binary", name, index, other)
    constant = draw("number", _CONSTANTS)
    if kind == "left" and name == "/" and not positive:
        return None
    return (kind, name, constant, index) if kind == "left" else (kind, name, index, constant)


def _info_after(step: tuple, info: list[tuple]) -> tuple:
    """(lower bound if surely positive else None, bound on |value|) of the step's result."""
    kind = step[0]
    if kind == "unary":
        low, bound = info[step[2]]
        return {
            "tanh": (None, 1.0),
            "sigmoid": (1 / (1 + math.exp(bound)), 1.0),
            "exp": (math.exp(-bound), math.exp(bound)),
            "log": (None, max(bound, 10.0)),
            "relu": (None, bound),
            "-x": (None, bound),
        }[step[1]]
    if kind == "pow":
        low, bound = info[step[1]]
        n = step[2]
        return (None, bound**n) if n > 0 else (None, 1 / low)
    if kind == "binary":
        (_, a), (b_low, b) = info[step[2]], info[step[3]]
        return (None, a * b if step[1] == "*" else a / b_low if step[1] == "/" else a + b)
    c, index = (step[2], step[3]) if kind == "left" else (step[3], step[2])
    low, bound = info[index]
    c = abs(c)
    if kind == "left" and step[1] == "/":
        return (None, c / low)
    if step[1] == "/":
        return (None, bound / c)
    return (None, bound * c if step[1] == "*" else bound + c)


def _sum_the_unused(program: list[tuple], n_leaves: int, offered: dict[str, list]) -> None:
    """Add every node nothing uses into the output (with +), so that every step counts."""
    if "+" not in offered["binary"]:
        return
    used = {i for step in program for i in _operands(step)}
    unused = [i for i in range(n_leaves + len(program) - 1) if i not in used]
    for index in unused:
        program.append(("binary", "+", n_leaves + len(program) - 1, index))


def _operands(step: tuple) -> tuple[int, ...]:
    kind = step[0]
    if kind == "unary":
        return (step[2],)
    if kind == "binary":
        return (step[2], step[3])
    if kind == "pow":
        return (step[1],)
    return (step[3],) if kind == "left" else (step[2],)


def _central_differences(program: list[tuple], leaves: list[float]) -> list[float]:
    result = []
    for i, x in enumerate(leaves):
        h = 1e-6 * max(1.0, abs(x))
        up = [*leaves[:i], x + h, *leaves[i + 1 :]]
        down = [*leaves[:i], x - h, *leaves[i + 1 :]]
        result.append((_evaluate(program, up, False) - _evaluate(program, down, False)) / (2 * h))
    return result


def _random_graph_check(grader: _Grader, offered: dict[str, list], examples: int) -> str | None:
    """Hypothesis draws programs; the first disagreement (shrunk) as a sentence, or None."""
    try:
        from hypothesis import HealthCheck, Verbosity, assume, given, settings
        from hypothesis import strategies as st
    except ImportError:
        grader.report.skipped.append("random graphs (needs hypothesis: pip install hypothesis)")
        return None
    from autograd_lite.engine import Value as Reference

    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        deadline=None,
        verbosity=Verbosity.quiet,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data(), leaves=st.lists(st.floats(0.5, 2.0), min_size=1, max_size=3))
    def agree(data: Any, leaves: list[float]) -> None:
        def draw(label: str, options: Any) -> Any:
            return data.draw(st.sampled_from(list(options)), label=label)

        info: list[tuple] = [(0.5, 2.0)] * len(leaves)
        program: list[tuple] = []
        for _ in range(data.draw(st.integers(1, 16), label="steps")):
            step = _draw_step(draw, offered, info)
            if step is not None:
                program.append(step)
                info.append(_info_after(step, info))
        assume(program)
        _sum_the_unused(program, len(leaves), offered)
        reference = [Reference(x) for x in leaves]
        expected_out = _evaluate(program, reference, True)
        expected_out.backward()
        expected = [leaf.grad for leaf in reference]
        differences = _central_differences(program, leaves)
        # Near a kink (relu at 0) central differences straddle it: no oracle there.
        assume(
            all(
                math.isclose(e, d, rel_tol=1e-4, abs_tol=1e-4)
                for e, d in zip(expected, differences)
            )
        )
        graph = _describe(program, leaves)
        build = functools.partial(_evaluate_nodes, program)
        out, grads = _attempt(
            f"the graph {graph}", functools.partial(grader.backprop, leaves, build)
        )
        if not _close(out, expected_out.data):
            raise AssertionError(
                f"on the graph {graph} your value is {_fmt(out)}; "
                f"expected {_fmt(expected_out.data)}"
            )
        for i, (grad, want) in enumerate(zip(grads, expected)):
            if not _close(grad, want):
                raise AssertionError(
                    f"on the graph {graph} your gradient for x{i} is {_fmt(grad)}; expected "
                    f"{_fmt(want)} (this library's engine and central differences agree)"
                )

    try:
        agree()
    except (AssertionError, _Crash) as failure:
        return str(failure).split("\n")[0]
    return None


def check_engine(value_class: type, *, examples: int = 200) -> EngineReport:
    """Grade a micrograd-style ``Value`` class; return an :class:`EngineReport`.

    ``value_class(x)`` must make a leaf with ``.data`` x and ``.grad`` 0, and
    ``node.backward()`` must fill ``.grad`` of every node the graph reaches. The
    operators checked are those the class defines: ``+ - * / **`` (a number exponent),
    unary minus, ``tanh() exp() sigmoid() log() relu()``, and the reflected ``__radd__
    __rmul__ __rsub__ __rtruediv__``; the others are listed in ``report.skipped``.
    ``examples`` random graphs are drawn (by Hypothesis) once every operator passes alone.
    """
    if not isinstance(value_class, type):
        raise TypeError(f"check_engine expects your Value class, got {type(value_class).__name__}")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be a positive int, got {examples!r}")
    grader = _Grader(value_class)
    if grader.construction():
        _check_each_operator(grader)
        _check_the_whole(grader, examples)
    return grader.report


def _guarded(grader: _Grader, name: str, check: Callable[..., None], *args: Any) -> None:
    """Run ``check(*args)``; an exception in the student's code is that operator's problem."""
    if name in grader.failed:
        return
    try:
        check(*args)
    except _Crash as crash:
        grader.problem(name, f"`{name}`: {crash}")
    except Exception as error:
        grader.problem(name, f"`{name}`: raised {type(error).__name__}: {error}")


def _check_each_operator(grader: _Grader) -> None:
    """Every operator alone: value, local derivative, out.grad, +=, numbers on each side."""
    V, failed = grader.V, grader.failed
    _guarded(grader, "backward", grader.seed)
    if "backward" in failed:
        return
    # + and * alone first: the diamond that checks backward() is built of them, and every
    # check after it builds graphs of several nodes, which a wrong backward() would spoil.
    for name, attribute, call, value, da, db in _BINARY:
        if not grader.offers(attribute):
            grader.report.skipped.append(f"`{name}` ({attribute})")
            continue
        if name in ("+", "*"):
            _guarded(grader, name, grader.binary, name, call, value, da, db)
            _guarded(grader, name, grader.reuse, name, call, value, da, db)
    can_chain = grader.offers("__mul__") and "*" not in failed
    for name, attribute, call, _, da, _ in _BINARY:
        if can_chain and grader.offers(attribute):
            build = functools.partial(_with_right_operand, call, V(_B))
            _guarded(grader, name, grader.chain, name, build, da(_X, _B), f"x {name} {_B}")
    if all(grader.offers(a) for a in ("__add__", "__mul__")) and not {"+", "*"} & failed:
        _guarded(grader, "backward", grader.diamond)
    else:
        grader.report.skipped.append("`backward()` on a diamond (needs working + and *)")
    if "backward" in failed:
        grader.report.skipped.append("every other check (fix backward() first)")
        return
    for name, attribute, call, value, da, db in _BINARY:
        if name not in ("+", "*") and grader.offers(attribute):
            _guarded(grader, name, grader.binary, name, call, value, da, db)
            _guarded(grader, name, grader.reuse, name, call, value, da, db)
    for name, attribute, text, call, value, local in _RIGHT_CONSTANT:
        if grader.offers(attribute):
            hint = "wrap a plain number in a Value first"
            args = (name, text, call, value, local, hint)
            _guarded(grader, name, grader.number_on_one_side, *args)
    for op in _UNARY:
        if not grader.offers(op.attribute):
            grader.report.skipped.append(f"`{op.name}`")
            continue
        _check_unary(grader, op, can_chain)
    if grader.offers("__pow__"):
        for n in _POWERS:
            _guarded(grader, "**", grader.power, n)
        if can_chain:
            _guarded(grader, "**", grader.chain, "**", lambda x: x**3, 3 * _X**2, "x ** 3")
    else:
        grader.report.skipped.append("`**` (__pow__)")
    for name, text, call, value, local, hint in _REFLECTED:
        if grader.offers(name):
            args = (name, text, call, value, local, hint)
            _guarded(grader, name, grader.number_on_one_side, *args)
        else:
            grader.report.skipped.append(f"`{name}` ({text})")


def _with_right_operand(call: Callable, right: Any, left: Any) -> Any:
    return call(left, right)


def _check_unary(grader: _Grader, op: _Unary, can_chain: bool) -> None:
    points = (op.point, _RELU_NEGATIVE) if op.name == "relu" else (op.point,)
    for x in points:
        _guarded(grader, op.name, grader.unary, op, x)
    local = op.local(_X, op.value(_X))
    if can_chain:
        _guarded(grader, op.name, grader.chain, op.name, op.call, local, f"{op.name}(x)")
    if grader.offers("__add__") and "+" not in grader.failed:
        _guarded(grader, op.name, _accumulates, grader, op, local)


def _accumulates(grader: _Grader, op: _Unary, local: float) -> None:
    """f(x) + x: the + adds 1 to x.grad first, then f's _backward must add, not set."""
    _, (grad,) = grader.backprop([_X], lambda x: op.call(x) + x)
    if _close(grad, local + 1):
        return
    why = ""
    if _close(grad, local):
        why = (
            ": your _backward sets self.grad = ... instead of adding to it (+=), so the "
            "gradient from the other use of x is lost"
        )
    used = "-x" if op.name == "-x" else f"{op.name}(x)"
    grader.problem(
        op.name,
        f"`{op.name}`: when x is used twice, in {used} + x at x = "
        f"{_X}, x.grad is {_fmt(grad)}; expected {_fmt(local + 1)}{why}",
    )


def _check_the_whole(grader: _Grader, examples: int) -> None:
    """Random graphs, when every operator passed alone; the lists of passed and skipped."""
    failed = grader.failed
    offered_names = [n for n, a, *_ in _BINARY if grader.offers(a)]
    offered_names += [op.name for op in _UNARY if grader.offers(op.attribute)]
    offered_names += ["**"] if grader.offers("__pow__") else []
    offered_names += [n for n, *_ in _REFLECTED if grader.offers(n)]
    if grader.report.problems:
        grader.report.skipped.append("random graphs (fix the problems above first)")
    else:
        offered = {
            "binary": [n for n, a, *_ in _BINARY if grader.offers(a)],
            "unary": [op.name for op in _UNARY if grader.offers(op.attribute)],
            "pow": list(_POWERS) if grader.offers("__pow__") else [],
            "left": [
                n
                for n, attribute in (
                    ("+", "__radd__"),
                    ("*", "__rmul__"),
                    ("-", "__rsub__"),
                    ("/", "__rtruediv__"),
                )
                if grader.offers(attribute)
            ],
            "right": [n for n, a, *_ in _BINARY if grader.offers(a)],
        }
        failure = _random_graph_check(grader, offered, examples)
        if failure is not None:
            grader.problem("random graphs", f"random graphs: {failure}")
    grader.report.passed = [f"`{n}`" for n in offered_names if n not in failed]
    if "backward" not in failed and grader.diamond_ran:
        grader.report.passed.append("`backward()`")
