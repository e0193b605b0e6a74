"""Which in-context lookups has the pretrained model learned?

For worlds of identity facts about held-out names, all stated one way (name-first
or description-first), the model is prompted with the facts, `so`, and the start
of a statement about one fact, and decodes greedily:

    name -> description:  `... so NAME is the`   should continue `X of Y`
    description -> name:  `... so the X of Y is` should continue `NAME`

Accuracy near 1 / facts means the model copies some fact of the context, not the
one asked about (it has not bound the name to its fact).

A second table asks whether the model finds a fact by its name or by its kind:
worlds of `kind_facts` facts of which only some are identities (the rest
comparisons), description -> name on a name-first identity. High accuracy with one
identity that falls to 1 / identities with more means it reads "the identity
fact", whichever name it is about.

    python experiments/binding_probe.py
    python experiments/binding_probe.py --pretrain.corpus.two-way-identity-share 0.25
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from lab.checkpoint import PretrainConfig, pretrained_model
from lab.corpus import random_facts
from lab.evaluate import greedy_decode
from lab.facts import Identity
from lab.language import Language


@dataclass(frozen=True)
class Config:
    pretrain: PretrainConfig = PretrainConfig()
    facts: tuple[int, ...] = (2, 4, 5)  # facts per world
    worlds: int = 200  # per row of the table
    kind_facts: int = 4  # facts per world in the by-kind table, 1 to all of them identities
    seed: int = 0
    cache_dir: Path = Path("checkpoints")

    def __post_init__(self):
        if self.worlds < 1 or self.kind_facts < 1 or min(self.facts, default=0) < 1:
            raise ValueError(
                f"worlds ({self.worlds}), kind_facts ({self.kind_facts}) and every entry of facts {self.facts} "
                "must be >= 1"
            )


def world_prompt(lang: Language, facts) -> list[int]:
    """`<bos> FACT . ... so`: the facts in context, the inference marker last."""
    return [lang.bos, *(t for f in facts for t in f.sentence(lang)), lang.id("so")]


def completes(graphdef, params, lang: Language, prompts, answers, seq_len: int) -> np.ndarray:
    """bool[prompts]: whether greedy decoding continues each prompt with its answer tokens."""
    decoded = greedy_decode(graphdef, params, prompts, max(map(len, answers)), seq_len, lang.pad)
    return np.array([tuple(d[: len(a)]) == a for d, a in zip(decoded.tolist(), answers)])


def probe(
    graphdef, params, lang: Language, n_facts: int, name_first: bool, worlds: int, seq_len: int, rng
) -> tuple[float, float]:
    """(name -> description, description -> name) accuracy over `worlds` worlds."""
    prompts, answers = [], []
    for _ in range(worlds):
        facts = random_facts(lang, rng, n_facts, 1.0, float(name_first), held_out=True)
        context = world_prompt(lang, facts)
        fact = facts[rng.integers(n_facts)]
        prompts += [
            [*context, *fact.name, lang.id("is"), lang.id("the")],
            [*context, *fact.description_tokens(lang), lang.id("is")],
        ]
        answers += [fact.description_tokens(lang)[1:], tuple(fact.name)]
    correct = completes(graphdef, params, lang, prompts, answers, seq_len)
    return float(correct[0::2].mean()), float(correct[1::2].mean())


def probe_by_kind(
    graphdef, params, lang: Language, n_facts: int, identities: int, worlds: int, seq_len: int, rng
) -> float:
    """Description -> name accuracy when `identities` of `n_facts` name-first facts are identities."""
    prompts, answers = [], []
    for _ in range(worlds):
        facts = []
        while sum(isinstance(f, Identity) for f in facts) != identities:  # redraw: kinds are drawn per fact
            facts = random_facts(lang, rng, n_facts, identities / n_facts, 1.0, held_out=True)
        asked = [f for f in facts if isinstance(f, Identity)][rng.integers(identities)]
        prompts.append([*world_prompt(lang, facts), *asked.description_tokens(lang), lang.id("is")])
        answers.append(tuple(asked.name))
    return float(completes(graphdef, params, lang, prompts, answers, seq_len).mean())


def main(config: Config) -> None:
    lang = Language(config.pretrain.language)
    graphdef, params = pretrained_model(config.pretrain, config.cache_dir)
    rng = np.random.default_rng(config.seed)
    print("| facts | stated | name -> description | description -> name |\n|---|---|---|---|")
    for n_facts in config.facts:
        for name_first in (True, False):
            forward, backward = probe(
                graphdef, params, lang, n_facts, name_first, config.worlds, config.pretrain.model.seq_len, rng
            )
            stated = "name-first" if name_first else "description-first"
            print(f"| {n_facts} | {stated} | {forward:.2f} | {backward:.2f} |")
    print(f"\n| identities among {config.kind_facts} facts | description -> name |\n|---|---|")
    for identities in range(1, config.kind_facts + 1):
        accuracy = probe_by_kind(
            graphdef, params, lang, config.kind_facts, identities, config.worlds, config.pretrain.model.seq_len, rng
        )
        print(f"| {identities} | {accuracy:.2f} |")


if __name__ == "__main__":
    main(tyro.cli(Config))
