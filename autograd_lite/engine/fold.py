"""Fast path: a ``sum()`` of Values built as one node, without changing any node.

Why: code written for micrograd sums one ``+`` at a time (``sum(w * x for ...)``), a
chain of one ``add`` node per term, and CPython spends about a microsecond per node
however lean the node is; the way to be faster is fewer nodes in the backward pass.

How: ``sum()`` starts with ``0 + first``, which makes a ``sum_products`` node: its
parents are pairs whose products add up to its value, the start ``(0, 1.0)`` first,
then a product term as its two factors, or any other term as ``(term, 1.0)``. A ``+``
onto a ``sum_products`` node makes a *new* ``sum_products`` node for the longer sum. The
two share their lists of parents and local derivatives, which only ever grow at the
end: each node records how many entries are its own (``_n``), so the extension costs one
new node and two appends, not a copy. A node that is extended a second time (someone
kept it and added something else to it) finds the lists longer than its own ``_n`` and
copies its own entries first. So:

* no node ever changes once made, whoever holds it (a variable, a ``functools.partial``,
  a bound method, a NumPy array) and whatever the reference counts say: soundness rests
  on the append-only lists and ``_n``, not on knowing who holds what;
* the additions happen in the same order, as plain float additions, so every value is
  exactly the unfolded graph's, and each leaf gets the same contributions;
* what a new sum node lists are the *terms*: a product or a partial sum that was folded
  in is not a parent of the result. ``backward()`` from the result gives every leaf its
  gradient, and leaves a folded product or partial sum out of the pass (its ``.grad`` is
  not filled). To keep a node in the graph, add it with ``+`` written out (``a*b + c*d``
  does not fold: only a sum that starts from 0 does) or use it as an operand of another
  operation before summing.

Threads and re-entrant callers (a tracer or a debugger computing with the same node
mid-operation): two extensions of the same node may append at once. Each extension
checks, after appending, that the lists have exactly the length it expects; if anyone
else appended in between it copies instead, so what a node owns is always its own.
"""

from __future__ import annotations

import math

from autograd_lite.engine.primitives import MUL, SUM_PRODUCTS
from autograd_lite.engine.value import Value, _constant, _node

# The second factor of a term that is not a product (x is x * 1.0, exactly), and the
# start of every sum: shared constants.
_ONE_NODE = _constant(1.0)


_ZERO_NODE = _constant(0.0)


def _sum_node(data: float, prev: list[Value], local: list, n: int, info: tuple[str, ...]) -> Value:
    """A ``sum_products`` node owning the first ``n`` entries of ``prev`` and ``local``."""
    node = _node(data, prev, local, SUM_PRODUCTS, info)  # type: ignore[arg-type]
    node._n = n
    return node


def _term(term: Value, scope: tuple[str, ...]) -> tuple[tuple, tuple]:
    """The pair a term adds: a product's two factors (and its local derivatives), or the
    term itself times 1.0."""
    if term._fn is MUL and term._info is scope:
        return term._prev, term._local
    return (term, _ONE_NODE), (1.0, term.data)


def _start_sum(zero: float, term: Value, scope: tuple[str, ...]) -> Value:
    """``0 + term``, as ``sum()`` starts: a sum of products.

    Its first pair is the start itself, ``0 * 1.0``: adding it gives exactly what ``0 +
    term`` gives (``0.0 + -0.0`` is ``0.0``), and the node's shape never depends on data.
    """
    start = _ZERO_NODE if math.copysign(1.0, zero) > 0 else _constant(-0.0)
    pair, local = _term(term, scope)
    return _sum_node(
        zero + term.data, [start, _ONE_NODE, *pair], [1.0, start.data, *local], 4, scope
    )


def _extend_sum(total: Value, term: Value, scope: tuple[str, ...]) -> Value:
    """``total + term`` for a ``sum_products`` node: a new node, one pair longer.

    ``Value.__add__`` writes out the common case (a product added to a sum nobody has
    extended yet); this is the definition, and the path for every other case.
    """
    pair, local = _term(term, scope)
    n = total._n
    prev, locals_ = total._prev, total._local
    if len(prev) == n:  # nobody has extended ``total`` yet: append to the shared lists
        prev += pair
        locals_ += local
        # Each append is atomic; between them, or between the check and them, another
        # thread or a tracer may have appended too. Ours are ours only if the lengths
        # are exactly what this extension alone gives; otherwise copy, below.
        if len(prev) == n + 2 and len(locals_) == n + 2:
            return _sum_node(total.data + term.data, prev, locals_, n + 2, scope)
    # ``total`` was extended before, or someone appended meanwhile: copy its own entries.
    return _sum_node(
        total.data + term.data, [*prev[:n], *pair], [*locals_[:n], *local], n + 2, scope
    )
