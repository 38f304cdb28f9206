"""Tests for autograd_lite.nn.transformer: every block against PyTorch float64 (values and
gradients to 1e-10), the key/value cache against the full forward pass, saving and loading,
and bad input."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.engine import Value, gradients, no_grad, sum_values
from autograd_lite.losses import cross_entropy
from autograd_lite.nn import (
    GPT,
    Block,
    CausalSelfAttention,
    Embedding,
    KVCache,
    LayerNorm,
    Linear,
    RMSNorm,
)
from autograd_lite.serialization import load, save
from tests.oracles import assert_close, central_difference, require_torch

torch = require_torch()
TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


# --------------------------------------------------------------------------------------
# Helpers: copying weights to torch and comparing
# --------------------------------------------------------------------------------------


def tensor(values, requires_grad: bool = False):
    """Nested lists of Values or floats as a float64 tensor (a leaf)."""

    def plain(v):
        return [plain(x) for x in v] if isinstance(v, list) else float(getattr(v, "data", v))

    return torch.tensor(plain(values), dtype=torch.float64, requires_grad=requires_grad)


def assert_matches(mine, theirs, what: str) -> None:
    """Nested lists of Values (their .data) equal a tensor to 1e-10, entry by entry."""
    expected = theirs.detach().tolist()

    def walk(a, b, path):
        if isinstance(a, list):
            assert len(a) == len(b), f"{what}{path}: length {len(a)} vs {len(b)}"
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{i}]")
        else:
            assert_close(float(getattr(a, "data", a)), b, what=f"{what}{path}", **TOLERANCE)

    walk(mine, expected, "")


def assert_grads_match(mine, leaf, what: str) -> None:
    """The .grad of nested lists of Values equals a torch leaf's .grad to 1e-10."""

    def grads(v):
        return [grads(x) for x in v] if isinstance(v, list) else v.grad

    assert leaf.grad is not None, f"{what}: torch computed no gradient"
    assert_matches(grads(mine), leaf.grad, what + ".grad")


def random_vectors(rng: random.Random, count: int, dim: int, scale: float = 1.0):
    """``count`` lists of ``dim`` Values drawn from N(0, scale²)."""
    return [[Value(rng.gauss(0.0, scale)) for _ in range(dim)] for _ in range(count)]


def weighted_sum(outputs, rng: random.Random):
    """sum(c * y) with random c: one backward pass tests a random row of the Jacobian."""
    flat = [v for row in outputs for v in row] if isinstance(outputs[0], list) else outputs
    coefficients = [rng.uniform(-1.0, 1.0) for _ in flat]
    return sum_values([c * v for c, v in zip(coefficients, flat)]), coefficients


def torch_weighted_sum(output, coefficients):
    return (output.reshape(-1) * torch.tensor(coefficients, dtype=torch.float64)).sum()


def randomise(values, rng: random.Random, scale: float = 0.5) -> None:
    """Move every parameter away from its initial value (norm scales start at 1)."""
    for p in values:
        p.data = rng.gauss(0.0, scale) + (1.0 if p.data == 1.0 else 0.0)


# --------------------------------------------------------------------------------------
# Linear, Embedding, norms against torch.nn
# --------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16), bias=st.booleans(), activation=st.sampled_from(["linear", "relu"])
)
def test_linear_matches_torch_linear_in_values_and_gradients(seed, bias, activation) -> None:
    """Linear equals torch.nn.Linear (+ ReLU): outputs and grads of input, weight and bias."""
    rng = random.Random(seed)
    layer = Linear(5, 4, bias, activation, seed=seed)
    (x,) = random_vectors(rng, 1, 5)
    y = layer(x)
    loss, coefficients = weighted_sum(y, rng)
    loss.backward()

    twin = torch.nn.Linear(5, 4, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(tensor(layer.weight))
        if bias:
            twin.bias.copy_(tensor(layer.bias))
    tx = tensor(x, requires_grad=True)
    ty = twin(tx)
    if activation == "relu":
        ty = torch.relu(ty)
    torch_weighted_sum(ty, coefficients).backward()
    assert_matches(y, ty, "output")
    assert_grads_match(x, tx, "x")
    assert_grads_match(layer.weight, twin.weight, "weight")
    if bias:
        assert_grads_match(layer.bias, twin.bias, "bias")


def test_linear_default_init_is_pytorchs_uniform_bound() -> None:
    """With std=None weights and biases lie in ±1/sqrt(nin); with a std the biases are 0."""
    layer = Linear(9, 30, seed=0)
    bound = 1 / 3
    assert all(abs(w.data) <= bound for row in layer.weight for w in row)
    assert max(abs(b.data) for b in layer.bias) > 0.0
    gpt_style = Linear(9, 30, std=0.02, seed=0)
    assert all(b.data == 0.0 for b in gpt_style.bias)


def test_embedding_matches_torch_embedding_including_repeated_tokens() -> None:
    """Embedding rows and their accumulated gradients equal torch.nn.Embedding's."""
    rng = random.Random(3)
    table = Embedding(7, 3, seed=1)
    tokens = [4, 0, 4, 6, 4]
    rows = table(tokens)
    loss, coefficients = weighted_sum(rows, rng)
    loss.backward()

    twin = torch.nn.Embedding(7, 3, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(tensor(table.weight))
    out = twin(torch.tensor(tokens))
    torch_weighted_sum(out, coefficients).backward()
    assert_matches(rows, out, "rows")
    assert_grads_match(table.weight, twin.weight, "weight")
    assert table(2) == table.weight[2]
    assert all(a is b for a, b in zip(table(2), table.weight[2]))  # a lookup adds no node


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    eps=st.sampled_from([1e-5, 1e-2, 0.0]),
    affine=st.booleans(),
    bias=st.booleans(),
    scale=st.sampled_from([1e-3, 1.0, 100.0]),
)
def test_layernorm_matches_torch_layernorm(seed, eps, affine, bias, scale) -> None:
    """LayerNorm equals torch.nn.LayerNorm: outputs and grads of x, weight and bias."""
    rng = random.Random(seed)
    norm = LayerNorm(6, eps, affine, bias)
    randomise(norm.parameters(), rng)
    (x,) = random_vectors(rng, 1, 6, scale)
    y = norm(x)
    loss, coefficients = weighted_sum(y, rng)
    loss.backward()

    twin = torch.nn.LayerNorm(6, eps, affine, bias, dtype=torch.float64)
    with torch.no_grad():
        if affine:
            twin.weight.copy_(tensor(norm.weight))
            if bias:
                twin.bias.copy_(tensor(norm.bias))
    tx = tensor(x, requires_grad=True)
    ty = twin(tx)
    torch_weighted_sum(ty, coefficients).backward()
    assert_matches(y, ty, "output")
    assert_grads_match(x, tx, "x")
    if affine:
        assert_grads_match(norm.weight, twin.weight, "weight")
        if bias:
            assert_grads_match(norm.bias, twin.bias, "bias")


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    eps=st.sampled_from([None, 1e-5, 1e-2]),
    affine=st.booleans(),
    scale=st.sampled_from([1e-3, 1.0, 100.0]),
)
def test_rmsnorm_matches_torch_rmsnorm(seed, eps, affine, scale) -> None:
    """RMSNorm equals torch.nn.RMSNorm (eps=None included): outputs, grads of x and weight."""
    rng = random.Random(seed)
    norm = RMSNorm(6, eps, affine)
    randomise(norm.parameters(), rng)
    (x,) = random_vectors(rng, 1, 6, scale)
    y = norm(x)
    loss, coefficients = weighted_sum(y, rng)
    loss.backward()

    twin = torch.nn.RMSNorm(6, eps, affine, dtype=torch.float64)
    if affine:
        with torch.no_grad():
            twin.weight.copy_(tensor(norm.weight))
    tx = tensor(x, requires_grad=True)
    ty = twin(tx)
    torch_weighted_sum(ty, coefficients).backward()
    assert_matches(y, ty, "output")
    assert_grads_match(x, tx, "x")
    if affine:
        assert_grads_match(norm.weight, twin.weight, "weight")


def test_norms_accept_plain_numbers() -> None:
    """A list of floats is normalised too (the result is computed from constants)."""
    y = RMSNorm(3, elementwise_affine=False)([3.0, 0.0, -3.0])
    assert [v.data if isinstance(v, Value) else v for v in y] == pytest.approx(
        [math.sqrt(1.5), 0.0, -math.sqrt(1.5)]
    )
    z = LayerNorm(2, eps=0.0)([1.0, 3.0])
    assert [v.data for v in z] == pytest.approx([-1.0, 1.0])


# --------------------------------------------------------------------------------------
# Attention and the GPT against torch references written from primitives
# --------------------------------------------------------------------------------------


def torch_attention(x, wq, wk, wv, wo, n_head: int):
    """Causal multi-head self-attention from torch primitives; x is (positions, dim)."""
    n, dim = x.shape
    head_dim = dim // n_head
    q, k, v = x @ wq.T, x @ wk.T, x @ wv.T
    heads = []
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    weights = []
    for h in range(n_head):
        cols = slice(h * head_dim, (h + 1) * head_dim)
        scores = (q[:, cols] @ k[:, cols].T) / math.sqrt(head_dim)
        attention = torch.softmax(scores.masked_fill(future, -math.inf), dim=-1)
        weights.append(attention)
        heads.append(attention @ v[:, cols])
    return torch.cat(heads, dim=-1) @ wo.T, weights


def attention_leaves(attn: CausalSelfAttention):
    return [
        tensor(p.weight, requires_grad=True) for p in (attn.query, attn.key, attn.value, attn.out)
    ]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), n_head=st.sampled_from([1, 2, 4]), positions=st.integers(1, 5))
def test_attention_matches_a_torch_reference(seed, n_head, positions) -> None:
    """CausalSelfAttention equals torch's causal softmax(QKᵀ/√d)V per head: values and grads."""
    rng = random.Random(seed)
    attn = CausalSelfAttention(8, n_head, seed=seed)
    xs = random_vectors(rng, positions, 8)
    ys = attn(xs)
    loss, coefficients = weighted_sum(ys, rng)
    loss.backward()

    leaves = attention_leaves(attn)
    tx = tensor(xs, requires_grad=True)
    ty, weights = torch_attention(tx, *leaves, n_head)
    torch_weighted_sum(ty, coefficients).backward()
    assert_matches(ys, ty, "output")
    for h in range(n_head):
        # Row t of the causal weights has t + 1 entries: the positions it may see.
        rows = [row + [0.0] * (positions - len(row)) for row in attn.last_attention[h]]
        assert_matches(rows, weights[h], f"attention weights of head {h}")
    assert_grads_match(xs, tx, "x")
    for name, leaf in zip(("query", "key", "value", "out"), leaves):
        assert_grads_match(getattr(attn, name).weight, leaf, name)


def test_attention_matches_torch_scaled_dot_product_attention() -> None:
    """A second oracle: torch's fused scaled_dot_product_attention(is_causal=True)."""
    rng = random.Random(5)
    attn = CausalSelfAttention(6, 3, seed=2)
    xs = random_vectors(rng, 4, 6)
    ys = attn(xs)
    wq, wk, wv, wo = attention_leaves(attn)
    x = tensor(xs)

    def split(t):  # (positions, dim) -> (heads, positions, head_dim)
        return t.reshape(4, 3, 2).transpose(0, 1)

    mixed = torch.nn.functional.scaled_dot_product_attention(
        split(x @ wq.T), split(x @ wk.T), split(x @ wv.T), is_causal=True
    )
    assert_matches(ys, mixed.transpose(0, 1).reshape(4, 6) @ wo.T, "output")


def test_attention_with_a_cache_continues_the_sequence_exactly() -> None:
    """Positions fed in pieces through a KVCache give bit-identical outputs to one call."""
    rng = random.Random(0)
    attn = CausalSelfAttention(4, 2, seed=0)
    xs = random_vectors(rng, 5, 4)
    whole = attn(xs)
    cache = KVCache()
    pieces = attn(xs[:2], cache) + attn(xs[2:3], cache) + attn(xs[3:], cache)
    assert len(cache) == 5
    assert [[v.data for v in y] for y in pieces] == [[v.data for v in y] for y in whole]


def torch_norm(x, norm, leaf, name: str):
    """torch's rms_norm or layer_norm with leaves for ``norm``'s weight (and bias)."""
    weight = leaf(name, norm.weight)
    if isinstance(norm, RMSNorm):
        return torch.nn.functional.rms_norm(x, (x.shape[-1],), weight, eps=torch.finfo(x.dtype).eps)
    bias = leaf(name + ".bias", norm.bias)
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), weight, bias, eps=norm.eps)


def torch_gpt(model: GPT, tokens: list[int]):
    """The GPT's forward pass from torch primitives, with leaves for every parameter."""
    leaves = {}

    def leaf(name, values):
        leaves[name] = tensor(values, requires_grad=True)
        return leaves[name]

    n = len(tokens)
    x = (
        leaf("wte", model.token_embedding.weight)[tokens]
        + leaf("wpe", model.position_embedding.weight)[:n]
    )
    for i, block in enumerate(model.blocks):
        a = block.attn
        h = torch_norm(x, block.norm1, leaf, f"{i}.norm1")
        ws = [leaf(f"{i}.{p}", getattr(a, p).weight) for p in ("query", "key", "value", "out")]
        attended, _ = torch_attention(h, *ws, model.n_head)
        x = x + attended
        h = torch_norm(x, block.norm2, leaf, f"{i}.norm2")
        hidden = torch.relu(h @ leaf(f"{i}.fc", block.fc.weight).T)
        x = x + hidden @ leaf(f"{i}.proj", block.proj.weight).T
    x = torch_norm(x, model.final_norm, leaf, "final_norm")
    return x @ leaf("lm_head", model.lm_head.weight).T, leaves


def our_parameters(model: GPT) -> dict[str, list]:
    """Our parameters under the torch reference's leaf names."""
    found = {
        "wte": model.token_embedding.weight,
        "wpe": model.position_embedding.weight,
        "final_norm": model.final_norm.weight,
        "lm_head": model.lm_head.weight,
    }
    norms = {"final_norm": model.final_norm}
    for i, block in enumerate(model.blocks):
        norms[f"{i}.norm1"] = block.norm1
        norms[f"{i}.norm2"] = block.norm2
        found[f"{i}.fc"] = block.fc.weight
        found[f"{i}.proj"] = block.proj.weight
        for p in ("query", "key", "value", "out"):
            found[f"{i}.{p}"] = getattr(block.attn, p).weight
    for name, norm in norms.items():
        found[name] = norm.weight
        if getattr(norm, "bias", None) is not None:
            found[name + ".bias"] = norm.bias
    return found


def mean_cross_entropy(logits, targets):
    return sum_values([cross_entropy(row, t) for row, t in zip(logits, targets)]) * (
        1.0 / len(targets)
    )


@pytest.mark.parametrize(("norm", "n_layer", "n_head"), [("rmsnorm", 1, 4), ("layernorm", 2, 2)])
def test_gpt_matches_a_torch_reference_in_logits_loss_and_every_gradient(
    norm, n_layer, n_head
) -> None:
    """GPT's logits, mean cross-entropy and all parameter gradients equal torch's to 1e-10."""
    model = GPT(11, 8, 8, n_head, n_layer, norm=norm, seed=4)
    norm_parameters = [p for name, p in model.named_parameters() if "norm" in name]
    randomise(norm_parameters, random.Random(1), 0.3)
    sequence = [0, 3, 9, 9, 1, 10, 0]
    tokens, targets = sequence[:-1], sequence[1:]
    logits = model(tokens)
    loss = mean_cross_entropy(logits, targets)
    loss.backward()

    twin_logits, leaves = torch_gpt(model, tokens)
    twin_loss = torch.nn.functional.cross_entropy(twin_logits, torch.tensor(targets))
    twin_loss.backward()
    assert_matches(logits, twin_logits, "logits")
    assert_close(loss.data, twin_loss.item(), what="loss", **TOLERANCE)
    ours = our_parameters(model)
    assert sum(len(v) * len(v[0]) if isinstance(v[0], list) else len(v) for v in ours.values()) == (
        len(model.parameters())
    )
    for name, leaf in leaves.items():
        assert_grads_match(ours[name], leaf, name)


def test_gpt_has_the_documented_parameter_count() -> None:
    """(V + T)·d embeddings, per block 4d² + 8d² + 2d, then d + V·d: no biases anywhere."""
    v, t, d, layers = 27, 16, 16, 2
    model = GPT(v, t, d, 4, layers, seed=0)
    assert len(model.parameters()) == (v + t) * d + layers * (12 * d * d + 2 * d) + d + v * d


def test_gpt_initial_weights_follow_the_documented_scales() -> None:
    """Weights start N(0, 0.08²), residual projections scaled by 1/sqrt(2 n_layer), norms 1."""
    import statistics

    model = GPT(64, 16, 32, 4, 2, seed=0)
    block = model.blocks[0]

    def spread(rows):
        return statistics.pstdev([w.data for row in rows for w in row])

    for rows in (model.token_embedding.weight, block.attn.query.weight, block.fc.weight):
        assert spread(rows) == pytest.approx(0.08, rel=0.1)
    for rows in (block.attn.out.weight, block.proj.weight):
        assert spread(rows) == pytest.approx(0.08 / 2, rel=0.1)
    assert all(w.data == 1.0 for w in model.final_norm.weight + block.norm1.weight)
    assert GPT(64, 16, 32, 4, 2, seed=0).state_dict() == model.state_dict()


# --------------------------------------------------------------------------------------
# The KV cache and generation
# --------------------------------------------------------------------------------------


def test_gpt_with_a_cache_gives_the_full_forward_logits() -> None:
    """Feeding tokens one at a time through the cache gives bit-identical logits."""
    model = GPT(9, 10, 8, 2, 2, seed=1)
    tokens = [0, 4, 4, 8, 2, 7, 1]
    full = [[v.data for v in row] for row in model(tokens)]
    cache = model.new_cache()
    stepped = [[v.data for v in model([t], cache)[0]] for t in tokens]
    assert stepped == full
    assert [len(c) for c in cache] == [len(tokens)] * 2


def test_greedy_generation_follows_the_argmax_of_the_full_forward() -> None:
    """generate(temperature=0) picks, at each step, the argmax of a fresh full forward pass."""
    model = GPT(9, 12, 8, 2, 1, seed=2)
    randomise(model.parameters(), random.Random(0), 0.5)
    prompt = [0, 3]
    new = model.generate(prompt, 8, temperature=0.0)
    sequence = list(prompt)
    for token in new:
        last = [v.data for v in model(sequence)[-1]]
        assert token == max(range(9), key=last.__getitem__)
        sequence.append(token)
    assert len(new) == 8


def test_sampling_draws_from_the_softmax_of_the_full_forward_logits() -> None:
    """Each sampled token is what random.choices draws from softmax(logits / T) of a full pass."""
    model = GPT(6, 8, 4, 1, 1, seed=3)
    randomise(model.parameters(), random.Random(2), 0.7)
    new = model.generate([1], 7, temperature=0.8, seed=11)
    rng = random.Random(11)
    sequence = [1]
    for token in new:
        last = [v.data for v in model(sequence)[-1]]
        probabilities = torch.softmax(torch.tensor(last, dtype=torch.float64) / 0.8, 0).tolist()
        assert token == rng.choices(range(6), weights=probabilities)[0]
        sequence.append(token)
    assert model.generate([1], 7, temperature=0.8, seed=11) == new


def test_generation_past_the_block_size_crops_the_context() -> None:
    """Past block_size each token is the argmax given only the last block_size tokens."""
    model = GPT(5, 4, 4, 2, 1, seed=0)
    randomise(model.parameters(), random.Random(4), 0.8)
    new = model.generate([2, 3, 1], 6, temperature=0.0)
    sequence = [2, 3, 1]
    for token in new:
        last = [v.data for v in model(sequence[-4:])[-1]]
        assert token == max(range(5), key=last.__getitem__)
        sequence.append(token)


def test_generation_stops_at_the_stop_token_and_builds_no_graph() -> None:
    """Sampling ``stop`` ends generation without returning it; no Value keeps a parent."""
    model = GPT(5, 8, 4, 1, 1, seed=0)
    randomise(model.parameters(), random.Random(4), 0.8)
    greedy = model.generate([0], 6, temperature=0.0)
    stop = greedy[2]
    first = greedy.index(stop)
    assert model.generate([0], 6, temperature=0.0, stop=stop) == greedy[:first]
    assert model.generate([0], 0) == []
    cache = model.new_cache()
    assert len(cache) == 1


# --------------------------------------------------------------------------------------
# Saving, loading, converting
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: GPT(7, 6, 4, 2, 2, seed=0),
        lambda: GPT(7, 6, 4, 1, 1, norm="layernorm", seed=1),
        lambda: Block(4, 2, seed=0),
        lambda: CausalSelfAttention(4, 2, bias=True, seed=0),
        lambda: Linear(3, 2, False, "relu", std=0.1, seed=0),
        lambda: Embedding(5, 3, seed=0),
        lambda: LayerNorm(3, 1e-3, bias=False),
        lambda: RMSNorm(3, 1e-6, False),
    ],
)
def test_save_and_load_round_trip_bit_identically(make, tmp_path) -> None:
    """A saved block or GPT loads with the same config and computes bit-identical outputs."""
    model = make()
    randomise(model.parameters(), random.Random(0), 0.5)
    again = load(save(model, tmp_path / "model.json"))
    assert type(again) is type(model)
    assert again.config() == model.config()
    assert again.state_dict() == model.state_dict()

    def run(m):
        if isinstance(m, GPT):
            return m([0, 6, 3])
        if isinstance(m, Embedding):
            return m([4, 1])
        if isinstance(m, (Block, CausalSelfAttention)):
            return m([[0.1, -0.2, 0.3, 0.5], [1.0, 0.0, -1.0, 2.0]])
        return m([0.3, -1.2, 2.0])

    def floats(v):
        return [floats(x) for x in v] if isinstance(v, list) else getattr(v, "data", v)

    assert floats(run(again)) == floats(run(model))


@settings(max_examples=25, deadline=None)
@given(
    d=st.integers(1, 4).map(lambda k: 2 * k),
    vocab=st.integers(1, 6),
    block=st.integers(1, 5),
    layers=st.integers(1, 2),
    norm=st.sampled_from(["rmsnorm", "layernorm"]),
    bias=st.booleans(),
    affine=st.booleans(),
)
def test_parameter_count_predicts_the_parameters_without_building(
    d, vocab, block, layers, norm, bias, affine
) -> None:
    """Each class's parameter_count(config) equals the parameters of the module it builds."""
    models = [
        GPT(vocab, block, d, 2, layers, norm=norm, seed=0),
        Block(d, 2, norm=norm, seed=0),
        CausalSelfAttention(d, 2, bias=bias, seed=0),
        Linear(d, vocab, bias, seed=0),
        Embedding(vocab, d, seed=0),
        LayerNorm(d, elementwise_affine=affine, bias=bias),
        RMSNorm(d, elementwise_affine=affine),
    ]
    for model in models:
        assert type(model).parameter_count(model.config()) == len(model.parameters())


def test_parameter_count_refuses_configs_the_constructor_would_refuse() -> None:
    """Unknown or missing keys, bad sizes and flags raise before anything could be built."""
    good = GPT(5, 4, 4, 2, 1, seed=0).config()
    with pytest.raises(TypeError, match="unexpected key\\(s\\) \\['rng'\\]"):
        GPT.parameter_count({**good, "rng": 1})
    with pytest.raises(TypeError, match="missing \\['vocab_size'\\]"):
        GPT.parameter_count({k: v for k, v in good.items() if k != "vocab_size"})
    with pytest.raises(ValueError, match="multiple of n_head"):
        GPT.parameter_count({**good, "n_embd": 5})
    with pytest.raises(TypeError, match="n_layer must be a positive int, got str"):
        GPT.parameter_count({**good, "n_layer": "2"})
    with pytest.raises(ValueError, match="unknown norm"):
        Block.parameter_count({"dim": 4, "n_head": 2, "norm": "batchnorm"})
    with pytest.raises(TypeError, match="bias must be a bool"):
        Linear.parameter_count({"nin": 2, "nout": 2, "bias": 1})
    with pytest.raises(TypeError, match="must be a dict"):
        Embedding.parameter_count([5, 3])
    assert GPT.parameter_count({**good, "n_layer": 10**6}) > 10**6  # counted, not built


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "error", "message"),
    [
        ("a", TypeError, r"int tokens in 0\.\.4, got str"),
        (1.0, TypeError, "got float"),
        (True, TypeError, "got bool"),
        (None, TypeError, "got NoneType"),
        (5, ValueError, r"tokens are 0\.\.4; got 5"),
        (-1, ValueError, r"tokens are 0\.\.4; got -1"),
    ],
)
def test_embedding_refuses_bad_tokens(token, error, message) -> None:
    """A token that is not an int in range raises TypeError or ValueError naming it."""
    table = Embedding(5, 2, seed=0)
    with pytest.raises(error, match=message):
        table(token)
    with pytest.raises(error, match=message):
        table([0, token])


def test_gpt_refuses_bad_token_sequences_and_too_long_contexts() -> None:
    """Strings, out-of-range tokens, empty or over-long sequences and foreign caches are refused."""
    model = GPT(5, 4, 4, 2, 1, seed=0)
    with pytest.raises(TypeError, match="encode the text"):
        model("abc")
    with pytest.raises(ValueError, match=r"tokens are 0\.\.4; got 7"):
        model([0, 7])
    with pytest.raises(ValueError, match="at least one token"):
        model([])
    with pytest.raises(ValueError, match="at most 4 positions; got 5"):
        model([0, 1, 2, 3, 4])
    cache = model.new_cache()
    model([0, 1, 2], cache)
    with pytest.raises(ValueError, match=r"got 5 \(3 cached \+ 2 new\)"):
        model([0, 1], cache)
    with pytest.raises(TypeError, match="new_cache"):
        model([0], [KVCache(), KVCache()])
    with pytest.raises(ValueError, match="prompt of at least one token"):
        model.generate([], 3)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        model.generate([0], 3, temperature=-1.0)
    with pytest.raises(TypeError, match="n must be an int"):
        model.generate([0], 2.0)


def test_constructors_refuse_bad_sizes_and_flags() -> None:
    """Sizes must be positive ints, dim a multiple of n_head, flags bools, norm a known name."""
    with pytest.raises(ValueError, match="multiple of n_head"):
        CausalSelfAttention(6, 4)
    with pytest.raises(ValueError, match="multiple of n_head"):
        GPT(5, 4, 6, 4, 1)
    with pytest.raises(TypeError, match="n_embd must be a positive int, got float"):
        GPT(5, 4, 4.0, 2, 1)
    with pytest.raises(ValueError, match="n_layer must be a positive int, got 0"):
        GPT(5, 4, 4, 2, 0)
    with pytest.raises(TypeError, match="elementwise_affine must be a bool, got int"):
        LayerNorm(3, elementwise_affine=1)
    with pytest.raises(TypeError, match="bias must be a bool"):
        Linear(3, 2, bias=None)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        RMSNorm(3, eps=-1e-5)
    with pytest.raises(ValueError, match="unknown norm 'batchnorm'"):
        GPT(5, 4, 4, 2, 1, norm="batchnorm")
    with pytest.raises(ValueError, match="'linear' or 'relu'"):
        Linear(3, 2, activation="tanh")


def test_blocks_refuse_vectors_of_the_wrong_length() -> None:
    """A vector of the wrong length is a ValueError naming the block and both lengths."""
    with pytest.raises(ValueError, match="RMSNorm expected a vector of length 3, got length 2"):
        RMSNorm(3)([1.0, 2.0])
    with pytest.raises(ValueError, match="CausalSelfAttention expected a vector of length 4"):
        CausalSelfAttention(4, 2, seed=0)([[1.0, 2.0]])
    with pytest.raises(TypeError, match="list of positions"):
        CausalSelfAttention(4, 2, seed=0)(3.0)


# --------------------------------------------------------------------------------------
# A failed call changes nothing; non-finite logits are refused by name
# --------------------------------------------------------------------------------------


def _cache_snapshot(cache: KVCache) -> tuple[list[list[int]], list[list[int]]]:
    """The identities of every key and value the cache holds, to prove nothing changed."""
    return [list(map(id, k)) for k in cache.keys], [list(map(id, v)) for v in cache.values]


BAD_POSITIONS = {
    "a short last position": [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0]],
    "a long middle position": [[1.0, 2.0, 3.0, 4.0], [1.0] * 5, [0.0] * 4],
    "a string entry": [[1.0, 2.0, 3.0, 4.0], [1.0, "x", 3.0, 4.0]],
    "a None position": [[1.0, 2.0, 3.0, 4.0], None],
    "a position that is a number": [[1.0, 2.0, 3.0, 4.0], 7.0],
    "a torch tensor entry": [[1.0, 2.0, 3.0, 4.0], [torch.tensor(1.0), 2.0, 3.0, 4.0]],
}


@pytest.mark.parametrize("name", sorted(BAD_POSITIONS))
def test_a_failed_attention_call_leaves_its_cache_exactly_as_it_was(name: str) -> None:
    """Whatever is wrong with a later position, the call raises and the cache is unchanged."""
    attn = CausalSelfAttention(4, 2, seed=0)
    cache = KVCache()
    attn([[0.5, -0.5, 1.0, 0.0]], cache)
    before = _cache_snapshot(cache)
    with pytest.raises((TypeError, ValueError)):
        attn(BAD_POSITIONS[name], cache)
    assert len(cache) == 1
    assert _cache_snapshot(cache) == before


def test_a_failed_gpt_call_leaves_every_block_cache_as_it_was() -> None:
    """A GPT call that fails (a bad token, caches of unequal lengths) changes no cache."""
    model = GPT(5, 6, 4, 2, 2, seed=0)
    cache = model.new_cache()
    model([1, 2], cache)
    before = [_cache_snapshot(c) for c in cache]
    with pytest.raises(ValueError):
        model([1, 9], cache)
    with pytest.raises(TypeError):
        model([1, "a"], cache)
    assert [_cache_snapshot(c) for c in cache] == before
    uneven = model.new_cache()
    uneven[0].keys.append(cache[0].keys[0])
    uneven[0].values.append(cache[0].values[0])
    with pytest.raises(ValueError, match="caches of different lengths"):
        model([1], uneven)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_generation_refuses_non_finite_logits_by_name(bad: float, temperature: float) -> None:
    """A weight that makes the logits nan or ±inf is a ValueError naming them, not a sample."""
    model = GPT(5, 6, 4, 1, 1, seed=0)
    model.lm_head.weight[2][0].data = bad
    logits = [v.data for v in model([1])[-1]]
    assert not all(math.isfinite(v) for v in logits)
    with pytest.raises(ValueError, match=r"logits .*not finite"):
        model.generate([1], 3, temperature=temperature, seed=0)


# --------------------------------------------------------------------------------------
# Norms at extreme scales: no overflow of the sum of squares, exact gradients
# --------------------------------------------------------------------------------------


def test_layernorm_of_huge_values_is_not_zero() -> None:
    """LayerNorm(3)([1e200, 1e200, -1e200]) is [1/√2, 1/√2, -√2], the issue's exact answer."""
    y = LayerNorm(3)([Value(1e200), Value(1e200), Value(-1e200)])
    half = math.sqrt(0.5)
    for got, exact in zip(y, [half, half, -2 * half]):
        assert_close(got.data, exact, rtol=1e-15, atol=0.0)
    plain = LayerNorm(3, elementwise_affine=False)([1e300, 1e300, -1e300])
    assert [float(getattr(v, "data", v)) for v in plain] == pytest.approx([half, half, -2 * half])
    rms = RMSNorm(2, elementwise_affine=False)([3e300, -4e300])
    assert [float(getattr(v, "data", v)) for v in rms] == pytest.approx(
        [3 / math.sqrt(12.5), -4 / math.sqrt(12.5)], rel=1e-15
    )


def _norm_pair(kind: str, eps: float, rng: random.Random):
    """Our norm with random affine weights and its torch twin (eps 0: scale invariant)."""
    norm = LayerNorm(5, eps) if kind == "layernorm" else RMSNorm(5, eps)
    randomise(norm.parameters(), rng)

    def twin(x):
        weight = tensor(norm.weight)
        if kind == "layernorm":
            return torch.nn.functional.layer_norm(x, (5,), weight, tensor(norm.bias), eps=0.0)
        return torch.nn.functional.rms_norm(x, (5,), weight, eps=0.0)

    return norm, twin


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["layernorm", "rmsnorm"]),
    exponent=st.sampled_from([-1000, -700, -664, -300, 300, 664, 1000]),
)
def test_norms_at_extreme_scales_match_torch_at_an_ordinary_scale(seed, kind, exponent) -> None:
    """At x·2^k (1e-300..1e300), outputs equal torch's at x and grads (first and second
    order) equal torch's times 2^-k: a norm is scale invariant once eps is negligible."""
    rng = random.Random(seed)
    norm, twin = _norm_pair(kind, 0.0 if exponent < 0 else 1e-5, rng)
    small = [rng.uniform(-2.0, 2.0) for _ in range(5)]
    x = [Value(math.ldexp(v, exponent)) for v in small]
    coefficients = [rng.uniform(-1.0, 1.0) for _ in range(5)]
    y = norm(x)
    loss = sum_values([c * v for c, v in zip(coefficients, y)])
    first = gradients(loss, x, create_graph=True)
    direction = [rng.uniform(-1.0, 1.0) for _ in range(5)]
    second = gradients(sum_values([d * g for d, g in zip(direction, first)]), x)

    tx = torch.tensor(small, dtype=torch.float64, requires_grad=True)
    ty = twin(tx)
    (tfirst,) = torch.autograd.grad(torch_weighted_sum(ty, coefficients), tx, create_graph=True)
    (tsecond,) = torch.autograd.grad(torch_weighted_sum(tfirst, direction), tx)
    assert_matches(y, ty, "output")
    for i in range(5):
        assert_close(math.ldexp(first[i].data, exponent), tfirst[i].item(), what=f"grad {i}")
        if abs(exponent) > 500:
            continue  # the exact second derivative, of order 2^(-2k), is not a float
        assert_close(
            math.ldexp(second[i], 2 * exponent),
            tsecond[i].item(),
            rtol=1e-9,
            atol=1e-9,
            what=f"second {i}",
        )


@pytest.mark.parametrize("kind", ["layernorm", "rmsnorm"])
@pytest.mark.parametrize("magnitude", [1e-200, 1.0, 1e200])
def test_norm_gradients_match_central_differences_at_every_scale(kind, magnitude) -> None:
    """d(sum c·y)/dx_i equals a central difference in float64 at 1e-200, 1 and 1e200."""
    rng = random.Random(7)
    norm = LayerNorm(4, 0.0) if kind == "layernorm" else RMSNorm(4, 0.0)
    randomise(norm.parameters(), rng)
    point = [magnitude * rng.uniform(-2.0, 2.0) for _ in range(4)]
    coefficients = [rng.uniform(-1.0, 1.0) for _ in range(4)]

    def f(*xs):
        with no_grad():
            ys = norm([Value(v) for v in xs])
        return math.fsum(c * v.data for c, v in zip(coefficients, ys))

    x = [Value(v) for v in point]
    grads = gradients(sum_values([c * v for c, v in zip(coefficients, norm(x))]), x)
    for i in range(4):

        def along(t, i=i):
            return f(*[*point[:i], t, *point[i + 1 :]])

        expected = central_difference(along, point[i], step=1e-4 * abs(point[i]))
        slope = expected * magnitude
        assert math.isfinite(slope) and abs(slope) > 1e-6, "the oracle must see a real slope"
        assert_close(
            grads[i] * magnitude,
            expected * magnitude,
            rtol=1e-7,
            atol=1e-9,
            what=f"{kind} grad {i} at {magnitude}",
        )


def test_a_gpt_call_interrupted_in_a_later_block_rolls_every_cache_back() -> None:
    """If the second block fails (here: interrupted), the first block's cache is cut back."""
    model = GPT(5, 6, 4, 2, 2, seed=0)
    cache = model.new_cache()
    model([1, 2], cache)
    before = [_cache_snapshot(c) for c in cache]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    model.blocks[1].forward = interrupted
    with pytest.raises(KeyboardInterrupt):
        model([3, 4], cache)
    assert [_cache_snapshot(c) for c in cache] == before
    del model.blocks[1].forward
    assert [[v.data for v in row] for row in model([3], cache)] == [
        [v.data for v in row] for row in model([1, 2, 3])[-1:]
    ]
