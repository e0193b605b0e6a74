"""Saving and loading pretrained parameters (orbax), beside the config that made them.

A checkpoint directory holds `params/` (orbax), `config.json`, `losses.npy` and,
where pretraining measured the model as it went, `curves.csv`.
It is written whole into a staging directory and renamed into place, so a crash
never leaves half of one under its final name. Loading refuses a checkpoint whose
config differs from the one asked for, naming the fields, and turns any failure
to read it into one message that names the directory and the fix.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import orbax.checkpoint as ocp
from flax import nnx

from lab.configs import config_differences

REBUILD_HINT = "delete it (rm -r {directory}) to pretrain it anew, or rerun with --rebuild-checkpoint"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, incomplete, or of another config."""


def save_params(directory: Path, config: dict, params: nnx.State, losses: np.ndarray, curve: list[dict] = ()) -> None:
    """Write parameters, config, losses and learning curve to `directory`, atomically (replacing what was there)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save((staging / "params").absolute(), nnx.to_pure_dict(params))
        checkpointer.wait_until_finished()
    (staging / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    np.save(staging / "losses.npy", losses)
    if curve:
        with open(staging / "curves.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(curve[0]))
            writer.writeheader()
            writer.writerows(curve)
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(staging, directory)


def load_params(directory: Path, config: dict, template: nnx.State) -> nnx.State:
    """The parameters saved in `directory`, provided `config` made them, written into `template`.

    `template` (freshly initialized parameters of the same model) gives the tree
    and shapes; its values are replaced, and it is returned.
    """
    directory = Path(directory)
    hint = REBUILD_HINT.format(directory=directory)
    config_file = directory / "config.json"
    try:
        saved = json.loads(config_file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {directory} is incomplete (it has no config.json); {hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {directory} is damaged: {config_file} is unreadable ({e}); {hint}") from None
    if saved != config:
        raise CheckpointError(
            f"checkpoint {directory} does not match the requested config:\n  "
            + "\n  ".join(config_differences(saved, config))
            + "\npretrain anew (a different --cache-dir) or ask for the config it was made with"
        )
    try:
        with ocp.StandardCheckpointer() as checkpointer:  # closed, so no thread outlives a failure
            restored = checkpointer.restore((directory / "params").absolute(), nnx.to_pure_dict(template))
    except Exception as e:  # orbax and TensorStore raise many kinds; all mean the same to the user
        reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint {directory} is damaged or incomplete: its parameters could not be read "
            f"({type(e).__name__}: {reason}); {hint}"
        ) from None
    nnx.replace_by_pure_dict(template, restored)
    return template
