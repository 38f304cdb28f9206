"""Batches as arrays: the samples of a batch grouped by layout (the nesting of each sample's
inputs and target), with each group's inputs and float targets as arrays and its labels
kept as the ints or bools they are. Numpy is passed in, never imported here: importing
:mod:`autograd_lite.compile` must not import it."""

from __future__ import annotations

import itertools
import numbers
from types import ModuleType
from typing import Any

from autograd_lite.compile._trace import flatten_sample, label_key
from autograd_lite.engine import Value


class Group:
    """Samples with one input/target layout: samples × numbers arrays and their labels.

    Labels (the int parts of the targets) come as a list of tuples, one per sample, or,
    for scalar targets given all at once, as a 1-D array (no per-sample Python work).
    Traces and programs are keyed by :func:`label_key`, so a bool never stands for an int.
    """

    __slots__ = (
        "_distinct",
        "codes",
        "codes_of",
        "indices",
        "label_array",
        "labels",
        "x",
        "x_layout",
        "y",
        "y_layout",
    )

    def __init__(
        self,
        x_layout: Any,
        y_layout: Any,
        indices: Any,
        x: Any,
        y: Any,
        labels: list[tuple[Any, ...]] | None,
        label_array: Any = None,
    ) -> None:
        self.x_layout = x_layout
        self.y_layout = y_layout
        self.indices = indices  # positions in the batch; None means all, in order
        self.x = x
        self.y = y
        self.labels = labels
        self.label_array = label_array
        self._distinct: Any = None
        self.codes: Any = None  # label codes by table lookup, for codes_of:
        self.codes_of: Any = None  # (variant, its number of labels then)

    @property
    def has_labels(self) -> bool:
        return self.labels is not None or self.label_array is not None

    def label(self, i: int) -> tuple[Any, ...]:
        """Sample ``i``'s labels as a tuple (``()`` when the targets have none)."""
        if self.label_array is not None:
            return (self.label_array[i].item(),)
        return () if self.labels is None else self.labels[i]

    def distinct(self, np: ModuleType) -> tuple[list[tuple[Any, ...]], list[int], Any]:
        """(label keys, first sample of each, each sample's index into that list)."""
        if self._distinct is None:
            if self.label_array is not None:
                values, first, inverse = np.unique(
                    self.label_array, return_index=True, return_inverse=True
                )
                keys = [label_key((v,)) for v in values.tolist()]
                self._distinct = (keys, first.tolist(), inverse.reshape(-1))
            else:
                index: dict[tuple[Any, ...], int] = {}
                first, inverse = [], []
                for i, labels in enumerate(self.labels or [() for _ in range(len(self.x))]):
                    code = index.setdefault(label_key(labels), len(index))
                    if code == len(first):
                        first.append(i)
                    inverse.append(code)
                self._distinct = (list(index), first, np.array(inverse, dtype=np.intp))
        return self._distinct


def _layout_of_shape(shape: tuple[int, ...], leaf: str) -> Any:
    if not shape:
        return leaf
    inner = _layout_of_shape(shape[1:], leaf)
    return (inner,) * shape[0]


def count_leaves(layout: Any, leaf: str) -> int:
    if isinstance(layout, tuple):
        return sum(count_leaves(child, leaf) for child in layout)
    return 1 if layout == leaf else 0


def check_batch(X: Any, name: str) -> int:
    if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
        raise TypeError(f"{name} must be a list of samples, got {type(X).__name__}")
    n = len(X)
    if n == 0:
        raise ValueError(f"{name} is empty; a batch needs at least one sample")
    return n


def _first_leaf_is_number(X: Any) -> bool:
    """A cheap guard before numpy converts X: numpy would turn a Value into its float."""
    item = X
    while isinstance(item, (list, tuple)) and item:
        item = item[0]
    return isinstance(item, numbers.Real) and not isinstance(item, Value)


def _plain_numbers(X: Any, depth: int) -> bool:
    """Whether every leaf of the ``depth``-deep nested lists is an int or a float (in C)."""
    leaves = X
    for _ in range(depth - 1):
        leaves = itertools.chain.from_iterable(leaves)
    return all(issubclass(t, (int, float)) for t in set(map(type, leaves)))


def fast_groups(np: ModuleType, X: Any, Y: Any, all_labels: bool) -> list[Group] | None:
    """The usual case in one go: equal-shaped inputs and scalar targets of one kind."""
    if isinstance(X, np.ndarray):
        xa = X
        if xa.dtype.kind not in "fiub" or xa.ndim < 1:
            return None
    else:
        if not _first_leaf_is_number(X):
            return None  # the slow path names what is wrong
        try:
            xa = np.array(X, dtype=float)  # faster than asarray: no type discovery
        except (ValueError, TypeError, OverflowError):  # ragged, not numbers, beyond floats
            return None  # the slow path names what is wrong
        if not _plain_numbers(X, xa.ndim):
            return None  # dtype=float also takes None (nan), "2.5" and Decimal: refuse them
    n = xa.shape[0]
    x = xa.reshape(n, -1).astype(float, copy=False)
    x_layout = _layout_of_shape(xa.shape[1:], "n")
    if Y is None:
        return [Group(x_layout, None, None, x, None, None)]
    if isinstance(Y, np.ndarray):
        if Y.ndim != 1:
            return None
        kind = Y.dtype.kind
        floats = kind == "f" and not all_labels
        if not (floats or kind in "iubf"):
            return None
        values = Y
    else:
        types = set(map(type, Y))
        if all(issubclass(t, float) for t in types):
            floats = not all_labels
        elif all(issubclass(t, numbers.Integral) for t in types):
            floats = False
        else:
            return None
        values = Y
    if floats:
        y = np.asarray(values, dtype=float).reshape(n, 1)
        return [Group(x_layout, "f", None, x, y, None)]
    if not isinstance(values, np.ndarray):
        if len(types) != 1:
            return None  # ints and bools mixed: keep each sample's own type
        values = np.asarray(values)
        if values.dtype.kind not in "iub":
            return None  # ints beyond int64 (an object array): the loss says what is wrong
    return [Group(x_layout, "i", None, x, np.empty((n, 0)), None, values)]


def slow_groups(np: ModuleType, X: Any, Y: Any, all_labels: bool) -> list[Group]:
    """Any nested layouts, sample by sample, grouped by layout."""
    buckets: dict[Any, tuple[list[int], list[list[float]], list[list[float]], list[Any]]] = {}
    for i in range(len(X)):
        x_layout, xs, _ = flatten_sample(X[i], "inputs X", labels=False)
        if Y is None:
            y_layout, ys, ints = None, [], []
        else:
            y_layout, ys, ints = flatten_sample(
                Y[i], "targets y", labels=True, all_labels=all_labels
            )
        bucket = buckets.setdefault((x_layout, y_layout), ([], [], [], []))
        bucket[0].append(i)
        bucket[1].append(xs)
        bucket[2].append(ys)
        bucket[3].append(tuple(ints))
    groups = []
    for (x_layout, y_layout), (indices, xs, ys, labels) in buckets.items():
        has_labels = y_layout is not None and count_leaves(y_layout, "i") > 0
        groups.append(
            Group(
                x_layout,
                y_layout,
                np.array(indices, dtype=np.intp),
                np.array(xs, dtype=float).reshape(len(indices), -1),
                np.array(ys, dtype=float).reshape(len(indices), -1),
                labels if has_labels else None,
            )
        )
    return groups
