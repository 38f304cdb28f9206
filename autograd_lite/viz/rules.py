"""The local-derivative rule of every primitive, in symbols, for the backward-pass player.

``RULES`` maps an operation's name (``Value.op``: ``"add"``, ``"tanh"``, ``"dot_relu"``
...) to a function that writes the rule for one argument with the node's and its inputs'
names filled in, the symbolic form first and the number last::

    o = tanh(n):   ∂o/∂n = 1 − o² = 0.5
    e = a · b:     ∂e/∂a = b = -3

:func:`rule_text` is the entry point; an operation missing from the table (a user's own
``primitive()``) gets a generic sentence that still states the number. A test checks that
every primitive the engine defines has an entry, so a new primitive without a rule fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from autograd_lite.engine import Value

__all__ = ["RULES", "equation", "expression", "rule_text", "short_number"]

# (node, argument, output name, input names, local derivative as a float) -> "symbolic"
_Rule = Callable[[Value, int, str, Sequence[str], float], str]


def short_number(x: float) -> str:
    """A number as the player prints it: 4 significant digits, no '-0'."""
    if x == 0:
        return "0"
    return f"{x:.4g}"


def _paren(name: str) -> str:
    plain = name.replace("_", "").replace(".", "").replace("[", "").replace("]", "")
    return name if plain.isalnum() else f"({name})"


def _dot_partner(node: Value, argument: int, names: Sequence[str]) -> tuple[str, float]:
    """The (name, value) a dot argument is multiplied by: weights, then inputs, then a bias."""
    n = len(node.parents) // 2
    if argument < 2 * n:
        partner = argument + n if argument < n else argument - n
        return names[partner], node.parents[partner].data
    return "1", 1.0


def _fused_slope(node: Value, out: str) -> tuple[str, float]:
    """The activation's slope of a fused neuron, in symbols and as a number."""
    o = node.data
    if node.op == "dot_tanh":
        return f"(1 − {_paren(out)}²)", 1 - o * o
    if node.op == "dot_sigmoid":
        return f"{_paren(out)}·(1 − {out})", o * (1 - o)
    return "ReLU′", 1.0 if o > 0 else 0.0


def _dot_rule(node: Value, argument: int, out: str, names: Sequence[str], local: float) -> str:
    """dot and the fused neurons: a weight's factor is its input (times the slope), and back."""
    partner, value = _dot_partner(node, argument, names)
    if node.op == "dot":
        return partner if partner != "1" else "1 (a bias)"
    symbol, slope = _fused_slope(node, out)
    if partner == "1":
        return f"{symbol} (a bias) = {short_number(slope)}"
    return f"{symbol} · {_paren(partner)} = {short_number(slope)} × {short_number(value)}"


RULES: dict[str, _Rule] = {
    "add": lambda node, i, out, names, local: "1",
    "sum": lambda node, i, out, names, local: "1",
    "neg": lambda node, i, out, names, local: "−1",
    "mul": lambda node, i, out, names, local: names[1 - i],
    "div": lambda node, i, out, names, local: (
        f"1/{_paren(names[1])}" if i == 0 else f"−{_paren(out)}/{_paren(names[1])}"
    ),
    "pow": lambda node, i, out, names, local: (
        f"{_paren(names[1])} · {_paren(names[0])}^({names[1]} − 1)"
        if i == 0
        else f"{_paren(out)} · ln {_paren(names[0])}"
    ),
    "exp": lambda node, i, out, names, local: f"e^{_paren(names[0])} = {out}",
    "log": lambda node, i, out, names, local: f"1/{_paren(names[0])}",
    "tanh": lambda node, i, out, names, local: f"1 − {_paren(out)}²",
    "sigmoid": lambda node, i, out, names, local: f"{_paren(out)} · (1 − {out})",
    "relu": lambda node, i, out, names, local: f"(1 if {names[0]} > 0 else 0)",
    "leaky_relu": lambda node, i, out, names, local: f"(1 if {names[0]} > 0 else the slope)",
    "softplus": lambda node, i, out, names, local: f"σ({names[0]})",
    "sin": lambda node, i, out, names, local: f"cos {_paren(names[0])}",
    "cos": lambda node, i, out, names, local: f"−sin {_paren(names[0])}",
    "sqrt": lambda node, i, out, names, local: f"1/(2 · {_paren(out)})",
    "abs": lambda node, i, out, names, local: f"sign({names[0]})",
    "logsumexp": lambda node, i, out, names, local: f"e^({names[i]} − {out})",
    # sum() of products folded by the engine: parents in pairs (a₁, b₁, a₂, b₂, …).
    "sum_products": lambda node, i, out, names, local: names[i ^ 1],
    "dot": _dot_rule,
    "dot_relu": _dot_rule,
    "dot_tanh": _dot_rule,
    "dot_sigmoid": _dot_rule,
}


_OPERATORS = {"add": "+", "mul": "·", "div": "/", "pow": "^"}


def equation(node: Value, out: str, names: Sequence[str]) -> str:
    """How ``node`` was computed from its inputs, with names: ``e = a · b``, ``o = tanh(n)``."""
    op = node.op
    if op in _OPERATORS and len(names) == 2:
        return f"{out} = {names[0]} {_OPERATORS[op]} {names[1]}"
    if op == "neg":
        return f"{out} = −{names[0]}"
    if op == "sum":
        return f"{out} = " + " + ".join(names)
    if op == "sum_products":  # the first pair is sum()'s start, 0 · 1: not worth a word
        pairs = list(zip(names[::2], names[1::2]))[1:]
        return f"{out} = " + " + ".join(f"{a}·{b}" for a, b in pairs)
    if op.startswith("dot"):
        n = len(names) // 2
        terms = [f"{w}·{x}" for w, x in zip(names[:n], names[n : 2 * n])]
        if len(names) % 2:
            terms.append(names[-1])
        total = " + ".join(terms)
        activation = {"dot_relu": "ReLU", "dot_tanh": "tanh", "dot_sigmoid": "σ"}.get(op)
        return f"{out} = {activation}({total})" if activation else f"{out} = {total}"
    return f"{out} = {op or '?'}({', '.join(names)})"


def rule_text(
    node: Value, argument: int, out: str, names: Sequence[str], local: float | None = None
) -> str:
    """The chain-rule factor d(node)/d(argument) as ``∂out/∂in = symbolic = number``.

    ``out`` is the node's name and ``names`` its inputs' names in argument order; ``local``
    defaults to the node's stored local derivative. A dead ReLU says that it blocks the
    gradient; an operation without a rule in :data:`RULES` gets a generic sentence.
    """
    if local is None:
        stored = node.local_derivatives
        value = stored[argument] if stored is not None else float("nan")
        local = value.data if isinstance(value, Value) else float(value)
    head = f"∂{_paren(out)}/∂{_paren(names[argument])}"
    op = node.op
    rule: _Rule | None = RULES.get(op)
    if rule is None:
        return f"{head} = {short_number(local)} (the local derivative of {op or 'this node'})"
    symbolic = rule(node, argument, out, names, local)
    if symbolic in ("1", "−1", "1 (a bias)", short_number(local)) or symbolic.endswith(
        f"= {short_number(local)}"
    ):
        text = f"{head} = {symbolic}"
    else:
        text = f"{head} = {symbolic} = {short_number(local)}"
    if op == "dot_relu" and node.data <= 0:
        text += ": dead ReLU (its weighted sum is ≤ 0), it blocks the gradient"
    elif op == "relu" and local == 0:
        below = short_number(node.parents[0].data)
        text += f": dead ReLU ({names[0]} = {below} ≤ 0), it blocks the gradient"
    return text


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _operand(name: str) -> str:
    """``name`` as a factor: a sum (a space outside brackets) gets parentheses."""
    if name.startswith("-"):  # a negative constant: x·(−1), not x·-1
        return f"(−{name[1:]})"
    depth = 0
    for char in name:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == " " and depth == 0:
            return f"({name})"
    return name


def expression(node: Value, names: Sequence[str]) -> str:
    """How ``node`` was computed, as a name for it: ``x1·w1``, ``tanh(n)``, ``(out − 1)²``.

    ``names`` are its inputs' names in argument order. Used to name nodes that have no
    label, so the player never shows an id where a reader expects a formula.
    """
    op = node.op
    if op == "add" and len(names) == 2:
        # x + (-1) reads as x − 1: constants are named by their value.
        a, b = names
        if b.startswith("-") and b[1:].replace(".", "", 1).isdigit():
            return f"{a} − {b[1:]}"
        return f"{a} + {b}"
    if op in ("mul", "div") and len(names) == 2:
        symbol = "·" if op == "mul" else "/"
        return f"{_operand(names[0])}{symbol}{_operand(names[1])}"
    if op == "pow" and len(names) == 2:
        exponent = names[1]
        if exponent.isdigit():
            return f"{_operand(names[0])}{exponent.translate(_SUPERSCRIPTS)}"
        return f"{_operand(names[0])}^{_operand(exponent)}"
    if op == "neg" and len(names) == 1:
        return f"−{_operand(names[0])}"
    return equation(node, "", names)[len(" = ") :]
