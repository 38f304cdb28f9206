"""Saving and loading models as JSON: readable, exact, never pickled, never half-written.

A model file is one JSON object::

    {
      "format": "autograd-lite-model",
      "version": 1,
      "class": "MLP",
      "config": {"nin": 2, "nouts": [16, 16, 1], "activation": "relu", ...},
      "state": {"layers.0.neurons.0.w.0": 0.6888437030500962, ...},
      "training": true
    }

``class`` and ``config`` rebuild the module (any class decorated with
``@autograd_lite.nn.register_module`` whose ``config()`` returns its constructor
arguments; ``Sequential`` and ``Residual`` nest the ``{"class", "config"}`` of their
parts), and ``state`` is its ``state_dict()``. ``training`` is the train/eval mode
(``Module.training``): ``true`` or ``false`` when every module shares it, else an object
``{name: bool}`` over ``named_modules()`` (the model itself is ``""``). A file without it
(written before modes were saved) loads in training mode, as such files always did.
Floats are written with ``repr``, which reads back as the identical float, so a loaded
model (in the mode it was saved in) computes bit-for-bit the same outputs.
``save_state_dict``/``load_state_dict`` store only ``state`` (format tag
``"autograd-lite-state"``) for a model the caller builds.

Files are written atomically: the JSON goes to a temporary file in the same directory,
is flushed to disk, and then replaces the target in one ``os.replace``; if anything fails
the old file is untouched and the temporary file is removed. Reading a file that is not
a complete, valid model file raises :class:`ModelFileError` naming the file and what is
wrong, quickly and in memory proportional to the file, whatever the file holds:

* JSON nested deeper than :data:`MAX_JSON_DEPTH` is refused before it is parsed, and
  modules nested deeper than :data:`~autograd_lite.nn.module.MAX_NESTING` before they
  are built (no ``RecursionError``); so are duplicate keys and integers of more than
  :data:`MAX_INT_DIGITS` digits;
* the number of parameters the config implies is worked out from the config alone
  (each class's ``parameter_count``, see ``register_module``) and compared with the
  weights the file holds *before* anything is built, so a 200-byte file cannot ask for
  ``MLP(2, [100000, 100000])``. Classes that cannot count their parameters are refused.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autograd_lite.nn.module import (
    MAX_NESTING,
    Module,
    module_from_spec,
    module_spec,
    spec_parameter_count,
)

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_JSON_DEPTH",
    "MODEL_FORMAT",
    "STATE_FORMAT",
    "VERSION",
    "ModelFileError",
    "atomic_write_text",
    "load",
    "load_state_dict",
    "save",
    "save_state_dict",
]

MODEL_FORMAT = "autograd-lite-model"
STATE_FORMAT = "autograd-lite-state"
VERSION = 1

PathLike = str | os.PathLike

# A module spec nests three JSON levels per module level (spec, config, list of specs),
# so this admits every model of MAX_NESTING levels and stays far below json's recursion.
MAX_JSON_DEPTH = 4 * MAX_NESTING + 8
# Longer integers are no size, seed or weight a model needs, and int() of a long digit
# string takes time quadratic in its length.
MAX_INT_DIGITS = 1000
# A file may describe a model with more parameters than it stores weights for (the error
# then names the missing ones), but only by this much: building costs what reading did.
_BUILD_ALLOWANCE = 1024


class ModelFileError(ValueError):
    """A model or state file is truncated, corrupt, or does not fit the model."""


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _as_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the new one.

    The text goes to a temporary file beside ``path``, is fsynced, and is moved over
    ``path`` with ``os.replace``; on any error the temporary file is removed and ``path``
    is unchanged. Returns the path.
    """
    target = _as_path(path)
    directory = target.parent
    # O_EXCL with a random name: never reuse or clobber another writer's temporary file.
    # Mode 0o666 lets the umask decide the final permissions, as a plain open() would.
    while True:
        temporary = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(directory)
    return target


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _checked_state(state: Mapping[str, Any]) -> dict[str, float]:
    """The state as plain floats; refuses values JSON cannot hold exactly."""
    checked = {}
    for name, value in state.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"parameter {name!r} is a {type(value).__name__}, not a number")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(
                f"parameter {name!r} is {value!r}; a model with non-finite weights cannot "
                "be saved (JSON has no nan or inf)"
            )
        checked[str(name)] = value
    return checked


def _dump(document: dict[str, Any], path: PathLike) -> Path:
    try:
        text = json.dumps(document, indent=1, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the model's config() is not JSON-serialisable: {error}") from None
    return atomic_write_text(path, text + "\n")


def save(model: Module, path: PathLike) -> Path:
    """Write ``model`` (class, constructor arguments and weights) to ``path`` as JSON."""
    if not isinstance(model, Module):
        raise TypeError(f"save() expects an autograd_lite.nn.Module, got {type(model).__name__}")
    spec = module_spec(model)
    state = _checked_state(model.state_dict())
    # Refuse now what load() would refuse later, so a saved file can always be read back.
    declared = spec_parameter_count(spec)
    if declared != len(state):
        raise ValueError(
            f"the parameter_count() of {spec['class']} and the modules in it says {declared} "
            f"state_dict entries, but the model has {len(state)}: either the model uses one "
            "module or parameter in two places, which its config cannot describe, or "
            "parameter_count is wrong (it counts parameters and buffers)"
        )
    document = {
        "format": MODEL_FORMAT,
        "version": VERSION,
        "class": spec["class"],
        "config": spec["config"],
        "state": state,
        "training": _training_modes(model),
    }
    return _dump(document, path)


def _training_modes(model: Module) -> bool | dict[str, bool]:
    """One bool when every module is in the same mode, else each module's mode by name."""
    modes = {name: bool(module.training) for name, module in model.named_modules()}
    distinct = set(modes.values())
    return distinct.pop() if len(distinct) == 1 else modes


def save_state_dict(state: Mapping[str, float] | Module, path: PathLike) -> Path:
    """Write only the weights (a ``state_dict()``, or a module's) to ``path`` as JSON."""
    if isinstance(state, Module):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise TypeError(f"save_state_dict() expects a dict or a Module, got {type(state).__name__}")
    document = {"format": STATE_FORMAT, "version": VERSION, "state": _checked_state(state)}
    return _dump(document, path)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _read_document(path: PathLike, expected_format: str, required: tuple[str, ...]) -> dict:
    """The file's JSON object, with its tag, version and required keys checked."""
    source = _as_path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(f"{source} is not a text (UTF-8) file: {error}") from None
    depth = _nesting_depth(text, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(
            f"{source} holds JSON nested deeper than {MAX_JSON_DEPTH} levels; "
            "no model file is nested that deeply"
        )
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        # Every complete file ends with the closing brace of its object.
        hint = "" if text.rstrip().endswith("}") else " (the file looks truncated)"
        raise ModelFileError(f"{source} is not valid JSON{hint}: {error}") from None
    except (ValueError, RecursionError) as error:  # from the hooks below
        raise ModelFileError(f"{source} is not a valid model file: {error}") from None
    if not isinstance(document, dict):
        raise ModelFileError(
            f"{source} holds a JSON {type(document).__name__}, not an {expected_format} object"
        )
    tag = document.get("format")
    if tag != expected_format:
        raise ModelFileError(
            f"{source} is not an {expected_format} file: its format tag is {tag!r}"
            + (" (use load_state_dict() for it)" if tag == STATE_FORMAT else "")
            + (" (use load() for it)" if tag == MODEL_FORMAT else "")
        )
    version = document.get("version")
    if type(version) is not int or version != VERSION:  # not 1.0, not True
        raise ModelFileError(
            f"{source} has format version {version!r}; this autograd_lite reads version {VERSION}"
        )
    missing = [key for key in required if key not in document]
    if missing:
        raise ModelFileError(f"{source} is missing {missing}; a complete file has {required}")
    return document


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def _nesting_depth(text: str, limit: int) -> int:
    """How deeply ``text``'s JSON nests, counted up to just past ``limit``; strings skipped.

    Run before ``json.loads``, whose recursion would otherwise meet the interpreter's.
    """
    if text.count("[") + text.count("{") <= limit:
        return 0  # cannot be deeper than the number of brackets it opens
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            break
    return depth


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict; a key given twice makes the file ambiguous."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {_shorten(repr(key))} in a JSON object")
            seen.add(key)
    return document


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_state(document: dict, source: PathLike) -> dict[str, float]:
    state = document["state"]
    if not isinstance(state, dict):
        raise ModelFileError(f"{source}: 'state' must be an object, got {type(state).__name__}")
    numbers_read = {}
    for name, value in state.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelFileError(
                f"{source}: parameter {_shorten(repr(name))} is "
                f"{_shorten(json.dumps(value))}, not a number"
            )
        try:
            number = float(value)
        except OverflowError:
            raise ModelFileError(
                f"{source}: parameter {name!r} is an integer too large for a float"
            ) from None
        if not math.isfinite(number):
            raise ModelFileError(f"{source}: parameter {name!r} is {value!r}, not a finite number")
        numbers_read[name] = number
    return numbers_read


def _fill(model: Module, state: dict[str, float], source: PathLike) -> None:
    """Load ``state`` into ``model``, reporting a mismatch as a file problem."""
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        described = _shorten(" ".join(repr(model).split()), 200)
        raise ModelFileError(f"{source} does not fit {described}: {message}") from None


def load(path: PathLike) -> Module:
    """Rebuild the model saved by :func:`save` at ``path``, weights included.

    The config is checked before anything is built (see the module docstring): a file
    that is not a complete, valid model file raises :class:`ModelFileError`.
    """
    document = _read_document(path, MODEL_FORMAT, ("class", "config", "state"))
    state = _read_state(document, path)
    spec = {"class": document["class"], "config": document["config"]}
    what = _shorten(repr(document["class"]))
    try:
        spec_parameter_count(spec, limit=len(state) + _BUILD_ALLOWANCE)
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        message = error.args[0] if error.args else str(error)
        raise ModelFileError(
            f"{path}: cannot rebuild {what} from its config: {message}; "
            f"the file holds {len(state)} weights"
        ) from None
    try:
        model = module_from_spec(spec)
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        message = error.args[0] if error.args else str(error)
        raise ModelFileError(f"{path}: cannot rebuild {what} from its config: {message}") from None
    _fill(model, state, path)
    _set_training_modes(model, document.get("training", True), path)
    return model


def _set_training_modes(model: Module, training: Any, source: PathLike) -> None:
    """Put each module in the mode the file saved (checked first; nothing set on error)."""
    if isinstance(training, bool):
        model.train(training)
        return
    if not isinstance(training, dict):
        raise ModelFileError(
            f"{source}: 'training' must be true, false or an object of module names to "
            f"true/false, got {_shorten(json.dumps(training))}"
        )
    modules = dict(model.named_modules())
    unexpected = [name for name in training if name not in modules]
    if unexpected:
        raise ModelFileError(
            f"{source}: 'training' lists {_shorten(repr(unexpected))}, but the model has no "
            "module by that name"
        )
    missing = [name for name in modules if name not in training]
    if missing:
        raise ModelFileError(f"{source}: 'training' is missing modules {_shorten(repr(missing))}")
    for name, mode in training.items():
        if not isinstance(mode, bool):
            raise ModelFileError(
                f"{source}: 'training' of {_shorten(repr(name))} must be true or false, "
                f"got {_shorten(json.dumps(mode))}"
            )
    for name, module in modules.items():
        module.training = training[name]


def load_state_dict(path: PathLike, model: Module | None = None) -> dict[str, float]:
    """Read weights saved by :func:`save_state_dict`; with ``model``, also load them into it."""
    document = _read_document(path, STATE_FORMAT, ("state",))
    state = _read_state(document, path)
    if model is not None:
        if not isinstance(model, Module):
            raise TypeError(f"model must be a Module, got {type(model).__name__}")
        _fill(model, state, path)
    return state
