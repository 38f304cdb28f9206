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
# # 6. Vanishing and exploding gradients
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
from autograd_lite.claims import claim
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
# gradient in each layer: the L2 norm of each layer's parameter gradients
# (`layer_grad_norms`), divided by the output layer's. `layers.0` is the first layer,
# `layers.10` the output layer.

# %%
import itertools

from autograd_lite.diagnostics.health import layer_grad_norms
from autograd_lite.nn import MLP

sigmoid_net = MLP(2, [16] * 10 + [1], activation="sigmoid", init="xavier", seed=0)
mean_loss(sigmoid_net).backward()

sigmoid_norms = layer_grad_norms(sigmoid_net)
norms = list(sigmoid_norms.values())
last = norms[-1]
for i, (name, norm) in enumerate(sigmoid_norms.items()):
    step = f"   {norms[i + 1] / norm:3.1f} times less than layers.{i + 1}" if i < 10 else ""
    print(f"{name:>9}  {norm / last:9.2e} of the output layer's{step}")
shrinks = [after / before for before, after in itertools.pairwise(norms)]
first_share = norms[0] / last
print(f"\nper layer the gradient shrinks by {min(shrinks):.1f} to {max(shrinks):.1f} times;")
print(f"the first layer gets 1/{1 / first_share:,.0f} of the output layer's gradient norm")
first_shares = [first_share]
for seed in range(1, 5):
    other = MLP(2, [16] * 10 + [1], activation="sigmoid", init="xavier", seed=seed)
    mean_loss(other).backward()
    other_norms = list(layer_grad_norms(other).values())
    first_shares.append(other_norms[0] / other_norms[-1])
    print(f"  with seed {seed}: 1/{1 / first_shares[-1]:,.0f}")
claim("every seed's first layer gets below 1/10 000", max(first_shares) < 1e-4)

# %% [markdown]
# Going back from the output, each layer gets a few times less gradient than the layer
# after it (the range is printed above), and the first layer ends up with about a
# three-hundred-thousandth of the last layer's. This is not bad luck with one seed: the
# same network with four other seeds (printed last) gives its first layer less than
# 1/10 000 of the last layer's every time. Why? Going back through a sigmoid unit
# multiplies the gradient by $\sigma'(z) = \sigma(z)(1 - \sigma(z))$, which is **at most
# 1/4** (at $z = 0$) and much less when the unit saturates. Ten layers multiply ten such
# factors. A step size that suits the last layer barely moves the first.
#
# `explain` shows the product being formed. The gradient of the network's output with
# respect to one first-layer weight is a sum over $16^9$ paths (the count is printed
# below), one per choice of a unit in each of the nine hidden layers after the weight's
# own; `top=3` finds the three largest without listing the others, and
# `layer_table()` shows, along the largest path, the factor each layer contributes and
# the running product:

# %%
from autograd_lite.diagnostics import explain

sigmoid_net.zero_grad()
output = sigmoid_net(X[0])
output.backward()
weight = sigmoid_net.layers[0].neurons[0].w[0]
why = explain(output, weight, top=3)
print(f"{why.n_paths:,} paths; their sum {why.total:.3e} is weight.grad = {weight.grad:.3e}")
claim("16^9 paths", why.n_paths == 16**9)
print(why.layer_table())
factors = [abs(f) for _, f, _ in why.by_layer()[1:-1]]
print(f"\nhidden-to-hidden factors between {min(factors):.3f} and {max(factors):.3f}")
claim("every factor on the largest path is below 1/4", max(factors) < 0.25)

# %% [markdown]
# Every factor between two hidden layers is $\sigma'(z) \cdot w$: a slope of at most 1/4
# times a weight of Xavier's size (about 1/4 here, measured below), so on a typical path
# about 1/16. The *largest* path picks the largest weights, which is why its factors
# (printed above) come nearer a tenth, and its product is about $10^{-10}$, the last
# running product. But the gradient is not one path. It is the sum over all of them,
# with both signs, and far more than one matters:

# %%
import math
import statistics

hidden_weights = [w.data for layer in sigmoid_net.layers[1:-1] for n in layer.neurons for w in n.w]
typical_weight = math.sqrt(statistics.fmean(w * w for w in hidden_weights))
largest_path = why.paths[0].product
geometric_shrink = math.prod(shrinks[:-1]) ** (1 / len(shrinks[:-1]))
print(f"typical hidden weight (root mean square): {typical_weight:.3f}")
print(f"largest path's product {largest_path:.2e}; the sum of all paths {why.total:.2e},")
print(f"{why.total / largest_path:,.0f} times the largest path")
print(f"per hidden layer the norm shrinks {geometric_shrink:.1f} times (geometric mean)")
claim("Xavier's weights are about 1/4", 0.2 < typical_weight < 0.3)
claim("the sum is over a thousand times the largest path", abs(why.total / largest_path) > 1e3)

# %% [markdown]
# The sum of the $6.9 \times 10^{10}$ paths is thousands of times the largest one (the
# ratio is printed). Per layer, 16 routes of about $1/16$ each, of random signs, add up
# to about $\sqrt{16}/16 = 1/4$, and the measured shrink per layer is a few times (its
# geometric mean over the layers is printed), not ten. The lesson holds all the same:
# with slopes of at most 1/4, every layer costs a factor, and ten layers multiply them.
# (That backward pass was for one point's output; we clear the gradients and recompute
# the whole batch's before looking further.)
#
# The **gradient-health report** reaches the same verdict from the numbers alone and
# says what to try. Given a batch `X` it also counts dead and saturated units.

# %%
from autograd_lite.diagnostics.health import gradient_health

sigmoid_net.zero_grad()
mean_loss(sigmoid_net).backward()
report = gradient_health(sigmoid_net, X)
print(report)

# %% [markdown]
# `plot_health` draws the report. On the left, each layer's gradient norm as a share of
# the output layer's, one dot per layer on a log scale over the report's thresholds:
# below 1% (blue band) a layer is *vanishing*, below 10% (orange band) *weak*. The
# right panel shows the norms themselves, gradient and weights. Dead or saturated units
# would get a third panel; here there are none, as the note under the plots says (and
# the report's "saturated" column, 0% everywhere): no sigmoid saturates, and the
# gradient still vanishes, from the slopes of at most 1/4 alone.

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
relu_norms = layer_grad_norms(relu_net)

fig, ax = plt.subplots(figsize=(6.4, 3))
for name, norms in [("sigmoid, Xavier", sigmoid_norms), ("ReLU, He", relu_norms)]:
    ax.plot(range(len(norms)), list(norms.values()), "o-", label=name)
ax.set_yscale("log")
ax.set_xticks(range(len(relu_norms)), range(len(relu_norms)))
ax.set_xlabel("layer (0 = first, 10 = output)")
ax.set_ylabel("gradient norm (L2)")
ax.legend()
plt.show()
relu_spread = max(relu_norms.values()) / min(relu_norms.values())
print(f"ReLU layers: the largest gradient norm is {relu_spread:.1f} times the smallest")
print("verdict:", gradient_health(relu_net, X).verdict)
claim("every ReLU layer within a factor of ten", relu_spread < 10)

# %% [markdown]
# Both networks on one log axis (dots rather than bars: a bar on a log axis starts
# wherever the axis happens to start, and can make a healthy layer look empty): every
# ReLU layer now gets a gradient of the same order, within the factor printed below
# the plot.
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
for scheme in ["uniform", "xavier", "he"]:
    net = MLP(2, [16] * 10 + [1], activation="relu", init=scheme, seed=0)
    scales = activation_scales(net, X[:32])
    print(f"{scheme:>7}: x{(scales[-1] / scales[0]) ** (1 / 9):.2f} per layer on average")

# %% [markdown]
# Close to the table's predictions (printed above, as the average factor per layer from
# the first hidden layer to the tenth): micrograd's uniform initialisation makes the
# signal grow, Xavier's shrinks it, He's keeps it about level; one random network
# scatters around the average the table describes. The gradients on the
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
from autograd_lite.optim import SGD, clip_grad_norm_


def train(clip_to=None, steps=20, seed=0):
    """20 steps of SGD on the exploding network; clip the gradient norm if asked."""
    model = MLP(2, [16] * 8 + [1], activation="relu", init="uniform", seed=seed)
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
peak = max(r["loss"] for r in exploded_records)
print(
    f"largest loss {peak:.2g}; last {exploded_records[-1]['loss']:.4f}; log 2 = {math.log(2):.4f}"
)
logits = {round(exploded(x).data, 6) for x in X}
print("distinct outputs over the 64 points:", len(logits))

# %% [markdown]
# The loss grows to the size printed above, then sits near 0.693 = $\log 2$: the network
# now outputs the same logit for every point (one distinct output). Huge steps pushed
# the weights so far that the ReLUs of whole layers are negative for every input: they
# are *dead*, no gradient passes through them, and the network can never recover. The
# health report, given the recorded history, tells the story: the weights have blown
# up, and most units are dead.

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
from autograd_lite.diagnostics.health import l2_norm

clipped, clipped_records = train(clip_to=1.0)

fig, (wide, near) = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
for name, records in [("no clipping", exploded_records), ("clipped to norm 1", clipped_records)]:
    steps = [r["epoch"] for r in records]
    losses = [r["loss"] for r in records]
    wide.plot(steps, losses, "o-", label=name)
    near.plot(steps, losses, "o-", label=name)
wide.set_yscale("log")
wide.set_title("the whole range (log scale)")
near.set_ylim(0, 2.5)
near.set_title("the same, losses below 2.5 (linear scale)")
for ax in (wide, near):
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
near.legend()
plt.show()


def accuracy(model):
    """The share of the 64 points on the right side of logit 0."""
    return sum((model(x).data > 0) == (t == 1) for x, t in zip(X, y)) / len(X)


first_norm = l2_norm(clipped_records[0]["grad_norms"].values())
print(f"first gradient norm: {first_norm:.1f}")
clipped_losses = [r["loss"] for r in clipped_records]
print("clipped losses:", " ".join(f"{loss:.2f}" for loss in clipped_losses))
print(f"accuracy: no clipping {accuracy(exploded):.2f}, clipped {accuracy(clipped):.2f}")
ups = [i for i in range(1, 20) if clipped_losses[i] > clipped_losses[i - 1]]
print("steps where the clipped loss goes up:", ups)
claim(
    "the clipped loss zig-zags up every other step from step 4 and drifts down",
    ups == list(range(4, 20, 2)) and clipped_losses[-1] < clipped_losses[3],
)

# %% [markdown]
# On a log axis that reaches $10^{31}$ the two runs end at the same height, which hides
# the difference; the linear panel on the right shows it. The clipped run starts just as
# badly (the first gradient norm printed above) but every step has length at most
# $0.1 \times 1$. Its loss does not come down steadily: from the fourth step on it
# zig-zags, up on every other step, as a step too long for this valley overshoots and
# the next one comes back; but the zig-zag drifts down, and the network learns (the
# accuracies printed above; the dead one is at chance, 0.50).
#
# How much of this is luck? The same experiment with other seeds for the initial
# weights:

# %%
print("seed  first grad norm   no clipping: largest loss, accuracy   clipped: the same")
final_accuracy = {None: [], 1.0: []}
for seed in range(5):
    runs = []
    for clip_to in (None, 1.0):
        if seed == 0:  # already trained above
            model, records = (
                (exploded, exploded_records) if clip_to is None else (clipped, clipped_records)
            )
        else:
            model, records = train(clip_to=clip_to, seed=seed)
        final_accuracy[clip_to].append(accuracy(model))
        runs.append(f"{max(r['loss'] for r in records):12.3g} {accuracy(model):9.2f}")
    first = l2_norm(records[0]["grad_norms"].values())
    print(f"{seed:4d}  {first:15.1f}   {runs[0]}            {runs[1]}")
dead = sum(a == 0.5 for a in final_accuracy[None])
print(f"unclipped runs that end at chance (0.50): {dead} of 5")
claim(
    "without clipping only seed 0 dies, with clipping every seed learns",
    dead == 1 and min(final_accuracy[1.0]) > 0.75,
)

# %% [markdown]
# Seed 0 is the catastrophe we watched, and over five seeds it is the only one (the
# count is printed). The other unclipped networks also start with gradient norms in the
# tens, and their losses jump, but they survive, and some even end up as accurate as, or
# more accurate than, the clipped run after twenty steps. Every clipped run learns. An
# explosion is a matter of luck; clipping removes the bad luck at a small price.
# Clipping does not fix the initialisation (He's would), but it is cheap insurance,
# standard for recurrent networks ([notebook 9](09_backpropagation_through_time.ipynb)),
# where gradients can grow with the length of the sequence.
#
# ## Gradient flow during training
#
# A history from `fit` records every layer's gradient norm at every epoch, and
# `plot_gradient_flow(history)` draws one line per layer. Here are the deep sigmoid and
# the ReLU + He networks trained for 60 epochs with `fit`'s default optimiser, Adam (with
# `compile=True`, which replays the graph with numpy to make it fast).

# %%
from autograd_lite.training import fit
from autograd_lite.viz.plots import plot_gradient_flow

spreads = {}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
for ax, (activation, scheme) in zip(axes, [("sigmoid", "xavier"), ("relu", "he")]):
    net = MLP(2, [16] * 10 + [1], activation=activation, init=scheme, seed=0)
    history = fit(net, X, y, epochs=60, progress=False, compile=True)
    spreads[activation] = [
        math.log10(max(r["grad_norms"].values()) / min(r["grad_norms"].values()))
        for r in history.records
    ]
    plot_gradient_flow(history, ax=ax)
    for depth, line in enumerate(ax.get_lines()):  # first layer dark, last layer light
        line.set_color(plt.cm.viridis(depth / 10))
    ax.set_title(
        f"{activation}, {scheme} init: final accuracy {history.records[-1]['accuracy']:.2f}"
    )
    ax.get_legend().remove()  # one legend for both: the same layers in the same colours
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=7)
plt.show()
for activation, spread in spreads.items():
    print(
        f"{activation}: largest/smallest layer gradient norm spans {spread[0]:.1f} orders of "
        f"magnitude at the first epoch, at most {max(spread):.1f} over the 60"
    )

# %% [markdown]
# On the left the eleven layers of the sigmoid network start spread over more than five
# orders of magnitude (the first layer, darkest, at the bottom; the numbers are printed
# below the plots); on the right the ReLU layers stay within about one. The sigmoid
# network does learn something, because Adam divides each parameter's step by the
# running size of its own gradient, which partly hides a vanishing gradient. Plain SGD
# does not: its step is the learning rate times the gradient, so each step of the first
# layer would be as much smaller than the last layer's as its gradient is, the factor
# printed at the top of this notebook.
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
#   the numbers; `explain(output, weight, top=k)` shows the product of one factor per
#   layer that makes them.
#
# The experiments are kept small (64 points, 20 or 60 steps) so that the notebook runs
# in seconds.
