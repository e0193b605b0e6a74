"""benchmarks/profile_step.py end to end on a tiny model: the table's shape, never its times."""

import importlib
import contextlib
import io

import pytest


@pytest.fixture(scope="module")
def profile_step():
    return importlib.import_module("benchmarks.profile_step")


def test_it_lists_the_slowest_instructions_with_matmuls_among_them(profile_step, tiny_model_config, tmp_path):
    config = profile_step.Config(model=tiny_model_config, batch_size=4, steps_per_dispatch=2, top=5, trace_dir=tmp_path)
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        times = profile_step.main(config)
    rows = [line for line in stdout.getvalue().splitlines() if line.startswith("| ") and "instruction" not in line]
    assert len(rows) == min(5, len(times))
    assert any("dot" in t.instruction.computes.split() for t in times)
    assert list(tmp_path.rglob("*.trace.json.gz")), "the trace is kept in --trace-dir"


def test_a_config_that_cannot_work_names_its_field(profile_step):
    with pytest.raises(ValueError, match="steps_per_dispatch"):
        profile_step.Config(steps_per_dispatch=0)
