"""Where a gradient comes from: every path from an output back to one input.

The chain rule on a graph says ``d(output)/d(x)`` is a sum over the paths from ``x`` to
the output of the product of the local derivatives along each path. ``explain(output, x)``
lists those paths, largest ``|product|`` first, so you can see which route carries the
gradient and which routes are blocked::

    >>> from autograd_lite import Value, tanh
    >>> x = Value(0.5, label="x")
    >>> y = tanh(x * x); y.label = "y"
    >>> print(explain(y, x))  # doctest: +SKIP

An argument used twice by one operation (``x * x``) gives two paths, one per argument,
exactly as ``backward()`` adds two terms. The products add up to what ``backward()``
leaves in ``x.grad`` (for a leaf whose gradient was zero before), up to floating-point
rounding. Along each path the explanation flags factors that block the gradient: a dead
ReLU (input <= 0, derivative exactly 0), a saturated ``tanh`` or ``sigmoid`` (``|local
derivative| < saturation``), any other zero, and non-finite factors.

The number of paths can grow exponentially with depth (each layer of an MLP multiplies
it by the layer's width), so they are counted first and ``max_paths`` bounds them.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

from autograd_lite.engine import Value, topological_order

__all__ = ["Explanation", "Path", "explain"]

_SATURATING = ("tanh", "sigmoid")

# A path being built, newest node first: (node, factor, argument, warning, rest of the path).
_Link = tuple[Any, ...]


def _number(x: float) -> str:
    return f"{x + 0.0:.4g}"  # + 0.0 turns -0.0 into 0.0: no "-0" in print


def _weighted_sum(node: Value) -> float:
    """The sum ``Σ w·x + b`` inside a fused neuron (``dot_relu`` ...), from its inputs."""
    datas = [p.data for p in node.parents]
    n = len(datas) // 2
    return math.fsum([*(w * x for w, x in zip(datas[:n], datas[n : 2 * n])), *datas[2 * n :]])


def _name(node: Value) -> str:
    """A label if the node has one, else its operation and value, e.g. ``tanh(0.7616)``.

    A fused neuron shows its weighted sum too, ``relu(Σ=-0.343)=0``: the sum is what
    decides whether a ReLU is dead.
    """
    if node.label:
        return node.label
    if node.is_leaf:
        return f"leaf({_number(node.data)})" if node.requires_grad else _number(node.data)
    if node.op in ("dot_relu", "dot_tanh", "dot_sigmoid"):
        return f"{node.op[4:]}(Σ={_number(_weighted_sum(node))})={_number(node.data)}"
    return f"{node.op}({_number(node.data)})"


@dataclass(frozen=True)
class Path:
    """One route from the output back to ``x``.

    ``nodes[0]`` is the output and ``nodes[-1]`` is ``x``; ``factors[i]`` is the local
    derivative d(nodes[i]) / d(nodes[i + 1]) and ``arguments[i]`` the argument position of
    ``nodes[i + 1]`` in the operation that made ``nodes[i]``. ``product`` multiplies the
    factors (1.0 for the empty path when x is the output); ``warnings`` names blocking
    or suspicious factors.
    """

    nodes: tuple[Value, ...]
    factors: tuple[float, ...]
    arguments: tuple[int, ...]
    product: float
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [_name(self.nodes[0])]
        for node, factor in zip(self.nodes[1:], self.factors):
            parts.append(f"<-[{_number(factor)}]- {_name(node)}")
        return " ".join(parts)


@dataclass(frozen=True)
class Explanation:
    """The paths from ``output`` back to ``x``, largest ``|product|`` first, and their sum."""

    output: Value
    x: Value
    paths: tuple[Path, ...]
    total: float = field(init=False)
    n_paths: int = field(init=False)
    """How many paths there are in all (more than ``len(paths)`` with ``top=k``)."""
    exact_total: float | None = None
    n_paths_total: int | None = None

    def __post_init__(self) -> None:
        total = self.exact_total
        if total is None:
            total = math.fsum(p.product for p in self.paths)
        object.__setattr__(self, "total", total)
        count = self.n_paths_total if self.n_paths_total is not None else len(self.paths)
        object.__setattr__(self, "n_paths", count)

    def by_layer(self, index: int = 0) -> list[tuple[str, float, float]]:
        """Where the product along path ``index`` (the largest by default) shrinks or grows.

        One row per stretch of the path inside one layer (nodes grouped by their
        ``name_scope`` without the innermost level, e.g. ``MLP / Layer[3]``; nodes
        outside any scope by their operation): ``(layer, product of its factors,
        running product from the output)``.
        """
        if not self.paths:
            return []
        path = self.paths[index]
        deepest = max((len(node.scope) for node in path.nodes), default=0)
        rows: list[tuple[str, float, float]] = []
        running = 1.0
        for node, factor in zip(path.nodes[:-1], path.factors):
            if node.scope:
                name = " / ".join(node.scope[: max(deepest - 1, 1)])
            else:
                name = node.label or node.op or "leaf"
            running *= factor
            if rows and rows[-1][0] == name:
                rows[-1] = (name, rows[-1][1] * factor, running)
            else:
                rows.append((name, factor, running))
        return rows

    def layer_table(self, index: int = 0) -> str:
        """:meth:`by_layer` as text: one line per layer, the factor and the running product."""
        lines = [f"{'layer':<28} {'factor':>12} {'running product':>16}"]
        for name, factor, running in self.by_layer(index):
            lines.append(f"{name:<28} {factor + 0.0:>12.4g} {running + 0.0:>16.4g}")
        return "\n".join(lines)

    @property
    def warnings(self) -> list[str]:
        """Every distinct warning along the paths, in order of first appearance."""
        seen: dict[str, None] = {}
        for path in self.paths:
            for warning in path.warnings:
                seen.setdefault(warning, None)
        return list(seen)

    def __len__(self) -> int:
        return len(self.paths)

    def __str__(self) -> str:
        out, x = _name(self.output), _name(self.x)
        if not self.paths:
            return f"d({out})/d({x}) = 0: {out} does not depend on {x} (no path)"
        n = self.n_paths
        head = (
            f"d({out})/d({x}) = {self.total + 0.0:.6g}, the sum over {n} "
            f"path{'s' if n != 1 else ''} of the product of local derivatives"
        )
        if n > len(self.paths):
            head += f"; the {len(self.paths)} largest:"
        lines = [head, f"{'#':>4}  {'product':>12}  path ({out} <- {x})"]
        for i, path in enumerate(self.paths, 1):
            lines.append(f"{i:>4}  {path.product + 0.0:>12.6g}  {path}")
            lines.extend(f"{'':>4}  {'':>12}  ! {w}" for w in path.warnings)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Explanation(d({_name(self.output)})/d({_name(self.x)}) = {self.total:.6g}, "
            f"{len(self.paths)} paths)"
        )


# Fused neurons (weighted sum and activation in one node): the activation's slope, which
# each can compute from its output.
_FUSED_SLOPES = {
    "dot_tanh": lambda out: 1.0 - out * out,
    "dot_sigmoid": lambda out: out * (1.0 - out),
}


def _factor_warning(node: Value, parent: Value, factor: float, saturation: float) -> str | None:
    """Why a factor blocks (or breaks) the gradient along a path, if it does."""
    if not math.isfinite(factor):
        return f"non-finite local derivative {factor!r} at {_name(node)} ({node.op})"
    if node.op == "relu" and factor == 0:
        return (
            f"dead ReLU: {_name(node)} has input {_number(parent.data)} <= 0, "
            "so nothing flows back through it"
        )
    if node.op == "dot_relu" and node.data == 0:  # a fused neuron: its sum was <= 0
        total = _number(_weighted_sum(node))
        return (
            f"dead ReLU: {_name(node)} has weighted sum {total} <= 0, "
            "so nothing flows back through it"
        )
    fused_slope = _FUSED_SLOPES.get(node.op)
    if fused_slope is not None and abs(fused_slope(node.data)) < saturation:
        return (
            f"saturated {node.op[4:]}: {_name(node)} has slope "
            f"{fused_slope(node.data):.3g} (output {_number(node.data)})"
        )
    if node.op in _SATURATING and abs(factor) < saturation:
        return (
            f"saturated {node.op}: {_name(node)} has local derivative {factor:.3g} "
            f"(input {_number(parent.data)})"
        )
    if factor == 0:
        return f"zero local derivative at {_name(node)} ({node.op})"
    return None


def explain(
    output: Value,
    x: Value,
    *,
    top: int | None = None,
    max_paths: int = 1000,
    saturation: float = 1e-3,
) -> Explanation:
    """List every path from ``output`` back to ``x`` with the product of its local derivatives.

    The products sum to d(output)/d(x). Paths are sorted by ``|product|``, largest first
    (nan first of all: it poisons the sum). Raises ValueError when there are more than
    ``max_paths`` paths, saying how many. ``saturation`` is the ``|tanh'|``/``|sigmoid'|``
    below which a unit is reported as saturated. ``x`` may be any node of the graph,
    also a constant (though ``backward()`` gives constants no ``.grad``).

    ``top=k`` returns only the ``k`` largest paths, found without listing the others
    (dynamic programming over the graph: each node keeps the ``k`` best partial paths
    to the output), with the exact total and the number of paths, so a deep network
    with billions of paths takes well under a second; ``max_paths`` does not apply.
    """
    for name, value in (("output", output), ("x", x)):
        if not isinstance(value, Value):
            raise TypeError(f"explain() expected a Value for {name}, got {type(value).__name__}")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(f"max_paths must be a positive int, got {max_paths!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValueError(f"top must be a positive int or None, got {top!r}")

    order = topological_order(output)
    # How many paths lead from x to each node (an argument used twice counts twice).
    counts: dict[Value, int] = {}
    for node in order:
        if node is x:
            counts[node] = 1
            continue
        n = sum(counts.get(parent, 0) for parent in node.parents)
        if n:
            counts[node] = n
    total_paths = counts.get(output, 0)
    if top is not None:
        _check_replayable(order, counts, x)
        paths, total = _top_paths(order, output, x, counts, top, saturation)
        return Explanation(output, x, paths, exact_total=total, n_paths_total=total_paths)
    if total_paths > max_paths:
        raise ValueError(
            f"there are {total_paths} paths from the output back to x, more than "
            f"max_paths={max_paths}: pass top=10 to see the 10 largest (found without "
            "listing them all) with the exact total, explain an intermediate node instead "
            f"of the final output, or pass max_paths={total_paths}"
        )
    _check_replayable(order, counts, x)
    return Explanation(output, x, _sorted(_enumerate(output, x, counts, saturation)))


def _check_replayable(order: list[Value], counts: dict[Value, int], x: Value) -> None:
    for node in order:
        if node in counts and node is not x and node.local_derivatives is None:
            raise ValueError(
                f"cannot explain paths through a hand-built node (op {node.op!r}) that has no "
                "stored local derivatives; define the operation with primitive()"
            )


def _priority(product: float) -> float:
    """Sort key, largest first: nan before everything (it poisons the sum), then |product|."""
    return math.inf if product != product else abs(product)


def _top_paths(
    order: list[Value],
    output: Value,
    x: Value,
    counts: dict[Value, int],
    k: int,
    saturation: float,
) -> tuple[tuple[Path, ...], float]:
    """The k largest paths from output back to x, and d(output)/d(x), in one sweep.

    Sweeping from the output towards x, each node on a path keeps the k partial paths
    (output → node) of largest |product| and the sum over all of them (the gradient of
    the output with respect to the node, as backward() computes it). The k best paths
    through a node extend the k best of its consumers: |product| is a product of
    non-negative factors, so extending keeps the order.
    """
    if output not in counts:
        return (), 0.0
    # best[node]: up to k (product, link) pairs; link = (node, factor, argument, warning, rest)
    best: dict[Value, list[tuple[float, _Link]]] = {
        output: [(1.0, (output, None, None, None, None))]
    }
    sums: dict[Value, float] = {output: 1.0}
    for node in reversed(order):
        if node is x or node not in best:
            continue
        local = node.local_derivatives
        mine = best.pop(node)
        grad = sums[node]
        for argument, parent in enumerate(node.parents):
            if parent not in counts:
                continue
            factor = local[argument]
            factor = factor.data if isinstance(factor, Value) else float(factor)
            warning = _factor_warning(node, parent, factor, saturation)
            sums[parent] = sums.get(parent, 0.0) + factor * grad
            extended = [
                (product * factor, (parent, factor, argument, warning, link))
                for product, link in mine
            ]
            merged = best.get(parent, []) + extended
            best[parent] = heapq.nlargest(k, merged, key=lambda item: _priority(item[0]))
    found = [_materialise(link) for _, link in best.get(x, [])]
    return _sorted(found), sums.get(x, 0.0)


def _enumerate(output: Value, x: Value, counts: dict[Value, int], saturation: float) -> list[Path]:
    """Depth-first walk from the output towards x through nodes that lead to x.

    A path under construction is a linked list (node, factor, argument, warning, rest)
    so that extending it costs O(1); it is turned into tuples only when it reaches x.
    """
    if output not in counts:
        return []
    paths: list[Path] = []
    stack: list[tuple[Value, _Link]] = [(output, (output, None, None, None, None))]
    while stack:
        node, link = stack.pop()
        if node is x:
            paths.append(_materialise(link))
            continue
        local = node.local_derivatives
        # Push in reverse so that argument 0 is explored first: a deterministic order.
        for argument in reversed(range(len(node.parents))):
            parent = node.parents[argument]
            if parent not in counts:
                continue
            factor = local[argument]
            factor = factor.data if isinstance(factor, Value) else float(factor)
            warning = _factor_warning(node, parent, factor, saturation)
            stack.append((parent, (parent, factor, argument, warning, link)))
    return paths


def _materialise(link: _Link | None) -> Path:
    nodes, factors, arguments, warnings = [], [], [], []
    while link is not None:
        node, factor, argument, warning, link = link
        nodes.append(node)
        if factor is not None:
            factors.append(factor)
            arguments.append(argument)
        if warning is not None:
            warnings.append(warning)
    nodes.reverse()
    factors.reverse()
    arguments.reverse()
    warnings.reverse()
    return Path(tuple(nodes), tuple(factors), tuple(arguments), math.prod(factors), tuple(warnings))


def _sorted(paths: list[Path]) -> tuple[Path, ...]:
    def key(path: Path) -> float:
        p = path.product
        return -math.inf if p != p else -abs(p)

    return tuple(sorted(paths, key=key))
