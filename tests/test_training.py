"""Tests for autograd_lite.training: fit, History, EarlyStopping, predict and accuracy.

Training trajectories are checked against PyTorch in float64 (same initial weights, same
data, same optimizer) and against micrograd's own training loop; the accuracy bars at the
end train real models to the levels the project promises.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sys

import pytest

from autograd_lite import data, training
from autograd_lite.engine import Value, is_grad_enabled
from autograd_lite.nn import MLP, RNN, Dropout, Module, Sequential
from autograd_lite.optim import SGD, Adam
from autograd_lite.optim.lr_scheduler import CyclicLR, LambdaLR, StepLR
from autograd_lite.training import EarlyStopping, History, accuracy, fit, layer_of, predict
from tests.optional import need
from tests.oracles import require_torch

# Training outcomes depend on BLAS rounding: CI runs these again under another kernel.
pytestmark = pytest.mark.training

# ---- helpers ----------------------------------------------------------------------------


def _torch_layers(torch, model):
    """The MLP's weights as float64 torch tensors (W: out x in, b: out), trainable."""
    layers = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        layers.append((W.requires_grad_(), b.requires_grad_()))
    return layers


def _torch_forward(torch, layers, X, activation):
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    h = torch.tensor(X, dtype=torch.float64)
    for i, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if i < len(layers) - 1:
            h = act(h)
    return h


def _torch_flat(layers):
    """Parameters in named_parameters order: per neuron its weights, then its bias."""
    flat = []
    for W, b in layers:
        for row, bias in zip(W.tolist(), b.tolist()):
            flat.extend([*row, bias])
    return flat


def _torch_loss(torch, kind, out, y):
    F = torch.nn.functional
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(out[:, 0], torch.tensor(y, dtype=torch.float64))
    if kind == "pm1":
        return torch.relu(1 - torch.tensor(y, dtype=torch.float64) * out[:, 0]).mean()
    if kind == "multiclass":
        return F.cross_entropy(out, torch.tensor(y))
    return ((out[:, 0] - torch.tensor(y, dtype=torch.float64)) ** 2).mean()


def _torch_correct(torch, kind, out, y):
    if kind == "multiclass":
        return (out.argmax(dim=1) == torch.tensor(y)).double().mean().item()
    if kind == "regression":
        return None
    positive = out[:, 0] > 0
    target = torch.tensor(y) > 0
    return (positive == target).double().mean().item()


def _task(kind):
    """A small data set and a matching model for each kind of labels."""
    if kind == "binary":
        X, y = data.make_moons(24, seed=1)
        return X, y, MLP(2, [5, 1], activation="tanh", seed=1), "tanh"
    if kind == "pm1":
        X, y = data.make_moons(24, seed=2)
        return X, data.labels_to_pm1(y), MLP(2, [5, 1], activation="relu", seed=2), "relu"
    if kind == "multiclass":
        X, y = data.make_spirals(24, n_classes=3, seed=3)
        return X, y, MLP(2, [5, 3], activation="tanh", seed=3), "tanh"
    X, y = data.make_house_prices(24, seed=4)
    return X, y, MLP(3, [5, 1], activation="sigmoid", seed=4), "sigmoid"


def _compile_available():
    try:
        import numpy  # noqa: F401

        from autograd_lite.compile import compile_loss  # noqa: F401
    except ImportError:
        return False
    return True


COMPILE_MODES = [
    False,
    pytest.param(
        True,
        marks=pytest.mark.skipif(
            not _compile_available(), reason="autograd_lite.compile not available"
        ),
    ),
]


class Identity(Module):
    """A model with one parameter (unused by the output) that returns its first input."""

    def __init__(self):
        self.unused = Value(0.0)

    def forward(self, x):
        return x[0] + 0.0 * self.unused


# ---- trajectories against PyTorch -------------------------------------------------------


@pytest.mark.parametrize("compile", COMPILE_MODES)
@pytest.mark.parametrize("kind", ["binary", "pm1", "multiclass", "regression"])
def test_full_batch_fit_matches_pytorch(kind, compile):
    """loss='auto' picks BCE/hinge/cross-entropy/MSE, and every step equals PyTorch's."""
    torch = require_torch()
    X, y, model, activation = _task(kind)
    layers = _torch_layers(torch, model)
    l2, epochs = 1e-3, 4
    history = fit(
        model,
        X,
        y,
        optimizer=SGD(model.parameters(), lr=0.1, momentum=0.9),
        epochs=epochs,
        l2=l2,
        progress=False,
        compile=compile,
    )
    params = [p for layer in layers for p in layer]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    for epoch in range(epochs):
        out = _torch_forward(torch, layers, X, activation)
        loss = _torch_loss(torch, kind, out, y) + l2 * sum((p**2).sum() for p in params)
        optimizer.zero_grad()
        loss.backward()
        record = history.records[epoch]
        assert record["loss"] == pytest.approx(loss.item(), rel=1e-10)
        assert record["accuracy"] == _torch_correct(torch, kind, out, y)
        optimizer.step()
    # Gradient norms of the last step, per layer, from PyTorch's gradients.
    expected_norms = {
        f"layers.{i}": math.sqrt(float((W.grad**2).sum() + (b.grad**2).sum()))
        for i, (W, b) in enumerate(layers)
    }
    assert history.records[-1]["grad_norms"] == pytest.approx(expected_norms, rel=1e-9)
    assert [p.data for p in model.parameters()] == pytest.approx(_torch_flat(layers), rel=1e-9)


def test_minibatch_adam_with_scheduler_and_test_set_matches_pytorch():
    """Mini-batches (in the order fit drew), Adam, StepLR and test scores equal PyTorch's."""
    torch = require_torch()
    X, y = data.make_house_prices(26, seed=5)
    X_test, y_test = data.make_house_prices(7, seed=6)
    model = MLP(3, [4, 1], activation="tanh", seed=5)
    layers = _torch_layers(torch, model)
    train_targets = set(y)
    order = []

    def logged_mse(prediction, target):
        if target in train_targets:
            order.append(target)
        return (prediction - target) ** 2

    optimizer = Adam(model.parameters(), lr=0.05)
    l2, epochs, batch_size = 1e-2, 3, 8
    history = fit(
        model,
        X,
        y,
        loss=logged_mse,
        optimizer=optimizer,
        scheduler=StepLR(optimizer, step_size=2, gamma=0.5),
        epochs=epochs,
        batch_size=batch_size,
        l2=l2,
        X_test=X_test,
        y_test=y_test,
        progress=False,
        seed=9,
    )
    # Recover the batches fit used: every sample once per epoch, in chunks of 8, 8, 8, 2.
    assert len(order) == epochs * len(X)
    row_of = {t: x for x, t in zip(X, y)}
    params = [p for layer in layers for p in layer]
    t_optimizer = torch.optim.Adam(params, lr=0.05)
    t_scheduler = torch.optim.lr_scheduler.StepLR(t_optimizer, step_size=2, gamma=0.5)

    def penalty():
        return l2 * sum((p**2).sum() for p in params)

    for epoch in range(epochs):
        epoch_targets = order[epoch * len(X) : (epoch + 1) * len(X)]
        assert sorted(epoch_targets) == sorted(y)
        record = history.records[epoch]
        assert record["lr"] == t_scheduler.get_last_lr()[0]
        weighted = 0.0
        for start in range(0, len(X), batch_size):
            targets = epoch_targets[start : start + batch_size]
            out = _torch_forward(torch, layers, [row_of[t] for t in targets], "tanh")
            loss = _torch_loss(torch, "regression", out, targets) + penalty()
            t_optimizer.zero_grad()
            loss.backward()
            t_optimizer.step()
            weighted += loss.item() * len(targets)
        t_scheduler.step()
        assert record["loss"] == pytest.approx(weighted / len(X), rel=1e-10)
        assert record["accuracy"] is None
        with torch.no_grad():
            out = _torch_forward(torch, layers, X_test, "tanh")
            test_loss = _torch_loss(torch, "regression", out, y_test) + penalty()
        assert record["test_loss"] == pytest.approx(test_loss.item(), rel=1e-10)
        assert record["test_accuracy"] is None
    assert [p.data for p in model.parameters()] == pytest.approx(_torch_flat(layers), rel=1e-9)


def test_fit_reproduces_micrograds_own_training_loop():
    """fit with micrograd's recipe gives micrograd's losses and weights, step for step."""
    micrograd_engine = need("micrograd.engine")
    micrograd_nn = need("micrograd.nn")
    X, y = data.make_moons(12, noise=0.1, seed=7)
    y = data.labels_to_pm1(y)
    random.seed(1234)
    reference = micrograd_nn.MLP(2, [4, 4, 1])
    random.seed(1234)
    model = MLP(2, [4, 4, 1])
    steps = 3
    reference_losses = []
    for k in range(steps):
        scores = [reference([micrograd_engine.Value(a), micrograd_engine.Value(b)]) for a, b in X]
        losses = [(1 + -t * s).relu() for t, s in zip(y, scores)]
        total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(
            p * p for p in reference.parameters()
        )
        reference.zero_grad()
        total.backward()
        for p in reference.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        reference_losses.append(total.data)
    optimizer = SGD(model.parameters(), lr=1.0)
    history = fit(
        model,
        X,
        y,
        loss="hinge",
        optimizer=optimizer,
        scheduler=LambdaLR(optimizer, lambda k: 1.0 - 0.9 * k / 100),
        l2=1e-4,
        epochs=steps,
        progress=False,
    )
    assert history.series("loss") == pytest.approx(reference_losses, rel=1e-12)
    expected = [p.data for p in reference.parameters()]
    assert [p.data for p in model.parameters()] == pytest.approx(expected, rel=1e-12)


def test_fit_trains_a_module_written_for_micrograd():
    """A micrograd-style class (parameters() only, no Module base) trains; one norm group."""

    class LinearScore:  # written as for micrograd, with only the import changed
        def __init__(self):
            rng = random.Random(0)
            self.w = [Value(rng.uniform(-1, 1)) for _ in range(2)]
            self.b = Value(0)

        def __call__(self, x):
            return sum((wi * xi for wi, xi in zip(self.w, x)), self.b)

        def parameters(self):
            return [*self.w, self.b]

    X, y = data.make_moons(30, seed=3)
    model = LinearScore()
    history = fit(
        model,
        X,
        data.labels_to_pm1(y),
        optimizer=SGD(model.parameters(), lr=0.1),
        epochs=10,
        progress=False,
    )
    losses = history.series("loss")
    assert losses[-1] < losses[0]
    assert set(history.records[-1]["grad_norms"]) == {"parameters"}


def test_cyclic_lr_steps_after_every_batch():
    """A CyclicLR advances once per batch (PyTorch's convention), other schedulers per epoch."""
    X, y = data.make_moons(12)
    model = MLP(2, [3, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    scheduler = CyclicLR(optimizer, base_lr=0.01, max_lr=0.1, step_size_up=4)
    fit(model, X, y, optimizer=optimizer, scheduler=scheduler, epochs=2, batch_size=4)
    assert scheduler.last_epoch == 2 * 3


# ---- choosing the loss ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("bce", "binary"),
        ("binary_cross_entropy_with_logits", "binary"),
        ("hinge", "pm1"),
        ("cross_entropy", "multiclass"),
        ("multiclass_hinge", "multiclass"),
        ("mse", "regression"),
    ],
)
def test_named_losses_are_pytorchs(name, kind):
    """Each loss name gives the batch loss PyTorch's function of that name gives."""
    torch = require_torch()
    F = torch.nn.functional
    X, y, model, activation = _task(kind)
    with torch.no_grad():
        out = _torch_forward(torch, _torch_layers(torch, model), X, activation)
    target = torch.tensor(y, dtype=torch.float64)
    expected = {
        "bce": lambda: F.binary_cross_entropy_with_logits(out[:, 0], target),
        "binary_cross_entropy_with_logits": lambda: F.binary_cross_entropy_with_logits(
            out[:, 0], target
        ),
        "hinge": lambda: torch.relu(1 - target * out[:, 0]).mean(),
        "cross_entropy": lambda: F.cross_entropy(out, torch.tensor(y)),
        "multiclass_hinge": lambda: F.multi_margin_loss(out, torch.tensor(y)),
        "mse": lambda: F.mse_loss(out[:, 0], target),
    }[name]()
    optimizer = SGD(model.parameters(), lr=0.0)
    history = fit(model, X, y, loss=name, optimizer=optimizer, epochs=1, progress=False)
    assert history.records[0]["loss"] == pytest.approx(expected.item(), rel=1e-12)


def test_integer_labels_beyond_binary_need_one_output_per_class():
    """Labels 0..2 with a single-output model raise a ValueError that says what to do."""
    X, y = data.make_spirals(12, n_classes=3)
    with pytest.raises(ValueError, match="one output per class"):
        fit(MLP(2, [3, 1], seed=0), X, y, epochs=1)


def test_class_labels_must_index_the_outputs():
    """A label of 3 for a 3-output model is out of range and named in the error."""
    X, y = data.make_spirals(12, n_classes=3)
    y[0] = 3
    with pytest.raises(ValueError, match=r"0\.\.2 .* got \[3\]"):
        fit(MLP(2, [3, 3], seed=0), X, y, epochs=1)


def test_named_loss_that_does_not_fit_the_labels_is_refused():
    """loss='hinge' with 0/1 labels raises, naming the labels it needs."""
    X, y = data.make_moons(10)
    with pytest.raises(ValueError, match="-1/\\+1 labels"):
        fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", epochs=1)


def test_unknown_loss_name_lists_the_known_ones():
    """An unknown loss name raises a ValueError listing the accepted names."""
    X, y = data.make_moons(10)
    with pytest.raises(ValueError, match=r"unknown loss 'l1'.*'mse'"):
        fit(MLP(2, [3, 1], seed=0), X, y, loss="l1", epochs=1)


def test_float_labels_mean_regression_without_accuracy():
    """Float targets get MSE and no accuracy; int 0/1 targets get an accuracy."""
    X, y = data.make_moons(10)
    floats = fit(MLP(2, [3, 1], seed=0), X, [float(t) for t in y], epochs=2, progress=False)
    ints = fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, progress=False)
    assert floats.series("accuracy") == [None, None]
    assert all(0 <= a <= 1 for a in ints.series("accuracy"))
    assert floats.records[0]["loss"] != ints.records[0]["loss"]


def test_mse_on_integer_ratings_is_a_regression():
    """loss='mse' with integer targets 1..5 and one output trains without an accuracy."""
    X = [[0.1 * i] for i in range(10)]
    y = [1 + i % 5 for i in range(10)]
    history = fit(MLP(1, [3, 1], seed=0), X, y, loss="mse", epochs=1, progress=False)
    assert history.series("accuracy") == [None]


def test_multi_output_regression_averages_over_outputs():
    """Rows of float targets with a two-output model train with the mean squared error."""
    X = [[0.1 * i] for i in range(6)]
    y = [[0.2 * i, -0.1 * i] for i in range(6)]
    model = MLP(1, [2], activation="linear", seed=0)
    history = fit(model, X, y, epochs=1, optimizer=SGD(model.parameters(), lr=0.0))
    expected = sum(
        ((o[0] - t[0]) ** 2 + (o[1] - t[1]) ** 2) / 2 for o, t in zip(predict(model, X), y)
    ) / len(X)
    assert history.records[0]["loss"] == pytest.approx(expected, rel=1e-12)


# ---- predict and accuracy ---------------------------------------------------------------


def test_accuracy_agrees_with_scikit_learn():
    """accuracy() equals sklearn's accuracy_score of the sign (binary) or argmax (classes)."""
    metrics = need("sklearn.metrics")
    X = [[random.Random(i).uniform(-1, 1)] for i in range(40)]
    y = [i % 2 for i in range(40)]
    expected = metrics.accuracy_score(y, [1 if row[0] > 0 else 0 for row in X])
    assert accuracy(Identity(), X, y) == pytest.approx(expected)
    pm1 = data.labels_to_pm1(y)
    expected = metrics.accuracy_score(pm1, [1 if row[0] > 0 else -1 for row in X])
    assert accuracy(Identity(), X, pm1) == pytest.approx(expected)
    model = MLP(1, [3], seed=0)
    outputs = predict(model, X)
    y3 = [i % 3 for i in range(40)]
    expected = metrics.accuracy_score(y3, [max(range(3), key=o.__getitem__) for o in outputs])
    assert accuracy(model, X, y3) == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_evaluate_scores_like_pytorch(kind):
    """evaluate() gives PyTorch's mean loss (no penalty) and the accuracy (None for targets)."""
    torch = require_torch()
    X, y, model, activation = _task(kind)
    layers = _torch_layers(torch, model)
    with torch.no_grad():
        out = _torch_forward(torch, layers, X, activation)
        expected_loss = _torch_loss(torch, kind, out, y).item()
    scores = training.evaluate(model, X, y)
    assert scores["loss"] == pytest.approx(expected_loss, rel=1e-12)
    assert scores["accuracy"] == _torch_correct(torch, kind, out, y)


def test_accuracy_refuses_regression_targets():
    """accuracy() on fractional targets raises a ValueError."""
    with pytest.raises(ValueError, match="class labels"):
        accuracy(Identity(), [[0.5]], [0.25])


def test_predict_and_accuracy_build_no_graph_and_switch_dropout_off():
    """predict runs without recording, in eval mode, and leaves the model's mode as it was."""
    seen = []

    class Probe(Module):
        def __init__(self):
            self.inner = Sequential(MLP(2, [4], seed=0), Dropout(0.5))

        def forward(self, x):
            seen.append((is_grad_enabled(), self.inner.training))
            return self.inner(x)

    model = Probe()
    X, y = data.make_moons(6)
    first = predict(model, X)
    assert first == predict(model, X)  # Dropout off: deterministic
    accuracy(model, X, y)
    assert seen and all(entry == (False, False) for entry in seen)
    assert model.training is True and model.inner.training is True
    assert all(isinstance(o, list) and all(type(v) is float for v in o) for o in first)


def test_predict_returns_floats_for_single_outputs():
    """A one-output model's predictions are plain floats."""
    outputs = predict(MLP(2, [3, 1], seed=0), [[0.0, 1.0], [1.0, 0.0]])
    assert all(type(o) is float for o in outputs)


# ---- History ----------------------------------------------------------------------------


def test_history_records_every_documented_key():
    """Each record has epoch, loss, accuracy, test scores, lr, grad_norms and a rising time."""
    X, y = data.make_moons(16)
    X_test, y_test = data.make_moons(8, seed=1)
    history = fit(MLP(2, [3, 3, 1], seed=0), X, y, epochs=3, X_test=X_test, y_test=y_test)
    assert len(history) == 3
    assert [r["epoch"] for r in history.records] == [1, 2, 3]
    keys = {"epoch", "loss", "accuracy", "test_loss", "test_accuracy", "lr", "grad_norms", "time"}
    assert all(set(r) == keys for r in history.records)
    assert set(history.records[0]["grad_norms"]) == {"layers.0", "layers.1", "layers.2"}
    assert history.series("lr") == [0.01] * 3  # the default optimizer: Adam, lr 0.01
    times = history.series("time")
    assert all(0 < a <= b for a, b in itertools.pairwise(times))


def test_history_round_trips_through_json():
    """to_dict() is JSON-serialisable and from_dict() rebuilds the same history."""
    X, y = data.make_moons(10)
    history = fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, early_stopping=EarlyStopping(5))
    text = json.dumps(history.to_dict())
    again = History.from_dict(json.loads(text))
    assert again.records == history.records
    assert again.best_epoch == history.best_epoch
    assert "2 epochs" in repr(again) and "accuracy=" in repr(again)


def test_history_series_names_the_keys_it_has():
    """Asking for an unknown series raises KeyError listing the available keys."""
    history = History([{"epoch": 1, "loss": 0.5}])
    with pytest.raises(KeyError, match="'loss'"):
        history.series("test_loss")
    assert history.series("loss") == [0.5]
    with pytest.raises(TypeError, match="to_dict"):
        History.from_dict([1, 2])


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("layers.0.neurons.3.w.1", "layers.0"),
        ("layers.12.neurons.0.b", "layers.12"),
        ("0.neurons.1.b", "0"),
        ("cell.weight_ih.2.0", "cell"),
        ("readout.neurons.0.w.3", "readout"),
        ("w.1", "w"),
        ("b", "b"),
    ],
)
def test_layer_of_takes_the_first_name_part_and_its_index(name, layer):
    """Parameter names map to the layer prefixes documented in layer_of."""
    assert layer_of(name) == layer


def test_rnn_gradient_norms_are_grouped_by_cell_and_readout():
    """An RNN's history has one gradient norm for the cell and one for the readout."""
    X = [[0.5, -0.2], [0.1, 0.3]]
    history = fit(RNN(1, 2, nout=1, seed=0), X, [1, 0], epochs=1, progress=False)
    assert set(history.records[0]["grad_norms"]) == {"cell", "readout"}


# ---- early stopping and callbacks -------------------------------------------------------


def _line_problem():
    X = [[0.1 * i - 0.5] for i in range(10)]
    return X, [2.0 * x[0] + 0.3 for x in X]


def _turn_uphill_after(epoch):
    """A callback that makes SGD climb the loss from the given epoch on."""

    def callback(history, model):
        if len(history) == epoch:
            callback.optimizer.param_groups[0]["maximize"] = True

    return callback


@pytest.mark.parametrize("monitor", ["loss", "test_loss"])
def test_early_stopping_stops_after_patience_and_restores_the_best_weights(monitor):
    """Once the loss rises, training stops `patience` epochs after the best and rewinds to it."""
    X, y = _line_problem()
    X_test, y_test = X[::2], y[::2]
    model = MLP(1, [1], activation="linear", seed=3)
    optimizer = SGD(model.parameters(), lr=0.05)
    uphill = _turn_uphill_after(4)
    uphill.optimizer = optimizer
    history = fit(
        model,
        X,
        y,
        optimizer=optimizer,
        epochs=50,
        X_test=X_test,
        y_test=y_test,
        early_stopping=EarlyStopping(patience=3, monitor=monitor),
        callbacks=[uphill],
        progress=False,
    )
    values = history.series(monitor)
    best = min(range(len(values)), key=values.__getitem__)
    assert history.best_epoch == best + 1
    assert history.stopped_epoch == best + 1 + 3 == len(history)
    # The restored weights score exactly the best value (recomputed without fit).
    scored_X, scored_y = (X, y) if monitor == "loss" else (X_test, y_test)
    outputs = predict(model, scored_X)
    mse = sum((o - t) ** 2 for o, t in zip(outputs, scored_y)) / len(scored_y)
    assert mse == pytest.approx(values[best], rel=1e-12)


def test_min_delta_ignores_tiny_improvements():
    """Improvements smaller than min_delta count as no improvement."""
    X, y = _line_problem()
    model = MLP(1, [1], activation="linear", seed=3)
    history = fit(
        model,
        X,
        y,
        optimizer=SGD(model.parameters(), lr=1e-6),
        epochs=20,
        early_stopping=EarlyStopping(patience=2, min_delta=1.0),
        progress=False,
    )
    assert history.stopped_epoch == 3 and history.best_epoch == 1


def test_early_stopping_without_restoring_keeps_the_last_weights():
    """restore_best_weights=False leaves the weights of the last epoch."""
    X, y = _line_problem()
    model = MLP(1, [1], activation="linear", seed=3)
    optimizer = SGD(model.parameters(), lr=0.05)
    uphill = _turn_uphill_after(2)
    uphill.optimizer = optimizer
    history = fit(
        model,
        X,
        y,
        optimizer=optimizer,
        epochs=30,
        early_stopping=EarlyStopping(patience=2, restore_best_weights=False),
        callbacks=[uphill],
        progress=False,
    )
    outputs = predict(model, X)
    mse = sum((o - t) ** 2 for o, t in zip(outputs, y)) / len(y)
    assert mse > min(history.series("loss"))


def test_early_stopping_on_test_loss_needs_test_data():
    """monitor='test_loss' without X_test raises ValueError."""
    X, y = _line_problem()
    with pytest.raises(ValueError, match="no X_test"):
        fit(MLP(1, [1], seed=0), X, y, early_stopping=EarlyStopping(monitor="test_loss"))


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"patience": 0}, ValueError, "at least 1"),
        ({"patience": 1.5}, TypeError, "float"),
        ({"min_delta": -1}, ValueError, ">= 0"),
        ({"monitor": "accuracy"}, ValueError, "'auto', 'loss' or 'test_loss'"),
    ],
)
def test_early_stopping_rejects_bad_settings(kwargs, error, fragment):
    """Bad patience, min_delta or monitor raise clear errors."""
    with pytest.raises(error, match=fragment):
        EarlyStopping(**kwargs)


def test_callbacks_see_the_history_and_can_stop_training():
    """A callback gets (history, model) after each epoch; returning True stops."""
    X, y = data.make_moons(8)
    model = MLP(2, [2, 1], seed=0)
    calls = []

    def callback(history, seen_model):
        calls.append((len(history), seen_model is model))
        return len(history) == 2

    history = fit(model, X, y, epochs=10, callbacks=[callback], progress=False)
    assert calls == [(1, True), (2, True)]
    assert len(history) == 2 and history.stopped_epoch == 2


# ---- modes, progress, arguments ---------------------------------------------------------


def test_fit_trains_in_training_mode_and_restores_the_previous_mode():
    """A model in eval mode trains with Dropout active and is back in eval mode after."""
    modes = []

    class Probe(Module):
        def __init__(self):
            self.net = Sequential(MLP(2, [3, 1], seed=0))

        def forward(self, x):
            modes.append((self.training, is_grad_enabled()))
            return self.net(x)

    model = Probe()
    model.eval()
    X, y = data.make_moons(4)
    fit(model, X, y, epochs=1, progress=False)
    # The first call probes the output size (eval, no graph); training calls record graphs.
    assert modes[0] == (False, False)
    assert set(modes[1:]) == {(True, True)}
    assert model.training is False


def test_progress_bar_goes_to_stderr(monkeypatch, capsys):
    """With progress=True a tqdm bar is written to stderr, nothing to stdout."""
    need("tqdm")
    monkeypatch.setattr(training, "PROGRESS_DELAY", 0.0)
    X, y = data.make_moons(6)
    fit(MLP(2, [2, 1], seed=0), X, y, epochs=3, progress=True)
    captured = capsys.readouterr()
    assert "3/3" in captured.err and "epoch" in captured.err
    assert captured.out == ""


def test_progress_false_and_missing_tqdm_print_nothing(monkeypatch, capsys):
    """progress=False prints nothing; without tqdm installed training runs without a bar."""
    monkeypatch.setattr(training, "PROGRESS_DELAY", 0.0)
    X, y = data.make_moons(6)
    fit(MLP(2, [2, 1], seed=0), X, y, epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    history = fit(MLP(2, [2, 1], seed=0), X, y, epochs=2, progress=True)
    assert len(history) == 2
    assert capsys.readouterr() == ("", "")


def test_batches_follow_the_seed():
    """The same seed gives the same mini-batch trajectory; another seed another."""
    X, y = data.make_moons(20)

    def final_loss(seed):
        model = MLP(2, [3, 1], seed=0)
        return fit(model, X, y, epochs=2, batch_size=6, seed=seed, progress=False).series("loss")

    assert final_loss(1) == final_loss(1)
    assert final_loss(1) != final_loss(2)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"epochs": 0}, ValueError, "epochs must be at least 1"),
        ({"epochs": 2.0}, TypeError, "epochs must be an int, got float"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
        ({"l2": -0.1}, ValueError, "l2 must be"),
        ({"l2": "big"}, TypeError, "l2 must be a number, got str"),
        ({"X_test": [[0.0, 0.0]]}, ValueError, "both X_test and y_test"),
        ({"X_test": [[0.0, 0.0]], "y_test": [1, 0]}, ValueError, "X_test has 1"),
        ({"early_stopping": 5}, TypeError, "EarlyStopping, got int"),
        ({"progress": "yes"}, TypeError, "progress must be True or False"),
        ({"callbacks": [3]}, TypeError, "callables, got int"),
        ({"seed": "x"}, TypeError, "seed must be an int"),
        ({"loss": 3}, TypeError, "loss must be"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, fragment):
    """Bad settings raise TypeError/ValueError naming the setting and what it accepts."""
    X, y = data.make_moons(6)
    with pytest.raises(error, match=fragment):
        fit(MLP(2, [2, 1], seed=0), X, y, **kwargs)


def test_fit_rejects_bad_data_and_models():
    """Mismatched or empty data and parameterless models raise clear errors."""
    X, y = data.make_moons(6)
    model = MLP(2, [2, 1], seed=0)
    with pytest.raises(ValueError, match="6 samples but y has 5"):
        fit(model, X, y[:5])
    with pytest.raises(ValueError, match="X is empty"):
        fit(model, [], [])
    with pytest.raises(TypeError, match="X must be a list of samples, got str"):
        fit(model, "abc", [1, 2, 3])
    with pytest.raises(TypeError, match="callable module"):
        fit(object(), X, y)

    class Empty(Module):
        def forward(self, x):
            return Value(0.0)

    with pytest.raises(ValueError, match="no parameters"):
        fit(Empty(), X, y)


def test_compile_without_numpy_says_what_to_install(monkeypatch):
    """compile=True without numpy (or the compile module) raises an ImportError with the fix."""
    monkeypatch.setitem(sys.modules, "autograd_lite.compile", None)
    X, y = data.make_moons(6)
    with pytest.raises(ImportError, match=r'pip install "autograd-lite\[compile\]"'):
        fit(MLP(2, [2, 1], seed=0), X, y, compile=True)


@pytest.mark.skipif(not _compile_available(), reason="autograd_lite.compile not available")
def test_compiled_fit_scores_the_test_set_like_the_interpreter():
    """compile=True gives the same history (train and test scores) as interpreted training."""
    X, y = data.make_spirals(30, n_classes=3, seed=1)
    X_test, y_test = data.make_spirals(12, n_classes=3, seed=2)

    def run(compile):
        model = MLP(2, [4, 3], seed=0)
        history = fit(
            model,
            X,
            y,
            epochs=3,
            batch_size=10,
            l2=1e-3,
            X_test=X_test,
            y_test=y_test,
            compile=compile,
            progress=False,
        )
        return history, model.parameters()

    interpreted, p1 = run(False)
    compiled, p2 = run(True)
    for key in ("loss", "test_loss", "accuracy", "test_accuracy"):
        assert compiled.series(key) == pytest.approx(interpreted.series(key), rel=1e-9)
    assert [p.data for p in p2] == pytest.approx([p.data for p in p1], rel=1e-9)


# ---- accuracy bars ----------------------------------------------------------------------


def _micrograd_demo(X, y, model):
    optimizer = SGD(model.parameters(), lr=1.0)
    scheduler = LambdaLR(optimizer, lambda k: 1.0 - 0.9 * k / 100)
    return fit(
        model,
        X,
        y,
        loss="hinge",
        optimizer=optimizer,
        scheduler=scheduler,
        l2=1e-4,
        epochs=100,
        progress=False,
    )


@pytest.mark.slow
def test_micrograds_demo_reaches_100_percent_exactly_as_in_micrograd():
    """micrograd's demo (its data, its weights, its recipe) reaches 100%, matching PyTorch."""
    torch = require_torch()
    sklearn_datasets = need("sklearn.datasets")
    # micrograd's demo: np.random.seed(1337); make_moons(n_samples=100, noise=0.1); labels
    # y*2-1; random.seed(1337); MLP(2, [16, 16, 1]).
    X_np, y_np = sklearn_datasets.make_moons(n_samples=100, noise=0.1, random_state=1337)
    X, y = X_np.tolist(), (y_np * 2 - 1).tolist()
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    layers = _torch_layers(torch, model)
    history = _micrograd_demo(X, y, model)
    assert accuracy(model, X, y) == 1.0
    assert history.records[-1]["accuracy"] == 1.0
    # The same 100 steps in PyTorch float64.
    params = [p for layer in layers for p in layer]
    expected = []
    for k in range(100):
        out = _torch_forward(torch, layers, X, "relu")
        loss = _torch_loss(torch, "pm1", out, y) + 1e-4 * sum((p**2).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= (1.0 - 0.9 * k / 100) * p.grad
        expected.append(loss.item())
    assert history.series("loss") == pytest.approx(expected, rel=1e-8)
    # micrograd's notebook prints "step 0 loss 0.8958441028683222, accuracy 50.0%".
    assert history.records[0]["loss"] == pytest.approx(0.8958441028683222, rel=1e-9)
    assert history.records[0]["accuracy"] == 0.5


@pytest.mark.slow
def test_micrograds_recipe_on_our_moons_reaches_100_percent():
    """The same recipe on autograd_lite's own two moons (seeded) reaches 100%."""
    X, y = data.make_moons(100, noise=0.1, seed=1337)
    model = MLP(2, [16, 16, 1], seed=1337)
    _micrograd_demo(X, data.labels_to_pm1(y), model)
    assert accuracy(model, X, data.labels_to_pm1(y)) == 1.0


def test_xor_is_solved():
    """A 2-4-1 tanh network learns XOR perfectly (no linear model can)."""
    X, y = data.make_xor(40, seed=0)
    model = MLP(2, [4, 1], activation="tanh", init="xavier", seed=0)
    fit(model, X, y, optimizer=Adam(model.parameters(), lr=0.1), epochs=60, progress=False)
    assert accuracy(model, X, y) == 1.0
    X_new, y_new = data.make_xor(40, seed=1)
    assert accuracy(model, X_new, y_new) == 1.0


@pytest.mark.slow
def test_spirals_reach_95_percent_with_adam():
    """Two interleaved spirals: a 16-16 ReLU network with Adam reaches ≥ 95% training accuracy."""
    X, y = data.make_spirals(200, n_classes=2, seed=0)
    model = MLP(2, [16, 16, 1], init="he", seed=0)
    history = fit(
        model,
        X,
        y,
        optimizer=Adam(model.parameters(), lr=0.05),
        batch_size=10,
        epochs=40,
        progress=False,
    )
    assert accuracy(model, X, y) >= 0.95
    assert history.series("accuracy")[0] < 0.8  # it had to learn: the start is near chance


@pytest.mark.slow
def test_rnn_learns_the_sign_of_a_sequence_sum():
    """An Elman RNN learns whether a sequence's sum is positive (≥ 90% on unseen sequences)."""
    rng = random.Random(0)
    sequences = [[rng.uniform(-1, 1) for _ in range(5)] for _ in range(200)]
    labels = [1 if sum(s) > 0 else 0 for s in sequences]
    X, X_test, y, y_test = data.train_test_split(sequences, labels, test_size=0.3, seed=0)
    model = RNN(1, 4, nout=1, seed=0)
    fit(
        model,
        X,
        y,
        optimizer=Adam(model.parameters(), lr=0.01),
        epochs=25,
        batch_size=20,
        progress=False,
    )
    # Any one step alone decides the sign far less often: the model must carry a sum.
    last_step_only = sum((s[-1] > 0) == (t == 1) for s, t in zip(X_test, y_test)) / len(y_test)
    assert last_step_only < 0.8
    assert accuracy(model, X_test, y_test) >= 0.9
