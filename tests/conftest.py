"""Shared pytest configuration: Hypothesis profiles and a check that tests restore engine modes."""

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


def pytest_report_header() -> str:
    """Name the OpenBLAS kernel: compiled training's rounding, and so its outcomes, depend on it."""
    try:
        import numpy  # noqa: F401  (loads OpenBLAS)
        import threadpoolctl
    except ImportError:
        return "OpenBLAS kernel: unknown (numpy or threadpoolctl missing)"
    kernels = [
        info.get("architecture")
        for info in threadpoolctl.threadpool_info()
        if info.get("internal_api") == "openblas"
    ]
    preset = os.environ.get("OPENBLAS_CORETYPE")
    return f"OpenBLAS kernel: {', '.join(map(str, kernels)) or 'none'} (OPENBLAS_CORETYPE={preset})"


def _changed_engine_modes() -> list[str]:
    """Which of this thread's engine modes differ from the defaults, seen through the API."""
    from autograd_lite import Value, is_grad_enabled

    probe = Value(1.0)
    changed = []
    if not is_grad_enabled():
        changed.append("grad recording is off (a no_grad() block was not closed)")
    elif (probe * 1.0).created_at is not None:
        changed.append("detect_anomaly() is still on")
    if probe.scope != ():
        changed.append(f"name_scope {probe.scope!r} is still open")
    return changed


@pytest.fixture(autouse=True)
def _engine_modes_are_restored() -> Iterator[None]:
    """Fail a test that leaves grad recording off, anomaly checks on or a name scope open."""
    yield
    changed = _changed_engine_modes()
    if changed:
        from autograd_lite import enable_grad

        enable_grad().__enter__()  # turn recording back on so later tests are not affected
        pytest.fail("the test left engine modes changed: " + "; ".join(changed))
