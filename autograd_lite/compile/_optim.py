"""The optimizers' update rules over a flat parameter buffer, for compiled training.

:class:`autograd_lite.optim.SGD`, ``Adam``, ``AdamW`` and ``RMSprop`` update one Python
float at a time. A compiled training step keeps the parameters in one numpy vector, and
this module applies the same rules to it with a few array operations per parameter
group: the same formulas in the same order (so the same numbers, to the last bit in the
usual case), with hyperparameters read from ``optimizer.param_groups`` at every step (so
schedulers keep working) and state read from, and written back to,
``optimizer.state`` (so ``state_dict()`` keeps working) by :meth:`FlatUpdate.load` and
:meth:`FlatUpdate.store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.engine import Value
from autograd_lite.optim import SGD, Adam, AdamW, RMSprop

__all__ = ["SUPPORTED", "FlatUpdate", "supports"]

SUPPORTED = (SGD, Adam, AdamW, RMSprop)

# The state each optimizer keeps per parameter, with the value a missing entry starts at
# (None: "not created yet", which SGD's momentum buffer distinguishes from 0).
_STATE_KEYS: dict[type, tuple[tuple[str, Any], ...]] = {
    SGD: (("momentum_buffer", None),),
    Adam: (("step", 0), ("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("max_exp_avg_sq", None)),
    AdamW: (("step", 0), ("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("max_exp_avg_sq", None)),
    RMSprop: (
        ("step", 0),
        ("square_avg", 0.0),
        ("grad_avg", None),
        ("momentum_buffer", None),
    ),
}


def supports(optimizer: Any) -> bool:
    """Whether ``optimizer`` is one whose update this module replays (exact types only:
    a subclass may have changed ``step``)."""
    return type(optimizer) in SUPPORTED


class _Group:
    """One parameter group: where its parameters sit in the flat buffer, and its state."""

    __slots__ = ("group", "indices", "opt_indices", "scratch", "span", "state")

    def __init__(self, group: dict[str, Any], indices: np.ndarray, opt_indices: list[int]):
        self.group = group  # the optimizer's own dict: hyperparameters are read live
        self.indices = indices  # positions in the flat buffer
        self.opt_indices = opt_indices  # the optimizer's state keys
        self.state: dict[str, np.ndarray] = {}
        # The step lr * g, written here rather than into a new array at every step.
        self.scratch = np.empty(indices.size)
        # Consecutive positions (the usual case: one group of every parameter) are read
        # and written as a view of the buffer: no gather and scatter of the whole buffer.
        start = int(indices[0]) if indices.size else 0
        consecutive = indices.size and np.array_equal(
            indices, np.arange(start, start + indices.size)
        )
        self.span = slice(start, start + indices.size) if consecutive else None


class FlatUpdate:
    """The update of ``optimizer`` applied to a flat buffer of ``params``' values.

    ``params`` is the order of the buffer. Every parameter the optimizer updates must be
    in it. :meth:`load` reads the optimizer's groups and state (call it again after
    changing them outside, e.g. ``load_state_dict``); :meth:`step` updates the buffer;
    :meth:`store` writes the state back into ``optimizer.state``.
    """

    def __init__(self, optimizer: Any, params: Sequence[Value]) -> None:
        if not supports(optimizer):
            raise TypeError(
                f"compiled training vectorises SGD, Adam, AdamW and RMSprop, "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.kind = type(optimizer)
        self._position = {id(p): k for k, p in enumerate(params)}
        self.groups: list[_Group] = []
        self.load()

    def load(self) -> None:
        """Read the groups' parameters and the optimizer's state into arrays."""
        groups = []
        index = 0
        for group in self.optimizer.param_groups:
            positions, opt_indices = [], []
            for p in group["params"]:
                if p.requires_grad:
                    k = self._position.get(id(p))
                    if k is None:
                        raise ValueError(
                            f"the optimizer updates a parameter ({p!r}) that the compiled "
                            "model does not have; give the optimizer model.parameters()"
                        )
                    positions.append(k)
                    opt_indices.append(index)
                index += 1
            entry = _Group(group, np.array(positions, dtype=np.intp), opt_indices)
            state = self.optimizer.state
            for key, missing in _STATE_KEYS[self.kind]:
                column = [state.get(i, {}).get(key, missing) for i in opt_indices]
                if all(v is None for v in column):
                    continue  # not created yet
                present = np.array([v is not None for v in column])
                values = np.array([0.0 if v is None else float(v) for v in column])
                entry.state[key] = values
                if not present.all():
                    entry.state[key + "?"] = present
            groups.append(entry)
        self.groups = groups

    def store(self) -> None:
        """Write the state arrays back into ``optimizer.state`` (plain floats, as step()'s)."""
        state = self.optimizer.state
        for entry in self.groups:
            for key, values in entry.state.items():
                if key.endswith("?"):
                    continue
                present = entry.state.get(key + "?")
                as_int = key == "step"
                for j, (i, v) in enumerate(zip(entry.opt_indices, values.tolist())):
                    if present is not None and not present[j]:
                        continue
                    state.setdefault(i, {})[key] = int(v) if as_int else v

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """Update ``theta`` in place from ``grad``, as ``optimizer.step()`` would."""
        with np.errstate(all="ignore"):  # nan and inf follow IEEE, as in the float code
            for entry in self.groups:
                if entry.indices.size == 0:
                    continue
                idx = entry.indices if entry.span is None else entry.span
                view = theta[idx]
                g = grad[idx]
                if self.kind is SGD:
                    p = _sgd(entry, view, g)
                elif self.kind is RMSprop:
                    p = _rmsprop(entry, view, g)
                else:
                    p = _adam(entry, view, g)
                if entry.span is None or p is not view:
                    theta[idx] = p


def _sgd(entry: _Group, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    group = entry.group
    lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
    weight_decay = group["weight_decay"]
    if group["maximize"]:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        buffer = entry.state.get("momentum_buffer")
        present = entry.state.pop("momentum_buffer?", None)
        if buffer is None:  # the first step starts the buffer at the gradient itself
            buffer = g + 0.0  # a copy, and +0.0 for a -0.0 gradient, as the engine's sum
        elif present is None:
            # In place, the same roundings: momentum * buffer, then + (1 - dampening) * g.
            buffer *= momentum
            buffer += g if dampening == 0 else (1 - dampening) * g
        else:
            later = momentum * buffer + (1 - dampening) * g
            buffer = np.where(present, later, g)
        entry.state["momentum_buffer"] = buffer
        g = g + momentum * buffer if group["nesterov"] else buffer
    # p - lr * g, written into p when p is a view of the buffer: the same rounding.
    step = np.multiply(g, lr, out=entry.scratch)
    if entry.span is not None:
        p -= step
        return p
    return p - step


def _steps(entry: _Group, n: int) -> Any:
    """Each parameter's step count after this step: an int when all agree, else an array."""
    steps = entry.state.get("step")
    entry.state.pop("step?", None)  # a missing count is 0, as the optimizers start it
    steps = np.zeros(n) + 1 if steps is None else steps + 1
    entry.state["step"] = steps
    first = steps[0]
    return int(first) if (steps == first).all() else steps


def _adam(entry: _Group, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    group = entry.group
    lr = group["lr"]
    beta1, beta2 = group["betas"]
    eps, weight_decay = group["eps"], group["weight_decay"]
    state = entry.state
    if group["maximize"]:
        g = -g
    step = _steps(entry, p.size)
    if weight_decay != 0:
        if group["decoupled_weight_decay"]:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    state.pop("exp_avg?", None)
    state.pop("exp_avg_sq?", None)
    exp_avg = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g
    exp_avg_sq = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    state["exp_avg"] = exp_avg
    state["exp_avg_sq"] = exp_avg_sq
    if isinstance(step, int):  # Python's float powers, as the optimizer computes them
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    else:
        bias_correction1 = 1 - np.power(beta1, step)
        bias_correction2_sqrt = np.power(1 - np.power(beta2, step), 0.5)
    step_size = lr / bias_correction1
    if group["amsgrad"]:
        previous = state.get("max_exp_avg_sq", 0.0)
        present = state.pop("max_exp_avg_sq?", None)
        if present is not None:
            previous = np.where(present, previous, 0.0)
        # np.maximum propagates nan from either side, as the optimizer's _maximum does.
        exp_avg_sq = np.maximum(previous, exp_avg_sq)
        state["max_exp_avg_sq"] = exp_avg_sq
    denominator = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    return p - step_size * (exp_avg / denominator)


def _rmsprop(entry: _Group, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    group = entry.group
    lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
    weight_decay, momentum = group["weight_decay"], group["momentum"]
    state = entry.state
    if group["maximize"]:
        g = -g
    _steps(entry, p.size)
    if weight_decay != 0:
        g = g + weight_decay * p
    state.pop("square_avg?", None)
    square_avg = alpha * state.get("square_avg", 0.0) + (1 - alpha) * g * g
    state["square_avg"] = square_avg
    if group["centered"]:
        previous = state.get("grad_avg", 0.0)
        present = state.pop("grad_avg?", None)
        if present is not None:
            previous = np.where(present, previous, 0.0)
        grad_avg = alpha * previous + (1 - alpha) * g
        state["grad_avg"] = grad_avg
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps  # nan below 0, as _sqrt
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0:
        previous = state.get("momentum_buffer", 0.0)
        present = state.pop("momentum_buffer?", None)
        if present is not None:
            previous = np.where(present, previous, 0.0)
        buffer = momentum * previous + g / avg
        state["momentum_buffer"] = buffer
        return p - lr * buffer
    return p - lr * (g / avg)
