"""Wall-clock measurements of compiled work: matmul peak, train throughput, batched runs.

Every timing waits for the device (`jax.block_until_ready`) and excludes the first
call of each compiled function, which compiles it or warms its buffers. Times are
`time.perf_counter` seconds. Nothing here decides what a good number is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lab.evaluate import decode
from lab.model import ModelConfig, init_model
from lab.train import OptimConfig, data_parallel_training, finetune_runs


def seconds(fn: Callable, *args):
    """(seconds until `fn(*args)` is done on the device, its result)."""
    start = time.perf_counter()
    result = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, result


def matmul_peak_flops(size: int, repeats: int) -> float:
    """Best FLOP/s of a jitted float32 [size, size] @ [size, size] over `repeats` calls.

    The achievable ceiling the model's FLOP/s are compared with: the same backend,
    threads and dtype, but one matmul big enough to keep every core busy.
    """
    a, b = (jax.random.normal(jax.random.key(i), (size, size), jnp.float32) for i in range(2))
    matmul = jax.jit(jnp.matmul)
    seconds(matmul, a, b)
    best = min(seconds(matmul, a, b)[0] for _ in range(repeats))
    return 2 * size**3 / best


@dataclass(frozen=True)
class TrainTiming:
    compile_seconds: float  # lowering and compiling the scanned train chunk
    dispatch_seconds: tuple[float, ...]  # one entry per timed chunk of `steps_per_dispatch` steps


def compiled_train_chunk(model: ModelConfig, optim: OptimConfig, seed: int):
    """(compiled chunk, state, tokens, weights, compile seconds) of `pretrain`'s scanned train chunk.

    The batch is split over all devices and the state donated, as in pretraining.
    Tokens are uniform random ints, int32[steps_per_dispatch, batch_size, model.seq_len],
    already on the devices: the cost of building batches is not the train step's.
    """
    graphdef, params = init_model(model, seed)
    state, chunk, data = data_parallel_training(graphdef, params, optim, field="batch_size")
    shape = (optim.steps_per_dispatch, optim.batch_size, model.seq_len)
    tokens_SxBxT = jax.device_put(np.random.default_rng(seed).integers(0, model.vocab_size, shape, dtype=np.int32), data)
    weights_SxBxT = jax.device_put(np.ones(shape, np.float32), data)
    start = time.perf_counter()
    compiled = chunk.lower(state, tokens_SxBxT, weights_SxBxT).compile()
    return compiled, state, tokens_SxBxT, weights_SxBxT, time.perf_counter() - start


def time_train_chunk(model: ModelConfig, optim: OptimConfig, dispatches: int, seed: int) -> TrainTiming:
    """Compile `pretrain`'s train chunk (`compiled_train_chunk`) and time `dispatches` calls after a warm-up."""
    compiled, state, tokens_SxBxT, weights_SxBxT, compile_seconds = compiled_train_chunk(model, optim, seed)
    _, (state, _) = seconds(compiled, state, tokens_SxBxT, weights_SxBxT)
    times = []
    for _ in range(dispatches):
        elapsed, (state, _) = seconds(compiled, state, tokens_SxBxT, weights_SxBxT)
        times.append(elapsed)
    return TrainTiming(compile_seconds, tuple(times))


@dataclass(frozen=True)
class FinetuneTiming:
    runs: int
    sequential_seconds: float  # `runs` calls of one run each, one after another
    batched_seconds: float  # one call that vmaps over all `runs`


def time_finetune_runs(
    model: ModelConfig, optim: OptimConfig, runs: int, docs: int, doc_len: int, seed: int
) -> FinetuneTiming:
    """Time `runs` fine-tuning runs of the lab's `finetune_runs`, one by one and batched.

    Each run gets its own `docs` random documents int32[docs, doc_len] and its own
    batch key. Both ways are compiled and run once before the clock starts.
    """
    graphdef, params = init_model(model, seed)
    rng = np.random.default_rng(seed)
    docs_RxPxT = jnp.asarray(rng.integers(0, model.vocab_size, (runs, docs, doc_len)), jnp.int32)
    weights_RxPxT = jnp.ones(docs_RxPxT.shape, jnp.float32)
    keys_R = jax.random.split(jax.random.key(seed), runs)

    # Sliced before the clock starts: each sequential call sees only its run's R=1 arrays.
    singles = [(docs_RxPxT[r : r + 1], weights_RxPxT[r : r + 1], keys_R[r : r + 1]) for r in range(runs)]

    def run(docs_RxPxT, weights_RxPxT, keys_R):
        return finetune_runs(graphdef, optim, params, docs_RxPxT, weights_RxPxT, keys_R)

    seconds(run, *singles[0])
    sequential = sum(seconds(run, *single)[0] for single in singles)
    seconds(run, docs_RxPxT, weights_RxPxT, keys_R)
    batched, _ = seconds(run, docs_RxPxT, weights_RxPxT, keys_R)
    return FinetuneTiming(runs, sequential, batched)


@dataclass(frozen=True)
class DecodeTiming:
    tokens: int  # new tokens written per call (prompts × new tokens)
    cached_seconds: float
    recomputing_seconds: float
    identical: bool  # whether both wrote the same tokens


def time_decoding(model: ModelConfig, prompts: int, prompt_len: int, new_tokens: int, seed: int) -> DecodeTiming:
    """Greedy decoding of `prompts` random prompts, with the key/value cache and recomputing every prefix.

    Prompt lengths vary from half of `prompt_len` to all of it, as a study's do; no
    row ends early (no end token is given), so both ways write every token. Each
    way has an untimed warm-up call (its compile).
    """
    graphdef, params = init_model(model, seed)
    rng = np.random.default_rng(seed)
    rows = [rng.integers(3, model.vocab_size, int(rng.integers(prompt_len // 2, prompt_len + 1))).tolist()
            for _ in range(prompts)]

    def run(cache: bool):
        return decode(graphdef, params, rows, new_tokens, model.seq_len, pad=0, cache=cache)

    timings = {}
    for cache in (True, False):
        run(cache)
        timings[cache] = seconds(run, cache)
    (cached_s, cached), (recomputing_s, recomputed) = timings[True], timings[False]
    return DecodeTiming(prompts * new_tokens, cached_s, recomputing_s, bool(np.array_equal(cached, recomputed)))
