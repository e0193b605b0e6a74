"""In-context lookup probes: has a pretrained model bound each name to its fact?

Greedy completions of `... so NAME is the` and `... so the X of Y is` after worlds
of identity facts about held-out names (`probe`), and of the latter when only some
facts are identities (`probe_by_kind`). What each table means is told in
experiments/diagnostics/binding_probe.py (one model, in depth);
experiments/diagnostics/binding_seeds.py
measures one row per pretraining seed.
"""

from __future__ import annotations

import numpy as np

from lab.documents import context_prompt
from lab.evaluate import greedy_decode
from lab.facts import Identity
from lab.language import Language
from lab.random_worlds import random_facts


def world_prompt(lang: Language, facts) -> list[int]:
    """`<bos> FACT . ... so`: the facts in context, the inference marker last."""
    return context_prompt(lang, [f.sentence(lang) for f in facts])


def completes(graphdef, params, lang: Language, prompts, answers, seq_len: int) -> np.ndarray:
    """bool[prompts]: whether greedy decoding continues each prompt with its answer tokens."""
    decoded = greedy_decode(graphdef, params, prompts, max(map(len, answers)), seq_len, lang.pad)
    return np.array([tuple(d[: len(a)]) == a for d, a in zip(decoded.tolist(), answers)])


def probe(
    graphdef, params, lang: Language, n_facts: int, name_first: bool, worlds: int, seq_len: int, rng
) -> tuple[float, float]:
    """(name -> description, description -> name) accuracy over `worlds` worlds."""
    prompts, answers = [], []
    for _ in range(worlds):
        facts = random_facts(lang, rng, n_facts, 1.0, float(name_first), held_out=True)
        context = world_prompt(lang, facts)
        fact = facts[rng.integers(n_facts)]
        prompts += [
            [*context, *fact.name, lang.id("is"), lang.id("the")],
            [*context, *fact.description_tokens(lang), lang.id("is")],
        ]
        answers += [fact.description_tokens(lang)[1:], tuple(fact.name)]
    correct = completes(graphdef, params, lang, prompts, answers, seq_len)
    return float(correct[0::2].mean()), float(correct[1::2].mean())


def probe_by_kind(
    graphdef, params, lang: Language, n_facts: int, identities: int, worlds: int, seq_len: int, rng
) -> float:
    """Description -> name accuracy when `identities` of `n_facts` name-first facts are identities."""
    prompts, answers = [], []
    for _ in range(worlds):
        facts = []
        while sum(isinstance(f, Identity) for f in facts) != identities:  # redraw: kinds are drawn per fact
            facts = random_facts(lang, rng, n_facts, identities / n_facts, 1.0, held_out=True)
        asked = [f for f in facts if isinstance(f, Identity)][rng.integers(identities)]
        prompts.append([*world_prompt(lang, facts), *asked.description_tokens(lang), lang.id("is")])
        answers.append(tuple(asked.name))
    return float(completes(graphdef, params, lang, prompts, answers, seq_len).mean())
