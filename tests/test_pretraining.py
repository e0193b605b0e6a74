import dataclasses

import jax
import numpy as np
import pytest

import lab.pretraining
from lab.checkpoint import CheckpointError
from lab.corpus import CorpusConfig
from lab.model import ModelConfig, init_model
from lab.pretraining import PretrainConfig, check_finite, pretrained_model
from lab.train import OptimConfig

TINY_MODEL = ModelConfig(vocab_size=128, seq_len=32, n_layers=1, d_model=16, n_heads=2, d_ff=32, positional="learned")

TINY = PretrainConfig(
    corpus=CorpusConfig(min_facts=1, max_facts=1, two_way_identity_share=0.0, seq_len=32, curriculum_steps=0),
    model=TINY_MODEL,
    optim=OptimConfig(steps=10, warmup_steps=2, batch_size=2, steps_per_dispatch=5),
    init_seed=0,
    data_seed=0,
)

# Alternatives for the fields whose type alone does not suggest a valid one.
ALTERNATIVES = {"positional": "learned", "norm": "rmsnorm", "norm_position": "post", "loss_on": "all",
                "trainable": ("embed",)}


def candidates(name, value):
    if name in ALTERNATIVES:
        return [ALTERNATIVES[name]]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [2 * value, value + 1, value - 1]
    if isinstance(value, float):
        return [value / 2, value + 0.5]
    raise AssertionError(f"no alternative for field {name}={value!r}")


def one_field_changes(config):
    """(dotted field name, config with only that field changed, validly) for every field of `config`."""
    for part in dataclasses.fields(config):
        value = getattr(config, part.name)
        if dataclasses.is_dataclass(value):
            for name, changed in one_field_changes(value):
                yield f"{part.name}.{name}", dataclasses.replace(config, **{part.name: changed})
            continue
        for candidate in (c for c in candidates(part.name, value) if c != value):
            try:
                yield part.name, dataclasses.replace(config, **{part.name: candidate})
                break
            except ValueError:  # the config rejects this value; try the next
                continue
        else:
            raise AssertionError(f"found no valid change of {part.name}={value!r}")


def leaves(params):
    return [np.asarray(x) for x in jax.tree.leaves(params)]


def test_tiny_config_passes_its_checks():
    TINY.check()


def test_check_rejects_a_vocabulary_smaller_than_the_language():
    config = dataclasses.replace(TINY, model=dataclasses.replace(TINY_MODEL, vocab_size=100))
    with pytest.raises(ValueError, match="model.vocab_size"):
        config.check()


def test_check_rejects_corpus_rows_longer_than_the_model():
    config = dataclasses.replace(TINY, corpus=dataclasses.replace(TINY.corpus, seq_len=64))
    with pytest.raises(ValueError, match="corpus.seq_len"):
        config.check()


def test_check_rejects_a_corpus_that_does_not_fit():
    config = dataclasses.replace(TINY, corpus=dataclasses.replace(TINY.corpus, max_facts=3))
    with pytest.raises(ValueError, match="corpus.max_facts"):
        config.check()


def test_digest_is_stable():
    assert TINY.digest() == TINY.digest() == dataclasses.replace(TINY).digest()
    assert len(TINY.digest()) == 16 and int(TINY.digest(), 16) >= 0


def test_digest_changes_with_every_field():
    base = PretrainConfig()
    changes = dict(one_field_changes(base))
    n_fields = sum(len(dataclasses.fields(getattr(base, f.name))) for f in dataclasses.fields(base)[:-2]) + 2
    assert len(changes) == n_fields
    assert {"init_seed", "data_seed", "model.d_model", "optim.trainable", "language.seed", "corpus.loss_on"} <= changes.keys()
    digests = {name: config.digest() for name, config in changes.items()}
    assert base.digest() not in digests.values()
    assert len(set(digests.values())) == len(digests)  # each change gives its own digest


def test_pretrained_model_trains_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    _, trained = pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    directory = tmp_path / TINY.digest()
    assert (directory / "config.json").exists()
    assert np.load(directory / "losses.npy").shape == (TINY.optim.steps,)
    initial = leaves(init_model(TINY.model, TINY.init_seed)[1])
    assert all(not np.array_equal(a, b) for a, b in zip(leaves(trained), initial))

    def no_training(*args, **kwargs):
        raise AssertionError("the second call must load the cached model, not train")

    monkeypatch.setattr(lab.pretraining, "pretrain", no_training)
    _, cached = pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    for a, b in zip(leaves(cached), leaves(trained)):
        np.testing.assert_array_equal(a, b)


def test_pretrained_model_checks_the_config_before_training(tmp_path):
    bad = dataclasses.replace(TINY, model=dataclasses.replace(TINY_MODEL, vocab_size=100))
    with pytest.raises(ValueError, match="model.vocab_size"):
        pretrained_model(bad, cache_dir=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_the_two_seeds_are_separate_knobs(tmp_path):
    """init_seed changes the initial parameters alone; data_seed the corpus alone."""
    base = leaves(init_model(TINY.model, TINY.init_seed)[1])
    other_init = leaves(init_model(TINY.model, TINY.init_seed + 1)[1])
    assert any(not np.array_equal(a, b) for a, b in zip(base, other_init))
    _, a = pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    _, b = pretrained_model(dataclasses.replace(TINY, data_seed=1), cache_dir=tmp_path, progress=False)
    assert any(not np.array_equal(x, y) for x, y in zip(leaves(a), leaves(b)))


def test_a_text_format_change_gives_another_digest(monkeypatch):
    digest = TINY.digest()
    monkeypatch.setattr(lab.pretraining, "TEXT_FORMAT", lab.pretraining.TEXT_FORMAT + 1)
    assert TINY.digest() != digest


def test_a_checkpoint_of_an_older_text_format_is_refused(tmp_path, monkeypatch):
    pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    old = tmp_path / TINY.digest()
    monkeypatch.setattr(lab.pretraining, "TEXT_FORMAT", lab.pretraining.TEXT_FORMAT + 1)
    (tmp_path / TINY.digest()).symlink_to(old)  # as if the digest had collided
    with pytest.raises(CheckpointError, match="text_format"):
        pretrained_model(TINY, cache_dir=tmp_path, progress=False)


def test_a_damaged_checkpoint_is_named_with_its_fix_and_rebuild_replaces_it(tmp_path):
    _, trained = pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    directory = tmp_path / TINY.digest()
    for f in (directory / "params").rglob("*"):
        if f.is_file() and f.stat().st_size > 0 and f.name != "_METADATA":
            f.write_bytes(b"\x00not an array")
    with pytest.raises(CheckpointError) as error:
        pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    message = str(error.value)
    assert str(directory) in message and "damaged" in message
    assert f"rm -r {directory}" in message and "--rebuild-checkpoint" in message
    _, rebuilt = pretrained_model(TINY, cache_dir=tmp_path, progress=False, rebuild=True)
    for a, b in zip(leaves(rebuilt), leaves(trained)):
        np.testing.assert_array_equal(a, b)  # the same config pretrains the same model
    _, loaded = pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    for a, b in zip(leaves(loaded), leaves(trained)):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_folder_without_its_config_is_incomplete(tmp_path):
    (tmp_path / TINY.digest()).mkdir()
    with pytest.raises(CheckpointError, match="incomplete.*config.json.*--rebuild-checkpoint"):
        pretrained_model(TINY, cache_dir=tmp_path, progress=False)


def test_check_finite_names_the_step_of_the_first_nan():
    check_finite(np.array([3.0, 2.0]), 100, "pretraining")
    with pytest.raises(FloatingPointError, match="pretraining diverged: loss nan at step 101"):
        check_finite(np.array([3.0, np.nan, np.inf]), 100, "pretraining")


def test_pretraining_that_diverges_stops_and_saves_nothing(tmp_path):
    wild = dataclasses.replace(TINY, optim=dataclasses.replace(TINY.optim, learning_rate=1e30, grad_clip=1e30))
    with pytest.raises(FloatingPointError, match="diverged.*at step"):
        pretrained_model(wild, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / wild.digest()).exists()
