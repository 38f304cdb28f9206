"""The engine's functions as a typed user calls them: checked by tests/test_typing.py."""

from __future__ import annotations

from typing_extensions import assert_type

import autograd_lite as al
from autograd_lite import Value

x = Value(0.5)
assert_type(al.tanh(x), Value)
assert_type(al.relu(x), Value)
assert_type(al.exp(x), Value)
assert_type(al.sigmoid(x), Value)
assert_type(al.log(x), Value)
assert_type(al.sum_values([x, x]), Value)
assert_type(al.tanh(0.5), float)
