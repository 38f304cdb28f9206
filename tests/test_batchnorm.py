"""Tests for autograd_lite.nn.BatchNorm1d against torch.nn.BatchNorm1d in float64."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite import Value, sum_values
from autograd_lite.nn import BatchNorm1d, Layer, Sequential
from autograd_lite.serialization import load, save
from tests.oracles import assert_close, require_torch
from tests.strategies import coordinates, sample_batches

torch = require_torch()

TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


def torch_twin(norm: BatchNorm1d):
    """A torch.nn.BatchNorm1d built from the constructor arguments and state of ``norm``."""
    twin = torch.nn.BatchNorm1d(
        norm.num_features,
        eps=norm.eps,
        momentum=norm.momentum,
        affine=norm.affine,
        dtype=torch.float64,
    )
    with torch.no_grad():
        if norm.affine:
            twin.weight.copy_(torch.tensor([w.data for w in norm.weight], dtype=torch.float64))
            twin.bias.copy_(torch.tensor([b.data for b in norm.bias], dtype=torch.float64))
        twin.running_mean.copy_(torch.tensor(norm.running_mean, dtype=torch.float64))
        twin.running_var.copy_(torch.tensor(norm.running_var, dtype=torch.float64))
        twin.num_batches_tracked.fill_(norm.num_batches_tracked)
    return twin.train(norm.training)


def run_both(norm: BatchNorm1d, twin, batch: list[list[float]], upstream: list[list[float]]):
    """Forward and backward of sum(upstream * output) through ours and torch's."""
    leaves = [[Value(v) for v in sample] for sample in batch]
    outputs = norm(leaves)
    loss = sum_values(
        [g * o for g_row, o_row in zip(upstream, outputs) for g, o in zip(g_row, o_row)]
    )
    loss.backward()
    x = torch.tensor(batch, dtype=torch.float64, requires_grad=True)
    y = twin(x)
    (y * torch.tensor(upstream, dtype=torch.float64)).sum().backward()
    return leaves, outputs, x, y


def assert_match(norm: BatchNorm1d, twin, leaves, outputs, x, y) -> None:
    """Outputs, input gradients, parameter gradients and running statistics all agree."""
    for i, row in enumerate(outputs):
        for j, out in enumerate(row):
            assert_close(out.data, y[i, j].item(), **TOLERANCE, what=f"output[{i}][{j}]")
            assert_close(
                leaves[i][j].grad, x.grad[i, j].item(), **TOLERANCE, what=f"d/dx[{i}][{j}]"
            )
    if norm.affine:
        for j in range(norm.num_features):
            assert_close(
                norm.weight[j].grad, twin.weight.grad[j].item(), **TOLERANCE, what=f"d/dw[{j}]"
            )
            assert_close(
                norm.bias[j].grad, twin.bias.grad[j].item(), **TOLERANCE, what=f"d/db[{j}]"
            )
    for j in range(norm.num_features):
        assert_close(
            norm.running_mean[j], twin.running_mean[j].item(), **TOLERANCE, what="running_mean"
        )
        assert_close(
            norm.running_var[j], twin.running_var[j].item(), **TOLERANCE, what="running_var"
        )
    assert norm.num_batches_tracked == twin.num_batches_tracked.item()


def randomise_affine(norm: BatchNorm1d, rng: random.Random) -> None:
    if norm.affine:
        for w, b in zip(norm.weight, norm.bias):
            w.data, b.data = rng.uniform(-2, 2), rng.uniform(-2, 2)


@settings(max_examples=60, deadline=None)
@given(
    first=sample_batches(),
    seed=st.integers(0, 2**16),
    momentum=st.sampled_from([0.1, 0.5, 1.0, 0.0, None]),
    affine=st.booleans(),
    eps=st.sampled_from([1e-5, 1e-3, 0.5]),
)
def test_training_mode_matches_torch_over_two_batches(first, seed, momentum, affine, eps) -> None:
    """Training mode: outputs, gradients through the batch statistics and running stats match."""
    rng = random.Random(seed)
    width = len(first[0])
    norm = BatchNorm1d(width, eps=eps, momentum=momentum, affine=affine)
    randomise_affine(norm, rng)
    twin = torch_twin(norm)
    second = [[rng.uniform(-3, 3) for _ in range(width)] for _ in range(rng.randint(2, 5))]
    for batch in (first, second):  # the second batch checks how running stats accumulate
        norm.zero_grad()
        twin.zero_grad()
        upstream = [[rng.uniform(-1, 1) for _ in range(width)] for _ in batch]
        assert_match(norm, twin, *run_both(norm, twin, batch, upstream))


@settings(max_examples=60, deadline=None)
@given(batch=sample_batches(min_samples=1), seed=st.integers(0, 2**16), affine=st.booleans())
def test_eval_mode_uses_running_statistics_like_torch(batch, seed, affine) -> None:
    """Eval mode: running statistics normalise each sample; values and gradients match torch."""
    rng = random.Random(seed)
    width = len(batch[0])
    norm = BatchNorm1d(width, affine=affine)
    randomise_affine(norm, rng)
    norm.running_mean = [rng.uniform(-2, 2) for _ in range(width)]
    norm.running_var = [rng.uniform(0.01, 4) for _ in range(width)]
    norm.eval()
    twin = torch_twin(norm)
    upstream = [[rng.uniform(-1, 1) for _ in range(width)] for _ in batch]
    assert_match(norm, twin, *run_both(norm, twin, batch, upstream))


@given(sample=st.lists(coordinates(), min_size=1, max_size=4))
def test_eval_mode_takes_a_single_sample_like_a_batch_of_one(sample) -> None:
    """In eval mode one sample (a list of numbers) gives what a batch holding it gives."""
    norm = BatchNorm1d(len(sample))
    norm.running_mean = [0.5] * len(sample)
    norm.running_var = [2.0] * len(sample)
    norm.eval()
    single = norm(sample)
    (batched,) = norm([sample])
    assert [v.data for v in single] == [v.data for v in batched]


def test_a_batch_of_one_in_training_mode_is_an_error_as_in_torch() -> None:
    """A batch of one sample (variance 0) raises ValueError in training mode, as torch does."""
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(2, dtype=torch.float64)(torch.ones(1, 2, dtype=torch.float64))
    norm = BatchNorm1d(2)
    with pytest.raises(ValueError, match=r"more than 1 sample.*batch of 1"):
        norm([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"single sample.*eval"):
        norm([1.0, 2.0])
    assert norm.num_batches_tracked == 0 and norm.running_mean == [0.0, 0.0]


def test_parameters_are_weight_and_bias_and_buffers_are_saved_state() -> None:
    """weight/bias are the only parameters; running stats and the count are in the state."""
    norm = BatchNorm1d(3)
    assert [name for name, _ in norm.named_parameters()] == [
        *(f"weight.{j}" for j in range(3)),
        *(f"bias.{j}" for j in range(3)),
    ]
    assert BatchNorm1d(3, affine=False).parameters() == []
    norm([[1.0, 2.0, 3.0], [3.0, 5.0, 9.0]])
    state = norm.state_dict()
    assert state["running_mean.2"] == pytest.approx(0.1 * 6.0)
    assert state["running_var.0"] == pytest.approx(0.9 + 0.1 * 2.0)  # unbiased: 2, not 1
    assert state["num_batches_tracked"] == 1


def test_save_and_load_keep_running_statistics_inside_a_sequential(tmp_path) -> None:
    """A saved Sequential with a BatchNorm1d reloads with its statistics; eval outputs agree."""
    model = Sequential(Layer(2, 3, "linear", seed=1), BatchNorm1d(3, momentum=0.3), Layer(3, 1))
    norm = model[1]
    rng = random.Random(2)
    for _ in range(3):
        hidden = [model[0]([rng.gauss(0, 1), rng.gauss(0, 1)]) for _ in range(4)]
        norm(hidden)
    model.eval()
    loaded = load(save(model, tmp_path / "bn.json"))
    assert loaded.state_dict() == model.state_dict()
    assert isinstance(loaded[1].num_batches_tracked, int)
    assert loaded[1].num_batches_tracked == 3
    assert loaded[1].momentum == 0.3
    loaded.eval()
    for x in ([0.3, -1.0], [2.0, 0.5]):
        assert loaded(x)[0].data == model(x)[0].data


def test_loading_a_fractional_batch_count_is_refused() -> None:
    """num_batches_tracked must load as a whole number; nothing is changed on refusal."""
    norm = BatchNorm1d(1)
    state = norm.state_dict() | {"num_batches_tracked": 1.5, "running_mean.0": 7.0}
    with pytest.raises(ValueError, match="num_batches_tracked"):
        norm.load_state_dict(state)
    assert norm.running_mean == [0.0]


def test_to_torch_exports_weights_and_running_statistics() -> None:
    """to_torch gives a torch.nn.BatchNorm1d in float64 with our weights, stats and count."""
    from autograd_lite.interop import to_torch

    norm = BatchNorm1d(2, eps=1e-3, momentum=0.2)
    randomise_affine(norm, random.Random(5))
    norm([[1.0, 2.0], [0.0, -1.0], [4.0, 0.5]])
    exported = to_torch(norm)
    assert isinstance(exported, torch.nn.BatchNorm1d) and exported.training
    assert exported.running_mean.tolist() == norm.running_mean
    assert exported.running_var.tolist() == norm.running_var
    assert exported.num_batches_tracked.item() == 1
    assert exported.momentum == 0.2 and exported.eps == 1e-3
    norm.eval()
    exported = to_torch(norm)
    batch = [[0.5, 1.5], [-2.0, 3.0]]
    with torch.no_grad():
        theirs = exported(torch.tensor(batch, dtype=torch.float64)).tolist()
    for ours_row, their_row in zip(norm(batch), theirs):
        for ours, their in zip(ours_row, their_row):
            assert_close(ours.data, their, **TOLERANCE, what="exported output")


@pytest.mark.training
def test_compiles_in_eval_mode_and_refuses_training_mode_and_stale_statistics() -> None:
    """compile_loss replays eval mode exactly; training mode and changed stats are refused."""
    from autograd_lite.compile import compile_loss
    from autograd_lite.losses import mse

    model = Sequential(Layer(2, 3, "tanh", seed=3), BatchNorm1d(3), Layer(3, 1, seed=4))
    model[1].running_mean = [0.1, -0.2, 0.3]
    model[1].running_var = [0.5, 2.0, 1.5]
    X = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]]
    y = [0.5, -0.5, 1.0]
    with pytest.raises(ValueError, match=r"BatchNorm1d.*training mode.*eval\(\)"):
        compile_loss(model, lambda out, t: mse(out[0], t), X[0], y[0])
    model.eval()
    step = compile_loss(model, lambda out, t: mse(out[0], t), X[0], y[0])
    model.zero_grad()
    compiled = step.backward(X, y)
    compiled_grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    interpreted = sum_values([mse(model(x)[0], t) for x, t in zip(X, y)]) / len(X)
    interpreted.backward()
    assert_close(compiled, interpreted.data, what="mean loss")
    for got, expected in zip(compiled_grads, [p.grad for p in model.parameters()]):
        assert_close(got, expected, what="gradient")
    model[1].running_mean[0] = 0.7
    with pytest.raises(ValueError, match=r"running statistics\) changed.*compile_loss again"):
        step.backward(X, y)
    model[1].running_mean[0] = 0.1
    model.train()
    with pytest.raises(ValueError, match=r"BatchNorm1d.*training mode"):
        step.backward(X, y)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"num_features": 0}, ValueError, "positive"),
        ({"num_features": 2.0}, TypeError, "int, got float"),
        ({"num_features": True}, TypeError, "int, got bool"),
        ({"num_features": 2, "eps": 0.0}, ValueError, "eps"),
        ({"num_features": 2, "eps": "1e-5"}, TypeError, "eps must be a number, got str"),
        ({"num_features": 2, "momentum": 1.5}, ValueError, r"momentum must be in \[0, 1\]"),
        ({"num_features": 2, "momentum": "0.1"}, TypeError, "momentum"),
        ({"num_features": 2, "affine": 1}, TypeError, "affine must be a bool, got int"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, error, pattern) -> None:
    """Bad sizes, eps, momentum or affine flags raise TypeError/ValueError naming them."""
    with pytest.raises(error, match=pattern):
        BatchNorm1d(**kwargs)


def test_bad_batches_are_refused_with_clear_errors() -> None:
    """Empty batches, wrong widths, non-lists and strings are refused, naming the problem."""
    norm = BatchNorm1d(2)
    with pytest.raises(ValueError, match="empty"):
        norm([])
    with pytest.raises(ValueError, match="sample 1 has 3 features, expected 2"):
        norm([[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="got float"):
        norm(1.0)
    with pytest.raises(TypeError, match="sample 1 must be a list"):
        norm([[1.0, 2.0], 3.0])
    with pytest.raises(TypeError, match="str"):
        norm([[1.0, "2"], [1.0, 2.0]])


@pytest.mark.parametrize("exponent", [520, 600, 900, 1000])
def test_training_mode_at_extreme_scales_matches_torch_at_an_ordinary_scale(exponent) -> None:
    """A batch times 2^k (1e156..1e301) is normalised as torch normalises the batch itself
    (eps negligible at that scale), and its gradients are torch's times 2^-k: no overflow."""
    rng = random.Random(exponent)
    batch = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(4)]
    norm = BatchNorm1d(3, eps=1e-300)
    randomise_affine(norm, rng)
    leaves = [[Value(math.ldexp(v, exponent)) for v in sample] for sample in batch]
    upstream = [[rng.uniform(-1, 1) for _ in range(3)] for _ in batch]
    outputs = norm(leaves)
    sum_values([g * o for gs, os in zip(upstream, outputs) for g, o in zip(gs, os)]).backward()

    x = torch.tensor(batch, dtype=torch.float64, requires_grad=True)
    weight = torch.tensor([w.data for w in norm.weight], dtype=torch.float64)
    bias = torch.tensor([b.data for b in norm.bias], dtype=torch.float64)
    y = torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, eps=1e-300)
    (y * torch.tensor(upstream, dtype=torch.float64)).sum().backward()
    for i in range(4):
        for j in range(3):
            assert_close(outputs[i][j].data, y[i, j].item(), **TOLERANCE, what="output")
            assert_close(
                math.ldexp(leaves[i][j].grad, exponent),
                x.grad[i, j].item(),
                **TOLERANCE,
                what="d/dx",
            )
    for j in range(3):  # running mean: 0.9 * 0 + 0.1 * the batch mean, at the batch's scale
        mean = math.fsum(math.ldexp(sample[j], exponent) for sample in batch) / 4
        assert_close(norm.running_mean[j], 0.1 * mean, rtol=1e-12, atol=0.0, what="mean")


@pytest.mark.parametrize(
    ("entry", "value", "message"),
    [
        ("running_var.1", -1.0, "running_var.1 .*a variance, >= 0"),
        ("running_var.0", -1e-5, "running_var.0 .*a variance, >= 0"),
        ("running_var.0", -1e-300, "running_var.0 .*a variance, >= 0"),
        ("running_var.0", math.inf, "running_var.0 .*finite"),
        ("running_var.0", math.nan, "running_var.0 .*finite"),
        ("running_mean.1", math.inf, "running_mean.1 .*finite"),
        ("running_mean.0", math.nan, "running_mean.0 .*finite"),
        ("num_batches_tracked", -1, "num_batches_tracked .*>= 0"),
        ("num_batches_tracked", -5.0, "num_batches_tracked .*>= 0"),
        ("num_batches_tracked", 2.0**60, "num_batches_tracked .*at most 2\\^53"),
    ],
)
def test_loading_impossible_running_statistics_is_refused(entry, value, message) -> None:
    """A negative or non-finite variance, a non-finite mean or a negative batch count is a
    ValueError naming the entry, and nothing is changed."""
    norm = BatchNorm1d(2, momentum=None)
    before = norm.state_dict()
    with pytest.raises(ValueError, match=message):
        norm.load_state_dict(before | {entry: value, "weight.0": 3.0})
    assert norm.state_dict() == before


def test_loaded_statistics_at_the_edges_of_their_domain_work_in_both_modes() -> None:
    """running_var 0, a count of 0 and 2^53 load, and both modes then compute numbers."""
    norm = BatchNorm1d(2, momentum=None)
    norm.load_state_dict(norm.state_dict() | {"running_var.0": 0.0, "num_batches_tracked": 0})
    assert all(math.isfinite(v.data) for v in norm.eval()([1.0, 2.0]))
    norm.train()([[1.0, 2.0], [3.0, 5.0]])
    assert norm.num_batches_tracked == 1 and norm.running_mean == [2.0, 3.5]
    norm.load_state_dict(norm.state_dict() | {"num_batches_tracked": 2.0**53})
    norm([[1.0, 2.0], [3.0, 5.0]])
    assert norm.num_batches_tracked == 2**53 + 1
