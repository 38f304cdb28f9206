"""Tests for autograd_lite.viz.plots: the artists each plot draws, what the decision
boundary classifies, and atomic saving.

Decision boundaries are checked on hand-set models whose boundary is known in closed
form (x0 > 0, x1 > 0.5, the argmax of three linear scores), by reading the data the plot
hands to ``contourf``. Saved files are checked by their format's signature.
"""

# ruff: noqa: E402  (the imports below need() run after it: it skips without matplotlib)
from __future__ import annotations

import math
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from tests.optional import need

# The whole module draws with matplotlib and reads its data with numpy.
matplotlib = need("matplotlib")
np = need("numpy")
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from autograd_lite import Value, log
from autograd_lite.diagnostics.health import gradient_health
from autograd_lite.nn import MLP
from autograd_lite.training import History
from autograd_lite.viz import plots
from autograd_lite.viz.plots import (
    decision_grid,
    plot_decision_boundary,
    plot_gradient_flow,
    plot_health,
    plot_loss_curve,
    plot_trajectories,
    save_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _records(n: int = 5, *, accuracy: bool = True) -> list[dict]:
    records = []
    for epoch in range(1, n + 1):
        record = {
            "epoch": epoch,
            "loss": 1.0 / epoch,
            "test_loss": 1.5 / epoch,
            "accuracy": 0.5 + 0.08 * epoch if accuracy else None,
            "test_accuracy": 0.45 + 0.08 * epoch if accuracy else None,
            "grad_norms": {"layers.0": 10.0**-epoch, "layers.1": 2.0 * epoch},
        }
        records.append(record)
    return records


def _set_linear(model: MLP, rows: list[list[float]], biases: list[float]) -> MLP:
    """Give a one-layer MLP hand-chosen weights and biases."""
    for neuron, row, bias in zip(model.layers[0].neurons, rows, biases):
        for w, value in zip(neuron.w, row):
            w.data = value
        neuron.b.data = bias
    return model


def _square_points(n: int = 7) -> tuple[list[list[float]], list[float]]:
    """Points on a grid over [-1, 1]², and the coordinates they span."""
    coords = [-1.0 + 2.0 * i / (n - 1) for i in range(n)]
    return [[a, b] for a in coords for b in coords], coords


@pytest.fixture
def contourf_calls(monkeypatch):
    """Record the arguments of every Axes.contourf call, then draw as usual."""
    calls = []
    original = Axes.contourf

    def spy(self, *args, **kwargs):
        calls.append((args, kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "contourf", spy)
    return calls


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > len(PNG_SIGNATURE) and data.startswith(PNG_SIGNATURE)


def _labelled_lines(ax) -> dict[str, object]:
    return {
        line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")
    }


# --------------------------------------------------------------------------------------
# Loss curves
# --------------------------------------------------------------------------------------


def test_loss_curve_draws_losses_and_accuracy_on_a_twin_axis():
    """Train/test loss on the main axis, train/test accuracy on a twin, with the recorded data."""
    records = _records()
    figure = plot_loss_curve(History(records))
    assert isinstance(figure, Figure)
    main, twin = figure.axes
    lines = _labelled_lines(main)
    assert set(lines) == {"train loss", "test loss"}
    assert list(lines["train loss"].get_xdata()) == [r["epoch"] for r in records]
    assert list(lines["train loss"].get_ydata()) == [r["loss"] for r in records]
    assert list(lines["test loss"].get_ydata()) == [r["test_loss"] for r in records]
    accuracy = _labelled_lines(twin)
    assert set(accuracy) == {"train accuracy", "test accuracy"}
    assert list(accuracy["test accuracy"].get_ydata()) == [r["test_accuracy"] for r in records]
    assert main.get_xlabel() == "epoch" and main.get_ylabel() == "loss"
    assert twin.get_ylabel() == "accuracy"
    assert main.get_yscale() == "linear"
    legend_texts = {t.get_text() for t in main.get_legend().get_texts()}
    assert legend_texts == {"train loss", "test loss", "train accuracy", "test accuracy"}


def test_loss_curve_log_scale_and_regression_history():
    """log_scale=True gives a log loss axis; without accuracy there is no twin axis."""
    figure = plot_loss_curve(_records(accuracy=False), log_scale=True)
    assert len(figure.axes) == 1
    assert figure.axes[0].get_yscale() == "log"


def test_loss_curve_from_a_real_training_run(tmp_path):
    """A History from fit() plots and saves as a valid PNG."""
    from autograd_lite.data import make_moons
    from autograd_lite.training import fit

    X, y = make_moons(30, seed=0)
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, y, epochs=3, progress=False)
    target = tmp_path / "loss.png"
    figure = plot_loss_curve(history, target)
    assert list(_labelled_lines(figure.axes[0])["train loss"].get_ydata()) == history.series("loss")
    assert _is_png(target)


def test_loss_curve_draws_into_a_given_axes():
    """With ax= the curve goes into that Axes and its figure is returned."""
    figure = Figure()
    ax = figure.add_subplot()
    assert plot_loss_curve(_records(accuracy=False), ax=ax) is figure
    assert len(ax.get_lines()) == 2


def test_loss_curve_prefers_end_of_epoch_scores_and_names_the_loss():
    """Records with train_loss plot it (not the running loss); loss_name labels axis and title."""
    records = _records()
    for record in records:
        record["train_loss"] = record["loss"] / 2
        record["train_accuracy"] = record["accuracy"] + 0.01
    figure = plot_loss_curve(records, loss_name="binary cross-entropy")
    main, twin = figure.axes
    lines = _labelled_lines(main)
    assert list(lines["train loss"].get_ydata()) == [r["train_loss"] for r in records]
    accuracy = _labelled_lines(twin)
    assert list(accuracy["train accuracy"].get_ydata()) == [r["train_accuracy"] for r in records]
    assert main.get_ylabel() == "binary cross-entropy"
    assert main.get_title().splitlines() == [
        "Binary cross-entropy and accuracy per epoch",
        "train and test scored at the end of each epoch",
    ]


def test_loss_curve_says_when_each_curve_was_measured():
    """fit's history: the subtitle says train is a mean during the epoch, test at its end."""
    title = plot_loss_curve(_records()).axes[0].get_title()
    assert title.splitlines() == [
        "Loss and accuracy per epoch",
        "train: mean during each epoch; test: at its end",
    ]
    without_test = [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]
    assert plot_loss_curve(without_test).axes[0].get_title().splitlines() == [
        "Loss per epoch",
        "mean during each epoch",
    ]


def _overlap(box, other) -> bool:
    return box.x0 < other.x1 and other.x0 < box.x1 and box.y0 < other.y1 and other.y0 < box.y1


def test_loss_curve_legend_covers_no_curve(tmp_path):
    """Once drawn, the legend's box lies outside both axes, so it hides no line."""
    figure = plot_loss_curve(_records(), tmp_path / "curve.png")
    main, twin = figure.axes
    legend = main.get_legend().get_window_extent()  # as laid out when saved
    for ax in (main, twin):
        assert not _overlap(legend, ax.get_window_extent())


@pytest.mark.parametrize("size", [(6, 3.5), (4.5, 3), (9, 2.5)])
def test_loss_curve_legend_covers_no_axis_label(tmp_path, size):
    """Whatever the figure's size, the legend covers neither the x label nor a tick label."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=size, layout="constrained")
    plot_loss_curve(_records(), ax=ax)
    figure.savefig(tmp_path / "curve.png")  # lays the figure out
    renderer = figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    labels = [ax.xaxis.label] + [t for t in ax.get_xticklabels() if t.get_text()]
    for label in labels:
        assert not _overlap(legend, label.get_window_extent(renderer)), label.get_text()
    plt.close(figure)


# --------------------------------------------------------------------------------------
# Decision boundaries
# --------------------------------------------------------------------------------------


def test_decision_boundary_of_x0_positive(contourf_calls):
    """A linear score x0 (w = [1, 0], b = 0) is classified 1 exactly where x0 > 0."""
    X, coords = _square_points()
    y = [int(p[0] > 0) for p in X]
    model = _set_linear(MLP(2, [1], seed=0), [[1.0, 0.0]], [0.0])
    plot_decision_boundary(model, X, y, resolution=40)

    ((args, _),) = contourf_calls
    xs, ys, classes = args
    assert len(xs) == len(ys) == 40
    assert min(xs) < min(coords) and max(xs) > max(coords)  # the grid covers the data
    assert min(ys) < min(coords) and max(ys) > max(coords)
    for row in classes:
        assert list(row) == [int(x > 0) for x in xs]


def test_decision_boundary_with_sigmoid_output_uses_threshold_one_half(contourf_calls):
    """sigmoid(x1 - 0.5) is class 1 exactly where x1 > 0.5 (threshold 0.5 for a sigmoid)."""
    X, _ = _square_points()
    y = [int(p[1] > 0.5) for p in X]
    model = MLP(2, [1], output_activation="sigmoid", seed=0)
    _set_linear(model, [[0.0, 1.0]], [-0.5])
    plot_decision_boundary(model, X, y, resolution=30)
    ((args, _),) = contourf_calls
    xs, ys, classes = args
    for y_value, row in zip(ys, classes):
        assert list(row) == [int(y_value > 0.5)] * len(xs)


def test_decision_boundary_multiclass_is_the_argmax(contourf_calls):
    """Three linear scores (x0, x1, -x0-x1): every grid point gets numpy's argmax."""
    X, _ = _square_points()
    rows = [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]
    y = [int(np.argmax(np.array(rows) @ np.array(p))) for p in X]
    model = _set_linear(MLP(2, [3], seed=0), rows, [0.0, 0.0, 0.0])
    figure = plot_decision_boundary(model, X, y, resolution=25)
    ((args, kwargs),) = contourf_calls
    xs, ys, classes = args
    grid_x, grid_y = np.meshgrid(xs, ys)
    expected = np.argmax(np.stack([grid_x, grid_y, -grid_x - grid_y]), axis=0)
    assert np.array_equal(np.array(classes), expected)
    assert list(kwargs["levels"]) == [-0.5, 0.5, 1.5, 2.5]
    scatters = [c for c in figure.axes[0].collections if isinstance(c, PathCollection)]
    assert sorted(s.get_label() for s in scatters) == ["class 0", "class 1", "class 2"]


def test_decision_boundary_scatter_has_one_group_per_label():
    """±1 labels: one scatter per label, holding exactly that label's points."""
    X, _ = _square_points(5)
    y = [1 if p[0] + p[1] > 0 else -1 for p in X]
    model = _set_linear(MLP(2, [1], seed=0), [[1.0, 1.0]], [0.0])
    figure = plot_decision_boundary(model, X, y, resolution=10)
    scatters = {
        c.get_label(): c for c in figure.axes[0].collections if isinstance(c, PathCollection)
    }
    assert set(scatters) == {"class -1", "class 1"}
    for label, collection in scatters.items():
        wanted = sorted(tuple(p) for p, t in zip(X, y) if f"class {t}" == label)
        assert sorted(map(tuple, collection.get_offsets().tolist())) == wanted


def test_plain_function_models_use_the_scalar_path(contourf_calls):
    """A plain function of a sample works too: x0 * x1 > 0 is the checkerboard it should be."""
    X, _ = _square_points()
    y = [int(a * b > 0) for a, b in X]
    plot_decision_boundary(lambda p: p[0] * p[1], X, y, resolution=12)
    ((args, _),) = contourf_calls
    xs, ys, classes = args
    for y_value, row in zip(ys, classes):
        assert list(row) == [int(x * y_value > 0) for x in xs]


def test_vectorised_grid_equals_the_models_own_outputs():
    """For a random tanh MLP the fast grid gives the same classes as calling the model."""
    X, _ = _square_points(4)
    model = MLP(2, [5, 4, 3], activation="tanh", seed=7)
    grid = decision_grid(model, X, 15)
    for i, y_value in enumerate(grid.ys):
        for j, x_value in enumerate(grid.xs):
            outputs = [v.data for v in model([x_value, y_value])]
            assert grid.classes[i][j] == outputs.index(max(outputs))


def test_mlps_are_evaluated_in_bulk_not_point_by_point():
    """An MLP is called only for a handful of probe points, not once per grid point."""
    X, _ = _square_points(4)
    model = MLP(2, [4, 1], seed=0)
    calls = []
    original = model.forward
    model.forward = lambda x: calls.append(x) or original(x)
    grid = decision_grid(model, X, 50)
    assert 0 < len(calls) <= 5
    for x_value, y_value in calls:  # the probes agree with the bulk result
        i, j = grid.ys.index(y_value), grid.xs.index(x_value)
        assert grid.scores[i][j] == pytest.approx(original([x_value, y_value]).data, rel=1e-12)


def test_models_that_only_look_like_an_mlp_are_evaluated_directly():
    """An MLP subclass with a different forward fails the probe check and is called directly."""

    class Shifted(MLP):
        def forward(self, x):
            return super().forward(x) - 0.25

    X, _ = _square_points()
    model = _set_linear(Shifted(2, [1], seed=0), [[1.0, 0.0]], [0.0])
    grid = decision_grid(model, X, 20)
    for row, scores in zip(grid.classes, grid.scores):
        assert row == [int(x > 0.25) for x in grid.xs]
        for x_value, score in zip(grid.xs, scores):
            assert score == pytest.approx(x_value - 0.25, abs=1e-12)


def test_explicit_threshold_moves_the_boundary():
    """threshold=0.3 on the score x0 puts the boundary at x0 = 0.3."""
    X, _ = _square_points()
    model = _set_linear(MLP(2, [1], seed=0), [[1.0, 0.0]], [0.0])
    grid = decision_grid(model, X, 20, threshold=0.3)
    assert grid.threshold == 0.3
    assert all(row == [int(x > 0.3) for x in grid.xs] for row in grid.classes)
    # A score exactly at the threshold is class 0: class 1 means strictly above it.
    flat = _set_linear(MLP(2, [1], seed=0), [[0.0, 0.0]], [0.0])
    assert decision_grid(flat, X, 4).classes == [[0] * 4] * 4


def test_numpy_data_is_accepted(contourf_calls):
    """X and y as numpy arrays plot the same classes as lists."""
    X, _ = _square_points()
    y = [int(p[0] > 0) for p in X]
    model = _set_linear(MLP(2, [1], seed=0), [[1.0, 0.0]], [0.0])
    plot_decision_boundary(model, X, y, resolution=9)
    plot_decision_boundary(model, np.array(X), np.array(y), resolution=9)
    (first, _), (second, _) = contourf_calls
    assert first[0] == second[0] and first[2] == second[2]


def test_decision_boundary_leaves_dropout_and_grads_alone():
    """Plotting restores training mode and builds no graph (gradients stay zero)."""
    X, _ = _square_points(3)
    model = MLP(2, [3, 1], seed=0)
    model.train()
    plot_decision_boundary(model, X, [0, 1] * 4 + [0], resolution=5)
    assert model.training
    assert all(p.grad == 0.0 for p in model.parameters())


def test_decision_boundary_rejects_bad_input():
    """Wrong shapes and labels raise errors that say what was expected."""
    model = MLP(2, [1], seed=0)
    with pytest.raises(ValueError, match="2 features"):
        plot_decision_boundary(model, [[1.0, 2.0, 3.0]], [0])
    with pytest.raises(ValueError, match="must match"):
        plot_decision_boundary(model, [[1.0, 2.0]], [0, 1])
    with pytest.raises(ValueError, match="2 classes"):
        plot_decision_boundary(model, [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], [0, 1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        plot_decision_boundary(model, [[0.0, 0.0]], [0], resolution=1)
    with pytest.raises(TypeError, match="resolution must be an int"):
        decision_grid(model, [[0.0, 0.0]], 2.5)
    with pytest.raises(TypeError, match="list of 2-feature samples"):
        decision_grid(model, 3)
    with pytest.raises(ValueError, match="out of range"):
        plot_decision_boundary(MLP(2, [3], seed=0), [[0.0, 0.0]], [5], resolution=3)


# --------------------------------------------------------------------------------------
# Gradient flow and health
# --------------------------------------------------------------------------------------


def test_gradient_flow_from_history_is_one_log_line_per_layer():
    """One line per layer over the epochs, with the recorded norms, on a log axis."""
    records = _records()
    figure = plot_gradient_flow(History(records))
    ax = figure.axes[0]
    lines = _labelled_lines(ax)
    assert set(lines) == {"layers.0", "layers.1"}
    for name, line in lines.items():
        assert list(line.get_ydata()) == [r["grad_norms"][name] for r in records]
    assert ax.get_yscale() == "log"


def test_gradient_flow_from_a_model_is_one_bar_per_layer():
    """A model after backward gives one bar per layer, as tall as that layer's gradient norm."""
    model = MLP(2, [3, 2, 1], seed=0)
    loss = (model([0.5, -1.0]) - 1.0) ** 2
    loss.backward()
    figure = plot_gradient_flow(model)
    ax = figure.axes[0]
    heights = [patch.get_height() for patch in ax.patches]
    expected = [
        math.sqrt(math.fsum(p.grad**2 for n in layer.neurons for p in (*n.w, n.b)))
        for layer in model.layers
    ]
    assert heights == pytest.approx(expected, rel=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["layers.0", "layers.1", "layers.2"]
    assert ax.get_yscale() == "log"


def test_gradient_flow_names_the_output_layer_and_shades_the_healthy_band(tmp_path):
    """The legend says which layer is the output; the band spans gradient_health's thresholds."""
    from autograd_lite.diagnostics.health import HealthThresholds

    records = _records()
    figure = plot_gradient_flow(History(records), tmp_path / "flow.png")
    ax = figure.axes[0]
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "layer (layers.1 = output)"
    assert "healthy band" in [t.get_text() for t in legend.get_texts()]
    (band,) = ax.collections
    limits = HealthThresholds()
    lows, highs = [], []
    for path in band.get_paths():
        ys = [y for _, y in path.vertices]
        lows.append(min(ys))
        highs.append(max(ys))
    outputs = [r["grad_norms"]["layers.1"] for r in records]
    assert min(lows) == pytest.approx(limits.vanishing_ratio * min(outputs))
    # Both ends relative to the output layer, as gradient_health's ratio rules are.
    assert max(highs) == pytest.approx(max(outputs) / limits.vanishing_ratio)
    assert "from 0.01× to 100× the output layer's gradient norm" in ax.get_title()
    assert "healthy" in ax.get_title() and "mini-batch noise" in ax.get_title()
    assert not _overlap(legend.get_window_extent(), ax.get_window_extent())


def test_gradient_flow_needs_grad_norms():
    """A history without grad_norms is refused with a message saying what to pass."""
    with pytest.raises(ValueError, match="grad_norms"):
        plot_gradient_flow([{"epoch": 1, "loss": 1.0}])


def test_health_plot_colours_dots_by_verdict_and_has_no_empty_panel(tmp_path):
    """Dots take the verdict's colour, a non-finite one is a cross at the top; no X, 2 panels."""
    model = MLP(1, [1, 1], activation="linear", seed=0)
    # The output bias starts at 0: log(bias) gives it an inf gradient, the rest explode.
    (model([3.0]) * 1e6 + log(model.layers[1].neurons[0].b)).backward()
    report = gradient_health(model)
    figure = plot_health(report, tmp_path / "health.svg")
    assert len(figure.axes) == 2  # no activation statistics: no (empty) panel for them
    ratio_ax, norms_ax = figure.axes
    marks = [line for line in ratio_ax.get_lines() if line.get_marker() in ("o", "x")]
    assert len(marks) == len(report.layers)
    for mark, layer in zip(marks, report.layers):
        expected = matplotlib.colors.to_rgba(plots.VERDICT_COLOURS[layer.verdict])
        assert matplotlib.colors.to_rgba(mark.get_color()) == expected
    assert [layer.verdict for layer in report.layers] == ["exploding", "non-finite"]
    assert marks[1].get_marker() == "x"
    assert marks[1].get_ydata()[0] > ratio_ax.get_ylim()[1] / 2  # at the top edge
    legend = {t.get_text() for t in ratio_ax.get_legend().get_texts()}
    assert {"exploding", "non-finite", "0 (bottom) or nan/inf (top)"} <= legend
    assert "non-finite" in ratio_ax.get_title()
    norm_lines = {line.get_label(): line for line in norms_ax.get_lines()}
    assert list(norm_lines["weight norm"].get_ydata()) == [
        layer.weight_norm for layer in report.layers
    ]
    root = ElementTree.parse(tmp_path / "health.svg").getroot()
    assert root.tag.endswith("svg")


def test_health_plot_draws_the_thresholds_and_ratios_of_the_report():
    """The dots sit at each layer's gradient ratio, over bands at the report's thresholds."""
    X = [[0.1 * i, -0.2 * i] for i in range(6)]
    model = MLP(2, [4, 4, 1], activation="sigmoid", seed=0)
    (model(X[1]) ** 2).backward()
    report = gradient_health(model, X)
    figure = plot_health(report)
    ratio_ax = figure.axes[0]
    dots = [line.get_ydata()[0] for line in ratio_ax.get_lines() if line.get_marker() == "o"]
    assert dots == [layer.grad_ratio_to_output for layer in report.layers]
    if not any(layer.saturated_share for layer in report.layers):
        assert len(figure.axes) == 2
        assert "no layer has dead ReLUs or saturated units" in figure.get_supxlabel()
    bands = [patch.get_y() + patch.get_height() for patch in ratio_ax.patches]
    assert report.thresholds.vanishing_ratio in [pytest.approx(b) for b in bands]
    assert report.thresholds.weak_ratio in [pytest.approx(b) for b in bands]


def test_health_plot_shows_dead_and_saturated_shares():
    """With X a third panel has one dead-ReLU bar per layer, as tall as the report's share."""
    X = [[0.1 * i, -0.2 * i] for i in range(6)]
    model = MLP(2, [4, 1], seed=0)
    for neuron in model.layers[0].neurons[:2]:
        neuron.b.data = -20.0
    (model(X[1]) ** 2).backward()
    report = gradient_health(model, X)
    figure = plot_health(report)
    assert len(figure.axes) == 3
    dead_bars = figure.axes[2].containers[0].patches
    assert dead_bars[0].get_height() == report.layers[0].dead_relu_share >= 0.5
    with pytest.raises(TypeError, match="HealthReport"):
        plot_health({"verdict": "healthy"})


# --------------------------------------------------------------------------------------
# Optimiser trajectories
# --------------------------------------------------------------------------------------


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def test_trajectories_draw_contours_and_one_line_per_path():
    """Contours of the surface, one labelled line per path with its points, all in view."""
    paths = [
        ("SGD", [(-1.5, 2.0), (-1.0, 1.0), (0.0, 0.2)]),
        ("Adam", [(-1.5, 2.0), (-0.5, 0.5), (0.9, 0.8), (1.0, 1.0)]),
    ]
    figure = plot_trajectories(_rosenbrock, paths, resolution=30)
    ax = figure.axes[0]
    lines = _labelled_lines(ax)
    assert set(lines) == {"SGD", "Adam"}
    for name, points in paths:
        assert list(zip(lines[name].get_xdata(), lines[name].get_ydata())) == points
    assert len(ax.collections) >= 1  # the contour set
    x_low, x_high = ax.get_xlim()
    y_low, y_high = ax.get_ylim()
    for _, points in paths:
        for x, y in points:
            assert x_low < x < x_high and y_low < y < y_high
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"SGD", "Adam"}


def test_trajectories_log_levels_are_geometric_and_bounds_are_kept():
    """log_levels spaces levels by a constant ratio; explicit bounds set the view."""
    figure = plot_trajectories(
        lambda x, y: Value(x) ** 2 + y**2 + 0.01,
        {"GD": [(1.0, 1.0), (0.5, 0.5)]},
        bounds=(-2.0, 2.0, -1.0, 3.0),
        resolution=20,
        levels=8,
        log_levels=True,
    )
    ax = figure.axes[0]
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-1.0, 3.0)
    contour = next(c for c in ax.collections if hasattr(c, "levels"))
    ratios = np.array(contour.levels[1:]) / np.array(contour.levels[:-1])
    assert np.allclose(ratios, ratios[0]) and ratios[0] > 1


def test_trajectories_reject_bad_paths():
    """Malformed paths and bounds raise clear errors."""
    with pytest.raises(TypeError, match="name"):
        plot_trajectories(_rosenbrock, [[(0.0, 0.0)]])
    with pytest.raises(ValueError, match="no points"):
        plot_trajectories(_rosenbrock, [("SGD", [])])
    with pytest.raises(ValueError, match="xmin, xmax"):
        plot_trajectories(_rosenbrock, [("SGD", [(0.0, 0.0)])], bounds=(0, 1))
    with pytest.raises(TypeError, match="function"):
        plot_trajectories(None, [("SGD", [(0.0, 0.0)])])


# --------------------------------------------------------------------------------------
# Saving, backends and missing matplotlib
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "check"),
    [
        (".png", lambda data: data.startswith(PNG_SIGNATURE)),
        (".pdf", lambda data: data.startswith(b"%PDF")),
        (".svg", lambda data: b"<svg" in data),
    ],
)
def test_saving_writes_the_format_named_by_the_suffix(tmp_path, suffix, check):
    """The suffix picks the format; the file is complete and no temporary file is left."""
    target = tmp_path / f"curve{suffix}"
    plot_loss_curve(_records(), target)
    data = target.read_bytes()
    assert len(data) > 100 and check(data)
    assert os.listdir(tmp_path) == [target.name]


def test_saved_png_is_readable_and_has_normal_permissions(tmp_path):
    """The PNG decodes to an image, and its mode follows the umask (not mkstemp's 0600)."""
    target = tmp_path / "flow.png"
    plot_gradient_flow(_records(), target)
    image = matplotlib.image.imread(target)
    assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_failed_save_leaves_the_old_file_untouched(tmp_path, monkeypatch):
    """If rendering fails halfway, the previous file survives and no temporary file remains."""
    target = tmp_path / "curve.png"
    target.write_bytes(b"old contents")
    figure = plot_loss_curve(_records())

    def broken_savefig(stream, **kwargs):
        stream.write(b"half a PNG")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_figure(figure, target)
    assert target.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["curve.png"]


def test_saving_rejects_unknown_formats_and_missing_directories(tmp_path):
    """A suffix matplotlib cannot write, a missing directory or a non-path raise clear errors."""
    figure = plot_loss_curve(_records())
    with pytest.raises(ValueError, match=r"\.png"):
        save_figure(figure, tmp_path / "curve.docx")
    with pytest.raises(ValueError, match="suffixes"):
        save_figure(figure, tmp_path / "curve")
    with pytest.raises(FileNotFoundError, match="no directory"):
        save_figure(figure, tmp_path / "missing" / "curve.png")
    with pytest.raises(TypeError, match="path"):
        save_figure(figure, 42)
    assert os.listdir(tmp_path) == []


def test_plotting_never_touches_pyplot_or_a_gui_backend(tmp_path):
    """With a GUI backend requested and no display, plots still save: pyplot is never loaded."""
    target = str(tmp_path / "a.png")
    script = f"""
import sys
from autograd_lite.viz.plots import plot_loss_curve, plot_trajectories
plot_loss_curve([{{"epoch": 1, "loss": 1.0}}, {{"epoch": 2, "loss": 0.5}}], {target!r})
plot_trajectories(lambda x, y: x * x + y * y, [("GD", [(1.0, 1.0), (0.0, 0.0)])], resolution=5)
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
"""
    env = {**os.environ, "MPLBACKEND": "TkAgg"}
    env.pop("DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert _is_png(tmp_path / "a.png")


def test_figures_show_themselves_in_jupyter():
    """A returned figure renders as PNG bytes through _repr_png_, the hook Jupyter calls."""
    figure = plot_loss_curve(_records())
    png = figure._repr_png_()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000


def test_missing_matplotlib_names_the_extra(monkeypatch):
    """Without matplotlib the error says to install autograd-lite[viz]."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "autograd-lite\[viz\]"'):
        plot_loss_curve(_records())
    with pytest.raises(ImportError, match="autograd-lite"):
        plot_decision_boundary(MLP(2, [1], seed=0), [[0.0, 0.0]], [0])


def test_history_errors_are_clear():
    """An empty history, a record without 'loss' and a non-history raise clear errors."""
    with pytest.raises(ValueError, match="no epochs"):
        plot_loss_curve([])
    with pytest.raises(ValueError, match="'loss'"):
        plot_loss_curve([{"epoch": 1}])
    with pytest.raises(TypeError, match="History"):
        plot_loss_curve(3.5)
