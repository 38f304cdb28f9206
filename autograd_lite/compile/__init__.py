"""Compiled, batched replay of scalar graphs (needs numpy: ``autograd-lite[compile]``).

The scalar engine builds and walks one Python object per operation per sample. But a
model's graph has the same shape for every sample, so it can be recorded once and
replayed as a flat program over a whole mini-batch, with a numpy vector (one entry per
sample) in place of each float::

    from autograd_lite.compile import compile_loss
    from autograd_lite.losses import cross_entropy

    step = compile_loss(model, cross_entropy, X[0], y[0])   # traces one sample
    model.zero_grad()
    loss = step.backward(X_batch, y_batch)    # mean loss; grads added to p.grad
    optimizer.step()

Faster, whole training steps (the gradient and the update of SGD, Adam, AdamW or
RMSprop) run on a flat parameter buffer, and the Values are written at one documented
point (:class:`CompiledTrainer`)::

    with step.trainer(optimizer) as train:
        for X_batch, y_batch in batches:
            loss = train.step(X_batch, y_batch)   # zero_grad, backward, optimizer.step
    # leaving the block (or train.sync()) wrote every p.data, p.grad and optimizer.state

Inside the block the compiled loss (its ``forward`` and the tracing and checking of a new
length or layout included) uses the buffer's weights; ``model(x)``, ``state_dict()`` and
anything else that reads ``p.data`` or ``p.grad`` sees those of the last sync until
``train.sync()``.

``step.backward(X, y)`` gives the same numbers as the interpreted
``(sum_values(losses) / n).backward()`` — the mean loss over the batch, and the gradient
of that mean *added* into every parameter's ``.grad`` — to about 1e-12: each operation
uses the engine's formula (a softmax's five nodes per input are computed as one, with
the engine's own chain wherever a number is not finite), but sums add in numpy's order
rather than ``math.fsum``'s.
Parameters' values are read at every call, so optimizers work unchanged; a parameter
*replaced* by another Value after compiling (``neuron.w[0] = Value(5.0)``, a new layer)
is refused with a ``RuntimeError`` naming it (the program would go on reading the old
one): change weights in place (``p.data = ...``) or compile again. ``step.forward(X)``
returns the model's outputs per sample, and ``step.last_outputs`` those computed by the
last ``backward``. ``X`` may be a list of samples or a numpy array (faster: no
conversion); ``y`` a list or a 1-D array.

How: the trace is a list of nodes in topological order (:mod:`._trace`); it is lowered
in passes (:mod:`._lower`): nodes of the same depth that apply the same operation become
one numpy instruction over a block of rows, the neurons of a layer — ``dot`` nodes
reading the same inputs — one matrix product ``W @ X``, and a layer applied at each token
position one stacked product (:mod:`._matmul`); for each batch width the instructions are
written out as straight-line Python, two functions of numpy calls on views bound once
(:mod:`._codegen`), which :mod:`._replay` runs. A batch is grouped by layout
(:mod:`._batches`); each layout keeps its traces and programs in a variant, and a batch
shaped like the last one goes straight to the program that ran it (:mod:`._variants`).

Token sequences: with a list of int tokens as ``example_x`` and a model that has an
``nn.Embedding`` (``nn.GPT``), ``compile_loss`` returns a :class:`SequenceLoss`:
embedding lookups replay as gathers and each int target picks its position's output;
one program per sequence length, cached (:mod:`._sequence`).

Targets: float targets become inputs of the program like ``x``. Int targets (class
indices, 0/1 or ±1 labels) stay ints, because losses index lists with them; each label
value is traced once, and traces that differ only in which outputs they read and in
constants are merged into one program that picks per sample. Otherwise each label gets
its own program and the batch is split by label. A label is its kind and its value:
``True == 1``, but the library's losses refuse a bool, so a bool target (Python's or
NumPy's) is traced on its own and gets the loss's own answer, never the int's program.

Limits, checked rather than assumed:

* A graph whose shape depends on the data (an ``if`` on a value, ``.data`` used to
  decide or to make new leaves) cannot be replayed. ``check`` re-traces samples and
  compares each one's graph — operations, wiring and constants — with the compiled one,
  raising :class:`DataDependentGraphError` that names the first differing node:
  ``"first-batch"`` (default) tests the first batch of each input layout,
  ``"every-batch"`` every batch, ``"off"`` none; ``check_samples`` (default 32) samples
  spread over each tested batch are re-traced, or all of them with ``None``. Re-tracing a
  sample costs about one interpreted forward pass, so only ``check="every-batch",
  check_samples=None`` is a guarantee; the default is a cheap test that catches a branch
  unless it is taken by few samples: a branch taken by one sample in 256 can go unseen
  (32 of the 256 are re-traced), and the test suite pins that this is so. Inputs of a
  different length (sequences for an RNN) are not refused: each length is compiled once.
* Traced inputs are leaf Values where the interpreted engine sees floats; the two differ
  only for ``==``, ``!=`` and truth tests on a raw input (Values compare by identity).
  Do not branch on ``x[i] == 0``.
* ``Dropout`` in training mode draws a new mask for every sample: refused, with a
  message; in eval mode it is the identity and compiles. ``BatchNorm1d`` in training
  mode normalises with the statistics of the whole batch: refused likewise; in eval mode
  it is a per-sample affine map of the running statistics and compiles.
* Operations defined with :func:`autograd_lite.primitive` are replayed sample by sample
  with their own float functions (correct, not fast). Hand-built micrograd-style nodes
  with a Python ``_backward`` are refused.
* Sums are not exactly rounded. Where a kink (``relu``, ``abs``) sits on a sum that
  rounds to within a few units in the last place of 0, the two engines may take
  different sides; a partial sum beyond the largest float (1e308) overflows to ``inf``
  here where ``math.fsum`` recovers.
* A loss that refuses a Value target (the library's ``binary_cross_entropy_with_logits``
  and ``hinge`` check that targets are numbers) gets float targets as labels instead:
  one trace per distinct target value, which suits 0/1 and ±1 targets, not regression.
  Compiled on an int example, such a loss turns to labels at the first float target.
* A compiled loss or trainer is not copied or pickled (``TypeError``): its programs are
  written for the Values of the model it traced. Copy the model (after ``train.sync()``)
  and compile the copy.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from autograd_lite.compile._batches import Group, check_batch, fast_groups, slow_groups
from autograd_lite.compile._params import ParameterWatch, named_parameters
from autograd_lite.compile._trace import (
    DataDependentGraphError,
    NotCopied,
    ParamTable,
    Trace,
    flatten_sample,
    label_key,
    parameters_at,
    rebuild_sample,
    refuse_missing_targets,
    refuse_stale_backward,
    trace,
)
from autograd_lite.compile._variants import Lane, Variant
from autograd_lite.engine import Value
from autograd_lite.engine.floats import ieee_fsum

__all__ = [
    "CHECK_MODES",
    "CompiledLoss",
    "CompiledTrainer",
    "DataDependentGraphError",
    "SequenceLoss",
    "compile_loss",
]

CHECK_MODES = ("first-batch", "every-batch", "off")

_INSTALL = 'pip install "autograd-lite[compile]"'


def __getattr__(name: str) -> Any:
    """``CompiledTrainer`` and ``SequenceLoss`` on first use: importing this package must
    not import numpy (their modules do)."""
    if name == "CompiledTrainer":
        from autograd_lite.compile._train import CompiledTrainer

        return CompiledTrainer
    if name == "SequenceLoss":
        from autograd_lite.compile._sequence import SequenceLoss

        return SequenceLoss
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _numpy_modules() -> tuple[ModuleType, ModuleType]:
    """numpy and the replay module, or an ImportError that says how to install numpy."""
    try:
        import numpy

        from autograd_lite.compile import _replay
    except ImportError as error:
        raise ImportError(
            f"autograd_lite.compile replays graphs with numpy, which is not installed: "
            f"{_INSTALL} ({error})"
        ) from error
    return numpy, _replay


class _FloatTargetsAreLabels(Exception):
    """The loss refused a float target as a Value but takes it as a number (the engine's
    call): float targets must be labels, as when ``compile_loss``'s example is a float."""


def _outputs_as_python(layout: Any, values: Any) -> list[Any]:
    """Per-sample outputs (outputs × samples array) in the model's own shape."""
    if layout == "n":
        return values[0].tolist()
    if all(child == "n" for child in layout):
        return values.T.tolist()
    result = []
    for column in values.T.tolist():
        items = iter(column)

        def build(node: Any, items: Any = items) -> Any:
            if isinstance(node, tuple):
                return [build(child) for child in node]
            return next(items)

        result.append(build(layout))
    return result


# --------------------------------------------------------------------------------------
# The compiled loss
# --------------------------------------------------------------------------------------


def _spread(n: int, count: int | None) -> list[int]:
    """``count`` sample positions spread evenly over ``n`` (all of them for None)."""
    if count is None or count >= n:
        return list(range(n))
    if count == 1:
        return [0]
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)})


def _check_samples(count: Any) -> int | None:
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, numbers.Integral):
        raise TypeError(
            f"compile_loss: check_samples must be an int or None, got {type(count).__name__}"
        )
    if count < 1:
        raise ValueError(f"compile_loss: check_samples must be at least 1 (or None), got {count}")
    return int(count)


def _dropout_layers(model: Any) -> list[tuple[str, Any]]:
    if not hasattr(model, "named_modules"):
        return []
    from autograd_lite.nn import BatchNorm1d, Dropout

    # BatchNorm1d is here too: in training mode it couples the samples of a batch.
    kinds = (Dropout, BatchNorm1d)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]


class CompiledLoss(NotCopied):
    """``loss_fn(model(x), y)`` recorded once and replayed over whole batches.

    Made by :func:`compile_loss`. ``backward(X, y)`` returns the mean loss and adds its
    gradient into ``.grad`` of every parameter (like ``(sum_values(losses) / n)
    .backward()``); ``forward(X)`` returns the model's outputs per sample. After
    ``backward``, :attr:`last_outputs` holds the outputs it computed along the way.
    """

    def __init__(
        self,
        model: Callable[[Any], Any],
        loss_fn: Callable[[Any, Any], Any],
        example_x: Any,
        example_y: Any,
        *,
        check: str = "first-batch",
        check_samples: int | None = 32,
    ) -> None:
        self._np, self._replay = _numpy_modules()
        if not callable(model):
            raise TypeError(f"compile_loss: model must be callable, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(
                f"compile_loss: loss_fn must be callable (pred, target) -> Value, "
                f"got {type(loss_fn).__name__}"
            )
        if check not in CHECK_MODES:
            raise ValueError(
                f"compile_loss: check must be one of {list(CHECK_MODES)}, got {check!r}"
            )
        self.model = model
        self.loss_fn = loss_fn
        self.check = check
        self.check_samples = _check_samples(check_samples)
        self._params, self._param_names = named_parameters(model)
        for index, p in enumerate(self._params):
            if not isinstance(p, Value):
                raise TypeError(
                    f"compile_loss: parameter {index} of the model is a {type(p).__name__}, "
                    "not a Value"
                )
        self._param_table = ParamTable(self._params, self._param_names)
        self._watch = ParameterWatch(model, self._params, self._param_names)
        self._dropouts = _dropout_layers(model)
        # Buffers (BatchNorm1d's running statistics) are traced as constants.
        self._buffers = model.named_buffers() if hasattr(model, "named_buffers") else []
        self._refuse_active_dropout()
        self._all_labels = False
        self._variants: dict[Any, Variant] = {}
        self._forward_variants: dict[Any, Variant] = {}
        self._last: list[tuple[Any, Any, Any]] | None = None
        self._last_size = 0
        self._lane: Lane | None = None  # the last batch's way to its program, if simple
        # The CompiledTrainer whose buffer holds steps the Values have not seen, if any.
        self._ahead: Any = None
        # Trace the example now, so that a model or loss that cannot be traced fails here.
        x_layout, xs, _ = flatten_sample(example_x, "example_x", labels=False)
        y_layout, ys, ints = flatten_sample(example_y, "example_y", labels=True)
        try:
            first: Trace | None = self._trace(x_layout, xs, y_layout, ys, ints)
        except TypeError:
            if not ys:
                raise
            first = None
        if first is None:
            # The loss refused a Value target (losses that check their target is a
            # number do): treat float targets as labels, one trace per distinct value.
            # This trace gives the loss the example's own numbers, as the engine does, so
            # its error is the engine's (hinge's "-1 or +1" for 0.0, not "got Value").
            y_layout, ys, ints = flatten_sample(
                example_y, "example_y", labels=True, all_labels=True
            )
            first = self._trace(x_layout, xs, y_layout, ys, ints)
            self._all_labels = True
        self._variant(x_layout, y_layout).add(first)

    # ---- tracing and checking ----------------------------------------------------------

    def _trace(
        self,
        x_layout: Any,
        xs: Sequence[float],
        y_layout: Any,
        ys: Sequence[float],
        ints: Sequence[Any],
        *,
        with_loss: bool = True,
        full: bool = True,
    ) -> Trace:
        return trace(
            self.model,
            self.loss_fn if with_loss else None,
            x_layout,
            xs,
            y_layout,
            ys,
            ints,
            self._param_table,
            full=full,
        )

    def _variant(self, x_layout: Any, y_layout: Any) -> Variant:
        key = (x_layout, y_layout)
        if key not in self._variants:
            self._variants[key] = Variant(x_layout, y_layout, with_loss=True)
        return self._variants[key]

    def _forward_variant(self, x_layout: Any) -> Variant:
        if x_layout not in self._forward_variants:
            self._forward_variants[x_layout] = Variant(x_layout, None, with_loss=False)
        return self._forward_variants[x_layout]

    def _sample_trace(self, variant: Variant, group: Group, i: int, *, full: bool = True) -> Trace:
        return self._trace(
            group.x_layout,
            group.x[i].tolist(),
            group.y_layout,
            group.y[i].tolist() if variant.with_loss else (),
            group.label(i),
            with_loss=variant.with_loss,
            full=full,
        )

    def _first_trace(self, variant: Variant, group: Group, i: int) -> Trace:
        """The trace of a new layout or label; a loss that refuses the target's Value leaf
        gets the sample's plain numbers instead, so that its error names what is wrong
        ("got float 1.0", not "got Value"), and if it takes them, float targets become
        labels (:class:`_FloatTargetsAreLabels`)."""
        try:
            return self._sample_trace(variant, group, i)
        except TypeError:
            if not variant.with_loss or not variant.n_y:
                raise
            x = rebuild_sample(group.x_layout, group.x[i].tolist(), ())
            y = rebuild_sample(group.y_layout, group.y[i].tolist(), group.label(i))
            self.loss_fn(self.model(x), y)  # the engine's own error, if it has one
            raise _FloatTargetsAreLabels from None

    def _prepare(self, variant: Variant, group: Group, theta: Any = None) -> None:
        """Trace label values not seen yet; re-trace samples as ``check`` asks.

        ``theta``: a trainer's buffer, the current weights, which the traces must see
        (the Values lag behind it until the trainer syncs).
        """
        new_labels = not variant.traces or (
            group.has_labels and variant.fast_codes(self._np, group) is None
        )
        checking = self.check == "every-batch" or (
            self.check == "first-batch" and not variant.checked
        )
        if new_labels or checking:
            with parameters_at(self._params, theta):
                self._trace_and_check(variant, group, new_labels, checking)

    def _trace_and_check(
        self, variant: Variant, group: Group, new_labels: bool, checking: bool
    ) -> None:
        traced: set[int] = set()
        if new_labels:
            keys, first, _ = group.distinct(self._np)
            for key, i in zip(keys, first):
                if key not in variant.traces:
                    variant.add(self._first_trace(variant, group, i))
                    traced.add(i)
        if checking:
            for i in _spread(len(group.x), self.check_samples):
                if i in traced:
                    continue
                t = self._sample_trace(variant, group, i, full=False)
                reference = variant.traces[label_key(t.labels)]
                if not reference.same_graph(t):
                    t = self._sample_trace(variant, group, i)  # again, to say where
                    sample = i if group.indices is None else int(group.indices[i])
                    raise DataDependentGraphError(
                        f"sample {sample} of the batch has a different graph than the one "
                        f"compiled, {reference.first_difference(t)}. The graph depends on "
                        "the data (Python control flow on values, .data used to decide, "
                        "a varying length), so one recorded graph cannot stand for every "
                        "sample; train this model with the interpreted engine "
                        "(fit(..., compile=False))"
                    )
            variant.checked = True

    def _plans(self, variant: Variant, group: Group) -> list[tuple[Any, Any, Any]]:
        """(program, sample positions in the group or None for all, label codes) to run."""
        np = self._np
        if not group.has_labels:
            return [(variant.label_program(self._replay, self._params, ()), None, None)]
        codes = variant.fast_codes(np, group)
        if codes is not None:
            program = variant.merged_program(self._replay, self._params)
            if program is not False:
                return [(program, None, codes)]
        keys, _, inverse = group.distinct(np)
        program = variant.merged_program(self._replay, self._params)
        if program is not False:
            lookup = np.array([variant.codes[k] for k in keys], dtype=np.intp)
            return [(program, None, lookup[inverse])]
        return [
            (
                variant.label_program(self._replay, self._params, key),
                np.flatnonzero(inverse == j),
                None,
            )
            for j, key in enumerate(keys)
        ]

    def _groups(self, X: Any, Y: Any) -> tuple[list[Group], int]:
        n = check_batch(X, "X")
        if Y is not None and check_batch(Y, "y") != n:
            raise ValueError(f"X has {n} samples but y has {len(Y)}; they must match")
        groups = fast_groups(self._np, X, Y, self._all_labels)
        if groups is None:
            groups = slow_groups(self._np, X, Y, self._all_labels)
        return groups, n

    def _refuse_active_dropout(self) -> None:
        if self._buffers and self.model.named_buffers() != self._buffers:
            raise ValueError(
                "the model's buffers (BatchNorm1d running statistics) changed after "
                "compile_loss traced them as constants; call compile_loss again"
            )
        if not self._dropouts:
            return  # the usual case, at every step: no import, no loop
        from autograd_lite.nn import BatchNorm1d

        for name, layer in self._dropouts:
            if layer.training and isinstance(layer, BatchNorm1d):
                raise ValueError(
                    f"BatchNorm1d {name or 'model'} is in training mode: it normalises each "
                    "sample with the statistics of the whole batch, which a graph traced from "
                    "one sample cannot replay. Call model.eval() to use the compiled loss "
                    "(running statistics), or train with the interpreted engine "
                    "(fit(..., compile=False))"
                )
            if layer.training and layer.p > 0:
                raise ValueError(
                    f"Dropout {name or 'model'} (p={layer.p}) is in training mode: it draws a "
                    "new mask for every sample, which one compiled graph cannot replay. Call "
                    "model.eval() to use the compiled loss, or train with the interpreted "
                    "engine (fit(..., compile=False))"
                )

    # ---- the public calls --------------------------------------------------------------

    def backward(self, X: Sequence[Any], y: Sequence[Any]) -> float:
        """Mean loss over the batch; adds d(mean loss)/d(param) into each ``param.grad``.

        The same numbers (to about 1e-12) as the interpreted engine's
        ``(sum_values(loss_fn(model(x), t) for x, t in zip(X, y)) / len(X)).backward()``.
        Gradients accumulate, as ``backward()`` does: zero them between steps. Refused
        (``RuntimeError``) inside a trainer's block between a step and the next sync.
        """
        refuse_stale_backward(self._ahead)
        self._watch.check()  # a trainer checks when it reloads and syncs instead
        loss, grads, used, free = self._run(X, y, None)
        # The one loop over Values per step: bound names, no indexing.
        if used is None:
            for p, g in zip(self._params, grads.tolist()):
                p.grad += g
        else:
            params = self._params
            for k, g in zip(used, grads[used].tolist()):
                params[k].grad += g
        self._add_free(free)
        return loss

    def _run(
        self, X: Sequence[Any], y: Sequence[Any], theta: Any
    ) -> tuple[float, Any, list[int] | None, list[tuple[Any, Any]]]:
        """Replay the batch: (mean loss, gradient per parameter, the parameters that take
        gradients or None for all, [(program, free-leaf grads)]). Nothing is written."""
        refuse_missing_targets(y)
        self._refuse_active_dropout()
        if self._lane is not None:
            result = self._lane.run(X, y, theta)
            if result is not None:
                return result
        np = self._np
        groups, n = self._groups(X, y)
        try:
            runs = self._prepared_runs(groups, theta)
        except _FloatTargetsAreLabels:
            self._all_labels = True  # from now on; then this batch again, grouped so
            groups, n = self._groups(X, y)
            runs = self._prepared_runs(groups, theta)
        seed = 1.0 / n
        losses = np.empty(n)
        last = []
        results = []
        for group, variant, (program, members, codes) in runs:
            x = group.x if members is None else group.x[members]
            t = group.y if members is None else group.y[members]
            roots, grads, free = program.run(x, t, codes, seed, theta)
            where = group.indices
            if members is not None:
                where = members if where is None else where[members]
            losses[slice(None) if where is None else where] = roots[0]
            last.append((where, variant.output_layout, roots[1:]))
            results.append((program, grads, free))
        self._last, self._last_size = last, n
        loss = ieee_fsum(losses.tolist()) * (1.0 / n)
        if len(results) == 1:
            program, grads, free = results[0]
            used = None if program.uses_all else program.used_index
            self._lane = Lane.after(self, X, y, runs)
            return loss, grads, used, [(program, free)]
        total = np.zeros(len(self._params))
        used: set[int] = set()
        for program, program_grads, _ in results:
            total += program_grads
            used.update(program.used_params)
        index = np.array(sorted(used), dtype=np.intp)
        return loss, total, index, [(program, free) for program, _, free in results]

    def _prepared_runs(self, groups: list[Group], theta: Any) -> list[tuple[Any, Any, Any]]:
        """(group, variant, plan) for each program to run, new labels traced and checked."""
        runs: list[tuple[Any, Any, Any]] = []
        for group in groups:
            variant = self._variant(group.x_layout, group.y_layout)
            self._prepare(variant, group, theta)
            runs.extend((group, variant, plan) for plan in self._plans(variant, group))
        return runs

    @staticmethod
    def _add_free(free: list[tuple[Any, Any]]) -> None:
        """Gradients of leaf Values the model uses but does not list as parameters."""
        for program, grads in free:
            for (_, leaf), g in zip(program.free_rows, grads):
                if leaf.requires_grad:
                    leaf.grad += g

    def trainer(self, optimizer: Any) -> Any:
        """A :class:`CompiledTrainer`: whole training steps (gradients and ``optimizer``'s
        update) on a flat parameter buffer; see its documentation for when the parameters'
        ``.data`` and ``.grad`` are written back."""
        from autograd_lite.compile._train import CompiledTrainer

        return CompiledTrainer(self, optimizer)

    def forward(self, X: Sequence[Any]) -> list[Any]:
        """The model's output for each sample: a float, or a list of floats (as it returns).

        Inside a trainer's block, with the weights of its buffer (the current ones).
        """
        self._watch.check()
        self._refuse_active_dropout()
        groups, n = self._groups(X, None)
        results: list[Any] = [None] * n
        theta = None if self._ahead is None else self._ahead.theta
        for group in groups:
            variant = self._forward_variant(group.x_layout)
            self._prepare(variant, group, theta)
            program = variant.label_program(self._replay, self._params, ())
            roots, _, _ = program.run(group.x, None, None, None, theta)
            outputs = _outputs_as_python(variant.output_layout, roots)
            if group.indices is None:
                return outputs
            for i, out in zip(group.indices.tolist(), outputs):
                results[i] = out
        return results

    @property
    def last_outputs(self) -> list[Any] | None:
        """The model outputs of the last ``backward`` call, per sample (as :meth:`forward`)."""
        if self._last is None:
            return None
        if len(self._last) == 1 and self._last[0][0] is None:
            _, layout, values = self._last[0]
            return _outputs_as_python(layout, values)
        results: list[Any] = [None] * self._last_size
        for where, layout, values in self._last:
            for i, out in zip(where.tolist(), _outputs_as_python(layout, values)):
                results[i] = out
        return results

    def __repr__(self) -> str:
        return (
            f"CompiledLoss(model={type(self.model).__name__}, "
            f"loss={getattr(self.loss_fn, '__name__', type(self.loss_fn).__name__)}, "
            f"check={self.check!r}, layouts={len(self._variants)})"
        )


def compile_loss(
    model: Callable[[Any], Any],
    loss_fn: Callable[[Any, Any], Any],
    example_x: Any,
    example_y: Any,
    *,
    check: str = "first-batch",
    check_samples: int | None = 32,
) -> Any:
    """Trace ``loss_fn(model(x), y)`` on one example and return a :class:`CompiledLoss`.

    ``model`` is any callable taking one sample (usually an ``nn.Module``; its
    parameters' values are read at every call, and a parameter replaced by another Value
    after compiling is refused). ``example_x`` is one input (a number or a
    nested list of numbers), ``example_y`` its target. ``check`` (``"first-batch"``,
    ``"every-batch"`` or ``"off"``) says which batches to test for a graph that depends on
    the data, and ``check_samples`` how many samples of each to re-trace (spread over the
    batch; None for all of them). See the module documentation. Needs numpy.
    """
    from autograd_lite.compile._sequence import SequenceLoss, is_token_sequence

    if is_token_sequence(model, example_x):
        np, replay = _numpy_modules()
        if check not in CHECK_MODES:
            raise ValueError(
                f"compile_loss: check must be one of {list(CHECK_MODES)}, got {check!r}"
            )
        params, names = named_parameters(model)
        return SequenceLoss(
            model,
            loss_fn,
            example_x,
            example_y,
            check=check,
            check_samples=_check_samples(check_samples),
            params=params,
            watch=ParameterWatch(model, params, names),
            np=np,
            replay=replay,
        )
    return CompiledLoss(
        model, loss_fn, example_x, example_y, check=check, check_samples=check_samples
    )
