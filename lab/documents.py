"""The one text format that pretraining, prompts and fine-tuning share.

    <bos> FACT . FACT . ... so DERIVED . DERIVED . ... <eos>

A pretraining document states facts, then after the inference marker `so` what
follows from them. An in-context prompt is the same document cut after `so`, so
the model continues it as it learned to. Fine-tuning text is a document without
the marker: only facts.
"""

from __future__ import annotations

from typing import Sequence

from lab.facts import Sentence
from lab.language import Language


def document(
    lang: Language, facts: Sequence[Sentence], inferences: Sequence[Sentence] = (), marker: bool = True
) -> tuple[list[int], list[float]]:
    """Tokens and per-token loss weights of `<bos> facts [so inferences] <eos>`.

    The weights mark the inference segment (its statements and the closing <eos>),
    i.e. the tokens that can be predicted from the facts.
    """
    tokens = [lang.bos, *(t for s in facts for t in s)]
    weights = [0.0] * len(tokens)
    if marker:
        tokens.append(lang.id("so"))
        weights.append(0.0)
    for s in inferences:
        tokens.extend(s)
        weights.extend([1.0] * len(s))
    tokens.append(lang.eos)
    weights.append(1.0 if inferences else 0.0)
    return tokens, weights


def context_prompt(lang: Language, sentences: Sequence[Sentence]) -> list[int]:
    """`<bos> SENTENCE ... so`: the sentences in context, the inference marker last."""
    return [lang.bos, *(t for s in sentences for t in s), lang.id("so")]


def bare_prompt(lang: Language) -> list[int]:
    """`<bos>`: nothing in context, as a fine-tuned model is tested."""
    return [lang.bos]
