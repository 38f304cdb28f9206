"""Elman recurrent networks: ``RNNCell`` (one step) and ``RNN`` (a whole sequence).

The cell computes, for each hidden unit ``i``::

    h'[i] = tanh(W_ih[i] · x + b_ih[i] + W_hh[i] · h + b_hh[i])

as one ``dot`` node per unit, exactly as ``torch.nn.RNNCell``. Parameters are named as
PyTorch names them (``weight_ih.i.j`` is ``weight_ih[i, j]``, shape hidden × input), and
start uniform in (-1/sqrt(nhidden), 1/sqrt(nhidden)) as PyTorch's do. Gradients through
time need nothing special: running the cell over a sequence builds one graph, and
``backward()`` on any later output reaches every earlier step.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autograd_lite.engine import Value, dot, relu, tanh
from autograd_lite.nn.init import checked_seed, make_rng
from autograd_lite.nn.layers import Layer, _as_nodes, _check_count
from autograd_lite.nn.module import Module, config_arguments, register_module

__all__ = ["NONLINEARITIES", "RNN", "RNNCell"]

_NONLINEARITIES: dict[str, Callable[[Value], Value]] = {"tanh": tanh, "relu": relu}
NONLINEARITIES = tuple(_NONLINEARITIES)


def _as_vector(x: Any, size: int, what: str) -> Sequence[Any]:
    """``x`` as a list of ``size`` entries; a lone number or Value counts when size is 1."""
    if isinstance(x, (Value, numbers.Real)) and size == 1:
        return [x]
    try:
        n = len(x)
    except TypeError:
        raise TypeError(
            f"RNNCell expected {what} as a list of {size} Values or numbers, got {type(x).__name__}"
        ) from None
    if n != size:
        raise ValueError(f"RNNCell expected {what} of length {size}, got {n}")
    return x


def _cell_size(arguments: Mapping[str, Any]) -> int:
    nin = _check_count(arguments["nin"], "nin")
    nhidden = _check_count(arguments["nhidden"], "nhidden")
    return nhidden * (nin + nhidden + 2)


@register_module
class RNNCell(Module):
    """One step of an Elman network: ``cell(x, h) -> h'`` (``h`` defaults to zeros).

    ``nonlinearity`` is ``"tanh"`` (default) or ``"relu"``, as in PyTorch. Returns the
    new hidden state as a list of ``nhidden`` Values.
    """

    def __init__(
        self,
        nin: int,
        nhidden: int,
        nonlinearity: str = "tanh",
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.nin = _check_count(nin, "nin")
        self.nhidden = _check_count(nhidden, "nhidden")
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(
                f"unknown nonlinearity {nonlinearity!r}; expected one of {list(NONLINEARITIES)}"
            )
        self.nonlinearity = nonlinearity
        self.seed = checked_seed(seed)
        generator = rng if rng is not None else make_rng(seed)
        bound = 1.0 / math.sqrt(self.nhidden)

        def draw(count: int) -> list[Value]:
            return [Value(generator.uniform(-bound, bound)) for _ in range(count)]

        self.weight_ih = [draw(self.nin) for _ in range(self.nhidden)]
        self.weight_hh = [draw(self.nhidden) for _ in range(self.nhidden)]
        self.bias_ih = draw(self.nhidden)
        self.bias_hh = draw(self.nhidden)

    def forward(self, x: Any, h: Sequence[Any] | None = None) -> list[Value]:
        """The next hidden state from input ``x`` and hidden state ``h`` (zeros if None)."""
        x = _as_vector(x, self.nin, "the input")
        h = [0.0] * self.nhidden if h is None else _as_vector(h, self.nhidden, "the hidden state")
        # Both biases ride on constant inputs of 1.0, so each unit is a single dot node.
        inputs = _as_nodes([*x, *h, 1.0, 1.0])
        activate = _NONLINEARITIES[self.nonlinearity]
        return [
            activate(dot([*w_ih, *w_hh, b_ih, b_hh], inputs))
            for w_ih, w_hh, b_ih, b_hh in zip(
                self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
            )
        ]

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "nin": self.nin,
            "nhidden": self.nhidden,
            "nonlinearity": self.nonlinearity,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """Per hidden unit: ``nin + nhidden`` weights and two biases."""
        arguments = config_arguments(cls, config, ("nin", "nhidden", "nonlinearity", "seed"))
        return _cell_size(arguments)

    def __repr__(self) -> str:
        return f"RNNCell({self.nin} → {self.nhidden}, {self.nonlinearity})"


@register_module
class RNN(Module):
    """An ``RNNCell`` run over a sequence; optionally a linear readout of the last state.

    ``rnn(sequence, h0=None)`` takes a list of steps (each a list of ``nin`` inputs, or a
    number when ``nin == 1``). Without ``nout`` it returns every hidden state, a list of
    lists, like the output of ``torch.nn.RNN``. With ``nout`` it also has ``.readout``, a
    linear ``Layer(nhidden, nout)`` (Xavier init), and returns the readout of the final
    hidden state: a single Value when ``nout == 1``, else a list (as ``MLP`` does), so a
    sequence model can be trained with ``fit`` like any other.
    """

    def __init__(
        self,
        nin: int,
        nhidden: int,
        nonlinearity: str = "tanh",
        *,
        nout: int | None = None,
        seed: int | None = None,
    ) -> None:
        rng = make_rng(seed)
        self.seed = checked_seed(seed)
        self.cell = RNNCell(nin, nhidden, nonlinearity, rng=rng)
        self.nout = None if nout is None else _check_count(nout, "nout")
        if self.nout is not None:
            self.readout = Layer(nhidden, self.nout, "linear", init="xavier", rng=rng)

    @property
    def nin(self) -> int:
        """The number of inputs per step."""
        return self.cell.nin

    @property
    def nhidden(self) -> int:
        """The number of hidden units."""
        return self.cell.nhidden

    def forward(
        self, sequence: Sequence[Any], h0: Sequence[Any] | None = None
    ) -> list[list[Value]] | Value | list[Value]:
        """Every hidden state; or, with a readout, the readout of the last one."""
        try:
            steps = list(sequence)
        except TypeError:
            raise TypeError(
                f"RNN expected a sequence (a list of steps), got {type(sequence).__name__}"
            ) from None
        states = []
        h = h0
        for x in steps:
            h = self.cell(x, h)
            states.append(h)
        if self.nout is None:
            return states
        if not states:
            raise ValueError("RNN with a readout needs a sequence of at least one step")
        out = self.readout(states[-1])
        return out[0] if len(out) == 1 else out

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "nin": self.nin,
            "nhidden": self.nhidden,
            "nonlinearity": self.cell.nonlinearity,
            "nout": self.nout,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """The cell's parameters, plus ``nout * (nhidden + 1)`` for a readout."""
        keys = ("nin", "nhidden", "nonlinearity", "nout", "seed")
        arguments = config_arguments(cls, config, keys)
        count = _cell_size(arguments)
        if arguments["nout"] is not None:
            count += _check_count(arguments["nout"], "nout") * (arguments["nhidden"] + 1)
        return count

    def __repr__(self) -> str:
        readout = "" if self.nout is None else f" → {self.nout}"
        return f"RNN({self.nin} → {self.nhidden}{readout}, {self.cell.nonlinearity})"
