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
from typing import Literal, Sequence

import numpy as np

from lab.batching import Examples, bucketed_examples
from lab.datasets import World
from lab.documents import bare_prompt, context_prompt, document
from lab.facts import Sentence
from lab.language import Language
from lab.train import OptimConfig, finetune_examples


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


def icl_prompt(lang: Language, world: World) -> list[int]:
    """The world's training text in context, then `so`."""
    return context_prompt(lang, world.sentences)


def ft_prompt(lang: Language) -> list[int]:
    """Nothing in context: a fine-tuned model is tested on the statement alone."""
    return bare_prompt(lang)


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
    return bucketed_examples(rows, [[1.0] * len(r) for r in rows], seq_len, lang.pad)


def split_documents(lang: Language, world: World, cumulative: bool, seq_len: int) -> Examples:
    """`ft_split`: one example per sentence; `cumulative` puts the sentences before it first, unweighted."""
    rows, weights = [], []
    for i, sentence in enumerate(world.sentences):
        context = [t for s in world.sentences[:i] for t in s] if cumulative else []
        rows.append([lang.bos, *context, *sentence, lang.eos])
        weights.append([0.0] * (1 + len(context)) + [1.0] * (len(sentence) + 1))
    return bucketed_examples(rows, weights, seq_len, lang.pad)


def augmented_documents(
    lang: Language, world: World, statements: Sequence[Sentence], orderings: int, seq_len: int, seed
) -> Examples:
    """`ft_aug_*`: the `ft` documents, then each augmentation statement as an example of its own."""
    docs, _ = finetuning_documents(lang, world, orderings, seq_len, seed)
    rows = [list(row[row != lang.pad]) for row in docs] + [[lang.bos, *s, lang.eos] for s in statements]
    return bucketed_examples(rows, [[1.0] * len(r) for r in rows], seq_len, lang.pad)


def finetune_worlds(
    graphdef, params, lang: Language, worlds: Sequence[World], run_seeds: Sequence[tuple[int, int]],
    config: FinetuneConfig, seq_len: int,
):
    """`ft`: fine-tune one copy of `params` per world on its text (`finetune_examples`)."""
    examples = [
        finetuning_documents(lang, world, config.orderings, seq_len, seed=list(run_seed))
        for world, run_seed in zip(worlds, run_seeds, strict=True)
    ]
    return finetune_examples(graphdef, params, lang.pad, examples, run_seeds, config.optim)
