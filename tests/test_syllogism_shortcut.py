"""experiments/diagnostics/syllogism_shortcut.py: its paired worlds, and end to end on a tiny model."""

import importlib
import contextlib
import csv
import io

import numpy as np
import pytest

from lab.facts import entailed_sentences, quantified


@pytest.fixture(scope="module")
def shortcut():
    return importlib.import_module("experiments.diagnostics.syllogism_shortcut")


def test_linked_worlds_entail_all_c_are_b_and_unlinked_ones_nothing_about_c_and_b(shortcut, lang):
    linked, unlinked = (shortcut.chain_dataset(lang, 20, seed=3, variant=v) for v in shortcut.VARIANTS)
    for with_chain, without in zip(linked.worlds, unlinked.worlds, strict=True):
        (e, c), (_, a), (_, b), (_, d) = ((f.subject, f.object) for f in with_chain.facts)
        frame = [(f.subject, f.object) for f in without.facts]
        assert (frame[0], frame[3]) == ((e, c), (b, d))  # the same frame
        assert without.facts[1].object == a and without.facts[2].subject not in (e, c, a, b, d)  # A leads nowhere
        over_c_and_b = {quantified(lang, q, x, y) for q in ("all", "some", "no") for x, y in ((c, b), (b, c))}
        assert entailed_sentences(lang, with_chain.facts) & over_c_and_b == {quantified(lang, "all", c, b)}
        assert not entailed_sentences(lang, without.facts) & over_c_and_b
        for world in (with_chain, without):
            (to_b,), (to_c,) = world.tests["all C are B"], world.tests["all B are C"]
            assert set(to_b.options) == set(to_c.options) == over_c_and_b  # one question, two counted answers
            assert to_b.options[to_b.answer] == quantified(lang, "all", c, b)
            assert to_c.options[to_c.answer] == quantified(lang, "all", b, c)
            assert sorted(world.sentences) == sorted(f.sentence(lang) for f in world.facts)


def test_the_variants_of_a_seed_share_names_and_sentence_order(shortcut, lang):
    linked, unlinked = (shortcut.chain_dataset(lang, 5, seed=0, variant=v) for v in shortcut.VARIANTS)
    for a, b in zip(linked.worlds, unlinked.worlds):
        differ = [i for i, (x, y) in enumerate(zip(a.sentences, b.sentences)) if x != y]
        assert len(differ) == 1  # only the middle premise's sentence, in the same place
    again = shortcut.chain_dataset(lang, 5, seed=0, variant="linked")
    assert [w.sentences for w in again.worlds] == [w.sentences for w in linked.worlds]


def test_writes_every_variant_split_condition_and_seed(shortcut, tmp_path, barely_pretrained, barely_finetuned):
    config = shortcut.Config(
        pretrain=barely_pretrained, finetune=barely_finetuned, n_worlds=2, seeds=2,
        out=tmp_path / "out", cache_dir=tmp_path / "checkpoints", progress=False,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        shortcut.main(config)
    with open(config.out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cells = {(r["dataset"], r["split"], r["condition"], r["seed"]) for r in rows}
    assert len(cells) == len(rows) == 2 * 3 * 3 * 2  # variants × splits × conditions × seeds
    assert all(np.isclose(float(r["chance"]), 1 / 6) for r in rows)
    assert (config.out / "summary.md").exists()


def test_refuses_conditions_the_unlinked_worlds_cannot_take(shortcut):
    with pytest.raises(ValueError, match="conditions"):
        shortcut.Config(conditions=("ft_aug_oracle",))
