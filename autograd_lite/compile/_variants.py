"""Variants and the lane: per input and target layout, the traces of each label and the
programs built from them (:class:`Variant`), and the shortcut that sends a batch shaped
like the last one straight to the program that ran it (:class:`Lane`)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from autograd_lite.compile._batches import Group, count_leaves
from autograd_lite.compile._trace import Trace, label_key, merge_traces, single_graph
from autograd_lite.engine import Value
from autograd_lite.engine.floats import ieee_fsum


class Variant:
    """The traces and programs for one layout: a trace per label (keyed by
    :func:`label_key`: kind and value), merged if possible."""

    def __init__(self, x_layout: Any, y_layout: Any, with_loss: bool) -> None:
        self.x_layout = x_layout
        self.y_layout = y_layout
        self.with_loss = with_loss
        self.n_x = count_leaves(x_layout, "n")
        self.n_y = 0 if y_layout is None else count_leaves(y_layout, "f")
        self.traces: dict[tuple[Any, ...], Trace] = {}
        self.codes: dict[tuple[Any, ...], int] = {}
        self.merged: Any = None  # a Program, None (not built yet) or False (cannot merge)
        self.per_label: dict[tuple[Any, ...], Any] = {}
        self.checked = False
        self.lookup: Any = None  # int label -> code, -1 where no int label was traced
        self.lookup_gaps = True  # whether the lookup holds a -1

    def fast_codes(self, np: ModuleType, group: Group) -> Any:
        """Each sample's label code by table lookup, or None if a label is new or not a
        small int (then np.unique sorts them out): saves a sort per step. Worked out once
        per group and variant (the preparation and the plan both ask)."""
        if group.codes_of != (self, len(self.codes)):
            group.codes_of, group.codes = (self, len(self.codes)), self._fast_codes(np, group)
        return group.codes

    def _fast_codes(self, np: ModuleType, group: Group) -> Any:
        return self.codes_for(np, group.label_array)

    def codes_for(self, np: ModuleType, labels: Any) -> Any:
        """Each label's code by table lookup, or None (see :meth:`fast_codes`).

        For int arrays only: the table holds the codes of the int labels traced, so a
        bool or float label traced with the same value is not found there (its key differs).
        """
        if labels is None or labels.dtype.kind not in "iu" or not self.codes:
            return None
        if self.lookup is None:
            ints = {key[0][1]: code for key, code in self.codes.items() if key[0][0] == "i"}
            if not ints or not all(0 <= k < 4096 for k in ints):
                return None
            self.lookup = np.full(max(ints) + 1, -1, dtype=np.intp)
            for value, code in ints.items():
                self.lookup[value] = code
            self.lookup_gaps = len(ints) < len(self.lookup)
        # As indices: a uint64 label beyond intp's range wraps to a negative one here, as
        # NumPy would wrap it silently when indexing; both are refused by the next test.
        # (This runs at every step of the lane: ufunc.reduce skips ndarray.min's wrapper.)
        labels = labels.astype(np.intp, copy=False)
        if np.minimum.reduce(labels, axis=None) < 0:
            return None  # a negative index would count from the end
        try:
            codes = self.lookup[labels]
        except IndexError:  # a label beyond the traced ones
            return None
        if self.lookup_gaps and np.minimum.reduce(codes, axis=None) < 0:
            return None  # a label between the traced ones
        return codes

    def add(self, t: Trace) -> None:
        key = label_key(t.labels)
        self.traces[key] = t.keep()
        self.codes[key] = len(self.codes)
        self.lookup = None
        if self.merged is not False:
            self.merged = None  # rebuild with the new label

    def _build(self, replay: ModuleType, graph: Any, params: Sequence[Value]) -> Any:
        outputs = list(graph.outputs)
        if self.with_loss:
            return replay.Program(graph, params, [graph.loss, *outputs], graph.loss)
        return replay.Program(graph, params, outputs, None)

    def merged_program(self, replay: ModuleType, params: Sequence[Value]) -> Any:
        """The program for all labels at once, or False if their graphs differ in shape."""
        if self.merged is None:
            graph = merge_traces(list(self.traces.values()), self.n_x, self.n_y)
            self.merged = False if graph is None else self._build(replay, graph, params)
        return self.merged

    def label_program(self, replay: ModuleType, params: Sequence[Value], key: Any) -> Any:
        """The program for the samples with one label key (:func:`label_key`)."""
        if key not in self.per_label:
            graph = single_graph(self.traces[key], self.n_x, self.n_y)
            self.per_label[key] = self._build(replay, graph, params)
        return self.per_label[key]

    @property
    def output_layout(self) -> Any:
        return next(iter(self.traces.values())).output_layout


class Lane:
    """A batch shaped like the last one (arrays of the same dtypes and sample shape, labels
    already traced) goes straight to the program that ran it.

    The general path groups the samples by layout, finds their variant, traces new labels,
    checks the first batch and plans the programs: a few dozen Python calls, as much as
    the whole replay of a small model at batch 1. A lane is made by the general path when
    it ran one program on the whole batch, and only repeats what that path would do for
    such a batch; anything else (lists, a new label, another shape) returns None and takes
    the general path, which raises what is wrong.
    """

    __slots__ = ("key", "labels", "loss", "program", "variant")

    def __init__(self, loss: Any, key: Any, variant: Any, program: Any, labels: bool) -> None:
        self.loss, self.key, self.variant = loss, key, variant
        self.program, self.labels = program, labels

    @classmethod
    def after(cls, loss: Any, X: Any, y: Any, runs: list[Any]) -> Lane | None:
        """The lane for batches like this one, if the general path ran it as one program."""
        np = loss._np
        if type(X) is not np.ndarray or type(y) is not np.ndarray or loss.check == "every-batch":
            return None
        (group, variant, (program, members, codes)), *others = runs
        if others or members is not None or group.indices is not None:
            return None
        if loss.check == "first-batch" and not variant.checked:
            return None
        labels = group.label_array is not None
        if labels and (codes is None or program is not variant.merged):
            return None
        if not labels and group.y.shape[1] != 1:
            return None
        return cls(loss, (X.dtype, X.shape[1:], y.dtype, y.shape[1:]), variant, program, labels)

    def run(self, X: Any, y: Any, theta: Any) -> Any:
        """What ``CompiledLoss._run`` returns for this batch, or None if it is not the lane's."""
        loss = self.loss
        np = loss._np
        if type(X) is not np.ndarray or type(y) is not np.ndarray:
            return None
        n = X.shape[0] if X.ndim else 0
        if (X.dtype, X.shape[1:], y.dtype, y.shape[1:]) != self.key or not n or len(y) != n:
            return None
        variant, program = self.variant, self.program
        if self.labels:
            codes = variant.codes_for(np, y)
            if codes is None or program is not variant.merged:
                return None  # a label not traced yet: the general path traces it
            targets = np.empty((n, 0))
        else:
            codes, targets = None, y.reshape(n, 1).astype(float, copy=False)
        x = X.reshape(n, -1).astype(float, copy=False)
        roots, grads, free = program.run(x, targets, codes, 1.0 / n, theta)
        loss._last, loss._last_size = [(None, variant.output_layout, roots[1:])], n
        used = None if program.uses_all else program.used_index
        return ieee_fsum(roots[0].tolist()) * (1.0 / n), grads, used, [(program, free)]
