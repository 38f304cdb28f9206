"""Tracing: run the model (and loss) once on leaf Values and record the graph as a flat list.

A *trace* is one sample's graph written as a tuple of records in topological order, one
record per node, each naming its parents by position:

* ``("x", i)`` the i-th number of the input, ``("y", j)`` the j-th float of the target;
* ``("p", k)`` the k-th model parameter; ``("f", hex, requires_grad)`` any other leaf
  Value (a parameter the model does not list, a fresh ``Value(0.0)``): its value is read
  at every call and its gradient accumulated, as the interpreted engine would;
* ``("c", hex)`` a constant (``float.hex`` so that ``nan`` and ``-0.0`` compare exactly);
* ``(kernel, (parent positions...))`` an operation: ``kernel`` is the name of a built-in
  primitive (``"tanh"``), ``("leaky_relu", slope)``, or the :class:`Primitive` itself
  for a user-defined one.

Two samples have the same graph exactly when their record tuples are equal, which makes
the data-dependence check one tuple comparison. Nothing here needs numpy.

Targets: float components of ``y`` become leaves; int components (class indices, 0/1 or
±1 labels) are *labels*, passed to the loss as the ints themselves, because losses use
them as list indices or refuse Values. Each label value gets its own trace; traces that
differ only in which nodes they read and in constants are merged into one graph whose
differing operands are *picks* (``("pick", positions per label)``) and whose differing
constants are *label constants* (``("lc", values per label)``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import filterfalse
from typing import Any, NoReturn

from autograd_lite import engine
from autograd_lite.engine import Primitive, Value, enable_grad
from autograd_lite.engine.value import _edges

__all__ = [
    "DataDependentGraphError",
    "Graph",
    "ParamTable",
    "Trace",
    "flatten_sample",
    "kernel_key",
    "label_key",
    "merge_traces",
    "parameters_at",
    "rebuild_sample",
    "refuse_missing_targets",
    "refuse_stale_backward",
    "single_graph",
    "trace",
]

LEAF_TAGS = frozenset({"x", "y", "p", "f", "c", "lc", "tok"})


class DataDependentGraphError(ValueError):
    """The graph's shape depends on the data, so one recorded graph cannot stand for all."""


def refuse_stale_backward(ahead: Any) -> None:
    """Refuse ``step.backward`` while a trainer's buffer is ahead of the Values.

    It would replay the weights of the last sync (the Values), not the trainer's: a
    gradient of a model that no longer exists, and ``.grad`` that the next sync overwrites.
    """
    if ahead is not None:
        raise RuntimeError(
            "step.backward() after train.step() inside the trainer's block: the Values still "
            "hold the weights of the last sync, not the trainer's. Use train.backward(X, y) "
            "(the gradient in train.grad), or call train.sync() first"
        )


class NotCopied:
    """A compiled loss or trainer: ``copy``, ``deepcopy`` and ``pickle`` raise a TypeError
    that says what to copy instead. Its programs are generated for the very Values of the
    model it traced (and hold numpy's module and views of tables), so a copy would train
    the old model's weights, or not copy at all."""

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(
            f"a {type(self).__name__} cannot be copied or pickled: its programs are written "
            "for the Values of the model it traced. Copy or save the model instead "
            "(copy.deepcopy(model), model.state_dict(); after a trainer's steps call "
            "train.sync() first) and compile the copy: compile_loss(model_copy, loss_fn, x, y)"
        )


def refuse_missing_targets(y: Any) -> None:
    """``backward(X, None)``: a TypeError that says what to pass (or to call instead)."""
    if y is None:
        raise TypeError(
            "backward needs the targets y (one per sample of X), got None; for the model's "
            "outputs alone call forward(X)"
        )


@contextmanager
def parameters_at(params: Sequence[Value], theta: Any) -> Iterator[None]:
    """Give ``params`` the values in ``theta`` for the block, then their own back.

    A :class:`CompiledTrainer` keeps the current weights in a buffer and writes them into
    the Values only when it syncs; tracing and the checks run the interpreted engine, which
    reads ``p.data``, so inside a trainer they must see the buffer, and the Values must
    still show the last sync afterwards (as documented). ``theta`` None: nothing to do.
    """
    if theta is None:
        yield
        return
    saved = [p.data for p in params]
    for p, value in zip(params, theta.tolist()):
        p.data = value
    try:
        yield
    finally:
        for p, value in zip(params, saved):
            p.data = value


# --------------------------------------------------------------------------------------
# Samples: nested lists of numbers, flattened
# --------------------------------------------------------------------------------------

# A layout ("treedef") is "n" for a number (in y: "f" for a float, "i" for an int label),
# or a tuple of layouts for a list. Lists and tuples are not told apart.


def flatten_sample(
    obj: Any, what: str, *, labels: bool, all_labels: bool = False
) -> tuple[Any, list[float], list[Any]]:
    """``(layout, floats, ints)``: the sample's numbers in order, split by kind.

    With ``labels=False`` (inputs) every number goes to ``floats``. With ``labels=True``
    (targets) ints and bools go to ``ints`` (the labels) and are kept as they are; with
    ``all_labels`` too, every number is a label. Labels are told apart by
    :func:`label_key`, which keeps a bool from standing for an int.
    """
    floats: list[float] = []
    ints: list[Any] = []

    def walk(item: Any) -> Any:
        if isinstance(item, (list, tuple)):
            return tuple(walk(child) for child in item)
        if hasattr(item, "tolist") and not isinstance(item, numbers.Number):
            return walk(item.tolist())  # a numpy array or tensor row
        if isinstance(item, Value):
            raise TypeError(
                f"compiled {what} must hold numbers, got a Value; pass .data (a compiled "
                "loss makes its own leaves)"
            )
        if (
            labels
            and isinstance(item, numbers.Real)
            and (all_labels or isinstance(item, numbers.Integral))
        ):
            ints.append(item)
            return "i"
        if isinstance(item, numbers.Real):
            floats.append(_as_float(item, what))
            return "f" if labels else "n"
        raise TypeError(
            f"compiled {what} must be a number or a (nested) list of numbers, "
            f"got {type(item).__name__}"
        )

    return walk(obj), floats, ints


def label_key(labels: Sequence[Any]) -> tuple[Any, ...]:
    """The key of a sample's labels for traces and programs: each label with its kind.

    ``True == 1 == 1.0`` and the three hash alike, so keyed by value alone a bool label
    would replay the trace of the int 1 (and a float label that of an int), where the loss
    may treat them differently: the library's losses refuse bools. Kinds are named as NumPy
    names dtypes, "b" (bool), "i" (int) and "f" (float); NumPy scalars reach here as Python
    numbers (``tolist``), and any other type is its own kind.
    """
    return tuple((_label_kind(label), label) for label in labels)


def _label_kind(label: Any) -> Any:
    if isinstance(label, bool):
        return "b"
    if isinstance(label, numbers.Integral):
        return "i"
    if isinstance(label, numbers.Real):
        return "f"
    return type(label)


def _as_float(item: numbers.Real, what: str) -> float:
    """``float(item)``, with the ValueError the engine gives for an int beyond floats."""
    try:
        return float(item)
    except OverflowError:
        size = (
            f"an int of about 10**{int(item.bit_length() * 0.30103)}"
            if isinstance(item, int)
            else f"a {type(item).__name__} too large"
        )
        raise ValueError(
            f"compiled {what}: got {size}; it does not fit in a float "
            "(too large: the largest is about 1.8e308)"
        ) from None


def rebuild_sample(layout: Any, floats: Sequence[Any], ints: Sequence[Any]) -> Any:
    """The nested lists of ``layout`` filled with ``floats`` (and ``ints`` for "i")."""
    float_iter, int_iter = iter(floats), iter(ints)

    def build(node: Any) -> Any:
        if isinstance(node, tuple):
            return [build(child) for child in node]
        return next(int_iter) if node == "i" else next(float_iter)

    return build(layout)


def _flatten_output(out: Any) -> tuple[Any, list[Value]]:
    """Model outputs: a Value, a number or nested lists of them, as (layout, Values)."""
    values: list[Value] = []

    def walk(item: Any) -> Any:
        if isinstance(item, (list, tuple)):
            return tuple(walk(child) for child in item)
        if isinstance(item, Value):
            values.append(item)
        elif isinstance(item, numbers.Real):
            values.append(Value(float(item), requires_grad=False))
        else:
            raise TypeError(
                f"the model must return a Value, a number or a list of them, "
                f"got {type(item).__name__}"
            )
        return "n"

    return walk(out), values


# --------------------------------------------------------------------------------------
# Kernels: which built-in primitive a node applies
# --------------------------------------------------------------------------------------

_BUILTIN_NAMES: dict[Primitive, str] = {
    engine.ADD: "add",
    engine.MUL: "mul",
    engine.DIV: "div",
    engine.NEG: "neg",
    engine.POW: "pow",
    engine.EXP: "exp",
    engine.LOG: "log",
    engine.TANH: "tanh",
    engine.SIGMOID: "sigmoid",
    engine.RELU: "relu",
    engine.SOFTPLUS: "softplus",
    engine.SIN: "sin",
    engine.COS: "cos",
    engine.SQRT: "sqrt",
    engine.ABS: "abs",
    engine.SUM: "sum",
    engine.DOT: "dot",
    engine.DOT_RELU: "dot_relu",
    engine.DOT_TANH: "dot_tanh",
    engine.DOT_SIGMOID: "dot_sigmoid",
    engine.LOGSUMEXP: "logsumexp",
}
# The engine makes one leaky_relu primitive per slope, all from the same lambda: its code
# object identifies them, whatever the slope.
_LEAKY_RELU_CODE = engine._leaky_relu_primitive(0.5).forward.__code__


def kernel_key(prim: Primitive) -> Any:
    """The replay kernel of a primitive: a built-in name, ("leaky_relu", slope), or itself."""
    name = _BUILTIN_NAMES.get(prim)
    if name is not None:
        return name
    if getattr(prim.forward, "__code__", None) is _LEAKY_RELU_CODE:
        # The rule returns (slope,) for any input <= 0.
        return ("leaky_relu", float(prim.derivative(-1.0, 0.0)[0]))
    return prim


def describe_kernel(key: Any) -> str:
    """A kernel key as a short name for messages."""
    if isinstance(key, str):
        return key
    if isinstance(key, tuple):
        return f"{key[0]}({key[1]!r})"
    return f"custom primitive {key.name!r}"


# --------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------


class ParamTable:
    """The model's parameters, with the lookups every trace needs, built once."""

    __slots__ = ("index", "known", "names", "values")

    def __init__(self, values: Sequence[Value], names: Sequence[str]) -> None:
        self.values = list(values)
        self.names = list(names)
        self.known: dict[Value, Any] = {p: ("p", k) for k, p in enumerate(self.values)}
        self.index = {id(p): k for k, p in enumerate(self.values)}


class Trace:
    """One sample's graph as records, plus what is needed to replay and explain it.

    Node descriptions for error messages are worked out only when asked for; a trace
    kept as a reference calls :meth:`keep` to work them out once and drop the nodes.
    """

    __slots__ = (
        "_names",
        "_nodes",
        "_param_names",
        "free",
        "labels",
        "loss",
        "output_layout",
        "outputs",
        "records",
        "signature",
    )

    def __init__(
        self,
        records: tuple[Any, ...] | None,
        outputs: tuple[int, ...],
        output_layout: Any,
        loss: int | None,
        free: dict[int, Value],
        nodes: list[Value],
        param_names: Sequence[str],
        labels: tuple[Any, ...],
    ) -> None:
        self.records = records
        self.outputs = outputs
        self.output_layout = output_layout
        self.loss = loss
        self.free = free
        self.labels = labels
        self._nodes: list[Value] | None = nodes
        self._param_names = param_names
        self._names: list[str] | None = None
        self.signature: Any = None

    def names(self) -> list[str]:
        """A description of every node: its operation and the module that made it."""
        if self._names is None:
            assert self._nodes is not None  # internal: keep() sets _names before dropping
            self._names = [
                _node_name(node, record, self._param_names)
                for node, record in zip(self._nodes, self.records)
            ]
        return self._names

    def keep(self) -> Trace:
        """Work out the descriptions now and let the graph itself be freed."""
        self.names()
        self._nodes = None
        return self

    def describe(self, position: int) -> str:
        """Node ``position`` in words: its operation and where it was made."""
        return f"node {position} ({self.names()[position]})"

    def first_difference(self, other: Trace) -> str:
        """Where ``other`` departs from this trace, in words."""
        mine, theirs = self.records, other.records
        for position, (a, b) in enumerate(zip(mine, theirs)):
            if a != b:
                return (
                    f"at {self.describe(position)}: the compiled graph has "
                    f"{_record_text(a)}, this sample {_record_text(b)} "
                    f"({other.names()[position]})"
                )
        if len(mine) != len(theirs):
            return f"the compiled graph has {len(mine)} nodes, this sample's has {len(theirs)}"
        if self.outputs != other.outputs:
            return "the model's outputs are different nodes"
        return "the loss is a different node"

    def same_graph(self, other: Trace) -> bool:
        """Whether ``other`` records exactly this graph (same ops, wiring and constants)."""
        return self.signature == other.signature


def _record_text(record: Any) -> str:
    tag = record[0]
    if tag == "x":
        return f"input x[{record[1]}]"
    if tag == "y":
        return f"target y[{record[1]}]"
    if tag == "p":
        return f"parameter {record[1]}"
    if tag == "f":
        return f"leaf Value {float.fromhex(record[1])!r}"
    if tag == "c":
        return f"constant {float.fromhex(record[1])!r}"
    return f"{describe_kernel(tag)} of nodes {list(record[1])}"


def _node_name(node: Value, record: Any, param_names: Sequence[str]) -> str:
    tag = record[0]
    if tag == "p":
        text = f"parameter {param_names[record[1]]!r}"
    elif tag in LEAF_TAGS:
        text = _record_text(record)
    else:
        text = describe_kernel(tag)
    if node.scope:
        text += " in " + "/".join(node.scope)
    return text


def trace(
    model: Callable[[Any], Any],
    loss_fn: Callable[[Any, Any], Any] | None,
    x_layout: Any,
    x_values: Sequence[float],
    y_layout: Any,
    y_floats: Sequence[float],
    y_ints: Sequence[Any],
    params: ParamTable,
    *,
    full: bool = True,
) -> Trace:
    """Run ``loss_fn(model(x), y)`` (or only the model) on leaves and record the graph.

    With ``full=False`` only the signature is computed (enough to compare the graph
    with another trace's); the records stay None.
    """
    # Plain leaf Values (not a subclass): other code may test ``type(v) is Value``.
    x_leaves = [Value(v) for v in x_values]
    y_leaves = [Value(v) for v in y_floats]
    with enable_grad():
        out = model(_rebuild_leaves(x_layout, x_leaves))
        output_layout, outputs = _flatten_output(out)
        loss = None
        if loss_fn is not None:
            loss = loss_fn(out, _rebuild_target(y_layout, y_leaves, y_ints))
            if isinstance(loss, numbers.Real) and not isinstance(loss, Value):
                loss = Value(float(loss), requires_grad=False)
            if not isinstance(loss, Value):
                raise TypeError(
                    f"the loss function must return a Value (one sample's loss), "
                    f"got {type(loss).__name__}"
                )
    roots = [*outputs, loss] if loss is not None else outputs
    known = dict(params.known)
    known.update((leaf, ("x", i)) for i, leaf in enumerate(x_leaves))
    known.update((leaf, ("y", j)) for j, leaf in enumerate(y_leaves))
    signature = _signature(roots, known, outputs, loss)
    result = Trace(None, (), output_layout, None, {}, [], params.names, tuple(y_ints))
    result.signature = signature
    if full:
        x_index = {id(leaf): i for i, leaf in enumerate(x_leaves)}
        y_index = {id(leaf): j for j, leaf in enumerate(y_leaves)}
        records, order, position, free = _record_graph(roots, x_index, y_index, params.index)
        result.records = tuple(records)
        result.outputs = tuple(position[id(o)] for o in outputs)
        result.loss = None if loss is None else position[id(loss)]
        result.free = free
        result._nodes = order
    return result


def _record_graph(
    roots: Sequence[Value],
    x_index: dict[int, int],
    y_index: dict[int, int],
    param_index: dict[int, int],
) -> tuple[list[Any], list[Value], dict[int, int], dict[int, Value]]:
    """Records in topological order: (records, nodes, id → position, free leaves).

    An iterative depth-first search, parents in argument order, like
    ``topological_order``; but a leaf is recorded as soon as it is met, without a
    frame of its own. Most nodes of a network are leaves (its weights), and this runs
    for every sample that is checked.
    """
    position: dict[int, int] = {}
    records: list[Any] = []
    order: list[Value] = []
    free: dict[int, Value] = {}
    # Inputs, targets and parameters have fixed records, looked up by identity.
    known: dict[int, Any] = {key: ("p", k) for key, k in param_index.items()}
    known.update((key, ("x", i)) for key, i in x_index.items())
    known.update((key, ("y", j)) for key, j in y_index.items())

    def add_leaf(node: Value) -> None:
        position[id(node)] = len(records)
        if node.requires_grad:
            free[len(records)] = node
        records.append(_leaf_record(node))
        order.append(node)

    for root in roots:
        key = id(root)
        if key in position:
            continue
        if not root._prev:
            if key in known:
                position[key] = len(records)
                records.append(known[key])
                order.append(root)
            else:
                add_leaf(root)
            continue
        stack = [[root, 0]]
        while stack:
            frame = stack[-1]
            node, i = frame
            parents = _edges(node)[0]
            descended = False
            while i < len(parents):
                parent = parents[i]
                i += 1
                key = id(parent)
                if key in position:
                    continue
                if parent._prev:
                    frame[1] = i
                    stack.append([parent, 0])
                    descended = True
                    break
                # Leaves inline: a network's weights are most of its nodes.
                record = known.get(key)
                if record is None:
                    add_leaf(parent)
                else:
                    position[key] = len(records)
                    records.append(record)
                    order.append(parent)
            if descended:
                continue
            stack.pop()
            prim = node.primitive
            if prim is None:
                raise _hand_built(node)
            position[id(node)] = len(records)
            records.append((kernel_key(prim), tuple([position[id(p)] for p in parents])))
            order.append(node)
    return records, order, position, free


def _signature(
    roots: Sequence[Value], known: dict[Value, Any], outputs: Sequence[Value], loss: Value | None
) -> tuple[Any, ...]:
    """A value equal for two graphs exactly when their records are equal, computed fast.

    The records of :func:`_record_graph` name every node by position; here inputs,
    targets and parameters are named by their record instead and get no position, so
    the walk skips them in C (``filterfalse``, ``map``) rather than visiting each weight
    in Python. This runs for every sample that is checked.
    """
    ref = known  # the caller's copy: it gains the positions of the other nodes
    records: list[Any] = []
    seen = ref.__contains__
    lookup = ref.__getitem__
    for root in roots:
        if root in ref:
            continue
        if not root._prev:
            ref[root] = len(records)
            records.append(_leaf_record(root))
            continue
        stack = [(root, filterfalse(seen, _edges(root)[0]))]
        while stack:
            node, pending = stack[-1]
            for parent in pending:
                if parent._prev:
                    stack.append((parent, filterfalse(seen, _edges(parent)[0])))
                    break
                ref[parent] = len(records)
                records.append(_leaf_record(parent))
            else:
                stack.pop()
                prim = node.primitive
                if prim is None:
                    raise _hand_built(node)
                ref[node] = len(records)
                records.append((kernel_key(prim), tuple(map(lookup, _edges(node)[0]))))
    return (
        tuple(records),
        tuple(map(lookup, outputs)),
        None if loss is None else ref[loss],
    )


def _leaf_record(node: Value) -> Any:
    if node.requires_grad:
        return ("f", float.hex(node.data), True)
    return ("c", float.hex(node.data))


def _hand_built(node: Value) -> TypeError:
    return TypeError(
        f"compile cannot replay a hand-built node (op {node._op!r}) whose backward is a "
        "Python function; define the operation with autograd_lite.primitive() instead"
    )


def _rebuild_leaves(layout: Any, leaves: list[Value]) -> Any:
    return rebuild_sample(layout, leaves, ())


def _rebuild_target(layout: Any, leaves: list[Value], ints: Sequence[Any]) -> Any:
    return rebuild_sample(layout, leaves, ints)


# --------------------------------------------------------------------------------------
# Graphs: what the replay compiles
# --------------------------------------------------------------------------------------


class Graph:
    """A graph to replay: entries in topological order, with one or more label variants.

    ``entries[i]`` is a leaf record (``"c"`` holding a float, ``"lc"`` a tuple of floats
    per label) or ``(kernel, operands)`` where an operand is a position or
    ``("pick", positions per label)``. ``labels`` lists the label tuples in code order.
    """

    __slots__ = ("entries", "free", "labels", "loss", "n_x", "n_y", "outputs", "tables")

    def __init__(
        self,
        entries: list[Any],
        outputs: tuple[int, ...],
        loss: int | None,
        free: dict[int, Value],
        labels: list[tuple[Any, ...]],
        n_x: int,
        n_y: int,
    ) -> None:
        self.entries = entries
        self.outputs = outputs
        self.loss = loss
        self.free = free
        self.labels = labels
        self.n_x = n_x
        self.n_y = n_y
        # Embedding tables (vocabulary × dim parameter indices) read by "tok" entries.
        self.tables: list[Any] = []


def _entry(record: Any) -> Any:
    if record[0] == "c":
        return ("c", float.fromhex(record[1]))
    return record


def single_graph(t: Trace, n_x: int, n_y: int) -> Graph:
    """The graph of one trace (no labels, or a single label value)."""
    return Graph([_entry(r) for r in t.records], t.outputs, t.loss, t.free, [t.labels], n_x, n_y)


def merge_traces(traces: Sequence[Trace], n_x: int, n_y: int) -> Graph | None:
    """One graph for several label values, or None if their traces differ in shape.

    Traces merge when, position by position, they apply the same kernels to the same
    number of operands and differ only in which earlier nodes they read (those operands
    become picks, which must read per-sample nodes) and in constants (label constants).
    """
    reference = traces[0]
    if len(traces) == 1:
        return single_graph(reference, n_x, n_y)
    size = len(reference.records)
    for t in traces[1:]:
        if len(t.records) != size or t.outputs != reference.outputs or t.loss != reference.loss:
            return None
    entries: list[Any] = []
    batch: list[bool] = []  # whether each position varies per sample
    for position, record in enumerate(reference.records):
        column = [t.records[position] for t in traces]
        tag = record[0]
        if all(r == record for r in column):
            entry = _entry(record)
        elif tag == "c" and all(r[0] == "c" for r in column):
            entry = ("lc", tuple(float.fromhex(r[1]) for r in column))
        elif tag not in LEAF_TAGS and all(
            r[0] not in LEAF_TAGS and r[0] == tag and len(r[1]) == len(record[1]) for r in column
        ):
            operands: list[Any] = []
            for slot in range(len(record[1])):
                choices = tuple(r[1][slot] for r in column)
                if all(c == choices[0] for c in choices):
                    operands.append(choices[0])
                elif all(batch[c] for c in choices):
                    operands.append(("pick", choices))
                else:
                    return None  # a label choosing between parameters: not worth a kernel
            entry = (tag, tuple(operands))
        else:
            return None
        entries.append(entry)
        batch.append(_varies(entry, batch))
    return Graph(
        entries,
        reference.outputs,
        reference.loss,
        reference.free,
        [t.labels for t in traces],
        n_x,
        n_y,
    )


def _varies(entry: Any, batch: list[bool]) -> bool:
    """Whether an entry's value can differ between samples."""
    tag = entry[0]
    if tag in ("x", "y", "lc", "tok"):
        return True
    if tag in LEAF_TAGS:
        return False
    return any(isinstance(o, tuple) or batch[o] for o in entry[1])
