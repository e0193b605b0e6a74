"""The learning conditions: the same world text taught in context or by fine-tuning.

`icl`: the world's training sentences are the prompt (then the inference marker
`so`), and the test statement is scored after it; no weight changes.

`ft`: a copy of the pretrained model is fine-tuned on the world's sentences (one
document, its sentence order reshuffled per example so no fact is tied to a
position), then the test statement is scored with nothing before it. All worlds
of all seeds (independent runs) are fine-tuned at once, vmapped in one program.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Sequence

import jax
import numpy as np
import optax

from lab.corpus import bucket_length, document, pad_rows
from lab.datasets import Dataset, World
from lab.devices import device_mesh, pad_runs, padded_runs, replicated, runs_sharding, unpad_runs
from lab.language import Language
from lab.train import OptimConfig, TrainState, init_train_state, make_optimizer, make_train_step


@dataclass(frozen=True)
class FinetuneConfig:
    optim: OptimConfig = OptimConfig(
        learning_rate=1e-3, steps=400, warmup_steps=20, batch_size=8, weight_decay=0.0, steps_per_dispatch=400
    )
    orderings: int = 16  # distinct sentence orders of the world text to draw batches from

    def __post_init__(self):
        if self.orderings < 1:
            raise ValueError(f"finetune.orderings must be >= 1, got {self.orderings}")


def icl_prompt(lang: Language, world: World) -> list[int]:
    return [lang.bos, *(t for s in world.sentences for t in s), lang.id("so")]


def ft_prompt(lang: Language) -> list[int]:
    return [lang.bos]


def finetuning_documents(lang: Language, world: World, orderings: int, seq_len: int, seed):
    """The world's text in `orderings` sentence orders: int32/float32[orderings, length].

    `length` is the text's length rounded up to a bucket (at most `seq_len`).

    Loss on every token: fine-tuning learns the text itself.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(orderings):
        order = range(len(world.sentences)) if i == 0 else rng.permutation(len(world.sentences))
        tokens, _ = document(lang, [world.sentences[j] for j in order], marker=False)
        rows.append(tokens)
    tokens = pad_rows(rows, bucket_length(max(map(len, rows)), seq_len), lang.pad, np.int32)
    return tokens, (tokens != lang.pad).astype(np.float32)


def make_finetune(graphdef, optimizer: optax.GradientTransformation, config: OptimConfig):
    """Pure `(params, docs[P,T], weights[P,T], key) -> (params, losses[steps])`.

    Each step trains on `batch_size` documents drawn (on device, from `key`) from the
    P given ones; vmap it over runs to fine-tune many worlds/seeds at once.
    """
    step = make_train_step(graphdef, optimizer)

    def finetune(params, docs_PxT, weights_PxT, key):
        def sampled_step(state: TrainState, _):
            key, draw = jax.random.split(state.key)
            idx_B = jax.random.randint(draw, (config.batch_size,), 0, docs_PxT.shape[0])
            return step(state._replace(key=key), (docs_PxT[idx_B], weights_PxT[idx_B]))

        state, losses = jax.lax.scan(sampled_step, init_train_state(optimizer, params, key), None, length=config.steps)
        return state.params, losses

    return finetune


def finetune_runs(graphdef, optim: OptimConfig, params, docs_RxPxT, weights_RxPxT, keys_R):
    """Fine-tune R independent copies of `params`, one per row of data and key.

    Returns the per-run parameters (leading axis R) and losses [R, optim.steps].
    The runs are split across all devices (`lab.devices`), any R: the runs axis is
    padded with copies of the last run to a multiple of the device count and the
    copies dropped after (then the results are gathered onto every device; else
    they stay split by run). Compiled once per (model, optimizer config, data shape).
    """
    mesh = device_mesh()
    runs = docs_RxPxT.shape[0]
    per_run = pad_runs((docs_RxPxT, weights_RxPxT, keys_R), padded_runs(runs, mesh))
    params_R, losses_RxS = _finetune_padded_runs(
        graphdef, optim, jax.device_put(params, replicated(mesh)), *jax.device_put(per_run, runs_sharding(mesh))
    )
    return unpad_runs((params_R, losses_RxS), runs)


@partial(jax.jit, static_argnums=(0, 1))
def _finetune_padded_runs(graphdef, optim: OptimConfig, params, docs_RxPxT, weights_RxPxT, keys_R):
    # The optimizer is built at trace time: its parameter labels depend only on the parameter tree.
    finetune = make_finetune(graphdef, make_optimizer(optim, params), optim)
    return jax.vmap(finetune, in_axes=(None, 0, 0, 0))(params, docs_RxPxT, weights_RxPxT, keys_R)


def finetune_worlds(
    graphdef, params, lang: Language, worlds: Sequence[World], run_seeds: Sequence[tuple[int, int]],
    config: FinetuneConfig, seq_len: int,
):
    """Fine-tune one copy of `params` per world, all in one vmapped program.

    `run_seeds[i]` (a dataset seed and the world's index in its dataset) seeds the
    sentence orders and the batches of run i alone, so a run's result does not
    depend on which other runs share its program.

    Returns the per-world parameters (leading axis = world) and losses [world, step].
    """
    docs = [
        finetuning_documents(lang, world, config.orderings, seq_len, seed=list(run_seed))
        for world, run_seed in zip(worlds, run_seeds, strict=True)
    ]
    length = max(d[0].shape[1] for d in docs)
    docs_RxPxT = np.stack([np.pad(d[0], ((0, 0), (0, length - d[0].shape[1])), constant_values=lang.pad) for d in docs])
    weights_RxPxT = (docs_RxPxT != lang.pad).astype(np.float32)
    keys_R = jax.numpy.stack([run_key(*s) for s in run_seeds])
    return finetune_runs(graphdef, config.optim, params, docs_RxPxT, weights_RxPxT, keys_R)


def run_key(seed: int, world_index: int) -> jax.Array:
    """The fine-tuning batch key of one world of one dataset seed."""
    return jax.random.fold_in(jax.random.key(seed), world_index)
