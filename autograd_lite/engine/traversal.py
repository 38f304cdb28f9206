"""Walking a graph: its nodes in topological order, and gradients without ``.grad``."""

from __future__ import annotations

import functools
import itertools
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from autograd_lite.engine.floats import _as_float, _check_flag, _describe_type
from autograd_lite.engine.modes import (
    _anomaly_checks,
    _check_finite_gradient,
    _local,
    enable_grad,
    no_grad,
)
from autograd_lite.engine.primitives import SUM_PRODUCTS
from autograd_lite.engine.value import Value, _edges


def topological_order(
    roots: Value | Iterable[Value], *, requires_grad_only: bool = False
) -> list[Value]:
    """Every node that leads to ``roots``, each after all of its parents.

    Iterative depth-first search (no recursion limit) that visits parents in argument
    order, so the order is the same on every run. With ``requires_grad_only`` constants
    and everything behind them are left out, as ``backward()`` needs.
    """
    _check_flag(requires_grad_only, "requires_grad_only", "topological_order()")
    root_list = [roots] if isinstance(roots, Value) else list(roots)
    order: list[Value] = []
    visited: set[Value] = set()
    for root in root_list:
        if not isinstance(root, Value):
            raise TypeError(f"topological_order() expected Values, got {type(root).__name__}")
        if root in visited or (requires_grad_only and not root.requires_grad):
            continue
        visited.add(root)
        stack = [(root, iter(_edges(root)[0]))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent not in visited and (parent.requires_grad or not requires_grad_only):
                    visited.add(parent)
                    stack.append((parent, iter(_edges(parent)[0])))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _interior_order(roots: list[Value]) -> list[Value]:
    """The nodes with parents that lead to ``roots``, each after its parents.

    Leaves are left out: they have nothing to pass on, and backward() only needs the
    order of the nodes it processes. The same depth-first order as
    :func:`topological_order`, found with less work: see the comments below.
    """
    order: list[Value] = []
    # Every node met goes into ``seen``, leaves too. A network's weights and inputs are
    # each a parent of many nodes (a neuron of MLP(64, ...)'s first layer has 129 leaf
    # parents, each shared with other neurons or samples), so after the first meeting a
    # parent is skipped by a set lookup in C, and a node whose parents were all met
    # before is placed at once by one issuperset() call. Asking every parent for its own
    # parents instead was over half of backward()'s work (see benchmarks/bench_nn.py).
    seen: set[Value] = set()
    unseen = functools.partial(itertools.filterfalse, seen.__contains__)
    for root in roots:
        if root in seen or not root._prev:
            continue
        seen.add(root)
        stack = [(root, unseen(_edges(root)[0]))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                seen.add(parent)
                grandparents = parent._prev
                if not grandparents:
                    continue  # a leaf
                if parent._fn is SUM_PRODUCTS and len(grandparents) != parent._n:
                    grandparents = grandparents[: parent._n]  # its own terms (fold.py)
                if seen.issuperset(grandparents):
                    order.append(parent)  # every parent of it is placed already
                    continue
                stack.append((parent, unseen(grandparents)))
                break
            else:
                stack.pop()
                order.append(node)
    return order


def _value_local_derivatives(node: Value) -> tuple[Any, ...]:
    """Local derivatives as Values, by calling the derivative rule on the parents."""
    prim = node._fn
    if prim is None:
        raise RuntimeError(
            f"cannot build a gradient graph through a hand-built node (op {node._op!r}) "
            "whose _backward is a Python function; define it with primitive() instead"
        )
    return prim.local_derivatives(_edges(node)[0], node)


def _backpropagate(
    outputs: Sequence[Value],
    seeds: Sequence[Any],
    order: Sequence[Value],
    *,
    create_graph: bool,
) -> dict[Value, Any]:
    """Gradients of sum(seed * output) with respect to every node in ``order``, in a dict."""
    grads: dict[Value, Any] = {}
    for out, seed in zip(outputs, seeds):
        grads[out] = grads[out] + seed if out in grads else seed
    anomaly = _local.state.anomaly
    with enable_grad() if create_graph else no_grad():
        for node in reversed(order):
            grad = grads.get(node)
            if grad is None or not node._prev:
                continue
            if create_graph:
                # The rule computes a derivative for every input, also those that take no
                # gradient (0.0 ** w: d/d(base) is inf where w < 1, and unused): anomaly
                # checks look at the contributions to inputs that take gradients, below.
                with _anomaly_checks(False):
                    local = _value_local_derivatives(node)
            elif node._local is None:
                raise RuntimeError(
                    f"gradients() cannot go through a hand-built node (op {node._op!r}); "
                    "define the operation with primitive() instead"
                )
            else:
                local = _edges(node)[1]
            for index, (parent, d) in enumerate(zip(_edges(node)[0], local)):
                if not parent.requires_grad:
                    continue
                contribution = d * grad
                if anomaly:
                    _check_finite_gradient(node, index, contribution, grad)
                grads[parent] = grads[parent] + contribution if parent in grads else contribution
    return grads


def gradients(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value],
    grad_outputs: float | Sequence[float] | None = None,
    *,
    create_graph: bool = False,
) -> list[Any]:
    """d(outputs)/d(inputs) without touching any ``.grad`` (like ``torch.autograd.grad``).

    Returns one gradient per input: floats, or Values that can be differentiated again
    when ``create_graph=True``. An input the outputs do not depend on gets 0.0. With
    several outputs the gradient is that of ``sum(grad_output * output)``.
    """
    _check_flag(create_graph, "create_graph", "gradients()")
    out_list = [outputs] if isinstance(outputs, Value) else list(outputs)
    in_list = [inputs] if isinstance(inputs, Value) else list(inputs)
    for v in (*out_list, *in_list):
        if not isinstance(v, Value):
            raise TypeError(f"gradients() expected Values, got {_describe_type(v)}")
    if grad_outputs is None:
        seeds: list[Any] = [1.0] * len(out_list)
    else:
        if isinstance(grad_outputs, (Value, numbers.Real)):
            given = [grad_outputs]
        elif isinstance(grad_outputs, (list, tuple)):
            given = list(grad_outputs)
        else:
            raise TypeError(
                "gradients(): grad_outputs must be a number, a Value or a list of them, "
                f"got {_describe_type(grad_outputs)}"
            )
        seeds = [
            s if isinstance(s, Value) else _as_float(s, "gradients(grad_outputs)") for s in given
        ]
    if len(seeds) != len(out_list):
        raise ValueError(f"gradients(): {len(seeds)} grad_outputs for {len(out_list)} outputs")
    live = [(o, s) for o, s in zip(out_list, seeds) if o.requires_grad]
    order = _interior_order([o for o, _ in live])
    grads = _backpropagate(
        [o for o, _ in live], [s for _, s in live], order, create_graph=create_graph
    )
    return [grads.get(x, 0.0) for x in in_list]
