"""Tests for autograd_lite.optim.clip: gradient clipping against torch.nn.utils in float64.

PyTorch is the oracle for the returned norm and the clipped gradients, including the inf
norm and non-finite gradients; hypothesis supplies the gradients.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite import Value
from autograd_lite.optim import clip_grad_norm_, clip_grad_value_
from tests.oracles import require_torch

# Magnitudes in [1e-30, 1e6] (or exactly 0): torch forms |g|^p without rescaling, so it
# underflows or overflows outside such a range, where we stay exact (tested separately).
finite_gradients = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(1e-30, 1e6),
        st.floats(-1e6, -1e-30),
    ),
    min_size=1,
    max_size=12,
)
norm_types = st.sampled_from([1.0, 2.0, 3.5, 0.5, math.inf])


def values_with_grads(grads):
    """Leaf Values whose .grad is set to the given numbers."""
    params = [Value(0.0) for _ in grads]
    for p, g in zip(params, grads):
        p.grad = g
    return params


def torch_clip_norm(torch, grads, max_norm, norm_type):
    """(total norm, clipped gradients) from torch.nn.utils.clip_grad_norm_ in float64."""
    params = [torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    return total.item(), [p.grad.item() for p in params]


def torch_clip_value(torch, grads, clip_value):
    """Gradients clipped by torch.nn.utils.clip_grad_value_ in float64."""
    params = [torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float64)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    return [p.grad.item() for p in params]


def assert_all_close(ours, theirs, tolerance=1e-12):
    """Elementwise agreement, with nan matching nan and infinities matching exactly."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if math.isnan(b):
            assert math.isnan(a), (ours, theirs)
        else:
            assert math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance), (ours, theirs)


# --------------------------------------------------------------------------------------
# clip_grad_norm_
# --------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(grads=finite_gradients, max_norm=st.floats(0.0, 1e4), norm_type=norm_types)
def test_clip_grad_norm_matches_torch(grads, max_norm, norm_type):
    """Returned norm and clipped gradients equal torch's for any gradients and norm order."""
    torch = require_torch()
    params = values_with_grads(grads)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected_total, expected_grads = torch_clip_norm(torch, grads, max_norm, norm_type)
    assert isinstance(total, float)
    assert math.isclose(total, expected_total, rel_tol=1e-12, abs_tol=1e-300)
    assert_all_close([p.grad for p in params], expected_grads)


@settings(max_examples=100, deadline=None)
@given(grads=finite_gradients, max_norm=st.floats(1e-3, 1e3), norm_type=norm_types)
def test_clipped_gradients_have_at_most_max_norm_and_keep_their_direction(
    grads, max_norm, norm_type
):
    """After clipping the norm is <= max_norm and every gradient is scaled by one factor."""
    params = values_with_grads(grads)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    after = clip_grad_norm_(params, math.inf, norm_type=norm_type)  # measures, clips nothing
    assert after <= max_norm * (1 + 1e-12)
    if max_norm >= total + 1e-6:  # PyTorch's rule divides by total + 1e-6
        assert [p.grad for p in params] == grads
    factor = min(1.0, max_norm / (total + 1e-6))
    for p, g in zip(params, grads):
        assert math.isclose(p.grad, g * factor, rel_tol=1e-15, abs_tol=0.0)


@pytest.mark.parametrize("norm_type", [2.0, math.inf, "inf", 1.0])
def test_non_finite_gradients_behave_as_in_torch(norm_type):
    """An inf gradient gives an inf norm, a nan gives nan; gradients follow torch exactly."""
    torch = require_torch()
    torch_norm_type = math.inf if norm_type == "inf" else norm_type
    for grads in ([1.0, math.inf, -2.0], [1.0, math.nan, 2.0], [-math.inf, 0.5]):
        params = values_with_grads(grads)
        total = clip_grad_norm_(params, 1.0, norm_type=norm_type)
        expected_total, expected_grads = torch_clip_norm(torch, grads, 1.0, torch_norm_type)
        assert_all_close([total], [expected_total])
        assert_all_close([p.grad for p in params], expected_grads)


def test_error_if_nonfinite_raises_before_touching_gradients():
    """error_if_nonfinite=True refuses a nan norm (RuntimeError) and leaves the grads alone."""
    params = values_with_grads([1.0, math.nan])
    with pytest.raises(RuntimeError, match="error_if_nonfinite=False"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert params[0].grad == 1.0


@pytest.mark.parametrize("scale", [1e-200, 1e200])
@pytest.mark.parametrize("norm_type", [2.0, 3.0])
def test_norm_neither_underflows_nor_overflows(scale, norm_type):
    """Gradients near the ends of the float range still give their true norm, 2^(1/p) * scale."""
    params = values_with_grads([scale, -scale])
    total = clip_grad_norm_(params, math.inf, norm_type=norm_type)
    assert math.isclose(total, 2.0 ** (1 / norm_type) * scale, rel_tol=1e-14)


def test_clip_grad_norm_of_no_parameters_is_zero():
    """An empty parameter list has total norm 0.0, as in torch."""
    assert clip_grad_norm_([], 1.0) == 0.0


def test_clip_grad_norm_accepts_a_single_value_and_a_generator():
    """A single Value or a generator of Values is accepted, as torch accepts a tensor."""
    w = Value(0.0)
    w.grad = -6.0
    assert clip_grad_norm_(w, 3.0) == 6.0
    assert math.isclose(w.grad, -3.0 * 6.0 / (6.0 + 1e-6), rel_tol=1e-15)
    params = values_with_grads([3.0, 4.0])
    assert clip_grad_norm_((p for p in params), 100.0) == 5.0


def test_parameters_that_do_not_require_grad_are_left_out():
    """A frozen parameter neither counts towards the norm nor has its gradient changed."""
    trainable = Value(0.0)
    trainable.grad = 3.0
    frozen = Value(0.0, requires_grad=False)
    frozen.grad = 4.0
    assert clip_grad_norm_([trainable, frozen], 1.0) == 3.0
    assert frozen.grad == 4.0


def test_a_value_gradient_is_read_through_its_data():
    """A .grad built with create_graph=True is clipped by its number and replaced by a float."""
    x = Value(3.0)
    (x * x * x).backward(create_graph=True)
    assert isinstance(x.grad, Value)
    total = clip_grad_norm_([x], 1.0)
    assert total == 27.0
    assert isinstance(x.grad, float)
    assert math.isclose(x.grad, 27.0 / (27.0 + 1e-6), rel_tol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_norm": -1.0}, ValueError, "max_norm must be >= 0"),
        ({"max_norm": math.nan}, ValueError, "max_norm must be >= 0"),
        ({"max_norm": "1"}, TypeError, "max_norm must be a real number, got str"),
        ({"max_norm": 1.0, "norm_type": 0}, ValueError, "norm_type must be a positive number"),
        ({"max_norm": 1.0, "norm_type": "fro"}, TypeError, "norm_type must be a positive"),
    ],
)
def test_clip_grad_norm_rejects_bad_arguments(kwargs, error, message):
    """Bad max_norm or norm_type raise errors that say what is accepted."""
    with pytest.raises(error, match=message):
        clip_grad_norm_(values_with_grads([1.0]), **kwargs)


def test_clip_grad_norm_rejects_non_values():
    """Something other than Values is refused with a TypeError naming its type."""
    with pytest.raises(TypeError, match="expected Values, got float"):
        clip_grad_norm_([1.0, 2.0], 1.0)
    with pytest.raises(TypeError, match="got int"):
        clip_grad_norm_(3, 1.0)


# --------------------------------------------------------------------------------------
# clip_grad_value_
# --------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    grads=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=12),
    clip_value=st.floats(0.0, 1e6),
)
def test_clip_grad_value_matches_torch(grads, clip_value):
    """Each gradient is clamped into [-clip_value, clip_value] exactly as torch clamps it."""
    torch = require_torch()
    params = values_with_grads(grads)
    assert clip_grad_value_(params, clip_value) is None
    assert_all_close([p.grad for p in params], torch_clip_value(torch, grads, clip_value), 0.0)


def test_clip_grad_value_rejects_a_negative_limit():
    """A negative clip_value has no meaning and is refused with a ValueError."""
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(values_with_grads([1.0]), -0.5)


def test_clip_grad_value_with_one_unreadable_gradient_changes_none() -> None:
    """Every gradient is read before any is clipped: a bad one leaves the others as they were."""
    first, second = Value(1.0), Value(2.0)
    first.grad, second.grad = 5.0, "7"
    with pytest.raises(TypeError, match="str"):
        clip_grad_value_([first, second], 1.0)
    assert first.grad == 5.0
