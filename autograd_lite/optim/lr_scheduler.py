"""Learning-rate schedules that drive an optimizer, as in ``torch.optim.lr_scheduler``.

A scheduler changes ``group["lr"]`` of its optimizer's parameter groups. Call
``scheduler.step()`` once per epoch (or per batch for :class:`CyclicLR`), *after*
``optimizer.step()``::

    optimizer = SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)
        scheduler.step()

Creating a scheduler already takes its first step (epoch 0): it records each group's
starting rate as ``group["initial_lr"]`` (``base_lrs``) and sets the epoch-0 rate.

The rates follow PyTorch's ``step()`` exactly, including where PyTorch updates the rate
*recursively* from the current ``group["lr"]`` rather than from a closed form (StepLR,
ExponentialLR, LinearLR, CosineAnnealingLR): the two agree while the scheduler is alone,
but the recursive form also composes with other changes to ``group["lr"]``.
``state_dict()`` is plain data that ``json.dumps`` accepts (functions such as LambdaLR's
``lr_lambda`` are not saved: pass them again to the constructor).
"""

from __future__ import annotations

import copy
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import Any

from autograd_lite.optim.optimizer import Optimizer, as_real, check_flag

__all__ = [
    "CosineAnnealingLR",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "StepLR",
]


class LRScheduler:
    """Base class: subclasses implement :meth:`get_lr`, the rates for ``self.last_epoch``.

    ``last_epoch`` is the index of the latest epoch (-1 before the constructor's first
    step). Pass ``last_epoch >= 0`` only when resuming: the optimizer's groups must then
    already hold ``"initial_lr"`` (load the optimizer's ``state_dict`` first).
    """

    # Attributes that are not saved by state_dict(): the optimizer and functions.
    _not_saved: tuple[str, ...] = ("optimizer",)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"a scheduler drives an autograd_lite.optim Optimizer, "
                f"got {type(optimizer).__name__}"
            )
        last_epoch = _int_at_least(last_epoch, "last_epoch", -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for number, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param_groups[{number}] has no 'initial_lr', needed to resume with "
                        f"last_epoch={last_epoch}; load the optimizer's state_dict first"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # The constructor's step sets the epoch-0 rate; some rules need to know it is that one.
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of each group for ``self.last_epoch`` (called by :meth:`step`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def step(self) -> None:
        """Advance one epoch and write the new rate into every parameter group."""
        self._step_count += 1
        self.last_epoch += 1
        rates = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, rates):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates set by the latest :meth:`step`, one per parameter group."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (epoch counter, base rates, settings) as plain data."""
        return {
            key: copy.deepcopy(value)
            for key, value in vars(self).items()
            if key not in self._not_saved and not key.startswith("_is_")
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state saved by :meth:`state_dict` (possibly through JSON)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"load_state_dict() expected a dict, got {type(state_dict).__name__}")
        expected = self.state_dict().keys()
        unexpected = sorted(set(state_dict) - expected)
        missing = sorted(expected - set(state_dict))
        if unexpected or missing:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict(): unexpected keys {unexpected}, "
                f"missing keys {missing}"
            )
        for key, value in state_dict.items():
            setattr(self, key, copy.deepcopy(value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``; one function, or one per parameter group."""

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        groups = _param_groups_of(optimizer)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(groups):
                raise ValueError(
                    f"expected {len(groups)} lr_lambdas (one per parameter group), "
                    f"got {len(lr_lambda)}"
                )
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * len(groups)
        for function in lambdas:
            if not callable(function):
                raise TypeError(
                    f"lr_lambda must be a function of the epoch, got {type(function).__name__}"
                )
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """``base_lr * lr_lambda(last_epoch)`` for each group."""
        return [
            base_lr * function(self.last_epoch)
            for function, base_lr in zip(self.lr_lambdas, self.base_lrs)
        ]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _positive_int(step_size, "step_size")
        self.gamma = _real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current rate, times ``gamma`` when the epoch is a non-zero multiple of step_size."""
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current rate times ``gamma`` (unchanged at the constructor's step)."""
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class LinearLR(LRScheduler):
    """Scale the rate by a factor going linearly from ``start_factor`` to ``end_factor``.

    Over ``total_iters`` epochs; then the rate stays at ``initial_lr * end_factor``. The
    usual use is a warm-up: ``LinearLR(optimizer, start_factor=0.1, total_iters=5)``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        start_factor = _real(start_factor, "start_factor")
        end_factor = _real(end_factor, "end_factor")
        if not 0 < start_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = _positive_int(total_iters, "total_iters")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """PyTorch's recursive form: each epoch multiplies the rate by the ratio of factors."""
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (
            self.total_iters * self.start_factor + (self.last_epoch - 1) * change
        )
        return [lr * ratio for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Anneal the rate from ``initial_lr`` to ``eta_min`` along half a cosine over ``T_max`` epochs.

    In closed form ``eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``;
    like PyTorch's ``step()`` the rate is computed recursively from the current one, and
    after ``T_max`` epochs it climbs back up (the cosine continues; there is no restart).
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _positive_int(T_max, "T_max")
        self.eta_min = _real(eta_min, "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """PyTorch's recursive cosine step (with its special case at the bottom of the curve)."""
        epoch, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            # Just past the minimum the ratio below would be 0/0; step up from the bottom.
            return [
                lr + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                for base_lr, lr in zip(self.base_lrs, self._current_lrs())
            ]
        ratio = (1 + math.cos(math.pi * epoch / t_max)) / (
            1 + math.cos(math.pi * (epoch - 1) / t_max)
        )
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


class CyclicLR(LRScheduler):
    """Cycle the rate between ``base_lr`` and ``max_lr`` (Smith, 2017); step once per batch.

    A cycle is ``step_size_up`` steps rising linearly, then ``step_size_down`` (default:
    the same) falling. ``mode`` scales the amplitude: ``"triangular"`` keeps it,
    ``"triangular2"`` halves it every cycle, ``"exp_range"`` multiplies it by
    ``gamma ** iteration``; or pass ``scale_fn(x)`` in [0, 1] of the cycle number
    (``scale_mode="cycle"``) or of the iteration (``"iterations"``).

    With ``cycle_momentum=True`` (the default, as in PyTorch) momentum moves inversely,
    between ``max_momentum`` (at ``base_lr``) and ``base_momentum`` (at ``max_lr``): the
    groups' ``"momentum"``, or ``betas[0]`` for Adam. Note that this *overwrites* the
    optimizer's momentum, even an SGD created with momentum 0; pass
    ``cycle_momentum=False`` to leave it alone. A custom ``scale_fn`` is not saved by
    ``state_dict()``; pass it to the constructor again.
    """

    _not_saved = ("optimizer", "_scale_fn_custom")

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        groups = _param_groups_of(optimizer)
        base_lrs = _per_group(base_lr, "base_lr", len(groups))
        self.max_lrs = _per_group(max_lr, "max_lr", len(groups))
        if last_epoch == -1:
            for lr, group in zip(base_lrs, groups):
                group["lr"] = lr

        up = float(_positive_int(step_size_up, "step_size_up"))
        down = up
        if step_size_down is not None:
            down = float(_positive_int(step_size_down, "step_size_down"))
        self.total_size = up + down
        self.step_ratio = up / self.total_size

        if scale_fn is None and mode not in _CYCLIC_MODES:
            raise ValueError(
                f"mode must be one of {_CYCLIC_MODES} (or pass scale_fn), got {mode!r}"
            )
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"scale_fn must be callable, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        self.mode = mode
        self.gamma = _real(gamma, "gamma")
        self._scale_fn_custom = scale_fn
        # The built-in modes fix the scale mode, as in PyTorch.
        if scale_fn is None:
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.scale_mode = scale_mode

        check_flag("cycle_momentum", cycle_momentum)
        self.cycle_momentum = cycle_momentum
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"cycle_momentum=True needs an optimizer with momentum or betas; "
                    f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(base_momentum, "base_momentum", len(groups))
            self.max_momentums = _per_group(max_momentum, "max_momentum", len(groups))
            if last_epoch == -1:
                for high, low, group in zip(self.max_momentums, self.base_momentums, groups):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude scale for cycle number or iteration ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def get_lr(self) -> list[float]:
        """The rate at position ``last_epoch`` of the cycle (and, as a side effect, momentum)."""
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)

        rates = [
            base_lr + (max_lr - base_lr) * scale_factor * scale
            for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)
        ]
        if self.cycle_momentum:
            for group, low, high in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums
            ):
                self._set_momentum(group, high - (high - low) * scale_factor * scale)
        return rates


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------


def _param_groups_of(optimizer: Any) -> list[dict[str, Any]]:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"a scheduler drives an autograd_lite.optim Optimizer, got {type(optimizer).__name__}"
        )
    return optimizer.param_groups


def _real(value: Any, name: str) -> float:
    return as_real(name, value)


def _positive_int(value: Any, name: str) -> int:
    return _int_at_least(value, name, 1)


def _int_at_least(value: Any, name: str, minimum: int) -> int:
    """An int (not bool, not float) from ``minimum`` to ``sys.maxsize``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if value > sys.maxsize:
        raise ValueError(
            f"{name} must be at most sys.maxsize ({sys.maxsize}), got an int of "
            f"{int(value).bit_length()} bits"
        )
    return int(value)


def _per_group(value: Any, name: str, count: int) -> list[float]:
    """One value per parameter group: a number is repeated, a sequence must match in length."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(
                f"{name} has {len(value)} values but the optimizer has {count} parameter groups"
            )
        return [_real(v, name) for v in value]
    return [_real(value, name)] * count
