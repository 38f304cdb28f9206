"""Tests for autograd_lite.engine.fold: a sum() of products built as one node.

The fast path must be invisible apart from the node count: the same values, bit for
bit, as the unfolded graph (the reference path, obtained by turning folding off), the
same gradients (PyTorch float64 as the oracle), and no node anyone holds ever changed.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Iterator

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import Value
from autograd_lite.engine import fold, value


@pytest.fixture
def unfolded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Folding off: every ``+`` makes its own node, as the reference path does."""
    monkeypatch.setattr(value, "_TEMPORARY", 0)
    monkeypatch.setattr(fold, "_TEMPORARY", 0)
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


def test_calibration_tells_temporaries_from_held_operands() -> None:
    """On this interpreter a temporary operand is recognised, so folding is on."""
    assert fold._calibrate() == fold._TEMPORARY > 0


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
        patch.setattr(value, "_TEMPORARY", 0)
        reference, _ = sum_of_products(pairs)
    assert reference.op != "sum_products"
    assert same_float(folded.data, reference.data)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=12))
def test_folded_gradients_are_the_unfolded_gradients(pairs: list) -> None:
    """Each leaf gets the same gradient as on the reference path (each leaf used once)."""
    folded, leaves = sum_of_products(pairs)
    folded.backward()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(value, "_TEMPORARY", 0)
        reference, reference_leaves = sum_of_products(pairs)
    reference.backward()
    assert [v.grad for v in leaves] == [v.grad for v in reference_leaves]


def test_gradients_match_torch_when_leaves_are_shared() -> None:
    """A leaf in several terms (x*x, shared inputs) gets PyTorch's float64 gradient."""
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
    """The lecture's neuron keeps every node: x1w1 = x1*w1 is held, so nothing folds into it."""
    x1, w1, x2, w2 = Value(2.0), Value(-3.0), Value(0.0), Value(1.0)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    n = x1w1 + x2w2
    assert (x1w1.op, x1w1.parents) == ("mul", (x1, w1))
    assert (n.op, n.parents) == ("add", (x1w1, x2w2))
    terms = [x1 * w1, x2 * w2]  # held by the list
    total = sum(terms)
    assert total.op == "add" and all(t.op == "mul" and len(t.parents) == 2 for t in terms)


def test_written_out_sums_keep_their_nodes() -> None:
    """a*b + c*d written out stays add(mul, mul): only sum(), which starts from 0, folds."""
    a, b, c, d = (Value(v) for v in (1.0, 2.0, 3.0, 4.0))
    out = a * b + c * d
    assert out.op == "add" and [p.op for p in out.parents] == ["mul", "mul"]


def test_a_held_sum_takes_no_more_terms() -> None:
    """Once the user holds a folded sum, adding to it makes a new node and leaves it alone."""
    w, x, b = Value(2.0), Value(3.0), Value(1.0)
    s = sum(wi * xi for wi, xi in [(w, x), (x, w)])
    parents = s.parents
    out = s + b
    assert out.op == "add" and out.parents == (s, b)
    assert s.parents == parents and s.data == 12.0


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
