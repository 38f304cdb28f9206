"""Tests for .ci/setup's choice of PyTorch build, run by sourcing its shell functions.

The network is never needed: unreachable addresses stand in for a machine that reaches
only the package index (as CI's do), and a tiny fake wheel stands in for a local cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.optional import need

SETUP = Path(__file__).resolve().parent.parent / ".ci" / "setup"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def run_setup_function(script: str, env: dict[str, str] | None = None, timeout: float = 60):
    """Source .ci/setup in a fresh bash and run ``script``; PYTHON is this interpreter."""
    environment = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(
        ["bash", "-c", f'source "{SETUP}"; {script}'],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
    )


def without_pip_configuration(tmp_path: Path) -> dict[str, str]:
    """Environment in which pip reads no configuration file and has no find-links."""
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(tmp_path / "no-wheels")}
    (tmp_path / "no-wheels").mkdir(exist_ok=True)
    return env


def fake_cpu_wheel(folder: Path, version: str) -> Path:
    """A minimal valid wheel named torch-VERSION+cpu, enough for pip to pick it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"torch-{version}+cpu-py3-none-any.whl"
    info = f"torch-{version}+cpu.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: torch\nVersion: {version}+cpu\n"
        )
        wheel.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{info}/RECORD", "")
    return path


def test_an_unreachable_index_is_given_up_within_the_probe_time():
    """A refused connection and an unroutable address both fail in about PROBE_SECONDS."""
    for url in ("http://127.0.0.1:9/whl/cpu/torch/", "http://10.255.255.1/whl/cpu/torch/"):
        started = time.perf_counter()
        result = run_setup_function(f'url_reachable "{url}"', {"AUTOGRAD_LITE_PROBE_SECONDS": "1"})
        elapsed = time.perf_counter() - started
        assert result.returncode != 0
        assert elapsed < 1 + 10  # the probe's second, plus starting Python on a loaded machine


def test_unreachable_index_and_no_local_wheel_fall_back_to_the_package_index(tmp_path):
    """No torch, no local wheel, no CPU index: the package index, with the CUDA warning."""
    env = {
        **without_pip_configuration(tmp_path),
        "AUTOGRAD_LITE_TORCH_INDEX": "http://127.0.0.1:9/whl/cpu",
        "AUTOGRAD_LITE_PROBE_SECONDS": "1",
    }
    script = (
        'torch_cpu_installed() { return 1; }; s="$(torch_source)"; echo "$s"; '
        'torch_requirement "$s"; torch_fallback_warning'
    )
    result = run_setup_function(script, env)
    assert result.returncode == 0, result.stderr
    source, requirement = result.stdout.splitlines()
    assert source == "package-index"
    assert requirement == "torch==2.13.0"
    warning = result.stderr
    assert "http://127.0.0.1:9/whl/cpu" in warning and "CUDA build" in warning
    assert "PIP_FIND_LINKS=" in warning and "AUTOGRAD_LITE_TORCH_INDEX" in warning


@pytest.mark.skipif(sys.platform != "linux", reason="the CPU/CUDA choice matters on Linux")
def test_a_local_cpu_wheel_found_by_pips_configuration_is_used(tmp_path):
    """A torch-2.13.0+cpu wheel in find-links is chosen before any network probe."""
    wheels = tmp_path / "wheels"
    fake_cpu_wheel(wheels, "2.13.0")
    env = {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_FIND_LINKS": str(wheels),
        "AUTOGRAD_LITE_TORCH_INDEX": "http://127.0.0.1:9/whl/cpu",
    }
    script = 'torch_cpu_installed() { return 1; }; s="$(torch_source)"; torch_requirement "$s"'
    result = run_setup_function(script, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "torch==2.13.0+cpu"


@pytest.mark.skipif(sys.platform != "linux", reason="the CPU/CUDA choice matters on Linux")
def test_a_local_wheel_of_another_version_is_not_taken(tmp_path):
    """Only the pinned version counts as a local CPU wheel."""
    wheels = tmp_path / "wheels"
    fake_cpu_wheel(wheels, "2.12.0")
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(wheels)}
    assert run_setup_function("torch_cpu_wheel_local", env).returncode != 0


def test_the_cpu_index_pins_the_cpu_build_and_keeps_the_package_index():
    """From PyTorch's index the +cpu build is pinned; the package index still serves the rest."""
    result = run_setup_function("torch_requirement cpu-index; torch_requirement installed")
    assert result.stdout.split("\n")[0] == (
        "torch==2.13.0+cpu --extra-index-url https://download.pytorch.org/whl/cpu"
    )
    assert result.stdout.split("\n")[1] == ""  # nothing to install


def test_an_installed_cpu_torch_skips_every_probe():
    """With torch 2.13.0 (CPU) importable, the answer is 'installed' and nothing is probed."""
    torch = need("torch")
    if torch.__version__.split("+")[0] != "2.13.0" or torch.version.cuda is not None:
        pytest.skip(f"this machine has torch {torch.__version__}, not 2.13.0 CPU")
    script = (
        "url_reachable() { echo probed; }; torch_cpu_wheel_local() { echo probed; }; torch_source"
    )
    assert run_setup_function(script).stdout.strip() == "installed"


def test_a_wrong_argument_is_refused_with_the_usage():
    """`bash .ci/setup --tests` exits 2 with the usage line, installing nothing."""
    result = subprocess.run(
        ["bash", str(SETUP), "--tests"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "usage: bash .ci/setup [--test | --notebooks]" in result.stderr


PYTHONS = SETUP.parent / "pythons"


def test_ci_finds_the_other_pythons_and_skips_what_the_machine_lacks():
    """.ci/pythons' find_python gives a working interpreter of the version asked, or nothing."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = subprocess.run(
        ["bash", "-c", f'source "{PYTHONS}"; find_python {here}; echo "[$(find_python 3.99)]"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[-1] == "[]"  # no such Python: nothing, and no error
    if len(lines) == 2:  # this Python is on PATH or under pyenv
        version = subprocess.run(
            [lines[0], "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert version.stdout.strip() == here


def test_ci_finds_every_python_pyenv_has_even_behind_an_unselected_shim():
    """Each 3.10-3.13 that pyenv holds is found, though its shim on PATH may refuse to run."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        pytest.skip("needs pyenv, which this machine does not have")
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=60)
    held = [
        v
        for v in ("3.10", "3.11", "3.12", "3.13")
        if list(Path(root.stdout.strip()).glob(f"versions/{v}.*/bin/python{v}"))
    ]
    script = f'source "{PYTHONS}"; ' + "; ".join(f'echo "{v}=$(find_python {v})"' for v in held)
    found = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    paths = dict(line.split("=", 1) for line in found.stdout.splitlines())
    assert all(paths[v] for v in held), paths
