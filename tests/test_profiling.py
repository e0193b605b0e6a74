"""benchmarks/profiling.py: HLO instructions, trace events, and the two joined on a real traced program."""

import gzip
import json

import jax
import jax.numpy as jnp
import pytest

from benchmarks.profiling import hlo_instructions, instruction_times, traced_seconds


def matmul_softmax(a, b):
    return jax.nn.softmax(a @ b, axis=-1)


@pytest.fixture(scope="module")
def compiled():
    a = jnp.ones((64, 32))
    return jax.jit(matmul_softmax).lower(a, a.T).compile(), a


def test_hlo_instructions_name_the_matmul_its_shape_and_source(compiled):
    program, _ = compiled
    instructions = hlo_instructions(program.as_text())
    matmuls = [i for i in instructions.values() if "dot" in i.computes.split()]
    assert matmuls, instructions
    assert any(i.shape.startswith("f32[64,64]") for i in matmuls)
    assert any("dot_general" in i.source for i in matmuls)


def test_a_fusion_lists_the_notable_opcodes_inside_it():
    hlo = "\n".join([
        "%fused_computation (p0: f32[4]) -> f32[4] {",
        "  %p0 = f32[4]{0} parameter(0)",
        "  ROOT %exponential.1 = f32[4]{0} exponential(%p0)",
        "}",
        "ENTRY %main (x: f32[4]) -> f32[4] {",
        "  %x = f32[4]{0} parameter(0)",
        '  ROOT %fusion.3 = f32[4]{0} fusion(%x), kind=kLoop, calls=%fused_computation, metadata={op_name="jit(f)/exp"}',
        "}",
    ])
    fusion = hlo_instructions(hlo)["fusion.3"]
    assert (fusion.computes, fusion.shape, fusion.source) == ("exponential", "f32[4]{0}", "jit(f)/exp")


def test_traced_seconds_sums_complete_events_of_the_newest_trace(tmp_path):
    events = [
        {"ph": "X", "name": "dot.1", "dur": 1500},
        {"ph": "X", "name": "dot.1", "dur": 500},
        {"ph": "i", "name": "marker"},  # an instant event has no duration
    ]
    with gzip.open(tmp_path / "host.trace.json.gz", "wt") as f:
        json.dump({"traceEvents": events}, f)
    assert traced_seconds(tmp_path) == {"dot.1": (pytest.approx(0.002), 2)}


def test_traced_seconds_says_when_there_is_no_trace(tmp_path):
    with pytest.raises(FileNotFoundError, match="trace.json.gz"):
        traced_seconds(tmp_path)


def test_a_traced_program_reports_only_its_own_instructions(compiled, tmp_path):
    program, a = compiled
    jax.block_until_ready(program(a, a.T))
    with jax.profiler.trace(str(tmp_path)):
        jax.block_until_ready(program(a, a.T))
    times = instruction_times(tmp_path, program.as_text())
    names = set(hlo_instructions(program.as_text()))
    assert times and all(t.name in names and t.seconds > 0 and t.calls >= 1 for t in times)
    assert [t.seconds for t in times] == sorted((t.seconds for t in times), reverse=True)
