"""Evaluation datasets: new facts about held-out names, and the tests that probe them.

A dataset is a list of independent *worlds*. Each world has training sentences
(the text that fine-tuning trains on and that in-context learning sees in its
prompt) and, per test split, multiple-choice items whose options are complete
statements. Worlds are small so that one world's whole training text fits in the
context: every condition sees exactly its world's text, and fine-tuning runs are
independent per world, so they batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lab.corpus import random_facts
from lab.evaluate import Choice
from lab.facts import QUANTIFIERS, Comparison, Fact, Identity, Inclusion, Sentence, quantified
from lab.language import Language


@dataclass(frozen=True)
class World:
    facts: tuple[Fact, ...]
    sentences: tuple[Sentence, ...]  # the training text, in order
    tests: dict[str, tuple[Choice, ...]] = field(hash=False)


@dataclass(frozen=True)
class Dataset:
    name: str
    splits: tuple[str, ...]
    worlds: tuple[World, ...]

    def n_items(self, split: str) -> int:
        return sum(len(w.tests[split]) for w in self.worlds)


@dataclass(frozen=True)
class ReversalsConfig:
    """`A are more ADJ than B` facts; tests their restatement and their reversal."""

    n_worlds: int = 12
    facts_per_world: int = 4

    def __post_init__(self):
        for name in ("n_worlds", "facts_per_world"):
            if getattr(self, name) < 1:
                raise ValueError(f"reversals.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ReversalCurseConfig:
    """Berglund-style `NAME is the DESCRIPTION`: set A one way only, set B both ways."""

    n_worlds: int = 14
    one_way_per_world: int = 3  # set A: stated name-first only, tested reversed
    two_way_per_world: int = 1  # set B: stated in both directions
    n_options: int = 4  # the right answer against n_options - 1 others of the same world

    def __post_init__(self):
        if self.n_worlds < 1 or self.one_way_per_world < 1 or self.two_way_per_world < 0:
            raise ValueError(
                "reversal_curse needs n_worlds >= 1, one_way_per_world >= 1, two_way_per_world >= 0; "
                f"got {self.n_worlds}, {self.one_way_per_world}, {self.two_way_per_world}"
            )
        if not 2 <= self.n_options <= self.one_way_per_world + self.two_way_per_world:
            raise ValueError(
                f"reversal_curse.n_options={self.n_options} needs 2..{self.one_way_per_world + self.two_way_per_world} "
                "(the names in one world)"
            )


@dataclass(frozen=True)
class SyllogismsConfig:
    """Premise pairs `all A are B . all C are A .`; tests the premises and `all C are B`."""

    n_worlds: int = 12
    chains_per_world: int = 2  # independent premise pairs per world, over distinct names

    def __post_init__(self):
        for name in ("n_worlds", "chains_per_world"):
            if getattr(self, name) < 1:
                raise ValueError(f"syllogisms.{name} must be >= 1, got {getattr(self, name)}")


def _shuffled_choice(rng: np.random.Generator, right: Sentence, wrong: list[Sentence]) -> Choice:
    """The right option among the wrong ones at a random position (argmax ties favour none)."""
    options = [right, *wrong]
    order = rng.permutation(len(options))
    return Choice(tuple(options[i] for i in order), int(np.flatnonzero(order == 0)[0]))


def reversals(lang: Language, config: ReversalsConfig, seed: int) -> Dataset:
    rng = np.random.default_rng([seed, 1])
    worlds = []
    for _ in range(config.n_worlds):
        facts: list[Comparison] = random_facts(
            lang, rng, config.facts_per_world, identity_share=0.0, forward_identity_share=1.0, held_out=True
        )
        tests = {
            "trained": tuple(_shuffled_choice(rng, f.sentence(lang), [f.contradiction(lang)]) for f in facts),
            "reversed": tuple(_shuffled_choice(rng, f.reversal(lang), [f.reversal_contradiction(lang)]) for f in facts),
        }
        worlds.append(World(tuple(facts), tuple(f.sentence(lang) for f in facts), tests))
    return Dataset("reversals", ("trained", "reversed"), tuple(worlds))


def reversal_curse(lang: Language, config: ReversalCurseConfig, seed: int) -> Dataset:
    rng = np.random.default_rng([seed, 2])
    n_people = config.one_way_per_world + config.two_way_per_world
    worlds = []
    for _ in range(config.n_worlds):
        names = lang.sample_names(rng, 3 * n_people, held_out=True)
        people = [Identity(names[3 * i], (names[3 * i + 1], names[3 * i + 2])) for i in range(n_people)]
        one_way, two_way = people[: config.one_way_per_world], people[config.one_way_per_world :]
        sentences = [p.name_first(lang) for p in people] + [p.description_first(lang) for p in two_way]
        sentences = [sentences[i] for i in rng.permutation(len(sentences))]

        def others(person: Identity, swap) -> list[Sentence]:
            pool = [q for q in people if q is not person]
            picks = rng.choice(len(pool), config.n_options - 1, replace=False)
            return [swap(pool[i]) for i in picks]

        tests = {
            # Given the name, the true description against others of this world.
            "trained": tuple(
                _shuffled_choice(rng, p.name_first(lang), others(p, lambda q, p=p: Identity(p.name, q.description).name_first(lang)))
                for p in one_way
            ),
            # Given the description, the true name against others of this world.
            "reversed": tuple(
                _shuffled_choice(rng, p.description_first(lang), others(p, lambda q, p=p: Identity(q.name, p.description).description_first(lang)))
                for p in one_way
            ),
        }
        worlds.append(World(tuple(people), tuple(sentences), tests))
    return Dataset("reversal_curse", ("trained", "reversed"), tuple(worlds))


def _quantified_choice(rng: np.random.Generator, lang: Language, right: Inclusion) -> Choice:
    """`right` among the six statements over its two names (all / some / no, both ways).

    None of the other five follows from inclusions (see `facts.entailed_sentences`).
    """
    options = [
        quantified(lang, q, first, second)
        for q in QUANTIFIERS for first, second in ((right.subject, right.object), (right.object, right.subject))
    ]
    wanted = right.sentence(lang)
    return _shuffled_choice(rng, wanted, [o for o in options if o != wanted])


def syllogisms(lang: Language, config: SyllogismsConfig, seed: int) -> Dataset:
    """Worlds of `chains_per_world` premise pairs over held-out names.

    A world's facts are, pair by pair, `all A are B` then `all C are A`; its text is
    all the premises in random order. Splits: `trained` asks each premise among the
    six statements over its two names, `syllogism` asks each pair's conclusion
    `all C are B` among the six over C and B. Chance is 1/6 for both.
    """
    rng = np.random.default_rng([seed, 3])
    worlds = []
    for _ in range(config.n_worlds):
        names = lang.sample_names(rng, 3 * config.chains_per_world, held_out=True)
        pairs = [(Inclusion(a, b), Inclusion(c, a)) for a, b, c in zip(names[0::3], names[1::3], names[2::3])]
        facts = [f for pair in pairs for f in pair]
        sentences = [facts[i].sentence(lang) for i in rng.permutation(len(facts))]
        tests = {
            "trained": tuple(_quantified_choice(rng, lang, f) for f in facts),
            "syllogism": tuple(_quantified_choice(rng, lang, Inclusion(c.subject, a.object)) for a, c in pairs),
        }
        worlds.append(World(tuple(facts), tuple(sentences), tests))
    return Dataset("syllogisms", ("trained", "syllogism"), tuple(worlds))
