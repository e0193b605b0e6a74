"""A sweep's results: one experiment's results.csv per value of a config field, gathered.

Each value has its own folder (`FIELD=VALUE`, see `value_folder`) holding what the
experiment wrote. Gathered, the rows get the value in front (`sweep.csv`) and the
summary gets a column per value (mean ± 95% interval over evaluation seeds) and one
across values: the mean of the per-value means with its interval over values. For
`pretrain.init-seed` (or `pretrain.data-seed`) that last column is the spread a fresh
initialization (or data stream) would show, which
the per-value intervals (one pretrained model each) cannot.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from lab.results import ResultRow, format_mean, mean_and_interval, read_results, summarize, write_results


def value_folder(out: Path, field: str, value: str) -> Path:
    """Where the experiment's run for one value writes its results: OUT/FIELD=VALUE, one folder.

    The value is percent-quoted where it holds a path separator or another character
    a folder name should not (`blocks/1/.*` -> `blocks%2F1%2F.%2A`); plain numbers stay as typed.
    """
    return Path(out) / f"{field}={quote(value, safe='.-_+')}"


def gather(out: Path, field: str, values: tuple[str, ...]) -> dict[str, list[ResultRow]]:
    """Each value's result rows, read from its folder's results.csv."""
    rows = {}
    for value in values:
        path = value_folder(out, field, value) / "results.csv"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: the run for {field}={value} has not finished; rerun the sweep")
        rows[value] = read_results(path)
    return rows


def write_sweep_csv(path: Path, field: str, rows_by_value: dict[str, list[ResultRow]]) -> None:
    """Every row of every value in one tidy CSV, `field` as its first column (written atomically)."""
    pairs = [(value, row) for value, rows in rows_by_value.items() for row in rows]
    write_results(path, [row for _, row in pairs], leading={field: [value for value, _ in pairs]})


def sweep_table(field: str, rows_by_value: dict[str, list[ResultRow]]) -> str:
    """Markdown: a row per dataset × split × condition, a column per value and one across values."""
    summaries = {value: {(s.dataset, s.split, s.condition): s for s in summarize(rows)}
                 for value, rows in rows_by_value.items()}
    keys = list(dict.fromkeys(key for by_key in summaries.values() for key in by_key))
    values = list(rows_by_value)
    lines = [
        f"| dataset | split | condition | chance | {' | '.join(f'{field}={v}' for v in values)} | across values |",
        "|---|---|---|---|" + "---|" * (len(values) + 1),
    ]
    for key in keys:
        found = [summaries[v].get(key) for v in values]
        chance = next(s.chance for s in found if s is not None)
        shown = ["" if s is None else format_mean(s.mean, s.interval, 2) for s in found]
        across = format_mean(*mean_and_interval([s.mean for s in found if s is not None]), 2)
        lines.append(f"| {' | '.join(key)} | {chance:.2f} | {' | '.join(shown)} | {across} |")
    seeds = sorted({s.n_seeds for by_key in summaries.values() for s in by_key.values()})
    lines.append(f"\nPer value: mean ± 95% interval over {' / '.join(map(str, seeds))} evaluation seeds. "
                 f"Across values: mean of the per-value means ± 95% interval over the {len(values)} values.")
    return "\n".join(lines)
