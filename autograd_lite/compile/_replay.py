"""Replay: a traced graph compiled into numpy instructions that run a whole mini-batch at once.

Values live in two tables (see :mod:`._gather`): ``V`` (batch rows × samples) for nodes
whose value differs between samples, ``U`` (one column) for the *uniform* ones (parameters,
constants, and what is computed from those alone). An operation reads rows of either table;
numpy broadcasting does the rest.

:class:`Program` lowers a graph in passes (:mod:`._lower`): nodes of one level that apply
the same kernel to operands of the same kinds become one instruction over a block of rows
(:mod:`._instructions`), so a layer's 32 ``relu`` nodes are one ``np.where`` on a 32 ×
batch block, and a group of ``dot`` nodes (a layer's neurons) whose per-sample inputs are
the same rows becomes one matrix product ``W @ X``, with ``W`` read from the current
parameter values at every call. Softmaxes are recognised first and replayed as one
instruction per group, not as the engine's chain of nodes (:mod:`._softmax`). For each
batch width the instructions are then written out as two straight-line functions,
``forward(x)`` and ``backward(x)``, of numpy calls on views bound once (:mod:`._codegen`):
no per-instruction dispatch at batch 1, and no pass clearing the gradient tables. Kernels
compute what the engine's float functions compute (:mod:`._kernels`). Sums (``sum``,
``dot``, and each weight's gradient summed over the batch) add in numpy's order rather than
as ``math.fsum`` does: results agree to a few units in the last place of the largest term.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._codegen import generate
from autograd_lite.compile._gather import BATCH, UNIFORM
from autograd_lite.compile._instructions import Context
from autograd_lite.compile._lower import (
    assign_rows,
    describe_nodes,
    emit,
    group_nodes,
    live_positions,
    wire,
)
from autograd_lite.compile._softmax import fuse_softmaxes
from autograd_lite.compile._trace import Graph, describe_kernel
from autograd_lite.engine import Value

__all__ = ["Program"]

_get_data = operator.attrgetter("data")


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
        self.params = list(params)
        self.n_x, self.n_y = graph.n_x, graph.n_y
        self.n_labels = len(graph.labels)
        wiring = wire(graph)
        live = live_positions(wiring, roots)
        nodes = describe_nodes(wiring, live, self.params)
        batch = {position: node.batch for position, node in nodes.items()}
        if fuse_softmaxes(wiring, live, roots, batch):  # their inner nodes drop out
            live = live_positions(wiring, roots)
            nodes = describe_nodes(wiring, live, self.params)
        ordered = group_nodes(wiring, live, nodes)
        layout = assign_rows(graph, len(self.params), live, nodes, ordered)
        self._take_layout(layout, graph)
        self.instructions, self.backward_instructions = emit(ordered, wiring, nodes, layout)
        self.roots = [(BATCH if nodes[r].batch else UNIFORM, layout.row[r]) for r in roots]
        self.seed_root = None if seed_root is None else self.roots[roots.index(seed_root)]
        every_batch = all(store == BATCH for store, _ in self.roots)
        self._batch_roots = np.array([r for _, r in self.roots]) if every_batch else None
        self._find_used_params(graph, live)
        self.kernels = sorted(
            {describe_kernel(k[1]) for k, _ in ordered if k[1] not in ("pick", "tpick")}
        )
        self._by_width: dict[int, tuple[Any, ...]] = {}

    def _take_layout(self, layout: Any, graph: Graph) -> None:
        """The table sizes, the template of U (constants) and the per-sample leaf rows."""
        self.n_v, self.n_u = layout.n_v, layout.n_u
        self.free_rows = layout.free_rows
        self.u_template = np.zeros((layout.n_u, 1))
        for r, value in layout.constants:
            self.u_template[r, 0] = value
        self.label_rows = layout.label_rows
        self.label_table = np.array(layout.label_constants, dtype=float).reshape(
            len(layout.label_constants), self.n_labels
        )
        self.tables = [np.asarray(t, dtype=np.intp) for t in getattr(graph, "tables", ())]
        self.token_reads = [
            (
                self.tables[table],
                np.array([r for r, _, _ in reads], dtype=np.intp),
                np.array([t for _, t, _ in reads], dtype=np.intp),
                np.array([c for _, _, c in reads], dtype=np.intp)[:, None],
            )
            for table, reads in sorted(layout.token_reads.items())
        ]

    def _find_used_params(self, graph: Graph, live: set[int]) -> None:
        """The parameters that take gradients from this program, and their Values."""
        entries = graph.entries
        used = {entries[p][1] for p in live if p < len(entries) and entries[p][0] == "p"}
        for table, _, _, _ in self.token_reads:
            used |= set(table.ravel().tolist())
        self.used_params = [k for k in sorted(used) if self.params[k].requires_grad]
        self.used_index = np.array(self.used_params, dtype=np.intp)  # for numpy indexing
        # For adding gradients back: the Values themselves, and whether they are all of them
        # in order (then no gather is needed).
        self.used_values = [self.params[k] for k in self.used_params]
        self.uses_all = self.used_params == list(range(len(self.params)))

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
        ``theta`` holds the parameters' values (read from the Values when None); a
        float64 vector is read where it lies, never written, unless a line of the program
        reads parameters from the table (then it is copied there). For
        token sequences, ``tokens`` and ``targets`` are samples × positions int arrays.
        """
        width = x.shape[0]
        w = self._by_width.get(width) or self._buffers(width)
        self._load_params(w, theta)
        values, uniform = w.values, w.uniform
        for r, leaf in self.free_rows:
            uniform[r, 0] = leaf.data
        inputs = _columns(x, w.tables)
        if w.x_rows is not None:
            w.x_rows[:] = inputs
        if self.n_y:
            w.y_rows[:] = y.T
        if self.label_table.size:
            values[self.label_rows] = self.label_table[:, codes]
        ctx = w.ctx
        ctx.codes = codes
        ctx.tokens, ctx.targets = tokens, targets
        ctx.gathered = []
        for table, rows, positions, columns in self.token_reads:
            # An embedding lookup per (token position, column): a gather from the table.
            index = table[tokens[:, positions].T, columns]
            values[rows] = uniform[index, 0]
            ctx.gathered.append(index)
        with np.errstate(all="ignore"):  # infinities and nan follow IEEE, as in the engine
            w.forward(inputs)
            roots = self._read_roots((values, uniform))
            if seed is None or self.seed_root is None:
                return roots, None, None
            grads = (w.grad_values, w.grad_uniform)  # backward() zeroes the rows it must
            store, r = self.seed_root
            grads[store][r] = seed if store == BATCH else seed * width
            w.backward(inputs)
            for (table, rows, _, _), index in zip(self.token_reads, ctx.gathered):
                _add_repeated(w.grad_uniform[:, 0], table, index, w.grad_values[rows])
        free = [float(w.grad_uniform[r, 0]) for r, _ in self.free_rows]
        # A view of the gradient table, valid until the next run (callers read it at once).
        return roots, w.param_grads, free

    def _load_params(self, w: _Width, theta: np.ndarray | None) -> None:
        """Make the program read ``theta``, or the parameters' ``.data`` when None: in place
        (its names view the vector) when no line reads parameters from U, else copied there.
        """
        views = w.generated.param_views
        if theta is not None and theta is views.bound:
            return  # already read in place: the usual case, at every training step
        if theta is not None and w.params_in_place and _is_vector(theta, len(self.params)):
            views.bind(theta)
            return
        views.bind(None)
        if theta is None:
            w.theta_rows[:] = np.fromiter(map(_get_data, self.params), float, len(self.params))
        else:
            w.theta_rows[:] = theta

    def source(self, width: int) -> str:
        """The program written out for a batch of ``width`` samples: the Python source of
        its ``forward(x)`` and ``backward(x)`` (``x``: the inputs, one column per sample;
        other names are views of the tables, bound once)."""
        return self._buffers(width).generated.source

    def _read_roots(self, stores: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The roots' values, roots × samples: one gather if they are all per-sample."""
        if self._batch_roots is not None:
            return stores[BATCH][self._batch_roots]
        roots = np.empty((len(self.roots), stores[BATCH].shape[1]))
        for i, (store, r) in enumerate(self.roots):
            roots[i] = stores[store][r]
        return roots

    def _buffers(self, width: int) -> _Width:
        """The value and gradient tables for a batch width, and the program written out
        for them (:mod:`._codegen`), made once and reused.

        Reusing them keeps every strided view of :class:`Gather` valid, and saves
        allocating a few hundred kilobytes per step; the last few widths are kept.
        """
        w = self._by_width.get(width)
        if w is None:
            if len(self._by_width) >= 4:
                self._by_width.pop(next(iter(self._by_width)))
            w = _Width(self, width)
            self._by_width[width] = w
        return w


def _add_repeated(
    grad: np.ndarray, table: np.ndarray, index: np.ndarray, contributions: np.ndarray
) -> None:
    """``grad[index] += contributions`` where ``index`` (rows of ``table``) repeats: tokens
    recur within and across samples, and every one adds.

    One weighted ``np.bincount`` over the table's span of rows sums each row's
    contributions in reading order, several times faster than ``np.add.at``, then adds
    the sum to the row (``np.add.at`` adds them to the row one by one: the same number
    where the row held 0.0, as it does unless something else wrote it first; within
    rounding otherwise). Only rows some token read are written: an empty bin's 0.0 would
    turn a -0.0 into 0.0.
    """
    low = int(table.min())
    span = int(table.max()) - low + 1
    offsets = (index - low).ravel()
    sums = np.bincount(offsets, weights=contributions.ravel(), minlength=span)
    read = np.bincount(offsets, minlength=span) > 0
    rows = grad[low : low + span]
    np.add(rows, sums, out=rows, where=read)


class _Width:
    """One batch width's tables, its program written out for them, and the views that
    :meth:`Program.run` writes and returns, made once."""

    def __init__(self, program: Program, width: int) -> None:
        n_params, n_x = len(program.params), program.n_x
        self.values = np.empty((program.n_v, width))
        self.uniform = program.u_template.copy()
        self.grad_values = np.zeros_like(self.values)
        self.grad_uniform = np.zeros_like(self.uniform)
        self.tables = (self.values, self.uniform, self.grad_values, self.grad_uniform)
        self.ctx = Context(width, None)
        needed_batch = [rows for _, rows, _, _ in program.token_reads]
        needed_uniform = [np.arange(n_params), [r for r, _ in program.free_rows]]
        self.generated = generate(
            program.instructions,
            program.backward_instructions,
            (self.values, self.uniform),
            (self.grad_values, self.grad_uniform),
            self.ctx,
            program.seed_root,
            [
                np.concatenate([np.zeros(0, np.intp), *needed_batch]).astype(np.intp),
                np.concatenate(needed_uniform).astype(np.intp),
            ],
            n_x,
            n_params,
        )
        self.forward, self.backward = self.generated.forward, self.generated.backward
        # Roots are read from the tables after the run, embeddings gathered from U: inputs
        # and parameters among them must be there.
        roots = program.roots
        table_inputs = self.generated.table_inputs
        table_inputs |= any(store == BATCH and r < n_x for store, r in roots)
        self.params_in_place = not (
            self.generated.table_params
            or program.token_reads
            or any(store == UNIFORM and r < n_params for store, r in roots)
        )
        self.theta_rows = self.uniform[:n_params, 0]
        self.x_rows = self.values[:n_x] if table_inputs else None
        self.y_rows = self.values[n_x : n_x + program.n_y]
        self.param_grads = self.grad_uniform[:n_params, 0]


def _is_vector(theta: Any, n: int) -> bool:
    """Whether ``theta`` is a vector whose memory the program can view: n float64, C order."""
    return (
        type(theta) is np.ndarray
        and theta.dtype == np.float64
        and theta.shape == (n,)
        and theta.flags.c_contiguous
    )


def _columns(x: np.ndarray, own: Sequence[np.ndarray]) -> np.ndarray:
    """The batch's inputs as one column per sample, read-only: a view of the caller's array
    when it holds float64 in C order, which the program reads in place and must never write.

    Any other layout (Fortran order, a strided view) is copied into C order first: BLAS may
    add in another order for another layout, and the numbers must not depend on it. So is
    an array that may share memory with the program's own tables (``train.grad`` passed
    back in as a batch): the program writes those tables while it reads x.
    """
    x = np.ascontiguousarray(x, dtype=float)
    share = np.may_share_memory  # a bounds check: cheap, and never misses an overlap
    if share(x, own[0]) or share(x, own[1]) or share(x, own[2]) or share(x, own[3]):
        x = x.copy()
    columns = x.T  # a new view: its flag is not the caller's
    columns.flags.writeable = False
    return columns
