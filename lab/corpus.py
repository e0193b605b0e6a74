"""The pretraining corpus: an endless, seeded stream of documents about fresh worlds.

Each document (`lab.documents`) states facts about random names from the
pretraining pool and, after `so`, statements that follow from those facts alone:
in a relational document (comparisons and identities) a restatement or reversal
of one fact; in a syllogism document (`all A are B` premises forming chains) a
syllogistic conclusion of several premises or a restatement of one; in a
semantic document (a small hierarchy of categories with properties, each fact in
a random template) a rephrasing, an `include` reversal, a chained inclusion or
an inherited property, restatements only after those. This is how the small
model acquires the in-context skills a large LM brings from its pretraining:
nothing before `so` can be predicted, everything after it can be read off the
facts. Why the default mixture is what it is: docs/design.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from lab.batching import pad_rows
from lab.documents import document
from lab.facts import Identity, Sentence, entailed_sentences, syllogistic_conclusions
from lab.language import Language
from lab.random_worlds import random_chains, random_facts, random_hierarchy, random_templates

# Part of every checkpoint's cache key: bump it whenever the text that a config
# produces changes (a sentence template, the document layout, what is drawn), so
# that no checkpoint pretrained on the old text is reused.
TEXT_FORMAT = 2


@dataclass(frozen=True)
class CorpusConfig:
    """The mixture of pretraining documents."""

    min_facts: int = 1
    # More than a `reversal_curse` world states (5 sentences): in-context binding does
    # not reach past the longest document seen in pretraining.
    max_facts: int = 6
    identity_share: float = 0.5  # share of facts that are `NAME is the DESCRIPTION`
    reversal_share: float = 0.5  # share of derived statements that reverse their fact
    forward_identity_share: float = 0.5  # share of identity facts stated name-first
    # Share of identity facts also stated in the other direction among the facts, as
    # set B of `reversal_curse` is. Off: it teaches the verbatim copy, not the reversal.
    two_way_identity_share: float = 0.0
    # Share of relational documents whose facts are all of one kind (all identities with
    # probability identity_share, else all comparisons): there only names tell facts
    # apart, so every statement trains binding a name to its fact, not finding it by kind.
    one_kind_share: float = 1.0
    # Share of documents that are syllogism documents: they teach drawing conclusions
    # from premises in context, at little cost to reversal.
    syllogism_share: float = 0.4
    # Share of documents that are semantic hierarchies with properties; off by default.
    semantic_share: float = 0.0
    # Syllogism and semantic documents join the mixture at this step, so that binding a
    # name to its fact (the slow skill, see curriculum_steps) forms first.
    mixed_from_step: int = 2000
    semantic_max_facts: int = 8  # fact sentences in a semantic document, as in a test world
    max_statements: int = 4  # derived statements per document (fewer if they do not fit)
    loss_on: Literal["inference", "all"] = "inference"
    seq_len: int = 96  # tokens per training row, documents are right-padded to it
    # Ramp max_facts up from min_facts over these steps: few facts per document
    # give a strong gradient toward binding a name to its fact before it must
    # pick that fact out of many.
    curriculum_steps: int = 1500

    def __post_init__(self):
        if not 1 <= self.min_facts <= self.max_facts:
            raise ValueError(
                f"corpus.min_facts ({self.min_facts}) must be >= 1 and <= corpus.max_facts ({self.max_facts})"
            )
        for field in (
            "identity_share", "reversal_share", "forward_identity_share", "two_way_identity_share", "one_kind_share",
            "syllogism_share", "semantic_share",
        ):
            if not 0.0 <= getattr(self, field) <= 1.0:
                raise ValueError(f"corpus.{field} must lie in [0, 1], got {getattr(self, field)}")
        if self.syllogism_share + self.semantic_share > 1.0:
            raise ValueError(
                f"corpus.semantic_share ({self.semantic_share}) plus corpus.syllogism_share "
                f"({self.syllogism_share}) must be <= 1: they are shares of one mixture of documents; "
                f"lower one of them (syllogism_share is {CorpusConfig.syllogism_share} by default)"
            )
        if self.loss_on not in ("inference", "all"):
            raise ValueError(f"corpus.loss_on must be 'inference' or 'all', got {self.loss_on!r}")
        if self.max_statements < 1:
            raise ValueError(f"corpus.max_statements must be >= 1, got {self.max_statements}")
        if self.mixed_from_step < 0:
            raise ValueError(f"corpus.mixed_from_step must be >= 0, got {self.mixed_from_step}")
        if self.semantic_max_facts < 2:
            raise ValueError(f"corpus.semantic_max_facts must be >= 2 (a hierarchy has 2 categories), got {self.semantic_max_facts}")

    def check_fits(self, lang: Language) -> None:
        """Raise unless a document with `max_facts` facts and one statement fits `seq_len`.

        A syllogism or semantic document has at most `max_facts` fact sentences, each
        no longer than `max_sentence_length`, so the relational bound covers it.
        """
        longest = max_sentence_length(lang)
        fact_sentences = self.max_facts * (2 if self.two_way_identity_share > 0 else 1)
        need = (fact_sentences + 1) * longest + 3  # <bos>, so, <eos>
        if need > self.seq_len:
            raise ValueError(
                f"corpus.seq_len={self.seq_len} cannot hold a document of corpus.max_facts="
                f"{self.max_facts} facts (needs {need} tokens, two-way identities stated twice); "
                "raise seq_len or lower max_facts"
            )
        semantic_need = (self.semantic_max_facts + 1) * (2 * lang.config.name_length + 5) + 3  # `A are a type of B .`
        if self.semantic_share > 0 and semantic_need > self.seq_len:
            raise ValueError(
                f"corpus.seq_len={self.seq_len} cannot hold a semantic document of corpus.semantic_max_facts="
                f"{self.semantic_max_facts} facts (needs {semantic_need} tokens); raise seq_len or lower semantic_max_facts"
            )


def max_sentence_length(lang: Language) -> int:
    """Tokens in the longest sentence the corpus can produce."""
    n = lang.config.name_length
    identity, comparison = 3 * n + 4, 2 * n + 5  # `A is the X of Y .`, `A are more ADJ than B .`
    inclusion = 2 * n + 5  # `A are a type of B .`, the longest of INCLUSION_TEMPLATES
    property_ = 2 * n + 3  # `all A have P .`, the longest of PROPERTY_TEMPLATES
    return max(identity, comparison, inclusion, property_)


def _leading_fit(statements: Sequence[Sentence], budget: int, max_statements: int) -> list[Sentence]:
    """The first statements, at most `max_statements`, up to the first that overflows `budget` tokens."""
    out = []
    for s in statements[:max_statements]:
        if len(s) > budget:
            break
        out.append(s)
        budget -= len(s)
    return out


class Corpus:
    """Seeded generator of pretraining batches."""

    def __init__(self, lang: Language, config: CorpusConfig, seed: int):
        config.check_fits(lang)
        self.lang, self.config = lang, config
        self.rng = np.random.default_rng(seed)

    def max_facts_at(self, step: int) -> int:
        c = self.config
        if c.curriculum_steps <= 0 or step >= c.curriculum_steps:
            return c.max_facts
        return c.min_facts + int((c.max_facts - c.min_facts) * step / c.curriculum_steps)

    def sample_document(self, max_facts: int, mixed: bool = True) -> tuple[list[int], list[float]]:
        """Tokens and loss weights of one document of at most `max_facts` facts.

        Not `mixed`: a relational document whatever the shares.
        """
        c, rng = self.config, self.rng
        kind = rng.random() if mixed else 1.0  # one number picks the kind of document
        if kind < c.syllogism_share:
            fact_sentences, inferences = self._syllogism_text(max_facts)
        elif kind < c.syllogism_share + c.semantic_share:
            fact_sentences, inferences = self._semantic_text(c.semantic_max_facts)
        else:
            fact_sentences, inferences = self._relational_text(max_facts)
        tokens, weights = document(self.lang, fact_sentences, inferences)
        if c.loss_on == "all":
            weights = [1.0] * len(tokens)
        return tokens, weights

    def _syllogism_text(self, max_facts: int) -> tuple[list[Sentence], list[Sentence]]:
        """Premises (shuffled chains), then conclusions before restatements.

        At least two premises whenever `max_facts` allows, since one premise has no
        conclusion. Conclusions go first so that they, the skill this document
        exists for, are what `max_statements` and the length budget keep.
        """
        c, lang, rng = self.config, self.lang, self.rng
        low = min(max_facts, max(2, c.min_facts))
        premises = random_chains(lang, rng, int(rng.integers(low, max_facts + 1)), held_out=False)
        premises = [premises[i] for i in rng.permutation(len(premises))]
        conclusions = syllogistic_conclusions(premises)
        statements = [conclusions[i].sentence(lang) for i in rng.permutation(len(conclusions))]
        statements += [premises[i].restatement(lang) for i in rng.permutation(len(premises))]
        fact_sentences = [p.sentence(lang) for p in premises]
        budget = c.seq_len - sum(map(len, fact_sentences)) - 3
        return fact_sentences, _leading_fit(statements, budget, c.max_statements)

    def _semantic_text(self, max_facts: int) -> tuple[list[Sentence], list[Sentence]]:
        """A hierarchy of 2 to 5 categories with properties, then what follows from it.

        The facts (inclusions and properties, `max_facts` at most, at least two when
        `max_facts` allows) are stated in random templates and shuffled. The derived
        statements are every entailed sentence not stated verbatim (rephrasings,
        `include` reversals, chained inclusions, inherited properties) in random
        order, then the verbatim restatements, so `max_statements` keeps inferences.
        """
        c, lang, rng = self.config, self.lang, self.rng
        n_facts = int(rng.integers(min(max_facts, max(2, c.min_facts)), max_facts + 1))
        n_categories = int(rng.integers(2, min(5, n_facts + 1) + 1))  # its tree has n_categories - 1 inclusions
        facts = random_hierarchy(lang, rng, n_categories, n_facts - (n_categories - 1), held_out=False)
        stated = [f.say(lang, t) for f, t in zip(facts, random_templates(rng, facts))]
        fact_sentences = [stated[i] for i in rng.permutation(len(stated))]
        derived = sorted(entailed_sentences(lang, facts) - set(stated))  # sorted: sets have no seeded order
        statements = [derived[i] for i in rng.permutation(len(derived))]
        statements += [stated[i] for i in rng.permutation(len(stated))]
        budget = c.seq_len - sum(map(len, fact_sentences)) - 3
        return fact_sentences, _leading_fit(statements, budget, c.max_statements)

    def _relational_text(self, max_facts: int) -> tuple[list[Sentence], list[Sentence]]:
        """Comparison and identity facts, then restatements and reversals of some of them."""
        c, lang, rng = self.config, self.lang, self.rng
        n_facts, identity_share = int(rng.integers(c.min_facts, max_facts + 1)), c.identity_share
        if rng.random() < c.one_kind_share:
            identity_share = float(rng.random() < c.identity_share)
        facts = random_facts(lang, rng, n_facts, identity_share, c.forward_identity_share, held_out=False)
        fact_sentences = [f.sentence(lang) for f in facts]
        if c.two_way_identity_share > 0:  # a second statement of some identities, shuffled in
            both_ways = [f.reversal(lang) for f in facts if isinstance(f, Identity) and rng.random() < c.two_way_identity_share]
            fact_sentences = [(fact_sentences + both_ways)[i] for i in rng.permutation(len(fact_sentences) + len(both_ways))]
        budget = c.seq_len - sum(map(len, fact_sentences)) - 3
        inferences = []
        for i in rng.permutation(len(facts))[: c.max_statements]:
            fact = facts[i]
            s = fact.reversal(lang) if rng.random() < c.reversal_share else fact.restatement(lang)
            if len(s) > budget:
                break
            inferences.append(s)
            budget -= len(s)
        return fact_sentences, inferences

    def batch(self, batch_size: int, step: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """tokens int32[batch, seq_len] and loss weights float32[batch, seq_len]."""
        mixed = step >= self.config.mixed_from_step
        docs = [self.sample_document(self.max_facts_at(step), mixed) for _ in range(batch_size)]
        tokens = pad_rows([d[0] for d in docs], self.config.seq_len, self.lang.pad, np.int32)
        weights = pad_rows([d[1] for d in docs], self.config.seq_len, 0.0, np.float32)
        return tokens, weights

    def chunk(self, batch_size: int, steps: int, first_step: int) -> tuple[np.ndarray, np.ndarray]:
        """The batches of `steps` consecutive steps: int32/float32[steps, batch, seq_len]."""
        batches = [self.batch(batch_size, first_step + i) for i in range(steps)]
        return np.stack([t for t, _ in batches]), np.stack([w for _, w in batches])
