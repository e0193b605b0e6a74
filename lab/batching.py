"""Fixed shapes for variable-length text: rows padded to a few bucket lengths.

Every compiled program sees one of a few lengths, so nothing recompiles per item,
while short text is not padded all the way to the context length.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Examples = tuple[np.ndarray, np.ndarray]
"""A fine-tuning run's examples: tokens int32[P, T] and loss weights float32[P, T]."""


def bucket_length(longest: int, limit: int, multiple: int = 32) -> int:
    """`longest` rounded up to a multiple of `multiple`, capped at `limit`."""
    return min(limit, -(-longest // multiple) * multiple)


def pad_rows(rows: Sequence[Sequence[float]], seq_len: int, fill, dtype) -> np.ndarray:
    """Right-pad variable-length rows into one [len(rows), seq_len] array."""
    out = np.full((len(rows), seq_len), fill, dtype=dtype)
    for i, row in enumerate(rows):
        if len(row) > seq_len:
            raise ValueError(f"a row of {len(row)} tokens does not fit seq_len={seq_len}")
        out[i, : len(row)] = row
    return out


def bucketed_examples(rows, weights, seq_len: int, pad: int) -> Examples:
    """Token and weight rows padded to the bucket of the longest (at most `seq_len`)."""
    length = bucket_length(max(map(len, rows)), seq_len)
    return pad_rows(rows, length, pad, np.int32), pad_rows(weights, length, 0.0, np.float32)


def stack_examples(examples: Sequence[Examples], pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R runs' examples padded to one shape: tokens int32[R, P, T], weights float32[R, P, T], n_examples int32[R].

    Padding rows carry no weight; a run's first n_examples[r] rows are its own.
    """
    n_examples_R = np.array([tokens.shape[0] for tokens, _ in examples], np.int32)
    rows, length = n_examples_R.max(), max(tokens.shape[1] for tokens, _ in examples)

    def stacked(index: int, fill) -> np.ndarray:
        return np.stack([
            np.pad(ex[index], ((0, rows - ex[index].shape[0]), (0, length - ex[index].shape[1])), constant_values=fill)
            for ex in examples
        ])

    return stacked(0, pad), stacked(1, 0.0), n_examples_R
