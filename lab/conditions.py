"""The learning conditions: the same world text taught in context or by fine-tuning.

`icl`: the world's training sentences are the prompt (then the inference marker
`so`), and the test statement is scored after it; no weight changes.

`ft`: a copy of the pretrained model is fine-tuned on the world's sentences (one
document, its sentence order reshuffled per example so no fact is tied to a
position), then the test statement is scored with nothing before it. All worlds
of all seeds (independent runs) are fine-tuned at once, vmapped in one program.

The other fine-tuning conditions change only the examples, never the text's
content beyond what they add:
`ft_split`: each sentence its own example (or, `cumulative`, with the sentences
before it in its document as unweighted context);
`ft_aug_*`: the `ft` documents plus one example per augmentation statement
(written by the model itself or by rule, see `lab.augment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal, Sequence

import jax
import numpy as np
import optax

from lab.corpus import bucket_length, document, pad_rows
from lab.datasets import Dataset, World
from lab.facts import Sentence
from lab.devices import device_mesh, pad_runs, padded_runs, replicated, runs_sharding, unpad_runs
from lab.language import Language
from lab.train import OptimConfig, TrainState, init_train_state, make_optimizer, make_train_step


@dataclass(frozen=True)
class FinetuneConfig:
    optim: OptimConfig = OptimConfig(
        learning_rate=1e-3, steps=400, warmup_steps=20, batch_size=8, weight_decay=0.0, steps_per_dispatch=400
    )
    orderings: int = 16  # distinct sentence orders of the world text to draw batches from
    # ft_split: each sentence alone ("independent"), or after the sentences that
    # precede it in the world text, which are context without loss ("cumulative").
    split: Literal["independent", "cumulative"] = "independent"

    def __post_init__(self):
        if self.orderings < 1:
            raise ValueError(f"finetune.orderings must be >= 1, got {self.orderings}")
        if self.split not in ("independent", "cumulative"):
            raise ValueError(f"finetune.split must be 'independent' or 'cumulative', got {self.split!r}")


def context_prompt(lang: Language, sentences) -> list[int]:
    """`<bos> SENTENCE ... so`: the sentences in context, the inference marker last."""
    return [lang.bos, *(t for s in sentences for t in s), lang.id("so")]


def icl_prompt(lang: Language, world: World) -> list[int]:
    return context_prompt(lang, world.sentences)


def ft_prompt(lang: Language) -> list[int]:
    return [lang.bos]


Examples = tuple[np.ndarray, np.ndarray]
"""A fine-tuning run's examples: tokens int32[P, T] and loss weights float32[P, T]."""


def finetuning_documents(lang: Language, world: World, orderings: int, seq_len: int, seed) -> Examples:
    """`ft`: the world's text in `orderings` sentence orders, loss on every token.

    T is the text's length rounded up to a bucket (at most `seq_len`).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(orderings):
        order = range(len(world.sentences)) if i == 0 else rng.permutation(len(world.sentences))
        tokens, _ = document(lang, [world.sentences[j] for j in order], marker=False)
        rows.append(tokens)
    return _examples(lang, rows, [[1.0] * len(r) for r in rows], seq_len)


def split_documents(lang: Language, world: World, cumulative: bool, seq_len: int) -> Examples:
    """`ft_split`: one example per sentence; `cumulative` puts the sentences before it first, unweighted."""
    rows, weights = [], []
    for i, sentence in enumerate(world.sentences):
        context = [t for s in world.sentences[:i] for t in s] if cumulative else []
        rows.append([lang.bos, *context, *sentence, lang.eos])
        weights.append([0.0] * (1 + len(context)) + [1.0] * (len(sentence) + 1))
    return _examples(lang, rows, weights, seq_len)


def augmented_documents(
    lang: Language, world: World, statements: Sequence[Sentence], orderings: int, seq_len: int, seed
) -> Examples:
    """`ft_aug_*`: the `ft` documents, then each augmentation statement as an example of its own."""
    docs, _ = finetuning_documents(lang, world, orderings, seq_len, seed)
    rows = [list(row[row != lang.pad]) for row in docs] + [[lang.bos, *s, lang.eos] for s in statements]
    return _examples(lang, rows, [[1.0] * len(r) for r in rows], seq_len)


def _examples(lang: Language, rows, weights, seq_len: int) -> Examples:
    length = bucket_length(max(map(len, rows)), seq_len)
    return pad_rows(rows, length, lang.pad, np.int32), pad_rows(weights, length, 0.0, np.float32)


def make_finetune(graphdef, optimizer: optax.GradientTransformation, config: OptimConfig):
    """Pure `(params, docs[P,T], weights[P,T], n_docs, key) -> (params, losses[steps])`.

    Each step trains on `batch_size` documents drawn (on device, from `key`) from
    the first `n_docs` of the P given ones (the rest is padding, so runs with
    different numbers of examples share one program); vmap it over runs.
    """
    step = make_train_step(graphdef, optimizer)

    def finetune(params, docs_PxT, weights_PxT, n_docs, key):
        def sampled_step(state: TrainState, _):
            key, draw = jax.random.split(state.key)
            idx_B = jax.random.randint(draw, (config.batch_size,), 0, n_docs)
            return step(state._replace(key=key), (docs_PxT[idx_B], weights_PxT[idx_B]))

        state, losses = jax.lax.scan(sampled_step, init_train_state(optimizer, params, key), None, length=config.steps)
        return state.params, losses

    return finetune


def finetune_runs(graphdef, optim: OptimConfig, params, docs_RxPxT, weights_RxPxT, keys_R, n_docs_R=None):
    """Fine-tune R independent copies of `params`, one per row of data and key.

    Run r draws its batches from its first `n_docs_R[r]` documents (all P if None).
    Returns the per-run parameters (leading axis R) and losses [R, optim.steps].
    The runs are split across all devices (`lab.devices`), any R: the runs axis is
    padded with copies of the last run to a multiple of the device count and the
    copies dropped after (then the results are gathered onto every device; else
    they stay split by run). Compiled once per (model, optimizer config, data shape).
    """
    mesh = device_mesh()
    runs, n_docs = docs_RxPxT.shape[0], docs_RxPxT.shape[1]
    n_docs_R = np.full(runs, n_docs, np.int32) if n_docs_R is None else np.asarray(n_docs_R, np.int32)
    per_run = pad_runs((docs_RxPxT, weights_RxPxT, n_docs_R, keys_R), padded_runs(runs, mesh))
    params_R, losses_RxS = _finetune_padded_runs(
        graphdef, optim, jax.device_put(params, replicated(mesh)), *jax.device_put(per_run, runs_sharding(mesh))
    )
    return unpad_runs((params_R, losses_RxS), runs)


@partial(jax.jit, static_argnums=(0, 1))
def _finetune_padded_runs(graphdef, optim: OptimConfig, params, docs_RxPxT, weights_RxPxT, n_docs_R, keys_R):
    # The optimizer is built at trace time: its parameter labels depend only on the parameter tree.
    finetune = make_finetune(graphdef, make_optimizer(optim, params), optim)
    return jax.vmap(finetune, in_axes=(None, 0, 0, 0, 0))(params, docs_RxPxT, weights_RxPxT, n_docs_R, keys_R)


def finetune_examples(
    graphdef, params, lang: Language, examples: Sequence[Examples], run_seeds: Sequence[tuple[int, int]],
    optim: OptimConfig,
):
    """Fine-tune one copy of `params` per run on its examples, all in one vmapped program.

    Runs may differ in their number and length of examples: they are padded to a
    common shape and each run samples only its own. `run_seeds[i]` (a dataset seed
    and the world's index in its dataset) seeds run i's batches alone, so a run's
    result does not depend on which other runs share its program.

    Returns the per-run parameters (leading axis = run) and losses [run, step].
    """
    n_docs_R = np.array([tokens.shape[0] for tokens, _ in examples], np.int32)
    length = max(tokens.shape[1] for tokens, _ in examples)

    def stacked(index: int, fill) -> np.ndarray:
        return np.stack([
            np.pad(ex[index], ((0, n_docs_R.max() - ex[index].shape[0]), (0, length - ex[index].shape[1])), constant_values=fill)
            for ex in examples
        ])

    keys_R = jax.numpy.stack([run_key(*s) for s in run_seeds])
    return finetune_runs(graphdef, optim, params, stacked(0, lang.pad), stacked(1, 0.0), keys_R, n_docs_R)


def finetune_worlds(
    graphdef, params, lang: Language, worlds: Sequence[World], run_seeds: Sequence[tuple[int, int]],
    config: FinetuneConfig, seq_len: int,
):
    """`ft`: fine-tune one copy of `params` per world on its text (`finetune_examples`)."""
    examples = [
        finetuning_documents(lang, world, config.orderings, seq_len, seed=list(run_seed))
        for world, run_seed in zip(worlds, run_seeds, strict=True)
    ]
    return finetune_examples(graphdef, params, lang, examples, run_seeds, config.optim)


def run_key(seed: int, world_index: int) -> jax.Array:
    """The fine-tuning batch key of one world of one dataset seed."""
    return jax.random.fold_in(jax.random.key(seed), world_index)
