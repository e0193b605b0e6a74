"""Random fact sets over fresh names: the raw material of documents and worlds.

Pretraining documents draw their names from the pretraining pool, evaluation
worlds from the held-out pool (`held_out`); both draw the same kinds of fact
with these functions, so the two speak one language.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lab.facts import INCLUSION_TEMPLATES, PROPERTY_TEMPLATES, Comparison, Fact, Identity, Inclusion, Property
from lab.language import ADJECTIVES, Language


def random_facts(
    lang: Language, rng: np.random.Generator, n_facts: int, identity_share: float,
    forward_identity_share: float, held_out: bool,
) -> list[Fact]:
    """`n_facts` facts over distinct fresh names: comparisons and identities mixed."""
    kinds = rng.random(n_facts) < identity_share
    n_identity = int(kinds.sum())
    names = iter(lang.sample_names(rng, 2 * n_facts + n_identity, held_out))
    facts: list[Fact] = []
    for is_identity in kinds:
        if is_identity:
            facts.append(Identity(next(names), (next(names), next(names)), bool(rng.random() < forward_identity_share)))
        else:
            adjective = ADJECTIVES[rng.integers(len(ADJECTIVES))]
            facts.append(Comparison(next(names), adjective, next(names), more=bool(rng.random() < 0.5)))
    return facts


def random_chains(lang: Language, rng: np.random.Generator, n_premises: int, held_out: bool) -> list[Inclusion]:
    """`n_premises` inclusions over distinct fresh names, chain by chain.

    A chain over names t0, t1, ..., tk is `all t0 are t1`, ..., `all t(k-1) are tk`.
    With four or more premises there are two chains (each of at least two premises,
    so each has a conclusion) half of the time, else one; a second chain makes the
    reader pick which premises link up rather than chain everything in sight.
    """
    if n_premises < 1:
        raise ValueError(f"a syllogism document needs at least one premise, got {n_premises}")
    lengths = [n_premises]
    if n_premises >= 4 and rng.random() < 0.5:
        first = int(rng.integers(2, n_premises - 1))
        lengths = [first, n_premises - first]
    names = iter(lang.sample_names(rng, n_premises + len(lengths), held_out))
    premises = []
    for length in lengths:
        terms = [next(names) for _ in range(length + 1)]
        premises += [Inclusion(a, b) for a, b in zip(terms, terms[1:])]
    return premises


def random_hierarchy(
    lang: Language, rng: np.random.Generator, n_categories: int, n_properties: int, held_out: bool,
) -> list[Inclusion | Property]:
    """A random tree of `n_categories` fresh category names and `n_properties` properties.

    Category 0 is the root; each later one is a direct subclass (`all C are P`) of
    a uniformly drawn earlier one, so shapes range from a chain to a star. Each
    property (a fresh name) belongs to a uniformly drawn category. The inclusions
    come first, in category order, then the properties.
    """
    if n_categories < 2 or n_properties < 0:
        raise ValueError(f"a hierarchy needs >= 2 categories and >= 0 properties, got {n_categories}, {n_properties}")
    names = lang.sample_names(rng, n_categories + n_properties, held_out)
    categories, properties = names[:n_categories], names[n_categories:]
    inclusions = [Inclusion(categories[i], categories[rng.integers(i)]) for i in range(1, n_categories)]
    owners = rng.integers(n_categories, size=n_properties)
    return inclusions + [Property(categories[o], p) for o, p in zip(owners, properties)]


def random_templates(rng: np.random.Generator, facts: Sequence[Inclusion | Property]) -> list[str]:
    """For each inclusion or property, a uniformly drawn template of its kind (for `fact.say`)."""
    kinds = {Inclusion: INCLUSION_TEMPLATES, Property: PROPERTY_TEMPLATES}
    return [kinds[type(f)][rng.integers(len(kinds[type(f)]))] for f in facts]
