"""Fast path: a ``sum()`` of products folded into one node as it is built.

Why: code written for micrograd sums one ``+`` at a time (``sum(w * x for ...)``), two
nodes per product, and CPython spends about a microsecond per node however lean the
node is; the way to be faster is fewer nodes.

How: ``sum()`` starts with ``0 + first``. When ``first`` is a temporary (a node only the
expression being evaluated holds), that start makes a ``sum_products`` node, and each
next ``+`` adds its term to that node in place while the node is still a temporary: a
temporary product adds its two factors as a pair, anything else ``(term, 1.0)``. A node
nobody holds can be changed without anyone seeing it, as CPython's own string
concatenation does; its reference count says so, measured at import for the running
interpreter (``_calibrate``). So:

* nodes the user holds never change: ``x1w1 = x1 * w1`` keeps its node and its drawing,
  and so does ``a*b + c*d`` written out (only ``sum()``, which starts from 0, folds);
* the additions happen in the same order, as plain float additions, so every value is
  exactly the unfolded graph's; the same contributions reach each gradient, which adds
  them in the order the backward pass meets them;
* a folded temporary could not have been looked at, so interior gradients stay visible
  on every node anyone holds.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from autograd_lite.engine.primitives import MUL, SUM_PRODUCTS
from autograd_lite.engine.value import _constant, _node

if TYPE_CHECKING:
    from autograd_lite.engine.value import Value


_refs = sys.getrefcount


def _calibrate() -> int:
    """``getrefcount(operand)`` in a binary operator of a Python class when only the
    expression being evaluated holds the operand; 0, folding off, where a held operand
    gives no more (an interpreter that lends references, say).
    """
    counts: list[tuple[int, int]] = []

    class Probe:
        __slots__ = ()

        def __add__(self, other: Any) -> Probe:
            counts.append((_refs(self), _refs(other)))
            return Probe()

        def __radd__(self, other: Any) -> Probe:
            counts.append((_refs(self), _refs(self)))
            return Probe()

    _ = Probe() + Probe(), 0 + Probe(), sum(Probe() for _ in range(3))
    temporary = max(max(pair) for pair in counts)
    counts.clear()
    a, b, both = Probe(), Probe(), [Probe(), Probe()]
    _ = a + b, 0 + a, both[0] + both[1]
    held = min(min(pair) for pair in counts)
    return temporary if held > temporary else 0


# Measured for the running interpreter: see fold.py's docstring.
_TEMPORARY = _calibrate()


# The second factor of a term that is not a product (x is x * 1.0, exactly), and the
# start of every sum: shared constants.
_ONE_NODE = _constant(1.0)


_ZERO_NODE = _constant(0.0)


def _start_sum(zero: float, term: Value) -> Value:
    """``0 + term`` for a temporary term, as ``sum()`` starts: a sum of products.

    Its first pair is the start itself, ``0 * 1.0``: adding it gives exactly what ``0 +
    term`` gives (``0.0 + -0.0`` is ``0.0``), and the node's shape never depends on data.
    """
    start = _ZERO_NODE if math.copysign(1.0, zero) > 0 else _constant(-0.0)
    if term._fn is MUL:  # the product becomes the sum, in place
        term._prev = [start, _ONE_NODE, *term._prev]
        term._local = [1.0, start.data, *term._local]
        term._fn = SUM_PRODUCTS
        term.data = zero + term.data
        return term
    return _node(
        zero + term.data,
        [start, _ONE_NODE, term, _ONE_NODE],
        [1.0, start.data, 1.0, term.data],
        SUM_PRODUCTS,
        term._info,
    )
