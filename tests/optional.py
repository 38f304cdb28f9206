"""Optional packages in the tests: skip naming the package, or fail where it is required.

A test that needs a package outside the standard library calls ``need("graphviz")``
(inside the test, or at module level for a whole module). Without the package the test
is skipped with a reason naming it and the extra that installs it. CI lists the packages
it installed in ``AUTOGRAD_LITE_REQUIRE`` (comma-separated import names, or ``all``), so
that a broken install fails there instead of turning tests into silent skips.
``AUTOGRAD_LITE_REQUIRE_TORCH=1`` still requires PyTorch, as before.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REQUIRE_ENV = "AUTOGRAD_LITE_REQUIRE"
REQUIRE_TORCH_ENV = "AUTOGRAD_LITE_REQUIRE_TORCH"
# Where each optional package comes from, for the skip reason.
INSTALL = {
    "graphviz": 'pip install "autograd-lite[viz]"',
    "matplotlib": 'pip install "autograd-lite[viz]"',
    "tqdm": 'pip install "autograd-lite[viz]"',
    "numpy": 'pip install "autograd-lite[compile]"',
    "sklearn": 'pip install "autograd-lite[digits]"',
    "names": 'pip install "autograd-lite[names]"',
    "torch": "bash .ci/setup --test (PyTorch's CPU build)",
}


def required(module: str) -> bool:
    """Whether this run requires ``module`` (its top-level package) to import."""
    top = module.partition(".")[0]
    listed = {name.strip() for name in os.environ.get(REQUIRE_ENV, "").split(",")}
    if "all" in listed or top in listed:
        return True
    return top == "torch" and os.environ.get(REQUIRE_TORCH_ENV) == "1"


def need(module: str) -> ModuleType:
    """Import ``module``; skip without it (naming it), or fail when this run requires it."""
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if required(module):
            pytest.fail(f"{top} is required here ({REQUIRE_ENV}) but cannot be imported: {error}")
        how = INSTALL.get(top, 'pip install "autograd-lite[test]"')
        pytest.skip(f"needs {top}, which is not installed ({how})", allow_module_level=True)
