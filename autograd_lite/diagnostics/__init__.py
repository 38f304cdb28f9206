"""Why a gradient is what it is: ``explain`` lists the paths it flows along, and the
gradient-health checks (:mod:`autograd_lite.diagnostics.health`: ``gradient_health``,
...) spot vanishing, exploding and dead units. The health module is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from autograd_lite.diagnostics.explain import Explanation, Path, explain

__all__ = ["Explanation", "Path", "explain"]

# Public names of the health module, resolved lazily (it belongs to its owners and may grow).
_LAZY_MODULE = "autograd_lite.diagnostics.health"


def __getattr__(name: str) -> Any:
    if not name.startswith("_"):
        health = importlib.import_module(_LAZY_MODULE)
        if name in getattr(health, "__all__", ()):
            return getattr(health, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
