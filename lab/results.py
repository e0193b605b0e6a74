"""Tidy results: one row per dataset × split × condition × seed, saved atomically.

`ResultsTable` is the experiment's memory: every finished cell is written to
`results.csv` at once (via a temporary file and a rename, so an interruption never
leaves a torn file), and a rerun skips the cells already there. `claim_output_folder`
makes sure a rerun is of the same config, so that skipping is right.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lab.configs import config_dict, config_differences
from lab.study import ResultRow


COLUMNS = tuple(f.name for f in fields(ResultRow))
# How each column is read back: a parse error names the column and its expected kind.
_OPTIONAL_FLOATS = ("valid_share", "final_loss", "text_accuracy")
_INTS = ("seed", "n_items", "n_augmentations", "unlearned_runs")
_FLOATS = ("accuracy", "chance")


class ResultsTable:
    """The rows of one results.csv: read once (a malformed file is refused before anything is written), then added to."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: list[ResultRow] = read_results(self.path) if self.path.exists() else []

    def has(self, dataset: str, seed: int, condition: str | None = None) -> bool:
        """Whether rows of this dataset and seed (and condition, if given) are in."""
        return any(
            r.dataset == dataset and r.seed == seed and condition in (None, r.condition) for r in self.rows
        )

    def add(self, rows: list[ResultRow]) -> None:
        self.rows.extend(rows)
        self.rows.sort(key=lambda r: (r.dataset, r.split, r.condition, r.seed))
        write_results(self.path, self.rows)


# Experiment fields that choose which cells run or where outputs go, not what a cell computes.
RUN_ONLY_FIELDS = (
    "seeds", "first_seed", "out", "cache_dir", "rebuild_checkpoint", "plot", "progress", "datasets", "conditions",
    "curves", "curves_plot",
)


def claim_output_folder(out: Path, config, setting: dict | None = None) -> None:
    """Tie `out` to the experiment config (a dataclass) whose results it holds.

    The first run writes `out/config.json`; a later run into `out` must ask for the same
    config (up to RUN_ONLY_FIELDS), else it would skip finished cells computed with
    another one (a changed default, say) and mix the two. `setting` adds what else the
    results depend on that is not a config field (e.g. the device count), checked the
    same way. Nothing is deleted: the error says which fields differ and how to go on.
    """
    out = Path(out)
    wanted = {k: v for k, v in config_dict(config, **(setting or {})).items() if k not in RUN_ONLY_FIELDS}
    path = out / "config.json"
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(
                f"{path} is not valid JSON ({e}); restore it, or move {out} away to start over"
            ) from None
        differences = config_differences(saved, wanted, holder=f"{path}")
        if differences:
            raise ValueError(
                f"{out} holds results of another config:\n  " + "\n  ".join(differences)
                + f"\nchoose another --out, or move {out} away to start over"
            )
        return
    if (out / "results.csv").exists():
        raise ValueError(
            f"{out}/results.csv has no config.json beside it (written before the lab kept one), so "
            f"resuming could mix configs; choose another --out, or move {out} away to start over"
        )
    write_atomically(path, json.dumps(wanted, indent=2, sort_keys=True) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file and a rename, so an interruption never leaves a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, newline="")  # exactly as given: the CSV writer chose its line ends
    os.replace(tmp, path)


def write_results(path: Path, rows: list[ResultRow], leading: dict[str, list[str]] | None = None) -> None:
    """Write `rows` to a CSV at `path` atomically (a temporary file, then a rename).

    `leading` adds columns in front, one value per row (e.g. a sweep's swept value).
    """
    leading = leading or {}
    write_csv(path, (*leading, *COLUMNS), (
        {
            **{column: values[i] for column, values in leading.items()},
            **asdict(row), "accuracy": f"{row.accuracy:.6f}", "chance": f"{row.chance:.6f}",
            **{column: _optional(getattr(row, column)) for column in _OPTIONAL_FLOATS},
        }
        for i, row in enumerate(rows)
    ))


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict]) -> None:
    """A CSV of `rows` (dicts keyed by `columns`) with a header, written atomically."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue())


def read_results(path: Path) -> list[ResultRow]:
    """The rows of a results CSV; a malformed one raises, naming the file, line and column."""
    path = Path(path)
    fix = f"fix or delete that line (its cell will run again), or move {path} away"
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(
                f"{path} has columns {reader.fieldnames}, expected {list(COLUMNS)}; "
                "move it away or point --out at a fresh folder"
            )
        rows = []
        for record in reader:
            where = f"{path}, line {reader.line_num}"
            if None in record or None in record.values():
                raise ValueError(f"{where} does not have the {len(COLUMNS)} fields of the header (a torn or edited row); {fix}")
            rows.append(ResultRow(**{column: _parse(column, record[column], where, fix) for column in COLUMNS}))
        return rows


def _parse(column: str, text: str, where: str, fix: str):
    """One field of a results row, as its column's type; a field that is not raises, naming the place."""
    if column not in _INTS + _FLOATS + _OPTIONAL_FLOATS:
        if not text:
            raise ValueError(f"{where}, column {column!r} is empty; {fix}")
        return text
    if column in _OPTIONAL_FLOATS and text == "":
        return None
    kind, described = (int, "an integer") if column in _INTS else (float, "a finite number")
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise ValueError(f"{where}, column {column!r}: {text!r} is not {described}; {fix}")
    return value


def _optional(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


# Two-sided 95% Student-t quantiles for 1..30 degrees of freedom; normal beyond.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def mean_and_interval(values) -> tuple[float, float]:
    """Mean and half-width of its 95% t-interval over seeds (nan with a single seed)."""
    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        return float(values.mean()), math.nan
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    return float(values.mean()), float(t * values.std(ddof=1) / math.sqrt(n))


@dataclass(frozen=True)
class Summary:
    dataset: str
    split: str
    condition: str
    mean: float
    interval: float  # 95% half-width over seeds
    n_seeds: int
    chance: float
    valid_share: float | None = None  # mean over seeds of the model-written augmentations' validity
    unlearned_runs: int = 0  # fine-tuning runs, over all seeds, that did not learn their training text


UNLEARNED_MARK = "⚠"


def summarize(rows: list[ResultRow], condition_order: tuple[str, ...] = ()) -> list[Summary]:
    """One summary per dataset × split × condition; conditions in `condition_order` come in that order."""
    groups: dict[tuple[str, str, str], list[ResultRow]] = {}
    for r in rows:
        groups.setdefault((r.dataset, r.split, r.condition), []).append(r)
    out = []
    for (dataset, split, condition), group in groups.items():
        mean, interval = mean_and_interval([r.accuracy for r in group])
        shares = [r.valid_share for r in group if r.valid_share is not None]
        valid = float(np.mean(shares)) if shares else None
        unlearned = sum(r.unlearned_runs for r in group)
        out.append(Summary(dataset, split, condition, mean, interval, len(group), group[0].chance, valid, unlearned))
    first_seen = {key: i for i, key in enumerate(dict.fromkeys(k for s in out for k in ((s.dataset,), (s.dataset, s.split))))}
    rank = {c: i for i, c in enumerate(condition_order)}
    return sorted(out, key=lambda s: (first_seen[s.dataset,], first_seen[s.dataset, s.split], rank.get(s.condition, len(rank))))


def markdown_table(summaries: list[Summary]) -> str:
    with_validity = any(s.valid_share is not None for s in summaries)
    header = "| dataset | split | condition | accuracy (mean ± 95% CI) | seeds | chance |"
    rule = "|---|---|---|---|---|---|"
    if with_validity:
        header, rule = header + " valid augmentations |", rule + "---|"
    lines = [header, rule]
    for s in summaries:
        line = f"| {s.dataset} | {s.split} | {s.condition} | {_shown_mean(s, 3)} | {s.n_seeds} | {s.chance:.2f} |"
        if with_validity:
            line += "" if s.valid_share is None else f" {s.valid_share:.2f}"
            line += " |"
        lines.append(line)
    return "\n".join(lines) + unlearned_note(summaries)


def unlearned_note(summaries: list[Summary]) -> str:
    """A paragraph naming the cells whose fine-tuning runs did not learn their text; empty if none."""
    flagged = dict.fromkeys((s.dataset, s.condition, s.unlearned_runs) for s in summaries if s.unlearned_runs)
    if not flagged:
        return ""
    cells = "; ".join(f"{condition} on {dataset}: {n} runs" for dataset, condition, n in flagged)
    return (f"\n\n{UNLEARNED_MARK} Fine-tuning runs whose training loss did not fall to half its first value "
            f"did not learn their own text, so these accuracies are not results: {cells}.")


def wide_table(summaries: list[Summary]) -> str:
    """Markdown: a row per dataset and split, a column per condition (mean ± 95% CI), seeds in a line below."""
    conditions = list(dict.fromkeys(s.condition for s in summaries))
    cells = {(s.dataset, s.split, s.condition): s for s in summaries}
    rows = list(dict.fromkeys((s.dataset, s.split, s.chance) for s in summaries))
    seeds = sorted({s.n_seeds for s in summaries})
    lines = [
        f"| dataset | split | chance | {' | '.join(conditions)} |",
        "|---|---|---|" + "---|" * len(conditions),
    ]
    for dataset, split, chance in rows:
        found = (cells.get((dataset, split, c)) for c in conditions)
        shown = ["" if s is None else _shown_mean(s, 2) for s in found]
        lines.append(f"| {dataset} | {split} | {chance:.2f} | {' | '.join(shown)} |")
    lines.append(f"\nMean accuracy ± 95% interval over {' / '.join(map(str, seeds))} seeds.")
    return "\n".join(lines) + unlearned_note(summaries)


def _shown_mean(s: Summary, digits: int) -> str:
    return format_mean(s.mean, s.interval, digits) + (f" {UNLEARNED_MARK}" if s.unlearned_runs else "")


def format_mean(mean: float, interval: float, digits: int) -> str:
    """`mean ± interval`, or the mean alone where a single seed gives no interval (nan)."""
    shown_interval = "" if math.isnan(interval) else f" ± {interval:.{digits}f}"
    return f"{mean:.{digits}f}{shown_interval}"
