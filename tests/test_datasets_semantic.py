"""The `semantic_structure` dataset (`lab.datasets`): category trees with properties.

Kept apart from test_datasets.py so that each test file stays under 400 lines.
"""

import itertools

import pytest

from lab.conditions import icl_prompt
from lab.datasets import SemanticStructureConfig, semantic_structure
from lab.facts import INCLUSION_TEMPLATES, PROPERTY_TEMPLATES, Inclusion, Property, entailed_sentences
from lab.model import ModelConfig

SEMANTIC_CONFIGS = {
    "default_tree": SemanticStructureConfig(n_worlds=6),
    "deep_tree": SemanticStructureConfig(n_worlds=3, branching=(2, 2, 1)),
    "two_properties": SemanticStructureConfig(n_worlds=3, branching=(3, 1), properties_per_category=2),
}


@pytest.fixture(scope="module", params=list(SEMANTIC_CONFIGS))
def semantic_config(request):
    return SEMANTIC_CONFIGS[request.param]


@pytest.fixture(scope="module")
def semantic_dataset(lang, semantic_config):
    return semantic_structure(lang, semantic_config, seed=0)


def all_tokens(world):
    sentences = list(world.sentences) + [o for items in world.tests.values() for c in items for o in c.options]
    return [t for s in sentences for t in s]


def semantic_sentences(lang, world):
    """{sentence: (fact, template)} of every inclusion or property statement over the world's names."""
    categories = list(dict.fromkeys(n for f in world.facts if isinstance(f, Inclusion) for n in (f.subject, f.object)))
    properties = [f.property for f in world.facts if isinstance(f, Property)]
    out = {}
    for x, y in itertools.permutations(categories, 2):
        out |= {Inclusion(x, y).say(lang, t): (Inclusion(x, y), t) for t in INCLUSION_TEMPLATES}
    for x, p in itertools.product(categories, properties):
        out |= {Property(x, p).say(lang, t): (Property(x, p), t) for t in PROPERTY_TEMPLATES}
    return out


def tree_of(world):
    """{category: parent}, {category: its ancestors, nearest first}, {property: its category}."""
    parent = {f.subject: f.object for f in world.facts if isinstance(f, Inclusion)}
    ancestors = {}
    for c in {*parent, *parent.values()}:
        ancestors[c], up = [], c
        while up in parent:
            up = parent[up]
            ancestors[c].append(up)
    owner = {f.property: f.subject for f in world.facts if isinstance(f, Property)}
    return parent, ancestors, owner


def held_out_category(world):
    """The leaf that has no property."""
    parent, _, owner = tree_of(world)
    (leaf,) = set(parent) - set(owner.values()) - set(parent.values())
    return leaf


def test_semantic_worlds_use_only_held_out_names(lang, semantic_dataset, name_runs):
    held_out = {tuple(n) for n in lang.held_out_names.tolist()}
    for world in semantic_dataset.worlds:
        names = name_runs(all_tokens(world))
        assert names and set(names) <= held_out


def test_semantic_has_its_splits_of_two_options(semantic_dataset, semantic_config):
    assert semantic_dataset.name == "semantic_structure"
    assert semantic_dataset.splits == ("trained", "rephrasing", "reversal", "syllogism", "category_holdout")
    assert len(semantic_dataset.worlds) == semantic_config.n_worlds
    for world in semantic_dataset.worlds:
        assert set(world.tests) == set(semantic_dataset.splits)
        for items in world.tests.values():
            assert items and all(len(set(c.options)) == 2 and c.chance == 0.5 for c in items)
    answers = {c.answer for w in semantic_dataset.worlds for items in w.tests.values() for c in items}
    assert answers == {0, 1}


def test_semantic_world_is_a_tree_told_fact_by_fact(lang, semantic_dataset, semantic_config):
    n_categories = 1 + sum(itertools.accumulate(semantic_config.branching, lambda a, b: a * b))
    templates = set()
    for world in semantic_dataset.worlds:
        parent, ancestors, owner = tree_of(world)
        assert len(parent) == n_categories - 1 and len(ancestors) == n_categories  # one root
        assert max(map(len, ancestors.values())) == len(semantic_config.branching)
        assert len(owner) == (n_categories - 1) * semantic_config.properties_per_category
        said = semantic_sentences(lang, world)
        assert len(world.sentences) == len(world.facts)
        assert {said[s][0] for s in world.sentences} == set(world.facts)  # each fact once, in some template
        templates |= {said[s][1] for s in world.sentences}
        leaf = held_out_category(world)  # its only fact is its parent
        about_leaf = [f for f in world.facts if leaf in (f.subject, getattr(f, "object", None))]
        assert about_leaf == [Inclusion(leaf, parent[leaf])]
    assert templates == set(INCLUSION_TEMPLATES) | set(PROPERTY_TEMPLATES)


def test_semantic_right_options_are_entailed_and_distractors_are_not(lang, semantic_dataset):
    for world in semantic_dataset.worlds:
        entailed = entailed_sentences(lang, world.facts)
        for items in world.tests.values():
            for choice in items:
                for i, option in enumerate(choice.options):
                    assert (option in entailed) == (i == choice.answer), lang.decode(option)


def test_semantic_only_trained_items_repeat_training_sentences(semantic_dataset):
    for world in semantic_dataset.worlds:
        trained = [c.options[c.answer] for c in world.tests["trained"]]
        assert sorted(trained) == sorted(world.sentences)
        for split, items in world.tests.items():
            if split != "trained":
                assert not {o for c in items for o in c.options} & set(world.sentences), split


def test_semantic_distractors_swap_in_a_term_of_another_category(lang, semantic_dataset):
    """Same template and subject; the parent or property swapped for one another category has."""
    for world in semantic_dataset.worlds:
        said, (parent, _, owner) = semantic_sentences(lang, world), tree_of(world)
        for choice in (c for items in world.tests.values() for c in items):
            right, template = said[choice.options[choice.answer]]
            wrong, wrong_template = said[choice.options[1 - choice.answer]]
            assert wrong_template == template and type(wrong) is type(right) and wrong.subject == right.subject
            if isinstance(right, Inclusion):
                assert wrong.object != right.object and wrong.object in parent.values()
            else:
                assert wrong.property != right.property and owner[wrong.property] != right.subject


def test_semantic_splits_ask_what_they_promise(lang, semantic_dataset):
    for world in semantic_dataset.worlds:
        said, (parent, ancestors, owner) = semantic_sentences(lang, world), tree_of(world)
        stated = dict(said[s] for s in world.sentences)
        right = {split: [said[c.options[c.answer]] for c in items] for split, items in world.tests.items()}
        assert sorted(right["trained"], key=repr) == sorted(stated.items(), key=repr)
        assert {f for f, _ in right["rephrasing"]} == {f for f, t in stated.items() if t != "include"}
        assert all(t != stated[f] and "include" not in (t, stated[f]) for f, t in right["rephrasing"])
        assert {f for f, _ in right["reversal"]} == {f for f in stated if isinstance(f, Inclusion)}
        assert all(t == ("all" if stated[f] == "include" else "include") for f, t in right["reversal"])
        # inferences from two or more facts, in the base templates: inherited properties, chains
        inferred = {
            c: {(Property(c, p), "have") for p, o in owner.items() if o in ancestors[c]}
            | {(Inclusion(c, z), "all") for z in ancestors[c][1:]}
            for c in ancestors
        }
        leaf = held_out_category(world)
        syllogism = right["syllogism"]
        assert len(set(syllogism)) == len(syllogism)
        assert set(syllogism) == set().union(*(inferred[c] for c in ancestors if c != leaf))
        assert sorted(right["category_holdout"], key=repr) == sorted(inferred[leaf], key=repr)


def test_semantic_default_worlds_fit_the_context_with_any_option(lang):
    """The ICL prompt (the whole world text, then `so`) plus the longest option fits the model's context."""
    seq_len = ModelConfig().seq_len
    for seed in range(5):
        for world in semantic_structure(lang, SemanticStructureConfig(), seed).worlds:
            option = max(len(o) for items in world.tests.values() for c in items for o in c.options)
            assert len(icl_prompt(lang, world)) + option <= seq_len
            # and whichever templates had been drawn: every fact in its longest one
            longest_text = sum(
                max(len(f.say(lang, t)) for t in (INCLUSION_TEMPLATES if isinstance(f, Inclusion) else PROPERTY_TEMPLATES))
                for f in world.facts
            )
            assert 2 + longest_text + option <= seq_len  # <bos> text so option


def test_semantic_structure_is_seeded(lang, semantic_dataset, semantic_config):
    assert semantic_structure(lang, semantic_config, seed=0) == semantic_dataset
    assert semantic_structure(lang, semantic_config, seed=1) != semantic_dataset


def test_semantic_structure_config_validates():
    with pytest.raises(ValueError, match="semantic_structure.n_worlds"):
        SemanticStructureConfig(n_worlds=0)
    for branching in ((2,), (1, 1), (2, 0), ()):
        with pytest.raises(ValueError, match="semantic_structure.branching"):
            SemanticStructureConfig(branching=branching)
    with pytest.raises(ValueError, match="semantic_structure.properties_per_category"):
        SemanticStructureConfig(properties_per_category=0)
    assert SemanticStructureConfig(branching=[3, 1]).branching == (3, 1)
