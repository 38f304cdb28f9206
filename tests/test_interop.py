"""Tests for autograd_lite.interop.to_torch: the torch model computes our outputs to 1e-12."""

from __future__ import annotations

import builtins
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.engine import sum_values
from autograd_lite.interop import to_torch
from autograd_lite.losses import cross_entropy
from autograd_lite.nn import (
    GPT,
    MLP,
    RNN,
    CausalSelfAttention,
    Dropout,
    Embedding,
    Layer,
    LayerNorm,
    Linear,
    Module,
    Neuron,
    Residual,
    RMSNorm,
    RNNCell,
    Sequential,
)
from autograd_lite.optim import SGD, Adam
from tests.oracles import assert_close, require_torch

torch = require_torch()


def as_floats(result) -> list[float]:
    """Our output (a Value or a list of Values) as a flat list of floats."""
    items = result if isinstance(result, list) else [result]
    return [v.data for v in items]


def torch_floats(tensor) -> list[float]:
    """A torch output for one sample as a flat list of floats."""
    return tensor.detach().reshape(-1).tolist()


def assert_all_close(mine: list[float], theirs: list[float]) -> None:
    """Same length and every entry within 1e-12."""
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert_close(a, b, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    x=st.lists(st.floats(-5, 5), min_size=3, max_size=3),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu", "linear"]),
    output_activation=st.sampled_from(["linear", "sigmoid"]),
)
def test_mlp_converts_to_a_torch_model_with_the_same_outputs(
    seed: int, x: list[float], activation: str, output_activation: str
) -> None:
    """to_torch(MLP) computes the same outputs (1e-12) on random inputs and weights."""
    model = MLP(3, [6, 4, 2], activation, output_activation, init="he", seed=seed)
    converted = to_torch(model)
    assert next(converted.parameters()).dtype == torch.float64
    expected = converted(torch.tensor([x], dtype=torch.float64))
    assert_all_close(as_floats(model(x)), torch_floats(expected))


def test_a_one_output_mlp_gives_a_batch_by_one_tensor() -> None:
    """Our single Value corresponds to torch's (batch, 1) output, row by row."""
    model = MLP(2, [16, 16, 1], seed=0)
    converted = to_torch(model)
    rng = random.Random(0)
    batch = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(8)]
    expected = converted(torch.tensor(batch, dtype=torch.float64))
    assert tuple(expected.shape) == (8, 1)
    assert_all_close([model(x).data for x in batch], torch_floats(expected))


@pytest.mark.parametrize(
    ("make", "x"),
    [
        pytest.param(lambda: Layer(3, 2, "tanh", seed=1), [0.5, -0.5, 2.0], id="layer"),
        pytest.param(lambda: Layer(3, 2, "linear", seed=1), [0.5, -0.5, 2.0], id="linear-layer"),
        pytest.param(
            lambda: Neuron(3, "sigmoid", rng=random.Random(2)), [1.0, 2.0, 3.0], id="neuron"
        ),
        pytest.param(
            lambda: Sequential(
                Layer(2, 4, "relu", seed=3),
                Dropout(0.5, seed=0),
                Residual(Layer(4, 4, "tanh", seed=4)),
                Layer(4, 3, "linear", seed=5),
            ).eval(),
            [0.7, -1.3],
            id="sequential",
        ),
    ],
)
def test_feed_forward_modules_convert_with_the_same_outputs(make, x) -> None:
    """Layers, single neurons and Sequential/Residual/Dropout stacks match to 1e-12."""
    model = make()
    expected = to_torch(model)(torch.tensor([x], dtype=torch.float64))
    assert_all_close(as_floats(model(x)), torch_floats(expected))


def test_rnn_cell_converts_to_torch_rnncell() -> None:
    """to_torch(RNNCell) is a torch.nn.RNNCell with the same step function."""
    cell = RNNCell(3, 4, "relu", seed=0)
    converted = to_torch(cell)
    assert isinstance(converted, torch.nn.RNNCell)
    x, h = [0.5, -1.0, 0.25], [0.1, 0.2, -0.3, 0.4]
    expected = converted(
        torch.tensor([x], dtype=torch.float64), torch.tensor([h], dtype=torch.float64)
    )
    assert_all_close(as_floats(cell(x, h)), torch_floats(expected))


def test_rnn_converts_with_and_without_a_readout() -> None:
    """RNN → torch.nn.RNN (every hidden state); RNN(nout=…) → RNN plus linear readout."""
    rng = random.Random(1)
    sequence = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(5)]
    inputs = torch.tensor([sequence], dtype=torch.float64)

    plain = RNN(2, 3, seed=2)
    output, _ = to_torch(plain)(inputs)
    states = plain(sequence)
    for t, state in enumerate(states):
        assert_all_close(as_floats(state), torch_floats(output[0, t]))

    with_readout = RNN(2, 3, nout=2, seed=3)
    assert_all_close(
        as_floats(with_readout(sequence)), torch_floats(to_torch(with_readout)(inputs))
    )


def test_the_copy_is_independent_and_keeps_the_training_mode() -> None:
    """Changing our weights later does not change the torch copy; eval mode carries over."""
    model = Sequential(Layer(1, 1, "linear", seed=0), Dropout(0.5, seed=0)).eval()
    converted = to_torch(model)
    assert not converted.training and not converted[1].training
    before = converted(torch.tensor([[1.0]], dtype=torch.float64)).item()
    model.layers[0].neurons[0].w[0].data += 1.0
    assert converted(torch.tensor([[1.0]], dtype=torch.float64)).item() == before
    assert to_torch(model.train()).training


def test_unsupported_modules_and_mixed_layers_are_refused() -> None:
    """A custom module raises TypeError listing what is supported; mixed activations ValueError."""

    class Custom(Module):
        pass

    with pytest.raises(TypeError, match="cannot convert Custom; it supports MLP"):
        to_torch(Custom())
    with pytest.raises(TypeError, match="Module, got list"):
        to_torch([Layer(1, 1)])
    layer = Layer(2, 2, seed=0)
    layer.neurons[1].activation = "tanh"
    with pytest.raises(ValueError, match="mixes"):
        to_torch(layer)


def test_missing_torch_gives_an_install_hint(monkeypatch) -> None:
    """Without PyTorch, to_torch raises ImportError saying how to install it."""
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match="pip install torch"):
        to_torch(MLP(1, [1], seed=0))


# --------------------------------------------------------------------------------------
# Transformer blocks
# --------------------------------------------------------------------------------------


def _randomised(module: Module, seed: int) -> Module:
    """``module`` with every parameter moved off its initial value (norm scales start at 1)."""
    rng = random.Random(seed)
    for p in module.parameters():
        p.data += rng.gauss(0.0, 0.5)
    return module


@pytest.mark.parametrize(
    ("make", "expected_type"),
    [
        (lambda: Linear(3, 4, seed=0), "Linear"),
        (lambda: Linear(3, 4, False, "relu", seed=1), "Sequential"),
        (lambda: LayerNorm(3, 1e-3), "LayerNorm"),
        (lambda: LayerNorm(3, bias=False), "LayerNorm"),
        (lambda: LayerNorm(3, elementwise_affine=False), "LayerNorm"),
        (lambda: RMSNorm(3), "RMSNorm"),
        (lambda: RMSNorm(3, 1e-6, elementwise_affine=False), "RMSNorm"),
    ],
)
def test_linear_and_norms_convert_to_their_torch_modules(make, expected_type) -> None:
    """Linear, LayerNorm and RMSNorm become torch.nn modules computing our outputs (1e-12)."""
    module = _randomised(make(), 0)
    converted = to_torch(module)
    assert type(converted).__name__ == expected_type
    x = [0.7, -1.3, 2.2]
    expected = torch_floats(converted(torch.tensor([x], dtype=torch.float64)))
    assert_all_close([getattr(v, "data", v) for v in module(x)], expected)


def test_embedding_converts_to_torch_embedding() -> None:
    """to_torch(Embedding) is an nn.Embedding with the same rows."""
    table = Embedding(6, 3, seed=0)
    converted = to_torch(table)
    assert isinstance(converted, torch.nn.Embedding)
    rows = converted(torch.tensor([5, 0, 5]))
    assert_all_close([v.data for row in table([5, 0, 5]) for v in row], torch_floats(rows))


@pytest.mark.parametrize("bias", [False, True])
def test_causal_self_attention_converts_to_masked_multihead_attention(bias: bool) -> None:
    """CausalSelfAttention becomes nn.MultiheadAttention with a causal mask, same outputs."""
    attention = _randomised(CausalSelfAttention(4, 2, bias=bias, seed=0), 1)
    converted = to_torch(attention)
    assert isinstance(converted.attention, torch.nn.MultiheadAttention)
    rng = random.Random(2)
    xs = [[rng.uniform(-1, 1) for _ in range(4)] for _ in range(5)]
    expected = torch_floats(converted(torch.tensor([xs], dtype=torch.float64)))
    assert_all_close([v.data for y in attention(xs) for v in y], expected)


# --------------------------------------------------------------------------------------
# A whole GPT
# --------------------------------------------------------------------------------------


def _mean_cross_entropy(logits, targets):
    """Our mean next-token loss over the positions."""
    return sum_values([cross_entropy(row, t) for row, t in zip(logits, targets)]) * (
        1.0 / len(targets)
    )


GPTS = {
    "rmsnorm, one layer": lambda: GPT(7, 6, 8, 4, 1, seed=0),
    "layernorm, two layers": lambda: GPT(7, 6, 8, 2, 2, norm="layernorm", seed=1),
    "one head": lambda: GPT(5, 4, 4, 1, 1, seed=2),
}


@pytest.mark.parametrize("name", sorted(GPTS))
def test_a_whole_gpt_converts_with_the_same_logits(name: str) -> None:
    """to_torch(GPT) maps a batch of token ids to logits equal to ours within 1e-12."""
    model = _randomised(GPTS[name](), 3)
    converted = to_torch(model)
    assert isinstance(converted, torch.nn.Module)
    sequences = [[0, 3, 1, 4], [2, 2, 0, 1]]
    logits = converted(torch.tensor(sequences))
    assert tuple(logits.shape) == (2, 4, model.vocab_size)
    assert logits.dtype == torch.float64
    for b, tokens in enumerate(sequences):
        mine = [v.data for row in model(tokens) for v in row]
        assert_all_close(mine, torch_floats(logits[b]))
    unbatched = converted(torch.tensor(sequences[0]))
    assert_all_close(torch_floats(unbatched), torch_floats(logits[0]))


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name", sorted(GPTS))
def test_one_training_step_of_the_exported_gpt_equals_ours(name: str, optimizer: str) -> None:
    """The same loss, gradients and one optimizer step in torch and here give equal weights."""
    model = _randomised(GPTS[name](), 4)
    converted = to_torch(model)
    tokens = [0, 3, 1, 4, 2]
    make_ours = {"SGD": lambda p: SGD(p, lr=0.1, momentum=0.9), "Adam": lambda p: Adam(p, lr=0.01)}
    make_theirs = {
        "SGD": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "Adam": lambda p: torch.optim.Adam(p, lr=0.01),
    }
    ours = make_ours[optimizer](model.parameters())
    loss = _mean_cross_entropy(model(tokens[:-1]), tokens[1:])
    model.zero_grad()
    loss.backward()
    ours.step()

    theirs = make_theirs[optimizer](converted.parameters())
    logits = converted(torch.tensor([tokens[:-1]]))
    torch_loss = torch.nn.functional.cross_entropy(logits[0], torch.tensor(tokens[1:]))
    theirs.zero_grad()
    torch_loss.backward()
    theirs.step()

    assert_close(loss.data, torch_loss.item(), rtol=1e-12, atol=1e-12, what="loss")
    stepped = to_torch(model).state_dict()
    for key, value in converted.state_dict().items():
        assert_all_close(torch_floats(stepped[key]), torch_floats(value))


def test_gpt_export_keeps_the_training_mode_and_is_a_copy() -> None:
    """The export is in our mode and independent of later changes to our weights."""
    model = GPT(5, 4, 4, 1, 1, seed=0)
    converted = to_torch(model.eval())
    assert not converted.training
    before = torch_floats(converted(torch.tensor([1, 2])))
    model.lm_head.weight[0][0].data += 1.0
    assert torch_floats(converted(torch.tensor([1, 2]))) == before
