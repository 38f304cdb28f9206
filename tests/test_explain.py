"""Tests for autograd_lite.diagnostics.explain: the paths a gradient flows along.

The sum of the path products is checked against backward(), sympy and central
differences; single path products against sympy's partial derivatives.
"""

from __future__ import annotations

import math
import re
import time

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings

from autograd_lite import Value, relu, sigmoid, sqrt, tanh
from autograd_lite.diagnostics import Explanation, Path, explain
from tests.oracles import (
    ENGINE,
    assert_close,
    partial_difference,
    symbolic_derivatives,
    sympy_backend,
)
from tests.strategies import programs, run, run_engine


@settings(max_examples=60, deadline=None)
@given(programs(max_steps=7))
def test_path_products_sum_to_the_gradient_from_backward(program):
    """Random graphs (reuse, diamonds, constants): sum of products = x.grad, per input."""
    inputs = [Value(p) for p in program.point]
    out = run_engine(program, inputs)
    out.backward()
    for x in inputs:
        explanation = explain(out, x, max_paths=100_000)
        assert_close(explanation.total, x.grad, rtol=1e-9, atol=1e-12, what="sum of path products")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=5))
def test_path_products_sum_to_sympys_derivative(program):
    """Random graphs: the sum of the path products is sympy's exact partial derivative."""
    symbols = sp.symbols(f"x0:{program.n_inputs}")
    inputs = [Value(p) for p in program.point]
    out, expression = run(program, [(ENGINE, inputs), (sympy_backend(), symbols)]).items
    _, gradient, _ = symbolic_derivatives(expression, symbols, order=1)(program.point)
    for x, expected in zip(inputs, gradient):
        total = explain(out, x, max_paths=100_000).total
        assert_close(total, expected, rtol=1e-8, atol=1e-10, what="d(out)/dx")


def test_diamond_has_one_path_per_branch_with_sympys_products():
    """out = (2x) * (x + 1): two paths, each d(out)/d(branch) * d(branch)/dx, largest first."""
    x = Value(1.5, label="x")
    left = x * 2.0
    left.label = "left"
    right = x + 1.0
    right.label = "right"
    out = left * right
    explanation = explain(out, x)
    assert len(explanation) == 2
    sx, sl, sr = sp.symbols("x l r")
    at = {sx: sp.Rational(3, 2), sl: 3, sr: sp.Rational(5, 2)}
    via_left = float((sp.diff(sl * sr, sl) * sp.diff(2 * sx, sx)).subs(at))
    via_right = float((sp.diff(sl * sr, sr) * sp.diff(sx + 1, sx)).subs(at))
    assert [(p.nodes[1].label, p.product) for p in explanation.paths] == [
        ("left", via_left),
        ("right", via_right),
    ]
    assert abs(via_left) > abs(via_right)
    assert explanation.total == float(sp.diff(2 * sx * (sx + 1), sx).subs(at))


def test_a_times_a_gives_one_path_per_argument():
    """a * a: two paths, through argument 0 and argument 1, each with factor a."""
    a = Value(3.0, label="a")
    out = a * a
    explanation = explain(out, a)
    assert sorted(p.arguments for p in explanation.paths) == [(0,), (1,)]
    assert [p.factors for p in explanation.paths] == [(3.0,), (3.0,)]
    assert explanation.total == 6.0  # d(a^2)/da at 3


def test_mlp_paths_count_and_sum_against_central_differences():
    """MLP(2, [4, 4, 1]): 4 * 4 paths from the output to an input; sum = finite difference."""
    nn = pytest.importorskip("autograd_lite.nn")
    model = nn.MLP(2, [4, 4, 1], activation="tanh", seed=3)
    point = [0.3, -0.7]
    x = [Value(v, label=f"x{i}") for i, v in enumerate(point)]
    out = model(x)

    def f(a: float, b: float) -> float:
        return model([a, b]).data

    for i, xi in enumerate(x):
        explanation = explain(out, xi)
        assert len(explanation) == 16
        expected = partial_difference(f, point, i)
        assert_close(explanation.total, expected, rtol=1e-7, atol=1e-9, what=f"d/dx{i}")
    for path in explain(out, x[0]).paths:
        assert path.nodes[0] is out and path.nodes[-1] is x[0]
        assert math.prod(path.factors) == path.product
        assert len(path.factors) == len(path.nodes) - 1 == len(path.arguments)


def test_path_factors_are_the_local_derivatives_along_it():
    """Each factor is d(nodes[i]) / d(nodes[i+1]) through argument arguments[i]."""
    x, w = Value(0.4, label="x"), Value(-1.2, label="w")
    out = tanh(x * w) * x
    for path in explain(out, x).paths:
        for i, factor in enumerate(path.factors):
            child, parent = path.nodes[i], path.nodes[i + 1]
            assert child.parents[path.arguments[i]] is parent
            assert factor == child.local_derivatives[path.arguments[i]]


def test_path_explosion_is_refused_quickly_with_the_count():
    """A chain of 200 diamonds has 2**200 paths: counted, not enumerated, and refused."""
    x = Value(1.0, label="x")
    y = x
    for _ in range(200):
        y = y * 0.5 + y * 0.5
    start = time.perf_counter()
    with pytest.raises(ValueError) as error:
        explain(y, x)
    assert time.perf_counter() - start < 2
    message = str(error.value)
    assert str(2**200) in message and "max_paths=1000" in message
    assert "intermediate node" in message


def test_a_long_chain_is_no_recursion_problem():
    """A chain of 20 000 operations has one path of 20 000 factors; no RecursionError."""
    x = Value(1.0, label="x")
    y = x
    for _ in range(20_000):
        y = y * 1.0
    (path,) = explain(y, x).paths
    assert len(path.factors) == 20_000 and path.product == 1.0


def test_dead_relu_and_saturated_units_are_flagged():
    """Factors that block the gradient are named: dead ReLU, saturated tanh and sigmoid."""
    x = Value(-2.0, label="x")
    dead = relu(x)
    dead.label = "dead"
    flat = tanh(x * -10.0)  # tanh'(20) ~ 1.7e-17
    flat.label = "flat"
    squashed = sigmoid(x * 10.0)  # sigmoid'(-20) ~ 2e-9
    squashed.label = "squashed"
    out = dead + flat + squashed + x
    explanation = explain(out, x)
    text = "\n".join(explanation.warnings)
    assert "dead ReLU: dead has input -2 <= 0" in text
    assert "saturated tanh: flat" in text
    assert "saturated sigmoid: squashed" in text
    direct = next(p for p in explanation.paths if len(p.nodes) == 2)
    assert direct.warnings == () and explanation.paths[0] is direct  # the only live path


def test_saturation_threshold_is_adjustable():
    """tanh'(1.5) ~ 0.18: saturated only with a threshold above that."""
    x = Value(1.5, label="x")
    out = tanh(x)
    assert explain(out, x).warnings == []
    assert "saturated tanh" in explain(out, x, saturation=0.5).warnings[0]


def test_non_finite_factor_is_flagged_and_nan_sorts_first():
    """sqrt'(0) = inf is reported; a nan product is listed before finite ones."""
    x = Value(0.0, label="x")
    out = sqrt(x) * 0.0 + x
    explanation = explain(out, x)
    assert any("non-finite local derivative inf" in w for w in explanation.warnings)
    assert math.isnan(explanation.paths[0].product)


def test_unrelated_input_and_output_itself():
    """x not in the graph: no path, total 0. x is the output: one empty path, product 1."""
    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    out = y * 3.0
    none = explain(out, x)
    assert none.paths == () and none.total == 0.0
    assert "does not depend on x" in str(none)
    (itself,) = explain(x, x).paths
    assert itself.nodes == (x,) and itself.factors == () and itself.product == 1.0


def test_table_lists_total_products_and_warnings():
    """str() is a table: total, one row per path with its product, warnings below."""
    x = Value(-0.5, label="x")
    out = relu(x) + x * 4.0
    out.label = "out"
    text = str(explain(out, x))
    lines = text.splitlines()
    assert lines[0].startswith("d(out)/d(x) = 4, the sum over 2 paths")
    assert "out <-[1]- mul(-2) <-[4]- x" in text
    assert "! dead ReLU" in text
    assert repr(explain(out, x)) == "Explanation(d(out)/d(x) = 4, 2 paths)"


def test_arguments_are_checked():
    """Non-Values and a bad max_paths raise errors naming what is expected."""
    x = Value(1.0)
    with pytest.raises(TypeError, match="output, got float"):
        explain(1.0, x)
    with pytest.raises(TypeError, match="for x, got str"):
        explain(x, "x")
    with pytest.raises(ValueError, match="max_paths must be a positive int"):
        explain(x, x, max_paths=0)


def test_hand_built_nodes_without_local_derivatives_are_refused():
    """A micrograd-style node built by hand has no stored local derivatives: clear error."""
    a = Value(2.0, label="a")
    out = Value(4.0, (a,), "square")
    with pytest.raises(ValueError, match="primitive"):
        explain(out, a)


def test_public_names():
    """explain, Explanation and Path are importable from autograd_lite.diagnostics."""
    assert isinstance(explain(Value(1.0) * 2, Value(1.0)), Explanation)
    assert Path.__name__ == "Path"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=7))
def test_top_k_paths_are_the_k_largest_of_the_full_enumeration(program):
    """top=k gives the k largest |products| of all paths (ties aside) and the same total."""
    inputs = [Value(p) for p in program.point]
    output = run_engine(program, inputs)
    if not isinstance(output, Value):
        return
    for x in inputs:
        full = explain(output, x, max_paths=10**6)
        for k in (1, 3):
            top = explain(output, x, top=k)
            assert top.n_paths == len(full)
            assert len(top) == min(k, len(full))
            wanted = sorted((abs(p.product) for p in full.paths), reverse=True)[:k]
            got = [abs(p.product) for p in top.paths]
            if not any(math.isnan(v) for v in wanted + got):
                assert got == wanted
            for path in top.paths:
                assert math.prod(path.factors) == path.product
            if math.isfinite(full.total):
                assert_close(top.total, full.total, rtol=1e-9, atol=1e-12, what="total")


def test_top_k_on_a_deep_sigmoid_network_is_fast_and_exact():
    """A 10-layer sigmoid MLP (16**10 paths): top 5 in seconds, total = central difference."""
    nn = pytest.importorskip("autograd_lite.nn")
    model = nn.MLP(2, [16] * 10 + [1], activation="sigmoid", init="xavier", seed=0)
    point = [0.5, -0.3]
    x = [Value(v, label=f"x{i}") for i, v in enumerate(point)]
    out = model(x)
    start = time.perf_counter()
    explanation = explain(out, x[0], top=5)
    assert time.perf_counter() - start < 5
    assert explanation.n_paths == 16**10
    assert len(explanation) == 5
    expected = partial_difference(lambda a, b: model([a, b]).data, point, 0)
    assert_close(explanation.total, expected, rtol=1e-5, atol=1e-12, what="d/dx0")
    products = [abs(p.product) for p in explanation.paths]
    assert products == sorted(products, reverse=True)
    assert f"the sum over {16**10} paths" in str(explanation)


def test_by_layer_shows_where_the_product_shrinks():
    """by_layer multiplies to the path's product; each sigmoid layer's factor is below 1/4."""
    nn = pytest.importorskip("autograd_lite.nn")
    model = nn.MLP(2, [8] * 6 + [1], activation="sigmoid", init="xavier", seed=1)
    out = model([0.2, 0.4])
    w = model.layers[0].neurons[0].w[0]
    explanation = explain(out, w, top=1)
    rows = explanation.by_layer()
    assert [name for name, _, _ in rows] == [f"MLP / Layer[{i}]" for i in range(6, -1, -1)]
    assert rows[-1][2] == pytest.approx(explanation.paths[0].product, rel=1e-12)
    assert math.prod(f for _, f, _ in rows) == pytest.approx(
        explanation.paths[0].product, rel=1e-12
    )
    # Between two sigmoid layers the factor is sigma' * w, with sigma' <= 1/4 and |w| < 1 here.
    for _, factor, _ in rows[1:-1]:
        assert abs(factor) < 0.25
    assert "running product" in explanation.layer_table()


def test_top_must_be_a_positive_int():
    """top=0, a float or a bool is refused with the value named."""
    x = Value(1.0)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="top must be a positive int"):
            explain(x * 2, x, top=bad)


def test_a_dead_fused_relu_shows_its_weighted_sum_and_no_minus_zero():
    """Notebook 02's dead unit: the text shows Σ = w·x + b (computed here) and 0, never -0."""
    nn = pytest.importorskip("autograd_lite.nn")
    model = nn.MLP(2, [3, 1], seed=0)
    x = [Value(1.0, label="x0"), Value(-2.0, label="x1")]
    loss = (model(x) - 1.0) ** 2
    neuron = model.layers[0].neurons[0]
    total = sum(w.data * xi.data for w, xi in zip(neuron.w, x)) + neuron.b.data
    assert total < 0  # this unit is dead on this sample
    text = str(explain(loss, neuron.w[0]))
    assert f"relu(Σ={total:.4g})=0" in text
    assert f"weighted sum {total:.4g} <= 0" in text
    assert not re.search(r"(?<![\w.])-0(?![.\d])", text)
