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
# # 3. Losses and their gradients
#
# Training moves every weight against the gradient of one number, the *loss*, which says
# how wrong the network's predictions are. Before we train anything
# ([notebook 4](04_training_an_mlp.ipynb)), this notebook takes the three losses used
# almost everywhere, derives their gradients by hand, and checks each derivation against
# `backward()`:
#
# 1. the **mean squared error**, for predicting numbers;
# 2. the **binary cross-entropy**, for yes/no questions;
# 3. the **softmax cross-entropy**, for choosing one of several classes.
#
# The last two end in the same strikingly simple result, *prediction minus target*.
# Then we see why backpropagation needs differentiable functions, and meet the data set
# that shows why networks need hidden layers: XOR.
#
# ## Mean squared error
#
# For predictions $p_i$ and targets $y_i$, $i = 1 \dots n$:
#
# $$L = \frac{1}{n} \sum_i (p_i - y_i)^2, \qquad
#   \frac{\partial L}{\partial p_i} = \frac{2}{n} (p_i - y_i).$$
#
# Each prediction is pulled towards its target, harder the further away it is. We check
# the formula with `losses.mse` and `backward()`:

# %%
from autograd_lite import Value
from autograd_lite.claims import claim
from autograd_lite.losses import mse

predictions = [Value(2.5), Value(-0.5), Value(1.0)]
targets = [3.0, 0.0, -1.0]
loss = mse(predictions, targets)
loss.backward()
n = len(targets)
by_hand = [2 / n * (p.data - y) for p, y in zip(predictions, targets)]
print("loss:", loss.data)
print("backward():", [p.grad for p in predictions])
print("by hand:   ", by_hand)
claim(
    "backward() gives 2/n (p - y)",
    all(abs(p.grad - h) < 1e-15 for p, h in zip(predictions, by_hand)),
)

# %% [markdown]
# ## Binary cross-entropy: the gradient is $p - y$
#
# A yes/no classifier outputs a score $z$ (a *logit*), turned into a probability by the
# sigmoid, $p = \sigma(z) = 1 / (1 + e^{-z})$. For a target $y \in \{0, 1\}$ the loss is
# minus the log of the probability given to the right answer:
#
# $$L = -\left[\, y \log p + (1 - y) \log (1 - p) \,\right].$$
#
# By the chain rule, $\partial L / \partial z = \partial L / \partial p \cdot dp / dz$,
# with
#
# $$\frac{\partial L}{\partial p} = -\frac{y}{p} + \frac{1 - y}{1 - p}
#   = \frac{p - y}{p (1 - p)}, \qquad \frac{dp}{dz} = \sigma'(z) = p (1 - p),$$
#
# and the factors $p(1 - p)$ cancel:
#
# $$\frac{\partial L}{\partial z} = p - y.$$
#
# The gradient is the error of the probability, no more: it never vanishes while the
# prediction is wrong, however confident. `losses.binary_cross_entropy_with_logits`
# computes the same loss in a form that cannot overflow, $\mathrm{softplus}(z) - y z$.
# The formula written out, the library's loss, and $p - y$:

# %%
from autograd_lite import log, sigmoid
from autograd_lite.losses import binary_cross_entropy_with_logits

print(f"{'z':>5} {'y':>3} {'written out':>13} {'library':>13} {'p - y':>13}")
for z_value, y in [(-2.0, 0), (-2.0, 1), (0.3, 1), (3.0, 0), (3.0, 1)]:
    z = Value(z_value)
    p = sigmoid(z)
    written_out = -(y * log(p) + (1 - y) * log(1 - p))
    written_out.backward()
    from_formula = z.grad

    z_library = Value(z_value)
    binary_cross_entropy_with_logits(z_library, y).backward()
    p_minus_y = p.data - y
    print(
        f"{z_value:>5} {y:>3} {from_formula:>13.10f} {z_library.grad:>13.10f} {p_minus_y:>13.10f}"
    )
    claim(
        "both gradients are p - y",
        abs(from_formula - p_minus_y) < 1e-12 and abs(z_library.grad - p_minus_y) < 1e-12,
    )

# %% [markdown]
# ## Softmax cross-entropy: the gradient is $\mathrm{softmax}(z) - \text{one-hot}(y)$
#
# With $K$ classes the network outputs $K$ logits $z_1 \dots z_K$, and the softmax turns
# them into probabilities, $p_j = e^{z_j} / \sum_k e^{z_k}$. The loss for the right class
# $y$ is again minus the log of its probability:
#
# $$L = -\log p_y = \log \sum_k e^{z_k} - z_y.$$
#
# The derivative of the first term with respect to $z_j$ is
# $e^{z_j} / \sum_k e^{z_k} = p_j$; the second term contributes $-1$ for $j = y$ only.
# So
#
# $$\frac{\partial L}{\partial z_j} = p_j - [\,j = y\,],$$
#
# the predicted probabilities minus the one-hot target: the binary result again, for
# every class at once. (With two classes and $z_2 = 0$ it *is* the binary case.)
# `losses.cross_entropy` computes $\log \sum_k e^{z_k}$ with the stable `logsumexp`:

# %%
from autograd_lite import softmax
from autograd_lite.losses import cross_entropy

logits = [Value(2.0), Value(-1.0), Value(0.5), Value(0.0)]
label = 2
loss = cross_entropy(logits, label)
loss.backward()
probabilities = [p.data for p in softmax([Value(z.data) for z in logits])]
by_hand = [p - (1.0 if j == label else 0.0) for j, p in enumerate(probabilities)]
print("loss:", loss.data)
print("backward():      ", [round(z.grad, 12) for z in logits])
print("softmax - onehot:", [round(g, 12) for g in by_hand])
claim(
    "the gradient is softmax - one-hot",
    all(abs(z.grad - g) < 1e-12 for z, g in zip(logits, by_hand)),
)
claim("the gradients sum to 0", abs(sum(z.grad for z in logits)) < 1e-12)

# %% [markdown]
# The gradients sum to zero: pushing the right class up pushes the others down by the
# same total.
#
# ## Why backpropagation needs differentiable functions
#
# Every gradient above is a product of local derivatives. If one of them is zero, the
# product is zero and no weight before it learns anything. That is why the classic
# *perceptron* with a step activation, $\mathrm{step}(z) = 1$ if $z > 0$ else 0, cannot
# be trained by backpropagation: its derivative is 0 everywhere except at 0, where it
# does not exist. The sigmoid is a smooth step whose derivative is positive
# everywhere. The ReLU, $\max(0, z)$, sits in between: slope 0 left of 0, slope 1 right
# of it, and a kink at 0 itself, where the engine uses 0 (a *subgradient*: any slope
# between the two one-sided ones is a valid choice; PyTorch also uses 0).
#
# We define the step as a primitive with its honest derivative, 0, and compare the three
# on the same neuron $\mathrm{activation}(w x + b)$ with a squared-error loss:

# %%
from autograd_lite import primitive, relu

step = primitive("step", lambda z: 1.0 if z > 0 else 0.0, lambda z, out: (0.0,))

print(f"{'activation':>10} {'output':>8} {'dL/dw':>10} {'dL/db':>10}")
for name, activation in [("step", step), ("sigmoid", sigmoid), ("relu", relu)]:
    w, b = Value(0.7), Value(-0.2)
    output = activation(w * 1.5 + b)
    loss = (output - 0.0) ** 2  # target 0: the neuron should switch off
    loss.backward()
    print(f"{name:>10} {output.data:>8.4f} {w.grad:>10.4f} {b.grad:>10.4f}")
    blocked = output.data == 1.0 and w.grad == 0.0 and b.grad == 0.0
    claim(f"only the step neuron gets no gradient ({name})", blocked == (name == "step"))

# %% [markdown]
# All three neurons are wrong (the target is 0), but the step neuron gets zero gradient:
# backpropagation cannot tell it which way to move. The other two get a signal.
#
# At the ReLU's kink the two one-sided slopes differ, so a finite difference centred on
# 0 gives neither of them:

# %%
h = 1e-6
left = (relu(0.0) - relu(-h)) / h
right = (relu(h) - relu(0.0)) / h
centred = (relu(h) - relu(-h)) / (2 * h)
z = Value(0.0)
relu(z).backward()
print(f"slope from the left {left}, from the right {right}, centred {centred}")
print(f"the engine's relu'(0): {z.grad}")
claim("slopes 0 and 1, centred 1/2, engine 0", (left, right, z.grad) == (0.0, 1.0, 0.0))
claim("the centred difference gives 1/2", abs(centred - 0.5) < 1e-9)

# %% [markdown]
# In practice the kink does no harm: a float lands exactly on 0 rarely, and elsewhere
# the ReLU is differentiable. (It is also why gradient checks avoid kinks, as the test
# suite of this library does.) The three functions and their derivatives:

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from autograd_lite import grad

zs = [i / 50 for i in range(-200, 201)]
fig, axes = plt.subplots(1, 3, figsize=(10, 2.8), sharey=True, layout="constrained")
for ax, (name, activation) in zip(axes, [("step", step), ("sigmoid", sigmoid), ("relu", relu)]):
    slope = grad(activation)
    ax.plot(zs, [activation(z) for z in zs], label=name)
    ax.plot(zs, [slope(z) for z in zs], "--", label="its derivative")
    ax.set_title(name)
    ax.set_xlabel("z")
    ax.set_ylim(-0.1, 1.5)
    ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# The step's derivative is flat at 0 everywhere; the sigmoid's is a bump that is never
# 0 (but small far from 0, which [notebook 6](06_vanishing_and_exploding_gradients.ipynb)
# will show matters); the ReLU's jumps from 0 to 1 at the kink.
#
# ## XOR: why networks need a hidden layer
#
# XOR ("exclusive or") is 1 when exactly one of two inputs is on. `make_xor` draws
# points in four noisy clusters at $(\pm 1, \pm 1)$, labelled 1 where the two signs
# differ:

# %%
from autograd_lite.data import make_xor

X, y = make_xor(100, seed=0)
fig, ax = plt.subplots(figsize=(3.5, 3))
ax.scatter([x[0] for x in X], [x[1] for x in X], c=y, cmap="coolwarm", s=15)
ax.set_title("XOR: red = 1, blue = 0")
plt.show()

# %% [markdown]
# **No single neuron can separate it.** A neuron answers 1 where $w_1 x_1 + w_2 x_2 + b
# > 0$: one side of a straight line. Take the four cluster centres. Class 1 at $(-1, 1)$
# and $(1, -1)$ needs $-w_1 + w_2 + b > 0$ and $w_1 - w_2 + b > 0$; adding them gives
# $b > 0$. Class 0 at $(1, 1)$ and $(-1, -1)$ needs $w_1 + w_2 + b \le 0$ and
# $-w_1 - w_2 + b \le 0$; adding them gives $b \le 0$. Both cannot hold. The best a line
# can do is get three of the four clusters right.
#
# Gradient descent finds out in its own way. We train a single neuron with the binary
# cross-entropy, from five different random starts:

# %%
import math
import random

from autograd_lite.nn import MLP, Neuron
from autograd_lite.optim import Adam
from autograd_lite.training import fit

single_neurons, single_results = [], []
for seed in range(5):
    random.seed(seed)
    neuron = Neuron(2, "linear")  # its output is the logit z
    history = fit(
        neuron,
        X,
        y,
        loss="bce",
        optimizer=Adam(neuron.parameters(), lr=0.05),
        epochs=200,
        progress=False,
        compile=True,
    )
    single_neurons.append(neuron)
    single_results.append(history.records[-1])
    record = history.records[-1]
    print(f"seed {seed}: loss {record['loss']:.4f}, accuracy {record['accuracy']:.2f}")
print(f"log 2 = {math.log(2):.4f}")
largest_weight = max(abs(p.data) for neuron in single_neurons for p in neuron.parameters())
print(f"largest weight or bias of the five neurons: {largest_weight:.1e}")
claim("every neuron's weights end near 0", largest_weight < 0.05)
claim(
    "every neuron ends at loss log 2 and a coin flip's accuracy",
    all(abs(r["loss"] - math.log(2)) < 1e-3 and r["accuracy"] < 0.6 for r in single_results),
)

# %% [markdown]
# Every start ends at the same place: loss $\log 2$, the loss of answering $p = 1/2$
# for every point, and an accuracy near a coin flip, with weights and bias all close to
# 0 (printed). On data this symmetric, any line the neuron tilts towards gains on two
# clusters what it loses on the other two, so the gradient leads it to sit on the fence.
# One hidden layer of 4 tanh units is enough:

# %%
networks, network_results = [], []
for seed in range(5):
    network = MLP(2, [4, 1], activation="tanh", init="xavier", seed=seed)
    history = fit(
        network,
        X,
        y,
        loss="bce",
        optimizer=Adam(network.parameters(), lr=0.05),
        epochs=200,
        progress=False,
        compile=True,
    )
    networks.append(network)
    network_results.append(history.records[-1])
    record = history.records[-1]
    print(f"seed {seed}: loss {record['loss']:.4f}, accuracy {record['accuracy']:.2f}")
claim("every network classifies all 100 points", all(r["accuracy"] == 1.0 for r in network_results))

# %% [markdown]
# From every start the network classifies all 100 points correctly. To see how, we draw
# each model's probability $p$ of class 1 over the plane, on one colour scale from 0
# (blue) to 1 (red), with the line $p = 1/2$ only where the model is confident on both
# sides of it (below 0.1 somewhere and above 0.9 somewhere). A decision boundary alone
# would mislead for the neuron: it outputs $p \approx 1/2$ everywhere, and drawing the
# exact place where it crosses 1/2 as a sharp border between two classes would show a
# confidence it does not have.

# %%
grid = [-2.5 + 5 * i / 59 for i in range(60)]


def probabilities(model):
    """p of class 1 at every grid point, rows following the second coordinate."""
    return [[sigmoid(model([a, b])).data for a in grid] for b in grid]


fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for ax, model, title in [
    (axes[0], single_neurons[0], "one neuron (seed 0)"),
    (axes[1], networks[0], "one hidden layer of 4 (seed 0)"),
]:
    p_grid = probabilities(model)
    image = ax.contourf(grid, grid, p_grid, levels=[i / 20 for i in range(21)], cmap="RdBu_r")
    if min(map(min, p_grid)) < 0.1 and max(map(max, p_grid)) > 0.9:  # a real decision
        ax.contour(grid, grid, p_grid, levels=[0.5], colors="black", linewidths=1)
    ax.scatter(*zip(*X), c=y, cmap="RdBu_r", edgecolors="black", s=15)
    ax.set_title(title)
fig.colorbar(image, ax=axes, label="p(class 1)")
plt.show()
neuron_p = [p for row in probabilities(single_neurons[0]) for p in row]
print(f"the neuron's p over the whole square: {min(neuron_p):.3f} to {max(neuron_p):.3f}")
claim("the neuron says p = 1/2 within 0.05 everywhere", max(abs(p - 0.5) for p in neuron_p) < 0.05)

# %% [markdown]
# The neuron's plane is one colour: wherever a point is, it answers about 1/2 (the range
# is printed), so it has no boundary worth drawing; where it crosses 1/2 exactly is
# decided by weights of a few thousandths, placed nowhere useful. The hidden
# layer's units each draw a line, and the output combines them into a region that is
# not one side of any line, confident (deep red or blue) away from the boundary.

# %% [markdown]
# ## What we saw
#
# * The mean squared error pulls each prediction towards its target with gradient
#   $\frac{2}{n}(p - y)$.
# * Binary and softmax cross-entropy, with a sigmoid or softmax before them, both have
#   the gradient *probability minus target* with respect to the logits; `backward()`
#   agrees with the derivation to rounding.
# * Backpropagation multiplies local derivatives, so a step function (derivative 0)
#   blocks learning; the sigmoid and the ReLU let gradient through (the ReLU's kink at 0
#   takes the subgradient 0).
# * XOR cannot be separated by one neuron, provably; a hidden layer of four units
#   learns it from every start we tried.
#
# Next, [training an MLP](04_training_an_mlp.ipynb): the whole training loop, by hand
# and with `fit`.
