"""Optimizers, learning-rate schedulers and gradient clipping, with PyTorch's names and rules.

>>> from autograd_lite import Value
>>> from autograd_lite.optim import SGD
>>> w = Value(3.0)
>>> optimizer = SGD([w], lr=0.1)
>>> loss = w * w
>>> loss.backward()
>>> optimizer.step()
>>> round(w.data, 10)
2.4

The update rules are PyTorch's, and the tests check 50-step trajectories against
``torch.optim`` in float64. Everything here uses only the standard library and the engine.
"""

from autograd_lite.optim import lr_scheduler
from autograd_lite.optim.adam import Adam, AdamW
from autograd_lite.optim.clip import clip_grad_norm_, clip_grad_value_
from autograd_lite.optim.optimizer import Optimizer
from autograd_lite.optim.rmsprop import RMSprop
from autograd_lite.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "lr_scheduler",
]
