"""Draw a computation graph with Graphviz: every value, every operation, every gradient.

``draw_graph(root)`` (also called ``draw_dot``, the name from the micrograd lecture)
returns a ``graphviz.Digraph``; in Jupyter it shows inline, and ``render(root, "g.svg")``
writes a file whose format follows the suffix (``.svg``, ``.png``, ``.pdf``, ``.dot``).

What the drawing shows
----------------------
* Each value is a record ``{ label | data 0.1234 | grad 0.5678 }``; each operation is a
  small ellipse with its symbol (``+``, ``*``, ``tanh``, ``·`` for dot, ``Σ`` for sum)
  between its inputs and its result. Inputs are connected in argument order, one edge
  per argument, so ``a + a`` has two edges from ``a``.
* Leaves are coloured by kind (a legend is drawn beside the graph):

  - *parameter*: a leaf that takes gradients (``requires_grad=True``), orange;
  - *input*: a leaf passed in ``inputs=``, or a leaf with ``requires_grad=False`` that
    has a label (data you named), blue;
  - *constant*: an unlabelled leaf with ``requires_grad=False``; this is what a plain
    number in an expression becomes (``2 * x``), grey, shown without a gradient;
  - the *output* (``root``) is green; other results are white.

* Edges can carry the gradient that flows along them: into an operation's result node
  ``n`` from its argument ``p`` flows ``local_derivative(n, p) * n.grad`` (the term that
  ``backward()`` adds to ``p.grad``). With ``edge_weight="grad"`` the pen width grows
  linearly from 1 to 4 with ``|flow| / max |flow|`` over the drawing, and the colour goes
  from grey to dark blue; an edge along which exactly nothing flows (a dead ReLU) is
  dashed, a non-finite flow is red. Before ``backward()`` every flow is 0 and all edges
  are plain. Hover over an edge in an SVG to read its numbers.

Large graphs
------------
A drawing with more than ``max_nodes`` Graphviz nodes (values plus operations) is
refused with a ``ValueError`` that says what to do. ``collapse`` groups nodes by their
``name_scope`` path (``nn`` modules set it, e.g. ``("MLP", "Layer[0]", "Neuron[3]")``)
into one box per group showing the scope, the number of nodes and the group's output:

* ``collapse="neuron"``: group by the deepest scope level found in the graph;
* ``collapse="layer"``: group by one level less (in an MLP: one box per layer);
* ``collapse=k`` (an int >= 1): group by the first ``k`` names of the scope path.

Parameters and constants made outside the group's scope (an ``nn`` module's parameters
are made in its constructor) join the group of the nodes that use them when all of those
are in one group; inputs always stay outside. Edges between the same two boxes merge
into one labelled ``×n``, weighted by the largest flow among them.

``cluster=True`` instead keeps every node and draws nested boxes (Graphviz clusters)
around each scope; with ``collapse`` it nests the collapsed boxes in their scopes' boxes.

Node ids are ``v0, v1, ...`` in the order of ``topological_order(root)`` and ``v3_op``
for the operation that made ``v3`` (``g0, g1, ...`` for collapsed groups), and they are
also the ``id`` of the SVG elements, so the same graph gives byte-identical DOT and a page
can find a node's drawing (the backward-pass player does).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_lite.engine import Value, topological_order

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "COLLAPSE_LEVELS",
    "RENDER_SUFFIXES",
    "GraphvizNotFoundError",
    "draw_dot",
    "draw_graph",
    "node_ids",
    "render",
]

COLLAPSE_LEVELS = ("neuron", "layer")
EDGE_WEIGHTS = ("grad", None)
RANKDIRS = ("LR", "RL", "TB", "BT")
# Suffix -> Graphviz output format; None means the DOT source itself (no `dot` needed).
RENDER_SUFFIXES: dict[str, str | None] = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": None,
    ".gv": None,
}

FILL_COLOURS = {
    "parameter": "#fdd49e",
    "input": "#c6dbef",
    "constant": "#e0e0e0",
    "output": "#c7e9c0",
    "value": "#ffffff",
    "group": "#e8def8",
}
_THIN_GREY = "#9e9e9e"
_THICK_BLUE = "#08519c"
_NON_FINITE_RED = "#cb181d"
_MIN_PEN, _MAX_PEN = 1.0, 4.0

_INSTALL_GRAPHVIZ = (
    "install the Graphviz programs: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`"
)


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is not installed, so only DOT source can be written."""


def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError as error:
        raise ImportError(
            'drawing graphs needs the graphviz Python package: pip install "autograd-lite[viz]"'
            f" (and, for SVG/PNG/PDF output, {_INSTALL_GRAPHVIZ})"
        ) from error
    return graphviz


# --------------------------------------------------------------------------------------
# Small helpers shared with the player
# --------------------------------------------------------------------------------------


def _as_float(x: Any) -> float:
    """A gradient or local derivative as a float (they are Values after create_graph=True)."""
    return x.data if isinstance(x, Value) else float(x)


def format_number(x: float, digits: int = 4) -> str:
    """Fixed point for ordinary magnitudes, scientific notation for tiny or huge ones."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}f}"
    return f"{x:.{max(digits - 1, 0)}e}"


def _roots(root: Value | Sequence[Value]) -> list[Value]:
    if isinstance(root, Value):
        return [root]
    if isinstance(root, (str, bytes)) or not isinstance(root, Iterable):
        raise TypeError(f"expected a Value or a sequence of Values, got {type(root).__name__}")
    roots = list(root)
    if not roots:
        raise ValueError("expected at least one Value to draw, got an empty sequence")
    for r in roots:
        if not isinstance(r, Value):
            raise TypeError(f"expected a Value or a sequence of Values, got a {type(r).__name__}")
    return roots


def node_ids(root: Value | Sequence[Value]) -> dict[Value, str]:
    """The id of every node in drawings of ``root``: ``v<i>`` by topological order."""
    return {node: f"v{i}" for i, node in enumerate(topological_order(_roots(root)))}


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``: never half-written."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        # mkstemp makes the file private (0600); give it the permissions open() would.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    # The umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def count_drawn_nodes(order: Sequence[Value]) -> int:
    """Graphviz nodes in a full drawing of ``order``: one per value, one per operation."""
    return len(order) + sum(1 for node in order if node.parents)


# Characters with a meaning inside a Graphviz record label, escaped to appear literally.
_RECORD_SPECIAL = {c: "\\" + c for c in '\\{}|<>"'}
_RECORD_SPECIAL.update({"\n": "\\n", "\r": "", "\t": " "})


def _record_text(text: str) -> str:
    return "".join(_RECORD_SPECIAL.get(c, c) for c in text)


def _plain_text(text: str) -> str:
    """Text for an ordinary (non-record) label: only backslashes and quotes are special."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# --------------------------------------------------------------------------------------
# What is drawn
# --------------------------------------------------------------------------------------


def _kind(node: Value, roots: set[Value], inputs: set[Value]) -> str:
    if node in roots:
        return "output"
    if node.is_leaf:
        if node in inputs:
            return "input"
        if node.requires_grad:
            return "parameter"
        return "input" if node.label else "constant"
    return "value"


def _edge_flows(order: list[Value]) -> dict[tuple[Value, int], float]:
    """The gradient flowing along each edge (parent ``i`` of node): local derivative * grad."""
    flows: dict[tuple[Value, int], float] = {}
    for node in order:
        local = node.local_derivatives
        if local is None:
            continue
        grad = _as_float(node.grad)
        for i, (parent, d) in enumerate(zip(node.parents, local)):
            if parent.requires_grad:
                flows[(node, i)] = _as_float(d) * grad
    return flows


def _flow_style(flow: float | None, largest: float) -> dict[str, str]:
    """Pen width and colour for an edge carrying ``flow``, relative to the largest flow."""
    if flow is None or largest == 0:
        return {}
    if not math.isfinite(flow):
        return {"color": _NON_FINITE_RED, "penwidth": f"{_MAX_PEN:g}"}
    if flow == 0:
        return {"style": "dashed", "color": _THIN_GREY}
    share = abs(flow) / largest
    return {
        "penwidth": f"{_MIN_PEN + (_MAX_PEN - _MIN_PEN) * share:.2f}",
        "color": _mix(_THIN_GREY, _THICK_BLUE, share),
    }


def _mix(low: str, high: str, share: float) -> str:
    a = [int(low[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b))


def _edge_tooltip(argument: int, node: Value, flow: float | None) -> str:
    local = node.local_derivatives
    if local is None:
        return f"argument {argument}"
    text = f"argument {argument}: local derivative {_as_float(local[argument]):.6g}"
    if flow is not None:
        text += f", gradient flow {flow:.6g}"
    return text


def _collapse_depth(collapse: str | int, order: list[Value]) -> int:
    deepest = max((len(node.scope) for node in order), default=0)
    if collapse == "neuron":
        return deepest
    if collapse == "layer":
        return max(deepest - 1, 1)
    return collapse  # type: ignore[return-value]


def _scope_keys(
    order: list[Value], depth: int | None, kinds: dict[Value, str]
) -> dict[Value, tuple[str, ...]]:
    """The scope path (cut to ``depth``) each node is grouped under; unscoped nodes are absent.

    A parameter or constant with no scope of its own (an ``nn`` parameter is made in a
    constructor, a literal constant by the operation) joins its consumers' group when they
    all share one. Inputs stay outside, so that a drawing shows where the data comes in.
    """
    keys: dict[Value, tuple[str, ...]] = {}
    for node in order:
        # A leaf made above the grouping level (a layer turning numbers into constants
        # for all its neurons) is placed by its consumers, like an unscoped leaf.
        if node.scope and not (node.is_leaf and depth is not None and len(node.scope) < depth):
            keys[node] = node.scope[:depth] if depth is not None else node.scope
    consumer_keys: dict[Value, set[tuple[str, ...] | None]] = {}
    for node in order:
        for parent in node.parents:
            if parent.is_leaf and parent not in keys and kinds[parent] in ("parameter", "constant"):
                consumer_keys.setdefault(parent, set()).add(keys.get(node))
    for leaf, found in consumer_keys.items():
        if len(found) == 1:
            (key,) = found
            if key is not None:
                keys[leaf] = key
    return keys


@dataclass
class _Drawing:
    """Nodes (with their cluster path) and edges, collected before emitting DOT."""

    nodes: list[tuple[str, dict[str, str], tuple[str, ...]]] = field(default_factory=list)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def node(self, node_id: str, cluster: tuple[str, ...] = (), **attrs: str) -> None:
        self.nodes.append((node_id, {"id": node_id, **attrs}, cluster))

    def edge(self, tail: str, head: str, **attrs: str) -> None:
        self.edges.append((tail, head, attrs))


def _value_record(node: Value, kind: str, show_grad: bool, digits: int) -> str:
    fields = []
    if node.label:
        fields.append(_record_text(node.label))
    fields.append(f"data {format_number(node.data, digits)}")
    if show_grad and kind != "constant":
        fields.append(f"grad {format_number(_as_float(node.grad), digits)}")
    return "{ " + " | ".join(fields) + " }"


def _op_text(node: Value) -> str:
    return _plain_text(node._op or node.op or "?")


def _draw_value(
    drawing: _Drawing,
    node: Value,
    node_id: str,
    kind: str,
    cluster: tuple[str, ...],
    show_grad: bool,
    digits: int,
) -> None:
    drawing.node(
        node_id,
        cluster,
        label=_value_record(node, kind, show_grad, digits),
        shape="record",
        style="filled",
        fillcolor=FILL_COLOURS[kind],
        tooltip=f"{kind} {node_id}",
    )
    if node.parents:
        op_id = f"{node_id}_op"
        drawing.node(op_id, cluster, label=_op_text(node), shape="ellipse", tooltip=node.op)
        drawing.edge(op_id, node_id, id=f"{op_id}-{node_id}")


def _draw_full(
    drawing: _Drawing,
    order: list[Value],
    ids: dict[Value, str],
    kinds: dict[Value, str],
    clusters: dict[Value, tuple[str, ...]],
    flows: dict[tuple[Value, int], float],
    largest: float,
    show_grad: bool,
    digits: int,
) -> None:
    for node in order:
        _draw_value(
            drawing, node, ids[node], kinds[node], clusters.get(node, ()), show_grad, digits
        )
    for node in order:
        op_id = f"{ids[node]}_op"
        for i, parent in enumerate(node.parents):
            flow = flows.get((node, i))
            drawing.edge(
                ids[parent],
                op_id,
                id=f"{op_id}-{i}",
                tooltip=_edge_tooltip(i, node, flow),
                **_flow_style(flow, largest),
            )


def _draw_collapsed(
    drawing: _Drawing,
    order: list[Value],
    ids: dict[Value, str],
    kinds: dict[Value, str],
    keys: dict[Value, tuple[str, ...]],
    roots: set[Value],
    flows: dict[tuple[Value, int], float],
    largest: float,
    cluster: bool,
    show_grad: bool,
    digits: int,
) -> None:
    # Groups are numbered by their first operation (not by an absorbed parameter, which
    # the traversal may reach first), so g0 is the earliest computation.
    group_ids: dict[tuple[str, ...], str] = {}
    for node in order:
        if node.parents and node in keys:
            group_ids.setdefault(keys[node], f"g{len(group_ids)}")
    members: dict[tuple[str, ...], list[Value]] = {}
    for node in order:
        key = keys.get(node)
        if key is not None:
            group_ids.setdefault(key, f"g{len(group_ids)}")
            members.setdefault(key, []).append(node)

    def item(node: Value) -> str:
        key = keys.get(node)
        return ids[node] if key is None else group_ids[key]

    # A group's outputs: members used outside it (or drawn roots).
    used_outside: set[Value] = set(roots)
    for node in order:
        for parent in node.parents:
            if keys.get(parent) is not None and keys.get(parent) != keys.get(node):
                used_outside.add(parent)

    for key, group_id in group_ids.items():
        nodes = members[key]
        outputs = [n for n in nodes if n in used_outside]
        # Inside the boxes of its enclosing scopes, a group only needs its own name.
        name = key[-1] if cluster else " / ".join(key)
        fields = [_record_text(name), f"{len(nodes)} nodes"]
        if len(outputs) == 1:
            fields.append(f"data {format_number(outputs[0].data, digits)}")
            if show_grad:
                fields.append(f"grad {format_number(_as_float(outputs[0].grad), digits)}")
        elif outputs:
            fields.append(f"{len(outputs)} outputs")
            if show_grad:
                largest_grad = max(abs(_as_float(n.grad)) for n in outputs)
                fields.append(f"max abs grad {format_number(largest_grad, digits)}")
        drawing.node(
            group_id,
            key[:-1] if cluster else (),
            label="{ " + " | ".join(fields) + " }",
            shape="Mrecord",
            style="filled",
            fillcolor=FILL_COLOURS["group"],
            tooltip=" / ".join(key),
        )
    for node in order:
        if node not in keys:
            _draw_value(drawing, node, ids[node], kinds[node], (), show_grad, digits)

    # Edges between drawn items; parallel edges merge, keeping the largest flow.
    merged: dict[tuple[str, str], list[float | None]] = {}
    for node in order:
        head = item(node) if node in keys else f"{ids[node]}_op"
        for i, parent in enumerate(node.parents):
            tail = item(parent)
            if tail == head:
                continue
            merged.setdefault((tail, head), []).append(flows.get((node, i)))
    for (tail, head), edge_flows in merged.items():
        known = [f for f in edge_flows if f is not None]
        flow = max(known, key=lambda f: abs(f) if f == f else math.inf) if known else None
        attrs = _flow_style(flow, largest)
        if len(edge_flows) > 1:
            attrs["label"] = f"×{len(edge_flows)}"
        drawing.edge(tail, head, id=f"{tail}-{head}", **attrs)


def _emit(dot: Any, drawing: _Drawing) -> None:
    """Write nodes into nested clusters by their cluster path, then every edge."""
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    by_cluster: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]] = {}
    for node_id, attrs, path in drawing.nodes:
        by_cluster.setdefault(path, []).append((node_id, attrs))
        # Register every prefix so that clusters nest, in order of first appearance.
        for depth in range(1, len(path) + 1):
            parent, child = path[: depth - 1], path[:depth]
            siblings = children.setdefault(parent, [])
            if child not in siblings:
                siblings.append(child)
    counter = [0]

    def fill(graph: Any, path: tuple[str, ...]) -> None:
        for node_id, attrs in by_cluster.get(path, ()):
            graph.node(node_id, **attrs)
        for child in children.get(path, ()):
            name = f"cluster_{counter[0]}"
            counter[0] += 1
            with graph.subgraph(name=name) as sub:
                sub.attr(label=_plain_text(child[-1]), style="rounded,dashed", color="#7b6f99")
                fill(sub, child)

    fill(dot, ())
    for tail, head, attrs in drawing.edges:
        dot.edge(tail, head, **attrs)


def _legend(kinds_present: Iterable[str]) -> str:
    rows = "".join(
        f'<tr><td bgcolor="{FILL_COLOURS[k]}">{k}</td></tr>'
        for k in FILL_COLOURS
        if k in kinds_present
    )
    return f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">{rows}</table>>'


def _validate(
    rankdir: str,
    collapse: Any,
    cluster: Any,
    max_nodes: Any,
    edge_weight: Any,
    digits: Any,
) -> None:
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}; got {rankdir!r}")
    if collapse is not None:
        if isinstance(collapse, bool) or not isinstance(collapse, (str, int)):
            raise TypeError(
                "collapse must be None, 'neuron', 'layer' or an int scope depth; "
                f"got {type(collapse).__name__}"
            )
        if isinstance(collapse, str) and collapse not in COLLAPSE_LEVELS:
            raise ValueError(
                f"collapse must be None, 'neuron', 'layer' or an int scope depth; got {collapse!r}"
            )
        if isinstance(collapse, int) and collapse < 1:
            raise ValueError(f"an int collapse is a scope depth >= 1; got {collapse}")
    if not isinstance(cluster, bool):
        raise TypeError(f"cluster must be True or False, got {type(cluster).__name__}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int):
        raise TypeError(f"max_nodes must be an int, got {type(max_nodes).__name__}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1; got {max_nodes}")
    if edge_weight not in EDGE_WEIGHTS:
        raise ValueError(f"edge_weight must be 'grad' or None; got {edge_weight!r}")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 17:
        raise ValueError(f"digits must be an int from 0 to 17; got {digits!r}")


def draw_graph(
    root: Value | Sequence[Value],
    *,
    rankdir: str = "LR",
    collapse: str | int | None = None,
    cluster: bool = False,
    max_nodes: int = 500,
    show_grad: bool = True,
    edge_weight: str | None = "grad",
    inputs: Iterable[Value] = (),
    legend: bool = True,
    digits: int = 4,
    format: str = "svg",
) -> graphviz.Digraph:
    """Return a ``graphviz.Digraph`` of everything that leads to ``root``.

    ``root`` is a Value or a sequence of Values (e.g. a layer's outputs). ``rankdir`` is
    Graphviz's layout direction ("LR" left to right, "TB" top to bottom, ...).
    ``collapse`` ("neuron", "layer" or an int depth) groups nodes by ``name_scope`` and
    ``cluster=True`` draws boxes around scopes (see the module docstring). ``max_nodes``
    bounds the number of drawn nodes. ``show_grad`` adds each value's gradient;
    ``edge_weight="grad"`` scales edges by the gradient flowing along them, ``None``
    draws them all alike. ``inputs`` marks leaves to colour as inputs; ``legend`` adds
    the colour key; ``digits`` sets the precision of numbers; ``format`` is the output
    format used by the Digraph's own ``render()``/``pipe()``.
    """
    _validate(rankdir, collapse, cluster, max_nodes, edge_weight, digits)
    graphviz = _import_graphviz()
    roots = _roots(root)
    input_set = set()
    for value in inputs:
        if not isinstance(value, Value):
            raise TypeError(f"inputs must be Values, got a {type(value).__name__}")
        input_set.add(value)
    order = topological_order(roots)
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    root_set = set(roots)
    kinds = {node: _kind(node, root_set, input_set) for node in order}

    if collapse is not None:
        keys = _scope_keys(order, _collapse_depth(collapse, order), kinds)
        ungrouped = [node for node in order if node not in keys]
        drawn = len(set(keys.values())) + len(ungrouped) + sum(1 for n in ungrouped if n.parents)
    else:
        keys = _scope_keys(order, None, kinds) if cluster else {}
        drawn = count_drawn_nodes(order)
    if drawn > max_nodes:
        advice = (
            "group it with collapse='neuron' or collapse='layer' (nodes made inside nn "
            "modules or name_scope blocks)"
            if collapse is None
            else "collapse coarser (collapse='layer' or a smaller int depth)"
        )
        raise ValueError(
            f"the drawing would have {drawn} nodes, more than max_nodes={max_nodes}: "
            f"{advice}, draw a smaller input (one sample, fewer units), or pass "
            f"max_nodes={drawn} to draw it anyway (Graphviz gets slow beyond a few thousand)"
        )

    flows = _edge_flows(order) if edge_weight == "grad" and show_grad else {}
    largest = max((abs(f) for f in flows.values() if math.isfinite(f)), default=0.0)
    drawing = _Drawing()
    if collapse is not None:
        _draw_collapsed(
            drawing, order, ids, kinds, keys, root_set, flows, largest, cluster, show_grad, digits
        )
    else:
        _draw_full(drawing, order, ids, kinds, keys, flows, largest, show_grad, digits)

    dot = graphviz.Digraph(
        name="autograd_lite",
        format=format,
        graph_attr={"rankdir": rankdir},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7"},
    )
    _emit(dot, drawing)
    if legend:
        shown = order if collapse is None else [node for node in order if node not in keys]
        present = {kinds[node] for node in shown}
        if collapse is not None and keys:
            present.add("group")
        dot.node("legend", label=_legend(present), shape="plaintext", id="legend")
    return dot


draw_dot = draw_graph


def render(
    graph: Value | Sequence[Value] | graphviz.Digraph,
    path: str | os.PathLike[str],
    **draw_kwargs: Any,
) -> Path:
    """Draw ``graph`` (a Value, Values, or a Digraph) to ``path``; the suffix picks the format.

    ``.svg``, ``.png`` and ``.pdf`` need the Graphviz ``dot`` program (a
    ``GraphvizNotFoundError`` says how to install it); ``.dot``/``.gv`` write the DOT
    source and always work. Keyword arguments go to :func:`draw_graph`. The file is
    written atomically. Returns the path.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in RENDER_SUFFIXES:
        raise ValueError(
            f"cannot tell the format from {str(target)!r}: the path must end in one of "
            f"{', '.join(RENDER_SUFFIXES)}"
        )
    if hasattr(graph, "source") and hasattr(graph, "pipe"):
        if draw_kwargs:
            raise TypeError(
                "drawing options apply to a Value, not to an already drawn Digraph; "
                f"got {', '.join(sorted(draw_kwargs))}"
            )
        digraph = graph
    else:
        digraph = draw_graph(graph, **draw_kwargs)  # type: ignore[arg-type]
    output_format = RENDER_SUFFIXES[suffix]
    if output_format is None:
        data = digraph.source.encode("utf-8")
    else:
        data = _pipe(digraph, output_format)
    write_atomically(target, data)
    return target


def _pipe(digraph: Any, output_format: str) -> bytes:
    """Run Graphviz on the Digraph; a missing ``dot`` program becomes a clear error."""
    graphviz = _import_graphviz()
    try:
        return digraph.pipe(format=output_format)
    except graphviz.ExecutableNotFound as error:
        raise GraphvizNotFoundError(
            f"the Graphviz `dot` program was not found, so no {output_format.upper()} can be "
            f"made: {_INSTALL_GRAPHVIZ}. The DOT source is still available as the Digraph's "
            "`.source`, or render to a path ending in .dot"
        ) from error
