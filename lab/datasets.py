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
from functools import partial
from typing import Callable

import numpy as np

from lab.facts import QUANTIFIERS, Comparison, Fact, Identity, Inclusion, Property, Sentence, quantified
from lab.language import Language, Name
from lab.random_worlds import random_facts, random_templates


@dataclass(frozen=True)
class Choice:
    """A multiple-choice item: candidate statements, one of them right."""

    options: tuple[tuple[int, ...], ...]
    answer: int

    @property
    def chance(self) -> float:
        return 1.0 / len(self.options)


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
        for name, least in (("n_worlds", 1), ("one_way_per_world", 1), ("two_way_per_world", 0)):
            if getattr(self, name) < least:
                raise ValueError(f"reversal_curse.{name} must be >= {least}, got {getattr(self, name)}")
        if not 2 <= self.n_options <= self.one_way_per_world + self.two_way_per_world:
            raise ValueError(
                f"reversal_curse.n_options={self.n_options} needs 2..{self.one_way_per_world + self.two_way_per_world}, "
                "the people of one world (reversal_curse.one_way_per_world + two_way_per_world)"
            )


@dataclass(frozen=True)
class SyllogismsConfig:
    """Premise pairs `all A are B . all C are A .`; tests the premises and `all C are B`."""

    n_worlds: int = 24
    chains_per_world: int = 1  # independent premise pairs per world, over distinct names
    # Frame each pair with `all E are C` and `all B are D`, so that C and B (the
    # conclusion's terms) are each trained once as subject and once as object: else a
    # fine-tuned model picks `all C are B` by where each name stood, no syllogism needed.
    balanced_roles: bool = True

    def __post_init__(self):
        for name in ("n_worlds", "chains_per_world"):
            if getattr(self, name) < 1:
                raise ValueError(f"syllogisms.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class SemanticStructureConfig:
    """A tree of categories with properties; tests rephrasings, reversals, inheritance, a held-out category."""

    n_worlds: int = 12
    # Children of every category, level by level below the root. (2, 1): a root, two
    # children, one grandchild under each, 5 categories: small enough that a world's
    # whole text and a test statement fit the 96-token context.
    branching: tuple[int, ...] = (2, 1)
    properties_per_category: int = 1  # own properties of each category but the held-out one

    def __post_init__(self):
        object.__setattr__(self, "branching", tuple(self.branching))  # a list from the command line stays hashable
        if self.n_worlds < 1:
            raise ValueError(f"semantic_structure.n_worlds must be >= 1, got {self.n_worlds}")
        # Two levels give the held-out leaf a grandparent to infer; two children of the
        # root give every category another branch to draw hard distractors from.
        if len(self.branching) < 2 or self.branching[0] < 2 or min(self.branching) < 1:
            raise ValueError(
                "semantic_structure.branching needs >= 2 levels, >= 2 children of the root and >= 1 child "
                f"per category on every level, got {self.branching}"
            )
        if self.properties_per_category < 1:
            raise ValueError(
                f"semantic_structure.properties_per_category must be >= 1, got {self.properties_per_category}"
            )


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


def quantified_choice(rng: np.random.Generator, lang: Language, right: Inclusion) -> Choice:
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

    A world's facts are, chain by chain, `all A are B`, `all C are A` and, with
    `balanced_roles`, `all E are C`, `all B are D`; its text is all the premises in
    random order. Splits: `trained` asks each premise among the six statements over
    its two names, `syllogism` asks each pair's conclusion `all C are B` among the
    six over C and B. Chance is 1/6 for both.
    """
    rng = np.random.default_rng([seed, 3])
    per_chain = 5 if config.balanced_roles else 3
    worlds = []
    for _ in range(config.n_worlds):
        names = lang.sample_names(rng, per_chain * config.chains_per_world, held_out=True)
        facts, conclusions = [], []
        for a, b, c, *outer in (names[i : i + per_chain] for i in range(0, len(names), per_chain)):
            facts += [Inclusion(a, b), Inclusion(c, a)]
            if outer:
                e, d = outer
                facts += [Inclusion(e, c), Inclusion(b, d)]
            conclusions.append(Inclusion(c, b))
        sentences = [facts[i].sentence(lang) for i in rng.permutation(len(facts))]
        tests = {
            "trained": tuple(quantified_choice(rng, lang, f) for f in facts),
            "syllogism": tuple(quantified_choice(rng, lang, c) for c in conclusions),
        }
        worlds.append(World(tuple(facts), tuple(sentences), tests))
    return Dataset("syllogisms", ("trained", "syllogism"), tuple(worlds))


SEMANTIC_SPLITS = ("trained", "rephrasing", "reversal", "syllogism", "category_holdout")
# The other template of the same direction; `include` has none (object first is its own).
_REPHRASED = {"all": "type_of", "type_of": "all", "have": "all_have", "all_have": "have"}


def _tree(branching: tuple[int, ...]) -> list[int]:
    """The parent of every category, level by level from the root (category 0, parent -1)."""
    parents, level = [-1], [0]
    for children in branching:
        next_level = []
        for parent in level:
            for _ in range(children):
                next_level.append(len(parents))
                parents.append(parent)
        level = next_level
    return parents


def _semantic_world(lang: Language, config: SemanticStructureConfig, rng: np.random.Generator) -> World:
    parents = _tree(config.branching)
    n = len(parents)
    ancestors: list[list[int]] = [[]]  # nearest first
    for c in range(1, n):
        ancestors.append([parents[c], *ancestors[parents[c]]])
    inner = sorted(set(parents[1:]))  # categories that are some category's parent
    leaves = [c for c in range(n) if c not in inner]
    holdout = leaves[rng.integers(len(leaves))]
    owners = [c for c in range(n) if c != holdout for _ in range(config.properties_per_category)]
    names = lang.sample_names(rng, n + len(owners), held_out=True)
    category, properties = names[:n], names[n:]
    owned = list(zip(owners, properties))

    # Distractors take the place of the right category or property with one that
    # holds the same relation to another category of the world (the parent of
    # another, the property of another), so that no word is a cue by itself.
    def related(c: int, q: int) -> bool:
        return q == c or q in ancestors[c] or c in ancestors[q]

    def is_a(c: int, z: int, template: str) -> Choice:
        others = [q for q in inner if not related(c, q)]
        other = others[rng.integers(len(others))]
        right, wrong = (Inclusion(category[c], category[q]).say(lang, template) for q in (z, other))
        return _shuffled_choice(rng, right, [wrong])

    def has(c: int, prop: Name, template: str) -> Choice:
        others = [p for o, p in owned if o != c and o not in ancestors[c]]
        other = others[rng.integers(len(others))]
        right, wrong = (Property(category[c], p).say(lang, template) for p in (prop, other))
        return _shuffled_choice(rng, right, [wrong])

    def inferences(c: int) -> list[Choice]:
        """What follows about `c` from two or more facts: inherited properties, chained inclusions."""
        inherited = [has(c, p, "have") for o, p in owned if o in ancestors[c]]
        return inherited + [is_a(c, z, "all") for z in ancestors[c][1:]]

    edges = [(c, parents[c]) for c in range(1, n)]
    facts = [Inclusion(category[c], category[p]) for c, p in edges] + [Property(category[o], p) for o, p in owned]
    templates = random_templates(rng, facts)
    stated = [f.say(lang, t) for f, t in zip(facts, templates)]
    trained, rephrasing, reversal = [], [], []
    for (c, p), template in zip(edges, templates):
        trained.append(is_a(c, p, template))
        if template != "include":
            rephrasing.append(is_a(c, p, _REPHRASED[template]))
        reversal.append(is_a(c, p, "all" if template == "include" else "include"))
    for (o, p), template in zip(owned, templates[len(edges) :]):
        trained.append(has(o, p, template))
        rephrasing.append(has(o, p, _REPHRASED[template]))
    tests = {
        "trained": tuple(trained),
        "rephrasing": tuple(rephrasing),
        "reversal": tuple(reversal),
        "syllogism": tuple(i for c in range(1, n) if c != holdout for i in inferences(c)),
        "category_holdout": tuple(inferences(holdout)),
    }
    return World(tuple(facts), tuple(stated[i] for i in rng.permutation(len(stated))), tests)


def semantic_structure(lang: Language, config: SemanticStructureConfig, seed: int) -> Dataset:
    """Worlds of one category tree each (shape `config.branching`) over held-out names.

    A world's facts are its inclusions (`all CHILD are PARENT`, one per edge) and
    `properties_per_category` own properties (`CATEGORY have P`) of every category
    but one leaf, the *category holdout*, whose only fact is its parent. Its text
    states each fact once, in a random template (`all X are Y` / `X are a type of
    Y` / `Y include X`; `X have P` / `all X have P`), sentences shuffled.

    Every item is the right statement against one hard distractor (chance 1/2):
    the same template with the parent or property swapped for one that belongs to
    another category of the world and does not hold. Right options are entailed
    by the facts, distractors are not, and only `trained` repeats training text.
    - `trained`: each fact as stated;
    - `rephrasing`: each fact in the other template of the same direction (none for
      an inclusion stated as `include`);
    - `reversal`: each inclusion as `Y include X`, or as `all X are Y` if stated so;
    - `syllogism`: for every other category, each inherited property (`X have P`)
      and each inclusion two or more levels up (`all X are Z`);
    - `category_holdout`: the same inferences about the held-out leaf.
    """
    rng = np.random.default_rng([seed, 4])
    worlds = tuple(_semantic_world(lang, config, rng) for _ in range(config.n_worlds))
    return Dataset("semantic_structure", SEMANTIC_SPLITS, worlds)


# Every dataset by name: (lang, its config, seed) -> Dataset.
BUILDERS = {
    "reversals": reversals, "reversal_curse": reversal_curse, "syllogisms": syllogisms,
    "semantic_structure": semantic_structure,
}


def dataset_builders(config, lang: Language, names) -> dict[str, Callable[[int], Dataset]]:
    """name -> (seed -> that dataset) for each of `names`, configured by `config`'s field of that name.

    `config` is an experiment's config, which holds one dataset config per dataset
    it runs (`config.reversals`, `config.reversal_curse`, ...).
    """
    return {name: partial(BUILDERS[name], lang, getattr(config, name)) for name in names}
