"""Scoring: multiple choice by summed log-likelihood, and decoding (greedy or sampled).

A multiple-choice item is a prompt and a few options; the model's choice is the
option whose tokens have the highest summed log-likelihood after the prompt. All
items are packed into fixed [rows, seq_len] arrays padded to a multiple of
`rows_per_call`, so scoring compiles once per model and never per item.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lab.batching import bucket_length
from lab.datasets import Choice
from lab.model import decode_step, forward, prefill


def pack_choices(
    prompts: Sequence[Sequence[int]], choices: Sequence[Choice], seq_len: int, pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """tokens int32[items, options, seq_len] and weights float32[...] marking option tokens.

    Every item must have the same number of options.
    """
    n_options = {len(c.options) for c in choices}
    if len(n_options) != 1:
        raise ValueError(f"items in one call must share their number of options, got {sorted(n_options)}")
    (n_options,) = n_options
    tokens = np.full((len(choices), n_options, seq_len), pad, np.int32)
    weights = np.zeros((len(choices), n_options, seq_len), np.float32)
    for i, (prompt, choice) in enumerate(zip(prompts, choices, strict=True)):
        for j, option in enumerate(choice.options):
            row = [*prompt, *option]
            if len(row) > seq_len:
                raise ValueError(
                    f"prompt + option is {len(row)} tokens, longer than seq_len={seq_len}; "
                    "use smaller evaluation worlds or a longer model.seq_len"
                )
            tokens[i, j, : len(row)] = row
            weights[i, j, len(prompt) : len(row)] = 1.0
    return tokens, weights


def sequence_logprob(graphdef, params, tokens_NxT: jax.Array, weights_NxT: jax.Array) -> jax.Array:
    """float32[N]: summed log-probability of the tokens that `weights` marks."""
    logits_NxTxV = forward(graphdef, params, tokens_NxT[:, :-1])
    logp_NxT = -optax.softmax_cross_entropy_with_integer_labels(logits_NxTxV, tokens_NxT[:, 1:])
    return jnp.sum(logp_NxT * weights_NxT[:, 1:], axis=-1)


@partial(jax.jit, static_argnums=0)
def _logprob_rows(graphdef, params, tokens_CxRxT, weights_CxRxT):
    return jax.lax.map(lambda tw: sequence_logprob(graphdef, params, *tw), (tokens_CxRxT, weights_CxRxT))


def option_logprobs(
    graphdef, params, tokens_NxOxT: np.ndarray, weights_NxOxT: np.ndarray, rows_per_call: int = 256
) -> np.ndarray:
    """float32[items, options] summed option log-likelihoods, computed in fixed-size chunks."""
    n, o, t = tokens_NxOxT.shape
    rows = n * o
    n_chunks = max(1, -(-rows // rows_per_call))
    padded = n_chunks * rows_per_call
    tokens = np.zeros((padded, t), np.int32)
    weights = np.zeros((padded, t), np.float32)
    tokens[:rows], weights[:rows] = tokens_NxOxT.reshape(rows, t), weights_NxOxT.reshape(rows, t)
    logp = _logprob_rows(
        graphdef, params, tokens.reshape(n_chunks, rows_per_call, t), weights.reshape(n_chunks, rows_per_call, t)
    )
    return np.asarray(logp).reshape(-1)[:rows].reshape(n, o)


def score_choices(graphdef, params, prompts, choices: Sequence[Choice], seq_len: int, pad: int) -> np.ndarray:
    """bool[items]: whether the model's highest-likelihood option is the right one."""
    tokens, weights = pack_choices(prompts, choices, seq_len, pad)
    logp = option_logprobs(graphdef, params, tokens, weights)
    return logp.argmax(axis=-1) == np.array([c.answer for c in choices])


@partial(jax.jit, static_argnums=(0, 4, 5))
def _decode(graphdef, params, tokens_BxT, lengths_B, max_new_tokens, temperature, key):
    def step(carry, key):
        tokens_BxT, lengths_B = carry
        logits_BxTxV = forward(graphdef, params, tokens_BxT)
        last_BxV = jnp.take_along_axis(logits_BxTxV, (lengths_B - 1)[:, None, None], axis=1)[:, 0]
        next_B = _pick(last_BxV, key, temperature)
        tokens_BxT = tokens_BxT.at[jnp.arange(tokens_BxT.shape[0]), lengths_B].set(next_B.astype(tokens_BxT.dtype))
        return (tokens_BxT, lengths_B + 1), next_B

    _, new_NxB = jax.lax.scan(step, (tokens_BxT, lengths_B), jax.random.split(key, max_new_tokens))
    return new_NxB.T


def _pick(last_BxV, key, temperature: float):
    if temperature == 0.0:
        return jnp.argmax(last_BxV, axis=-1)
    return jax.random.categorical(key, last_BxV / temperature, axis=-1)


@partial(jax.jit, static_argnums=(0, 4, 5, 7, 8))
def _decode_cached(graphdef, params, tokens_BxT, lengths_B, max_new_tokens, temperature, key, eos, pad):
    """Prefill once, then one position per row per step from the cache, until every row has ended."""
    logits_BxTxV, caches = prefill(graphdef, params, tokens_BxT)
    last_BxV = jnp.take_along_axis(logits_BxTxV, (lengths_B - 1)[:, None, None], axis=1)[:, 0]
    keys = jax.random.split(key, max_new_tokens)  # step i draws with keys[i], as the recomputing decoder does
    new_BxN = jnp.full((tokens_BxT.shape[0], max_new_tokens), pad, tokens_BxT.dtype)
    ended_B = jnp.zeros(tokens_BxT.shape[0], bool)

    def unfinished(state):
        i, _, _, _, ended_B = state
        return (i < max_new_tokens) & ~jnp.all(ended_B)

    def step(state):
        i, last_BxV, caches, new_BxN, ended_B = state
        next_B = jnp.where(ended_B, pad, _pick(last_BxV, keys[i], temperature)).astype(new_BxN.dtype)
        new_BxN = new_BxN.at[:, i].set(next_B)
        last_BxV, caches = decode_step(graphdef, params, next_B, lengths_B + i, caches)
        return i + 1, last_BxV, caches, new_BxN, ended_B | (next_B == eos)

    return jax.lax.while_loop(unfinished, step, (0, last_BxV, caches, new_BxN, ended_B))[3]


def decode(
    graphdef, params, prompts: Sequence[Sequence[int]], max_new_tokens: int, seq_len: int, pad: int,
    temperature: float = 0.0, key: jax.Array | None = None, eos: int | None = None, cache: bool = True,
) -> np.ndarray:
    """int32[prompts, max_new_tokens]: continuations of each prompt, greedy or sampled.

    `temperature` 0 decodes greedily; above 0 it samples from the softmax of
    logits / temperature with `key`. With `cache` (the default) the prompts are
    prefilled once and each new token costs one position, read against a key/value
    cache; a row that wrote `eos` writes `pad` after it, and decoding stops once
    every row has. Without it, the whole sequence is recomputed per token and rows
    run on past their end (the yardstick the cache is measured against). Either way
    the buffer is just long enough for the longest prompt and its new tokens,
    rounded up to a bucket length, so one compiled program serves every call of the
    same bucket.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature > 0 and key is None:
        raise ValueError("sampling (temperature > 0) needs a key")
    longest = max(map(len, prompts))
    if longest + max_new_tokens > seq_len:
        raise ValueError(f"prompt of {longest} tokens + {max_new_tokens} new ones exceeds seq_len={seq_len}")
    tokens = np.full((len(prompts), bucket_length(longest + max_new_tokens, seq_len)), pad, np.int32)
    for i, p in enumerate(prompts):
        tokens[i, : len(p)] = p
    lengths = np.array([len(p) for p in prompts], np.int32)
    key = jax.random.key(0) if key is None else key  # unused when greedy
    if cache:
        eos = -1 if eos is None else eos  # no token is -1: without an eos every row runs to the cap
        new = _decode_cached(graphdef, params, tokens, lengths, max_new_tokens, float(temperature), key, eos, pad)
    else:
        new = _decode(graphdef, params, tokens, lengths, max_new_tokens, float(temperature), key)
    return np.asarray(new).astype(np.int32)


def greedy_decode(
    graphdef, params, prompts: Sequence[Sequence[int]], max_new_tokens: int, seq_len: int, pad: int
) -> np.ndarray:
    """int32[prompts, max_new_tokens]: greedy continuations of each prompt."""
    return decode(graphdef, params, prompts, max_new_tokens, seq_len, pad)


def text_token_accuracy(graphdef, params, tokens_PxT: jax.Array, weights_PxT: jax.Array) -> jax.Array:
    """float32: the share of weighted target tokens that the model's argmax predicts (teacher forcing)."""
    logits_PxTxV = forward(graphdef, params, tokens_PxT[:, :-1])
    hit_PxT = (jnp.argmax(logits_PxTxV, axis=-1) == tokens_PxT[:, 1:]) * weights_PxT[:, 1:]
    return jnp.sum(hit_PxT) / jnp.maximum(jnp.sum(weights_PxT[:, 1:]), 1.0)


@partial(jax.jit, static_argnums=0)
def text_accuracy_runs(graphdef, params_R, tokens_RxPxT, weights_RxPxT) -> jax.Array:
    """float32[R]: each run's token accuracy on its own text (`text_token_accuracy`), run by run."""
    return jax.lax.map(lambda run: text_token_accuracy(graphdef, *run), (params_R, tokens_RxPxT, weights_RxPxT))
