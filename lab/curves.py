"""Learning curves: the in-context skills of a model measured while it pretrains.

Every `CurvesConfig.every` steps the model is scored in context on held-out
worlds of each dataset the mixture is for (the study's `icl` condition, on
worlds of evaluation seeds the study does not use) and on the binding probe
(`lab.binding`), and the rows go to the checkpoint's `curves.csv`
(`lab.pretraining.pretrained_model`). Measuring reads the parameters only: the
model is the same with or without it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from lab.binding import probe
from lab.datasets import Dataset
from lab.language import Language
from lab.study import icl_correct

CURVES_FILE = "curves.csv"


@dataclass(frozen=True)
class CurvesConfig:
    every: int = 1000  # pretraining steps between measurements (a multiple of optim.steps_per_dispatch); 0: none
    # Evaluation seed of the measured worlds: far from the study's seeds 0, 1, ..., so no
    # world the study reports is one the curves were watched on.
    seed: int = 10_000
    probe_worlds: int = 50  # binding probe worlds (4 name-first identities each)

    def __post_init__(self):
        if self.every < 0 or self.probe_worlds < 1:
            raise ValueError(f"curves.every must be >= 0 and curves.probe_worlds >= 1, got {self.every}, {self.probe_worlds}")


def in_context_skills(
    config: CurvesConfig, lang: Language, builders: Mapping[str, Callable[[int], Dataset]], seq_len: int,
):
    """graphdef -> (params -> {"DATASET SPLIT": in-context accuracy, ..., "binding probe": accuracy}).

    The worlds are built only when a pretraining asks for its measure (not for a cached model).
    """

    def for_model(graphdef):
        datasets = {name: build(config.seed) for name, build in builders.items()}  # the same worlds at every step

        def measure(params) -> dict[str, float]:
            row = {f"{name} {split}": float(icl_correct(graphdef, params, lang, d, split, seq_len).mean())
                   for name, d in datasets.items() for split in d.splits}
            rng = np.random.default_rng(config.seed)
            row["binding probe"] = probe(graphdef, params, lang, 4, True, config.probe_worlds, seq_len, rng)[1]
            return row

        return measure

    return for_model


def read_curves(checkpoint: Path) -> list[dict[str, float]]:
    """The learning curve saved beside a checkpoint ([] if it was pretrained without one)."""
    path = Path(checkpoint) / CURVES_FILE
    if not path.exists():
        return []
    with open(path, newline="") as f:
        try:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path} is malformed ({e}); delete it, or rebuild the checkpoint with --rebuild-checkpoint") from None
