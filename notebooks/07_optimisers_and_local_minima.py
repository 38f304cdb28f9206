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
# # 7. Optimisers and local minima
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
from autograd_lite.claims import claim


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
# `optim.SGD` is exactly this update, and the other optimisers change the rule. For each
# coordinate $\theta$ with gradient $g$ and learning rate $\eta$ (the running quantities
# start at 0):
#
# * **SGD**: $\theta \leftarrow \theta - \eta\, g$.
# * **momentum**: keep a velocity $b \leftarrow \mu b + g$ (on the first step $b = g$) and
#   step $\theta \leftarrow \theta - \eta\, b$. Like a ball rolling downhill, it speeds up
#   along consistent slopes and can roll through small dips.
# * **RMSprop**: keep a running mean of the squared gradient,
#   $s \leftarrow \alpha s + (1 - \alpha) g^2$ ($\alpha = 0.99$), and step
#   $\theta \leftarrow \theta - \eta\, g / (\sqrt{s} + \epsilon)$: each coordinate's step is
#   divided by the typical size of its gradient, so steep and flat directions move at
#   similar speeds.
# * **Adam**: both running means, $m \leftarrow \beta_1 m + (1 - \beta_1) g$ and
#   $v \leftarrow \beta_2 v + (1 - \beta_2) g^2$ ($\beta_1 = 0.9$, $\beta_2 = 0.999$),
#   corrected for starting at 0, $\hat m = m / (1 - \beta_1^t)$ and
#   $\hat v = v / (1 - \beta_2^t)$ at step $t$, and the step
#   $\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$.
# * **cyclical learning rate** (`lr_scheduler.CyclicLR`): the rate rises and falls in
#   cycles. The high phases take big steps that can jump out of a basin; the low phases
#   settle into one.
#
# Every optimiser takes a list of parameters and has the same two methods,
# `zero_grad()` and `step()`. Before running them for long, we check the equations
# above against the library: one step of each from our start, computed by hand from the
# gradient, and by the optimiser.

# %%
import math

from autograd_lite.optim import SGD, Adam, RMSprop
from autograd_lite.optim.lr_scheduler import CyclicLR

LEARNING_RATES = {"SGD": 0.01, "momentum": 0.01, "RMSprop": 0.02, "Adam": 0.1}


def first_step_by_hand(name, g):
    """The first step (change of one coordinate) from the equations above."""
    lr = LEARNING_RATES[name]
    if name in ("SGD", "momentum"):  # the velocity starts as the gradient itself
        return -lr * g
    if name == "RMSprop":
        s = (1 - 0.99) * g**2
        return -lr * g / (math.sqrt(s) + 1e-8)
    m, v = (1 - 0.9) * g, (1 - 0.999) * g**2
    m_hat, v_hat = m / (1 - 0.9), v / (1 - 0.999)
    return -lr * m_hat / (math.sqrt(v_hat) + 1e-8)


def first_step_by_library(name):
    x, y = Value(-1.5), Value(-1.3)
    lr = LEARNING_RATES[name]
    optimizer = {
        "SGD": lambda p: SGD(p, lr=lr),
        "momentum": lambda p: SGD(p, lr=lr, momentum=0.9),
        "RMSprop": lambda p: RMSprop(p, lr=lr),
        "Adam": lambda p: Adam(p, lr=lr),
    }[name]([x, y])
    camel(x, y).backward()
    gradient = (x.grad, y.grad)
    optimizer.step()
    return gradient, (x.data + 1.5, y.data + 1.3)


print(f"{'':>9} {'lr':>5} {'step in x':>11} {'step in y':>11} {'length':>7}   by hand == library")
for name in LEARNING_RATES:
    (gx, gy), (dx, dy) = first_step_by_library(name)
    by_hand = (first_step_by_hand(name, gx), first_step_by_hand(name, gy))
    agree = all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(by_hand, (dx, dy)))
    length = math.hypot(dx, dy)
    print(f"{name:>9} {LEARNING_RATES[name]:>5} {dx:>+11.4f} {dy:>+11.4f} {length:>7.3f}   {agree}")
    claim(
        "by hand == library, first steps 0.14 to 0.28", agree and 0.14 <= round(length, 2) <= 0.28
    )

# %% [markdown]
# The equations are the library's. And the table shows what they do with a gradient of
# $(-0.14, -26.3)$: SGD and momentum step in proportion to it, almost straight along $y$;
# RMSprop and Adam take the *same* length in both coordinates (on the first step
# $\hat m / \sqrt{\hat v} = g / |g| = \pm 1$ for Adam, and $g / \sqrt{0.01\,g^2} = \pm 10$
# for RMSprop), so their first step is $\eta$ or $10\eta$ per coordinate whatever the
# slope.
#
# That is also why the learning rates differ: the same number means a different step.
# SGD's rate multiplies the gradient, and $\eta = 0.01$ already gives a first step of
# 0.26 here (a rate much larger diverges, as we will see); Adam's rate *is* its step
# size, so it needs a larger one, 0.1, to cover the same ground; RMSprop's first step is
# ten times its rate, so 0.02 gives 0.2. The rates were chosen so that the first steps
# have similar lengths, between 0.14 and 0.28, not tuned for the best result.
#
# One loop runs them all. It returns the path: the point after every step.

# %%
OPTIMISERS = {
    "SGD": lambda params: SGD(params, lr=LEARNING_RATES["SGD"]),
    "momentum": lambda params: SGD(params, lr=LEARNING_RATES["momentum"], momentum=0.9),
    "RMSprop": lambda params: RMSprop(params, lr=LEARNING_RATES["RMSprop"]),
    "Adam": lambda params: Adam(params, lr=LEARNING_RATES["Adam"]),
    "momentum, cyclical lr": lambda params: SGD(params, lr=0.01, momentum=0.9),
}


def descend(name, start, steps=150, report=None):
    """The path of the optimiser ``name`` from ``start``, one point per step.

    With a ``report`` list, a run that leaves the region |x|, |y| <= 3 appends the step,
    the point and the learning rate at that moment.
    """
    x, y = Value(start[0]), Value(start[1])
    optimizer = OPTIMISERS[name]([x, y])
    scheduler = None
    if name == "momentum, cyclical lr":
        # The rate rises from 0.005 to 0.1 over 25 steps and falls back over 25; as in
        # PyTorch, CyclicLR also cycles the momentum (between 0.9 and 0.8), inversely.
        scheduler = CyclicLR(optimizer, base_lr=0.005, max_lr=0.1, step_size_up=25)
    path = [(x.data, y.data)]
    for step in range(steps):
        if report is not None and max(abs(x.data), abs(y.data)) > 3:
            report.append((step, x.data, y.data, optimizer.param_groups[0]["lr"]))
            report = None
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
ends = {name: round(camel(*path[-1]), 2) for name, path in paths.items()}
claim(
    "SGD 2.10, momentum -0.22, the other three -1.03",
    ends
    == {
        "SGD": 2.10,
        "momentum": -0.22,
        "RMSprop": -1.03,
        "Adam": -1.03,
        "momentum, cyclical lr": -1.03,
    },
)

# %% [markdown]
# Five optimisers, the same start, three different minima. To read the picture we need
# the landmarks of the surface: its minima, found by running plain gradient descent to
# a standstill from a grid of starts, and its saddle at the origin, where the gradient is
# 0 but the Hessian (`hessian` from `autograd_lite.functional`) has one positive and one
# negative eigenvalue: uphill along one direction, downhill along the other.

# %%
from autograd_lite.functional import hessian


def settle(start, steps=600):
    """Where plain gradient descent with a small rate comes to rest from ``start``."""
    x, y = Value(start[0]), Value(start[1])
    optimizer = SGD([x, y], lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        camel(x, y).backward()
        optimizer.step()
    return round(x.data, 4), round(y.data, 4)


grid_starts = [(gx / 2, gy / 2) for gx in range(-4, 5) for gy in range(-2, 3) if (gx, gy) != (0, 0)]
minima = sorted({settle(start) for start in grid_starts}, key=lambda m: camel(*m))
GLOBAL = round(camel(*minima[0]), 4)
for point in minima:
    print(f"minimum at ({point[0]:+.4f}, {point[1]:+.4f}), f = {camel(*point):+.4f}")
(a, b), (_, c) = hessian(lambda v: camel(v[0], v[1]))([0.0, 0.0])
eigenvalues = [(a + c) / 2 + sign * math.sqrt(((a - c) / 2) ** 2 + b * b) for sign in (1, -1)]
print(f"at the origin f = {camel(0.0, 0.0)}, ", end="")
print(f"Hessian eigenvalues {eigenvalues[0]:+.2f} and {eigenvalues[1]:+.2f}")
claim("six minima, two of them global", len(minima) == 6 and round(camel(*minima[1]), 4) == GLOBAL)
claim("the global minimum is -1.0316", GLOBAL == -1.0316)
claim("the origin is a saddle", eigenvalues[0] > 0 > eigenvalues[1])

# %% [markdown]
# `plot_trajectories` draws the paths over the contour lines of the surface: a circle
# marks the start, a star the end. We label the contour levels and mark the six minima
# (black crosses) and the saddle (a black ×).

# %%
from autograd_lite.viz.plots import plot_trajectories

fig, ax = plt.subplots(figsize=(8.5, 4), layout="constrained")
levels = [-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0]
plot_trajectories(camel, paths, bounds=(-2.2, 2.0, -1.5, 1.5), levels=levels, ax=ax)
ax.clabel(ax.collections[0], fontsize=7, fmt="%g")  # the heights of the contour lines
ax.plot(*zip(*minima), "k+", markersize=10, label="minima")
ax.plot(0.0, 0.0, "kx", markersize=8, label="saddle")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))  # beside the plot, hiding no path
plt.show()

# %% [markdown]
# What happened:
#
# * **SGD** walks straight down into the nearest basin, a poor local minimum with
#   $f = 2.10$, and stays there: at the bottom the gradient is zero, so nothing moves it.
# * **Momentum** builds up speed on the way down, overshoots that basin, and settles in
#   another local minimum ($f = -0.22$).
# * **RMSprop** and **Adam** rescale each coordinate: their first steps are of equal
#   length in $x$ and $y$ whatever the slope (the table above), so they head diagonally
#   across, towards a global minimum, and reach it (Adam, with its momentum, overshoots
#   and circles back in).
# * The **cyclical learning rate** also reaches a global minimum, after a wide detour (its
#   path leaves the top of the picture): a high-rate phase throws the point out of the
#   first basins, a low-rate phase lets it settle.
#
# ## Is one optimiser simply better?
#
# No. Which minimum an optimiser finds depends on where it starts and on its settings.
# Run the five from a few other starting points and record the height where each ends:

# %%
starts = [(-1.5, -1.3), (2.0, 1.2), (-2.2, -0.2), (1.2, 1.6), (0.5, -1.4)]
finds_global = {name: [] for name in OPTIMISERS}
escapes = []
print(f"{'start':>14}" + "".join(f"{name:>23}" for name in OPTIMISERS))
for start in starts:
    heights = []
    for name in OPTIMISERS:
        report = []
        heights.append(camel(*descend(name, start, report=report)[-1]))
        escapes.extend((name, start, *event) for event in report)
    cells = [f"{h:>23.4f}" if math.isfinite(h) else f"{'diverged':>23}" for h in heights]
    print(f"{start!s:>14}" + "".join(cells))
    for name, h in zip(OPTIMISERS, heights):
        finds_global[name].append(math.isfinite(h) and abs(h - GLOBAL) < 1e-3)
claim(
    "each optimiser finds the global minimum from some starts, not all",
    all(any(found) and not all(found) for found in finds_global.values()),
)

# %% [markdown]
# Every optimiser misses the global minimum from some start, and each finds it from
# others (the cell checks both). The cyclical schedule, the best from our first start,
# *diverges* from two others. Where did those runs leave the picture, and at what rate?

# %%
for name, start, step, x_at, y_at, rate in escapes:
    print(f"{name} from {start}: step {step}, at ({x_at:+.2f}, {y_at:+.2f}), lr {rate:.3f}")
escaped = {(name, start) for name, start, *_ in escapes}
claim(
    "only the cyclical runs from (1.2, 1.6) and (0.5, -1.4) escape",
    escaped == {("momentum, cyclical lr", (1.2, 1.6)), ("momentum, cyclical lr", (0.5, -1.4))},
)
claim(
    "both along y, below the peak rate",
    all(abs(y_at) > 3 > abs(x_at) and rate < 0.1 for *_, x_at, y_at, rate in escapes),
)

# %% [markdown]
# Both runs escape along $y$, while $x$ stays small, and while the rate is still rising,
# well below its peak of 0.1: with the speed momentum has gathered, a moderate rate is
# already too much on this surface's steep $y$ walls. On a network's loss surface the
# picture is similar, with a saving grace: in many dimensions most poor critical points
# are thought to be saddles rather than minima, with a way further down. Adam's
# robustness to the scale of the gradient is why it is `fit`'s default.
#
# ## A learning rate too large
#
# One more failure worth seeing, the one that ended those cyclical runs. Along $y$ the
# camel is $4y^4 - 4y^2$ plus the small $xy$, so its slope $16y^3 - 8y$ grows with the cube
# of $y$. A step that is too long lands higher up the wall, where the gradient is larger,
# so the next step is longer still. For plain SGD the step $\eta(16y^3 - 8y)$ carries
# the point past $-y$ (to a larger $|y|$) once $\eta(16y^2 - 8) > 2$, that is once
# $|y| > \sqrt{(2/\eta + 8)/16}$. With learning rate 0.15 (instead of 0.01) that threshold
# is below our start's $|y| = 1.3$:

# %%
threshold = math.sqrt((2 / 0.15 + 8) / 16)
print(f"|y| beyond which an SGD step with lr 0.15 overshoots: {threshold:.3f}")
x, y = Value(-1.5), Value(-1.3)
optimizer = SGD([x, y], lr=0.15)
for step in range(8):
    optimizer.zero_grad()
    height = camel(x, y)
    height.backward()
    print(f"step {step}: ({x.data:+.3g}, {y.data:+.3g}), f = {height.data:.3g}")
    optimizer.step()
claim("the threshold is below 1.3 and SGD ends in nan", threshold < 1.3 and math.isnan(height.data))

x, y = Value(-1.5), Value(-1.3)
optimizer = Adam([x, y], lr=0.15)
for _ in range(150):
    optimizer.zero_grad()
    camel(x, y).backward()
    optimizer.step()
print(f"Adam with lr 0.15 from the same start ends at f = {camel(x.data, y.data):.4f}")
claim("Adam with lr 0.15 reaches the global minimum", abs(camel(x.data, y.data) - GLOBAL) < 1e-3)
# %% [markdown]
# It is $y$ that runs away, and within a few steps the numbers overflow to `inf`; then
# `inf - inf` gives `nan`. Adam's step is roughly bounded by its learning rate whatever
# the gradient, and with the same rate 0.15 it reaches the global minimum; for SGD, a
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
# Next, [training tricks](08_training_tricks.ipynb): dropout, residual connections, batch
# normalisation, random restarts, and these update rules once more, with their bias
# correction.
