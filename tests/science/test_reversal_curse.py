"""The reversal curse, reproduced on a real (tiny) pretrained model.

In context, the model reverses new facts; fine-tuned on the same text, it learns
the text but not its reversal. Seeds and sizes are the experiment's defaults, not
chosen for this test.
"""

import pytest

from lab.conditions import FinetuneConfig
from lab.datasets import ReversalCurseConfig, ReversalsConfig, reversal_curse, reversals
from lab.study import run_cell

SEED = 0
MIN_ITEMS = 40


@pytest.fixture(scope="module", params=["reversals", "reversal_curse"])
def results(request, pretrained, lang, pretrain_config):
    graphdef, params = pretrained
    if request.param == "reversals":
        dataset = reversals(lang, ReversalsConfig(), SEED)
    else:
        dataset = reversal_curse(lang, ReversalCurseConfig(), SEED)
    rows = run_cell(graphdef, params, lang, dataset, FinetuneConfig(), pretrain_config.model.seq_len, SEED, conditions=("icl", "ft"))
    return {(r.split, r.condition): r for r in rows}


def test_enough_held_out_items(results):
    assert all(r.n_items >= MIN_ITEMS for r in results.values() if r.split == "reversed")


def test_in_context_learning_reverses_new_facts(results):
    assert results["reversed", "icl"].accuracy >= 0.9


def test_finetuning_learns_the_trained_sentences(results):
    assert results["trained", "ft"].accuracy >= 0.95


def test_finetuning_does_not_reverse_them(results):
    row = results["reversed", "ft"]
    assert row.accuracy <= row.chance + 0.15
