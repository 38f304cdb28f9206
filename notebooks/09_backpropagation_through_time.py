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
# We draw the graph up to $h_2$, with the gradients of $L$: the same three parameter
# boxes feed every step, which is what "shared weights" looks like.

# %%
from autograd_lite import dense
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
draw_dot(states[-1], legend=False, digits=3)

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
assert abs(sum(terms) - u.grad) < 1e-15

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
assert worst < 1e-15

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
assert sum(counts.values()) == len(model.parameters()) == 97
print("one sample:", [round(v, 2) for v in X[0]], "-> target", round(y[0], 2))

# %% [markdown]
# (The 97 parameters: $8 \times 1$ input weights, $8 \times 8$ recurrent weights, the two
# bias vectors of 8, and a readout of 8 weights and a bias.)
#
# We train networks on sequences of length 3, 6 and 12, for 40 epochs of Adam in
# mini-batches of 20, and score each on 100 new sequences. How well one network learns
# depends on its random initial weights, so for each length we train three, with seeds
# 0, 1 and 2. `compile=True` replays the graph with numpy over each batch (the
# interpreted engine computes the same numbers, a few times more slowly; see
# [notebook 10](10_real_data_digits.ipynb)).

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from autograd_lite.training import fit

lengths = [3, 6, 12]
seeds = [0, 1, 2]
trained, final = {}, {}
fig, ax = plt.subplots(figsize=(7.5, 3.5), layout="constrained")
for length, colour in zip(lengths, ["C0", "C1", "C2"]):
    X, y = first_number_task(200, length, seed=0)
    X_test, y_test = first_number_task(100, length, seed=1)
    for seed, style in zip(seeds, ["-", "--", ":"]):
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
        label = f"T = {length}" if seed == 0 else None
        ax.plot(history.series("test_loss"), style, color=colour, label=label)
    print(f"T = {length:2d}: test loss after 40 epochs, seeds 0, 1, 2:", end="")
    print("".join(f" {final[length, seed]:.4f}" for seed in seeds))
ax.axhline(1 / 3, color="grey", linestyle="--", label="remembers nothing")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("test loss (MSE)")
ax.set_title("seeds 0 (solid), 1 (dashed), 2 (dotted)")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))  # beside the plot, hiding no curve
plt.show()
worst = {length: max(final[length, seed] for seed in seeds) for length in lengths}
best = {length: min(final[length, seed] for seed in seeds) for length in lengths}
assert worst[3] < best[6] and worst[6] < best[12] and worst[6] < 0.01
assert 0.4 < final[12, 0] / (1 / 3) < 0.6

# %% [markdown]
# With 3 or 6 steps to remember across, every network learns the task almost perfectly.
# With 12 every one does worse than every network trained on 6 (the cell asserts it),
# and one of them, seed 0, stays stuck at half the error of a network that remembers
# nothing. The same network, the same optimiser: only the distance changed.
#
# ## The gradient against time
#
# To see why, we run the cell by hand (this loop is what `RNN` does inside) and keep
# every hidden state $h_t$. After `loss.backward()` every interior node holds the
# gradient of the loss with respect to itself, so the $h_t$'s `.grad` is
# $\partial L / \partial h_t$. We plot its norm against $t$, averaged over 20 sequences,
# for the seed-0 networks (the one stuck on length 12, and its twin on length 6).

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


X, y = first_number_task(20, 12, seed=0)
untrained = RNN(1, 8, nout=1, seed=0)
fig, ax = plt.subplots(figsize=(6, 3.5))
before = gradient_norms_by_time(untrained, X, y)
after = gradient_norms_by_time(trained[12, 0], X, y)
X6, y6 = first_number_task(20, 6, seed=0)
after6 = gradient_norms_by_time(trained[6, 0], X6, y6)
ax.plot(before, "o-", label="T = 12, before training")
ax.plot(after, "o-", label="T = 12, after training")
ax.plot(after6, "o-", label="T = 6, after training")
ax.set_yscale("log")
ax.set_xlabel("time step t")
ax.set_ylabel("|dL / dh_t|")
ax.legend()
plt.show()
per_step = (before[0] / before[-1]) ** (1 / 11)
print(f"before training: |dL/dh_0| / |dL/dh_11| = {before[0] / before[-1]:.1e}", end="")
print(f", a factor {1 / per_step:.1f} lost per step")
print(f"after training on 12: {after[0] / after[-1]:.1e}")
print(f"after training on 6: |dL/dh_0| / |dL/dh_5| = {after6[0] / after6[-1]:.1f}")
assert 2 < 1 / per_step < 3 and 1e-5 < before[0] / before[-1] < 1e-3
assert 1e-9 < after[0] / after[-1] < 1e-7 and after6[0] / after6[-1] > 1

# %% [markdown]
# Going back one step multiplies the gradient by the derivative of the cell: $W_{hh}$
# (transposed) times $\tanh'$, which is at most 1. With PyTorch's initialisation the
# gradient shrinks by a factor between two and three per step, so after 11 steps the
# first input's share of the gradient is of order $10^{-4}$ of the last one's; after
# training on length 12 it is of order $10^{-8}$ (the ratios are printed above). This
# network learns to use recent inputs, which is what the gradient tells it about, and
# never finds out that the first one matters. Trained on length 6 it has learnt to keep
# the gradient flowing back to $t = 0$: there it is even larger than at the last step.
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
assert 5 < growth < 50 and growth_48 > 1e3

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
assert abs(truncated - last_two) < 1e-15
assert all(t == 0.0 for t in truncated_terms[:-2])

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
#   dependencies more than a few steps long.
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
