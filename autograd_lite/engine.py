"""The engine: ``Value`` nodes, the table of primitives, and reverse-mode differentiation.

A ``Value`` wraps one float. Every operation on Values is a *primitive*: a forward
function on floats and a *derivative rule* that returns the local derivative of the
output with respect to each input. The local derivatives are computed once, at forward
time, and stored on the new node as plain floats; ``backward()`` is then one generic
loop, ``parent.grad += local * node.grad``, over the graph in reverse topological order.
No node holds a closure, so a graph that is dropped is freed by reference counting alone.

Derivative rules are written with the same operations they differentiate (``out * (1 -
out)``, ``cos(x)``), which work on floats and on Values alike. At forward time the rules
see floats; when higher-order gradients are asked for (``create_graph=True``) the engine
calls the same rules with the parent Values, so the gradient is itself a graph that can be
differentiated again.

Memory: no node holds a closure, so a dropped graph is freed by reference counting alone,
gradient graphs from ``gradients(..., create_graph=True)`` included. The one exception,
as in PyTorch (which warns about it): ``backward(create_graph=True)`` stores on each leaf
a gradient graph that refers back to the leaf, a reference cycle that only the cyclic
garbage collector frees; ``zero_grad()`` (``x.grad = 0.0``) breaks it. Interior nodes
keep only the number of their gradient there, so the leaves are the only cycles.

Conventions (each pinned by a test):

* Leaves accumulate ``.grad`` across ``backward()`` calls, as in PyTorch; interior nodes
  show the gradient of the latest pass only.
* NaN is never turned into a number: ``relu(nan)``, ``leaky_relu(nan)`` and every other
  activation give ``nan`` on every path (methods, functions, fused ``dense`` neurons,
  ``no_grad()``, compiled replay). The chain rule multiplies, ``local * grad``, so a
  ``nan`` gradient stays ``nan`` even behind a dead ReLU (PyTorch selects 0 there).
* Kinks take the subgradient 0: ``relu'(0) = 0``, ``abs'(0) = 0``; ``leaky_relu'(0)`` is
  the negative slope. At ``nan`` the slopes are PyTorch's: ``relu'(nan) = 1``,
  ``leaky_relu'(nan)`` the slope, ``abs'(nan) = 0`` (the value itself is ``nan``).
* Division is a primitive: ``a / b`` is exactly Python's quotient, with local derivatives
  ``1/b`` and ``-q/b`` from the quotient ``q``; derivative rules that divide use it.
* Overflow never raises: ``exp(1000) == inf``; ``sigmoid``, ``tanh``, ``softplus`` and
  ``logsumexp`` are computed in forms that stay finite where the true value is finite;
  ``softmax`` sums to 1 within a few ulps for any finite logits.
* Boundaries follow IEEE 754: ``log(0) == -inf`` (derivative ``inf``), ``sqrt'(0) == inf``,
  ``x / 0 == ±inf`` and ``0 / 0 == nan``.
* Outside a domain (``log(-1)``, ``sqrt(-1)``, a negative base to a non-integer or a
  ``Value`` exponent) a ``ValueError`` names the operation and the value.
* ``x ** y`` at ``x == 0``: d/dy is 0 for ``y >= 0`` (its limit) and ``-inf`` for
  ``y < 0`` (``nan`` for ``y = nan``), as PyTorch gives. d/dx at ``(0, 0)`` is 0 on every
  path (``backward()``, ``gradients()``, ``create_graph=True``), PyTorch's first order;
  in a gradient graph that 0 is a constant, so its own derivatives are 0 (PyTorch: nan).
* Inputs: a ``Value`` or any real number (``int``, ``float``, ``Fraction``, NumPy real
  scalars; ``bool`` as 0/1); anything else (``str``, ``None``, ``complex``, ``Decimal``,
  arrays, tensors, objects that merely have a ``.data``) is a ``TypeError`` naming the
  type; an int too large for a float is a ``ValueError``; flags accept only ``bool``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import math
import numbers
import operator
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = [
    "AnomalyError",
    "Primitive",
    "Value",
    "abs_",
    "cos",
    "dense",
    "detect_anomaly",
    "dot",
    "enable_grad",
    "exp",
    "gradients",
    "is_grad_enabled",
    "leaky_relu",
    "log",
    "logsumexp",
    "name_scope",
    "no_grad",
    "power",
    "primitive",
    "relu",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "sum_values",
    "tanh",
    "topological_order",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_INF = math.inf
_NAN = math.nan
_ACCEPTED = "a Value or a real number (int or float)"

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------------------
# Grad modes, per thread
# --------------------------------------------------------------------------------------


class _State:
    """One thread's switches: recording on or off, anomaly checks, the current name scope."""

    __slots__ = ("anomaly", "fast_scope", "grad_enabled", "scope")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.scope: tuple[str, ...] = ()
        # The scope to give new nodes when recording needs no extra work (grad on, no
        # anomaly checks), else None: the hot paths read this one attribute.
        self.fast_scope: tuple[str, ...] | None = ()

    def refresh(self) -> None:
        self.fast_scope = self.scope if self.grad_enabled and not self.anomaly else None


class _PerThread(threading.local):
    """Holds each thread's ``_State``; one thread-local read gets all switches at once."""

    def __init__(self) -> None:
        self.state = _State()


_local = _PerThread()


def is_grad_enabled() -> bool:
    """Whether operations in this thread currently record a graph."""
    return _local.state.grad_enabled


class _GradMode:
    """Context manager and decorator that sets whether this thread records graphs."""

    _enabled: bool

    def __enter__(self) -> None:
        state = _local.state
        self._saved = state.grad_enabled
        state.grad_enabled = self._enabled
        state.refresh()

    def __exit__(self, *exc_info: object) -> None:
        state = _local.state
        state.grad_enabled = self._saved
        state.refresh()

    def __call__(self, func: F) -> F:
        enabled = self._enabled

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = _local.state
            saved = state.grad_enabled
            state.grad_enabled = enabled
            state.refresh()
            try:
                return func(*args, **kwargs)
            finally:
                state.grad_enabled = saved
                state.refresh()

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Build no graph inside: results are constants. ``with no_grad():`` or ``@no_grad()``."""

    _enabled = False


class enable_grad(_GradMode):
    """Record graphs again inside a ``no_grad`` block."""

    _enabled = True


class name_scope:
    """Tag every node created inside with ``name``; nested scopes give a path.

    ``nn`` modules run their forward pass inside one, so drawings can group a neuron's
    or a layer's nodes. A node keeps the path as a tuple (``node.scope``), shared by
    every node of the same call, so tagging costs no memory per node.
    """

    __slots__ = ("name", "saved")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name_scope() expected a str, got {type(name).__name__}")
        self.name = name

    # Entered once per module call by nn, so both halves are kept to a few attribute
    # operations on the thread's state.
    def __enter__(self) -> None:
        state = _local.state
        self.saved = saved = state.scope
        state.scope = scope = (*saved, self.name)
        if state.fast_scope is not None:
            state.fast_scope = scope

    def __exit__(self, *exc_info: object) -> None:
        state = _local.state
        state.scope = self.saved
        if state.fast_scope is not None:
            state.fast_scope = self.saved


class AnomalyError(FloatingPointError):
    """A non-finite value or gradient appeared while ``detect_anomaly()`` was active."""


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``AnomalyError`` at the first non-finite value or gradient.

    Inside the block every node remembers the file and line of user code that created
    it, so the error can point at the line that produced the first ``nan`` or ``inf``.
    An operation whose inputs are already non-finite does not raise again: the error
    names the first one. Costs time; meant for debugging.
    """
    saved = _local.state.anomaly
    _local.state.anomaly = True
    _local.state.refresh()
    try:
        yield
    finally:
        _local.state.anomaly = saved
        _local.state.refresh()


@contextmanager
def _anomaly_checks(on: bool) -> Iterator[None]:
    """Switch anomaly checks on or off inside, whatever they were."""
    state = _local.state
    saved = state.anomaly
    state.anomaly = on
    state.refresh()
    try:
        yield
    finally:
        state.anomaly = saved
        state.refresh()


def _user_site() -> tuple[str, int, str] | None:
    """The innermost stack frame outside this package: (file, line, function)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep):
            return filename, frame.f_lineno, frame.f_code.co_name
        frame = frame.f_back
    return None


def _describe_site(site: tuple[str, int, str] | None) -> str:
    if site is None:
        return "at an unknown place (it was not created inside detect_anomaly())"
    filename, line, function = site
    return f"at {filename}:{line} in {function}()"


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------


def _as_float(x: object, where: str) -> float:
    """Convert a plain real number to float, or raise a TypeError that says what is accepted."""
    kind = type(x)
    if kind is float:
        return x  # type: ignore[return-value]
    if isinstance(x, numbers.Real) and not isinstance(x, Value):
        try:
            return float(x)
        except OverflowError:
            raise ValueError(f"{where}: {_too_large(x)}") from None
    if isinstance(x, Value):
        raise TypeError(f"{where}: expected a real number, got a Value; use .data or .detach()")
    raise TypeError(f"{where}: expected {_ACCEPTED}, got {_describe_type(x)}")


def _too_large(x: object) -> str:
    """What to say about a real number that overflows float() (an int such as 10**400)."""
    if isinstance(x, int):
        # str() of a huge int is slow or refused (sys.set_int_max_str_digits): give its size.
        size = f"an int of about 10**{int(x.bit_length() * math.log10(2))}"
    else:
        size = f"a {type(x).__name__} too large"
    return f"got {size}; it does not fit in a float (too large: the largest is about 1.8e308)"


def _describe_type(x: object) -> str:
    """The type's name, with a hint for arrays, tensors and objects that look like a Value."""
    name = type(x).__name__
    if hasattr(x, "shape") and hasattr(x, "item"):
        return f"{name} (an array or tensor; take a one-element one's number with .item())"
    if hasattr(x, "data"):
        return f"{name} (it has a .data attribute, but only Values are Values)"
    return name


def _check_flag(flag: object, name: str, where: str) -> bool:
    """A switch such as ``create_graph=``: only True or False, so that "no" is not taken as yes."""
    if type(flag) is not bool:
        kind = type(flag).__name__
        raise TypeError(f"{where}: {name} must be a bool (True or False), got {kind}")
    return flag


def _is_odd_integer(y: float) -> bool:
    return y == math.floor(y) and math.fmod(y, 2.0) != 0.0 if math.isfinite(y) else False


def _pow(x: float, y: float) -> float:
    """``x ** y`` on floats with IEEE results for 0 to a negative power and overflow."""
    if x == -_INF and math.isfinite(y) and y != math.floor(y):
        # C's pow gives +inf or 0 here; like any negative base to a non-integer power, it
        # has no real value (PyTorch gives nan).
        raise ValueError(
            f"pow: a negative base ({x!r}) to a non-integer exponent ({y!r}) has no real value"
        )
    try:
        result = x**y
    except ZeroDivisionError:  # 0.0 ** negative: a pole, not an error, in IEEE 754
        return math.copysign(_INF, x) if _is_odd_integer(y) else _INF
    except OverflowError:
        return -_INF if x < 0 and _is_odd_integer(y) else _INF
    if type(result) is complex:
        raise ValueError(
            f"pow: a negative base ({x!r}) to a non-integer exponent ({y!r}) has no real value"
        )
    return result


def _div(a: Any, b: Any) -> Any:
    """``a / b`` with IEEE results for division by zero; Values divide with the div primitive."""
    if isinstance(a, Value) or isinstance(b, Value):
        return a / b
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)


def _div_floats(a: float, b: float) -> float:
    """DIV's forward: Python's correctly rounded ``a / b``, IEEE ``±inf``/``nan`` for b == 0."""
    try:
        return a / b
    except ZeroDivisionError:
        return _div(a, b)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def _log(x: float) -> float:
    if x > 0:
        return math.log(x)
    if x == 0:
        return -_INF
    if x != x:
        return _NAN
    raise ValueError(f"log is defined for x >= 0 (log(0) = -inf); got x = {x!r}")


def _sqrt(x: float) -> float:
    if x < 0:
        raise ValueError(f"sqrt is defined for x >= 0; got x = {x!r}")
    return math.sqrt(x)


def _sigmoid(x: float) -> float:
    # Two branches so exp never overflows: sigmoid(-1000) is 0.0, not an OverflowError.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for every finite x.
    if x != x:
        return x
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _periodic(function: Callable[[float], float]) -> Callable[[float], float]:
    def safe(x: float) -> float:
        try:
            return function(x)
        except ValueError:  # sin(inf): IEEE gives nan where math raises
            return _NAN

    return safe


def _fsum(terms: Sequence[float]) -> float:
    """``math.fsum`` with IEEE results where it raises: ``inf`` on overflow, ``nan`` for inf-inf."""
    try:
        return math.fsum(terms)
    except OverflowError:  # a partial sum overflowed; the total, computed at half scale, may not
        try:
            return 2.0 * math.fsum([t * 0.5 for t in terms])
        except OverflowError:
            return sum(terms)  # plain float addition: ±inf
    except ValueError:  # inf + -inf
        return _NAN


def _logsumexp(*xs: float) -> float:
    if not xs:
        raise ValueError("logsumexp needs at least one value")
    m = max(xs)
    if math.isinf(m) or m != m:
        return m if not any(x != x for x in xs) else _NAN
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


# --------------------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------------------


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
    scope = _local.state.fast_scope
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
    scope = _local.state.fast_scope
    if scope is not None and x.requires_grad:
        return _node(out, (x,), prim.derivative(data, out), prim, scope)
    return _record_slow(prim, out, (x,), (data,), x.requires_grad)


def _check_forward(node: Value, prim: Primitive, datas: Sequence[float]) -> None:
    """Under ``detect_anomaly()``: remember where the node was made; raise on a first non-finite."""
    site = _user_site()
    node._set_meta("site", site)
    if not math.isfinite(node.data) and all(math.isfinite(d) for d in datas):
        raise AnomalyError(
            f"{prim.name} produced {node.data!r} from finite inputs {tuple(datas)!r}; "
            f"the operation was called {_describe_site(site)}"
        )


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
    lambda *xs: _fsum(xs),
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


# --------------------------------------------------------------------------------------
# Value
# --------------------------------------------------------------------------------------

_new_object = object.__new__


def _node(
    data: float,
    parents: tuple[Value, ...],
    local: tuple[Any, ...],
    prim: Primitive,
    scope: tuple[str, ...],
) -> Value:
    """A new interior node; bypasses ``__init__``'s checks because its inputs are known good."""
    node = _new_object(Value)
    node.data = data
    node.grad = 0.0
    node._prev = parents
    node._local = local
    node._fn = prim
    node.requires_grad = True
    node.label = ""
    node._scope = scope
    node._meta = None
    return node


def _constant(data: float, scope: tuple[str, ...] = ()) -> Value:
    node = _new_object(Value)
    node.data = data
    node.grad = 0.0
    node._prev = ()
    node._local = None
    node._fn = None
    node.requires_grad = False
    node.label = ""
    node._scope = scope
    node._meta = None
    return node


class Value:
    """A scalar that remembers how it was computed.

    ``Value(data, label="x")`` makes a leaf that takes gradients; ``requires_grad=False``
    makes a constant. Arithmetic with Values or plain numbers on either side, and the
    methods ``exp``, ``log``, ``tanh`` ..., record new nodes. ``.data`` is the number,
    ``.grad`` d(root)/d(self) after ``root.backward()``, ``._prev`` the parents in argument
    order, ``._op`` the operation's symbol. Nodes hash and compare by identity.

    The positional ``_children`` and ``_op`` arguments exist so that code written for
    micrograd, which builds nodes by hand and assigns ``_backward``, runs unchanged.
    """

    __slots__ = (
        "_fn",
        "_local",
        "_meta",
        "_prev",
        "_scope",
        "data",
        "grad",
        "label",
        "requires_grad",
    )

    data: float
    grad: Any
    label: str
    requires_grad: bool

    def __init__(
        self,
        data: float,
        _children: Iterable[Value] = (),
        _op: str = "",
        label: str = "",
        *,
        requires_grad: bool = True,
    ) -> None:
        self.data = _as_float(data, "Value()")
        self.grad = 0.0
        children = tuple(_children)
        for child in children:
            if not isinstance(child, Value):
                raise TypeError(f"Value(): _children must be Values, got {type(child).__name__}")
        self._prev = children
        self._local = None
        self._fn = None
        if not isinstance(label, str):
            raise TypeError(f"Value(): label must be a str, got {type(label).__name__}")
        self.label = label
        self.requires_grad = _check_flag(requires_grad, "requires_grad", "Value()")
        self._meta: dict[str, Any] | None = None
        self._scope = _local.state.scope
        if _op:
            self._set_meta("op", str(_op))

    # ---- introspection ---------------------------------------------------------------

    def _set_meta(self, key: str, value: Any) -> None:
        if self._meta is None:
            self._meta = {}
        self._meta[key] = value

    def _get_meta(self, key: str) -> Any:
        return None if self._meta is None else self._meta.get(key)

    @property
    def _op(self) -> str:
        """The operation's symbol, as micrograd names it ('+', '*', 'tanh'); '' for a leaf."""
        if self._fn is not None:
            return self._fn.symbol
        return self._get_meta("op") or ""

    @property
    def op(self) -> str:
        """The name of the operation that made this node ('add', 'tanh'); '' for a leaf."""
        if self._fn is not None:
            return self._fn.name
        return self._get_meta("op") or ""

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the operation that made this node, in argument order."""
        return self._prev

    @property
    def local_derivatives(self) -> tuple[Any, ...] | None:
        """d(self)/d(parent) for each parent, as computed at forward time (None for leaves)."""
        return self._local

    @property
    def primitive(self) -> Primitive | None:
        """The primitive that made this node, or None for leaves and hand-built nodes."""
        return self._fn

    @property
    def is_leaf(self) -> bool:
        """True for nodes with no parents: inputs, parameters and constants."""
        return not self._prev

    @property
    def scope(self) -> tuple[str, ...]:
        """The ``name_scope`` path the node was created in (``()`` if none)."""
        return self._scope

    @property
    def created_at(self) -> tuple[str, int, str] | None:
        """(file, line, function) of the user code that created the node, if recorded."""
        return self._get_meta("site")

    # ---- the chain rule ----------------------------------------------------------------

    def backward_step(self) -> None:
        """Apply this node's local chain-rule step: each parent's grad += local * self.grad."""
        custom = self._get_meta("backward")
        if custom is not None:
            custom()
            return
        if self._local is None:
            return
        grad = self.grad
        for parent, local in zip(self._prev, self._local):
            if parent.requires_grad:
                parent.grad += local * grad

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's name for :meth:`backward_step`; assignable, as micrograd code does."""
        custom = self._get_meta("backward")
        return custom if custom is not None else self.backward_step

    @_backward.setter
    def _backward(self, function: Callable[[], None]) -> None:
        if not callable(function):
            raise TypeError(f"_backward must be callable, got {type(function).__name__}")
        self._set_meta("backward", function)

    def backward(self, gradient: float | None = None, *, create_graph: bool = False) -> None:
        """Fill ``.grad`` of every node that leads to this one with d(self)/d(node).

        Leaves accumulate into ``.grad`` across calls (zero them with ``zero_grad()`` or
        by assigning 0.0); interior nodes are overwritten with this pass's gradient.
        With ``create_graph=True`` the gradients are Values, themselves differentiable.
        """
        seed = 1.0 if gradient is None else _as_float(gradient, "backward(gradient)")
        _check_flag(create_graph, "create_graph", "backward()")
        if not self.requires_grad:
            raise RuntimeError(
                "backward() was called on a constant: this Value does not require grad "
                "(it was built from constants or inside no_grad())"
            )
        if create_graph:
            self._backward_create_graph(seed)
            return
        if not self._prev:  # a leaf: nothing to propagate
            self.grad += seed
            return
        order = _interior_order([self])
        for node in order:
            node.grad = 0.0  # interior nodes hold this pass's gradient only
        self.grad = seed
        if _local.state.anomaly:
            for node in reversed(order):
                _checked_backward_step(node)
            return
        # The hot loop: one multiply-add per edge, local derivatives already computed.
        for node in reversed(order):
            local = node._local
            if local is None:
                node.backward_step()  # a hand-built, micrograd-style node
                continue
            grad = node.grad
            if node._fn is DOT_RELU and node.data == 0.0 and grad - grad == 0.0:
                # A dead fused ReLU: every local derivative is 0.0, and times a finite
                # gradient adds nothing, so its (many) edges are skipped. Its parents
                # were zeroed above, as this pass's interior nodes all are.
                continue
            for parent, d in zip(node._prev, local):
                if parent.requires_grad:
                    parent.grad += d * grad

    def _backward_create_graph(self, seed: float) -> None:
        order = topological_order(self, requires_grad_only=True)  # leaves too: they get grads
        grads = _backpropagate([self], [seed], order, create_graph=True)
        for node in order:
            g = grads.get(node, 0.0)
            if node._prev:
                # Interior nodes keep the number only: a gradient graph stored on one would
                # refer back to it (a reference cycle), and nothing differentiates it again.
                node.grad = g.data if isinstance(g, Value) else g
            else:
                # A leaf's gradient graph refers back to the leaf: a cycle, as in PyTorch;
                # zero_grad() (x.grad = 0.0) breaks it. See the module docstring.
                node.grad = node.grad + g

    def detach(self) -> Value:
        """A constant with the same data, cut from the graph."""
        return _constant(self.data)

    def item(self) -> float:
        """The data as a Python float (as ``torch.Tensor.item``)."""
        return self.data

    # ---- elementary functions ----------------------------------------------------------

    def exp(self) -> Value:
        """e ** self; ``inf`` on overflow."""
        return _unary(EXP, self)

    def log(self) -> Value:
        """Natural logarithm; ``log(0) = -inf``, negative input raises ValueError."""
        return _unary(LOG, self)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return _unary(TANH, self)

    def sigmoid(self) -> Value:
        """1 / (1 + e ** -self), computed without overflow."""
        return _unary(SIGMOID, self)

    def relu(self) -> Value:
        """max(self, 0); the derivative at 0 is 0."""
        data = self.data
        scope = _local.state.fast_scope
        if scope is not None and self.requires_grad:  # RELU inlined, as in __add__
            if data <= 0:
                return _node(0.0 if data < 0 else data, (self,), _ZERO, RELU, scope)
            return _node(data, (self,), _ONE, RELU, scope)  # data > 0, or nan (kept)
        return _unary(RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """self if self > 0 else negative_slope * self; the derivative at 0 is the slope."""
        return _unary(_leaky_relu_primitive(_as_float(negative_slope, "leaky_relu")), self)

    def softplus(self) -> Value:
        """log(1 + e ** self), computed without overflow."""
        return _unary(SOFTPLUS, self)

    def sin(self) -> Value:
        """Sine."""
        return _unary(SIN, self)

    def cos(self) -> Value:
        """Cosine."""
        return _unary(COS, self)

    def sqrt(self) -> Value:
        """Square root; the derivative at 0 is ``inf``; negative input raises ValueError."""
        return _unary(SQRT, self)

    # ---- operators --------------------------------------------------------------------
    # Binary operators go through _binary, a two-argument copy of _apply: they are the
    # hottest path in the library (see benchmarks/bench_engine.py).

    def __add__(self, other: Any) -> Value:
        # The hottest operations inline ADD's and MUL's forward and rule for two Values
        # (one Python call instead of four; see benchmarks/bench_engine.py). The table
        # entries stay the definition: tests check that both paths agree.
        if type(other) is Value:
            scope = _local.state.fast_scope
            if scope is not None and (self.requires_grad or other.requires_grad):
                return _node(self.data + other.data, (self, other), _ONE_ONE, ADD, scope)
        return _binary(ADD, self, other)

    def __radd__(self, other: Any) -> Value:
        return _binary(ADD, other, self)

    def __mul__(self, other: Any) -> Value:
        if type(other) is Value:  # inlined MUL, as in __add__
            scope = _local.state.fast_scope
            if scope is not None and (self.requires_grad or other.requires_grad):
                a, b = self.data, other.data
                return _node(a * b, (self, other), (b, a), MUL, scope)
        return _binary(MUL, self, other)

    def __rmul__(self, other: Any) -> Value:
        return _binary(MUL, other, self)

    def __neg__(self) -> Value:
        return _unary(NEG, self)

    def __pos__(self) -> Value:
        return self

    def __sub__(self, other: Any) -> Value:
        return self + _negate_operand(other, "-")

    def __rsub__(self, other: Any) -> Value:
        return _binary(ADD, _check_operand(other, "-"), -self)

    def __truediv__(self, other: Any) -> Value:
        return _binary(DIV, self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _binary(DIV, other, self)

    def __pow__(self, exponent: Any) -> Value:
        return power(self, _check_operand(exponent, "**"))

    def __rpow__(self, base: Any) -> Value:
        return power(_check_operand(base, "**"), self)

    def __abs__(self) -> Value:
        return _unary(ABS, self)

    # Ordering compares data, so max(), sorted() and `if loss < best` work. Equality stays
    # identity: nodes are dictionary keys and set members throughout the library.
    def __lt__(self, other: Any) -> bool:
        return self.data < _comparable(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _comparable(other)

    def __gt__(self, other: Any) -> bool:
        return self.data > _comparable(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _comparable(other)

    __hash__ = object.__hash__

    def __float__(self) -> float:
        return self.data

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    def __repr__(self) -> str:
        parts = [f"data={self.data:.6g}", f"grad={_short(self.grad)}"]
        op = self.op
        if op:
            parts.append(f"op={op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        if not self.requires_grad:
            parts.append("requires_grad=False")
        return f"Value({', '.join(parts)})"


# The activations dense(..., fuse=True) folds into the neuron's node.
_FUSED = {Value.relu: DOT_RELU, Value.tanh: DOT_TANH, Value.sigmoid: DOT_SIGMOID}

# ``.data`` of a Value, read by the slot's descriptor: a TypeError for anything else, even an
# object that has a .data of its own (a tensor), at the speed of an attribute read.
_data_of = Value.__dict__["data"].__get__


def _short(grad: Any) -> str:
    return f"{grad:.6g}" if isinstance(grad, float) else repr(grad)


def _comparable(other: Any) -> float:
    if isinstance(other, Value):
        return other.data
    if isinstance(other, numbers.Real):
        return other  # type: ignore[return-value]
    raise TypeError(f"cannot compare a Value with {type(other).__name__}; expected {_ACCEPTED}")


def _check_operand(other: Any, op: str) -> Any:
    if isinstance(other, Value) or type(other) is float:
        return other
    if isinstance(other, numbers.Real):
        # Through _as_float: an int too large for a float is a ValueError, not an OverflowError.
        return _as_float(other, f"operand of {op}")
    raise TypeError(
        f"unsupported operand for {op} with a Value: expected {_ACCEPTED}, "
        f"got {type(other).__name__}"
    )


def _negate_operand(other: Any, op: str) -> Any:
    other = _check_operand(other, op)
    return -other


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
    scope = _local.state.fast_scope
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


# --------------------------------------------------------------------------------------
# Functions: a Value in gives a Value out, a plain number in gives a float out
# --------------------------------------------------------------------------------------


def exp(x: Any) -> Any:
    """e ** x; ``inf`` on overflow (never an OverflowError)."""
    return _apply(EXP, (x,))


def log(x: Any) -> Any:
    """Natural logarithm; ``log(0) = -inf``; negative x raises ValueError."""
    return _apply(LOG, (x,))


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return _apply(TANH, (x,))


def sigmoid(x: Any) -> Any:
    """Logistic function, finite for every input (``sigmoid(-1000) == 0.0``)."""
    return _apply(SIGMOID, (x,))


def relu(x: Any) -> Any:
    """max(x, 0); derivative 0 at x == 0."""
    return _apply(RELU, (x,))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x if x > 0 else negative_slope * x; derivative ``negative_slope`` at x == 0."""
    return _apply(_leaky_relu_primitive(_as_float(negative_slope, "leaky_relu")), (x,))


def softplus(x: Any) -> Any:
    """log(1 + e ** x), finite for every finite x (``softplus(1000) == 1000``)."""
    return _apply(SOFTPLUS, (x,))


def sin(x: Any) -> Any:
    """Sine (``nan`` at infinity)."""
    return _apply(SIN, (x,))


def cos(x: Any) -> Any:
    """Cosine (``nan`` at infinity)."""
    return _apply(COS, (x,))


def sqrt(x: Any) -> Any:
    """Square root; derivative ``inf`` at 0; negative x raises ValueError."""
    return _apply(SQRT, (x,))


def abs_(x: Any) -> Any:
    """|x|; derivative 0 at x == 0. (The builtin ``abs()`` works on Values too.)"""
    return _apply(ABS, (x,))


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


def sum_values(values: Iterable[Any]) -> Any:
    """The sum of many values as one node (shallow and fast, unlike ``sum()``'s chain)."""
    return _apply(SUM, tuple(values))


def dot(weights: Sequence[Any], inputs: Sequence[Any], bias: Any = None) -> Any:
    """bias + sum(w * x) as one node: a neuron's weighted sum without 2n + 1 nodes.

    The terms are added in order, bias first, with plain float addition. Plain numbers
    among the arguments are constants; with only numbers, the result is a float.
    """
    weights, inputs = tuple(weights), tuple(inputs)
    if len(weights) != len(inputs):
        raise ValueError(f"dot: {len(weights)} weights but {len(inputs)} inputs; they must match")
    return dense([weights], inputs, None if bias is None else [bias])[0]


def dense(
    weight_rows: Sequence[Sequence[Value]],
    inputs: Sequence[Any],
    biases: Sequence[Value] | None = None,
    activation: Callable[[Value], Value] | None = None,
    *,
    names: Sequence[str] | None = None,
    fuse: bool = False,
) -> list[Value]:
    """A layer of neurons: ``activation(dot(w, inputs, b))`` for each row ``w``, as a list.

    The same nodes as calling :func:`dot` and the activation row by row, built in one
    pass that reads the inputs once for the whole layer (a layer's neurons all see the
    same inputs; see benchmarks/bench_nn.py). ``activation`` is a function of one Value,
    such as ``Value.relu``. ``names`` gives each row's nodes a ``name_scope`` of its own,
    as ``nn`` gives each neuron. With ``fuse=True`` and ``Value.relu``, ``Value.tanh`` or
    ``Value.sigmoid``, each neuron is one node (``dot_relu``, drawn ``ReLU(·)``): the same
    values and gradients with half the nodes, which is what makes training fast.
    """
    _check_flag(fuse, "fuse", "dense()")
    inputs = tuple(inputs)
    rows = list(weight_rows)
    bias_list: list[Any] = [None] * len(rows) if biases is None else list(biases)
    name_list = list(names) if names is not None else None
    for name in name_list or ():
        if not isinstance(name, str):
            raise TypeError(f"dense(): names must be str, got {type(name).__name__}")
    if len(bias_list) != len(rows) or (name_list is not None and len(name_list) != len(rows)):
        raise ValueError(
            f"dense: {len(rows)} weight rows, {len(bias_list)} biases and "
            f"{'no' if name_list is None else len(name_list)} names; give one of each per row"
        )
    n = len(inputs)
    for weights in rows:
        if len(weights) != n:
            raise ValueError(f"dense: a row has {len(weights)} weights for {n} inputs")
    state = _local.state
    scope = state.fast_scope
    try:
        if scope is None:
            raise AttributeError  # no_grad() or detect_anomaly(): the checked path below
        nodes = inputs
        try:
            input_data = list(map(_data_of, inputs))
        except TypeError:
            # Plain numbers become constant nodes here, once for the whole layer, rather
            # than once per row on the checked path (a first layer's inputs are numbers).
            # They belong to the caller's scope, as Value(x, requires_grad=False) would.
            # Anything else (a tensor, an array) is refused by _as_float, with a TypeError.
            nodes = tuple([_as_constant(x, scope) for x in inputs])
            input_data = [x.data for x in nodes]
        inputs_need_grad = any(map(_get_requires_grad, nodes))
    except AttributeError:
        fused = _FUSED.get(activation) if fuse else None
        return [
            _dense_row(w, inputs, b, activation, nm, fused)
            for w, b, nm in _rows(rows, bias_list, name_list)
        ]
    fused = _FUSED.get(activation) if fuse else None
    outputs = []
    try:
        for weights, bias, name in _rows(rows, bias_list, name_list):
            try:
                weight_data = list(map(_data_of, weights))
                if bias is None:
                    out = sum(map(operator.mul, weight_data, input_data), 0.0)
                    parents = (*weights, *nodes)
                else:
                    out = sum(map(operator.mul, weight_data, input_data), _data_of(bias))
                    parents = (*weights, *nodes, bias)
                needs_grad = (
                    inputs_need_grad
                    or any(map(_get_requires_grad, weights))
                    or (bias is not None and bias.requires_grad)
                )
            except (AttributeError, TypeError):
                outputs.append(_dense_row(weights, inputs, bias, activation, name, fused))
                continue
            row_scope = scope if name is None else (*scope, name)
            if fused is DOT_RELU and out <= 0:  # a dead neuron: its local derivatives are 0
                out = 0.0 if out < 0 else out  # RELU's value: -0.0 stays -0.0
                outputs.append(
                    _node(out, parents, _zeros(len(parents)), fused, row_scope)
                    if needs_grad
                    else _constant(out)
                )
                continue
            # DOT's local derivatives: d/dw = x, d/dx = w, d/dbias = 1.
            if bias is None:
                local = (*input_data, *weight_data)
            else:
                local = (*input_data, *weight_data, 1.0)
            if fused is not None:
                # DOT_RELU / DOT_TANH / DOT_SIGMOID inlined: the activation of the sum,
                # and DOT's local derivatives times the activation's slope.
                if fused is not DOT_RELU:
                    out = math.tanh(out) if fused is DOT_TANH else _sigmoid(out)
                    slope = 1.0 - out * out if fused is DOT_TANH else out * (1.0 - out)
                    local = tuple(map(operator.mul, local, itertools.repeat(slope)))
                outputs.append(
                    _node(out, parents, local, fused, row_scope) if needs_grad else _constant(out)
                )
                continue
            node = _node(out, parents, local, DOT, row_scope) if needs_grad else _constant(out)
            if activation is not None:
                # The activation's node belongs to the same row: its scope too.
                state.scope = state.fast_scope = row_scope
                node = activation(node)
                state.scope = state.fast_scope = scope
            outputs.append(node)
    finally:
        state.scope = state.fast_scope = scope
    return outputs


def _as_constant(x: Any, scope: tuple[str, ...]) -> Value:
    """``x`` itself if it is a Value, else a constant node for the number x in ``scope``."""
    if type(x) is float:
        return _constant(x, scope)
    return x if isinstance(x, Value) else _constant(_as_float(x, "dense"), scope)


def _rows(rows: list[Any], biases: list[Any], names: list[str] | None) -> Iterator[tuple[Any, ...]]:
    return zip(rows, biases, names if names is not None else itertools.repeat(None))


def _dense_row(
    weights: Sequence[Any],
    inputs: Sequence[Any],
    bias: Any,
    activation: Callable[[Value], Value] | None,
    name: str | None,
    fused: Primitive | None = None,
) -> Value:
    """One row of :func:`dense` through the primitive table: the checked path."""
    parents = (*weights, *inputs) if bias is None else (*weights, *inputs, bias)
    with name_scope(name) if name is not None else contextlib.nullcontext():
        if fused is not None:
            return _apply(fused, parents)
        node = _apply(DOT, parents)
        return node if activation is None or not isinstance(node, Value) else activation(node)


def logsumexp(values: Iterable[Any]) -> Any:
    """log(sum(exp(v))) computed stably, as one node (finite for large inputs)."""
    values = tuple(values)
    if not values:
        raise ValueError("logsumexp needs at least one value")
    return _apply(LOGSUMEXP, values)


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


# --------------------------------------------------------------------------------------
# Traversal and gradients
# --------------------------------------------------------------------------------------


def topological_order(
    roots: Value | Iterable[Value], *, requires_grad_only: bool = False
) -> list[Value]:
    """Every node that leads to ``roots``, each after all of its parents.

    Iterative depth-first search (no recursion limit) that visits parents in argument
    order, so the order is the same on every run. With ``requires_grad_only`` constants
    and everything behind them are left out, as ``backward()`` needs.
    """
    _check_flag(requires_grad_only, "requires_grad_only", "topological_order()")
    root_list = [roots] if isinstance(roots, Value) else list(roots)
    order: list[Value] = []
    visited: set[Value] = set()
    for root in root_list:
        if not isinstance(root, Value):
            raise TypeError(f"topological_order() expected Values, got {type(root).__name__}")
        if root in visited or (requires_grad_only and not root.requires_grad):
            continue
        visited.add(root)
        stack = [(root, iter(root._prev))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent not in visited and (parent.requires_grad or not requires_grad_only):
                    visited.add(parent)
                    stack.append((parent, iter(parent._prev)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _interior_order(roots: list[Value]) -> list[Value]:
    """The nodes with parents that lead to ``roots``, each after its parents.

    Leaves are left out: they have nothing to pass on, and backward() only needs the
    order of the nodes it processes. The same depth-first order as
    :func:`topological_order`, found with less work: see the comments below.
    """
    order: list[Value] = []
    # Every node met goes into ``seen``, leaves too. A network's weights and inputs are
    # each a parent of many nodes (a neuron of MLP(64, ...)'s first layer has 129 leaf
    # parents, each shared with other neurons or samples), so after the first meeting a
    # parent is skipped by a set lookup in C, and a node whose parents were all met
    # before is placed at once by one issuperset() call. Asking every parent for its own
    # parents instead was over half of backward()'s work (see benchmarks/bench_nn.py).
    seen: set[Value] = set()
    unseen = functools.partial(itertools.filterfalse, seen.__contains__)
    for root in roots:
        if root in seen or not root._prev:
            continue
        seen.add(root)
        stack = [(root, unseen(root._prev))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                seen.add(parent)
                grandparents = parent._prev
                if not grandparents:
                    continue  # a leaf
                if seen.issuperset(grandparents):
                    order.append(parent)  # every parent of it is placed already
                    continue
                stack.append((parent, unseen(grandparents)))
                break
            else:
                stack.pop()
                order.append(node)
    return order


def _value_local_derivatives(node: Value) -> tuple[Any, ...]:
    """Local derivatives as Values, by calling the derivative rule on the parents."""
    prim = node._fn
    if prim is None:
        raise RuntimeError(
            f"cannot build a gradient graph through a hand-built node (op {node._op!r}) "
            "whose _backward is a Python function; define it with primitive() instead"
        )
    return prim.local_derivatives(node._prev, node)


def _backpropagate(
    outputs: Sequence[Value],
    seeds: Sequence[Any],
    order: Sequence[Value],
    *,
    create_graph: bool,
) -> dict[Value, Any]:
    """Gradients of sum(seed * output) with respect to every node in ``order``, in a dict."""
    grads: dict[Value, Any] = {}
    for out, seed in zip(outputs, seeds):
        grads[out] = grads[out] + seed if out in grads else seed
    anomaly = _local.state.anomaly
    with enable_grad() if create_graph else no_grad():
        for node in reversed(order):
            grad = grads.get(node)
            if grad is None or not node._prev:
                continue
            if create_graph:
                # The rule computes a derivative for every input, also those that take no
                # gradient (0.0 ** w: d/d(base) is inf where w < 1, and unused): anomaly
                # checks look at the contributions to inputs that take gradients, below.
                with _anomaly_checks(False):
                    local = _value_local_derivatives(node)
            elif node._local is None:
                raise RuntimeError(
                    f"gradients() cannot go through a hand-built node (op {node._op!r}); "
                    "define the operation with primitive() instead"
                )
            else:
                local = node._local
            for index, (parent, d) in enumerate(zip(node._prev, local)):
                if not parent.requires_grad:
                    continue
                contribution = d * grad
                if anomaly:
                    _check_finite_gradient(node, index, contribution, grad)
                grads[parent] = grads[parent] + contribution if parent in grads else contribution
    return grads


def gradients(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value],
    grad_outputs: float | Sequence[float] | None = None,
    *,
    create_graph: bool = False,
) -> list[Any]:
    """d(outputs)/d(inputs) without touching any ``.grad`` (like ``torch.autograd.grad``).

    Returns one gradient per input: floats, or Values that can be differentiated again
    when ``create_graph=True``. An input the outputs do not depend on gets 0.0. With
    several outputs the gradient is that of ``sum(grad_output * output)``.
    """
    _check_flag(create_graph, "create_graph", "gradients()")
    out_list = [outputs] if isinstance(outputs, Value) else list(outputs)
    in_list = [inputs] if isinstance(inputs, Value) else list(inputs)
    for v in (*out_list, *in_list):
        if not isinstance(v, Value):
            raise TypeError(f"gradients() expected Values, got {_describe_type(v)}")
    if grad_outputs is None:
        seeds: list[Any] = [1.0] * len(out_list)
    else:
        if isinstance(grad_outputs, (Value, numbers.Real)):
            given = [grad_outputs]
        elif isinstance(grad_outputs, (list, tuple)):
            given = list(grad_outputs)
        else:
            raise TypeError(
                "gradients(): grad_outputs must be a number, a Value or a list of them, "
                f"got {_describe_type(grad_outputs)}"
            )
        seeds = [
            s if isinstance(s, Value) else _as_float(s, "gradients(grad_outputs)") for s in given
        ]
    if len(seeds) != len(out_list):
        raise ValueError(f"gradients(): {len(seeds)} grad_outputs for {len(out_list)} outputs")
    live = [(o, s) for o, s in zip(out_list, seeds) if o.requires_grad]
    order = _interior_order([o for o, _ in live])
    grads = _backpropagate(
        [o for o, _ in live], [s for _, s in live], order, create_graph=create_graph
    )
    return [grads.get(x, 0.0) for x in in_list]


def _check_finite_gradient(node: Value, index: int, contribution: Any, grad: Any) -> None:
    value = contribution.data if isinstance(contribution, Value) else contribution
    incoming = grad.data if isinstance(grad, Value) else grad
    if not math.isfinite(value) and math.isfinite(incoming):
        inputs = tuple(p.data for p in node._prev)
        raise AnomalyError(
            f"the backward step of {node.op or 'a hand-built node'} gave the non-finite "
            f"gradient {value!r} to its input {index} (inputs {inputs!r}); the node was "
            f"created {_describe_site(node.created_at)}"
        )


def _checked_backward_step(node: Value) -> None:
    """``backward_step`` with every contribution checked, for ``detect_anomaly()``."""
    local = node._local
    if local is None:
        node.backward_step()
        return
    grad = node.grad
    for index, (parent, d) in enumerate(zip(node._prev, local)):
        if parent.requires_grad:
            contribution = d * grad
            _check_finite_gradient(node, index, contribution, grad)
            parent.grad += contribution
