"""The table of primitives, and how a primitive is applied to Values and numbers.

A primitive is a forward function on floats and a derivative rule giving the local
derivative of the output with respect to each input. ``_apply`` runs one: plain numbers
in give a float out; Values in give a node that stores the local derivatives, computed
once, here, at forward time. Every other operation is composed of these.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, overload

from autograd_lite.engine.floats import (
    _as_float,
    _div,
    _div_floats,
    _exp,
    _log,
    _logsumexp,
    _periodic,
    _pow,
    _sigmoid,
    _softplus,
    _sqrt,
    ieee_fsum,
)
from autograd_lite.engine.modes import _busy, _check_forward, _local
from autograd_lite.engine.value import (
    Value,
    _check_operand,
    _constant,
    _data_of,
    _node,
)


class Primitive:
    """One operation: its forward function on floats and its local-derivative rule.

    ``forward(*inputs) -> float`` receives floats. ``derivative(*inputs, out)`` returns a
    sequence with one local derivative d(out)/d(input) per input. Write the rule with
    Python operators and this module's functions (``exp``, ``cos``, ...): it is called
    with floats at forward time and with Values when a gradient graph is built, which
    makes every order of derivative available. Call a primitive with Values or numbers.
    """

    __slots__ = ("derivative", "forward", "name", "symbol", "validate")

    def __init__(
        self,
        name: str,
        forward: Callable[..., float],
        derivative: Callable[..., Sequence[Any]],
        *,
        symbol: str | None = None,
        validate: bool = True,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a primitive needs a non-empty str name, got {name!r}")
        for role, function in (("forward", forward), ("derivative", derivative)):
            if not callable(function):
                raise TypeError(
                    f"primitive {name!r}: {role} must be callable, got {type(function).__name__}"
                )
        self.name = name
        self.symbol = symbol or name
        self.forward = forward
        self.derivative = derivative
        self.validate = validate

    def __call__(self, *args: Any) -> Any:
        return _apply(self, args)

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"

    def local_derivatives(self, inputs: Sequence[Any], out: Any) -> tuple[Any, ...]:
        """Call the derivative rule and check that it gave one entry per input."""
        try:
            result = self.derivative(*inputs, out)
        except TypeError as error:
            if self.validate and not _accepts(self.derivative, len(inputs) + 1):
                raise TypeError(
                    f"the derivative rule of {self.name!r} cannot take {len(inputs)} "
                    f"input(s) and the output; write it as derivative(*inputs, out)"
                ) from error
            raise
        try:
            local = tuple(result)
        except TypeError:
            raise TypeError(
                f"the derivative rule of {self.name!r} returned a {type(result).__name__}; "
                "return a sequence with one local derivative per input, such as (d,)"
            ) from None
        if self.validate:
            if len(local) != len(inputs):
                raise ValueError(
                    f"the derivative rule of {self.name!r} returned {len(local)} local "
                    f"derivatives for {len(inputs)} inputs; return one per input"
                )
            for d in local:
                if not isinstance(d, (Value, numbers.Real)):
                    raise TypeError(
                        f"the derivative rule of {self.name!r} returned a "
                        f"{type(d).__name__}; return floats or Values"
                    )
        return local


def _accepts(function: Callable[..., Any], n_args: int) -> bool:
    """Whether ``function`` can be called with ``n_args`` positional arguments."""
    try:
        inspect.signature(function).bind(*range(n_args))
    except TypeError:
        return False
    except ValueError:  # no signature to inspect (some builtins): assume it can
        return True
    return True


def primitive(
    name: str,
    forward: Callable[..., float],
    derivative: Callable[..., Sequence[Any]],
    *,
    symbol: str | None = None,
) -> Primitive:
    """Define a new primitive operation; see :class:`Primitive` for the contract.

    >>> cube = primitive("cube", lambda x: x ** 3, lambda x, out: (3 * x ** 2,))
    >>> x = Value(2.0); y = cube(x); y.backward(); x.grad
    12.0
    """
    return Primitive(name, forward, derivative, symbol=symbol)


_get_requires_grad = operator.attrgetter("requires_grad")


def _apply(prim: Primitive, args: Sequence[Any]) -> Any:
    """Run ``prim`` on Values or numbers: plain numbers in give a plain float out."""
    if not prim.validate:
        # Fast path for built-ins on all-Value arguments (a neuron's dot node has dozens):
        # _data_of reads .data of Values only (a tensor has a .data too), so anything
        # else falls through to the checked path below.
        try:
            datas = list(map(_data_of, args))
            out = prim.forward(*datas)
        except (AttributeError, TypeError):
            pass
        else:
            if type(out) is float:
                return _record(prim, out, tuple(args), datas, any(map(_get_requires_grad, args)))
    datas = []
    any_value = needs_grad = False
    for a in args:
        if isinstance(a, Value):
            datas.append(a.data)
            any_value = True
            if a.requires_grad:
                needs_grad = True
        else:
            datas.append(_as_float(a, prim.name))
    out = prim.forward(*datas)
    if not any_value:
        return out
    if type(out) is not float:
        out = _as_float(out, f"the forward function of {prim.name!r}")
    parents = tuple(a if isinstance(a, Value) else _constant(d) for a, d in zip(args, datas))
    return _record(prim, out, parents, datas, needs_grad)


def _record(
    prim: Primitive,
    out: float,
    parents: tuple[Value, ...],
    datas: Sequence[float],
    needs_grad: bool,
) -> Value:
    """The node for ``out``: in the graph if some input takes gradients and grad is on."""
    scope = () if not _busy else _local.state.fast_scope
    if scope is not None and needs_grad:
        local = (
            prim.local_derivatives(datas, out) if prim.validate else prim.derivative(*datas, out)
        )
        return _node(out, parents, local, prim, scope)
    return _record_slow(prim, out, parents, datas, needs_grad)


def _record_slow(
    prim: Primitive,
    out: float,
    parents: tuple[Value, ...],
    datas: Sequence[float],
    needs_grad: bool,
) -> Value:
    """``_record`` when grad is off, nothing needs gradients, or anomaly checks are on."""
    mode = _local.state
    if needs_grad and mode.grad_enabled:
        result = _node(out, parents, prim.local_derivatives(datas, out), prim, mode.scope)
    else:
        result = _constant(out)
    if mode.anomaly:
        _check_forward(result, prim, datas)
    return result


def _unary(prim: Primitive, x: Value) -> Value:
    """``_apply`` for one Value argument (the methods ``x.relu()``, ``-x`` ...), unrolled."""
    data = x.data
    out = prim.forward(data)
    scope = () if not _busy else _local.state.fast_scope
    if scope is not None and x.requires_grad:
        return _node(out, (x,), prim.derivative(data, out), prim, scope)
    return _record_slow(prim, out, (x,), (data,), x.requires_grad)


def _binary(prim: Primitive, a: Any, b: Any) -> Any:
    """``_apply`` for two arguments, unrolled: this is the hottest path of the library."""
    if type(a) is Value:
        da = a.data
    else:
        a = _check_operand(a, prim.symbol)
        if isinstance(a, Value):
            da = a.data
        else:
            da = float(a)
            a = None
    if type(b) is Value:
        db = b.data
    else:
        b = _check_operand(b, prim.symbol)
        if isinstance(b, Value):
            db = b.data
        else:
            db = float(b)
            b = None
    out = prim.forward(da, db)
    needs_grad = (a is not None and a.requires_grad) or (b is not None and b.requires_grad)
    scope = () if not _busy else _local.state.fast_scope
    if scope is not None and needs_grad:
        return _node(
            out,
            (a if a is not None else _constant(da), b if b is not None else _constant(db)),
            prim.derivative(da, db, out),
            prim,
            scope,
        )
    parents = (a if a is not None else _constant(da), b if b is not None else _constant(db))
    return _record_slow(prim, out, parents, (da, db), needs_grad)


# Local derivatives used by several rules, shared so nodes do not each hold a copy.
_ONE_ONE = (1.0, 1.0)


_MINUS_ONE = (-1.0,)


_ONE = (1.0,)


_ZERO = (0.0,)


def _pow_rule(x: Any, y: Any, out: Any) -> tuple[Any, Any]:
    x_data = x.data if isinstance(x, Value) else x
    y_data = y.data if isinstance(y, Value) else y
    # d/dx x**0 = 0, where y * x**(y - 1) would give 0 * inf = nan at x == 0 (and so nan in
    # every higher derivative of x**n at 0). An exponent that takes gradients in a gradient
    # graph keeps the full form (d/dy of it is 1/x, not 0), except at (0, 0): there the
    # full form is 0 * inf, and the convention is 0 on every path, as PyTorch's first order.
    y_is_variable = isinstance(y, Value) and y.requires_grad
    if y_data == 0.0 and (x_data == 0.0 or not y_is_variable):
        d_base = 0.0
    elif y_data == 0.0:
        # y x**(y-1) as (y / x) x**y, equal for x != 0: its value is 0 even where x**-1
        # overflows (a subnormal x, where 0 * inf would be nan), its d/dy still 1/x.
        d_base = _div(y, x) * out
    else:
        d_base = y * power(x, y - 1.0)
    # d/dy x**y = x**y log x. At x == 0 and y >= 0 take the limit 0; for y < 0 this gives
    # inf * log(0) = -inf, and nan for y = nan, as PyTorch does. A negative base with an
    # exponent that takes gradients is refused in power(), so x < 0 means a constant one.
    at_limit = (x_data == 0.0 and y_data >= 0.0) or x_data < 0.0
    return d_base, 0.0 if at_limit else out * log(x)


def _sign(x: Any) -> float:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _dot_forward(*args: float) -> float:
    n = len(args) // 2  # args = weights, inputs[, bias]
    # bias + w0 x0 + w1 x1 + ..., in that order (plain float addition, as in PyTorch).
    return sum(map(operator.mul, args[:n], args[n : 2 * n]), args[2 * n] if len(args) % 2 else 0.0)


def _dot_rule(*args: Any) -> tuple[Any, ...]:
    inputs = args[:-1]  # weights, inputs[, bias]; the last argument is out
    n = len(inputs) // 2
    return inputs[n : 2 * n] + inputs[:n] + _ONE * (len(inputs) % 2)


ADD = Primitive("add", lambda a, b: a + b, lambda a, b, out: _ONE_ONE, symbol="+", validate=False)


MUL = Primitive("mul", lambda a, b: a * b, lambda a, b, out: (b, a), symbol="*", validate=False)


# d(a/b)/da = 1/b and d(a/b)/db = -q/b, from the quotient q: no b*b to overflow or underflow.
DIV = Primitive(
    "div",
    _div_floats,
    lambda a, b, out: (_div(1.0, b), -_div(out, b)),
    symbol="/",
    validate=False,
)


NEG = Primitive("neg", lambda x: -x, lambda x, out: _MINUS_ONE, symbol="neg", validate=False)


POW = Primitive("pow", _pow, _pow_rule, symbol="**", validate=False)


EXP = Primitive("exp", _exp, lambda x, out: (out,), validate=False)


LOG = Primitive("log", _log, lambda x, out: (_div(1.0, x),), validate=False)


TANH = Primitive("tanh", math.tanh, lambda x, out: (1.0 - out * out,), validate=False)


SIGMOID = Primitive("sigmoid", _sigmoid, lambda x, out: (out * (1.0 - out),), validate=False)


# As PyTorch: relu(nan) = nan (bad data never disappears) and relu(-0.0) = -0.0; the
# derivative is 0 where x <= 0, else 1, so 1 at nan (torch's threshold_backward).
RELU = Primitive(
    "relu",
    lambda x: 0.0 if x < 0 else x,
    lambda x, out: _ZERO if x <= 0 else _ONE,
    symbol="ReLU",
    validate=False,
)


SOFTPLUS = Primitive("softplus", _softplus, lambda x, out: (sigmoid(x),), validate=False)


SIN = Primitive("sin", _periodic(math.sin), lambda x, out: (cos(x),), validate=False)


COS = Primitive("cos", _periodic(math.cos), lambda x, out: (-sin(x),), validate=False)


SQRT = Primitive("sqrt", _sqrt, lambda x, out: (_div(0.5, out),), validate=False)


ABS = Primitive("abs", abs, lambda x, out: (_sign(x),), validate=False)


SUM = Primitive(
    "sum",
    lambda *xs: ieee_fsum(xs),
    lambda *args: (1.0,) * (len(args) - 1),
    symbol="Σ",
    validate=False,
)


DOT = Primitive(
    "dot",
    _dot_forward,
    _dot_rule,
    symbol="·",
    validate=False,
)


def _sum_products_forward(*args: float) -> float:
    """a0*b0 + a1*b1 + ... for args = (a0, b0, a1, b1, ...), added left to right."""
    if len(args) < 2 or len(args) % 2:
        raise ValueError(f"sum_products takes pairs of inputs, got {len(args)} inputs")
    total = args[0] * args[1]
    for i in range(2, len(args), 2):
        total = total + args[i] * args[i + 1]
    return total


def _sum_products_rule(*args: Any) -> tuple[Any, ...]:
    inputs = args[:-1]
    local = list(inputs)
    local[0::2] = inputs[1::2]
    local[1::2] = inputs[0::2]
    return tuple(local)


SUM_PRODUCTS = Primitive(
    "sum_products", _sum_products_forward, _sum_products_rule, symbol="Σ×", validate=False
)


LOGSUMEXP = Primitive(
    "logsumexp",
    _logsumexp,
    lambda *args: tuple(exp(x - args[-1]) for x in args[:-1]),
    validate=False,
)


@functools.lru_cache(maxsize=256)
def _zeros(n: int) -> tuple[float, ...]:
    """``n`` zeros, as one tuple shared by every caller asking for that length.

    A layer's dead ReLU neurons all have these local derivatives; sharing one tuple spares
    an allocation per neuron, and the garbage collector's scans of it.
    """
    return (0.0,) * n


def _fused_with_dot(activation: Primitive, slope: Callable[[Any], Any]) -> Primitive:
    """``activation(dot(...))`` as one primitive: a neuron in one node.

    ``slope(out)`` is the activation's derivative written with its output, which is all
    the fused node keeps; the local derivatives are DOT's, times that slope.
    """

    def derivative(*args: Any) -> tuple[Any, ...]:
        factor = slope(args[-1])
        if factor == 0:  # a dead ReLU passes back exactly 0, even behind an infinite input
            return _zeros(len(args) - 1)
        return tuple(d * factor for d in _dot_rule(*args))

    return Primitive(
        f"dot_{activation.name}",
        lambda *args: activation.forward(_dot_forward(*args)),
        derivative,
        symbol=f"{activation.symbol}(·)",
        validate=False,
    )


DOT_RELU = _fused_with_dot(RELU, lambda out: 0.0 if out <= 0 else 1.0)  # 1 at nan, as RELU


DOT_TANH = _fused_with_dot(TANH, lambda out: 1.0 - out * out)


DOT_SIGMOID = _fused_with_dot(SIGMOID, lambda out: out * (1.0 - out))


@functools.lru_cache(maxsize=64)
def _leaky_relu_primitive(slope: float) -> Primitive:
    return Primitive(
        "leaky_relu",
        lambda x: x if x > 0 else slope * x,
        lambda x, out: (1.0 if x > 0 else slope,),
        validate=False,
    )


# The public functions take a Value or a number and give the same kind back: a type
# checker sees al.tanh(Value) as a Value and al.tanh(0.5) as a float.
_V = TypeVar("_V", Value, float)


def exp(x: _V) -> _V:
    """e ** x; ``inf`` on overflow (never an OverflowError)."""
    return _apply(EXP, (x,))


def log(x: _V) -> _V:
    """Natural logarithm; ``log(0) = -inf``; negative x raises ValueError."""
    return _apply(LOG, (x,))


def tanh(x: _V) -> _V:
    """Hyperbolic tangent."""
    return _apply(TANH, (x,))


def sigmoid(x: _V) -> _V:
    """Logistic function, finite for every input (``sigmoid(-1000) == 0.0``)."""
    return _apply(SIGMOID, (x,))


def relu(x: _V) -> _V:
    """max(x, 0); derivative 0 at x == 0."""
    return _apply(RELU, (x,))


def leaky_relu(x: _V, negative_slope: float = 0.01) -> _V:
    """x if x > 0 else negative_slope * x; derivative ``negative_slope`` at x == 0."""
    return _apply(_leaky_relu_primitive(_as_float(negative_slope, "leaky_relu")), (x,))


def softplus(x: _V) -> _V:
    """log(1 + e ** x), finite for every finite x (``softplus(1000) == 1000``)."""
    return _apply(SOFTPLUS, (x,))


def sin(x: _V) -> _V:
    """Sine (``nan`` at infinity)."""
    return _apply(SIN, (x,))


def cos(x: _V) -> _V:
    """Cosine (``nan`` at infinity)."""
    return _apply(COS, (x,))


def sqrt(x: _V) -> _V:
    """Square root; derivative ``inf`` at 0; negative x raises ValueError."""
    return _apply(SQRT, (x,))


def abs_(x: _V) -> _V:
    """|x|; derivative 0 at x == 0. (The builtin ``abs()`` works on Values too.)"""
    return _apply(ABS, (x,))


@overload
def power(base: float, exponent: float) -> float: ...
@overload
def power(base: Value | float, exponent: Value | float) -> Value: ...
def power(base: Any, exponent: Any) -> Any:
    """``base ** exponent``, either of them a Value or a number.

    A negative base to a non-integer exponent, or to an exponent that takes gradients,
    has no real derivative and raises ValueError.
    """
    if (
        isinstance(exponent, Value)
        and exponent.requires_grad
        and _local.state.grad_enabled
        and (base.data if isinstance(base, Value) else _as_float(base, "pow")) < 0
    ):
        b = base.data if isinstance(base, Value) else base
        raise ValueError(
            f"pow: a negative base ({b!r}) to an exponent that takes gradients has no real "
            "derivative with respect to the exponent; use a positive base"
        )
    return _apply(POW, (base, exponent))


@overload
def sum_values(values: Iterable[float]) -> float: ...
@overload
def sum_values(values: Iterable[Value | float]) -> Value: ...
def sum_values(values: Iterable[Any]) -> Any:
    """The sum of many values as one node (shallow and fast, unlike ``sum()``'s chain)."""
    return _apply(SUM, tuple(values))


@overload
def logsumexp(values: Iterable[float]) -> float: ...
@overload
def logsumexp(values: Iterable[Value | float]) -> Value: ...
def logsumexp(values: Iterable[Any]) -> Any:
    """log(sum(exp(v))) computed stably, as one node (finite for large inputs)."""
    values = tuple(values)
    if not values:
        raise ValueError("logsumexp needs at least one value")
    return _apply(LOGSUMEXP, values)


@overload
def softmax(values: Iterable[float]) -> list[float]: ...
@overload
def softmax(values: Iterable[Value | float]) -> list[Value]: ...
def softmax(values: Iterable[Any]) -> list[Any]:
    """exp(v - logsumexp(values)) for each v, normalised: sums to 1 for any finite logits.

    ``logsumexp`` keeps every term finite, but for huge logits its rounding is larger than
    the logits' differences (``softmax([1e16, 1e16])`` would be ``[1, 1]``); dividing by
    the terms' sum removes that common factor, so the result sums to 1 within a few ulps.
    Mathematically the sum is 1, so the gradient is softmax's own. No shift is taken from
    the data, so the graph's shape and constants do not depend on the values.
    """
    values = tuple(v if isinstance(v, Value) else _as_float(v, "softmax") for v in values)
    normaliser = logsumexp(values)
    terms = [exp(v - normaliser) for v in values]
    total = sum_values(terms)
    return [_div(t, total) for t in terms]
