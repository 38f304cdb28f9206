"""The training loop: ``fit`` a model to data and keep a ``History`` of every epoch.

One epoch runs, for each batch: forward every sample, take the mean per-sample loss plus
the L2 penalty, ``zero_grad``, ``backward``, ``optimizer.step()``. Then the test set (if
any) is scored, the scheduler steps, early stopping and callbacks are consulted, and one
record is appended to the history.

Choosing a loss (``loss="auto"``). The labels ``y`` and the model's number of outputs
(found with one forward pass) decide:

* ints 0..K-1 and a model with K ≥ 2 outputs: ``cross_entropy`` (softmax); the largest
  output is the predicted class;
* ints 0/1 and one output: ``binary_cross_entropy_with_logits``; output > 0 predicts 1;
* ints -1/+1 and one output: ``hinge``, micrograd's max-margin loss; output > 0
  predicts +1;
* floats (or rows of floats for several outputs): ``mse``, and no accuracy.

A loss may also be named (``"mse"``, ``"bce"``, ``"hinge"``, ``"cross_entropy"``,
``"multiclass_hinge"``) or given as a function ``loss(prediction, target) -> Value`` of
one sample. Accuracy is reported whenever the labels are class labels, whatever the loss.

What the history records. ``"loss"`` and ``"accuracy"`` are running figures: the mean over
the epoch's batches of what each forward pass gave before its step (as Keras and
micrograd's demo report them; with full-batch training this is the loss of the weights at
the start of the epoch). ``"test_loss"`` and ``"test_accuracy"`` score the weights at the
end of the epoch. Both losses include the L2 penalty, so the two curves compare like with
like and their gap is the difference in the data term.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from autograd_lite import losses as _losses
from autograd_lite.data import batches as _batches
from autograd_lite.engine import Value, no_grad, sum_values
from autograd_lite.optim import Adam
from autograd_lite.optim.lr_scheduler import CyclicLR

__all__ = ["EarlyStopping", "History", "accuracy", "evaluate", "fit", "layer_of", "predict"]

LossFunction = Callable[[Any, Any], Value]

# Seconds before the progress bar appears: short runs (tests, notebook cells) show none.
PROGRESS_DELAY = 1.0

# Named losses and the kind of labels each implies (None: regression, no accuracy).
_LOSS_NAMES = {
    "mse": None,
    "bce": "binary",
    "binary_cross_entropy_with_logits": "binary",
    "hinge": "pm1",
    "cross_entropy": "multiclass",
    "multiclass_hinge": "multiclass",
}


# --------------------------------------------------------------------------------------
# History and early stopping
# --------------------------------------------------------------------------------------


class History:
    """What happened during ``fit``: one record (a dict) per epoch.

    Each record has ``"epoch"`` (1, 2, ...), ``"loss"``, ``"accuracy"`` (None for
    regression), ``"lr"`` (the first parameter group's learning rate during the epoch),
    ``"grad_norms"`` ({layer name: L2 norm of its parameters' gradients} at the last step
    of the epoch, layers named by :func:`layer_of`; a module with ``parameters()`` but no
    ``named_parameters()`` reports one group, ``"parameters"``), ``"time"`` (seconds since training
    started, at the end of the epoch) and, when test data is given, ``"test_loss"`` and
    ``"test_accuracy"``. ``best_epoch`` and ``stopped_epoch`` are set by early stopping.
    """

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.records: list[dict[str, Any]] = [dict(r) for r in records]
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def series(self, key: str) -> list[Any]:
        """The value of ``key`` in every record, in epoch order (``history.series("loss")``)."""
        if self.records and key not in self.records[0]:
            raise KeyError(f"the history has no {key!r}; its keys are {sorted(self.records[0])}")
        return [record.get(key) for record in self.records]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers, None) that ``json.dumps`` accepts."""
        return {
            "records": [_plain(record) for record in self.records],
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a history from :meth:`to_dict`'s output."""
        if not isinstance(data, dict) or "records" not in data:
            raise TypeError("History.from_dict expects the dict that History.to_dict() returns")
        history = cls(data["records"])
        history.best_epoch = data.get("best_epoch")
        history.stopped_epoch = data.get("stopped_epoch")
        return history

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        if not self.records:
            return "History(0 epochs)"
        last = self.records[-1]
        parts = [f"{len(self.records)} epochs", f"loss={last['loss']:.4g}"]
        if last.get("accuracy") is not None:
            parts.append(f"accuracy={last['accuracy']:.3f}")
        if last.get("test_accuracy") is not None:
            parts.append(f"test_accuracy={last['test_accuracy']:.3f}")
        return f"History({', '.join(parts)})"


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    return str(obj)


class EarlyStopping:
    """Stop when the monitored loss has not improved for ``patience`` epochs.

    An epoch improves when its loss is below the best so far by more than ``min_delta``.
    ``monitor="auto"`` watches ``"test_loss"`` when test data is given, else ``"loss"``.
    With ``restore_best_weights`` (the default) the model ends ``fit`` holding the
    weights that scored best: for ``"test_loss"`` those at the end of the best epoch; for
    the running ``"loss"`` those at the start of the best epoch, which are exactly the
    weights that loss measured in full-batch training. Keep one instance per ``fit`` call.
    """

    def __init__(
        self,
        patience: int = 10,
        min_delta: float = 0.0,
        *,
        monitor: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral):
            raise TypeError(f"patience must be an int, got {type(patience).__name__}")
        patience = _check_int(patience, "patience", 1)
        min_delta = _check_real(min_delta, "min_delta")
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        if monitor not in ("auto", "loss", "test_loss"):
            raise ValueError(f"monitor must be 'auto', 'loss' or 'test_loss', got {monitor!r}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.monitor = monitor
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best: float = math.inf
        self.best_epoch: int | None = None
        self.best_weights: list[float] | None = None
        self.wait = 0

    def _update(self, epoch: int, value: float) -> tuple[bool, bool]:
        """Record the epoch's value; return (improved, should stop)."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True, False
        self.wait += 1
        return False, self.wait >= self.patience

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"monitor={self.monitor!r}, restore_best_weights={self.restore_best_weights})"
        )


# --------------------------------------------------------------------------------------
# Tasks: what the labels mean, how a sample is scored
# --------------------------------------------------------------------------------------


def _is_int_label(label: Any) -> bool:
    return isinstance(label, numbers.Integral) and not isinstance(label, bool)


def _outputs_of(raw: Any) -> list[float]:
    """A model's output for one sample as a list of floats (Value, float, or a list)."""
    if isinstance(raw, (list, tuple)):
        return [v.data if isinstance(v, Value) else float(v) for v in raw]
    return [raw.data if isinstance(raw, Value) else float(raw)]


def _class_kind(labels: Sequence[Any], n_outputs: int, *, strict_ints: bool) -> str | None:
    """'multiclass', 'binary' (0/1) or 'pm1' (-1/+1) for class labels, None for targets.

    With ``strict_ints`` only ints count as class labels (the rule of ``loss="auto"``);
    otherwise floats with whole values (1.0) count too.
    """
    if not labels:
        return None
    if strict_ints:
        if not all(_is_int_label(t) for t in labels):
            return None
    elif not all(
        isinstance(t, numbers.Real) and not isinstance(t, bool) and float(t).is_integer()
        for t in labels
    ):
        return None
    seen = {int(t) for t in labels}
    if n_outputs >= 2:
        if not seen <= set(range(n_outputs)):
            bad = sorted(seen - set(range(n_outputs)))[:5]
            raise ValueError(
                f"class labels must be 0..{n_outputs - 1} for a model with {n_outputs} "
                f"outputs; got {bad}"
            )
        return "multiclass"
    if seen <= {0, 1}:
        return "binary"
    if seen <= {-1, 1}:
        return "pm1"
    raise ValueError(
        f"integer labels {sorted(seen)[:5]} need a model with one output per class "
        "(labels 0..K-1 and K outputs); with one output use 0/1 or -1/+1 labels"
    )


def _kind_if_classes(labels: Sequence[Any], n_outputs: int) -> str | None:
    """The kind of class labels, or None (no accuracy) when they are not usable as classes.

    Used when the loss is given: an MSE fit to integer ratings 1..5 is a regression.
    """
    try:
        return _class_kind(labels, n_outputs, strict_ints=True)
    except ValueError:
        return None


def _predicted_class(outputs: list[float], kind: str) -> int:
    if kind == "multiclass":
        return max(range(len(outputs)), key=outputs.__getitem__)
    if kind == "binary":
        return 1 if outputs[0] > 0 else 0
    return 1 if outputs[0] > 0 else -1


def _single(prediction: Any) -> Any:
    # A one-neuron Layer returns [Value]; scalar losses want the Value itself.
    if isinstance(prediction, (list, tuple)) and len(prediction) == 1:
        return prediction[0]
    return prediction


def _named_loss(name: str) -> LossFunction:
    if name == "mse":
        # For several outputs losses.mse averages over them, keeping one scale.
        return lambda prediction, target: _losses.mse(_single(prediction), target)
    if name in ("bce", "binary_cross_entropy_with_logits"):
        return lambda prediction, target: _losses.binary_cross_entropy_with_logits(
            _single(prediction), target
        )
    if name == "hinge":
        return lambda prediction, target: _losses.hinge(_single(prediction), target)
    if name == "cross_entropy":
        return lambda prediction, target: _losses.cross_entropy(list(prediction), int(target))
    if name == "multiclass_hinge":
        return lambda prediction, target: _losses.multiclass_hinge(list(prediction), int(target))
    raise ValueError(f"unknown loss {name!r}; expected 'auto', {', '.join(map(repr, _LOSS_NAMES))}")


_DEFAULT_LOSS = {"multiclass": "cross_entropy", "binary": "bce", "pm1": "hinge", None: "mse"}


def _choose_loss(
    loss: str | LossFunction, y: Sequence[Any], n_outputs: int
) -> tuple[LossFunction, str | None]:
    """The per-sample loss function and the kind of class labels (None: regression)."""
    if callable(loss):
        return loss, _kind_if_classes(y, n_outputs)
    if not isinstance(loss, str):
        raise TypeError(
            f"loss must be 'auto', a loss name or a function, got {type(loss).__name__}"
        )
    if loss == "auto":
        kind = _class_kind(y, n_outputs, strict_ints=True)
        return _named_loss(_DEFAULT_LOSS[kind]), kind
    if loss not in _LOSS_NAMES:
        _named_loss(loss)  # raises the error listing the names
    wanted = _LOSS_NAMES[loss]
    if wanted is None:
        return _named_loss(loss), _kind_if_classes(y, n_outputs)
    kind = _class_kind(y, n_outputs, strict_ints=False)
    if kind != wanted:
        expected = {"binary": "0/1 labels", "pm1": "-1/+1 labels", "multiclass": "labels 0..K-1"}
        raise ValueError(
            f"loss {loss!r} needs {expected[wanted]} and a model with "
            f"{'K outputs' if wanted == 'multiclass' else 'one output'}; the labels and "
            f"the model's {n_outputs} output(s) do not fit"
        )
    return _named_loss(loss), kind


# --------------------------------------------------------------------------------------
# Prediction and scoring
# --------------------------------------------------------------------------------------


class _EvalMode:
    """Run with the model in eval mode and no graph recorded; restore the mode after."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.was_training = getattr(self.model, "training", None)
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.no_grad = no_grad()
        self.no_grad.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        self.no_grad.__exit__(*exc_info)
        if self.was_training is not None and hasattr(self.model, "train"):
            self.model.train(self.was_training)


def predict(model: Any, X: Sequence[Any]) -> list[Any]:
    """The model's outputs for every sample, as floats (lists of floats for several outputs).

    Runs in eval mode (Dropout off) without recording a graph.
    """
    _check_samples(X, "X")
    with _EvalMode(model):
        outputs = [model(x) for x in X]
    return [
        _outputs_of(out) if isinstance(out, (list, tuple)) and len(out) > 1 else _outputs_of(out)[0]
        for out in outputs
    ]


def accuracy(model: Any, X: Sequence[Any], y: Sequence[Any]) -> float:
    """The fraction of samples classified correctly (see the module docstring for the rule).

    Labels 0..K-1 with K outputs: the largest output wins. Labels 0/1 or -1/+1 with one
    output: a positive output means class 1.
    """
    _check_samples(X, "X")
    _check_samples(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}; they must match")
    with _EvalMode(model):
        outputs = [_outputs_of(model(x)) for x in X]
    kind = _class_kind(y, len(outputs[0]), strict_ints=False)
    if kind is None:
        raise ValueError("accuracy needs class labels (whole numbers); these look like targets")
    correct = sum(_predicted_class(out, kind) == int(t) for out, t in zip(outputs, y))
    return correct / len(y)


def evaluate(
    model: Any, X: Sequence[Any], y: Sequence[Any], *, loss: str | LossFunction = "auto"
) -> dict[str, float | None]:
    """Score the model as it is now: ``{"loss": mean loss, "accuracy": fraction or None}``.

    The loss is chosen as :func:`fit` chooses it (``loss="auto"`` by the labels) and has
    no L2 penalty; the accuracy is None for regression targets. Runs in eval mode without
    recording a graph.
    """
    _check_samples(X, "X")
    _check_samples(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}; they must match")
    with _EvalMode(model):
        n_outputs = len(_outputs_of(model(X[0])))
        loss_fn, kind = _choose_loss(loss, y, n_outputs)
        mean_loss, outputs = _Interpreted(model, loss_fn, None).score(X, y)
    if kind is None:
        return {"loss": mean_loss, "accuracy": None}
    correct = sum(_predicted_class(out, kind) == int(t) for out, t in zip(outputs, y))
    return {"loss": mean_loss, "accuracy": correct / len(y)}


def _check_samples(X: Any, name: str) -> None:
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(f"{name} must be a list of samples, got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError(f"{name} is empty; give at least one sample")


# --------------------------------------------------------------------------------------
# Gradient norms per layer
# --------------------------------------------------------------------------------------


def layer_of(parameter_name: str) -> str:
    """The layer a parameter belongs to: its first name part, with the index if it has one.

    ``"layers.0.neurons.3.w.1"`` → ``"layers.0"``; ``"0.neurons.1.b"`` (a Sequential) →
    ``"0"``; ``"cell.w_ih.2"`` → ``"cell"``; a lone neuron's ``"w.1"`` → ``"w"``.
    """
    parts = parameter_name.split(".")
    if len(parts) >= 3 and parts[1].isdigit():
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def _named_parameters(model: Any) -> list[tuple[str, Value]]:
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    # micrograd-style modules have parameters() only: one group, named "parameters".
    return [(f"parameters.{i}", p) for i, p in enumerate(model.parameters())]


def _layer_groups(named: list[tuple[str, Value]]) -> dict[str, list[Value]]:
    groups: dict[str, list[Value]] = {}
    for name, p in named:
        groups.setdefault(layer_of(name), []).append(p)
    return groups


def _grad_norms(groups: dict[str, list[Value]]) -> dict[str, float]:
    norms = {}
    for layer, params in groups.items():
        grads = [p.grad.data if isinstance(p.grad, Value) else p.grad for p in params]
        norms[layer] = math.sqrt(math.fsum(g * g for g in grads))
    return norms


# --------------------------------------------------------------------------------------
# One batch: interpreted or compiled
# --------------------------------------------------------------------------------------


class _Interpreted:
    """Builds one graph per batch: the mean of the per-sample losses, plus the penalty."""

    def __init__(self, model: Any, loss_fn: LossFunction, optimizer: Any) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        self.optimizer.step()

    def grad_norms(self, layers: dict[str, list[Value]]) -> dict[str, float]:
        return _grad_norms(layers)

    def sync(self) -> None:
        """Nothing to do: the interpreted engine works on the Values themselves."""

    def reload(self) -> None:
        """Nothing to do: the interpreted engine works on the Values themselves."""

    def backward(
        self, X: Sequence[Any], y: Sequence[Any], penalty: Callable[[], Value | None]
    ) -> tuple[float, list[list[float]]]:
        model, loss_fn = self.model, self.loss_fn
        predictions = [model(x) for x in X]
        data_loss = sum_values(loss_fn(p, t) for p, t in zip(predictions, y)) * (1.0 / len(X))
        extra = penalty()
        total = data_loss if extra is None else data_loss + extra
        total.backward()
        return total.data, [_outputs_of(p) for p in predictions]

    def score(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, list[list[float]]]:
        """Mean data loss and outputs, with no graph (the caller sets eval mode)."""
        with no_grad():
            predictions = [self.model(x) for x in X]
            losses = [_as_float(self.loss_fn(p, t)) for p, t in zip(predictions, y)]
        return math.fsum(losses) / len(losses), [_outputs_of(p) for p in predictions]


_SCORE_CHUNK = 64


class _Compiled:
    """Replays one traced sample graph over whole batches with numpy (``compile=True``).

    With one of the library's optimizers, whole steps run on a flat parameter buffer
    (:class:`~autograd_lite.compile.CompiledTrainer`); :meth:`sync` writes it into the
    Values and the optimizer's state after every epoch, before anything else reads them,
    and :meth:`reload` reads them back before the next epoch (a callback may change them).
    """

    def __init__(
        self, model: Any, loss_fn: LossFunction, x0: Any, y0: Any, optimizer: Any, l2: float
    ) -> None:
        try:
            from autograd_lite.compile import compile_loss
        except ImportError as error:
            raise ImportError(
                "fit(compile=True) needs autograd_lite.compile and numpy: "
                f'pip install "autograd-lite[compile]" ({error})'
            ) from error
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.l2 = l2
        self.compiled = compile_loss(model, loss_fn, x0, y0)
        self.trainer = self.compiled.trainer(optimizer)
        self.position = {id(p): k for k, p in enumerate(self.trainer.params)}

    def zero_grad(self) -> None:
        if not self.trainer.fast:
            self.optimizer.zero_grad()

    def step(self) -> None:
        self.trainer.update()

    def grad_norms(self, layers: dict[str, list[Value]]) -> dict[str, float]:
        if not self.trainer.fast:
            return _grad_norms(layers)
        grads = self.trainer.grad
        return {
            layer: math.sqrt(math.fsum(g * g for g in grads[[self.position[id(p)] for p in ps]]))
            for layer, ps in layers.items()
        }

    def sync(self) -> None:
        self.trainer.sync()

    def reload(self) -> None:
        self.trainer.reload()

    def backward(
        self, X: Sequence[Any], y: Sequence[Any], penalty: Callable[[], Value | None]
    ) -> tuple[float, list[list[float]]]:
        if self.trainer.fast:
            loss = float(self.trainer.backward(X, y, self.l2))
        else:
            loss = float(self.compiled.backward(X, y))
            extra = penalty()
            if extra is not None:
                # Leaves accumulate, so this adds the penalty's gradient to the data gradient.
                extra.backward()
                loss += extra.data
        # CompiledLoss keeps the outputs its backward computed; forward would redo them.
        outputs = getattr(self.compiled, "last_outputs", None)
        if outputs is None or len(outputs) != len(X):
            outputs = self.compiled.forward(X)
        return loss, [_outputs_of(out) for out in outputs]

    def score(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, list[list[float]]]:
        # In chunks: the compiler re-traces every sample of the first batch it sees to
        # check the graph's shape, and a whole test set as one batch makes that slow.
        outputs = [
            out
            for start in range(0, len(X), _SCORE_CHUNK)
            for out in self.compiled.forward(X[start : start + _SCORE_CHUNK])
        ]
        with no_grad():
            losses = [_as_float(self.loss_fn(_as_constants(out), t)) for out, t in zip(outputs, y)]
        return math.fsum(losses) / len(losses), [_outputs_of(out) for out in outputs]


def _as_constants(out: Any) -> Any:
    if isinstance(out, (list, tuple)):
        return [Value(float(v), requires_grad=False) for v in out]
    return Value(float(out), requires_grad=False)


def _as_float(x: Any) -> float:
    return x.data if isinstance(x, Value) else float(x)


# --------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if value > sys.maxsize:
        raise ValueError(
            f"{name} must be at most sys.maxsize ({sys.maxsize}), got an int of "
            f"{int(value).bit_length()} bits"
        )
    return int(value)


def _check_real(value: Any, name: str) -> float:
    """A real number (not bool) as a float; ValueError for an int too large for a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number, got {type(value).__name__} (int, float or another real)"
        )
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"{name} is an int of {int(value).bit_length()} bits; it does not fit in a float"
        ) from None


def _progress_bar(enabled: bool, epochs: int) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is a nicety; train without it
        return None
    return tqdm(total=epochs, unit="epoch", file=sys.stderr, delay=PROGRESS_DELAY)


def fit(
    model: Any,
    X: Sequence[Any],
    y: Sequence[Any],
    *,
    loss: str | LossFunction = "auto",
    optimizer: Any = None,
    epochs: int = 100,
    batch_size: int | None = None,
    scheduler: Any = None,
    l2: float = 0.0,
    X_test: Sequence[Any] | None = None,
    y_test: Sequence[Any] | None = None,
    early_stopping: EarlyStopping | None = None,
    progress: bool = True,
    compile: bool = False,
    seed: int = 0,
    callbacks: Iterable[Callable[[History, Any], bool | None]] = (),
) -> History:
    """Train ``model`` on ``(X, y)`` and return the :class:`History` of its epochs.

    ``loss``: ``"auto"`` (see the module docstring), a loss name, or a function of one
    sample ``loss(prediction, target) -> Value``. The batch loss is the mean of the
    per-sample losses plus ``l2 * Σ p²`` over all parameters.

    ``optimizer`` defaults to ``Adam(model.parameters(), lr=0.01)`` (PyTorch's 1e-3 is
    slow for the small networks trained here). ``batch_size=None`` trains on the whole
    set at once; otherwise each epoch visits every sample once in batches, in an order
    drawn from ``seed``. ``scheduler.step()`` is called once per epoch, after the epoch
    (a ``CyclicLR`` steps after every batch instead, as in PyTorch).

    ``X_test``/``y_test`` are scored after every epoch (``"test_loss"``,
    ``"test_accuracy"``). ``early_stopping``: an :class:`EarlyStopping`. ``progress``
    shows a tqdm bar on stderr for runs longer than a second. ``compile=True`` computes
    the data-loss gradient with :func:`autograd_lite.compile.compile_loss` (numpy,
    batched) and the penalty as usual. Each callback is called as ``callback(history,
    model)`` after every epoch; returning True stops training.

    The model is put in training mode for the run and back in its previous mode after.
    """
    _check_samples(X, "X")
    _check_samples(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}; they must match")
    if not hasattr(model, "parameters") or not callable(model):
        raise TypeError(
            f"model must be a callable module with parameters(), got {type(model).__name__}"
        )
    epochs = _check_int(epochs, "epochs", 1)
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", 1)
    l2 = _check_real(l2, "l2")
    if not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        _check_samples(X_test, "X_test")
        _check_samples(y_test, "y_test")
        if len(X_test) != len(y_test):
            raise ValueError(
                f"X_test has {len(X_test)} samples but y_test has {len(y_test)}; they must match"
            )
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(
            f"early_stopping must be an EarlyStopping, got {type(early_stopping).__name__}"
        )
    if not isinstance(progress, bool):
        kind = type(progress)
        name = (
            kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        )
        raise TypeError(f"progress must be True or False, got {name}")
    callbacks = list(callbacks)
    for callback in callbacks:
        if not callable(callback):
            raise TypeError(f"callbacks must be callables, got {type(callback).__name__}")
    batch_rng = random.Random(_check_int(seed, "seed", 0))

    named = _named_parameters(model)
    params = [p for _, p in named]
    if not params:
        raise ValueError(f"the model has no parameters to train: {model!r}")
    layers = _layer_groups(named)
    if optimizer is None:
        optimizer = Adam(params, lr=0.01)

    with _EvalMode(model):
        n_outputs = len(_outputs_of(model(X[0])))
    loss_fn, kind = _choose_loss(loss, y, n_outputs)
    if X_test is not None and kind is not None:
        _class_kind(y_test, n_outputs, strict_ints=False)  # raises if the labels do not fit
    runner: _Interpreted | _Compiled = (
        _Compiled(model, loss_fn, X[0], y[0], optimizer, l2)
        if compile
        else _Interpreted(model, loss_fn, optimizer)
    )

    def penalty() -> Value | None:
        return _losses.l2_penalty(params, l2) if l2 else None

    def snapshot() -> list[float]:
        return [p.data for p in params]

    monitor = None
    if early_stopping is not None:
        early_stopping._reset()
        monitor = early_stopping.monitor
        if monitor == "auto":
            monitor = "test_loss" if X_test is not None else "loss"
        if monitor == "test_loss" and X_test is None:
            raise ValueError("early stopping monitors 'test_loss' but no X_test/y_test was given")

    # CyclicLR cycles over batches, as in PyTorch; every other scheduler steps per epoch.
    per_batch_scheduler = isinstance(scheduler, CyclicLR)
    history = History()
    was_training = getattr(model, "training", None)
    if hasattr(model, "train"):
        model.train()
    bar = _progress_bar(progress, epochs)
    started = time.perf_counter()
    try:
        for epoch in range(1, epochs + 1):
            start_weights = snapshot() if monitor == "loss" else None
            runner.reload()
            lr = optimizer.param_groups[0]["lr"]
            if batch_size is None or batch_size >= len(X):
                pairs: list[tuple[Any, Any]] = [(X, y)]
            else:
                seed_of_epoch = batch_rng.getrandbits(32)
                pairs = list(_batches(X, y, batch_size, shuffle=True, seed=seed_of_epoch))
            loss_sum = 0.0
            correct = seen = 0
            for index, (X_batch, y_batch) in enumerate(pairs):
                runner.zero_grad()
                batch_loss, outputs = runner.backward(X_batch, y_batch, penalty)
                if index == len(pairs) - 1:
                    norms = runner.grad_norms(layers)
                runner.step()
                if per_batch_scheduler:
                    scheduler.step()
                loss_sum += batch_loss * len(X_batch)
                seen += len(X_batch)
                if kind is not None:
                    correct += sum(
                        _predicted_class(out, kind) == int(t) for out, t in zip(outputs, y_batch)
                    )
            runner.sync()  # the Values hold the weights before anything else reads them
            record: dict[str, Any] = {
                "epoch": epoch,
                "loss": loss_sum / seen,
                "accuracy": correct / seen if kind is not None else None,
            }
            if X_test is not None:
                extra = penalty()
                with _EvalMode(model):
                    test_loss, test_outputs = runner.score(X_test, y_test)
                record["test_loss"] = test_loss + (extra.data if extra is not None else 0.0)
                record["test_accuracy"] = (
                    sum(
                        _predicted_class(out, kind) == int(t)
                        for out, t in zip(test_outputs, y_test)
                    )
                    / len(y_test)
                    if kind is not None
                    else None
                )
            record["lr"] = lr
            record["grad_norms"] = norms
            record["time"] = time.perf_counter() - started
            history.records.append(record)
            if scheduler is not None and not per_batch_scheduler:
                scheduler.step()

            stop = False
            if early_stopping is not None and monitor is not None:
                improved, stop = early_stopping._update(epoch, record[monitor])
                if improved and early_stopping.restore_best_weights:
                    early_stopping.best_weights = (
                        start_weights if start_weights is not None else snapshot()
                    )
                history.best_epoch = early_stopping.best_epoch
            for callback in callbacks:
                if callback(history, model) is True:
                    stop = True
            if bar is not None:
                bar.update(1)
                bar.set_postfix(_postfix(record), refresh=False)
            if stop:
                history.stopped_epoch = epoch
                break
    finally:
        runner.sync()  # also when interrupted: never leave the Values behind the buffer
        if bar is not None:
            bar.close()
        if was_training is not None and hasattr(model, "train"):
            model.train(was_training)
    if early_stopping is not None and early_stopping.best_weights is not None:
        for p, value in zip(params, early_stopping.best_weights):
            p.data = value
    return history


def _postfix(record: dict[str, Any]) -> dict[str, str]:
    shown = {"loss": f"{record['loss']:.4f}"}
    if record.get("accuracy") is not None:
        shown["acc"] = f"{record['accuracy']:.3f}"
    if record.get("test_accuracy") is not None:
        shown["test_acc"] = f"{record['test_accuracy']:.3f}"
    return shown
