"""Pretrained models, saved with orbax and cached by a hash of what made them.

A pretrained model is fully determined by a `PretrainConfig` (language, corpus,
model, optimizer, seed) and the version of the text format (`corpus.TEXT_FORMAT`).
Its checkpoint lives in `<cache_dir>/<hash>/` beside the config it was trained
with; loading checks that config against the requested one and refuses a
mismatch, naming the fields that differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx

from lab.corpus import TEXT_FORMAT, Corpus, CorpusConfig
from lab.language import Language, LanguageConfig
from lab.model import ModelConfig, init_model
from lab.train import OptimConfig, pretrain


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines a pretrained model."""

    language: LanguageConfig = LanguageConfig()
    corpus: CorpusConfig = CorpusConfig()
    model: ModelConfig = ModelConfig()
    # 20,000 steps: on one-kind documents in-context binding grows with training on every
    # seed measured, and at 4,000 steps it has barely begun (docs/earlier_models.md,
    # "Across pretraining seeds"); 12,000 were enough for relational documents alone, and
    # the syllogism documents of the default mixture need the rest (in context 0.75 at
    # 16,000 steps, 0.91 at 20,000: README, "Syllogisms in context").
    optim: OptimConfig = OptimConfig(steps=20_000)
    seed: int = 0  # initialization and corpus stream

    def check(self) -> None:
        """Raise if the parts do not fit together."""
        lang = Language(self.language)
        if self.model.vocab_size < lang.vocab_size:
            raise ValueError(
                f"model.vocab_size={self.model.vocab_size} is smaller than the language's "
                f"{lang.vocab_size} tokens; raise model.vocab_size"
            )
        if self.corpus.seq_len > self.model.seq_len:
            raise ValueError(
                f"corpus.seq_len={self.corpus.seq_len} exceeds model.seq_len={self.model.seq_len}; make them equal"
            )
        self.corpus.check_fits(lang)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"text_format": TEXT_FORMAT}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def config_differences(saved: dict, wanted: dict, holder: str = "checkpoint", prefix: str = "") -> list[str]:
    """`field: <holder> has A, config asks for B` for every leaf where two config dicts differ."""
    out = []
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, holder, f"{prefix}{key}.")
        elif a != b and not (isinstance(a, list) and tuple(a) == b):
            out.append(f"{prefix}{key}: {holder} has {a!r}, config asks for {b!r}")
    return out


def save_pretrained(directory: Path, config: PretrainConfig, params: nnx.State, losses: np.ndarray) -> None:
    """Write checkpoint, config and loss curve; atomic, so a crash leaves no half checkpoint."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save((staging / "params").absolute(), nnx.to_pure_dict(params))
    checkpointer.wait_until_finished()
    (staging / "config.json").write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    np.save(staging / "losses.npy", losses)
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(staging, directory)


def load_pretrained(directory: Path, config: PretrainConfig):
    """(graphdef, params) saved in `directory`, provided they were made by `config`."""
    directory = Path(directory)
    config_file = directory / "config.json"
    if not config_file.exists():
        raise FileNotFoundError(f"{directory} holds no pretrained checkpoint (no config.json)")
    saved = json.loads(config_file.read_text())
    wanted = json.loads(json.dumps(config.to_dict()))
    if saved != wanted:
        raise ValueError(
            f"checkpoint {directory} does not match the requested config:\n  "
            + "\n  ".join(config_differences(saved, wanted))
            + "\npretrain anew (a different --cache-dir) or ask for the config it was made with"
        )
    graphdef, params = init_model(config.model, config.seed)
    restored = ocp.StandardCheckpointer().restore((directory / "params").absolute(), nnx.to_pure_dict(params))
    nnx.replace_by_pure_dict(params, restored)
    return graphdef, params


def pretrained_model(config: PretrainConfig, cache_dir: Path = Path("checkpoints"), progress: bool = True):
    """(graphdef, params): loaded from the cache if this config was trained before, else trained now."""
    config.check()
    directory = Path(cache_dir) / config.digest()
    if (directory / "config.json").exists():
        return load_pretrained(directory, config)
    lang = Language(config.language)
    graphdef, params = init_model(config.model, config.seed)
    params, losses = pretrain(graphdef, params, Corpus(lang, config.corpus, config.seed), config.optim, progress)
    save_pretrained(directory, config, params, losses)
    return graphdef, jax.device_get(params)
