"""Element-wise kernels: each primitive's forward value and local derivatives over arrays.

Every kernel computes what the engine's float function computes (the same stable forms
for sigmoid, softplus and logsumexp; ``relu'(0) = 0``; IEEE infinities); the backward pass
multiplies the same local derivatives by the incoming gradient (``local * grad``, so
``0 * inf`` is ``nan`` here exactly when it is in the engine).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite.engine import Primitive, Value

__all__ = ["ELEMENTWISE", "FUSED_ACTIVATIONS", "Kernel", "make_kernel"]


def _first(values: np.ndarray, bad: np.ndarray) -> float:
    return float(np.broadcast_to(values, bad.shape)[bad].flat[0])


class Kernel:
    """``forward(*args) -> out``; ``local(args, out, need) -> d out / d arg`` per argument.

    A kernel that is one NumPy ufunc names it (``ufunc``) and writes each local derivative
    as a source expression over the arguments' and the output's names (``local_source``).
    Those are its one definition: the methods below evaluate them, and the straight-line
    code (:mod:`._codegen`) writes them into its lines. Other kernels define the methods.
    """

    unit_locals = False  # whether every local derivative is 1.0 (then local needs no call)
    ufunc: str | None = None  # "np.exp": the forward, when it is one ufunc

    @staticmethod
    def local_source(args: Sequence[str], out: str) -> list[str] | None:
        return None

    def forward(self, *args: np.ndarray) -> np.ndarray:
        if self.ufunc is None:
            raise NotImplementedError
        return getattr(np, self.ufunc.removeprefix("np."))(*args)

    def local(self, args: Sequence[np.ndarray], out: np.ndarray, need: Sequence[bool]) -> list:
        return _locals_function(type(self), len(args))(*args, out)


@functools.cache
def _locals_function(kind: type[Kernel], arity: int) -> Any:
    """``(*args, out) -> [local derivatives]``, compiled once from ``kind.local_source``."""
    names = [f"x{i}" for i in range(arity)]
    sources = kind.local_source(names, "out")
    if sources is None:
        raise NotImplementedError(f"{kind.__name__} has no local derivatives")
    return eval(f"lambda {', '.join(names)}, out: [{', '.join(sources)}]", {"np": np})


class _Add(Kernel):
    unit_locals = True
    ufunc = "np.add"

    @staticmethod
    def local_source(args, out):
        return ["1.0", "1.0"]


class _Mul(Kernel):
    ufunc = "np.multiply"

    @staticmethod
    def local_source(args, out):
        return [args[1], args[0]]


class _Neg(Kernel):
    ufunc = "np.negative"

    @staticmethod
    def local_source(args, out):
        return ["-1.0"]


class _Pow(Kernel):
    """``x ** y`` with the engine's rules: IEEE poles, errors for complex results."""

    def __init__(self, strict: bool) -> None:
        # The engine refuses a negative base when the exponent takes gradients.
        self.strict = strict

    def forward(self, x, y):
        if self.strict:
            bad = x < 0
            if bad.any():
                raise ValueError(
                    f"pow: a negative base ({_first(x, bad)!r}) to an exponent that takes "
                    "gradients has no real derivative with respect to the exponent; use a "
                    "positive base"
                )
        bad = (x < 0) & np.isfinite(y) & (np.floor(y) != y)  # -inf too, as the engine
        if bad.any():
            raise ValueError(
                f"pow: a negative base ({_first(x, bad)!r}) to a non-integer exponent "
                f"({_first(y, bad)!r}) has no real value"
            )
        return np.power(x, y)

    def local(self, args, out, need):
        x, y = args
        d_base = None
        if need[0]:
            # As the engine: d/dx x**0 is 0, not 0 * x**-1 (nan at x == 0).
            d_base = np.where(y == 0.0, 0.0, y * np.power(x, y - 1.0))
        d_exponent = None
        if need[1]:
            # As the engine: 0 at x == 0 for y >= 0 and for x < 0; out * log(x) elsewhere.
            zero = ((x == 0.0) & (y >= 0.0)) | (x < 0.0)
            d_exponent = np.where(zero, 0.0, out * np.log(np.where(zero, 1.0, x)))
        return [d_base, d_exponent]


class _Div(Kernel):
    ufunc = "np.divide"

    @staticmethod
    def local_source(args, out):
        return [f"(1.0 / {args[1]})", f"(-({out} / {args[1]}))"]


class _Exp(Kernel):
    ufunc = "np.exp"

    @staticmethod
    def local_source(args, out):
        return [out]


class _Log(Kernel):
    @staticmethod
    def local_source(args, out):
        return [f"(1.0 / {args[0]})"]

    def forward(self, x):
        bad = x < 0
        if bad.any():
            raise ValueError(
                f"log is defined for x >= 0 (log(0) = -inf); got x = {_first(x, bad)!r}"
            )
        return np.log(x)


class _Tanh(Kernel):
    ufunc = "np.tanh"

    @staticmethod
    def local_source(args, out):
        return [f"(1.0 - {out} * {out})"]

    @staticmethod
    def in_place(name: str) -> str:
        return f"np.tanh({name}, out={name})"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The engine's two branches: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class _Sigmoid(Kernel):
    @staticmethod
    def local_source(args, out):
        return [f"({out} * (1.0 - {out}))"]

    def forward(self, x):
        return _sigmoid(x)


class _Relu(Kernel):
    # As the engine (and PyTorch): nan stays nan, -0.0 stays -0.0; slope 0 where x <= 0.
    def forward(self, x):
        return np.where(x < 0, 0.0, x)

    @staticmethod
    def in_place(name: str) -> str:
        """Source applying the kernel to the array ``name`` in place: no temporary.

        ``np.maximum`` is much faster than the masked write of ``forward`` and keeps nan;
        for an input of -0.0 it may give +0.0 (numpy leaves the choice between equal
        zeros open), the same number as the engine's -0.0, and the slope is 0 either way.
        """
        return f"np.maximum({name}, 0.0, out={name})"

    @staticmethod
    def slope_times(out: str, g: str) -> str:
        """Source for the local derivative times ``g``, from the output: ``g * 1.0`` or
        ``g * 0.0`` (so ``0 * inf`` is nan, as in the engine). The output is >= 0 or nan,
        so ``out != 0`` is exactly the engine's ``not x <= 0``: 1 for x > 0 and for nan."""
        return f"{g} * ({out} != 0)"

    def local(self, args, out, need):
        return [np.where(args[0] <= 0, 0.0, 1.0)]


class _LeakyRelu(Kernel):
    def __init__(self, slope: float) -> None:
        self.slope = slope

    def forward(self, x):
        return np.where(x > 0, x, self.slope * x)

    def local(self, args, out, need):
        return [np.where(args[0] > 0, 1.0, self.slope)]


class _Softplus(Kernel):
    def forward(self, x):
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))

    def local(self, args, out, need):
        return [_sigmoid(args[0])]


class _Sin(Kernel):
    ufunc = "np.sin"

    @staticmethod
    def local_source(args, out):
        return [f"np.cos({args[0]})"]


class _Cos(Kernel):
    ufunc = "np.cos"

    @staticmethod
    def local_source(args, out):
        return [f"(-np.sin({args[0]}))"]


class _Sqrt(Kernel):
    def forward(self, x):
        bad = x < 0
        if bad.any():
            raise ValueError(f"sqrt is defined for x >= 0; got x = {_first(x, bad)!r}")
        return np.sqrt(x)

    def local(self, args, out, need):
        return [0.5 / out]


class _Abs(Kernel):
    def forward(self, x):
        return np.abs(x)

    def local(self, args, out, need):
        x = args[0]
        return [np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0))]  # sign, with 0 for nan


class _Custom(Kernel):
    """A user primitive, replayed sample by sample with its own float functions."""

    def __init__(self, prim: Primitive) -> None:
        self.prim = prim

    def forward(self, *args):
        arrays = np.broadcast_arrays(*args)
        columns = [a.ravel().tolist() for a in arrays]
        forward = self.prim.forward
        out = [float(forward(*values)) for values in zip(*columns)]
        return np.array(out, dtype=float).reshape(arrays[0].shape)

    def local(self, args, out, need):
        arrays = np.broadcast_arrays(*args, out)
        columns = [a.ravel().tolist() for a in arrays]
        rule = self.prim.local_derivatives
        rows = [[_as_float(d) for d in rule(values[:-1], values[-1])] for values in zip(*columns)]
        table = np.array(rows, dtype=float).reshape(len(rows), len(args))
        return [table[:, i].reshape(arrays[0].shape) for i in range(len(args))]


def _as_float(d: Any) -> float:
    return d.data if isinstance(d, Value) else float(d)


ELEMENTWISE: dict[str, type[Kernel]] = {
    "add": _Add,
    "mul": _Mul,
    "div": _Div,
    "neg": _Neg,
    "exp": _Exp,
    "log": _Log,
    "tanh": _Tanh,
    "sigmoid": _Sigmoid,
    "relu": _Relu,
    "softplus": _Softplus,
    "sin": _Sin,
    "cos": _Cos,
    "sqrt": _Sqrt,
    "abs": _Abs,
}


# The activations that the engine fuses into a neuron's dot node.
FUSED_ACTIVATIONS: dict[str, type[Kernel]] = {
    "dot_relu": _Relu,
    "dot_tanh": _Tanh,
    "dot_sigmoid": _Sigmoid,
}


def make_kernel(key: Any, strict_pow: bool) -> Kernel:
    if isinstance(key, str):
        if key == "pow":
            return _Pow(strict_pow)
        return ELEMENTWISE[key]()
    if isinstance(key, tuple):  # ("leaky_relu", slope)
        return _LeakyRelu(key[1])
    return _Custom(key)
