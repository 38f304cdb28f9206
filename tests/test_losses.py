"""Tests for autograd_lite.losses: values and gradients against PyTorch float64
(including logits of ±1000), micrograd's own hinge expression, and clear errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.engine import Value
from autograd_lite.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    l2_penalty,
    mse,
    multiclass_hinge,
)
from tests.optional import need
from tests.oracles import assert_close, require_torch

EXTREME_LOGITS = [-1000.0, -50.0, -1.0, 0.0, 1e-8, 2.5, 50.0, 1000.0]
logit_values = st.one_of(st.sampled_from(EXTREME_LOGITS), st.floats(-1000, 1000))


def torch_grads(torch, values: list[float], loss_of):
    """(loss, gradient list) of torch's loss on a float64 leaf tensor of ``values``."""
    leaf = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    loss = loss_of(leaf)
    loss.backward()
    return loss.item(), leaf.grad.tolist()


def ours(values: list[float], loss_of) -> tuple[float, list[float]]:
    """(loss, gradient list) of our loss on fresh leaves holding ``values``."""
    leaves = [Value(v) for v in values]
    loss = loss_of(leaves)
    loss.backward()
    return loss.data, [leaf.grad for leaf in leaves]


def assert_matches(mine, theirs, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    """Loss and every gradient entry agree within tolerance, and all are finite."""
    (loss, grads), (expected_loss, expected_grads) = mine, theirs
    assert math.isfinite(loss) and all(math.isfinite(g) for g in grads)
    assert_close(loss, expected_loss, rtol=rtol, atol=atol, what="loss")
    for index, (g, e) in enumerate(zip(grads, expected_grads)):
        assert_close(g, e, rtol=rtol, atol=atol, what=f"gradient {index}")


# --------------------------------------------------------------------------------------
# mse
# --------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=5))
def test_mse_matches_torch_mean_squared_error(pairs: list[tuple[float, float]]) -> None:
    """mse(pred, target) and its gradient equal torch's mse_loss (mean over entries)."""
    torch = require_torch()
    preds = [p for p, _ in pairs]
    targets = [t for _, t in pairs]
    target_t = torch.tensor(targets, dtype=torch.float64)
    expected = torch_grads(torch, preds, lambda x: torch.nn.functional.mse_loss(x, target_t))
    if len(preds) == 1:
        assert_matches(ours(preds, lambda v: mse(v[0], targets[0])), expected, atol=1e-9)
    assert_matches(ours(preds, lambda v: mse(v, targets)), expected, atol=1e-9)


def test_mse_accepts_a_one_element_list_against_a_scalar_and_value_targets() -> None:
    """A one-neuron Layer's [Value] works with a number target; a Value target gets grads."""
    pred, target = Value(3.0), Value(1.0)
    loss = mse([pred], target)
    loss.backward()
    assert loss.data == 4.0 and pred.grad == 4.0 and target.grad == -4.0


def test_mse_refuses_mismatched_lengths_and_bad_types() -> None:
    """Different lengths raise ValueError; a string raises TypeError naming str."""
    with pytest.raises(ValueError, match="2 entries but target has 3"):
        mse([Value(1.0), Value(2.0)], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="str"):
        mse(Value(1.0), "1.0")
    with pytest.raises(ValueError, match="empty"):
        mse([], [])


# --------------------------------------------------------------------------------------
# binary cross-entropy with logits
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(logit=logit_values, target=st.sampled_from([0, 1, 0.0, 1.0, 0.25, 0.9]))
def test_bce_with_logits_matches_torch_even_for_huge_logits(logit: float, target) -> None:
    """Loss and gradient equal torch's binary_cross_entropy_with_logits, finite at ±1000."""
    torch = require_torch()
    target_t = torch.tensor([float(target)], dtype=torch.float64)
    expected = torch_grads(
        torch,
        [logit],
        lambda z: torch.nn.functional.binary_cross_entropy_with_logits(z, target_t),
    )
    mine = ours([logit], lambda v: binary_cross_entropy_with_logits(v[0], target))
    assert_matches(mine, expected, rtol=1e-12, atol=1e-12)


def test_bce_at_extreme_logits_is_exact() -> None:
    """A confident right answer costs 0 and a confident wrong one costs |logit|."""
    assert binary_cross_entropy_with_logits(Value(1000.0), 1).data == 0.0
    assert binary_cross_entropy_with_logits(Value(-1000.0), 1).data == 1000.0
    assert binary_cross_entropy_with_logits(Value(1000.0), 0).data == 1000.0


@pytest.mark.parametrize(
    ("target", "error"), [(2, ValueError), (-0.5, ValueError), ("1", TypeError)]
)
def test_bce_refuses_targets_outside_zero_one(target, error) -> None:
    """Targets must be numbers in [0, 1]; the error names the problem."""
    with pytest.raises(error, match="target"):
        binary_cross_entropy_with_logits(Value(0.0), target)


def test_bce_refuses_a_value_target() -> None:
    """A Value label raises TypeError (labels carry no gradient; pass .data)."""
    with pytest.raises(TypeError, match="Value"):
        binary_cross_entropy_with_logits(Value(0.0), Value(1.0))


# --------------------------------------------------------------------------------------
# cross-entropy
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(logit_values, min_size=1, max_size=6), st.data())
def test_cross_entropy_matches_torch_even_for_huge_logits(logits: list[float], data) -> None:
    """logsumexp(z) - z[y] and softmax(z) - onehot(y) equal torch's cross_entropy."""
    torch = require_torch()
    target = data.draw(st.integers(0, len(logits) - 1))
    expected = torch_grads(
        torch,
        logits,
        lambda z: torch.nn.functional.cross_entropy(z[None], torch.tensor([target])),
    )
    mine = ours(logits, lambda v: cross_entropy(v, target))
    assert_matches(mine, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("target", [3, -1, 10])
def test_cross_entropy_refuses_an_out_of_range_class(target: int) -> None:
    """A class index outside 0..n-1 raises ValueError naming the index and the range."""
    with pytest.raises(ValueError, match=f"class index {target} is out of range for 3 classes"):
        cross_entropy([Value(0.0), Value(1.0), Value(2.0)], target)


def test_cross_entropy_refuses_non_integer_targets_and_scalar_logits() -> None:
    """A float or bool class index, or logits that are not a list, raise TypeError."""
    logits = [Value(0.0), Value(1.0)]
    with pytest.raises(TypeError, match=r"int class index, got float 1\.0; convert it with int"):
        cross_entropy(logits, 1.0)
    with pytest.raises(TypeError, match="bool"):
        cross_entropy(logits, True)
    with pytest.raises(TypeError, match="list of Values"):
        cross_entropy(Value(1.0), 0)


def test_cross_entropy_accepts_numpy_integer_labels() -> None:
    """Labels that come out of a NumPy array (numpy.int64) are valid class indices."""
    np = need("numpy")
    loss = cross_entropy([Value(0.0), Value(0.0)], np.int64(1))
    assert_close(loss.data, math.log(2.0))


# --------------------------------------------------------------------------------------
# hinge losses
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", [-2.5, -1.0, 0.0, 0.3, 1.0, 4.0])
@pytest.mark.parametrize("target", [-1, 1, -1.0, 1.0])
def test_hinge_equals_micrograds_demo_expression(score: float, target) -> None:
    """hinge(s, y) and its gradient equal micrograd's (1 + -y*s).relu() on its own Values."""
    micrograd_engine = need("micrograd.engine")
    theirs_score = micrograd_engine.Value(score)
    theirs = (1 + -target * theirs_score).relu()
    theirs.backward()
    mine = ours([score], lambda v: hinge(v[0], target))
    assert mine[0] == theirs.data
    assert mine[1][0] == theirs_score.grad


def test_hinge_refuses_zero_one_labels_with_a_hint() -> None:
    """A 0 label raises ValueError suggesting 2*y - 1."""
    with pytest.raises(ValueError, match=r"-1 or \+1, got 0; map 0/1 labels with 2\*y - 1"):
        hinge(Value(0.5), 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=2, max_size=6), st.data())
def test_multiclass_hinge_matches_torch_multi_margin_loss(scores: list[float], data) -> None:
    """multiclass_hinge equals torch's multi_margin_loss (margin 1, p 1) and its gradient."""
    torch = require_torch()
    target = data.draw(st.integers(0, len(scores) - 1))
    # Keep away from the kinks, where the two libraries may pick different subgradients.
    margins = [1.0 - scores[target] + s for i, s in enumerate(scores) if i != target]
    if any(abs(m) < 1e-9 for m in margins):
        return
    expected = torch_grads(
        torch,
        scores,
        lambda s: torch.nn.functional.multi_margin_loss(s[None], torch.tensor([target])),
    )
    assert_matches(ours(scores, lambda v: multiclass_hinge(v, target)), expected)


def test_multiclass_hinge_needs_two_classes_and_a_valid_index() -> None:
    """One score, or a target index out of range, raises ValueError."""
    with pytest.raises(ValueError, match="at least 2 classes"):
        multiclass_hinge([Value(1.0)], 0)
    with pytest.raises(ValueError, match="class index 2 is out of range for 2 classes"):
        multiclass_hinge([Value(1.0), Value(2.0)], 2)


# --------------------------------------------------------------------------------------
# l2 penalty
# --------------------------------------------------------------------------------------


def test_l2_penalty_matches_torch_and_is_one_dot_node() -> None:
    """alpha * sum(p^2) and its gradient 2 alpha p equal torch's; the sum is one dot node."""
    torch = require_torch()
    values = [0.5, -1.25, 3.0, 0.0, -0.001]
    expected = torch_grads(torch, values, lambda p: 1e-3 * (p * p).sum())
    assert_matches(ours(values, lambda v: l2_penalty(v, 1e-3)), expected)
    penalty = l2_penalty([Value(v) for v in values], 1e-3)
    assert penalty.op == "mul"
    (summed,) = [p for p in penalty.parents if p.op == "dot"]
    assert len(summed.parents) == 2 * len(values)


def test_l2_penalty_of_no_parameters_is_a_zero_constant() -> None:
    """An empty parameter list gives a constant 0 that adds to a loss without error."""
    penalty = l2_penalty([], 0.1)
    assert penalty.data == 0.0 and not penalty.requires_grad
    loss = Value(2.0) * 3 + penalty
    loss.backward()
    assert loss.data == 6.0


@pytest.mark.parametrize(
    ("params", "alpha", "error", "message"),
    [
        ([Value(1.0)], -0.1, ValueError, ">= 0"),
        ([Value(1.0)], math.nan, ValueError, "finite"),
        ([Value(1.0)], "0.1", TypeError, "str"),
        ([Value(1.0), 2.0], 0.1, TypeError, "parameter 1 is a float"),
    ],
)
def test_l2_penalty_refuses_bad_alpha_and_non_values(params, alpha, error, message) -> None:
    """alpha must be a finite number >= 0 and every parameter a Value."""
    with pytest.raises(error, match=message):
        l2_penalty(params, alpha)
