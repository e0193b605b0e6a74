"""The cells of a study: a dataset under each condition, one cell per seed.

The seed draws the evaluation worlds and the fine-tuning batches; the pretrained
model is shared by all cells, and the fine-tuning runs of all cells given
together are one batched program.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Mapping, Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from lab.corpus import bucket_length
from lab.augment import AugmentConfig, augmentations
from lab.conditions import (
    FinetuneConfig, augmented_documents, finetune_examples, finetuning_documents, ft_prompt, icl_prompt, split_documents,
)
from lab.datasets import Dataset
from lab.evaluate import option_logprobs, pack_choices, sequence_logprob
from lab.language import Language
from lab.results import ResultRow, ResultsTable

CONDITIONS = ("icl", "ft", "ft_split", "ft_aug_local", "ft_aug_global", "ft_aug_oracle")
AUGMENTATION = {"ft_aug_local": "local", "ft_aug_global": "global", "ft_aug_oracle": "oracle"}


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
    """bool[items]: each world's fine-tuned model, nothing in its prompt but the test.

    Worlds may hold different numbers of items: each is padded to the largest with
    empty rows, whose scores are dropped.
    """
    packed = _pack_split(lang, dataset, split, lambda w: ft_prompt(lang), seq_len)
    n = max(len(answers) for _, _, answers in packed)
    padded = [(np.pad(t, ((0, n - len(a)), (0, 0), (0, 0))), np.pad(w, ((0, n - len(a)), (0, 0), (0, 0))), a) for t, w, a in packed]
    tokens, weights = np.stack([p[0] for p in padded]), np.stack([p[1] for p in padded])
    r, _, o, t = tokens.shape
    logp = _per_run_logprobs(graphdef, world_params, tokens.reshape(r, n * o, t), weights.reshape(r, n * o, t))
    choices = np.asarray(logp).reshape(r, n, o).argmax(-1)
    return np.concatenate([choices[i, : len(a)] == a for i, (_, _, a) in enumerate(packed)])


def run_cells(
    graphdef, params, lang: Language, datasets: Sequence[Dataset], seeds: Sequence[int],
    finetune: FinetuneConfig, seq_len: int, conditions: Sequence[str] = CONDITIONS,
    augment: AugmentConfig = AugmentConfig(),
) -> list[ResultRow]:
    """Accuracy of every split under each condition, for each (dataset, seed) pair.

    Per fine-tuning condition, the worlds of all the datasets are fine-tuned
    together, one vmapped program. Rows come ordered by pair, split, condition.
    """
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown conditions {sorted(unknown)}; choose from {CONDITIONS}")
    pairs = list(zip(datasets, seeds, strict=True))
    rows = []
    for condition in conditions:
        if condition == "icl":
            for dataset, seed in pairs:
                rows += _rows(dataset, seed, condition, lambda split, d=dataset: icl_correct(graphdef, params, lang, d, split, seq_len))
            continue
        examples, notes = [], []
        for dataset, seed in pairs:
            ex, note = _finetuning_examples(graphdef, params, lang, dataset, seed, condition, finetune, augment, seq_len)
            examples += ex
            notes.append(note)
        run_seeds = [(seed, i) for dataset, seed in pairs for i in range(len(dataset.worlds))]
        world_params, _ = finetune_examples(graphdef, params, lang, examples, run_seeds, finetune.optim)
        first = 0
        for (dataset, seed), note in zip(pairs, notes):
            last = first + len(dataset.worlds)
            own = jax.tree.map(lambda x: x[first:last], world_params)
            rows += _rows(dataset, seed, condition, lambda split, d=dataset, own=own: ft_correct(graphdef, own, lang, d, split, seq_len), note)
            first = last
    order = {(d.name, s): i for i, (d, s) in enumerate(pairs)}
    split_order = {(d.name, split): i for d, _ in pairs for i, split in enumerate(d.splits)}
    return sorted(rows, key=lambda r: (order[r.dataset, r.seed], split_order[r.dataset, r.split], CONDITIONS.index(r.condition)))


def run_pending_cells(
    graphdef, params, lang: Language, table: ResultsTable, builders: Mapping[str, Callable[[int], Dataset]],
    seeds: Sequence[int], conditions: Sequence[str], finetune: FinetuneConfig, seq_len: int,
    augment: AugmentConfig = AugmentConfig(), progress: bool = True,
) -> None:
    """Every (dataset, condition) cell of `builders` × `conditions` not yet in `table`.

    A cell runs all its pending seeds in one batched program and is written to
    `table` when it ends, so an interrupted run resumes at the first unfinished cell.
    """
    cells = [(name, condition) for name in builders for condition in conditions]
    for name, condition in tqdm(cells, desc="cells", disable=not progress):
        pending = [seed for seed in seeds if not table.has(name, seed, condition)]  # the rest is done
        if pending:
            datasets = [builders[name](seed) for seed in pending]
            table.add(run_cells(graphdef, params, lang, datasets, pending, finetune, seq_len,
                                conditions=(condition,), augment=augment))


def run_cell(graphdef, params, lang: Language, dataset: Dataset, finetune: FinetuneConfig, seq_len: int, seed: int, **kwargs):
    """`run_cells` for one dataset and seed."""
    return run_cells(graphdef, params, lang, [dataset], [seed], finetune, seq_len, **kwargs)


def _finetuning_examples(graphdef, params, lang, dataset: Dataset, seed: int, condition: str,
                         finetune: FinetuneConfig, augment: AugmentConfig, seq_len: int):
    """Per world, the examples `condition` fine-tunes on; and what augmentation added (a dict for the rows)."""
    worlds = dataset.worlds
    if condition == "ft":
        return [finetuning_documents(lang, w, finetune.orderings, seq_len, [seed, i]) for i, w in enumerate(worlds)], {}
    if condition == "ft_split":
        return [split_documents(lang, w, finetune.split == "cumulative", seq_len) for w in worlds], {}
    augs = augmentations(graphdef, params, lang, worlds, AUGMENTATION[condition], augment, seq_len, seed)
    examples = [
        augmented_documents(lang, w, a.statements, finetune.orderings, seq_len, [seed, i])
        for i, (w, a) in enumerate(zip(worlds, augs))
    ]
    written = sum(a.written for a in augs)
    note = {"n_augmentations": sum(len(a.statements) for a in augs),
            "valid_share": sum(a.valid for a in augs) / written if written else None}
    return examples, note


def _rows(dataset: Dataset, seed: int, condition: str, correct_of, note: dict | None = None) -> list[ResultRow]:
    rows = []
    for split in dataset.splits:
        correct = correct_of(split)
        chance = dataset.worlds[0].tests[split][0].chance
        rows.append(ResultRow(dataset.name, split, condition, seed, float(correct.mean()), len(correct), chance, **(note or {})))
    return rows
