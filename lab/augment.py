"""Augmentations: statements added to a world's fine-tuning text.

The pretrained model writes them itself, reasoning in context exactly as it does
in the `icl` condition: it reads a prompt ending in the inference marker `so` and
continues. What it writes is parsed into statements and checked against the
world's ground truth (`entailed_sentences`).

- `local`: each training sentence alone in context; the model writes what
  follows from that sentence (its restatements and reversals).
- `global`: the whole training text in context (our worlds fit it); the model
  writes inferences that may combine sentences (syllogistic conclusions).
- `oracle`: written by rule from the ground truth, every statement the world's
  facts entail that is not already a training sentence: the upper bound.

Greedy decoding writes one continuation per prompt. The pretraining documents
state a fact's restatement or its reversal with equal odds, so by default the
model *samples* a few continuations per prompt, as one would ask a large model
several times, and their distinct statements are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import jax

from lab.datasets import World
from lab.documents import context_prompt
from lab.evaluate import decode
from lab.facts import Sentence, entailed_sentences
from lab.language import Language

KINDS = ("local", "global", "oracle")


@dataclass(frozen=True)
class AugmentConfig:
    """How the model writes its augmentations."""

    decoding: Literal["sample", "greedy"] = "sample"
    # Continuations per prompt when sampling: each writes a restatement or a reversal at
    # about even odds, so a few are needed for a world's reversals to be written at all.
    samples: int = 16
    # Below 1, so that the model writes what it is sure of rather than recombined names.
    temperature: float = 0.5
    max_new_tokens: int = 40  # capped by what fits after the longest prompt
    # Invalid statements (not entailed by the world) are kept by default, as the
    # model wrote them: the condition measures the model's own reasoning.
    keep_invalid: bool = True
    seed: int = 0  # sampling key, folded with the dataset seed

    def __post_init__(self):
        if self.decoding not in ("sample", "greedy"):
            raise ValueError(f"augment.decoding must be 'sample' or 'greedy', got {self.decoding!r}")
        if self.samples < 1:
            raise ValueError(f"augment.samples must be >= 1, got {self.samples}")
        if not 0 < self.temperature < math.inf:  # also refuses NaN; unused when greedy
            raise ValueError(f"augment.temperature must be > 0 and finite, got {self.temperature}")
        if self.max_new_tokens < 1:
            raise ValueError(f"augment.max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass(frozen=True)
class Augmentation:
    """What was added to one world's fine-tuning text."""

    statements: tuple[Sentence, ...]  # distinct, in the order written; the ones fine-tuning uses
    written: int  # distinct statements the model wrote (before any filtering)
    valid: int  # of those, how many the world's facts entail


def parse_statements(lang: Language, tokens: Sequence[int]) -> list[Sentence]:
    """The complete sentences of a continuation, up to its first <eos>.

    A sentence is everything up to and including a "."; an unfinished tail (the
    token budget ran out) and special tokens end the parse.
    """
    stop = {lang.eos, lang.pad, lang.bos}
    period = lang.id(".")
    statements, current = [], []
    for t in (int(t) for t in tokens):
        if t in stop:
            break
        current.append(t)
        if t == period:
            if len(current) > 1:
                statements.append(tuple(current))
            current = []
    return statements


def oracle_augmentation(lang: Language, world: World) -> Augmentation:
    """Every statement the world's facts entail, minus its training sentences, in a fixed order."""
    new = sorted(entailed_sentences(lang, world.facts) - set(world.sentences))
    return Augmentation(tuple(new), len(new), len(new))


def prompts_for(lang: Language, world: World, kind: str) -> list[list[int]]:
    if kind == "local":
        return [context_prompt(lang, [sentence]) for sentence in world.sentences]
    if kind == "global":
        return [context_prompt(lang, world.sentences)]
    raise ValueError(f"the model writes 'local' or 'global' augmentations, not {kind!r}")


def model_augmentations(
    graphdef, params, lang: Language, worlds: Sequence[World], kind: str, config: AugmentConfig,
    seq_len: int, seed: int,
) -> list[Augmentation]:
    """Per world, the statements the model writes from `kind` prompts (one decode call for all)."""
    per_world = [prompts_for(lang, w, kind) for w in worlds]
    copies = config.samples if config.decoding == "sample" else 1
    prompts = [p for prompts in per_world for p in prompts for _ in range(copies)]
    max_new = min(config.max_new_tokens, seq_len - max(map(len, prompts)))
    if max_new < 1:
        raise ValueError(f"a {kind} augmentation prompt fills model.seq_len={seq_len}; use smaller worlds")
    temperature = config.temperature if config.decoding == "sample" else 0.0
    key = jax.random.fold_in(jax.random.key(config.seed), seed)
    written = decode(graphdef, params, prompts, max_new, seq_len, lang.pad, temperature, key, eos=lang.eos)
    out, row = [], 0
    for world, prompts in zip(worlds, per_world):
        statements: dict[Sentence, None] = {}  # distinct, in order
        for continuation in written[row : row + len(prompts) * copies]:
            statements.update(dict.fromkeys(parse_statements(lang, continuation)))
        row += len(prompts) * copies
        truths = entailed_sentences(lang, world.facts)
        valid = [s for s in statements if s in truths]
        kept = tuple(statements) if config.keep_invalid else tuple(valid)
        out.append(Augmentation(kept, len(statements), len(valid)))
    return out


def augmentations(
    graphdef, params, lang: Language, worlds: Sequence[World], kind: str, config: AugmentConfig,
    seq_len: int, seed: int,
) -> list[Augmentation]:
    """Per world, the `kind` augmentation (`local`, `global` or `oracle`)."""
    if kind == "oracle":
        return [oracle_augmentation(lang, w) for w in worlds]
    return model_augmentations(graphdef, params, lang, worlds, kind, config, seq_len, seed)
