"""experiments/diagnostics/binding_seeds.py end to end: tiny models, barely pretrained, two seeds at once."""

import importlib
import contextlib
import dataclasses
import io

import jax
import pytest


@pytest.fixture(scope="module")
def binding_seeds():
    return importlib.import_module("experiments.diagnostics.binding_seeds")


@pytest.fixture
def tiny(binding_seeds, barely_pretrained, tiny_worlds, tmp_path):
    worlds = {name: tiny_worlds[name] for name in binding_seeds.DATASETS}
    return binding_seeds.Config(
        pretrain=barely_pretrained, pretrain_seeds=(3, 5), eval_seeds=1, worlds=4, out=tmp_path / "out",
        progress=False, **worlds
    )


def test_one_row_per_pretraining_seed_and_their_mean(binding_seeds, tiny):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rows = binding_seeds.main(tiny)
    assert [row["pretrain seed"] for row in rows] == [3, 5]
    for row in rows:
        accuracies = [v for k, v in row.items() if k not in ("pretrain seed", "final loss")]
        assert len(accuracies) == 7 and all(0.0 <= a <= 1.0 for a in accuracies)  # probe + 2 splits of 3 datasets
    table = [line for line in out.getvalue().splitlines() if line.startswith("| ") and not line.startswith("|---")]
    assert [line.split(" | ")[0] for line in table[1:]] == ["| 3", "| 5", "| mean"]
    assert (tiny.out / "binding_seeds.md").read_text().count("\n| ") == 3


def test_a_rerun_reads_the_measured_rows_back_and_another_config_is_refused(binding_seeds, tiny, monkeypatch):
    with contextlib.redirect_stdout(io.StringIO()):
        rows = binding_seeds.main(tiny)
    monkeypatch.setattr(binding_seeds, "measure_seeds", lambda config: pytest.fail("measured again"))
    with contextlib.redirect_stdout(io.StringIO()):
        assert binding_seeds.main(tiny) == rows  # floats round-trip exactly through the CSV
    with pytest.raises(ValueError, match="eval_seeds"):
        binding_seeds.main(dataclasses.replace(tiny, eval_seeds=2))


def test_a_rerun_on_another_number_of_devices_is_refused(binding_seeds, tiny, monkeypatch):
    with contextlib.redirect_stdout(io.StringIO()):
        binding_seeds.main(tiny)
    monkeypatch.setattr(binding_seeds.jax, "device_count", lambda: jax.local_device_count() + 1)
    with pytest.raises(ValueError, match="devices"):
        binding_seeds.main(tiny)


def test_each_seed_trains_its_own_model(binding_seeds, tiny, lang):
    _, params_R, losses = binding_seeds.pretrain_models(tiny, lang)
    assert losses.shape == (2, tiny.pretrain.optim.steps)
    for leaf in jax.tree.leaves(params_R):
        assert leaf.shape[0] == 2
    assert any((leaf[0] != leaf[1]).any() for leaf in jax.tree.leaves(params_R))


def test_rejects_repeated_or_no_seeds(binding_seeds):
    with pytest.raises(ValueError, match="pretrain_seeds"):
        binding_seeds.Config(pretrain_seeds=(1, 1))
    with pytest.raises(ValueError, match="pretrain_seeds"):
        binding_seeds.Config(pretrain_seeds=())
    with pytest.raises(ValueError, match="eval_seeds"):
        binding_seeds.Config(eval_seeds=0)
