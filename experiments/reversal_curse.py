"""The reversal curse: new facts learned in context generalize to their reversal,
the same facts learned by fine-tuning do not.

Pretrain (or load the cached model) -> for each seed and dataset (`reversals`,
`reversal_curse`): score ICL with the world's text in context, fine-tune a copy per
world on that text and score without context -> results.csv, summary.md and a bar
chart in --out, the chart also in plots/.

    python experiments/reversal_curse.py --seeds 5
    python experiments/reversal_curse.py --pretrain.model.n-layers 3 --out runs/three_layers
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import tyro
from tqdm.auto import tqdm

from lab.checkpoint import PretrainConfig, pretrained_model
from lab.compile_cache import enable_compilation_cache
from lab.conditions import FinetuneConfig
from lab.datasets import ReversalCurseConfig, ReversalsConfig, dataset_builders
from lab.language import Language
from lab.model import init_model
from lab.plots import accuracy_bars
from lab.results import ResultsTable, claim_output_folder, markdown_table, summarize, write_atomically
from lab.study import run_cells
from lab.train import trainable_labels

CONDITIONS = ("icl", "ft")  # the augmented conditions are experiments/study.py's
DATASETS = ("reversals", "reversal_curse")


@dataclass(frozen=True)
class Config:
    pretrain: PretrainConfig = PretrainConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    reversals: ReversalsConfig = ReversalsConfig()
    reversal_curse: ReversalCurseConfig = ReversalCurseConfig()
    seeds: int = 5  # evaluation seeds: worlds and fine-tuning batches
    first_seed: int = 0
    out: Path = Path("runs/reversal_curse")
    cache_dir: Path = Path("checkpoints")  # pretrained models, keyed by config hash
    plot: Path = Path("plots/reversal_curse.png")
    progress: bool = True

    def __post_init__(self):
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")

    def check(self) -> None:
        """Fail before any training if the parts cannot work together."""
        self.pretrain.check()
        _, fresh = init_model(self.pretrain.model, self.pretrain.seed)
        trainable_labels(fresh, self.finetune.optim.trainable, field="finetune.optim.trainable")
        for build in dataset_builders(self, Language(self.pretrain.language), DATASETS).values():
            build(self.first_seed)  # e.g. worlds that need more held-out names than the language keeps


def main(config: Config) -> None:
    start = time.perf_counter()
    enable_compilation_cache()  # before anything compiles; LAB_COMPILATION_CACHE=0 turns it off
    config.check()
    claim_output_folder(config.out, config)  # a rerun into --out must be of the same config
    lang = Language(config.pretrain.language)
    graphdef, params = pretrained_model(config.pretrain, config.cache_dir, config.progress)
    table = ResultsTable(config.out / "results.csv")
    builders = dataset_builders(config, lang, DATASETS)
    seeds = range(config.first_seed, config.first_seed + config.seeds)
    for name in tqdm(builders, desc="datasets", disable=not config.progress):
        pending = [seed for seed in seeds if not table.has(name, seed)]  # the rest finished in an earlier run
        if pending:
            datasets = [builders[name](seed) for seed in pending]
            # All seeds' fine-tuning runs in one batched program; rows are written when it ends.
            table.add(run_cells(graphdef, params, lang, datasets, pending, config.finetune,
                                 config.pretrain.model.seq_len, CONDITIONS))
    summaries = summarize(table.rows)
    summary = markdown_table(summaries)
    write_atomically(config.out / "summary.md", summary + "\n")
    for path in (config.out / "reversal_curse.png", config.plot):
        accuracy_bars(summaries, path)
    print(summary)
    print(f"wrote {config.out}/results.csv, summary.md, reversal_curse.png and {config.plot} "
          f"in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(tyro.cli(Config))
