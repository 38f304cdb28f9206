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
# # 2. The backward pass, step by step
#
# [Notebook 1](01_derivatives_and_the_chain_rule.ipynb) ended with the loop at the heart
# of `backward()`: walk the graph in reverse topological order and let every node add
# `local derivative × its gradient` to each of its inputs. Here we slow that loop down
# and watch it one node at a time: first as a table, then as an animation in the page,
# and finally we ask *why* one weight of a small network gets the gradient it gets.
#
# The example is the small expression from Andrej Karpathy's micrograd lecture:
# $L = (a \cdot b + c) \cdot f$.

# %%
from autograd_lite import Value
from autograd_lite.claims import claim

a = Value(2.0, label="a")
b = Value(-3.0, label="b")
c = Value(10.0, label="c")
f = Value(-2.0, label="f")
e = a * b
e.label = "e"
d = e + c
d.label = "d"
L = d * f
L.label = "L"
print(L)

# %% [markdown]
# ## The steps as a table
#
# `backward_steps(L)` replays `L.backward()` without touching any `.grad`: it yields one
# `Step` per operation, in the order `backward()` uses. Step 0 is the seed,
# $dL/dL = 1$. Every later step takes one node whose gradient is already complete and
# hands a share to each input: `input.grad += local derivative × node.grad`. Each share
# is a `Contribution`. We lay them out as a table, one row per contribution.

# %%
from autograd_lite.viz import backward_steps

steps = list(backward_steps(L))
header = f"{'step':>4}  {'node':<5} {'op':<4} {'node grad':>9}   {'input':<5} {'local':>6} "
header += f"{'added':>6}  {'input grad':>10}"
print(header)
print("-" * len(header))
for step in steps:
    if step.is_seed:
        print(f"{step.index:>4}  {step.label:<5} {'seed':<4} {step.grad:>9g}")
    for share in step.contributions:
        print(
            f"{step.index:>4}  {step.label:<5} {step.op:<4} {step.grad:>9g}   "
            f"{share.parent.label:<5} {share.local_derivative:>6g} {share.added:>6g}  "
            f"{share.grad_after:>10g}"
        )

# %% [markdown]
# Read it top to bottom and you have done backpropagation by hand:
#
# * `L = d · f`, so $\partial L/\partial d = f = -2$ and $\partial L/\partial f = d = 4$.
# * `d = e + c`: an addition passes the gradient through unchanged, so `e` and `c` both
#   get $-2$.
# * `e = a · b`: `a` gets $b \cdot (-2) = 6$ and `b` gets $a \cdot (-2) = -4$.
#
# The same numbers sit on the drawing when each edge is labelled with its local
# derivative (`edge_labels="local"`): the gradient of a node is the gradient to its right
# times the label on the edge between them.

# %%
from autograd_lite.viz import draw_dot

draw_dot(L, edge_labels="local")

# %% [markdown]
# No backward pass has run yet, so the boxes show no gradients, but every factor of the
# chain rule is already known: `e`'s edges read $b = -3$ and $a = 2$, `L`'s read
# $f = -2$ and $d = 4$. The leaves `a`, `b`, `c` and `f` get no step of their own: they
# have nothing to pass on. Each step also carries its `rule`: how the node was computed
# and, for each input, the local derivative in symbols with the numbers filled in. This
# is the part of the chain rule that a table of numbers hides:

# %%
for step in steps:
    print(f"step {step.index}: {step.rule}")

# %% [markdown]
# A product's local derivative with respect to one factor is the *other* factor
# ($\partial e/\partial a = b$), a sum's is 1. Each step also carries `grads`, every
# gradient known after it, so the final step holds the whole answer. It agrees with
# `backward()`, which we run only now, because `backward_steps` left the real `.grad`
# alone:

# %%
final = steps[-1].grads
print("before backward():", {v.label: v.grad for v in (a, b, c, f)})
L.backward()
print("after backward(): ", {v.label: v.grad for v in (a, b, c, f)})
print("the last step:    ", {v.label: final[v] for v in (a, b, c, f)})

# %% [markdown]
# ## The player
#
# The same steps, animated. `Player(L)` draws the graph and highlights the node being
# processed (red), the inputs it updates (blue) and the nodes already done (green); above
# the drawing it writes the step's rule and the update of each input's `.grad`. Every
# node in the text has its name on the drawing. Press ▶ to play (the speed menu slows
# it down), or step with the buttons, the arrow keys and the slider. The drawing keeps
# its place from step to step; the page picks the left-to-right or the top-to-bottom
# layout, whichever fits the cell better. In a narrow cell the table of gradients sits
# behind the "table" button. The page is self-contained (the drawing is inline SVG,
# nothing is fetched from the network), and `Player(L).save("player.html")` writes it to
# a file you can open in any browser.

# %%
from autograd_lite.viz import Player

Player(L, height=560, interval_ms=1200)

# %% [markdown]
# ## Why does this weight get that gradient? `explain`
#
# In a network, the gradient of the loss with respect to one weight is a sum over every
# *path* from the weight to the loss, each path contributing the product of the local
# derivatives along it. When a weight refuses to learn, looking at those paths tells you
# why. `explain(output, x)` lists them, largest first.
#
# Here is a small network: 2 inputs, 3 ReLU hidden units, 1 linear output, and a squared
# error on one sample. We give the first layer's parameters readable labels: `w10` is
# the weight from input 0 into hidden unit 1.

# %%
from autograd_lite.nn import MLP

model = MLP(2, [3, 1], seed=0)
for i, neuron in enumerate(model.layers[0].neurons):
    for j, weight in enumerate(neuron.w):
        weight.label = f"w{i}{j}"
    neuron.b.label = f"b{i}"

x = [Value(1.0, label="x0"), Value(-2.0, label="x1")]
out = model(x)
out.label = "out"
loss = (out - 1.0) ** 2
loss.label = "loss"
loss.backward()
for neuron in model.layers[0].neurons:
    print(", ".join(f"{w.label}.grad = {w.grad:+.4f}" for w in neuron.w))

# %% [markdown]
# Hidden unit 0 gets no gradient at all. `explain` shows the one path from `w00` to the
# loss and flags the factor that blocks it:

# %%
from autograd_lite.diagnostics import explain

print(explain(loss, model.layers[0].neurons[0].w[0]))

# %% [markdown]
# A neuron is one fused node here, `relu(Σ=…)`, so `explain` writes its weighted sum
# $\Sigma = w_{00} x_0 + w_{01} x_1 + b_0$ beside its output. We can compute that sum
# ourselves from the weights:

# %%
unit0 = model.layers[0].neurons[0]
weighted_sum = sum(w.data * xi.data for w, xi in zip(unit0.w, x)) + unit0.b.data
print(
    f"unit 0: {unit0.w[0].data:.4f} * 1.0 + {unit0.w[1].data:.4f} * (-2.0) + "
    f"{unit0.b.data:.4f} = {weighted_sum:.4f}"
)
claim("unit 0's weighted sum is negative: its ReLU is dead", weighted_sum < 0)

# %% [markdown]
# Below zero, so its ReLU outputs 0 and has local derivative 0: a **dead ReLU** for this
# sample. Every path through it has product 0. A live unit is different; the product
# along its path is exactly the gradient that `backward()` computed:

# %%
w10 = model.layers[0].neurons[1].w[0]
explanation = explain(loss, w10)
print(explanation)
print("\nbackward() gave", w10.grad, "and the paths sum to", explanation.total)

# %% [markdown]
# The input `x0` reaches the loss through all three hidden units, so its gradient is a
# sum of three paths. Two are alive, one is blocked:

# %%
print(explain(loss, x[0]))
print("\nbackward() gave x0.grad =", x[0].grad)

# %% [markdown]
# The player shows the same thing as it happens. Given the model (`model=`), it names
# every weight by its place in the network, `layers.0.neurons.0.w[0]` is `w00`'s full
# name, and the inputs `x0`, `x1`. With `forward=True` it first plays the forward pass,
# one operation at a time, and with `lr=0.1` it ends with the update
# `p.data -= lr · p.grad` of every parameter: a whole training step. Stop at the step of
# the dead unit (it turns red): the page says that its local derivative is 0 and that
# the gradient stops there. With `path_of=x[0]` the "paths" panel (beside the table, or
# behind the "table & paths" button in a narrow cell) writes `explain`'s three paths
# from the loss to `x0` as products of local derivatives; each factor lights up when
# the backward pass reaches it, and the products add up to `x0.grad`. Click any other
# leaf to see its paths.

# %%
Player(
    loss,
    model=model,
    forward=True,
    lr=0.1,
    path_of=x[0],
    height=620,
    title="One training step",
)

# %% [markdown]
# ## A fix for the dead unit
#
# A ReLU is dead where its input is negative, and a weight behind it learns nothing from
# that sample. If that holds for *every* sample the unit never recovers. A *leaky* ReLU
# keeps a small slope (0.01) below zero, so some gradient always gets through. Switching
# the hidden layer's activation and running the same sample again:

# %%
model.layers[0].activation = "leaky_relu"
model.zero_grad()
out = model(x)
loss = (out - 1.0) ** 2
loss.label = "loss"
loss.backward()
leaky = explain(loss, model.layers[0].neurons[0].w[0])
print(leaky)
(path,) = leaky.paths
claim("the leaky ReLU passes 0.01 of the gradient back", 0.01 in path.factors and path.product != 0)

# %% [markdown]
# The path is open again: its product is small (one factor is the slope 0.01), but not
# zero, so gradient descent can move `w00` and bring the unit back.
#
# ## What we saw
#
# * Backpropagation is a sequence of small, local steps: one node at a time, each input
#   gets `local derivative × node gradient` added to its `.grad`.
# * `backward_steps` replays them as data, each with its rule (∂o/∂n = 1 − o²), and
#   `Player` as an animation, forward pass and update included if asked.
# * A gradient is a sum over paths of products of local derivatives; `explain` lists the
#   paths and says which factor blocks one (a dead ReLU, a saturated tanh or sigmoid).
#
# Next, [losses and their gradients](03_losses_and_their_gradients.ipynb) derives the
# gradient that starts every backward pass, and [training an MLP](04_training_an_mlp.ipynb)
# puts `backward()` to work.
