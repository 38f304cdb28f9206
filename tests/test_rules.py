"""Tests for autograd_lite.viz.rules: every primitive has a local-derivative rule, and each
rule's number is the engine's local derivative, checked against sympy."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import sympy as sp

import autograd_lite.engine as engine
from autograd_lite import Value, primitive, topological_order
from autograd_lite.engine import Primitive, dot
from autograd_lite.viz.rules import RULES, equation, expression, rule_text


def _engine_primitives() -> set[str]:
    """Names of every Primitive the engine defines (module or package), plus the factories'."""
    modules = [engine]
    if hasattr(engine, "__path__"):
        modules += [
            importlib.import_module(f"{engine.__name__}.{m.name}")
            for m in pkgutil.iter_modules(engine.__path__)
        ]
    names = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Primitive):
                names.add(value.name)
    x = Value(0.5)
    names.add(x.leaky_relu(0.1).op)  # made by a factory, one primitive per slope
    return names


def test_every_engine_primitive_has_a_rule():
    """A primitive added to the engine without a rule in RULES fails here."""
    found = _engine_primitives()
    assert {"add", "mul", "tanh", "dot_relu", "logsumexp", "pow", "leaky_relu"} <= found
    assert found - set(RULES) == set()
    assert "div" in RULES  # helper A's primitive, ready before it lands


def _rule(node, names, argument=0, out="o"):
    return rule_text(node, argument, out, names)


def test_tanh_rule_reads_as_the_lecture_writes_it():
    """o = tanh(n): ∂o/∂n = 1 − o² with the number sympy gives."""
    n = Value(0.8813735870195432)
    o = n.tanh()
    expected = float(sp.diff(sp.tanh(sp.Symbol("n")), sp.Symbol("n")).subs("n", n.data))
    assert _rule(o, ["n"]) == f"∂o/∂n = 1 − o² = {expected:.4g}"


@pytest.mark.parametrize(
    "make, symbolic, derivative",
    [
        (lambda a, b: a * b, "b", lambda a, b: b),
        (lambda a, b: a + b, None, lambda a, b: 1.0),
        (lambda a, b: a**3.0, None, lambda a, b: 3 * a**2),
        (lambda a, b: a.exp(), "e^a = o", lambda a, b: sp.exp(a)),
        (lambda a, b: a.log(), "1/a", lambda a, b: 1 / a),
        (lambda a, b: a.sigmoid(), "o · (1 − o)", lambda a, b: sp.exp(-a) / (1 + sp.exp(-a)) ** 2),
        (lambda a, b: a.sin(), "cos a", lambda a, b: sp.cos(a)),
        (lambda a, b: a.sqrt(), "1/(2 · o)", lambda a, b: 1 / (2 * sp.sqrt(a))),
    ],
)
def test_rules_state_the_symbolic_form_and_sympys_number(make, symbolic, derivative):
    """The rule's number is sympy's derivative; its symbolic form is the textbook one."""
    a, b = Value(0.7), Value(-1.3)
    node = make(a, b)
    names = ["a", "b"][: len(node.parents)]
    if len(node.parents) == 2 and not node.parents[1].requires_grad:
        names = ["a", f"{node.parents[1].data:g}"]
    text = _rule(node, names)
    number = float(derivative(sp.Float(0.7), sp.Float(-1.3)))
    assert text.startswith("∂o/∂a = ")
    assert text.endswith(f"{number:.4g}") or text.endswith(f"= {number:g}")
    if symbolic:
        assert f"= {symbolic} =" in text


def test_dead_relu_says_it_blocks_the_gradient():
    """A ReLU below zero and a fused neuron whose sum is below zero both say so."""
    x = Value(-2.0)
    assert "dead ReLU" in _rule(x.relu(), ["x"]) and "blocks the gradient" in _rule(x.relu(), ["x"])
    w, b = Value(1.0), Value(0.0)
    neuron = dot([w], [x], b).relu()  # not fused: relu of a dot
    assert "dead ReLU" in _rule(neuron, ["s"])
    live = Value(2.0).relu()
    assert "dead" not in _rule(live, ["x"])


def test_fused_neuron_rule_names_the_partner_input():
    """∂o/∂w0 of a fused tanh neuron is (1 − o²) · x0 with both numbers, as sympy computes."""
    from autograd_lite.nn import MLP

    neuron = MLP(2, [1, 1], activation="tanh", seed=1).layers[0].neurons[0]
    x = [Value(0.3), Value(-0.4)]
    o = neuron(x)
    assert o.op == "dot_tanh"
    names = ["w0", "w1", "x0", "x1", "b"]
    w0, w1, bias = (sp.Float(p.data) for p in (*neuron.w, neuron.b))
    s = sp.Symbol("s")
    value = sp.tanh(s * sp.Float(0.3) + w1 * sp.Float(-0.4) + bias)
    expected = float(sp.diff(value, s).subs(s, w0))
    text = _rule(o, names, argument=0)
    assert text.startswith("∂o/∂w0 = (1 − o²) · x0 = ")
    assert text.endswith(f"{expected:.4g}")


def test_user_primitive_gets_a_generic_rule():
    """An operation with no entry in RULES still states its local derivative."""
    cube = primitive("cube", lambda x: x**3, lambda x, out: (3 * x**2,))
    y = cube(Value(2.0))
    assert _rule(y, ["x"]) == "∂o/∂x = 12 (the local derivative of cube)"


def test_equation_names_the_inputs():
    """equation() writes how a node was computed, with names."""
    a, b = Value(2.0), Value(-3.0)
    assert equation(a * b, "e", ["a", "b"]) == "e = a · b"
    assert equation(a.tanh(), "o", ["n"]) == "o = tanh(n)"
    assert equation(dot([a], [b], Value(1.0)), "n", ["w", "x", "b"]) == "n = w·x + b"


def _evaluate(name: str, leaves: dict[str, float]) -> float:
    """A formula as the player writes it (·, −, ², tanh), evaluated by sympy at the leaves."""
    text = name.replace("·", "*").replace("−", "-").replace("²", "**2").replace("³", "**3")
    symbols = {label: sp.Symbol(label) for label in leaves}
    formula = sp.sympify(text, locals={**symbols, "tanh": sp.tanh, "exp": sp.exp, "log": sp.log})
    return float(formula.subs({symbols[k]: v for k, v in leaves.items()}))


@pytest.mark.parametrize(
    "build",
    [
        lambda x, w, b: x * w,
        lambda x, w, b: x * w + b,
        lambda x, w, b: (x * w + b).tanh() * x,
        lambda x, w, b: (x - 1.0) ** 2,
        lambda x, w, b: x / (w + b),
        lambda x, w, b: -(x + w) * b,
        lambda x, w, b: (x * -2.0).exp() + b.log(),
    ],
)
def test_expression_is_a_formula_that_evaluates_to_the_node(build):
    """The name a node gets from expression() is a formula sympy evaluates to its value."""
    leaves = {"x": 0.7, "w": -1.3, "b": 2.1}
    x, w, b = (Value(v, label=k) for k, v in leaves.items())
    node = build(x, w, b)
    names: dict[Value, str] = {}
    for n in topological_order(node):
        names[n] = n.label or (
            expression(n, [names[p] for p in n.parents]) if n.parents else f"{n.data:g}"
        )
    assert _evaluate(names[node], leaves) == pytest.approx(node.data, rel=1e-12)
