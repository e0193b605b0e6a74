"""Shared tiny fixtures for the unit tests.

Nothing here trains a model: tests/science/conftest.py owns the pretrained one.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import jax
import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run: CI stays deterministic.
settings.register_profile("lab", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("lab")

from lab.conditions import FinetuneConfig
from lab.datasets import ReversalCurseConfig, ReversalsConfig, SemanticStructureConfig, SyllogismsConfig
from lab.language import Language, LanguageConfig
from lab.model import ModelConfig, init_model
from lab.pretraining import PretrainConfig
from lab.train import OptimConfig

# Learned positions compile noticeably faster than rope on CPU; test_model.py covers every scheme.
TINY_MODEL = ModelConfig(vocab_size=128, seq_len=32, n_layers=1, d_model=16, n_heads=2, d_ff=32, positional="learned")


@pytest.fixture(scope="session")
def lang() -> Language:
    """A language of 2-syllable names, 25% held out (spelled out: tests must not follow the defaults)."""
    return Language(LanguageConfig(name_length=2, held_out_fraction=0.25, seed=0, distinct_syllables=True))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_model_config() -> ModelConfig:
    return TINY_MODEL


@pytest.fixture(scope="session")
def tiny_model(tiny_model_config):
    """(graphdef, params) of a freshly initialized tiny transformer. Do not mutate."""
    return init_model(tiny_model_config, seed=0)


@pytest.fixture
def name_runs(lang):
    """tokens -> the maximal runs of consecutive syllable tokens, i.e. the names in them."""
    syllables = set(lang.syllable_ids)

    def runs(tokens) -> list[tuple[int, ...]]:
        out, current = [], []
        for t in (int(t) for t in tokens):
            if t in syllables:
                current.append(t)
            elif current:
                out.append(tuple(current))
                current = []
        if current:
            out.append(tuple(current))
        return out

    return runs


class _CompileLog(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    @property
    def count(self) -> int:
        """Number of XLA compilations logged so far."""
        return sum(m.startswith("Compiling ") for m in self.messages)


@pytest.fixture
def count_compiles():
    """`with count_compiles() as log: ...` then `log.count` is the number of jit compilations inside."""

    @contextmanager
    def counting():
        log = _CompileLog()
        logger = logging.getLogger("jax")
        logger.addHandler(log)
        try:
            with jax.log_compiles():
                yield log
        finally:
            logger.removeHandler(log)

    return counting


@pytest.fixture(scope="session")
def barely_pretrained() -> PretrainConfig:
    """A pretraining config of a tiny model and 2 steps: experiment scripts end to end in seconds."""
    return PretrainConfig(
        model=ModelConfig(vocab_size=128, seq_len=96, n_layers=1, d_model=16, n_heads=2, positional="learned"),
        optim=OptimConfig(steps=2, warmup_steps=0, batch_size=2, steps_per_dispatch=2),
    )


@pytest.fixture(scope="session")
def barely_finetuned() -> FinetuneConfig:
    """Fine-tuning of 2 steps on 2 orderings: the FT conditions of experiment scripts in seconds."""
    return FinetuneConfig(optim=OptimConfig(steps=2, warmup_steps=0, batch_size=2, steps_per_dispatch=2), orderings=2)


@pytest.fixture(scope="session")
def tiny_worlds() -> dict:
    """Each dataset's config at two worlds, the fewest facts each takes: experiment configs take them by name."""
    return {
        "reversals": ReversalsConfig(n_worlds=2, facts_per_world=2),
        "reversal_curse": ReversalCurseConfig(n_worlds=2, one_way_per_world=2, two_way_per_world=1, n_options=3),
        "syllogisms": SyllogismsConfig(n_worlds=2, chains_per_world=1),
        "semantic_structure": SemanticStructureConfig(n_worlds=2),
    }


# --- pretraining documents, read back ----------------------------------------------

def _sample_documents(lang, config, n, seed=0):
    """`n` documents (tokens, weights) of a corpus of `config`, at its largest number of facts."""
    from lab.corpus import Corpus

    corpus = Corpus(lang, config, seed)
    return [corpus.sample_document(config.max_facts) for _ in range(n)]


def _split_sentences(lang, tokens):
    """Sentences (tuples ending in '.') of a token run."""
    sentences, current = [], []
    for t in tokens:
        current.append(t)
        if t == lang.id("."):
            sentences.append(tuple(current))
            current = []
    assert not current, "text must end with a full stop"
    return sentences


def _parse_document(lang, tokens):
    """(fact sentences, derived sentences) of `<bos> facts so derived <eos>`."""
    tokens = [int(t) for t in tokens]
    assert tokens[0] == lang.bos and tokens[-1] == lang.eos and tokens.count(lang.id("so")) == 1
    so = tokens.index(lang.id("so"))
    return _split_sentences(lang, tokens[1:so]), _split_sentences(lang, tokens[so + 1 : -1])


@pytest.fixture(scope="session")
def sample_documents():
    return _sample_documents


@pytest.fixture(scope="session")
def split_sentences():
    return _split_sentences


@pytest.fixture(scope="session")
def parse_document():
    return _parse_document
