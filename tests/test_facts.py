from lab.facts import Comparison, Identity

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
    sentences = [
        comparison.sentence(lang), comparison.reversal(lang), comparison.contradiction(lang),
        comparison.reversal_contradiction(lang), identity.name_first(lang), identity.description_first(lang),
    ]
    assert all(s[-1] == lang.id(".") for s in sentences)
    assert all(isinstance(s, tuple) for s in sentences)
