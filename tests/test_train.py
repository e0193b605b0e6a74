import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lab.corpus import Corpus, CorpusConfig
from lab.model import forward, init_model
from lab.pretraining import pretrain, pretrain_runs, stack_runs
from lab.train import (
    OptimConfig, init_train_state, make_optimizer, make_train_chunk, parameter_paths, sequence_loss, trainable_labels,
)

CORPUS = CorpusConfig(min_facts=1, max_facts=1, two_way_identity_share=0.0, seq_len=32, curriculum_steps=0)


@pytest.fixture(scope="module")
def fixed_batch(lang):
    """One batch of 4 pretraining rows: tokens int32[4, 32], weights float32[4, 32]."""
    return Corpus(lang, CORPUS, seed=0).batch(4)


def repeat(batch, steps):
    tokens, weights = batch
    return np.stack([tokens] * steps), np.stack([weights] * steps)


def copy_of(params):
    """Fresh buffers: `pretrain` donates (deletes) the arrays it is given."""
    return jax.tree.map(jnp.copy, params)


def named_leaves(params) -> dict[str, np.ndarray]:
    return dict(zip(parameter_paths(params), (np.asarray(x) for x in jax.tree.leaves(params))))


@pytest.fixture(scope="module")
def adam_chunk(tiny_model):
    """(optimizer, jitted 40-step train chunk) for the tiny model, shared to compile once."""
    graphdef, params = tiny_model
    config = OptimConfig(learning_rate=1e-2, steps=40, warmup_steps=0, batch_size=4, steps_per_dispatch=40)
    optimizer = make_optimizer(config, params)
    return optimizer, jax.jit(make_train_chunk(graphdef, optimizer))


def test_loss_decreases_on_a_fixed_batch(tiny_model, fixed_batch, adam_chunk):
    graphdef, params = tiny_model
    optimizer, chunk = adam_chunk
    state, losses = chunk(init_train_state(optimizer, params, jax.random.key(0)), *repeat(fixed_batch, 40))
    losses = np.asarray(losses)
    assert losses.shape == (40,)
    assert np.isfinite(losses).all()
    assert losses[-5:].mean() < 0.5 * losses[:5].mean()
    # the reported loss is the loss of the parameters before each step
    np.testing.assert_allclose(losses[0], sequence_loss(graphdef, params, *fixed_batch), rtol=1e-5)


def test_trainable_patterns_freeze_every_other_parameter(tiny_model, fixed_batch):
    graphdef, params = tiny_model
    config = OptimConfig(learning_rate=1e-2, steps=3, warmup_steps=0, trainable=("mlp/up_", "embed"))
    optimizer = make_optimizer(config, params)
    state, _ = jax.jit(make_train_chunk(graphdef, optimizer))(
        init_train_state(optimizer, params, jax.random.key(0)), *repeat(fixed_batch, 3)
    )
    before, after = named_leaves(params), named_leaves(state.params)
    trained = {"blocks/0/mlp/up_DxF", "embed_VxD"}
    for path in before:
        if path in trained:
            assert not np.array_equal(before[path], after[path]), f"{path} should have trained"
        else:
            np.testing.assert_array_equal(before[path], after[path], err_msg=f"{path} should be frozen")


def test_no_trainable_patterns_train_everything(tiny_model):
    _, params = tiny_model
    labels = jax.tree.leaves(trainable_labels(params, ()))
    assert labels and set(labels) == {"train"}


def test_trainable_pattern_matching_nothing_is_rejected(tiny_model):
    _, params = tiny_model
    with pytest.raises(ValueError, match="optim.trainable"):
        make_optimizer(OptimConfig(trainable=("blocks/7/",)), params)


def test_invalid_trainable_regex_is_rejected():
    with pytest.raises(ValueError, match="optim.trainable"):
        OptimConfig(trainable=("mlp(",))


def test_optim_config_validates_its_fields():
    with pytest.raises(ValueError, match="optim.steps"):
        OptimConfig(steps=0)
    with pytest.raises(ValueError, match="optim.learning_rate"):
        OptimConfig(learning_rate=0.0)
    with pytest.raises(ValueError, match="optim.warmup_steps"):
        OptimConfig(steps=10, warmup_steps=11)


def test_warmup_over_all_steps_is_either_rejected_or_works(tiny_model):
    _, params = tiny_model
    try:
        config = OptimConfig(steps=10, warmup_steps=10)
    except ValueError as error:  # a fix may reject it up front, naming the field
        assert "optim.warmup_steps" in str(error)
        return
    make_optimizer(config, params)


def test_sequence_loss_is_the_weighted_mean_next_token_cross_entropy(tiny_model, fixed_batch):
    graphdef, params = tiny_model
    tokens, weights = fixed_batch
    logp = jax.nn.log_softmax(forward(graphdef, params, jnp.asarray(tokens[:, :-1])), axis=-1)
    target_logp = np.take_along_axis(np.asarray(logp), tokens[:, 1:, None], axis=-1)[..., 0]
    expected = -(target_logp * weights[:, 1:]).sum() / weights[:, 1:].sum()
    np.testing.assert_allclose(sequence_loss(graphdef, params, tokens, weights), expected, rtol=1e-5)
    assert sequence_loss(graphdef, params, tokens, np.zeros_like(weights)) == 0.0


def test_train_chunk_does_not_recompile_for_new_same_shaped_data(tiny_model, lang, adam_chunk, count_compiles):
    _, params = tiny_model
    optimizer, chunk = adam_chunk
    corpus = Corpus(lang, CORPUS, seed=1)
    state = init_train_state(optimizer, params, jax.random.key(0))
    with count_compiles() as first:
        state, _ = chunk(state, *corpus.chunk(batch_size=4, steps=40, first_step=0))
    with count_compiles() as second:
        state, losses = chunk(state, *corpus.chunk(batch_size=4, steps=40, first_step=40))
        jax.block_until_ready(losses)
    assert first.count <= 1
    assert second.count == 0
    assert chunk._cache_size() == 1


def test_compile_counter_sees_compilations(count_compiles):
    with count_compiles() as log:
        jax.jit(lambda x: x * 3 + 1)(np.ones(3, np.float32))
    assert log.count == 1


def test_pretrain_returns_trained_params_and_one_loss_per_step(tiny_model, lang):
    graphdef, params = tiny_model
    config = OptimConfig(learning_rate=1e-2, steps=10, warmup_steps=2, batch_size=2, steps_per_dispatch=5)
    trained, losses, _ = pretrain(graphdef, copy_of(params), Corpus(lang, CORPUS, seed=0), config, progress=False)
    assert losses.shape == (10,) and np.isfinite(losses).all()
    before, after = named_leaves(params), named_leaves(trained)
    assert before.keys() == after.keys()
    assert all(not np.array_equal(before[p], after[p]) for p in before)


def test_pretrain_runs_exactly_the_configured_number_of_steps(tiny_model, lang):
    graphdef, params = tiny_model
    try:
        config = OptimConfig(steps=7, warmup_steps=1, batch_size=2, steps_per_dispatch=5)
    except ValueError as error:  # a fix may instead require steps to be a multiple of steps_per_dispatch
        assert "optim.steps_per_dispatch" in str(error)
        return
    _, losses, _ = pretrain(graphdef, copy_of(params), Corpus(lang, CORPUS, seed=0), config, progress=False)
    assert losses.shape == (7,)


def test_pretrain_leaves_the_callers_params_usable(tiny_model, lang):
    graphdef, params = tiny_model
    params = copy_of(params)
    config = OptimConfig(steps=2, warmup_steps=0, batch_size=2, steps_per_dispatch=2)
    pretrain(graphdef, params, Corpus(lang, CORPUS, seed=0), config, progress=False)
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(params))


def test_pretrain_runs_equal_each_run_pretrained_alone(tiny_model, tiny_model_config, lang, count_compiles):
    """Own initialization, corpus stream, learning rate and weight decay per run, one program."""
    graphdef, params = tiny_model
    config = OptimConfig(learning_rate=1e-2, steps=4, warmup_steps=1, batch_size=2, steps_per_dispatch=2)
    initial = [params, init_model(tiny_model_config, seed=1)[1]]
    learning_rates, weight_decays = [1e-2, 5e-3], [0.1, 0.0]
    params_R, corpora = stack_runs(initial), [Corpus(lang, CORPUS, seed) for seed in (0, 1)]
    with count_compiles() as log:
        trained_R, losses_RxS = pretrain_runs(
            graphdef, params_R, corpora, config, learning_rates, weight_decays, progress=False
        )
    assert log.count == 2  # the initial states, and one chunk for both dispatches
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(params_R))  # not donated away
    assert losses_RxS.shape == (2, config.steps)
    for run in range(2):
        alone = dataclasses.replace(config, learning_rate=learning_rates[run], weight_decay=weight_decays[run])
        params_alone, losses_alone, _ = pretrain(
            graphdef, copy_of(initial[run]), Corpus(lang, CORPUS, seed=run), alone, progress=False
        )
        # vmapped and single-run programs may order their float sums differently
        np.testing.assert_allclose(losses_RxS[run], losses_alone, rtol=1e-5)
        for batched, single in zip(jax.tree.leaves(trained_R), jax.tree.leaves(params_alone)):
            np.testing.assert_allclose(batched[run], single, rtol=1e-5, atol=1e-6)
    assert not np.allclose(losses_RxS[0], losses_RxS[1])  # the runs really differ


def test_pretrain_runs_refuses_per_run_values_that_do_not_fit(tiny_model, lang):
    graphdef, params = tiny_model
    corpora = [Corpus(lang, CORPUS, seed) for seed in (0, 1)]
    params_R = stack_runs([params, params])
    with pytest.raises(ValueError, match="learning_rates"):
        pretrain_runs(graphdef, params_R, corpora, OptimConfig(), learning_rates=[1e-3], progress=False)
    with pytest.raises(ValueError, match="learning_rates"):
        pretrain_runs(graphdef, params_R, corpora, OptimConfig(), learning_rates=[1e-3, 0.0], progress=False)
    with pytest.raises(ValueError, match="weight_decays"):
        pretrain_runs(graphdef, params_R, corpora, OptimConfig(), weight_decays=[0.1, -0.1], progress=False)
    with pytest.raises(ValueError, match="params_R"):
        pretrain_runs(graphdef, stack_runs([params]), corpora, OptimConfig(), progress=False)
