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

Parameters are read the same way: a trainer keeps them in a vector of its own, and the
lines read them through names bound to views of U's parameter rows (a layer's weight
matrix, its biases). :class:`ParameterViews` can point those names at read-only views of
the trainer's vector instead, with the same offsets and strides, so the vector is not
copied into U before every call (a pass over every weight). When a line reads parameter
rows through U itself (a gather, an instruction called through its method),
:attr:`Emitter.table_params` says so, and the caller copies the parameters there.

Why the lines look as they do: results go into their rows with ``out=`` (no temporary and
copy), and reductions are the ufuncs' own (``np.add.reduce``, ``np.maximum.reduce``),
which ``ndarray.sum`` and ``max`` reach through a Python wrapper, a large part of their
cost on the small blocks of a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from autograd_lite.compile._gather import BATCH, UNIFORM, Gather

__all__ = ["Emitter", "Generated", "ParameterViews", "generate"]


class Emitter:
    """Source lines, and the namespace of the objects they name, for one batch width.

    Going back, the gradient tables are not zeroed before each call: the emitter tracks
    which rows this call has written so far (``fresh``: not yet). The first contribution
    to a fresh row assigns it, a later one adds to it, and a row read while fresh (or by
    an instruction that is called, whose reads are not known here) is zeroed first, so
    every gradient is the sum it was, without a pass over the tables to clear them.
    """

    def __init__(
        self,
        stores: Sequence[np.ndarray],
        grads: Sequence[np.ndarray],
        ctx: Any,
        inputs: int = 0,
        params: int = 0,
    ) -> None:
        self.stores, self.grads, self.ctx = stores, grads, ctx
        self.width = stores[0].shape[-1]
        self.inputs = inputs  # rows 0 .. inputs - 1 of V are the batch's inputs
        self.table_inputs = False  # whether a line reads them from V (then V must hold them)
        self.params = params  # rows 0 .. params - 1 of U are the parameters
        self.table_params = False  # whether a line reads them from U (then U must hold them)
        self.namespace: dict[str, Any] = {"np": np, "stores": stores, "grads": grads, "ctx": ctx}
        self.param_views = ParameterViews(self.namespace, stores[UNIFORM][:params, 0])
        self.lines: list[str] = []
        self.fresh: list[np.ndarray] | None = None  # per gradient table, while going back
        self.memo: dict[int, str] = {}  # what an instruction keeps between its two halves
        self._names: dict[int, str] = {}
        self._temps = 0

    def name(self, obj: Any, hint: str = "k") -> str:
        """A name bound to ``obj`` (the same name for the same object), which a line reads.

        V or U itself named here may be read anywhere, input and parameter rows included:
        index V through :meth:`value_table` instead, which says which rows. A view of
        parameter rows is noted in :attr:`param_views`; an object holding gathers (an
        instruction) reads the rows they name.
        """
        if obj is self.stores[BATCH]:
            self.table_inputs = True
        if obj is self.stores[UNIFORM]:
            self.table_params = True
        new = id(obj) not in self._names
        found = self._bind(obj, hint)
        if not new:
            return found
        if isinstance(obj, np.ndarray):
            if not self.param_views.add(found, obj):
                self.table_params = True  # it reaches past the parameter rows into them
        else:
            for rows in _gathers(obj):
                self.reads_rows(rows.store, _flat(rows))
        return found

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
        if not grads:
            self.reads_rows(rows.store, _flat(rows))
        return f"np.take({self._bind(table, 't')}, {self.name(rows.index, 'i')}, axis=0)"

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
        """Note that a line reads these rows of a value table itself (not through ``x`` or a
        view of the parameters)."""
        if not flat.size:
            return
        if store == BATCH and int(flat.min()) < self.inputs:
            self.table_inputs = True
        if store == UNIFORM and int(flat.min()) < self.params:
            self.table_params = True

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
            self.line(f"{self._bind(rows, 'r')}.add(grads, {expr})")  # writes grads only
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


class ParameterViews:
    """The names bound to views of U's parameter rows, and the vector they view now.

    :meth:`bind` points every such name at a view of a parameter vector (the trainer's) with
    the view's own offset and strides: what ``U[a:b, 0]`` showed of U's rows, the new view
    shows of the vector. ``bind(None)`` points them back at U's rows. The vector's views are
    read-only, so a line that tried to write one would raise rather than change it.
    """

    def __init__(self, namespace: dict[str, Any], rows: np.ndarray) -> None:
        self.namespace = namespace
        self.rows = rows  # U's parameter rows, one float each, contiguous
        self.own: dict[str, np.ndarray] = {}  # name -> its view of U
        self.bound: np.ndarray | None = None  # the vector the names view (None: U's rows)

    def add(self, name: str, view: np.ndarray) -> bool:
        """Note ``name`` if ``view`` lies within the parameter rows. False if it lies partly
        within them (then only U holding the parameters makes it right)."""
        start, stop = _extent(view, self.rows)
        if stop <= 0 or start >= self.rows.nbytes:
            return True  # elsewhere
        if start < 0 or stop > self.rows.nbytes or view.dtype != self.rows.dtype:
            return False
        self.own[name] = view
        return True

    def bind(self, vector: np.ndarray | None) -> None:
        """View ``vector`` (float64, C order, one entry per parameter), or U's rows (None)."""
        if vector is self.bound:
            return
        base = _address(self.rows)
        for name, view in self.own.items():
            if vector is None:
                self.namespace[name] = view
                continue
            offset = _address(view) - base
            moved = np.ndarray(view.shape, view.dtype, vector, offset, view.strides)
            moved.flags.writeable = False
            self.namespace[name] = moved
        self.bound = vector


def _address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])


def _extent(view: np.ndarray, rows: np.ndarray) -> tuple[int, int]:
    """The bytes ``view`` spans, as offsets from the start of ``rows``: [start, stop)."""
    start = _address(view) - _address(rows)
    low = sum((n - 1) * s for n, s in zip(view.shape, view.strides) if s < 0)
    high = sum((n - 1) * s for n, s in zip(view.shape, view.strides) if s > 0)
    if view.size == 0:
        return start, start
    return start + low, start + high + view.itemsize


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
    params: int = 0,
) -> Generated:
    """``forward(x)`` and ``backward(x)`` for these tables, and what they read where.

    ``seeded``: the (table, row) the caller seeds before ``backward()``; ``needed``: per
    table, the gradient rows read after it (parameters, free leaves, embedding lookups),
    which it leaves written or zeroed; ``inputs``: how many of V's first rows are inputs;
    ``params``: how many of U's first rows are parameters.
    """
    emitter = Emitter(stores, grads, ctx, inputs, params)
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
    return Generated(
        namespace["forward"],
        namespace["backward"],
        source,
        emitter.table_inputs,
        emitter.table_params,
        emitter.param_views,
    )


class Generated(NamedTuple):
    """A program written out for one width. ``table_inputs`` / ``table_params``: whether a
    line reads input / parameter rows from the tables (then the caller writes them there);
    ``param_views``: the names that read parameters, to bind to a parameter vector."""

    forward: Callable[[np.ndarray], None]
    backward: Callable[[np.ndarray], None]
    source: str
    table_inputs: bool
    table_params: bool
    param_views: ParameterViews


def _function(name: str, lines: list[str]) -> str:
    body = "\n".join(f"    {line}" for line in lines) or "    pass"
    return f"def {name}(x):\n{body}\n"
