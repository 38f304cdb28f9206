"""Shared pytest configuration: Hypothesis profiles and engine state between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Every property test of this suite sets its own max_examples. The profiles only decide
# what may vary between runs: locally examples are random and failures are remembered
# in .hypothesis/; in CI (CI=true) the examples are derandomised, so a run on the same
# commit tests the same cases and a failure reproduces, and nothing is written to disk.
# No deadline: the machine is shared and sympy's first call in a process is slow.
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(autouse=True)
def _fresh_engine_modes() -> Iterator[None]:
    """Fail a test that leaves grad recording off, anomaly checks on or a name scope open."""
    from autograd_lite import engine

    yield
    mode = engine._mode
    leaked = {
        "grad_enabled": mode.grad_enabled is not True,
        "anomaly": mode.anomaly is not False,
        "scope": mode.scope != (),
    }
    changed = [name for name, is_changed in leaked.items() if is_changed]
    if changed:
        # Reset, so that one leaking test does not fail every test after it.
        mode.grad_enabled, mode.anomaly, mode.scope = True, False, ()
        if hasattr(mode, "refresh"):  # the engine caches a summary of the modes
            mode.refresh()
        pytest.fail(f"the test left engine modes changed: {', '.join(changed)}")
