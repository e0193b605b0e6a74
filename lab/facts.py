"""Relational facts about nonsense names, and the sentences that state them.

A fact knows how to say itself (`sentence`) and what can be inferred from it alone
(`restatement`, `reversal`), and what contradicts each of those. Both the
pretraining corpus and the evaluation datasets are built from these, so the two
speak exactly the same language.

Sentences are token-id tuples ending in ".".
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.language import Language, Name

Sentence = tuple[int, ...]


@dataclass(frozen=True)
class Comparison:
    """`subject are more|less adjective than object`."""

    subject: Name
    adjective: str
    object: Name
    more: bool = True

    def _say(self, lang: Language, first: Name, more: bool, second: Name) -> Sentence:
        degree = lang.id("more" if more else "less")
        return (*first, lang.id("are"), degree, lang.id(self.adjective), lang.id("than"), *second, lang.id("."))

    def sentence(self, lang: Language) -> Sentence:
        return self._say(lang, self.subject, self.more, self.object)

    def restatement(self, lang: Language) -> Sentence:
        return self.sentence(lang)

    def reversal(self, lang: Language) -> Sentence:
        """`object are less|more adjective than subject`: the same fact from the other side."""
        return self._say(lang, self.object, not self.more, self.subject)

    def contradiction(self, lang: Language) -> Sentence:
        """The trained sentence with its degree flipped: false in the world."""
        return self._say(lang, self.subject, not self.more, self.object)

    def reversal_contradiction(self, lang: Language) -> Sentence:
        """The reversal with the degree that makes it false."""
        return self._say(lang, self.object, self.more, self.subject)


@dataclass(frozen=True)
class Identity:
    """`name is the first of second`, the description a phrase of nonsense words.

    `forward` says which way the fact is stated in training text: name first
    (`NAME is the DESCRIPTION`) or description first (`the DESCRIPTION is NAME`).
    """

    name: Name
    description: tuple[Name, Name]
    forward: bool = True

    def description_tokens(self, lang: Language) -> tuple[int, ...]:
        first, second = self.description
        return (lang.id("the"), *first, lang.id("of"), *second)

    def _say(self, lang: Language, forward: bool) -> Sentence:
        name, is_, desc = self.name, (lang.id("is"),), self.description_tokens(lang)
        body = (*name, *is_, *desc) if forward else (*desc, *is_, *name)
        return (*body, lang.id("."))

    def sentence(self, lang: Language) -> Sentence:
        return self._say(lang, self.forward)

    def restatement(self, lang: Language) -> Sentence:
        return self.sentence(lang)

    def reversal(self, lang: Language) -> Sentence:
        return self._say(lang, not self.forward)

    def name_first(self, lang: Language) -> Sentence:
        return self._say(lang, True)

    def description_first(self, lang: Language) -> Sentence:
        return self._say(lang, False)


Fact = Comparison | Identity
