"""Fuzzing the engine against PyTorch in float64: random graphs, extreme values, two orders.

Every run builds ``PROGRAMS`` seeded random graphs (``tests/strategies.random_program``:
every primitive, division, powers either way, fused and unfused ``dense``, ``dot``,
``logsumexp``, ``softmax``, node reuse, constants on both sides) and evaluates each on
``POINTS`` input points, a quarter of whose coordinates are extreme (±1e300, subnormals,
±0.0, ±inf, nan, ...). Each (graph, point) is one graph checked: the engine builds it
anew, and its value (with grad on and under ``no_grad()``), its gradient by
``backward()`` and by ``gradients(create_graph=True)``, and its Hessian by differentiating
that gradient again, are compared with PyTorch's, which evaluates the same program on
all points at once (a batch of float64 tensors). A smaller Hypothesis tier draws the same
kind of graphs one at a time, so that a failure shrinks to a small program.

Tolerance policy (in short in README, "Numerical conventions"):

* NaN and infinities match exactly: where PyTorch gives nan the engine gives nan, and
  where the engine gives nan PyTorch does; ``±inf`` only matches the same ``±inf``. A NaN
  never becomes a number on either side.
* Finite numbers match within ``1e-9`` relative, plus ``1e-12`` times the point's scale,
  or two ulps (``tests.fuzzing.same``). Both sides round the same operations in the same
  order except inside transcendental functions and exactly rounded sums, whose last-ulp
  differences a cancellation downstream magnifies: relative to the terms that cancelled,
  never to the result. So the scale of a value is the largest value at the point and its
  condition (the largest ``|d out / d node| * |node|``); of a gradient, that or the
  largest derivative of a value with respect to an input, times the largest local
  derivative; of a Hessian entry, that times the largest first-order magnitude again.
* Kinks and domain edges: a point is compared only when the engine and PyTorch agree on
  the side of 0 of every value whose sign chooses a branch or a domain (kink arguments,
  a ReLU neuron's sum, log and sqrt arguments, divisors, powers' bases and exponents;
  ``-0.0`` and ``0.0`` are different sides). Exactly at a kink both use the documented
  subgradient, so exact zeros are compared; a last-ulp difference that moves a value
  across 0 makes the point ambiguous, and it is counted, not compared.
* Singular points: where a value or local derivative of the engine's graph (or of its
  gradient graph, for second order) is infinite or nan, the two sides evaluate different
  but equal formulas (PyTorch's ``g / b`` against the engine's ``g * (1/b)``) and IEEE
  ``0 * inf`` may give nan on one side only: derivatives are compared where both are
  finite. So also near overflow (a scale beyond 1e290). Where every value is finite but
  PyTorch's own derivatives of the values are not (its division backward squares the
  divisor: ``b * b`` is 0 for ``|b| < 1e-154``), PyTorch is no oracle for that order.
* Refusals: where the engine raises ``ValueError`` (``log(-1)``, ``sqrt(-1)``, a negative
  base to a non-integer power or to an exponent that takes gradients), PyTorch's value
  at that step must be nan or the base negative.
* Documented conventions that differ from PyTorch, emulated or skipped, never hidden:
  PyTorch's ``relu`` backward selects 0 where ``x <= 0`` (an incoming nan becomes 0); the
  engine multiplies (``0 * nan = nan``), so the PyTorch twin uses a relu whose backward
  multiplies. A dead fused ReLU neuron passes exactly 0 even to an infinite input (PyTorch
  computes 0 * inf = nan): such points skip the derivative comparison. Second derivatives
  are not compared through ``x ** y`` with a variable exponent at ``y == 0`` or a zero
  base, where PyTorch's ``where``-based first derivative has a nan or a 0 second
  derivative and the engine has the exact one or its documented constant (sympy checks
  those graphs in tests/test_fuzz_sympy.py). PyTorch's ``float / tensor`` multiplies by
  a reciprocal and ``tensor ** 0.5`` is ``sqrt`` (``(-0.0) ** -0.5 = -inf``): the twin
  passes such constants as 0-d tensors, which divide and call ``pow``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings

import autograd_lite as al
from tests.fuzzing import (
    NEAR_OVERFLOW,
    EngineResult,
    Tally,
    engine_result,
    finite_max,
    same,
    same_where_finite,
)
from tests.oracles import require_torch
from tests.strategies import (
    FuzzBackend,
    Program,
    evaluate,
    fuzz_point,
    fuzz_programs,
    random_program,
    sign_class,
)

SEED = 20261128
PROGRAMS = 1250
POINTS = 8


# --------------------------------------------------------------------------------------
# The two sides
# --------------------------------------------------------------------------------------


class TorchFuzzBackend(FuzzBackend):
    """PyTorch float64 on a batch: every register is a tensor with one entry per point."""

    def __init__(self, torch: Any) -> None:
        super().__init__()
        self.torch = torch
        self.relu = _multiplying_relu(torch)

    def lift(self, c: float) -> Any:
        # float / tensor is tensor.reciprocal() * float in PyTorch (so 0 / 1e-323 is nan):
        # a 0-d tensor on the left divides.
        return self.torch.tensor(c, dtype=self.torch.float64)

    def exponent(self, c: float) -> Any:
        # tensor ** 0.5 and ** -0.5 become sqrt and rsqrt in PyTorch ((-0.0) ** -0.5 is
        # -inf there, +inf in C's pow and the engine); a 0-d tensor exponent uses pow. Other
        # exponents stay floats: a tensor 0 exponent gives x ** 0 a nan second derivative.
        return self.lift(c) if abs(c) == 0.5 else c

    def unary(self, name: str, x: Any, method: bool) -> Any:
        torch = self.torch
        if name == "relu":
            return self.relu(x)
        if name == "softplus":
            # PyTorch returns x itself above threshold=20, off by e^-20; at 36 the switch
            # costs less than float64 resolution (e^-36 = 2e-16).
            return torch.nn.functional.softplus(x, threshold=36.0)
        return getattr(torch, name)(x)

    def leaky_relu(self, x: Any, slope: float, method: bool) -> Any:
        return self.torch.nn.functional.leaky_relu(x, slope)

    def sum_values(self, xs: list[Any]) -> Any:
        return self.torch.stack(xs).sum(0)

    def dot(self, ws: list[Any], xs: list[Any], bias: Any) -> Any:
        # The engine's order: bias (or 0.0) first, then each product, as plain additions.
        total = bias if bias is not None else 0.0
        for w, x in zip(ws, xs):
            total = total + w * x
        return total

    def dense(
        self, rows: list[list[Any]], xs: list[Any], biases: list[Any], act: str | None, fuse: bool
    ) -> list[Any]:
        outputs = []
        for weights, bias in zip(rows, biases):
            total = bias
            for w, x in zip(weights, xs):
                total = total + w * x
            if act == "relu":
                self.decide(total)
                outputs.append(self.relu(total))
            else:
                outputs.append(total if act is None else getattr(self.torch, act)(total))
        return outputs

    def logsumexp(self, xs: list[Any]) -> Any:
        return self.torch.logsumexp(self.torch.stack(xs), 0)

    def softmax(self, xs: list[Any]) -> list[Any]:
        return list(self.torch.softmax(self.torch.stack(xs), 0).unbind(0))


_RELU: dict[int, Any] = {}


def _multiplying_relu(torch: Any) -> Any:
    """torch.relu whose backward multiplies, ``grad * (x > 0 or nan)``, as the engine does.

    PyTorch's own relu backward selects (``where(x <= 0, 0, grad)``), turning an incoming
    nan or inf into 0 behind a dead unit; the engine's chain rule is ``local * grad``.
    """
    if id(torch) not in _RELU:

        class MultiplyingRelu(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x)
                return torch.relu(x)

            @staticmethod
            def backward(ctx: Any, grad: Any) -> Any:
                (x,) = ctx.saved_tensors
                return grad * (~(x <= 0)).to(grad.dtype)

        _RELU[id(torch)] = MultiplyingRelu.apply
    return _RELU[id(torch)]


@dataclass
class TorchResult:
    """PyTorch's registers, decisions, values, gradients and Hessians for a batch of points."""

    registers: list[list[float]]
    decisions: list[list[float]]
    value: list[float]
    grad: list[list[float]]  # grad[i][p]: d out / d x_i at point p
    hessian: list[list[list[float]]]  # hessian[i][j][p]
    jacobian: list[list[float]]  # d register / d x_i for every register and input, per point
    second: list[list[float]]  # d2 register / d x_i d x_j, likewise


def torch_result(torch: Any, program: Program, points: Sequence[Sequence[float]]) -> TorchResult:
    """The program on every point at once, in float64, with gradients to second order."""
    columns = list(zip(*points))
    xs = [torch.tensor(c, dtype=torch.float64, requires_grad=True) for c in columns]
    backend = TorchFuzzBackend(torch)
    with torch.autograd.set_detect_anomaly(False):
        registers = evaluate(program, backend, xs)
    out = registers[-1]
    first = torch.autograd.grad(out.sum(), xs, create_graph=True, allow_unused=True)
    n = len(points)
    hessian = []
    for g in first:
        if g is None or not g.requires_grad:
            hessian.append([[0.0] * n for _ in xs])
            continue
        row = torch.autograd.grad(g.sum(), xs, retain_graph=True, allow_unused=True)
        hessian.append([_column(h, n) for h in row])
    jacobian, second = [], []
    for r in registers[len(xs) :]:
        if r.requires_grad:
            row = torch.autograd.grad(r.sum(), xs, create_graph=True, allow_unused=True)
            jacobian.extend(_column(d, n) for d in row)
            for d in row:
                if d is not None and d.requires_grad:
                    row2 = torch.autograd.grad(d.sum(), xs, retain_graph=True, allow_unused=True)
                    second.extend(_column(h, n) for h in row2)
    return TorchResult(
        jacobian=jacobian,
        second=second,
        registers=[_column(r, n) for r in registers],
        decisions=[_column(d, n) for d in backend.decisions],
        value=_column(out, n),
        grad=[_column(g, n) for g in first],
        hessian=hessian,
    )


def _column(t: Any, n: int) -> list[float]:
    """A tensor (or None for 0, or a number) as n floats, one per point."""
    if t is None:
        return [0.0] * n
    if isinstance(t, (int, float)):
        return [float(t)] * n
    return t.detach().expand(n).clone().tolist()


# --------------------------------------------------------------------------------------
# The comparison, as the module docstring states it
# --------------------------------------------------------------------------------------


def check_point(
    program: Program, point: Sequence[float], p: int, ours: EngineResult, theirs: TorchResult
) -> tuple[str, list[str]]:
    """Compare the engine's result at point ``p`` with PyTorch's; return (outcome, problems)."""
    where = f"{program!r}\nat point {tuple(point)!r}"
    n_decided = len(ours.decisions)
    if [sign_class(d) for d in ours.decisions] != [
        sign_class(theirs.decisions[k][p]) for k in range(n_decided)
    ]:
        return "ambiguous", []
    if ours.refused_at is not None:
        step = program.steps[ours.refused_at]
        register = theirs.registers[program.n_inputs + ours.refused_at][p]
        operands = [theirs.registers[i][p] for i in step.operands]
        base = step.constant if step.op == "c_pow" else (operands[0] if operands else math.nan)
        if math.isnan(register) or (step.op in ("pow", "c_pow", "pow_c") and base < 0):
            return "refused", []
        return "refused", [f"engine refused ({ours.message}) where torch gives {register}: {where}"]
    grads = [g[p] for g in theirs.grad]
    hessian = [[h[p] for h in row] for row in theirs.hessian]
    registers = [r[p] for r in theirs.registers]
    jacobian = [d[p] for d in theirs.jacobian]
    second = [d[p] for d in theirs.second]
    # The scales of the tolerance policy. Values: the largest value. First order: also the
    # largest derivative of a value with respect to an input, and the largest local
    # derivative times that (a gradient is a sum of such products, which may cancel).
    # Second order: that times the largest first-order magnitude again.
    scale_0 = max(finite_max(registers), ours.condition)
    largest_derivative = max(1.0, finite_max(jacobian))
    scale_1 = max(scale_0, largest_derivative) * max(1.0, ours.largest_local)
    scale_2 = max(scale_1 * max(largest_derivative, ours.largest_local_2), finite_max(second))

    problems = []
    for what, value in (("value", ours.value), ("value under no_grad", ours.value_no_grad)):
        if not same(value, theirs.value[p], scale_0):
            problems.append(f"{what}: engine {value!r}, torch {theirs.value[p]!r}")
    problems = [f"{problem}\n{where}" for problem in problems]
    if ours.dead_neuron_with_non_finite_input:
        return "derivatives skipped", problems
    # Every value is finite but PyTorch's derivatives are not: its own formulas overflowed
    # (the backward of division squares the divisor, and b * b is 0 for |b| < 1e-154).
    # Its derivatives (of that order) are no oracle at this point.
    finite_values = all(map(math.isfinite, registers))
    if finite_values and not all(map(math.isfinite, jacobian)):
        return "torch singular", problems
    torch_singular_2 = finite_values and not all(map(math.isfinite, second))

    # At a singular point (a non-finite value or local derivative on the way) the two sides
    # evaluate different but equal formulas (g / b against g * (1/b)), where IEEE 0 * inf
    # may give nan on one side only: only finite results are compared there. So also near
    # overflow, where a product of two magnitudes may overflow inside either's formulas.
    comparisons = [
        ("backward()", ours.grad_backward, grads, ours.singular, scale_1),
        ("gradients()", ours.grad_create_graph, grads, ours.singular_gradient_graph, scale_1),
    ]
    if not (torch_singular_2 or ours.where_second_order):
        for i, row in enumerate(ours.hessian):
            comparisons.append(
                (f"the Hessian row {i}", row, hessian[i], ours.singular_gradient_graph, scale_2)
            )
    for what, got, expected, singular, scale in comparisons:
        agree = same_where_finite if singular or scale > NEAR_OVERFLOW else same
        for j, (e, t) in enumerate(zip(got, expected)):
            if not agree(e, t, scale):
                problems.append(f"{what}, entry {j}: engine {e!r}, torch {t!r}\n{where}")
    if torch_singular_2:
        return "torch singular", problems
    if ours.where_second_order:
        return "derivatives skipped", problems
    return ("singular" if ours.singular_gradient_graph else "compared"), problems


def check_program(torch: Any, program: Program, points: Sequence[Sequence[float]], tally: Tally):
    """Evaluate one program on every point with both sides and add the outcome to ``tally``."""
    theirs = torch_result(torch, program, points)
    for p, point in enumerate(points):
        outcome, problems = check_point(program, point, p, engine_result(program, point), theirs)
        tally.graphs += 1
        if outcome == "refused":
            tally.refused += 1
        elif outcome == "ambiguous":
            tally.ambiguous += 1
        else:
            tally.compared += 1
            tally.derivative_skips += outcome == "derivatives skipped"
            tally.singular += outcome == "singular"
            tally.torch_singular += outcome == "torch singular"
        tally.failures.extend(problems)


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


def test_ten_thousand_random_graphs_match_torch_to_second_order() -> None:
    """>= 10,000 seeded random graphs (a quarter of inputs extreme) agree with PyTorch."""
    torch = require_torch()
    rng = random.Random(SEED)
    tally = Tally()
    for _ in range(PROGRAMS):
        program = random_program(rng)
        points = [fuzz_point(rng, program.n_inputs) for _ in range(POINTS)]
        check_program(torch, program, points, tally)
        if len(tally.failures) >= 5:
            break
    print(
        f"\nfuzz vs torch: {tally.graphs} graphs checked: {tally.compared} compared "
        f"({tally.singular} at singular points, finite results only; {tally.torch_singular} "
        f"where PyTorch's derivatives overflowed, values only; {tally.derivative_skips} "
        f"under a documented convention, values or first order only), {tally.refused} "
        f"refused at a domain where torch gives nan, {tally.ambiguous} ambiguous at a kink"
    )
    assert not tally.failures, "\n\n".join(tally.failures[:5])
    assert tally.graphs >= 10_000
    assert tally.compared >= 0.6 * tally.graphs  # the fuzzing must not skip its way to green


@settings(max_examples=300)
@given(fuzz_programs())
def test_random_graphs_match_torch_shrinking(program: Program) -> None:
    """Hypothesis-drawn fuzz graphs, one point each, agree with PyTorch (failures shrink)."""
    torch = require_torch()
    tally = Tally()
    check_program(torch, program, [program.point], tally)
    assert not tally.failures, tally.failures[0]


@pytest.mark.parametrize(
    "bad_engine",
    ["nan_to_zero", "one_ulp", "wrong_inf_sign"],
)
def test_the_policy_rejects_the_defects_it_is_meant_to_find(bad_engine: str) -> None:
    """same() refuses a nan turned into 0, an error beyond tolerance and a flipped inf."""
    cases = {
        "nan_to_zero": (0.0, math.nan, 1.0),
        "one_ulp": (1.0 + 1e-6, 1.0, 1.0),
        "wrong_inf_sign": (math.inf, -math.inf, 1.0),
    }
    engine, torch, scale = cases[bad_engine]
    assert not same(engine, torch, scale)
    assert same(torch, torch, scale)


def test_the_fuzzing_would_have_found_the_relu_nan_defect() -> None:
    """A relu that turns nan into 0 (issue 11, defect 1) fails the bulk comparison."""
    torch = require_torch()
    program = Program(1, (random_program_step("relu"),), ())
    tally = Tally()
    original = al.engine.RELU.forward
    al.engine.RELU.forward = lambda x: x if x > 0 else 0.0  # the old, wrong relu
    try:
        check_program(torch, program, [(math.nan,), (1.0,)], tally)
    finally:
        al.engine.RELU.forward = original
    assert tally.failures and "value" in tally.failures[0]


def random_program_step(name: str) -> Any:
    """One step ``r1 = name(r0)`` through the function (not the method)."""
    from tests.strategies import Step

    return Step(name, (0,), 0.0, 0)
