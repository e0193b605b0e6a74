import dataclasses
import math

import jax
import jax.extend
import jax.numpy as jnp
import pytest

from lab.flops import forward_flops, train_step_flops
from lab.model import ModelConfig, forward, init_model
from lab.train import sequence_loss

# D=8, 2 heads, V=16, one layer, attention-only: every term small enough to add up by hand.
TINY = ModelConfig(vocab_size=16, seq_len=8, n_layers=1, d_model=8, n_heads=2, d_ff=0)


def test_forward_of_a_tiny_model_matches_the_hand_count():
    B, T, D, V = 2, 4, 8, 16
    qkv = 2 * B * T * D * 3 * D  # 3072
    scores = 2 * B * 2 * T * T * (D // 2)  # per head: [T, K] @ [K, T]; 512
    weighted_values = 2 * B * 2 * T * T * (D // 2)  # per head: [T, T] @ [T, K]; 512
    out = 2 * B * T * D * D  # 1024
    unembed = 2 * B * T * D * V  # 2048
    assert qkv + scores + weighted_values + out + unembed == 7168
    assert forward_flops(TINY, batch_size=B, seq_len=T) == 7168


def test_train_step_is_three_forwards():
    assert train_step_flops(TINY, 2, 4) == 3 * forward_flops(TINY, 2, 4)


def test_mlp_adds_exactly_its_two_matmuls_per_layer():
    B, T, D, F = 3, 5, 8, 32
    for n_layers in (1, 3):
        without = dataclasses.replace(TINY, n_layers=n_layers)
        with_mlp = dataclasses.replace(without, d_ff=F)
        assert forward_flops(with_mlp, B, T) - forward_flops(without, B, T) == n_layers * 2 * (2 * B * T * D * F)


def test_untied_unembedding_costs_the_same_as_tied():
    untied = dataclasses.replace(TINY, tied_embeddings=False)
    assert forward_flops(untied, 2, 4) == forward_flops(TINY, 2, 4)


def test_linear_in_batch_and_quadratic_attention_in_length():
    assert train_step_flops(TINY, 6, 4) == 3 * train_step_flops(TINY, 2, 4)
    # Doubling T doubles every per-position term and doubles again the attention terms.
    attention_per_row = lambda T: 2 * 2 * T * T * TINY.d_model  # noqa: E731
    assert forward_flops(TINY, 1, 8) - 2 * forward_flops(TINY, 1, 4) == attention_per_row(8) - 2 * attention_per_row(4)


def test_agrees_with_the_6n_plus_12ldt_rule_of_thumb():
    model = ModelConfig(d_ff=512)
    T = model.seq_len - 1
    matrices = model.n_layers * (4 * model.d_model**2 + 2 * model.d_model * model.d_ff) + model.d_model * model.vocab_size
    per_token = 6 * matrices + 12 * model.n_layers * model.d_model * T
    assert train_step_flops(model, 1, T) == per_token * T


@pytest.mark.parametrize("batch_size, seq_len", [(0, 4), (2, 0)])
def test_rejects_empty_shapes(batch_size, seq_len):
    with pytest.raises(ValueError, match="batch_size and seq_len"):
        forward_flops(TINY, batch_size, seq_len)


def traced_matmul_flops(fn, *args) -> int:
    """2·m·n·k summed over every dot_general JAX traces for `fn(*args)`, sub-jaxprs included."""

    def count(jaxpr) -> int:
        total = 0
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "dot_general":
                lhs, rhs = (v.aval.shape for v in eqn.invars)
                (_, rhs_contract), (_, rhs_batch) = eqn.params["dimension_numbers"]
                rhs_free = [n for i, n in enumerate(rhs) if i not in (*rhs_contract, *rhs_batch)]
                total += 2 * math.prod(lhs) * math.prod(rhs_free)
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                total += count(sub)
        return total

    return count(jax.make_jaxpr(fn)(*args).jaxpr)


@pytest.mark.parametrize("attention_only_untied", [False, True])
def test_counts_exactly_the_matmuls_the_model_traces(tiny_model_config, attention_only_untied):
    model = tiny_model_config  # the shared tiny model (with an MLP), so its eager init ops are compiled once
    if attention_only_untied:
        model = dataclasses.replace(model, d_ff=0, tied_embeddings=False, n_layers=2)
    graphdef, params = init_model(model, seed=0)
    tokens_BxT = jnp.zeros((3, model.seq_len), jnp.int32)
    T = model.seq_len - 1  # the loss forwards tokens[:, :-1]
    assert traced_matmul_flops(lambda p: forward(graphdef, p, tokens_BxT[:, :-1]), params) == forward_flops(model, 3, T)
    # Backward: the input and the weight gradient of every forward matmul; the gather's gradient is a scatter.
    loss_grad = jax.grad(sequence_loss, argnums=1)
    assert traced_matmul_flops(lambda p: loss_grad(graphdef, p, tokens_BxT, jnp.ones(tokens_BxT.shape)), params) == (
        train_step_flops(model, 3, T)
    )
