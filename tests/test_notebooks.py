"""The notebooks under notebooks/: in sync with their jupytext twins, written as teaching
material (prose before every code cell), runnable top to bottom in a fresh kernel within
their time budget, and storing the outputs that a fresh run prints.

The ``NN_name.py`` twins are the sources; ``notebooks/build.py`` regenerates and executes
the ``.ipynb`` files. Without jupytext, nbclient, nbformat or ipykernel these tests skip,
except in CI (``CI`` set), where a missing tool is a failure: a broken install must not
turn the notebook checks into silent skips.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.notebook

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
TWINS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
KERNEL_NAME = "python3"
SECONDS_PER_NOTEBOOK = 90
SECONDS_FOR_ALL = 8 * 60

# Seconds each notebook took to run, or the error it raised: the test of the total
# reuses the runs of the per-notebook tests instead of running everything twice.
_runs: dict[str, float | BaseException] = {}
# The notebooks those runs produced, to compare with the stored ones.
_fresh: dict[str, object] = {}


def _require(module_name: str) -> ModuleType:
    """Import a notebook tool; skip without it, or fail when CI is set."""
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        message = (
            f'{module_name} is needed to check the notebooks ({error}); pip install -e ".[test]"'
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {message}")
        pytest.skip(message)


def _require_kernel() -> None:
    """Skip (or, in CI, fail) unless a ``python3`` Jupyter kernel can be started."""
    _require("ipykernel")
    kernelspec = _require("jupyter_client.kernelspec")
    try:
        kernelspec.KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except kernelspec.NoSuchKernel as error:
        message = f"no Jupyter kernel named {KERNEL_NAME!r}: {error}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but there is {message}")
        pytest.skip(message)


def _cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of every cell, as jupytext reads the file."""
    jupytext = _require("jupytext")
    return [(cell.cell_type, cell.source) for cell in jupytext.read(path).cells]


def _build() -> ModuleType:
    """notebooks/build.py as a module: the tests run notebooks exactly as it does."""
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOK_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(twin: Path) -> float:
    """Execute the twin's notebook in a fresh kernel (as build.py does); return the seconds."""
    if twin.name not in _runs:
        _require("jupytext")
        _require("nbclient")
        _require_kernel()
        build = _build()
        notebook = build.read_twin(twin)
        try:
            # The timeout is per cell: a hung cell fails here, not in CI's limit.
            seconds = build.execute(notebook, timeout=SECONDS_PER_NOTEBOOK)
        except Exception as error:
            _runs[twin.name] = error
            raise
        _runs[twin.name] = seconds
        _fresh[twin.name] = notebook
    result = _runs[twin.name]
    if isinstance(result, BaseException):
        pytest.fail(f"{twin.name} failed when it ran earlier in this session: {result}")
    return result


# What differs between two runs of the same code: timings ("0.9 s", "12.5 ms", "31×
# faster", "47× slower forward", "(2.9×)" between two timings), memory addresses, and
# the file name ipykernel gives each cell in a traceback.
_VARYING = (
    (re.compile(r"( m?s) \(\d+(\.\d+)?×\)"), r"\g<1> (<ratio>×)"),
    (re.compile(r" *\b\d+(\.\d+)? m?s\b"), " <seconds> s"),  # padding too: "  3.1 ms"
    (re.compile(r"\b\d+(\.\d+)?× (?P<how>faster|slower)"), r"<ratio>× \g<how>"),
    (re.compile(r" at 0x[0-9a-fA-F]+"), " at <address>"),
    (re.compile(r"/tmp/ipykernel_\d+/\d+\.py"), "<cell>.py"),
)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _text_outputs(notebook, *, numbers: bool) -> list[tuple[int, str]]:
    """(code cell number, text it printed or displayed) for every code cell with text."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    texts = []
    for number, cell in enumerate(code, start=1):
        parts = []
        for output in cell.get("outputs", ()):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif output.get("output_type") == "error":
                parts.append(f"{output.get('ename')}: {output.get('evalue')}")
            elif "text/plain" in output.get("data", {}):
                parts.append(output["data"]["text/plain"])
        text = "".join(parts)
        for pattern, replacement in _VARYING:
            text = pattern.sub(replacement, text)
        if not numbers:
            text = _NUMBER.sub("<number>", text)
        if text:
            texts.append((number, text))
    return texts


def test_there_is_one_notebook_per_walkthrough():
    """Fourteen twins numbered 01 to 14 exist, each with its generated .ipynb beside it."""
    assert [path.name[:2] for path in TWINS] == [f"{n:02d}" for n in range(1, 15)]
    missing = [path.name for path in TWINS if not path.with_suffix(".ipynb").is_file()]
    assert not missing, f"run `python notebooks/build.py` to generate: {missing}"


def test_readme_lists_every_notebook():
    """notebooks/README.md links every notebook, so no walkthrough goes unmentioned."""
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    unlisted = [path.name for path in TWINS if path.with_suffix(".ipynb").name not in readme]
    assert not unlisted, f"notebooks/README.md does not mention {unlisted}"


@pytest.mark.parametrize("twin", TWINS, ids=[path.stem for path in TWINS])
def test_notebook_matches_its_twin(twin):
    """The stored .ipynb has exactly the cells of its .py twin (same types, same sources)."""
    stored = twin.with_suffix(".ipynb")
    assert _cells(stored) == _cells(twin), (
        f"{stored.name} is out of date with {twin.name}: run `python notebooks/build.py "
        f"{twin.name[:2]}`"
    )


@pytest.mark.parametrize("twin", TWINS, ids=[path.stem for path in TWINS])
def test_stored_notebook_was_executed_top_to_bottom(twin):
    """Every code cell of the stored .ipynb ran, once, in order, without an error output."""
    nbformat = _require("nbformat")
    notebook = nbformat.read(twin.with_suffix(".ipynb"), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), (
        f"{twin.with_suffix('.ipynb').name} was not executed in one run from the top: "
        "rebuild it with `python notebooks/build.py`"
    )
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, f"stored error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"


@pytest.mark.parametrize("twin", TWINS, ids=[path.stem for path in TWINS])
def test_notebook_is_written_as_a_walkthrough(twin):
    """A title first, prose before every code cell, and the installed package imported."""
    cells = _cells(twin)
    first_type, first_source = cells[0]
    assert first_type == "markdown"
    assert first_source.startswith(f"# {int(twin.name[:2])}. "), "the first cell is the title"
    for index, (cell_type, source) in enumerate(cells):
        if cell_type != "code":
            continue
        previous_type, previous_source = cells[index - 1]
        assert previous_type == "markdown" and previous_source.strip(), (
            f"code cell {index} of {twin.name} is not introduced by prose:\n{source}"
        )
        # The notebooks teach the installed package; editing sys.path would hide an
        # install that does not work.
        assert "sys.path" not in source, f"code cell {index} of {twin.name} edits sys.path"


@pytest.mark.slow
@pytest.mark.parametrize("twin", TWINS, ids=[path.stem for path in TWINS])
def test_notebook_runs_top_to_bottom_in_time(twin):
    """The notebook executes without error in a fresh kernel in under 90 seconds."""
    seconds = _run(twin)
    assert seconds < SECONDS_PER_NOTEBOOK, (
        f"{twin.name} took {seconds:.1f} s; keep each notebook under "
        f"{SECONDS_PER_NOTEBOOK} s (smaller data or fewer epochs, noted in the prose)"
    )


@pytest.mark.slow
def test_all_notebooks_run_in_under_eight_minutes():
    """Together the notebooks execute in under eight minutes."""
    seconds = {
        twin.name: _run(twin) for twin in TWINS
    }  # runs only notebooks the per-notebook tests have not run already
    total = sum(seconds.values())
    slowest = max(seconds, key=seconds.__getitem__)
    assert total < SECONDS_FOR_ALL, (
        f"the notebooks took {total:.0f} s together (the slowest, {slowest}, "
        f"{seconds[slowest]:.0f} s); the budget is {SECONDS_FOR_ALL} s"
    )


@pytest.mark.slow
@pytest.mark.parametrize("twin", TWINS, ids=[path.stem for path in TWINS])
def test_stored_outputs_are_what_a_fresh_run_prints(twin):
    """The stored .ipynb's text outputs equal a fresh run's (numbers too, on the same kernel)."""
    nbformat = _require("nbformat")
    _run(twin)
    stored = nbformat.read(twin.with_suffix(".ipynb"), as_version=4)
    fresh = _fresh[twin.name]
    # Compiled training rounds differently under each OpenBLAS kernel, and chaotic runs
    # turn that into other numbers: those are compared only under the stored kernel.
    stored_kernel = stored.metadata.get("autograd_lite", {}).get("openblas_kernel")
    same_kernel = stored_kernel == fresh.metadata["autograd_lite"]["openblas_kernel"]
    expected = dict(_text_outputs(stored, numbers=same_kernel))
    got = dict(_text_outputs(fresh, numbers=same_kernel))
    for cell in sorted(expected.keys() | got.keys()):
        assert got.get(cell, "") == expected.get(cell, ""), (
            f"code cell {cell} of {twin.with_suffix('.ipynb').name} now prints\n"
            f"{got.get(cell, '')}\nbut the stored notebook shows\n{expected.get(cell, '')}\n"
            f"rebuild it: python notebooks/build.py {twin.name[:2]}"
        )
