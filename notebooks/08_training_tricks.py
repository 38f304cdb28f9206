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
# # 8. Training tricks
#
# The previous notebooks met the ways training goes wrong: gradients that vanish in deep
# networks ([notebook 6](06_vanishing_and_exploding_gradients.ipynb)), results that
# depend on the random start ([notebook 5](05_regression.ipynb)), optimisers that stop in
# the first basin ([notebook 7](07_optimisers_and_local_minima.ipynb)). This one collects
# the standard remedies, each measured rather than asserted:
#
# 1. **dropout**, which switches units off at random during training;
# 2. **residual connections** and **batch normalisation**, which keep the gradient
#    flowing through a deep network;
# 3. **random restarts**, the plain remedy for a bad start;
# 4. the **update rules** of momentum, RMSprop and Adam written out next to code,
#    bias correction included, and checked against `autograd_lite.optim`.
#
# ## Dropout
#
# `nn.Dropout(p)` zeroes each input with probability $p$ in training mode and multiplies
# the survivors by $1 / (1 - p)$, so that the *expected* output equals the input; in
# eval mode it passes inputs through. A network trained this way cannot rely on any
# single unit, which makes it less prone to memorising its training set. We check the
# mechanics on 10 000 inputs equal to 1:

# %%
from autograd_lite import Value, sum_values
from autograd_lite.claims import claim
from autograd_lite.nn import Dropout

dropout = Dropout(0.5, seed=0)
inputs = [Value(1.0) for _ in range(10_000)]
outputs = dropout(inputs)
kept = sum(out.data != 0 for out in outputs)
mean = sum(out.data for out in outputs) / len(outputs)
print(
    f"kept {kept} of {len(outputs)}; survivors are {max(o.data for o in outputs)}; mean {mean:.4f}"
)
sum_values(outputs).backward()
print("gradients of a dropped and a kept input:", {inputs[i].grad for i in range(len(inputs))})
dropout.eval()
print("in eval mode:", {out.data for out in dropout(inputs)})
# The mean of 10 000 draws of 0 or 2 has standard deviation 0.01.
claim("the mean stays 1 (within 5 standard deviations)", abs(mean - 1) < 0.05)
claim("gradients 0 and 2", {inputs[i].grad for i in range(len(inputs))} == {0.0, 2.0})

# %% [markdown]
# About half the inputs survive, each doubled, so the mean stays 1 (within the 0.01
# that chance allows for 10 000 draws); a dropped input gets gradient exactly 0, a kept
# one the scale 2. A new mask is drawn at every call, which is why a compiled loss
# (which replays one recorded graph) refuses a network with dropout in training mode.
# Its benefit, less overfitting, shows on networks large enough to memorise their data;
# this notebook does not measure it.
#
# ## Keeping the gradient alive in a deep network
#
# A deep stack of sigmoid layers is the textbook case of the vanishing gradient: each
# layer multiplies the gradient by $\sigma' \le 1/4$ and by its weights. We build 20
# hidden layers of 8 sigmoid units (Xavier initialisation), in three versions:
#
# * **plain**: $h \leftarrow \sigma(W h + b)$;
# * **residual**: $h \leftarrow h + \sigma(W h + b)$ (`nn.Residual` computes $x + f(x)$):
#   the identity path hands the gradient back unchanged, whatever the layer does;
# * **batch-normalised**: $h \leftarrow \sigma(\mathrm{BN}(W h + b))$, where
#   `nn.BatchNorm1d` rescales each unit's pre-activation to mean 0 and variance 1 over
#   the batch (then multiplies by a learnt weight and adds a learnt bias).
#
# Batch normalisation works on a whole batch at once, so the forward pass goes layer by
# layer over a batch of 32 points of the two moons. After one `backward()` of the mean
# squared error we record the size of each hidden layer's weight gradient.

# %%
import itertools
import math
import statistics

from autograd_lite.data import make_moons
from autograd_lite.nn import BatchNorm1d, Layer, Residual

X, y = make_moons(32, noise=0.1, seed=0)
DEPTH, WIDTH = 20, 8


def gradient_by_layer(kind, seed=0):
    """|d loss / d W| per hidden layer; per layer the spread of each unit's pre-activation;
    the loss; and the mean |h| of the last hidden layer's outputs."""
    first = Layer(2, WIDTH, "linear", init="xavier", seed=1000 + seed)
    hidden = [
        Layer(WIDTH, WIDTH, "linear", init="xavier", seed=seed * DEPTH + i) for i in range(DEPTH)
    ]
    norms = [BatchNorm1d(WIDTH) for _ in range(DEPTH)]
    readout = Layer(WIDTH, 1, "linear", init="xavier", seed=2000 + seed)
    batch, spreads = [first(x) for x in X], []
    for layer, norm in zip(hidden, norms):
        pre = [layer(sample) for sample in batch]
        units = [[sample[j].data for sample in pre] for j in range(WIDTH)]
        spreads.append([statistics.pstdev(unit) for unit in units])  # over the batch
        if kind == "batch-normalised":
            pre = norm(pre)
        activated = [[v.sigmoid() for v in sample] for sample in pre]
        if kind == "residual":
            activated = [[h + a for h, a in zip(hs, acts)] for hs, acts in zip(batch, activated)]
        batch = activated
    scores = [readout(sample)[0] for sample in batch]
    loss = sum_values([(score - target) ** 2 for score, target in zip(scores, y)]) / len(y)
    loss.backward()
    sizes = [math.sqrt(sum(p.grad**2 for p in layer.parameters())) for layer in hidden]
    stream = statistics.fmean(abs(v.data) for sample in batch for v in sample)
    return sizes, spreads, loss.data, stream


KINDS = ["plain", "residual", "batch-normalised"]
results = {kind: gradient_by_layer(kind) for kind in KINDS}
for kind, (sizes, _, loss_value, stream) in results.items():
    print(
        f"{kind:>17}: first layer {sizes[0]:.1e}, last layer {sizes[-1]:.1e}; "
        f"loss {loss_value:.3g}, mean |h| after layer 20: {stream:.2f}"
    )
plain = results["plain"][0]
per_layer = (plain[-1] / plain[0]) ** (1 / (DEPTH - 1))
steps = [after / before for before, after in itertools.pairwise(plain)]
print(f"plain network: the gradient shrinks by a factor {per_layer:.1f} per layer on average")
print(f"(geometric mean), from {min(steps):.1f} to {max(steps):.1f} at single layers")
claim("the plain network loses 4 to 5 times per layer on average", 4 < per_layer < 5)

# %% [markdown]
# (We wrote the residual step by hand here because the batch loop needs it; on single
# samples `Residual(Layer(8, 8, "sigmoid"))` is the same computation, which we check.)

# %%
block = Residual(Layer(WIDTH, WIDTH, "sigmoid", init="xavier", seed=5))
sample = [0.1 * i for i in range(WIDTH)]
by_hand = [x + a.data for x, a in zip(sample, block.module(sample))]
print([round(v.data, 6) for v in block(sample)] == [round(v, 6) for v in by_hand])
claim("Residual computes x + f(x)", [v.data for v in block(sample)] == by_hand)

# %% [markdown]
# The plot shows each layer's gradient size, layer 1 nearest the input:

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6.5, 3.5), layout="constrained")
for kind in KINDS:
    ax.plot(range(1, DEPTH + 1), results[kind][0], "o-", label=kind)
ax.set_yscale("log")
ax.set_xlabel("hidden layer (1 = nearest the input)")
ax.set_ylabel("|dL / dW|")
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# In the plain network the gradient shrinks by a factor between four and five per layer
# on average (a geometric mean; single layers range more widely, as printed above), so
# the first layer gets about $10^{-13}$ of what the last one gets: it will not learn. The
# residual and the batch-normalised networks' gradients stay about the same size from
# the last layer to the first.
#
# The residual network's gradients are also one to two orders of magnitude *larger* than
# the others', and the printout says why: every block adds a sigmoid output, a number
# between 0 and 1, to the stream, so after 20 blocks its values are near 10 (the mean
# $|h|$ printed), the readout's scores are far from the targets, and the initial loss is
# in the hundreds. A large loss has a large gradient. (This is why real residual
# networks normalise the stream, or scale each block's output down.)
#
# Is that one lucky draw of weights? The same measurement for five seeds:

# %%
print(f"{'':>17} " + " ".join(f"{'seed ' + str(s):>10}" for s in range(5)))
ratios = {}
for kind in KINDS:
    ratios[kind] = []
    for seed in range(5):
        sizes, *_ = gradient_by_layer(kind, seed)
        ratios[kind].append(sizes[0] / sizes[-1])
    print(f"{kind:>17} " + " ".join(f"{r:>10.1e}" for r in ratios[kind]))
claim("plain: below 1e-8 for every seed", all(r < 1e-8 for r in ratios["plain"]))
claim(
    "residual and batch-normalised: within a factor of ten of 1 for every seed",
    all(0.1 < r < 10 for kind in ("residual", "batch-normalised") for r in ratios[kind]),
)

# %% [markdown]
# The table shows *first layer / last layer*: for the plain network below $10^{-8}$ for
# every one of the five seeds, for the other two within a factor of ten of 1.
#
# Why does batch normalisation help? Not by changing $\sigma'$: the sigmoid still
# multiplies the gradient by at most $1/4$. Look at the spread of the pre-activations
# (the standard deviation over the batch of one unit's $W h + b$, before any
# normalisation) in the two networks:

# %%
for kind in ("plain", "batch-normalised"):
    spreads = [layer[0] for layer in results[kind][1]]  # unit 0 of each layer
    listed = ", ".join(f"{spreads[i]:.1e}" for i in (0, 1, 4, 9, 19))
    print(f"{kind:>17}, unit 0 of layers 1, 2, 5, 10, 20: {listed}")
bn_unit0 = [layer[0] for layer in results["batch-normalised"][1]]
bn_all = [spread for layer in results["batch-normalised"][1] for spread in layer]
print(f"batch-normalised, 1 / spread: unit 0 of each layer {1 / max(bn_unit0):.1f} to ", end="")
print(f"{1 / min(bn_unit0):.1f}; all {len(bn_all)} units ", end="")
print(f"{1 / max(bn_all):.1f} to {1 / min(bn_all):.1f}")
plain_last = max(results["plain"][1][-1])
claim("the plain network's spread collapses below 1e-10 by layer 20", plain_last < 1e-10)
claim("batch norm's 1/spread stays between 1 and 100", 1 < 1 / max(bn_all) < 1 / min(bn_all) < 100)

# %% [markdown]
# In the plain network the signal dies along with the gradient: sigmoid outputs
# squeezed near $1/2$ make a next layer whose inputs barely differ from sample to
# sample, and by layer 20 the spread is $10^{-13}$. In the batch-normalised network
# every layer's pre-activations are rescaled to spread 1 before the sigmoid, so the
# spread never collapses; and on the way back the normalisation multiplies the gradient
# by $1/\sigma$, a few times to a few tens of times depending on the unit and the layer
# (the ranges are printed above), which makes up for what each sigmoid layer takes away.
# (Batch normalisation also couples the samples of a batch: each output depends on the
# whole batch through its mean and variance, and `backward()` goes through them too. In
# eval mode it uses running averages instead, one sample at a time.)
#
# ## Random restarts
#
# In [notebook 5](05_regression.ipynb) the networks trained on quiet data from ten
# random starts ended far apart, and in [notebook 9](09_backpropagation_through_time.ipynb)
# six RNNs trained on 12 steps spread over more than a factor of ten. The remedy needs no
# theory: train from several random starts and keep the one that does best *on held-out
# data*. On the six-hump camel of notebook 7, plain gradient descent stops in whatever
# basin it starts in; ten random starts:

# %%
import random

from autograd_lite.optim import SGD


def camel(x, y):
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (4 * y**2 - 4) * y**2


def descend_from(start, steps=300):
    x, y = Value(start[0]), Value(start[1])
    optimizer = SGD([x, y], lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        camel(x, y).backward()
        optimizer.step()
    return camel(x.data, y.data)


rng = random.Random(0)
starts = [(rng.uniform(-2, 2), rng.uniform(-1, 1)) for _ in range(10)]
ends = [descend_from(start) for start in starts]
for start, end in zip(starts, ends):
    print(f"start ({start[0]:+.2f}, {start[1]:+.2f}) -> f = {end:+.4f}")
found = sum(abs(end + 1.0316) < 1e-3 for end in ends)
print(f"{found} of {len(ends)} starts reach the global minimum; the best ends at {min(ends):.4f}")
claim("some starts but not all win", 0 < found < len(ends))
claim("the best of ten is the global minimum", abs(min(ends) + 1.0316) < 1e-3)

# %% [markdown]
# Each single start is a gamble (the fraction that wins is printed above); the best of
# ten is at the global minimum. With networks, "best" must be judged on data the
# networks did not train on, and each restart costs a full training run: restarts are
# the remedy that is always available and never free.
#
# ## The update rules, by hand
#
# Notebook 7 compared optimisers on a surface. Here are their update rules once more,
# each next to a few lines of Python that implement it for one coordinate $\theta$ with
# gradient $g$ and learning rate $\eta$, run for three steps on $f(\theta) =
# (\theta - 3)^2$ and compared with `autograd_lite.optim`:
#
# * **momentum**: $b_1 = g_1$, then $b_t = \mu b_{t-1} + g_t$; $\theta \leftarrow \theta -
#   \eta\, b_t$.
# * **RMSprop**: $s_t = \alpha s_{t-1} + (1 - \alpha) g_t^2$ with $s_0 = 0$;
#   $\theta \leftarrow \theta - \eta\, g_t / (\sqrt{s_t} + \epsilon)$.
# * **Adam**: $m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t$,
#   $v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2$ (both starting at 0), then the
#   **bias correction** $\hat m_t = m_t / (1 - \beta_1^t)$,
#   $\hat v_t = v_t / (1 - \beta_2^t)$, and
#   $\theta \leftarrow \theta - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$.

# %%
from autograd_lite.optim import Adam, RMSprop


def momentum_by_hand(theta, lr, mu, steps):
    b = None
    for _ in range(steps):
        g = 2 * (theta - 3)
        b = g if b is None else mu * b + g
        theta -= lr * b
    return theta


def rmsprop_by_hand(theta, lr, alpha, eps, steps):
    s = 0.0
    for _ in range(steps):
        g = 2 * (theta - 3)
        s = alpha * s + (1 - alpha) * g * g
        theta -= lr * g / (math.sqrt(s) + eps)
    return theta


def adam_by_hand(theta, lr, beta1, beta2, eps, steps):
    m = v = 0.0
    for t in range(1, steps + 1):
        g = 2 * (theta - 3)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return theta


def by_library(make_optimizer, steps):
    theta = Value(0.0)
    optimizer = make_optimizer([theta])
    for _ in range(steps):
        optimizer.zero_grad()
        ((theta - 3) ** 2).backward()
        optimizer.step()
    return theta.data


pairs = {
    "momentum": (
        momentum_by_hand(0.0, 0.1, 0.9, 3),
        by_library(lambda p: SGD(p, lr=0.1, momentum=0.9), 3),
    ),
    "RMSprop": (
        rmsprop_by_hand(0.0, 0.1, 0.99, 1e-8, 3),
        by_library(lambda p: RMSprop(p, lr=0.1), 3),
    ),
    "Adam": (
        adam_by_hand(0.0, 0.1, 0.9, 0.999, 1e-8, 3),
        by_library(lambda p: Adam(p, lr=0.1), 3),
    ),
}
for name, (hand, library) in pairs.items():
    print(f"{name:>8}: by hand {hand!r}, optim {library!r}")
    claim(f"{name} by hand is optim's", math.isclose(hand, library, rel_tol=1e-12, abs_tol=1e-15))

# %% [markdown]
# The equations are exactly what the library computes. What does the bias correction
# do? $m$ and $v$ start at 0, so early on they are too small: after one step
# $m_1 = (1 - \beta_1) g_1 = 0.1\, g_1$ and $v_1 = (1 - \beta_2) g_1^2 = 0.001\, g_1^2$.
# Without correction the first step would be
# $\eta \cdot 0.1 / \sqrt{0.001} \approx 3.16\,\eta$, in any direction where the
# gradient is nonzero; with it, $\hat m_1 / \sqrt{\hat v_1} = \pm 1$ and the first step
# is exactly $\eta$:

# %%
g1 = 2 * (0.0 - 3)
m1, v1 = (1 - 0.9) * g1, (1 - 0.999) * g1 * g1
uncorrected = 0.1 * m1 / math.sqrt(v1)
corrected = 0.1 * (m1 / (1 - 0.9)) / math.sqrt(v1 / (1 - 0.999))
print(f"first step without correction {abs(uncorrected):.4f}, with it {abs(corrected):.4f}")
print(f"Adam's first step from the library: {by_library(lambda p: Adam(p, lr=0.1), 1):.4f}")
claim("uncorrected: 3.16 η", abs(abs(uncorrected) / 0.1 - 0.1 / math.sqrt(0.001)) < 1e-9)
claim("corrected: exactly η", abs(by_library(lambda p: Adam(p, lr=0.1), 1) - 0.1) < 1e-8)

# %% [markdown]
# How long does that last? Without correction every step is multiplied by
# $(1 - \beta_1^t) / \sqrt{1 - \beta_2^t}$:

# %%
for t in (1, 10, 100, 1000, 5000):
    print(f"step {t:>4}: uncorrected step x {(1 - 0.9**t) / math.sqrt(1 - 0.999**t):.2f}")
factors = [(1 - 0.9**t) / math.sqrt(1 - 0.999**t) for t in range(1, 101)]
claim("3 to 6.6 times over the first hundred steps", min(factors) > 3 and max(factors) < 6.6)

# %% [markdown]
# The uncorrected steps are three to six and a half times too long over the first
# hundred steps, and the difference fades only over a few thousand: exactly the steps taken from
# a random start, where a step three times too long can throw the weights far.
#
# ## What we saw
#
# * Dropout zeroes inputs at random and rescales the rest so the expected value is
#   unchanged; dropped inputs get exactly zero gradient; in eval mode it does nothing.
# * In a 20-layer sigmoid network the gradient reaching the first layer is below
#   $10^{-8}$ of the last layer's; a residual connection or batch normalisation keeps it
#   within a factor of ten, for every seed we tried. Batch normalisation does
#   it by dividing by the shrinking spread of the pre-activations, which scales the
#   gradient back up.
# * Random restarts turn a gamble on the start into a choice among several.
# * Momentum, RMSprop and Adam are a few lines each; Adam's bias correction makes its
#   first step exactly the learning rate.
#
# Next, [backpropagation through time](09_backpropagation_through_time.ipynb):
# recurrent networks, where depth comes from time.
