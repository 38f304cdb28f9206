"""Tests for autograd_lite.optim.adam: Adam and AdamW against torch.optim in float64.

The oracle is PyTorch: the same objective is written once, evaluated by the engine with
our optimizer and by torch tensors with torch's optimizer (which also computes its own
gradients), and the two parameter trajectories must agree to 1e-10 at every step.
"""

from __future__ import annotations

import math

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
    "adam": lambda o, p: o.Adam(p, lr=0.05),
    "adam_betas_eps": lambda o, p: o.Adam(p, lr=0.02, betas=(0.5, 0.9), eps=1e-3),
    "adam_weight_decay": lambda o, p: o.Adam(p, lr=0.05, weight_decay=0.1),
    "adam_amsgrad": lambda o, p: o.Adam(p, lr=0.05, amsgrad=True),
    "adam_everything": lambda o, p: o.Adam(p, lr=0.05, weight_decay=0.1, amsgrad=True),
    "adam_maximize": lambda o, p: o.Adam(p, lr=0.05, weight_decay=0.1, maximize=True),
    "adamw": lambda o, p: o.AdamW(p, lr=0.05),
    "adamw_weight_decay": lambda o, p: o.AdamW(p, lr=0.05, weight_decay=0.5),
    "adamw_amsgrad": lambda o, p: o.AdamW(p, lr=0.05, weight_decay=0.5, amsgrad=True),
    "adamw_maximize": lambda o, p: o.AdamW(p, lr=0.05, amsgrad=True, maximize=True),
}
# Configurations that climb: they run on the negated objective, so they still descend the valley.
MAXIMIZING = {"adam_maximize", "adamw_maximize"}


@pytest.mark.parametrize("objective_name", sorted(OBJECTIVES))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_adam_matches_torch_for_50_steps(config, objective_name):
    """50 steps of every Adam and AdamW variant follow torch.optim's trajectory to 1e-10."""
    torch = require_torch()
    objective, start = OBJECTIVES[objective_name]
    if config in MAXIMIZING:
        objective = negated(objective)
    ours = engine_trajectory(objective, start, CONFIGS[config])
    theirs = torch_trajectory(torch, objective, start, CONFIGS[config])
    assert_same_trajectory(ours, theirs)
    assert ours[-1] != start  # the optimizer really moved the parameters


def test_adam_param_groups_match_torch():
    """Two groups with their own lr, betas and amsgrad follow torch's per-group updates."""
    torch = require_torch()
    objective, start = OBJECTIVES["tiny_network"]

    def make(o, p):
        return o.AdamW(
            [
                {"params": p[:9], "lr": 0.01, "betas": (0.8, 0.99)},
                {"params": p[9:], "amsgrad": True},
            ],
            lr=0.05,
        )

    assert_same_trajectory(
        engine_trajectory(objective, start, make),
        torch_trajectory(torch, objective, start, make),
    )


@settings(max_examples=40, deadline=None)
@given(
    decoupled=st.booleans(),
    lr=st.floats(0.0, 0.1),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.0, 0.9999),
    eps=st.floats(1e-10, 1e-2),
    weight_decay=st.floats(0.0, 0.5),
    amsgrad=st.booleans(),
    maximize=st.booleans(),
)
def test_adam_matches_torch_for_random_hyperparameters(
    decoupled, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize
):
    """Any valid combination of Adam/AdamW hyperparameters gives torch's trajectory."""
    torch = require_torch()
    objective, start = OBJECTIVES["tiny_network"]
    kwargs = dict(
        lr=lr,
        betas=(beta1, beta2),
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
    )

    def make(o, p):
        return (o.AdamW if decoupled else o.Adam)(p, **kwargs)

    assert_same_trajectory(
        engine_trajectory(objective, start, make, steps=10),
        torch_trajectory(torch, objective, start, make, steps=10),
    )


# --------------------------------------------------------------------------------------
# Behaviour and arguments
# --------------------------------------------------------------------------------------


def test_first_adam_step_moves_by_lr_times_the_sign_of_the_gradient():
    """Bias correction makes step 1 move by lr * g / (|g| + eps) (Kingma & Ba, section 2.1)."""
    w = Value(1.0)
    optimizer = optim.Adam([w], lr=0.1, eps=0.0)
    (3.0 * w).backward()
    optimizer.step()
    assert math.isclose(w.data, 1.0 - 0.1, rel_tol=1e-15)


def test_adamw_is_adam_with_decoupled_weight_decay():
    """AdamW(...) and Adam(..., decoupled_weight_decay=True) take identical steps."""
    objective, start = OBJECTIVES["tiny_network"]
    assert engine_trajectory(
        objective, start, lambda o, p: o.AdamW(p, lr=0.05, weight_decay=0.3)
    ) == engine_trajectory(
        objective,
        start,
        lambda o, p: o.Adam(p, lr=0.05, weight_decay=0.3, decoupled_weight_decay=True),
    )


def test_adamw_default_weight_decay_is_one_hundredth():
    """AdamW decays by default (1e-2), Adam does not (0), as in PyTorch."""
    assert optim.AdamW([Value(1.0)]).param_groups[0]["weight_decay"] == 1e-2
    assert optim.Adam([Value(1.0)]).param_groups[0]["weight_decay"] == 0.0


def test_adam_state_holds_plain_floats():
    """Per-parameter state is plain numbers: step count and both running averages."""
    w = Value(2.0)
    optimizer = optim.Adam([w], amsgrad=True)
    (w * w).backward()
    optimizer.step()
    state = optimizer.state[0]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert state["step"] == 1
    assert all(isinstance(v, (int, float)) for v in state.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1e-3}, "lr must be >= 0"),
        ({"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\)"),
        ({"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
        ({"eps": -1e-8}, "eps must be >= 0"),
        ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
    ],
)
def test_invalid_hyperparameters_raise_value_error(kwargs, message):
    """Out-of-range hyperparameters are refused with a message naming the argument."""
    with pytest.raises(ValueError, match=message):
        optim.Adam([Value(1.0)], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"betas": 0.9}, "betas must be a pair"),
        ({"betas": (0.9, 0.99, 0.999)}, "betas must be a pair"),
        ({"amsgrad": "yes"}, "amsgrad must be True or False, got str"),
        ({"eps": None}, "eps must be a real number, got NoneType"),
    ],
)
def test_wrongly_typed_hyperparameters_raise_type_error(kwargs, message):
    """A hyperparameter of the wrong type is refused with a TypeError naming the type."""
    with pytest.raises(TypeError, match=message):
        optim.AdamW([Value(1.0)], **kwargs)
