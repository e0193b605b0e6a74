import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flax import nnx

from lab.model import Canon, CausalSelfAttention, ModelConfig, attention_maps, count_params, forward, init_model, rotate
from lab.train import parameter_paths


def tokens_for(config, batch=2, length=32, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(3, config.vocab_size, (batch, length)), jnp.int32)


def logits_of(config, tokens, seed=0):
    graphdef, params = init_model(config, seed)
    return np.asarray(forward(graphdef, params, tokens))


def test_forward_gives_finite_logits_of_shape_batch_time_vocab(tiny_model, tiny_model_config):
    graphdef, params = tiny_model
    logits = forward(graphdef, params, tokens_for(tiny_model_config, batch=2, length=10))
    assert logits.shape == (2, 10, tiny_model_config.vocab_size)
    assert logits.dtype == jnp.float32
    assert np.isfinite(np.asarray(logits)).all()


@pytest.mark.parametrize("positional", ["learned", "rope", "none"])
def test_each_positional_scheme_runs(tiny_model_config, positional):
    config = dataclasses.replace(tiny_model_config, positional=positional)
    logits = logits_of(config, tokens_for(config))
    assert logits.shape == (2, 32, config.vocab_size) and np.isfinite(logits).all()
    has_table = any("positions_TxD" in p for p in parameter_paths(init_model(config, 0)[1]))
    assert has_table == (positional == "learned")


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm", "none"])
@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_each_norm_and_norm_position_runs(tiny_model_config, norm, norm_position):
    config = dataclasses.replace(tiny_model_config, norm=norm, norm_position=norm_position)
    logits = logits_of(config, tokens_for(config))
    assert logits.shape == (2, 32, config.vocab_size) and np.isfinite(logits).all()


def test_norm_none_has_no_norm_parameters(tiny_model_config):
    _, params = init_model(dataclasses.replace(tiny_model_config, norm="none"), 0)
    assert not any("norm" in p for p in parameter_paths(params))


def test_untied_embeddings_add_an_unembedding_matrix(tiny_model_config):
    untied = dataclasses.replace(tiny_model_config, tied_embeddings=False)
    _, tied_params = init_model(tiny_model_config, 0)
    _, untied_params = init_model(untied, 0)
    extra = tiny_model_config.d_model * tiny_model_config.vocab_size
    assert count_params(untied_params) == count_params(tied_params) + extra
    assert "unembed_DxV" in parameter_paths(untied_params)
    logits = logits_of(untied, tokens_for(untied))
    assert logits.shape == (2, 32, untied.vocab_size) and np.isfinite(logits).all()


def test_attention_only_model_has_no_mlp_and_runs(tiny_model_config):
    config = dataclasses.replace(tiny_model_config, d_ff=0)
    _, params = init_model(config, 0)
    assert not any("mlp" in p for p in parameter_paths(params))
    logits = logits_of(config, tokens_for(config))
    assert logits.shape == (2, 32, config.vocab_size) and np.isfinite(logits).all()


def test_more_layers_add_blocks(tiny_model_config):
    _, params = init_model(dataclasses.replace(tiny_model_config, n_layers=2), 0)
    assert any(p.startswith("blocks/1/") for p in parameter_paths(params))


@pytest.mark.parametrize("positional", ["learned", "rope", "none"])
@pytest.mark.parametrize("canon_kernel", [0, 3])
def test_model_is_causal(tiny_model_config, positional, canon_kernel):
    config = dataclasses.replace(tiny_model_config, positional=positional, n_layers=2, canon_kernel=canon_kernel)
    graphdef, params = init_model(config, 0)
    tokens = tokens_for(config)
    t = 13
    changed = tokens.at[:, t + 1 :].set((tokens[:, t + 1 :] + 5) % config.vocab_size)
    before = np.asarray(forward(graphdef, params, tokens))
    after = np.asarray(forward(graphdef, params, changed))
    np.testing.assert_allclose(before[:, : t + 1], after[:, : t + 1], rtol=0, atol=1e-6)
    assert not np.allclose(before[:, t + 1 :], after[:, t + 1 :], atol=1e-3)  # later positions do see them


def test_canon_adds_the_weighted_previous_positions_to_each_position(tiny_model_config):
    canon = Canon(dataclasses.replace(tiny_model_config, canon_kernel=3), nnx.Rngs(params=0))
    x_BxTxD = jax.random.normal(jax.random.key(1), (2, 7, tiny_model_config.d_model))
    w_WxD = np.asarray(canon.weight_WxD[...])
    x = np.asarray(x_BxTxD)
    # Position t mixes t, t-1, t-2 (row j of the weight for j steps back); before the start counts as zero.
    expected = x + w_WxD[0] * x
    expected[:, 1:] += w_WxD[1] * x[:, :-1]
    expected[:, 2:] += w_WxD[2] * x[:, :-2]
    np.testing.assert_allclose(np.asarray(canon(x_BxTxD)), expected, rtol=1e-5, atol=1e-6)


def test_canon_kernel_adds_one_weight_per_block_and_zero_adds_none(tiny_model_config):
    _, plain = init_model(dataclasses.replace(tiny_model_config, canon_kernel=0), 0)
    _, with_canon = init_model(dataclasses.replace(tiny_model_config, n_layers=2, canon_kernel=4), 0)
    assert [p for p in parameter_paths(with_canon) if "canon" in p] == [
        "blocks/0/canon/weight_WxD", "blocks/1/canon/weight_WxD"
    ]
    assert not any("canon" in p for p in parameter_paths(plain))
    with pytest.raises(ValueError, match="model.canon_kernel"):
        ModelConfig(canon_kernel=-1)


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_attention_maps_are_the_weights_the_forward_pass_uses(tiny_model_config, monkeypatch, norm_position):
    config = dataclasses.replace(tiny_model_config, n_layers=2, canon_kernel=3, norm_position=norm_position)
    graphdef, params = init_model(config, 0)
    tokens = tokens_for(config, length=12)
    used = []
    original = CausalSelfAttention._weights_and_values

    def recording(self, x_BxTxD):
        weights_and_values = original(self, x_BxTxD)
        used.append(np.asarray(weights_and_values[0]))
        return weights_and_values

    monkeypatch.setattr(CausalSelfAttention, "_weights_and_values", recording)
    forward(graphdef, params, tokens)
    monkeypatch.undo()
    maps = [np.asarray(m) for m in attention_maps(graphdef, params, tokens)]
    assert len(maps) == 2 and maps[0].shape == (2, config.n_heads, 12, 12)
    for probed, in_forward in zip(maps, used):
        np.testing.assert_allclose(probed, in_forward, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(probed.sum(-1), 1.0, rtol=1e-5)
        assert np.all(np.triu(probed, k=1) == 0)  # nothing attends to the future


def test_jitted_and_eager_forward_agree(tiny_model, tiny_model_config):
    graphdef, params = tiny_model
    tokens = tokens_for(tiny_model_config)
    eager = forward(graphdef, params, tokens)
    jitted = jax.jit(forward, static_argnums=0)(graphdef, params, tokens)
    np.testing.assert_allclose(np.asarray(eager), np.asarray(jitted), rtol=1e-5, atol=1e-5)


def test_init_is_determined_by_seed(tiny_model_config):
    same = [jax.tree.leaves(init_model(tiny_model_config, 3)[1]) for _ in range(2)]
    other = jax.tree.leaves(init_model(tiny_model_config, 4)[1])
    assert all(np.array_equal(a, b) for a, b in zip(*same))
    assert not all(np.array_equal(a, b) for a, b in zip(same[0], other))


def test_rotate_keeps_norms_and_leaves_position_zero_alone():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 5, 2, 8)), jnp.float32)
    y = rotate(x, 10_000.0)
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)
    np.testing.assert_allclose(y[:, 0], x[:, 0], rtol=1e-6)
    assert not np.allclose(y[:, 1:], x[:, 1:])


def test_rope_attention_scores_depend_only_on_relative_position():
    rng = np.random.default_rng(0)
    q, k = (rng.normal(size=8).astype(np.float32) for _ in range(2))
    # the same q and k placed at positions (2, 5) and at (6, 9): equal dot products after rotation
    x = jnp.zeros((1, 10, 1, 8)).at[0, 2, 0].set(q).at[0, 5, 0].set(k).at[0, 6, 0].set(q).at[0, 9, 0].set(k)
    r = np.asarray(rotate(x, 10_000.0))[0, :, 0]
    np.testing.assert_allclose(r[2] @ r[5], r[6] @ r[9], rtol=1e-4)
    assert not np.isclose(r[2] @ r[5], q @ k, rtol=1e-3)  # but rotation did change the score


def test_d_model_not_divisible_by_n_heads_is_rejected():
    with pytest.raises(ValueError, match="model.n_heads"):
        ModelConfig(d_model=18, n_heads=4)


def test_unknown_positional_scheme_is_rejected():
    with pytest.raises(ValueError, match="model.positional"):
        ModelConfig(positional="alibi")


def test_unknown_norm_and_norm_position_are_rejected():
    with pytest.raises(ValueError, match="model.norm "):
        ModelConfig(norm="batchnorm")
    with pytest.raises(ValueError, match="model.norm_position"):
        ModelConfig(norm_position="middle")


def test_rope_with_odd_head_width_is_rejected():
    with pytest.raises(ValueError, match="model.positional"):
        ModelConfig(d_model=6, n_heads=2, positional="rope")
    ModelConfig(d_model=6, n_heads=2, positional="learned")  # fine without rope


def test_non_positive_sizes_are_rejected():
    with pytest.raises(ValueError, match="model.vocab_size"):
        ModelConfig(vocab_size=0)
    with pytest.raises(ValueError, match="model.n_layers"):
        ModelConfig(n_layers=0)
    with pytest.raises(ValueError, match="model.d_ff"):
        ModelConfig(d_ff=-1)


def test_zero_heads_is_rejected_with_value_error():
    with pytest.raises(ValueError, match="model.n_heads"):
        ModelConfig(n_heads=0)
