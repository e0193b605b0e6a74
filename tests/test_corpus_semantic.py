"""Semantic documents of the pretraining corpus (`lab.corpus`): hierarchies of categories with properties.

Kept apart from test_corpus.py so that each test file stays under 400 lines.
"""

import collections
import dataclasses

import numpy as np
import pytest

from lab.corpus import Corpus, CorpusConfig, max_sentence_length
from lab.random_worlds import random_hierarchy
from lab.facts import INCLUSION_TEMPLATES, PROPERTY_TEMPLATES, Inclusion, Property, entailed_sentences
from lab.language import Language, LanguageConfig

SEMANTIC = CorpusConfig(
    min_facts=1, max_facts=6, identity_share=0.5, reversal_share=0.5, forward_identity_share=0.5,
    two_way_identity_share=0.0, max_statements=4, loss_on="inference", seq_len=96, curriculum_steps=0,
    syllogism_share=0.0, semantic_share=1.0, semantic_max_facts=6, mixed_from_step=0,
)





def parse_semantic(lang, sentence):
    """(fact, template) that `sentence` states, the inverse of `fact.say(lang, template)`."""
    n = lang.config.name_length
    words = [lang.words[t] for t in sentence]
    if words[0] == "all":
        kind, template = (Inclusion, "all") if words[n + 1] == "are" else (Property, "all_have")
        fact = kind(sentence[1 : n + 1], sentence[n + 2 : 2 * n + 2])
    elif words[n] == "are":
        fact, template = Inclusion(sentence[:n], sentence[n + 4 : 2 * n + 4]), "type_of"
    elif words[n] == "include":
        fact, template = Inclusion(sentence[n + 1 : 2 * n + 1], sentence[:n]), "include"
    else:
        fact, template = Property(sentence[:n], sentence[n + 1 : 2 * n + 1]), "have"
    assert fact.say(lang, template) == sentence, lang.decode(sentence)  # the parser understood it
    return fact, template


def kind_of(lang, statement, stated):
    """What a derived statement is, given the document's {fact: template} as stated."""
    fact, template = parse_semantic(lang, statement)
    if fact not in stated:
        return "chained inclusion" if isinstance(fact, Inclusion) else "inherited property"
    if template == stated[fact]:
        return "restatement"
    return "reversal" if "include" in (template, stated[fact]) else "rephrasing"


def test_every_semantic_inference_is_entailed_by_the_documents_facts(lang, sample_documents, parse_document):
    kinds = collections.Counter()
    for tokens, weights in sample_documents(lang, SEMANTIC, 400):
        fact_sentences, derived = parse_document(lang, tokens)
        stated = dict(parse_semantic(lang, s) for s in fact_sentences)
        assert len(stated) == len(fact_sentences)  # each fact stated once
        assert 1 <= len(derived) <= SEMANTIC.max_statements and len(set(derived)) == len(derived)
        entailed = entailed_sentences(lang, stated)
        for statement in derived:
            assert statement in entailed, f"{lang.decode(statement)!r} does not follow from {lang.decode(tokens)!r}"
        # inferences first: a restatement only once every other entailed sentence is said
        doc_kinds = [kind_of(lang, s, stated) for s in derived]
        restatements = [k == "restatement" for k in doc_kinds]
        assert restatements == sorted(restatements)
        if any(restatements):
            assert set(entailed) - set(fact_sentences) <= set(derived)
        kinds.update(doc_kinds)
        assert all(w == 1.0 for w in weights[tokens.index(lang.id("so")) + 1 :])
    for kind in ("rephrasing", "reversal", "chained inclusion", "inherited property"):
        assert kinds[kind] > 100, kinds
    assert kinds["restatement"] < kinds["rephrasing"]


def test_semantic_documents_state_a_hierarchy_with_properties(lang, sample_documents, parse_document):
    n_categories, templates = collections.Counter(), collections.Counter()
    for tokens, _ in sample_documents(lang, SEMANTIC, 300):
        fact_sentences, _ = parse_document(lang, tokens)
        parsed = [parse_semantic(lang, s) for s in fact_sentences]
        facts = [f for f, _ in parsed]
        templates.update(t for _, t in parsed)
        assert 2 <= len(facts) <= SEMANTIC.semantic_max_facts
        inclusions = [f for f in facts if isinstance(f, Inclusion)]
        categories = {n for f in inclusions for n in (f.subject, f.object)}
        # a tree: every category but one root is the subject of exactly one inclusion
        assert len({f.subject for f in inclusions}) == len(inclusions) == len(categories) - 1
        n_categories[len(categories)] += 1
        properties = [f for f in facts if isinstance(f, Property)]
        assert {f.subject for f in properties} <= categories
        assert len({f.property for f in properties}) == len(properties)
        assert not {f.property for f in properties} & categories
    assert set(n_categories) == {2, 3, 4, 5}
    assert set(templates) == set(INCLUSION_TEMPLATES) | set(PROPERTY_TEMPLATES)


def test_semantic_documents_respect_their_fact_cap_and_the_length_budget(lang, parse_document):
    """Semantic documents join after the curriculum (`mixed_from_step`), so their own cap applies."""
    config = dataclasses.replace(
        SEMANTIC, min_facts=1, max_facts=6, max_statements=8, curriculum_steps=100, semantic_max_facts=5,
        seq_len=7 * max_sentence_length(lang) + 3,
    )
    corpus = Corpus(lang, config, seed=1)
    for step in (0, 30, 60, 100):
        for _ in range(30):
            tokens, _ = corpus.sample_document(corpus.max_facts_at(step))
            fact_sentences, derived = parse_document(lang, tokens)
            assert len(fact_sentences) <= config.semantic_max_facts
            assert len(tokens) <= config.seq_len and 1 <= len(derived) <= config.max_statements


def test_semantic_documents_use_names_sharing_no_syllable(lang, name_runs, sample_documents, parse_document):
    for tokens, _ in sample_documents(lang, SEMANTIC, 50):
        fact_sentences, _ = parse_document(lang, tokens)
        names = set(name_runs([t for s in fact_sentences for t in s]))
        syllables = [s for n in names for s in n]
        assert len(set(syllables)) == len(syllables)


def test_one_number_mixes_the_three_kinds_of_document(lang):
    config = dataclasses.replace(SEMANTIC, syllogism_share=0.3, semantic_share=0.3)
    corpus, calls = Corpus(lang, config, seed=0), collections.Counter()
    for kind in ("_syllogism_text", "_semantic_text", "_relational_text"):
        method = getattr(corpus, kind)
        setattr(corpus, kind, lambda m, method=method, kind=kind: calls.update([kind]) or method(m))
    for _ in range(1000):
        corpus.sample_document(config.max_facts)
    assert 250 < calls["_syllogism_text"] < 350 and 250 < calls["_semantic_text"] < 350
    assert 350 < calls["_relational_text"] < 450


@pytest.mark.parametrize("name_length", [1, 2, 3])
def test_semantic_templates_fit_within_max_sentence_length(name_length):
    language = Language(LanguageConfig(name_length=name_length))
    facts = random_hierarchy(language, np.random.default_rng(0), 2, 1, held_out=False)
    longest = max(len(f.say(language, t)) for f in facts for t in (
        INCLUSION_TEMPLATES if isinstance(f, Inclusion) else PROPERTY_TEMPLATES
    ))
    assert longest == 2 * name_length + 5 <= max_sentence_length(language)  # `A are a type of B .`
