"""Grad modes, name scopes and anomaly checks: the per-thread switches every operation reads.

Each thread has one ``_State``. Operations read it through ``_busy`` first: while no
thread has switched anything (grad on, no anomaly checks, no scope), the state is known
without a thread-local read, which costs several times a global one.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from autograd_lite.engine.primitives import Primitive
    from autograd_lite.engine.value import Value

# Frames in this package are not "user code" for detect_anomaly()'s messages.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    """One thread's switches: recording on or off, anomaly checks, the current name scope."""

    __slots__ = ("anomaly", "fast_scope", "grad_enabled", "ident", "scope")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.scope: tuple[str, ...] = ()
        # The scope to give new nodes when recording needs no extra work (grad on, no
        # anomaly checks), else None: the hot paths read this one attribute.
        self.fast_scope: tuple[str, ...] | None = ()
        self.ident = threading.get_ident()

    def refresh(self) -> None:
        self.fast_scope = self.scope if self.grad_enabled and not self.anomaly else None
        if self.fast_scope == ():
            _busy.discard(self.ident)
        else:
            _busy.add(self.ident)

    def set_scope(self, scope: tuple[str, ...]) -> None:
        self.scope = scope
        self.refresh()


# The threads whose state is not the default (grad on, no anomaly checks, no scope). While
# it is empty, which is always in code that never changes a mode, the hot paths know the
# state without a thread-local read (several times the cost of a global read):
#     scope = () if not _busy else _local.state.fast_scope
_busy: set[int] = set()


class _PerThread(threading.local):
    """Holds each thread's ``_State``; one thread-local read gets all switches at once."""

    def __init__(self) -> None:
        self.state = _State()


_local = _PerThread()


def is_grad_enabled() -> bool:
    """Whether operations in this thread currently record a graph."""
    return _local.state.grad_enabled


class _GradMode:
    """Context manager and decorator that sets whether this thread records graphs."""

    _enabled: bool

    def __enter__(self) -> None:
        state = _local.state
        self._saved = state.grad_enabled
        state.grad_enabled = self._enabled
        state.refresh()

    def __exit__(self, *exc_info: object) -> None:
        state = _local.state
        state.grad_enabled = self._saved
        state.refresh()

    def __call__(self, func: F) -> F:
        enabled = self._enabled

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = _local.state
            saved = state.grad_enabled
            state.grad_enabled = enabled
            state.refresh()
            try:
                return func(*args, **kwargs)
            finally:
                state.grad_enabled = saved
                state.refresh()

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Build no graph inside: results are constants. ``with no_grad():`` or ``@no_grad()``."""

    _enabled = False


class enable_grad(_GradMode):
    """Record graphs again inside a ``no_grad`` block."""

    _enabled = True


class name_scope:
    """Tag every node created inside with ``name``; nested scopes give a path.

    ``nn`` modules run their forward pass inside one, so drawings can group a neuron's
    or a layer's nodes. A node keeps the path as a tuple (``node.scope``), shared by
    every node of the same call, so tagging costs no memory per node.
    """

    __slots__ = ("name", "saved")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name_scope() expected a str, got {type(name).__name__}")
        self.name = name

    # Entered once per module call by nn, so both halves are kept to a few attribute
    # operations on the thread's state.
    def __enter__(self) -> None:
        state = _local.state
        self.saved = saved = state.scope
        state.set_scope((*saved, self.name))

    def __exit__(self, *exc_info: object) -> None:
        _local.state.set_scope(self.saved)


class AnomalyError(FloatingPointError):
    """A non-finite value or gradient appeared while ``detect_anomaly()`` was active."""


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``AnomalyError`` at the first non-finite value or gradient.

    Inside the block every node remembers the file and line of user code that created
    it, so the error can point at the line that produced the first ``nan`` or ``inf``.
    An operation whose inputs are already non-finite does not raise again: the error
    names the first one. Costs time; meant for debugging.
    """
    saved = _local.state.anomaly
    _local.state.anomaly = True
    _local.state.refresh()
    try:
        yield
    finally:
        _local.state.anomaly = saved
        _local.state.refresh()


@contextmanager
def _anomaly_checks(on: bool) -> Iterator[None]:
    """Switch anomaly checks on or off inside, whatever they were."""
    state = _local.state
    saved = state.anomaly
    state.anomaly = on
    state.refresh()
    try:
        yield
    finally:
        state.anomaly = saved
        state.refresh()


def _user_site() -> tuple[str, int, str] | None:
    """The innermost stack frame outside this package: (file, line, function)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep):
            return filename, frame.f_lineno, frame.f_code.co_name
        frame = frame.f_back
    return None


def _describe_site(site: tuple[str, int, str] | None) -> str:
    if site is None:
        return "at an unknown place (it was not created inside detect_anomaly())"
    filename, line, function = site
    return f"at {filename}:{line} in {function}()"


def _check_forward(node: Value, prim: Primitive, datas: Sequence[float]) -> None:
    """Under ``detect_anomaly()``: remember where the node was made; raise on a first non-finite."""
    site = _user_site()
    node._set_meta("site", site)
    if not math.isfinite(node.data) and all(math.isfinite(d) for d in datas):
        raise AnomalyError(
            f"{prim.name} produced {node.data!r} from finite inputs {tuple(datas)!r}; "
            f"the operation was called {_describe_site(site)}"
        )


def _check_finite_gradient(node: Value, index: int, contribution: Any, grad: Any) -> None:
    # Floats, or Values when a gradient graph is built (create_graph=True).
    value = contribution if isinstance(contribution, float) else contribution.data
    incoming = grad if isinstance(grad, float) else grad.data
    if not math.isfinite(value) and math.isfinite(incoming):
        inputs = tuple(p.data for p in node.parents)
        raise AnomalyError(
            f"the backward step of {node.op or 'a hand-built node'} gave the non-finite "
            f"gradient {value!r} to its input {index} (inputs {inputs!r}); the node was "
            f"created {_describe_site(node.created_at)}"
        )


def _checked_backward_step(node: Value) -> None:
    """``backward_step`` with every contribution checked, for ``detect_anomaly()``."""
    if node._local is None:
        node.backward_step()
        return
    grad = node.grad
    for index, (parent, d) in enumerate(zip(node.parents, node.local_derivatives)):
        if parent.requires_grad:
            contribution = d * grad
            _check_finite_gradient(node, index, contribution, grad)
            parent.grad += contribution
