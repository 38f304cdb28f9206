"""Oracles that are not our code: sympy (exact), central differences (float64), PyTorch (float64).

Also the glue that lets one expression be written once and evaluated by several of them
in lockstep (:class:`Lockstep`), so a random expression built from autograd_lite Values
has an exact sympy twin and a PyTorch twin with the same structure.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Sequence
from types import ModuleType, SimpleNamespace
from typing import Any

import autograd_lite as ag
from tests.optional import need

# --------------------------------------------------------------------------------------
# PyTorch, optional locally, required in CI
# --------------------------------------------------------------------------------------


def require_torch() -> ModuleType:
    """Return the torch module; skip the test without it, or fail when CI requires it.

    CI sets ``AUTOGRAD_LITE_REQUIRE_TORCH=1`` (or lists torch in ``AUTOGRAD_LITE_REQUIRE``)
    so that a broken install cannot turn every PyTorch comparison into a silent skip.
    Works inside a test and at module level (see tests/optional.py).
    """
    return need("torch")


# --------------------------------------------------------------------------------------
# Comparing floats
# --------------------------------------------------------------------------------------


def is_close(actual: float, expected: float, *, rtol: float, atol: float) -> bool:
    """``|actual - expected| <= atol + rtol * |expected|``; equal infinities and nan/nan match."""
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return abs(actual - expected) <= atol + rtol * abs(expected)


def assert_close(
    actual: float, expected: float, *, rtol: float = 1e-12, atol: float = 1e-12, what: str = ""
) -> None:
    """Assert :func:`is_close`, with a message that shows both numbers and the difference."""
    # A Value (or anything but a plain real number) where a number belongs is itself a bug.
    if not isinstance(actual, numbers.Real) or isinstance(actual, bool):
        raise AssertionError(f"{what}: expected a number, got {type(actual).__name__} {actual!r}")
    actual, expected = float(actual), float(expected)
    if not is_close(actual, expected, rtol=rtol, atol=atol):
        difference = abs(actual - expected) if math.isfinite(actual - expected) else math.nan
        raise AssertionError(
            f"{what}: got {actual!r}, oracle says {expected!r} "
            f"(difference {difference:.3g}, allowed {atol + rtol * abs(expected):.3g})"
        )


# --------------------------------------------------------------------------------------
# Central differences in float64
# --------------------------------------------------------------------------------------


def difference_step(x: float) -> float:
    """The step :func:`central_difference` uses at ``x``: ``1e-3 * min(1, |x|)``, or 1e-3 at 0."""
    return 1e-3 * (min(1.0, abs(x)) or 1.0)


def difference_tolerance(x: float, magnitude: float) -> float:
    """The rounding error of :func:`central_difference` at ``x`` for ``|f| <= magnitude``.

    Each of the four values of f is off by half an ulp; the weights sum to 18/12, over h.
    A factor 4 of headroom on top.
    """
    return 4 * 1.5 * 2.2e-16 * magnitude / difference_step(x)


def central_difference(f: Callable[[float], float], x: float, step: float | None = None) -> float:
    """df/dx at ``x`` by the fourth-order central difference.

    ``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`` has truncation error O(h^4) and
    rounding error about 1e-16 |f| / h. The default ``h = 1e-3 * min(1, |x|)`` keeps the
    four points on the same side of 0 (log, sqrt near 0) and gives about 1e-10 relative
    accuracy on smooth functions. ``f`` is evaluated on plain floats only.
    """
    h = step if step is not None else difference_step(x)
    return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)


def partial_difference(f: Callable[..., float], point: Sequence[float], index: int) -> float:
    """d f / d point[index] by :func:`central_difference`, the other coordinates held fixed."""

    def along(t: float) -> float:
        shifted = list(point)
        shifted[index] = t
        return f(*shifted)

    return central_difference(along, point[index])


# --------------------------------------------------------------------------------------
# Backends: the same function names in autograd_lite, sympy and PyTorch
# --------------------------------------------------------------------------------------
# Each backend offers exp, log, tanh, sigmoid, relu, leaky_relu(x, slope), softplus, sin,
# cos, sqrt, abs, sum_values(xs), dot(ws, xs, bias=0), logsumexp(xs), softmax(xs) -> list.
# Arithmetic operators come from the objects themselves.

ENGINE = SimpleNamespace(
    name="autograd_lite",
    exp=ag.exp,
    log=ag.log,
    tanh=ag.tanh,
    sigmoid=ag.sigmoid,
    relu=ag.relu,
    leaky_relu=ag.leaky_relu,
    softplus=ag.softplus,
    sin=ag.sin,
    cos=ag.cos,
    sqrt=ag.sqrt,
    abs=abs,
    sum_values=ag.sum_values,
    dot=ag.dot,
    logsumexp=ag.logsumexp,
    softmax=ag.softmax,
)


def _sympy_kinks() -> SimpleNamespace:
    """sympy functions for the kinks, with the one-sided derivatives the engine documents.

    ``Relu' = Step``, ``Abs' = Sign``, and ``Step' = Sign' = 0`` (everywhere but at 0,
    where the engine also returns 0). Written as plain ``Function`` classes rather than
    ``Piecewise``, which is slow to build and differentiate and which sympy rewrites.
    """
    import sympy as sp

    class Step(sp.Function):
        """1 for x > 0, else 0 (so relu'(0) = 0)."""

        def fdiff(self, argindex: int = 1) -> Any:
            return sp.S.Zero

    class Sign(sp.Function):
        """1, 0 or -1 (so abs'(0) = 0)."""

        def fdiff(self, argindex: int = 1) -> Any:
            return sp.S.Zero

    class Relu(sp.Function):
        def fdiff(self, argindex: int = 1) -> Any:
            return Step(self.args[0])

    class Abs(sp.Function):
        def fdiff(self, argindex: int = 1) -> Any:
            return Sign(self.args[0])

    numeric = {
        "Step": lambda x: 1 if x > 0 else 0,
        "Sign": lambda x: 1 if x > 0 else (-1 if x < 0 else 0),
        "Relu": lambda x: x if x > 0 else 0,
        "Abs": lambda x: abs(x),
    }
    return SimpleNamespace(Step=Step, Sign=Sign, Relu=Relu, Abs=Abs, numeric=numeric)


def _sympy_backend() -> SimpleNamespace:
    import sympy as sp

    kinks = _sympy_kinks()
    return SimpleNamespace(
        name="sympy",
        kinks=kinks,
        exp=sp.exp,
        log=sp.log,
        tanh=sp.tanh,
        sigmoid=lambda x: 1 / (1 + sp.exp(-x)),
        relu=kinks.Relu,
        # slope * x + (1 - slope) * relu(x): the derivative at 0 is the slope, as documented.
        leaky_relu=lambda x, slope=0.01: slope * x + (1 - slope) * kinks.Relu(x),
        softplus=lambda x: sp.log(1 + sp.exp(x)),
        sin=sp.sin,
        cos=sp.cos,
        sqrt=sp.sqrt,
        abs=kinks.Abs,
        sum_values=lambda xs: sp.Add(*xs),
        dot=lambda ws, xs, bias=0: sp.Add(*[w * x for w, x in zip(ws, xs)], bias),
        logsumexp=lambda xs: sp.log(sp.Add(*[sp.exp(x) for x in xs])),
        softmax=lambda xs: [sp.exp(x) / sp.Add(*[sp.exp(v) for v in xs]) for x in xs],
    )


def _torch_backend(torch: ModuleType) -> SimpleNamespace:
    functional = torch.nn.functional

    def stack(xs: Sequence[Any]) -> Any:
        return torch.stack([torch.as_tensor(x, dtype=torch.float64) for x in xs])

    return SimpleNamespace(
        name="torch",
        exp=torch.exp,
        log=torch.log,
        tanh=torch.tanh,
        sigmoid=torch.sigmoid,
        relu=torch.relu,
        leaky_relu=lambda x, slope=0.01: functional.leaky_relu(x, slope),
        # PyTorch returns x itself above threshold=20, off by e^-20 = 2e-9; at 36 the
        # switch costs less than float64 resolution (e^-36 = 2e-16).
        softplus=lambda x: functional.softplus(x, threshold=36.0),
        sin=torch.sin,
        cos=torch.cos,
        sqrt=torch.sqrt,
        abs=torch.abs,
        sum_values=lambda xs: stack(xs).sum(),
        dot=lambda ws, xs, bias=0.0: (stack(ws) * stack(xs)).sum() + bias,
        logsumexp=lambda xs: torch.logsumexp(stack(xs), 0),
        softmax=lambda xs: list(torch.softmax(stack(xs), 0).unbind()),
    )


_backends: dict[str, SimpleNamespace] = {}


def sympy_backend() -> SimpleNamespace:
    """The sympy backend (built once)."""
    if "sympy" not in _backends:
        _backends["sympy"] = _sympy_backend()
    return _backends["sympy"]


def torch_backend(torch: ModuleType) -> SimpleNamespace:
    """The PyTorch backend (built once); pass the module from :func:`require_torch`."""
    if "torch" not in _backends:
        _backends["torch"] = _torch_backend(torch)
    return _backends["torch"]


class Lockstep:
    """One expression evaluated by several backends at once, one item per backend.

    Operators and backend functions apply to every item; plain numbers are shared by all.
    Item 0 must be an autograd_lite Value: ``.data`` reads its number, so code that
    builds an expression can make data-dependent choices (keep a log's argument positive)
    and every backend follows the same choice.
    """

    __slots__ = ("backends", "items")

    def __init__(self, backends: Sequence[SimpleNamespace], items: Sequence[Any]) -> None:
        self.backends = tuple(backends)
        self.items = tuple(items)

    @property
    def data(self) -> float:
        return self.items[0].data

    def _lanes(self, other: Any) -> tuple[Any, ...]:
        return other.items if isinstance(other, Lockstep) else (other,) * len(self.items)

    def _zip(self, function: Callable[[Any, Any], Any], other: Any, flip: bool = False) -> Lockstep:
        pairs = zip(self.items, self._lanes(other))
        if flip:
            return Lockstep(self.backends, [function(b, a) for a, b in pairs])
        return Lockstep(self.backends, [function(a, b) for a, b in pairs])

    def __add__(self, other: Any) -> Lockstep:
        return self._zip(operator.add, other)

    def __radd__(self, other: Any) -> Lockstep:
        return self._zip(operator.add, other, flip=True)

    def __sub__(self, other: Any) -> Lockstep:
        return self._zip(operator.sub, other)

    def __rsub__(self, other: Any) -> Lockstep:
        return self._zip(operator.sub, other, flip=True)

    def __mul__(self, other: Any) -> Lockstep:
        return self._zip(operator.mul, other)

    def __rmul__(self, other: Any) -> Lockstep:
        return self._zip(operator.mul, other, flip=True)

    def __truediv__(self, other: Any) -> Lockstep:
        return self._zip(operator.truediv, other)

    def __rtruediv__(self, other: Any) -> Lockstep:
        return self._zip(operator.truediv, other, flip=True)

    def __pow__(self, other: Any) -> Lockstep:
        return self._zip(operator.pow, other)

    def __rpow__(self, other: Any) -> Lockstep:
        return self._zip(operator.pow, other, flip=True)

    def __neg__(self) -> Lockstep:
        return Lockstep(self.backends, [-a for a in self.items])


def lockstep_call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call backend function ``name`` in every lane; args are Lockstep, numbers or lists of them.

    Returns a Lockstep, or a list of Locksteps for functions that return lists (softmax).
    """
    template = next(_find_lockstep(args))
    lanes = []
    for lane, backend in enumerate(template.backends):
        lane_args = [_lane_of(a, lane) for a in args]
        lanes.append(getattr(backend, name)(*lane_args, **kwargs))
    if isinstance(lanes[0], list):
        return [Lockstep(template.backends, column) for column in zip(*lanes)]
    return Lockstep(template.backends, lanes)


def _find_lockstep(args: Any) -> Any:
    for a in args:
        if isinstance(a, Lockstep):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _find_lockstep(a)


def _lane_of(arg: Any, lane: int) -> Any:
    if isinstance(arg, Lockstep):
        return arg.items[lane]
    if isinstance(arg, (list, tuple)):
        return [_lane_of(a, lane) for a in arg]
    return arg


# --------------------------------------------------------------------------------------
# Exact derivatives from sympy
# --------------------------------------------------------------------------------------

# Working precision for evaluating sympy expressions: far beyond float64, so the oracle's
# own rounding never matters.
_DIGITS = 40


def exact_values(
    expressions: Sequence[Any], symbols: Sequence[Any], point: Sequence[float]
) -> list[float]:
    """sympy expressions evaluated at ``point`` in mpmath at 40 digits, then rounded to float."""
    import mpmath
    import sympy as sp

    function = sp.lambdify(symbols, list(expressions), modules=_lambdify_modules())
    with mpmath.workdps(_DIGITS):
        return [_to_float(v) for v in function(*[mpmath.mpf(p) for p in point])]


def _lambdify_modules() -> list[Any]:
    """Where lambdify finds functions: the kinks first, then mpmath."""
    return [sympy_backend().kinks.numeric, "mpmath"]


def symbolic_derivatives(
    expression: Any, symbols: Sequence[Any], *, order: int = 2
) -> Callable[[Sequence[float]], tuple[float, list[float], list[list[float]]]]:
    """Exact value, gradient and (for ``order=2``) Hessian of a sympy expression.

    Differentiates with sympy, then evaluates in mpmath at 40 digits and rounds to float
    once at the end. Returns ``evaluate(point) -> (value, gradient, hessian)``; the
    Hessian is ``[]`` when ``order=1``.
    """
    import mpmath
    import sympy as sp

    n = len(symbols)
    gradient = [sp.diff(expression, s) for s in symbols]
    # The upper triangle of the Hessian only: it is symmetric, and each diff costs.
    upper = [(i, j) for i in range(n) for j in range(i, n)] if order >= 2 else []
    second = [sp.diff(gradient[i], symbols[j]) for i, j in upper]
    flat = [expression, *gradient, *second]
    function = sp.lambdify(symbols, flat, modules=_lambdify_modules())

    def evaluate(point: Sequence[float]) -> tuple[float, list[float], list[list[float]]]:
        with mpmath.workdps(_DIGITS):
            results = [_to_float(v) for v in function(*[mpmath.mpf(p) for p in point])]
        hessian = [[0.0] * n for _ in range(n if order >= 2 else 0)]
        for (i, j), h in zip(upper, results[1 + n :]):
            hessian[i][j] = hessian[j][i] = h
        return results[0], results[1 : 1 + n], hessian

    return evaluate


def _to_float(v: Any) -> float:
    import mpmath

    if isinstance(v, mpmath.mpc):
        if v.imag != 0:
            raise ValueError(f"the sympy oracle produced a complex number {v}")
        v = v.real
    return float(v)


# --------------------------------------------------------------------------------------
# Derivatives from PyTorch in float64
# --------------------------------------------------------------------------------------


def torch_derivatives(
    torch: ModuleType, function: Callable[..., Any], point: Sequence[float], *, order: int = 2
) -> tuple[float, list[float], list[list[float]]]:
    """Value, gradient and Hessian of ``function`` (float64 tensors in, scalar tensor out)."""
    leaves = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    out = function(*leaves)
    gradient = torch.autograd.grad(out, leaves, create_graph=order >= 2, allow_unused=True)
    gradient = [g if g is not None else torch.zeros((), dtype=torch.float64) for g in gradient]
    hessian = []
    if order >= 2:
        for g in gradient:
            if g.requires_grad:
                row = torch.autograd.grad(g, leaves, retain_graph=True, allow_unused=True)
                hessian.append([0.0 if h is None else h.item() for h in row])
            else:
                hessian.append([0.0] * len(leaves))
    return out.item(), [g.item() for g in gradient], hessian
