"""``BatchNorm1d``: batch normalisation with PyTorch's semantics.

In training mode each feature is normalised with the mean and the *biased* variance of
the batch, so every output depends on every sample of the batch and the gradient flows
through the batch statistics. The running estimates are updated as PyTorch does::

    running_mean = (1 - momentum) * running_mean + momentum * batch_mean
    running_var  = (1 - momentum) * running_var  + momentum * batch_var * n / (n - 1)

(the *unbiased* variance; with ``momentum=None`` a cumulative average over the batches
seen). In eval mode the running estimates are used and each sample is normalised on its
own, which is why an eval-mode ``BatchNorm1d`` also accepts a single sample.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from autograd_lite.engine import Value, sum_values
from autograd_lite.nn._scaling import range_multiplier
from autograd_lite.nn.module import Module, config_arguments, register_module

__all__ = ["BatchNorm1d"]

# Batch counts up to 2^53 are exact floats (the form a model file holds them in).
_MAX_COUNT = 2**53


def _check_sample(sample: Any, index: int, width: int) -> list[Any]:
    if not isinstance(sample, (list, tuple)):
        raise TypeError(
            f"BatchNorm1d: sample {index} must be a list of {width} Values or numbers, "
            f"got {type(sample).__name__}"
        )
    if len(sample) != width:
        raise ValueError(
            f"BatchNorm1d: sample {index} has {len(sample)} features, expected {width}"
        )
    return list(sample)


def _is_sample(x: Sequence[Any]) -> bool:
    """True for one sample (a list of Values or numbers), False for a batch of them."""
    return len(x) > 0 and not isinstance(x[0], (list, tuple))


@register_module
class BatchNorm1d(Module):
    """Normalise each of ``num_features`` features over a batch, then scale and shift.

    Call it on a batch (a list of samples, each a list of ``num_features`` Values or
    numbers); it returns the list of normalised samples, ``weight * x̂ + bias`` per
    feature. ``weight`` (ones) and ``bias`` (zeros) are the parameters when ``affine``;
    ``running_mean``, ``running_var`` (lists of floats) and ``num_batches_tracked`` are
    saved with the model (they are in ``state_dict()``) but are not parameters.
    A batch of one sample in training mode is an error, as in PyTorch: its variance is 0.
    """

    _buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
    ) -> None:
        if isinstance(num_features, bool) or not isinstance(num_features, int):
            raise TypeError(
                f"BatchNorm1d: num_features must be an int, got {type(num_features).__name__}"
            )
        if num_features < 1:
            raise ValueError(f"BatchNorm1d: num_features must be positive, got {num_features}")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise TypeError(f"BatchNorm1d: eps must be a number, got {type(eps).__name__}")
        if not float(eps) > 0.0 or float(eps) == float("inf"):
            raise ValueError(f"BatchNorm1d: eps must be a positive finite number, got {eps}")
        if momentum is not None:
            if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
                raise TypeError(
                    f"BatchNorm1d: momentum must be a number in [0, 1] or None, "
                    f"got {type(momentum).__name__}"
                )
            if not 0.0 <= float(momentum) <= 1.0:
                raise ValueError(f"BatchNorm1d: momentum must be in [0, 1], got {momentum}")
            momentum = float(momentum)
        if not isinstance(affine, bool):
            raise TypeError(f"BatchNorm1d: affine must be a bool, got {type(affine).__name__}")
        self.num_features = num_features
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        if affine:
            self.weight = [Value(1.0, label=f"weight.{j}") for j in range(num_features)]
            self.bias = [Value(0.0, label=f"bias.{j}") for j in range(num_features)]
        else:
            self.weight = None
            self.bias = None
        self.running_mean = [0.0] * num_features
        self.running_var = [1.0] * num_features
        self.num_batches_tracked = 0

    def forward(self, x: Sequence[Any]) -> list[Any]:
        """The normalised batch (or, in eval mode, a single normalised sample)."""
        if not isinstance(x, (list, tuple)):
            raise TypeError(
                f"BatchNorm1d expects a batch: a list of samples, each a list of "
                f"{self.num_features} Values or numbers; got {type(x).__name__}"
            )
        if len(x) == 0:
            raise ValueError("BatchNorm1d: the batch is empty")
        if _is_sample(x):
            if self.training:
                raise ValueError(
                    "BatchNorm1d in training mode normalises over a batch and got a single "
                    f"sample of {len(x)} numbers; pass a list of samples, or call .eval() to "
                    "normalise one sample with the running statistics (a compiled loss "
                    "traces one sample, so it needs eval mode)"
                )
            return self._normalise_eval([_check_sample(x, 0, self.num_features)])[0]
        batch = [_check_sample(s, i, self.num_features) for i, s in enumerate(x)]
        if not self.training:
            return self._normalise_eval(batch)
        if len(batch) == 1:
            raise ValueError(
                "BatchNorm1d: expected more than 1 sample per feature in training mode, got a "
                "batch of 1 (its variance is 0); use a larger batch or call .eval()"
            )
        return self._normalise_train(batch)

    def _affine(self, j: int, normalised: Any) -> Any:
        if self.weight is None:
            return normalised
        return self.weight[j] * normalised + self.bias[j]

    def _normalise_eval(self, batch: list[list[Any]]) -> list[list[Any]]:
        scales = [(v + self.eps) ** -0.5 for v in self.running_var]
        return [
            [
                self._affine(j, (value - self.running_mean[j]) * scales[j])
                for j, value in enumerate(sample)
            ]
            for sample in batch
        ]

    def _normalise_train(self, batch: list[list[Any]]) -> list[list[Any]]:
        n = len(batch)
        self.num_batches_tracked += 1
        # momentum=None: PyTorch's cumulative average over the batches seen.
        factor = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        columns = []
        for j in range(self.num_features):
            column = [sample[j] for sample in batch]
            # Entries past 2^±200 are multiplied by a power of two first, so that c * c
            # cannot overflow; the output does not depend on it (see nn._scaling).
            multiplier = range_multiplier(column, self.eps)
            if multiplier != 1.0:
                column = [value * multiplier for value in column]
            mean = sum_values(column) / n
            centred = [value - mean for value in column]
            variance = sum_values([c * c for c in centred]) / n  # biased, as PyTorch
            inverse_std = (variance + self.eps * multiplier * multiplier) ** -0.5
            columns.append([self._affine(j, c * inverse_std) for c in centred])
            # The running statistics at the data's own scale (a variance past 1e308 is inf).
            mean_data = (mean.data if isinstance(mean, Value) else float(mean)) / multiplier
            variance_data = variance.data if isinstance(variance, Value) else float(variance)
            variance_data = variance_data / multiplier / multiplier
            self.running_mean[j] = (1.0 - factor) * self.running_mean[j] + factor * mean_data
            self.running_var[j] = (1.0 - factor) * self.running_var[j] + factor * (
                variance_data * n / (n - 1)
            )
        return [[columns[j][i] for j in range(self.num_features)] for i in range(n)]

    def check_buffers(self, prefix: str, state: Mapping[str, float]) -> None:
        """Loaded statistics must be ones training could have produced: finite means,
        finite variances >= 0 (``(var + eps) ** -0.5`` needs them), a whole count in
        ``0..2**53`` (the cumulative average divides by it; past 2**53 floats skip counts)."""
        where = f"{prefix}." if prefix else ""
        for j in range(self.num_features):
            mean = state[f"{where}running_mean.{j}"]
            if not math.isfinite(mean):
                raise ValueError(
                    f"BatchNorm1d: {where}running_mean.{j} is {mean!r}; a mean must be finite"
                )
            variance = state[f"{where}running_var.{j}"]
            if not (math.isfinite(variance) and variance >= 0.0):
                raise ValueError(
                    f"BatchNorm1d: {where}running_var.{j} is {variance!r}; it must be "
                    "a variance, >= 0 and finite"
                )
        count = state[f"{where}num_batches_tracked"]
        if not 0 <= count <= _MAX_COUNT:
            raise ValueError(
                f"BatchNorm1d: {where}num_batches_tracked is {count!r}; it counts batches, "
                f"so it must be >= 0 (and at most 2^53)"
            )

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """``weight`` and ``bias`` when affine, two running statistics and the batch count."""
        arguments = config_arguments(cls, config, ("num_features", "eps", "momentum", "affine"))
        width = arguments["num_features"]
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= sys.maxsize:
            raise ValueError(f"BatchNorm1d: num_features must be a positive int, got {width!r}")
        affine = arguments["affine"]
        if not isinstance(affine, bool):
            raise TypeError(f"BatchNorm1d: affine must be a bool, got {type(affine).__name__}")
        return (4 if affine else 2) * width + 1

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )
