"""Bad input to every public engine function and constructor: the error names what was given.

The input policy (one for the whole library): numbers are ``Value``, ``int``, ``float``
or any other ``numbers.Real`` (``Fraction``, NumPy real scalars, ``bool``); anything else
is a ``TypeError`` naming the type received and what is accepted, an int too large for a
float is a ``ValueError`` saying so, and flags accept only ``bool``. Every function in
``autograd_lite.engine.__all__`` that takes an argument is called with every kind of
wrong input in every number slot; ``CALLS_TRIED`` counts the calls, for the report.
"""

from __future__ import annotations

import decimal
import fractions
import math
import re
from collections.abc import Callable
from typing import Any

import pytest

import autograd_lite as al
from autograd_lite import Value, engine
from tests.optional import need

np = need("numpy")
torch = need("torch")


class LooksLikeAValue:
    """Has .data, .grad and ._prev, as a Value does; is not one."""

    data = 2.0
    grad = 0.0
    requires_grad = True
    _prev = ()


# (kind, value, type name the message must contain)
NOT_NUMBERS = [
    ("str", "3", "str"),
    ("bytes", b"3", "bytes"),
    ("None", None, "NoneType"),
    ("complex", 1 + 2j, "complex"),
    ("Decimal", decimal.Decimal("3"), "Decimal"),
    ("numpy 0-d array", np.array(2.0), "ndarray"),
    ("numpy array", np.array([2.0, 3.0]), "ndarray"),
    ("torch tensor", torch.tensor(2.0, dtype=torch.float64), "Tensor"),
    ("object with .data", LooksLikeAValue(), "LooksLikeAValue"),
    ("list", [2.0], "list"),
]
ACCEPTED_NUMBERS = [
    ("Fraction", fractions.Fraction(1, 4)),
    ("numpy float64", np.float64(0.25)),
    ("numpy float32", np.float32(0.25)),
    ("numpy int64", np.int64(2)),
    ("bool", True),
    ("int", 2),
]
HUGE = 10**400
NOT_BOOLS = [("str", "no"), ("int", 1), ("None", None), ("float", 1.0), ("numpy bool", np.bool_(1))]

# Every number slot of every public engine function: name -> call with `bad` in the slot.
x = Value(0.5)
NUMBER_SLOTS: dict[str, Callable[[Any], Any]] = {
    "Value(data)": lambda bad: Value(bad),
    "exp(x)": lambda bad: al.exp(bad),
    "log(x)": lambda bad: al.log(bad),
    "tanh(x)": lambda bad: al.tanh(bad),
    "sigmoid(x)": lambda bad: al.sigmoid(bad),
    "relu(x)": lambda bad: al.relu(bad),
    "leaky_relu(x)": lambda bad: al.leaky_relu(bad),
    "leaky_relu(x, slope)": lambda bad: al.leaky_relu(x, bad),
    "Value.leaky_relu(slope)": lambda bad: x.leaky_relu(bad),
    "softplus(x)": lambda bad: al.softplus(bad),
    "sin(x)": lambda bad: al.sin(bad),
    "cos(x)": lambda bad: al.cos(bad),
    "sqrt(x)": lambda bad: al.sqrt(bad),
    "abs_(x)": lambda bad: al.abs_(bad),
    "power(base)": lambda bad: al.power(bad, 2.0),
    "power(exponent)": lambda bad: al.power(x, bad),
    "sum_values(values)": lambda bad: al.sum_values([x, bad]),
    "logsumexp(values)": lambda bad: al.logsumexp([x, bad]),
    "softmax(values)": lambda bad: al.softmax([x, bad]),
    "dot(weights)": lambda bad: al.dot([bad], [x]),
    "dot(inputs)": lambda bad: al.dot([x], [bad]),
    "dot(bias)": lambda bad: al.dot([x], [x], bad),
    "dense(weights)": lambda bad: al.dense([[bad]], [x]),
    "dense(inputs)": lambda bad: al.dense([[x]], [bad]),
    "dense(biases)": lambda bad: al.dense([[x]], [x], [bad]),
    "dense(fused weights)": lambda bad: al.dense([[bad]], [x], None, Value.relu, fuse=True),
    "dense(fused inputs)": lambda bad: al.dense([[x]], [bad], None, Value.relu, fuse=True),
    "Value + bad": lambda bad: x + bad,
    "Value - bad": lambda bad: x - bad,
    "Value * bad": lambda bad: x * bad,
    "Value / bad": lambda bad: x / bad,
    "Value ** bad": lambda bad: x**bad,
    "backward(gradient)": lambda bad: (x * x).backward(bad),
    "gradients(grad_outputs)": lambda bad: al.gradients(x * x, [x], grad_outputs=[bad]),
    "Primitive call": lambda bad: engine.DOT_RELU(x, bad),
    "primitive() call": lambda bad: al.primitive("cube", lambda v: v**3, lambda v, o: (3 * v**2,))(
        bad
    ),
}
# Numbers on the left go through the Value's reflected operator (NumPy arrays and tensors
# on the left run their own operator first, so they are not in this list).
LEFT_SLOTS: dict[str, Callable[[Any], Any]] = {
    "bad + Value": lambda bad: bad + x,
    "bad - Value": lambda bad: bad - x,
    "bad * Value": lambda bad: bad * x,
    "bad / Value": lambda bad: bad / x,
    "bad ** Value": lambda bad: bad**x,
}
FLAG_SLOTS: dict[str, Callable[[Any], Any]] = {
    "Value(requires_grad)": lambda bad: Value(1.0, requires_grad=bad),
    "gradients(create_graph)": lambda bad: al.gradients(x * x, [x], create_graph=bad),
    "backward(create_graph)": lambda bad: (x * x).backward(create_graph=bad),
    "dense(fuse)": lambda bad: al.dense([[x]], [x], fuse=bad),
    "topological_order(requires_grad_only)": lambda bad: al.topological_order(
        x, requires_grad_only=bad
    ),
}
# Arguments that must be Values or strings, not numbers.
OTHER_SLOTS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "gradients(outputs)": (lambda bad: al.gradients([bad], [x]), "Values"),
    "gradients(inputs)": (lambda bad: al.gradients(x * x, [bad]), "Values"),
    "topological_order(roots)": (lambda bad: al.topological_order([bad]), "Values"),
    "name_scope(name)": (lambda bad: al.name_scope(bad), "str"),
    "Value(label)": (lambda bad: Value(1.0, label=bad), "str"),
    "Value(_children)": (lambda bad: Value(1.0, (bad,)), "Values"),
    "Primitive(name)": (lambda bad: al.Primitive(bad, abs, abs), "str"),
    "primitive(forward)": (lambda bad: al.primitive("p", bad, abs), "callable"),
    "dense(names)": (lambda bad: al.dense([[x]], [x], names=[bad]), "str"),
}

# Slots where None means "not given".
OPTIONAL_SLOTS = frozenset({"backward(gradient)", "dot(bias)", "dense(biases)"})
CALLS_TRIED = 0


def _call(function: Callable[[Any], Any], bad: Any) -> pytest.ExceptionInfo[BaseException]:
    global CALLS_TRIED
    CALLS_TRIED += 1
    with pytest.raises((TypeError, ValueError)) as info:
        function(bad)
    return info


@pytest.mark.parametrize("slot", sorted(NUMBER_SLOTS))
@pytest.mark.parametrize(("kind", "bad", "type_name"), NOT_NUMBERS, ids=[k[0] for k in NOT_NUMBERS])
def test_number_slots_refuse_non_numbers(slot: str, kind: str, bad: Any, type_name: str) -> None:
    """Each number slot raises TypeError naming the type given and 'a Value or a real number'."""
    if bad is None and slot in OPTIONAL_SLOTS:
        return  # None is the documented default there (no bias, seed 1)
    info = _call(NUMBER_SLOTS[slot], bad)
    message = str(info.value)
    assert info.type is TypeError, f"{slot} with {kind}: {info.type.__name__}: {message}"
    assert type_name in message and "real number" in message, f"{slot} with {kind}: {message}"


@pytest.mark.parametrize("slot", sorted(LEFT_SLOTS))
@pytest.mark.parametrize(
    ("kind", "bad", "type_name"),
    [n for n in NOT_NUMBERS if n[0] not in ("numpy 0-d array", "numpy array", "torch tensor")],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_operators_refuse_non_numbers_on_the_left(
    slot: str, kind: str, bad: Any, type_name: str
) -> None:
    """'3' + x and friends raise TypeError naming the type given and what is accepted."""
    info = _call(LEFT_SLOTS[slot], bad)
    message = str(info.value)
    assert info.type is TypeError and type_name in message and "real number" in message, message


@pytest.mark.parametrize("slot", sorted(NUMBER_SLOTS | LEFT_SLOTS))
def test_number_slots_refuse_huge_ints_with_value_error(slot: str) -> None:
    """10**400 in any number slot is a ValueError saying it does not fit in a float."""
    info = _call((NUMBER_SLOTS | LEFT_SLOTS)[slot], HUGE)
    assert info.type is ValueError and "does not fit in a float" in str(info.value), str(info.value)


@pytest.mark.parametrize("slot", sorted(NUMBER_SLOTS | LEFT_SLOTS))
@pytest.mark.parametrize(("kind", "number"), ACCEPTED_NUMBERS, ids=[k[0] for k in ACCEPTED_NUMBERS])
def test_number_slots_accept_every_real_number(slot: str, kind: str, number: Any) -> None:
    """Fractions, NumPy real scalars and bools are numbers, converted with float()."""
    global CALLS_TRIED
    CALLS_TRIED += 1
    try:
        result = (NUMBER_SLOTS | LEFT_SLOTS)[slot](number)
    except ValueError as error:  # a domain error (log of a negative) is fine: not a type error
        assert re.search(r"defined for|no real value|negative base", str(error)), str(error)
        return
    values = result if isinstance(result, list) else [result]
    for value in values:
        if isinstance(value, Value):
            assert isinstance(value.data, float)


@pytest.mark.parametrize("slot", sorted(FLAG_SLOTS))
@pytest.mark.parametrize(("kind", "bad"), NOT_BOOLS, ids=[k[0] for k in NOT_BOOLS])
def test_flags_accept_only_bool(slot: str, kind: str, bad: Any) -> None:
    """requires_grad=, create_graph=, fuse= ... refuse non-bools with a TypeError naming it."""
    info = _call(FLAG_SLOTS[slot], bad)
    message = str(info.value)
    assert info.type is TypeError and "bool" in message and type(bad).__name__ in message, message


@pytest.mark.parametrize("slot", sorted(OTHER_SLOTS))
@pytest.mark.parametrize(
    ("kind", "bad", "type_name"),
    [("float", 2.0, "float"), ("None", None, "NoneType"), ("tensor", torch.tensor(1.0), "Tensor")],
    ids=["float", "None", "tensor"],
)
def test_other_slots_name_the_type_and_what_is_accepted(
    slot: str, kind: str, bad: Any, type_name: str
) -> None:
    """Values-only, str-only and callable-only arguments say what they got and what they take."""
    function, accepted = OTHER_SLOTS[slot]
    info = _call(function, bad)
    message = str(info.value)
    assert info.type is TypeError, f"{slot}: {info.type.__name__}: {message}"
    assert accepted in message and (type_name in message or repr(bad) in message), message


def test_number_messages_suggest_item_for_arrays_and_tensors() -> None:
    """A 0-d array or a tensor is refused with a hint: take its number with .item()."""
    for bad in (np.array(2.0), torch.tensor(2.0)):
        with pytest.raises(TypeError, match=r"\.item\(\)"):
            al.exp(bad)


def test_no_nan_or_value_is_built_from_bad_input() -> None:
    """A refused call leaves no half-built graph: x keeps no new gradient, grad mode is on."""
    y = Value(1.0)
    with pytest.raises(TypeError):
        al.exp(torch.tensor(2.0))
    (y * y).backward()
    assert y.grad == 2.0 and al.is_grad_enabled() and not math.isnan(y.data)


def test_count_of_bad_calls_tried() -> None:
    """Runs last in this module: the bad-input calls above number in the hundreds."""
    expected = (
        len(NUMBER_SLOTS) * len(NOT_NUMBERS)
        - len(OPTIONAL_SLOTS)
        + len(LEFT_SLOTS) * (len(NOT_NUMBERS) - 3)
        + len(NUMBER_SLOTS | LEFT_SLOTS) * (1 + len(ACCEPTED_NUMBERS))
        + len(FLAG_SLOTS) * len(NOT_BOOLS)
        + len(OTHER_SLOTS) * 3
    )
    print(f"\nbad-input calls for the engine: {expected} (tried in this run: {CALLS_TRIED})")
    assert expected >= 500
