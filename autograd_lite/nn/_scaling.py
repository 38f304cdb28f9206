"""Range scaling for norms: sums of squares that neither overflow nor underflow.

``mean(x²)`` overflows once entries pass about 1e154 (and underflows below 1e-154),
though the normalised result ``x / sqrt(mean(x²) + eps)`` is a number of order 1. A norm
is unchanged when ``x`` is multiplied by a constant ``m`` and ``eps`` by ``m²``::

    x / sqrt(mean(x²) + eps) == (m x) / sqrt(mean((m x)²) + m² eps)   for every m > 0

so the norms compute with ``m x``, ``m`` a power of two chosen from the data (exact: no
rounding in the multiplication) and held as a constant. Because the function is the same
for every ``m``, differentiating with ``m`` held fixed gives its exact gradient, to every
order. Within ``[2^-200, 2^200]`` nothing can overflow and ``m`` is 1: ordinary inputs
run exactly the formula they ran before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from autograd_lite.engine import Value

__all__ = ["range_multiplier"]

# Entries up to 2^200 have squares up to 2^400: any number of them sums without overflow.
_SAFE_EXPONENT = 200
# A multiplier of 2^±1000 is itself a normal float, and brings any finite entry into range.
_LARGEST_SHIFT = 1000


def range_multiplier(values: Iterable[Any], eps: float = 0.0) -> float:
    """A power of two ``m`` such that ``m * max(|x|, sqrt(eps))`` lies in [1, 2); or 1.0.

    1.0 when the values are already in the safe range, or when there is nothing to scale
    (all zero with ``eps`` 0) or no scale to find (an entry is inf or nan, which the norm
    must carry through as it would unscaled).
    """
    largest = math.sqrt(eps)
    for v in values:
        magnitude = abs(v.data if isinstance(v, Value) else float(v))
        if magnitude > largest or magnitude != magnitude:
            largest = magnitude
            if not math.isfinite(magnitude):
                return 1.0
    if largest == 0.0 or 2.0**-_SAFE_EXPONENT <= largest <= 2.0**_SAFE_EXPONENT:
        return 1.0
    exponent = math.frexp(largest)[1]  # largest is in [2^(exponent-1), 2^exponent)
    shift = max(-_LARGEST_SHIFT, min(_LARGEST_SHIFT, 1 - exponent))
    return math.ldexp(1.0, shift)
