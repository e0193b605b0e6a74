import numpy as np
import pytest

from lab.batching import bucket_length, bucketed_examples, pad_rows, stack_examples


def test_bucket_length_rounds_up_to_a_multiple_of_32_capped_at_the_limit():
    assert [bucket_length(n, 96) for n in (1, 32, 33, 64, 65, 96, 97)] == [32, 32, 64, 64, 96, 96, 96]
    assert bucket_length(20, 24) == 24
    assert bucket_length(5, 96, multiple=8) == 8


def test_pad_rows_rejects_rows_longer_than_seq_len():
    np.testing.assert_array_equal(pad_rows([[1, 2], [3]], 3, 0, np.int32), [[1, 2, 0], [3, 0, 0]])
    with pytest.raises(ValueError, match="seq_len=2"):
        pad_rows([[1, 2, 3]], 2, 0, np.int32)


def test_bucketed_examples_pad_to_the_bucket_of_the_longest_row():
    tokens, weights = bucketed_examples([[1, 2, 3], [4]], [[0, 1, 1], [1]], seq_len=96, pad=0)
    assert tokens.shape == weights.shape == (2, 32) and tokens.dtype == np.int32 and weights.dtype == np.float32
    np.testing.assert_array_equal(tokens[1, :2], [4, 0])
    assert weights.sum() == 3


def test_stack_examples_pads_runs_to_one_shape_with_weightless_rows():
    a = (np.ones((2, 32), np.int32), np.ones((2, 32), np.float32))
    b = (np.ones((3, 64), np.int32), np.ones((3, 64), np.float32))
    tokens, weights, n_examples = stack_examples([a, b], pad=0)
    assert tokens.shape == weights.shape == (2, 3, 64)
    np.testing.assert_array_equal(n_examples, [2, 3])
    assert weights[0, 2].sum() == 0 and weights[0, :, 32:].sum() == 0 and tokens[0, 2].sum() == 0
