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
# # 12. A GPT from scalars
#
# The models that write text are transformers: GPT-2, and everything after it. Nothing in
# them is beyond a scalar engine. Embeddings are tables of numbers, attention is dot
# products and a softmax, and the rest is the linear layers and nonlinearities of the
# earlier notebooks. This notebook builds a GPT out of `Value`s, trains it on real
# names to make up new ones, and then looks inside: what the attention heads attend
# to, and how the gradient travels back through attention and the *residual stream*.
#
# ## The data: real names
#
# `load_names()` reads the first names of the 1990 US census, which ship inside the
# `names` package (its data is in the public domain; `pip install
# "autograd-lite[names]"`). They come lowercase, each once, most frequent first.

# %%
from autograd_lite.claims import claim
from autograd_lite.data import CharVocabulary, load_names

names = load_names()
claim("5,163 names", len(names) == 5163)
print(len(names), "names:", ", ".join(names[:8]), "...")
print("longest:", max(names, key=len))

# %% [markdown]
# A character-level model reads and writes one character at a time. `CharVocabulary`
# numbers the characters and adds one *boundary* token, `.`, with id 0, that starts and
# ends every name. The model will learn to predict each token from the ones before it:
# the inputs are a name's tokens without the last, the targets without the first.

# %%
vocab = CharVocabulary(names)
tokens = vocab.encode("emma")
print(vocab)
print("emma ->", tokens, "  inputs:", tokens[:-1], "  targets:", tokens[1:])
claim("27 tokens", len(vocab) == 27)

# %% [markdown]
# ## The model
#
# `GPT(vocab_size, block_size, n_embd, n_head, n_layer)` follows GPT-2, in the small
# variant of Karpathy's *microgpt*. Each position carries a vector of `n_embd` numbers,
# the **residual stream**. It starts as the sum of a token embedding and a position
# embedding; each block *adds* to it, first the output of attention, then the output of
# an MLP, each reading a normalised copy of the stream (RMSNorm); at the end a final
# norm and a linear `lm_head` turn each position's vector into one logit per token:
#
# ```
# x = token_embedding[token] + position_embedding[position]
# x = x + attn(RMSNorm(x))            # positions exchange information, causally
# x = x + proj(relu(fc(RMSNorm(x))))  # each position thinks on its own
# logits = lm_head(RMSNorm(x))
# ```
#
# One block, 16 numbers per position and 4 attention heads of 4 numbers each.
# `block_size` is the longest sequence it reads: the longest name plus its start token.

# %%
import math

from autograd_lite.nn import GPT

block_size = max(len(vocab.encode(name)) for name in names) - 1
model = GPT(len(vocab), block_size, n_embd=16, n_head=4, n_layer=1, seed=0)
print(model)
print(
    len(model.parameters()),
    "parameters;",
    model.n_embd,
    "numbers per position,",
    model.n_head,
    "heads of",
    model.n_embd // model.n_head,
)

# %% [markdown]
# Calling the model on a list of tokens gives one list of 27 logits per position. The
# loss of a name is the mean cross-entropy of its next-token predictions. Untrained, the
# model guesses about uniformly, so the loss should be close to $\log 27$:

# %%
from autograd_lite import sum_values, topological_order
from autograd_lite.losses import cross_entropy


def sequence_loss(logits, targets):
    """Mean cross-entropy of the next-token predictions of one sequence."""
    return sum_values([cross_entropy(row, t) for row, t in zip(logits, targets)]) * (
        1.0 / len(targets)
    )


logits = model(tokens[:-1])
loss = sequence_loss(logits, tokens[1:])
nodes = len(topological_order(loss))
print(
    f"{len(logits)} positions x {len(logits[0])} logits; loss {loss.data:.4f}, "
    f"log 27 = {math.log(27):.4f}"
)
print(f"the graph of this one name has {nodes} nodes")
claim("untrained: close to log 27", abs(loss.data - math.log(27)) < 0.05)

# %% [markdown]
# Every number in that graph is a scalar `Value`, and each block was checked against
# PyTorch in float64 (`tests/test_transformer.py`: values and gradients agree to
# 1e-10). So `loss.backward()` is ordinary backpropagation, all the way into the
# embedding tables.
#
# ## Training
#
# We hold out 200 names, and train on the rest with Adam, its learning rate decaying
# linearly to zero. A scalar engine pays one Python object per operation per name, so
# training one name at a time takes a while; `compile_loss` records the graph once per
# sequence length and replays it over a whole batch of names with NumPy, embedding
# lookups becoming array gathers, with the same numbers. Each batch holds names of one
# length (one compiled program each).

# %%
import random
import time

from autograd_lite.compile import compile_loss
from autograd_lite.optim import Adam
from autograd_lite.optim.lr_scheduler import LambdaLR

rng = random.Random(0)
shuffled = list(names)
rng.shuffle(shuffled)
test_names, train_names = shuffled[:200], shuffled[200:]
train = [vocab.encode(name) for name in train_names]
print(len(train_names), "names to train on,", len(test_names), "held out")
by_length = {}
for sequence in train:
    by_length.setdefault(len(sequence), []).append(sequence)

steps, batch_size = 600, 16
optimizer = Adam(model.parameters(), lr=0.01, betas=(0.85, 0.99))
schedule = LambdaLR(optimizer, lambda step: 1.0 - step / steps)

started = time.perf_counter()
compiled = compile_loss(model, sequence_loss, train[0][:-1], train[0][1:])
for group in by_length.values():  # one program per length, each checked once
    compiled.backward([group[0][:-1]], [group[0][1:]])  # against the interpreted engine
optimizer.zero_grad()
losses = []
with compiled.trainer(optimizer) as trainer:  # parameters live in a NumPy buffer meanwhile
    for step in range(steps):
        length = rng.choices(list(by_length), [len(b) for b in by_length.values()])[0]
        batch = rng.sample(by_length[length], min(batch_size, len(by_length[length])))
        losses.append(trainer.step([s[:-1] for s in batch], [s[1:] for s in batch]))
        schedule.step()
        if (step + 1) % 150 == 0:
            print(f"steps {step - 148:>3}-{step + 1}: mean loss {sum(losses[-150:]) / 150:.4f}")
seconds = time.perf_counter() - started
print(f"{steps} steps of {batch_size} names in {seconds:.1f} s")

# %% [markdown]
# The training loss, averaged over windows of 50 steps:

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

window = 50
smoothed = [sum(losses[i : i + window]) / window for i in range(0, steps, window)]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(range(window, steps + 1, window), smoothed)
ax.axhline(math.log(27), color="grey", linestyle="--", label="uniform guessing")
ax.set_xlabel("step")
ax.set_ylabel("loss")
ax.legend()
plt.show()

# %% [markdown]
# On the held-out names, which the model never saw:

# %%
from autograd_lite import no_grad

with no_grad():
    held_out = [vocab.encode(name) for name in test_names]
    test_loss = sum(sequence_loss(model(s[:-1]), s[1:]).data for s in held_out) / len(held_out)
print(f"held-out loss {test_loss:.4f} (uniform guessing: {math.log(27):.4f})")
claim("held-out loss below 2.3", test_loss < 2.3)

# %% [markdown]
# Far below uniform guessing, but that is a low bar. The honest comparison is with the
# simplest models that know something about spelling: **n-gram** models that just count.
# A *bigram* model predicts the next character from the one before it, with the
# frequencies counted in the training names; a *trigram* model from the two before it.
# A context never seen in training would get probability 0 for everything, so each
# count gets a small $\alpha$ added (add-$\alpha$ smoothing), with $\alpha$ chosen on
# the last 500 training names after counting the others. The score is the same mean
# cross-entropy on the same 200 held-out names.

# %%
from collections import Counter


def ngram_loss(order, train_sequences, test_sequences, alpha):
    """Held-out loss of a count model reading the ``order - 1`` tokens before each one."""
    counts, totals = Counter(), Counter()
    for s in train_sequences:
        padded = [vocab.boundary] * (order - 2) + s  # the start token repeated as context
        for i in range(order - 1, len(padded)):
            context = tuple(padded[i - order + 1 : i])
            counts[context, padded[i]] += 1
            totals[context] += 1
    per_name = []
    for s in test_sequences:
        padded = [vocab.boundary] * (order - 2) + s
        terms = []
        for i in range(order - 1, len(padded)):
            context = tuple(padded[i - order + 1 : i])
            p = (counts[context, padded[i]] + alpha) / (totals[context] + alpha * len(vocab))
            terms.append(-math.log(p))
        per_name.append(sum(terms) / len(terms))
    return sum(per_name) / len(per_name)


alphas = [0.01, 0.03, 0.1, 0.3, 1.0]
baselines = {}
for order, label in [(2, "bigram"), (3, "trigram")]:
    alpha = min(alphas, key=lambda a: ngram_loss(order, train[:-500], train[-500:], a))
    baselines[label] = ngram_loss(order, train, held_out, alpha)
    print(f"{label:>8} (alpha {alpha}): held-out loss {baselines[label]:.4f}")
print(f"     GPT: held-out loss {test_loss:.4f}")
claim("the GPT beats the bigram model", test_loss < baselines["bigram"] - 0.05)
claim("the trigram model beats this GPT", baselines["trigram"] < test_loss - 0.02)

# %% [markdown]
# The GPT beats the bigram model clearly, but **not the trigram model**: a table of
# counts over pairs of characters predicts these names better than our transformer
# after 600 steps. That is not a flaw of the engine. This GPT is tiny (one block of 16
# numbers per position) and briefly trained, and on 5,000 short names a count table
# with 27 × 27 contexts is hard to beat; what a transformer adds, attention over
# the whole name so far, pays off with more layers, more training, and more data
# than a notebook cell can afford. Try `n_layer=2`, `n_embd=32` and several thousand
# steps from the command line (below) to see the gap close.

# %% [markdown]
# ## Making up names
#
# `generate(prompt, n, temperature, seed)` samples one token at a time from the softmax
# of the last position's logits, starting from the boundary token and stopping when it
# samples the boundary again. It keeps a **key/value cache**: each block's attention
# remembers the keys and values of the positions it has seen, so a new token costs one
# position of work instead of a forward pass over the whole prefix. A lower temperature
# sharpens the distribution.

# %%
known = set(names)
samples = [
    vocab.decode(model.generate([vocab.boundary], block_size, 0.6, seed=k, stop=vocab.boundary))
    for k in range(20)
]
new = [name for name in samples if name not in known]
print(", ".join(samples))
print(f"{len(new)} of {len(samples)} are not in the census list")

# %% [markdown]
# The cache changes the cost, not the result: feeding the tokens one at a time through
# a cache gives exactly the logits of the full forward pass.

# %%
sequence = vocab.encode("isabella")[:-1]
full = [[v.data for v in row] for row in model(sequence)]
cache = model.new_cache()
stepped = [[v.data for v in model([token], cache)[0]] for token in sequence]
claim("the cache gives exactly the full pass's logits", stepped == full)
print(f"{len(sequence)} positions, one at a time through the cache: identical logits")

# %% [markdown]
# ## What the attention heads look at
#
# In each head, position $t$ forms a query and compares it with the keys of positions
# $0..t$; the softmax of the scaled dot products gives the weights with which it mixes
# their values. Causal: no position sees the future, so each row of weights has one more
# entry than the one above and sums to 1. `last_attention[h][t][s]` holds the weights of
# the last call, as Values.

# %%
attention = model.blocks[0].attn
name = "isabella"
sequence = vocab.encode(name)[:-1]
model(sequence)
weights = [[[a.data for a in row] for row in head] for head in attention.last_attention]
claim("each row sums to 1", all(abs(sum(row) - 1) < 1e-12 for head in weights for row in head))

labels = [vocab.chars[t] for t in sequence]


def as_matrix(rows):
    """Causal rows (row t has t + 1 entries) padded with nan above the diagonal."""
    n = len(rows)
    return [row + [math.nan] * (n - len(row)) for row in rows]


fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
for h, ax in enumerate(axes):
    image = ax.imshow(as_matrix(weights[h]), cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"head {h}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("attends to (key)")
axes[0].set_ylabel("position (query)")
fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
plt.show()

# %% [markdown]
# Each row is one position of `.isabella` reading the positions before it; the first
# row is always a single 1, since the start token can only see itself. One name is an
# anecdote, so let us average over the held-out names: for each head, the mean weight
# a position (from the third on) puts on itself, on the character just before it, and on
# the start token, next to what spreading the weight evenly would give.

# %%
import statistics

shares = {h: {"itself": [], "previous": [], "start": [], "even": []} for h in range(4)}
with no_grad():
    for held_out_name in test_names:
        model(vocab.encode(held_out_name)[:-1])
        for h, head in enumerate(attention.last_attention):
            for t, row in enumerate(head[2:], start=2):
                shares[h]["itself"].append(row[t].data)
                shares[h]["previous"].append(row[t - 1].data)
                shares[h]["start"].append(row[0].data)
                shares[h]["even"].append(1 / (t + 1))
print("head  itself  previous  start  (even split)")
for h, share in shares.items():
    mean = {key: statistics.mean(values) for key, values in share.items()}
    print(
        f"{h:>4}  {mean['itself']:6.3f}  {mean['previous']:8.3f}  {mean['start']:5.3f}"
        f"  ({mean['even']:.3f})"
    )
ratios = [
    statistics.mean(share["previous"]) / statistics.mean(share["even"]) for share in shares.values()
]
best = max(range(4), key=ratios.__getitem__)
print(f"head {best} puts {ratios[best]:.2f} times the even share on the previous character")
claim("some head puts over 1.2 times the even share on the previous character", ratios[best] > 1.2)

# %% [markdown]
# The heads differ. In this model one head leans towards the character just before (the
# ratio printed above), the most useful single fact about the past for a model that
# spells, and the others spread their weight more evenly over the name so far, which
# tells the model how long the name already is and what it is made of. How strongly,
# and which head, is a property of this one training run: another seed, or another
# CPU's rounding over 600 steps, gives other heads and other ratios. So take the table
# as a description of this model, not a law about attention.

# %% [markdown]
# ## How the gradient flows back
#
# To watch the gradient we need the intermediate vectors, so here is the forward pass
# written out with the model's own parts. It computes exactly what `model(tokens)`
# computes (checked below, bit for bit), but keeps the residual stream at each stage:
# `x0` after the embeddings, `x1` after attention is added, `x2` after the MLP is added.

# %%
import operator


def add(xs, ys):
    """Position by position, coordinate by coordinate: the residual connection."""
    return [list(map(operator.add, x, y)) for x, y in zip(xs, ys)]


def forward_with_stream(model, tokens):
    block = model.blocks[0]
    x0 = [
        [a + b for a, b in zip(model.token_embedding(t), model.position_embedding(i))]
        for i, t in enumerate(tokens)
    ]
    x1 = add(x0, block.attn([block.norm1(x) for x in x0]))
    x2 = add(x1, [block.proj(block.fc(block.norm2(x))) for x in x1])
    logits = [model.lm_head(model.final_norm(x)) for x in x2]
    return logits, {"x0 (embeddings)": x0, "x1 (+ attention)": x1, "x2 (+ MLP)": x2}


tokens = vocab.encode(name)
reference = [[v.data for v in row] for row in model(tokens[:-1])]
logits, stream = forward_with_stream(model, tokens[:-1])
claim(
    "the written-out pass is the model's, bit for bit",
    [[v.data for v in row] for row in logits] == reference,
)
model.zero_grad()
loss = sequence_loss(logits, tokens[1:])
loss.backward()
print(f"loss of {name!r}: {loss.data:.4f}")

# %% [markdown]
# `backward()` leaves the gradient on every node, interior ones included, so each
# vector of the stream now holds d loss / d x. Its size per position and stage:

# %%
from autograd_lite.diagnostics.health import l2_norm

fig, ax = plt.subplots(figsize=(7, 3))
for stage, vectors in stream.items():
    norms = [l2_norm(v.grad for v in x) for x in vectors]
    ax.plot(range(len(vectors)), norms, marker="o", label=stage)
ax.set_xticks(range(len(labels)), labels)
ax.set_xlabel("position")
ax.set_ylabel("|d loss / d x|")
ax.legend()
plt.show()

# %% [markdown]
# Going back from `x2` to `x1` to `x0`, the gradient is not multiplied down layer by
# layer as in the deep networks of notebook 6. Each block *adds* to the stream, so
# d x2 / d x1 is the identity plus the MLP's Jacobian: the gradient arriving at `x2`
# passes to `x1` unchanged, and the branches add their part to it. `explain` shows this
# for one number of the stream, the first coordinate of `x1` at position 1, and the same
# coordinate of `x0` below it: thousands of paths run through attention, but the
# largest is the straight residual path, a single factor 1.

# %%
from autograd_lite.diagnostics import explain

x0, x1 = stream["x0 (embeddings)"], stream["x1 (+ attention)"]
x0[1][0].label, x1[1][0].label = "x0[1][0]", "x1[1][0]"
paths = explain(x1[1][0], x0[1][0], max_paths=100_000)
print(f"{len(paths)} paths; d x1[1][0] / d x0[1][0] = {paths.total:.4f}")
print("largest:", paths.paths[0], f"(product {paths.paths[0].product})")
claim(
    "the largest path is the residual one, factor 1",
    paths.paths[0].product == 1.0 and len(paths.paths[0].factors) == 1,
)
claim("thousands of paths", len(paths) > 1000)

# %% [markdown]
# An earlier position reaches a later one *only* through attention: there is no
# residual path across positions. From `x0` at position 0 (the start token) to `x1` at
# position 2, every path goes through a query, key or value, a softmax and the output
# projection:

# %%
x1[2][0].label, x0[0][0].label = "x1[2][0]", "x0[0][0]"
across = explain(x1[2][0], x0[0][0], max_paths=100_000)
print(f"{len(across)} paths; d x1[2][0] / d x0[0][0] = {across.total:.4f}")
print("largest:", across.paths[0])
claim("no direct path across positions", all(len(p.factors) > 1 for p in across.paths))

# %% [markdown]
# The attention weights are Values too, so the gradient on each one says how the loss
# would change if that position attended a little more to that key: more weight on a
# red cell would raise the loss, more on a blue one would lower it.

# %%
grads = [[[a.grad for a in row] for row in head] for head in attention.last_attention]
largest = max(abs(g) for head in grads for row in head for g in row)
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
for h, ax in enumerate(axes):
    image = ax.imshow(as_matrix(grads[h]), cmap="RdBu_r", vmin=-largest, vmax=largest)
    ax.set_title(f"head {h}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
fig.colorbar(image, ax=axes, shrink=0.8, label="d loss / d attention weight")
plt.show()

# %% [markdown]
# Finally, the size of the gradient that reaches each part's parameters, grouped by
# layer (`layer_grad_norms`, as in notebook 6), as dots on a log axis: a bar on a log
# axis starts wherever the axis happens to start. (The token embedding receives
# gradient only in the rows of the characters this name uses.)

# %%
from autograd_lite.diagnostics.health import layer_grad_norms

layer_norms = layer_grad_norms(model)
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
ax.plot(range(len(layer_norms)), list(layer_norms.values()), "o")  # dots: a log axis has no 0
ax.set_xticks(range(len(layer_norms)), list(layer_norms), rotation=30, ha="right")
ax.set_yscale("log")
ax.set_ylabel("gradient norm (L2)")
plt.show()
for layer, norm in layer_norms.items():
    print(f"{layer:<20} {norm:.4f}")

# %% [markdown]
# `blocks.0` lumps the whole block together. Part by part, with each module's own
# parameters (the attention's four projections, the MLP's two layers, the norms):

# %%
parts = {
    path: l2_norm(p.grad for p in module.parameters())
    for path, module in model.named_modules()
    if path and not module.children() and module.parameters()
}
for path, norm in parts.items():
    print(f"{path:<28} {norm:.4f}")
used_rows = sum(any(w.grad != 0 for w in row) for row in model.token_embedding.weight)
print(f"token embedding rows with a gradient: {used_rows} of {len(vocab)}")
claim("one row per distinct character of the name", used_rows == len(set(tokens[:-1])))

# %% [markdown]
# ## Where to go from here
#
# `autograd-lite train --dataset names --model gpt --compile` trains the same model from
# the command line and prints names. More layers (`n_layer`), a wider stream (`n_embd`)
# and more steps lower the loss further, at the price of time: every one of those
# numbers is still a Python object.
