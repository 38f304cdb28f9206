"""Regenerate every notebook from its jupytext twin and execute it, keeping the outputs.

The ``NN_name.py`` files (jupytext "percent" format) are the sources; the ``.ipynb`` files
are built from them so that readers on GitHub or in Jupyter see the plots and graphs::

    python notebooks/build.py                 # rebuild and execute all notebooks
    python notebooks/build.py 03 07           # only the notebooks whose names start so
    python notebooks/build.py --no-execute    # regenerate without running (outputs empty)

This is the one command that rewrites every stored output after a change to the library:
``tests/test_notebooks.py`` fails when a fresh run prints anything other than what the
stored notebooks show.

Each notebook runs top to bottom in a fresh ``python3`` kernel (nbclient) whose working
directory is a temporary one, so nothing is written beside the notebooks. The ``.ipynb``
is written to a temporary file and moved into place, so a failed or interrupted build
leaves the previous one intact. Cell ids are numbered and execution timestamps are not
recorded, so rebuilding an unchanged notebook changes only what its outputs changed.
The OpenBLAS kernel the outputs were computed under is stored in the notebook's metadata
(``autograd_lite.openblas_kernel``): compiled training rounds differently under each
kernel, so the tests compare printed numbers exactly only under the same kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NOTEBOOK_DIR = Path(__file__).resolve().parent
KERNEL_NAME = "python3"
CELL_TIMEOUT = 300  # seconds; generous, the tests hold each notebook to 90 s in total


def twins(selected: list[str] | None = None) -> list[Path]:
    """The ``NN_name.py`` twins in order, restricted to names starting with ``selected``."""
    paths = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
    if selected:
        paths = [p for p in paths if any(p.name.startswith(s) for s in selected)]
    return paths


def read_twin(path: Path) -> Any:
    """The notebook that the ``.py`` twin describes, with stable cell ids and no outputs."""
    import jupytext

    notebook = jupytext.read(path)
    # Random ids (nbformat's default) would change on every build and clutter the diffs.
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    return notebook


def openblas_kernel() -> str | None:
    """The OpenBLAS kernel NumPy runs in this process (the kernel's child inherits it)."""
    try:
        import numpy  # noqa: F401  (loads OpenBLAS)
        import threadpoolctl
    except ImportError:
        return None
    kernels = [
        info.get("architecture")
        for info in threadpoolctl.threadpool_info()
        if info.get("internal_api") == "openblas"
    ]
    return kernels[0] if len(kernels) == 1 else None


def execute(notebook: Any, *, timeout: int = CELL_TIMEOUT) -> float:
    """Run ``notebook`` in place in a fresh kernel in a temporary directory; return seconds."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="autograd-lite-notebook-") as workdir:
        client = NotebookClient(
            notebook,
            kernel_name=KERNEL_NAME,
            timeout=timeout,
            record_timing=False,
            # One stream output per cell, not as many as the kernel happened to flush.
            coalesce_streams=True,
            resources={"metadata": {"path": workdir}},
        )
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
    _drop_addresses(notebook)
    notebook.metadata["autograd_lite"] = {"openblas_kernel": openblas_kernel()}
    return seconds


# "<graphviz.graphs.Digraph at 0x7f29546243d0>": an object's default repr names its
# memory address, which differs on every run.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def _drop_addresses(notebook: Any) -> None:
    """Remove memory addresses from plain-text fallbacks of rich outputs (drawings, pages)."""
    for cell in notebook.cells:
        for output in cell.get("outputs", ()):
            data = output.get("data", {})
            if "text/plain" in data and len(data) > 1:
                data["text/plain"] = _ADDRESS.sub(">", data["text/plain"])


def write_atomically(notebook: Any, target: Path) -> None:
    """Write the ``.ipynb`` via a temporary file and ``os.replace``: never half-written."""
    import jupytext

    text = jupytext.writes(notebook, fmt="ipynb")
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            if not text.endswith("\n"):
                stream.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def build(path: Path, *, run: bool = True) -> float | None:
    """Regenerate ``path``'s ``.ipynb`` (executed when ``run``); return the run time."""
    notebook = read_twin(path)
    seconds = execute(notebook) if run else None
    write_atomically(notebook, path.with_suffix(".ipynb"))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="build only notebooks whose names start so")
    parser.add_argument(
        "--no-execute", action="store_true", help="regenerate the .ipynb without running it"
    )
    args = parser.parse_args(argv)
    paths = twins(args.names)
    if not paths:
        print(f"no notebook matches {args.names}", file=sys.stderr)
        return 2
    failed = []
    total = 0.0
    for path in paths:
        try:
            seconds = build(path, run=not args.no_execute)
        except Exception as error:  # report every notebook, then fail
            failed.append(path.name)
            print(f"FAILED {path.name}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        if seconds is None:
            print(f"wrote  {path.with_suffix('.ipynb').name}")
        else:
            total += seconds
            print(f"ran    {path.with_suffix('.ipynb').name} in {seconds:5.1f} s")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if not args.no_execute:
        print(f"total  {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
