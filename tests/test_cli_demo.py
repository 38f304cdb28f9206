"""Tests for ``autograd-lite demo`` (autograd_lite/cli/demo.py), run through cli.main."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from autograd_lite import data, serialization
from autograd_lite.cli import build_parser, main
from autograd_lite.training import accuracy
from tests.optional import need

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_trains_moons_well_and_fast_and_says_where_the_pictures_are(tmp_path, capsys):
    """The demo finishes in under 30 s, classifies the moons ≥ 95%, and lists its pictures."""
    need("matplotlib")
    need("graphviz")
    out = tmp_path / "demo"
    started = time.perf_counter()
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    assert time.perf_counter() - started < 30
    stdout = capsys.readouterr().out
    graph = "forward_graph.svg" if shutil.which("dot") else "forward_graph.dot"
    pictures = ["loss_curve.png", "gradient_flow.png", "decision_boundary.png", graph]
    for name in pictures:
        path = out / name
        assert path.exists()
        assert str(path.resolve()) in stdout
    for name in pictures[:3]:
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    # The saved model, checked on the demo's data regenerated independently of the CLI.
    model = serialization.load(out / "model.json")
    X, y = data.make_moons(200, seed=0)
    assert accuracy(model, X, y) >= 0.95


def test_demo_writes_to_autograd_lite_demo_by_default():
    """Without --out the demo writes to ./autograd-lite-demo."""
    args = build_parser().parse_args(["demo"])
    assert args.out == Path("autograd-lite-demo")
    assert args.func.__module__ == "autograd_lite.cli.demo"


def test_demo_rejects_unknown_arguments_in_one_line(capsys):
    """A missing --out value is reported in one line, without a traceback, with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "expected one argument" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_demo_refuses_an_unwritable_output_directory(tmp_path, capsys):
    """--out below a regular file gives one error line and exit status 2, before training."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["demo", "--out", str(blocker / "demo")]) == 2
    assert "cannot write to --out" in capsys.readouterr().err


def test_demo_says_what_each_picture_shows(tmp_path, capsys, monkeypatch):
    """Each picture is listed with what it shows: whose gradient, and the band's one unit."""
    from autograd_lite.cli import demo

    names = ["loss_curve.png", "gradient_flow.png", "decision_boundary.png", "forward_graph.svg"]
    files = [tmp_path / name for name in ["model.json", *names]]
    monkeypatch.setattr(demo, "execute", lambda settings: {"files": files})
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {name: lines[i + 1] for i, line in enumerate(lines) for name in names if name in line}
    assert set(listed) == set(names)
    assert "d(output)/d(box) for one training sample, not the loss's" in listed[names[3]]
    assert "0.01× to 100× the output layer's gradient norm" in listed[names[1]]
    assert "dead ReLU" in listed[names[3]] and "passes back 0" in listed[names[3]]


def test_without_matplotlib_or_graphviz_the_demo_lists_no_empty_pictures(
    tmp_path, capsys, monkeypatch
):
    """No pictures made: the demo says so instead of announcing an empty list."""
    for package in ("matplotlib", "graphviz"):
        monkeypatch.setitem(sys.modules, package, None)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "Open the pictures" not in stdout
    assert "no pictures were made" in stdout
