"""Replay: a traced graph compiled into numpy instructions that run a whole mini-batch at once.

Values live in two tables. ``V`` (batch rows × samples) holds every node whose value
differs between samples: inputs, targets and everything computed from them. ``U`` (one
column) holds the *uniform* nodes, the same for every sample: parameters, constants and
whatever is computed from those alone. An operation reads rows of either table; numpy
broadcasting does the rest.

Nodes are grouped for speed. Each node gets a *level* (1 + the highest level of its
operands); nodes of one level that apply the same kernel to operands of the same kinds
become one instruction over a block of rows, so a layer's 32 ``relu`` nodes are one
``np.where`` on a 32 × batch block. A group of ``dot`` nodes (a layer's neurons) whose
per-sample inputs are the same rows becomes one matrix product ``W @ X``, with ``W``
gathered from the current parameter values at every call.

Every kernel computes what the engine's float function computes (the same stable forms
for sigmoid, softplus and logsumexp; ``relu'(0) = 0``; IEEE infinities), and the
backward pass multiplies the same local derivatives by the incoming gradient
(``local * grad``, so ``0 * inf`` is ``nan`` here exactly when it is in the engine).
Sums (``sum``, ``dot``, and each weight's gradient summed over the batch) add in numpy's
order rather than as ``math.fsum`` does: results agree to a few units in the last place
of the largest term.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._trace import LEAF_TAGS, Graph, describe_kernel
from autograd_lite.engine import Primitive, Value

__all__ = ["Program"]

BATCH, UNIFORM = 0, 1
_get_data = operator.attrgetter("data")


# --------------------------------------------------------------------------------------
# Row gathers
# --------------------------------------------------------------------------------------


class _Gather:
    """Rows of one table, in a fixed shape: read them, or add gradients into them.

    A run of rows with a fixed stride (a layer's weights: 64 rows, skip the bias, 64
    more) is read as a strided view, not gathered: no copy going forward, and a plain
    ``+=`` going back. The tables are preallocated per batch width (see
    :meth:`Program.run`), so each view is made once and kept.
    """

    __slots__ = ("index", "segments", "shape", "sliced", "store", "strided", "unique", "views")

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
        if not self.unique:
            # Rows read more than once (attention reads each key for every query): their
            # contributions are summed per row with one reduceat over the rows in sorted
            # order, much faster than np.add.at; each row's own sum keeps reading order.
            order = np.argsort(flat, kind="stable")
            ordered = flat[order]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            self.segments = (order, starts, ordered[starts])

    def view(self, table: np.ndarray) -> np.ndarray | None:
        """The rows as a view of ``table`` (rows × samples), or None if they need a gather."""
        if self.sliced:
            values = table[self.index]
            return values.reshape(*self.shape, table.shape[-1]) if len(self.shape) > 1 else values
        if self.strided is None:
            return None
        key = id(table)
        values = self.views.get(key)
        if values is None:
            start, steps = self.strided
            row, column = table.strides
            values = np.lib.stride_tricks.as_strided(
                table[start:],
                shape=(*self.shape, table.shape[-1]),
                strides=(*(step * row for step in steps), column),
            )
            if len(self.views) > 16:  # tables of batch widths no longer in use
                self.views.clear()
            self.views[key] = values
        return values

    def fetch(self, stores: Sequence[np.ndarray]) -> np.ndarray:
        table = stores[self.store]
        values = self.view(table)
        return table[self.index] if values is None else values

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
            order, starts, rows = self.segments
            width = contribution.shape[-1]
            full = np.broadcast_to(contribution, (*self.shape, width)).reshape(-1, width)
            table[rows] += np.add.reduceat(full[order], starts, axis=0)


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


# --------------------------------------------------------------------------------------
# Element-wise kernels: forward value and local derivatives, as the engine defines them
# --------------------------------------------------------------------------------------


def _first(values: np.ndarray, bad: np.ndarray) -> float:
    return float(np.broadcast_to(values, bad.shape)[bad].flat[0])


class _Kernel:
    """``forward(*args) -> out``; ``local(args, out, need) -> d out / d arg`` per argument."""

    def forward(self, *args: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def local(self, args: Sequence[np.ndarray], out: np.ndarray, need: Sequence[bool]) -> list:
        raise NotImplementedError


class _Add(_Kernel):
    def forward(self, a, b):
        return a + b

    def local(self, args, out, need):
        return [1.0, 1.0]


class _Mul(_Kernel):
    def forward(self, a, b):
        return a * b

    def local(self, args, out, need):
        return [args[1], args[0]]


class _Neg(_Kernel):
    def forward(self, x):
        return -x

    def local(self, args, out, need):
        return [-1.0]


class _Pow(_Kernel):
    """``x ** y`` with the engine's rules: IEEE poles, errors for complex results."""

    def __init__(self, strict: bool) -> None:
        # The engine refuses a negative base when the exponent takes gradients.
        self.strict = strict

    def forward(self, x, y):
        if self.strict:
            bad = x < 0
            if bad.any():
                raise ValueError(
                    f"pow: a negative base ({_first(x, bad)!r}) to an exponent that takes "
                    "gradients has no real derivative with respect to the exponent; use a "
                    "positive base"
                )
        bad = (x < 0) & np.isfinite(y) & (np.floor(y) != y)  # -inf too, as the engine
        if bad.any():
            raise ValueError(
                f"pow: a negative base ({_first(x, bad)!r}) to a non-integer exponent "
                f"({_first(y, bad)!r}) has no real value"
            )
        return np.power(x, y)

    def local(self, args, out, need):
        x, y = args
        d_base = None
        if need[0]:
            # As the engine: d/dx x**0 is 0, not 0 * x**-1 (nan at x == 0).
            d_base = np.where(y == 0.0, 0.0, y * np.power(x, y - 1.0))
        d_exponent = None
        if need[1]:
            # As the engine: 0 at x == 0 for y >= 0 and for x < 0; out * log(x) elsewhere.
            zero = ((x == 0.0) & (y >= 0.0)) | (x < 0.0)
            d_exponent = np.where(zero, 0.0, out * np.log(np.where(zero, 1.0, x)))
        return [d_base, d_exponent]


class _Div(_Kernel):
    def forward(self, a, b):
        return a / b

    def local(self, args, out, need):
        return [1.0 / args[1], -(out / args[1])]  # the engine's 1/b and -q/b


class _Exp(_Kernel):
    def forward(self, x):
        return np.exp(x)

    def local(self, args, out, need):
        return [out]


class _Log(_Kernel):
    def forward(self, x):
        bad = x < 0
        if bad.any():
            raise ValueError(
                f"log is defined for x >= 0 (log(0) = -inf); got x = {_first(x, bad)!r}"
            )
        return np.log(x)

    def local(self, args, out, need):
        return [1.0 / args[0]]


class _Tanh(_Kernel):
    def forward(self, x):
        return np.tanh(x)

    def local(self, args, out, need):
        return [1.0 - out * out]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The engine's two branches: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class _Sigmoid(_Kernel):
    def forward(self, x):
        return _sigmoid(x)

    def local(self, args, out, need):
        return [out * (1.0 - out)]


class _Relu(_Kernel):
    # As the engine (and PyTorch): nan stays nan, -0.0 stays -0.0; slope 0 where x <= 0.
    def forward(self, x):
        return np.where(x < 0, 0.0, x)

    def local(self, args, out, need):
        return [np.where(args[0] <= 0, 0.0, 1.0)]


class _LeakyRelu(_Kernel):
    def __init__(self, slope: float) -> None:
        self.slope = slope

    def forward(self, x):
        return np.where(x > 0, x, self.slope * x)

    def local(self, args, out, need):
        return [np.where(args[0] > 0, 1.0, self.slope)]


class _Softplus(_Kernel):
    def forward(self, x):
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))

    def local(self, args, out, need):
        return [_sigmoid(args[0])]


class _Sin(_Kernel):
    def forward(self, x):
        return np.sin(x)

    def local(self, args, out, need):
        return [np.cos(args[0])]


class _Cos(_Kernel):
    def forward(self, x):
        return np.cos(x)

    def local(self, args, out, need):
        return [-np.sin(args[0])]


class _Sqrt(_Kernel):
    def forward(self, x):
        bad = x < 0
        if bad.any():
            raise ValueError(f"sqrt is defined for x >= 0; got x = {_first(x, bad)!r}")
        return np.sqrt(x)

    def local(self, args, out, need):
        return [0.5 / out]


class _Abs(_Kernel):
    def forward(self, x):
        return np.abs(x)

    def local(self, args, out, need):
        x = args[0]
        return [np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0))]  # sign, with 0 for nan


class _Custom(_Kernel):
    """A user primitive, replayed sample by sample with its own float functions."""

    def __init__(self, prim: Primitive) -> None:
        self.prim = prim

    def forward(self, *args):
        arrays = np.broadcast_arrays(*args)
        columns = [a.ravel().tolist() for a in arrays]
        forward = self.prim.forward
        out = [float(forward(*values)) for values in zip(*columns)]
        return np.array(out, dtype=float).reshape(arrays[0].shape)

    def local(self, args, out, need):
        arrays = np.broadcast_arrays(*args, out)
        columns = [a.ravel().tolist() for a in arrays]
        rule = self.prim.local_derivatives
        rows = [[_as_float(d) for d in rule(values[:-1], values[-1])] for values in zip(*columns)]
        table = np.array(rows, dtype=float).reshape(len(rows), len(args))
        return [table[:, i].reshape(arrays[0].shape) for i in range(len(args))]


def _as_float(d: Any) -> float:
    return d.data if isinstance(d, Value) else float(d)


_ELEMENTWISE: dict[str, type[_Kernel]] = {
    "add": _Add,
    "mul": _Mul,
    "div": _Div,
    "neg": _Neg,
    "exp": _Exp,
    "log": _Log,
    "tanh": _Tanh,
    "sigmoid": _Sigmoid,
    "relu": _Relu,
    "softplus": _Softplus,
    "sin": _Sin,
    "cos": _Cos,
    "sqrt": _Sqrt,
    "abs": _Abs,
}


# The activations that the engine fuses into a neuron's dot node.
_FUSED_ACTIVATIONS: dict[str, type[_Kernel]] = {
    "dot_relu": _Relu,
    "dot_tanh": _Tanh,
    "dot_sigmoid": _Sigmoid,
}


def _kernel(key: Any, strict_pow: bool) -> _Kernel:
    if isinstance(key, str):
        if key == "pow":
            return _Pow(strict_pow)
        return _ELEMENTWISE[key]()
    if isinstance(key, tuple):  # ("leaky_relu", slope)
        return _LeakyRelu(key[1])
    return _Custom(key)


# --------------------------------------------------------------------------------------
# Instructions
# --------------------------------------------------------------------------------------


class _Context:
    """Per-call facts an instruction may need: the batch width and the label codes."""

    __slots__ = ("codes", "columns", "gathered", "targets", "tokens", "width")

    def __init__(self, width: int, codes: np.ndarray | None) -> None:
        self.width = width
        self.codes = codes
        self.columns = np.arange(width)
        self.tokens: np.ndarray | None = None  # samples × positions, for token sequences
        self.targets: np.ndarray | None = None
        self.gathered: list[np.ndarray] = []  # the parameter rows each token read


class _Instruction:
    out: _Gather

    def forward(self, stores: Sequence[np.ndarray], ctx: _Context) -> None:
        raise NotImplementedError

    def backward(
        self, stores: Sequence[np.ndarray], grads: Sequence[np.ndarray], ctx: _Context
    ) -> None:
        raise NotImplementedError


class _Elementwise(_Instruction):
    """One kernel applied to a block of rows (unary, binary, or a custom primitive)."""

    def __init__(
        self, kernel: _Kernel, out: _Gather, operands: list[_Gather], need: list[bool]
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


class _Slots:
    """The operands of n-ary nodes as a (members × slots) block, split by table."""

    def __init__(self, rows: np.ndarray, batch_slots: np.ndarray) -> None:
        self.k, self.n = rows.shape
        self.batch_slots = np.flatnonzero(batch_slots)
        self.uniform_slots = np.flatnonzero(~batch_slots)
        self.batch = _Gather(BATCH, rows[:, self.batch_slots]) if self.batch_slots.size else None
        self.uniform = (
            _Gather(UNIFORM, rows[:, self.uniform_slots]) if self.uniform_slots.size else None
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


class _Sum(_Instruction):
    """``sum_values`` nodes: the sum over each member's operands."""

    def __init__(self, out: _Gather, slots: _Slots) -> None:
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


class _LogSumExp(_Instruction):
    """``logsumexp`` nodes, in the engine's stable form ``m + log(sum(exp(x - m)))``."""

    def __init__(self, out: _Gather, slots: _Slots) -> None:
        self.out = out
        self.slots = slots

    def forward(self, stores, ctx):
        x = self.slots.stack(stores, ctx.width)
        m = x.max(axis=1)  # nan if any input is nan, as the engine's result is
        total = np.exp(x - m[:, None, :]).sum(axis=1)
        # With an infinite (or nan) maximum the engine returns the maximum itself.
        stores[self.out.store][self.out.index] = np.where(np.isfinite(m), m + np.log(total), m)

    def backward(self, stores, grads, ctx):
        x = self.slots.stack(stores, ctx.width)
        out = self.out.fetch(stores)[:, None, :]
        g = self.out.fetch(grads)[:, None, :]
        self.slots.add(grads, np.exp(x - out) * g)


class _Dot(_Instruction):
    """``dot`` nodes: sum of weight × input pairs (+ bias); a layer becomes ``W @ X + b``.

    Pairs are sorted by where their two numbers live: both uniform (a bias times the
    constant 1.0), one uniform and one per-sample (a weight times an input: the matrix
    product when all members read the same input rows), or both per-sample.
    """

    def __init__(
        self, out: _Gather, rows: np.ndarray, batch_slots: np.ndarray, need: np.ndarray
    ) -> None:
        self.out = out
        n = rows.shape[1] // 2  # weights, inputs[, bias]
        left, right = rows[:, :n], rows[:, n : 2 * n]
        left_batch, right_batch = batch_slots[:n], batch_slots[n : 2 * n]
        need_left, need_right = need[:n], need[n : 2 * n]
        self.bias = None
        if rows.shape[1] % 2:
            store = BATCH if batch_slots[-1] else UNIFORM
            self.bias = (_Gather(store, rows[:, -1]), bool(need[-1]))

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
                _Gather(UNIFORM, left[:, both_uniform]),
                _Gather(UNIFORM, right[:, both_uniform]),
                bool(need_left[both_uniform].any()),
                bool(need_right[both_uniform].any()),
            )
        self.bb = None
        if both_batch.any():
            self.bb = (
                _Gather(BATCH, left[:, both_batch]),
                _Gather(BATCH, right[:, both_batch]),
                bool(need_left[both_batch].any()),
                bool(need_right[both_batch].any()),
            )
        self.ub = None
        if mixed.any():
            shared = bool((value == value[0]).all())
            values = _Gather(BATCH, value[0] if shared else value)
            self.ub = (
                _Gather(UNIFORM, coef),
                values,
                shared,
                bool(need_coef.any()),
                bool(need_value.any()),
            )

    def forward(self, stores, ctx):
        total: Any = 0.0
        if self.ub is not None:
            coef, values, shared, _, _ = self.ub
            weights = coef.fetch(stores)[..., 0]
            x = values.fetch(stores)
            total = weights @ x if shared else np.einsum("km,kmb->kb", weights, x)
        if self.bb is not None:
            a, b, _, _ = self.bb
            total = total + (a.fetch(stores) * b.fetch(stores)).sum(axis=1)
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
            coef, values, shared, need_coef, need_value = self.ub
            x = values.fetch(stores)
            if need_coef:
                d_coef = g @ x.T if shared else np.einsum("kb,kmb->km", g, x)
                coef.add(grads, d_coef[..., None])
            if need_value:
                weights = coef.fetch(stores)[..., 0]
                d_value = weights.T @ g if shared else weights[:, :, None] * g[:, None, :]
                values.add(grads, d_value)
        if self.bb is not None:
            a, b, need_a, need_b = self.bb
            va, vb = a.fetch(stores), b.fetch(stores)
            if need_a:
                a.add(grads, vb * g[:, None, :])
            if need_b:
                b.add(grads, va * g[:, None, :])
        if self.uu is not None:
            a, b, need_a, need_b = self.uu
            g_total = g.sum(axis=-1, keepdims=True)[:, None, :]
            if need_a:
                a.add(grads, b.fetch(stores) * g_total)
            if need_b:
                b.add(grads, a.fetch(stores) * g_total)


class _DotActivation(_Dot):
    """A fused neuron (``dot_relu``, ``dot_tanh``, ``dot_sigmoid``): ``act(W @ X + b)``.

    The activation's kernel is applied to the sums in place; going back, the incoming
    gradient is scaled by the activation's slope, which each of these can compute from
    its output alone (relu: output > 0 exactly when the sum is), then ``_Dot`` goes on.
    """

    def __init__(self, out, rows, batch_slots, need, activation: _Kernel) -> None:
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


class _Pick(_Instruction):
    """Operands that depend on a sample's label: row ``table[member, label]`` per sample."""

    def __init__(self, out: _Gather, table: np.ndarray, drivers: np.ndarray | None) -> None:
        self.out = out
        self.table = table  # members × labels, rows of V
        # For token sequences: which target position picks each member's row.
        self.drivers = drivers
        self.members = np.arange(table.shape[0])[:, None]

    def _rows(self, ctx: _Context) -> np.ndarray:
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


# --------------------------------------------------------------------------------------
# The program
# --------------------------------------------------------------------------------------


class _Node:
    """What the builder knows about one position: level, table, gradient need."""

    __slots__ = ("batch", "level", "need")

    def __init__(self, batch: bool, level: int, need: bool) -> None:
        self.batch = batch
        self.level = level
        self.need = need


class Program:
    """A graph compiled for batched replay: ``run`` takes inputs and returns roots and grads.

    ``params`` are the model's parameters (read at every call); ``roots`` the positions
    whose values are returned; with ``seed_root`` set, ``run`` also back-propagates from
    that root, seeding every sample with ``seed``.
    """

    def __init__(
        self,
        graph: Graph,
        params: Sequence[Value],
        roots: Sequence[int],
        seed_root: int | None,
    ) -> None:
        entries = graph.entries
        self.params = list(params)
        self.n_x, self.n_y = graph.n_x, graph.n_y
        self.n_labels = len(graph.labels)

        # Picks become nodes of their own, appended after the graph's positions.
        pick_position: dict[Any, int] = {}
        picks: list[tuple[int, ...]] = []
        pick_drivers: list[int | None] = []  # the target position of a token-sequence pick

        def operand(o: Any) -> int:
            if isinstance(o, tuple):
                choices = o[1]
                driver = o[2] if o[0] == "tpick" else None
                if (choices, driver) not in pick_position:
                    pick_position[choices, driver] = len(entries) + len(picks)
                    picks.append(choices)
                    pick_drivers.append(driver)
                return pick_position[choices, driver]
            return o

        operands: dict[int, list[int]] = {}
        for position, entry in enumerate(entries):
            if entry[0] not in LEAF_TAGS:
                operands[position] = [operand(o) for o in entry[1]]

        def parents(position: int) -> Sequence[int]:
            if position >= len(entries):
                return picks[position - len(entries)]
            return operands.get(position, ())

        # Only what the roots need.
        live: set[int] = set()
        stack = list(roots)
        while stack:
            position = stack.pop()
            if position not in live:
                live.add(position)
                stack.extend(parents(position))

        # Levels, tables and gradient needs, parents first.
        nodes: dict[int, _Node] = {}

        def info(position: int) -> _Node:
            node = nodes.get(position)
            if node is None:  # a pick: its choices come earlier in the graph
                choices = [info(c) for c in picks[position - len(entries)]]
                node = _Node(True, 1 + max(c.level for c in choices), any(c.need for c in choices))
                nodes[position] = node
            return node

        for position in sorted(p for p in live if p < len(entries)):
            entry = entries[position]
            tag = entry[0]
            if tag in ("x", "y", "lc"):
                nodes[position] = _Node(True, 0, False)
            elif tag == "tok":  # a row of an embedding table, picked by the sample's token
                nodes[position] = _Node(True, 0, True)
            elif tag == "p":
                nodes[position] = _Node(False, 0, self.params[entry[1]].requires_grad)
            elif tag == "f":
                nodes[position] = _Node(False, 0, bool(entry[2]))
            elif tag == "c":
                nodes[position] = _Node(False, 0, False)
            else:
                ops = [info(o) for o in operands[position]]
                nodes[position] = _Node(
                    any(o.batch for o in ops),
                    1 + max(o.level for o in ops),
                    any(o.need for o in ops),
                )

        # Groups: same level, kernel, arity and operand tables.
        groups: dict[Any, list[int]] = {}
        for position in sorted(live):
            if position >= len(entries):
                driven = pick_drivers[position - len(entries)] is not None
                key: Any = (nodes[position].level, "tpick" if driven else "pick")
            else:
                entry = entries[position]
                if entry[0] in LEAF_TAGS:
                    continue
                kinds = tuple(nodes[o].batch for o in operands[position])
                strict = entry[0] == "pow" and nodes[operands[position][1]].need
                key = (nodes[position].level, entry[0], kinds, strict)
            groups.setdefault(key, []).append(position)
        ordered = sorted(groups.items(), key=lambda item: (item[0][0], item[1][0]))

        # Rows: inputs, targets and label constants first, then each group's outputs.
        row: dict[int, int] = {}
        n_v = self.n_x + self.n_y
        n_u = len(self.params)
        constants: list[tuple[int, float]] = []
        self.free_rows: list[tuple[int, Value]] = []
        label_constants: list[tuple[float, ...]] = []
        for position in sorted(p for p in live if p < len(entries)):
            entry = entries[position]
            tag = entry[0]
            if tag == "x":
                row[position] = entry[1]
            elif tag == "y":
                row[position] = self.n_x + entry[1]
            elif tag == "p":
                row[position] = entry[1]
            elif tag == "f":
                row[position] = n_u
                self.free_rows.append((n_u, graph.free[position]))
                n_u += 1
            elif tag == "c":
                row[position] = n_u
                constants.append((n_u, entry[1]))
                n_u += 1
        self.label_rows = slice(n_v, n_v)
        for position in sorted(p for p in live if p < len(entries)):
            if entries[position][0] == "lc":
                row[position] = n_v
                label_constants.append(entries[position][1])
                n_v += 1
        # Token lookups (``("tok", table, position, column)``): rows gathered per sample.
        self.tables = [np.asarray(t, dtype=np.intp) for t in getattr(graph, "tables", ())]
        token_reads: dict[int, list[tuple[int, int, int]]] = {}
        for position in sorted(p for p in live if p < len(entries)):
            entry = entries[position]
            if entry[0] == "tok":
                row[position] = n_v
                token_reads.setdefault(entry[1], []).append((n_v, entry[2], entry[3]))
                n_v += 1
        self.token_reads = [
            (
                self.tables[table],
                np.array([r for r, _, _ in reads], dtype=np.intp),
                np.array([t for _, t, _ in reads], dtype=np.intp),
                np.array([c for _, _, c in reads], dtype=np.intp)[:, None],
            )
            for table, reads in sorted(token_reads.items())
        ]
        self.label_rows = slice(self.label_rows.start, n_v)
        self.label_table = np.array(label_constants, dtype=float).reshape(
            len(label_constants), self.n_labels
        )
        for _, members in ordered:
            batch = nodes[members[0]].batch
            for position in members:
                if batch:
                    row[position] = n_v
                    n_v += 1
                else:
                    row[position] = n_u
                    n_u += 1
        self.n_v, self.n_u = n_v, n_u
        self.u_template = np.zeros((n_u, 1))
        for r, value in constants:
            self.u_template[r, 0] = value

        # Instructions.
        self.instructions: list[_Instruction] = []
        self.backward_instructions: list[_Instruction] = []
        for key, members in ordered:
            first = nodes[members[0]]
            out = _Gather(BATCH if first.batch else UNIFORM, [row[p] for p in members])
            if key[1] in ("pick", "tpick"):
                table = np.array(
                    [[row[c] for c in picks[p - len(entries)]] for p in members], dtype=np.intp
                )
                drivers = None
                if key[1] == "tpick":
                    drivers = np.array(
                        [pick_drivers[p - len(entries)] for p in members], dtype=np.intp
                    )
                instruction: _Instruction = _Pick(out, table, drivers)
            else:
                kernel_name = key[1]
                kinds = np.array(key[2], dtype=bool)
                rows = np.array([[row[o] for o in operands[p]] for p in members], dtype=np.intp)
                need = np.array(
                    [[nodes[o].need for o in operands[p]] for p in members], dtype=bool
                ).any(axis=0)
                if kernel_name == "dot":
                    instruction = _Dot(out, rows, kinds, need)
                elif kernel_name in _FUSED_ACTIVATIONS:
                    activation = _FUSED_ACTIVATIONS[kernel_name]()
                    instruction = _DotActivation(out, rows, kinds, need, activation)
                elif kernel_name == "sum":
                    instruction = _Sum(out, _Slots(rows, kinds))
                elif kernel_name == "logsumexp":
                    instruction = _LogSumExp(out, _Slots(rows, kinds))
                else:
                    gathers = [
                        _Gather(BATCH if kinds[i] else UNIFORM, rows[:, i])
                        for i in range(rows.shape[1])
                    ]
                    instruction = _Elementwise(
                        _kernel(kernel_name, key[3]), out, gathers, list(need)
                    )
            self.instructions.append(instruction)
            if any(nodes[p].need for p in members):
                self.backward_instructions.append(instruction)
        self.backward_instructions.reverse()

        self.roots = [(BATCH if nodes[r].batch else UNIFORM, row[r]) for r in roots]
        self.seed_root = None if seed_root is None else self.roots[roots.index(seed_root)]
        self.used_params = sorted(
            {entries[p][1] for p in live if p < len(entries) and entries[p][0] == "p"}
        )
        for table, _, _, _ in self.token_reads:
            self.used_params = sorted(set(self.used_params) | set(table.ravel().tolist()))
        self.used_params = [k for k in self.used_params if self.params[k].requires_grad]
        # For adding gradients back: the Values themselves, and whether they are all of them
        # in order (then no gather is needed).
        self.used_values = [self.params[k] for k in self.used_params]
        self.uses_all = self.used_params == list(range(len(self.params)))
        self.kernels = sorted(
            {describe_kernel(k[1]) for k, _ in ordered if k[1] not in ("pick", "tpick")}
        )
        self._by_width: dict[int, tuple[Any, ...]] = {}

    def run(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        codes: np.ndarray | None,
        seed: float | None,
        theta: np.ndarray | None = None,
        tokens: np.ndarray | None = None,
        targets: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, list[float] | None]:
        """Replay for ``len(x)`` samples: (root values, parameter grads, free-leaf grads).

        ``x`` is samples × inputs, ``y`` samples × float targets, ``codes`` each sample's
        label code. Gradients are those of ``seed * sum of the seed root over samples``.
        ``theta`` holds the parameters' values (read from the Values when None). For
        token sequences, ``tokens`` and ``targets`` are samples × positions int arrays.
        """
        width = x.shape[0]
        values, uniform, grad_values, grad_uniform, ctx = self._buffers(width)
        n_params = len(self.params)
        if theta is None:
            uniform[:n_params, 0] = np.fromiter(map(_get_data, self.params), float, n_params)
        else:
            uniform[:n_params, 0] = theta
        for r, leaf in self.free_rows:
            uniform[r, 0] = leaf.data
        values[: self.n_x] = x.T
        if self.n_y:
            values[self.n_x : self.n_x + self.n_y] = y.T
        if self.label_table.size:
            values[self.label_rows] = self.label_table[:, codes]
        ctx.codes = codes
        ctx.tokens, ctx.targets = tokens, targets
        ctx.gathered = []
        for table, rows, positions, columns in self.token_reads:
            # An embedding lookup per (token position, column): a gather from the table.
            index = table[tokens[:, positions].T, columns]
            values[rows] = uniform[index, 0]
            ctx.gathered.append(index)
        stores = (values, uniform)
        with np.errstate(all="ignore"):  # infinities and nan follow IEEE, as in the engine
            for instruction in self.instructions:
                instruction.forward(stores, ctx)
            roots = np.empty((len(self.roots), width))
            for i, (store, r) in enumerate(self.roots):
                roots[i] = stores[store][r]
            if seed is None or self.seed_root is None:
                return roots, None, None
            grad_values.fill(0.0)
            grad_uniform.fill(0.0)
            grads = (grad_values, grad_uniform)
            store, r = self.seed_root
            grads[store][r] = seed if store == BATCH else seed * width
            for instruction in self.backward_instructions:
                instruction.backward(stores, grads, ctx)
            for (_, rows, _, _), index in zip(self.token_reads, ctx.gathered):
                # Tokens repeat within and across samples: add.at adds every one.
                np.add.at(grad_uniform[:, 0], index, grad_values[rows])
        uniform_grads = grads[UNIFORM][:, 0]
        free = [float(uniform_grads[r]) for r, _ in self.free_rows]
        # A view of the gradient table, valid until the next run (callers read it at once).
        return roots, uniform_grads[:n_params], free

    def _buffers(self, width: int) -> tuple[Any, ...]:
        """The value and gradient tables for a batch width, made once and reused.

        Reusing them keeps every strided view of :class:`_Gather` valid, and saves
        allocating a few hundred kilobytes per step; the last few widths are kept.
        """
        buffers = self._by_width.get(width)
        if buffers is None:
            if len(self._by_width) >= 4:
                self._by_width.pop(next(iter(self._by_width)))
            values = np.empty((self.n_v, width))
            uniform = self.u_template.copy()
            buffers = (
                values,
                uniform,
                np.zeros_like(values),
                np.zeros_like(uniform),
                _Context(width, None),
            )
            self._by_width[width] = buffers
        return buffers
