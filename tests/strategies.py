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
import math
import operator
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


# --------------------------------------------------------------------------------------
# Fuzzing: raw random graphs, no guards, extreme values (tests/test_fuzz_*.py)
# --------------------------------------------------------------------------------------
# The programs above are guarded so that every backend stays inside every domain. The
# fuzzing tier below is not: a log may get a negative argument, a division a zero, an
# input may be nan, inf, a subnormal or ±1e300. A program is built once and evaluated on
# many points, by any backend that offers the operations of FuzzBackend below.

# Values that break careless numerics: signed zeros, subnormals, huge, infinite, nan.
EXTREMES = (
    0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-300, 1e-300, 1e300, -1e300, 1e16, -1e16,
    700.0, -745.0, 36.0, math.inf, -math.inf, math.nan,
)  # fmt: skip
FUZZ_CONSTANTS = (2.0, -3.0, 0.5, 1.0, -1.0, 0.0, -0.0, 3.0, -0.25, 1e300, 5e-324)
FUZZ_EXPONENTS = (2.0, 3.0, 1.0, 0.0, -1.0, -2.0, 0.5, 1.5, -0.5)
FUZZ_BASES = (2.0, 0.5, 3.0, 1.0, 0.0, -2.0)
ACTIVATIONS = (None, "relu", "tanh", "sigmoid")


@dataclass(frozen=True)
class FuzzOp:
    """One kind of fuzz step: how many operands it may take, its constants and choices."""

    arities: tuple[int, ...]
    constants: tuple[float, ...] = (0.0,)
    choices: int = 1


# For unary functions, choice 1 calls the method (x.exp()) instead of the function
# (exp(x)): the two take different code paths in the engine.
_UNARY = FuzzOp((1,), choices=2)
FUZZ_OPS: dict[str, FuzzOp] = {
    "add": FuzzOp((2,)),
    "sub": FuzzOp((2,)),
    "mul": FuzzOp((2,)),
    "div": FuzzOp((2,)),
    "add_c": FuzzOp((1,), FUZZ_CONSTANTS),
    "c_add": FuzzOp((1,), FUZZ_CONSTANTS),
    "sub_c": FuzzOp((1,), FUZZ_CONSTANTS),
    "c_sub": FuzzOp((1,), FUZZ_CONSTANTS),
    "mul_c": FuzzOp((1,), FUZZ_CONSTANTS),
    "c_mul": FuzzOp((1,), FUZZ_CONSTANTS),
    "div_c": FuzzOp((1,), FUZZ_CONSTANTS),
    "c_div": FuzzOp((1,), FUZZ_CONSTANTS),
    "neg": FuzzOp((1,)),
    "pow_c": FuzzOp((1,), FUZZ_EXPONENTS),
    "c_pow": FuzzOp((1,), FUZZ_BASES),
    "pow": FuzzOp((2,)),
    "exp": _UNARY,
    "log": _UNARY,
    "sqrt": _UNARY,
    "tanh": _UNARY,
    "sigmoid": _UNARY,
    "softplus": _UNARY,
    "sin": _UNARY,
    "cos": _UNARY,
    "relu": _UNARY,
    "abs": _UNARY,
    "leaky_relu": FuzzOp((1,), (0.01, 0.2), choices=2),
    "sum_values": FuzzOp((1, 2, 3, 4)),
    # dot: n weights, n inputs; choice 1 adds a bias (operand 0), choice 2 a constant weight.
    "dot": FuzzOp((2, 4, 6), FUZZ_CONSTANTS, choices=3),
    # dense: operands are inputs, weight rows and biases (see dense_layout); choice picks
    # the activation, fusing, the row returned and whether the first input is a number.
    "dense": FuzzOp((1, 2, 3), FUZZ_CONSTANTS, choices=len(ACTIVATIONS) * 2 * 2 * 2),
    "logsumexp": FuzzOp((1, 2, 3)),
    "softmax": FuzzOp((2, 3), choices=3),
}
FUZZ_OP_NAMES = tuple(FUZZ_OPS)


def dense_layout(choice: int) -> tuple[int, str | None, bool, int, bool]:
    """(rows, activation, fuse, row returned, first input a number) for a dense step.

    A dense step with ``n_inputs`` inputs and ``rows`` rows reads ``n_inputs`` input
    registers, then ``rows * n_inputs`` weights, then ``rows`` biases.
    """
    activation = ACTIVATIONS[choice % len(ACTIVATIONS)]
    choice //= len(ACTIVATIONS)
    fuse = bool(choice % 2)
    choice //= 2
    rows = 1 + choice % 2
    choice //= 2
    number_input = bool(choice % 2)
    return rows, activation, fuse, rows - 1, number_input


def _operand_count(name: str, arity: int, choice: int) -> int:
    if name == "dense":
        rows = dense_layout(choice)[0]
        return arity + rows * arity + rows
    if name == "dot" and choice == 1:
        return arity + 1
    return arity


def random_program(rng: Any, *, max_inputs: int = 3, max_steps: int = 8) -> Program:
    """A seeded random graph over the fuzz operations (``rng`` is a ``random.Random``).

    Half the operands are the latest register, so graphs grow deep as well as wide; the
    rest are any register, which reuses nodes. ``point`` is left empty: the graph is
    evaluated on many points (see :func:`fuzz_points`).
    """
    n_inputs = rng.randint(1, max_inputs)
    steps = []
    for i in range(rng.randint(1, max_steps)):
        available = n_inputs + i
        name = rng.choice(FUZZ_OP_NAMES)
        spec = FUZZ_OPS[name]
        arity = rng.choice(spec.arities)
        choice = rng.randrange(spec.choices)
        count = _operand_count(name, arity, choice)
        operands = tuple(
            available - 1 if rng.random() < 0.5 else rng.randrange(available) for _ in range(count)
        )
        steps.append(Step(name, operands, rng.choice(spec.constants), choice))
    return Program(n_inputs, tuple(steps), ())


def fuzz_point(rng: Any, n_inputs: int, extreme: float = 0.25) -> tuple[float, ...]:
    """One input point: each coordinate extreme (EXTREMES) with probability ``extreme``,
    else a special point, an exact binary fraction or an arbitrary float in [-3, 3]."""
    coordinates = []
    for _ in range(n_inputs):
        kind = rng.random()
        if kind < extreme:
            coordinates.append(rng.choice(EXTREMES))
        elif kind < extreme + 0.15:
            coordinates.append(rng.choice(SPECIAL_POINTS))
        elif kind < extreme + 0.35:
            coordinates.append(rng.randint(-192, 192) / 64)
        else:
            coordinates.append(rng.uniform(-3.0, 3.0))
    return tuple(coordinates)


@st.composite
def fuzz_programs(draw: st.DrawFn, *, max_inputs: int = 3, max_steps: int = 6) -> Program:
    """The Hypothesis version of :func:`random_program`, with one point: it shrinks."""
    n_inputs = draw(_integers(1, max_inputs))
    n_steps = draw(_integers(1, max_steps))
    steps = []
    for i in range(n_steps):
        available = n_inputs + i
        name = draw(_one_of(FUZZ_OP_NAMES))
        spec = FUZZ_OPS[name]
        arity = draw(_one_of(spec.arities))
        choice = draw(_integers(0, spec.choices - 1))
        count = _operand_count(name, arity, choice)
        operands = tuple(draw(_register(available)) for _ in range(count))
        steps.append(Step(name, operands, draw(_one_of(spec.constants)), choice))
    point = tuple(draw(_FUZZ_COORDINATE) for _ in range(n_inputs))
    return Program(n_inputs, tuple(steps), point)


_FUZZ_COORDINATE = st.one_of(st.sampled_from(EXTREMES), coordinates())


class FuzzBackend:
    """The operations a fuzz program uses, for one backend; subclasses fill them in.

    Operators (``+ - * / ** neg``) come from the objects themselves. ``decisions``
    collects, in order, every value whose sign decides a branch or a domain: the argument
    of a kink (relu, abs, leaky_relu, a relu neuron's sum), of log and sqrt, a divisor, a
    power's base and exponent. Two backends whose decisions all fall on the same side (see
    ``sign_class``) computed the same piecewise function; otherwise a last-ulp difference
    put them on different pieces, and their results need not agree.
    """

    def __init__(self) -> None:
        self.decisions: list[Any] = []

    def decide(self, x: Any) -> None:
        self.decisions.append(x)

    def lift(self, c: float) -> Any:
        """A constant on the left of an operator (``c / x``), as this backend takes it."""
        return c

    def exponent(self, c: float) -> Any:
        """A constant exponent (``x ** c``), as this backend takes it."""
        return c

    def unary(self, name: str, x: Any, method: bool) -> Any:
        raise NotImplementedError

    def leaky_relu(self, x: Any, slope: float, method: bool) -> Any:
        raise NotImplementedError

    def pow(self, x: Any, y: Any) -> Any:
        """``x ** c`` for a constant exponent given by :meth:`exponent`."""
        return x**y

    def sum_values(self, xs: list[Any]) -> Any:
        raise NotImplementedError

    def dot(self, ws: list[Any], xs: list[Any], bias: Any) -> Any:
        raise NotImplementedError

    def dense(
        self, rows: list[list[Any]], xs: list[Any], biases: list[Any], act: str | None, fuse: bool
    ) -> list[Any]:
        raise NotImplementedError

    def logsumexp(self, xs: list[Any]) -> Any:
        raise NotImplementedError

    def softmax(self, xs: list[Any]) -> list[Any]:
        raise NotImplementedError


def sign_class(v: float) -> float:
    """The side of 0 a decision value is on: -1, -0.0, 0.0, 1 or nan (as a string)."""
    if v != v:
        return math.inf  # nan: a class of its own
    if v == 0:
        return math.copysign(0.5, v)  # 1 / ±0 = ±inf: the sign of a zero can matter
    return 1.0 if v > 0 else -1.0


# Operations whose (first) argument's sign decides a branch or a domain.
_DECIDED_BY_FIRST = frozenset({"relu", "abs", "leaky_relu", "log", "sqrt", "pow_c", "c_div"})


def evaluate(program: Program, backend: FuzzBackend, inputs: Sequence[Any]) -> list[Any]:
    """Run ``program`` on ``inputs`` with ``backend``; return every register, inputs first.

    An operation that refuses (a ValueError outside a domain) propagates, with the index
    of the failing step in ``error.fuzz_step``.
    """
    registers = list(inputs)
    for index, step in enumerate(program.steps):
        a = [registers[i] for i in step.operands]
        c = step.constant
        try:
            registers.append(_apply_step(step, a, c, backend))
        except ValueError as error:
            error.fuzz_step = index  # type: ignore[attr-defined]
            raise
    return registers


def _apply_step(step: Step, a: list[Any], c: float, B: FuzzBackend) -> Any:
    name = step.op
    if name in _DECIDED_BY_FIRST:
        B.decide(a[0])
    elif name in ("div", "pow"):
        B.decide(a[1])
        if name == "pow":
            B.decide(a[0])
    elif name == "c_pow":
        B.decide(a[0])
    if name in _BINARY:
        return _BINARY[name](a[0], a[1])
    if name == "pow_c":
        return B.pow(a[0], B.exponent(c))
    if name.endswith("_c"):
        return _BINARY[name[:-2]](a[0], c)
    if name.startswith("c_"):
        return _BINARY[name[2:]](B.lift(c), a[0])
    if name == "neg":
        return -a[0]
    if name == "leaky_relu":
        return B.leaky_relu(a[0], c, bool(step.choice))
    if name in _UNARY_NAMES:
        return B.unary(name, a[0], bool(step.choice))
    if name == "sum_values":
        return B.sum_values(a)
    if name == "dot":
        if step.choice == 1:
            return B.dot(a[1:][: len(a) // 2], a[1:][len(a) // 2 :], a[0])
        half = len(a) // 2
        weights = list(a[:half])
        if step.choice == 2:
            weights[0] = c
        return B.dot(weights, a[half:], None)
    if name == "dense":
        rows, act, fuse, pick, number_input = dense_layout(step.choice)
        n_in = (len(step.operands) - rows) // (1 + rows)  # inputs + rows * inputs + rows
        xs = list(a[:n_in])
        if number_input:
            xs[0] = c
        weights = [list(a[n_in + r * n_in : n_in + (r + 1) * n_in]) for r in range(rows)]
        biases = list(a[n_in + rows * n_in :])
        return B.dense(weights, xs, biases, act, fuse)[pick]
    if name == "logsumexp":
        return B.logsumexp(a)
    if name == "softmax":
        return B.softmax(a)[step.choice % len(a)]
    raise AssertionError(f"unknown fuzz op {name}")


_BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
}
_UNARY_NAMES = frozenset(
    {"exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "sin", "cos", "relu", "abs"}
)


class EngineFuzzBackend(FuzzBackend):
    """autograd_lite: functions or methods, and its dense() with or without fusing."""

    def __init__(self) -> None:
        super().__init__()
        self.dead_neuron_with_non_finite_input = False

    def unary(self, name: str, x: Any, method: bool) -> Any:
        import autograd_lite as al

        if name == "abs":
            return abs(x) if method else al.abs_(x)
        return getattr(x, name)() if method else getattr(al, name)(x)

    def leaky_relu(self, x: Any, slope: float, method: bool) -> Any:
        import autograd_lite as al

        return x.leaky_relu(slope) if method else al.leaky_relu(x, slope)

    def sum_values(self, xs: list[Any]) -> Any:
        import autograd_lite as al

        return al.sum_values(xs)

    def dot(self, ws: list[Any], xs: list[Any], bias: Any) -> Any:
        import autograd_lite as al

        return al.dot(ws, xs, bias)

    def dense(
        self, rows: list[list[Any]], xs: list[Any], biases: list[Any], act: str | None, fuse: bool
    ) -> list[Any]:
        import autograd_lite as al
        from autograd_lite import Value

        if act == "relu":
            for weights, bias in zip(rows, biases):
                # The neuron's sum, as dense() adds it (bias first): the kink's argument.
                total = _data(bias)
                for w, x in zip(weights, xs):
                    total += _data(w) * _data(x)
                self.decide(total)
                operands = [*weights, *xs, bias]
                if fuse and total <= 0 and not all(math.isfinite(_data(v)) for v in operands):
                    # Documented: a dead fused neuron passes back exactly 0, even to an
                    # infinite input, where PyTorch's 0 * inf is nan.
                    self.dead_neuron_with_non_finite_input = True
        activation = None if act is None else getattr(Value, act)
        return al.dense(rows, xs, biases, activation, fuse=fuse)

    def logsumexp(self, xs: list[Any]) -> Any:
        import autograd_lite as al

        return al.logsumexp(xs)

    def softmax(self, xs: list[Any]) -> list[Any]:
        import autograd_lite as al

        return al.softmax(xs)


def _data(x: Any) -> float:
    return x.data if hasattr(x, "data") else float(x)
