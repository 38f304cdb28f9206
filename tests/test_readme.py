"""The README is an executable specification: each Python example runs alone, as pasted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.optional import need

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# Packages a README example may import that a test run may lack (tests/optional.py).
OPTIONAL = {"torch", "numpy", "matplotlib", "sklearn", "mlxtend", "graphviz", "hypothesis"}


def python_blocks() -> list[str]:
    """The ```python blocks of the README, in order (```console blocks are shell)."""
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def console_blocks() -> list[str]:
    """The ```console blocks of the README, in order."""
    return re.findall(r"```console\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples() -> None:
    """The README shows Python examples, so the test below runs something."""
    assert len(python_blocks()) >= 8


@pytest.mark.parametrize("number", range(1, len(python_blocks()) + 1))
def test_each_readme_example_runs_alone_in_a_fresh_interpreter(number: int, tmp_path: Path) -> None:
    """Python block `number`, pasted alone into a new interpreter, runs and its asserts hold."""
    need("graphviz")
    block = python_blocks()[number - 1]
    for module in sorted(set(re.findall(r"^(?:import|from) (\w+)", block, re.M)) & OPTIONAL):
        need(module)  # a block that imports an optional package runs where it is installed
    script = tmp_path / f"readme_block_{number}.py"
    script.write_text(block, encoding="utf-8")
    # The package as this test run imports it (the worktree first), nothing else shared.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"README python block {number}:\n{block}\n{result.stderr}"


def test_readme_commands_match_ci() -> None:
    """The README's test command is the one .ci/run runs, and the demo command is shown."""
    readme = README.read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "bash .ci/setup --test && python3 -m pytest"
    assert any(block.strip() == command for block in console_blocks())
    assert re.search(rf"^{re.escape(command)}$", ci, re.M)
    assert "bash .ci/setup && autograd-lite demo" in readme


def test_readme_starts_with_clone_and_a_virtual_environment() -> None:
    """The first commands clone and cd, then make and activate a virtual environment."""
    first = console_blocks()[0]
    assert "git clone" in first and "cd autograd_lite" in first
    assert "python3 -m venv .venv" in first and ". .venv/bin/activate" in first


def test_the_notebook_command_is_in_both_readmes() -> None:
    """One command installs Jupyter and opens the notebooks; notebooks/README.md repeats it."""
    command = "bash .ci/setup --notebooks && jupyter lab notebooks/"
    assert any(block.strip() == command for block in console_blocks())
    notebooks_readme = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    assert command in notebooks_readme
    extras = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    notebooks_extra = re.search(r"^notebooks = \[(.*)\]$", extras, re.M)
    assert notebooks_extra is not None
    for package in ("jupyterlab", "nbconvert", "ipykernel"):
        assert package in notebooks_extra.group(1)


def test_the_gradcheck_example_prints_what_its_comment_says(tmp_path: Path) -> None:
    """The comment under the gradcheck example's print is the message gradcheck really gives."""
    (block,) = [b for b in python_blocks() if "gradcheck(wrong" in b]
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("print(message)"))
    promised = " ".join(line.removeprefix("#").strip() for line in lines[start + 1 :])
    script = tmp_path / "gradcheck_example.py"
    script.write_text(block, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert " ".join(result.stdout.split()) == promised
