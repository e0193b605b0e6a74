"""Training: a pure train step over explicit state, scanned many steps per dispatch.

`make_train_chunk` returns a pure function `(state, tokens, weights) -> (state, losses)`
that runs one optimizer step per leading slice of `tokens` with `lax.scan`. It is
jitted once for pretraining and vmapped over runs for fine-tuning; nothing in it
depends on Python state, so it never recompiles for same-shaped data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from lab.corpus import Corpus
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


def make_optimizer(config: OptimConfig, params: nnx.State) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.learning_rate, warmup_steps=config.warmup_steps,
        decay_steps=config.steps, end_value=config.learning_rate * config.final_lr_fraction,
    )
    decay_mask = jax.tree.map(lambda x: x.ndim >= 2, params)  # no decay on norms
    adamw = optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(schedule, b1=config.b1, b2=config.b2, weight_decay=config.weight_decay, mask=decay_mask),
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


def pretrain(
    graphdef, params: nnx.State, corpus: Corpus, config: OptimConfig, progress: bool = True
) -> tuple[nnx.State, np.ndarray]:
    """Train from `params` on the endless corpus for `config.steps` steps.

    Returns the trained parameters and the loss of every step.
    """
    optimizer = make_optimizer(config, params)
    # Copy: the state is donated to the compiled chunk, the caller keeps its params.
    state = init_train_state(optimizer, jax.tree.map(jnp.copy, params), jax.random.key(0))
    chunk = jax.jit(make_train_chunk(graphdef, optimizer), donate_argnums=0)
    losses = []
    with tqdm(total=config.steps, desc="pretrain", unit="step", disable=not progress) as bar:
        for step in range(0, config.steps, config.steps_per_dispatch):
            # The last chunk may be shorter: one extra compile, never extra steps.
            n = min(config.steps_per_dispatch, config.steps - step)
            tokens, weights = corpus.chunk(config.batch_size, n, step)
            state, chunk_losses = chunk(state, tokens, weights)
            losses.append(np.asarray(chunk_losses))
            bar.update(n)
            bar.set_postfix(loss=f"{losses[-1].mean():.3f}")
    return state.params, np.concatenate(losses)
