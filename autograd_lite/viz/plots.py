"""Plots of training and of gradients: loss curves, decision boundaries, gradient flow,
gradient health and optimiser trajectories.

Every function returns a matplotlib ``Figure`` and, given ``path``, also saves it there,
in the format the suffix names (``.png``, ``.svg``, ``.pdf``, ...). Saving is atomic:
the figure is written to a temporary file in the same directory and moved into place,
so a crash never leaves a half-written file. Pass ``ax=`` to draw into an existing
matplotlib Axes instead of a new figure.

Figures are built with ``matplotlib.figure.Figure`` directly, not with ``pyplot``: no GUI
backend is involved (saving renders with Agg), no window opens, and no figure lingers in
pyplot's global list. In Jupyter a figure returned by a cell is shown as a PNG (the
figures have ``_repr_png_``), whether or not ``%matplotlib inline`` is active.

Needs matplotlib: ``pip install "autograd-lite[viz]"``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import numbers
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd_lite.diagnostics.health import (
    HealthReport,
    history_records,
    layer_grad_norms,
)
from autograd_lite.engine import Value, no_grad

__all__ = [
    "DecisionGrid",
    "decision_grid",
    "plot_decision_boundary",
    "plot_gradient_flow",
    "plot_health",
    "plot_loss_curve",
    "plot_trajectories",
    "save_figure",
]

_INSTALL_HINT = 'plots need matplotlib: pip install "autograd-lite[viz]"'
# One colour per verdict, so a plot of a report reads at a glance.
VERDICT_COLOURS = {
    "healthy": "tab:green",
    "weak": "tab:orange",
    "saturated": "tab:purple",
    "vanishing": "tab:blue",
    "no gradients": "tab:grey",
    "exploding": "tab:red",
    "non-finite": "black",
}

PathLike = str | os.PathLike


def _figure_class() -> Any:
    """The Figure class the plots make: matplotlib's, able to show itself in Jupyter."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return _displayable(Figure)


@functools.cache
def _displayable(figure_class: Any) -> Any:
    class PlotFigure(figure_class):  # type: ignore[misc, valid-type]
        """A matplotlib Figure that Jupyter displays as a PNG when a cell returns it.

        pyplot's inline backend only shows figures made through pyplot; these are not.
        """

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png")
            return buffer.getvalue()

    return PlotFigure


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as error:  # matplotlib depends on numpy, so this is rare
        raise ImportError(_INSTALL_HINT) from error
    return numpy


def _axes(ax: Any, figsize: tuple[float, float] = (6.4, 4.4)) -> tuple[Any, Any]:
    """(figure, axes): a new figure with one Axes, or the figure ``ax`` belongs to."""
    if ax is None:
        figure = _figure_class()(figsize=figsize, layout="constrained")
        return figure, figure.add_subplot()
    if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax.figure, ax


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_figure(figure: Any, path: PathLike) -> Path:
    """Save ``figure`` to ``path`` atomically, in the format named by the suffix.

    The figure is written to a temporary file beside ``path`` and moved over it with
    ``os.replace``, so readers see either the old file or the whole new one.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, got {type(path).__name__}")
    target = Path(path)
    file_format = target.suffix[1:].lower()
    supported = sorted(figure.canvas.get_supported_filetypes())
    if file_format not in supported:
        raise ValueError(
            f"cannot tell the file format from {str(target)!r}; give the path one of the "
            f"suffixes {', '.join('.' + s for s in supported)}"
        )
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save {str(target)!r}: no directory {str(directory)!r}")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format=file_format)
        # mkstemp makes the file private (0600); give it the permissions open() would.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target


def _finish(figure: Any, path: PathLike | None) -> Any:
    if path is not None:
        save_figure(figure, path)
    return figure


def _number(x: Any, where: str = "the history") -> float | None:
    if x is None:
        return None
    if isinstance(x, Value):
        return x.data
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    raise TypeError(f"expected a number in {where}, got {type(x).__name__}")


def _as_list(data: Any) -> Any:
    """numpy arrays as nested lists, so they pass the Sequence checks; others unchanged."""
    return data.tolist() if hasattr(data, "tolist") and hasattr(data, "shape") else data


def _series(records: list[Mapping[str, Any]], key: str) -> list[float | None]:
    return [_number(record.get(key)) for record in records]


def _epochs(records: list[Mapping[str, Any]]) -> list[Any]:
    return [record.get("epoch", i) for i, record in enumerate(records)]


def _nan_for_none(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _present(values: list[float | None]) -> bool:
    return any(v is not None for v in values)


# --------------------------------------------------------------------------------------
# Loss curves
# --------------------------------------------------------------------------------------


# Points taken below an axes by its tick labels and x label (at Matplotlib's default sizes).
_LABELS_BELOW_AXES_PT = 34


def plot_loss_curve(
    history: Any,
    path: PathLike | None = None,
    *,
    ax: Any = None,
    log_scale: bool = False,
    loss_name: str | None = None,
) -> Any:
    """Training (and test) loss per epoch; accuracy on a second y axis when recorded.

    ``history`` is a ``training.History``, its ``to_dict()``, or a list of per-epoch
    dicts with ``"loss"`` and optionally ``"test_loss"``, ``"accuracy"``,
    ``"test_accuracy"``. Records with ``"train_loss"`` (scores at the end of each epoch,
    as ``autograd-lite train`` writes them) plot that instead of ``"loss"`` (fit's mean
    during the epoch), and ``"train_accuracy"`` instead of ``"accuracy"``; the subtitle
    says which. ``loss_name`` (such as ``"binary cross-entropy"``) names the loss on the
    axis and in the title. ``log_scale=True`` puts the loss axis on a log scale. The
    legend sits below the axes, where it covers no curve.
    """
    records = history_records(history)
    if not records:
        raise ValueError("plot_loss_curve(): the history has no epochs")
    if loss_name is not None and not isinstance(loss_name, str):
        raise TypeError(f"loss_name must be a str or None, got {type(loss_name).__name__}")
    figure, ax = _axes(ax)
    epochs = _epochs(records)
    at_end = _present(_series(records, "train_loss"))
    train_loss, train_accuracy = (
        ("train_loss", "train_accuracy") if at_end else ("loss", "accuracy")
    )
    handles = []
    for key, label, style in ((train_loss, "train loss", "-"), ("test_loss", "test loss", "--")):
        values = _series(records, key)
        if _present(values):
            handles += ax.plot(epochs, _nan_for_none(values), style, color="tab:blue", label=label)
    if not handles:
        raise ValueError("plot_loss_curve(): the history records have no 'loss'")
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss_name or "loss")
    if log_scale:
        ax.set_yscale("log")
    accuracy = _series(records, train_accuracy)
    test_accuracy = _series(records, "test_accuracy")
    with_accuracy = _present(accuracy) or _present(test_accuracy)
    if with_accuracy:
        twin = ax.twinx()
        for values, label, style in (
            (accuracy, "train accuracy", "-"),
            (test_accuracy, "test accuracy", "--"),
        ):
            if _present(values):
                handles += twin.plot(
                    epochs, _nan_for_none(values), style, color="tab:orange", label=label
                )
        twin.set_ylabel("accuracy")
        twin.set_ylim(0.0, 1.05)
    # Below the axes: inside them it would cover the curves somewhere. Anchored a fixed
    # distance in points below the axes (not a fraction of their height), so that it
    # clears the tick labels and the "epoch" label at every figure size.
    from matplotlib.transforms import ScaledTranslation

    below_labels = ScaledTranslation(0, -_LABELS_BELOW_AXES_PT / 72, ax.figure.dpi_scale_trans)
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=ax.transAxes + below_labels,
        ncol=min(len(handles), 2),  # two columns fit half a notebook figure's width too
        fontsize="small",
        frameon=False,
    )
    name = loss_name or "loss"
    title = f"{name[0].upper()}{name[1:]}{' and accuracy' if with_accuracy else ''} per epoch"
    if at_end:
        when = "train and test scored at the end of each epoch"
    elif _present(_series(records, "test_loss")):
        when = "train: mean during each epoch; test: at its end"
    else:
        when = "mean during each epoch"
    ax.set_title(f"{title}\n{when}", fontsize="medium")
    return _finish(figure, path)


# --------------------------------------------------------------------------------------
# Decision boundaries
# --------------------------------------------------------------------------------------


@dataclass
class DecisionGrid:
    """A model evaluated on a grid covering the data.

    ``classes[i][j]`` is the predicted class index at ``(xs[j], ys[i])`` (rows follow y,
    as ``contourf`` expects). For a one-output model ``scores`` holds the raw outputs
    and class 1 means ``score > threshold``; for several outputs ``scores`` is None and
    the class is the argmax.
    """

    xs: list[float]
    ys: list[float]
    classes: list[list[int]]
    scores: list[list[float]] | None
    threshold: float | None
    n_classes: int


def _check_samples(X: Any) -> list[tuple[float, float]]:
    X = _as_list(X)
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(f"X must be a list of 2-feature samples, got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError("X is empty; give at least one sample")
    points = []
    for i, sample in enumerate(X):
        if not isinstance(sample, Sequence) or len(sample) != 2:
            raise ValueError(
                f"decision boundaries are drawn in 2-D: X[{i}] must have 2 features, got {sample!r}"
            )
        points.append((_number(sample[0], "X"), _number(sample[1], "X")))
    return points  # type: ignore[return-value]


def _check_points(X: Any, y: Any) -> tuple[list[tuple[float, float]], list[Any]]:
    points = _check_samples(X)
    y = _as_list(y)
    if isinstance(y, (str, bytes)) or not isinstance(y, Sequence):
        raise TypeError(f"y must be a list of labels, got {type(y).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)} labels; they must match")
    labels = [_number(label) if isinstance(label, Value) else label for label in y]
    return points, labels  # type: ignore[return-value]


def _span(values: list[float], margin: float) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = margin * (high - low) if high > low else 1.0
    return low - pad, high + pad


def _linspace(low: float, high: float, n: int) -> list[float]:
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def _outputs(result: Any) -> list[float]:
    items = result if isinstance(result, (list, tuple)) else [result]
    return [item.data if isinstance(item, Value) else float(item) for item in items]


def _default_threshold(model: Any) -> float:
    """0.5 when the model ends in a sigmoid (a probability), else 0 (a score or logit)."""
    layers = getattr(model, "layers", None)
    last = layers[-1] if isinstance(layers, Sequence) and layers else None
    activation = getattr(last, "activation", None) or getattr(model, "output_activation", None)
    return 0.5 if activation == "sigmoid" else 0.0


@contextlib.contextmanager
def _eval_mode(model: Any) -> Any:
    """Evaluate with Dropout off, then restore the model's mode."""
    training = getattr(model, "training", False)
    if training and hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        if training and hasattr(model, "train"):
            model.train(True)


# The activations nn.Neuron knows, on numpy arrays (leaky_relu with its default slope).
def _numpy_activations(numpy: Any) -> dict[str, Callable[[Any], Any]]:
    return {
        "linear": lambda z: z,
        "relu": lambda z: numpy.where(z > 0, z, 0.0),
        "leaky_relu": lambda z: numpy.where(z > 0, z, 0.01 * z),
        "tanh": numpy.tanh,
        # Two-sided form, as the engine's, so large |z| does not overflow exp.
        "sigmoid": lambda z: numpy.where(
            z >= 0,
            1.0 / (1.0 + numpy.exp(-numpy.abs(z))),
            numpy.exp(-numpy.abs(z)) / (1.0 + numpy.exp(-numpy.abs(z))),
        ),
    }


def _vectorised_forward(model: Any) -> Callable[[Any], Any] | None:
    """A numpy version of an MLP-shaped model's forward pass, or None if it is not one.

    An MLP-shaped model has ``layers``, each with ``neurons`` holding ``w`` (Values),
    ``b`` (a Value) and a known ``activation``. The caller checks the result against
    the model itself before trusting it.
    """
    layers = getattr(model, "layers", None)
    if not isinstance(layers, Sequence) or not layers:
        return None
    try:
        import numpy
    except ImportError:
        return None
    functions = _numpy_activations(numpy)
    stages = []
    for layer in layers:
        neurons = getattr(layer, "neurons", None)
        if not isinstance(neurons, Sequence) or not neurons:
            return None
        try:
            weights = numpy.array([[w.data for w in n.w] for n in neurons], dtype=float)
            biases = numpy.array([n.b.data for n in neurons], dtype=float)
            activations = [functions[n.activation] for n in neurons]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        stages.append((weights, biases, activations))

    def forward(inputs: Any) -> Any:
        h = inputs
        for weights, biases, activations in stages:
            z = h @ weights.T + biases
            h = numpy.column_stack([f(z[:, j]) for j, f in enumerate(activations)])
        return h

    return forward


def _grid_outputs(model: Any, xs: list[float], ys: list[float]) -> list[list[list[float]]]:
    """``model([x, y])`` for every grid point: ``rows[i][j]`` is the outputs at (xs[j], ys[i]).

    A scalar graph per point costs about a millisecond for a small MLP, so a 100 × 100
    grid would take seconds; an MLP-shaped model is evaluated with numpy instead, after
    checking that numpy gives the model's own outputs at a few grid points.
    """
    forward = _vectorised_forward(model)
    if forward is not None:
        import numpy

        grid_x, grid_y = numpy.meshgrid(xs, ys)
        inputs = numpy.column_stack([grid_x.ravel(), grid_y.ravel()])
        try:
            outputs = forward(inputs)
        except ValueError:  # shapes do not chain: not the plain MLP it looked like
            outputs = None
        if outputs is not None:
            n = len(xs)
            probes = {0, n - 1, len(inputs) // 2, len(inputs) - n, len(inputs) - 1}
            if all(
                numpy.allclose(
                    _outputs(model([float(inputs[k, 0]), float(inputs[k, 1])])),
                    outputs[k],
                    rtol=1e-9,
                    atol=1e-12,
                    equal_nan=True,
                )
                for k in sorted(probes)
            ):
                values = outputs.tolist()
                return [values[i * n : (i + 1) * n] for i in range(len(ys))]
    return [[_outputs(model([x, y])) for x in xs] for y in ys]


def decision_grid(
    model: Callable[[list[float]], Any],
    X: Sequence[Sequence[float]],
    resolution: int = 100,
    *,
    threshold: float | None = None,
    margin: float = 0.1,
) -> DecisionGrid:
    """Evaluate ``model`` under ``no_grad()`` on a ``resolution`` × ``resolution`` grid.

    The grid spans the data plus ``margin`` of its range on each side. A one-output
    model is a binary classifier: class 1 where its output is above ``threshold``; the
    default threshold is 0.5 if the last layer is a sigmoid (a probability, as trained
    with BCE on probabilities) and 0 otherwise (a raw score or logit: hinge loss,
    ``binary_cross_entropy_with_logits``). A model with k outputs predicts the argmax.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise TypeError(f"resolution must be an int, got {type(resolution).__name__}")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    if not callable(model):
        raise TypeError(f"model must be callable on a sample, got {type(model).__name__}")
    points = _check_samples(X)
    xs = _linspace(*_span([p[0] for p in points], margin), resolution)
    ys = _linspace(*_span([p[1] for p in points], margin), resolution)
    with _eval_mode(model), no_grad():
        rows = _grid_outputs(model, xs, ys)
    width = len(rows[0][0])
    if width == 1:
        cut = _default_threshold(model) if threshold is None else float(threshold)
        scores = [[out[0] for out in row] for row in rows]
        classes = [[int(score > cut) for score in row] for row in scores]
        return DecisionGrid(xs, ys, classes, scores, cut, 2)
    # Ties go to the lowest index, like torch.argmax; nan outputs lose every comparison.
    classes = [
        [max(range(width), key=lambda k, o=out: (o[k] == o[k], o[k])) for out in row]
        for row in rows
    ]
    return DecisionGrid(xs, ys, classes, None, None, width)


def _label_indices(labels: list[Any], grid: DecisionGrid) -> list[int]:
    """Each label as a class index on the grid's scale (0/1 for binary, the label itself else)."""
    if grid.scores is not None:
        distinct = sorted(set(labels))
        if len(distinct) > 2:
            raise ValueError(
                f"a one-output model separates 2 classes, but y has {len(distinct)}: {distinct}"
            )
        if len(distinct) == 2:
            return [distinct.index(label) for label in labels]
        return [int(label > grid.threshold) for label in labels]
    indices = []
    for label in labels:
        is_index = isinstance(label, numbers.Integral) and not isinstance(label, bool)
        if not (is_index or (isinstance(label, float) and label.is_integer())):
            raise ValueError(
                f"with {grid.n_classes} outputs labels must be class indices 0..."
                f"{grid.n_classes - 1}, got {label!r}"
            )
        index = int(label)
        if not 0 <= index < grid.n_classes:
            raise ValueError(
                f"label {index} is out of range for a model with {grid.n_classes} outputs"
            )
        indices.append(index)
    return indices


def _class_colours(n_classes: int) -> list[Any]:
    from matplotlib import colormaps

    if n_classes == 2:
        return ["tab:blue", "tab:red"]
    cmap = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n_classes)]


def plot_decision_boundary(
    model: Callable[[list[float]], Any],
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    path: PathLike | None = None,
    resolution: int = 100,
    *,
    ax: Any = None,
    threshold: float | None = None,
) -> Any:
    """The regions where ``model`` predicts each class, with the data on top.

    ``X`` has two features per sample; ``y`` holds the labels (0/1 or ±1 for a
    one-output model, 0..k-1 for k outputs). The regions come from
    :func:`decision_grid` (see it for the threshold rule); for one output the boundary
    ``score == threshold`` is also drawn as a black line. Cost: ``resolution ** 2``
    forward passes.
    """
    _figure_class()  # fail on a missing matplotlib before the costly grid
    points, labels = _check_points(X, y)
    grid = decision_grid(model, X, resolution, threshold=threshold)
    indices = _label_indices(labels, grid)
    from matplotlib.colors import BoundaryNorm, ListedColormap

    colours = _class_colours(grid.n_classes)
    cmap = ListedColormap(colours)
    bounds = [k - 0.5 for k in range(grid.n_classes + 1)]
    norm = BoundaryNorm(bounds, cmap.N)
    figure, ax = _axes(ax)
    ax.contourf(grid.xs, grid.ys, grid.classes, levels=bounds, cmap=cmap, norm=norm, alpha=0.3)
    if grid.scores is not None:
        finite = [v for row in grid.scores for v in row if math.isfinite(v)]
        if finite and min(finite) < grid.threshold < max(finite):
            ax.contour(
                grid.xs,
                grid.ys,
                grid.scores,
                levels=[grid.threshold],
                colors="black",
                linewidths=1.0,
            )
    names = sorted(set(labels)) if grid.scores is not None else list(range(grid.n_classes))
    for k in range(grid.n_classes):
        members = [p for p, index in zip(points, indices) if index == k]
        if members:
            ax.scatter(
                [p[0] for p in members],
                [p[1] for p in members],
                color=colours[k],
                edgecolors="black",
                linewidths=0.5,
                s=20,
                label=f"class {names[k] if k < len(names) else k}",
            )
    ax.set_xlim(grid.xs[0], grid.xs[-1])
    ax.set_ylim(grid.ys[0], grid.ys[-1])
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    ax.legend(loc="best")
    ax.set_title("Decision boundary")
    return _finish(figure, path)


# --------------------------------------------------------------------------------------
# Gradient flow and health
# --------------------------------------------------------------------------------------


def _positive_or_nan(values: list[float]) -> list[float]:
    # A log axis cannot show 0 or nan; leave a gap there rather than fail.
    return [v if v > 0 and math.isfinite(v) else math.nan for v in values]


def plot_gradient_flow(
    history_or_model: Any, path: PathLike | None = None, *, ax: Any = None
) -> Any:
    """Per-layer gradient norms on a log scale, with the band ``gradient_health`` calls healthy.

    Given a training history (records with ``"grad_norms"``, the norms of each epoch's
    last batch): one line per layer over the epochs. Given a model (after a backward
    pass): one bar per layer for the current gradients. The last layer is the output
    layer, and the legend (or the axis) says so. The shaded band runs from
    ``HealthThresholds.vanishing_ratio`` (0.01) times the output layer's norm up to its
    inverse (100) times it, both in units of the output layer's norm, as
    ``gradient_health`` judges layers: a layer below it is vanishing, above it exploding
    (``gradient_health`` also calls any norm above ``exploding_grad_norm`` exploding).
    Wiggles inside the band are the noise of mini-batches, not a problem.
    """
    from autograd_lite.diagnostics.health import HealthThresholds

    thresholds = HealthThresholds()
    figure, ax = _axes(ax)
    band = {"color": "tab:green", "alpha": 0.12, "linewidth": 0, "zorder": 0}
    band_label = "healthy band"
    # Both ends in one unit, the output layer's norm, as gradient_health's ratio rules.
    low, high = thresholds.vanishing_ratio, 1.0 / thresholds.vanishing_ratio
    band_text = f"shaded: healthy, from {low:g}× to {high:g}× the output layer's gradient norm"
    if hasattr(history_or_model, "named_parameters") or hasattr(history_or_model, "parameters"):
        norms = layer_grad_norms(history_or_model)
        names = list(norms)
        heights = _positive_or_nan(list(norms.values()))
        ax.bar(range(len(names)), heights, color="tab:blue")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_xlabel("layer (input side → output, the last)")
        output = heights[-1] if heights else math.nan
        if math.isfinite(output):
            # A collection, not a patch: ax.patches stays one bar per layer.
            ax.fill_between(
                [-0.5, len(names) - 0.5],
                low * output,
                high * output,
                label=band_label,
                **band,
            )
            ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_title(f"Gradient norm per layer\n{band_text}", fontsize="medium")
    else:
        records = history_records(history_or_model)
        layers: list[str] = []
        for record in records:
            for name in record.get("grad_norms") or {}:
                if name not in layers:
                    layers.append(name)
        if not layers:
            raise ValueError(
                "plot_gradient_flow(): the history records have no 'grad_norms'; pass a "
                "history from training.fit() or a model after backward()"
            )
        epochs = _epochs(records)
        # Colour by depth on a sequential map: the default cycle repeats after ten layers.
        from matplotlib import colormaps

        cmap = colormaps["viridis"]
        for depth, name in enumerate(layers):
            values = [_number((r.get("grad_norms") or {}).get(name)) for r in records]
            colour = cmap(depth / max(len(layers) - 1, 1) * 0.9)
            ax.plot(epochs, _positive_or_nan(_nan_for_none(values)), label=name, color=colour)
        output = _positive_or_nan(
            _nan_for_none([_number((r.get("grad_norms") or {}).get(layers[-1])) for r in records])
        )
        ax.fill_between(
            epochs,
            [low * v for v in output],
            [high * v for v in output],
            label=band_label,
            **band,
        )
        ax.set_xlabel("epoch")
        # Below the axes: inside, the legend would cover lines that wander anywhere.
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncol=min(len(layers) + 1, 4),
            fontsize="small",
            title=f"layer ({layers[-1]} = output)",
            title_fontsize="small",
            frameon=False,
        )
        ax.set_title(
            "Gradient flow: gradient norm per layer (last batch of each epoch)\n"
            f"{band_text}\n(ups and downs inside the band are mini-batch noise)",
            fontsize="medium",
        )
    ax.set_yscale("log")
    ax.set_ylabel("gradient norm (L2)")
    return _finish(figure, path)


def plot_health(report: HealthReport, path: PathLike | None = None) -> Any:
    """A gradient-health report as two or three panels, none of them empty.

    Left: each layer's gradient norm divided by the output layer's, one dot per layer on
    a log axis, over bands that show the report's thresholds (vanishing below
    ``vanishing_ratio``, weak below ``weak_ratio``), dots coloured by the layer's verdict;
    a layer with no gradient at all (or a non-finite one) is marked at the bottom (top)
    edge with a cross. Middle: the gradient and weight norms themselves (dots, log axis):
    weights that have blown up show here. Right, when some layer has any: the shares of
    dead ReLUs and saturated units (when X was given and there are none, a note under
    the panels says so). Dots rather than bars, because a bar on a log axis
    starts wherever the axis does, which can make a healthy layer look empty.
    """
    if not isinstance(report, HealthReport):
        raise TypeError(
            f"plot_health() expected a HealthReport from gradient_health(), "
            f"got {type(report).__name__}"
        )
    dead = [layer.dead_relu_share for layer in report.layers]
    saturated = [layer.saturated_share for layer in report.layers]
    # A panel of bars all at 0 looks empty: say it in words instead.
    has_shares = any(v for v in [*dead, *saturated] if v is not None)
    panels = 3 if has_shares else 2
    figure = _figure_class()(figsize=(4.6 * panels, 4.2), layout="constrained")
    axes = figure.subplots(1, panels)
    names = [layer.name for layer in report.layers]
    positions = list(range(len(names)))
    colours = [VERDICT_COLOURS.get(layer.verdict, "grey") for layer in report.layers]
    limits = report.thresholds

    ratio_ax = axes[0]
    ratios = [layer.grad_ratio_to_output for layer in report.layers]
    shown = [r for r in ratios if r is not None and r > 0 and math.isfinite(r)]
    low = min([limits.vanishing_ratio / 10, *shown]) / 3
    high = max([3.0, *shown]) * 3
    ratio_ax.set_yscale("log")
    ratio_ax.set_ylim(low, high)
    ratio_ax.axhspan(low, limits.vanishing_ratio, color="tab:blue", alpha=0.12, lw=0)
    if limits.weak_ratio > limits.vanishing_ratio:
        ratio_ax.axhspan(
            limits.vanishing_ratio, limits.weak_ratio, color="tab:orange", alpha=0.12, lw=0
        )
    ratio_ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    for x, layer, ratio, colour in zip(positions, report.layers, ratios, colours):
        if ratio is not None and ratio > 0 and math.isfinite(ratio):
            ratio_ax.plot([x], [ratio], "o", color=colour, ms=8)
        elif layer.grad_norm == 0.0:
            ratio_ax.plot([x], [low * 1.4], "x", color=colour, ms=10, mew=2.5)
        else:  # nan, inf, or no usable output-layer norm to divide by
            ratio_ax.plot([x], [high / 1.4], "x", color=colour, ms=10, mew=2.5)
    ratio_ax.set_xticks(positions, names, rotation=45, ha="right")
    ratio_ax.set_ylabel("gradient norm / output layer's")
    ratio_ax.set_title(f"Gradient health: {report.verdict}")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    verdicts = [v for v in VERDICT_COLOURS if any(layer.verdict == v for layer in report.layers)]
    handles = [
        Line2D([], [], marker="o", ls="", color=VERDICT_COLOURS[v], label=v) for v in verdicts
    ]
    handles.append(
        Patch(color="tab:blue", alpha=0.25, label=f"vanishing band (< {limits.vanishing_ratio:g})")
    )
    if limits.weak_ratio > limits.vanishing_ratio:
        handles.append(
            Patch(color="tab:orange", alpha=0.25, label=f"weak band (< {limits.weak_ratio:g})")
        )
    if any(not (r is not None and r > 0 and math.isfinite(r)) for r in ratios):
        handles.append(
            Line2D([], [], marker="x", ls="", color="grey", label="0 (bottom) or nan/inf (top)")
        )
    ratio_ax.legend(handles=handles, loc="best", fontsize="small")

    norms_ax = axes[1]
    grad_norms = [layer.grad_norm for layer in report.layers]
    weight_norms = [layer.weight_norm for layer in report.layers]
    norms_ax.plot(
        positions, _positive_or_nan(grad_norms), "o-", color="tab:purple", label="gradient norm"
    )
    norms_ax.plot(
        positions, _positive_or_nan(weight_norms), "s--", color="dimgrey", label="weight norm"
    )
    norms_ax.set_yscale("log")
    norms_ax.set_xticks(positions, names, rotation=45, ha="right")
    norms_ax.set_ylabel("L2 norm")
    norms_ax.set_title("Gradient and weight norms")
    norms_ax.legend(loc="best", fontsize="small")

    if has_shares:
        shares_ax = axes[2]
        width = 0.4
        shares_ax.bar(
            [p - width / 2 for p in positions],
            _nan_for_none(dead),
            width,
            color="tab:purple",
            label="dead ReLUs",
        )
        shares_ax.bar(
            [p + width / 2 for p in positions],
            _nan_for_none(saturated),
            width,
            color="tab:orange",
            label="saturated units",
        )
        shares_ax.set_ylim(0.0, 1.05)
        shares_ax.legend(loc="best", fontsize="small")
        shares_ax.set_xticks(positions, names, rotation=45, ha="right")
        shares_ax.set_ylabel("share of units")
        shares_ax.set_title(f"Dead and saturated units ({report.samples} samples)")
    elif _present(dead) or _present(saturated):
        figure.supxlabel(
            f"no layer has dead ReLUs or saturated units on X ({report.samples} samples)",
            fontsize="small",
        )
    return _finish(figure, path)


# --------------------------------------------------------------------------------------
# Optimiser trajectories
# --------------------------------------------------------------------------------------


def _check_paths(paths: Any) -> list[tuple[str, list[tuple[float, float]]]]:
    items = list(paths.items()) if isinstance(paths, Mapping) else paths
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(
            f"paths must be a list of (name, [(x, y), ...]) pairs, got {type(paths).__name__}"
        )
    checked = []
    for i, item in enumerate(items):
        if not (isinstance(item, Sequence) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError(f"paths[{i}] must be a pair (name, [(x, y), ...]), got {item!r}")
        name, points = item
        coordinates = []
        for point in points:
            if not (isinstance(point, Sequence) and len(point) == 2):
                raise ValueError(f"path {name!r}: points must be (x, y) pairs, got {point!r}")
            coordinates.append((_number(point[0], "paths"), _number(point[1], "paths")))
        if not coordinates:
            raise ValueError(f"path {name!r} has no points")
        checked.append((name, coordinates))
    return checked  # type: ignore[return-value]


def plot_trajectories(
    surface: Callable[[float, float], Any],
    paths: Sequence[tuple[str, Sequence[tuple[float, float]]]] | Mapping[str, Any],
    path: PathLike | None = None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    resolution: int = 100,
    levels: int = 30,
    log_levels: bool = False,
    ax: Any = None,
) -> Any:
    """Optimiser paths over the contour lines of a 2-D function.

    ``surface(x, y)`` gives the height (a float or a Value) and is called on a
    ``resolution`` × ``resolution`` grid under ``no_grad()``. ``paths`` is a list of
    ``(name, [(x, y), ...])``, one per optimiser (or a dict name → points); each is one
    line with a dot per step, its start marked with a circle and its end with a star.
    ``bounds = (xmin, xmax, ymin, ymax)`` defaults to the paths' extent plus a margin.
    ``log_levels=True`` spaces the contour levels geometrically, which suits surfaces
    such as Rosenbrock's whose heights span many orders of magnitude.
    """
    if not callable(surface):
        raise TypeError(f"surface must be a function of (x, y), got {type(surface).__name__}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int of at least 2, got {resolution!r}")
    _figure_class()  # fail on a missing matplotlib before the costly grid
    checked = _check_paths(paths)
    if bounds is None:
        if not checked:
            raise ValueError("plot_trajectories(): give bounds or at least one path")
        x_low, x_high = _span([p[0] for _, pts in checked for p in pts], 0.15)
        y_low, y_high = _span([p[1] for _, pts in checked for p in pts], 0.15)
    else:
        if len(bounds) != 4:
            raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax), got {bounds!r}")
        x_low, x_high, y_low, y_high = (float(b) for b in bounds)
    xs = _linspace(x_low, x_high, resolution)
    ys = _linspace(y_low, y_high, resolution)
    with no_grad():
        heights = [[_outputs(surface(x, y))[0] for x in xs] for y in ys]
    numpy = _numpy()
    figure, ax = _axes(ax)
    colour_norm = None
    if log_levels:
        from matplotlib.colors import LogNorm

        positive = [v for row in heights for v in row if v > 0 and math.isfinite(v)]
        if not positive:
            raise ValueError("log_levels=True needs a surface with positive values")
        contour_levels: Any = numpy.geomspace(min(positive), max(positive), levels)
        # Colour by log height too, or every level but the top few gets the same colour.
        colour_norm = LogNorm(min(positive), max(positive))
    else:
        contour_levels = levels
    ax.contour(
        xs, ys, heights, levels=contour_levels, cmap="viridis", norm=colour_norm, linewidths=0.7
    )
    for name, points in checked:
        (line,) = ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            "-",
            marker=".",
            markersize=4,
            label=name,
        )
        colour = line.get_color()
        ax.plot(*points[0], "o", color=colour, label="_start")
        ax.plot(*points[-1], "*", color=colour, markersize=12, label="_end")
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(y_low, y_high)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if checked:
        ax.legend(loc="best")
    ax.set_title("Optimiser trajectories")
    return _finish(figure, path)
