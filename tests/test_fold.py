"""Tests for autograd_lite.engine.fold: a sum() of products built as one node.

The fast path must be invisible apart from the node count: the same values, bit for
bit, as the unfolded graph (the reference path, obtained by turning folding off, and an
independent micrograd-style engine written here), the same leaf gradients (PyTorch
float64 as the oracle), and no node anyone holds ever changed, whoever calls ``+``.
The caller tier is tests/test_fold_callers.py.
"""

from __future__ import annotations

import functools
import gc
import math
import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import Value
from autograd_lite.engine import fold, value


def turn_folding_off(patch: pytest.MonkeyPatch) -> None:
    """Every ``+`` makes its own ``add`` node: the reference path."""
    from autograd_lite.engine.primitives import ADD, _binary

    patch.setattr(value, "_extend_sum", lambda total, term, scope: _binary(ADD, total, term))
    patch.setattr(value, "_start_sum", lambda zero, term, scope: _binary(ADD, zero, term))


@pytest.fixture
def unfolded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Folding off: every ``+`` makes its own node, as the reference path does."""
    turn_folding_off(monkeypatch)
    yield


def same_float(a: float, b: float) -> bool:
    """Equal bit for bit: nan matches nan, and 0.0 does not match -0.0."""
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def interior(root: Value) -> list[Value]:
    return [n for n in ag.topological_order(root) if n.parents]


finite = st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, -0.0, 1e-300, -1e300])
anything = finite | st.sampled_from([math.inf, -math.inf, math.nan])


def sum_of_products(pairs: list[tuple[float, float]]) -> tuple[Value, list[Value]]:
    leaves = [Value(v) for pair in pairs for v in pair]
    return sum(w * x for w, x in zip(leaves[::2], leaves[1::2])), leaves


def test_folding_reads_no_reference_counts() -> None:
    """The fast path is sound by construction: fold.py never asks who holds a node."""
    import inspect

    source = inspect.getsource(fold) + inspect.getsource(value)
    assert "getrefcount" not in source and "_calibrate" not in source


def test_a_sum_of_products_is_one_node() -> None:
    """sum(w * x for ...) is one sum_products node: the start (0 * 1.0), then the factors."""
    w = [Value(float(i)) for i in range(5)]
    x = [Value(0.5 * i) for i in range(5)]
    total = sum(wi * xi for wi, xi in zip(w, x))
    assert total.op == "sum_products"
    start, one, *factors = total.parents
    assert (start.data, one.data, start.requires_grad, one.requires_grad) == (
        0.0,
        1.0,
        False,
        False,
    )
    assert factors == [v for pair in zip(w, x) for v in pair]
    assert interior(total) == [total]


@given(st.lists(st.tuples(anything, anything), min_size=1, max_size=12))
def test_folded_values_are_the_unfolded_values_bit_for_bit(pairs: list) -> None:
    """The same float additions in the same order: equal to the reference path, nan and -0.0 too."""
    folded, _ = sum_of_products(pairs)
    with pytest.MonkeyPatch.context() as patch:
        turn_folding_off(patch)
        reference, _ = sum_of_products(pairs)
    assert reference.op != "sum_products"
    assert same_float(folded.data, reference.data)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=12))
def test_folded_gradients_are_the_unfolded_gradients(pairs: list) -> None:
    """Each leaf gets the same gradient as on the reference path (each leaf used once)."""
    folded, leaves = sum_of_products(pairs)
    folded.backward()
    with pytest.MonkeyPatch.context() as patch:
        turn_folding_off(patch)
        reference, reference_leaves = sum_of_products(pairs)
    reference.backward()
    assert [v.grad for v in leaves] == [v.grad for v in reference_leaves]


def test_gradients_match_torch_when_leaves_are_shared() -> None:
    """A leaf in several terms (x*x, shared inputs) gets PyTorch's float64 gradient."""
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this test")
    data = [0.3, -1.7, 2.5, 0.0, -0.25]
    xs = [Value(v) for v in data]
    ws = [Value(v * 0.5 - 1.0) for v in data]
    rows = [sum(w * x for w, x in zip(ws[i:] + ws[:i], xs)) for i in range(3)]
    squares = sum(x * x for x in xs)
    loss = sum(r.tanh() for r in rows) + squares * squares
    loss.backward()
    tx = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor([v * 0.5 - 1.0 for v in data], dtype=torch.float64, requires_grad=True)
    t_rows = [(torch.roll(tw, -i) * tx).sum() for i in range(3)]
    t_loss = sum(r.tanh() for r in t_rows) + (tx * tx).sum() ** 2
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-13)
    for ours, theirs in zip([*xs, *ws], [*tx.grad.tolist(), *tw.grad.tolist()]):
        assert ours.grad == pytest.approx(theirs, rel=1e-12, abs=1e-12)


def test_nodes_the_user_holds_never_change() -> None:
    """The lecture's neuron keeps every node, and a sum() of held products changes none."""
    x1, w1, x2, w2 = Value(2.0), Value(-3.0), Value(0.0), Value(1.0)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    n = x1w1 + x2w2
    assert (x1w1.op, x1w1.parents) == ("mul", (x1, w1))
    assert (n.op, n.parents) == ("add", (x1w1, x2w2))
    terms = [x1 * w1, x2 * w2]  # held by the list
    total = sum(terms)
    assert [(t.op, t.parents, t.data) for t in terms] == [
        ("mul", (x1, w1), -6.0),
        ("mul", (x2, w2), 0.0),
    ]
    assert total.data == -6.0 and total is not terms[0]


def test_written_out_sums_keep_their_nodes() -> None:
    """a*b + c*d written out stays add(mul, mul): only sum(), which starts from 0, folds."""
    a, b, c, d = (Value(v) for v in (1.0, 2.0, 3.0, 4.0))
    out = a * b + c * d
    assert out.op == "add" and [p.op for p in out.parents] == ["mul", "mul"]


def test_a_held_sum_is_extended_into_a_new_node_and_left_alone() -> None:
    """Adding to a sum the user holds makes a new node; the held one keeps its terms and value."""
    w, x, b, c = Value(2.0), Value(3.0), Value(1.0), Value(10.0)
    s = sum(wi * xi for wi, xi in [(w, x), (x, w)])
    parents, local = s.parents, s.local_derivatives
    out = s + b
    again = s + c  # s is extended a second time: it must not see b
    assert (out.data, again.data, s.data) == (13.0, 22.0, 12.0)
    assert out.parents == (*parents, b, fold._ONE_NODE)
    assert again.parents == (*parents, c, fold._ONE_NODE)
    assert (s.parents, s.local_derivatives) == (parents, local)
    again.backward()
    assert (w.grad, x.grad, b.grad, c.grad) == (6.0, 4.0, 0.0, 1.0)


def test_a_folded_product_or_partial_sum_is_not_in_the_pass() -> None:
    """The documented convention: backward() from a sum reaches the leaves, not folded terms."""
    w, x = Value(2.0), Value(3.0)
    product = w * x
    total = sum([product, product])
    total.backward()
    assert (w.grad, x.grad, product.grad) == (6.0, 4.0, 0.0)
    assert product not in ag.topological_order(total)


def test_terms_that_are_not_products_fold_with_a_factor_of_one() -> None:
    """sum(v.exp() for ...) folds too: each term is (term, 1.0), values exactly the same."""
    xs = [Value(v) for v in (0.1, -2.0, 3.5)]
    total = sum(x.exp() for x in xs)
    assert total.op == "sum_products"
    assert total.data == math.exp(0.1) + math.exp(-2.0) + math.exp(3.5)
    total.backward()
    assert [x.grad for x in xs] == [math.exp(0.1), math.exp(-2.0), math.exp(3.5)]


def test_the_shape_of_a_sum_does_not_depend_on_its_data() -> None:
    """0 + (-0.0) is 0.0, so the start is always a term: compiled replay sees one shape."""
    negative_zero = sum(w * x for w, x in [(Value(-0.0), Value(1.0)), (Value(-0.0), Value(2.0))])
    assert same_float(negative_zero.data, 0.0)
    forward = negative_zero.primitive.forward
    assert same_float(forward(*(p.data for p in negative_zero.parents)), 0.0)
    plain = sum(w * x for w, x in [(Value(-1.0), Value(2.0)), (Value(3.0), Value(0.5))])
    assert len(plain.parents) == len(negative_zero.parents)


def test_the_primitive_recomputes_the_stored_value() -> None:
    """sum_products' forward, on the parents' data, gives the node's value: replay sees it."""
    w = [Value(0.1 * i - 0.3) for i in range(7)]
    x = [Value(1.0 / (i + 1)) for i in range(7)]
    total = sum(wi * xi for wi, xi in zip(w, x))
    assert total.op == "sum_products"
    assert total.primitive.forward(*(p.data for p in total.parents)) == total.data


def test_interior_gradients_stay_visible_on_held_nodes() -> None:
    """A held folded sum gets its .grad like any interior node."""
    w = [Value(0.5), Value(-0.25)]
    x = [Value(2.0), Value(4.0)]
    h = sum(wi * xi for wi, xi in zip(w, x))
    out = h.tanh()
    out.backward()
    assert h.grad == pytest.approx(1.0 - math.tanh(0.0) ** 2)
    assert [v.grad for v in w] == [2.0 * h.grad, 4.0 * h.grad]


def test_second_derivatives_through_a_folded_node() -> None:
    """create_graph=True differentiates the folded node again: d2/dx2 sum(c*x*x) = 2*sum(c)."""
    x = Value(1.5)
    cs = [0.5, -2.0, 3.0]
    f = sum(Value(c, requires_grad=False) * x * x for c in cs)
    (dfdx,) = ag.gradients(f, [x], create_graph=True)
    assert dfdx.data == pytest.approx(2 * sum(cs) * 1.5)
    (d2,) = ag.gradients(dfdx, [x])
    assert d2 == pytest.approx(2 * sum(cs))


def test_no_folding_without_recording() -> None:
    """Inside no_grad() the sum is a constant; under detect_anomaly() nothing folds."""
    w, x = Value(2.0), Value(3.0)
    with ag.no_grad():
        assert not sum(a * b for a, b in [(w, x), (x, w)]).requires_grad
    with ag.detect_anomaly():
        total = sum(a * b for a, b in [(w, x), (x, w)])
    assert total.op == "add"


def test_a_folded_graph_is_freed_by_reference_counting() -> None:
    """Dropping a folded graph frees it without the cyclic collector."""
    gc.collect()
    gc.disable()
    try:
        before = sum(type(o) is Value for o in gc.get_objects())
        w = [Value(float(i)) for i in range(20)]
        total = sum(a * b for a, b in zip(w, w[::-1]))
        total.backward()
        del total, w
        after = sum(type(o) is Value for o in gc.get_objects())
    finally:
        gc.enable()
    assert after == before


def test_other_threads_modes_do_not_leak() -> None:
    """no_grad() in one thread leaves another recording (the hot paths' shortcut is per thread)."""
    entered, release = threading.Event(), threading.Event()

    def quiet() -> None:
        with ag.no_grad():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=quiet)
    thread.start()
    entered.wait(5)
    try:
        w, x = Value(2.0), Value(3.0)
        total = sum(a * b for a, b in [(w, x), (x, w)])
        assert total.requires_grad and total.op == "sum_products"
    finally:
        release.set()
        thread.join()
    with ag.no_grad():
        seen = []
        worker = threading.Thread(
            target=lambda: seen.append((Value(1.0) * Value(2.0)).requires_grad)
        )
        worker.start()
        worker.join()
    assert seen == [True]


def test_the_unfolded_fixture_turns_folding_off(unfolded: None) -> None:
    """With folding off, sum() builds the chain of add nodes the reference path makes."""
    w = [Value(1.0), Value(2.0), Value(3.0)]
    total = sum(a * a for a in w)
    assert total.op == "add" and len(interior(total)) == 6


def test_a_hand_written_model_compiles_to_the_interpreted_numbers() -> None:
    """compile_loss replays a micrograd-style model (sum() of products) on data with zeros."""
    pytest.importorskip("numpy")
    from autograd_lite.compile import compile_loss

    class Neuron:
        def __init__(self) -> None:
            self.w = [Value(-0.5), Value(0.25), Value(1.5)]
            self.b = Value(0.1)

        def parameters(self) -> list[Value]:
            return [*self.w, self.b]

        def __call__(self, x: list[float]) -> Value:
            return (sum(wi * xi for wi, xi in zip(self.w, x)) + self.b).tanh()

    def loss(out: Value, target: float) -> Value:
        return (out - target) ** 2

    model = Neuron()
    X = [[0.0, 1.0, 2.0], [3.0, 0.0, -1.0], [0.5, 0.5, 0.0]]  # -0.5 * 0.0 is -0.0
    y = [0.5, -0.25, 1.0]
    step = compile_loss(model, loss, X[0], y[0], check="every-batch", check_samples=None)
    compiled_loss = step.backward(X, y)
    compiled_grads = [p.grad for p in model.parameters()]
    for p in model.parameters():
        p.grad = 0.0
    total = ag.sum_values([loss(model(x), t) for x, t in zip(X, y)]) / len(X)
    total.backward()
    assert compiled_loss == pytest.approx(total.data, rel=1e-12)
    assert compiled_grads == pytest.approx([p.grad for p in model.parameters()], rel=1e-12)


# ---- the caller tier: whoever calls +, nothing anyone holds changes ---------------------
#
# Each generated program builds sums of products (fresh and held), extends sums it
# holds, and reuses nodes; every `+` goes through one of several callers (Python code,
# C callers that pass references they do not own, NumPy object arrays). The values are
# compared bit for bit with an independent micrograd-style engine (`Ref`, below), the
# leaf gradients with its gradients, and every node the program made, held all along by
# a list, is checked unchanged at the end.


class Ref:
    """A minimal unfolded engine: one node per operation, gradients by a topological sort."""

    __slots__ = ("children", "data", "grad", "local")

    def __init__(self, data: float, children: tuple = (), local: tuple = ()) -> None:
        self.data, self.grad, self.children, self.local = data, 0.0, children, local

    def __add__(self, other: object) -> Ref:
        other = other if isinstance(other, Ref) else Ref(float(other))  # type: ignore[arg-type]
        return Ref(self.data + other.data, (self, other), (1.0, 1.0))

    def __radd__(self, other: object) -> Ref:
        return Ref(float(other)) + self  # type: ignore[arg-type]

    def __mul__(self, other: Ref) -> Ref:
        return Ref(self.data * other.data, (self, other), (other.data, self.data))

    def backward(self) -> None:
        order: list[Ref] = []
        seen: set[int] = set()
        stack: list[tuple[Ref, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((c, False) for c in node.children)
        self.grad = 1.0
        for node in reversed(order):
            for child, d in zip(node.children, node.local):
                child.grad += d * node.grad


def _numpy() -> object:
    return pytest.importorskip("numpy", reason="NumPy object arrays are one of the callers")


def _add_via(caller: str, a: object, b: object) -> object:
    """a + b, called the way ``caller`` names."""
    import functools
    import itertools
    import operator

    if caller == "direct":
        return a + b  # type: ignore[operator]
    if caller == "operator":
        return operator.add(a, b)
    if caller == "partial":
        return functools.partial(operator.add, a)(b)
    if caller == "bound":
        return next(map(a.__add__, [b])) if not isinstance(a, (int, float)) else a + b  # type: ignore[operator]
    if caller == "starmap":
        return next(itertools.starmap(operator.add, [(a, b)]))
    if caller == "reduce":
        return functools.reduce(operator.add, [a, b])
    np = _numpy()
    left, right = np.empty(1, dtype=object), np.empty(1, dtype=object)  # type: ignore[attr-defined]
    left[0], right[0] = a, b
    return (left + right)[0]


def _sum_via(caller: str, terms: list) -> object:
    """sum(terms) as ``caller`` writes it; every form starts from 0 as sum() does."""
    import functools
    import itertools
    import operator

    if caller == "sum":
        return sum(terms)
    if caller == "reduce":
        return functools.reduce(operator.add, terms, 0)
    if caller == "accumulate":
        partials = list(itertools.accumulate(terms, operator.add, initial=0))
        return partials[-1]
    if caller == "radd-map":  # 0 + first through a bound method, then bound __add__
        total = next(map(terms[0].__radd__, [0]))
        for t in terms[1:]:
            total = next(map(total.__add__, [t]))
        return total
    np = _numpy()
    array = np.empty(len(terms), dtype=object)  # type: ignore[attr-defined]
    array[:] = terms
    return (0 + array[:1])[0] if len(terms) == 1 else np.add.reduce(np.concatenate([[0], array]))  # type: ignore[attr-defined]


def _sum_of_squares(factors: list) -> object:
    return sum(a * a for a in factors)


def _held_by_c(caller: str, make_sum: Callable[[], object], terms: list) -> list:
    """Results of ``held + t`` for each t, where only a C object holds ``held``."""
    import functools
    import operator

    if caller == "partial":
        add = functools.partial(operator.add, make_sum())
        return [add(t) for t in terms] + [add.args[0]]
    if caller == "map":
        return list(map(make_sum().__add__, terms))
    np = _numpy()
    array = np.empty(1, dtype=object)  # type: ignore[attr-defined]
    array[0] = make_sum()
    return [(array + t)[0] for t in terms] + [array[0]]


ADD_CALLERS = ["direct", "operator", "partial", "bound", "starmap", "reduce", "numpy"]
SUM_CALLERS = ["sum", "reduce", "accumulate", "radd-map", "numpy"]

statement = st.one_of(
    st.tuples(st.just("prod"), st.integers(0, 99), st.integers(0, 99)),
    st.tuples(
        st.just("sum"),
        st.lists(st.integers(0, 99), min_size=1, max_size=6),
        st.sampled_from(SUM_CALLERS),
        st.booleans(),
    ),
    st.tuples(  # a fresh sum held only by a C caller, which adds to it several times
        st.just("held-by-c"),
        st.lists(st.integers(0, 99), min_size=1, max_size=4),
        st.sampled_from(["partial", "map", "numpy"]),
        st.lists(st.integers(0, 99), min_size=2, max_size=3),
    ),
    st.tuples(
        st.just("extend"), st.integers(0, 99), st.integers(0, 99), st.sampled_from(ADD_CALLERS)
    ),
)


def run_program(V: type, leaves: list[float], program: list) -> tuple[list, list]:
    """Run ``program`` on engine ``V``; every node made stays in the returned list."""
    xs = [V(v) for v in leaves]
    nodes: list = list(xs)
    for op, *args in program:
        if op == "prod":
            nodes.append(nodes[args[0] % len(nodes)] * nodes[args[1] % len(nodes)])
        elif op == "sum":
            picks, caller, fresh = args
            if fresh:  # products made inside the sum: temporaries nobody else holds
                factors = [nodes[i % len(nodes)] for i in picks]
                terms = [a * b for a, b in zip(factors, factors[::-1])]
                nodes.append(_sum_via(caller, terms))
                del terms
            else:
                nodes.append(_sum_via(caller, [nodes[i % len(nodes)] for i in picks]))
        elif op == "held-by-c":
            picks, caller, others = args
            factors = [nodes[i % len(nodes)] for i in picks]
            terms = [nodes[i % len(nodes)] for i in others]
            nodes.extend(_held_by_c(caller, functools.partial(_sum_of_squares, factors), terms))
        else:
            total, term, caller = args
            nodes.append(_add_via(caller, nodes[total % len(nodes)], nodes[term % len(nodes)]))
    return xs, nodes


def snapshot(node: Value) -> tuple:
    return (
        struct_bits(node.data),
        node.op,
        tuple(map(id, node.parents)),
        tuple(map(struct_bits, node.local_derivatives or ())),
    )


def struct_bits(x: float) -> bytes:
    import struct

    return struct.pack("<d", float(x))


def check_program(leaves: list[float], program: list) -> None:
    xs, nodes = run_program(Value, leaves, program)
    before = [snapshot(n) for n in nodes]
    ref_xs, ref_nodes = run_program(Ref, leaves, program)
    # Values: the same float operations in the same order, so the same bits.
    assert [struct_bits(n.data) for n in nodes] == [struct_bits(r.data) for r in ref_nodes]
    root, ref_root = nodes[-1], ref_nodes[-1]
    if root.requires_grad and root.parents:
        root.backward()
        ref_root.backward()
        for ours, theirs in zip(xs, ref_xs):
            if math.isfinite(theirs.grad):
                assert ours.grad == pytest.approx(theirs.grad, rel=1e-12, abs=1e-300)
            else:
                assert same_float(ours.grad, theirs.grad) or math.isnan(theirs.grad)
    # Nothing any caller computed changed a node the program holds.
    assert [snapshot(n) for n in nodes] == before


small = st.floats(-1e3, 1e3, allow_nan=False) | st.sampled_from([0.0, -0.0, 1.5, -2.25])
programs = st.tuples(
    st.lists(small, min_size=2, max_size=5), st.lists(statement, min_size=1, max_size=12)
)


@settings(max_examples=400)
@given(programs)
def test_caller_tier_values_gradients_and_held_nodes(case: tuple) -> None:
    """Any mix of callers: the reference's values bit for bit and its gradients; no node changed."""
    check_program(*case)


@pytest.mark.parametrize("mode", ["settrace", "setprofile", "tracemalloc", "gc.freeze"])
@settings(max_examples=100)
@given(programs)
def test_caller_tier_under_tracers_and_the_collector(mode: str, case: tuple) -> None:
    """Tracers that read every frame's locals, tracemalloc and gc.freeze change no result."""
    import sys
    import tracemalloc

    seen: list[int] = []

    def tracer(frame: object, event: str, arg: object) -> object:
        seen.append(len(frame.f_locals))  # type: ignore[attr-defined]  # as a logging tracer does
        return tracer

    if mode == "settrace":
        sys.settrace(tracer)
    elif mode == "setprofile":
        sys.setprofile(tracer)
    elif mode == "tracemalloc":
        tracemalloc.start()
    else:
        gc.freeze()
    try:
        check_program(*case)
    finally:
        sys.settrace(None)
        sys.setprofile(None)
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        gc.unfreeze()


def test_the_issues_repros_through_c_callers() -> None:
    """functools.partial, map over a bound __add__, and NumPy object arrays change no held node."""
    import functools
    import operator

    np = _numpy()
    xs, ws = [Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]
    held = sum(x * w for x, w in zip(xs, ws))
    add_s = functools.partial(operator.add, held)
    hundred, thousand = Value(100.0), Value(1000.0)
    r1, r2 = add_s(hundred), add_s(thousand)
    assert (held.data, r1.data, r2.data) == (11.0, 111.0, 1011.0)
    r2.backward()
    assert (hundred.grad, thousand.grad, xs[0].grad) == (0.0, 1.0, 3.0)
    mapped = list(map(sum(x * w for x, w in zip(xs, ws)).__add__, [Value(1.0), Value(2.0)]))
    assert [o.data for o in mapped] == [12.0, 13.0]
    product = Value(-0.0) * Value(5.0)
    array = np.empty(1, dtype=object)
    array[0] = product
    out = (0 + array)[0]
    assert (product.op, product.data, math.copysign(1.0, product.data)) == ("mul", 0.0, -1.0)
    assert same_float(out.data, 0.0)  # 0 + -0.0 is +0.0, as for floats


def test_importing_under_a_tracer_changes_nothing() -> None:
    """The package imported while a tracer reads every frame's locals folds soundly after."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        # A debugger stepping through the package reads its frames' locals (reading every
        # frame's breaks CPython 3.12.1 itself, in the standard library's imports).
        "def t(f, e, a):\n"
        "    if 'autograd_lite' in f.f_code.co_filename:\n"
        "        f.f_locals\n"
        "    return t\n"
        "sys.settrace(t)\n"
        "from autograd_lite import Value\n"
        "sys.settrace(None)\n"
        "xs = [Value(1.0), Value(2.0)]\n"
        "s = sum(x * x for x in xs)\n"
        "y = Value(10.0)\n"
        "t2 = s + y\n"
        "u = s + Value(100.0)\n"
        "print(s.data, t2.data, u.data, t2 is s, len(s.parents))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["5.0", "15.0", "105.0", "False", "6"]


def test_a_tracer_extending_the_same_sum_mid_operation() -> None:
    """A debugger that computes with a node while + is extending it: both results right."""
    import sys

    held = sum(Value(float(i)) * Value(2.0) for i in range(1, 4))  # 12
    expected_parents = held.parents
    extra: list[Value] = []
    busy = [False]

    def local(frame: object, event: str, arg: object) -> object:
        if event == "line" and not busy[0]:
            busy[0] = True
            extra.append(held + Value(1000.0))
            busy[0] = False
        return local

    def tracer(frame: object, event: str, arg: object) -> object:
        return local if frame.f_code.co_filename == fold.__file__ else None  # type: ignore[attr-defined]

    sys.settrace(tracer)
    try:
        one = Value(1.0)
        total = held + one
    finally:
        sys.settrace(None)
    assert extra, "the tracer never ran inside fold.py"
    assert total.data == 13.0 and total.parents == (*expected_parents, one, fold._ONE_NODE)
    assert all(e.data == 1012.0 and e.parents[:-2] == expected_parents for e in extra)
    assert held.parents == expected_parents and held.data == 12.0


def test_threads_extending_one_held_sum() -> None:
    """Four threads extend the same held sum thousands of times: every result is its own."""
    import sys

    held = sum(Value(float(i)) * Value(0.5) for i in range(8))  # 14.0
    parents = held.parents
    errors: list[str] = []

    def work(offset: float) -> None:
        for i in range(3000):
            term = Value(offset + i)
            out = held + term
            if out.data != 14.0 + offset + i or out.parents[-2] is not term:
                errors.append(f"{offset}+{i}")
            if out.parents[:-2] != parents:
                errors.append(f"prefix {offset}+{i}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(k * 1e5,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and held.parents == parents and held.data == 14.0
