"""Straight-line code: a program's instructions written out as two Python functions per width.

Interpreting the instruction list costs, per instruction, a method call, a lookup of each
operand's view of the table and a few branches on the operand's kind: at batch 1, where
each numpy call is on a few dozen numbers, that bookkeeping costs more than the
arithmetic. For one batch width the tables are fixed, so every view, index and kernel can
be resolved once: :func:`generate` asks each instruction to write its numpy calls as
source lines (``emit_forward`` / ``emit_backward``) against names bound to those objects,
and compiles ``forward(x)`` and ``backward(x)`` from them. An instruction without an emitter
is written as a call of its own method, so every instruction replays, and the numbers are
the interpreter's: the lines are the same numpy operations in the same order.

``x`` is the batch's inputs, one column per sample, passed at every call: lines that read
input rows read them there (a read-only view of the caller's array), so the batch is not
copied into the value table first (a transposing copy of every input of every sample, at
every step). When something reads input rows through the table instead (an instruction
called through its method, a pick by label, a gather that is not a slice, a root that is
an input), :attr:`Emitter.table_inputs` says so, and the caller copies the inputs there.

Why the lines look as they do: results go into their rows with ``out=`` (no temporary and
copy), and reductions are the ufuncs' own (``np.add.reduce``, ``np.maximum.reduce``),
which ``ndarray.sum`` and ``max`` reach through a Python wrapper, a large part of their
cost on the small blocks of a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._gather import BATCH, UNIFORM, Gather

__all__ = ["Emitter", "generate"]


class Emitter:
    """Source lines, and the namespace of the objects they name, for one batch width.

    Going back, the gradient tables are not zeroed before each call: the emitter tracks
    which rows this call has written so far (``fresh``: not yet). The first contribution
    to a fresh row assigns it, a later one adds to it, and a row read while fresh (or by
    an instruction that is called, whose reads are not known here) is zeroed first, so
    every gradient is the sum it was, without a pass over the tables to clear them.
    """

    def __init__(
        self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], ctx: Any, inputs: int = 0
    ) -> None:
        self.stores, self.grads, self.ctx = stores, grads, ctx
        self.width = stores[0].shape[-1]
        self.inputs = inputs  # rows 0 .. inputs - 1 of V are the batch's inputs
        self.table_inputs = False  # whether a line reads them from V (then V must hold them)
        self.namespace: dict[str, Any] = {"np": np, "stores": stores, "grads": grads, "ctx": ctx}
        self.lines: list[str] = []
        self.fresh: list[np.ndarray] | None = None  # per gradient table, while going back
        self.memo: dict[int, str] = {}  # what an instruction keeps between its two halves
        self._names: dict[int, str] = {}
        self._temps = 0

    def name(self, obj: Any, hint: str = "k") -> str:
        """A name bound to ``obj`` (the same name for the same object).

        V itself named here may be read anywhere, input rows included: index it through
        :meth:`value_table` instead, which says which rows.
        """
        if obj is self.stores[BATCH]:
            self.table_inputs = True
        return self._bind(obj, hint)

    def value_table(self, rows: np.ndarray) -> str:
        """The name of V, for a line that reads the given rows of it by indexing."""
        self.reads_rows(BATCH, np.asarray(rows).ravel())
        return self._bind(self.stores[BATCH], "t")

    def _bind(self, obj: Any, hint: str) -> str:
        key = id(obj)
        found = self._names.get(key)
        if found is None:
            found = f"{hint}{len(self.namespace)}"
            self.namespace[found] = obj  # which also keeps obj, and so its id, alive
            self._names[key] = found
        return found

    def temp(self) -> str:
        """A fresh local variable."""
        self._temps += 1
        return f"_{self._temps}"

    def line(self, text: str) -> None:
        self.lines.append(text)

    # ---- reading and writing values --------------------------------------------------

    def read(self, rows: Gather, grads: bool = False) -> str:
        """An expression for the rows' values (or gradients): a bound view, or a gather."""
        if grads:
            self.initialise(rows.store, _flat(rows))
        elif rows.store == BATCH:
            inputs = self._inputs(rows)
            if inputs is not None:
                return inputs
            self.reads_rows(BATCH, _flat(rows))
        table = (self.grads if grads else self.stores)[rows.store]
        view = rows.view(table)
        if view is not None:
            return self.name(view, "v")
        return f"{self._bind(table, 't')}[{self.name(rows.index, 'i')}]"

    def read_broadcast(self, rows: Gather) -> str:
        """As :meth:`read`, but one row read for every member is read once, as a view that
        broadcasts (a loss subtracting the picked logit from each of the 10 logits)."""
        row = _single_row(rows)
        if row is None:
            return self.read(rows)
        if rows.store == BATCH and row < self.inputs:
            return f"x[{row}:{row + 1}]"
        table = self.stores[rows.store]
        return self.name(table[row : row + 1], "v")

    def _inputs(self, rows: Gather) -> str | None:
        """The expression for rows that are a run of input rows, read from ``x``."""
        index = rows.index
        if not rows.sliced or len(rows.shape) != 1 or index.stop > self.inputs:
            return None
        if index.start == 0 and index.stop == self.inputs:
            return "x"
        return f"x[{index.start}:{index.stop}]"

    def reads_rows(self, store: int, flat: np.ndarray) -> None:
        """Note that a line reads these rows of a value table itself (not through ``x``)."""
        if store == BATCH and flat.size and int(flat.min()) < self.inputs:
            self.table_inputs = True

    def write(self, rows: Gather, expr: str) -> None:
        """Store ``expr`` into the rows (an instruction's own output rows)."""
        table = self.stores[rows.store]
        view = rows.view(table)
        if view is not None:
            self.line(f"{self.name(view, 'v')}[...] = {expr}")
        else:  # an instruction's output rows: never input rows
            self.line(f"{self._bind(table, 't')}[{self.name(rows.index, 'i')}] = {expr}")

    # ---- gradients -------------------------------------------------------------------

    def start_backward(self, seeded: tuple[int, int] | None) -> None:
        """Every gradient row is fresh but the seed's, which the caller sets."""
        self.fresh = [np.ones(table.shape[0], dtype=bool) for table in self.grads]
        if seeded is not None:
            store, row = seeded
            self.fresh[store][row] = False

    def add(self, rows: Gather, expr: str, width: int | None = None) -> None:
        """Add the gradient contribution ``expr`` into the rows, as :meth:`Gather.add`:
        assigned if they are fresh.

        ``width``: the contribution's last dimension when known to differ from the
        batch's (1 for a contribution already summed over samples).
        """
        width = self.width if width is None else width
        if rows.store == UNIFORM and width != 1:
            expr = f"np.add.reduce({expr}, axis=-1, keepdims=True)"
        table = self.grads[rows.store]
        row = _single_row(rows)
        if row is not None:  # read once for every member: the members' contributions sum
            view = self.name(table[row : row + 1], "v")
            op = self._assign(rows.store, np.array([row]))
            self.line(f"{view}[...] {op} np.add.reduce({expr}, axis=0, keepdims=True)")
            return
        if not rows.unique:  # rows read more than once: the Gather sums their contributions
            self.initialise(rows.store, _flat(rows))
            self.line(f"{self.name(rows, 'r')}.add(grads, {expr})")
            return
        op = self._assign(rows.store, _flat(rows))
        view = rows.view(table)
        if view is not None:
            name = self.name(view, "v")
            if len(rows.shape) > 1:
                expr = f"({expr}).reshape({name}.shape)"
            self.line(f"{name}[...] {op} {expr}")
        else:
            self.line(f"{self.name(table, 't')}[{self.name(rows.index, 'i')}] {op} {expr}")

    def add_call(self, rows: Gather, function: str, args: str, width: int | None = None) -> None:
        """Add the result of the NumPy call ``function(args)`` into the rows, as :meth:`add`,
        but computed straight into them (``out=``) when they are a view and all fresh: no
        temporary, no copy. The result has the rows' shape; for uniform rows, already
        summed over samples (``width=1``) and without the table's one column."""
        uniform = rows.store == UNIFORM
        summed = (self.width if width is None else width) == 1
        target = self.assignable(rows) if summed or not uniform else None
        if target is None:
            self.add(rows, f"{function}({args})" + ("[..., None]" if uniform else ""), width)
            return
        if uniform:
            target = target[..., 0]
        self.line(f"{function}({args}, out={self.name(target, 'v')})")

    def assignable(self, rows: Gather) -> np.ndarray | None:
        """A view of the gradient rows to write a result into (``out=``), if they are a
        view and all fresh; they then count as written."""
        view = rows.view(self.grads[rows.store])
        if self.fresh is None or view is None or not self.fresh[rows.store][_flat(rows)].all():
            return None
        self._assign(rows.store, _flat(rows))
        return view

    def _assign(self, store: int, flat: np.ndarray) -> str:
        """``=`` if every row is fresh (then written), else ``+=`` (fresh ones zeroed)."""
        if self.fresh is None:
            return "+="
        fresh = self.fresh[store][flat]
        if fresh.all():
            self.fresh[store][flat] = False
            return "="
        self.initialise(store, flat)
        return "+="

    def initialise(self, store: int, flat: np.ndarray) -> None:
        """Zero the rows among ``flat`` that are still fresh."""
        if self.fresh is None:
            return
        fresh = self.fresh[store]
        rows = np.unique(flat[fresh[flat]])
        if rows.size == 0:
            return
        fresh[rows] = False
        table = self.name(self.grads[store], "t")
        if rows[-1] - rows[0] + 1 == rows.size:
            self.line(f"{table}[{int(rows[0])}:{int(rows[-1]) + 1}] = 0.0")
        else:
            self.line(f"{table}[{self.name(rows, 'i')}] = 0.0")

    def initialise_rows_of(self, instruction: Any) -> None:
        """Zero the fresh rows among those an instruction reads through its gathers (before
        it is called: a called instruction reads and adds gradients only through them)."""
        for rows in _gathers(instruction):
            self.initialise(rows.store, _flat(rows))

    def call(self, instruction: Any, half: str) -> None:
        """A line calling the instruction's ``forward`` or ``backward`` method. It reads the
        tables through its gathers only, so input rows among them must be in V."""
        for rows in _gathers(instruction):
            self.reads_rows(rows.store, _flat(rows))
        if half == "forward":
            self.line(f"{self.name(instruction, 'op')}.forward(stores, ctx)")
        else:
            self.initialise_rows_of(instruction)
            self.line(f"{self.name(instruction, 'op')}.backward(stores, grads, ctx)")


def _gathers(obj: Any, seen: set[int] | None = None) -> list[Gather]:
    """Every :class:`Gather` an instruction holds, in its attributes and theirs."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, Gather):
        return [obj]
    if isinstance(obj, (list, tuple)):
        children = list(obj)
    elif hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    else:
        return []
    found = []
    for child in children:
        if not isinstance(child, (np.ndarray, str, int, float, bool, type(None))):
            found.extend(_gathers(child, seen))
    return found


def _flat(rows: Gather) -> np.ndarray:
    """The table rows a gather names, flat."""
    index = rows.index
    if isinstance(index, slice):
        return np.arange(index.start, index.stop)
    return np.asarray(index).ravel()


def _single_row(rows: Gather) -> int | None:
    """The row, if a one-dimensional gather reads one row for every member (at least two)."""
    if rows.unique or len(rows.shape) != 1:
        return None
    index = rows.index
    first = int(index[0])
    return first if bool((index == first).all()) else None


def generate(
    instructions: Sequence[Any],
    backward_instructions: Sequence[Any],
    stores: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    ctx: Any,
    seeded: tuple[int, int] | None,
    needed: Sequence[np.ndarray],
    inputs: int = 0,
) -> tuple[Callable[[np.ndarray], None], Callable[[np.ndarray], None], str, bool]:
    """``forward(x)`` and ``backward(x)`` for these tables, their source, and whether they
    read input rows from the table (then the caller must write ``x`` there first).

    ``seeded``: the (table, row) the caller seeds before ``backward()``; ``needed``: per
    table, the gradient rows read after it (parameters, free leaves, embedding lookups),
    which it leaves written or zeroed; ``inputs``: how many of V's first rows are inputs.
    """
    emitter = Emitter(stores, grads, ctx, inputs)
    for instruction in instructions:
        emit = getattr(instruction, "emit_forward", None)
        if emit is None or not emit(emitter):
            emitter.call(instruction, "forward")
    forward = emitter.lines
    emitter.lines = []
    emitter.start_backward(seeded)
    for instruction in backward_instructions:
        emit = getattr(instruction, "emit_backward", None)
        if emit is None or not emit(emitter):
            emitter.call(instruction, "backward")
    for store, rows in enumerate(needed):
        emitter.initialise(store, np.asarray(rows, dtype=np.intp))
    source = _function("forward", forward) + "\n" + _function("backward", emitter.lines)
    namespace = emitter.namespace
    exec(compile(source, "<autograd_lite compiled program>", "exec"), namespace)
    return namespace["forward"], namespace["backward"], source, emitter.table_inputs


def _function(name: str, lines: list[str]) -> str:
    body = "\n".join(f"    {line}" for line in lines) or "    pass"
    return f"def {name}(x):\n{body}\n"
