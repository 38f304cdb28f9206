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
# # 11. Beyond first order
#
# `backward()` gives first derivatives. This notebook goes further: derivatives of
# derivatives, the Hessian matrix and Newton's method; then extending the engine with a
# primitive of our own, checked numerically (and a wrong one caught); and finally
# `detect_anomaly`, which finds the line of code that produced a `nan`.
#
# ## Derivatives of derivatives
#
# `grad(f)` turns a function of numbers into the function computing its derivative, and
# since each primitive's derivative rule is itself written with engine operations
# (`tanh'` is `1 - tanh²`), the result can be differentiated again. Start with the
# simplest call:

# %%
from autograd_lite import grad, tanh
from autograd_lite.claims import claim

d_tanh = grad(tanh)
print("tanh'(0.5)  =", d_tanh(0.5))
print("by hand     =", 1 - tanh(0.5) ** 2)
print("tanh''(0.5) =", grad(d_tanh)(0.5))
print("by hand     =", -2 * tanh(0.5) * (1 - tanh(0.5) ** 2))

# %% [markdown]
# Nesting `grad` four times gives four derivatives of tanh, drawn here on $[-4, 4]$:

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

xs = [i / 20 for i in range(-80, 81)]
derivative = tanh
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(xs, [tanh(x) for x in xs], label="tanh")
for order in range(1, 5):
    derivative = grad(derivative)
    ax.plot(xs, [derivative(x) for x in xs], label=f"derivative {order}")
ax.set_xlabel("x")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## The Hessian
#
# For a function of several variables the second derivatives form a matrix, the
# *Hessian* $H_{ij} = \partial^2 f / \partial x_i \partial x_j$. `hessian(f)` computes it
# (as the Jacobian of the gradient). For $f(x, y) = x^2 y + \sin y$, by hand:
#
# $$H = \begin{pmatrix} 2y & 2x \\ 2x & -\sin y \end{pmatrix}$$

# %%
import math

from autograd_lite import hessian, sin


def f(v):
    x, y = v
    return x**2 * y + sin(y)


print("hessian(f) at (1, 2):", hessian(f)([1.0, 2.0]))
print("by hand:             ", [[2 * 2.0, 2 * 1.0], [2 * 1.0, -math.sin(2.0)]])

# %% [markdown]
# ## Newton's method
#
# Gradient descent steps along $-g$ with a step size we must guess. Newton's method uses
# the curvature too: near a minimum $f$ looks like a quadratic bowl, whose bottom is at
# $x - H^{-1} g$. We try it on Rosenbrock's banana-shaped valley, $f(x, y) = (1 - x)^2 +
# 100 (y - x^2)^2$, with its minimum at $(1, 1)$, famously slow for gradient descent. The
# $2 \times 2$ system is solved by hand (Cramer's rule).

# %%
from autograd_lite import value_and_grad


def rosenbrock(v):
    x, y = v
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def newton_step(f, point):
    value, (g0, g1) = value_and_grad(f)(point)
    (h00, h01), (h10, h11) = hessian(f)(point)
    det = h00 * h11 - h01 * h10
    step = ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h10 * g0) / det)
    return [point[0] - step[0], point[1] - step[1]], value


point = [-1.2, 1.0]
newton_path = [tuple(point)]
for iteration in range(7):
    point, value = newton_step(rosenbrock, point)
    newton_path.append(tuple(point))
    print(f"iteration {iteration}: f = {value:.3g}, next point ({point[0]:.6f}, {point[1]:.6f})")
errors = [max(abs(a - 1), abs(b - 1)) for a, b in newton_path]
print(f"distance from (1, 1) after 6 iterations: {errors[6]:.1e}; after 7: {errors[7]}")
claim("1e-10 after 6 iterations, exact after 7", errors[6] < 1e-10 and newton_path[7] == (1.0, 1.0))
claim("iteration 2 jumps far uphill", rosenbrock(newton_path[2]) > 1000 and newton_path[2][1] < -3)

# %% [markdown]
# Six iterations bring it within $10^{-10}$ of the minimum, and the seventh lands on it
# exactly (both printed above). (Newton's method is not a descent method: its second
# step jumps to $(0.76, -3.18)$, far uphill at $f \approx 1400$. It goes wherever the
# local quadratic model has its minimum, and trusts the model.)
#
# Gradient descent from the same start needs a step size, and how large it may be is
# also a question of curvature. Near the minimum $f$ is a quadratic bowl with Hessian
# $H$; along an eigenvector of $H$ with eigenvalue $\lambda$ one step multiplies the
# distance to the minimum by $1 - \eta\lambda$. That shrinks only if
# $|1 - \eta \lambda| < 1$, so the step size must stay below $2 / \lambda_{\max}$.
# The Hessian's eigenvalues at $(1, 1)$:

# %%
from autograd_lite.viz.plots import plot_trajectories


def eigenvalues(matrix):
    (a, b), (c, d) = matrix
    middle, spread = (a + d) / 2, math.sqrt(((a - d) / 2) ** 2 + b * c)
    return middle - spread, middle + spread


small, large = eigenvalues(hessian(rosenbrock)([1.0, 1.0]))
limit = 2 / large
print(f"eigenvalues at the minimum: {small:.4f} and {large:.1f} (ratio {large / small:.0f})")
print(f"2 / largest = {limit:.7f}")
claim("the limit is just under 0.002", 0.00199 < limit < 0.002)
claim("eigenvalue ratio about 2500", 2400 < large / small < 2600)

# %% [markdown]
# The limit is just under 0.002. (The valley is also badly *conditioned*: the ratio of
# the two eigenvalues is about 2500, so a step size the steep direction allows crawls
# along the flat one.) We run gradient descent with step sizes below and above it, until
# $f < 10^{-6}$ or for at most 20 000 steps:

# %%
gradient = grad(rosenbrock)


def descend(step_size, max_steps=20_000):
    point = [-1.2, 1.0]
    path = [tuple(point)]
    while rosenbrock(point) > 1e-6 and len(path) <= max_steps:
        g = gradient(point)
        point = [point[0] - step_size * g[0], point[1] - step_size * g[1]]
        path.append(tuple(point))
    return path


runs = {step_size: descend(step_size) for step_size in (0.001, 0.0015, 0.0019, 0.0021)}
for step_size, path in runs.items():
    steps, final = len(path) - 1, rosenbrock(path[-1])
    outcome = f"{steps} steps to f < 1e-6" if final <= 1e-6 else f"f = {final:.3f} after {steps}"
    print(f"step size {step_size}: {outcome}")
claim(
    "below the limit all converge",
    all(rosenbrock(runs[s][-1]) <= 1e-6 for s in (0.001, 0.0015, 0.0019)),
)
claim("above it, not", rosenbrock(runs[0.0021][-1]) > 1e-3)
gd_path = runs[0.0019]
steps = len(gd_path) - 1


def surface(x, y):
    return rosenbrock([x, y])


fig, ax = plt.subplots(figsize=(5.5, 3.5))
paths = {"gradient descent, 0.0019 (every 200th step)": gd_path[::200], "Newton": newton_path}
plot_trajectories(surface, paths, bounds=(-1.6, 1.6, -3.4, 1.6), levels=20, log_levels=True, ax=ax)
ax.legend(loc="lower left", fontsize=8)  # the empty corner: no path crosses it
plt.show()

# %% [markdown]
# Below the limit gradient descent converges, faster the closer the step size is to it;
# just above it, at 0.0021, it never settles: near the minimum every step overshoots
# along the steep direction by more than it corrects. Even at its best it needs
# thousands of steps against Newton's six. So why does everyone train networks with
# first-order methods? Because the Hessian of a network with $n$ parameters has $n^2$
# entries ($30\,000^2 = 9 \times 10^8$, about a billion, for a small network of 30 000
# weights), and each Newton step solves an $n \times n$ linear system. Second-order
# ideas survive in cheaper forms: quasi-Newton methods, and the per-coordinate scaling
# of RMSprop and Adam.
#
# ## A primitive of our own
#
# The engine has a short table of primitives; everything else is composed from them.
# When a function is not composable from them, or composing it is unstable or slow, we
# can add one. `primitive(name, forward, derivative)` takes the forward function on
# floats and a rule that returns one local derivative per input; it receives the inputs
# and the output. Here is the error function,
# $\mathrm{erf}'(x) = \frac{2}{\sqrt\pi} e^{-x^2}$, with the rule written with the
# engine's `exp` so that it can be differentiated again:

# %%
from autograd_lite import Value, exp, primitive

erf = primitive("erf", math.erf, lambda x, out: (2 / math.sqrt(math.pi) * exp(-x * x),))

x = Value(0.5, label="x")
y = erf(x)
y.backward()
print("erf(0.5) =", y.data, "  erf'(0.5) =", x.grad)
print("erf''(0.5) =", grad(grad(erf))(0.5), "  by hand:", -2 * 0.5 * x.grad)

# %% [markdown]
# A derivative rule is easy to get wrong, and a wrong rule trains a network quietly
# badly, with no error anywhere. `gradcheck(f, *inputs)` compares the gradient from
# `backward()` with central finite differences in float64 (an independent method, as in
# [notebook 1](01_derivatives_and_the_chain_rule.ipynb)). We check `erf` alone and
# inside a composition:

# %%
from autograd_lite import gradcheck

print(gradcheck(erf, 0.3))
print(gradcheck(lambda x, y: erf(x * y) + erf(y) ** 2, 0.7, -1.1))

# %% [markdown]
# Now a deliberately wrong rule, with the factor 2 forgotten:

# %%
wrong_erf = primitive("wrong_erf", math.erf, lambda x, out: (exp(-x * x) / math.sqrt(math.pi),))
print("gradcheck passes:", gradcheck(wrong_erf, 0.3, raise_exception=False))

# %% [markdown]
# By default `gradcheck` raises a `GradcheckError` that says which input disagrees and by
# how much:

# %%
from autograd_lite import GradcheckError

try:
    gradcheck(wrong_erf, 0.3)
except GradcheckError as error:
    print(f"GradcheckError: {error}")
analytic = wrong_erf(Value(0.3)).local_derivatives[0]
numerical = (math.erf(0.3 + 1e-6) - math.erf(0.3 - 1e-6)) / 2e-6
print(f"analytic / numerical = {analytic / numerical:.9f}")
claim("the wrong derivative is half the true one", abs(analytic / numerical - 0.5) < 1e-8)

# %% [markdown]
# The analytic derivative is half the numerical one (to the accuracy of the finite
# difference): the missing factor 2.
#
# ## Finding the line that made a `nan`
#
# The distance from the origin, $\sqrt{x^2 + y^2}$, is a common piece of a model (a norm,
# a radius). Its value at the origin is fine, 0. Its gradient there is not:

# %%
from autograd_lite import sqrt


def distance(x, y):
    squared = x * x + y * y
    return sqrt(squared)


x, y = Value(0.0), Value(0.0)
d = distance(x, y)
d.backward()
print("distance:", d.data, "  gradient:", x.grad, y.grad)

# %% [markdown]
# A `nan` gradient poisons every parameter it touches at the next optimiser step, and in
# a large model the `nan` shows up far from where it was made. `detect_anomaly()` checks
# every value and every gradient as it is computed, remembers where each node was
# created, and raises an `AnomalyError` at the *first* non-finite number, naming the
# operation and the line:

# %%
from autograd_lite import AnomalyError, detect_anomaly

try:
    with detect_anomaly():
        x, y = Value(0.0), Value(0.0)
        distance(x, y).backward()
except AnomalyError as error:
    print(f"AnomalyError: {error}")

# %% [markdown]
# It points at the `sqrt` in `distance()` (the file is this notebook's cell, as Python
# names it): at 0, $\sqrt{\cdot}$ has derivative $\frac{1}{2\sqrt{0}} = \infty$, and on
# the next step back, $x \cdot x$ multiplies that $\infty$ by its local derivative
# $2x = 0$, which gives `nan`. The checks slow everything down, so they are for
# debugging, not training.
#
# The fix is to give the function a sensible derivative at the origin. The norm has no
# derivative there, but 0 is a valid *subgradient* (as the engine takes $\mathrm{relu}'(0)
# = 0$). A primitive with that rule, checked away from the origin and at it:


# %%
def norm_derivative(x, y, out):
    if out == 0:  # the origin: take the subgradient 0
        return (0.0, 0.0)
    return (x / out, y / out)


norm = primitive("norm", math.hypot, norm_derivative)

print(gradcheck(norm, 3.0, -4.0), gradcheck(norm, 0.0, 0.0))
x, y = Value(0.0), Value(0.0)
norm(x, y).backward()
print("gradient at the origin:", x.grad, y.grad)

# %% [markdown]
# (`math.hypot` also avoids the overflow of squaring very large inputs.)
#
# ## Forward mode and reverse mode
#
# `backward()` is **reverse mode**: one pass from the output back gives the derivative of
# one output with respect to every input. **Forward mode** goes the other way: a
# *tangent* (a direction in input space) rides along the forward pass, each node's
# tangent being $\sum_i (\partial\,\text{node}/\partial\,\text{input}_i)\,\dot{x}_i$
# (the dual-number rule, with the local derivatives each primitive already computes), and
# one pass gives the derivative of every output along that one direction: a
# Jacobian-vector product. `jvp(f, primals, tangents)` and `vjp(f, *primals)` follow
# `torch.func` and JAX: one primal and one tangent per argument of `f`.
#
# Which mode wins depends on the shape. A function of $n$ inputs and one output needs $n$
# forward passes (one per input direction) for its gradient, but one reverse pass:

# %%
import time

from autograd_lite.functional import hvp, jvp, vjp


def best_time(action, *args, repeats=3):
    """The fastest of a few runs of ``action(*args)``, in seconds: the least disturbed."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action(*args)
        times.append(time.perf_counter() - started)
    return min(times)


n = 40
point = [0.05 * i - 1 for i in range(n)]
many_inputs = lambda x: sum(x[i] * x[(i + 1) % n] for i in range(n)).tanh()
basis = [[1.0 if j == i else 0.0 for j in range(n)] for i in range(n)]

forward_gradient = [jvp(many_inputs, (point,), (e,))[1] for e in basis]
reverse_gradient = vjp(many_inputs, point)[1](1.0)[0]
claim(
    "n forward passes give the gradient one reverse pass gives",
    max(abs(a - b) for a, b in zip(forward_gradient, reverse_gradient)) < 1e-12,
)

forward_seconds = best_time(lambda: [jvp(many_inputs, (point,), (e,)) for e in basis])
reverse_seconds = best_time(lambda: vjp(many_inputs, point)[1](1.0))
print(
    f"{n} inputs, 1 output: {n} forward passes {forward_seconds * 1e3:.1f} ms, "
    f"1 reverse pass {reverse_seconds * 1e3:.1f} ms "
    f"({forward_seconds / reverse_seconds:.0f}× slower forward)"
)
claim(
    "for one output, reverse mode is over 5× cheaper",
    forward_seconds > 5 * reverse_seconds,
    ratio=forward_seconds / reverse_seconds,
)

# %% [markdown]
# The same gradient (the cell checks it), at a fraction of the cost in reverse mode:
# that is why training uses `backward()`. Now the other shape, one input and $m$
# outputs: one forward pass gives every output's derivative, while reverse mode needs one
# pass per output.

# %%
m = 40
many_outputs = lambda x: [(x * (0.1 * k)).tanh() for k in range(m)]
one_hot = [[1.0 if j == k else 0.0 for j in range(m)] for k in range(m)]

forward_column = jvp(many_outputs, (0.3,), (1.0,))[1]
_, pull_back = vjp(many_outputs, 0.3)
reverse_column = [pull_back(c)[0] for c in one_hot]
claim(
    "one forward pass gives the column m reverse passes give",
    max(abs(a - b) for a, b in zip(forward_column, reverse_column)) < 1e-12,
)

forward_seconds = best_time(lambda: jvp(many_outputs, (0.3,), (1.0,)))
reverse_seconds = best_time(lambda: [vjp(many_outputs, 0.3)[1](c) for c in one_hot])
print(
    f"1 input, {m} outputs: 1 forward pass {forward_seconds * 1e3:.1f} ms, "
    f"{m} reverse passes {reverse_seconds * 1e3:.1f} ms "
    f"({reverse_seconds / forward_seconds:.0f}× slower reverse)"
)
claim(
    "for one input, forward mode is over 5× cheaper",
    reverse_seconds > 5 * forward_seconds,
    ratio=reverse_seconds / forward_seconds,
)

# %% [markdown]
# ### Hessian-vector products
#
# Newton-type methods and the curvature checks above need the Hessian $H$ only through
# products $Hv$. Building $H$ takes one reverse pass over the gradient's graph per input;
# `hvp(f, primals, tangents)` is forward over reverse, `jvp(grad(f))`: one reverse pass
# that records the gradient's graph, then one forward pass along $v$, whatever $n$. On a
# function whose Hessian is dense, the gap grows with $n$:


# %%
def dense(x):
    """tanh(Σ 0.1·i·x_i) · Σ x_i²: every second derivative is nonzero."""
    return sum(x[i] * (0.1 * i) for i in range(len(x))).tanh() * sum(xi * xi for xi in x)


ratios = {}
for n in (20, 40, 80):
    point = [0.05 * i - 1 for i in range(n)]
    direction = [1.0] * n
    full = hessian(dense)(point)
    (product,) = hvp(dense, (point,), (direction,))
    claim(  # H·1 is the row sums of H
        "hvp equals the full Hessian times v",
        max(abs(sum(row) - p) for row, p in zip(full, product)) < 1e-9,
    )
    hvp_seconds = best_time(hvp, dense, (point,), (direction,))
    hessian_seconds = best_time(hessian(dense), point)
    ratios[n] = hessian_seconds / hvp_seconds
    print(
        f"n = {n:3d}: hvp {hvp_seconds * 1e3:5.1f} ms, full Hessian "
        f"{hessian_seconds * 1e3:6.1f} ms ({ratios[n]:.1f}×)"
    )
claim(
    "the full Hessian's extra cost grows with n",
    ratios[80] > 2 and ratios[80] > ratios[20],
    ratios=ratios,
)

# %% [markdown]
# The Hessian-vector product equals the full Hessian times $v$ (checked), and the full
# Hessian's extra cost grows with the number of inputs (the ratios printed above).
#
# ## What we saw
#
# * Derivative rules are written with engine operations, so `grad` nests: higher
#   derivatives, `hessian`, Newton's method.
# * `primitive(name, forward, derivative)` extends the engine; `gradcheck` compares it
#   with finite differences and catches a wrong rule.
# * `detect_anomaly()` stops at the first `nan` or `inf` and says which operation, created
#   on which line, produced it.
# * Forward mode (`jvp`) costs one pass per input direction, reverse mode (`vjp`,
#   `backward()`) one pass per output; `hvp` gives Hessian-vector products without the
#   Hessian.
#
# Next, [a GPT from scalars](12_a_gpt_from_scalars.ipynb): everything so far, put
# together in a small language model.
