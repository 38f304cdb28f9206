"""A typed user script: CI runs ``mypy --strict`` on it (tests/test_typing.py).

It uses the public API as a user would and states, with ``assert_type``, the types a
user can rely on; the one mistake in it (``loss.dta``) must be the only error mypy
reports. It also runs as a plain script.
"""

from __future__ import annotations

from typing_extensions import assert_type

import autograd_lite as al
from autograd_lite import Value, losses
from autograd_lite.nn import MLP, Layer, Neuron
from autograd_lite.optim import Adam

model = MLP(2, [4, 1])
optimizer = Adam(model.parameters(), lr=0.01)
x = [Value(1.0), Value(-2.0)]
prediction = model(x)
assert_type(prediction, Value | list[Value])
neuron_out = Neuron(2)(x)
assert_type(neuron_out, Value)
layer_out = Layer(2, 3)(x)
assert_type(layer_out, list[Value])
score = layer_out[0]
hidden = al.tanh(score)
assert_type(hidden, Value)
loss = losses.mse(score, 1.0) + losses.hinge(score, 1) * 0.1 + score.tanh() + score.relu()
assert_type(loss, Value)
assert_type(losses.cross_entropy(layer_out, 2), Value)
assert_type(losses.binary_cross_entropy_with_logits(score, 1), Value)
assert_type(losses.mse(0.5, 1.0), float)
assert_type((score * 2.0).log(), Value)
optimizer.zero_grad()
loss.backward()
optimizer.step()
for p in model.parameters():
    assert_type(p, Value)
print(loss.dta)  # the typo mypy must report
