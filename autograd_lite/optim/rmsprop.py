"""RMSprop: gradient steps divided by a running root-mean-square of the gradient.

The update is PyTorch's ``torch.optim.RMSprop``, step for step. For each parameter θ
with gradient g, learning rate γ, smoothing α, eps ε, weight decay λ, momentum μ::

    g ← -g                           if maximize
    g ← g + λ θ                      if λ ≠ 0
    v ← α v + (1 - α) g²
    centered:  ḡ ← α ḡ + (1 - α) g,   d ← √(v - ḡ²) + ε
    otherwise: d ← √v + ε
    μ > 0:     b ← μ b + g / d,       θ ← θ - γ b
    otherwise: θ ← θ - γ g / d

As in PyTorch, ε is added after the square root, and there is no bias correction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from autograd_lite.optim.optimizer import Optimizer, check_flag, check_non_negative, divide

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), optionally centered and with momentum.

    Arguments and update rule are those of ``torch.optim.RMSprop``; ``maximize`` is
    keyword-only. ``eps=0`` is allowed, as in PyTorch: a zero gradient over a zero
    running average then makes the parameter nan (0/0), as PyTorch's tensor does.
    """

    _state_keys = ("step", "square_avg")
    _optional_state_keys = ("grad_avg", "momentum_buffer")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative("lr", group["lr"])
        check_non_negative("alpha", group["alpha"])
        check_non_negative("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_non_negative("momentum", group["momentum"])
        check_flag("centered", group["centered"])
        check_flag("maximize", group["maximize"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter once; return ``closure()``'s loss if a closure is given."""
        loss = self._evaluate(closure)
        state = self.state
        pending = []  # every update is computed before any is applied: see Optimizer
        for group, entries in self._parameters_to_update():
            lr = group["lr"]
            alpha = group["alpha"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            momentum = group["momentum"]
            centered = group["centered"]
            maximize = group["maximize"]
            for index, p, grad in entries:
                param_state = dict(state.get(index) or _INITIAL_STATE)
                if maximize:
                    grad = -grad
                param_state["step"] += 1
                if weight_decay != 0:
                    grad = grad + weight_decay * p.data

                square_avg = alpha * param_state["square_avg"] + (1 - alpha) * grad * grad
                param_state["square_avg"] = square_avg
                if centered:
                    # setdefault: centered or momentum may be switched on after some steps.
                    grad_avg = alpha * param_state.setdefault("grad_avg", 0.0) + (1 - alpha) * grad
                    param_state["grad_avg"] = grad_avg
                    avg = _sqrt(square_avg - grad_avg * grad_avg) + eps
                else:
                    avg = _sqrt(square_avg) + eps  # alpha > 1 can make it negative

                # eps = 0 with a zero gradient is 0/0: nan, as in PyTorch.
                if momentum > 0:
                    buffer = param_state.setdefault("momentum_buffer", 0.0)
                    buffer = momentum * buffer + divide(grad, avg)
                    param_state["momentum_buffer"] = buffer
                    data = p.data - lr * buffer
                else:
                    data = p.data - lr * divide(grad, avg)
                pending.append((index, p, data, param_state))
        self._apply(pending)
        return loss


_INITIAL_STATE = {"step": 0, "square_avg": 0.0}


def _sqrt(x: float) -> float:
    """Square root that gives nan below 0 (as a tensor's sqrt does) instead of raising.

    ``v - ḡ²`` is never negative in exact arithmetic, but rounding could make it so, and
    ``v`` itself can be negative with ``alpha > 1``, which PyTorch allows.
    """
    return math.sqrt(x) if x >= 0 else math.nan
