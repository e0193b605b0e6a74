"""experiments/binding_probe.py end to end on a tiny, barely pretrained model."""

import contextlib
import io

import pytest


@pytest.fixture(scope="module")
def probe(experiment_script):
    with experiment_script("binding_probe") as module:
        yield module


def test_prints_both_tables_with_an_accuracy_per_row(probe, tmp_path, barely_pretrained):
    config = probe.Config(pretrain=barely_pretrained, facts=(2,), worlds=4, kind_facts=3, cache_dir=tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        probe.main(config)
    rows = [line for line in out.getvalue().splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2 + 3  # two stated directions of 2 facts, then 1..3 identities among 3 facts
    for row in rows:
        accuracies = [float(cell) for cell in row.strip("| ").split(" | ")[-2:] if "." in cell]
        assert accuracies and all(0.0 <= a <= 1.0 for a in accuracies)


def test_rejects_a_world_without_facts(probe):
    with pytest.raises(ValueError, match="kind_facts"):
        probe.Config(kind_facts=0)
