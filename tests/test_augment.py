import pytest

from lab.augment import AugmentConfig, augmentations, oracle_augmentation, parse_statements, prompts_for
from lab.conditions import icl_prompt
from lab.datasets import ReversalCurseConfig, ReversalsConfig, reversal_curse, reversals
from lab.facts import entailed_sentences

SEQ_LEN = 32


@pytest.fixture(scope="module")
def world(lang):
    return reversals(lang, ReversalsConfig(n_worlds=2, facts_per_world=2), seed=0).worlds[0]


def test_parse_statements_keeps_complete_sentences_up_to_eos(lang):
    a, b = lang.encode("zumo are more big than pita ."), lang.encode("pita are less big than zumo .")
    assert parse_statements(lang, [*a, *b, lang.eos, *a]) == [tuple(a), tuple(b)]
    assert parse_statements(lang, [*a, *b[:3]]) == [tuple(a)]  # the unfinished tail is dropped
    assert parse_statements(lang, [lang.id("."), *a]) == [tuple(a)]  # a bare "." is no statement
    assert parse_statements(lang, [lang.eos, *a]) == []


def test_oracle_adds_every_entailed_statement_that_is_not_trained(lang, world):
    aug = oracle_augmentation(lang, world)
    assert set(aug.statements) == {f.reversal(lang) for f in world.facts}
    assert aug.written == aug.valid == len(aug.statements)


def test_oracle_on_the_reversal_curse_reverses_set_a_only(lang):
    world = reversal_curse(lang, ReversalCurseConfig(n_worlds=1), seed=0).worlds[0]
    aug = oracle_augmentation(lang, world)
    assert not set(aug.statements) & set(world.sentences)
    assert set(aug.statements) | set(world.sentences) == entailed_sentences(lang, world.facts)


def test_prompts_end_in_the_inference_marker(lang, world):
    local = prompts_for(lang, world, "local")
    assert local == [[lang.bos, *s, lang.id("so")] for s in world.sentences]
    assert prompts_for(lang, world, "global") == [icl_prompt(lang, world)]
    with pytest.raises(ValueError, match="oracle"):
        prompts_for(lang, world, "oracle")


@pytest.mark.parametrize("kind", ["local", "global"])
def test_model_augmentations_count_what_was_written_and_valid(tiny_model, lang, world, kind):
    graphdef, params = tiny_model
    config = AugmentConfig(samples=3, max_new_tokens=12)
    (aug,) = augmentations(graphdef, params, lang, [world], kind, config, SEQ_LEN, seed=0)
    assert len(set(aug.statements)) == len(aug.statements) == aug.written  # distinct, all kept
    truths = entailed_sentences(lang, world.facts)
    assert aug.valid == sum(s in truths for s in aug.statements)
    again = augmentations(graphdef, params, lang, [world], kind, config, SEQ_LEN, seed=0)
    assert again == [aug]  # seeded


def test_filtering_keeps_only_valid_statements(tiny_model, lang, world):
    graphdef, params = tiny_model
    config = AugmentConfig(samples=3, max_new_tokens=12, keep_invalid=False)
    (aug,) = augmentations(graphdef, params, lang, [world], "local", config, SEQ_LEN, seed=0)
    assert len(aug.statements) == aug.valid
    assert set(aug.statements) <= entailed_sentences(lang, world.facts)


@pytest.mark.parametrize(
    "field, kwargs",
    [("decoding", {"decoding": "beam"}), ("samples", {"samples": 0}), ("temperature", {"temperature": 0.0}),
     ("max_new_tokens", {"max_new_tokens": 0})],
)
def test_augment_config_names_the_bad_field(field, kwargs):
    with pytest.raises(ValueError, match=f"augment.{field}"):
        AugmentConfig(**kwargs)


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lab.language import Language, LanguageConfig  # noqa: E402

_LANG = Language(LanguageConfig())


@given(st.lists(st.integers(0, _LANG.vocab_size - 1), max_size=60))
def test_any_continuation_parses_into_complete_statements_before_its_end(tokens):
    statements = parse_statements(_LANG, tokens)
    stops = {_LANG.eos, _LANG.pad, _LANG.bos}
    end = next((i for i, t in enumerate(tokens) if t in stops), len(tokens))
    assert sum(map(len, statements)) <= end
    for s in statements:
        assert len(s) > 1 and s[-1] == _LANG.id(".") and _LANG.id(".") not in s[:-1] and not stops & set(s)
