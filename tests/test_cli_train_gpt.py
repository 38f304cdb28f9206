"""Tests for ``autograd-lite train --dataset names --model gpt`` (autograd_lite/cli/train_gpt.py),
run through cli.main with small, fast settings."""

from __future__ import annotations

import json
import math
import random
import re
import sys

import pytest

from autograd_lite import data, serialization
from autograd_lite.cli import main, train_gpt
from autograd_lite.nn import GPT
from tests.optional import need

# Training outcomes depend on BLAS rounding: CI runs these again under another kernel.
pytestmark = pytest.mark.training

pytest.importorskip("names")


need("names")

QUICK = ["--samples", "300", "--steps", "30", "--generate", "4", "--n-embd", "8", "--n-head", "2"]


def _run(tmp_path, *extra):
    out = tmp_path / "run"
    status = main(
        ["train", "--dataset", "names", "--model", "gpt", *QUICK, *extra, "--out", str(out)]
    )
    return status, out


def test_gpt_training_prints_progress_and_sampled_names_and_saves_the_model(tmp_path, capsys):
    """A short run prints ten progress lines, a held-out loss, the samples, and saves a GPT."""
    status, out = _run(tmp_path)
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if line.strip().startswith("step ")]
    assert [line.split()[1] for line in progress] == [f"{3 * k}/30" for k in range(1, 11)]
    start = next(i for i, line in enumerate(lines) if line.startswith("sampled names"))
    samples = [line.strip().removesuffix(" *") for line in lines[start + 1 : start + 5]]
    assert len(samples) == 4
    assert all(set(name) <= set("abcdefghijklmnopqrstuvwxyz") for name in samples)
    model = serialization.load(out / "model.json")
    assert isinstance(model, GPT)
    assert (model.n_embd, model.n_head, model.n_layer, model.vocab_size) == (8, 2, 1, 27)
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history["records"]] == [3 * k for k in range(1, 11)]


def test_training_beats_uniform_guessing_on_held_out_names(tmp_path, capsys):
    """After 30 steps the held-out loss is below log(27), the loss of guessing uniformly."""
    status, _ = _run(tmp_path, "--no-progress")
    assert status == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "held-out names" in x)
    held_out = float(line.split("held-out names ")[1].split()[0])
    assert held_out < math.log(27) - 0.2


def test_held_out_loss_is_the_mean_cross_entropy_of_the_saved_model(tmp_path, capsys):
    """The printed held-out loss equals torch's cross-entropy of the saved model's logits."""
    torch = need("torch")
    status, out = _run(tmp_path, "--no-progress", "--test-size", "0.01")
    assert status == 0
    printed = next(x for x in capsys.readouterr().out.splitlines() if "held-out names" in x)
    model = serialization.load(out / "model.json")
    names = data.load_names()[:300]
    vocab = data.CharVocabulary(names)
    shuffled = list(names)
    random.Random(0).shuffle(shuffled)
    held_out = shuffled[:3]
    losses = []
    for name in held_out:
        tokens = vocab.encode(name)
        logits = torch.tensor([[v.data for v in row] for row in model(tokens[:-1])])
        losses.append(torch.nn.functional.cross_entropy(logits, torch.tensor(tokens[1:])).item())
    assert f"{sum(losses) / len(losses):.4f}" in printed


def test_the_same_seed_gives_the_same_run(tmp_path, capsys):
    """Two runs with one seed print the same losses and the same sampled names."""

    def without_times(text):
        return re.sub(r"[\d.]+ s\b", "", text)

    _run(tmp_path, "--seed", "3")
    first = without_times(capsys.readouterr().out)
    _run(tmp_path, "--seed", "3")
    assert without_times(capsys.readouterr().out) == first
    assert "step" in first and "sampled names" in first


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dataset", "moons", "--model", "gpt"], "use --dataset names"),
        (["--dataset", "names", "--model", "mlp"], "use --model gpt"),
        (["--dataset", "names", "--n-embd", "10", "--n-head", "4"], "multiple of --n-head"),
        (["--dataset", "names", "--optimizer", "sgd"], "trains with adam"),
        (["--dataset", "names", "--samples", "1"], "at least 2"),
    ],
)
def test_bad_combinations_are_one_line_errors(arguments, message, tmp_path, capsys):
    """Arguments that do not fit the GPT exit with status 2 and one line saying why."""
    status = main(["train", *arguments, "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_option_values_are_refused_by_the_parser(tmp_path, capsys):
    """--steps 0 or a negative temperature exit with status 2 naming what was expected."""
    for option in (["--steps", "0"], ["--temperature", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "--dataset", "names", *option, "--out", str(tmp_path)])
        assert exit_info.value.code == 2
        assert "expected" in capsys.readouterr().err


def test_missing_names_package_names_the_extra(tmp_path, capsys, monkeypatch):
    """Without the names package the run stops with one line naming the extra to install."""
    monkeypatch.setitem(sys.modules, "names", None)
    status = main(["train", "--dataset", "names", "--out", str(tmp_path)])
    assert status == 2
    assert 'pip install "autograd-lite[names]"' in capsys.readouterr().err


def test_defaults_are_300_single_names_or_600_compiled_batches_of_16(tmp_path, monkeypatch):
    """The documented defaults: 300 steps of one name; with --compile 600 steps of 16."""
    seen = []
    monkeypatch.setattr(train_gpt, "execute", seen.append)
    for extra in ([], ["--compile"]):
        assert main(["train", "--dataset", "names", *extra, "--out", str(tmp_path)]) == 0
    assert [(s.steps, s.batch_size, s.compile) for s in seen] == [(300, 1, False), (600, 16, True)]
    assert (seen[0].n_embd, seen[0].n_head, seen[0].n_layer) == (16, 4, 1)


def test_compiled_training_gives_the_interpreted_losses_and_weights(tmp_path):
    """--compile trains on the same batches with the same numbers as the interpreted engine."""
    need("numpy")
    runs = []
    for compiled in (False, True):
        settings = train_gpt.GPTSettings(
            names=200,
            steps=12,
            batch_size=4,
            n_embd=8,
            n_head=2,
            generate=2,
            compile=compiled,
            progress=False,
            out=tmp_path / str(compiled),
        )
        runs.append(train_gpt.execute(settings))
    interpreted, compiled = runs
    for a, b in zip(interpreted["records"], compiled["records"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-10, abs=1e-12)
    for p, q in zip(interpreted["model"].parameters(), compiled["model"].parameters()):
        assert p.data == pytest.approx(q.data, rel=1e-9, abs=1e-12)
    assert interpreted["samples"] == compiled["samples"]


def test_length_batches_hold_one_length_and_cover_every_sequence_once_per_pass():
    """Each batch has one length and at most batch_size sequences; a pass sees each once."""
    sequences = [[0] * n for n in (3, 3, 3, 4, 5, 5, 3, 4)]
    for k, s in enumerate(sequences):
        s[1] = k  # tell them apart
    batches = train_gpt.length_batches(sequences, 2, random.Random(0))
    seen = []
    while len(seen) < len(sequences):
        batch = next(batches)
        assert len(batch) <= 2 and len({len(s) for s in batch}) == 1
        seen += [s[1] for s in batch]
    assert sorted(seen) == list(range(len(sequences)))


def test_noise_and_classes_do_not_apply_to_names(tmp_path, capsys):
    """The data-set table refuses --noise for names, naming the data sets that take it."""
    status = main(["train", "--dataset", "names", "--noise", "0.1", "--out", str(tmp_path)])
    assert status == 2
    assert "--noise does not apply to --dataset names" in capsys.readouterr().err


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreted", "compiled"])
def test_a_non_finite_loss_stops_cleanly_and_keeps_the_last_finite_weights(
    compiled, tmp_path, capsys
):
    """--lr 1e308: one warning line, exit 0, history up to the non-finite step, finite model."""
    if compiled:
        need("numpy")
    extra = ["--batch-size", "4", "--compile"] if compiled else []
    status, out = _run(tmp_path, "--lr", "1e308", *extra)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Traceback" not in captured.err
    (warning,) = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert "training diverged: the loss became nan at step" in warning
    assert "try a smaller --lr than 1e+308" in warning
    history = json.loads((out / "history.json").read_text())
    last = history["records"][-1]
    assert math.isnan(last["loss"]) and history["stopped_step"] == last["step"] < 30
    assert all(math.isfinite(r["loss"]) for r in history["records"][:-1])
    model = serialization.load(out / "model.json")
    assert all(math.isfinite(p.data) for p in model.parameters())
    finite_step = history["finite_step"]
    assert (f"after step {finite_step}," if finite_step else "the initial weights") in warning
    assert "sampled names" not in captured.out
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".png")) == [
        "history.json",
        "model.json",
    ]


def test_gpt_run_writes_a_loss_curve(tmp_path, capsys):
    """A GPT run writes loss_curve.png beside the model, and lists it."""
    need("matplotlib")
    status, out = _run(tmp_path, "--no-progress")
    assert status == 0
    assert (out / "loss_curve.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "loss_curve.png" in capsys.readouterr().out
