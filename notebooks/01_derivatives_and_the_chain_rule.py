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
# # 1. Derivatives and the chain rule
#
# A derivative answers one question: *if I nudge this input a little, how much does the
# output move?* This notebook computes the same derivative three ways, side by side:
#
# 1. **by hand**, with the rules of calculus;
# 2. **by finite differences**, nudging the input and watching the output;
# 3. **by `backward()`**, which applies the chain rule to a recorded graph.
#
# Then we draw a single neuron with its data and gradients, and see why `backward()`
# must visit the graph in *topological order*.
#
# We start with the simplest possible call: one number, one expression, one `backward()`.

# %%
from autograd_lite import Value
from autograd_lite.claims import claim

x = Value(3.0, label="x")
y = x**3 - 2 * x
y.backward()
print(f"y = {y.data}, dy/dx = {x.grad}")

# %% [markdown]
# A `Value` wraps one float. Every operation on it (`**`, `*`, `-`) records a new node
# that remembers its inputs, so `y` knows it was computed from `x`. `y.backward()` then
# fills `x.grad` with $dy/dx$.
#
# ## Three ways to the same number
#
# **By hand.** For $f(x) = x^3 - 2x$ the power rule gives $f'(x) = 3x^2 - 2$, so
# $f'(3) = 25$.
#
# **By finite differences.** The derivative is the limit of a slope. The *central*
# difference $\frac{f(x+h) - f(x-h)}{2h}$ has an error proportional to $h^2$ (the one-sided
# $\frac{f(x+h) - f(x)}{h}$ only to $h$), so with ordinary floats and a small $h$ it comes
# very close. We compute it on plain floats: no graph involved.


# %%
def f(x):
    return x**3 - 2 * x


def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


by_hand = 3 * 3.0**2 - 2
by_differences = central_difference(f, 3.0)
by_backward = x.grad
print(f"{'by hand':>16}: {by_hand!r}")
print(f"{'by differences':>16}: {by_differences!r}")
print(f"{'by backward()':>16}: {by_backward!r}")
claim("backward() gives the exact derivative, 25", by_backward == by_hand == 25.0)

# %% [markdown]
# `backward()` gives exactly 25: it applies the exact derivative rule of each operation.
# The finite difference is off in the later digits. Why not just make $h$ tiny? Because
# $f(x+h) - f(x-h)$ subtracts two nearly equal floats, and the rounding error of that
# subtraction, divided by $2h$, *grows* as $h$ shrinks. The best $h$ is a compromise:


# %%
steps = [1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11, 1e-13]
errors = {h: abs(central_difference(f, 3.0, h) - by_hand) for h in steps}
for h, error in errors.items():
    print(f"h = {h:.0e}   error = {error:.1e}")
# h 100 times smaller, error about 10,000 times smaller: the h² law.
claim(
    "h 100 times smaller, error about 10,000 times smaller",
    0.5e-4 < errors[1e-3] / errors[1e-1] < 2e-4,
    ratio=errors[1e-3] / errors[1e-1],
)
claim("the error is smallest at h = 1e-5", min(errors, key=errors.get) == 1e-5)

# %% [markdown]
# The error falls as $h^2$ (a hundred times smaller $h$, ten thousand times smaller
# error) down to $h \approx 10^{-5}$, where it is smallest; then rounding takes over. This is
# why finite differences are a good *check* of a derivative (the test suite of this
# library uses them as an independent oracle), but a poor way to *compute* gradients:
# they are inexact, and they need two evaluations of $f$ per input, where one
# `backward()` gives the derivative with respect to every input at once.
#
# ## The chain rule, one link at a time
#
# For a composition such as $g(x) = \tanh(x^2)$ the chain rule multiplies the derivatives
# of the pieces: $g'(x) = \tanh'(x^2) \cdot 2x = (1 - \tanh^2(x^2)) \cdot 2x$.
#
# That is exactly what the engine does. Each node stores its *local derivative*, the
# derivative of its output with respect to each of its inputs, computed during the
# forward pass. `backward()` multiplies them along the way back.

# %%
from autograd_lite import tanh

x = Value(0.8, label="x")
square = x**2
square.label = "square"
g = tanh(square)
g.label = "g"

print("local derivative of g with respect to square:", g.local_derivatives)
print("local derivatives of square (base, exponent): ", square.local_derivatives)
print(
    "their product:                                ",
    g.local_derivatives[0] * square.local_derivatives[0],
)

g.backward()
print("x.grad after backward():                      ", x.grad)
print("by hand, (1 - tanh(x²)²) · 2x:                ", (1 - tanh(0.8**2) ** 2) * 2 * 0.8)

# %% [markdown]
# (`square.local_derivatives` has two entries, one per argument of `x ** 2`: the base,
# $2x = 1.6$, and the exponent, $x^2 \ln x$. The exponent is the constant 2, which takes
# no gradient, so the second entry is never used.)
#
# ## A neuron, drawn
#
# A neuron computes $o = \tanh(x_1 w_1 + x_2 w_2 + b)$. Written out operation by
# operation, it is a small graph. `draw_dot` draws it: each box shows a value's label,
# its data and its gradient; each ellipse is an operation. Inputs are blue, parameters
# (leaves that take gradients) orange and the output green. The numbers are those of the
# classic example from Andrej Karpathy's micrograd lecture.

# %%
from autograd_lite.viz import draw_dot

x1 = Value(2.0, label="x1")
x2 = Value(0.0, label="x2")
w1 = Value(-3.0, label="w1")
w2 = Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
x1w1 = x1 * w1
x1w1.label = "x1*w1"
x2w2 = x2 * w2
x2w2.label = "x2*w2"
n = x1w1 + x2w2 + b
n.label = "n"
o = tanh(n)
o.label = "o"
draw_dot(o, inputs=[x1, x2])

# %% [markdown]
# Before `backward()` every gradient is 0. Now we run it and draw again. The edges get
# thicker where more gradient flows, and with `edge_labels="local"` each edge carries its
# *local derivative*, ∂(result)/∂(input): the factor the chain rule multiplies by as the
# gradient crosses that edge.

# %%
o.backward()
print(f"o = {o.data:.4f}, do/dn = {n.grad:.4f}, do/dw1 = {w1.grad:.4f}, do/dx1 = {x1.grad:.4f}")
claim("o = 0.7071 and do/dn = 0.5", abs(o.data - 0.7071) < 1e-4 and abs(n.grad - 0.5) < 1e-12)
claim("a + passes its gradient on unchanged", (x1w1.grad, x2w2.grad, b.grad) == (n.grad,) * 3)
claim(
    "do/dw1 = 1, do/dx1 = -1.5, do/dw2 = 0",
    abs(w1.grad - 1.0) < 1e-12 and abs(x1.grad + 1.5) < 1e-12 and w2.grad == 0.0,
)
draw_dot(o, inputs=[x1, x2], edge_labels="local")

# %% [markdown]
# Read the gradients off the drawing from right to left; each is the gradient to the
# right times the label on the edge:
#
# * $do/do = 1$ (the seed);
# * $do/dn = 1 - \tanh^2(n) = 1 - 0.7071^2 = 0.5$ (the edge into `tanh` says 0.500);
# * an addition passes its gradient unchanged to every input, so `x1*w1`, `x2*w2` and `b`
#   all get 0.5;
# * a multiplication sends each input the *other* input times the gradient:
#   $do/dw_1 = x_1 \cdot 0.5 = 1$ and $do/dx_1 = w_1 \cdot 0.5 = -1.5$;
# * $do/dw_2 = x_2 \cdot 0.5 = 0$: with $x_2 = 0$, nudging $w_2$ changes nothing.
#
# ## Why the order of the backward pass matters
#
# A node's gradient is only complete once *every* node that uses it has passed its share
# back. In a chain that is automatic, but values are often used more than once.
#
# **Reuse.** In `a + a` the same node is both arguments. The engine keeps the parents as
# a tuple in argument order, so there are two edges and two contributions:
# $d(a+a)/da = 1 + 1 = 2$.

# %%
a = Value(3.0, label="a")
doubled = a + a
doubled.label = "a + a"
doubled.backward()
print("parents:", doubled.parents)
print("da:", a.grad)
draw_dot(doubled)

# %% [markdown]
# (micrograd keeps parents in a `set`, which holds `a` once: its gradient is still right,
# because its `+` adds twice, but its drawing shows a single edge.)
#
# **A diamond.** Here `b` feeds two nodes, `c` and `d`, which meet again in `e`:
# $b = 3a$, $c = b + 1$, $d = 2b$, $e = c \cdot d$. By hand, $e = (3a + 1) \cdot 6a$, so
# $de/da = 36a + 6$, which is 78 at $a = 2$.


# %%
def diamond(a_value):
    a = Value(a_value, label="a")
    b = a * 3
    b.label = "b"
    c = b + 1
    c.label = "c"
    d = b * 2
    d.label = "d"
    e = c * d
    e.label = "e"
    return a, e


a, e = diamond(2.0)
draw_dot(e)

# %% [markdown]
# Suppose we wrote backpropagation the naive way: at each node, pass the gradient to the
# parents and immediately recurse into them. The trouble is `b`: the walk reaches it
# first through `c`, *before* `d` has added its share, and pushes an incomplete gradient
# on to `a`; then it reaches `b` again through `d` and pushes once more.


# %%
def naive_backward(node):
    for parent, local in zip(node.parents, node.local_derivatives or ()):
        if parent.requires_grad:
            parent.grad += local * node.grad
            naive_backward(parent)


a, e = diamond(2.0)
e.grad = 1.0
naive_backward(e)
naive = a.grad
print("naive recursion:", naive)

a, e = diamond(2.0)
e.backward()
print("backward():     ", a.grad)
print("by hand, 36a + 6:", 36 * 2.0 + 6)
# The path a -> b -> c -> e contributes (db/da)(dc/db)(de/dc) = 3 · 1 · d = 36, twice.
path_through_c = 3 * 1 * 12.0
claim("the naive recursion counts the path through c twice", naive == a.grad + path_through_c)

# %% [markdown]
# The naive walk counts the path through `c`, worth $3 \cdot 1 \cdot d = 36$, twice:
# $78 + 36 = 114$. The fix is
# to visit nodes in an order where **each node comes after everything that uses it**:
# the reverse of a *topological order*, one in which every node comes after its
# parents. `topological_order` gives that order (iteratively, so even a graph a million
# nodes deep does not hit Python's recursion limit).

# %%
from autograd_lite import topological_order

order = topological_order(e)
print(" -> ".join(node.label or repr(node.data) for node in order))

# %% [markdown]
# (The unlabelled entries are the constants 3, 1 and 2.) With the order in hand,
# backpropagation is four lines: seed the output with 1, then walk the order backwards,
# and let every node add `local derivative × its gradient` to each parent. Each node is
# visited once, after all its users, so its gradient is complete when it is passed on.
# This is the loop at the heart of `backward()`.

# %%
a, e = diamond(2.0)
e.grad = 1.0
for node in reversed(topological_order(e)):
    for parent, local in zip(node.parents, node.local_derivatives or ()):
        if parent.requires_grad:
            parent.grad += local * node.grad
print("reverse topological order:", a.grad)

# %% [markdown]
# ## What we saw
#
# * A derivative can be found by hand, estimated by finite differences (inexact, one
#   evaluation pair per input, but an excellent independent check), or computed exactly
#   by `backward()`.
# * Each node stores its local derivatives; the chain rule multiplies them along the
#   paths back to an input and *adds* over the paths.
# * Adding over paths is only right if a node's gradient is complete before it is passed
#   on, which is what the reverse topological order guarantees.
#
# Next, [the backward pass step by step](02_the_backward_pass_step_by_step.ipynb) watches
# this loop run one node at a time.
