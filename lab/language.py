"""The synthetic language: a closed vocabulary, a tokenizer, and nonsense names.

Text is space-separated words. Function words, relation words and punctuation are
one token each. A *name* is a nonsense word made of `name_length` syllables, each
syllable a token, so "zumo" is the two tokens `zu mo`. The space of all names is
split once, by the language seed, into a pretraining pool and a held-out pool:
evaluation worlds draw only held-out names, so their token sequences never occur
in pretraining while every syllable does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")
FUNCTION_WORDS = (
    ".", "are", "is", "the", "a", "of", "than", "more", "less", "so",
    "all", "some", "no", "include", "type", "have", "can", "and", "not",
)
# Comparison adjectives; the paper used 28.
ADJECTIVES = (
    "dangerous", "big", "fast", "heavy", "old", "strong", "bright", "loud",
    "tall", "warm", "soft", "sharp", "rare", "smart", "wild", "calm",
    "dark", "cold", "rich", "deep", "long", "wide", "thick", "young",
    "brave", "quiet", "sweet", "round",
)
CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
SYLLABLE_CHARS = 2

Name = tuple[int, ...]


@dataclass(frozen=True)
class LanguageConfig:
    """What fixes the language: name shape and the pretraining / held-out split."""

    name_length: int = 2  # syllables (tokens) per name
    held_out_fraction: float = 0.25  # share of all names kept out of pretraining
    seed: int = 0  # fixes the pool split; change it and every checkpoint is new
    # Names within one world share no syllable, so any syllable identifies its name:
    # this eases in-context retrieval and does not touch what fine-tuning can learn.
    distinct_syllables: bool = True

    def __post_init__(self):
        if self.name_length < 1:
            raise ValueError(f"language.name_length must be >= 1, got {self.name_length}")
        if not 0.0 < self.held_out_fraction < 1.0:
            raise ValueError(
                "language.held_out_fraction must lie strictly between 0 and 1, "
                f"got {self.held_out_fraction}"
            )


class Language:
    """Vocabulary, tokenizer and the two name pools of one `LanguageConfig`."""

    def __init__(self, config: LanguageConfig = LanguageConfig()):
        self.config = config
        words = SPECIAL_TOKENS + FUNCTION_WORDS + ADJECTIVES
        syllables = tuple(
            c + v for c, v in itertools.product(CONSONANTS, VOWELS) if c + v not in words
        )
        self.words: tuple[str, ...] = words + syllables
        self.token_id: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        self.syllable_ids: tuple[int, ...] = tuple(self.token_id[s] for s in syllables)
        self._syllable_set = frozenset(self.syllable_ids)
        self.pad, self.bos, self.eos = (self.token_id[t] for t in SPECIAL_TOKENS)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        """Token id of a single vocabulary word."""
        try:
            return self.token_id[word]
        except KeyError:
            raise ValueError(f"{word!r} is not a word of the language") from None

    # --- names -----------------------------------------------------------------
    @cached_property
    def _name_pools(self) -> tuple[np.ndarray, np.ndarray]:
        all_names = np.array(
            list(itertools.product(self.syllable_ids, repeat=self.config.name_length)),
            dtype=np.int32,
        )
        order = np.random.default_rng(self.config.seed).permutation(len(all_names))
        n_held_out = max(1, round(self.config.held_out_fraction * len(all_names)))
        return all_names[order[n_held_out:]], all_names[order[:n_held_out]]

    @property
    def pretraining_names(self) -> np.ndarray:
        """int32[n_names, name_length]: names that pretraining documents may use."""
        return self._name_pools[0]

    @property
    def held_out_names(self) -> np.ndarray:
        """int32[n_names, name_length]: names reserved for evaluation worlds."""
        return self._name_pools[1]

    def sample_names(self, rng: np.random.Generator, n: int, held_out: bool) -> list[Name]:
        """`n` distinct names from one pool (sharing no syllable if the config says so)."""
        pool = self.held_out_names if held_out else self.pretraining_names
        syllables_needed = n * self.config.name_length
        if n > len(pool):
            which, fix = ("held-out", "raise") if held_out else ("pretraining", "lower")
            raise ValueError(
                f"a world needs {n} distinct names but the {which} pool has {len(pool)} "
                f"(language.held_out_fraction={self.config.held_out_fraction}); {fix} language.held_out_fraction, "
                "raise language.name_length, or use smaller worlds"
            )
        if self.config.distinct_syllables and syllables_needed > len(self.syllable_ids):
            raise ValueError(
                f"a world needs {n} names of distinct syllables ({syllables_needed}) but the language has "
                f"{len(self.syllable_ids)}; use smaller worlds, or set language.distinct_syllables=False"
            )
        if not self.config.distinct_syllables:
            return [tuple(pool[i].tolist()) for i in rng.choice(len(pool), n, replace=False)]
        names: list[Name] = []
        used: set[int] = set()
        for attempt in range(1000 * n):
            name = tuple(pool[rng.integers(len(pool))].tolist())
            if used.isdisjoint(name) and len(set(name)) == len(name):
                names.append(name)
                used.update(name)
                if len(names) == n:
                    return names
        raise ValueError(
            f"could not draw {n} names with distinct syllables from the {'held-out' if held_out else 'pretraining'} "
            f"pool of {len(pool)} (language.held_out_fraction={self.config.held_out_fraction}); use smaller worlds, "
            "a held_out_fraction that leaves this pool more names, or language.distinct_syllables=False"
        )

    # --- text <-> tokens --------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of space-separated text; a name splits into its syllables."""
        ids = []
        for word in text.split():
            if word in self.token_id:
                ids.append(self.token_id[word])
                continue
            chunks = [word[i : i + SYLLABLE_CHARS] for i in range(0, len(word), SYLLABLE_CHARS)]
            is_name = (
                len(word) == SYLLABLE_CHARS * self.config.name_length
                and all(self.token_id.get(c) in self._syllable_set for c in chunks)
            )
            if not is_name:
                raise ValueError(f"{word!r} is neither a word nor a name of the language")
            ids.extend(self.token_id[c] for c in chunks)
        return ids

    def decode(self, ids) -> str:
        """Text of token ids; each `name_length` consecutive syllables make one name, padding is dropped."""
        words: list[str] = []
        syllables_in_name = 0  # of the name being spelled, 0 when the last token was no syllable
        for i in (int(i) for i in ids):
            if i == self.pad:
                continue
            if i in self._syllable_set and 0 < syllables_in_name < self.config.name_length:
                words[-1] += self.words[i]
                syllables_in_name += 1
            else:
                words.append(self.words[i])
                syllables_in_name = 1 if i in self._syllable_set else 0
        return " ".join(words)
