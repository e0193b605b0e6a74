"""Learning curves: measured while pretraining, saved beside the checkpoint, and they change nothing."""

import dataclasses

import jax
import numpy as np
import pytest

from lab.corpus import Corpus
from lab.curves import CurvesConfig, in_context_skills, read_curves
from lab.datasets import dataset_builders
from lab.plots import learning_curves
from lab.pretraining import pretrain, pretrained_model
from lab.train import OptimConfig


@pytest.fixture(scope="module")
def skills(lang, barely_pretrained, tiny_worlds):
    experiment = dataclasses.make_dataclass("Experiment", [(name, type(c), c) for name, c in tiny_worlds.items()])()
    builders = dataset_builders(experiment, lang, ("reversals", "syllogisms"))
    return in_context_skills(CurvesConfig(probe_worlds=3), lang, builders, barely_pretrained.model.seq_len)


OPTIM = OptimConfig(steps=6, warmup_steps=1, batch_size=2, steps_per_dispatch=2)


def test_measuring_reads_the_model_and_changes_nothing(lang, barely_pretrained, skills):
    from lab.model import init_model

    graphdef, params = init_model(barely_pretrained.model, 0)
    corpus = lambda: Corpus(lang, barely_pretrained.corpus, seed=0)  # noqa: E731
    copy = lambda: jax.tree.map(lambda x: x.copy(), params)  # noqa: E731
    plain, plain_losses, no_curve = pretrain(graphdef, copy(), corpus(), OPTIM, progress=False)
    watched, losses, curve = pretrain(graphdef, copy(), corpus(), OPTIM, False, skills(graphdef), measure_every=4)
    assert no_curve == []
    np.testing.assert_array_equal(losses, plain_losses)
    for a, b in zip(jax.tree.leaves(watched), jax.tree.leaves(plain)):
        np.testing.assert_array_equal(a, b)
    assert [row["step"] for row in curve] == [0, 4, 6]  # before training, every 4 steps, at the end
    assert set(curve[0]) == {"step", "loss", "reversals trained", "reversals reversed", "syllogisms trained",
                             "syllogisms syllogism", "binding probe"}
    assert np.isnan(curve[0]["loss"]) and curve[1]["loss"] == pytest.approx(losses[:4].mean())
    assert all(0 <= v <= 1 for row in curve for k, v in row.items() if k not in ("step", "loss"))


def test_every_must_be_a_multiple_of_the_steps_per_dispatch(lang, barely_pretrained, skills):
    from lab.model import init_model

    graphdef, params = init_model(barely_pretrained.model, 0)
    with pytest.raises(ValueError, match="curves.every=3 must be a positive multiple of optim.steps_per_dispatch=2"):
        pretrain(graphdef, params, Corpus(lang, barely_pretrained.corpus, 0), OPTIM, False, skills(graphdef), 3)


def test_the_curve_is_saved_beside_the_checkpoint_and_drawn(tmp_path, barely_pretrained, skills):
    config = dataclasses.replace(barely_pretrained, optim=OPTIM)
    pretrained_model(config, tmp_path, progress=False, measure=skills, measure_every=2)
    curve = read_curves(tmp_path / config.digest())
    assert [row["step"] for row in curve] == [0, 2, 4, 6]
    learning_curves(curve, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert read_curves(tmp_path) == []  # a checkpoint pretrained without one


def test_a_malformed_curve_names_its_file(tmp_path):
    (tmp_path / "curves.csv").write_text("step,loss\n0,abc\n")
    with pytest.raises(ValueError, match="curves.csv is malformed"):
        read_curves(tmp_path)
