"""Watch backpropagation one node at a time.

``backward_steps(root)`` replays ``root.backward()`` as a sequence of :class:`Step`\\ s,
in the order ``backward()`` itself uses (``reversed(topological_order(root,
requires_grad_only=True))``), computing into a dictionary so that the real ``.grad`` of
the graph is left alone unless ``apply=True`` is asked for.

* Step 0 is the seed: ``d(root)/d(root) = 1``.
* Each later step takes one operation's result ``node`` (its gradient is final by then,
  because every node that uses it came earlier) and applies the chain rule to each of
  its inputs that takes gradients: ``parent.grad += local_derivative * node.grad``.
  Leaves have nothing to pass on and get no step of their own.
* ``step.grads`` holds every gradient known after the step: those of nodes not yet
  reached are absent. The gradients are those of this one pass, starting from zero;
  with ``apply=True`` the real ``.grad`` are updated exactly as ``backward()`` does
  (interior nodes reset, leaves accumulate onto what they held). Each step keeps its own
  copy, so memory grows as steps × nodes: meant for graphs small enough to look at.

``player_html(root)`` turns the steps into a self-contained HTML page (the graph as inline
SVG, inline CSS and JavaScript, nothing fetched from the network) with play, pause,
step and a slider; :class:`Player` shows the same page inside Jupyter.

Page elements have stable ids for scripts and tests: ``#play``, ``#pause``, ``#next``,
``#prev``, ``#slider``, ``#position``, ``#step-info`` (with ``data-step`` and
``data-node-id``), one ``li.contribution`` per input updated, and a table ``#grads``
whose rows ``#grad-<node id>`` hold each gradient in ``data-value`` (empty until the node
is reached). Numbers in ``data-*`` attributes are exact (shortest round-trip form); the
visible text is rounded. SVG nodes carry the ids of :func:`~autograd_lite.viz.graph.node_ids`.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from autograd_lite.diagnostics.explain import explain
from autograd_lite.engine import Value, topological_order
from autograd_lite.viz.graph import (
    _as_float,
    _is_dead_relu,
    _pipe,
    count_drawn_nodes,
    draw_graph,
    node_ids,
    node_names,
    write_atomically,
)
from autograd_lite.viz.rules import equation, rule_text, short_number

__all__ = ["Contribution", "Player", "Step", "backward_steps", "model_player", "player_html"]


@dataclass(frozen=True)
class Contribution:
    """What one step adds to one input: ``added = local_derivative * node's grad``."""

    parent: Value
    parent_id: str
    argument: int
    local_derivative: float
    added: float
    grad_after: float
    name: str = ""
    """The input's visible name (as on the drawing)."""
    rule: str = ""
    """The local-derivative rule with names and numbers, e.g. ``∂o/∂n = 1 − o² = 0.5``."""


@dataclass(frozen=True)
class Step:
    """One step of the backward pass: the node processed and what it gave its inputs.

    ``grads`` maps every node reached so far to its gradient after this step.
    """

    index: int
    node: Value
    node_id: str
    label: str
    op: str
    data: float
    grad: float
    contributions: tuple[Contribution, ...]
    grads: Mapping[Value, float]
    name: str = ""
    """The node's visible name: its label, module path, ``x[i]`` or id (as on the drawing)."""
    rule: str = ""
    """How the node was computed and the rule for each input, e.g.
    ``o = tanh(n): ∂o/∂n = 1 − o² = 0.5`` (the seed: ``∂L/∂L = 1``)."""

    @property
    def is_seed(self) -> bool:
        """True for step 0, which only sets d(root)/d(root) = 1."""
        return self.index == 0

    def describe(self) -> str:
        """The rule, then one line per change, e.g. ``x.grad += -3 * 0.5 = -1.5 (now -1.5)``."""
        name = self.name or self.label or self.node_id
        if self.is_seed:
            return f"step 0: seed d({name})/d({name}) = {self.grad:g}"
        lines = [f"step {self.index}: {name} ({self.op}), grad {self.grad:.6g}"]
        for c in self.contributions:
            lines.append(f"  {c.rule}")
            # + 0.0 turns -0.0 into 0.0, so a blocked product never prints as "-0".
            lines.append(
                f"  {c.name or c.parent_id}.grad += {c.local_derivative + 0.0:.6g} * "
                f"{self.grad + 0.0:.6g} = {c.added + 0.0:.6g}  (now {c.grad_after + 0.0:.6g})"
            )
        return "\n".join(lines)


def _has_custom_backward(node: Value) -> bool:
    # micrograd-style code may assign node._backward a closure; it cannot be replayed.
    return node._backward != node.backward_step


def backward_steps(
    root: Value,
    *,
    apply: bool = False,
    model: Any = None,
    inputs: Iterable[Value] = (),
) -> Iterator[Step]:
    """Yield the steps of ``root.backward()`` one node at a time (see the module docstring).

    With ``apply=True`` each step is also applied to the real ``.grad``, so that after the
    last step the graph holds exactly what ``root.backward()`` would have left. ``model``
    (an ``nn.Module``) names its parameters by module path in ``Step.name``,
    ``Contribution.name`` and the rules; ``inputs`` names unlabelled inputs ``x[i]``.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps() expected a Value, got {type(root).__name__}")
    if not root.requires_grad:
        raise ValueError(
            "backward_steps() needs a root that requires grad; this Value is a constant "
            "(built from constants or inside no_grad()), so nothing would flow back"
        )
    order = topological_order(root, requires_grad_only=True)
    for node in order:
        if node.parents and (node.local_derivatives is None or _has_custom_backward(node)):
            raise ValueError(
                f"cannot replay the backward step of a hand-built node (op {node.op!r}) whose "
                "_backward is a Python function; define the operation with primitive()"
            )
    ids = node_ids(root)
    names = node_names(root, model=model, inputs=inputs)
    return _steps(root, order, ids, names, apply)


def _steps(
    root: Value, order: list[Value], ids: dict[Value, str], names: dict[Value, str], apply: bool
) -> Iterator[Step]:
    grads: dict[Value, float] = {root: 1.0}
    if apply:
        for node in order:
            if node.parents:
                node.grad = 0.0
        root.grad += 1.0
    seed_rule = f"∂{names[root]}/∂{names[root]} = 1"
    yield _make_step(0, root, ids, names, (), grads, seed_rule)
    index = 0
    for node in reversed(order):
        if not node.parents:
            continue
        index += 1
        grad = grads.get(node, 0.0)
        contributions = []
        parent_names = [names[p] for p in node.parents]
        for argument, (parent, local) in enumerate(zip(node.parents, node.local_derivatives)):
            if not parent.requires_grad:
                continue
            local_float = _as_float(local)
            added = local_float * grad
            grads[parent] = grads.get(parent, 0.0) + added
            if apply:
                parent.grad += added
            rule = rule_text(node, argument, names[node], parent_names, local_float)
            contributions.append(
                Contribution(
                    parent,
                    ids[parent],
                    argument,
                    local_float,
                    added,
                    grads[parent],
                    name=names[parent],
                    rule=rule,
                )
            )
        rule = equation(node, names[node], parent_names)
        if contributions:
            rule += ": " + "; ".join(c.rule for c in contributions)
        yield _make_step(index, node, ids, names, tuple(contributions), grads, rule)


def _make_step(
    index: int,
    node: Value,
    ids: dict[Value, str],
    names: dict[Value, str],
    contributions: tuple[Contribution, ...],
    grads: dict[Value, float],
    rule: str,
) -> Step:
    return Step(
        index=index,
        node=node,
        node_id=ids[node],
        label=node.label,
        op=node.op,
        data=node.data,
        grad=grads.get(node, 0.0),
        contributions=contributions,
        grads=MappingProxyType(dict(grads)),
        name=names[node],
        rule=rule,
    )


# --------------------------------------------------------------------------------------
# The HTML page
# --------------------------------------------------------------------------------------

_TEMPLATE = Path(__file__).with_name("player.html")
_PLACEHOLDER = re.compile(r"__([A-Z_]+)__")


def _number(x: float) -> float | str:
    """A JSON-safe number: JSON has no inf or nan, so those travel as strings."""
    return x if math.isfinite(x) else repr(x)


def _script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element (no ``</script>`` can appear)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _svg(
    root: Value, max_nodes: int, rankdir: str, names: dict[Value, str], model: Any, inputs: Any
) -> str:
    # The player steps through single nodes, so collapsing (draw_graph's advice) cannot help.
    drawn = count_drawn_nodes(topological_order(root))
    if drawn > max_nodes:
        raise ValueError(
            f"the player would draw {drawn} nodes, more than max_nodes={max_nodes}: step "
            f"through a smaller graph (one sample, fewer units), pass max_nodes={drawn}, or, "
            "for a language model (nn.GPT), play it one module at a time with "
            "model_player(model, tokens)"
        )
    digraph = draw_graph(
        root,
        rankdir=rankdir,
        max_nodes=max_nodes,
        max_size=10**6,  # the page scrolls the drawing; the node count is the limit here
        edge_weight=None,
        show_grad=True,
        model=model,
        inputs=inputs,
        names=names,
        title="",
        legend=False,  # the page has its own key
        stack_records=True,
    )
    digraph.attr(bgcolor="transparent")
    svg = _pipe(digraph, "svg").decode("utf-8")
    return svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG is inline


_SVG_ID = re.compile(r'(<[^>]*\sid=")')


def _layouts(
    root: Value, max_nodes: int, rankdir: str, names: dict[Value, str], model: Any, inputs: Any
) -> tuple[str, str]:
    """The drawing in ``rankdir`` and, for the page to choose from, top to bottom.

    The second drawing's element ids get a ``tb-`` prefix (ids must be unique in a page);
    the page strips it from whichever drawing it keeps. ``""`` when only one is needed.
    """
    first = _svg(root, max_nodes, rankdir, names, model, inputs)
    if rankdir != "LR":
        return first, ""
    second = _svg(root, max_nodes, "TB", names, model, inputs)
    return first, _SVG_ID.sub(lambda m: m.group(1) + "tb-", second)


def player_html(
    root: Value,
    path: str | os.PathLike[str] | None = None,
    *,
    interval_ms: int = 800,
    max_nodes: int = 500,
    rankdir: str = "LR",
    title: str = "Backward pass",
    model: Any = None,
    inputs: Iterable[Value] = (),
    forward: bool = False,
    lr: float | None = None,
    path_of: Value | None = None,
) -> str:
    """A self-contained HTML page that plays ``root``'s backward pass; written to ``path`` if given.

    The real gradients are not changed. See :class:`Player` for the options.
    """
    page = Player(
        root,
        interval_ms=interval_ms,
        max_nodes=max_nodes,
        rankdir=rankdir,
        title=title,
        model=model,
        inputs=inputs,
        forward=forward,
        lr=lr,
        path_of=path_of,
    ).html
    if path is not None:
        write_atomically(Path(path), page.encode("utf-8"))
    return page


def _forward_phase(order: list[Value], names: dict[Value, str], ids: dict[Value, str]) -> list:
    """One page step per operation, in the order the forward pass computes them."""
    steps = []
    for node in order:
        if not node.parents:
            continue
        formula = equation(node, names[node], [names[p] for p in node.parents])
        numbers = equation(node, names[node], [short_number(p.data) for p in node.parents])
        steps.append(
            {
                "phase": "forward",
                "node": ids[node],
                "data": _number(node.data),
                "rule": (
                    f"{formula}, that is {numbers.split(' = ', 1)[1]} = {short_number(node.data)}"
                ),
            }
        )
    return steps


def _update_phase(
    parameters: list[Value],
    grads: Mapping[Value, float],
    names: dict[Value, str],
    ids: dict[Value, str],
    lr: float,
) -> list:
    """One page step per parameter: gradient descent, ``p.data -= lr · p.grad``."""
    steps = []
    for p in parameters:
        grad = grads.get(p, 0.0)
        after = p.data - lr * grad
        steps.append(
            {
                "phase": "update",
                "node": ids[p],
                "data": _number(after),
                "grad": _number(grad),
                "rule": (
                    f"{names[p]}.data −= lr · {names[p]}.grad: "
                    f"{short_number(p.data)} − {short_number(lr)} × {short_number(grad)} = "
                    f"{short_number(after)}"
                ),
            }
        )
    return steps


# Paths listed per leaf in the panel: the largest few carry the lesson; the total is exact.
_PATHS_SHOWN = 4


def _paths_of_leaves(
    root: Value,
    leaves: list[Value],
    names: dict[Value, str],
    ids: dict[Value, str],
    selected: Value | None,
) -> dict[str, Any]:
    """For each leaf, ``explain(root, leaf, top=4)`` as page data: factors, rules, products."""
    by_leaf = {}
    for leaf in leaves:
        found = explain(root, leaf, top=_PATHS_SHOWN)
        by_leaf[ids[leaf]] = {
            "total": _number(found.total),
            "count": found.n_paths,
            "paths": [
                {
                    "product": _number(path.product),
                    "factors": [
                        {
                            "node": ids[node],
                            "factor": _number(factor),
                            "rule": rule_text(
                                node,
                                argument,
                                names[node],
                                [names[p] for p in node.parents],
                                factor,
                            ),
                        }
                        for node, factor, argument in zip(path.nodes, path.factors, path.arguments)
                    ],
                }
                for path in found.paths
            ],
        }
    first = ids[selected] if selected is not None else (ids[leaves[0]] if leaves else "")
    return {"selected": first, "leaves": by_leaf}


def _page(
    root: Value,
    steps: list[Step],
    svg: tuple[str, str],
    interval_ms: int,
    title: str,
    names: dict[Value, str],
    extra_before: list,
    extra_after: list,
    paths: dict[str, Any],
) -> str:
    ids = node_ids(root)
    nodes = [
        {
            "id": ids[n],
            "label": names[n],
            "op": n.op,
            "data": _number(n.data),
            "leaf": not n.parents,
            "dead": _is_dead_relu(n),
        }
        for n in topological_order(root, requires_grad_only=True)
    ]
    step_data = [
        {
            "phase": "backward",
            "node": s.node_id,
            "label": s.name,
            "op": s.op,
            "data": _number(s.data),
            "grad": _number(s.grad),
            "rule": s.rule,
            "blocked": any("dead ReLU" in c.rule for c in s.contributions),
            "contributions": [
                {
                    "parent": c.parent_id,
                    "label": c.name,
                    "argument": c.argument,
                    "local": _number(c.local_derivative),
                    "added": _number(c.added),
                    "after": _number(c.grad_after),
                    "rule": c.rule,
                }
                for c in s.contributions
            ],
        }
        for s in steps
    ]
    all_steps = extra_before + step_data + extra_after
    return _fill(svg[0], svg[1], nodes, all_steps, paths, interval_ms, title)


def _fill(
    svg: str,
    svg_tb: str,
    nodes: list,
    all_steps: list,
    paths: dict[str, Any],
    interval_ms: int,
    title: str,
) -> str:
    """The page template with its drawing(s), nodes, steps and paths filled in."""
    fields = {
        "TITLE": html.escape(title),
        "LAST_STEP": str(len(all_steps) - 1),
        "SVG": svg,
        "SVG_TB": svg_tb,
        "NODES": _script_json(nodes),
        "STEPS": _script_json(all_steps),
        "PATHS": _script_json(paths),
        "INTERVAL": str(interval_ms),
    }
    # One pass over the template, so text inserted (a label in the SVG) is never rescanned.
    return _PLACEHOLDER.sub(
        lambda m: fields.get(m.group(1), m.group(0)), _TEMPLATE.read_text(encoding="utf-8")
    )


class Player:
    """The backward-pass player for Jupyter: displays itself; ``save(path)`` writes the page.

    ``.steps`` are the :func:`backward_steps`, ``.html`` the page; ``height`` is the height
    of the frame shown in the notebook, ``interval_ms`` the delay between steps while
    playing (the page has a speed control too), ``max_nodes`` and ``rankdir`` go to
    :func:`draw_graph`. ``model`` names the parameters by module path and ``inputs`` the
    unlabelled inputs ``x[i]``. ``forward=True`` plays the forward pass first, one
    operation at a time; ``lr=0.1`` adds the update ``p.data -= lr · p.grad`` of every
    parameter at the end (the parameters of ``model``, or every leaf that takes gradients
    and is not in ``inputs``), so the page plays a whole training step. The real data
    and gradients are not changed.

    The "paths" panel shows, for one leaf (``path_of``, else the first leaf; click any
    leaf of the drawing or the table to choose another), the largest paths from the
    output back to it as :func:`~autograd_lite.diagnostics.explain` finds them: each a
    product of local derivatives, filled in as the backward pass reaches each factor,
    and their sum, which is the leaf's gradient.

    >>> Player(loss, model=model)            # in a notebook cell  # doctest: +SKIP
    """

    def __init__(
        self,
        root: Value,
        *,
        height: int = 600,
        interval_ms: int = 800,
        max_nodes: int = 500,
        rankdir: str = "LR",
        title: str = "Backward pass",
        model: Any = None,
        inputs: Iterable[Value] = (),
        forward: bool = False,
        lr: float | None = None,
        path_of: Value | None = None,
    ) -> None:
        if path_of is not None and not isinstance(path_of, Value):
            raise TypeError(f"path_of must be a Value (a leaf), got {type(path_of).__name__}")
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms < 1:
            raise ValueError(f"interval_ms must be a positive int, got {interval_ms!r}")
        if not isinstance(forward, bool):
            raise TypeError(f"forward must be True or False, got {type(forward).__name__}")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
            raise TypeError(f"lr must be a number or None, got {type(lr).__name__}")
        if lr is not None and not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        if not isinstance(root, Value):
            raise TypeError(f"Player() expected a Value, got {type(root).__name__}")
        input_list = list(inputs)
        self.root = root
        self.height = height
        names = node_names(root, model=model, inputs=input_list)
        # First: it refuses graphs too large to show.
        svg = _layouts(root, max_nodes, rankdir, names, model, input_list)
        self.steps = list(backward_steps(root, model=model, inputs=input_list))
        ids = node_ids(root)
        order = topological_order(root, requires_grad_only=True)
        before = _forward_phase(order, names, ids) if forward else []
        after = []
        if lr is not None:
            if model is not None:
                parameters = [p for p in model.parameters() if p in ids]
            else:
                excluded = set(input_list)
                parameters = [n for n in order if not n.parents and n not in excluded]
            after = _update_phase(parameters, self.steps[-1].grads, names, ids, float(lr))
        leaves = [n for n in order if not n.parents]
        if path_of is not None and not any(path_of is leaf for leaf in leaves):
            raise ValueError(
                "path_of must be a leaf of the graph that takes gradients (a parameter or "
                f"an input), got {path_of!r}"
            )
        paths = _paths_of_leaves(root, leaves, names, ids, path_of)
        self.html = _page(root, self.steps, svg, interval_ms, title, names, before, after, paths)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page atomically to ``path`` and return it."""
        target = Path(path)
        write_atomically(target, self.html.encode("utf-8"))
        return target

    def _repr_html_(self) -> str:
        # An iframe keeps the page's script and ids apart from the notebook's own.
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            f'style="width: 100%; height: {int(self.height)}px; border: 0" '
            'sandbox="allow-scripts"></iframe>'
        )

    def __repr__(self) -> str:
        return f"Player({len(self.steps)} steps, root={self.root!r})"


# --------------------------------------------------------------------------------------
# A model too large to play node by node: one step per module
# --------------------------------------------------------------------------------------


def _norm(values: Iterable[float]) -> float:
    return math.sqrt(math.fsum(v * v for v in values))


def _group_dag(
    order: list[Value], groups: Mapping[Value, tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """The groups in an order where every group comes after the groups it reads from."""
    inputs: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for node in order:
        key = groups.get(node)
        if key is None:
            continue
        inputs.setdefault(key, set())
        for parent in node.parents:
            source = groups.get(parent)
            if source is not None and source != key:
                inputs[key].add(source)
    ordered: list[tuple[str, ...]] = []
    done: set[tuple[str, ...]] = set()
    while len(ordered) < len(inputs):
        ready = [k for k in inputs if k not in done and inputs[k] <= done]
        if not ready:
            raise ValueError("the modules read from each other in a circle: cannot play them")
        ordered.extend(ready)
        done.update(ready)
    return ordered


def _module_steps(
    root: Value, groups: Mapping[Value, tuple[str, ...]], ids: Mapping[tuple[str, ...], str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(page nodes, page steps): the backward pass one module at a time, as gradient norms.

    Within a module the chain rule runs node by node as in ``backward()``; a step shows
    the norm of the gradient that reached the module's outputs and, for each module it
    reads from, the norm of what it passed back and of that module's total so far.
    """
    order = topological_order(root, requires_grad_only=True)
    module_order = _group_dag(order, groups)
    members: dict[tuple[str, ...], list[Value]] = {key: [] for key in module_order}
    for node in order:
        if node in groups:
            members[groups[node]].append(node)
    used_outside = {root}
    for node in order:
        for parent in node.parents:
            if parent in groups and groups[parent] != groups.get(node):
                used_outside.add(parent)
    outputs = {key: [n for n in nodes if n in used_outside] for key, nodes in members.items()}
    grads: dict[Value, float] = {root: 1.0}
    page_nodes = [
        {
            "id": ids[key],
            "label": " / ".join(key[1:]) or key[0],
            "op": "",
            "data": _number(_norm(n.data for n in outputs[key])),
            "leaf": False,
            "dead": False,
        }
        for key in module_order
    ]
    root_key = groups[root]
    steps = [_module_seed(root_key, ids)]
    for key in reversed(module_order):
        before = {k: [grads.get(n, 0.0) for n in outputs[k]] for k in module_order}
        for node in reversed(members[key]):
            grad = grads.get(node, 0.0)
            for parent, local in zip(node.parents, node.local_derivatives or ()):
                if parent.requires_grad and parent.parents:
                    grads[parent] = grads.get(parent, 0.0) + _as_float(local) * grad
        steps.append(_module_step(key, outputs, grads, before, ids, members))
    return page_nodes, steps


def _module_seed(key: tuple[str, ...], ids: Mapping[tuple[str, ...], str]) -> dict[str, Any]:
    return {
        "phase": "backward",
        "node": ids[key],
        "label": " / ".join(key),
        "op": "",
        "data": 0.0,
        "grad": 1.0,
        "rule": "∂loss/∂loss = 1",
        "blocked": False,
        "contributions": [],
    }


def _module_step(
    key: tuple[str, ...],
    outputs: Mapping[tuple[str, ...], list[Value]],
    grads: Mapping[Value, float],
    before: Mapping[tuple[str, ...], list[float]],
    ids: Mapping[tuple[str, ...], str],
    members: Mapping[tuple[str, ...], list[Value]],
) -> dict[str, Any]:
    """One module's step: the norm it received and what it passed to each module it reads."""
    received = _norm(grads.get(n, 0.0) for n in outputs[key])
    contributions = []
    for source, previous in before.items():
        now = [grads.get(n, 0.0) for n in outputs[source]]
        if source == key or now == previous:
            continue
        added = _norm(a - b for a, b in zip(now, previous))
        after = _norm(now)
        name = " / ".join(source[1:]) or source[0]
        contributions.append(
            {
                "parent": ids[source],
                "label": name,
                "argument": len(contributions),
                "local": "nan",
                "added": _number(added),
                "after": _number(after),
                "rule": f"‖∂loss/∂{name}‖ += {short_number(added)}",
                "text": f"now ‖∂loss/∂{name}‖ = {short_number(after)}",
            }
        )
    label = " / ".join(key[1:]) or key[0]
    return {
        "phase": "backward",
        "node": ids[key],
        "label": label,
        "op": "",
        "data": 0.0,
        "grad": _number(received),
        "rule": (
            f"{label}: {len(members[key])} values; the chain rule runs through them, node "
            f"by node, and passes the gradient back to {len(contributions)} module"
            f"{'s' if len(contributions) != 1 else ''}"
        ),
        "blocked": False,
        "contributions": contributions,
    }


def model_player(
    model: Any,
    tokens: Sequence[int],
    *,
    height: int = 700,
    interval_ms: int = 1200,
    title: str | None = None,
) -> Player:
    """The backward pass of a language model (an ``nn.GPT``) one module at a time.

    A GPT's graph has thousands of nodes, too many to step through one by one; here each
    step is one module of :func:`~autograd_lite.viz.graph.model_graph`'s drawing (each
    block's ``norm1``, ``attn``, ``+ attn`` …, the residual stream in green), from the
    next-token loss back to the embeddings. The numbers are gradient norms over all
    positions: what reached the module's outputs, what it passed to each module it reads
    from, and that module's total so far. The real ``.grad`` are not changed.
    """
    from autograd_lite.viz.graph import group_ids_of, token_model_forward

    if not all(hasattr(model, a) for a in ("vocab_size", "block_size", "named_modules")):
        raise TypeError(
            "model_player() plays a language model (an nn.GPT, called on token ids); "
            f"got {type(model).__name__}: use Player(loss) for a graph small enough to "
            "step through node by node"
        )
    if len(tokens) < 2:
        raise ValueError("model_player() needs at least two tokens: the loss predicts the next")
    roots, groups = token_model_forward(model, tokens)
    (loss,) = roots
    ids = group_ids_of(groups.values())
    digraph = draw_graph(
        loss,
        collapse=3,
        cluster=True,
        groups=groups,
        model=model,
        max_nodes=10**5,
        max_size=10**6,
        show_grad=False,
        rankdir="TB",
        title="",
        legend=False,
    )
    digraph.attr(bgcolor="transparent")
    svg = _pipe(digraph, "svg").decode("utf-8")
    nodes, steps = _module_steps(loss, groups, ids)
    player = Player.__new__(Player)
    player.root = loss
    player.height = height
    player.steps = []
    player.html = _fill(
        svg[svg.index("<svg") :],
        "",
        nodes,
        steps,
        {"selected": "", "leaves": {}},
        interval_ms,
        title or f"Backward pass through {type(model).__name__}, one module at a time",
    )
    return player
