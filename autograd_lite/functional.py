"""Function transforms on top of the engine: ``grad``, ``value_and_grad``, ``jacobian``,
``hessian`` (as in JAX and HIPS autograd), forward mode ``jvp``, ``vjp`` and ``hvp`` (as
``torch.func`` and JAX call them), and ``gradcheck``.

A transform takes a Python function of Values and returns a new function of numbers.
Arguments may be numbers, Values, or flat lists/tuples of them; gradients come back in
the same shape. Transforms compose: ``grad(grad(f))`` is the second derivative. At the
top level results are floats; inside another transform they are Values, so that the
outer transform can differentiate them again.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any

from autograd_lite.engine import Value, enable_grad, gradients, no_grad, topological_order

__all__ = [
    "GradcheckError",
    "grad",
    "gradcheck",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "value_and_grad",
    "vjp",
]

# How many transforms are running in this thread: inside one, results stay Values.
_nesting = threading.local()


def _depth() -> int:
    return getattr(_nesting, "depth", 0)


def _as_leaves(arg: Any, position: int) -> tuple[Any, list[Value]]:
    """The argument with its numbers made into leaf Values, and those leaves in order."""
    if isinstance(arg, Value):
        # A Value that takes gradients (an outer transform's variable) gets a new identity
        # node, not itself: differentiating with respect to the Value itself would also
        # count its other uses in f (grad(lambda x: grad(lambda y: x * y)(x)) would be 2,
        # not 1). The identity node keeps the link the outer transform differentiates along.
        leaf = arg + 0.0 if arg.requires_grad else Value(arg.data)
        return leaf, [leaf]
    if isinstance(arg, numbers.Real):
        leaf = Value(_real(arg, f"argument {position}"))
        return leaf, [leaf]
    if isinstance(arg, (list, tuple)):
        items = [_as_leaves(a, position) for a in arg]
        if any(isinstance(a, (list, tuple)) for a in arg):
            raise TypeError(f"argument {position}: nested sequences are not supported; flatten it")
        return type(arg)(item for item, _ in items), [
            leaf for _, leaves in items for leaf in leaves
        ]
    raise TypeError(
        f"argument {position}: expected a number, a Value or a list of them, "
        f"got {type(arg).__name__}{_item_hint(arg)}"
    )


def _real(x: Any, what: str) -> float:
    """A real number (not a Value, str, bool-like flag, Decimal or array) as a float."""
    if not isinstance(x, numbers.Real) or isinstance(x, Value):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}{_item_hint(x)}")
    try:
        return float(x)
    except OverflowError:
        raise ValueError(
            f"{what}: got an int of about 10**{int(x.bit_length() * math.log10(2))}; "
            "it does not fit in a float"
        ) from None


def _item_hint(x: Any) -> str:
    return "; use .item() for a one-element array" if hasattr(x, "shape") else ""


def _flag(x: Any, what: str) -> bool:
    if not isinstance(x, bool):
        kind = type(x)
        name = (
            kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        )
        raise TypeError(f"{what} must be True or False, got {name}")
    return x


def _shape_like(arg: Any, flat: list[Any]) -> Any:
    """Put a flat list of gradients back into the shape of ``arg``."""
    if isinstance(arg, (list, tuple)):
        return type(arg)(flat)
    return flat[0]


def _finish(x: Any) -> Any:
    """At the top level gradients are floats; inside another transform they stay Values."""
    if _depth() > 0:
        return x
    return x.data if isinstance(x, Value) else float(x)


def _argnums_tuple(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"argnums {n!r} is out of range for a call with {nargs} arguments")
    return tuple(n % nargs for n in nums)


def _call(
    f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], nums: tuple[int, ...]
) -> tuple[Any, list[Any], list[list[Value]]]:
    """Call ``f`` with the chosen arguments made into leaves; return (result, args, leaves)."""
    call_args = list(args)
    leaves = []
    with enable_grad():  # the identity nodes of _as_leaves must be recorded
        for n in nums:
            call_args[n], arg_leaves = _as_leaves(args[n], n)
            leaves.append(arg_leaves)
    _nesting.depth = _depth() + 1
    try:
        with enable_grad():
            result = f(*call_args, **kwargs)
    finally:
        _nesting.depth -= 1
    return result, call_args, leaves


def _grads_of(output: Any, leaves: list[Value]) -> list[Any]:
    if isinstance(output, Value) and output.requires_grad:
        return gradients(output, leaves, create_graph=_depth() > 0)
    if isinstance(output, (Value, numbers.Real)):
        return [0.0] * len(leaves)  # the output does not depend on the inputs
    raise TypeError(
        f"the function must return a scalar (a Value or a number), got {type(output).__name__}; "
        "for several outputs use jacobian()"
    )


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function giving ``(f(*args), df/dargs[argnums])``.

    With ``has_aux=True`` ``f`` returns ``(value, aux)`` and the result is
    ``((value, aux), gradient)``. With a tuple of argnums the gradient is a tuple.
    """

    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args))
        result, call_args, leaves = _call(f, args, kwargs, nums)
        if has_aux:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise TypeError("with has_aux=True the function must return a pair (value, aux)")
            output, aux = result
        else:
            output, aux = result, None
        flat = _grads_of(output, [leaf for group in leaves for leaf in group])
        grads, start = [], 0
        for n, group in zip(nums, leaves):
            part = [_finish(g) for g in flat[start : start + len(group)]]
            grads.append(_shape_like(call_args[n], part))
            start += len(group)
        gradient = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = _finish(output)
        return ((value, aux) if has_aux else value), gradient

    value_and_grad_f.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return value_and_grad_f


def grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function computing the gradient of scalar ``f`` with respect to ``argnums``.

    >>> grad(lambda x: x ** 3)(2.0)
    12.0
    >>> grad(grad(lambda x: x ** 3))(2.0)
    12.0
    """
    both = value_and_grad(f, argnums, has_aux)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        value, gradient = both(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


def jacobian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """Return a function computing the Jacobian of ``f`` with respect to argument ``argnums``.

    For a list of outputs the result is a list of rows, one per output, each shaped like
    the argument; for a scalar output it is a single row (the gradient).
    """
    if not isinstance(argnums, int):
        raise TypeError("jacobian() takes a single int argnums")

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args))
        result, call_args, (leaves,) = _call(f, args, kwargs, nums)
        outputs = result if isinstance(result, (list, tuple)) else [result]
        rows = [
            _shape_like(call_args[nums[0]], [_finish(g) for g in _grads_of(out, leaves)])
            for out in outputs
        ]
        return rows if isinstance(result, (list, tuple)) else rows[0]

    jacobian_f.__name__ = f"jacobian({getattr(f, '__name__', 'f')})"
    return jacobian_f


def hessian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """Return a function computing the matrix of second derivatives of scalar ``f``."""
    return jacobian(grad(f, argnums), argnums)


# ---- forward mode --------------------------------------------------------------------


def _primals_and_tangents(primals: Any, tangents: Any, name: str) -> tuple[tuple, tuple]:
    for what, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, tuple):
            raise TypeError(
                f"{name}: {what} must be a tuple with one entry per positional argument of f "
                f"(as in torch.func.{name}), got {type(given).__name__}"
            )
    if len(primals) != len(tangents):
        raise ValueError(
            f"{name}: {len(primals)} primals but {len(tangents)} tangents; give one tangent "
            "per primal"
        )
    return primals, tangents


def _flat_tangents(tangent: Any, leaves: list[Value], position: int) -> list[float]:
    items = list(tangent) if isinstance(tangent, (list, tuple)) else [tangent]
    if len(items) != len(leaves):
        raise ValueError(
            f"tangent {position} has {len(items)} entries but primal {position} has {len(leaves)}"
        )
    return [_real(t, f"tangent {position}") for t in items]


def _flatten(result: Any) -> tuple[list[Any], Callable[[list[Any]], Any]]:
    """Outputs as a flat list, and how to put a flat list back into their shape."""
    if not isinstance(result, (list, tuple)):
        return [result], lambda flat: flat[0]
    parts = [_flatten(item) if isinstance(item, (list, tuple)) else None for item in result]
    flat: list[Any] = []
    sizes = []
    for item, part in zip(result, parts):
        piece = part[0] if part is not None else [item]
        flat += piece
        sizes.append(len(piece))

    def rebuild(values: list[Any]) -> Any:
        out, start = [], 0
        for part, size in zip(parts, sizes):
            chunk = values[start : start + size]
            out.append(part[1](chunk) if part is not None else chunk[0])
            start += size
        return type(result)(out)

    return flat, rebuild


def _push_tangents(outputs: list[Any], seeds: dict[Value, float]) -> list[float]:
    """Each node's tangent is Σ d(node)/d(parent) · tangent(parent): a dual number's rule,
    with the local derivatives the primitive table stored in the nodes at forward time."""
    tangent: dict[Value, float] = dict(seeds)
    roots = [out for out in outputs if isinstance(out, Value)]
    for node in topological_order(roots) if roots else []:
        if node in tangent:
            continue
        if node._prev and node._local is None:
            raise ValueError(
                f"jvp: a node built by hand (op {node._op!r}) has no local derivatives "
                "stored; forward mode needs nodes made by the engine's primitives"
            )
        total = 0.0
        for parent, local in zip(node._prev, node._local or ()):
            if parent in tangent:
                d = local.data if isinstance(local, Value) else local
                total += d * tangent[parent]
        tangent[node] = total
    return [tangent.get(out, 0.0) if isinstance(out, Value) else 0.0 for out in outputs]


def jvp(f: Callable[..., Any], primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J·tangents)``, as ``torch.func.jvp`` and ``jax.jvp``.

    ``primals`` and ``tangents`` are tuples with one entry per positional argument of
    ``f`` (a number, or a flat list of numbers for a list argument). The result is the
    value of ``f`` and its directional derivative along the tangents, each shaped like
    ``f``'s output. One pass computes it however many outputs ``f`` has; reverse mode
    needs one pass per output. Numbers come back as floats.

    >>> jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
    (6.0, 3.0)
    """
    primals, tangents = _primals_and_tangents(primals, tangents, "jvp")
    nums = tuple(range(len(primals)))
    result, _, leaves = _call(f, primals, {}, nums)
    seeds: dict[Value, float] = {}
    for position, (tangent, group) in enumerate(zip(tangents, leaves)):
        seeds.update(zip(group, _flat_tangents(tangent, group, position)))
    outputs, rebuild = _flatten(result)
    for out in outputs:
        if not isinstance(out, (Value, numbers.Real)):
            raise TypeError(f"jvp: f must return numbers or Values, got {type(out).__name__}")
    derivatives = _push_tangents(outputs, seeds)
    return rebuild([_plain(out) for out in outputs]), rebuild(derivatives)


def _plain(x: Any) -> float:
    return x.data if isinstance(x, Value) else float(x)


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple]]:
    """Reverse mode: ``(f(*primals), vjp_fn)``, as ``torch.func.vjp`` and ``jax.vjp``.

    ``vjp_fn(cotangents)`` takes one cotangent per output of ``f`` (shaped like the
    output) and returns a tuple with ``cotangents · J`` for each primal, shaped like it.
    One reverse pass per call, however many inputs ``f`` has.

    >>> value, vjp_fn = vjp(lambda x, y: x * y, 2.0, 3.0)
    >>> value, vjp_fn(1.0)
    (6.0, (3.0, 2.0))
    """
    nums = tuple(range(len(primals)))
    result, call_args, leaves = _call(f, primals, {}, nums)
    outputs, rebuild = _flatten(result)
    flat_leaves = [leaf for group in leaves for leaf in group]

    def vjp_fn(cotangents: Any) -> tuple:
        weights, _ = _flatten(cotangents)
        if len(weights) != len(outputs):
            raise ValueError(
                f"vjp_fn: {len(weights)} cotangents for {len(outputs)} outputs; give one each"
            )
        weights = [_real(w, "cotangent") for w in weights]
        totals = [0.0] * len(flat_leaves)
        for out, weight in zip(outputs, weights):
            if weight != 0.0:
                for i, g in enumerate(_grads_of(out, flat_leaves)):
                    totals[i] += weight * _plain(g)
        grads, start = [], 0
        for n, group in zip(nums, leaves):
            grads.append(_shape_like(call_args[n], totals[start : start + len(group)]))
            start += len(group)
        return tuple(grads)

    return rebuild([_plain(out) for out in outputs]), vjp_fn


def hvp(f: Callable[..., Any], primals: tuple, tangents: tuple) -> Any:
    """Hessian-vector product of scalar ``f``, forward over reverse: ``jvp(grad(f))``.

    As in the JAX autodiff cookbook, ``hvp(f, primals, tangents)`` is
    ``jvp(grad(f, argnums=all), primals, tangents)[1]``: one reverse pass that records the
    gradient's graph and one forward pass along the tangents, whatever the number of
    inputs, instead of the n passes of the full Hessian. One entry per primal.

    >>> hvp(lambda x, y: x * x * y, (2.0, 3.0), (1.0, 0.0))
    (6.0, 4.0)
    """
    primals, tangents = _primals_and_tangents(primals, tangents, "hvp")
    gradient = grad(f, argnums=tuple(range(len(primals))))
    return jvp(gradient, primals, tangents)[1]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree; the message says where and by how much."""


def gradcheck(
    f: Callable[..., Any],
    *inputs: float,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare ``f``'s gradients from ``backward`` with central differences in float64.

    ``f`` takes one Value per input and returns a Value or a list of Values. An entry
    passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` (PyTorch's defaults).
    Returns True; on a mismatch raises ``GradcheckError`` naming the output, the input and
    both numbers, or returns False when ``raise_exception=False``. Inputs are real numbers
    or Values (their ``.data``); anything else, a string included, is a TypeError.
    """
    points = [
        x.data if isinstance(x, Value) else _real(x, f"gradcheck input {j}")
        for j, x in enumerate(inputs)
    ]
    if not points:
        raise ValueError("gradcheck needs at least one input")
    eps = _real(eps, "gradcheck eps")
    atol = _real(atol, "gradcheck atol")
    rtol = _real(rtol, "gradcheck rtol")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"gradcheck eps must be a finite number > 0, got {eps!r}")
    if not (atol >= 0 and rtol >= 0):
        raise ValueError(f"gradcheck atol and rtol must be >= 0, got {atol!r} and {rtol!r}")
    _flag(raise_exception, "gradcheck raise_exception")

    def evaluate(xs: list[float]) -> list[float]:
        with no_grad():
            result = f(*[Value(x) for x in xs])
        outs = result if isinstance(result, (list, tuple)) else [result]
        return [o.data if isinstance(o, Value) else float(o) for o in outs]

    leaves = [Value(x) for x in points]
    result = f(*leaves)
    outputs = result if isinstance(result, (list, tuple)) else [result]
    failures = []
    numeric_columns = []
    for j in range(len(points)):
        up, down = list(points), list(points)
        up[j] += eps
        down[j] -= eps
        numeric_columns.append([(a - b) / (2 * eps) for a, b in zip(evaluate(up), evaluate(down))])
    for i, out in enumerate(outputs):
        if isinstance(out, Value) and out.requires_grad:
            analytic = gradients(out, leaves)
        else:
            analytic = [0.0] * len(points)
        for j, a in enumerate(analytic):
            numeric = numeric_columns[j][i]
            difference = abs(a - numeric)
            if not (difference <= atol + rtol * abs(numeric)) and not (
                math.isinf(a) and a == numeric
            ):
                failures.append(
                    f"output {i}, input {j} (x = {points[j]!r}): analytic {a!r}, "
                    f"numerical {numeric!r}, difference {difference:.3g} "
                    f"(allowed {atol + rtol * abs(numeric):.3g})"
                )
    if failures:
        if raise_exception:
            raise GradcheckError("gradients disagree:\n  " + "\n  ".join(failures))
        return False
    return True
