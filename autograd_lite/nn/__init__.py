"""Neural-network building blocks on top of the engine, with PyTorch's names.

micrograd code runs with only its import changed::

    from autograd_lite.nn import MLP          # was: from micrograd.nn import MLP
    model = MLP(2, [16, 16, 1])              # ReLU hidden layers, linear output
    score = model([1.0, -2.0])               # one output → a single Value
    model.zero_grad()

The transformer blocks (`Embedding`, `LayerNorm`, `RMSNorm`, `CausalSelfAttention`, `GPT`)
are in :mod:`autograd_lite.nn.transformer`.

Everything here imports only the standard library and the engine.
"""

from autograd_lite.nn import init
from autograd_lite.nn.batchnorm import BatchNorm1d
from autograd_lite.nn.layers import ACTIVATIONS, MLP, Dropout, Layer, Neuron, Residual, Sequential
from autograd_lite.nn.module import (
    Module,
    module_from_spec,
    module_spec,
    register_module,
    registered_modules,
)
from autograd_lite.nn.rnn import NONLINEARITIES, RNN, RNNCell
from autograd_lite.nn.transformer import (
    GPT,
    NORMS,
    Block,
    CausalSelfAttention,
    Embedding,
    KVCache,
    LayerNorm,
    Linear,
    RMSNorm,
)

__all__ = [
    "ACTIVATIONS",
    "GPT",
    "MLP",
    "NONLINEARITIES",
    "NORMS",
    "RNN",
    "BatchNorm1d",
    "Block",
    "CausalSelfAttention",
    "Dropout",
    "Embedding",
    "KVCache",
    "Layer",
    "LayerNorm",
    "Linear",
    "Module",
    "Neuron",
    "RMSNorm",
    "RNNCell",
    "Residual",
    "Sequential",
    "init",
    "module_from_spec",
    "module_spec",
    "register_module",
    "registered_modules",
]
