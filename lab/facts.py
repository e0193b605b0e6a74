"""Relational facts about nonsense names, and the sentences that state them.

A fact knows how to say itself (`sentence`, and `say` in each of its templates
where it has several) and what can be inferred from it alone (`restatement`, and
`reversal` where the relation has one), and what contradicts each of those. What
follows only from several facts together (syllogistic conclusions, properties
inherited through inclusions) and the set of everything the facts entail
(`entailed_sentences`, the ground truth that generated inferences are checked
against) are functions of a collection of facts. Both the pretraining corpus and
the evaluation datasets are built from these, so the two speak exactly the same
language.

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


INCLUSION_TEMPLATES = ("all", "type_of", "include")
PROPERTY_TEMPLATES = ("have", "all_have")


@dataclass(frozen=True)
class Inclusion:
    """`all subject are object`: every member of the subject class is in the object class.

    Three templates state it (`INCLUSION_TEMPLATES`): `all S are O .` (its
    `sentence`), `S are a type of O .` (a rephrasing, subject first too) and
    `O include S .` (the same fact object first: the reversal form). It has no
    `reversal`, since `all A are B` does not entail `all B are A`: `includes` turns
    the word order around, not the meaning.
    """

    subject: Name
    object: Name

    def sentence(self, lang: Language) -> Sentence:
        return quantified(lang, "all", self.subject, self.object)

    def restatement(self, lang: Language) -> Sentence:
        return self.sentence(lang)

    def type_of(self, lang: Language) -> Sentence:
        """`subject are a type of object .`"""
        words = (lang.id(w) for w in ("are", "a", "type", "of"))
        return (*self.subject, *words, *self.object, lang.id("."))

    def includes(self, lang: Language) -> Sentence:
        """`object include subject .`"""
        return (*self.object, lang.id("include"), *self.subject, lang.id("."))

    def say(self, lang: Language, template: str) -> Sentence:
        """The sentence of one of `INCLUSION_TEMPLATES`."""
        if template == "all":
            return self.sentence(lang)
        if template == "type_of":
            return self.type_of(lang)
        if template == "include":
            return self.includes(lang)
        raise ValueError(f"an inclusion template is one of {INCLUSION_TEMPLATES}, got {template!r}")


@dataclass(frozen=True)
class Property:
    """`subject have property`: every member of the subject class has the property.

    The property is a nonsense name like any other. Two templates state it
    (`PROPERTY_TEMPLATES`): `S have P .` (its `sentence`) and `all S have P .`.
    """

    subject: Name
    property: Name

    def sentence(self, lang: Language) -> Sentence:
        return (*self.subject, lang.id("have"), *self.property, lang.id("."))

    def restatement(self, lang: Language) -> Sentence:
        return self.sentence(lang)

    def all_have(self, lang: Language) -> Sentence:
        """`all subject have property .`"""
        return (lang.id("all"), *self.sentence(lang))

    def say(self, lang: Language, template: str) -> Sentence:
        """The sentence of one of `PROPERTY_TEMPLATES`."""
        if template == "have":
            return self.sentence(lang)
        if template == "all_have":
            return self.all_have(lang)
        raise ValueError(f"a property template is one of {PROPERTY_TEMPLATES}, got {template!r}")


Fact = Comparison | Identity | Inclusion | Property

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


def entailed_inclusions(facts: Iterable[Fact]) -> list[Inclusion]:
    """The inclusions among `facts` (first occurrences, in order), then their syllogistic conclusions."""
    facts = list(facts)
    stated = list(dict.fromkeys(f for f in facts if isinstance(f, Inclusion)))
    return stated + syllogistic_conclusions(facts)


def entailed_properties(facts: Iterable[Fact]) -> list[Property]:
    """Every `X have P` that holds: X has its own properties and those of all its ancestors.

    The ancestors of X are the classes that inclusions among `facts` lead to from
    X (`entailed_inclusions`); properties pass down to subclasses, never up. Every
    class named in `facts` is covered. The order is deterministic: classes in the
    order their names first occur in `facts`, then properties in fact order.
    """
    facts = list(facts)
    properties = [f for f in facts if isinstance(f, Property)]
    ancestors: dict[Name, set[Name]] = {}
    for inclusion in entailed_inclusions(facts):
        ancestors.setdefault(inclusion.subject, set()).add(inclusion.object)
    classes: dict[Name, None] = {}  # an ordered set
    for f in facts:
        if isinstance(f, (Inclusion, Property)):
            classes.update(dict.fromkeys((f.subject, f.object) if isinstance(f, Inclusion) else (f.subject,)))
    entailed: dict[Property, None] = {}
    for c in classes:
        holders = {c} | ancestors.get(c, set())
        entailed.update((Property(c, p.property), None) for p in properties if p.subject in holders)
    return list(entailed)


def entailed_sentences(lang: Language, facts: Iterable[Fact]) -> frozenset[Sentence]:
    """Every sentence of the lab's templates that follows from `facts` alone.

    - a comparison: its sentence and its reversal;
    - an identity: both directions, name first and description first;
    - an inclusion, and every syllogistic conclusion of the inclusions among
      `facts` (`syllogistic_conclusions`): each in all of `INCLUSION_TEMPLATES`;
    - a property: every property a class has itself or inherits from an ancestor
      (`entailed_properties`), each in both `PROPERTY_TEMPLATES`.

    Quantified sentences are read the modern way, without existential import: a
    class may be empty, so `all C are B` entails neither `some C are B` nor
    `some B are C`, and inclusions never entail a `no` statement. Under that
    reading the set is complete for quantified sentences over two distinct names:
    `all X are Z` follows from inclusions exactly when a chain of them leads from X
    to Z; likewise `X have P` follows exactly when P belongs to X or to a class a
    chain leads to from X. Inclusions and properties are never combined with
    comparisons or identities: the corpus and the datasets do not mix them in one
    world.
    """
    facts = list(facts)
    entailed: set[Sentence] = set()
    for fact in facts:
        if isinstance(fact, Comparison):
            entailed |= {fact.sentence(lang), fact.reversal(lang)}
        elif isinstance(fact, Identity):
            entailed |= {fact.name_first(lang), fact.description_first(lang)}
        elif not isinstance(fact, (Inclusion, Property)):
            raise TypeError(f"not a fact: {fact!r}")
    entailed |= {i.say(lang, t) for i in entailed_inclusions(facts) for t in INCLUSION_TEMPLATES}
    entailed |= {p.say(lang, t) for p in entailed_properties(facts) for t in PROPERTY_TEMPLATES}
    return frozenset(entailed)
