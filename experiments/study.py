"""The whole study: every dataset × split × condition over N evaluation seeds.

New facts about held-out names are taught in context (`icl`) or by fine-tuning on
exactly the same text: as whole documents (`ft`), one sentence per example
(`ft_split`), or with statements added that the pretrained model itself inferred
in context (`ft_aug_local`, `ft_aug_global`) or that a rule wrote from the ground
truth (`ft_aug_oracle`, the upper bound).

Pretrain (or load the cached model) -> per (dataset, condition), all pending seeds
in one batched program -> results.csv (written after each cell, so an interrupted
run resumes where it stopped), summary.md and the figure in --out, the figure also
at --plot.

    python experiments/study.py
    python experiments/study.py --seeds 2 --conditions icl ft ft_aug_local --datasets reversals
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from experiments import cli
from lab.augment import AugmentConfig
from lab.compile_cache import enable_compilation_cache
from lab.conditions import FinetuneConfig
from lab.curves import CurvesConfig, in_context_skills, read_curves
from lab.datasets import (
    BUILDERS, ReversalCurseConfig, ReversalsConfig, SemanticStructureConfig, SyllogismsConfig, dataset_builders,
)
from lab.devices import initialize_distributed
from lab.language import Language
from lab.model import init_model
from lab.plots import accuracy_bars, learning_curves
from lab.pretraining import PretrainConfig, pretrained_model
from lab.results import ResultsTable, claim_output_folder, markdown_table, summarize, wide_table, write_atomically
from lab.study import CONDITIONS, run_pending_cells
from lab.train import trainable_labels

DATASETS = tuple(BUILDERS)  # reversals, reversal_curse, syllogisms, semantic_structure


def curve_datasets(pretrain: PretrainConfig) -> tuple[str, ...]:
    """The datasets whose skills the pretraining mixture is for: the learning curve watches these."""
    return ("reversals", "reversal_curse") + ("syllogisms",) * (pretrain.corpus.syllogism_share > 0) + (
        ("semantic_structure",) * (pretrain.corpus.semantic_share > 0))


@dataclass(frozen=True)
class Config:
    pretrain: PretrainConfig = PretrainConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    augment: AugmentConfig = AugmentConfig()
    reversals: ReversalsConfig = ReversalsConfig()
    reversal_curse: ReversalCurseConfig = ReversalCurseConfig()
    syllogisms: SyllogismsConfig = SyllogismsConfig()
    semantic_structure: SemanticStructureConfig = SemanticStructureConfig()
    curves: CurvesConfig = CurvesConfig()  # what a new pretraining measures as it goes (not a cached one)
    datasets: tuple[str, ...] = DATASETS
    conditions: tuple[str, ...] = CONDITIONS
    seeds: int = 5  # evaluation seeds: worlds, fine-tuning batches, sampled augmentations
    first_seed: int = 0
    out: Path = Path("runs/study")
    cache_dir: Path = Path("checkpoints")  # pretrained models, keyed by config hash
    rebuild_checkpoint: bool = False  # pretrain anew even if the cache holds this model (a damaged one, say)
    plot: Path = Path("plots/study.png")  # the figure, also written into --out under the same name
    curves_plot: Path = Path("plots/learning_curves.png")  # the model's learning curves, also into --out
    progress: bool = True

    def __post_init__(self):
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        for field, chosen, known in (("datasets", self.datasets, DATASETS), ("conditions", self.conditions, CONDITIONS)):
            unknown = [c for c in chosen if c not in known]
            if unknown or not chosen:
                raise ValueError(f"{field} must be a non-empty selection of {known}, got {chosen}")

    def check(self) -> None:
        """Fail before any training if the parts cannot work together."""
        self.pretrain.check()
        _, fresh = init_model(self.pretrain.model, self.pretrain.init_seed)
        trainable_labels(fresh, self.finetune.optim.trainable, field="finetune.optim.trainable")
        for build in dataset_builders(self, Language(self.pretrain.language), self.datasets).values():
            build(self.first_seed)  # e.g. worlds that need more held-out names than the language keeps


def main(config: Config) -> str:
    """Run every pending cell of `config` into `config.out`; returns the summary table."""
    start = time.perf_counter()
    initialize_distributed()  # joins a multi-process run where the environment asks for one (lab.devices)
    enable_compilation_cache()  # before anything compiles; LAB_COMPILATION_CACHE=0 turns it off
    config.check()
    claim_output_folder(config.out, config)  # a rerun into --out must be of the same config
    table = ResultsTable(config.out / "results.csv")  # a malformed file stops here, before any work
    lang = Language(config.pretrain.language)
    seq_len = config.pretrain.model.seq_len
    skills = in_context_skills(config.curves, lang, dataset_builders(config, lang, curve_datasets(config.pretrain)), seq_len)
    graphdef, params = pretrained_model(config.pretrain, config.cache_dir, config.progress, config.rebuild_checkpoint,
                                        skills if config.curves.every else None, config.curves.every)
    curve = read_curves(config.cache_dir / config.pretrain.digest())
    for path in (config.out / config.curves_plot.name, config.curves_plot) if curve else ():
        learning_curves(curve, path)
    builders = dataset_builders(config, lang, config.datasets)
    seeds = range(config.first_seed, config.first_seed + config.seeds)
    run_pending_cells(graphdef, params, lang, table, builders, seeds, config.conditions, config.finetune,
                      seq_len, config.augment, config.progress)
    summaries = summarize(table.rows, condition_order=CONDITIONS)
    summary = wide_table(summaries)
    write_atomically(config.out / "summary.md", f"{summary}\n\n{markdown_table(summaries)}\n")
    for path in (config.out / config.plot.name, config.plot):
        accuracy_bars(summaries, path)
    print(summary)
    print(f"wrote {config.out}/results.csv, summary.md, {config.plot.name} and {config.plot} "
          f"in {time.perf_counter() - start:.0f} s")
    return summary


if __name__ == "__main__":
    cli.run(main, Config)
