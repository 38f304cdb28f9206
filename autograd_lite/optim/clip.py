"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``, as in ``torch.nn.utils``.

Both change ``.grad`` in place (hence the trailing underscore) and skip parameters with
``requires_grad=False``. A ``.grad`` that is a ``Value`` (after ``create_graph=True``) is
read through its ``.data`` and replaced by the clipped float: clipping is not
differentiated.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from autograd_lite.engine import Value
from autograd_lite.optim.optimizer import as_real, check_flag

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

# PyTorch adds this to the norm before dividing, so a zero norm never divides by zero.
_NORM_EPS = 1e-6


def clip_grad_norm_(
    parameters: Value | Iterable[Value],
    max_norm: float,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as one vector: ``(Σ |g|^p)^(1/p)``, or
    ``max |g|`` for ``norm_type=inf`` (or ``"inf"``). Gradients are multiplied by
    ``min(1, max_norm / (norm + 1e-6))``, PyTorch's rule, so the direction is kept.
    Returns the total norm *before* clipping (0.0 for no parameters). A ``nan`` or
    infinite norm raises ``RuntimeError`` if ``error_if_nonfinite``; otherwise the
    gradients become ``nan`` (or 0 for finite entries of an infinite norm), as in PyTorch.
    """
    params = _trainable(parameters, "clip_grad_norm_")
    max_norm = _non_negative(max_norm, "max_norm")
    p = _norm_order(norm_type)
    check_flag("error_if_nonfinite", error_if_nonfinite)
    grads = [_grad_as_float(param) for param in params]
    total = _total_norm(grads, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}, so they cannot "
            "be clipped; pass error_if_nonfinite=False to let them through"
        )
    coefficient = max_norm / (total + _NORM_EPS)
    # As PyTorch, multiply even when the coefficient is clamped to 1 (a no-op on numbers),
    # and let a nan coefficient through: the gradients then show the problem.
    if coefficient > 1.0:
        coefficient = 1.0
    for param, grad in zip(params, grads):
        param.grad = grad * coefficient
    return total


def clip_grad_value_(parameters: Value | Iterable[Value], clip_value: float) -> None:
    """Clamp every gradient into ``[-clip_value, clip_value]``, each on its own."""
    params = _trainable(parameters, "clip_grad_value_")
    limit = _non_negative(clip_value, "clip_value")
    grads = [_grad_as_float(param) for param in params]  # all read before any is changed
    for param, grad in zip(params, grads):
        # Written with comparisons so that a nan gradient stays nan, as torch.clamp keeps it.
        if grad > limit:
            grad = limit
        elif grad < -limit:
            grad = -limit
        param.grad = grad


def _trainable(parameters: Any, where: str) -> list[Value]:
    if isinstance(parameters, Value):
        parameters = [parameters]
    elif isinstance(parameters, (str, bytes, dict)) or not isinstance(parameters, Iterable):
        raise TypeError(
            f"{where}() expected a Value or an iterable of Values, got {type(parameters).__name__}"
        )
    params = list(parameters)
    for param in params:
        if not isinstance(param, Value):
            raise TypeError(f"{where}() expected Values, got {type(param).__name__}")
    return [param for param in params if param.requires_grad]


def _non_negative(value: Any, name: str) -> float:
    number = as_real(name, value)
    if not number >= 0:  # also refuses nan
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def _norm_order(norm_type: Any) -> float:
    if norm_type == "inf":
        return math.inf
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(
            f"norm_type must be a positive real number or inf, got {type(norm_type).__name__}"
        )
    p = as_real("norm_type", norm_type)
    if not p > 0:
        raise ValueError(f"norm_type must be a positive number or inf, got {norm_type!r}")
    return p


def _total_norm(grads: list[float], p: float) -> float:
    """The p-norm of ``grads`` as one vector, without overflow for large entries."""
    magnitudes = [abs(g) for g in grads]
    if not magnitudes:
        return 0.0
    if any(m != m for m in magnitudes):
        return math.nan
    largest = max(magnitudes)
    if p == math.inf or largest == math.inf or largest == 0.0:
        return largest
    if p == 2.0:
        return math.hypot(*magnitudes)  # accurate and free of overflow
    # Divide by the largest entry first so |g|^p cannot overflow (or underflow to 0).
    return largest * math.fsum((m / largest) ** p for m in magnitudes) ** (1.0 / p)


def _grad_as_float(param: Value) -> float:
    grad = param.grad
    return grad.data if isinstance(grad, Value) else as_real("a parameter's .grad", grad)
