"""Products of two per-sample numbers in a group of ``dot`` nodes: pairwise, or as matrix products.

In attention, each score is a query vector times a key vector (both per-sample), and
each output is a weight vector times a column of values. Read back, a group's members
each multiply one *left vector* by one *right vector* (their rows, pair by pair), and the
same vectors come back in many members: a query meets every key of its head.

* :class:`BilinearPairs` — the members fall into C blocks (heads) of the same size, each
  pairing its own Nq left vectors with its own Nk right vectors. All pairs of a block are
  one matrix product ``P[c] = Q[c] @ K[c]ᵀ`` per sample; the members are entries of ``P``
  (a causal mask simply leaves entries out). Going back, the members' gradients are
  scattered into a zero matrix ``G``: ``dQ = G @ K``, ``dK = Gᵀ @ Q``, with no per-pair
  gradients summed by a sort. The zeros of ``G`` add nothing while every number is
  finite; with an infinite or nan operand (``0 * inf`` is nan) the pairwise form is used.
* :class:`ElementPairs` — anything else: products of the gathered rows, summed.

Both compute the members' sums in member order (``forward``) and add the two operands'
gradients for an incoming ``g`` (members × samples) (``backward``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._gather import BATCH, Gather

__all__ = ["BilinearPairs", "ElementPairs", "batch_pairs"]

# Products computed and thrown away (masked) per product kept, at most.
_MAX_WASTE = 4.0


class ElementPairs:
    """Each member's own rows, multiplied and summed: gathers forward, gathered adds back."""

    def __init__(self, left: np.ndarray, right: np.ndarray, need: tuple[bool, bool]) -> None:
        self.left, self.right = Gather(BATCH, left), Gather(BATCH, right)
        self.need_left, self.need_right = need

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        return (self.left.fetch(stores) * self.right.fetch(stores)).sum(axis=1)

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        g = g[:, None, :]
        if self.need_left:
            self.left.add(grads, self.right.fetch(stores) * g)
        if self.need_right:
            self.right.add(grads, self.left.fetch(stores) * g)


class BilinearPairs:
    """C blocks of Nq left and Nk right vectors; each member is one entry of a block's product."""

    def __init__(
        self,
        left: np.ndarray,
        right: np.ndarray,
        blocks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        need: tuple[bool, bool],
    ) -> None:
        left_vectors, right_vectors, c, i, j = blocks
        self.left = Gather(BATCH, left_vectors)  # C × Nq × D
        self.right = Gather(BATCH, right_vectors)  # C × Nk × D
        self.entries = (c, i, j)  # member m is entry (i[m], j[m]) of block c[m]
        self.shape = (left_vectors.shape[0], left_vectors.shape[1], right_vectors.shape[1])
        self.need_left, self.need_right = need
        self.pairwise = ElementPairs(left, right, need)

    def _operands(self, stores: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Q (samples × C × Nq × D) and K (samples × C × Nk × D), as views of the gathers."""
        return (
            self.left.fetch(stores).transpose(3, 0, 1, 2),
            self.right.fetch(stores).transpose(3, 0, 1, 2),
        )

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        q, k = self._operands(stores)
        products = np.matmul(q, k.transpose(0, 1, 3, 2))  # samples × C × Nq × Nk
        c, i, j = self.entries
        return products[:, c, i, j].T

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        q, k = self._operands(stores)
        if not (np.isfinite(q).all() and np.isfinite(k).all()):
            self.pairwise.backward(stores, grads, g)  # a masked 0 * inf would be nan
            return
        full = np.zeros((g.shape[-1], *self.shape))
        c, i, j = self.entries
        full[:, c, i, j] = g.T
        if self.need_left:
            self.left.add(grads, np.matmul(full, k).transpose(1, 2, 3, 0))
        if self.need_right:
            d_right = np.matmul(full.transpose(0, 1, 3, 2), q)
            self.right.add(grads, d_right.transpose(1, 2, 3, 0))


def _blocks(left: np.ndarray, right: np.ndarray) -> tuple[Any, ...] | None:
    """(left vectors C×Nq×D, right vectors C×Nk×D, block, row, column of each member) or None.

    A block is a connected set of left and right vectors (a head): the members join them.
    """
    left_vectors, li = np.unique(left, axis=0, return_inverse=True)
    right_vectors, ri = np.unique(right, axis=0, return_inverse=True)
    li, ri = li.reshape(-1), ri.reshape(-1)
    if left_vectors.shape[0] == left.shape[0] and right_vectors.shape[0] == right.shape[0]:
        return None  # no vector is shared: nothing to gain
    block_of_left = _components(li, ri, left_vectors.shape[0], right_vectors.shape[0])
    c = block_of_left[li]
    n_blocks = int(c.max()) + 1
    lefts = [np.flatnonzero(block_of_left == b) for b in range(n_blocks)]
    rights = [np.unique(ri[c == b]) for b in range(n_blocks)]
    nq, nk = lefts[0].size, rights[0].size
    if any(v.size != nq for v in lefts) or any(v.size != nk for v in rights):
        return None
    if n_blocks * nq * nk > _MAX_WASTE * left.shape[0]:
        return None
    local_left = np.empty(left_vectors.shape[0], dtype=np.intp)
    local_right = np.empty(right_vectors.shape[0], dtype=np.intp)
    for members_left, members_right in zip(lefts, rights):
        local_left[members_left] = np.arange(nq)
        local_right[members_right] = np.arange(nk)
    i, j = local_left[li], local_right[ri]
    if np.unique(np.stack([c, i, j]), axis=1).shape[1] != c.size:
        return None  # a pair computed twice: the scatter of gradients would lose one
    stacked_left = np.stack([left_vectors[v] for v in lefts])
    stacked_right = np.stack([right_vectors[v] for v in rights])
    return stacked_left, stacked_right, c, i, j


def _components(li: np.ndarray, ri: np.ndarray, n_left: int, n_right: int) -> np.ndarray:
    """The block of each left vector: connected components of the member edges."""
    parent = list(range(n_left + n_right))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(li.tolist(), (ri + n_left).tolist()):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([root(x) for x in range(n_left)])
    _, block = np.unique(roots, return_inverse=True)
    return block.reshape(-1)


def batch_pairs(left: np.ndarray, right: np.ndarray, need: tuple[bool, bool]) -> Any:
    """Matrix products when the pairs form equal blocks of shared vectors, else pairwise."""
    blocks = _blocks(left, right)
    if blocks is None:
        return ElementPairs(left, right, need)
    return BilinearPairs(left, right, blocks, need)
