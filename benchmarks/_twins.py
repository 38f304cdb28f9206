"""PyTorch twins of our models, built from the same weights, for side-by-side training steps.

``torch_gpt_step`` and ``torch_mlp_step`` return a function doing one training step of a
PyTorch model holding a copy of our model's weights (same architecture, same optimizer and
hyperparameters), so that losses can be compared step by step and times taken in turn.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import Any


def _rows(values: list[list[Any]], torch: Any, dtype: Any) -> Any:
    return torch.tensor([[v.data for v in row] for row in values], dtype=dtype)


def _vector(values: list[Any], torch: Any, dtype: Any) -> Any:
    return torch.tensor([v.data for v in values], dtype=dtype)


def gpt_weights(model: Any, torch: Any, dtype: Any) -> dict[str, Any]:
    """Our GPT's weights as leaf tensors, under names the twin's forward reads."""
    w = {
        "wte": _rows(model.token_embedding.weight, torch, dtype),
        "wpe": _rows(model.position_embedding.weight, torch, dtype),
        "final_norm": _vector(model.final_norm.weight, torch, dtype),
        "lm_head": _rows(model.lm_head.weight, torch, dtype),
    }
    for i, block in enumerate(model.blocks):
        w[f"{i}.norm1"] = _vector(block.norm1.weight, torch, dtype)
        w[f"{i}.norm2"] = _vector(block.norm2.weight, torch, dtype)
        for name in ("query", "key", "value", "out"):
            w[f"{i}.{name}"] = _rows(getattr(block.attn, name).weight, torch, dtype)
        w[f"{i}.fc"] = _rows(block.fc.weight, torch, dtype)
        w[f"{i}.proj"] = _rows(block.proj.weight, torch, dtype)
    for tensor in w.values():
        tensor.requires_grad_(True)
    return w


def _gpt_forward(w: dict[str, Any], tokens: Any, n_layer: int, n_head: int, torch: Any) -> Any:
    """Batched logits (batch, positions, vocab): embeddings, RMSNorm, causal attention, MLP."""
    functional = torch.nn.functional
    eps = sys.float_info.epsilon  # our RMSNorm's eps, whatever the dtype
    batch, n = tokens.shape
    x = w["wte"][tokens] + w["wpe"][:n]
    dim = x.shape[-1]

    def heads(t: Any) -> Any:
        return t.view(batch, n, n_head, dim // n_head).transpose(1, 2)

    for i in range(n_layer):
        h = functional.rms_norm(x, (dim,), w[f"{i}.norm1"], eps=eps)
        q, k, v = (heads(h @ w[f"{i}.{p}"].T) for p in ("query", "key", "value"))
        mixed = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + mixed.transpose(1, 2).reshape(batch, n, dim) @ w[f"{i}.out"].T
        h = functional.rms_norm(x, (dim,), w[f"{i}.norm2"], eps=eps)
        x = x + torch.relu(h @ w[f"{i}.fc"].T) @ w[f"{i}.proj"].T
    x = functional.rms_norm(x, (dim,), w["final_norm"], eps=eps)
    return x @ w["lm_head"].T


def torch_gpt_step(model: Any, dtype_name: str, lr: float) -> Callable[[Any, Any], float]:
    """``step(tokens, targets)``: one Adam step of a PyTorch GPT holding ``model``'s weights;
    the loss is the mean per-position cross-entropy, as our ``sequence_loss`` averaged over
    sequences of one length."""
    import torch

    dtype = getattr(torch, dtype_name)
    w = gpt_weights(model, torch, dtype)
    optimizer = torch.optim.Adam(list(w.values()), lr=lr)
    n_layer, n_head = model.n_layer, model.n_head

    def step(tokens: Any, targets: Any) -> float:
        optimizer.zero_grad()
        logits = _gpt_forward(w, tokens, n_layer, n_head, torch)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def torch_mlp_step(
    model: Any, dtype_name: str, lr: float, momentum: float, kind: str = "SGD"
) -> Callable[[Any, Any], float]:
    """``step(X, y)``: one step, cross-entropy, of a PyTorch MLP holding ``model``'s weights
    (ReLU hidden layers, linear output, with biases): SGD with ``momentum``, or the
    ``torch.optim`` class ``kind`` ("Adam", "RMSprop") with its defaults but ``lr``."""
    import torch

    dtype = getattr(torch, dtype_name)
    layers = []
    for layer in model.layers:
        weight = _rows([n.w for n in layer.neurons], torch, dtype).requires_grad_(True)
        bias = _vector([n.b for n in layer.neurons], torch, dtype).requires_grad_(True)
        layers.append((weight, bias))
    params = [t for pair in layers for t in pair]
    if kind == "SGD":
        optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum)
    else:
        optimizer = getattr(torch.optim, kind)(params, lr=lr)
    functional = torch.nn.functional

    def step(X: Any, y: Any) -> float:
        optimizer.zero_grad()
        h = X
        for i, (weight, bias) in enumerate(layers):
            h = functional.linear(h, weight, bias)
            if i < len(layers) - 1:
                h = torch.relu(h)
        loss = functional.cross_entropy(h, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def numpy_mlp_step(model: Any, lr: float, momentum: float) -> Callable[[Any, Any], float]:
    """``step(X, y)``: the same SGD-momentum step as :func:`torch_mlp_step`, written by hand in
    NumPy for one known architecture (ReLU hidden layers, linear output, cross-entropy).

    This is the floor for any NumPy program of the step: a dozen calls forward, a dozen
    back, the update on one flat buffer, every weight matrix a view of it, no temporaries
    that a preallocated buffer can replace.
    """
    import numpy as np

    shapes = [(len(layer.neurons), len(layer.neurons[0].w)) for layer in model.layers]
    sizes = [m * k + m for m, k in shapes]
    theta = np.array([p.data for p in model.parameters()], dtype=float)
    grad, buffer = np.zeros_like(theta), np.zeros_like(theta)
    weights, biases, d_weights, d_biases = [], [], [], []
    start = 0
    for (m, k), size in zip(shapes, sizes):
        # Our parameters() order: each neuron's weights, then its bias.
        block = theta[start : start + size].reshape(m, k + 1)
        d_block = grad[start : start + size].reshape(m, k + 1)
        weights.append(block[:, :k])
        biases.append(block[:, k:])
        d_weights.append(d_block[:, :k])
        d_biases.append(d_block[:, k:])
        start += size
    first = [True]
    scratch = np.empty_like(theta)

    def step(X: Any, y: Any) -> float:
        n = X.shape[0]
        h = X.T
        activations = [h]
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = w @ h + b
            if i < len(weights) - 1:
                np.maximum(h, 0.0, out=h)
            activations.append(h)
        m = h.max(axis=0)
        e = np.exp(h - m)
        total = e.sum(axis=0)
        columns = np.arange(n)
        loss = float((m + np.log(total) - h[y, columns]).sum()) / n
        g = e / total
        g[y, columns] -= 1.0
        g *= 1.0 / n
        for i in range(len(weights) - 1, -1, -1):
            # For one sample an outer product, which a broadcast multiply does fastest.
            outer = np.multiply if n == 1 else np.matmul
            outer(g, activations[i].T, out=d_weights[i])
            np.sum(g, axis=1, keepdims=True, out=d_biases[i])
            if i:
                g = weights[i].T @ g
                g *= activations[i] > 0
        if first[0]:
            buffer[:] = grad
            first[0] = False
        else:
            np.multiply(buffer, momentum, out=buffer)
            np.add(buffer, grad, out=buffer)
        np.multiply(buffer, lr, out=scratch)
        np.subtract(theta, scratch, out=theta)
        return loss

    return step


def numpy_mlp_products(model: Any, batch: int) -> Callable[[], None]:
    """``products()``: only the matrix products of one training step of ``model`` at
    ``batch`` samples, each one BLAS call into a preallocated array, in the layout of
    :func:`numpy_mlp_step`.

    Every float64 program of the step computes them (each layer's ``W @ H`` forward, its
    weight gradient ``G @ H.T``, and ``W.T @ G`` for every layer but the first), and BLAS
    takes the same time whoever calls it. So their time over a PyTorch step bounds any
    float64 step's ratio from below, on this BLAS: where it is over one half, no float64
    step takes half of PyTorch's time. (Up to the layout: here every operand is
    contiguous, and in cache from the previous call, which favours the bound.)
    """
    import numpy as np

    rng = np.random.default_rng(0)
    calls = []
    for i, layer in enumerate(model.layers):
        m, k = len(layer.neurons), len(layer.neurons[0].w)
        w, h, g = rng.random((m, k)), rng.random((k, batch)), rng.random((m, batch))
        calls.append(partial(np.matmul, w, h, out=np.empty((m, batch))))
        # For one sample the weight gradient is an outer product (as in numpy_mlp_step).
        outer = np.multiply if batch == 1 else np.matmul
        calls.append(partial(outer, g, h.T, out=np.empty((m, k))))
        if i:
            calls.append(partial(np.matmul, w.T, g, out=np.empty((k, batch))))

    def products() -> None:
        for call in calls:
            call()

    return products
