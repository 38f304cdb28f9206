"""Tests for autograd_lite.nn._scaling: the power of two the norms rescale by."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from autograd_lite.engine import Value
from autograd_lite.nn._scaling import range_multiplier

finite = st.floats(allow_nan=False, allow_infinity=False)


@given(values=st.lists(finite, min_size=1, max_size=6), eps=st.floats(0.0, 1e300))
def test_the_multiplier_is_an_exact_power_of_two_that_brings_squares_into_range(values, eps):
    """m is 2^k; outside [2^-200, 2^200] m·max(|x|, √eps) is in [1, 2) unless k hits ±1000,
    so sum(m²x²) + m²eps cannot overflow; inside that range m is exactly 1."""
    m = range_multiplier([Value(v) for v in values], eps)
    mantissa, exponent = math.frexp(m)
    assert mantissa == 0.5 and -999 <= exponent <= 1001
    largest = max(max(abs(v) for v in values), math.sqrt(eps))
    if largest == 0.0 or 2.0**-200 <= largest <= 2.0**200:
        assert m == 1.0
    else:
        scaled = largest * m
        assert 1.0 <= scaled < 2.0 or m in (2.0**-1000, 2.0**1000)
        assert math.isfinite(sum((v * m) ** 2 for v in values) + eps * m * m)


def test_non_finite_entries_leave_the_values_unscaled() -> None:
    """With inf or nan among the entries there is no scale to find: m is 1 and nan stays nan."""
    assert range_multiplier([1e300, math.inf]) == 1.0
    assert range_multiplier([math.nan, 1e300]) == 1.0
    assert range_multiplier([1e300, math.nan]) == 1.0
    assert range_multiplier([0.0, -0.0]) == 1.0
