"""Which in-context lookups has the pretrained model learned?

For worlds of identity facts about held-out names, all stated one way (name-first
or description-first), the model is prompted with the facts, `so`, and the start
of a statement about one fact, and decodes greedily:

    name -> description:  `... so NAME is the`   should continue `X of Y`
    description -> name:  `... so the X of Y is` should continue `NAME`

Accuracy near 1 / facts means the model copies some fact of the context, not the
one asked about (it has not bound the name to its fact).

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
from lab.language import Language


@dataclass(frozen=True)
class Config:
    pretrain: PretrainConfig = PretrainConfig()
    facts: tuple[int, ...] = (2, 4, 5)  # facts per world
    worlds: int = 200  # per row of the table
    seed: int = 0
    cache_dir: Path = Path("checkpoints")


def probe(
    graphdef, params, lang: Language, n_facts: int, name_first: bool, worlds: int, seq_len: int, rng
) -> tuple[float, float]:
    """(name -> description, description -> name) accuracy over `worlds` worlds."""
    prompts, answers = [], []
    for _ in range(worlds):
        facts = random_facts(lang, rng, n_facts, 1.0, float(name_first), held_out=True)
        context = [lang.bos, *(t for f in facts for t in f.sentence(lang)), lang.id("so")]
        fact = facts[rng.integers(n_facts)]
        prompts += [
            [*context, *fact.name, lang.id("is"), lang.id("the")],
            [*context, *fact.description_tokens(lang), lang.id("is")],
        ]
        answers += [fact.description_tokens(lang)[1:], tuple(fact.name)]
    longest = max(map(len, answers))
    decoded = greedy_decode(graphdef, params, prompts, longest, seq_len, lang.pad)
    correct = np.array([tuple(d[: len(a)]) == a for d, a in zip(decoded.tolist(), answers)])
    return float(correct[0::2].mean()), float(correct[1::2].mean())


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


if __name__ == "__main__":
    main(tyro.cli(Config))
