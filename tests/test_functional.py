"""Tests for autograd_lite.functional: grad, value_and_grad, jacobian, hessian, gradcheck.

Every derivative is compared with sympy's exact one, on fixed functions and on random
expression graphs drawn by Hypothesis; gradcheck is itself tested with a deliberately
wrong derivative.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import GradcheckError, Value, grad, gradcheck, hessian, jacobian, value_and_grad
from tests.oracles import ENGINE, assert_close, exact_values, symbolic_derivatives, sympy_backend
from tests.strategies import Program, programs, run, run_engine

RTOL = 1e-8  # compositions lose a few ulp per step; see test_engine.PROGRAM_RTOL
ATOL = 1e-9


def sympy_twin(program: Program) -> tuple[Any, tuple[Any, ...]]:
    """The program's exact sympy expression and its symbols (guards chosen at its point)."""
    import sympy as sp

    symbols = sp.symbols(f"x0:{program.n_inputs}")
    xs = [Value(p) for p in program.point]
    return run(program, [(ENGINE, xs), (sympy_backend(), symbols)]).items[1], symbols


def exact_derivative(expression: Any, symbol: Any, order: int, at: float) -> float:
    """d^order expression / d symbol^order at ``symbol = at``, exactly (sympy, 40 digits)."""
    import sympy as sp

    (value,) = exact_values([sp.diff(expression, symbol, order)], [symbol], [at])
    return value


# --------------------------------------------------------------------------------------
# grad, value_and_grad, hessian on random expression graphs
# --------------------------------------------------------------------------------------


@settings(max_examples=500)
@given(programs())
def test_grad_and_hessian_of_random_graphs_match_sympy(program: Program) -> None:
    """value_and_grad over all arguments and hessian over a list argument equal sympy's."""
    expression, symbols = sympy_twin(program)
    e_value, e_gradient, e_hessian = symbolic_derivatives(expression, symbols)(program.point)
    n = program.n_inputs

    def f(*xs: Any) -> Any:
        return run_engine(program, xs)

    value, gradient = value_and_grad(f, argnums=tuple(range(n)))(*program.point)
    assert_close(value, e_value, rtol=RTOL, atol=ATOL, what=f"value of {expression}")
    for i in range(n):
        assert_close(gradient[i], e_gradient[i], rtol=RTOL, atol=ATOL, what=f"d/dx{i} {program}")
    matrix = hessian(lambda v: run_engine(program, v))(list(program.point))
    for i in range(n):
        for j in range(n):
            assert_close(
                matrix[i][j], e_hessian[i][j], rtol=RTOL, atol=ATOL, what=f"H[{i}][{j}] {program}"
            )


@settings(max_examples=200)
@given(programs(max_inputs=1, max_steps=4))
def test_third_derivative_of_random_graphs_matches_sympy(program: Program) -> None:
    """grad(grad(grad(f))) of random one-input graphs equals sympy's third derivative."""
    expression, (symbol,) = sympy_twin(program)
    (x,) = program.point
    third = grad(grad(grad(lambda v: run_engine(program, [v]))))(x)
    expected = exact_derivative(expression, symbol, 3, x)
    # Third derivatives chain three rounds of rounding through the graph.
    assert_close(third, expected, rtol=1e-7, atol=1e-8, what=f"f''' of {expression} at {x}")


# --------------------------------------------------------------------------------------
# Higher order and nesting on fixed functions
# --------------------------------------------------------------------------------------

FIXED = [
    ("x**4", lambda x: x**4, 1.5),
    ("sin(x) * exp(x)", lambda x: ag.sin(x) * ag.exp(x), 0.7),
    ("tanh(x) / (1 + x**2)", lambda x: ag.tanh(x) / (1 + x**2), -0.4),
    ("log(softplus(x))", lambda x: ag.log(ag.softplus(x)), 2.0),
    ("sqrt(x) * sigmoid(x)", lambda x: ag.sqrt(x) * ag.sigmoid(x), 3.0),
    ("2**x - x**-2", lambda x: 2**x - x**-2, 1.25),
    ("logsumexp([x, 2x, 1])", lambda x: ag.logsumexp([x, 2 * x, 1.0]), 0.3),
    ("cos(x)**3", lambda x: ag.cos(x) ** 3, 1.1),
]


def _sympy_fixed(name: str) -> Any:
    import sympy as sp

    x = sp.Symbol("x")
    backend = sympy_backend()
    table = {
        "x**4": x**4,
        "sin(x) * exp(x)": sp.sin(x) * sp.exp(x),
        "tanh(x) / (1 + x**2)": sp.tanh(x) / (1 + x**2),
        "log(softplus(x))": sp.log(backend.softplus(x)),
        "sqrt(x) * sigmoid(x)": sp.sqrt(x) * backend.sigmoid(x),
        "2**x - x**-2": 2**x - x**-2,
        "logsumexp([x, 2x, 1])": backend.logsumexp([x, 2 * x, sp.Integer(1)]),
        "cos(x)**3": sp.cos(x) ** 3,
    }
    return table[name], x


@pytest.mark.parametrize(("name", "function", "point"), FIXED, ids=[f[0] for f in FIXED])
def test_repeated_grad_matches_sympy_up_to_fourth_order(
    name: str, function: Callable[[Any], Any], point: float
) -> None:
    """grad applied 1 to 4 times gives sympy's derivatives of order 1 to 4."""
    expression, x = _sympy_fixed(name)
    derivative = function
    for order in range(1, 5):
        derivative = grad(derivative)
        expected = exact_derivative(expression, x, order, point)
        assert_close(derivative(point), expected, rtol=1e-10, atol=1e-12, what=f"{name} ({order})")


def test_nested_grad_closing_over_the_outer_variable() -> None:
    """grad(lambda x: x * grad(lambda y: x * y)(1.0))(2.0) == 4: d/dx (x * x) at 2."""
    assert grad(lambda x: x * grad(lambda y: x * y)(1.0))(2.0) == 4.0


def test_nested_grad_keeps_perturbations_apart() -> None:
    """Inner and outer variables are not confused (the classic perturbation-confusion check)."""
    # f(x) = d/dy (x * y) at y = x, which is x; so f'(x) = 1, not 2.
    assert grad(lambda x: grad(lambda y: x * y)(x))(3.0) == 1.0
    # g(x) = x * d/dy (x + y) = x; g'(x) = 1.
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(5.0) == 1.0
    # h(x) = d/dy (x * y**2) at y = x, which is 2x**2; h'(x) = 4x.
    assert grad(lambda x: grad(lambda y: x * y**2)(x))(1.5) == 6.0


def test_transforms_return_floats_at_top_level_and_values_inside() -> None:
    """At the top level gradients are floats; inside another transform they are Values."""
    seen: list[Any] = []

    def inner(x: Any) -> Any:
        g = grad(lambda y: y**3)(x)
        seen.append(g)
        return g

    outer = grad(inner)(2.0)
    assert type(outer) is float and outer == 12.0
    assert isinstance(seen[0], Value) and seen[0].data == 12.0
    assert type(grad(lambda y: y**3)(2.0)) is float


# --------------------------------------------------------------------------------------
# Arguments and results
# --------------------------------------------------------------------------------------


def _f3(x: Any, y: Any, z: Any) -> Any:
    return x * y**2 + ag.sin(z) * x


def _sympy_f3() -> tuple[Any, tuple[Any, Any, Any]]:
    import sympy as sp

    x, y, z = sp.symbols("x y z")
    return x * y**2 + sp.sin(z) * x, (x, y, z)


POINT3 = (1.5, -2.0, 0.3)


def _exact_partials() -> list[float]:
    expression, symbols = _sympy_f3()
    return symbolic_derivatives(expression, symbols, order=1)(POINT3)[1]


def test_argnums_int_tuple_and_negative() -> None:
    """argnums picks the arguments to differentiate: an int gives a float, a tuple a tuple."""
    partials = _exact_partials()
    assert_close(grad(_f3)(*POINT3), partials[0], what="argnums=0")
    assert_close(grad(_f3, argnums=2)(*POINT3), partials[2], what="argnums=2")
    assert_close(grad(_f3, argnums=-2)(*POINT3), partials[1], what="argnums=-2")
    both = grad(_f3, argnums=(2, 0))(*POINT3)
    assert isinstance(both, tuple) and len(both) == 2
    assert_close(both[0], partials[2], what="(2, 0)[0]")
    assert_close(both[1], partials[0], what="(2, 0)[1]")


def test_value_and_grad_returns_the_value_too() -> None:
    """value_and_grad gives (f(*args), gradient) with the value as a float."""
    expression, symbols = _sympy_f3()
    value, gradient = value_and_grad(_f3, argnums=(0, 1, 2))(*POINT3)
    assert type(value) is float
    assert_close(value, exact_values([expression], symbols, POINT3)[0], what="value")
    for g, e in zip(gradient, _exact_partials()):
        assert_close(g, e, what="gradient")


def test_has_aux_passes_auxiliary_data_through() -> None:
    """has_aux=True: f returns (value, aux); grad gives (gradient, aux) untouched."""
    marker = {"note": "kept"}

    def f(x: Any) -> tuple[Any, Any]:
        return x**2, marker

    gradient, aux = grad(f, has_aux=True)(3.0)
    assert gradient == 6.0 and aux is marker
    (value, aux2), gradient2 = value_and_grad(f, has_aux=True)(3.0)
    assert (value, gradient2) == (9.0, 6.0) and aux2 is marker
    gradients_, aux3 = grad(lambda x, y: (x * y, "aux"), argnums=(0, 1), has_aux=True)(2.0, 5.0)
    assert gradients_ == (5.0, 2.0) and aux3 == "aux"


def test_list_and_tuple_arguments_give_gradients_of_the_same_shape() -> None:
    """A list argument gives a list of partials, a tuple a tuple (sympy: d/dw_i of w . x)."""
    weights = [0.5, -1.0, 2.0]
    inputs = (3.0, 4.0, -1.0)

    def f(w: Sequence[Any], x: Sequence[Any]) -> Any:
        return ag.tanh(ag.dot(w, x))

    d_weights, d_inputs = grad(f, argnums=(0, 1))(weights, inputs)
    assert isinstance(d_weights, list) and isinstance(d_inputs, tuple)
    s = sum(w * x for w, x in zip(weights, inputs))
    outer = 1 - math.tanh(s) ** 2
    for got, expected in zip(d_weights, inputs):
        assert_close(got, outer * expected, what="d/dw")
    for got, expected in zip(d_inputs, weights):
        assert_close(got, outer * expected, what="d/dx")


def test_non_differentiated_arguments_and_keywords_pass_through() -> None:
    """Arguments outside argnums and keyword arguments reach f unchanged."""

    def f(x: Any, mode: str, *, scale: float) -> Any:
        assert mode == "square" and scale == 3.0
        return scale * x * x

    assert grad(f)(2.0, "square", scale=3.0) == 12.0


def test_value_arguments_are_accepted() -> None:
    """Values may be passed instead of numbers, also constants (requires_grad=False)."""
    assert grad(lambda x: x**3)(Value(2.0)) == 12.0
    assert grad(lambda x: x**3)(Value(2.0, requires_grad=False)) == 12.0


def test_function_that_ignores_its_input_has_zero_gradient() -> None:
    """A constant function, or one returning a plain number, has gradient 0."""
    assert grad(lambda x: Value(5.0))(1.0) == 0.0
    assert grad(lambda x: 5.0)(1.0) == 0.0
    assert grad(lambda x, y: y * 2, argnums=(0, 1))(1.0, 1.0) == (0.0, 2.0)
    assert hessian(lambda v: v[0] * 3)([1.0, 2.0]) == [[0.0, 0.0], [0.0, 0.0]]


def test_jacobian_of_softmax_matches_sympy() -> None:
    """jacobian of softmax (a list of outputs) equals sympy's matrix, one row per output."""
    import sympy as sp

    point = [0.5, -1.0, 2.0]
    symbols = sp.symbols("a b c")
    exact = sympy_backend().softmax(list(symbols))
    rows = jacobian(ag.softmax)(point)
    assert len(rows) == 3 and all(isinstance(row, list) and len(row) == 3 for row in rows)
    entries = [sp.diff(exact[i], symbols[j]) for i in range(3) for j in range(3)]
    expected = exact_values(entries, symbols, point)
    for i, row in enumerate(rows):
        for j, entry in enumerate(row):
            assert_close(entry, expected[3 * i + j], what=f"J[{i}][{j}]")


def test_jacobian_of_a_scalar_is_its_gradient_and_argnums_selects() -> None:
    """For one output jacobian gives the gradient row; argnums picks the argument."""
    assert jacobian(lambda v: v[0] * v[1])([2.0, 3.0]) == [3.0, 2.0]
    rows = jacobian(lambda a, b: [a * b, a + b], argnums=1)(2.0, 3.0)
    assert rows == [2.0, 1.0]


def test_hessian_of_a_quadratic_form_matches_sympy() -> None:
    """hessian of x^T A x + exp(x0 x1) equals sympy's Hessian."""
    import sympy as sp

    a = [[2.0, 1.0], [0.5, 3.0]]
    x0, x1 = sp.symbols("x0 x1")
    xs = [x0, x1]
    expression = sum(a[i][j] * xs[i] * xs[j] for i in range(2) for j in range(2))
    expression += sp.exp(x0 * x1)
    point = [0.4, -0.7]

    def f(v: Sequence[Any]) -> Any:
        return sum(a[i][j] * v[i] * v[j] for i in range(2) for j in range(2)) + ag.exp(v[0] * v[1])

    matrix = hessian(f)(point)
    _, _, expected = symbolic_derivatives(expression, xs)(point)
    for i in range(2):
        for j in range(2):
            assert_close(matrix[i][j], expected[i][j], what=f"H[{i}][{j}]")


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_transform_argument_errors_are_explained() -> None:
    """Bad argnums, argument types, nesting, outputs and aux shapes raise clear errors."""
    with pytest.raises(ValueError, match="argnums 2 is out of range for a call with 2"):
        grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)
    with pytest.raises(TypeError, match=r"argument 0: expected a number.*got str"):
        grad(lambda x: x)("1.0")
    with pytest.raises(TypeError, match="nested sequences"):
        grad(lambda v: v[0][0])([[1.0]])
    with pytest.raises(TypeError, match=r"must return a scalar.*got list.*jacobian"):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match="pair"):
        grad(lambda x: x * 2, has_aux=True)(1.0)
    with pytest.raises(TypeError, match="single int argnums"):
        jacobian(lambda x: x, argnums=(0,))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# gradcheck
# --------------------------------------------------------------------------------------

GRADCHECK_CASES = [
    ("exp", lambda x: ag.exp(x), (0.3,)),
    ("log", lambda x: ag.log(x), (1.7,)),
    ("tanh", lambda x: ag.tanh(x), (-0.4,)),
    ("sigmoid", lambda x: ag.sigmoid(x), (2.0,)),
    ("relu", lambda x: ag.relu(x), (0.5,)),
    ("leaky_relu", lambda x: ag.leaky_relu(x, 0.1), (-0.5,)),
    ("softplus", lambda x: ag.softplus(x), (-1.0,)),
    ("sin", lambda x: ag.sin(x), (1.0,)),
    ("cos", lambda x: ag.cos(x), (1.0,)),
    ("sqrt", lambda x: ag.sqrt(x), (2.5,)),
    ("abs", lambda x: abs(x), (-1.5,)),
    ("div", lambda x, y: x / y, (1.0, -3.0)),
    ("pow", lambda x, y: x**y, (1.5, 2.5)),
    ("dot", lambda a, b, c, d: ag.dot([a, b], [c, d]), (1.0, 2.0, 3.0, -4.0)),
    ("sum", lambda a, b, c: ag.sum_values([a, b, c, a]), (1.0, 2.0, 3.0)),
    ("logsumexp", lambda a, b: ag.logsumexp([a, b]), (1.0, 2.0)),
    ("softmax", lambda a, b, c: ag.softmax([a, b, c]), (1.0, 2.0, -1.0)),
]


@pytest.mark.parametrize(
    ("name", "function", "point"), GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES]
)
def test_gradcheck_passes_on_correct_primitives(
    name: str, function: Callable[..., Any], point: tuple[float, ...]
) -> None:
    """gradcheck returns True for every primitive, single and multi-output."""
    assert gradcheck(function, *point) is True


def _wrong_square() -> ag.Primitive:
    # d/dx x**2 is 2x; this rule says 3x.
    return ag.primitive("wrong_square", lambda x: x * x, lambda x, out: (3 * x,))


def test_gradcheck_fails_on_a_wrong_derivative() -> None:
    """A primitive with a wrong rule makes gradcheck raise, naming the input and the numbers."""
    wrong = _wrong_square()
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a * wrong(b), 2.0, 1.5)
    message = str(info.value)
    # d/db (a * b**2) at (2, 1.5) is 2ab = 6; the wrong rule gives a * 3b = 9.
    found = re.search(
        r"input 1 \(x = 1\.5\): analytic (\S+), numerical (\S+), difference (\S+)", message
    )
    assert found is not None, message
    analytic, numerical, difference = (float(g.rstrip(",")) for g in found.groups())
    assert analytic == 9.0
    assert_close(numerical, 6.0, rtol=1e-8, what="numerical derivative")
    assert_close(difference, 3.0, rtol=1e-2, what="reported difference")
    assert "input 0" not in message  # d/da = wrong(b) = 2.25 is right
    assert gradcheck(lambda a, b: a * wrong(b), 2.0, 1.5, raise_exception=False) is False


def test_gradcheck_fails_on_a_subtly_wrong_derivative() -> None:
    """An error of 1% in a derivative is caught at the default tolerances."""
    almost = ag.primitive("almost_exp", math.exp, lambda x, out: (out * 1.01,))
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(almost, 0.5)


def test_gradcheck_needs_inputs() -> None:
    """gradcheck with no inputs is a ValueError."""
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda: Value(1.0))


# ---- forward mode: jvp, vjp, hvp --------------------------------------------------------


def _two_outputs(x, y):
    """Two outputs of a list argument and a scalar: products, tanh, exp, reuse, a diamond."""
    a = x[0] * y + x[1].tanh()
    return [a, (a * x[0]).exp() / (1 + x[1] * x[1])]


def _torch_two_outputs(x, y):
    a = x[0] * y + x[1].tanh()
    return (a, (a * x[0]).exp() / (1 + x[1] * x[1]))


_small = st.floats(-1.5, 1.5, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(x=st.tuples(_small, _small), y=_small, tx=st.tuples(_small, _small), ty=_small)
def test_jvp_matches_torch_func_jvp(x, y, tx, ty):
    """jvp's value and directional derivative equal torch.func.jvp's in float64."""
    torch = pytest.importorskip("torch")
    from autograd_lite.functional import jvp

    value, tangent = jvp(_two_outputs, (list(x), y), (list(tx), ty))
    as_t = lambda v: torch.tensor(v, dtype=torch.float64)
    t_value, t_tangent = torch.func.jvp(
        _torch_two_outputs, (as_t(x), as_t(y)), (as_t(tx), as_t(ty))
    )
    assert value == pytest.approx([float(v) for v in t_value], rel=1e-12, abs=1e-12)
    assert tangent == pytest.approx([float(t) for t in t_tangent], rel=1e-10, abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(x=st.tuples(_small, _small), y=_small, c=st.tuples(_small, _small))
def test_vjp_matches_torch_func_vjp(x, y, c):
    """vjp_fn(cotangents) equals torch.func.vjp's, one entry per primal, shaped like it."""
    torch = pytest.importorskip("torch")
    from autograd_lite.functional import vjp

    _, vjp_fn = vjp(_two_outputs, list(x), y)
    gx, gy = vjp_fn(list(c))
    as_t = lambda v: torch.tensor(v, dtype=torch.float64)
    _, t_fn = torch.func.vjp(_torch_two_outputs, as_t(x), as_t(y))
    t_gx, t_gy = t_fn((as_t(c[0]), as_t(c[1])))
    assert isinstance(gx, list) and isinstance(gy, float)
    assert gx == pytest.approx(t_gx.tolist(), rel=1e-10, abs=1e-10)
    assert gy == pytest.approx(float(t_gy), rel=1e-10, abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(point=st.tuples(_small, _small, _small), v=st.tuples(_small, _small, _small))
def test_hvp_equals_sympys_hessian_times_the_vector(point, v):
    """hvp (forward over reverse) equals sympy's exact Hessian times the tangent."""
    sympy = pytest.importorskip("sympy")
    from autograd_lite.functional import hvp

    symbols = sympy.symbols("a b c")
    a, b, c = symbols
    exact = sympy.hessian(a**3 * b + sympy.tanh(b * c) + sympy.exp(a * c) * b, symbols)
    at = dict(zip(symbols, point))
    expected = [float(sum(exact[i, j].subs(at) * v[j] for j in range(3))) for i in range(3)]
    f = lambda x: x[0] ** 3 * x[1] + (x[1] * x[2]).tanh() + (x[0] * x[2]).exp() * x[1]
    (got,) = hvp(f, (list(point),), (list(v),))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_jvp_and_hvp_refuse_mismatched_primals_and_tangents():
    """Primals not in a tuple, or a tangent per primal missing, are errors naming the rule."""
    from autograd_lite.functional import hvp, jvp

    with pytest.raises(TypeError, match="primals must be a tuple"):
        jvp(lambda x: x, 1.0, (1.0,))
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        jvp(lambda x, y: x * y, (1.0, 2.0), (1.0,))
    with pytest.raises(ValueError, match="tangent 0 has 1 entries but primal 0 has 2"):
        hvp(lambda x: x[0] * x[1], ([1.0, 2.0],), ([1.0],))
