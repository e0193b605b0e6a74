import itertools

import numpy as np
import pytest

from lab.facts import (
    INCLUSION_TEMPLATES, PROPERTY_TEMPLATES, QUANTIFIERS, Comparison, Identity, Inclusion, Property,
    entailed_inclusions, entailed_properties, entailed_sentences, quantified, syllogistic_conclusions,
)

ZUMO, BADO, KIFO, GEVE = ("zu", "mo"), ("ba", "do"), ("ki", "fo"), ("ge", "ve")


def name(lang, syllables):
    return tuple(lang.id(s) for s in syllables)


def text(lang, sentence):
    return lang.decode(sentence)


def test_comparison_says_itself_and_its_reversal(lang):
    fact = Comparison(name(lang, ZUMO), "big", name(lang, BADO), more=True)
    assert text(lang, fact.sentence(lang)) == "zumo are more big than bado ."
    assert fact.restatement(lang) == fact.sentence(lang)
    assert text(lang, fact.reversal(lang)) == "bado are less big than zumo ."


def test_comparison_contradictions_flip_the_degree(lang):
    fact = Comparison(name(lang, ZUMO), "big", name(lang, BADO), more=True)
    assert text(lang, fact.contradiction(lang)) == "zumo are less big than bado ."
    assert text(lang, fact.reversal_contradiction(lang)) == "bado are more big than zumo ."


def test_less_comparison_reverses_to_more(lang):
    fact = Comparison(name(lang, ZUMO), "old", name(lang, BADO), more=False)
    assert text(lang, fact.sentence(lang)) == "zumo are less old than bado ."
    assert text(lang, fact.reversal(lang)) == "bado are more old than zumo ."


def test_identity_in_both_directions(lang):
    fact = Identity(name(lang, ZUMO), (name(lang, KIFO), name(lang, GEVE)), forward=True)
    assert text(lang, fact.name_first(lang)) == "zumo is the kifo of geve ."
    assert text(lang, fact.description_first(lang)) == "the kifo of geve is zumo ."
    assert fact.sentence(lang) == fact.restatement(lang) == fact.name_first(lang)
    assert fact.reversal(lang) == fact.description_first(lang)


def test_backward_identity_is_stated_description_first(lang):
    fact = Identity(name(lang, ZUMO), (name(lang, KIFO), name(lang, GEVE)), forward=False)
    assert fact.sentence(lang) == fact.description_first(lang)
    assert fact.reversal(lang) == fact.name_first(lang)


def test_every_sentence_ends_with_a_full_stop(lang):
    comparison = Comparison(name(lang, ZUMO), "big", name(lang, BADO))
    identity = Identity(name(lang, ZUMO), (name(lang, KIFO), name(lang, GEVE)))
    inclusion = Inclusion(name(lang, ZUMO), name(lang, BADO))
    property_ = Property(name(lang, ZUMO), name(lang, KIFO))
    sentences = [
        comparison.sentence(lang), comparison.reversal(lang), comparison.contradiction(lang),
        comparison.reversal_contradiction(lang), identity.name_first(lang), identity.description_first(lang),
        inclusion.sentence(lang), *(quantified(lang, q, inclusion.subject, inclusion.object) for q in QUANTIFIERS),
        *(inclusion.say(lang, t) for t in INCLUSION_TEMPLATES), *(property_.say(lang, t) for t in PROPERTY_TEMPLATES),
    ]
    assert all(s[-1] == lang.id(".") for s in sentences)
    assert all(isinstance(s, tuple) for s in sentences)


# --- inclusions and syllogisms ----------------------------------------------------


def test_inclusion_says_itself_and_has_no_reversal(lang):
    fact = Inclusion(name(lang, ZUMO), name(lang, BADO))
    assert text(lang, fact.sentence(lang)) == "all zumo are bado ."
    assert fact.restatement(lang) == fact.sentence(lang)
    assert not hasattr(fact, "reversal")  # `all A are B` does not entail `all B are A`


def test_inclusion_in_each_template(lang):
    fact = Inclusion(name(lang, ZUMO), name(lang, BADO))
    assert text(lang, fact.type_of(lang)) == "zumo are a type of bado ."
    assert text(lang, fact.includes(lang)) == "bado include zumo ."
    assert [text(lang, fact.say(lang, t)) for t in INCLUSION_TEMPLATES] == [
        "all zumo are bado .", "zumo are a type of bado .", "bado include zumo .",
    ]
    with pytest.raises(ValueError, match="inclusion template"):
        fact.say(lang, "have")


def test_property_in_each_template(lang):
    fact = Property(name(lang, ZUMO), name(lang, KIFO))
    assert text(lang, fact.sentence(lang)) == "zumo have kifo ."
    assert fact.restatement(lang) == fact.sentence(lang)
    assert text(lang, fact.all_have(lang)) == "all zumo have kifo ."
    assert [fact.say(lang, t) for t in PROPERTY_TEMPLATES] == [fact.sentence(lang), fact.all_have(lang)]
    with pytest.raises(ValueError, match="property template"):
        fact.say(lang, "type_of")


def test_quantified_states_each_quantifier(lang):
    zumo, bado = name(lang, ZUMO), name(lang, BADO)
    assert [text(lang, quantified(lang, q, zumo, bado)) for q in QUANTIFIERS] == [
        "all zumo are bado .", "some zumo are bado .", "no zumo are bado .",
    ]
    with pytest.raises(ValueError, match="quantifier"):
        quantified(lang, "most", zumo, bado)


def test_a_two_premise_chain_has_one_conclusion(lang):
    a, b, c = (name(lang, n) for n in (ZUMO, BADO, KIFO))
    premises = [Inclusion(a, b), Inclusion(c, a)]  # all A are B . all C are A .
    assert syllogistic_conclusions(premises) == [Inclusion(c, b)]


def test_conclusions_are_the_transitive_closure_less_the_premises_in_a_fixed_order(lang):
    a, b, c, d = (name(lang, n) for n in (ZUMO, BADO, KIFO, GEVE))
    chain = [Inclusion(a, b), Inclusion(b, c), Inclusion(c, d)]
    assert syllogistic_conclusions(chain) == [Inclusion(a, c), Inclusion(a, d), Inclusion(b, d)]
    # a premise that a chain also yields is stated, so it is no conclusion
    assert syllogistic_conclusions(chain + [Inclusion(a, d)]) == [Inclusion(a, c), Inclusion(b, d)]
    # the same facts in another order give the same set
    assert set(syllogistic_conclusions(chain[::-1])) == set(syllogistic_conclusions(chain))


def test_disjoint_chains_do_not_link_and_other_facts_are_ignored(lang):
    a, b, c, d = (name(lang, n) for n in (ZUMO, BADO, KIFO, GEVE))
    assert syllogistic_conclusions([Inclusion(a, b), Inclusion(c, d)]) == []
    # `b are more big than c` is no inclusion: a does not chain through it to d
    facts = [Inclusion(a, b), Comparison(b, "big", c), Inclusion(c, d)]
    assert syllogistic_conclusions(facts) == []


def test_a_cycle_yields_no_self_inclusion(lang):
    a, b, c = (name(lang, n) for n in (ZUMO, BADO, KIFO))
    conclusions = syllogistic_conclusions([Inclusion(a, b), Inclusion(b, c), Inclusion(c, a)])
    assert all(x.subject != x.object for x in conclusions)
    assert set(conclusions) == {Inclusion(a, c), Inclusion(b, a), Inclusion(c, b)}


def test_entailed_sentences_of_comparisons_and_identities(lang):
    comparison = Comparison(name(lang, ZUMO), "big", name(lang, BADO))
    identity = Identity(name(lang, KIFO), (name(lang, GEVE), name(lang, ("da", "bo"))), forward=True)
    assert entailed_sentences(lang, [comparison, identity]) == {
        comparison.sentence(lang), comparison.reversal(lang),
        identity.name_first(lang), identity.description_first(lang),
    }


def test_entailed_sentences_of_a_syllogism_are_premises_and_conclusion_only(lang):
    a, b, c = (name(lang, n) for n in (ZUMO, BADO, KIFO))
    premises = [Inclusion(a, b), Inclusion(c, a)]
    entailed = entailed_sentences(lang, premises)
    assert {text(lang, s) for s in entailed} == {
        sentence for x, y in (("zumo", "bado"), ("kifo", "zumo"), ("kifo", "bado"))
        for sentence in (f"all {x} are {y} .", f"{x} are a type of {y} .", f"{y} include {x} .")
    }
    # without existential import: no `some`, no converse, never `no`
    assert quantified(lang, "some", c, b) not in entailed
    assert quantified(lang, "some", b, c) not in entailed
    assert quantified(lang, "all", b, c) not in entailed
    assert quantified(lang, "no", c, b) not in entailed


def true_in(quantifier, first, second):
    """Truth of `QUANTIFIER first are second` in a one-element world (each term: holds of the element or not)."""
    return {"all": not first or second, "some": first and second, "no": not (first and second)}[quantifier]


@pytest.mark.parametrize("seed", range(20))
def test_entailed_sentences_agree_with_brute_force_over_models(lang, seed):
    """Sound and complete for quantified sentences over two names, modern reading.

    One-element worlds decide it: premises and `all`/`no` conclusions are universal,
    so a countermodel restricted to its witness is still one; `some` fails where
    every class is empty. So enumerating each term's truth on one element suffices.
    """
    rng = np.random.default_rng(seed)
    terms = [name(lang, n) for n in (ZUMO, BADO, KIFO, GEVE)]
    pairs = [(x, y) for x in range(4) for y in range(4) if x != y]
    chosen = rng.choice(len(pairs), rng.integers(1, 6), replace=False)
    premises = [Inclusion(terms[pairs[i][0]], terms[pairs[i][1]]) for i in chosen]
    index = {t: i for i, t in enumerate(terms)}
    models = [
        m for m in itertools.product([False, True], repeat=4)
        if all(true_in("all", m[index[p.subject]], m[index[p.object]]) for p in premises)
    ]
    entailed = entailed_sentences(lang, premises)
    for (x, y), q in itertools.product(pairs, QUANTIFIERS):
        follows = all(true_in(q, m[x], m[y]) for m in models)
        assert (quantified(lang, q, terms[x], terms[y]) in entailed) == follows, (q, x, y, premises)


# --- properties and their inheritance ----------------------------------------------


def test_entailed_inclusions_are_the_stated_ones_then_the_conclusions(lang):
    a, b, c = (name(lang, n) for n in (ZUMO, BADO, KIFO))
    facts = [Inclusion(c, a), Property(a, b), Inclusion(a, b), Inclusion(c, a)]
    assert entailed_inclusions(facts) == [Inclusion(c, a), Inclusion(a, b), Inclusion(c, b)]


def test_properties_pass_down_inclusions_never_up(lang):
    root, mid, leaf, other = (name(lang, n) for n in (ZUMO, BADO, KIFO, GEVE))
    p_root, p_mid, p_leaf = (name(lang, n) for n in (("da", "bo"), ("fi", "gu"), ("lo", "ne")))
    facts = [
        Inclusion(mid, root), Inclusion(leaf, mid), Inclusion(other, root),
        Property(root, p_root), Property(mid, p_mid), Property(leaf, p_leaf),
    ]
    assert entailed_properties(facts) == [
        Property(mid, p_root), Property(mid, p_mid),
        Property(root, p_root),
        Property(leaf, p_root), Property(leaf, p_mid), Property(leaf, p_leaf),
        Property(other, p_root),
    ]
    entailed = entailed_sentences(lang, facts)
    for fact in entailed_properties(facts):
        assert {fact.sentence(lang), fact.all_have(lang)} <= entailed
    assert Property(root, p_mid).sentence(lang) not in entailed  # not up
    assert Property(other, p_mid).all_have(lang) not in entailed  # not sideways
    # every inclusion, stated or chained, in all three templates
    for inclusion in (Inclusion(mid, root), Inclusion(leaf, root)):
        assert {inclusion.say(lang, t) for t in INCLUSION_TEMPLATES} <= entailed
    assert Inclusion(root, leaf).includes(lang) not in entailed


@pytest.mark.parametrize("seed", range(20))
def test_entailed_properties_agree_with_brute_force_over_models(lang, seed):
    """`X have P` is entailed exactly when it holds in every model of the facts.

    Read `X have P` as `all X are P` with P a class: all facts are universal, so,
    as for inclusions, one-element worlds decide entailment.
    """
    rng = np.random.default_rng(seed)
    classes = [name(lang, n) for n in (ZUMO, BADO, KIFO, GEVE)]
    properties = [name(lang, n) for n in (("da", "bo"), ("fi", "gu"))]
    pairs = [(x, y) for x in range(4) for y in range(4) if x != y]
    facts = [Inclusion(classes[pairs[i][0]], classes[pairs[i][1]]) for i in rng.choice(len(pairs), 3, replace=False)]
    facts += [Property(classes[rng.integers(4)], p) for p in properties]
    terms = classes + properties
    index = {t: i for i, t in enumerate(terms)}

    def holds(m, subject, object):
        return not m[index[subject]] or m[index[object]]

    models = [
        m for m in itertools.product([False, True], repeat=len(terms))
        if all(holds(m, f.subject, f.object if isinstance(f, Inclusion) else f.property) for f in facts)
    ]
    entailed = entailed_sentences(lang, facts)
    for x, p in itertools.product(classes, properties):
        follows = all(holds(m, x, p) for m in models)
        assert (Property(x, p).sentence(lang) in entailed) == follows, (x, p, facts)
        assert (Property(x, p).all_have(lang) in entailed) == follows


def test_entailed_sentences_rejects_what_is_not_a_fact(lang):
    with pytest.raises(TypeError, match="not a fact"):
        entailed_sentences(lang, ["all zumo are bado ."])
