"""PyTorch interop: ``to_torch(model)`` builds the equivalent ``torch.nn`` model in float64.

======================= ================================================================
autograd_lite           torch (float64, same weights)
======================= ================================================================
``MLP``                 ``nn.Sequential`` of ``nn.Linear`` and activation modules
``Layer``               ``nn.Sequential(nn.Linear, activation)`` (just the Linear if linear)
``Neuron``              the same, with one output
``Sequential``          ``nn.Sequential`` of the converted parts
``Dropout``             ``nn.Dropout(p)`` (same train/eval mode; masks differ)
``BatchNorm1d``         ``nn.BatchNorm1d`` with the same weights and running statistics
``Residual``            a module computing ``x + inner(x)``
``RNNCell``             ``nn.RNNCell`` (same parameter names and layout)
``RNN``                 ``nn.RNN(batch_first=True)``; with a readout, a module returning
                        ``readout(output[:, -1])``
``Linear``              ``nn.Linear`` (then ``nn.ReLU`` if it has a ReLU)
``Embedding``           ``nn.Embedding`` (takes a tensor of int64 token ids)
``LayerNorm``           ``nn.LayerNorm`` (same ``eps``, ``elementwise_affine``, ``bias``)
``RMSNorm``             ``nn.RMSNorm`` (``eps=None`` is float64's machine epsilon in both)
``CausalSelfAttention`` a module around ``nn.MultiheadAttention(batch_first=True)`` that
                        applies the causal mask; shapes ``(batch, positions, dim)``
``Block``               a pre-norm block: ``x + attn(norm1(x))``, then
                        ``x + proj(relu(fc(norm2(x))))``, shapes as attention's
``GPT``                 a module mapping int64 token ids ``(batch, positions)`` (or
                        ``(positions,)``) to logits ``(batch, positions, vocab_size)``;
                        parameters ``token_embedding``, ``position_embedding``,
                        ``blocks.N.*``, ``final_norm``, ``lm_head``, as ours are named
======================= ================================================================

Torch works on batches: an input ``[x1, x2]`` becomes a tensor of shape ``(1, 2)`` and a
one-output MLP gives shape ``(batch, 1)`` where ours gives a single Value. PyTorch is
imported only when ``to_torch`` is called.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import ModuleType, SimpleNamespace
from typing import Any

from autograd_lite.nn import (
    GPT,
    MLP,
    RNN,
    BatchNorm1d,
    Block,
    CausalSelfAttention,
    Dropout,
    Embedding,
    Layer,
    LayerNorm,
    Linear,
    Module,
    Neuron,
    Residual,
    RMSNorm,
    RNNCell,
    Sequential,
)

__all__ = ["to_torch"]


def _import_torch() -> ModuleType:
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "to_torch() needs PyTorch, which is not installed: pip install torch "
            "(CPU wheels: https://pytorch.org/get-started/locally/)"
        ) from error
    return torch


def to_torch(model: Module) -> Any:
    """A ``torch.nn.Module`` in float64 that computes what ``model`` computes.

    Supports the modules in the table above (nested freely). The result is a copy: later
    changes to either model do not affect the other.
    """
    if not isinstance(model, Module):
        raise TypeError(
            f"to_torch() expects an autograd_lite.nn.Module, got {type(model).__name__}"
        )
    torch = _import_torch()
    with torch.no_grad():
        converted = _convert(model, torch, _wrappers(torch))
    return converted.train(model.training)


@functools.cache
def _wrappers(torch: ModuleType) -> SimpleNamespace:
    """Small torch modules that torch.nn lacks, defined once torch is imported."""

    class ResidualModule(torch.nn.Module):
        """``x + inner(x)``."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            return x + self.inner(x)

    class RNNWithReadout(torch.nn.Module):
        """``nn.RNN`` (batch first) followed by a linear readout of the last hidden state."""

        def __init__(self, rnn: Any, readout: Any) -> None:
            super().__init__()
            self.rnn = rnn
            self.readout = readout

        def forward(self, x: Any, h0: Any = None) -> Any:
            output, _ = self.rnn(x, h0)
            return self.readout(output[:, -1, :])

    class CausalAttention(torch.nn.Module):
        """``nn.MultiheadAttention`` over one sequence, each position seeing itself and before."""

        def __init__(self, attention: Any) -> None:
            super().__init__()
            self.attention = attention

        def forward(self, x: Any) -> Any:
            n = x.shape[-2]
            future = torch.triu(torch.ones(n, n, dtype=torch.bool, device=x.device), diagonal=1)
            output, _ = self.attention(x, x, x, attn_mask=future, need_weights=False)
            return output

    class TransformerBlock(torch.nn.Module):
        """``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``: our ``Block``."""

        def __init__(self, norm1: Any, attn: Any, norm2: Any, mlp: Any) -> None:
            super().__init__()
            self.norm1, self.attn, self.norm2, self.mlp = norm1, attn, norm2, mlp

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class GPTModule(torch.nn.Module):
        """Token ids ``(batch, positions)`` to logits ``(batch, positions, vocab_size)``."""

        def __init__(self, parts: dict[str, Any], block_size: int) -> None:
            super().__init__()
            self.block_size = block_size
            self.token_embedding = parts["token_embedding"]
            self.position_embedding = parts["position_embedding"]
            self.blocks = torch.nn.ModuleList(parts["blocks"])
            self.final_norm = parts["final_norm"]
            self.lm_head = parts["lm_head"]

        def forward(self, tokens: Any) -> Any:
            positions = tokens.shape[-1]
            if positions > self.block_size:
                raise ValueError(
                    f"GPT(block_size={self.block_size}) sees at most {self.block_size} "
                    f"positions; got {positions}"
                )
            where = torch.arange(positions, device=tokens.device)
            x = self.token_embedding(tokens) + self.position_embedding(where)
            for block in self.blocks:
                x = block(x)
            return self.lm_head(self.final_norm(x))

    return SimpleNamespace(
        Residual=ResidualModule,
        RNNWithReadout=RNNWithReadout,
        CausalAttention=CausalAttention,
        TransformerBlock=TransformerBlock,
        GPT=GPTModule,
    )


def _convert(module: Module, torch: ModuleType, wrappers: SimpleNamespace) -> Any:
    nn = torch.nn
    if isinstance(module, MLP):
        parts = [part for layer in module.layers for part in _linear_parts(layer.neurons, torch)]
        return nn.Sequential(*parts)
    if isinstance(module, Layer):
        return nn.Sequential(*_linear_parts(module.neurons, torch))
    if isinstance(module, Neuron):
        return nn.Sequential(*_linear_parts([module], torch))
    if isinstance(module, Sequential):
        return nn.Sequential(*(_convert(m, torch, wrappers) for m in module.layers))
    if isinstance(module, Dropout):
        return nn.Dropout(module.p)
    if isinstance(module, BatchNorm1d):
        return _batchnorm(module, torch)
    if isinstance(module, Residual):
        return wrappers.Residual(_convert(module.module, torch, wrappers))
    if isinstance(module, RNNCell):
        cell = nn.RNNCell(
            module.nin, module.nhidden, nonlinearity=module.nonlinearity, dtype=torch.float64
        )
        _copy_rnn_weights(module, cell, "", torch)
        return cell
    if isinstance(module, RNN):
        rnn = nn.RNN(
            module.nin,
            module.nhidden,
            nonlinearity=module.cell.nonlinearity,
            batch_first=True,
            dtype=torch.float64,
        )
        _copy_rnn_weights(module.cell, rnn, "_l0", torch)
        if module.nout is None:
            return rnn
        (readout,) = _linear_parts(module.readout.neurons, torch)
        return wrappers.RNNWithReadout(rnn, readout)
    converted = _convert_transformer_part(module, torch, wrappers)
    if converted is not None:
        return converted
    supported = (
        "MLP, Layer, Neuron, Sequential, Dropout, BatchNorm1d, Residual, RNNCell, RNN, "
        "Linear, "
        "Embedding, LayerNorm, RMSNorm, CausalSelfAttention, Block, GPT"
    )
    raise TypeError(f"to_torch() cannot convert {type(module).__name__}; it supports {supported}")


def _batchnorm(module: BatchNorm1d, torch: ModuleType) -> Any:
    """``nn.BatchNorm1d`` with the same weight, bias, running statistics and batch count."""
    norm = torch.nn.BatchNorm1d(
        module.num_features,
        eps=module.eps,
        momentum=module.momentum,
        affine=module.affine,
        dtype=torch.float64,
    )
    if module.affine:
        norm.weight.copy_(_tensor(torch, [w.data for w in module.weight]))
        norm.bias.copy_(_tensor(torch, [b.data for b in module.bias]))
    norm.running_mean.copy_(_tensor(torch, module.running_mean))
    norm.running_var.copy_(_tensor(torch, module.running_var))
    norm.num_batches_tracked.fill_(module.num_batches_tracked)
    return norm


def _convert_transformer_part(module: Module, torch: ModuleType, wrappers: SimpleNamespace) -> Any:
    """The torch twin of a block from :mod:`autograd_lite.nn.transformer`, or None."""
    nn = torch.nn
    if isinstance(module, Linear):
        linear = _torch_linear(module, torch)
        return nn.Sequential(linear, nn.ReLU()) if module.activation == "relu" else linear
    if isinstance(module, Embedding):
        embedding = nn.Embedding(module.num_embeddings, module.dim, dtype=torch.float64)
        embedding.weight.copy_(_tensor(torch, _data(module.weight)))
        return embedding
    if isinstance(module, (LayerNorm, RMSNorm)):
        if isinstance(module, LayerNorm):
            norm = nn.LayerNorm(
                module.dim,
                eps=module.eps,
                elementwise_affine=module.elementwise_affine,
                bias=module.bias is not None,
                dtype=torch.float64,
            )
        else:
            norm = nn.RMSNorm(
                module.dim,
                eps=module.eps,
                elementwise_affine=module.elementwise_affine,
                dtype=torch.float64,
            )
        if module.weight is not None:
            norm.weight.copy_(_tensor(torch, _data(module.weight)))
        if getattr(module, "bias", None) is not None:
            norm.bias.copy_(_tensor(torch, _data(module.bias)))
        return norm
    if isinstance(module, Block):
        mlp = nn.Sequential(
            _torch_linear(module.fc, torch), nn.ReLU(), _torch_linear(module.proj, torch)
        )
        return wrappers.TransformerBlock(
            _convert(module.norm1, torch, wrappers),
            _convert(module.attn, torch, wrappers),
            _convert(module.norm2, torch, wrappers),
            mlp,
        )
    if isinstance(module, GPT):
        names = ("token_embedding", "position_embedding", "final_norm", "lm_head")
        parts = {name: _convert(getattr(module, name), torch, wrappers) for name in names}
        parts["blocks"] = [_convert(block, torch, wrappers) for block in module.blocks]
        return wrappers.GPT(parts, module.block_size)
    if isinstance(module, CausalSelfAttention):
        has_bias = module.query.bias is not None
        attention = nn.MultiheadAttention(
            module.dim, module.n_head, bias=has_bias, batch_first=True, dtype=torch.float64
        )
        projections = (module.query, module.key, module.value)
        attention.in_proj_weight.copy_(
            _tensor(torch, [row for p in projections for row in _data(p.weight)])
        )
        attention.out_proj.weight.copy_(_tensor(torch, _data(module.out.weight)))
        if has_bias:
            attention.in_proj_bias.copy_(
                _tensor(torch, [v for p in projections for v in _data(p.bias)])
            )
            attention.out_proj.bias.copy_(_tensor(torch, _data(module.out.bias)))
        return wrappers.CausalAttention(attention)
    return None


def _torch_linear(module: Linear, torch: ModuleType) -> Any:
    linear = torch.nn.Linear(
        module.nin, module.nout, bias=module.bias is not None, dtype=torch.float64
    )
    linear.weight.copy_(_tensor(torch, _data(module.weight)))
    if module.bias is not None:
        linear.bias.copy_(_tensor(torch, _data(module.bias)))
    return linear


def _data(values: Any) -> Any:
    """Nested lists of Values as nested lists of floats."""
    return [_data(v) for v in values] if isinstance(values, list) else values.data


def _linear_parts(neurons: Sequence[Neuron], torch: ModuleType) -> list[Any]:
    """``nn.Linear`` holding the neurons' weights, then their activation (if any)."""
    activations = {n.activation for n in neurons}
    if len(activations) != 1:
        raise ValueError(
            f"to_torch() needs one activation per layer; this layer mixes {sorted(activations)}"
        )
    linear = torch.nn.Linear(neurons[0].nin, len(neurons), dtype=torch.float64)
    linear.weight.copy_(_tensor(torch, [[w.data for w in n.w] for n in neurons]))
    linear.bias.copy_(_tensor(torch, [n.b.data for n in neurons]))
    activation = {
        "relu": torch.nn.ReLU,
        "tanh": torch.nn.Tanh,
        "sigmoid": torch.nn.Sigmoid,
        "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),  # our slope, also torch's default
        "linear": None,
    }[activations.pop()]
    return [linear] if activation is None else [linear, activation()]


def _copy_rnn_weights(cell: RNNCell, target: Any, suffix: str, torch: ModuleType) -> None:
    """Copy weight_ih, weight_hh, bias_ih, bias_hh (torch.nn.RNN adds the suffix ``_l0``)."""
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        values = getattr(cell, name)
        if name.startswith("weight"):
            data = [[v.data for v in row] for row in values]
        else:
            data = [v.data for v in values]
        getattr(target, name + suffix).copy_(_tensor(torch, data))


def _tensor(torch: ModuleType, data: Any) -> Any:
    return torch.tensor(data, dtype=torch.float64)
