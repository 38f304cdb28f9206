"""Tests for autograd_lite.compile._optim: the optimizers' rules over a flat buffer.

``FlatUpdate.step`` promises the numbers of ``optimizer.step()`` on the Values, term by
term. The oracle is that step itself, run on Values holding the same numbers (it is tested
against PyTorch in test_sgd, test_adam and test_rmsprop): the buffer must hold the same
floats bit for bit, nan where it is nan, after steps over gradients and weights that hold
zeros of both signs, infinities, nan, huge and subnormal numbers, from a state that some
parameters already have and others lack.
"""

from __future__ import annotations

import math
import random
import struct

import pytest

from autograd_lite import Value
from autograd_lite.optim import SGD, Adam, AdamW, RMSprop
from tests.optional import need

np = need("numpy")

from autograd_lite.compile._optim import FlatUpdate  # noqa: E402  (the module needs numpy)

CONFIGS = {
    "sgd": (SGD, {"lr": 0.1}),
    "sgd_momentum": (SGD, {"lr": 0.1, "momentum": 0.9}),
    "sgd_dampening": (SGD, {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}),
    "sgd_nesterov": (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_nesterov_decay": (
        SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    "sgd_maximize_decay": (SGD, {"lr": 0.01, "maximize": True, "weight_decay": 0.1}),
    "adam": (Adam, {"lr": 0.01}),
    "adam_amsgrad_decay": (Adam, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    "adam_maximize_eps0": (Adam, {"lr": 0.01, "maximize": True, "eps": 0.0}),
    "adamw": (AdamW, {"lr": 0.02, "weight_decay": 0.05}),
    "adamw_amsgrad_maximize": (AdamW, {"lr": 0.02, "amsgrad": True, "maximize": True}),
    "rmsprop": (RMSprop, {"lr": 0.01}),
    "rmsprop_momentum_eps0": (RMSprop, {"lr": 0.01, "momentum": 0.3, "eps": 0.0}),
    "rmsprop_centered_momentum_decay": (
        RMSprop,
        {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1},
    ),
    "rmsprop_centered_alpha_above_1": (RMSprop, {"lr": 0.01, "centered": True, "alpha": 1.2}),
}

SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, 1e-300]


def _number(rng: random.Random) -> float:
    if rng.random() < 0.2:
        return rng.choice(SPECIAL)
    return rng.gauss(0.0, 1.0) * 10.0 ** rng.randint(-4, 4)


def _partial_state(cls: type, options: dict, n: int, rng: random.Random) -> dict:
    """State for about half the parameters, with step counts that differ between them."""
    state = {}
    for i in range(n):
        if rng.random() < 0.5:
            continue
        entry: dict[str, float | int] = {}
        if cls is SGD and options.get("momentum"):
            entry["momentum_buffer"] = rng.uniform(-1, 1)
        if cls in (Adam, AdamW):
            entry.update(step=rng.choice([1, 3]), exp_avg=rng.uniform(-1, 1))
            entry["exp_avg_sq"] = rng.uniform(0, 1)
            if options.get("amsgrad") and rng.random() < 0.7:
                entry["max_exp_avg_sq"] = rng.uniform(0, 1)
        if cls is RMSprop:
            entry.update(step=rng.choice([2, 5]), square_avg=rng.uniform(0, 1))
            if options.get("centered") and rng.random() < 0.7:
                entry["grad_avg"] = rng.uniform(-0.1, 0.1)
            if options.get("momentum") and rng.random() < 0.7:
                entry["momentum_buffer"] = rng.uniform(-1, 1)
        if entry:
            state[i] = entry
    return state


def _bits(x: float) -> bytes:
    """A float's bits, every nan as one: equal bits, or both nan."""
    return b"nan" if x != x else struct.pack("<d", x)


def _twins(name: str, n: int, seed: int, groups: bool):
    """(optimizer over Values, FlatUpdate over a buffer of the same numbers, Values, buffer)."""
    cls, options = CONFIGS[name]
    rng = random.Random(seed)
    data = [_number(rng) for _ in range(n)]
    state = _partial_state(cls, options, n, rng) if seed % 2 else {}
    made = []
    for _ in range(2):
        params = [Value(x) for x in data]
        if groups:  # every other parameter in a second group: positions not consecutive
            spec = [{"params": params[0::2]}, {"params": params[1::2], "lr": options["lr"] * 3}]
        else:
            spec = params
        optimizer = cls(spec, **options)
        for i, entry in state.items():
            optimizer.state[i] = dict(entry)
        made.append((optimizer, params))
    (reference, values), (flat, flat_params) = made
    return reference, values, FlatUpdate(flat, flat_params), np.array(data), flat


@pytest.mark.parametrize("groups", [False, True], ids=["one_group", "interleaved_groups"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_flat_update_equals_the_optimizers_step_bit_for_bit(name, seed, groups):
    """Four steps over hostile weights and gradients leave the buffer and the state with
    the floats that optimizer.step() leaves in the Values, bit for bit."""
    n = 9
    reference, values, update, theta, flat_optimizer = _twins(name, n, seed, groups)
    rng = random.Random(100 + seed)
    for k in range(4):
        grads = [_number(rng) for _ in range(n)]
        for p, g in zip(values, grads):
            p.grad = g
        reference.step()
        update.step(theta, np.array(grads))
        expected = [_bits(p.data) for p in values]
        assert [_bits(x) for x in theta.tolist()] == expected, f"weights after step {k}"
    update.store()
    assert sorted(flat_optimizer.state) == sorted(reference.state)
    for i, entry in reference.state.items():
        stored = flat_optimizer.state[i]
        assert sorted(stored) == sorted(entry), f"state keys of parameter {i}"
        for key, value in entry.items():
            assert type(stored[key]) is type(value), f"{key} of parameter {i}"
            assert _bits(stored[key]) == _bits(value), f"{key} of parameter {i}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_callers_gradient_is_read_and_never_written(name):
    """The update works in its own arrays: the gradient passed in (the trainer's train.grad,
    which sync() writes into p.grad) holds the same numbers after every step."""
    n = 20_000  # past NumPy's small-array cache: the same path as a real model's
    _, _, update, theta, _ = _twins(name, n, seed=1, groups=False)
    grad = np.random.default_rng(0).standard_normal(n)
    before = grad.copy()
    for _ in range(3):
        update.step(theta, grad)
        assert np.array_equal(grad, before)


def test_a_state_loaded_again_replaces_the_arrays_the_steps_updated_in_place():
    """load() after load_state_dict starts from the optimizer's state, not from the arrays
    the earlier steps updated in place: the next step equals the optimizer's own."""
    reference, values, update, theta, flat_optimizer = _twins("adam", 6, seed=0, groups=False)
    saved = flat_optimizer.state_dict()
    grads = [0.5, -1.0, 2.0, 0.0, 3.0, -0.25]
    for _ in range(3):
        update.step(theta, np.array(grads))  # three steps, then back to the saved state
    flat_optimizer.load_state_dict(saved)
    update.load()
    theta[:] = [p.data for p in values]
    for p, g in zip(values, grads):
        p.grad = g
    reference.step()
    update.step(theta, np.array(grads))
    assert [_bits(x) for x in theta.tolist()] == [_bits(p.data) for p in values]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_gradient_that_shares_memory_with_the_buffer_is_read_before_it_is_written(name):
    """A gradient array that is the buffer itself gives the update of a copy of it: the
    rules write the weights in place (AdamW's decay first of all), and must not read
    their own writes as the gradient."""
    _, _, aliased, theta, _ = _twins(name, 9, seed=2, groups=False)
    _, _, copied, theta_copy, _ = _twins(name, 9, seed=2, groups=False)
    for _ in range(3):
        aliased.step(theta, theta)
        copied.step(theta_copy, theta_copy.copy())
        assert [_bits(x) for x in theta.tolist()] == [_bits(x) for x in theta_copy.tolist()]
