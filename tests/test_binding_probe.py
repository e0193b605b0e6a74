"""experiments/diagnostics/binding_probe.py end to end on a tiny, barely pretrained model."""

import importlib
import contextlib
import io

import numpy as np
import pytest

from lab.facts import Identity
from lab.language import Language


@pytest.fixture(scope="module")
def probe():
    return importlib.import_module("experiments.diagnostics.binding_probe")


def test_prints_the_three_tables_with_a_share_or_accuracy_per_row(probe, tmp_path, barely_pretrained):
    config = probe.Config(
        pretrain=barely_pretrained, facts=(2,), worlds=4, kind_facts=3, attention_facts=2, cache_dir=tmp_path
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        probe.main(config)
    tables = [[line for line in block.splitlines() if line.startswith("| ") and not line.startswith("|---")][1:]
              for block in out.getvalue().split("\n\n")]
    directions, kinds, attention = tables[-3:]
    assert len(directions) == 2 and len(kinds) == 3  # two stated directions of 2 facts; 1..3 identities among 3
    for row in directions + kinds:
        accuracies = [float(cell) for cell in row.strip("| ").split(" | ")[-2:] if "." in cell]
        assert accuracies and all(0.0 <= a <= 1.0 for a in accuracies)
    m = barely_pretrained.model
    assert len(attention) == 2 * m.n_layers * m.n_heads  # two query positions, every layer and head
    for row in attention:
        shares = [float(cell) for cell in row.strip("| ").split(" | ")[3:]]
        assert len(shares) == len(probe.ROLES) and abs(sum(shares) - 1.0) < 0.02  # each position's attention sums to 1


def test_position_roles_mark_the_asked_fact(probe):
    lang = Language(probe.Config().pretrain.language)
    a, b, c, d, e, f = lang.sample_names(np.random.default_rng(0), 6, held_out=True)
    facts = [Identity(a, (b, c)), Identity(d, (e, f))]
    prompt = [*probe.world_prompt(lang, facts), *facts[1].description_tokens(lang), lang.id("is")]
    roles = [probe.ROLES[r] for r in probe.position_roles(lang, facts, 1, len(prompt))]
    n = len(a)
    sentence = 3 * n + 4  # `A is the X of Y .`
    assert roles[0] == roles[1 + 2 * sentence] == "<bos>, so"
    assert roles[1 : 1 + n] == ["other subjects"] * n
    assert roles[1 + sentence : 1 + sentence + n] == ["asked subject"] * n
    assert roles[2 * sentence] == "asked fact's `.`" and roles[sentence] == "other facts"
    assert set(roles[2 + 2 * sentence :]) == {"query"}


def test_rejects_a_world_without_facts(probe):
    with pytest.raises(ValueError, match="kind_facts"):
        probe.Config(kind_facts=0)
