import json

import jax
import numpy as np
import pytest

from lab.checkpoint import CheckpointError, load_params, save_params
from lab.model import ModelConfig, init_model
from lab.train import parameter_paths

MODEL = ModelConfig(vocab_size=128, seq_len=32, n_layers=1, d_model=16, n_heads=2, d_ff=32, positional="learned")
CONFIG = {"model": {"d_model": 16}, "text_format": 2}


def fresh():
    return init_model(MODEL, 0)[1]


def params_like(offset):
    """Parameters of the model's shape that differ from its initialization."""
    return jax.tree.map(lambda x: x + offset, fresh())


def leaves(params):
    return [np.asarray(x) for x in jax.tree.leaves(params)]


def test_save_then_load_returns_the_saved_params(tmp_path):
    saved = params_like(0.5)
    save_params(tmp_path / "model", CONFIG, saved, np.arange(10.0))
    loaded = load_params(tmp_path / "model", CONFIG, fresh())
    assert parameter_paths(loaded) == parameter_paths(saved)
    for a, b in zip(leaves(loaded), leaves(saved)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.load(tmp_path / "model" / "losses.npy"), np.arange(10.0))
    assert json.loads((tmp_path / "model" / "config.json").read_text()) == CONFIG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left behind


def test_save_replaces_an_existing_checkpoint(tmp_path):
    save_params(tmp_path / "model", CONFIG, params_like(0.5), np.zeros(1))
    save_params(tmp_path / "model", CONFIG, params_like(1.5), np.ones(2))
    loaded = load_params(tmp_path / "model", CONFIG, fresh())
    for a, b in zip(leaves(loaded), leaves(params_like(1.5))):
        np.testing.assert_array_equal(a, b)
    assert np.load(tmp_path / "model" / "losses.npy").shape == (2,)


def test_loading_with_a_different_config_names_the_differing_field(tmp_path):
    save_params(tmp_path / "model", CONFIG, params_like(0.5), np.zeros(1))
    with pytest.raises(CheckpointError, match="model.d_model") as error:
        load_params(tmp_path / "model", {**CONFIG, "model": {"d_model": 32}}, fresh())
    assert "checkpoint has 16, config asks for 32" in str(error.value)
    assert "text_format" not in str(error.value)


def test_a_folder_without_a_checkpoint_is_incomplete(tmp_path):
    with pytest.raises(CheckpointError, match=f"{tmp_path} is incomplete .*config.json.*rm -r {tmp_path}"):
        load_params(tmp_path, CONFIG, fresh())


def test_an_unreadable_config_is_damaged(tmp_path):
    save_params(tmp_path / "model", CONFIG, params_like(0.5), np.zeros(1))
    (tmp_path / "model" / "config.json").write_text('{"model": ')
    with pytest.raises(CheckpointError, match="damaged.*config.json.*--rebuild-checkpoint"):
        load_params(tmp_path / "model", CONFIG, fresh())


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_damaged_array_files_give_one_message_naming_the_checkpoint(tmp_path, damage):
    directory = tmp_path / "model"
    save_params(directory, CONFIG, params_like(0.5), np.zeros(1))
    files = [f for f in (directory / "params").rglob("*") if f.is_file() and f.name != "_METADATA"]
    for f in files:
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 3]) if damage == "truncate" else f.unlink()
    with pytest.raises(CheckpointError) as error:
        load_params(directory, CONFIG, fresh())
    message = str(error.value)
    assert message.startswith(f"checkpoint {directory} is damaged or incomplete")
    assert f"rm -r {directory}" in message and "--rebuild-checkpoint" in message
    assert "\n" not in message  # one line, not a TensorStore traceback
