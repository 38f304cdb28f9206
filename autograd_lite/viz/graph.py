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
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_lite.engine import Value, topological_order
from autograd_lite.viz.rules import expression

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "COLLAPSE_LEVELS",
    "RENDER_SUFFIXES",
    "GraphvizNotFoundError",
    "draw_dot",
    "draw_graph",
    "model_graph",
    "node_ids",
    "node_names",
    "parameter_names",
    "render",
]

COLLAPSE_LEVELS = ("neuron", "layer")
EDGE_WEIGHTS = ("grad", None)
EDGE_LABELS = ("local", "flow", None)
# A rough size of one drawn node and of the gaps between them, in pixels (96 per inch),
# for the size guard; tests check the estimate against Graphviz's own layout.
_CHAR_PX, _FIELD_PAD_PX, _ROW_PX = 7.0, 14.0, 24.0
_RANKSEP_PX, _NODESEP_PX = 48.0, 24.0
# With collapse, more inputs than this are drawn as one "inputs" box.
_MAX_SEPARATE_INPUTS = 8
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
_DEAD_FILL = "#fcbba1"
_THIN_GREY = "#9e9e9e"
_THICK_BLUE = "#08519c"
_NON_FINITE_RED = "#cb181d"
_MIN_PEN, _MAX_PEN = 1.0, 4.0
# A group of the additions a module makes itself (a block's residual adds) is named
# "+ <the sub-module it adds>"; edges between such groups are the residual stream.
_STREAM_MARK = "+ "
_STREAM_GREEN = "#238b45"

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
    # Only lists and tuples: a NumPy array is iterable too, but its items are not Values.
    if isinstance(root, (str, bytes)) or not isinstance(root, Sequence):
        raise TypeError(f"expected a Value or a list or tuple of Values, got {type(root).__name__}")
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


_TRAILING_INDEX = re.compile(r"\.(\d+)$")


def parameter_names(model: Any) -> dict[Value, str]:
    """Each parameter of ``model`` by its module path, ``layers.0.neurons.3.w[1]``.

    ``model`` is anything with ``named_parameters()`` (an ``nn.Module``); a model with only
    ``parameters()`` gets ``p[0]``, ``p[1]`` ...; ``None`` gives no names.
    """
    if model is None:
        return {}
    if hasattr(model, "named_parameters"):
        named = list(model.named_parameters())
    elif hasattr(model, "parameters"):
        named = [(f"p[{i}]", p) for i, p in enumerate(model.parameters())]
    else:
        raise TypeError(
            f"model must have named_parameters() or parameters() (an nn.Module), "
            f"got {type(model).__name__}"
        )
    names: dict[Value, str] = {}
    for name, parameter in named:
        if isinstance(parameter, Value):
            names.setdefault(parameter, _TRAILING_INDEX.sub(r"[\1]", name))
    return names


def find_inputs(order: Sequence[Value], parameters: Iterable[Value]) -> list[Value]:
    """The leaves of a model's graph that are its inputs, in order of first use.

    With the model's parameters known, an input is a leaf that is not a parameter and
    that either takes gradients (a Value the caller made) or is multiplied by a parameter
    (a number the model turned into a constant: an argument of a neuron's weighted sum).
    Other constants (the ``2`` of ``x ** 2``) stay constants.
    """
    params = set(parameters)
    found: dict[Value, None] = {}
    for node in order:
        if not node.parents:
            continue
        op = node.op
        n = len(node.parents) // 2 if op.startswith("dot") else 0
        for i, parent in enumerate(node.parents):
            if not parent.is_leaf or parent in params or parent in found:
                continue
            partner = None
            if n:
                partner = node.parents[i - n] if n <= i < 2 * n else None
            elif op == "mul":
                partner = node.parents[1 - i]
            if parent.requires_grad or (partner is not None and partner in params):
                found[parent] = None
    return list(found)


def node_names(
    root: Value | Sequence[Value],
    *,
    model: Any = None,
    inputs: Iterable[Value] = (),
) -> dict[Value, str]:
    """The name each node goes by in the player's text and on its drawing.

    A parameter of ``model`` by its module path (``layers.0.neurons.3.w[1]``); else its
    label; an unlabelled input ``x[i]`` (inputs are ``inputs`` or, with a model, found by
    :func:`find_inputs`); an unlabelled constant its value; an unlabelled result its
    formula from its inputs' names (``x1·w1``, ``tanh(x1·w1 + b)``), or, past
    32 characters, its neuron's module path (``layers.0.neurons.2``) or the formula with
    long inputs written ``…``. Names are unique: a repeat gets `` #2``, `` #3`` ….
    """
    order = topological_order(_roots(root))
    params = parameter_names(model)
    given = list(inputs)
    input_list = given if given or model is None else find_inputs(order, params)
    input_names = {}
    for i, value in enumerate(input_list):
        input_names.setdefault(value, f"x[{i}]")
    names: dict[Value, str] = {}
    taken: set[str] = set()
    for node in order:
        if node in params:
            names[node] = params[node]
        elif node.label:
            names[node] = node.label
        elif node in input_names:
            names[node] = input_names[node]
        elif node.is_leaf and not node.requires_grad:
            names[node] = f"{node.data:g}"
        elif node.is_leaf:
            names[node] = _unique("leaf", taken)
        else:
            names[node] = _unique(_readable_name(node, names, params), taken)
        taken.add(names[node])
    return names


# An unlabelled result is named by its formula while that stays short enough to read.
_NAME_LIMIT = 32


def _readable_name(node: Value, names: Mapping[Value, str], params: Mapping[Value, str]) -> str:
    """``x1·w1``, ``tanh(x1·w1 + b)``; else a module path, else the formula with ``…``."""
    parent_names = [names[p] for p in node.parents]
    full = expression(node, parent_names)
    if len(full) <= _NAME_LIMIT:
        return full
    # A neuron's output: the module path its parameters share (layers.0.neurons.2).
    paths = [params[p] for p in node.parents if p in params]
    if len(paths) >= 2:
        shared = []
        for parts in zip(*(path.split(".")[:-1] for path in paths)):
            if len(set(parts)) > 1:
                break
            shared.append(parts[0])
        if shared:
            return ".".join(shared)
    # Else write the longest inputs as "…", one at a time, until the formula fits.
    short = list(parent_names)
    for i in sorted(range(len(short)), key=lambda i: -len(short[i])):
        short[i] = "…"
        shortened = expression(node, short)
        if len(shortened) <= _NAME_LIMIT:
            return shortened
    return f"{node.op or 'op'}(…)"


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name #2``, ``#3`` … when an earlier node already has it."""
    if name not in taken:
        return name
    k = 2
    while f"{name} #{k}" in taken:
        k += 1
    return f"{name} #{k}"


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


# Every text that reaches Graphviz (labels, op names, scope names, titles, tooltips)
# passes through _record_text or _plain_text, and _emit hands every attribute to the
# graphviz package as "not HTML": Graphviz reads a string in <...> as markup, a
# backslash as the start of an escape (a trailing one ends the quoting), and a control
# character or NUL ends or breaks its input. So each is escaped or shown as a picture.
def _visible(char: str) -> str:
    """A character as Graphviz can show it: C0 controls as their pictures (NUL as ␀)."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "␡"
    if 0x80 <= code < 0xA0 or 0xD800 <= code < 0xE000 or (code & 0xFFFE) == 0xFFFE:
        return "\ufffd"  # C1 controls, lone surrogates and noncharacters
    return char


# Characters with a meaning inside a Graphviz record label, escaped to appear literally.
_RECORD_SPECIAL = {c: "\\" + c for c in '\\{}|<>"'}
_RECORD_SPECIAL["\n"] = "\\n"
_PLAIN_SPECIAL = {"\\": "\\\\", '"': '\\"', "\n": "\\n"}


def _record_text(text: str) -> str:
    """Text for one field of a record label: its syntax characters escaped."""
    return "".join(_RECORD_SPECIAL.get(c) or _visible(c) for c in text)


def _plain_text(text: str) -> str:
    """Text for an ordinary label or a tooltip: backslashes and quotes escaped."""
    return "".join(_PLAIN_SPECIAL.get(c) or _visible(c) for c in text)


# --------------------------------------------------------------------------------------
# What is drawn
# --------------------------------------------------------------------------------------


def _kind(node: Value, roots: set[Value], inputs: set[Value], params: set[Value] | None) -> str:
    if node in roots:
        return "output"
    if node.is_leaf:
        if node in inputs:
            return "input"
        if params is not None:  # the model says what its parameters are
            if node in params:
                return "parameter"
            return "input" if node.requires_grad or node.label else "constant"
        if node.requires_grad:
            return "parameter"
        return "input" if node.label else "constant"
    return "value"


def _is_dead_relu(node: Value) -> bool:
    """A ReLU whose output is 0: its local derivative is 0, so it passes no gradient back."""
    return node.op in ("relu", "dot_relu") and node.data == 0.0


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


def _edge_label(node: Value, argument: int, flow: float | None, edge_labels: str | None) -> str:
    if edge_labels == "local" and node.local_derivatives is not None:
        return format_number(_as_float(node.local_derivatives[argument]), 3)
    if edge_labels == "flow" and flow is not None:
        return format_number(flow, 3)
    return ""


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
    order: list[Value],
    depth: int | None,
    kinds: dict[Value, str],
    groups: Mapping[Value, tuple[str, ...]] | None = None,
) -> dict[Value, tuple[str, ...]]:
    """The scope path (cut to ``depth``) each node is grouped under; unscoped nodes are absent.

    A parameter or constant with no scope of its own (an ``nn`` parameter is made in a
    constructor, a literal constant by the operation) joins its consumers' group when they
    all share one. Inputs stay outside, so that a drawing shows where the data comes in.
    """
    keys: dict[Value, tuple[str, ...]] = {}
    for node in order:
        if groups is not None:
            if node in groups:
                keys[node] = groups[node]
            continue
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


def _value_record(node: Value, kind: str, show_grad: bool, digits: int, name: str) -> str:
    fields = []
    if name and kind != "constant":
        fields.append(_record_text(name))
    elif node.label:
        fields.append(_record_text(node.label))
    fields.append(f"data {format_number(node.data, digits)}")
    if show_grad and kind != "constant" and node.requires_grad:
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
    name: str = "",
    result_style: dict[str, str] | None = None,
) -> None:
    drawing.node(
        node_id,
        cluster,
        label=_value_record(node, kind, show_grad, digits, name),
        shape="record",
        style="filled",
        fillcolor=FILL_COLOURS[kind],
        tooltip=f"{kind} {node_id}",
    )
    if node.parents:
        op_id = f"{node_id}_op"
        attrs = {"label": _op_text(node), "shape": "ellipse", "tooltip": _plain_text(node.op)}
        if _is_dead_relu(node):
            attrs.update(label=f"{_op_text(node)}\\ndead", style="filled", fillcolor=_DEAD_FILL)
            attrs["tooltip"] = _plain_text(f"{node.op}: dead (output 0), passes no gradient back")
        drawing.node(op_id, cluster, **attrs)
        drawing.edge(op_id, node_id, id=f"{op_id}-{node_id}", **(result_style or {}))


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
    names: dict[Value, str],
    edge_labels: str | None,
) -> None:
    for node in order:
        # The gradient that reaches an operation is its result's: weight that edge too.
        result_flow = _as_float(node.grad) if flows and node.parents else None
        _draw_value(
            drawing,
            node,
            ids[node],
            kinds[node],
            clusters.get(node, ()),
            show_grad,
            digits,
            names.get(node, ""),
            _flow_style(result_flow, largest),
        )
    for node in order:
        op_id = f"{ids[node]}_op"
        for i, parent in enumerate(node.parents):
            flow = flows.get((node, i))
            attrs = _flow_style(flow, largest)
            label = _edge_label(node, i, flow, edge_labels)
            if label:
                attrs.update(label=label, fontsize="9", fontcolor="#555555")
            drawing.edge(
                ids[parent],
                op_id,
                id=f"{op_id}-{i}",
                tooltip=_edge_tooltip(i, node, flow),
                **attrs,
            )


def _natural_key(key: tuple[str, ...]) -> tuple[Any, ...]:
    """Sort scope paths as people count: Neuron[2] before Neuron[10]."""
    return tuple(
        tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))
        for name in key
    )


def group_ids_of(keys: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """The drawn id of each group, ``g0, g1, ...``: the inputs' box first, then by scope."""
    ordered = sorted(set(keys), key=lambda k: (k != ("inputs",), _natural_key(k)))
    return {key: f"g{i}" for i, key in enumerate(ordered)}


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
    names: dict[Value, str],
) -> None:
    members: dict[tuple[str, ...], list[Value]] = {}
    for node in order:
        key = keys.get(node)
        if key is not None:
            members.setdefault(key, []).append(node)
    # Groups numbered in natural order of their scope (Neuron[2] before Neuron[10]), so
    # Graphviz places them in that order too; the inputs' box comes first.
    group_ids = group_ids_of(members)

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
        if key == ("inputs",):
            first, last = names.get(nodes[0], "x[0]"), names.get(nodes[-1], "")
            drawing.node(
                group_id,
                label=_record_text(f"inputs {first} … {last}") + f" | {len(nodes)} values",
                shape="record",
                style="filled",
                fillcolor=FILL_COLOURS["input"],
                tooltip=f"{len(nodes)} inputs",
            )
            continue
        # Inside the boxes of its enclosing scopes, a group only needs its own name.
        name = key[-1] if cluster else " / ".join(key)
        fields = [_record_text(name)]
        fill = FILL_COLOURS["group"]
        if len(outputs) == 1:
            if outputs[0] in roots:
                fill = FILL_COLOURS["output"]
            fields.append(f"data {format_number(outputs[0].data, digits)}")
            is_dead = _is_dead_relu(outputs[0])
            if show_grad:
                # A dead ReLU receives a gradient but passes 0 back: show both.
                grad = format_number(_as_float(outputs[0].grad), digits)
                fields.append(f"grad in {grad}" if is_dead else f"grad {grad}")
            if is_dead:
                fields.append("passes back 0 (dead ReLU)" if show_grad else "dead ReLU")
                fill = _DEAD_FILL
        elif outputs:
            fields.append(f"{len(outputs)} outputs")
            dead = sum(_is_dead_relu(n) for n in outputs)
            if dead:
                fields.append(f"{dead} dead ReLU{'s' if dead > 1 else ''}")
            if show_grad:
                largest_grad = max(abs(_as_float(n.grad)) for n in outputs)
                fields.append(f"max abs grad {format_number(largest_grad, digits)}")
        drawing.node(
            group_id,
            key[:-1] if cluster else (),
            label="{ " + " | ".join(fields) + " }",
            shape="Mrecord",
            style="filled",
            fillcolor=fill,
            tooltip=_plain_text(f"{' / '.join(key)}: {len(nodes)} values drawn as one box"),
        )
    for node in order:
        if node not in keys:
            _draw_value(
                drawing, node, ids[node], kinds[node], (), show_grad, digits, names.get(node, "")
            )

    # Edges between drawn items; parallel edges merge, keeping the largest flow.
    merged: dict[tuple[str, str], list[float | None]] = {}
    for node in order:
        head = item(node) if node in keys else f"{ids[node]}_op"
        for i, parent in enumerate(node.parents):
            tail = item(parent)
            if tail == head:
                continue
            merged.setdefault((tail, head), []).append(flows.get((node, i)))
    stream = {group_ids[key] for key in group_ids if key[-1].startswith(_STREAM_MARK)}
    for (tail, head), edge_flows, count in _bundle(drawing, merged):
        known = [f for f in edge_flows if f is not None]
        flow = max(known, key=lambda f: abs(f) if f == f else math.inf) if known else None
        attrs = _flow_style(flow, largest)
        if count > 1:
            attrs["label"] = f"×{count}"
        if tail in stream and head in stream:  # the residual stream, bold and green
            attrs.update(color=_STREAM_GREEN, penwidth="4", label="residual stream")
        drawing.edge(tail, head, id=f"{tail}-{head}", **attrs)


def _bundle(
    drawing: _Drawing, merged: dict[tuple[str, str], list[float | None]]
) -> list[tuple[tuple[str, str], list[float | None], int]]:
    """Route a fully connected block (every tail to every head) through one junction.

    Two layers of n and m neurons exchange n × m edges; through a junction they need
    n + m, and the drawing stays readable ("all to all" instead of a hairball).
    """
    tails_of: dict[str, list[str]] = {}
    for tail, head in merged:
        tails_of.setdefault(head, []).append(tail)
    blocks: dict[tuple[str, ...], list[str]] = {}
    for head, tails in tails_of.items():
        if len(tails) >= 2:
            blocks.setdefault(tuple(sorted(tails)), []).append(head)
    out: list[tuple[tuple[str, str], list[float | None], int]] = []
    bundled: set[tuple[str, str]] = set()
    for number, (tails, heads) in enumerate(blocks.items()):
        if len(heads) < 2:
            continue
        junction = f"j{number}"
        drawing.node(
            junction,
            label="",
            shape="circle",
            width="0.12",
            style="filled",
            fillcolor="#555555",
            tooltip=f"every one of {len(tails)} values goes to each of {len(heads)} boxes",
        )
        for tail in tails:
            flows = [f for head in heads for f in merged[(tail, head)]]
            out.append(((tail, junction), flows, 1))
            bundled.update((tail, head) for head in heads)
        for head in heads:
            flows = [f for tail in tails for f in merged[(tail, head)]]
            out.append(((junction, head), flows, 1))
    for pair, flows in merged.items():
        if pair not in bundled:
            out.append((pair, flows, len(flows)))
    return out


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
            graph.node(node_id, **_not_html(attrs))
        for child in children.get(path, ()):
            name = f"cluster_{counter[0]}"
            counter[0] += 1
            with graph.subgraph(name=name) as sub:
                label = _not_html(_plain_text(child[-1]))
                sub.attr(label=label, style="rounded,dashed", color="#7b6f99")
                fill(sub, child)

    fill(dot, ())
    for tail, head, attrs in drawing.edges:
        dot.edge(tail, head, **_not_html(attrs))


def _not_html(attrs: Any) -> Any:
    """Attribute values (or one value) that Graphviz never reads as HTML, even in <...>."""
    nohtml = _import_graphviz().nohtml
    if isinstance(attrs, str):
        return nohtml(attrs)
    return {key: nohtml(value) for key, value in attrs.items()}


_KIND_TEXT = {
    "parameter": "parameter (a weight or bias)",
    "input": "input (data)",
    "constant": "constant",
    "output": "output",
    "value": "intermediate value",
    "group": "a neuron or layer drawn as one box",
}


def _legend(kinds_present: Iterable[str], marks: Iterable[str]) -> str:
    """The colour key, and one row per kind of edge or mark that the drawing uses."""
    rows = [
        f'<tr><td bgcolor="{FILL_COLOURS[k]}" align="left">{_KIND_TEXT[k]}</td></tr>'
        for k in FILL_COLOURS
        if k in kinds_present
    ]
    texts = {
        "op": ("white", "ellipse: the operation that made the value to its right"),
        "flow": (
            "white",
            '<font color="#08519c">thicker, darker edge</font>: more gradient flows back along it',
        ),
        "zero": ("white", '<font color="#9e9e9e">dashed edge</font>: exactly 0 flows back'),
        "nonfinite": ("white", '<font color="#cb181d">red edge</font>: nan or inf flows back'),
        "dead": (_DEAD_FILL, "dead ReLU: output 0, passes no gradient back"),
        "junction": ("white", "● junction: every box on the left feeds every box on the right"),
        "count": ("white", "×n on an edge: n values flow between the two boxes"),
        "local": ("white", "edge label: the local derivative ∂(result)/∂(input)"),
        "flowlabel": ("white", "edge label: gradient flowing back (local derivative × grad)"),
        "nograd": ("white", "no backward pass has run: gradients are not shown"),
        "plain": ("white", "thin black edge: carries data only (its input takes no gradient)"),
        "stream": (
            "white",
            '<font color="#238b45">bold green edge</font>: the residual stream (x + f(x))',
        ),
    }
    for mark in marks:
        colour, text = texts[mark]
        rows.append(f'<tr><td bgcolor="{colour}" align="left">{text}</td></tr>')
    body = "".join(rows)
    return f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">{body}</table>>'


def _marks(drawing: _Drawing, show_grad: bool, edge_labels: str | None) -> list[str]:
    """Which marks (see :func:`_legend`) the drawing uses."""
    found = []
    if any(attrs.get("shape") == "ellipse" for _, attrs, _ in drawing.nodes):
        found.append("op")
    styles = [attrs for _, _, attrs in drawing.edges]
    if any(
        "penwidth" in a and a.get("color") not in (_NON_FINITE_RED, _STREAM_GREEN) for a in styles
    ):
        found.append("flow")
    if any(a.get("style") == "dashed" for a in styles):
        found.append("zero")
    if (
        show_grad
        and "flow" in found
        and any("penwidth" not in a and "style" not in a and "color" not in a for a in styles)
    ):
        found.append("plain")
    if any(a.get("color") == _NON_FINITE_RED for a in styles):
        found.append("nonfinite")
    if any(attrs.get("fillcolor") == _DEAD_FILL for _, attrs, _ in drawing.nodes):
        found.append("dead")
    if any(node_id.startswith("j") for node_id, _, _ in drawing.nodes):
        found.append("junction")
    if any(a.get("label", "").startswith("×") for a in styles):
        found.append("count")
    if any(a.get("color") == _STREAM_GREEN for a in styles):
        found.append("stream")
    if edge_labels == "local":
        found.append("local")
    elif edge_labels == "flow" and show_grad:
        found.append("flowlabel")
    if not show_grad:
        found.append("nograd")
    return found


def estimate_size(drawing: _Drawing, rankdir: str) -> tuple[float, float]:
    """A rough (width, height) in pixels of the laid-out drawing, before Graphviz runs.

    Nodes are ranked by their longest path from a source, as ``dot`` ranks them; a rank is
    as deep as its widest node and as long as its nodes side by side.
    """
    sizes: dict[str, tuple[float, float]] = {}
    horizontal_records = rankdir in ("LR", "RL")
    for node_id, attrs, _ in drawing.nodes:
        label = attrs.get("label", "")
        if attrs.get("shape") in ("record", "Mrecord"):
            fields = [f.strip(" {}") for f in label.split(" | ")] or [""]
            if horizontal_records and label.startswith(
                "{"
            ):  # Graphviz lays a {a | b} record sideways in LR
                width = sum(len(f) * _CHAR_PX + _FIELD_PAD_PX for f in fields)
                height = _ROW_PX
            else:
                width = max(len(f) for f in fields) * _CHAR_PX + _FIELD_PAD_PX
                height = _ROW_PX * len(fields)
        elif attrs.get("shape") == "circle":
            width = height = 12.0
        else:
            width, height = max(len(label) * _CHAR_PX + 2 * _FIELD_PAD_PX, 54.0), 36.0
        sizes[node_id] = (width, height)
    rank = {node_id: 0 for node_id in sizes}
    heads: dict[str, list[str]] = {}
    waiting = dict.fromkeys(sizes, 0)
    for tail, head, _ in drawing.edges:
        heads.setdefault(tail, []).append(head)
        waiting[head] = waiting.get(head, 0) + 1
    ready = [node_id for node_id, n in waiting.items() if n == 0]
    while ready:  # Kahn's order: a node's rank is one more than its highest producer's
        tail = ready.pop()
        for head in heads.get(tail, ()):
            rank[head] = max(rank.get(head, 0), rank[tail] + 1)
            waiting[head] -= 1
            if waiting[head] == 0:
                ready.append(head)
    along: dict[int, float] = {}
    across: dict[int, float] = {}
    for node_id, (width, height) in sizes.items():
        r = rank[node_id]
        depth, breadth = (width, height) if horizontal_records else (height, width)
        along[r] = max(along.get(r, 0.0), depth)
        across[r] = across.get(r, 0.0) + breadth + _NODESEP_PX
    length = sum(along.values()) + _RANKSEP_PX * max(len(along) - 1, 0)
    breadth = max(across.values(), default=0.0)
    return (length, breadth) if horizontal_records else (breadth, length)


def _validate(
    rankdir: str,
    collapse: Any,
    cluster: Any,
    max_nodes: Any,
    edge_weight: Any,
    digits: Any,
    edge_labels: Any = None,
    max_size: Any = 1,
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
    for name, value in (("max_nodes", max_nodes), ("max_size", max_size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1; got {value}")
    if edge_weight not in EDGE_WEIGHTS:
        raise ValueError(f"edge_weight must be 'grad' or None; got {edge_weight!r}")
    if edge_labels not in EDGE_LABELS:
        raise ValueError(f"edge_labels must be 'local', 'flow' or None; got {edge_labels!r}")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 17:
        raise ValueError(f"digits must be an int from 0 to 17; got {digits!r}")


def backward_ran(roots: Sequence[Value]) -> bool:
    """Whether a backward pass has left gradients: some root's grad is not 0."""
    return any(_as_float(r.grad) != 0.0 for r in roots)


def _default_title(roots: list[Value], names: dict[Value, str], order: list[Value]) -> str:
    shown = ", ".join(names.get(r) or r.label or "the output" for r in roots[:3])
    if len(roots) > 3:
        shown += f" and {len(roots) - 3} more"
    operations = sum(1 for node in order if node.parents)
    return f"How {shown} is computed: {len(order)} values, {operations} operations"


def draw_graph(
    root: Value | Sequence[Value],
    *,
    rankdir: str = "LR",
    collapse: str | int | None = None,
    cluster: bool = False,
    max_nodes: int = 500,
    max_size: int = 8000,
    show_grad: bool | None = None,
    edge_weight: str | None = "grad",
    edge_labels: str | None = None,
    inputs: Iterable[Value] = (),
    model: Any = None,
    names: Mapping[Value, str] | None = None,
    title: str | None = None,
    legend: bool = True,
    stack_records: bool = False,
    digits: int = 4,
    format: str = "svg",
    groups: Mapping[Value, tuple[str, ...]] | None = None,
) -> graphviz.Digraph:
    """Return a ``graphviz.Digraph`` of everything that leads to ``root``.

    ``root`` is a Value or a sequence of Values (e.g. a layer's outputs). ``rankdir`` is
    Graphviz's layout direction ("LR" left to right, "TB" top to bottom, ...).
    ``collapse`` ("neuron", "layer" or an int depth) groups nodes by ``name_scope`` and
    ``cluster=True`` draws boxes around scopes (see the module docstring). ``max_nodes``
    bounds the number of drawn nodes and ``max_size`` the estimated long side in pixels.
    ``show_grad`` adds each value's gradient (by default only once a backward pass has
    run: a root's grad is not 0); ``edge_weight="grad"`` scales edges by the gradient
    flowing along them, ``None`` draws them all alike; ``edge_labels="local"`` writes
    each edge's local derivative on it (``"flow"``: the gradient flowing back).
    ``inputs`` marks leaves to colour as inputs; ``model`` (an ``nn.Module``) names its
    parameters by module path and makes every other leaf that takes gradients or feeds a
    neuron an input, named ``x[i]`` unless labelled; ``names`` overrides any node's
    name. ``title`` goes above the drawing (a default one says what is drawn; ``""`` for
    none); ``legend`` adds the key to every colour and mark; ``stack_records=True`` puts a
    value's name, data and grad one under the other in every direction (with "LR" they
    are side by side otherwise, which makes wide drawings); ``digits`` sets the
    precision of numbers; ``format`` is the output format of the Digraph's own
    ``render()``/``pipe()``. ``groups`` (with ``collapse``) gives each node's group
    instead of its scope path (:func:`model_graph` groups a GPT by module this way).
    """
    _validate(rankdir, collapse, cluster, max_nodes, edge_weight, digits, edge_labels, max_size)
    graphviz = _import_graphviz()
    roots = _roots(root)
    input_list = []
    for value in inputs:
        if not isinstance(value, Value):
            raise TypeError(f"inputs must be Values, got a {type(value).__name__}")
        input_list.append(value)
    order = topological_order(roots)
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    root_set = set(roots)
    params = set(parameter_names(model)) if model is not None else None
    shown_names = node_names(roots, model=model, inputs=input_list)
    input_set = set(input_list)
    if model is not None and not input_list:
        input_set = set(find_inputs(order, params or ()))
    kinds = {node: _kind(node, root_set, input_set, params) for node in order}
    # Only names that say something: labels, module paths, x[i] (not ids or constants).
    visible = {
        node: name
        for node, name in shown_names.items()
        if node.label or (params and node in params) or node in input_set
    }
    if names is not None:
        visible.update(names)
    if show_grad is None:
        show_grad = backward_ran(roots)

    if collapse is not None:
        keys = _scope_keys(order, _collapse_depth(collapse, order), kinds, groups)
        many_inputs = [n for n in order if kinds[n] == "input" and n not in keys]
        if len(many_inputs) > _MAX_SEPARATE_INPUTS:
            for node in many_inputs:
                keys[node] = ("inputs",)
        ungrouped = [node for node in order if node not in keys]
        drawn = len(set(keys.values())) + len(ungrouped) + sum(1 for n in ungrouped if n.parents)
    else:
        keys = _scope_keys(order, None, kinds) if cluster else {}
        drawn = count_drawn_nodes(order)
    advice = (
        "group it with collapse='neuron' or collapse='layer' (nodes made inside nn "
        "modules or name_scope blocks)"
        if collapse is None
        else "collapse coarser (collapse='layer' or a smaller int depth)"
    )
    if drawn > max_nodes:
        raise ValueError(
            f"the drawing would have {drawn} nodes, more than max_nodes={max_nodes}: "
            f"{advice}, draw a smaller input (one sample, fewer units), or pass "
            f"max_nodes={drawn} to draw it anyway (Graphviz gets slow beyond a few thousand)"
        )

    flows = _edge_flows(order) if edge_weight == "grad" and show_grad else {}
    edge_flows = flows if edge_labels != "flow" or not show_grad else _edge_flows(order)
    result_grads = [abs(_as_float(n.grad)) for n in order if n.parents] if flows else []
    largest = max(
        (abs(f) for f in [*flows.values(), *result_grads] if math.isfinite(f)), default=0.0
    )
    drawing = _Drawing()
    if collapse is not None:
        _draw_collapsed(
            drawing,
            order,
            ids,
            kinds,
            keys,
            root_set,
            flows,
            largest,
            cluster,
            show_grad,
            digits,
            visible,
        )
    else:
        _draw_full(
            drawing,
            order,
            ids,
            kinds,
            keys,
            flows if edge_labels != "flow" else edge_flows,
            largest,
            show_grad,
            digits,
            visible,
            edge_labels,
        )
    if stack_records and rankdir in ("LR", "RL"):
        # A record's outer braces flip its fields' direction; in LR, none stacks them.
        for _, attrs, _ in drawing.nodes:
            label = attrs.get("label", "")
            if attrs.get("shape") == "record" and label.startswith("{ ") and label.endswith(" }"):
                attrs["label"] = label[2:-2]
    width, height = estimate_size(drawing, rankdir)
    if max(width, height) > max_size:
        raise ValueError(
            f"the drawing would be about {width:.0f} × {height:.0f} pixels, more than "
            f"max_size={max_size} on its long side: {advice}, draw a smaller input, or pass "
            f"max_size={math.ceil(max(width, height))} to draw it anyway"
        )

    if title is None:
        title = _default_title(roots, visible, order)
        if not show_grad:
            title += " (no backward pass: no gradients shown)"
    dot = graphviz.Digraph(
        name="autograd_lite",
        format=format,
        graph_attr={"rankdir": rankdir},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7", "fontname": "Helvetica"},
    )
    if title:
        title_label = _not_html(_plain_text(title))
        dot.attr(label=title_label, labelloc="t", fontsize="14", fontname="Helvetica")
    _emit(dot, drawing)
    if legend:
        shown = order if collapse is None else [node for node in order if node not in keys]
        present = {kinds[node] for node in shown}
        if collapse is not None and keys:
            present.add("group")
            if ("inputs",) in keys.values():
                present.add("input")
            if any(keys.get(r) is not None for r in roots):
                present.add("output")
        marks = _marks(drawing, show_grad, edge_labels)
        dot.node("legend", label=_legend(present, marks), shape="plaintext", id="legend")
    return dot


draw_dot = draw_graph


def model_graph(
    model: Any,
    x: Sequence[Any],
    *,
    max_size: int = 3000,
    rankdir: str | None = None,
) -> graphviz.Digraph:
    """The forward graph of ``model`` on one sample ``x``, drawn as finely as stays readable.

    The inputs are named ``x[0]``, ``x[1]`` ... and the parameters by module path. One box
    per neuron (a layer's boxes joined to the next layer's through one junction), or one
    box per layer when that would be larger than ``max_size`` pixels. A language model
    (an ``nn.GPT``: it has ``vocab_size``) takes a list of token ids instead and is drawn
    one box per module (each block's ``norm1``, ``attn``, ``norm2``, ``fc``, ``proj``),
    all positions together, with the residual stream drawn as bold green edges through
    the blocks' additions; with two tokens or more the next-token loss is added and
    back-propagated, so the boxes show its gradient. ``rankdir`` defaults to "LR" for an
    MLP and "TB" for a language model. A model with one
    output is back-propagated so that the boxes show d(output)/d(neuron); the gradients
    the parameters held before are restored afterwards. With several outputs no backward
    pass runs, and the drawing shows no gradients (rather than zeros) and says why.
    """
    from autograd_lite.engine import no_grad

    if _takes_tokens(model):  # a tall stack of blocks: top to bottom unless asked
        return _token_model_graph(model, x, max_size, rankdir or "TB")
    rankdir = rankdir or "LR"
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(
            f"model_graph() expected one sample (a list of numbers), got {type(x).__name__}"
        )
    inputs = [Value(_as_float(v), label=f"x[{i}]", requires_grad=False) for i, v in enumerate(x)]
    parameters = list(model.parameters()) if hasattr(model, "parameters") else []
    saved = [p.grad for p in parameters]
    output = model(inputs)
    roots = [output] if isinstance(output, Value) else list(output)
    single = len(roots) == 1 and roots[0].requires_grad
    try:
        if single:
            roots[0].backward()
        grains = (("neuron", "one box per neuron"), ("layer", "one box per layer"))
        for collapse, grain in grains:
            title = f"One sample through {type(model).__name__}: {len(inputs)} inputs, {grain}"
            if single:
                title += "; grad = d(output)/d(box) for this sample (not a loss's gradient)"
            else:
                title += f"; {len(roots)} outputs, so no backward pass and no gradients"
            try:
                return draw_graph(
                    roots,
                    collapse=collapse,
                    model=model,
                    inputs=inputs,
                    max_size=max_size,
                    max_nodes=10_000,
                    show_grad=single,
                    rankdir=rankdir,
                    title=title,
                )
            except ValueError:
                if collapse == grains[-1][0]:
                    raise
        raise RuntimeError("unreachable: the last grain returns or raises")
    finally:
        with no_grad():
            for p, grad in zip(parameters, saved):
                p.grad = grad


def _takes_tokens(model: Any) -> bool:
    """A language model (nn.GPT): called on token ids, with named sub-modules."""
    return all(hasattr(model, a) for a in ("vocab_size", "block_size", "named_modules"))


@contextlib.contextmanager
def _scopes_by_attribute(model: Any) -> Iterator[set[tuple[str, ...]]]:
    """While inside, each sub-module tags its nodes with its attribute name, not its class.

    A block has two ``RMSNorm`` and two ``Linear``: by class their nodes would share one
    scope, and a drawing by module would merge ``norm1`` with ``norm2``. Yields the
    scope paths of the modules that have sub-modules (those whose own nodes are glue,
    like a block's residual additions). Every name is restored afterwards.
    """
    root = model.scope_name
    saved: list[tuple[Any, Any]] = []
    containers: set[tuple[str, ...]] = set()
    try:
        for path, module in model.named_modules():
            segments: list[str] = []
            for part in path.split(".") if path else []:
                if part.isdigit() and segments:
                    segments[-1] = f"{segments[-1]}[{part}]"
                else:
                    segments.append(part)
            if module.children():
                containers.add((root, *segments))
            if not path:
                continue
            saved.append((module, module.__dict__.get("_scope_name", _MISSING)))
            object.__setattr__(module, "_scope_name", segments[-1])
        yield containers
    finally:
        for module, name in saved:
            if name is _MISSING:
                module.__dict__.pop("_scope_name", None)
            else:
                object.__setattr__(module, "_scope_name", name)


_MISSING = object()
# A model drawn by module: the model, its blocks, and each block's parts.
_MODULE_DEPTH = 3


def _module_groups(
    order: Sequence[Value], containers: set[tuple[str, ...]]
) -> dict[Value, tuple[str, ...]]:
    """Each computed node's module box; a container's own additions get a stream box.

    A block adds ``attn``'s output to its input, then ``proj``'s: those additions are
    the residual stream, grouped as ``+ attn`` and ``+ proj`` so the two never merge.
    """
    groups: dict[Value, tuple[str, ...]] = {}
    for node in order:
        scope = node.scope
        if not scope or node.is_leaf:
            continue
        if len(scope) >= _MODULE_DEPTH or scope not in containers:
            groups[node] = scope[:_MODULE_DEPTH]
            continue
        depth = len(scope)
        added = sorted(
            {
                p.scope[depth]
                for p in node.parents
                if p.scope[:depth] == scope and len(p.scope) > depth
            }
        )
        groups[node] = (*scope, _STREAM_MARK + (" ".join(added) or "embeddings"))
    return groups


def token_model_forward(
    model: Any, tokens: Any
) -> tuple[list[Value], dict[Value, tuple[str, ...]]]:
    """A language model on ``tokens``: (roots, each computed node's module group).

    The root is the mean next-token loss (labelled ``loss``, in the scope ``loss``) with
    two tokens or more, else the last position's logits. No backward pass runs.
    """
    from autograd_lite.engine import name_scope
    from autograd_lite.losses import cross_entropy

    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError(
            f"a {type(model).__name__} is drawn on a list of token ids, got {type(tokens).__name__}"
        )
    tokens = list(tokens)
    with _scopes_by_attribute(model) as containers:
        logits = model(tokens)
    if len(tokens) >= 2:
        with name_scope("loss"):
            terms = [cross_entropy(logits[i], tokens[i + 1]) for i in range(len(tokens) - 1)]
            loss = sum(terms[1:], terms[0]) / len(terms)
        loss.label = "loss"
        roots = [loss]
    else:
        roots = list(logits[-1])
    return roots, _module_groups(topological_order(roots), containers)


def _token_model_graph(model: Any, tokens: Any, max_size: int, rankdir: str) -> graphviz.Digraph:
    """model_graph for a language model: one box per module, the residual stream in green."""
    from autograd_lite.engine import no_grad

    parameters = list(model.parameters())
    saved = [p.grad for p in parameters]
    roots, groups = token_model_forward(model, tokens)
    try:
        if len(roots) == 1:
            roots[0].backward()
            what = f"the next-token loss over {len(tokens) - 1} positions and its gradient"
        else:
            what = "one token's logits (no loss with one token: no gradients)"
        title = (
            f"{type(model).__name__} on {len(tokens)} tokens, one box per module "
            f"(all positions together): {what}"
        )
        return draw_graph(
            roots,
            collapse=_MODULE_DEPTH,
            cluster=True,  # each block in a box of its own
            groups=groups,
            model=model,
            max_size=max_size,
            max_nodes=10_000,
            show_grad=len(roots) == 1,
            rankdir=rankdir,
            title=title,
        )
    finally:
        with no_grad():
            for p, grad in zip(parameters, saved):
                p.grad = grad


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
