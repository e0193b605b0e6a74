"""The reversal curse: new facts learned in context generalize to their reversal,
the same facts learned by fine-tuning do not.

The study (experiments/study.py) narrowed to `icl` and `ft` on the two reversal
datasets: pretrain (or load the cached model) -> for each seed and dataset, score
ICL with the world's text in context, fine-tune a copy per world on that text and
score without context -> results.csv, summary.md and a bar chart in --out, the
chart also in plots/.

    python experiments/reversal_curse.py --seeds 5
    python experiments/reversal_curse.py --pretrain.model.n-layers 3 --out runs/three_layers
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from experiments import cli, study


@dataclass(frozen=True)
class Config(study.Config):
    datasets: tuple[str, ...] = ("reversals", "reversal_curse")
    conditions: tuple[str, ...] = ("icl", "ft")  # the augmented conditions are the study's
    out: Path = Path("runs/reversal_curse")
    plot: Path = Path("plots/reversal_curse.png")


main = study.main

if __name__ == "__main__":
    cli.run(main, Config)
