from collections import Counter

import jax
import numpy as np
import pytest

from lab.batching import bucket_length
from lab.conditions import (
    FinetuneConfig, augmented_documents, finetune_worlds, finetuning_documents, ft_prompt, icl_prompt, split_documents,
)
from lab.datasets import ReversalsConfig, reversals
from lab.train import OptimConfig, finetune_examples, finetune_runs, run_key

SEQ_LEN = 32
ORDERINGS = 6
OPTIM = OptimConfig(learning_rate=1e-2, steps=3, warmup_steps=0, batch_size=2, weight_decay=0.0, steps_per_dispatch=3)


@pytest.fixture(scope="module")
def worlds(lang):
    """Two small worlds of 3 comparison facts (each world's text: 3 * 8 + 2 = 26 tokens)."""
    return reversals(lang, ReversalsConfig(n_worlds=2, facts_per_world=3), seed=0).worlds


def sentences_of_row(lang, row):
    """The sentences of one `<bos> S . S . ... <eos> <pad>...` fine-tuning row."""
    row = [int(t) for t in row]
    end = row.index(lang.eos)
    assert row[0] == lang.bos and all(t == lang.pad for t in row[end + 1 :])
    sentences, current = [], []
    for t in row[1:end]:
        current.append(t)
        if t == lang.id("."):
            sentences.append(tuple(current))
            current = []
    assert not current
    return sentences


def documents_for(lang, worlds, seed=0):
    """docs/weights [worlds, ORDERINGS, T] as finetune_worlds builds them."""
    docs = [finetuning_documents(lang, w, ORDERINGS, SEQ_LEN, seed=[seed, i]) for i, w in enumerate(worlds)]
    assert len({d[0].shape for d in docs}) == 1  # these small worlds all fit one bucket
    return np.stack([d[0] for d in docs]), np.stack([d[1] for d in docs])


def test_icl_prompt_is_the_world_text_then_so(lang, worlds):
    world = worlds[0]
    assert icl_prompt(lang, world) == [lang.bos, *(t for s in world.sentences for t in s), lang.id("so")]
    assert ft_prompt(lang) == [lang.bos]


def test_finetuning_documents_reorder_the_same_sentences(lang, worlds):
    world = worlds[0]
    tokens, _ = finetuning_documents(lang, world, orderings=ORDERINGS, seq_len=SEQ_LEN, seed=0)
    assert tokens.shape == (ORDERINGS, SEQ_LEN) and tokens.dtype == np.int32  # 26 tokens -> bucket of 32
    orders = [sentences_of_row(lang, row) for row in tokens]
    assert orders[0] == list(world.sentences)  # the first row keeps the world's order
    for order in orders:
        assert Counter(order) == Counter(world.sentences)
    assert len({tuple(o) for o in orders}) > 1


def test_finetuning_documents_are_padded_to_a_bucket_not_to_seq_len(lang, worlds):
    tokens, weights = finetuning_documents(lang, worlds[0], orderings=2, seq_len=96, seed=0)
    row_length = 1 + sum(map(len, worlds[0].sentences)) + 1  # <bos> text <eos>: 26 tokens
    assert tokens.shape == weights.shape == (2, bucket_length(row_length, 96)) == (2, 32)


def test_finetuning_documents_weight_every_non_pad_token(lang, worlds):
    tokens, weights = finetuning_documents(lang, worlds[0], orderings=ORDERINGS, seq_len=SEQ_LEN, seed=0)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights, (tokens != lang.pad).astype(np.float32))
    assert (weights.sum(axis=1) == 1 + sum(map(len, worlds[0].sentences)) + 1).all()  # <bos> text <eos>


def test_finetuning_documents_are_seeded(lang, worlds):
    a, b, c = (finetuning_documents(lang, worlds[0], ORDERINGS, SEQ_LEN, seed=s)[0] for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_finetune_runs_returns_one_parameter_set_per_run(tiny_model, lang, worlds):
    graphdef, params = tiny_model
    docs, weights = documents_for(lang, worlds)
    keys = jax.random.split(jax.random.key(0), 2)
    run_params, losses = finetune_runs(graphdef, OPTIM, params, docs, weights, keys)
    assert np.asarray(losses).shape == (2, OPTIM.steps)
    for initial, stacked in zip(jax.tree.leaves(params), jax.tree.leaves(run_params)):
        assert stacked.shape == (2, *initial.shape)
    leaves = [np.asarray(x) for x in jax.tree.leaves(run_params)]
    assert any(not np.array_equal(x[0], x[1]) for x in leaves)  # different data and keys: different runs
    assert all(not np.array_equal(x[0], np.asarray(p)) for x, p in zip(leaves, jax.tree.leaves(params)))


def test_finetune_runs_with_identical_inputs_agree_and_do_not_recompile(tiny_model, lang, worlds, count_compiles):
    graphdef, params = tiny_model
    docs, weights = documents_for(lang, worlds)
    keys = jax.random.split(jax.random.key(0), 2)
    finetune_runs(graphdef, OPTIM, params, docs, weights, keys)
    # new data of the same shape: both runs on world 1 with one key
    same_docs, same_weights = np.stack([docs[1], docs[1]]), np.stack([weights[1], weights[1]])
    same_keys = jax.random.split(jax.random.key(1), 2)[np.array([0, 0])]
    with count_compiles() as log:
        run_params, losses = finetune_runs(graphdef, OPTIM, params, same_docs, same_weights, same_keys)
        jax.block_until_ready(losses)
    assert log.count == 0
    for x in jax.tree.leaves(run_params):
        np.testing.assert_array_equal(x[0], x[1])


def test_finetune_worlds_fine_tunes_one_copy_per_world(tiny_model, lang, worlds):
    graphdef, params = tiny_model
    config = FinetuneConfig(optim=OPTIM, orderings=ORDERINGS)
    run_seeds = [(3, i) for i in range(len(worlds))]
    world_params, losses = finetune_worlds(graphdef, params, lang, worlds, run_seeds, config, SEQ_LEN)
    docs, weights = documents_for(lang, worlds, seed=3)
    keys = jax.numpy.stack([run_key(3, i) for i in range(len(worlds))])
    expected, _ = finetune_runs(graphdef, OPTIM, params, docs, weights, keys)
    assert np.asarray(losses).shape == (len(worlds), OPTIM.steps)
    for got, want in zip(jax.tree.leaves(world_params), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(got, want)


def test_finetune_config_validates_orderings():
    with pytest.raises(ValueError, match="finetune.orderings"):
        FinetuneConfig(orderings=0)

    with pytest.raises(ValueError, match="finetune.split"):
        FinetuneConfig(split="all_at_once")


def test_split_documents_make_one_example_per_sentence(lang, worlds):
    world = worlds[0]
    tokens, weights = split_documents(lang, world, cumulative=False, seq_len=SEQ_LEN)
    assert tokens.shape[0] == len(world.sentences)
    for row, w, sentence in zip(tokens, weights, world.sentences):
        assert sentences_of_row(lang, row) == [sentence]
        assert w.sum() == len(sentence) + 1  # the sentence and <eos>; <bos> is given


def test_cumulative_split_weights_only_the_newest_sentence(lang, worlds):
    world = worlds[0]
    tokens, weights = split_documents(lang, world, cumulative=True, seq_len=SEQ_LEN)
    for i, (row, w) in enumerate(zip(tokens, weights)):
        assert sentences_of_row(lang, row) == list(world.sentences[: i + 1])
        weighted = [int(t) for t, on in zip(row, w) if on]
        assert weighted == [*world.sentences[i], lang.eos]


def test_augmented_documents_add_one_example_per_statement(lang, worlds):
    world = worlds[0]
    extra = [world.facts[0].reversal(lang), world.facts[1].reversal(lang)]
    tokens, weights = augmented_documents(lang, world, extra, ORDERINGS, SEQ_LEN, seed=0)
    plain, _ = finetuning_documents(lang, world, ORDERINGS, SEQ_LEN, seed=0)
    assert tokens.shape[0] == ORDERINGS + len(extra)
    np.testing.assert_array_equal(tokens[:ORDERINGS, : plain.shape[1]], plain)
    assert [sentences_of_row(lang, row) for row in tokens[ORDERINGS:]] == [[s] for s in extra]
    np.testing.assert_array_equal(weights, (tokens != lang.pad).astype(np.float32))


def test_runs_with_different_example_counts_equal_runs_alone(tiny_model, lang, worlds):
    """Padding a run's examples to a shared shape changes nothing it samples."""
    graphdef, params = tiny_model
    examples = [split_documents(lang, worlds[0], False, SEQ_LEN), finetuning_documents(lang, worlds[1], ORDERINGS, SEQ_LEN, 0)]
    run_seeds = [(5, 0), (5, 1)]
    together, together_losses = finetune_examples(graphdef, params, lang.pad, examples, run_seeds, OPTIM)
    for r, (ex, run_seed) in enumerate(zip(examples, run_seeds)):
        alone, alone_losses = finetune_examples(graphdef, params, lang.pad, [ex], [run_seed], OPTIM)
        np.testing.assert_allclose(together_losses[r], alone_losses[0], rtol=1e-5)  # same batches drawn
        for batched_leaf, alone_leaf in zip(jax.tree.leaves(together), jax.tree.leaves(alone)):
            # Padding to a longer T reorders float sums; where a gradient is near 0, Adam's
            # normalised step turns that rounding into a sizeable share of one step (lr 1e-2).
            np.testing.assert_allclose(batched_leaf[r], alone_leaf[0], rtol=1e-4, atol=1e-3)
