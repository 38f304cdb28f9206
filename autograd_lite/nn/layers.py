"""Feed-forward modules: ``Neuron``, ``Layer``, ``MLP``, ``Dropout``, ``Sequential``, ``Residual``.

``Neuron``, ``Layer`` and ``MLP`` are drop-in replacements for micrograd's: the same
constructor arguments (``MLP(2, [16, 16, 1])``, ``Neuron(nin, nonlin=False)``), the same
uniform(-1, 1) initial weights drawn in the same order from the global ``random`` module
when no seed is given, zero biases, ReLU hidden layers and a *linear last layer*. Two
differences from micrograd are on purpose: a ``Layer`` always returns a list (an ``MLP``
whose last layer has one neuron still returns a single Value, as in micrograd), and a
neuron's weighted sum is one ``dot`` node instead of a chain of 2n additions and
multiplications, which makes graphs shallow and training many times faster.
"""

from __future__ import annotations

import itertools
import numbers
import random
import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autograd_lite.engine import Value, dense
from autograd_lite.engine.dense import _dense_of_values, _rows_of_values
from autograd_lite.nn.init import canonical_scheme, checked_seed, initial_weights, make_rng
from autograd_lite.nn.module import (
    Module,
    config_arguments,
    module_from_spec,
    module_spec,
    register_module,
)

__all__ = ["ACTIVATIONS", "MLP", "Dropout", "Layer", "Neuron", "Residual", "Sequential"]

# Copies of each Layer's weight rows and biases, taken when they were seen to be Values
# only. While a layer's rows compare equal to its copy (a list comparison in C that meets
# the same objects, as Values compare by identity), dense() need not check each weight's
# type again, which costs far more (benchmarks/instructions.py mlp64; bench_nn.py, (2)).
# A weight replaced in place, even by a number, makes the rows differ and they are
# checked again. Weak keys: a dropped layer is forgotten, and nothing here keeps its
# parameters alive.
_checked_rows: weakref.WeakKeyDictionary[Layer, tuple[list[list[Value]], list[Value]]] = (
    weakref.WeakKeyDictionary()
)

# Value's methods, not the engine's functions: the methods take the unrolled one-argument
# path. None means the identity: a linear neuron adds no node after its weighted sum.
_ACTIVATION_FUNCTIONS: dict[str, Callable[[Value], Value] | None] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "leaky_relu": Value.leaky_relu,
    "linear": None,
}
ACTIVATIONS = tuple(_ACTIVATION_FUNCTIONS)


def _check_activation(activation: object, what: str = "activation") -> str:
    if not isinstance(activation, str):
        raise TypeError(
            f"{what} must be a str, one of {list(ACTIVATIONS)}; got {type(activation).__name__}"
        )
    if activation not in _ACTIVATION_FUNCTIONS:
        raise ValueError(f"unknown {what} {activation!r}; expected one of {list(ACTIVATIONS)}")
    return activation


def _resolve_activation(activation: object, nonlin: object) -> str:
    """micrograd's ``nonlin=True/False`` means relu/linear; otherwise ``activation`` decides."""
    activation = _check_activation(activation)
    if nonlin is None:
        return activation
    if not isinstance(nonlin, bool):
        raise TypeError(f"nonlin must be True, False or None, got {type(nonlin).__name__}")
    implied = "relu" if nonlin else "linear"
    # "relu" is the default, so it cannot tell us the caller chose it; anything else can.
    if activation not in ("relu", implied):
        raise ValueError(
            f"nonlin={nonlin} means activation={implied!r}, but activation={activation!r} "
            "was also given; pass only one of them"
        )
    return implied


def _check_count(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{name} must be a positive int, got {n}")
    if n > sys.maxsize:  # no list can be that long; building one would only exhaust memory
        raise ValueError(
            f"{name} must be at most sys.maxsize ({sys.maxsize}), got an int of "
            f"{int(n).bit_length()} bits"
        )
    return int(n)


def _check_widths(nouts: object) -> list[int]:
    """An MLP's layer widths: a non-empty list of positive ints."""
    if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
        shown = repr(nouts) if len(repr(nouts)) <= 80 else type(nouts).__name__
        raise TypeError(
            f"nouts must be a non-empty list of layer widths such as [16, 16, 1], got {shown}"
        )
    return [_check_count(n, "each layer width in nouts") for n in nouts]


def _as_nodes(inputs: Sequence[Any]) -> list[Value]:
    """The inputs with plain numbers made into constant nodes.

    Done once per call and shared by every neuron that reads the inputs, instead of once
    per neuron inside ``dot``; all-Value arguments also take the engine's fast path.
    """
    return [v if isinstance(v, Value) else Value(v, requires_grad=False) for v in inputs]


def _input_length(x: Any, expected: int, who: str) -> None:
    """Raise a clear error unless ``x`` is a sequence of ``expected`` inputs."""
    try:
        n = len(x)
    except TypeError:
        raise TypeError(
            f"{who} expected a list of {expected} inputs (Values or numbers), "
            f"got {type(x).__name__}"
        ) from None
    if n != expected:
        raise ValueError(f"{who} expected {expected} inputs, got {n}")


# --------------------------------------------------------------------------------------
# Neuron, Layer, MLP
# --------------------------------------------------------------------------------------


@register_module
class Neuron(Module):
    """One neuron: ``activation(w · x + b)``.

    ``activation`` is one of ``ACTIVATIONS``; micrograd's ``nonlin=True/False`` is
    accepted and means ``"relu"``/``"linear"``. Weights come from ``init`` (see
    :mod:`autograd_lite.nn.init`) drawn from ``rng`` (the global ``random`` module when
    None); ``fan_out`` is the width of the layer the neuron is part of, used by Xavier
    init. The bias starts at 0. A neuron is one node: its weighted sum, bias and activation
    fused (op ``dot_relu``, ``dot_tanh`` or ``dot_sigmoid``, drawn ``ReLU(·)``; a linear
    or leaky_relu neuron is a ``dot`` node, followed by a ``leaky_relu`` node). Fusing
    halves the nodes of a network and gives the same values and gradients.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        *,
        nonlin: bool | None = None,
        init: str = "uniform",
        rng: random.Random | None = None,
        fan_out: int = 1,
    ) -> None:
        nin = _check_count(nin, "nin")
        self.activation = _resolve_activation(activation, nonlin)
        self.init = canonical_scheme(init)
        weights = initial_weights(
            self.init, nin, _check_count(fan_out, "fan_out"), random if rng is None else rng
        )
        self.w = [Value(w, label=f"w.{i}") for i, w in enumerate(weights)]
        self.b = Value(0.0, label="b")

    @property
    def activation(self) -> str:
        """The activation's name; assigning a new one changes the forward pass."""
        return self._activation

    @activation.setter
    def activation(self, name: str) -> None:
        self._activation = _check_activation(name)
        self._activate = _ACTIVATION_FUNCTIONS[name]

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self._activation != "linear"

    @property
    def nin(self) -> int:
        """The number of inputs."""
        return len(self.w)

    if TYPE_CHECKING:  # what calling the module returns: forward's result, for type checkers

        def __call__(self, x: Sequence[Any]) -> Value: ...  # type: ignore[override]

    def forward(self, x: Sequence[Any]) -> Value:
        """``activation(w · x + b)`` for a list of ``nin`` Values or numbers."""
        try:
            # One node for the weighted sum, the bias and the activation (as a Layer does).
            return dense([self.w], x, [self.b], self._activate, fuse=True)[0]
        except (TypeError, ValueError):
            # Diagnose only on failure: checking every call costs time on the hot path.
            _input_length(x, len(self.w), "Neuron")
            raise

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"nin": self.nin, "activation": self.activation, "init": self.init}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """``nin`` weights and a bias."""
        arguments = config_arguments(cls, config, ("nin", "activation", "init"))
        return _check_count(arguments["nin"], "nin") + 1

    def extra_repr(self) -> str:
        return f"{self.nin}, {self.activation}"


@register_module
class Layer(Module):
    """``nout`` neurons that all see the same input; the forward pass returns a list.

    Extra keyword arguments as for :class:`Neuron`. ``seed`` makes the initial weights
    reproducible; ``rng`` (a ``random.Random``) lets a parent share one generator.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        nonlin: bool | None = None,
        init: str = "uniform",
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        nin = _check_count(nin, "nin")
        nout = _check_count(nout, "nout")
        activation = _resolve_activation(activation, nonlin)
        generator = rng if rng is not None else make_rng(seed)
        self.seed = checked_seed(seed)
        self.neurons = [
            Neuron(nin, activation, init=init, rng=generator, fan_out=nout) for _ in range(nout)
        ]

    @property
    def activation(self) -> str:
        """The activation of the layer's neurons; assigning sets it on all of them."""
        return self.neurons[0].activation

    @activation.setter
    def activation(self, name: str) -> None:
        _check_activation(name)
        for neuron in self.neurons:
            neuron.activation = name

    @property
    def nin(self) -> int:
        """The number of inputs."""
        return self.neurons[0].nin

    @property
    def nout(self) -> int:
        """The number of neurons (outputs)."""
        return len(self.neurons)

    if TYPE_CHECKING:  # what calling the module returns: forward's result, for type checkers

        def __call__(self, x: Sequence[Any]) -> list[Value]: ...  # type: ignore[override]

    def forward(self, x: Sequence[Any]) -> list[Value]:
        """Each neuron's output, as a list (even for one neuron)."""
        _input_length(x, self.nin, "Layer")
        neurons = self.neurons
        activate = neurons[0]._activate if neurons else None
        if all(type(n) is Neuron and n._activate is activate for n in neurons):
            # One pass over the inputs for the whole layer, and one node per neuron: its
            # weighted sum and activation fused (see benchmarks/bench_nn.py). dense()
            # makes plain numbers constant nodes once, shared by every neuron.
            rows = [n.w for n in neurons]
            biases = [n.b for n in neurons]
            names = [n._scope_name for n in neurons]
            plain = type(self) is Layer  # a subclass may define __eq__, and then no hash
            if plain and _checked_rows.get(self) == (rows, biases):
                return _dense_of_values(rows, x, biases, activate, names)
            outputs = dense(rows, x, biases, activate, names=names, fuse=True)
            if plain and _rows_of_values(rows, biases):
                _checked_rows[self] = ([list(w) for w in rows], biases)
            return outputs
        x = _as_nodes(x)  # one constant per number, shared by every neuron
        return [neuron(x) for neuron in neurons]

    def config(self) -> dict[str, Any]:
        """Constructor arguments; ValueError if the neurons no longer share one activation."""
        activations = [neuron.activation for neuron in self.neurons]
        if len(set(activations)) > 1:
            raise ValueError(
                f"this Layer's neurons have different activations {activations}, which its "
                "constructor arguments cannot describe; give every neuron the same one"
            )
        return {
            "nin": self.nin,
            "nout": self.nout,
            "activation": self.activation,
            "init": self.neurons[0].init,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """``nout`` neurons of ``nin`` weights and a bias."""
        arguments = config_arguments(cls, config, ("nin", "nout", "activation", "init", "seed"))
        nin = _check_count(arguments["nin"], "nin")
        return _check_count(arguments["nout"], "nout") * (nin + 1)

    def __repr__(self) -> str:
        return f"Layer({self.nin} → {self.nout}, {self.activation})"


@register_module
class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` as in micrograd.

    Hidden layers use ``activation``, the last layer ``output_activation`` (linear by
    default, as micrograd). Calling it returns a single Value when the last layer has
    one neuron, else a list. ``seed=None`` draws initial weights from the global
    ``random`` module (micrograd's behaviour); an int seed makes them reproducible.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        init: str = "uniform",
        seed: int | None = None,
    ) -> None:
        nin = _check_count(nin, "nin")
        widths = _check_widths(nouts)
        self.activation = _check_activation(activation)
        self.output_activation = _check_activation(output_activation, "output_activation")
        self.init = canonical_scheme(init)
        self.seed = checked_seed(seed)
        rng = make_rng(seed)
        sizes = [nin, *widths]
        last = len(widths) - 1
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                output_activation if i == last else activation,
                init=self.init,
                rng=rng,
            )
            for i in range(len(widths))
        ]

    @property
    def nin(self) -> int:
        """The number of inputs."""
        return self.layers[0].nin

    @property
    def nouts(self) -> list[int]:
        """The width of each layer, as passed to the constructor."""
        return [layer.nout for layer in self.layers]

    if TYPE_CHECKING:  # what calling the module returns: forward's result, for type checkers

        def __call__(self, x: Sequence[Any]) -> Value | list[Value]: ...  # type: ignore[override]

    def forward(self, x: Sequence[Any]) -> Value | list[Value]:
        """The network's output: one Value if the last layer has one neuron, else a list."""
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def config(self) -> dict[str, Any]:
        """Constructor arguments; ValueError if layer activations were changed since."""
        built = [self.activation] * (len(self.layers) - 1) + [self.output_activation]
        actual = [layer.config()["activation"] for layer in self.layers]
        if actual != built:
            # Saving these arguments would silently load a different network.
            raise ValueError(
                f"this MLP's layer activations are {actual}, not the {built} its constructor "
                "arguments describe; build it as a Sequential of Layers instead"
            )
        return {
            "nin": self.nin,
            "nouts": self.nouts,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """A weight per input and a bias for every neuron of every layer."""
        keys = ("nin", "nouts", "activation", "output_activation", "init", "seed")
        arguments = config_arguments(cls, config, keys)
        sizes = [_check_count(arguments["nin"], "nin"), *_check_widths(arguments["nouts"])]
        return sum(nout * (nin + 1) for nin, nout in itertools.pairwise(sizes))

    def __repr__(self) -> str:
        text = f"MLP({self.nin}, {self.nouts}, activation={self.activation!r}"
        if self.output_activation != "linear":
            text += f", output_activation={self.output_activation!r}"
        if self.init != "uniform":
            text += f", init={self.init!r}"
        return text + ")"


# --------------------------------------------------------------------------------------
# Dropout, Sequential, Residual
# --------------------------------------------------------------------------------------


@register_module
class Dropout(Module):
    """Inverted dropout: in training mode zero each input with probability ``p`` and
    scale the others by ``1 / (1 - p)``; in eval mode pass inputs through unchanged.

    Masks come from ``self.rng``, a ``random.Random(seed)`` (seeded from the operating
    system when ``seed`` is None). Takes a list (returns a list) or a single Value.
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None) -> None:
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(
                f"Dropout(p): p must be a real number in [0, 1], got {type(p).__name__}"
            )
        try:
            probability = float(p)
        except OverflowError:
            raise ValueError(
                f"Dropout(p): p is an int of {int(p).bit_length()} bits; it does not fit in "
                "a float, and a probability is in [0, 1]"
            ) from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"Dropout(p): p is a probability and must be in [0, 1], got {p}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"Dropout seed must be an int or None, got {type(seed).__name__}")
        self.p = probability
        self.seed = None if seed is None else int(seed)
        self.rng = random.Random(self.seed)

    def forward(self, x: Any) -> Any:
        """Drop and rescale in training mode; the identity in eval mode."""
        if not self.training or self.p == 0.0:
            return x
        p = self.p
        scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
        draw = self.rng.random
        if isinstance(x, (list, tuple)):
            # A dropped input is multiplied by 0 rather than replaced, so the output keeps
            # one node per input and its gradient is an exact 0.
            return [v * (scale if draw() >= p else 0.0) for v in x]
        return x * (scale if draw() >= p else 0.0)

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"p": self.p, "seed": self.seed}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """Dropout has no parameters."""
        config_arguments(cls, config, ("p", "seed"))
        return 0

    def extra_repr(self) -> str:
        return f"p={self.p}"


@register_module
class Sequential(Module):
    """Modules applied in order, each to the previous one's output (``.layers``)."""

    def __init__(self, *modules: Module) -> None:
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential expects Modules; argument {index} is a {type(module).__name__}"
                )
        self.layers = list(modules)

    def forward(self, x: Any) -> Any:
        """Feed ``x`` through every module in turn; return the last one's output."""
        for module in self.layers:
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def config(self) -> dict[str, Any]:
        """The saved description of each module in order."""
        return {"modules": [module_spec(m) for m in self.layers]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sequential:
        """Rebuild from :meth:`config`'s output."""
        return cls(*(module_from_spec(spec) for spec in cls.nested_specs(config)))

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """None of its own; its modules' are counted from :meth:`nested_specs`."""
        cls.nested_specs(config)
        return 0

    @classmethod
    def nested_specs(cls, config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The specs in ``config["modules"]``."""
        specs = config_arguments(cls, config, ("modules",))["modules"]
        if not isinstance(specs, list):
            raise TypeError("Sequential config needs 'modules': a list of module specs")
        return specs


@register_module
class Residual(Module):
    """``x + module(x)``, element by element for lists (a skip connection).

    ``module`` must return as many outputs as it takes inputs; a single Value is
    accepted for a one-element list (an ``MLP`` with one output returns a Value).
    """

    def __init__(self, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Residual expects a Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x: Any) -> Any:
        """``x + module(x)``; the result has the shape of ``x``."""
        y = self.module(x)
        if isinstance(x, (list, tuple)):
            ys = y if isinstance(y, (list, tuple)) else [y]
            if len(ys) != len(x):
                raise ValueError(
                    f"Residual: the wrapped module returned {len(ys)} outputs for "
                    f"{len(x)} inputs; they must match to be added"
                )
            return [a + b for a, b in zip(x, ys)]
        if isinstance(y, (list, tuple)):
            if len(y) != 1:
                raise ValueError(
                    f"Residual: the wrapped module returned {len(y)} outputs for one input"
                )
            y = y[0]
        return x + y

    def config(self) -> dict[str, Any]:
        """The saved description of the wrapped module."""
        return {"module": module_spec(self.module)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Residual:
        """Rebuild from :meth:`config`'s output."""
        return cls(module_from_spec(cls.nested_specs(config)[0]))

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """None of its own; the wrapped module's are counted from :meth:`nested_specs`."""
        cls.nested_specs(config)
        return 0

    @classmethod
    def nested_specs(cls, config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The wrapped module's spec."""
        if "module" not in config:
            raise TypeError("Residual config needs 'module': a module spec")
        return [config_arguments(cls, config, ("module",))["module"]]
