"""Tests for autograd_lite.diagnostics.health: gradient-health verdicts and the numbers behind them.

Every number a verdict rests on is recomputed here without the module under test:
gradient norms by rebuilding the network in PyTorch (float64) and backpropagating the
same loss, weight norms with ``math.fsum`` over the parameters, dead and saturated
shares by a numpy forward pass over the same weights.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_lite import Value, log, sum_values
from autograd_lite.diagnostics.health import (
    HealthReport,
    HealthThresholds,
    gradient_health,
    history_records,
    l2_norm,
    layer_grad_norms,
)
from autograd_lite.nn import MLP, Dropout, Layer, Sequential
from autograd_lite.optim import SGD
from autograd_lite.training import History, fit
from tests.oracles import require_torch

DEPTH = 10  # the acceptance networks: 10 layers (9 hidden of width 8, one output)


# --------------------------------------------------------------------------------------
# Helpers: data, a backward pass, and the independent oracles
# --------------------------------------------------------------------------------------


def _regression_data(n: int = 32, nin: int = 3, seed: int = 1) -> tuple[list, list]:
    rng = random.Random(seed)
    X = [[rng.uniform(-1, 1) for _ in range(nin)] for _ in range(n)]
    y = [rng.uniform(-1, 1) for _ in range(n)]
    return X, y


def _mse_backward(model, X, y) -> float:
    """Zero the grads, then backpropagate the mean squared error over the batch."""
    model.zero_grad()
    loss = sum_values([(model(x) - t) ** 2 for x, t in zip(X, y)]) / len(X)
    loss.backward()
    return loss.data


def _deep(activation: str, *, init: str = "uniform", scale: float = 1.0, seed: int = 0) -> MLP:
    model = MLP(3, [8] * (DEPTH - 1) + [1], activation=activation, init=init, seed=seed)
    for p in model.parameters():
        p.data *= scale
    return model


def _layer_arrays(model) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
    """(W, b, activations) per layer, read straight from the neurons."""
    return [
        (
            np.array([[w.data for w in n.w] for n in layer.neurons]),
            np.array([n.b.data for n in layer.neurons]),
            [n.activation for n in layer.neurons],
        )
        for layer in model.layers
    ]


_NUMPY_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),  # exp overflow → inf → 0.0, as it should
    "linear": lambda z: z,
}


def _numpy_layer_outputs(model, X) -> list[np.ndarray]:
    """Each layer's outputs (samples × units) by a numpy forward pass."""
    h = np.array(X, dtype=float)
    outputs = []
    for W, b, activations in _layer_arrays(model):
        z = h @ W.T + b
        with np.errstate(over="ignore"):
            h = np.column_stack([_NUMPY_ACTIVATIONS[a](z[:, j]) for j, a in enumerate(activations)])
        outputs.append(h)
    return outputs


def _oracle_shares(model, X) -> list[tuple[float | None, float | None]]:
    """(dead ReLU share, saturated share) per layer from numpy, by the documented definitions."""
    shares = []
    for (_, _, activations), out in zip(_layer_arrays(model), _numpy_layer_outputs(model, X)):
        relu = [j for j, a in enumerate(activations) if a == "relu"]
        squash = [j for j, a in enumerate(activations) if a in ("tanh", "sigmoid")]
        dead = [j for j in relu if np.all(out[:, j] == 0.0)]
        saturated = []
        for j in squash:
            column = out[:, j]
            if activations[j] == "tanh":
                hits = np.abs(column) > 0.99
            else:
                hits = (column < 0.01) | (column > 0.99)
            if hits.sum() > len(column) / 2:
                saturated.append(j)
        shares.append(
            (
                len(dead) / len(relu) if relu else None,
                len(saturated) / len(squash) if squash else None,
            )
        )
    return shares


def _torch_grad_norms(model, X, y) -> list[float]:
    """Per-layer L2 norms of d(mean squared error)/d(weights and biases), from PyTorch."""
    torch = require_torch()
    activations = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "linear": lambda z: z,
    }
    h = torch.tensor(X, dtype=torch.float64)
    leaves = []
    for W, b, acts in _layer_arrays(model):
        weight = torch.tensor(W, dtype=torch.float64, requires_grad=True)
        bias = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        z = h @ weight.T + bias
        h = torch.stack([activations[a](z[:, j]) for j, a in enumerate(acts)], dim=1)
        leaves.append((weight, bias))
    loss = ((h[:, 0] - torch.tensor(y, dtype=torch.float64)) ** 2).mean()
    loss.backward()
    return [math.sqrt(float((w.grad**2).sum() + (b.grad**2).sum())) for w, b in leaves]


def _set_unit(neuron, weights: list[float], bias: float) -> None:
    for w, value in zip(neuron.w, weights):
        w.data = value
    neuron.b.data = bias


def _hand_norm(values) -> float:
    return math.sqrt(math.fsum(v * v for v in values))


def _layer_params(model, i: int) -> list[Value]:
    return [p for n in model.layers[i].neurons for p in (*n.w, n.b)]


# --------------------------------------------------------------------------------------
# Acceptance: vanishing, healthy, exploding, dead ReLUs, non-finite
# --------------------------------------------------------------------------------------


def test_deep_sigmoid_with_small_weights_is_vanishing():
    """A 10-layer sigmoid MLP with weights in ±0.1 is 'vanishing'; PyTorch's norms say why."""
    X, y = _regression_data()
    model = _deep("sigmoid", scale=0.1)
    _mse_backward(model, X, y)
    report = gradient_health(model, X)

    expected = _torch_grad_norms(model, X, y)
    assert [layer.name for layer in report.layers] == [f"layers.{i}" for i in range(DEPTH)]
    for layer, norm in zip(report.layers, expected):
        assert layer.grad_norm == pytest.approx(norm, rel=1e-9)
    first_to_last = expected[0] / expected[-1]
    assert first_to_last < 1e-6  # orders of magnitude below the 1e-3 threshold
    assert report.first_to_last_ratio == pytest.approx(first_to_last, rel=1e-9)
    assert report.verdict == "vanishing"
    assert report.layers[0].verdict == "vanishing"
    assert report.layers[-1].verdict == "healthy"
    assert "layers.0" in report.explanation
    assert "ReLU" in report.remedy and "init='he'" in report.remedy


def test_deep_relu_with_he_init_is_healthy():
    """The same depth with ReLU and He init is 'healthy': every layer within the thresholds."""
    X, y = _regression_data()
    model = _deep("relu", init="he")
    _mse_backward(model, X, y)
    report = gradient_health(model, X)

    expected = _torch_grad_norms(model, X, y)
    for i, (layer, norm) in enumerate(zip(report.layers, expected)):
        assert layer.grad_norm == pytest.approx(norm, rel=1e-9)
        weight_norm = _hand_norm(p.data for p in _layer_params(model, i))
        assert layer.weight_norm == pytest.approx(weight_norm, rel=1e-12)
        assert layer.update_ratio == pytest.approx(norm / weight_norm, rel=1e-9)
        # The numbers that make it healthy, from the oracles: no layer near a threshold.
        assert 1e-3 < norm / expected[-1] < 1e3
        assert norm < 1e3 and norm / weight_norm < 1e2
        assert layer.verdict == "healthy"
    assert report.verdict == "healthy"
    assert report.remedy == "nothing to change"


def test_sigmoid_network_whose_first_layer_gets_0_6_percent_is_vanishing():
    """Issue 13's network: 10 sigmoid layers, the first at 0.6% of the last (PyTorch): vanishing."""
    X, y = _regression_data()
    model = _deep("sigmoid", init="he", scale=2.45)
    _mse_backward(model, X, y)
    expected = _torch_grad_norms(model, X, y)
    ratio = expected[0] / expected[-1]
    assert 0.005 < ratio < 0.007
    report = gradient_health(model, X)
    assert report.first_to_last_ratio == pytest.approx(ratio, rel=1e-9)
    assert report.layers[0].verdict == "vanishing"
    assert report.verdict == "vanishing"
    assert report.remedy != "nothing to change"


@pytest.mark.parametrize(
    "scale, low, high, verdict",
    [(2.0, 1e-3, 1e-2, "vanishing"), (4.0, 1e-2, 1e-1, "weak")],
)
def test_layers_far_below_the_output_layer_are_never_healthy(scale, low, high, verdict):
    """A first layer at 0.1-1% of the output layer's gradient is vanishing, at 1-10% weak."""
    X, y = _regression_data()
    model = _deep("sigmoid", init="he", scale=scale)
    _mse_backward(model, X, y)
    expected = _torch_grad_norms(model, X, y)
    assert low < expected[0] / expected[-1] < high
    report = gradient_health(model, X)
    assert report.layers[0].verdict == verdict
    for layer, norm in zip(report.layers, expected):
        if norm / expected[-1] < 0.1:
            assert layer.verdict != "healthy", layer.name
    assert report.verdict == verdict


def test_calibration_over_twenty_seeds():
    """On 20 seeds (PyTorch's norms): He-ReLU, Xavier-tanh never vanish; Xavier-sigmoid always."""
    X, y = _regression_data()
    for seed in range(20):
        for activation, init, vanishes in (
            ("relu", "he", False),
            ("tanh", "xavier", False),
            ("sigmoid", "xavier", True),
        ):
            model = _deep(activation, init=init, seed=seed)
            _mse_backward(model, X, y)
            norms = _torch_grad_norms(model, X, y)
            smallest = min(norms[:-1]) / norms[-1]
            verdict = gradient_health(model).verdict
            if vanishes:
                assert norms[0] / norms[-1] < 1e-4, (activation, seed)
                assert verdict == "vanishing", (activation, seed)
            else:
                assert smallest > 1e-2, (activation, seed)
                assert verdict in ("healthy", "weak"), (activation, seed)
                assert (verdict == "weak") == (smallest < 0.1), (activation, seed)


def test_an_exploded_network_is_never_healthy():
    """Notebook 06's network after 20 SGD steps at lr 0.1: weights ~1e20, |grad|/|w| ~1e-23."""
    from autograd_lite.data import make_moons
    from autograd_lite.losses import binary_cross_entropy_with_logits

    X, y = make_moons(64, noise=0.1, seed=0)
    model = MLP(2, [16] * 8 + [1], activation="relu", init="uniform", seed=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    for _ in range(21):
        losses = [binary_cross_entropy_with_logits(model(x), t) for x, t in zip(X, y)]
        loss = sum_values(losses) * (1.0 / len(losses))
        optimizer.zero_grad()
        loss.backward()
        if _ < 20:
            optimizer.step()
    output = _layer_params(model, 8)
    weight_rms = _hand_norm(p.data for p in output) / math.sqrt(len(output))
    assert weight_rms > 1e3  # the truth: the weights have blown up
    assert _hand_norm(p.grad for p in output) / _hand_norm(p.data for p in output) < 1e-20
    report = gradient_health(model, X)
    assert report.layer("layers.8").verdict == "exploding"
    assert all(layer.verdict != "healthy" for layer in report.layers)
    assert report.verdict == "exploding"
    assert "blown up" in report.explanation


def test_weights_times_ten_is_exploding():
    """He-initialised ReLU weights scaled ×10 give gradient norms far above 1e3: 'exploding'."""
    X, y = _regression_data()
    model = _deep("relu", init="he", scale=10.0)
    _mse_backward(model, X, y)
    report = gradient_health(model, X)

    expected = _torch_grad_norms(model, X, y)
    assert min(expected) > 1e10
    for layer, norm in zip(report.layers, expected):
        assert layer.grad_norm == pytest.approx(norm, rel=1e-9)
        assert layer.verdict == "exploding"
    assert report.verdict == "exploding"
    assert "clip_grad_norm_" in report.remedy


@pytest.mark.training
def test_huge_learning_rate_is_exploding_over_training():
    """SGD with lr=10 makes the recorded gradient norm grow over 1e3×: the trend is 'exploding'."""
    X, y = _regression_data(nin=2)
    model = MLP(2, [8, 8, 1], activation="relu", init="he", seed=0)
    history = fit(
        model,
        X,
        y,
        loss="mse",
        optimizer=SGD(model.parameters(), lr=10.0),
        epochs=5,
        progress=False,
    )
    totals = [_hand_norm(r["grad_norms"].values()) for r in history.records]
    growth = max(totals) / totals[0]
    assert growth > 1e3

    report = gradient_health(model, history=history)
    assert report.trend is not None
    assert report.trend.epochs == 5
    assert report.trend.grad_norm_growth == pytest.approx(growth, rel=1e-12)
    losses = [r["loss"] for r in history.records]
    assert report.trend.loss_growth == pytest.approx(max(losses) / losses[0], rel=1e-12)
    assert report.trend.verdict == "exploding"
    assert report.verdict == "exploding"


@pytest.mark.training
def test_small_learning_rate_has_a_healthy_trend():
    """The same network trained with lr=0.01 shows no growth: the trend is 'healthy'."""
    X, y = _regression_data(nin=2)
    model = MLP(2, [8, 8, 1], activation="relu", init="he", seed=0)
    history = fit(
        model,
        X,
        y,
        loss="mse",
        optimizer=SGD(model.parameters(), lr=0.01),
        epochs=5,
        progress=False,
    )
    totals = [_hand_norm(r["grad_norms"].values()) for r in history.records]
    assert max(totals) / totals[0] < 10
    report = gradient_health(model, history=history)
    assert report.trend.verdict == "healthy"
    assert report.trend.grad_norm_growth == pytest.approx(max(totals) / totals[0], rel=1e-12)


def test_history_alone_can_make_the_verdict_exploding():
    """Healthy current gradients with a diverging history give 'exploding', naming the history."""
    X, y = _regression_data()
    model = _deep("relu", init="he")
    _mse_backward(model, X, y)
    records = [
        {"epoch": 1, "loss": 1.0, "grad_norms": {"layers.0": 1.0}},
        {"epoch": 2, "loss": 2.0, "grad_norms": {"layers.0": 5e3}},
    ]
    report = gradient_health(model, history=records)
    assert all(layer.verdict == "healthy" for layer in report.layers)
    assert report.trend.grad_norm_growth == 5e3
    assert report.verdict == "exploding"
    assert "history" in report.explanation


def test_very_negative_bias_kills_the_relus():
    """Biases of -10 in the first layer make every unit dead on X: share 1.0, as numpy finds."""
    X, y = _regression_data(nin=2)
    model = MLP(2, [16, 16, 1], seed=0)
    for neuron in model.layers[0].neurons:
        neuron.b.data = -10.0
    _mse_backward(model, X, y)
    report = gradient_health(model, X)

    oracle = _oracle_shares(model, X)
    assert oracle[0][0] == 1.0  # uniform(-1, 1) weights on inputs in [-1, 1] cannot beat -10
    assert report.layer("layers.0").dead_relu_share == 1.0
    assert [layer.dead_relu_share for layer in report.layers] == [s[0] for s in oracle]
    assert report.samples == len(X)
    # No unit fires, so no gradient reaches the hidden layers.
    assert _hand_norm(p.grad for p in _layer_params(model, 0)) == 0.0
    assert report.layer("layers.0").verdict == "vanishing"
    assert report.verdict == "vanishing"
    assert any(w.startswith("layers.0:") and "dead" in w for w in report.warnings)
    assert "leaky_relu" in report.remedy


def test_half_the_biases_very_negative_gives_half_dead():
    """Killing 8 of 16 first-layer units gives a dead share of at least 0.5, equal to numpy's."""
    X, y = _regression_data(nin=2)
    model = MLP(2, [16, 16, 1], init="he", seed=3)
    for neuron in model.layers[0].neurons[:8]:
        neuron.b.data = -50.0
    _mse_backward(model, X, y)
    report = gradient_health(model, X)
    oracle = _oracle_shares(model, X)
    assert oracle[0][0] >= 0.5
    assert report.layer("layers.0").dead_relu_share == oracle[0][0]
    assert any(w.startswith("layers.0:") for w in report.warnings)


def test_dead_means_exactly_zero_for_every_sample():
    """A unit stuck at a tiny positive output is alive; one at exactly 0 everywhere is dead."""
    X = [[-1.0, 0.5], [-0.5, 0.25], [0.25, -2.0]]
    model = MLP(2, [3, 1], seed=0)
    units = model.layers[0].neurons
    _set_unit(units[0], [0.0, 0.0], 1e-9)  # output 1e-9 on every sample: alive
    _set_unit(units[1], [0.0, 0.0], 0.0)  # output exactly 0: dead
    _set_unit(units[2], [1.0, 0.0], 0.0)  # positive on the last sample only: alive
    report = gradient_health(model, X)
    assert _oracle_shares(model, X)[0][0] == pytest.approx(1 / 3)
    assert report.layer("layers.0").dead_relu_share == pytest.approx(1 / 3)


def test_numpy_batches_are_accepted():
    """X as a numpy array gives the same shares as the same data as lists."""
    X, y = _regression_data(nin=2)
    model = MLP(2, [8, 1], seed=2)
    _mse_backward(model, X, y)
    from_lists = gradient_health(model, X)
    from_array = gradient_health(model, np.array(X))
    assert from_array.to_dict() == from_lists.to_dict()


def test_nan_input_gives_non_finite():
    """A nan in the data makes gradients nan: 'non-finite', with the counts a direct scan finds."""
    X, y = _regression_data()
    X[5][1] = math.nan
    model = MLP(3, [4, 4, 1], activation="tanh", seed=0)
    _mse_backward(model, X, y)
    report = gradient_health(model)

    for i, layer in enumerate(report.layers):
        bad = sum(not math.isfinite(p.grad) for p in _layer_params(model, i))
        assert bad > 0
        assert layer.nonfinite_grads == bad
        assert math.isnan(layer.grad_norm)
        assert layer.verdict == "non-finite"
    assert report.verdict == "non-finite"
    assert "nan or inf" in report.explanation
    assert "detect_anomaly" in report.remedy


def test_infinite_gradient_outranks_exploding():
    """log(0) in the loss gives an inf gradient; 'non-finite' outranks an exploding layer."""
    model = MLP(1, [1, 1], activation="linear", seed=0)
    output_bias = model.layers[1].neurons[0].b  # starts at 0, so log(bias) = -inf
    (model([3.0]) * 1e6 + log(output_bias)).backward()
    assert output_bias.grad == math.inf
    first = _hand_norm(p.grad for p in _layer_params(model, 0))
    assert math.isfinite(first) and first > 1e3
    report = gradient_health(model)
    assert report.layers[0].verdict == "exploding"
    assert report.layers[1].nonfinite_grads == 1
    assert report.layers[1].grad_norm == math.inf
    assert report.layers[1].verdict == "non-finite"
    assert report.verdict == "non-finite"
    assert report.explanation.startswith("layers.1:")


def test_nan_loss_in_history_is_non_finite():
    """A nan loss from epoch 3 on gives a 'non-finite' trend naming epoch 3."""
    X, y = _regression_data()
    model = _deep("relu", init="he")
    _mse_backward(model, X, y)
    records = [
        {"epoch": 1, "loss": 1.0, "grad_norms": {"layers.0": 1.0}},
        {"epoch": 2, "loss": 0.5, "grad_norms": {"layers.0": 1.0}},
        {"epoch": 3, "loss": math.nan, "grad_norms": {"layers.0": math.nan}},
        {"epoch": 4, "loss": math.nan, "grad_norms": {"layers.0": math.nan}},
    ]
    report = gradient_health(model, history=History(records))
    assert report.trend.nonfinite_epochs == [3, 4]
    assert report.trend.verdict == "non-finite"
    assert report.verdict == "non-finite"
    assert "epoch 3" in report.explanation


# --------------------------------------------------------------------------------------
# The numbers, on random networks
# --------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    scale=st.sampled_from([0.3, 1.0, 4.0]),
    bias=st.floats(-3.0, 3.0),
)
def test_norms_and_shares_match_the_oracles(seed, activation, widths, scale, bias):
    """On random MLPs every layer's norms match PyTorch and fsum, and its shares match numpy."""
    X, y = _regression_data(n=12, nin=2, seed=seed)
    model = MLP(2, [*widths, 1], activation=activation, seed=seed)
    for p in model.parameters():
        p.data *= scale
    for layer in model.layers:
        for neuron in layer.neurons:
            neuron.b.data = bias
    _mse_backward(model, X, y)
    report = gradient_health(model, X)

    expected = _torch_grad_norms(model, X, y)
    for i, (layer, norm, shares) in enumerate(
        zip(report.layers, expected, _oracle_shares(model, X))
    ):
        assert layer.grad_norm == pytest.approx(norm, rel=1e-9, abs=1e-300)
        assert layer.weight_norm == pytest.approx(
            _hand_norm(p.data for p in _layer_params(model, i)), rel=1e-12
        )
        assert layer.n_params == len(_layer_params(model, i))
        assert (layer.dead_relu_share, layer.saturated_share) == shares
        assert layer.units == len(model.layers[i].neurons)


@given(st.lists(st.floats(-1e200, 1e200, allow_nan=False), max_size=20))
def test_l2_norm_matches_numpy_without_overflow(values):
    """l2_norm agrees with a scaled numpy norm even where squaring would overflow."""
    scale = max((abs(v) for v in values), default=0.0)
    expected = 0.0 if scale == 0 else scale * float(np.linalg.norm(np.array(values) / scale))
    assert l2_norm(values) == pytest.approx(expected, rel=1e-12)


def test_l2_norm_reports_nan_and_inf():
    """nan anywhere makes the norm nan; otherwise an inf makes it inf."""
    assert math.isnan(l2_norm([1.0, math.inf, math.nan]))
    assert l2_norm([1.0, -math.inf]) == math.inf


def test_layer_grad_norms_groups_like_the_training_history():
    """layer_grad_norms uses the History's layer names, and the norms match a direct fsum."""
    X, y = _regression_data(nin=2)
    model = MLP(2, [4, 3, 1], seed=0)
    _mse_backward(model, X, y)
    norms = layer_grad_norms(model)
    assert list(norms) == ["layers.0", "layers.1", "layers.2"]
    for i, norm in enumerate(norms.values()):
        assert norm == pytest.approx(_hand_norm(p.grad for p in _layer_params(model, i)))


# --------------------------------------------------------------------------------------
# Report shape and edge cases
# --------------------------------------------------------------------------------------


def test_report_prints_a_table_and_converts_to_json():
    """str(report) lists every layer with its verdict; to_dict() survives json round trip."""
    X, y = _regression_data()
    model = _deep("sigmoid", scale=0.1)
    _mse_backward(model, X, y)
    report = gradient_health(model, X)
    text = str(report)
    assert text.startswith("Gradient health: VANISHING")
    for layer in report.layers:
        line = next(row for row in text.splitlines() if row.startswith(layer.name + " "))
        assert line.rstrip().endswith(layer.verdict)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"] == "vanishing"
    assert [layer["name"] for layer in data["layers"]] == [x.name for x in report.layers]
    assert data["layers"][0]["grad_norm"] == report.layers[0].grad_norm
    assert isinstance(report, HealthReport)


def test_all_zero_gradients_ask_whether_backward_ran():
    """Without a backward pass every gradient is 0: 'no gradients', asking about backward()."""
    model = MLP(2, [3, 1], seed=0)
    report = gradient_health(model)
    assert all(layer.grad_norm == 0.0 for layer in report.layers)
    assert report.verdict == "no gradients"
    assert all(layer.verdict == "no gradients" for layer in report.layers)
    assert "ReLU" not in report.remedy and "backward()" in report.remedy
    assert "backward()" in report.explanation


def test_without_X_there_are_no_activation_statistics():
    """Without X the shares stay None and samples is 0."""
    X, y = _regression_data()
    model = _deep("relu", init="he")
    _mse_backward(model, X, y)
    report = gradient_health(model)
    assert report.samples == 0
    assert all(layer.dead_relu_share is None and layer.units is None for layer in report.layers)


def test_saturated_tanh_units_are_counted_and_warned():
    """tanh weights ×20 saturate nearly every unit; the share equals numpy's and warns."""
    X, y = _regression_data()
    model = MLP(3, [8, 8, 1], activation="tanh", seed=0)
    for p in model.parameters():
        p.data *= 20.0
    _mse_backward(model, X, y)
    report = gradient_health(model, X)
    oracle = _oracle_shares(model, X)
    assert oracle[1][1] >= 0.5
    assert [layer.saturated_share for layer in report.layers] == [s[1] for s in oracle]
    assert any(w.startswith("layers.1:") and "saturate" in w for w in report.warnings)


def test_dropout_is_switched_off_while_counting_and_restored():
    """Dead units are counted in eval mode (Dropout would zero the inputs) and the mode returns."""
    X, _ = _regression_data(nin=2)
    hidden = Layer(2, 8, "relu", seed=0)
    model = Sequential(Dropout(0.99, seed=0), hidden, Layer(8, 1, "linear", seed=1))
    model.train()
    report = gradient_health(model, X)
    assert model.training and model.layers[0].training
    assert [layer.name for layer in report.layers] == ["layers.1", "layers.2"]
    W = np.array([[w.data for w in n.w] for n in hidden.neurons])
    b = np.array([n.b.data for n in hidden.neurons])
    outputs = np.maximum(np.array(X) @ W.T + b, 0.0)  # no dropout: eval mode
    dead = np.all(outputs == 0.0, axis=0).mean()
    assert dead < 1.0  # with dropout active almost every input would be 0 and every unit dead
    assert report.layer("layers.1").dead_relu_share == dead
    assert report.notes == []


def test_a_submodel_used_as_a_layer_gets_no_unit_statistics():
    """An MLP inside a Sequential has no neurons list of its own: its shares stay None."""
    X, _ = _regression_data(nin=2)
    model = Sequential(MLP(2, [4, 2], seed=0), Layer(2, 1, "linear", seed=0))
    report = gradient_health(model, X)
    assert report.layer("layers.0").dead_relu_share is None
    assert report.layer("layers.0").units is None
    assert report.layer("layers.1").units == 1


def test_a_model_without_layers_gets_norms_and_a_note():
    """A model with no `layers` list still gets norms and a verdict; the note says why no shares."""

    class Pair:
        def __init__(self):
            self.a, self.b = Value(0.5), Value(-1.5)

        def named_parameters(self):
            return [("a", self.a), ("b", self.b)]

        def __call__(self, x):
            return self.a * x[0] + self.b

    model = Pair()
    (model([2.0]) ** 2).backward()
    report = gradient_health(model, [[1.0], [2.0]])
    assert [layer.name for layer in report.layers] == ["a", "b"]
    assert report.layers[0].grad_norm == pytest.approx(abs(2 * (0.5 * 2 - 1.5) * 2))
    assert report.notes and "layers" in report.notes[0]
    assert report.layers[0].dead_relu_share is None


def test_micrograd_style_model_is_one_group():
    """A model with only parameters() is judged as one group named '(model)'."""

    class Bare:
        def __init__(self):
            self.w = Value(2.0)

        def parameters(self):
            return [self.w]

    model = Bare()
    (model.w * 3.0).backward()
    report = gradient_health(model)
    assert [layer.name for layer in report.layers] == ["(model)"]
    assert report.layers[0].grad_norm == 3.0
    assert report.first_to_last_ratio is None


def test_gradients_built_with_create_graph_are_read_as_numbers():
    """Gradients that are Values (create_graph=True) are measured by their data."""
    model = MLP(1, [1], seed=0)
    (model([2.0]) ** 2).backward(create_graph=True)
    report = gradient_health(model)
    grads = [p.grad.data for p in model.parameters()]
    assert report.layers[0].grad_norm == pytest.approx(_hand_norm(grads))


def test_thresholds_can_be_overridden():
    """A dict of thresholds changes the verdict: with vanishing_ratio 0.99 a 0.6 ratio vanishes."""
    X, y = _regression_data()
    model = _deep("relu", init="he")
    _mse_backward(model, X, y)
    norms = _torch_grad_norms(model, X, y)
    ratio = norms[0] / norms[-1]
    assert ratio < 0.99
    report = gradient_health(model, thresholds={"vanishing_ratio": 0.99})
    assert report.layers[0].verdict == "vanishing"
    strict = gradient_health(model, thresholds=HealthThresholds(exploding_grad_norm=1e-3))
    assert strict.verdict == "exploding"


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    """Wrong types and values raise TypeError/ValueError that name what was expected."""
    model = MLP(2, [2, 1], seed=0)
    with pytest.raises(TypeError, match="named_parameters"):
        gradient_health(object())
    with pytest.raises(TypeError, match="list of samples"):
        gradient_health(model, "not data")
    with pytest.raises(ValueError, match="empty"):
        gradient_health(model, [])
    with pytest.raises(TypeError, match="X\\[0\\]"):
        gradient_health(model, [3.0])
    with pytest.raises(TypeError, match="str"):
        gradient_health(model, [[1.0, "a"]])
    with pytest.raises(ValueError, match="unknown thresholds \\['vanish'\\]"):
        gradient_health(model, thresholds={"vanish": 1.0})
    with pytest.raises(TypeError, match="HealthThresholds"):
        gradient_health(model, thresholds=0.5)
    with pytest.raises(ValueError, match="positive"):
        HealthThresholds(vanishing_ratio=-1.0)
    with pytest.raises(ValueError, match="share"):
        HealthThresholds(dead_share=2.0)
    with pytest.raises(TypeError, match="real number"):
        HealthThresholds(growth_factor="big")
    with pytest.raises(TypeError, match="History"):
        gradient_health(model, history=42)
    with pytest.raises(KeyError, match=r"layers\.0"):
        gradient_health(model).layer("nope")


def test_history_records_accepts_the_three_forms():
    """A History, its to_dict() and a plain list of dicts give the same records."""
    records = [{"epoch": 1, "loss": 1.0, "grad_norms": {"layers.0": 2.0}}]
    history = History(records)
    assert history_records(history) == records
    assert history_records(history.to_dict()) == records
    assert history_records(records) == records


def _first_layer_saturated(scale: float, seed: int = 0):
    """A tanh MLP(3, [8, 8, 1]) whose first layer's weights and biases are scaled by ``scale``."""
    X, y = _regression_data()
    model = MLP(3, [8, 8, 1], activation="tanh", seed=seed)
    for p in model.layers[0].parameters():
        p.data *= scale
    _mse_backward(model, X, y)
    return model, X


@pytest.mark.parametrize("seed", range(5))
def test_a_wholly_saturated_layer_enters_the_verdict(seed):
    """First layer ×50: numpy finds every unit saturated, and the verdict says so, not healthy."""
    model, X = _first_layer_saturated(50.0, seed)
    assert _oracle_shares(model, X)[0][1] == 1.0
    report = gradient_health(model, X)
    assert report.layer("layers.0").verdict == "saturated"
    assert report.verdict == "saturated"
    assert report.explanation.startswith("layers.0: all 8 tanh units saturate on X")
    assert "scale inputs" in report.remedy


def test_a_partly_saturated_layer_only_warns():
    """Below a whole layer, saturation stays a warning: the verdict is the gradients' own."""
    for scale in (4.0, 6.0, 8.0, 10.0, 12.0):
        model, X = _first_layer_saturated(scale)
        share = _oracle_shares(model, X)[0][1]
        if 0.5 <= share < 1.0:
            break
    else:
        pytest.fail("no scale gave a first layer with half to all but one unit saturated")
    report = gradient_health(model, X)
    assert report.layer("layers.0").saturated_share == share
    assert report.layer("layers.0").verdict != "saturated"
    assert any(w.startswith("layers.0:") for w in report.warnings)
