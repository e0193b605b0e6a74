import itertools

import numpy as np
import pytest

from lab.facts import Comparison, Identity
from lab.language import Language, LanguageConfig


def test_vocabulary_has_unique_words_and_special_ids(lang):
    assert len(set(lang.words)) == lang.vocab_size
    assert (lang.pad, lang.bos, lang.eos) == (0, 1, 2)
    assert lang.vocab_size <= 128  # fits the tiny test model


def test_a_name_is_its_concatenated_syllables(lang):
    assert lang.encode("zumo") == [lang.id("zu"), lang.id("mo")]
    assert lang.decode([lang.id("zu"), lang.id("mo")]) == "zumo"


def test_encode_decode_round_trip_of_hand_written_sentence(lang):
    text = "zumo are more big than bado . the kifo of geve is tipa ."
    assert lang.decode(lang.encode(text)) == text


def test_fact_sentences_round_trip_through_text(lang, rng):
    a, b, c, d = lang.sample_names(rng, 4, held_out=False)
    facts = [
        Comparison(a, "dangerous", b, more=True),
        Comparison(c, "old", d, more=False),
        Identity(a, (b, c), forward=True),
        Identity(d, (a, b), forward=False),
    ]
    for fact in facts:
        for sentence in (fact.sentence(lang), fact.reversal(lang)):
            assert lang.encode(lang.decode(sentence)) == list(sentence)


def test_decode_drops_padding(lang):
    ids = [lang.bos, *lang.encode("zumo are more big than bado ."), lang.eos, lang.pad, lang.pad]
    assert lang.decode(ids) == "<bos> zumo are more big than bado . <eos>"


def test_unknown_word_raises_value_error_naming_it(lang):
    with pytest.raises(ValueError, match="xyzzy"):
        lang.encode("zumo are xyzzy")
    with pytest.raises(ValueError, match="'zum'"):  # odd length: not whole syllables
        lang.encode("zum is the bado of kifo .")
    with pytest.raises(ValueError, match="blorp"):
        lang.id("blorp")


def test_encode_rejects_words_glued_from_function_words(lang):
    with pytest.raises(ValueError, match="soso"):
        lang.encode("soso")


def test_name_pools_are_disjoint_and_cover_all_names(lang):
    pretraining = {tuple(n) for n in lang.pretraining_names.tolist()}
    held_out = {tuple(n) for n in lang.held_out_names.tolist()}
    every_name = set(itertools.product(lang.syllable_ids, repeat=lang.config.name_length))
    assert pretraining.isdisjoint(held_out)
    assert pretraining | held_out == every_name
    assert len(pretraining) == len(lang.pretraining_names)  # no duplicates within a pool
    assert len(held_out) == round(lang.config.held_out_fraction * len(every_name))


def test_pool_split_is_fixed_by_the_language_seed():
    same = Language(LanguageConfig(seed=0)), Language(LanguageConfig(seed=0))
    other = Language(LanguageConfig(seed=1))
    np.testing.assert_array_equal(same[0].held_out_names, same[1].held_out_names)
    assert not np.array_equal(same[0].held_out_names, other.held_out_names)


@pytest.mark.parametrize("held_out", [True, False])
def test_sample_names_with_distinct_syllables_share_no_syllable(lang, rng, held_out):
    names = lang.sample_names(rng, 20, held_out=held_out)
    syllables = [s for name in names for s in name]
    assert len(names) == 20
    assert len(set(syllables)) == len(syllables)
    pool = lang.held_out_names if held_out else lang.pretraining_names
    assert set(names) <= {tuple(n) for n in pool.tolist()}


def test_sample_names_without_distinct_syllables_gives_distinct_pool_names(rng):
    lang = Language(LanguageConfig(distinct_syllables=False))
    names = lang.sample_names(rng, 200, held_out=True)
    assert len(set(names)) == 200
    assert set(names) <= {tuple(n) for n in lang.held_out_names.tolist()}


def test_world_needing_more_syllables_than_exist_raises_clear_error(lang, rng):
    too_many = len(lang.syllable_ids) // lang.config.name_length + 1
    with pytest.raises(ValueError, match="distinct_syllables"):
        lang.sample_names(rng, too_many, held_out=True)


def test_world_needing_more_names_than_the_pool_raises_clear_error(rng):
    lang = Language(LanguageConfig(distinct_syllables=False))
    with pytest.raises(ValueError, match="held-out pool has .*; raise language.held_out_fraction"):
        lang.sample_names(rng, len(lang.held_out_names) + 1, held_out=True)
    with pytest.raises(ValueError, match="pretraining pool has .*; lower language.held_out_fraction"):
        lang.sample_names(rng, len(lang.pretraining_names) + 1, held_out=False)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_held_out_fraction_must_lie_strictly_between_0_and_1(fraction):
    with pytest.raises(ValueError, match="language.held_out_fraction"):
        LanguageConfig(held_out_fraction=fraction)


def test_name_length_must_be_positive():
    with pytest.raises(ValueError, match="language.name_length"):
        LanguageConfig(name_length=0)


def test_longer_names_have_more_syllable_tokens(rng):
    lang = Language(LanguageConfig(name_length=3))
    (name,) = lang.sample_names(rng, 1, held_out=True)
    assert len(name) == 3
    assert lang.encode(lang.decode(name)) == list(name)


# --- properties ----------------------------------------------------------------------
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LANG = Language(LanguageConfig())
_WORDS = [w for w in _LANG.words if w not in ("<pad>",) and _LANG.token_id[w] not in _LANG.syllable_ids]
_NAMES = [_LANG.decode(n) for n in _LANG.held_out_names[:50]] + [_LANG.decode(n) for n in _LANG.pretraining_names[:50]]


@given(st.lists(st.sampled_from(_WORDS + _NAMES), max_size=30))
def test_text_of_words_and_names_round_trips_through_the_tokenizer(words):
    text = " ".join(words)
    assert _LANG.decode(_LANG.encode(text)) == text


@given(st.text(max_size=40))
def test_any_text_encodes_or_raises_a_value_error_naming_the_word(text):
    try:
        ids = _LANG.encode(text)
    except ValueError as e:
        assert "is neither a word nor a name" in str(e)
    else:
        assert all(0 <= i < _LANG.vocab_size for i in ids)
