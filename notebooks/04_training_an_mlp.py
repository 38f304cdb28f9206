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
# # 4. Training an MLP
#
# With `backward()` we can train a neural network: compute a loss that says how wrong the
# network is, get the gradient of that loss with respect to every weight, and move every
# weight a little *against* its gradient. Repeat. [Notebook 3](03_losses_and_their_gradients.ipynb)
# derived the gradients of the usual losses; here we use them.
#
# We first write that loop by hand, exactly as micrograd's famous demo does, on the same
# data with the same initial weights, and check that we get micrograd's numbers. Then we
# let `fit` run the same loop for us.
#
# ## The data: two moons
#
# Two interleaving half circles, 100 points, labelled $-1$ and $+1$. The points come from
# scikit-learn's `make_moons` with micrograd's seed. (`autograd_lite.data.make_moons`
# draws the same kind of data with the standard library alone.)

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
from sklearn.datasets import make_moons

X_array, y_array = make_moons(n_samples=100, noise=0.1, random_state=1337)
X = X_array.tolist()  # plain lists of floats: the engine works on Python numbers
y = (y_array * 2 - 1).tolist()  # labels 0/1 become -1/+1

fig, ax = plt.subplots(figsize=(4, 3))
ax.scatter(X_array[:, 0], X_array[:, 1], c=y, cmap="coolwarm", s=15)
ax.set_title("two moons")
plt.show()

# %% [markdown]
# ## The model
#
# A multi-layer perceptron with 2 inputs, two hidden layers of 16 ReLU units and one
# linear output: `MLP(2, [16, 16, 1])`, micrograd's exact call. With no `seed` argument
# the initial weights come from Python's global `random` module in micrograd's order, so
# seeding it with 1337 gives micrograd's network, weight for weight.

# %%
import random

from autograd_lite.nn import MLP

random.seed(1337)
model = MLP(2, [16, 16, 1])
print(model)
print("number of parameters:", len(model.parameters()))

# %% [markdown]
# ## The loss
#
# The output is a *score*: positive means class $+1$. micrograd's demo uses the
# max-margin ("hinge") loss of a support vector machine, $\max(0, 1 - y \cdot
# \text{score})$: zero when the score has the right sign with a margin of at least 1,
# growing linearly otherwise. It adds a small L2 penalty $\alpha \sum p^2$ ($\alpha =
# 10^{-4}$) that keeps the weights small. The code below is micrograd's, only the import
# changed: `Value` arithmetic, `.relu()` and the built-in `sum` all work as they do there.


# %%
def loss_and_accuracy():
    scores = [model(x) for x in X]  # forward: one score per point
    losses = [(1 + -yi * score).relu() for yi, score in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    correct = [(yi > 0) == (score.data > 0) for yi, score in zip(y, scores)]
    return total_loss, sum(correct) / len(correct)


total_loss, acc = loss_and_accuracy()
print(total_loss, acc)

# %% [markdown]
# `Value(data=0.895844...)` with accuracy 0.5. Is that micrograd's number? micrograd
# itself is installed, so we build its network from the same seed, compute its step-0
# loss the same way, and compare: they agree to the last digit.

# %%
from micrograd.nn import MLP as MicrogradMLP

from autograd_lite.claims import claim

random.seed(1337)
reference = MicrogradMLP(2, [16, 16, 1])
reference_scores = [reference(x) for x in X]
reference_loss = sum((1 + -yi * s).relu() for yi, s in zip(y, reference_scores)) * (1.0 / len(y))
reference_loss = reference_loss + 1e-4 * sum(p * p for p in reference.parameters())
print("micrograd:     ", reference_loss.data)
print("autograd_lite: ", total_loss.data)
claim("micrograd and autograd_lite agree exactly", reference_loss.data == total_loss.data)
claim("accuracy 0.5 before training", acc == 0.5)

# %% [markdown]
# ## The training loop, by hand
#
# Each step is the four moves of gradient descent:
#
# 1. **forward**: compute the loss (and the accuracy, for us to watch);
# 2. **zero the gradients**: leaves *accumulate* `.grad` across `backward()` calls, so
#    last step's gradients must be cleared first;
# 3. **backward**: `total_loss.backward()` fills every parameter's `.grad`;
# 4. **update**: move each parameter against its gradient, `p.data -= lr * p.grad`.
#
# The learning rate starts at 1.0 and decays linearly to 0.1 over the 100 steps. This is
# the slowest cell of the notebook (it prints how long it took): 100 steps of 100 points
# through a network of 337 parameters, one Python object per operation.

# %%
import time

started = time.perf_counter()
history = []
for k in range(100):
    total_loss, acc = loss_and_accuracy()  # 1. forward
    model.zero_grad()  # 2. zero the gradients
    total_loss.backward()  # 3. backward
    learning_rate = 1.0 - 0.9 * k / 100  # 4. update
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    history.append({"epoch": k, "loss": total_loss.data, "accuracy": acc})
    if k % 10 == 0 or k == 99:
        print(f"step {k} loss {total_loss.data}, accuracy {acc * 100}%")
by_hand_seconds = time.perf_counter() - started
print(f"{by_hand_seconds:.1f} s")
claim("100% accuracy after 100 steps", history[-1]["accuracy"] == 1.0)

# %% [markdown]
# The accuracy climbs to 100%. Two pictures tell the story: the loss (and accuracy) per
# step, and the *decision boundary*, the line where the score changes sign, evaluated on
# a grid of points around the data.

# %%
from autograd_lite.viz.plots import plot_decision_boundary, plot_loss_curve

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
plot_loss_curve(history, ax=left)
plot_decision_boundary(model, X, y, resolution=60, ax=right)
plt.show()
accuracies = [record["accuracy"] for record in history]
claim("the loss jumps after the first step", history[1]["loss"] > history[0]["loss"])
claim("the accuracy dips around step 50", min(accuracies[45:55]) < 1.0 == accuracies[40])

# %% [markdown]
# The loss is not monotone: with a learning rate this large some steps overshoot (the
# loss jumps right after the first step, and the accuracy dips again around step 50),
# and the decaying rate settles it. The boundary wraps around the tips of both moons,
# which no straight line could do: that is what the hidden layers are for.
#
# ## The same, with `fit`
#
# Everything above is what `autograd_lite.training.fit` does for us: forward, loss
# (chosen by name here: `"hinge"`), L2 penalty, `zero_grad`, `backward`, optimiser step,
# and a learning-rate schedule, with a `History` of every epoch. Plain gradient descent
# is `optim.SGD`, and `LambdaLR` multiplies its rate by our decay factor at each epoch.
# The whole data set is one batch, as in our loop.
#
# Left to itself `fit` runs exactly our loop, and takes as long. We pass `compile=True`:
# it records the graph of one sample's loss once, then replays it over the whole batch
# with numpy arrays, which computes the same numbers faster (the cell prints both times).
# ([Notebook 10](10_real_data_digits.ipynb) says more.)

# %%
from autograd_lite.optim import SGD
from autograd_lite.optim.lr_scheduler import LambdaLR
from autograd_lite.training import accuracy, fit


def train_with_fit(seed):
    """micrograd's demo network and schedule, trained by fit from random.seed(seed)."""
    random.seed(seed)
    model = MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    scheduler = LambdaLR(optimizer, lambda k: 1.0 - 0.9 * k / 100)
    history = fit(
        model,
        X,
        y,
        loss="hinge",
        optimizer=optimizer,
        scheduler=scheduler,
        l2=1e-4,
        epochs=100,
        progress=False,
        compile=True,
    )
    return model, history


started = time.perf_counter()
model_fit, fit_history = train_with_fit(1337)
fit_seconds = time.perf_counter() - started
print(fit_history)
print("accuracy after training:", accuracy(model_fit, X, y))
print(f"by hand {by_hand_seconds:.1f} s, fit(compile=True) {fit_seconds:.1f} s")

# %% [markdown]
# Is it really the same computation? The losses `fit` recorded should match ours step for
# step, up to the rounding of sums taken in a different order:

# %%
ours = [record["loss"] for record in history]
theirs = fit_history.series("loss")
largest = max(abs(a - b) for a, b in zip(ours, theirs))
print("largest difference between the two loss curves:", largest)
claim("the same loss curve to 1e-12", largest < 1e-12)

# %% [markdown]
# Was 100% the luck of micrograd's seed, 1337? The same training with `fit` from five
# other random starts (seeds 0 to 4), each drawn as a dot:

# %%
other_seeds = {}
for seed in range(5):
    other, other_history = train_with_fit(seed)
    record = other_history.records[-1]
    other_seeds[seed] = (accuracy(other, X, y), record["loss"])
    print(f"seed {seed}: accuracy {other_seeds[seed][0]:.2f}, last loss {record['loss']:.4f}")

fig, ax = plt.subplots(figsize=(4, 2.2), layout="constrained")
ax.plot([loss for _, loss in other_seeds.values()], [0] * 5, "o", alpha=0.6)
ax.set_yticks([])
ax.set_xlabel("loss after 100 steps, seeds 0 to 4")
plt.show()
claim("every seed reaches 100%", all(acc == 1.0 for acc, _ in other_seeds.values()))

# %% [markdown]
# Every start reaches 100% on these 100 points, with last losses close together (the
# dots). On two moons this small network does not depend on luck.
#
# ## Where to go from here
#
# * `fit` also takes mini-batches (`batch_size=`), a test set (`X_test=`, `y_test=`),
#   early stopping, other losses and optimisers (the default is `Adam` with rate 0.01).
# * More data or bigger networks make the interpreted loop slow, because every operation
#   of every sample is a Python object; `compile=True` is the way out, and
#   [notebook 10](10_real_data_digits.ipynb) uses it to train on 1347 images.
# * Why did this network train so easily? [Notebook 6](06_vanishing_and_exploding_gradients.ipynb)
#   shows networks that do not.
#
# Next, [regression](05_regression.ipynb) trains on a real-valued target, house prices,
# with the mean squared error.
