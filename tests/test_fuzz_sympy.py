"""Fuzzing the engine against sympy: exact first and second derivatives of random graphs.

``PROGRAMS`` seeded random graphs (the same generator as tests/test_fuzz_torch.py: every
primitive, division, fused and unfused ``dense``, ``dot``, ``logsumexp``, ``softmax``,
reuse, constants on both sides) are built once in sympy, differentiated twice, and
evaluated in mpmath at 40 digits on ``POINTS`` points each, a quarter of whose
coordinates are finite extremes (±0.0, subnormals, ±1e300, 1e16, 700, -745). Each
(graph, point) is one graph checked against the engine's value, gradient (both paths)
and Hessian. PyTorch shares the engine's floating-point arithmetic; sympy does not, so
this tier catches a derivative rule that is wrong by a formula, not by IEEE details.

Policy (the tolerance policy of tests/test_fuzz_torch.py, for an exact oracle):

* Only points where every value and local derivative of the engine's graph and of its
  gradient graph is finite are compared: the IEEE behaviour at infinities and nan is the
  PyTorch tier's business, and an exact result is no oracle for a float that overflowed.
* Kinks and domain edges: the exact value of every branch-deciding quantity (kink
  arguments, log and sqrt arguments, divisors, powers' bases and exponents) must be on
  the same side of 0 as the engine's, or the point is ambiguous (counted, not compared):
  a rounded 1e-17 where the exact value is 0 is on another piece of the function.
* Refusals (a ``ValueError`` outside a domain) are counted here and checked against
  PyTorch's nan in tests/test_fuzz_torch.py.
* Finite results agree as ``tests.fuzzing.same`` says: ``1e-9`` relative plus ``1e-12``
  times the point's scale (for values, the value, the condition: the largest
  ``|d out / d node| * |node|`` on the way, and the largest ``|d out / d node|``, since
  ``log(1 + tiny)`` is exact to 1e-16 absolute, not relative; for gradients, also the largest local
  derivative times the largest gradient entry; that times the largest second-order local
  derivative for the Hessian), or two ulps:
  sums of products that cancel are only as exact as their largest term. An engine
  result that overflowed to inf or nan where the scale is beyond 1e290 is the PyTorch
  tier's to check (it is IEEE arithmetic, which sympy does not model).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from tests.fuzzing import NEAR_OVERFLOW, Tally, engine_result, finite_max, same
from tests.optional import need
from tests.strategies import (
    FuzzBackend,
    Program,
    evaluate,
    fuzz_point,
    random_program,
    sign_class,
)

sp = need("sympy")
mpmath = need("mpmath")

SEED = 11_2026
PROGRAMS = 100
POINTS = 30
DIGITS = 40


class SympyFuzzBackend(FuzzBackend):
    """Exact expressions: the kinks as functions whose derivatives are the documented ones."""

    def __init__(self) -> None:
        super().__init__()
        from tests.oracles import sympy_backend

        self.base = sympy_backend()

    def lift(self, c: float) -> Any:
        return sp.Rational(c)  # exact: the constants are binary fractions

    def exponent(self, c: float) -> Any:
        # An integral exponent as an Integer: sympy differentiates u**2 into 2*u, where
        # u**2.0 gives forms that divide by u (0/0 at u == 0).
        return sp.Integer(int(c)) if c == int(c) else sp.Rational(c)

    def unary(self, name: str, x: Any, method: bool) -> Any:
        return getattr(self.base, name)(x)

    def leaky_relu(self, x: Any, slope: float, method: bool) -> Any:
        return self.base.leaky_relu(x, sp.Rational(slope))

    def sum_values(self, xs: list[Any]) -> Any:
        return sp.Add(*xs)

    def dot(self, ws: list[Any], xs: list[Any], bias: Any) -> Any:
        ws = [sp.Rational(w) if isinstance(w, float) else w for w in ws]
        return sp.Add(*[w * x for w, x in zip(ws, xs)], 0 if bias is None else bias)

    def dense(
        self, rows: list[list[Any]], xs: list[Any], biases: list[Any], act: str | None, fuse: bool
    ) -> list[Any]:
        xs = [sp.Rational(x) if isinstance(x, float) else x for x in xs]
        outputs = []
        for weights, bias in zip(rows, biases):
            total = self.dot(weights, xs, bias)
            if act == "relu":
                self.decide(total)
            outputs.append(total if act is None else getattr(self.base, act)(total))
        return outputs

    def logsumexp(self, xs: list[Any]) -> Any:
        return self.base.logsumexp(xs)

    def softmax(self, xs: list[Any]) -> list[Any]:
        return self.base.softmax(xs)


class ExactProgram:
    """A program in sympy, differentiated once: exact values at any point, in one call."""

    def __init__(self, program: Program) -> None:
        self.n = n = program.n_inputs
        symbols = sp.symbols(f"x0:{n}")
        backend = SympyFuzzBackend()
        registers = evaluate(program, backend, symbols)
        out = registers[-1]
        gradient = [sp.diff(out, s) for s in symbols]
        self.upper = [(i, j) for i in range(n) for j in range(i, n)]
        second = [sp.diff(gradient[i], symbols[j]) for i, j in self.upper]
        self.n_decisions = len(backend.decisions)
        flat = [out, *gradient, *second, *backend.decisions]
        from tests.oracles import _lambdify_modules

        # A constant infinity (x / 0, 0 ** -1) has no exact value to compare with.
        infinite = any(sp.sympify(e).has(sp.zoo, sp.oo, -sp.oo, sp.nan) for e in flat)
        self.function = None if infinite else sp.lambdify(symbols, flat, _lambdify_modules())

    def at(self, point: Sequence[float]) -> tuple[Any, ...] | None:
        """(value, gradient, Hessian, decisions) as floats, or None where not all are real."""
        if self.function is None:
            return None
        # 40 digits, and as many more as a tiny input needs: exp(-1e-300) must not be 1.
        tiny = min((abs(p) for p in point if p != 0), default=1.0)
        digits = DIGITS + max(0, int(-math.log10(tiny)))
        try:
            with mpmath.workdps(digits):
                results = self.function(*[mpmath.mpf(p) for p in point])
                if any(isinstance(r, mpmath.mpc) and r.imag != 0 for r in results):
                    return None
                floats = [float(mpmath.re(r)) for r in results]
                # Sides of 0 before rounding: x * 5e-324 is -0.0 in floats, not exactly.
                sides = [
                    float(mpmath.sign(mpmath.re(r)))
                    for r in results[len(results) - self.n_decisions :]
                ]
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None  # outside a domain (log(0) in a derivative, 0 ** -1, ...)
        n = self.n
        hessian = [[0.0] * n for _ in range(n)]
        for (i, j), h in zip(self.upper, floats[1 + n : 1 + n + len(self.upper)]):
            hessian[i][j] = hessian[j][i] = h
        return floats[0], floats[1 : 1 + n], hessian, sides


def _side(v: float) -> float:
    """sign_class without the sign of zero: mpmath has only one zero."""
    side = sign_class(v)
    return 0.0 if abs(side) == 0.5 else side


def check_point(program: Program, point: Sequence[float], exact: ExactProgram) -> str:
    """The outcome at one point, raising AssertionError with the details on a mismatch."""
    where = f"{program!r}\nat point {tuple(point)!r}"
    ours = engine_result(program, point)
    if ours.refused_at is not None:
        return "refused"  # checked against PyTorch's nan in tests/test_fuzz_torch.py
    if ours.singular_gradient_graph:
        # Not evaluated exactly at all: mpmath has no overflow, and exp of what overflowed
        # in floats may not fit in memory.
        return "singular"
    results = exact.at(point)
    if results is None:
        return "not real"
    value, gradient, hessian, exact_sides = results
    sides = [_side(d) for d in ours.decisions]
    if sides != exact_sides[: len(sides)]:
        return "ambiguous"
    if not all(map(math.isfinite, [value, *gradient, *[h for row in hessian for h in row]])):
        return "singular"
    # log(1 + tiny) is exact to 1e-16 absolute, not relative: every node's adjoint counts.
    scale_0 = max(abs(ours.value), ours.condition, ours.largest_adjoint)
    scale_1 = max(scale_0, 1.0, finite_max(gradient)) * max(1.0, ours.largest_local)
    scale_2 = scale_1 * max(1.0, ours.largest_local_2, finite_max(gradient))
    checks = [("value", [ours.value], [value], scale_0)]
    checks += [("gradient by backward()", ours.grad_backward, gradient, scale_1)]
    checks += [("gradient by gradients()", ours.grad_create_graph, gradient, scale_1)]
    checks += [(f"Hessian row {i}", row, hessian[i], scale_2) for i, row in enumerate(ours.hessian)]
    for what, got, expected, scale in checks:
        for e, x in zip(got, expected):
            if not math.isfinite(e) and scale > NEAR_OVERFLOW:
                continue  # the chain rule's products overflowed: IEEE, the PyTorch tier's part
            assert same(e, x, scale), f"{what}: engine {got}, sympy {expected}\n{where}"
    return "compared"


def test_thousands_of_random_graphs_match_sympy_to_second_order() -> None:
    """>= 3,000 seeded random graphs (finite extremes included) match sympy's exact derivatives."""
    rng = random.Random(SEED)
    tally = Tally()
    outcomes: dict[str, int] = {}
    for _ in range(PROGRAMS):
        program = random_program(rng, max_steps=6)
        exact = ExactProgram(program)
        for _ in range(POINTS):
            point = fuzz_point(rng, program.n_inputs)
            point = tuple(p if math.isfinite(p) else 1.5 for p in point)  # finite extremes only
            outcome = check_point(program, point, exact)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            tally.graphs += 1
    print(f"\nfuzz vs sympy: {tally.graphs} graphs checked: {outcomes}")
    assert tally.graphs >= 3_000
    assert outcomes.get("compared", 0) >= 0.5 * tally.graphs
