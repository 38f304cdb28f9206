"""Tests for autograd_lite.nn.rnn: RNNCell and RNN against PyTorch float64 and finite
differences, including backpropagation through time."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.engine import Value, gradients, sum_values
from autograd_lite.nn import RNN, RNNCell
from tests.oracles import assert_close, partial_difference, require_torch

TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


def torch_cell(torch, cell: RNNCell, module_type=None, suffix: str = ""):
    """A torch RNNCell (or RNN) holding ``cell``'s weights, copied here by hand."""
    module_type = module_type or torch.nn.RNNCell
    kwargs = {"batch_first": True} if module_type is torch.nn.RNN else {}
    twin = module_type(
        cell.nin, cell.nhidden, nonlinearity=cell.nonlinearity, dtype=torch.float64, **kwargs
    )
    with torch.no_grad():
        getattr(twin, "weight_ih" + suffix).copy_(
            torch.tensor([[w.data for w in row] for row in cell.weight_ih], dtype=torch.float64)
        )
        getattr(twin, "weight_hh" + suffix).copy_(
            torch.tensor([[w.data for w in row] for row in cell.weight_hh], dtype=torch.float64)
        )
        getattr(twin, "bias_ih" + suffix).copy_(
            torch.tensor([b.data for b in cell.bias_ih], dtype=torch.float64)
        )
        getattr(twin, "bias_hh" + suffix).copy_(
            torch.tensor([b.data for b in cell.bias_hh], dtype=torch.float64)
        )
    return twin


def assert_cell_grads_match(torch, cell: RNNCell, twin, suffix: str = "") -> None:
    """Every parameter gradient of ``cell`` equals the torch twin's."""
    for name in ("weight_ih", "weight_hh"):
        expected = getattr(twin, name + suffix).grad
        for i, row in enumerate(getattr(cell, name)):
            for j, w in enumerate(row):
                assert_close(w.grad, expected[i, j].item(), what=f"{name}[{i},{j}]", **TOLERANCE)
    for name in ("bias_ih", "bias_hh"):
        expected = getattr(twin, name + suffix).grad
        for i, b in enumerate(getattr(cell, name)):
            assert_close(b.grad, expected[i].item(), what=f"{name}[{i}]", **TOLERANCE)


def random_sequence(rng: random.Random, steps: int, nin: int) -> list[list[float]]:
    """``steps`` input vectors of ``nin`` floats in [-2, 2]."""
    return [[rng.uniform(-2, 2) for _ in range(nin)] for _ in range(steps)]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_bptt_through_a_cell_matches_torch_rnncell(seed: int, nonlinearity: str) -> None:
    """Six steps of RNNCell: every hidden state, and gradients of a loss over all steps
    with respect to weights, biases and every input, equal torch.nn.RNNCell's (1e-10)."""
    torch = require_torch()
    rng = random.Random(seed)
    cell = RNNCell(3, 4, nonlinearity, seed=seed)
    sequence = random_sequence(rng, 6, 3)
    inputs = [[Value(v) for v in step] for step in sequence]
    coefficients = [rng.uniform(-1, 1) for _ in range(4)]

    h = None
    states = []
    for x in inputs:
        h = cell(x, h)
        states.append(h)
    loss = sum_values(c * v for state in states for c, v in zip(coefficients, state))
    loss.backward()

    twin = torch_cell(torch, cell)
    xs = torch.tensor(sequence, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(coefficients, dtype=torch.float64)
    h_t = torch.zeros(1, 4, dtype=torch.float64)
    expected_loss = 0.0
    for t in range(6):
        h_t = twin(xs[t : t + 1], h_t)
        for mine, theirs in zip(states[t], h_t[0]):
            assert_close(mine.data, theirs.item(), **TOLERANCE)
        expected_loss = expected_loss + (h_t[0] * c).sum()
    expected_loss.backward()

    assert_cell_grads_match(torch, cell, twin)
    for t, step in enumerate(inputs):
        for j, v in enumerate(step):
            assert_close(v.grad, xs.grad[t, j].item(), what=f"x[{t}][{j}]", **TOLERANCE)


def test_rnn_hidden_states_and_gradients_match_torch_rnn() -> None:
    """RNN returns every hidden state as torch.nn.RNN's output; BPTT gradients agree."""
    torch = require_torch()
    rnn = RNN(2, 5, seed=3)
    sequence = random_sequence(random.Random(0), 7, 2)
    h0 = [0.1, -0.2, 0.3, 0.0, 0.5]
    states = rnn(sequence, h0)
    assert len(states) == 7 and all(len(h) == 5 for h in states)
    (sum_values(states[-1]) + 0.5 * sum_values(states[2])).backward()

    twin = torch_cell(torch, rnn.cell, torch.nn.RNN, "_l0")
    output, _ = twin(
        torch.tensor([sequence], dtype=torch.float64),
        torch.tensor([[h0]], dtype=torch.float64),
    )
    (output[0, -1].sum() + 0.5 * output[0, 2].sum()).backward()
    for t, state in enumerate(states):
        for mine, theirs in zip(state, output[0, t]):
            assert_close(mine.data, theirs.item(), **TOLERANCE)
    assert_cell_grads_match(torch, rnn.cell, twin, "_l0")


def test_rnn_readout_matches_torch_and_returns_a_value_for_one_output() -> None:
    """With nout=1 the RNN returns readout(last state), equal to torch's RNN + linear."""
    torch = require_torch()
    rnn = RNN(1, 3, nout=1, seed=4)
    sequence = [0.5, -1.0, 0.25, 2.0]  # nin == 1: plain numbers are steps
    out = rnn(sequence)
    assert isinstance(out, Value)
    out.backward()

    twin = torch_cell(torch, rnn.cell, torch.nn.RNN, "_l0")
    neuron = rnn.readout.neurons[0]
    w = torch.tensor([v.data for v in neuron.w], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(neuron.b.data, dtype=torch.float64, requires_grad=True)
    output, _ = twin(torch.tensor([[[v] for v in sequence]], dtype=torch.float64))
    expected = output[0, -1] @ w + b
    expected.backward()
    assert_close(out.data, expected.item(), **TOLERANCE)
    for mine, theirs in zip(neuron.w, w.grad):
        assert_close(mine.grad, theirs.item(), **TOLERANCE)
    assert_cell_grads_match(torch, rnn.cell, twin, "_l0")


def test_rnn_gradients_match_central_differences() -> None:
    """d(readout)/d(parameter) equals a float64 central difference for every parameter."""
    rnn = RNN(1, 2, nout=1, seed=8)
    sequence = [0.3, -0.6, 0.9, 0.1]
    params = rnn.parameters()
    analytic = gradients(rnn(sequence), params)

    def output_at(*values: float) -> float:
        for p, v in zip(params, values):
            p.data = v
        return rnn(sequence).data

    point = [p.data for p in params]
    for index, grad in enumerate(analytic):
        numeric = partial_difference(output_at, point, index)
        assert_close(grad, numeric, rtol=1e-8, atol=1e-9, what=f"parameter {index}")


def test_gradient_reaches_the_first_input_through_time() -> None:
    """d(last hidden state)/d(first input) is non-zero: BPTT spans the whole sequence."""
    cell = RNNCell(1, 3, seed=0)
    first = Value(1.0)
    h = cell([first])
    for v in (0.5, -0.5, 0.25):
        h = cell(v, h)
    (grad,) = gradients(sum_values(h), [first])
    assert grad != 0.0


def test_parameters_are_named_like_pytorchs() -> None:
    """named_parameters uses weight_ih.i.j, weight_hh.i.j, bias_ih.i, bias_hh.i."""
    names = [name for name, _ in RNNCell(2, 3, seed=0).named_parameters()]
    assert names[:2] == ["weight_ih.0.0", "weight_ih.0.1"]
    assert "weight_hh.2.1" in names and "bias_ih.2" in names and names[-1] == "bias_hh.2"
    assert len(names) == 3 * 2 + 3 * 3 + 3 + 3
    rnn_names = [name for name, _ in RNN(2, 3, nout=2, seed=0).named_parameters()]
    assert rnn_names[0] == "cell.weight_ih.0.0"
    assert rnn_names[-1] == "readout.neurons.1.b"


def test_initial_weights_follow_pytorchs_bound_and_are_seeded() -> None:
    """All parameters start in ±1/sqrt(nhidden); the same seed gives the same cell."""
    cell = RNNCell(4, 16, seed=1)
    bound = 1.0 / math.sqrt(16)
    values = [p.data for p in cell.parameters()]
    assert all(-bound <= v <= bound for v in values)
    assert max(abs(v) for v in values) > 0.9 * bound
    assert RNNCell(4, 16, seed=1).state_dict() == cell.state_dict()
    assert RNN(2, 3, nout=1, seed=5).state_dict() == RNN(2, 3, nout=1, seed=5).state_dict()


def test_reprs_show_sizes_and_nonlinearity() -> None:
    """Reprs read RNNCell(3 → 8, tanh) and RNN(3 → 8 → 1, relu)."""
    assert repr(RNNCell(3, 8, seed=0)) == "RNNCell(3 → 8, tanh)"
    assert repr(RNN(3, 8, "relu", nout=1, seed=0)) == "RNN(3 → 8 → 1, relu)"
    assert repr(RNN(3, 8, seed=0)) == "RNN(3 → 8, tanh)"


def test_bad_arguments_and_inputs_raise_clear_errors() -> None:
    """Unknown nonlinearity, wrong input or state length, empty sequences are reported."""
    with pytest.raises(ValueError, match="'tanh', 'relu'"):
        RNNCell(2, 3, "sigmoid")
    with pytest.raises(ValueError, match="nhidden"):
        RNNCell(2, 0)
    cell = RNNCell(2, 3, seed=0)
    with pytest.raises(ValueError, match="the input of length 2, got 3"):
        cell([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="the hidden state of length 3, got 2"):
        cell([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(TypeError, match="list of 2"):
        cell(1.0)
    with pytest.raises(ValueError, match="at least one step"):
        RNN(1, 2, nout=1, seed=0)([])
    with pytest.raises(TypeError, match="sequence"):
        RNN(1, 2, seed=0)(3.0)
    assert RNN(1, 2, seed=0)([]) == []
