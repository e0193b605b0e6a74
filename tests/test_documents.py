from lab.documents import bare_prompt, context_prompt, document


def test_document_builds_tokens_and_weights(lang):
    fact, derived = tuple(lang.encode("zumo are more big than bado .")), tuple(lang.encode("bado are less big than zumo ."))
    tokens, weights = document(lang, [fact], [derived])
    assert tokens == [lang.bos, *fact, lang.id("so"), *derived, lang.eos]
    assert weights == [0.0] * (len(fact) + 2) + [1.0] * (len(derived) + 1)
    tokens, weights = document(lang, [fact], marker=False)
    assert tokens == [lang.bos, *fact, lang.eos] and weights == [0.0] * len(tokens)


def test_a_prompt_is_a_document_cut_after_so(lang):
    facts = [tuple(lang.encode("zumo are more big than pita ."))]
    tokens, _ = document(lang, facts, facts)
    prompt = context_prompt(lang, facts)
    assert tokens[: len(prompt)] == prompt and prompt[-1] == lang.id("so")
    assert bare_prompt(lang) == [lang.bos]
