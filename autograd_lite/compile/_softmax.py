"""Softmaxes recognised in the trace and replayed as one instruction, not a chain of five.

The engine's ``softmax(v)`` records, per input ``v_k``: ``L = logsumexp(v)``, ``-L``,
``a_k = v_k + -L``, ``t_k = exp(a_k)``, ``T = sum(t)`` and ``s_k = t_k / T``. Replayed node
by node, that is two ``exp`` per weight (one inside the logsumexp, one for ``t_k``), and
going back five instructions whose gradients are gathered into and out of the value table
between them. An attention layer has a softmax at every position and head, so this chain
was a large share of a GPT's step.

:func:`fuse_softmaxes` finds the chain wherever the intermediate nodes serve it alone and
rewires each live output ``s_k`` to read the inputs ``v`` directly; :class:`Softmax`
computes a group of them with one ``exp`` per weight, ``exp(v - max) / sum``, and going
back ``s * (g - sum(s * g))``. Both agree with the engine's numbers within rounding
while every number is finite (tests/test_compile_softmax.py holds them to 1e-12). Where
a sum or an incoming gradient is infinite or nan, the gradient is the engine's own
chain, operation for operation (:meth:`Softmax.engine_gradient`), so that nan stays
where the engine puts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_lite.compile._codegen import Emitter
from autograd_lite.compile._gather import Gather
from autograd_lite.compile._instructions import Instruction, PaddedSlots

if TYPE_CHECKING:
    from autograd_lite.compile._lower import Wiring

__all__ = ["Softmax", "fuse_softmaxes"]


def fuse_softmaxes(
    wiring: Wiring, live: set[int], roots: Sequence[int], batch: dict[int, bool]
) -> int:
    """Rewire every softmax of per-sample inputs whose inner nodes serve it alone; returns
    how many.

    Each live output ``s_k`` gets the inputs ``v`` as its operands and is noted in
    ``wiring.fused`` as (softmax, k). The inner nodes are then read by nothing: the caller
    recomputes what is live, and they drop out. ``batch``: whether each live node is
    per-sample.
    """
    users: dict[int, list[int]] = {}
    for position in live:
        for parent in wiring.parents(position):
            users.setdefault(parent, []).append(position)
    count = 0
    for position in sorted(live):
        if _kernel(wiring, position) != "sum":
            continue
        found = _chain(wiring, users, set(roots), position)
        if found is None:
            continue
        inputs, outputs = found
        if not all(batch[v] for v in inputs):
            continue
        for k, s in outputs:
            wiring.operands[s] = list(inputs)
            wiring.fused[s] = (count, k)
        count += 1
    return count


def _chain(
    wiring: Wiring, users: dict[int, list[int]], roots: set[int], total: int
) -> tuple[list[int], list[tuple[int, int]]] | None:
    """(inputs v, live outputs (k, s_k)) of the softmax whose sum of terms is ``total``, or
    None unless ``total`` sums ``exp(v_k + -L)`` for ``L = logsumexp(v)``, k in order, and
    every inner node serves only this softmax and is no root."""
    operands = wiring.operands
    terms = operands[total]
    if not terms:
        return None
    shifted = [operands[t][0] if _kernel(wiring, t) == "exp" else None for t in terms]
    if None in shifted or any(_kernel(wiring, a) != "add" for a in shifted):
        return None
    negated = [operands[a][1] for a in shifted]
    if any(_kernel(wiring, n) != "neg" for n in negated):
        return None
    lse = operands[negated[0]][0]
    inputs = operands[lse] if _kernel(wiring, lse) == "logsumexp" else None
    if inputs is None or [operands[a][0] for a in shifted] != inputs:
        return None
    if any(operands[n][0] != lse for n in negated):
        return None
    outputs = []
    for user in users.get(total, ()):
        if _kernel(wiring, user) != "div" or operands[user][1] != total:
            return None
        if operands[user][0] not in terms:
            return None
        outputs.append((terms.index(operands[user][0]), user))
    divided = {s for _, s in outputs}
    negations = set(users.get(lse, ()))
    serves_only = (
        len(set(terms)) == len(terms) == len(set(shifted))
        and len({k for k, _ in outputs}) == len(outputs)
        and not roots.intersection([lse, total, *negations, *shifted, *terms])
        and all(_kernel(wiring, n) == "neg" for n in negations)
        and all(set(users.get(n, ())) <= set(shifted) for n in negations)
        and all(users.get(a, ()) == [t] for a, t in zip(shifted, terms))
        and all(set(users.get(t, ())) <= divided | {total} for t in terms)
    )
    return (list(inputs), outputs) if serves_only else None


def _kernel(wiring: Wiring, position: int) -> Any:
    """The kernel name of an operation's position; None for leaves and picks."""
    if wiring.is_pick(position) or position not in wiring.operands:
        return None
    return wiring.entries[position][0]


class Softmax(Instruction):
    """Softmax outputs of per-sample inputs, of any lengths: ``exp(x - max) / sum`` over a
    (longest × softmaxes × samples) block padded with -inf (see :class:`PaddedSlots`).

    ``cells``: each member's cell of the flattened block (member m is output k of softmax
    i: cell ``k * softmaxes + i``). Outputs that nothing reads are computed (the others'
    sum needs them) but not stored.
    """

    def __init__(self, out: Gather, inputs: list[list[int]], cells: np.ndarray) -> None:
        self.out = out
        self.slots = PaddedSlots(inputs, -np.inf)
        self.cells = cells

    def emit_forward(self, e: Emitter) -> bool:
        """Keeps the softmax block and the sums (arrays made once per width) for the way back."""
        slots, width = self.slots, e.width
        x, m = slots.emit_stack(e), e.temp()
        # The pads' terms stay 0: only real cells are exponentiated (exp is the dearest
        # elementwise call, and a causal softmax's block is nearly half pads).
        terms = e.name(np.zeros((slots.n, slots.k, width)), "t")
        total = e.name(np.empty((slots.k, width)), "t")
        soft = e.name(np.empty((slots.n, slots.k, width)), "t")
        real = e.name(slots.real_cells(width), "k")
        e.memo[id(self)] = (soft, total)
        e.line(f"{m} = np.maximum.reduce({x}, axis=0)")
        e.line(f"np.subtract({x}, {m}[None], out={terms}, where={real})")
        e.line(f"np.exp({terms}, out={terms}, where={real})")
        e.line(f"np.add.reduce({terms}, axis=0, out={total})")
        e.line(f"np.divide({terms}, {total}[None], out={soft})")
        cells = e.name(self.cells, "i")
        e.write(self.out, f"np.take({soft}.reshape({slots.n * slots.k}, {width}), {cells}, axis=0)")
        return True

    def emit_backward(self, e: Emitter) -> bool:
        """``s * (g - sum(s * g))`` while every sum and gradient is finite, else the
        engine's chain (:meth:`engine_gradient`)."""
        slots, width = self.slots, e.width
        soft, total = e.memo[id(self)]
        g = e.read(self.out, grads=True)
        if not g.isidentifier():  # a gather: once, into a local
            g, gathered = e.temp(), g
            e.line(f"{g} = {gathered}")
        # Cells of outputs nothing reads, and pads, keep the 0 they were made with.
        block = np.zeros((slots.n * slots.k, width))
        flat = e.name(block, "t")
        e.line(f"{flat}[{e.name(self.cells, 'i')}] = {g}")
        g_block = e.name(block.reshape(slots.n, slots.k, width), "v")
        weighted, dx = e.temp(), e.temp()
        e.line(f"if np.isfinite({total}).all() and np.isfinite({g}).all():")
        e.line(f"    {weighted} = {soft} * {g_block}")
        e.line(f"    {dx} = {soft} * ({g_block} - np.add.reduce({weighted}, axis=0)[None])")
        e.line("else:")
        e.line(f"    {dx} = {e.name(self, 'op')}.engine_gradient({slots.emit_stack(e)}, {g_block})")
        slots.emit_add(e, dx)
        return True

    def engine_gradient(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The inputs' gradient by the engine's own chain, each operation as the engine
        does it (its local derivative times the gradient), for sums or gradients that are
        not finite: ``x`` and ``g`` are (longest × softmaxes × samples) blocks."""
        real = self.slots.real_cells(x.shape[-1])
        read = np.zeros(real.shape, dtype=bool)
        read.reshape(-1, x.shape[-1])[self.cells] = True
        with np.errstate(all="ignore"):
            m = np.max(x, axis=0)
            shifted = np.zeros_like(x)
            np.subtract(x, m[None], out=shifted, where=real)
            lse_terms = np.exp(shifted, where=real, out=np.zeros_like(x))
            lse = np.where(np.isfinite(m), m + np.log(lse_terms.sum(axis=0)), m)
            terms = np.exp(x + -lse[None], where=real, out=np.zeros_like(x))
            total = np.add.reduce(terms, axis=0)
            soft = terms / total[None]
            # Going back: the divisions, the sum, the exps, the additions, the logsumexp.
            d_total = np.add.reduce(np.where(read, -(soft / total[None]) * g, 0.0), axis=0)
            d_terms = np.where(read, (1.0 / total[None]) * g, 0.0) + 1.0 * d_total[None]
            d_shifted = np.where(real, terms * d_terms, 0.0)
            d_lse = np.add.reduce(-1.0 * (1.0 * d_shifted), axis=0)
            d_x = 1.0 * d_shifted + np.exp(x - lse[None]) * d_lse[None]
        return np.where(real, d_x, 0.0)
