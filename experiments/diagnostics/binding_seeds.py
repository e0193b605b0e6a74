"""Does a pretraining recipe learn in-context binding for every seed, or for a lucky one?

Pretrains one model per pretraining seed (its initialization and data seed both), all at
once (`lab.pretraining.pretrain_runs`:
vmapped, split across devices), then measures each model in context:

    binding probe:  greedy `the X of Y is` -> NAME after name-first identity facts
                    (experiments/diagnostics/binding_probe.py's first table, one row)
    icl:            the study's ICL accuracy on `reversal_curse`, `reversals` and
                    `syllogisms`, each split, mean over evaluation seeds

and prints one row per seed and their mean, which it also writes to
`OUT/binding_seeds.{csv,md}`; a rerun of the same config reads them back instead of
pretraining again. The models are not cached: a batched run rounds differently from
`pretrain`'s one-model path, and in-context binding is sensitive to rounding, so they
are not the checkpoints other experiments load.

    python experiments/diagnostics/binding_seeds.py
    XLA_FLAGS=--xla_force_host_platform_device_count=2 python experiments/diagnostics/binding_seeds.py \\
        --pretrain.optim.steps 8000 --out runs/binding_seeds_8k
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from experiments import cli
from lab.binding import probe
from lab.corpus import Corpus
from lab.datasets import Dataset, ReversalCurseConfig, ReversalsConfig, SyllogismsConfig, dataset_builders
from lab.language import Language
from lab.model import init_model
from lab.pretraining import PretrainConfig, pretrain_runs, stack_runs
from lab.results import claim_output_folder, write_atomically, write_csv
from lab.study import icl_correct

DATASETS = ("reversal_curse", "reversals", "syllogisms")


@dataclass(frozen=True)
class Config:
    pretrain: PretrainConfig = PretrainConfig()  # its init_seed and data_seed are replaced by each of pretrain_seeds
    pretrain_seeds: tuple[int, ...] = (0, 1, 2, 3)  # each the init seed and the data seed of one model
    reversals: ReversalsConfig = ReversalsConfig()
    reversal_curse: ReversalCurseConfig = ReversalCurseConfig()
    syllogisms: SyllogismsConfig = SyllogismsConfig()
    eval_seeds: int = 5  # datasets per model, seeds 0 .. eval_seeds - 1
    worlds: int = 200  # binding probe worlds per model
    probe_facts: int = 4  # name-first identity facts per probe world
    out: Path = Path("runs/binding_seeds")
    progress: bool = True

    def __post_init__(self):
        if not self.pretrain_seeds or len(set(self.pretrain_seeds)) != len(self.pretrain_seeds):
            raise ValueError(f"pretrain_seeds must be distinct and at least one, got {self.pretrain_seeds}")
        for field in ("eval_seeds", "worlds", "probe_facts"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")


def evaluation_datasets(config: Config, lang: Language) -> dict[str, list[Dataset]]:
    """Each dataset at evaluation seeds 0 .. eval_seeds - 1: the same worlds for every model."""
    return {name: [build(seed) for seed in range(config.eval_seeds)]
            for name, build in dataset_builders(config, lang, DATASETS).items()}


def pretrain_models(config: Config, lang: Language):
    """(graphdef, params with a leading seeds axis, float32[seeds, steps] losses)."""
    inits = [init_model(config.pretrain.model, seed) for seed in config.pretrain_seeds]
    graphdef, params_R = inits[0][0], stack_runs([params for _, params in inits])
    corpora = [Corpus(lang, config.pretrain.corpus, seed) for seed in config.pretrain_seeds]
    params_R, losses = pretrain_runs(graphdef, params_R, corpora, config.pretrain.optim, progress=config.progress)
    return graphdef, jax.device_get(params_R), losses


def measure(config: Config, graphdef, params, lang: Language, datasets: dict[str, list[Dataset]]) -> dict[str, float]:
    """The binding probe and each dataset split's ICL accuracy of one model."""
    seq_len = config.pretrain.model.seq_len
    rng = np.random.default_rng(0)
    row = {"binding probe": probe(graphdef, params, lang, config.probe_facts, True, config.worlds, seq_len, rng)[1]}
    for name, seeded in datasets.items():
        for split in seeded[0].splits:
            row[f"{name} {split}"] = float(np.mean([icl_correct(graphdef, params, lang, d, split, seq_len).mean() for d in seeded]))
    return row


def main(config: Config) -> list[dict[str, float]]:
    config.pretrain.check()
    # A folder of another config is refused, never overwritten. So is one measured on
    # another number of devices: the seeds' batched models round by how they are split.
    claim_output_folder(config.out, config, setting={"devices": jax.device_count()})
    csv_path = config.out / "binding_seeds.csv"
    if csv_path.exists():  # this config's models were measured already
        rows = read_rows(csv_path)
        print(f"read {csv_path}, measured by an earlier run of this config")
    else:
        rows = measure_seeds(config)
        write_csv(csv_path, list(rows[0]), rows)
    table = markdown(rows)
    write_atomically(config.out / "binding_seeds.md", table + "\n")
    print(table)
    return rows


def measure_seeds(config: Config) -> list[dict[str, float]]:
    """Pretrain a model per seed, then measure each: one row per seed."""
    lang = Language(config.pretrain.language)
    datasets = evaluation_datasets(config, lang)  # before pretraining: worlds that do not fit fail at start
    start = time.perf_counter()
    graphdef, params_R, losses = pretrain_models(config, lang)
    pretrained = time.perf_counter()
    rows = []
    for r, seed in enumerate(config.pretrain_seeds):
        params = jax.tree.map(lambda x: x[r], params_R)
        rows.append({"pretrain seed": seed, **measure(config, graphdef, params, lang, datasets), "final loss": float(losses[r, -100:].mean())})
    print(f"\nICL: mean over {config.eval_seeds} evaluation seeds; probe: {config.worlds} worlds of "
          f"{config.probe_facts} name-first facts, greedy. Pretraining {pretrained - start:.0f} s, "
          f"measuring {time.perf_counter() - pretrained:.0f} s.")
    return rows


def markdown(rows: list[dict[str, float]]) -> str:
    """A line per pretraining seed, then their mean."""
    columns = list(rows[0])[1:]
    lines = [f"| pretrain seed | {' | '.join(columns)} |", "|---" + "|---" * len(columns) + "|"]
    lines += [f"| {row['pretrain seed']} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |" for row in rows]
    lines.append("| mean | " + " | ".join(f"{np.mean([row[c] for row in rows]):.2f}" for c in columns) + " |")
    return "\n".join(lines)


def read_rows(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: int(v) if k == "pretrain seed" else float(v) for k, v in row.items()} for row in csv.DictReader(f)]


if __name__ == "__main__":
    cli.run(main, Config)
