"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

The update is PyTorch's ``torch.optim.SGD``, step for step. For each parameter θ with
gradient g, learning rate γ, momentum μ, dampening τ and weight decay λ::

    g ← -g                      if maximize
    g ← g + λ θ                 if λ ≠ 0
    b ← g                       on the first step with μ ≠ 0
    b ← μ b + (1 - τ) g         on later steps
    g ← g + μ b  if nesterov,  else  g ← b      (when μ ≠ 0)
    θ ← θ - γ g

(This is the Sutskever form of momentum: the learning rate multiplies the buffer, not
the gradient inside it, which differs from some textbooks when γ changes during training.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from autograd_lite.optim.optimizer import (
    Optimizer,
    check_flag,
    check_non_negative,
    check_real,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and weight decay.

    ``SGD(model.parameters(), lr=0.1, momentum=0.9)``. Arguments and update rule are those
    of ``torch.optim.SGD``. ``weight_decay``, ``nesterov`` and ``maximize`` are keyword-only:
    PyTorch puts ``weight_decay`` before ``nesterov`` in the positional order, and making
    them keywords means no call can silently swap the two.
    """

    _optional_state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        *,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative("lr", group["lr"])
        check_non_negative("momentum", group["momentum"])
        check_real("dampening", group["dampening"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_flag("nesterov", group["nesterov"])
        check_flag("maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening == 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter once; return ``closure()``'s loss if a closure is given."""
        loss = self._evaluate(closure)
        state = self.state
        pending = []  # every update is computed before any is applied: see Optimizer
        for group, entries in self._parameters_to_update():
            lr = group["lr"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            weight_decay = group["weight_decay"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            for index, p, grad in entries:
                param_state = None  # no momentum: no state to write
                if maximize:
                    grad = -grad
                if weight_decay != 0:
                    grad = grad + weight_decay * p.data
                if momentum != 0:
                    param_state = dict(state.get(index, {}))  # written once the step is computed
                    buffer = param_state.get("momentum_buffer")
                    # The first step starts the buffer at the gradient itself (no dampening).
                    buffer = grad if buffer is None else momentum * buffer + (1 - dampening) * grad
                    param_state["momentum_buffer"] = buffer
                    grad = grad + momentum * buffer if nesterov else buffer
                pending.append((index, p, p.data - lr * grad, param_state))
        self._apply(pending)
        return loss
