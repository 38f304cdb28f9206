"""Tests for .ci/blas_kernel.py, which picks the OpenBLAS kernel of CI's second test pass.

Each claim is checked in a fresh process that asks OpenBLAS itself (through threadpoolctl)
which kernel it selected, and compares the bits of NumPy's products directly.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "blas_kernel.py"
pytest.importorskip("numpy")
pytest.importorskip("threadpoolctl")

# Independent of the script: the kernel OpenBLAS reports and the bytes of one product.
CHECK = r"""
import numpy as np, threadpoolctl
print([i["architecture"] for i in threadpoolctl.threadpool_info()
       if i["internal_api"] == "openblas"])
rng = np.random.default_rng(1)
print((rng.standard_normal((41, 77)) @ rng.standard_normal((77, 13))).tobytes().hex())
"""


def _script():
    """The script loaded as a module, to call its functions."""
    spec = importlib.util.spec_from_file_location("blas_kernel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(coretype: str | None) -> tuple[str, str]:
    """(kernels OpenBLAS reports, hex bytes of a product) in a fresh process."""
    env = dict(os.environ)
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    out = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return out[0], out[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    """Run the script as CI does."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_the_other_kernel_is_selected_and_rounds_differently():
    """--other names a kernel that OpenBLAS reports as selected and whose products differ."""
    done = _run("--other")
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip()
    kernels, product = _check(name)
    assert kernels.lower() == repr([name]).lower()
    assert product != _check(None)[1], f"{name} rounds exactly like the current kernel"


def test_without_arguments_it_names_the_kernel_selected_now():
    """The plain call prints the kernel that OpenBLAS reports in a process like this one."""
    done = _run()
    assert done.returncode == 0, done.stderr
    assert repr([done.stdout.strip()]) == _check(None)[0]


def test_a_name_that_openblas_does_not_know_is_never_taken():
    """An unknown OPENBLAS_CORETYPE falls back silently to another kernel: it is rejected."""
    module = _script()
    # A "current" kernel that rounds unlike any: only the selection check can reject it.
    assert module.other_kernel({"digest": "none"}, ("NoSuchKernel",)) is None


def test_the_current_kernel_is_never_the_other():
    """A candidate that rounds exactly like the current kernel (itself) is rejected."""
    module = _script()
    now = module.current()
    assert module.other_kernel(now, (now["kernels"][0],)) is None


def test_a_wrong_argument_is_refused_with_the_usage():
    """An unknown option exits 2 and prints how to call the script."""
    done = _run("--bogus")
    assert done.returncode == 2 and "--other" in done.stderr
