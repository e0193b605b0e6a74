"""The lab's model and train step in plain eager PyTorch: a yardstick for its speed.

Standalone on purpose (the lab never imports PyTorch): the same decoder as
lab/model.py, initialization aside — fused bias-free QKV, RoPE (interleaved pairs) or
learned positions, LayerNorm/RMSNorm (eps 1e-6) before or after each sublayer, an
optional GELU MLP (d_ff 0 = attention-only), tied embeddings read out at scale D^-0.5 —
with `F.scaled_dot_product_attention(is_causal=True)`, and the lab's train step: weighted
next-token cross-entropy on tokens[:, :-1] -> tokens[1:], global-norm clipping at 1,
AdamW (b2 0.98, decay 0.1 on matrices only) under a warm-up + cosine schedule.

Throughput is measured like benchmarks/benchmark.py, with the same argument names:
one warm-up dispatch of --steps-per-dispatch steps, then --dispatches timed ones, the
median reported; a token is one of the batch_size × (seq_len - 1) positions trained on.
Defaults are the lab's defaults (ModelConfig, OptimConfig); keep them in step.

    /tmp/torchvenv/bin/python benchmarks/torch_gpt.py --json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rotate(x_BxTxHxK: torch.Tensor, base: float) -> torch.Tensor:
    """Rotary embedding on channel pairs (0,1), (2,3), ... as the lab's `rotate`."""
    T, K = x_BxTxHxK.shape[1], x_BxTxHxK.shape[3]
    freqs_K2 = base ** (-torch.arange(0, K, 2, dtype=torch.float32) / K)
    angles_TxK2 = torch.arange(T, dtype=torch.float32)[:, None] * freqs_K2[None, :]
    cos, sin = angles_TxK2.cos()[None, :, None], angles_TxK2.sin()[None, :, None]
    x1, x2 = x_BxTxHxK[..., ::2], x_BxTxHxK[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


def make_norm(args) -> nn.Module:
    if args.norm == "layernorm":
        return nn.LayerNorm(args.d_model, eps=1e-6)
    if args.norm == "rmsnorm":
        return nn.RMSNorm(args.d_model, eps=1e-6)
    return nn.Identity()


class CausalSelfAttention(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.qkv = nn.Linear(args.d_model, 3 * args.d_model, bias=False)
        self.out = nn.Linear(args.d_model, args.d_model, bias=False)

    def forward(self, x_BxTxD: torch.Tensor) -> torch.Tensor:
        B, T, D = x_BxTxD.shape
        H = self.args.n_heads
        q, k, v = self.qkv(x_BxTxD).view(B, T, 3, H, D // H).unbind(2)
        if self.args.positional == "rope":
            q, k = rotate(q, self.args.rope_base), rotate(k, self.args.rope_base)
        y_BxHxTxK = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                   is_causal=True)
        return self.out(y_BxHxTxK.transpose(1, 2).reshape(B, T, D))


class Canon(nn.Module):
    """Causal depthwise convolution over the last W positions, plus its input (the lab's `Canon`)."""

    def __init__(self, args):
        super().__init__()
        W = args.canon_kernel
        self.weight_WxD = nn.Parameter(W**-0.5 * torch.randn(W, args.d_model))

    def forward(self, x_BxTxD: torch.Tensor) -> torch.Tensor:
        W, T = self.weight_WxD.shape[0], x_BxTxD.shape[1]
        padded = F.pad(x_BxTxD, (0, 0, W - 1, 0))
        return x_BxTxD + sum(padded[:, W - 1 - j : W - 1 - j + T] * self.weight_WxD[j] for j in range(W))


class Block(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.pre = args.norm_position == "pre"
        self.attn_norm, self.attn = make_norm(args), CausalSelfAttention(args)
        if args.canon_kernel > 0:
            self.attn = nn.Sequential(Canon(args), self.attn)
        self.mlp = None
        if args.d_ff > 0:
            self.mlp_norm = make_norm(args)
            self.mlp = nn.Sequential(nn.Linear(args.d_model, args.d_ff, bias=False), nn.GELU(approximate="tanh"),
                                     nn.Linear(args.d_ff, args.d_model, bias=False))

    def forward(self, x):
        x = self.residual(x, self.attn_norm, self.attn)
        return x if self.mlp is None else self.residual(x, self.mlp_norm, self.mlp)

    def residual(self, x, norm, layer):
        return x + layer(norm(x)) if self.pre else norm(x + layer(x))


class GPT(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.embed = nn.Embedding(args.vocab_size, args.d_model)  # N(0, 1), as the lab's
        self.positions = (nn.Parameter(0.02 * torch.randn(args.seq_len, args.d_model))
                          if args.positional == "learned" else None)
        self.blocks = nn.ModuleList(Block(args) for _ in range(args.n_layers))
        self.final_norm = make_norm(args) if args.norm_position == "pre" else nn.Identity()
        self.unembed = None if args.tied_embeddings else nn.Linear(args.d_model, args.vocab_size, bias=False)

    def forward(self, tokens_BxT: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens_BxT)
        if self.positions is not None:
            x = x + self.positions[: tokens_BxT.shape[1]]
        for block in self.blocks:
            x = block(x)
        x = self.final_norm(x)
        if self.unembed is None:
            return x @ self.embed.weight.T * self.args.d_model**-0.5
        return self.unembed(x)


def sequence_loss(model, tokens_BxT, weights_BxT):
    logits_BxTxV = model(tokens_BxT[:, :-1])
    losses = F.cross_entropy(logits_BxTxV.flatten(0, 1), tokens_BxT[:, 1:].flatten(), reduction="none")
    weights = weights_BxT[:, 1:].flatten()
    return (losses * weights).sum() / weights.sum().clamp(min=1.0)


def make_optimizer(model, args, total_steps):
    matrices = [p for p in model.parameters() if p.ndim >= 2]
    others = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}],
                                  lr=3e-3, betas=(0.9, 0.98))
    warmup = 100

    def schedule(step):
        if step < warmup:
            return step / warmup
        progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def train_chunk(model, optimizer, scheduler, tokens_SxBxT, weights_SxBxT):
    for tokens_BxT, weights_BxT in zip(tokens_SxBxT, weights_SxBxT):
        optimizer.zero_grad(set_to_none=True)
        loss = sequence_loss(model, tokens_BxT, weights_BxT)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    return loss.item()  # eager already ran everything; reading the loss is the sync point


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in [("vocab-size", 128), ("seq-len", 96), ("n-layers", 2), ("d-model", 128), ("n-heads", 8),
                          ("d-ff", 0), ("canon-kernel", 4)]:
        p.add_argument(f"--model.{name}", dest=name.replace("-", "_"), type=int, default=default)
    p.add_argument("--model.positional", dest="positional", choices=["rope", "learned", "none"], default="rope")
    p.add_argument("--model.norm", dest="norm", choices=["layernorm", "rmsnorm", "none"], default="layernorm")
    p.add_argument("--model.norm-position", dest="norm_position", choices=["pre", "post"], default="pre")
    p.add_argument("--model.tied-embeddings", dest="tied_embeddings", action="store_true", default=True)
    p.add_argument("--model.no-tied-embeddings", dest="tied_embeddings", action="store_false")
    p.add_argument("--model.rope-base", dest="rope_base", type=float, default=10_000.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps-per-dispatch", type=int, default=50, help="steps per timed chunk")
    p.add_argument("--dispatches", type=int, default=10, help="timed chunks after one warm-up; median reported")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="default: the usable cores")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the table")
    args = p.parse_args(argv)
    if args.d_model % args.n_heads:
        p.error(f"--model.d-model={args.d_model} is not divisible by --model.n-heads={args.n_heads}")
    for name in ("batch_size", "steps_per_dispatch", "dispatches", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = GPT(args)
    optimizer, scheduler = make_optimizer(model, args, total_steps=(args.dispatches + 1) * args.steps_per_dispatch)
    tokens = torch.randint(0, args.vocab_size, (args.steps_per_dispatch, args.batch_size, args.seq_len))
    weights = torch.ones(tokens.shape)

    print(f"warm-up, then {args.dispatches} × {args.steps_per_dispatch} steps on {args.threads} threads",
          file=sys.stderr)
    train_chunk(model, optimizer, scheduler, tokens, weights)
    times = []
    for _ in range(args.dispatches):
        start = time.perf_counter()
        train_chunk(model, optimizer, scheduler, tokens, weights)
        times.append(time.perf_counter() - start)
    step_seconds = statistics.median(times) / args.steps_per_dispatch

    config_keys = ("n_layers", "d_model", "n_heads", "d_ff", "canon_kernel", "seq_len", "vocab_size", "positional", "norm",
                   "norm_position", "tied_embeddings", "batch_size", "steps_per_dispatch", "dispatches")
    results = {
        "tokens_per_second": args.batch_size * (args.seq_len - 1) / step_seconds,
        "step_seconds": step_seconds,
        "config": {k: getattr(args, k) for k in config_keys},
        "threads": args.threads,
        "torch_version": torch.__version__,
    }
    if args.json:
        print(json.dumps(results))
    else:
        print(f"torch {torch.__version__}, {args.threads} threads: {step_seconds * 1e3:.2f} ms/step, "
              f"{results['tokens_per_second']:,.0f} tokens/s")
    return results


if __name__ == "__main__":
    main()
