"""Training: a pure train step over explicit state, scanned many steps per dispatch.

`make_train_chunk` returns a pure function `(state, tokens, weights) -> (state, losses)`
that runs one optimizer step per leading slice of `tokens` with `lax.scan`. It is
jitted once for pretraining and vmapped over runs for fine-tuning; nothing in it
depends on Python state, so it never recompiles for same-shaped data.

`pretrain` trains one model with its data batch split across all devices;
`pretrain_runs` trains R independent models (own initialization, corpus stream,
learning rate and weight decay) in one vmapped program, runs split across devices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from lab.corpus import Corpus
from lab.devices import (
    batch_sharding, check_divisible, device_mesh, pad_runs, padded_runs, replicated, runs_sharding, unpad_runs,
)
from lab.model import forward


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up and cosine decay."""

    learning_rate: float = 3e-3
    steps: int = 4000
    warmup_steps: int = 100
    final_lr_fraction: float = 0.1  # cosine decays to this fraction of the peak
    weight_decay: float = 0.1  # decoupled, matrices only
    b1: float = 0.9
    b2: float = 0.98
    grad_clip: float = 1.0
    batch_size: int = 32
    steps_per_dispatch: int = 50  # optimizer steps per compiled call (lax.scan length)
    # Regular expressions over parameter paths such as "blocks/0/mlp/up_DxF";
    # a parameter is trained if any matches. Empty tuple: train everything.
    trainable: tuple[str, ...] = ()

    def __post_init__(self):
        for field in ("learning_rate", "steps", "batch_size", "steps_per_dispatch"):
            if getattr(self, field) <= 0:
                raise ValueError(f"optim.{field} must be > 0, got {getattr(self, field)}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"optim.warmup_steps must lie in [0, steps={self.steps}), got {self.warmup_steps}")
        for pattern in self.trainable:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"optim.trainable pattern {pattern!r} is not a valid regex: {e}") from None


class TrainState(NamedTuple):
    params: nnx.State
    opt_state: optax.OptState
    key: jax.Array  # consumed by fine-tuning to draw its batches on device


def parameter_paths(params: nnx.State) -> list[str]:
    """Readable paths of all parameters, e.g. 'blocks/0/attn/qkv_Dx3xHxK'."""
    paths = []
    jax.tree_util.tree_map_with_path(lambda p, _: paths.append(_path_name(p)), params)
    return paths


def _path_name(path) -> str:
    return jax.tree_util.keystr(path, simple=True, separator="/").removesuffix("/value")


def trainable_labels(params: nnx.State, patterns: tuple[str, ...], field: str = "optim.trainable") -> nnx.State:
    """'train' / 'freeze' per parameter; every pattern must name at least one parameter."""
    paths = parameter_paths(params)
    for pattern in patterns:
        if not any(re.search(pattern, p) for p in paths):
            raise ValueError(
                f"{field} pattern {pattern!r} matches no parameter; parameters are: {', '.join(paths)}"
            )

    def label(path, _):
        name = _path_name(path)
        return "train" if not patterns or any(re.search(p, name) for p in patterns) else "freeze"

    return jax.tree_util.tree_map_with_path(label, params)


def make_optimizer(
    config: OptimConfig, params: nnx.State, learning_rate_scale: float | jax.Array = 1.0,
    weight_decay: float | jax.Array | None = None,
) -> optax.GradientTransformation:
    """AdamW on the trainable parameters, zero updates on the others.

    `learning_rate_scale` multiplies the whole schedule (whose peak is
    `config.learning_rate`); `weight_decay` defaults to `config.weight_decay`. Both
    live in the optimizer state (`optax.inject_hyperparams`): the values given here
    only initialize it, so they may be traced per-run scalars under `vmap`, and an
    optimizer built with the defaults steps a state initialized with other values
    by those other values.
    """
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.learning_rate, warmup_steps=config.warmup_steps,
        decay_steps=config.steps, end_value=config.learning_rate * config.final_lr_fraction,
    )
    decay_mask = jax.tree.map(lambda x: x.ndim >= 2, params)  # no decay on norms

    def scaled_adamw(learning_rate_scale, weight_decay):
        # A scale of exactly 1 leaves every learning rate bit for bit as the schedule's.
        return optax.adamw(
            lambda count: learning_rate_scale * schedule(count), b1=config.b1, b2=config.b2,
            weight_decay=weight_decay, mask=decay_mask,
        )

    adamw = optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.inject_hyperparams(scaled_adamw)(
            learning_rate_scale=learning_rate_scale,
            weight_decay=config.weight_decay if weight_decay is None else weight_decay,
        ),
    )
    labels = trainable_labels(params, config.trainable)
    return optax.multi_transform({"train": adamw, "freeze": optax.set_to_zero()}, labels)


def init_train_state(optimizer: optax.GradientTransformation, params: nnx.State, key: jax.Array) -> TrainState:
    return TrainState(params, optimizer.init(params), key)


def sequence_loss(graphdef, params, tokens_BxT: jax.Array, weights_BxT: jax.Array) -> jax.Array:
    """Weighted mean next-token cross-entropy; `weights` marks the target tokens that count."""
    logits_BxTxV = forward(graphdef, params, tokens_BxT[:, :-1])
    losses_BxT = optax.softmax_cross_entropy_with_integer_labels(logits_BxTxV, tokens_BxT[:, 1:])
    weights_BxT = weights_BxT[:, 1:]
    return jnp.sum(losses_BxT * weights_BxT) / jnp.maximum(jnp.sum(weights_BxT), 1.0)


def make_train_step(graphdef, optimizer) -> Callable:
    """`(state, (tokens, weights)) -> (state, loss)`: one optimizer step, pure."""

    def step(state: TrainState, batch) -> tuple[TrainState, jax.Array]:
        tokens_BxT, weights_BxT = batch
        loss, grads = jax.value_and_grad(sequence_loss, argnums=1)(graphdef, state.params, tokens_BxT, weights_BxT)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return TrainState(optax.apply_updates(state.params, updates), opt_state, state.key), loss

    return step


def make_train_chunk(graphdef, optimizer) -> Callable:
    """`(state, tokens[S,B,T], weights[S,B,T]) -> (state, losses[S])`: S steps in one scan."""
    step = make_train_step(graphdef, optimizer)

    def chunk(state: TrainState, tokens_SxBxT, weights_SxBxT):
        return jax.lax.scan(step, state, (tokens_SxBxT, weights_SxBxT))

    return chunk


def data_parallel_training(graphdef, params: nnx.State, config: OptimConfig, field: str = "optim.batch_size"):
    """(train state, jitted train chunk, sharding for its tokens and weights), batch split over all devices.

    The state is replicated on every device and donated to the chunk; each
    [steps, batch, T] array of tokens or weights is split along its batch axis
    (`config.batch_size` must divide by the number of devices, else the error
    names `field`, the caller's flag for it), so each device computes the gradient
    of its share and XLA sums them.
    """
    mesh = device_mesh()
    check_divisible(config.batch_size, mesh, field)
    optimizer = make_optimizer(config, params)
    # Copy: the state is donated to the compiled chunk, the caller keeps its params. (device_put's
    # may_alias=False did not do: replicated onto 4 devices, the caller's buffer became one copy.)
    state = jax.device_put(
        init_train_state(optimizer, jax.tree.map(jnp.copy, params), jax.random.key(0)), replicated(mesh)
    )
    # Out as in (replicated): every dispatch gets its state placed alike, so none recompiles.
    chunk = jax.jit(make_train_chunk(graphdef, optimizer), donate_argnums=0, out_shardings=replicated(mesh))
    return state, chunk, batch_sharding(mesh, axis=1)


def pretrain(
    graphdef, params: nnx.State, corpus: Corpus, config: OptimConfig, progress: bool = True
) -> tuple[nnx.State, np.ndarray]:
    """Train from `params` on the endless corpus for `config.steps` steps.

    Each batch is split across all devices (`data_parallel_training`). Returns
    the trained parameters and the loss of every step.
    """
    state, chunk, data = data_parallel_training(graphdef, params, config)
    losses = []
    with tqdm(total=config.steps, desc="pretrain", unit="step", disable=not progress) as bar:
        for step in range(0, config.steps, config.steps_per_dispatch):
            # The last chunk may be shorter: one extra compile, never extra steps.
            n = min(config.steps_per_dispatch, config.steps - step)
            tokens, weights = jax.device_put(corpus.chunk(config.batch_size, n, step), data)
            state, chunk_losses = chunk(state, tokens, weights)
            losses.append(np.asarray(chunk_losses))
            bar.update(n)
            bar.set_postfix(loss=f"{losses[-1].mean():.3f}")
    return state.params, np.concatenate(losses)


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
