import dataclasses

import numpy as np
import pytest

from lab.corpus import Corpus, CorpusConfig, max_sentence_length
from lab.random_worlds import random_chains
from lab.facts import Comparison, Identity, Inclusion, entailed_sentences
from lab.language import ADJECTIVES, Language, LanguageConfig

SMALL = CorpusConfig(
    min_facts=1, max_facts=4, identity_share=0.5, reversal_share=0.5, forward_identity_share=0.5,
    two_way_identity_share=0.0, one_kind_share=0.0, syllogism_share=0.0, max_statements=8, loss_on="inference",
    seq_len=64, curriculum_steps=0,
)
SYLLOGISMS = dataclasses.replace(SMALL, max_statements=4, syllogism_share=1.0)





def parse_fact(lang, sentence):
    """The Fact that `sentence` states (inverse of Fact.sentence)."""
    n = lang.config.name_length
    words = [lang.words[t] for t in sentence]
    if words[0] == "all":  # all NAME are NAME .
        assert words[n + 1] == "are" and len(sentence) == 2 * n + 3
        return Inclusion(sentence[1 : n + 1], sentence[n + 2 : 2 * n + 2])
    if "are" in words:  # NAME are more|less ADJ than NAME .
        assert words[n] == "are" and words[n + 3] == "than"
        return Comparison(sentence[:n], words[n + 2], sentence[n + 4 : 2 * n + 4], more=words[n + 1] == "more")
    if words[0] == "the":  # the NAME of NAME is NAME .
        return Identity(sentence[2 * n + 3 : 3 * n + 3], (sentence[1 : n + 1], sentence[n + 2 : 2 * n + 2]), False)
    # NAME is the NAME of NAME .
    return Identity(sentence[:n], (sentence[n + 2 : 2 * n + 2], sentence[2 * n + 3 : 3 * n + 3]), True)


@pytest.mark.parametrize("syllogism_share, semantic_share", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5)])
@pytest.mark.parametrize("name_length", [1, 2, 3])
def test_no_held_out_name_occurs_in_any_pretraining_document(name_runs, name_length, syllogism_share, semantic_share, sample_documents):
    lang = Language(LanguageConfig(name_length=name_length))
    config = dataclasses.replace(
        SMALL, max_facts=6, seq_len=(6 + 1) * max_sentence_length(lang) + 3, syllogism_share=syllogism_share,
        semantic_share=semantic_share, semantic_max_facts=6, mixed_from_step=0,
    )
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


def test_documents_start_with_bos_contain_one_so_and_end_with_eos(lang, sample_documents):
    for tokens, weights in sample_documents(lang, SMALL, 100):
        assert tokens[0] == lang.bos
        assert tokens[-1] == lang.eos
        assert tokens.count(lang.id("so")) == 1
        assert tokens.count(lang.bos) == tokens.count(lang.eos) == 1
        assert len(tokens) == len(weights) <= SMALL.seq_len


def test_loss_weights_are_zero_through_so_and_one_on_the_inference_segment(lang, sample_documents):
    for tokens, weights in sample_documents(lang, SMALL, 100):
        so = tokens.index(lang.id("so"))
        assert all(w == 0.0 for w in weights[: so + 1])
        assert all(w == 1.0 for w in weights[so + 1 :])
        assert so + 1 < len(tokens) - 1  # at least one derived statement


def test_loss_on_all_weights_every_token(lang, sample_documents):
    config = dataclasses.replace(SMALL, loss_on="all")
    for tokens, weights in sample_documents(lang, config, 20):
        assert weights == [1.0] * len(tokens)


def test_every_derived_statement_restates_or_reverses_a_fact_before_so(lang, sample_documents, parse_document):
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


def test_reversal_share_zero_gives_only_restatements(lang, sample_documents, parse_document):
    config = dataclasses.replace(SMALL, reversal_share=0.0)
    for tokens, _ in sample_documents(lang, config, 50):
        fact_sentences, derived = parse_document(lang, tokens)
        assert set(derived) <= set(fact_sentences)


def test_reversal_share_one_gives_only_reversals(lang, sample_documents, parse_document):
    config = dataclasses.replace(SMALL, reversal_share=1.0)
    for tokens, _ in sample_documents(lang, config, 50):
        fact_sentences, derived = parse_document(lang, tokens)
        reversals = {parse_fact(lang, s).reversal(lang) for s in fact_sentences}
        assert set(derived) <= reversals


def test_fact_mixture_follows_the_shares(lang, sample_documents, parse_document):
    only_comparisons = dataclasses.replace(SMALL, identity_share=0.0)
    only_identities = dataclasses.replace(SMALL, identity_share=1.0, forward_identity_share=1.0)
    for tokens, _ in sample_documents(lang, only_comparisons, 30):
        assert all(isinstance(parse_fact(lang, s), Comparison) for s in parse_document(lang, tokens)[0])
    for tokens, _ in sample_documents(lang, only_identities, 30):
        facts = [parse_fact(lang, s) for s in parse_document(lang, tokens)[0]]
        assert all(isinstance(f, Identity) and f.forward for f in facts)


def test_one_kind_documents_hold_facts_of_a_single_kind(lang, sample_documents, parse_document):
    def kinds_per_document(config):
        docs = sample_documents(lang, dataclasses.replace(SMALL, min_facts=4, max_facts=4, **config), 60)
        return [{type(parse_fact(lang, s)) for s in parse_document(lang, tokens)[0]} for tokens, _ in docs]

    one_kind = kinds_per_document(dict(one_kind_share=1.0))
    assert all(len(kinds) == 1 for kinds in one_kind)
    assert {Identity, Comparison} == set().union(*one_kind)  # both kinds, each in its own documents
    assert any(len(kinds) == 2 for kinds in kinds_per_document(dict(one_kind_share=0.0)))  # the check can fail


def test_names_within_a_document_share_no_syllable(lang, name_runs, sample_documents, parse_document):
    for tokens, _ in sample_documents(lang, SMALL, 50):
        fact_sentences, _ = parse_document(lang, tokens)
        names = name_runs([t for s in fact_sentences for t in s])
        syllables = [s for n in names for s in n]
        assert len(set(syllables)) == len(syllables)


def test_comparisons_use_known_adjectives(lang, sample_documents, parse_document):
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
    with pytest.raises(ValueError, match="corpus.one_kind_share"):
        CorpusConfig(one_kind_share=1.5)
    with pytest.raises(ValueError, match="corpus.syllogism_share"):
        CorpusConfig(syllogism_share=1.1)
    with pytest.raises(ValueError, match="corpus.semantic_share"):
        CorpusConfig(semantic_share=-0.5)
    with pytest.raises(ValueError, match="corpus.semantic_share"):  # one mixture: the shares add up to <= 1
        CorpusConfig(syllogism_share=0.6, semantic_share=0.5)
    CorpusConfig(syllogism_share=0.5, semantic_share=0.5)


def test_two_way_identities_are_stated_in_both_directions_among_the_facts(lang, sample_documents, parse_document):
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


# --- syllogism documents -----------------------------------------------------------

# The default stream's first documents, as text. If one of these changes, the text that
# the default config pretrains on changed: bump corpus.TEXT_FORMAT (cached checkpoints
# were made on the old text) and write the new documents here.
GOLDEN = {
    0: (
        "<bos> the vafo of pade is vuku . so the vafo of pade is vuku . <eos>",
        "<bos> goku are more thick than fito . so goku are more thick than fito . <eos>",
        "<bos> nadi are more dangerous than nefi . so nefi are less dangerous than nadi . <eos>",
    ),
    10_000: (
        "<bos> the fago of posi is gabe . the pimi of fito is relu . mevo is the tuta of lode . roti is the napu of "
        "kize . so the tuta of lode is mevo . roti is the napu of kize . the fago of posi is gabe . the pimi of fito "
        "is relu . <eos>",
        "<bos> all dabe are disi . all disi are guto . all guto are buve . all limo are dabe . so all disi are buve . "
        "all dabe are guto . all limo are guto . all limo are disi . <eos>",
        "<bos> ruvi are more dark than zeda . so zeda are less dark than ruvi . <eos>",
    ),
}


@pytest.mark.parametrize("step", sorted(GOLDEN))
def test_the_default_stream_reads_as_it_did(step):
    lang = Language(LanguageConfig(name_length=2, held_out_fraction=0.25, seed=0, distinct_syllables=True))
    tokens, weights = Corpus(lang, CorpusConfig(), seed=0).batch(len(GOLDEN[step]), step)
    assert tuple(lang.decode(row) for row in tokens) == GOLDEN[step]
    for row, weight in zip(tokens, weights):  # the loss is on what follows `so`, closing <eos> included
        so = list(row).index(lang.id("so"))
        assert not weight[: so + 1].any() and weight[so + 1 : list(row).index(lang.eos) + 1].all()


def test_every_syllogism_inference_is_entailed_by_its_premises(lang, sample_documents, parse_document):
    n_conclusions = n_restatements = 0
    for tokens, _ in sample_documents(lang, SYLLOGISMS, 300):
        fact_sentences, derived = parse_document(lang, tokens)
        premises = [parse_fact(lang, s) for s in fact_sentences]
        assert all(isinstance(p, Inclusion) for p in premises)
        assert [p.sentence(lang) for p in premises] == fact_sentences  # the parser understood them
        assert min(2, SYLLOGISMS.max_facts) <= len(premises) <= SYLLOGISMS.max_facts
        assert 1 <= len(derived) <= SYLLOGISMS.max_statements and len(set(derived)) == len(derived)
        entailed = entailed_sentences(lang, premises)
        for statement in derived:
            assert statement in entailed, f"{lang.decode(statement)!r} does not follow from {lang.decode(tokens)!r}"
        # conclusions come first: no restatement precedes a conclusion
        is_restatement = [s in fact_sentences for s in derived]
        assert is_restatement == sorted(is_restatement)
        n_restatements += sum(is_restatement)
        n_conclusions += len(derived) - sum(is_restatement)
    assert n_conclusions > 300 and n_restatements > 50  # both kinds occur, conclusions most


def test_syllogism_documents_respect_the_curriculum_and_the_length_budget(lang, parse_document):
    config = dataclasses.replace(
        SYLLOGISMS, min_facts=1, max_facts=6, max_statements=8, curriculum_steps=100,
        seq_len=7 * max_sentence_length(lang) + 3,
    )
    corpus = Corpus(lang, config, seed=1)
    for step in (0, 30, 60, 100):
        for _ in range(30):
            tokens, weights = corpus.sample_document(corpus.max_facts_at(step))
            fact_sentences, derived = parse_document(lang, tokens)
            assert len(fact_sentences) <= corpus.max_facts_at(step)
            assert len(tokens) <= config.seq_len and derived
            assert weights[tokens.index(lang.id("so")) + 1] == 1.0


def test_syllogism_documents_use_names_sharing_no_syllable(lang, name_runs, sample_documents, parse_document):
    for tokens, _ in sample_documents(lang, SYLLOGISMS, 50):
        fact_sentences, _ = parse_document(lang, tokens)
        names = set(name_runs([t for s in fact_sentences for t in s]))
        syllables = [s for n in names for s in n]
        assert len(set(syllables)) == len(syllables)


def test_syllogism_share_mixes_the_two_kinds_of_document(lang, sample_documents, parse_document):
    config = dataclasses.replace(SMALL, syllogism_share=0.5)
    kinds = [
        isinstance(parse_fact(lang, parse_document(lang, tokens)[0][0]), Inclusion)
        for tokens, _ in sample_documents(lang, config, 400)
    ]
    assert 0.4 < np.mean(kinds) < 0.6


def test_inclusions_fit_within_max_sentence_length(lang):
    for name_length in (1, 2, 3):
        language = Language(LanguageConfig(name_length=name_length))
        premise = random_chains(language, np.random.default_rng(0), 1, held_out=False)[0]
        assert len(premise.sentence(language)) == 2 * name_length + 3 <= max_sentence_length(language)


def test_other_kinds_join_the_mixture_at_mixed_from_step(lang):
    config = dataclasses.replace(SMALL, syllogism_share=0.5, semantic_share=0.5, semantic_max_facts=4, mixed_from_step=10)
    corpus = Corpus(lang, config, seed=0)
    kinds_before = {lang.words[t] for step in range(10) for row in corpus.batch(8, step)[0] for t in row}
    kinds_after = {lang.words[t] for row in corpus.batch(64, 10)[0] for t in row}
    assert not {"all", "include", "have"} & kinds_before  # relational documents only
    assert {"all", "have"} <= kinds_after
