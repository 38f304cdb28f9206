"""Tests for autograd_lite.optim.optimizer: the Optimizer base class.

Parameter groups, zero_grad, closures, frozen parameters, gradients that are Values, the
JSON-serialisable state_dict (a resumed run must continue bit for bit), and the errors
for bad input. The update rules themselves are tested against PyTorch in test_sgd.py,
test_adam.py and test_rmsprop.py.
"""

from __future__ import annotations

import json
import math
import random

import pytest

import autograd_lite.optim as optim
from autograd_lite import Value, no_grad, tanh
from autograd_lite.optim import Optimizer
from tests.optional import need

XOR_DATA = [((-1.0, -1.0), -1.0), ((-1.0, 1.0), 1.0), ((1.0, -1.0), 1.0), ((1.0, 1.0), -1.0)]


def tiny_network(p):
    """Mean squared error of a 2-3-1 tanh network on XOR: 13 parameters."""
    loss = 0.0
    for (x1, x2), target in XOR_DATA:
        hidden = [tanh(p[2 * j] * x1 + p[2 * j + 1] * x2 + p[6 + j]) for j in range(3)]
        output = p[9] * hidden[0] + p[10] * hidden[1] + p[11] * hidden[2] + p[12]
        loss = loss + (output - target) ** 2
    return loss / len(XOR_DATA)


_rng = random.Random(1)
START = [_rng.uniform(-1.0, 1.0) for _ in range(13)]

# Every optimizer, each with the options that give it the most state to save.
STATEFUL = {
    "sgd_nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam_amsgrad": lambda p: optim.Adam(p, lr=0.05, weight_decay=0.01, amsgrad=True),
    "adamw": lambda p: optim.AdamW(p, lr=0.05, amsgrad=True),
    "rmsprop_centered": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "two_groups": lambda p: optim.Adam(
        [{"params": p[:5], "lr": 0.01}, {"params": p[5:], "betas": (0.8, 0.9)}], lr=0.05
    ),
}


def train(optimizer, params, steps):
    """``steps`` full-batch steps; the parameters after each one."""
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        tiny_network(params).backward()
        optimizer.step()
        trajectory.append([p.data for p in params])
    return trajectory


# --------------------------------------------------------------------------------------
# state_dict
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_state_dict_round_trip_through_json_continues_identically(name):
    """Stopping after 20 steps, saving to JSON and resuming gives exactly the 50-step run."""
    make = STATEFUL[name]
    params = [Value(v) for v in START]
    uninterrupted = train(make(params), params, 50)

    params = [Value(v) for v in START]
    optimizer = make(params)
    train(optimizer, params, 20)
    saved = json.loads(json.dumps(optimizer.state_dict()))

    resumed_params = [Value(p.data) for p in params]
    resumed = make(resumed_params)
    resumed.load_state_dict(saved)
    assert train(resumed, resumed_params, 30) == uninterrupted[20:]


def test_state_dict_lists_parameters_by_index_and_copies_the_state():
    """param_groups name parameters by position; changing the saved copy leaves the optimizer."""
    params = [Value(1.0), Value(2.0), Value(3.0)]
    optimizer = optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1, momentum=0.9)
    for p in params:
        p.grad = 1.0
    optimizer.step()
    saved = optimizer.state_dict()
    assert [group["params"] for group in saved["param_groups"]] == [[0], [1, 2]]
    assert set(saved["state"]) == {0, 1, 2}
    saved["state"][0]["momentum_buffer"] = 99.0
    saved["param_groups"][0]["lr"] = 99.0
    assert optimizer.state[0]["momentum_buffer"] == 1.0
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_load_state_dict_restores_hyperparameters_but_keeps_the_parameters():
    """Loading brings back lr and betas (a tuple again after JSON) and keeps our own Values."""
    source = optim.Adam([Value(1.0)], lr=0.25, betas=(0.5, 0.75))
    saved = json.loads(json.dumps(source.state_dict()))
    w = Value(5.0)
    target = optim.Adam([w], lr=0.001)
    target.load_state_dict(saved)
    group = target.param_groups[0]
    assert group["lr"] == 0.25
    assert group["betas"] == (0.5, 0.75)
    assert group["params"][0] is w


def test_load_state_dict_matches_saved_parameters_by_position():
    """As in PyTorch, the saved groups' "params" lists are matched to ours by position."""
    first, second = Value(1.0), Value(2.0)
    optimizer = optim.SGD([first, second], lr=0.1, momentum=0.9)
    saved = {
        "state": {"7": {"momentum_buffer": 0.5}, "3": {"momentum_buffer": -0.5}},
        "param_groups": [{**optimizer.state_dict()["param_groups"][0], "params": [7, 3]}],
    }
    optimizer.load_state_dict(saved)
    assert optimizer.state == {0: {"momentum_buffer": 0.5}, 1: {"momentum_buffer": -0.5}}


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        ({"state": {}}, KeyError, "missing \\['param_groups'\\]"),
        ({"state": {}, "param_groups": []}, ValueError, "saved state has 0 parameter groups"),
        (
            {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]},
            ValueError,
            "parameter group 0 has 2 parameters but the saved group has 1",
        ),
        ("not a dict", TypeError, "expected a dict, got str"),
    ],
)
def test_load_state_dict_refuses_a_state_that_does_not_fit(state, error, message):
    """A saved state with other groups or sizes is refused with an error saying what differs."""
    optimizer = optim.SGD([Value(1.0), Value(2.0)], lr=0.1)
    with pytest.raises(error, match=message):
        optimizer.load_state_dict(state)


def test_load_state_dict_checks_the_saved_hyperparameters():
    """A saved group with an invalid hyperparameter is refused like a constructor argument."""
    optimizer = optim.SGD([Value(1.0)], lr=0.1)
    saved = optimizer.state_dict()
    saved["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optimizer.load_state_dict(saved)


# --------------------------------------------------------------------------------------
# Parameters and groups
# --------------------------------------------------------------------------------------


def test_groups_take_missing_hyperparameters_from_the_defaults():
    """Each group keeps what it sets and takes the rest from the constructor's arguments."""
    first, second = Value(1.0), Value(2.0)
    optimizer = optim.SGD(
        [{"params": [first]}, {"params": second, "lr": 0.5}], lr=0.1, momentum=0.9
    )
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in optimizer.param_groups] == [0.9, 0.9]
    assert optimizer.param_groups[1]["params"] == [second]


def test_each_group_steps_with_its_own_rate():
    """Plain SGD moves each parameter by its own group's lr times its gradient."""
    fast, slow = Value(1.0), Value(1.0)
    optimizer = optim.SGD([{"params": [fast], "lr": 0.5}, {"params": [slow]}], lr=0.125)
    fast.grad = slow.grad = 2.0
    optimizer.step()
    assert (fast.data, slow.data) == (1.0 - 0.5 * 2.0, 1.0 - 0.125 * 2.0)


def test_add_param_group_adds_parameters_that_then_train():
    """A group added later is stepped too, and keeps its own state index."""
    early, late = Value(1.0), Value(1.0)
    optimizer = optim.SGD([early], lr=0.1, momentum=0.5)
    optimizer.add_param_group({"params": [late], "lr": 0.2})
    early.grad = late.grad = 1.0
    optimizer.step()
    assert late.data == 1.0 - 0.2
    assert set(optimizer.state) == {0, 1}


def test_named_parameters_are_accepted_and_their_names_kept():
    """(name, Value) pairs, as model.named_parameters() gives, work and keep their names."""
    w, b = Value(1.0), Value(0.0)
    optimizer = optim.SGD([("w", w), ("b", b)], lr=0.1)
    assert optimizer.param_groups[0]["params"] == [w, b]
    assert optimizer.param_groups[0]["param_names"] == ["w", "b"]


def test_a_generator_of_parameters_is_accepted():
    """params may be any iterable, such as a generator, as in PyTorch."""
    params = [Value(1.0), Value(2.0)]
    optimizer = optim.SGD((p for p in params), lr=0.1)
    assert optimizer.param_groups[0]["params"] == params


def test_frozen_parameters_are_not_updated():
    """A parameter with requires_grad=False is left alone, even with weight decay."""
    frozen = Value(3.0, requires_grad=False)
    trained = Value(3.0)
    optimizer = optim.AdamW([frozen, trained], lr=0.1, weight_decay=0.5)
    frozen.grad = trained.grad = 1.0
    optimizer.step()
    assert frozen.data == 3.0
    assert trained.data != 3.0
    assert 0 not in optimizer.state


def test_zero_grad_sets_every_gradient_to_zero():
    """zero_grad() sets the gradient of every parameter in every group to 0.0."""
    params = [Value(1.0), Value(2.0), Value(3.0)]
    optimizer = optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1)
    (params[0] * params[1] * params[2]).backward()
    assert all(p.grad != 0.0 for p in params)
    optimizer.zero_grad()
    assert all(p.grad == 0.0 and isinstance(p.grad, float) for p in params)


def test_a_gradient_that_is_a_value_is_stepped_by_its_number():
    """After backward(create_graph=True) the update uses .grad.data, as a float grad would."""
    x, y = Value(3.0), Value(3.0)
    (x * x * x).backward(create_graph=True)
    (y * y * y).backward()
    assert isinstance(x.grad, Value) and isinstance(y.grad, float)
    optimizer_x, optimizer_y = optim.Adam([x], lr=0.1), optim.Adam([y], lr=0.1)
    optimizer_x.step()
    optimizer_y.step()
    assert x.data == y.data != 3.0
    assert isinstance(x.data, float)


def test_step_calls_the_closure_with_recording_on_and_returns_its_loss():
    """step(closure) re-evaluates the loss with gradients even inside no_grad()."""
    w = Value(2.0)
    optimizer = optim.SGD([w], lr=0.25)
    calls = []

    def closure():
        optimizer.zero_grad()
        loss = w * w
        loss.backward()
        calls.append(loss)
        return loss

    with no_grad():
        loss = optimizer.step(closure)
    assert calls == [loss]
    assert loss.data == 4.0
    assert w.data == 2.0 - 0.25 * 4.0


def test_repr_shows_the_class_and_each_group():
    """repr lists the optimizer and the hyperparameters of each group, as PyTorch does."""
    text = repr(optim.SGD([Value(1.0)], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (")
    assert "Parameter Group 0" in text
    assert "lr: 0.1" in text and "momentum: 0.9" in text


def test_the_base_class_does_not_step():
    """Optimizer itself has no update rule: step() raises NotImplementedError."""
    with pytest.raises(NotImplementedError, match="Optimizer does not implement step"):
        Optimizer([Value(1.0)], {"lr": 0.1}).step()


class _ModuleLike:
    def parameters(self):
        return [Value(1.0)]


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        (Value(1.0), TypeError, "got a single Value; wrap it in a list"),
        (_ModuleLike(), TypeError, "got a _ModuleLike; pass model.parameters()"),
        (3.0, TypeError, "got float"),
        ([], ValueError, "empty parameter list"),
        ([1.0, 2.0], TypeError, "can only update Values, got float"),
        ([Value(1.0) + 1.0], ValueError, "it is computed from other Values"),
        ([{"lr": 0.1}], ValueError, 'needs a "params" entry'),
        ([{"params": []}], ValueError, "at least one parameter"),
        ([{"params": [Value(1.0)]}, Value(2.0)], TypeError, "not a mixture"),
        ([("w", Value(1.0)), Value(2.0)], TypeError, "not a mixture"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_error(params, error, message):
    """Each wrong kind of params argument raises an error that says what is accepted."""
    with pytest.raises(error, match=message):
        optim.SGD(params, lr=0.1)


def test_a_parameter_may_not_appear_twice():
    """The same Value twice, in one group or in two, is refused with a ValueError."""
    w = Value(1.0, label="w")
    with pytest.raises(ValueError, match="appears twice in the same group"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="already in another parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)


def test_step_closure_must_be_callable():
    """A closure that is not callable is refused with a TypeError naming its type."""
    with pytest.raises(TypeError, match="expected a callable, got float"):
        optim.SGD([Value(1.0)], lr=0.1).step(1.0)


# --------------------------------------------------------------------------------------
# A step is all or nothing; eps=0 as PyTorch; malformed saved states (issue 11, 6 and 10)
# --------------------------------------------------------------------------------------

EVERY_OPTIMIZER = {
    "sgd_momentum": lambda p, **kw: optim.SGD(p, lr=0.1, momentum=0.9, **kw),
    "adam": lambda p, **kw: optim.Adam(p, lr=0.1, **kw),
    "adamw_amsgrad": lambda p, **kw: optim.AdamW(p, lr=0.1, amsgrad=True, **kw),
    "rmsprop_centered": lambda p, **kw: optim.RMSprop(p, lr=0.1, centered=True, momentum=0.5, **kw),
}


@pytest.mark.parametrize("name", sorted(EVERY_OPTIMIZER))
@pytest.mark.parametrize(
    ("bad_grad", "error"), [(10**400, ValueError), ("0.5", TypeError)], ids=["huge-int", "str"]
)
def test_a_failing_step_changes_no_parameter_and_no_state(name, bad_grad, error):
    """An unreadable gradient in the last group leaves every parameter and state unchanged."""
    first, second, third = Value(1.0), Value(2.0), Value(3.0)
    optimizer = EVERY_OPTIMIZER[name]([{"params": [first, second]}, {"params": [third]}])
    first.grad, second.grad, third.grad = 0.5, -0.25, 1.0
    optimizer.step()
    before_data = [p.data for p in (first, second, third)]
    before_state = json.dumps(optimizer.state_dict(), sort_keys=True)
    third.grad = bad_grad
    with pytest.raises(error, match="gradient of parameter 2"):
        optimizer.step()
    assert [p.data for p in (first, second, third)] == before_data
    assert json.dumps(optimizer.state_dict(), sort_keys=True) == before_state


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop"])
def test_eps_zero_with_a_zero_gradient_gives_nan_as_pytorch_does(name):
    """eps=0 is accepted as in torch.optim; 0/0 makes the parameter nan, no ZeroDivisionError."""
    torch = need("torch")
    ours = [Value(1.0), Value(2.0)]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.0, 2.0)]
    mine = getattr(optim, name)(ours, lr=0.1, eps=0.0)
    reference = getattr(torch.optim, name)(theirs, lr=0.1, eps=0.0)
    ours[0].grad, ours[1].grad = 0.0, 1.0
    theirs[0].grad = torch.tensor(0.0, dtype=torch.float64)
    theirs[1].grad = torch.tensor(1.0, dtype=torch.float64)
    mine.step()
    reference.step()
    expected = [t.item() for t in theirs]
    assert math.isnan(expected[0])
    assert math.isnan(ours[0].data)
    assert ours[1].data == pytest.approx(expected[1], rel=1e-12)


def _saved_sgd():
    """A momentum SGD over two parameters after one step, and its state_dict."""
    params = [Value(1.0), Value(2.0)]
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9)
    params[0].grad, params[1].grad = 1.0, -1.0
    optimizer.step()
    return optimizer, optimizer.state_dict()


def _with(change):
    """The saved SGD state with ``change`` applied to a deep copy."""
    saved = json.loads(json.dumps(_saved_sgd()[1]))
    change(saved)
    return saved


MALFORMED_STATES = [
    (lambda s: s.update(param_groups="x"), TypeError, "'param_groups' must be a list, got str"),
    (lambda s: s.update(state=[]), TypeError, "'state' must be a dict, got list"),
    (lambda s: s["param_groups"].__setitem__(0, 5), TypeError, "parameter group 0 must be a dict"),
    (lambda s: s["param_groups"][0].pop("params"), ValueError, "group 0 has no 'params'"),
    (lambda s: s["param_groups"][0].pop("lr"), ValueError, r"group 0 is missing \['lr'\]"),
    (
        lambda s: s["param_groups"][0].update(params="01"),
        TypeError,
        "'params' of saved parameter group 0 must be a list",
    ),
    (lambda s: s["param_groups"][0].update(params=[0, "a"]), TypeError, "int indices, got str"),
    (lambda s: s["param_groups"][0].update(params=[0, 0]), ValueError, "index 0 twice"),
    (lambda s: s["param_groups"][0].update(lr=10**400), ValueError, "does not fit in a float"),
    (lambda s: s["param_groups"][0].update(lr="0.1"), TypeError, "lr must be a real number"),
    (lambda s: s["state"].update({"x": {}}), ValueError, "state key 'x' is not a parameter index"),
    (lambda s: s["state"].update({"7": {}}), ValueError, "refers to parameter 7"),
    (lambda s: s["state"].update({"0": 3}), TypeError, "state of parameter 0 must be a dict"),
    (
        lambda s: s["state"]["0"].update(momentum_buffer="1"),
        TypeError,
        "'momentum_buffer' of parameter 0 must be a real number, got str",
    ),
    (
        lambda s: s["state"]["0"].update(momentum_buffer=10**400),
        ValueError,
        "does not fit in a float",
    ),
    (lambda s: s["state"]["0"].update(velocity=1.0), ValueError, r"unexpected \['velocity'\]"),
]


@pytest.mark.parametrize(("change", "error", "message"), MALFORMED_STATES)
def test_a_malformed_state_dict_is_refused_clearly_and_changes_nothing(change, error, message):
    """Each malformed field gives a TypeError/ValueError naming it; the optimizer is untouched."""
    optimizer, before = _saved_sgd()
    with pytest.raises(error, match=message):
        optimizer.load_state_dict(_with(change))
    assert optimizer.state_dict() == before


@pytest.mark.parametrize(
    ("make", "entry", "message"),
    [
        (lambda p: optim.Adam(p), {"step": 1, "exp_avg": 0.0}, r"missing \['exp_avg_sq'\]"),
        (lambda p: optim.RMSprop(p), {"square_avg": 0.0}, r"missing \['step'\]"),
        (lambda p: optim.Adam(p), {"step": -1, "exp_avg": 0.0, "exp_avg_sq": 0.0}, "step"),
        (lambda p: optim.Adam(p), {"step": 1.5, "exp_avg": 0.0, "exp_avg_sq": 0.0}, "step"),
    ],
)
def test_a_state_entry_without_what_the_optimizer_needs_is_refused(make, entry, message):
    """A per-parameter state missing a running average would fail mid-step: refused at load."""
    optimizer = make([Value(1.0)])
    saved = optimizer.state_dict()
    saved["state"] = {0: entry}
    with pytest.raises((TypeError, ValueError), match=message):
        optimizer.load_state_dict(saved)
    assert optimizer.state == {}
