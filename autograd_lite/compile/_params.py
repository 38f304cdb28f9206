"""The parameters a compiled loss was traced with, and a cheap test that the model still has them.

A compiled program reads its parameters by position in the list ``compile_loss`` took from
the model. A parameter *replaced* afterwards (``neuron.w[0] = Value(5.0)``, a new layer)
would be silently ignored: the program would go on reading and training the old Value. So
every call first checks that the model still holds the same Values, and refuses otherwise.

Walking ``named_parameters()`` costs microseconds per parameter in Python, more than a
whole compiled step. For a :class:`~autograd_lite.nn.Module` whose parameters are found by
the default walk, the check instead compares, in C, every place that walk reads (each
module's attribute dict and each list in it) with a shallow copy taken when the list was
read: identical objects compare equal without calling ``__eq__``, so an unchanged model
costs one pointer comparison per parameter. Only when something differs (a replaced
Value, or merely ``model.eval()`` changing an attribute) is the list walked again and
compared with the traced one. Any other model with ``parameters()`` is asked for them at
every call, as the documentation promises.
"""

from __future__ import annotations

import operator
from typing import Any

from autograd_lite.engine import Value

__all__ = ["ParameterWatch", "named_parameters"]


def named_parameters(model: Any) -> tuple[list[Value], list[str]]:
    """The model's parameters and their names, as the compiled loss numbers them."""
    if hasattr(model, "named_parameters"):
        named = list(model.named_parameters())
        return [p for _, p in named], [name for name, _ in named]
    if hasattr(model, "parameters"):
        params = list(model.parameters())
        return params, [str(i) for i in range(len(params))]
    return [], []


def _default_walk(model: Any) -> bool:
    """Whether ``named_parameters`` is the Module walk over public attributes and lists."""
    from autograd_lite.nn import Module

    return isinstance(model, Module) and type(model).named_parameters is Module.named_parameters


def _containers(model: Any) -> list[Any]:
    """Every dict and list the Module walk reads parameters from (modules' dicts, nested lists)."""
    found: list[Any] = []
    for module in model.modules():
        attributes = vars(module)
        found.append(attributes)
        stack = [v for k, v in attributes.items() if not k.startswith("_")]
        while stack:
            item = stack.pop()
            if isinstance(item, (list, tuple)):
                if isinstance(item, list):
                    found.append(item)
                stack.extend(child for child in item if isinstance(child, (list, tuple)))
    return found


class ParameterWatch:
    """Refuses a call once the model no longer holds the Values the program was compiled for."""

    __slots__ = ("_containers", "_copies", "_default", "model", "names", "params")

    def __init__(self, model: Any, params: list[Value], names: list[str]) -> None:
        self.model = model
        self.params = params
        self.names = names
        self._default = _default_walk(model)
        self._containers: list[Any] = []
        self._copies: list[Any] = []
        if self._default:
            self._snapshot()

    def _snapshot(self) -> None:
        self._containers = _containers(self.model)
        self._copies = [c.copy() for c in self._containers]

    def _unchanged(self) -> bool:
        try:
            return bool(self._containers == self._copies)  # in C: identity, then __eq__
        except Exception:  # an attribute whose __eq__ refuses (an array): it did change
            return False

    def check(self) -> None:
        """Raise ``RuntimeError`` naming the first parameter replaced since compiling."""
        if self._default and self._unchanged():
            return
        if not self._default and not hasattr(self.model, "parameters"):
            return  # a plain callable: its leaves are read at every call anyway
        current, _ = named_parameters(self.model)
        if len(current) == len(self.params) and all(map(operator.is_, current, self.params)):
            if self._default:
                self._snapshot()  # something else changed (a mode, an attribute): fine
            return
        raise RuntimeError(self._message(current))

    def _message(self, current: list[Value]) -> str:
        position = next(
            (k for k, (a, b) in enumerate(zip(self.params, current)) if a is not b),
            min(len(self.params), len(current)),
        )
        if position < len(self.params):
            what = f"parameter {self.names[position]!r} (number {position})"
        else:
            what = f"the parameter list (now {len(current)} long, was {len(self.params)})"
        return (
            f"{what} of the model was replaced after compile_loss traced it: the compiled "
            "loss would go on reading and training the Values it was compiled with. Call "
            "compile_loss again (and give the optimizer the new parameters), or change "
            "weights in place (p.data = ...) instead of replacing them"
        )
