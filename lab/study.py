"""The cells of a study: a dataset under each condition, one cell per seed.

The seed draws the evaluation worlds and the fine-tuning batches; the pretrained
model is shared by all cells, and the fine-tuning runs of all cells given
together are one batched program.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import jax
import numpy as np

from lab.corpus import bucket_length
from lab.conditions import FinetuneConfig, finetune_worlds, ft_prompt, icl_prompt
from lab.datasets import Dataset
from lab.evaluate import option_logprobs, pack_choices, sequence_logprob
from lab.language import Language
from lab.results import ResultRow

CONDITIONS = ("icl", "ft")


@partial(jax.jit, static_argnums=0)
def _per_run_logprobs(graphdef, params_R, tokens_RxNxT, weights_RxNxT):
    return jax.vmap(sequence_logprob, in_axes=(None, 0, 0, 0))(graphdef, params_R, tokens_RxNxT, weights_RxNxT)


def _pack_split(lang: Language, dataset: Dataset, split: str, prompt_of, seq_len: int):
    """Per world: tokens/weights [items, options, T] and answers [items]."""
    longest = max(len(prompt_of(w)) + len(o) for w in dataset.worlds for c in w.tests[split] for o in c.options)
    length = bucket_length(longest, seq_len)
    packed = []
    for world in dataset.worlds:
        choices = world.tests[split]
        tokens, weights = pack_choices([prompt_of(world)] * len(choices), choices, length, lang.pad)
        packed.append((tokens, weights, np.array([c.answer for c in choices])))
    return packed


def icl_correct(graphdef, params, lang: Language, dataset: Dataset, split: str, seq_len: int) -> np.ndarray:
    """bool[items]: the pretrained model, the world's text in its prompt."""
    packed = _pack_split(lang, dataset, split, lambda w: icl_prompt(lang, w), seq_len)
    tokens, weights, answers = (np.concatenate(x) for x in zip(*packed))
    return option_logprobs(graphdef, params, tokens, weights).argmax(-1) == answers


def ft_correct(graphdef, world_params, lang: Language, dataset: Dataset, split: str, seq_len: int) -> np.ndarray:
    """bool[items]: each world's fine-tuned model, nothing in its prompt but the test."""
    packed = _pack_split(lang, dataset, split, lambda w: ft_prompt(lang), seq_len)
    tokens, weights, answers = (np.stack(x) for x in zip(*packed))
    r, n, o, t = tokens.shape
    logp = _per_run_logprobs(graphdef, world_params, tokens.reshape(r, n * o, t), weights.reshape(r, n * o, t))
    return (np.asarray(logp).reshape(r, n, o).argmax(-1) == answers).reshape(-1)


def run_cells(
    graphdef, params, lang: Language, datasets: Sequence[Dataset], seeds: Sequence[int],
    finetune: FinetuneConfig, seq_len: int,
) -> list[ResultRow]:
    """Accuracy of every split under every condition, for each (dataset, seed) pair.

    The worlds of all the datasets are fine-tuned together, one vmapped program.
    """
    pairs = list(zip(datasets, seeds, strict=True))
    worlds = [world for dataset, _ in pairs for world in dataset.worlds]
    run_seeds = [(seed, i) for dataset, seed in pairs for i in range(len(dataset.worlds))]
    world_params, _ = finetune_worlds(graphdef, params, lang, worlds, run_seeds, finetune, seq_len)
    rows, first = [], 0
    for dataset, seed in pairs:
        last = first + len(dataset.worlds)
        own_params = jax.tree.map(lambda x: x[first:last], world_params)
        rows += _cell_rows(graphdef, params, own_params, lang, dataset, seq_len, seed)
        first = last
    return rows


def run_cell(graphdef, params, lang: Language, dataset: Dataset, finetune: FinetuneConfig, seq_len: int, seed: int):
    """`run_cells` for one dataset and seed."""
    return run_cells(graphdef, params, lang, [dataset], [seed], finetune, seq_len)


def _cell_rows(graphdef, params, world_params, lang: Language, dataset: Dataset, seq_len: int, seed: int) -> list[ResultRow]:
    rows = []
    for split in dataset.splits:
        chance = dataset.worlds[0].tests[split][0].chance
        for condition, correct in (
            ("icl", icl_correct(graphdef, params, lang, dataset, split, seq_len)),
            ("ft", ft_correct(graphdef, world_params, lang, dataset, split, seq_len)),
        ):
            rows.append(ResultRow(dataset.name, split, condition, seed, float(correct.mean()), len(correct), chance))
    return rows
