import jax
import numpy as np
import pytest

from lab.conditions import FinetuneConfig, finetune_worlds
from lab.datasets import ReversalsConfig, reversals
from lab.study import CONDITIONS, icl_correct, run_cell, run_cells
from lab.train import OptimConfig

SEQ_LEN = 32
FINETUNE = FinetuneConfig(
    optim=OptimConfig(learning_rate=1e-2, steps=3, warmup_steps=0, batch_size=2, weight_decay=0.0, steps_per_dispatch=3),
    orderings=4,
)
SEEDS = (4, 7)


@pytest.fixture(scope="module")
def datasets(lang):
    return [reversals(lang, ReversalsConfig(n_worlds=2, facts_per_world=2), seed) for seed in SEEDS]


def test_a_cell_has_a_row_per_split_and_condition(tiny_model, lang, datasets):
    graphdef, params = tiny_model
    rows = run_cell(graphdef, params, lang, datasets[0], FINETUNE, SEQ_LEN, SEEDS[0])
    assert {(r.split, r.condition) for r in rows} == {(s, c) for s in datasets[0].splits for c in CONDITIONS}
    assert all(r.dataset == "reversals" and r.seed == SEEDS[0] and r.n_items == 4 and r.chance == 0.5 for r in rows)
    assert all(0.0 <= r.accuracy <= 1.0 for r in rows)


def test_batched_seeds_give_the_rows_of_one_seed_at_a_time(tiny_model, lang, datasets):
    graphdef, params = tiny_model
    batched = run_cells(graphdef, params, lang, datasets, SEEDS, FINETUNE, SEQ_LEN)
    one_by_one = [row for d, s in zip(datasets, SEEDS) for row in run_cell(graphdef, params, lang, d, FINETUNE, SEQ_LEN, s)]
    assert batched == one_by_one


def test_batched_runs_equal_runs_fine_tuned_alone(tiny_model, lang, datasets):
    """A run's parameters do not depend on which other runs share its program."""
    graphdef, params = tiny_model
    worlds = [w for d in datasets for w in d.worlds]
    run_seeds = [(s, i) for d, s in zip(datasets, SEEDS) for i in range(len(d.worlds))]
    together, _ = finetune_worlds(graphdef, params, lang, worlds, run_seeds, FINETUNE, SEQ_LEN)
    for r, (world, run_seed) in enumerate(zip(worlds, run_seeds)):
        alone, _ = finetune_worlds(graphdef, params, lang, [world], [run_seed], FINETUNE, SEQ_LEN)
        for batched_leaf, alone_leaf in zip(jax.tree.leaves(together), jax.tree.leaves(alone)):
            np.testing.assert_allclose(batched_leaf[r], alone_leaf[0], rtol=1e-4, atol=1e-5)  # Adam magnifies float rounding


def test_icl_scores_every_item(tiny_model, lang, datasets):
    graphdef, params = tiny_model
    correct = icl_correct(graphdef, params, lang, datasets[0], "reversed", SEQ_LEN)
    assert correct.dtype == bool and correct.shape == (datasets[0].n_items("reversed"),)


def finetune_at(learning_rate: float, steps: int = 40) -> FinetuneConfig:
    optim = OptimConfig(learning_rate=learning_rate, steps=steps, warmup_steps=0, batch_size=2, weight_decay=0.0,
                        steps_per_dispatch=steps)
    return FinetuneConfig(optim=optim, orderings=4)


def test_fine_tuning_rows_record_how_their_runs_learned_their_text(tiny_model, lang, datasets):
    graphdef, params = tiny_model
    rows = run_cell(graphdef, params, lang, datasets[0], finetune_at(1e-2), SEQ_LEN, SEEDS[0], conditions=("icl", "ft"))
    icl = [r for r in rows if r.condition == "icl"]
    ft = [r for r in rows if r.condition == "ft"]
    assert all(r.final_loss is None and r.text_accuracy is None and r.unlearned_runs == 0 for r in icl)
    assert all(0 < r.final_loss < 3 and 0.5 < r.text_accuracy <= 1 and r.unlearned_runs == 0 for r in ft)


def test_runs_that_barely_move_are_counted_as_not_having_learned_their_text(tiny_model, lang, datasets):
    graphdef, params = tiny_model
    rows = run_cell(graphdef, params, lang, datasets[0], finetune_at(1e-9), SEQ_LEN, SEEDS[0], conditions=("ft",))
    assert all(r.unlearned_runs == len(datasets[0].worlds) for r in rows)


def test_fine_tuning_that_diverges_stops_naming_the_run_and_the_step(tiny_model, lang, datasets):
    graphdef, params = tiny_model
    with pytest.raises(FloatingPointError, match=r"ft_split on reversals, seed [47], world \d: training loss nan at step \d+"):
        run_cells(graphdef, params, lang, datasets, SEEDS, finetune_at(1e4), SEQ_LEN, conditions=("ft_split",))
