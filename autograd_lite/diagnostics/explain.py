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

import math
from dataclasses import dataclass, field
from typing import Any

from autograd_lite.engine import Value, topological_order

__all__ = ["Explanation", "Path", "explain"]

_SATURATING = ("tanh", "sigmoid")

# A path being built, newest node first: (node, factor, argument, warning, rest of the path).
_Link = tuple[Any, ...]


def _number(x: float) -> str:
    return f"{x:.4g}"


def _name(node: Value) -> str:
    """A label if the node has one, else its operation and value, e.g. ``tanh(0.7616)``."""
    if node.label:
        return node.label
    if node.is_leaf:
        return f"leaf({_number(node.data)})" if node.requires_grad else _number(node.data)
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", math.fsum(p.product for p in self.paths))

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
        lines = [
            f"d({out})/d({x}) = {self.total:.6g}, the sum over {len(self.paths)} "
            f"path{'s' if len(self.paths) != 1 else ''} of the product of local derivatives",
            f"{'#':>4}  {'product':>12}  path ({out} <- {x})",
        ]
        for i, path in enumerate(self.paths, 1):
            lines.append(f"{i:>4}  {path.product:>12.6g}  {path}")
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
        return f"dead ReLU: {_name(node)} has a weighted sum <= 0, so nothing flows back through it"
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
    output: Value, x: Value, *, max_paths: int = 1000, saturation: float = 1e-3
) -> Explanation:
    """List every path from ``output`` back to ``x`` with the product of its local derivatives.

    The products sum to d(output)/d(x). Paths are sorted by ``|product|``, largest first
    (nan first of all: it poisons the sum). Raises ValueError when there are more than
    ``max_paths`` paths, saying how many. ``saturation`` is the ``|tanh'|``/``|sigmoid'|``
    below which a unit is reported as saturated. ``x`` may be any node of the graph,
    also a constant (though ``backward()`` gives constants no ``.grad``).
    """
    for name, value in (("output", output), ("x", x)):
        if not isinstance(value, Value):
            raise TypeError(f"explain() expected a Value for {name}, got {type(value).__name__}")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(f"max_paths must be a positive int, got {max_paths!r}")

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
    if total_paths > max_paths:
        raise ValueError(
            f"there are {total_paths} paths from the output back to x, more than "
            f"max_paths={max_paths}: the gradient is still x.grad after backward(); to see the "
            "paths, explain an intermediate node instead of the final output (or the output "
            f"from a single neuron), or pass max_paths={total_paths}"
        )
    for node in order:
        if node in counts and node is not x and node.local_derivatives is None:
            raise ValueError(
                f"cannot explain paths through a hand-built node (op {node.op!r}) that has no "
                "stored local derivatives; define the operation with primitive()"
            )
    return Explanation(output, x, _sorted(_enumerate(output, x, counts, saturation)))


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
