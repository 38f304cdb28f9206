"""Lowering a traced :class:`Graph` to instructions, one small pass at a time.

1. :func:`wire` — each node's operand positions; a label's *pick* becomes a node of its own.
2. :func:`live_positions` — only what the roots need.
3. :func:`describe_nodes` — each node's level (1 + its operands' highest), table (per-sample
   ``V`` or uniform ``U``) and whether it needs a gradient. Softmaxes of per-sample inputs
   are then fused (:func:`._softmax.fuse_softmaxes`: each output reads the inputs
   directly), and 2 and 3 run again without the chains' inner nodes.
4. :func:`group_nodes` — nodes of one level applying one kernel to operands of the same
   tables: each group becomes one instruction. Dots, sums, logsumexps and fused softmaxes
   of per-sample numbers group whatever their lengths (attention at every position).
5. :func:`assign_rows` — every node's row in its table: inputs, targets, parameters and
   constants first, then each group's outputs as one consecutive block.
6. :func:`emit` — the instructions, forward order and backward order.

Each pass reads what the ones before it made and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.compile._gather import BATCH, UNIFORM, Gather
from autograd_lite.compile._instructions import (
    Dot,
    DotActivation,
    Elementwise,
    Instruction,
    LogSumExp,
    PaddedSlots,
    Pick,
    RaggedDot,
    RaggedSum,
    Slots,
    Sum,
)
from autograd_lite.compile._kernels import FUSED_ACTIVATIONS, make_kernel
from autograd_lite.compile._softmax import Softmax
from autograd_lite.compile._trace import LEAF_TAGS, Graph
from autograd_lite.engine import Value

# The operand kinds of a group of dots of per-sample pairs, whatever their lengths.
PER_SAMPLE_PAIRS = "per-sample pairs"
# The operand kinds of a group of sums or logsumexps of per-sample numbers, of any length.
PER_SAMPLE_ROWS = "per-sample rows"

__all__ = [
    "Layout",
    "Node",
    "Wiring",
    "assign_rows",
    "describe_nodes",
    "emit",
    "group_nodes",
    "live_positions",
    "wire",
]


class Wiring:
    """Operand positions of every node; picks are numbered after the graph's entries."""

    __slots__ = ("drivers", "entries", "fused", "operands", "picks")

    def __init__(self, entries: list[Any]) -> None:
        self.entries = entries
        self.operands: dict[int, list[int]] = {}
        self.picks: list[tuple[int, ...]] = []  # the positions a pick chooses between
        self.drivers: list[int | None] = []  # the target position of a token-sequence pick
        # Softmax outputs read straight from their inputs: position -> (softmax, output k).
        self.fused: dict[int, tuple[int, int]] = {}

    def kernel(self, position: int) -> Any:
        """The kernel an operation's node applies (``"softmax"`` for a fused output)."""
        return "softmax" if position in self.fused else self.entries[position][0]

    def is_pick(self, position: int) -> bool:
        return position >= len(self.entries)

    def pick(self, position: int) -> tuple[int, ...]:
        return self.picks[position - len(self.entries)]

    def driver(self, position: int) -> int | None:
        return self.drivers[position - len(self.entries)]

    def parents(self, position: int) -> Sequence[int]:
        if self.is_pick(position):
            return self.pick(position)
        return self.operands.get(position, ())


def wire(graph: Graph) -> Wiring:
    """Pass 1: operand positions, with each distinct pick made a node of its own."""
    wiring = Wiring(graph.entries)
    pick_position: dict[Any, int] = {}

    def operand(o: Any) -> int:
        if isinstance(o, tuple):
            choices = o[1]
            driver = o[2] if o[0] == "tpick" else None
            if (choices, driver) not in pick_position:
                pick_position[choices, driver] = len(wiring.entries) + len(wiring.picks)
                wiring.picks.append(choices)
                wiring.drivers.append(driver)
            return pick_position[choices, driver]
        return o

    for position, entry in enumerate(graph.entries):
        if entry[0] not in LEAF_TAGS:
            wiring.operands[position] = [operand(o) for o in entry[1]]
    return wiring


def live_positions(wiring: Wiring, roots: Sequence[int]) -> set[int]:
    """Pass 2: the positions the roots depend on (themselves included)."""
    live: set[int] = set()
    stack = list(roots)
    while stack:
        position = stack.pop()
        if position not in live:
            live.add(position)
            stack.extend(wiring.parents(position))
    return live


class Node:
    """What the lowering knows about one position: level, table, gradient need."""

    __slots__ = ("batch", "level", "need")

    def __init__(self, batch: bool, level: int, need: bool) -> None:
        self.batch = batch
        self.level = level
        self.need = need


def _leaf_node(entry: Any, params: Sequence[Value]) -> Node:
    tag = entry[0]
    if tag in ("x", "y", "lc"):
        return Node(True, 0, False)
    if tag == "tok":  # a row of an embedding table, picked by the sample's token
        return Node(True, 0, True)
    if tag == "p":
        return Node(False, 0, params[entry[1]].requires_grad)
    if tag == "f":
        return Node(False, 0, bool(entry[2]))
    return Node(False, 0, False)  # "c": a constant


def _combined(operands: Sequence[Node]) -> Node:
    return Node(
        any(o.batch for o in operands),
        1 + max(o.level for o in operands),
        any(o.need for o in operands),
    )


def describe_nodes(wiring: Wiring, live: set[int], params: Sequence[Value]) -> dict[int, Node]:
    """Pass 3: level, table and gradient need of every live node, parents first."""
    nodes: dict[int, Node] = {}
    entries = wiring.entries

    def info(position: int) -> Node:
        node = nodes.get(position)
        if node is None:  # a pick: its choices come earlier in the graph
            node = nodes[position] = _combined([info(c) for c in wiring.pick(position)])
        return node

    for position in sorted(p for p in live if not wiring.is_pick(p)):
        entry = entries[position]
        if entry[0] in LEAF_TAGS:
            nodes[position] = _leaf_node(entry, params)
        else:
            nodes[position] = _combined([info(o) for o in wiring.operands[position]])
    for position in live:
        info(position)
    return nodes


def group_nodes(
    wiring: Wiring, live: set[int], nodes: dict[int, Node]
) -> list[tuple[Any, list[int]]]:
    """Pass 4: (key, members) per instruction, in an order that respects dependencies.

    The key is (level, kernel, operand tables, strict pow) for operations and
    (level, "pick" or "tpick") for picks. Dots of per-sample numbers only (no bias) are
    one group whatever their lengths: attention's weighted values at every position.
    """
    groups: dict[Any, list[int]] = {}
    for position in sorted(live):
        if wiring.is_pick(position):
            driven = wiring.driver(position) is not None
            key: Any = (nodes[position].level, "tpick" if driven else "pick")
        else:
            entry = wiring.entries[position]
            if entry[0] in LEAF_TAGS:
                continue
            operands = wiring.operands[position]
            kernel = wiring.kernel(position)
            kinds: Any = tuple(nodes[o].batch for o in operands)
            if kernel == "dot" and len(kinds) % 2 == 0 and all(kinds):
                kinds = PER_SAMPLE_PAIRS  # of any length: one instruction (RaggedDot)
            elif kernel in ("sum", "logsumexp", "softmax") and all(kinds):
                kinds = PER_SAMPLE_ROWS  # of any length: one instruction (PaddedSlots)
            strict = kernel == "pow" and nodes[operands[1]].need
            key = (nodes[position].level, kernel, kinds, strict)
        groups.setdefault(key, []).append(position)
    return sorted(groups.items(), key=lambda item: (item[0][0], item[1][0]))


class Layout:
    """Pass 5's result: every node's row, the tables' sizes, and what fills the leaf rows."""

    def __init__(self, graph: Graph, n_params: int) -> None:
        self.row: dict[int, int] = {}
        self.n_v = graph.n_x + graph.n_y
        self.n_u = n_params
        self.constants: list[tuple[int, float]] = []  # (row of U, value)
        self.free_rows: list[tuple[int, Value]] = []  # (row of U, a leaf the model holds)
        self.label_rows = slice(self.n_v, self.n_v)
        self.label_constants: list[tuple[float, ...]] = []
        self.token_reads: dict[int, list[tuple[int, int, int]]] = {}  # table -> reads

    def take(self, position: int, batch: bool) -> int:
        """The next row of V (``batch``) or U for ``position``."""
        if batch:
            self.row[position] = self.n_v
            self.n_v += 1
        else:
            self.row[position] = self.n_u
            self.n_u += 1
        return self.row[position]


def _leaf_rows(layout: Layout, graph: Graph, leaves: list[int]) -> None:
    """Inputs, targets and parameters have fixed rows; other leaves and constants go to U."""
    n_x = graph.n_x
    for position in leaves:
        entry = graph.entries[position]
        tag = entry[0]
        if tag == "x":
            layout.row[position] = entry[1]
        elif tag == "y":
            layout.row[position] = n_x + entry[1]
        elif tag == "p":
            layout.row[position] = entry[1]
        elif tag == "f":
            layout.free_rows.append((layout.take(position, False), graph.free[position]))
        elif tag == "c":
            layout.constants.append((layout.take(position, False), entry[1]))


def _per_sample_leaf_rows(layout: Layout, graph: Graph, leaves: list[int]) -> None:
    """Label constants, then token lookups (``("tok", table, position, column)``), in V."""
    for position in leaves:
        if graph.entries[position][0] == "lc":
            layout.take(position, True)
            layout.label_constants.append(graph.entries[position][1])
    for position in leaves:
        entry = graph.entries[position]
        if entry[0] == "tok":
            r = layout.take(position, True)
            layout.token_reads.setdefault(entry[1], []).append((r, entry[2], entry[3]))
    layout.label_rows = slice(layout.label_rows.start, layout.n_v)


def assign_rows(
    graph: Graph,
    n_params: int,
    live: set[int],
    nodes: dict[int, Node],
    ordered: list[tuple[Any, list[int]]],
) -> Layout:
    """Pass 5: rows for the leaves, then each group's outputs as one consecutive block."""
    layout = Layout(graph, n_params)
    leaves = sorted(p for p in live if p < len(graph.entries) and graph.entries[p][0] in LEAF_TAGS)
    _leaf_rows(layout, graph, leaves)
    _per_sample_leaf_rows(layout, graph, leaves)
    for _, members in ordered:
        batch = nodes[members[0]].batch
        for position in members:
            layout.take(position, batch)
    return layout


def _instruction(
    key: Any, members: list[int], wiring: Wiring, nodes: dict[int, Node], row: dict[int, int]
) -> Instruction:
    """One group's instruction."""
    out = Gather(BATCH if nodes[members[0]].batch else UNIFORM, [row[p] for p in members])
    if key[1] in ("pick", "tpick"):
        table = np.array([[row[c] for c in wiring.pick(p)] for p in members], dtype=np.intp)
        drivers = None
        if key[1] == "tpick":
            drivers = np.array([wiring.driver(p) for p in members], dtype=np.intp)
        return Pick(out, table, drivers)
    kernel_name = key[1]
    operands = [wiring.operands[p] for p in members]
    if kernel_name == "softmax":
        return _softmax_instruction(out, members, wiring, row)
    if key[2] == PER_SAMPLE_PAIRS:
        return _pairs_instruction(out, operands, nodes, row)
    if key[2] == PER_SAMPLE_ROWS:
        return _rows_instruction(kernel_name, out, operands, row)
    kinds = np.array(key[2], dtype=bool)
    rows = np.array([[row[o] for o in ops] for ops in operands], dtype=np.intp)
    need = np.array([[nodes[o].need for o in ops] for ops in operands], dtype=bool).any(axis=0)
    if kernel_name == "dot":
        return Dot(out, rows, kinds, need)
    if kernel_name in FUSED_ACTIVATIONS:
        return DotActivation(out, rows, kinds, need, FUSED_ACTIVATIONS[kernel_name]())
    if kernel_name == "sum":
        return Sum(out, Slots(rows, kinds))
    if kernel_name == "logsumexp":
        return LogSumExp(out, Slots(rows, kinds))
    gathers = [Gather(BATCH if kinds[i] else UNIFORM, rows[:, i]) for i in range(rows.shape[1])]
    return Elementwise(make_kernel(kernel_name, key[3]), out, gathers, list(need))


def _softmax_instruction(
    out: Gather, members: list[int], wiring: Wiring, row: dict[int, int]
) -> Instruction:
    """Fused softmax outputs (:mod:`._softmax`): each member is output k of one softmax."""
    softmaxes: dict[int, int] = {}  # softmax -> its index in the instruction
    inputs = []
    for position in members:
        softmax, _ = wiring.fused[position]
        if softmax not in softmaxes:
            softmaxes[softmax] = len(softmaxes)
            inputs.append([row[v] for v in wiring.operands[position]])
    cells = np.array(
        [wiring.fused[p][1] * len(softmaxes) + softmaxes[wiring.fused[p][0]] for p in members],
        dtype=np.intp,
    )
    return Softmax(out, inputs, cells)


def _pairs_instruction(
    out: Gather, operands: list[list[int]], nodes: dict[int, Node], row: dict[int, int]
) -> Instruction:
    """A :class:`Dot` if the members have one length, else a :class:`RaggedDot`."""
    halves = [(ops[: len(ops) // 2], ops[len(ops) // 2 :]) for ops in operands]
    if len({len(ops) for ops in operands}) == 1:
        rows = np.array([[row[o] for o in ops] for ops in operands], dtype=np.intp)
        need = np.array([[nodes[o].need for o in ops] for ops in operands], dtype=bool)
        return Dot(out, rows, np.ones(rows.shape[1], dtype=bool), need.any(axis=0))
    left = [[row[o] for o in a] for a, _ in halves]
    right = [[row[o] for o in b] for _, b in halves]
    need = (
        any(nodes[o].need for a, _ in halves for o in a),
        any(nodes[o].need for _, b in halves for o in b),
    )
    return RaggedDot(out, left, right, need)


def _rows_instruction(
    kernel_name: str, out: Gather, operands: list[list[int]], row: dict[int, int]
) -> Instruction:
    """Sums or logsumexps of per-sample numbers: as before if of one length, else padded."""
    rows = [[row[o] for o in ops] for ops in operands]
    if len({len(r) for r in rows}) == 1:
        slots = Slots(np.array(rows, dtype=np.intp), np.ones(len(rows[0]), dtype=bool))
        return Sum(out, slots) if kernel_name == "sum" else LogSumExp(out, slots)
    if kernel_name == "sum":
        return RaggedSum(out, PaddedSlots(rows, -0.0))
    return LogSumExp(out, PaddedSlots(rows, -math.inf))


def emit(
    ordered: list[tuple[Any, list[int]]],
    wiring: Wiring,
    nodes: dict[int, Node],
    layout: Layout,
) -> tuple[list[Instruction], list[Instruction]]:
    """Pass 6: the instructions in forward order, and those that carry gradients, reversed."""
    forward: list[Instruction] = []
    backward: list[Instruction] = []
    for key, members in ordered:
        instruction = _instruction(key, members, wiring, nodes, layout.row)
        forward.append(instruction)
        if any(nodes[p].need for p in members):
            backward.append(instruction)
    backward.reverse()
    return forward, backward
