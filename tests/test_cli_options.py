"""Tests for autograd_lite/cli/options.py: the size of a run, bounded before anything is built."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from autograd_lite.cli import main, options
from autograd_lite.nn import GPT, MLP


@pytest.mark.parametrize(
    ("inputs", "layers"), [(2, [16, 16, 1]), (64, [32, 10]), (3, [1]), (2, [5, 7, 3])]
)
def test_mlp_size_counts_the_parameters_an_mlp_has(inputs, layers):
    """The estimate's parameter count is that of the MLP actually built."""
    size = options.mlp_size(inputs, layers, batch=7)
    assert size.parameters == len(MLP(inputs, layers).parameters())
    assert size.step_operations == 7 * size.parameters


@pytest.mark.parametrize(
    ("vocab", "block", "n_embd", "n_head", "n_layer"),
    [(27, 12, 16, 4, 1), (27, 16, 8, 2, 2), (5, 3, 12, 3, 3)],
)
def test_gpt_size_counts_the_parameters_a_gpt_has(vocab, block, n_embd, n_head, n_layer):
    """The estimate's parameter count is that of the nn.GPT actually built."""
    size = options.gpt_size(vocab, block, n_embd, n_layer, batch=1)
    assert size.parameters == len(GPT(vocab, block, n_embd, n_head, n_layer).parameters())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hidden", "4096,4096,4096"], "33,579,009 parameters"),
        (["--hidden", "100000", "--samples", "8"], "400,001 parameters"),
        (["--dataset", "names", "--n-embd", "100000", "--n-head", "1"], "parameters"),
        (["--dataset", "names", "--n-layer", "100000"], "parameters"),
        (["--samples", "100000"], "give a smaller --batch-size"),
    ],
    ids=["three-wide-layers", "one-wide-layer", "wide-gpt", "deep-gpt", "whole-batch"],
)
def test_a_run_too_large_to_hold_is_refused_in_one_line_at_once(argv, message, tmp_path):
    """Whole-model bounds: exit 2 with one line, in a fresh process, before anything is built."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "autograd_lite", "train", *argv, "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert elapsed < 10
    assert not (tmp_path / "r").exists()


def test_a_large_run_in_small_batches_is_accepted(tmp_path, monkeypatch):
    """The step bound counts a step's batch: --batch-size brings 100000 samples within it."""
    seen = []
    monkeypatch.setattr("autograd_lite.cli.train.execute", seen.append)
    argv = ["train", "--samples", "100000", "--batch-size", "100", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert [s.batch_size for s in seen] == [100]
