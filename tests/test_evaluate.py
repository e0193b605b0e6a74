import jax
import numpy as np
import pytest

from lab.datasets import Choice
from lab.evaluate import decode, greedy_decode, option_logprobs, pack_choices, score_choices
from lab.model import forward

PAD = 0


def some_items(n_items, seed=0):
    """`n_items` prompts of varying length, each with two options of varying length."""
    rng = np.random.default_rng(seed)
    prompts, choices = [], []
    for _ in range(n_items):
        prompts.append([1, *rng.integers(3, 118, rng.integers(1, 8)).tolist()])
        options = tuple(tuple(rng.integers(3, 118, rng.integers(1, 6)).tolist()) for _ in range(2))
        choices.append(Choice(options, answer=int(rng.integers(2))))
    return prompts, choices


SEQ_LEN = 32
_jit_forward = jax.jit(forward, static_argnums=0)


def next_token_logits(graphdef, params, tokens) -> np.ndarray:
    """float32[len(tokens), V]: logits after each prefix of `tokens`.

    The tokens are right-padded to SEQ_LEN so that a single compiled forward serves every
    call; causality (tests/test_model.py) makes the padding irrelevant to these positions.
    """
    padded = np.full((1, SEQ_LEN), PAD, np.int32)
    padded[0, : len(tokens)] = tokens
    return np.asarray(_jit_forward(graphdef, params, padded))[0, : len(tokens)]


def direct_logprob(graphdef, params, prompt, option):
    """Summed log-probability of `option` after `prompt`, straight from log_softmax(forward)."""
    logp = np.asarray(jax.nn.log_softmax(next_token_logits(graphdef, params, [*prompt, *option]), axis=-1))
    return sum(float(logp[len(prompt) + i - 1, t]) for i, t in enumerate(option))


def test_pack_choices_marks_exactly_the_option_tokens():
    tokens, weights = pack_choices([[1, 5, 6]], [Choice(((7, 8), (9,)), answer=0)], seq_len=6, pad=PAD)
    np.testing.assert_array_equal(tokens, [[[1, 5, 6, 7, 8, 0], [1, 5, 6, 9, 0, 0]]])
    np.testing.assert_array_equal(weights, [[[0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 0, 0]]])
    assert tokens.dtype == np.int32 and weights.dtype == np.float32


def test_pack_choices_weights_count_option_tokens_for_many_items():
    prompts, choices = some_items(6)
    tokens, weights = pack_choices(prompts, choices, seq_len=16, pad=PAD)
    assert tokens.shape == weights.shape == (6, 2, 16)
    for i, (prompt, choice) in enumerate(zip(prompts, choices)):
        for j, option in enumerate(choice.options):
            marked = tokens[i, j][weights[i, j] == 1.0]
            np.testing.assert_array_equal(marked, option)


def test_pack_choices_rejects_too_long_rows_and_mixed_option_counts():
    with pytest.raises(ValueError, match="seq_len=4"):
        pack_choices([[1, 2, 3]], [Choice(((4, 5),), 0)], seq_len=4, pad=PAD)
    with pytest.raises(ValueError, match="number of options"):
        pack_choices([[1], [1]], [Choice(((4,), (5,)), 0), Choice(((4,), (5,), (6,)), 0)], seq_len=4, pad=PAD)


def test_choice_chance_is_one_over_the_options():
    assert Choice(((1,), (2,), (3,), (4,)), 0).chance == 0.25


def test_option_logprobs_equal_a_direct_log_softmax_computation(tiny_model):
    graphdef, params = tiny_model
    prompts, choices = some_items(3)
    tokens, weights = pack_choices(prompts, choices, seq_len=SEQ_LEN, pad=PAD)
    got = option_logprobs(graphdef, params, tokens, weights, rows_per_call=4)  # 6 rows: 2 chunks, 2 pad rows
    expected = [[direct_logprob(graphdef, params, p, o) for o in c.options] for p, c in zip(prompts, choices)]
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert (got < 0).all()


def test_score_choices_picks_the_option_the_model_prefers(tiny_model):
    graphdef, params = tiny_model
    prompts, choices = some_items(4, seed=1)
    preferred = [
        int(np.argmax([direct_logprob(graphdef, params, p, o) for o in c.options])) for p, c in zip(prompts, choices)
    ]
    right = [Choice(c.options, answer=k) for c, k in zip(choices, preferred)]
    wrong = [Choice(c.options, answer=1 - k) for c, k in zip(choices, preferred)]
    assert score_choices(graphdef, params, prompts, right, seq_len=SEQ_LEN, pad=PAD).tolist() == [True] * 4
    assert score_choices(graphdef, params, prompts, wrong, seq_len=SEQ_LEN, pad=PAD).tolist() == [False] * 4


def test_option_logprobs_does_not_recompile_for_item_counts_in_the_same_chunk_count(tiny_model, count_compiles):
    graphdef, params = tiny_model
    first = pack_choices(*some_items(3, seed=2), seq_len=SEQ_LEN, pad=PAD)  # 6 rows -> 1 chunk of 16
    second = pack_choices(*some_items(7, seed=3), seq_len=SEQ_LEN, pad=PAD)  # 14 rows -> 1 chunk of 16
    option_logprobs(graphdef, params, *first, rows_per_call=16)
    with count_compiles() as log:
        result = option_logprobs(graphdef, params, *second, rows_per_call=16)
    assert result.shape == (7, 2)
    assert log.count == 0


def manual_greedy(graphdef, params, prompt, n_new):
    tokens = list(prompt)
    for _ in range(n_new):
        tokens.append(int(np.argmax(next_token_logits(graphdef, params, tokens)[-1])))
    return tokens[len(prompt) :]


def test_greedy_decode_equals_a_manual_argmax_loop(tiny_model):
    graphdef, params = tiny_model
    prompts = [[1, 40, 41, 42, 43], [1, 50], [1, 60, 61]]
    got = greedy_decode(graphdef, params, prompts, max_new_tokens=4, seq_len=SEQ_LEN, pad=PAD)
    assert got.shape == (3, 4)
    for prompt, row in zip(prompts, got):
        assert row.tolist() == manual_greedy(graphdef, params, prompt, 4)


def test_decoding_buffer_is_as_short_as_the_prompts_allow(tiny_model):
    # The tiny model has 32 learned positions: a buffer of the 96 tokens allowed
    # would not even run. A short prompt and its new tokens fit one 32-token bucket.
    graphdef, params = tiny_model
    prompts = [[1, 40, 41], [1, 50]]
    got = greedy_decode(graphdef, params, prompts, max_new_tokens=4, seq_len=3 * SEQ_LEN, pad=PAD)
    for prompt, row in zip(prompts, got):
        assert row.tolist() == manual_greedy(graphdef, params, prompt, 4)


def test_greedy_decode_may_fill_the_sequence_exactly(tiny_model):
    graphdef, params = tiny_model
    got = greedy_decode(graphdef, params, [[1] + [40] * 27], max_new_tokens=4, seq_len=SEQ_LEN, pad=PAD)
    assert got.shape == (1, 4)


def test_greedy_decode_rejects_prompts_too_long_for_the_new_tokens(tiny_model):
    graphdef, params = tiny_model
    with pytest.raises(ValueError, match="seq_len=32"):
        greedy_decode(graphdef, params, [[1] * 29], max_new_tokens=4, seq_len=SEQ_LEN, pad=PAD)


def test_sampled_decoding_is_seeded_and_varies_with_the_key(tiny_model):
    graphdef, params = tiny_model
    prompts = [[1, 40, 41]] * 8
    sample = lambda seed: decode(graphdef, params, prompts, 6, SEQ_LEN, PAD, temperature=1.0, key=jax.random.key(seed))
    assert (sample(0) == sample(0)).all()
    assert (sample(0) != sample(1)).any()
    assert len({tuple(row) for row in sample(0).tolist()}) > 1  # rows draw apart from one another


def test_sampling_at_a_tiny_temperature_is_greedy(tiny_model):
    graphdef, params = tiny_model
    prompts = [[1, 40, 41, 42, 43], [1, 50]]
    cold = decode(graphdef, params, prompts, 4, SEQ_LEN, PAD, temperature=1e-4, key=jax.random.key(3))
    assert (cold == greedy_decode(graphdef, params, prompts, 4, SEQ_LEN, PAD)).all()


def test_sampling_needs_a_key(tiny_model):
    graphdef, params = tiny_model
    with pytest.raises(ValueError, match="key"):
        decode(graphdef, params, [[1, 2]], 4, SEQ_LEN, PAD, temperature=1.0)


# --- cached decoding ----------------------------------------------------------------
from lab.model import ModelConfig, init_model  # noqa: E402

ARCHITECTURES = {
    "rope+canon": ModelConfig(vocab_size=128, seq_len=64, n_layers=2, d_model=16, n_heads=2, canon_kernel=4),
    "learned, mlp, post-norm, untied": ModelConfig(
        vocab_size=128, seq_len=64, n_layers=2, d_model=16, n_heads=2, d_ff=32, positional="learned",
        norm_position="post", tied_embeddings=False, canon_kernel=0,
    ),
}


def up_to_first(row, eos):
    row = list(row)
    return row[: row.index(eos) + 1] if eos in row else row


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_cached_decoding_writes_the_tokens_recomputing_decoding_writes(name, temperature):
    graphdef, params = init_model(ARCHITECTURES[name], seed=3)
    prompts = [[1, 40, 41, 42], [1, 50], [1, 60, 61, 62, 63, 64, 65, 66, 67], [1, 70, 71]]
    key = jax.random.key(5)
    cached = decode(graphdef, params, prompts, 20, 64, 0, temperature, key)
    recomputed = decode(graphdef, params, prompts, 20, 64, 0, temperature, key, cache=False)
    np.testing.assert_array_equal(cached, recomputed)
    eos = int(cached[0, 3])  # pretend a token the first row writes ends it: rows stop there, the rest match
    stopped = decode(graphdef, params, prompts, 20, 64, 0, temperature, key, eos=eos)
    for row_stopped, row_full in zip(stopped, recomputed):
        kept = up_to_first(row_full, eos)
        assert list(row_stopped[: len(kept)]) == kept and not row_stopped[len(kept):].any()
