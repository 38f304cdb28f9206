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
# # 5. Regression: what did the weights learn?
#
# [Notebook 4](04_training_an_mlp.ipynb) trained a classifier, which predicts a label;
# *regression* predicts a number. Here the number is
# the price of a house, and because the data is made up we know the rule that generated
# it, so we can check what a model learns against the truth.
#
# `make_house_prices` draws houses with three features, `[area, rooms, age]` (area in
# hundreds of square metres, the number of rooms, the age in decades), and the price in
# hundreds of thousands:
#
# $$\text{price} = 0.5 + 1.5\,\text{area} + 0.2\,\text{rooms}
#   - 0.6\,(1 - e^{-\text{age}/2}) + \text{noise}$$
#
# with Gaussian noise of standard deviation 0.1. The age effect is not a straight line:
# a house loses value quickly at first, then the loss levels off.

# %%
from autograd_lite.data import make_house_prices, train_test_split

X, y = make_house_prices(400, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
for features, price in zip(X[:3], y[:3]):
    print(f"area {features[0]:.2f}, rooms {features[1]:.0f}, age {features[2]:.2f} -> {price:.3f}")

# %% [markdown]
# The noise sets a floor: even the true rule has an expected squared error of
# $0.1^2 = 0.01$ on new houses. That is the best any model can score on average. On our
# 100 test houses the true rule's own error is a little off that, by chance:

# %%
import math

from autograd_lite.claims import claim


def true_price(area, rooms, age):
    return 0.5 + 1.5 * area + 0.2 * rooms - 0.6 * (1 - math.exp(-age / 2))


def mean_squared_error(predictions, targets):
    return sum((p - t) ** 2 for p, t in zip(predictions, targets)) / len(targets)


truth_test_mse = mean_squared_error([true_price(*x) for x in X_test], y_test)
# The spread of a mean of 100 squared Gaussian errors: 0.01 * sqrt(2 / 100).
standard_error = 0.1**2 * math.sqrt(2 / len(y_test))
print(f"true rule on the test houses: MSE {truth_test_mse:.4f}")
print(f"typical chance deviation from 0.01 on {len(y_test)} houses: {standard_error:.4f}")
claim("within 3 standard errors of 0.01", abs(truth_test_mse - 0.01) < 3 * standard_error)

# %% [markdown]
# Keep that chance deviation in mind: on 100 houses, two test errors that differ by
# less than about 0.001 cannot be told apart.
#
# ## A linear model
#
# The simplest model is one linear neuron: $\hat{p} = w_1\,\text{area} + w_2\,\text{rooms}
# + w_3\,\text{age} + b$. The labels are floats, so `fit` chooses the mean squared error,
# $(\hat{p} - p)^2$ averaged over the houses, by itself. The features are already of
# order 1, so they need no scaling.

# %%
import random

from autograd_lite.nn import Neuron
from autograd_lite.optim import Adam
from autograd_lite.training import fit

random.seed(0)  # Neuron draws its initial weights from Python's random module
linear = Neuron(3, "linear")
history = fit(
    linear,
    X_train,
    y_train,
    X_test=X_test,
    y_test=y_test,
    optimizer=Adam(linear.parameters(), lr=0.05),
    epochs=300,
    progress=False,
)
print(history, f"test MSE {history.records[-1]['test_loss']:.4f}")

# %% [markdown]
# ## What the weights learned
#
# Next to the true coefficients, and next to the exact least-squares solution that
# numpy computes by linear algebra, with no gradients at all (an independent check that
# gradient descent found the best linear fit):

# %%
import numpy as np

weights = [w.data for w in linear.w] + [linear.b.data]
design = np.column_stack([np.array(X_train), np.ones(len(X_train))])
least_squares, *_ = np.linalg.lstsq(design, np.array(y_train), rcond=None)
truth = ["1.5", "0.2", "nonlinear", "0.5 + ..."]

print(f"{'':>8} {'learned':>10} {'least squares':>14} {'true rule':>10}")
for name, learned, exact, true in zip(
    ["area", "rooms", "age", "bias"], weights, least_squares, truth
):
    print(f"{name:>8} {learned:>10.4f} {exact:>14.4f} {true:>10}")
claim("agrees with least squares", max(abs(a - b) for a, b in zip(weights, least_squares)) < 5e-5)
claim("1.5 and 0.2 within 0.02", abs(weights[0] - 1.5) < 0.02 and abs(weights[1] - 0.2) < 0.02)

# %% [markdown]
# Gradient descent agrees with linear algebra to four decimals, and the weights recover
# the rule: 1.5 per hundred square metres, 0.2 per room, each within 0.02. For age the
# model can only draw a straight line through the curve, and the bias absorbs the rest.
# Which line? Fitting the best straight line to the age effect
# $-0.6\,(1 - e^{-\text{age}/2})$ itself, over the ages the houses have (uniform from 0 to 5
# decades), tells us, and also how far the curve strays from it:

# %%
ages_grid = np.linspace(0.0, 5.0, 5001)
age_effect = -0.6 * (1 - np.exp(-ages_grid / 2))
line_design = np.column_stack([ages_grid, np.ones_like(ages_grid)])
(slope, intercept), *_ = np.linalg.lstsq(line_design, age_effect, rcond=None)
gap = age_effect - line_design @ [slope, intercept]
worst = int(np.argmax(np.abs(gap)))
missed_mse = float(np.mean(gap**2))
print(f"best line through the age effect: slope {slope:.4f} per decade")
print(f"largest gap between curve and line: {abs(gap[worst]):.3f} at age {ages_grid[worst]:.1f}")
print(f"mean squared gap: {missed_mse:.4f}, {missed_mse / 0.01:.0%} of the noise's 0.01")
claim("the age weight is that slope", abs(slope - weights[2]) < 0.01)
claim("0.13 at age 0", round(abs(gap[worst]), 2) == 0.13 and ages_grid[worst] == 0.0)
claim("about a fifth of the noise", 0.15 < missed_mse / 0.01 < 0.25)

# %% [markdown]
# The learned age weight is that slope, about $-0.1$ per decade. The curve is as much as
# 0.13 away from the line (at age 0, where the curve drops fastest), and what the line
# misses adds about 0.002 to the squared error: a fifth of what the noise alone costs.
#
# A straight line through a curve leaves a pattern in the errors. Plotting the
# *residuals* (true price minus prediction) against age shows it:

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from autograd_lite.training import predict

ages = [features[2] for features in X_test]
residuals = [p - q for p, q in zip(y_test, predict(linear, X_test))]
fig, ax = plt.subplots(figsize=(6, 3))
ax.scatter(ages, residuals, s=10)
ax.axhline(0, color="black", linewidth=0.8)
ax.set_xlabel("age (decades)")
ax.set_ylabel("residual")
plt.show()

# %% [markdown]
# Noise scatters the points, but there is a pattern beneath it. Averaging the residuals
# decade by decade brings it out. Next to each average is what the gap between the curve
# and the best line predicts for that decade, and how far noise alone typically moves an
# average of that many houses ($0.1/\sqrt{n}$):

# %%
for decade in range(5):
    in_decade = [r for age, r in zip(ages, residuals) if decade <= age < decade + 1]
    measured = sum(in_decade) / len(in_decade)
    expected = float(np.mean(gap[(ages_grid >= decade) & (ages_grid < decade + 1)]))
    noise_of_average = 0.1 / math.sqrt(len(in_decade))
    print(
        f"age {decade}-{decade + 1} decades: mean residual {measured:+.3f} "
        f"({len(in_decade)} houses, noise ±{noise_of_average:.3f}), gap predicts {expected:+.3f}"
    )
    claim(
        f"decade {decade} within two noise widths", abs(measured - expected) < 2 * noise_of_average
    )

# %% [markdown]
# The model prices new houses too low (their residuals are positive) and houses one to
# three decades old too high: the straight line cuts across the curve of the age effect.
# The gap also predicts the oldest houses to be priced too low again; on these few test
# houses that shows only weakly, within the noise of the average. Every decade's average
# is within two noise widths of what the gap predicts. Noise alone would average out to
# zero in every bin; a systematic pattern means the model is missing something.

# %% [markdown]
# ## A small network learns the curve
#
# An MLP with one hidden layer of 8 tanh units can bend. We train it for 1000 epochs (with
# `compile=True` to make them quick; see [notebook 10](10_real_data_digits.ipynb)). A
# network's result depends on its random initial weights, so we train five, with seeds
# 0 to 4. And since 100 test houses cannot tell apart errors within about 0.001 of each
# other, we score every model on 2000 fresh houses drawn with another seed.

# %%
from autograd_lite.nn import MLP
from autograd_lite.training import evaluate

SEEDS = range(5)


def train_network(X_train, y_train, seed):
    network = MLP(3, [8, 1], activation="tanh", init="xavier", seed=seed)
    fit(
        network,
        X_train,
        y_train,
        optimizer=Adam(network.parameters(), lr=0.03),
        epochs=1000,
        progress=False,
        compile=True,
    )
    return network


def compare(X_train, y_train, linear_model, X_fresh, y_fresh, floor, seeds=SEEDS):
    """Errors on the fresh houses: the linear model's, then one network's per seed."""
    linear_error = evaluate(linear_model, X_fresh, y_fresh)["loss"]
    networks = [train_network(X_train, y_train, seed) for seed in seeds]
    errors = [evaluate(network, X_fresh, y_fresh)["loss"] for network in networks]
    print(f"noise floor {floor:.5f}   linear model {linear_error:.5f}")
    for seed, error in zip(seeds, errors):
        print(
            f"network, seed {seed}: {error:.5f}  ({error / linear_error:.0%} of the linear error)"
        )
    return linear_error, errors, networks


X_fresh, y_fresh = make_house_prices(2000, seed=1)
linear_error, network_errors, networks = compare(
    X_train, y_train, linear, X_fresh, y_fresh, floor=0.01
)
gains = [linear_error - error for error in network_errors]
print(f"gain over the linear model: {min(gains):.4f} to {max(gains):.4f}")
claim(
    "each of the five beats the line, by less than the line misses",
    all(0 < gain < missed_mse for gain in gains),
)

# %% [markdown]
# Each of the five networks beats the straight line, but by less than the 0.002 that the
# line misses (the gains are printed above): with noise of standard deviation 0.1 there
# is little to gain. Did the networks learn the curve? Their 41 weights cannot be read
# one by one like the linear model's, but we can ask one: fix area and rooms at typical
# values, vary the age, and plot the predicted price, next to the linear model's and
# the true rule's.

# %%
area, rooms = 1.5, 3.0
grid = [i / 10 for i in range(51)]
houses = [[area, rooms, age] for age in grid]

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(grid, [true_price(*house) for house in houses], "k--", label="true rule")
ax.plot(grid, predict(linear, houses), label="linear model")
ax.plot(grid, predict(networks[0], houses), label="network (seed 0)")
ax.set_xlabel("age (decades)")
ax.set_ylabel("predicted price")
ax.legend()
plt.show()

# %% [markdown]
# The network bends with the true curve; the linear model cuts across it, too low for
# new houses, too high in the middle decades and too low again for the oldest, as the
# gap predicted.
#
# The comparison changes when the signal stands out. The same experiment on houses with
# five times less noise (standard deviation 0.02, floor 0.0004), now with ten networks
# (seeds 0 to 9), because their results spread widely:

# %%
import statistics

X_quiet, y_quiet = make_house_prices(400, seed=0, noise=0.02)
quiet_split = train_test_split(X_quiet, y_quiet, test_size=0.25, seed=0)
Xq_train, Xq_test, yq_train, yq_test = quiet_split

random.seed(0)
quiet_linear = Neuron(3, "linear")
fit(
    quiet_linear,
    Xq_train,
    yq_train,
    optimizer=Adam(quiet_linear.parameters(), lr=0.05),
    epochs=300,
    progress=False,
    compile=True,
)
Xq_fresh, yq_fresh = make_house_prices(2000, seed=1, noise=0.02)
quiet_linear_error, quiet_errors, _ = compare(
    Xq_train, yq_train, quiet_linear, Xq_fresh, yq_fresh, floor=0.0004, seeds=range(10)
)
ratios = [error / quiet_linear_error for error in quiet_errors]
noisy_ratios = [error / linear_error for error in network_errors]
halved = sum(ratio < 0.5 for ratio in ratios)
print(f"networks that more than halve the linear error: {halved} of {len(ratios)}")
print(f"median {statistics.median(ratios):.2f} of the linear error, worst {max(ratios):.2f}")

fig, ax = plt.subplots(figsize=(5, 2.8), layout="constrained")
ax.plot([0] * len(noisy_ratios), noisy_ratios, "o", alpha=0.6)
ax.plot([1] * len(ratios), ratios, "o", alpha=0.6)
ax.axhline(1, color="grey", linestyle="--")
ax.text(1.45, 1, "linear\nmodel", va="center", fontsize=8, color="grey")
ax.set_xticks([0, 1], ["noise 0.1\n(seeds 0-4)", "noise 0.02\n(seeds 0-9)"])
ax.set_xlim(-0.5, 1.8)
ax.set_ylim(0, None)
ax.set_ylabel("network error / linear error")
plt.show()
claim("the median network more than halves the linear error", statistics.median(ratios) < 0.6)
claim("at least two of ten do not halve it", len(ratios) - halved >= 2)
claim("the worst is far from the best", max(ratios) > 0.7 and min(ratios) < 0.4)

# %% [markdown]
# Now the linear model's error is dominated by the curve it cannot draw, and the typical
# network beats it clearly: the median one more than halves it. But the ten spread
# widely, from about a quarter of the linear error to near or above it (the ratios are
# printed and drawn): a network is not guaranteed to beat the straight line, even where
# the line is clearly wrong. How well one network does depends on its initial
# weights: [notebook 8](08_training_tricks.ipynb) names the usual remedy, training from
# several random starts and keeping the best on held-out data.
#
# ## What we saw
#
# * Float labels make `fit` use the mean squared error; the noise in the data sets a
#   floor under the test error, and a small test set blurs differences near it.
# * A linear model's weights can be read directly; here they recover the rule that made
#   the data, and match the least-squares solution.
# * A pattern in the residuals shows what a model misses. A small network can learn it,
#   and probing its predictions shows what it learned where its weights cannot be read;
#   whether that pays off depends on how large the missed pattern is next to the noise,
#   and, for one network, on its random start.
#
# Next, [vanishing and exploding gradients](06_vanishing_and_exploding_gradients.ipynb):
# why deeper networks can be much harder to train.
