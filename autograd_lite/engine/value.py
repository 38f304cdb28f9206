"""``Value``: a scalar that remembers how it was computed, and ``backward()``.

Each node stores its parents and the local derivatives d(node)/d(parent), computed at
forward time by its primitive (``primitives.py``). ``backward()`` orders the graph
(``traversal.py``) and runs one loop: ``parent.grad += local * node.grad``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from autograd_lite.engine.floats import _ACCEPTED, _as_float, _check_flag
from autograd_lite.engine.modes import _busy, _checked_backward_step, _local

if TYPE_CHECKING:
    from autograd_lite.engine.primitives import Primitive


class Value:
    """A scalar that remembers how it was computed.

    ``Value(data, label="x")`` makes a leaf that takes gradients; ``requires_grad=False``
    makes a constant. Arithmetic with Values or plain numbers on either side, and the
    methods ``exp``, ``log``, ``tanh`` ..., record new nodes. ``.data`` is the number,
    ``.grad`` d(root)/d(self) after ``root.backward()``, ``._prev`` the parents in argument
    order, ``._op`` the operation's symbol. Nodes hash and compare by identity.

    The positional ``_children`` and ``_op`` arguments exist so that code written for
    micrograd, which builds nodes by hand and assigns ``_backward``, runs unchanged.
    """

    # ``_n``: how many of the shared term lists a ``sum_products`` node owns (see fold.py);
    # other nodes never set it.
    __slots__ = ("_fn", "_info", "_local", "_n", "_prev", "data", "grad", "requires_grad")

    data: float
    grad: Any
    requires_grad: bool

    def backward(self, gradient: float | None = None, *, create_graph: bool = False) -> None:
        """Fill ``.grad`` of every node that leads to this one with d(self)/d(node).

        Leaves accumulate into ``.grad`` across calls (zero them with ``zero_grad()`` or
        by assigning 0.0); interior nodes are overwritten with this pass's gradient.
        With ``create_graph=True`` the gradients are Values, themselves differentiable.
        """
        seed = 1.0 if gradient is None else _as_float(gradient, "backward(gradient)")
        _check_flag(create_graph, "create_graph", "backward()")
        if not self.requires_grad:
            raise RuntimeError(
                "backward() was called on a constant: this Value does not require grad "
                "(it was built from constants or inside no_grad())"
            )
        if create_graph:
            self._backward_create_graph(seed)
            return
        if not self._prev:  # a leaf: nothing to propagate
            self.grad += seed
            return
        order = _interior_order([self])
        for node in order:
            node.grad = 0.0  # interior nodes hold this pass's gradient only
        self.grad = seed
        if _local.state.anomaly:
            for node in reversed(order):
                _checked_backward_step(node)
            return
        # The hot loop: one multiply-add per edge, local derivatives already computed.
        for node in reversed(order):
            local = node._local
            if local is None:
                node.backward_step()  # a hand-built, micrograd-style node
                continue
            grad = node.grad
            fn = node._fn
            if fn is DOT_RELU and node.data == 0.0 and grad - grad == 0.0:
                # A dead fused ReLU: every local derivative is 0.0, and times a finite
                # gradient adds nothing, so its (many) edges are skipped. Its parents
                # were zeroed above, as this pass's interior nodes all are.
                continue
            if fn is SUM_PRODUCTS and len(local) != node._n:
                local = local[: node._n]  # its own terms of the lists it shares (fold.py)
            for parent, d in zip(node._prev, local):
                if parent.requires_grad:
                    parent.grad += d * grad

    def backward_step(self) -> None:
        """Apply this node's local chain-rule step: each parent's grad += local * self.grad."""
        custom = self._get_meta("backward")
        if custom is not None:
            custom()
            return
        if self._local is None:
            return
        grad = self.grad
        for parent, local in zip(*_edges(self)):
            if parent.requires_grad:
                parent.grad += local * grad

    def __init__(
        self,
        data: float,
        _children: Iterable[Value] = (),
        _op: str = "",
        label: str = "",
        *,
        requires_grad: bool = True,
    ) -> None:
        self.data = _as_float(data, "Value()")
        self.grad = 0.0
        children = tuple(_children)
        for child in children:
            if not isinstance(child, Value):
                raise TypeError(f"Value(): _children must be Values, got {type(child).__name__}")
        self._prev = children
        self._local = None
        self._fn = None
        if not isinstance(label, str):
            raise TypeError(f"Value(): label must be a str, got {type(label).__name__}")
        self.requires_grad = _check_flag(requires_grad, "requires_grad", "Value()")
        # The scope alone, shared by every node made in it; an _Info once a node has a
        # label or other details (see _Info).
        self._info: tuple[str, ...] | _Info = _local.state.scope
        if label:
            self.label = label
        if _op:
            self._set_meta("op", str(_op))

    def _details(self) -> _Info:
        info = self._info
        if type(info) is not _Info:
            self._info = info = _Info(info)
        return info

    def _set_meta(self, key: str, value: Any) -> None:
        self._details().meta[key] = value

    def _get_meta(self, key: str) -> Any:
        info = self._info
        return info.meta.get(key) if type(info) is _Info else None

    @property
    def label(self) -> str:
        """A name for drawings and messages ('' if none)."""
        info = self._info
        return info.label if type(info) is _Info else ""

    @label.setter
    def label(self, label: str) -> None:
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        self._details().label = label

    @property
    def _op(self) -> str:
        """The operation's symbol, as micrograd names it ('+', '*', 'tanh'); '' for a leaf."""
        if self._fn is not None:
            return self._fn.symbol
        return self._get_meta("op") or ""

    @property
    def op(self) -> str:
        """The name of the operation that made this node ('add', 'tanh'); '' for a leaf."""
        if self._fn is not None:
            return self._fn.name
        return self._get_meta("op") or ""

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the operation that made this node, in argument order."""
        return tuple(_edges(self)[0])

    @property
    def local_derivatives(self) -> tuple[Any, ...] | None:
        """d(self)/d(parent) for each parent, as computed at forward time (None for leaves)."""
        return None if self._local is None else tuple(_edges(self)[1])

    @property
    def primitive(self) -> Primitive | None:
        """The primitive that made this node, or None for leaves and hand-built nodes."""
        return self._fn

    @property
    def is_leaf(self) -> bool:
        """True for nodes with no parents: inputs, parameters and constants."""
        return not self._prev

    @property
    def scope(self) -> tuple[str, ...]:
        """The ``name_scope`` path the node was created in (``()`` if none)."""
        info = self._info
        return info.scope if type(info) is _Info else info

    @property
    def created_at(self) -> tuple[str, int, str] | None:
        """(file, line, function) of the user code that created the node, if recorded."""
        return self._get_meta("site")

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's name for :meth:`backward_step`; assignable, as micrograd code does."""
        custom = self._get_meta("backward")
        return custom if custom is not None else self.backward_step

    @_backward.setter
    def _backward(self, function: Callable[[], None]) -> None:
        if not callable(function):
            raise TypeError(f"_backward must be callable, got {type(function).__name__}")
        self._set_meta("backward", function)

    def _backward_create_graph(self, seed: float) -> None:
        order = topological_order(self, requires_grad_only=True)  # leaves too: they get grads
        grads = _backpropagate([self], [seed], order, create_graph=True)
        for node in order:
            g = grads.get(node, 0.0)
            if node._prev:
                # Interior nodes keep the number only: a gradient graph stored on one would
                # refer back to it (a reference cycle), and nothing differentiates it again.
                node.grad = g.data if isinstance(g, Value) else g
            else:
                # A leaf's gradient graph refers back to the leaf: a cycle, as in PyTorch;
                # zero_grad() (x.grad = 0.0) breaks it. See the module docstring.
                node.grad = node.grad + g

    def detach(self) -> Value:
        """A constant with the same data, cut from the graph."""
        return _constant(self.data)

    def item(self) -> float:
        """The data as a Python float (as ``torch.Tensor.item``)."""
        return self.data

    def exp(self) -> Value:
        """e ** self; ``inf`` on overflow."""
        return _unary(EXP, self)

    def log(self) -> Value:
        """Natural logarithm; ``log(0) = -inf``, negative input raises ValueError."""
        return _unary(LOG, self)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return _unary(TANH, self)

    def sigmoid(self) -> Value:
        """1 / (1 + e ** -self), computed without overflow."""
        return _unary(SIGMOID, self)

    def relu(self) -> Value:
        """max(self, 0); the derivative at 0 is 0."""
        data = self.data
        scope = () if not _busy else _local.state.fast_scope
        if scope is not None and self.requires_grad:  # RELU inlined, as in __add__
            if data <= 0:
                return _node(0.0 if data < 0 else data, (self,), _ZERO, RELU, scope)
            return _node(data, (self,), _ONE, RELU, scope)  # data > 0, or nan (kept)
        return _unary(RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """self if self > 0 else negative_slope * self; the derivative at 0 is the slope."""
        return _unary(_leaky_relu_primitive(_as_float(negative_slope, "leaky_relu")), self)

    def softplus(self) -> Value:
        """log(1 + e ** self), computed without overflow."""
        return _unary(SOFTPLUS, self)

    def sin(self) -> Value:
        """Sine."""
        return _unary(SIN, self)

    def cos(self) -> Value:
        """Cosine."""
        return _unary(COS, self)

    def sqrt(self) -> Value:
        """Square root; the derivative at 0 is ``inf``; negative input raises ValueError."""
        return _unary(SQRT, self)

    def __add__(self, other: Any) -> Value:
        # The hottest operations inline ADD's and MUL's forward and rule for two Values
        # (one Python call instead of four; see benchmarks/bench_engine.py). The table
        # entries stay the definition: tests check that both paths agree.
        if type(other) is Value:
            scope = () if not _busy else _local.state.fast_scope
            if self._fn is SUM_PRODUCTS and self._info is scope:
                # The next term of a sum(): a new node, one pair longer, sharing the term
                # lists (fold.py says why this is sound). _extend_sum is the definition;
                # its common case is written out here, one Python call fewer per term.
                n = self._n
                prev = self._prev
                if len(prev) == n and other._fn is MUL and other._info is scope:
                    locals_ = self._local
                    prev += other._prev
                    locals_ += other._local
                    if len(prev) == n + 2 and len(locals_) == n + 2:  # no one else appended
                        node = _new_object(Value)
                        node.data = self.data + other.data
                        node.grad = 0.0
                        node._prev = prev
                        node._local = locals_
                        node._n = n + 2
                        node._fn = SUM_PRODUCTS
                        node.requires_grad = True
                        node._info = scope
                        return node
                return _extend_sum(self, other, scope)
            if scope is not None and (self.requires_grad or other.requires_grad):
                return _node(self.data + other.data, (self, other), _ONE_ONE, ADD, scope)
        return _binary(ADD, self, other)

    def __radd__(self, other: Any) -> Value:
        if (type(other) is int or type(other) is float) and other == 0 and self._fn is not None:
            scope = () if not _busy else _local.state.fast_scope
            if self._info is scope:
                return _start_sum(other, self, scope)  # sum()'s start, 0 + term: fold.py
        return _binary(ADD, other, self)

    def __mul__(self, other: Any) -> Value:
        if type(other) is Value:  # inlined MUL, as in __add__
            scope = () if not _busy else _local.state.fast_scope
            if scope is not None and (self.requires_grad or other.requires_grad):
                a, b = self.data, other.data
                node = _new_object(Value)
                node.data = a * b
                node.grad = 0.0
                node._prev = (self, other)
                node._local = (b, a)
                node._fn = MUL
                node.requires_grad = True
                node._info = scope
                return node
        elif type(other) is float and self.requires_grad:  # w * x, x a number: as _binary does
            scope = () if not _busy else _local.state.fast_scope
            if scope is not None:
                a = self.data
                node = _new_object(Value)
                node.data = a * other
                node.grad = 0.0
                node._prev = (self, _constant(other))
                node._local = (other, a)
                node._fn = MUL
                node.requires_grad = True
                node._info = scope
                return node
        return _binary(MUL, self, other)

    def __rmul__(self, other: Any) -> Value:
        return _binary(MUL, other, self)

    def __neg__(self) -> Value:
        return _unary(NEG, self)

    def __pos__(self) -> Value:
        return self

    def __sub__(self, other: Any) -> Value:
        return self + _negate_operand(other, "-")

    def __rsub__(self, other: Any) -> Value:
        return _binary(ADD, _check_operand(other, "-"), -self)

    def __truediv__(self, other: Any) -> Value:
        return _binary(DIV, self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _binary(DIV, other, self)

    def __pow__(self, exponent: Any) -> Value:
        return power(self, _check_operand(exponent, "**"))

    def __rpow__(self, base: Any) -> Value:
        return power(_check_operand(base, "**"), self)

    def __abs__(self) -> Value:
        return _unary(ABS, self)

    # Ordering compares data, so max(), sorted() and `if loss < best` work. Equality stays
    # identity: nodes are dictionary keys and set members throughout the library.
    def __lt__(self, other: Any) -> bool:
        return self.data < _comparable(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _comparable(other)

    def __gt__(self, other: Any) -> bool:
        return self.data > _comparable(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _comparable(other)

    __hash__ = object.__hash__

    def __float__(self) -> float:
        return self.data

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    def __repr__(self) -> str:
        parts = [f"data={self.data:.6g}", f"grad={_short(self.grad)}"]
        op = self.op
        if op:
            parts.append(f"op={op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        if not self.requires_grad:
            parts.append("requires_grad=False")
        return f"Value({', '.join(parts)})"


class _Info:
    """What few nodes have: a label, the site that made it, a hand-built op or backward.

    Kept apart so that a node is eight slots; ``node._info`` is the node's scope tuple
    until it gets one of these.
    """

    __slots__ = ("label", "meta", "scope")

    def __init__(self, scope: tuple[str, ...]) -> None:
        self.scope = scope
        self.label = ""
        self.meta: dict[str, Any] = {}


# ``.data`` of a Value, read by the slot's descriptor: a TypeError for anything else, even an
# object that has a .data of its own (a tensor), at the speed of an attribute read.
_data_of = Value.__dict__["data"].__get__


_new_object = object.__new__


def _node(
    data: float,
    parents: tuple[Value, ...],
    local: tuple[Any, ...],
    prim: Primitive,
    scope: tuple[str, ...],
) -> Value:
    """A new interior node; bypasses ``__init__``'s checks because its inputs are known good."""
    node = _new_object(Value)
    node.data = data
    node.grad = 0.0
    node._prev = parents
    node._local = local
    node._fn = prim
    node.requires_grad = True
    node._info = scope
    return node


def _constant(data: float, scope: tuple[str, ...] = ()) -> Value:
    node = _new_object(Value)
    node.data = data
    node.grad = 0.0
    node._prev = ()
    node._local = None
    node._fn = None
    node.requires_grad = False
    node._info = scope
    return node


def _edges(node: Value) -> tuple[Sequence[Value], Sequence[Any]]:
    """A node's parents and local derivatives: for a ``sum_products`` node, only its own
    terms of the lists it shares with the sums that extend it (fold.py)."""
    prev = node._prev
    if node._fn is SUM_PRODUCTS and len(prev) != node._n:
        n = node._n
        return prev[:n], node._local[:n]
    return prev, node._local


def _short(grad: Any) -> str:
    return f"{grad:.6g}" if isinstance(grad, float) else repr(grad)


def _comparable(other: Any) -> float:
    if isinstance(other, Value):
        return other.data
    if isinstance(other, numbers.Real):
        return other  # type: ignore[return-value]
    raise TypeError(f"cannot compare a Value with {type(other).__name__}; expected {_ACCEPTED}")


def _check_operand(other: Any, op: str) -> Any:
    if isinstance(other, Value) or type(other) is float:
        return other
    if isinstance(other, numbers.Real):
        # Through _as_float: an int too large for a float is a ValueError, not an OverflowError.
        return _as_float(other, f"operand of {op}")
    raise TypeError(
        f"unsupported operand for {op} with a Value: expected {_ACCEPTED}, "
        f"got {type(other).__name__}"
    )


def _negate_operand(other: Any, op: str) -> Any:
    other = _check_operand(other, op)
    return -other


# The one seam in the engine's bottom-up order (floats, modes -> value -> primitives, fold,
# traversal -> dense): Value's operators *are* the primitives applied, and those modules
# build Values. They are imported last, so each of them can import Value; Value's
# methods only call them, after both are loaded.
from autograd_lite.engine.fold import _extend_sum, _start_sum  # noqa: E402
from autograd_lite.engine.primitives import (  # noqa: E402
    _ONE,
    _ONE_ONE,
    _ZERO,
    ABS,
    ADD,
    COS,
    DIV,
    DOT_RELU,
    EXP,
    LOG,
    MUL,
    NEG,
    RELU,
    SIGMOID,
    SIN,
    SOFTPLUS,
    SQRT,
    SUM_PRODUCTS,
    TANH,
    _binary,
    _leaky_relu_primitive,
    _unary,
    power,
)
from autograd_lite.engine.traversal import (  # noqa: E402
    _backpropagate,
    _interior_order,
    topological_order,
)
