"""Which in-context lookups has the pretrained model learned?

For worlds of identity facts about held-out names, all stated one way (name-first
or description-first), the model is prompted with the facts, `so`, and the start
of a statement about one fact, and decodes greedily (`lab.binding.probe`):

    name -> description:  `... so NAME is the`   should continue `X of Y`
    description -> name:  `... so the X of Y is` should continue `NAME`

Accuracy near 1 / facts means the model copies some fact of the context, not the
one asked about (it has not bound the name to its fact).

A second table asks whether the model finds a fact by its name or by its kind:
worlds of `kind_facts` facts of which only some are identities (the rest
comparisons), description -> name on a name-first identity. High accuracy with one
identity that falls to 1 / identities with more means it reads "the identity
fact", whichever name it is about.

A third table shows where the model looks when it answers: attention, per layer and
head, from the last position of `the X of Y is` and from the asked fact's first
description token, summed over the roles of the positions it falls on (the asked
subject, the other subjects, the `.` closing the asked fact, ...). A model that binds
by name reads the asked fact; one that finds "the identity fact" by kind spreads over
all subjects.

    python experiments/diagnostics/binding_probe.py
    python experiments/diagnostics/binding_probe.py --pretrain.corpus.two-way-identity-share 0.25 --pretrain.corpus.max-facts 4
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from experiments import cli
from lab.binding import probe, probe_by_kind, world_prompt
from lab.language import Language
from lab.model import attention_maps
from lab.pretraining import PretrainConfig, pretrained_model
from lab.random_worlds import random_facts


@dataclass(frozen=True)
class Config:
    pretrain: PretrainConfig = PretrainConfig()
    facts: tuple[int, ...] = (2, 4, 5)  # facts per world
    worlds: int = 200  # per row of the table
    kind_facts: int = 4  # facts per world in the by-kind table, 1 to all of them identities
    attention_facts: int = 4  # name-first identity facts per world in the attention table
    seed: int = 0  # evaluation: draws the probe worlds
    cache_dir: Path = Path("checkpoints")

    def __post_init__(self):
        if self.worlds < 1 or self.kind_facts < 1 or self.attention_facts < 1 or min(self.facts, default=0) < 1:
            raise ValueError(
                f"worlds ({self.worlds}), kind_facts ({self.kind_facts}), attention_facts ({self.attention_facts}) "
                f"and every entry of facts {self.facts} must be >= 1"
            )


ROLES = ("asked subject", "other subjects", "asked fact's `.`", "rest of asked fact", "other facts", "query", "<bos>, so")


def position_roles(lang: Language, facts, asked: int, prompt_length: int) -> np.ndarray:
    """The role (an index into ROLES) of every position of `world_prompt(facts)` + the query."""
    roles = np.full(prompt_length, ROLES.index("query"))
    roles[0] = ROLES.index("<bos>, so")
    start = 1
    for i, fact in enumerate(facts):
        end = start + len(fact.sentence(lang))
        roles[start:end] = ROLES.index("rest of asked fact" if i == asked else "other facts")
        roles[start : start + len(fact.name)] = ROLES.index("asked subject" if i == asked else "other subjects")
        if i == asked:
            roles[end - 1] = ROLES.index("asked fact's `.`")
        start = end
    roles[start] = ROLES.index("<bos>, so")
    return roles


def attention_by_role(graphdef, params, lang: Language, n_facts: int, worlds: int, rng) -> dict[str, np.ndarray]:
    """Mean attention share float[layers, heads, roles], from each of two query positions.

    Worlds of `n_facts` name-first identities, prompt `... so the X of Y is`: from the
    last position (where the name is predicted) and from the first description token of
    the asked fact in the context (where a subject must be copied for binding by name).
    """
    prompts, roles, description_starts = [], [], []
    for _ in range(worlds):
        facts = random_facts(lang, rng, n_facts, 1.0, 1.0, held_out=True)
        asked = int(rng.integers(n_facts))
        prompt = [*world_prompt(lang, facts), *facts[asked].description_tokens(lang), lang.id("is")]
        prompts.append(prompt)
        roles.append(position_roles(lang, facts, asked, len(prompt)))
        subject_end = int(np.flatnonzero(roles[-1] == ROLES.index("asked subject"))[-1])
        description_starts.append(subject_end + 3)  # past `is the`
    maps = np.stack([np.asarray(m) for m in jax.jit(attention_maps, static_argnums=0)(graphdef, params, np.array(prompts))], 1)
    one_hot = np.eye(len(ROLES))[np.stack(roles)]  # [worlds, T, roles]
    shares = {}
    for label, positions in (("last", [len(p) - 1 for p in prompts]), ("asked description", description_starts)):
        rows = maps[np.arange(worlds), :, :, positions]  # [worlds, layers, heads, T]
        shares[label] = np.einsum("wlht,wtr->lhr", rows, one_hot) / worlds
    return shares


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
    shares = attention_by_role(graphdef, params, lang, config.attention_facts, config.worlds, rng)
    print(f"\n| attention after {config.attention_facts} name-first facts | layer | head | " + " | ".join(ROLES) + " |")
    print("|---" * (3 + len(ROLES)) + "|")
    for source, share in shares.items():
        for layer, heads in enumerate(share, start=1):
            for head, row in enumerate(heads):
                print(f"| from {source} | {layer} | {head} | " + " | ".join(f"{x:.2f}" for x in row) + " |")


if __name__ == "__main__":
    cli.run(main, Config)
