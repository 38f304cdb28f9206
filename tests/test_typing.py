"""Tests that the public API's types catch a user's mistakes: mypy --strict on typed scripts.

The scripts are checked as a user's code is: the package's own modules are followed for
their types but not reported on (``--follow-imports=silent``), as for an installed package.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.optional import need

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _mypy(script: Path) -> list[str]:
    """mypy --strict's error lines for ``script``, as ``LINE: message``."""
    need("mypy")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            str(script),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    pattern = rf"^(?:.*/)?{re.escape(script.name)}:(\d+): error: (.*)$"
    errors = re.findall(pattern, result.stdout, re.M)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return [f"{line}: {message}" for line, message in errors]


def test_mypy_reports_the_typo_in_a_typed_user_script_and_nothing_else():
    """Losses from nn modules and losses are Values: `loss.dta` is the one error reported."""
    script = HERE / "typed_user_script.py"
    typo = next(
        number
        for number, line in enumerate(script.read_text().splitlines(), 1)
        if line.startswith("print(loss.dta)")
    )
    (error,) = _mypy(script)
    assert error.startswith(f'{typo}: "Value" has no attribute "dta"'), error


def test_the_typed_user_script_runs():
    """The script is real code: it trains one step and only then meets its typo."""
    need("typing_extensions")
    result = subprocess.run(
        [sys.executable, str(HERE / "typed_user_script.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert "AttributeError" in result.stderr and "dta" in result.stderr


def test_the_engine_functions_give_values_to_a_type_checker():
    """al.tanh(Value) and friends are Values for mypy (and floats for floats)."""
    assert _mypy(HERE / "typed_engine_script.py") == []
