# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 14. Build your own engine
#
# So far you have used autograd_lite's engine. Now you write one: a `Value` class in the
# style of Andrej Karpathy's lecture **"The spelled-out intro to neural networks and
# backpropagation: building micrograd"** (on YouTube; its code is the `micrograd`
# package). Each operator computes its value and stores a `_backward` closure that
# applies the chain rule for its inputs; `backward()` orders the nodes topologically and
# calls the closures from the output back.
#
# After each step, `check_engine(Value)` grades your class: it checks every operator
# the class defines against its calculus, then `backward()` on a diamond-shaped graph,
# then random graphs against this library's engine and central differences, and says
# what it skipped. The cells below hold a solution, so that the notebook runs; to
# practise, delete the bodies marked `# your code` and write them yourself.
#
# ## Step 1: `+`, `*` and `backward()`

# %%
import math

from IPython.display import display

from autograd_lite.claims import claim
from autograd_lite.exercises import check_engine


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None  # a leaf has nothing to pass on
        self._prev = tuple(_children)  # a tuple keeps `a + a`'s two edges
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # your code: d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # your code: d(a * b)/da = b, d(a * b)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def backward(self):  # your code: a topological order, then the closures in reverse
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


report = check_engine(Value, examples=100)
claim("the grader finds no problem", report.ok)
display(report)

# %% [markdown]
# Every operator the class defines passed; those it does not define yet are listed as
# not checked. Note the `+=`: a node used twice (`x * x`, or a diamond) receives a
# gradient from each use, and they add up.
#
# ## Step 2: `tanh`, the neuron's activation
#
# $\tanh$'s local derivative is best written with its output $t$: $1 - t^2$. Adding a
# method to the class we already have (instead of writing the class out again) is plain
# Python:


# %%
def tanh(self):
    t = math.tanh(self.data)
    out = Value(t, (self,), "tanh")

    def _backward():  # your code
        self.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


Value.tanh = tanh
report = check_engine(Value, examples=100)
claim("the engine passes, tanh included", report.ok and "`tanh`" in report.passed)
display(report)

# %% [markdown]
# ## Step 3: powers, and everything built from them
#
# `x ** n` for a number `n` has local derivative $n x^{n-1}$. With it, `-x`, `a - b`,
# `a / b` and the reflected operators (`2 - x` calls `x.__rsub__(2)`, where `other` is
# the number on the **left**) come almost for free:


# %%
def power(self, n):
    out = Value(self.data**n, (self,), f"**{n}")

    def _backward():  # your code
        self.grad += n * self.data ** (n - 1) * out.grad

    out._backward = _backward
    return out


Value.__pow__ = power
Value.__neg__ = lambda self: self * -1
Value.__sub__ = lambda self, other: self + (-other)
Value.__truediv__ = lambda self, other: self * other**-1
Value.__radd__ = lambda self, other: self + other
Value.__rmul__ = lambda self, other: self * other
Value.__rsub__ = lambda self, other: other + (-self)  # other - self
Value.__rtruediv__ = lambda self, other: other * self**-1  # other / self

report = check_engine(Value, examples=100)
claim("the grader finds no problem", report.ok)
display(report)

# %% [markdown]
# ## How a mistake reads
#
# Here is the same engine with two slips a student makes: `tanh`'s local derivative
# written as $1 - t$, and `=` instead of `+=` in `*`. The grader names each operator and
# says what is wrong, in numbers you can check by hand:


# %%
class Slipped(Value):
    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Slipped(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad = other.data * out.grad  # `=`: the other use's gradient is lost
            other.grad = self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Slipped(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t) * out.grad  # should be 1 - t**2

        out._backward = _backward
        return out


report = check_engine(Slipped, examples=100)
claim("the grader finds the mistakes", not report.ok)
claim(
    "it names `=` for `+=` in `*`",
    any(p.startswith("`*`: when one node is used twice") for p in report.problems),
)
claim(
    "it names 1 − t for 1 − t² in `tanh`",
    any(p.startswith("`tanh`: your local derivative is 1 − t;") for p in report.problems),
)
display(report)

# %% [markdown]
# Each sentence names the operator, what your code computes and what it should. When
# an operator is built on another one that is wrong (here `-x` is `x * -1`), its problem
# may follow from the first: fix the operators in the order they are listed. Random
# graphs run only once every operator passes alone; `print(report)` gives the same as
# plain text.
#
# ## What we saw
#
# * An engine is a few operators, each with its value and a `_backward` closure that
#   applies the chain rule with `+=`, and a `backward()` over a reverse topological order.
# * `check_engine(Value)` grades any such class on what it defines and says what it
#   skipped; its sentences name the operator and the mistake.
#
# Next: compare your engine's gradients with autograd_lite's on a neuron
# (`autograd_lite.Value`), or add `exp` and `relu` and grade them the same way.
