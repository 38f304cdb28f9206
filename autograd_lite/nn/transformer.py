"""Transformer blocks built from scalar Values, and a small GPT made of them.

``Linear``, ``Embedding``, ``LayerNorm``, ``RMSNorm`` and ``CausalSelfAttention`` follow
PyTorch's semantics (argument names, ``eps``, ``elementwise_affine``, parameter layout
``weight[out][in]``), with one difference in shape: they work on one position at a time
(a list of ``dim`` Values), and attention on a list of positions.

``GPT(vocab_size, block_size, n_embd, n_head, n_layer)`` is GPT-2's architecture in
the variant of Karpathy's microgpt::

    x = token_embedding[token] + position_embedding[position]
    for each of n_layer blocks:                     # pre-norm, residual stream x
        x = x + attn(RMSNorm(x))                    # causal multi-head self-attention
        x = x + proj(relu(fc(RMSNorm(x))))          # MLP, 4 * n_embd hidden units
    logits = lm_head(RMSNorm(x))

No linear layer has a bias; the norms are RMSNorm with a learned scale (``norm=
"layernorm"`` swaps in LayerNorm); ReLU instead of GELU; weights start N(0, 0.08²) as in
microgpt, the two projections that write into the residual stream (``attn.out`` and
``proj``) scaled by 1/sqrt(2 * n_layer) as in GPT-2, and the norms' scales at 1.

Generation keeps a key/value cache: ``model(tokens, cache)`` runs only the new positions
and attends to the keys and values the cache holds, so each new token costs one position's
work (see :meth:`GPT.generate`). Without a cache, ``model(tokens)`` is the full causal
forward pass; the two give the same logits.

An embedding lookup adds no node: ``Embedding(token)`` returns the weight row's own
Values, so the gradient of whatever is computed from it lands on that row directly.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autograd_lite.engine import Value, dense, no_grad, softmax
from autograd_lite.nn._scaling import range_multiplier
from autograd_lite.nn.init import make_rng
from autograd_lite.nn.layers import _ACTIVATION_FUNCTIONS, _check_activation, _check_count
from autograd_lite.nn.module import Module, config_arguments, register_module

__all__ = [
    "GPT",
    "NORMS",
    "Block",
    "CausalSelfAttention",
    "Embedding",
    "KVCache",
    "LayerNorm",
    "Linear",
    "RMSNorm",
]

NORMS = ("rmsnorm", "layernorm")
GPT_INIT_STD = 0.08  # microgpt's initial weight scale for n_embd = 16


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------


def _check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _check_real(value: object, name: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and number >= minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return number


def _check_vector(x: Any, size: int, who: str) -> None:
    """Raise a clear error unless ``x`` is a sequence of ``size`` entries."""
    try:
        n = len(x)
    except TypeError:
        raise TypeError(
            f"{who} expected a list of {size} Values or numbers, got {type(x).__name__}"
        ) from None
    if n != size:
        raise ValueError(f"{who} expected a vector of length {size}, got length {n}")


def _check_token(token: object, count: int, who: str) -> int:
    if isinstance(token, bool) or not isinstance(token, numbers.Integral):
        raise TypeError(
            f"{who} expects int tokens in 0..{count - 1}, got {type(token).__name__}"
            + (" (use .item())" if hasattr(token, "item") else "")
        )
    if not 0 <= token < count:
        raise ValueError(f"{who} has {count} rows, so tokens are 0..{count - 1}; got {token}")
    return int(token)


def _token_list(tokens: object, count: int, who: str) -> list[int]:
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError(
            f"{who} expects a list of int tokens, got {type(tokens).__name__}"
            + (" (encode the text into token ids first)" if isinstance(tokens, str) else "")
        )
    return [_check_token(t, count, who) for t in tokens]


def _norm_size(kind: str, dim: int) -> int:
    """Parameters of the norm a Block or GPT builds: RMSNorm's scale, LayerNorm's two."""
    return dim if kind == "rmsnorm" else 2 * dim


def _gaussian_matrix(rows: int, cols: int, std: float, rng: Any, name: str) -> list[list[Value]]:
    return [
        [Value(rng.gauss(0.0, std), label=f"{name}[{i},{j}]") for j in range(cols)]
        for i in range(rows)
    ]


# --------------------------------------------------------------------------------------
# Linear, Embedding, norms
# --------------------------------------------------------------------------------------


@register_module
class Linear(Module):
    """``y = activation(W x + b)`` for one input vector, ``W`` stored ``weight[out][in]``.

    As ``torch.nn.Linear`` (optionally followed by ReLU, fused into one node per output).
    Initial weights: with ``std=None`` PyTorch's default, U(-1/sqrt(nin), 1/sqrt(nin)) for
    weights and biases; with a ``std``, N(0, std²) weights and zero biases (GPT-2's).
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        bias: bool = True,
        activation: str = "linear",
        *,
        std: float | None = None,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.nin = _check_count(nin, "nin")
        self.nout = _check_count(nout, "nout")
        _check_flag(bias, "bias")
        self.activation = _check_activation(activation)
        if self.activation not in ("linear", "relu"):
            raise ValueError(
                f"Linear supports activation 'linear' or 'relu', got {self.activation!r}"
            )
        self.std = None if std is None else _check_real(std, "std")
        self.seed = seed
        generator = rng if rng is not None else make_rng(seed)
        if self.std is None:
            bound = 1.0 / math.sqrt(self.nin)
            self.weight = [
                [
                    Value(generator.uniform(-bound, bound), label=f"weight[{i},{j}]")
                    for j in range(nin)
                ]
                for i in range(nout)
            ]
            self.bias = (
                [Value(generator.uniform(-bound, bound), label=f"bias[{i}]") for i in range(nout)]
                if bias
                else None
            )
        else:
            self.weight = _gaussian_matrix(nout, nin, self.std, generator, "weight")
            self.bias = [Value(0.0, label=f"bias[{i}]") for i in range(nout)] if bias else None
        self._activate: Callable[[Value], Value] | None = _ACTIVATION_FUNCTIONS[self.activation]

    def forward(self, x: Sequence[Any]) -> list[Value]:
        """The ``nout`` outputs for a list of ``nin`` Values or numbers."""
        _check_vector(x, self.nin, "Linear")
        # dense(): one pass over the inputs and one node per output (ReLU fused into it).
        return dense(self.weight, x, self.bias, self._activate, fuse=True)

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "nin": self.nin,
            "nout": self.nout,
            "bias": self.bias is not None,
            "activation": self.activation,
            "std": self.std,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """``nout * nin`` weights, and ``nout`` biases with ``bias``."""
        values = config_arguments(cls, config, ("nin", "nout", "bias", "activation", "std", "seed"))
        nin, nout = _check_count(values["nin"], "nin"), _check_count(values["nout"], "nout")
        return nout * nin + (nout if _check_flag(values["bias"], "bias") else 0)

    def extra_repr(self) -> str:
        relu = ", relu" if self.activation == "relu" else ""
        return f"{self.nin} → {self.nout}, bias={self.bias is not None}{relu}"


@register_module
class Embedding(Module):
    """A table of ``num_embeddings`` vectors of length ``dim``; an int token picks a row.

    ``emb(token)`` returns row ``token`` (the parameters themselves: a lookup adds no
    node) and ``emb([t1, t2])`` a list of rows, as ``torch.nn.Embedding`` does for an
    index tensor. Initial weights N(0, std²); PyTorch's default ``std`` is 1. A token that
    is not an int, or is outside ``0..num_embeddings - 1``, raises a clear error.
    """

    def __init__(
        self,
        num_embeddings: int,
        dim: int,
        *,
        std: float = 1.0,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.num_embeddings = _check_count(num_embeddings, "num_embeddings")
        self.dim = _check_count(dim, "dim")
        self.std = _check_real(std, "std")
        self.seed = seed
        generator = rng if rng is not None else make_rng(seed)
        self.weight = _gaussian_matrix(self.num_embeddings, self.dim, self.std, generator, "weight")

    def forward(self, token: int | Sequence[int]) -> list[Value] | list[list[Value]]:
        """Row ``token`` (a list of ``dim`` Values), or one row per token of a list."""
        if isinstance(token, Sequence) and not isinstance(token, (str, bytes)):
            return [
                list(self.weight[t]) for t in _token_list(token, self.num_embeddings, self._who)
            ]
        return list(self.weight[_check_token(token, self.num_embeddings, self._who)])

    @property
    def _who(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.dim})"

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "num_embeddings": self.num_embeddings,
            "dim": self.dim,
            "std": self.std,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """A row of ``dim`` per embedding."""
        values = config_arguments(cls, config, ("num_embeddings", "dim", "std", "seed"))
        return _check_count(values["num_embeddings"], "num_embeddings") * _check_count(
            values["dim"], "dim"
        )

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.dim}"


@register_module
class RMSNorm(Module):
    """``y = x / sqrt(mean(x²) + eps) * weight``, as ``torch.nn.RMSNorm``.

    ``eps=None`` means the float64 machine epsilon, PyTorch's default for float64.
    ``weight`` (starting at 1) exists only with ``elementwise_affine=True``.
    """

    def __init__(self, dim: int, eps: float | None = None, elementwise_affine: bool = True) -> None:
        self.dim = _check_count(dim, "dim")
        self.eps = None if eps is None else _check_real(eps, "eps")
        self.elementwise_affine = _check_flag(elementwise_affine, "elementwise_affine")
        self.weight = (
            [Value(1.0, label=f"weight[{i}]") for i in range(self.dim)]
            if elementwise_affine
            else None
        )

    def forward(self, x: Sequence[Any]) -> list[Any]:
        """The normalised vector, same length as ``x``."""
        _check_vector(x, self.dim, "RMSNorm")
        eps = sys.float_info.epsilon if self.eps is None else self.eps
        multiplier = range_multiplier(x, eps)
        if multiplier != 1.0:  # entries past 2^±200: rescale so that x² cannot overflow
            x = [v * multiplier for v in x]
            eps = eps * multiplier * multiplier
        # dense with x as both weights and inputs: sum(x²) as one node.
        (square_sum,) = dense([x], x) if isinstance(x[0], Value) else [sum(v * v for v in x)]
        scale = (square_sum * (1.0 / self.dim) + eps) ** -0.5
        if self.weight is None:
            return [v * scale for v in x]
        return [v * scale * w for v, w in zip(x, self.weight)]

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"dim": self.dim, "eps": self.eps, "elementwise_affine": self.elementwise_affine}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """``dim`` scales with ``elementwise_affine``, else none."""
        values = config_arguments(cls, config, ("dim", "eps", "elementwise_affine"))
        dim = _check_count(values["dim"], "dim")
        return dim if _check_flag(values["elementwise_affine"], "elementwise_affine") else 0

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


@register_module
class LayerNorm(Module):
    """``y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias``, as ``torch.nn.LayerNorm``.

    The variance is the biased one (divided by ``dim``), as PyTorch's. ``weight`` (ones)
    and ``bias`` (zeros) exist with ``elementwise_affine=True``; ``bias=False`` drops the
    bias only.
    """

    def __init__(
        self, dim: int, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True
    ) -> None:
        self.dim = _check_count(dim, "dim")
        self.eps = _check_real(eps, "eps")
        self.elementwise_affine = _check_flag(elementwise_affine, "elementwise_affine")
        _check_flag(bias, "bias")
        self.weight = (
            [Value(1.0, label=f"weight[{i}]") for i in range(self.dim)]
            if elementwise_affine
            else None
        )
        self.bias = (
            [Value(0.0, label=f"bias[{i}]") for i in range(self.dim)]
            if elementwise_affine and bias
            else None
        )

    def forward(self, x: Sequence[Any]) -> list[Any]:
        """The normalised vector, same length as ``x``."""
        _check_vector(x, self.dim, "LayerNorm")
        eps = self.eps
        multiplier = range_multiplier(x, eps)
        if multiplier != 1.0:  # entries past 2^±200: rescale so that x² cannot overflow
            x = [v * multiplier for v in x]
            eps = eps * multiplier * multiplier
        mean = sum(x) * (1.0 / self.dim)
        centred = [v - mean for v in x]
        if isinstance(centred[0], Value):
            (square_sum,) = dense([centred], centred)
        else:
            square_sum = sum(c * c for c in centred)
        scale = (square_sum * (1.0 / self.dim) + eps) ** -0.5
        y = [c * scale for c in centred]
        if self.weight is not None:
            y = [v * w for v, w in zip(y, self.weight)]
        if self.bias is not None:
            y = [v + b for v, b in zip(y, self.bias)]
        return y

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "dim": self.dim,
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.bias is not None or not self.elementwise_affine,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """``dim`` scales and ``dim`` biases with ``elementwise_affine`` (biases if ``bias``)."""
        values = config_arguments(cls, config, ("dim", "eps", "elementwise_affine", "bias"))
        dim = _check_count(values["dim"], "dim")
        bias = _check_flag(values["bias"], "bias")
        if not _check_flag(values["elementwise_affine"], "elementwise_affine"):
            return 0
        return dim * (2 if bias else 1)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# --------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------


class KVCache:
    """The keys and values one attention layer has seen, one list of ``dim`` per position."""

    __slots__ = ("keys", "values")

    def __init__(self) -> None:
        self.keys: list[list[Value]] = []
        self.values: list[list[Value]] = []

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"KVCache({len(self)} positions)"


@register_module
class CausalSelfAttention(Module):
    """Multi-head causal self-attention over a list of positions.

    For each position t and head h (``head_dim = dim // n_head``)::

        q, k, v = query(x_t), key(x_t), value(x_t)          # Linear(dim, dim) each
        a_ts = softmax_s(q_h · k_h[s] / sqrt(head_dim))     # s = 0..t only: causal
        y_t = out(concat_h(sum_s a_ts v_h[s]))

    ``attn(xs)`` takes a list of vectors and returns one per position. ``attn(xs, cache)``
    continues a sequence: the cache's keys and values come first, and the new positions'
    are appended to it. ``last_attention[h][t][s]`` holds the weights ``a_ts`` of the last
    call, as Values (their ``.grad`` is filled by a backward pass through them).
    """

    def __init__(
        self,
        dim: int,
        n_head: int,
        *,
        bias: bool = False,
        std: float | None = None,
        out_std: float | None = None,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.dim = _check_count(dim, "dim")
        self.n_head = _check_count(n_head, "n_head")
        if self.dim % self.n_head:
            raise ValueError(f"dim ({dim}) must be a multiple of n_head ({n_head})")
        self.head_dim = self.dim // self.n_head
        self.seed = seed
        self.std = None if std is None else _check_real(std, "std")
        self.out_std = self.std if out_std is None else _check_real(out_std, "out_std")
        generator = rng if rng is not None else make_rng(seed)
        _check_flag(bias, "bias")
        self.query = Linear(dim, dim, bias, std=self.std, rng=generator)
        self.key = Linear(dim, dim, bias, std=self.std, rng=generator)
        self.value = Linear(dim, dim, bias, std=self.std, rng=generator)
        self.out = Linear(dim, dim, bias, std=self.out_std, rng=generator)
        self._last_attention: list[list[list[Value]]] = []

    @property
    def last_attention(self) -> list[list[list[Value]]]:
        """``[head][query position][key position]``: the weights of the last call."""
        return self._last_attention

    def forward(
        self, xs: Sequence[Sequence[Any]], cache: KVCache | None = None
    ) -> list[list[Value]]:
        """One output vector per position of ``xs``, each attending to itself and before."""
        if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
            raise TypeError(
                f"CausalSelfAttention expects a list of positions (lists of {self.dim} "
                f"Values), got {type(xs).__name__}"
            )
        if cache is None:
            cache = KVCache()
        elif not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}")
        for x in xs:
            _check_vector(x, self.dim, "CausalSelfAttention")
        scale = 1.0 / math.sqrt(self.head_dim)
        heads = [(h * self.head_dim, (h + 1) * self.head_dim) for h in range(self.n_head)]
        weights_seen: list[list[list[Value]]] = [[] for _ in heads]
        outputs = []
        # Work on copies and extend the cache only once every position has succeeded, so
        # a call that fails anywhere (a bad entry deep in a vector) leaves it as it was.
        keys, values = list(cache.keys), list(cache.values)
        for x in xs:
            q = self.query(x)
            keys.append(self.key(x))
            values.append(self.value(x))
            mixed: list[Value] = []
            for h, (lo, hi) in enumerate(heads):
                q_h = [v * scale for v in q[lo:hi]]
                # One dot node per key position: the scores of this query against all keys.
                scores = dense([k[lo:hi] for k in keys], q_h)
                attention = softmax(scores)
                weights_seen[h].append(attention)
                # One dot node per output coordinate: the attention-weighted values.
                mixed.extend(dense([[v[j] for v in values] for j in range(lo, hi)], attention))
            outputs.append(self.out(mixed))
        start = len(cache.keys)
        cache.keys.extend(keys[start:])
        cache.values.extend(values[start:])
        self._last_attention = weights_seen
        return outputs

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "dim": self.dim,
            "n_head": self.n_head,
            "bias": self.query.bias is not None,
            "std": self.std,
            "out_std": self.out_std,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """Four ``dim`` × ``dim`` projections, with ``dim`` biases each if ``bias``."""
        keys = ("dim", "n_head", "bias", "std", "out_std", "seed")
        values = config_arguments(cls, config, keys)
        dim = _check_count(values["dim"], "dim")
        if dim % _check_count(values["n_head"], "n_head"):
            raise ValueError(f"dim ({dim}) must be a multiple of n_head ({values['n_head']})")
        return 4 * dim * dim + (4 * dim if _check_flag(values["bias"], "bias") else 0)

    def extra_repr(self) -> str:
        return f"{self.dim}, n_head={self.n_head}"


# --------------------------------------------------------------------------------------
# GPT
# --------------------------------------------------------------------------------------


def _make_norm(kind: str, dim: int) -> Module:
    return RMSNorm(dim) if kind == "rmsnorm" else LayerNorm(dim)


@register_module
class Block(Module):
    """A pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + MLP(norm2(x))``.

    The MLP is ``proj(relu(fc(x)))`` with ``4 * dim`` hidden units and no biases.
    """

    def __init__(
        self,
        dim: int,
        n_head: int,
        *,
        norm: str = "rmsnorm",
        std: float = GPT_INIT_STD,
        out_std: float = GPT_INIT_STD,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.norm = _check_norm(norm)
        self.seed = seed
        generator = rng if rng is not None else make_rng(seed)
        dim = _check_count(dim, "dim")
        self.norm1 = _make_norm(self.norm, dim)
        self.attn = CausalSelfAttention(dim, n_head, std=std, out_std=out_std, rng=generator)
        self.norm2 = _make_norm(self.norm, dim)
        self.fc = Linear(dim, 4 * dim, bias=False, activation="relu", std=std, rng=generator)
        self.proj = Linear(4 * dim, dim, bias=False, std=out_std, rng=generator)

    def forward(
        self, xs: Sequence[Sequence[Any]], cache: KVCache | None = None
    ) -> list[list[Value]]:
        """The residual stream after this block, one vector per position."""
        attended = self.attn([self.norm1(x) for x in xs], cache)
        xs = [[a + b for a, b in zip(x, y)] for x, y in zip(xs, attended)]
        return [[a + b for a, b in zip(x, self.proj(self.fc(self.norm2(x))))] for x in xs]

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "dim": self.attn.dim,
            "n_head": self.attn.n_head,
            "norm": self.norm,
            "std": self.attn.std,
            "out_std": self.attn.out_std,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """Attention (4 dim²), the MLP (8 dim²) and two norms."""
        values = config_arguments(cls, config, ("dim", "n_head", "norm", "std", "out_std", "seed"))
        dim = _check_count(values["dim"], "dim")
        if dim % _check_count(values["n_head"], "n_head"):
            raise ValueError(f"dim ({dim}) must be a multiple of n_head ({values['n_head']})")
        return 12 * dim * dim + 2 * _norm_size(_check_norm(values["norm"]), dim)

    def extra_repr(self) -> str:
        return f"{self.attn.dim}, n_head={self.attn.n_head}, norm={self.norm!r}"


def _check_norm(norm: object) -> str:
    if not isinstance(norm, str):
        raise TypeError(f"norm must be a str, one of {list(NORMS)}; got {type(norm).__name__}")
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; expected one of {list(NORMS)}")
    return norm


@register_module
class GPT(Module):
    """A GPT language model: ``model(tokens)`` gives one list of logits per position.

    ``tokens`` is a list of ints in ``0..vocab_size - 1``, at most ``block_size`` long.
    The architecture is in this module's docstring. ``seed`` makes the initial weights
    reproducible (``None`` draws them from the global ``random`` module).
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_embd: int,
        n_head: int,
        n_layer: int,
        *,
        norm: str = "rmsnorm",
        seed: int | None = None,
    ) -> None:
        self.vocab_size = _check_count(vocab_size, "vocab_size")
        self.block_size = _check_count(block_size, "block_size")
        self.n_embd = _check_count(n_embd, "n_embd")
        self.n_head = _check_count(n_head, "n_head")
        self.n_layer = _check_count(n_layer, "n_layer")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
        self.norm = _check_norm(norm)
        self.seed = seed
        rng = make_rng(seed)
        std = GPT_INIT_STD
        out_std = std / math.sqrt(2 * self.n_layer)
        self.token_embedding = Embedding(self.vocab_size, self.n_embd, std=std, rng=rng)
        self.position_embedding = Embedding(self.block_size, self.n_embd, std=std, rng=rng)
        self.blocks = [
            Block(self.n_embd, self.n_head, norm=self.norm, std=std, out_std=out_std, rng=rng)
            for _ in range(self.n_layer)
        ]
        self.final_norm = _make_norm(self.norm, self.n_embd)
        self.lm_head = Linear(self.n_embd, self.vocab_size, bias=False, std=std, rng=rng)

    def new_cache(self) -> list[KVCache]:
        """An empty key/value cache, one ``KVCache`` per block, for ``model(tokens, cache)``."""
        return [KVCache() for _ in self.blocks]

    def forward(
        self, tokens: Sequence[int], cache: list[KVCache] | None = None
    ) -> list[list[Value]]:
        """The logits (``vocab_size`` Values) for each position of ``tokens``.

        With a ``cache`` (from :meth:`new_cache`), ``tokens`` continue the sequence the
        cache has seen: they take the next positions, attend to the cached keys and
        values, and are added to the cache.
        """
        tokens = _token_list(tokens, self.vocab_size, f"GPT(vocab_size={self.vocab_size})")
        if cache is None:
            cache = self.new_cache()
        elif (
            not isinstance(cache, list)
            or len(cache) != len(self.blocks)
            or not all(isinstance(c, KVCache) for c in cache)
        ):
            raise TypeError("cache must be the list of KVCache that model.new_cache() returns")
        lengths = [len(c) for c in cache]
        if len(set(lengths)) > 1:
            raise ValueError(
                f"GPT: the blocks' caches of different lengths {lengths} cannot continue one "
                "sequence; use the list model.new_cache() returns, filled only by this model"
            )
        start = lengths[0]
        if not tokens:
            raise ValueError("GPT needs at least one token")
        if start + len(tokens) > self.block_size:
            raise ValueError(
                f"GPT(block_size={self.block_size}) sees at most {self.block_size} positions; "
                f"got {start + len(tokens)} ({start} cached + {len(tokens)} new). Crop the "
                "context to its last block_size tokens"
            )
        xs = [
            [a + b for a, b in zip(self.token_embedding(t), self.position_embedding(start + i))]
            for i, t in enumerate(tokens)
        ]
        try:
            for block, block_cache in zip(self.blocks, cache):
                xs = block(xs, block_cache)
            return [self.lm_head(self.final_norm(x)) for x in xs]
        except BaseException:
            # A later block failed (or the call was interrupted): the earlier blocks' caches
            # grew, so cut them back; a failed call leaves the cache as it found it.
            for block_cache in cache:
                del block_cache.keys[start:], block_cache.values[start:]
            raise

    def generate(
        self,
        prompt: Sequence[int],
        n: int,
        temperature: float = 1.0,
        seed: int | None = None,
        *,
        stop: int | None = None,
    ) -> list[int]:
        """Sample up to ``n`` tokens that continue ``prompt``; returns the new tokens.

        Each token is drawn from ``softmax(logits / temperature)`` with
        ``random.Random(seed)`` (the global ``random`` module when ``seed`` is None);
        ``temperature=0`` takes the most likely token. Runs without building a graph and
        with a key/value cache, so each token costs one position; once the context fills
        ``block_size`` it is cropped to its last ``block_size`` tokens and recomputed.
        Sampling ``stop`` ends generation (``stop`` is not returned). Logits that are nan
        or infinite (diverged weights) raise ValueError: they define no distribution.
        """
        who = f"GPT(vocab_size={self.vocab_size})"
        context = _token_list(prompt, self.vocab_size, who)
        if not context:
            raise ValueError("generate() needs a prompt of at least one token")
        n = _check_count_or_zero(n, "n")
        temperature = _check_real(temperature, "temperature")
        rng = make_rng(seed)
        if stop is not None:
            stop = _check_token(stop, self.vocab_size, f"{who} stop")
        context = context[-self.block_size :]
        new: list[int] = []
        with no_grad():
            cache = self.new_cache()
            logits = self(context, cache)[-1]
            while len(new) < n:
                token = _sample([v.data for v in logits], temperature, rng)
                if token == stop:
                    break
                new.append(token)
                context.append(token)
                if len(new) == n:
                    break
                if len(context) <= self.block_size:
                    logits = self([token], cache)[0]
                else:
                    context = context[-self.block_size :]
                    cache = self.new_cache()
                    logits = self(context, cache)[-1]
        return new

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "vocab_size": self.vocab_size,
            "block_size": self.block_size,
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "n_layer": self.n_layer,
            "norm": self.norm,
            "seed": self.seed,
        }

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """Embeddings ``(vocab_size + block_size) * n_embd``, the blocks, a norm, the head."""
        keys = ("vocab_size", "block_size", "n_embd", "n_head", "n_layer", "norm", "seed")
        values = config_arguments(cls, config, keys)
        vocab = _check_count(values["vocab_size"], "vocab_size")
        block = _check_count(values["block_size"], "block_size")
        layers = _check_count(values["n_layer"], "n_layer")
        d = _check_count(values["n_embd"], "n_embd")
        if d % _check_count(values["n_head"], "n_head"):
            raise ValueError(f"n_embd ({d}) must be a multiple of n_head ({values['n_head']})")
        norm = _norm_size(_check_norm(values["norm"]), d)
        return (vocab + block) * d + layers * (12 * d * d + 2 * norm) + norm + vocab * d

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, block_size={self.block_size}, n_embd={self.n_embd}, "
            f"n_head={self.n_head}, n_layer={self.n_layer}"
        )


def _check_count_or_zero(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"{name} must be an int >= 0, got {n}")
    return int(n)


def _sample(logits: list[float], temperature: float, rng: Any) -> int:
    """An index drawn from softmax(logits / temperature); the argmax when temperature is 0.

    Logits that are nan or infinite define no distribution (and no argmax): they are a
    ValueError naming them, never a token drawn from numbers that nan has become.
    """
    bad = [(i, v) for i, v in enumerate(logits) if not math.isfinite(v)]
    if bad:
        shown = ", ".join(f"{v!r} at token {i}" for i, v in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"GPT.generate: the logits for the next token are not finite ({shown}{more}); "
            "the model's weights have probably diverged (nan or inf): train with a smaller "
            "learning rate, or load weights saved before they diverged"
        )
    if temperature == 0.0:
        return max(range(len(logits)), key=logits.__getitem__)
    top = max(logits)
    weights = [math.exp((v - top) / temperature) for v in logits]
    return rng.choices(range(len(logits)), weights=weights)[0]
