"""The cells of a study: a dataset under each condition, one cell per seed.

The seed draws the evaluation worlds and the fine-tuning batches; the pretrained
model is shared by all cells, and the fine-tuning runs of all cells given
together are one batched program. Every fine-tuning run is checked: a NaN or
infinite loss stops the study at once, and each row records how well its runs
learned their own training text, so a run that did not learn it is not taken
for a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from lab.augment import AugmentConfig, augmentations
from lab.batching import bucket_length, stack_examples
from lab.conditions import (
    FinetuneConfig, augmented_documents, finetuning_documents, ft_prompt, icl_prompt, split_documents,
)
from lab.datasets import Dataset
from lab.evaluate import option_logprobs, pack_choices, sequence_logprob, text_accuracy_runs
from lab.language import Language
from lab.train import finetune_runs, run_key

CONDITIONS = ("icl", "ft", "ft_split", "ft_aug_local", "ft_aug_global", "ft_aug_oracle")
AUGMENTATION = {"ft_aug_local": "local", "ft_aug_global": "global", "ft_aug_oracle": "oracle"}
# A fine-tuning run learned its text if its training loss fell to at most this share of its first.
LEARNED_LOSS_RATIO = 0.5
FINAL_LOSS_STEPS = 20  # the final loss is the mean of the last steps: one batch is noisy


@dataclass(frozen=True)
class ResultRow:
    """The accuracy of one dataset × split × condition × seed, and how its fine-tuning went."""

    dataset: str
    split: str
    condition: str
    seed: int
    accuracy: float
    n_items: int
    chance: float
    # Augmented fine-tuning only: statements added to the seed's worlds, and the
    # share of the model-written ones that its world's facts entail.
    n_augmentations: int = 0
    valid_share: float | None = None  # None where the model wrote nothing
    # Fine-tuning only, over the seed's runs (one per world): mean final training loss,
    # mean token accuracy on their own training text, runs that did not learn it.
    final_loss: float | None = None
    text_accuracy: float | None = None
    unlearned_runs: int = 0


class CellStore(Protocol):
    """Where finished cells go (`lab.results.ResultsTable`)."""

    def has(self, dataset: str, seed: int, condition: str | None = None) -> bool: ...

    def add(self, rows: list[ResultRow]) -> None: ...


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


def check_runs_finite(losses_RxS: np.ndarray, runs: Sequence[str]) -> None:
    """Raise at the first run whose loss went NaN or infinite, naming it (`runs[r]`) and the step."""
    bad = ~np.isfinite(losses_RxS)
    if bad.any():
        r = int(np.flatnonzero(bad.any(axis=1))[0])
        step = int(np.flatnonzero(bad[r])[0])
        raise FloatingPointError(
            f"fine-tuning diverged: {runs[r]}: training loss {losses_RxS[r, step]} at step {step}; lower "
            "--finetune.optim.learning-rate or raise --finetune.optim.warmup-steps. Cells finished before "
            "this one are kept; this one was not written."
        )


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
        tokens_RxPxT, weights_RxPxT, n_examples_R = stack_examples(examples, lang.pad)
        keys_R = jnp.stack([run_key(*s) for s in run_seeds])
        world_params, losses_RxS = finetune_runs(graphdef, finetune.optim, params, tokens_RxPxT, weights_RxPxT, keys_R,
                                                 n_examples_R)
        losses_RxS = np.asarray(losses_RxS)
        check_runs_finite(losses_RxS, [f"{condition} on {d.name}, seed {s}, world {i}" for d, s in pairs for i in range(len(d.worlds))])
        text_accuracy_R = np.asarray(text_accuracy_runs(graphdef, world_params, tokens_RxPxT, weights_RxPxT))
        final_loss_R = losses_RxS[:, -FINAL_LOSS_STEPS:].mean(axis=1)
        learned_R = final_loss_R <= LEARNED_LOSS_RATIO * losses_RxS[:, 0]
        first = 0
        for (dataset, seed), note in zip(pairs, notes):
            own = slice(first, first + len(dataset.worlds))
            note |= {"final_loss": float(final_loss_R[own].mean()), "text_accuracy": float(text_accuracy_R[own].mean()),
                     "unlearned_runs": int((~learned_R[own]).sum())}
            own_params = jax.tree.map(lambda x: x[own], world_params)
            rows += _rows(dataset, seed, condition, lambda split, d=dataset, p=own_params: ft_correct(graphdef, p, lang, d, split, seq_len), note)
            first = own.stop
    order = {(d.name, s): i for i, (d, s) in enumerate(pairs)}
    split_order = {(d.name, split): i for d, _ in pairs for i, split in enumerate(d.splits)}
    return sorted(rows, key=lambda r: (order[r.dataset, r.seed], split_order[r.dataset, r.split], CONDITIONS.index(r.condition)))


def run_pending_cells(
    graphdef, params, lang: Language, table: CellStore, builders: Mapping[str, Callable[[int], Dataset]],
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
