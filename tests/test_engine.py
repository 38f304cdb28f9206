"""Tests for autograd_lite.engine, against oracles that are not our code.

Values and first and second derivatives of every primitive are checked against sympy's
exact derivatives (evaluated at 40 digits), central differences in float64 and PyTorch in
float64, on grids that include 0, ±1, tiny and large inputs and the kinks. Hypothesis then
builds random expression graphs (node reuse, constants on both sides, nesting) and checks
them against sympy, PyTorch and the micrograd package. The rest pins the engine's stated
semantics: gradient accumulation, constants, grad modes, numerics, errors, graph shapes,
memory, micrograd compatibility, custom primitives and anomaly detection.
"""

from __future__ import annotations

import functools
import gc
import math
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import (
    AnomalyError,
    Value,
    detect_anomaly,
    engine,
    gradients,
    name_scope,
    no_grad,
    primitive,
    topological_order,
)
from tests.optional import need
from tests.oracles import (
    ENGINE,
    assert_close,
    difference_tolerance,
    partial_difference,
    require_torch,
    symbolic_derivatives,
    sympy_backend,
    torch_backend,
    torch_derivatives,
)
from tests.strategies import (
    MICROGRAD_EXPONENTS,
    MICROGRAD_OPS,
    Program,
    programs,
    run,
    run_engine,
)

# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def here() -> int:
    """The line number of the caller (to check the file:line an error message names)."""
    return sys._getframe(1).f_lineno


def as_float(g: Any) -> float:
    """A gradient from gradients(): a float, or a Value when create_graph=True."""
    return g.data if isinstance(g, Value) else float(g)


def engine_derivatives(
    function: Callable[..., Any], point: Sequence[float]
) -> tuple[float, list[float], list[float], list[list[float]]]:
    """Value; gradient by backward(); gradient and Hessian by gradients(create_graph=True)."""
    xs = [Value(p) for p in point]
    out = function(*xs)
    out.backward()
    by_backward = [x.grad for x in xs]
    xs2 = [Value(p) for p in point]
    out2 = function(*xs2)
    first = gradients(out2, xs2, create_graph=True)
    hessian = []
    for g in first:
        if isinstance(g, Value) and g.requires_grad:
            hessian.append([as_float(h) for h in gradients(g, xs2)])
        else:
            hessian.append([0.0] * len(xs2))
    return out.data, by_backward, [as_float(g) for g in first], hessian


# Methods rather than module functions: x.exp() takes a different code path than exp(x).
ENGINE_METHODS = SimpleNamespace(
    **{
        **vars(ENGINE),
        "name": "autograd_lite methods",
        "exp": lambda x: x.exp(),
        "log": lambda x: x.log(),
        "tanh": lambda x: x.tanh(),
        "sigmoid": lambda x: x.sigmoid(),
        "relu": lambda x: x.relu(),
        "leaky_relu": lambda x, slope=0.01: x.leaky_relu(slope),
        "softplus": lambda x: x.softplus(),
        "sin": lambda x: x.sin(),
        "cos": lambda x: x.cos(),
        "sqrt": lambda x: x.sqrt(),
        "abs": ag.abs_,
    }
)


# --------------------------------------------------------------------------------------
# The primitive table: every primitive on grids with edge points
# --------------------------------------------------------------------------------------

TINY = 1e-300
GENERAL = (0.0, TINY, -TINY, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 10.0, -10.0)
GENERAL += (30.0, -30.0, 700.0, -700.0)
POSITIVE = (TINY, 1e-8, 0.25, 0.5, 1.0, 2.0, 10.0, 1e8, 1e300)
NONZERO = tuple(x for x in GENERAL if x != 0.0)
KINK_POINTS = (0.0, 5e-324, -5e-324, 1e-8, -1e-8, 0.5, -0.5, 1.0, -2.0, 700.0, -700.0)
PAIRS = tuple((x, y) for x in (-2.0, -0.5, 0.0, 0.5, 1.0, 3.0) for y in (-1.5, 0.0, 0.25, 2.0))
POSITIVE_PAIRS = tuple(
    (x, y) for x in (1e-8, 0.5, 1.0, 2.0, 10.0) for y in (-2.0, -0.5, 0.0, 0.5, 1.0, 3.0)
)
VECTORS = ((0.0, 0.0, 0.0), (1.0, -2.0, 0.5), (3.0, 3.0, -1.0), (-700.0, 1e-8, 20.0))
VECTORS_4 = ((0.0, 0.0, 0.0, 0.0), (1.0, -2.0, 0.5, 3.0), (-0.25, 4.0, 1e-8, -3.0))


@dataclass(frozen=True)
class Case:
    """One primitive use: ``function(backend, *xs)`` and the points to test it at.

    ``smooth`` says where central differences apply (not exactly at a kink).
    ``shifts`` marks logsumexp and softmax, which subtract the largest input: they round
    at the scale of the inputs (ulp(700) = 1.1e-13), not of the result.
    ``torch_differs`` marks points where PyTorch departs from the exact derivative.
    """

    name: str
    function: Callable[..., Any]
    points: tuple[tuple[float, ...], ...]
    smooth: Callable[[tuple[float, ...]], bool] = lambda point: True
    shifts: bool = False
    torch_differs: Callable[[tuple[float, ...]], bool] = lambda point: False

    def scale(self, point: tuple[float, ...]) -> float:
        """The magnitude at which this case's float64 computation rounds."""
        return max(1.0, *map(abs, point)) if self.shifts else 1.0

    def __repr__(self) -> str:
        return self.name


def _unary(
    name: str,
    function: Callable[..., Any],
    points: Sequence[float],
    smooth: Callable[[tuple[float, ...]], bool] = lambda point: True,
) -> Case:
    return Case(name, function, tuple((p,) for p in points), smooth)


def _away_from_zero(point: tuple[float, ...]) -> bool:
    return all(abs(p) > 1e-6 for p in point)


def _power_points(c: float) -> tuple[float, ...]:
    if c == int(c) and c >= 0:
        return GENERAL
    if c == int(c):
        return NONZERO
    return POSITIVE


EXPONENT_GRID = (2.0, 3.0, 1.0, 0.0, -1.0, -2.0, 0.5, 1.5, -0.5, 2.5)

CASES = [
    _unary("neg", lambda B, x: -x, GENERAL),
    _unary("exp", lambda B, x: B.exp(x), GENERAL),
    _unary("log", lambda B, x: B.log(x), POSITIVE),
    _unary("tanh", lambda B, x: B.tanh(x), GENERAL),
    _unary("sigmoid", lambda B, x: B.sigmoid(x), GENERAL),
    _unary("softplus", lambda B, x: B.softplus(x), GENERAL),
    _unary("sin", lambda B, x: B.sin(x), GENERAL),
    _unary("cos", lambda B, x: B.cos(x), GENERAL),
    _unary("sqrt", lambda B, x: B.sqrt(x), POSITIVE),
    _unary("relu", lambda B, x: B.relu(x), KINK_POINTS, _away_from_zero),
    _unary("abs", lambda B, x: B.abs(x), KINK_POINTS, _away_from_zero),
    _unary("leaky_relu", lambda B, x: B.leaky_relu(x), KINK_POINTS, _away_from_zero),
    _unary("leaky_relu_0.2", lambda B, x: B.leaky_relu(x, 0.2), KINK_POINTS, _away_from_zero),
    # Constants on either side of each operator.
    _unary("2 + x", lambda B, x: 2 + x, GENERAL),
    _unary("x + 2", lambda B, x: x + 2, GENERAL),
    _unary("2 * x", lambda B, x: 2 * x, GENERAL),
    _unary("x * 2", lambda B, x: x * 2, GENERAL),
    _unary("x - 3", lambda B, x: x - 3, GENERAL),
    _unary("3 - x", lambda B, x: 3 - x, GENERAL),
    _unary("1 / x", lambda B, x: 1 / x, NONZERO),
    _unary("x / 4", lambda B, x: x / 4, GENERAL),
    _unary("2 ** x", lambda B, x: 2**x, GENERAL),
    _unary("0.5 ** x", lambda B, x: 0.5**x, GENERAL),
    *[_unary(f"x ** {c}", lambda B, x, c=c: x**c, _power_points(c)) for c in EXPONENT_GRID],
    # Two Values.
    Case("x + y", lambda B, x, y: x + y, PAIRS),
    Case("x - y", lambda B, x, y: x - y, PAIRS),
    Case("x * y", lambda B, x, y: x * y, PAIRS),
    Case("x / y", lambda B, x, y: x / y, tuple(p for p in PAIRS if p[1] != 0.0)),
    # PyTorch zeroes d/dx x**y wherever y == 0 (a masked_fill in its pow backward), and with
    # it the mixed second derivative, which is x**(y-1) = 1/x there (sympy agrees with us).
    Case("x ** y", lambda B, x, y: x**y, POSITIVE_PAIRS, torch_differs=lambda p: p[1] == 0.0),
    # n-ary nodes.
    Case("sum_values(x)", lambda B, x: B.sum_values([x]), tuple((p,) for p in GENERAL)),
    Case("sum_values(x, y, z)", lambda B, *xs: B.sum_values(xs), VECTORS),
    Case("sum_values(x, x, y)", lambda B, x, y, z: B.sum_values([x, x, y]), VECTORS),
    Case("dot([w1, w2], [x1, x2])", lambda B, *v: B.dot(v[:2], v[2:]), VECTORS_4),
    Case("dot([2, w], [x, y])", lambda B, w, x, y: B.dot([2.0, w], [x, y]), VECTORS),
    Case("dot([w, w], [w, x])", lambda B, w, x, y: B.dot([w, w], [w, x]), VECTORS),
    Case("dot([w, x], [y, 2], bias=z)", lambda B, *v: B.dot(v[:2], [v[2], 2.0], v[3]), VECTORS_4),
    Case("dot([w], [x], bias=w)", lambda B, w, x, y: B.dot([w], [x], w), VECTORS),
    Case("logsumexp(x)", lambda B, x: B.logsumexp([x]), tuple((p,) for p in GENERAL)),
    Case("logsumexp(x, y, z)", lambda B, *xs: B.logsumexp(xs), VECTORS, shifts=True),
    Case("logsumexp(x, x)", lambda B, x, y, z: B.logsumexp([x, x]), VECTORS, shifts=True),
    *[
        Case(f"softmax(x, y, z)[{i}]", lambda B, *xs, i=i: B.softmax(xs)[i], VECTORS, shifts=True)
        for i in range(3)
    ],
]
CASES_BY_NAME = {case.name: case for case in CASES}
UNARY_FUNCTION_CASES = [c for c in CASES if c.name.isidentifier() or c.name == "leaky_relu_0.2"]

# Our float64 results against exact values. The engine is accurate to a few ulp except
# where a float64 formula cancels: 1 - out for sigmoid(30) is 9.4e-14 with an absolute
# error of 1e-16, as in PyTorch. ATOL is that absolute error floor.
RTOL = 1e-12
ATOL = 1e-15


@functools.cache
def exact(case_name: str) -> Callable[..., Any]:
    """sympy's exact value, gradient and Hessian for a case (differentiated once per case)."""
    import sympy as sp

    case = CASES_BY_NAME[case_name]
    symbols = sp.symbols(f"x0:{len(case.points[0])}")
    return symbolic_derivatives(case.function(sympy_backend(), *symbols), symbols)


def check_against(
    got: tuple[float, list[float], list[float], list[list[float]]],
    expected: tuple[float, list[float], list[list[float]]],
    where: str,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    second_order: bool = True,
) -> None:
    value, by_backward, by_graph, hessian = got
    e_value, e_gradient, e_hessian = expected
    assert_close(value, e_value, rtol=rtol, atol=atol, what=f"value of {where}")
    for i, e in enumerate(e_gradient):
        assert_close(by_backward[i], e, rtol=rtol, atol=atol, what=f"backward() d/dx{i} {where}")
        assert_close(by_graph[i], e, rtol=rtol, atol=atol, what=f"create_graph d/dx{i} {where}")
    if second_order:
        for i, row in enumerate(e_hessian):
            for j, e in enumerate(row):
                assert_close(hessian[i][j], e, rtol=rtol, atol=atol, what=f"d2/dx{i}dx{j} {where}")


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_primitive_matches_sympy(case: Case) -> None:
    """Value, first and second derivatives of each primitive equal sympy's exact ones."""
    evaluate = exact(case.name)
    for point in case.points:
        got = engine_derivatives(lambda *xs: case.function(ENGINE, *xs), point)
        check_against(
            got, evaluate(point), f"{case.name} at {point}", atol=ATOL * case.scale(point)
        )


@pytest.mark.parametrize("case", UNARY_FUNCTION_CASES, ids=repr)
def test_primitive_methods_match_sympy(case: Case) -> None:
    """x.exp(), x.relu() ... (the method path) give the same exact results as exp(x)."""
    evaluate = exact(case.name)
    for point in case.points:
        got = engine_derivatives(lambda *xs: case.function(ENGINE_METHODS, *xs), point)
        check_against(
            got, evaluate(point), f"{case.name} (method) at {point}", atol=ATOL * case.scale(point)
        )


@pytest.mark.parametrize("case", [c for c in CASES if len(c.points[0]) == 1], ids=repr)
def test_primitive_second_derivative_by_nested_grad(case: Case) -> None:
    """grad(grad(f)) of each one-input primitive equals sympy's second derivative."""
    evaluate = exact(case.name)
    second = ag.grad(ag.grad(lambda x: case.function(ENGINE, x)))
    for point in case.points:
        _, _, hessian = evaluate(point)
        assert_close(
            second(*point),
            hessian[0][0],
            rtol=RTOL,
            atol=ATOL * case.scale(point),
            what=f"grad(grad({case.name})) at {point}",
        )


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_primitive_matches_central_differences(case: Case) -> None:
    """backward() agrees with fourth-order central differences of the float forward pass."""

    def forward(*floats: float) -> float:
        with no_grad():
            return case.function(ENGINE, *[Value(f) for f in floats]).data

    checked = 0
    for point in filter(case.smooth, case.points):
        xs = [Value(p) for p in point]
        out = case.function(ENGINE, *xs)
        if not math.isfinite(out.data):
            continue  # an overflow point: nothing to difference
        out.backward()
        for i, x in enumerate(xs):
            numeric = partial_difference(forward, point, i)
            # Truncation error is about 1e-10 relative; rounding adds an absolute error.
            rounding = difference_tolerance(point[i], max(abs(out.data), case.scale(point)))
            assert_close(
                x.grad, numeric, rtol=1e-7, atol=rounding, what=f"d/dx{i} {case} at {point}"
            )
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_primitive_matches_torch(case: Case) -> None:
    """Values, gradients and Hessians equal PyTorch's in float64 on the same grids."""
    torch = require_torch()
    backend = torch_backend(torch)
    for point in case.points:
        got = engine_derivatives(lambda *xs: case.function(ENGINE, *xs), point)
        expected = torch_derivatives(torch, lambda *ts: case.function(backend, *ts), point)
        where = f"{case.name} at {point} (torch)"
        check_against(
            got,
            expected,
            where,
            rtol=1e-11,
            atol=1e-14 * case.scale(point),
            second_order=not case.torch_differs(point),
        )


# --------------------------------------------------------------------------------------
# Random expression graphs
# --------------------------------------------------------------------------------------

# A random composition loses a few ulp per step, and a difference of two close terms
# turns that into a larger relative error, so compositions get looser bounds than single
# primitives. A wrong derivative rule is off by far more.
PROGRAM_RTOL = 1e-8
PROGRAM_ATOL = 1e-9


@settings(max_examples=1000)
@given(programs())
def test_random_graphs_match_sympy(program: Program) -> None:
    """First and second derivatives of random expression graphs equal sympy's exact ones."""
    import sympy as sp

    symbols = sp.symbols(f"x0:{program.n_inputs}")
    xs = [Value(p) for p in program.point]
    expression = run(program, [(ENGINE, xs), (sympy_backend(), symbols)]).items[1]
    expected = symbolic_derivatives(expression, symbols)(program.point)
    got = engine_derivatives(lambda *vs: run_engine(program, vs), program.point)
    check_against(
        got, expected, f"{expression} at {program.point}", rtol=PROGRAM_RTOL, atol=PROGRAM_ATOL
    )


@settings(max_examples=1500)
@given(programs(max_inputs=4, max_steps=8))
def test_random_graphs_match_torch(program: Program) -> None:
    """Values, gradients and Hessians of random graphs equal PyTorch's in float64."""
    torch = require_torch()
    backend = torch_backend(torch)
    got = engine_derivatives(lambda *vs: run_engine(program, vs), program.point)

    def twin(*tensors: Any) -> Any:
        # The guards are decided from autograd_lite values, so run both in lockstep.
        xs = [Value(p) for p in program.point]
        return run(program, [(ENGINE, xs), (backend, tensors)]).items[1]

    expected = torch_derivatives(torch, twin, program.point)
    # PyTorch zeroes d/dx x**y where y == 0, and so the mixed second derivative (see the
    # "x ** y" case); sympy checks those graphs instead.
    out = run_engine(program, [Value(p) for p in program.point])
    zero_exponent = any(
        node.op == "pow" and node._prev[1].requires_grad and node._prev[1].data == 0.0
        for node in topological_order(out)
    )
    check_against(
        got,
        expected,
        f"{program}",
        rtol=PROGRAM_RTOL,
        atol=PROGRAM_ATOL,
        second_order=not zero_exponent,
    )


MICROGRAD = SimpleNamespace(name="micrograd", relu=lambda v: v.relu())


@settings(max_examples=1000)
@given(programs(ops=MICROGRAD_OPS, exponents=MICROGRAD_EXPONENTS, max_steps=8))
def test_random_graphs_match_micrograd(program: Program) -> None:
    """On the operations micrograd has, values and gradients equal the micrograd package's."""
    need("micrograd")
    from micrograd.engine import Value as MicrogradValue

    ours = [Value(p) for p in program.point]
    theirs = [MicrogradValue(p) for p in program.point]
    out, reference = run(program, [(ENGINE, ours), (MICROGRAD, theirs)]).items
    out.backward()
    reference.backward()
    assert_close(out.data, float(reference.data), rtol=1e-12, atol=1e-12, what="value")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a.grad, float(b.grad), rtol=1e-9, atol=1e-9, what=f"d/dx{i} {program}")


# --------------------------------------------------------------------------------------
# Graph shapes
# --------------------------------------------------------------------------------------


def test_kinks_take_the_documented_subgradient_at_zero() -> None:
    """relu'(0) = 0, abs'(0) = 0 and leaky_relu'(0) = slope, for -0.0 too, as in PyTorch."""
    torch = require_torch()
    cases = [
        (ag.relu, torch.relu, 0.0),
        (abs, torch.abs, 0.0),
        (lambda v: ag.leaky_relu(v, 0.1), lambda t: torch.nn.functional.leaky_relu(t, 0.1), 0.1),
    ]
    for ours, theirs, expected in cases:
        for zero in (0.0, -0.0):
            x = Value(zero)
            ours(x).backward()
            t = torch.tensor(zero, dtype=torch.float64, requires_grad=True)
            theirs(t).backward()
            assert x.grad == expected == t.grad.item()


def test_reusing_a_node_keeps_both_edges() -> None:
    """a + a has the parents (a, a) and gradient 2; a * a has gradient 2a."""
    a = Value(3.0)
    s = a + a
    assert s._prev == (a, a) and s.parents == (a, a)
    s.backward()
    assert a.grad == 2.0
    b = Value(-1.5)
    (b * b).backward()
    assert b.grad == 2 * -1.5


def test_diamond_sums_both_paths() -> None:
    """d = (2a) * (a + 3): the gradient flows through both branches (sympy: 4a + 6)."""
    import sympy as sp

    s = sp.Symbol("a")
    expected = sp.diff((2 * s) * (s + 3), s).subs(s, 1.25)
    a = Value(1.25)
    d = (2 * a) * (a + 3)
    d.backward()
    assert a.grad == float(expected)


def test_unused_inputs_get_zero_gradient() -> None:
    """An input the output does not depend on keeps .grad 0 and gets 0.0 from gradients()."""
    x, unused = Value(2.0), Value(5.0)
    y = x * x
    y.backward()
    assert unused.grad == 0.0
    assert gradients(y, [x, unused]) == [4.0, 0.0]


def test_constants_on_the_left_become_constant_parents() -> None:
    """2 * x, 3 - x and 1 / x record the number as a constant parent that takes no gradient."""
    x = Value(4.0)
    for expression, op in ((2 * x, "mul"), (3 - x, "add"), (1 / x, "div"), (2**x, "pow")):
        assert expression.op == op
        constant = expression._prev[0]
        assert not constant.requires_grad and constant.is_leaf
    y = 2 * x
    y.backward()
    assert y._prev[0].grad == 0.0 and x.grad == 2.0


@pytest.mark.slow
def test_million_node_chain_backward() -> None:
    """backward() through a chain 1,000,000 nodes deep: no RecursionError, gradient exact."""
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0
    assert y.data == 1_000_000.5
    order = topological_order(y)
    assert len(order) == 2_000_001  # x, 1,000,000 sums and 1,000,000 constants
    del order, y  # freeing the chain must not overflow the C stack either


def test_python_sum_over_5000_values() -> None:
    """sum() over 5,000 Values (a 5,000-deep chain) backpropagates without RecursionError."""
    xs = [Value(float(i)) for i in range(5000)]
    total = sum(xs)
    total.backward()
    assert total.data == sum(range(5000))
    assert all(x.grad == 1.0 for x in xs)
    assert len(topological_order(total)) == 5000 + 5000 + 1  # leaves, sums, the 0 constant


def _live_values() -> int:
    # type(obj), not isinstance: isinstance reads obj.__class__, which on some of
    # PyTorch's deprecated module objects emits a FutureWarning.
    return sum(1 for obj in gc.get_objects() if issubclass(type(obj), Value))


def _build_and_use_graph() -> None:
    x = Value(0.3, label="x")
    w = [Value(0.1 * i) for i in range(20)]
    with name_scope("block"):
        h = ag.dot(w, [x] * 20) + x**2 - 1 / (x + 2)
        h = ag.tanh(h) * ag.sigmoid(h) + ag.log(ag.softplus(h)) + ag.relu(h) + abs(h)
        h = ag.logsumexp([h, x, 2.0]) + ag.softmax([h, x])[0] + ag.sum_values(w)
    h.backward()
    (g,) = gradients(h, [x], create_graph=True)
    gradients(g, [x])  # a second-order graph, dropped too


def test_dropped_graph_is_freed_by_reference_counting() -> None:
    """With the cyclic GC off, a graph (and its gradient graph) is freed once unreferenced."""
    _build_and_use_graph()  # first, so that any cache the engine fills is filled already
    gc.collect()
    gc.disable()
    try:
        before = _live_values()
        _build_and_use_graph()
        assert _live_values() == before
    finally:
        gc.enable()


def test_live_value_count_detects_a_reference_cycle() -> None:
    """The counting method sees a leak: a micrograd-style closure cycle survives without GC."""
    gc.collect()
    gc.disable()
    try:
        before = _live_values()

        def leak() -> None:
            x = Value(1.0)
            out = Value(2.0 * x.data, (x,), "double")

            def _backward() -> None:
                x.grad += 2.0 * out.grad  # the closure holds out, and out holds the closure

            out._backward = _backward

        leak()
        assert _live_values() == before + 2
    finally:
        gc.enable()
        gc.collect()


# --------------------------------------------------------------------------------------
# Gradient semantics
# --------------------------------------------------------------------------------------


def test_leaves_accumulate_across_backward_calls() -> None:
    """a**3 at 3: a.grad is 27 after one backward() and 54 after a second, as in PyTorch."""
    a = Value(3.0)
    b = a**3
    b.backward()
    assert a.grad == 27.0
    b.backward()
    assert a.grad == 54.0


def test_interior_nodes_hold_the_latest_pass_only() -> None:
    """a*a*a, backward() twice: 54 as in PyTorch, not micrograd's 72 (it re-adds interior grads)."""
    need("micrograd")
    from micrograd.engine import Value as MicrogradValue

    torch = require_torch()
    a = Value(3.0)
    square = a * a
    cube = square * a
    cube.backward()
    cube.backward()
    assert square.grad == 3.0  # this pass's d(cube)/d(square), not 6
    t = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    t_cube = t * t * t
    t_cube.backward(retain_graph=True)
    t_cube.backward()
    assert a.grad == t.grad.item() == 54.0
    m = MicrogradValue(3.0)
    m_cube = m * m * m
    m_cube.backward()
    m_cube.backward()
    assert m.grad == 72.0  # the bug this engine does not have


def test_zeroing_a_leaf_restarts_accumulation() -> None:
    """Setting .grad = 0.0 between passes (what zero_grad does) gives the fresh gradient."""
    a = Value(3.0)
    b = a**3
    b.backward()
    a.grad = 0.0
    b.backward()
    assert a.grad == 27.0


def test_backward_with_a_seed_scales_the_gradient() -> None:
    """backward(gradient=g) gives g * d(out)/d(x), like torch's backward(gradient)."""
    x = Value(2.0)
    (x * x).backward(0.5)
    assert x.grad == 2.0


def test_backward_on_a_constant_raises() -> None:
    """backward() on something that takes no gradient is a RuntimeError saying why."""
    constant = Value(2.0, requires_grad=False) * 3
    with pytest.raises(RuntimeError, match="constant"):
        constant.backward()
    with no_grad():
        recorded_nothing = Value(2.0) * 3
    with pytest.raises(RuntimeError, match="does not require grad"):
        recorded_nothing.backward()


def test_backward_create_graph_gives_differentiable_gradients() -> None:
    """backward(create_graph=True) leaves Value grads; their gradient is the second derivative."""
    x = Value(3.0)
    y = x**3 + ag.sin(x)
    y.backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Value)
    assert_close(first.data, 27.0 + math.cos(3.0), what="3x^2 + cos x")
    (second,) = gradients(first, [x])
    assert_close(second, 18.0 - math.sin(3.0), what="6x - sin x")


def test_gradients_does_not_touch_grad() -> None:
    """gradients() returns d(out)/d(inputs) and leaves every .grad as it was."""
    x, y = Value(2.0), Value(-1.0)
    out = x * y + x
    assert gradients(out, [x, y]) == [0.0, 2.0]
    assert x.grad == y.grad == out.grad == 0.0


def test_gradients_of_several_outputs_with_grad_outputs() -> None:
    """Several outputs give the gradient of sum(grad_output * output), as torch.autograd.grad."""
    x = Value(2.0)
    a, b = x * x, ag.exp(x)
    assert gradients([a, b], [x], [2.0, -1.0]) == [2.0 * 4.0 - math.exp(2.0)]
    assert gradients([a, b], x) == [4.0 + math.exp(2.0)]
    assert gradients(a, x, 3.0) == [12.0]


def test_gradients_with_respect_to_an_interior_node() -> None:
    """The gradient with respect to an intermediate node is d(out)/d(node)."""
    x = Value(2.0)
    h = x * 3
    out = h * h
    assert gradients(out, [h, x]) == [12.0, 36.0]


def test_gradients_of_a_constant_output_is_zero() -> None:
    """An output that does not require grad has zero gradient with respect to anything."""
    x = Value(1.0)
    c = Value(5.0, requires_grad=False) * 2
    assert gradients(c, [x]) == [0.0]


def test_gradients_rejects_bad_arguments() -> None:
    """gradients() names a non-Value it was given, and a grad_outputs length mismatch."""
    x = Value(1.0)
    with pytest.raises(TypeError, match="float"):
        gradients(x * 2, [1.0])
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
        gradients(x * 2, [x], [1.0, 2.0])


# --------------------------------------------------------------------------------------
# Constants, no_grad, detach
# --------------------------------------------------------------------------------------


def test_constants_get_no_gradient() -> None:
    """Value(requires_grad=False) and plain numbers take part in the value but get no gradient."""
    x = Value(2.0)
    c = Value(3.0, requires_grad=False)
    y = c * x + 4.0
    y.backward()
    assert x.grad == 3.0
    assert c.grad == 0.0
    assert all(not p.requires_grad for p in y._prev[1:])


def test_operations_on_constants_only_give_constants() -> None:
    """Constants combined with constants give a parentless constant: no graph is recorded."""
    c = Value(3.0, requires_grad=False)
    d = ag.exp(c * 2 + c)
    assert not d.requires_grad and d._prev == () and d.is_leaf
    assert d.data == math.exp(9.0)


def test_functions_on_plain_numbers_return_floats() -> None:
    """exp(1.0), dot([..], [..]) and friends on plain numbers return plain floats."""
    assert type(ag.exp(1.0)) is float and ag.exp(1.0) == math.exp(1.0)
    assert type(ag.sqrt(4)) is float
    assert ag.dot([1.0, 2.0], [3.0, 4.0]) == 11.0
    assert ag.softmax([0.0, 0.0]) == [0.5, 0.5]


def test_no_grad_context_builds_no_graph() -> None:
    """Inside no_grad() results are constants without parents; recording resumes after."""
    x = Value(2.0)
    with no_grad():
        assert not ag.is_grad_enabled()
        y = x * x + ag.exp(x)
    assert not y.requires_grad and y._prev == ()
    assert y.data == 4.0 + math.exp(2.0)
    z = x * x
    assert z.requires_grad and z._prev == (x, x)


def test_no_grad_decorator_builds_no_graph() -> None:
    """@no_grad() on a function turns recording off inside it only, and restores it on error."""

    @no_grad()
    def square(v: Value) -> Value:
        return v * v

    @no_grad()
    def fails() -> None:
        raise KeyError("boom")

    x = Value(3.0)
    assert square(x)._prev == ()
    with pytest.raises(KeyError):
        fails()
    assert ag.is_grad_enabled()
    assert (x * x)._prev == (x, x)


def test_enable_grad_inside_no_grad() -> None:
    """enable_grad() records again inside a no_grad() block."""
    x = Value(3.0)
    with no_grad(), ag.enable_grad():
        y = x * x
    assert y._prev == (x, x)


def _in_thread(function: Callable[[], Any]) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join(10)
    return result[0]


def test_no_grad_is_per_thread() -> None:
    """no_grad() in one thread does not stop another thread from recording, either way round."""
    x = Value(2.0)
    with no_grad():
        recorded_elsewhere = _in_thread(lambda: x * x)
        not_recorded_here = x * x
    assert recorded_elsewhere._prev == (x, x)
    assert not_recorded_here._prev == ()

    inside, release = threading.Event(), threading.Event()

    def worker() -> Value:
        with no_grad():
            inside.set()
            release.wait(10)
            return x * x

    result: list[Value] = []
    thread = threading.Thread(target=lambda: result.append(worker()))
    thread.start()
    inside.wait(10)
    recorded_here = x * x  # while the worker sits inside no_grad()
    release.set()
    thread.join(10)
    assert recorded_here._prev == (x, x)
    assert result[0]._prev == ()


def test_detach_cuts_the_graph() -> None:
    """detach() gives a constant with the same data; gradients do not flow through it."""
    x = Value(2.0)
    d = (x * x).detach()
    assert d.data == 4.0 and not d.requires_grad and d._prev == ()
    y = d * x
    y.backward()
    assert x.grad == 4.0  # d counted as a constant, not 3x^2 = 12


# --------------------------------------------------------------------------------------
# Numerics
# --------------------------------------------------------------------------------------


def test_saturating_functions_stay_finite() -> None:
    """sigmoid, tanh, softplus and logsumexp give finite, correct results at ±1000 (sympy)."""
    import sympy as sp

    def exact_value(expression: Any) -> float:
        return float(sp.N(expression, 30))

    checks = [
        (ag.sigmoid(Value(-1000.0)), 1 / (1 + sp.exp(1000))),
        (ag.sigmoid(Value(1000.0)), 1 / (1 + sp.exp(-1000))),
        (ag.tanh(Value(1000.0)), sp.tanh(1000)),
        (ag.tanh(Value(-1000.0)), sp.tanh(-1000)),
        (ag.softplus(Value(1000.0)), sp.log(1 + sp.exp(1000))),
        (ag.softplus(Value(-1000.0)), sp.log(1 + sp.exp(-1000))),
        (ag.logsumexp([Value(1000.0), Value(1000.0)]), 1000 + sp.log(2)),
        (ag.logsumexp([Value(-1000.0), Value(-1000.0)]), -1000 + sp.log(2)),
    ]
    for value, expression in checks:
        assert math.isfinite(value.data)
        assert_close(value.data, exact_value(expression), what=str(expression))
    for value, _ in checks:
        value.backward()
        assert all(math.isfinite(p.grad) for p in value._prev)


def test_overflow_gives_inf_not_an_exception() -> None:
    """exp(1000), 1e200 * 1e200, 10 ** 400 and huge sums give inf (IEEE), never OverflowError."""
    assert ag.exp(Value(1000.0)).data == math.inf
    assert (Value(1e200) * 1e200).data == math.inf
    assert (Value(10.0) ** 400).data == math.inf
    assert (Value(-10.0) ** 401).data == -math.inf
    assert (Value(2.0) ** Value(5000.0)).data == math.inf
    assert (10.0 ** Value(400.0)).data == math.inf
    assert ag.sum_values([Value(1e308), Value(1e308)]).data == math.inf
    assert ag.dot([Value(1e308), Value(1e308)], [1.0, 1.0]).data == math.inf
    assert math.isnan(ag.sum_values([Value(math.inf), Value(-math.inf)]).data)
    x = Value(10.0)
    (x**400).backward()
    assert x.grad == math.inf


def test_sum_is_exact_where_partial_sums_overflow() -> None:
    """1e308 + 1e308 - 1e308 is 1e308: the n-ary sum is exactly rounded, not inf."""
    assert ag.sum_values([Value(1e308), Value(1e308), Value(-1e308)]).data == 1e308
    assert ag.sum_values([Value(1e16), Value(1.0), Value(-1e16)]).data == 1.0


def test_ieee_boundaries() -> None:
    """log(0) = -inf with derivative inf; sqrt'(0) = inf; x / 0 = inf; 0 / 0 = nan."""
    x = Value(0.0)
    y = ag.log(x)
    y.backward()
    assert y.data == -math.inf and x.grad == math.inf
    z = Value(0.0)
    ag.sqrt(z).backward()
    assert z.grad == math.inf
    assert (Value(1.0) / 0).data == math.inf
    assert (Value(-1.0) / 0.0).data == -math.inf
    assert math.isnan((Value(0.0) / 0).data)


def test_boundaries_match_torch() -> None:
    """At the domain boundaries values and gradients equal PyTorch's (inf, -inf, 0)."""
    torch = require_torch()
    backend = torch_backend(torch)
    cases = [
        ("log", lambda B, x: B.log(x), 0.0),
        ("sqrt", lambda B, x: B.sqrt(x), 0.0),
        ("x ** 0.5", lambda B, x: x**0.5, 0.0),
        ("x ** 0", lambda B, x: x**0.0, 0.0),
        ("x ** 1", lambda B, x: x**1.0, 0.0),
        ("x ** -1", lambda B, x: x**-1.0, 0.0),
        ("x ** 2.5", lambda B, x: x**2.5, 0.0),
        ("exp", lambda B, x: B.exp(x), 1000.0),
        ("sigmoid", lambda B, x: B.sigmoid(x), -1000.0),
        ("tanh", lambda B, x: B.tanh(x), 1000.0),
    ]
    for name, function, point in cases:
        xs = [Value(point)]
        out = function(ENGINE, *xs)
        out.backward()
        t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
        t_out = function(backend, t)
        t_out.backward()
        assert_close(out.data, t_out.item(), what=f"{name} at {point}")
        assert_close(xs[0].grad, t.grad.item(), what=f"{name}' at {point}")


def test_pow_with_zero_base_and_value_exponent_matches_torch() -> None:
    """0 ** y with y a Value: d/dy is 0 (its limit) and d/dx is y * 0**(y-1), as in PyTorch."""
    torch = require_torch()
    for y_data in (0.5, 1.0, 2.0, 3.0):
        x, y = Value(0.0), Value(y_data)
        (x**y).backward()
        tx = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        ty = torch.tensor(y_data, dtype=torch.float64, requires_grad=True)
        (tx**ty).backward()
        assert_close(x.grad, tx.grad.item(), what=f"d/dx 0**{y_data}")
        assert_close(y.grad, ty.grad.item(), what=f"d/dy 0**{y_data}")


def test_higher_derivatives_of_powers_at_zero() -> None:
    """d^k/dx^k x**n at 0 equals sympy's (n! or 0) for every k: no 0 * inf = nan."""
    import sympy as sp

    s = sp.Symbol("x")
    for n in (0, 1, 2, 3):
        for k in (1, 2, 3, 4):
            function: Callable[..., Any] = lambda v, n=n: v ** float(n)
            for _ in range(k):
                function = ag.grad(function)
            expected = float(sp.diff(s**n, s, k).subs(s, 0))
            assert function(0.0) == expected, f"d^{k}/dx^{k} x**{n} at 0"


def test_softmax_of_large_logits_sums_to_one() -> None:
    """softmax([1000, 999, -1000]) is finite, sums to 1 and matches sympy."""
    import sympy as sp

    logits = [1000.0, 999.0, -1000.0]
    probabilities = ag.softmax([Value(v) for v in logits])
    total = math.fsum(p.data for p in probabilities)
    assert_close(total, 1.0, what="sum of softmax")
    normaliser = sum(sp.exp(sp.Integer(int(v))) for v in logits)
    for p, v in zip(probabilities, logits):
        assert_close(p.data, float(sp.N(sp.exp(int(v)) / normaliser, 30)), what=f"softmax {v}")


def test_domain_errors_name_the_operation_and_value() -> None:
    """log(-1), sqrt(-1) and a negative base to a Value or fractional exponent raise ValueError."""
    with pytest.raises(ValueError, match=r"log .*-1\.0"):
        ag.log(Value(-1.0))
    with pytest.raises(ValueError, match=r"sqrt .*-1\.0"):
        Value(-1.0).sqrt()
    with pytest.raises(ValueError, match=r"pow.*-2\.0"):
        Value(-2.0) ** Value(2.0)
    with pytest.raises(ValueError, match=r"pow.*-2"):
        (-2) ** Value(2.0)
    with pytest.raises(ValueError, match=r"pow.*-8\.0.*0\.5"):
        Value(-8.0) ** 0.5
    # A negative base to an integer constant exponent is fine: (-2)^3 = -8, derivative 12.
    x = Value(-2.0)
    (x**3).backward()
    assert x.grad == 12.0


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "type_name"), [("3", "str"), (None, "NoneType"), (1 + 2j, "complex"), ([1.0], "list")]
)
def test_value_rejects_non_real_data(bad: Any, type_name: str) -> None:
    """Value(non-number) is a TypeError naming the type received and what is accepted."""
    with pytest.raises(TypeError, match=rf"got {type_name}") as info:
        Value(bad)
    assert "real number" in str(info.value)


def test_value_rejects_an_int_too_large_for_a_float() -> None:
    """Value(10**400) and x * 10**400 are ValueErrors saying the number is too large."""
    with pytest.raises(ValueError, match="too large"):
        Value(10**400)
    with pytest.raises(ValueError, match="too large"):
        Value(1.0) * 10**400


OPERATIONS_WITH_BAD_OPERANDS = [
    ("x + 'a'", lambda x: x + "a", "+"),
    ("'a' + x", lambda x: "a" + x, "+"),
    ("'a' * x", lambda x: "a" * x, "*"),
    ("x * None", lambda x: x * None, "*"),
    ("x - 'a'", lambda x: x - "a", "-"),
    ("'a' - x", lambda x: "a" - x, "-"),
    ("x / 'a'", lambda x: x / "a", "/"),
    ("'a' / x", lambda x: "a" / x, "/"),
    ("x ** 'a'", lambda x: x ** "a", "**"),
    ("'a' ** x", lambda x: "a" ** x, "**"),
    ("x + {}", lambda x: x + {}, "+"),
    ("x * 1j", lambda x: x * 1j, "*"),
]


@pytest.mark.parametrize(
    ("name", "operation", "op"),
    OPERATIONS_WITH_BAD_OPERANDS,
    ids=[c[0] for c in OPERATIONS_WITH_BAD_OPERANDS],
)
def test_operators_reject_non_numbers(name: str, operation: Callable[..., Any], op: str) -> None:
    """An operator with a non-number operand raises TypeError naming the operator and the type."""
    with pytest.raises(TypeError, match=rf"for {re.escape(op)} with a Value.*real number.*got \w+"):
        operation(Value(1.0))


def test_comparisons_reject_non_numbers() -> None:
    """x < 'a' raises TypeError naming the type; comparisons with numbers use .data."""
    x = Value(1.0)
    with pytest.raises(TypeError, match="str"):
        _ = x < "a"
    assert x < 2 and x >= Value(1.0) and max([Value(3.0), x]).data == 3.0


def test_other_bad_arguments_are_explained() -> None:
    """Bad labels, scopes, dot lengths, empty logsumexp and _backward values raise clear errors."""
    with pytest.raises(TypeError, match="label must be a str, got int"):
        Value(1.0, label=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a str, got int"):
        name_scope(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        ag.dot([Value(1.0)] * 2, [1.0] * 3)
    with pytest.raises(ValueError, match="at least one"):
        ag.logsumexp([])
    with pytest.raises(TypeError, match="_backward must be callable, got int"):
        Value(1.0)._backward = 3  # type: ignore[assignment]
    with pytest.raises(TypeError, match="expected Values, got float"):
        topological_order([1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="got str"):
        Value(1.0).backward("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="_children must be Values, got float"):
        Value(1.0, (2.0,))  # type: ignore[arg-type]


def test_values_hash_and_compare_by_identity() -> None:
    """Two Values with equal data are different nodes: usable as dict keys and set members."""
    a, b = Value(1.0), Value(1.0)
    assert a != b
    assert a == a
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2


# --------------------------------------------------------------------------------------
# Traversal, introspection, scopes
# --------------------------------------------------------------------------------------


def test_topological_order_puts_parents_first_and_is_deterministic() -> None:
    """Every node appears once, after all its parents; identical graphs give the same order."""

    def build() -> tuple[Value, list[Value]]:
        xs = [Value(float(i), label=f"x{i}") for i in range(4)]
        h = xs[0] * xs[1] + xs[1]
        out = ag.tanh(h) * ag.sum_values([h, xs[2], 2.0]) + xs[3] ** 2
        return out, xs

    out, _ = build()
    order = topological_order(out)
    assert len(order) == len(set(order))
    position = {node: i for i, node in enumerate(order)}
    assert all(position[p] < position[node] for node in order for p in node._prev)
    assert order[-1] is out
    other, _ = build()
    describe = lambda nodes: [(n.op, n.label, n.data) for n in nodes]
    assert describe(topological_order(other)) == describe(order)


def test_topological_order_can_leave_out_constants() -> None:
    """requires_grad_only=True leaves out constants; several roots share one order."""
    x = Value(2.0)
    y = x * 3.0
    z = y + Value(1.0, requires_grad=False)
    full = topological_order(z)
    trimmed = topological_order(z, requires_grad_only=True)
    assert len(full) == 5 and trimmed == [x, y, z]
    both = topological_order([z, y * 2])
    assert len(both) == len(set(both)) == 7


def _interior_ancestors(root: Value) -> set[Value]:
    """Every node with parents that leads to ``root``, by plain recursion (small graphs)."""
    found: set[Value] = set()

    def visit(node: Value) -> None:
        if node._prev and node not in found:
            found.add(node)
            for parent in node._prev:
                visit(parent)

    visit(root)
    return found


def _check_backward_order(root: Value) -> None:
    """backward()'s order: each interior ancestor once, after its parents, as in a DFS."""
    from autograd_lite.engine.traversal import _interior_order

    order = _interior_order([root])
    assert len(order) == len(set(order))
    assert set(order) == _interior_ancestors(root)
    position = {node: i for i, node in enumerate(order)}
    assert all(position[p] < position[n] for n in order for p in n._prev if p._prev)
    assert order == [n for n in topological_order(root) if n._prev]


@settings(max_examples=300)
@given(programs(max_inputs=4, max_steps=10))
def test_backward_order_holds_each_interior_node_once_after_its_parents(program: Program) -> None:
    """On random graphs with reuse, backward's order is complete, parent-first and DFS order."""
    out = run_engine(program, [Value(p) for p in program.point])
    if isinstance(out, Value):
        _check_backward_order(out)


def test_backward_order_on_layers_sharing_their_leaves() -> None:
    """Neurons sharing weights and inputs (leaves met many times) are each ordered once."""
    import random

    rng = random.Random(5)
    w1 = [[Value(rng.uniform(-1, 1)) for _ in range(6)] for _ in range(5)]
    w2 = [[Value(rng.uniform(-1, 1)) for _ in range(5)] for _ in range(3)]
    losses = []
    for _ in range(4):
        x = [rng.uniform(-1, 1) for _ in range(6)]
        hidden = ag.dense(w1, x, None, Value.relu, fuse=True)
        scores = ag.dense(w2, hidden)
        losses.append(ag.sum_values(s * s for s in scores) + hidden[0])
    _check_backward_order(ag.sum_values(losses))


def test_node_introspection() -> None:
    """op, _op, parents, local_derivatives, primitive, is_leaf describe how a node was made."""
    x, y = Value(2.0, label="x"), Value(5.0)
    z = x * y
    assert (z.op, z._op, z.parents, z.is_leaf, x.is_leaf) == ("mul", "*", (x, y), False, True)
    assert z.local_derivatives == (5.0, 2.0) and x.local_derivatives is None
    assert z.primitive is not None and z.primitive.name == "mul"
    assert z.primitive.forward(2.0, 5.0) == 10.0
    assert tuple(z.primitive.derivative(2.0, 5.0, 10.0)) == (5.0, 2.0)
    assert ag.dot([x], [y])._op == "·" and ag.sum_values([x, y])._op == "Σ"
    assert ag.tanh(x).op == ag.tanh(x)._op == "tanh"
    assert x.op == "" and x._op == "" and x.primitive is None


def test_op_names_and_symbols_follow_the_documented_table() -> None:
    """.op and ._op of each primitive's node are the names other modules (drawing) rely on."""
    x, y = Value(0.5), Value(2.0)
    nodes = {
        "add": (x + y, "+"),
        "mul": (x * y, "*"),
        "neg": (-x, "neg"),
        "pow": (x**y, "**"),
        "exp": (ag.exp(x), "exp"),
        "log": (ag.log(x), "log"),
        "tanh": (ag.tanh(x), "tanh"),
        "sigmoid": (ag.sigmoid(x), "sigmoid"),
        "relu": (ag.relu(x), "ReLU"),
        "leaky_relu": (ag.leaky_relu(x), "leaky_relu"),
        "softplus": (ag.softplus(x), "softplus"),
        "sin": (ag.sin(x), "sin"),
        "cos": (ag.cos(x), "cos"),
        "sqrt": (ag.sqrt(x), "sqrt"),
        "abs": (abs(x), "abs"),
        "sum": (ag.sum_values([x, y]), "Σ"),
        "dot": (ag.dot([x], [y]), "·"),
        "logsumexp": (ag.logsumexp([x, y]), "logsumexp"),
        "div": (x / y, "/"),
    }
    for name, (node, symbol) in nodes.items():
        assert (node.op, node._op) == (name, symbol)
        assert node.primitive is not None and node.primitive.name == name
    assert (x - y).op == "add"  # composed as micrograd does


def test_backward_from_a_leaf_and_gradients_of_an_output_itself() -> None:
    """A leaf's backward() adds 1 to its own grad; d(out)/d(out) is 1."""
    x = Value(4.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0
    y = x * 3
    assert gradients(y, [y, x]) == [1.0, 3.0]
    assert topological_order(x) == [x]


def test_repr_shows_data_grad_op_and_label() -> None:
    """repr() names the data, the gradient, the operation and the label."""
    x = Value(2.0, label="x")
    y = x * 3
    y.label = "y"
    y.backward()
    text = repr(y)
    assert "data=6" in text and "grad=1" in text and "op='mul'" in text and "label='y'" in text
    assert "requires_grad=False" in repr(Value(1.0, requires_grad=False))
    assert f"{y:.2f}" == "6.00" and float(y) == 6.0 and y.item() == 6.0


def test_name_scope_tags_nodes_with_a_path() -> None:
    """Nodes created inside nested name_scope blocks carry the path; it is restored after."""
    x = Value(1.0)
    with name_scope("MLP"):
        a = x * 2
        with name_scope("Layer[0]"):
            b = ag.tanh(a)
        c = a + b
    d = c * 1
    assert (a.scope, b.scope, c.scope, d.scope, x.scope) == (
        ("MLP",),
        ("MLP", "Layer[0]"),
        ("MLP",),
        (),
        (),
    )


def test_name_scope_is_restored_after_an_error_and_per_thread() -> None:
    """An exception inside a scope does not leave it open; other threads do not see it."""
    x = Value(1.0)
    with pytest.raises(ZeroDivisionError), name_scope("outer"):
        raise ZeroDivisionError
    assert (x * 2).scope == ()
    with name_scope("main"):
        assert _in_thread(lambda: (x * 2).scope) == ()


# --------------------------------------------------------------------------------------
# micrograd compatibility
# --------------------------------------------------------------------------------------


def _micrograd_readme(value_class: type) -> tuple[float, float, float]:
    """The example from micrograd's README, written once for either Value class."""
    a = value_class(-4.0)
    b = value_class(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return g.data, a.grad, b.grad


def test_micrograd_readme_example_matches_micrograd() -> None:
    """micrograd's README example gives micrograd's numbers with only the import changed."""
    need("micrograd")
    from micrograd.engine import Value as MicrogradValue

    ours = _micrograd_readme(Value)
    theirs = _micrograd_readme(MicrogradValue)
    for name, a, b in zip(("g", "a.grad", "b.grad"), ours, theirs):
        assert_close(a, float(b), rtol=1e-12, what=name)


def test_lecture_style_manual_backward() -> None:
    """The lecture's L = (a*b + c) * f: labels, manual _backward() calls node by node, sympy."""
    import sympy as sp

    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = Value(-2.0, label="f")
    L = d * f
    L.label = "L"
    L.grad = 1.0
    for node in (L, d, e):  # reverse topological order, by hand
        node._backward()
    symbols = sp.symbols("a b c f")
    sa, sb, sc, sf = symbols
    expression = (sa * sb + sc) * sf
    at = {sa: 2, sb: -3, sc: 10, sf: -2}
    for node, symbol in zip((a, b, c, f), symbols):
        assert node.grad == float(sp.diff(expression, symbol).subs(at)), node.label
    # backward() on the same graph, leaves zeroed first, agrees with the manual pass.
    manual = [node.grad for node in (a, b, c, f)]
    for node in (a, b, c, f):
        node.grad = 0.0
    L.backward()
    assert [node.grad for node in (a, b, c, f)] == manual
    # A gradient-descent step written the lecture's way.
    a.data += -0.01 * a.grad
    assert a.data == 2.0 - 0.01 * a.grad


def _micrograd_tanh(self: Value) -> Value:
    """tanh as the lecture hand-builds it, with a closure assigned to _backward."""
    x = self.data
    t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
    out = Value(t, (self,), "tanh")

    def _backward() -> None:
        self.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def test_hand_built_micrograd_op_joins_backward() -> None:
    """A micrograd-style hand-built node (Value(t, (self,), 'tanh'), _backward closure) works."""
    torch = require_torch()
    point = {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.8813735870195432}
    v = {k: Value(p, label=k) for k, p in point.items()}
    n = v["x1"] * v["w1"] + v["x2"] * v["w2"] + v["b"]
    o = _micrograd_tanh(n)
    assert o._op == "tanh" and o._prev == (n,) and o.op == "tanh"
    y = o * 2 + o  # the hand-built node has children too
    y.backward()
    t = {k: torch.tensor(p, dtype=torch.float64, requires_grad=True) for k, p in point.items()}
    t_o = torch.tanh(t["x1"] * t["w1"] + t["x2"] * t["w2"] + t["b"])
    (t_o * 2 + t_o).backward()
    for k in point:
        assert_close(v[k].grad, t[k].grad.item(), rtol=1e-12, atol=1e-15, what=k)
    # And a second backward() accumulates into the leaves only, as for built-in nodes.
    before = v["w1"].grad
    y.backward()
    assert_close(v["w1"].grad, 2 * before, what="accumulated w1")


def test_manual_backward_through_hand_built_and_builtin_nodes() -> None:
    """Setting o.grad = 1 and calling _backward() in reverse order equals backward()."""
    x = Value(0.5)
    w = Value(-1.5)
    n = x * w + 0.25
    o = _micrograd_tanh(n)
    o.grad = 1.0
    for node in reversed(topological_order(o)):
        node._backward()
    manual = (x.grad, w.grad)
    x.grad = w.grad = 0.0
    o.backward()
    assert (x.grad, w.grad) == manual
    assert_close(x.grad, (1 - math.tanh(-0.5) ** 2) * -1.5, what="dtanh/dx")


def test_gradient_graph_through_a_hand_built_node_is_refused() -> None:
    """create_graph through a closure-based node raises, saying to use primitive()."""
    x = Value(0.5)
    o = _micrograd_tanh(x)
    with pytest.raises(RuntimeError, match="primitive"):
        gradients(o, [x], create_graph=True)
    with pytest.raises(RuntimeError, match="primitive"):
        gradients(o, [x])


# --------------------------------------------------------------------------------------
# Custom primitives
# --------------------------------------------------------------------------------------


def test_custom_primitive_first_and_higher_derivatives() -> None:
    """A primitive whose rule uses engine functions gets every order free (sympy: x*sin(x))."""
    import sympy as sp

    xsinx = primitive(
        "xsinx",
        lambda x: x * math.sin(x),
        lambda x, out: (ag.sin(x) + x * ag.cos(x),),
    )
    s = sp.Symbol("x")
    expected = sp.lambdify(s, [sp.diff(s * sp.sin(s), s, k) for k in range(4)])(1.3)
    x = Value(1.3)
    y = xsinx(x)
    assert y.op == "xsinx" and y._op == "xsinx" and y.primitive is xsinx
    assert_close(y.data, expected[0], what="value")
    f = lambda v: xsinx(v)
    for k in (1, 2, 3):
        f = ag.grad(f)
        assert_close(f(1.3), expected[k], rtol=1e-12, what=f"derivative {k}")
    assert xsinx(2.0) == 2.0 * math.sin(2.0)  # floats in, float out


def test_custom_primitive_with_several_inputs_and_constants() -> None:
    """A two-input primitive takes Values or numbers and matches sympy's partial derivatives."""
    import sympy as sp

    hypot = primitive(
        "hypot",
        math.hypot,
        lambda x, y, out: (x / out, y / out),
        symbol="‖·‖",
    )
    sx, sy = sp.symbols("x y")
    exact_expression = sp.sqrt(sx**2 + sy**2)
    x, y = Value(3.0), Value(4.0)
    z = hypot(x, y)
    z.backward()
    assert z._op == "‖·‖" and z.data == 5.0
    assert x.grad == float(sp.diff(exact_expression, sx).subs({sx: 3, sy: 4}))
    assert y.grad == float(sp.diff(exact_expression, sy).subs({sx: 3, sy: 4}))
    w = Value(3.0)
    hypot(w, 4.0).backward()
    assert w.grad == x.grad


def test_custom_primitive_with_wrong_arity_rule_is_explained() -> None:
    """A rule returning the wrong number of derivatives, or not taking out, is a clear error."""
    too_many = primitive("cube", lambda x: x**3, lambda x, out: (3 * x**2, 1.0))
    with pytest.raises(ValueError, match=r"'cube' returned 2 local derivatives for 1 input"):
        too_many(Value(2.0))
    no_out = primitive("cube", lambda x: x**3, lambda x: (3 * x**2,))
    with pytest.raises(TypeError, match=r"'cube' cannot take 1 input\(s\) and the output"):
        no_out(Value(2.0))
    bare = primitive("cube", lambda x: x**3, lambda x, out: 3 * x**2)
    with pytest.raises(TypeError, match=r"'cube' returned a float; return a sequence"):
        bare(Value(2.0))
    wrong_type = primitive("cube", lambda x: x**3, lambda x, out: ("3x^2",))
    with pytest.raises(TypeError, match=r"'cube' returned a str"):
        wrong_type(Value(2.0))


def test_primitive_definition_errors() -> None:
    """primitive() refuses an empty name and non-callable rules; bad forward output is named."""
    with pytest.raises(TypeError, match="non-empty str name"):
        primitive("", abs, abs)
    with pytest.raises(TypeError, match="callable"):
        primitive("f", 3, abs)  # type: ignore[arg-type]
    to_str = primitive("to_str", lambda x: "x", lambda x, out: (1.0,))
    with pytest.raises(TypeError, match=r"forward function of 'to_str'.*got str"):
        to_str(Value(1.0))


# --------------------------------------------------------------------------------------
# detect_anomaly
# --------------------------------------------------------------------------------------


def test_anomaly_in_forward_names_op_inputs_and_line() -> None:
    """The first inf in a forward pass raises AnomalyError naming exp, its input and this line."""
    x = Value(1000.0)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = here() + 1
        x.exp()
    message = str(info.value)
    assert "exp" in message and "1000.0" in message
    assert f"{__file__}:{line}" in message


def test_anomaly_in_backward_names_the_node_created_first() -> None:
    """sqrt'(0) = inf in backward raises naming sqrt, its input 0.0 and where sqrt was called."""
    x = Value(0.0)
    with detect_anomaly():
        line = here() + 1
        root = ag.sqrt(x)
        y = ag.tanh(root * 3.0) + 1.0
        with pytest.raises(AnomalyError) as info:
            y.backward()
    message = str(info.value)
    assert "sqrt" in message and "(0.0,)" in message and "inf" in message
    assert f"{__file__}:{line}" in message
    assert root.created_at is not None and root.created_at[1] == line


def test_anomaly_in_gradients_and_create_graph() -> None:
    """gradients() and create_graph=True check their gradients the same way."""
    for create_graph in (False, True):
        x = Value(0.0)
        with detect_anomaly():
            y = ag.sqrt(x) * 2.0
            with pytest.raises(AnomalyError, match="sqrt"):
                gradients(y, [x], create_graph=create_graph)


def test_anomaly_reports_only_the_first_non_finite_value() -> None:
    """An operation on an already non-finite input does not raise again; finite runs are silent."""
    with detect_anomaly():
        z = Value(math.inf) * 2.0 + 1.0  # inf in, inf out: not a new anomaly
        assert z.data == math.inf
        x = Value(0.5)
        y = ag.tanh(x) * ag.log(x)
        y.backward()
    assert math.isfinite(x.grad)


def test_anomaly_reports_log_of_zero() -> None:
    """log(0) = -inf from a finite input is an anomaly, named with its input."""
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"log produced -inf.*\(0\.0,\)"):
        ag.log(Value(0.0))


# --------------------------------------------------------------------------------------
# dense(): a layer of neurons in one call, fused or not
# --------------------------------------------------------------------------------------

_DENSE_ACTIVATIONS = {"relu": Value.relu, "tanh": Value.tanh, "sigmoid": Value.sigmoid}


def _dense_problem(seed: int) -> tuple[list[list[float]], list[float], list[float]]:
    """Weights (4 rows of 3), biases and inputs, with some sums negative and some positive."""
    import random

    rng = random.Random(seed)
    weights = [[rng.uniform(-1.5, 1.5) for _ in range(3)] for _ in range(4)]
    biases = [rng.uniform(-1.0, 1.0) for _ in range(4)]
    inputs = [rng.uniform(-2.0, 2.0) for _ in range(3)]
    return weights, biases, inputs


@pytest.mark.parametrize("activation", sorted(_DENSE_ACTIVATIONS))
@pytest.mark.parametrize("fuse", [False, True])
def test_dense_matches_torch_to_second_order(activation: str, fuse: bool) -> None:
    """dense() values, gradients and second derivatives equal PyTorch's in float64."""
    torch = require_torch()
    for seed in range(5):
        w, b, x = _dense_problem(seed)
        ws = [[Value(v) for v in row] for row in w]
        bs = [Value(v) for v in b]
        xs = [Value(v) for v in x]
        outs = ag.dense(ws, xs, bs, _DENSE_ACTIVATIONS[activation], fuse=fuse)
        loss = ag.sum_values(o * o for o in outs)
        leaves = [v for row in ws for v in row] + bs + xs
        first = ag.gradients(loss, leaves, create_graph=True)
        second = ag.gradients(first[-1], leaves)  # d/d(everything) of d loss / d x[2]

        tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        tout = getattr(torch, activation)(tw @ tx + tb)
        tloss = (tout * tout).sum()
        tfirst = torch.autograd.grad(tloss, (tw, tb, tx), create_graph=True)
        tflat = torch.cat([g.reshape(-1) for g in tfirst])
        tsecond = torch.autograd.grad(tfirst[2][2], (tw, tb, tx), allow_unused=True)
        tsecond_flat = torch.cat([g.reshape(-1) for g in tsecond])

        for mine, theirs in zip(outs, tout.tolist()):
            assert_close(mine.data, theirs, what=f"{activation} value")
        for mine, theirs in zip(first, tflat.tolist()):
            assert_close(mine.data, theirs, what=f"{activation} gradient")
        for mine, theirs in zip(second, tsecond_flat.tolist()):
            assert_close(float(mine), theirs, what=f"{activation} second derivative")


@pytest.mark.parametrize("activation", sorted(_DENSE_ACTIVATIONS))
def test_fused_neuron_gradients_match_central_differences(activation: str) -> None:
    """A fused neuron's backward() agrees with float64 central differences in every input."""
    w, b, x = _dense_problem(11)
    point = [*w[0], b[0], *x]

    def value(*p: float) -> float:
        with ag.no_grad():
            out = ag.dense(
                [list(p[:3])], list(p[4:]), [p[3]], _DENSE_ACTIVATIONS[activation], fuse=True
            )[0]
        return out.data if isinstance(out, Value) else float(out)

    leaves = [Value(v) for v in point]
    out = ag.dense(
        [leaves[:3]], leaves[4:], [leaves[3]], _DENSE_ACTIVATIONS[activation], fuse=True
    )[0]
    out.backward()
    for index, leaf in enumerate(leaves):
        assert_close(leaf.grad, partial_difference(value, point, index), rtol=1e-6, atol=1e-8)


def test_dense_fast_path_agrees_with_the_primitive_table() -> None:
    """The inlined dense() path and the table's DOT_RELU/DOT_TANH/DOT_SIGMOID rules agree."""
    from autograd_lite.engine import DOT_RELU, DOT_SIGMOID, DOT_TANH

    table = {"relu": DOT_RELU, "tanh": DOT_TANH, "sigmoid": DOT_SIGMOID}
    for seed in range(10):
        w, b, x = _dense_problem(seed)
        ws = [[Value(v) for v in row] for row in w]
        bs = [Value(v) for v in b]
        xs = [Value(v) for v in x]
        for name, activation in _DENSE_ACTIVATIONS.items():
            fast = ag.dense(ws, xs, bs, activation, fuse=True)
            for row, node in zip(range(4), fast):
                slow = table[name](*ws[row], *xs, bs[row])
                assert node.op == f"dot_{name}" and node.data == slow.data
                assert node.local_derivatives == slow.local_derivatives


_layer_entries = st.floats(-4.0, 4.0) | st.sampled_from([0.0, -0.0])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.data(),
    st.sampled_from([None, "relu", "tanh", "sigmoid"]),
    st.booleans(),
    st.booleans(),
)
def test_dense_fast_path_builds_the_checked_paths_nodes(
    rows: int, width: int, data: st.DataObject, activation: str | None, fuse: bool, bias: bool
) -> None:
    """dense()'s fast path and its checked path (rows through the table) agree bit for bit."""

    def same(x: float, y: float) -> bool:
        return x == y and math.copysign(1, x) == math.copysign(1, y)

    def draw(n: int) -> list[float]:
        return data.draw(st.lists(_layer_entries, min_size=n, max_size=n))

    w = [draw(width) for _ in range(rows)]
    b, x = draw(rows), draw(width)
    number_weight = data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
    # Frozen weights (and biases) with number inputs: a row that needs no gradient.
    frozen = data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
    number_inputs = data.draw(st.booleans())
    act = None if activation is None else _DENSE_ACTIVATIONS[activation]

    def build() -> tuple[list[Value], list[Value]]:
        # A plain number among a row's weights sends that row down the checked path.
        ws = [
            [v if k == 0 and plain else Value(v, requires_grad=not cold) for k, v in enumerate(r)]
            for r, plain, cold in zip(w, number_weight, frozen)
        ]
        params = [v for r in ws for v in r if isinstance(v, Value) and v.requires_grad]
        bs = [Value(v, requires_grad=not cold) for v, cold in zip(b, frozen)] if bias else None
        xs = list(x) if number_inputs else [Value(v) for v in x]
        names = [f"row{i}" for i in range(rows)]
        out = ag.dense(ws, xs, bs, act, names=names, fuse=fuse)
        return out, params + [v for v in bs or [] if v.requires_grad]

    fast, fast_params = build()
    with detect_anomaly():  # no fast path under anomaly checks: the primitive table's nodes
        reference, reference_params = build()
    for node, ref in zip(fast, reference, strict=True):
        assert type(node) is type(ref)
        if type(node) is float:  # numbers only in this row: a number on both paths
            assert same(node, ref)
            continue
        assert node.op == ref.op and same(node.data, ref.data)
        assert node.requires_grad == ref.requires_grad and node.scope == ref.scope
        assert node.local_derivatives == ref.local_derivatives
        assert [p.data for p in node.parents] == [p.data for p in ref.parents]
    if not fast_params:
        return
    grads = ag.gradients(ag.sum_values(fast), fast_params)
    reference_grads = ag.gradients(ag.sum_values(reference), reference_params)
    assert all(same(g, r) for g, r in zip(grads, reference_grads, strict=True))


def test_dead_fused_relu_passes_back_exactly_zero() -> None:
    """A fused ReLU whose sum is <= 0 gives every weight and input gradient 0, even at inf."""
    w = [Value(-1.0), Value(2.0)]
    x = [Value(1.0), Value(-math.inf)]
    out = ag.dense([w], x, [Value(0.0)], Value.relu, fuse=True)[0]
    assert out.data == 0.0
    (out * 3.0).backward()
    assert [v.grad for v in (*w, *x)] == [0.0, 0.0, 0.0, 0.0]
    assert ag.gradients(out * 3.0, [*w, *x]) == [0.0, 0.0, 0.0, 0.0]


def test_backward_skipping_a_dead_neuron_still_refreshes_what_is_behind_it() -> None:
    """An interior node reached only through a dead neuron shows 0 on the next pass, not stale."""
    a = Value(2.0)
    hidden = a * 1.0  # interior, feeds only the neuron below
    weight = Value(1.0)
    live = ag.dense([[weight]], [hidden], [Value(0.0)], Value.relu, fuse=True)[0]
    live.backward()
    assert hidden.grad == 1.0 and a.grad == 1.0
    weight.data = -1.0  # the same graph shape, now dead
    dead = ag.dense([[weight]], [hidden], [Value(0.0)], Value.relu, fuse=True)[0]
    dead.backward()
    assert dead.data == 0.0
    assert hidden.grad == 0.0  # this pass's gradient, not the old 1.0
    assert a.grad == 1.0  # a leaf keeps what it had: nothing was added


def test_dense_makes_number_inputs_constants_shared_by_every_row() -> None:
    """Number inputs become one constant each, shared by all rows, in the caller's scope."""
    w, b, x = _dense_problem(3)
    ws = [[Value(v) for v in row] for row in w]
    bs = [Value(v) for v in b]
    outs = ag.dense(ws, [x[0], 2, x[2]], bs, Value.tanh, fuse=True)
    constants = [out._prev[3:6] for out in outs]
    assert all(c == constants[0] for c in constants)  # the same nodes, not copies
    assert [c.data for c in constants[0]] == [x[0], 2.0, x[2]]
    assert type(constants[0][1].data) is float
    assert not any(c.requires_grad for c in constants[0])
    ag.sum_values(outs).backward()

    twin_ws = [[Value(v) for v in row] for row in w]
    twin_bs = [Value(v) for v in b]
    xs = [Value(v, requires_grad=False) for v in (x[0], 2.0, x[2])]
    ag.sum_values(ag.dense(twin_ws, xs, twin_bs, Value.tanh, fuse=True)).backward()
    got = [v.grad for v in (*(v for row in ws for v in row), *bs)]
    expected = [v.grad for v in (*(v for row in twin_ws for v in row), *twin_bs)]
    assert got == expected and any(g != 0.0 for g in got)
    with pytest.raises(TypeError, match="got str"):
        ag.dense(ws, [1.0, "2", 3.0], bs)
    with name_scope("layer"):  # made for the caller, like Value(x, requires_grad=False)
        scoped = ag.dense(ws, [1.0, 2, 3.0], bs)
    assert [c.scope for c in scoped[0]._prev[3:6]] == [("layer",)] * 3


def test_dead_fused_relus_share_one_tuple_of_zero_derivatives() -> None:
    """Dead neurons of a layer reuse one zeros tuple instead of allocating one each."""
    weights = [[Value(-1.0), Value(-2.0)], [Value(-3.0), Value(-0.5)], [Value(1.0), Value(1.0)]]
    outs = ag.dense(weights, [1.0, 1.0], None, Value.relu, fuse=True)
    assert [o.data for o in outs] == [0.0, 0.0, 2.0]
    assert outs[0].local_derivatives == (0.0,) * 4
    assert outs[0]._local is outs[1]._local
    assert outs[2].local_derivatives == (1.0, 1.0, 1.0, 1.0)


def test_dense_refuses_mismatched_rows() -> None:
    """A row with the wrong number of weights, or a missing bias, is a clear ValueError."""
    with pytest.raises(ValueError, match="2 weights for 3 inputs"):
        ag.dense([[Value(1.0), Value(2.0)]], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="one of each per row"):
        ag.dense([[Value(1.0)], [Value(2.0)]], [1.0], [Value(0.0)])


# --------------------------------------------------------------------------------------
# Issue 11: defects found by adversarial testing, each pinned here
# --------------------------------------------------------------------------------------

NAN = math.nan


def _torch_scalar(torch: Any, value: float) -> Any:
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


def _same_float(a: float, b: float) -> bool:
    """Both nan (NaN must stay NaN), or equal to 1e-13 relative (infinities exactly)."""
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-13)


_RELU_PATHS = {
    "Value.relu": lambda x: x.relu(),
    "relu()": ag.relu,
    "leaky_relu()": lambda x: ag.leaky_relu(x, 0.1),
    "Value.leaky_relu": lambda x: x.leaky_relu(0.1),
    "dot_relu via dense(fuse=True)": lambda x: ag.dense([[1.0]], [x], None, Value.relu, fuse=True)[
        0
    ],
    "dot_tanh via dense(fuse=True)": lambda x: ag.dense([[1.0]], [x], None, Value.tanh, fuse=True)[
        0
    ],
    "dot_sigmoid via dense(fuse=True)": lambda x: ag.dense(
        [[1.0]], [x], None, Value.sigmoid, fuse=True
    )[0],
    "dense(relu) unfused": lambda x: ag.dense([[1.0]], [x], None, Value.relu)[0],
    "dot_relu primitive": lambda x: engine.DOT_RELU(Value(1.0), x),
    "tanh": ag.tanh,
    "sigmoid": ag.sigmoid,
    "softplus": ag.softplus,
    "abs": abs,
}


def _torch_activation(torch: Any, name: str) -> Callable[[Any], Any]:
    f = torch.nn.functional
    if "leaky" in name:
        return lambda t: f.leaky_relu(t, 0.1)
    for key, fn in (("tanh", torch.tanh), ("sigmoid", torch.sigmoid), ("softplus", f.softplus)):
        if key in name:
            return fn
    return torch.abs if name == "abs" else torch.relu


@pytest.mark.parametrize("name", sorted(_RELU_PATHS))
def test_nan_propagates_through_every_activation_path_as_in_torch(name: str) -> None:
    """nan in gives nan out on every path (interpreted, fused, dense), grads equal torch's."""
    torch = require_torch()
    activation = _RELU_PATHS[name]
    for point in (NAN, 0.0, -0.0, -2.0, 3.0):
        x = Value(point)
        out = activation(x)
        out.backward()
        t = _torch_scalar(torch, point)
        t_out = _torch_activation(torch, name)(t)
        t_out.backward()
        assert _same_float(out.data, t_out.item()), f"{name}({point}) = {out.data}"
        assert _same_float(x.grad, t.grad.item()), f"{name}'({point}) = {x.grad}"
        x2 = Value(point)
        (g,) = gradients(activation(x2), [x2], create_graph=True)
        assert _same_float(as_float(g), t.grad.item()), f"{name}' create_graph at {point}"
        with no_grad():
            assert _same_float(activation(Value(point)).data, t_out.item()), f"no_grad {name}"


def test_nan_input_to_a_fused_layer_is_nan_under_no_grad_and_with_grad() -> None:
    """A layer of relu neurons fed one nan gives nan in every row, with and without grad."""
    rows = [[Value(0.5), Value(-1.0)], [Value(-2.0), Value(0.25)]]
    for fuse in (False, True):
        out = ag.dense(rows, [NAN, 1.0], [Value(0.0), Value(-5.0)], Value.relu, fuse=fuse)
        assert all(math.isnan(o.data) for o in out)
        with no_grad():
            out = ag.dense(rows, [NAN, 1.0], [Value(0.0), Value(-5.0)], Value.relu, fuse=fuse)
        assert all(math.isnan(o.data) for o in out)


def test_dead_relu_skip_never_turns_a_nan_gradient_into_zero() -> None:
    """Behind a dead relu a nan gradient stays nan (0 * nan), on every backward path.

    PyTorch selects 0 there (threshold_backward); the engine multiplies, as its
    documented chain rule says, so a nan reaching a dead neuron is never lost.
    """
    for fuse in (True, False):
        for create_graph in (False, True):
            w, x = Value(1.0), Value(-3.0)
            dead = ag.dense([[w]], [x], None, Value.relu, fuse=fuse)[0]
            assert dead.data == 0.0
            loss = dead * Value(NAN) + w
            loss.backward(create_graph=create_graph)
            assert math.isnan(as_float(w.grad)) and math.isnan(as_float(x.grad))


def test_compiled_relu_propagates_nan_as_the_engine_does() -> None:
    """compile_loss on a batch with one nan input gives a nan loss, as the engine does."""
    np = need("numpy")
    from autograd_lite.compile import compile_loss
    from autograd_lite.losses import mse
    from autograd_lite.nn import MLP

    model = MLP(2, [3, 1], activation="relu", seed=0)
    X = np.array([[NAN, 1.0], [0.5, -0.5]])
    y = np.array([0.0, 1.0])
    step = compile_loss(model, lambda p, t: mse(p, t), X[0], y[0])
    loss = step.backward(X, y)
    assert math.isnan(float(loss))


def _ieee_div(a: float, b: float) -> float:
    """a / b as IEEE 754 defines it (NumPy float64), where Python raises for b == 0."""
    import numpy as np

    with np.errstate(all="ignore"):
        return float(np.float64(a) / np.float64(b))


DIVISION_CASES = [
    (49.0, 49.0),
    (0.0, 5e-324),
    (1e-300, 5e-324),
    (1.0, 3.0),
    (-7.0, 0.1),
    (1e308, 1e-308),
    (5e-324, 1e300),
    (3.0, -0.0),
    (0.0, 0.0),
    (1.0, math.inf),
]


@pytest.mark.parametrize(("a", "b"), DIVISION_CASES)
def test_division_is_a_primitive_exact_as_python(a: float, b: float) -> None:
    """a / b is one div node whose value is Python's a / b; derivatives equal torch's."""
    torch = require_torch()
    expected = _ieee_div(a, b)
    x, y = Value(a), Value(b)
    q = x / y
    assert q.op == "div" and q.parents == (x, y)
    assert _same_float(q.data, expected)
    q.backward()
    tx, ty = _torch_scalar(torch, a), _torch_scalar(torch, b)
    (tx / ty).backward()
    assert _same_float(x.grad, tx.grad.item()) and _same_float(y.grad, ty.grad.item())
    assert _same_float((a / Value(b)).data, expected) and _same_float((Value(a) / b).data, expected)


def test_division_quotients_are_correctly_rounded() -> None:
    """Random quotients equal Python's a / b bit for bit (x * y**-1 was one ulp off for 1 in 4)."""
    import random

    rng = random.Random(11)
    for _ in range(2000):
        a, b = rng.uniform(-100, 100), rng.uniform(-100, 100)
        assert (Value(a) / Value(b)).data == a / b


def test_division_second_order_matches_torch() -> None:
    """Second derivatives of a / b by create_graph equal torch's at ordinary and tiny operands."""
    torch = require_torch()
    for a, b in ((3.0, 7.0), (49.0, 49.0), (1e-300, 1e-10), (-2.0, 0.5)):
        x, y = Value(a), Value(b)
        gx, gy = gradients(x / y, [x, y], create_graph=True)
        tx, ty = _torch_scalar(torch, a), _torch_scalar(torch, b)
        tgx, tgy = torch.autograd.grad(tx / ty, [tx, ty], create_graph=True)
        for ours, theirs in ((gx, tgx), (gy, tgy)):
            assert_close(as_float(ours), theirs.item(), what=f"first order at {a}/{b}")
            second = [as_float(h) for h in gradients(ours, [x, y])]
            t_second = torch.autograd.grad(theirs, [tx, ty], allow_unused=True)
            for s, ts in zip(second, t_second):
                assert_close(s, 0.0 if ts is None else ts.item(), what=f"second at {a}/{b}")


def test_derivative_rules_divide_with_the_div_primitive() -> None:
    """The gradient graphs of log and sqrt use div, so their second derivatives are exact."""
    for function, expected in ((ag.log, 1 / 49.0), (ag.sqrt, 0.5 / 7.0)):
        x = Value(49.0)
        (g,) = gradients(function(x), [x], create_graph=True)
        ops = {node.op for node in topological_order(g)}
        assert "div" in ops and "pow" not in ops and g.data == expected


@pytest.mark.parametrize(
    "logits",
    [[1e16, 1e16], [1e308, -1e308], [1e308, 1e308], [-1e308, -1e308], [1e16, 1.0, -1e16, 3.0]],
)
def test_softmax_is_normalised_for_any_finite_logits(logits: list[float]) -> None:
    """softmax sums to 1 within a few ulps and equals torch's for huge finite logits."""
    torch = require_torch()
    probabilities = ag.softmax([Value(v) for v in logits])
    assert abs(math.fsum(p.data for p in probabilities) - 1.0) <= 4 * 2**-52
    expected = torch.softmax(torch.tensor(logits, dtype=torch.float64), 0).tolist()
    for p, e in zip(probabilities, expected):
        assert_close(p.data, e, what=f"softmax {logits}")


@pytest.mark.parametrize(
    ("logits", "target"),
    [([1e16, 1e16], 0), ([1e308, -1e308], 0), ([3.0, 1e16, -2.0], 2), ([-1e300, 1e300], 0)],
)
def test_cross_entropy_is_exact_for_huge_logits(logits: list[float], target: int) -> None:
    """cross_entropy([1e16, 1e16], 0) is log 2; values and gradients equal torch's."""
    torch = require_torch()
    from autograd_lite.losses import cross_entropy

    zs = [Value(v) for v in logits]
    loss = cross_entropy(zs, target)
    loss.backward()
    t = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t[None], torch.tensor([target]))
    t_loss.backward()
    assert_close(loss.data, t_loss.item(), what=f"cross_entropy {logits}")
    for z, g in zip(zs, t.grad.tolist()):
        assert_close(z.grad, g, what=f"d cross_entropy {logits}")
    if logits == [1e16, 1e16]:
        assert loss.data == math.log(2.0)


def test_cross_entropy_whose_logit_differences_overflow_is_inf() -> None:
    """cross_entropy([1e308, -1e308], 1) is inf, as torch's; its gradient is nan (documented)."""
    from autograd_lite.losses import cross_entropy

    zs = [Value(1e308), Value(-1e308)]
    loss = cross_entropy(zs, 1)
    loss.backward()
    assert loss.data == math.inf
    assert all(math.isnan(z.grad) for z in zs)  # inf - inf in logsumexp's rule: never a number


class _LooksLikeAValue:
    """An object with .data and .grad, as a Value has: not a Value."""

    data = 2.0
    grad = 0.0
    requires_grad = True
    _prev = ()


def _impostors() -> list[Any]:
    import numpy as np

    torch = require_torch()
    return [
        torch.tensor(2.0, dtype=torch.float64),
        np.array(2.0),
        np.array([2.0]),
        _LooksLikeAValue(),
    ]


_UNARY_FUNCTIONS = [
    ag.exp, ag.log, ag.tanh, ag.sigmoid, ag.relu, ag.softplus, ag.sin, ag.cos, ag.sqrt, ag.abs_,
    ag.leaky_relu,
]  # fmt: skip


_IMPOSTOR_CALLS: list[Callable[[Any], Any]] = [
    *[lambda bad, f=f: f(bad) for f in _UNARY_FUNCTIONS],
    lambda bad: ag.power(bad, 2.0),
    lambda bad: ag.power(Value(2.0), bad),
    lambda bad: ag.sum_values([Value(1.0), bad]),
    lambda bad: ag.logsumexp([Value(1.0), bad]),
    lambda bad: ag.softmax([Value(1.0), bad]),
    lambda bad: ag.dot([Value(1.0)], [bad]),
    lambda bad: ag.dot([bad], [Value(1.0)]),
    lambda bad: ag.dot([Value(1.0)], [Value(1.0)], bad),
    lambda bad: ag.dense([[Value(1.0)]], [bad]),
    lambda bad: ag.dense([[bad]], [Value(1.0)], fuse=True, activation=Value.relu),
    lambda bad: ag.dense([[Value(1.0)]], [Value(1.0)], [bad]),
    lambda bad: Value(1.0) + bad,
    lambda bad: Value(1.0) / bad,
    lambda bad: Value(bad),
    lambda bad: engine.DOT_RELU(Value(1.0), bad),
]


def test_engine_functions_refuse_objects_that_only_look_like_values() -> None:
    """exp(torch.tensor(2.)) and friends raise TypeError naming the type; no Value is built."""
    for impostor in _impostors():
        for call in _IMPOSTOR_CALLS:
            with pytest.raises(TypeError, match=re.escape(type(impostor).__name__)):
                call(impostor)


def test_power_convention_at_zero_zero_is_the_same_on_every_path() -> None:
    """d/dx x**y at (0, 0) is 0 by backward(), gradients(), create_graph: torch's first order."""
    torch = require_torch()
    tx, ty = _torch_scalar(torch, 0.0), _torch_scalar(torch, 0.0)
    t_first = [g.item() for g in torch.autograd.grad(tx**ty, [tx, ty])]
    x, y = Value(0.0), Value(0.0)
    (x**y).backward()
    assert [x.grad, y.grad] == t_first == [0.0, 0.0]
    x, y = Value(0.0), Value(0.0)
    assert gradients(x**y, [x, y]) == t_first
    x, y = Value(0.0), Value(0.0)
    assert [as_float(g) for g in gradients(x**y, [x, y], create_graph=True)] == t_first
    x, y = Value(0.0), Value(0.0)
    (x**y).backward(create_graph=True)
    assert [as_float(x.grad), as_float(y.grad)] == t_first


@pytest.mark.parametrize("y_data", [-2.0, -1.0, -0.5, 0.0, 0.5, 2.0, NAN])
def test_pow_exponent_derivative_at_zero_base_matches_torch(y_data: float) -> None:
    """d/dy 0**y is 0 for y >= 0 and -inf for y < 0 (nan for nan), as torch gives, every path."""
    torch = require_torch()
    tx, ty = _torch_scalar(torch, 0.0), _torch_scalar(torch, y_data)
    t_grads = [g.item() for g in torch.autograd.grad(tx**ty, [tx, ty])]
    for create_graph in (False, True):
        x, y = Value(0.0), Value(y_data)
        grads = [as_float(g) for g in gradients(x**y, [x, y], create_graph=create_graph)]
        assert all(map(_same_float, grads, t_grads)), (y_data, create_graph, grads, t_grads)


def test_pow_docstring_states_what_torch_gives_for_negative_exponents() -> None:
    """The engine's documented pow convention mentions -inf for y < 0, as torch gives."""
    assert "-inf" in engine.__doc__.split("x ** y")[1][:400]


def test_no_false_anomaly_from_the_derivative_for_a_constant_base() -> None:
    """gradients(0.0 ** w, [w], create_graph=True) under detect_anomaly raises nothing."""
    w = Value(0.5)
    with detect_anomaly():
        (g,) = gradients(0.0**w, [w], create_graph=True)
    assert as_float(g) == 0.0
    w = Value(2.0)
    with detect_anomaly():
        (g,) = gradients(Value(0.0, requires_grad=False) / w, [w], create_graph=True)
    assert as_float(g) == 0.0


@pytest.mark.parametrize("flag", ["no", 1, 0, None, 1.0])
def test_requires_grad_and_create_graph_accept_only_bool(flag: Any) -> None:
    """Value(1, requires_grad="no") and other non-bool flags are TypeErrors naming the type."""
    name = type(flag).__name__
    with pytest.raises(TypeError, match=rf"requires_grad.*bool.*got {name}"):
        Value(1.0, requires_grad=flag)
    x = Value(1.0)
    with pytest.raises(TypeError, match=rf"create_graph.*bool.*got {name}"):
        gradients(x * x, [x], create_graph=flag)
    with pytest.raises(TypeError, match=rf"create_graph.*bool.*got {name}"):
        (x * x).backward(create_graph=flag)
    with pytest.raises(TypeError, match=rf"fuse.*bool.*got {name}"):
        ag.dense([[x]], [1.0], fuse=flag)
    with pytest.raises(TypeError, match=rf"requires_grad_only.*bool.*got {name}"):
        topological_order(x, requires_grad_only=flag)


def test_huge_ints_are_value_errors_everywhere_in_the_engine() -> None:
    """10**400 as grad_outputs, operand, seed or argument is a ValueError naming its size."""
    huge = 10**400
    x = Value(1.0)
    calls: list[Callable[[], Any]] = [
        lambda: gradients(x * x, [x], grad_outputs=[huge]),
        lambda: gradients(x * x, [x], grad_outputs=huge),
        lambda: (x * x).backward(huge),
        lambda: Value(huge),
        lambda: x + huge,
        lambda: huge - x,
        lambda: x / huge,
        lambda: huge / x,
        lambda: x**huge,
        lambda: ag.exp(huge),
        lambda: ag.leaky_relu(x, huge),
        lambda: ag.dot([x], [huge]),
        lambda: ag.dense([[x]], [huge], fuse=True, activation=Value.relu),
        lambda: ag.sum_values([x, huge]),
        lambda: ag.softmax([x, huge]),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"does not fit in a float"):
            call()


def test_backward_create_graph_cycle_is_documented_and_broken_by_clearing_grads() -> None:
    """backward(create_graph=True) keeps x.grad -> graph -> x (a cycle, as in PyTorch); the
    engine docstring says so, and clearing the leaves' grads frees the graph without the GC."""
    assert "create_graph=True" in engine.__doc__ and "cycle" in engine.__doc__
    gc.collect()
    gc.disable()
    try:
        before = _live_values()

        def use_and_clear() -> None:
            x = Value(3.0)
            y = ag.tanh(x * x) + x
            y.backward(create_graph=True)
            x.grad = 0.0  # what zero_grad() does: drops the gradient graph

        use_and_clear()
        assert _live_values() == before
    finally:
        gc.enable()
        gc.collect()


@given(
    st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0]),
)
def test_inlined_operators_agree_with_the_primitive_table(a: float, b: float) -> None:
    """Value + Value, Value * Value, Value * float and relu() (inlined) give the table's node."""
    from autograd_lite.engine import ADD, MUL, RELU

    def same(x: float, y: float) -> bool:
        return (math.isnan(x) and math.isnan(y)) or (
            x == y and math.copysign(1, x) == math.copysign(1, y)
        )

    for fast, prim, args in (
        (lambda x, y: x + y, ADD, (Value(a), Value(b))),
        (lambda x, y: x * y, MUL, (Value(a), Value(b))),
        (lambda x, y: x * y, MUL, (Value(a), b)),
        (lambda x: x.relu(), RELU, (Value(a),)),
    ):
        node, reference = fast(*args), prim(*args)
        assert node.op == reference.op
        assert same(node.data, reference.data)
        assert all(same(d, e) for d, e in zip(node.local_derivatives, reference.local_derivatives))
        assert [p.data for p in node.parents] == [p.data for p in reference.parents] or all(
            same(p.data, q.data) for p, q in zip(node.parents, reference.parents)
        )
        assert [p.requires_grad for p in node.parents] == [
            p.requires_grad for p in reference.parents
        ]


def test_negative_infinite_base_to_a_non_integer_power_is_refused() -> None:
    """(-inf) ** 0.5 is a ValueError like (-8) ** 0.5 (Python's pow gives inf, torch nan)."""
    for exponent in (0.5, 1.5, -0.5):
        with pytest.raises(ValueError, match=r"pow.*-inf"):
            Value(-math.inf) ** exponent
    assert (Value(-math.inf) ** 2.0).data == math.inf  # integer exponents stay real
    assert (Value(-math.inf) ** 3.0).data == -math.inf


def test_pow_base_derivative_at_zero_exponent_agrees_for_tiny_bases() -> None:
    """d/dx x**y at y == 0 is 0 by backward() and by create_graph, also where x**-1 overflows;
    the mixed second derivative is 1/x (sympy: d/dy (y x**(y-1)) = 1/x at y = 0)."""
    for x_data in (1e-310, 5e-324, 2.0, 1e300):
        x, y = Value(x_data), Value(0.0)
        (x**y).backward()
        assert x.grad == 0.0
        x, y = Value(x_data), Value(0.0)
        gx, _ = gradients(x**y, [x, y], create_graph=True)
        assert as_float(gx) == 0.0
        assert gradients(gx, [y])[0] == 1 / x_data


def test_dense_paths_add_signed_zeros_alike() -> None:
    """bias + w*x with bias = -0.0 and w*x = -0.0 is -0.0 (IEEE) with grad on and under no_grad."""
    for fuse in (False, True):
        w, b = Value(-0.0), Value(-0.0)
        with_grad = ag.dense([[w]], [1.0], [b], fuse=fuse)[0].data
        with no_grad():
            without = ag.dense([[w]], [1.0], [b], fuse=fuse)[0].data
        assert math.copysign(1.0, with_grad) == math.copysign(1.0, without) == -1.0


@given(
    st.floats(-3.0, 3.0) | st.sampled_from([0.0, -0.0]),
    st.floats(0.25, 3.0),
    st.floats(-3.0, 3.0) | st.sampled_from([0.0, -0.0]),
)
def test_the_tables_all_value_fast_path_matches_its_checked_loop(
    a: float, b: float, c: float
) -> None:
    """A built-in on Values only (_apply's fast path) gives the node numbers give (checked)."""
    from autograd_lite.engine import ADD, DIV, DOT, DOT_TANH, MUL, POW, SUM

    def same(x: float, y: float) -> bool:
        return x == y and math.copysign(1, x) == math.copysign(1, y)

    for prim, args in (
        (ADD, (a, c)),
        (MUL, (a, c)),
        (DIV, (a, b)),
        (POW, (b, c)),
        (SUM, (a, b, c)),
        (DOT, (a, b, c, a)),
        (DOT_TANH, (a, b, c, a, b)),
    ):
        fast = prim(*(Value(v) for v in args))
        checked = prim(Value(args[0]), *args[1:])  # a number among them: the checked loop
        assert fast.op == checked.op and same(fast.data, checked.data)
        assert all(
            same(d, e)
            for d, e in zip(fast.local_derivatives, checked.local_derivatives, strict=True)
        )
