"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``zero_grad``, and
a JSON-serialisable ``state_dict``.

It follows ``torch.optim.Optimizer`` closely, so PyTorch training loops read the same:

* ``Optimizer(params, defaults)`` takes an iterable of parameters (``Value`` leaves), an
  iterable of ``(name, Value)`` pairs such as ``model.named_parameters()``, or a list of
  dicts, each a *parameter group* with a ``"params"`` entry and its own hyperparameters
  (a key missing from a group is taken from ``defaults``).
* ``param_groups`` is that list of dicts; schedulers change ``group["lr"]`` in place.
* ``state`` holds per-parameter state (step counts, running averages) as plain floats in
  dicts keyed by the parameter's *index*: its position when the groups' ``"params"``
  lists are read one after the other. ``state_dict()`` is therefore plain data that
  ``json.dumps`` accepts, and ``load_state_dict`` accepts it back after a JSON round trip
  (whose object keys come back as strings).

Differences from PyTorch, all forced by scalars:

* ``zero_grad()`` sets each gradient to ``0.0``. PyTorch's ``set_to_none`` has no meaning
  here: a ``Value``'s ``.grad`` is always a number.
* Every parameter that requires grad is updated on every ``step()``, also one whose
  gradient is ``0.0`` because it took no part in the loss (PyTorch skips a tensor whose
  ``.grad`` is ``None``, a state a ``Value`` does not have). Parameters with
  ``requires_grad=False`` are skipped, as frozen tensors are in PyTorch.
* A ``.grad`` that is itself a ``Value`` (after ``backward(create_graph=True)``) is read
  through its ``.data``: the update is a step on numbers and is not differentiated.

A step is all or nothing: every gradient is read and every new value and state computed
before any parameter changes, so an error (a ``.grad`` that is not a number, say) leaves
the parameters and the state as they were. ``load_state_dict`` likewise checks the whole
saved state before taking any of it.
"""

from __future__ import annotations

import copy
import math
import numbers
import sys
from collections.abc import Callable, Iterable
from typing import Any

from autograd_lite.engine import Value, enable_grad

__all__ = ["Optimizer"]

# The keys of a parameter group that hold parameters rather than hyperparameters.
_PARAMS_KEY = "params"
_NAMES_KEY = "param_names"


class Optimizer:
    """Base class of the optimizers: holds the parameter groups and the per-parameter state.

    Subclasses implement :meth:`step` (with :meth:`_parameters_to_update`) and
    :meth:`_check_group`, which validates one group's hyperparameters; it runs for the
    defaults and for every group added, so a bad value in any group is caught early.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if not isinstance(defaults, dict):
            raise TypeError(f"defaults must be a dict, got {type(defaults).__name__}")
        self.defaults: dict[str, Any] = dict(defaults)
        self.state: dict[int, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []

        groups = _as_list_of_groups(params)
        if not groups:
            raise ValueError("the optimizer got an empty parameter list; pass model.parameters()")
        for group in groups:
            self.add_param_group(group)

    # ---- groups -------------------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (as after fine-tuning starts).

        Keys missing from ``param_group`` are taken from the optimizer's defaults. A
        parameter may belong to one group only.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if _PARAMS_KEY not in param_group:
            raise ValueError('a parameter group needs a "params" entry: {"params": [...], ...}')
        group = dict(param_group)
        params, names = _as_parameters(group[_PARAMS_KEY])
        if not params:
            raise ValueError("a parameter group needs at least one parameter")
        group[_PARAMS_KEY] = params
        if names is not None:
            group[_NAMES_KEY] = names
        elif _NAMES_KEY in group:
            group.pop(_NAMES_KEY)

        seen = {id(p) for existing in self.param_groups for p in existing[_PARAMS_KEY]}
        in_this_group: set[int] = set()
        for p in params:
            if id(p) in seen:
                raise ValueError(
                    f"parameter {_describe(p)} is already in another parameter group; "
                    "a parameter may belong to one group only"
                )
            if id(p) in in_this_group:
                raise ValueError(f"parameter {_describe(p)} appears twice in the same group")
            in_this_group.add(id(p))

        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_group(group)
        self.param_groups.append(group)

    # The per-parameter state a subclass keeps: keys every entry has, and keys it may have.
    # load_state_dict refuses entries without the first or with anything else, so a step
    # never meets a state it cannot use.
    _state_keys: tuple[str, ...] = ()
    _optional_state_keys: tuple[str, ...] = ()

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError or TypeError if a hyperparameter of ``group`` is out of range."""

    def _parameters_to_update(
        self,
    ) -> list[tuple[dict[str, Any], list[tuple[int, Value, float]]]]:
        """For each group: the group, and (index, parameter, gradient) for each parameter
        that requires grad. The gradient is read as a float (``.grad.data`` for a Value).

        Every gradient is read before the step changes anything, so a bad one stops the
        step before it starts.
        """
        index = 0
        updates = []
        for group in self.param_groups:
            entries = []
            for p in group[_PARAMS_KEY]:
                if p.requires_grad:
                    entries.append((index, p, _grad_as_float(p, index)))
                index += 1
            updates.append((group, entries))
        return updates

    def _apply(self, pending: list[tuple[int, Value, float, dict[str, Any] | None]]) -> None:
        """Write the new values and states a step computed (None: keeps no state)."""
        state = self.state
        for index, p, data, param_state in pending:
            p.data = data
            if param_state is not None:
                state[index] = param_state

    # ---- the training-loop API --------------------------------------------------------------

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter once from its ``.grad``; return ``closure()``'s loss if given."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    @staticmethod
    def _evaluate(closure: Callable[[], Any] | None) -> Any:
        """Call the closure (which recomputes the loss and gradients) with grad recording on."""
        if closure is None:
            return None
        if not callable(closure):
            raise TypeError(f"step(closure) expected a callable, got {type(closure).__name__}")
        with enable_grad():
            return closure()

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0.0 (there is no ``set_to_none``: see module doc)."""
        for group in self.param_groups:
            for p in group[_PARAMS_KEY]:
                p.grad = 0.0

    # ---- saving and loading -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as plain data (``json.dumps`` accepts it).

        ``{"state": {index: {name: number}}, "param_groups": [{hyperparameters...,
        "params": [indices]}]}``, as in PyTorch. The parameters themselves are not saved,
        only their positions: save the model's ``state_dict()`` alongside.
        """
        groups = []
        index = 0
        for group in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != _PARAMS_KEY}
            count = len(group[_PARAMS_KEY])
            saved[_PARAMS_KEY] = list(range(index, index + count))
            index += count
            groups.append(saved)
        state = {i: dict(entry) for i, entry in sorted(self.state.items())}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state saved by :meth:`state_dict` (possibly through JSON).

        The optimizer must hold the same number of groups with the same number of
        parameters each; hyperparameters (including ``lr``) are taken from the saved
        state, the parameters stay those of this optimizer. Everything is checked before
        anything is taken: a malformed state raises TypeError or ValueError saying what is
        wrong (KeyError for a missing top-level key) and leaves the optimizer unchanged.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"load_state_dict() expected a dict, got {type(state_dict).__name__}")
        missing = {"state", "param_groups"} - state_dict.keys()
        if missing:
            raise KeyError(f"the optimizer state_dict is missing {sorted(missing)}")
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list):
            raise TypeError(
                f"the saved 'param_groups' must be a list, got {type(saved_groups).__name__}"
            )
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the saved state has {len(saved_groups)} parameter groups, this optimizer "
                f"has {len(self.param_groups)}"
            )
        index_map: dict[int, int] = {}
        new_groups = []
        for number, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            saved_indices = _saved_indices(saved, number)
            if len(saved_indices) != len(group[_PARAMS_KEY]):
                raise ValueError(
                    f"parameter group {number} has {len(group[_PARAMS_KEY])} parameters but "
                    f"the saved group has {len(saved_indices)}"
                )
            for saved_index in saved_indices:
                if saved_index in index_map:
                    raise ValueError(f"the saved parameter groups list index {saved_index} twice")
                index_map[saved_index] = len(index_map)
            absent = [key for key in self.defaults if key not in saved]
            if absent:
                raise ValueError(f"saved parameter group {number} is missing {absent}")
            restored = {k: _from_json(k, _plain_copy(k, v, number)) for k, v in saved.items()}
            restored[_PARAMS_KEY] = group[_PARAMS_KEY]
            restored.pop(_NAMES_KEY, None)
            if _NAMES_KEY in group:
                restored[_NAMES_KEY] = group[_NAMES_KEY]
            self._check_group(restored)
            new_groups.append(restored)

        saved_state = state_dict["state"]
        if not isinstance(saved_state, dict):
            raise TypeError(f"the saved 'state' must be a dict, got {type(saved_state).__name__}")
        new_state: dict[int, dict[str, Any]] = {}
        for key, entry in saved_state.items():
            saved_index = _state_index(key)
            if saved_index not in index_map:
                raise ValueError(
                    f"the saved state refers to parameter {saved_index}, not in any group"
                )
            new_state[index_map[saved_index]] = self._checked_state_entry(entry, saved_index)
        self.param_groups = new_groups
        self.state = new_state

    def _checked_state_entry(self, entry: Any, index: int) -> dict[str, Any]:
        """One parameter's saved state, checked to hold what :meth:`step` reads."""
        if not isinstance(entry, dict):
            raise TypeError(
                f"the saved state of parameter {index} must be a dict, got {type(entry).__name__}"
            )
        absent = [key for key in self._state_keys if key not in entry]
        known = (*self._state_keys, *self._optional_state_keys)
        unexpected = [key for key in entry if key not in known]
        if absent or unexpected:
            raise ValueError(
                f"the saved state of parameter {index} is missing {absent} and has unexpected "
                f"{unexpected[:10]}; {type(self).__name__} keeps {list(known)}"
            )
        checked: dict[str, Any] = {}
        for key, value in entry.items():
            what = f"the saved {key!r} of parameter {index}"
            if key == "step":
                # Bounded, because the update raises beta to this power.
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"{what} must be an int, got {type(value).__name__}")
                if not 0 <= value <= sys.maxsize:
                    raise ValueError(f"{what} must be from 0 to sys.maxsize, got {value!r:.40}")
                checked[key] = value
            else:
                checked[key] = as_real(what, value)
        return checked

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            for key in sorted(group):
                if key not in (_PARAMS_KEY, _NAMES_KEY):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Helpers shared by the optimizers
# --------------------------------------------------------------------------------------


def _as_list_of_groups(params: Any) -> list[Any]:
    if isinstance(params, Value):
        raise TypeError(
            "params must be an iterable of Values or of dicts, got a single Value; "
            "wrap it in a list: [x]"
        )
    if hasattr(params, "parameters") and callable(params.parameters):
        raise TypeError(
            f"params must be an iterable of Values or of dicts, got a {type(params).__name__}; "
            "pass model.parameters()"
        )
    if isinstance(params, (dict, str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(
            f"params must be an iterable of Values or of dicts, got {type(params).__name__}"
        )
    items = list(params)
    if items and all(isinstance(item, dict) for item in items):
        return items
    if any(isinstance(item, dict) for item in items):
        raise TypeError("params must be all Values or all parameter-group dicts, not a mixture")
    return [{_PARAMS_KEY: items}] if items else []


def _as_parameters(params: Any) -> tuple[list[Value], list[str] | None]:
    """A group's parameters as a list, and their names if given as (name, Value) pairs."""
    if isinstance(params, Value):
        return [params], None
    if isinstance(params, (dict, str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(
            f'a group\'s "params" must be a Value or an iterable of Values, '
            f"got {type(params).__name__}"
        )
    items = list(params)
    named = [isinstance(item, tuple) and len(item) == 2 for item in items]
    if items and all(named):
        names = [name for name, _ in items]
        values = [value for _, value in items]
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"a parameter name must be a str, got {type(name).__name__}")
    elif any(named):
        raise TypeError("params must be all Values or all (name, Value) pairs, not a mixture")
    else:
        names, values = None, items
    for value in values:
        if not isinstance(value, Value):
            raise TypeError(f"an optimizer can only update Values, got {type(value).__name__}")
        if not value.is_leaf:
            raise ValueError(
                f"cannot optimize {_describe(value)}: it is computed from other Values "
                f"(op {value.op!r}); pass leaf parameters such as model.parameters()"
            )
    return values, names


def _describe(p: Value) -> str:
    return f"Value(data={p.data:.6g}, label={p.label!r})" if p.label else f"Value({p.data:.6g})"


def _grad_as_float(p: Value, index: int) -> float:
    grad = p.grad
    if type(grad) is float:
        return grad
    if isinstance(grad, Value):  # after backward(create_graph=True): step on the number
        return grad.data
    return as_real(f"the gradient of parameter {index}", grad)


def _saved_indices(saved: Any, number: int) -> list[int]:
    """The parameter indices a saved group lists."""
    if not isinstance(saved, dict):
        raise TypeError(
            f"saved parameter group {number} must be a dict, got {type(saved).__name__}"
        )
    if _PARAMS_KEY not in saved:
        raise ValueError(f"saved parameter group {number} has no 'params' list")
    indices = saved[_PARAMS_KEY]
    if not isinstance(indices, list):
        raise TypeError(
            f"the 'params' of saved parameter group {number} must be a list, "
            f"got {type(indices).__name__}"
        )
    for item in indices:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(
                f"the 'params' of saved parameter group {number} must hold int indices, "
                f"got {type(item).__name__}"
            )
    return indices


def _plain_copy(key: Any, value: Any, number: int) -> Any:
    """A copy of a saved hyperparameter, which is a number, bool, str, None or a flat list
    of them (``betas``); anything deeper is refused rather than deep-copied, so a hostile
    state cannot reach the recursion limit."""
    scalars = (int, float, str, type(None))
    if isinstance(value, scalars):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(item, scalars) for item in value):
        return list(value)
    raise TypeError(
        f"hyperparameter {key!r:.40} of saved parameter group {number} must be a number, "
        f"bool, str, None or a flat list of them, got {type(value).__name__}"
    )


def _state_index(key: Any) -> int:
    """A key of the saved state: an int, or its decimal string after a JSON round trip."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 20:
        return int(key)
    raise ValueError(f"the saved state key {key!r:.40} is not a parameter index")


def _from_json(key: str, value: Any) -> Any:
    """Undo what JSON does to a hyperparameter: tuples such as ``betas`` come back as lists."""
    if key == "betas" and isinstance(value, list):
        return tuple(value)
    return value


def as_real(name: str, value: Any) -> float:
    """``value`` (a real number other than bool) as a float; nan passes.

    TypeError naming the type for anything else (str, None, complex, Decimal, arrays),
    ValueError for an int too large for a float.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = "; use .item() for a one-element array" if hasattr(value, "shape") else ""
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}{hint}")
    try:
        return float(value)
    except OverflowError:
        digits = int(int(value).bit_length() * math.log10(2))
        raise ValueError(
            f"{name}: got an int of about 10**{digits}; it does not fit in a float"
        ) from None


def divide(a: float, b: float) -> float:
    """``a / b`` with IEEE 754's answers for ``b == 0`` (±inf, or nan for 0/0), as a
    tensor division gives; the update rules divide by ``√v + eps``, 0 when eps is 0."""
    if b:
        return a / b
    if a != a or a == 0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def check_real(name: str, value: Any) -> float:
    """``value`` as a float, or a TypeError naming ``name`` and the type received."""
    value = as_real(name, value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    return value


def check_non_negative(name: str, value: Any) -> None:
    """Raise unless ``value`` is a real number >= 0."""
    if check_real(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_unit_interval(name: str, value: Any) -> None:
    """Raise unless ``value`` is a real number in [0, 1)."""
    number = check_real(name, value)
    if not 0.0 <= number < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


def check_flag(name: str, value: Any) -> None:
    """Raise unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type_name(value)}")


def type_name(value: Any) -> str:
    """The type's name, qualified when it would read as a builtin (``numpy.bool``)."""
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__name__
    return f"{kind.__module__.split('.')[0]}.{kind.__name__}"
