"""One experiment over the values of one config field: a sweep in one command.

    python experiments/sweep.py pretrain.init-seed 0 1 2 3 4
    python experiments/sweep.py pretrain.corpus.max-facts 4 6 --out runs/max_facts -- --seeds 3
    python experiments/sweep.py finetune.optim.learning-rate 3e-4 1e-3 --experiment study -- --datasets reversals

Flags after `--` are the experiment's own (experiments/reversal_curse.py by default,
or experiments/study.py) and hold for every value. Every value's config is built
before anything trains, so a field or value the experiment does not accept fails at
once, named by the experiment's own parser. Each value then runs the experiment
into OUT/FIELD=VALUE (its figure there too, never in plots/); results.csv there
resumes cell by cell, so rerunning an interrupted sweep picks up where it stopped.
Last, OUT/sweep.csv holds every row with the value in front and OUT/sweep.md a
column per value and one across values (lab/sweep.py).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro
from tqdm.auto import tqdm

from experiments import cli
from lab.results import write_atomically
from lab.sweep import gather, sweep_table, value_folder, write_sweep_csv

EXPERIMENTS = ("reversal_curse", "study")


@dataclass(frozen=True)
class Config:
    # A config field of the experiment, as its flag is spelled without `--` (pretrain.corpus.max-facts).
    field: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="FIELD")]
    # One run each, parsed by the experiment's own parser.
    values: Annotated[tuple[str, ...], tyro.conf.Positional, tyro.conf.arg(metavar="VALUE")]
    experiment: Literal["reversal_curse", "study"] = "reversal_curse"  # the experiment script run per value
    out: Path = Path("runs/sweep")  # a folder per value inside, sweep.csv and sweep.md beside them

    def __post_init__(self):
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"experiment must be one of {EXPERIMENTS}, got {self.experiment!r}")
        if not self.values or len(set(self.values)) != len(self.values):
            raise ValueError(f"values: give one or more distinct values to sweep, got {self.values}")
        if self.field in ("out", "plot", "curves-plot", "curves_plot"):
            raise ValueError("field: the sweep sets out, plot and curves-plot itself (one folder per value); sweep another field")


def load_experiment(name: str):
    """The experiment module `experiments.NAME`."""
    return importlib.import_module(f"experiments.{name}")


def value_configs(config: Config, experiment, base) -> dict[str, object]:
    """The experiment's config for each value: `base` with the field set and out / plot in the value's folder."""
    flag = "--" + config.field.removeprefix("--").replace("_", "-")
    configs = {}
    for value in config.values:
        folder = value_folder(config.out, config.field, value)
        args = [flag, value, "--out", str(folder), "--plot", str(folder / f"{config.experiment}.png"),
                "--curves-plot", str(folder / "learning_curves.png")]
        configs[value] = tyro.cli(experiment.Config, args=args, default=base)
    return configs


def main(config: Config, experiment, base) -> str:
    """Run `experiment.main` once per value from `base` (the experiment's config), gather, return sweep.md."""
    configs = value_configs(config, experiment, base)
    for value, value_config in tqdm(configs.items(), desc=config.field, disable=not base.progress):
        print(f"\n== {config.field}={value}", flush=True)
        experiment.main(value_config)
    rows = gather(config.out, config.field, config.values)
    write_sweep_csv(config.out / "sweep.csv", config.field, rows)
    table = sweep_table(config.field, rows)
    write_atomically(config.out / "sweep.md", table + "\n")
    print(f"\n{table}\nwrote {config.out}/sweep.csv and sweep.md")
    return table


if __name__ == "__main__":
    own, experiment_args = sys.argv[1:], []
    if "--" in own:
        own, experiment_args = own[: own.index("--")], own[own.index("--") + 1 :]
    sweep = tyro.cli(Config, args=own)
    experiment = load_experiment(sweep.experiment)
    base = tyro.cli(experiment.Config, args=experiment_args)
    cli.reporting_user_errors(lambda: main(sweep, experiment, base))
