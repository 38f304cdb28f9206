"""Tests for autograd_lite.serialization: exact round trips, the documented JSON format,
atomic writes under simulated crashes, and a clear ModelFileError for every bad file."""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_lite import serialization
from autograd_lite.engine import Value
from autograd_lite.nn import MLP, RNN, Dropout, Layer, Module, Residual, RNNCell, Sequential
from autograd_lite.nn.module import _REGISTRY, MAX_NESTING, config_arguments, register_module
from autograd_lite.serialization import (
    ModelFileError,
    atomic_write_text,
    load,
    load_state_dict,
    save,
    save_state_dict,
)


def outputs(model: Module, x) -> list[float]:
    """The model's outputs on ``x`` as a flat list of floats."""
    result = model(x)
    flat = []
    stack = [result]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            flat.append(item.data)
    return flat


MODELS = [
    pytest.param(
        lambda: MLP(3, [8, 4, 2], activation="tanh", init="xavier", seed=1),
        [[0.5, -1, 2]],
        id="mlp",
    ),
    pytest.param(lambda: MLP(2, [16, 16, 1]), [[0.3, 0.7]], id="micrograd-mlp"),
    pytest.param(
        lambda: Sequential(
            Layer(3, 4, "leaky_relu", seed=2),
            Dropout(0.5, seed=3),
            Residual(Layer(4, 4, "sigmoid", seed=4)),
            Layer(4, 2, "linear", init="he", seed=5),
        ),
        [[1.0, -2.0, 0.5]],
        id="sequential",
    ),
    pytest.param(lambda: RNN(2, 3, nout=1, seed=6), [[[0.1, 0.2], [0.3, -0.4]]], id="rnn-readout"),
    pytest.param(lambda: RNN(1, 3, "relu", seed=7), [[0.5, -0.25, 1.0]], id="rnn"),
    pytest.param(lambda: RNNCell(2, 2, seed=8), [[0.5, 0.5]], id="rnn-cell"),
]


def write(path: Path, document) -> Path:
    """Write a JSON document (or raw text) to ``path`` for the corrupt-file tests."""
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def valid_document() -> dict:
    """A correct model file's contents, to be broken one field at a time."""
    model = MLP(2, [2, 1], seed=0)
    return {
        "format": "autograd-lite-model",
        "version": 1,
        "class": "MLP",
        "config": model.config(),
        "state": model.state_dict(),
    }


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "args"), MODELS)
def test_load_rebuilds_a_model_that_computes_bit_identical_outputs(make, args, tmp_path) -> None:
    """save then load gives the same class, config, state and exactly equal outputs."""
    model = make().eval()
    path = save(model, tmp_path / "model.json")
    loaded = load(path).eval()
    assert type(loaded) is type(model)
    assert loaded.config() == model.config()
    assert loaded.state_dict() == model.state_dict()
    assert outputs(loaded, *args) == outputs(model, *args)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=9, max_size=9))
def test_every_finite_float_survives_a_round_trip_exactly(values, tmp_path) -> None:
    """Weights including subnormals, -0.0 and 1e308 are read back as the identical floats."""
    model = MLP(2, [2, 1], seed=0)
    model.load_state_dict(dict(zip(model.state_dict(), values)))
    loaded = load(save(model, tmp_path / "m.json"))
    for original, read in zip(values, loaded.state_dict().values()):
        assert read == original and math.copysign(1.0, read) == math.copysign(1.0, original)


def test_file_is_the_documented_json_format(tmp_path) -> None:
    """The file is plain JSON with format, version, class, config, state and training keys."""
    model = MLP(2, [3, 1], seed=0)
    document = json.loads(save(model, tmp_path / "m.json").read_text(encoding="utf-8"))
    assert list(document) == ["format", "version", "class", "config", "state", "training"]
    assert document["training"] is True
    assert document["format"] == "autograd-lite-model" and document["version"] == 1
    assert document["class"] == "MLP"
    assert document["config"] == {
        "nin": 2,
        "nouts": [3, 1],
        "activation": "relu",
        "output_activation": "linear",
        "init": "uniform",
        "seed": 0,
    }
    assert document["state"] == model.state_dict()


def test_state_dict_files_round_trip_and_load_into_a_model(tmp_path) -> None:
    """save_state_dict/load_state_dict keep only weights and can fill a fresh model."""
    source = MLP(2, [3, 1], seed=0)
    path = save_state_dict(source, tmp_path / "weights.json")
    assert json.loads(path.read_text())["format"] == "autograd-lite-state"
    assert load_state_dict(path) == source.state_dict()
    target = MLP(2, [3, 1], seed=1)
    load_state_dict(path, target)
    assert target.state_dict() == source.state_dict()
    save_state_dict(source.state_dict(), tmp_path / "plain.json")
    assert load_state_dict(tmp_path / "plain.json") == source.state_dict()


def test_loading_leaves_the_global_random_state_alone(tmp_path) -> None:
    """Loading an unseeded model does not change what random draws next."""
    path = save(MLP(4, [8, 1]), tmp_path / "m.json")
    random.seed(3)
    expected = random.random()
    random.seed(3)
    load(path)
    assert random.random() == expected


def test_save_accepts_str_paths_and_returns_a_path(tmp_path) -> None:
    """A str path works and the written path comes back as a pathlib.Path."""
    result = save(MLP(1, [1], seed=0), str(tmp_path / "m.json"))
    assert result == tmp_path / "m.json" and isinstance(result, Path)


# --------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------


def leftovers(directory: Path) -> list[str]:
    """Temporary files left behind in ``directory``."""
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_a_crash_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch) -> None:
    """If the disk write fails half-way, the previous file is unchanged and no temp remains."""
    path = save(MLP(2, [2, 1], seed=0), tmp_path / "m.json")
    before = path.read_bytes()

    def fsync_fails(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="No space left"):
        save(MLP(2, [2, 1], seed=1), path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_a_partially_written_temp_file_never_replaces_the_target(tmp_path, monkeypatch) -> None:
    """An interrupt after half the bytes are written leaves the old file and no temp file."""
    path = save(MLP(2, [2, 1], seed=0), tmp_path / "m.json")
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfWriter:
        """Wraps the temp file: writes half of the text, then is interrupted."""

        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc_info) -> None:
            self.handle.close()

        def write(self, text: str) -> None:
            self.handle.write(text[: len(text) // 2])
            self.handle.flush()
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        save(MLP(2, [2, 1], seed=1), path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_a_failed_replace_cleans_up_the_temp_file(tmp_path, monkeypatch) -> None:
    """If os.replace fails the target is untouched and the temp file is removed."""
    path = tmp_path / "m.json"
    path.write_text("old")

    def replace_fails(src, dst) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(PermissionError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_new_files_get_ordinary_permissions(tmp_path) -> None:
    """The saved file is readable per the umask, not private like a raw temp file (0600)."""
    old_umask = os.umask(0o022)
    try:
        path = save(MLP(1, [1], seed=0), tmp_path / "m.json")
    finally:
        os.umask(old_umask)
    assert path.stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------------------
# Corrupt and mismatched files
# --------------------------------------------------------------------------------------


def test_a_truncated_file_is_reported_as_truncated(tmp_path) -> None:
    """A file cut in half raises ModelFileError saying it is not valid JSON and looks truncated."""
    path = save(MLP(2, [4, 1], seed=0), tmp_path / "m.json")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match=r"not valid JSON.*truncated"):
        load(path)


def test_binary_garbage_is_reported(tmp_path) -> None:
    """Bytes that are not UTF-8 raise ModelFileError, not UnicodeDecodeError."""
    path = tmp_path / "m.json"
    path.write_bytes(b"\x80\x81\xfe\xff" * 10)
    with pytest.raises(ModelFileError, match="not a text"):
        load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: [d], "holds a JSON list"),
        (lambda d: d | {"format": "pickle"}, "format tag is 'pickle'"),
        (lambda d: d | {"format": "autograd-lite-state"}, "use load_state_dict"),
        (lambda d: d | {"version": 2}, "version 2; this autograd_lite reads version 1"),
        (lambda d: d | {"version": "1"}, "version '1'"),
        (lambda d: d | {"version": True}, "version True"),
        (lambda d: {k: v for k, v in d.items() if k != "version"}, "version None"),
        (lambda d: {k: v for k, v in d.items() if k != "class"}, r"missing \['class'\]"),
        (lambda d: {k: v for k, v in d.items() if k != "config"}, r"missing \['config'\]"),
        (lambda d: {k: v for k, v in d.items() if k != "state"}, r"missing \['state'\]"),
        (lambda d: d | {"class": "Transformer"}, "unknown module class 'Transformer'"),
        (lambda d: d | {"class": 7}, "unknown module class 7"),
        (lambda d: d | {"config": {**d["config"], "nin": "two"}}, "cannot rebuild 'MLP'.*str"),
        (lambda d: d | {"config": {**d["config"], "depth": 3}}, "cannot rebuild 'MLP'.*depth"),
        (lambda d: d | {"config": [2, [2, 1]]}, "config of MLP must be a dict"),
        (lambda d: d | {"state": [1.0, 2.0]}, "'state' must be an object"),
    ],
)
def test_malformed_documents_raise_model_file_error(tmp_path, change, message) -> None:
    """Each way a document can be wrong raises ModelFileError with a message naming it."""
    path = write(tmp_path / "m.json", change(valid_document()))
    with pytest.raises(ModelFileError, match=message):
        load(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('"0.5"', r'is "0.5", not a number'),
        ("null", "is null, not a number"),
        ("true", "is true, not a number"),
        ("[1.0]", r"is \[1.0\], not a number"),
        ("NaN", "is nan, not a finite number"),
        ("Infinity", "is inf, not a finite number"),
        ("-Infinity", "is -inf, not a finite number"),
        ("1e400", "is inf, not a finite number"),
        ("1" + "0" * 400, "is an integer too large for a float"),
    ],
)
def test_non_numeric_or_non_finite_entries_are_named(tmp_path, raw: str, message: str) -> None:
    """A weight that is not a finite number raises ModelFileError naming the parameter."""
    document = valid_document()
    name = "layers.0.neurons.1.w.0"
    text = json.dumps(document).replace(
        f'"{name}": {document["state"][name]!r}', f'"{name}": {raw}'
    )
    assert raw in text
    path = write(tmp_path / "m.json", text)
    with pytest.raises(ModelFileError, match=rf"parameter '{name}' {message}"):
        load(path)


def test_state_that_does_not_fit_the_config_is_a_shape_mismatch(tmp_path) -> None:
    """Weights for another architecture raise ModelFileError naming missing/extra keys."""
    document = valid_document()
    document["state"] = MLP(2, [3, 1], seed=0).state_dict()  # one neuron too many
    path = write(tmp_path / "m.json", document)
    with pytest.raises(
        ModelFileError, match=r"does not fit.*unexpected keys.*layers\.0\.neurons\.2"
    ):
        load(path)
    document["state"] = MLP(2, [1, 1], seed=0).state_dict()  # one neuron too few
    write(path, document)
    with pytest.raises(ModelFileError, match=r"missing keys.*layers\.0\.neurons\.1"):
        load(path)


def test_model_file_error_is_a_value_error() -> None:
    """Callers can catch file problems as ValueError."""
    assert issubclass(ModelFileError, ValueError)


def test_a_model_file_loaded_as_a_state_file_says_which_loader_to_use(tmp_path) -> None:
    """load_state_dict on a full model file points at load()."""
    path = save(MLP(1, [1], seed=0), tmp_path / "m.json")
    with pytest.raises(ModelFileError, match=r"use load\(\)"):
        load_state_dict(path)


def test_a_missing_file_raises_file_not_found(tmp_path) -> None:
    """A path that does not exist raises FileNotFoundError, as open() does."""
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.json")


# --------------------------------------------------------------------------------------
# Refusing to save
# --------------------------------------------------------------------------------------


def test_save_refuses_non_finite_weights_and_names_them(tmp_path) -> None:
    """A nan weight raises ValueError naming the parameter; no file is written."""
    model = MLP(1, [1], seed=0)
    model.layers[0].neurons[0].b.data = math.nan
    with pytest.raises(ValueError, match=r"'layers\.0\.neurons\.0\.b' is nan"):
        save(model, tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_non_modules_unregistered_classes_and_bad_paths(tmp_path) -> None:
    """Wrong argument types raise TypeError; a class without registration ValueError."""

    class Custom(Module):
        def __init__(self) -> None:
            self.w = Value(1.0)

    with pytest.raises(TypeError, match="dict"):
        save({"w": 1.0}, tmp_path / "m.json")
    with pytest.raises(ValueError, match="register_module"):
        save(Custom(), tmp_path / "m.json")
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike, got int"):
        save(MLP(1, [1], seed=0), 3)


def test_save_never_pickles(tmp_path, monkeypatch) -> None:
    """Saving works with pickle made unusable: the format is JSON only."""
    import pickle

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle must not be used")

    monkeypatch.setattr(pickle, "dump", no_pickle)
    monkeypatch.setattr(pickle, "dumps", no_pickle)
    model = MLP(2, [2], seed=0)
    assert load(save(model, tmp_path / "m.json")).state_dict() == model.state_dict()
    assert serialization.MODEL_FORMAT == "autograd-lite-model"


# --------------------------------------------------------------------------------------
# Hostile configs: sizes and nesting are checked before anything is built (issue 11, 5)
# --------------------------------------------------------------------------------------


def _residual_tower(depth: int) -> dict:
    """A model document of ``depth`` Residuals wrapped around one Layer(1, 1)."""
    spec = {"class": "Layer", "config": {"nin": 1, "nout": 1}}
    for _ in range(depth):
        spec = {"class": "Residual", "config": {"module": spec}}
    return {"format": "autograd-lite-model", "version": 1, **spec, "state": {}}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"nin": 2, "nouts": [100000, 100000]}, r"implies at least \d+ parameters.*holds 9"),
        ({"nin": 10**12, "nouts": [1]}, r"implies at least \d+ parameters.*holds 9"),
        ({"nin": 1e12, "nouts": [1]}, "nin must be a positive int, got float"),
        ({"nin": 2, "nouts": [2, 1], "rng": 5}, "unexpected key.*'rng'"),
    ],
)
def test_a_small_file_asking_for_a_huge_model_is_refused_before_building(
    tmp_path, config, message
) -> None:
    """A 200-byte file whose config implies billions of weights fails at once, naming sizes."""
    document = valid_document() | {"config": config}
    path = write(tmp_path / "m.json", document)
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=message) as caught:
        load(path)
    assert time.perf_counter() - started < 1.0
    assert str(path) in str(caught.value)


def test_deep_json_nesting_is_refused_without_recursion_error(tmp_path) -> None:
    """'[' x 100,000 (json's own recursion) is a ModelFileError saying it is nested too deep."""
    path = write(tmp_path / "m.json", "[" * 100_000)
    with pytest.raises(ModelFileError, match="nested deeper than"):
        load(path)


@pytest.mark.parametrize(
    ("depth", "message"),
    [(300, "JSON nested deeper than"), (MAX_NESTING, "modules are nested deeper than 32")],
)
def test_a_deep_residual_is_refused_without_recursion_error(tmp_path, depth, message) -> None:
    """Module nesting beyond the documented limit is a ModelFileError, not RecursionError."""
    path = write(tmp_path / "m.json", _residual_tower(depth))
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_nesting_up_to_the_limit_still_loads(tmp_path) -> None:
    """A tower of MAX_NESTING modules (the limit) saves and loads back exactly."""
    model = Layer(1, 1, seed=0)
    for _ in range(MAX_NESTING - 1):
        model = Residual(model)
    loaded = load(save(model, tmp_path / "m.json"))
    assert loaded.state_dict() == model.state_dict()


def test_duplicate_keys_are_refused(tmp_path) -> None:
    """A JSON object naming one key twice is ambiguous: ModelFileError naming the key."""
    text = json.dumps(valid_document()).replace('"version": 1', '"version": 1, "version": 1')
    path = write(tmp_path / "m.json", text)
    with pytest.raises(ModelFileError, match="duplicate key 'version'"):
        load(path)


def test_a_module_that_cannot_size_its_config_is_refused_safely(tmp_path) -> None:
    """A registered class without parameter_count is neither saved nor loaded (fail safe)."""

    @register_module
    class Unsized(Module):
        def __init__(self, n: int = 1) -> None:
            self.w = [Value(0.0) for _ in range(n)]

        def config(self) -> dict:
            return {"n": len(self.w)}

    try:
        with pytest.raises(ValueError, match="parameter_count"):
            save(Unsized(), tmp_path / "u.json")
        document = {"format": "autograd-lite-model", "version": 1, "class": "Unsized"}
        path = write(tmp_path / "u.json", document | {"config": {"n": 1}, "state": {"w.0": 0.0}})
        with pytest.raises(ModelFileError, match="parameter_count"):
            load(path)
    finally:
        _REGISTRY.pop("Unsized")


def test_save_checks_parameter_count_against_the_model(tmp_path) -> None:
    """A parameter_count that disagrees with the built model is caught when saving."""

    @register_module
    class Miscounted(Module):
        def __init__(self) -> None:
            self.w = Value(0.0)

        def config(self) -> dict:
            return {}

        @classmethod
        def parameter_count(cls, config) -> int:
            return 2

    try:
        with pytest.raises(ValueError, match=r"parameter_count.*2.*has 1"):
            save(Miscounted(), tmp_path / "m.json")
    finally:
        _REGISTRY.pop("Miscounted")


def test_the_register_module_docstring_example_saves_and_loads(tmp_path) -> None:
    """A class written as register_module's docstring shows round-trips, and its count is used."""

    @register_module
    class Affine(Module):
        def __init__(self, n: int = 1) -> None:
            self.w = [Value(1.0) for _ in range(n)]

        def config(self) -> dict:
            return {"n": len(self.w)}

        @classmethod
        def parameter_count(cls, config) -> int:
            n = config_arguments(cls, config, ("n",))["n"]
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"n must be a positive int, got {n!r}")
            return n

    try:
        model = Affine(3)
        model.w[1].data = -2.5
        loaded = load(save(model, tmp_path / "affine.json"))
        assert loaded.state_dict() == model.state_dict()
        document = json.loads((tmp_path / "affine.json").read_text())
        write(tmp_path / "huge.json", document | {"config": {"n": 10**9}})
        with pytest.raises(ModelFileError, match="at least 1000000000 parameters"):
            load(tmp_path / "huge.json")
        write(tmp_path / "odd.json", document | {"config": {"n": 3, "rng": 1}})
        with pytest.raises(ModelFileError, match=r"unexpected key.*'rng'"):
            load(tmp_path / "odd.json")
    finally:
        _REGISTRY.pop("Affine")


def test_a_model_sharing_a_layer_is_refused_when_saving(tmp_path) -> None:
    """Sequential(layer, layer) saves one set of weights for two layers: refused, not written."""
    layer = Layer(2, 2, seed=0)
    with pytest.raises(ValueError, match="one module or parameter in two places"):
        save(Sequential(layer, layer), tmp_path / "shared.json")
    assert not (tmp_path / "shared.json").exists()


# --------------------------------------------------------------------------------------
# Train and eval mode
# --------------------------------------------------------------------------------------


def _dropout_model() -> Sequential:
    return Sequential(Layer(2, 3, "relu", seed=0), Dropout(0.5, seed=1), Layer(3, 1, seed=2))


def test_a_model_saved_in_eval_mode_loads_in_eval_mode_with_identical_outputs(tmp_path) -> None:
    """Dropout saved in eval mode stays off after loading: outputs equal, not re-masked."""
    model = _dropout_model().eval()
    loaded = load(save(model, tmp_path / "m.json"))
    assert [m.training for m in loaded.modules()] == [False] * len(model.modules())
    for _ in range(5):  # Dropout in training mode would draw a fresh mask on each call
        assert outputs(loaded, [0.7, -0.2]) == outputs(model, [0.7, -0.2])


def test_mixed_modes_are_saved_and_restored_module_by_module(tmp_path) -> None:
    """Only the Dropout in eval mode, or only the Dropout in training mode: both restored."""
    for dropout_training in (False, True):
        model = _dropout_model().train(not dropout_training)
        model.layers[1].train(dropout_training)
        document = json.loads(save(model, tmp_path / "m.json").read_text(encoding="utf-8"))
        assert document["training"]["layers.1"] is dropout_training
        loaded = load(tmp_path / "m.json")
        assert [m.training for m in loaded.modules()] == [m.training for m in model.modules()]


def test_a_file_without_training_modes_loads_in_training_mode(tmp_path) -> None:
    """Files written before modes were saved load as they always did: in training mode."""
    document = valid_document()
    document.pop("training", None)
    loaded = load(write(tmp_path / "old.json", document))
    assert all(m.training for m in loaded.modules())


@pytest.mark.parametrize(
    ("training", "message"),
    [
        (None, "'training' must be true, false or an object"),
        (1, "'training' must be true, false or an object"),
        ("false", "'training' must be true, false or an object"),
        ([True], "'training' must be true, false or an object"),
        ({"": False}, "missing modules"),
        ({"": False, "layers.0": 0, "layers.1": True}, "must be true or false"),
        ({"": True, "layers.0": True, "layers.1": True, "layers.7": True}, "no module"),
    ],
)
def test_bad_training_modes_raise_model_file_error(tmp_path, training, message) -> None:
    """A 'training' entry of the wrong type, or not naming exactly the modules, is refused."""
    model = Sequential(Layer(2, 2, seed=0), Dropout(0.5))
    document = json.loads(save(model, tmp_path / "m.json").read_text(encoding="utf-8"))
    names = [name for name, _ in model.named_modules()]
    if isinstance(training, dict) and "missing" not in message and "no module" not in message:
        training = {name: training.get(name, True) for name in names}
    document["training"] = training
    with pytest.raises(ModelFileError, match=message):
        load(write(tmp_path / "bad.json", document))
