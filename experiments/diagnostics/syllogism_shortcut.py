"""Why does fine-tuning pick a syllogism's conclusion it cannot have inferred?

Fine-tuned on a `syllogisms` world, `all E are C . all C are A . all A are B . all B
are D .`, the model picks the valid conclusion `all C are B` among the six statements
over C and B far above chance, though no premise is in its context at test time.
The paper names a candidate, the associative chain: fine-tuning stores
`all C are` -> A and `all A are` -> B, and B is then rated after `all C are`
through A. This experiment breaks that chain and nothing else:

    linked:    all E are C . all C are A . all A are B . all B are D .  (a `syllogisms` world)
    unlinked:  all E are C . all C are A . all F are B . all B are D .  (F a fresh name)

Same names, sentence order and roles (C and B each once subject, once object); in
`unlinked` A leads nowhere and nothing follows about C and B. Each world asks which
of the six statements over C and B the model rates highest. The split `all C are B`
is the share of worlds where it picks `all C are B` (scored as an accuracy whose
right option is that one), `all B are C` the share where it picks the converse, and
`trained` checks that the premises were learned (chance 1/6 for all three).

If fine-tuning picks `all C are B` through the chain, it does so in `linked` and not
in `unlinked`. In context, a model that reasons has no conclusion to draw in `unlinked`.

    python experiments/diagnostics/syllogism_shortcut.py
    python experiments/diagnostics/syllogism_shortcut.py --pretrain.corpus.syllogism-share 0 --pretrain.optim.steps 12000 \\
        --out runs/syllogism_shortcut_relational  # pretrained on relational documents only
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from experiments import cli
from lab.compile_cache import enable_compilation_cache
from lab.conditions import FinetuneConfig
from lab.datasets import Dataset, World, quantified_choice
from lab.facts import Inclusion
from lab.language import Language
from lab.pretraining import PretrainConfig, pretrained_model
from lab.results import ResultsTable, claim_output_folder, summarize, wide_table, write_atomically
from lab.study import CONDITIONS, run_pending_cells

VARIANTS = ("linked", "unlinked")
SPLITS = ("trained", "all C are B", "all B are C")
# Augmentation conditions are left out: the oracle would write `all C are B` only in
# `linked` worlds, and the probe asks what fine-tuning does with the same text.
TAUGHT_BY = ("icl", "ft", "ft_split")


@dataclass(frozen=True)
class Config:
    pretrain: PretrainConfig = PretrainConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    n_worlds: int = 24  # per seed and variant, as `syllogisms`
    conditions: tuple[str, ...] = TAUGHT_BY
    seeds: int = 5
    first_seed: int = 0
    out: Path = Path("runs/syllogism_shortcut")
    cache_dir: Path = Path("checkpoints")
    progress: bool = True

    def __post_init__(self):
        if self.n_worlds < 1 or self.seeds < 1:
            raise ValueError(f"n_worlds ({self.n_worlds}) and seeds ({self.seeds}) must be >= 1")
        if not self.conditions or any(c not in TAUGHT_BY for c in self.conditions):
            raise ValueError(f"conditions must be a non-empty selection of {TAUGHT_BY}, got {self.conditions}")


def chain_world(lang: Language, rng: np.random.Generator, linked: bool) -> World:
    """One world of four inclusions over held-out names; `linked` keeps `all A are B`, else `all F are B`."""
    e, c, a, b, d, f = lang.sample_names(rng, 6, held_out=True)  # 6 in both variants: the same names
    facts = (Inclusion(e, c), Inclusion(c, a), Inclusion(a if linked else f, b), Inclusion(b, d))
    order = rng.permutation(len(facts))
    tests = {
        "trained": tuple(quantified_choice(rng, lang, fact) for fact in facts),
        "all C are B": (quantified_choice(rng, lang, Inclusion(c, b)),),
        "all B are C": (quantified_choice(rng, lang, Inclusion(b, c)),),
    }
    return World(facts, tuple(facts[i].sentence(lang) for i in order), tests)


def chain_dataset(lang: Language, n_worlds: int, seed: int, variant: str) -> Dataset:
    """`n_worlds` worlds of one variant; both variants of a seed draw the same names and orders."""
    rng = np.random.default_rng([seed, 7])
    worlds = tuple(chain_world(lang, rng, linked=variant == "linked") for _ in range(n_worlds))
    return Dataset(f"syllogisms_{variant}", SPLITS, worlds)


def main(config: Config) -> None:
    start = time.perf_counter()
    enable_compilation_cache()
    config.pretrain.check()
    claim_output_folder(config.out, config)
    lang = Language(config.pretrain.language)
    graphdef, params = pretrained_model(config.pretrain, config.cache_dir, config.progress)
    table = ResultsTable(config.out / "results.csv")
    seeds = range(config.first_seed, config.first_seed + config.seeds)
    builders = {f"syllogisms_{v}": partial(chain_dataset, lang, config.n_worlds, variant=v) for v in VARIANTS}
    run_pending_cells(graphdef, params, lang, table, builders, seeds, config.conditions, config.finetune,
                      config.pretrain.model.seq_len, progress=config.progress)
    summary = wide_table(summarize(table.rows, condition_order=CONDITIONS))
    write_atomically(config.out / "summary.md", summary + "\n")
    print(summary)
    print(f"wrote {config.out}/results.csv and summary.md in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    cli.run(main, Config)
