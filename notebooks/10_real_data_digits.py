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
# # 7. Real data: handwritten digits
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
# stable `logsumexp`.

# %%
from autograd_lite import softmax
from autograd_lite.losses import cross_entropy
from autograd_lite.nn import MLP

model = MLP(64, [32, 10], seed=0)
logits = model(X_train[0])
print("parameters:", len(model.parameters()))
print("probabilities before training:", [round(p.data, 2) for p in softmax(logits)])
print("loss for this image (label", y_train[0], "):", cross_entropy(logits, y_train[0]))

# %% [markdown]
# Untrained, the probabilities are arbitrary, and often confident: with micrograd's
# uniform(-1, 1) initial weights and 64 inputs the logits are large. A network that gave
# every digit probability 1/10 would score $\log 10 \approx 2.3$ on every image; this
# one averages much worse (the mean loss of a batch is printed below), and training
# brings it far below.
#
# ## Compiling the graph
#
# One forward and backward pass through this network is about 2400 multiply-adds per
# image, and the interpreted engine makes a Python object for each operation of each
# image. But the graph has the same shape for every image: only the numbers differ.
# `compile_loss(model, loss, x, y)` records the graph of one example once and turns it
# into a short program over numpy arrays, which then runs a whole batch at a time.
# `step.backward(X_batch, y_batch)` returns the mean loss and adds its gradient into
# every parameter's `.grad`, like `loss.backward()` on the interpreted mean.
#
# A claim like that must be checked. Here is one batch of 128 images both ways:

# %%
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

# %% [markdown]
# The same numbers up to rounding (sums are added in a different order), many times
# faster. The speed-up depends on the machine and grows with the batch. `fit(...,
# compile=True)` uses the same machinery for every batch.
#
# ## Training
#
# 20 epochs of Adam (learning rate 0.01) in mini-batches of 32 images, scoring the test
# set after every epoch.

# %%
from autograd_lite.training import fit
from autograd_lite.viz.plots import plot_loss_curve

model = MLP(64, [32, 10], seed=0)
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
# The training accuracy approaches 100% while the test accuracy levels off around 96%:
# the gap is what the model memorised rather than learnt. (A wider hidden layer and more
# epochs reach about 98% on the test set, at a few times the cost; try `MLP(64, [64,
# 10])` and `epochs=50`.)
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
# And the misclassified images themselves, each titled `true → predicted`:

# %%
mistakes = [i for i, (true, guess) in enumerate(zip(y_test, predicted)) if true != guess]
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
# ## What we saw
#
# * `load_digits()` gives a real data set with no download; `train_test_split` holds out
#   a test set.
# * Ten outputs and the cross-entropy loss make a classifier; `fit` picks that loss for
#   integer labels by itself.
# * `compile_loss` and `fit(compile=True)` replay one recorded graph over whole batches
#   with numpy: the same gradients, many times faster.
# * A confusion matrix and the misclassified examples show *what* a model gets wrong,
#   which a single accuracy number hides.
