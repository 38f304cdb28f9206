"""Tests for autograd_lite.viz.graph: drawing computation graphs with Graphviz.

The drawings are read back with Graphviz itself (``dot -Tjson0`` parses the DOT we
write), so the structure checks do not rely on our own parsing. Numbers shown in the
drawing are checked against sympy.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_lite import Value, name_scope, relu, sqrt, tanh, topological_order
from autograd_lite.engine import dot
from autograd_lite.viz.graph import (
    FILL_COLOURS,
    GraphvizNotFoundError,
    draw_dot,
    draw_graph,
    model_graph,
    node_names,
    render,
)
from tests.optional import need
from tests.strategies import programs, run_engine

graphviz = need("graphviz")
DOT_PROGRAM = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT_PROGRAM is None, reason="the Graphviz dot program is missing")


def parse(digraph) -> dict:
    """The graph as Graphviz reads it: {"nodes": {name: attrs}, "edges": [attrs], "clusters"}."""
    result = subprocess.run(
        [DOT_PROGRAM, "-Tjson0"], input=digraph.source, capture_output=True, text=True, check=True
    )
    data = json.loads(result.stdout)
    objects = data.get("objects", [])
    names = {o["_gvid"]: o["name"] for o in objects if "nodes" not in o}
    nodes = {o["name"]: o for o in objects if "nodes" not in o}
    clusters = {
        o["name"]: {"label": o.get("label"), "nodes": [names[n] for n in o.get("nodes", [])]}
        for o in objects
        if "nodes" in o
    }
    edges = [
        {**e, "tail_name": names[e["tail"]], "head_name": names[e["head"]]}
        for e in data.get("edges", [])
    ]
    return {"nodes": nodes, "edges": edges, "clusters": clusters}


def edge_pairs(parsed: dict) -> Counter:
    """Multiset of (tail, head) node names."""
    return Counter((e["tail_name"], e["head_name"]) for e in parsed["edges"])


def micrograd_neuron():
    """The neuron from the micrograd lecture: o = tanh(x1*w1 + x2*w2 + b)."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = tanh(n)
    o.label = "o"
    return o, {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b}


# --------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------


@needs_dot
def test_a_plus_a_draws_two_edges():
    """A value used twice by one operation gets two edges, one per argument."""
    a = Value(3.0, label="a")
    out = a + a
    parsed = parse(draw_graph(out))
    ids = {n.label or "out": f"v{i}" for i, n in enumerate(topological_order(out))}
    assert edge_pairs(parsed)[(ids["a"], f"{ids['out']}_op")] == 2


@needs_dot
def test_edges_follow_argument_order():
    """Each input edge carries its argument position: x ** y has x as argument 0."""
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    out = x**y
    parsed = parse(draw_graph(out))
    nodes = parsed["nodes"]
    by_id = {e["id"]: e for e in parsed["edges"]}
    op = next(name for name in nodes if name.endswith("_op"))
    first, second = by_id[f"{op}-0"], by_id[f"{op}-1"]
    assert "x" in nodes[first["tail_name"]]["label"]
    assert "y" in nodes[second["tail_name"]]["label"]


@needs_dot
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=6))
def test_every_value_operation_and_edge_is_drawn(program):
    """Random graphs: one node per value, one per operation, one edge per argument."""
    inputs = [Value(p, label=f"in{i}") for i, p in enumerate(program.point)]
    out = run_engine(program, inputs)
    order = topological_order(out)
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    parsed = parse(draw_graph(out, max_nodes=10_000, legend=False))
    expected_nodes = set(ids.values()) | {f"{ids[n]}_op" for n in order if n.parents}
    assert set(parsed["nodes"]) == expected_nodes
    expected_edges = Counter()
    for node in order:
        if node.parents:
            expected_edges[(f"{ids[node]}_op", ids[node])] += 1
            for parent in node.parents:
                expected_edges[(ids[parent], f"{ids[node]}_op")] += 1
    assert edge_pairs(parsed) == expected_edges


def test_same_graph_gives_byte_identical_dot():
    """Node ids come from the traversal, not from object ids: equal graphs, equal DOT."""
    first, _ = micrograd_neuron()
    second, _ = micrograd_neuron()
    first.backward()
    second.backward()
    assert draw_graph(first).source == draw_graph(second).source
    assert draw_graph(first).source == draw_graph(first).source


def test_draw_dot_is_draw_graph():
    """draw_dot is the micrograd lecture's name for the same function."""
    assert draw_dot is draw_graph


def test_several_roots_are_drawn_together():
    """A list of outputs (a layer's) draws every output in one graph."""
    x = Value(1.0, label="x")
    outputs = [x * 2, x * 3]
    source = draw_graph(outputs).source
    assert source.count("output v") == 2


def test_hand_built_micrograd_node_shows_its_op_symbol():
    """micrograd code that builds Value(data, (a, b), '+') by hand draws the '+' node."""
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    out = Value(a.data + b.data, (a, b), "+")
    source = draw_graph(out).source
    assert re.search(r'v\d+_op \[label="\+"', source)


# --------------------------------------------------------------------------------------
# What each node shows
# --------------------------------------------------------------------------------------


def test_records_show_label_data_and_grad_from_sympy():
    """Each value record reads { label | data | grad } with grads equal to sympy's."""
    o, leaves = micrograd_neuron()
    o.backward()
    symbols = sp.symbols("x1 x2 w1 w2 b")
    x1, x2, w1, w2, b = symbols
    expression = sp.tanh(x1 * w1 + x2 * w2 + b)
    point = {s: sp.Float(leaves[str(s)].data, 30) for s in symbols}
    source = draw_graph(o).source
    for s in symbols:
        data = leaves[str(s)].data
        grad = float(sp.diff(expression, s).evalf(30, subs=point))
        assert f"{{ {s} | data {data:.4f} | grad {grad:.4f} }}" in source
    value = float(expression.evalf(30, subs=point))
    assert f"{{ o | data {value:.4f} | grad 1.0000 }}" in source


def test_show_grad_false_leaves_gradients_out():
    """show_grad=False draws data only."""
    o, _ = micrograd_neuron()
    o.backward()
    source = draw_graph(o, show_grad=False).source
    assert "| data" in source
    assert "| grad" not in source


def test_numbers_use_scientific_notation_when_tiny_or_huge():
    """Values far from 1 keep their significant digits instead of printing 0.0000."""
    tiny = Value(1.5e-7, label="tiny")
    huge = Value(2.5e9, label="huge")
    source = draw_graph(tiny * huge).source
    assert "data 1.500e-07" in source
    assert "data 2.500e+09" in source


@needs_dot
def test_special_characters_in_labels_appear_literally():
    """Record syntax characters, quotes and backslashes in a label are escaped, not parsed."""
    label = 'a{b}|c<d>"e\\f g'
    x = Value(1.0, label=label)
    svg = draw_graph(x * 2).pipe(format="svg").decode()
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert label in texts


def test_leaf_kinds_have_distinct_colours():
    """Parameters, inputs, constants, the output and other values are filled differently."""
    w = Value(0.5, label="w")  # parameter: a leaf that takes gradients
    x = Value(2.0, label="x", requires_grad=False)  # input: named data
    marked = Value(3.0, label="m")  # a gradient-taking leaf marked as an input
    hidden = w * x + marked
    out = hidden * 4.0  # 4.0 becomes a constant
    source = draw_graph(out, inputs=[marked]).source
    ids = {n: f"v{i}" for i, n in enumerate(topological_order(out))}

    def fill(node):
        return re.search(rf'\t{ids[node]} \[.*fillcolor="(#[0-9a-f]+)"', source).group(1)

    constant = out.parents[1]
    assert fill(w) == FILL_COLOURS["parameter"]
    assert fill(x) == FILL_COLOURS["input"]
    assert fill(marked) == FILL_COLOURS["input"]
    assert fill(constant) == FILL_COLOURS["constant"]
    assert fill(out) == FILL_COLOURS["output"]
    assert fill(hidden) == FILL_COLOURS["value"]
    assert len(set(FILL_COLOURS.values())) == len(FILL_COLOURS)
    legend = re.search(r"legend \[label=<(.*)>", source).group(1)
    for kind in ("parameter", "input", "constant", "output", "value"):
        assert kind in legend
    assert f"{{ data {4.0:.4f} }}" in source  # a constant shows no gradient


def test_legend_can_be_left_out():
    """legend=False draws no legend node."""
    o, _ = micrograd_neuron()
    assert "legend" not in draw_graph(o, legend=False).source


# --------------------------------------------------------------------------------------
# Edges weighted by the gradient flowing along them
# --------------------------------------------------------------------------------------


def edge_attrs(digraph) -> dict[str, dict[str, str]]:
    """Edge id -> its attributes, from the DOT source."""
    found = {}
    for line in digraph.source.splitlines():
        match = re.match(r"\s*\S+ -> \S+ \[(.*)\]$", line)
        if match:
            attrs = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', match.group(1)))
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            found[attrs["id"]] = attrs
    return found


def test_edge_width_grows_with_the_gradient_flow_from_sympy():
    """Pen width is 1 + 3 |flow| / max |flow|, flow = d(out)/d(node) * d(node)/d(parent)."""
    a, b, c = Value(2.0, label="a"), Value(-5.0, label="b"), Value(0.5, label="c")
    product = a * b
    out = tanh(product * c) + product
    out.backward()
    sa, sb, sc, sp_product = sp.symbols("a b c p")
    outer = sp.tanh(sp_product * sc) + sp_product  # out as a function of the product node
    at = {sa: 2, sb: -5, sc: sp.Rational(1, 2), sp_product: -10}
    d_out_d_product = float(sp.diff(outer, sp_product).subs(at).evalf(30))
    # The two edges into the product node: d(product)/da = b, d(product)/db = a.
    flows = {"a": d_out_d_product * -5.0, "b": d_out_d_product * 2.0}
    attrs = edge_attrs(draw_graph(out))
    ids = {n: f"v{i}" for i, n in enumerate(topological_order(out))}
    widths = {
        "a": float(attrs[f"{ids[product]}_op-0"]["penwidth"]),
        "b": float(attrs[f"{ids[product]}_op-1"]["penwidth"]),
    }
    all_flows = []
    for node in topological_order(out):
        for i, parent in enumerate(node.parents):
            if parent.requires_grad:
                all_flows.append(abs(node.local_derivatives[i] * node.grad))
    largest = max(all_flows)
    # The largest flow in this graph runs along the edge from a: d_out_d_product * -5.
    assert math.isclose(largest, abs(flows["a"]), rel_tol=1e-12)
    for name in ("a", "b"):
        assert widths[name] == pytest.approx(1 + 3 * abs(flows[name]) / largest, abs=0.006)


def test_edge_with_no_flow_is_dashed():
    """A dead ReLU passes nothing back: its input edge is dashed."""
    x = Value(-1.0, label="x")
    y = Value(2.0, label="y")
    out = relu(x) + y * 3
    out.backward()
    ids = {n: f"v{i}" for i, n in enumerate(topological_order(out))}
    dead = out.parents[0]
    attrs = edge_attrs(draw_graph(out))
    assert attrs[f"{ids[dead]}_op-0"]["style"] == "dashed"


def test_non_finite_flow_is_red():
    """sqrt'(0) = inf: the edge carrying an infinite gradient is drawn red."""
    x = Value(0.0, label="x")
    out = sqrt(x) + x
    out.backward()
    ids = {n: f"v{i}" for i, n in enumerate(topological_order(out))}
    attrs = edge_attrs(draw_graph(out))
    assert attrs[f"{ids[out.parents[0]]}_op-0"]["color"] == "#cb181d"


def test_edges_are_plain_before_backward_or_when_asked():
    """Without gradients (or with edge_weight=None) no edge gets a width or colour."""
    o, _ = micrograd_neuron()
    before = edge_attrs(draw_graph(o))
    o.backward()
    unweighted = edge_attrs(draw_graph(o, edge_weight=None))
    for attrs in (*before.values(), *unweighted.values()):
        assert "penwidth" not in attrs and "color" not in attrs


# --------------------------------------------------------------------------------------
# Large graphs: max_nodes, collapse, cluster
# --------------------------------------------------------------------------------------


def scoped_network(n_in=2, widths=(3, 2), activation=relu):
    """A small MLP built by hand inside name_scope blocks, as nn modules do.

    Returns (output, inputs, neurons) where neurons[(layer, j)] lists the nodes that
    neuron made or owns: its weights and bias, the dot node and the activation.
    """
    parameters = []
    size = n_in
    for width in widths:
        parameters.append(
            [
                ([Value(0.1 * (j + k + 1)) for k in range(size)], Value(0.05 * j))
                for j in range(width)
            ]
        )
        size = width
    inputs = [Value(0.5 * (i + 1), label=f"x{i}", requires_grad=False) for i in range(n_in)]
    neurons = {}
    x = inputs
    with name_scope("Net"):
        for layer, layer_parameters in enumerate(parameters):
            with name_scope(f"Layer[{layer}]"):
                outputs = []
                for j, (w, b) in enumerate(layer_parameters):
                    with name_scope(f"Neuron[{j}]"):
                        total = dot(w, x) + b
                        out = activation(total)
                    neurons[(layer, j)] = [*w, b, total.parents[0], total, out]
                    outputs.append(out)
            x = outputs
    loss = sum(x[1:], x[0]) * 0.5
    return loss, inputs, neurons


def box_labels(digraph) -> dict[str, str]:
    """Group id -> record label of the collapsed boxes."""
    return dict(re.findall(r'\t(g\d+) \[label="([^"]*)"', digraph.source))


def box_tooltips(digraph) -> dict[str, str]:
    """Group id -> tooltip of the collapsed boxes (it says how many values each holds)."""
    return dict(re.findall(r'\t(g\d+) \[.*tooltip="([^"]*)"', digraph.source))


def test_max_nodes_guard_says_what_to_do():
    """Over the limit, a ValueError names the size and the three ways out."""
    x = Value(0.5, label="x")
    y = x
    for _ in range(100):
        y = y * 1.01
    with pytest.raises(ValueError) as error:
        draw_graph(y, max_nodes=50)
    message = str(error.value)
    drawn = len(topological_order(y)) + 100  # values plus one operation node per product
    assert f"{drawn} nodes" in message and "max_nodes=50" in message
    assert "collapse='neuron'" in message and f"max_nodes={drawn}" in message
    assert "smaller input" in message


def test_collapse_neuron_draws_one_box_per_neuron():
    """collapse='neuron': one box per innermost scope, holding its nodes and parameters."""
    loss, inputs, neurons = scoped_network()
    loss.backward()
    digraph = draw_graph(loss, collapse="neuron")
    labels = box_labels(digraph)
    tooltips = box_tooltips(digraph)
    assert len(labels) == len(neurons)
    for (layer, j), members in neurons.items():
        scope = f"Net / Layer[{layer}] / Neuron[{j}]"
        (group,) = [g for g, text in labels.items() if text.startswith(f"{{ {scope} |")]
        label = labels[group]
        out = members[-1]
        assert tooltips[group] == f"{scope}: {len(members)} values drawn as one box"
        assert f"data {out.data:.4f} | grad {out.grad:.4f}" in label
    # The inputs stay outside, drawn as themselves.
    for x in inputs:
        assert f"{{ {x.label} | data" in digraph.source


@needs_dot
def test_collapsed_edges_connect_the_boxes_that_exchange_values():
    """Layer-0 neurons feed every layer-1 neuron through one junction (3 + 2 edges, not 3 × 2)."""
    loss, inputs, neurons = scoped_network()
    parsed = parse(draw_graph(loss, collapse="neuron", legend=False))
    boxes = {
        n["label"].split(" | ")[0][2:]: name
        for name, n in parsed["nodes"].items()
        if name.startswith("g")
    }
    pairs = edge_pairs(parsed)
    junctions = {name for name in parsed["nodes"] if re.fullmatch(r"j\d+", name)}
    tails = [boxes[f"Net / Layer[0] / Neuron[{j}]"] for j in range(3)]
    heads = [boxes[f"Net / Layer[1] / Neuron[{k}]"] for k in range(2)]
    (junction,) = [j for j in junctions if all(pairs[(t, j)] == 1 for t in tails)]
    for head in heads:
        assert pairs[(junction, head)] == 1
        for tail in tails:
            assert pairs[(tail, head)] == 0
    assert not any(tail == head for tail, head in pairs)
    # Drawn as themselves: every value outside all scopes except the absorbed parameters.
    order = topological_order(loss)
    members = {m for ms in neurons.values() for m in ms}
    expected = {f"v{i}" for i, n in enumerate(order) if not n.scope and n not in members}
    assert {name for name in parsed["nodes"] if re.fullmatch(r"v\d+", name)} == expected
    assert {f"v{i}" for i, n in enumerate(order) if n in inputs} <= expected


def test_collapse_layer_draws_one_box_per_layer():
    """collapse='layer': one box per layer, counting every node its neurons hold."""
    loss, _, neurons = scoped_network()
    digraph = draw_graph(loss, collapse="layer")
    labels = box_labels(digraph)
    tooltips = box_tooltips(digraph)
    assert len(labels) == 2
    for layer in (0, 1):
        count = sum(len(m) for (where, _), m in neurons.items() if where == layer)
        (group,) = [g for g, t in labels.items() if t.startswith(f"{{ Net / Layer[{layer}] |")]
        assert tooltips[group] == f"Net / Layer[{layer}]: {count} values drawn as one box"


def test_leaves_made_above_the_grouping_level_are_placed_by_their_consumers():
    """A layer's shared constant is drawn alone per neuron, and inside the layer's box."""
    w = [Value(0.5, label="w0"), Value(-1.0, label="w1")]
    with name_scope("Net"), name_scope("Layer[0]"):
        shared = Value(2.0, requires_grad=False)  # as a layer turns numbers into constants
        outputs = []
        for j in range(2):
            with name_scope(f"Neuron[{j}]"):
                outputs.append(w[j] * shared)
    loss = outputs[0] + outputs[1]
    neuron_view = draw_graph(loss, collapse="neuron", show_grad=True)
    assert sorted(box_labels(neuron_view).values()) == [
        "{ Net / Layer[0] / Neuron[0] | data 1.0000 | grad 0.0000 }",
        "{ Net / Layer[0] / Neuron[1] | data -2.0000 | grad 0.0000 }",
    ]
    assert sorted(box_tooltips(neuron_view).values()) == [
        "Net / Layer[0] / Neuron[0]: 2 values drawn as one box",
        "Net / Layer[0] / Neuron[1]: 2 values drawn as one box",
    ]
    assert "{ data 2.0000 }" in neuron_view.source  # the shared constant, on its own
    layer_view = draw_graph(loss, collapse="layer", show_grad=True)
    assert list(box_labels(layer_view).values()) == [
        "{ Net / Layer[0] | 2 outputs | max abs grad 0.0000 }"
    ]
    assert list(box_tooltips(layer_view).values()) == ["Net / Layer[0]: 5 values drawn as one box"]


def test_collapse_by_depth_and_validation():
    """An int collapse cuts scope paths to that depth; bad values are refused clearly."""
    loss, _, _ = scoped_network()
    assert len(box_labels(draw_graph(loss, collapse=1))) == 1
    with pytest.raises(ValueError, match="'neuron', 'layer'"):
        draw_graph(loss, collapse="neurons")
    with pytest.raises(ValueError, match="depth >= 1"):
        draw_graph(loss, collapse=0)
    with pytest.raises(TypeError, match="got bool"):
        draw_graph(loss, collapse=True)


@needs_dot
def test_cluster_puts_each_node_in_its_scope_box():
    """cluster=True keeps every node and nests boxes by scope path."""
    loss, inputs, neurons = scoped_network()
    parsed = parse(draw_graph(loss, cluster=True, legend=False))
    ids = {n: f"v{i}" for i, n in enumerate(topological_order(loss))}
    clusters = list(parsed["clusters"].values())
    for (_, j), members in neurons.items():
        around = [c for c in clusters if ids[members[-1]] in c["nodes"]]
        innermost = min(around, key=lambda c: len(c["nodes"]))
        assert innermost["label"] == f"Neuron[{j}]"
        assert {ids[m] for m in members} <= set(innermost["nodes"])
        assert sorted(c["label"] for c in around) == sorted(
            ["Net", "Layer[0]", f"Neuron[{j}]"]
        ) or sorted(c["label"] for c in around) == sorted(["Net", "Layer[1]", f"Neuron[{j}]"])
    (net,) = [c for c in clusters if c["label"] == "Net"]
    assert all(ids[m] in net["nodes"] for ms in neurons.values() for m in ms)
    assert not any(ids[x] in net["nodes"] for x in inputs)


def test_real_mlp_graph_renders_collapsed_in_seconds(tmp_path):
    """Acceptance: MLP(2, [16, 16, 1]) on one sample renders collapsed to SVG in < 10 s."""
    nn = pytest.importorskip("autograd_lite.nn")
    model = nn.MLP(2, [16, 16, 1], seed=0)
    loss = (model([0.5, -1.5]) - 1.0) ** 2
    loss.backward()
    with pytest.raises(ValueError, match="collapse="):
        draw_graph(loss, max_nodes=100)
    if DOT_PROGRAM is None:
        pytest.skip("the Graphviz dot program is missing")
    for level in ("neuron", "layer"):
        start = time.perf_counter()
        path = render(loss, tmp_path / f"mlp_{level}.svg", collapse=level)
        elapsed = time.perf_counter() - start
        print(f"collapse={level}: rendered in {elapsed:.3f} s", file=sys.stderr)
        assert elapsed < 10
        svg = path.read_text()
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
        assert ("Layer[1] / Neuron[15]" in svg) == (level == "neuron")


# --------------------------------------------------------------------------------------
# render(): files by suffix, atomic, clear errors
# --------------------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize(
    ("suffix", "magic"),
    [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph")],
)
def test_render_writes_the_format_named_by_the_suffix(tmp_path, suffix, magic):
    """The suffix picks the format; the file starts with that format's signature."""
    o, _ = micrograd_neuron()
    path = render(o, tmp_path / f"neuron{suffix}", rankdir="TB")
    assert path == tmp_path / f"neuron{suffix}"
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_render_dot_is_the_source_and_accepts_a_digraph(tmp_path):
    """A .dot file holds exactly the Digraph's source; a Digraph renders as it is."""
    o, _ = micrograd_neuron()
    digraph = draw_graph(o)
    assert render(digraph, tmp_path / "g.dot").read_text() == digraph.source
    with pytest.raises(TypeError, match="collapse"):
        render(digraph, tmp_path / "h.dot", collapse="neuron")


def test_render_refuses_an_unknown_suffix(tmp_path):
    """A path ending in .jpg is refused with the list of suffixes that work."""
    o, _ = micrograd_neuron()
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        render(o, tmp_path / "g.jpg")
    assert list(tmp_path.iterdir()) == []


def test_render_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    """If Graphviz fails midway, the old file is untouched and no temporary file remains."""
    o, _ = micrograd_neuron()
    target = tmp_path / "g.svg"
    target.write_text("old drawing")

    def broken_pipe(self, *args, **kwargs):
        raise graphviz.CalledProcessError(1, ["dot"], output=b"", stderr=b"boom")

    monkeypatch.setattr(graphviz.Digraph, "pipe", broken_pipe)
    with pytest.raises(graphviz.CalledProcessError):
        render(o, target)
    assert target.read_text() == "old drawing"
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]


def test_missing_dot_program_gives_install_instructions(tmp_path, monkeypatch):
    """Without `dot` on PATH: GraphvizNotFoundError says how to install it; .dot still works."""
    o, _ = micrograd_neuron()
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GraphvizNotFoundError) as error:
        render(o, tmp_path / "g.svg")
    message = str(error.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda", ".source", ".dot"):
        assert hint in message
    assert not (tmp_path / "g.svg").exists()
    assert render(o, tmp_path / "g.dot").read_text().startswith("digraph")


def test_missing_graphviz_package_names_the_extra(monkeypatch):
    """Without the graphviz Python package the ImportError names the pip extra."""
    monkeypatch.setitem(sys.modules, "graphviz", None)
    o, _ = micrograd_neuron()
    with pytest.raises(ImportError, match=r'pip install "autograd-lite\[viz\]"'):
        draw_graph(o)


@needs_dot
def test_digraph_shows_inline_in_jupyter():
    """The returned Digraph has a Jupyter representation with the SVG."""
    o, _ = micrograd_neuron()
    bundle = draw_graph(o)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


# --------------------------------------------------------------------------------------
# Bad arguments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"rankdir": "XY"}, ValueError, "rankdir must be one of LR"),
        ({"max_nodes": "5"}, TypeError, "max_nodes must be an int, got str"),
        ({"max_nodes": 0}, ValueError, "at least 1"),
        ({"edge_weight": "data"}, ValueError, "'grad' or None"),
        ({"cluster": "yes"}, TypeError, "cluster must be True or False"),
        ({"digits": -1}, ValueError, "digits"),
        ({"inputs": [1.0]}, TypeError, "inputs must be Values, got a float"),
    ],
)
def test_bad_options_are_refused_with_what_is_accepted(kwargs, error, pattern):
    """Each invalid option raises an error naming what is accepted."""
    o, _ = micrograd_neuron()
    with pytest.raises(error, match=pattern):
        draw_graph(o, **kwargs)


@pytest.mark.parametrize(("root", "name"), [("x", "str"), (1.5, "float"), ([Value(1.0), 2], "int")])
def test_non_values_are_refused_naming_their_type(root, name):
    """draw_graph() of something that is not a Value names the type it got."""
    with pytest.raises(TypeError, match=name):
        draw_graph(root)


def test_nothing_is_drawn_from_an_empty_list():
    """An empty list of roots is a ValueError, not an empty picture."""
    with pytest.raises(ValueError, match="empty"):
        draw_graph([])


def test_dot_program_path_is_not_needed_for_dot_source(tmp_path, monkeypatch):
    """Building the Digraph and reading .source never runs Graphviz."""
    monkeypatch.setenv("PATH", os.devnull)
    o, _ = micrograd_neuron()
    assert draw_graph(o).source.startswith("digraph")
    assert Path(render(o, tmp_path / "x.gv")).exists()


def test_rendered_files_get_the_permissions_open_would_give(tmp_path):
    """Atomic writing does not leave the temporary file's private mode on the result."""
    o, _ = micrograd_neuron()
    mask = os.umask(0o027)
    try:
        path = render(o, tmp_path / "g.dot")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------------------------------
# Issue 13: drawings a student can read
# --------------------------------------------------------------------------------------


def _layout_size(digraph) -> tuple[float, float]:
    """The drawn size in pixels (96 per inch) from Graphviz's own layout."""
    result = subprocess.run(
        [DOT_PROGRAM, "-Tjson0"], input=digraph.source, capture_output=True, text=True, check=True
    )
    x0, y0, x1, y1 = map(float, json.loads(result.stdout)["bb"].split(","))
    return (x1 - x0) * 96 / 72, (y1 - y0) * 96 / 72


def test_model_names_parameters_by_path_and_inputs_as_x():
    """With model=, weights read layers.0.neurons.1.w[0] and the unlabelled inputs x[0], x[1]."""
    from autograd_lite.nn import MLP

    model = MLP(2, [2, 1], seed=0)
    out = model([0.5, -1.0])
    source = draw_graph(out, model=model).source
    assert "layers.0.neurons.1.w[0]" in source and "layers.1.neurons.0.b" in source
    order = topological_order(out)
    inputs = [n for n in order if n.is_leaf and not n.requires_grad and n.data in (0.5, -1.0)]
    for i, node in enumerate(sorted(inputs, key=lambda n: n.data, reverse=True)):
        line = re.search(rf"\tv{order.index(node)} \[.*", source).group(0)
        assert f"x[{i}]" in line and FILL_COLOURS["input"] in line


def test_grads_are_omitted_until_a_backward_pass_runs():
    """Before backward() no 'grad' appears and the title says why; after it, the gradients do."""
    o, _ = micrograd_neuron()
    before = draw_graph(o).source
    assert "grad " not in before and "no backward pass" in before
    o.backward()
    after = draw_graph(o).source
    assert "grad 1.0000" in after and "no backward pass" not in after


def test_edge_labels_local_writes_each_local_derivative():
    """edge_labels='local': w1 -> x1*w1 reads x1 = 2, n -> tanh reads 1 - o**2 (sympy)."""
    o, leaves = micrograd_neuron()
    o.backward()
    digraph = draw_graph(o, edge_labels="local")
    ids = {n: f"v{i}" for i, n in enumerate(topological_order(o))}
    product = next(n for n in topological_order(o) if n.op == "mul" and leaves["w1"] in n.parents)
    edge = re.search(rf"\t{ids[leaves['w1']]} -> {ids[product]}_op \[(.*)\]", digraph.source)
    assert re.search(r'label="?2\.000"? ', edge.group(1))
    slope = float(sp.sech(sp.Float(o.parents[0].data)) ** 2)
    edge = re.search(rf"\t{ids[o.parents[0]]} -> {ids[o]}_op \[(.*)\]", digraph.source)
    assert re.search(rf'label="?{slope:.3f}"? ', edge.group(1))
    assert "the local derivative" in digraph.source  # in the legend


def test_operation_to_result_edges_are_weighted_by_the_results_grad():
    """tanh -> o carries o.grad = 1: 1 + 3 * 1/1.5 wide, as 1.5 = |w1| * 0.5 is the largest flow."""
    o, leaves = micrograd_neuron()
    o.backward()
    source = draw_graph(o).source
    ids = {n: f"v{i}" for i, n in enumerate(topological_order(o))}
    largest = abs(leaves["w1"].data) * (1 - o.data**2)  # x1's flow, the largest in the graph
    edge = re.search(rf"\t{ids[o]}_op -> {ids[o]} \[(.*)\]", source).group(1)
    assert f"penwidth={1 + 3 * 1.0 / largest:.2f}" in edge
    n = o.parents[0]
    edge = re.search(rf"\t{ids[n]}_op -> {ids[n]} \[(.*)\]", source).group(1)
    assert f"penwidth={1 + 3 * n.grad / largest:.2f}" in edge


def test_dead_relus_are_marked_in_full_and_collapsed_drawings():
    """A ReLU with output 0 is filled and labelled dead, and the legend says what that means."""
    x = Value(-1.0, label="x")
    y = relu(x * 2.0)
    y.backward()
    source = draw_graph(y).source
    assert "dead" in re.search(r"\tv\d+_op \[.*ReLU.*", source).group(0)
    assert "dead ReLU: output 0" in source
    loss, _, _ = scoped_network()
    # Add a unit whose sum is -2 (dead) in a scope of its own.
    with name_scope("Net"), name_scope("Layer[0]"), name_scope("Neuron[9]"):
        dead_unit = relu(dot([Value(1.0)], [Value(-2.0, requires_grad=False)]))
    total = loss + dead_unit
    total.backward()
    collapsed = draw_graph(total, collapse="neuron").source
    assert collapsed.count("| passes back 0 (dead ReLU) }") == 1
    assert "dead ReLU: output 0" in collapsed


def test_collapsed_neurons_are_in_natural_order():
    """Neuron[2] is numbered (and so placed) before Neuron[10]."""
    w = Value(1.0, label="w")
    outputs = []
    with name_scope("Net"), name_scope("Layer[0]"):
        for j in (10, 2, 1):
            with name_scope(f"Neuron[{j}]"):
                outputs.append(w * float(j))
    labels = box_labels(draw_graph(outputs, collapse="neuron"))
    order = [labels[f"g{i}"].split(" | ")[0] for i in range(3)]
    assert order == [f"{{ Net / Layer[0] / Neuron[{j}]" for j in (1, 2, 10)]


@needs_dot
def test_size_guard_is_in_drawn_pixels_and_the_estimate_is_close():
    """A graph under max_nodes that would be huge is refused; the estimate is within 2x of dot's."""
    x = Value(0.5, label="x")
    y = x
    for _ in range(60):
        y = tanh(y)
    with pytest.raises(ValueError, match=r"about \d+ × \d+ pixels, more than max_size=4000"):
        draw_graph(y, max_size=4000)
    from autograd_lite.nn import MLP
    from autograd_lite.viz import graph as graph_module

    o, _ = micrograd_neuron()
    model = MLP(3, [8, 8, 1], seed=0)

    for root, options in ((o, {}), (y, {}), (model([0.1, 0.2, 0.3]), {"collapse": "neuron"})):
        drawing_sizes = []
        original = graph_module.estimate_size

        def spy(drawing, rankdir, original=original, drawing_sizes=drawing_sizes):
            size = original(drawing, rankdir)
            drawing_sizes.append(size)
            return size

        graph_module.estimate_size = spy
        try:
            digraph = draw_graph(root, max_size=10**6, legend=False, title="", **options)
        finally:
            graph_module.estimate_size = original
        (estimated,) = drawing_sizes
        real = _layout_size(digraph)
        for e, r in zip(estimated, real):
            assert r / 2 < e < r * 2, (estimated, real)


def test_legend_covers_every_mark_used():
    """Dashed, weighted and junction marks each get a legend row when (and only when) drawn."""
    loss, _, _ = scoped_network()
    loss.backward()
    source = draw_graph(loss, collapse="neuron").source
    legend = re.search(r"legend \[label=<(.*)>", source).group(1)
    assert "junction" in legend and "thicker, darker edge" in legend
    assert ("dashed edge" in legend) == ("style=dashed" in source)
    o, _ = micrograd_neuron()
    plain = draw_graph(o).source
    legend = re.search(r"legend \[label=<(.*)>", plain).group(1)
    assert "junction" not in legend and "dashed" not in legend


@needs_dot
def test_model_graph_is_readable_for_a_wide_input_and_several_outputs():
    """64 inputs become one box, 10 outputs mean no gradients (not zeros), grads are restored."""
    from autograd_lite.nn import MLP
    from autograd_lite.viz.graph import model_graph

    model = MLP(64, [16, 16, 10], seed=0)
    for p in model.parameters():
        p.grad = 0.25
    digraph = model_graph(model, [0.1] * 64)
    assert "inputs x[0] … x[63]" in digraph.source
    assert "grad " not in digraph.source.split("legend")[0]
    assert "no backward pass" in digraph.source
    assert all(p.grad == 0.25 for p in model.parameters())
    width, height = _layout_size(digraph)
    assert max(width, height) < 3000
    single = MLP(2, [16, 16, 1], seed=0)
    drawn = model_graph(single, [0.5, -0.5]).source
    assert "grad 1.0000" in drawn and "x[0]" in drawn and "x[1]" in drawn
    assert all(p.grad == 0.0 for p in single.parameters())


@settings(max_examples=60, deadline=None)
@given(programs(max_steps=10))
def test_unlabelled_nodes_get_unique_readable_names_never_ids(program):
    """Random graphs: no node is named by its id v<i>; names are unique and short."""
    out = run_engine(program, [Value(p, label=f"x{i}") for i, p in enumerate(program.point)])
    names = node_names(out)
    results = [n for n in topological_order(out) if n.parents and not n.label]
    assert not any(re.fullmatch(r"v\d+", names[n]) for n in results)
    assert all(len(names[n]) <= 32 + len(" #99") for n in results)
    named = [names[n] for n in topological_order(out) if n.parents or n.requires_grad]
    assert len(named) == len(set(named))


def test_a_neuron_is_named_by_its_module_path_and_a_product_by_its_formula():
    """MLP units are layers.0.neurons.i (their formula is too long); x1 * w1 is x1·w1."""
    from autograd_lite.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    x = [Value(1.0, label="x0"), Value(-2.0, label="x1")]
    loss = (model(x) - 1.0) ** 2
    names = node_names(loss, model=model)
    units = [n for n in topological_order(loss) if n.op == "dot_relu"]
    assert [names[n] for n in units] == [f"layers.0.neurons.{i}" for i in range(3)]
    assert names[loss.parents[0]] == "layers.1.neurons.0 − 1"
    assert names[loss] == "(layers.1.neurons.0 − 1)²"
    x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
    product = x1 * w1
    assert node_names(product)[product] == "x1·w1"


# --------------------------------------------------------------------------------------
# Any text reaches Graphviz escaped
# --------------------------------------------------------------------------------------

# Any character a str can hold in UTF-8: control characters, NUL, quotes, backslashes,
# angle brackets, braces, bars, non-ASCII; lone surrogates cannot be encoded at all.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def _hand_built(op: str, label: str, leaf_label: str) -> Value:
    """A micrograd-style node built by hand, with the given op text and labels."""
    a = Value(1.0, label=leaf_label)
    out = Value(2.0, (a, a), op)
    out.label = label
    return out


@needs_dot
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=ANY_TEXT, label=ANY_TEXT, leaf=ANY_TEXT, scope=ANY_TEXT, title=ANY_TEXT)
def test_any_text_renders_with_dot(op, label, leaf, scope, title):
    """Ops, labels, scopes, names and titles of any text render with dot without an error."""
    with name_scope(scope or "s"):
        out = _hand_built(op, label, leaf)
    names = {out.parents[0]: leaf + op}
    for options in ({"cluster": True}, {"collapse": 1}):
        digraph = draw_graph(out, names=names, title=title, **options)
        svg = digraph.pipe(format="svg").decode("utf-8")
        assert "<svg" in svg
        assert "<b>" not in svg  # no text ever becomes markup


@needs_dot
@pytest.mark.parametrize(
    "op", ["<b>bold</b>", "ends in a backslash\\", "nul\x00inside", '"quoted"', "{a|b}"]
)
def test_hostile_op_text_is_drawn_literally(op):
    """The op text of a hand-built node is shown as written, never as markup or syntax."""
    a = Value(1.0, label="a")
    out = Value(2.0, (a,), op)
    svg = draw_graph(out).pipe(format="svg").decode("utf-8")
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    tooltips = [html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', svg)]
    shown = op.replace("\x00", "␀")
    assert shown in texts
    assert shown in tooltips


# --------------------------------------------------------------------------------------
# A GPT drawn by module
# --------------------------------------------------------------------------------------


def _box_labels(source: str) -> dict[str, str]:
    """Group id -> the first field of its record label (its module's name)."""
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r'^\s*(g\d+) \[label="\{ ([^|]*) \|', source, re.MULTILINE)
    }


def test_model_graph_draws_a_gpt_by_module_with_its_residual_stream():
    """Token ids in; one box per module of each block; bold edges + embeddings → + attn → + proj."""
    from autograd_lite.nn import GPT

    model = GPT(7, 8, n_embd=8, n_head=2, n_layer=2, seed=0)
    tokens = [0, 3, 5, 2]
    names_before = [m.scope_name for m in model.modules()]
    digraph = model_graph(model, tokens)
    labels = _box_labels(digraph.source)
    per_block = ["norm1", "attn", "+ attn", "norm2", "fc", "proj", "+ proj"]
    assert sorted(labels.values()) == sorted(
        per_block * 2 + ["+ embeddings", "final_norm", "lm_head", "loss"]
    )
    ids = {label: [g for g, text in labels.items() if text == label] for label in per_block}
    stream = re.findall(r"(g\d+) -> (g\d+) \[label=\"residual stream\"", digraph.source)
    embeddings = next(g for g, text in labels.items() if text == "+ embeddings")
    expected = [
        (embeddings, ids["+ attn"][0]),
        (ids["+ attn"][0], ids["+ proj"][0]),
        (ids["+ proj"][0], ids["+ attn"][1]),
        (ids["+ attn"][1], ids["+ proj"][1]),
    ]
    assert sorted(stream) == sorted(expected)
    assert [m.scope_name for m in model.modules()] == names_before  # names restored
    assert all(p.grad == 0.0 for p in model.parameters())  # gradients restored


def test_model_graph_of_a_gpt_shows_the_next_token_loss():
    """The loss box holds the mean next-token cross-entropy, computed here with math.fsum."""
    from autograd_lite.nn import GPT

    model = GPT(5, 6, n_embd=4, n_head=1, n_layer=1, seed=1)
    tokens = [1, 4, 0, 2]
    logits = [[v.data for v in row] for row in model(tokens)]
    terms = []
    for row, target in zip(logits, tokens[1:]):
        top = max(row)
        terms.append(top + math.log(math.fsum(math.exp(v - top) for v in row)) - row[target])
    expected = math.fsum(terms) / len(terms)
    source = model_graph(model, tokens).source
    shown = float(re.search(r'label="\{ loss \| data (-?[\d.]+)', source).group(1))
    assert shown == pytest.approx(expected, abs=5e-5)  # the record shows 4 decimals


def test_model_graph_of_a_gpt_refuses_what_is_not_tokens():
    """A string, a float token or an out-of-range id gets the model's own clear error."""
    from autograd_lite.nn import GPT

    model = GPT(5, 6, n_embd=4, n_head=1, n_layer=1, seed=1)
    with pytest.raises(TypeError, match="list of token ids"):
        model_graph(model, "abc")
    with pytest.raises(TypeError, match="int tokens"):
        model_graph(model, [1.5, 2])
    with pytest.raises(ValueError):
        model_graph(model, [1, 9])
    assert [m.scope_name for m in model.modules()][1:3] == ["Embedding", "Embedding"]


@needs_dot
def test_a_gpt_module_drawing_renders():
    """The module drawing of notebook 12's GPT (1 block, 16 numbers, 8 tokens) renders."""
    from autograd_lite.nn import GPT

    model = GPT(27, 16, n_embd=16, n_head=4, n_layer=1, seed=0)
    svg = model_graph(model, [0, 5, 12, 12, 1, 0, 3, 9]).pipe(format="svg").decode("utf-8")
    assert svg.count("residual stream") >= 2


def _lecture_mlp():
    """Notebook 02's MLP(2, [3, 1], seed=0): on x = (1, -2) its hidden unit 0 is a dead ReLU."""
    from autograd_lite.nn import MLP

    return MLP(2, [3, 1], seed=0)


def test_model_graph_says_whose_gradient_it_shows():
    """The title says the boxes hold d(output)/d(value) for this one sample, not a loss's."""
    source = model_graph(_lecture_mlp(), [1.0, -2.0]).source
    title = re.search(r'label="([^"]*)" labelloc=t', source)
    assert "grad = d(output)/d(box) for this sample (not a loss's gradient)" in title.group(1)


def test_a_dead_relu_box_shows_the_zero_it_passes_back():
    """The dead unit's box says it passes back 0, beside the gradient that reached it."""
    model = _lecture_mlp()
    source = model_graph(model, [1.0, -2.0]).source
    boxes = [line for line in source.splitlines() if re.match(r"\s*g\d+ \[label=", line)]
    (dead,) = [line for line in boxes if "dead ReLU" in line]
    assert "passes back 0 (dead ReLU)" in dead
    # The gradient that reached it: d(out)/d(unit 0) is unit 0's weight in the output neuron.
    weight = model.layers[1].neurons[0].w[0].data
    assert f"grad in {weight:.4f}" in dead
