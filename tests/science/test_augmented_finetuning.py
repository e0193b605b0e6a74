"""The fix: fine-tuning on the text plus the model's own in-context inferences reverses.

Plain FT on `reversals` stays at chance on the reversed split (test_reversal_curse.py);
adding the statements the pretrained model itself writes after `so`, one training
sentence in context at a time (`ft_aug_local`), lifts it. Seed and sizes are the
experiment's defaults, not chosen for this test.
"""

import pytest

from lab.augment import AugmentConfig
from lab.conditions import FinetuneConfig
from lab.datasets import ReversalsConfig, reversals
from lab.study import run_cell

SEED = 0


@pytest.fixture(scope="module")
def results(pretrained, lang, pretrain_config):
    graphdef, params = pretrained
    dataset = reversals(lang, ReversalsConfig(), SEED)
    rows = run_cell(graphdef, params, lang, dataset, FinetuneConfig(), pretrain_config.model.seq_len, SEED,
                    conditions=("ft", "ft_aug_local"), augment=AugmentConfig())
    return {(r.split, r.condition): r for r in rows}


def test_local_augmentation_lifts_reversal_from_chance(results):
    plain, augmented = results["reversed", "ft"], results["reversed", "ft_aug_local"]
    assert plain.accuracy <= plain.chance + 0.15
    assert augmented.accuracy >= 0.8


def test_the_model_wrote_statements_and_they_were_checked(results):
    # Not a bar on the share: it is what the model's own generation reaches.
    row = results["reversed", "ft_aug_local"]
    assert row.n_augmentations > 0 and 0.0 < row.valid_share <= 1.0


def test_augmented_finetuning_still_learns_the_trained_sentences(results):
    assert results["trained", "ft_aug_local"].accuracy >= 0.95
