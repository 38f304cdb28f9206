"""The README is an executable specification: its Python examples run, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    """The ```python blocks of the README, in order (```console blocks are shell)."""
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples() -> None:
    """The README shows Python examples, so the test below runs something."""
    assert len(python_blocks()) >= 8


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Python block of the README runs, in one namespace, with its assertions holding."""
    pytest.importorskip("graphviz")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(), start=1):
        code = compile(block, f"README.md python block {number}", "exec")
        exec(code, namespace)


def test_readme_commands_match_ci() -> None:
    """The README's test command is the one .ci/run runs."""
    readme = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = "bash .ci/setup --test && python3 -m pytest"
    assert command in readme
    assert command in ci
    assert "bash .ci/setup && autograd-lite demo" in readme
