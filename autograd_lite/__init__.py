"""autograd_lite: a scalar reverse-mode automatic differentiation engine.

>>> from autograd_lite import Value
>>> x = Value(3.0, label="x")
>>> y = x ** 3
>>> y.backward()
>>> x.grad
27.0
"""

from autograd_lite.engine import (
    AnomalyError,
    Primitive,
    Value,
    abs_,
    cos,
    dense,
    detect_anomaly,
    dot,
    enable_grad,
    exp,
    gradients,
    is_grad_enabled,
    leaky_relu,
    log,
    logsumexp,
    name_scope,
    no_grad,
    power,
    primitive,
    relu,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    sum_values,
    tanh,
    topological_order,
)
from autograd_lite.functional import (
    GradcheckError,
    grad,
    gradcheck,
    hessian,
    jacobian,
    value_and_grad,
)

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "GradcheckError",
    "Primitive",
    "Value",
    "__version__",
    "abs_",
    "cos",
    "dense",
    "detect_anomaly",
    "dot",
    "enable_grad",
    "exp",
    "grad",
    "gradcheck",
    "gradients",
    "hessian",
    "is_grad_enabled",
    "jacobian",
    "leaky_relu",
    "log",
    "logsumexp",
    "name_scope",
    "no_grad",
    "power",
    "primitive",
    "relu",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "sum_values",
    "tanh",
    "topological_order",
    "value_and_grad",
]
