"""The input policy, applied to every public function and constructor outside the engine.

Each table row names one argument of one call and what kind of argument it is: a real
number, a size or count, a flag, or a seed. Every row is called with every wrong input of
its kind (str, bytes, None, complex, Decimal, NumPy arrays, an int too large for a float,
an object that only looks like a Value, and for sizes and flags also floats, bools and
Fractions), and must answer with the documented exception and a message naming the type
received and what is accepted. Inputs the policy accepts (Fraction, NumPy scalars) must
work, and give what the equivalent float gives. The README's "input policy" is the spec;
the engine's own calls are tested in test_engine.py.
"""

from __future__ import annotations

import random
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import autograd_lite.optim as optim
from autograd_lite import Value, grad, gradcheck, hessian, jacobian, serialization, value_and_grad
from autograd_lite import losses as L
from autograd_lite.data import (
    batches,
    make_circles,
    make_house_prices,
    make_moons,
    make_spirals,
    make_xor,
    train_test_split,
)
from autograd_lite.interop import to_torch
from autograd_lite.nn import MLP, RNN, Dropout, Layer, Neuron, RNNCell, Sequential
from autograd_lite.optim import lr_scheduler as S
from autograd_lite.training import EarlyStopping, fit
from autograd_lite.viz import backward_steps, draw_dot
from tests.optional import need


class LooksLikeAValue:
    """Has ``.data`` and ``.grad`` like a Value, but is not one."""

    data = 0.5
    grad = 0.0
    requires_grad = True


@pytest.fixture(autouse=True)
def _time_limit():
    """Fail a call that runs for more than 20 s (a size nobody checked, say) instead of hanging."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("the call ran for more than 20 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


HUGE = 10**400
# What a message may say to name "what is accepted", per kind of argument.
ACCEPTED = {
    "real": r"real number|a number|Value",
    "count": r"\bint\b",
    "flag": r"bool|True or False",
    "seed": r"\bint\b",
    "count-or-none": r"\bint\b",
    "value": r"\bValues?\b",
    "module": r"\bModule\b",
}


# An int too large for a float is named compactly: "10**400", "1329 bits", "... float".
HUGE_NAMED = r"float|\d+ bits|10\*\*\d+"


@dataclass(frozen=True)
class Bad:
    """A wrong input, the exception it must raise, and the words the message must hold."""

    name: str
    value: Any
    error: type[Exception]
    names: str  # regex: the message names what was given


def _wrong_everywhere() -> list[Bad]:
    """Inputs no numeric argument accepts."""
    return [
        Bad("str", "0.5", TypeError, r"\bstr\b"),
        Bad("bytes", b"0.5", TypeError, r"\bbytes\b"),
        Bad("None", None, TypeError, r"NoneType|None"),
        Bad("complex", 0.5 + 0j, TypeError, r"\bcomplex\b"),
        Bad("Decimal", Decimal("0.5"), TypeError, r"\bDecimal\b"),
        Bad("ndarray", np.array([0.5]), TypeError, r"\bndarray\b"),
        Bad("ndarray-0d", np.array(0.5), TypeError, r"\bndarray\b"),
        Bad("lookalike", LooksLikeAValue(), TypeError, r"LooksLikeAValue"),
    ]


BAD = {
    "real": [*_wrong_everywhere(), Bad("huge-int", HUGE, ValueError, HUGE_NAMED)],
    "count": [
        *_wrong_everywhere(),
        Bad("float", 3.0, TypeError, r"\bfloat\b"),
        Bad("bool", True, TypeError, r"\bbool\b"),
        Bad("Fraction", Fraction(3), TypeError, r"\bFraction\b"),
        Bad("huge-int", HUGE, ValueError, HUGE_NAMED),
    ],
    "flag": [
        Bad("str", "yes", TypeError, r"\bstr\b"),
        Bad("int", 1, TypeError, r"\bint\b"),
        Bad("None", None, TypeError, r"NoneType|None"),
        Bad("float", 1.0, TypeError, r"\bfloat\b"),
        Bad("numpy-bool", np.bool_(True), TypeError, r"numpy\.bool"),
    ],
    "count-or-none": [],  # filled in below: a count's wrong inputs, None excepted
    "seed": [
        *[b for b in _wrong_everywhere() if b.name != "None"],
        Bad("float", 3.0, TypeError, r"\bfloat\b"),
        Bad("bool", True, TypeError, r"\bbool\b"),
    ],
}


BAD["count-or-none"] = [b for b in BAD["count"] if b.name != "None"]
# Where a Value or a Module is expected, a number is as wrong as a string.
BAD["value"] = [*_wrong_everywhere(), Bad("float", 0.5, TypeError, r"\bfloat\b")]
BAD["module"] = [*BAD["value"], Bad("Value", Value(0.5), TypeError, r"\bValue\b")]


def _accepted_forms(kind: str, good: Any) -> list[tuple[str, Any]]:
    """Inputs the policy accepts in place of ``good``: Fraction and NumPy scalars."""
    if kind == "real":
        return [
            ("Fraction", Fraction(good)),
            ("numpy-float64", np.float64(good)),
            ("numpy-float32", np.float32(good)) if float(np.float32(good)) == good else None,
        ]
    if kind in ("count", "seed", "count-or-none"):
        return [("numpy-int64", np.int64(good))]
    return []


@dataclass(frozen=True)
class Row:
    """One argument of one public call: ``call(value)`` passes ``value`` in that place."""

    what: str
    kind: str
    good: Any
    call: Callable[[Any], Any]


def _sgd(**kw: Any) -> optim.SGD:
    return optim.SGD([Value(1.0)], lr=0.1, **kw)


def _param_with_grad() -> list[Value]:
    p = Value(1.0)
    p.grad = 2.0
    return [p]


def _square(x: Any) -> Any:
    return x * x


XOR = ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])


def _fit(**kw: Any) -> Any:
    X, y = XOR
    return fit(MLP(2, [2, 2], seed=0), X, y, epochs=1, progress=False, **kw)


ROWS = [
    # functional: inputs and gradcheck's tolerances
    Row("grad(f)(x)", "real", 0.5, lambda v: grad(_square)(v)),
    Row("value_and_grad(f)(x)", "real", 0.5, lambda v: value_and_grad(_square)(v)),
    Row("grad(f)([x, 1])", "real", 0.5, lambda v: grad(lambda a: a[0] * a[1])([v, 1.0])),
    Row("jacobian(f)(x)", "real", 0.5, lambda v: jacobian(lambda x: [x * x, x])(v)),
    Row("hessian(f)(x)", "real", 0.5, lambda v: hessian(lambda x: x * x * x)(v)),
    Row("gradcheck(f, x)", "real", 0.5, lambda v: gradcheck(_square, v)),
    Row("gradcheck(f, 1, x)", "real", 0.5, lambda v: gradcheck(lambda a, b: a * b, 1.0, v)),
    Row("gradcheck(eps=)", "real", 0.5**20, lambda v: gradcheck(_square, 1.0, eps=v)),
    Row("gradcheck(atol=)", "real", 0.5**10, lambda v: gradcheck(_square, 1.0, atol=v)),
    Row("gradcheck(rtol=)", "real", 0.5**10, lambda v: gradcheck(_square, 1.0, rtol=v)),
    Row(
        "gradcheck(raise_exception=)",
        "flag",
        True,
        lambda v: gradcheck(_square, 1.0, raise_exception=v),
    ),
    # losses
    Row("mse(pred)", "real", 0.5, lambda v: L.mse(v, 1.0)),
    Row("mse(target)", "real", 0.5, lambda v: L.mse(Value(1.0), v)),
    Row("mse([pred, 1])", "real", 0.5, lambda v: L.mse([v, 1.0], [0.0, 0.0])),
    Row("bce(logit)", "real", 0.5, lambda v: L.binary_cross_entropy_with_logits(v, 1.0)),
    Row("bce(target)", "real", 0.5, lambda v: L.binary_cross_entropy_with_logits(Value(1.0), v)),
    Row("cross_entropy([logit, 1])", "real", 0.5, lambda v: L.cross_entropy([v, 1.0], 0)),
    Row("cross_entropy(target)", "count", 1, lambda v: L.cross_entropy([0.5, 1.0, 2.0], v)),
    Row("hinge(score)", "real", 0.5, lambda v: L.hinge(v, 1)),
    Row("hinge(target)", "real", 1.0, lambda v: L.hinge(Value(0.5), v)),
    Row("multiclass_hinge([s, 1])", "real", 0.5, lambda v: L.multiclass_hinge([v, 1.0], 0)),
    Row("multiclass_hinge(target)", "count", 1, lambda v: L.multiclass_hinge([0.5, 1.0], v)),
    Row("l2_penalty(alpha)", "real", 0.5, lambda v: L.l2_penalty([Value(1.0)], v)),
    # nn constructors
    Row("Neuron(nin)", "count", 2, lambda v: Neuron(v, rng=random.Random(0))),
    Row("Neuron(fan_out=)", "count", 2, lambda v: Neuron(2, fan_out=v, init="xavier")),
    Row("Layer(nin)", "count", 2, lambda v: Layer(v, 2, seed=0)),
    Row("Layer(nout)", "count", 2, lambda v: Layer(2, v, seed=0)),
    Row("Layer(seed=)", "seed", 3, lambda v: Layer(2, 2, seed=v)),
    Row("MLP(nin)", "count", 2, lambda v: MLP(v, [1], seed=0)),
    Row("MLP(nouts=[w])", "count", 2, lambda v: MLP(2, [v], seed=0)),
    Row("MLP(seed=)", "seed", 3, lambda v: MLP(2, [1], seed=v)),
    Row("Dropout(p)", "real", 0.5, lambda v: Dropout(v, seed=0)),
    Row("Dropout(seed=)", "seed", 3, lambda v: Dropout(0.5, seed=v)),
    Row("RNNCell(nin)", "count", 2, lambda v: RNNCell(v, 2, seed=0)),
    Row("RNNCell(nhidden)", "count", 2, lambda v: RNNCell(2, v, seed=0)),
    Row("RNN(nin)", "count", 2, lambda v: RNN(v, 2, seed=0)),
    Row("RNN(nhidden)", "count", 2, lambda v: RNN(2, v, seed=0)),
    Row("RNN(nout=)", "count-or-none", 2, lambda v: RNN(2, 2, nout=v, seed=0)),
    Row("RNN(seed=)", "seed", 3, lambda v: RNN(2, 2, seed=v)),
    Row("Module.train(mode)", "flag", True, lambda v: MLP(2, [1], seed=0).train(v)),
    # nn forward passes (the engine converts the inputs)
    Row("Neuron(2)([x, 1])", "real", 0.5, lambda v: Neuron(2, rng=random.Random(0))([v, 1.0])),
    Row("Layer(2, 2)([x, 1])", "real", 0.5, lambda v: Layer(2, 2, seed=0)([v, 1.0])),
    Row("MLP(2, [3, 1])([x, 1])", "real", 0.5, lambda v: MLP(2, [3, 1], seed=0)([v, 1.0])),
    Row("RNNCell(2, 2)([x, 1])", "real", 0.5, lambda v: RNNCell(2, 2, seed=0)([v, 1.0])),
    Row(
        "Sequential(Layer)([x, 1])",
        "real",
        0.5,
        lambda v: Sequential(Layer(2, 1, seed=0))([v, 1.0]),
    ),
    # optimizers
    Row("SGD(lr=)", "real", 0.5, lambda v: optim.SGD([Value(1.0)], lr=v)),
    Row("SGD(momentum=)", "real", 0.5, lambda v: _sgd(momentum=v)),
    Row("SGD(dampening=)", "real", 0.5, lambda v: _sgd(dampening=v)),
    Row("SGD(weight_decay=)", "real", 0.5, lambda v: _sgd(weight_decay=v)),
    Row("SGD(nesterov=)", "flag", False, lambda v: _sgd(momentum=0.5, nesterov=v)),
    Row("SGD(maximize=)", "flag", False, lambda v: _sgd(maximize=v)),
    Row("Adam(lr=)", "real", 0.5, lambda v: optim.Adam([Value(1.0)], lr=v)),
    Row("Adam(betas=(b, .9))", "real", 0.5, lambda v: optim.Adam([Value(1.0)], betas=(v, 0.9))),
    Row("Adam(betas=(.9, b))", "real", 0.5, lambda v: optim.Adam([Value(1.0)], betas=(0.9, v))),
    Row("Adam(eps=)", "real", 0.5, lambda v: optim.Adam([Value(1.0)], eps=v)),
    Row("Adam(weight_decay=)", "real", 0.5, lambda v: optim.Adam([Value(1.0)], weight_decay=v)),
    Row("Adam(amsgrad=)", "flag", False, lambda v: optim.Adam([Value(1.0)], amsgrad=v)),
    Row("Adam(maximize=)", "flag", False, lambda v: optim.Adam([Value(1.0)], maximize=v)),
    Row("AdamW(lr=)", "real", 0.5, lambda v: optim.AdamW([Value(1.0)], lr=v)),
    Row("AdamW(weight_decay=)", "real", 0.5, lambda v: optim.AdamW([Value(1.0)], weight_decay=v)),
    Row("RMSprop(lr=)", "real", 0.5, lambda v: optim.RMSprop([Value(1.0)], lr=v)),
    Row("RMSprop(alpha=)", "real", 0.5, lambda v: optim.RMSprop([Value(1.0)], alpha=v)),
    Row("RMSprop(eps=)", "real", 0.5, lambda v: optim.RMSprop([Value(1.0)], eps=v)),
    Row("RMSprop(momentum=)", "real", 0.5, lambda v: optim.RMSprop([Value(1.0)], momentum=v)),
    Row(
        "RMSprop(weight_decay=)",
        "real",
        0.5,
        lambda v: optim.RMSprop([Value(1.0)], weight_decay=v),
    ),
    Row("RMSprop(centered=)", "flag", False, lambda v: optim.RMSprop([Value(1.0)], centered=v)),
    Row(
        "add_param_group(lr=)",
        "real",
        0.5,
        lambda v: _sgd().add_param_group({"params": [Value(2.0)], "lr": v}),
    ),
    # schedulers
    Row("StepLR(step_size=)", "count", 2, lambda v: S.StepLR(_sgd(), step_size=v)),
    Row("StepLR(gamma=)", "real", 0.5, lambda v: S.StepLR(_sgd(), step_size=2, gamma=v)),
    Row("StepLR(last_epoch=)", "count", -1, lambda v: S.StepLR(_sgd(), 2, last_epoch=v)),
    Row("ExponentialLR(gamma=)", "real", 0.5, lambda v: S.ExponentialLR(_sgd(), gamma=v)),
    Row("LinearLR(start_factor=)", "real", 0.5, lambda v: S.LinearLR(_sgd(), start_factor=v)),
    Row("LinearLR(end_factor=)", "real", 0.5, lambda v: S.LinearLR(_sgd(), end_factor=v)),
    Row("LinearLR(total_iters=)", "count", 2, lambda v: S.LinearLR(_sgd(), total_iters=v)),
    Row("CosineAnnealingLR(T_max=)", "count", 2, lambda v: S.CosineAnnealingLR(_sgd(), T_max=v)),
    Row(
        "CosineAnnealingLR(eta_min=)",
        "real",
        0.5,
        lambda v: S.CosineAnnealingLR(_sgd(), T_max=2, eta_min=v),
    ),
    Row("CyclicLR(base_lr=)", "real", 0.5, lambda v: S.CyclicLR(_sgd(momentum=0.5), v, 1.0)),
    Row("CyclicLR(max_lr=)", "real", 0.5, lambda v: S.CyclicLR(_sgd(momentum=0.5), 0.1, v)),
    Row(
        "CyclicLR(step_size_up=)",
        "count",
        2,
        lambda v: S.CyclicLR(_sgd(momentum=0.5), 0.1, 1.0, step_size_up=v),
    ),
    Row(
        "CyclicLR(gamma=)",
        "real",
        0.5,
        lambda v: S.CyclicLR(_sgd(momentum=0.5), 0.1, 1.0, mode="exp_range", gamma=v),
    ),
    Row(
        "CyclicLR(base_momentum=)",
        "real",
        0.5,
        lambda v: S.CyclicLR(_sgd(momentum=0.5), 0.1, 1.0, base_momentum=v),
    ),
    Row(
        "CyclicLR(cycle_momentum=)",
        "flag",
        True,
        lambda v: S.CyclicLR(_sgd(momentum=0.5), 0.1, 1.0, cycle_momentum=v),
    ),
    # clipping
    Row(
        "clip_grad_norm_(max_norm)",
        "real",
        0.5,
        lambda v: optim.clip_grad_norm_(_param_with_grad(), v),
    ),
    Row(
        "clip_grad_norm_(norm_type=)",
        "real",
        3.0,
        lambda v: optim.clip_grad_norm_(_param_with_grad(), 1.0, norm_type=v),
    ),
    Row(
        "clip_grad_norm_(error_if_nonfinite=)",
        "flag",
        False,
        lambda v: optim.clip_grad_norm_(_param_with_grad(), 1.0, error_if_nonfinite=v),
    ),
    Row(
        "clip_grad_value_(clip_value)",
        "real",
        0.5,
        lambda v: optim.clip_grad_value_(_param_with_grad(), v),
    ),
    # data
    Row("make_moons(n_samples)", "count", 8, lambda v: make_moons(v)),
    Row("make_moons(noise=)", "real", 0.5, lambda v: make_moons(8, noise=v)),
    Row("make_moons(seed=)", "seed", 3, lambda v: make_moons(8, seed=v)),
    Row("make_circles(n_samples)", "count", 8, lambda v: make_circles(v)),
    Row("make_circles(noise=)", "real", 0.5, lambda v: make_circles(8, noise=v)),
    Row("make_circles(factor=)", "real", 0.5, lambda v: make_circles(8, factor=v)),
    Row("make_spirals(n_samples)", "count", 8, lambda v: make_spirals(v)),
    Row("make_spirals(n_classes=)", "count", 2, lambda v: make_spirals(8, n_classes=v)),
    Row("make_spirals(noise=)", "real", 0.5, lambda v: make_spirals(8, noise=v)),
    Row("make_xor(n)", "count", 8, lambda v: make_xor(v)),
    Row("make_xor(noise=)", "real", 0.5, lambda v: make_xor(8, noise=v)),
    Row("make_house_prices(n_samples)", "count", 8, lambda v: make_house_prices(v)),
    Row("make_house_prices(noise=)", "real", 0.5, lambda v: make_house_prices(8, noise=v)),
    Row("make_house_prices(seed=)", "seed", 3, lambda v: make_house_prices(8, seed=v)),
    Row("train_test_split(test_size=)", "real", 0.5, lambda v: train_test_split(*XOR, test_size=v)),
    Row("train_test_split(seed=)", "seed", 3, lambda v: train_test_split(*XOR, seed=v)),
    Row("batches(batch_size=)", "count", 2, lambda v: list(batches(*XOR, batch_size=v))),
    # training
    Row(
        "fit(epochs=)",
        "count",
        1,
        lambda v: fit(MLP(2, [1], seed=0), *XOR, epochs=v, progress=False),
    ),
    Row("fit(batch_size=)", "count-or-none", 2, lambda v: _fit(batch_size=v)),
    Row("fit(l2=)", "real", 0.5, lambda v: _fit(l2=v)),
    Row("fit(seed=)", "seed", 3, lambda v: _fit(seed=v)),
    Row(
        "fit(progress=)",
        "flag",
        False,
        lambda v: fit(MLP(2, [2, 2], seed=0), *XOR, epochs=1, progress=v),
    ),
    Row("EarlyStopping(patience=)", "count", 2, lambda v: EarlyStopping(patience=v)),
    Row("EarlyStopping(min_delta=)", "real", 0.5, lambda v: EarlyStopping(min_delta=v)),
    # interop, viz, diagnostics, serialization: their first argument
    Row("to_torch(model)", "module", None, lambda v: to_torch(v)),
    Row("save(model, path)", "module", None, lambda v: serialization.save(v, "unused.json")),
    Row("draw_dot(root)", "value", None, lambda v: draw_dot(v)),
    Row("backward_steps(root)", "value", None, lambda v: list(backward_steps(v))),
    Row("clip_grad_value_(params)", "value", None, lambda v: optim.clip_grad_value_([v], 1.0)),
    Row("SGD(params)", "value", None, lambda v: optim.SGD([v], lr=0.1)),
    Row("l2_penalty(params)", "value", None, lambda v: L.l2_penalty([v], 0.1)),
]


def _cases() -> list[Any]:
    """Every row with every wrong input of its kind, and with every accepted form."""
    cases = []
    for row in ROWS:
        for bad in BAD[row.kind]:
            cases.append(pytest.param(row, bad, id=f"{row.what}-{bad.name}"))
    return cases


def _accepted_cases() -> list[Any]:
    cases = []
    for row in ROWS:
        for form in _accepted_forms(row.kind, row.good):
            if form is not None:
                cases.append(pytest.param(row, *form, id=f"{row.what}-{form[0]}"))
    return cases


BAD_CASES = _cases()
ACCEPTED_CASES = _accepted_cases()


def test_the_tables_are_broad() -> None:
    """At least 1,000 wrong calls and 100 accepted ones are generated (the count in the report)."""
    print(f"\n{len(BAD_CASES)} bad calls, {len(ACCEPTED_CASES)} accepted calls, {len(ROWS)} rows")
    assert len(BAD_CASES) >= 1000
    assert len(ACCEPTED_CASES) >= 100


@pytest.mark.parametrize(("row", "bad"), BAD_CASES)
def test_a_wrong_input_is_refused_with_a_message_naming_it(row: Row, bad: Bad) -> None:
    """TypeError naming the type and what is accepted (ValueError for an int too large)."""
    if row.what.startswith("draw_dot"):
        need("graphviz")  # the drawing imports graphviz before it looks at its argument
    with pytest.raises(bad.error) as caught:
        row.call(bad.value)
    message = str(caught.value)
    assert type(caught.value) is not OverflowError
    assert re.search(bad.names, message), f"{row.what}: {message!r} does not name {bad.name}"
    if bad.error is TypeError:
        accepted = ACCEPTED[row.kind]
        assert re.search(accepted, message), f"{row.what}: {message!r} says nothing accepted"


def _comparable(result: Any) -> Any:
    """A call's result reduced to numbers, to compare an accepted form with the float."""
    if isinstance(result, Value):
        return result.data
    if isinstance(result, (list, tuple)):
        return [_comparable(item) for item in result]
    if isinstance(result, (int, float, bool)) or result is None:
        return result
    return type(result).__name__  # an object (a module, an optimizer): that it was built


@pytest.mark.parametrize(("row", "form", "value"), ACCEPTED_CASES)
def test_an_accepted_input_works_like_the_plain_number(row: Row, form: str, value: Any) -> None:
    """Fraction and NumPy scalars are taken as the number they equal."""
    expected = _comparable(row.call(row.good))
    assert _comparable(row.call(value)) == expected


def test_gradcheck_refuses_a_string_input() -> None:
    """gradcheck(f, "3") is a TypeError: inputs are not pushed through float() blindly."""
    with pytest.raises(TypeError, match="str"):
        gradcheck(_square, "3")


def test_serialization_paths_and_models_are_checked(tmp_path) -> None:
    """save/load name the wrong type of path or model."""
    for bad in (None, 3, b"x".decode() and 3.5, LooksLikeAValue()):
        with pytest.raises(TypeError, match=type(bad).__name__):
            serialization.load(bad)
        with pytest.raises(TypeError, match=type(bad).__name__):
            serialization.save(MLP(2, [1], seed=0), bad)
        with pytest.raises(TypeError, match=type(bad).__name__):
            serialization.save(bad, tmp_path / "m.json")
