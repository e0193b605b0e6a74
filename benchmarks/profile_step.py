"""Where the train step's time goes, instruction by instruction.

Compiles `pretrain`'s train chunk (the program benchmarks/benchmark.py times) for
one model config, runs it once to warm up and once under `jax.profiler`, and prints
the slowest HLO instructions: what each computes, the JAX operation it came from
(`transpose(jvp(...))` is the backward pass of `...`), its share of the traced
instruction time, and the totals of instructions with and without a matmul.

    python benchmarks/profile_step.py --model.d-model 256
    XLA_FLAGS=--xla_force_host_platform_device_count=2 python benchmarks/profile_step.py --trace-dir runs/trace

With --trace-dir the trace is kept for TensorBoard or Perfetto.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import jax
import tyro

from benchmarks.profiling import OpTime, instruction_times
from benchmarks.timing import compiled_train_chunk
from lab.model import ModelConfig
from lab.train import OptimConfig


@dataclass(frozen=True)
class Config:
    model: ModelConfig = ModelConfig()  # the lab's pretraining model
    batch_size: int = OptimConfig().batch_size
    steps_per_dispatch: int = 10  # train steps in the one traced call
    top: int = 20  # instructions listed
    seed: int = 0
    trace_dir: Path | None = None  # keep the trace here; default: a temporary directory

    def __post_init__(self):
        for field in ("batch_size", "steps_per_dispatch", "top"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")


def trace_train_chunk(config: Config, trace_dir: Path) -> list[OpTime]:
    """Instruction times of one call of the train chunk (`steps_per_dispatch` steps), traced into `trace_dir`."""
    optim = OptimConfig(batch_size=config.batch_size, steps_per_dispatch=config.steps_per_dispatch)
    compiled, state, tokens, weights, _ = compiled_train_chunk(config.model, optim, config.seed)
    state, _ = jax.block_until_ready(compiled(state, tokens, weights))  # warm-up, untraced
    with jax.profiler.trace(str(trace_dir)):
        jax.block_until_ready(compiled(state, tokens, weights))
    return instruction_times(trace_dir, compiled.as_text())


def table(times: list[OpTime], steps: int, top: int) -> str:
    total = sum(t.seconds for t in times)
    rows = ["| instruction | computes | output | from | ms / step | share |", "|---|---|---|---|---|---|"]
    for t in times[:top]:
        i = t.instruction
        rows.append(f"| {t.name} | {i.computes} | {i.shape.split('{')[0]} | {i.source} | "
                    f"{t.seconds / steps * 1e3:.2f} | {t.seconds / total:.1%} |")
    matmul = sum(t.seconds for t in times if "dot" in t.instruction.computes.split())
    rows.append(f"\n{len(times)} instructions ran, {total / steps * 1e3:.1f} ms a step in all "
                f"(summed over devices); with a matmul {matmul / total:.1%}, without {1 - matmul / total:.1%}")
    return "\n".join(rows)


def main(config: Config) -> list[OpTime]:
    with tempfile.TemporaryDirectory() as scratch:
        times = trace_train_chunk(config, config.trace_dir or Path(scratch))
    print(table(times, config.steps_per_dispatch, config.top))
    return times


if __name__ == "__main__":
    main(tyro.cli(Config))
