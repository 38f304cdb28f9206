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
# # 9. Backpropagation through time
#
# A recurrent network reads a sequence one step at a time and carries a *hidden state*
# from each step to the next:
#
# $$h_t = \tanh(W_{ih}\, x_t + b_{ih} + W_{hh}\, h_{t-1} + b_{hh})$$
#
# (two bias vectors, as in PyTorch's `RNNCell`: they always appear added together, so
# one would do, but keeping both makes the weights interchangeable with PyTorch's). The
# same weights are used at every step. Training it needs nothing new: running the
# cell over a sequence builds one ordinary graph, `T` copies of the cell wired through
# $h$, and `backward()` follows it back through every step. That is all
# "backpropagation through time" means.
#
# What *is* new is the length of the paths. The gradient that reaches an early step has
# gone back through every later step, a product of one factor per step, and
# [notebook 6](06_vanishing_and_exploding_gradients.ipynb) showed what long products do.
#
# ## One cell, one step
#
# `RNNCell(nin, nhidden)` is one step: it takes an input and a hidden state (zeros if
# none is given) and returns the next hidden state, a list of `nhidden` Values. Its
# parameters are named and initialised as PyTorch's `torch.nn.RNNCell`.

# %%
from autograd_lite.nn import RNNCell

cell = RNNCell(1, 4, seed=0)
h1 = cell([0.5])  # the first step starts from h = 0
h2 = cell([-0.3], h1)  # the second reads the first's state
print([round(v.data, 4) for v in h2])
print([name for name, _ in cell.named_parameters()][:6], "...")

# %% [markdown]
# `h2` depends on the first input through `h1`, so its gradient reaches it:

# %%
from autograd_lite import Value

x1 = Value(0.5, label="x1")
h1 = cell([x1])
h2 = cell([-0.3], h1)
h2[0].backward()
print("d h2[0] / d x1 =", x1.grad)

# %% [markdown]
# ## The unrolled graph
#
# To see the whole graph, take the smallest recurrent network: one hidden unit, scalar
# weights $w$ (input), $u$ (recurrent) and $b$, so $h_t = \tanh(w x_t + u h_{t-1} + b)$,
# run for three steps from $h_{-1} = 0$, with the loss $L = (h_2 - 0.5)^2$. Each step is
# one node, `tanh(·)` of its weighted sum (the engine's fused neuron, as in `RNNCell`).
# We draw the whole graph, from the inputs to $L$, with the gradients of $L$: the root $L$
# holds $\partial L / \partial L = 1$, $h_2$ below it $2(h_2 - 0.5)$, and the same three
# parameter boxes feed every step, which is what "shared weights" looks like.

# %%
from autograd_lite import dense
from autograd_lite.claims import claim
from autograd_lite.viz import draw_dot


def unrolled(inputs, w, u, b, detach_every=None):
    """Hidden states of the one-unit RNN; with ``detach_every=k``, h is cut every k steps."""
    states, h = [], Value(0.0, label="h-1", requires_grad=False)
    for t, x in enumerate(inputs):
        if detach_every and t % detach_every == 0 and t > 0:
            h = h.detach()  # same number, no history: the gradient stops here
        x = Value(x, label=f"x{t}", requires_grad=False)
        h = dense([[w, u]], [x, h], [b], Value.tanh, fuse=True)[0]  # tanh(w x + u h + b)
        h.label = f"h{t}"
        states.append(h)
    return states


w, u, b = Value(0.8, label="w"), Value(-0.6, label="u"), Value(0.1, label="b")
states = unrolled([0.5, -1.0, 0.3], w, u, b)
loss = (states[-1] - 0.5) ** 2
loss.label = "L"
loss.backward()
draw_dot(loss, legend=False, digits=3)

# %% [markdown]
# ## A shared weight's gradient is a sum over time
#
# $u$ is used at every step, so its gradient adds one term per step, each the product of
# the gradient arriving at that step's pre-activation $z_t$ and what $u$ multiplied there,
# $h_{t-1}$:
#
# $$\frac{\partial L}{\partial u} = \sum_t \frac{\partial L}{\partial h_t}\,
#   (1 - h_t^2)\, h_{t-1}.$$
#
# Every $\partial L / \partial h_t$ is in the `.grad` of the state nodes after
# `backward()`, so we can add the terms ourselves and compare with `u.grad`:

# %%
previous = [0.0] + [h.data for h in states[:-1]]
terms = [h.grad * (1 - h.data**2) * h_before for h, h_before in zip(states, previous)]
for t, term in enumerate(terms):
    print(f"step {t}: dL/dh = {states[t].grad:+.5f}, term {term:+.6f}")
print(f"sum of the terms: {sum(terms):+.12f}")
print(f"u.grad:           {u.grad:+.12f}")
claim("u.grad is the sum of the terms", abs(sum(terms) - u.grad) < 1e-15)

# %% [markdown]
# (The term at step 0 is 0, because $h_{-1} = 0$.) The same holds for the 64 recurrent
# weights of the `RNNCell` above: $\partial L / \partial W_{hh}[i][j]$ is the sum over
# steps of $\partial L / \partial z_t[i] \cdot h_{t-1}[j]$. We check all 64 at once on a
# sequence of 5 steps:

# %%
sequence = [0.5, -0.3, 0.9, 0.1, -0.7]
cell.zero_grad()
hidden, h = [], None
for x in sequence:
    h = cell([x], h)
    hidden.append(h)
total = hidden[-1][0] + 2 * hidden[-1][1]  # any function of the last state will do
total.backward()
worst = 0.0
for i, row in enumerate(cell.weight_hh):
    for j, weight in enumerate(row):
        summed = sum(
            hidden[t][i].grad * (1 - hidden[t][i].data ** 2) * hidden[t - 1][j].data
            for t in range(1, len(sequence))
        )
        worst = max(worst, abs(summed - weight.grad))
print(f"largest difference over the 64 weights: {worst:.1e}")
claim("each W_hh gradient is its sum over steps", worst < 1e-15, worst=worst)

# %% [markdown]
# ## A task that needs memory
#
# Each sample is a sequence of `T` random numbers in $[-1, 1]$, and the target is the
# **first** one. To output it at the end, the network must carry it through `T - 1`
# steps of its hidden state. Predicting 0 always would give a mean squared error of
# $\mathrm{Var}(U(-1, 1)) = 1/3$: that is the score of a network that remembers nothing.
#
# `RNN(nin, nhidden, nout=1)` runs a cell over the sequence and reads out one number
# from the last hidden state with a linear layer. It is trained with `fit` like any
# model; float targets select the mean squared error.

# %%
import random

from autograd_lite.nn import RNN


def first_number_task(n_samples, length, seed):
    rng = random.Random(seed)
    X = [[rng.uniform(-1.0, 1.0) for _ in range(length)] for _ in range(n_samples)]
    y = [sequence[0] for sequence in X]
    return X, y


X, y = first_number_task(200, 12, seed=0)
model = RNN(1, 8, nout=1, seed=0)
counts = {
    name: len(values)
    for name, values in [
        ("weight_ih", [w for row in model.cell.weight_ih for w in row]),
        ("weight_hh", [w for row in model.cell.weight_hh for w in row]),
        ("bias_ih", model.cell.bias_ih),
        ("bias_hh", model.cell.bias_hh),
        ("readout", model.readout.parameters()),
    ]
}
print(model, "with", len(model.parameters()), "parameters:", counts)
claim("the RNN has 97 parameters", sum(counts.values()) == len(model.parameters()) == 97)
print("one sample:", [round(v, 2) for v in X[0]], "-> target", round(y[0], 2))

# %% [markdown]
# (The 97 parameters: $8 \times 1$ input weights, $8 \times 8$ recurrent weights, the two
# bias vectors of 8, and a readout of 8 weights and a bias.)
#
# We train networks on sequences of length 3, 6 and 12, for 40 epochs of Adam in
# mini-batches of 20, and score each on 100 new sequences. How well one network learns
# depends on its random initial weights, and a 40-epoch run is chaotic: the last bits of
# one matrix product's rounding (which differ from one CPU to another) can send it to
# another end. So for each length we train six networks, with seeds 0 to 5, and draw
# every one. `compile=True` replays the graph with numpy over each batch (the
# interpreted engine computes the same numbers, a few times more slowly; see
# [notebook 10](10_real_data_digits.ipynb)).

# %%
# %matplotlib inline
import statistics

import matplotlib.pyplot as plt

from autograd_lite.training import fit

lengths = [3, 6, 12]
seeds = range(6)
trained, final = {}, {}
for length in lengths:
    X, y = first_number_task(200, length, seed=0)
    X_test, y_test = first_number_task(100, length, seed=1)
    for seed in seeds:
        model = RNN(1, 8, nout=1, seed=seed)
        history = fit(
            model,
            X,
            y,
            X_test=X_test,
            y_test=y_test,
            epochs=40,
            batch_size=20,
            progress=False,
            compile=True,
        )
        trained[length, seed] = model
        final[length, seed] = history.records[-1]["test_loss"]
    print(f"T = {length:2d}: test loss after 40 epochs, seeds 0-5:", end="")
    print("".join(f" {final[length, seed]:.4f}" for seed in seeds))

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for i, length in enumerate(lengths):
    losses_here = [final[length, seed] for seed in seeds]
    ax.plot([i] * len(losses_here), losses_here, "o", alpha=0.6, label=None)
ax.axhline(1 / 3, color="grey", linestyle="--")
ax.text(2.45, 1 / 3, "remembers\nnothing", va="center", fontsize=8, color="grey")
ax.set_xticks(range(len(lengths)), [f"T = {length}" for length in lengths])
ax.set_xlim(-0.5, 2.9)
ax.set_yscale("log")
ax.set_ylabel("test loss after 40 epochs (MSE)")
ax.set_title("one dot per seed (0 to 5)")
plt.show()

by_length = {length: [final[length, seed] for seed in seeds] for length in lengths}
worst_6 = max(by_length[3] + by_length[6])
median_12 = statistics.median(by_length[12])
spread_12 = max(by_length[12]) / min(by_length[12])
print(f"worst on 3 or 6 steps: {worst_6:.4f}; on 12 steps: median {median_12:.4f},")
print(f"from {min(by_length[12]):.4f} to {max(by_length[12]):.4f} ({spread_12:.0f} times)")
claim("every network trained on 3 or 6 steps ends below 0.01", worst_6 < 0.01, worst=worst_6)
claim(
    "on 12 steps the median is more than twice the worst on 6, and the spread over ten times",
    median_12 > 2 * worst_6 and spread_12 > 10,
    median_12=median_12,
    worst_6=worst_6,
    spread_12=spread_12,
)

# %% [markdown]
# With 3 or 6 steps to remember across, every network learns the task almost perfectly:
# all twelve end below 0.01, under 3% of the 1/3 of a network that remembers nothing.
# With 12 steps the median network does more than twice as badly as the *worst* one on
# 6, and the six seeds spread over more than a factor of ten: some still learn the task
# well, and the worst stay far above the rest. The same network, the same optimiser:
# only the distance changed. (Which seed ends worst, and by how much, is exactly the
# kind of thing that changes with a CPU's rounding; the claims above do not.)
#
# ## The gradient against time
#
# To see why, we run the cell by hand (this loop is what `RNN` does inside) and keep
# every hidden state $h_t$. After `loss.backward()` every interior node holds the
# gradient of the loss with respect to itself, so the $h_t$'s `.grad` is
# $\partial L / \partial h_t$. We plot its norm against $t$, averaged over 20 sequences,
# for an untrained network, and for the best and the worst network trained on 12 steps.

# %%
import math


def gradient_norms_by_time(model, X, y):
    """The mean over the samples of |d loss / d h_t| for each step t."""
    totals = None
    for sequence, target in zip(X, y):
        states, h = [], None
        for x in sequence:
            h = model.cell(x, h)
            states.append(h)
        prediction = model.readout(states[-1])[0]
        loss = (prediction - target) ** 2
        loss.backward()
        norms = [math.sqrt(sum(unit.grad**2 for unit in state)) for state in states]
        totals = norms if totals is None else [a + b for a, b in zip(totals, norms)]
    return [total / len(X) for total in totals]


best_seed = min(seeds, key=lambda seed: final[12, seed])
worst_seed = max(seeds, key=lambda seed: final[12, seed])
X, y = first_number_task(20, 12, seed=0)
untrained = RNN(1, 8, nout=1, seed=0)
before = gradient_norms_by_time(untrained, X, y)
after_best = gradient_norms_by_time(trained[12, best_seed], X, y)
after_worst = gradient_norms_by_time(trained[12, worst_seed], X, y)
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(before, "o-", label="before training")
ax.plot(after_best, "o-", label=f"best on T = 12 (seed {best_seed})")
ax.plot(after_worst, "o-", label=f"worst on T = 12 (seed {worst_seed})")
ax.set_yscale("log")
ax.set_xlabel("time step t")
ax.set_ylabel("|dL / dh_t|")
ax.legend(loc="lower right")
plt.show()
per_step = (before[0] / before[-1]) ** (1 / 11)
ratio = {"before": before[0] / before[-1]}
ratio["best"] = after_best[0] / after_best[-1]
ratio["worst"] = after_worst[0] / after_worst[-1]
print(f"before training: |dL/dh_0| / |dL/dh_11| = {ratio['before']:.1e}", end="")
print(f", a factor {1 / per_step:.1f} lost per step")
print(f"best trained (seed {best_seed}):  {ratio['best']:.1e}")
print(f"worst trained (seed {worst_seed}): {ratio['worst']:.1e}")
claim("untrained, the gradient loses a factor 2 to 3 per step", 2 < 1 / per_step < 3)
claim(
    "the worst network's gradient at t = 0 is far smaller than the best's",
    ratio["worst"] < ratio["best"] / 100,
    ratio=ratio,
)

# %% [markdown]
# Going back one step multiplies the gradient by the derivative of the cell: $W_{hh}$
# (transposed) times $\tanh'$, which is at most 1. With PyTorch's initialisation the
# gradient shrinks by a factor between two and three per step, so after 11 steps the
# first input's share of the gradient is of order $10^{-4}$ of the last one's. The best
# network trained on 12 steps has learnt to keep the gradient flowing back to $t = 0$;
# in the worst one, the share of the first step is more than a hundred times smaller
# still (the ratios are printed above).
#
# It is tempting to read this as "the worst network ignores the first input, because no
# gradient tells it that the input matters". That reading is wrong, and the reason is
# the most common way a gradient vanishes in practice: **saturation**.
#
# ## A tiny gradient does not mean an unused input
#
# A tanh unit *saturates* when its input is large: its output is pinned near $\pm 1$ and
# its slope $\tanh'(z) = 1 - \tanh(z)^2$ is near 0. A recurrent unit that saturates can
# hold a bit for ever: with a recurrent weight of 5, a state near $+1$ feeds back $+5$,
# which no input weighted by 2 can overturn, so the next state is near $+1$ again, and
# likewise for $-1$. We build that network by hand: one hidden unit,
# $h_t = \tanh(2 x_t + 5 h_{t-1})$, and the readout $0.5\, h_{11}$. The first input sets
# the sign of $h_0$; after that the unit stays saturated on that sign, and the network
# predicts $\pm 0.5$, the mean of $x_0$ given its sign.

# %%
from autograd_lite import no_grad

latch = RNN(1, 1, nout=1, seed=0)
setting = {"cell.weight_ih.0.0": 2.0, "cell.weight_hh.0.0": 5.0, "readout.neurons.0.w.0": 0.5}
for name, parameter in latch.named_parameters():
    parameter.data = setting.get(name, 0.0)  # the biases are 0

X_fresh, y_fresh = first_number_task(500, 12, seed=2)


def states_and_predictions(model, X):
    """Every hidden value (h_t of each unit, as a list per sequence) and the prediction."""
    states, predictions = [], []
    with no_grad():
        for sequence in X:
            h, values = None, []
            for x in sequence:
                h = model.cell([x], h)
                values.append([unit.data for unit in h])
            states.append(values)
            predictions.append(model.readout(h)[0].data)
    return states, predictions


def use_of_inputs(predictions, X):
    """The correlation of the predictions with each input x_0 ... x_{T-1}."""
    return [statistics.correlation(predictions, [s[t] for s in X]) for t in range(len(X[0]))]


latch_states, latch_predictions = states_and_predictions(latch, X_fresh)
latch_use = use_of_inputs(latch_predictions, X_fresh)
latch_loss = statistics.fmean((p - t) ** 2 for p, t in zip(latch_predictions, y_fresh))
last_values = [values[-1][0] for values in latch_states]
latch_saturated = statistics.fmean(abs(h) > 0.99 for h in last_values)
latch_gradient = gradient_norms_by_time(latch, X, y)
print(f"test loss on 500 fresh sequences: {latch_loss:.4f} ({latch_loss * 3:.2f} of 1/3)")
print(f"correlation of the prediction with x_0: {latch_use[0]:.2f}")
print(f"with x_1 ... x_11, at most: {max(abs(c) for c in latch_use[1:]):.2f} (x_1)")
print(f"|h_11| > 0.99 in {latch_saturated:.0%} of the sequences")
print(f"|dL/dh_0| / |dL/dh_11| = {latch_gradient[0] / latch_gradient[-1]:.1e}")
later_use = max(abs(c) for c in latch_use[1:])
claim("the latch follows x_0, and no later input", latch_use[0] > 0.8 and later_use < 0.2)
claim(
    "its gradient at t = 0 is below 1e-20 of the last step's",
    latch_gradient[0] < 1e-20 * latch_gradient[-1],
)

# %% [markdown]
# The prediction follows $x_0$ and hardly any later input (the correlations above; $x_1$
# counts a little, because it decides the sign when $x_0$ is near 0), and the loss is
# about a quarter of what remembering nothing costs. Yet the gradient that reaches $h_0$
# is less than $10^{-20}$ of the one at the last step. Each step back
# multiplies it by $5 \tanh'(z_t)$, and in a saturated unit $\tanh'$ is a few
# thousandths: the unit stores the *sign* of $x_0$ perfectly, and for the same reason it
# cannot learn anything more (such as how large $x_0$ was) from the gradient. A near-zero
# gradient says that a small change of the weights would not change the output, not that
# the output does not depend on the input.
#
# The trained networks do the same to a degree. For each network trained on 12 steps we
# measure, on the same 500 fresh sequences, how strongly its prediction follows $x_0$
# and what share of its hidden values at the last step are saturated ($|h| > 0.99$):

# %%
saturated_share, follows_x0 = {}, {}
for seed in seeds:
    states, predictions = states_and_predictions(trained[12, seed], X_fresh)
    last = [value for values in states for value in values[-1]]
    saturated_share[seed] = statistics.fmean(abs(h) > 0.99 for h in last)
    follows_x0[seed] = use_of_inputs(predictions, X_fresh)[0]
    print(
        f"seed {seed}: test loss {final[12, seed]:.4f}, correlation with x_0 "
        f"{follows_x0[seed]:+.2f}, saturated {saturated_share[seed]:.0%}"
    )

fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.plot([saturated_share[s] for s in seeds], [final[12, s] for s in seeds], "o")
for seed in seeds:
    ax.annotate(f" {seed}", (saturated_share[seed], final[12, seed]), fontsize=8)
ax.set_yscale("log")
ax.set_xlabel("share of hidden values saturated at t = 11")
ax.set_ylabel("test loss (T = 12)")
plt.show()
claim(
    "the worst network on 12 steps has a fifth or more of its last hidden values saturated, "
    "the best at most 5%",
    saturated_share[worst_seed] >= 0.2 and saturated_share[best_seed] <= 0.05,
    saturated_share=saturated_share,
)

# %% [markdown]
# The networks that learnt the task well keep their units out of saturation (the best
# one has at most 5% of its last hidden values saturated); the worst has a fifth or more
# of them pinned near $\pm 1$, where the gradient cannot pass. A stuck network may still
# follow $x_0$, storing little more than its sign in saturated units, like the latch (the
# correlations printed above); under another CPU's rounding the same seed can instead
# give up on $x_0$ and follow a recent input. That is why the cell claims only what holds
# for every seed and every CPU we test on.
#
# ## Saturated and unsaturated: two ways to vanish
#
# [Notebook 6](06_vanishing_and_exploding_gradients.ipynb) had a gradient that vanished
# too, through ten sigmoid layers. Were its units saturated? We measure each unit's slope
# as a share of the largest slope its function has (1/4 for the sigmoid, 1 for tanh),
# over 06's data and network and over the latch's 500 sequences:

# %%
from autograd_lite.data import make_moons
from autograd_lite.nn import MLP

moons, _ = make_moons(64, noise=0.1, seed=0)
sigmoid_net = MLP(2, [16] * 10 + [1], activation="sigmoid", init="xavier", seed=0)
sigmoid_slopes = []
with no_grad():
    for point in moons:
        h = point
        for layer in sigmoid_net.layers[:-1]:
            h = layer(h)
            sigmoid_slopes += [v.data * (1 - v.data) / 0.25 for v in h]
latch_slopes = [1 - value[0] ** 2 for values in latch_states for value in values[1:]]

fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), sharex=True, layout="constrained")
for ax, slopes, title in [
    (axes[0], sigmoid_slopes, "notebook 6: ten sigmoid layers"),
    (axes[1], latch_slopes, "the latch: tanh, steps 1 to 11"),
]:
    ax.hist(slopes, bins=40, range=(0, 1))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("slope / largest slope")
axes[0].set_ylabel("units")
plt.show()
flat = {
    "sigmoid network": statistics.fmean(s < 0.02 for s in sigmoid_slopes),
    "latch": statistics.fmean(s < 0.02 for s in latch_slopes),
}
print(f"slope below 2% of the largest: {flat}")
print(f"median slope share: sigmoid network {statistics.median(sigmoid_slopes):.2f}, ", end="")
print(f"latch {statistics.median(latch_slopes):.4f}")
claim("06's network has no saturated units", flat["sigmoid network"] < 0.01)
claim("most of the latch's slopes are flat", flat["latch"] > 0.5)

# %% [markdown]
# Two different failures with the same symptom. Notebook 6's units are not saturated at
# all: none has a slope below 2% of the largest, and the median unit works at nearly its
# steepest. Its gradient vanishes because even the steepest sigmoid slope is 1/4, and a
# product of many factors below one shrinks. The latch's units sit where the slope is
# almost 0: its gradient vanishes because the units are saturated, which no
# initialisation scheme fixes once training has pushed them there. The remedies differ
# too: ReLU and a good initialisation for the first; for the second, keeping
# pre-activations small (normalisation, smaller learning rates), and for recurrent
# networks gated cells (below).
#
# ## A tiny gradient does not mean a minimum either
#
# A third place where the gradient is near zero is a *saddle point*: a point that is a
# minimum along some directions and a maximum along others. The six-hump camel of
# [notebook 7](07_optimisers_and_local_minima.ipynb) has one at the origin, where
# $f = 0$: its curvature is $+8$ along $x$ and $-8$ along $y$ (the Hessian's diagonal;
# the $xy$ term tilts the two directions slightly). Gradient descent started a millionth
# away from it, at $(0, 10^{-6})$, as a run that has slid into the saddle would be, waits
# there: the gradient is of order $10^{-5}$, and the distance along the downhill
# direction grows by only a factor of about $1 + 8\eta$ per step. Then it escapes down to
# a global minimum.

# %%
from autograd_lite.optim import SGD


def camel(x, y):
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (4 * y**2 - 4) * y**2


px, py = Value(0.0), Value(1e-6)  # a point on the surface (x and y name the data here)
optimizer = SGD([px, py], lr=0.01)
heights, gradient_sizes = [], []
for _ in range(300):
    optimizer.zero_grad()
    height = camel(px, py)
    height.backward()
    heights.append(height.data)
    gradient_sizes.append(math.hypot(px.grad, py.grad))
    optimizer.step()

fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 4), sharex=True, layout="constrained")
top.plot(heights)
top.set_ylabel("f")
bottom.plot(gradient_sizes)
bottom.set_yscale("log")
bottom.set_ylabel("|gradient|")
bottom.set_xlabel("step of SGD (lr 0.01)")
plt.show()
# The stall: the steps at which the gradient is tiny and f is still that of the saddle.
stalled = [t for t, (g, f) in enumerate(zip(gradient_sizes, heights)) if g < 1e-3 and f > -1e-3]
print(f"|gradient| < 1e-3 with f within 1e-3 of 0 for steps {stalled[0]} to {stalled[-1]}")
print(f"f at the end: {heights[-1]:.4f}")
claim(
    "the run stalls at the saddle for over 50 steps, then reaches a global minimum",
    len(stalled) > 50 and abs(heights[-1] + 1.0316) < 1e-3,
    stalled=len(stalled),
)

# %% [markdown]
# For a long stretch (printed above) the gradient is tiny and the loss does not move:
# from the curve alone it looks like the end of training. It is not a minimum; the way
# down was there all along, along $y$. In a network with thousands of weights most
# critical points with a poor loss are thought to be saddles like this one, and
# momentum or Adam, or the noise of mini-batches, carry a run past them sooner.
#
# ## The other way: exploding
#
# If the recurrent weights are large and the units do not saturate, each step back
# *multiplies* the gradient instead. A ReLU cell whose recurrent weights are scaled up
# by 2.5:

# %%
relu_model = RNN(1, 8, "relu", nout=1, seed=0)
for row in relu_model.cell.weight_hh:
    for weight in row:
        weight.data *= 2.5

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(gradient_norms_by_time(untrained, X, y), "o-", label="tanh, PyTorch init")
ax.plot(gradient_norms_by_time(relu_model, X, y), "o-", label="relu, recurrent weights × 2.5")
ax.set_yscale("log")
ax.set_xlabel("time step t")
ax.set_ylabel("|dL / dh_t|")
ax.legend()
plt.show()

# %% [markdown]
# Now the gradient *grows* going back in time instead of shrinking. Over these 12 steps
# that is about one order of magnitude, not more (the ratio and the growth per step are
# printed below); but it compounds, so on longer sequences it grows geometrically:

# %%
relu_norms = gradient_norms_by_time(relu_model, X, y)
growth = relu_norms[0] / relu_norms[-1]
print(f"T = 12: |dL/dh_0| / |dL/dh_11| = {growth:.1f}, {growth ** (1 / 11):.2f} per step")
X48, y48 = first_number_task(20, 48, seed=0)
relu_norms_48 = gradient_norms_by_time(relu_model, X48, y48)
growth_48 = relu_norms_48[0] / relu_norms_48[-1]
print(f"T = 48: |dL/dh_0| / |dL/dh_47| = {growth_48:.1e}")
claim(
    "the ReLU gradient grows 5 to 50 times over 12 steps, >1e3 over 48",
    5 < growth < 50 and growth_48 > 1e3,
)

# %% [markdown]
# Gradient clipping (`optim.clip_grad_norm_`, see
# [notebook 6](06_vanishing_and_exploding_gradients.ipynb)) is the standard guard.
#
# ## Truncated backpropagation through time
#
# On long sequences the full backward pass is expensive (the graph of every step is
# kept in memory) and, as we saw, the gradient from far back is either negligible or
# explosive. *Truncated* BPTT runs the forward pass over the whole sequence but cuts the
# graph every $k$ steps: the hidden state is carried on as a number (`detach()`), so no
# gradient flows back past the cut. For a loss at the end, the gradient of a shared
# weight then keeps only the terms of the last chunk of the sum over time. We check that
# on the one-unit network, over 6 steps cut every $k = 2$:

# %%
inputs6 = [0.5, -1.0, 0.3, 0.8, -0.2, 0.6]


def gradient_of_u(detach_every=None):
    w, u, b = Value(0.8), Value(-0.6), Value(0.1)
    states = unrolled(inputs6, w, u, b, detach_every)
    ((states[-1] - 0.5) ** 2).backward()
    previous = [0.0] + [h.data for h in states[:-1]]
    terms = [h.grad * (1 - h.data**2) * p for h, p in zip(states, previous)]
    return u.grad, terms


full, full_terms = gradient_of_u()
truncated, truncated_terms = gradient_of_u(detach_every=2)
print("terms of the sum, full:     ", " ".join(f"{t:+.5f}" for t in full_terms))
print("terms of the sum, truncated:", " ".join(f"{t:+.5f}" for t in truncated_terms))
last_two = sum(full_terms[-2:])
print(f"u.grad full {full:+.6f}, truncated {truncated:+.6f}, last two terms {last_two:+.6f}")
claim("truncated u.grad is the last two terms", abs(truncated - last_two) < 1e-15)
claim("the earlier terms are 0", all(t == 0.0 for t in truncated_terms[:-2]))

# %% [markdown]
# The truncated gradient is exactly the last two terms of the full sum; the earlier
# steps contribute nothing. The forward values are unchanged (the cut carries the same
# number). With a loss at every step, as in a language model, each chunk's losses send
# gradient back within their chunk. The price: a dependency longer than $k$ steps can
# no longer be learned from the gradient at all, which is the trade-off made to train on
# long sequences.
#
# ## What we saw
#
# * An RNN unrolled over a sequence is an ordinary graph; `backward()` through it is
#   backpropagation through time.
# * The gradient reaching step $t$ is a product of one factor per later step, so it
#   shrinks or grows geometrically with the distance: plain RNNs struggle to learn
#   dependencies more than a few steps long, and over six seeds the results on 12 steps
#   spread over more than a factor of ten.
# * A near-zero gradient does not mean an unused input: saturated units (slope near 0)
#   can store the sign of the first input for ever and pass no gradient back. It does
#   not mean a minimum either: a saddle stalls gradient descent before a way down.
#   Notebook 6's gradient vanished without saturation, through slopes of at most 1/4.
# * A shared weight's gradient is the sum of one term per time step; truncated BPTT
#   keeps only the terms of the last $k$ steps.
# * Gated cells (LSTM, GRU) were invented for this: their state is carried from step to
#   step by *adding* an update to a copy multiplied only by a gate (a number between 0
#   and 1 that the network learns), not by a weight matrix and $\tanh'$, so with the gate
#   near 1 the gradient along the state can survive many steps. They are built from the
#   same primitives (`sigmoid`, `tanh`, `+`, `*`) and would train with this engine
#   unchanged, only more slowly.
#
# Next, [real data](10_real_data_digits.ipynb): handwritten digits, and the compiled
# replay that makes training on them quick.
