"""Relational facts about nonsense names, and the sentences that state them.

A fact knows how to say itself (`sentence`) and what can be inferred from it alone
(`restatement`, and `reversal` where the relation has one), and what contradicts
each of those. What follows only from several facts together (syllogistic
conclusions) and the set of everything the facts entail (`entailed_sentences`,
the ground truth that generated inferences are checked against) are functions of
a collection of facts. Both the pretraining corpus and the evaluation datasets
are built from these, so the two speak exactly the same language.

Sentences are token-id tuples ending in ".".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

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


@dataclass(frozen=True)
class Inclusion:
    """`all subject are object`: every member of the subject class is in the object class.

    It has no `reversal`: `all A are B` does not entail `all B are A`.
    """

    subject: Name
    object: Name

    def sentence(self, lang: Language) -> Sentence:
        return quantified(lang, "all", self.subject, self.object)

    def restatement(self, lang: Language) -> Sentence:
        return self.sentence(lang)


Fact = Comparison | Identity | Inclusion

QUANTIFIERS = ("all", "some", "no")


def quantified(lang: Language, quantifier: str, subject: Name, object: Name) -> Sentence:
    """`QUANTIFIER subject are object .` for a quantifier in `QUANTIFIERS`."""
    if quantifier not in QUANTIFIERS:
        raise ValueError(f"quantifier must be one of {QUANTIFIERS}, got {quantifier!r}")
    return (lang.id(quantifier), *subject, lang.id("are"), *object, lang.id("."))


def syllogistic_conclusions(facts: Iterable[Fact]) -> list[Inclusion]:
    """Every `all X are Z` that follows by chaining two or more inclusions among `facts`.

    That is the transitive closure of the inclusions, less the inclusions themselves
    and less `all X are X` (true of any class, so not a conclusion). Other kinds of
    fact are ignored. The order is deterministic: subjects, then objects, in the
    order their names first occur in `facts`.
    """
    inclusions = [f for f in facts if isinstance(f, Inclusion)]
    terms = list(dict.fromkeys(n for f in inclusions for n in (f.subject, f.object)))
    supersets = {t: [f.object for f in inclusions if f.subject == t] for t in terms}
    stated = set(inclusions)
    conclusions = []
    for subject in terms:
        reached, frontier = set(), list(supersets[subject])
        while frontier:
            term = frontier.pop()
            if term not in reached:
                reached.add(term)
                frontier.extend(supersets[term])
        conclusions += [
            Inclusion(subject, t) for t in terms
            if t in reached and t != subject and Inclusion(subject, t) not in stated
        ]
    return conclusions


def entailed_sentences(lang: Language, facts: Iterable[Fact]) -> frozenset[Sentence]:
    """Every sentence of the lab's templates that follows from `facts` alone.

    - a comparison: its sentence and its reversal;
    - an identity: both directions, name first and description first;
    - an inclusion: its sentence, and every syllogistic conclusion of the inclusions
      among `facts` (`syllogistic_conclusions`).

    Quantified sentences are read the modern way, without existential import: a
    class may be empty, so `all C are B` entails neither `some C are B` nor
    `some B are C`, and inclusions never entail a `no` statement. Under that
    reading the set is complete for quantified sentences over two distinct names:
    `all X are Z` follows from inclusions exactly when a chain of them leads from X
    to Z. Inclusions are never combined with comparisons or identities: the corpus
    and the datasets do not mix them in one world.
    """
    facts = list(facts)
    entailed: set[Sentence] = set()
    for fact in facts:
        if isinstance(fact, Comparison):
            entailed |= {fact.sentence(lang), fact.reversal(lang)}
        elif isinstance(fact, Identity):
            entailed |= {fact.name_first(lang), fact.description_first(lang)}
        elif isinstance(fact, Inclusion):
            entailed.add(fact.sentence(lang))
        else:
            raise TypeError(f"not a fact: {fact!r}")
    entailed |= {c.sentence(lang) for c in syllogistic_conclusions(facts)}
    return frozenset(entailed)
