"""lab/sweep.py: gathering the per-value results, the tidy CSV and the table across values."""

import csv

import pytest

from lab.results import ResultRow, write_results
from lab.sweep import gather, sweep_table, value_folder, write_sweep_csv


def rows(accuracies, condition="icl"):
    return [ResultRow("reversals", "reversed", condition, seed, a, 10, 0.5) for seed, a in enumerate(accuracies)]


@pytest.fixture
def swept(tmp_path):
    """Results of two values of pretrain.data-seed, written where a sweep writes them."""
    by_value = {"0": rows([1.0, 0.8]), "1": rows([0.6, 0.6])}
    for value, value_rows in by_value.items():
        write_results(value_folder(tmp_path, "pretrain.data-seed", value) / "results.csv", value_rows)
    return tmp_path, by_value


def test_gather_reads_each_values_folder(swept):
    out, by_value = swept
    assert gather(out, "pretrain.data-seed", ("0", "1")) == by_value


def test_a_value_without_results_is_named(swept):
    out, _ = swept
    with pytest.raises(FileNotFoundError, match="pretrain.data-seed=2"):
        gather(out, "pretrain.data-seed", ("0", "2"))


def test_sweep_csv_puts_the_value_in_front_of_every_row(swept, tmp_path):
    out, by_value = swept
    write_sweep_csv(tmp_path / "sweep.csv", "pretrain.data-seed", by_value)
    with open(tmp_path / "sweep.csv", newline="") as f:
        read = list(csv.DictReader(f))
    assert [(r["pretrain.data-seed"], r["seed"], r["accuracy"]) for r in read] == [
        ("0", "0", "1.000000"), ("0", "1", "0.800000"), ("1", "0", "0.600000"), ("1", "1", "0.600000"),
    ]


def test_table_has_a_column_per_value_and_the_mean_of_their_means(swept):
    _, by_value = swept
    table = sweep_table("pretrain.data-seed", by_value)
    header, _, line = table.splitlines()[:3]
    assert "pretrain.data-seed=0" in header and "pretrain.data-seed=1" in header and "across values" in header
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:4] == ["reversals", "reversed", "icl", "0.50"]
    assert cells[4].startswith("0.90 ± ") and cells[5] == "0.60 ± 0.00"
    assert cells[6].startswith("0.75 ± ")  # over the two values' means, 0.9 and 0.6


def test_a_cell_one_value_lacks_stays_empty():
    table = sweep_table("x", {"a": rows([1.0]) + rows([0.5], condition="ft"), "b": rows([0.0])})
    ft_line = next(line for line in table.splitlines() if "| ft |" in line)
    assert [c.strip() for c in ft_line.strip("|").split("|")][4:] == ["0.50", "", "0.50"]


def test_a_value_is_one_folder_whatever_characters_it_holds(tmp_path):
    assert value_folder(tmp_path, "pretrain.data-seed", "3").name == "pretrain.data-seed=3"
    assert value_folder(tmp_path, "finetune.optim.learning-rate", "3e-4").name == "finetune.optim.learning-rate=3e-4"
    folder = value_folder(tmp_path, "finetune.optim.trainable", "blocks/1/.*")
    assert folder.parent == tmp_path and "/" not in folder.name
