"""``Module``: the base class of every network part, with PyTorch's names and semantics.

A module finds its parameters and sub-modules by looking at its own attributes, in the
order they were assigned: a ``Value`` is a parameter, a ``Module`` is a child, and lists
or tuples of them (nested to any depth) are walked item by item. Names are the dotted
attribute paths, so ``MLP.layers[0].neurons[3].w[1]`` is ``"layers.0.neurons.3.w.1"``.
Attributes whose names start with ``_`` are private and never walked.

Calling a module runs ``forward`` inside ``name_scope(module.scope_name)``, so every node
the call creates records which module made it: ``("MLP", "Layer[0]", "Neuron[3]")``. A
module stored in a list is named with its index when the list is assigned to the parent
(a list changed in place later, by ``append`` say, is renumbered by assigning it again).

Code written for micrograd, which subclasses ``Module`` and overrides ``__call__`` and
``parameters()`` without calling ``super().__init__()``, works unchanged.
"""

from __future__ import annotations

import inspect
import numbers
import random
from collections.abc import Iterator, Mapping
from typing import Any

from autograd_lite.engine import Value, name_scope

__all__ = [
    "MAX_NESTING",
    "Module",
    "config_arguments",
    "module_from_spec",
    "module_spec",
    "register_module",
    "registered_modules",
    "spec_parameter_count",
]

# How deeply modules may nest in a spec (a Residual around a Sequential around ... ); a
# saved file deeper than this is refused before anything is built, so a hostile file
# cannot reach Python's recursion limit in the recursive parts (construction, forward).
MAX_NESTING = 32


class Module:
    """Base class: parameters, sub-modules, train/eval mode, state dicts, scoped calls.

    Subclasses define ``forward(*inputs)`` and, to be saved with
    :func:`autograd_lite.serialization.save`, ``config()`` (their constructor arguments)
    and the ``@register_module`` decorator.
    """

    # Class attributes, so modules whose __init__ never calls super().__init__() have them.
    training: bool = True
    _scope_name: str = "Module"  # each subclass's own name; list items get "Name[i]"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._scope_name = cls.__name__

    def __setattr__(self, name: str, value: Any) -> None:
        # Stamp list items with their index once, at assignment, so the hot forward path
        # never has to work out its own scope name.
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, Module):
                    object.__setattr__(item, "_scope_name", f"{type(item).__name__}[{index}]")
        object.__setattr__(self, name, value)

    # ---- calling -----------------------------------------------------------------------

    @property
    def scope_name(self) -> str:
        """The name this module's nodes are tagged with: ``"Layer[0]"``, or the class name."""
        return self._scope_name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with name_scope(self._scope_name):
            return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it and users call the module instead."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # ---- the module tree ---------------------------------------------------------------

    def _members(self) -> Iterator[tuple[str, Value | Module]]:
        """(name, Value or Module) for each attribute, list items under dotted names."""
        for name, attribute in vars(self).items():
            if not name.startswith("_"):
                yield from _walk(name, attribute)

    def named_children(self) -> list[tuple[str, Module]]:
        """The direct sub-modules with their attribute paths (``"layers.0"``)."""
        return [(name, m) for name, m in self._members() if isinstance(m, Module)]

    def children(self) -> list[Module]:
        """The direct sub-modules, in attribute order."""
        return [m for _, m in self.named_children()]

    def named_modules(self) -> list[tuple[str, Module]]:
        """This module (named ``""``) and every sub-module, depth first, each once."""
        found: list[tuple[str, Module]] = []
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:
            prefix, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            found.append((prefix, module))
            kids = [(_join(prefix, name), child) for name, child in module.named_children()]
            stack.extend(reversed(kids))
        return found

    def modules(self) -> list[Module]:
        """This module and every sub-module, as :meth:`named_modules` orders them."""
        return [m for _, m in self.named_modules()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name, in attribute order; a shared one once."""
        found: list[tuple[str, Value]] = []
        seen_values: set[int] = set()
        seen_modules: set[int] = set()
        self._collect_parameters("", found, seen_values, seen_modules)
        return found

    def _collect_parameters(
        self,
        prefix: str,
        found: list[tuple[str, Value]],
        seen_values: set[int],
        seen_modules: set[int],
    ) -> None:
        seen_modules.add(id(self))
        for name, member in self._members():
            full = _join(prefix, name)
            if isinstance(member, Module):
                if id(member) not in seen_modules:
                    member._collect_parameters(full, found, seen_values, seen_modules)
            elif id(member) not in seen_values:
                seen_values.add(id(member))
                found.append((full, member))

    def parameters(self) -> list[Value]:
        """Every parameter, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (gradients accumulate across backward())."""
        for p in self.parameters():
            p.grad = 0.0

    # ---- modes -------------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout active) on this module and all sub-modules."""
        if not isinstance(mode, bool):
            kind = type(mode)
            name = (
                kind.__name__
                if kind.__module__ == "builtins"
                else f"{kind.__module__}.{kind.__name__}"
            )
            raise TypeError(f"train(mode) expects a bool (True or False), got {name}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Set evaluation mode (Dropout passes inputs through); same as ``train(False)``."""
        return self.train(False)

    # ---- state -------------------------------------------------------------------------

    def named_buffers(self) -> list[tuple[str, float]]:
        """Saved numbers that are not parameters (BatchNorm's running statistics).

        A module lists the attributes holding them in ``_buffer_names``: each holds a
        number (named ``"prefix.name"``) or a list of numbers (``"prefix.name.0"``, ...).
        """
        return [(name, _read_slot(holder, key)) for name, holder, key in self._buffer_slots()]

    def _buffer_slots(self) -> list[tuple[str, Any, Any]]:
        """(name, holder, key) per buffer number: ``holder[key]`` or ``getattr(holder, key)``."""
        slots: list[tuple[str, Any, Any]] = []
        for prefix, module in self.named_modules():
            for attribute in getattr(module, "_buffer_names", ()):
                full = _join(prefix, attribute)
                held = getattr(module, attribute)
                if isinstance(held, list):
                    slots.extend((f"{full}.{i}", held, i) for i in range(len(held)))
                else:
                    slots.append((full, module, attribute))
        return slots

    def state_dict(self) -> dict[str, float]:
        """``{name: value}`` for every parameter (in :meth:`named_parameters` order), then
        every buffer (:meth:`named_buffers`)."""
        state = {name: p.data for name, p in self.named_parameters()}
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter and buffer from ``state``; keys must match exactly.

        Checks everything before changing anything: missing keys raise KeyError,
        unexpected keys ValueError, a value that is not a real number TypeError, a
        non-integral value for an integer buffer (a batch count) ValueError, and so does a
        buffer value outside its module's domain (see :meth:`check_buffers`).
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict expects a dict, got {type(state).__name__}")
        named = self.named_parameters()
        buffers = self._buffer_slots()
        expected = [name for name, _ in named] + [name for name, _, _ in buffers]
        expected_set = set(expected)
        missing = [name for name in expected if name not in state]
        unexpected = [name for name in state if name not in expected_set]
        if missing:
            extra = f"; unexpected keys: {_some(unexpected)}" if unexpected else ""
            raise KeyError(
                f"load_state_dict: missing keys for {_short(self)}: {_some(missing)}{extra}"
            )
        if unexpected:
            raise ValueError(
                f"load_state_dict: unexpected keys for {_short(self)}: {_some(unexpected)}"
            )
        numbers_read = {}
        for name in expected:
            value = state[name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(
                    f"load_state_dict: {name!r} must be a real number, got {type(value).__name__}"
                )
            try:
                numbers_read[name] = float(value)
            except OverflowError:
                raise ValueError(
                    f"load_state_dict: {name!r} is an int of {int(value).bit_length()} bits; "
                    "it does not fit in a float"
                ) from None
        for name, holder, key in buffers:
            if isinstance(_read_slot(holder, key), int) and not numbers_read[name].is_integer():
                raise ValueError(
                    f"load_state_dict: {name!r} counts batches and must be a whole number, "
                    f"got {state[name]!r}"
                )
        for prefix, module in self.named_modules():
            if getattr(module, "_buffer_names", ()):
                module.check_buffers(prefix, numbers_read)
        for name, p in named:
            p.data = numbers_read[name]
        for name, holder, key in buffers:
            _write_slot(holder, key, numbers_read[name])

    def check_buffers(self, prefix: str, state: Mapping[str, float]) -> None:
        """Raise ValueError if ``state`` (full names under ``prefix``) holds buffer values
        this module cannot compute with; called by :meth:`load_state_dict` before it
        changes anything. Modules with ``_buffer_names`` override it; none to check here."""

    # ---- construction from a description -----------------------------------------------

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-serialisable dict (used to save models)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define config(); define it (returning its "
            "constructor arguments) and decorate the class with @register_module to save it"
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Module:
        """Build a module from :meth:`config`'s output, with freshly drawn weights."""
        return cls(**config)

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int | None:
        """How many entries ``from_config(config).state_dict()`` has, worked out without
        building: its parameters, plus its buffers if it keeps any (running statistics).

        Loading checks this against the weights in the file *before* building, so a small
        file cannot ask for a huge model. Count only this module's own entries (those
        of :meth:`nested_specs` are added by the caller); raise TypeError or ValueError
        for a config the constructor would refuse. None (the default) means "unknown",
        and such a class can be neither saved nor loaded.
        """
        return None

    @classmethod
    def nested_specs(cls, config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The specs of the modules ``config`` nests (``Sequential``, ``Residual``); none here."""
        return []

    # ---- printing ----------------------------------------------------------------------

    def extra_repr(self) -> str:
        """What goes inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        kids = self.named_children()
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        lines = [f"  ({name}): {_indent(repr(child))}" for name, child in kids]
        separator = ",\n" if self.extra_repr() else "\n"
        return head + separator + "\n".join(lines) + "\n)"


def _walk(name: str, obj: Any) -> Iterator[tuple[str, Value | Module]]:
    if isinstance(obj, (Value, Module)):
        yield name, obj
    elif isinstance(obj, (list, tuple)):
        for index, item in enumerate(obj):
            yield from _walk(f"{name}.{index}", item)


def _read_slot(holder: Any, key: Any) -> float:
    return holder[key] if isinstance(holder, list) else getattr(holder, key)


def _write_slot(holder: Any, key: Any, value: float) -> None:
    if isinstance(holder, list):
        holder[key] = value
    else:  # a count such as num_batches_tracked stays an int
        current = getattr(holder, key)
        setattr(holder, key, int(value) if isinstance(current, int) else value)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _some(names: list[str], shown: int = 10) -> str:
    """The first few names of a list, each cut short, so a message stays short for any file."""
    clipped = [name if len(name) <= 60 else name[:57] + "..." for name in map(str, names[:shown])]
    if len(names) <= shown:
        return repr(clipped)
    return f"{clipped!r} and {len(names) - shown} more"


def _short(module: Module, limit: int = 200) -> str:
    """A module's repr cut to one readable line for error messages."""
    text = " ".join(repr(module).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------
# Registry: class names in saved files → classes
# --------------------------------------------------------------------------------------

_REGISTRY: dict[str, type[Module]] = {}


def register_module(cls: type[Module]) -> type[Module]:
    """Class decorator: let saved files name this class (by its ``__name__``).

    A registered class describes itself with three methods, so that a saved file can be
    checked before anything is built (a 200-byte file must not be able to ask for a
    model of a billion weights):

    * ``config()``: the constructor arguments, as JSON-serialisable data;
    * ``parameter_count(config)`` (classmethod): how many entries the built module's
      ``state_dict()`` has (parameters, and buffers such as running statistics), computed
      from the config alone (``nout * (nin + 1)`` for a ``Layer``); raise
      TypeError/ValueError for a config the constructor would refuse. Use
      :func:`config_arguments` to check the keys and fill in defaults. A class that keeps
      the default (None, "unknown") can be neither saved nor loaded: it fails safe;
    * ``nested_specs(config)`` (classmethod), only for containers: the specs of the
      modules the config nests (``Sequential``'s ``"modules"``), counted separately.

    For example::

        from autograd_lite import Value
        from autograd_lite.nn.module import Module, config_arguments, register_module

        @register_module
        class Affine(Module):
            def __init__(self, n: int = 1) -> None:
                self.w = [Value(1.0) for _ in range(n)]

            def config(self) -> dict:
                return {"n": len(self.w)}

            @classmethod
            def parameter_count(cls, config) -> int:
                n = config_arguments(cls, config, ("n",))["n"]
                if not isinstance(n, int) or n < 1:
                    raise ValueError(f"n must be a positive int, got {n!r}")
                return n

    ``save`` checks that the count matches the model, so a wrong count shows up the first
    time the class is saved, not when someone loads a file.
    """
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register_module expects a Module subclass, got {cls!r}")
    existing = _REGISTRY.get(cls.__name__)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"a different module class named {cls.__name__!r} is already registered "
            f"({existing.__module__}.{existing.__qualname__}); rename one of them"
        )
    _REGISTRY[cls.__name__] = cls
    return cls


def registered_modules() -> dict[str, type[Module]]:
    """A copy of the registry: class name → class."""
    return dict(_REGISTRY)


def module_spec(module: Module) -> dict[str, Any]:
    """``{"class": name, "config": {...}}``: enough to rebuild ``module`` (without weights)."""
    if not isinstance(module, Module):
        raise TypeError(f"expected a Module, got {type(module).__name__}")
    name = type(module).__name__
    if _REGISTRY.get(name) is not type(module):
        raise ValueError(
            f"{name} is not registered; decorate the class with "
            "@autograd_lite.nn.register_module so saved files can name it"
        )
    return {"class": name, "config": module.config()}


def _resolve(spec: Any) -> tuple[type[Module], Mapping[str, Any]]:
    """The registered class a spec names and its config, both checked."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"a module spec must be a dict, got {type(spec).__name__}")
    for key in ("class", "config"):
        if key not in spec:
            raise KeyError(f"module spec is missing {key!r}; it needs 'class' and 'config'")
    name, config = spec["class"], spec["config"]
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise ValueError(f"unknown module class {shown}; registered: {sorted(_REGISTRY)}")
    if not isinstance(config, Mapping):
        raise TypeError(f"the config of {name} must be a dict, got {type(config).__name__}")
    return cls, config


def config_arguments(
    cls: type[Module], config: Mapping[str, Any], keys: tuple[str, ...]
) -> dict[str, Any]:
    """``config`` with the constructor's defaults filled in, checked to use only ``keys``.

    For ``parameter_count``: a saved config names only what ``config()`` writes, so any
    other key (say ``rng``, which a file cannot hold) is a TypeError, as is a missing
    argument that has no default.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"the config of {cls.__name__} must be a dict, got {type(config).__name__}")
    unexpected = [key for key in config if key not in keys]
    if unexpected:
        raise TypeError(
            f"{cls.__name__} config has unexpected key(s) {_some(unexpected)}; "
            f"it takes {list(keys)}"
        )
    parameters = inspect.signature(cls).parameters
    arguments = {
        key: parameters[key].default
        for key in keys
        if key in parameters and parameters[key].default is not inspect.Parameter.empty
    }
    arguments.update(config)
    missing = [key for key in keys if key not in arguments]
    if missing:
        raise TypeError(f"{cls.__name__} config is missing {missing}")
    return arguments


def spec_parameter_count(spec: Mapping[str, Any], limit: int | None = None) -> int:
    """The number of parameters a spec describes, checked without building anything.

    Walks the spec and its nested specs iteratively, refusing unknown classes, classes
    that cannot count their parameters, and nesting deeper than :data:`MAX_NESTING`.
    With ``limit``, stops as soon as the count exceeds it (a ValueError saying "at
    least"), so a hostile spec costs no more than the part of it that was read.
    """
    total = 0
    stack: list[tuple[Any, str, int]] = [(spec, "the model", 1)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ValueError(f"modules are nested deeper than {MAX_NESTING} levels (at {where})")
        cls, config = _resolve(item)
        count = cls.parameter_count(config)
        if count is None:
            raise ValueError(
                f"{cls.__name__} does not define parameter_count(config), so the size of a "
                "saved one cannot be checked before it is built; define it (see register_module)"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise TypeError(
                f"{cls.__name__}.parameter_count() must return an int >= 0, got {count!r}"
            )
        total += count
        if limit is not None and total > limit:
            raise ValueError(f"its config implies at least {total} parameters")
        nested = cls.nested_specs(config)
        for index, child in reversed(list(enumerate(nested))):
            stack.append((child, f"{where} → {cls.__name__}[{index}]", depth + 1))
    return total


def module_from_spec(spec: Mapping[str, Any]) -> Module:
    """Rebuild a module (fresh weights) from :func:`module_spec`'s output."""
    cls, config = _resolve(spec)
    # Rebuilding a model to load saved weights into must not change the random numbers
    # the caller draws next, so the global state is put back afterwards.
    saved = random.getstate()
    try:
        return cls.from_config(config)
    finally:
        random.setstate(saved)
