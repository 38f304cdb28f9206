"""Instructions: one numpy operation over a block of rows, forward and backward.

A group of nodes of one level applying one kernel becomes one instruction: an
element-wise kernel over a block (:class:`Elementwise`), n-ary sums (:class:`Sum`,
:class:`LogSumExp`), a layer's neurons as a matrix product (:class:`Dot`, and
:class:`DotActivation` for neurons fused with their activation), or the per-sample
choice of a label's operand (:class:`Pick`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._bilinear import batch_pairs, ragged_pairs
from autograd_lite.compile._codegen import Emitter
from autograd_lite.compile._gather import BATCH, UNIFORM, Gather
from autograd_lite.compile._kernels import Kernel
from autograd_lite.compile._matmul import weight_input_pairs

__all__ = [
    "Context",
    "Dot",
    "DotActivation",
    "Elementwise",
    "Instruction",
    "LogSumExp",
    "PaddedSlots",
    "Pick",
    "RaggedDot",
    "RaggedSum",
    "Slots",
    "Sum",
]


class Context:
    """Per-call facts an instruction may need: the batch width and the label codes."""

    __slots__ = ("codes", "columns", "gathered", "targets", "tokens", "width")

    def __init__(self, width: int, codes: np.ndarray | None) -> None:
        self.width = width
        self.codes = codes
        self.columns = np.arange(width)
        self.tokens: np.ndarray | None = None  # samples × positions, for token sequences
        self.targets: np.ndarray | None = None
        self.gathered: list[np.ndarray] = []  # the parameter rows each token read


class Instruction:
    out: Gather

    def forward(self, stores: Sequence[np.ndarray], ctx: Context) -> None:
        raise NotImplementedError

    def backward(
        self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], ctx: Context
    ) -> None:
        raise NotImplementedError


class Elementwise(Instruction):
    """One kernel applied to a block of rows (unary, binary, or a custom primitive)."""

    def __init__(
        self, kernel: Kernel, out: Gather, operands: list[Gather], need: list[bool]
    ) -> None:
        self.kernel = kernel
        self.out = out
        self.operands = operands
        self.need = need

    def forward(self, stores, ctx):
        args = [o.fetch(stores) for o in self.operands]
        stores[self.out.store][self.out.index] = self.kernel.forward(*args)

    def backward(self, stores, grads, ctx):
        args = [o.fetch(stores) for o in self.operands]
        out = self.out.fetch(stores)
        g = self.out.fetch(grads)
        locals_ = self.kernel.local(args, out, self.need)
        for operand, local, need in zip(self.operands, locals_, self.need):
            if need:
                # local * grad, in the engine's order, so 0 * inf gives nan here too.
                operand.add(grads, g if type(local) is float and local == 1.0 else local * g)

    def emit_forward(self, e: Emitter) -> bool:
        args = ", ".join(_operand(e, o) for o in self.operands)
        out = e.read(self.out)
        if self.kernel.ufunc is not None and "[" not in out:  # written into its view
            e.line(f"{self.kernel.ufunc}({args}, out={out})")
        else:
            e.write(self.out, f"{e.name(self.kernel.forward, 'f')}({args})")
        return True

    def emit_backward(self, e: Emitter) -> bool:
        g = e.read(self.out, grads=True)
        if self.kernel.unit_locals:  # add: each operand's local derivative is 1.0
            for operand, need in zip(self.operands, self.need):
                if need:
                    e.add(operand, g)
            return True
        args = [_operand(e, o) for o in self.operands]
        locals_ = self.kernel.local_source(args, e.read(self.out))
        if locals_ is None:
            local = e.temp()
            call = f"{e.name(self.kernel.local, 'f')}(({', '.join(args)},), {e.read(self.out)}, "
            e.line(f"{local} = {call}{e.name(self.need, 'k')})")
            locals_ = [f"{local}[{i}]" for i in range(len(args))]
        for operand, local, need in zip(self.operands, locals_, self.need):
            if need:
                # local * grad, in the engine's order (1.0 * g is g, bit for bit).
                e.add(operand, f"{local} * {g}")
        return True


def _operand(e: Emitter, rows: Gather) -> str:
    """A name for an operand's rows: a bound view, or a local holding them gathered once."""
    expr = e.read_broadcast(rows)
    if "[" not in expr:
        return expr
    name = e.temp()
    e.line(f"{name} = {expr}")
    return name


class Slots:
    """The operands of n-ary nodes as a (members × slots) block, split by table."""

    axis = 1  # the slots' axis of the block, along which a member's operands reduce

    def __init__(self, rows: np.ndarray, batch_slots: np.ndarray) -> None:
        self.k, self.n = rows.shape
        self.batch_slots = np.flatnonzero(batch_slots)
        self.uniform_slots = np.flatnonzero(~batch_slots)
        self.batch = Gather(BATCH, rows[:, self.batch_slots]) if self.batch_slots.size else None
        self.uniform = (
            Gather(UNIFORM, rows[:, self.uniform_slots]) if self.uniform_slots.size else None
        )

    def stack(self, stores: Sequence[np.ndarray], width: int) -> np.ndarray:
        if self.uniform is None:
            return self.batch.fetch(stores)
        if self.batch is None:
            return self.uniform.fetch(stores)
        block = np.empty((self.k, self.n, width))
        block[:, self.batch_slots] = self.batch.fetch(stores)
        block[:, self.uniform_slots] = self.uniform.fetch(stores)
        return block

    def add(self, grads: Sequence[np.ndarray], contribution: np.ndarray) -> None:
        if self.uniform is None:
            self.batch.add(grads, contribution)
        elif self.batch is None:
            self.uniform.add(grads, contribution)
        else:
            self.batch.add(grads, contribution[:, self.batch_slots])
            self.uniform.add(grads, contribution[:, self.uniform_slots])


class PaddedSlots:
    """Per-sample operands of members of different lengths, as a (longest × members × samples)
    block padded with ``pad``: softmax's sums over positions 0..t, one group for every t.

    The pad is what leaves the result as it is: -0.0 for a sum (``x + -0.0`` is ``x``, even
    for -0.0), -inf for a logsumexp (it changes no maximum, and ``exp(-inf - m)`` is 0).
    Gradients of the pads are dropped. Operands go first (layer j holds every member's
    j-th operand) because NumPy reduces the first axis of a contiguous block by adding
    whole layers, in order, and a middle axis in inner loops only as long as the batch
    is wide.
    """

    axis = 0  # the operands' axis of the block, along which a member's operands reduce

    def __init__(self, rows: list[list[int]], pad: float) -> None:
        self.k, self.n = len(rows), max(len(r) for r in rows)
        self.rows = Gather(BATCH, np.concatenate([np.asarray(r, dtype=np.intp) for r in rows]))
        self.flat = np.concatenate([np.arange(len(r)) * self.k + m for m, r in enumerate(rows)])
        self.pad = pad

    def stack(self, stores: Sequence[np.ndarray], width: int) -> np.ndarray:
        block = np.full((self.n * self.k, width), self.pad)
        block[self.flat] = self.rows.fetch(stores)
        return block.reshape(self.n, self.k, width)

    def add(self, grads: Sequence[np.ndarray], contribution: np.ndarray) -> None:
        width = contribution.shape[-1]
        block = np.broadcast_to(contribution, (self.n, self.k, width)).reshape(-1, width)
        self.rows.add(grads, np.take(block, self.flat, axis=0))

    def real_cells(self, width: int) -> np.ndarray:
        """True where the (longest × members × samples) block holds a real entry."""
        cells = np.zeros((self.n * self.k, width), dtype=bool)
        cells[self.flat] = True
        return cells.reshape(self.n, self.k, width)

    def emit_stack(self, e: Emitter) -> str:
        """The padded block (longest × members × samples), filled by a line going forward.

        The block is made once per width with its pads in place, and going back it still
        holds the values stacked going forward: one scatter per call, no allocation.
        """
        name = e.memo.get(id(self))
        if name is None:
            block = np.full((self.n * self.k, e.width), self.pad)
            e.line(f"{e.name(block, 't')}[{e.name(self.flat, 'i')}] = {e.read(self.rows)}")
            name = e.name(block.reshape(self.n, self.k, e.width), "v")
            e.memo[id(self)] = name
        return name

    def emit_add(self, e: Emitter, contribution: str) -> None:
        """Add a (longest × members × samples) contribution into the real entries' rows."""
        flat = e.name(self.flat, "i")
        block = f"({contribution}).reshape({self.n * self.k}, {e.width})"
        e.add(self.rows, f"np.take({block}, {flat}, axis=0)")


class RaggedSum(Instruction):
    """``sum_values`` nodes of per-sample operands, of different lengths."""

    def __init__(self, out: Gather, slots: PaddedSlots) -> None:
        self.out = out
        self.slots = slots

    def forward(self, stores, ctx):
        total = self.slots.stack(stores, ctx.width).sum(axis=0)
        stores[self.out.store][self.out.index] = total

    def backward(self, stores, grads, ctx):
        self.slots.add(grads, self.out.fetch(grads)[None])

    def emit_forward(self, e: Emitter) -> bool:
        e.write(self.out, f"np.add.reduce({self.slots.emit_stack(e)}, axis=0)")
        return True

    def emit_backward(self, e: Emitter) -> bool:
        shape = (self.slots.n, self.slots.k, e.width)
        g = e.read(self.out, grads=True)
        self.slots.emit_add(e, f"np.broadcast_to({g}[None], {shape})")
        return True


class Sum(Instruction):
    """``sum_values`` nodes: the sum over each member's operands."""

    def __init__(self, out: Gather, slots: Slots) -> None:
        self.out = out
        self.slots = slots

    def forward(self, stores, ctx):
        slots = self.slots
        total = slots.batch.fetch(stores).sum(axis=1) if slots.batch is not None else 0.0
        if slots.uniform is not None:
            total = total + slots.uniform.fetch(stores).sum(axis=1)
        stores[self.out.store][self.out.index] = total

    def backward(self, stores, grads, ctx):
        g = self.out.fetch(grads)[:, None, :]
        slots = self.slots
        if slots.batch is not None:
            shape = (slots.k, slots.batch_slots.size, g.shape[-1])
            slots.batch.add(grads, np.broadcast_to(g, shape))
        if slots.uniform is not None:
            g_total = g.sum(axis=-1, keepdims=True)
            shape = (slots.k, slots.uniform_slots.size, 1)
            slots.uniform.add(grads, np.broadcast_to(g_total, shape))

    def emit_forward(self, e: Emitter) -> bool:
        slots, terms = self.slots, []
        if slots.batch is not None:
            terms.append(f"np.add.reduce({_operand(e, slots.batch)}, axis=1)")
        else:
            terms.append("0.0")  # as forward(): 0.0 + a uniform sum of -0.0 is 0.0
        if slots.uniform is not None:
            terms.append(f"np.add.reduce({_operand(e, slots.uniform)}, axis=1)")
        e.write(self.out, " + ".join(terms))
        return True

    def emit_backward(self, e: Emitter) -> bool:
        slots, g = self.slots, e.temp()
        e.line(f"{g} = {e.read(self.out, grads=True)}[:, None, :]")
        if slots.batch is not None:
            shape = (slots.k, slots.batch_slots.size, e.width)
            e.add(slots.batch, f"np.broadcast_to({g}, {shape})")
        if slots.uniform is not None:
            shape = (slots.k, slots.uniform_slots.size, 1)
            g_total = f"np.add.reduce({g}, axis=-1, keepdims=True)"
            e.add(slots.uniform, f"np.broadcast_to({g_total}, {shape})", 1)
        return True


class LogSumExp(Instruction):
    """``logsumexp`` nodes, in the engine's stable form ``m + log(sum(exp(x - m)))``."""

    def __init__(self, out: Gather, slots: Slots) -> None:
        self.out = out
        self.slots = slots

    def _emittable(self) -> bool:
        return isinstance(self.slots, PaddedSlots) or self.slots.uniform is None

    def _stack(self, e: Emitter) -> str:
        if isinstance(self.slots, PaddedSlots):
            return self.slots.emit_stack(e)
        return _operand(e, self.slots.batch)

    def emit_forward(self, e: Emitter) -> bool:
        """Keeps exp(x - m) and its sums (arrays made once per width) for the way back."""
        if not self._emittable():
            return False
        x, m, axis = self._stack(e), e.temp(), self.slots.axis
        if isinstance(self.slots, PaddedSlots):
            shape = (self.slots.n, self.slots.k, e.width)
        else:
            shape = (self.slots.k, self.slots.batch_slots.size, e.width)
        terms, total = np.zeros(shape), np.empty((self.slots.k, e.width))
        terms_name, total_name = e.name(terms, "t"), e.name(total, "t")
        e.memo[id(self)] = (terms_name, total_name)
        e.line(f"{m} = np.maximum.reduce({x}, axis={axis})")
        real = ""
        if isinstance(self.slots, PaddedSlots):
            # A pad's term, exp(-inf - m), is the 0 already there: only the real entries
            # are computed (exp is the dearest elementwise call, and a causal softmax's
            # block is nearly half pads).
            real = f", where={e.name(self.slots.real_cells(e.width), 'k')}"
        e.line(f"np.subtract({x}, {_spread(m, axis)}, out={terms_name}{real})")
        e.line(f"np.exp({terms_name}, out={terms_name}{real})")
        e.line(f"np.add.reduce({terms_name}, axis={axis}, out={total_name})")
        e.write(self.out, f"np.where(np.isfinite({m}), {m} + np.log({total_name}), {m})")
        return True

    def emit_backward(self, e: Emitter) -> bool:
        """The softmax is the kept exp(x - m) over its sum: the engine's exp(x - out) to an
        ulp or two, with no second exp. A sum that is not finite (an infinite or nan
        maximum) takes the engine's form, which gives 0 to the finite inputs."""
        if not self._emittable():
            return False
        terms, total = e.memo[id(self)]
        x, axis = self._stack(e), self.slots.axis
        out, g = e.read(self.out), e.read(self.out, grads=True)
        softmax = e.temp()
        e.line(f"if np.isfinite({total}).all():")
        e.line(f"    {softmax} = {terms} / {_spread(total, axis)}")
        e.line("else:")
        e.line(f"    {softmax} = np.exp({x} - {_spread(out, axis)})")
        if isinstance(self.slots, PaddedSlots):
            self.slots.emit_add(e, f"{softmax} * {_spread(g, axis)}")
        else:
            e.add_call(self.slots.batch, "np.multiply", f"{softmax}, {_spread(g, axis)}")
        return True

    def forward(self, stores, ctx):
        x, axis = self.slots.stack(stores, ctx.width), self.slots.axis
        m = x.max(axis=axis)  # nan if any input is nan, as the engine's result is
        total = np.exp(x - np.expand_dims(m, axis)).sum(axis=axis)
        # With an infinite (or nan) maximum the engine returns the maximum itself.
        stores[self.out.store][self.out.index] = np.where(np.isfinite(m), m + np.log(total), m)

    def backward(self, stores, grads, ctx):
        x, axis = self.slots.stack(stores, ctx.width), self.slots.axis
        out = np.expand_dims(self.out.fetch(stores), axis)
        g = np.expand_dims(self.out.fetch(grads), axis)
        self.slots.add(grads, np.exp(x - out) * g)


def _spread(name: str, axis: int) -> str:
    """``name`` (members × samples) with an axis of length 1 inserted at ``axis``."""
    return f"{name}[None]" if axis == 0 else f"{name}[:, None, :]"


class Dot(Instruction):
    """``dot`` nodes: sum of weight × input pairs (+ bias); a layer becomes ``W @ X + b``.

    Pairs are sorted by where their two numbers live: both uniform (a bias times the
    constant 1.0), one uniform and one per-sample (a weight times an input: matrix
    products, see :mod:`._matmul`), or both per-sample (attention's query times key:
    matrix products where vectors are shared, see :mod:`._bilinear`).
    """

    def __init__(
        self, out: Gather, rows: np.ndarray, batch_slots: np.ndarray, need: np.ndarray
    ) -> None:
        self.out = out
        n = rows.shape[1] // 2  # weights, inputs[, bias]
        left, right = rows[:, :n], rows[:, n : 2 * n]
        left_batch, right_batch = batch_slots[:n], batch_slots[n : 2 * n]
        need_left, need_right = need[:n], need[n : 2 * n]
        self.bias = None
        if rows.shape[1] % 2:
            store = BATCH if batch_slots[-1] else UNIFORM
            self.bias = (Gather(store, rows[:, -1]), bool(need[-1]))

        both_uniform = ~left_batch & ~right_batch
        both_batch = left_batch & right_batch
        mixed = left_batch ^ right_batch
        # For mixed pairs put the uniform number (the weight) first.
        coef = np.where(right_batch, left, right)[:, mixed]
        value = np.where(right_batch, right, left)[:, mixed]
        need_coef = np.where(right_batch, need_left, need_right)[mixed]
        need_value = np.where(right_batch, need_right, need_left)[mixed]

        self.uu = None
        if both_uniform.any():
            self.uu = (
                Gather(UNIFORM, left[:, both_uniform]),
                Gather(UNIFORM, right[:, both_uniform]),
                bool(need_left[both_uniform].any()),
                bool(need_right[both_uniform].any()),
            )
        self.bb = None
        if both_batch.any():
            need_pair = (bool(need_left[both_batch].any()), bool(need_right[both_batch].any()))
            self.bb = batch_pairs(left[:, both_batch], right[:, both_batch], need_pair)
        self.ub = None
        if mixed.any():
            need_pair = (bool(need_coef.any()), bool(need_value.any()))
            self.ub = weight_input_pairs(coef, value, need_pair)

    def forward(self, stores, ctx):
        total: Any = 0.0
        if self.ub is not None:
            total = self.ub.forward(stores)
        if self.bb is not None:
            total = total + self.bb.forward(stores)
        if self.uu is not None:
            a, b, _, _ = self.uu
            total = total + (a.fetch(stores) * b.fetch(stores)).sum(axis=1)
        if self.bias is not None:
            total = total + self.bias[0].fetch(stores)
        stores[self.out.store][self.out.index] = total

    def backward(self, stores, grads, ctx, g=None):
        if g is None:
            g = self.out.fetch(grads)
        if self.bias is not None and self.bias[1]:
            self.bias[0].add(grads, g)  # the bias's local derivative is 1
        if self.ub is not None:
            self.ub.backward(stores, grads, g)
        if self.bb is not None:
            self.bb.backward(stores, grads, g)
        if self.uu is not None:
            a, b, need_a, need_b = self.uu
            g_total = g.sum(axis=-1, keepdims=True)[:, None, :]
            if need_a:
                a.add(grads, b.fetch(stores) * g_total)
            if need_b:
                b.add(grads, a.fetch(stores) * g_total)

    def _emittable(self) -> bool:
        return self.bb is None and self.uu is None and hasattr(self.ub, "emit_forward")

    def emit_forward(self, e: Emitter) -> bool:
        if not self._emittable():
            return False
        out = e.read(self.out)
        into = getattr(self.ub, "emit_forward_into", None)
        if into is not None and "[" not in out:  # the product written into its view
            into(e, out)
            if self.bias is not None:
                e.line(f"np.add({out}, {e.read(self.bias[0])}, out={out})")
            return True
        product = self.ub.emit_forward(e)
        if self.bias is not None:
            product = f"{product} + {e.read(self.bias[0])}"
        e.write(self.out, product)
        return True

    def emit_backward(self, e: Emitter, g: str | None = None) -> bool:
        if not self._emittable():
            return False
        if g is None:
            g = e.read(self.out, grads=True)
        if self.bias is not None and self.bias[1]:
            e.add(self.bias[0], g)  # the bias's local derivative is 1
        self.ub.emit_backward(e, g)
        return True


class RaggedDot(Instruction):
    """``dot`` nodes of per-sample pairs only, of different lengths: attention's weighted
    values, one member per position, head and column (see :mod:`._bilinear`)."""

    def __init__(self, out: Gather, left: list[list[int]], right: list[list[int]], need) -> None:
        self.out = out
        self.pairs = ragged_pairs(left, right, need)

    def forward(self, stores, ctx):
        stores[self.out.store][self.out.index] = self.pairs.forward(stores)

    def backward(self, stores, grads, ctx):
        self.pairs.backward(stores, grads, self.out.fetch(grads))


class DotActivation(Dot):
    """A fused neuron (``dot_relu``, ``dot_tanh``, ``dot_sigmoid``): ``act(W @ X + b)``.

    The activation's kernel is applied to the sums in place; going back, the incoming
    gradient is scaled by the activation's slope, which each of these can compute from
    its output alone (relu: output > 0 exactly when the sum is), then ``Dot`` goes on.
    """

    def __init__(self, out, rows, batch_slots, need, activation: Kernel) -> None:
        super().__init__(out, rows, batch_slots, need)
        self.activation = activation

    def forward(self, stores, ctx):
        super().forward(stores, ctx)
        table = stores[self.out.store]
        table[self.out.index] = self.activation.forward(table[self.out.index])

    def backward(self, stores, grads, ctx):
        out = self.out.fetch(stores)
        slope = self.activation.local([out], out, [True])[0]
        super().backward(stores, grads, ctx, slope * self.out.fetch(grads))

    def emit_forward(self, e: Emitter) -> bool:
        if not super().emit_forward(e):
            return False
        out = e.read(self.out)
        in_place = getattr(self.activation, "in_place", None)
        if in_place is not None and "[" not in out:  # a view: the kernel can write into it
            e.line(in_place(out))
        else:
            e.write(self.out, f"{e.name(self.activation.forward, 'f')}({out})")
        return True

    def emit_backward(self, e: Emitter, g: str | None = None) -> bool:
        if not self._emittable():
            return False
        out, slope, g = e.read(self.out), e.temp(), e.read(self.out, grads=True)
        # The slope from the output alone, as backward() computes it: relu's its own way,
        # tanh's and sigmoid's by their local derivatives' sources.
        slope_times = getattr(self.activation, "slope_times", None)
        if slope_times is not None:
            e.line(f"{slope} = {slope_times(out, g)}")
        else:
            (local,) = self.activation.local_source([out], out)
            e.line(f"{slope} = {local} * {g}")
        return super().emit_backward(e, slope)


class Pick(Instruction):
    """Operands that depend on a sample's label: row ``table[member, label]`` per sample."""

    def __init__(self, out: Gather, table: np.ndarray, drivers: np.ndarray | None) -> None:
        self.out = out
        self.table = table  # members × labels, rows of V
        # For token sequences: which target position picks each member's row.
        self.drivers = drivers
        self.members = np.arange(table.shape[0])[:, None]
        # Members that share no row (a sequence's positions each pick among their own
        # logits): every (row, sample) pair picked is distinct, so all members' gradients
        # are added by one +=. A single member keeps its own one-row +=.
        candidates = np.concatenate([np.unique(choices) for choices in table])
        self.disjoint = table.shape[0] > 1 and np.unique(candidates).size == candidates.size

    def _rows(self, ctx: Context) -> np.ndarray:
        if self.drivers is None:
            return self.table[:, ctx.codes]
        return self.table[self.members, ctx.targets[:, self.drivers].T]

    def forward(self, stores, ctx):
        rows = self._rows(ctx)
        stores[BATCH][self.out.index] = stores[BATCH][rows, ctx.columns]

    def backward(self, stores, grads, ctx):
        rows = self._rows(ctx)
        g = self.out.fetch(grads)
        table = grads[BATCH]
        # One member at a time: its (row, sample) pairs are distinct, so += is exact;
        # two members may pick the same row for a sample, which one += would lose.
        for member in range(rows.shape[0]):
            table[rows[member], ctx.columns] += g[member]

    def _emit_rows(self, e: Emitter) -> str:
        rows, table = e.temp(), e.name(self.table, "i")
        if self.drivers is None:
            e.line(f"{rows} = {table}[:, ctx.codes]")
        else:
            members, drivers = e.name(self.members, "i"), e.name(self.drivers, "i")
            e.line(f"{rows} = {table}[{members}, ctx.targets[:, {drivers}].T]")
        return rows

    def emit_forward(self, e: Emitter) -> bool:
        rows = self._emit_rows(e)
        e.write(self.out, f"{e.value_table(self.table)}[{rows}, ctx.columns]")
        return True

    def emit_backward(self, e: Emitter) -> bool:
        g = e.read(self.out, grads=True)
        e.initialise(BATCH, self.table.ravel())  # any of them may be picked
        if self.table.shape[0] > 16 and not self.disjoint:  # call the loop instead
            e.line(f"{e.name(self, 'op')}.backward(stores, grads, ctx)")
            return True
        rows, table = self._emit_rows(e), e.name(e.grads[BATCH], "t")
        if self.disjoint:  # every member's gradient by one +=
            e.line(f"{table}[{rows}, ctx.columns] += {g}")
            return True
        for member in range(self.table.shape[0]):
            # One member at a time, as backward() says why.
            e.line(f"{table}[{rows}[{member}], ctx.columns] += {g}[{member}]")
        return True
