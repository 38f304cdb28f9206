"""Tests for autograd_lite.compile: batched replay against the interpreted engine and PyTorch.

Two oracles. The interpreted engine defines what the numbers must be: the compiled
``backward(X, y)`` must give the mean loss and add the same gradients as
``(sum_values(losses) / n).backward()`` does, to 1e-12 (relative and absolute), and
``forward(X)`` the same outputs. PyTorch in float64 is the independent check of whole
training steps. Random graphs come from Hypothesis; data-dependent graphs, active dropout
and a missing numpy must be refused with messages that say what to do.
"""

from __future__ import annotations

import functools
import math
import random
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite import Value, sum_values
from autograd_lite.nn import MLP, RNN, Dropout, Layer, Module, Sequential
from autograd_lite.optim import SGD, Adam, AdamW, RMSprop
from tests.optional import need
from tests.oracles import assert_close, require_torch

np = need("numpy")

from autograd_lite import losses  # noqa: E402  (after the numpy skip: the module needs it)
from autograd_lite.compile import (  # noqa: E402
    CHECK_MODES,
    CompiledLoss,
    DataDependentGraphError,
    compile_loss,
)

# Compiled results depend on BLAS rounding: CI runs these again under another kernel.
pytestmark = pytest.mark.training

TOLERANCE = 1e-12
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")


# --------------------------------------------------------------------------------------
# Helpers: the interpreted reference, and comparisons
# --------------------------------------------------------------------------------------


def zero_grads(params):
    for p in params:
        p.grad = 0.0


def interpreted(model, loss_fn, X, y):
    """Mean loss, parameter gradients (from zero) and outputs, by the interpreted engine."""
    params = model.parameters()
    zero_grads(params)
    outputs = [model(x) for x in X]
    total = sum_values([loss_fn(out, t) for out, t in zip(outputs, y)]) / len(X)
    if isinstance(total, Value) and total.requires_grad:
        total.backward()
    return as_floats(total), [p.grad for p in params], [as_floats(out) for out in outputs]


def compiled(step, model, X, y):
    """Mean loss, parameter gradients (from zero) and outputs, by the compiled loss."""
    params = model.parameters()
    zero_grads(params)
    loss = step.backward(X, y)
    return loss, [p.grad for p in params], step.forward(X)


def as_floats(out):
    if isinstance(out, (list, tuple)):
        return [as_floats(o) for o in out]
    return out.data if isinstance(out, Value) else float(out)


def assert_all_close(actual, expected, what, tolerance=TOLERANCE):
    actual, expected = flatten(actual), flatten(expected)
    assert len(actual) == len(expected), f"{what}: {len(actual)} numbers, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(float(a), float(e), rtol=tolerance, atol=tolerance, what=f"{what}[{i}]")


def flatten(items):
    if isinstance(items, (list, tuple)):
        return [x for item in items for x in flatten(item)]
    return [items]


def assert_same_step(model, loss_fn, X, y, step=None):
    """The compiled loss and the interpreted engine agree on loss, gradients and outputs."""
    step = step or compile_loss(model, loss_fn, X[0], y[0])
    loss, grads, outputs = compiled(step, model, X, y)
    ref_loss, ref_grads, ref_outputs = interpreted(model, loss_fn, X, y)
    assert_close(loss, ref_loss, rtol=TOLERANCE, atol=TOLERANCE, what="mean loss")
    assert_all_close(grads, ref_grads, "gradient")
    assert_all_close(outputs, ref_outputs, "outputs")
    return step


def rows(n, width, seed, low=-2.0, high=2.0):
    rng = random.Random(seed)
    return [[rng.uniform(low, high) for _ in range(width)] for _ in range(n)]


# Per loss: the model's output width and a target generator.
LOSSES = {
    "mse": (losses.mse, 1, lambda rng: rng.uniform(-1, 1)),
    "mse_multi": (losses.mse, 2, lambda rng: [rng.uniform(-1, 1), rng.uniform(-1, 1)]),
    "bce_int": (losses.binary_cross_entropy_with_logits, 1, lambda rng: rng.randrange(2)),
    "bce_float": (losses.binary_cross_entropy_with_logits, 1, lambda rng: rng.choice([0.0, 1.0])),
    "cross_entropy": (losses.cross_entropy, 4, lambda rng: rng.randrange(4)),
    "hinge": (losses.hinge, 1, lambda rng: rng.choice([-1, 1])),
    "multiclass_hinge": (losses.multiclass_hinge, 3, lambda rng: rng.randrange(3)),
}


def dataset(loss_name, n, n_in, seed):
    _, _, target = LOSSES[loss_name]
    rng = random.Random(seed + 1)
    return rows(n, n_in, seed), [target(rng) for _ in range(n)]


# --------------------------------------------------------------------------------------
# Every model and loss of the library, against the interpreted engine
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_every_activation_and_loss_matches_the_interpreted_engine(activation, loss_name):
    """MLPs with each activation and each library loss: loss, grads, outputs agree to 1e-12."""
    loss_fn, n_out, _ = LOSSES[loss_name]
    model = MLP(3, [5, 4, n_out], activation=activation, seed=7)
    X, y = dataset(loss_name, 9, 3, seed=11)
    assert_same_step(model, loss_fn, X, y)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
@pytest.mark.parametrize("loss_name", ["cross_entropy", "mse", "hinge"])
def test_batch_sizes_1_3_and_64_match(batch_size, loss_name):
    """A batch of one, a small batch and a batch of 64 all give the engine's numbers."""
    loss_fn, n_out, _ = LOSSES[loss_name]
    model = MLP(4, [6, n_out], activation="tanh", seed=3)
    X, y = dataset(loss_name, batch_size, 4, seed=batch_size)
    assert_same_step(model, loss_fn, X, y)


def test_one_compiled_loss_serves_batches_of_any_size():
    """The same CompiledLoss replays batches of 5, 1 and 40 correctly, in any order."""
    model = MLP(2, [4, 3], seed=1)
    X, y = dataset("cross_entropy", 40, 2, seed=3)
    y = [t % 3 for t in y]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    for n in (5, 1, 40):
        assert_same_step(model, losses.cross_entropy, X[:n], y[:n], step)


def test_cross_entropy_labels_are_merged_into_one_program():
    """Every class of cross-entropy is one program that picks the target logit per sample."""
    model = MLP(3, [4, 5], seed=2)
    X = rows(20, 3, seed=5)
    y = [i % 5 for i in range(20)]
    step = assert_same_step(model, losses.cross_entropy, X, y)
    (variant,) = step._variants.values()
    assert len(variant.traces) == 5
    assert variant.merged is not False and not variant.per_label


def test_picks_sharing_a_row_for_one_sample_add_both_gradients():
    """Two picks that choose the same logit for a sample (``out[y]`` and ``out[y // 2]`` at
    y = 0 or 1) both add into its gradient, as do picks with no row in common."""
    from autograd_lite.compile._instructions import Pick

    def overlapping(out, y):
        return out[y] * out[y // 2] + out[y] * 0.5

    def apart(out, y):  # each pick chooses among its own rows
        return out[y] * out[4 + y // 2]

    model = MLP(3, [5, 6], seed=3)
    X = rows(24, 3, seed=8)
    y = [i % 4 for i in range(24)]
    for loss_fn, disjoint in ((overlapping, False), (apart, True)):
        step = assert_same_step(model, loss_fn, X, y)
        (variant,) = step._variants.values()
        picks = [i for i in variant.merged.instructions if isinstance(i, Pick)]
        assert picks and all(p.disjoint == disjoint for p in picks), loss_fn.__name__
        assert_same_step(model, loss_fn, X[:1], y[:1], step)


def test_a_label_seen_only_in_a_later_batch_is_traced_then():
    """A class missing from the first batch is traced when it first appears, and is right."""
    model = MLP(3, [4, 4], seed=2)
    X = rows(12, 3, seed=5)
    first_y = [0, 1] * 3
    later_y = [3, 2, 1, 0, 3, 3]
    step = assert_same_step(model, losses.cross_entropy, X[:6], first_y)
    assert_same_step(model, losses.cross_entropy, X[6:], later_y, step)


def test_a_loss_that_branches_on_the_label_runs_one_program_per_label():
    """A hand-written loss with `if target == 1` cannot merge; each label gets its own program."""

    def branching_bce(logit, target):
        p = al.sigmoid(logit)
        return -al.log(p) if target == 1 else -al.log(1.0 - p)

    model = MLP(2, [3, 1], activation="tanh", seed=4)
    X = rows(10, 2, seed=6)
    y = [i % 2 for i in range(10)]
    step = assert_same_step(model, branching_bce, X, y)
    (variant,) = step._variants.values()
    assert variant.merged is False and len(variant.per_label) == 2


# --------------------------------------------------------------------------------------
# Label types: a bool, a NumPy scalar or a float never replays another type's trace
# --------------------------------------------------------------------------------------


def bool_as_sign(out, target):
    """Squared error to ±1 for a bool target (Python's or NumPy's), to the number otherwise:
    True and 1 agree, False and 0 do not, so a trace of one must not stand for the other."""
    if isinstance(target, (bool, np.bool_)):
        target = 1.0 if target else -1.0
    return losses.mse(out, target)


def engine_outcome(model, loss_fn, X, y):
    """The interpreted engine's (mean loss, gradients), or the set of exception types its
    samples raise (it reports the first bad sample's; the compiled loss may report another's)."""
    errors = set()
    for x, t in zip(X, y):
        try:
            loss_fn(model(x), t)
        except Exception as error:  # the test compares the kinds of error the two engines raise
            errors.add(type(error))
    if errors:
        return errors
    loss, grads, _ = interpreted(model, loss_fn, X, y)
    return loss, grads


def assert_same_outcome(step, model, loss_fn, X, y):
    """The compiled loss gives the engine's numbers where the engine takes the batch, and
    raises an exception of the engine's type where it refuses it."""
    expected = engine_outcome(model, loss_fn, X, y)
    try:
        loss, grads, _ = compiled(step, model, X, y)
    except Exception as error:  # compared with the engine's below
        assert isinstance(expected, set), f"y={y!r}: {error!r} where the engine takes the batch"
        assert type(error) in expected, f"y={y!r}: {error!r}, the engine raises {expected}"
        return
    assert not isinstance(expected, set), (
        f"y={y!r}: compiled returned {loss!r} where the engine raises "
        f"{sorted(e.__name__ for e in expected)}"
    )
    assert_close(loss, expected[0], rtol=TOLERANCE, atol=TOLERANCE, what=f"mean loss, y={y!r}")
    assert_all_close(grads, expected[1], f"gradient, y={y!r}")


# Batches in order, after compiling on the example: each one's labels of another type.
LABEL_ORDERS = {
    "ints, then bools": [[0, 1], [True, False], [True]],
    "bools, then ints, then bools": [[True, False], [0, 1], [False]],
    "int array, then bool array": [np.array([0, 1]), np.array([1, 0]), np.array([True, False])],
    "bool array, then int array, then bool array": [
        np.array([False, True]),
        np.array([0, 1]),
        np.array([0, 1]),
        np.array([True, False]),
    ],
    "ints, then NumPy bools": [[0, 1], [np.True_, np.False_], [np.False_]],
    "ints and bools mixed": [[0, 1], [1, True], [False, 0]],
    "NumPy ints": [[0, 1], [np.int64(1), np.int32(0), np.uint8(1)], np.array([1, 0], np.uint8)],
}


@pytest.mark.parametrize("check", ["first-batch", "off"])
@pytest.mark.parametrize(
    ("loss_fn", "example"), [(losses.cross_entropy, 1), (bool_as_sign, True), (bool_as_sign, 1)]
)
@pytest.mark.parametrize("order", sorted(LABEL_ORDERS))
def test_bool_and_int_labels_never_share_a_trace(order, loss_fn, example, check):
    """Whichever of True and 1 is traced first, the other gets the engine's own outcome:
    cross_entropy refuses bools (TypeError) and a loss that maps bools to ±1 gets ±1."""
    n_out = 3 if loss_fn is losses.cross_entropy else 1
    model = MLP(2, [3, n_out], seed=5)
    step = compile_loss(model, loss_fn, [0.5, -0.5], example, check=check)
    for i, y in enumerate(LABEL_ORDERS[order]):
        X = rows(len(y), 2, seed=i)
        X = np.array(X) if isinstance(y, np.ndarray) else X
        assert_same_outcome(step, model, loss_fn, X, y)


def weighted_cross_entropy(out, target):
    """cross_entropy of the class target[0] times the weight target[1], a number (no Value),
    so that compiling makes every number of the target a label, floats included."""
    label, weight = target
    if isinstance(weight, Value):
        raise TypeError(f"weight must be a number, got {type(weight).__name__}")
    return losses.cross_entropy(out, label) * weight


def test_float_and_int_labels_never_share_a_trace():
    """Where floats are labels too, the class 1.0 does not replay the trace of class 1: it
    gets the engine's TypeError, and the ints after it the engine's numbers."""
    model = MLP(2, [3, 3], seed=6)
    step = compile_loss(model, weighted_cross_entropy, [0.5, -0.5], [1, 0.5])
    batches = [[[1, 0.5], [2, 0.25]], [[1.0, 0.5]], [[True, 0.5]], [[2, 0.25], [1, 0.5]]]
    for i, y in enumerate(batches):
        assert_same_outcome(step, model, weighted_cross_entropy, rows(len(y), 2, seed=i), y)


def test_int_arrays_keep_their_table_lookup_and_lane_beside_bool_labels():
    """With bool labels traced as well, an int array still finds its codes in one table
    lookup (the int labels' codes only) and takes the lane; a bool array never does."""
    model = MLP(2, [3, 1], seed=7)
    step = compile_loss(model, bool_as_sign, [0.5, -0.5], True)
    X = np.array(rows(4, 2, seed=1))
    for y in (np.array([False, True, True, False]), np.array([0, 1, 2, 1]), np.array([2, 1, 0, 0])):
        assert_same_outcome(step, model, bool_as_sign, X, y)
    (variant,) = step._variants.values()
    keys = list(variant.codes)
    assert keys == [(("b", True),), (("b", False),), (("i", 0),), (("i", 1),), (("i", 2),)]
    codes = variant.codes_for(np, np.array([2, 0, 1]))
    assert codes.tolist() == [4, 2, 3] and variant.lookup.tolist() == [2, 3, 4]
    assert variant.codes_for(np, np.array([True, False])) is None
    assert step._lane is not None and step._lane.run(X, np.array([1, 0, 2, 2]), None) is not None
    assert step._lane.run(X, np.array([True, False, True, True]), None) is None


def test_a_label_between_the_traced_ones_is_traced_not_looked_up():
    """With labels 0 and 2 traced, the lookup's gap at 1 sends a batch holding 1 (as an
    int64 array, and again as a 2-D column) to the general path, which traces it: the
    engine's numbers; a batch of traced labels only then takes the lane."""
    model = MLP(3, [4, 3], seed=0)
    X = np.array(rows(3, 3, seed=4))
    step = compile_loss(model, losses.cross_entropy, X[0].tolist(), 0)
    assert_same_outcome(step, model, losses.cross_entropy, X, np.array([0, 2, 0]))
    (variant,) = step._variants.values()
    assert variant.codes_for(np, np.array([2, 0])).tolist() == [1, 0]
    assert variant.lookup.tolist() == [0, -1, 1]
    assert variant.codes_for(np, np.array([0, 1])) is None
    assert variant.codes_for(np, np.array([[2], [1]])) is None
    assert step._lane.run(X, np.array([2, 1, 0]), None) is None
    assert_same_outcome(step, model, losses.cross_entropy, X, np.array([2, 1, 0]))
    assert variant.lookup is None or variant.lookup.tolist() == [0, 2, 1]
    assert step._lane.run(X, np.array([1, 1, 2]), None) is not None


def test_uint64_labels_beyond_every_index_get_the_engines_error_on_the_lane():
    """uint64 labels of every width train as the engine does; then 2**64 - 1, 2**64 - 3 and
    2**63, which NumPy indexing would wrap to the last codes (negative once read as machine
    indices), get the engine's ValueError on the lane and on a first batch alike."""
    model = MLP(3, [4, 3], seed=0)
    X = np.array(rows(3, 3, seed=2))
    step = compile_loss(model, losses.cross_entropy, X[0].tolist(), 0)
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        assert_same_outcome(step, model, losses.cross_entropy, X, np.array([0, 2, 1], dtype))
    assert step._lane is not None
    for bad in (2**64 - 1, 2**64 - 3, 2**63):
        with pytest.raises(ValueError, match="out of range for 3 classes"):
            step.backward(X, np.array([0, 1, bad], np.uint64))
    fresh = compile_loss(model, losses.cross_entropy, X[0].tolist(), 0)
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        fresh.backward(X, np.array([2**64 - 1, 0, 1], np.uint64))


@pytest.mark.parametrize(
    ("loss_fn", "example", "y"),
    [
        (losses.hinge, 1, [1.0, -1.0, -1.0]),
        (losses.hinge, -1, np.array([1.0, -1.0, 1.0])),
        (losses.binary_cross_entropy_with_logits, 1, [0.25, 1.0, 0.0]),
        (losses.binary_cross_entropy_with_logits, 0, np.array([0.5, 0.0, 1.0])),
    ],
)
def test_a_loss_refusing_value_targets_compiled_on_an_int_takes_float_targets(loss_fn, example, y):
    """hinge and binary cross-entropy compiled on an int label take float targets as the
    engine does (as labels, from then on), where they used to raise "got Value"."""
    model = MLP(2, [3, 1], seed=9)
    step = compile_loss(model, loss_fn, [0.5, -0.5], example)
    X = rows(3, 2, seed=10)
    for batch in (y, [example, *y[1:]], y):
        batch_X = np.array(X) if isinstance(batch, np.ndarray) else X
        assert_same_outcome(step, model, loss_fn, batch_X, batch)
    assert step._all_labels


def test_an_example_target_the_loss_refuses_gets_the_engines_error():
    """compile_loss on a target that hinge or binary cross-entropy refuses as a number
    raises the engine's ValueError (what is allowed), not the TypeError of its Value."""
    model = MLP(2, [3, 1], seed=9)
    with pytest.raises(ValueError, match=r"hinge needs a target of -1 or \+1, got 0\.0"):
        compile_loss(model, losses.hinge, [0.5, -0.5], 0.0)
    with pytest.raises(ValueError, match=r"needs a target in \[0, 1\], got -1\.0"):
        compile_loss(model, losses.binary_cross_entropy_with_logits, [0.5, -0.5], -1.0)


# Targets of every kind: what each loss accepts, refuses, or finds out of range.
LABEL_POOL = [
    *(0, 1, 2, -1, 2**70),  # ints: classes, out of range, beyond int64
    *(np.int64(1), np.int64(0), np.int32(2), np.uint8(1), np.uint8(0)),  # NumPy ints
    *(True, False, np.True_, np.False_),  # bools, Python's and NumPy's
    *(1.0, 0.0, -1.0, 1.5, np.float64(1.0)),  # floats
    *("1", None),  # not numbers
]
TYPED_LOSSES = {
    "cross_entropy": (losses.cross_entropy, 3),
    "multiclass_hinge": (losses.multiclass_hinge, 3),
    "bce": (losses.binary_cross_entropy_with_logits, 1),
    "hinge": (losses.hinge, 1),
    "mse": (losses.mse, 1),
}


def as_label_batch(labels, array):
    """The labels as a list, or as a NumPy array when asked and they share one numeric type."""
    if array and len({type(t) for t in labels}) == 1:
        values = np.array(labels)
        if values.dtype.kind in "biuf":
            return values
    return labels


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(TYPED_LOSSES)),
    st.sampled_from(CHECK_MODES),
    st.sampled_from(LABEL_POOL),
    st.lists(
        st.tuples(st.lists(st.sampled_from(LABEL_POOL), min_size=1, max_size=4), st.booleans()),
        min_size=1,
        max_size=4,
    ),
)
def test_every_label_type_in_any_order_gets_the_engines_outcome(loss_name, check, example, batches):
    """A sequence of batches whose labels are drawn from bools, ints, NumPy scalars, floats
    and non-numbers: each compiled call returns the engine's numbers or raises its kind of
    error, whatever earlier calls traced."""
    loss_fn, n_out = TYPED_LOSSES[loss_name]
    model = MLP(2, [3, n_out], seed=8)
    expected = engine_outcome(model, loss_fn, [[0.5, -0.5]], [example])
    try:
        step = compile_loss(model, loss_fn, [0.5, -0.5], example, check=check)
    except Exception as error:  # compared with the engine's
        assert isinstance(expected, set) and type(error) in expected, f"{error!r} for {expected}"
        return
    assert not isinstance(expected, set), f"compile_loss took {example!r}: engine raises {expected}"
    for i, (labels, array) in enumerate(batches):
        y = as_label_batch(labels, array)
        X = rows(len(y), 2, seed=i)
        X = np.array(X) if isinstance(y, np.ndarray) else X
        assert_same_outcome(step, model, loss_fn, X, y)


def test_forward_returns_outputs_shaped_like_the_model_returns_them():
    """forward(X) gives a float per sample for one output and a list for several."""
    one = MLP(2, [3, 1], seed=1)
    many = MLP(2, [3, 2], seed=1)
    X = rows(4, 2, seed=2)
    out_one = compile_loss(one, losses.mse, X[0], 0.5).forward(X)
    out_many = compile_loss(many, losses.mse, X[0], [0.5, 0.5]).forward(X)
    assert all(isinstance(v, float) for v in out_one)
    assert all(isinstance(v, list) and len(v) == 2 for v in out_many)
    assert_all_close(out_one, [one(x).data for x in X], "single output")
    assert_all_close(out_many, [as_floats(many(x)) for x in X], "two outputs")


def test_last_outputs_are_the_outputs_of_the_last_backward():
    """After backward(X, y), last_outputs equals forward(X) for the same parameters."""
    model = MLP(3, [4, 3], seed=9)
    X, y = rows(7, 3, seed=1), [0, 1, 2, 0, 1, 2, 2]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    assert step.last_outputs is None
    step.backward(X, y)
    assert_all_close(step.last_outputs, step.forward(X), "last outputs")


def test_numpy_arrays_are_accepted_as_batches():
    """X as a 2-D array and y as a 1-D int or float array give the same numbers as lists."""
    model = MLP(3, [4, 3], seed=9)
    X, y = rows(8, 3, seed=1), [0, 1, 2, 0, 1, 2, 2, 1]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    assert_same_step(model, losses.cross_entropy, np.array(X), np.array(y), step)
    regression = MLP(3, [4, 1], seed=9)
    targets = [0.5 * i for i in range(8)]
    step = compile_loss(regression, losses.mse, X[0], targets[0])
    zero_grads(regression.parameters())
    from_arrays = step.backward(np.array(X), np.array(targets))
    ref_loss, _, _ = interpreted(regression, losses.mse, X, targets)
    assert_close(from_arrays, ref_loss, rtol=TOLERANCE, atol=TOLERANCE, what="mse from arrays")


def test_rnn_sequences_of_different_lengths_each_compile_once():
    """An RNN over sequences of lengths 2 and 4 in one batch matches the engine per sample."""
    model = RNN(2, 3, nout=1, seed=5)
    rng = random.Random(0)
    X = [rows(2 if i % 2 else 4, 2, seed=i) for i in range(6)]
    y = [rng.uniform(-1, 1) for _ in X]
    step = assert_same_step(model, losses.mse, X, y)
    assert len(step._variants) == 2


def test_rnn_without_readout_returns_every_hidden_state():
    """forward of an RNN with no readout returns nested lists, as the module does."""
    model = RNN(1, 2, seed=3)
    X = [[[0.5], [-1.0], [2.0]], [[1.0], [0.0], [-0.5]]]

    def last_state_loss(states, target):
        return losses.mse(states[-1], [target, target])

    step = compile_loss(model, last_state_loss, X[0], 0.25)
    assert_all_close(step.forward(X), [as_floats(model(x)) for x in X], "hidden states")


def test_sequential_residual_and_eval_mode_dropout_compile():
    """Sequential, Residual and Dropout in eval mode (the identity) compile correctly."""
    from autograd_lite.nn import Residual

    model = Sequential(
        Layer(3, 3, "tanh", seed=1),
        Residual(Layer(3, 3, "relu", seed=2)),
        Dropout(0.5),
        Layer(3, 2, seed=3),
    )
    model.eval()
    X, y = rows(6, 3, seed=4), [0, 1, 1, 0, 1, 0]
    assert_same_step(model, losses.cross_entropy, X, y)


def test_a_penalty_inside_the_per_sample_loss_is_replayed_once_per_batch():
    """A loss that adds an L2 penalty on the weights (same for every sample) matches."""
    model = MLP(3, [4, 2], seed=8)

    def penalised(out, target):
        return losses.cross_entropy(out, target) + losses.l2_penalty(model.parameters(), 0.01)

    X, y = rows(5, 3, seed=2), [0, 1, 1, 0, 1]
    assert_same_step(model, penalised, X, y)


# --------------------------------------------------------------------------------------
# Gradient semantics: accumulate, read parameters every call, optimizers unchanged
# --------------------------------------------------------------------------------------


def test_gradients_accumulate_across_calls_like_backward():
    """Two backward calls without zero_grad add twice, as two interpreted backward() do."""
    model = MLP(3, [4, 3], seed=1)
    X, y = rows(6, 3, seed=2), [0, 1, 2, 2, 1, 0]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    zero_grads(model.parameters())
    step.backward(X, y)
    step.backward(X, y)
    twice = [p.grad for p in model.parameters()]
    _, once, _ = interpreted(model, losses.cross_entropy, X, y)
    assert_all_close(twice, [2 * g for g in once], "accumulated gradient")


def test_parameters_are_read_at_every_call():
    """Weights changed between calls (as an optimizer does) are used by the next call."""
    model = MLP(2, [3, 1], seed=1)
    X, y = rows(4, 2, seed=3), [0.1, -0.2, 0.3, 0.4]
    step = compile_loss(model, losses.mse, X[0], y[0])
    model.layers[0].neurons[1].w[0].data += 0.75
    model.layers[1].neurons[0].b.data -= 0.5
    assert_same_step(model, losses.mse, X, y, step)


def _replace_first_weight(model):
    model.layers[0].neurons[0].w[0] = Value(5.0)


def _replace_last_layer(model):
    model.layers[-1] = Layer(3, 1, activation="linear", seed=9)


@pytest.mark.parametrize("replace", [_replace_first_weight, _replace_last_layer])
@pytest.mark.parametrize("call", ["backward", "forward"])
def test_a_parameter_replaced_after_compiling_is_refused(replace, call):
    """A weight or layer replaced by new Values after compile_loss (the compiled program would
    still read the old ones) is refused, naming the parameter, by backward and forward."""
    model = MLP(2, [3, 1], seed=1)
    X, y = rows(4, 2, seed=3), [0.1, -0.2, 0.3, 0.4]
    step = compile_loss(model, losses.mse, X[0], y[0])
    step.backward(X, y)  # the first batch is checked: later ones are not re-traced
    replace(model)
    with pytest.raises(RuntimeError, match=r"parameter 'layers\.\d\.neurons\.0\.w\.0'.*replaced"):
        step.backward(X, y) if call == "backward" else step.forward(X)


def test_a_change_of_mode_or_weights_in_place_is_not_a_replacement():
    """model.eval()/train() and .data written in place keep the compiled loss usable, and
    equal to the interpreted engine."""
    model = MLP(2, [3, 1], seed=1)
    X, y = rows(4, 2, seed=3), [0.1, -0.2, 0.3, 0.4]
    step = compile_loss(model, losses.mse, X[0], y[0])
    step.backward(X, y)
    model.eval()
    model.layers[0].neurons[0].w[0].data = 5.0
    assert_same_step(model, losses.mse, X, y, step)
    model.train()
    assert_same_step(model, losses.mse, X, y, step)


def test_a_parameter_of_a_plain_callable_replaced_after_compiling_is_refused():
    """A model that is not a Module is asked for its parameters() at every call."""

    class Plain:
        def __init__(self):
            self.w = [Value(0.5), Value(-0.25)]

        def parameters(self):
            return list(self.w)

        def __call__(self, x):
            return self.w[0] * x[0] + self.w[1] * x[1]

    model = Plain()
    X, y = rows(4, 2, seed=3), [0.1, -0.2, 0.3, 0.4]
    step = compile_loss(model, losses.mse, X[0], y[0])
    step.backward(X, y)
    model.w[1] = Value(3.0)
    with pytest.raises(RuntimeError, match=r"parameter '1'.*replaced"):
        step.backward(X, y)


def test_a_trainer_refuses_a_parameter_replaced_before_or_inside_its_block():
    """Replaced before the block: refused on entering; inside it: refused at the sync, after the
    buffer is written into the Values the trainer holds (no step is lost)."""
    model = MLP(2, [3, 1], seed=1)
    X, y = rows(4, 2, seed=3), [0.1, -0.2, 0.3, 0.4]
    step = compile_loss(model, losses.mse, X[0], y[0])
    old = model.layers[0].neurons[0].w[0]
    train = step.trainer(SGD(model.parameters(), lr=0.1))
    with pytest.raises(RuntimeError, match="replaced"), train:
        train.step(X, y)
        _replace_first_weight(model)
    assert old.data == train.theta[0]  # the step reached the Value the trainer trained
    with pytest.raises(RuntimeError, match="replaced"), train:
        pass


def test_a_gpt_parameter_replaced_after_compiling_is_refused():
    """The token-sequence loss refuses a replaced embedding weight too."""
    model = small_gpt()
    X, Y = token_batch(3, 4, 11, seed=1)
    step = compile_loss(model, sequence_loss, X[0], Y[0])
    step.backward(X, Y)
    name, _ = model.named_parameters()[0]
    model.token_embedding.weight[0][0] = Value(1.0)
    with pytest.raises(RuntimeError, match=f"parameter '{name}'.*replaced"):
        step.backward(X, Y)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_training_with_compiled_steps_follows_the_interpreted_trajectory(optimizer_class):
    """Ten optimizer steps on compiled gradients land on the interpreted run's weights."""
    X, y = rows(16, 3, seed=1), [i % 3 for i in range(16)]
    runs = []
    for use_compiled in (False, True):
        model = MLP(3, [5, 3], activation="tanh", seed=4)
        optimizer = optimizer_class(model.parameters(), lr=0.1)
        step = compile_loss(model, losses.cross_entropy, X[0], y[0]) if use_compiled else None
        for _ in range(10):
            optimizer.zero_grad()
            if step is None:
                interpreted_loss = sum_values(
                    [losses.cross_entropy(model(x), t) for x, t in zip(X, y)]
                ) / len(X)
                interpreted_loss.backward()
            else:
                step.backward(X, y)
            optimizer.step()
        runs.append([p.data for p in model.parameters()])
    assert_all_close(runs[1], runs[0], "weights after 10 steps", tolerance=1e-10)


def test_frozen_parameters_receive_no_gradient():
    """A parameter with requires_grad=False keeps its .grad, as in the engine."""
    model = MLP(2, [3, 1], seed=1)
    frozen = model.layers[0].neurons[0].w[0]
    frozen.requires_grad = False
    X, y = rows(4, 2, seed=3), [0.1, -0.2, 0.3, 0.4]
    step = compile_loss(model, losses.mse, X[0], y[0])
    frozen.grad = 7.0
    step.backward(X, y)
    assert frozen.grad == 7.0
    frozen.grad = 0.0
    assert_same_step(model, losses.mse, X, y, step)


class ClosureModel:
    """A plain callable whose weight is not listed by any parameters() method."""

    def __init__(self):
        self.hidden = Value(0.8)

    def __call__(self, x):
        return al.tanh(self.hidden * x[0] + x[1])


def test_leaves_the_model_does_not_list_still_get_their_gradients():
    """A weight captured in a closure (no parameters()) accumulates its .grad like the engine."""
    model = ClosureModel()
    X, y = rows(5, 2, seed=1), [0.2, 0.4, -0.1, 0.0, 0.3]
    step = compile_loss(model, losses.mse, X[0], y[0])
    model.hidden.grad = 0.0
    loss = step.backward(X, y)
    compiled_grad = model.hidden.grad
    model.hidden.grad = 0.0
    total = sum_values([losses.mse(model(x), t) for x, t in zip(X, y)]) / len(X)
    total.backward()
    assert_close(loss, total.data, rtol=TOLERANCE, atol=TOLERANCE, what="loss")
    assert_close(compiled_grad, model.hidden.grad, rtol=TOLERANCE, atol=TOLERANCE, what="grad")


# --------------------------------------------------------------------------------------
# The independent oracle: PyTorch in float64
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_cross_entropy_step_matches_pytorch_float64(activation):
    """The compiled mean loss and weight gradients equal torch's for the same network."""
    torch = require_torch()
    model = MLP(5, [6, 4], activation=activation, seed=12)
    X, y = rows(32, 5, seed=3), [random.Random(i).randrange(4) for i in range(32)]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    zero_grads(model.parameters())
    loss = step.backward(X, y)

    layers = []
    for layer in model.layers:
        w = torch.tensor([[v.data for v in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        layers.append((w.requires_grad_(), b.requires_grad_()))
    h = torch.tensor(X, dtype=torch.float64)
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = act(h)
    torch_loss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    torch_loss.backward()

    assert_close(loss, torch_loss.item(), rtol=1e-12, atol=1e-12, what="loss")
    for layer, (w, b) in zip(model.layers, layers):
        for neuron, w_row, b_grad in zip(layer.neurons, w.grad.tolist(), b.grad.tolist()):
            assert_all_close([p.grad for p in neuron.w], w_row, "weight grads", tolerance=1e-11)
            assert_close(neuron.b.grad, b_grad, rtol=1e-11, atol=1e-11, what="bias grad")


# --------------------------------------------------------------------------------------
# Each primitive at special points, and random graphs
# --------------------------------------------------------------------------------------


class Wrap(Module):
    """A two-parameter model ``f(w * x + b)`` (w = 1, b = 0) for testing one primitive.

    At the starting weights ``f`` sees ``x`` itself, and d/db is ``f'(x)``.
    """

    def __init__(self, f):
        self.w = Value(1.0)
        self.b = Value(0.0)
        self._f = f

    def forward(self, x):
        return self._f(self.w * x[0] + self.b)


PRIMITIVES = {
    "exp": al.exp,
    "log": lambda v: al.log(v * v),
    "tanh": al.tanh,
    "sigmoid": al.sigmoid,
    "relu": al.relu,
    "leaky_relu": lambda v: al.leaky_relu(v, 0.2),
    "softplus": al.softplus,
    "sin": al.sin,
    "cos": al.cos,
    "sqrt": lambda v: al.sqrt(v * v),
    "abs": abs,
    "pow_int": lambda v: v**3,
    "pow_real": lambda v: (v * v + 0.5) ** 1.5,
    "exp_pow": lambda v: 2.0**v,
    "reciprocal": lambda v: 1.0 / v,
    "logsumexp": lambda v: al.logsumexp([v, 2.0 * v, -v]),
}
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 40.0, -40.0, 750.0, -750.0, 1e-300]


def identity_loss(out, target):
    return out * target


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_each_primitive_at_special_points_matches_the_engine(name):
    """Kinks at 0, overflow (exp(750) = inf), poles, underflow: each kernel is the engine's."""
    model = Wrap(PRIMITIVES[name])
    X = [[v] for v in SPECIAL]
    step = compile_loss(model, identity_loss, X[0], 1.0)
    outputs = step.forward(X)
    for x, out in zip(X, outputs):
        # One sample at a time, so that one infinite gradient does not hide the others.
        ref_loss, ref_grads, (ref_out,) = interpreted(model, identity_loss, [x], [1.0])
        loss, grads, _ = compiled(step, model, [x], [1.0])
        what = f"{name}({x[0]!r})"
        assert_close(out, ref_out, rtol=TOLERANCE, atol=0.0, what=what)
        assert_close(loss, ref_loss, rtol=TOLERANCE, atol=0.0, what=what)
        assert_all_close(grads, ref_grads, f"gradient of {what}")


@pytest.mark.parametrize(
    ("expression", "x", "message"),
    [
        (lambda v: al.log(v), -1.0, "log is defined for x >= 0"),
        (lambda v: al.sqrt(v), -2.0, "sqrt is defined for x >= 0"),
        (lambda v: v**0.5, -2.0, "non-integer exponent"),
    ],
)
def test_domain_errors_are_the_engines(expression, x, message):
    """log, sqrt and fractional powers of a negative number raise the engine's ValueError."""
    model = Wrap(expression)
    step = compile_loss(model, identity_loss, [1.0], 1.0)
    with pytest.raises(ValueError, match=message):
        model([x])
    with pytest.raises(ValueError, match=message):
        step.backward([[1.0], [x]], [1.0, 1.0])


def test_a_custom_primitive_is_replayed_with_its_own_functions():
    """A user primitive (softsign) is replayed sample by sample and matches the engine."""
    softsign = al.primitive(
        "softsign", lambda x: x / (1 + abs(x)), lambda x, out: (1 / (1 + abs(x)) ** 2,)
    )
    model = Wrap(softsign)
    X = [[-3.0], [0.0], [0.25], [2.0]]
    assert_same_step(model, lambda out, t: (out - t) ** 2, X, [0.1, 0.2, 0.3, 0.4])


# Random graphs: registers start as the inputs and the parameters; each step applies an
# operation to earlier registers. Domains are safe by construction (log of a*a + 0.25),
# never by looking at values, so the graph is the same for every sample.
SAFE_OPS = {
    "add": (2, lambda a, c: a[0] + a[1]),
    "sub": (2, lambda a, c: a[0] - a[1]),
    "mul": (2, lambda a, c: a[0] * a[1]),
    "div": (2, lambda a, c: a[0] / (a[1] * a[1] + 0.5)),
    "add_c": (1, lambda a, c: a[0] + c),
    "c_sub": (1, lambda a, c: c - a[0]),
    "mul_c": (1, lambda a, c: c * a[0]),
    "neg": (1, lambda a, c: -a[0]),
    "square": (1, lambda a, c: a[0] ** 2),
    "pow": (2, lambda a, c: (al.softplus(a[0]) + 0.1) ** al.tanh(a[1])),
    "c_pow": (1, lambda a, c: 2.0 ** al.tanh(a[0])),
    "exp": (1, lambda a, c: al.exp(al.tanh(a[0]))),
    "log": (1, lambda a, c: al.log(a[0] * a[0] + 0.25)),
    "sqrt": (1, lambda a, c: al.sqrt(a[0] * a[0] + 0.2)),
    "tanh": (1, lambda a, c: al.tanh(a[0])),
    "sigmoid": (1, lambda a, c: al.sigmoid(a[0])),
    "softplus": (1, lambda a, c: al.softplus(a[0])),
    "sin": (1, lambda a, c: al.sin(a[0])),
    "cos": (1, lambda a, c: al.cos(a[0])),
    "relu": (1, lambda a, c: al.relu(a[0])),
    "abs": (1, lambda a, c: abs(a[0])),
    "leaky_relu": (1, lambda a, c: al.leaky_relu(a[0], 0.1)),
    "sum3": (3, lambda a, c: al.sum_values(a)),
    "dot2": (4, lambda a, c: al.dot(a[:2], a[2:])),
    "dot_bias": (3, lambda a, c: al.dot([a[0]], [a[1]], a[2])),
    "dot_const": (2, lambda a, c: al.dot([c, a[0]], [a[1], 1.0])),
    "logsumexp": (3, lambda a, c: al.logsumexp(a)),
    "softmax": (2, lambda a, c: al.softmax(a)[0]),
}
KINKS = {"relu", "abs", "leaky_relu"}


@st.composite
def random_models(draw):
    """(n_inputs, initial weights, steps, outputs): a random graph over inputs and weights."""
    n_inputs = draw(st.integers(1, 3))
    weights = draw(st.lists(st.sampled_from([0.5, -1.25, 2.0, 0.0, 0.75]), min_size=1, max_size=3))
    steps = []
    registers = n_inputs + len(weights)
    for _ in range(draw(st.integers(1, 8))):
        name = draw(st.sampled_from(sorted(SAFE_OPS)))
        arity = SAFE_OPS[name][0]
        latest = st.just(registers - 1)
        operands = [draw(st.one_of(latest, st.integers(0, registers - 1))) for _ in range(arity)]
        constant = draw(st.sampled_from([2.0, -0.5, 1.0, 0.0, 3.0]))
        steps.append((name, operands, constant))
        registers += 1
    outputs = draw(st.lists(st.integers(0, registers - 1), min_size=1, max_size=3))
    return n_inputs, weights, steps, outputs


class RandomGraph(Module):
    """A model that runs one drawn graph; `kink_inputs` records what its kinks saw."""

    def __init__(self, n_inputs, weights, steps, outputs):
        self.n_inputs = n_inputs
        self.weights = [Value(w) for w in weights]
        self._steps = steps
        self._outputs = outputs
        self._kink_inputs = []

    def forward(self, x):
        registers = [*x, *self.weights]
        for name, operands, constant in self._steps:
            args = [registers[i] for i in operands]
            if name in KINKS:
                self._kink_inputs.append(args[0])
            registers.append(SAFE_OPS[name][1](args, constant))
        return [registers[i] for i in self._outputs]


def near_kink(model):
    """Whether a kink saw a computed value within 1e-9 of 0 (but not an exact input 0)."""
    for v in model._kink_inputs:
        data = v.data if isinstance(v, Value) else v
        if isinstance(v, Value) and v.parents and abs(data) < 1e-9:
            return True
    return False


def random_graph_loss(out, target):
    return sum_values([o * target for o in out]) if isinstance(out, list) else out * target


coordinate = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0]),
    st.floats(-3, 3, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-3),
)


@settings(max_examples=150)
@given(random_models(), st.data())
def test_random_graphs_match_the_interpreted_engine(spec, data):
    """Any graph of any primitives over inputs and weights replays to the engine's numbers."""
    n_inputs, weights, steps, outputs = spec
    model = RandomGraph(n_inputs, weights, steps, outputs)
    batch = data.draw(st.integers(1, 5))
    X = [
        data.draw(st.lists(coordinate, min_size=n_inputs, max_size=n_inputs)) for _ in range(batch)
    ]
    y = [data.draw(st.sampled_from([1.0, -0.5, 2.0])) for _ in range(batch)]
    ref_loss, ref_grads, ref_outputs = interpreted(model, random_graph_loss, X, y)
    # Where a kink sits on a computed value a rounding away from 0, its one-sided derivative
    # depends on the last bit of a sum; fsum (the engine) and numpy may round it differently.
    assume(not near_kink(model))
    step = compile_loss(model, random_graph_loss, X[0], y[0])
    loss, grads, outputs_ = compiled(step, model, X, y)
    assert_close(loss, ref_loss, rtol=TOLERANCE, atol=TOLERANCE, what="mean loss")
    assert_all_close(grads, ref_grads, "gradient")
    assert_all_close(outputs_, ref_outputs, "outputs")


class ReadUnevenly(Module):
    """Per-sample nodes that one instruction reads a different number of times each:
    prefix sums (u_j read by n - j sums) and sums of a hub with each node (the hub read
    n times, the others once)."""

    def __init__(self, n_inputs):
        self.weights = [Value(0.3 + 0.1 * i) for i in range(n_inputs)]

    def forward(self, x):
        u = [xi * w for xi, w in zip(x, self.weights)]
        prefix = [sum_values(u[: t + 1]) * (t + 1.5) for t in range(len(u))]
        hub = u[0] * u[1]
        spokes = [sum_values([hub, uj]) * (0.5 - j) for j, uj in enumerate(u[2:])]
        return [*prefix, *spokes]


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_nodes_read_unevenly_by_one_instruction_add_every_read(batch):
    """Gradients of nodes read 1 to 12 times by one instruction (padded sums of reads, or
    a sort where padding would waste too much) equal the engine's."""
    model = ReadUnevenly(12)
    X = rows(batch, 12, seed=batch)
    y = [1.0] * batch
    assert_same_step(model, random_graph_loss, X, y)


def pick_difference(out, t):
    return out[t] - 0.5 * out[(t + 1) % len(out)]


def label_scaled(out, t):
    return sum_values(out) * (t - 1.5)


def label_branch(out, t):
    return al.tanh(out[0]) if t == 0 else sum_values(out[1:]) * 0.25


LABEL_LOSSES = {
    "cross_entropy": losses.cross_entropy,
    "multiclass_hinge": losses.multiclass_hinge,
    "pick_difference": pick_difference,  # two label-dependent reads
    "label_scaled": label_scaled,  # the label as a constant
    "label_branch": label_branch,  # different graphs: one program per label
}


@settings(max_examples=80)
@given(random_models(), st.sampled_from(sorted(LABEL_LOSSES)), st.data())
def test_random_graphs_with_int_labels_match_the_interpreted_engine(spec, loss_name, data):
    """Class-index targets (picks, label constants, per-label programs) match the engine."""
    n_inputs, weights, steps, outputs = spec
    assume(len(outputs) >= 2)
    model = RandomGraph(n_inputs, weights, steps, outputs)
    loss_fn = LABEL_LOSSES[loss_name]
    batch = data.draw(st.integers(1, 6))
    sample = st.lists(coordinate, min_size=n_inputs, max_size=n_inputs)
    X = [data.draw(sample) for _ in range(batch)]
    y = [data.draw(st.integers(0, len(outputs) - 1)) for _ in range(batch)]
    ref_loss, ref_grads, _ = interpreted(model, loss_fn, X, y)
    assume(not near_kink(model))
    step = compile_loss(model, loss_fn, X[0], y[0])
    loss, grads, _ = compiled(step, model, X, y)
    assert_close(loss, ref_loss, rtol=TOLERANCE, atol=TOLERANCE, what="mean loss")
    assert_all_close(grads, ref_grads, "gradient")


# --------------------------------------------------------------------------------------
# Refusals: data-dependent graphs, active dropout, hand-built nodes, bad arguments
# --------------------------------------------------------------------------------------


class Branchy(Module):
    """Takes a different path when its first input is positive: data-dependent."""

    def __init__(self):
        self.layer = Layer(2, 2, "tanh", seed=1)

    def forward(self, x):
        h = self.layer(x)
        return h[0] if x[0] > 0 else al.relu(h[1])


def test_a_branch_on_an_input_is_refused_at_the_first_batch():
    """Samples taking the other branch raise DataDependentGraphError naming the differing node."""
    model = Branchy()
    step = compile_loss(model, losses.mse, [1.0, 0.5], 0.0)
    with pytest.raises(DataDependentGraphError, match=r"sample 1 .*node \d+.*compile=False"):
        step.backward([[1.0, 0.5], [-1.0, 0.5]], [0.0, 0.0])


def test_a_branch_on_a_computed_value_is_refused():
    """`if hidden > 0` on an interior node is control flow on data too, and is caught."""

    class Clamp(Module):
        def __init__(self):
            self.layer = Layer(1, 1, "linear", seed=3)

        def forward(self, x):
            (h,) = self.layer(x)
            return h if h > 0 else h * 0.0

    model = Clamp()
    X = [[-3.0], [-2.0], [2.0], [3.0]]
    step = compile_loss(model, losses.mse, X[0], 0.0)
    with pytest.raises(DataDependentGraphError, match="differ"):
        step.backward(X, [0.0] * 4)


def test_using_data_to_make_new_leaves_is_refused():
    """A model that copies an input's .data into a fresh Value is caught by the check."""

    def model(x):
        return Value(x[0].data) * x[1]

    step = compile_loss(model, lambda out, t: out * t, [1.0, 2.0], 1.0)
    with pytest.raises(DataDependentGraphError, match="leaf Value"):
        step.backward([[1.0, 2.0], [3.0, 2.0]], [1.0, 1.0])


def test_check_modes_decide_which_batches_are_re_traced():
    """every-batch catches a branch first taken in a later batch; first-batch checks only one."""
    positive = [[1.0, 0.5], [2.0, 0.5]]
    mixed = [[1.0, 0.5], [-1.0, 0.5]]
    every = compile_loss(Branchy(), losses.mse, positive[0], 0.0, check="every-batch")
    every.backward(positive, [0.0, 0.0])
    with pytest.raises(DataDependentGraphError):
        every.backward(mixed, [0.0, 0.0])
    first = compile_loss(Branchy(), losses.mse, positive[0], 0.0, check="first-batch")
    first.backward(positive, [0.0, 0.0])
    first.backward(mixed, [0.0, 0.0])  # documented: later batches are trusted
    assert CHECK_MODES == ("first-batch", "every-batch", "off")


def test_check_samples_none_re_traces_every_sample():
    """A branch taken by one sample in 100 is caught with check_samples=None, not by a sample."""
    X = [[1.0 + i, 0.5] for i in range(100)]
    X[50] = [-1.0, 0.5]  # not among the 32 samples spread over the batch
    y = [0.0] * 100
    exhaustive = compile_loss(Branchy(), losses.mse, X[0], 0.0, check_samples=None)
    with pytest.raises(DataDependentGraphError, match="sample 50 "):
        exhaustive.backward(X, y)
    sampled = compile_loss(Branchy(), losses.mse, X[0], 0.0)
    sampled.backward(X, y)  # documented: 32 spread samples are a test, not a proof


@given(st.integers(1, 500), st.one_of(st.none(), st.integers(1, 64)))
def test_checked_samples_are_spread_over_the_whole_batch(n, count):
    """The re-traced positions are distinct, in range, include both ends, and number min(n, k)."""
    from autograd_lite.compile import _spread

    chosen = _spread(n, count)
    assert chosen == sorted(set(chosen))
    assert len(chosen) == (n if count is None else min(n, count))
    assert chosen[0] == 0 and all(0 <= i < n for i in chosen)
    if count is None or count > 1:
        assert chosen[-1] == n - 1


def test_active_dropout_is_refused_and_eval_mode_is_not():
    """Dropout in training mode raises a ValueError saying to call eval(); in eval it compiles."""
    model = Sequential(Layer(2, 3), Dropout(0.5), Layer(3, 1))
    with pytest.raises(ValueError, match=r"Dropout.*training mode.*eval\(\)"):
        compile_loss(model, losses.mse, [1.0, 2.0], 0.0)
    model.eval()
    step = compile_loss(model, losses.mse, [1.0, 2.0], 0.0)
    step.backward([[1.0, 2.0]], [0.0])
    model.train()
    with pytest.raises(ValueError, match="Dropout"):
        step.backward([[1.0, 2.0]], [0.0])
    with pytest.raises(ValueError, match="Dropout"):
        step.forward([[1.0, 2.0]])


def test_hand_built_micrograd_style_nodes_are_refused():
    """A node with a Python _backward cannot be replayed: TypeError naming primitive()."""

    def model(x):
        out = Value(x[0].data * 2.0, (x[0],), "double")
        out._backward = lambda: None
        return out

    with pytest.raises(TypeError, match=r"hand-built node.*primitive\(\)"):
        compile_loss(model, lambda out, t: out, [1.0], 0.0)


def test_bad_arguments_get_clear_errors():
    """Wrong types, an unknown check mode, empty or mismatched batches: clear errors."""
    model = MLP(2, [1], seed=0)
    with pytest.raises(TypeError, match="model must be callable"):
        compile_loss(3, losses.mse, [1.0, 2.0], 0.0)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        compile_loss(model, "mse", [1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match=r"check must be one of \['first-batch'"):
        compile_loss(model, losses.mse, [1.0, 2.0], 0.0, check="sometimes")
    with pytest.raises(ValueError, match="check_samples must be at least 1"):
        compile_loss(model, losses.mse, [1.0, 2.0], 0.0, check_samples=0)
    with pytest.raises(TypeError, match="check_samples must be an int or None, got float"):
        compile_loss(model, losses.mse, [1.0, 2.0], 0.0, check_samples=2.5)
    with pytest.raises(TypeError, match="got a Value"):
        compile_loss(model, losses.mse, [Value(1.0), 2.0], 0.0)
    step = compile_loss(model, losses.mse, [1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match="X is empty"):
        step.backward([], [])
    with pytest.raises(ValueError, match="X has 2 samples but y has 1"):
        step.backward([[1.0, 2.0], [3.0, 4.0]], [0.0])
    with pytest.raises(TypeError, match="got str"):
        step.backward([[1.0, "a"]], [0.0])
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        step.backward([[1.0, 2.0, 3.0]], [0.0])
    assert "CompiledLoss(model=MLP" in repr(step)
    assert isinstance(step, CompiledLoss)


def test_numbers_beyond_floats_and_wrong_labels_get_the_engines_errors():
    """10**400 in a batch or example is a ValueError, a huge or float class label the loss's
    own error, and backward without targets a TypeError naming what it needs."""
    model = MLP(2, [3, 2], seed=0)
    with pytest.raises(ValueError, match=r"10\*\*400; it does not fit in a float"):
        compile_loss(model, losses.cross_entropy, [10**400, 1.0], 0)
    step = compile_loss(model, losses.cross_entropy, [1.0, 1.0], 0)
    with pytest.raises(ValueError, match=r"10\*\*400; it does not fit in a float"):
        step.backward([[1.0, 1.0], [10**400, 1.0]], [0, 1])
    with pytest.raises(ValueError, match=r"10\*\*400; it does not fit in a float"):
        step.forward([[-(10**400), 1.0]])
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        step.backward([[1.0, 1.0]], [10**30])
    with pytest.raises(TypeError, match=r"target must be an int class index, got float 1\.0"):
        step.backward([[1.0, 1.0]], [1.0])
    with pytest.raises(TypeError, match="backward needs the targets y"):
        step.backward([[1.0, 1.0]], None)
    regression = compile_loss(MLP(2, [1], seed=0), losses.mse, [1.0, 1.0], 0.5)
    with pytest.raises(ValueError, match=r"10\*\*400; it does not fit in a float"):
        regression.backward([[1.0, 1.0]], [10**400])


def _first_error(call):
    try:
        call()
    except Exception as error:  # the test compares the kinds of error the two engines raise
        return error
    return None


# Entries no batch may hold, or that this loss refuses (a float class index, a bool).
HOSTILE = st.sampled_from(
    [10**400, -(10**400), 10**30, 1.0, True, "a", None, Decimal("1.5"), Value(1.0), [1.0], []]
)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 4),
    where=st.sampled_from(["x", "y"]),
    sample=st.integers(0, 3),
    column=st.integers(0, 1),
    bad=HOSTILE,
)
def test_a_hostile_batch_gets_the_interpreted_engines_kind_of_error(n, where, sample, column, bad):
    """One hostile entry anywhere in a batch: the compiled loss raises a TypeError or ValueError
    exactly when the interpreted engine does (the same kind), and otherwise agrees with it."""
    model = MLP(2, [3, 2], seed=0)
    step = compile_loss(model, losses.cross_entropy, [0.5, -0.5], 1)
    X, y = rows(n, 2, seed=n), [i % 2 for i in range(n)]
    sample = min(sample, n - 1)
    if where == "x":
        X[sample][column] = bad
    else:
        y[sample] = bad
    expected = _first_error(lambda: interpreted(model, losses.cross_entropy, X, y))
    if where == "x" and isinstance(bad, Value):  # the engine takes it; compiled inputs are numbers
        expected = TypeError("compiled inputs X must hold numbers, got a Value")
    actual = _first_error(lambda: compiled(step, model, X, y))
    if expected is None:
        assert actual is None, f"compiled refused what the engine accepts: {actual!r}"
        assert_same_step(model, losses.cross_entropy, X, y, step)
    else:
        assert type(actual) in (TypeError, ValueError), f"{actual!r} for {expected!r}"
        assert isinstance(actual, type(expected)), f"{actual!r} for {expected!r}"


@settings(max_examples=40, deadline=None)
@given(
    where=st.sampled_from(["x", "y"]),
    sample=st.integers(0, 1),
    position=st.integers(0, 2),
    bad=st.one_of(HOSTILE, st.sampled_from([11, -1, 3.0])),
)
def test_a_hostile_token_batch_gets_the_interpreted_engines_kind_of_error(
    where, sample, position, bad
):
    """One hostile token or target in a GPT batch: the compiled loss raises the interpreted
    engine's kind of error (TypeError or ValueError, never OverflowError)."""
    model = small_gpt()
    step = compile_loss(model, sequence_loss, [1, 2, 3], [2, 3, 4])
    X, Y = [[1, 2, 3], [4, 5, 6]], [[2, 3, 4], [5, 6, 7]]
    (X if where == "x" else Y)[sample][position] = bad
    expected = _first_error(lambda: interpreted(model, sequence_loss, X, Y))
    actual = _first_error(lambda: compiled(step, model, X, Y))
    assert expected is not None
    assert type(actual) in (TypeError, ValueError), f"{actual!r} for {expected!r}"
    assert isinstance(actual, type(expected)), f"{actual!r} for {expected!r}"


# --------------------------------------------------------------------------------------
# numpy is optional
# --------------------------------------------------------------------------------------


def test_missing_numpy_says_what_to_install(monkeypatch):
    """Without numpy, compile_loss raises ImportError with the pip command for the extra."""
    import autograd_lite.compile as compile_module

    monkeypatch.setitem(sys.modules, "numpy", None)
    monkeypatch.delitem(sys.modules, "autograd_lite.compile._replay", raising=False)
    monkeypatch.delattr(compile_module, "_replay", raising=False)
    with pytest.raises(ImportError, match=r'pip install "autograd-lite\[compile\]"'):
        compile_loss(MLP(1, [1], seed=0), losses.mse, [1.0], 0.0)


def test_importing_the_package_and_module_does_not_import_numpy():
    """`import autograd_lite.compile` stays numpy-free until a loss is compiled."""
    code = "import sys, autograd_lite, autograd_lite.compile; print('numpy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_mean_loss_is_the_fsum_mean_of_per_sample_losses():
    """The returned loss is fsum(losses) / n of the engine's per-sample losses, bit for bit."""
    model = MLP(2, [3, 1], seed=5)
    X, y = rows(10, 2, seed=1), [0.1 * i for i in range(10)]
    step = compile_loss(model, losses.mse, X[0], y[0])
    per_sample = [losses.mse(model(x), t).data for x, t in zip(X, y)]
    expected = math.fsum(per_sample) / len(per_sample)
    assert_close(step.backward(X, y), expected, rtol=TOLERANCE, atol=0.0, what="mean")


def test_a_branch_taken_by_one_sample_in_256_is_missed_by_default_and_caught_when_asked():
    """Pins the documented limit: default checks re-trace 32 of 256 samples, so one odd
    sample (index 1, between the re-traced 0 and 8) goes unseen; check_samples=None sees it."""
    X = [[1.0 + i, 0.5] for i in range(256)]
    X[1] = [-1.0, 0.5]
    y = [0.0] * 256
    default = compile_loss(Branchy(), losses.mse, X[0], 0.0)
    default.backward(X, y)  # no error: the branch of sample 1 was never re-traced
    exhaustive = compile_loss(Branchy(), losses.mse, X[0], 0.0, check_samples=None)
    with pytest.raises(DataDependentGraphError, match="sample 1 "):
        exhaustive.backward(X, y)


# --------------------------------------------------------------------------------------
# Compiled training steps on a flat buffer: the optimizers, the sync point, fit
# --------------------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "sgd_momentum_dampening": lambda ps: SGD(ps, lr=0.1, momentum=0.8, dampening=0.3),
    "sgd_nesterov_decay": lambda ps: SGD(
        ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01
    ),
    "sgd_maximize": lambda ps: SGD(ps, lr=0.01, maximize=True),
    "adam": lambda ps: Adam(ps, lr=0.01),
    "adam_amsgrad_decay": lambda ps: Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
    "adam_maximize": lambda ps: Adam(ps, lr=0.01, maximize=True),
    "adamw": lambda ps: AdamW(ps, lr=0.02, weight_decay=0.05),
    "adamw_amsgrad": lambda ps: AdamW(ps, lr=0.02, amsgrad=True),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.01),
    "rmsprop_centered_momentum_decay": lambda ps: RMSprop(
        ps, lr=0.01, centered=True, momentum=0.5, weight_decay=0.1
    ),
    "groups": lambda ps: SGD(
        [{"params": ps[:30], "lr": 0.2, "momentum": 0.5}, {"params": ps[30:]}], lr=0.05
    ),
}


def _twin_models(seed=4):
    return MLP(6, [8, 3], seed=seed), MLP(6, [8, 3], seed=seed)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trainer_steps_equal_the_interpreted_optimizer_over_several_steps(name):
    """Five trainer steps give the weights, gradients, losses and state_dict of
    zero_grad/backward/step with the optimizer itself, to 1e-12."""
    reference, fast = _twin_models()
    ref_opt, fast_opt = (
        OPTIMIZERS[name](reference.parameters()),
        OPTIMIZERS[name](fast.parameters()),
    )
    ref_step = compile_loss(reference, losses.cross_entropy, [0.0] * 6, 0)
    fast_step = compile_loss(fast, losses.cross_entropy, [0.0] * 6, 0)
    with fast_step.trainer(fast_opt) as train:
        for k in range(5):
            X, y = rows(16, 6, seed=k), [random.Random(k + i).randrange(3) for i in range(16)]
            ref_opt.zero_grad()
            ref_loss = ref_step.backward(X, y)
            ref_opt.step()
            assert_close(train.step(X, y), ref_loss, what=f"loss of step {k}")
    assert_all_close(
        [p.data for p in fast.parameters()], [p.data for p in reference.parameters()], "weights"
    )
    assert_all_close(
        [p.grad for p in fast.parameters()], [p.grad for p in reference.parameters()], "grads"
    )
    ref_state, fast_state = ref_opt.state_dict(), fast_opt.state_dict()
    assert fast_state["param_groups"] == ref_state["param_groups"]
    assert sorted(fast_state["state"]) == sorted(ref_state["state"])
    for index, entry in ref_state["state"].items():
        assert sorted(fast_state["state"][index]) == sorted(entry)
        for key, value in entry.items():
            assert type(fast_state["state"][index][key]) is type(value), key
            assert_close(fast_state["state"][index][key], value, what=f"state {index} {key}")


def test_trainer_adam_step_matches_pytorch_float64():
    """Three compiled Adam steps (with weight decay) move the weights as torch.optim.Adam does."""
    torch = require_torch()
    model = MLP(5, [6, 4], seed=12)
    layers = []
    for layer in model.layers:
        w = torch.tensor([[v.data for v in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        layers.append((w.requires_grad_(), b.requires_grad_()))
    torch_opt = torch.optim.Adam([t for pair in layers for t in pair], lr=0.01, weight_decay=0.1)
    step = compile_loss(model, losses.cross_entropy, [0.0] * 5, 0)
    with step.trainer(Adam(model.parameters(), lr=0.01, weight_decay=0.1)) as train:
        for k in range(3):
            X, y = rows(32, 5, seed=k), [random.Random(i + k).randrange(4) for i in range(32)]
            train.step(X, y)
            torch_opt.zero_grad()
            h = torch.tensor(X, dtype=torch.float64)
            for i, (w, b) in enumerate(layers):
                h = h @ w.T + b
                h = torch.relu(h) if i < len(layers) - 1 else h
            torch.nn.functional.cross_entropy(h, torch.tensor(y)).backward()
            torch_opt.step()
    for layer, (w, b) in zip(model.layers, layers):
        for neuron, w_row, b_value in zip(layer.neurons, w.tolist(), b.tolist()):
            assert_all_close([p.data for p in neuron.w], w_row, "weights", tolerance=1e-11)
            assert_close(neuron.b.data, b_value, rtol=1e-11, atol=1e-11, what="bias")


def test_trainer_writes_the_values_at_the_sync_point_only():
    """Inside the block the Values keep the last sync's numbers; sync() and leaving the block
    write weights, the last batch's gradient and the optimizer state."""
    model = MLP(6, [8, 3], seed=2)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = compile_loss(model, losses.cross_entropy, [0.0] * 6, 0)
    X, y = rows(8, 6, seed=1), [i % 3 for i in range(8)]
    before = [p.data for p in model.parameters()]
    with step.trainer(optimizer) as train:
        train.step(X, y)
        assert [p.data for p in model.parameters()] == before  # documented: not yet synced
        assert optimizer.state == {}
        train.sync()
        synced = [p.data for p in model.parameters()]
        assert synced != before
        assert [p.data for p in model.parameters()] == train.theta.tolist()
        assert [p.grad for p in model.parameters()] == train.grad.tolist()
        assert len(optimizer.state) == len(before)
        train.step(X, y)
    assert [p.data for p in model.parameters()] == train.theta.tolist()
    assert [p.data for p in model.parameters()] != synced


def test_trainer_reload_picks_up_weights_and_state_changed_outside():
    """After reload(), a weight set by hand and a loaded state_dict are what the next step uses."""
    reference, fast = _twin_models(seed=8)
    ref_opt = SGD(reference.parameters(), lr=0.1, momentum=0.9)
    fast_opt = SGD(fast.parameters(), lr=0.1, momentum=0.9)
    X, y = rows(8, 6, seed=5), [i % 3 for i in range(8)]
    ref_step = compile_loss(reference, losses.cross_entropy, X[0], y[0])
    with compile_loss(fast, losses.cross_entropy, X[0], y[0]).trainer(fast_opt) as train:
        train.step(X, y)
        train.sync()
        ref_opt.zero_grad()
        ref_step.backward(X, y)
        ref_opt.step()
        for model in (reference, fast):
            model.parameters()[0].data = 0.25
        fast_opt.load_state_dict(ref_opt.state_dict())
        train.reload()
        train.step(X, y)
    ref_opt.zero_grad()
    ref_step.backward(X, y)
    ref_opt.step()
    assert_all_close(
        [p.data for p in fast.parameters()], [p.data for p in reference.parameters()], "weights"
    )


def test_trainer_reads_the_learning_rate_a_scheduler_sets_at_every_step():
    """A StepLR inside the block changes the trainer's steps as it changes optimizer.step's."""
    from autograd_lite.optim.lr_scheduler import StepLR

    reference, fast = _twin_models(seed=3)
    ref_opt, fast_opt = Adam(reference.parameters(), lr=0.05), Adam(fast.parameters(), lr=0.05)
    ref_sched, fast_sched = StepLR(ref_opt, 1, 0.3), StepLR(fast_opt, 1, 0.3)
    X, y = rows(8, 6, seed=6), [i % 3 for i in range(8)]
    ref_step = compile_loss(reference, losses.cross_entropy, X[0], y[0])
    with compile_loss(fast, losses.cross_entropy, X[0], y[0]).trainer(fast_opt) as train:
        for _ in range(3):
            ref_opt.zero_grad()
            ref_step.backward(X, y)
            ref_opt.step()
            ref_sched.step()
            train.step(X, y)
            fast_sched.step()
    assert_all_close(
        [p.data for p in fast.parameters()], [p.data for p in reference.parameters()], "weights"
    )


def test_trainer_with_another_optimizer_steps_through_the_values():
    """An optimizer the trainer does not vectorise (a subclass) works through .grad and step()."""

    class MySGD(SGD):
        pass

    model = MLP(6, [8, 3], seed=2)
    step = compile_loss(model, losses.cross_entropy, [0.0] * 6, 0)
    train = step.trainer(MySGD(model.parameters(), lr=0.1))
    assert not train.fast
    before = [p.data for p in model.parameters()]
    train.step(rows(4, 6, seed=0), [0, 1, 2, 0])
    assert [p.data for p in model.parameters()] != before  # in sync at every step


def test_trainer_refuses_an_optimizer_of_other_parameters():
    """An optimizer holding a Value the compiled model does not have is a clear ValueError."""
    model = MLP(6, [8, 3], seed=2)
    step = compile_loss(model, losses.cross_entropy, [0.0] * 6, 0)
    with pytest.raises(ValueError, match="does not have"):
        step.trainer(SGD([*model.parameters(), Value(1.0)], lr=0.1))
    with pytest.raises(TypeError, match="optimizer"):
        step.trainer("sgd")


def test_an_l2_penalty_that_overflows_is_inf_as_the_engines_is():
    """Weights whose squares are finite but whose sum is not give the flat trainer's l2 term
    the engine's inf (math.fsum alone raises OverflowError there)."""
    from autograd_lite.losses import l2_penalty

    model = MLP(2, [2, 1], seed=0)
    for p in model.parameters()[:3]:
        p.data = 1.2e154
    X, y = [[0.1, 0.2], [0.3, 0.4]], [0.5, 1.0]
    expected = l2_penalty(model.parameters(), 1e-3).data
    assert expected == math.inf
    train = compile_loss(model, losses.mse, X[0], y[0]).trainer(SGD(model.parameters(), lr=0.0))
    assert train.fast
    assert train.backward(X, y, l2=1e-3) == expected


def test_fit_compiled_follows_interpreted_training_with_momentum_l2_and_a_scheduler():
    """fit(compile=True) on the flat buffer gives the interpreted run's history and weights."""
    from autograd_lite.optim.lr_scheduler import StepLR
    from autograd_lite.training import fit

    rng = random.Random(0)
    X = [[rng.uniform(-1, 1) for _ in range(4)] for _ in range(40)]
    y = [rng.randrange(3) for _ in range(40)]
    runs = []
    for compiled_run in (False, True):
        model = MLP(4, [8, 3], seed=1)
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = fit(
            model,
            X,
            y,
            optimizer=optimizer,
            scheduler=StepLR(optimizer, 2, 0.5),
            epochs=4,
            batch_size=16,
            l2=1e-3,
            compile=compiled_run,
            progress=False,
            X_test=X[:10],
            y_test=y[:10],
        )
        runs.append((model, history))
    (reference, ref_history), (fast, fast_history) = runs
    assert_all_close(
        [p.data for p in fast.parameters()], [p.data for p in reference.parameters()], "weights"
    )
    for ref, got in zip(ref_history.records, fast_history.records):
        for key in ("loss", "test_loss", "accuracy", "test_accuracy", "lr"):
            assert_close(got[key], ref[key], what=key)
        for layer, norm in ref["grad_norms"].items():
            assert_close(got["grad_norms"][layer], norm, what=f"grad norm {layer}")


# --------------------------------------------------------------------------------------
# Token sequences: embedding lookups as gathers, one program per length
# --------------------------------------------------------------------------------------


def sequence_loss(logits, targets):
    """The mean of per-position cross-entropies, as a language model is trained."""
    return sum_values([losses.cross_entropy(row, t) for row, t in zip(logits, targets)]) / len(
        targets
    )


def token_batch(n, length, vocab, seed):
    rng = random.Random(seed)
    X = [[rng.randrange(vocab) for _ in range(length)] for _ in range(n)]
    Y = [[rng.randrange(vocab) for _ in range(length)] for _ in range(n)]
    return X, Y


def small_gpt(seed=0):
    from autograd_lite.nn import GPT

    return GPT(11, 8, 8, 2, 1, seed=seed)


def test_gpt_token_sequences_match_the_interpreted_engine():
    """Compiled GPT loss, gradients (every parameter, embeddings included) and logits equal
    the interpreted engine's to 1e-10, with repeated tokens within and across samples."""
    model = small_gpt()
    X, Y = token_batch(6, 5, 11, seed=1)
    X[0] = [3, 3, 3, 1, 3]
    step = compile_loss(model, sequence_loss, X[0], Y[0])
    loss, grads, outputs = compiled(step, model, X, Y)
    ref_loss, ref_grads, ref_outputs = interpreted(model, sequence_loss, X, Y)
    assert_close(loss, ref_loss, rtol=1e-10, atol=1e-10, what="loss")
    assert_all_close(grads, ref_grads, "gradient", tolerance=1e-10)
    assert_all_close(outputs, ref_outputs, "logits", tolerance=1e-10)
    assert_all_close(step.last_outputs, ref_outputs, "last outputs", tolerance=1e-10)
    assert any(g != 0.0 for g in grads[: 11 * 8])  # the token table got gradients


def test_repeated_token_gradients_add_every_read_as_add_at_does():
    """Embedding gradients summed per row by bincount equal np.add.at's bit for bit from
    rows of 0.0 (as backward leaves them), with tokens repeated, nan, ±inf and -0.0
    contributions, and rows no token read (holding -0.0 or nan) left as they were."""
    from autograd_lite.compile._replay import _add_repeated

    rng = np.random.default_rng(5)
    table = np.arange(40, 40 + 6 * 3).reshape(6, 3)  # rows 40-57 of a 70-row table
    for trial in range(20):
        tokens = rng.integers(0, 4, (5, 7))  # tokens 4 and 5 never read
        index = table[tokens.T[:, :, None], np.arange(3)].reshape(-1, 5)
        contributions = rng.standard_normal(index.shape)
        contributions.flat[rng.integers(0, contributions.size, 4)] = [
            math.nan,
            math.inf,
            -math.inf,
            -0.0,
        ][: 1 + trial % 4]
        start = np.zeros(70)
        start[table[4:].ravel()] = -0.0
        start[table[4:].ravel()[::2]] = math.nan
        expected, actual = start.copy(), start.copy()
        with np.errstate(invalid="ignore"):  # inf + -inf is nan, as the engine's
            np.add.at(expected, index, contributions)
            _add_repeated(actual, table, index, contributions)
        assert expected.tobytes() == actual.tobytes(), f"trial {trial}"


def test_copying_or_pickling_a_compiled_loss_or_trainer_says_to_compile_a_copy_of_the_model():
    """copy, deepcopy and pickle of a CompiledLoss, a SequenceLoss and a trainer (fresh and
    after steps) raise a TypeError naming the kind and the route; that route (sync, copy
    the model, compile the copy) gives the trained model's loss, and the original goes on."""
    import copy
    import pickle

    model = MLP(3, [4, 3], seed=0)
    X, y = np.array(rows(4, 3, seed=6)), np.array([0, 2, 1, 2])
    step = compile_loss(model, losses.cross_entropy, X[0].tolist(), 0)
    gpt = small_gpt()
    tokens, targets = token_batch(2, 4, 11, seed=2)
    sequences = compile_loss(gpt, sequence_loss, tokens[0], targets[0])
    copiers = (copy.copy, copy.deepcopy, pickle.dumps)
    for thing, kind in ((step, "CompiledLoss"), (sequences, "SequenceLoss")):
        for copier in copiers:
            with pytest.raises(TypeError, match=f"a {kind} cannot be copied or pickled"):
                copier(thing)
    train = step.trainer(SGD(model.parameters(), lr=0.1, momentum=0.9))
    for _ in range(3):
        train.step(X, y)
    sequences.backward(tokens, targets)
    trained = ((step, "CompiledLoss"), (train, "CompiledTrainer"), (sequences, "SequenceLoss"))
    for thing, kind in trained:
        route = rf"a {kind} cannot .* train\.sync\(\) first.*compile_loss\("
        for copier in copiers:
            with pytest.raises(TypeError, match=route):
                copier(thing)
    train.sync()
    twin = copy.deepcopy(model)
    twin_step = compile_loss(twin, losses.cross_entropy, X[0].tolist(), 0)
    expected = interpreted(model, losses.cross_entropy, X.tolist(), y.tolist())[0]
    assert_close(twin_step.backward(X, y), expected, rtol=1e-12, atol=1e-12, what="copy's loss")
    assert_close(step.backward(X, y), expected, rtol=1e-12, atol=1e-12, what="original's loss")


def test_compiled_gpt_step_matches_pytorch_float64():
    """The compiled GPT loss and every parameter's gradient (stacked projections, attention,
    embeddings) equal a PyTorch float64 GPT's, sequence by sequence, to 1e-10."""
    torch = require_torch()
    from tests.test_transformer import our_parameters, torch_gpt

    model = small_gpt(seed=3)
    X, Y = token_batch(3, 6, 11, seed=4)
    step = compile_loss(model, sequence_loss, X[0], Y[0])
    zero_grads(model.parameters())
    loss = step.backward(X, Y)
    expected_loss, expected_grads = 0.0, {}
    for x, y in zip(X, Y):
        logits, leaves = torch_gpt(model, x)
        part = torch.nn.functional.cross_entropy(logits, torch.tensor(y)) / len(X)
        part.backward()
        expected_loss += part.item()
        for name, leaf in leaves.items():
            expected_grads[name] = expected_grads.get(name, 0.0) + leaf.grad
    assert_close(loss, expected_loss, rtol=1e-10, atol=1e-10, what="loss")
    for name, values in our_parameters(model).items():
        ours = [p.grad for p in flatten(values)]
        assert_all_close(ours, expected_grads[name].flatten().tolist(), name, tolerance=1e-10)


def test_each_projection_at_every_position_is_one_stacked_matrix_product():
    """The GPT's q/k/v, out, fc, proj and lm_head groups replay as stacked products
    (TiledInputs), not as one product per scalar dot node."""
    from autograd_lite.compile._matmul import TiledInputs

    model = small_gpt(seed=3)
    X, Y = token_batch(2, 6, 11, seed=4)
    step = compile_loss(model, sequence_loss, X[0], Y[0])
    program = step._programs[6, 6].program
    tiled = [i for i in program.instructions if isinstance(getattr(i, "ub", None), TiledInputs)]
    assert sorted(i.ub.m for i in tiled) == sorted([3 * 8, 8, 4 * 8, 8, 11])
    assert all(i.ub.p == 6 for i in tiled)


class Shuffled(Module):
    """One Layer applied to three chunks of the input, the chunks' outputs consumed in
    different orders (so the trace meets each chunk's units in its own order)."""

    def __init__(self):
        self.layer = Layer(2, 3, "tanh", seed=5)
        self.readout = Layer(9, 2, "linear", seed=6)

    def forward(self, x):
        a, b, c = (self.layer(x[i : i + 2]) for i in (0, 2, 4))
        return self.readout([b[2], a[0], c[1], b[0], a[2], c[0], b[1], a[1], c[2]])


def test_a_shared_layer_whose_units_the_trace_meets_out_of_order_matches_the_engine():
    """A layer applied to three chunks, its units met in a different order per chunk, tiles
    into one stacked product and still equals the interpreted engine."""
    from autograd_lite.compile._matmul import TiledInputs

    model = Shuffled()
    X, y = rows(5, 6, seed=7), [0, 1, 1, 0, 1]
    step = assert_same_step(model, losses.cross_entropy, X, y)
    program = next(iter(step._variants.values())).merged_program(step._replay, step._params)
    tiled = [i.ub for i in program.instructions if isinstance(getattr(i, "ub", None), TiledInputs)]
    assert len(tiled) == 1 and tiled[0].order is not None  # a permutation undone


def test_token_programs_are_compiled_once_per_length_and_cached():
    """Lengths 3, 5, 3 make two programs; the second batch of length 3 reuses the first."""
    model = small_gpt(seed=1)
    X3, Y3 = token_batch(4, 3, 11, seed=2)
    X5, Y5 = token_batch(4, 5, 11, seed=3)
    step = compile_loss(model, sequence_loss, X3[0], Y3[0])
    first = step._programs[3, 3].program
    for X, Y in ((X5, Y5), (X3, Y3)):
        assert_same_step(model, sequence_loss, X, Y, step=step)
    assert sorted(step._programs) == [(3, 3), (5, 5)]
    assert step._programs[3, 3].program is first


def test_token_trainer_follows_the_interpreted_adam_steps():
    """Three trainer steps on token batches equal interpreted zero_grad/backward/Adam.step."""
    reference, fast = small_gpt(seed=4), small_gpt(seed=4)
    ref_opt, fast_opt = Adam(reference.parameters(), lr=0.01), Adam(fast.parameters(), lr=0.01)
    X, Y = token_batch(4, 4, 11, seed=5)
    with compile_loss(fast, sequence_loss, X[0], Y[0]).trainer(fast_opt) as train:
        for k in range(3):
            X, Y = token_batch(4, 4, 11, seed=k)
            ref_opt.zero_grad()
            total = sum_values([sequence_loss(reference(x), t) for x, t in zip(X, Y)]) / len(X)
            total.backward()
            ref_opt.step()
            assert_close(train.step(X, Y), total.data, rtol=1e-10, atol=1e-10, what="loss")
    assert_all_close(
        [p.data for p in fast.parameters()],
        [p.data for p in reference.parameters()],
        "weights",
        tolerance=1e-10,
    )


def test_token_trainer_compiles_a_new_length_after_steps_against_the_current_weights():
    """A length first seen after trainer steps is checked against the buffer's weights, not
    the lagging Values: no spurious DataDependentGraphError, and every step's loss and the
    final weights equal interpreted Adam's (issue 14: the check read the stale Values)."""
    reference, fast = small_gpt(seed=6), small_gpt(seed=6)
    ref_opt, fast_opt = Adam(reference.parameters(), lr=0.05), Adam(fast.parameters(), lr=0.05)
    batches = [token_batch(4, length, 11, seed=k) for k, length in enumerate((4, 4, 4, 6, 3, 6))]
    step = compile_loss(fast, sequence_loss, batches[0][0][0], batches[0][1][0])
    with step.trainer(fast_opt) as train:
        for X, Y in batches:
            ref_opt.zero_grad()
            total = sum_values([sequence_loss(reference(x), t) for x, t in zip(X, Y)]) / len(X)
            total.backward()
            ref_opt.step()
            assert_close(train.step(X, Y), total.data, rtol=1e-10, atol=1e-10, what="loss")
        # forward inside the block reads the buffer too: the current weights' logits.
        X, _ = batches[-1]
        assert_all_close(step.forward(X), [as_floats(reference(x)) for x in X], "logits", 1e-10)
    assert sorted(step._programs) == [(3, 3), (4, 4), (6, 6)]
    assert_all_close(
        [p.data for p in fast.parameters()],
        [p.data for p in reference.parameters()],
        "weights",
        tolerance=1e-10,
    )


def test_token_check_inside_the_trainer_leaves_the_values_at_the_last_sync():
    """Checking a new length inside the trainer does not move the Values: they keep the last
    sync's numbers, as documented, until sync() writes the buffer."""
    model = small_gpt(seed=7)
    optimizer = SGD(model.parameters(), lr=0.5)
    X4, Y4 = token_batch(3, 4, 11, seed=1)
    X5, Y5 = token_batch(3, 5, 11, seed=2)
    step = compile_loss(model, sequence_loss, X4[0], Y4[0])
    before = [p.data for p in model.parameters()]
    with step.trainer(optimizer) as train:
        train.step(X4, Y4)
        train.step(X5, Y5)  # a new length: compiled and checked here
        assert [p.data for p in model.parameters()] == before
        ahead = train.theta.tolist()
    assert ahead != before
    assert [p.data for p in model.parameters()] == ahead


@pytest.mark.parametrize("kind", ["mlp", "gpt"])
def test_step_backward_between_a_trainer_step_and_its_sync_is_refused(kind):
    """step.backward() after train.step() in the block would replay the last sync's weights:
    a RuntimeError saying so; after train.sync() it gives the interpreted engine's numbers."""
    if kind == "mlp":
        model = MLP(3, [4, 2], seed=1)
        X, y = rows(5, 3, seed=2), [i % 2 for i in range(5)]
        step = compile_loss(model, losses.cross_entropy, X[0], y[0])
        loss_fn = losses.cross_entropy
    else:
        model = small_gpt(seed=9)
        X, y = token_batch(3, 4, 11, seed=3)
        step = compile_loss(model, sequence_loss, X[0], y[0])
        loss_fn = sequence_loss
    with step.trainer(SGD(model.parameters(), lr=0.5)) as train:
        step.backward(X, y)  # no step yet: the Values are the trainer's weights
        train.step(X, y)
        with pytest.raises(RuntimeError, match=r"train\.sync\(\) first"):
            step.backward(X, y)
        train.sync()
        zero_grads(model.parameters())
        got = step.backward(X, y)
    ref_loss, _, _ = interpreted(model, loss_fn, X, y)
    assert_close(got, ref_loss, rtol=1e-10, atol=1e-10, what="loss after sync")


def test_rnn_trainer_meets_a_new_length_after_steps_like_the_interpreted_engine():
    """An RNN trained in a trainer, then fed sequence lengths it has not seen: the losses, the
    outputs of forward inside the block and the weights equal interpreted SGD's."""
    reference, fast = RNN(2, 3, nout=1, seed=8), RNN(2, 3, nout=1, seed=8)
    ref_opt = SGD(reference.parameters(), lr=0.3, momentum=0.9)
    fast_opt = SGD(fast.parameters(), lr=0.3, momentum=0.9)
    rng = random.Random(1)
    batches = [
        (
            [rows(length, 2, seed=10 * k + i) for i in range(5)],
            [rng.uniform(-1, 1) for _ in range(5)],
        )
        for k, length in enumerate((3, 3, 3, 5, 2))
    ]
    step = compile_loss(fast, losses.mse, batches[0][0][0], batches[0][1][0])
    with step.trainer(fast_opt) as train:
        for X, y in batches:
            ref_opt.zero_grad()
            total = sum_values([losses.mse(reference(x), t) for x, t in zip(X, y)]) / len(X)
            total.backward()
            ref_opt.step()
            assert_close(train.step(X, y), total.data, rtol=1e-11, atol=1e-11, what="loss")
        # forward inside the block reads the buffer, also for a length not seen yet.
        X = [rows(4, 2, seed=99)]
        assert_all_close(step.forward(X), [as_floats(reference(x)) for x in X], "outputs")
    assert_all_close(
        [p.data for p in fast.parameters()], [p.data for p in reference.parameters()], "weights"
    )


def test_token_sequences_outside_what_compiles_get_clear_errors():
    """Too long for the vocabulary, tokens or targets out of range, ragged batches: ValueErrors."""
    from autograd_lite.nn import GPT

    tiny = GPT(3, 8, 4, 1, 1, seed=0)
    with pytest.raises(ValueError, match="at most as long as the vocabulary"):
        compile_loss(tiny, sequence_loss, [0, 1, 2, 0], [0, 1, 2, 0])
    model = small_gpt()
    step = compile_loss(model, sequence_loss, [1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match=r"tokens must be in 0\.\.10, got 11"):
        step.backward([[1, 2, 11]], [[1, 2, 3]])
    with pytest.raises(ValueError, match=r"class indices must be in 0\.\.10, got -1"):
        step.backward([[1, 2, 3]], [[1, 2, -1]])
    with pytest.raises(ValueError, match="one length"):
        step.backward([[1, 2, 3], [1, 2]], [[1, 2, 3], [1, 2]])
    with pytest.raises(TypeError, match="int tokens"):
        step.backward([[1, 2, 3.5]], [[1, 2, 3]])


def test_uint64_tokens_and_targets_beyond_every_index_are_named_as_they_are():
    """A uint64 token or target of 2**64 - 1 (which a cast to machine indices turns into -1)
    is refused as an int of about 10**19, not as -1; uint tokens in range give the numbers
    of the same tokens as int64."""
    model = small_gpt()
    step = compile_loss(model, sequence_loss, [1, 2, 3], [1, 2, 3])
    tokens, targets = np.array([[1, 2, 3], [4, 5, 6]]), np.array([[2, 3, 4], [5, 6, 7]])
    expected = step.backward(tokens, targets)
    assert step.backward(tokens.astype(np.uint64), targets.astype(np.uint8)) == expected
    for bad_tokens in (True, False):
        X, y = tokens.astype(np.uint64), targets.astype(np.uint64)
        (X if bad_tokens else y)[1, 2] = 2**64 - 1
        with pytest.raises(ValueError, match=r"in 0\.\.n - 1, got an int of about 10\*\*19"):
            step.backward(X, y)


def test_a_model_whose_graph_depends_on_the_tokens_is_refused():
    """An embedding model that branches on a token's value is refused, not replayed wrong."""
    from autograd_lite.nn import Embedding

    class Branching(Module):
        def __init__(self):
            self.table = Embedding(6, 3, seed=0)

        def forward(self, tokens):
            rows = [self.table(t) for t in tokens]
            return [
                [al.relu(v) if t == 0 else v * 2.0 for v in row] for t, row in zip(tokens, rows)
            ]

    def loss(rows, targets):
        return sum_values([losses.cross_entropy(r, t) for r, t in zip(rows, targets)])

    with pytest.raises(DataDependentGraphError, match="depends on the tokens"):
        compile_loss(Branching(), loss, [0, 1], [0, 1])


def test_fit_compiled_trains_on_the_flat_buffer_not_through_optimizer_step():
    """fit(compile=True) with Adam never calls optimizer.step(): the trainer updates the buffer,
    and the model and the optimizer's state are synced when fit returns."""
    from autograd_lite.training import fit

    model = MLP(3, [4, 2], seed=0)
    optimizer = Adam(model.parameters(), lr=0.05)

    def refuse(*args, **kwargs):
        raise AssertionError("optimizer.step() was called")

    optimizer.step = refuse
    X = rows(12, 3, seed=0)
    y = [i % 2 for i in range(12)]
    before = [p.data for p in model.parameters()]
    fit(model, X, y, optimizer=optimizer, epochs=2, batch_size=4, compile=True, progress=False)
    assert [p.data for p in model.parameters()] != before
    assert all(entry["step"] == 6 for entry in optimizer.state.values())


def test_trainer_and_sequence_loss_are_exported():
    """CompiledTrainer and SequenceLoss are the classes trainer() and compile_loss() return."""
    from autograd_lite.compile import CompiledTrainer, SequenceLoss

    model = small_gpt()
    step = compile_loss(model, sequence_loss, [1, 2], [2, 3])
    assert isinstance(step, SequenceLoss)
    assert isinstance(step.trainer(SGD(model.parameters(), lr=0.1)), CompiledTrainer)


def test_trainer_leaves_frozen_parameters_and_their_gradients_alone():
    """A parameter with requires_grad=False keeps its value and its .grad through trainer steps,
    as optimizer.step() skips it."""
    model = MLP(6, [8, 3], seed=2)
    frozen = model.parameters()[0]
    frozen.requires_grad = False
    frozen.grad = 0.5
    value = frozen.data
    step = compile_loss(model, losses.cross_entropy, [0.0] * 6, 0)
    with step.trainer(Adam(model.parameters(), lr=0.1)) as train:
        for k in range(3):
            train.step(rows(8, 6, seed=k), [i % 3 for i in range(8)])
    assert frozen.data == value and frozen.grad == 0.5
    assert model.parameters()[1].data != MLP(6, [8, 3], seed=2).parameters()[1].data


class Pooled(Module):
    """A sequence classifier: embed, average the rows, a linear readout; branches on token 5
    when asked (a data-dependent graph that the two tracing sequences never meet)."""

    def __init__(self, branch=False):
        from autograd_lite.nn import Embedding

        self.table = Embedding(7, 3, seed=1)
        self.readout = Layer(3, 2, "linear", seed=2)
        self.branch = branch

    def forward(self, tokens):
        rows = [self.table(t) for t in tokens]
        if self.branch and 5 in tokens:
            rows = [[al.tanh(v) for v in row] for row in rows]
        mean = [sum_values(column) / len(rows) for column in zip(*rows)]
        return self.readout(mean)


def test_a_sequence_classifier_with_one_int_target_matches_the_interpreted_engine():
    """One class index per sequence (not per position) compiles: loss and grads to 1e-12."""
    model = Pooled()
    X, _ = token_batch(9, 4, 7, seed=3)
    y = [i % 2 for i in range(9)]
    assert_same_step(model, losses.cross_entropy, X, y)


def test_the_first_batch_check_catches_a_token_branch_the_tracing_never_met():
    """A branch on token 5 (absent from the traced sequences) changes a checked sample's
    loss, which the check compares with the interpreted engine's and refuses."""
    model = Pooled(branch=True)
    step = compile_loss(model, losses.cross_entropy, [0, 1, 2], 0)
    with pytest.raises(DataDependentGraphError, match=r"sample 1 .*interpreted engine gives"):
        step.backward([[0, 1, 2], [5, 1, 2]], [0, 1])


def test_fit_compiled_sees_weights_a_callback_changes_between_epochs():
    """A callback that halves every weight after each epoch changes compiled training exactly
    as it changes interpreted training: the trainer reloads the Values before each epoch."""
    from autograd_lite.training import fit

    def halve(history, model):
        for p in model.parameters():
            p.data = p.data / 2

    rng = random.Random(1)
    X = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(20)]
    y = [i % 2 for i in range(20)]
    weights = []
    for compiled_run in (False, True):
        model = MLP(3, [4, 2], seed=0)
        optimizer = Adam(model.parameters(), lr=0.1)
        fit(
            model,
            X,
            y,
            optimizer=optimizer,
            epochs=3,
            batch_size=5,
            compile=compiled_run,
            progress=False,
            callbacks=[halve],
        )
        weights.append([p.data for p in model.parameters()])
    assert_all_close(weights[1], weights[0], "weights")


def test_attention_scores_and_weighted_values_replay_as_per_head_matrix_products():
    """The GPT's query·key scores at all positions are one BilinearPairs group (2 heads, each
    6 queries × 6 keys, the causal half left out), and its weighted values at all positions
    one MaskedProduct (per head: 6 × 6 causal weights times 6 × 4 values)."""
    from autograd_lite.compile._bilinear import BilinearPairs, MaskedProduct
    from autograd_lite.compile._instructions import RaggedDot

    model = small_gpt(seed=3)
    X, Y = token_batch(2, 6, 11, seed=4)
    step = compile_loss(model, sequence_loss, X[0], Y[0])
    program = step._programs[6, 6].program
    pairs = [getattr(i, "bb", None) for i in program.instructions]
    pairs = [p for p in pairs if isinstance(p, BilinearPairs)]
    scores = [p for p in pairs if p.shape == (2, 6, 6)]
    assert len(scores) == 1 and len(scores[0].flat) == 2 * 21  # t >= s, per head
    assert len(pairs) == 1
    ragged = [i.pairs for i in program.instructions if isinstance(i, RaggedDot)]
    assert len(ragged) == 1 and isinstance(ragged[0], MaskedProduct)
    assert (ragged[0].a_shape, ragged[0].b_shape) == ((2, 6, 6), (2, 6, 4))


class CausalScores(Module):
    """Two query and two key vectors made from the input, scored causally (s <= t), each
    query scaled by its own parameter so its gradient reads only its own scores."""

    def __init__(self):
        self.scale = [Value(0.5), Value(-0.75)]
        self.key_scale = Value(1.25)

    def forward(self, x):
        queries = [[x[2 * t] * self.scale[t], x[2 * t + 1] * self.scale[t]] for t in range(2)]
        keys = [[x[4 + 2 * s] * self.key_scale, x[5 + 2 * s] * self.key_scale] for s in range(2)]
        return [al.dot(queries[t], keys[s]) for t in range(2) for s in range(t + 1)]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_masked_out_infinite_key_does_not_make_the_other_queries_gradients_nan(bad):
    """With the second key infinite (or nan), the first query, which never meets it, keeps
    the interpreted engine's finite gradient: the masked zeros of the score matrix are not
    multiplied by it. The causal products are BilinearPairs."""
    from autograd_lite.compile._bilinear import BilinearPairs

    model = CausalScores()
    X = rows(4, 8, seed=11)
    X[1][6] = bad
    y = [[0.1, -0.2, 0.3] for _ in X]
    step = compile_loss(model, losses.mse, X[0], y[0])
    _, grads, _ = compiled(step, model, X, y)
    _, ref_grads, _ = interpreted(model, losses.mse, X, y)
    assert math.isfinite(ref_grads[0])
    assert_all_close(grads, ref_grads, "gradient")
    program = next(iter(step._variants.values())).merged_program(step._replay, step._params)
    assert any(isinstance(getattr(i, "bb", None), BilinearPairs) for i in program.instructions)


def test_causal_scores_of_finite_inputs_match_the_interpreted_engine():
    """Loss, gradients and outputs of the causal scores equal the interpreted engine's."""
    assert_same_step(CausalScores(), losses.mse, rows(5, 8, seed=12), [[0.1, -0.2, 0.3]] * 5)


class CausalMix(Module):
    """Three positions: position t mixes the values of positions 0..t (two columns) with
    weights scaled by its own parameter, as attention's weighted values do."""

    def __init__(self):
        self.scale = [Value(0.5), Value(-0.75), Value(1.5)]
        self.value_scale = Value(1.25)

    def forward(self, x):
        values = [[x[2 * s + d] * self.value_scale for d in range(2)] for s in range(3)]
        weights = [[x[s] * self.scale[t] for s in range(t + 1)] for t in range(3)]
        return [
            al.dot(weights[t], [values[s][d] for s in range(t + 1)])
            for t in range(3)
            for d in range(2)
        ]


def test_causal_weighted_values_of_every_position_are_one_masked_product():
    """Weighted sums of 1, 2 and 3 pairs replay as one MaskedProduct equal to the engine."""
    from autograd_lite.compile._bilinear import MaskedProduct

    targets = [[0.1, -0.2, 0.3, 0.0, 0.5, -0.4]] * 5
    step = assert_same_step(CausalMix(), losses.mse, rows(5, 6, seed=13), targets)
    program = next(iter(step._variants.values())).merged_program(step._replay, step._params)
    assert any(isinstance(getattr(i, "pairs", None), MaskedProduct) for i in program.instructions)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_masked_out_infinite_value_does_not_make_earlier_positions_nan(bad):
    """With the last position's value infinite (or nan), the earlier positions, which never
    read it, keep the engine's finite outputs and gradients."""
    model = CausalMix()
    X = rows(4, 6, seed=14)
    X[2][4] = bad
    targets = [[0.1, -0.2, 0.3, 0.0, 0.5, -0.4]] * 4
    step = compile_loss(model, losses.mse, X[0], targets[0])
    _, grads, outputs = compiled(step, model, X, targets)
    _, ref_grads, ref_outputs = interpreted(model, losses.mse, X, targets)
    assert math.isfinite(ref_grads[0]) and math.isfinite(ref_outputs[2][0])
    assert_all_close(grads, ref_grads, "gradient")
    assert_all_close(outputs, ref_outputs, "outputs")


class UnrelatedDots(Module):
    """Dots of per-sample pairs of lengths 1, 2 and 3 that share no vectors."""

    def __init__(self):
        self.scale = Value(0.5)

    def forward(self, x):
        x = [xi * self.scale for xi in x]
        return [al.dot(x[:n], x[3 : 3 + n]) for n in (1, 2, 3)] + [al.dot(x[1:3], x[4:6])]


def test_dots_of_different_lengths_that_form_no_product_match_the_engine():
    """Per-sample dots of mixed lengths without a shared structure are split by length
    and still equal the interpreted engine."""
    from autograd_lite.compile._bilinear import SplitPairs

    X = rows(5, 6, seed=15)
    step = assert_same_step(UnrelatedDots(), losses.mse, X, [[0.1, 0.2, 0.3, 0.4]] * 5)
    program = next(iter(step._variants.values())).merged_program(step._replay, step._params)
    assert any(isinstance(getattr(i, "pairs", None), SplitPairs) for i in program.instructions)


class PrefixSums(Module):
    """logsumexp and sum of the first 1, 2 and 3 scaled inputs: groups of three lengths."""

    def __init__(self):
        self.scale = Value(0.5)

    def forward(self, x):
        x = [xi * self.scale for xi in x]
        prefixes = [x[:n] for n in (1, 2, 3)]
        return [al.logsumexp(p) for p in prefixes] + [al.sum_values(p) for p in prefixes]


@pytest.mark.parametrize("last", [1.5, math.inf, -math.inf, math.nan, -0.0, 800.0])
def test_sums_and_logsumexps_of_different_lengths_are_one_padded_group(last):
    """Prefix sums and logsumexps of lengths 1-3 replay as one instruction each and equal the
    engine, with an infinite, nan, -0.0 or huge last input that the shorter ones never read."""
    from autograd_lite.compile._instructions import LogSumExp, PaddedSlots, RaggedSum

    X = rows(4, 3, seed=16)
    X[1][2] = last
    targets = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]] * 4
    step = assert_same_step(PrefixSums(), losses.mse, X, targets)
    program = next(iter(step._variants.values())).merged_program(step._replay, step._params)
    padded = [i for i in program.instructions if isinstance(getattr(i, "slots", None), PaddedSlots)]
    assert sorted(type(i).__name__ for i in padded) == [LogSumExp.__name__, RaggedSum.__name__]


class ScaledLogits(Module):
    """Four logits, each an input times its own weight: cross-entropy's logsumexp over them."""

    def __init__(self):
        self.w = [Value(0.5), Value(-1.5), Value(2.0), Value(1.0)]

    def forward(self, x):
        return [xi * wi for xi, wi in zip(x, self.w)]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 800.0, -800.0, 1e308])
def test_cross_entropy_of_infinite_nan_or_huge_logits_matches_the_engine(bad):
    """Logsumexp's gradient, the kept exp(x - m) over its sum, equals the engine's
    exp(x - out) where the maximum is finite; where it is not, the engine's form (0 for the
    finite logits, nan only where the engine gives nan)."""
    X = rows(6, 4, seed=21)
    X[2][1] = bad
    X[4][3] = bad
    assert_same_step(ScaledLogits(), losses.cross_entropy, X, [0, 1, 2, 3, 1, 0])


def test_per_sample_losses_of_both_infinities_average_to_nan_as_the_engines_do():
    """Losses of +inf and -inf in one batch (or sums that overflow) average to the engine's
    nan (or inf), not to an error of math.fsum, through lists and through NumPy arrays."""
    model = ScaledLogits()
    X = [[math.inf, 1.0, 2.0, 3.0], [-math.inf, 1.0, 2.0, 3.0], [1e308, 1.0, 2.0, 3.0]]

    def first_logit(out, target):
        return out[0] * target

    for y in ([1.0, 1.0, 1.0], [2.0, -1.0, 2.0], [1.0, -1.0, 0.5]):
        step = assert_same_step(model, first_logit, X, y)
        assert_same_step(model, first_logit, np.array(X), np.array(y), step)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, -0.0])
def test_fused_neurons_of_infinite_nan_or_negative_zero_inputs_match_the_engine(activation, bad):
    """A fused neuron's activation (applied in place) and its slope times the gradient
    equal the engine's where a sum is infinite, nan or zero (0 * inf is nan in both)."""
    model = MLP(3, [4, 2], activation=activation, seed=3)
    X = rows(5, 3, seed=22)
    X[1][0] = bad
    X[3] = [bad, 0.0, -0.0]
    assert_same_step(model, losses.cross_entropy, X, [0, 1, 0, 1, 1])


def test_array_batches_after_the_first_take_the_lane_and_match_the_engine():
    """NumPy batches shaped like the last go straight to its program (the lane); a new
    label, another dtype, a list, an object array and a mismatched y take the general
    path: every step is the engine's, whoever calls, and the errors are the general path's."""
    np = pytest.importorskip("numpy")
    model = MLP(3, [5, 4], seed=12)
    X, y = dataset("cross_entropy", 16, 3, seed=13)
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    X, y = np.array(X), np.array(y)
    first = y[:6] % 2  # labels 0 and 1 only: 2 and 3 are traced when they come
    assert_same_step(model, losses.cross_entropy, X[:6], first, step)
    assert step._lane is not None
    lane = step._lane
    for batch, labels in ((slice(6, 10), y[6:10] % 2), (slice(0, 8), y[:8]), (slice(8, 16), y[8:])):
        assert_same_step(model, losses.cross_entropy, X[batch], labels, step)
    assert step._lane is not lane  # a new label made a new merged program, and a new lane
    assert_same_step(model, losses.cross_entropy, X[:5].astype(np.float32), y[:5], step)
    assert_same_step(model, losses.cross_entropy, X[:5].tolist(), y[:5].tolist(), step)
    assert_same_step(model, losses.cross_entropy, X[:5].astype(object), y[:5], step)
    through_partial = functools.partial(step.backward, X[:6])
    assert through_partial(y[:6]) == step.backward(X[:6], y[:6])  # the caller does not matter
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        step.backward(X[:4], y[:3])
    with pytest.raises(ValueError, match="cross_entropy"):
        step.backward(X[:4], np.array([0, 1, 9, 2]))  # class 9 of 4: the loss's range error


def test_every_batch_checking_never_takes_the_lane():
    """With check="every-batch" each batch is re-traced, so no lane is made."""
    np = pytest.importorskip("numpy")
    model = MLP(3, [4, 2], seed=14)
    X, y = dataset("cross_entropy", 6, 3, seed=15)
    y = [t % 2 for t in y]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0], check="every-batch")
    assert_same_step(model, losses.cross_entropy, np.array(X), np.array(y), step)
    assert step._lane is None
