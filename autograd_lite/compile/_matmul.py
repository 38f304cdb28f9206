"""Weight × input pairs of a group of ``dot`` nodes, recovered as matrix products.

The trace flattens a layer into scalar dot nodes, one per output unit and position. Read
back, the pairs of a group (``coef``: uniform rows such as weights, ``value``: per-sample
rows such as inputs, both members × pairs) take one of three shapes:

* :class:`SharedInputs` — every member reads the same input rows (an MLP layer on one
  sample): ``Y = W @ X``, ``dW = dY @ Xᵀ`` (summed over the batch in the product),
  ``dX = Wᵀ @ dY``.
* :class:`TiledInputs` — the members fall into P sets of M (a layer applied at each of P
  token positions): each set reads its own input rows, all with the same weight matrix.
  ``Y[p] = W @ X[p]`` as one stacked product, ``dW = Σ_p dY[p] @ X[p]ᵀ``,
  ``dX[p] = Wᵀ @ dY[p]``: no scatter of per-pair gradients, no sort.
* :class:`PairwiseInputs` — anything else: one product per member (``einsum``), and the
  gradient of each input added through the row gather.

Each computes the members' sums in member order (``forward``) and adds the gradients of
``coef`` and ``value`` for an incoming ``g`` (members × samples) (``backward``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._gather import BATCH, UNIFORM, Gather

__all__ = ["PairwiseInputs", "SharedInputs", "TiledInputs", "weight_input_pairs"]


# For one sample a weight gradient is an outer product, and a matrix product's overhead for
# an inner dimension of 1 makes np.matmul the slowest way to it. A broadcast multiply is
# fastest on small blocks; from about 4,096 products einsum's loop is faster (timed on
# 256 x 784, writing into a neuron-major gradient table whose rows are strided). All three
# give the same products.
_EINSUM_FROM = 4096


def _outer_kind(width: int, products: int) -> str:
    """How to compute ``g @ x.T`` (each weight's gradient summed over the batch) for a
    batch of ``width`` samples and ``products`` weights: matmul, einsum or multiply."""
    if width != 1:
        return "matmul"
    return "einsum" if products >= _EINSUM_FROM else "multiply"


def _outer_sum(g: np.ndarray, x_t: np.ndarray) -> np.ndarray:
    """``g @ x_t`` over the last two axes, computed as :func:`_outer_kind` says."""
    kind = _outer_kind(g.shape[-1], g.shape[-2] * x_t.shape[-1])
    if kind == "einsum":
        return np.einsum("...ib,...bj->...ij", g, x_t)
    return g * x_t if kind == "multiply" else np.matmul(g, x_t)


def _outer_call(e: Any, g: str, x: str, x_t: str, products: int) -> tuple[str, str]:
    """(function, arguments) of the NumPy call for ``g @ x_t`` over the last two axes,
    ``x_t`` being ``x`` (samples last) with those axes swapped, at the emitter's width."""
    kind = _outer_kind(e.width, products)
    if kind == "einsum":
        return "np.einsum", f"'...ib,...jb->...ij', {g}, {x}"
    return f"np.{kind}", f"{g}, {x_t}"


class SharedInputs:
    """Every member reads the same inputs: one ``W @ X``."""

    def __init__(self, coef: np.ndarray, value: np.ndarray, need: tuple[bool, bool]) -> None:
        self.coef = Gather(UNIFORM, coef)
        self.values = Gather(BATCH, value[0])
        self.need_coef, self.need_value = need

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        return self.coef.fetch(stores)[..., 0] @ self.values.fetch(stores)

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        x = self.values.fetch(stores)
        if self.need_coef:
            self.coef.add(grads, _outer_sum(g, x.T)[..., None])
        if self.need_value:
            self.values.add(grads, self.coef.fetch(stores)[..., 0].T @ g)

    def emit_forward(self, e: Any) -> str:
        return f"{_matrix(e, self.coef)} @ {e.read(self.values)}"

    def emit_forward_into(self, e: Any, out: str) -> None:
        e.line(f"np.matmul({_matrix(e, self.coef)}, {e.read(self.values)}, out={out})")

    def emit_backward(self, e: Any, g: str) -> None:
        x = e.read(self.values)
        if self.need_coef:
            products = math.prod(self.coef.shape)
            e.add_call(self.coef, *_outer_call(e, g, x, f"{x}.T", products), width=1)
        if self.need_value:
            e.add_call(self.values, "np.matmul", f"{_matrix(e, self.coef)}.T, {g}")


def _matrix(e: Any, coef: Gather) -> str:
    """The weight matrix (members × pairs) of uniform rows, bound as a view where it is one."""
    view = coef.view(e.stores[UNIFORM])
    if view is not None:
        return e.name(view[..., 0], "w")
    return f"{e.read(coef)}[..., 0]"


class TiledInputs:
    """P sets of M members, each set with its own inputs and the same weight matrix."""

    def __init__(
        self,
        weights: np.ndarray,
        inputs: np.ndarray,
        order: np.ndarray,
        need: tuple[bool, bool],
    ) -> None:
        self.coef = Gather(UNIFORM, weights)  # M × K
        self.values = Gather(BATCH, inputs)  # P × K
        self.p, self.m = inputs.shape[0], weights.shape[0]
        # Member j of set p is member order[p * M + j] of the group (None: in that order).
        in_order = np.array_equal(order, np.arange(order.size))
        self.order = None if in_order else order
        self.need_coef, self.need_value = need

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        x = self.values.fetch(stores)  # P × K × B
        y = np.matmul(self.coef.fetch(stores)[..., 0], x)  # P × M × B
        y = y.reshape(self.p * self.m, x.shape[-1])
        if self.order is None:
            return y
        total = np.empty_like(y)
        total[self.order] = y
        return total

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        if self.order is not None:
            g = g[self.order]
        g = g.reshape(self.p, self.m, g.shape[-1])  # P × M × B
        x = self.values.fetch(stores)
        if self.need_coef:
            d_weights = _outer_sum(g, x.transpose(0, 2, 1)).sum(axis=0)  # M × K
            self.coef.add(grads, d_weights[..., None])
        if self.need_value:
            weights = self.coef.fetch(stores)[..., 0]
            self.values.add(grads, np.matmul(weights.T, g))  # P × K × B

    def emit_forward(self, e: Any) -> str:
        y = e.temp()
        e.line(f"{y} = np.matmul({_matrix(e, self.coef)}, {e.read(self.values)})")
        y = f"{y}.reshape({self.p * self.m}, {e.width})"
        if self.order is None:
            return y
        total = e.temp()
        e.line(f"{total} = np.empty(({self.p * self.m}, {e.width}))")
        e.line(f"{total}[{e.name(self.order, 'i')}] = {y}")
        return total

    def emit_backward(self, e: Any, g: str) -> None:
        if self.order is not None:
            g = f"{g}[{e.name(self.order, 'i')}]"
        tiled = e.temp()
        e.line(f"{tiled} = ({g}).reshape({self.p}, {self.m}, {e.width})")
        x = e.read(self.values)
        if self.need_coef:
            x_t, products = f"{x}.transpose(0, 2, 1)", math.prod(self.coef.shape)
            function, args = _outer_call(e, tiled, x, x_t, products)
            e.add_call(self.coef, "np.add.reduce", f"{function}({args}), axis=0", width=1)
        if self.need_value:  # P × K × samples, as the product
            e.add_call(self.values, "np.matmul", f"{_matrix(e, self.coef)}.T, {tiled}")


class PairwiseInputs:
    """The general case: each member's own weights and inputs."""

    def __init__(self, coef: np.ndarray, value: np.ndarray, need: tuple[bool, bool]) -> None:
        self.coef = Gather(UNIFORM, coef)
        self.values = Gather(BATCH, value)
        self.need_coef, self.need_value = need

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        weights = self.coef.fetch(stores)[..., 0]
        return np.einsum("km,kmb->kb", weights, self.values.fetch(stores))

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        if self.need_coef:
            x = self.values.fetch(stores)
            self.coef.add(grads, np.einsum("kb,kmb->km", g, x)[..., None])
        if self.need_value:
            weights = self.coef.fetch(stores)[..., 0]
            self.values.add(grads, weights[:, :, None] * g[:, None, :])


def _tiles(coef: np.ndarray, value: np.ndarray) -> tuple[Any, Any, Any] | None:
    """(weights M × K, inputs P × K, member order) if the members tile, else None."""
    _, first, inverse = np.unique(value, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse)
    if counts.size < 2 or (counts != counts[0]).any():
        return None
    sets = []
    for s in np.argsort(first, kind="stable"):
        members = np.flatnonzero(inverse == s)
        # The trace's depth-first order may visit a set's units in another order (values
        # before keys): sort each set by its weight rows, and let ``order`` undo it.
        sets.append(members[np.lexsort(coef[members].T[::-1])])
    weights = coef[sets[0]]
    if not all(np.array_equal(coef[members], weights) for members in sets[1:]):
        return None
    inputs = np.array([value[members[0]] for members in sets])
    return weights, inputs, np.concatenate(sets)


def weight_input_pairs(coef: np.ndarray, value: np.ndarray, need: tuple[bool, bool]) -> Any:
    """The cheapest of the three forms that computes these pairs."""
    if bool((value == value[0]).all()):
        return SharedInputs(coef, value, need)
    tiles = _tiles(coef, value)
    if tiles is not None:
        weights, inputs, order = tiles
        return TiledInputs(weights, inputs, order, need)
    return PairwiseInputs(coef, value, need)
