"""Pretraining: the config that fixes a model, the loops that train it, and load-or-pretrain.

A pretrained model is fully determined by a `PretrainConfig` (language, corpus,
model, optimizer, initialization and data seeds) and the version of the text
format (`corpus.TEXT_FORMAT`): `pretrained_model` loads it from the checkpoint
cache (`lab.checkpoint`, keyed by a hash of both) or trains and saves it.

`pretrain` trains one model with its data batch split across all devices;
`pretrain_runs` trains R independent models (own initialization, corpus stream,
learning rate and weight decay) in one vmapped program, runs split across devices.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from lab.checkpoint import load_params, save_params
from lab.configs import config_dict
from lab.corpus import TEXT_FORMAT, Corpus, CorpusConfig
from lab.devices import device_mesh, pad_runs, padded_runs, replicated, runs_sharding, unpad_runs
from lab.language import Language, LanguageConfig
from lab.model import ModelConfig, init_model
from lab.train import OptimConfig, TrainState, data_parallel_training, init_train_state, make_optimizer, make_train_chunk


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines a pretrained model."""

    language: LanguageConfig = LanguageConfig()
    corpus: CorpusConfig = CorpusConfig()
    model: ModelConfig = ModelConfig()
    # Long enough for in-context binding to form on one-kind documents and for the
    # syllogism documents of the mixture to teach their conclusions.
    optim: OptimConfig = OptimConfig(steps=20_000)
    init_seed: int = 0  # the model's initial parameters
    data_seed: int = 0  # the corpus stream: which documents, in which order

    def check(self) -> None:
        """Raise if the parts do not fit together."""
        lang = Language(self.language)
        if self.model.vocab_size < lang.vocab_size:
            raise ValueError(
                f"model.vocab_size={self.model.vocab_size} is smaller than the language's "
                f"{lang.vocab_size} tokens; raise model.vocab_size"
            )
        if self.corpus.seq_len > self.model.seq_len:
            raise ValueError(
                f"corpus.seq_len={self.corpus.seq_len} exceeds model.seq_len={self.model.seq_len}; make them equal"
            )
        self.corpus.check_fits(lang)

    def to_dict(self) -> dict:
        return config_dict(self, text_format=TEXT_FORMAT)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def pretrained_model(
    config: PretrainConfig, cache_dir: Path = Path("checkpoints"), progress: bool = True, rebuild: bool = False,
    measure: Callable[[nnx.GraphDef], Measure] | None = None, measure_every: int = 0,
):
    """(graphdef, params): loaded from the cache if this config was trained before, else trained now.

    `rebuild` pretrains anew even where a checkpoint exists (a damaged one, say),
    replacing it only once the new one is saved. `measure(graphdef)`, if given, is
    what a new pretraining measures every `measure_every` steps (`pretrain`); its
    learning curve is saved beside the checkpoint as `curves.csv`.
    """
    config.check()
    directory = Path(cache_dir) / config.digest()
    graphdef, params = init_model(config.model, config.init_seed)
    if directory.exists() and not rebuild:
        return graphdef, load_params(directory, config.to_dict(), params)
    corpus = Corpus(Language(config.language), config.corpus, config.data_seed)
    params, losses, curve = pretrain(
        graphdef, params, corpus, config.optim, progress, measure and measure(graphdef), measure_every,
    )
    save_params(directory, config.to_dict(), params, losses, curve)
    return graphdef, jax.device_get(params)


def check_finite(losses: np.ndarray, first_step: int, what: str) -> None:
    """Raise at the first NaN or infinite loss, naming the step: a diverged run is no result."""
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        raise FloatingPointError(
            f"{what} diverged: loss {losses[bad[0]]} at step {first_step + bad[0]}; lower optim.learning_rate "
            "or raise optim.warmup_steps. Nothing of this pretraining was saved."
        )


Measure = Callable[[nnx.State], dict[str, float]]
"""What to measure of the model during pretraining: its parameters -> named figures."""


def pretrain(
    graphdef, params: nnx.State, corpus: Corpus, config: OptimConfig, progress: bool = True,
    measure: Measure | None = None, measure_every: int = 0,
) -> tuple[nnx.State, np.ndarray, list[dict]]:
    """Train from `params` on the endless corpus for `config.steps` steps.

    Each batch is split across all devices (`data_parallel_training`). With
    `measure`, the model is measured before training, every `measure_every` steps
    (a multiple of `config.steps_per_dispatch`) and at the end; measuring reads the
    parameters only, so the trained model is the same with or without it. Returns
    the trained parameters, the loss of every step and the learning curve (a row
    per measurement: step, mean loss of the steps before it, the figures).
    """
    if measure is not None and (measure_every <= 0 or measure_every % config.steps_per_dispatch):
        raise ValueError(
            f"curves.every={measure_every} must be a positive multiple of optim.steps_per_dispatch="
            f"{config.steps_per_dispatch} (or 0 for no learning curve)"
        )
    state, chunk, data = data_parallel_training(graphdef, params, config)
    losses, curve = [], []

    def measured(step: int) -> None:
        recent = np.concatenate(losses)[-measure_every:].mean() if losses else math.nan
        curve.append({"step": step, "loss": float(recent), **measure(state.params)})

    with tqdm(total=config.steps, desc="pretrain", unit="step", disable=not progress) as bar:
        if measure is not None:
            measured(0)
        for step in range(0, config.steps, config.steps_per_dispatch):
            # The last chunk may be shorter: one extra compile, never extra steps.
            n = min(config.steps_per_dispatch, config.steps - step)
            tokens, weights = jax.device_put(corpus.chunk(config.batch_size, n, step), data)
            state, chunk_losses = chunk(state, tokens, weights)
            losses.append(np.asarray(chunk_losses))
            check_finite(losses[-1], step, "pretraining")
            bar.update(n)
            bar.set_postfix(loss=f"{losses[-1].mean():.3f}")
            if measure is not None and ((step + n) % measure_every == 0 or step + n == config.steps):
                measured(step + n)
    return state.params, np.concatenate(losses), curve


def stack_runs(trees: Sequence) -> nnx.State:
    """Same-structured pytrees (e.g. one `init_model` per seed) stacked on a new leading runs axis."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def pretrain_runs(
    graphdef, params_R: nnx.State, corpora: Sequence[Corpus], config: OptimConfig,
    learning_rates: Sequence[float] | None = None, weight_decays: Sequence[float] | None = None,
    progress: bool = True,
) -> tuple[nnx.State, np.ndarray]:
    """Pretrain R independent models at once, as R calls of `pretrain` would.

    Run r starts from row r of `params_R` (see `stack_runs`) and trains on
    `corpora[r]` with learning rate `learning_rates[r]` and weight decay
    `weight_decays[r]` (default: the config's); everything else, shapes included,
    comes from `config`. The runs are vmapped in one program and split across all
    devices (padded to a multiple of their number with copies of the last run,
    dropped after). Returns the trained parameters (leading axis R) and losses
    float32[R, config.steps].
    """
    runs = len(corpora)
    learning_rates_R = _per_run("learning_rates", learning_rates, config.learning_rate, runs, zero_allowed=False)
    weight_decays_R = _per_run("weight_decays", weight_decays, config.weight_decay, runs, zero_allowed=True)
    leading = {x.shape[0] for x in jax.tree.leaves(params_R)}
    if leading != {runs}:
        raise ValueError(f"params_R must stack {runs} runs (one per corpus) on its leading axis, got {sorted(leading)}")
    mesh = device_mesh()
    padded, split = padded_runs(runs, mesh), runs_sharding(mesh)

    def init_run(params, learning_rate_scale, weight_decay):
        optimizer = make_optimizer(config, params, learning_rate_scale, weight_decay)
        # Copy: jit would hand the caller's arrays through to the state, which the chunks donate.
        return init_train_state(optimizer, jax.tree.map(jnp.copy, params), jax.random.key(0))

    def train_run(state: TrainState, tokens_SxBxT, weights_SxBxT):
        # Built per run at trace time: the labels and decay mask read one run's parameter tree;
        # the run's learning rate scale and weight decay come from its optimizer state.
        return make_train_chunk(graphdef, make_optimizer(config, state.params))(state, tokens_SxBxT, weights_SxBxT)

    # Learning rates as scales of the config's schedule: exactly 1 for the config's own.
    per_run = (params_R, learning_rates_R / np.float32(config.learning_rate), weight_decays_R)
    state_R = jax.jit(jax.vmap(init_run), out_shardings=split)(*jax.device_put(pad_runs(per_run, padded), split))
    # Losses replicated: small, and readable by every process of a multi-host run.
    chunk = jax.jit(jax.vmap(train_run), donate_argnums=0, out_shardings=(split, replicated(mesh)))
    losses = []
    with tqdm(total=config.steps, desc=f"pretrain {runs} runs", unit="step", disable=not progress) as bar:
        for step in range(0, config.steps, config.steps_per_dispatch):
            n = min(config.steps_per_dispatch, config.steps - step)
            batches = [corpus.chunk(config.batch_size, n, step) for corpus in corpora]
            tokens_RxSxBxT, weights_RxSxBxT = (np.stack(x) for x in zip(*batches))
            placed = jax.device_put(pad_runs((tokens_RxSxBxT, weights_RxSxBxT), padded), split)
            state_R, losses_RxS = chunk(state_R, *placed)
            losses.append(np.asarray(losses_RxS)[:runs])
            for r in range(runs):
                check_finite(losses[-1][r], step, f"pretraining run {r} of {runs}")
            bar.update(n)
            bar.set_postfix(loss=f"{losses[-1][:, -1].mean():.3f}")
    return unpad_runs(state_R.params, runs), np.concatenate(losses, axis=1)


def _per_run(field: str, values, default: float, runs: int, zero_allowed: bool) -> np.ndarray:
    """float32[runs]: `values`, or `default` for every run; checked where they enter."""
    if values is None:
        return np.full(runs, default, np.float32)
    values = np.asarray(values, np.float32)
    if values.shape != (runs,):
        raise ValueError(f"{field} must give one value per run ({runs} corpora), got shape {values.shape}")
    if (values < 0).any() or (not zero_allowed and (values == 0).any()):
        raise ValueError(f"{field} must all be {'>= 0' if zero_allowed else '> 0'}, got {values.tolist()}")
    return values
