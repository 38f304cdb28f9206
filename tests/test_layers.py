"""Tests for autograd_lite.nn.layers: Neuron, Layer, MLP, Dropout, Sequential, Residual.

Oracles: plain ``math`` formulas for forward values, PyTorch float64 networks built by
hand from the same weights (not via ``to_torch``), central differences, and micrograd
itself running its own demo code.
"""

from __future__ import annotations

import gc
import math
import random
import weakref
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.engine import Value, detect_anomaly, gradients, topological_order
from autograd_lite.nn import (
    ACTIVATIONS,
    MLP,
    Dropout,
    Layer,
    Neuron,
    Residual,
    Sequential,
)
from tests.optional import need
from tests.oracles import assert_close, central_difference, partial_difference, require_torch

# Independent float formulas for each activation.
MATH_ACTIVATIONS: dict[str, Callable[[float], float]] = {
    "relu": lambda z: max(z, 0.0),
    "tanh": math.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "linear": lambda z: z,
}


def torch_activation(torch, name: str):
    """The PyTorch function for an activation name."""
    functional = torch.nn.functional
    return {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "leaky_relu": lambda z: functional.leaky_relu(z, 0.01),
        "linear": lambda z: z,
    }[name]


def torch_twin(torch, model: MLP):
    """(weights, biases) leaf tensors holding the MLP's parameters, layer by layer."""
    twin = []
    for layer in model.layers:
        weights = torch.tensor(
            [[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64, requires_grad=True
        )
        biases = torch.tensor(
            [n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True
        )
        twin.append((weights, biases, layer.activation))
    return twin


def torch_forward(torch, twin, x):
    """The MLP forward pass written directly with torch tensors."""
    h = x
    for weights, biases, activation in twin:
        h = torch_activation(torch, activation)(weights @ h + biases)
    return h


def interior_nodes(root: Value) -> list[Value]:
    """The nodes of root's graph that were made by an operation."""
    return [node for node in topological_order(root) if node.parents]


# --------------------------------------------------------------------------------------
# Neuron
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_neuron_computes_activation_of_weighted_sum_plus_bias(activation: str) -> None:
    """Neuron(x) equals act(sum(w*x) + b) computed with plain floats."""
    neuron = Neuron(3, activation, rng=random.Random(0))
    neuron.b.data = 0.375
    x = [0.5, -1.25, 2.0]
    z = sum(w.data * xi for w, xi in zip(neuron.w, x)) + neuron.b.data
    assert_close(neuron(x).data, MATH_ACTIVATIONS[activation](z), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_neuron_gradients_match_torch(activation: str) -> None:
    """d(neuron)/d(w, b, x) equals PyTorch's in float64 for every activation."""
    torch = require_torch()
    neuron = Neuron(4, activation, rng=random.Random(1))
    neuron.b.data = -0.2
    xs = [Value(v) for v in (0.3, -0.7, 1.1, 0.05)]
    out = neuron(xs)
    out.backward()
    w = torch.tensor([p.data for p in neuron.w], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(neuron.b.data, dtype=torch.float64, requires_grad=True)
    x = torch.tensor([v.data for v in xs], dtype=torch.float64, requires_grad=True)
    expected = torch_activation(torch, activation)(w @ x + b)
    expected.backward()
    assert_close(out.data, expected.item())
    for mine, theirs in zip([*neuron.w, neuron.b, *xs], [*w.grad, b.grad, *x.grad]):
        assert_close(mine.grad, float(theirs), what=activation)


def test_neuron_is_one_node() -> None:
    """Linear: one dot node; relu, tanh, sigmoid: one fused node; leaky_relu: dot, then it."""
    linear = Neuron(5, "linear", rng=random.Random(0))([Value(1.0) for _ in range(5)])
    assert [node.op for node in interior_nodes(linear)] == ["dot"]
    for activation in ("relu", "tanh", "sigmoid"):
        out = Neuron(5, activation, rng=random.Random(0))([Value(1.0)] * 5)
        assert [node.op for node in interior_nodes(out)] == [f"dot_{activation}"]
    leaky = Neuron(5, "leaky_relu", rng=random.Random(0))([Value(1.0)] * 5)
    assert [node.op for node in interior_nodes(leaky)] == ["dot", "leaky_relu"]


def test_micrograd_nonlin_flag_maps_to_relu_and_linear() -> None:
    """nonlin=True is relu, nonlin=False is linear, and .nonlin reads back."""
    assert Neuron(2, nonlin=True).activation == "relu"
    linear = Neuron(2, nonlin=False)
    assert linear.activation == "linear" and linear.nonlin is False
    assert Layer(2, 3, nonlin=False).activation == "linear"


def test_conflicting_nonlin_and_activation_are_refused() -> None:
    """nonlin=False with activation='tanh' is ambiguous and raises ValueError."""
    with pytest.raises(ValueError, match="only one"):
        Neuron(2, "tanh", nonlin=False)
    with pytest.raises(TypeError, match="nonlin"):
        Neuron(2, nonlin="yes")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Neuron(0), ValueError, "positive int, got 0"),
        (lambda: Neuron(2.0), TypeError, "positive int, got float"),
        (lambda: Neuron(True), TypeError, "got bool"),
        (lambda: Neuron(2, "softmax"), ValueError, "expected one of"),
        (lambda: Neuron(2, None), TypeError, "activation must be a str.*NoneType"),
        (lambda: Neuron(2, init="lecun"), ValueError, "unknown init scheme"),
        (lambda: Layer(2, -1), ValueError, "nout"),
    ],
)
def test_bad_constructor_arguments_raise_clear_errors(make, error, message) -> None:
    """Invalid sizes, activations and init schemes raise errors naming what is accepted."""
    with pytest.raises(error, match=message):
        make()


def test_wrong_input_length_or_type_is_reported() -> None:
    """A neuron or layer given the wrong number of inputs, or a scalar, says so."""
    with pytest.raises(ValueError, match="Neuron expected 3 inputs, got 2"):
        Neuron(3)([1.0, 2.0])
    with pytest.raises(ValueError, match="Layer expected 3 inputs, got 4"):
        Layer(3, 2)([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match=r"list of 3 inputs.*float"):
        Neuron(3)(1.0)
    with pytest.raises(TypeError, match="str"):
        Layer(1, 1)(["a"])


def test_activation_can_be_changed_after_construction() -> None:
    """Assigning .activation on a layer changes every neuron's forward pass."""
    layer = Layer(2, 3, rng=random.Random(0))
    layer.activation = "tanh"
    assert all(n.activation == "tanh" for n in layer.neurons)
    assert all(node.op == "dot_tanh" for node in layer([1.0, 1.0]))
    with pytest.raises(ValueError, match="expected one of"):
        layer.activation = "swish"


# --------------------------------------------------------------------------------------
# Layer and MLP shapes, reprs
# --------------------------------------------------------------------------------------


def test_layer_always_returns_a_list() -> None:
    """Even a one-neuron layer returns a list (micrograd's returned a bare Value)."""
    out = Layer(2, 1, seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)


def _layer_by_hand(layer: Layer, x: list[float]) -> list[float]:
    """Each neuron's ``activation(w · x + b)`` in plain floats, weights read as numbers."""
    act = MATH_ACTIVATIONS[layer.activation]
    return [
        act(math.fsum([float(n.b)] + [float(w) * xi for w, xi in zip(n.w, x)]))
        for n in layer.neurons
    ]


@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
@pytest.mark.parametrize(
    "change",
    ["weight to number", "weight to new Value", "bias to number", "row to tuple", "none"],
)
def test_layer_sees_weights_changed_in_place_between_calls(activation: str, change: str) -> None:
    """A weight or bias replaced after a forward pass (by a number or a new Value) is used next."""
    layer = Layer(3, 4, activation, seed=5)
    x = [0.5, -1.25, 2.0]
    for _ in range(2):  # the second call is the one that may reuse the first call's check
        layer(x)
    neuron = layer.neurons[2]
    new_weight = Value(-0.75)
    if change == "weight to number":
        neuron.w[1] = 1.5
    elif change == "weight to new Value":
        neuron.w[1] = new_weight
    elif change == "bias to number":
        neuron.b = 0.25
    elif change == "row to tuple":
        neuron.w = tuple(neuron.w)
    outputs = layer(x)
    expected = _layer_by_hand(layer, x)
    for out, want in zip(outputs, expected, strict=True):
        assert out.data == pytest.approx(want, rel=1e-12, abs=1e-12)
    if change == "weight to new Value":  # and the gradient reaches the new weight
        outputs[2].backward()

        def third_output(t: float) -> float:
            new_weight.data = t
            return layer(x)[2].data

        at = new_weight.data
        assert new_weight.grad == pytest.approx(central_difference(third_output, at), rel=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_layer_reusing_its_check_builds_the_reference_paths_nodes(activation: str) -> None:
    """A layer's second call (rows checked already) builds the primitive table's nodes exactly."""
    layer = Layer(5, 6, activation, seed=2)
    x = [Value(v) for v in (0.3, -0.1, 2.5, -4.0, 0.0)]
    layer(x)
    trusted = layer(x)
    with detect_anomaly():  # no fast path under anomaly checks: the primitive table's nodes
        reference = layer(x)
    for a, b in zip(trusted, reference, strict=True):
        assert (a.data, a.op, a.scope) == (b.data, b.op, b.scope)
        assert a.local_derivatives == b.local_derivatives and a.parents == b.parents


def test_layer_check_keeps_no_layer_alive() -> None:
    """A dropped layer is freed: the record of its checked rows holds it only weakly."""
    layer = Layer(2, 3, seed=0)
    layer([1.0, 2.0])
    layer([1.0, 2.0])
    alive = weakref.ref(layer)
    del layer
    gc.collect()
    assert alive() is None


def test_mlp_returns_a_value_for_one_output_and_a_list_otherwise() -> None:
    """MLP(…, [.., 1]) returns a Value; MLP(…, [.., 3]) returns a list of 3 Values."""
    assert isinstance(MLP(2, [4, 1], seed=0)([1.0, 2.0]), Value)
    out = MLP(2, [4, 3], seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3


def test_mlp_hidden_layers_use_activation_and_the_last_is_linear_by_default() -> None:
    """MLP(2, [16, 16, 1]) has relu, relu, linear layers, as micrograd's."""
    model = MLP(2, [16, 16, 1], seed=0)
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]
    assert model.nin == 2 and model.nouts == [16, 16, 1]
    tanh = MLP(2, [3, 2], activation="tanh", output_activation="sigmoid", seed=0)
    assert [layer.activation for layer in tanh.layers] == ["tanh", "sigmoid"]


def test_reprs_are_readable() -> None:
    """Reprs name sizes and activations as the contract shows."""
    assert repr(MLP(2, [16, 16, 1], seed=0)) == "MLP(2, [16, 16, 1], activation='relu')"
    assert repr(Layer(16, 16, seed=0)) == "Layer(16 → 16, relu)"
    assert repr(Neuron(3, "tanh")) == "Neuron(3, tanh)"
    assert repr(Dropout(0.5)) == "Dropout(p=0.5)"
    assert (
        repr(MLP(3, [2], activation="tanh", output_activation="sigmoid", init="xavier", seed=0))
        == "MLP(3, [2], activation='tanh', output_activation='sigmoid', init='xavier')"
    )


def test_config_refuses_to_describe_a_model_changed_after_construction() -> None:
    """A changed layer activation makes config() raise rather than describe another model."""
    model = MLP(2, [3, 1], seed=0)
    model.layers[0].activation = "tanh"
    with pytest.raises(ValueError, match=r"\['tanh', 'linear'\], not the \['relu', 'linear'\]"):
        model.config()
    model.layers[0].neurons[0].activation = "relu"
    with pytest.raises(ValueError, match="different activations"):
        model.layers[0].config()


@pytest.mark.parametrize("nouts", [[], 3, "16", None])
def test_mlp_needs_a_list_of_widths(nouts) -> None:
    """nouts must be a non-empty list of ints; anything else raises TypeError."""
    with pytest.raises(TypeError, match="nouts"):
        MLP(2, nouts)


def test_mlp_graph_is_one_node_deep_per_layer() -> None:
    """Each layer, hidden (fused dot and activation) or linear output, adds one node of depth."""
    out = MLP(2, [8, 8, 1], seed=0)([1.0, -1.0])
    depth: dict[Value, int] = {}
    for node in topological_order(out):
        depth[node] = 1 + max((depth[p] for p in node.parents), default=-1)
    assert depth[out] == 3


# --------------------------------------------------------------------------------------
# MLP against oracles
# --------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    x=st.lists(st.floats(-3, 3), min_size=3, max_size=3),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu"]),
)
def test_mlp_outputs_and_gradients_match_torch(seed: int, x: list[float], activation) -> None:
    """Outputs and d(sum of outputs)/d(every parameter, input) equal PyTorch's to 1e-10."""
    torch = require_torch()
    model = MLP(3, [5, 4, 2], activation=activation, seed=seed)
    inputs = [Value(v) for v in x]
    outputs = model(inputs)
    (outputs[0] + 2.0 * outputs[1]).backward()
    twin = torch_twin(torch, model)
    x_t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    expected = torch_forward(torch, twin, x_t)
    (expected[0] + 2.0 * expected[1]).backward()
    for mine, theirs in zip(outputs, expected):
        assert_close(mine.data, theirs.item(), rtol=1e-10, atol=1e-10)
    for layer, (weights, biases, _) in zip(model.layers, twin):
        for i, neuron in enumerate(layer.neurons):
            for j, w in enumerate(neuron.w):
                assert_close(w.grad, weights.grad[i, j].item(), rtol=1e-10, atol=1e-10)
            assert_close(neuron.b.grad, biases.grad[i].item(), rtol=1e-10, atol=1e-10)
    for v, g in zip(inputs, x_t.grad):
        assert_close(v.grad, g.item(), rtol=1e-10, atol=1e-10)


def test_mlp_gradients_match_central_differences() -> None:
    """d(output)/d(parameter) equals a float64 central difference for every parameter."""
    model = MLP(2, [3, 1], activation="tanh", seed=5)
    x = [0.7, -0.4]
    params = model.parameters()
    analytic = gradients(model(x), params)

    def output_at(*values: float) -> float:
        for p, v in zip(params, values):
            p.data = v
        return model(x).data

    point = [p.data for p in params]
    for index, grad in enumerate(analytic):
        numeric = partial_difference(output_at, point, index)
        assert_close(grad, numeric, rtol=1e-8, atol=1e-9, what=f"parameter {index}")


def test_seeded_mlps_are_reproducible_and_ignore_the_global_random_state() -> None:
    """MLP(seed=s) gives the same weights every time, whatever random.seed() says."""
    random.seed(1)
    first = MLP(2, [4, 1], seed=7).state_dict()
    random.seed(2)
    second = MLP(2, [4, 1], seed=7).state_dict()
    assert first == second
    assert MLP(2, [4, 1], seed=8).state_dict() != first


# --------------------------------------------------------------------------------------
# micrograd parity
# --------------------------------------------------------------------------------------


def micrograd_demo(value_type, mlp_type, steps: int) -> tuple[list[float], list[float]]:
    """micrograd's demo training loop, verbatim apart from the data size and step count."""
    np = need("numpy")
    rng = np.random.RandomState(0)
    X = rng.randn(16, 2)
    y = np.where(X[:, 0] * X[:, 1] > 0, 1, -1)  # ints, as the demo's y*2-1

    random.seed(1337)
    model = mlp_type(2, [16, 16, 1])  # 2-layer neural network

    def loss():
        inputs = [list(map(value_type, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    history = []
    for k in range(steps):
        total_loss, _accuracy = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append(total_loss.data)
    return history, [p.data for p in model.parameters()]


def test_micrograd_demo_code_runs_unchanged_and_trains_identically() -> None:
    """The demo loop gives micrograd's losses and final weights to 1e-10 with our classes."""
    micrograd_engine = need("micrograd.engine")
    micrograd_nn = need("micrograd.nn")
    theirs_loss, theirs_weights = micrograd_demo(micrograd_engine.Value, micrograd_nn.MLP, 3)
    ours_loss, ours_weights = micrograd_demo(Value, MLP, 3)
    for mine, reference in zip(ours_loss, theirs_loss):
        assert_close(mine, reference, rtol=1e-10, atol=1e-12)
    assert len(ours_weights) == len(theirs_weights) == 337
    for mine, reference in zip(ours_weights, theirs_weights):
        assert_close(mine, reference, rtol=1e-10, atol=1e-12)


def test_unseeded_mlp_draws_micrograds_exact_initial_weights() -> None:
    """After random.seed(s), MLP(2, [16, 16, 1]) holds exactly micrograd's initial weights."""
    micrograd_nn = need("micrograd.nn")
    random.seed(42)
    theirs = [p.data for p in micrograd_nn.MLP(2, [16, 16, 1]).parameters()]
    random.seed(42)
    ours = [p.data for p in MLP(2, [16, 16, 1]).parameters()]
    assert ours == theirs


def test_weights_copied_into_micrograd_give_the_same_outputs_and_gradients() -> None:
    """micrograd's MLP holding our weights computes our outputs and gradients (1e-12)."""
    micrograd_engine = need("micrograd.engine")
    micrograd_nn = need("micrograd.nn")
    ours = MLP(3, [6, 5, 1], seed=3)
    theirs = micrograd_nn.MLP(3, [6, 5, 1])
    for mine, reference in zip(ours.parameters(), theirs.parameters()):
        reference.data = mine.data
    for x in ([0.5, -1.0, 2.0], [-0.3, 0.8, 0.1]):
        ours.zero_grad()
        theirs.zero_grad()
        inputs = [micrograd_engine.Value(v) for v in x]
        reference_out = theirs(inputs)
        reference_out.backward()
        our_inputs = [Value(v) for v in x]
        our_out = ours(our_inputs)
        our_out.backward()
        assert_close(our_out.data, reference_out.data, rtol=1e-12, atol=1e-13)
        for mine, reference in zip(ours.parameters(), theirs.parameters()):
            assert_close(mine.grad, float(reference.grad), rtol=1e-12, atol=1e-13)
        for mine, reference in zip(our_inputs, inputs):
            assert_close(mine.grad, float(reference.grad), rtol=1e-12, atol=1e-13)


def test_micrograd_single_neuron_and_layer_signatures_work() -> None:
    """Neuron(nin, nonlin=False) and Layer(nin, nout, nonlin=False) construct as in micrograd."""
    neuron = Neuron(3, nonlin=False)
    assert len(neuron.parameters()) == 4 and neuron.b.data == 0.0
    assert all(-1.0 <= w.data <= 1.0 for w in neuron.w)
    assert len(Layer(3, 2, nonlin=False).parameters()) == 8


# --------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------


def test_dropout_in_eval_mode_returns_its_input_unchanged() -> None:
    """In eval mode Dropout is the identity and builds nothing."""
    x = [Value(1.0), Value(2.0)]
    dropout = Dropout(0.9, seed=0).eval()
    assert dropout(x) is x


def test_dropout_zeroes_about_p_and_scales_the_rest_by_one_over_keep() -> None:
    """With p=0.3 on 20000 inputs, about 30% are 0 and the rest are x / 0.7 exactly."""
    n, p = 20_000, 0.3
    out = Dropout(p, seed=1)([Value(2.0)] * n)
    dropped = sum(1 for v in out if v.data == 0.0)
    # Binomial(n, p): 5 standard deviations is a false alarm once in ~3.5 million runs.
    assert abs(dropped / n - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert {v.data for v in out if v.data != 0.0} == {2.0 * (1.0 / (1.0 - p))}


def test_dropout_gradients_are_zero_for_dropped_inputs_and_the_scale_for_kept() -> None:
    """d(sum of outputs)/d(x_i) is 0 for a dropped input and 1/(1-p) for a kept one."""
    x = [Value(1.0) for _ in range(50)]
    out = Dropout(0.5, seed=2)(x)
    total = out[0]
    for v in out[1:]:
        total = total + v
    total.backward()
    for xi, yi in zip(x, out):
        assert xi.grad == (0.0 if yi.data == 0.0 else 2.0)


def test_dropout_masks_are_reproducible_with_a_seed() -> None:
    """Two Dropouts with the same seed drop the same positions; another seed differs."""

    def mask(seed: int) -> list[bool]:
        return [v.data == 0.0 for v in Dropout(0.5, seed=seed)([Value(1.0)] * 64)]

    assert mask(4) == mask(4)
    assert mask(4) != mask(5)


def test_dropout_edge_probabilities_and_single_values() -> None:
    """p=0 is the identity, p=1 zeroes everything, and a single Value works too."""
    x = [Value(3.0), Value(4.0)]
    assert Dropout(0.0)(x) is x
    assert [v.data for v in Dropout(1.0, seed=0)(x)] == [0.0, 0.0]
    single = Dropout(0.5, seed=0)(Value(3.0))
    assert single.data in (0.0, 6.0)


@pytest.mark.parametrize(
    ("p", "error"), [(-0.1, ValueError), (1.5, ValueError), ("0.5", TypeError)]
)
def test_dropout_refuses_invalid_probabilities(p, error) -> None:
    """p outside [0, 1] is a ValueError and a non-number a TypeError."""
    with pytest.raises(error, match="Dropout"):
        Dropout(p)


# --------------------------------------------------------------------------------------
# Sequential and Residual
# --------------------------------------------------------------------------------------


def test_sequential_applies_modules_in_order() -> None:
    """Sequential(a, b)(x) equals b(a(x)) exactly."""
    first, second = Layer(2, 3, "tanh", seed=0), Layer(3, 2, "linear", seed=1)
    model = Sequential(first, second)
    x = [0.5, -0.25]
    assert [v.data for v in model(x)] == [v.data for v in second(first(x))]
    assert len(model) == 2 and model[1] is second
    assert model.named_parameters()[0][0] == "layers.0.neurons.0.w.0"


def test_sequential_refuses_non_modules() -> None:
    """Passing a function raises TypeError naming its position."""
    with pytest.raises(TypeError, match="argument 1"):
        Sequential(Layer(1, 1), abs)


def test_residual_adds_the_input_to_the_output() -> None:
    """Residual(f)(x)[i] == x[i] + f(x)[i], and gradients flow through both paths."""
    inner = Layer(2, 2, "tanh", seed=0)
    x = [Value(0.5), Value(-1.5)]
    out = Residual(inner)(x)
    expected = [xi.data + fi.data for xi, fi in zip(x, inner(x))]
    assert [v.data for v in out] == expected
    out[0].backward()
    w = inner.neurons[0].w[0].data
    t = math.tanh(sum(wi.data * xi.data for wi, xi in zip(inner.neurons[0].w, x)))
    assert_close(x[0].grad, 1.0 + (1.0 - t * t) * w)


def test_residual_accepts_a_single_value_for_one_input_and_checks_lengths() -> None:
    """A one-output MLP inside Residual works on a one-element list; mismatches raise."""
    out = Residual(MLP(1, [3, 1], seed=0))([Value(2.0)])
    assert isinstance(out, list) and len(out) == 1
    with pytest.raises(ValueError, match="2 outputs for 3 inputs"):
        Residual(Layer(3, 2, seed=0))([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="Module"):
        Residual(lambda x: x)
