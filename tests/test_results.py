import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.results import (
    COLUMNS, ResultsTable, Summary, claim_output_folder, markdown_table, mean_and_interval, read_results, summarize,
    wide_table, write_atomically, write_results,
)
from lab.study import ResultRow


def row(dataset="reversals", split="reversed", condition="icl", seed=0, accuracy=0.75, n_items=8, chance=0.5, **extra):
    return ResultRow(dataset, split, condition, seed, accuracy, n_items, chance, **extra)


def test_write_then_read_round_trips(tmp_path):
    rows = [row(seed=0, accuracy=0.5), row(condition="ft", seed=1, accuracy=0.125, chance=0.25),
            row(condition="ft_aug_local", n_augmentations=7, valid_share=0.625)]
    write_results(tmp_path / "results.csv", rows)
    assert read_results(tmp_path / "results.csv") == rows


def test_round_trip_keeps_accuracy_to_six_decimals(tmp_path):
    write_results(tmp_path / "results.csv", [row(accuracy=1 / 3, chance=1 / 3)])
    (back,) = read_results(tmp_path / "results.csv")
    assert back.accuracy == pytest.approx(1 / 3, abs=1e-6)
    assert back.chance == pytest.approx(1 / 3, abs=1e-6)


def test_results_file_has_the_expected_header(tmp_path):
    write_results(tmp_path / "sub" / "results.csv", [row()])
    assert (tmp_path / "sub" / "results.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    assert not (tmp_path / "sub" / "results.csv.tmp").exists()


def test_file_with_wrong_columns_is_rejected(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("dataset,split,accuracy\nreversals,trained,0.5\n")
    with pytest.raises(ValueError, match="columns"):
        read_results(path)
    with pytest.raises(ValueError, match="columns"):
        ResultsTable(path)


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "results.csv").write_text("")
    with pytest.raises(ValueError, match="columns"):
        read_results(tmp_path / "results.csv")


def test_table_remembers_finished_cells_across_instances(tmp_path):
    path = tmp_path / "results.csv"
    table = ResultsTable(path)
    assert table.rows == [] and not table.has("reversals", 0)
    table.add([row(seed=0, condition="icl"), row(seed=0, condition="ft")])
    resumed = ResultsTable(path)
    assert resumed.has("reversals", 0)
    assert not resumed.has("reversals", 1)
    assert not resumed.has("reversal_curse", 0)
    assert resumed.rows == table.rows


def test_resumed_run_adds_only_the_missing_cells(tmp_path):
    path = tmp_path / "results.csv"
    ResultsTable(path).add([row(seed=0)])  # a first run, interrupted after one cell
    table = ResultsTable(path)
    done = []
    for dataset, seed in [("reversals", 0), ("reversals", 1), ("reversal_curse", 0)]:
        if table.has(dataset, seed):
            continue
        done.append((dataset, seed))
        table.add([row(dataset=dataset, seed=seed)])
    assert done == [("reversals", 1), ("reversal_curse", 0)]
    assert len(read_results(path)) == 3


def test_table_keeps_rows_sorted(tmp_path):
    table = ResultsTable(tmp_path / "results.csv")
    table.add([row(dataset="reversals", seed=1), row(dataset="reversal_curse", seed=0)])
    table.add([row(dataset="reversals", seed=0)])
    assert [(r.dataset, r.seed) for r in read_results(tmp_path / "results.csv")] == [
        ("reversal_curse", 0), ("reversals", 0), ("reversals", 1),
    ]


def test_mean_and_interval_of_two_values():
    mean, half_width = mean_and_interval([0.0, 1.0])
    assert mean == 0.5
    assert half_width == pytest.approx(12.706 * 0.70710678 / 1.41421356, rel=1e-6)


def test_mean_and_interval_of_three_values():
    mean, half_width = mean_and_interval([1.0, 2.0, 3.0])  # sample std 1
    assert mean == 2.0
    assert half_width == pytest.approx(4.303 / math.sqrt(3), rel=1e-6)


def test_mean_and_interval_uses_the_right_t_quantile_at_the_table_edges():
    values = [0.0, 1.0] * 15 + [0.5]  # 31 values, 30 degrees of freedom
    sd = float(np.std(values, ddof=1))
    assert mean_and_interval(values)[1] == pytest.approx(2.042 * sd / math.sqrt(31), rel=1e-6)
    values = [0.0, 1.0] * 16  # 32 values: beyond the table, normal quantile
    sd = float(np.std(values, ddof=1))
    assert mean_and_interval(values)[1] == pytest.approx(1.96 * sd / math.sqrt(32), rel=1e-6)


def test_mean_and_interval_of_one_value_has_no_interval():
    mean, half_width = mean_and_interval([0.25])
    assert mean == 0.25 and math.isnan(half_width)


def test_summarize_groups_seeds_of_a_cell():
    rows = [row(seed=0, accuracy=0.0), row(seed=1, accuracy=1.0), row(condition="ft", seed=0, accuracy=0.5)]
    summaries = {(s.condition): s for s in summarize(rows)}
    assert summaries["icl"].mean == 0.5 and summaries["icl"].n_seeds == 2
    assert summaries["icl"].interval == pytest.approx(mean_and_interval([0.0, 1.0])[1])
    assert summaries["ft"].n_seeds == 1 and math.isnan(summaries["ft"].interval)
    assert all(s.chance == 0.5 for s in summaries.values())


def test_markdown_table_has_a_line_per_summary():
    summaries = [
        Summary("reversals", "trained", "icl", 0.9, 0.05, 3, 0.5),
        Summary("reversal_curse", "reversed", "ft", 0.25, math.nan, 1, 0.25),
    ]
    lines = markdown_table(summaries).splitlines()
    assert len(lines) == 2 + len(summaries)
    assert "| reversals | trained | icl | 0.900 ± 0.050 | 3 | 0.50 |" in lines
    assert "| reversal_curse | reversed | ft | 0.250 | 1 | 0.25 |" in lines


def test_wide_table_has_a_row_per_dataset_and_split_and_a_column_per_condition():
    summaries = [
        Summary("reversals", "reversed", "icl", 0.9, 0.05, 3, 0.5),
        Summary("reversals", "reversed", "ft", 0.5, 0.125, 3, 0.5),
        Summary("syllogisms", "syllogism", "icl", 0.25, math.nan, 3, 1 / 6),
    ]
    lines = wide_table(summaries).splitlines()
    assert lines[0] == "| dataset | split | chance | icl | ft |"
    assert "| reversals | reversed | 0.50 | 0.90 ± 0.05 | 0.50 ± 0.12 |" in lines
    assert "| syllogisms | syllogism | 0.17 | 0.25 |  |" in lines  # a missing cell stays empty
    assert lines[-1] == "Mean accuracy ± 95% interval over 3 seeds."


def test_summaries_follow_the_given_condition_order_within_each_dataset_and_split():
    rows = [row(dataset=d, split=s, condition=c) for d in ("b", "a") for s in ("x", "y") for c in ("icl", "ft", "ft_split")]
    summaries = summarize(rows, condition_order=("ft", "ft_split", "icl"))
    assert [(s.dataset, s.split, s.condition) for s in summaries[:4]] == [
        ("b", "x", "ft"), ("b", "x", "ft_split"), ("b", "x", "icl"), ("b", "y", "ft")]


def test_validity_is_averaged_and_shown_only_where_augmented():
    rows = [row(condition="ft_aug_local", seed=s, valid_share=v, n_augmentations=4) for s, v in ((0, 0.5), (1, 1.0))]
    rows.append(row(condition="ft"))
    summaries = summarize(rows)
    assert {s.condition: s.valid_share for s in summaries} == {"ft_aug_local": 0.75, "ft": None}
    assert "0.75" in markdown_table(summaries)


def test_has_can_ask_for_one_condition(tmp_path):
    table = ResultsTable(tmp_path / "results.csv")
    table.add([row(condition="icl", seed=3)])
    assert table.has("reversals", 3) and table.has("reversals", 3, "icl") and not table.has("reversals", 3, "ft")


@dataclasses.dataclass(frozen=True)
class _Inner:
    steps: int = 10


@dataclasses.dataclass(frozen=True)
class _ExperimentConfig:
    inner: _Inner = _Inner()
    seeds: int = 5
    out: Path = Path("runs/x")


def test_claim_output_folder_lets_the_same_config_resume_and_refuses_another(tmp_path):
    claim_output_folder(tmp_path / "run", _ExperimentConfig())
    assert (tmp_path / "run" / "config.json").exists()
    claim_output_folder(tmp_path / "run", _ExperimentConfig(seeds=10, out=Path("elsewhere")))  # run-only fields
    with pytest.raises(ValueError, match=r"inner\.steps: .* has 10, config asks for 20") as error:
        claim_output_folder(tmp_path / "run", _ExperimentConfig(inner=_Inner(steps=20)))
    assert "choose another --out" in str(error.value)


def test_claim_output_folder_checks_a_setting_beside_the_config(tmp_path):
    claim_output_folder(tmp_path / "run", _ExperimentConfig(), setting={"devices": 2})
    claim_output_folder(tmp_path / "run", _ExperimentConfig(), setting={"devices": 2})
    with pytest.raises(ValueError, match=r"devices: .* has 2, config asks for 1"):
        claim_output_folder(tmp_path / "run", _ExperimentConfig(), setting={"devices": 1})


def test_claim_output_folder_refuses_results_it_cannot_check(tmp_path):
    write_results(tmp_path / "results.csv", [])
    with pytest.raises(ValueError, match="no config.json"):
        claim_output_folder(tmp_path, _ExperimentConfig())
    assert (tmp_path / "results.csv").exists()  # nothing finished is deleted


def test_write_atomically_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "new" / "summary.md"
    write_atomically(path, "a longer first text\n")
    write_atomically(path, "second\r\n")
    assert path.read_bytes() == b"second\r\n"  # line ends as given, nothing of the first text left
    assert [p.name for p in path.parent.iterdir()] == ["summary.md"]


def test_fine_tuning_diagnostics_round_trip(tmp_path):
    rows = [row(condition="ft", final_loss=0.25, text_accuracy=0.875, unlearned_runs=2), row()]
    write_results(tmp_path / "results.csv", rows)
    assert read_results(tmp_path / "results.csv") == rows


def test_cells_with_runs_that_did_not_learn_their_text_are_flagged():
    rows = [row(condition="ft", seed=s, unlearned_runs=u, final_loss=1.0, text_accuracy=0.5) for s, u in ((0, 0), (1, 3))]
    rows.append(row(condition="icl"))
    summaries = summarize(rows)
    assert {s.condition: s.unlearned_runs for s in summaries} == {"ft": 3, "icl": 0}
    for table in (wide_table(summaries), markdown_table(summaries)):
        assert "⚠" in table and "ft on reversals: 3 runs" in table and "not results" in table
    assert "⚠" not in wide_table(summarize([row(condition="icl")]))


VALID_CSV = (
    ",".join(COLUMNS) + "\n"
    + "reversals,reversed,ft,0,0.500000,8,0.500000,0,,1.250000,0.750000,0\n"
    + "reversals,trained,ft,0,1.000000,8,0.500000,0,,1.250000,0.750000,0\n"
)


@pytest.mark.parametrize("line, damage, message", [
    (2, lambda l: l.replace("0.500000,8", "zero,8"), r"line 2, column 'accuracy': 'zero' is not a finite number"),
    (3, lambda l: l.replace(",8,", ",8.5,"), r"line 3, column 'n_items': '8.5' is not an integer"),
    (3, lambda l: l[: len(l) // 2], r"line 3 does not have the 12 fields"),
    (2, lambda l: l + ",extra", r"line 2 does not have the 12 fields"),
    (2, lambda l: l.replace("1.250000", "nan"), r"line 2, column 'final_loss': 'nan' is not a finite number"),
    (2, lambda l: l.replace("reversals", ""), r"line 2, column 'dataset' is empty"),
])
def test_a_malformed_row_names_file_line_and_column_and_nothing_is_overwritten(tmp_path, line, damage, message):
    lines = VALID_CSV.splitlines()
    lines[line - 1] = damage(lines[line - 1])
    path = tmp_path / "results.csv"
    path.write_text("\n".join(lines) + "\n")
    before = path.read_bytes()
    with pytest.raises(ValueError, match=f"{path}, {message}") as error:
        ResultsTable(path)
    assert "delete that line" in str(error.value)
    assert path.read_bytes() == before


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, len(VALID_CSV) - 1), text=st.text(max_size=4))
def test_any_edit_of_a_results_file_reads_or_raises_a_value_error_naming_it(tmp_path, position, text):
    path = tmp_path / "results.csv"
    path.write_text(VALID_CSV[:position] + text + VALID_CSV[position + 1 :])
    try:
        rows = read_results(path)
    except ValueError as e:
        assert str(path) in str(e)
    else:
        assert all(isinstance(r, ResultRow) for r in rows)
