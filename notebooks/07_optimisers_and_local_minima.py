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
# # 5. Optimisers and local minima
#
# Training a network is walking downhill on the loss surface, one gradient step at a
# time. A network's surface has thousands of dimensions; here we take one with two, so
# that we can draw it and watch different optimisers walk on it: plain gradient descent
# (SGD), SGD with momentum, RMSprop, Adam, and a cyclical learning rate.
#
# ## The surface
#
# The *six-hump camel* function is a classic test of optimisers:
#
# $$f(x, y) = \left(4 - 2.1 x^2 + \tfrac{x^4}{3}\right) x^2 + x y + (4 y^2 - 4) y^2$$
#
# It has six local minima: two global ones, $f \approx -1.0316$ at
# $(\pm 0.0898, \mp 0.7126)$, and four worse ones. We write it with ordinary arithmetic
# on `Value`s, so the engine can differentiate it; called with floats, the same function
# returns a float.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from autograd_lite import Value


def camel(x, y):
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (4 * y**2 - 4) * y**2


print("f at a global minimum:", camel(0.0898, -0.7126))

# %% [markdown]
# ## One step, by hand
#
# A gradient step: evaluate $f$, call `backward()`, and move each coordinate against
# its partial derivative, scaled by a learning rate.

# %%
x, y = Value(-1.5), Value(-1.3)
height = camel(x, y)
height.backward()
print(f"f = {height.data:.4f}, gradient = ({x.grad:.4f}, {y.grad:.4f})")

learning_rate = 0.01
x.data -= learning_rate * x.grad
y.data -= learning_rate * y.grad
print(f"after one step: ({x.data:.4f}, {y.data:.4f}), f = {camel(x.data, y.data):.4f}")

# %% [markdown]
# `optim.SGD` is exactly this update, and the other optimisers change the rule:
#
# * **SGD**: step $= -\eta\, g$.
# * **momentum**: keep a velocity $v \leftarrow \mu v + g$ and step $-\eta v$. Like a
#   ball rolling downhill, it speeds up along consistent slopes and can roll through
#   small dips.
# * **RMSprop**: divide each coordinate's step by the running root mean square of its
#   gradient, so steep and flat directions move at similar speeds.
# * **Adam**: momentum and RMSprop together, with a correction for the first steps.
# * **cyclical learning rate** (`lr_scheduler.CyclicLR`): the rate rises and falls in
#   cycles. The high phases take big steps that can jump out of a basin; the low phases
#   settle into one.
#
# Every optimiser takes a list of parameters and has the same two methods,
# `zero_grad()` and `step()`, so one loop runs them all. It returns the path: the point
# after every step.

# %%
from autograd_lite.optim import SGD, Adam, RMSprop
from autograd_lite.optim.lr_scheduler import CyclicLR

OPTIMISERS = {
    "SGD": lambda params: SGD(params, lr=0.01),
    "momentum": lambda params: SGD(params, lr=0.01, momentum=0.9),
    "RMSprop": lambda params: RMSprop(params, lr=0.02),
    "Adam": lambda params: Adam(params, lr=0.1),
    "momentum, cyclical lr": lambda params: SGD(params, lr=0.01, momentum=0.9),
}


def descend(name, start, steps=150):
    """The path of the optimiser ``name`` from ``start``, one point per step."""
    x, y = Value(start[0]), Value(start[1])
    optimizer = OPTIMISERS[name]([x, y])
    scheduler = None
    if name == "momentum, cyclical lr":
        # The rate rises from 0.005 to 0.1 over 25 steps and falls back over 25; as in
        # PyTorch, CyclicLR also cycles the momentum (between 0.9 and 0.8), inversely.
        scheduler = CyclicLR(optimizer, base_lr=0.005, max_lr=0.1, step_size_up=25)
    path = [(x.data, y.data)]
    for _ in range(steps):
        optimizer.zero_grad()
        camel(x, y).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        path.append((x.data, y.data))
    return path


start = (-1.5, -1.3)
paths = {name: descend(name, start) for name in OPTIMISERS}
for name, path in paths.items():
    end_x, end_y = path[-1]
    print(f"{name:>22}: ends at ({end_x:+.4f}, {end_y:+.4f}), f = {camel(end_x, end_y):+.4f}")

# %% [markdown]
# Five optimisers, the same start, three different minima. `plot_trajectories` draws the
# paths over the contour lines of the surface: a circle marks the start, a star the end.

# %%
from autograd_lite.viz.plots import plot_trajectories

fig, ax = plt.subplots(figsize=(6.5, 4))
plot_trajectories(camel, paths, bounds=(-2.2, 2.0, -1.5, 1.5), ax=ax)
plt.show()

# %% [markdown]
# What happened:
#
# * **SGD** walks straight down into the nearest basin, a poor local minimum with
#   $f = 2.10$, and stays there: at the bottom the gradient is zero, so nothing moves it.
# * **Momentum** builds up speed on the way down, overshoots that basin, and settles in
#   another local minimum ($f = -0.22$).
# * **RMSprop** and **Adam** rescale each coordinate: the first steps are of similar
#   length in $x$ and $y$ whatever the slope, which takes them across to a global
#   minimum.
# * The **cyclical learning rate** also reaches a global minimum: a high-rate phase
#   throws the point out of the first basins, a low-rate phase lets it settle.
#
# ## Is one optimiser simply better?
#
# No. Which minimum an optimiser finds depends on where it starts and on its settings.
# Run the five from a few other starting points and record the height where each ends:

# %%
import math

starts = [(-1.5, -1.3), (2.0, 1.2), (-2.2, -0.2), (1.2, 1.6), (0.5, -1.4)]
print(f"{'start':>14}" + "".join(f"{name:>23}" for name in OPTIMISERS))
for start in starts:
    heights = [camel(*descend(name, start)[-1]) for name in OPTIMISERS]
    cells = [f"{h:>23.4f}" if math.isfinite(h) else f"{'diverged':>23}" for h in heights]
    print(f"{start!s:>14}" + "".join(cells))

# %% [markdown]
# Every optimiser misses the global minimum from some start, and each finds it from
# others. The cyclical schedule, the best from our first start, *diverges* from two
# others: near their steep walls its high phase (rate 0.1) is too long a step. On a
# network's loss surface the picture is similar, with a saving grace: in many dimensions
# most poor critical points are saddles rather than minima, and there is usually a way
# further down. Adam's robustness to the scale of the gradient is why it is `fit`'s
# default.
#
# ## A learning rate too large
#
# One more failure worth seeing, the one that ended some cyclical runs above. The camel
# grows like $x^6$ away from the centre, so its walls are steep. A step that is too long
# lands higher up a wall, where the gradient is larger, so the next step is longer
# still. SGD with learning rate 0.15 (instead of 0.01) from our start:

# %%
x, y = Value(-1.5), Value(-1.3)
optimizer = SGD([x, y], lr=0.15)
for step in range(8):
    optimizer.zero_grad()
    height = camel(x, y)
    height.backward()
    print(f"step {step}: ({x.data:+.3g}, {y.data:+.3g}), f = {height.data:.3g}")
    optimizer.step()

# %% [markdown]
# Within a few steps the numbers overflow to `inf`, and then `inf - inf` gives `nan`.
# Adam's step is roughly bounded by its learning rate whatever the gradient; for SGD, a
# smaller rate or gradient clipping
# (see [notebook 6](06_vanishing_and_exploding_gradients.ipynb)) prevents it.
#
# ## What we saw
#
# * All optimisers share `zero_grad()` and `step()`; they differ in how they turn the
#   gradient into a step.
# * Plain gradient descent stops in the first basin it meets; momentum, per-coordinate
#   scaling and cyclical rates change which basin that is, but none always wins.
# * `plot_trajectories(surface, paths)` draws the paths over any function of two
#   variables written with the engine.
#
# Next, [backpropagation through time](06_backpropagation_through_time.ipynb).
