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
# # 6. Backpropagation through time
#
# A recurrent network reads a sequence one step at a time and carries a *hidden state*
# from each step to the next:
#
# $$h_t = \tanh(W_{ih}\, x_t + W_{hh}\, h_{t-1} + b)$$
#
# The same weights are used at every step. Training it needs nothing new: running the
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
print(model, "with", len(model.parameters()), "parameters")
print("one sample:", [round(v, 2) for v in X[0]], "-> target", round(y[0], 2))

# %% [markdown]
# We train three networks, on sequences of length 3, 6 and 12, for 40 epochs of Adam in
# mini-batches of 20, and score each on 100 new sequences. `compile=True` replays the
# graph with numpy over each batch (the interpreted engine computes the same numbers, a
# few times more slowly; see [notebook 10](10_real_data_digits.ipynb)).

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from autograd_lite.training import fit

lengths = [3, 6, 12]
trained = {}
fig, ax = plt.subplots(figsize=(6, 3.5))
for length in lengths:
    X, y = first_number_task(200, length, seed=0)
    X_test, y_test = first_number_task(100, length, seed=1)
    model = RNN(1, 8, nout=1, seed=0)
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
    trained[length] = model
    ax.plot(history.series("test_loss"), label=f"T = {length}")
    print(f"T = {length:2d}: test loss after 40 epochs {history.records[-1]['test_loss']:.4f}")
ax.axhline(1 / 3, color="grey", linestyle="--", label="remembers nothing")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("test loss (MSE)")
ax.legend()
plt.show()

# %% [markdown]
# With 3 or 6 steps to remember across, the network learns the task almost perfectly.
# With 12 it stays stuck at half the error of a network that remembers nothing. The same
# network, the same optimiser: only the distance changed.
#
# ## The gradient against time
#
# To see why, we run the cell by hand (this loop is what `RNN` does inside) and keep
# every hidden state $h_t$. After `loss.backward()` every interior node holds the
# gradient of the loss with respect to itself, so the $h_t$'s `.grad` is
# $\partial L / \partial h_t$. We plot its norm against $t$, averaged over 20 sequences.

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
ax.plot(gradient_norms_by_time(untrained, X, y), "o-", label="T = 12, before training")
ax.plot(gradient_norms_by_time(trained[12], X, y), "o-", label="T = 12, after training")
X6, y6 = first_number_task(20, 6, seed=0)
ax.plot(gradient_norms_by_time(trained[6], X6, y6), "o-", label="T = 6, after training")
ax.set_yscale("log")
ax.set_xlabel("time step t")
ax.set_ylabel("|dL / dh_t|")
ax.legend()
plt.show()

# %% [markdown]
# Going back one step multiplies the gradient by the derivative of the cell: $W_{hh}$
# times $\tanh'$, which is at most 1. With PyTorch's initialisation the product shrinks
# by a factor of two or three per step, so after 11 steps the first input's influence
# on the gradient is $10^{-4}$ of the last one's; after training on length 12 it is
# about $10^{-8}$. The network learns to use recent inputs, which is what the gradient tells
# it about, and never finds out that the first one matters. Trained on length 6 it has
# learnt to keep the gradient flowing back to $t = 0$.
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
# Now the gradient *grows* going back in time, by orders of magnitude over 12 steps; on
# longer sequences it overflows. Gradient clipping (`optim.clip_grad_norm_`, see
# [notebook 6](06_vanishing_and_exploding_gradients.ipynb)) is the standard guard.
#
# ## What we saw
#
# * An RNN unrolled over a sequence is an ordinary graph; `backward()` through it is
#   backpropagation through time.
# * The gradient reaching step $t$ is a product of one factor per later step, so it
#   shrinks or grows geometrically with the distance: plain RNNs struggle to learn
#   dependencies more than a few steps long.
# * Gated cells (LSTM, GRU) were invented for this: their state is carried by *adding*
#   rather than multiplying, so the gradient keeps its size. They are built from the
#   same primitives (`sigmoid`, `tanh`, `+`, `*`) and would train with this engine
#   unchanged, only more slowly.
