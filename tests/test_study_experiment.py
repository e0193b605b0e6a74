"""experiments/study.py end to end on a tiny, barely pretrained model: files, resume, errors."""

import importlib
import contextlib
import csv
import dataclasses
import io
import shutil

import pytest

from lab.augment import AugmentConfig
from lab.language import LanguageConfig


@pytest.fixture(scope="module")
def study():
    return importlib.import_module("experiments.study")


@pytest.fixture
def config(study, tmp_path, barely_pretrained, barely_finetuned, tiny_worlds):
    """`config(**overrides)`: the study's config on tiny worlds and the barely pretrained model."""

    def make(**overrides):
        overrides = {"seeds": 2, "finetune": barely_finetuned, **overrides}
        return study.Config(
            pretrain=barely_pretrained, augment=AugmentConfig(samples=2, max_new_tokens=10),
            **tiny_worlds, out=tmp_path / "out", cache_dir=tmp_path / "checkpoints", plot=tmp_path / "plots" / "study.png",
            curves_plot=tmp_path / "plots" / "learning_curves.png",
            progress=False, **overrides,
        )

    return make


def run(study, cfg):
    with contextlib.redirect_stdout(io.StringIO()):
        study.main(cfg)
    with open(cfg.out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_dataset_split_condition_and_seed_gets_a_row(study, config):
    cfg = config()
    rows = run(study, cfg)
    cells = {(r["dataset"], r["split"], r["condition"], r["seed"]) for r in rows}
    splits = 2 + 2 + 2 + 5  # reversals, reversal_curse, syllogisms, semantic_structure
    assert len(cells) == len(rows) == splits * len(study.CONDITIONS) * 2  # × conditions × seeds
    augmented = [r for r in rows if r["condition"].startswith("ft_aug_")]
    assert all(int(r["n_augmentations"]) >= 0 for r in augmented)
    assert all(r["valid_share"] == "1.000000" for r in rows if r["condition"] == "ft_aug_oracle")
    assert all(r["valid_share"] == "" for r in rows if not r["condition"].startswith("ft_aug_"))
    assert (cfg.out / "summary.md").exists() and (cfg.out / "study.png").exists() and cfg.plot.exists()


def test_a_rerun_redoes_nothing_and_more_seeds_add_only_theirs(study, config):
    cfg = config(datasets=("reversals",), conditions=("icl", "ft_split"))
    first = run(study, cfg)
    assert run(study, cfg) == first
    more = run(study, config(datasets=("reversals",), conditions=("icl", "ft_split"), seeds=3))
    assert [r for r in more if r["seed"] != "2"] == first
    assert {r["seed"] for r in more} == {"0", "1", "2"}


@pytest.mark.parametrize("field, value", [("conditions", ("icl", "ft_magic")), ("datasets", ("celebrities",)), ("seeds", 0)])
def test_bad_selection_names_the_field(config, field, value):
    with pytest.raises(ValueError, match=field):
        config(**{field: value})


def test_worlds_that_need_more_held_out_names_than_there_are_fail_before_pretraining(study, config, barely_pretrained):
    starved = dataclasses.replace(barely_pretrained, language=LanguageConfig(held_out_fraction=0.002))
    cfg = dataclasses.replace(config(datasets=("reversal_curse",)), pretrain=starved)
    with pytest.raises(ValueError, match="held-out.*language.held_out_fraction=0.002"):
        study.main(cfg)
    assert not cfg.cache_dir.exists(), "nothing was pretrained"


def test_a_rerun_with_another_config_is_refused_and_keeps_the_finished_results(study, config, barely_finetuned):
    cfg = config(datasets=("reversals",), conditions=("icl",))
    first = run(study, cfg)
    other = dataclasses.replace(cfg, finetune=dataclasses.replace(barely_finetuned, orderings=barely_finetuned.orderings + 1))
    with pytest.raises(ValueError, match=r"another config:\n  finetune\.orderings"):
        study.main(other)
    with open(cfg.out / "results.csv", newline="") as f:
        assert list(csv.DictReader(f)) == first


def test_a_malformed_results_file_stops_the_run_before_any_work_and_is_left_as_it_was(study, config):
    cfg = config(datasets=("reversals",), conditions=("icl",))
    run(study, cfg)
    shutil.rmtree(cfg.cache_dir)
    path = cfg.out / "results.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:2], lines[2][:20]]) + "\n")  # a torn last row
    before = path.read_bytes()
    with pytest.raises(ValueError, match=f"{path}, line 3 does not have the 12 fields.*delete that line"):
        study.main(dataclasses.replace(cfg, seeds=3))
    assert path.read_bytes() == before
    assert not cfg.cache_dir.exists(), "it stopped before loading or pretraining a model"


def test_fine_tuning_that_diverges_stops_and_keeps_the_finished_cells(study, config, barely_finetuned):
    wild = dataclasses.replace(barely_finetuned.optim, learning_rate=1e30, grad_clip=1e30)
    cfg = config(datasets=("reversals",), conditions=("icl", "ft"), finetune=dataclasses.replace(barely_finetuned, optim=wild))
    with pytest.raises(FloatingPointError, match="fine-tuning diverged: ft on reversals, seed 0, world 0"):
        run(study, cfg)
    with open(cfg.out / "results.csv", newline="") as f:
        assert {r["condition"] for r in csv.DictReader(f)} == {"icl"}  # the finished cell stays
