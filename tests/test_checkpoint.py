import dataclasses
import json

import jax
import numpy as np
import pytest

import lab.checkpoint
from lab.checkpoint import PretrainConfig, load_pretrained, pretrained_model, save_pretrained
from lab.corpus import CorpusConfig
from lab.model import ModelConfig, init_model
from lab.train import OptimConfig, parameter_paths

TINY_MODEL = ModelConfig(vocab_size=128, seq_len=32, n_layers=1, d_model=16, n_heads=2, d_ff=32, positional="learned")

TINY = PretrainConfig(
    corpus=CorpusConfig(min_facts=1, max_facts=1, two_way_identity_share=0.0, seq_len=32, curriculum_steps=0),
    model=TINY_MODEL,
    optim=OptimConfig(steps=10, warmup_steps=2, batch_size=2, steps_per_dispatch=5),
    seed=0,
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


def params_like(config, offset):
    """Parameters of `config`'s shape that differ from its initialization."""
    _, params = init_model(config.model, config.seed)
    return jax.tree.map(lambda x: x + offset, params)


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
    n_fields = sum(len(dataclasses.fields(getattr(base, f.name))) for f in dataclasses.fields(base)[:-1]) + 1
    assert len(changes) == n_fields
    assert {"seed", "model.d_model", "optim.trainable", "language.seed", "corpus.loss_on"} <= changes.keys()
    digests = {name: config.digest() for name, config in changes.items()}
    assert base.digest() not in digests.values()
    assert len(set(digests.values())) == len(digests)  # each change gives its own digest


def test_save_then_load_returns_the_saved_params(tmp_path):
    saved = params_like(TINY, offset=0.5)
    save_pretrained(tmp_path / "model", TINY, saved, np.arange(10.0))
    graphdef, loaded = load_pretrained(tmp_path / "model", TINY)
    assert parameter_paths(loaded) == parameter_paths(saved)
    for a, b in zip(leaves(loaded), leaves(saved)):
        np.testing.assert_array_equal(a, b)
    assert graphdef == init_model(TINY.model, TINY.seed)[0]
    np.testing.assert_array_equal(np.load(tmp_path / "model" / "losses.npy"), np.arange(10.0))
    assert json.loads((tmp_path / "model" / "config.json").read_text()) == json.loads(json.dumps(TINY.to_dict()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left behind


def test_save_replaces_an_existing_checkpoint(tmp_path):
    save_pretrained(tmp_path / "model", TINY, params_like(TINY, offset=0.5), np.zeros(1))
    save_pretrained(tmp_path / "model", TINY, params_like(TINY, offset=1.5), np.ones(2))
    _, loaded = load_pretrained(tmp_path / "model", TINY)
    for a, b in zip(leaves(loaded), leaves(params_like(TINY, offset=1.5))):
        np.testing.assert_array_equal(a, b)
    assert np.load(tmp_path / "model" / "losses.npy").shape == (2,)


def test_config_with_trainable_patterns_round_trips(tmp_path):
    config = dataclasses.replace(TINY, optim=dataclasses.replace(TINY.optim, trainable=("mlp",)))
    save_pretrained(tmp_path / "model", config, params_like(config, offset=0.5), np.zeros(1))
    load_pretrained(tmp_path / "model", config)  # the tuple saved as a JSON list still matches


def test_loading_with_a_different_config_names_the_differing_field(tmp_path):
    save_pretrained(tmp_path / "model", TINY, params_like(TINY, offset=0.5), np.zeros(1))
    other = dataclasses.replace(TINY, model=dataclasses.replace(TINY_MODEL, d_model=32))
    with pytest.raises(ValueError, match="model.d_model") as error:
        load_pretrained(tmp_path / "model", other)
    assert "checkpoint has 16, config asks for 32" in str(error.value)
    assert "optim." not in str(error.value) and "corpus." not in str(error.value)


def test_a_checkpoint_of_an_older_text_format_is_refused(tmp_path, monkeypatch):
    save_pretrained(tmp_path / "model", TINY, params_like(TINY, offset=0.5), np.zeros(1))
    digest = TINY.digest()
    monkeypatch.setattr(lab.checkpoint, "TEXT_FORMAT", lab.checkpoint.TEXT_FORMAT + 1)
    assert TINY.digest() != digest
    with pytest.raises(ValueError, match="text_format"):
        load_pretrained(tmp_path / "model", TINY)


def test_loading_a_folder_without_a_checkpoint_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_pretrained(tmp_path, TINY)


def test_pretrained_model_trains_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    _, trained = pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    directory = tmp_path / TINY.digest()
    assert (directory / "config.json").exists()
    assert np.load(directory / "losses.npy").shape == (TINY.optim.steps,)
    initial = leaves(init_model(TINY.model, TINY.seed)[1])
    assert all(not np.array_equal(a, b) for a, b in zip(leaves(trained), initial))

    def no_training(*args, **kwargs):
        raise AssertionError("the second call must load the cached model, not train")

    monkeypatch.setattr(lab.checkpoint, "pretrain", no_training)
    _, cached = pretrained_model(TINY, cache_dir=tmp_path, progress=False)
    for a, b in zip(leaves(cached), leaves(trained)):
        np.testing.assert_array_equal(a, b)


def test_pretrained_model_checks_the_config_before_training(tmp_path):
    bad = dataclasses.replace(TINY, model=dataclasses.replace(TINY_MODEL, vocab_size=100))
    with pytest.raises(ValueError, match="model.vocab_size"):
        pretrained_model(bad, cache_dir=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())
