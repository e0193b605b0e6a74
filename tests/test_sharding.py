"""Four devices give the numbers one device gives: batched runs split over devices,
and a single run's data batch split over devices.

XLA_FLAGS must be set before jax is imported, so the four-device side runs this
file as a script in a fresh process (`python tests/test_sharding.py PARAMS.npz OUT.npz`)
and the test compares what it saved with the same computation done here, on the
one default CPU device. Both start from the tiny model's parameters made here
(initializing them again would cost the fresh process seconds of small compiles).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from benchmarks.timing import time_train_chunk
from lab.corpus import Corpus, CorpusConfig
from lab.language import Language, LanguageConfig
from lab.model import ModelConfig, Transformer
from lab.pretraining import pretrain, pretrain_runs, stack_runs
from lab.train import OptimConfig, finetune_runs

# tests/conftest.py's tiny model; spelled out because this file also runs as a script.
TINY_MODEL = ModelConfig(vocab_size=128, seq_len=32, n_layers=1, d_model=16, n_heads=2, d_ff=32, positional="learned")

DEVICES = 4
FINETUNE_RUNS = 6  # not a multiple of DEVICES: two padded runs
PRETRAIN_RUNS = 3
CORPUS = CorpusConfig(min_facts=1, max_facts=1, two_way_identity_share=0.0, seq_len=32, curriculum_steps=0)
FINETUNE = OptimConfig(
    learning_rate=1e-2, steps=3, warmup_steps=0, batch_size=2, weight_decay=0.0, steps_per_dispatch=3
)
PRETRAIN = OptimConfig(learning_rate=1e-2, steps=4, warmup_steps=1, batch_size=4, steps_per_dispatch=2)


def computed_on_all_devices(graphdef, params) -> dict[str, np.ndarray]:
    """Fine-tuning, pretraining and batched pretraining of the tiny model, as flat arrays."""
    lang = Language(LanguageConfig(name_length=2, held_out_fraction=0.25, seed=0, distinct_syllables=True))
    out = {"devices": np.array(jax.device_count())}

    rng = np.random.default_rng(0)
    docs_RxPxT = rng.integers(0, lang.vocab_size, (FINETUNE_RUNS, 4, 32)).astype(np.int32)
    keys_R = jax.random.split(jax.random.key(0), FINETUNE_RUNS)
    weights_RxPxT = np.ones_like(docs_RxPxT, np.float32)
    run_params, losses_RxS = finetune_runs(graphdef, FINETUNE, params, docs_RxPxT, weights_RxPxT, keys_R)
    out |= flat("finetune", run_params) | {"finetune/losses": np.asarray(losses_RxS)}

    trained, losses, _ = pretrain(graphdef, params, Corpus(lang, CORPUS, seed=0), PRETRAIN, progress=False)
    out |= flat("pretrain", trained) | {"pretrain/losses": losses}

    params_R = stack_runs([params] * PRETRAIN_RUNS)  # own corpora and learning rates tell the runs apart
    corpora = [Corpus(lang, CORPUS, seed) for seed in range(PRETRAIN_RUNS)]
    trained_R, losses_RxS = pretrain_runs(
        graphdef, params_R, corpora, PRETRAIN, learning_rates=[1e-2, 5e-3, 2e-2], progress=False
    )
    out |= flat("pretrain_runs", trained_R) | {"pretrain_runs/losses": losses_RxS}

    if jax.device_count() > 1:  # on one device it would train, not fail
        try:
            pretrain(graphdef, params, Corpus(lang, CORPUS, seed=0), OptimConfig(batch_size=6), progress=False)
        except ValueError as error:
            out["uneven_batch_error"] = np.array(str(error))
        try:
            time_train_chunk(TINY_MODEL, OptimConfig(batch_size=6), dispatches=1, seed=0)
        except ValueError as error:
            out["benchmark_uneven_batch_error"] = np.array(str(error))
    return out


def flat(prefix: str, tree) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {f"{prefix}/{jax.tree_util.keystr(path, simple=True, separator='/')}": np.asarray(x) for path, x in leaves}


def tiny_model_from(leaves_file: Path):
    """(graphdef, params) of TINY_MODEL with the parameters saved in `leaves_file`."""
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: Transformer(TINY_MODEL, nnx.Rngs(params=0))))
    with np.load(leaves_file) as saved:
        leaves = [saved[f"leaf{i}"] for i in range(len(saved.files))]
    return graphdef, jax.tree.unflatten(jax.tree.structure(abstract), leaves)


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_model) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(computed on 4 devices in a fresh process, computed here on 1)."""
    if jax.device_count() != 1:
        pytest.skip("compares against this process's devices, which must be the one default device")
    folder = tmp_path_factory.mktemp("sharding")
    np.savez(folder / "params.npz", **{f"leaf{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(tiny_model[1]))})
    env = os.environ | {"XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}", "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, __file__, str(folder / "params.npz"), str(folder / "four_devices.npz")]
    subprocess.run(command, env=env, check=True, cwd=Path(__file__).parent.parent)
    with np.load(folder / "four_devices.npz") as saved:
        return dict(saved), computed_on_all_devices(*tiny_model)


def test_four_devices_give_the_numbers_of_one(results):
    four_devices, one_device = results
    assert four_devices["devices"] == DEVICES and one_device["devices"] == 1
    numbers = [k for k in one_device if "/" in k]
    assert four_devices.keys() >= set(numbers)
    assert four_devices["finetune/losses"].shape == (FINETUNE_RUNS, FINETUNE.steps)
    assert four_devices["pretrain_runs/losses"].shape == (PRETRAIN_RUNS, PRETRAIN.steps)
    for key in numbers:
        # Runs split over devices compute the same sums; a split batch sums its gradient in another order.
        np.testing.assert_allclose(four_devices[key], one_device[key], rtol=1e-4, atol=1e-6, err_msg=key)


def test_a_batch_that_does_not_split_over_the_devices_is_refused_naming_the_field(results):
    four_devices, _ = results
    message = str(four_devices.get("uneven_batch_error", "no error"))
    assert "optim.batch_size=6" in message and "4 devices" in message
    # The benchmark's flag is --batch-size, so its error names that, not the pretraining config's field.
    benchmark_message = str(four_devices.get("benchmark_uneven_batch_error", "no error"))
    assert benchmark_message.startswith("batch_size=6 must be a multiple of the 4 devices")


if __name__ == "__main__":
    np.savez(sys.argv[2], **computed_on_all_devices(*tiny_model_from(Path(sys.argv[1]))))
