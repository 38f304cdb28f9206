"""The engine's side of the fuzzing, and the tolerance policy, shared by tests/test_fuzz_*.py.

:func:`engine_result` evaluates a fuzz program (``tests/strategies.random_program``) at
one point on every engine path: its value with grad on and under ``no_grad()``, its
gradient by ``backward()`` and by ``gradients(create_graph=True)``, and its Hessian by
differentiating that gradient again; it also notes what the policy needs to know about
the point (singular values, the largest local derivative, conventions that differ).
:func:`same` is the comparison of the tolerance policy, stated in full in
tests/test_fuzz_torch.py and, in short, in README ("Numerical conventions").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autograd_lite import Value, gradients, no_grad, topological_order
from tests.strategies import EngineFuzzBackend, Program, evaluate

RTOL = 1e-9
SCALE_TOL = 1e-12
# Beyond this scale a product of two magnitudes at the point may overflow inside either
# side's formulas: only finite results are compared, as at a singular point.
NEAR_OVERFLOW = 1e290


@dataclass
class EngineResult:
    """What the engine computed at one point, or where it refused."""

    refused_at: int | None = None
    message: str = ""
    value: float = math.nan
    value_no_grad: float = math.nan
    grad_backward: list[float] = field(default_factory=list)
    grad_create_graph: list[float] = field(default_factory=list)
    hessian: list[list[float]] = field(default_factory=list)
    decisions: list[float] = field(default_factory=list)
    dead_neuron_with_non_finite_input: bool = False
    where_second_order: bool = False
    singular: bool = False  # a non-finite value or local derivative in the graph
    singular_gradient_graph: bool = False  # the same in the graph of the gradient
    largest_local: float = 0.0  # the largest finite local derivative in the graph
    largest_local_2: float = 0.0  # the same, the gradient graph included
    # max |d out / d node| * |node| over the graph: how far the rounding of any one value
    # on the way moves the result (cos(sqrt(1e300)) depends on the last bit of sqrt's).
    condition: float = 0.0
    largest_adjoint: float = 0.0  # max |d out / d node|


def _as_number(g: Any) -> float:
    return g.data if isinstance(g, Value) else float(g)


def engine_result(program: Program, point: Sequence[float]) -> EngineResult:
    """The engine's value, gradients (two paths) and Hessian of ``program`` at ``point``."""
    backend = EngineFuzzBackend()
    xs = [Value(p) for p in point]
    try:
        registers = evaluate(program, backend, xs)
    except ValueError as error:
        return EngineResult(
            refused_at=error.fuzz_step,  # type: ignore[attr-defined]
            message=str(error),
            decisions=[float(d) for d in backend.decisions],
        )
    out = registers[-1]
    result = EngineResult(
        value=out.data,
        decisions=[float(d) for d in backend.decisions],
        dead_neuron_with_non_finite_input=backend.dead_neuron_with_non_finite_input,
    )
    # Every register, also those the output does not use: an overflow there matters to an
    # oracle that evaluates every step (the sympy tier evaluates each branch decision).
    nodes = topological_order(registers)
    result.where_second_order = any(
        node.op == "pow" and (node.parents[0].data == 0.0 or node.parents[1].data == 0.0)
        and node.parents[1].requires_grad
        for node in nodes
    )  # fmt: skip
    result.singular = not all_finite(nodes)
    result.largest_local = largest_local(nodes)
    out.backward()
    result.grad_backward = [x.grad for x in xs]
    result.condition = max(
        (abs(n.grad * n.data) for n in [*nodes, *xs] if math.isfinite(n.grad * n.data)),
        default=0.0,
    )
    result.largest_adjoint = max(
        (abs(n.grad) for n in [*nodes, *xs] if math.isfinite(n.grad)), default=0.0
    )

    xs = [Value(p) for p in point]
    out = evaluate(program, EngineFuzzBackend(), xs)[-1]
    first = gradients(out, xs, create_graph=True)
    result.grad_create_graph = [_as_number(g) for g in first]
    gradient_graph = topological_order([g for g in first if isinstance(g, Value)])
    result.singular_gradient_graph = result.singular or not all_finite(gradient_graph)
    result.largest_local_2 = max(result.largest_local, largest_local(gradient_graph))
    for g in first:
        if isinstance(g, Value) and g.requires_grad:
            result.hessian.append([_as_number(h) for h in gradients(g, xs)])
        else:
            result.hessian.append([0.0] * len(xs))
    with no_grad():
        result.value_no_grad = _as_number(
            evaluate(program, EngineFuzzBackend(), [Value(p) for p in point])[-1]
        )
    return result


def all_finite(nodes: Sequence[Value]) -> bool:
    return all(
        math.isfinite(node.data) and all(map(math.isfinite, node.local_derivatives or ()))
        for node in nodes
    )


def largest_local(nodes: Sequence[Value]) -> float:
    return max(
        (abs(d) for node in nodes for d in node.local_derivatives or () if math.isfinite(d)),
        default=0.0,
    )


# --------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------


def same(engine: float, torch: float, scale: float) -> bool:
    """The tolerance policy: nan with nan, inf with the same inf, finite within tolerance.

    Finite: ``1e-9`` relative plus ``1e-12`` times the point's scale, or two units in the
    last place (a subnormal result rounded the other way, ``exp(-745)``).
    """
    if math.isnan(engine) or math.isnan(torch):
        return math.isnan(engine) and math.isnan(torch)
    if math.isinf(engine) or math.isinf(torch):
        return engine == torch
    tolerance = RTOL * max(abs(engine), abs(torch)) + SCALE_TOL * scale
    return abs(engine - torch) <= max(tolerance, 2 * math.ulp(torch))


def same_where_finite(engine: float, torch: float, scale: float) -> bool:
    """At a singular point: finite results agree within tolerance; others are not compared."""
    if not (math.isfinite(engine) and math.isfinite(torch)):
        return True
    return same(engine, torch, scale)


def finite_max(values: Sequence[float]) -> float:
    return max((abs(v) for v in values if math.isfinite(v)), default=0.0)


@dataclass
class Tally:
    """Counts for the report: graphs checked, and how many were refused or ambiguous."""

    graphs: int = 0
    compared: int = 0
    refused: int = 0
    ambiguous: int = 0
    derivative_skips: int = 0
    singular: int = 0
    torch_singular: int = 0
    failures: list[str] = field(default_factory=list)
