import dataclasses

import numpy as np
import pytest

from lab.corpus import Corpus, CorpusConfig, bucket_length, document, max_sentence_length, pad_rows
from lab.facts import Comparison, Identity
from lab.language import ADJECTIVES, Language, LanguageConfig

SMALL = CorpusConfig(
    min_facts=1, max_facts=4, identity_share=0.5, reversal_share=0.5, forward_identity_share=0.5,
    two_way_identity_share=0.0, max_statements=8, loss_on="inference", seq_len=64, curriculum_steps=0,
)


def sample_documents(lang, config, n, seed=0):
    corpus = Corpus(lang, config, seed)
    return [corpus.sample_document(config.max_facts) for _ in range(n)]


def split_sentences(lang, tokens):
    """Sentences (tuples ending in '.') of a token run."""
    sentences, current = [], []
    for t in tokens:
        current.append(t)
        if t == lang.id("."):
            sentences.append(tuple(current))
            current = []
    assert not current, "text must end with a full stop"
    return sentences


def parse_document(lang, tokens):
    """(fact sentences, derived sentences) of `<bos> facts so derived <eos>`."""
    tokens = [int(t) for t in tokens]
    assert tokens[0] == lang.bos and tokens[-1] == lang.eos
    so = tokens.index(lang.id("so"))
    return split_sentences(lang, tokens[1:so]), split_sentences(lang, tokens[so + 1 : -1])


def parse_fact(lang, sentence):
    """The Fact that `sentence` states (inverse of Fact.sentence)."""
    n = lang.config.name_length
    words = [lang.words[t] for t in sentence]
    if "are" in words:  # NAME are more|less ADJ than NAME .
        assert words[n] == "are" and words[n + 3] == "than"
        return Comparison(sentence[:n], words[n + 2], sentence[n + 4 : 2 * n + 4], more=words[n + 1] == "more")
    if words[0] == "the":  # the NAME of NAME is NAME .
        return Identity(sentence[2 * n + 3 : 3 * n + 3], (sentence[1 : n + 1], sentence[n + 2 : 2 * n + 2]), False)
    # NAME is the NAME of NAME .
    return Identity(sentence[:n], (sentence[n + 2 : 2 * n + 2], sentence[2 * n + 3 : 3 * n + 3]), True)


@pytest.mark.parametrize("name_length", [1, 2, 3])
def test_no_held_out_name_occurs_in_any_pretraining_document(name_runs, name_length):
    lang = Language(LanguageConfig(name_length=name_length))
    config = dataclasses.replace(SMALL, max_facts=6, seq_len=(6 + 1) * max_sentence_length(lang) + 3)
    held_out = {tuple(n) for n in lang.held_out_names.tolist()}
    pretraining = {tuple(n) for n in lang.pretraining_names.tolist()}
    documents = sample_documents(lang, config, 300)
    names_seen = set()
    for tokens, _ in documents:
        for run in name_runs(tokens):  # a name is bounded by non-syllable tokens
            assert len(run) == name_length
            names_seen.add(run)
    assert names_seen.isdisjoint(held_out)
    assert names_seen <= pretraining
    assert len(names_seen) > min(100, len(pretraining) // 2)  # the check saw many names


def test_documents_start_with_bos_contain_one_so_and_end_with_eos(lang):
    for tokens, weights in sample_documents(lang, SMALL, 100):
        assert tokens[0] == lang.bos
        assert tokens[-1] == lang.eos
        assert tokens.count(lang.id("so")) == 1
        assert tokens.count(lang.bos) == tokens.count(lang.eos) == 1
        assert len(tokens) == len(weights) <= SMALL.seq_len


def test_loss_weights_are_zero_through_so_and_one_on_the_inference_segment(lang):
    for tokens, weights in sample_documents(lang, SMALL, 100):
        so = tokens.index(lang.id("so"))
        assert all(w == 0.0 for w in weights[: so + 1])
        assert all(w == 1.0 for w in weights[so + 1 :])
        assert so + 1 < len(tokens) - 1  # at least one derived statement


def test_loss_on_all_weights_every_token(lang):
    config = dataclasses.replace(SMALL, loss_on="all")
    for tokens, weights in sample_documents(lang, config, 20):
        assert weights == [1.0] * len(tokens)


def test_every_derived_statement_restates_or_reverses_a_fact_before_so(lang):
    n_derived = 0
    for tokens, _ in sample_documents(lang, SMALL, 200):
        fact_sentences, derived = parse_document(lang, tokens)
        facts = [parse_fact(lang, s) for s in fact_sentences]
        assert [f.sentence(lang) for f in facts] == fact_sentences  # the parser understood them
        assert 1 <= len(derived) <= min(len(facts), SMALL.max_statements)
        sources = []
        for statement in derived:
            matches = [i for i, f in enumerate(facts) if statement in (f.restatement(lang), f.reversal(lang))]
            assert matches, f"{lang.decode(statement)!r} does not follow from {lang.decode(tokens)!r}"
            sources.append(matches[0])
        assert len(set(sources)) == len(sources)  # one statement per fact
        n_derived += len(derived)
    assert n_derived > 200


def test_reversal_share_zero_gives_only_restatements(lang):
    config = dataclasses.replace(SMALL, reversal_share=0.0)
    for tokens, _ in sample_documents(lang, config, 50):
        fact_sentences, derived = parse_document(lang, tokens)
        assert set(derived) <= set(fact_sentences)


def test_reversal_share_one_gives_only_reversals(lang):
    config = dataclasses.replace(SMALL, reversal_share=1.0)
    for tokens, _ in sample_documents(lang, config, 50):
        fact_sentences, derived = parse_document(lang, tokens)
        reversals = {parse_fact(lang, s).reversal(lang) for s in fact_sentences}
        assert set(derived) <= reversals


def test_fact_mixture_follows_the_shares(lang):
    only_comparisons = dataclasses.replace(SMALL, identity_share=0.0)
    only_identities = dataclasses.replace(SMALL, identity_share=1.0, forward_identity_share=1.0)
    for tokens, _ in sample_documents(lang, only_comparisons, 30):
        assert all(isinstance(parse_fact(lang, s), Comparison) for s in parse_document(lang, tokens)[0])
    for tokens, _ in sample_documents(lang, only_identities, 30):
        facts = [parse_fact(lang, s) for s in parse_document(lang, tokens)[0]]
        assert all(isinstance(f, Identity) and f.forward for f in facts)


def test_names_within_a_document_share_no_syllable(lang, name_runs):
    for tokens, _ in sample_documents(lang, SMALL, 50):
        fact_sentences, _ = parse_document(lang, tokens)
        names = name_runs([t for s in fact_sentences for t in s])
        syllables = [s for n in names for s in n]
        assert len(set(syllables)) == len(syllables)


def test_comparisons_use_known_adjectives(lang):
    for tokens, _ in sample_documents(lang, dataclasses.replace(SMALL, identity_share=0.0), 20):
        for s in parse_document(lang, tokens)[0]:
            assert parse_fact(lang, s).adjective in ADJECTIVES


def test_batch_shapes_dtypes_and_padding(lang):
    tokens, weights = Corpus(lang, SMALL, seed=0).batch(5)
    assert tokens.shape == weights.shape == (5, SMALL.seq_len)
    assert tokens.dtype == np.int32 and weights.dtype == np.float32
    for row_tokens, row_weights in zip(tokens, weights):
        end = list(row_tokens).index(lang.eos) + 1
        assert (row_tokens[end:] == lang.pad).all()
        assert (row_weights[end:] == 0.0).all()
        assert (row_tokens[:end] != lang.pad).all()


def test_same_seed_gives_identical_batches_and_different_seed_does_not(lang):
    a, b, c = (Corpus(lang, SMALL, seed) for seed in (7, 7, 8))
    for _ in range(3):
        (ta, wa), (tb, wb), (tc, _) = a.batch(4), b.batch(4), c.batch(4)
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(wa, wb)
        assert not np.array_equal(ta, tc)


def test_chunk_stacks_consecutive_batches(lang):
    chunk_tokens, chunk_weights = Corpus(lang, SMALL, seed=3).chunk(batch_size=2, steps=3, first_step=0)
    assert chunk_tokens.shape == chunk_weights.shape == (3, 2, SMALL.seq_len)
    first_batch, _ = Corpus(lang, SMALL, seed=3).batch(2)
    np.testing.assert_array_equal(chunk_tokens[0], first_batch)


def test_curriculum_ramps_max_facts(lang):
    config = dataclasses.replace(SMALL, min_facts=1, max_facts=4, curriculum_steps=100)
    corpus = Corpus(lang, config, seed=0)
    assert [corpus.max_facts_at(s) for s in (0, 50, 99, 100, 1000)] == [1, 2, 3, 4, 4]
    assert Corpus(lang, SMALL, 0).max_facts_at(0) == SMALL.max_facts


def test_document_builds_tokens_and_weights(lang):
    fact, derived = tuple(lang.encode("zumo are more big than bado .")), tuple(lang.encode("bado are less big than zumo ."))
    tokens, weights = document(lang, [fact], [derived])
    assert tokens == [lang.bos, *fact, lang.id("so"), *derived, lang.eos]
    assert weights == [0.0] * (len(fact) + 2) + [1.0] * (len(derived) + 1)
    tokens, weights = document(lang, [fact], marker=False)
    assert tokens == [lang.bos, *fact, lang.eos] and weights == [0.0] * len(tokens)


def test_bucket_length_rounds_up_to_a_multiple_of_32_capped_at_the_limit():
    assert [bucket_length(n, 96) for n in (1, 32, 33, 64, 65, 96, 97)] == [32, 32, 64, 64, 96, 96, 96]
    assert bucket_length(20, 24) == 24
    assert bucket_length(5, 96, multiple=8) == 8


def test_pad_rows_rejects_rows_longer_than_seq_len():
    np.testing.assert_array_equal(pad_rows([[1, 2], [3]], 3, 0, np.int32), [[1, 2, 0], [3, 0, 0]])
    with pytest.raises(ValueError, match="seq_len=2"):
        pad_rows([[1, 2, 3]], 2, 0, np.int32)


def test_min_facts_above_max_facts_is_rejected():
    with pytest.raises(ValueError, match="corpus.min_facts"):
        CorpusConfig(min_facts=5, max_facts=4)
    with pytest.raises(ValueError, match="corpus.min_facts"):
        CorpusConfig(min_facts=0)


def test_shares_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match="corpus.identity_share"):
        CorpusConfig(identity_share=1.5)
    with pytest.raises(ValueError, match="corpus.reversal_share"):
        CorpusConfig(reversal_share=-0.1)
    with pytest.raises(ValueError, match="corpus.two_way_identity_share"):
        CorpusConfig(two_way_identity_share=2.0)


def test_two_way_identities_are_stated_in_both_directions_among_the_facts(lang):
    config = dataclasses.replace(
        SMALL, identity_share=1.0, two_way_identity_share=1.0, seq_len=9 * max_sentence_length(lang) + 3
    )
    for tokens, _ in sample_documents(lang, config, 50):
        facts, derived = parse_document(lang, tokens)
        assert len(facts) % 2 == 0 and len(set(facts)) == len(facts)
        stated_once = {s for s in facts if lang.words[s[0]] != "the"}
        assert len(stated_once) == len(facts) // 2  # each person name-first once and description-first once
        assert set(derived) <= set(facts)


def test_room_for_two_way_identities_is_checked(lang):
    one_way = dataclasses.replace(SMALL, max_facts=4, seq_len=5 * max_sentence_length(lang) + 3)
    one_way.check_fits(lang)
    with pytest.raises(ValueError, match="two-way"):
        dataclasses.replace(one_way, two_way_identity_share=0.1).check_fits(lang)


def test_bad_loss_on_is_rejected():
    with pytest.raises(ValueError, match="corpus.loss_on"):
        CorpusConfig(loss_on="facts")


def test_max_statements_must_be_positive():
    with pytest.raises(ValueError, match="corpus.max_statements"):
        CorpusConfig(max_statements=0)


def test_seq_len_too_small_for_max_facts_is_rejected(lang):
    config = dataclasses.replace(SMALL, max_facts=8, seq_len=32)
    with pytest.raises(ValueError, match="corpus.seq_len"):
        config.check_fits(lang)
    with pytest.raises(ValueError, match="corpus.max_facts"):
        Corpus(lang, config, seed=0)
    # exactly enough room passes
    dataclasses.replace(SMALL, max_facts=8, seq_len=9 * max_sentence_length(lang) + 3).check_fits(lang)
