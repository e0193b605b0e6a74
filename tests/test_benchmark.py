"""benchmarks/benchmark.py end to end on a tiny model: the report's shape, never its speed."""

import importlib
import contextlib
import dataclasses
import io
import json
import math

import pytest

from lab.conditions import FinetuneConfig

NUMBERS = (
    "tokens_per_second", "model_flops_per_second", "peak_flops_per_second", "mfu", "compile_seconds",
    "step_seconds", "train_step_flops", "sequential_runs_per_second", "batched_runs_per_second", "batched_speedup",
    "decode_tokens_per_second", "decode_recomputing_tokens_per_second", "decode_speedup",
)
FINETUNE_KEYS = ("sequential_runs_per_second", "batched_runs_per_second", "batched_speedup")


@pytest.fixture(scope="module")
def benchmark():
    return importlib.import_module("benchmarks.benchmark")


@pytest.fixture(scope="module")
def run(benchmark, tiny_model_config):
    """(returned results, stdout) of one --json run; runs=1 so batched and sequential share one compile."""
    finetune = dataclasses.replace(FinetuneConfig().optim, steps=3, warmup_steps=1, batch_size=2)
    config = benchmark.Config(
        model=tiny_model_config, batch_size=4, steps_per_dispatch=2, dispatches=2, runs=1, finetune=finetune,
        finetune_docs=3, finetune_doc_len=8, decode_prompts=3, decode_prompt_len=8, decode_new_tokens=4,
        peak_matmul_size=64, peak_repeats=2, json=True,
    )
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        results = benchmark.main(config)
    return results, stdout.getvalue()


def test_json_is_one_object_on_stdout_with_positive_finite_numbers(run, tiny_model_config):
    returned, stdout = run
    printed = json.loads(stdout)  # fails on anything else on stdout
    assert printed == returned
    for key in NUMBERS:
        assert math.isfinite(printed[key]) and printed[key] > 0, key
    m = tiny_model_config
    expected = {"n_layers": m.n_layers, "d_model": m.d_model, "n_heads": m.n_heads, "d_ff": m.d_ff,
                "seq_len": m.seq_len, "vocab_size": m.vocab_size, "batch_size": 4, "runs": 1}
    assert printed["config"].items() >= expected.items()
    assert {"kind", "platform", "count"} <= printed["device"].keys()
    assert printed["decode_outputs_identical"] is True
    assert printed["jax_version"]


def test_flops_per_second_is_the_step_count_over_the_step_time(run):
    results, _ = run
    assert results["model_flops_per_second"] == pytest.approx(results["train_step_flops"] / results["step_seconds"])
    assert results["mfu"] == pytest.approx(results["model_flops_per_second"] / results["peak_flops_per_second"])


def test_table_with_and_without_fine_tuning(benchmark, run):
    results, _ = run
    assert "tokens/s" in benchmark.table(results) and "speedup" in benchmark.table(results)
    assert "recomputing" in benchmark.table(results)
    without = {k: v for k, v in results.items() if k not in FINETUNE_KEYS and not k.startswith("decode_")}
    assert "speedup" not in benchmark.table(without) and "recomputing" not in benchmark.table(without)


@pytest.mark.parametrize("field, value", [
    ("dispatches", 0), ("runs", -1), ("finetune_doc_len", 1000), ("decode_prompts", -1), ("decode_prompt_len", 1000),
])
def test_bad_config_names_the_field(benchmark, field, value):
    with pytest.raises(ValueError, match=field):
        benchmark.Config(**{field: value})
