import dataclasses
from types import SimpleNamespace

import pytest

from lab.datasets import (
    ReversalCurseConfig, ReversalsConfig, SemanticStructureConfig, SyllogismsConfig, dataset_builders,
    reversal_curse, reversals, semantic_structure, syllogisms,
)
from lab.facts import QUANTIFIERS, Comparison, Identity, Inclusion, entailed_sentences, quantified

REVERSALS = ReversalsConfig(n_worlds=3, facts_per_world=4)
CURSE = ReversalCurseConfig(n_worlds=3, one_way_per_world=3, two_way_per_world=2, n_options=3)
SYLLOGISMS = SyllogismsConfig(n_worlds=4, chains_per_world=3)


@pytest.fixture(scope="module")
def reversals_dataset(lang):
    return reversals(lang, REVERSALS, seed=0)


@pytest.fixture(scope="module")
def curse_dataset(lang):
    return reversal_curse(lang, CURSE, seed=0)


@pytest.fixture(scope="module", params=[True, False], ids=["balanced_roles", "pairs_alone"])
def syllogisms_dataset(lang, request):
    return syllogisms(lang, dataclasses.replace(SYLLOGISMS, balanced_roles=request.param), seed=0)


def all_tokens(world):
    sentences = list(world.sentences) + [o for items in world.tests.values() for c in items for o in c.options]
    return [t for s in sentences for t in s]


def true_comparisons(world):
    """Every (first, adjective, second, more) statement that holds in a reversals world."""
    truths = set()
    for f in world.facts:
        truths |= {(f.subject, f.adjective, f.object, f.more), (f.object, f.adjective, f.subject, not f.more)}
    return truths


def comparison_of(lang, sentence):
    n = lang.config.name_length
    words = [lang.words[t] for t in sentence]
    return sentence[:n], words[n + 2], sentence[n + 4 : 2 * n + 4], words[n + 1] == "more"


def identity_of(lang, sentence):
    """(name, description) of `NAME is the X of Y .` or `the X of Y is NAME .`."""
    n = lang.config.name_length
    if lang.words[sentence[0]] == "the":
        return sentence[2 * n + 3 : 3 * n + 3], (sentence[1 : n + 1], sentence[n + 2 : 2 * n + 2])
    return sentence[:n], (sentence[n + 2 : 2 * n + 2], sentence[2 * n + 3 : 3 * n + 3])


# --- reversals -----------------------------------------------------------------


def test_reversals_worlds_use_only_held_out_names(lang, reversals_dataset, name_runs):
    held_out = {tuple(n) for n in lang.held_out_names.tolist()}
    for world in reversals_dataset.worlds:
        names = set(name_runs(all_tokens(world)))
        assert names and names <= held_out


def test_reversals_has_its_splits_and_item_counts(reversals_dataset):
    assert reversals_dataset.name == "reversals"
    assert reversals_dataset.splits == ("trained", "reversed")
    assert len(reversals_dataset.worlds) == REVERSALS.n_worlds
    for world in reversals_dataset.worlds:
        assert set(world.tests) == {"trained", "reversed"}
        assert all(len(items) == REVERSALS.facts_per_world for items in world.tests.values())
    assert reversals_dataset.n_items("reversed") == REVERSALS.n_worlds * REVERSALS.facts_per_world


def test_reversals_world_text_states_its_comparison_facts(lang, reversals_dataset):
    for world in reversals_dataset.worlds:
        assert all(isinstance(f, Comparison) for f in world.facts)
        assert world.sentences == tuple(f.sentence(lang) for f in world.facts)


def test_reversals_items_pair_a_statement_with_its_contradiction(lang, reversals_dataset):
    for world in reversals_dataset.worlds:
        for fact, trained, reversed_ in zip(world.facts, world.tests["trained"], world.tests["reversed"]):
            assert trained.options[trained.answer] == fact.sentence(lang)
            assert trained.options[1 - trained.answer] == fact.contradiction(lang)
            assert reversed_.options[reversed_.answer] == fact.reversal(lang)
            assert reversed_.options[1 - reversed_.answer] == fact.reversal_contradiction(lang)


def test_reversals_right_options_are_true_and_wrong_ones_false(lang, reversals_dataset):
    for world in reversals_dataset.worlds:
        truths = true_comparisons(world)
        for items in world.tests.values():
            for choice in items:
                for i, option in enumerate(choice.options):
                    assert (comparison_of(lang, option) in truths) == (i == choice.answer)


def test_reversals_answers_are_not_always_in_one_position(reversals_dataset):
    answers = {c.answer for w in reversals_dataset.worlds for items in w.tests.values() for c in items}
    assert answers == {0, 1}


# --- reversal curse ------------------------------------------------------------


def one_way_and_two_way(world):
    return world.facts[: CURSE.one_way_per_world], world.facts[CURSE.one_way_per_world :]


def test_curse_worlds_use_only_held_out_names(lang, curse_dataset, name_runs):
    held_out = {tuple(n) for n in lang.held_out_names.tolist()}
    for world in curse_dataset.worlds:
        names = set(name_runs(all_tokens(world)))
        assert names and names <= held_out


def test_curse_has_its_splits_and_item_counts(curse_dataset):
    assert curse_dataset.name == "reversal_curse"
    assert curse_dataset.splits == ("trained", "reversed")
    for world in curse_dataset.worlds:
        assert set(world.tests) == {"trained", "reversed"}
        assert len(world.facts) == CURSE.one_way_per_world + CURSE.two_way_per_world
        assert all(isinstance(p, Identity) for p in world.facts)
        for items in world.tests.values():
            assert len(items) == CURSE.one_way_per_world
            assert all(len(c.options) == len(set(c.options)) == CURSE.n_options for c in items)


def test_curse_set_a_is_stated_one_way_and_set_b_both_ways(lang, curse_dataset):
    for world in curse_dataset.worlds:
        one_way, two_way = one_way_and_two_way(world)
        expected = {p.name_first(lang) for p in world.facts} | {p.description_first(lang) for p in two_way}
        assert set(world.sentences) == expected
        assert len(world.sentences) == len(expected)
        for person in one_way:
            assert person.name_first(lang) in world.sentences
            assert person.description_first(lang) not in world.sentences
        for person in two_way:
            assert person.name_first(lang) in world.sentences
            assert person.description_first(lang) in world.sentences


def test_curse_reversed_items_ask_only_about_set_a_in_the_untrained_direction(lang, curse_dataset):
    for world in curse_dataset.worlds:
        one_way, _ = one_way_and_two_way(world)
        rights = [c.options[c.answer] for c in world.tests["reversed"]]
        assert rights == [p.description_first(lang) for p in one_way]
        assert not set(rights) & set(world.sentences)


def test_curse_trained_items_ask_about_set_a_in_the_trained_direction(lang, curse_dataset):
    for world in curse_dataset.worlds:
        one_way, _ = one_way_and_two_way(world)
        rights = [c.options[c.answer] for c in world.tests["trained"]]
        assert rights == [p.name_first(lang) for p in one_way]
        assert set(rights) <= set(world.sentences)


def test_curse_right_options_are_true_and_distractors_false(lang, curse_dataset):
    for world in curse_dataset.worlds:
        truths = {(p.name, p.description) for p in world.facts}
        for split, items in world.tests.items():
            for choice in items:
                right_name, right_description = identity_of(lang, choice.options[choice.answer])
                for i, option in enumerate(choice.options):
                    name, description = identity_of(lang, option)
                    assert ((name, description) in truths) == (i == choice.answer)
                    # distractors keep the cue and swap the answer
                    if split == "trained":
                        assert name == right_name
                    else:
                        assert description == right_description


# --- syllogisms -------------------------------------------------------------------


def chains_of(world):
    """The world's facts chain by chain, as `syllogisms` orders them: all A are B, all C are A[, all E are C, all B are D]."""
    per_chain = len(world.facts) // len(world.tests["syllogism"])
    return [world.facts[i : i + per_chain] for i in range(0, len(world.facts), per_chain)]


def pairs_of(world):
    """The world's premise pairs (all A are B, all C are A)."""
    return [(chain[0], chain[1]) for chain in chains_of(world)]


def six_statements(lang, first, second):
    return {quantified(lang, q, x, y) for q in QUANTIFIERS for x, y in ((first, second), (second, first))}


def test_syllogisms_worlds_use_only_held_out_names(lang, syllogisms_dataset, name_runs):
    held_out = {tuple(n) for n in lang.held_out_names.tolist()}
    for world in syllogisms_dataset.worlds:
        names = name_runs(all_tokens(world))
        assert names and set(names) <= held_out
        facts_names = [n for f in world.facts for n in (f.subject, f.object)]
        names_per_chain = len(world.facts) // SYLLOGISMS.chains_per_world + 1  # a chain of k inclusions links k + 1 names
        assert len(set(facts_names)) == names_per_chain * SYLLOGISMS.chains_per_world  # distinct names, chains share none


def test_syllogisms_has_its_splits_and_item_counts(syllogisms_dataset):
    assert syllogisms_dataset.name == "syllogisms"
    assert syllogisms_dataset.splits == ("trained", "syllogism")
    assert len(syllogisms_dataset.worlds) == SYLLOGISMS.n_worlds
    for world in syllogisms_dataset.worlds:
        assert set(world.tests) == {"trained", "syllogism"}
        assert len(world.tests["trained"]) == len(world.facts) in (2 * SYLLOGISMS.chains_per_world, 4 * SYLLOGISMS.chains_per_world)
        assert len(world.tests["syllogism"]) == SYLLOGISMS.chains_per_world
        for items in world.tests.values():
            assert all(len(c.options) == len(set(c.options)) == 6 and c.chance == 1 / 6 for c in items)
    assert syllogisms_dataset.n_items("syllogism") == SYLLOGISMS.n_worlds * SYLLOGISMS.chains_per_world


def test_syllogisms_world_text_states_premise_pairs(lang, syllogisms_dataset):
    for world in syllogisms_dataset.worlds:
        assert all(isinstance(f, Inclusion) for f in world.facts)
        assert sorted(world.sentences) == sorted(f.sentence(lang) for f in world.facts)
        for premise, link in pairs_of(world):  # all A are B . all C are A .
            assert link.object == premise.subject


def test_balanced_roles_train_each_conclusion_term_as_subject_and_as_object(lang):
    dataset = syllogisms(lang, dataclasses.replace(SYLLOGISMS, balanced_roles=True), seed=0)
    for world in dataset.worlds:
        subjects, objects = {f.subject for f in world.facts}, {f.object for f in world.facts}
        for (premise, link), chain in zip(pairs_of(world), chains_of(world)):
            assert len(chain) == 4
            c, b = link.subject, premise.object  # the conclusion: all C are B
            assert {c, b} <= subjects & objects
            assert chain[2] == Inclusion(chain[2].subject, c) and chain[3] == Inclusion(b, chain[3].object)


def test_without_balanced_roles_each_conclusion_term_keeps_one_role(lang):
    dataset = syllogisms(lang, dataclasses.replace(SYLLOGISMS, balanced_roles=False), seed=0)
    for world in dataset.worlds:
        subjects, objects = {f.subject for f in world.facts}, {f.object for f in world.facts}
        for premise, link in pairs_of(world):
            assert link.subject in subjects - objects and premise.object in objects - subjects


def test_syllogisms_items_ask_the_premises_and_the_conclusion_among_six(lang, syllogisms_dataset):
    for world in syllogisms_dataset.worlds:
        for fact, choice in zip(world.facts, world.tests["trained"]):
            assert choice.options[choice.answer] == fact.sentence(lang)
            assert set(choice.options) == six_statements(lang, fact.subject, fact.object)
        for (premise, link), choice in zip(pairs_of(world), world.tests["syllogism"]):
            conclusion = Inclusion(link.subject, premise.object)  # all C are B
            assert choice.options[choice.answer] == conclusion.sentence(lang)
            assert set(choice.options) == six_statements(lang, link.subject, premise.object)


def test_syllogisms_right_options_are_entailed_and_distractors_are_not(lang, syllogisms_dataset):
    for world in syllogisms_dataset.worlds:
        entailed = entailed_sentences(lang, world.facts)
        for items in world.tests.values():
            for choice in items:
                for i, option in enumerate(choice.options):
                    assert (option in entailed) == (i == choice.answer)


def test_syllogism_options_never_repeat_a_training_sentence(syllogisms_dataset):
    for world in syllogisms_dataset.worlds:
        options = {o for c in world.tests["syllogism"] for o in c.options}
        assert not options & set(world.sentences)


def test_syllogisms_premise_order_and_answer_positions_vary(lang, syllogisms_dataset):
    in_fact_order = [w.sentences == tuple(f.sentence(lang) for f in w.facts) for w in syllogisms_dataset.worlds]
    assert not all(in_fact_order)  # the text does not give away which premises pair up
    answers = {c.answer for w in syllogisms_dataset.worlds for items in w.tests.values() for c in items}
    assert len(answers) >= 4


# --- all -------------------------------------------------------------------------


def test_same_seed_gives_the_same_datasets_and_another_seed_does_not(lang, reversals_dataset, curse_dataset):
    assert reversals(lang, REVERSALS, seed=0) == reversals_dataset
    assert reversal_curse(lang, CURSE, seed=0) == curse_dataset
    assert syllogisms(lang, SYLLOGISMS, seed=0) == syllogisms(lang, SYLLOGISMS, seed=0)
    assert reversals(lang, REVERSALS, seed=1) != reversals_dataset
    assert reversal_curse(lang, CURSE, seed=1) != curse_dataset
    assert syllogisms(lang, SYLLOGISMS, seed=1) != syllogisms(lang, SYLLOGISMS, seed=0)


def test_default_configs_build(lang):
    assert len(reversals(lang, ReversalsConfig(), seed=0).worlds) == ReversalsConfig().n_worlds
    assert len(reversal_curse(lang, ReversalCurseConfig(), seed=0).worlds) == ReversalCurseConfig().n_worlds
    assert len(syllogisms(lang, SyllogismsConfig(), seed=0).worlds) == SyllogismsConfig().n_worlds
    assert len(semantic_structure(lang, SemanticStructureConfig(), seed=0).worlds) == SemanticStructureConfig().n_worlds


def test_reversals_config_validates():
    with pytest.raises(ValueError, match="reversals.n_worlds"):
        ReversalsConfig(n_worlds=0)
    with pytest.raises(ValueError, match="reversals.facts_per_world"):
        ReversalsConfig(facts_per_world=0)


def test_reversal_curse_config_validates():
    with pytest.raises(ValueError, match="reversal_curse.one_way_per_world"):
        ReversalCurseConfig(one_way_per_world=0)
    with pytest.raises(ValueError, match="reversal_curse.two_way_per_world"):
        ReversalCurseConfig(two_way_per_world=-1)
    with pytest.raises(ValueError, match="reversal_curse.n_options"):
        ReversalCurseConfig(n_options=1)
    with pytest.raises(ValueError, match="reversal_curse.n_options"):
        ReversalCurseConfig(one_way_per_world=2, two_way_per_world=1, n_options=4)


def test_syllogisms_config_validates():
    with pytest.raises(ValueError, match="syllogisms.n_worlds"):
        SyllogismsConfig(n_worlds=0)
    with pytest.raises(ValueError, match="syllogisms.chains_per_world"):
        SyllogismsConfig(chains_per_world=0)


def test_dataset_builders_configure_each_dataset_from_the_field_of_its_name(lang):
    config = SimpleNamespace(reversals=ReversalsConfig(n_worlds=2), reversal_curse=ReversalCurseConfig(n_worlds=3))
    builders = dataset_builders(config, lang, ("reversal_curse", "reversals"))
    assert list(builders) == ["reversal_curse", "reversals"]
    assert builders["reversals"](4) == reversals(lang, config.reversals, 4)
    assert len(builders["reversal_curse"](0).worlds) == 3



# --- properties: every dataset, any seed and small config ------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lab.datasets import BUILDERS  # noqa: E402
from lab.language import Language, LanguageConfig  # noqa: E402

_LANG = Language(LanguageConfig())
_CONFIGS = {
    "reversals": st.builds(ReversalsConfig, n_worlds=st.integers(1, 3), facts_per_world=st.integers(1, 5)),
    "reversal_curse": st.builds(
        ReversalCurseConfig, n_worlds=st.integers(1, 3), one_way_per_world=st.integers(2, 4),
        two_way_per_world=st.integers(0, 2), n_options=st.just(2),
    ),
    "syllogisms": st.builds(SyllogismsConfig, n_worlds=st.integers(1, 3), chains_per_world=st.integers(1, 2),
                            balanced_roles=st.booleans()),
    "semantic_structure": st.builds(SemanticStructureConfig, n_worlds=st.integers(1, 2),
                                    branching=st.sampled_from([(2, 1), (2, 2), (3, 1)]),
                                    properties_per_category=st.integers(1, 2)),
}


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(BUILDERS)), seed=st.integers(0, 10_000), data=st.data())
def test_every_item_has_one_entailed_answer_among_distinct_options(name, seed, data):
    dataset = BUILDERS[name](_LANG, data.draw(_CONFIGS[name]), seed)
    held_out = {tuple(n) for n in _LANG.held_out_names.tolist()}
    for world in dataset.worlds:
        assert set(world.tests) == set(dataset.splits)
        truths = entailed_sentences(_LANG, world.facts)
        assert set(world.sentences) <= truths  # the training text states only what holds
        for fact in world.facts:
            names = [getattr(fact, f) for f in ("subject", "object", "name", "property") if hasattr(fact, f)]
            assert all(tuple(n) in held_out for n in names)
        for split in dataset.splits:
            for item in world.tests[split]:
                assert 0 <= item.answer < len(item.options) and len(set(item.options)) == len(item.options)
                assert item.options[item.answer] in truths
                assert not any(o in truths for i, o in enumerate(item.options) if i != item.answer)
