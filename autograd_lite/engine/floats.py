"""Float arithmetic with IEEE 754 results where Python's ``math`` raises, and input checks.

The forward functions of the primitives: ``exp(1000)`` is ``inf`` rather than an
OverflowError, ``x / 0`` is ``±inf`` or ``nan``, and a number that is not a real is
refused with a TypeError that says what is accepted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

_INF = math.inf


_NAN = math.nan


_ACCEPTED = "a Value or a real number (int or float)"


def _as_float(x: object, where: str) -> float:
    """Convert a plain real number to float, or raise a TypeError that says what is accepted."""
    kind = type(x)
    if kind is float:
        return x  # type: ignore[return-value]
    if isinstance(x, numbers.Real):  # a Value is not one: it never registers as Real
        try:
            return float(x)
        except OverflowError:
            raise ValueError(f"{where}: {_too_large(x)}") from None
    if _is_a_value(x):
        raise TypeError(f"{where}: expected a real number, got a Value; use .data or .detach()")
    raise TypeError(f"{where}: expected {_ACCEPTED}, got {_describe_type(x)}")


def _is_a_value(x: object) -> bool:
    """A node of a scalar engine (this one's Value, or micrograd's): known by its shape,
    since this module sits below the one that defines Value."""
    return hasattr(x, "_prev") and hasattr(x, "backward")


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
    """``a / b`` with IEEE results for division by zero; Values divide with the div primitive.

    (Only floats raise ZeroDivisionError: a Value's division never does.)
    """
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


def ieee_fsum(terms: Sequence[float]) -> float:
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
