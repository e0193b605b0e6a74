"""Training: a pure train step over explicit state, scanned many steps per dispatch.

`make_train_chunk` returns a pure function `(state, tokens, weights) -> (state, losses)`
that runs one optimizer step per leading slice of `tokens` with `lax.scan`; nothing
in it depends on Python state, so it never recompiles for same-shaped data.
Pretraining (`lab.pretraining`) jits it with the batch split across devices; the
fine-tuning engine here (`finetune_runs`) vmaps it over R independent runs in one
program, the runs split across devices.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from lab.batching import Examples, stack_examples
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
        for field in ("learning_rate", "steps", "batch_size", "steps_per_dispatch", "grad_clip"):
            if not 0 < getattr(self, field) < math.inf:  # also refuses NaN
                raise ValueError(f"optim.{field} must be > 0 and finite, got {getattr(self, field)}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"optim.warmup_steps must lie in [0, steps={self.steps}), got {self.warmup_steps}")
        if not 0 <= self.weight_decay < math.inf:
            raise ValueError(f"optim.weight_decay must be >= 0 and finite, got {self.weight_decay}")
        for field in ("final_lr_fraction", "b1", "b2"):
            if not 0 <= getattr(self, field) <= 1:
                raise ValueError(f"optim.{field} must lie in [0, 1], got {getattr(self, field)}")
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


def make_finetune(graphdef, optimizer: optax.GradientTransformation, config: OptimConfig):
    """Pure `(params, docs[P,T], weights[P,T], n_docs, key) -> (params, losses[steps])`.

    Each step trains on `batch_size` documents drawn (on device, from `key`) from
    the first `n_docs` of the P given ones (the rest is padding, so runs with
    different numbers of examples share one program); vmap it over runs.
    """
    step = make_train_step(graphdef, optimizer)

    def finetune(params, docs_PxT, weights_PxT, n_docs, key):
        def sampled_step(state: TrainState, _):
            key, draw = jax.random.split(state.key)
            idx_B = jax.random.randint(draw, (config.batch_size,), 0, n_docs)
            return step(state._replace(key=key), (docs_PxT[idx_B], weights_PxT[idx_B]))

        state, losses = jax.lax.scan(sampled_step, init_train_state(optimizer, params, key), None, length=config.steps)
        return state.params, losses

    return finetune


def finetune_runs(graphdef, optim: OptimConfig, params, docs_RxPxT, weights_RxPxT, keys_R, n_docs_R=None):
    """Fine-tune R independent copies of `params`, one per row of data and key.

    Run r draws its batches from its first `n_docs_R[r]` documents (all P if None).
    Returns the per-run parameters (leading axis R) and losses [R, optim.steps].
    The runs are split across all devices (`lab.devices`), any R: the runs axis is
    padded with copies of the last run to a multiple of the device count and the
    copies dropped after (then the results are gathered onto every device; else
    they stay split by run). Compiled once per (model, optimizer config, data shape).
    """
    mesh = device_mesh()
    runs, n_docs = docs_RxPxT.shape[0], docs_RxPxT.shape[1]
    n_docs_R = np.full(runs, n_docs, np.int32) if n_docs_R is None else np.asarray(n_docs_R, np.int32)
    per_run = pad_runs((docs_RxPxT, weights_RxPxT, n_docs_R, keys_R), padded_runs(runs, mesh))
    params_R, losses_RxS = _finetune_padded_runs(
        graphdef, optim, jax.device_put(params, replicated(mesh)), *jax.device_put(per_run, runs_sharding(mesh))
    )
    return unpad_runs((params_R, losses_RxS), runs)


@partial(jax.jit, static_argnums=(0, 1))
def _finetune_padded_runs(graphdef, optim: OptimConfig, params, docs_RxPxT, weights_RxPxT, n_docs_R, keys_R):
    # The optimizer is built at trace time: its parameter labels depend only on the parameter tree.
    finetune = make_finetune(graphdef, make_optimizer(optim, params), optim)
    return jax.vmap(finetune, in_axes=(None, 0, 0, 0, 0))(params, docs_RxPxT, weights_RxPxT, n_docs_R, keys_R)


def finetune_examples(
    graphdef, params, pad: int, examples: Sequence[Examples], run_seeds: Sequence[tuple[int, int]],
    optim: OptimConfig,
):
    """Fine-tune one copy of `params` per run on its examples, all in one vmapped program.

    Runs may differ in their number and length of examples: they are padded to a
    common shape and each run samples only its own. `run_seeds[i]` (a dataset seed
    and the world's index in its dataset) seeds run i's batches alone, so a run's
    result does not depend on which other runs share its program.

    Returns the per-run parameters (leading axis = run) and losses [run, step].
    """
    docs_RxPxT, weights_RxPxT, n_docs_R = stack_examples(examples, pad)
    keys_R = jnp.stack([run_key(*s) for s in run_seeds])
    return finetune_runs(graphdef, optim, params, docs_RxPxT, weights_RxPxT, keys_R, n_docs_R)


def run_key(seed: int, world_index: int) -> jax.Array:
    """The fine-tuning batch key of one world of one dataset seed."""
    return jax.random.fold_in(jax.random.key(seed), world_index)
