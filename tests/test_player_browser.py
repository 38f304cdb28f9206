"""The backward-pass player page in a real browser (headless Chromium via playwright).

Each test loads the page from a file:// URL, drives the controls, and reads the DOM:
the step shown and every gradient must be those of ``backward_steps``, the end of the
pass must hold what ``backward()`` gives, and the page must log no errors and fetch
nothing. Skipped when playwright or /usr/bin/chromium is missing, unless
``AUTOGRAD_LITE_REQUIRE_BROWSER=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from autograd_lite import Value, relu, tanh, topological_order
from autograd_lite.viz.graph import node_ids
from autograd_lite.viz.player import backward_steps, player_html

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
REQUIRE_BROWSER_ENV = "AUTOGRAD_LITE_REQUIRE_BROWSER"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{REQUIRE_BROWSER_ENV}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    if shutil.which("dot") is None:
        _unavailable("the Graphviz dot program is missing")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def example():
    """Reuse (x thrice), a constant and a dead ReLU: o = tanh(x*w + b) * x + relu(-x)."""
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    o = tanh(x * w + b) * x + relu(x * -1.0)
    o.label = "o"
    return o


@pytest.fixture()
def open_player(browser, tmp_path):
    """Write the player for a root, open it, and check for console errors and requests after."""
    pages = []

    def open_(root, **options):
        path = tmp_path / "player.html"
        player_html(root, path, **options)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        problems = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: r.url.startswith("file://") or problems.append(f"fetched {r.url}"),
        )
        page.goto(path.as_uri())
        pages.append((page, problems))
        return page

    yield open_
    for page, problems in pages:
        page.close()
        assert problems == []


# Everything the page shows about the current step, read in one round trip.
SNAPSHOT = """() => {
  const info = document.getElementById("step-info");
  const grads = {};
  for (const row of document.querySelectorAll("#grads tbody tr")) {
    grads[row.dataset.nodeId] = row.querySelector("td.grad").dataset.value;
  }
  const current = document.getElementById(info.dataset.nodeId);
  return {
    step: info.dataset.step,
    nodeId: info.dataset.nodeId,
    node: document.getElementById("step-node").textContent,
    grad: document.getElementById("step-grad").dataset.value,
    contributions: [...document.querySelectorAll("li.contribution")].map(i => ({...i.dataset})),
    grads: grads,
    highlighted: current !== null && current.classList.contains("current"),
    position: document.getElementById("position").textContent,
  };
}"""


def assert_page_shows(page, step, ids) -> dict:
    """The page shows ``step``: its node, its grad, its contributions and every grad so far."""
    shown = page.evaluate(SNAPSHOT)
    assert shown["step"] == str(step.index)
    assert shown["nodeId"] == step.node_id
    assert shown["node"] == step.name
    assert float(shown["grad"]) == step.grad
    assert [
        (i["parentId"], int(i["argument"]), float(i["local"]), float(i["added"]), float(i["after"]))
        for i in shown["contributions"]
    ] == [
        (c.parent_id, c.argument, c.local_derivative, c.added, c.grad_after)
        for c in step.contributions
    ]
    expected = {ids[node]: grad for node, grad in step.grads.items()}
    for node_id, text in shown["grads"].items():
        if node_id in expected:
            assert float(text) == expected[node_id], node_id
        else:
            assert text == "", node_id
    assert shown["highlighted"]
    return shown


def test_slider_shows_each_step_and_its_gradients(open_player):
    """Moving the slider to step k shows step k's node and exactly backward_steps' grads."""
    root = example()
    steps = list(backward_steps(root))
    ids = node_ids(root)
    page = open_player(root)
    assert_page_shows(page, steps[0], ids)
    for k in (3, len(steps) - 1, 1, 5):
        page.eval_on_selector(
            "#slider", "(s, k) => { s.value = k; s.dispatchEvent(new Event('input')); }", k
        )
        shown = assert_page_shows(page, steps[k], ids)
        assert shown["position"] == f"{k} / {len(steps) - 1}"


def test_next_and_back_buttons_walk_the_steps(open_player):
    """Clicking next k times shows step k; back returns; the ends disable the buttons."""
    root = example()
    steps = list(backward_steps(root))
    ids = node_ids(root)
    page = open_player(root)
    assert page.is_disabled("#prev")
    for k in range(1, len(steps)):
        page.click("#next")
        assert_page_shows(page, steps[k], ids)
    assert page.is_disabled("#next")
    page.click("#prev")
    page.click("#prev")
    assert_page_shows(page, steps[-3], ids)
    page.keyboard.press("ArrowRight")
    assert_page_shows(page, steps[-2], ids)


def test_play_runs_to_the_end_where_grads_equal_backward(open_player):
    """Play advances by itself and stops at the last step, which shows backward()'s grads."""
    root = example()
    page = open_player(root, interval_ms=15)
    last = len(list(backward_steps(root))) - 1
    page.click("#play")
    page.wait_for_function(
        f"document.getElementById('step-info').dataset.step === '{last}'", timeout=10_000
    )
    assert page.is_disabled("#pause") and not page.is_disabled("#play")
    root.backward()
    ids = node_ids(root)
    shown = page.evaluate(SNAPSHOT)["grads"]
    for node in topological_order(root, requires_grad_only=True):
        assert float(shown[ids[node]]) == node.grad
    # The drawing's own "grad" text was rewritten too.
    x = next(n for n in topological_order(root) if n.label == "x")
    svg_text = page.eval_on_selector(
        f"[id='{ids[x]}']",
        "g => [...g.querySelectorAll('text')].map(t => t.textContent).join(' ')",
    )
    assert f"grad {x.grad:.4f}" in svg_text


def test_pause_stops_playing(open_player):
    """After pause the step no longer changes."""
    root = example()
    page = open_player(root, interval_ms=200)
    page.click("#play")
    page.wait_for_function("document.getElementById('step-info').dataset.step !== '0'")
    page.click("#pause")
    stopped = page.get_attribute("#step-info", "data-step")
    page.wait_for_timeout(600)
    assert page.get_attribute("#step-info", "data-step") == stopped
    assert int(stopped) < len(list(backward_steps(root))) - 1


def test_contribution_edges_are_highlighted(open_player):
    """At a step, the edges into the current operation carry the 'flow' class."""
    root = example()
    steps = list(backward_steps(root))
    page = open_player(root)
    page.click("#next")
    step = steps[1]
    for c in step.contributions:
        edge_id = f"{step.node_id}_op-{c.argument}"
        assert page.eval_on_selector(f"[id='{edge_id}']", "e => e.classList.contains('flow')")


def _boxes(page) -> dict:
    """Screen boxes of the page's parts, and of every drawn node within the drawing.

    Nodes are measured from the drawing's corner: the pane may scroll to follow the
    current node, but the drawing itself must not change.
    """
    return page.evaluate(
        """() => {
          const box = (el, origin) => { const r = el.getBoundingClientRect();
                              return [r.x - origin.x, r.y - origin.y, r.width, r.height]
                                .map(v => Math.round(v)); };
          const screen = {x: 0, y: 0};
          const out = {};
          for (const id of ["graph", "step-info", "controls", "grads"]) {
            out[id] = box(document.getElementById(id), screen);
          }
          const drawing = document.querySelector("#graph svg").getBoundingClientRect();
          for (const g of document.querySelectorAll("#graph g.node")) out[g.id] = box(g, drawing);
          return out;
        }"""
    )


@pytest.mark.parametrize("width", [640, 1280])
def test_the_layout_never_moves_between_steps(browser, tmp_path, width):
    """At notebook and desktop widths, every box and drawn node stays put from step to step."""
    root = example()
    path = tmp_path / "player.html"
    player_html(root, path)
    page = browser.new_page(viewport={"width": width, "height": 600})
    page.goto(path.as_uri())
    first = _boxes(page)
    last = int(page.get_attribute("#slider", "max"))
    for _ in range(last):
        page.click("#next")
        assert _boxes(page) == first
    page.close()


def test_the_page_shows_each_steps_rule(open_player):
    """The rule of every step (∂o/∂n = 1 − o² = ...) is on the page beside the numbers."""
    root = example()
    steps = list(backward_steps(root))
    page = open_player(root)
    for k, step in enumerate(steps):
        if k:
            page.click("#next")
        rule = page.eval_on_selector("#step-rule", "e => e.dataset.rule")
        assert rule == step.rule
        shown = page.eval_on_selector_all(
            "li.contribution", "items => items.map(i => i.textContent)"
        )
        for text, c in zip(shown, step.contributions):
            assert text.startswith(c.rule.split(": dead")[0])
    tanh_step = next(s for s in steps if s.op == "tanh")
    assert "1 − " in tanh_step.rule and "²" in tanh_step.rule


def test_speed_control_changes_the_pace(open_player):
    """At 4× the player reaches the end in a quarter of the time it takes at 1×."""
    root = example()
    page = open_player(root, interval_ms=400)
    page.select_option("#speed", "4")
    last = len(list(backward_steps(root))) - 1
    page.click("#play")
    page.wait_for_function(
        f"document.getElementById('step-info').dataset.step === '{last}'",
        timeout=last * 400 * 0.9,
    )


def lecture_mlp():
    """Notebook 02's network: MLP(2, [3, 1], seed=0) on x = (1, -2), unit 0 a dead ReLU."""
    from autograd_lite.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    for i, neuron in enumerate(model.layers[0].neurons):
        for j, weight in enumerate(neuron.w):
            weight.label = f"w{i}{j}"
        neuron.b.label = f"b{i}"
    x = [Value(1.0, label="x0"), Value(-2.0, label="x1")]
    out = model(x)
    out.label = "out"
    loss = (out - 1.0) ** 2
    loss.label = "loss"
    return model, x, loss


def _open_lecture_page(browser, tmp_path, width, **options):
    """Notebook 02's training-step player, opened at ``width`` × 620 (its frame's height)."""
    model, x, loss = lecture_mlp()
    path = tmp_path / "player.html"
    player_html(loss, path, model=model, forward=True, lr=0.1, **options)
    page = browser.new_page(viewport={"width": width, "height": 620})
    page.goto(path.as_uri())
    return page, model, x, loss


# Whether the current node lies wholly inside the drawing's visible pane and the window,
# and whether the step text overflows its box or any of its lines falls outside it.
VIEW_CHECK = """() => {
  const info = document.getElementById("step-info");
  const pane = document.getElementById("graph");
  const p = pane.getBoundingClientRect();
  const left = Math.max(p.left + pane.clientLeft, 0);
  const top = Math.max(p.top + pane.clientTop, 0);
  const right = Math.min(p.left + pane.clientLeft + pane.clientWidth, window.innerWidth);
  const bottom = Math.min(p.top + pane.clientTop + pane.clientHeight, window.innerHeight);
  const r = document.getElementById(info.dataset.nodeId).getBoundingClientRect();
  const inView = r.left >= left - 0.5 && r.right <= right + 0.5 &&
                 r.top >= top - 0.5 && r.bottom <= bottom + 0.5;
  const box = info.getBoundingClientRect();
  const lines = [...info.querySelectorAll("li, div")];
  const cut = info.scrollHeight > info.clientHeight + 0.5 ||
    lines.some(el => { const b = el.getBoundingClientRect();
                       return b.bottom > box.bottom + 0.5 || b.right > box.right + 0.5; });
  return {inView, cut, lines: lines.length};
}"""


@pytest.mark.parametrize("width", [640, 1280])
def test_the_view_follows_the_current_node(browser, tmp_path, width):
    """Notebook 02's training step: at 640 and 1280 px no step's node is outside the view."""
    page, *_ = _open_lecture_page(browser, tmp_path, width)
    last = int(page.get_attribute("#slider", "max"))
    outside = []
    for k in range(last + 1):
        if k:
            page.click("#next")
        if not page.evaluate(VIEW_CHECK)["inView"]:
            outside.append(k)
    page.close()
    assert last == 25
    assert outside == []


@pytest.mark.parametrize("width", [640, 1280])
def test_no_step_text_is_cut(browser, tmp_path, width):
    """Notebook 02's training step: every line of every step's text is inside its box."""
    page, *_ = _open_lecture_page(browser, tmp_path, width)
    last = int(page.get_attribute("#slider", "max"))
    cut = []
    most = 0
    for k in range(last + 1):
        if k:
            page.click("#next")
        seen = page.evaluate(VIEW_CHECK)
        most = max(most, page.eval_on_selector_all("li.contribution", "items => items.length"))
        if seen["cut"]:
            cut.append(k)
    page.close()
    assert most == 7  # the output neuron's step: 3 weights, 3 hidden units and a bias
    assert cut == []


# The dead unit's operation: its classes, whether its "dead" text shows, and its fill.
DEAD_OP = """id => {
  const g = document.getElementById(id);
  const text = [...g.querySelectorAll("text")].find(t => t.textContent === "dead");
  return {visible: getComputedStyle(text).visibility === "visible",
          fill: getComputedStyle(g.querySelector("ellipse")).fill};
}"""


def test_a_dead_relu_is_marked_dead_only_from_its_forward_step(browser, tmp_path):
    """Before the forward pass computes relu(x·(−1)), its operation looks like any other."""
    root = example()
    path = tmp_path / "player.html"
    player_html(root, path, forward=True)
    page = browser.new_page(viewport={"width": 1280, "height": 620})
    page.goto(path.as_uri())
    ids = node_ids(root)
    forward = [n for n in topological_order(root) if n.parents]
    (unit,) = [n for n in forward if n.op == "relu"]
    assert unit.data == 0.0 and forward.index(unit) > 0
    op_id = ids[unit] + "_op"
    for k in range(forward.index(unit)):
        assert page.get_attribute("#step-info", "data-step") == str(k)
        assert page.evaluate(DEAD_OP, op_id) == {"visible": False, "fill": "rgb(255, 255, 255)"}
        page.click("#next")
    assert page.get_attribute("#step-info", "data-node-id") == ids[unit]
    after = page.evaluate(DEAD_OP, op_id)
    assert after == {"visible": True, "fill": "rgb(252, 187, 161)"}  # #fcbba1
    page.close()


PATH_PANEL = """() => ({
  leaf: document.getElementById("path-panel").dataset.leaf,
  products: [...document.querySelectorAll("#paths li.path")].map(li => li.dataset.product),
  unknown: document.querySelectorAll("#paths .factor.unknown").length,
  factors: document.querySelectorAll("#paths .factor").length,
  total: document.getElementById("path-total").dataset.total,
  text: document.getElementById("path-panel").textContent,
})"""


def test_the_path_panel_shows_explains_products_and_their_sum(browser, tmp_path):
    """x0's three paths: explain()'s products, filled in by the backward pass, sum to x0.grad."""
    from autograd_lite.diagnostics import explain

    model, x, loss = lecture_mlp()
    path = tmp_path / "player.html"
    player_html(loss, path, model=model, forward=True, lr=0.1, path_of=x[0])
    page = browser.new_page(viewport={"width": 1280, "height": 620})
    page.goto(path.as_uri())
    ids = node_ids(loss)
    found = explain(loss, x[0])
    panel = page.evaluate(PATH_PANEL)
    assert panel["leaf"] == ids[x[0]]
    assert [float(p) for p in panel["products"]] == [p.product for p in found.paths]
    assert panel["unknown"] == panel["factors"] == sum(len(p.factors) for p in found.paths)
    last = int(page.get_attribute("#slider", "max"))
    page.eval_on_selector(
        "#slider", "(s, k) => { s.value = k; s.dispatchEvent(new Event('input')); }", last
    )
    panel = page.evaluate(PATH_PANEL)
    assert panel["unknown"] == 0
    loss.backward()
    assert float(panel["total"]) == pytest.approx(x[0].grad, rel=1e-12)
    assert "sum of the 3 paths" in panel["text"] and "x0.grad" in panel["text"]
    page.click(f"[id='{ids[x[1]]}']")  # another leaf, chosen on the drawing
    assert page.evaluate(PATH_PANEL)["leaf"] == ids[x[1]]
    page.close()


@pytest.mark.parametrize("width", [640, 1280])
def test_a_gpt_plays_module_by_module_in_view(browser, tmp_path, width):
    """model_player on notebook 12's GPT: every module step is in view, no text is cut."""
    from autograd_lite.nn import GPT
    from autograd_lite.viz import model_player

    model = GPT(27, 16, n_embd=16, n_head=4, n_layer=1, seed=0)
    path = model_player(model, [0, 5, 12, 12, 1, 0, 3, 9]).save(tmp_path / "gpt.html")
    page = browser.new_page(viewport={"width": width, "height": 700})
    page.goto(path.as_uri())
    last = int(page.get_attribute("#slider", "max"))
    problems = []
    for k in range(last + 1):
        if k:
            page.click("#next")
        seen = page.evaluate(VIEW_CHECK)
        if not seen["inView"] or seen["cut"]:
            problems.append((k, seen))
    page.close()
    assert last == 11  # the loss, then 11 modules down to the embeddings
    assert problems == []
