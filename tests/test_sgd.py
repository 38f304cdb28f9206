"""Tests for autograd_lite.optim.sgd: SGD against torch.optim.SGD in float64.

The oracle is PyTorch: the same objective is written once, evaluated by the engine with
our optimizer and by torch tensors with torch's optimizer (which also computes its own
gradients), and the two parameter trajectories must agree to 1e-10 at every step.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite.optim as optim
from autograd_lite import Value
from tests.optimizer_problems import (
    OBJECTIVES,
    assert_same_trajectory,
    engine_trajectory,
    negated,
    torch_trajectory,
)
from tests.oracles import require_torch

# --------------------------------------------------------------------------------------
# Parity with PyTorch
# --------------------------------------------------------------------------------------

CONFIGS = {
    "plain": lambda o, p: o.SGD(p, lr=1e-3),
    "momentum": lambda o, p: o.SGD(p, lr=1e-3, momentum=0.9),
    "momentum_dampening": lambda o, p: o.SGD(p, lr=1e-3, momentum=0.8, dampening=0.3),
    "nesterov": lambda o, p: o.SGD(p, lr=1e-3, momentum=0.9, nesterov=True),
    "weight_decay": lambda o, p: o.SGD(p, lr=1e-3, weight_decay=0.1),
    "everything": lambda o, p: o.SGD(p, lr=1e-3, momentum=0.7, nesterov=True, weight_decay=0.05),
    "maximize": lambda o, p: o.SGD(p, lr=1e-3, momentum=0.5, weight_decay=0.1, maximize=True),
}
# Configurations that climb: they run on the negated objective, so they still descend the valley.
MAXIMIZING = {"maximize"}


@pytest.mark.parametrize("objective_name", sorted(OBJECTIVES))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_sgd_matches_torch_for_50_steps(config, objective_name):
    """50 steps of every SGD variant follow torch.optim.SGD's trajectory to 1e-10."""
    torch = require_torch()
    objective, start = OBJECTIVES[objective_name]
    if config in MAXIMIZING:
        objective = negated(objective)
    ours = engine_trajectory(objective, start, CONFIGS[config])
    theirs = torch_trajectory(torch, objective, start, CONFIGS[config])
    assert_same_trajectory(ours, theirs)
    assert ours[-1] != start  # the optimizer really moved the parameters


def test_sgd_param_groups_match_torch():
    """Two groups with their own lr and momentum follow torch's per-group updates."""
    torch = require_torch()
    objective, start = OBJECTIVES["tiny_network"]

    def make(o, p):
        return o.SGD(
            [{"params": p[:9], "lr": 0.05, "momentum": 0.9}, {"params": p[9:]}],
            lr=0.01,
            weight_decay=0.01,
        )

    assert_same_trajectory(
        engine_trajectory(objective, start, make),
        torch_trajectory(torch, objective, start, make),
    )


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(0.0, 0.05),
    momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
    dampening=st.floats(0.0, 1.0),
    weight_decay=st.floats(0.0, 0.5),
    nesterov=st.booleans(),
    maximize=st.booleans(),
)
def test_sgd_matches_torch_for_random_hyperparameters(
    lr, momentum, dampening, weight_decay, nesterov, maximize
):
    """Any valid combination of SGD hyperparameters gives torch's trajectory on the network."""
    torch = require_torch()
    if nesterov:
        momentum, dampening = max(momentum, 0.5), 0.0
    objective, start = OBJECTIVES["tiny_network"]
    kwargs = dict(
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )

    def make(o, p):
        return o.SGD(p, **kwargs)

    assert_same_trajectory(
        engine_trajectory(objective, start, make, steps=10),
        torch_trajectory(torch, objective, start, make, steps=10),
    )


# --------------------------------------------------------------------------------------
# Behaviour and arguments
# --------------------------------------------------------------------------------------


def test_first_momentum_step_is_a_plain_gradient_step():
    """With momentum the buffer starts at the gradient: step 1 moves by lr * grad exactly."""
    w = Value(2.0)
    optimizer = optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.5)
    (w * w).backward()  # gradient 4.0
    optimizer.step()
    assert w.data == 2.0 - 0.1 * 4.0
    assert optimizer.state[0] == {"momentum_buffer": 4.0}


def test_plain_sgd_keeps_no_state():
    """Without momentum there is nothing to remember between steps."""
    w = Value(1.0)
    optimizer = optim.SGD([w], lr=0.1)
    (w * 3).backward()
    optimizer.step()
    assert optimizer.state == {}


def test_weight_decay_and_nesterov_are_keyword_only():
    """A positional 4th argument is refused: PyTorch and our contract order them differently."""
    with pytest.raises(TypeError):
        optim.SGD([Value(1.0)], 0.1, 0.9, 0.0, 0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -0.1}, "lr must be >= 0"),
        ({"momentum": -0.5}, "momentum must be >= 0"),
        ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
        ({"nesterov": True}, "nesterov=True needs momentum > 0"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening == 0"),
        ({"lr": float("nan")}, "lr must be a number"),
    ],
)
def test_invalid_hyperparameters_raise_value_error(kwargs, message):
    """Out-of-range hyperparameters are refused with a message naming the argument."""
    with pytest.raises(ValueError, match=message):
        optim.SGD([Value(1.0)], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": "0.1"}, "lr must be a real number, got str"),
        ({"momentum": None}, "momentum must be a real number, got NoneType"),
        ({"nesterov": 1}, "nesterov must be True or False, got int"),
    ],
)
def test_wrongly_typed_hyperparameters_raise_type_error(kwargs, message):
    """A hyperparameter of the wrong type is refused with a TypeError naming the type."""
    with pytest.raises(TypeError, match=message):
        optim.SGD([Value(1.0)], **kwargs)


def test_invalid_group_hyperparameter_is_caught_when_the_group_is_added():
    """A bad lr in one parameter group is refused like a bad default."""
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD([{"params": [Value(1.0)]}, {"params": [Value(2.0)], "lr": -1.0}], lr=0.1)
