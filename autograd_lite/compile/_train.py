"""Whole compiled training steps on a flat parameter buffer, with a documented sync point.

A compiled ``backward`` costs a few dozen numpy calls, but writing 2,410 gradients into
``.grad`` and an optimizer's Python loop over 2,410 parameters cost more than that at
small batch sizes. :class:`CompiledTrainer` keeps the parameters, their gradients and
the optimizer's state in numpy vectors while it trains, and writes them back into the
Values and into ``optimizer.state`` at one documented point, :meth:`CompiledTrainer.sync`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_lite.compile._optim import FlatUpdate, supports
from autograd_lite.compile._trace import NotCopied
from autograd_lite.engine.floats import ieee_fsum

__all__ = ["CompiledTrainer"]


class CompiledTrainer(NotCopied):
    """Compiled training steps (gradients and the optimizer's update) on a flat buffer.

    Made by :meth:`CompiledLoss.trainer`::

        with step.trainer(optimizer) as train:
            for X_batch, y_batch in batches:
                loss = train.step(X_batch, y_batch)   # zero_grad, backward, step
        # here every p.data, p.grad and optimizer.state is up to date

    ``train.step(X, y)`` does what ``optimizer.zero_grad(); step.backward(X, y);
    optimizer.step()`` does, with the same numbers (to about 1e-12), for
    :class:`~autograd_lite.optim.SGD` (momentum, Nesterov, weight decay),
    :class:`~autograd_lite.optim.Adam`, :class:`~autograd_lite.optim.AdamW` and
    :class:`~autograd_lite.optim.RMSprop`. Hyperparameters are read from
    ``optimizer.param_groups`` at every step, so learning-rate schedulers work unchanged.

    **When the Values are in sync.** While the trainer trains, the parameters live in its
    buffer; the Values are written at the sync point only, because writing 2,410 floats
    into 2,410 Values costs more than a whole compiled step at small batch sizes:

    * :meth:`sync` writes ``.data`` and ``.grad`` (the gradient of the last batch, as
      after ``zero_grad``, ``backward``, ``step``) of every parameter, and the
      optimizer's state (``state_dict()`` then saves it), if a step ran since the last
      sync or reload. Leaving the ``with`` block syncs. Until then, ``.data``, ``.grad``
      and ``optimizer.state`` show the values of the last sync.
    * :meth:`reload` reads ``.data`` and the optimizer's state back into the buffer: call
      it after changing weights or loading a ``state_dict`` between steps. Entering the
      ``with`` block reloads.
    * ``backward(X, y)`` and ``update()`` are the two halves of ``step``; :attr:`grad` is
      the gradient buffer (in ``model.parameters()`` order) between them. It is the
      program's own gradient table when one program ran the batch, so it holds the last
      batch's gradient until the next step (read it, or scale it in place). A
      zero in it may be -0.0, where the engine's sum gives 0.0: ``sync`` writes 0.0.

    **What sees the current weights between a step and the next sync.** The compiled loss
    reads the buffer: ``train.step`` and ``train.backward``, ``step.forward(X)``,
    ``step.last_outputs``, and the tracing and first-batch check of a sequence length,
    input layout or label value met for the first time (they run the interpreted engine
    with the buffer's weights put into the Values and taken out again, so the Values still
    show the last sync). Everything else reads the Values and sees the weights of the last
    sync, without a warning: ``model(x)`` called directly, ``state_dict()`` and ``save``,
    ``clip_grad_norm_`` or a diagnostic of ``p.grad`` (between ``backward`` and ``update``,
    scale :attr:`grad` instead). Call :meth:`sync` first. ``step.backward(X, y)`` there
    would replay the last sync's weights and is refused with a ``RuntimeError``.

    ``fit(compile=True)`` trains this way and syncs after every epoch, before scoring,
    callbacks, early stopping and the scheduler. With another optimizer the trainer
    falls back to writing every gradient and calling ``optimizer.step()``, in sync at
    every step.
    """

    def __init__(self, compiled: Any, optimizer: Any) -> None:
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
            raise TypeError(
                f"trainer() needs an optimizer from autograd_lite.optim, "
                f"got {type(optimizer).__name__}"
            )
        self.compiled = compiled
        self.optimizer = optimizer
        self.params = compiled._params
        self._trainable = np.array([p.requires_grad for p in self.params], dtype=bool)
        self.fast = supports(optimizer)
        self._update = FlatUpdate(optimizer, self.params) if self.fast else None
        self.theta = np.empty(len(self.params))
        self._grad_buffer = np.zeros(len(self.params))  # when a program leaves some out
        self.grad = self._grad_buffer
        self._unsynced = False  # whether the buffers hold steps the Values have not seen
        self.reload()

    # ---- the sync point ----------------------------------------------------------------

    def reload(self) -> None:
        """Read every parameter's ``.data`` and the optimizer's state into the buffers.

        Refused (``RuntimeError``) if a parameter was replaced since compiling.
        """
        self.compiled._watch.check()
        self.theta[:] = [p.data for p in self.params]
        if self._update is not None:
            self._update.load()
        self._mark_synced()

    def _mark_unsynced(self) -> None:
        # The compiled loss's forward, trace and check then read this buffer, not p.data.
        self._unsynced = True
        self.compiled._ahead = self

    def _mark_synced(self) -> None:
        self._unsynced = False
        if self.compiled._ahead is self:
            self.compiled._ahead = None

    def sync(self) -> None:
        """Write the buffers into every ``p.data``, ``p.grad`` and ``optimizer.state``.

        Only if a step ran since the last sync or reload: otherwise the Values are already
        up to date, or were changed on purpose since, and must not be overwritten. Then,
        if a parameter of the model was replaced since compiling, ``RuntimeError``: the
        trainer trained the Values it was compiled with, which now have the last step.
        """
        if not self.fast or not self._unsynced:
            self.compiled._watch.check()
            return  # the slow path writes the Values at every step
        # + 0.0: a gradient written by one product may be -0.0, where the engine's sum
        # starting from 0.0 gives 0.0.
        grads = (self.grad + 0.0).tolist()
        for p, value, g, trainable in zip(
            self.params, self.theta.tolist(), grads, self._trainable.tolist()
        ):
            p.data = value
            if trainable:
                p.grad = g
        self._update.store()
        self._mark_synced()
        self.compiled._watch.check()

    def __enter__(self) -> CompiledTrainer:
        self.reload()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sync()

    # ---- steps -------------------------------------------------------------------------

    def backward(self, X: Any, y: Any, l2: float = 0.0) -> float:
        """The batch's mean loss (plus ``l2 * Σ p²`` if given); its gradient in :attr:`grad`."""
        if not self.fast:
            self.optimizer.zero_grad()
            loss = self.compiled.backward(X, y)
            if l2:
                loss += self._slow_l2(l2)
            return loss
        loss, grads, used, free = self.compiled._run(X, y, self.theta)
        self._mark_unsynced()
        if used is None:
            # The program's own gradient table (valid until its next run): no copy. The
            # l2 term and the update below work on it in place.
            self.grad = grads
        else:
            self.grad = self._grad_buffer
            self.grad.fill(0.0)
            self.grad[used] = grads[used]
        self.compiled._add_free(free)
        if l2:
            # l2_penalty is l2 * dot(params, params): each p gets l2 * p from both slots.
            theta = self.theta
            with np.errstate(over="ignore"):  # an overflowing square is inf, as in the engine
                squares = theta * theta
            loss += float(l2) * ieee_fsum(squares.tolist())
            penalty = np.where(self._trainable, l2 * theta, 0.0)
            self.grad += penalty
            self.grad += penalty
        return loss

    def _slow_l2(self, l2: float) -> float:
        from autograd_lite.losses import l2_penalty

        extra = l2_penalty(self.params, l2)
        extra.backward()
        return extra.data

    def update(self) -> None:
        """The optimizer's update of the buffer from :attr:`grad` (``optimizer.step()``)."""
        if self.fast:
            self._update.step(self.theta, self.grad)
            self._mark_unsynced()
        else:
            self.optimizer.step()

    def step(self, X: Any, y: Any) -> float:
        """One training step on the batch (zero_grad, backward, update); the mean loss."""
        loss = self.backward(X, y)
        self.update()
        return loss

    def __repr__(self) -> str:
        mode = "flat buffer" if self.fast else "per Value"
        return f"CompiledTrainer({type(self.optimizer).__name__}, {mode})"
