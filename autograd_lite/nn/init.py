"""Initial weights: micrograd's uniform, Xavier/Glorot and He/Kaiming, from a seeded RNG.

Every scheme draws one neuron's incoming weights at a time, in order, from the random
number generator it is given, so a network built with ``seed=0`` is the same on every run
and independent of the global ``random`` state. Biases always start at 0.

========== =========================================== ===============================
scheme     distribution of each weight                 variance
========== =========================================== ===============================
uniform    U(-1, 1), as micrograd                       1/3
xavier     U(-a, a), a = sqrt(6 / (fan_in + fan_out))   2 / (fan_in + fan_out)
he         N(0, 2 / fan_in) (Kaiming normal, fan_in)    2 / fan_in
========== =========================================== ===============================

``glorot`` is accepted for ``xavier`` and ``kaiming`` for ``he``. Xavier keeps the
variance of activations through tanh/sigmoid layers (gain 1, as
``torch.nn.init.xavier_uniform_``); He keeps it through ReLU layers (gain sqrt(2), as
``torch.nn.init.kaiming_normal_(mode="fan_in", nonlinearity="relu")``).
"""

from __future__ import annotations

import math
import numbers
import random
from typing import Any

__all__ = ["SCHEMES", "canonical_scheme", "checked_seed", "initial_weights", "make_rng"]

SCHEMES = ("uniform", "xavier", "he")
_ALIASES = {"glorot": "xavier", "kaiming": "he"}


def canonical_scheme(name: object) -> str:
    """The scheme's canonical name ('glorot' → 'xavier'); ValueError for an unknown one."""
    if not isinstance(name, str):
        raise TypeError(f"init must be a str, one of {_accepted()}; got {type(name).__name__}")
    key = name.lower()
    key = _ALIASES.get(key, key)
    if key not in SCHEMES:
        raise ValueError(f"unknown init scheme {name!r}; expected one of {_accepted()}")
    return key


def _accepted() -> str:
    return ", ".join(repr(s) for s in (*SCHEMES, *_ALIASES))


def make_rng(seed: int | None) -> Any:
    """``random.Random(seed)``, or the global ``random`` module when ``seed`` is None.

    With no seed, weights come from the global generator in the order micrograd draws
    them, so ``random.seed(1337); MLP(2, [16, 16, 1])`` gives micrograd's exact network.
    """
    seed = checked_seed(seed)
    return random if seed is None else random.Random(seed)


def checked_seed(seed: object) -> int | None:
    """``seed`` as a plain int (a NumPy integer too), or None; TypeError for anything else."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    return int(seed)


def initial_weights(scheme: str, fan_in: int, fan_out: int, rng: Any) -> list[float]:
    """``fan_in`` weights for one neuron, drawn from ``rng`` by ``scheme``.

    ``fan_out`` is the width of the layer the neuron belongs to (only Xavier uses it).
    ``rng`` is a ``random.Random`` or the ``random`` module.
    """
    scheme = canonical_scheme(scheme)
    if scheme == "uniform":
        return [rng.uniform(-1.0, 1.0) for _ in range(fan_in)]
    if scheme == "xavier":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        return [rng.uniform(-bound, bound) for _ in range(fan_in)]
    std = math.sqrt(2.0 / fan_in)
    return [rng.gauss(0.0, std) for _ in range(fan_in)]
