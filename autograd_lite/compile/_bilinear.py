"""Products of two per-sample numbers in a group of ``dot`` nodes: pairwise, or as matrix products.

In attention, each score is a query vector times a key vector (both per-sample), and
each output is a weight vector times a column of values. Read back, a group's members
each multiply one *left vector* by one *right vector* (their rows, pair by pair), and the
same vectors come back in many members: a query meets every key of its head.

* :class:`BilinearPairs` — the members fall into C blocks (heads) of the same size, each
  pairing its own Nq left vectors with its own Nk right vectors. All pairs of a block are
  one matrix product ``P[c] = Q[c] @ K[c]ᵀ`` per sample; the members are entries of ``P``
  (a causal mask simply leaves entries out). Going back, the members' gradients are
  placed in a zero matrix ``G``: ``dQ = G @ K``, ``dK = Gᵀ @ Q``, with no per-pair
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
        self.shape = (left_vectors.shape[0], left_vectors.shape[1], right_vectors.shape[1])
        self.flat = _flat((c, i, j), self.shape)  # member m is entry (i[m], j[m]) of block c[m]
        self.need_left, self.need_right = need
        self.pairwise = ElementPairs(left, right, need)
        self.blocks: dict[Any, np.ndarray] = {}  # the gradient of the products, per width

    def _operands(self, stores: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Q (samples × C × Nq × D) and K (samples × C × Nk × D), as views of the gathers."""
        return (
            self.left.fetch(stores).transpose(3, 0, 1, 2),
            self.right.fetch(stores).transpose(3, 0, 1, 2),
        )

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        q, k = self._operands(stores)
        return _rows(np.matmul(q, k.transpose(0, 1, 3, 2)), self.flat)  # samples × C × Nq × Nk

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        q, k = self._operands(stores)
        if not (np.isfinite(q).all() and np.isfinite(k).all()):
            self.pairwise.backward(stores, grads, g)  # a masked 0 * inf would be nan
            return
        full = _padded(g, self.flat, self.shape, self.blocks)
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


class SplitPairs:
    """Members of different lengths: one :func:`batch_pairs` per length."""

    def __init__(self, left: list[list[int]], right: list[list[int]], need: tuple[bool, bool]):
        lengths = np.array([len(rows) for rows in left])
        self.parts = []
        for length in np.unique(lengths):
            members = np.flatnonzero(lengths == length)
            sub_left = np.array([left[m] for m in members], dtype=np.intp)
            sub_right = np.array([right[m] for m in members], dtype=np.intp)
            self.parts.append((members, batch_pairs(sub_left, sub_right, need)))
        self.size = len(left)

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        total = np.empty((self.size, stores[BATCH].shape[-1]))
        for members, part in self.parts:
            total[members] = part.forward(stores)
        return total

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        for members, part in self.parts:
            part.backward(stores, grads, g[members])


class MaskedProduct:
    """Members ``Out[c, i, k] = Σ_j A[c, i, j] · B[c, j, k]`` over each member's own j < n_i.

    Attention's weighted values: member (position i, head c, column k) sums the i + 1
    weights of its position times the values of column k at positions 0..i. A is zero
    past each row's length (the causal mask), so one product per head computes every
    position at once, whatever its length. Where A or B holds an infinity or nan, a
    masked ``0 * inf`` would be nan: those calls take the per-length form (``split``).
    """

    def __init__(self, a: Any, b: Any, entries: Any, split: SplitPairs, need: Any) -> None:
        # Each operand is a zero-padded (C·rows·columns) × samples block filled by rows:
        # ``flat`` is where each gathered row goes.
        self.a, self.a_flat, self.a_shape = Gather(BATCH, a[0]), _flat(a[1], a[2]), a[2]
        self.b, self.b_flat, self.b_shape = Gather(BATCH, b[0]), _flat(b[1], b[2]), b[2]
        out_shape = (a[2][0], a[2][1], b[2][2])
        self.out_flat, self.out_shape = _flat(entries, out_shape), out_shape
        self.split = split
        self.need_a, self.need_b = need
        self.blocks: dict[Any, np.ndarray] = {}  # the padded blocks, per operand and width

    def _operands(self, stores: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        a_values, b_values = self.a.fetch(stores), self.b.fetch(stores)
        if not (np.isfinite(a_values).all() and np.isfinite(b_values).all()):
            return None
        return _padded(a_values, self.a_flat, self.a_shape, self.blocks), _padded(
            b_values, self.b_flat, self.b_shape, self.blocks
        )

    def forward(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        operands = self._operands(stores)
        if operands is None:
            return self.split.forward(stores)
        return _rows(np.matmul(*operands), self.out_flat)

    def backward(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], g: Any) -> None:
        operands = self._operands(stores)
        if operands is None:
            self.split.backward(stores, grads, g)
            return
        a, b = operands
        full = _padded(g, self.out_flat, self.out_shape, self.blocks)
        if self.need_a:
            self.a.add(grads, _rows(np.matmul(full, b.transpose(0, 1, 3, 2)), self.a_flat))
        if self.need_b:
            self.b.add(grads, _rows(np.matmul(a.transpose(0, 1, 3, 2), full), self.b_flat))


def _flat(where: tuple[np.ndarray, ...], shape: tuple[int, int, int]) -> np.ndarray:
    return np.ravel_multi_index(where, shape)


def _padded(
    values: np.ndarray, flat: np.ndarray, shape: tuple[int, int, int], blocks: dict[Any, Any]
) -> np.ndarray:
    """samples × C × rows × columns, zero where no row goes (a view of a rows-first block).

    The block is made once per width and kept in ``blocks``: the same rows are written at
    every call, so the zeros between them stay zeros, and no block is allocated and
    cleared per call.
    """
    key = (id(flat), values.shape[-1])
    block = blocks.get(key)
    if block is None:
        if len(blocks) > 12:  # widths no longer in use
            blocks.clear()
        block = np.zeros((shape[0] * shape[1] * shape[2], values.shape[-1]))
        blocks[key] = block
    block[flat] = values
    return block.reshape(*shape, values.shape[-1]).transpose(3, 0, 1, 2)


def _rows(product: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """The entries ``flat`` of a samples × C × rows × columns array, as rows × samples.

    Where every entry is wanted, the product is transposed into rows (one copy), then
    the rows are put in order. Where a mask leaves entries out (scores, a causal
    softmax's gradient), that copy would move the unwanted entries too, across the grain
    of memory: the wanted ones are taken along the samples-first axis instead, and
    transposed as a view.
    """
    samples = product.shape[0]
    if flat.size == product[0].size:
        return np.take(product.transpose(1, 2, 3, 0).reshape(-1, samples), flat, axis=0)
    return np.take(product.reshape(samples, -1), flat, axis=1).T


def _columns(right: list[list[int]]) -> tuple[np.ndarray, list[list[int]]] | None:
    """Each member's column k (by its first right row) and each column's rows, or None
    unless every member's right rows are the first n of its column's."""
    first = {}
    ks = np.array([first.setdefault(rows[0], len(first)) for rows in right], dtype=np.intp)
    columns: list[list[int]] = [[] for _ in first]
    for k, rows in zip(ks.tolist(), right):
        if len(rows) > len(columns[k]):
            columns[k] = rows
    if any(columns[k][: len(rows)] != rows for k, rows in zip(ks.tolist(), right)):
        return None
    return ks, columns


def _masked_product(left: list[list[int]], right: list[list[int]], split: Any, need: Any) -> Any:
    """A :class:`MaskedProduct` for these members if they form one (left rows as A), else None."""
    found = _columns(right)
    if found is None:
        return None
    ks, columns = found
    ids: dict[tuple[int, ...], int] = {}
    iis = np.array([ids.setdefault(tuple(rows), len(ids)) for rows in left], dtype=np.intp)
    a_vectors = list(ids)
    block_of_i = _components(iis, ks, len(a_vectors), len(columns))
    c = block_of_i[iis]
    n_blocks = int(c.max()) + 1
    i_sets = [np.flatnonzero(block_of_i == b) for b in range(n_blocks)]
    k_sets = [np.unique(ks[c == b]) for b in range(n_blocks)]
    n_i, n_k = i_sets[0].size, k_sets[0].size
    n_j = max(len(rows) for rows in left)
    if any(v.size != n_i for v in i_sets) or any(v.size != n_k for v in k_sets):
        return None
    if n_blocks * n_i * n_j * n_k > _MAX_WASTE * sum(len(rows) for rows in left):
        return None
    local_i, local_k = np.empty(len(a_vectors), np.intp), np.empty(len(columns), np.intp)
    for i_set, k_set in zip(i_sets, k_sets):
        local_i[i_set], local_k[k_set] = np.arange(n_i), np.arange(n_k)
    entries = (c, local_i[iis], local_k[ks])
    if np.unique(np.stack(entries), axis=1).shape[1] != c.size:
        return None
    a = _scatter(
        [
            (block_of_i[v], local_i[v], j, row)
            for v, rows in enumerate(a_vectors)
            for j, row in enumerate(rows)
        ],
        (n_blocks, n_i, n_j),
    )
    block_of_k = np.empty(len(columns), np.intp)
    block_of_k[ks] = c
    b = _scatter(
        [
            (block_of_k[k], j, local_k[k], row)
            for k, rows in enumerate(columns)
            for j, row in enumerate(rows)
        ],
        (n_blocks, n_j, n_k),
    )
    return MaskedProduct(a, b, entries, split, need)


def _scatter(cells: list[tuple[int, int, int, int]], shape: tuple[int, int, int]) -> Any:
    """(rows, their (c, i, j) coordinates, the zero-padded array's shape)."""
    table = np.array(cells, dtype=np.intp).reshape(-1, 4)
    return table[:, 3], (table[:, 0], table[:, 1], table[:, 2]), shape


def ragged_pairs(left: list[list[int]], right: list[list[int]], need: tuple[bool, bool]) -> Any:
    """Members of per-sample pairs of different lengths: one masked product if they form
    one (either side as A), else one :func:`batch_pairs` per length."""
    split = SplitPairs(left, right, need)
    found = [_masked_product(left, right, split, need)]
    found.append(_masked_product(right, left, split, need[::-1]))
    found = [product for product in found if product is not None]
    if not found:
        return split
    return max(found, key=lambda product: product.a_shape[1] * product.b_shape[2])  # fewest blocks
