"""Gradient health: is the gradient reaching every layer, at a sensible size?

Call :func:`gradient_health` after a backward pass. It groups the model's parameters by
layer, measures each layer's weight and gradient norms, optionally pushes a batch ``X``
through the layers to count dead ReLUs and saturated tanh/sigmoid units, optionally reads
a training history for trends, and gives a verdict with an explanation and a remedy:

``"non-finite"``
    Some gradient is ``nan`` or ``±inf`` (or a recorded loss or gradient norm is). This
    is always reported first: a nan hides every other symptom.
``"exploding"``
    Gradients are too large to take a step with: a layer's gradient norm is above
    ``exploding_grad_norm``, or above ``exploding_update_ratio`` times its weight norm,
    or more than ``1 / vanishing_ratio`` times the output layer's gradient norm; or the
    weights have already blown up (their root mean square is above
    ``exploded_weight_rms``, whatever the gradient now); or, with a history, the
    gradient norm or the loss grew by ``growth_factor`` or more.
``"no gradients"``
    Every gradient of every layer is exactly 0: no ``backward()`` has run since the last
    ``zero_grad()`` (or nothing reaches any parameter).
``"vanishing"``
    Some layer gets almost no gradient: its gradient norm is below ``vanishing_ratio``
    (1%) times the output layer's (the classic symptom: the first layer of a deep sigmoid
    network learns nothing), or exactly zero.
``"saturated"``
    Some layer's tanh/sigmoid units all saturate on ``X`` (at least
    ``saturated_layer_share`` of them, by default every one), whatever its gradient norm:
    their slope is below 0.02, so the layer barely moves and passes back almost nothing
    of what reaches it. Its units hold fixed values (a sign) that gradient descent can
    no longer change; a small gradient there does not mean the inputs are unused.
``"weak"``
    Some layer gets less than ``weak_ratio`` (10%) of the output layer's gradient norm:
    it learns, but ten times slower than the output layer.
``"healthy"``
    None of the above: every layer gets at least a tenth of the output layer's gradient.

The thresholds are calibrated on networks whose answer is known (``tests/test_health.py``):
on 20 seeds, 10-layer ReLU networks with He initialisation and tanh networks with
Xavier's keep every layer above 1% of the output layer's gradient norm (most above 10%:
healthy; a layer below is weak, and it does learn ten times slower), while 10-layer
sigmoid networks with Xavier initialisation put their first layer below 0.01%; a
sigmoid network whose first layer gets 0.6% of the output layer's is vanishing.

Dead units pass no gradient back, but they do not decide the verdict by themselves:
when they starve a layer, its gradient norm shows it and the rules above apply. A
layer with at least ``dead_share`` dead ReLUs or ``saturated_share`` saturated
tanh/sigmoid units gets a *warning* (``report.warnings``), and the remedy for the cause;
a layer whose tanh/sigmoid units are all saturated gets the verdict ``"saturated"``
instead (when nothing worse applies), because its gradient norm can look ordinary
while its units cannot learn.

The model's verdict is the worst layer's (in the order above), or the history's trend
when that is worse. All thresholds live in :class:`HealthThresholds`; they are rules of
thumb, meant to flag problems that span orders of magnitude, not subtle ones.

Definitions:

* A *layer* is a group of parameters named by ``training.layer_of``, the names
  ``training.History`` uses in ``"grad_norms"``: ``"layers.3.neurons.0.w.1"`` belongs to
  ``"layers.3"``. A model with ``parameters()`` but no ``named_parameters()`` (micrograd)
  is one group, ``"(model)"``. Groups keep the order of the parameters; the *output
  layer* is the last group. A layer's *weight norm* is the L2 norm of all its
  parameters (weights and biases), its *gradient norm* the L2 norm of their gradients.
* A ReLU unit is *dead* on ``X`` when its output is exactly 0 for every sample: no
  sample sends any gradient through it, so it can never recover by gradient descent.
* A tanh unit is *saturated* on a sample when ``|output| > tanh_saturation`` (0.99); a
  sigmoid unit when its output is outside ``[sigmoid_saturation, 1 -
  sigmoid_saturation]`` ([0.01, 0.99]). There the local derivative is below 0.02 (tanh)
  or 0.0099 (sigmoid). A unit is *saturated on X* when it is saturated on more than
  ``saturated_sample_share`` (half) of the samples.

Unit activations need a model shaped like ``nn.MLP``: ``model.layers`` is a list of
layers, each called on a list of inputs returns a list of Values, and each has
``neurons`` with an ``activation`` name. Other models get norms and verdicts without the
dead/saturated shares (the report's ``notes`` says why).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from autograd_lite.engine import Value, no_grad
from autograd_lite.training import layer_of

__all__ = [
    "HealthReport",
    "HealthThresholds",
    "HistoryTrend",
    "LayerHealth",
    "gradient_health",
    "history_records",
    "l2_norm",
    "layer_grad_norms",
]

NON_FINITE = "non-finite"
EXPLODING = "exploding"
NO_GRADIENTS = "no gradients"
VANISHING = "vanishing"
SATURATED = "saturated"
WEAK = "weak"
HEALTHY = "healthy"
# Worst first: the model's verdict is the worst one among its layers and its history.
_SEVERITY = (NON_FINITE, EXPLODING, NO_GRADIENTS, VANISHING, SATURATED, WEAK, HEALTHY)

_REMEDIES = {
    NON_FINITE: (
        "find the first nan/inf with `with detect_anomaly():`; check the inputs for nan/inf, "
        "lower the learning rate, clip gradients (optim.clip_grad_norm_), and use stable "
        "losses (binary_cross_entropy_with_logits, cross_entropy) instead of log(sigmoid(x))"
    ),
    EXPLODING: (
        "clip gradients (optim.clip_grad_norm_(model.parameters(), 1.0)), lower the "
        "learning rate, use smaller initial weights (init='xavier' for tanh/sigmoid, "
        "init='he' for ReLU), and scale inputs and regression targets to about unit size"
    ),
    VANISHING: (
        "use ReLU or leaky_relu in hidden layers (not sigmoid), He initialisation "
        "(init='he') for ReLU or Xavier (init='xavier') for tanh, fewer layers or "
        "Residual connections; scale inputs to about unit size"
    ),
    NO_GRADIENTS: (
        "call loss.backward() before gradient_health() (and zero_grad() only before the "
        "next backward()); if backward() did run, check that the loss depends on the "
        "parameters (not on .data copies or values made under no_grad())"
    ),
    WEAK: (
        "not urgent: the early layers learn more slowly than the last; Adam (which scales "
        "each parameter's step), ReLU units with He initialisation, or fewer layers help"
    ),
    HEALTHY: "nothing to change",
}
_DEAD_REMEDY = (
    "use leaky_relu, He initialisation (init='he') with biases near 0, and a lower "
    "learning rate (a large step can push a unit's bias so low that it never fires again)"
)
_SATURATED_REMEDY = (
    "scale inputs to about unit size, use smaller initial weights (init='xavier'), or "
    "ReLU/leaky_relu hidden units, which do not saturate"
)
_REMEDIES[SATURATED] = _SATURATED_REMEDY


@dataclass(frozen=True)
class HealthThresholds:
    """The numbers behind the verdicts (see the module docstring for the rules)."""

    vanishing_ratio: float = 1e-2
    """A layer whose gradient norm is below this times the output layer's is vanishing."""
    weak_ratio: float = 1e-1
    """A layer whose gradient norm is below this times the output layer's is weak."""
    exploding_grad_norm: float = 1e3
    """A layer whose gradient norm is above this is exploding."""
    exploding_update_ratio: float = 1e2
    """A layer whose gradient norm is above this times its weight norm is exploding."""
    exploded_weight_rms: float = 1e3
    """A layer whose weights' root mean square is above this has blown up: exploding."""
    growth_factor: float = 1e3
    """History: the gradient norm or the loss growing by this factor means exploding."""
    dead_share: float = 0.5
    """A layer with at least this share of dead ReLUs gets a warning."""
    saturated_share: float = 0.5
    """A layer with at least this share of saturated tanh/sigmoid units gets a warning."""
    saturated_layer_share: float = 1.0
    """A layer with at least this share of saturated tanh/sigmoid units is "saturated"."""
    tanh_saturation: float = 0.99
    """|tanh output| above this is saturated."""
    sigmoid_saturation: float = 0.01
    """A sigmoid output below this or above 1 - this is saturated."""
    saturated_sample_share: float = 0.5
    """A unit saturated on more than this share of the samples counts as saturated."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(
                    f"HealthThresholds.{f.name} must be a real number, got {type(value).__name__}"
                )
            if not value > 0 or not math.isfinite(value):
                raise ValueError(f"HealthThresholds.{f.name} must be positive, got {value!r}")
        for name in (
            "dead_share",
            "saturated_share",
            "saturated_layer_share",
            "saturated_sample_share",
        ):
            if getattr(self, name) > 1:
                raise ValueError(f"HealthThresholds.{name} is a share in (0, 1]")
        if not 0 < self.tanh_saturation < 1 or not 0 < self.sigmoid_saturation < 0.5:
            raise ValueError(
                "HealthThresholds: tanh_saturation must be in (0, 1) and sigmoid_saturation "
                "in (0, 0.5)"
            )


@dataclass
class LayerHealth:
    """One layer's numbers and verdict. Shares are None when they do not apply."""

    name: str
    n_params: int
    weight_norm: float
    grad_norm: float
    update_ratio: float
    """grad_norm / weight_norm: the relative size of a gradient step with lr = 1."""
    grad_ratio_to_output: float | None
    """grad_norm / the output layer's grad_norm (None when that is 0 or not finite)."""
    nonfinite_grads: int
    activation: str | None = None
    """The units' activation ("relu", "tanh", ..., "mixed"), when X was given."""
    units: int | None = None
    dead_relu_share: float | None = None
    """Dead ReLUs / ReLU units, when X was given and the layer has ReLU units."""
    saturated_share: float | None = None
    """Saturated units / tanh and sigmoid units, when X was given and it has any."""
    verdict: str = HEALTHY
    explanation: str = ""
    remedy: str = ""


@dataclass
class HistoryTrend:
    """What the training history says: growth from the first epoch, non-finite epochs."""

    epochs: int
    loss_growth: float | None
    """max(loss over epochs) / the first epoch's loss (None without usable losses)."""
    grad_norm_growth: float | None
    """max(total gradient norm) / the first epoch's (None without grad_norms)."""
    nonfinite_epochs: list[int]
    verdict: str
    explanation: str


@dataclass
class HealthReport:
    """The model's verdict, why, what to do, and the numbers per layer.

    ``str(report)`` is a readable table; ``to_dict()`` gives plain data (floats may be
    ``nan`` or ``inf``: those are the findings).
    """

    verdict: str
    explanation: str
    remedy: str
    layers: list[LayerHealth]
    first_to_last_ratio: float | None
    """The first layer's gradient norm / the output layer's (None if undefined)."""
    samples: int = 0
    """How many samples of X the activation statistics were computed on."""
    trend: HistoryTrend | None = None
    warnings: list[str] = field(default_factory=list)
    """Layers with many dead or saturated units on X (only a wholly saturated layer
    changes the verdict)."""
    notes: list[str] = field(default_factory=list)
    """Why some statistics are missing."""
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    """The numbers the verdicts were judged by (plots draw them)."""

    def layer(self, name: str) -> LayerHealth:
        """The layer called ``name`` (KeyError listing the names if there is none)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers are {[x.name for x in self.layers]}")

    def to_dict(self) -> dict[str, Any]:
        """The report as nested dicts and lists."""
        return asdict(self)

    def __str__(self) -> str:
        lines = [
            f"Gradient health: {self.verdict.upper()}",
            f"  {self.explanation}",
            f"  Remedy: {self.remedy}",
        ]
        if self.first_to_last_ratio is not None:
            lines.append(f"  first/last layer gradient norm: {self.first_to_last_ratio:.3g}")
        header = ("layer", "params", "|w|", "|grad|", "|grad|/|w|", "dead", "saturated", "nan/inf")
        rows = [header]
        for layer in self.layers:
            rows.append(
                (
                    layer.name,
                    str(layer.n_params),
                    f"{layer.weight_norm:.3g}",
                    f"{layer.grad_norm:.3g}",
                    f"{layer.update_ratio:.3g}",
                    _percent(layer.dead_relu_share),
                    _percent(layer.saturated_share),
                    str(layer.nonfinite_grads),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        table = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths))
            )
            for row in rows
        ]
        verdicts = ["verdict"] + [layer.verdict for layer in self.layers]
        lines.append("")
        lines.extend(f"{row}  {verdict}" for row, verdict in zip(table, verdicts))
        if self.trend is not None:
            lines.append("")
            lines.append(f"History ({self.trend.epochs} epochs): {self.trend.verdict}")
            lines.append(f"  {self.trend.explanation}")
        lines.extend(f"Warning: {warning}" for warning in self.warnings)
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


# --------------------------------------------------------------------------------------
# Norms
# --------------------------------------------------------------------------------------


def _as_number(x: Any) -> float:
    """A gradient as a float (a gradient built with create_graph=True is a Value)."""
    return float(x.data) if isinstance(x, Value) else float(x)


def l2_norm(values: Iterable[float]) -> float:
    """sqrt(sum(v**2)) without overflow or underflow; nan if any is nan, else inf if any is inf."""
    finite = []
    has_inf = False
    for v in values:
        if v != v:
            return math.nan
        if math.isinf(v):
            has_inf = True
        else:
            finite.append(v)
    # hypot scales internally, so 1e200 gradients do not overflow to inf when squared.
    return math.inf if has_inf else math.hypot(*finite)


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator with 0/0 = 0 and x/0 = inf, as a report should read."""
    if numerator != numerator or denominator != denominator:
        return math.nan
    if denominator == 0:
        return 0.0 if numerator == 0 else math.inf
    return numerator / denominator


# --------------------------------------------------------------------------------------
# Grouping parameters by layer
# --------------------------------------------------------------------------------------


def _group_parameters(model: Any) -> dict[str, list[Value]]:
    if hasattr(model, "named_parameters"):
        named = [(layer_of(name), p) for name, p in model.named_parameters()]
    elif hasattr(model, "parameters"):
        named = [("(model)", p) for p in model.parameters()]
    else:
        raise TypeError(
            "gradient_health() expected a model with named_parameters() or parameters() "
            f"(an nn.Module), got {type(model).__name__}"
        )
    groups: dict[str, list[Value]] = {}
    for name, parameter in named:
        if not isinstance(parameter, Value):
            raise TypeError(f"parameter {name!r} is a {type(parameter).__name__}, expected a Value")
        groups.setdefault(name, []).append(parameter)
    if not groups:
        raise ValueError("gradient_health(): the model has no parameters")
    return groups


def layer_grad_norms(model: Any) -> dict[str, float]:
    """The L2 norm of each layer's parameter gradients, keyed by layer name, in order."""
    return {
        name: l2_norm(_as_number(p.grad) for p in params)
        for name, params in _group_parameters(model).items()
    }


# --------------------------------------------------------------------------------------
# Activations on a batch
# --------------------------------------------------------------------------------------


def _check_batch(X: Any) -> list[list[float]]:
    if hasattr(X, "tolist") and hasattr(X, "shape"):  # a numpy array
        X = X.tolist()
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(
            f"gradient_health(): X must be a list of samples (lists of numbers), "
            f"got {type(X).__name__}"
        )
    if len(X) == 0:
        raise ValueError("gradient_health(): X is empty; give at least one sample")
    batch = []
    for i, sample in enumerate(X):
        if isinstance(sample, (str, bytes)) or not isinstance(sample, Sequence):
            raise TypeError(
                f"gradient_health(): X[{i}] must be a list of numbers, got {type(sample).__name__}"
            )
        row = []
        for x in sample:
            if isinstance(x, Value):
                x = x.data
            if isinstance(x, bool) or not isinstance(x, numbers.Real):
                raise TypeError(
                    f"gradient_health(): X[{i}] holds a {type(x).__name__}; expected numbers"
                )
            row.append(float(x))
        batch.append(row)
    return batch


def _output_data(output: Any) -> list[float]:
    items = output if isinstance(output, (list, tuple)) else [output]
    return [_as_number(v) for v in items]


def _unit_activations(layer: Any, width: int) -> list[str] | None:
    """Each output unit's activation name, or None unless the layer has one neuron per output.

    (A layer's own ``activation`` is not enough: an MLP used as a layer has ``activation``
    for its hidden layers, not for its outputs.)
    """
    neurons = getattr(layer, "neurons", None)
    if not isinstance(neurons, Sequence) or len(neurons) != width:
        return None
    return [str(getattr(n, "activation", "?")) for n in neurons]


def _layer_outputs(model: Any, batch: list[list[float]]) -> tuple[list[list[list[float]]], str]:
    """Each layer's outputs per sample, by calling ``model.layers`` in turn.

    Returns ``(outputs[layer][sample][unit], note)``; ``outputs`` is empty and the note
    says why when the model is not a plain chain of layers.
    """
    layers = getattr(model, "layers", None)
    if not isinstance(layers, Sequence) or not layers:
        return [], (
            "dead/saturated shares need a model whose `layers` attribute lists its layers "
            f"(like nn.MLP); {type(model).__name__} has none"
        )
    outputs: list[list[list[float]]] = [[] for _ in layers]
    training = getattr(model, "training", None)
    # Dropout must not zero units while we look for dead ones: evaluate in eval mode.
    if training and hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            for sample in batch:
                h: Any = sample
                for i, layer in enumerate(layers):
                    h = layer(h)
                    outputs[i].append(_output_data(h))
            chained = outputs[-1][0]
            direct = _output_data(model(batch[0]))
    finally:
        if training and hasattr(model, "train"):
            model.train(True)
    if len(chained) != len(direct) or any(
        not (a == b or (a != a and b != b)) for a, b in zip(chained, direct)
    ):
        return [], (
            "dead/saturated shares skipped: calling model.layers in turn does not reproduce "
            "model(x), so the layers are not a plain chain"
        )
    return outputs, ""


def _activation_shares(
    outputs: list[list[float]], kinds: list[str], limits: HealthThresholds
) -> tuple[float | None, float | None]:
    """(dead ReLU share, saturated share) of one layer from its outputs per sample."""
    n_samples = len(outputs)
    relu_units = dead = squashing_units = saturated = 0
    for unit, kind in enumerate(kinds):
        column = [row[unit] for row in outputs]
        if kind == "relu":
            relu_units += 1
            dead += all(v == 0.0 for v in column)
        elif kind in ("tanh", "sigmoid"):
            squashing_units += 1
            if kind == "tanh":
                hits = sum(abs(v) > limits.tanh_saturation for v in column)
            else:
                low = limits.sigmoid_saturation
                hits = sum(not low <= v <= 1.0 - low for v in column)
            saturated += hits > limits.saturated_sample_share * n_samples
    dead_share = dead / relu_units if relu_units else None
    saturated_share = saturated / squashing_units if squashing_units else None
    return dead_share, saturated_share


# --------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------


def _judge_layer(layer: LayerHealth, limits: HealthThresholds) -> str | None:
    """Fill in the layer's verdict, explanation and remedy by the documented rules.

    Returns a warning when many of the layer's units are dead or saturated on X.
    """
    ratio = layer.grad_ratio_to_output
    if layer.nonfinite_grads:
        layer.verdict = NON_FINITE
        layer.explanation = f"{layer.nonfinite_grads} of {layer.n_params} gradients are nan or inf"
    elif layer.grad_norm > limits.exploding_grad_norm:
        layer.verdict = EXPLODING
        layer.explanation = (
            f"gradient norm {layer.grad_norm:.3g} is above {limits.exploding_grad_norm:g}"
        )
    elif layer.update_ratio > limits.exploding_update_ratio:
        layer.verdict = EXPLODING
        layer.explanation = (
            f"gradient norm is {layer.update_ratio:.3g} times the weight norm "
            f"(above {limits.exploding_update_ratio:g}): one step would swamp the weights"
        )
    elif (
        layer.n_params
        and layer.weight_norm / math.sqrt(layer.n_params) > limits.exploded_weight_rms
    ):
        layer.verdict = EXPLODING
        rms = layer.weight_norm / math.sqrt(layer.n_params)
        layer.explanation = (
            f"the weights have blown up: their root mean square is {rms:.3g} (above "
            f"{limits.exploded_weight_rms:g}); earlier steps were far too large"
        )
    elif ratio is not None and ratio > 1.0 / limits.vanishing_ratio:
        layer.verdict = EXPLODING
        layer.explanation = (
            f"gradient norm is {ratio:.3g} times the output layer's: it grows on the way back"
        )
    elif layer.grad_norm == 0.0:
        layer.verdict = VANISHING
        layer.explanation = "every gradient is exactly 0: no gradient reaches this layer"
    elif ratio is not None and ratio < limits.vanishing_ratio:
        layer.verdict = VANISHING
        layer.explanation = (
            f"gradient norm is {ratio:.3g} times the output layer's (below "
            f"{limits.vanishing_ratio:g}): it shrinks on the way back"
        )
    elif ratio is not None and ratio < limits.weak_ratio:
        layer.verdict = WEAK
        layer.explanation = (
            f"gradient norm is {ratio:.3g} times the output layer's (below "
            f"{limits.weak_ratio:g}): it learns, but slowly"
        )
    else:
        layer.verdict = HEALTHY
        layer.explanation = (
            f"gradient norm {layer.grad_norm:.3g}, {layer.update_ratio:.3g} times the weight norm"
        )
    layer.remedy = _REMEDIES[layer.verdict]
    if (
        layer.verdict in (WEAK, HEALTHY)
        and layer.saturated_share is not None
        and layer.saturated_share >= limits.saturated_layer_share
    ):
        _judge_saturated(layer, ratio, limits)
        return f"{layer.name}: {layer.saturated_share:.0%} of its tanh/sigmoid units saturate on X"

    warning = mechanism_remedy = None
    if layer.dead_relu_share is not None and layer.dead_relu_share >= limits.dead_share:
        warning = f"{layer.dead_relu_share:.0%} of its ReLUs are dead on X"
        mechanism_remedy = _DEAD_REMEDY
    elif layer.saturated_share is not None and layer.saturated_share >= limits.saturated_share:
        warning = f"{layer.saturated_share:.0%} of its tanh/sigmoid units saturate on X"
        mechanism_remedy = _SATURATED_REMEDY
    if warning is None or mechanism_remedy is None:
        return None
    layer.explanation += f"; {warning}"
    # A vanishing gradient with dead or saturated units: the units are the cause to fix.
    if layer.verdict in (VANISHING, WEAK, HEALTHY):
        layer.remedy = mechanism_remedy
    return f"{layer.name}: {warning}"


def _judge_saturated(layer: LayerHealth, ratio: float | None, limits: HealthThresholds) -> None:
    """The verdict of a layer whose tanh/sigmoid units (nearly) all saturate on X."""
    share = layer.saturated_share or 0.0
    kind = layer.activation if layer.activation in ("tanh", "sigmoid") else "tanh/sigmoid"
    if share < 1.0:
        count = f"{share:.0%} of the"
    else:
        count = f"all {layer.units}" if layer.units and kind != "tanh/sigmoid" else "all the"
    slope = "0.02" if kind == "tanh" else "0.01"
    layer.verdict = SATURATED
    layer.explanation = (
        f"{count} {kind} units saturate on X (on more than "
        f"{limits.saturated_sample_share:.0%} of the samples): their slope is below {slope}, "
        "so they barely learn and pass back little of the gradient that reaches them"
    )
    if ratio is not None:
        layer.explanation += f"; gradient norm {ratio:.3g} times the output layer's"
    layer.remedy = _REMEDIES[SATURATED]


def _worst(verdicts: Iterable[str]) -> str:
    return min(verdicts, key=_SEVERITY.index, default=HEALTHY)


# --------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------


def history_records(history: Any) -> list[Mapping[str, Any]]:
    """The per-epoch records of a History, a History.to_dict(), or a list of dicts."""
    if hasattr(history, "records"):
        records = history.records
    elif isinstance(history, Mapping) and "records" in history:
        records = history["records"]
    else:
        records = history
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        raise TypeError(
            "history must be a training History (or its to_dict(), or a list of per-epoch "
            f"dicts), got {type(history).__name__}"
        )
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(f"history record {i} must be a dict, got {type(record).__name__}")
    return list(records)


def _growth(series: list[float]) -> float | None:
    """max(series) / series[0] over the finite entries; None if there are fewer than two."""
    finite = [v for v in series if v is not None and math.isfinite(v)]
    if len(finite) < 2:
        return None
    return _ratio(max(finite), finite[0])


def _judge_history(history: Any, limits: HealthThresholds) -> HistoryTrend:
    records = history_records(history)
    losses: list[float] = []
    totals: list[float] = []
    nonfinite_epochs: list[int] = []
    for i, record in enumerate(records):
        epoch = record.get("epoch", i)
        bad = False
        loss = record.get("loss")
        if loss is not None:
            loss = _as_number(loss)
            losses.append(loss)
            bad = not math.isfinite(loss)
        norms = record.get("grad_norms")
        if norms:
            values = [_as_number(v) for v in norms.values()]
            total = l2_norm(values)
            totals.append(total)
            bad = bad or not math.isfinite(total)
        if bad:
            nonfinite_epochs.append(epoch)
    loss_growth = _growth(losses)
    norm_growth = _growth(totals)
    if nonfinite_epochs:
        verdict = NON_FINITE
        explanation = (
            f"the loss or a gradient norm is nan/inf from epoch {nonfinite_epochs[0]} "
            f"({len(nonfinite_epochs)} of {len(records)} epochs)"
        )
    elif norm_growth is not None and norm_growth >= limits.growth_factor:
        verdict = EXPLODING
        explanation = f"the gradient norm grew {norm_growth:.3g}× during training"
    elif loss_growth is not None and loss_growth >= limits.growth_factor:
        verdict = EXPLODING
        explanation = f"the loss grew {loss_growth:.3g}× during training: it diverges"
    else:
        verdict = HEALTHY
        parts = []
        if norm_growth is not None:
            parts.append(f"gradient norm at most {norm_growth:.3g}× its first value")
        if loss_growth is not None:
            parts.append(f"loss at most {loss_growth:.3g}× its first value")
        explanation = "; ".join(parts) or "too few epochs to see a trend"
    return HistoryTrend(
        epochs=len(records),
        loss_growth=loss_growth,
        grad_norm_growth=norm_growth,
        nonfinite_epochs=nonfinite_epochs,
        verdict=verdict,
        explanation=explanation,
    )


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


def _thresholds(thresholds: Any) -> HealthThresholds:
    if thresholds is None:
        return HealthThresholds()
    if isinstance(thresholds, HealthThresholds):
        return thresholds
    if isinstance(thresholds, Mapping):
        known = {f.name for f in fields(HealthThresholds)}
        unknown = sorted(set(thresholds) - known)
        if unknown:
            raise ValueError(f"unknown thresholds {unknown}; the thresholds are {sorted(known)}")
        return HealthThresholds(**thresholds)
    raise TypeError(
        "thresholds must be a HealthThresholds or a dict of its fields, "
        f"got {type(thresholds).__name__}"
    )


def gradient_health(
    model: Any,
    X: Sequence[Sequence[float]] | None = None,
    *,
    history: Any = None,
    thresholds: HealthThresholds | Mapping[str, float] | None = None,
) -> HealthReport:
    """Diagnose the gradients of ``model`` after a backward pass.

    ``model`` is an ``nn.Module`` (anything with ``named_parameters()``); its parameters'
    ``.grad`` are read as they are, so call this after ``loss.backward()`` and before
    ``zero_grad()``. ``X`` (a list of samples) adds dead-ReLU and saturation shares;
    ``history`` (a ``training.History``, its ``to_dict()``, or a list of per-epoch dicts
    with ``"loss"`` and ``"grad_norms"``) adds the trend over training. ``thresholds``
    overrides the rules' numbers (a :class:`HealthThresholds` or a dict of its fields).
    The rules are in the module docstring.

    >>> report = gradient_health(model, X_train)   # doctest: +SKIP
    >>> report.verdict, report.layer("layers.0").dead_relu_share   # doctest: +SKIP
    """
    limits = _thresholds(thresholds)
    groups = _group_parameters(model)
    notes: list[str] = []

    layers = []
    for name, params in groups.items():
        grads = [_as_number(p.grad) for p in params]
        weight_norm = l2_norm(p.data for p in params)
        grad_norm = l2_norm(grads)
        layers.append(
            LayerHealth(
                name=name,
                n_params=len(params),
                weight_norm=weight_norm,
                grad_norm=grad_norm,
                update_ratio=_ratio(grad_norm, weight_norm),
                grad_ratio_to_output=None,
                nonfinite_grads=sum(not math.isfinite(g) for g in grads),
            )
        )
    output_norm = layers[-1].grad_norm
    if math.isfinite(output_norm) and output_norm > 0:
        for layer in layers:
            if math.isfinite(layer.grad_norm):
                layer.grad_ratio_to_output = layer.grad_norm / output_norm
    first_to_last = layers[0].grad_ratio_to_output if len(layers) > 1 else None

    samples = 0
    if X is not None:
        batch = _check_batch(X)
        outputs, note = _layer_outputs(model, batch)
        if note:
            notes.append(note)
        else:
            samples = len(batch)
            model_layers = model.layers
            by_name = {layer.name: layer for layer in layers}
            for i, layer_outputs in enumerate(outputs):
                width = len(layer_outputs[0])
                kinds = _unit_activations(model_layers[i], width)
                health = by_name.get(f"layers.{i}")
                if health is None or kinds is None:
                    continue
                health.units = width
                health.activation = kinds[0] if len(set(kinds)) == 1 else "mixed"
                health.dead_relu_share, health.saturated_share = _activation_shares(
                    layer_outputs, kinds, limits
                )

    warnings = [w for w in (_judge_layer(layer, limits) for layer in layers) if w is not None]
    no_gradients = all(layer.grad_norm == 0.0 for layer in layers)
    if no_gradients:
        for layer in layers:
            if layer.verdict == VANISHING:
                layer.verdict = NO_GRADIENTS
                layer.explanation = "every gradient is exactly 0"
                layer.remedy = _REMEDIES[NO_GRADIENTS]

    trend = _judge_history(history, limits) if history is not None else None
    verdict = _worst([layer.verdict for layer in layers] + ([trend.verdict] if trend else []))
    explanation, remedy = _explain_model(verdict, layers, trend, first_to_last, warnings)
    return HealthReport(
        verdict=verdict,
        explanation=explanation,
        remedy=remedy,
        layers=layers,
        first_to_last_ratio=first_to_last,
        samples=samples,
        trend=trend,
        warnings=warnings,
        notes=notes,
        thresholds=limits,
    )


def _explain_model(
    verdict: str,
    layers: list[LayerHealth],
    trend: HistoryTrend | None,
    first_to_last: float | None,
    warnings: list[str],
) -> tuple[str, str]:
    """One line saying which layers (or which trend) gave the verdict, and the remedy."""
    if verdict == HEALTHY:
        explanation = "gradients reach every layer at a reasonable size"
        if first_to_last is not None:
            explanation += f"; first/last layer gradient norm ratio {first_to_last:.3g}"
        if not warnings:
            return explanation, _REMEDIES[HEALTHY]
        warned = next(layer for layer in layers if warnings[0].startswith(layer.name + ":"))
        return (
            f"{explanation}; but {'; '.join(warnings)}",
            f"nothing urgent; for the warnings: {warned.remedy}",
        )
    culprits = [layer for layer in layers if layer.verdict == verdict]
    if verdict == NO_GRADIENTS:
        return (
            "every gradient is exactly 0: no backward() has run since the gradients were "
            "last zeroed, or no gradient reaches any parameter",
            _REMEDIES[NO_GRADIENTS],
        )
    if culprits:
        # Name the first culprit (closest to the input, where problems usually start).
        explanation = f"{culprits[0].name}: {culprits[0].explanation}"
        if len(culprits) > 1:
            others = len(culprits) - 1
            explanation += f" (and {others} more layer{'s' if others > 1 else ''})"
        if verdict in (VANISHING, WEAK) and first_to_last is not None:
            explanation += f"; first/last layer gradient norm ratio {first_to_last:.3g}"
        remedy = culprits[0].remedy
    else:
        explanation, remedy = "", _REMEDIES[verdict]
    if trend is not None and trend.verdict == verdict:
        explanation = (
            f"{explanation}; history: {trend.explanation}"
            if culprits
            else (f"history: {trend.explanation}")
        )
    return explanation, remedy
