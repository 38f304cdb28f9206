"""Loss functions for one sample, numerically stable and with PyTorch's definitions.

Each function takes one sample's prediction and target and returns a Value (a plain
float if no Value was passed in). Averaging over a batch is the caller's job::

    loss = sum_values(cross_entropy(model(x), y) for x, y in batch) / len(batch)

Stability: ``binary_cross_entropy_with_logits`` uses ``softplus`` and
``cross_entropy`` uses ``logsumexp``, so both stay finite for logits of ±1000 and their
gradients are ``sigmoid(z) - y`` and ``softmax(z) - onehot(y)`` without cancellation.
A prediction may be a Value, a number, or a one-element list of them (what a
``Layer`` with one neuron returns).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any, overload

from autograd_lite.engine import Value, dot, logsumexp, relu, softplus, sum_values

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge",
    "l2_penalty",
    "mse",
    "multiclass_hinge",
]

_SCALAR = "a Value or a real number"

# What a prediction or target may be (a Value, a number, or a list of them), and the
# overloads' promise: a Value comes out whenever a Value went in, a float otherwise.
_Values = Value | Sequence[Value]
_Floats = float | Sequence[float]


def _check_scalar(x: Any, what: str) -> Any:
    """A Value as itself, a real number as a float (so NumPy scalars compute as floats)."""
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return _float(x, what)
    hint = "; use .item() for a one-element array" if hasattr(x, "shape") else ""
    raise TypeError(f"{what} must be {_SCALAR}, got {type(x).__name__}{hint}")


def _float(x: numbers.Real, what: str) -> float:
    try:
        return float(x)
    except OverflowError:
        digits = int(int(x).bit_length() * math.log10(2))
        raise ValueError(
            f"{what}: got an int of about 10**{digits}; it does not fit in a float"
        ) from None


def _as_list(x: Any, what: str) -> list[Any]:
    """A scalar as a one-element list; a list of scalars as itself (checked)."""
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError(f"{what} is empty")
        return [_check_scalar(item, f"each entry of {what}") for item in x]
    return [_check_scalar(x, what)]


def _one(x: Any, what: str) -> Any:
    """A single scalar from a scalar or a one-element list."""
    items = _as_list(x, what)
    if len(items) != 1:
        raise ValueError(f"{what} must be a single value, got a list of {len(items)}")
    return items[0]


def _label(y: Any, what: str) -> float:
    """A target label as a float; Values are refused (labels carry no gradient)."""
    if isinstance(y, (Value, bool)) or not isinstance(y, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(y).__name__}")
    return _float(y, what)


@overload
def mse(pred: _Values, target: Any) -> Value: ...
@overload
def mse(pred: Any, target: _Values) -> Value: ...
@overload
def mse(pred: _Floats, target: _Floats) -> float: ...
@overload
def mse(pred: Any, target: Any) -> Value | float: ...
def mse(pred: Any, target: Any) -> Value | float:
    """Squared error ``(pred - target)**2``; for lists the mean over entries (as torch).

    ``pred`` and ``target`` are scalars or lists of the same length.
    """
    preds = _as_list(pred, "pred")
    targets = _as_list(target, "target")
    if len(preds) != len(targets):
        raise ValueError(
            f"mse: pred has {len(preds)} entries but target has {len(targets)}; they must match"
        )
    differences = [p - t for p, t in zip(preds, targets)]
    if len(differences) == 1:
        d = differences[0]
        return d * d
    # Sum of squares as one dot node of the differences with themselves.
    return dot(differences, differences) * (1.0 / len(differences))


@overload
def binary_cross_entropy_with_logits(logit: _Values, target: Any) -> Value: ...
@overload
def binary_cross_entropy_with_logits(logit: Any, target: _Values) -> Value: ...
@overload
def binary_cross_entropy_with_logits(logit: _Floats, target: _Floats) -> float: ...
@overload
def binary_cross_entropy_with_logits(logit: Any, target: Any) -> Value | float: ...
def binary_cross_entropy_with_logits(logit: Any, target: Any) -> Value | float:
    """``-[y log σ(z) + (1 - y) log(1 - σ(z))]`` for a logit ``z`` and ``y`` in [0, 1].

    Computed as ``softplus(z) - y z``: finite for any finite logit, with gradient
    ``σ(z) - y``. Soft targets between 0 and 1 are allowed.
    """
    z = _one(logit, "logit")
    y = _label(target, "target")
    if not 0.0 <= y <= 1.0:
        raise ValueError(f"binary cross-entropy needs a target in [0, 1], got {target!r}")
    return softplus(z) + (-y) * z


@overload
def cross_entropy(logits: Sequence[Value], target: int) -> Value: ...
@overload
def cross_entropy(logits: Sequence[float], target: int) -> float: ...
@overload
def cross_entropy(logits: Sequence[Any], target: int) -> Value | float: ...
def cross_entropy(logits: Sequence[Any], target: int) -> Value | float:
    """Softmax cross-entropy ``logsumexp(logits) - logits[target]`` for a class index.

    Computed as ``logsumexp(logits - logits[target])``: the same function, without the
    cancellation of two huge numbers (``cross_entropy([1e16, 1e16], 0)`` is exactly
    ``log 2``, not 0). Differences beyond the float range make it ``inf``.
    """
    if not isinstance(logits, (list, tuple)):
        raise TypeError(
            f"cross_entropy expects logits as a list of Values (one per class), "
            f"got {type(logits).__name__}"
        )
    scores = _as_list(logits, "logits")
    index = _class_index(target, len(scores), "cross_entropy")
    minus_target = -scores[index]
    return logsumexp([s + minus_target for s in scores])


def _class_index(target: Any, n_classes: int, who: str) -> int:
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(
            f"{who}: target must be an int class index, got {type(target).__name__}"
            + (f" {target!r}; convert it with int()" if isinstance(target, numbers.Real) else "")
        )
    if not 0 <= target < n_classes:
        shown = (
            target
            if int(target).bit_length() < 64
            else f"(an int of {int(target).bit_length()} bits)"
        )
        raise ValueError(
            f"{who}: class index {shown} is out of range for {n_classes} classes "
            f"(expected 0 to {n_classes - 1})"
        )
    return int(target)


@overload
def hinge(score: _Values, target_pm1: Any) -> Value: ...
@overload
def hinge(score: Any, target_pm1: _Values) -> Value: ...
@overload
def hinge(score: _Floats, target_pm1: _Floats) -> float: ...
@overload
def hinge(score: Any, target_pm1: Any) -> Value | float: ...
def hinge(score: Any, target_pm1: Any) -> Value | float:
    """micrograd's SVM loss ``relu(1 - y * score)`` for a label ``y`` of -1 or +1."""
    s = _one(score, "score")
    y = _label(target_pm1, "target")
    if y not in (-1.0, 1.0):
        raise ValueError(
            f"hinge needs a target of -1 or +1, got {target_pm1!r}; map 0/1 labels with 2*y - 1"
        )
    return relu(1.0 + (-y) * s)


@overload
def multiclass_hinge(scores: Sequence[Value], target: int) -> Value: ...
@overload
def multiclass_hinge(scores: Sequence[float], target: int) -> float: ...
@overload
def multiclass_hinge(scores: Sequence[Any], target: int) -> Value | float: ...
def multiclass_hinge(scores: Sequence[Any], target: int) -> Value | float:
    """``sum over i != y of max(0, 1 - s[y] + s[i])``, divided by the number of classes.

    The same as ``torch.nn.functional.multi_margin_loss`` (margin 1, p = 1).
    """
    if not isinstance(scores, (list, tuple)):
        raise TypeError(
            f"multiclass_hinge expects a list of scores (one per class), "
            f"got {type(scores).__name__}"
        )
    values = _as_list(scores, "scores")
    if len(values) < 2:
        raise ValueError(f"multiclass_hinge needs at least 2 classes, got {len(values)}")
    index = _class_index(target, len(values), "multiclass_hinge")
    margin = 1.0 - values[index]
    terms = [relu(margin + s) for i, s in enumerate(values) if i != index]
    return sum_values(terms) * (1.0 / len(values))


def l2_penalty(params: Iterable[Value], alpha: float) -> Value:
    """``alpha * sum(p * p)`` over the parameters, the sum being one ``dot`` node."""
    values = list(params)
    for index, p in enumerate(values):
        if not isinstance(p, Value):
            raise TypeError(f"l2_penalty: parameter {index} is a {type(p).__name__}, not a Value")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"l2_penalty: alpha must be a real number, got {type(alpha).__name__}")
    alpha = _float(alpha, "l2_penalty: alpha")
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"l2_penalty: alpha must be finite and >= 0, got {alpha!r}")
    if not values:
        return Value(0.0, requires_grad=False)
    return float(alpha) * dot(values, values)
