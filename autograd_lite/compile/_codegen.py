"""Straight-line code: a program's instructions written out as two Python functions per width.

Interpreting the instruction list costs, per instruction, a method call, a lookup of each
operand's view of the table and a few branches on the operand's kind: at batch 1, where
each numpy call is on a few dozen numbers, that bookkeeping costs more than the
arithmetic. For one batch width the tables are fixed, so every view, index and kernel can
be resolved once: :func:`generate` asks each instruction to write its numpy calls as
source lines (``emit_forward`` / ``emit_backward``) against names bound to those objects,
and compiles ``forward()`` and ``backward()`` from them. An instruction without an emitter
is written as a call of its own method, so every instruction replays, and the numbers are
the interpreter's: the lines are the same numpy operations in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._gather import UNIFORM, Gather

__all__ = ["Emitter", "generate"]


class Emitter:
    """Source lines, and the namespace of the objects they name, for one batch width."""

    def __init__(self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], ctx: Any) -> None:
        self.stores, self.grads, self.ctx = stores, grads, ctx
        self.width = stores[0].shape[-1]
        self.namespace: dict[str, Any] = {"np": np, "stores": stores, "grads": grads, "ctx": ctx}
        self.lines: list[str] = []
        self._names: dict[int, str] = {}
        self._temps = 0

    def name(self, obj: Any, hint: str = "k") -> str:
        """A name bound to ``obj`` (the same name for the same object)."""
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

    def read(self, rows: Gather, grads: bool = False) -> str:
        """An expression for the rows' values (or gradients): a bound view, or a gather."""
        table = (self.grads if grads else self.stores)[rows.store]
        view = rows.view(table)
        if view is not None:
            return self.name(view, "v")
        return f"{self.name(table, 't')}[{self.name(rows.index, 'i')}]"

    def read_broadcast(self, rows: Gather) -> str:
        """As :meth:`read`, but one row read for every member is read once, as a view that
        broadcasts (a loss subtracting the picked logit from each of the 10 logits)."""
        row = _single_row(rows)
        if row is None:
            return self.read(rows)
        table = self.stores[rows.store]
        return self.name(table[row : row + 1], "v")

    def write(self, rows: Gather, expr: str) -> None:
        """Store ``expr`` into the rows (an instruction's own output rows)."""
        table = self.stores[rows.store]
        view = rows.view(table)
        if view is not None:
            self.line(f"{self.name(view, 'v')}[...] = {expr}")
        else:
            self.line(f"{self.name(table, 't')}[{self.name(rows.index, 'i')}] = {expr}")

    def add(self, rows: Gather, expr: str, width: int | None = None) -> None:
        """Add the gradient contribution ``expr`` into the rows, as :meth:`Gather.add`.

        ``width``: the contribution's last dimension when known to differ from the
        batch's (1 for a contribution already summed over samples).
        """
        width = self.width if width is None else width
        if rows.store == UNIFORM and width != 1:
            expr = f"({expr}).sum(axis=-1, keepdims=True)"
        row = _single_row(rows)
        if row is not None:  # read once for every member: the members' contributions sum
            view = self.name(self.grads[rows.store][row : row + 1], "v")
            self.line(f"{view}[...] += ({expr}).sum(axis=0, keepdims=True)")
            return
        table = self.grads[rows.store]
        view = rows.view(table)
        if view is not None:
            name = self.name(view, "v")
            if len(rows.shape) > 1:
                expr = f"({expr}).reshape({name}.shape)"
            self.line(f"{name}[...] += {expr}")
        elif rows.unique:
            self.line(f"{self.name(table, 't')}[{self.name(rows.index, 'i')}] += {expr}")
        else:  # rows read more than once: the Gather sums their contributions
            self.line(f"{self.name(rows, 'r')}.add(grads, {expr})")


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
) -> tuple[Callable[[], None], Callable[[], None], str]:
    """``forward()`` and ``backward()`` for these tables, and their source."""
    emitter = Emitter(stores, grads, ctx)
    sources = []
    for function, steps, method in (
        ("forward", instructions, "emit_forward"),
        ("backward", backward_instructions, "emit_backward"),
    ):
        emitter.lines = []
        for instruction in steps:
            emit = getattr(instruction, method, None)
            if emit is None or not emit(emitter):
                call = (
                    "forward(stores, ctx)"
                    if function == "forward"
                    else "backward(stores, grads, ctx)"
                )
                emitter.line(f"{emitter.name(instruction, 'op')}.{call}")
        body = "\n".join(f"    {line}" for line in emitter.lines) or "    pass"
        sources.append(f"def {function}():\n{body}\n")
    source = "\n".join(sources)
    namespace = emitter.namespace
    exec(compile(source, "<autograd_lite compiled program>", "exec"), namespace)  # noqa: S102
    return namespace["forward"], namespace["backward"], source
