"""``dense`` and ``dot``: a layer of neurons built in one pass, each neuron one node.

Why: a layer's neurons all read the same inputs, so reading them once for the layer, and
making each weighted sum (and its activation) one node, is what makes training fast
(see benchmarks/bench_nn.py).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from autograd_lite.engine.floats import _as_float, _check_flag, _sigmoid
from autograd_lite.engine.modes import _busy, _local, name_scope
from autograd_lite.engine.primitives import (
    DOT,
    DOT_RELU,
    DOT_SIGMOID,
    DOT_TANH,
    _apply,
    _get_requires_grad,
    _zeros,
)
from autograd_lite.engine.value import Value, _constant, _node

if TYPE_CHECKING:
    from autograd_lite.engine.primitives import Primitive


# The activations dense(..., fuse=True) folds into the neuron's node.
_FUSED = {Value.relu: DOT_RELU, Value.tanh: DOT_TANH, Value.sigmoid: DOT_SIGMOID}


@overload
def dot(weights: Sequence[float], inputs: Sequence[float], bias: float | None = None) -> float: ...
@overload
def dot(
    weights: Sequence[Value | float],
    inputs: Sequence[Value | float],
    bias: Value | float | None = None,
) -> Value: ...
def dot(weights: Sequence[Any], inputs: Sequence[Any], bias: Any = None) -> Any:
    """bias + sum(w * x) as one node: a neuron's weighted sum without 2n + 1 nodes.

    The terms are added in order, bias first, with plain float addition. Plain numbers
    among the arguments are constants; with only numbers, the result is a float.
    """
    weights, inputs = tuple(weights), tuple(inputs)
    if len(weights) != len(inputs):
        raise ValueError(f"dot: {len(weights)} weights but {len(inputs)} inputs; they must match")
    return dense([weights], inputs, None if bias is None else [bias])[0]


def dense(
    weight_rows: Sequence[Sequence[Value]],
    inputs: Sequence[Any],
    biases: Sequence[Value] | None = None,
    activation: Callable[[Value], Value] | None = None,
    *,
    names: Sequence[str] | None = None,
    fuse: bool = False,
) -> list[Value]:
    """A layer of neurons: ``activation(dot(w, inputs, b))`` for each row ``w``, as a list.

    The same nodes as calling :func:`dot` and the activation row by row, built in one
    pass that reads the inputs once for the whole layer (a layer's neurons all see the
    same inputs; see benchmarks/bench_nn.py). ``activation`` is a function of one Value,
    such as ``Value.relu``. ``names`` gives each row's nodes a ``name_scope`` of its own,
    as ``nn`` gives each neuron. With ``fuse=True`` and ``Value.relu``, ``Value.tanh`` or
    ``Value.sigmoid``, each neuron is one node (``dot_relu``, drawn ``ReLU(·)``): the same
    values and gradients with half the nodes, which is what makes training fast.
    """
    _check_flag(fuse, "fuse", "dense()")
    inputs = tuple(inputs)
    rows = list(weight_rows)
    bias_list: list[Any] = [None] * len(rows) if biases is None else list(biases)
    name_list = list(names) if names is not None else None
    for name in name_list or ():
        if not isinstance(name, str):
            raise TypeError(f"dense(): names must be str, got {type(name).__name__}")
    if len(bias_list) != len(rows) or (name_list is not None and len(name_list) != len(rows)):
        raise ValueError(
            f"dense: {len(rows)} weight rows, {len(bias_list)} biases and "
            f"{'no' if name_list is None else len(name_list)} names; give one of each per row"
        )
    n = len(inputs)
    for weights in rows:
        if len(weights) != n:
            raise ValueError(f"dense: a row has {len(weights)} weights for {n} inputs")
    fused = _FUSED.get(activation) if fuse else None
    return _layer(rows, bias_list, name_list, inputs, activation, fused, checked=False)


def _layer(
    rows: list[Any],
    biases: list[Any],
    names: list[str] | None,
    inputs: tuple[Any, ...],
    activation: Callable[[Value], Value] | None,
    fused: Primitive | None,
    checked: bool,
) -> list[Value]:
    """The layer's nodes for arguments already validated; ``checked`` as for _dense_fast."""
    scope = () if not _busy else _local.state.fast_scope
    if scope is None:  # no_grad() or detect_anomaly(): row by row through the primitive table
        return [
            _dense_row(w, inputs, b, activation, nm, fused)
            for w, b, nm in _rows(rows, biases, names)
        ]
    return _dense_fast(rows, biases, names, inputs, activation, fused, scope, checked)


def _dense_fast(
    rows: list[Any],
    biases: list[Any],
    names: list[str] | None,
    inputs: tuple[Any, ...],
    activation: Callable[[Value], Value] | None,
    fused: Primitive | None,
    scope: tuple[str, ...],
    checked: bool,
) -> list[Value]:
    """:func:`dense` while recording without checks: each row's nodes built directly.

    Why: the table's path costs several Python calls per row; this one builds the same
    nodes (tests/test_engine.py: test_dense_fast_path_builds_the_checked_paths_nodes).
    ``checked``: every weight and bias is already known to be a Value.
    """
    # Numbers become constant nodes once for the layer rather than once per row (a first
    # layer's inputs are numbers), in the caller's scope, as Value(x, requires_grad=False).
    nodes = inputs if _all_values(inputs) else tuple([_as_constant(x, scope) for x in inputs])
    input_data = [x.data for x in nodes]
    inputs_need_grad = any(map(_get_requires_grad, nodes))
    n = len(nodes)
    state = _local.state
    mul = operator.mul
    outputs = []
    # Iterated, not listed: zip reuses its row tuple, where a list would allocate one per
    # row, each a container the garbage collector counts (more collections per step).
    for weights, bias, name in _rows(rows, biases, names):
        # Each weight's data, read only from a Value (not a number, nor a subclass): the
        # type check and the read in one pass (benchmarks/instructions.py counts the cost).
        if checked:
            weight_data = [w.data for w in weights]
        else:
            weight_data = [w.data for w in weights if type(w) is Value]
        if len(weight_data) != n or (bias is not None and type(bias) is not Value):
            # Numbers among this row's weights: the row through the primitive table.
            outputs.append(_dense_row(weights, inputs, bias, activation, name, fused))
            continue
        if bias is None:
            out = sum(map(mul, weight_data, input_data), 0.0)
            parents = (*weights, *nodes)
        else:
            out = sum(map(mul, weight_data, input_data), bias.data)
            parents = (*weights, *nodes, bias)
        # The first weight decides in the usual case (parameters all need a gradient).
        needs_grad = (
            inputs_need_grad
            or (n > 0 and weights[0].requires_grad)
            or any(map(_get_requires_grad, weights))
            or (bias is not None and bias.requires_grad)
        )
        row_scope = scope if name is None else (*scope, name)
        if fused is DOT_RELU and out <= 0:  # a dead neuron: its local derivatives are 0
            out = 0.0 if out < 0 else out  # RELU's value: -0.0 stays -0.0
            outputs.append(
                _node(out, parents, _zeros(len(parents)), fused, row_scope)
                if needs_grad
                else _constant(out)
            )
            continue
        # DOT's local derivatives: d/dw = x, d/dx = w, d/dbias = 1.
        local = (*input_data, *weight_data) if bias is None else (*input_data, *weight_data, 1.0)
        if fused is not None:
            # DOT_RELU / DOT_TANH / DOT_SIGMOID inlined: the activation of the sum,
            # and DOT's local derivatives times the activation's slope.
            if fused is not DOT_RELU:
                out = math.tanh(out) if fused is DOT_TANH else _sigmoid(out)
                slope = 1.0 - out * out if fused is DOT_TANH else out * (1.0 - out)
                local = tuple(map(mul, local, itertools.repeat(slope)))
            outputs.append(
                _node(out, parents, local, fused, row_scope) if needs_grad else _constant(out)
            )
            continue
        node = _node(out, parents, local, DOT, row_scope) if needs_grad else _constant(out)
        if activation is not None:
            # The activation's node belongs to the same row: its scope too.
            state.set_scope(row_scope)
            try:
                node = activation(node)
            finally:
                state.set_scope(scope)
        outputs.append(node)
    return outputs


def _dense_of_values(
    rows: list[list[Value]],
    inputs: Sequence[Any],
    biases: list[Value],
    activation: Callable[[Value], Value] | None,
    names: list[str],
) -> list[Value]:
    """``dense(rows, inputs, biases, activation, names=names, fuse=True)`` for rows and biases
    already seen to hold only Values, of the inputs' length.

    Why: checking each weight's type costs as much as reading it; ``nn.Layer`` checks its
    rows once and calls this while they stay the same (benchmarks/bench_nn.py, (2)).
    """
    fused = _FUSED.get(activation)
    return _layer(rows, biases, names, tuple(inputs), activation, fused, checked=True)


def _rows_of_values(rows: list[Any], biases: list[Any]) -> bool:
    """Whether ``rows`` are lists of Values only and ``biases`` are Values only."""
    return (
        operator.countOf(map(type, rows), list) == len(rows)
        and _all_values(list(itertools.chain.from_iterable(rows)))
        and _all_values(biases)
    )


def _all_values(items: Sequence[Any]) -> bool:
    """Whether every item is a Value (not a number, nor a subclass), checked in C."""
    return operator.countOf(map(type, items), Value) == len(items)


def _as_constant(x: Any, scope: tuple[str, ...]) -> Value:
    """``x`` itself if it is a Value, else a constant node for the number x in ``scope``."""
    if type(x) is float:
        return _constant(x, scope)
    return x if isinstance(x, Value) else _constant(_as_float(x, "dense"), scope)


def _rows(rows: list[Any], biases: list[Any], names: list[str] | None) -> Iterator[tuple[Any, ...]]:
    return zip(rows, biases, names if names is not None else itertools.repeat(None))


def _dense_row(
    weights: Sequence[Any],
    inputs: Sequence[Any],
    bias: Any,
    activation: Callable[[Value], Value] | None,
    name: str | None,
    fused: Primitive | None = None,
) -> Value:
    """One row of :func:`dense` through the primitive table: the checked path."""
    parents = (*weights, *inputs) if bias is None else (*weights, *inputs, bias)
    with name_scope(name) if name is not None else contextlib.nullcontext():
        if fused is not None:
            return _apply(fused, parents)
        node = _apply(DOT, parents)
        return node if activation is None or not isinstance(node, Value) else activation(node)
