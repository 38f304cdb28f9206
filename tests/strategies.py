"""Hypothesis strategies for the engine's tests, gathered in one place.

The main one, :func:`programs`, draws a random expression graph as a small straight-line
program: registers ``r0 .. r{k-1}`` hold the inputs, and each step applies one operation
to earlier registers (so a register can be used several times: node reuse) and stores
the result in a new register. The last register is the output.

:func:`run` evaluates a program with any backend from ``tests.oracles`` (autograd_lite,
sympy, PyTorch, micrograd) or several at once. Domain guards are chosen from the
autograd_lite values at the program's point: a log's argument that would be below 0.2
becomes ``a * a + 0.2``, a divisor near 0 becomes ``a * a + 0.5``, a value beyond
``±20`` is scaled back by a constant, and a kink never sits within 1e-6 of a computed
(rounded) 0, where the float result and the exact result could fall on different sides.
The guards use only ``+``, ``*`` and constants, so every backend builds the same function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from hypothesis import strategies as st

from tests.oracles import ENGINE, Lockstep, lockstep_call

# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------

SPECIAL_POINTS = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0)


def coordinates(bound: float = 3.0) -> st.SearchStrategy[float]:
    """Input values: special points, exact binary fractions, and arbitrary floats in range.

    Arbitrary floats avoid ``(0, 1e-3)`` in magnitude: an input that small would be rounded
    away inside ``x + 1 - 1`` and land on the wrong side of a kink (exact 0 is kept).
    """
    steps = int(bound * 64)
    return st.one_of(
        st.sampled_from(SPECIAL_POINTS),
        st.integers(-steps, steps).map(lambda k: k / 64),
        st.floats(-bound, bound, allow_nan=False).filter(lambda v: v == 0 or abs(v) >= 1e-3),
    )


# --------------------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """``r{n} = op(operands...)`` with a numeric constant and an integer choice."""

    op: str
    operands: tuple[int, ...]
    constant: float = 0.0
    choice: int = 0

    def describe(self, target: int) -> str:
        registers = ", ".join(f"r{i}" for i in self.operands)
        return f"r{target} = {self.op}({registers}; c={self.constant!r}, choice={self.choice})"


@dataclass(frozen=True)
class Program:
    """A random expression: ``n_inputs`` inputs, straight-line steps, and the point to test."""

    n_inputs: int
    steps: tuple[Step, ...]
    point: tuple[float, ...]

    def __repr__(self) -> str:
        lines = [f"Program(inputs={self.point!r}"]
        lines += ["  " + step.describe(self.n_inputs + i) for i, step in enumerate(self.steps)]
        return "\n".join(lines) + ")"


# Guards: data-dependent rewrites that keep every step inside its domain. They use only
# operators and constants, so micrograd (which has no tanh or softplus) can follow them.


def nonzero(a: Lockstep) -> Lockstep:
    """``a`` when ``|a| >= 0.5``, else ``a * a + 0.5``: safe to divide by."""
    return a if abs(a.data) >= 0.5 else a * a + 0.5


def positive(a: Lockstep) -> Lockstep:
    """``a`` when ``a >= 0.2``, else ``a * a + 0.2``: safe for log, sqrt and real powers."""
    return a if a.data >= 0.2 else a * a + 0.2


def bounded(a: Lockstep, limit: float = 3.0) -> Lockstep:
    """``a`` scaled by a constant into ``[-limit, limit]``: keeps exponents and exp finite."""
    return a if abs(a.data) <= limit else a * (limit / abs(a.data))


def off_kink(a: Lockstep, exact: bool) -> Lockstep:
    """``a``, or ``a + 0.5`` when a computed (rounded) value sits within 1e-6 of a kink.

    Inputs are exact in every backend, so an input of exactly 0 stays: that is the kink
    test (relu'(0) = 0 ...). A computed near-zero might be exactly 0 in sympy and 1e-17
    in float64, where the one-sided derivatives differ.
    """
    return a if exact or abs(a.data) >= 1e-6 else a + 0.5


def _int_power(a: Lockstep, c: float) -> Lockstep:
    # An integral exponent goes in as an int: sympy differentiates (u**2)**2.0 into a form
    # that divides by u, which is 0/0 at u == 0, but (u**2)**2 into 2 u**2 * 2u.
    if c == int(c) and c >= 0:
        return a ** int(c)
    if c == int(c):
        return nonzero(a) ** int(c)
    return positive(a) ** c


call = lockstep_call


def _dot(a: list[Lockstep], s: Step) -> Lockstep:
    """dot(weights, inputs): choice 1 makes the first weight a constant, choice 2 adds a bias."""
    half = len(a) // 2
    weights: list[Any] = list(a[:half])
    if s.choice == 1:
        weights[0] = s.constant
    if s.choice == 2:
        return call("dot", weights, a[half:], a[0])
    return call("dot", weights, a[half:])


@dataclass(frozen=True)
class OpSpec:
    """How to draw and build one kind of step."""

    arities: tuple[int, ...]
    build: Callable[[list[Lockstep], Step, list[bool]], Any]
    constants: tuple[float, ...] = (0.0,)
    choices: int = 1


CONSTANTS = (2.0, -3.0, 0.5, 1.0, -1.0, 0.0, 3.0, -0.25)
NONZERO_CONSTANTS = tuple(c for c in CONSTANTS if c != 0.0)
EXPONENTS = (2.0, 3.0, 1.0, 0.0, -1.0, -2.0, 0.5, 1.5, -0.5)
POSITIVE_BASES = (2.0, 0.5, 3.0, 1.0)
SLOPES = (0.01, 0.2)

OPS: dict[str, OpSpec] = {
    "add": OpSpec((2,), lambda a, s, e: a[0] + a[1]),
    "sub": OpSpec((2,), lambda a, s, e: a[0] - a[1]),
    "mul": OpSpec((2,), lambda a, s, e: a[0] * a[1]),
    "div": OpSpec((2,), lambda a, s, e: a[0] / nonzero(a[1])),
    "add_c": OpSpec((1,), lambda a, s, e: a[0] + s.constant, CONSTANTS),
    "c_add": OpSpec((1,), lambda a, s, e: s.constant + a[0], CONSTANTS),
    "sub_c": OpSpec((1,), lambda a, s, e: a[0] - s.constant, CONSTANTS),
    "c_sub": OpSpec((1,), lambda a, s, e: s.constant - a[0], CONSTANTS),
    "mul_c": OpSpec((1,), lambda a, s, e: a[0] * s.constant, CONSTANTS),
    "c_mul": OpSpec((1,), lambda a, s, e: s.constant * a[0], CONSTANTS),
    "div_c": OpSpec((1,), lambda a, s, e: a[0] / s.constant, NONZERO_CONSTANTS),
    "c_div": OpSpec((1,), lambda a, s, e: s.constant / nonzero(a[0]), CONSTANTS),
    "neg": OpSpec((1,), lambda a, s, e: -a[0]),
    "pow_c": OpSpec((1,), lambda a, s, e: _int_power(a[0], s.constant), EXPONENTS),
    "c_pow": OpSpec((1,), lambda a, s, e: s.constant ** bounded(a[0]), POSITIVE_BASES),
    "pow": OpSpec((2,), lambda a, s, e: positive(a[0]) ** bounded(a[1])),
    "exp": OpSpec((1,), lambda a, s, e: call("exp", bounded(a[0]))),
    "log": OpSpec((1,), lambda a, s, e: call("log", positive(a[0]))),
    "sqrt": OpSpec((1,), lambda a, s, e: call("sqrt", positive(a[0]))),
    "tanh": OpSpec((1,), lambda a, s, e: call("tanh", a[0])),
    "sigmoid": OpSpec((1,), lambda a, s, e: call("sigmoid", a[0])),
    "softplus": OpSpec((1,), lambda a, s, e: call("softplus", a[0])),
    "sin": OpSpec((1,), lambda a, s, e: call("sin", a[0])),
    "cos": OpSpec((1,), lambda a, s, e: call("cos", a[0])),
    "relu": OpSpec((1,), lambda a, s, e: call("relu", off_kink(a[0], e[0]))),
    "abs": OpSpec((1,), lambda a, s, e: call("abs", off_kink(a[0], e[0]))),
    "leaky_relu": OpSpec(
        (1,),
        lambda a, s, e: call("leaky_relu", off_kink(a[0], e[0]), SLOPES[s.choice]),
        choices=len(SLOPES),
    ),
    "sum_values": OpSpec((1, 2, 3, 4), lambda a, s, e: call("sum_values", a)),
    "dot": OpSpec((2, 4, 6), lambda a, s, e: _dot(a, s), CONSTANTS, choices=3),
    "logsumexp": OpSpec((1, 2, 3), lambda a, s, e: call("logsumexp", a)),
    "softmax": OpSpec((2, 3), lambda a, s, e: call("softmax", a)[s.choice % len(a)], choices=3),
}

ALL_OPS = tuple(OPS)
# What the micrograd package can do: + - * / ** (number exponent), relu.
MICROGRAD_OPS = (
    "add", "sub", "mul", "div", "add_c", "c_add", "sub_c", "c_sub", "mul_c", "c_mul",
    "div_c", "c_div", "neg", "pow_c", "relu",
)  # fmt: skip
# micrograd evaluates 0.0 ** -1 in x ** 0's derivative and raises ZeroDivisionError.
MICROGRAD_EXPONENTS = tuple(c for c in EXPONENTS if c != 0.0)

# Results beyond this are scaled back (by a constant) before the next step.
LIMIT = 20.0


# Strategies are built once and reused: building one inside every draw (validation,
# labels) cost more than running the test.


@functools.cache
def _register(available: int) -> st.SearchStrategy[int]:
    # Half the operands are the latest register, so graphs grow deep as well as wide; the
    # rest are any earlier register, which reuses nodes.
    return st.one_of(st.just(available - 1), st.integers(0, available - 1))


@functools.cache
def _one_of(pool: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(pool)


@functools.cache
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


_COORDINATE = coordinates()


@st.composite
def programs(
    draw: st.DrawFn,
    *,
    max_inputs: int = 3,
    max_steps: int = 6,
    ops: Sequence[str] = ALL_OPS,
    exponents: Sequence[float] = EXPONENTS,
) -> Program:
    """A random expression graph over 1..max_inputs inputs, with its evaluation point."""
    n_inputs = draw(_integers(1, max_inputs))
    n_steps = draw(_integers(1, max_steps))
    steps = []
    for i in range(n_steps):
        available = n_inputs + i
        name = draw(_one_of(tuple(ops)))
        spec = OPS[name]
        arity = draw(_one_of(spec.arities))
        operands = tuple(draw(_register(available)) for _ in range(arity))
        pool = tuple(exponents) if name == "pow_c" else spec.constants
        constant = draw(_one_of(pool))
        choice = draw(_integers(0, spec.choices - 1))
        steps.append(Step(name, operands, constant, choice))
    point = tuple(draw(_COORDINATE) for _ in range(n_inputs))
    return Program(n_inputs, tuple(steps), point)


def run(program: Program, lanes: Sequence[tuple[SimpleNamespace, Sequence[Any]]]) -> Lockstep:
    """Evaluate ``program`` in several backends at once; lane 0 must be autograd_lite.

    ``lanes`` pairs each backend with its inputs (Values, sympy symbols, tensors).
    """
    backends = [backend for backend, _ in lanes]
    registers = [
        Lockstep(backends, [inputs[i] for _, inputs in lanes]) for i in range(program.n_inputs)
    ]
    exact = [True] * program.n_inputs
    for step in program.steps:
        args = [registers[i] for i in step.operands]
        result = OPS[step.op].build(args, step, [exact[i] for i in step.operands])
        registers.append(bounded(result, LIMIT))
        exact.append(False)
    return registers[-1]


def run_engine(program: Program, inputs: Sequence[Any]) -> Any:
    """Evaluate ``program`` with autograd_lite alone (inputs: Values); return the output."""
    return run(program, [(ENGINE, inputs)]).items[0]


# --------------------------------------------------------------------------------------
# Batches of samples (BatchNorm1d)
# --------------------------------------------------------------------------------------


def sample_batches(
    min_samples: int = 2, max_samples: int = 6, max_features: int = 4
) -> st.SearchStrategy[list[list[float]]]:
    """A batch: ``min_samples..max_samples`` samples of one width in ``1..max_features``."""
    return st.integers(1, max_features).flatmap(
        lambda width: st.lists(
            st.lists(coordinates(), min_size=width, max_size=width),
            min_size=min_samples,
            max_size=max_samples,
        )
    )
