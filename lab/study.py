"""One cell of a study: a dataset under each condition, for one seed.

The seed draws the evaluation worlds and the fine-tuning batches; the pretrained
model is shared by all cells.
"""

from __future__ import annotations

from functools import partial

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


def run_cell(
    graphdef, params, lang: Language, dataset: Dataset, finetune: FinetuneConfig, seq_len: int, seed: int
) -> list[ResultRow]:
    """Accuracy of every split under every condition for one dataset and seed."""
    world_params, _ = finetune_worlds(graphdef, params, lang, dataset.worlds, finetune, seq_len, seed)
    rows = []
    for split in dataset.splits:
        chance = dataset.worlds[0].tests[split][0].chance
        for condition, correct in (
            ("icl", icl_correct(graphdef, params, lang, dataset, split, seq_len)),
            ("ft", ft_correct(graphdef, world_params, lang, dataset, split, seq_len)),
        ):
            rows.append(ResultRow(dataset.name, split, condition, seed, float(correct.mean()), len(correct), chance))
    return rows
