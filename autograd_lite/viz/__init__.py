"""Seeing the engine at work: graph drawings, a backward-pass player and training plots.

``draw_graph``/``draw_dot`` and ``render`` draw computation graphs with Graphviz
(:mod:`autograd_lite.viz.graph`); ``backward_steps``, ``player_html`` and ``Player``
replay backpropagation step by step (:mod:`autograd_lite.viz.player`); the plotting
functions of :mod:`autograd_lite.viz.plots` (``plot_loss_curve``,
``plot_decision_boundary``, ``plot_gradient_flow``, ...) are loaded on first use, so
importing this package imports neither graphviz nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

from autograd_lite.viz.graph import GraphvizNotFoundError, draw_dot, draw_graph, render
from autograd_lite.viz.player import (
    Contribution,
    Player,
    Step,
    backward_steps,
    model_player,
    player_html,
)

__all__ = [
    "Contribution",
    "GraphvizNotFoundError",
    "Player",
    "Step",
    "backward_steps",
    "draw_dot",
    "draw_graph",
    "model_player",
    "player_html",
    "render",
]

# Public names of the plots module, resolved lazily (it belongs to the plots' owners and
# may grow); reading any of them imports autograd_lite.viz.plots, not matplotlib itself.
_LAZY_MODULE = "autograd_lite.viz.plots"


def __getattr__(name: str) -> Any:
    if not name.startswith("_"):
        plots = importlib.import_module(_LAZY_MODULE)
        if name in getattr(plots, "__all__", ()):
            return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
