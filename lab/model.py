"""A decoder-only transformer whose every architectural choice is a config field.

Arrays carry their shape in their names: B batch, T sequence, D width, H heads,
K head width, F MLP width, V vocabulary.

The model is a Flax NNX module, but nothing hot calls it as one: `split_model`
separates the static graph from the parameter pytree once, and `forward` merges
them inside whatever jit/vmap/scan the caller builds, so parameters are plain
pytrees that can be batched over independent runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

Positional = Literal["learned", "rope", "none"]
Norm = Literal["layernorm", "rmsnorm", "none"]


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 128  # must cover the language's vocabulary
    seq_len: int = 96  # longest sequence; sizes the learned position table
    n_layers: int = 2
    d_model: int = 128
    n_heads: int = 8  # many narrow heads: binding needs several offset-reading heads
    d_ff: int = 0  # MLP hidden width; 0 (default) makes the model attention-only
    positional: Positional = "rope"
    norm: Norm = "layernorm"
    norm_position: Literal["pre", "post"] = "pre"
    tied_embeddings: bool = True
    rope_base: float = 10_000.0
    # Width of a causal depthwise convolution mixing each position with the ones just
    # before it, added to the attention's input in every block ("Canon-A" layers, Allen-Zhu
    # 2025); 0 leaves it out. It hands a token its neighbours' identities, so a first-layer
    # head can find a sentence's start by content, which in-context binding needs.
    canon_kernel: int = 4

    def __post_init__(self):
        for field in ("vocab_size", "seq_len", "n_layers", "d_model", "n_heads"):
            if getattr(self, field) < 1:
                raise ValueError(f"model.{field} must be >= 1, got {getattr(self, field)}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"model.d_model={self.d_model} is not divisible by model.n_heads={self.n_heads}; "
                "choose n_heads among the divisors of d_model"
            )
        if self.positional not in ("learned", "rope", "none"):
            raise ValueError(f"model.positional must be 'learned', 'rope' or 'none', got {self.positional!r}")
        if self.norm not in ("layernorm", "rmsnorm", "none"):
            raise ValueError(f"model.norm must be 'layernorm', 'rmsnorm' or 'none', got {self.norm!r}")
        if self.norm_position not in ("pre", "post"):
            raise ValueError(f"model.norm_position must be 'pre' or 'post', got {self.norm_position!r}")
        if self.positional == "rope" and (self.d_model // self.n_heads) % 2:
            raise ValueError(
                f"model.positional='rope' needs an even head width, got d_model/n_heads="
                f"{self.d_model // self.n_heads}"
            )
        if self.canon_kernel < 0:
            raise ValueError(f"model.canon_kernel must be >= 0 (0 = no convolution), got {self.canon_kernel}")
        if self.d_ff < 0:
            raise ValueError(f"model.d_ff must be >= 0 (0 = attention-only), got {self.d_ff}")
        if not 1 < self.rope_base < math.inf:  # also refuses NaN
            raise ValueError(f"model.rope_base must be > 1 and finite, got {self.rope_base}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


class Identity(nnx.Module):
    def __call__(self, x):
        return x


def make_norm(config: ModelConfig, rngs: nnx.Rngs) -> nnx.Module:
    if config.norm == "layernorm":
        return nnx.LayerNorm(config.d_model, rngs=rngs)
    if config.norm == "rmsnorm":
        return nnx.RMSNorm(config.d_model, rngs=rngs)
    return Identity()


def rotate(x_BxTxHxK: jax.Array, base: float) -> jax.Array:
    """Rotary position embedding: rotate channel pairs by position-dependent angles."""
    T, K = x_BxTxHxK.shape[1], x_BxTxHxK.shape[3]
    freqs_K2 = base ** (-jnp.arange(0, K, 2) / K)
    angles_TxK2 = jnp.arange(T)[:, None] * freqs_K2[None, :]
    cos, sin = jnp.cos(angles_TxK2)[None, :, None], jnp.sin(angles_TxK2)[None, :, None]
    x1, x2 = x_BxTxHxK[..., ::2], x_BxTxHxK[..., 1::2]
    return jnp.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).reshape(x_BxTxHxK.shape)


def rotate_at(x_BxTxHxK: jax.Array, positions_BxT: jax.Array, base: float) -> jax.Array:
    """`rotate` for tokens at the given positions (decoding one position per row)."""
    K = x_BxTxHxK.shape[3]
    freqs_K2 = base ** (-jnp.arange(0, K, 2) / K)
    angles_BxTxK2 = positions_BxT[..., None] * freqs_K2
    cos, sin = jnp.cos(angles_BxTxK2)[:, :, None], jnp.sin(angles_BxTxK2)[:, :, None]
    x1, x2 = x_BxTxHxK[..., ::2], x_BxTxHxK[..., 1::2]
    return jnp.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).reshape(x_BxTxHxK.shape)


class CausalSelfAttention(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.config = config
        D, H, K = config.d_model, config.n_heads, config.head_dim
        init = nnx.initializers.normal(D**-0.5)
        self.qkv_Dx3xHxK = nnx.Param(init(rngs.params(), (D, 3, H, K)))
        self.out_HxKxD = nnx.Param(init(rngs.params(), (H, K, D)) / (2 * config.n_layers) ** 0.5)

    def __call__(self, x_BxTxD: jax.Array) -> jax.Array:
        att_BxHxTxT, v_BxTxHxK = self._weights_and_values(x_BxTxD)
        y_BxTxHxK = jnp.einsum("bhqt,bthk->bqhk", att_BxHxTxT, v_BxTxHxK)
        return jnp.einsum("bthk,hkd->btd", y_BxTxHxK, self.out_HxKxD[...])

    def weights(self, x_BxTxD: jax.Array) -> jax.Array:
        """float32[B, H, T, T]: how much each query position attends to each key position."""
        return self._weights_and_values(x_BxTxD)[0]

    def keys_values(self, x_BxTxD: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The keys (rotated, with RoPE) and values [B, T, H, K] of every position: a decoding cache."""
        _, k_BxTxHxK, v_BxTxHxK = jnp.unstack(jnp.einsum("btd,dshk->sbthk", x_BxTxD, self.qkv_Dx3xHxK[...]), axis=0)
        if self.config.positional == "rope":
            k_BxTxHxK = rotate(k_BxTxHxK, self.config.rope_base)
        return k_BxTxHxK, v_BxTxHxK

    def step(self, x_BxD: jax.Array, position_B: jax.Array, k_BxTxHxK: jax.Array, v_BxTxHxK: jax.Array):
        """One new position per row (at `position_B`) against the cache: (output [B, D], updated k, v)."""
        q_BxHxK, k_BxHxK, v_BxHxK = jnp.unstack(jnp.einsum("bd,dshk->sbhk", x_BxD, self.qkv_Dx3xHxK[...]), axis=0)
        if self.config.positional == "rope":
            q_BxHxK, k_BxHxK = (rotate_at(x[:, None], position_B[:, None], self.config.rope_base)[:, 0]
                                for x in (q_BxHxK, k_BxHxK))
        rows_B = jnp.arange(x_BxD.shape[0])
        k_BxTxHxK, v_BxTxHxK = k_BxTxHxK.at[rows_B, position_B].set(k_BxHxK), v_BxTxHxK.at[rows_B, position_B].set(v_BxHxK)
        logits_BxHxT = jnp.einsum("bhk,bthk->bht", q_BxHxK, k_BxTxHxK) * self.config.head_dim**-0.5
        seen_BxT = jnp.arange(k_BxTxHxK.shape[1])[None] <= position_B[:, None]
        logits_BxHxT = jnp.where(seen_BxT[:, None], logits_BxHxT, jnp.finfo(logits_BxHxT.dtype).min)
        y_BxHxK = jnp.einsum("bht,bthk->bhk", jax.nn.softmax(logits_BxHxT, axis=-1), v_BxTxHxK)
        return jnp.einsum("bhk,hkd->bd", y_BxHxK, self.out_HxKxD[...]), k_BxTxHxK, v_BxTxHxK

    def _weights_and_values(self, x_BxTxD: jax.Array) -> tuple[jax.Array, jax.Array]:
        q_BxTxHxK, k_BxTxHxK, v_BxTxHxK = jnp.unstack(
            jnp.einsum("btd,dshk->sbthk", x_BxTxD, self.qkv_Dx3xHxK[...]), axis=0
        )
        if self.config.positional == "rope":
            q_BxTxHxK = rotate(q_BxTxHxK, self.config.rope_base)
            k_BxTxHxK = rotate(k_BxTxHxK, self.config.rope_base)
        T = x_BxTxD.shape[1]
        logits_BxHxTxT = jnp.einsum("bqhk,bthk->bhqt", q_BxTxHxK, k_BxTxHxK) * self.config.head_dim**-0.5
        causal_TxT = jnp.tril(jnp.ones((T, T), dtype=bool))
        logits_BxHxTxT = jnp.where(causal_TxT, logits_BxHxTxT, jnp.finfo(logits_BxHxTxT.dtype).min)
        return jax.nn.softmax(logits_BxHxTxT, axis=-1), v_BxTxHxK


class Canon(nnx.Module):
    """Causal depthwise convolution over the last `canon_kernel` positions, plus its input."""

    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        W, D = config.canon_kernel, config.d_model
        # Scaled like a depthwise convolution's fan-in (W), so the mix starts as large as its input.
        self.weight_WxD = nnx.Param(nnx.initializers.normal(W**-0.5)(rngs.params(), (W, D)))

    def __call__(self, x_BxTxD: jax.Array) -> jax.Array:
        W, T = self.weight_WxD.shape[0], x_BxTxD.shape[1]
        padded_BxTxD = jnp.pad(x_BxTxD, ((0, 0), (W - 1, 0), (0, 0)))
        # Row j of the weight multiplies the position j steps back.
        mixed_BxTxD = sum(padded_BxTxD[:, W - 1 - j : W - 1 - j + T] * self.weight_WxD[j] for j in range(W))
        return x_BxTxD + mixed_BxTxD

    def step(self, x_BxD: jax.Array, position_B: jax.Array, inputs_BxTxD: jax.Array):
        """The convolution at one new position per row, its earlier inputs from the cache: (output, cache)."""
        rows_B = jnp.arange(x_BxD.shape[0])
        inputs_BxTxD = inputs_BxTxD.at[rows_B, position_B].set(x_BxD)

        def back(j):  # the input j positions back, zero before the sequence starts (as the padding)
            return jnp.where((position_B >= j)[:, None], inputs_BxTxD[rows_B, jnp.maximum(position_B - j, 0)], 0.0)

        mixed_BxD = sum(back(j) * self.weight_WxD[j] for j in range(self.weight_WxD.shape[0]))
        return x_BxD + mixed_BxD, inputs_BxTxD


class MLP(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        D, F = config.d_model, config.d_ff
        self.up_DxF = nnx.Param(nnx.initializers.normal(D**-0.5)(rngs.params(), (D, F)))
        self.down_FxD = nnx.Param(
            nnx.initializers.normal(F**-0.5)(rngs.params(), (F, D)) / (2 * config.n_layers) ** 0.5
        )

    def __call__(self, x_BxTxD: jax.Array) -> jax.Array:
        return jax.nn.gelu(x_BxTxD @ self.up_DxF[...]) @ self.down_FxD[...]


class Block(nnx.Module):
    """One residual block: attention then (optionally) an MLP, each behind a norm."""

    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.pre = config.norm_position == "pre"
        self.attn_norm = make_norm(config, rngs)
        self.attn = CausalSelfAttention(config, rngs)
        self.canon = Canon(config, rngs) if config.canon_kernel > 0 else None
        self.mlp = MLP(config, rngs) if config.d_ff > 0 else None
        self.mlp_norm = make_norm(config, rngs) if config.d_ff > 0 else None

    def __call__(self, x_BxTxD: jax.Array) -> jax.Array:
        x_BxTxD = self._residual(x_BxTxD, self.attn_norm, self._attend)
        if self.mlp is not None:
            x_BxTxD = self._residual(x_BxTxD, self.mlp_norm, self.mlp)
        return x_BxTxD

    def attention_weights(self, x_BxTxD: jax.Array) -> jax.Array:
        """float32[B, H, T, T]: the attention of this block on its input x."""
        return self.attn.weights(self._attention_input(self._sublayer_input(x_BxTxD, self.attn_norm)))

    def cache(self, x_BxTxD: jax.Array) -> dict:
        """What decoding after this prefix needs of this block: its attention's keys and values, Canon's inputs."""
        h_BxTxD = self._sublayer_input(x_BxTxD, self.attn_norm)
        k_BxTxHxK, v_BxTxHxK = self.attn.keys_values(self._attention_input(h_BxTxD))
        return {"k": k_BxTxHxK, "v": v_BxTxHxK, "canon": h_BxTxD if self.canon is not None else None}

    def step(self, x_BxD: jax.Array, position_B: jax.Array, cache: dict) -> tuple[jax.Array, dict]:
        """This block at one new position per row, reading and extending its cache."""
        h_BxD = self._sublayer_input(x_BxD, self.attn_norm)
        canon = cache["canon"]
        if self.canon is not None:
            h_BxD, canon = self.canon.step(h_BxD, position_B, canon)
        y_BxD, k, v = self.attn.step(h_BxD, position_B, cache["k"], cache["v"])
        x_BxD = x_BxD + y_BxD if self.pre else self.attn_norm(x_BxD + y_BxD)
        if self.mlp is not None:
            x_BxD = self._residual(x_BxD, self.mlp_norm, self.mlp)
        return x_BxD, {"k": k, "v": v, "canon": canon}

    def _attend(self, x_BxTxD: jax.Array) -> jax.Array:
        return self.attn(self._attention_input(x_BxTxD))

    def _attention_input(self, x_BxTxD: jax.Array) -> jax.Array:
        return x_BxTxD if self.canon is None else self.canon(x_BxTxD)

    def _residual(self, x_BxTxD, norm, layer):
        y_BxTxD = x_BxTxD + layer(self._sublayer_input(x_BxTxD, norm))
        return y_BxTxD if self.pre else norm(y_BxTxD)

    def _sublayer_input(self, x_BxTxD, norm):
        """What a sublayer reads: its input normed (pre-norm) or as it is (post-norm, normed after)."""
        return norm(x_BxTxD) if self.pre else x_BxTxD


class Transformer(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.config = config
        D, V = config.d_model, config.vocab_size
        self.embed_VxD = nnx.Param(nnx.initializers.normal(1.0)(rngs.params(), (V, D)))
        self.positions_TxD = (
            nnx.Param(nnx.initializers.normal(0.02)(rngs.params(), (config.seq_len, D)))
            if config.positional == "learned" else None
        )
        self.blocks = nnx.List([Block(config, rngs) for _ in range(config.n_layers)])
        # Post-norm blocks already end in a norm; pre-norm needs one before the unembedding.
        self.final_norm = make_norm(config, rngs) if config.norm_position == "pre" else Identity()
        self.unembed_DxV = (
            None if config.tied_embeddings
            else nnx.Param(nnx.initializers.normal(D**-0.5)(rngs.params(), (D, V)))
        )

    def __call__(self, tokens_BxT: jax.Array) -> jax.Array:
        """Next-token logits float32[B, T, V] for int tokens [B, T]."""
        x_BxTxD = self._embed(tokens_BxT)
        for block in self.blocks:
            x_BxTxD = block(x_BxTxD)
        return self._unembed(self.final_norm(x_BxTxD))

    def prefill(self, tokens_BxT: jax.Array) -> tuple[jax.Array, list[dict]]:
        """Logits [B, T, V] of a prefix and each block's decoding cache over its T positions."""
        x_BxTxD, caches = self._embed(tokens_BxT), []
        for block in self.blocks:
            caches.append(block.cache(x_BxTxD))
            x_BxTxD = block(x_BxTxD)
        return self._unembed(self.final_norm(x_BxTxD)), caches

    def step(self, token_B: jax.Array, position_B: jax.Array, caches: list[dict]) -> tuple[jax.Array, list[dict]]:
        """Next-token logits [B, V] after one new token per row at `position_B`, and the extended caches."""
        x_BxD = self.embed_VxD[...][token_B]
        if self.positions_TxD is not None:
            x_BxD = x_BxD + self.positions_TxD[...][position_B]
        new_caches = []
        for block, cache in zip(self.blocks, caches):
            x_BxD, cache = block.step(x_BxD, position_B, cache)
            new_caches.append(cache)
        return self._unembed(self.final_norm(x_BxD)), new_caches

    def attention_maps(self, tokens_BxT: jax.Array) -> list[jax.Array]:
        """Each block's attention float32[B, H, T, T], first block first (for probes, not training)."""
        x_BxTxD, maps = self._embed(tokens_BxT), []
        for block in self.blocks:
            maps.append(block.attention_weights(x_BxTxD))
            x_BxTxD = block(x_BxTxD)
        return maps

    def _unembed(self, x_BxTxD: jax.Array) -> jax.Array:
        if self.unembed_DxV is None:
            # Tied: embeddings have unit scale, so scale the readout like a D-wide projection.
            return x_BxTxD @ self.embed_VxD[...].T * self.config.d_model**-0.5
        return x_BxTxD @ self.unembed_DxV[...]

    def _embed(self, tokens_BxT: jax.Array) -> jax.Array:
        x_BxTxD = self.embed_VxD[...][tokens_BxT]
        if self.positions_TxD is not None:
            x_BxTxD = x_BxTxD + self.positions_TxD[...][: tokens_BxT.shape[1]]
        return x_BxTxD


def init_model(config: ModelConfig, seed: int) -> tuple[nnx.GraphDef, nnx.State]:
    """Static graph and a fresh parameter pytree."""
    return split_model(Transformer(config, nnx.Rngs(params=seed)))


def split_model(model: Transformer) -> tuple[nnx.GraphDef, nnx.State]:
    return nnx.split(model)


def forward(graphdef: nnx.GraphDef, params: nnx.State, tokens_BxT: jax.Array) -> jax.Array:
    """Pure forward pass, for use inside jit / vmap / scan."""
    return nnx.merge(graphdef, params)(tokens_BxT)


def prefill(graphdef: nnx.GraphDef, params: nnx.State, tokens_BxT: jax.Array) -> tuple[jax.Array, list[dict]]:
    """Pure: logits [B, T, V] of a prefix and the decoding caches (`Transformer.prefill`)."""
    return nnx.merge(graphdef, params).prefill(tokens_BxT)


def decode_step(graphdef: nnx.GraphDef, params: nnx.State, token_B, position_B, caches):
    """Pure: logits [B, V] after one new token per row, and the extended caches (`Transformer.step`)."""
    return nnx.merge(graphdef, params).step(token_B, position_B, caches)


def attention_maps(graphdef: nnx.GraphDef, params: nnx.State, tokens_BxT: jax.Array) -> list[jax.Array]:
    """Pure: each block's attention weights float32[B, H, T, T], first block first."""
    return nnx.merge(graphdef, params).attention_maps(tokens_BxT)


def count_params(params: nnx.State) -> int:
    return sum(x.size for x in jax.tree.leaves(params))
