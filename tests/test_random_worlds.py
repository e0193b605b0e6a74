import collections

import pytest

from lab.facts import INCLUSION_TEMPLATES, PROPERTY_TEMPLATES, Inclusion, Property, syllogistic_conclusions
from lab.random_worlds import random_chains, random_hierarchy, random_templates


def test_random_chains_link_distinct_names(lang, rng):
    for n_premises in range(1, 8):
        for _ in range(20):
            premises = random_chains(lang, rng, n_premises, held_out=False)
            assert len(premises) == n_premises and all(isinstance(p, Inclusion) for p in premises)
            # each name is the subject of at most one premise and the object of at most one
            subjects, objects = [p.subject for p in premises], [p.object for p in premises]
            assert len(set(subjects)) == len(set(objects)) == n_premises
            starts = set(subjects) - set(objects)  # one start per chain
            assert len(starts) in ((1, 2) if n_premises >= 4 else (1,))
            # every chain has two or more premises, so each yields a conclusion
            if n_premises >= 2:
                concluded = {c.subject for c in syllogistic_conclusions(premises)}
                assert starts <= concluded


def test_random_hierarchy_is_a_tree_with_properties(lang, rng):
    for n_categories in range(2, 6):
        for n_properties in range(4):
            facts = random_hierarchy(lang, rng, n_categories, n_properties, held_out=True)
            inclusions, properties = facts[: n_categories - 1], facts[n_categories - 1 :]
            assert all(isinstance(f, Inclusion) for f in inclusions)
            assert all(isinstance(f, Property) for f in properties) and len(properties) == n_properties
            categories = [inclusions[0].object] + [f.subject for f in inclusions]  # the root, then the others
            assert len(set(categories)) == n_categories
            for i, f in enumerate(inclusions):  # each under an earlier one
                assert f.object in categories[: i + 1]
            assert {f.subject for f in properties} <= set(categories)
            held_out = {tuple(n) for n in lang.held_out_names.tolist()}
            assert set(categories) | {f.property for f in properties} <= held_out
    with pytest.raises(ValueError, match="2 categories"):
        random_hierarchy(lang, rng, 1, 0, held_out=False)


def test_random_templates_draw_each_fact_a_template_of_its_kind(lang, rng):
    facts = random_hierarchy(lang, rng, 5, 4, held_out=False)
    seen = collections.defaultdict(set)
    for _ in range(50):
        for fact, template in zip(facts, random_templates(rng, facts), strict=True):
            seen[type(fact)].add(template)
    assert seen == {Inclusion: set(INCLUSION_TEMPLATES), Property: set(PROPERTY_TEMPLATES)}
