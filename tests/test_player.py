"""Tests for autograd_lite.viz.player: the backward pass one step at a time, and its page.

The steps are checked against ``backward()`` (they must end where it ends, exactly),
against sympy (the gradients themselves), and against the chain rule step by step.
The page is checked here as text; tests/test_player_browser.py drives it in Chromium.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings

from autograd_lite import Value, sqrt, tanh, topological_order
from autograd_lite.viz.graph import node_ids
from autograd_lite.viz.player import Player, Step, backward_steps, player_html
from tests.optional import need
from tests.oracles import assert_close, symbolic_derivatives, sympy_backend
from tests.strategies import ENGINE, programs, run, run_engine

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the dot program is missing")


def micrograd_neuron():
    """o = tanh(x1*w1 + x2*w2 + b) from the micrograd lecture, and its leaves."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    o = tanh(x1 * w1 + x2 * w2 + b)
    o.label = "o"
    return o, [x1, x2, w1, w2, b]


# --------------------------------------------------------------------------------------
# backward_steps
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(programs(max_steps=8))
def test_last_step_holds_exactly_what_backward_leaves(program):
    """Random graphs: the replayed gradients equal backward()'s, bit for bit, for every node."""
    inputs = [Value(p) for p in program.point]
    out = run_engine(program, inputs)
    steps = list(backward_steps(out))
    assert all(node.grad == 0.0 for node in topological_order(out))  # nothing touched
    out.backward()
    final = steps[-1].grads
    for node in topological_order(out, requires_grad_only=True):
        assert final[node] == node.grad


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=5))
def test_replayed_gradients_match_sympy(program):
    """Random graphs: the gradients of the inputs after the last step are sympy's."""
    symbols = sp.symbols(f"x0:{program.n_inputs}")
    inputs = [Value(p) for p in program.point]
    result = run(program, [(ENGINE, inputs), (sympy_backend(), symbols)])
    out, expression = result.items
    _, gradient, _ = symbolic_derivatives(expression, symbols, order=1)(program.point)
    final = list(backward_steps(out))[-1].grads
    for leaf, expected in zip(inputs, gradient):
        assert_close(float(final.get(leaf, 0.0)), expected, rtol=1e-9, atol=1e-9, what="grad")


def test_steps_follow_the_order_of_backward():
    """Step 0 seeds the output; then every operation in reverse topological order."""
    o, _ = micrograd_neuron()
    steps = list(backward_steps(o))
    expected = [n for n in reversed(topological_order(o, requires_grad_only=True)) if n.parents]
    assert steps[0].node is o and steps[0].is_seed and steps[0].grad == 1.0
    assert steps[0].contributions == () and dict(steps[0].grads) == {o: 1.0}
    assert [s.node for s in steps[1:]] == expected
    assert [s.index for s in steps] == list(range(len(steps)))
    ids = node_ids(o)
    assert all(s.node_id == ids[s.node] for s in steps)


@settings(max_examples=40, deadline=None)
@given(programs(max_steps=8))
def test_each_step_applies_the_chain_rule_to_a_final_gradient(program):
    """A node's grad is final when processed, and each input gains local * grad."""
    out = run_engine(program, [Value(p) for p in program.point])
    steps = list(backward_steps(out))
    final = steps[-1].grads
    previous = dict(steps[0].grads)
    for step in steps[1:]:
        assert step.grad == final[step.node]
        expected_parents = [(i, p) for i, p in enumerate(step.node.parents) if p.requires_grad]
        assert [(c.argument, c.parent) for c in step.contributions] == expected_parents
        for c in step.contributions:
            assert c.local_derivative == step.node.local_derivatives[c.argument]
            assert c.added == c.local_derivative * step.grad
            assert c.grad_after == previous.get(c.parent, 0.0) + c.added
            previous[c.parent] = c.grad_after
        assert dict(step.grads) == previous


def test_local_derivatives_in_the_steps_match_sympy():
    """The micrograd neuron: each step's local derivative is sympy's partial derivative."""
    o, (x1, _, w1, _, _) = micrograd_neuron()
    steps = list(backward_steps(o))
    n = o.parents[0]
    tanh_step = steps[1]
    assert tanh_step.node is o
    t = sp.Symbol("t")
    expected = float(sp.diff(sp.tanh(t), t).subs(t, sp.Float(n.data, 30)))
    assert tanh_step.contributions[0].local_derivative == pytest.approx(expected, rel=1e-14)
    x1w1 = next(s for s in steps if s.node.op == "mul" and s.node.parents == (x1, w1))
    assert [c.local_derivative for c in x1w1.contributions] == [w1.data, x1.data]


def test_a_value_used_twice_gets_two_contributions():
    """a * a passes a gradient to a along each argument: two contributions, summed."""
    a = Value(3.0, label="a")
    out = a * a
    (_, step) = backward_steps(out)
    assert [c.argument for c in step.contributions] == [0, 1]
    assert [c.parent for c in step.contributions] == [a, a]
    assert step.grads[a] == 6.0 == 2 * a.data  # d(a^2)/da


def test_constants_receive_nothing():
    """A literal constant gets no contribution, as backward() gives it no gradient."""
    x = Value(2.0, label="x")
    out = x * 5.0
    (_, step) = backward_steps(out)
    assert [c.parent for c in step.contributions] == [x]
    assert out.parents[1] not in step.grads


def test_real_gradients_are_left_alone_unless_asked():
    """Replaying does not change any .grad; apply=True ends exactly where backward() does."""
    first, leaves_a = micrograd_neuron()
    second, leaves_b = micrograd_neuron()
    for leaf in (*leaves_a, *leaves_b):
        leaf.grad = 0.25  # leaves accumulate: replay must add to this only when applied
    first.backward()
    before = [n.grad for n in topological_order(second)]
    list(backward_steps(second))
    assert [n.grad for n in topological_order(second)] == before
    list(backward_steps(second, apply=True))
    assert [n.grad for n in topological_order(second)] == [n.grad for n in topological_order(first)]


def test_describe_reads_as_the_chain_rule():
    """Step.describe() names the node and shows `parent.grad += local * grad`."""
    a = Value(3.0, label="a")
    out = a * a
    out.label = "out"
    seed, step = backward_steps(out)
    assert seed.describe() == "step 0: seed d(out)/d(out) = 1"
    assert "a.grad += 3 * 1 = 3  (now 3)" in step.describe()
    assert "a.grad += 3 * 1 = 3  (now 6)" in step.describe()


def test_bad_roots_are_refused():
    """Not a Value, a constant, or a hand-built node with a closure: clear errors."""
    with pytest.raises(TypeError, match="got float"):
        backward_steps(1.0)
    with pytest.raises(ValueError, match="constant"):
        backward_steps(Value(1.0, requires_grad=False))
    a = Value(1.0)
    hand_built = Value(2.0, (a,), "double")
    hand_built._backward = lambda: None
    with pytest.raises(ValueError, match="primitive"):
        backward_steps(hand_built)


def test_a_steps_grads_cannot_be_changed():
    """Step.grads is read-only, so one step cannot corrupt the next."""
    o, _ = micrograd_neuron()
    step: Step = next(iter(backward_steps(o)))
    with pytest.raises(TypeError):
        step.grads[o] = 2.0  # type: ignore[index]


# --------------------------------------------------------------------------------------
# player_html and Player (as text; the browser test runs the page)
# --------------------------------------------------------------------------------------


def embedded(page: str, name: str):
    """The JSON constant ``name`` embedded in the page's script."""
    match = re.search(rf"const {name} = (.*);\n", page)
    return json.loads(match.group(1))


@needs_dot
def test_page_embeds_the_steps_and_the_controls():
    """The page carries every step (node id, grads) and the control ids the brief fixes."""
    need("graphviz")
    o, _ = micrograd_neuron()
    page = player_html(o)
    for element in ("play", "pause", "next", "prev", "slider", "step-info", "grads"):
        assert f'id="{element}"' in page
    steps = list(backward_steps(o))
    data = embedded(page, "STEPS")
    assert [s["node"] for s in data] == [s.node_id for s in steps]
    for s, d in zip(steps, data):
        assert d["grad"] == s.grad
        assert [(c["parent"], c["after"]) for c in d["contributions"]] == [
            (c.parent_id, c.grad_after) for c in s.contributions
        ]
    assert f'max="{len(steps) - 1}"' in page
    for node_id in node_ids(o).values():  # every value node of the SVG has its id
        assert f'id="{node_id}"' in page


@needs_dot
def test_page_is_self_contained():
    """No script, style, image or font is fetched: nothing points at the network."""
    need("graphviz")
    o, _ = micrograd_neuron()
    page = player_html(o)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page


@needs_dot
def test_hostile_labels_cannot_break_out_of_the_script():
    """A label containing </script> and a placeholder name stays text."""
    need("graphviz")
    x = Value(1.5, label="</script><script>alert(1)</script> __STEPS__")
    out = x * x
    page = player_html(out)
    assert page.count("</script>") == 1
    assert "<script>alert(1)" not in page
    assert embedded(page, "NODES")[0]["label"] == x.label


@needs_dot
def test_infinite_gradients_survive_the_page():
    """sqrt'(0) = inf travels as the string 'inf' (JSON has no infinity)."""
    need("graphviz")
    x = Value(0.0, label="x")
    out = sqrt(x)
    data = embedded(player_html(out), "STEPS")
    assert data[-1]["contributions"][0]["local"] == "inf"
    assert math.isinf(list(backward_steps(out))[-1].grads[x])


@needs_dot
def test_page_is_written_atomically_to_path(tmp_path):
    """player_html(root, path) writes the same page it returns, with no temporary left."""
    need("graphviz")
    o, _ = micrograd_neuron()
    path = tmp_path / "player.html"
    page = player_html(o, path)
    assert path.read_text(encoding="utf-8") == page
    assert [p.name for p in tmp_path.iterdir()] == ["player.html"]


@needs_dot
def test_player_shows_in_jupyter_as_an_iframe(tmp_path):
    """Player._repr_html_ embeds the escaped page in an iframe's srcdoc; save() writes it."""
    need("graphviz")
    o, _ = micrograd_neuron()
    player = Player(o, height=400)
    shown = player._repr_html_()
    assert shown.startswith("<iframe srcdoc=")
    srcdoc = re.match(r'<iframe srcdoc="([^"]*)"', shown).group(1)
    assert html.unescape(srcdoc) == player.html
    assert "height: 400px" in shown
    assert player.save(tmp_path / "p.html").read_text(encoding="utf-8") == player.html
    assert f"{len(player.steps)} steps" in repr(player)


def test_page_options_are_checked():
    """A non-positive interval is refused before any drawing happens."""
    o, _ = micrograd_neuron()
    with pytest.raises(ValueError, match="interval_ms"):
        player_html(o, interval_ms=0)


def test_a_graph_too_large_to_show_is_refused_before_any_work():
    """Over max_nodes the player says to use a smaller graph; it cannot collapse nodes."""
    x = Value(0.5, label="x")
    y = x
    for _ in range(30):
        y = y * 1.01
    # x, then per product a constant 1.01, the result and its operation: 1 + 30 * 3.
    with pytest.raises(ValueError, match=r"player would draw 91 nodes.*max_nodes=91"):
        player_html(y, max_nodes=20)


def test_each_step_carries_the_rule_with_names():
    """o = tanh(n) gives ∂o/∂n = 1 − o² with sympy's number; a product names its partner."""
    import sympy as sp

    x1, w1, b = (
        Value(2.0, label="x1"),
        Value(-3.0, label="w1"),
        Value(6.8813735870195432, label="b"),
    )
    n = x1 * w1 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    steps = list(backward_steps(o))
    slope = float(sp.diff(sp.tanh(sp.Symbol("n")), "n").subs("n", n.data))
    assert steps[0].rule == "∂o/∂o = 1"
    assert steps[1].rule == f"o = tanh(n): ∂o/∂n = 1 − o² = {slope:.4g}"
    product = steps[-1]
    assert product.name == "x1·w1"  # an unlabelled node is named by its formula
    assert product.rule.startswith("x1·w1 = x1 · w1: ")
    assert [c.rule for c in product.contributions] == [
        "∂(x1·w1)/∂x1 = w1 = -3",
        "∂(x1·w1)/∂w1 = x1 = 2",
    ]


def test_model_names_parameters_by_module_path_and_inputs_by_position():
    """With model=, parameters are layers.0.neurons.1.w[0]; unlabelled inputs are x[i]."""
    from autograd_lite.nn import MLP

    model = MLP(2, [2, 1], seed=0)
    x = [Value(1.0), Value(-2.0)]
    out = model(x)
    steps = list(backward_steps(out, model=model, inputs=x))
    names = {c.name for s in steps for c in s.contributions}
    expected = {re.sub(r"\.(\d+)$", r"[\1]", name) for name, _ in model.named_parameters()}
    assert expected <= names
    assert {"x[0]", "x[1]"} <= names
    assert "layers.0.neurons.1.w[0]" in names


def test_dead_relu_step_says_it_blocks():
    """A dead ReLU's step rule says that it blocks the gradient."""
    from autograd_lite import relu

    x = Value(-1.0, label="x")
    y = relu(x)
    y.label = "y"
    (step,) = list(backward_steps(y))[1:]
    assert "dead ReLU" in step.rule and "blocks the gradient" in step.rule


def test_forward_and_update_phases_add_their_steps_to_the_page():
    """forward=True adds one step per operation, lr= one per parameter with p - lr * grad."""
    need("graphviz")
    import json as _json
    import re as _re

    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = x * w
    y.label = "y"
    page = Player(y, inputs=[x], forward=True, lr=0.5).html
    steps = _json.loads(_re.search(r"const STEPS = (\[.*?\]);\n", page).group(1))
    assert [s["phase"] for s in steps] == ["forward", "backward", "backward", "update"]
    assert steps[0]["rule"] == "y = x · w, that is 2 · -3 = -6"
    update = steps[-1]
    assert update["data"] == -3.0 - 0.5 * 2.0  # w.grad = x = 2
    assert update["rule"] == "w.data −= lr · w.grad: -3 − 0.5 × 2 = -4"
    with pytest.raises(ValueError, match="lr"):
        Player(y, lr=-1.0)
    with pytest.raises(TypeError, match="forward"):
        Player(y, forward=1)


def test_describe_never_prints_minus_zero():
    """A dead ReLU's step adds 0 × a negative gradient: described as 0, not -0."""
    from autograd_lite import relu

    x = Value(-1.0, label="x")
    y = relu(x) * -3.0
    text = "\n".join(step.describe() for step in backward_steps(y))
    assert "x.grad += 0 * -3 = 0" in text
    assert not re.search(r"(?<![\w.])-0(?![.\d])", text)


@needs_dot
def test_page_carries_explains_paths_for_every_leaf():
    """Each leaf's panel data are explain()'s largest paths: factors, rules and products."""
    from autograd_lite.diagnostics import explain

    o, leaves = micrograd_neuron()
    ids = node_ids(o)
    x1 = leaves[0]
    data = embedded(player_html(o, path_of=x1), "PATHS")
    assert data["selected"] == ids[x1]
    grad_leaves = [n for n in topological_order(o, requires_grad_only=True) if not n.parents]
    assert set(data["leaves"]) == {ids[n] for n in grad_leaves}
    for leaf in grad_leaves:
        found = explain(o, leaf)
        entry = data["leaves"][ids[leaf]]
        assert entry["total"] == found.total and entry["count"] == found.n_paths
        for shown, path in zip(entry["paths"], found.paths):
            assert shown["product"] == path.product
            assert [f["factor"] for f in shown["factors"]] == list(path.factors)
            assert [f["node"] for f in shown["factors"]] == [ids[n] for n in path.nodes[:-1]]
            assert all(f["rule"].startswith("∂") for f in shown["factors"])


@needs_dot
def test_path_of_must_be_a_leaf_of_the_graph():
    """path_of that is not a Value, or not a leaf taking gradients, is refused clearly."""
    o, _ = micrograd_neuron()
    with pytest.raises(TypeError, match="path_of must be a Value"):
        Player(o, path_of=1.0)
    with pytest.raises(ValueError, match="path_of must be a leaf"):
        Player(o, path_of=o)


# --------------------------------------------------------------------------------------
# model_player: a GPT one module at a time
# --------------------------------------------------------------------------------------


@needs_dot
def test_model_player_ends_with_backwards_gradient_norms_per_module():
    """A GPT's module steps end with each module's output-gradient norm that backward() gives."""
    from autograd_lite.nn import GPT
    from autograd_lite.viz import model_player
    from autograd_lite.viz.graph import group_ids_of, token_model_forward

    model = GPT(7, 8, n_embd=8, n_head=2, n_layer=2, seed=0)
    tokens = [0, 3, 5, 2, 6]
    page = model_player(model, tokens).html
    steps = embedded(page, "STEPS")
    nodes = embedded(page, "NODES")
    assert len(steps) == len(nodes) + 1  # the seed, then one step per module
    assert all(p.grad == 0.0 for p in model.parameters())  # nothing touched
    (loss,), groups = token_model_forward(model, tokens)
    loss.backward()
    ids = group_ids_of(groups.values())
    inside = {}
    for node in topological_order(loss):
        for parent in node.parents:
            if parent in groups and groups[parent] != groups.get(node):
                inside.setdefault(groups[parent], set()).add(parent)
    final = {}
    for step in steps[1:]:
        for c in step["contributions"]:
            final[c["parent"]] = c["after"]
    for key, outputs in inside.items():
        expected = math.sqrt(math.fsum(n.grad**2 for n in outputs))
        assert final[ids[key]] == pytest.approx(expected, rel=1e-9, abs=1e-15), key
    assert {c["label"] for s in steps for c in s["contributions"]} >= {"blocks[1] / + attn"}


def test_model_player_refuses_what_it_cannot_play():
    """An MLP, or a single token (no next-token loss), gets a clear error."""
    from autograd_lite.nn import GPT, MLP
    from autograd_lite.viz import model_player

    with pytest.raises(TypeError, match="language model"):
        model_player(MLP(2, [2, 1], seed=0), [1, 2])
    with pytest.raises(ValueError, match="at least two tokens"):
        model_player(GPT(5, 4, n_embd=4, n_head=1, n_layer=1, seed=0), [1])


def test_player_refusal_points_a_gpt_to_model_player():
    """Player on a GPT's loss (too many nodes) says to use model_player."""
    from autograd_lite.losses import cross_entropy
    from autograd_lite.nn import GPT

    model = GPT(5, 4, n_embd=8, n_head=2, n_layer=1, seed=0)
    loss = cross_entropy(model([1, 2, 3])[0], 2)
    with pytest.raises(ValueError, match=r"model_player\(model, tokens\)"):
        Player(loss)
