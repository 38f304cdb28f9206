"""Hostile files for ``load()``, ``load_state_dict()`` and the optimizers' ``load_state_dict``.

Every file here is wrong on purpose: cut at every byte offset, random bytes, random JSON,
nesting a hundred thousand deep, configs asking for billions of weights, every field
given every wrong JSON type, NaN and Infinity tokens, duplicate keys, text that is not
UTF-8, and GPT, attention, norm and BatchNorm files with every config entry and running
statistic set to every hostile value (those must be refused or load into a model that
computes). Each must be answered with the documented error (``ModelFileError`` naming the
file, or for an optimizer's state a TypeError/ValueError leaving it unchanged) within a
time bound generous enough for a loaded two-core machine, and the worst of them within
a memory bound measured with ``tracemalloc``.
"""

from __future__ import annotations

import copy
import json
import math
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd_lite.optim as optim
from autograd_lite import Value
from autograd_lite.nn import MLP, Dropout, Layer, Residual, Sequential
from autograd_lite.nn.module import MAX_NESTING
from autograd_lite.serialization import (
    ModelFileError,
    load,
    load_state_dict,
    save,
    save_state_dict,
)

# Seconds one hostile file may take, on a shared machine (each takes milliseconds alone).
TIME_LIMIT = 2.0
# Bytes of memory one hostile load may allocate at its peak.
MEMORY_LIMIT = 64 * 2**20


def small_model() -> Sequential:
    """A small model with every saved class inside: its file is about 1.5 kB."""
    return Sequential(
        Layer(2, 2, "tanh", seed=0), Dropout(0.5, seed=1), Residual(MLP(2, [2], seed=2))
    )


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


def refused(path: Path, loader: Any = load) -> ModelFileError:
    """Load ``path``, which must fail with ModelFileError naming it, in bounded time."""
    started = time.perf_counter()
    with pytest.raises(ModelFileError) as caught:
        loader(path)
    elapsed = time.perf_counter() - started
    assert elapsed < TIME_LIMIT, f"{path.name} took {elapsed:.2f} s"
    message = str(caught.value)
    assert str(path) in message
    assert len(message) < 2000, "the message must stay readable whatever the file holds"
    return caught.value


def refused_in_bounded_memory(path: Path) -> ModelFileError:
    """As :func:`refused`, and the peak of memory allocated while loading stays bounded.

    Timed on its own first: tracing every allocation slows the loader several times.
    """
    error = refused(path)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{path.name}: peak {peak / 2**20:.1f} MB"
    return error


# Counted as they are tried, so the report can state how many hostile files were refused.
TRIED = {"files": 0, "optimizer states": 0}


@pytest.fixture
def hostile(tmp_path):
    """Write text or bytes to a fresh file and count it."""

    def write(content: str | bytes, name: str = "hostile.json") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        TRIED["files"] += 1
        return path

    return write


# --------------------------------------------------------------------------------------
# Truncated files
# --------------------------------------------------------------------------------------


def test_a_model_file_cut_at_every_byte_offset_is_refused(tmp_path, hostile) -> None:
    """Every proper prefix of a valid model file is a ModelFileError (about 1,500 files)."""
    text = save(small_model(), tmp_path / "whole.json").read_text(encoding="utf-8").rstrip()
    for end in range(len(text)):
        refused(hostile(text[:end]))
    assert len(text) > 1000


def test_a_state_file_cut_at_every_byte_offset_is_refused(tmp_path, hostile) -> None:
    """Every proper prefix of a valid state file is a ModelFileError, with or without a model."""
    model = MLP(2, [2, 1], seed=0)
    text = save_state_dict(model, tmp_path / "whole.json").read_text(encoding="utf-8").rstrip()
    for end in range(len(text)):
        path = hostile(text[:end])
        refused(path, load_state_dict)
        before = model.state_dict()
        refused(path, lambda p: load_state_dict(p, model))
        assert model.state_dict() == before


# --------------------------------------------------------------------------------------
# Garbage
# --------------------------------------------------------------------------------------


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=2000))
def test_random_bytes_are_refused(hostile, content: bytes) -> None:
    """Random bytes are a ModelFileError (not UnicodeDecodeError, not JSONDecodeError)."""
    refused(hostile(content))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    where=st.sampled_from(["whole", "class", "config", "state", "version", "config.nouts"]),
    value=JSON,
)
def test_random_json_in_any_field_is_refused(hostile, where: str, value: Any) -> None:
    """Any JSON value in place of the document or one of its fields is a ModelFileError."""
    document: Any = valid_document()
    if where == "whole":
        document = value
    elif where == "config.nouts":
        document["config"]["nouts"] = value
    else:
        document[where] = value
    if document == valid_document():
        return  # hypothesis drew the valid value itself
    refused(hostile(json.dumps(document)))


# --------------------------------------------------------------------------------------
# Deep nesting and huge sizes
# --------------------------------------------------------------------------------------


def _tower(depth: int, wrapper: str = "Residual") -> dict:
    spec: dict = {"class": "Layer", "config": {"nin": 1, "nout": 1}}
    for _ in range(depth):
        if wrapper == "Residual":
            spec = {"class": "Residual", "config": {"module": spec}}
        else:
            spec = {"class": "Sequential", "config": {"modules": [spec]}}
    return {"format": "autograd-lite-model", "version": 1, **spec, "state": {}}


DEEP = {
    "brackets": "[" * 100_000,
    "braces": '{"a":' * 100_000,
    "closed brackets": "[" * 100_000 + "]" * 100_000,
    "deep config": json.dumps(valid_document())[:-1]
    + ', "x": '
    + "[" * 50_000
    + "]" * 50_000
    + "}",
    "deep state value": json.dumps(valid_document()).replace(
        '"state": {', '"state": {"w": ' + "[" * 5000 + "]" * 5000 + ", ", 1
    ),
    "300-deep Residual": json.dumps(_tower(300)),
    "33-deep Residual": json.dumps(_tower(MAX_NESTING)),
    "100-deep Sequential": json.dumps(_tower(100, "Sequential")),
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_refused_in_bounded_time_and_memory(hostile, name: str) -> None:
    """Nesting far beyond any model's is a ModelFileError, never RecursionError."""
    error = refused_in_bounded_memory(hostile(DEEP[name]))
    assert "nested deeper" in str(error) or "not valid JSON" in str(error)


def _document(cls: str, config: dict, state: dict | None = None) -> str:
    return json.dumps(
        {
            "format": "autograd-lite-model",
            "version": 1,
            "class": cls,
            "config": config,
            "state": {"w": 0.5} if state is None else state,
        }
    )


HUGE = {
    "MLP nouts [1e5, 1e5]": _document("MLP", {"nin": 2, "nouts": [100_000, 100_000]}),
    "MLP nin 1e12": _document("MLP", {"nin": 10**12, "nouts": [1]}),
    "MLP nin 10**400": _document("MLP", {"nin": 10**400, "nouts": [1]}),
    "MLP nin 1e12 as a float": _document("MLP", {"nin": 1e12, "nouts": [1]}),
    "MLP a million layers": _document("MLP", {"nin": 2, "nouts": [1000] * 100_000}),
    "Layer nout 1e9": _document("Layer", {"nin": 2, "nout": 10**9}),
    "Neuron nin 1e9": _document("Neuron", {"nin": 10**9}),
    "RNN nhidden 1e6": _document("RNN", {"nin": 1, "nhidden": 10**6}),
    "RNNCell nin 1e9": _document("RNNCell", {"nin": 10**9, "nhidden": 2}),
    "RNN readout 1e9": _document("RNN", {"nin": 1, "nhidden": 1, "nout": 10**9}),
    "Sequential of 10k big Layers": _document(
        "Sequential",
        {"modules": [{"class": "Layer", "config": {"nin": 1000, "nout": 1000}}] * 10_000},
    ),
    "Residual of a huge MLP": _document(
        "Residual", {"module": {"class": "MLP", "config": {"nin": 10**6, "nouts": [10**6]}}}
    ),
    "a 5000-digit integer": _document("MLP", {"nin": 2, "nouts": [1], "seed": 0}).replace(
        '"seed": 0', '"seed": ' + "9" * 5000
    ),
    "100k weights for a 9-weight model": json.dumps(
        valid_document() | {"state": {f"w{i}": 0.5 for i in range(100_000)}}
    ),
    "a 100k-character class name": _document("M" * 100_000, {}),
    "a 100k-character key": json.dumps(valid_document() | {"state": {"k" * 100_000: 1.0}}),
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_a_file_asking_for_a_huge_model_is_refused_before_building(hostile, name: str) -> None:
    """Sizes are checked against the weights in the file before anything is built."""
    refused_in_bounded_memory(hostile(HUGE[name]))


# --------------------------------------------------------------------------------------
# Wrong types, special tokens, duplicate keys, encodings
# --------------------------------------------------------------------------------------

WRONG_VALUES = [None, True, 0, -1, 2.5, "x", [], {}, [1, 2], {"a": 1}, 10**30]
FIELDS = [
    ("format",),
    ("version",),
    ("class",),
    ("config",),
    ("state",),
    ("config", "nin"),
    ("config", "nouts"),
    ("config", "activation"),
    ("config", "output_activation"),
    ("config", "init"),
    ("config", "seed"),
    ("state", "layers.0.neurons.0.w.0"),
]


def _set(document: dict, field: tuple[str, ...], value: Any) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    return changed


WRONG_TYPE_CASES = [
    pytest.param(field, value, id=f"{'.'.join(field)}={json.dumps(value)[:12]}")
    for field in FIELDS
    for value in WRONG_VALUES
    # a seed may be any int or None, and -1/0 are ints: those files are valid
    if not (field == ("config", "seed") and (value is None or type(value) is int))
    # any int or float is a valid weight
    and not (field == ("state", "layers.0.neurons.0.w.0") and type(value) in (int, float))
]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPE_CASES)
def test_every_field_with_every_wrong_type_is_refused(hostile, field, value) -> None:
    """Each field of a model file given each wrong JSON type is a ModelFileError."""
    refused(hostile(json.dumps(_set(valid_document(), field, value))))


TOKENS = {
    "NaN weight": ("layers.0.neurons.0.b", "NaN"),
    "Infinity weight": ("layers.0.neurons.0.b", "Infinity"),
    "-Infinity weight": ("layers.0.neurons.0.b", "-Infinity"),
    "1e999 weight": ("layers.0.neurons.0.b", "1e999"),
    "NaN nin": ("nin", "NaN"),
    "Infinity nin": ("nin", "Infinity"),
    "NaN seed": ("seed", "NaN"),
}


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_nan_and_infinity_tokens_are_refused(hostile, name: str) -> None:
    """Python's json reads NaN and Infinity; a model file holding them is still refused."""
    key, token = TOKENS[name]
    document = valid_document()
    text = json.dumps(document)
    old = f'"{key}": {json.dumps(document["state"].get(key, document["config"].get(key)))}'
    assert old in text
    refused(hostile(text.replace(old, f'"{key}": {token}', 1)))


DUPLICATED_KEYS = ["format", "version", "class", "nin", "layers.0.neurons.0.b"]


@pytest.mark.parametrize("key", DUPLICATED_KEYS)
def test_a_key_given_twice_is_refused(hostile, key: str) -> None:
    """A duplicate key makes a file ambiguous: the error names the key."""
    document = valid_document()
    text = json.dumps(document)
    start = text.index(f'"{key}": ')
    end = text.index(", ", start)
    duplicated = text[:end] + ", " + text[start:end] + text[end:]
    error = refused(hostile(duplicated))
    assert f"duplicate key '{key}'" in str(error)


ENCODINGS = {
    "latin-1": json.dumps(valid_document() | {"class": "MLPé"}, ensure_ascii=False).encode(
        "latin-1"
    ),
    "utf-16": json.dumps(valid_document()).encode("utf-16"),
    "utf-32": json.dumps(valid_document()).encode("utf-32"),
    "utf-8 BOM": b"\xef\xbb\xbf" + json.dumps(valid_document()).encode(),
    "NUL bytes": b"\x00" * 1000,
    "lone surrogate escape": json.dumps(valid_document() | {"class": "\ud800"}).encode(),
    "empty": b"",
    "whitespace": b" \n\t " * 100,
}


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_text_that_is_not_a_utf8_model_file_is_refused(hostile, name: str) -> None:
    """Other encodings, a BOM, NUL bytes and lone surrogates are ModelFileErrors."""
    refused(hostile(ENCODINGS[name]))


# --------------------------------------------------------------------------------------
# Optimizer states
# --------------------------------------------------------------------------------------

OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    "Adam": lambda p: optim.Adam(p, lr=0.1, amsgrad=True),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.1, centered=True, momentum=0.5),
}


def trained(name: str) -> tuple[Any, list[Value]]:
    """An optimizer over three parameters in two groups, after two steps."""
    params = [Value(1.0), Value(-2.0), Value(0.5)]
    optimizer = OPTIMIZERS[name]([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}])
    for _ in range(2):
        for p in params:
            p.grad = p.data * 0.5
        optimizer.step()
    return optimizer, params


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON-like value (dict keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


OPTIMIZER_WRONG = [
    None,
    True,
    -1,
    "x",
    [],
    {},
    [None],
    {"a": {}},
    10**400,
    math.nan,
    -math.inf,
    1.5,
    _deep_list(20),
]


def _optimizer_cases() -> list[Any]:
    cases = []
    for name in sorted(OPTIMIZERS):
        saved = json.loads(json.dumps(trained(name)[0].state_dict()))
        for path in _paths(saved):
            for value in OPTIMIZER_WRONG:
                cases.append(
                    pytest.param(name, path, value, id=f"{name}-{path}-{repr(value)[:10]}")
                )
        for path in [("state",), ("param_groups",), ("param_groups", 0), ("state", "0")]:
            cases.append(
                pytest.param(name, path, lambda: _deep_list(100_000), id=f"{name}-{path}-deep")
            )
        cases.append(
            pytest.param(
                name,
                ("param_groups", 0, "params"),
                lambda: list(range(10**6)),
                id=f"{name}-a-million-params",
            )
        )
        cases.append(
            pytest.param(
                name,
                ("state",),
                lambda: {str(i): {} for i in range(10**5)},
                id=f"{name}-100k-states",
            )
        )
    return cases


OPTIMIZER_CASES = _optimizer_cases()


@pytest.mark.parametrize(("name", "path", "value"), OPTIMIZER_CASES)
def test_a_hostile_optimizer_state_is_refused_and_changes_nothing(name, path, value) -> None:
    """Each field of a saved optimizer state given each wrong value: a TypeError/ValueError
    (or it loads, when the value happens to be valid), in bounded time, all or nothing."""
    optimizer, params = trained(name)
    if callable(value):  # the big values are built only when their case runs
        value = value()
    saved = json.loads(json.dumps(optimizer.state_dict()))
    target = saved
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    before = optimizer.state_dict()
    TRIED["optimizer states"] += 1
    started = time.perf_counter()
    try:
        optimizer.load_state_dict(saved)
    except (TypeError, ValueError) as error:
        assert len(str(error)) < 2000
        assert optimizer.state_dict() == before, "a refused state must change nothing"
    else:
        # Accepted: the optimizer must then be able to step without error.
        for p in params:
            p.grad = 0.25
        optimizer.step()
    assert time.perf_counter() - started < TIME_LIMIT


def test_the_counts_of_hostile_inputs() -> None:
    """At least 3,000 hostile files and 1,000 hostile optimizer states are generated."""
    files = (
        len(DEEP)
        + len(HUGE)
        + len(WRONG_TYPE_CASES)
        + len(TOKENS)
        + len(DUPLICATED_KEYS)
        + len(ENCODINGS)
        + len(TRANSFORMER_CASES)
        + 600  # hypothesis: random bytes and random JSON
    )
    print(
        f"\nat least {files} hostile files plus every prefix of two valid ones; "
        f"{len(OPTIMIZER_CASES)} hostile optimizer states"
    )
    if TRIED["files"]:  # the whole module ran first: how many files were actually tried
        print(
            f"this run tried {TRIED['files']} hostile files and {TRIED['optimizer states']} states"
        )
    assert files >= 300
    assert len(OPTIMIZER_CASES) >= 1000


# --------------------------------------------------------------------------------------
# Hostile GPT, BatchNorm and norm files: configs and buffers that would break a forward
# --------------------------------------------------------------------------------------


def _transformer_models() -> dict[str, Any]:
    """Small saved models with every norm, attention, GPT and BatchNorm setting inside."""
    from autograd_lite.nn import GPT, BatchNorm1d, Block, CausalSelfAttention, LayerNorm, RMSNorm

    return {
        "GPT rmsnorm": GPT(5, 4, 4, 2, 1, seed=0),
        "GPT layernorm": GPT(5, 4, 4, 1, 2, norm="layernorm", seed=1),
        "Block": Block(4, 2, seed=0),
        "CausalSelfAttention": CausalSelfAttention(4, 2, bias=True, seed=0),
        "LayerNorm": LayerNorm(3, 1e-3, bias=False),
        "RMSNorm": RMSNorm(3),
        "BatchNorm1d": BatchNorm1d(3, momentum=None),
        "BatchNorm1d in a Sequential": Sequential(
            Layer(2, 3, "linear", seed=0), BatchNorm1d(3, eps=1e-3, momentum=0.2)
        ),
    }


TRANSFORMER_MODELS = _transformer_models()
CONFIG_VALUES = [
    *WRONG_VALUES,
    -0.0, 1e-320, -1e-5, 1e308, 10**19, 3, 4, 0.5, "layernorm", "rmsnorm", "NaN", "Infinity",
]  # fmt: skip
BUFFER_VALUES = [-1.0, -1e-5, -1e-3, -1e-300, -5, 0.5, 1e308, -1e308, 2**60, 10**400, "NaN"]


def _config_paths(config: dict, prefix: tuple = ()) -> list[tuple]:
    """Every config entry, nested module configs included."""
    found = []
    for key, value in config.items():
        if isinstance(value, dict) and "config" in value:
            found += _config_paths(value["config"], (*prefix, key, "config"))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, item in enumerate(value):
                found += _config_paths(item["config"], (*prefix, key, index, "config"))
        else:
            found.append((*prefix, key))
    return found


def _hostile_transformer_cases() -> list[Any]:
    cases = []
    for name, model in TRANSFORMER_MODELS.items():
        document = {
            "format": "autograd-lite-model",
            "version": 1,
            "class": type(model).__name__,
            "config": model.config(),
            "state": model.state_dict(),
        }
        for path in _config_paths(document["config"]):
            for value in CONFIG_VALUES:
                changed = _set(document, ("config", *path), value)
                cases.append(pytest.param(name, changed, id=f"{name}:{path}={value!r:.12}"))
        for key, _ in model.named_buffers():
            for value in BUFFER_VALUES:
                changed = _set(document, ("state", key), value)
                cases.append(pytest.param(name, changed, id=f"{name}:{key}={value!r:.12}"))
    return cases


TRANSFORMER_CASES = _hostile_transformer_cases()


def _sample_input(model: Any) -> Any:
    """A valid input for each model of TRANSFORMER_MODELS, by the class it loaded as."""
    name = type(model).__name__
    if name == "GPT":
        return [0, 1, 2]
    if name in ("Block", "CausalSelfAttention"):
        return [[0.1, -0.2, 0.3, 0.5], [1.0, 0.0, -1.0, 2.0]]
    if name == "BatchNorm1d":
        return [[0.5, -1.0, 2.0], [1.5, 0.0, -2.0]]
    if name == "Sequential":
        return [[0.5, -1.0], [1.5, 0.0]]
    return [0.3, -1.2, 2.0]


def _forward(model: Any, x: Any) -> list[float]:
    if type(model).__name__ == "Sequential":
        out = model[1]([model[0](sample) for sample in x])
    else:
        out = model(x)
    flat, stack = [], [out]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        else:
            flat.append(float(getattr(item, "data", item)))
    return flat


@pytest.mark.parametrize(("name", "document"), TRANSFORMER_CASES)
def test_a_hostile_gpt_norm_or_batchnorm_file_is_refused_or_computes(
    hostile, name, document
) -> None:
    """Each config entry and buffer of a GPT, attention, norm or BatchNorm file set to each
    hostile value is a ModelFileError, or the model loads and then computes in both modes
    without raising, with statistics in their domain and no nan from finite weights."""
    text = json.dumps(document).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")
    path = hostile(text)
    started = time.perf_counter()
    try:
        model = load(path)
    except ModelFileError as error:
        assert str(path) in str(error) and len(str(error)) < 2000
        return
    finally:
        assert time.perf_counter() - started < TIME_LIMIT
    x = _sample_input(model)
    for mode in (False, True):
        model.train(mode)
        outputs = _forward(model, x)
        assert not any(math.isnan(v) for v in outputs), f"nan in training={mode}: {outputs}"
    for module in model.modules():
        if type(module).__name__ == "BatchNorm1d":
            assert all(v >= 0.0 and math.isfinite(v) for v in module.running_var)
            assert all(math.isfinite(v) for v in module.running_mean)
            assert module.num_batches_tracked >= 0
