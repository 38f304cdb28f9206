"""Adam and AdamW: gradient steps scaled by running averages of the gradient and its square.

The updates are PyTorch's ``torch.optim.Adam`` and ``torch.optim.AdamW``, step for step.
For each parameter θ with gradient g, learning rate γ, betas (β₁, β₂), eps ε, weight
decay λ, at step t = 1, 2, ...::

    g ← -g                              if maximize
    Adam:   g ← g + λ θ                 (L2 penalty: the decay goes through m and v)
    AdamW:  θ ← θ - γ λ θ               (decoupled: the decay bypasses m and v)
    m ← β₁ m + (1 - β₁) g
    v ← β₂ v + (1 - β₂) g²
    v_max ← max(v_max, v)               if amsgrad (and v_max replaces v below)
    θ ← θ - γ / (1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + ε)

Note where ε sits: added to the bias-corrected √v̂, as PyTorch does (not to √v).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from autograd_lite.optim.optimizer import (
    Optimizer,
    check_flag,
    check_non_negative,
    check_unit_interval,
    divide,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), optionally AMSGrad; arguments as ``torch.optim.Adam``.

    ``weight_decay`` adds ``λ θ`` to the gradient (an L2 penalty). For decoupled weight
    decay use :class:`AdamW` (the same as ``decoupled_weight_decay=True``). ``eps=0`` is
    allowed, as in PyTorch: a parameter whose gradient has always been 0 then becomes
    nan (0/0), where PyTorch's tensor does too.
    """

    _state_keys = ("step", "exp_avg", "exp_avg_sq")
    _optional_state_keys = ("max_exp_avg_sq",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative("lr", group["lr"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = tuple(betas)
        check_unit_interval("betas[0]", betas[0])
        check_unit_interval("betas[1]", betas[1])
        check_non_negative("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_flag("amsgrad", group["amsgrad"])
        check_flag("maximize", group["maximize"])
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter once; return ``closure()``'s loss if a closure is given."""
        loss = self._evaluate(closure)
        state = self.state
        pending = []  # every update is computed before any is applied: see Optimizer
        for group, entries in self._parameters_to_update():
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for index, p, grad in entries:
                param_state = dict(state.get(index) or _INITIAL_STATE)
                if amsgrad:
                    # setdefault: amsgrad may be switched on in a group after some steps.
                    param_state.setdefault("max_exp_avg_sq", 0.0)
                if maximize:
                    grad = -grad
                step = param_state["step"] + 1
                param_state["step"] = step

                data = p.data
                if weight_decay != 0:
                    if decoupled:
                        data = data * (1 - lr * weight_decay)
                    else:
                        grad = grad + weight_decay * data

                exp_avg = beta1 * param_state["exp_avg"] + (1 - beta1) * grad
                exp_avg_sq = beta2 * param_state["exp_avg_sq"] + (1 - beta2) * grad * grad
                param_state["exp_avg"] = exp_avg
                param_state["exp_avg_sq"] = exp_avg_sq

                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2**0.5
                if amsgrad:
                    exp_avg_sq = _maximum(param_state["max_exp_avg_sq"], exp_avg_sq)
                    param_state["max_exp_avg_sq"] = exp_avg_sq
                denominator = math.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
                # eps = 0 with a zero gradient is 0/0: nan, as in PyTorch.
                pending.append(
                    (index, p, data - step_size * divide(exp_avg, denominator), param_state)
                )
        self._apply(pending)
        return loss


_INITIAL_STATE = {"step": 0, "exp_avg": 0.0, "exp_avg_sq": 0.0}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019); as ``torch.optim.AdamW``.

    The decay shrinks each parameter by ``lr * weight_decay`` of itself every step, outside
    the running averages, so it is not rescaled by them; the default is 1e-2.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )


def _maximum(a: float, b: float) -> float:
    """max(a, b) that propagates nan from either side (Python's max() keeps ``a``)."""
    if a != a or b != b:
        return a + b
    return a if a >= b else b
