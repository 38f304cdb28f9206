"""The engine: ``Value`` nodes, the table of primitives, and reverse-mode differentiation.

A ``Value`` wraps one float. Every operation on Values is a *primitive*: a forward
function on floats and a *derivative rule* that returns the local derivative of the
output with respect to each input. The local derivatives are computed once, at forward
time, and stored on the new node as plain floats; ``backward()`` is then one generic
loop, ``parent.grad += local * node.grad``, over the graph in reverse topological order.
No node holds a closure, so a graph that is dropped is freed by reference counting alone.

Derivative rules are written with the same operations they differentiate (``out * (1 -
out)``, ``cos(x)``), which work on floats and on Values alike. At forward time the rules
see floats; when higher-order gradients are asked for (``create_graph=True``) the engine
calls the same rules with the parent Values, so the gradient is itself a graph that can be
differentiated again.

Memory: no node holds a closure, so a dropped graph is freed by reference counting alone,
gradient graphs from ``gradients(..., create_graph=True)`` included. The one exception,
as in PyTorch (which warns about it): ``backward(create_graph=True)`` stores on each leaf
a gradient graph that refers back to the leaf, a reference cycle that only the cyclic
garbage collector frees; ``zero_grad()`` (``x.grad = 0.0``) breaks it. Interior nodes
keep only the number of their gradient there, so the leaves are the only cycles.

Where things are, bottom up (each module imports only those above it in this list):

* ``floats.py``: float arithmetic with IEEE results, and input checks (no Values);
* ``modes.py``: ``no_grad``, ``name_scope``, ``detect_anomaly`` and its checks;
* ``value.py``: ``Value``, its operators, and ``backward()``;
* ``primitives.py``: the table of primitives and how one is applied;
* ``traversal.py``: topological order and ``gradients()``;
* the fast paths, each tested equal to the reference path:
  ``fold.py`` (a ``sum()`` as one node, never changing a node once made) and
  ``dense.py`` (a layer's neurons in one pass, each one node).

One seam: ``Value``'s operators are the primitives applied, so ``value.py`` calls into
``primitives.py``, ``fold.py`` and ``traversal.py``, which it imports at its end, after
``Value`` is defined; they import ``Value`` as any module above it does.

Conventions (each pinned by a test):

* Leaves accumulate ``.grad`` across ``backward()`` calls, as in PyTorch; interior nodes
  show the gradient of the latest pass only.
* NaN is never turned into a number: ``relu(nan)``, ``leaky_relu(nan)`` and every other
  activation give ``nan`` on every path (methods, functions, fused ``dense`` neurons,
  ``no_grad()``, compiled replay). The chain rule multiplies, ``local * grad``, so a
  ``nan`` gradient stays ``nan`` even behind a dead ReLU (PyTorch selects 0 there).
* Kinks take the subgradient 0: ``relu'(0) = 0``, ``abs'(0) = 0``; ``leaky_relu'(0)`` is
  the negative slope. At ``nan`` the slopes are PyTorch's: ``relu'(nan) = 1``,
  ``leaky_relu'(nan)`` the slope, ``abs'(nan) = 0`` (the value itself is ``nan``).
* Division is a primitive: ``a / b`` is exactly Python's quotient, with local derivatives
  ``1/b`` and ``-q/b`` from the quotient ``q``; derivative rules that divide use it.
* Overflow never raises: ``exp(1000) == inf``; ``sigmoid``, ``tanh``, ``softplus`` and
  ``logsumexp`` are computed in forms that stay finite where the true value is finite;
  ``softmax`` sums to 1 within a few ulps for any finite logits.
* Boundaries follow IEEE 754: ``log(0) == -inf`` (derivative ``inf``), ``sqrt'(0) == inf``,
  ``x / 0 == ±inf`` and ``0 / 0 == nan``.
* Outside a domain (``log(-1)``, ``sqrt(-1)``, a negative base to a non-integer or a
  ``Value`` exponent) a ``ValueError`` names the operation and the value.
* ``x ** y`` at ``x == 0``: d/dy is 0 for ``y >= 0`` (its limit) and ``-inf`` for
  ``y < 0`` (``nan`` for ``y = nan``), as PyTorch gives. d/dx at ``(0, 0)`` is 0 on every
  path (``backward()``, ``gradients()``, ``create_graph=True``), PyTorch's first order;
  in a gradient graph that 0 is a constant, so its own derivatives are 0 (PyTorch: nan).
* Inputs: a ``Value`` or any real number (``int``, ``float``, ``Fraction``, NumPy real
  scalars; ``bool`` as 0/1); anything else (``str``, ``None``, ``complex``, ``Decimal``,
  arrays, tensors, objects that merely have a ``.data``) is a ``TypeError`` naming the
  type; an int too large for a float is a ``ValueError``; flags accept only ``bool``.
"""

from autograd_lite.engine.value import Value  # noqa: I001  (first: the others build on it)
from autograd_lite.engine.dense import dense, dot
from autograd_lite.engine.modes import (
    AnomalyError,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    name_scope,
    no_grad,
)
from autograd_lite.engine.primitives import (  # noqa: F401  (the table, read by compile/)
    ABS,
    ADD,
    COS,
    DOT,
    DOT_RELU,
    DOT_SIGMOID,
    DOT_TANH,
    DIV,
    EXP,
    LOG,
    LOGSUMEXP,
    MUL,
    NEG,
    POW,
    RELU,
    SIGMOID,
    SIN,
    SOFTPLUS,
    SQRT,
    SUM,
    SUM_PRODUCTS,
    TANH,
    _leaky_relu_primitive,
)
from autograd_lite.engine.primitives import (
    Primitive,
    abs_,
    cos,
    exp,
    leaky_relu,
    log,
    logsumexp,
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
)
from autograd_lite.engine.traversal import gradients, topological_order

__all__ = [
    "AnomalyError",
    "Primitive",
    "Value",
    "abs_",
    "cos",
    "dense",
    "detect_anomaly",
    "dot",
    "enable_grad",
    "exp",
    "gradients",
    "is_grad_enabled",
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
]
