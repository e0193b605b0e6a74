"""Figures: accuracy by split and condition, one panel per dataset."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import numpy as np

from lab.results import Summary


def accuracy_bars(summaries: list[Summary], path: Path, title: str = "") -> None:
    """Bars of mean accuracy (95% interval over seeds) by split, grouped by condition, chance drawn in."""
    datasets = list(dict.fromkeys(s.dataset for s in summaries))
    conditions = list(dict.fromkeys(s.condition for s in summaries))
    splits_of = {d: list(dict.fromkeys(s.split for s in summaries if s.dataset == d)) for d in datasets}
    n_splits = [len(splits_of[d]) for d in datasets]
    # Panels as wide as their splits, so split names never collide.
    fig, axes = plt.subplots(1, len(datasets), figsize=(1.6 * sum(n_splits) + 1.5 * len(datasets), 3.6),
                             squeeze=False, gridspec_kw={"width_ratios": n_splits})
    width = 0.8 / len(conditions)
    colors = plt.get_cmap("tab10")
    for ax, dataset in zip(axes[0], datasets):
        rows = [s for s in summaries if s.dataset == dataset]
        splits = splits_of[dataset]
        for j, condition in enumerate(conditions):
            by_split = {s.split: s for s in rows if s.condition == condition}
            x = np.arange(len(splits)) + (j - (len(conditions) - 1) / 2) * width
            means = [by_split[s].mean if s in by_split else np.nan for s in splits]
            errors = [0 if s not in by_split or math.isnan(by_split[s].interval) else by_split[s].interval for s in splits]
            ax.bar(x, means, width, yerr=errors, capsize=3, label=condition, color=colors(j))
        for i, split in enumerate(splits):
            chance = next(s.chance for s in rows if s.split == split)
            ax.hlines(chance, i - 0.45, i + 0.45, colors="k", linestyles="--", linewidth=1,
                      label="chance" if i == 0 else None)
        ax.set_xticks(range(len(splits)), splits)
        ax.set_ylim(0, 1.05)
        ax.set_title(dataset)
        ax.set_ylabel("accuracy")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)  # outside: bars stay visible
    n_seeds = max(s.n_seeds for s in summaries)
    fig.suptitle(title or f"accuracy, mean and 95% interval over {n_seeds} seeds")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def learning_curves(curve: list[dict[str, float]], path: Path, title: str = "") -> None:
    """In-context accuracy of each skill (left) and the training loss (right) against pretraining steps."""
    steps = [row["step"] for row in curve]
    skills = [k for k in curve[0] if k not in ("step", "loss")]
    fig, (ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    for skill in skills:
        ax.plot(steps, [row[skill] for row in curve], marker=".", label=skill)
    ax.set_xlabel("pretraining step")
    ax.set_ylabel("in-context accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=7)
    loss_ax.plot(steps[1:], [row["loss"] for row in curve[1:]], color="k")
    loss_ax.set_xlabel("pretraining step")
    loss_ax.set_ylabel("training loss (mean since the last point)")
    fig.suptitle(title or "in-context skills during pretraining (held-out worlds)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
