"""Compiled token sequences: embedding lookups replayed as gathers, one program per length.

A language model reads int tokens, and a token chooses *which* parameters a sample
reads (a row of the embedding table), so one recorded graph cannot name them. The
graph is traced twice, with two token sequences that differ at every position (and two
target sequences that differ at every position); the records that differ are exactly
the token-dependent reads, and each is recognised as

* ``("tok", table, position, column)``: column ``column`` of the row of embedding
  table ``table`` that the token at ``position`` selects (a parameter in one trace and
  the same column of another row in the other), replayed as a gather from the
  parameter buffer, its gradient added back by one weighted ``np.bincount`` per table
  (``_replay._add_repeated``): tokens repeat, and every read adds;
* an operand ``("tpick", row, position)``: the output of row ``row`` (the logits of a
  position) that the target at ``position`` selects, replayed as a per-sample pick.

Any other difference means the graph depends on the tokens in another way, and the
model is refused. Each trace uses distinct tokens (and targets) at every position, so
that no two positions share a row's Values: sequences may be at most as long as the
vocabulary (and the target classes).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from autograd_lite.compile._trace import (
    DataDependentGraphError,
    Graph,
    NotCopied,
    _entry,
    _flatten_output,
    _record_graph,
    parameters_at,
    refuse_missing_targets,
    refuse_stale_backward,
)
from autograd_lite.engine import Value, enable_grad, no_grad
from autograd_lite.engine.floats import ieee_fsum

__all__ = ["SequenceLoss", "embedding_tables", "is_token_sequence"]


def embedding_tables(model: Any, params: Sequence[Value]) -> list[list[list[int]]]:
    """The embedding tables of ``model`` as parameter indices (rows × columns).

    An embedding is a module with an int ``num_embeddings`` and a ``weight`` that is a
    list of ``num_embeddings`` rows of parameters (``nn.Embedding``).
    """
    if not hasattr(model, "named_modules"):
        return []
    index = {id(p): k for k, p in enumerate(params)}
    tables = []
    for _, module in model.named_modules():
        rows = getattr(module, "weight", None)
        count = getattr(module, "num_embeddings", None)
        if not isinstance(count, int) or not isinstance(rows, list) or len(rows) != count:
            continue
        try:
            table = [[index[id(p)] for p in row] for row in rows]
        except (KeyError, TypeError):
            continue
        tables.append(table)
    return tables


def is_token_sequence(model: Any, example_x: Any) -> bool:
    """Whether ``example_x`` is a list of int tokens for a model with an embedding."""
    return (
        isinstance(example_x, (list, tuple))
        and len(example_x) > 0
        and all(isinstance(t, int) and not isinstance(t, bool) for t in example_x)
        and hasattr(model, "named_modules")
        and any(
            isinstance(getattr(m, "num_embeddings", None), int) for _, m in model.named_modules()
        )
    )


def _int_rows(np: Any, batch: Any, what: str) -> Any:
    """A batch of equal-length int sequences as a samples × positions int array."""
    if isinstance(batch, (str, bytes)) or not hasattr(batch, "__len__"):
        raise TypeError(f"{what} must be a list of int sequences, got {type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError(f"{what} is empty; a batch needs at least one sample")
    if isinstance(batch, np.ndarray):
        array = batch
    else:
        rows = [list(row) if isinstance(row, (list, tuple)) else row for row in batch]
        for row in rows:
            if not isinstance(row, list) and not isinstance(row, np.ndarray):
                raise TypeError(
                    f"{what} must hold one int sequence per sample, got {type(row).__name__}"
                )
            for t in row:
                if isinstance(t, bool) or not isinstance(t, numbers.Integral):
                    raise TypeError(f"{what} must hold int tokens, got {type(t).__name__}")
        if len({len(row) for row in rows}) != 1:
            raise ValueError(
                f"{what}: the sequences of one batch must have one length (group them by "
                "length; each length is compiled once)"
            )
        try:
            array = np.array(rows, dtype=np.intp)
        except OverflowError:
            raise _out_of_range(what, rows) from None
    if array.ndim != 2 or array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be samples × positions ints, got {array.dtype} {array.shape}")
    return _as_indices(np, array, what)


def _as_indices(np: Any, array: Any, what: str) -> Any:
    """An int array as machine indices. A uint64 beyond their range is refused here: the
    cast would wrap it to a negative index, and the range check would name that instead."""
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.intp).max:
        raise _out_of_range(what, array.tolist())
    return array.astype(np.intp, copy=False)


def _out_of_range(what: str, rows: Any) -> ValueError:
    """An int beyond the machine's ints is beyond every vocabulary: say so as the range check."""
    big = max((abs(t) for row in rows for t in row), default=0)
    digits = int(int(big).bit_length() * 0.30103)
    return ValueError(
        f"{what}: tokens and class indices must be in 0..n - 1, got an int of about 10**{digits}"
    )


class _Compiled:
    """The program for one (token length, target length)."""

    def __init__(self, program: Any, output_layout: Any) -> None:
        self.program = program
        self.output_layout = output_layout
        self.checked = False
        self.vocab = 0  # rows of the token embedding table
        self.classes = 0  # the outputs a target picks from


class SequenceLoss(NotCopied):
    """``loss_fn(model(tokens), targets)`` compiled for batches of int token sequences.

    Made by :func:`autograd_lite.compile.compile_loss` when the example input is a list
    of ints and the model has an embedding. The same calls as ``CompiledLoss``:
    ``backward(X, Y)`` (mean loss over the batch, gradient added into ``.grad``),
    ``forward(X)``, ``trainer(optimizer)``. ``X`` and ``Y`` are lists (or int arrays)
    of equal-length token and target sequences; one program is compiled per length and
    cached.
    """

    def __init__(
        self,
        model: Callable[[Any], Any],
        loss_fn: Callable[[Any, Any], Any],
        example_x: Sequence[int],
        example_y: Any,
        *,
        check: str,
        check_samples: int | None,
        params: list[Value],
        watch: Any,
        np: Any,
        replay: Any,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.check = check
        self.check_samples = check_samples
        self._params = params
        self._watch = watch
        self._np = np
        self._replay = replay
        self._tables = embedding_tables(model, params)
        if not self._tables:
            raise TypeError("compile_loss: token inputs need a model with an nn.Embedding")
        self._programs: dict[tuple[int, int], _Compiled] = {}
        self._last: Any = None
        # The CompiledTrainer whose buffer holds steps the Values have not seen, if any.
        self._ahead: Any = None
        y = list(example_y) if isinstance(example_y, (list, tuple)) else [example_y]
        self._scalar_target = not isinstance(example_y, (list, tuple))
        self._compiled(len(example_x), len(y))

    # ---- tracing -------------------------------------------------------------------

    def _targets_for(self, y: list[int]) -> Any:
        return y[0] if self._scalar_target else y

    def _trace(self, tokens: list[int], targets: list[int]) -> tuple[Any, ...]:
        with enable_grad():
            out = self.model(list(tokens))
            layout, outputs = _flatten_output(out)
            loss = self.loss_fn(out, self._targets_for(list(targets)))
        if not isinstance(loss, Value):
            raise TypeError(f"the loss function must return a Value, got {type(loss).__name__}")
        param_index = {id(p): k for k, p in enumerate(self._params)}
        records, _, position, free = _record_graph([*outputs, loss], {}, {}, param_index)
        return records, [position[id(o)] for o in outputs], position[id(loss)], free, layout

    def _compiled(self, n_tokens: int, n_targets: int) -> _Compiled:
        key = (n_tokens, n_targets)
        if key in self._programs:
            return self._programs[key]
        vocab = min(len(table) for table in self._tables)
        with no_grad():
            probe = self.model([0] * n_tokens)
        if isinstance(probe, list) and probe and isinstance(probe[0], list):
            classes = len(probe[0])  # one row of logits per position
        elif isinstance(probe, list) and probe:
            classes = len(probe)  # one row of logits for the whole sequence
        else:
            classes = vocab
        if n_tokens > vocab or n_targets > classes or vocab < 2 or classes < 2:
            raise ValueError(
                f"compile_loss: a compiled token sequence may be at most as long as the "
                f"vocabulary ({vocab}) and the number of classes ({classes}); got "
                f"{n_tokens} tokens and {n_targets} targets"
            )
        tokens_a = list(range(n_tokens))
        tokens_b = [(i + 1) % vocab for i in range(n_tokens)]
        targets_a = list(range(n_targets))
        targets_b = [(j + 1) % classes for j in range(n_targets)]
        a = self._trace(tokens_a, targets_a)
        b = self._trace(tokens_b, targets_b)
        graph = self._merge(a, b, tokens_a, tokens_b, targets_a, targets_b)
        program = self._replay.Program(
            graph, self._params, [graph.loss, *graph.outputs], graph.loss
        )
        compiled = _Compiled(program, a[4])
        read = {entry[1] for entry in graph.entries if entry[0] == "tok"}
        compiled.vocab = min((len(self._tables[t]) for t in read), default=vocab)
        compiled.classes = classes
        self._programs[key] = compiled
        return compiled

    def _merge(
        self,
        a: tuple[Any, ...],
        b: tuple[Any, ...],
        tokens_a: list[int],
        tokens_b: list[int],
        targets_a: list[int],
        targets_b: list[int],
    ) -> Graph:
        records_a, outputs_a, loss_a, free_a, layout = a
        records_b, outputs_b, loss_b, _, _ = b
        refuse = DataDependentGraphError
        if len(records_a) != len(records_b) or outputs_a != outputs_b or loss_a != loss_b:
            raise refuse(
                "compile_loss: the graph's shape depends on the tokens (two token sequences "
                "of one length give graphs of different sizes); train with the interpreted "
                "engine"
            )
        where: dict[int, tuple[int, int, int]] = {}  # parameter -> (table, row, column)
        for t, table in enumerate(self._tables):
            for r, row in enumerate(table):
                for c, k in enumerate(row):
                    where[k] = (t, r, c)
        token_position = {(x, y): i for i, (x, y) in enumerate(zip(tokens_a, tokens_b))}
        target_position = {(x, y): j for j, (x, y) in enumerate(zip(targets_a, targets_b))}
        # Output positions as (row, column) of the model's nested output.
        output_rows: list[list[int]] = []
        cell: dict[int, tuple[int, int]] = {}
        if isinstance(layout, tuple) and all(isinstance(r, tuple) for r in layout):
            flat = iter(outputs_a)
            for row in layout:
                output_rows.append([next(flat) for _ in row])
        elif isinstance(layout, tuple):  # one row of outputs for the whole sequence
            output_rows.append(list(outputs_a))
        for r, row_positions in enumerate(output_rows):
            for c, pos in enumerate(row_positions):
                cell[pos] = (r, c)

        def operand(pa: int, pb: int) -> Any:
            if pa == pb:
                return pa
            ra, rb = cell.get(pa), cell.get(pb)
            if ra is not None and rb is not None and ra[0] == rb[0]:
                j = target_position.get((ra[1], rb[1]))
                if j is not None:
                    return ("tpick", tuple(output_rows[ra[0]]), j)
            raise refuse(
                "compile_loss: the loss reads the model's outputs through the targets in a "
                "way that is not a pick of one output per target (as cross_entropy does)"
            )

        entries: list[Any] = []
        for ra, rb in zip(records_a, records_b):
            if ra == rb:
                entries.append(_entry(ra))
            elif ra[0] == "p" and rb[0] == "p" and ra[1] in where and rb[1] in where:
                ta, row_a, ca = where[ra[1]]
                tb, row_b, cb = where[rb[1]]
                i = token_position.get((row_a, row_b))
                if ta != tb or ca != cb or i is None:
                    raise refuse(
                        "compile_loss: the model reads embedding rows in a way that does not "
                        "follow the token at one position"
                    )
                entries.append(("tok", ta, i, ca))
            elif (
                ra[0] == rb[0]
                and isinstance(ra[1], tuple)
                and isinstance(rb[1], tuple)
                and len(ra[1]) == len(rb[1])
                and ra[0] not in ("x", "y", "p", "f", "c")
            ):
                entries.append((ra[0], tuple(operand(x, y) for x, y in zip(ra[1], rb[1]))))
            else:
                raise refuse(
                    "compile_loss: the graph depends on the tokens beyond embedding lookups "
                    "(a constant or an operation changes with them); train with the "
                    "interpreted engine"
                )
        graph = Graph(entries, tuple(outputs_a), loss_a, free_a, [()], 0, 0)
        graph.tables = self._tables
        return graph

    # ---- running -------------------------------------------------------------------

    def _batch(self, X: Any, Y: Any) -> tuple[Any, Any]:
        np = self._np
        tokens = _int_rows(np, X, "X")
        if Y is None:
            return tokens, None
        if self._scalar_target:
            targets = np.asarray(Y).reshape(-1, 1)
            if targets.dtype.kind == "O" and all(
                isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in targets.flat
            ):
                raise _out_of_range("y", targets.tolist())
            if targets.dtype.kind not in "iu":
                raise TypeError(f"y must hold int targets, got {targets.dtype}")
            targets = _as_indices(np, targets, "y")
        else:
            targets = _int_rows(np, Y, "y")
        if len(targets) != len(tokens):
            raise ValueError(
                f"X has {len(tokens)} samples but y has {len(targets)}; they must match"
            )
        return tokens, targets

    def _check_range(self, tokens: Any, targets: Any, compiled: _Compiled) -> None:
        vocab = compiled.vocab
        if tokens.min() < 0 or tokens.max() >= vocab:
            bad = tokens[(tokens < 0) | (tokens >= vocab)].flat[0]
            raise ValueError(f"X: tokens must be in 0..{vocab - 1}, got {int(bad)}")
        if targets is not None:
            width = compiled.classes
            if targets.min() < 0 or targets.max() >= width:
                bad = targets[(targets < 0) | (targets >= width)].flat[0]
                raise ValueError(f"y: class indices must be in 0..{width - 1}, got {int(bad)}")

    def _check(self, compiled: _Compiled, tokens: Any, targets: Any, losses: Any) -> None:
        """Re-run some samples on the interpreted engine; their losses must agree."""
        if self.check == "off" or (self.check == "first-batch" and compiled.checked):
            return
        n = len(tokens)
        count = self.check_samples
        chosen = (
            range(n)
            if count is None or count >= n
            else sorted({round(i * (n - 1) / max(count - 1, 1)) for i in range(count)})
        )
        with no_grad():
            for i in chosen:
                expected = self.loss_fn(
                    self.model(tokens[i].tolist()), self._targets_for(targets[i].tolist())
                )
                expected = expected.data if isinstance(expected, Value) else float(expected)
                got = float(losses[i])
                if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12) and not (
                    math.isnan(got) and math.isnan(expected)
                ):
                    raise DataDependentGraphError(
                        f"sample {i} of the batch: the compiled loss is {got!r} but the "
                        f"interpreted engine gives {expected!r}; the graph depends on the "
                        "tokens in a way one recorded graph cannot replay. Train with the "
                        "interpreted engine"
                    )
        compiled.checked = True

    def _uses_the_values(self, key: tuple[int, int]) -> bool:
        """Whether a batch of this length runs the interpreted engine (to trace or check)."""
        compiled = self._programs.get(key)
        if compiled is None or self.check == "every-batch":
            return True
        return self.check == "first-batch" and not compiled.checked

    def _run(self, X: Any, Y: Any, theta: Any) -> tuple[float, Any, Any, list[Any]]:
        refuse_missing_targets(Y)
        np = self._np
        tokens, targets = self._batch(X, Y)
        key = (tokens.shape[1], targets.shape[1])
        # The trace and the check read p.data: inside a trainer, the buffer's weights.
        current = theta if self._uses_the_values(key) else None
        with parameters_at(self._params, current):
            compiled = self._compiled(*key)
            self._check_range(tokens, targets, compiled)
            n = len(tokens)
            roots, grads, free = compiled.program.run(
                np.empty((n, 0)), None, None, 1.0 / n, theta, tokens, targets
            )
            self._check(compiled, tokens, targets, roots[0])
        self._last = (compiled.output_layout, roots[1:])
        program = compiled.program
        loss = ieee_fsum(roots[0].tolist()) * (1.0 / n)
        used = None if program.uses_all else program.used_index
        return loss, grads, used, [(program, free)]

    def backward(self, X: Any, y: Any) -> float:
        """Mean loss over the batch; adds d(mean loss)/d(param) into each ``param.grad``.

        Refused (``RuntimeError``) inside a trainer's block between a step and the next sync.
        """
        refuse_stale_backward(self._ahead)
        self._watch.check()  # a trainer checks when it reloads and syncs instead
        loss, grads, used, free = self._run(X, y, None)
        params = self._params
        indices = range(len(params)) if used is None else used
        for k, g in zip(indices, grads[list(indices)].tolist()):
            params[k].grad += g
        self._add_free(free)
        return loss

    @staticmethod
    def _add_free(free: list[tuple[Any, Any]]) -> None:
        for program, grads in free:
            for (_, leaf), g in zip(program.free_rows, grads):
                if leaf.requires_grad:
                    leaf.grad += g

    def forward(self, X: Any) -> list[Any]:
        """The model's outputs (one list of logits per position) for each sequence.

        Inside a trainer's block, with the weights of its buffer (the current ones).
        """
        self._watch.check()
        np = self._np
        tokens, _ = self._batch(X, None)
        length = tokens.shape[1]
        # Any program of this token length computes the outputs; the targets do not matter.
        keys = [key for key in self._programs if key[0] == length]
        key = keys[0] if keys else (length, 1 if self._scalar_target else length)
        theta = None if self._ahead is None else self._ahead.theta
        with parameters_at(self._params, theta if key not in self._programs else None):
            compiled = self._compiled(*key)
        self._check_range(tokens, None, compiled)
        targets = np.zeros((len(tokens), key[1]), dtype=np.intp)
        roots, _, _ = compiled.program.run(
            np.empty((len(tokens), 0)), None, None, None, theta, tokens, targets
        )
        return _nested(compiled.output_layout, roots[1:])

    @property
    def last_outputs(self) -> list[Any] | None:
        """The model outputs of the last ``backward`` call, per sequence."""
        if self._last is None:
            return None
        return _nested(*self._last)

    def trainer(self, optimizer: Any) -> Any:
        """A :class:`CompiledTrainer` (see ``CompiledLoss.trainer``)."""
        from autograd_lite.compile._train import CompiledTrainer

        return CompiledTrainer(self, optimizer)

    def __repr__(self) -> str:
        lengths = sorted(self._programs)
        return f"SequenceLoss(model={type(self.model).__name__}, lengths={lengths})"


def _nested(layout: Any, values: Any) -> list[Any]:
    result = []
    for column in values.T.tolist():
        items = iter(column)

        def build(node: Any, items: Any = items) -> Any:
            if isinstance(node, tuple):
                return [build(child) for child in node]
            return next(items)

        result.append(build(layout))
    return result
