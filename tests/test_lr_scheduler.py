"""Tests for autograd_lite.optim.lr_scheduler: schedules against torch.optim.lr_scheduler.

Oracles: PyTorch in float64 (each scheduler drives an optimizer for 50 steps; the rates
from ``get_last_lr()`` and the parameters must match torch's at every step), and the
closed-form formulas the schedules are defined by. A cyclical rate is also shown to do
what it is for: leave a narrow local minimum that a constant small rate stays in.
"""

from __future__ import annotations

import json
import math

import pytest

import autograd_lite.optim as optim
from autograd_lite import Value, exp, tanh
from autograd_lite.optim import lr_scheduler
from tests.optimizer_problems import OBJECTIVES, STEPS, TOLERANCE, tiny_network
from tests.oracles import require_torch

START = OBJECTIVES["tiny_network"][1]


def engine_run(make_optimizer, make_scheduler, steps=STEPS):
    """(parameters after each step, get_last_lr() after each step, initial get_last_lr())."""
    params = [Value(v) for v in START]
    optimizer = make_optimizer(optim, params)
    scheduler = make_scheduler(lr_scheduler, optimizer)
    initial = scheduler.get_last_lr()
    trajectory, rates = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        tiny_network(params, tanh).backward()
        optimizer.step()
        scheduler.step()
        trajectory.append([p.data for p in params])
        rates.append(scheduler.get_last_lr())
    return trajectory, rates, initial


def torch_run(torch, make_optimizer, make_scheduler, steps=STEPS):
    """The same as :func:`engine_run`, by PyTorch in float64."""
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in START]
    optimizer = make_optimizer(torch.optim, params)
    scheduler = make_scheduler(torch.optim.lr_scheduler, optimizer)
    initial = list(scheduler.get_last_lr())
    trajectory, rates = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        tiny_network(params, torch.tanh).backward()
        optimizer.step()
        scheduler.step()
        trajectory.append([p.item() for p in params])
        rates.append(list(scheduler.get_last_lr()))
    return trajectory, rates, initial


def assert_rows_close(ours, theirs, what, tolerance=TOLERANCE):
    """Row by row, element by element, within ``tolerance`` (absolute and relative)."""
    assert len(ours) == len(theirs)
    for step, (mine, reference) in enumerate(zip(ours, theirs), start=1):
        assert len(mine) == len(reference)
        for index, (a, b) in enumerate(zip(mine, reference)):
            assert math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance), (
                f"{what}, step {step}, entry {index}: ours {a!r}, torch {b!r}"
            )


SCHEDULERS = {
    "step": lambda s, o: s.StepLR(o, step_size=7, gamma=0.5),
    "exponential": lambda s, o: s.ExponentialLR(o, gamma=0.95),
    "cosine": lambda s, o: s.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
    "cosine_one_cycle": lambda s, o: s.CosineAnnealingLR(o, T_max=STEPS),
    "cyclic_triangular": lambda s, o: s.CyclicLR(o, base_lr=0.001, max_lr=0.05, step_size_up=5),
    "cyclic_triangular2": lambda s, o: s.CyclicLR(
        o, base_lr=0.001, max_lr=0.05, step_size_up=5, step_size_down=8, mode="triangular2"
    ),
    "cyclic_exp_range": lambda s, o: s.CyclicLR(
        o, base_lr=0.001, max_lr=0.05, step_size_up=4, mode="exp_range", gamma=0.97
    ),
    "cyclic_scale_fn": lambda s, o: s.CyclicLR(
        o,
        base_lr=0.001,
        max_lr=0.05,
        step_size_up=6,
        scale_fn=lambda x: 1 / (1 + 0.05 * x),
        scale_mode="iterations",
        cycle_momentum=False,
    ),
    "linear_warmup": lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=10),
    "linear_decay": lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=30),
    "lambda": lambda s, o: s.LambdaLR(o, lambda epoch: 1 / (1 + 0.1 * epoch)),
}

OPTIMIZERS = {
    "sgd_momentum": lambda o, p: o.SGD(p, lr=0.05, momentum=0.9),
    "adam": lambda o, p: o.Adam(p, lr=0.05),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01, momentum=0.5),
}


# --------------------------------------------------------------------------------------
# Parity with PyTorch
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("scheduler_name", sorted(SCHEDULERS))
def test_scheduler_matches_torch_for_50_steps(scheduler_name, optimizer_name):
    """Every scheduler driving every optimizer gives torch's rates and parameters to 1e-10."""
    torch = require_torch()
    make_optimizer, make_scheduler = OPTIMIZERS[optimizer_name], SCHEDULERS[scheduler_name]
    ours, our_rates, our_initial = engine_run(make_optimizer, make_scheduler)
    theirs, their_rates, their_initial = torch_run(torch, make_optimizer, make_scheduler)
    assert_rows_close([our_initial], [their_initial], "initial rate")
    assert_rows_close(our_rates, their_rates, "get_last_lr()")
    assert_rows_close(ours, theirs, "parameters")
    assert len({rate[0] for rate in our_rates}) > 1  # the schedule really changed the rate


MULTI_GROUP = {
    "lambda_per_group": lambda s, o: s.LambdaLR(
        o, [lambda epoch: 0.9**epoch, lambda epoch: 1 / (1 + epoch)]
    ),
    "cyclic_per_group": lambda s, o: s.CyclicLR(
        o,
        base_lr=[0.001, 0.002],
        max_lr=[0.05, 0.02],
        step_size_up=3,
        base_momentum=[0.7, 0.8],
        max_momentum=[0.9, 0.95],
    ),
    "cosine": lambda s, o: s.CosineAnnealingLR(o, T_max=15, eta_min=1e-3),
}


@pytest.mark.parametrize("scheduler_name", sorted(MULTI_GROUP))
def test_scheduler_with_two_parameter_groups_matches_torch(scheduler_name):
    """Per-group rates (and per-group functions or bounds) follow torch for two groups."""
    torch = require_torch()

    def make_optimizer(o, p):
        return o.SGD([{"params": p[:9]}, {"params": p[9:], "lr": 0.01}], lr=0.05, momentum=0.9)

    ours, our_rates, _ = engine_run(make_optimizer, MULTI_GROUP[scheduler_name])
    theirs, their_rates, _ = torch_run(torch, make_optimizer, MULTI_GROUP[scheduler_name])
    assert_rows_close(our_rates, their_rates, "get_last_lr()")
    assert_rows_close(ours, theirs, "parameters")


def test_cyclic_momentum_matches_torch_for_sgd_and_adam():
    """CyclicLR moves SGD's momentum and Adam's beta1 inversely to the rate, as torch does."""
    torch = require_torch()

    def momenta(optimizer):
        return [g["betas"][0] if "betas" in g else g["momentum"] for g in optimizer.param_groups]

    for optimizer_name in ("sgd_momentum", "adam"):
        seen = {}
        for name, library, scheduler_module, make_param in (
            ("ours", optim, lr_scheduler, Value),
            (
                "torch",
                torch.optim,
                torch.optim.lr_scheduler,
                lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True),
            ),
        ):
            optimizer = OPTIMIZERS[optimizer_name](library, [make_param(1.0)])
            scheduler = SCHEDULERS["cyclic_triangular2"](scheduler_module, optimizer)
            sequence = [momenta(optimizer)]
            for _ in range(30):
                optimizer.step()
                scheduler.step()
                sequence.append(momenta(optimizer))
            seen[name] = sequence
        assert_rows_close(seen["ours"], seen["torch"], f"momentum of {optimizer_name}")
        assert min(m for (m,) in seen["ours"]) < 0.85 < max(m for (m,) in seen["ours"])


# --------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------


def rates_of(make_scheduler, lr=0.1, steps=STEPS):
    """The rate at epochs 0..steps, from a scheduler driving a plain SGD."""
    optimizer = optim.SGD([Value(0.0)], lr=lr)
    scheduler = make_scheduler(optimizer)
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return rates


def test_cosine_recursion_follows_the_closed_form_beyond_t_max():
    """The recursive cosine equals eta_min + (lr - eta_min)(1 + cos(pi t / T_max)) / 2 for all t."""
    base, eta_min, t_max = 0.1, 0.01, 12
    rates = rates_of(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min))
    for t, rate in enumerate(rates):
        closed = eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2
        assert math.isclose(rate, closed, rel_tol=1e-12), t


def test_linear_warmup_follows_the_closed_form():
    """LinearLR's rate is lr * (start + (end - start) * min(t, total) / total)."""
    start, end, total = 0.25, 0.75, 8
    rates = rates_of(
        lambda o: lr_scheduler.LinearLR(o, start_factor=start, end_factor=end, total_iters=total)
    )
    for t, rate in enumerate(rates):
        assert math.isclose(rate, 0.1 * (start + (end - start) * min(t, total) / total)), t


def test_step_and_exponential_decay_follow_their_closed_forms():
    """StepLR gives lr * gamma^(t // step_size); ExponentialLR gives lr * gamma^t."""
    step_rates = rates_of(lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.5))
    exponential = rates_of(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9))
    for t in range(STEPS + 1):
        assert math.isclose(step_rates[t], 0.1 * 0.5 ** (t // 4), rel_tol=1e-12)
        assert math.isclose(exponential[t], 0.1 * 0.9**t, rel_tol=1e-12)


def test_triangular_cycle_rises_and_falls_linearly_between_its_bounds():
    """Triangular CyclicLR goes base_lr -> max_lr in step_size_up steps and back, then repeats."""
    rates = rates_of(
        lambda o: lr_scheduler.CyclicLR(
            o, base_lr=0.01, max_lr=0.05, step_size_up=4, cycle_momentum=False
        ),
        steps=16,
    )
    expected = [0.01, 0.02, 0.03, 0.04, 0.05, 0.04, 0.03, 0.02] * 2 + [0.01]
    assert len(rates) == len(expected)
    for rate, value in zip(rates, expected):
        assert math.isclose(rate, value, rel_tol=1e-12)


def test_initial_lr_and_base_lrs_record_the_starting_rates():
    """Creating a scheduler stores each group's starting rate as 'initial_lr' and base_lrs."""
    optimizer = optim.SGD([{"params": [Value(1.0)]}, {"params": [Value(2.0)], "lr": 0.3}], lr=0.1)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    assert scheduler.base_lrs == [0.1, 0.3]
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 0.3]


# --------------------------------------------------------------------------------------
# What a cyclical rate is for
# --------------------------------------------------------------------------------------


def double_well(x):
    """A wide global well near 0 (curvature 1) and a narrow, shallower local dip near 1.92.

    f(x) = x²/2 - exp(-(x - 2)² / 0.08). The dip's curvature is about 20, so a rate above
    2/20 cannot settle in it while rates below 2/1 still settle in the wide well.
    """
    return 0.5 * x * x - exp(-((x - 2.0) ** 2) / 0.08)


def double_well_slope(x):
    """f'(x), written out by hand (an oracle independent of the engine)."""
    return x + (x - 2.0) / 0.04 * math.exp(-((x - 2.0) ** 2) / 0.08)


def bisect_root(function, low, high):
    """A root of ``function`` in [low, high], where it changes sign."""
    assert function(low) * function(high) < 0
    for _ in range(200):
        middle = (low + high) / 2
        if function(low) * function(middle) <= 0:
            high = middle
        else:
            low = middle
    return (low + high) / 2


def descend_double_well(cyclic, steps=120):
    """Final x of SGD from x = 2.2 (inside the local dip), at lr 0.01 or cycling up to 0.5."""
    x = Value(2.2)
    optimizer = optim.SGD([x], lr=0.01)
    scheduler = None
    if cyclic:
        # Three whole cycles of 40 steps, so the run ends back at the low rate.
        scheduler = lr_scheduler.CyclicLR(
            optimizer, base_lr=0.01, max_lr=0.5, step_size_up=20, cycle_momentum=False
        )
    for _ in range(steps):
        optimizer.zero_grad()
        double_well(x).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    if scheduler is not None:
        assert scheduler.get_last_lr() == [0.01]
    return x.data


def test_cyclic_rate_escapes_a_local_minimum_where_a_constant_rate_stays():
    """Constant lr 0.01 settles in the local dip; the cyclic rate ends in the global well."""
    local_minimum = bisect_root(double_well_slope, 1.8, 1.95)
    barrier = bisect_root(double_well_slope, 1.0, 1.8)  # the hilltop between the basins
    global_minimum = bisect_root(double_well_slope, -0.5, 0.5)
    assert double_well(Value(local_minimum)).data > double_well(Value(global_minimum)).data

    constant = descend_double_well(cyclic=False)
    cyclic = descend_double_well(cyclic=True)
    assert constant > barrier and abs(constant - local_minimum) < 1e-6
    assert cyclic < barrier and abs(cyclic - global_minimum) < 1e-6


# --------------------------------------------------------------------------------------
# Saving and resuming
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler_name", sorted(SCHEDULERS))
def test_state_dict_round_trip_through_json_continues_identically(scheduler_name):
    """Saving optimizer and scheduler to JSON after 20 steps and resuming gives the same run."""
    make_optimizer = OPTIMIZERS["adam"]
    make_scheduler = SCHEDULERS[scheduler_name]
    uninterrupted, rates, _ = engine_run(make_optimizer, make_scheduler)

    params = [Value(v) for v in START]
    optimizer = make_optimizer(optim, params)
    scheduler = make_scheduler(lr_scheduler, optimizer)
    for _ in range(20):
        optimizer.zero_grad()
        tiny_network(params, tanh).backward()
        optimizer.step()
        scheduler.step()
    saved = json.loads(
        json.dumps({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
    )

    resumed_params = [Value(p.data) for p in params]
    resumed_optimizer = make_optimizer(optim, resumed_params)
    resumed_scheduler = make_scheduler(lr_scheduler, resumed_optimizer)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    resumed_scheduler.load_state_dict(saved["scheduler"])
    for step in range(20, STEPS):
        resumed_optimizer.zero_grad()
        tiny_network(resumed_params, tanh).backward()
        resumed_optimizer.step()
        resumed_scheduler.step()
        assert [p.data for p in resumed_params] == uninterrupted[step]
        assert resumed_scheduler.get_last_lr() == rates[step]


def test_load_state_dict_refuses_foreign_keys():
    """A state from another scheduler type is refused with a ValueError naming the keys."""
    optimizer = optim.SGD([Value(1.0)], lr=0.1)
    state = lr_scheduler.StepLR(optimizer, step_size=3).state_dict()
    other = lr_scheduler.ExponentialLR(optim.SGD([Value(1.0)], lr=0.1), gamma=0.9)
    with pytest.raises(ValueError, match="unexpected keys \\['step_size'\\]"):
        other.load_state_dict(state)


def test_resuming_with_last_epoch_needs_initial_lr():
    """last_epoch >= 0 on a fresh optimizer raises KeyError: there is no 'initial_lr' yet."""
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([Value(1.0)], lr=0.1), step_size=3, last_epoch=5)


# --------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------


def _sgd():
    return optim.SGD([Value(1.0)], lr=0.1, momentum=0.9)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: lr_scheduler.StepLR(object(), step_size=3), TypeError, "got object"),
        (lambda: lr_scheduler.StepLR(_sgd(), step_size=0), ValueError, "step_size must be >= 1"),
        (lambda: lr_scheduler.StepLR(_sgd(), step_size=2.5), TypeError, "step_size must be an int"),
        (
            lambda: lr_scheduler.ExponentialLR(_sgd(), gamma="0.9"),
            TypeError,
            "gamma must be a real",
        ),
        (
            lambda: lr_scheduler.LinearLR(_sgd(), start_factor=0.0),
            ValueError,
            r"start_factor must be in \(0, 1\]",
        ),
        (
            lambda: lr_scheduler.LinearLR(_sgd(), end_factor=1.5),
            ValueError,
            r"end_factor must be in \[0, 1\]",
        ),
        (lambda: lr_scheduler.CosineAnnealingLR(_sgd(), T_max=0), ValueError, "T_max must be >= 1"),
        (
            lambda: lr_scheduler.CyclicLR(_sgd(), 0.01, 0.1, mode="sawtooth"),
            ValueError,
            "mode must be one of",
        ),
        (
            lambda: lr_scheduler.CyclicLR(_sgd(), [0.01, 0.02], 0.1),
            ValueError,
            "base_lr has 2 values but the optimizer has 1 parameter groups",
        ),
        (
            lambda: lr_scheduler.LambdaLR(_sgd(), [lambda e: 1.0, lambda e: 2.0]),
            ValueError,
            "expected 1 lr_lambdas",
        ),
        (lambda: lr_scheduler.LambdaLR(_sgd(), 0.5), TypeError, "lr_lambda must be a function"),
        (lambda: lr_scheduler.StepLR(_sgd(), 3, last_epoch=-2), ValueError, "last_epoch must be"),
        (lambda: lr_scheduler.StepLR(_sgd(), 3, last_epoch=1.0), TypeError, "got float"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    """Each bad scheduler argument raises an error that names it and what is accepted."""
    with pytest.raises(error, match=message):
        make()
