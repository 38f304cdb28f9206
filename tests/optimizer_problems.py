"""Optimisation problems written once for engine Values and torch tensors alike.

The optimizer and scheduler tests run the same objective with our optimizers and with
PyTorch's (which also computes its own gradients) and compare the parameter trajectories.
"""

from __future__ import annotations

import math
import random

import autograd_lite.optim as optim
from autograd_lite import Value, tanh

STEPS = 50
TOLERANCE = 1e-10

XOR_DATA = [((-1.0, -1.0), -1.0), ((-1.0, 1.0), 1.0), ((1.0, -1.0), 1.0), ((1.0, 1.0), -1.0)]


def rosenbrock(p, tanh_fn):
    """The Rosenbrock valley: a curved, badly conditioned two-parameter problem."""
    x, y = p
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def tiny_network(p, tanh_fn):
    """Mean squared error of a 2-3-1 tanh network on XOR: 13 parameters."""
    loss = 0.0
    for (x1, x2), target in XOR_DATA:
        hidden = [tanh_fn(p[2 * j] * x1 + p[2 * j + 1] * x2 + p[6 + j]) for j in range(3)]
        output = p[9] * hidden[0] + p[10] * hidden[1] + p[11] * hidden[2] + p[12]
        loss = loss + (output - target) ** 2
    return loss / len(XOR_DATA)


_rng = random.Random(0)
OBJECTIVES = {
    "rosenbrock": (rosenbrock, [-1.2, 1.0]),
    "tiny_network": (tiny_network, [_rng.uniform(-1.0, 1.0) for _ in range(13)]),
}


def engine_trajectory(objective, start, make_optimizer, steps=STEPS):
    """Parameters after each step, optimised by autograd_lite."""
    params = [Value(v) for v in start]
    optimizer = make_optimizer(optim, params)
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        objective(params, tanh).backward()
        optimizer.step()
        trajectory.append([p.data for p in params])
    return trajectory


def torch_trajectory(torch, objective, start, make_optimizer, steps=STEPS):
    """Parameters after each step, optimised by PyTorch in float64."""
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    optimizer = make_optimizer(torch.optim, params)
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        objective(params, torch.tanh).backward()
        optimizer.step()
        trajectory.append([p.item() for p in params])
    return trajectory


def assert_same_trajectory(ours, theirs, tolerance=TOLERANCE):
    """Every parameter at every step agrees within ``tolerance`` (absolute and relative)."""
    assert len(ours) == len(theirs)
    for step, (mine, reference) in enumerate(zip(ours, theirs), start=1):
        for index, (a, b) in enumerate(zip(mine, reference)):
            assert math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance), (
                f"step {step}, parameter {index}: ours {a!r}, torch {b!r}"
            )


def negated(objective):
    """-objective: maximising it is minimising the objective."""
    return lambda p, tanh_fn: -objective(p, tanh_fn)
