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
# # 4. Vanishing and exploding gradients
#
# The network of [notebook 4](04_training_an_mlp.ipynb) had two hidden layers and
# trained without trouble. Deeper networks often do not. The gradient of the loss with
# respect to a first-layer weight is a product of one factor per layer on the way back,
# and a product of many factors is easily tiny (the gradient *vanishes*: the first
# layers learn nothing) or huge (it *explodes*: one step throws the weights far away).
#
# This notebook shows both failures on purpose, measures them with gradient norms per
# layer and the gradient-health report, and fixes them: ReLU units, the right
# initialisation, and gradient clipping.
#
# Everything is seeded, so every run shows the same numbers. The data is 64 points of
# two moons with 0/1 labels, and the loss is binary cross-entropy on the network's logit.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from autograd_lite import sum_values
from autograd_lite.data import make_moons
from autograd_lite.losses import binary_cross_entropy_with_logits

X, y = make_moons(64, noise=0.1, seed=0)


def mean_loss(model):
    """The mean binary cross-entropy of the model over the 64 points, as one Value."""
    losses = [binary_cross_entropy_with_logits(model(x), t) for x, t in zip(X, y)]
    return sum_values(losses) * (1.0 / len(losses))


# %% [markdown]
# ## The failure: a deep sigmoid network
#
# Ten hidden layers of 16 sigmoid units, initialised with Xavier's scheme (the standard
# one for saturating units). One forward and backward pass, then the size of the
# gradient in each layer: `plot_gradient_flow(model)` draws the L2 norm of each layer's
# parameter gradients, on a log scale. `layers.0` is the first layer, `layers.10` the
# output layer.

# %%
from autograd_lite.nn import MLP
from autograd_lite.viz.plots import plot_gradient_flow

sigmoid_net = MLP(2, [16] * 10 + [1], activation="sigmoid", init="xavier", seed=0)
mean_loss(sigmoid_net).backward()

fig, ax = plt.subplots(figsize=(6, 3))
plot_gradient_flow(sigmoid_net, ax=ax)
plt.show()

# %% [markdown]
# The gradient shrinks by a factor of three to five per layer: the first layer gets about
# 300 000 times less than the last. Why? Going back through a sigmoid unit multiplies
# the gradient by $\sigma'(z) = \sigma(z)(1 - \sigma(z))$, which is **at most 1/4**
# (at $z = 0$) and much less when the unit saturates. Ten layers multiply ten such
# factors. A step size that suits the last layer barely moves the first.
#
# The **gradient-health report** reaches the same verdict from the numbers alone and
# says what to try. Given a batch `X` it also counts dead and saturated units.

# %%
from autograd_lite.diagnostics.health import gradient_health

report = gradient_health(sigmoid_net, X)
print(report)

# %% [markdown]
# `plot_health` draws the report: each layer's gradient norm next to its weight norm,
# coloured by verdict.

# %%
from autograd_lite.viz.plots import plot_health

plot_health(report)

# %% [markdown]
# ## The fix: ReLU units and He initialisation
#
# A ReLU passes the gradient unchanged wherever it is active (its derivative is 1 there),
# so depth alone does not shrink it. Same depth, same width, ReLU units with He
# initialisation:

# %%
relu_net = MLP(2, [16] * 10 + [1], activation="relu", init="he", seed=0)
mean_loss(relu_net).backward()

fig, ax = plt.subplots(figsize=(6, 3))
plot_gradient_flow(relu_net, ax=ax)
plt.show()
print("verdict:", gradient_health(relu_net, X).verdict)

# %% [markdown]
# Every layer now gets a gradient of the same order.
#
# ### Why the initialisation matters
#
# A layer with $n$ inputs whose weights have variance $v$ multiplies the variance of the
# signal by about $n v$, and a ReLU halves it (it zeroes half of the inputs). So across a
# ReLU layer the signal's scale is multiplied by $\sqrt{n v / 2}$, and over ten layers
# by that to the tenth power. The three schemes of `autograd_lite.nn.init`:
#
# | scheme | weight variance $v$ | factor per ReLU layer, $n = 16$ |
# |---|---|---|
# | `"uniform"` (micrograd's $U(-1, 1)$) | $1/3$ | $\sqrt{16/6} \approx 1.63$: grows |
# | `"xavier"` | $2 / (n_{in} + n_{out})$ | $\sqrt{1/2} \approx 0.71$: shrinks |
# | `"he"` | $2 / n_{in}$ | $1$: stays |
#
# (Xavier is right for tanh, whose slope near 0 is 1; He for ReLU.) We can watch it: push
# 32 points through ten ReLU layers built with each scheme, and measure the root mean
# square of each layer's outputs. No gradients are needed, so the forward pass runs
# under `no_grad()`.

# %%
import math

from autograd_lite import no_grad


def activation_scales(model, points):
    """The root mean square of each layer's outputs over the points."""
    scales = []
    with no_grad():
        rows = points
        for layer in model.layers[:-1]:  # the hidden layers
            rows = [layer(row) for row in rows]
            values = [v.data for row in rows for v in row]
            scales.append(math.sqrt(sum(v * v for v in values) / len(values)))
    return scales


fig, ax = plt.subplots(figsize=(6, 3))
for scheme in ["uniform", "xavier", "he"]:
    net = MLP(2, [16] * 10 + [1], activation="relu", init=scheme, seed=0)
    ax.plot(range(1, 11), activation_scales(net, X[:32]), "o-", label=scheme)
ax.set_yscale("log")
ax.set_xlabel("hidden layer")
ax.set_ylabel("RMS of outputs")
ax.legend()
plt.show()

# %% [markdown]
# Just as the table predicts: micrograd's uniform initialisation makes the signal grow
# by about 1.6 per layer, Xavier's shrinks it, He's keeps it level. The gradients on the
# way back scale the same way, which brings us to the other failure.
#
# ## The failure: exploding gradients
#
# Take the growing case: eight ReLU layers of 16 units with micrograd's uniform
# initialisation. Its outputs are large, and so are its gradients. Plain gradient
# descent with learning rate 0.1, written out by hand; every step we record the loss and
# the gradient norm of each layer (`layer_grad_norms`) in the same form as a `fit`
# history, so the health report and the plots can read it.

# %%
from autograd_lite.diagnostics.health import layer_grad_norms
from autograd_lite.optim import SGD, clip_grad_norm_


def train(clip_to=None, steps=20):
    """20 steps of SGD on the exploding network; clip the gradient norm if asked."""
    model = MLP(2, [16] * 8 + [1], activation="relu", init="uniform", seed=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    records = []
    for step in range(steps):
        loss = mean_loss(model)
        optimizer.zero_grad()
        loss.backward()
        records.append({"epoch": step, "loss": loss.data, "grad_norms": layer_grad_norms(model)})
        if clip_to is not None:
            clip_grad_norm_(model.parameters(), max_norm=clip_to)
        optimizer.step()
    return model, records


exploded, exploded_records = train()
for record in exploded_records[::2]:
    print(f"step {record['epoch']:2d}  loss {record['loss']:.3g}")

# %% [markdown]
# The loss grows to $10^{31}$, then suddenly sits at 0.693 = $\log 2$: the network now
# outputs the same logit for every point. One huge step pushed the biases so far that
# every ReLU in some layer is negative for every input: they are *dead*, no gradient
# passes through them, and the network can never recover. The health report, given the
# recorded history, tells the story:

# %%
print(gradient_health(exploded, X, history=exploded_records))

# %% [markdown]
# ## The fix: gradient clipping
#
# `clip_grad_norm_(parameters, max_norm)` (PyTorch's name and rule) rescales all
# gradients together whenever their joint L2 norm exceeds `max_norm`. The direction of
# the step is kept; only its length is capped. It goes between `backward()` and
# `optimizer.step()`. The same network, the same learning rate, clipped to norm 1:

# %%
clipped, clipped_records = train(clip_to=1.0)

fig, ax = plt.subplots(figsize=(6, 3))
for name, records in [("no clipping", exploded_records), ("clipped to norm 1", clipped_records)]:
    ax.plot([r["epoch"] for r in records], [r["loss"] for r in records], "o-", label=name)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("loss")
ax.legend()
plt.show()

# %% [markdown]
# The clipped run starts just as badly (a gradient norm of 37) but every step has length
# at most $0.1 \times 1$, and the loss comes down steadily. Clipping does not fix the
# initialisation (He's would), but it is cheap insurance, standard for recurrent networks
# ([notebook 9](09_backpropagation_through_time.ipynb)), where gradients can grow with
# the length of the sequence.
#
# ## Gradient flow during training
#
# A history from `fit` records every layer's gradient norm at every epoch, and
# `plot_gradient_flow(history)` draws one line per layer. Here are the deep sigmoid and
# the ReLU + He networks trained for 60 epochs with `fit`'s default optimiser, Adam (with
# `compile=True`, which replays the graph with numpy to make it fast).

# %%
from autograd_lite.training import fit

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
for ax, (activation, scheme) in zip(axes, [("sigmoid", "xavier"), ("relu", "he")]):
    net = MLP(2, [16] * 10 + [1], activation=activation, init=scheme, seed=0)
    history = fit(net, X, y, epochs=60, progress=False, compile=True)
    plot_gradient_flow(history, ax=ax)
    for depth, line in enumerate(ax.get_lines()):  # first layer dark, last layer light
        line.set_color(plt.cm.viridis(depth / 10))
    ax.set_title(
        f"{activation}, {scheme} init: final accuracy {history.records[-1]['accuracy']:.2f}"
    )
    ax.get_legend().remove()  # one legend for both: the same layers in the same colours
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=7)
plt.show()

# %% [markdown]
# On the left the eleven layers of the sigmoid network start spread over six orders of
# magnitude (the first layer, darkest, at the bottom); on the right the ReLU layers stay
# within one. The sigmoid network does learn something, because Adam divides each
# parameter's step by the running size of its own gradient, which partly hides a
# vanishing gradient; plain SGD would leave its first layers where they started.
#
# ## What we saw
#
# * Backpropagation multiplies one factor per layer; deep networks turn that into
#   vanishing or exploding gradients.
# * A sigmoid unit's slope is at most 1/4, so the gradient shrinks at every sigmoid
#   layer unless the weights are large; a ReLU's slope is 1 where it is active.
# * Initialisation sets the scale of the signal: He for ReLU, Xavier for tanh.
# * `clip_grad_norm_` caps the length of a step and keeps one bad gradient from killing
#   a network.
# * `plot_gradient_flow`, `gradient_health` and `plot_health` find these problems from
#   the numbers.
#
# Bigger experiments (more layers, the full data set, hundreds of epochs) show the same
# effects more strongly; they are kept small here so that the notebook runs in seconds.
