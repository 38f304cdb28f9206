"""Straight-line code (autograd_lite.compile._codegen): every gradient row is written before
it is read in each call, for every width and whatever the tables held before; inputs are
read from the caller's array and parameters from the trainer's vector, never written, and
copied into the tables only when a line reads them there.

The generated ``backward()`` does not clear the gradient tables: the first contribution to
a row assigns it and a row read while unwritten is zeroed first. These tests fill the
tables with nan before every replay (what a stale row from another batch would leave, made
impossible to miss) and compare every step with the interpreted engine.
"""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")

import autograd_lite as al  # noqa: E402
from autograd_lite import losses  # noqa: E402
from autograd_lite.compile import compile_loss  # noqa: E402
from autograd_lite.compile._codegen import ParameterViews  # noqa: E402
from autograd_lite.compile._replay import Program  # noqa: E402
from autograd_lite.nn import GPT, MLP, Module  # noqa: E402
from autograd_lite.optim import SGD, Adam  # noqa: E402
from tests.oracles import assert_close  # noqa: E402
from tests.test_compile import (  # noqa: E402
    ACTIVATIONS,
    LOSSES,
    TOLERANCE,
    RandomGraph,
    as_floats,
    assert_all_close,
    compiled,
    coordinate,
    dataset,
    interpreted,
    near_kink,
    random_graph_loss,
    random_models,
)


@contextlib.contextmanager
def poisoned_gradient_tables():
    """Every replay starts with nan in every row of its gradient tables, in the input rows
    of its value table and in the parameter rows of its uniform table (which a program
    reading its inputs and parameters from its arguments leaves alone, and one reading them
    from the tables must write first)."""
    run = Program.run

    def poisoned_run(self, x, *args, **kwargs):
        w = self._by_width.get(x.shape[0]) or self._buffers(x.shape[0])
        w.values[: self.n_x] = np.nan
        w.theta_rows.fill(np.nan)
        w.grad_values.fill(np.nan)
        w.grad_uniform.fill(np.nan)
        return run(self, x, *args, **kwargs)

    Program.run = poisoned_run
    try:
        yield
    finally:
        Program.run = run


def assert_matches_engine(step, model, loss_fn, X, y):
    ref_loss, ref_grads, ref_outputs = interpreted(model, loss_fn, X, y)
    loss, grads, outputs = compiled(step, model, X, y)
    assert_close(loss, ref_loss, rtol=TOLERANCE, atol=TOLERANCE, what="mean loss")
    assert_all_close(grads, ref_grads, "gradient")
    assert_all_close(outputs, ref_outputs, "outputs")


def test_poisoning_is_seen_by_a_backward_that_adds_to_an_unwritten_row():
    """The harness itself: a backward that adds every contribution (as if the tables were
    zero) gives nan under poisoning, where the engine gives numbers."""
    from autograd_lite.compile import _codegen

    model = MLP(3, [4, 2], seed=1)
    X, y = dataset("cross_entropy", 5, 3, seed=2)
    y = [t % 2 for t in y]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    emitter = _codegen.Emitter
    saved = emitter._assign, emitter.assignable, emitter.initialise
    emitter._assign = lambda self, store, flat: "+="
    emitter.assignable = lambda self, rows: None
    emitter.initialise = lambda self, store, flat: None
    try:
        with poisoned_gradient_tables(), pytest.raises(AssertionError, match="got nan"):
            assert_matches_engine(step, model, losses.cross_entropy, X, y)
    finally:
        emitter._assign, emitter.assignable, emitter.initialise = saved


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_every_mlp_and_loss_writes_each_gradient_row_before_reading_it(activation, loss_name):
    """MLPs with each activation and loss, over batches of widths 3, 1, 3 and 5 with nan
    left in the gradient tables: every step is the engine's."""
    loss_fn, n_out, _ = LOSSES[loss_name]
    model = MLP(3, [5, 4, n_out], activation=activation, seed=7)
    X, y = dataset(loss_name, 12, 3, seed=11)
    step = compile_loss(model, loss_fn, X[0], y[0])
    with poisoned_gradient_tables():
        for start, width in ((0, 3), (3, 1), (4, 3), (7, 5)):
            batch = slice(start, start + width)
            assert_matches_engine(step, model, loss_fn, X[batch], y[batch])


def sequence_loss(logits, targets):
    terms = [losses.cross_entropy(row, t) for row, t in zip(logits, targets)]
    return al.sum_values(terms) * (1.0 / len(targets))


def test_a_gpt_writes_each_gradient_row_before_reading_it():
    """A GPT (embeddings, attention's called instructions, norms) over batches of widths 2,
    1 and 3 and two lengths, with nan left in the gradient tables: the engine's numbers."""
    model = GPT(7, 4, 8, 2, 1, seed=3)
    rng = random.Random(4)
    step = None
    with poisoned_gradient_tables():
        for width, length in ((2, 4), (1, 4), (3, 3), (2, 4)):
            X = [[rng.randrange(7) for _ in range(length)] for _ in range(width)]
            y = [[rng.randrange(7) for _ in range(length)] for _ in range(width)]
            step = step or compile_loss(model, sequence_loss, X[0], y[0])
            assert_matches_engine(step, model, sequence_loss, X, y)


@pytest.mark.parametrize("n_in, hidden", [(6, 5), (70, 64)])
def test_one_sample_weight_gradients_on_both_sides_of_the_einsum_size(n_in, hidden):
    """At batch 1 a layer's weight gradient is an outer product, by a broadcast multiply
    below 4,096 weights and by einsum from there (70 × 64): both are the engine's, nan
    left in the tables, and between batches of 3."""
    from autograd_lite.compile._matmul import _EINSUM_FROM

    assert (n_in * hidden >= _EINSUM_FROM) == (n_in > 6)
    model = MLP(n_in, [hidden, 3], seed=2)
    X, y = dataset("cross_entropy", 5, n_in, seed=8)
    y = [t % 3 for t in y]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    with poisoned_gradient_tables():
        for start, width in ((0, 1), (1, 3), (4, 1)):
            batch = slice(start, start + width)
            assert_matches_engine(step, model, losses.cross_entropy, X[batch], y[batch])
    (program,) = _programs(step)
    assert ("np.einsum(" in program.source(1)) == (n_in > 6)


def test_a_gpt_wide_enough_for_einsum_matches_the_engine_at_one_sequence():
    """A GPT with 64-wide embeddings: at batch 1 its per-position weight gradients (64 × 64
    and more) are einsum outer products summed over positions; batches of 1, 2 and 1 with
    nan left in the tables give the engine's numbers."""
    model = GPT(7, 4, 64, 2, 1, seed=3)
    rng = random.Random(6)
    step = None
    with poisoned_gradient_tables():
        for width in (1, 2, 1):
            X = [[rng.randrange(7) for _ in range(4)] for _ in range(width)]
            y = [[rng.randrange(7) for _ in range(4)] for _ in range(width)]
            step = step or compile_loss(model, sequence_loss, X[0], y[0])
            assert_matches_engine(step, model, sequence_loss, X, y)
    sources = [compiled.program.source(1) for compiled in step._programs.values()]
    assert any("np.add.reduce(np.einsum(" in source for source in sources)


def test_a_trainer_alternating_widths_matches_the_engine_step_by_step():
    """Adam steps through a trainer at widths 4, 1, 4, 2 (nan left in the tables) move the
    weights as the interpreted engine's steps do."""
    X, y = dataset("cross_entropy", 11, 3, seed=5)
    ours, ref = MLP(3, [6, 4], seed=9), MLP(3, [6, 4], seed=9)
    train = compile_loss(ours, losses.cross_entropy, X[0], y[0]).trainer(
        Adam(ours.parameters(), lr=0.01)
    )
    ref_optimizer = Adam(ref.parameters(), lr=0.01)
    with poisoned_gradient_tables(), train:
        for start, width in ((0, 4), (4, 1), (5, 4), (9, 2)):
            batch = slice(start, start + width)
            loss = train.step(X[batch], y[batch])
            ref_optimizer.zero_grad()
            total = al.sum_values(
                [losses.cross_entropy(ref(x), t) for x, t in zip(X[batch], y[batch])]
            ) * (1.0 / width)
            total.backward()
            ref_optimizer.step()
            assert_close(loss, total.data, rtol=TOLERANCE, atol=TOLERANCE, what="loss")
    assert_all_close(
        [p.data for p in ours.parameters()], [p.data for p in ref.parameters()], "weights", 1e-10
    )


@settings(max_examples=100, deadline=None)
@given(random_models(), st.data())
def test_random_graphs_write_each_gradient_row_before_reading_it(spec, data):
    """Any graph of any primitives, two batches of drawn widths with nan left in the
    gradient tables: both match the engine."""
    n_inputs, weights, steps, outputs = spec
    model = RandomGraph(n_inputs, weights, steps, outputs)
    step = None
    for _ in range(2):
        batch = data.draw(st.integers(1, 4))
        X = [
            data.draw(st.lists(coordinate, min_size=n_inputs, max_size=n_inputs))
            for _ in range(batch)
        ]
        y = [data.draw(st.sampled_from([1.0, -0.5, 2.0])) for _ in range(batch)]
        interpreted(model, random_graph_loss, X, y)
        assume(not near_kink(model))  # as in test_compile: a kink a rounding away from 0
        step = step or compile_loss(model, random_graph_loss, X[0], y[0])
        with poisoned_gradient_tables():
            assert_matches_engine(step, model, random_graph_loss, X, y)


def test_an_mlp_is_written_out_whole():
    """Every instruction of an MLP's program is numpy calls in its source: none is called
    through its method (the straight-line code the compiled mode promises at batch 1)."""
    model = MLP(4, [8, 3], seed=0)
    step = compile_loss(model, losses.cross_entropy, [0.1, 0.2, 0.3, 0.4], 1)
    step.backward([[0.1, 0.2, 0.3, 0.4]], [1])
    (program,) = _programs(step)
    source = program.source(1)
    assert source.startswith("def forward(x):") and "def backward(x):" in source
    assert "np.matmul(" in source
    assert ".forward(" not in source and ".backward(" not in source, source


def _programs(step):
    for variant in step._variants.values():
        merged = variant.merged
        if merged:
            yield merged
        yield from variant.per_label.values()


# ---- inputs: read from the caller's array, or from the table when a line reads them there


class InputsInTheTable(Module):
    """A model whose inputs are read the ways that need them in the value table: as outputs
    (roots read after the run), picked by label (the loss's pick indexes the table) and
    as every other input (a gather, not a run of rows), beside a product over all of them."""

    def __init__(self, kind: str, n_in: int = 6) -> None:
        self.kind = kind
        self.w = [al.Value(0.3 - 0.1 * i) for i in range(n_in)]
        self.b = al.Value(0.2)

    def mixed(self, x):
        """A product over every input: the read that needs nothing in the tables."""
        return al.sum_values([w * v for w, v in zip(self.w, x)]) + self.b

    def forward(self, x):
        mixed = self.mixed(x)
        if self.kind == "output":
            return [x[0], mixed]
        if self.kind == "picked":
            return [x[1], x[0], mixed.tanh()]
        return al.sum_values([w * v for w, v in zip(self.w, x[::2])]) + mixed * x[3]


INPUT_READS = {
    "output": losses.mse,
    "picked": losses.cross_entropy,
    "every_other": losses.mse,
}


def _targets(kind, rng, n):
    if kind == "output":
        return [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(n)]
    if kind == "picked":
        return [rng.randrange(3) for _ in range(n)]
    return [rng.uniform(-1, 1) for _ in range(n)]


@pytest.mark.parametrize("kind", sorted(INPUT_READS))
def test_inputs_read_through_the_table_are_written_there_first(kind):
    """An input as an output, picked by label, or read as every other input: the program
    writes the inputs into its table (nan left there before each run) and every batch of
    widths 3, 1 and 4 is the engine's, lists and arrays alike."""
    model, loss_fn = InputsInTheTable(kind), INPUT_READS[kind]
    rng = random.Random(len(kind))
    X = [[rng.uniform(-2, 2) for _ in range(6)] for _ in range(8)]
    y = _targets(kind, rng, 8)
    step = compile_loss(model, loss_fn, X[0], y[0])
    with poisoned_gradient_tables():
        for start, width in ((0, 3), (3, 1), (4, 4)):
            batch = slice(start, start + width)
            assert_matches_engine(step, model, loss_fn, X[batch], y[batch])
            assert_matches_engine(step, model, loss_fn, np.array(X[batch]), y[batch])


def test_an_mlp_reads_its_inputs_where_the_caller_holds_them():
    """An MLP's program reads the batch from the caller's array, at widths 1 and 5: the input
    rows of its table still hold the nan put there before the run, and the numbers are the
    engine's."""
    model = MLP(5, [6, 3], seed=4)
    X, y = dataset("cross_entropy", 6, 5, seed=3)
    y = [t % 3 for t in y]
    step = compile_loss(model, losses.cross_entropy, X[0], y[0])
    with poisoned_gradient_tables():
        for batch in (slice(0, 1), slice(1, 6)):
            assert_matches_engine(step, model, losses.cross_entropy, np.array(X[batch]), y[batch])
            width = batch.stop - batch.start
            (program,) = _programs(step)
            assert np.isnan(program._buffers(width).values[:5]).all()


def _layouts(X):
    """The same numbers as float64 C order, Fortran order, a strided view, float32, int."""
    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    return {
        "fortran": np.asfortranarray(X),
        "strided view": wide[:, ::2],
        "float32": X.astype(np.float32),
        "int": X.astype(np.int64),
    }


@pytest.mark.parametrize("kind", ["mlp", "output", "picked"])
def test_the_callers_array_is_read_never_written_in_any_layout(kind):
    """Backward, forward and trainer steps on an array in C or Fortran order, a strided view,
    float32 or int: the caller's array keeps its values and stays writeable, and every
    result equals the one on the same numbers as a float64 C-order array."""
    if kind == "mlp":
        make, loss_fn = (lambda: MLP(6, [4, 3], seed=6)), losses.cross_entropy
    else:
        make, loss_fn = (lambda: InputsInTheTable(kind)), INPUT_READS[kind]
    rng = np.random.default_rng(7)
    X = rng.integers(-3, 4, size=(5, 6)).astype(float)  # exact in float32 and int too
    y = _targets(kind if kind != "mlp" else "picked", random.Random(2), 5)
    reference = make()
    ref_step = compile_loss(reference, loss_fn, X[0].tolist(), y[0])
    expected = compiled(ref_step, reference, X, y)
    for name, layout in _layouts(X).items():
        model = make()
        before = layout.copy()
        step = compile_loss(model, loss_fn, X[0].tolist(), y[0])
        assert compiled(step, model, layout, y) == expected, name
        with step.trainer(SGD(model.parameters(), lr=0.1, momentum=0.9)) as train:
            train.step(layout, y)
            train.step(layout, y)
        assert np.array_equal(layout, before), name
        assert layout.flags.writeable, name


@pytest.mark.parametrize("n_in", [5, 2100])
def test_a_batch_that_is_the_trainers_own_gradient_gives_the_numbers_of_a_copy(n_in):
    """``train.grad`` (a view of the program's gradient table) passed back in as the next
    batch, below and above the einsum size: loss and gradient equal those of the same
    numbers passed as a separate array, though the program writes that table as it runs."""

    def make():
        model = MLP(n_in, [2], seed=1)
        step = compile_loss(model, losses.mse, [0.1] * n_in, [0.3, 0.1])
        return step.trainer(SGD(model.parameters(), lr=0.1))

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((1, n_in)), np.array([[0.2, -0.1]])
    train, reference = make(), make()
    train.backward(X, y)
    reference.backward(X, y)
    batch = train.grad[:n_in][None, :]
    assert np.shares_memory(batch, train.grad)
    expected = reference.backward(batch.copy(), y), reference.grad.copy()
    assert train.backward(batch, y) == expected[0]
    assert np.array_equal(train.grad, expected[1])


# ---- parameters: read from the trainer's vector, or from the table when a line reads them


class ParamsInTheTable(InputsInTheTable):
    """A model whose parameters are read the ways that need them in the uniform table: one
    as an output (a root read after the run), every other weight (a gather, not a run of
    rows), one weight for every input, and a weight beside a constant in one product."""

    def forward(self, x):
        mixed = self.mixed(x)
        if self.kind == "output":
            return [self.w[0], mixed]
        if self.kind == "every_other":
            return al.sum_values([w * v for w, v in zip(self.w[::2], x)]) + mixed
        if self.kind == "shared":
            return al.sum_values([self.b * v for v in x]) + mixed
        if self.kind == "beside_a_constant":
            return mixed + self.b * x[0] + 2.0 * x[1]
        return mixed


def _engine_step(model, optimizer, loss_fn, X, y):
    """One interpreted training step on the batch: its mean loss."""
    optimizer.zero_grad()
    total = al.sum_values([loss_fn(model(x), t) for x, t in zip(X, y)]) * (1.0 / len(X))
    total.backward()
    optimizer.step()
    return total.data


@pytest.mark.parametrize("kind", ["plain", "output", "every_other", "shared", "beside_a_constant"])
def test_parameters_read_from_the_table_or_the_trainers_vector_train_as_the_engine(kind):
    """Trainer steps at widths 3, 1 and 3 (nan left in the parameter rows of the table before
    each run) on a model reading its parameters each way: every loss and the final weights
    are the engine's."""
    rng = random.Random(len(kind))
    X = [[rng.uniform(-2, 2) for _ in range(6)] for _ in range(7)]

    def target():
        return [rng.uniform(-1, 1), rng.uniform(-1, 1)] if kind == "output" else rng.uniform(-1, 1)

    y = [target() for _ in range(7)]
    ours, ref = ParamsInTheTable(kind), ParamsInTheTable(kind)
    step = compile_loss(ours, losses.mse, X[0], y[0])
    ref_optimizer = SGD(ref.parameters(), lr=0.05, momentum=0.9)
    with (
        poisoned_gradient_tables(),
        step.trainer(SGD(ours.parameters(), lr=0.05, momentum=0.9)) as train,
    ):
        for start, width in ((0, 3), (3, 1), (4, 3)):
            batch = slice(start, start + width)
            loss = train.step(np.array(X[batch]), np.array(y[batch]))
            expected = _engine_step(ref, ref_optimizer, losses.mse, X[batch], y[batch])
            assert_close(loss, expected, rtol=TOLERANCE, atol=TOLERANCE, what="loss")
            outputs = step.forward(np.array(X[batch]))
            assert_all_close(outputs, [as_floats(ref(x)) for x in X[batch]], "outputs")
    assert_all_close(
        [p.data for p in ours.parameters()], [p.data for p in ref.parameters()], "weights"
    )


def test_an_mlp_trainer_reads_the_parameters_where_the_trainer_holds_them():
    """An MLP trained at widths 1 and 4: the parameter rows of the program's table still hold
    the nan put there before each run, the program's views of the trainer's vector are
    read-only while the vector stays writeable, and the losses are the engine's."""
    X, y = dataset("cross_entropy", 5, 4, seed=8)
    y = [t % 3 for t in y]
    ours, ref = MLP(4, [5, 3], seed=2), MLP(4, [5, 3], seed=2)
    step = compile_loss(ours, losses.cross_entropy, X[0], y[0])
    ref_optimizer = SGD(ref.parameters(), lr=0.1)
    with poisoned_gradient_tables(), step.trainer(SGD(ours.parameters(), lr=0.1)) as train:
        for batch in (slice(0, 1), slice(1, 5)):
            loss = train.step(np.array(X[batch]), np.array(y[batch]))
            expected = _engine_step(ref, ref_optimizer, losses.cross_entropy, X[batch], y[batch])
            assert_close(loss, expected, rtol=TOLERANCE, atol=TOLERANCE, what="loss")
            (program,) = _programs(step)
            w = program._buffers(batch.stop - batch.start)
            assert np.isnan(w.theta_rows).all()
            views = w.generated.param_views
            assert views.bound is train.theta and views.own
            assert not any(w.forward.__globals__[name].flags.writeable for name in views.own)
        assert train.theta.flags.writeable


def test_the_program_follows_each_caller_to_its_own_parameters():
    """One compiled MLP used by a trainer, a second trainer with a vector of its own, the
    first again, backward from the Values, and the first once more: every loss, output and
    gradient is the engine's on the weights that caller holds."""
    X, y = dataset("cross_entropy", 6, 4, seed=4)
    y = [t % 3 for t in y]
    ours, ref = MLP(4, [5, 3], seed=3), MLP(4, [5, 3], seed=3)
    step = compile_loss(ours, losses.cross_entropy, X[0], y[0])
    first = step.trainer(SGD(ours.parameters(), lr=0.1, momentum=0.9))
    ref_first = SGD(ref.parameters(), lr=0.1, momentum=0.9)
    second = step.trainer(Adam(ours.parameters(), lr=0.05))
    ref_second = Adam(ref.parameters(), lr=0.05)

    def train_on(train, ref_optimizer, batches):
        with train:
            for batch in batches:
                loss = train.step(np.array(X[batch]), np.array(y[batch]))
                want = _engine_step(ref, ref_optimizer, losses.cross_entropy, X[batch], y[batch])
                assert_close(loss, want, rtol=TOLERANCE, atol=TOLERANCE, what="loss")
            outputs = step.forward(np.array(X[:3]))
            assert_all_close(outputs, [as_floats(ref(x)) for x in X[:3]], "outputs")

    with poisoned_gradient_tables():
        halves = (slice(0, 3), slice(3, 6))
        for train, ref_optimizer in ((first, ref_first), (second, ref_second), (first, ref_first)):
            train_on(train, ref_optimizer, halves)
        assert_matches_engine(step, ours, losses.cross_entropy, np.array(X[:3]), y[:3])
        train_on(first, ref_first, halves[:1])


def test_parameter_views_move_to_a_vector_with_their_offsets_and_strides():
    """Views of a table's parameter rows (slices, reversed, reshaped into matrices, one row
    broadcast) bound to a vector holding the rows' numbers show the same numbers, read-only;
    a view reaching past the parameter rows is refused; views elsewhere are not kept."""
    table = np.arange(20.0)[:, None] * 1.5
    namespace = {}
    views = ParameterViews(namespace, table[:12, 0])
    inside = {
        "a": table[2:8],
        "b": table[9:1:-2],
        "c": table[:12, 0].reshape(3, 4),
        "d": table[:12, 0].reshape(4, 3).T,
        "e": table[5:6],
    }
    for name, view in inside.items():
        assert views.add(name, view)
        namespace[name] = view
    assert not views.add("f", table[10:14])
    assert views.add("g", table[12:20]) and "g" not in views.own
    vector = table[:12, 0].copy()
    views.bind(vector)
    for name, view in inside.items():
        assert np.array_equal(namespace[name], view), name
        assert np.shares_memory(namespace[name], vector) and not namespace[name].flags.writeable
    vector += 1.0
    assert np.array_equal(namespace["c"], inside["c"] + 1.0)
    views.bind(None)
    assert all(namespace[name] is view for name, view in inside.items())
