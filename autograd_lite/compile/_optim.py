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
        # Arrays (one entry per parameter), and "step" as an int while every count agrees.
        self.state: dict[str, Any] = {}
        # Two arrays the rules write their intermediate terms into, as they write the
        # state arrays where they lie: from a few thousand parameters on, a new array per
        # term (allocated, then written for the first time) costs a good part of the
        # update's time, and Adam has a dozen terms.
        self.scratch = (np.empty(indices.size), np.empty(indices.size))
        # Consecutive positions (the usual case: one group of every parameter) are read
        # and written as a view of the buffer: no gather and scatter of the whole buffer.
        start = int(indices[0]) if indices.size else 0
        consecutive = indices.size and np.array_equal(
            indices, np.arange(start, start + indices.size)
        )
        self.span = slice(start, start + indices.size) if consecutive else None

    def running(self, key: str) -> np.ndarray:
        """The state array ``key``, made of zeros if the optimizer has not created it (its
        start value): the rules update it in place. A mask of the entries that were
        missing is dropped: they were loaded as that same start value."""
        self.state.pop(key + "?", None)
        values = self.state.get(key)
        if values is None:
            values = self.state[key] = np.zeros(self.indices.size)
        return values


class FlatUpdate:
    """The update of ``optimizer`` applied to a flat buffer of ``params``' values.

    ``params`` is the order of the buffer. Every parameter the optimizer updates must be
    in it. :meth:`load` reads the optimizer's groups and state (call it again after
    changing them outside, e.g. ``load_state_dict``); :meth:`step` updates the buffer;
    :meth:`store` writes the state back into ``optimizer.state``.

    Each rule computes the optimizer's formula term by term, in its order, each term
    rounded once as the float code rounds it, writing into the state arrays and two
    scratch arrays in place: the same numbers without a new array per term.
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
        """Write the state back into ``optimizer.state`` (plain floats, as step()'s)."""
        state = self.optimizer.state
        for entry in self.groups:
            for key, values in entry.state.items():
                if key.endswith("?"):
                    continue
                present = entry.state.get(key + "?")
                if isinstance(values, int):  # a step count that every parameter shares
                    values = [values] * len(entry.opt_indices)
                else:
                    values = [int(v) for v in values.tolist()] if key == "step" else values.tolist()
                for j, (i, v) in enumerate(zip(entry.opt_indices, values)):
                    if present is not None and not present[j]:
                        continue
                    state.setdefault(i, {})[key] = v

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """Update ``theta`` in place from ``grad``, as ``optimizer.step()`` would."""
        with np.errstate(all="ignore"):  # nan and inf follow IEEE, as in the float code
            for entry in self.groups:
                if entry.indices.size == 0:
                    continue
                idx = entry.indices if entry.span is None else entry.span
                # A view of theta for a span, else a copy: the rules write it in place.
                p = theta[idx]
                g = grad[idx]  # the caller's gradient: read, never written
                if np.may_share_memory(g, theta):
                    g = g.copy()  # the rules write p before they are done reading g
                if self.kind is SGD:
                    _sgd(entry, p, g)
                elif self.kind is RMSprop:
                    _rmsprop(entry, p, g)
                else:
                    _adam(entry, p, g)
                if entry.span is None:
                    theta[idx] = p


def _sgd(entry: _Group, p: np.ndarray, g: np.ndarray) -> None:
    group = entry.group
    lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
    weight_decay = group["weight_decay"]
    term, step = entry.scratch
    if group["maximize"]:
        g = np.negative(g, out=step)
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=term)
        g = np.add(g, term, out=step)
    if momentum != 0:
        buffer = entry.state.get("momentum_buffer")
        present = entry.state.pop("momentum_buffer?", None)
        if buffer is None:  # the first step starts the buffer at the gradient itself
            buffer = g + 0.0  # a copy, and +0.0 for a -0.0 gradient, as the engine's sum
        elif present is None:
            # momentum * buffer, then + (1 - dampening) * g.
            buffer *= momentum
            buffer += g if dampening == 0 else np.multiply(g, 1 - dampening, out=term)
        else:
            later = momentum * buffer + (1 - dampening) * g
            buffer = np.where(present, later, g)
        entry.state["momentum_buffer"] = buffer
        if group["nesterov"]:
            np.multiply(buffer, momentum, out=term)
            g = np.add(g, term, out=step)
        else:
            g = buffer
    p -= np.multiply(g, lr, out=step)  # p - lr * g


def _steps(entry: _Group) -> Any:
    """Each parameter's step count after this step: an int when all agree, else an array."""
    steps = entry.state.get("step", 0)
    entry.state.pop("step?", None)  # a missing count is 0, as the optimizers start it
    if isinstance(steps, int):
        steps += 1
    else:
        steps = steps + 1
        if (steps == steps[0]).all():
            steps = int(steps[0])
    entry.state["step"] = steps
    return steps


def _adam(entry: _Group, p: np.ndarray, g: np.ndarray) -> None:
    group = entry.group
    lr = group["lr"]
    beta1, beta2 = group["betas"]
    eps, weight_decay = group["eps"], group["weight_decay"]
    term, other = entry.scratch
    if group["maximize"]:
        g = np.negative(g, out=other)
    step = _steps(entry)
    if weight_decay != 0:
        if group["decoupled_weight_decay"]:
            p *= 1 - lr * weight_decay
        else:
            np.multiply(p, weight_decay, out=term)
            g = np.add(g, term, out=other)
    exp_avg = entry.running("exp_avg")  # beta1 * exp_avg + (1 - beta1) * g
    exp_avg *= beta1
    exp_avg += np.multiply(g, 1 - beta1, out=term)
    exp_avg_sq = entry.running("exp_avg_sq")  # beta2 * exp_avg_sq + (1 - beta2) * g * g
    exp_avg_sq *= beta2
    np.multiply(g, 1 - beta2, out=term)
    exp_avg_sq += np.multiply(term, g, out=term)
    if isinstance(step, int):  # Python's float powers, as the optimizer computes them
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    else:
        bias_correction1 = 1 - np.power(beta1, step)
        bias_correction2_sqrt = np.power(1 - np.power(beta2, step), 0.5)
    step_size = lr / bias_correction1
    if group["amsgrad"]:
        # np.maximum propagates nan from either side, as the optimizer's _maximum does.
        maximum = entry.running("max_exp_avg_sq")
        exp_avg_sq = np.maximum(maximum, exp_avg_sq, out=maximum)
    # p - step_size * (exp_avg / (sqrt(exp_avg_sq) / bias_correction2_sqrt + eps))
    denominator = np.sqrt(exp_avg_sq, out=term)
    denominator /= bias_correction2_sqrt
    denominator += eps
    ratio = np.divide(exp_avg, denominator, out=term)
    p -= np.multiply(ratio, step_size, out=term)


def _rmsprop(entry: _Group, p: np.ndarray, g: np.ndarray) -> None:
    group = entry.group
    lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
    weight_decay, momentum = group["weight_decay"], group["momentum"]
    term, other = entry.scratch
    if group["maximize"]:
        g = np.negative(g, out=other)
    _steps(entry)
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=term)
        g = np.add(g, term, out=other)
    square_avg = entry.running("square_avg")  # alpha * square_avg + (1 - alpha) * g * g
    square_avg *= alpha
    np.multiply(g, 1 - alpha, out=term)
    square_avg += np.multiply(term, g, out=term)
    if group["centered"]:
        grad_avg = entry.running("grad_avg")  # alpha * grad_avg + (1 - alpha) * g
        grad_avg *= alpha
        grad_avg += np.multiply(g, 1 - alpha, out=term)
        # sqrt(square_avg - grad_avg * grad_avg) + eps: nan below 0, as _sqrt gives
        np.multiply(grad_avg, grad_avg, out=term)
        avg = np.sqrt(np.subtract(square_avg, term, out=term), out=term)
    else:
        avg = np.sqrt(square_avg, out=term)
    avg += eps
    ratio = np.divide(g, avg, out=term)
    if momentum > 0:
        buffer = entry.running("momentum_buffer")  # momentum * buffer + g / avg
        buffer *= momentum
        buffer += ratio
        p -= np.multiply(buffer, lr, out=term)  # p - lr * buffer
    else:
        p -= np.multiply(ratio, lr, out=term)  # p - lr * (g / avg)
