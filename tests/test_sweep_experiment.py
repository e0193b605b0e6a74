"""experiments/sweep.py end to end: the reversal-curse experiment over two pretraining seeds of a tiny model."""

import importlib
import contextlib
import csv
import dataclasses
import io

import pytest

import lab.study

from lab.language import LanguageConfig


@pytest.fixture(scope="module")
def sweep():
    return importlib.import_module("experiments.sweep")


@pytest.fixture
def experiment_and_base(sweep, tmp_path, barely_pretrained, barely_finetuned, tiny_worlds):
    experiment = sweep.load_experiment("reversal_curse")
    base = experiment.Config(
        pretrain=barely_pretrained, finetune=barely_finetuned,
        reversals=tiny_worlds["reversals"], reversal_curse=tiny_worlds["reversal_curse"],
        seeds=2, cache_dir=tmp_path / "checkpoints", plot=tmp_path / "plots" / "never.png",
        curves_plot=tmp_path / "plots" / "never_curves.png", progress=False,
    )
    return experiment, base


def run(sweep, config, experiment, base):
    with contextlib.redirect_stdout(io.StringIO()):
        return sweep.main(config, experiment, base)


def test_each_value_runs_into_its_own_folder_and_the_rows_are_gathered(sweep, experiment_and_base, tmp_path):
    experiment, base = experiment_and_base
    config = sweep.Config("pretrain.data-seed", ("0", "1"), out=tmp_path / "sweep")
    table = run(sweep, config, experiment, base)
    for value in ("0", "1"):
        folder = tmp_path / "sweep" / f"pretrain.data-seed={value}"
        assert (folder / "results.csv").exists() and (folder / "reversal_curse.png").exists()
    assert not base.plot.exists(), "a value's figure goes into its folder, never into plots/"
    with open(tmp_path / "sweep" / "sweep.csv", newline="") as f:
        read = list(csv.DictReader(f))
    assert {r["pretrain.data-seed"] for r in read} == {"0", "1"}
    assert len(read) == 2 * 4 * 2 * 2  # values × (dataset, split) × conditions × seeds
    assert (tmp_path / "sweep" / "sweep.md").read_text().strip() == table
    assert len(list((tmp_path / "checkpoints").iterdir())) == 2, "one pretrained model per data seed"


def test_a_rerun_reads_finished_values_back_without_training(sweep, experiment_and_base, tmp_path, monkeypatch):
    experiment, base = experiment_and_base
    config = sweep.Config("pretrain.data-seed", ("0",), out=tmp_path / "sweep")
    first = run(sweep, config, experiment, base)
    monkeypatch.setattr(lab.study, "run_cells", lambda *a, **k: pytest.fail("a finished cell ran again"))
    assert run(sweep, config, experiment, base) == first


def test_a_field_the_experiment_lacks_fails_before_anything_trains(sweep, experiment_and_base, tmp_path):
    experiment, base = experiment_and_base
    config = sweep.Config("pretrain.sed", ("0",), out=tmp_path / "sweep")
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        run(sweep, config, experiment, base)
    assert not (tmp_path / "checkpoints").exists()


def test_bad_sweep_configs_name_their_field(sweep):
    with pytest.raises(ValueError, match="values"):
        sweep.Config("pretrain.data-seed", ("0", "0"))
    with pytest.raises(ValueError, match="field"):
        sweep.Config("out", ("a",))


def test_reversal_curse_fails_before_pretraining_when_worlds_need_more_held_out_names(experiment_and_base):
    experiment, base = experiment_and_base
    starved = dataclasses.replace(base, pretrain=dataclasses.replace(base.pretrain, language=LanguageConfig(held_out_fraction=0.002)))
    with pytest.raises(ValueError, match="held-out.*language.held_out_fraction=0.002"):
        experiment.main(starved)
    assert not base.cache_dir.exists(), "nothing was pretrained"
