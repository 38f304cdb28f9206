"""Rows of the replay's value tables, read as views where a layout allows and gathered otherwise.

Values live in two tables. ``V`` (batch rows × samples) holds every node whose value
differs between samples: inputs, targets and everything computed from them. ``U`` (one
column) holds the *uniform* nodes, the same for every sample: parameters, constants and
whatever is computed from those alone. A :class:`Gather` names a block of rows of one
table; instructions read their operands and add their gradients through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["BATCH", "UNIFORM", "Gather"]

BATCH, UNIFORM = 0, 1


class Gather:
    """Rows of one table, in a fixed shape: read them, or add gradients into them.

    A run of rows with a fixed stride (a layer's weights: 64 rows, skip the bias, 64
    more) is read as a strided view, not gathered: no copy going forward, and a plain
    ``+=`` going back. The tables are preallocated per batch width (see
    :meth:`Program.run`), so each view is made once and kept.
    """

    __slots__ = (
        "blocks",
        "index",
        "padded",
        "reduced",
        "segments",
        "shape",
        "sliced",
        "store",
        "strided",
        "unique",
        "views",
    )

    def __init__(self, store: int, rows: Any) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        flat = rows.ravel()
        self.store = store
        self.shape = rows.shape
        start = int(flat[0])
        self.sliced = bool(np.array_equal(flat, np.arange(start, start + flat.size)))
        self.index: Any = slice(start, start + flat.size) if self.sliced else rows
        self.unique = self.sliced or np.unique(flat).size == flat.size
        self.strided = _strides(rows) if not self.sliced and self.unique else None
        self.views: dict[int, np.ndarray] = {}
        self.segments: Any = None
        self.reduced: Any = None
        self.padded: Any = None
        self.blocks: dict[int, np.ndarray] = {}
        if not self.unique:
            self.reduced = _regular_repeats(store, flat)
        if not self.unique and self.reduced is None:
            # Rows read more than once, a different number of times each (a softmax's sum
            # divides the i + 1 weights of position i): see _padded_repeats.
            self.padded = _padded_repeats(flat)
            if self.padded is None:
                # Too uneven to pad: the contributions are summed per row with one
                # reduceat over the rows in sorted order, much faster than np.add.at.
                order = np.argsort(flat, kind="stable")
                ordered = flat[order]
                starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
                self.segments = (order, starts, ordered[starts])

    def view(self, table: np.ndarray) -> np.ndarray | None:
        """The rows as a view of ``table`` (rows × samples), or None if they need a gather.

        Views are made once per table and kept (a view holds its table, so the ``id``
        that keys it cannot be reused while it is kept): each later call is one lookup.
        """
        if self.strided is None and not self.sliced:
            return None
        values = self.views.get(id(table))
        if values is None:
            values = self._make_view(table)
            if len(self.views) > 16:  # tables of batch widths no longer in use
                self.views.clear()
            self.views[id(table)] = values
        return values

    def _make_view(self, table: np.ndarray) -> np.ndarray:
        width = table.shape[-1]
        if self.sliced:
            values = table[self.index]
            return values.reshape(*self.shape, width) if len(self.shape) > 1 else values
        start, steps = self.strided
        row, column = table.strides
        return np.lib.stride_tricks.as_strided(
            table[start:],
            shape=(*self.shape, width),
            strides=(*(step * row for step in steps), column),
        )

    def fetch(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        table = stores[self.store]
        values = self.view(table)
        # np.take, not table[index]: the same rows, several times faster for rows as
        # short as a small batch (indexing pays per row; take copies each row in one go).
        return np.take(table, self.index, axis=0) if values is None else values

    def add(self, grads: Sequence[np.ndarray], contribution: np.ndarray) -> None:
        """``grads[rows] += contribution``, summing over samples for uniform rows."""
        table = grads[self.store]
        if self.store == UNIFORM and contribution.shape[-1] != 1:
            contribution = contribution.sum(axis=-1, keepdims=True)
        values = self.view(table)
        if values is not None:
            values += contribution.reshape(*self.shape, contribution.shape[-1])
        elif self.unique:
            table[self.index] += contribution
        else:  # a node read twice by one instruction: add each contribution
            width = contribution.shape[-1]
            full = np.broadcast_to(contribution, (*self.shape, width)).reshape(-1, width)
            if self.reduced is not None:
                axis, shape, rows = self.reduced
                rows.add(grads, full.reshape(*shape, width).sum(axis=axis))
            elif self.padded is not None:
                table[self.padded[3]] += np.add.reduce(self._padded_block(full), axis=0)
            else:
                order, starts, rows = self.segments
                table[rows] += np.add.reduceat(np.take(full, order, axis=0), starts, axis=0)

    def _padded_block(self, full: np.ndarray) -> np.ndarray:
        """The contributions ``full`` (members × samples) placed in a (most reads × rows ×
        samples) block whose other cells hold -0.0, kept per width: the same cells are
        written at every call, so the pads stay pads."""
        slots, n_rows, most, _ = self.padded
        width = full.shape[-1]
        block = self.blocks.get(width)
        if block is None:
            if len(self.blocks) > 4:  # widths no longer in use
                self.blocks.clear()
            block = self.blocks[width] = np.full((most * n_rows, width), -0.0)
        block[slots] = full
        return block.reshape(most, n_rows, width)


def _regular_repeats(store: int, flat: np.ndarray) -> tuple[int, tuple[int, int], Gather] | None:
    """Rows read in a regular pattern, summed by a reshape instead of a sort.

    ``r0 r0 r1 r1 ...`` (a norm's scale read by each unit of its position) sums over axis 1
    of (rows, k); ``r0 r1 ... r0 r1 ...`` (a weight read at every position) over axis 0 of
    (k, rows). Returns (axis, shape, the distinct rows as a gather), or None.
    """
    distinct = np.unique(flat).size
    k = flat.size // distinct
    if k < 2 or distinct * k != flat.size:
        return None
    blocks = flat.reshape(distinct, k)
    if (blocks == blocks[:, :1]).all() and np.unique(blocks[:, 0]).size == distinct:
        return 1, (distinct, k), Gather(store, blocks[:, 0])
    tiles = flat.reshape(k, distinct)
    if (tiles == tiles[:1]).all():
        return 0, (k, distinct), Gather(store, tiles[0])
    return None


def _padded_repeats(flat: np.ndarray) -> tuple[np.ndarray, int, int, np.ndarray] | None:
    """Where each read goes in a padded block that sums a row's reads along one axis.

    The block is (most reads × rows × samples): a row's k-th read, in reading order, goes
    to layer k, and the pads hold -0.0, which leaves any sum as it is (``x + -0.0`` is
    ``x``, even for -0.0). One scatter of rows and one reduce along axis 0 are faster than
    ``np.add.reduceat``, which walks the block column by column. Reads go first because
    NumPy reduces the first axis of a contiguous block by adding whole layers, in order,
    while a middle axis is reduced in inner loops only as long as the batch is wide.
    Returns (each read's cell, distinct rows, most reads of a row, the distinct rows), or
    None when the block would hold more than 4 cells per read.
    """
    rows, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    most = int(counts.max())
    if rows.size * most > 4 * flat.size:
        return None
    order = np.argsort(inverse, kind="stable")
    rank = np.empty(flat.size, dtype=np.intp)
    starts = np.cumsum(counts) - counts
    rank[order] = np.arange(flat.size) - np.repeat(starts, counts)
    return rank * rows.size + inverse, rows.size, most, rows


def _strides(rows: np.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """(first row, step along each axis) if ``rows`` is an affine grid with steps >= 1."""
    if rows.ndim == 0 or rows.size < 2:
        return None
    start = int(rows.flat[0])
    steps = []
    for axis in range(rows.ndim):
        if rows.shape[axis] == 1:
            steps.append(1)
            continue
        step = int(np.take(rows, 1, axis=axis).flat[0]) - start
        if step < 1:
            return None
        steps.append(step)
    grid = start + sum(
        np.arange(n).reshape([-1 if a == axis else 1 for a in range(rows.ndim)]) * step
        for axis, (n, step) in enumerate(zip(rows.shape, steps))
    )
    return (start, tuple(steps)) if np.array_equal(grid, rows) else None
