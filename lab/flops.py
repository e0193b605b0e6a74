"""How many floating-point operations the model's matmuls cost, for MFU.

Every matmul of an [m, k] by [k, n] product costs 2·m·n·k (a multiply and an add
per term). Counted, per layer and per position (T positions, width D, MLP width F):

- fused QKV projection (`qkv_Dx3xHxK`):   2·D·3D
- attention scores QKᵀ over all heads:   2·T·D
- attention-weighted sum of values:      2·T·D
- output projection (`out_HxKxD`):       2·D·D
- MLP up and down, only if F > 0:        2·D·F + 2·F·D

and once per position the unembedding, 2·D·V, tied or not (tied reuses the
embedding matrix, it does the same product). The embedding lookup is a gather:
0 FLOPs. Norms, RoPE, softmax, GELU, the loss and the optimizer update are
elementwise and left out, as in the usual MFU convention (PaLM, appendix B); so
is the Canon convolution (`model.canon_kernel` = W): W elementwise multiply-adds
per channel, 2·W·D per position, under 1% of a layer at the default width.

Attention is counted over the full T×T square: the model computes every logit
and masks the future afterwards (`jnp.where`), so causal masking does not halve
the work actually done. A kernel that skipped masked blocks would do about half
the attention FLOPs; this count would then overstate its work.

A train step is 3 × forward: the backward pass does two matmuls per forward
matmul (the gradient with respect to the input and to the weight). This agrees
with the 6N + 12·L·D·T per token rule of thumb when N counts the matrices only.
"""

from __future__ import annotations

from lab.model import ModelConfig


def forward_flops(model: ModelConfig, batch_size: int, seq_len: int) -> int:
    """Matmul FLOPs of one forward pass over int tokens [batch_size, seq_len].

    `seq_len` is the length the model actually sees: the lab's train step forwards
    `tokens[:, :-1]`, so a row of `model.seq_len` tokens costs `model.seq_len - 1`.
    """
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size and seq_len must be >= 1, got {batch_size} and {seq_len}")
    D, F, V, T = model.d_model, model.d_ff, model.vocab_size, seq_len
    projections = 2 * D * 3 * D + 2 * D * D
    attention = 2 * T * D + 2 * T * D  # QKᵀ then att·V: H heads of width D/H make T·D per query
    mlp = 2 * D * F + 2 * F * D
    per_position = model.n_layers * (projections + attention + mlp) + 2 * D * V
    return batch_size * T * per_position


def train_step_flops(model: ModelConfig, batch_size: int, seq_len: int) -> int:
    """Matmul FLOPs of one optimizer step (forward and backward) on [batch_size, seq_len]."""
    return 3 * forward_flops(model, batch_size, seq_len)
