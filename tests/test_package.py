"""Rules about the package as a whole: layering, dependencies, style, test hygiene."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.optional import need

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autograd_lite"

# Each layer may import only itself and the layers before it (README, "How the code is laid
# out"). Keys are module paths relative to the package; the longest matching prefix wins.
LAYERS = {
    "engine": 0,
    "functional": 1,
    "__init__": 1,
    "nn": 2,
    "losses": 3,
    "optim": 3,
    "data": 4,
    "training": 4,
    "serialization": 4,
    "interop": 4,
    "compile": 4,
    "viz": 5,
    "diagnostics": 5,
    "exercises": 5,
    "expression": 5,
    "claims": 5,
    "cli": 6,
    "__main__": 6,
}


def layer_of(dotted: str) -> int:
    """The layer of a module given as 'autograd_lite.x.y' (or the package itself)."""
    parts = dotted.split(".")[1:] or ["__init__"]
    if parts[0] not in LAYERS:
        raise KeyError(f"module {dotted} is in no layer; add it to LAYERS")
    return LAYERS[parts[0]]


def imported_modules(path: Path) -> set[str]:
    """Every autograd_lite module a source file imports, at the top or inside functions."""
    package_parts = list(path.relative_to(ROOT).parts[:-1])  # the package holding the file
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("autograd_lite"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("autograd_lite"):
                found.add(module)
    return found


def source_files() -> list[Path]:
    """Every Python file of the package."""
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_layer() -> None:
    """Each source file belongs to a layer, so the layering rule below covers all of them."""
    for path in source_files():
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        layer_of(dotted)


def test_lower_layers_never_import_higher_ones() -> None:
    """engine → functional → nn → losses/optim → training → viz/diagnostics → cli."""
    violations = []
    for path in source_files():
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = layer_of(dotted)
        for module in imported_modules(path):
            if layer_of(module) > own:
                violations.append(f"{dotted} (layer {own}) imports {module} ({layer_of(module)})")
    assert violations == []


def test_layer_check_sees_a_violation(tmp_path: Path) -> None:
    """The import scanner finds imports inside functions, so the rule above can fail."""
    source = tmp_path / "autograd_lite" / "engine_probe.py"
    source.parent.mkdir()
    source.write_text("def f():\n    from autograd_lite.cli import main\n", encoding="utf-8")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert imported_modules(source) == {"autograd_lite.cli"}
    finally:
        ROOT = saved


def test_core_imports_nothing_outside_the_standard_library() -> None:
    """Importing the engine, nn, optim, losses, data, training and saving loads no third party."""
    code = (
        "import sys, autograd_lite, autograd_lite.nn, autograd_lite.optim, autograd_lite.losses,"
        " autograd_lite.data, autograd_lite.training, autograd_lite.serialization,"
        " autograd_lite.viz, autograd_lite.compile\n"
        "third = ('numpy', 'graphviz', 'matplotlib', 'tqdm', 'torch', 'sympy', 'sklearn')\n"
        "print(sorted(m for m in third if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_every_test_has_a_docstring() -> None:
    """Each test function says, in one line, what it proves."""
    missing = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_test = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if is_test and node.name.startswith("test_") and not ast.get_docstring(node):
                missing.append(f"{path.name}::{node.name}")
    assert missing == []


def test_ruff_is_clean() -> None:
    """`ruff check` finds nothing in the package, tests, benchmarks and notebooks."""
    ruff = shutil.which("ruff")
    if ruff is None:
        if os.environ.get("CI"):
            pytest.fail("ruff is not installed; `bash .ci/setup --test` installs it")
        pytest.skip("ruff is not installed")
    result = subprocess.run(
        [ruff, "check", "autograd_lite", "tests", "benchmarks"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------------------
# The PyPI page (pyproject's readme, PYPI.md) and the metadata built from it
# --------------------------------------------------------------------------------------

PYPI_PAGE = ROOT / "PYPI.md"


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def _repository_url() -> str:
    match = re.search(r'^Repository = "([^"]+)"$', _pyproject(), re.M)
    assert match is not None, "pyproject.toml has no [project.urls] Repository"
    return match.group(1)


def test_the_pypi_page_tells_a_pip_user_how_to_install_and_start() -> None:
    """PYPI.md is the long description and gives pip's install command and the demo."""
    assert re.search(r'^readme = "PYPI.md"$', _pyproject(), re.M)
    page = PYPI_PAGE.read_text(encoding="utf-8")
    assert 'pip install "autograd-lite[all]"' in page and "autograd-lite demo" in page
    assert "bash .ci/setup" not in page  # a pip user has no clone to run it in


def test_every_link_on_the_pypi_page_is_absolute_and_uses_the_project_url() -> None:
    """No relative link (PyPI cannot follow one); the repository's links share one URL."""
    page = PYPI_PAGE.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", page)
    assert links
    repository = _repository_url()
    for link in links:
        assert link.startswith("https://"), link
        assert "autograd_lite" not in link or link.startswith(repository), link
    assert f"{repository}/tree/main/notebooks" in links
    for key in ("Homepage", "Documentation", "Notebooks", "Issues"):
        url = re.search(rf'^{key} = "([^"]+)"$', _pyproject(), re.M)
        assert url is not None and url.group(1).startswith(repository), key


def test_the_classifiers_name_the_pythons_ci_tests() -> None:
    """One classifier per Python that .ci/pythons looks for, and requires-python agrees."""
    versions = re.search(r"^VERSIONS=\((.*)\)$", (ROOT / ".ci" / "pythons").read_text(), re.M)
    assert versions is not None
    tested = versions.group(1).split()
    classified = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', _pyproject())
    assert classified == tested
    assert f'requires-python = ">={tested[0]}"' in _pyproject()


def test_the_pypi_page_example_runs_and_prints_what_it_says(tmp_path: Path) -> None:
    """The page's Python example runs alone, and its printed line is the comment beside it."""
    (block,) = re.findall(r"```python\n(.*?)```", PYPI_PAGE.read_text(encoding="utf-8"), re.S)
    script = tmp_path / "pypi_example.py"
    script.write_text(block, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    promised = re.search(r"print\(.*\)  # (.*)$", block, re.M)
    assert promised is not None and result.stdout.strip() == promised.group(1)


@pytest.mark.slow
def test_the_built_distributions_pass_twine_check(tmp_path: Path) -> None:
    """sdist and wheel build; twine accepts their metadata; it carries the page and the URLs."""
    need("build")
    need("twine")
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    files = sorted((str(p) for p in dist.iterdir()), key=lambda f: Path(f).suffix)
    assert [Path(f).suffix for f in files] == [".gz", ".whl"]  # the sdist, the wheel
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(files[1]) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = wheel.read(name).decode("utf-8")
    assert "Description-Content-Type: text/markdown" in metadata
    assert f"Project-URL: Repository, {_repository_url()}" in metadata
    assert 'pip install "autograd-lite[all]"' in metadata
    assert "Classifier: Programming Language :: Python :: 3.13" in metadata
